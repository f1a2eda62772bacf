//! The accept loop of one listener, with the connection limits (global and per client
//! address) and the spare descriptor that lets it answer even when out of descriptors.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use smtp_protocol::transcript::{CloseReason, Event, Transcript};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::connection::{drive, ListenerContext};
use super::limits::{
    out_of_descriptors, AcceptTrouble, PerAddress, Refusing, SpareDescriptor, MAX_REFUSING,
};
use super::shutdown::{ConnectionTracker, Stage};
use super::stream::{accept, details_of, Connection};
use crate::mailbox::SessionRecord;

/// What all listeners of a server share.
#[derive(Debug)]
pub struct Limits {
    pub max_connections: usize,
    /// Connections one client address (an IPv6 /64) may have open; 0 means no such limit.
    pub max_connections_per_ip: usize,
    pub tracker: ConnectionTracker,
    pub per_address: PerAddress,
    pub refusing: Refusing,
    pub next_session: AtomicU64,
}

impl Limits {
    pub fn new(max_connections: usize, max_connections_per_ip: usize) -> Limits {
        Limits {
            max_connections,
            max_connections_per_ip,
            tracker: ConnectionTracker::new(),
            per_address: PerAddress::default(),
            refusing: Refusing::default(),
            next_session: AtomicU64::new(0),
        }
    }
}

/// Why a connection is refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// The server's connection limit.
    Global,
    /// The limit of one client address.
    PerAddress(usize),
    /// The process is out of file descriptors (answered with the spare one).
    OutOfDescriptors,
}

impl Refusal {
    fn reply(self, hostname: &str, peer: SocketAddr) -> String {
        match self {
            Refusal::Global => {
                format!("421 4.3.2 {hostname} Too many connections, try again later\r\n")
            }
            Refusal::PerAddress(max) => format!(
                "421 4.7.0 {hostname} Too many connections from {} (at most {max} per \
                 address), try again later\r\n",
                peer.ip().to_canonical()
            ),
            Refusal::OutOfDescriptors => format!(
                "421 4.3.2 {hostname} Out of resources (too many open files), try again \
                 later\r\n"
            ),
        }
    }
}

pub async fn accept_loop(listener: TcpListener, ctx: Arc<ListenerContext>, limits: Arc<Limits>) {
    let mut stage = ctx.stage.clone();
    let spare = Arc::new(SpareDescriptor::open());
    let mut trouble = AcceptTrouble::default();
    loop {
        tokio::select! {
            changed = stage.changed() => {
                if changed.is_err() || *stage.borrow() != Stage::Running {
                    return;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    trouble.accepted(&ctx.name);
                    admit(stream, peer, &ctx, &limits);
                }
                Err(error) => {
                    if out_of_descriptors(&error) && spare.release() {
                        // The spare's descriptor is free now: take the waiting client with
                        // it, answer 421 and close; the spare is opened again after that.
                        let taken = tokio::time::timeout(SPARE_ACCEPT, listener.accept()).await;
                        if let Ok(Ok((stream, peer))) = taken {
                            trouble.answered_with_spare();
                            let ctx = Arc::clone(&ctx);
                            let limits = Arc::clone(&limits);
                            let spare = Arc::clone(&spare);
                            tokio::spawn(async move {
                                refuse(stream, peer, &ctx, &limits, Refusal::OutOfDescriptors)
                                    .await;
                                spare.restore();
                            });
                            continue;
                        }
                        spare.restore();
                    }
                    // Out of descriptors with the spare in use, or another error: pause, longer
                    // each time, instead of spinning; warn once every few seconds.
                    let pause = trouble.failed(&ctx.name, &error);
                    tokio::time::sleep(pause).await;
                    // A refusal may have given the spare back meanwhile; if not, try now.
                    spare.restore();
                }
            }
        }
    }
}

/// How long to wait for the client whose arrival made `accept` fail, once the spare
/// descriptor is freed (it is waiting in the backlog: the wait is only a safety bound).
const SPARE_ACCEPT: Duration = Duration::from_millis(100);

/// Serves an accepted connection, or refuses it when a limit is reached.
fn admit(stream: TcpStream, peer: SocketAddr, ctx: &Arc<ListenerContext>, limits: &Arc<Limits>) {
    let _ = stream.set_nodelay(true);
    let refusal = if limits.tracker.open() >= limits.max_connections {
        Err(Refusal::Global)
    } else if limits.max_connections_per_ip == 0 {
        Ok(None)
    } else {
        match limits
            .per_address
            .try_enter(peer.ip(), limits.max_connections_per_ip)
        {
            Some(guard) => Ok(Some(guard)),
            None => Err(Refusal::PerAddress(limits.max_connections_per_ip)),
        }
    };
    let ctx = Arc::clone(ctx);
    match refusal {
        Ok(address_guard) => {
            let id = limits.next_session.fetch_add(1, Ordering::Relaxed) + 1;
            let local = local_of(&stream);
            let guard = limits.tracker.enter();
            let fut = async move {
                serve(stream, peer, local, id, &ctx).await;
                drop(guard);
                drop(address_guard);
            };
            tokio::spawn(fut);
        }
        Err(refusal) => {
            let limits = Arc::clone(limits);
            tokio::spawn(async move { refuse(stream, peer, &ctx, &limits, refusal).await });
        }
    }
}

fn local_of(stream: &TcpStream) -> SocketAddr {
    stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
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
    // The handshake's state lives in a box of its own: in place, it would make every plain
    // connection's task as large as a TLS handshake.
    Box::pin(serve_implicit_tls(stream, peer, local, id, ctx)).await;
}

/// [`serve`] on an implicit-TLS listener.
async fn serve_implicit_tls(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    id: u64,
    ctx: &ListenerContext,
) {
    let Some(tls) = &ctx.tls else {
        return;
    };
    let started = SystemTime::now();
    match accept(stream, &tls.acceptor(), ctx.tls_handshake_timeout).await {
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
            });
        }
    }
}

/// Records a connection that never became an SMTP session (refused, or its TLS handshake
/// failed) like any session, so that every connection shows in the transcripts.
fn record_short_session(
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
    ctx.record(SessionRecord {
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
        checks: smtp_conformance::Report::default(),
    });
}

/// Over a limit: `421` and close, recorded like any session. On an implicit-TLS listener the
/// 421 is sent inside TLS, after a handshake bounded by the TLS handshake timeout: a TLS
/// client cannot read a plaintext reply (it sees a TLS record error, not the 421).
async fn refuse(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: &ListenerContext,
    limits: &Limits,
    refusal: Refusal,
) {
    let local = local_of(&stream);
    let id = limits.next_session.fetch_add(1, Ordering::Relaxed) + 1;
    let started = SystemTime::now();
    let reply = refusal.reply(&ctx.play().session_config.hostname, peer);
    let mut notes = Vec::new();
    match refusal {
        Refusal::Global => {}
        Refusal::PerAddress(max) => notes.push(format!(
            "{} already has {max} connections open (--max-connections-per-ip)",
            peer.ip().to_canonical()
        )),
        Refusal::OutOfDescriptors => notes
            .push("the server is out of file descriptors; answered with its spare one".to_owned()),
    }
    let mut tls_established = None;
    // None: no 421 was written; else whether the client took it.
    let mut sent = None;
    if let Some(_refusing) = limits.refusing.try_enter() {
        match (&ctx.tls, ctx.implicit_tls) {
            (Some(tls), true) => {
                match accept(stream, &tls.acceptor(), ctx.tls_handshake_timeout).await {
                    Ok(mut tls_stream) => {
                        tls_established = Some(details_of(&tls_stream));
                        sent = Some(write_and_close(&mut tls_stream, &reply).await);
                    }
                    Err(error) => notes.push(format!("TLS handshake failed: {error}")),
                }
            }
            _ => {
                let mut stream = stream;
                sent = Some(write_and_close(&mut stream, &reply).await);
            }
        }
    } else {
        notes.push(format!(
            "closed without a reply: {MAX_REFUSING} refusals were already under way"
        ));
        drop(stream);
    }
    record_short_session(
        ctx,
        id,
        peer,
        local,
        started,
        CloseReason::TooManyConnections,
        |t| {
            if let Some(details) = tls_established {
                t.push(
                    Duration::ZERO,
                    Event::TlsEstablished {
                        version: details.version,
                        cipher: details.cipher,
                        sni: details.sni,
                    },
                );
            }
            if let Some(taken) = sent {
                t.server_bytes(Duration::ZERO, reply.as_bytes());
                if !taken {
                    t.note(Duration::ZERO, None, "the client did not take the 421");
                }
            }
            for note in notes {
                t.note(Duration::ZERO, None, note);
            }
        },
    );
}

/// Writes a refusal and closes (a TLS stream with its close_notify); false if the client did
/// not take it within a few seconds.
async fn write_and_close(stream: &mut (impl AsyncWrite + Unpin), reply: &str) -> bool {
    let written = tokio::time::timeout(REFUSAL_WRITE, async {
        stream.write_all(reply.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    matches!(written, Ok(Ok(())))
}

/// How long a refused client has to take its 421.
const REFUSAL_WRITE: Duration = Duration::from_secs(5);
