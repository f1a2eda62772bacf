//! The harness against a real MTA nobody here wrote: a private Postfix on loopback
//! (`ci/mta.sh`), every flow, the client's transcripts as snapshots (`real-mta__postfix@<flow>`).
//! Postfix must be installable (ci/setup.sh installs it); this test fails, never skips,
//! when it cannot start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

mod roundtrip;

use smtp_harness::client::Trust;
use smtp_harness::flows::{self, FlowKind, RelayTarget, Target};
use smtp_harness::message::SHAPES;
use smtp_harness::redact::redact;
use smtp_protocol::sasl::Credentials;

fn mta_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/mta.sh")
}

/// Stops the instance however the test ends.
struct Postfix {
    dir: PathBuf,
}

impl Postfix {
    fn start() -> Postfix {
        // Under /tmp: the postfix and nobody users must reach the folder.
        let dir = PathBuf::from(format!(
            "/tmp/snapshot-suite-postfix-{}",
            std::process::id()
        ));
        let _ = Command::new("bash")
            .arg(mta_script())
            .arg("stop")
            .arg(&dir)
            .output();
        let output = Command::new("bash")
            .arg(mta_script())
            .arg("start")
            .arg(&dir)
            .output()
            .expect("run ci/mta.sh");
        assert!(
            output.status.success(),
            "ci/mta.sh start failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Postfix { dir }
    }

    /// `key=value` lines of a file the script writes.
    fn read(&self, file: &str) -> HashMap<String, String> {
        std::fs::read_to_string(self.dir.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(mta_script())
            .arg("stop")
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn snapshot_name(flow: FlowKind) -> String {
    format!("real-mta__postfix@{}", flow.name())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_flows_against_postfix() {
    let postfix = tokio::task::spawn_blocking(Postfix::start)
        .await
        .expect("start");
    let ports = postfix.read("ports");
    let credentials = postfix.read("credentials");
    let ca = std::fs::read_to_string(postfix.dir.join("ca.pem")).expect("ca.pem");
    let address = |name: &str| -> SocketAddr { ports[name].parse().expect("address") };
    for flow in FlowKind::ALL {
        let listener = match flow {
            FlowKind::Submission => "submission",
            FlowKind::SubmissionImplicit | FlowKind::Auth => "smtps",
            _ => "smtp",
        };
        let mut target = Target::new(address(listener));
        target.trust = Trust::CaPem(ca.clone());
        target.server_name = Some("localhost".to_owned());
        if matches!(
            flow,
            FlowKind::Submission | FlowKind::SubmissionImplicit | FlowKind::Auth
        ) {
            target.credentials = Some(Credentials::password(
                &credentials["user"],
                &credentials["password"],
            ));
        }
        let outcome = match flow {
            FlowKind::Submission => flows::submission(&target).await,
            FlowKind::SubmissionImplicit => flows::submission_implicit(&target).await,
            FlowKind::TlsOpportunistic => flows::tls_opportunistic(&target).await,
            FlowKind::TlsRequired => flows::tls_required(&target).await,
            FlowKind::Auth => flows::auth(&target).await,
            FlowKind::Relay => {
                let mx = [RelayTarget {
                    exchange: "mta.test.example".to_owned(),
                    preference: 10,
                    addresses: vec![target.address.ip()],
                }];
                flows::relay(&target, &mx).await
            }
        };
        // Postfix itself accepts each flow's message (or AUTH attempts) as a careful client
        // would want.
        assert!(outcome.success, "{}: {:#?}", flow.name(), outcome.summary);
        let text = redact(&format!(
            "server: Postfix (ci/mta.sh)\n{}",
            outcome.render(false)
        ));
        insta::with_settings!({
            snapshot_path => Path::new(env!("CARGO_MANIFEST_DIR")),
            prepend_module_to_snapshot => false,
            description => format!("Postfix on loopback (ci/mta.sh), flow {}", flow.name()),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(snapshot_name(flow), text);
        });
    }
    // Delivered for real: the Maildir holds the messages.
    let delivered = std::fs::read_dir(postfix.dir.join("maildir/new"))
        .expect("maildir")
        .count();
    assert_eq!(
        delivered, 5,
        "submission, implicit, relay, tls-opportunistic and tls-required each delivered one"
    );
    message_shapes_through_postfix(
        &postfix,
        &address("submission"),
        &address("smtp"),
        &ca,
        &credentials,
    )
    .await;
}

/// Every message shape to Postfix by submission and by relay (port 25 style, Postfix as the
/// MX of test.example), read back from its Maildir with mail-parser and Python's email
/// package and compared part by part with what was built (issue 15).
async fn message_shapes_through_postfix(
    postfix: &Postfix,
    submission: &SocketAddr,
    smtp: &SocketAddr,
    ca: &str,
    credentials: &HashMap<String, String>,
) {
    let maildir = postfix.dir.join("maildir/new");
    let before: std::collections::HashSet<PathBuf> = std::fs::read_dir(&maildir)
        .expect("maildir")
        .map(|e| e.expect("entry").path())
        .collect();
    for shape in SHAPES {
        let mut target = Target::new(*submission).with_shape(shape);
        target.trust = Trust::CaPem(ca.to_owned());
        target.server_name = Some("localhost".to_owned());
        target.credentials = Some(Credentials::password(
            &credentials["user"],
            &credentials["password"],
        ));
        let outcome = flows::submission(&target).await;
        assert!(
            outcome.success,
            "{} through Postfix (submission): {:#?}\n{}",
            shape.name,
            outcome.summary,
            outcome.render(false)
        );
        let mut target = Target::new(*smtp).with_shape(shape);
        target.trust = Trust::CaPem(ca.to_owned());
        target.server_name = Some("localhost".to_owned());
        let mx = [RelayTarget {
            exchange: "mta.test.example".to_owned(),
            preference: 10,
            addresses: vec![smtp.ip()],
        }];
        let outcome = flows::relay(&target, &mx).await;
        assert!(
            outcome.success,
            "{} through Postfix (relay): {:#?}\n{}",
            shape.name,
            outcome.summary,
            outcome.render(false)
        );
    }
    let expected_files = 2 * SHAPES.len();
    // Delivery to the Maildir is asynchronous.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let files: Vec<PathBuf> = loop {
        let files: Vec<PathBuf> = std::fs::read_dir(&maildir)
            .expect("maildir")
            .map(|e| e.expect("entry").path())
            .filter(|p| !before.contains(p))
            .collect();
        if files.len() >= expected_files || std::time::Instant::now() > deadline {
            break files;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(
        files.len(),
        expected_files,
        "every shape delivered to the Maildir, by submission and by relay"
    );
    let mut failures = Vec::new();
    let mut expected_by_file = Vec::new();
    for file in &files {
        let raw = std::fs::read(file).expect("delivered message");
        let id = raw
            .split(|&b| b == b'\n')
            .find_map(|line| line.strip_prefix(b"Message-ID: <"))
            .and_then(|rest| rest.split(|&b| b == b'@').next())
            .map(|id| String::from_utf8_lossy(id).into_owned())
            .unwrap_or_default();
        let Some(shape) = SHAPES.iter().find(|s| s.name == id) else {
            failures.push(format!(
                "{}: no shape with Message-ID {id:?}",
                file.display()
            ));
            continue;
        };
        let expected = roundtrip::expected(&(shape.build)());
        for difference in roundtrip::differences(&expected, &roundtrip::by_mail_parser(&raw)) {
            failures.push(format!(
                "{} via Postfix: mail-parser: {difference}",
                shape.name
            ));
        }
        expected_by_file.push((file.clone(), expected, shape.name));
    }
    let paths: Vec<PathBuf> = expected_by_file.iter().map(|(f, _, _)| f.clone()).collect();
    let read = roundtrip::by_python(&paths, &postfix.dir.join("payloads"));
    for ((_, expected, name), seen) in expected_by_file.iter().zip(&read) {
        for difference in roundtrip::differences(expected, seen) {
            failures.push(format!("{name} via Postfix: Python's email: {difference}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
