//! The command line (clap types only), converted at once into the library's own types.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fake_server::duration::parse_duration;
use fake_server::{BareLineEnds, ServerBuilder, SessionConfig};

#[derive(Debug, Parser)]
#[command(
    name = "fake-smtp",
    version,
    about = "A scriptable fake SMTP server and local mail sink",
    long_about = "A scriptable fake SMTP server and local mail sink.\n\n\
        With no scenario it is a correct RFC 5321 server that accepts every sender and \
        recipient and keeps every message with the transcript of its session."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: point an application at 127.0.0.1:1025 and see every message it sends.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BareLineEndsArg {
    /// Refuse any message with a bare CR or LF (554 5.5.2).
    Reject,
    /// Refuse only messages with an end-of-data look-alike (SMTP smuggling); accept other
    /// bare line ends and note them.
    RejectLookalikes,
    /// Accept them and only note what was seen.
    Accept,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Plain SMTP listener; repeat for several (for example 127.0.0.1:1025 and [::1]:1025).
    /// Port 0 picks a free port (see --json for the one chosen).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1025")]
    pub smtp: Vec<SocketAddr>,

    /// Also write each message to this Maildir (fsynced before the 250), with its session
    /// transcript as JSON in DIR/transcripts/.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// Print one JSON object per line on stdout: a `listening` event per listener, then one
    /// per accepted message and per finished session.
    #[arg(long)]
    pub json: bool,

    /// The server's name in the greeting, the EHLO reply and the trace header.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    pub hostname: String,

    /// Largest message accepted, in octets (advertised as SIZE; 0 means no limit).
    #[arg(long, value_name = "OCTETS", default_value_t = 10 * 1024 * 1024)]
    pub max_message_size: u64,

    /// Recipients per message (RCPT beyond it gets 452 4.5.3).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(100..))]
    pub max_recipients: u32,

    /// Messages kept in memory; the oldest are dropped beyond it.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_messages: usize,

    /// Simultaneous connections; more get 421 4.3.2.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_connections: usize,

    /// Idle time allowed while waiting for a command (RFC 5321 4.5.3.2.7 asks for at least 5m).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub command_timeout: Duration,

    /// Idle time allowed while receiving message content.
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = parse_duration)]
    pub data_timeout: Duration,

    /// On SIGINT or SIGTERM, how long open sessions may finish before they get 421.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// What to do with message content containing a bare CR or LF.
    #[arg(long, value_enum, default_value = "reject-lookalikes")]
    pub bare_line_ends: BareLineEndsArg,

    /// Worker threads: 1 runs everything on one thread (an event loop like smtp-sink's);
    /// 0 means one per CPU.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,

    /// Log only warnings and errors on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

impl ServeArgs {
    /// The server this command line describes (events are attached by the caller).
    pub fn builder(&self) -> ServerBuilder {
        let session = SessionConfig {
            hostname: self.hostname.clone(),
            max_message_size: self.max_message_size,
            max_recipients: self.max_recipients as usize,
            command_timeout: self.command_timeout,
            data_timeout: self.data_timeout,
            bare_line_ends: match self.bare_line_ends {
                BareLineEndsArg::Reject => BareLineEnds::Reject,
                BareLineEndsArg::RejectLookalikes => BareLineEnds::RejectLookalikes,
                BareLineEndsArg::Accept => BareLineEnds::Accept,
            },
            ..SessionConfig::default()
        };
        let mut builder = ServerBuilder::default()
            .session_config(session)
            .max_messages(self.max_messages)
            .max_connections(self.max_connections)
            .shutdown_grace(self.shutdown_grace);
        for address in &self.smtp {
            builder = builder.smtp(*address);
        }
        if let Some(dir) = &self.store {
            builder = builder.store_dir(dir);
        }
        builder
    }
}
