//! The command line (clap types only), converted at once into flow targets.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use smtp_harness::client::{Timeouts, Trust};
use smtp_harness::flows::{FlowKind, Outbound, Target};
use smtp_harness::message::shapes;
use smtp_protocol::sasl::Credentials;

#[derive(Debug, Parser)]
#[command(
    name = "smtp-harness",
    version,
    about = "A reference SMTP client: walks submission, relay, TLS and AUTH flows against a server and prints the transcript"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one flow against a server and print what happened.
    Probe(Box<ProbeArgs>),
    /// List the message shapes `probe --message` sends, or print one as it would be sent.
    Messages(MessagesArgs),
}

#[derive(Debug, Args)]
pub struct MessagesArgs {
    /// Print this shape's octets (for a server offering 8BITMIME, BINARYMIME, CHUNKING and
    /// SMTPUTF8) instead of the list.
    pub name: Option<String>,

    /// With NAME: as for a server that offers none of them (8-bit parts downgraded).
    #[arg(long, requires = "name")]
    pub seven_bit: bool,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The server: IP:PORT, or localhost:PORT (no DNS lookup is ever made).
    #[arg(value_parser = parse_address)]
    pub address: SocketAddr,

    #[arg(long, value_enum)]
    pub flow: FlowKind,

    /// User name for AUTH (with --password or --token).
    #[arg(long)]
    pub user: Option<String>,

    #[arg(long, requires = "user")]
    pub password: Option<String>,

    /// A bearer token (XOAUTH2, OAUTHBEARER).
    #[arg(long, requires = "user")]
    pub token: Option<String>,

    /// Trust this CA certificate (PEM) instead of the system's roots.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,

    /// Do not verify the server's certificate (the transcript says so).
    #[arg(long)]
    pub insecure: bool,

    /// The name the server's certificate must carry (default: the address).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,

    #[arg(long, default_value = "harness@test.example")]
    pub from: String,

    #[arg(long, default_value = "recipient@test.example")]
    pub to: Vec<String>,

    /// relay: resolve the recipient's domain (MX, then A/AAAA) with this DNS server, which
    /// must be on loopback (the harness never asks the system's resolver); ADDR then gives
    /// only the port. Without it, ADDR is the one mail exchanger.
    #[arg(long, value_name = "IP:PORT")]
    pub dns: Option<SocketAddr>,

    /// How long to wait for each reply (default: RFC 5321 §4.5.3.2's minimums).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Send this shape of the corpus instead of the default message (`smtp-harness messages`
    /// lists them); it is encoded for what the server offers.
    #[arg(long, value_name = "NAME", conflicts_with = "message_file")]
    pub message: Option<String>,

    /// Send this message (.eml) as it is; line ends are made CRLF. 8-bit content needs a
    /// server offering 8BITMIME (a file is not re-encoded).
    #[arg(long, value_name = "FILE")]
    pub message_file: Option<PathBuf>,

    /// Print JSON (the outcome and the transcripts as data) instead of text.
    #[arg(long)]
    pub json: bool,

    /// Also print time offsets in the text transcript.
    #[arg(long)]
    pub times: bool,

    /// Compare the (redacted) text with this file: exit 1 with a diff when they differ.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,

    /// With --expect: write the file instead of comparing.
    #[arg(long, requires = "expect")]
    pub update: bool,
}

fn parse_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    // localhost is the one name known without asking anyone.
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("invalid port in {text:?}"))?;
        return Ok(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port));
    }
    Err(format!(
        "{text:?}: expected IP:PORT or localhost:PORT (the harness makes no DNS lookup)"
    ))
}

impl ProbeArgs {
    pub fn target(&self) -> Result<Target, String> {
        let mut target = Target::new(self.address);
        target.trust = if self.insecure {
            Trust::Insecure
        } else if let Some(path) = &self.ca {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| format!("--ca {}: {e}", path.display()))?;
            Trust::CaPem(pem)
        } else {
            Trust::System
        };
        target.server_name = self.server_name.clone();
        target.credentials = match (&self.user, &self.password, &self.token) {
            (Some(user), Some(password), _) => {
                Some(Credentials::password(user.clone(), password.clone()))
            }
            (Some(user), None, Some(token)) => {
                Some(Credentials::bearer(user.clone(), token.clone()))
            }
            (Some(_), None, None) => return Err("--user needs --password or --token".to_owned()),
            _ => None,
        };
        target.envelope.from = self.from.clone();
        target.envelope.to = self.to.clone();
        if let Some(name) = &self.message {
            let shape = shapes::shape(name).map_err(|e| e.to_string())?;
            target = target.with_shape(shape);
        }
        if let Some(path) = &self.message_file {
            let content = std::fs::read(path)
                .map_err(|e| format!("--message-file {}: {e}", path.display()))?;
            target.message = Outbound::File(std::sync::Arc::new(content));
        }
        if let Some(seconds) = self.timeout {
            let each = Duration::from_secs(seconds);
            target.timeouts = Timeouts {
                greeting: each,
                command: each,
                data_start: each,
                data_block: each,
                data_end: each,
            };
        }
        Ok(target)
    }
}
