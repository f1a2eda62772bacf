//! The command line (clap types only), converted at once into the library's own types.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use fake_server::duration::parse_duration;
use fake_server::tls::{CertificateChoice, TlsSetup};
use fake_server::{
    BareLineEnds, ListenerKind, ListenerSpec, Scenario, ServerBuilder, SessionConfig,
};
use smtp_protocol::session::{AuthConfig, AuthUser};

#[derive(Debug, Parser)]
#[command(
    name = "fake-smtp",
    version,
    about = "A scriptable fake SMTP server and local mail sink",
    long_about = "A scriptable fake SMTP server and local mail sink.\n\n\
        With no scenario it is a correct RFC 5321 server that accepts every sender and \
        recipient and keeps every message with the transcript of its session.\n\n\
        Every option of `serve` and `run` can also be set in the environment as \
        FAKE_SMTP_<OPTION> (FAKE_SMTP_MAX_MESSAGES=50; shown as [env: ...] in each command's \
        --help); a flag on the command line beats the environment. Flags take true or false \
        (also 1/0, yes/no, on/off); an option that may be repeated takes one value from the \
        environment, except FAKE_SMTP_SMTP, a comma-separated list of addresses. \
        FAKE_SMTP_DATA_DIR is serve's default CA folder (a CA in memory when it cannot be \
        written), not --data-dir, which must work."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: point an application at 127.0.0.1:1025 and see every message it sends.
    Serve(Box<ServeArgs>),
    /// Test a client: start the server on free ports, run CMD against it (once per scenario),
    /// judge every session, check the expectations, report; exit 1 if the client failed.
    Run(Box<RunArgs>),
    /// Validate scenario files; errors name file:line:column (exit 0 when all are valid, 2
    /// otherwise).
    Check {
        /// Scenario files (or built-in names).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// List the built-in scenarios, usable by name with `serve --scenario`.
    Scenarios,
    /// List the built-in suites (`run --suite NAME`) and what each scenario provokes.
    Suites,
    /// Print the JSON Schema of the scenario format (for editors).
    Schema,
    /// Check that a server answers: connect to ADDR, expect a 220 greeting, say QUIT (exit 0
    /// when it answered, 1 otherwise). For container health checks.
    Health {
        /// The plain SMTP listener to ask.
        #[arg(value_name = "ADDR", default_value = "127.0.0.1:1025")]
        address: SocketAddr,
        /// How long to wait for the connection and the greeting.
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Print a shell completion script: `fake-smtp completions bash > /etc/bash_completion.d/fake-smtp`
    /// (zsh: into a directory on $fpath as `_fake-smtp`; fish: ~/.config/fish/completions/).
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Write the manual pages (fake-smtp.1, fake-smtp-serve.1, ...) into DIR.
    #[command(hide = true)]
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// The shells `fake-smtp completions` writes for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    #[value(name = "powershell")]
    PowerShell,
}

impl CompletionShell {
    pub fn generator(self) -> clap_complete::Shell {
        match self {
            CompletionShell::Bash => clap_complete::Shell::Bash,
            CompletionShell::Zsh => clap_complete::Shell::Zsh,
            CompletionShell::Fish => clap_complete::Shell::Fish,
            CompletionShell::Elvish => clap_complete::Shell::Elvish,
            CompletionShell::PowerShell => clap_complete::Shell::PowerShell,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RelayTlsArg {
    /// Plain SMTP.
    Off,
    /// STARTTLS after EHLO; a relay that does not offer it is refused.
    Starttls,
    /// TLS from the first octet.
    Implicit,
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
    /// The scenario to play: a file or a built-in name (see `fake-smtp scenarios`). Prefix
    /// with a listener name (`smtp=FILE`) to give one listener its own.
    #[arg(long, env = "FAKE_SMTP_SCENARIO", value_name = "[LISTENER=]FILE|NAME")]
    pub scenario: Vec<String>,

    /// Plain SMTP listener; repeat for several (for example 127.0.0.1:1025 and [::1]:1025),
    /// or `off`. Port 0 picks a free port (see --json for the one chosen).
    #[arg(long, env = "FAKE_SMTP_SMTP", value_delimiter = ',', value_name = "ADDR|off", default_value = "127.0.0.1:1025", value_parser = parse_optional_addr)]
    pub smtp: Vec<OptionalAddr>,

    /// Submission listener (STARTTLS; RFC 6409), or `off`.
    #[arg(long, env = "FAKE_SMTP_SUBMISSION", value_name = "ADDR|off", default_value = "127.0.0.1:1587", value_parser = parse_optional_addr)]
    pub submission: OptionalAddr,

    /// Implicit-TLS submission listener (RFC 8314), or `off`.
    #[arg(long, env = "FAKE_SMTP_SMTPS", value_name = "ADDR|off", default_value = "127.0.0.1:1465", value_parser = parse_optional_addr)]
    pub smtps: OptionalAddr,

    /// The web sink: the UI and the HTTP API (Mailpit's /api/v1 and this tool's own), or
    /// `off` [default: 127.0.0.1:8025; if that port is taken, a warning and no web sink].
    /// Anywhere but loopback, set --http-auth.
    #[arg(long, env = "FAKE_SMTP_HTTP", value_name = "ADDR|off", value_parser = parse_optional_addr)]
    pub http: Option<OptionalAddr>,

    /// Basic authentication for the web sink (UI, API and events).
    #[arg(long, env = "FAKE_SMTP_HTTP_AUTH", value_name = "USER:PASSWORD", value_parser = parse_credentials)]
    pub http_auth: Option<(String, String)>,

    /// The SMTP server the web API's release sends messages to (plain SMTP).
    #[arg(long, env = "FAKE_SMTP_RELAY", value_name = "HOST:PORT")]
    pub relay: Option<String>,

    /// AUTH PLAIN on the relay with this user name and password.
    #[arg(long, env = "FAKE_SMTP_RELAY_AUTH", value_name = "USER:PASSWORD", value_parser = parse_credentials, requires = "relay")]
    pub relay_auth: Option<(String, String)>,

    /// TLS on the relay: STARTTLS (required), implicit TLS (RFC 8314), or none.
    #[arg(
        long,
        env = "FAKE_SMTP_RELAY_TLS",
        value_enum,
        value_name = "MODE",
        default_value = "off",
        requires = "relay"
    )]
    pub relay_tls: RelayTlsArg,

    /// The CA certificates (PEM) the relay's certificate must chain to (default: the
    /// system's roots).
    #[arg(
        long,
        env = "FAKE_SMTP_RELAY_CA",
        value_name = "FILE",
        requires = "relay"
    )]
    pub relay_ca: Option<PathBuf>,

    /// The envelope sender of released messages (default: the message's own).
    #[arg(
        long,
        env = "FAKE_SMTP_RELAY_RETURN_PATH",
        value_name = "ADDRESS",
        requires = "relay"
    )]
    pub relay_return_path: Option<String>,

    /// Where the local CA is kept (default: $FAKE_SMTP_DATA_DIR, else
    /// $XDG_DATA_HOME/fake-smtp, else ~/.local/share/fake-smtp; when that default cannot be
    /// written, a CA in memory for this run, with a warning; a DIR given here must work).
    // No clap `env`: FAKE_SMTP_DATA_DIR is the soft default above (a container whose /data
    // is not writable still serves), not an explicit --data-dir.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub server: ServerOptions,

    #[command(flatten)]
    pub reports: ReportArgs,

    /// Print one JSON object per line on stdout: a `listening` event per listener, then one
    /// per accepted message and per finished session.
    #[arg(long, env = "FAKE_SMTP_JSON", value_parser = BoolishValueParser::new())]
    pub json: bool,

    /// On SIGINT or SIGTERM, how long open sessions may finish before they get 421.
    #[arg(long, env = "FAKE_SMTP_SHUTDOWN_GRACE", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Worker threads: 1 runs everything on one thread (an event loop like smtp-sink's);
    /// 0 means one per CPU.
    #[arg(long, env = "FAKE_SMTP_THREADS", value_name = "N", default_value_t = 1)]
    pub threads: usize,

    /// With --threads 1: microseconds to keep polling before the event loop sleeps, so that
    /// busy clients need not wake it (adaptive: it backs off when spins find no work); 0 never
    /// spins.
    #[arg(
        long,
        env = "FAKE_SMTP_IDLE_SPIN_US",
        value_name = "MICROSECONDS",
        default_value_t = 20
    )]
    pub idle_spin_us: u64,
}

/// `fake-smtp run`: the CI entry.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A scenario to play to the client (a file or a built-in name); repeat to run the
    /// client once per scenario. Without any (and without --suite), the default.
    #[arg(long, env = "FAKE_SMTP_SCENARIO", value_name = "FILE|NAME")]
    pub scenario: Vec<String>,

    /// A suite of scenarios (see `fake-smtp suites`): the client runs once per scenario.
    #[arg(long, env = "FAKE_SMTP_SUITE", value_name = "NAME")]
    pub suite: Vec<String>,

    /// What the run must show besides a client that follows the RFCs, as KEY=VALUE:
    /// messages=N, sender=ADDR, recipient=ADDR, header=NAME:REGEX, body=TEXT,
    /// attachment=NAME, exit-code=zero|non-zero|N, pass=CHECK-ID, max-duration=DURATION.
    /// Repeatable; added to each scenario's own `expect:` block.
    #[arg(long, env = "FAKE_SMTP_EXPECT", value_name = "KEY=VALUE")]
    pub expect: Vec<String>,

    /// How long the client may run (then it is killed, with its process group, and the
    /// run fails).
    #[arg(long, env = "FAKE_SMTP_TIMEOUT", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Keep the local CA in this directory (default: a new CA in memory for each run; its
    /// certificate is given to the client as $SMTP_CA_FILE).
    // No clap `env`: FAKE_SMTP_DATA_DIR is serve's default CA folder; a run's CA stays fresh.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub server: ServerOptions,

    #[command(flatten)]
    pub reports: ReportArgs,

    /// The client: a command and its arguments, after `--`. It gets SMTP_HOST, SMTP_PORT,
    /// SMTP_SUBMISSION_PORT, SMTPS_PORT, SMTP_CA_FILE (and SMTP_USER, SMTP_PASSWORD with
    /// --auth-user) in its environment.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The failing level (`--fail-on`).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FailOn {
    /// A failed check (a MUST-level violation) fails the run.
    Must,
    /// A warned SHOULD-level check fails it too.
    Should,
    /// Any warning fails it.
    May,
}

impl FailOn {
    pub fn level(self) -> smtp_conformance::Level {
        match self {
            FailOn::Must => smtp_conformance::Level::Must,
            FailOn::Should => smtp_conformance::Level::Should,
            FailOn::May => smtp_conformance::Level::Info,
        }
    }
}

/// Reports, for `run` and `serve`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write the report as JSON (format: docs/report.schema.json).
    #[arg(long, env = "FAKE_SMTP_REPORT", value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Write the report as JUnit XML (one testcase per check per session, and per
    /// expectation), for CI test views.
    #[arg(long, env = "FAKE_SMTP_JUNIT", value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write the report as one self-contained HTML page (each session as a sequence diagram).
    #[arg(long, env = "FAKE_SMTP_HTML", value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// The level at which client checks fail the run (the exit status is 1): must (failed
    /// checks), should (also SHOULD-level warnings), may (any warning). With `serve`, set
    /// it to make the exit status report failures.
    #[arg(long, env = "FAKE_SMTP_FAIL_ON", value_enum, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,
}

impl ReportArgs {
    /// Whether any report file was asked for.
    pub fn any(&self) -> bool {
        self.report.is_some() || self.junit.is_some() || self.html.is_some()
    }

    /// Checks that every report file can be written, before anything runs.
    pub fn check_writable(&self) -> Result<(), String> {
        for path in [&self.report, &self.junit, &self.html]
            .into_iter()
            .flatten()
        {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot write the report {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// What `serve` and `run` share: how the server behaves.
#[derive(Debug, Args)]
pub struct ServerOptions {
    /// Offer STARTTLS on the plain SMTP listeners too (they are plain by default, so that
    /// every client's default settings work against a local sink).
    #[arg(long, env = "FAKE_SMTP_SMTP_STARTTLS", value_parser = BoolishValueParser::new())]
    pub smtp_starttls: bool,

    /// Also write the CA certificate clients must trust to this file.
    #[arg(long, env = "FAKE_SMTP_CA_OUT", value_name = "FILE")]
    pub ca_out: Option<PathBuf>,

    /// Present this certificate chain (PEM) instead of a generated one; needs --tls-key.
    #[arg(
        long,
        env = "FAKE_SMTP_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(
        long,
        env = "FAKE_SMTP_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Offer PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER before STARTTLS too (RFC 4954 advises
    /// against it; for old clients on a local sink).
    #[arg(long, env = "FAKE_SMTP_AUTH_IN_CLEARTEXT", value_parser = BoolishValueParser::new())]
    pub auth_in_cleartext: bool,

    /// A user for AUTH, as NAME:PASSWORD (repeatable). Without any, every name with any
    /// password or token is accepted, and SCRAM is not offered.
    #[arg(long, env = "FAKE_SMTP_AUTH_USER", value_name = "NAME:PASSWORD", value_parser = parse_user)]
    pub auth_user: Vec<AuthUser>,

    /// Another DNS name or IP address for the generated certificate (repeatable).
    #[arg(long, env = "FAKE_SMTP_TLS_NAME", value_name = "NAME")]
    pub tls_name: Vec<String>,

    /// Also write each message to this Maildir, fsynced before the 250: DIR/new/ for mail
    /// readers (LF line ends, Return-Path and one X-Original-To per envelope recipient, Bcc
    /// included), the octets exactly as received in DIR/raw/<queue id>.eml, and every
    /// session's transcript as JSON in DIR/sessions/. Without it, mail is only in memory.
    #[arg(long, env = "FAKE_SMTP_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// The server's name in the greeting, the EHLO reply and the trace header.
    #[arg(
        long,
        env = "FAKE_SMTP_HOSTNAME",
        value_name = "NAME",
        default_value = "localhost"
    )]
    pub hostname: String,

    /// Largest message accepted, in octets (advertised as SIZE; 0 means no limit).
    #[arg(long, env = "FAKE_SMTP_MAX_MESSAGE_SIZE", value_name = "OCTETS", default_value_t = 10 * 1024 * 1024)]
    pub max_message_size: u64,

    /// Recipients per message (RCPT beyond it gets 452 4.5.3).
    #[arg(long, env = "FAKE_SMTP_MAX_RECIPIENTS", value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(100..))]
    pub max_recipients: u32,

    /// Messages kept in memory; the oldest are dropped beyond it.
    #[arg(
        long,
        env = "FAKE_SMTP_MAX_MESSAGES",
        value_name = "N",
        default_value_t = 1000
    )]
    pub max_messages: usize,

    /// Memory for kept messages and session records (content, transcripts, check results),
    /// in octets or with a unit (KiB, MiB, GiB; K, M, G are the same): the oldest are dropped
    /// beyond it, an `evicted` event says which. Files in --store are never dropped.
    #[arg(long, env = "FAKE_SMTP_MAX_MEMORY", value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub max_memory: usize,

    /// Simultaneous connections; more get 421 4.3.2.
    #[arg(
        long,
        env = "FAKE_SMTP_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 1000
    )]
    pub max_connections: usize,

    /// Simultaneous connections from one client address (an IPv6 /64), so that one address
    /// cannot lock out the rest; more get 421 4.7.0. 0: only --max-connections applies.
    #[arg(long, env = "FAKE_SMTP_MAX_CONNECTIONS_PER_IP", value_name = "N", default_value_t = fake_server::server::DEFAULT_MAX_CONNECTIONS_PER_IP)]
    pub max_connections_per_ip: usize,

    /// Time allowed for a whole command line (or SASL response), from the previous one or
    /// the server's last reply: octets trickled without a line end do not extend it (RFC 5321
    /// 4.5.3.2.7 asks for at least 5m).
    #[arg(long, env = "FAKE_SMTP_COMMAND_TIMEOUT", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub command_timeout: Duration,

    /// Idle time allowed while receiving message content (DATA, BDAT); it restarts with
    /// every read (RFC 5321 4.5.3.2.5: 3m per data block).
    #[arg(long, env = "FAKE_SMTP_DATA_TIMEOUT", value_name = "DURATION", default_value = "3m", value_parser = parse_duration)]
    pub data_timeout: Duration,

    /// Octets per second message content must average after a grace period equal to
    /// --data-timeout (the grace plus one second per RATE octets received); slower transfers
    /// get 421 4.4.2. 0 turns it off.
    #[arg(long, env = "FAKE_SMTP_MIN_DATA_RATE", value_name = "RATE", default_value_t = fake_server::server::DEFAULT_MIN_DATA_RATE)]
    pub min_data_rate: u64,

    /// Time allowed for a TLS handshake (implicit TLS and STARTTLS).
    #[arg(long, env = "FAKE_SMTP_TLS_HANDSHAKE_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub tls_handshake_timeout: Duration,

    /// What to do with message content containing a bare CR or LF.
    #[arg(
        long,
        env = "FAKE_SMTP_BARE_LINE_ENDS",
        value_enum,
        default_value = "reject-lookalikes"
    )]
    pub bare_line_ends: BareLineEndsArg,

    /// Keep AUTH passwords and tokens in session transcripts (stored, printed, reported) as
    /// the client sent them. By default they are redacted once the session is judged: the
    /// user name and a fingerprint (the first 8 hex digits of the secret's SHA-256) stay.
    #[arg(long, env = "FAKE_SMTP_RECORD_SECRETS", value_parser = BoolishValueParser::new())]
    pub record_secrets: bool,

    /// Judge every session and message against the client checks (docs/checks.md).
    #[arg(long, env = "FAKE_SMTP_CHECKS", value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    pub checks: bool,

    /// Log only warnings and errors on stderr.
    #[arg(short, long, env = "FAKE_SMTP_QUIET", value_parser = BoolishValueParser::new())]
    pub quiet: bool,
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("expected on or off, not {other:?}")),
    }
}

/// A size in octets: `1048576`, `512KiB`, `256MiB`, `1GiB` (`K`, `M`, `G` and the `B`-less
/// forms mean the same binary multiples: this is about memory).
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number
        .parse()
        .map_err(|_| format!("expected a size like 256MiB, not {text:?}"))?;
    let multiple: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown unit {other:?} (use KiB, MiB or GiB)")),
    };
    match number.checked_mul(multiple) {
        Some(0) => Err("the size must be more than 0".to_owned()),
        Some(octets) => Ok(octets),
        None => Err(format!("{text} is too large")),
    }
}

fn parse_credentials(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        Some(_) => Err("the user name is empty".to_owned()),
        None => Err("expected USER:PASSWORD".to_owned()),
    }
}

fn parse_user(text: &str) -> Result<AuthUser, String> {
    let (name, password) = text
        .split_once(':')
        .ok_or_else(|| "expected NAME:PASSWORD".to_owned())?;
    if name.is_empty() {
        return Err("the user name is empty".to_owned());
    }
    Ok(AuthUser {
        name: name.to_owned(),
        password: Some(password.to_owned()),
        token: Some(password.to_owned()),
    })
}

/// A listener address, or `off`.
#[derive(Debug, Clone, Copy)]
pub struct OptionalAddr(pub Option<SocketAddr>);

fn parse_optional_addr(text: &str) -> Result<OptionalAddr, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(OptionalAddr(None));
    }
    text.parse()
        .map(|a| OptionalAddr(Some(a)))
        .map_err(|e| format!("{e} (an address like 127.0.0.1:1587, or off)"))
}

/// The scenarios asked for: one for every listener, and any per listener.
#[derive(Debug, Default)]
pub struct ScenarioChoice {
    pub all: Option<Scenario>,
    pub per_listener: Vec<(String, Scenario)>,
}

/// Listener names a `--scenario NAME=...` prefix may use.
const LISTENERS: [&str; 3] = ["smtp", "submission", "smtps"];

impl ServeArgs {
    /// Loads the scenarios named on the command line.
    pub fn scenarios(&self) -> Result<ScenarioChoice, String> {
        let mut choice = ScenarioChoice::default();
        for argument in &self.scenario {
            let (listener, reference) = match argument.split_once('=') {
                Some((name, reference)) if LISTENERS.contains(&name) => (Some(name), reference),
                Some((name, _)) if !name.contains(['/', '.']) => {
                    return Err(format!(
                        "--scenario {argument}: no listener called {name:?} (listeners: {})",
                        LISTENERS.join(", ")
                    ))
                }
                _ => (None, argument.as_str()),
            };
            let scenario = Scenario::load(reference).map_err(|e| e.to_string())?;
            match listener {
                Some(name) => choice.per_listener.push((name.to_owned(), scenario)),
                None if choice.all.is_some() => {
                    return Err("--scenario given twice for all listeners; prefix one with a listener name (smtp=...)".to_owned())
                }
                None => choice.all = Some(scenario),
            }
        }
        Ok(choice)
    }

    /// Refuses a command line that leaves no listener at all (`--smtp off --submission off
    /// --smtps off`): the server would have nothing to do.
    pub fn check_listeners(&self) -> Result<(), String> {
        let any = self.smtp.iter().any(|a| a.0.is_some())
            || self.submission.0.is_some()
            || self.smtps.0.is_some();
        if any {
            Ok(())
        } else {
            Err("every listener is off: give --smtp, --submission or --smtps an address".to_owned())
        }
    }

    /// The server this command line describes (events are attached by the caller).
    pub fn builder(&self, scenarios: ScenarioChoice) -> ServerBuilder {
        let mut builder = self
            .server
            .builder(self.data_dir.as_deref(), false)
            .shutdown_grace(self.shutdown_grace);
        let per_listener = |name: &str| {
            scenarios
                .per_listener
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| std::sync::Arc::new(s.clone()))
        };
        let (http, explicit) = match self.http {
            Some(given) => (given.0, true),
            None => (Some(SocketAddr::from(([127, 0, 0, 1], 8025))), false),
        };
        if let Some(address) = http {
            let mut web = fake_server::web::WebConfig::new(address);
            web.optional = !explicit;
            web.auth = self.http_auth.clone();
            web.relay = self
                .relay
                .as_ref()
                .map(|relay| fake_server::web::RelayConfig {
                    address: relay.clone(),
                    credentials: self.relay_auth.clone(),
                    return_path: self.relay_return_path.clone(),
                    tls: match self.relay_tls {
                        RelayTlsArg::Off => fake_server::web::RelayTls::Off,
                        RelayTlsArg::Starttls => fake_server::web::RelayTls::StartTls,
                        RelayTlsArg::Implicit => fake_server::web::RelayTls::Implicit,
                    },
                    ca_file: self.relay_ca.clone(),
                });
            builder = builder.http(web);
        }
        for address in self.smtp.iter().filter_map(|a| a.0) {
            builder = builder.listener(ListenerSpec {
                kind: ListenerKind::Smtp,
                address,
                scenario: per_listener("smtp"),
            });
        }
        for (kind, address) in [
            (ListenerKind::Submission, self.submission.0),
            (ListenerKind::Smtps, self.smtps.0),
        ] {
            if let Some(address) = address {
                builder = builder.listener(ListenerSpec {
                    kind,
                    address,
                    scenario: per_listener(kind.name()),
                });
            }
        }
        if let Some(scenario) = scenarios.all {
            builder = builder.scenario(scenario);
        }
        builder
    }
}

impl ServerOptions {
    /// The start-up line that says where received mail goes and how to see it (issue 9,
    /// item 17): without --store nothing but this process can read it.
    pub fn where_mail_goes(&self) -> String {
        let memory = format!(
            "the last {} messages, at most {}",
            self.max_messages,
            human_size(self.max_memory)
        );
        match &self.store {
            None => format!(
                "mail is kept in memory only ({memory}: seen in the web UI and API, --json \
                 events, reports and the log); --store DIR to keep files"
            ),
            Some(dir) => {
                let dir = dir.display();
                format!(
                    "mail is stored in {dir}: a Maildir for mail readers ({dir}/new/, LF line \
                     ends, the envelope in Return-Path and X-Original-To; `s-nail -f {dir}` or \
                     `mutt -f {dir}`), the octets as received in {dir}/raw/<id>.eml, session \
                     transcripts in {dir}/sessions/; also in memory ({memory})"
                )
            }
        }
    }

    fn tls_setup(&self, data_dir: Option<&std::path::Path>, in_memory: bool) -> TlsSetup {
        let mut setup = TlsSetup::new();
        match data_dir {
            Some(dir) => setup = setup.ca_dir(dir),
            None if in_memory => setup = setup.in_memory_ca(),
            // The data directory, or a CA in memory (with a warning) when it cannot be used.
            None => setup = setup.data_dir_ca(),
        }
        if let (Some(chain), Some(key)) = (&self.tls_cert, &self.tls_key) {
            setup = setup.certificate(CertificateChoice::Files {
                chain: chain.clone(),
                key: key.clone(),
            });
        }
        for name in &self.tls_name {
            setup = setup.extra_name(name.clone());
        }
        setup
    }

    /// A server as these options describe, without listeners or scenario. The CA is kept in
    /// `data_dir` if given, else in memory (`in_memory_ca`) or in the default data directory.
    pub fn builder(&self, data_dir: Option<&std::path::Path>, in_memory_ca: bool) -> ServerBuilder {
        let session = SessionConfig {
            hostname: self.hostname.clone(),
            max_message_size: self.max_message_size,
            max_recipients: self.max_recipients as usize,
            command_timeout: self.command_timeout,
            data_timeout: self.data_timeout,
            auth: AuthConfig {
                in_cleartext: self.auth_in_cleartext,
                users: self.auth_user.clone(),
                ..AuthConfig::default()
            },
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
            .max_memory(self.max_memory)
            .max_connections(self.max_connections)
            .max_connections_per_ip(self.max_connections_per_ip)
            .min_data_rate(self.min_data_rate)
            .tls_handshake_timeout(self.tls_handshake_timeout)
            .smtp_starttls(self.smtp_starttls)
            .checks(self.checks)
            .record_secrets(self.record_secrets)
            .tls(self.tls_setup(data_dir, in_memory_ca));
        if let Some(dir) = &self.store {
            builder = builder.store_dir(dir);
        }
        builder
    }
}

/// `256 MiB`, `512 KiB`, `100 octets`: a size as a person reads it.
fn human_size(octets: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    const GIB: usize = 1024 * MIB;
    match octets {
        n if n >= GIB && n % GIB == 0 => format!("{} GiB", n / GIB),
        n if n >= MIB => format!("{} MiB", n / MIB),
        n if n >= KIB => format!("{} KiB", n / KIB),
        n => format!("{n} octets"),
    }
}

impl Cli {
    /// Parses the command line and the `FAKE_SMTP_*` environment, exiting as clap does on an
    /// error (status 2). A bad value that came from the environment is reported with the
    /// variable's name: clap itself names only the flag, which the user never typed.
    pub fn parse_or_exit() -> Cli {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        match Cli::try_parse_from(&args) {
            Ok(cli) => cli,
            Err(error) => match env_source_of(&error, &args) {
                Some(variable) => {
                    let rendered = error.to_string();
                    let first = rendered.lines().next().unwrap_or_default();
                    let reason = first.strip_prefix("error: ").unwrap_or(first);
                    eprintln!("error: environment variable {variable}: {reason}");
                    std::process::exit(2);
                }
                None => error.exit(),
            },
        }
    }
}

/// The environment variable a refused value came from: the refused option has one, it is
/// set, and the option is not on the command line (a flag beats the environment).
fn env_source_of(error: &clap::Error, args: &[std::ffi::OsString]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(shown)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    // "--max-messages <N>" or "--quiet"
    let long = shown.strip_prefix("--")?.split([' ', '=']).next()?;
    let command = <Cli as clap::CommandFactory>::command();
    let arg = command
        .get_subcommands()
        .flat_map(|sub| sub.get_arguments())
        .find(|arg| arg.get_long() == Some(long))?;
    let on_command_line = args.iter().filter_map(|a| a.to_str()).any(|a| {
        a.strip_prefix("--")
            .is_some_and(|rest| rest == long || rest.starts_with(&format!("{long}=")))
            || arg.get_short().is_some_and(|short| {
                a.starts_with('-') && !a.starts_with("--") && a.contains(short)
            })
    });
    if on_command_line {
        return None;
    }
    let variable = arg.get_env()?.to_str()?.to_owned();
    std::env::var_os(&variable).map(|_| variable)
}
