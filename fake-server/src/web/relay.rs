//! Releasing a held message to a real server (`POST /api/v1/message/{ID}/release`, with
//! `--relay HOST:PORT`): one plain SMTP session (EHLO, optional AUTH PLAIN, MAIL, RCPT each,
//! DATA, QUIT) whose transcript is logged and kept in the answer. The harness's reference
//! client does more (STARTTLS, every SASL mechanism, MX lookup); a sink's release only needs
//! to hand a message to a relay the user runs, usually on this machine.

use std::time::Duration;

use smtp_protocol::reply::{Reply, ReplyParser};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
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
}

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

/// Sends `raw` to `to` through the relay; returns the session's transcript (`C:`/`S:` lines).
pub async fn release(
    config: &RelayConfig,
    entry: &Entry,
    raw: &[u8],
    to: &[String],
) -> Result<String, RelayError> {
    let stream = TcpStream::connect(&config.address)
        .await
        .map_err(|source| RelayError::Connect {
            address: config.address.clone(),
            source,
        })?;
    let mut session = Session {
        stream: BufReader::new(stream),
        transcript: String::new(),
    };
    let result = session.send(config, entry, raw, to).await;
    tracing::info!(
        id = %entry.id,
        relay = %config.address,
        ok = result.is_ok(),
        transcript = %session.transcript,
        "web: release"
    );
    result.map(|()| session.transcript)
}

struct Session {
    stream: BufReader<TcpStream>,
    transcript: String,
}

impl Session {
    async fn send(
        &mut self,
        config: &RelayConfig,
        entry: &Entry,
        raw: &[u8],
        to: &[String],
    ) -> Result<(), RelayError> {
        self.expect("the greeting", 220).await?;
        self.command("EHLO fake-smtp.invalid", 250).await?;
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
        let mut content = dot_stuffed(raw);
        if !content.ends_with(b"\r\n") {
            content.extend_from_slice(b"\r\n");
        }
        content.extend_from_slice(b".\r\n");
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

/// A line starting with `.` gets another (RFC 5321 §4.5.2); bare LF becomes CRLF.
fn dot_stuffed(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        out.extend_from_slice(body);
        if line.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_stuffed_and_line_ends_made_crlf() {
        assert_eq!(dot_stuffed(b"a\r\n.b\n..c\r\nd"), b"a\r\n..b\r\n...c\r\nd");
    }

    #[test]
    fn addresses_are_checked_loosely() {
        assert!(plausible_address("a@example.com"));
        assert!(!plausible_address("a example.com"));
        assert!(!plausible_address("<a@b>"));
        assert!(!plausible_address("@b"));
    }
}
