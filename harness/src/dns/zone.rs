//! The test zone: a builder for its records, and the authoritative answer to one query.
//!
//! Answering is kept apart from the sockets ([`super::server`]) so that the rules can be read
//! and unit-tested on their own. They are those of an authoritative server (RFC 1034 §4.3.2,
//! RFC 2308 for negative answers):
//!
//! - a name outside the zone: REFUSED, not authoritative (we serve this zone only and do no
//!   recursion);
//! - a name in the zone that does not exist: NXDOMAIN, AA, with the zone's SOA in the
//!   authority section (RFC 2308 §2.1: that SOA is what lets a resolver cache the answer);
//! - a name that exists (it owns records, is the apex, or has names below it: an "empty
//!   non-terminal", RFC 8020 §2) but has no record of the asked type: NOERROR with no answer
//!   ("NODATA", RFC 2308 §2.2), AA, SOA in the authority section;
//! - otherwise the records, AA.
//!
//! No additional-section processing is done for MX answers (RFC 1035 §3.3.9 allows it, it does
//! not require it): a resolver then has to ask for each exchange's A and AAAA records, and the
//! query log shows every one of those lookups.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_resolver::proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX, SOA};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::error::DnsError;

/// The TTL of every record unless [`Zone::ttl`] says otherwise: short, so that nothing a
/// resolver caches outlives a test for long.
pub const DEFAULT_TTL: u32 = 1;

/// The UDP payload size the server announces in its EDNS answers (RFC 6891 §6.2.5; 1232 is the
/// size the 2020 DNS flag day recommends, which avoids IP fragmentation).
pub(crate) const EDNS_PAYLOAD: u16 = 1232;

/// The records of the test zone. Names are absolute, with or without the final dot, and
/// compared without regard to case (RFC 4343). Nothing is checked until
/// [`super::TestDns::start`], which refuses invalid names and owners outside the zone.
///
/// ```
/// # use std::net::Ipv4Addr;
/// use smtp_harness::dns::Zone;
/// let zone = Zone::new("test.example")
///     .mx("test.example", 10, "mx1.test.example")
///     .a("mx1.test.example", Ipv4Addr::new(127, 0, 0, 2))
///     .null_mx("nomail.test.example");
/// # let _ = zone;
/// ```
#[derive(Debug, Clone)]
pub struct Zone {
    origin: String,
    ttl: u32,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
enum Entry {
    Mx {
        domain: String,
        preference: u16,
        exchange: String,
    },
    A(String, Ipv4Addr),
    Aaaa(String, Ipv6Addr),
    ServFail(String),
}

impl Zone {
    /// An empty zone rooted at `origin`. It always has an SOA record at its apex.
    pub fn new(origin: impl Into<String>) -> Zone {
        Zone {
            origin: origin.into(),
            ttl: DEFAULT_TTL,
            entries: Vec::new(),
        }
    }

    /// The TTL, in seconds, of every record and of negative answers (SOA minimum).
    pub fn ttl(mut self, seconds: u32) -> Zone {
        self.ttl = seconds;
        self
    }

    /// An MX record (RFC 1035 §3.3.9). The exchange may be outside the zone; the server then
    /// has no address for it (and answers REFUSED when asked).
    pub fn mx(
        mut self,
        domain: impl Into<String>,
        preference: u16,
        exchange: impl Into<String>,
    ) -> Zone {
        self.entries.push(Entry::Mx {
            domain: domain.into(),
            preference,
            exchange: exchange.into(),
        });
        self
    }

    /// A "null MX" (RFC 7505 §3): one MX with preference 0 and the root as exchange, which says
    /// that the domain accepts no mail.
    pub fn null_mx(self, domain: impl Into<String>) -> Zone {
        self.mx(domain, 0, ".")
    }

    /// An A record.
    pub fn a(mut self, host: impl Into<String>, address: Ipv4Addr) -> Zone {
        self.entries.push(Entry::A(host.into(), address));
        self
    }

    /// An AAAA record (RFC 3596).
    pub fn aaaa(mut self, host: impl Into<String>, address: Ipv6Addr) -> Zone {
        self.entries.push(Entry::Aaaa(host.into(), address));
        self
    }

    /// Every query for `name`, of any type, is answered SERVFAIL: a broken zone, to test what a
    /// client does with a lookup that fails for a reason other than a timeout.
    pub fn servfail(mut self, name: impl Into<String>) -> Zone {
        self.entries.push(Entry::ServFail(name.into()));
        self
    }

    /// The zone with every name parsed and checked, ready to answer.
    pub(crate) fn compile(&self) -> Result<ZoneData, DnsError> {
        let origin = parse_name(&self.origin)?;
        let owner = |name: &str| -> Result<Name, DnsError> {
            let parsed = parse_name(name)?;
            if origin.zone_of(&parsed) {
                Ok(parsed)
            } else {
                Err(DnsError::OutOfZone {
                    name: name.to_string(),
                    zone: self.origin.clone(),
                })
            }
        };
        let soa = Record::from_rdata(
            origin.clone(),
            self.ttl,
            RData::SOA(SOA::new(
                prefixed("ns", &origin)?,
                prefixed("hostmaster", &origin)?,
                1,
                3600,
                600,
                86400,
                self.ttl,
            )),
        );
        let mut records = Vec::new();
        let mut servfail = Vec::new();
        for entry in &self.entries {
            match entry {
                Entry::Mx {
                    domain,
                    preference,
                    exchange,
                } => records.push(Record::from_rdata(
                    owner(domain)?,
                    self.ttl,
                    RData::MX(MX::new(*preference, parse_name(exchange)?)),
                )),
                Entry::A(host, address) => records.push(Record::from_rdata(
                    owner(host)?,
                    self.ttl,
                    RData::A(A(*address)),
                )),
                Entry::Aaaa(host, address) => records.push(Record::from_rdata(
                    owner(host)?,
                    self.ttl,
                    RData::AAAA(AAAA(*address)),
                )),
                Entry::ServFail(name) => servfail.push(owner(name)?),
            }
        }
        Ok(ZoneData {
            origin,
            soa,
            records,
            servfail,
        })
    }
}

/// Parses an absolute name; "." is the root.
fn parse_name(text: &str) -> Result<Name, DnsError> {
    super::absolute_name(text).map_err(|reason| DnsError::InvalidName {
        name: text.to_string(),
        reason,
    })
}

fn prefixed(label: &str, origin: &Name) -> Result<Name, DnsError> {
    Name::from_ascii(label)
        .and_then(|name| name.append_domain(origin))
        .map_err(|e| DnsError::InvalidName {
            name: format!("{label}.{origin}"),
            reason: e.to_string(),
        })
}

/// A compiled zone: what the server answers from.
#[derive(Debug, Clone)]
pub(crate) struct ZoneData {
    origin: Name,
    soa: Record,
    records: Vec<Record>,
    servfail: Vec<Name>,
}

impl ZoneData {
    /// The response to `request`, or `None` when it must not be answered at all (it is itself
    /// a response: answering it could start a loop).
    pub(crate) fn answer(&self, request: &Message) -> Option<Message> {
        if request.metadata.message_type != MessageType::Query {
            return None;
        }
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata = Metadata::response_from_request(&request.metadata);
        // RFC 6891 §6.1.1: a responder MUST include an OPT record when the request has one.
        if request.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(EDNS_PAYLOAD);
            response.set_edns(edns);
        }
        if request.metadata.op_code != OpCode::Query {
            response.metadata.response_code = ResponseCode::NotImp;
            return Some(response);
        }
        // RFC 9619: a query has exactly one question.
        let [query] = request.queries.as_slice() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return Some(response);
        };
        response.add_query(query.clone());
        let name = query.name();
        if query.query_class() != DNSClass::IN || !self.origin.zone_of(name) {
            response.metadata.response_code = ResponseCode::Refused;
            return Some(response);
        }
        if self.servfail.iter().any(|broken| broken == name) {
            response.metadata.response_code = ResponseCode::ServFail;
            return Some(response);
        }
        response.metadata.authoritative = true;
        if !self.exists(name) {
            response.metadata.response_code = ResponseCode::NXDomain;
            response.add_authority(self.soa.clone());
            return Some(response);
        }
        let wanted = query.query_type();
        let answers: Vec<Record> = self
            .all_records()
            .filter(|record| &record.name == name)
            .filter(|record| wanted == RecordType::ANY || record.record_type() == wanted)
            .cloned()
            .collect();
        if answers.is_empty() {
            response.add_authority(self.soa.clone());
        } else {
            response.add_answers(answers);
        }
        Some(response)
    }

    /// The SOA first, then the records in the order the builder was given them.
    fn all_records(&self) -> impl Iterator<Item = &Record> {
        std::iter::once(&self.soa).chain(self.records.iter())
    }

    /// Whether `name` exists in the zone: it owns records, or a name below it does (then it is
    /// an empty non-terminal, which exists: RFC 8020 §2).
    fn exists(&self, name: &Name) -> bool {
        self.all_records().any(|record| name.zone_of(&record.name))
            || self.servfail.iter().any(|broken| name.zone_of(broken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::Query;

    fn zone() -> ZoneData {
        Zone::new("test.example")
            .mx("test.example", 10, "mx1.test.example")
            .a("mx1.test.example", Ipv4Addr::new(127, 0, 0, 2))
            .aaaa("mx1.test.example", Ipv6Addr::LOCALHOST)
            .a("a.deep.test.example", Ipv4Addr::new(127, 0, 0, 3))
            .servfail("broken.test.example")
            .compile()
            .expect("valid zone")
    }

    fn ask(zone: &ZoneData, name: &str, record_type: RecordType) -> Message {
        let mut request = Message::query();
        request.add_query(Query::query(
            Name::from_ascii(name).expect("name"),
            record_type,
        ));
        zone.answer(&request).expect("a query is answered")
    }

    fn answer_types(response: &Message) -> Vec<RecordType> {
        response.answers.iter().map(Record::record_type).collect()
    }

    #[test]
    fn records_of_the_asked_type_are_answered_authoritatively() {
        let zone = zone();
        let response = ask(&zone, "MX1.Test.Example.", RecordType::A);
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(response.metadata.authoritative);
        assert_eq!(
            response.answers[0].data,
            RData::A(A(Ipv4Addr::new(127, 0, 0, 2)))
        );
        assert_eq!(answer_types(&response), vec![RecordType::A]);
        assert_eq!(
            answer_types(&ask(&zone, "mx1.test.example.", RecordType::AAAA)),
            vec![RecordType::AAAA]
        );
        assert_eq!(
            answer_types(&ask(&zone, "mx1.test.example.", RecordType::ANY)),
            vec![RecordType::A, RecordType::AAAA]
        );
    }

    #[test]
    fn missing_names_are_nxdomain_and_missing_types_nodata_both_with_the_soa() {
        let zone = zone();
        let nx = ask(&zone, "nope.test.example.", RecordType::MX);
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        assert!(nx.metadata.authoritative);
        assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);

        let nodata = ask(&zone, "mx1.test.example.", RecordType::MX);
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
        assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);

        // An empty non-terminal exists (RFC 8020).
        let ent = ask(&zone, "deep.test.example.", RecordType::A);
        assert_eq!(ent.metadata.response_code, ResponseCode::NoError);
        assert!(ent.answers.is_empty());
    }

    #[test]
    fn names_outside_the_zone_are_refused_without_authority() {
        let response = ask(&zone(), "mx1.other.example.", RecordType::A);
        assert_eq!(response.metadata.response_code, ResponseCode::Refused);
        assert!(!response.metadata.authoritative);
        assert!(response.answers.is_empty());
        // A parent of the zone is outside it too.
        let parent = ask(&zone(), "example.", RecordType::A);
        assert_eq!(parent.metadata.response_code, ResponseCode::Refused);
    }

    #[test]
    fn broken_names_answer_servfail() {
        let response = ask(&zone(), "broken.test.example.", RecordType::A);
        assert_eq!(response.metadata.response_code, ResponseCode::ServFail);
    }

    #[test]
    fn responses_are_never_answered_and_other_opcodes_are_not_implemented() {
        let zone = zone();
        let mut not_a_query = Message::query();
        not_a_query.metadata.message_type = MessageType::Response;
        assert!(zone.answer(&not_a_query).is_none());

        let mut notify = Message::query();
        notify.metadata.op_code = OpCode::Notify;
        let response = zone.answer(&notify).expect("answered");
        assert_eq!(response.metadata.response_code, ResponseCode::NotImp);

        let empty = zone.answer(&Message::query()).expect("answered");
        assert_eq!(empty.metadata.response_code, ResponseCode::FormErr);
    }

    #[test]
    fn the_builder_refuses_owners_outside_the_zone_and_bad_names() {
        let outside = Zone::new("test.example")
            .a("mx.other.example", Ipv4Addr::LOCALHOST)
            .compile();
        assert!(matches!(outside, Err(DnsError::OutOfZone { .. })));
        let bad = Zone::new("test.example")
            .a("a..test.example", Ipv4Addr::LOCALHOST)
            .compile();
        assert!(matches!(bad, Err(DnsError::InvalidName { .. })));
        // An exchange outside the zone is fine: it is data, not an owner.
        assert!(Zone::new("test.example")
            .mx("test.example", 5, "mx.other.example")
            .compile()
            .is_ok());
    }

    #[test]
    fn a_null_mx_is_one_mx_with_preference_zero_and_the_root() {
        let zone = Zone::new("test.example")
            .null_mx("test.example")
            .compile()
            .expect("valid");
        let response = ask(&zone, "test.example.", RecordType::MX);
        assert_eq!(
            response.answers[0].data,
            RData::MX(MX::new(0, Name::root()))
        );
    }
}
