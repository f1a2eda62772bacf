//! The web UI (one page, its script and style, embedded in the binary: no CDN, nothing
//! fetched at run time) and the message views it frames: `/view/{ID}.html` and `.txt`.
//!
//! HTML mail is hostile content in this origin. Every response that carries message
//! content gets [`MESSAGE_CSP`]: `sandbox` gives the document an opaque origin (no access to
//! the UI, its storage or its API) and forbids script; `default-src 'none'` forbids remote
//! loads, so remote images stay blocked unless the user asks (`?remote=1`, which only
//! widens `img-src`). The UI frames the view in an `<iframe sandbox>` as well.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::api::{entry_and_raw, not_found};
use super::mime::{self, PartKind};
use super::state::{self, WebState};

/// The UI's own policy: only its own script, style and API; frames only its own views.
pub const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; frame-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Message content: sandboxed (opaque origin, no script), nothing loaded from elsewhere.
pub const MESSAGE_CSP: &str = "sandbox; default-src 'none'; img-src 'self' data:; \
style-src 'unsafe-inline'; font-src data:; frame-ancestors 'self'";

/// As [`MESSAGE_CSP`], with remote images allowed (the user asked to load them).
const MESSAGE_CSP_REMOTE_IMAGES: &str = "sandbox; default-src 'none'; img-src * data:; \
style-src 'unsafe-inline'; font-src data:; frame-ancestors 'self'";

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/", get(index))
        .route("/assets/app.js", get(app_js))
        .route("/assets/app.css", get(app_css))
        .route("/view/{file}", get(view))
}

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

async fn app_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_JS,
    )
        .into_response()
}

async fn app_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_CSS,
    )
        .into_response()
}

/// `/view/{ID}.html`: the HTML part, `cid:` references pointing at the inline parts;
/// `/view/{ID}.txt`: the text. Both mark the message read, as Mailpit's do.
async fn view(
    State(state): State<Arc<WebState>>,
    Path(file): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (id, html) = match (file.strip_suffix(".html"), file.strip_suffix(".txt")) {
        (Some(id), _) => (id, true),
        (_, Some(id)) => (id, false),
        _ => return not_found(),
    };
    let (entry, raw) = match entry_and_raw(&state, id, &params).await {
        Ok(found) => found,
        Err(_) => return (StatusCode::NOT_FOUND, "Message not found").into_response(),
    };
    state::set_read(&state, std::slice::from_ref(&entry.id), true);
    let Some(message) = mail_parser::MessageParser::default().parse(&raw) else {
        return (StatusCode::NOT_FOUND, "Message not found").into_response();
    };
    if !html {
        let text = message
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default();
        return (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, MESSAGE_CSP),
            ],
            text,
        )
            .into_response();
    }
    let Some(body) = message
        .html_part(0)
        .filter(|p| p.is_text_html())
        .and_then(|_| message.body_html(0))
    else {
        return (
            StatusCode::NOT_FOUND,
            "This message does not contain a HTML part",
        )
            .into_response();
    };
    let mut body = body.into_owned();
    for part in mime::parts(&message) {
        if part.content_id.is_empty()
            || !matches!(part.kind, PartKind::Inline | PartKind::Attachment)
        {
            continue;
        }
        let url = format!("/api/v1/message/{}/part/{}", entry.id, part.part_id);
        body = replace_cid(&body, &part.content_id, &url);
    }
    let remote = params.get("remote").is_some_and(|v| v == "1");
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                if remote {
                    MESSAGE_CSP_REMOTE_IMAGES
                } else {
                    MESSAGE_CSP
                },
            ),
        ],
        body,
    )
        .into_response()
}

/// Replaces `cid:ID` (case-insensitive scheme, optional angle brackets) with `url`.
fn replace_cid(html: &str, content_id: &str, url: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let needles = [
        format!("cid:{}", content_id.to_ascii_lowercase()),
        format!("cid:<{}>", content_id.to_ascii_lowercase()),
    ];
    let mut at = 0;
    while at < html.len() {
        let next = needles
            .iter()
            .filter_map(|n| lower[at..].find(n.as_str()).map(|i| (at + i, n.len())))
            .min();
        match next {
            Some((start, len)) => {
                let end = start + len;
                // Only a whole id: the next character must end the reference.
                let boundary = html[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| matches!(c, '"' | '\'' | ')' | ' ' | '>' | ';' | '/'));
                out.push_str(&html[at..start]);
                if boundary {
                    out.push_str(url);
                } else {
                    out.push_str(&html[start..end]);
                }
                at = end;
            }
            None => {
                out.push_str(&html[at..]);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_references_point_at_parts() {
        assert_eq!(
            replace_cid(
                r#"<img src="cid:Logo@x"><img src='CID:logo@x2'>"#,
                "logo@x",
                "/p/1"
            ),
            r#"<img src="/p/1"><img src='CID:logo@x2'>"#
        );
        assert_eq!(replace_cid("url(cid:<a@b>)", "a@b", "/p/2"), "url(/p/2)");
    }
}
