//! The accept loop of one listener, with the connection limit.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use smtp_protocol::transcript::{CloseReason, Event, Transcript};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::connection::{drive, ListenerContext};
use super::shutdown::{ConnectionTracker, Stage};
use super::stream::{accept, details_of, Connection};
use crate::mailbox::SessionRecord;

/// What all listeners of a server share.
#[derive(Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub tracker: ConnectionTracker,
    pub next_session: AtomicU64,
}

pub async fn accept_loop(listener: TcpListener, ctx: Arc<ListenerContext>, limits: Arc<Limits>) {
    let mut stage = ctx.stage.clone();
    loop {
        tokio::select! {
            changed = stage.changed() => {
                if changed.is_err() || *stage.borrow() != Stage::Running {
                    return;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                    let id = limits.next_session.fetch_add(1, Ordering::Relaxed) + 1;
                    let ctx = Arc::clone(&ctx);
                    if limits.tracker.open() >= limits.max_connections {
                        tokio::spawn(async move { refuse(stream, peer, local, id, &ctx).await });
                    } else {
                        let guard = limits.tracker.enter();
                        tokio::spawn(async move {
                            serve(stream, peer, local, id, &ctx).await;
                            drop(guard);
                        });
                    }
                }
                Err(error) => {
                    // Usually out of file descriptors: wait a little instead of spinning.
                    tracing::warn!(listener = %ctx.name, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Runs a connection: the TLS handshake first on an implicit-TLS listener, then the session.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    id: u64,
    ctx: &ListenerContext,
) {
    if !ctx.implicit_tls {
        return drive(Connection::Plain(stream), peer, local, id, ctx, None).await;
    }
    let Some(tls) = &ctx.tls else {
        return;
    };
    let started = SystemTime::now();
    match accept(stream, &tls.acceptor()).await {
        Ok(tls_stream) => {
            let details = details_of(&tls_stream);
            drive(
                Connection::Tls(Box::new(tls_stream)),
                peer,
                local,
                id,
                ctx,
                Some(details),
            )
            .await;
        }
        Err(error) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            let note = format!("TLS handshake failed: {error}");
            record_short_session(ctx, id, peer, local, started, CloseReason::Error, |t| {
                t.note(Duration::ZERO, None, note);
            })
            .await;
        }
    }
}

/// Records a connection that never became an SMTP session (refused, or its TLS handshake
/// failed) like any session, so that every connection shows in the transcripts.
async fn record_short_session(
    ctx: &ListenerContext,
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    started_at: SystemTime,
    reason: CloseReason,
    fill: impl FnOnce(&mut Transcript),
) {
    let mut transcript = Transcript::new();
    transcript.push(
        Duration::ZERO,
        Event::Connected {
            peer: peer.to_string(),
            local: local.to_string(),
            listener: Some(ctx.name.to_string()),
        },
    );
    fill(&mut transcript);
    transcript.push(Duration::ZERO, Event::Closed { reason });
    let mut checks = smtp_conformance::Report::default();
    if ctx.mailbox.checks() {
        checks = smtp_conformance::judge_session(&transcript);
        checks.merge(smtp_conformance::no_messages());
    }
    ctx.mailbox
        .finish_session(SessionRecord {
            id,
            listener: Arc::clone(&ctx.name),
            peer,
            local,
            started_at,
            duration_ms: 0,
            message_count: 0,
            messages: Vec::new(),
            close_reason: Some(reason),
            transcript,
            checks,
        })
        .await;
}

/// Over the connection limit: `421 4.3.2` and close, recorded like any session.
async fn refuse(
    mut stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    id: u64,
    ctx: &ListenerContext,
) {
    let reply = format!(
        "421 4.3.2 {} Too many connections, try again later\r\n",
        ctx.session_config.hostname
    );
    let written = tokio::time::timeout(Duration::from_secs(5), async {
        stream.write_all(reply.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    let taken = matches!(written, Ok(Ok(())));
    record_short_session(
        ctx,
        id,
        peer,
        local,
        SystemTime::now(),
        CloseReason::TooManyConnections,
        |t| {
            t.server_bytes(Duration::ZERO, reply.as_bytes());
            if !taken {
                t.note(Duration::ZERO, None, "the client did not take the 421");
            }
        },
    )
    .await;
}
