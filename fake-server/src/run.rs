//! `fake-smtp run -- CMD`: the CI entry. For each scenario (one by default, or each of a
//! suite): start the server on free loopback ports with a fresh CA, run the client command
//! with the ports in its environment, wait for it and its sessions, judge them, check the
//! expectations; then print the human report, write the report files and exit 0 (pass), 1
//! (the client failed a check or an expectation) or 2 (the tool could not do its job).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use fake_server::expect::Expectations;
use fake_server::report::{ClientResult, ExpectationResult, RunReport, RunResult, Verdict};
use fake_server::{ListenerKind, ListenerSpec, Scenario, Server};
use smtp_conformance::Level;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::cli::{FailOn, ReportArgs, RunArgs};

/// How long the sessions of a client that has exited may take to end.
const SESSION_GRACE: Duration = Duration::from_secs(5);

/// Why `run` could not do its job (exit status 2).
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("{0}: command not found")]
    NotFound(String),
    #[error("{0}")]
    Setup(String),
    #[error("cannot start the server: {0}")]
    Server(#[from] fake_server::ServerError),
    #[error("cannot run {command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("interrupted; reports written for {0} run(s)")]
    Interrupted(usize),
}

pub fn run_command(args: &RunArgs) -> ExitCode {
    crate::init_logging(args.server.quiet);
    match run(args) {
        Ok(Verdict::Pass) => ExitCode::SUCCESS,
        Ok(Verdict::Fail) => ExitCode::from(1),
        Err(error) => {
            // After the log lines still queued (output.rs).
            crate::output::flush_all();
            eprintln!("fake-smtp: {error}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &RunArgs) -> Result<Verdict, RunError> {
    let scenarios = scenarios(args).map_err(RunError::Setup)?;
    let mut expectations = Expectations::default();
    for flag in &args.expect {
        expectations.add_flag(flag).map_err(RunError::Setup)?;
    }
    args.reports.check_writable().map_err(RunError::Setup)?;
    find_program(&args.command[0])?;
    let fail_on = args.reports.fail_on.map_or(Level::Must, FailOn::level);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let mut runs = Vec::new();
        let mut interrupted = false;
        for scenario in scenarios {
            let (run, stopped) = run_one(args, scenario, &expectations, fail_on).await?;
            runs.push(run);
            if stopped {
                interrupted = true;
                break;
            }
        }
        let report = RunReport::new(fail_on, runs);
        crate::print_out(&fake_server::report::text::render(&report));
        write_reports(&args.reports, &report).map_err(|e| RunError::Setup(e.to_string()))?;
        if interrupted {
            return Err(RunError::Interrupted(report.runs.len()));
        }
        Ok(report.verdict)
    })
}

/// The scenarios to play, in order: the suites' then the `--scenario`s; the default alone
/// when none is named.
fn scenarios(args: &RunArgs) -> Result<Vec<Option<Scenario>>, String> {
    let mut names = Vec::new();
    for suite in &args.suite {
        let found = fake_server::scenario::suites::get(suite).ok_or_else(|| {
            let known: Vec<&str> = fake_server::scenario::suites::all()
                .iter()
                .map(|s| s.name)
                .collect();
            format!(
                "--suite {suite}: no such suite (suites: {})",
                known.join(", ")
            )
        })?;
        names.extend(found.scenarios.iter().map(|s| s.to_string()));
    }
    names.extend(args.scenario.iter().cloned());
    if names.is_empty() {
        return Ok(vec![None]);
    }
    names
        .iter()
        .map(|name| Scenario::load(name).map(Some).map_err(|e| e.to_string()))
        .collect()
}

/// The program must exist and be executable before anything starts.
fn find_program(program: &str) -> Result<PathBuf, RunError> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return if executable(&path) {
            Ok(path)
        } else {
            Err(RunError::NotFound(program.to_owned()))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|path| executable(path))
        .ok_or_else(|| RunError::NotFound(program.to_owned()))
}

/// One scenario played to the client: the run's result, and whether the user interrupted.
async fn run_one(
    args: &RunArgs,
    scenario: Option<Scenario>,
    cli_expectations: &Expectations,
    fail_on: Level,
) -> Result<(RunResult, bool), RunError> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut builder = args.server.builder(args.data_dir.as_deref(), true);
    for kind in [
        ListenerKind::Smtp,
        ListenerKind::Submission,
        ListenerKind::Smtps,
    ] {
        builder = builder.listener(ListenerSpec::new(kind, loopback));
    }
    let (name, description, mut expectations) = match &scenario {
        Some(s) => (s.name.clone(), s.description.clone(), s.expect.clone()),
        None => ("default".to_owned(), None, Expectations::default()),
    };
    expectations.extend(cli_expectations);
    if let Some(scenario) = scenario {
        builder = builder.scenario(scenario);
    }
    let server = builder.start().await?;
    let workdir = std::env::temp_dir().join(format!(
        "fake-smtp-run-{}-{}",
        std::process::id(),
        NEXT_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&workdir)
        .map_err(|e| RunError::Setup(format!("cannot create {}: {e}", workdir.display())))?;
    let ca_file = workdir.join("ca.pem");
    if let Some(pem) = server.ca_cert_pem() {
        std::fs::write(&ca_file, pem)
            .map_err(|e| RunError::Setup(format!("cannot write {}: {e}", ca_file.display())))?;
    }
    if let Some(path) = &args.server.ca_out {
        if let Some(pem) = server.ca_cert_pem() {
            std::fs::write(path, pem)
                .map_err(|e| RunError::Setup(format!("--ca-out {}: {e}", path.display())))?;
        }
    }
    tracing::info!(scenario = %name, "running the client");
    let (client, interrupted) = run_client(args, &server, &ca_file).await?;
    // The client is gone: its sessions end as soon as the server sees its sockets close.
    let deadline = tokio::time::Instant::now() + SESSION_GRACE;
    while server.open_sessions() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.abort().await;
    let _ = std::fs::remove_dir_all(&workdir);
    let sessions = server.sessions();
    let messages = server.messages();
    let mut results = expectations.evaluate(&messages, &sessions, Some(&client));
    if sessions.is_empty() && expectations.messages != Some(0) {
        results.insert(
            0,
            ExpectationResult {
                what: "the client connects".to_owned(),
                status: Verdict::Fail,
                detail: "no session: the client never connected".to_owned(),
            },
        );
    }
    let mut run = RunResult::new(
        name,
        description,
        Some(client.clone()),
        &sessions,
        results,
        fail_on,
    );
    if client.timed_out {
        run.verdict = Verdict::Fail;
    }
    Ok((run, interrupted))
}

static NEXT_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs the client in its own process group with the server's addresses in its environment,
/// passing its output through with a prefix; kills the group at the timeout or on Ctrl-C.
async fn run_client(
    args: &RunArgs,
    server: &Server,
    ca_file: &Path,
) -> Result<(ClientResult, bool), RunError> {
    let port = |listener: &str| {
        server
            .addr(listener)
            .map(|a| a.port().to_string())
            .unwrap_or_default()
    };
    let mut command = tokio::process::Command::new(&args.command[0]);
    command
        .args(&args.command[1..])
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", port("smtp"))
        .env("SMTP_SUBMISSION_PORT", port("submission"))
        .env("SMTPS_PORT", port("smtps"))
        .env("SMTP_CA_FILE", ca_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(user) = args.server.auth_user.first() {
        command.env("SMTP_USER", &user.name);
        if let Some(password) = &user.password {
            command.env("SMTP_PASSWORD", password);
        }
    }
    let started = Instant::now();
    let mut child = command.spawn().map_err(|source| RunError::Spawn {
        command: args.command[0].clone(),
        source,
    })?;
    let pid = child.id();
    let out = child.stdout.take().map(|s| tokio::spawn(forward(s, false)));
    let err = child.stderr.take().map(|s| tokio::spawn(forward(s, true)));
    let mut timed_out = false;
    let mut interrupted = false;
    let status = tokio::select! {
        status = child.wait() => status.ok(),
        () = tokio::time::sleep(args.timeout) => {
            timed_out = true;
            None
        }
        _ = tokio::signal::ctrl_c() => {
            interrupted = true;
            None
        }
    };
    let status = match status {
        Some(status) => Some(status),
        None => {
            if let Some(pid) = pid {
                kill_group(pid);
            }
            child.wait().await.ok()
        }
    };
    for task in [out, err].into_iter().flatten() {
        let _ = task.await;
    }
    use std::os::unix::process::ExitStatusExt;
    Ok((
        ClientResult {
            command: args.command.clone(),
            exit_code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            timed_out,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        },
        interrupted,
    ))
}

/// Kills the client's whole process group (a shell's children too).
fn kill_group(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

/// Copies the client's output line by line, prefixed, to our stdout or stderr.
async fn forward(stream: impl AsyncRead + Unpin, to_stderr: bool) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        // Through the same queue as the server's log and events, so that the order holds.
        if to_stderr {
            crate::output::stderr_line(&format!("[client] {line}"));
        } else {
            crate::output::stdout_line(&format!("[client] {line}"));
        }
    }
}

/// Writes the report files asked for.
pub fn write_reports(reports: &ReportArgs, report: &RunReport) -> Result<(), String> {
    let write = |path: &Option<PathBuf>, text: String| -> Result<(), String> {
        match path {
            Some(path) => std::fs::write(path, text)
                .map_err(|e| format!("cannot write the report {}: {e}", path.display())),
            None => Ok(()),
        }
    };
    write(
        &reports.report,
        serde_json::to_string_pretty(report).unwrap_or_default(),
    )?;
    write(&reports.junit, fake_server::report::junit::render(report))?;
    write(&reports.html, fake_server::report::html::render(report))?;
    Ok(())
}

/// `fake-smtp suites`.
pub fn list_suites() {
    let mut text = String::new();
    for suite in fake_server::scenario::suites::all() {
        text.push_str(&format!("{}: {}\n", suite.name, suite.description));
        for name in &suite.scenarios {
            let description = Scenario::load(name)
                .ok()
                .and_then(|s| s.description)
                .unwrap_or_default();
            text.push_str(&format!("  {name}  {description}\n"));
        }
    }
    crate::print_out(&text);
}
