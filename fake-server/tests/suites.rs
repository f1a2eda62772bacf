//! The built-in suites (`fake-smtp run --suite NAME`): every scenario loads, and every one
//! provokes what its comment says, shown with real clients over real sockets. Each test plays
//! one scenario to Python's smtplib (driven by the script below; a raw socket where smtplib
//! never gets as far as the provocation), then looks for the provocation in the server's
//! transcript and checks that the client checks the scenario names were judged (not
//! `not-applicable`).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use fake_server::scenario::{builtin, suites};
use fake_server::tls::TlsSetup;
use fake_server::{Scenario, Server, SessionRecord};
use serde_json::Value;
use smtp_conformance::Status;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The smtplib client: one JSON object on stdout with one entry per attempt (a new session
/// each). Arguments: HOST PORT, then options:
///   --tls none|starttls|ssl   --cafile FILE | --insecure (no certificate check at all)
///   --user U --secret S [--mechanism M]   (without a mechanism, smtplib's login() chooses;
///                                          XOAUTH2 and OAUTHBEARER are formatted here)
///   --to A[,B...]   --attempts N --pause SECONDS (try again while an attempt fails)
///   --no-send
const CLIENT: &str = r#"
import argparse, json, smtplib, ssl, sys, time
from email.utils import formatdate, make_msgid

p = argparse.ArgumentParser()
p.add_argument("host")
p.add_argument("port", type=int)
p.add_argument("--tls", default="none")
p.add_argument("--cafile")
p.add_argument("--insecure", action="store_true")
p.add_argument("--user")
p.add_argument("--secret")
p.add_argument("--mechanism")
p.add_argument("--to", default="bob@example.org")
p.add_argument("--attempts", type=int, default=1)
p.add_argument("--pause", type=float, default=0)
p.add_argument("--no-send", action="store_true")
p.add_argument("--timeout", type=float, default=20)
a = p.parse_args()
# Given, so that neither smtplib nor make_msgid asks the system's DNS for this host's name.
HELLO = "client.example.com"

def context():
    if a.insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=a.cafile)

def error(e):
    out = {"type": type(e).__name__, "message": str(e)}
    if isinstance(e, smtplib.SMTPResponseException):
        out["code"] = e.smtp_code
        out["message"] = e.smtp_error.decode("latin-1") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        out["recipients"] = {k: v[0] for k, v in e.recipients.items()}
    return out

def bearer(smtp, first, after_error):
    state = {"sent": False}
    def answer(challenge=None):
        if state["sent"]:
            return after_error
        state["sent"] = True
        return first
    return answer

def authenticate(smtp):
    mech = (a.mechanism or "").upper()
    if not mech:
        return smtp.login(a.user, a.secret)
    smtp.user, smtp.password = a.user, a.secret
    if mech == "PLAIN":
        return smtp.auth("PLAIN", smtp.auth_plain)
    if mech == "XOAUTH2":
        first = "user=%s\x01auth=Bearer %s\x01\x01" % (a.user, a.secret)
        return smtp.auth("XOAUTH2", bearer(smtp, first, ""))
    if mech == "OAUTHBEARER":
        first = "n,a=%s,\x01auth=Bearer %s\x01\x01" % (a.user, a.secret)
        return smtp.auth("OAUTHBEARER", bearer(smtp, first, "\x01"))
    raise SystemExit("unknown mechanism " + mech)

def attempt():
    result = {}
    try:
        if a.tls == "ssl":
            smtp = smtplib.SMTP_SSL(a.host, a.port, local_hostname=HELLO, context=context(), timeout=a.timeout)
        else:
            smtp = smtplib.SMTP(a.host, a.port, local_hostname=HELLO, timeout=a.timeout)
        with smtp:
            smtp.ehlo_or_helo_if_needed()
            if a.tls == "starttls":
                smtp.starttls(context=context())
                smtp.ehlo()
            if a.user:
                result["auth"] = authenticate(smtp)[0]
            if not a.no_send:
                to = a.to.split(",")
                body = ("From: alice@example.com\r\nTo: %s\r\nDate: %s\r\nMessage-ID: %s\r\n"
                        "Subject: suite test\r\n\r\nHello.\r\n") % (", ".join(to), formatdate(), make_msgid(domain=HELLO))
                refused = smtp.sendmail("alice@example.com", to, body)
                result["refused"] = {k: v[0] for k, v in refused.items()}
                result["sent"] = True
        result["ok"] = True
    except Exception as e:
        result["ok"] = False
        result["error"] = error(e)
    return result

attempts = []
for i in range(a.attempts):
    if i:
        time.sleep(a.pause)
    attempts.append(attempt())
    if attempts[-1]["ok"]:
        break
print(json.dumps({"attempts": attempts, "ok": attempts[-1]["ok"]}))
"#;

/// Runs the smtplib client against `port` with `options`; returns its JSON report.
async fn smtplib(port: u16, options: &[&str]) -> Value {
    let mut args = vec![
        "-c".to_owned(),
        CLIENT.to_owned(),
        "127.0.0.1".to_owned(),
        port.to_string(),
    ];
    args.extend(options.iter().map(|o| (*o).to_owned()));
    let output = run_client_async("python3", args, None).await;
    let stdout = assert_success(&output);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A built-in suite scenario by name (the test fails if it does not load).
fn scenario(name: &str) -> Scenario {
    Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A server with one plain SMTP listener playing `name`.
async fn plain(name: &str) -> Server {
    start_with(Server::builder().scenario(scenario(name))).await
}

/// A server with all three listeners (STARTTLS on submission, implicit TLS on smtps)
/// playing `name`, its CA in a directory of the test's own.
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
    async fn start(name: &str) -> TlsServer {
        let label = name.replace('/', "-");
        let dir = std::env::temp_dir().join(format!("fake-smtp-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let server = Server::builder()
            .smtp(loopback())
            .submission(loopback())
            .smtps(loopback())
            .tls(TlsSetup::new().ca_dir(dir.join("ca")))
            .scenario(scenario(name))
            .start()
            .await
            .expect("a server with TLS starts");
        let ca_file = dir.join("trust.pem");
        std::fs::write(&ca_file, server.ca_cert_pem().expect("a local CA")).expect("write CA");
        TlsServer {
            server,
            ca_file,
            dir,
        }
    }

    fn port(&self, listener: &str) -> u16 {
        self.server.addr(listener).expect("listener").port()
    }

    /// smtplib over STARTTLS on the submission port, trusting the run's CA.
    async fn submit(&self, extra: &[&str]) -> Value {
        let ca = self.ca_file.display().to_string();
        let mut options = vec!["--tls", "starttls", "--cafile", &ca];
        options.extend_from_slice(extra);
        smtplib(self.port("submission"), &options).await
    }
}

/// The finished sessions, in the order they started.
async fn sessions(server: &Server, count: usize) -> Vec<Arc<SessionRecord>> {
    let mut sessions = server.wait_for_sessions(count, WAIT).await;
    assert!(
        sessions.len() >= count,
        "{} sessions of {count} ended",
        sessions.len()
    );
    sessions.sort_by_key(|s| s.id);
    sessions
}

/// The only session.
async fn session(server: &Server) -> Arc<SessionRecord> {
    Arc::clone(&sessions(server, 1).await[0])
}

fn transcript(record: &SessionRecord) -> String {
    record.transcript.render(false)
}

/// Asserts the transcript holds each of `needles`. (The marked transcript goes to the
/// test's output, shown when a test fails or with `--nocapture`.)
fn assert_provoked(record: &SessionRecord, needles: &[&str]) {
    eprintln!("{}", record.marked_transcript());
    let text = transcript(record);
    for needle in needles {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
}

/// Asserts that check `id` judged the session (pass, warn or fail, not `not-applicable`);
/// returns its status.
fn assert_judged(record: &SessionRecord, id: &str) -> Status {
    let result = record
        .checks
        .get(id)
        .unwrap_or_else(|| panic!("{id} was not run"));
    assert_ne!(
        result.status,
        Status::NotApplicable,
        "{id} was not judged ({:?}):\n{}",
        result.why,
        record.marked_transcript()
    );
    result.status
}

fn assert_status(record: &SessionRecord, id: &str, status: Status) {
    assert_eq!(
        record.checks.status(id),
        Some(status),
        "{id}:\n{}",
        record.marked_transcript()
    );
}

/// What the client reported for its last attempt.
fn last_attempt(report: &Value) -> &Value {
    report["attempts"]
        .as_array()
        .and_then(|a| a.last())
        .unwrap_or_else(|| panic!("no attempt in {report}"))
}

fn assert_client_failed(report: &Value) {
    assert_eq!(
        report["ok"], false,
        "the client should have failed: {report}"
    );
}

fn assert_client_sent(report: &Value) {
    assert_eq!(report["ok"], true, "the client should have sent: {report}");
}

/// The number of messages the scenario's `expect:` block asks for.
fn expected_messages(name: &str) -> Option<u64> {
    scenario(name).expect.messages
}

/// Waits until the server holds `count` messages (and asserts that it holds no more).
async fn assert_messages(server: &Server, count: usize) {
    if count > 0 {
        server
            .wait_for_messages(count as u64, WAIT)
            .await
            .expect("the messages arrive");
    }
    assert_eq!(server.messages().len(), count);
}

/// Opens a raw session: connects and reads the greeting.
async fn raw_session(server: &Server) -> TcpStream {
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut stream, "220").await;
    stream
}

async fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.expect("write");
}

// ---------------------------------------------------------------------------------------
// Every scenario

/// The scenarios that have a test below: a new scenario needs one.
const TESTED: &[&str] = &[
    "suites/basic/greylisting",
    "suites/basic/helo-enhanced-codes",
    "suites/basic/misleading-reply-text",
    "suites/basic/multiline-replies",
    "suites/basic/rcpt-251",
    "suites/basic/rcpt-252",
    "suites/basic/replies-in-pieces",
    "suites/basic/rfc-default",
    "suites/basic/second-recipient-refused",
    "suites/resilience/disconnect-after-dot",
    "suites/resilience/disconnect-mid-data",
    "suites/resilience/eod-451",
    "suites/resilience/greeting-421",
    "suites/resilience/greeting-554",
    "suites/resilience/mail-421",
    "suites/resilience/pipelined-rejections",
    "suites/resilience/size-refused-at-mail",
    "suites/resilience/slow-greeting",
    "suites/resilience/tarpit",
    "suites/resilience/too-many-recipients",
    "suites/submission/auth-454-temporary",
    "suites/submission/auth-534-mechanism-too-weak",
    "suites/submission/auth-535-then-235",
    "suites/submission/auth-538-encryption-required",
    "suites/submission/certificate-expired",
    "suites/submission/certificate-wrong-host",
    "suites/submission/keywords-lower-case",
    "suites/submission/oauth-error-challenge",
    "suites/submission/starttls-454",
    "suites/submission/starttls-stripped",
];

/// The check IDs a text names (`C-...` words).
fn check_ids(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("C-") && w.len() > 4)
        .map(|w| w.trim_end_matches('-').to_owned())
        .collect()
}

#[test]
fn every_suite_scenario_loads_and_says_what_it_provokes() {
    let all = suites::all();
    let names: Vec<&str> = all.iter().map(|s| s.name).collect();
    assert_eq!(names, ["basic", "submission", "resilience"]);
    let mut listed: Vec<&str> = all.iter().flat_map(|s| s.scenarios.clone()).collect();
    listed.sort_unstable();
    let mut under_suites: Vec<&str> = builtin::BUILTIN
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| name.starts_with("suites/"))
        .collect();
    under_suites.sort_unstable();
    assert_eq!(
        listed, under_suites,
        "every suites/ scenario is in one suite"
    );
    assert_eq!(listed, TESTED, "every suite scenario has a test here");
    let known: BTreeSet<&str> = smtp_conformance::catalogue::CATALOGUE
        .iter()
        .map(|c| c.id)
        .collect();
    for suite in &all {
        assert_eq!(suites::get(suite.name).as_ref(), Some(suite));
        for &name in &suite.scenarios {
            let loaded = scenario(name);
            assert_eq!(loaded.name, name);
            assert!(
                loaded.description.as_deref().is_some_and(|d| !d.is_empty()),
                "{name} has no description"
            );
            let (_, yaml) = builtin::get(name).expect("built in");
            let comment: String = yaml
                .lines()
                .take_while(|l| l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n");
            for part in ["Source:", "Exposes:"] {
                assert!(comment.contains(part), "{name}: no {part:?} in its comment");
            }
            assert!(
                comment.contains("RFC "),
                "{name}: no RFC named as its source"
            );
            let named = check_ids(&comment);
            assert!(!named.is_empty(), "{name}: its comment names no check");
            for id in named
                .iter()
                .map(String::as_str)
                .chain(loaded.expect.pass.iter().map(String::as_str))
            {
                assert!(known.contains(id), "{name} names {id}, which is no check");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// basic

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_rfc_default() {
    let name = "suites/basic/rfc-default";
    let server = plain(name).await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_sent(&report);
    let record = session(&server).await;
    assert_provoked(&record, &["C: QUIT", "S: 221 "]);
    for id in [
        "C-5321-EHLO-BEFORE-MAIL",
        "C-5321-QUIT-LAST",
        "C-5321-LINE-CRLF",
    ] {
        assert_status(&record, id, Status::Pass);
    }
    assert_messages(&server, 1).await;
    assert_eq!(expected_messages(name), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_multiline_replies() {
    let name = "suites/basic/multiline-replies";
    let server = plain(name).await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_sent(&report);
    let record = session(&server).await;
    assert_provoked(
        &record,
        &[
            "this first line of the EHLO reply is longer than most",
            "S: 250-2.1.0 Sender <alice@example.com> accepted.\nS: 250-2.1.0 This reply has three lines;\nS: 250 2.1.0 only this last one ends it.",
            "S: 250-2.1.5 Recipient accepted.\nS: 250\n",
            "S: 354-Go ahead with the message.\nS: 354 End it with <CRLF>.<CRLF>",
            "S: 250-2.0.0 Message accepted for delivery.\nS: 250 2.0.0 OK queued as ",
        ],
    );
    assert_status(&record, "C-5321-MULTILINE-REPLY", Status::Pass);
    assert_judged(&record, "C-5321-CODE-NOT-TEXT");
    assert_messages(&server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_rcpt_251() {
    let server = plain("suites/basic/rcpt-251").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_sent(&report);
    let record = session(&server).await;
    assert_provoked(
        &record,
        &["S: 251 2.1.5 User not local; will forward to <postmaster@"],
    );
    assert_status(&record, "C-5321-251-OK", Status::Pass);
    assert_messages(&server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_rcpt_252() {
    let server = plain("suites/basic/rcpt-252").await;
    // smtplib takes only 250 and 251 as a success for RCPT: what the check is for.
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    let record = session(&server).await;
    assert_provoked(
        &record,
        &["S: 252 2.1.5 Recipient accepted, but cannot be verified now"],
    );
    let status = assert_judged(&record, "C-5321-CODE-FIRST-DIGIT");
    eprintln!("smtplib and 252 to RCPT: {status:?}, {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_helo_enhanced_codes() {
    let server = plain("suites/basic/helo-enhanced-codes").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_sent(&report);
    let record = session(&server).await;
    assert_provoked(
        &record,
        &[
            "S: 502 Command not implemented\nC: helo ",
            "S: 250 2.1.0 Sender OK",
            "S: 250 2.1.5 Recipient OK",
        ],
    );
    assert_status(&record, "C-5321-HELO-FALLBACK", Status::Pass);
    assert_status(&record, "C-2034-TOLERATE-UNREQUESTED", Status::Pass);
    assert_messages(&server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_greylisting_needs_a_retry_in_a_later_session() {
    let name = "suites/basic/greylisting";
    let server = plain(name).await;
    // A pause of more than the scenario's second, then a new session.
    let report = smtplib(
        server.smtp_addr().port(),
        &["--attempts", "3", "--pause", "1.3"],
    )
    .await;
    assert_client_sent(&report);
    let first = &report["attempts"][0];
    assert_eq!(first["error"]["type"], "SMTPRecipientsRefused", "{report}");
    let all = sessions(&server, 2).await;
    assert_provoked(
        &all[0],
        &["S: 451 4.7.1 Greylisted, please try again later"],
    );
    assert!(
        !transcript(&all[1]).contains("Greylisted"),
        "{}",
        transcript(&all[1])
    );
    assert_messages(&server, 1).await;
    assert_eq!(expected_messages(name), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_second_recipient_refused() {
    let server = plain("suites/basic/second-recipient-refused").await;
    let report = smtplib(
        server.smtp_addr().port(),
        &["--to", "bob@example.org,nobody@example.org"],
    )
    .await;
    assert_client_sent(&report);
    assert_eq!(
        last_attempt(&report)["refused"]["nobody@example.org"],
        550,
        "{report}"
    );
    let record = session(&server).await;
    assert_provoked(
        &record,
        &["C: rcpt TO:<nobody@example.org>\nS: 550 5.1.1 Recipient address rejected: user unknown"],
    );
    assert_status(&record, "C-5321-5YZ-NO-REPEAT", Status::Pass);
    assert_messages(&server, 1).await;
    assert_eq!(server.messages()[0].rcpt_to(), ["<bob@example.org>"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_misleading_reply_text() {
    let server = plain("suites/basic/misleading-reply-text").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_sent(&report);
    let record = session(&server).await;
    assert_provoked(
        &record,
        &[
            "S: 250 2.1.0 Sender checked: error-free",
            "S: 250 2.1.5 Recipient not rejected",
            "S: 354 No failure so far",
        ],
    );
    assert_status(&record, "C-5321-CODE-NOT-TEXT", Status::Pass);
    assert_messages(&server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_replies_in_pieces() {
    let server = plain("suites/basic/replies-in-pieces").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_sent(&report);
    let record = session(&server).await;
    assert_provoked(
        &record,
        &[
            "250-2.1.0 Sender OK, the rest of this reply follows",
            "250 2.1.0 End of the reply",
            "354-Go ahead",
            "250-2.0.0 Message received",
        ],
    );
    assert_status(&record, "C-5321-MULTILINE-REPLY", Status::Pass);
    assert_messages(&server, 1).await;

    // The pause is real: a client that answers the first piece of the MAIL reply sends its
    // RCPT before the last line, and the check says so (after HELO: no PIPELINING, which
    // would have allowed the RCPT early).
    let mut stream = raw_session(&server).await;
    send(&mut stream, b"HELO client.example.com\r\n").await;
    read_reply(&mut stream, "250").await;
    send(&mut stream, b"MAIL FROM:<a@example.com>\r\n").await;
    let mut first = String::new();
    while !first.contains("250-2.1.0") {
        let mut buffer = [0u8; 512];
        let n = tokio::time::timeout(
            WAIT,
            tokio::io::AsyncReadExt::read(&mut stream, &mut buffer),
        )
        .await
        .expect("the first piece")
        .expect("read");
        assert!(n > 0, "closed early: {first:?}");
        first.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    assert!(!first.contains("250 2.1.0"), "{first:?}");
    send(&mut stream, b"RCPT TO:<b@example.org>\r\n").await;
    read_reply(&mut stream, "250").await;
    send(&mut stream, b"QUIT\r\n").await;
    read_all(&mut stream).await;
    let early = Arc::clone(&sessions(&server, 2).await[1]);
    assert_status(&early, "C-5321-MULTILINE-REPLY", Status::Fail);
}

// ---------------------------------------------------------------------------------------
// submission

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_auth_535_then_235() {
    let s = TlsServer::start("suites/submission/auth-535-then-235").await;
    let report = s
        .submit(&["--user", "alice", "--secret", "pw", "--attempts", "2"])
        .await;
    assert_client_sent(&report);
    assert_eq!(report["attempts"][0]["error"]["code"], 535, "{report}");
    let all = sessions(&s.server, 2).await;
    assert_provoked(
        &all[0],
        &["S: 535 5.7.8 Authentication credentials invalid"],
    );
    assert_judged(&all[0], "C-4954-535-HANDLING");
    assert_provoked(&all[1], &["S: 235 "]);
    assert_messages(&s.server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_auth_534_mechanism_too_weak() {
    let s = TlsServer::start("suites/submission/auth-534-mechanism-too-weak").await;
    // smtplib's login() moves on to its next mechanism after a failure.
    let report = s.submit(&["--user", "alice", "--secret", "pw"]).await;
    assert_client_sent(&report);
    let record = session(&s.server).await;
    assert_provoked(
        &record,
        &[
            "S: 534 5.7.9 Authentication mechanism is too weak",
            "S: 235 ",
        ],
    );
    assert_status(&record, "C-4954-534-HANDLING", Status::Pass);
    assert_messages(&s.server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_auth_538_encryption_required() {
    let s = TlsServer::start("suites/submission/auth-538-encryption-required").await;
    // A careful client does STARTTLS first and never meets the 538.
    let report = s.submit(&["--user", "alice", "--secret", "pw"]).await;
    assert_client_sent(&report);
    // One that logs in over the cleartext connection gets it, for every mechanism it tries.
    let report = smtplib(
        s.port("submission"),
        &["--user", "alice", "--secret", "pw", "--mechanism", "PLAIN"],
    )
    .await;
    assert_client_failed(&report);
    let careless = Arc::clone(&sessions(&s.server, 2).await[1]);
    assert_provoked(
        &careless,
        &["S: 538 5.7.11 Encryption required for requested authentication mechanism"],
    );
    assert_judged(&careless, "C-4954-538-HANDLING");
    assert_messages(&s.server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_auth_454_temporary() {
    let s = TlsServer::start("suites/submission/auth-454-temporary").await;
    let report = s
        .submit(&["--user", "alice", "--secret", "pw", "--attempts", "2"])
        .await;
    assert_client_sent(&report);
    assert_eq!(report["attempts"][0]["error"]["code"], 454, "{report}");
    let all = sessions(&s.server, 2).await;
    assert_provoked(&all[0], &["S: 454 4.7.0 Temporary authentication failure"]);
    assert_provoked(&all[1], &["S: 235 "]);
    assert_messages(&s.server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_oauth_error_challenge() {
    let s = TlsServer::start("suites/submission/oauth-error-challenge").await;
    for mechanism in ["XOAUTH2", "OAUTHBEARER"] {
        let report = s
            .submit(&[
                "--user",
                "alice@example.com",
                "--secret",
                "ya29.expired",
                "--mechanism",
                mechanism,
            ])
            .await;
        assert_client_failed(&report);
        assert_eq!(last_attempt(&report)["error"]["code"], 535, "{report}");
    }
    let all = sessions(&s.server, 2).await;
    assert_provoked(&all[0], &["C: AUTH XOAUTH2 ", "S: 334 ey"]);
    assert_status(&all[0], "C-XOAUTH2-ERROR-EMPTY-RESPONSE", Status::Pass);
    assert_provoked(&all[1], &["C: AUTH OAUTHBEARER ", "S: 334 ey", "C: AQ=="]);
    assert_status(&all[1], "C-7628-ERROR-DUMMY-RESPONSE", Status::Pass);
    assert_messages(&s.server, 0).await;
    assert_eq!(
        expected_messages("suites/submission/oauth-error-challenge"),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_starttls_454() {
    let s = TlsServer::start("suites/submission/starttls-454").await;
    let report = s.submit(&["--user", "alice", "--secret", "pw"]).await;
    assert_client_failed(&report);
    let record = session(&s.server).await;
    assert_provoked(
        &record,
        &["C: STARTTLS\nS: 454 4.7.0 TLS not available due to temporary reason"],
    );
    assert_status(&record, "C-3207-454-DECISION", Status::Pass);
    // On the implicit-TLS port the scenario says it does not apply, and nothing is sent.
    let report = smtplib(
        s.port("smtps"),
        &["--tls", "ssl", "--cafile", &s.ca_file.display().to_string()],
    )
    .await;
    assert_client_failed(&report);
    assert_eq!(last_attempt(&report)["error"]["code"], 554, "{report}");
    assert_messages(&s.server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_starttls_stripped() {
    let s = TlsServer::start("suites/submission/starttls-stripped").await;
    // A client that requires TLS stops.
    let report = s.submit(&["--user", "alice", "--secret", "pw"]).await;
    assert_client_failed(&report);
    assert_eq!(
        last_attempt(&report)["error"]["type"],
        "SMTPNotSupportedError",
        "{report}"
    );
    let careful = session(&s.server).await;
    let text = transcript(&careful);
    assert!(!text.contains("STARTTLS\n"), "{text}");
    assert_provoked(&careful, &["AUTH PLAIN LOGIN"]);
    assert_messages(&s.server, 0).await;
    // One that carries on in the clear sends its password there: the checks see it, and the
    // scenario's expectations (no message) catch it.
    let report = smtplib(
        s.port("submission"),
        &["--user", "alice", "--secret", "pw", "--mechanism", "PLAIN"],
    )
    .await;
    assert_client_sent(&report);
    let careless = Arc::clone(&sessions(&s.server, 2).await[1]);
    assert_eq!(
        assert_judged(&careless, "C-4954-NO-PLAINTEXT-MECH-IN-CLEAR"),
        Status::Warn
    );
    assert_judged(&careless, "C-4616-NOT-IN-CLEAR");
    assert_messages(&s.server, 1).await;
    assert_eq!(
        expected_messages("suites/submission/starttls-stripped"),
        Some(0)
    );
}

/// A bad certificate: a client that validates stops at the handshake; one that does not gets
/// through it and is judged for what it sends next.
async fn bad_certificate(name: &str, verify_error: &str) {
    let s = TlsServer::start(name).await;
    let report = s.submit(&["--user", "alice", "--secret", "pw"]).await;
    assert_client_failed(&report);
    let error = &last_attempt(&report)["error"];
    assert_eq!(error["type"], "SSLCertVerificationError", "{report}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or("")
            .contains(verify_error),
        "{report}"
    );
    let refused = session(&s.server).await;
    assert_provoked(&refused, &["C: STARTTLS\nS: 220 "]);
    assert_messages(&s.server, 0).await;

    let report = smtplib(
        s.port("submission"),
        &[
            "--tls",
            "starttls",
            "--insecure",
            "--user",
            "alice",
            "--secret",
            "pw",
            "--mechanism",
            "PLAIN",
        ],
    )
    .await;
    assert_client_sent(&report);
    let careless = Arc::clone(&sessions(&s.server, 2).await[1]);
    assert_provoked(&careless, &["certificate presented: ", "C: AUTH PLAIN "]);
    for id in [
        "C-8314-CERT-VALIDATION",
        "C-4954-PLAIN-REQUIRES-VERIFIED-TLS",
    ] {
        assert_status(&careless, id, Status::Fail);
    }
    // A SHOULD: a warning.
    assert_status(&careless, "C-3207-QUIT-IF-INSUFFICIENT", Status::Warn);
    // The implicit-TLS port presents the same certificate.
    let report = smtplib(
        s.port("smtps"),
        &["--tls", "ssl", "--insecure", "--no-send"],
    )
    .await;
    assert_client_sent(&report);
    let implicit = Arc::clone(&sessions(&s.server, 3).await[2]);
    assert_provoked(&implicit, &["certificate presented: "]);
    assert_judged(&implicit, "C-8314-CERT-VALIDATION");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_certificate_expired() {
    bad_certificate("suites/submission/certificate-expired", "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_certificate_wrong_host() {
    bad_certificate("suites/submission/certificate-wrong-host", "mismatch").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_keywords_lower_case() {
    let s = TlsServer::start("suites/submission/keywords-lower-case").await;
    let report = s.submit(&["--user", "alice", "--secret", "pw"]).await;
    assert_client_sent(&report);
    let record = session(&s.server).await;
    assert_provoked(
        &record,
        &[
            "S: 250 starttls\nC: STARTTLS",
            "S: 250 Auth PLAIN login",
            "C: AUTH PLAIN ",
        ],
    );
    assert_status(&record, "C-5321-EXT-KEYWORD-CASE", Status::Pass);
    assert_messages(&s.server, 1).await;
}

// ---------------------------------------------------------------------------------------
// resilience

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_greeting_421() {
    let server = plain("suites/resilience/greeting-421").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_failed(&report);
    let record = session(&server).await;
    assert_provoked(&record, &["S: 421 4.3.2 "]);
    assert_status(&record, "C-5321-421-STOP", Status::Pass);
    assert_messages(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_greeting_554() {
    let server = plain("suites/resilience/greeting-554").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_failed(&report);
    assert_eq!(last_attempt(&report)["error"]["code"], 554, "{report}");
    let record = session(&server).await;
    assert_provoked(&record, &["S: 554 "]);
    // smtplib closes without QUIT: a warning.
    assert_judged(&record, "C-5321-GREETING-554");
    assert_messages(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_mail_421() {
    let server = plain("suites/resilience/mail-421").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_failed(&report);
    assert_eq!(last_attempt(&report)["error"]["code"], 421, "{report}");
    let record = session(&server).await;
    assert_provoked(
        &record,
        &["C: mail FROM:<alice@example.com>", "S: 421 4.3.2 "],
    );
    assert_status(&record, "C-5321-421-STOP", Status::Pass);
    assert_messages(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_too_many_recipients() {
    let server = plain("suites/resilience/too-many-recipients").await;
    let report = smtplib(
        server.smtp_addr().port(),
        &["--to", "bob@example.org,carol@example.org"],
    )
    .await;
    assert_client_sent(&report);
    let record = session(&server).await;
    assert_provoked(&record, &["C: rcpt TO:<carol@example.org>\nS: 452 4.5.3 "]);
    assert_judged(&record, "C-5321-RCPT-LIMIT-452");
    assert_messages(&server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_size_refused_at_mail() {
    let server = plain("suites/resilience/size-refused-at-mail").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_failed(&report);
    assert_eq!(last_attempt(&report)["error"]["code"], 552, "{report}");
    let record = session(&server).await;
    assert_provoked(&record, &["S: 250-SIZE 10\n", " size=", "S: 552 5.3.4 "]);
    assert_status(&record, "C-1870-552-ACTION", Status::Pass);
    assert_messages(&server, 0).await;

    // A client that ignores SIZE sends the whole message, and is refused after the dot.
    let mut stream = raw_session(&server).await;
    for (command, code) in [
        (&b"EHLO client.example.com\r\n"[..], "250"),
        (b"MAIL FROM:<a@example.com>\r\n", "250"),
        (b"RCPT TO:<b@example.org>\r\n", "250"),
        (b"DATA\r\n", "354"),
    ] {
        send(&mut stream, command).await;
        read_reply(&mut stream, code).await;
    }
    let body = format!("Subject: big\r\n\r\n{}\r\n.\r\n", "x".repeat(400));
    send(&mut stream, body.as_bytes()).await;
    read_reply(&mut stream, "552").await;
    send(&mut stream, b"QUIT\r\n").await;
    read_all(&mut stream).await;
    let ignored = Arc::clone(&sessions(&server, 2).await[1]);
    // A derived SHOULD (RFC 1870 §4, §7): a warning.
    assert_status(&ignored, "C-1870-RESPECT-FIXED-MAX", Status::Warn);
    assert_messages(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_slow_greeting() {
    let server = plain("suites/resilience/slow-greeting").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_sent(&report);
    let record = session(&server).await;
    assert_provoked(&record, &["220-line 2", "220 localhost ESMTP ready"]);
    assert_status(&record, "C-5321-GREETING-MULTILINE", Status::Pass);
    assert_status(&record, "C-5321-GREETING-WAIT", Status::Pass);
    assert_status(&record, "C-5321-TIMEOUT-MINIMUMS", Status::Pass);
    assert_messages(&server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_tarpit() {
    let server = plain("suites/resilience/tarpit").await;
    let started = std::time::Instant::now();
    let report = smtplib(server.smtp_addr().port(), &["--timeout", "60"]).await;
    assert_client_sent(&report);
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let record = session(&server).await;
    assert_provoked(&record, &["octets trickled, 100ms apart"]);
    assert_status(&record, "C-5321-TIMEOUT-MINIMUMS", Status::Pass);
    assert_judged(&record, "C-5321-GREETING-WAIT");
    assert_messages(&server, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_disconnect_mid_data() {
    let server = plain("suites/resilience/disconnect-mid-data").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_failed(&report);
    assert_eq!(
        last_attempt(&report)["error"]["type"],
        "SMTPServerDisconnected",
        "{report}"
    );
    let record = session(&server).await;
    assert_provoked(&record, &["C: data\nS: 354 "]);
    assert_messages(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_disconnect_after_dot() {
    let server = plain("suites/resilience/disconnect-after-dot").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_failed(&report);
    assert_eq!(
        last_attempt(&report)["error"]["type"],
        "SMTPServerDisconnected",
        "{report}"
    );
    let record = session(&server).await;
    assert_provoked(&record, &["S: 354 "]);
    assert_judged(&record, "C-5321-EOD-EXACT");
    assert!(
        !transcript(&record).contains("S: 250 2.0.0"),
        "{}",
        transcript(&record)
    );
    assert_messages(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_pipelined_rejections() {
    let server = plain("suites/resilience/pipelined-rejections").await;
    // smtplib does not pipeline: it stops at the refused RCPT.
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_failed(&report);
    assert_eq!(
        last_attempt(&report)["error"]["type"],
        "SMTPRecipientsRefused",
        "{report}"
    );
    let record = session(&server).await;
    assert_provoked(&record, &["S: 550 5.1.1 Recipient address rejected"]);
    assert_status(&record, "C-5321-5YZ-NO-REPEAT", Status::Pass);

    // Pipelining clients meet the 354: one that checks every reply sends only the dot, one
    // that does not sends its message.
    let mut ended = 1;
    for (content, status) in [
        (&b".\r\n"[..], Status::Pass),
        (b"Subject: hi\r\n\r\nhello\r\n.\r\n", Status::Fail),
    ] {
        let mut stream = raw_session(&server).await;
        send(&mut stream, b"EHLO client.example.com\r\n").await;
        read_reply(&mut stream, "250").await;
        send(
            &mut stream,
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
        )
        .await;
        read_reply(&mut stream, "354").await;
        send(&mut stream, content).await;
        read_reply(&mut stream, "554").await;
        send(&mut stream, b"RSET\r\nQUIT\r\n").await;
        read_all(&mut stream).await;
        ended += 1;
        let record = Arc::clone(&sessions(&server, ended).await[ended - 1]);
        assert_provoked(
            &record,
            &[
                "S: 550 5.1.1 ",
                "S: 354 Go ahead (no recipient was accepted)",
            ],
        );
        assert_status(&record, "C-2920-CHECK-ALL-STATUSES", status);
    }
    assert_messages(&server, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilience_eod_451() {
    let server = plain("suites/resilience/eod-451").await;
    let report = smtplib(server.smtp_addr().port(), &[]).await;
    assert_client_failed(&report);
    assert_eq!(last_attempt(&report)["error"]["code"], 451, "{report}");
    let record = session(&server).await;
    assert_provoked(&record, &["S: 451 4.3.0 Temporary local problem"]);
    assert_messages(&server, 0).await;
}
