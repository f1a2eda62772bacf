//! Commands that help install and operate fake-smtp rather than serve: `health` (for
//! container health checks), `completions` and `manpages` (for packaging).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{Cli, CompletionShell};

/// `fake-smtp completions SHELL`: the script, from the clap definition.
pub fn completions(shell: CompletionShell) -> ExitCode {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell.generator(), &mut command, "fake-smtp", &mut script);
    let mut script = String::from_utf8_lossy(&script).into_owned();
    if matches!(shell, CompletionShell::Bash) {
        // clap_complete's bash script spells the state of a hyphenated binary's subcommands
        // two ways (`fake__smtp__subcmd__serve` in the loop, `fake__subcmd__smtp__subcmd__serve`
        // in the arms), so no subcommand option ever completes: clap-rs/clap#6421. One
        // spelling for both; harmless once fixed upstream, and the completion test notices
        // either way.
        script = script.replace("fake__subcmd__smtp", "fake__smtp");
    }
    crate::print_out(&script);
    ExitCode::SUCCESS
}

/// `fake-smtp health ADDR`: a 220 greeting within `timeout` is healthy (exit 0); then QUIT.
/// Plain std networking: no runtime to start for a probe that runs every few seconds.
pub fn health(address: SocketAddr, timeout: Duration) -> ExitCode {
    match greeting_of(address, timeout) {
        Ok(greeting) if greeting.starts_with("220") => ExitCode::SUCCESS,
        Ok(greeting) => {
            eprintln!("fake-smtp health: {address} greeted with {greeting:?}, not 220");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("fake-smtp health: {address}: {error}");
            ExitCode::from(1)
        }
    }
}

/// The first line a server at `address` sends; QUIT is said after it (best effort).
fn greeting_of(address: SocketAddr, timeout: Duration) -> std::io::Result<String> {
    let stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    // A multi-line greeting ends with "220 " (a space after the code).
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed before a greeting",
            ));
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
    let _ = (&stream).write_all(b"QUIT\r\n");
    Ok(line.trim_end().to_owned())
}

/// `fake-smtp manpages DIR` (used by ci/release.sh): one page per command, from clap.
pub fn write_manpages(dir: &Path) -> ExitCode {
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), dir));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "fake-smtp: cannot write the manual pages into {}: {error}",
                dir.display()
            );
            ExitCode::from(2)
        }
    }
}
