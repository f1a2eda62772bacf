//! The reference client: a careful SMTP client on tokio and tokio-rustls over the protocol
//! crate. It follows Part A of the conformance checklist — it waits for the greeting, sends
//! CRLF only, dot-stuffs, says EHLO again after STARTTLS, never sends PLAIN or LOGIN in the
//! clear unless told to, never pipelines unless PIPELINING was offered and then checks every
//! reply — and records its own transcript.

pub mod connection;
pub mod error;
pub mod tls;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smtp_protocol::address::{ForwardPath, ReversePath};
use smtp_protocol::command::Command;
use smtp_protocol::extension::Extensions;
use smtp_protocol::framing::{Framed, LineFramer};
use smtp_protocol::params::{Body, MailParam};
use smtp_protocol::reply::{Reply, ReplyParser};
use smtp_protocol::sasl::{self, ClientExchange, ClientOptions, Credentials, Mechanism, Secret};
use smtp_protocol::transcript::{CloseReason, Event, LineMeta, Transcript};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::message::{Offered, Rendered};
use connection::Stream;
pub use error::ClientError;
pub use tls::Trust;

/// RFC 5321 §4.5.3.2's minimum client timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub greeting: Duration,
    pub command: Duration,
    pub data_start: Duration,
    pub data_block: Duration,
    pub data_end: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            greeting: Duration::from_secs(5 * 60),
            command: Duration::from_secs(5 * 60),
            data_start: Duration::from_secs(2 * 60),
            data_block: Duration::from_secs(3 * 60),
            data_end: Duration::from_secs(10 * 60),
        }
    }
}

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Never TLS.
    Off,
    /// STARTTLS when offered, else carry on in the clear.
    #[default]
    Opportunistic,
    /// STARTTLS or stop (C-3207-REQUIRE-TLS-CONFIG).
    Required,
    /// TLS from the first octet (RFC 8314).
    Implicit,
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The name given in EHLO.
    pub helo_name: String,
    pub tls: TlsMode,
    pub trust: Trust,
    /// The name to verify the certificate against (and send as SNI); default: the address.
    pub server_name: Option<String>,
    /// Allow PLAIN and LOGIN without TLS (off: C-4954-NO-PLAINTEXT-MECH-IN-CLEAR).
    pub allow_plaintext_auth: bool,
    /// Use PIPELINING when offered.
    pub pipelining: bool,
    /// Use BDAT (CHUNKING) when offered.
    pub chunking: bool,
    pub timeouts: Timeouts,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            helo_name: "harness.test".to_owned(),
            tls: TlsMode::default(),
            trust: Trust::default(),
            server_name: None,
            allow_plaintext_auth: false,
            pipelining: true,
            chunking: false,
            timeouts: Timeouts::default(),
        }
    }
}

/// One message's envelope. Addresses are mailboxes without brackets; an empty sender is the
/// null reverse path.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub from: String,
    pub to: Vec<String>,
    /// Delivery status notification requests (RFC 3461), sent only where DSN is offered.
    pub dsn: Option<Dsn>,
}

/// What RFC 3461 lets a client ask for.
#[derive(Debug, Clone, Default)]
pub struct Dsn {
    pub ret: Option<smtp_protocol::params::Ret>,
    /// ENVID, as xtext.
    pub envid: Option<String>,
    pub notify: Option<smtp_protocol::params::Notify>,
}

/// What happened to a message.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub accepted: Vec<String>,
    pub refused: Vec<(String, Reply)>,
    /// The reply to the end of data.
    pub reply: Reply,
}

/// What is sent after the envelope: its size (SIZE=), `BODY=`, whether its header fields
/// need SMTPUTF8, and its octets (CRLF line ends, not yet dot-stuffed) in chunks.
struct Outgoing<'a> {
    size: u64,
    body: Option<Body>,
    smtputf8: bool,
    chunks: Box<dyn Iterator<Item = Cow<'a, [u8]>> + Send + 'a>,
}

/// The largest BDAT chunk sent (the 25 MiB shape goes in a handful).
const BDAT_CHUNK: usize = 8 * 1024 * 1024;

/// Longest reply line read (a 334 challenge may exceed 512, RFC 4954 §4).
const MAX_REPLY_LINE: usize = 16 * 1024;

/// An SMTP client session.
#[derive(Debug)]
pub struct Client {
    stream: Stream,
    input: Vec<u8>,
    framer: LineFramer,
    transcript: Transcript,
    started: Instant,
    config: ClientConfig,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    peer: SocketAddr,
    extensions: Option<Extensions>,
    tls_active: bool,
    authenticated: Option<String>,
}

impl Client {
    /// Connects and reads the greeting (after the TLS handshake for implicit TLS). A 554 or
    /// 421 greeting is an error carrying the reply, after a polite QUIT for the 554.
    pub async fn connect(address: SocketAddr, config: ClientConfig) -> Result<Client, ClientError> {
        let tls_config = match config.tls {
            TlsMode::Off => None,
            _ => Some(tls::client_config(&config.trust).map_err(ClientError::Tls)?),
        };
        let tcp = tokio::time::timeout(config.timeouts.greeting, TcpStream::connect(address))
            .await
            .map_err(|_| ClientError::Timeout {
                waiting_for: "the connection",
                after: config.timeouts.greeting,
            })?
            .map_err(|source| ClientError::Connect { address, source })?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let mut client = Client {
            stream: Stream::Plain(tcp),
            input: Vec::new(),
            framer: LineFramer::new(MAX_REPLY_LINE),
            transcript: Transcript::new(),
            started: Instant::now(),
            tls_config,
            peer: address,
            config,
            extensions: None,
            tls_active: false,
            authenticated: None,
        };
        client.transcript.push(
            Duration::ZERO,
            Event::Connected {
                peer: local,
                local: address.to_string(),
                listener: None,
            },
        );
        if client.config.tls == TlsMode::Implicit {
            client.handshake().await?;
        }
        if client.config.trust_is_insecure() {
            client
                .note("certificate verification is OFF: this TLS proves nothing about the server");
        }
        let greeting = client
            .read_reply("the greeting", client.config.timeouts.greeting)
            .await?;
        match greeting.code.get() {
            220 => Ok(client),
            554 => {
                // RFC 5321 §3.1: the server waits for QUIT.
                let _ = client.quit().await;
                Err(ClientError::Rejected {
                    command: "connection".to_owned(),
                    reply: greeting,
                })
            }
            _ => {
                client.closed(CloseReason::PeerClosed);
                Err(ClientError::Rejected {
                    command: "connection".to_owned(),
                    reply: greeting,
                })
            }
        }
    }

    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    pub fn into_transcript(self) -> Transcript {
        self.transcript
    }

    /// What the last EHLO advertised (empty after HELO).
    pub fn extensions(&self) -> Option<&Extensions> {
        self.extensions.as_ref()
    }

    /// The mechanisms the last EHLO offered that this client implements, in the server's order.
    pub fn offered_mechanisms(&self) -> Vec<Mechanism> {
        self.extensions
            .as_ref()
            .map(|e| {
                e.auth_mechanisms()
                    .iter()
                    .filter_map(|m| m.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn is_tls(&self) -> bool {
        self.tls_active
    }

    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Adds a note (`** ...`) to the transcript.
    pub fn note(&mut self, text: impl Into<String>) {
        let now = self.now();
        self.transcript.note(now, None, text);
    }

    /// Records the end of the connection, once.
    fn closed(&mut self, reason: CloseReason) {
        if self.transcript.close_reason().is_some() {
            return;
        }
        let now = self.now();
        self.transcript.push(now, Event::Closed { reason });
    }

    /// EHLO, falling back to HELO on 500 or 502 (RFC 5321 §3.2, C-5321-HELO-FALLBACK).
    pub async fn hello(&mut self) -> Result<(), ClientError> {
        let ehlo = Command::Ehlo {
            domain: self.config.helo_name.clone(),
        };
        let reply = self
            .command(&ehlo, "the EHLO reply", self.config.timeouts.command)
            .await?;
        match reply.code.get() {
            250 => {
                self.extensions = Some(Extensions::from_ehlo_lines(&reply.lines));
                Ok(())
            }
            500 | 502 => {
                let helo = Command::Helo {
                    domain: self.config.helo_name.clone(),
                };
                let reply = self
                    .command(&helo, "the HELO reply", self.config.timeouts.command)
                    .await?;
                if reply.code.get() != 250 {
                    return Err(rejected(&helo, reply));
                }
                self.extensions = Some(Extensions::default());
                Ok(())
            }
            _ => Err(rejected(&ehlo, reply)),
        }
    }

    fn offers(&self, keyword: &str) -> bool {
        self.extensions.as_ref().is_some_and(|e| e.has(keyword))
    }

    /// Applies the TLS mode after EHLO: STARTTLS when offered (or required), then EHLO again
    /// (RFC 3207 §4.2: what was learnt before is forgotten, C-3207-REEHLO).
    pub async fn secure(&mut self) -> Result<(), ClientError> {
        if self.tls_active || matches!(self.config.tls, TlsMode::Off | TlsMode::Implicit) {
            return Ok(());
        }
        if !self.offers("STARTTLS") {
            if self.config.tls == TlsMode::Required {
                self.note("STARTTLS is not offered: stopping, as TLS is required");
                let _ = self.quit().await;
                return Err(ClientError::StartTlsUnavailable);
            }
            self.note("STARTTLS is not offered: going on without TLS");
            return Ok(());
        }
        let reply = self
            .command(
                &Command::StartTls,
                "the STARTTLS reply",
                self.config.timeouts.command,
            )
            .await?;
        if reply.code.get() != 220 {
            if self.config.tls == TlsMode::Required {
                let _ = self.quit().await;
                return Err(rejected(&Command::StartTls, reply));
            }
            self.note("STARTTLS refused: going on without TLS");
            return Ok(());
        }
        if !self.input.is_empty() {
            // Bytes sent by the server before the handshake cannot be trusted (RFC 3207 §6,
            // C-3207-RESPONSE-INJECTION).
            let count = self.input.len();
            self.input.clear();
            self.note(format!(
                "{count} octets the server sent after its 220 were discarded"
            ));
        }
        self.handshake().await?;
        self.extensions = None;
        self.hello().await
    }

    async fn handshake(&mut self) -> Result<(), ClientError> {
        let config = match &self.tls_config {
            Some(config) => Arc::clone(config),
            None => tls::client_config(&self.config.trust).map_err(ClientError::Tls)?,
        };
        let name = self.server_name()?;
        let sni = match &name {
            rustls::pki_types::ServerName::DnsName(dns) => Some(dns.as_ref().to_owned()),
            _ => None,
        };
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(ClientError::Tls("not a plain connection".to_owned()));
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        let result =
            tokio::time::timeout(self.config.timeouts.command, connector.connect(name, tcp)).await;
        let tls = match result {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                let text = error.to_string();
                self.note(format!("TLS handshake failed: {text}"));
                self.closed(CloseReason::Error);
                return Err(ClientError::Tls(text));
            }
            Err(_) => {
                self.closed(CloseReason::Timeout);
                return Err(ClientError::Timeout {
                    waiting_for: "the TLS handshake",
                    after: self.config.timeouts.command,
                });
            }
        };
        let connection = tls.get_ref().1;
        let version = connection
            .protocol_version()
            .map(|v| match v {
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        let cipher = connection
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()).replace("TLS13_", "TLS_"))
            .unwrap_or_default();
        let now = self.now();
        self.transcript.push(
            now,
            Event::TlsEstablished {
                version,
                cipher,
                sni,
            },
        );
        self.stream = Stream::Tls(Box::new(tls));
        self.tls_active = true;
        Ok(())
    }

    fn server_name(&self) -> Result<rustls::pki_types::ServerName<'static>, ClientError> {
        let name = self
            .config
            .server_name
            .clone()
            .unwrap_or_else(|| self.peer.ip().to_string());
        rustls::pki_types::ServerName::try_from(name.clone())
            .map_err(|_| ClientError::Tls(format!("invalid server name {name:?}")))
    }

    /// AUTH with `mechanism`, or the best one both sides have: SCRAM-SHA-256, SCRAM-SHA-1,
    /// CRAM-MD5, PLAIN, LOGIN for a password; OAUTHBEARER, XOAUTH2 for a token.
    pub async fn authenticate(
        &mut self,
        credentials: &Credentials,
        mechanism: Option<Mechanism>,
    ) -> Result<Mechanism, ClientError> {
        let offered = self.offered_mechanisms();
        let preference: &[Mechanism] = match credentials.secret {
            Secret::Password(_) => &[
                Mechanism::ScramSha256,
                Mechanism::ScramSha1,
                Mechanism::CramMd5,
                Mechanism::Plain,
                Mechanism::Login,
            ],
            Secret::BearerToken(_) => &[Mechanism::OAuthBearer, Mechanism::XOAuth2],
        };
        let chosen = match mechanism {
            Some(mechanism) => mechanism,
            None => preference
                .iter()
                .copied()
                .find(|m| offered.contains(m))
                .ok_or_else(|| ClientError::NoMechanism {
                    offered: offered
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                })?,
        };
        if !self.tls_active
            && !self.config.allow_plaintext_auth
            && (chosen.is_plaintext() || !chosen.uses_password())
        {
            return Err(ClientError::PlaintextWithoutTls(chosen));
        }
        let options = ClientOptions {
            oauth_host: Some(self.peer.ip().to_string()),
            oauth_port: Some(self.peer.port()),
            ..ClientOptions::default()
        };
        let mut exchange = ClientExchange::new(chosen, credentials, &nonce(), &options)?;
        let command = match exchange.initial_response() {
            Some(first) => Command::Auth {
                mechanism: chosen.as_str().to_owned(),
                initial_response: Some(sasl::encode_initial_response(&first)),
            },
            None => Command::Auth {
                mechanism: chosen.as_str().to_owned(),
                initial_response: None,
            },
        };
        let mut reply = self
            .command(&command, "the AUTH reply", self.config.timeouts.command)
            .await?;
        loop {
            match reply.code.get() {
                235 => {
                    exchange.finish()?;
                    self.authenticated = Some(credentials.username.clone());
                    return Ok(chosen);
                }
                334 => {
                    let challenge = reply.lines.first().cloned().unwrap_or_default();
                    match exchange.respond(challenge.trim()) {
                        Ok(response) => {
                            let line = sasl::encode(&response);
                            reply = self.line(&line, "the AUTH reply").await?;
                        }
                        Err(error) => {
                            // C-4954-CANCEL-ON-BAD-CHALLENGE.
                            let _ = self.line(sasl::CANCEL, "the reply to the cancel").await;
                            return Err(ClientError::Sasl(error));
                        }
                    }
                }
                _ => return Err(rejected(&command, reply)),
            }
        }
    }

    /// AUTH that the client cancels with `*` at the first challenge (RFC 4954 §4).
    pub async fn authenticate_and_cancel(
        &mut self,
        mechanism: Mechanism,
    ) -> Result<Reply, ClientError> {
        let command = Command::Auth {
            mechanism: mechanism.as_str().to_owned(),
            initial_response: None,
        };
        let reply = self
            .command(&command, "the AUTH reply", self.config.timeouts.command)
            .await?;
        if reply.code.get() != 334 {
            return Err(rejected(&command, reply));
        }
        self.line(sasl::CANCEL, "the reply to the cancel").await
    }

    /// Sends one message as it is: MAIL, RCPT (pipelined with DATA when offered), then the
    /// content by DATA (dot-stuffed) or BDAT. Line ends are made CRLF; 8-bit content needs
    /// 8BITMIME (it is not downgraded: see [`Client::send_rendered`] for that).
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        content: &[u8],
    ) -> Result<Delivery, ClientError> {
        let content = smtp_protocol::outgoing::normalise_line_ends(content);
        let eight_bit = content.iter().any(|&b| b >= 0x80);
        let outgoing = Outgoing {
            size: content.len() as u64,
            body: eight_bit.then_some(Body::EightBitMime),
            smtputf8: false,
            chunks: Box::new(std::iter::once(Cow::Borrowed(content.as_slice()))),
        };
        self.transact(envelope, outgoing).await
    }

    /// Sends a message rendered for this server ([`crate::message::render`] with
    /// [`Client::offered`]): its encoding decisions go into the transcript as notes, its
    /// `BODY=` and SMTPUTF8 needs into MAIL, and its octets are streamed (BDAT when it has a
    /// binary part, BODY=BINARYMIME).
    pub async fn send_rendered(
        &mut self,
        envelope: &Envelope,
        rendered: &Rendered,
    ) -> Result<Delivery, ClientError> {
        for note in &rendered.notes {
            self.note(note.clone());
        }
        let outgoing = Outgoing {
            size: rendered.size(),
            body: rendered.body,
            smtputf8: rendered.smtputf8,
            chunks: Box::new(rendered.chunks()),
        };
        self.transact(envelope, outgoing).await
    }

    /// What the last EHLO offered that decides a message's encoding.
    pub fn offered(&self) -> Offered {
        Offered {
            eight_bit_mime: self.offers("8BITMIME"),
            binary_mime: self.offers("BINARYMIME") && self.offers("CHUNKING"),
            smtputf8: self.offers("SMTPUTF8"),
        }
    }

    async fn transact(
        &mut self,
        envelope: &Envelope,
        outgoing: Outgoing<'_>,
    ) -> Result<Delivery, ClientError> {
        let Outgoing {
            size,
            body,
            smtputf8,
            chunks,
        } = outgoing;
        let reverse_path = if envelope.from.is_empty() {
            ReversePath::Null
        } else {
            parse_path(&envelope.from, ReversePath::parse_prefix)?
        };
        let forward_paths = envelope
            .to
            .iter()
            .map(|to| parse_path(to, ForwardPath::parse_prefix))
            .collect::<Result<Vec<_>, _>>()?;
        let mut params = match self.mail_params(size, body, smtputf8, &reverse_path, &forward_paths)
        {
            Ok(params) => params,
            Err(error) => {
                self.note(format!("not sent: {error}"));
                return Err(error);
            }
        };
        let dsn = match &envelope.dsn {
            // C-3461-ONLY-IF-ADVERTISED: without DSN offered, the request is dropped.
            Some(_) if !self.offers("DSN") => {
                self.note("DSN requested but not offered: sent without it");
                None
            }
            other => other.as_ref(),
        };
        if let Some(dsn) = dsn {
            if let Some(ret) = dsn.ret {
                params.push(MailParam::Ret(ret));
            }
            if let Some(envid) = &dsn.envid {
                params.push(MailParam::EnvId(envid.clone()));
            }
        }
        let rcpt_params: Vec<smtp_protocol::params::RcptParam> = dsn
            .and_then(|d| d.notify.clone())
            .map(|n| vec![smtp_protocol::params::RcptParam::Notify(n)])
            .unwrap_or_default();
        // RFC 3030 §3: BINARYMIME content goes by BDAT only.
        let use_bdat =
            (self.config.chunking && self.offers("CHUNKING")) || body == Some(Body::BinaryMime);
        let pipelined = self.config.pipelining && self.offers("PIPELINING");
        let mail = Command::Mail {
            reverse_path,
            params,
        };
        let rcpts: Vec<Command> = forward_paths
            .into_iter()
            .map(|forward_path| Command::Rcpt {
                forward_path,
                params: rcpt_params.clone(),
            })
            .collect();
        let timeouts = self.config.timeouts;
        let (mail_reply, rcpt_replies, data_reply) = if pipelined {
            // RFC 2920 §3.1: DATA may end the group; every reply is then read and checked.
            let mut group: Vec<&Command> = vec![&mail];
            group.extend(rcpts.iter());
            if !use_bdat {
                group.push(&Command::Data);
            }
            self.write_commands(&group).await?;
            let mail_reply = self.read_reply("the MAIL reply", timeouts.command).await?;
            let mut rcpt_replies = Vec::new();
            for _ in &rcpts {
                rcpt_replies.push(self.read_reply("a RCPT reply", timeouts.command).await?);
            }
            let data_reply = if use_bdat {
                None
            } else {
                Some(
                    self.read_reply("the DATA reply", timeouts.data_start)
                        .await?,
                )
            };
            (mail_reply, rcpt_replies, data_reply)
        } else {
            let mail_reply = self
                .command(&mail, "the MAIL reply", timeouts.command)
                .await?;
            if mail_reply.code.class() != 2 {
                return Err(rejected(&mail, mail_reply));
            }
            let mut rcpt_replies = Vec::new();
            for rcpt in &rcpts {
                rcpt_replies.push(self.command(rcpt, "a RCPT reply", timeouts.command).await?);
            }
            (mail_reply, rcpt_replies, None)
        };
        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for (rcpt, reply) in rcpts.iter().zip(rcpt_replies) {
            let Command::Rcpt { forward_path, .. } = rcpt else {
                continue;
            };
            let address = forward_path.to_string();
            if reply.code.class() == 2 {
                accepted.push(address);
            } else {
                refused.push((address, reply));
            }
        }
        if mail_reply.code.class() != 2 || accepted.is_empty() {
            if let Some(data_reply) = data_reply {
                if data_reply.code.get() == 354 {
                    // RFC 2920 §3.1: DATA was accepted anyway: send an empty message.
                    self.note("DATA accepted with no valid recipient: ending it empty");
                    self.write_raw(b".\r\n").await?;
                    self.read_reply("the end-of-data reply", timeouts.data_end)
                        .await?;
                }
            }
            self.rset().await?;
            if mail_reply.code.class() != 2 {
                return Err(rejected(&mail, mail_reply));
            }
            // Every recipient was refused: the first refusal says whether to try again.
            return Err(match refused.into_iter().next() {
                Some((_, reply)) => ClientError::Rejected {
                    command: "RCPT".to_owned(),
                    reply,
                },
                None => ClientError::NoRecipients,
            });
        }
        let reply = if use_bdat {
            self.send_bdat(size, chunks).await?
        } else {
            let data_reply = match data_reply {
                Some(reply) => reply,
                None => {
                    self.command(&Command::Data, "the DATA reply", timeouts.data_start)
                        .await?
                }
            };
            if data_reply.code.get() != 354 {
                return Err(rejected(&Command::Data, data_reply));
            }
            self.record_content(size, false);
            let mut stuffer = smtp_protocol::outgoing::DotStuffer::default();
            let mut out = Vec::new();
            for chunk in chunks {
                out.clear();
                stuffer.stuff(&chunk, &mut out);
                self.write_raw(&out).await?;
            }
            self.write_raw(smtp_protocol::outgoing::END_OF_DATA).await?;
            self.read_reply("the end-of-data reply", timeouts.data_end)
                .await?
        };
        if reply.code.class() != 2 {
            return Err(ClientError::Rejected {
                command: "end of data".to_owned(),
                reply,
            });
        }
        Ok(Delivery {
            accepted,
            refused,
            reply,
        })
    }

    /// BDAT chunks of at most [`BDAT_CHUNK`] octets, the last one `LAST` (RFC 3030 §2); the
    /// reply to each is read before the next (no pipelining of chunks).
    async fn send_bdat(
        &mut self,
        size: u64,
        chunks: Box<dyn Iterator<Item = Cow<'_, [u8]>> + Send + '_>,
    ) -> Result<Reply, ClientError> {
        let mut pending: Vec<u8> = Vec::new();
        let mut sent = 0u64;
        for chunk in chunks {
            let mut chunk: &[u8] = &chunk;
            while !chunk.is_empty() {
                let take = (BDAT_CHUNK - pending.len()).min(chunk.len());
                pending.extend_from_slice(&chunk[..take]);
                chunk = &chunk[take..];
                sent += take as u64;
                if pending.len() == BDAT_CHUNK && sent < size {
                    let reply = self.bdat_chunk(&pending, false).await?;
                    if reply.code.class() != 2 {
                        return Err(ClientError::Rejected {
                            command: "BDAT".to_owned(),
                            reply,
                        });
                    }
                    pending.clear();
                }
            }
        }
        self.bdat_chunk(&pending, true).await
    }

    async fn bdat_chunk(&mut self, data: &[u8], last: bool) -> Result<Reply, ClientError> {
        let bdat = Command::Bdat {
            size: data.len() as u64,
            last,
        };
        let mut bytes = bdat.to_line().into_bytes();
        let now = self.now();
        self.transcript
            .client_line(now, bdat.to_string().as_bytes(), LineMeta::default());
        // The chunk follows its BDAT line without a reply in between (RFC 3030 §2).
        self.record_content(data.len() as u64, true);
        bytes.extend_from_slice(data);
        self.write_raw(&bytes).await?;
        let waiting_for = if last {
            "the BDAT LAST reply"
        } else {
            "the BDAT reply"
        };
        self.read_reply(waiting_for, self.config.timeouts.data_end)
            .await
    }

    fn mail_params(
        &self,
        size: u64,
        body: Option<Body>,
        utf8_content: bool,
        from: &ReversePath,
        to: &[ForwardPath],
    ) -> Result<Vec<MailParam>, ClientError> {
        let mut params = Vec::new();
        if let Some(limit) = self.extensions.as_ref().and_then(Extensions::size) {
            // C-1870-RESPECT-FIXED-MAX: do not send what the server said it will refuse.
            if limit > 0 && size > limit {
                return Err(ClientError::TooBig { size, limit });
            }
            params.push(MailParam::Size(size));
        }
        let mut utf8_addresses: Vec<String> = Vec::new();
        if let Some(m) = from.mailbox().filter(|m| m.is_utf8()) {
            utf8_addresses.push(format!("<{m}>"));
        }
        utf8_addresses.extend(to.iter().filter(|t| t.is_utf8()).map(|t| t.to_string()));
        let utf8 = !utf8_addresses.is_empty() || utf8_content;
        // C-6531-ONLY-IF-ADVERTISED: refuse before MAIL rather than send what must fail.
        if utf8 && !self.offers("SMTPUTF8") {
            let what = if utf8_addresses.is_empty() {
                "the message's UTF-8 header fields (RFC 6532)".to_owned()
            } else {
                format!("the address(es) {}", utf8_addresses.join(", "))
            };
            return Err(ClientError::Smtputf8Required { what });
        }
        match body {
            Some(Body::EightBitMime) => {
                // C-6152-NO-8BIT-WITHOUT-EXT.
                if !self.offers("8BITMIME") {
                    return Err(ClientError::MissingExtension("8BITMIME"));
                }
                params.push(MailParam::Body(Body::EightBitMime));
            }
            Some(Body::BinaryMime) => {
                if !(self.offers("BINARYMIME") && self.offers("CHUNKING")) {
                    return Err(ClientError::MissingExtension("BINARYMIME and CHUNKING"));
                }
                params.push(MailParam::Body(Body::BinaryMime));
            }
            Some(Body::SevenBit) | None => {}
        }
        if utf8 {
            params.push(MailParam::SmtpUtf8);
        }
        Ok(params)
    }

    fn record_content(&mut self, octets: u64, pipelined: bool) {
        let now = self.now();
        self.transcript.push(
            now,
            Event::Content {
                octets,
                summary: format!("{octets} octets of content"),
                pipelined,
                report: None,
            },
        );
    }

    pub async fn rset(&mut self) -> Result<Reply, ClientError> {
        self.command(
            &Command::Rset,
            "the RSET reply",
            self.config.timeouts.command,
        )
        .await
    }

    pub async fn noop(&mut self) -> Result<Reply, ClientError> {
        self.command(
            &Command::Noop { argument: None },
            "the NOOP reply",
            self.config.timeouts.command,
        )
        .await
    }

    /// QUIT, then waits for the server to close (RFC 5321 §4.1.1.10).
    pub async fn quit(&mut self) -> Result<Reply, ClientError> {
        let result = self
            .command(
                &Command::Quit,
                "the QUIT reply",
                self.config.timeouts.command,
            )
            .await;
        let _ = self.stream.shutdown().await;
        self.closed(CloseReason::Quit);
        result
    }

    /// Writes a command and reads its reply.
    pub async fn command(
        &mut self,
        command: &Command,
        waiting_for: &'static str,
        timeout: Duration,
    ) -> Result<Reply, ClientError> {
        self.write_commands(&[command]).await?;
        self.read_reply(waiting_for, timeout).await
    }

    /// A raw line (a SASL response), and its reply.
    async fn line(&mut self, line: &str, waiting_for: &'static str) -> Result<Reply, ClientError> {
        let now = self.now();
        self.transcript
            .client_line(now, line.as_bytes(), LineMeta::default());
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.write_raw(&bytes).await?;
        self.read_reply(waiting_for, self.config.timeouts.command)
            .await
    }

    async fn write_commands(&mut self, commands: &[&Command]) -> Result<(), ClientError> {
        let mut bytes = Vec::new();
        for (i, command) in commands.iter().enumerate() {
            let line = command.to_string();
            let now = self.now();
            // Every command of a group after the first is sent before the replies (RFC 2920).
            let meta = LineMeta {
                pipelined: i > 0,
                ..LineMeta::default()
            };
            self.transcript.client_line(now, line.as_bytes(), meta);
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        self.write_raw(&bytes).await
    }

    async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let timeout = self.config.timeouts.data_block;
        // TLS keeps the last records of a large write buffered until a flush: without it a
        // BDAT chunk can wait, incomplete, for the server's timeout.
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                self.note(format!("write failed: {error}"));
                self.closed(CloseReason::Error);
                Err(ClientError::Io(error))
            }
            Err(_) => Err(ClientError::Timeout {
                waiting_for: "the server to take data",
                after: timeout,
            }),
        }
    }

    /// Reads one complete reply (every line of a multi-line one, C-5321-MULTILINE-REPLY).
    pub async fn read_reply(
        &mut self,
        waiting_for: &'static str,
        timeout: Duration,
    ) -> Result<Reply, ClientError> {
        let mut parser = ReplyParser::new(MAX_REPLY_LINE);
        let mut raw = Vec::new();
        loop {
            match self.framer.next_line(&self.input) {
                Framed::Line { line, consumed, .. } => {
                    let result = parser.push_line(line);
                    raw.extend_from_slice(&self.input[..consumed]);
                    self.input.drain(..consumed);
                    match result {
                        Ok(Some(reply)) => {
                            let now = self.now();
                            self.transcript.server_bytes(now, &raw);
                            return Ok(reply);
                        }
                        Ok(None) => continue,
                        Err(error) => return Err(self.bad_reply(raw, error)),
                    }
                }
                Framed::TooLong { consumed, .. } | Framed::Skipped { consumed, .. } => {
                    raw.extend_from_slice(&self.input[..consumed]);
                    self.input.drain(..consumed);
                    let error = smtp_protocol::reply::ReplyError::LineTooLong(consumed);
                    return Err(self.bad_reply(raw, error));
                }
                Framed::NeedMore => {}
            }
            let mut buffer = [0u8; 8192];
            let read = tokio::time::timeout(timeout, self.stream.read(&mut buffer)).await;
            match read {
                Err(_) => {
                    self.note(format!("no reply within {timeout:?}"));
                    return Err(ClientError::Timeout {
                        waiting_for,
                        after: timeout,
                    });
                }
                Ok(Ok(0)) => {
                    raw.append(&mut self.input);
                    if !raw.is_empty() {
                        // What came before the close is not a reply (QQ's NUL octets).
                        let error = ReplyParser::new(MAX_REPLY_LINE)
                            .push_line(&raw)
                            .err()
                            .unwrap_or(smtp_protocol::reply::ReplyError::NoLines);
                        let error = self.bad_reply(raw, error);
                        self.closed(CloseReason::PeerClosed);
                        return Err(error);
                    }
                    self.closed(CloseReason::PeerClosed);
                    return Err(ClientError::Closed(waiting_for));
                }
                Ok(Ok(n)) => self.input.extend_from_slice(&buffer[..n]),
                Ok(Err(error)) => {
                    let now = self.now();
                    self.transcript
                        .note(now, None, format!("read failed: {error}"));
                    self.closed(CloseReason::Error);
                    return Err(ClientError::Io(error));
                }
            }
        }
    }

    fn bad_reply(&mut self, raw: Vec<u8>, error: smtp_protocol::reply::ReplyError) -> ClientError {
        let now = self.now();
        self.transcript.server_bytes(now, &raw);
        self.transcript.note(
            now,
            Some("C-5321-CODE-NOT-TEXT"),
            format!("not a valid reply: {error}"),
        );
        ClientError::BadReply {
            raw: smtp_protocol::transcript::escape_bytes(&raw),
            error,
        }
    }
}

impl ClientConfig {
    fn trust_is_insecure(&self) -> bool {
        self.tls != TlsMode::Off && matches!(self.trust, Trust::Insecure)
    }
}

fn rejected(command: &Command, reply: Reply) -> ClientError {
    ClientError::Rejected {
        command: command.verb().as_str().to_owned(),
        reply,
    }
}

fn parse_path<T>(
    address: &str,
    parse: fn(&str) -> Result<(T, &str), smtp_protocol::address::AddressError>,
) -> Result<T, ClientError> {
    let bracketed = format!("<{address}>");
    match parse(&bracketed) {
        Ok((path, "")) => Ok(path),
        Ok(_) => Err(ClientError::Address {
            address: address.to_owned(),
            error: smtp_protocol::address::AddressError::TrailingCharacters,
        }),
        Err(error) => Err(ClientError::Address {
            address: address.to_owned(),
            error,
        }),
    }
}

/// A SCRAM client nonce: std's `RandomState` is keyed from the OS's randomness.
fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut text = String::new();
    for part in 0..2u64 {
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u64(part);
        text.push_str(&format!("{:016x}", hasher.finish()));
    }
    text
}
