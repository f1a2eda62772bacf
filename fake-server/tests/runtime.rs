//! The runtime around the session: connection limit, timeouts (on tokio's paused clock),
//! graceful shutdown, the Maildir store, IPv6 loopback.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use fake_server::{Server, SessionConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_limit_a_client_gets_421() {
    let server = start_with(Server::builder().max_connections(1)).await;
    let mut first = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut first, "220").await;
    let refused = converse(server.smtp_addr(), b"").await;
    assert_eq!(
        refused,
        "421 4.3.2 localhost Too many connections, try again later\r\n"
    );
    first.write_all(b"QUIT\r\n").await.expect("quit");
    read_all(&mut first).await;
    // Once the first one is gone, the next client is served.
    server.wait_for_sessions(2, WAIT).await;
    assert_serves_normally(&server).await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_client_gets_421_after_the_command_timeout() {
    let server = start_with(Server::builder().session_config(SessionConfig {
        command_timeout: Duration::from_secs(300),
        ..SessionConfig::default()
    }))
    .await;
    let started = tokio::time::Instant::now();
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    let output = read_all_within(&mut stream, Duration::from_secs(3600)).await;
    assert_eq!(
        output,
        "220 localhost ESMTP fake-smtp ready\r\n421 4.4.2 localhost Timeout, closing connection\r\n"
    );
    // Virtual time: the timeout really was the configured five minutes.
    assert!(started.elapsed() >= Duration::from_secs(300));
    let sessions = server.wait_for_sessions(1, WAIT).await;
    assert_eq!(
        sessions[0].close_reason,
        Some(smtp_protocol::transcript::CloseReason::Timeout)
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_data_transfer_gets_421_after_the_data_timeout() {
    let server = start_with(Server::builder().session_config(SessionConfig {
        data_timeout: Duration::from_secs(180),
        ..SessionConfig::default()
    }))
    .await;
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    stream
        .write_all(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\npart")
        .await
        .expect("write");
    let output = read_all_within(&mut stream, Duration::from_secs(3600)).await;
    assert!(output.ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n421 4.4.2 localhost Timeout, closing connection\r\n"), "{output}");
    assert!(server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_transaction_finish_and_sends_421_to_idle_sessions() {
    let server = start_with(Server::builder().shutdown_grace(Duration::from_secs(30))).await;
    let mut busy = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    busy.write_all(
        b"EHLO busy\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
    )
    .await
    .expect("write");
    read_reply(&mut busy, "354").await;
    busy.write_all(b"Subject: in flight\r\n\r\nfirst half, ")
        .await
        .expect("write");
    let mut idle = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    idle.write_all(b"EHLO idle\r\n").await.expect("write");
    read_reply(&mut idle, "250").await;

    let address = server.smtp_addr();
    let server = std::sync::Arc::new(server);
    let stopping = tokio::spawn({
        let server = std::sync::Arc::clone(&server);
        async move { server.shutdown().await }
    });
    // The idle session is told at once.
    assert_eq!(
        read_all(&mut idle).await,
        "421 4.3.2 localhost Service shutting down\r\n"
    );
    // No new connections.
    let refused = tokio::time::timeout(WAIT, async {
        loop {
            match TcpStream::connect(address).await {
                Err(_) => break,
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await;
    assert!(refused.is_ok(), "the listener still accepts");
    // The busy one finishes its message, which is stored and acknowledged, then gets 421.
    busy.write_all(b"second half\r\n.\r\n")
        .await
        .expect("write");
    let rest = read_all(&mut busy).await;
    assert!(rest.starts_with("250 2.0.0 OK queued as"), "{rest}");
    assert!(
        rest.ends_with("421 4.3.2 localhost Service shutting down\r\n"),
        "{rest}"
    );
    stopping.await.expect("shutdown completes");
    assert_eq!(server.messages().len(), 1);
    assert_eq!(server.open_sessions(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_period_open_sessions_get_421() {
    let server = start_with(Server::builder().shutdown_grace(Duration::from_millis(200))).await;
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    stream
        .write_all(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\n")
        .await
        .expect("write");
    read_reply(&mut stream, "250").await;
    server.shutdown().await;
    let rest = read_all(&mut stream).await;
    assert!(
        rest.ends_with("421 4.3.2 localhost Service shutting down\r\n"),
        "{rest}"
    );
    assert!(server.messages().is_empty());
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fake-smtp-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_store_each_message_is_a_maildir_file_with_its_transcript() {
    let dir = temp_dir("store");
    let server = start_with(Server::builder().store_dir(&dir)).await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO disk\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
          Subject: on disk\r\n\r\nkept\r\n.\r\nQUIT\r\n",
    )
    .await;
    assert!(output.contains("250 2.0.0 OK queued as"));
    let messages = server.wait_for_messages(1, WAIT).await.expect("stored");
    let message = &messages[0];
    let path = message.path.clone().expect("written to disk");
    assert!(path.starts_with(dir.join("new")));
    let on_disk = std::fs::read(&path).expect("read the Maildir file");
    assert_eq!(on_disk, message.delivered());
    // What a local delivery agent writes: the envelope first, LF line ends (issue 9, item 18).
    assert!(on_disk.starts_with(
        b"Return-Path: <a@example.com>\nX-Original-To: b@example.org\n\
          Received: from disk ([127.0.0.1])\n\tby localhost (fake-smtp) with ESMTP id "
    ));
    assert!(on_disk.ends_with(b"Subject: on disk\n\nkept\n"));
    // The octets exactly as received, beside it.
    let raw_path = message.raw_path.clone().expect("a raw copy");
    assert_eq!(
        raw_path,
        dir.join("raw").join(format!("{}.eml", message.id))
    );
    assert_eq!(
        std::fs::read(&raw_path).expect("read the raw copy"),
        b"Subject: on disk\r\n\r\nkept\r\n"
    );
    // The session's transcript is written once, when it ends; the message links to it.
    server.wait_for_sessions(1, WAIT).await;
    let json =
        std::fs::read_to_string(dir.join("transcripts").join(format!("{}.json", message.id)))
            .expect("transcript file");
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    let entries = value["transcript"]["entries"].as_array().expect("entries");
    assert_eq!(entries.last().expect("entry")["kind"], "closed");
    assert!(entries.iter().any(|e| e["line"] == "EHLO disk"));
    assert_eq!(value["messages"][0], message.id.as_str());
    assert!(value["checks"]["results"].is_array(), "{value}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 9, item 19: refused and broken sessions are the ones a user needs to read, and they
/// stored no message; every session's transcript is kept with `--store`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_store_sessions_without_a_message_keep_their_transcript() {
    let dir = temp_dir("store-refused");
    let server = start_with(Server::builder().store_dir(&dir)).await;
    let output = converse(server.smtp_addr(), b"MAIL FROM:<a@example.com>\r\nQUIT\r\n").await;
    assert!(output.contains("503 5.5.1"), "{output}");
    server.wait_for_sessions(1, WAIT).await;
    let sessions: Vec<_> = std::fs::read_dir(dir.join("sessions"))
        .expect("sessions/")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let json = std::fs::read_to_string(&sessions[0]).expect("session file");
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    let entries = value["transcript"]["entries"].as_array().expect("entries");
    assert!(entries
        .iter()
        .any(|e| e["line"] == "MAIL FROM:<a@example.com>"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 10, item 1: queue ids were the start second plus a counter, and the Maildir name was
/// made from them, so a server restarted (or a second one started) on the same store within
/// a second acknowledged a message under a taken name and overwrote the first one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_a_store_in_the_same_second_never_overwrite_each_other() {
    let dir = temp_dir("shared-store");
    let send = b"EHLO disk\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
          Subject: one of two\r\n\r\nkept\r\n.\r\nQUIT\r\n";
    let mut ids = Vec::new();
    // Both within the same second: the first run is "killed" (dropped) and a second one
    // starts on the same Maildir at once, as a restart would; a third runs beside it.
    for _ in 0..3 {
        let server = start_with(Server::builder().store_dir(&dir)).await;
        let output = converse(server.smtp_addr(), send).await;
        assert!(output.contains("250 2.0.0 OK queued as"), "{output}");
        let messages = server.wait_for_messages(1, WAIT).await.expect("stored");
        ids.push(messages[0].id.clone());
    }
    let files = std::fs::read_dir(dir.join("new")).expect("new/").count();
    assert_eq!(
        files, 3,
        "every acknowledged message has its own file: {ids:?}"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "queue ids are unique across runs: {ids:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_created_is_an_error_before_start() {
    let error = Server::builder()
        .smtp(loopback())
        .store_dir("/proc/no-such-place/maildir")
        .start()
        .await
        .expect_err("cannot create a Maildir under /proc");
    assert!(
        error
            .to_string()
            .starts_with("cannot use /proc/no-such-place/maildir"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback() {
    let server = Server::builder()
        .smtp("[::1]:0".parse::<SocketAddr>().expect("addr"))
        .start()
        .await
        .expect("binds ::1");
    assert!(server.smtp_addr().is_ipv6());
    let output = converse(
        server.smtp_addr(),
        b"EHLO [IPv6:::1]\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nv6\r\n.\r\nQUIT\r\n",
    )
    .await;
    assert!(output.contains("250 2.0.0 OK queued as"), "{output}");
    let messages = server.wait_for_messages(1, WAIT).await.expect("stored");
    assert!(messages[0]
        .trace_header()
        .starts_with("Received: from [IPv6:::1] ([IPv6:::1])"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_scenario_replays_exactly_and_another_seed_differs() {
    let yaml = |seed: u64| {
        format!(
            "seed: {seed}\non:\n  greeting:\n    - reply: \"220 mx ESMTP {{random:16}}\"\n  rcpt:\n    - when: {{ probability: 0.5 }}\n      reply: \"451 4.7.1 try again\"\n"
        )
    };
    let transcript_of = |seed: u64| async move {
        let scenario = fake_server::Scenario::from_yaml("seeded", &yaml(seed)).expect("valid");
        let server = start_with(Server::builder().scenario(scenario)).await;
        let mut input = b"EHLO x\r\nMAIL FROM:<a@b.c>\r\n".to_vec();
        for i in 0..16 {
            input.extend_from_slice(format!("RCPT TO:<r{i}@d.e>\r\n").as_bytes());
        }
        converse(server.smtp_addr(), &input).await
    };
    let first = transcript_of(7).await;
    assert_eq!(first, transcript_of(7).await);
    assert_ne!(first, transcript_of(8).await);
    assert!(
        first.contains("451 4.7.1 try again") && first.contains("250 2.1.5"),
        "{first}"
    );
}

/// Issue 10, item 2: a session's record kept every message id, so memory grew with each
/// message of a long session. It keeps the count and the last ids only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_session_keeps_a_count_and_the_last_message_ids() {
    let server = start().await;
    let mut input = b"EHLO long\r\n".to_vec();
    for i in 0..150 {
        input.extend_from_slice(
            format!("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: {i}\r\n\r\nx\r\n.\r\n")
                .as_bytes(),
        );
    }
    input.extend_from_slice(b"QUIT\r\n");
    let output = converse(server.smtp_addr(), &input).await;
    assert_eq!(output.matches("queued as").count(), 150, "{output}");
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let record = &sessions[0];
    assert_eq!(record.message_count, 150);
    assert_eq!(
        record.messages.len(),
        fake_server::mailbox::SESSION_IDS_KEPT
    );
    let messages = server.messages();
    assert_eq!(record.messages.last(), messages.last().map(|m| &m.id));
}

/// Issue 10, item 3: retention counted messages, so the defaults allowed 1,000 x 10 MiB. The
/// budget is in octets: beyond it the oldest go, and an `evicted` event says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_mail_stays_within_the_memory_budget() {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&events);
    let budget = 400 * 1024;
    let server = start_with(Server::builder().max_memory(budget).on_event(move |e| {
        if let fake_server::ServerEvent::Evicted { messages, .. } = e {
            seen.lock().expect("events").extend(messages.clone());
        }
    }))
    .await;
    let body = "x".repeat(998) + "\r\n";
    let mut input = b"EHLO big\r\n".to_vec();
    for i in 0..8 {
        input.extend_from_slice(
            format!("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: {i}\r\n\r\n").as_bytes(),
        );
        for _ in 0..100 {
            input.extend_from_slice(body.as_bytes());
        }
        input.extend_from_slice(b".\r\n");
    }
    input.extend_from_slice(b"QUIT\r\n");
    let output = converse(server.smtp_addr(), &input).await;
    assert_eq!(output.matches("queued as").count(), 8, "{output}");
    server.wait_for_sessions(1, WAIT).await;
    let kept = server.messages();
    assert!(
        server.memory_used() <= budget,
        "{} > {budget}",
        server.memory_used()
    );
    assert!(kept.len() < 8 && !kept.is_empty(), "{} kept", kept.len());
    let evicted = events.lock().expect("events").clone();
    assert_eq!(evicted.len() + kept.len(), 8, "{evicted:?}");
    // The newest are the ones kept.
    assert_eq!(
        kept.last().map(|m| m.summary().subject.clone()),
        Some(Some("7".to_owned()))
    );
}
