//! Buffered, non-blocking output for `--json` events (stdout) and the human log (stderr).
//!
//! Writing each line with its own system call cost row C of the benchmark about a quarter of
//! its throughput with the log on, and `--json` about 14%. Here a line is appended to an
//! in-memory batch under a short lock, and one dedicated thread writes whole batches:
//!
//! - The writer thread is woken only when it sleeps with nothing to do, so the first line
//!   after a quiet spell is written at once (an interactive user, or a test reading events
//!   line by line, is not kept waiting).
//! - After writing a batch it lingers for [`LINGER`] before looking again, so that under load
//!   lines gather into batches and the server thread pays no wake-up per line (waking a
//!   sleeping thread costs an inter-processor interrupt, expensive on a VM).
//! - Backpressure, never loss: when the pending batch exceeds its bound (the reader is slower
//!   than the server), a producer waits until the writer thread has taken it. Losing `--json`
//!   events silently would be wrong, and a bounded wait is what a plain blocking write did.
//! - [`Output::flush`] returns once everything appended before it is written; the binary
//!   calls [`flush_all`] before it prints its last error line and before it exits.
//! - A write that fails (the reader went away: `| head`) makes the thread discard what
//!   follows, as the direct writes ignored their errors: the server keeps serving.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// How long the writer thread waits after a batch, so that the next lines gather. Short
/// enough that no person or line-reading script notices it.
pub const LINGER: Duration = Duration::from_millis(1);

/// Octets pending before a producer waits for the writer thread: generous, so that a burst
/// never blocks the server while the reader keeps up on average.
pub const DEFAULT_BOUND: usize = 4 << 20;

/// Could not start the writer thread.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the output writer thread: {0}")]
pub struct StartError(#[from] std::io::Error);

/// A line sink backed by one writer thread. Cloning gives another handle to the same queue.
#[derive(Clone)]
pub struct Output {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// The writer thread waits here when idle, or while it lingers.
    wake_writer: Condvar,
    /// Producers waiting for room, and flushers waiting for the writer, wait here.
    progress: Condvar,
    bound: usize,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    /// The writer thread sleeps until woken (as opposed to writing, or lingering).
    idle: bool,
    /// The writer thread holds a batch it has not finished writing.
    writing: bool,
    /// A flush waits: the writer thread must not linger.
    flush_wanted: bool,
    closed: bool,
    /// Batches written so far (flush waits for the one holding its lines).
    written_batches: u64,
    taken_batches: u64,
}

impl Output {
    /// Starts a writer thread named `name` that owns `sink`.
    pub fn start(
        name: &str,
        sink: Box<dyn Write + Send>,
        bound: usize,
    ) -> Result<(Output, JoinHandle<()>), StartError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake_writer: Condvar::new(),
            progress: Condvar::new(),
            bound: bound.max(1),
        });
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || writer_loop(&thread_shared, sink))?;
        Ok((Output { shared }, handle))
    }

    /// Appends octets (normally whole lines) to the queue; waits only while the queue is over
    /// its bound. After [`Output::close`], the octets are dropped.
    pub fn write_bytes(&self, bytes: &[u8]) {
        self.append(&[bytes]);
    }

    /// Appends one line and its line end.
    pub fn write_line(&self, line: &str) {
        self.append(&[line.as_bytes(), b"\n"]);
    }

    fn append(&self, parts: &[&[u8]]) {
        let mut state = self.shared.lock();
        while !state.closed && state.pending.len() >= self.shared.bound {
            state = wait(&self.shared.progress, state);
        }
        if state.closed {
            return;
        }
        for part in parts {
            state.pending.extend_from_slice(part);
        }
        if state.idle {
            state.idle = false;
            self.shared.wake_writer.notify_one();
        }
    }

    /// Waits until everything appended before this call has been written and flushed.
    pub fn flush(&self) {
        let mut state = self.shared.lock();
        // Whatever is pending now goes out in the batch after those already taken.
        let target = state.taken_batches + u64::from(!state.pending.is_empty());
        state.flush_wanted = true;
        self.shared.wake_writer.notify_one();
        while state.written_batches < target && !writer_gone(&state) {
            state = wait(&self.shared.progress, state);
        }
    }

    /// Flushes, then stops the writer thread; later lines are dropped. (The binary's two
    /// writers live until the process exits, flushed by [`flush_all`]; the tests close theirs.)
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn close(&self) {
        self.flush();
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.wake_writer.notify_one();
        self.shared.progress.notify_all();
    }
}

/// With no thread left to write (it panicked), waiting would never end.
fn writer_gone(state: &State) -> bool {
    state.closed && !state.writing
}

impl Shared {
    /// A poisoned lock only means a thread panicked while holding it; the state (a buffer and
    /// counters) stays usable, and output must not add a second panic.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn wait<'a>(condvar: &Condvar, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    condvar
        .wait(guard)
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Marks the writer thread gone however it ends (a sink that panics included), so that no
/// producer or flush waits for it forever.
struct GoneOnDrop<'a>(&'a Shared);

impl Drop for GoneOnDrop<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.closed = true;
        state.writing = false;
        self.0.progress.notify_all();
    }
}

fn writer_loop(shared: &Shared, mut sink: Box<dyn Write + Send>) {
    let _gone = GoneOnDrop(shared);
    let mut batch = Vec::new();
    let mut failed = false;
    let mut state = shared.lock();
    loop {
        if state.pending.is_empty() {
            if state.closed {
                break;
            }
            state.idle = true;
            state = wait(&shared.wake_writer, state);
            continue;
        }
        std::mem::swap(&mut state.pending, &mut batch);
        state.taken_batches += 1;
        state.writing = true;
        state.flush_wanted = false;
        // Producers waiting for room may go on.
        shared.progress.notify_all();
        drop(state);

        if !failed {
            failed = sink.write_all(&batch).and_then(|()| sink.flush()).is_err();
        }
        batch.clear();
        // Keep the allocation for reuse, but not a huge one left by a rare burst.
        if batch.capacity() > shared.bound {
            batch = Vec::new();
        }

        state = shared.lock();
        state.writing = false;
        state.written_batches += 1;
        shared.progress.notify_all();
        if !state.flush_wanted && !state.closed {
            // Let the next lines gather; producers do not wake us (idle is false), a flush
            // or close does.
            state = shared
                .wake_writer
                .wait_timeout(state, LINGER)
                .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard);
        }
    }
    drop(state);
    let _ = sink.flush();
}

/// A handle for `tracing_subscriber::fmt().with_writer(..)`: the fmt layer formats a whole
/// event into one buffer and writes it with one `write_all`, so a call here is one line.
#[derive(Clone)]
pub struct LineWriter(pub Output);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Flushing is the writer thread's job; waiting here would undo the point.
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LineWriter {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The writer for the human log: the buffered stderr, or stderr itself without a thread.
pub fn log_writer() -> BoxMakeWriter {
    match stderr() {
        Some(output) => BoxMakeWriter::new(LineWriter(output.clone())),
        None => BoxMakeWriter::new(std::io::stderr),
    }
}

/// One line to stdout through the queue (directly when there is no writer thread).
pub fn stdout_line(line: &str) {
    match stdout() {
        Some(output) => output.write_line(line),
        None => {
            // A reader that went away (`| head`) is not an error worth a panic.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        }
    }
}

/// One line to stderr through the queue, in order with the log's lines.
pub fn stderr_line(line: &str) {
    match stderr() {
        Some(output) => output.write_line(line),
        None => {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }
}

static STDOUT: OnceLock<Option<Output>> = OnceLock::new();
static STDERR: OnceLock<Option<Output>> = OnceLock::new();

fn global(
    cell: &'static OnceLock<Option<Output>>,
    name: &str,
    sink: fn() -> Box<dyn Write + Send>,
) -> Option<&'static Output> {
    cell.get_or_init(|| {
        // The thread is never joined: `flush_all` is how the binary waits for it.
        Output::start(name, sink(), DEFAULT_BOUND)
            .map(|(output, _thread)| output)
            .ok()
    })
    .as_ref()
}

/// The process's buffered stdout, started on first use; `None` when no thread could be
/// started (the caller then writes directly).
pub fn stdout() -> Option<&'static Output> {
    global(&STDOUT, "stdout-writer", || Box::new(std::io::stdout()))
}

/// The process's buffered stderr, as [`stdout`].
pub fn stderr() -> Option<&'static Output> {
    global(&STDERR, "stderr-writer", || Box::new(std::io::stderr()))
}

/// Writes out everything queued for stdout and stderr; call before printing to them directly
/// and before the process exits.
pub fn flush_all() {
    for cell in [&STDOUT, &STDERR] {
        if let Some(Some(output)) = cell.get() {
            output.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read, optionally slow, and optionally failing.
    #[derive(Clone, Default)]
    struct Capture {
        written: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        delay: Duration,
        fail: bool,
    }

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.fail {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
            }
            std::thread::sleep(self.delay);
            self.written.lock().expect("lock").extend_from_slice(buf);
            *self.writes.lock().expect("lock") += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8(self.written.lock().expect("lock").clone()).expect("utf-8")
        }
    }

    fn start(capture: &Capture, bound: usize) -> (Output, JoinHandle<()>) {
        Output::start("test-writer", Box::new(capture.clone()), bound).expect("start")
    }

    #[test]
    fn lines_come_out_in_order_and_flush_waits_for_them() {
        let capture = Capture::default();
        let (output, thread) = start(&capture, DEFAULT_BOUND);
        for i in 0..10_000 {
            output.write_line(&format!("line {i}"));
        }
        output.flush();
        let expected: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(capture.text(), expected);
        output.close();
        thread.join().expect("writer thread");
    }

    #[test]
    fn close_writes_everything_queued_first() {
        // A slow sink, so that most lines are still queued when close is called.
        let capture = Capture {
            delay: Duration::from_millis(20),
            ..Capture::default()
        };
        let (output, thread) = start(&capture, DEFAULT_BOUND);
        for i in 0..100 {
            output.write_line(&format!("{i}"));
        }
        output.close();
        thread.join().expect("writer thread");
        assert_eq!(capture.text().lines().count(), 100);
        // After close, lines are dropped, without blocking.
        output.write_line("late");
        assert_eq!(capture.text().lines().count(), 100);
    }

    #[test]
    fn a_burst_from_many_threads_over_the_bound_loses_no_line() {
        // A tiny bound and a slow sink: producers must wait, never drop.
        let capture = Capture {
            delay: Duration::from_micros(200),
            ..Capture::default()
        };
        let (output, thread) = start(&capture, 256);
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let output = output.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        output.write_line(&format!("{p} {i}"));
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().expect("producer");
        }
        output.close();
        thread.join().expect("writer thread");
        let text = capture.text();
        // Every producer's lines are all there, each producer's in its own order.
        for p in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|line| line.split_once(' '))
                .filter(|(who, _)| *who == p.to_string())
                .map(|(_, i)| i.parse().expect("number"))
                .collect();
            assert_eq!(mine, (0..2_000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn lines_under_load_are_written_in_batches() {
        let capture = Capture {
            delay: Duration::from_micros(500),
            ..Capture::default()
        };
        let (output, thread) = start(&capture, DEFAULT_BOUND);
        for i in 0..5_000 {
            output.write_line(&format!("{i}"));
        }
        output.close();
        thread.join().expect("writer thread");
        assert_eq!(capture.text().lines().count(), 5_000);
        let writes = *capture.writes.lock().expect("lock");
        assert!(writes < 1_000, "{writes} writes for 5,000 lines");
    }

    #[test]
    fn a_lone_line_is_written_without_a_flush() {
        let capture = Capture::default();
        let (output, thread) = start(&capture, DEFAULT_BOUND);
        output.write_line("hello");
        // No flush: the idle writer thread is woken by the line itself. The bound is not a
        // speed goal (the line comes within a millisecond or so), only a way to fail instead
        // of hanging when nothing wakes the writer: cargo test has no timeout of its own.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while capture.text().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "a lone line was never written without a flush"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(capture.text(), "hello\n");
        output.close();
        thread.join().expect("writer thread");
    }

    #[test]
    fn a_failing_sink_does_not_block_producers_or_flush() {
        let capture = Capture {
            fail: true,
            ..Capture::default()
        };
        let (output, thread) = start(&capture, 64);
        for i in 0..1_000 {
            output.write_line(&format!("{i}"));
        }
        output.flush();
        output.close();
        thread.join().expect("writer thread");
        assert_eq!(capture.text(), "");
    }
}
