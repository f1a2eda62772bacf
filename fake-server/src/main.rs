//! `fake-smtp`: parse the command line, run, map the outcome to an exit code (0 ok, 1 problems
//! found, 2 the tool could not do its job).

mod cli;
mod output;
mod run;
mod tools;

use std::io::Write;
use std::process::ExitCode;

use cli::{Cli, Command, ReportArgs, ServeArgs};
use fake_server::ServerEvent;

/// The binary only: library users keep their own allocator. Many short-lived allocations per
/// session and per message (transcript lines, envelopes, retained messages) make the allocator
/// a measurable part of throughput.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_or_exit();
    let code = match &cli.command {
        Command::Serve(args) => serve_command(args),
        Command::Run(args) => run::run_command(args),
        Command::Suites => {
            run::list_suites();
            ExitCode::SUCCESS
        }
        Command::Check { files } => check(files),
        Command::Scenarios => {
            list_scenarios();
            ExitCode::SUCCESS
        }
        Command::Schema => {
            print!("{}", fake_server::scenario::json_schema());
            ExitCode::SUCCESS
        }
        Command::Completions { shell } => tools::completions(*shell),
        Command::Manpages { dir } => tools::write_manpages(dir),
        Command::Health { address, timeout } => tools::health(*address, *timeout),
    };
    // Log lines and events still queued (output.rs) go out before the process ends.
    output::flush_all();
    code
}

/// `fake-smtp check`: every file is read in full; all errors are printed.
fn check(files: &[String]) -> ExitCode {
    let mut failed = false;
    for file in files {
        match fake_server::Scenario::load(file) {
            Ok(scenario) => {
                println!("ok {file} ({})", scenario.name);
                // Settings that load but cannot take effect: a warning line each, exit 0.
                for warning in scenario.warnings() {
                    eprintln!("{warning}");
                }
            }
            Err(error) => {
                failed = true;
                eprintln!("{error}");
            }
        }
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn list_scenarios() {
    let width = fake_server::scenario::builtin::BUILTIN
        .iter()
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (name, _) in fake_server::scenario::builtin::BUILTIN {
        let description = fake_server::Scenario::load(name)
            .ok()
            .and_then(|s| s.description)
            .unwrap_or_default();
        text.push_str(&format!("{name:width$}  {description}\n"));
    }
    print_out(&text);
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a panic.
pub(crate) fn print_out(text: &str) {
    output::flush_all();
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn serve_command(args: &ServeArgs) -> ExitCode {
    init_logging(args.server.quiet);
    if let Err(error) = args
        .check_listeners()
        .and_then(|()| args.reports.check_writable())
    {
        eprintln!("fake-smtp: {error}");
        return ExitCode::from(2);
    }
    // Scenarios are read before anything starts: a mistake stops here, with its location.
    let scenarios = match args.scenarios() {
        Ok(scenarios) => scenarios,
        Err(error) => {
            eprintln!("fake-smtp: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match args.threads {
        1 => {
            let (before_park, after_unpark) = fake_server::runtime::idle_spin::hooks(
                std::time::Duration::from_micros(args.idle_spin_us),
            );
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_park(before_park)
                .on_thread_unpark(after_unpark)
                .build()
        }
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fake-smtp: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(serve(args, scenarios));
    // Queued log lines go out before the error line below, which is written directly.
    output::flush_all();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("fake-smtp: {error}");
            ExitCode::from(2)
        }
    }
}

pub(crate) fn init_logging(quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(output::log_writer())
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Serves until a signal; `Ok(false)` when `--fail-on` is set and a client failed a check.
async fn serve(
    args: &ServeArgs,
    scenarios: cli::ScenarioChoice,
) -> Result<bool, Box<dyn std::error::Error>> {
    let scenario_name = scenarios
        .all
        .as_ref()
        .map_or_else(|| "default".to_owned(), |s| s.name.clone());
    let mut builder = args.builder(scenarios);
    if args.json {
        builder = builder.on_event(print_json);
    }
    let server = builder.start().await?;
    if let Some(path) = &args.server.ca_out {
        let pem = server
            .ca_cert_pem()
            .ok_or("--ca-out: there is no local CA (the certificate comes from --tls-cert)")?;
        std::fs::write(path, pem).map_err(|e| format!("--ca-out {}: {e}", path.display()))?;
        tracing::info!(file = %path.display(), "CA certificate written");
    }
    tracing::info!("{}", args.server.where_mail_goes());
    wait_for_signal().await?;
    tracing::info!("shutting down");
    let shutdown = server.shutdown();
    tokio::pin!(shutdown);
    tokio::select! {
        () = &mut shutdown => {}
        result = wait_for_signal() => {
            result?;
            tracing::warn!("second signal: stopping now");
        }
    }
    let sessions = server.sessions();
    finish_serve_reports(&args.reports, scenario_name, &sessions)
}

/// `serve --report/--junit/--html/--fail-on`: the sessions that came, judged and reported at
/// shutdown; whether they passed (always true without --fail-on).
fn finish_serve_reports(
    reports: &ReportArgs,
    scenario: String,
    sessions: &[std::sync::Arc<fake_server::SessionRecord>],
) -> Result<bool, Box<dyn std::error::Error>> {
    if !reports.any() && reports.fail_on.is_none() {
        return Ok(true);
    }
    let fail_on = reports
        .fail_on
        .map_or(smtp_conformance::Level::Must, cli::FailOn::level);
    let run =
        fake_server::report::RunResult::new(scenario, None, None, sessions, Vec::new(), fail_on);
    let report = fake_server::report::RunReport::new(fail_on, vec![run]);
    run::write_reports(reports, &report)?;
    Ok(reports.fail_on.is_none() || report.verdict.is_pass())
}

/// One event per line on stdout, with its time, through the buffered writer (output.rs): an
/// idle reader sees each line at once, a busy server pays no system call per event.
fn print_json(event: &ServerEvent) {
    let line = event.to_json_line(std::time::SystemTime::now());
    if !line.is_empty() {
        output::stdout_line(&line);
    }
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}
