//! The web sink's HTTP API over real sockets: every endpoint of Mailpit's /api/v1 this
//! server answers and its own, with their errors (unknown ID 404, bad query 400, bad JSON
//! 400), the events WebSocket, chaos and scenarios switched at run time, waiting, release to
//! a relay, basic authentication, a Maildir that survives a restart, and the OpenAPI
//! description kept current. The client is a plain HTTP/1.1 exchange over a TCP socket.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use fake_server::web::WebConfig;
use fake_server::Server;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection (`Connection: close`), the answer read to the end.
async fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
    extra: &[(&str, &str)],
) -> Answer {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, bytes)) = body {
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    if let Some((_, body)) = body {
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("answer in time")
        .expect("read");
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Answer {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

async fn get(address: SocketAddr, path: &str) -> Answer {
    request(address, "GET", path, None, &[]).await
}

async fn send_json(address: SocketAddr, method: &str, path: &str, json: &str) -> Answer {
    request(
        address,
        method,
        path,
        Some(("application/json", json.as_bytes())),
        &[],
    )
    .await
}

async fn web_server(builder: fake_server::ServerBuilder) -> (Server, SocketAddr) {
    let server = start_with(builder.http(WebConfig::new(loopback()))).await;
    let http = server.http_addr().expect("the web sink listens");
    (server, http)
}

/// Sends one message over SMTP and waits until the web sink lists it.
async fn deliver(server: &Server, http: SocketAddr, from: &str, to: &str, content: &str) -> String {
    let newest = |list: &Value| list["messages"][0]["ID"].as_str().map(str::to_owned);
    let before = newest(&get(http, "/api/v1/messages?limit=1").await.json());
    let mut stream = TcpStream::connect(server.smtp_addr()).await.expect("smtp");
    // Dot-stuffed, as a client must (RFC 5321 §4.5.2).
    let stuffed = content.replace("\r\n.", "\r\n..");
    let script = format!(
        "EHLO test.example\r\nMAIL FROM:<{from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n{stuffed}\r\n.\r\nQUIT\r\n"
    );
    stream.write_all(script.as_bytes()).await.expect("write");
    let mut replies = String::new();
    stream.read_to_string(&mut replies).await.expect("read");
    assert!(replies.contains("250 2.0.0"), "{replies}");
    // Up to 10 s: the index lists a message within milliseconds, unless the machine is busy.
    for _ in 0..1000 {
        let list = get(http, "/api/v1/messages?limit=1").await.json();
        if let Some(id) = newest(&list).filter(|id| Some(id) != before.as_ref()) {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the message was not listed");
}

const MULTIPART: &str = "From: =?UTF-8?B?5byg5LiJ?= <zhang@example.com>\r\n\
To: Ann <ann@example.org>\r\nCc: cc@example.net\r\n\
Subject: Invoice 42\r\nMessage-ID: <inv42@example.com>\r\n\
Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
--m\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n\
--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>Pay <b>now</b></p><img src=\"cid:logo@example.com\"><script>alert(1)</script>\r\n\
--r\r\nContent-Type: image/png\r\nContent-ID: <logo@example.com>\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n\
--m\r\nContent-Type: text/plain; name=\"notes.txt\"\r\n\
Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nsecret notes\r\n\
--m\r\nContent-Type: text/html; name=\"page.html\"\r\n\
Content-Disposition: attachment; filename=\"page.html\"\r\n\r\n<script>alert(2)</script>\r\n--m--";

#[tokio::test]
async fn messages_are_listed_read_and_served_as_mailpit_serves_them() {
    let (server, http) = web_server(Server::builder()).await;
    let id = deliver(
        &server,
        http,
        "zhang@example.com",
        "ann@example.org",
        MULTIPART,
    )
    .await;

    let list = get(http, "/api/v1/messages").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.header("content-type"), Some("application/json"));
    let list = list.json();
    assert_eq!(
        (
            list["total"].as_u64(),
            list["unread"].as_u64(),
            list["count"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let summary = &list["messages"][0];
    assert_eq!(summary["From"]["Name"], "张三");
    assert_eq!(summary["To"][0]["Address"], "ann@example.org");
    assert_eq!(summary["Cc"][0]["Address"], "cc@example.net");
    assert_eq!(summary["Bcc"], Value::Array(vec![]));
    assert_eq!(summary["MessageID"], "inv42@example.com");
    assert_eq!(summary["Attachments"], 2);
    assert_eq!(summary["Read"], false);
    assert_eq!(summary["Snippet"], "Pay now");
    assert!(summary["Created"]
        .as_str()
        .is_some_and(|c| c.ends_with('Z')));

    let message = get(http, &format!("/api/v1/message/{id}")).await.json();
    assert_eq!(message["Subject"], "Invoice 42");
    assert_eq!(message["ReturnPath"], "zhang@example.com");
    assert_eq!(message["Date"], "2026-11-30T10:00:00.000Z");
    assert!(message["HTML"]
        .as_str()
        .is_some_and(|h| h.contains("<b>now</b>")));
    let inline = &message["Inline"][0];
    assert_eq!(
        (inline["PartID"].as_str(), inline["ContentID"].as_str()),
        (Some("1.2"), Some("logo@example.com"))
    );
    let names: Vec<_> = message["Attachments"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| a["FileName"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["notes.txt", "page.html"]);
    assert_eq!(
        message["Attachments"][0]["Checksums"]["SHA256"],
        // printf 'secret notes' | sha256sum
        "630a8b7c1dc089493913052cdfdc81a2e043ffc6a952731da6a9fd44f45f095f"
    );
    let list = get(http, "/api/v1/messages").await.json();
    assert_eq!(list["unread"], 0, "opening a message marks it read");

    let headers = get(http, &format!("/api/v1/message/{id}/headers"))
        .await
        .json();
    assert_eq!(headers["Message-Id"][0], "<inv42@example.com>");
    assert_eq!(headers["Delivered-To"][0], "ann@example.org");
    assert_eq!(headers["Return-Path"][0], "<zhang@example.com>");

    let raw = get(http, &format!("/api/v1/message/{id}/raw")).await;
    assert_eq!(raw.text(), format!("{MULTIPART}\r\n"));
    assert!(raw
        .header("content-security-policy")
        .is_some_and(|c| c.starts_with("sandbox")));
    let download = get(http, &format!("/api/v1/message/{id}/raw?dl=1")).await;
    assert_eq!(
        download.header("content-disposition"),
        Some(format!("attachment; filename=\"{id}.eml\"").as_str())
    );

    let part = get(http, &format!("/api/v1/message/{id}/part/2")).await;
    assert_eq!(part.text(), "secret notes");
    assert_eq!(part.header("content-type"), Some("text/plain"));
    let image = get(http, &format!("/api/v1/message/{id}/part/1.2")).await;
    assert_eq!(image.body, b"\x89PNG\r\n\x1a\n");
    let active = get(http, &format!("/api/v1/message/{id}/part/3")).await;
    assert_eq!(
        active.header("content-type"),
        Some("application/octet-stream"),
        "HTML never renders from a part"
    );
    assert!(active
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment")));

    let tree = get(http, &format!("/api/v1/message/{id}/parts"))
        .await
        .json();
    let ids: Vec<_> = tree
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["PartID"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, ["0", "1", "1.1", "1.2", "2", "3"]);

    let html = get(http, &format!("/view/{id}.html")).await;
    assert!(
        html.text()
            .contains(&format!("src=\"/api/v1/message/{id}/part/1.2\"")),
        "{}",
        html.text()
    );
    let csp = html.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.starts_with("sandbox;") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(get(http, &format!("/view/{id}.html?remote=1"))
        .await
        .header("content-security-policy")
        .is_some_and(|c| c.contains("img-src *")));
    let text = get(http, &format!("/view/{id}.txt")).await;
    assert_eq!(text.status, 200);

    let latest = get(http, "/api/v1/message/latest").await.json();
    assert_eq!(latest["ID"], id.as_str());
    server.shutdown().await;
}

#[tokio::test]
async fn errors_are_mailpits() {
    let (server, http) = web_server(Server::builder()).await;
    let missing = get(http, "/api/v1/message/NOPE").await;
    assert_eq!(
        (missing.status, missing.text().as_str()),
        (404, "404 page not found")
    );
    assert_eq!(get(http, "/api/v1/message/latest").await.status, 404);
    for path in [
        "/api/v1/message/NOPE/headers",
        "/api/v1/message/NOPE/raw",
        "/api/v1/message/NOPE/part/1",
        "/view/NOPE.html",
        "/api/v1/message/NOPE/transcript",
    ] {
        assert_eq!(get(http, path).await.status, 404, "{path}");
    }
    let bad_query = get(http, "/api/v1/search?query=before:someday").await;
    assert_eq!(bad_query.status, 400);
    assert!(
        bad_query.text().contains("not a date"),
        "{}",
        bad_query.text()
    );
    assert_eq!(
        get(http, "/api/v1/search?query=").await.text(),
        "Error: no search query"
    );
    assert_eq!(get(http, "/api/v1/search?query=%22open").await.status, 400);
    for (method, path) in [
        ("PUT", "/api/v1/messages"),
        ("DELETE", "/api/v1/messages"),
        ("PUT", "/api/v1/tags"),
        ("PUT", "/api/v1/chaos"),
        ("PUT", "/api/v1/scenarios/smtp"),
    ] {
        let answer = send_json(http, method, path, "{not json").await;
        assert_eq!(answer.status, 400, "{method} {path}: {}", answer.text());
    }
    assert_eq!(
        send_json(
            http,
            "PUT",
            "/api/v1/messages",
            r#"{"IDs": "x", "Read": true}"#
        )
        .await
        .status,
        200,
        "one ID as a string is taken"
    );
    assert_eq!(
        send_json(
            http,
            "PUT",
            "/api/v1/messages",
            r#"{"IDs": [1], "Read": true}"#
        )
        .await
        .status,
        400
    );
    assert_eq!(get(http, "/api/v1/wait?timeout=forever").await.status, 400);
    assert_eq!(
        send_json(
            http,
            "PUT",
            "/api/v1/chaos",
            r#"{"Sender": {"ErrorCode": 250, "Probability": 5}}"#
        )
        .await
        .text(),
        "error code must be between 400 and 599"
    );
    assert_eq!(
        send_json(
            http,
            "PUT",
            "/api/v1/scenarios/nowhere",
            r#"{"Scenario": null}"#
        )
        .await
        .status,
        404
    );
    assert_eq!(
        send_json(
            http,
            "PUT",
            "/api/v1/scenarios/smtp",
            r#"{"Scenario": "no/such"}"#
        )
        .await
        .status,
        400
    );
    assert_eq!(
        send_json(
            http,
            "POST",
            "/api/v1/message/NOPE/release",
            r#"{"To": ["a@b.c"]}"#
        )
        .await
        .status,
        400,
        "no relay configured"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn search_read_state_tags_and_deletion() {
    let (server, http) = web_server(Server::builder()).await;
    let a = deliver(&server, http, "shop@example.com", "ann@example.org", "From: shop@example.com\r\nTo: ann@example.org\r\nSubject: Your code 1234\r\n\r\nUse code 1234 to sign in").await;
    let b = deliver(&server, http, "news@example.com", "bob@example.org", "From: news@example.com\r\nTo: bob@example.org\r\nSubject: Weekly news\r\n\r\nNothing today").await;
    let search = |q: &str| {
        let q = q
            .replace(' ', "%20")
            .replace(':', "%3A")
            .replace('"', "%22");
        async move { get(http, &format!("/api/v1/search?query={q}")).await.json() }
    };
    let ids = |v: &Value| -> Vec<String> {
        v["messages"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|m| m["ID"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(ids(&search("from:shop").await), vec![a.clone()]);
    assert_eq!(ids(&search("to:bob").await), vec![b.clone()]);
    assert_eq!(ids(&search("\"sign in\"").await), vec![a.clone()]);
    assert_eq!(ids(&search("-subject:code").await), vec![b.clone()]);
    assert_eq!(ids(&search("is:unread").await).len(), 2);
    let found = search("subject:news").await;
    assert_eq!(
        (found["messages_count"].as_u64(), found["total"].as_u64()),
        (Some(1), Some(2))
    );

    assert_eq!(
        send_json(
            http,
            "PUT",
            "/api/v1/messages",
            &format!(r#"{{"ids": ["{a}"], "read": true}}"#)
        )
        .await
        .text(),
        "ok",
        "field names match regardless of case"
    );
    assert_eq!(ids(&search("is:read").await), vec![a.clone()]);
    let form = request(
        http,
        "PUT",
        "/api/v1/messages",
        Some((
            "application/x-www-form-urlencoded",
            format!("ids={b}&Read=true").as_bytes(),
        )),
        &[],
    )
    .await;
    assert_eq!(
        form.status, 200,
        "form bodies (as mailpit-api-client sends) are read too"
    );
    assert_eq!(get(http, "/api/v1/messages").await.json()["unread"], 0);
    send_json(http, "PUT", "/api/v1/messages", r#"{"Read": false}"#).await;
    assert_eq!(
        get(http, "/api/v1/messages").await.json()["unread"],
        2,
        "no IDs: every message"
    );

    assert_eq!(
        send_json(
            http,
            "PUT",
            "/api/v1/tags",
            &format!(r#"{{"Tags": ["urgent", "work"], "IDs": ["{a}"]}}"#)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        get(http, "/api/v1/tags").await.json(),
        serde_json::json!(["urgent", "work"])
    );
    assert_eq!(ids(&search("tag:urgent").await), vec![a.clone()]);
    assert_eq!(
        send_json(http, "PUT", "/api/v1/tags/urgent", r#"{"Name": "later"}"#)
            .await
            .status,
        200
    );
    assert_eq!(
        get(http, "/api/v1/tags").await.json(),
        serde_json::json!(["later", "work"])
    );
    assert_eq!(
        request(http, "DELETE", "/api/v1/tags/work", None, &[])
            .await
            .status,
        200
    );
    assert_eq!(
        get(http, "/api/v1/info").await.json()["Tags"],
        serde_json::json!({"later": 1})
    );

    let page = get(http, "/api/v1/messages?start=1&limit=1").await.json();
    assert_eq!(
        (ids(&page), page["start"].as_u64()),
        (vec![a.clone()], Some(1)),
        "newest first, paged"
    );

    assert_eq!(
        send_json(
            http,
            "DELETE",
            "/api/v1/messages",
            &format!(r#"{{"IDs": ["{b}"]}}"#)
        )
        .await
        .text(),
        "ok"
    );
    assert_eq!(
        ids(&get(http, "/api/v1/messages").await.json()),
        vec![a.clone()]
    );
    assert!(
        server.messages().iter().all(|m| m.id != b),
        "deleted from memory too"
    );
    assert_eq!(
        request(http, "DELETE", "/api/v1/search?query=code", None, &[])
            .await
            .status,
        200
    );
    assert_eq!(get(http, "/api/v1/messages").await.json()["total"], 0);
    deliver(
        &server,
        http,
        "x@example.com",
        "y@example.org",
        "Subject: again\r\n\r\nx",
    )
    .await;
    assert_eq!(
        request(http, "DELETE", "/api/v1/messages", None, &[])
            .await
            .status,
        200,
        "no body: all"
    );
    assert_eq!(get(http, "/api/v1/messages").await.json()["total"], 0);
    server.shutdown().await;
}

/// Reads one WebSocket text frame (server frames are not masked).
async fn ws_frame(stream: &mut TcpStream) -> String {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.expect("frame head");
    let mut len = u64::from(head[1] & 0x7f);
    if len == 126 {
        let mut ext = [0u8; 2];
        stream.read_exact(&mut ext).await.expect("length");
        len = u64::from(u16::from_be_bytes(ext));
    } else if len == 127 {
        let mut ext = [0u8; 8];
        stream.read_exact(&mut ext).await.expect("length");
        len = u64::from_be_bytes(ext);
    }
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).await.expect("payload");
    String::from_utf8(payload).expect("text")
}

async fn ws_connect(http: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(http).await.expect("connect");
    let request = format!("GET /api/events HTTP/1.1\r\nHost: {http}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("upgrade");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("101");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // RFC 6455 §1.3's example key and accept value.
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    stream
}

async fn next_event(stream: &mut TcpStream, kind: &str) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, ws_frame(stream))
            .await
            .expect("an event in time");
        for line in frame.lines() {
            let event: Value = serde_json::from_str(line).expect("JSON");
            if event["Type"] == kind {
                return event;
            }
        }
    }
}

#[tokio::test]
async fn the_events_websocket_announces_as_mailpit() {
    let (server, http) = web_server(Server::builder()).await;
    let mut ws = ws_connect(http).await;
    let stats = next_event(&mut ws, "stats").await;
    assert_eq!(stats["Data"]["Total"], 0);
    let id = deliver(
        &server,
        http,
        "a@example.com",
        "b@example.org",
        "Subject: live\r\n\r\nhello",
    )
    .await;
    let new = next_event(&mut ws, "new").await;
    assert_eq!(
        (new["Data"]["ID"].as_str(), new["Data"]["Subject"].as_str()),
        (Some(id.as_str()), Some("live"))
    );
    send_json(
        http,
        "PUT",
        "/api/v1/messages",
        &format!(r#"{{"IDs": ["{id}"], "Read": true}}"#),
    )
    .await;
    let update = next_event(&mut ws, "update").await;
    assert_eq!(update["Data"], serde_json::json!({"ID": id, "Read": true}));
    send_json(
        http,
        "DELETE",
        "/api/v1/messages",
        &format!(r#"{{"IDs": ["{id}"]}}"#),
    )
    .await;
    assert_eq!(
        next_event(&mut ws, "delete").await["Data"]["ID"],
        id.as_str()
    );
    request(http, "DELETE", "/api/v1/messages", None, &[]).await;
    assert_eq!(next_event(&mut ws, "truncate").await["Data"], Value::Null);
    server.shutdown().await;
}

/// The web sink runs on a thread of its own: it answers while the runtime the SMTP sessions
/// run on (this test's) is blocked outright, so a long API request (a search over a large
/// mailbox) never holds up an SMTP reply either (`ci/bench-web.sh` measures that: one SMTP
/// client's rate while searches run).
#[tokio::test]
async fn the_web_sink_answers_while_the_sessions_runtime_is_blocked() {
    let (server, http) = web_server(Server::builder()).await;
    let asking = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(http)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let request =
            format!("GET /api/v1/info HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes())?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).map(|_| answer)
    });
    // Blocks the runtime until the answer came (or the read timed out: the sink then ran on
    // this runtime).
    let answer = asking
        .join()
        .expect("the asking thread")
        .expect("an answer while the sessions' runtime was blocked");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"Version\""), "{answer}");
    server.shutdown().await;
}

/// Messages dropped by retention are unlisted, and the WebSocket says so with one `prune`
/// per gathered frame (as Mailpit announces its own pruning), never a `delete` each.
#[tokio::test]
async fn retention_unlists_the_oldest_and_announces_a_prune() {
    let (server, http) = web_server(Server::builder().max_messages(2)).await;
    let mut ws = ws_connect(http).await;
    next_event(&mut ws, "stats").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let content = format!("Subject: kept {n}\r\n\r\nhello");
        ids.push(deliver(&server, http, "a@example.com", "b@example.org", &content).await);
    }
    next_event(&mut ws, "prune").await;
    let listed = get(http, "/api/v1/messages").await.json();
    let listed: Vec<&str> = listed["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["ID"].as_str())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()], "newest first");
    server.shutdown().await;
}

#[tokio::test]
async fn wait_answers_when_a_matching_message_arrives() {
    let (server, http) = web_server(Server::builder()).await;
    let waiter =
        tokio::spawn(
            async move { get(http, "/api/v1/wait?query=subject%3Awelcome&timeout=10s").await },
        );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "nothing matched yet");
    deliver(
        &server,
        http,
        "a@example.com",
        "b@example.org",
        "Subject: other\r\n\r\nx",
    )
    .await;
    let id = deliver(
        &server,
        http,
        "a@example.com",
        "b@example.org",
        "Subject: Welcome aboard\r\n\r\nx",
    )
    .await;
    let answer = waiter.await.expect("the waiter");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["ID"], id.as_str());
    assert_eq!(
        get(http, "/api/v1/wait?query=subject%3Awelcome&timeout=1s")
            .await
            .status,
        200,
        "already there: at once"
    );
    let later = get(
        http,
        &format!("/api/v1/wait?query=subject%3Awelcome&timeout=300ms&since={id}"),
    )
    .await;
    assert_eq!(later.status, 408, "since: only newer ones");
    server.shutdown().await;
}

async fn smtp_replies(address: SocketAddr, script: &str) -> String {
    let mut stream = TcpStream::connect(address).await.expect("smtp");
    stream.write_all(script.as_bytes()).await.expect("write");
    let mut replies = String::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_string(&mut replies)).await;
    replies
}

#[tokio::test]
async fn chaos_and_scenarios_change_the_next_sessions_without_a_restart() {
    let (server, http) = web_server(Server::builder()).await;
    let smtp = server.smtp_addr();
    let script = "EHLO me\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nQUIT\r\n";
    assert!(smtp_replies(smtp, script).await.contains("250 2.1.0"));
    let set = send_json(
        http,
        "PUT",
        "/api/v1/chaos",
        r#"{"Recipient": {"ErrorCode": 550, "Probability": 100}}"#,
    )
    .await
    .json();
    assert_eq!(
        set["Recipient"],
        serde_json::json!({"ErrorCode": 550, "Probability": 100})
    );
    assert_eq!(
        set["Sender"],
        serde_json::json!({"ErrorCode": 451, "Probability": 0}),
        "left out: reset"
    );
    let replies = smtp_replies(smtp, script).await;
    assert!(
        replies.contains("550 5.7.0 Chaos: recipient refused"),
        "{replies}"
    );
    assert_eq!(
        get(http, "/api/v1/chaos").await.json()["Recipient"]["Probability"],
        100
    );
    send_json(http, "PUT", "/api/v1/chaos", "{}").await;
    assert!(!smtp_replies(smtp, script).await.contains("Chaos"));

    assert_eq!(
        send_json(
            http,
            "PUT",
            "/api/v1/scenarios/smtp",
            r#"{"Scenario": "behaviours/greeting-554"}"#
        )
        .await
        .text(),
        "ok"
    );
    let listed = get(http, "/api/v1/scenarios").await.json();
    assert_eq!(
        listed["Listeners"][0]["Scenario"],
        "behaviours/greeting-554"
    );
    assert!(listed["BuiltIn"].as_array().is_some_and(|b| b.len() > 20));
    assert!(
        smtp_replies(smtp, script).await.starts_with("554"),
        "the next session plays it"
    );
    let yaml = r#"{"Yaml": "name: mine\non:\n  greeting:\n    - reply: \"220 mine.example ESMTP ready\"\n"}"#;
    let answer = send_json(http, "PUT", "/api/v1/scenarios/smtp", yaml).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(smtp_replies(smtp, script)
        .await
        .starts_with("220 mine.example"));
    send_json(
        http,
        "PUT",
        "/api/v1/scenarios/smtp",
        r#"{"Scenario": null}"#,
    )
    .await;
    assert!(smtp_replies(smtp, script).await.contains("250 2.1.5"));

    // A session is recorded a moment after its connection closes (on the after-reply
    // thread): wait for the last one.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let sessions = loop {
        let sessions = get(http, "/api/v1/sessions?messages=0").await.json();
        if sessions.as_array().is_some_and(|s| s.len() >= 5) || std::time::Instant::now() > deadline
        {
            break sessions;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        sessions.as_array().is_some_and(|s| s.len() >= 5),
        "{sessions}"
    );
    let first = sessions[0]["ID"].as_u64().expect("an id");
    let record = get(http, &format!("/api/v1/session/{first}")).await.json();
    assert!(record["transcript"].is_object(), "{record}");
    server.shutdown().await;
}

#[tokio::test]
async fn transcripts_and_checks_sit_beside_each_message() {
    let (server, http) = web_server(Server::builder()).await;
    // No Date or Message-ID: RFC 5322 checks fail.
    let id = deliver(
        &server,
        http,
        "a@example.com",
        "b@example.org",
        "Subject: bare\r\n\r\nhi",
    )
    .await;
    let summary = &get(http, "/api/v1/messages").await.json()["messages"][0];
    assert!(
        summary["Checks"]["fail"].as_u64().is_some_and(|n| n > 0),
        "{summary}"
    );
    let checks = get(http, &format!("/api/v1/message/{id}/checks"))
        .await
        .json();
    let failed: Vec<_> = checks["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["status"] == "fail")
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        failed.iter().any(|id| id == "C-5322-DATE-PRESENT"),
        "{failed:?}"
    );
    let transcript = get(http, &format!("/api/v1/message/{id}/transcript"))
        .await
        .json();
    assert_eq!(transcript["message_count"], 1);
    let text = get(
        http,
        &format!("/api/v1/message/{id}/transcript?format=text"),
    )
    .await
    .text();
    assert!(text.contains("C: MAIL FROM:<a@example.com>"), "{text}");
    let search = get(http, "/api/v1/search?query=is%3Afailing").await.json();
    assert_eq!(search["messages_count"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn basic_auth_guards_everything_when_set() {
    let mut config = WebConfig::new(loopback());
    config.auth = Some(("ann".into(), "s3cret".into()));
    let server = start_with(Server::builder().http(config)).await;
    let http = server.http_addr().expect("web");
    for path in ["/", "/api/v1/messages", "/api/events", "/api/openapi.json"] {
        let answer = get(http, path).await;
        assert_eq!(answer.status, 401, "{path}");
        assert!(answer
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Basic")));
    }
    // base64("ann:s3cret")
    let ok = request(
        http,
        "GET",
        "/api/v1/messages",
        None,
        &[("Authorization", "Basic YW5uOnMzY3JldA==")],
    )
    .await;
    assert_eq!(ok.status, 200);
    let wrong = request(
        http,
        "GET",
        "/api/v1/messages",
        None,
        &[("Authorization", "Basic YW5uOndyb25n")],
    )
    .await;
    assert_eq!(wrong.status, 401);
    server.shutdown().await;
}

#[tokio::test]
async fn release_sends_through_the_relay() {
    let relay = start().await;
    let mut config = WebConfig::new(loopback());
    config.relay = Some(fake_server::web::RelayConfig::plain(
        relay.smtp_addr().to_string(),
    ));
    let server = start_with(Server::builder().http(config)).await;
    let http = server.http_addr().expect("web");
    let content = "From: a@example.com\r\nSubject: to release\r\n\r\n.leading dot\r\nbody";
    let id = deliver(&server, http, "a@example.com", "b@example.org", content).await;
    assert_eq!(
        get(http, "/api/v1/webui").await.json()["MessageRelay"]["Enabled"],
        true
    );
    let bad = send_json(
        http,
        "POST",
        &format!("/api/v1/message/{id}/release"),
        r#"{"To": ["not an address"]}"#,
    )
    .await;
    assert_eq!(
        (bad.status, bad.text().as_str()),
        (400, "Invalid email address: not an address")
    );
    let answer = send_json(
        http,
        "POST",
        &format!("/api/v1/message/{id}/release"),
        r#"{"To": ["c@example.net"]}"#,
    )
    .await;
    assert_eq!((answer.status, answer.text().as_str()), (200, "ok"));
    let relayed = relay.wait_for_messages(1, WAIT).await.expect("relayed");
    assert_eq!(relayed[0].rcpt_to(), ["<c@example.net>"]);
    assert_eq!(relayed[0].mail_from(), "<a@example.com>");
    assert_eq!(
        relayed[0].raw,
        format!("{content}\r\n").as_bytes(),
        "the same octets, dots unstuffed"
    );
    server.shutdown().await;
    relay.shutdown().await;
}

#[tokio::test]
async fn a_maildir_serves_the_api_and_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-web-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (server, http) = web_server(Server::builder().store_dir(&dir)).await;
    let keep = deliver(
        &server,
        http,
        "a@example.com",
        "b@example.org",
        "Subject: keep me\r\n\r\nstays",
    )
    .await;
    let gone = deliver(
        &server,
        http,
        "a@example.com",
        "b@example.org",
        "Subject: drop me\r\n\r\ngoes",
    )
    .await;
    send_json(
        http,
        "PUT",
        "/api/v1/messages",
        &format!(r#"{{"IDs": ["{keep}"], "Read": true}}"#),
    )
    .await;
    let cur: Vec<_> = std::fs::read_dir(dir.join("cur"))
        .expect("cur/")
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        cur.len() == 1 && cur[0].ends_with(":2,S") && cur[0].contains(&keep),
        "read: moved to cur/ with S: {cur:?}"
    );
    send_json(
        http,
        "DELETE",
        "/api/v1/messages",
        &format!(r#"{{"IDs": ["{gone}"]}}"#),
    )
    .await;
    assert!(
        !dir.join("raw").join(format!("{gone}.eml")).exists(),
        "its raw copy is gone"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("new")).expect("new/").count(),
        0,
        "its delivered copy too"
    );
    server.shutdown().await;
    drop(server);

    let (again, http) = web_server(Server::builder().store_dir(&dir)).await;
    let mut list = Value::Null;
    // Up to 10 s: the index lists a message within milliseconds, unless the machine is busy.
    for _ in 0..1000 {
        list = get(http, "/api/v1/messages").await.json();
        if list["total"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(list["total"], 1, "{list}");
    let listed = &list["messages"][0];
    assert_eq!(
        (
            listed["ID"].as_str(),
            listed["Read"].as_bool(),
            listed["Subject"].as_str()
        ),
        (Some(keep.as_str()), Some(true), Some("keep me"))
    );
    let message = get(http, &format!("/api/v1/message/{keep}")).await.json();
    assert_eq!(message["Text"], "stays\r\n");
    let transcript = get(http, &format!("/api/v1/message/{keep}/transcript")).await;
    assert_eq!(
        transcript.status,
        200,
        "the session's file: {}",
        transcript.text()
    );
    again.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_openapi_description_covers_every_route() {
    let (server, http) = web_server(Server::builder()).await;
    let doc = get(http, "/api/openapi.json").await.json();
    let described: Vec<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    // Every route the code registers is described (path parameters named as in the
    // description are compared by shape: `{x}` matches `{y}`).
    let shape = |p: &str| -> String {
        let mut out = String::new();
        let mut in_param = false;
        for c in p.chars() {
            match c {
                '{' => {
                    in_param = true;
                    out.push_str("{}");
                }
                '}' => in_param = false,
                c if !in_param => out.push(c),
                _ => {}
            }
        }
        out
    };
    let described_shapes: Vec<String> = described.iter().map(|p| shape(p)).collect();
    let sources = ["api.rs", "ui.rs"].map(|f| {
        std::fs::read_to_string(repo_root().join("fake-server/src/web").join(f)).expect("source")
    });
    let mut routes = Vec::new();
    for source in &sources {
        for piece in source.split(".route(\"").skip(1) {
            let path = piece.split('"').next().unwrap_or_default();
            routes.push(path.to_owned());
        }
    }
    assert!(routes.len() > 20, "{routes:?}");
    for route in routes
        .iter()
        .filter(|r| !r.starts_with("/assets") && *r != "/")
    {
        let covered = if route == "/view/{file}" {
            described.iter().any(|d| d.starts_with("/view/"))
        } else {
            described_shapes.contains(&shape(route))
        };
        assert!(covered, "{route} is served but not in assets/openapi.json");
    }
    // And every described path and method is served (not 404 for want of a route, nor 405).
    for (path, methods) in doc["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{ID}", "NOPE")
            .replace("{PartID}", "1")
            .replace("{Tag}", "t")
            .replace("{SessionID}", "1")
            .replace("{Listener}", "smtp")
            .replace("/api/v1/wait", "/api/v1/wait?timeout=10ms");
        for method in methods.as_object().expect("methods").keys() {
            if path == "/api/events" {
                continue;
            }
            let answer = request(
                http,
                &method.to_uppercase(),
                &concrete,
                Some(("application/json", b"{}")),
                &[],
            )
            .await;
            assert_ne!(answer.status, 405, "{method} {path}");
            let unrouted = answer.status == 404 && answer.text() == "";
            assert!(!unrouted, "{method} {path} is described but not served");
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_index_counts_within_the_memory_budget() {
    const BUDGET: usize = 256 * 1024;
    let (server, http) = web_server(Server::builder().max_memory(BUDGET)).await;
    let body = "x".repeat(2000);
    for n in 0..60 {
        let content = format!("Subject: message {n}\r\n\r\n{body}");
        deliver(&server, http, "a@example.com", "b@example.org", &content).await;
    }
    let used = server.memory_used();
    assert!(
        used <= BUDGET + 64 * 1024,
        "{used} octets held, budget {BUDGET}"
    );
    let listed = get(http, "/api/v1/messages?limit=1000").await.json();
    let held = server.messages().len() as u64;
    assert!(held < 60, "the budget dropped the oldest: {held} held");
    assert_eq!(
        listed["total"].as_u64(),
        Some(held),
        "the list follows what is held"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn release_over_starttls_and_implicit_tls_with_auth() {
    use fake_server::web::{RelayConfig, RelayTls};
    use smtp_protocol::session::{AuthConfig, AuthUser};
    let relay = Server::builder()
        .session_config(fake_server::SessionConfig {
            auth: AuthConfig {
                users: vec![AuthUser {
                    name: "relay-user".into(),
                    password: Some("relay-pass".into()),
                    token: None,
                }],
                ..AuthConfig::default()
            },
            ..fake_server::SessionConfig::default()
        })
        .smtp(loopback())
        .smtp_starttls(true)
        .smtps(loopback())
        .tls(fake_server::tls::TlsSetup::new().in_memory_ca())
        .start()
        .await
        .expect("relay starts");
    let ca = std::env::temp_dir().join(format!("fake-smtp-relay-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, relay.ca_cert_pem().expect("a CA")).expect("write the CA");
    for (tls, address) in [
        (RelayTls::StartTls, relay.smtp_addr()),
        (RelayTls::Implicit, relay.addr("smtps").expect("smtps")),
    ] {
        let mut web = WebConfig::new(loopback());
        web.relay = Some(RelayConfig {
            // The relay's certificate names localhost.
            address: format!("localhost:{}", address.port()),
            credentials: Some(("relay-user".into(), "relay-pass".into())),
            return_path: Some("bounces@example.com".into()),
            tls,
            ca_file: Some(ca.clone()),
        });
        let server = start_with(Server::builder().http(web)).await;
        let http = server.http_addr().expect("web");
        let id = deliver(
            &server,
            http,
            "a@example.com",
            "b@example.org",
            "Subject: over TLS\r\n\r\nx",
        )
        .await;
        let answer = send_json(
            http,
            "POST",
            &format!("/api/v1/message/{id}/release"),
            r#"{"To": ["c@example.net"]}"#,
        )
        .await;
        assert_eq!(
            (answer.status, answer.text().as_str()),
            (200, "ok"),
            "{tls:?}"
        );
        let kept = get(http, "/api/v1/releases").await.json();
        let transcript = kept[0]["Transcript"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(transcript.contains("** TLS established"), "{transcript}");
        assert!(
            transcript.contains("C: AUTH PLAIN ****"),
            "the secret is masked: {transcript}"
        );
        server.shutdown().await;
    }
    let relayed = relay
        .wait_for_messages(2, WAIT)
        .await
        .expect("both relayed");
    assert!(relayed
        .iter()
        .all(|m| m.tls && m.authenticated.as_deref() == Some("relay-user")));
    assert!(relayed
        .iter()
        .all(|m| m.mail_from() == "<bounces@example.com>"));
    relay.shutdown().await;
    let _ = std::fs::remove_file(&ca);
}

#[tokio::test]
async fn another_sites_page_can_neither_post_nor_listen() {
    let mut config = WebConfig::new(loopback());
    config.relay = Some(fake_server::web::RelayConfig::plain("127.0.0.1:9"));
    let server = start_with(Server::builder().http(config)).await;
    let http = server.http_addr().expect("web");
    deliver(
        &server,
        http,
        "a@example.com",
        "b@example.org",
        "Subject: private\r\n\r\nx",
    )
    .await;
    // A form post from another site's page: what a browser sends without asking.
    let evil = [("Origin", "http://evil.example")];
    let release = request(
        http,
        "POST",
        "/api/v1/message/latest/release",
        Some(("text/plain", br#"{"To": ["thief@evil.example"]}"#)),
        &evil,
    )
    .await;
    assert_eq!(release.status, 403, "{}", release.text());
    let delete = request(http, "DELETE", "/api/v1/messages", None, &evil).await;
    assert_eq!(delete.status, 403);
    assert_eq!(get(http, "/api/v1/messages").await.json()["total"], 1);
    // The events WebSocket, opened by another site's script.
    let mut stream = TcpStream::connect(http).await.expect("connect");
    let upgrade = format!("GET /api/events HTTP/1.1\r\nHost: {http}\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    stream.write_all(upgrade.as_bytes()).await.expect("write");
    let mut answer = vec![0u8; 12];
    stream.read_exact(&mut answer).await.expect("read");
    assert_eq!(&answer, b"HTTP/1.1 403");
    // DNS rebinding: the attacker's name pointed at 127.0.0.1 makes its page same-origin
    // for the browser; the Host header still names it.
    let mut stream = TcpStream::connect(http).await.expect("connect");
    stream
        .write_all(b"GET /api/v1/messages HTTP/1.1\r\nHost: evil.example:8025\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    assert_eq!(parse_answer(&raw).status, 403);
    for host in ["localhost", "localhost:8025", "[::1]:8025", "127.0.0.1"] {
        let mut stream = TcpStream::connect(http).await.expect("connect");
        let asked =
            format!("GET /api/v1/info HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(asked.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        assert_eq!(parse_answer(&raw).status, 200, "{host}");
    }
    // The UI's own origin, and clients that send no Origin, are served.
    let own = format!("http://{http}");
    let read = request(
        http,
        "PUT",
        "/api/v1/messages",
        Some(("application/json", br#"{"Read": true}"#)),
        &[("Origin", own.as_str())],
    )
    .await;
    assert_eq!(read.status, 200);
    let plain = request(
        http,
        "PUT",
        "/api/v1/messages",
        Some(("application/json", br#"{"Read": false}"#)),
        &[],
    )
    .await;
    assert_eq!(plain.status, 200);
    server.shutdown().await;
}
