//! The test DNS server: the [`Zone`] served over UDP and TCP on one loopback port, with a log of
//! every query it was asked.
//!
//! Messages are parsed and built with `hickory-proto` (which the resolver needs anyway); the
//! sockets are plain tokio ones. `hickory-server` would give the same answers but adds a second
//! dependency tree (about a third more build time here) for a zone of a few records.
//!
//! Transport rules (RFC 1035 §4.2, RFC 7766, RFC 6891):
//! - UDP answers fit in 512 octets, or in the payload size the query's EDNS record announces
//!   (at most 1232, the size the server announces in its own); a larger answer is sent empty
//!   with the TC bit, so that the client asks again over TCP;
//! - TCP messages carry a two-octet length prefix; a connection may carry several queries, one
//!   after the other, and is closed after [`TCP_IDLE`] without one;
//! - a message that cannot be parsed gets FORMERR when its header can be read, and nothing
//!   otherwise; it is not logged as a query.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_resolver::proto::op::{Header, Message, MessageType, Metadata, ResponseCode};
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

use super::error::DnsError;
use super::zone::{Zone, ZoneData, EDNS_PAYLOAD};

/// A TCP connection without a query for this long is closed (RFC 7766 §6.2.3 suggests
/// seconds, not minutes).
pub const TCP_IDLE: Duration = Duration::from_secs(10);

/// The largest UDP answer without EDNS (RFC 1035 §4.2.1).
const UDP_PLAIN_LIMIT: usize = 512;

/// How long to pause after a socket error, so that a lasting one does not make a loop spin.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// How many ports to try before giving up on finding one free for both UDP and TCP.
const PORT_TRIES: usize = 16;

/// How a query reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

/// One query the server was asked, in the order it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenQuery {
    /// The message ID: a client that sends the same query again (hickory retransmits a UDP
    /// query that has no answer after a third of a second, and retries after a timeout or a
    /// SERVFAIL) reuses it.
    pub id: u16,
    /// The name asked, in lower case, without the final dot: `mx1.test.example`.
    pub name: String,
    pub record_type: RecordType,
    pub transport: Transport,
    /// What the server answered.
    pub response_code: ResponseCode,
}

#[derive(Debug, Default)]
struct QueryLog(Mutex<Vec<SeenQuery>>);

impl QueryLog {
    /// The log, even if a thread panicked while holding it: entries are pushed whole, so the
    /// data is never half-written.
    fn lock(&self) -> MutexGuard<'_, Vec<SeenQuery>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The running server. Dropping it stops it (its tasks are aborted); [`TestDns::shutdown`]
/// also waits until the sockets are closed.
#[derive(Debug)]
pub struct TestDns {
    addr: SocketAddr,
    log: Arc<QueryLog>,
    tasks: Vec<JoinHandle<()>>,
}

impl TestDns {
    /// Serves `zone` on `127.0.0.1`, UDP and TCP on the same free port.
    pub async fn start(zone: Zone) -> Result<TestDns, DnsError> {
        TestDns::start_on(zone, IpAddr::V4(Ipv4Addr::LOCALHOST)).await
    }

    /// Serves `zone` on `ip` (`::1` for an IPv6 test), UDP and TCP on the same free port.
    pub async fn start_on(zone: Zone, ip: IpAddr) -> Result<TestDns, DnsError> {
        let zone = Arc::new(zone.compile()?);
        let (udp, tcp) = bind_pair(ip).await?;
        let addr = udp.local_addr().map_err(|source| DnsError::Bind {
            address: SocketAddr::new(ip, 0),
            source,
        })?;
        let log = Arc::new(QueryLog::default());
        let tasks = vec![
            tokio::spawn(serve_udp(udp, zone.clone(), log.clone())),
            tokio::spawn(serve_tcp(tcp, zone, log.clone())),
        ];
        tracing::debug!(%addr, "test DNS server listening");
        Ok(TestDns { addr, log, tasks })
    }

    /// The address to give the resolver: the same port for UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every query answered so far (including REFUSED ones), oldest first.
    pub fn queries(&self) -> Vec<SeenQuery> {
        self.log.lock().clone()
    }

    /// How many queries were answered so far.
    pub fn query_count(&self) -> usize {
        self.log.lock().len()
    }

    /// The queries, with each repeat of an earlier one (same ID, name, type and transport: a
    /// retransmission or a retry by the client) left out: one entry per lookup. A test that
    /// counts lookups uses this, since a loaded machine can delay an answer past hickory's
    /// retransmission interval. Over TCP hickory gives a retry a new ID, so there a retry
    /// (after SERVFAIL or REFUSED) counts as a lookup of its own.
    pub fn lookups(&self) -> Vec<SeenQuery> {
        let log = self.log.lock();
        let mut lookups: Vec<SeenQuery> = Vec::with_capacity(log.len());
        for query in log.iter() {
            let repeat = lookups.iter().any(|earlier| {
                earlier.id == query.id
                    && earlier.name == query.name
                    && earlier.record_type == query.record_type
                    && earlier.transport == query.transport
            });
            if !repeat {
                lookups.push(query.clone());
            }
        }
        lookups
    }

    /// Forgets the queries seen so far, so that a test can look at one step at a time.
    pub fn clear_queries(&self) {
        self.log.lock().clear();
    }

    /// Stops the server and waits until its sockets are closed.
    pub async fn shutdown(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
            // The task was aborted: the only outcome is a cancellation, nothing to report.
            let _ = task.await;
        }
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A UDP socket and a TCP listener on the same port of `ip`.
async fn bind_pair(ip: IpAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let any_port = SocketAddr::new(ip, 0);
    for _ in 0..PORT_TRIES {
        let udp = UdpSocket::bind(any_port)
            .await
            .map_err(|source| DnsError::Bind {
                address: any_port,
                source,
            })?;
        let address = udp.local_addr().map_err(|source| DnsError::Bind {
            address: any_port,
            source,
        })?;
        match TcpListener::bind(address).await {
            Ok(tcp) => return Ok((udp, tcp)),
            // Taken for TCP by someone else: try another port.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(source) => return Err(DnsError::Bind { address, source }),
        }
    }
    Err(DnsError::NoCommonPort {
        ip,
        tries: PORT_TRIES,
    })
}

async fn serve_udp(socket: UdpSocket, zone: Arc<ZoneData>, log: Arc<QueryLog>) {
    // The largest UDP payload there is: nothing a client sends is cut.
    let mut buffer = vec![0u8; 65_535];
    loop {
        let (len, peer) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(e) => {
                // E.g. an ICMP error reported on the socket: it concerns one peer only.
                tracing::debug!(error = %e, "test DNS: UDP receive failed");
                tokio::time::sleep(ERROR_PAUSE).await;
                continue;
            }
        };
        let Some(reply) = respond(&zone, &log, &buffer[..len], Transport::Udp) else {
            continue;
        };
        if let Err(e) = socket.send_to(&reply, peer).await {
            tracing::debug!(error = %e, %peer, "test DNS: UDP send failed");
        }
    }
}

async fn serve_tcp(listener: TcpListener, zone: Arc<ZoneData>, log: Arc<QueryLog>) {
    // Dropping the set (when this task is aborted) aborts every connection with it.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_tcp_connection(stream, zone.clone(), log.clone()));
                }
                Err(e) => {
                    // E.g. out of file descriptors: pause rather than spin.
                    tracing::debug!(error = %e, "test DNS: TCP accept failed");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Answers the queries of one TCP connection in turn until the client closes it, sends
/// something that is not a DNS message, or stays idle for [`TCP_IDLE`].
async fn serve_tcp_connection(mut stream: TcpStream, zone: Arc<ZoneData>, log: Arc<QueryLog>) {
    loop {
        let mut prefix = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut prefix)).await {
            Ok(Ok(_)) => {}
            // Closed by the client, an I/O error, or idle: the connection is over.
            Ok(Err(_)) | Err(_) => return,
        }
        let len = usize::from(u16::from_be_bytes(prefix));
        let mut message = vec![0u8; len];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut message)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return,
        }
        let Some(reply) = respond(&zone, &log, &message, Transport::Tcp) else {
            // Not even a header: there is no one to answer.
            return;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// The encoded answer to one received message, logging the query; `None` when nothing must be
/// sent back.
fn respond(zone: &ZoneData, log: &QueryLog, bytes: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let request = match Message::from_vec(bytes) {
        Ok(request) => request,
        Err(e) => {
            tracing::debug!(error = %e, ?transport, "test DNS: malformed message");
            return form_error(bytes);
        }
    };
    let response = zone.answer(&request)?;
    if let Some(query) = response.queries.first() {
        let mut name = query.name().to_lowercase().to_ascii();
        if name.len() > 1 && name.ends_with('.') {
            name.pop();
        }
        log.lock().push(SeenQuery {
            id: request.metadata.id,
            name,
            record_type: query.query_type(),
            transport,
            response_code: response.metadata.response_code,
        });
    }
    let limit = match transport {
        Transport::Udp => request
            .edns
            .as_ref()
            .map(|edns| usize::from(edns.max_payload().clamp(512, EDNS_PAYLOAD)))
            .unwrap_or(UDP_PLAIN_LIMIT),
        Transport::Tcp => usize::from(u16::MAX),
    };
    encode(&response, limit)
}

/// `response` encoded; when it is longer than `limit`, the same header and question with no
/// records and the TC bit (RFC 2181 §9), or SERVFAIL if it cannot be encoded at all.
fn encode(response: &Message, limit: usize) -> Option<Vec<u8>> {
    match response.to_vec() {
        Ok(bytes) if bytes.len() <= limit => return Some(bytes),
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(error = %e, "test DNS: cannot encode a response");
            let mut failure = Message::response(response.metadata.id, response.metadata.op_code);
            failure.metadata = response.metadata;
            failure.metadata.response_code = ResponseCode::ServFail;
            failure.metadata.authoritative = false;
            return failure.to_vec().ok();
        }
    }
    let mut truncated = Message::response(response.metadata.id, response.metadata.op_code);
    truncated.metadata = response.metadata;
    truncated.metadata.truncation = true;
    truncated.add_queries(response.queries.iter().cloned());
    if let Some(edns) = &response.edns {
        truncated.set_edns(edns.clone());
    }
    truncated.to_vec().ok()
}

/// FORMERR for a message whose header can be read (RFC 1035 §4.1.1); `None` otherwise, and
/// for a message that claims to be a response.
fn form_error(bytes: &[u8]) -> Option<Vec<u8>> {
    let header = Header::read(&mut BinDecoder::new(bytes)).ok()?;
    if header.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut response = Message::response(header.metadata.id, header.metadata.op_code);
    response.metadata = Metadata::response_from_request(&header.metadata);
    response.metadata.response_code = ResponseCode::FormErr;
    response.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Edns, Query};
    use hickory_resolver::proto::rr::Name;

    fn many_mx_zone() -> ZoneData {
        let mut zone = Zone::new("test.example");
        for i in 0..40 {
            zone = zone.mx(
                "test.example",
                i,
                format!("a-rather-long-exchange-name-{i}.test.example"),
            );
        }
        zone.compile().expect("valid zone")
    }

    fn mx_query(edns: Option<u16>) -> Vec<u8> {
        let mut request = Message::query();
        request.add_query(Query::query(
            Name::from_ascii("test.example.").expect("name"),
            RecordType::MX,
        ));
        if let Some(payload) = edns {
            let mut e = Edns::new();
            e.set_max_payload(payload);
            request.set_edns(e);
        }
        request.to_vec().expect("encodes")
    }

    #[test]
    fn a_long_udp_answer_is_truncated_and_the_same_over_tcp_is_whole() {
        let zone = many_mx_zone();
        let log = QueryLog::default();
        for edns in [None, Some(4096)] {
            let reply = respond(&zone, &log, &mx_query(edns), Transport::Udp).expect("reply");
            assert!(reply.len() <= usize::from(EDNS_PAYLOAD));
            let reply = Message::from_vec(&reply).expect("parses");
            assert!(reply.metadata.truncation, "TC bit set ({edns:?})");
            assert!(reply.answers.is_empty());
            assert!(reply.metadata.authoritative);
        }
        let reply = respond(&zone, &log, &mx_query(None), Transport::Tcp).expect("reply");
        let reply = Message::from_vec(&reply).expect("parses");
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.answers.len(), 40);
        let seen = log.lock();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].name, "test.example");
        assert_eq!(seen[2].transport, Transport::Tcp);
    }

    #[test]
    fn garbage_gets_formerr_when_it_has_a_header_and_nothing_otherwise() {
        let zone = many_mx_zone();
        let log = QueryLog::default();
        assert!(respond(&zone, &log, b"\x12", Transport::Udp).is_none());
        // A query header (id 0x1234, QR=0) claiming one question that is not there.
        let bytes = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05abc";
        let reply = respond(&zone, &log, bytes, Transport::Udp).expect("FORMERR");
        let reply = Message::from_vec(&reply).expect("parses");
        assert_eq!(reply.metadata.id, 0x1234);
        assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
        // The same header with QR=1 is a response: never answered.
        let bytes = b"\x12\x34\x81\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05abc";
        assert!(respond(&zone, &log, bytes, Transport::Udp).is_none());
        assert!(log.lock().is_empty(), "malformed messages are not queries");
    }
}
