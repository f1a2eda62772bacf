//! DNS for the relay flow: an in-process authoritative server for a test zone, a resolver that
//! asks only that server, and MX resolution (RFC 5321 §5.1) on top.
//!
//! A relay ("port 25") delivery starts with the recipient's domain and has to find where its
//! mail goes. The harness does that for real, with hickory's resolver, but against a zone the
//! test writes:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! use std::net::Ipv4Addr;
//! use smtp_harness::dns::{resolve_mail_targets, resolver_for, TestDns, Zone};
//!
//! let dns = TestDns::start(
//!     Zone::new("test.example")
//!         .mx("test.example", 10, "mx1.test.example")
//!         .a("mx1.test.example", Ipv4Addr::new(127, 0, 0, 2)),
//! )
//! .await?;
//! let resolver = resolver_for(dns.addr())?;
//! let targets = resolve_mail_targets(&resolver, "test.example").await?;
//! assert_eq!(targets[0].exchange, "mx1.test.example");
//! assert_eq!(targets[0].addresses, [Ipv4Addr::new(127, 0, 0, 2)]);
//! assert_eq!(dns.lookups().len(), 3); // MX, then A and AAAA of the exchange
//! # Ok(()) })
//! # }
//! ```
//!
//! # Network hygiene
//!
//! No DNS query may leave the machine (see DESIGN.md, "Network hygiene"). The resolver is
//! configured with the in-process server only: never the system's `resolv.conf` (hickory is
//! built without its `system-config` feature), never `/etc/hosts`, no search domains, and
//! [`ResolverSettings::build`] refuses a name server that is not a loopback address. The test
//! server binds loopback only and answers REFUSED for names outside its zone: it does no
//! recursion and forwards nothing.
//!
//! Modules:
//! - [`zone`]: the [`Zone`] builder and the authoritative answer to one query;
//! - [`server`]: [`TestDns`], the zone on UDP and TCP with a log of the queries it saw;
//! - [`resolver`]: the hickory resolver, configured as above;
//! - [`mx`]: MX resolution, [`resolve_mail_targets`];
//! - [`error`]: [`DnsError`], for setting things up.

pub mod error;
pub mod mx;
pub mod resolver;
pub mod server;
pub mod zone;

pub use error::DnsError;
pub use hickory_resolver::proto::op::ResponseCode;
pub use hickory_resolver::proto::rr::RecordType;
pub use hickory_resolver::TokioResolver;
pub use mx::{resolve_mail_targets, LookupError, MailTarget, MxError, TargetKind};
pub use resolver::{resolver_for, Protocols, ResolverSettings};
pub use server::{SeenQuery, TestDns, Transport};
pub use zone::{Zone, DEFAULT_TTL};

use hickory_resolver::proto::rr::Name;

/// `text` as an absolute name, with or without its final dot ("." alone is the root). An ASCII
/// name keeps its case, as DNS does (RFC 4343); one with non-ASCII labels (RFC 6531 §3.2 allows
/// U-labels with SMTPUTF8) is IDNA-encoded to A-labels, which folds it to lower case.
pub(crate) fn absolute_name(text: &str) -> Result<Name, String> {
    if text.is_empty() {
        return Err("empty".to_string());
    }
    let parsed = if text.is_ascii() {
        Name::from_ascii(text)
    } else {
        Name::from_utf8(text)
    };
    let mut name = parsed.map_err(|e| e.to_string())?;
    name.set_fqdn(true);
    Ok(name)
}
