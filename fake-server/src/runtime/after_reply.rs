//! The work that follows a reply, on a thread of its own: judging what was acknowledged,
//! announcing it (events, the web sink's list, waiters), and judging and recording finished
//! sessions. A session's thread only reads, answers and stores.
//!
//! Why a thread, and why at idle priority (`SCHED_IDLE` on Linux): with the checks on, this
//! work costs more than serving the session itself. On a session's thread it delayed every
//! client's next command; on a thread of normal priority it competed for the CPU with the
//! session loop and with the client under test (on 2 cores, the client's wake-ups then
//! preempted the session loop). At idle priority it runs on what the machine has left, which
//! is what "the checks never delay a client" means (ci/bench.sh: row C with the web sink
//! and a WebSocket subscriber, 17,600 → 24,400 msg/s). Nothing a client sees changes: the work
//! always started after the reply was written.
//!
//! A machine that is never idle must not starve it: a task on the server's runtime (normal
//! priority) checks every [`RESCUE_AFTER`] and, when the oldest queued job has waited that
//! long, runs jobs itself until the queue is young again.
//!
//! Order is kept: jobs run one at a time in the order they were queued (whoever runs them
//! holds the runner lock), so a message is announced before its session is recorded, and a
//! session's message checks are all in before its own. Memory is bounded: queued work holds
//! at most [`PENDING_BUDGET_KIB`] of message content; past that, a session waits (before
//! reading its client's next command) until the queue shrinks.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use smtp_conformance::Report;
use smtp_protocol::transcript::Transcript;
use tokio::sync::{Notify, Semaphore};

use crate::lock;
use crate::mailbox::{Mailbox, SessionRecord, StoredMessage};

/// Message content the queue may hold, in KiB, before sessions wait for it to shrink.
pub const PENDING_BUDGET_KIB: u32 = 16 * 1024;

/// After work, the thread checks the queue on its own at this interval for a while
/// ([`HOT_FOR`]) instead of sleeping until woken: under load, a session then never pays a
/// system call to wake it.
const HOT_POLL: Duration = Duration::from_millis(1);
const HOT_FOR: Duration = Duration::from_millis(50);

/// How long the oldest queued job may wait before the server's runtime runs jobs itself.
pub const RESCUE_AFTER: Duration = Duration::from_millis(50);
/// How long the runtime runs jobs at a stretch before it lets its sessions go on.
const RESCUE_SLICE: Duration = Duration::from_millis(2);
/// Jobs a session's thread runs when the queue is full, before it tries to queue again.
const HELP_JOBS: usize = 16;

/// A finished session, to be judged and recorded. `record.checks` is filled in here.
#[derive(Debug)]
pub struct EndedSession {
    pub record: SessionRecord,
    /// Keep AUTH secrets in the transcript (`--record-secrets`); by default they are
    /// redacted once the session is judged.
    pub record_secrets: bool,
}

enum Job {
    /// A message whose 250 was written; `cost` is what it took from the budget.
    Message {
        stored: Arc<StoredMessage>,
        cost: u32,
    },
    Session(Box<EndedSession>),
}

struct Queued {
    /// On the runtime's clock, as the rescue's sleep is (a test with paused time moves both).
    since: tokio::time::Instant,
    job: Job,
}

/// The handle sessions queue work with. Dropping it lets the thread finish the queue and
/// exit.
pub struct AfterReply {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<VecDeque<Queued>>,
    /// What jobs run with; whoever runs a job holds it, so jobs run one at a time, in order.
    runner: Mutex<Runner>,
    /// Set by the thread before it sleeps until woken; whoever queues work then wakes it.
    sleeping: AtomicBool,
    /// Set when the handle is dropped: finish the queue, then exit.
    closing: AtomicBool,
    /// Jobs queued and not yet done (running ones included): [`AfterReply::drained`].
    pending: AtomicUsize,
    /// Of those, ended sessions: [`AfterReply::sessions_pending`].
    pending_sessions: AtomicUsize,
    budget: Semaphore,
    /// Told when work is queued into an empty queue: the rescue task starts watching.
    queued: Notify,
    thread: OnceLock<std::thread::Thread>,
}

impl std::fmt::Debug for AfterReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfterReply").finish_non_exhaustive()
    }
}

impl AfterReply {
    /// Starts the thread, and the rescue task on the current tokio runtime (returned, for
    /// the server to stop with its other tasks).
    pub fn start(
        mailbox: Arc<Mailbox>,
    ) -> std::io::Result<(AfterReply, tokio::task::JoinHandle<()>)> {
        AfterReply::start_with(mailbox, true)
    }

    /// [`AfterReply::start`]; without the thread (`with_thread` false, for tests) only the
    /// rescue task runs jobs, as on a machine that never lets an idle thread run.
    fn start_with(
        mailbox: Arc<Mailbox>,
        with_thread: bool,
    ) -> std::io::Result<(AfterReply, tokio::task::JoinHandle<()>)> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            runner: Mutex::new(Runner {
                mailbox,
                message_checks: HashMap::new(),
            }),
            sleeping: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            pending_sessions: AtomicUsize::new(0),
            budget: Semaphore::new(PENDING_BUDGET_KIB as usize),
            queued: Notify::new(),
            thread: OnceLock::new(),
        });
        if with_thread {
            let for_thread = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name("after-reply".to_owned())
                .spawn(move || {
                    lower_priority();
                    work(&for_thread);
                })?;
            let _ = shared.thread.set(handle.thread().clone());
        }
        let rescue = tokio::spawn(rescue(Arc::clone(&shared)));
        Ok((AfterReply { shared }, rescue))
    }

    /// Queues messages whose 250 is written, to be judged and announced, as far as the
    /// budget allows; returns whether every one was queued (the rest stay in `messages`).
    pub fn try_queue_messages(&self, messages: &mut Vec<Arc<StoredMessage>>) -> bool {
        let mut queued = 0;
        for stored in messages.iter() {
            match self.shared.budget.try_acquire_many(cost_of(stored)) {
                // Given back when the job has run.
                Ok(permit) => permit.forget(),
                Err(_) => break,
            }
            queued += 1;
        }
        for stored in messages.drain(..queued) {
            let cost = cost_of(&stored);
            self.push(Job::Message { stored, cost });
        }
        messages.is_empty()
    }

    /// [`AfterReply::try_queue_messages`] when the queue holds its budget of content: the
    /// thread is behind (a machine with little idle time), so the session's thread runs a
    /// few of the oldest jobs itself, and waits only if the thread is running one.
    pub async fn queue_messages(&self, messages: &mut Vec<Arc<StoredMessage>>) {
        while !self.try_queue_messages(messages) {
            if self.shared.help(HELP_JOBS) {
                continue;
            }
            let stored = messages.remove(0);
            let cost = cost_of(&stored);
            // The semaphore is never closed; should it be, queue without taking anything.
            let cost = match self.shared.budget.acquire_many(cost).await {
                Ok(permit) => {
                    permit.forget();
                    cost
                }
                Err(_) => 0,
            };
            self.push(Job::Message { stored, cost });
        }
    }

    /// Queues a finished session: to be judged (with its messages' checks) and recorded.
    pub fn queue_session(&self, ended: EndedSession) {
        // Counted before the connection stops counting (its guard is dropped after this), so
        // that a session is always open or pending until it is recorded.
        self.shared.pending_sessions.fetch_add(1, Ordering::SeqCst);
        self.push(Job::Session(Box::new(ended)));
    }

    /// Ended sessions queued and not yet recorded.
    pub fn sessions_pending(&self) -> usize {
        self.shared.pending_sessions.load(Ordering::SeqCst)
    }

    /// Waits until every job queued so far has run: a stopping server's last sessions are
    /// then recorded. The rescue task keeps this from waiting on a starved thread for long.
    pub async fn drained(&self) {
        while self.shared.pending.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn push(&self, job: Job) {
        self.shared.pending.fetch_add(1, Ordering::SeqCst);
        let was_empty = {
            let mut queue = lock(&self.shared.queue);
            queue.push_back(Queued {
                since: tokio::time::Instant::now(),
                job,
            });
            queue.len() == 1
        };
        if was_empty {
            self.shared.queued.notify_one();
        }
        if self.shared.sleeping.swap(false, Ordering::SeqCst) {
            if let Some(thread) = self.shared.thread.get() {
                thread.unpark();
            }
        }
    }
}

impl Drop for AfterReply {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        if let Some(thread) = self.shared.thread.get() {
            thread.unpark();
        }
    }
}

/// A message's share of the budget: the memory its content holds in KiB, at least 1, at most
/// the whole budget (a message larger than the budget waits for an empty queue).
fn cost_of(stored: &StoredMessage) -> u32 {
    cost_for(stored.raw.capacity())
}

fn cost_for(octets: usize) -> u32 {
    u32::try_from(octets / 1024 + 1)
        .unwrap_or(u32::MAX)
        .min(PENDING_BUDGET_KIB)
}

/// Puts the calling thread in the idle scheduling class (Linux): it then runs only on CPU
/// time nothing else wants. Without it (another system, or refused) it runs as any thread.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadPriority, ThreadSchedulePolicy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(error) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        {
            tracing::debug!(?error, "after-reply thread: could not lower its priority");
        }
    }
}

impl Shared {
    /// Runs the oldest queued job, if there is one; false if the queue is empty.
    fn run_next(&self, runner: &mut Runner) -> bool {
        // Taken while holding the runner: nobody else can run a later job before this one.
        let Some(Queued { job, .. }) = lock(&self.queue).pop_front() else {
            return false;
        };
        let (cost, session) = match &job {
            Job::Message { cost, .. } => (*cost, false),
            Job::Session(_) => (0, true),
        };
        // A panic in a check is a bug, but it must not stop every later message from being
        // announced: the job is lost, the rest go on.
        let run = std::panic::AssertUnwindSafe(|| runner.run(job));
        if std::panic::catch_unwind(run).is_err() {
            tracing::error!("a check panicked (a bug: please report it); going on");
        }
        if cost > 0 {
            self.budget.add_permits(cost as usize);
        }
        if session {
            self.pending_sessions.fetch_sub(1, Ordering::SeqCst);
        }
        self.pending.fetch_sub(1, Ordering::SeqCst);
        true
    }

    /// Runs up to `jobs` of the oldest queued jobs on the calling thread, unless a job is
    /// running elsewhere; whether it ran any.
    fn help(&self, jobs: usize) -> bool {
        let Ok(mut runner) = self.runner.try_lock() else {
            return false;
        };
        let mut ran = 0;
        while ran < jobs && self.run_next(&mut runner) {
            ran += 1;
        }
        ran > 0
    }

    /// How long the oldest queued job has waited.
    fn oldest_wait(&self) -> Option<Duration> {
        lock(&self.queue).front().map(|q| q.since.elapsed())
    }
}

/// The thread: runs jobs as they come, sleeping when there are none.
fn work(shared: &Shared) {
    let mut last_work = Instant::now();
    loop {
        let mut ran = false;
        // The runner is taken per job, so that the rescue task can step in between.
        while shared.run_next(&mut lock(&shared.runner)) {
            ran = true;
        }
        if ran {
            last_work = Instant::now();
            continue;
        }
        if shared.closing.load(Ordering::SeqCst) {
            return;
        }
        if last_work.elapsed() < HOT_FOR {
            std::thread::park_timeout(HOT_POLL);
            continue;
        }
        shared.sleeping.store(true, Ordering::SeqCst);
        // Work queued between the last look and `sleeping` being set found the flag clear and
        // woke nobody: look once more before sleeping.
        if lock(&shared.queue).is_empty() && !shared.closing.load(Ordering::SeqCst) {
            std::thread::park();
        }
        shared.sleeping.store(false, Ordering::SeqCst);
    }
}

/// Runs jobs on the server's runtime when the thread has let the oldest wait
/// [`RESCUE_AFTER`]: a machine busy with other work gives an idle-priority thread almost
/// nothing.
async fn rescue(shared: Arc<Shared>) {
    loop {
        if lock(&shared.queue).is_empty() {
            // Work queued since the look above left a permit: this returns at once.
            shared.queued.notified().await;
        }
        tokio::time::sleep(RESCUE_AFTER).await;
        while shared
            .oldest_wait()
            .is_some_and(|wait| wait >= RESCUE_AFTER)
        {
            {
                // The thread holds it while it runs a job: it is not starved, look again later.
                let Ok(mut runner) = shared.runner.try_lock() else {
                    break;
                };
                let until = Instant::now() + RESCUE_SLICE;
                while Instant::now() < until && shared.run_next(&mut runner) {}
            }
            tokio::task::yield_now().await;
        }
    }
}

/// The state jobs run with.
struct Runner {
    mailbox: Arc<Mailbox>,
    /// The message checks of sessions still open, merged message by message.
    message_checks: HashMap<u64, Report>,
}

impl Runner {
    fn run(&mut self, job: Job) {
        match job {
            Job::Message { stored, .. } => {
                self.mailbox.accepted(&stored);
                // Judged by `accepted`, unless the checks are off.
                if let Some(report) = stored.checks() {
                    match self.message_checks.get_mut(&stored.session_id) {
                        Some(checks) => checks.merge_from(report),
                        None => {
                            self.message_checks
                                .insert(stored.session_id, report.clone());
                        }
                    }
                }
            }
            Job::Session(ended) => {
                let EndedSession {
                    mut record,
                    record_secrets,
                } = *ended;
                let message_checks = self.message_checks.remove(&record.id);
                let mut checks = if self.mailbox.checks() {
                    smtp_conformance::judge_session_with(
                        &record.transcript,
                        message_checks.unwrap_or_else(smtp_conformance::no_messages),
                    )
                } else {
                    Report::default()
                };
                // Judged on what the client really sent; what is kept (and printed, stored,
                // reported) has no password or token in it unless asked.
                if !record_secrets {
                    redact_secrets(&mut record.transcript, &mut checks);
                }
                record.checks = checks;
                self.mailbox.finish_session(record);
            }
        }
    }
}

/// Redacts the AUTH secrets of a judged session: in its transcript, and in the evidence its
/// checks quote from the lines redacted.
fn redact_secrets(transcript: &mut Transcript, checks: &mut Report) {
    let redactions = transcript.redact_secrets();
    if redactions.is_empty() {
        return;
    }
    for evidence in checks
        .results
        .iter_mut()
        .flat_map(|r| r.evidence.iter_mut())
    {
        if let smtp_conformance::check::Location::Entry { entry } = evidence.location {
            if let Some(redacted) = redactions.iter().find(|r| r.entry == entry) {
                evidence.octets = redacted.line.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::MailboxConfig;
    use smtp_protocol::transcript::{CloseReason, Event};
    use std::net::SocketAddr;

    fn mailbox() -> Arc<Mailbox> {
        let config = MailboxConfig {
            hostname: Arc::from("test"),
            max_messages: 100,
            max_sessions: 100,
            store: None,
            checks: true,
            max_memory: crate::mailbox::DEFAULT_MAX_MEMORY,
        };
        Arc::new(Mailbox::new(config, None).expect("mailbox"))
    }

    fn ended(id: u64) -> EndedSession {
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
        let mut transcript = Transcript::new();
        transcript.push(
            Duration::ZERO,
            Event::Connected {
                peer: peer.to_string(),
                local: "127.0.0.1:25".to_owned(),
                listener: None,
            },
        );
        transcript.client_line(Duration::ZERO, b"QUIT\r\n", Default::default());
        transcript.push(
            Duration::ZERO,
            Event::Closed {
                reason: CloseReason::PeerClosed,
            },
        );
        EndedSession {
            record: SessionRecord {
                id,
                listener: Arc::from("smtp"),
                peer,
                local: peer,
                started_at: std::time::SystemTime::now(),
                duration_ms: 0,
                message_count: 0,
                messages: Vec::new(),
                close_reason: Some(CloseReason::PeerClosed),
                transcript,
                checks: Report::default(),
            },
            record_secrets: false,
        }
    }

    async fn wait_for_sessions(mailbox: &Mailbox, count: usize, within: Duration) -> Vec<u64> {
        let deadline = Instant::now() + within;
        loop {
            let ids: Vec<u64> = mailbox.sessions().iter().map(|s| s.id).collect();
            if ids.len() >= count || Instant::now() >= deadline {
                return ids;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The thread never runs (a machine busy with other work gives an idle-priority thread
    /// almost nothing): the runtime's rescue runs the jobs once the oldest waited long enough,
    /// in order, and judged.
    #[tokio::test]
    async fn a_starved_thread_is_rescued_by_the_runtime_in_order() {
        let mailbox = mailbox();
        let (after_reply, rescue) =
            AfterReply::start_with(Arc::clone(&mailbox), false).expect("start");
        let queued = Instant::now();
        for id in 1..=3 {
            after_reply.queue_session(ended(id));
        }
        let ids = wait_for_sessions(&mailbox, 3, Duration::from_secs(10)).await;
        assert_eq!(ids, [1, 2, 3], "recorded in the order queued");
        assert!(
            queued.elapsed() >= RESCUE_AFTER,
            "only the rescue ran them, after {RESCUE_AFTER:?}: {:?}",
            queued.elapsed()
        );
        let record = mailbox.session(1).expect("session 1");
        assert!(
            !record.checks.results.is_empty(),
            "the session was judged on the way"
        );
        rescue.abort();
    }

    /// With its thread, jobs run without waiting for the rescue.
    #[tokio::test]
    async fn the_thread_records_sessions_without_the_rescue() {
        let mailbox = mailbox();
        let (after_reply, rescue) = AfterReply::start(Arc::clone(&mailbox)).expect("start");
        // Only the thread can run it: the rescue is stopped.
        rescue.abort();
        after_reply.queue_session(ended(7));
        let ids = wait_for_sessions(&mailbox, 1, Duration::from_secs(10)).await;
        assert_eq!(ids, [7]);
    }

    #[test]
    fn a_message_costs_its_content_in_kib_within_the_budget() {
        assert_eq!(cost_for(0), 1);
        assert_eq!(cost_for(4096), 5);
        assert_eq!(cost_for(usize::MAX), PENDING_BUDGET_KIB);
    }
}
