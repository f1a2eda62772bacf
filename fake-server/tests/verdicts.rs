//! Real clients at their default settings, judged: each sends one ordinary message to the
//! default sink, the way an application or a person would use it, and the session's verdict
//! (every client check that failed or warned, and the counts) is a snapshot. What a finding
//! means for each client is explained in docs/clients.md; a finding that shows a real bug in
//! a real client is kept, never hidden by weakening a check.
//!
//! A client that is not installed fails its test (ci/setup.sh installs them all).

mod common;

use common::*;
use fake_server::Server;
use smtp_conformance::{Report, Status};

/// Checks that apply only when a pipelining client's commands reach the server before it has
/// answered the first of them: a client that writes each command with its own system call
/// (msmtp does) is seen pipelining in some runs and not in others, by TCP timing alone. When
/// such a check passes or does not apply, the counts leave it out; when it fails or warns, it
/// is listed like any other.
const TIMING_DEPENDENT: &[&str] = &["C-2920-LAST-IN-GROUP", "C-2920-ONLY-IF-ADVERTISED"];

/// The verdict as the snapshot keeps it: one line per failed or warned check, then the counts
/// (without the passes and not-applicables of [`TIMING_DEPENDENT`]).
fn verdict(report: &Report) -> String {
    let mut out = String::new();
    for result in report.problems() {
        let status = if result.status == Status::Fail {
            "fail"
        } else {
            "warn"
        };
        out.push_str(&format!("{status} {}\n", result.id));
    }
    let mut counted = report.clone();
    counted.results.retain(|result| {
        !(TIMING_DEPENDENT.contains(&result.id)
            && matches!(result.status, Status::Pass | Status::NotApplicable))
    });
    let counts = counted.counts();
    out.push_str(&format!(
        "{} passed, {} failed, {} warned, {} not applicable\n",
        counts.pass, counts.fail, counts.warn, counts.not_applicable
    ));
    out
}

/// Waits for the client's one session and returns its report, printing the marked
/// transcript (shown when a test fails).
async fn judged(server: &Server) -> Report {
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let session = sessions.first().expect("the client's session");
    println!("{}", session.marked_transcript());
    assert!(
        !session.messages.is_empty(),
        "the client sent no message:\n{}",
        session.transcript
    );
    session.checks.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_smtplib() {
    let server = start().await;
    let address = server.smtp_addr();
    let program = format!(
        "import smtplib\nfrom email.message import EmailMessage\n\
         msg = EmailMessage()\nmsg['From'] = 'Alice <alice@example.com>'\n\
         msg['To'] = 'Bob <bob@example.org>'\nmsg['Subject'] = 'hello from smtplib'\n\
         msg.set_content('Hello Bob,\\nthis is smtplib at its defaults.\\n')\n\
         with smtplib.SMTP('{}', {}) as smtp:\n    smtp.send_message(msg)\n",
        address.ip(),
        address.port()
    );
    let output = run_client_async("python3", vec!["-c".to_owned(), program], None).await;
    assert_success(&output);
    insta::assert_snapshot!(verdict(&judged(&server).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_upload() {
    let server = start().await;
    let address = server.smtp_addr();
    // The message as a person writes it in a file (LF line ends), sent as curl's manual
    // shows: curl sends the file's octets as they are unless told --crlf.
    let message = b"From: Alice <alice@example.com>\nTo: Bob <bob@example.org>\n\
Subject: hello from curl\n\nHello Bob,\nthis is curl at its defaults.\n";
    let output = run_client_async(
        "curl",
        vec![
            "--silent".to_owned(),
            "--show-error".to_owned(),
            // curl says EHLO with the URL's path, else this machine's name: a fixed one keeps
            // the snapshot the same wherever the test runs.
            format!("smtp://{address}/client.example.com"),
            "--mail-from".to_owned(),
            "alice@example.com".to_owned(),
            "--mail-rcpt".to_owned(),
            "bob@example.org".to_owned(),
            "--upload-file".to_owned(),
            "-".to_owned(),
        ],
        Some(message.to_vec()),
    )
    .await;
    assert_success(&output);
    insta::assert_snapshot!(verdict(&judged(&server).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lettre_builder() {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let server = start().await;
    let address = server.smtp_addr();
    let email = Message::builder()
        .from("Alice <alice@example.com>".parse().expect("from"))
        .to("Bob <bob@example.org>".parse().expect("to"))
        .subject("hello from lettre")
        .body("Hello Bob,\nthis is lettre at its defaults.\n".to_owned())
        .expect("message");
    let transport =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
            .port(address.port())
            .build();
    transport.send(email).await.expect("lettre sends");
    drop(transport);
    insta::assert_snapshot!(verdict(&judged(&server).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_defaults() {
    let server = start().await;
    let address = server.smtp_addr();
    let output = run_client_async(
        "swaks",
        vec![
            "--server".to_owned(),
            address.to_string(),
            "--from".to_owned(),
            "alice@example.com".to_owned(),
            "--to".to_owned(),
            "bob@example.org".to_owned(),
            // swaks says EHLO with this machine's name by default; give it a fixed one so
            // that the snapshot does not depend on where the test runs.
            "--helo".to_owned(),
            "client.example.com".to_owned(),
        ],
        None,
    )
    .await;
    assert_success(&output);
    insta::assert_snapshot!(verdict(&judged(&server).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msmtp_defaults() {
    let server = start().await;
    let address = server.smtp_addr();
    // msmtp as sendmail: the message on stdin, written with LF line ends.
    let message = b"From: Alice <alice@example.com>\nTo: Bob <bob@example.org>\n\
Subject: hello from msmtp\n\nHello Bob,\nthis is msmtp at its defaults.\n";
    let output = run_client_async(
        "msmtp",
        vec![
            // No configuration file: only the defaults and these options.
            "--file=/dev/null".to_owned(),
            format!("--host={}", address.ip()),
            format!("--port={}", address.port()),
            "--domain=client.example.com".to_owned(),
            "--from=alice@example.com".to_owned(),
            "bob@example.org".to_owned(),
        ],
        Some(message.to_vec()),
    )
    .await;
    assert_success(&output);
    insta::assert_snapshot!(verdict(&judged(&server).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodemailer_defaults() {
    let server = start().await;
    let address = server.smtp_addr();
    let output = run_client_async(
        "node",
        vec![
            script("nodemailer_send.js"),
            address.ip().to_string(),
            address.port().to_string(),
        ],
        None,
    )
    .await;
    assert_success(&output);
    insta::assert_snapshot!(verdict(&judged(&server).await));
}
