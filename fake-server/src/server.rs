//! The server as a library: start it on port 0 in a test, talk to it, look at what it
//! captured, shut it down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use smtp_protocol::session::SessionConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{ServerError, SessionTimeout, WaitTimeout};
use crate::events::{EventSink, ServerEvent};
use crate::mailbox::{Mailbox, MailboxConfig, SessionRecord, StoredMessage};
use crate::runtime::after_reply::AfterReply;
use crate::runtime::connection::{DefaultPolicyFactory, ListenerContext, Play, PolicyFactory};
use crate::runtime::listener::{accept_loop, Limits};
use crate::runtime::shutdown::Stage;
use crate::scenario::{Scenario, ScenarioPolicyFactory};
use crate::tls::{TlsContext, TlsSetup};

/// What a listener is for; each kind has its own defaults (all changeable by scenario).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Relay-style SMTP (1025 by default): plain, so that every client's defaults work on a
    /// local sink; STARTTLS only when asked ([`ServerBuilder::smtp_starttls`], or a
    /// scenario's `server: { starttls: true }` or STARTTLS among its EHLO capabilities).
    Smtp,
    /// Message submission (1587, RFC 6409): STARTTLS offered.
    Submission,
    /// Submission over implicit TLS (1465, RFC 8314): TLS from the first octet.
    Smtps,
}

impl ListenerKind {
    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::Smtp => "smtp",
            ListenerKind::Submission => "submission",
            ListenerKind::Smtps => "smtps",
        }
    }

    fn needs_tls(self) -> bool {
        !matches!(self, ListenerKind::Smtp)
    }
}

/// One listening socket. Its sessions play `scenario` when given, else the server's.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    pub kind: ListenerKind,
    pub address: SocketAddr,
    pub scenario: Option<Arc<Scenario>>,
}

impl ListenerSpec {
    pub fn new(kind: ListenerKind, address: SocketAddr) -> ListenerSpec {
        ListenerSpec {
            kind,
            address,
            scenario: None,
        }
    }
}

/// Connections one client address may have open by default: a tenth of the default global
/// limit (1000), so that one address cannot lock the others out.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 100;

/// Octets per second message content must average by default after its grace period: 1 KiB/s
/// is 8 kbit/s, slower than any link a mail client is used on, and a 10 MiB message at that
/// rate still has almost three hours.
pub const DEFAULT_MIN_DATA_RATE: u64 = 1024;

/// Configures and starts a [`Server`].
#[derive(Debug)]
pub struct ServerBuilder {
    listeners: Vec<ListenerSpec>,
    session: SessionConfig,
    scenario: Option<Arc<Scenario>>,
    max_messages: usize,
    max_sessions: usize,
    max_connections: usize,
    max_connections_per_ip: usize,
    tls_handshake_timeout: Duration,
    min_data_rate: u64,
    store: Option<PathBuf>,
    shutdown_grace: Duration,
    events: Option<EventSink>,
    tls: Option<TlsSetup>,
    smtp_starttls: bool,
    checks: bool,
    record_secrets: bool,
    max_memory: usize,
    http: Option<crate::web::WebConfig>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            listeners: Vec::new(),
            session: SessionConfig::default(),
            scenario: None,
            max_messages: 1000,
            max_sessions: 1000,
            max_connections: 1000,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            tls_handshake_timeout: crate::runtime::stream::HANDSHAKE_TIMEOUT,
            min_data_rate: DEFAULT_MIN_DATA_RATE,
            store: None,
            shutdown_grace: Duration::from_secs(10),
            events: None,
            tls: None,
            smtp_starttls: false,
            checks: true,
            record_secrets: false,
            max_memory: crate::mailbox::DEFAULT_MAX_MEMORY,
            http: None,
        }
    }
}

impl ServerBuilder {
    /// Serves the web sink (Mailpit-compatible HTTP API, WebSocket events and the UI) as
    /// configured; see [`crate::web`].
    pub fn http(mut self, config: crate::web::WebConfig) -> Self {
        self.http = Some(config);
        self
    }

    /// Adds a plain SMTP listener (port 0 picks a free port). Without any, the server listens
    /// on `127.0.0.1:0`.
    pub fn smtp(mut self, address: SocketAddr) -> Self {
        self.listeners
            .push(ListenerSpec::new(ListenerKind::Smtp, address));
        self
    }

    /// Adds a submission listener (STARTTLS). Needs TLS: [`ServerBuilder::tls`], or the
    /// default setup (a new CA in memory, never written: clients trust
    /// [`Server::ca_cert_pem`]).
    pub fn submission(mut self, address: SocketAddr) -> Self {
        self.listeners
            .push(ListenerSpec::new(ListenerKind::Submission, address));
        self
    }

    /// Adds an implicit-TLS submission listener.
    pub fn smtps(mut self, address: SocketAddr) -> Self {
        self.listeners
            .push(ListenerSpec::new(ListenerKind::Smtps, address));
        self
    }

    /// The certificates and TLS versions of every listener. Without it, TLS listeners use
    /// [`TlsSetup::default`]: a CA made in memory for this server, never written (the
    /// `fake-smtp` command keeps its CA in a data directory instead; see [`crate::tls`]).
    pub fn tls(mut self, setup: TlsSetup) -> Self {
        self.tls = Some(setup);
        self
    }

    /// The memory kept messages and session records may use, in octets (estimated; default
    /// 256 MiB): beyond it the oldest are dropped, and an `evicted` event says so. The count
    /// limits (`max_messages`, `max_sessions`) apply too.
    pub fn max_memory(mut self, octets: usize) -> Self {
        self.max_memory = octets.max(1);
        self
    }

    /// Judges every session and message against the client checks (docs/checks.md): on by
    /// default. Off, sessions carry an empty report and nothing is judged.
    pub fn checks(mut self, on: bool) -> Self {
        self.checks = on;
        self
    }

    /// Keeps AUTH secrets in session transcripts as the client sent them. Off by default:
    /// once a session has been judged (on its real lines), the passwords, tokens, CRAM-MD5
    /// digests and SCRAM proofs in its AUTH lines are replaced by
    /// `[redacted: user "NAME", password sha256:1a2b3c4d]` (the user name, and the first 8
    /// hex digits of the secret's SHA-256, so that two attempts can be told apart) in
    /// everything kept: [`Server::sessions`], the `--store` session files, the reports.
    pub fn record_secrets(mut self, on: bool) -> Self {
        self.record_secrets = on;
        self
    }

    /// Offers STARTTLS on the relay-style SMTP listeners too (they are plain by default, as
    /// a local sink's port must be: clients that upgrade whenever STARTTLS is offered would
    /// fail to verify the local CA and send nothing). Needs TLS set up.
    pub fn smtp_starttls(mut self, on: bool) -> Self {
        self.smtp_starttls = on;
        self
    }

    /// Adds a listener described in full (with its own scenario, if any).
    pub fn listener(mut self, spec: ListenerSpec) -> Self {
        self.listeners.push(spec);
        self
    }

    /// Base session settings (host name, limits, timeouts, extensions); a scenario's own
    /// settings apply on top.
    pub fn session_config(mut self, config: SessionConfig) -> Self {
        self.session = config;
        self
    }

    /// The scenario every listener plays unless it has its own (default: the RFC default).
    pub fn scenario(mut self, scenario: Scenario) -> Self {
        self.scenario = Some(Arc::new(scenario));
        self
    }

    pub fn max_messages(mut self, n: usize) -> Self {
        self.max_messages = n.max(1);
        self
    }

    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n.max(1);
        self
    }

    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Connections one client address may have open at once (an IPv6 client counts by its
    /// /64); more get `421 4.7.0`. 0 means no limit but the global one. Default
    /// [`DEFAULT_MAX_CONNECTIONS_PER_IP`].
    pub fn max_connections_per_ip(mut self, n: usize) -> Self {
        self.max_connections_per_ip = n;
        self
    }

    /// How long a client may take over a TLS handshake (implicit TLS or STARTTLS). Default
    /// 10 s.
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }

    /// Octets per second message content (DATA, BDAT) must average once a grace period equal
    /// to the data timeout is over; a slower transfer gets `421 4.4.2`. 0 turns it off.
    /// Default [`DEFAULT_MIN_DATA_RATE`].
    pub fn min_data_rate(mut self, octets_per_second: u64) -> Self {
        self.min_data_rate = octets_per_second;
        self
    }

    /// Also write every message to this Maildir, fsynced before the 250.
    pub fn store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store = Some(dir.into());
        self
    }

    /// How long open sessions may go on after shutdown begins.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Receives every [`ServerEvent`].
    pub fn on_event(mut self, f: impl Fn(&ServerEvent) + Send + Sync + 'static) -> Self {
        self.events = Some(EventSink::new(f));
        self
    }

    /// Binds every listener and starts serving.
    pub async fn start(self) -> Result<Server, ServerError> {
        let mut specs = self.listeners;
        if specs.is_empty() {
            specs.push(ListenerSpec::new(
                ListenerKind::Smtp,
                SocketAddr::from(([127, 0, 0, 1], 0)),
            ));
        }
        // TLS is set up when asked, when a listener needs it, or when a scenario offers
        // STARTTLS (a provider's EHLO lists it): then a CA in memory, never written.
        let scenario_wants_tls = specs
            .iter()
            .filter_map(|spec| spec.scenario.as_ref())
            .chain(self.scenario.as_ref())
            .any(|scenario| offers_starttls(scenario));
        let tls_setup = match self.tls.clone() {
            Some(setup) => Some(setup),
            None if specs.iter().any(|s| s.kind.needs_tls()) || scenario_wants_tls => {
                Some(TlsSetup::default())
            }
            None => None,
        };
        let tls = match &tls_setup {
            Some(setup) => Some(build_tls(setup.clone()).await?),
            None => None,
        };
        if let Some(ca) = tls.as_ref().and_then(TlsContext::ca) {
            if !ca.is_in_memory() {
                tracing::info!(ca = %ca.cert_path().display(), "clients trust this CA for TLS");
            }
        }
        let mailbox = Arc::new(Mailbox::new(
            MailboxConfig {
                hostname: Arc::from(self.session.hostname.as_str()),
                max_messages: self.max_messages,
                max_sessions: self.max_sessions,
                store: self.store,
                checks: self.checks,
                max_memory: self.max_memory,
            },
            self.events.clone(),
        )?);
        let (after_reply, rescue) =
            AfterReply::start(Arc::clone(&mailbox)).map_err(ServerError::Thread)?;
        let after_reply = Arc::new(after_reply);
        let mut bound = Vec::new();
        for spec in specs {
            let name = spec.kind.name().to_owned();
            let listener = bind(spec.address).map_err(|source| ServerError::Bind {
                listener: name.clone(),
                address: spec.address,
                source,
            })?;
            let address = listener.local_addr().map_err(|source| ServerError::Bind {
                listener: name.clone(),
                address: spec.address,
                source,
            })?;
            bound.push((spec, listener, address));
        }
        let (stage, stage_rx) = watch::channel(Stage::Running);
        let limits = Arc::new(Limits::new(
            self.max_connections,
            self.max_connections_per_ip,
        ));
        let mut addresses = Vec::new();
        let mut tasks = vec![rescue];
        let mut switchable = Vec::new();
        let chaos = Arc::new(crate::scenario::chaos::Chaos::default());
        for (spec, listener, address) in bound {
            let name = spec.kind.name();
            tracing::info!(listener = name, %address, "listening");
            if let Some(events) = &self.events {
                events.emit(&ServerEvent::Listening {
                    listener: name.to_owned(),
                    address,
                });
            }
            addresses.push((name.to_owned(), address));
            let base = listener_profile(
                spec.kind,
                &self.session,
                tls.is_some() && (spec.kind != ListenerKind::Smtp || self.smtp_starttls),
            );
            let scenario = spec.scenario.or_else(|| self.scenario.clone());
            // A scenario may ask for another certificate or TLS versions: its own context,
            // signed by the same CA.
            let listener_tls = match (&scenario, &tls_setup, &tls) {
                (Some(scenario), Some(setup), Some(context)) => {
                    let shared = match context.ca() {
                        Some(ca) => setup.clone().ca(Arc::clone(ca)),
                        None => setup.clone(),
                    };
                    match scenario.tls_setup(&shared) {
                        Some(own) => Some(build_tls(own).await?),
                        None => tls.clone(),
                    }
                }
                _ => tls.clone(),
            };
            let tls_possible = listener_tls.is_some() && spec.kind != ListenerKind::Smtps;
            let play = play_for(name, scenario, &base, tls_possible);
            let ctx = Arc::new(ListenerContext {
                name: Arc::from(name),
                tls: listener_tls,
                implicit_tls: spec.kind == ListenerKind::Smtps,
                play: std::sync::RwLock::new(Arc::new(play)),
                chaos: Some(Arc::clone(&chaos)),
                mailbox: Arc::clone(&mailbox),
                after_reply: Arc::clone(&after_reply),
                stage: stage_rx.clone(),
                tls_handshake_timeout: self.tls_handshake_timeout,
                min_data_rate: self.min_data_rate,
                record_secrets: self.record_secrets,
            });
            switchable.push(SwitchableListener {
                name: name.to_owned(),
                base,
                tls_possible,
                ctx: Arc::clone(&ctx),
            });
            tasks.push(tokio::spawn(accept_loop(
                listener,
                ctx,
                Arc::clone(&limits),
            )));
        }
        let scenarios = Arc::new(ScenarioSwitch {
            listeners: switchable,
        });
        let web = match self.http {
            Some(http) => crate::web::start(
                http,
                Arc::clone(&mailbox),
                Arc::clone(&chaos),
                Some(Arc::clone(&scenarios)),
                addresses.clone(),
            )?,
            None => None,
        };
        if let (Some(web), Some(events)) = (&web, &self.events) {
            events.emit(&ServerEvent::Listening {
                listener: "http".to_owned(),
                address: web.address,
            });
        }
        Ok(Server {
            ca_pem: tls
                .as_ref()
                .and_then(TlsContext::ca_cert_pem)
                .map(str::to_owned),
            addresses,
            mailbox,
            after_reply,
            stage,
            limits,
            tasks,
            shutdown_grace: self.shutdown_grace,
            events: self.events,
            scenarios,
            web,
        })
    }
}

/// What a listener plays: its scenario's settings and replies, or the RFC default.
fn play_for(
    listener: &str,
    scenario: Option<Arc<Scenario>>,
    base: &SessionConfig,
    tls_possible: bool,
) -> Play {
    match scenario {
        Some(scenario) => {
            // A scenario may turn STARTTLS on or off where the listener can do TLS.
            let mut config = scenario.session_config(base, tls_possible);
            if tls_possible && offers_starttls(&scenario) {
                // A scenario whose EHLO lists STARTTLS offers it, as the provider does,
                // unless it says `server: { starttls: false }`.
                config.starttls = true;
            }
            tracing::info!(listener, scenario = %scenario.name, "playing scenario");
            let name = scenario.name.clone();
            let policy: Arc<dyn PolicyFactory> = Arc::new(ScenarioPolicyFactory::new(
                scenario,
                config.hostname.clone(),
            ));
            Play {
                session_config: Arc::new(config),
                policy,
                scenario: Some(name),
            }
        }
        None => Play {
            session_config: Arc::new(base.clone()),
            policy: Arc::new(DefaultPolicyFactory) as Arc<dyn PolicyFactory>,
            scenario: None,
        },
    }
}

/// Switches what listeners play while the server runs (the web API's scenario endpoint):
/// sessions already open keep theirs, the next ones play the new one. A scenario's own TLS
/// settings (another certificate, TLS versions) need a restart; the listener keeps its TLS.
#[derive(Debug)]
pub struct ScenarioSwitch {
    listeners: Vec<SwitchableListener>,
}

#[derive(Debug)]
struct SwitchableListener {
    name: String,
    base: SessionConfig,
    tls_possible: bool,
    ctx: Arc<ListenerContext>,
}

#[derive(Debug, thiserror::Error)]
#[error("no listener is named {0:?}")]
pub struct UnknownListener(pub String);

impl ScenarioSwitch {
    /// Each listener's name and the scenario it plays (`None`: the RFC default).
    pub fn current(&self) -> Vec<(String, Option<String>)> {
        self.listeners
            .iter()
            .map(|l| (l.name.clone(), l.ctx.play().scenario.clone()))
            .collect()
    }

    /// Plays `scenario` (or the default, with `None`) on `listener` from its next session.
    pub fn switch(
        &self,
        listener: &str,
        scenario: Option<Arc<Scenario>>,
    ) -> Result<(), UnknownListener> {
        let target = self
            .listeners
            .iter()
            .find(|l| l.name == listener)
            .ok_or_else(|| UnknownListener(listener.to_owned()))?;
        target.ctx.switch(play_for(
            &target.name,
            scenario,
            &target.base,
            target.tls_possible,
        ));
        Ok(())
    }
}

/// The session defaults of a kind of listener (issue: listener policies), before any
/// scenario. STARTTLS is offered wherever TLS is set up and not already active.
/// A listener's session settings; `starttls` says whether it offers STARTTLS.
fn listener_profile(kind: ListenerKind, base: &SessionConfig, starttls: bool) -> SessionConfig {
    let mut config = base.clone();
    config.starttls = starttls && kind != ListenerKind::Smtps;
    if config.auth.mechanisms.is_empty() {
        // Every mechanism; plaintext ones only under TLS unless the base says otherwise.
        config.auth.mechanisms = smtp_protocol::sasl::Mechanism::ALL.to_vec();
    }
    // Submission requires AUTH before MAIL (RFC 6409 §4.3); relay-style SMTP does not.
    config.auth.required = base.auth.required || kind != ListenerKind::Smtp;
    config
}

/// Whether a scenario offers STARTTLS: `server: { starttls: true }`, or STARTTLS among its
/// EHLO capabilities without `starttls: false`.
fn offers_starttls(scenario: &Scenario) -> bool {
    match scenario.server.starttls {
        Some(on) => on,
        None => scenario.ehlo.capabilities.as_ref().is_some_and(|caps| {
            caps.iter().any(|c| {
                c.split_whitespace()
                    .next()
                    .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
            })
        }),
    }
}

async fn build_tls(setup: TlsSetup) -> Result<TlsContext, ServerError> {
    // Reading or making the CA is blocking file I/O (and key generation).
    match tokio::task::spawn_blocking(move || setup.build()).await {
        Ok(built) => built.map_err(ServerError::Tls),
        // The build panicked or was cancelled: nothing sensible to go on with.
        Err(error) => Err(ServerError::TlsTask(error.to_string())),
    }
}

/// Pending connections the kernel may queue before `accept` (capped by `somaxconn`). The
/// usual default of 128 overflows when a few hundred clients connect at once, and an
/// overflow costs a client a SYN retransmission: a second or more of delay.
const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket (address reuse, a deep backlog), registered with the runtime entered:
/// the SMTP listeners' and the web sink's.
pub(crate) fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // Restarting the server must not fail on connections of its previous run in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// A running server. Dropping it stops it abruptly; [`Server::shutdown`] stops it gracefully.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let server = fake_server::Server::builder()
///     .smtp("127.0.0.1:0".parse()?)
///     .start()
///     .await?;
///
/// // Any SMTP client will do; here, raw commands over a socket.
/// let mut client = tokio::net::TcpStream::connect(server.smtp_addr()).await?;
/// client
///     .write_all(b"EHLO me\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
///     .await?;
/// client.write_all(b"Subject: hello\r\n\r\nHi!\r\n.\r\nQUIT\r\n").await?;
/// let mut replies = String::new();
/// client.read_to_string(&mut replies).await?;
/// assert!(replies.contains("250 2.0.0 OK queued as"));
///
/// let messages = server.wait_for_messages(1, Duration::from_secs(5)).await?;
/// assert_eq!(messages[0].summary().subject.as_deref(), Some("hello"));
/// assert_eq!(messages[0].rcpt_to(), ["<b@example.com>"]);
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    ca_pem: Option<String>,
    addresses: Vec<(String, SocketAddr)>,
    mailbox: Arc<Mailbox>,
    /// Judges and records what sessions leave behind; a shutdown waits for it.
    after_reply: Arc<AfterReply>,
    stage: watch::Sender<Stage>,
    limits: Arc<Limits>,
    tasks: Vec<JoinHandle<()>>,
    shutdown_grace: Duration,
    events: Option<EventSink>,
    scenarios: Arc<ScenarioSwitch>,
    web: Option<crate::web::WebHandle>,
}

impl Server {
    /// The web sink's address (HTTP API and UI), when it was asked for.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.web.as_ref().map(|w| w.address)
    }

    /// Switches a listener's scenario from its next session on (see [`ScenarioSwitch`]).
    pub fn scenarios(&self) -> &ScenarioSwitch {
        &self.scenarios
    }

    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Every listener's name and real address.
    pub fn addresses(&self) -> &[(String, SocketAddr)] {
        &self.addresses
    }

    /// The address of the named listener.
    pub fn addr(&self, listener: &str) -> Option<SocketAddr> {
        self.addresses
            .iter()
            .find(|(name, _)| name == listener)
            .map(|(_, address)| *address)
    }

    /// The address of the first plain SMTP listener (or the first listener of any kind).
    pub fn smtp_addr(&self) -> SocketAddr {
        self.addr("smtp")
            .or_else(|| self.addresses.first().map(|(_, a)| *a))
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The CA certificate (PEM) clients must trust for TLS, when the server made its own
    /// certificates.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Messages held in memory, oldest first.
    pub fn messages(&self) -> Vec<Arc<StoredMessage>> {
        self.mailbox.messages()
    }

    /// Finished sessions held in memory, oldest first, with their transcripts.
    ///
    /// A session is listed once it has *ended* (and is judged): a message is listed (and
    /// [`Server::wait_for_messages`] returns) as soon as its 250 is sent, while the client
    /// may keep the connection open for more (pooled transports, a missing QUIT). So
    /// `sessions()` right after `wait_for_messages` can be empty. To look at a message's
    /// session, wait for it: [`Server::wait_for_session_of`] (or
    /// [`Server::wait_for_sessions`] for a count).
    pub fn sessions(&self) -> Vec<Arc<SessionRecord>> {
        self.mailbox.sessions()
    }

    /// The finished session with this id (a message's [`StoredMessage::session_id`]), if it
    /// has ended and is still held. `None` while it is open: see
    /// [`Server::wait_for_session_of`].
    pub fn session(&self, id: u64) -> Option<Arc<SessionRecord>> {
        self.mailbox.session(id)
    }

    /// Waits until the session that delivered `message` has ended (the client quit or
    /// closed) and returns its record, with the transcript and every check's result; a
    /// timeout if the client keeps the connection open that long.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::time::Duration;
    /// # use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// let server = fake_server::Server::builder().start().await?;
    /// let mut client = tokio::net::TcpStream::connect(server.smtp_addr()).await?;
    /// client
    ///     .write_all(b"EHLO me\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
    ///     .await?;
    /// client.write_all(b"Subject: hi\r\n\r\nHi!\r\n.\r\n").await?;
    ///
    /// let messages = server.wait_for_messages(1, Duration::from_secs(5)).await?;
    /// // The client has not quit: its session is still open, so not yet in `sessions()`.
    /// client.write_all(b"QUIT\r\n").await?;
    /// let session = server
    ///     .wait_for_session_of(&messages[0], Duration::from_secs(5))
    ///     .await?;
    /// assert!(session.transcript.render(false).contains("C: QUIT"));
    /// # let mut rest = Vec::new();
    /// # client.read_to_end(&mut rest).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for_session_of(
        &self,
        message: &StoredMessage,
        timeout: Duration,
    ) -> Result<Arc<SessionRecord>, SessionTimeout> {
        poll_until(timeout, || self.session(message.session_id))
            .await
            .ok_or(SessionTimeout {
                session: message.session_id,
                waited: timeout,
            })
    }

    /// The estimated memory the kept messages and session records use (see
    /// [`ServerBuilder::max_memory`]).
    pub fn memory_used(&self) -> usize {
        self.mailbox.memory_used()
    }

    /// Sessions not recorded yet: connections open right now, and sessions that have ended
    /// and are being judged (a moment after their close). Once it is 0, [`Server::sessions`]
    /// lists every session so far. (`--max-connections` counts open connections only.)
    pub fn open_sessions(&self) -> usize {
        self.limits.tracker.open() + self.after_reply.sessions_pending()
    }

    /// Waits until `count` messages have arrived since the start, then returns those held.
    ///
    /// A message arrives once its 250 is sent and it is judged (on the after-reply thread, a
    /// moment later), which is usually before its session ends:
    /// [`Server::sessions`] may not list that session yet. Use
    /// [`Server::wait_for_session_of`] to get a message's session (transcript, checks).
    pub async fn wait_for_messages(
        &self,
        count: u64,
        timeout: Duration,
    ) -> Result<Vec<Arc<StoredMessage>>, WaitTimeout> {
        if self.mailbox.wait_for(count, timeout).await {
            Ok(self.mailbox.messages())
        } else {
            Err(WaitTimeout {
                wanted: count,
                got: self.mailbox.stored_count(),
                waited: timeout,
            })
        }
    }

    /// Waits until `count` sessions have finished (and are recorded); `timeout` is real
    /// time, under a paused tokio clock too.
    pub async fn wait_for_sessions(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<Arc<SessionRecord>> {
        poll_until(timeout, || {
            let sessions = self.mailbox.sessions();
            (sessions.len() >= count).then_some(sessions)
        })
        .await
        .unwrap_or_else(|| self.mailbox.sessions())
    }

    /// Stops accepting, lets open sessions finish their transaction (each gets `421` once it
    /// is idle), and after the grace period sends `421` to the rest. Returns when every
    /// session has ended; the captured messages and transcripts stay readable.
    pub async fn shutdown(&self) {
        self.shutdown_with(self.shutdown_grace).await;
    }

    /// Stops at once: every open session gets `421` and is closed.
    pub async fn abort(&self) {
        self.shutdown_with(Duration::ZERO).await;
    }

    async fn shutdown_with(&self, grace: Duration) {
        if *self.stage.borrow() != Stage::Running {
            let _ = self.stage.send(Stage::Abort);
            return;
        }
        let _ = self.stage.send(Stage::Draining);
        let open = self.limits.tracker.open();
        if let Some(events) = &self.events {
            events.emit(&ServerEvent::ShuttingDown {
                open_sessions: open,
            });
        }
        if open > 0 {
            tracing::info!(open, ?grace, "shutting down: waiting for open sessions");
        }
        let tracker = self.limits.tracker.clone();
        if tokio::time::timeout(grace, tracker.all_closed())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.limits.tracker.open(),
                "grace period over: closing the remaining sessions with 421"
            );
            let _ = self.stage.send(Stage::Abort);
            // Each gets a 421; a client that does not read it is not waited for long.
            let _ = tokio::time::timeout(Duration::from_secs(5), tracker.all_closed()).await;
        }
        // The sessions' records are written after their connections close: wait for them
        // (before the rescue task, one of `tasks`, is stopped).
        self.after_reply.drained().await;
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stage.send(Stage::Abort);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Looks every 5 ms until `ready` gives a value or `timeout` has passed. The timeout is real
/// time, not tokio's: a session is recorded by the after-reply thread, which a test's paused
/// clock does not hold back, and on a paused clock tokio's timeout passed in an instant
/// whenever the runtime had nothing else to do (a session waited for with
/// `#[tokio::test(start_paused = true)]` was sometimes not there yet).
async fn poll_until<T>(timeout: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = ready() {
            return Some(value);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
