//! What the snapshot tests share: a fake-smtp server as the flows expect it (three
//! listeners, TLS, one user), and a flow run against it (relay with real MX resolution
//! against a test zone).

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use fake_server::tls::TlsSetup;
use fake_server::{Scenario, Server, SessionConfig};
use smtp_harness::client::Trust;
use smtp_harness::dns::{resolver_for, TestDns, Zone};
use smtp_harness::flows::{self, FlowKind, FlowOutcome, Target};
use smtp_harness::message::Shape;
use smtp_protocol::sasl::Credentials;
use smtp_protocol::session::{AuthConfig, AuthUser};

/// Starts `scenario`; `max_message_size` replaces the default SIZE limit (10 MiB).
pub async fn start(scenario: Scenario, ca_dir: &Path, max_message_size: Option<u64>) -> Server {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = SessionConfig {
        auth: AuthConfig {
            users: vec![AuthUser {
                name: "harness".into(),
                password: Some("secret".into()),
                token: Some("token-123".into()),
            }],
            ..AuthConfig::default()
        },
        ..SessionConfig::default()
    };
    if let Some(size) = max_message_size {
        config.max_message_size = size;
    }
    Server::builder()
        .smtp(loopback)
        .submission(loopback)
        .smtps(loopback)
        .tls(TlsSetup::new().ca_dir(ca_dir))
        // The TLS flows run on the relay-style listener: it must offer STARTTLS here.
        .smtp_starttls(true)
        .session_config(config)
        .scenario(scenario)
        .start()
        .await
        .expect("server starts")
}

/// Runs `flow` against `server`, sending `shape` when given (else the flows' own message).
pub async fn run_flow(
    server: &Server,
    flow: FlowKind,
    shape: Option<&'static Shape>,
) -> FlowOutcome {
    let listener = match flow {
        FlowKind::Submission => "submission",
        FlowKind::SubmissionImplicit | FlowKind::Auth => "smtps",
        FlowKind::Relay | FlowKind::TlsOpportunistic | FlowKind::TlsRequired => "smtp",
    };
    let mut target = Target::new(server.addr(listener).expect("listener"));
    if let Some(shape) = shape {
        target = target.with_shape(shape);
    }
    target.trust = Trust::CaPem(server.ca_cert_pem().expect("ca").to_owned());
    target.server_name = Some("localhost".to_owned());
    if matches!(
        flow,
        FlowKind::Submission | FlowKind::SubmissionImplicit | FlowKind::Auth
    ) {
        target.credentials = Some(Credentials::password("harness", "secret"));
        target.bearer = Some(Credentials::bearer("harness", "token-123"));
    }
    match flow {
        FlowKind::Submission => flows::submission(&target).await,
        FlowKind::SubmissionImplicit => flows::submission_implicit(&target).await,
        FlowKind::TlsOpportunistic => flows::tls_opportunistic(&target).await,
        FlowKind::TlsRequired => flows::tls_required(&target).await,
        FlowKind::Auth => flows::auth(&target).await,
        FlowKind::Relay => {
            // Real MX resolution against a test zone: test.example's MX is this server.
            let dns = TestDns::start(
                Zone::new("test.example")
                    .mx("test.example", 10, "localhost.test.example")
                    .a("localhost.test.example", Ipv4Addr::LOCALHOST),
            )
            .await
            .expect("test DNS");
            let resolver = resolver_for(dns.addr()).expect("resolver");
            flows::relay_to_domain(&target, &resolver).await
        }
    }
}

/// The `.snap` files in `dir` whose name (without `.snap`) is not in `expected`: snapshots
/// nothing checks any more.
pub fn stale_snapshots(dir: &Path, expected: &std::collections::BTreeSet<String>) -> Vec<String> {
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the snapshot folder") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = file.strip_suffix(".snap") {
            if !expected.contains(stem) {
                stale.push(file);
            }
        }
    }
    stale
}
