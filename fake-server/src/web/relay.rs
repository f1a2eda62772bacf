//! Releasing a held message to a real server (`POST /api/v1/message/{ID}/release`, with
//! `--relay HOST:PORT`): one SMTP session (EHLO, STARTTLS or implicit TLS when asked,
//! optional AUTH PLAIN, MAIL, RCPT each, DATA, QUIT) whose transcript is logged and kept
//! ([`super::state::WebState::releases`]). The harness's reference client does more (every
//! SASL mechanism, MX lookup, pipelining); a sink's release only needs to hand a message to
//! a relay the user names. The server's name for TLS is the host part of the address.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use smtp_protocol::reply::{Reply, ReplyParser};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::index::Entry;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `host:port`.
    pub address: String,
    /// AUTH PLAIN with this user name and password, when set.
    pub credentials: Option<(String, String)>,
    /// The envelope sender; by default the message's own reverse path.
    pub return_path: Option<String>,
    pub tls: RelayTls,
    /// The CA certificates (PEM) the relay's certificate must chain to; by default the
    /// system's roots.
    pub ca_file: Option<PathBuf>,
}

impl RelayConfig {
    /// A plain session to `address`, without AUTH.
    pub fn plain(address: impl Into<String>) -> RelayConfig {
        RelayConfig {
            address: address.into(),
            credentials: None,
            return_path: None,
            tls: RelayTls::Off,
            ca_file: None,
        }
    }
}

/// How the release session uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayTls {
    /// Plain SMTP.
    #[default]
    Off,
    /// STARTTLS after EHLO, required: a relay that does not offer it is refused.
    StartTls,
    /// TLS from the first octet (RFC 8314).
    Implicit,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot reach {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    #[error("the relay answered {step} with {reply}")]
    Refused { step: String, reply: String },
    #[error("the relay's reply did not parse: {0}")]
    Reply(String),
    #[error("the relay did not answer within {0:?}")]
    Timeout(Duration),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the relay does not offer STARTTLS")]
    NoStartTls,
}

/// How long the relay may take over each reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `text` looks like an address a relay could take (`local@domain`, no spaces or
/// angle brackets): what Mailpit's "Invalid email address" check refuses.
pub fn plausible_address(text: &str) -> bool {
    let text = text.trim();
    match text.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !text.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

/// Sends `raw` to `to` through the relay; returns the session's transcript (`C:`/`S:` lines)
/// and how it ended.
pub async fn release(
    config: &RelayConfig,
    entry: &Entry,
    raw: &[u8],
    to: &[String],
) -> (String, Result<(), RelayError>) {
    let stream = match TcpStream::connect(&config.address).await {
        Ok(stream) => stream,
        Err(source) => {
            let error = RelayError::Connect {
                address: config.address.clone(),
                source,
            };
            return (format!("** {error}\n"), Err(error));
        }
    };
    let mut session = Session {
        stream: BufReader::new(Box::new(stream)),
        transcript: String::new(),
    };
    let result = async {
        if config.tls == RelayTls::Implicit {
            session.start_tls(config).await?;
        }
        session.send(config, entry, raw, to).await
    }
    .await;
    tracing::info!(
        id = %entry.id,
        relay = %config.address,
        ok = result.is_ok(),
        transcript = %session.transcript,
        "web: release"
    );
    (session.transcript, result)
}

struct Session {
    stream: BufReader<Box<dyn Stream>>,
    transcript: String,
}

/// The client configuration: the CA file's certificates, or the system's roots.
fn tls_config(config: &RelayConfig) -> Result<Arc<rustls::ClientConfig>, RelayError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| RelayError::Tls(format!("{}: {e}", path.display())))?
            {
                let cert = cert.map_err(|e| RelayError::Tls(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| RelayError::Tls(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(RelayError::Tls("no CA certificate to trust".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RelayError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(client))
}

/// The host part of `host:port` (`[::1]:25` → `::1`), the name the certificate must carry.
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl Session {
    /// Wraps the connection in TLS (after a 220 to STARTTLS, or at once for implicit TLS).
    async fn start_tls(&mut self, config: &RelayConfig) -> Result<(), RelayError> {
        let name = rustls::pki_types::ServerName::try_from(host_of(&config.address).to_owned())
            .map_err(|e| RelayError::Tls(e.to_string()))?;
        let connector = tokio_rustls::TlsConnector::from(tls_config(config)?);
        let plain = std::mem::replace(
            &mut self.stream,
            BufReader::new(Box::new(tokio::io::duplex(1).0)),
        )
        .into_inner();
        let tls = connector
            .connect(name, plain)
            .await
            .map_err(|e| RelayError::Tls(e.to_string()))?;
        self.transcript.push_str("** TLS established\n");
        self.stream = BufReader::new(Box::new(tls));
        Ok(())
    }

    async fn send(
        &mut self,
        config: &RelayConfig,
        entry: &Entry,
        raw: &[u8],
        to: &[String],
    ) -> Result<(), RelayError> {
        self.expect("the greeting", 220).await?;
        let ehlo = self.command("EHLO fake-smtp.invalid", 250).await?;
        if config.tls == RelayTls::StartTls {
            let offered = ehlo.lines.iter().any(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
            });
            if !offered {
                return Err(RelayError::NoStartTls);
            }
            self.command("STARTTLS", 220).await?;
            self.start_tls(config).await?;
            self.command("EHLO fake-smtp.invalid", 250).await?;
        }
        if let Some((user, password)) = &config.credentials {
            use base64::Engine as _;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
            self.write(&format!("AUTH PLAIN {token}"), "AUTH PLAIN ****")
                .await?;
            self.expect("AUTH", 235).await?;
        }
        let from = config
            .return_path
            .clone()
            .unwrap_or_else(|| entry.return_path.clone());
        self.command(&format!("MAIL FROM:<{from}>"), 250).await?;
        for recipient in to {
            self.command(&format!("RCPT TO:<{}>", recipient.trim()), 250)
                .await?;
        }
        self.command("DATA", 354).await?;
        let content =
            smtp_protocol::outgoing::dot_stuff(&smtp_protocol::outgoing::normalise_line_ends(raw));
        self.stream.get_mut().write_all(&content).await?;
        self.transcript
            .push_str(&format!("C: <message, {} octets>\nC: .\n", raw.len()));
        self.expect("the end of data", 250).await?;
        // The message is with the relay: a failed QUIT changes nothing.
        let _ = self.command("QUIT", 221).await;
        Ok(())
    }

    async fn write(&mut self, line: &str, shown: &str) -> Result<(), RelayError> {
        self.stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await?;
        self.transcript.push_str(&format!("C: {shown}\n"));
        Ok(())
    }

    async fn command(&mut self, line: &str, want: u16) -> Result<Reply, RelayError> {
        self.write(line, line).await?;
        let step = line.split(':').next().unwrap_or(line).to_owned();
        self.expect(&step, want).await
    }

    async fn expect(&mut self, step: &str, want: u16) -> Result<Reply, RelayError> {
        let reply = tokio::time::timeout(REPLY_TIMEOUT, self.read_reply())
            .await
            .map_err(|_| RelayError::Timeout(REPLY_TIMEOUT))??;
        if reply.code.get() != want {
            return Err(RelayError::Refused {
                step: step.to_owned(),
                reply: reply.to_string().trim_end().to_owned(),
            });
        }
        Ok(reply)
    }

    async fn read_reply(&mut self) -> Result<Reply, RelayError> {
        let mut parser = ReplyParser::new(4096);
        loop {
            let mut line = Vec::new();
            let read = self.stream.read_until(b'\n', &mut line).await?;
            if read == 0 {
                return Err(RelayError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            self.transcript.push_str(&format!(
                "S: {}\n",
                String::from_utf8_lossy(&line).trim_end()
            ));
            if let Some(reply) = parser
                .push_line(&line)
                .map_err(|e| RelayError::Reply(e.to_string()))?
            {
                return Ok(reply);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_loosely() {
        assert!(plausible_address("a@example.com"));
        assert!(!plausible_address("a example.com"));
        assert!(!plausible_address("<a@b>"));
        assert!(!plausible_address("@b"));
    }
}
