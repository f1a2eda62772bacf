//! STARTTLS, implicit TLS and AUTH with real clients and real handshakes: Python's smtplib
//! (and the scramp package for SCRAM), curl, openssl s_client, lettre; and each fault.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use fake_server::tls::TlsSetup;
use fake_server::{Scenario, Server, SessionConfig};
use serde_json::Value;
use smtp_protocol::session::{AuthConfig, AuthUser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server with all three listeners, its CA in a directory of the test's own.
struct TlsServer {
    server: Server,
    ca_file: PathBuf,
    dir: PathBuf,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TlsServer {
    fn port(&self, listener: &str) -> String {
        self.server
            .addr(listener)
            .expect("listener")
            .port()
            .to_string()
    }
    fn ca(&self) -> String {
        self.ca_file.display().to_string()
    }
    /// curl's URL for a listener: `smtps://` on the implicit-TLS one, `smtp://` elsewhere.
    fn url(&self, listener: &str) -> String {
        let scheme = if listener == "smtps" { "smtps" } else { "smtp" };
        format!("{scheme}://127.0.0.1:{}", self.port(listener))
    }
}

fn users() -> AuthConfig {
    AuthConfig {
        users: vec![AuthUser {
            name: "alice".into(),
            password: Some("wonderland".into()),
            token: Some("ya29.a0token".into()),
        }],
        ..AuthConfig::default()
    }
}

async fn start_tls(name: &str, scenario: Option<Scenario>, auth: AuthConfig) -> TlsServer {
    let dir = std::env::temp_dir().join(format!("fake-smtp-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut builder = Server::builder()
        .smtp(loopback())
        .submission(loopback())
        .smtps(loopback())
        .tls(TlsSetup::new().ca_dir(dir.join("ca")))
        .smtp_starttls(true)
        .session_config(SessionConfig {
            auth,
            ..SessionConfig::default()
        });
    if let Some(scenario) = scenario {
        builder = builder.scenario(scenario);
    }
    let server = builder.start().await.expect("server with TLS starts");
    let ca_file = dir.join("trust.pem");
    std::fs::write(&ca_file, server.ca_cert_pem().expect("a local CA")).expect("write CA");
    TlsServer {
        server,
        ca_file,
        dir,
    }
}

/// smtplib over implicit TLS: AUTH with `mechanism` and no message.
async fn smtps_auth_only(server: &TlsServer, user: &str, secret: &str, mechanism: &str) -> Value {
    let options = [
        "--ssl",
        "--user",
        user,
        "--secret",
        secret,
        "--mechanism",
        mechanism,
        "--no-send",
    ];
    python(server, "smtps", &options).await
}

async fn python(server: &TlsServer, listener: &str, options: &[&str]) -> Value {
    let mut args = vec![
        script("tls_client.py"),
        "127.0.0.1".to_owned(),
        server.port(listener),
        "--cafile".to_owned(),
        server.ca(),
    ];
    args.extend(options.iter().map(|o| (*o).to_owned()));
    let output = run_client_async("python3", args, None).await;
    let stdout = assert_success(&output);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

async fn curl(args: Vec<String>) -> std::process::Output {
    run_client_async(
        "curl",
        args,
        Some(b"Subject: via curl\r\n\r\nhello\r\n".to_vec()),
    )
    .await
}

fn curl_args(server: &TlsServer, url: String, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["--silent", "--show-error", "--max-time", "20", "--url"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.push(url);
    args.extend(["--cacert".to_owned(), server.ca()]);
    args.extend(
        [
            "--mail-from",
            "alice@example.com",
            "--mail-rcpt",
            "bob@example.org",
            "-T",
            "-",
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_starttls_login_and_send_on_submission() {
    let s = start_tls("starttls", None, AuthConfig::default()).await;
    let report = python(
        &s,
        "submission",
        &["--starttls", "--user", "anyone", "--secret", "anything"],
    )
    .await;
    assert_eq!(report["ok"], true, "{report}");
    // Before TLS: STARTTLS, and no password mechanism; after: no STARTTLS, every mechanism
    // that does not need a user list.
    let before = report["features_before"].as_array().expect("features");
    assert!(before.contains(&Value::from("starttls")), "{report}");
    assert!(!report["features_after"]
        .as_array()
        .expect("after")
        .contains(&Value::from("starttls")));
    let messages = s.server.wait_for_messages(1, WAIT).await.expect("stored");
    assert!(messages[0].tls);
    assert_eq!(messages[0].authenticated.as_deref(), Some("anyone"));
    assert!(
        messages[0].trace_header().contains("with ESMTPSA id"),
        "{}",
        messages[0].trace_header()
    );
    let sessions = s.server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(
        transcript.contains("** TLS established: TLSv1.3"),
        "{transcript}"
    );
    assert_eq!(
        transcript.matches("C: ehlo ").count(),
        2,
        "EHLO again after TLS:\n{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_implicit_tls_on_smtps() {
    let s = start_tls("smtps", None, AuthConfig::default()).await;
    let report = python(&s, "smtps", &["--ssl", "--user", "u", "--secret", "p"]).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["tls_version"], "TLSv1.3");
    let sessions = s.server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    // The handshake came before the greeting (RFC 8314 §3.3).
    let tls = transcript.find("** TLS established").expect("tls event");
    let greeting = transcript.find("S: 220 ").expect("greeting");
    assert!(tls < greeting, "{transcript}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_requires_auth_before_mail() {
    let s = start_tls("authreq", None, AuthConfig::default()).await;
    let report = python(&s, "submission", &["--starttls"]).await;
    assert_eq!(report["error"]["type"], "SMTPSenderRefused", "{report}");
    assert_eq!(report["error"]["code"], 530);
    assert_eq!(report["error"]["message"], "5.7.0 Authentication required");
    // The relay-style port does not require it.
    let report = python(&s, "smtp", &["--starttls"]).await;
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mechanism_with_smtplib_succeeds_and_fails() {
    let s = start_tls("mechs", None, users()).await;
    for mechanism in ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"] {
        let good = smtps_auth_only(&s, "alice", "wonderland", mechanism).await;
        assert_eq!(good["auth"], 235, "{mechanism}: {good}");
        let bad = smtps_auth_only(&s, "alice", "looking-glass", mechanism).await;
        assert_eq!(bad["error"]["code"], 535, "{mechanism}: {bad}");
        assert_eq!(
            bad["error"]["message"], "5.7.8 Authentication credentials invalid",
            "{mechanism}"
        );
    }
    for mechanism in ["XOAUTH2", "OAUTHBEARER"] {
        let good = smtps_auth_only(&s, "alice", "ya29.a0token", mechanism).await;
        assert_eq!(good["auth"], 235, "{mechanism}: {good}");
        // A bad token: the error challenge, the client's acknowledgement, then 535.
        let bad = smtps_auth_only(&s, "alice", "expired", mechanism).await;
        assert_eq!(bad["error"]["code"], 535, "{mechanism}: {bad}");
    }
    let sessions = s.server.wait_for_sessions(14, WAIT).await;
    let all: String = sessions
        .iter()
        .map(|s| s.transcript.render(false))
        .collect();
    assert!(
        all.contains("SCRAM-SHA-256 succeeded for \"alice\""),
        "{all}"
    );
    assert!(
        all.contains("OAUTHBEARER failed: authentication credentials invalid"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_over_implicit_tls_and_starttls_with_each_mechanism_it_has() {
    let s = start_tls("curl", None, users()).await;
    let smtps = s.url("smtps");
    let submission = s.url("submission");
    for options in [
        vec!["--user", "alice:wonderland"],
        vec![
            "--user",
            "alice:wonderland",
            "--login-options",
            "AUTH=PLAIN",
        ],
        vec![
            "--user",
            "alice:wonderland",
            "--login-options",
            "AUTH=LOGIN",
        ],
        vec![
            "--user",
            "alice:wonderland",
            "--login-options",
            "AUTH=CRAM-MD5",
        ],
        vec![
            "--user",
            "alice",
            "--oauth2-bearer",
            "ya29.a0token",
            "--login-options",
            "AUTH=XOAUTH2",
        ],
        vec![
            "--user",
            "alice",
            "--oauth2-bearer",
            "ya29.a0token",
            "--login-options",
            "AUTH=OAUTHBEARER",
        ],
    ] {
        let output = curl(curl_args(&s, smtps.clone(), &options)).await;
        assert_success(&output);
        let mut starttls = options.clone();
        starttls.push("--ssl-reqd");
        let output = curl(curl_args(&s, submission.clone(), &starttls)).await;
        assert_success(&output);
    }
    let output = curl(curl_args(&s, smtps, &["--user", "alice:wrong"])).await;
    assert_eq!(output.status.code(), Some(67), "curl: login denied");
    let messages = s.server.wait_for_messages(12, WAIT).await.expect("twelve");
    assert!(messages
        .iter()
        .all(|m| m.tls && m.authenticated.as_deref() == Some("alice")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_starttls_verifies_and_sees_no_starttls_after() {
    let s = start_tls("openssl", None, AuthConfig::default()).await;
    let args = vec![
        "s_client".to_owned(),
        "-starttls".to_owned(),
        "smtp".to_owned(),
        "-connect".to_owned(),
        format!("127.0.0.1:{}", s.port("submission")),
        "-CAfile".to_owned(),
        s.ca(),
        "-verify_return_error".to_owned(),
        "-servername".to_owned(),
        "localhost".to_owned(),
        "-crlf".to_owned(),
        "-ign_eof".to_owned(),
    ];
    let output =
        run_client_async("openssl", args, Some(b"EHLO openssl.test\nQUIT\n".to_vec())).await;
    let stdout = assert_success(&output);
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
    assert!(
        stdout.contains("250-localhost greets openssl.test"),
        "{stdout}"
    );
    assert!(
        stdout.contains("AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER"),
        "{stdout}"
    );
    let after_tls = stdout
        .split("250-localhost greets openssl.test")
        .nth(1)
        .expect("EHLO reply");
    assert!(!after_tls.contains("STARTTLS"), "{stdout}");
    let sessions = s.server.wait_for_sessions(1, WAIT).await;
    assert!(sessions[0]
        .transcript
        .render(false)
        .contains(", SNI localhost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lettre_with_rustls_starttls_and_auth() {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let s = start_tls("lettre", None, users()).await;
    let certificate =
        Certificate::from_pem(s.server.ca_cert_pem().expect("ca").as_bytes()).expect("pem");
    let tls = TlsParameters::builder("localhost".to_owned())
        .add_root_certificate(certificate)
        .build_rustls()
        .expect("rustls parameters");
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(s.server.addr("submission").expect("submission").port())
        .tls(Tls::Required(tls))
        .credentials(Credentials::new("alice".into(), "wonderland".into()))
        .timeout(Some(Duration::from_secs(10)))
        .build();
    let email = Message::builder()
        .from("alice@example.com".parse().expect("from"))
        .to("bob@example.org".parse().expect("to"))
        .subject("lettre over STARTTLS")
        .body("hi\n".to_owned())
        .expect("message");
    transport
        .send(email)
        .await
        .expect("lettre sends over TLS with AUTH");
    let messages = s.server.wait_for_messages(1, WAIT).await.expect("stored");
    assert_eq!(messages[0].authenticated.as_deref(), Some("alice"));
    assert!(messages[0].tls);
}

// ---- faults -----------------------------------------------------------------------------

fn scenario(yaml: &str) -> Scenario {
    Scenario::from_yaml("test", yaml).expect("valid scenario")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_not_advertised_stops_clients_that_require_tls() {
    let s = start_tls(
        "notls",
        Some(scenario("server: { starttls: false }")),
        AuthConfig::default(),
    )
    .await;
    let report = python(&s, "smtp", &["--starttls"]).await;
    assert_eq!(report["error"]["type"], "SMTPNotSupportedError", "{report}");
    let output = curl(curl_args(&s, s.url("smtp"), &["--ssl-reqd"])).await;
    assert_eq!(
        output.status.code(),
        Some(64),
        "curl: requested TLS level failed"
    );
    assert!(s.server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_answered_with_454() {
    let s = start_tls(
        "454",
        Some(scenario("on:\n  starttls:\n    - reply: \"454 4.7.0 TLS not available due to temporary reason\"\n")),
        AuthConfig::default(),
    )
    .await;
    let report = python(&s, "smtp", &["--starttls"]).await;
    assert_eq!(report["error"]["code"], 454, "{report}");
    let output = curl(curl_args(&s, s.url("smtp"), &["--ssl-reqd"])).await;
    assert!(!output.status.success());
    assert!(s.server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_aborted_by_the_server() {
    let s = start_tls(
        "abort",
        Some(scenario(
            "on:\n  starttls:\n    - steps: [default, close]\n",
        )),
        AuthConfig::default(),
    )
    .await;
    let report = python(&s, "smtp", &["--starttls"]).await;
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        [
            "SSLEOFError",
            "SSLZeroReturnError",
            "ConnectionResetError",
            "SMTPServerDisconnected",
            "SSLError"
        ]
        .contains(&report["error"]["type"].as_str().expect("type")),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_wrong_host_certificates_are_refused_by_careful_clients() {
    for (certificate, reason) in [
        ("expired", "certificate has expired"),
        ("wrong-host", "mismatch"),
        ("self-signed", "self-signed certificate"),
    ] {
        let s = start_tls(
            certificate,
            Some(scenario(&format!("tls: {{ certificate: {certificate} }}"))),
            AuthConfig::default(),
        )
        .await;
        let report = python(&s, "smtps", &["--ssl"]).await;
        assert_eq!(
            report["error"]["type"], "SSLCertVerificationError",
            "{certificate}: {report}"
        );
        let message = report["error"]["verify_message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(reason), "{certificate}: {report}");
        let output = curl(curl_args(&s, s.url("smtps"), &[])).await;
        assert_eq!(
            output.status.code(),
            Some(60),
            "{certificate}: curl must refuse the certificate"
        );
        assert!(s.server.messages().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_versions_can_be_limited() {
    let s = start_tls(
        "tls13",
        Some(scenario("tls: { versions: tls13-only }")),
        AuthConfig::default(),
    )
    .await;
    let args = vec![
        "s_client".to_owned(),
        "-connect".to_owned(),
        format!("127.0.0.1:{}", s.port("smtps")),
        "-CAfile".to_owned(),
        s.ca(),
        "-tls1_2".to_owned(),
    ];
    let output = run_client_async("openssl", args, Some(b"QUIT\n".to_vec())).await;
    assert!(!output.status.success(), "TLS 1.2 must be refused");
    let report = python(&s, "smtps", &["--ssl"]).await;
    assert_eq!(report["tls_version"], "TLSv1.3", "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mechanism_not_offered_gets_504_and_auth_twice_503() {
    let s = start_tls("504", None, users()).await;
    let mut stream = tls_client(&s, "smtps").await;
    let output = exchange(
        &mut stream,
        b"EHLO x\r\nAUTH DIGEST-MD5\r\nAUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\r\nAUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\r\nAUTH LOGIN\r\n*\r\nQUIT\r\n",
    )
    .await;
    assert!(
        output.contains("504 5.5.4 Unrecognized authentication type\r\n"),
        "{output}"
    );
    assert!(
        output
            .contains("235 2.7.0 Authentication successful\r\n503 5.5.1 Already authenticated\r\n"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_pipelined_after_starttls_is_discarded() {
    let s = start_tls("inject", None, AuthConfig::default()).await;
    let mut tcp = TcpStream::connect(s.server.addr("smtp").expect("smtp"))
        .await
        .expect("connect");
    read_reply(&mut tcp, "220").await;
    tcp.write_all(b"EHLO x\r\n").await.expect("write");
    read_reply(&mut tcp, "250").await;
    // The CVE-2011-0411 pattern: a command injected behind STARTTLS in the same packet.
    tcp.write_all(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
        .await
        .expect("write");
    read_reply(&mut tcp, "220").await;
    let mut tls = handshake(&s, tcp).await;
    let output = exchange(&mut tls, b"EHLO again\r\nSTARTTLS\r\nQUIT\r\n").await;
    assert!(!output.contains("injected"), "{output}");
    assert!(output.contains("503 5.5.1 TLS already active"), "{output}");
    let sessions = s.server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(
        transcript.contains("!! C-3207-LAST-IN-GROUP: 35 octets sent after STARTTLS"),
        "{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_closes_tls_without_close_notify_after_221() {
    let s = start_tls(
        "ses",
        Some(Scenario::load("providers/ses/quit-no-close-notify").expect("scenario")),
        AuthConfig::default(),
    )
    .await;
    let mut stream = tls_client(&s, "smtps").await;
    stream.write_all(b"QUIT\r\n").await.expect("write");
    let mut output = Vec::new();
    let result = stream.read_to_end(&mut output).await;
    assert!(
        String::from_utf8_lossy(&output).ends_with("221 Bye\r\n"),
        "{output:?}"
    );
    let error = result.expect_err("rustls reports the missing close_notify");
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_auth_quirks_over_tls() {
    let s = start_tls(
        "o365",
        Some(Scenario::load("providers/outlook/basic-auth-disabled").expect("scenario")),
        AuthConfig::default(),
    )
    .await;
    let report = python(
        &s,
        "submission",
        &[
            "--starttls",
            "--user",
            "me@outlook.com",
            "--secret",
            "pw",
            "--no-send",
        ],
    )
    .await;
    assert_eq!(
        report["features_after"]
            .as_array()
            .map(|f| f.contains(&Value::from("auth"))),
        Some(true),
        "{report}"
    );
    assert_eq!(report["error"]["code"], 535, "{report}");
    assert!(report["error"]["message"]
        .as_str()
        .expect("text")
        .starts_with("5.7.139 Authentication unsuccessful, basic authentication is disabled."));

    let s = start_tls(
        "gmail534",
        Some(Scenario::load("providers/gmail/app-password-534").expect("scenario")),
        AuthConfig::default(),
    )
    .await;
    let report = python(
        &s,
        "submission",
        &[
            "--starttls",
            "--user",
            "me@gmail.com",
            "--secret",
            "pw",
            "--mechanism",
            "PLAIN",
            "--no-send",
        ],
    )
    .await;
    assert_eq!(report["error"]["code"], 534, "{report}");
    assert!(report["error"]["message"]
        .as_str()
        .expect("text")
        .starts_with("5.7.9 Application-specific password required. For more information, go to\n5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor "));
}

// ---- a raw TLS client (tokio-rustls) for octet-exact checks ---------------------------

fn client_config(s: &TlsServer) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = s.server.ca_cert_pem().expect("ca");
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

async fn handshake(s: &TlsServer, tcp: TcpStream) -> tokio_rustls::client::TlsStream<TcpStream> {
    let connector = tokio_rustls::TlsConnector::from(client_config(s));
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    connector.connect(name, tcp).await.expect("TLS handshake")
}

async fn tls_client(s: &TlsServer, listener: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(s.server.addr(listener).expect("listener"))
        .await
        .expect("connect");
    let mut tls = handshake(s, tcp).await;
    let mut greeting = [0u8; 512];
    let n = tls.read(&mut greeting).await.expect("greeting");
    assert!(greeting[..n].starts_with(b"220 "));
    tls
}

/// Writes `input`, then reads until the server closes.
async fn exchange(stream: &mut tokio_rustls::client::TlsStream<TcpStream>, input: &[u8]) -> String {
    stream.write_all(input).await.expect("write");
    let mut output = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut output))
        .await
        .expect("in time");
    String::from_utf8_lossy(&output).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_users_and_the_sender_must_be_the_user() {
    let yaml = r#"
extends: providers/qq/sender-mismatch-501
auth:
  users: [{ name: alice@qq.com, password: code1234 }]
"#;
    let s = start_tls("qqusers", Some(scenario(yaml)), AuthConfig::default()).await;
    // QQ-style: MAIL FROM must be the login.
    let login = ["--ssl", "--user", "alice@qq.com", "--secret", "code1234"];
    let report = python(&s, "smtps", &login).await;
    assert_eq!(report["error"]["code"], 501, "{report}");
    assert_eq!(
        report["error"]["message"],
        "Mail from address must be same as authorization user."
    );
    let wrong = [
        "--ssl",
        "--user",
        "alice@qq.com",
        "--secret",
        "wrong",
        "--mechanism",
        "PLAIN",
    ];
    let report = python(&s, "smtps", &wrong).await;
    assert_eq!(report["error"]["code"], 535, "{report}");
    // smtplib.login() then tries LOGIN with an initial response, taken as the user name by
    // default (as Dovecot, Cyrus SASL, Exchange and Gmail do): the password is refused too.
    let report = python(&s, "smtps", &wrong[..5]).await;
    assert_eq!(report["error"]["code"], 535, "{report}");
    let mut stream = tls_client(&s, "smtps").await;
    let output = exchange(
        &mut stream,
        b"EHLO x\r\nAUTH PLAIN AGFsaWNlQHFxLmNvbQBjb2RlMTIzNA==\r\nMAIL FROM:<alice@qq.com>\r\nQUIT\r\n",
    )
    .await;
    assert!(
        output.contains("235 2.7.0 Authentication successful\r\n250 OK\r\n"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_login_with_an_initial_response_can_be_accepted() {
    let yaml = "auth: { login-initial-response: accept, users: [{ name: bob, password: pw }] }\n";
    let s = start_tls("loginir", Some(scenario(yaml)), AuthConfig::default()).await;
    let report = smtps_auth_only(&s, "bob", "pw", "LOGIN-IR").await;
    assert_eq!(report["auth"], 235, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qq_plaintext_auth_seen_by_smtplib() {
    let s = start_tls(
        "qq530",
        Some(Scenario::load("providers/qq/plaintext-auth-530-close").expect("scenario")),
        AuthConfig::default(),
    )
    .await;
    let report = python(
        &s,
        "submission",
        &["--user", "me@qq.com", "--secret", "pw", "--no-send"],
    )
    .await;
    // smtplib gets the 530 to AUTH PLAIN, tries LOGIN, and finds the connection closed: the
    // error a user sees is the EOF, not QQ's text.
    assert_eq!(
        report["error"]["type"], "SMTPServerDisconnected",
        "{report}"
    );
    let sessions = s.server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(
        transcript.contains("S: 530 Login fail. A secure connection is requiered(such as ssl)."),
        "{transcript}"
    );
    assert!(transcript.ends_with("** closed (Policy)\n"), "{transcript}");
}
