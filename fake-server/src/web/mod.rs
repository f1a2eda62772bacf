//! The web sink: an HTTP API compatible with Mailpit's (`/api/v1`), this tool's own API
//! (transcripts, check results, sessions, scenarios, waiting), the `/api/events` WebSocket,
//! and a web UI, all served by the `fake-smtp serve` process on `127.0.0.1:8025` by default.
//! docs/web.md describes every endpoint.
//!
//! - [`index`]: the list of messages (newest first, read state, tags), fed by [`state`];
//! - [`entry`], [`mime`]: what is read from a message to list, search and show it;
//! - [`search`]: Mailpit's query syntax;
//! - [`mailpit`]: Mailpit's JSON shapes; [`json`]: the `new` event's, written by hand;
//! - [`api`]: the handlers; [`ui`]: the embedded UI and the message views;
//! - [`restore`]: the index rebuilt from a Maildir at start;
//! - [`relay`]: releasing a message to a real server.

pub mod api;
pub mod entry;
pub mod index;
pub mod json;
pub mod mailpit;
pub mod mime;
pub mod openapi;
pub mod relay;
pub mod restore;
pub mod search;
pub mod state;
pub mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ServerError;
use crate::mailbox::Mailbox;
use crate::scenario::chaos::Chaos;
use crate::server::ScenarioSwitch;
pub use relay::{RelayConfig, RelayTls};
use state::WebState;

/// Where and how the web sink is served.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub address: SocketAddr,
    /// Basic authentication for the API and the UI (`--http-auth USER:PASSWORD`).
    pub auth: Option<(String, String)>,
    /// Where `release` sends messages (`--relay HOST:PORT`).
    pub relay: Option<RelayConfig>,
    /// A default address rather than one asked for: when it is taken (another sink already
    /// runs there), the server goes on without the web sink, with a warning.
    pub optional: bool,
}

impl WebConfig {
    pub fn new(address: SocketAddr) -> WebConfig {
        WebConfig {
            address,
            auth: None,
            relay: None,
            optional: false,
        }
    }
}

/// The running web sink, on a thread of its own; dropping it stops it (and waits for the
/// thread, so that its port is free again when the drop returns).
///
/// Why a thread: the API's handlers run to completion once started, and a search or a list
/// over a large mailbox takes tens of milliseconds (docs/benchmarks.md). On the SMTP
/// sessions' thread every client waited that long for its next reply: one client sending
/// 1 KiB messages went from 2,792 to 14 msg/s while another searched 100,000 messages back
/// to back (`sudo ci/bench-web.sh`'s last rows; now 2,813). The WebSocket's writes, the HTTP parsing
/// and the UI's assets no longer take the sessions' thread either.
#[derive(Debug)]
pub struct WebHandle {
    pub address: SocketAddr,
    pub state: Arc<WebState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for WebHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long a stopping web sink waits for its blocking work (a file being read for a
/// response) before its thread ends anyway.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Binds the web sink's address, attaches its index to the mailbox and starts serving it on
/// its own thread. `Ok(None)`: the address was optional and taken.
pub fn start(
    config: WebConfig,
    mailbox: Arc<Mailbox>,
    chaos: Arc<Chaos>,
    scenarios: Option<Arc<ScenarioSwitch>>,
    listeners: Vec<(String, SocketAddr)>,
) -> Result<Option<WebHandle>, ServerError> {
    let (started_tx, started) = std::sync::mpsc::sync_channel(1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The thread owns its runtime from start to end: a runtime may not be dropped on an
    // asynchronous caller's thread.
    let thread = std::thread::Builder::new()
        .name("web".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("web-blocking")
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = started_tx.send(Err(ServerError::WebThread(error)));
                    return;
                }
            };
            let serving = {
                let _entered = runtime.enter();
                serve(config, mailbox, chaos, scenarios, listeners)
            };
            let running = matches!(serving, Ok(Some(_)));
            let _ = started_tx.send(serving);
            if running {
                // Until the handle is dropped (or its sender with it).
                let _ = runtime.block_on(stopped);
            }
            runtime.shutdown_timeout(STOP_WAIT);
        })
        .map_err(ServerError::WebThread)?;
    // Binding and setting up take microseconds; the caller waits for the outcome.
    let serving = started.recv().map_err(|_| {
        ServerError::WebThread(std::io::Error::other(
            "the web sink's thread ended before it started serving",
        ))
    });
    match serving.and_then(|serving| serving) {
        Ok(Some((address, state))) => Ok(Some(WebHandle {
            address,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })),
        not_serving => {
            let _ = thread.join();
            not_serving.map(|_| None)
        }
    }
}

/// [`start`]'s work on the web sink's thread, its runtime entered: everything spawned here
/// (the HTTP server, the event sender, the Maildir's indexer) runs on that runtime.
fn serve(
    config: WebConfig,
    mailbox: Arc<Mailbox>,
    chaos: Arc<Chaos>,
    scenarios: Option<Arc<ScenarioSwitch>>,
    listeners: Vec<(String, SocketAddr)>,
) -> Result<Option<(SocketAddr, Arc<WebState>)>, ServerError> {
    let bind_error = |source| ServerError::Bind {
        listener: "http".to_owned(),
        address: config.address,
        source,
    };
    let listener = match crate::server::bind(config.address) {
        Ok(listener) => listener,
        Err(error) if config.optional && error.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(
                address = %config.address,
                "the web sink's default address is taken (another sink?): no web UI or API \
                 this time; --http ADDR serves it elsewhere"
            );
            return Ok(None);
        }
        Err(error) => return Err(bind_error(error)),
    };
    let address = listener.local_addr().map_err(bind_error)?;
    if !address.ip().is_loopback() && config.auth.is_none() {
        tracing::warn!(
            %address,
            "the web sink is reachable from other machines without a password: anyone who can \
             reach it reads, deletes and relays the mail (set --http-auth USER:PASSWORD)"
        );
    }
    let state = WebState::new(mailbox, chaos, config.relay.clone(), scenarios, listeners);
    state.start_feed();
    let auth = config.auth.as_ref().map(|(user, password)| {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Arc::<str>::from(format!("Basic {token}"))
    });
    let router = api::routes()
        .merge(ui::routes())
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn(same_origin))
        .layer(axum::middleware::from_fn_with_state(
            address.ip().is_loopback(),
            loopback_names_only,
        ))
        .layer(axum::middleware::from_fn_with_state(auth, basic_auth))
        .with_state(Arc::clone(&state));
    tracing::info!(%address, "web sink: UI and API at http://{address}/");
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the web sink stopped");
        }
    });
    Ok(Some((address, state)))
}

/// With `--http-auth`, every request needs the user name and password (HTTP Basic).
async fn basic_auth(
    State(expected): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = expected else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes())) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"fake-smtp\"")],
        "Unauthorised.\n",
    )
        .into_response()
}

/// Bound to loopback, the sink answers only to loopback names in `Host`: a page of a site
/// whose name an attacker points at 127.0.0.1 (DNS rebinding) is, for the browser, of the
/// same origin as the sink; its `Host` still names the attacker's site, and is refused.
async fn loopback_names_only(
    State(loopback): State<bool>,
    request: Request,
    next: Next,
) -> Response {
    if !loopback {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Without the port: `[::1]:8025` → `[::1]`, `localhost:8025` → `localhost`.
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.to_ascii_lowercase();
    let allowed = host.is_empty()
        || name == "localhost"
        || name.ends_with(".localhost")
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if allowed {
        return next.run(request).await;
    }
    tracing::warn!(%host, "web: refused a request for a name that is not this machine's");
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain")],
        "this sink answers to localhost, 127.0.0.1 and [::1] only",
    )
        .into_response()
}

/// Refuses what another site's page could make a browser send here: any request but a
/// plain read, and the events WebSocket (which browsers open across origins without asking),
/// when its `Origin` is not this server. Browsers always send `Origin` with those; curl,
/// test clients and libraries send none and are not concerned. Without this a page the user
/// visits could read the mail's summaries from the WebSocket, or release the latest message
/// to an address of its choosing with a form post.
async fn same_origin(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let reads = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let websocket = headers
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if reads && !websocket {
        return next.run(request).await;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return next.run(request).await;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    if host.is_some_and(|host| host.eq_ignore_ascii_case(origin_host)) {
        return next.run(request).await;
    }
    tracing::warn!(%origin, "web: refused a request from another site's page");
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain")],
        "cross-origin request refused",
    )
        .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Headers on every response: no MIME sniffing, no referrer leaving the UI, and no framing
/// by other sites. Responses that carry message content set their own, stricter
/// Content-Security-Policy ([`ui::MESSAGE_CSP`]); the rest get the UI's.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(ui::UI_CSP),
        );
    }
    response
}
