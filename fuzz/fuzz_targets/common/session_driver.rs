//! Drives a `Session` the way `fake-server/src/runtime/connection.rs` does, from inputs the
//! fuzzer chooses: octets cut anywhere, and "TLS established", "timer", "stored", "peer
//! closed" and the other runtime events at any point (the session must ignore an answer to a
//! question it did not ask).
//!
//! Input: the listener settings (8 octets, see [`Settings::read`]), then the client's octets,
//! in which `\xff\xfe` and a letter marks a cut between reads or an event: `|` a cut, `T`
//! TLS established, `F` TLS failed, `W` a wait is over, `f` a timer fires, `O` timed out,
//! `S` stored, `D` disk full, `L` a local store error, `C` peer closed, `X` connection lost,
//! `H` shutdown, `A` a second passes.
#![allow(dead_code)] // Each target uses a part.

use std::time::Duration;

use smtp_protocol::sasl::Mechanism;
use smtp_protocol::session::{
    Action, AuthUser, BareLineEnds, PeerInfo, PipeliningMode, Policy, Session, SessionConfig,
    StoreError, TlsDetails,
};
use smtp_protocol::transcript::Transcript;

/// One thing that happens to a session.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    Bytes(&'a [u8]),
    TlsEstablished,
    TlsFailed,
    /// A `Wait` is over.
    Timer,
    /// One of the timers the session set (`SetTimer`) fires: the n-th still running.
    TimerFired(u8),
    /// No input within the session's timeout.
    TimedOut,
    /// The answer to a `Store`: stored, disk full or a local error.
    Stored(u8),
    PeerClosed,
    ConnectionLost,
    Shutdown,
    /// Time passes (milliseconds).
    Advance(u16),
}

/// The listener settings a session can meet (the default policy and a scenario's base).
#[derive(Debug)]
pub struct Settings {
    implicit_tls: bool,
    starttls: bool,
    tls_required: bool,
    /// Which mechanisms are offered (bit per `Mechanism::ALL`).
    mechanisms: u8,
    auth_in_cleartext: bool,
    auth_required: bool,
    /// With a known user ("user", password and token "pencil"), else anyone is accepted.
    known_user: bool,
    login_initial_response_as_username: bool,
    bare_line_ends: u8,
    pipelining: u8,
    /// Extensions advertised (bit per toggle).
    extensions: u16,
    /// The SIZE limit in octets (0: none).
    max_message_size: u16,
    max_recipients: u8,
}

impl Settings {
    /// Octet 0: flags (implicit TLS, STARTTLS, TLS required, AUTH in cleartext, AUTH
    /// required, a known user, LOGIN initial response as user name); 1: mechanisms; 2: bare
    /// line ends (low nibble) and pipelining (high); 3-4: extensions; 5-6: SIZE; 7: recipients.
    pub fn read(header: &mut super::pieces::Header<'_>) -> Settings {
        let flags = header.u8();
        let flag = |n: u32| flags & (1 << n) != 0;
        let mechanisms = header.u8();
        let modes = header.u8();
        Settings {
            implicit_tls: flag(0),
            starttls: flag(1),
            tls_required: flag(2),
            auth_in_cleartext: flag(3),
            auth_required: flag(4),
            known_user: flag(5),
            login_initial_response_as_username: flag(6),
            mechanisms,
            bare_line_ends: modes & 0x0f,
            pipelining: modes >> 4,
            extensions: header.u16(),
            max_message_size: header.u16(),
            max_recipients: header.u8(),
        }
    }

    pub fn config(&self) -> SessionConfig {
        let mut config = SessionConfig {
            max_message_size: self.max_message_size.into(),
            // Never below 100 in a real server; small here so that the limit is reached.
            max_recipients: usize::from(self.max_recipients).max(1),
            starttls: self.starttls,
            tls_required: self.tls_required,
            bare_line_ends: match self.bare_line_ends % 3 {
                0 => BareLineEnds::Reject,
                1 => BareLineEnds::RejectLookalikes,
                _ => BareLineEnds::Accept,
            },
            pipelining: match self.pipelining % 3 {
                0 => PipeliningMode::Honour,
                1 => PipeliningMode::DropInput,
                _ => PipeliningMode::Refuse,
            },
            ..SessionConfig::default()
        };
        let bit = |n: u32| self.extensions & (1 << n) != 0;
        let e = &mut config.extensions;
        (e.pipelining, e.size, e.eight_bit_mime, e.smtputf8) = (bit(0), bit(1), bit(2), bit(3));
        (
            e.enhanced_status_codes,
            e.chunking,
            e.binary_mime,
            e.dsn,
            e.help,
        ) = (bit(4), bit(5), bit(6), bit(7), bit(8));
        let auth = &mut config.auth;
        auth.mechanisms = Mechanism::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.mechanisms & (1 << i) != 0)
            .map(|(_, m)| m)
            .collect();
        auth.in_cleartext = self.auth_in_cleartext;
        auth.required = self.auth_required;
        if self.known_user {
            auth.users = vec![AuthUser {
                name: "user".to_owned(),
                password: Some("pencil".to_owned()),
                token: Some("pencil".to_owned()),
            }];
        }
        if !self.login_initial_response_as_username {
            auth.login_initial_response = smtp_protocol::sasl::LoginInitialResponse::Refuse;
        }
        config
    }

    pub fn peer(&self) -> PeerInfo {
        PeerInfo {
            peer: "192.0.2.1:50000".to_owned(),
            local: "192.0.2.2:25".to_owned(),
            tls: self.implicit_tls.then(tls),
            random: "3rfcNHYJY1ZVvWVs7j".to_owned(),
            unix_time: 697170952,
            listener: Some("smtp".to_owned()),
        }
    }
}

/// The client's octets with their markers, as inputs.
pub fn inputs(bytes: &[u8]) -> Vec<Input<'_>> {
    let mut inputs = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let marker = rest.windows(2).position(|w| w == b"\xff\xfe");
        let (octets, event) = match marker {
            Some(at) => (&rest[..at], rest.get(at + 2).copied()),
            None => (rest, None),
        };
        if !octets.is_empty() {
            inputs.push(Input::Bytes(octets));
        }
        let Some(at) = marker else { break };
        rest = rest.get(at + 3..).unwrap_or_default();
        inputs.push(match event {
            Some(b'T') => Input::TlsEstablished,
            Some(b'F') => Input::TlsFailed,
            Some(b'W') => Input::Timer,
            Some(b'f') => Input::TimerFired(0),
            Some(b'O') => Input::TimedOut,
            Some(b'S') => Input::Stored(2),
            Some(b'D') => Input::Stored(0),
            Some(b'L') => Input::Stored(1),
            Some(b'C') => Input::PeerClosed,
            Some(b'X') => Input::ConnectionLost,
            Some(b'H') => Input::Shutdown,
            Some(b'A') => Input::Advance(1000),
            _ => continue,
        });
    }
    inputs
}

fn tls() -> TlsDetails {
    TlsDetails {
        version: "TLSv1.3".to_owned(),
        cipher: "TLS13_AES_128_GCM_SHA256".to_owned(),
        sni: Some("localhost".to_owned()),
    }
}

/// Takes every action; the runtime writes, stores, waits, sets a timer or hands over to TLS
/// and the next input answers. Nothing may follow a `Close`.
fn drain<P: Policy>(session: &mut Session<P>, closed: &mut bool, timers: &mut Vec<u64>) {
    while let Some(action) = session.poll_action() {
        assert!(!*closed, "an action after Close: {action:?}");
        match action {
            Action::Send(bytes) => session.recycle(bytes),
            Action::Close(_) => *closed = true,
            Action::SetTimer { id, .. } => timers.push(id),
            Action::Store(_) | Action::Wait(_) | Action::StartTls => {}
        }
    }
}

/// Plays the inputs, then ends the session as a client that hangs up does (answering what
/// the session still waits for), and checks that it is closed. Returns its transcript.
pub fn play<P: Policy>(mut session: Session<P>, inputs: Vec<Input<'_>>) -> Transcript {
    let mut now = Duration::ZERO;
    let mut closed = false;
    let mut timers = Vec::new();
    drain(&mut session, &mut closed, &mut timers);
    for input in inputs {
        now += Duration::from_millis(1);
        match input {
            Input::Bytes(bytes) => session.receive(now, bytes),
            Input::TlsEstablished => session.tls_established(now, tls()),
            Input::TlsFailed => session.tls_failed(now, "handshake failure"),
            Input::Timer => session.resume(now),
            Input::TimerFired(n) if !timers.is_empty() => {
                let id = timers.remove(usize::from(n) % timers.len());
                session.timer_fired(now, id);
            }
            Input::TimerFired(_) => {}
            Input::TimedOut => session.timed_out(now),
            Input::Stored(how) => {
                let result = match how % 4 {
                    0 => Err(StoreError::Full),
                    1 => Err(StoreError::Local("disk on fire".to_owned())),
                    _ => Ok(format!("ID{now:?}")),
                };
                session.message_stored(now, result);
            }
            Input::PeerClosed => session.peer_closed(now),
            Input::ConnectionLost => session.connection_lost(now, "reset by peer"),
            Input::Shutdown => session.shutdown(now),
            Input::Advance(ms) => now += Duration::from_millis(ms.into()),
        }
        drain(&mut session, &mut closed, &mut timers);
        assert_eq!(closed, session.is_closed());
    }
    // The client hangs up: whatever the session waits for is answered, and it must close.
    session.peer_closed(now);
    for _ in 0..10_000 {
        drain(&mut session, &mut closed, &mut timers);
        if closed {
            break;
        }
        for id in std::mem::take(&mut timers) {
            session.timer_fired(now, id);
        }
        session.message_stored(now, Ok("LAST".to_owned()));
        session.resume(now);
        session.tls_failed(now, "the client left");
    }
    assert!(closed && session.is_closed(), "the session did not close");
    session.into_transcript()
}
