//! `smtp-harness probe` as a black box, against fake-smtp started in the test.

use std::net::SocketAddr;
use std::process::Command;

use fake_server::tls::TlsSetup;
use fake_server::{Server, SessionConfig};
use smtp_protocol::session::{AuthConfig, AuthUser};

async fn server(name: &str) -> (Server, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("harness-probe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = Server::builder()
        .smtp(loopback)
        .submission(loopback)
        .tls(TlsSetup::new().ca_dir(dir.join("ca")))
        .session_config(SessionConfig {
            auth: AuthConfig {
                users: vec![AuthUser {
                    name: "bob".into(),
                    password: Some("pw".into()),
                    token: None,
                }],
                ..AuthConfig::default()
            },
            ..SessionConfig::default()
        })
        .start()
        .await
        .expect("server");
    std::fs::write(dir.join("ca.pem"), server.ca_cert_pem().expect("ca")).expect("ca file");
    (server, dir)
}

async fn probe(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_smtp-harness"))
            .arg("probe")
            .args(&args)
            .output()
            .expect("run smtp-harness")
    })
    .await
    .expect("thread")
}

fn args(server: &Server, dir: &std::path::Path, password: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        server.addr("submission").expect("submission").to_string(),
        "--flow".into(),
        "submission".into(),
        "--user".into(),
        "bob".into(),
        "--password".into(),
        password.into(),
        "--ca".into(),
        dir.join("ca.pem").display().to_string(),
        "--server-name".into(),
        "localhost".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_prints_the_transcript_and_exits_0_on_success() {
    let (server, dir) = server("ok").await;
    let output = probe(args(&server, &dir, "pw", &[])).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("flow: submission\nsuccess: true\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("C: STARTTLS\nS: 220 2.0.0 Ready to start TLS\n** TLS established"),
        "{stdout}"
    );
    let output = probe(args(&server, &dir, "wrong", &[])).await;
    assert_eq!(output.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_json() {
    let (server, dir) = server("json").await;
    let output = probe(args(&server, &dir, "pw", &["--json"])).await;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(value["flow"], "submission");
    assert_eq!(value["success"], true);
    let entries = value["sessions"][0]["entries"].as_array().expect("entries");
    assert!(entries.iter().any(|e| e["kind"] == "tls-established"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_expect_compares_with_a_golden_transcript() {
    let (server, dir) = server("expect").await;
    let golden = dir.join("golden.txt");
    let golden_arg = golden.display().to_string();
    let output = probe(args(
        &server,
        &dir,
        "pw",
        &["--expect", &golden_arg, "--update"],
    ))
    .await;
    assert_eq!(output.status.code(), Some(0));
    let written = std::fs::read_to_string(&golden).expect("golden file");
    assert!(
        written.contains("127.0.0.1:[PORT]") && written.contains("queued as [QUEUE-ID]"),
        "{written}"
    );
    // Same server behaviour, another run: equal after redaction.
    let output = probe(args(&server, &dir, "pw", &["--expect", &golden_arg])).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A different outcome: exit 1 and a readable diff.
    let output = probe(args(&server, &dir, "wrong", &["--expect", &golden_arg])).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("-success: true\n+success: false"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["probe", "mail.example.com:25", "--flow", "relay"][..],
        &["probe", "127.0.0.1:25", "--flow", "teleport"],
        &["probe", "127.0.0.1:25", "--flow", "auth", "--user", "x"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_smtp-harness"))
            .args(args)
            .output()
            .expect("run");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_relay_resolves_mx_with_the_given_dns_server() {
    use smtp_harness::dns::{TestDns, Zone};
    let (server, dir) = server("relay").await;
    let dns = TestDns::start(
        Zone::new("test.example")
            .mx("test.example", 5, "mx.test.example")
            .a("mx.test.example", std::net::Ipv4Addr::LOCALHOST),
    )
    .await
    .expect("dns");
    let port = server.addr("smtp").expect("smtp").port();
    let output = probe(vec![
        format!("127.0.0.1:{port}"),
        "--flow".into(),
        "relay".into(),
        "--dns".into(),
        dns.addr().to_string(),
        "--insecure".into(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("  - MX mx.test.example (5): [127.0.0.1]\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("** certificate verification is OFF"),
        "{stdout}"
    );
    assert!(
        dns.query_count() >= 2,
        "the MX and the A lookups reached the test server"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
