//! The HTTP API: Mailpit's `/api/v1` (same paths, methods, JSON and status codes), and this
//! tool's own endpoints beside it. Errors follow Mailpit: `400` with the reason as plain
//! text, `404` with `404 page not found`.

// The helpers' error is the HTTP answer itself, handed straight back by the handler: boxing
// it would only be undone at once.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::Serialize;
use serde_json::Value;

use super::entry::Location;
use super::index::Entry;
use super::mailpit::{
    headers_json, AppInformation, MessageJson, MessageRelay, MessageSummary, MessagesSummary,
    RuntimeStats, WebUiConfiguration,
};
use super::search::Query;
use super::state::{self, WebState};
use super::{mime, relay, ui};
use crate::scenario::chaos::Triggers;
use crate::scenario::Scenario;

type Shared = State<Arc<WebState>>;

/// The value of a `Result` whose error is the answer to give: returned from the handler.
macro_rules! or_answer {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(answer) => return answer,
        }
    };
}

pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/api/v1/info", get(info))
        .route("/api/v1/webui", get(webui))
        .route(
            "/api/v1/messages",
            get(list).put(set_read).delete(delete_messages),
        )
        .route("/api/v1/message/{id}", get(message))
        .route("/api/v1/message/{id}/headers", get(headers))
        .route("/api/v1/message/{id}/raw", get(raw))
        .route("/api/v1/message/{id}/part/{part}", get(part))
        .route("/api/v1/message/{id}/release", post(release))
        .route("/api/v1/releases", get(releases))
        .route("/api/v1/message/{id}/parts", get(parts))
        .route("/api/v1/message/{id}/transcript", get(transcript))
        .route("/api/v1/message/{id}/checks", get(checks))
        .route("/api/v1/search", get(search).delete(delete_search))
        .route("/api/v1/tags", get(tags).put(set_tags))
        .route("/api/v1/tags/{tag}", put(rename_tag).delete(delete_tag))
        .route("/api/v1/chaos", get(chaos).put(set_chaos))
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/session/{id}", get(session))
        .route("/api/v1/scenarios", get(scenarios))
        .route("/api/v1/scenarios/{listener}", put(switch_scenario))
        .route("/api/v1/wait", get(wait))
        .route("/api/events", get(events))
        .route("/api/openapi.json", get(super::openapi::serve))
}

/// Mailpit's error answer: 400 and the reason as text.
pub fn bad_request(reason: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain")],
        reason.into(),
    )
        .into_response()
}

pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "404 page not found",
    )
        .into_response()
}

fn ok() -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], "ok").into_response()
}

/// JSON as Mailpit writes it (`application/json`, a final newline).
pub fn json(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(mut body) => {
            body.push(b'\n');
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(error) => bad_request(error.to_string()),
    }
}

async fn info(State(state): Shared) -> Response {
    let (messages, unread, tags) = {
        let index = state.read();
        (index.total(), index.unread(), index.tags())
    };
    let stored = state.mailbox.stored_count();
    json(&AppInformation {
        version: format!("fake-smtp {}", env!("CARGO_PKG_VERSION")),
        latest_version: "disabled".to_owned(),
        database: state
            .mailbox
            .maildir()
            .map(|m| m.root().display().to_string())
            .unwrap_or_else(|| "memory".to_owned()),
        database_size: state.mailbox.memory_used() as u64,
        messages,
        unread,
        tags,
        runtime_stats: RuntimeStats {
            uptime: state.started.elapsed().as_secs(),
            memory: state.mailbox.memory_used() as u64,
            messages_deleted: state.deleted.load(std::sync::atomic::Ordering::Relaxed),
            smtp_accepted: stored,
            smtp_accepted_size: 0,
            smtp_rejected: 0,
            smtp_ignored: 0,
        },
    })
}

async fn webui(State(state): Shared) -> Response {
    json(&WebUiConfiguration {
        label: String::new(),
        message_relay: match &state.relay {
            Some(relay) => MessageRelay {
                enabled: true,
                smtp_server: relay.address.clone(),
                ..MessageRelay::default()
            },
            None => MessageRelay::default(),
        },
        spam_assassin: false,
        chaos_enabled: true,
        duplicates_ignored: false,
    })
}

/// `start` and `limit` as Mailpit reads them: a value that does not parse is ignored.
fn page(params: &HashMap<String, String>) -> (usize, usize) {
    let number = |key: &str| params.get(key).and_then(|v| v.parse::<usize>().ok());
    let start = number("start").unwrap_or(0);
    let limit = number("limit").filter(|&l| l > 0).unwrap_or(50);
    (start, limit)
}

fn summaries(state: &WebState, query: &Query, start: usize, limit: usize) -> Response {
    let index = state.read();
    let mut matched = 0;
    let mut matched_unread = 0;
    let mut page = Vec::with_capacity(limit.min(1000));
    for entry in index.newest_first() {
        if !query.matches(entry) {
            continue;
        }
        if matched >= start && page.len() < limit {
            page.push(MessageSummary::of(entry));
        }
        matched += 1;
        if !entry.read {
            matched_unread += 1;
        }
    }
    json(&MessagesSummary {
        total: index.total(),
        unread: index.unread(),
        count: page.len(),
        messages_count: matched,
        messages_unread: matched_unread,
        start,
        tags: index.tags().into_keys().collect(),
        messages: page,
    })
}

async fn list(
    State(state): Shared,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let (start, limit) = page(&params);
    summaries(&state, &Query::default(), start, limit)
}

fn parse_query(params: &HashMap<String, String>) -> Result<Query, Response> {
    let text = params.get("query").map(|q| q.trim()).unwrap_or_default();
    if text.is_empty() {
        return Err(bad_request("Error: no search query"));
    }
    Query::parse(text).map_err(|e| bad_request(e.to_string()))
}

async fn search(
    State(state): Shared,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let query = or_answer!(parse_query(&params));
    let (start, limit) = page(&params);
    summaries(&state, &query, start, limit)
}

async fn delete_search(
    State(state): Shared,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let query = or_answer!(parse_query(&params));
    let ids: Vec<String> = state
        .read()
        .newest_first()
        .filter(|e| query.matches(e))
        .map(|e| e.id.clone())
        .collect();
    state::delete(&state, Some(&ids));
    ok()
}

/// A request body's fields by lower-case name (Mailpit's JSON decoder matches names without
/// regard to case): JSON, or a form (`ids=a&ids=b&read=true`, as some clients send).
struct Fields(HashMap<String, Value>);

impl Fields {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Option<Fields>, String> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if form {
            return Ok(Some(Fields(form_fields(body))));
        }
        match serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())? {
            Value::Object(map) => Ok(Some(Fields(
                map.into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
            ))),
            _ => Err("the body must be a JSON object".to_owned()),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(format!("{key}: expected strings, got {other}")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(other) => Err(format!("{key}: expected a list of strings, got {other}")),
        }
    }

    fn string(&self, key: &str) -> Option<String> {
        match self.0.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(items)) => items.first().and_then(|v| v.as_str()).map(str::to_owned),
            _ => None,
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(_)) | Some(Value::Array(_)) if self.string(key).is_some() => {
                let s = self.string(key).unwrap_or_default();
                match s.to_ascii_lowercase().as_str() {
                    "true" | "1" => Ok(Some(true)),
                    "false" | "0" => Ok(Some(false)),
                    _ => Err(format!("{key}: expected true or false, got {s:?}")),
                }
            }
            Some(other) => Err(format!("{key}: expected true or false, got {other}")),
        }
    }
}

fn form_fields(body: &[u8]) -> HashMap<String, Value> {
    let mut fields: HashMap<String, Value> = HashMap::new();
    for pair in body.split(|&b| b == b'&') {
        let mut kv = pair.splitn(2, |&b| b == b'=');
        let key = percent_decode(kv.next().unwrap_or_default()).to_ascii_lowercase();
        let value = percent_decode(kv.next().unwrap_or_default());
        if key.is_empty() {
            continue;
        }
        if let Value::Array(items) = fields
            .entry(key)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            items.push(Value::String(value));
        }
    }
    fields
}

fn percent_decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < text.len() => {
                let hex = std::str::from_utf8(&text[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `PUT /api/v1/messages`: `{"IDs": [...], "Read": true}`, or `{"Search": "..."}`, or
/// neither (every message).
async fn set_read(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let fields = match Fields::parse(&headers, &body) {
        Ok(Some(fields)) => fields,
        Ok(None) => return bad_request("EOF"),
        Err(error) => return bad_request(error),
    };
    let (ids, read) = match (fields.strings("ids"), fields.boolean("read")) {
        (Ok(ids), Ok(read)) => (ids.unwrap_or_default(), read.unwrap_or(false)),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let search = fields.string("search").unwrap_or_default();
    if !ids.is_empty() && !search.trim().is_empty() {
        return bad_request("You may specify either IDs or a search query, not both");
    }
    let ids = if !search.trim().is_empty() {
        let query = match Query::parse(&search) {
            Ok(query) => query,
            Err(error) => return bad_request(error.to_string()),
        };
        state
            .read()
            .newest_first()
            .filter(|e| query.matches(e))
            .map(|e| e.id.clone())
            .collect()
    } else if ids.is_empty() {
        state.read().ids()
    } else {
        ids
    };
    state::set_read(&state, &ids, read);
    ok()
}

/// `DELETE /api/v1/messages`: `{"IDs": [...]}`, or no body for every message. Unlike
/// Mailpit, a body that is not JSON is refused (400) rather than taken as "delete all".
async fn delete_messages(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let ids = match Fields::parse(&headers, &body) {
        Ok(None) => None,
        Ok(Some(fields)) => match fields.strings("ids") {
            Ok(ids) => ids.filter(|ids| !ids.is_empty()),
            Err(error) => return bad_request(error),
        },
        Err(error) => return bad_request(error),
    };
    state::delete(&state, ids.as_deref());
    ok()
}

/// The entry for `{ID}` (or `latest`, optionally `?query=`), cloned out of the lock.
pub fn find(
    state: &WebState,
    id: &str,
    params: &HashMap<String, String>,
) -> Result<Entry, Response> {
    let index = state.read();
    if id == "latest" {
        let query = match params.get("query").filter(|q| !q.trim().is_empty()) {
            Some(text) => Query::parse(text).map_err(|e| bad_request(e.to_string()))?,
            None => Query::default(),
        };
        return index
            .newest_first()
            .find(|e| query.matches(e))
            .cloned()
            .ok_or_else(|| (StatusCode::NOT_FOUND, "Message not found").into_response());
    }
    index.get(id).cloned().ok_or_else(not_found)
}

/// The octets of a message as received: from memory, or from the Maildir.
pub async fn load_raw(location: &Location) -> Option<Vec<u8>> {
    if let Some(message) = location.memory.upgrade() {
        return Some(message.raw.clone());
    }
    let path = location.raw_path.clone()?;
    tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .ok()?
        .ok()
}

/// The entry and its octets, or the answer to give.
pub async fn entry_and_raw(
    state: &WebState,
    id: &str,
    params: &HashMap<String, String>,
) -> Result<(Entry, Vec<u8>), Response> {
    let entry = find(state, id, params)?;
    match load_raw(&entry.location).await {
        Some(raw) => Ok((entry, raw)),
        // Listed but gone (evicted from memory between the lookup and now).
        None => Err(not_found()),
    }
}

async fn message(
    State(state): Shared,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let (entry, raw) = or_answer!(entry_and_raw(&state, &id, &params).await);
    state::set_read(&state, std::slice::from_ref(&entry.id), true);
    json(&MessageJson::of(&entry, &raw))
}

async fn headers(
    State(state): Shared,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let (entry, raw) = or_answer!(entry_and_raw(&state, &id, &params).await);
    let mut trace = vec![("Return-Path".to_owned(), format!("<{}>", entry.return_path))];
    for recipient in recipients_of(&entry).await {
        trace.push(("Delivered-To".to_owned(), recipient));
    }
    json(&headers_json(&trace, &raw))
}

/// The envelope recipients: from memory, or the delivered copy's `X-Original-To` fields.
async fn recipients_of(entry: &Entry) -> Vec<String> {
    if let Some(message) = entry.location.memory.upgrade() {
        return message
            .rcpt_to()
            .iter()
            .map(|r| super::index::strip_angles(r).to_owned())
            .collect();
    }
    let Some(path) = entry.location.delivered.clone() else {
        return Vec::new();
    };
    tokio::task::spawn_blocking(move || {
        let Ok(text) = std::fs::read(&path) else {
            return Vec::new();
        };
        let header_end = memchr::memmem::find(&text, b"\n\n").unwrap_or(text.len());
        String::from_utf8_lossy(&text[..header_end])
            .lines()
            .filter_map(|line| line.strip_prefix("X-Original-To:"))
            .map(|v| super::index::strip_angles(v.trim()).to_owned())
            .collect()
    })
    .await
    .unwrap_or_default()
}

async fn raw(
    State(state): Shared,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let (entry, raw) = or_answer!(entry_and_raw(&state, &id, &params).await);
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, ui::MESSAGE_CSP),
        ],
        raw,
    )
        .into_response();
    if params.get("dl").is_some_and(|v| v == "1" || v == "true") {
        if let Ok(value) = format!("attachment; filename=\"{}.eml\"", entry.id).parse() {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
    }
    response
}

/// Media types a browser would run script in: served as downloads, never shown.
const ACTIVE_TYPES: &[&str] = &[
    "text/html",
    "text/xml",
    "application/xhtml+xml",
    "image/svg+xml",
    "application/xml",
    "text/xsl",
];

async fn part(
    State(state): Shared,
    Path((id, part_id)): Path<(String, String)>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let (_, raw) = or_answer!(entry_and_raw(&state, &id, &params).await);
    let Some(message) = mail_parser::MessageParser::default().parse(&raw) else {
        return not_found();
    };
    let Some((info, content)) = mime::part_content(&message, &part_id) else {
        return not_found();
    };
    let name = if info.file_name.is_empty() {
        &info.content_id
    } else {
        &info.file_name
    };
    let active = ACTIVE_TYPES.contains(&info.content_type.as_str());
    let download = active || params.get("dl").is_some_and(|v| v == "1");
    let (content_type, disposition) = if active {
        ("application/octet-stream".to_owned(), "attachment")
    } else if download {
        (info.content_type.clone(), "attachment")
    } else {
        (info.content_type.clone(), "inline")
    };
    let disposition = format!(
        "{disposition}; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_fallback(name),
        percent_encode(name)
    );
    let mut response = content.to_vec().into_response();
    let headers = response.headers_mut();
    if let Ok(value) = content_type.parse() {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = disposition.parse() {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(ui::MESSAGE_CSP),
    );
    response
}

fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn parts(
    State(state): Shared,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let (_, raw) = or_answer!(entry_and_raw(&state, &id, &params).await);
    match mail_parser::MessageParser::default().parse(&raw) {
        Some(message) => json(&mime::parts(&message)),
        None => json(&Vec::<mime::PartInfo>::new()),
    }
}

/// The session that delivered a message: in memory while held, else its file in the
/// Maildir's `sessions/` (through `transcripts/<id>.json`).
async fn session_json_of(state: &WebState, entry: &Entry) -> Option<Value> {
    if let Some(record) = entry.session_id.and_then(|id| state.mailbox.session(id)) {
        return serde_json::to_value(&*record).ok();
    }
    let maildir = state.mailbox.maildir()?;
    let link = maildir
        .root()
        .join("transcripts")
        .join(format!("{}.json", entry.id));
    let text = tokio::task::spawn_blocking(move || std::fs::read(link))
        .await
        .ok()?
        .ok()?;
    serde_json::from_slice(&text).ok()
}

/// This tool's own: the transcript of the session that delivered the message, with its
/// check results (`?format=text`: the transcript with failed checks marked under their
/// lines). 404 while that session is still open.
async fn transcript(
    State(state): Shared,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let entry = or_answer!(find(&state, &id, &params));
    if params.get("format").is_some_and(|f| f == "text") {
        if let Some(record) = entry.session_id.and_then(|id| state.mailbox.session(id)) {
            return (
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                record.marked_transcript(),
            )
                .into_response();
        }
    }
    match session_json_of(&state, &entry).await {
        Some(session) => json(&session),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "the session of this message is still open, or no longer held",
        )
            .into_response(),
    }
}

/// This tool's own: the message's check results (docs/checks.md).
async fn checks(
    State(state): Shared,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let entry = or_answer!(find(&state, &id, &params));
    match entry.location.memory.upgrade() {
        Some(message) => match message.checks() {
            Some(report) => json(report),
            None => json(&smtp_conformance::judge_message(message.check_input())),
        },
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "checks are kept while the message is held in memory; its session's file has them",
        )
            .into_response(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SessionSummary {
    #[serde(rename = "ID")]
    id: u64,
    listener: String,
    peer: String,
    started: String,
    duration_ms: u64,
    messages: u64,
    close_reason: Option<String>,
    checks: super::index::CheckCounts,
}

/// This tool's own: finished sessions held in memory, newest first (`?messages=0`: only
/// those that stored nothing: refused, broken off).
async fn sessions(
    State(state): Shared,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let (start, limit) = page(&params);
    let only_empty = params.get("messages").is_some_and(|v| v == "0");
    let list: Vec<SessionSummary> = state
        .mailbox
        .sessions()
        .iter()
        .rev()
        .filter(|s| !only_empty || s.message_count == 0)
        .skip(start)
        .take(limit)
        .map(|s| {
            let counts = s.checks.counts();
            SessionSummary {
                id: s.id,
                listener: s.listener.to_string(),
                peer: s.peer.to_string(),
                started: crate::events::rfc3339(s.started_at),
                duration_ms: s.duration_ms,
                messages: s.message_count,
                close_reason: s
                    .close_reason
                    .as_ref()
                    .and_then(|r| serde_json::to_value(r).ok())
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    }),
                checks: super::index::CheckCounts {
                    fail: counts.fail,
                    warn: counts.warn,
                },
            }
        })
        .collect();
    json(&list)
}

async fn session(
    State(state): Shared,
    Path(id): Path<u64>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let Some(record) = state.mailbox.session(id) else {
        return not_found();
    };
    if params.get("format").is_some_and(|f| f == "text") {
        return (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            record.marked_transcript(),
        )
            .into_response();
    }
    json(&*record)
}

async fn tags(State(state): Shared) -> Response {
    json(&state.read().tags().into_keys().collect::<Vec<_>>())
}

/// `PUT /api/v1/tags`: `{"Tags": [...], "IDs": [...]}` replaces those messages' tags.
async fn set_tags(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let fields = match Fields::parse(&headers, &body) {
        Ok(Some(fields)) => fields,
        Ok(None) => return bad_request("EOF"),
        Err(error) => return bad_request(error),
    };
    let (tags, ids) = match (fields.strings("tags"), fields.strings("ids")) {
        (Ok(tags), Ok(ids)) => (tags.unwrap_or_default(), ids.unwrap_or_default()),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    {
        let mut index = state.write();
        for id in &ids {
            index.set_tags(id, &tags);
        }
    }
    state.announce("prune", &());
    ok()
}

async fn rename_tag(
    State(state): Shared,
    Path(tag): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match Fields::parse(&headers, &body) {
        Ok(Some(fields)) => fields,
        Ok(None) => return bad_request("EOF"),
        Err(error) => return bad_request(error),
    };
    let Some(name) = fields.string("name").filter(|n| !n.trim().is_empty()) else {
        return bad_request("Name: the new tag name is missing");
    };
    state.write().rename_tag(&tag, Some(name.trim()));
    state.announce("prune", &());
    ok()
}

async fn delete_tag(State(state): Shared, Path(tag): Path<String>) -> Response {
    state.write().rename_tag(&tag, None);
    state.announce("prune", &());
    ok()
}

async fn chaos(State(state): Shared) -> Response {
    json(&state.chaos.triggers())
}

/// `PUT /api/v1/chaos`: any of Sender, Recipient, Authentication; those left out reset.
async fn set_chaos(State(state): Shared, body: Bytes) -> Response {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Wanted {
        sender: Option<crate::scenario::chaos::Trigger>,
        recipient: Option<crate::scenario::chaos::Trigger>,
        authentication: Option<crate::scenario::chaos::Trigger>,
    }
    let wanted: Wanted = if body.iter().all(u8::is_ascii_whitespace) {
        return bad_request("EOF");
    } else {
        match serde_json::from_slice(&body) {
            Ok(wanted) => wanted,
            Err(error) => return bad_request(error.to_string()),
        }
    };
    let defaults = Triggers::default();
    let off = |t: crate::scenario::chaos::Trigger| crate::scenario::chaos::Trigger {
        probability: 0,
        ..t
    };
    let triggers = Triggers {
        sender: wanted.sender.unwrap_or(off(defaults.sender)),
        recipient: wanted.recipient.unwrap_or(off(defaults.recipient)),
        authentication: wanted
            .authentication
            .unwrap_or(off(defaults.authentication)),
    };
    match state.chaos.set(triggers) {
        Ok(set) => json(&set),
        Err(error) => bad_request(error.to_string()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListenerScenario {
    listener: String,
    address: String,
    scenario: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ScenarioList {
    listeners: Vec<ListenerScenario>,
    built_in: Vec<&'static str>,
}

/// This tool's own: what each listener plays, and the built-in scenarios.
async fn scenarios(State(state): Shared) -> Response {
    let current = state
        .scenarios
        .as_ref()
        .map(|s| s.current())
        .unwrap_or_default();
    let listeners = current
        .into_iter()
        .map(|(listener, scenario)| ListenerScenario {
            address: state
                .listeners
                .iter()
                .find(|(name, _)| *name == listener)
                .map(|(_, a)| a.to_string())
                .unwrap_or_default(),
            listener,
            scenario,
        })
        .collect();
    json(&ScenarioList {
        listeners,
        built_in: crate::scenario::builtin::BUILTIN
            .iter()
            .map(|(name, _)| *name)
            .collect(),
    })
}

/// This tool's own: `PUT /api/v1/scenarios/{listener}` with `{"Scenario": "NAME"}` (a
/// built-in), `{"Yaml": "..."}` (a scenario's text), or `{"Scenario": null}` (the RFC
/// default): played from the listener's next session.
async fn switch_scenario(
    State(state): Shared,
    Path(listener): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(switch) = &state.scenarios else {
        return not_found();
    };
    let fields = match Fields::parse(&headers, &body) {
        Ok(Some(fields)) => fields,
        Ok(None) => return bad_request("EOF"),
        Err(error) => return bad_request(error),
    };
    let scenario = if let Some(yaml) = fields.string("yaml") {
        match Scenario::from_yaml("api", &yaml) {
            Ok(scenario) => Some(Arc::new(scenario)),
            Err(error) => return bad_request(error.to_string()),
        }
    } else if let Some(name) = fields.string("scenario") {
        if crate::scenario::builtin::get(&name).is_none() {
            return bad_request(format!(
                "{name:?} is not a built-in scenario (GET /api/v1/scenarios lists them)"
            ));
        }
        match Scenario::load(&name) {
            Ok(scenario) => Some(Arc::new(scenario)),
            Err(error) => return bad_request(error.to_string()),
        }
    } else {
        None
    };
    match switch.switch(&listener, scenario) {
        Ok(()) => ok(),
        Err(error) => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            error.to_string(),
        )
            .into_response(),
    }
}

/// This tool's own: `GET /api/v1/wait?query=...&timeout=30s[&since=ID]` answers with the
/// newest matching message (a Mailpit message summary) as soon as there is one: at once if
/// one is listed (after `since`, when given), else when one arrives; 408 at the timeout.
async fn wait(
    State(state): Shared,
    QueryParams(params): QueryParams<HashMap<String, String>>,
) -> Response {
    let query = match params.get("query").filter(|q| !q.trim().is_empty()) {
        Some(text) => match Query::parse(text) {
            Ok(query) => query,
            Err(error) => return bad_request(error.to_string()),
        },
        None => Query::default(),
    };
    let timeout = match params.get("timeout") {
        Some(text) => match crate::duration::parse_duration(text) {
            Ok(timeout) if timeout <= MAX_WAIT => timeout,
            Ok(_) => return bad_request(format!("timeout: at most {}s", MAX_WAIT.as_secs())),
            Err(error) => return bad_request(format!("timeout: {error}")),
        },
        None => Duration::from_secs(30),
    };
    let since = match params.get("since") {
        Some(id) => match state.read().get(id) {
            Some(entry) => Some(entry.created),
            None => return bad_request(format!("since: no message {id:?}")),
        },
        None => None,
    };
    let newest_match = |state: &WebState| -> Option<Response> {
        let index = state.read();
        let found = index
            .newest_first()
            .take_while(|e| since.is_none_or(|t: SystemTime| e.created > t))
            .find(|e| query.matches(e) && Some(&e.id) != params.get("since"))
            .map(|e| json(&MessageSummary::of(e)));
        found
    };
    let mut indexed = state.indexed.subscribe();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(found) = newest_match(&state) {
            return found;
        }
        match tokio::time::timeout_at(deadline, indexed.changed()).await {
            Ok(Ok(())) => continue,
            _ => {
                return (
                    StatusCode::REQUEST_TIMEOUT,
                    [(header::CONTENT_TYPE, "text/plain")],
                    format!("no matching message within {timeout:?}"),
                )
                    .into_response()
            }
        }
    }
}

const MAX_WAIT: Duration = Duration::from_secs(600);

/// `POST /api/v1/message/{ID}/release` with `{"To": [...]}`: sends the message to the
/// `--relay` server with this project's SMTP client; the relay session's transcript is
/// answered and kept ([`relay`]).
async fn release(
    State(state): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(config) = state.relay.clone() else {
        return bad_request("no relay is configured (start with --relay HOST:PORT)");
    };
    let (entry, raw) = or_answer!(entry_and_raw(&state, &id, &HashMap::new()).await);
    let fields = match Fields::parse(&headers, &body) {
        Ok(Some(fields)) => fields,
        Ok(None) => return bad_request("EOF"),
        Err(error) => return bad_request(error),
    };
    let to = match fields.strings("to") {
        Ok(Some(to)) if !to.is_empty() => to,
        Ok(_) => return bad_request("No valid addresses found"),
        Err(error) => return bad_request(error),
    };
    if let Some(bad) = to.iter().find(|a| !relay::plausible_address(a)) {
        return bad_request(format!("Invalid email address: {bad}"));
    }
    let (transcript, result) = relay::release(&config, &entry, &raw, &to).await;
    state.keep_release(state::Release {
        id: entry.id.clone(),
        relay: config.address.clone(),
        to,
        time: crate::events::rfc3339(SystemTime::now()),
        error: result.as_ref().err().map(ToString::to_string),
        transcript,
    });
    match result {
        Ok(()) => ok(),
        Err(error) => bad_request(format!("SMTP error: {error}")),
    }
}

/// This tool's own: the last releases, newest first, each with its session's transcript.
async fn releases(State(state): Shared) -> Response {
    let releases = crate::lock(&state.releases);
    json(&releases.iter().rev().collect::<Vec<_>>())
}

/// `/api/events`: Mailpit's WebSocket of `new`, `update`, `delete`, `truncate`, `prune`
/// and `stats` events, one JSON object per frame.
async fn events(State(state): Shared, upgrade: WebSocketUpgrade) -> Response {
    // Subscribers send nothing but pings and a close: tungstenite's default 128 KiB read
    // buffer was zeroed on every wake of the task (each frame sent), for nothing.
    upgrade
        .read_buffer_size(EVENTS_READ_BUFFER)
        .on_upgrade(move |socket| stream_events(state, socket))
}

/// The events WebSocket's read buffer, in octets (a larger client frame still arrives, in
/// several reads).
const EVENTS_READ_BUFFER: usize = 4096;

async fn stream_events(state: Arc<WebState>, mut socket: WebSocket) {
    let mut rx = state.events.subscribe();
    // As Mailpit: the counts first.
    state.announce_stats();
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Ok(frame) => {
                    if socket.send(WsMessage::Text(frame.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                // A subscriber too slow for the backlog misses frames; the `stats` that
                // follow tell it the counts again.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_as_clients_send_them() {
        let fields = form_fields(b"ids=a%20b&ids=c&Read=true&x");
        assert_eq!(
            fields.get("ids"),
            Some(&Value::Array(vec![
                Value::String("a b".into()),
                Value::String("c".into())
            ]))
        );
        assert!(fields.contains_key("read"));
        assert_eq!(percent_decode(b"%E4%BD%A0+x%"), "你 x%");
    }

    #[test]
    fn file_names_are_safe_in_headers() {
        assert_eq!(ascii_fallback("报告 \"a\".pdf"), "__ _a_.pdf");
        assert_eq!(percent_encode("a b.pdf"), "a%20b.pdf");
    }
}
