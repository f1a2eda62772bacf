//! The harness's resolver: hickory's, asking one name server on this machine and nothing else.
//!
//! What is switched off, and why:
//! - the system configuration (`/etc/resolv.conf`): hickory is built without its
//!   `system-config` feature, so it cannot even read it, and the configuration is made here
//!   from the one address given;
//! - the hosts file (`/etc/hosts`): [`ResolveHosts::Never`], so every answer comes from the test
//!   zone;
//! - search domains and the local domain: none, and every name the harness asks is absolute
//!   anyway;
//! - name servers that are not loopback addresses: refused with [`DnsError::NotLoopback`], so
//!   that no query can leave the machine by mistake.
//!
//! The cache belongs to the resolver instance: a test that makes its own resolver sees no
//! answer cached by another test.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
    ServerOrderingStrategy,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;

use super::error::DnsError;

/// Which transports the resolver may use to reach the name server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocols {
    /// UDP, and TCP when a UDP answer comes back truncated (RFC 7766 §5): what resolvers do.
    #[default]
    UdpAndTcp,
    /// UDP only: a truncated answer is an error.
    UdpOnly,
    /// TCP only, for every query.
    TcpOnly,
}

/// How patient the resolver is and how it talks to the name server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverSettings {
    /// How long to wait for one answer.
    pub timeout: Duration,
    /// How many times a query is sent before the lookup fails (at least 1). A lookup against
    /// a silent server thus fails after about `timeout × attempts`.
    pub attempts: usize,
    pub protocols: Protocols,
}

impl Default for ResolverSettings {
    /// One second and two attempts: the server is on loopback and answers in microseconds, so
    /// a lookup that takes longer has gone wrong.
    fn default() -> Self {
        ResolverSettings {
            timeout: Duration::from_secs(1),
            attempts: 2,
            protocols: Protocols::UdpAndTcp,
        }
    }
}

impl ResolverSettings {
    /// A resolver that asks `name_server` (a loopback address) and nothing else.
    pub fn build(&self, name_server: SocketAddr) -> Result<TokioResolver, DnsError> {
        if !name_server.ip().is_loopback() {
            return Err(DnsError::NotLoopback(name_server));
        }
        let transports = match self.protocols {
            Protocols::UdpAndTcp => vec![ConnectionConfig::udp(), ConnectionConfig::tcp()],
            Protocols::UdpOnly => vec![ConnectionConfig::udp()],
            Protocols::TcpOnly => vec![ConnectionConfig::tcp()],
        };
        let connections = transports
            .into_iter()
            .map(|mut connection| {
                connection.port = name_server.port();
                connection
            })
            .collect();
        let server = NameServerConfig::new(name_server.ip(), true, connections);
        let config = ResolverConfig::from_parts(None, Vec::new(), vec![server]);

        let mut options = ResolverOpts::default();
        options.timeout = self.timeout;
        // hickory counts the attempts after the first one.
        options.attempts = self.attempts.max(1) - 1;
        options.use_hosts_file = ResolveHosts::Never;
        options.num_concurrent_reqs = 1;
        options.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
        // The server is authoritative, not recursive: ask it for its own data.
        options.recursion_desired = false;
        options.try_tcp_on_error = false;
        options.cache_size = 256;

        hickory_resolver::Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(DnsError::Resolver)
    }
}

/// A resolver with the [default settings](ResolverSettings::default) that asks `name_server`
/// only.
pub fn resolver_for(name_server: SocketAddr) -> Result<TokioResolver, DnsError> {
    ResolverSettings::default().build(name_server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_loopback_name_servers_are_accepted() {
        let outside: SocketAddr = "192.0.2.53:53".parse().expect("address");
        assert!(matches!(
            resolver_for(outside),
            Err(DnsError::NotLoopback(address)) if address == outside
        ));
        let loopback: SocketAddr = "[::1]:5353".parse().expect("address");
        assert!(resolver_for(loopback).is_ok());
    }
}
