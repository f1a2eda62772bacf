//! Errors that stop the test DNS server or the resolver from being set up.
//!
//! What a lookup finds (or fails to find) is not here: that is [`super::MxError`].

use std::net::SocketAddr;

/// The test zone is wrong, a socket cannot be bound, or the resolver cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A name given to the [`super::Zone`] builder is not a valid domain name.
    #[error("{name:?} is not a valid domain name: {reason}")]
    InvalidName { name: String, reason: String },
    /// A record's owner is outside the zone, so the server could not answer for it
    /// (it answers REFUSED for every name outside its zone).
    #[error("{name} is outside the zone {zone}")]
    OutOfZone { name: String, zone: String },
    #[error("cannot bind the test DNS server to {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    /// No port was free for both UDP and TCP after several tries.
    #[error("no port on {ip} was free for both UDP and TCP after {tries} tries")]
    NoCommonPort { ip: std::net::IpAddr, tries: usize },
    /// The resolver may only ask a name server on this machine (network hygiene, see the
    /// [module documentation](super)).
    #[error("refusing to use the name server {0}: only loopback addresses are allowed")]
    NotLoopback(SocketAddr),
    #[error("cannot build the resolver: {0}")]
    Resolver(#[source] hickory_resolver::net::NetError),
}
