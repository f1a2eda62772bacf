//! `smtp-harness`: parse the command line, run the flow, map the outcome to an exit code
//! (0 the flow succeeded, 1 it did not or the transcript differs from --expect, 2 the tool
//! could not do its job).

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, MessagesArgs, ProbeArgs};
use smtp_harness::flows::{self, FlowKind, FlowOutcome, RelayTarget, Target};
use smtp_harness::redact::redact;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Probe(args) => args,
        Command::Messages(args) => {
            return match messages(&args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("smtp-harness: {error}");
                    ExitCode::from(2)
                }
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("smtp-harness: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(probe(&args)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("smtp-harness: {error}");
            ExitCode::from(2)
        }
    }
}

async fn probe(args: &ProbeArgs) -> Result<ExitCode, String> {
    let target = args.target()?;
    let outcome = match (args.flow, args.dns) {
        (FlowKind::Relay, Some(dns)) => {
            let resolver =
                smtp_harness::dns::resolver_for(dns).map_err(|e| format!("--dns {dns}: {e}"))?;
            flows::relay_to_domain(&target, &resolver).await
        }
        (_, Some(_)) => return Err("--dns only applies to --flow relay".to_owned()),
        (flow, None) => run(flow, &target).await,
    };
    let text = outcome.render(args.times);
    if args.json {
        let sessions: Vec<_> = outcome.sessions.iter().collect();
        let json = serde_json::json!({
            "flow": outcome.flow,
            "success": outcome.success,
            "summary": outcome.summary,
            "sessions": sessions,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
        );
    } else {
        print!("{text}");
    }
    if let Some(path) = &args.expect {
        let actual = redact(&outcome.render(false));
        if args.update {
            std::fs::write(path, &actual)
                .map_err(|e| format!("--expect {}: {e}", path.display()))?;
            eprintln!("smtp-harness: wrote {}", path.display());
        } else {
            let expected = std::fs::read_to_string(path)
                .map_err(|e| format!("--expect {}: {e}", path.display()))?;
            if expected != actual {
                eprintln!(
                    "smtp-harness: the transcript differs from {}:",
                    path.display()
                );
                eprint!("{}", diff(&expected, &actual));
                return Ok(ExitCode::from(1));
            }
            eprintln!("smtp-harness: the transcript matches {}", path.display());
        }
    }
    Ok(if outcome.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `smtp-harness messages [NAME]`: the corpus, or one shape's octets.
fn messages(args: &MessagesArgs) -> Result<(), String> {
    use smtp_harness::message::{render, shapes, Offered, SHAPES};
    use std::io::Write;
    let Some(name) = &args.name else {
        let width = SHAPES.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for shape in SHAPES {
            println!("{:width$}  {}", shape.name, shape.summary);
        }
        return Ok(());
    };
    let shape = shapes::shape(name).map_err(|e| e.to_string())?;
    let offered = if args.seven_bit {
        Offered::NONE
    } else {
        Offered::ALL
    };
    let rendered = render(&(shape.build)(), offered).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for chunk in rendered.chunks() {
        out.write_all(&chunk).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

async fn run(flow: FlowKind, target: &Target) -> FlowOutcome {
    match flow {
        FlowKind::Submission => flows::submission(target).await,
        FlowKind::SubmissionImplicit => flows::submission_implicit(target).await,
        FlowKind::TlsOpportunistic => flows::tls_opportunistic(target).await,
        FlowKind::TlsRequired => flows::tls_required(target).await,
        FlowKind::Auth => flows::auth(target).await,
        FlowKind::Relay => {
            // The address given is the one mail exchanger.
            let exchange = target
                .server_name
                .clone()
                .unwrap_or_else(|| target.address.ip().to_string());
            let mx = [RelayTarget {
                exchange,
                preference: 0,
                addresses: vec![target.address.ip()],
            }];
            flows::relay(target, &mx).await
        }
    }
}

/// A unified diff, `-` expected and `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .header("expected", "actual")
        .to_string()
}
