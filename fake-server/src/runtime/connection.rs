//! The connection driver: the only code that reads and writes a client's socket and reads the
//! clock for a session. It feeds the sans-I/O [`Session`] and carries out its actions.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use smtp_protocol::session::{Action, PeerInfo, Policy, Session, SessionConfig, TlsDetails};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::after_reply::{AfterReply, EndedSession};
use super::deadline::{Deadlines, Expiry};
use super::shutdown::Stage;
use super::stream::{Connection, ReadOutcome, ReadState};
use crate::mailbox::{Mailbox, Origin, SessionRecord, StoredMessage, SESSION_IDS_KEPT};

/// Makes a fresh policy for each session of a listener.
pub trait PolicyFactory: Send + Sync {
    fn policy(&self) -> Box<dyn Policy>;
}

/// The RFC-correct default for every session.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPolicyFactory;

impl PolicyFactory for DefaultPolicyFactory {
    fn policy(&self) -> Box<dyn Policy> {
        Box::new(smtp_protocol::session::DefaultPolicy)
    }
}

/// What every session of one listener shares.
pub struct ListenerContext {
    /// Shared by every message and session record of the listener.
    pub name: Arc<str>,
    /// TLS for STARTTLS or implicit TLS, when the listener has it.
    pub tls: Option<crate::tls::TlsContext>,
    /// TLS from the first octet (RFC 8314).
    pub implicit_tls: bool,
    /// What the listener plays: switched at run time through the web API.
    pub play: std::sync::RwLock<Arc<Play>>,
    /// Chaos triggers over whatever the listener plays (the web API sets them).
    pub chaos: Option<Arc<crate::scenario::chaos::Chaos>>,
    pub mailbox: Arc<Mailbox>,
    /// Judges, announces and records what sessions leave behind, off their thread.
    pub after_reply: Arc<AfterReply>,
    pub stage: watch::Receiver<Stage>,
    /// How long a client may take over a TLS handshake (implicit TLS, STARTTLS, and the
    /// handshake before an over-limit 421 on an implicit-TLS listener).
    pub tls_handshake_timeout: Duration,
    /// Octets per second message content must average after its grace period (see
    /// [`super::deadline`]); 0 turns the rule off.
    pub min_data_rate: u64,
    /// Keep AUTH secrets in the session's transcript as sent; by default they are redacted
    /// once the session is judged ([`ServerBuilder::record_secrets`](crate::ServerBuilder::record_secrets)).
    pub record_secrets: bool,
}

/// A listener's session settings and reply policy, from its scenario or the default; each
/// session takes the one in force when it starts.
pub struct Play {
    pub session_config: Arc<SessionConfig>,
    pub policy: Arc<dyn PolicyFactory>,
    /// The scenario's name, or `None` for the RFC default.
    pub scenario: Option<String>,
}

impl std::fmt::Debug for Play {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Play")
            .field("scenario", &self.scenario)
            .finish_non_exhaustive()
    }
}

impl ListenerContext {
    /// Hands an ended session on to be judged and recorded (its `checks` are filled in
    /// there; AUTH secrets redacted unless `record_secrets`).
    pub fn record(&self, record: SessionRecord) {
        self.after_reply.queue_session(EndedSession {
            record,
            record_secrets: self.record_secrets,
        });
    }

    /// What a session starting now plays.
    pub fn play(&self) -> Arc<Play> {
        Arc::clone(&self.play.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Plays `play` from the next session on.
    pub fn switch(&self, play: Play) {
        *self.play.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(play);
    }
}

impl std::fmt::Debug for ListenerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerContext")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Runs one session to its end, then queues it to be judged and recorded. `tls` is set when
/// the connection is already TLS (implicit TLS).
pub async fn drive(
    mut stream: Connection,
    peer: SocketAddr,
    local: SocketAddr,
    id: u64,
    ctx: &ListenerContext,
    tls: Option<TlsDetails>,
) {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let elapsed = || started.elapsed();
    let origin = Origin {
        session_id: id,
        listener: Arc::clone(&ctx.name),
        peer,
    };
    let play = ctx.play();
    let policy = match &ctx.chaos {
        Some(chaos) => chaos.wrap(play.policy.policy()),
        None => play.policy.policy(),
    };
    let mut session = Session::new(
        Arc::clone(&play.session_config),
        policy,
        PeerInfo {
            peer: crate::text::socket_addr(peer),
            local: crate::text::socket_addr(local),
            tls,
            random: session_random(id),
            unix_time: started_at
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            listener: Some(ctx.name.to_string()),
        },
        Duration::ZERO,
    );
    if let (Some(_), Some(invalid)) = (
        &session.tls(),
        ctx.tls.as_ref().and_then(|t| t.invalid_certificate()),
    ) {
        session.observe(
            Duration::ZERO,
            CERT_CHECK,
            &format!("certificate presented: {invalid}"),
        );
    }
    let mut reading = ReadState::default();
    let mut messages = std::collections::VecDeque::new();
    let mut message_count = 0u64;
    // Messages stored and acknowledged, handed on to be judged once their 250 is written
    // (the checks never delay a reply).
    let mut to_judge: Vec<Arc<StoredMessage>> = Vec::new();
    let mut stage_change: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>> =
        Box::pin(next_stage(ctx.stage.clone()));
    let mut deadlines = Deadlines::new(Instant::now(), ctx.min_data_rate);
    // The timer starts at the shortest timeout the session can have and is moved lazily: when
    // it fires early it is set to the real deadline, and it is only moved at once when the
    // deadline came earlier (see the read branch). Moving a tokio timer to a deadline earlier
    // than every other one wakes the runtime through its event fd: a system call and an
    // extra turn per connection when each entered DATA.
    let config = &play.session_config;
    let idle = tokio::time::sleep(config.command_timeout.min(config.data_timeout));
    tokio::pin!(idle);
    // Timers the session set (`Action::SetTimer`, for output a scenario schedules with
    // `after`): when each is due, and its id. Usually empty; a few at most.
    let mut timers: Vec<(Instant, u64)> = Vec::new();
    'session: loop {
        while let Some(action) = session.poll_action() {
            match action {
                Action::Send(bytes) => {
                    match write_reply(&mut stream, &bytes, session.timeout()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => session.connection_lost(elapsed(), &error.to_string()),
                        Err(_) => session.connection_lost(elapsed(), "write timed out"),
                    }
                    session.recycle(bytes);
                }
                Action::Store(message) => {
                    let since = Instant::now();
                    // Not boxed (once per message), and small: the store boxes its disk write.
                    // The rare or bulky awaits below are boxed: an await's state is part of
                    // every connection's task for its whole life (ci/bench.sh row I).
                    let result = ctx.mailbox.store(*message, &origin).await;
                    deadlines.resumed(since, Instant::now());
                    let result = result.map(|stored| {
                        message_count += 1;
                        if messages.len() == SESSION_IDS_KEPT {
                            messages.pop_front();
                        }
                        messages.push_back(stored.id.clone());
                        let id = stored.id.clone();
                        to_judge.push(stored);
                        id
                    });
                    session.message_stored(elapsed(), result);
                }
                Action::Wait(duration) => {
                    let since = Instant::now();
                    let deadline = since + duration;
                    Box::pin(wait_reading(
                        &mut session,
                        &mut stream,
                        &mut reading,
                        deadline,
                        elapsed,
                    ))
                    .await;
                    // The client waited for the server: its time starts again now.
                    deadlines.resumed(since, Instant::now());
                    session.resume(elapsed());
                }
                Action::StartTls => {
                    let since = Instant::now();
                    let result = match &ctx.tls {
                        Some(tls) => {
                            Box::pin(stream.start_tls(&tls.acceptor(), ctx.tls_handshake_timeout))
                                .await
                        }
                        None => Err("no TLS configured on this listener".to_owned()),
                    };
                    deadlines.resumed(since, Instant::now());
                    match result {
                        Ok(details) => {
                            session.tls_established(elapsed(), details);
                            if let Some(invalid) =
                                ctx.tls.as_ref().and_then(|t| t.invalid_certificate())
                            {
                                session.observe(
                                    elapsed(),
                                    CERT_CHECK,
                                    &format!("certificate presented: {invalid}"),
                                );
                            }
                        }
                        Err(error) => session.tls_failed(elapsed(), &error),
                    }
                }
                Action::Close(mode) => {
                    stream.close(mode).await;
                    break 'session;
                }
                // Only noted here: the select below fires it while reading goes on.
                Action::SetTimer { id, after } => timers.push((Instant::now() + after, id)),
            }
        }
        // Every reply so far is written: now what was acknowledged can be judged.
        hand_on(&ctx.after_reply, &mut to_judge).await;
        let current = *ctx.stage.borrow();
        if current == Stage::Abort || (current == Stage::Draining && session.is_idle()) {
            session.shutdown(elapsed());
            continue;
        }
        let transferring = session.in_transfer();
        if transferring != deadlines.in_transfer() {
            deadlines.phase(Instant::now(), transferring);
        }
        let next_timer = timers.iter().map(|&(due, _)| due).min();
        // Biased: the scenario's timers (usually none: a pending future), then input. When the
        // session is woken by input (nearly every wake under load) the stage and idle branches
        // are not polled at all; in random order about half of them were, each registering its
        // waker again. Input first could starve the idle branch: tokio's cooperative budget
        // makes the timer pending as well as the socket once it is spent, and the next turn
        // starts with input again (a flood without line end was cut after 16 s instead of
        // 2 s in CI). So the read branch enforces a deadline already passed itself (test
        // `limits::a_line_flooded_without_end_times_out_after_the_command_timeout`), and the
        // stage is read at the top of every turn.
        tokio::select! {
            biased;
            // A timer is due: the session runs what it was set for (a timer due during an
            // `Action::Wait` fires when the wait is over).
            () = sleep_until_or_never(next_timer) => {
                let now = Instant::now();
                let mut due: Vec<(Instant, u64)> =
                    timers.iter().copied().filter(|&(at, _)| at <= now).collect();
                timers.retain(|&(at, _)| at > now);
                due.sort_unstable();
                for (_, id) in due {
                    session.timer_fired(elapsed(), id);
                }
            }
            ready = stream.ready(&mut reading) => {
                let now = Instant::now();
                let at = now.saturating_duration_since(started);
                let read = ready.and_then(|()| {
                    stream.read_ready(&mut reading, |octets| {
                        deadlines.received(now, octets, transferring);
                        session.receive(at, octets);
                    })
                });
                match read {
                    Ok(ReadOutcome::Data | ReadOutcome::Nothing) => {}
                    Ok(ReadOutcome::Closed) => session.peer_closed(elapsed()),
                    Err(error) => session.connection_lost(elapsed(), &error.to_string()),
                }
                // The timer is moved lazily (when it fires) to save a timer update per read;
                // only an earlier deadline (DATA's shorter timeout) needs it moved now.
                deadlines.phase(now, session.in_transfer());
                let (due, why) = deadlines.due(session.timeout());
                if now >= due && !session.is_closed() {
                    // Input that never stops would keep the idle branch from ever being
                    // polled (see the select's comment): the deadline is enforced here too.
                    note_expiry(&mut session, why, elapsed());
                    session.timed_out(elapsed());
                } else if idle.deadline() > due {
                    idle.as_mut().reset(due);
                }
            }
            receiver = &mut stage_change => {
                // A closed channel means the server handle is gone: nobody can stop us any
                // more, so stop listening for changes and keep serving.
                stage_change = match receiver {
                    Some(receiver) => Box::pin(next_stage(receiver)),
                    None => Box::pin(std::future::pending()),
                };
            }
            () = &mut idle => {
                let (due, why) = deadlines.due(session.timeout());
                if Instant::now() >= due {
                    note_expiry(&mut session, why, elapsed());
                    session.timed_out(elapsed());
                } else {
                    idle.as_mut().reset(due);
                }
            }
        }
    }
    hand_on(&ctx.after_reply, &mut to_judge).await;
    let transcript = session.into_transcript();
    let close_reason = transcript.close_reason();
    tracing::debug!(session = id, %peer, ?close_reason, "session ended");
    ctx.record(SessionRecord {
        id,
        listener: Arc::clone(&ctx.name),
        peer,
        local,
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        message_count,
        messages: messages.into(),
        close_reason,
        transcript,
        checks: smtp_conformance::Report::default(),
    });
}

/// Hands acknowledged messages on to be judged and announced; waits (rarely) while the
/// after-reply thread is a budget of content behind.
async fn hand_on(after_reply: &AfterReply, to_judge: &mut Vec<Arc<StoredMessage>>) {
    if !to_judge.is_empty() && !after_reply.try_queue_messages(to_judge) {
        // Boxed: a rare await, whose state would otherwise be part of every connection's
        // task for its whole life (ci/bench.sh row I).
        Box::pin(after_reply.queue_messages(to_judge)).await;
    }
}

/// The observation a deliberately invalid certificate leaves in the transcript.
const CERT_CHECK: &str = "C-8314-CERT-VALIDATION";

/// The server behaviour a timeout's note belongs to.
const TIMEOUT_CHECK: &str = "S-5321-SERVER-TIMEOUT";

/// Says in the transcript why the session is about to time out, when the bare `421 4.4.2`
/// would not: a command line that never completed, or content slower than the minimum rate.
fn note_expiry(session: &mut Session<Box<dyn Policy>>, why: Expiry, now: Duration) {
    let text = match why {
        Expiry::TooSlow {
            octets,
            elapsed,
            rate,
        } => format!(
            "message content too slow: {octets} octets in {elapsed:.0?}, under the minimum \
             of {rate} octets/s after the grace period (--min-data-rate)"
        ),
        Expiry::Idle if session.buffered_input() > 0 => format!(
            "a command line was still incomplete at the timeout ({} octets, no line end)",
            session.buffered_input()
        ),
        Expiry::Idle => return,
    };
    session.observe(now, TIMEOUT_CHECK, &text);
}

/// Input read while the session waits is kept up to this many octets; past it the client
/// waits too (TCP flow control), so a flood during a long delay costs no memory.
const WAIT_READ_LIMIT: usize = 64 * 1024;

/// Sleeps until `deadline` while still reading: what the client sends during a delayed reply
/// (a slow greeting, a tarpit) reaches the session as sent before that reply, which is what
/// the conformance checks must see (an early talker, a client that does not wait).
async fn wait_reading(
    session: &mut Session<Box<dyn Policy>>,
    stream: &mut Connection,
    reading: &mut ReadState,
    deadline: Instant,
    elapsed: impl Fn() -> Duration,
) {
    let mut open = true;
    loop {
        if !open || session.is_closed() || session.buffered_input() >= WAIT_READ_LIMIT {
            tokio::time::sleep_until(deadline).await;
            return;
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return,
            ready = stream.ready(reading) => {
                let read = ready.and_then(|()| {
                    stream.read_ready(reading, |octets| session.receive(elapsed(), octets))
                });
                match read {
                    Ok(ReadOutcome::Data | ReadOutcome::Nothing) => {}
                    Ok(ReadOutcome::Closed) => {
                        open = false;
                        session.peer_closed(elapsed());
                    }
                    Err(error) => {
                        open = false;
                        session.connection_lost(elapsed(), &error.to_string());
                    }
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or for ever without one (no timer set).
async fn sleep_until_or_never(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Resolves when the shutdown stage changes, giving the receiver back (`None` once the
/// server handle is gone). Kept as one long-lived future per session: cheaper than a new
/// waiter registration for every read.
async fn next_stage(mut receiver: watch::Receiver<Stage>) -> Option<watch::Receiver<Stage>> {
    receiver.changed().await.ok().map(|()| receiver)
}

/// Random text for a session's CRAM-MD5 challenge and SCRAM nonce. std's `RandomState` is
/// keyed from the operating system's randomness; unpredictable enough for a test server,
/// and no extra dependency.
fn session_random(id: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut text = String::with_capacity(32);
    for part in 0..2u64 {
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u64(id);
        hasher.write_u64(part);
        crate::text::push_hex(&mut text, hasher.finish(), 16, false);
    }
    text
}

/// Writes a reply; a client that stops reading cannot hold the session forever either, so
/// the write has the session's timeout. The timeout is only set up when the write cannot
/// finish at once: a reply usually fits the socket's buffer, and a timeout costs a clock read
/// and the runtime's handle on every reply (four a message in ci/bench.sh row C).
async fn write_reply(
    stream: &mut Connection,
    bytes: &[u8],
    timeout: Duration,
) -> Result<std::io::Result<()>, tokio::time::error::Elapsed> {
    let mut write = std::pin::pin!(stream.write_all(bytes));
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(write.as_mut().poll(cx))).await;
    match first {
        std::task::Poll::Ready(result) => Ok(result),
        std::task::Poll::Pending => tokio::time::timeout(timeout, write).await,
    }
}
