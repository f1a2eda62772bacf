//! The TLS foundation against real clients: a tiny tokio-rustls server (accept, handshake,
//! `hello`, close) built from a `TlsSetup`, checked with `openssl s_client` and Python's
//! `ssl`. A missing client fails the test (ci/setup.sh installs them).
//!
//! Every test keeps its CA in a temporary directory of its own, given through the API (never
//! through the environment, so the tests can run in parallel and never touch the user's CA).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_server::tls::{
    CertificateChoice, LocalCa, TlsContext, TlsError, TlsInfo, TlsSetup, TlsVersions,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Fixtures

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "fake-smtp-tls-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The CA directory inside this one (made by the code under test).
    fn ca_dir(&self) -> PathBuf {
        self.0.join("data")
    }

    fn ca_pem(&self) -> String {
        self.ca_dir().join("ca.pem").display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TLS server as the runtime will run one: each connection is accepted with the context's
/// acceptor, gets `hello`, and is closed. Each handshake's outcome is reported.
struct HelloServer {
    address: SocketAddr,
    handshakes: mpsc::UnboundedReceiver<Result<TlsInfo, String>>,
    task: tokio::task::JoinHandle<()>,
}

impl HelloServer {
    async fn start(context: &TlsContext) -> HelloServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("local address");
        let acceptor = context.acceptor();
        let (sender, handshakes) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    let outcome = match acceptor.accept(tcp).await {
                        Ok(mut tls) => {
                            let info = TlsInfo::from_connection(tls.get_ref().1);
                            let _ = tls.write_all(b"hello\r\n").await;
                            let _ = tls.shutdown().await;
                            info.ok_or_else(|| "no TLS info after the handshake".to_owned())
                        }
                        Err(error) => Err(error.to_string()),
                    };
                    let _ = sender.send(outcome);
                });
            }
        });
        HelloServer {
            address,
            handshakes,
            task,
        }
    }

    async fn build_and_start(setup: TlsSetup) -> (HelloServer, TlsContext) {
        let context = setup.build().expect("the TLS set-up builds");
        (HelloServer::start(&context).await, context)
    }

    fn port(&self) -> String {
        self.address.port().to_string()
    }

    fn connect(&self) -> String {
        self.address.to_string()
    }

    async fn next_handshake(&mut self) -> Result<TlsInfo, String> {
        tokio::time::timeout(WAIT, self.handshakes.recv())
            .await
            .expect("the server reports the handshake in time")
            .expect("the server is running")
    }
}

impl Drop for HelloServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------
// Clients

#[derive(Debug)]
struct ClientOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl ClientOutput {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    fn assert_success(&self) -> &ClientOutput {
        assert!(self.status.success(), "the client failed:\n{self}");
        self
    }

    /// The client failed, and said why in words containing `reason`.
    fn assert_failure_because(&self, reason: &str) {
        assert!(!self.status.success(), "the client succeeded:\n{self}");
        // OpenSSL 3 writes "self-signed", older versions "self signed".
        let said = self.all().to_lowercase().replace('-', " ");
        assert!(
            said.contains(&reason.to_lowercase().replace('-', " ")),
            "the client failed, but not saying {reason:?}:\n{self}"
        );
    }
}

impl std::fmt::Display for ClientOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs a client in a blocking thread (so the server, on this runtime, keeps serving), with
/// its output in files (no pipe to fill up) and a time limit.
async fn run_client(program: &'static str, args: Vec<String>, dir: &Path) -> ClientOutput {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || run_client_blocking(program, &args, &dir))
        .await
        .expect("the client thread")
}

fn run_client_blocking(program: &str, args: &[String], dir: &Path) -> ClientOutput {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let stdout_path = dir.join(format!("client-{n}.out"));
    let stderr_path = dir.join(format!("client-{n}.err"));
    let stdout = std::fs::File::create(&stdout_path).expect("create stdout file");
    let stderr = std::fs::File::create(&stderr_path).expect("create stderr file");
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot run {program} (is it installed? ci/setup.sh installs it): {error}")
        });
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{program} {args:?} did not finish within {CLIENT_TIMEOUT:?}; output so far:\n{}\n{}",
                std::fs::read_to_string(&stdout_path).unwrap_or_default(),
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    ClientOutput {
        status,
        stdout: std::fs::read_to_string(&stdout_path).expect("read stdout"),
        stderr: std::fs::read_to_string(&stderr_path).expect("read stderr"),
    }
}

/// `openssl s_client` trusting only `ca_file`, checking the host name `localhost` (which it
/// also sends as SNI), failing on any verification error. `-ign_eof`: read until the server
/// closes, so the `hello` line is in the output.
async fn s_client(server: &HelloServer, ca_file: &str, dir: &Path, extra: &[&str]) -> ClientOutput {
    let mut args: Vec<String> = [
        "s_client",
        "-connect",
        &server.connect(),
        "-CAfile",
        ca_file,
        "-verify_return_error",
        "-ign_eof",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if extra.is_empty() {
        args.extend(
            ["-verify_hostname", "localhost", "-servername", "localhost"].map(str::to_owned),
        );
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    run_client("openssl", args, dir).await
}

/// Python's `ssl` with a default context trusting only `ca_file`, checking `host_name`.
/// Prints `ok VERSION CIPHER DATA`, or `verify-failed: REASON` and exits with 3.
const PYTHON_CLIENT: &str = r#"
import socket, ssl, sys
host, port, ca_file, host_name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
context = ssl.create_default_context(cafile=ca_file)
try:
    with socket.create_connection((host, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host_name) as tls:
            data = b""
            while True:
                chunk = tls.recv(1024)
                if not chunk:
                    break
                data += chunk
            print("ok", tls.version(), tls.cipher()[0], repr(data))
except ssl.SSLCertVerificationError as error:
    print("verify-failed:", error.verify_message)
    sys.exit(3)
"#;

async fn python_client(
    server: &HelloServer,
    ca_file: &str,
    host_name: &str,
    dir: &Path,
) -> ClientOutput {
    let args = vec![
        "-c".to_owned(),
        PYTHON_CLIENT.to_owned(),
        server.address.ip().to_string(),
        server.port(),
        ca_file.to_owned(),
        host_name.to_owned(),
    ];
    run_client("python3", args, dir).await
}

fn setup_in(dir: &TempDir) -> TlsSetup {
    TlsSetup::new().ca_dir(dir.ca_dir())
}

// ---------------------------------------------------------------------------------------
// Good and bad certificates, two real clients

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_accepts_the_valid_certificate() {
    let dir = TempDir::new("openssl-valid");
    let (mut server, context) = HelloServer::build_and_start(setup_in(&dir)).await;
    assert!(context.ca().is_some_and(|ca| ca.was_created()));

    let output = s_client(&server, &dir.ca_pem(), dir.path(), &[]).await;
    output.assert_success();
    assert!(
        output.stdout.contains("Verify return code: 0 (ok)"),
        "{output}"
    );
    assert!(output.stdout.contains("hello"), "{output}");
    assert!(
        output.all().contains(fake_server::tls::ca::CA_NAME),
        "the chain names the local CA as issuer:\n{output}"
    );
    let info = server
        .next_handshake()
        .await
        .expect("the handshake succeeds");
    assert_eq!(info.version, "TLSv1.3");
    assert_eq!(info.sni.as_deref(), Some("localhost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_accepts_the_loopback_address_and_extra_names() {
    let dir = TempDir::new("openssl-names");
    let setup = setup_in(&dir)
        .extra_name("mail.example.test")
        .extra_name("192.0.2.25");
    let (mut server, _context) = HelloServer::build_and_start(setup).await;
    let ca = dir.ca_pem();
    for extra in [
        &["-verify_ip", "127.0.0.1", "-noservername"][..],
        &[
            "-verify_hostname",
            "mail.example.test",
            "-servername",
            "mail.example.test",
        ],
        &["-verify_ip", "192.0.2.25", "-noservername"],
    ] {
        let output = s_client(&server, &ca, dir.path(), extra).await;
        output.assert_success();
        assert!(output.stdout.contains("hello"), "{extra:?}:\n{output}");
        server
            .next_handshake()
            .await
            .expect("the handshake succeeds");
    }
    // A name the certificate does not carry still fails: the names are not a wildcard.
    let output = s_client(
        &server,
        &ca,
        dir.path(),
        &["-verify_hostname", "other.example.test"],
    )
    .await;
    output.assert_failure_because("hostname mismatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_refuses_the_expired_certificate() {
    let dir = TempDir::new("openssl-expired");
    let setup = setup_in(&dir).certificate(CertificateChoice::Expired);
    let (mut server, _context) = HelloServer::build_and_start(setup).await;
    let output = s_client(&server, &dir.ca_pem(), dir.path(), &[]).await;
    output.assert_failure_because("certificate has expired");
    assert!(!output.stdout.contains("hello"), "{output}");
    let error = server
        .next_handshake()
        .await
        .expect_err("the client aborts");
    assert!(error.contains("CertificateExpired"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_refuses_the_wrong_host_certificate() {
    let dir = TempDir::new("openssl-wrong-host");
    let setup = setup_in(&dir).certificate(CertificateChoice::WrongHost);
    let (mut server, _context) = HelloServer::build_and_start(setup).await;
    let output = s_client(&server, &dir.ca_pem(), dir.path(), &[]).await;
    output.assert_failure_because("hostname mismatch");
    assert!(!output.stdout.contains("hello"), "{output}");
    server
        .next_handshake()
        .await
        .expect_err("the client aborts");

    // It is a good certificate for its one name: only the name is wrong.
    let output = s_client(
        &server,
        &dir.ca_pem(),
        dir.path(),
        &["-verify_hostname", "wrong.host.invalid"],
    )
    .await;
    output.assert_success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_refuses_the_self_signed_certificate() {
    let dir = TempDir::new("openssl-self-signed");
    let setup = setup_in(&dir).certificate(CertificateChoice::SelfSigned);
    let (mut server, context) = HelloServer::build_and_start(setup).await;
    // The local CA exists (a test trusts it), it just did not sign this certificate.
    assert!(context.ca_cert_pem().is_some());
    let output = s_client(&server, &dir.ca_pem(), dir.path(), &[]).await;
    output.assert_failure_because("self-signed certificate");
    assert!(!output.stdout.contains("hello"), "{output}");
    server
        .next_handshake()
        .await
        .expect_err("the client aborts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_accepts_the_valid_certificate() {
    let dir = TempDir::new("python-valid");
    let (mut server, _context) = HelloServer::build_and_start(setup_in(&dir)).await;
    for host_name in ["localhost", "127.0.0.1"] {
        let output = python_client(&server, &dir.ca_pem(), host_name, dir.path()).await;
        output.assert_success();
        assert!(
            output.stdout.starts_with("ok TLSv1.3 ") && output.stdout.contains(r"b'hello\r\n'"),
            "{host_name}:\n{output}"
        );
        let info = server
            .next_handshake()
            .await
            .expect("the handshake succeeds");
        // Python sends SNI for a name, never for an address (RFC 6066 forbids it).
        let expected_sni = (host_name == "localhost").then_some("localhost");
        assert_eq!(info.sni.as_deref(), expected_sni);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_refuses_the_bad_certificates() {
    let dir = TempDir::new("python-bad");
    let ca = Arc::new(LocalCa::load_or_create(&dir.ca_dir()).expect("the CA"));
    for (choice, reason) in [
        (CertificateChoice::Expired, "certificate has expired"),
        (CertificateChoice::WrongHost, "Hostname mismatch"),
        (CertificateChoice::SelfSigned, "self-signed certificate"),
    ] {
        let setup = TlsSetup::new()
            .ca(Arc::clone(&ca))
            .certificate(choice.clone());
        let (mut server, _context) = HelloServer::build_and_start(setup).await;
        let output = python_client(&server, &dir.ca_pem(), "localhost", dir.path()).await;
        assert_eq!(output.status.code(), Some(3), "{choice:?}:\n{output}");
        output.assert_failure_because(reason);
        server
            .next_handshake()
            .await
            .expect_err("the client aborts");
    }
}

// ---------------------------------------------------------------------------------------
// TLS versions and what the handshake reports

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls13_only_server_refuses_tls12() {
    let dir = TempDir::new("tls13-only");
    let setup = setup_in(&dir).versions(TlsVersions::Tls13Only);
    let (mut server, _context) = HelloServer::build_and_start(setup).await;

    let output = s_client(
        &server,
        &dir.ca_pem(),
        dir.path(),
        &[
            "-tls1_2",
            "-verify_hostname",
            "localhost",
            "-servername",
            "localhost",
        ],
    )
    .await;
    output.assert_failure_because("alert protocol version");
    let error = server.next_handshake().await.expect_err("refused");
    assert!(error.contains("peer is incompatible"), "{error}");

    // The same server speaks TLS 1.3.
    let output = s_client(
        &server,
        &dir.ca_pem(),
        dir.path(),
        &[
            "-tls1_3",
            "-verify_hostname",
            "localhost",
            "-servername",
            "localhost",
        ],
    )
    .await;
    output.assert_success();
    let info = server.next_handshake().await.expect("TLS 1.3 works");
    assert_eq!(info.version, "TLSv1.3");
    assert!(
        info.cipher_suite.starts_with("TLS_AES_") || info.cipher_suite.starts_with("TLS_CHACHA20_"),
        "{info:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls12_only_server_negotiates_tls12_and_reports_the_sni() {
    let dir = TempDir::new("tls12-only");
    let setup = setup_in(&dir)
        .versions(TlsVersions::Tls12Only)
        .extra_name("mail.example.test");
    let (mut server, _context) = HelloServer::build_and_start(setup).await;

    // The client offers both versions; the server picks 1.2.
    let output = s_client(
        &server,
        &dir.ca_pem(),
        dir.path(),
        &[
            "-verify_hostname",
            "mail.example.test",
            "-servername",
            "mail.example.test",
        ],
    )
    .await;
    output.assert_success();
    assert!(output.stdout.contains("Protocol  : TLSv1.2"), "{output}");
    let info = server.next_handshake().await.expect("TLS 1.2 works");
    assert_eq!(info.version, "TLSv1.2");
    assert_eq!(info.sni.as_deref(), Some("mail.example.test"));
    assert!(
        info.cipher_suite.starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "an ECDSA certificate means an ECDHE_ECDSA suite: {info:?}"
    );
    assert!(output.stdout.contains("Cipher is ECDHE-ECDSA-"), "{output}");

    // And Python agrees on the version.
    let output = python_client(&server, &dir.ca_pem(), "localhost", dir.path()).await;
    output.assert_success();
    assert!(
        output.stdout.starts_with("ok TLSv1.2 ECDHE-ECDSA-"),
        "{output}"
    );
    let info = server.next_handshake().await.expect("TLS 1.2 works");
    assert_eq!(info.sni.as_deref(), Some("localhost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sni_is_reported_as_none() {
    let dir = TempDir::new("no-sni");
    let (mut server, _context) = HelloServer::build_and_start(setup_in(&dir)).await;
    let output = s_client(
        &server,
        &dir.ca_pem(),
        dir.path(),
        &["-noservername", "-verify_hostname", "localhost"],
    )
    .await;
    output.assert_success();
    let info = server
        .next_handshake()
        .await
        .expect("the handshake succeeds");
    assert_eq!(info.sni, None);
    let event = smtp_protocol::transcript::Event::from(info);
    assert!(
        event
            .to_string()
            .starts_with("** TLS established: TLSv1.3, TLS_"),
        "{event}"
    );
}

// ---------------------------------------------------------------------------------------
// The CA across runs, and damaged CA files

#[test]
fn the_ca_persists_across_loads() {
    let dir = TempDir::new("ca-persists");
    let first = LocalCa::load_or_create(&dir.ca_dir()).expect("made");
    assert!(first.was_created());
    let second = LocalCa::load_or_create(&dir.ca_dir()).expect("loaded");
    assert!(!second.was_created());
    assert_eq!(first.cert_pem(), second.cert_pem());
    assert_eq!(first.cert_der(), second.cert_der());
    assert_eq!(
        std::fs::read_to_string(dir.ca_dir().join("ca.pem")).expect("ca.pem"),
        first.cert_pem()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(second.key_path())
            .expect("ca-key.pem")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is private: {mode:o}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_ca_signs_certificates_clients_trust() {
    // The issuer is rebuilt from the stored key: a client that trusted the first run's
    // ca.pem must accept the second run's certificate.
    let dir = TempDir::new("ca-reloaded");
    let first = setup_in(&dir).build().expect("first start");
    let trusted = dir.join("trusted-ca.pem");
    first
        .ca()
        .expect("a local CA")
        .write_cert_pem(&trusted)
        .expect("--ca-out");
    drop(first);

    let (mut server, context) = HelloServer::build_and_start(setup_in(&dir)).await;
    assert!(context.ca().is_some_and(|ca| !ca.was_created()));
    let output = s_client(&server, &trusted.display().to_string(), dir.path(), &[]).await;
    output.assert_success();
    server.next_handshake().await.expect("trusted across runs");
}

#[test]
fn starts_racing_on_an_empty_directory_share_one_ca() {
    let dir = TempDir::new("ca-race");
    let ca_dir = dir.ca_dir();
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let ca_dir = ca_dir.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                LocalCa::load_or_create(&ca_dir).expect("every start gets the CA")
            })
        })
        .collect();
    let cas: Vec<LocalCa> = handles
        .into_iter()
        .map(|handle| handle.join().expect("thread"))
        .collect();
    assert_eq!(cas.iter().filter(|ca| ca.was_created()).count(), 1);
    assert!(cas.iter().all(|ca| ca.cert_pem() == cas[0].cert_pem()));
}

/// Replaces `ca.pem` with `content` and returns the error the next load gives.
fn load_with_damaged_cert(dir: &TempDir, content: &[u8]) -> TlsError {
    LocalCa::load_or_create(&dir.ca_dir()).expect("made");
    std::fs::write(dir.ca_dir().join("ca.pem"), content).expect("damage ca.pem");
    LocalCa::load_or_create(&dir.ca_dir()).expect_err("a damaged CA is refused")
}

fn assert_names(error: &TlsError, path: &Path) {
    let text = error.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "the error names {}: {text}",
        path.display()
    );
}

#[test]
fn a_corrupted_ca_certificate_is_a_typed_error_naming_the_file() {
    type IsExpected = fn(&TlsError) -> bool;
    let cases: [(&str, &[u8], IsExpected); 3] = [
        ("not PEM at all", b"this is not a certificate\n", |error| {
            matches!(error, TlsError::NoCertificate { .. })
        }),
        (
            "a truncated PEM section",
            b"-----BEGIN CERTIFICATE-----\nMIIB\n",
            |error| matches!(error, TlsError::Pem { .. }),
        ),
        (
            "PEM around bytes that are no certificate",
            b"-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
            |error| matches!(error, TlsError::BadCertificate { .. }),
        ),
    ];
    for (what, content, expected) in cases {
        let dir = TempDir::new("ca-corrupt");
        let error = load_with_damaged_cert(&dir, content);
        assert!(expected(&error), "{what}: {error:?}");
        assert_names(&error, &dir.ca_dir().join("ca.pem"));
    }
}

#[test]
fn another_cas_certificate_is_a_mismatch_naming_both_files() {
    let dir = TempDir::new("ca-mismatch");
    let other = TempDir::new("ca-mismatch-other");
    let other_ca = LocalCa::load_or_create(&other.ca_dir()).expect("another CA");
    let error = load_with_damaged_cert(&dir, other_ca.cert_pem().as_bytes());
    assert!(matches!(error, TlsError::CaMismatch { .. }), "{error:?}");
    assert_names(&error, &dir.ca_dir().join("ca.pem"));
    assert_names(&error, &dir.ca_dir().join("ca-key.pem"));
}

#[test]
fn a_ca_with_a_file_missing_is_incomplete() {
    let dir = TempDir::new("ca-incomplete");
    LocalCa::load_or_create(&dir.ca_dir()).expect("made");
    let key = dir.ca_dir().join("ca-key.pem");
    std::fs::remove_file(&key).expect("remove the key");
    let error = LocalCa::load_or_create(&dir.ca_dir()).expect_err("no key");
    assert!(
        matches!(error, TlsError::CaIncomplete { ref missing, .. } if *missing == key),
        "{error:?}"
    );
    assert_names(&error, &key);
}

#[test]
fn ca_out_writes_the_ca_certificate() {
    let dir = TempDir::new("ca-out");
    let context = setup_in(&dir).build().expect("built");
    let out = dir.join("exported.pem");
    let ca = context.ca().expect("a local CA");
    ca.write_cert_pem(&out).expect("written");
    assert_eq!(
        std::fs::read_to_string(&out).expect("read back"),
        context.ca_cert_pem().expect("the PEM")
    );
    let error = ca
        .write_cert_pem(&dir.join("no/such/dir/ca.pem"))
        .expect_err("no such directory");
    assert!(matches!(error, TlsError::Io { .. }), "{error:?}");
    assert_names(&error, &dir.join("no/such/dir/ca.pem"));
}

// ---------------------------------------------------------------------------------------
// Certificates from the user's PEM files

/// Writes a certificate for localhost signed by a CA of the test's own (not the local CA),
/// as PEM: the chain file holds the leaf and then that CA. Returns (chain, key, ca) paths.
fn write_user_certificate(dir: &TempDir) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "user test CA");
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");

    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf");

    let chain = dir.join("user-chain.pem");
    let key = dir.join("user-key.pem");
    let ca_file = dir.join("user-ca.pem");
    std::fs::write(&chain, format!("{}{}", leaf.pem(), ca.pem())).expect("chain");
    std::fs::write(&key, leaf_key.serialize_pem()).expect("key");
    std::fs::write(&ca_file, ca.pem()).expect("ca");
    (chain, key, ca_file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_certificate_from_pem_files_is_served() {
    let dir = TempDir::new("user-pem");
    let (chain, key, ca_file) = write_user_certificate(&dir);
    let setup = setup_in(&dir).certificate(CertificateChoice::Files { chain, key });
    let (mut server, context) = HelloServer::build_and_start(setup).await;
    assert!(
        context.ca().is_none(),
        "no local CA for the user's certificate"
    );
    assert!(!dir.ca_dir().exists(), "the local CA was not made");

    let ca_file = ca_file.display().to_string();
    let output = s_client(&server, &ca_file, dir.path(), &[]).await;
    output.assert_success();
    assert!(output.stdout.contains("hello"), "{output}");
    assert!(
        output.stdout.contains("user test CA"),
        "the chain (leaf and CA) is sent:\n{output}"
    );
    server.next_handshake().await.expect("handshake");

    let output = python_client(&server, &ca_file, "localhost", dir.path()).await;
    output.assert_success();
    server.next_handshake().await.expect("handshake");
}

#[test]
fn a_key_file_without_a_key_is_a_clear_error() {
    let dir = TempDir::new("user-no-key");
    let (chain, _key, _ca) = write_user_certificate(&dir);
    // The chain file given as the key file: certificates, but no key.
    let error = TlsSetup::new()
        .certificate(CertificateChoice::Files {
            chain: chain.clone(),
            key: chain.clone(),
        })
        .build()
        .expect_err("no key");
    assert!(
        matches!(error, TlsError::NoPrivateKey { ref path } if *path == chain),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("holds no private key"),
        "{error}"
    );
    assert_names(&error, &chain);
}

#[test]
fn a_certificate_file_without_a_certificate_is_a_clear_error() {
    let dir = TempDir::new("user-no-cert");
    let (_chain, key, _ca) = write_user_certificate(&dir);
    let error = TlsSetup::new()
        .certificate(CertificateChoice::Files {
            chain: key.clone(),
            key: key.clone(),
        })
        .build()
        .expect_err("no certificate");
    assert!(
        matches!(error, TlsError::NoCertificate { ref path } if *path == key),
        "{error:?}"
    );
    assert_names(&error, &key);
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let dir = TempDir::new("user-mismatch");
    let (chain, _key, _ca) = write_user_certificate(&dir);
    let other_key = dir.join("other-key.pem");
    std::fs::write(
        &other_key,
        rcgen::KeyPair::generate().expect("key").serialize_pem(),
    )
    .expect("write");
    let error = TlsSetup::new()
        .certificate(CertificateChoice::Files {
            chain: chain.clone(),
            key: other_key.clone(),
        })
        .build()
        .expect_err("mismatch");
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error:?}");
    assert_names(&error, &chain);
    assert_names(&error, &other_key);
}

#[test]
fn a_missing_file_is_named() {
    let dir = TempDir::new("user-missing");
    let missing = dir.join("absent.pem");
    let error = TlsSetup::new()
        .certificate(CertificateChoice::Files {
            chain: missing.clone(),
            key: missing.clone(),
        })
        .build()
        .expect_err("missing");
    assert!(matches!(error, TlsError::Io { .. }), "{error:?}");
    assert_names(&error, &missing);
}
