//! The harness's flows against fake-smtp, and Part A of the checklist shown from the
//! server's side: CRLF only, dot-stuffing, EHLO again after STARTTLS, no PLAIN or LOGIN in
//! the clear, no pipelining unless offered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fake_server::tls::TlsSetup;
use fake_server::{Scenario, Server, SessionConfig};
use smtp_harness::client::{Client, ClientConfig, ClientError, Envelope, TlsMode, Trust};
use smtp_harness::flows::{self, RelayTarget, Target};
use smtp_protocol::sasl::Credentials;
use smtp_protocol::session::{AuthConfig, AuthUser};

const WAIT: Duration = Duration::from_secs(10);

struct Fixture {
    server: Server,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    async fn start(name: &str, scenario: Option<&str>) -> Fixture {
        let dir = std::env::temp_dir().join(format!("harness-flows-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut builder = Server::builder()
            .smtp(loopback)
            .submission(loopback)
            .smtps(loopback)
            .tls(TlsSetup::new().ca_dir(&dir))
            .session_config(SessionConfig {
                auth: AuthConfig {
                    users: vec![AuthUser {
                        name: "harness".into(),
                        password: Some("secret".into()),
                        token: Some("token-123".into()),
                    }],
                    ..AuthConfig::default()
                },
                ..SessionConfig::default()
            });
        if let Some(yaml) = scenario {
            builder = builder.scenario(Scenario::from_yaml(name, yaml).expect("scenario"));
        }
        Fixture {
            server: builder.start().await.expect("server"),
            dir,
        }
    }

    fn target(&self, listener: &str) -> Target {
        let mut target = Target::new(self.server.addr(listener).expect("listener"));
        target.trust = Trust::CaPem(self.server.ca_cert_pem().expect("ca").to_owned());
        target.credentials = Some(Credentials::password("harness", "secret"));
        target
    }

    async fn server_transcripts(&self, count: usize) -> String {
        self.server
            .wait_for_sessions(count, WAIT)
            .await
            .iter()
            .map(|s| s.transcript.render(false))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_with_starttls_and_auth() {
    let f = Fixture::start("submission", None).await;
    let outcome = flows::submission(&f.target("submission")).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.summary[1], "AUTH SCRAM-SHA-256: accepted");
    let messages = f
        .server
        .wait_for_messages(1, WAIT)
        .await
        .expect("delivered");
    let message = &messages[0];
    assert_eq!(message.authenticated.as_deref(), Some("harness"));
    // Dot-stuffed on the wire, restored by the server (C-5321-DOT-STUFFING).
    assert_eq!(message.raw, flows::MESSAGE);
    assert_eq!(message.report.unstuffed_dots, 1);
    // CRLF only (C-5321-NO-BARE-CR-LF).
    assert_eq!((message.report.bare_cr, message.report.bare_lf), (0, 0));
    let server = f.server_transcripts(1).await;
    let tls_at = server.find("** TLS established").expect("TLS");
    assert!(
        server[tls_at..].contains("C: EHLO harness.test"),
        "EHLO again after STARTTLS:\n{server}"
    );
    assert!(
        !server.contains("!! C-"),
        "no conformance note about the client:\n{server}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_over_implicit_tls() {
    let f = Fixture::start("implicit", None).await;
    let outcome = flows::submission_implicit(&f.target("smtps")).await;
    assert!(outcome.success, "{outcome:?}");
    let client = outcome.sessions[0].render(false);
    assert!(client.starts_with("** connected"), "{client}");
    assert!(client.contains("** TLS established: TLSv1.3"), "{client}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_flow_every_mechanism_right_wrong_and_cancel() {
    let f = Fixture::start("auth", None).await;
    let mut target = f.target("smtps");
    target.bearer = Some(Credentials::bearer("harness", "token-123"));
    let outcome = flows::auth(&target).await;
    assert!(outcome.success, "{outcome:#?}");
    // One session to ask, then three per mechanism.
    assert_eq!(outcome.sessions.len(), 1 + 3 * 7);
    for mechanism in [
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "XOAUTH2",
        "OAUTHBEARER",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
    ] {
        assert!(
            outcome
                .summary
                .contains(&format!("{mechanism}: right secret: accepted")),
            "{mechanism}: {:#?}",
            outcome.summary
        );
        assert!(
            outcome.summary.contains(&format!(
                "{mechanism}: cancel: 501 5.0.0 Authentication cancelled"
            )),
            "{mechanism}"
        );
    }
    assert!(
        outcome.summary.contains(
            &"XOAUTH2: wrong secret: AUTH refused: 535 5.7.8 Authentication credentials invalid"
                .to_owned()
        ),
        "{:#?}",
        outcome.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_stops_when_starttls_is_stripped_or_refused() {
    for (name, yaml) in [
        ("stripped", "server: { starttls: false }\n"),
        ("454", "on:\n  starttls:\n    - reply: \"454 4.7.0 TLS not available due to temporary reason\"\n"),
    ] {
        let f = Fixture::start(name, Some(yaml)).await;
        let outcome = flows::tls_required(&f.target("smtp")).await;
        assert!(outcome.success, "{name}: {outcome:?}");
        assert!(outcome.summary[0].starts_with("stopped before sending anything"), "{outcome:?}");
        let server = f.server_transcripts(1).await;
        assert!(!server.contains("C: MAIL"), "{name}: nothing may be sent in the clear:\n{server}");
        assert!(f.server.messages().is_empty());
        // Opportunistic TLS goes on in the clear instead.
        let outcome = flows::tls_opportunistic(&f.target("smtp")).await;
        assert!(outcome.success, "{name}: {outcome:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_failures_are_reported() {
    for certificate in ["expired", "wrong-host", "self-signed"] {
        let f = Fixture::start(
            certificate,
            Some(&format!("tls: {{ certificate: {certificate} }}\n")),
        )
        .await;
        let outcome = flows::submission_implicit(&f.target("smtps")).await;
        assert!(!outcome.success, "{certificate}: {outcome:?}");
        assert!(
            outcome.summary[0]
                .starts_with("connect failed: TLS handshake failed: invalid peer certificate"),
            "{certificate}: {outcome:?}"
        );
        assert!(f.server.messages().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plain_or_login_in_the_clear() {
    let yaml = "auth: { in-cleartext: true, mechanisms: [PLAIN, LOGIN] }\n";
    let f = Fixture::start("cleartext", Some(yaml)).await;
    let mut config = ClientConfig {
        tls: TlsMode::Off,
        ..ClientConfig::default()
    };
    let mut client = Client::connect(f.server.addr("smtp").expect("smtp"), config.clone())
        .await
        .expect("connect");
    client.hello().await.expect("EHLO");
    let error = client
        .authenticate(&Credentials::password("harness", "secret"), None)
        .await
        .expect_err("refused by the client itself");
    assert!(
        matches!(error, ClientError::PlaintextWithoutTls(_)),
        "{error}"
    );
    let _ = client.quit().await;
    let server = f.server_transcripts(1).await;
    assert!(!server.contains("C: AUTH"), "{server}");
    // Told to, it does.
    config.allow_plaintext_auth = true;
    let mut client = Client::connect(f.server.addr("smtp").expect("smtp"), config)
        .await
        .expect("connect");
    client.hello().await.expect("EHLO");
    client
        .authenticate(&Credentials::password("harness", "secret"), None)
        .await
        .expect("AUTH PLAIN in the clear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pipelining_unless_offered() {
    // This server refuses a client that pipelines without PIPELINING (as OpenSMTPD does).
    let f = Fixture::start(
        "nopipe",
        Some("quirks: [refuse-pipelining]\nehlo: { capabilities: [\"SIZE 1000000\", 8BITMIME] }\n"),
    )
    .await;
    let outcome = flows::tls_opportunistic(&f.target("smtp")).await;
    assert!(outcome.success, "{outcome:?}");
    // With PIPELINING offered the client groups MAIL, RCPT and DATA in one write.
    let f = Fixture::start("pipe", Some("quirks: [refuse-pipelining]\n")).await;
    let outcome = flows::tls_opportunistic(&f.target("smtp")).await;
    assert!(
        !outcome.success,
        "the quirk must catch the pipelined group: {outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_normalises_bare_line_ends() {
    let f = Fixture::start("crlf", None).await;
    let mut client = Client::connect(
        f.server.addr("smtp").expect("smtp"),
        ClientConfig {
            tls: TlsMode::Off,
            ..ClientConfig::default()
        },
    )
    .await
    .expect("connect");
    client.hello().await.expect("EHLO");
    let envelope = Envelope {
        from: "a@test.example".into(),
        to: vec!["b@test.example".into()],
        dsn: None,
    };
    client
        .send(&envelope, b"Subject: lf\n\nline\n.dot\n")
        .await
        .expect("sent");
    let messages = f.server.wait_for_messages(1, WAIT).await.expect("stored");
    assert_eq!(messages[0].raw, b"Subject: lf\r\n\r\nline\r\n.dot\r\n");
    assert_eq!(messages[0].report.bare_lf, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_falls_back_to_the_next_mx() {
    let f = Fixture::start("relay", None).await;
    let port = f.server.addr("smtp").expect("smtp").port();
    let mut target = f.target("smtp");
    target.credentials = None;
    target.address = SocketAddr::from(([127, 0, 0, 1], port));
    let exchangers = [
        // Nothing listens there: a connection failure, so the next MX is tried.
        RelayTarget {
            exchange: "mx1.test.example".into(),
            preference: 10,
            addresses: vec!["127.0.0.2".parse().expect("ip")],
        },
        RelayTarget {
            exchange: "mx2.test.example".into(),
            preference: 20,
            addresses: vec!["127.0.0.1".parse().expect("ip")],
        },
    ];
    target.server_name = Some("localhost".into());
    let outcome = flows::relay(&target, &exchangers).await;
    assert!(outcome.success, "{outcome:?}");
    assert!(
        outcome.summary[0].starts_with("MX mx1.test.example (10) at 127.0.0.2: cannot connect"),
        "{outcome:?}"
    );
    assert!(
        outcome.summary[1].starts_with("MX mx2.test.example (20) at 127.0.0.1: delivered"),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_tries_the_next_mx_after_a_4xx_and_stops_at_a_5xx() {
    let transient = Fixture::start(
        "relay4xx",
        Some("on:\n  rcpt:\n    - reply: \"451 4.7.1 Greylisted\"\n"),
    )
    .await;
    let good = Fixture::start("relaygood", None).await;
    // Two servers on different ports cannot share the relay's single port here, so the 4xx
    // and 5xx cases are shown against one MX each.
    let mut target = transient.target("smtp");
    target.credentials = None;
    target.server_name = Some("localhost".into());
    let one = [RelayTarget {
        exchange: "mx.test.example".into(),
        preference: 10,
        addresses: vec!["127.0.0.1".parse().expect("ip")],
    }];
    let outcome = flows::relay(&target, &one).await;
    assert!(!outcome.success);
    assert!(
        outcome.summary[0].contains("trying the next"),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.summary.last().map(String::as_str),
        Some("every exchanger failed transiently: the message stays queued")
    );
    let permanent = Fixture::start(
        "relay5xx",
        Some("on:\n  rcpt:\n    - reply: \"550 5.1.1 No such user\"\n"),
    )
    .await;
    let mut target = permanent.target("smtp");
    target.credentials = None;
    target.server_name = Some("localhost".into());
    let outcome = flows::relay(&target, &one).await;
    assert!(
        outcome.summary[0].ends_with("permanent, giving up"),
        "{outcome:?}"
    );
    drop(good);
}

/// Connects to the fixture's plain listener, sends one small message and returns the
/// client's transcript.
async fn send_and_render(f: &Fixture, config: ClientConfig, envelope: &Envelope) -> String {
    let mut client = Client::connect(f.server.addr("smtp").expect("smtp"), config)
        .await
        .expect("connect");
    client.hello().await.expect("EHLO");
    client
        .send(envelope, b"Subject: dsn\r\n\r\nx\r\n")
        .await
        .expect("sent");
    client.transcript().render(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsn_parameters_only_where_offered() {
    use smtp_harness::client::Dsn;
    use smtp_protocol::params::{Notify, NotifyOn, Ret};
    let dsn = Dsn {
        ret: Some(Ret::Hdrs),
        envid: Some("QQ314159".into()),
        notify: Some(Notify::On(vec![NotifyOn::Failure, NotifyOn::Delay])),
    };
    let envelope = Envelope {
        from: "a@test.example".into(),
        to: vec!["b@test.example".into()],
        dsn: Some(dsn),
    };
    let config = ClientConfig {
        tls: TlsMode::Off,
        ..ClientConfig::default()
    };
    let f = Fixture::start("dsn", None).await;
    let client_side = send_and_render(&f, config.clone(), &envelope).await;
    assert!(
        client_side.contains("C: MAIL FROM:<a@test.example> SIZE=19 RET=HDRS ENVID=QQ314159"),
        "{client_side}"
    );
    assert!(
        client_side.contains("C: RCPT TO:<b@test.example> NOTIFY=FAILURE,DELAY"),
        "{client_side}"
    );
    // Without DSN offered, nothing of it is sent (C-3461-ONLY-IF-ADVERTISED).
    let f = Fixture::start(
        "nodsn",
        Some("ehlo: { capabilities: [PIPELINING, \"SIZE 1000000\"] }\n"),
    )
    .await;
    let client_side = send_and_render(&f, config, &envelope).await;
    assert!(
        client_side.contains("C: MAIL FROM:<a@test.example> SIZE=19\n"),
        "{client_side}"
    );
    assert!(
        client_side.contains("** DSN requested but not offered: sent without it"),
        "{client_side}"
    );
}

mod relay_with_dns {
    use super::*;
    use smtp_harness::dns::{resolver_for, TestDns, Zone};
    use std::net::Ipv4Addr;

    /// A fake server on `ip` with a given port (0: any), playing `yaml`.
    async fn server_on(ip: [u8; 4], port: u16, yaml: Option<&str>) -> Server {
        let mut builder = Server::builder().smtp(SocketAddr::from((ip, port)));
        if let Some(yaml) = yaml {
            builder = builder.scenario(Scenario::from_yaml("relay", yaml).expect("scenario"));
        }
        builder.start().await.expect("server")
    }

    fn target(port: u16) -> Target {
        let mut target = Target::new(SocketAddr::from(([127, 0, 0, 1], port)));
        target.trust = Trust::Insecure;
        target
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mx_order_and_fallback_on_a_connection_failure() {
        let server = server_on([127, 0, 0, 1], 0, None).await;
        let port = server.smtp_addr().port();
        let dns = TestDns::start(
            Zone::new("test.example")
                .mx("test.example", 20, "mx2.test.example")
                .mx("test.example", 10, "mx1.test.example")
                .a("mx1.test.example", Ipv4Addr::new(127, 0, 0, 2))
                .a("mx2.test.example", Ipv4Addr::new(127, 0, 0, 1)),
        )
        .await
        .expect("dns");
        let resolver = resolver_for(dns.addr()).expect("resolver");
        let outcome = flows::relay_to_domain(&target(port), &resolver).await;
        assert!(outcome.success, "{:#?}", outcome.summary);
        assert_eq!(outcome.summary[0], "MX mx1.test.example (10): [127.0.0.2]");
        assert_eq!(outcome.summary[1], "MX mx2.test.example (20): [127.0.0.1]");
        assert!(
            outcome.summary[2].starts_with("MX mx1.test.example (10) at 127.0.0.2: cannot connect"),
            "{:#?}",
            outcome.summary
        );
        assert!(
            outcome.summary[3].starts_with("MX mx2.test.example (20) at 127.0.0.1: delivered"),
            "{:#?}",
            outcome.summary
        );
        assert_eq!(
            server
                .wait_for_messages(1, WAIT)
                .await
                .expect("delivered")
                .len(),
            1
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fallback_on_a_4xx_and_stop_on_a_5xx() {
        // The greylisting MX on 127.0.0.3, a good one on 127.0.0.1, both on one port.
        let greylisting = server_on(
            [127, 0, 0, 3],
            0,
            Some("on:\n  rcpt:\n    - reply: \"451 4.7.1 Greylisted\"\n"),
        )
        .await;
        let port = greylisting.smtp_addr().port();
        let good = server_on([127, 0, 0, 1], port, None).await;
        let zone = |second: Ipv4Addr| {
            Zone::new("test.example")
                .mx("test.example", 10, "mx1.test.example")
                .mx("test.example", 20, "mx2.test.example")
                .a("mx1.test.example", Ipv4Addr::new(127, 0, 0, 3))
                .a("mx2.test.example", second)
        };
        let dns = TestDns::start(zone(Ipv4Addr::new(127, 0, 0, 1)))
            .await
            .expect("dns");
        let outcome =
            flows::relay_to_domain(&target(port), &resolver_for(dns.addr()).expect("resolver"))
                .await;
        assert!(outcome.success, "{:#?}", outcome.summary);
        assert!(
            outcome.summary[2].ends_with("RCPT refused: 451 4.7.1 Greylisted; trying the next"),
            "{:#?}",
            outcome.summary
        );
        assert_eq!(
            good.wait_for_messages(1, WAIT)
                .await
                .expect("delivered")
                .len(),
            1
        );
        // A 5xx from the first MX ends the attempt: the second is not tried.
        let refusing = server_on(
            [127, 0, 0, 4],
            port,
            Some("on:\n  rcpt:\n    - reply: \"550 5.1.1 No such user\"\n"),
        )
        .await;
        let dns = TestDns::start(
            Zone::new("test.example")
                .mx("test.example", 10, "mx1.test.example")
                .mx("test.example", 20, "mx2.test.example")
                .a("mx1.test.example", Ipv4Addr::new(127, 0, 0, 4))
                .a("mx2.test.example", Ipv4Addr::new(127, 0, 0, 1)),
        )
        .await
        .expect("dns");
        let outcome =
            flows::relay_to_domain(&target(port), &resolver_for(dns.addr()).expect("resolver"))
                .await;
        assert!(!outcome.success);
        assert!(
            outcome
                .summary
                .last()
                .expect("step")
                .ends_with("permanent, giving up"),
            "{:#?}",
            outcome.summary
        );
        assert_eq!(good.messages().len(), 1, "the second MX was not tried");
        drop(refusing);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn implicit_mx_and_null_mx() {
        let server = server_on([127, 0, 0, 1], 0, None).await;
        let port = server.smtp_addr().port();
        let dns = TestDns::start(
            Zone::new("test.example").a("test.example", Ipv4Addr::new(127, 0, 0, 1)),
        )
        .await
        .expect("dns");
        let outcome =
            flows::relay_to_domain(&target(port), &resolver_for(dns.addr()).expect("resolver"))
                .await;
        assert!(outcome.success, "{:#?}", outcome.summary);
        assert_eq!(
            outcome.summary[0],
            "implicit MX (no MX records: the domain itself) test.example (0): [127.0.0.1]"
        );
        let dns = TestDns::start(Zone::new("test.example").null_mx("test.example"))
            .await
            .expect("dns");
        let outcome =
            flows::relay_to_domain(&target(port), &resolver_for(dns.addr()).expect("resolver"))
                .await;
        assert!(
            outcome.success,
            "not sending is right: {:#?}",
            outcome.summary
        );
        assert_eq!(
            outcome.summary[0],
            "test.example: null MX (RFC 7505): the domain accepts no mail; not sent (556 5.1.10)"
        );
        assert!(outcome.sessions.is_empty(), "no connection was made");
        assert_eq!(server.messages().len(), 1);
    }
}

/// Issue 9, item 30: the TLS flows never authenticated, so against a submission server (AUTH
/// required before MAIL) they ended in 530. With credentials they log in where AUTH is offered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_flows_authenticate_against_a_submission_server() {
    let f = Fixture::start("tls-auth", None).await;
    let target = f.target("submission");
    for outcome in [
        flows::tls_required(&target).await,
        flows::tls_opportunistic(&target).await,
    ] {
        assert!(outcome.success, "{outcome:?}");
        assert!(
            outcome
                .summary
                .iter()
                .any(|s| s.starts_with("AUTH ") && s.ends_with(": accepted")),
            "{outcome:?}"
        );
    }
    assert_eq!(
        f.server
            .wait_for_messages(2, WAIT)
            .await
            .expect("delivered")
            .len(),
        2
    );
}
