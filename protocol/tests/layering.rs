//! Runs ci/check-layering.sh: the protocol crate must stay free of I/O, async, TLS, YAML, DNS,
//! clock and randomness crates. The check is also run on a crate that does use them, to show
//! that it can fail.

use std::process::Command;

fn check(package: &str) -> std::process::Output {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../ci/check-layering.sh");
    Command::new("bash")
        .arg(script)
        .arg(package)
        .output()
        .expect("run ci/check-layering.sh")
}

#[test]
fn the_protocol_crate_is_pure() {
    let output = check("smtp-protocol");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The conformance checks follow the same rule: pure judges over what a session recorded.
#[test]
fn the_conformance_crate_is_pure() {
    let output = check("smtp-conformance");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_check_catches_a_crate_that_does_io() {
    let output = check("fake-server");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.lines().any(|l| l.trim() == "tokio"), "{stderr}");
}
