//! Where mail for a domain goes: MX resolution as RFC 5321 §5.1 describes it.
//!
//! 1. An address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`, RFC 5321 §4.1.3) is the
//!    destination itself: no lookup.
//! 2. The MX records of the domain, sorted by preference, lowest first. RFC 5321 §5.1 asks a
//!    sender to randomize exchanges of equal preference; the harness orders them by name
//!    instead (case-insensitively), so that its transcripts and snapshots are the same on
//!    every run. An exchange listed twice is kept once, at its best preference.
//! 3. Each exchange's addresses: its A records, then its AAAA records, each in the order the
//!    server gave them. The lookups are made one after the other (MX, then A and AAAA of
//!    each exchange in order), so that the query log is the same on every run.
//! 4. An exchange without any address is kept, with an empty list, so that the flow can
//!    report it. When no exchange has an address and at least one lookup failed transiently,
//!    the whole resolution is [`MxError::Lookup`]: a relay would try again later (what Postfix
//!    does, too).
//! 5. No MX records but the domain exists: the "implicit MX" (RFC 5321 §5.1): the domain
//!    itself, preference 0, with its A and AAAA addresses; none at all is
//!    [`MxError::NoMailTarget`].
//! 6. A null MX (RFC 7505 §3: one MX whose exchange is the root, ".") says that the domain
//!    accepts no mail: [`MxError::NullMx`]. An exchange "." among other MX records names no
//!    host and is left out (RFC 7505 forbids publishing that, and gives senders no rule).
//!
//! Not done here: RFC 5321 §5.1's rule to drop exchanges at or below the sender's own
//! preference (the harness is never one of the exchanges), and CNAME handling beyond what the
//! resolver does by itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_resolver::net::{DnsError as WireError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;

/// Where one delivery attempt can go.
#[derive(Debug, Clone)]
pub struct MailTarget {
    /// The exchange's name as the server gave it, without the final dot (for an implicit MX,
    /// the domain; for an address literal, the literal as written).
    pub exchange: String,
    /// The MX preference: lower is tried first. 0 for an implicit MX and an address literal.
    pub preference: u16,
    /// A addresses first, then AAAA. Empty when the exchange has none.
    pub addresses: Vec<IpAddr>,
    pub kind: TargetKind,
    /// Why `addresses` may be incomplete: an A or AAAA lookup of this exchange failed
    /// transiently (timeout, SERVFAIL). `None` when both lookups got an answer.
    pub address_error: Option<LookupError>,
}

/// How a [`MailTarget`] was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// From an MX record.
    Mx,
    /// The domain itself, because it has no MX records (RFC 5321 §5.1).
    ImplicitMx,
    /// The domain was an address literal; nothing was looked up.
    AddressLiteral,
}

/// Why mail for a domain has nowhere to go.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MxError {
    /// Neither a domain name nor an address literal the harness understands.
    #[error("{domain:?} is not a domain or an address literal: {reason}")]
    InvalidDomain { domain: String, reason: String },
    /// RFC 7505: the domain says it accepts no mail (a relay answers 556 5.1.10, RFC 7505 §4.2).
    #[error("{domain} has a null MX (RFC 7505): it accepts no mail")]
    NullMx { domain: String },
    /// NXDOMAIN: the domain does not exist.
    #[error("{domain} does not exist (NXDOMAIN)")]
    NoSuchDomain { domain: String },
    /// The domain exists but has neither MX records nor addresses.
    #[error("{domain} has no MX records and no address")]
    NoMailTarget { domain: String },
    /// A lookup failed without an answer (timeout, SERVFAIL, REFUSED): transient, a relay
    /// would try again later.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

impl MxError {
    /// Whether trying again later may succeed (a 4xx rather than a 5xx for a relay).
    pub fn is_transient(&self) -> bool {
        matches!(self, MxError::Lookup(_))
    }
}

/// One lookup that got no usable answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{record_type} lookup of {name} failed: {source}")]
pub struct LookupError {
    /// The name asked, without the final dot.
    pub name: String,
    pub record_type: RecordType,
    #[source]
    pub source: NetError,
}

impl LookupError {
    /// The name server did not answer in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self.source, NetError::Timeout)
    }

    /// The error code the name server answered with, if it answered (e.g. SERVFAIL, REFUSED).
    pub fn response_code(&self) -> Option<ResponseCode> {
        match &self.source {
            NetError::Dns(WireError::ResponseCode(code)) => Some(*code),
            NetError::Dns(WireError::NoRecordsFound(no_records)) => Some(no_records.response_code),
            _ => None,
        }
    }
}

/// The destinations for mail to `domain`, best first (see the [module documentation](self)).
pub async fn resolve_mail_targets(
    resolver: &TokioResolver,
    domain: &str,
) -> Result<Vec<MailTarget>, MxError> {
    if let Some(target) = address_literal(domain)? {
        return Ok(vec![target]);
    }
    let name = domain_name(domain)?;
    let shown = display(&name);

    let mut exchanges: Vec<(u16, Name)> = match resolver.mx_lookup(name.clone()).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.clone())),
                _ => None,
            })
            .collect(),
        Err(e) if e.is_nx_domain() => return Err(MxError::NoSuchDomain { domain: shown }),
        Err(e) if e.is_no_records_found() => Vec::new(),
        Err(source) => return Err(lookup_error(&name, RecordType::MX, source).into()),
    };

    if exchanges.is_empty() {
        return implicit_mx(resolver, name, shown).await;
    }
    exchanges.retain(|(_, exchange)| !exchange.is_root());
    if exchanges.is_empty() {
        return Err(MxError::NullMx { domain: shown });
    }
    exchanges.sort_by(|(pa, a), (pb, b)| {
        pa.cmp(pb)
            .then_with(|| display(a).to_lowercase().cmp(&display(b).to_lowercase()))
    });
    // Equal names compare equal regardless of case; the first seen has the best preference.
    let mut seen: Vec<Name> = Vec::new();
    exchanges.retain(|(_, exchange)| {
        if seen.contains(exchange) {
            false
        } else {
            seen.push(exchange.clone());
            true
        }
    });

    let mut targets = Vec::with_capacity(exchanges.len());
    for (preference, exchange) in exchanges {
        let found = addresses(resolver, &exchange).await;
        targets.push(MailTarget {
            exchange: display(&exchange),
            preference,
            addresses: found.addresses,
            kind: TargetKind::Mx,
            address_error: found.error,
        });
    }
    if targets.iter().all(|t| t.addresses.is_empty()) {
        if let Some(error) = targets.iter().find_map(|t| t.address_error.clone()) {
            return Err(MxError::Lookup(error));
        }
    }
    Ok(targets)
}

/// RFC 5321 §5.1: "If an empty list of MXs is returned, the address is treated as if it was
/// associated with an implicit MX RR, with a preference of 0, pointing to that host."
async fn implicit_mx(
    resolver: &TokioResolver,
    name: Name,
    shown: String,
) -> Result<Vec<MailTarget>, MxError> {
    let found = addresses(resolver, &name).await;
    if found.addresses.is_empty() {
        return Err(match found.error {
            Some(error) => MxError::Lookup(error),
            None if found.nx_domain => MxError::NoSuchDomain { domain: shown },
            None => MxError::NoMailTarget { domain: shown },
        });
    }
    Ok(vec![MailTarget {
        exchange: shown,
        preference: 0,
        addresses: found.addresses,
        kind: TargetKind::ImplicitMx,
        address_error: found.error,
    }])
}

/// What the A and AAAA lookups of one name found.
struct Addresses {
    addresses: Vec<IpAddr>,
    /// The first transient failure, if any.
    error: Option<LookupError>,
    /// Both lookups said the name does not exist.
    nx_domain: bool,
}

async fn addresses(resolver: &TokioResolver, name: &Name) -> Addresses {
    let mut found = Addresses {
        addresses: Vec::new(),
        error: None,
        nx_domain: true,
    };
    for record_type in [RecordType::A, RecordType::AAAA] {
        match resolver.lookup(name.clone(), record_type).await {
            Ok(lookup) => {
                found.nx_domain = false;
                found.addresses.extend(
                    lookup
                        .answers()
                        .iter()
                        .filter(|record| record.record_type() == record_type)
                        .filter_map(|record| match &record.data {
                            RData::A(a) => Some(IpAddr::V4(a.0)),
                            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                            _ => None,
                        }),
                );
            }
            Err(e) if e.is_nx_domain() => {}
            Err(e) if e.is_no_records_found() => found.nx_domain = false,
            Err(source) => {
                found.nx_domain = false;
                if found.error.is_none() {
                    found.error = Some(lookup_error(name, record_type, source));
                }
            }
        }
    }
    found
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3) as a target; `None` when `domain`
/// is not in brackets.
fn address_literal(domain: &str) -> Result<Option<MailTarget>, MxError> {
    let Some(inner) = domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    else {
        return Ok(None);
    };
    let invalid = |reason: &str| MxError::InvalidDomain {
        domain: domain.to_string(),
        reason: reason.to_string(),
    };
    let address = match inner.split_once(':') {
        None => inner
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| invalid("not an IPv4 address literal"))?,
        Some((tag, rest)) if tag.eq_ignore_ascii_case("IPv6") => rest
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| invalid("not an IPv6 address literal"))?,
        Some(_) => {
            return Err(invalid(
                "unknown address literal tag (only IPv6: is defined)",
            ))
        }
    };
    Ok(Some(MailTarget {
        exchange: domain.to_string(),
        preference: 0,
        addresses: vec![address],
        kind: TargetKind::AddressLiteral,
        address_error: None,
    }))
}

/// The domain as an absolute name, so that no search list could apply.
fn domain_name(domain: &str) -> Result<Name, MxError> {
    super::absolute_name(domain).map_err(|reason| MxError::InvalidDomain {
        domain: domain.to_string(),
        reason,
    })
}

fn lookup_error(name: &Name, record_type: RecordType, source: NetError) -> LookupError {
    LookupError {
        name: display(name),
        record_type,
        source,
    }
}

/// A name without its final dot, as SMTP writes domains.
fn display(name: &Name) -> String {
    let mut text = name.to_ascii();
    if text.len() > 1 && text.ends_with('.') {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_literals_are_targets_without_lookup() {
        let v4 = address_literal("[127.0.0.2]")
            .expect("valid")
            .expect("literal");
        assert_eq!(v4.addresses, vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))]);
        assert_eq!(v4.kind, TargetKind::AddressLiteral);
        assert_eq!(v4.exchange, "[127.0.0.2]");
        let v6 = address_literal("[ipv6:::1]")
            .expect("valid")
            .expect("literal");
        assert_eq!(v6.addresses, vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        assert!(address_literal("test.example").expect("valid").is_none());
        for bad in ["[]", "[127.0.0.256]", "[::1]", "[IPv6:nope]", "[x-tag:abc]"] {
            assert!(
                matches!(address_literal(bad), Err(MxError::InvalidDomain { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn domains_become_absolute_names() {
        assert_eq!(
            domain_name("Test.Example").expect("valid").to_ascii(),
            "Test.Example."
        );
        assert_eq!(
            domain_name("test.example.").expect("valid").to_ascii(),
            "test.example."
        );
        assert_eq!(
            domain_name("bücher.example").expect("valid").to_ascii(),
            "xn--bcher-kva.example."
        );
        assert!(matches!(
            domain_name(""),
            Err(MxError::InvalidDomain { .. })
        ));
        assert!(matches!(
            domain_name("a..b"),
            Err(MxError::InvalidDomain { .. })
        ));
    }
}
