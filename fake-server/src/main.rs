//! `fake-smtp`: parse the command line, run, map the outcome to an exit code (0 ok, 1 problems
//! found, 2 the tool could not do its job).

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, ServeArgs};
use fake_server::ServerEvent;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Serve(args) = &cli.command;
    init_logging(args.quiet);
    let runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
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
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fake-smtp: {error}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn serve(args: &ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = args.builder();
    if args.json {
        builder = builder.on_event(print_json);
    }
    let server = builder.start().await?;
    if let Some(dir) = &args.store {
        tracing::info!(dir = %dir.display(), "messages are written to a Maildir");
    }
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
    Ok(())
}

/// One event per line on stdout, flushed at once so that scripts see it.
fn print_json(event: &ServerEvent) {
    if let Ok(line) = serde_json::to_string(event) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
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
