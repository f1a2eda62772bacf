//! The test DNS server, the resolver and MX resolution, over real UDP and TCP on 127.0.0.1.
//!
//! The server is checked with two clients: hickory's resolver (what the relay flow uses) and
//! a query built by hand in Python (`clients/dns_query.py`), which shares no code with it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use smtp_harness::dns::{
    resolve_mail_targets, resolver_for, MxError, Protocols, RecordType, ResolverSettings,
    ResponseCode, TargetKind, TestDns, TokioResolver, Transport, Zone,
};

const MX_A: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const MX_B: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const MX_C: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
const V4_ONLY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);
const MX_A6: Ipv6Addr = Ipv6Addr::LOCALHOST;
const MX_Z6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x26);

/// One zone with a domain for every case.
fn zone() -> Zone {
    Zone::new("test.example")
        .a("mx-a.test.example", MX_A)
        .aaaa("mx-a.test.example", MX_A6)
        .a("mx-b.test.example", MX_B)
        .a("mx-c.test.example", MX_C)
        .aaaa("mx-z.test.example", MX_Z6)
        // Given out of order, with a tie at 10 and a name in capitals.
        .mx("ordered.test.example", 20, "mx-c.test.example")
        .mx("ordered.test.example", 10, "mx-b.test.example")
        .mx("ordered.test.example", 10, "mx-a.test.example")
        .mx("ordered.test.example", 5, "MX-Z.test.example")
        .mx("twice.test.example", 30, "MX-A.test.example")
        .mx("twice.test.example", 20, "mx-c.test.example")
        .mx("twice.test.example", 10, "mx-a.test.example")
        .a("v4only.test.example", V4_ONLY)
        .aaaa("v6only.test.example", MX_A6)
        .null_mx("nomail.test.example")
        .mx("mixednull.test.example", 10, "mx-a.test.example")
        .null_mx("mixednull.test.example")
        // Exists (a name below it has a record) but has neither MX nor address.
        .a("host.empty.test.example", MX_A)
        .mx("ghostly.test.example", 10, "ghost.test.example")
        .mx("ghostly.test.example", 20, "mx-b.test.example")
        .mx("onlyghost.test.example", 10, "ghost.test.example")
        .mx("elsewhere.test.example", 10, "mx.other.example")
        .mx("partly.test.example", 10, "broken-mx.test.example")
        .mx("partly.test.example", 20, "mx-c.test.example")
        .servfail("broken.test.example")
        .servfail("broken-mx.test.example")
}

async fn start() -> (TestDns, TokioResolver) {
    let dns = TestDns::start(zone())
        .await
        .expect("the test DNS server starts");
    let resolver = resolver_for(dns.addr()).expect("resolver");
    (dns, resolver)
}

/// The lookups the server saw (retransmissions left out), as (name, type, answer), all of
/// them over UDP.
fn asked(dns: &TestDns) -> Vec<(String, RecordType, ResponseCode)> {
    let lookups = dns.lookups();
    assert!(
        lookups.iter().all(|q| q.transport == Transport::Udp),
        "{lookups:?}"
    );
    lookups
        .into_iter()
        .map(|q| (q.name, q.record_type, q.response_code))
        .collect()
}

fn seen(
    name: &str,
    record_type: RecordType,
    code: ResponseCode,
) -> (String, RecordType, ResponseCode) {
    (name.to_string(), record_type, code)
}

// ---------------------------------------------------------------------------------------------
// The server, through hickory

/// A, AAAA, MX, NXDOMAIN and REFUSED as hickory sees them, over one transport only.
async fn server_answers_through_hickory(protocols: Protocols, transport: Transport) {
    let dns = TestDns::start(zone()).await.expect("starts");
    let resolver = ResolverSettings {
        protocols,
        ..ResolverSettings::default()
    }
    .build(dns.addr())
    .expect("resolver");

    let a = resolver
        .lookup("mx-a.test.example.", RecordType::A)
        .await
        .expect("A");
    assert!(a.message().metadata.authoritative, "AA bit");
    let a: Vec<_> = a.answers().iter().map(|r| r.data.clone()).collect();
    assert_eq!(format!("{a:?}"), format!("[A(A({MX_A:?}))]"));

    let aaaa = resolver
        .lookup("mx-a.test.example.", RecordType::AAAA)
        .await
        .expect("AAAA");
    assert_eq!(aaaa.answers().len(), 1);
    assert_eq!(format!("{}", aaaa.answers()[0].data), "::1");

    let mx = resolver
        .lookup("ordered.test.example.", RecordType::MX)
        .await
        .expect("MX");
    let mut mx: Vec<String> = mx.answers().iter().map(|r| r.data.to_string()).collect();
    mx.sort();
    assert_eq!(
        mx,
        vec![
            "10 mx-a.test.example.",
            "10 mx-b.test.example.",
            "20 mx-c.test.example.",
            "5 MX-Z.test.example.",
        ]
    );

    let nx = resolver
        .lookup("missing.test.example.", RecordType::A)
        .await
        .expect_err("NXDOMAIN");
    assert!(nx.is_nx_domain(), "{nx}");
    assert!(
        nx.into_soa().is_some(),
        "the SOA comes with a negative answer"
    );

    let nodata = resolver
        .lookup("mx-b.test.example.", RecordType::AAAA)
        .await
        .expect_err("no AAAA");
    assert!(
        nodata.is_no_records_found() && !nodata.is_nx_domain(),
        "{nodata}"
    );

    let refused = resolver
        .lookup("www.other.example.", RecordType::A)
        .await
        .expect_err("REFUSED");
    assert!(refused.to_string().contains("Refused"), "{refused}");

    let queries = dns.lookups();
    assert!(
        queries.iter().all(|q| q.transport == transport),
        "{queries:?}"
    );
    let codes: Vec<_> = queries
        .iter()
        .map(|q| (q.name.as_str(), q.record_type, q.response_code))
        .collect();
    assert_eq!(
        &codes[..6],
        &[
            ("mx-a.test.example", RecordType::A, ResponseCode::NoError),
            ("mx-a.test.example", RecordType::AAAA, ResponseCode::NoError),
            (
                "ordered.test.example",
                RecordType::MX,
                ResponseCode::NoError
            ),
            (
                "missing.test.example",
                RecordType::A,
                ResponseCode::NXDomain
            ),
            ("mx-b.test.example", RecordType::AAAA, ResponseCode::NoError),
            ("www.other.example", RecordType::A, ResponseCode::Refused),
        ]
    );
    // The resolver retries after REFUSED: over UDP with the same ID (one lookup), over TCP
    // with a new one (hickory's TCP multiplexer numbers each message).
    assert!(dns.query_count() > 6, "the resolver retries after REFUSED");
    let expected_lookups = match transport {
        Transport::Udp => 6,
        Transport::Tcp => 7,
    };
    assert_eq!(codes.len(), expected_lookups, "{codes:?}");
    assert_eq!(codes[codes.len() - 1], codes[5]);
}

#[tokio::test]
async fn the_server_answers_hickory_over_udp() {
    server_answers_through_hickory(Protocols::UdpOnly, Transport::Udp).await;
}

#[tokio::test]
async fn the_server_answers_hickory_over_tcp() {
    server_answers_through_hickory(Protocols::TcpOnly, Transport::Tcp).await;
}

#[tokio::test]
async fn the_server_also_listens_on_ipv6_loopback() {
    let dns = TestDns::start_on(zone(), IpAddr::V6(Ipv6Addr::LOCALHOST))
        .await
        .expect("starts on ::1");
    assert!(dns.addr().is_ipv6());
    let resolver = resolver_for(dns.addr()).expect("resolver");
    let targets = resolve_mail_targets(&resolver, "v4only.test.example")
        .await
        .expect("resolves");
    assert_eq!(targets[0].addresses, vec![IpAddr::V4(V4_ONLY)]);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let dns = TestDns::start(zone()).await.expect("starts");
    let addr = dns.addr();
    dns.shutdown().await;
    // The TCP port is closed at once.
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "nothing listens on {addr} any more");
}

// ---------------------------------------------------------------------------------------------
// The server, through an independent client

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("clients")
        .join(name)
}

/// Runs `dns_query.py` (queries built by hand), one `transport/name/type` per query, and
/// returns its one line about each answer.
async fn python_queries(server: SocketAddr, queries: Vec<String>) -> Vec<String> {
    let mut args = vec![
        script("dns_query.py").display().to_string(),
        server.ip().to_string(),
        server.port().to_string(),
    ];
    args.extend(queries);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(&args)
            .output()
            .expect("python3 runs (ci/setup.sh installs it)")
    })
    .await
    .expect("the blocking task finishes");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "dns_query.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_built_query_gets_the_same_answers_over_udp_and_tcp() {
    let dns = TestDns::start(zone()).await.expect("starts");
    let cases = [
        (
            "mx-a.test.example",
            "A",
            "id=ok qr=1 aa=1 tc=0 rcode=0 answers=A 127.0.0.2 authority=",
        ),
        (
            "MX-A.test.example",
            "AAAA",
            "id=ok qr=1 aa=1 tc=0 rcode=0 answers=AAAA ::1 authority=",
        ),
        (
            "ghostly.test.example",
            "MX",
            "id=ok qr=1 aa=1 tc=0 rcode=0 \
             answers=MX 10 ghost.test.example|MX 20 mx-b.test.example authority=",
        ),
        (
            "nomail.test.example",
            "MX",
            "id=ok qr=1 aa=1 tc=0 rcode=0 answers=MX 0 . authority=",
        ),
        // NXDOMAIN and NODATA carry the SOA (RFC 2308).
        (
            "missing.test.example",
            "A",
            "id=ok qr=1 aa=1 tc=0 rcode=3 answers= authority=SOA",
        ),
        (
            "mx-b.test.example",
            "MX",
            "id=ok qr=1 aa=1 tc=0 rcode=0 answers= authority=SOA",
        ),
        (
            "test.example",
            "SOA",
            "id=ok qr=1 aa=1 tc=0 rcode=0 answers=SOA authority=",
        ),
        // Outside the zone: REFUSED, not authoritative.
        (
            "example.org",
            "A",
            "id=ok qr=1 aa=0 tc=0 rcode=5 answers= authority=",
        ),
        (
            "broken.test.example",
            "A",
            "id=ok qr=1 aa=0 tc=0 rcode=2 answers= authority=",
        ),
    ];
    for transport in ["udp", "tcp"] {
        let queries = cases
            .iter()
            .map(|(name, qtype, _)| format!("{transport}/{name}/{qtype}"))
            .collect();
        let got = python_queries(dns.addr(), queries).await;
        let expected: Vec<_> = cases.iter().map(|(_, _, line)| *line).collect();
        assert_eq!(got, expected, "over {transport}");
    }
    let queries = dns.queries();
    assert_eq!(queries.len(), 2 * cases.len());
    let (udp, tcp) = queries.split_at(cases.len());
    assert!(udp.iter().all(|q| q.transport == Transport::Udp));
    assert!(tcp.iter().all(|q| q.transport == Transport::Tcp));
    assert_eq!(tcp[1].name, "mx-a.test.example", "logged in lower case");
}

// ---------------------------------------------------------------------------------------------
// MX resolution (RFC 5321 §5.1)

#[tokio::test]
async fn mx_targets_are_sorted_by_preference_then_name_and_each_exchange_is_resolved() {
    let (dns, resolver) = start().await;
    let targets = resolve_mail_targets(&resolver, "ordered.test.example")
        .await
        .expect("resolves");
    let summary: Vec<_> = targets
        .iter()
        .map(|t| (t.exchange.as_str(), t.preference, t.addresses.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("MX-Z.test.example", 5, vec![IpAddr::V6(MX_Z6)]),
            // The tie at 10 is ordered by name.
            (
                "mx-a.test.example",
                10,
                vec![IpAddr::V4(MX_A), IpAddr::V6(MX_A6)]
            ),
            ("mx-b.test.example", 10, vec![IpAddr::V4(MX_B)]),
            ("mx-c.test.example", 20, vec![IpAddr::V4(MX_C)]),
        ]
    );
    assert!(targets
        .iter()
        .all(|t| t.kind == TargetKind::Mx && t.address_error.is_none()));

    // Every lookup reached the test server, in this order, and nothing else was asked.
    use RecordType::{A, AAAA, MX};
    let ok = ResponseCode::NoError;
    assert_eq!(
        asked(&dns),
        vec![
            seen("ordered.test.example", MX, ok),
            seen("mx-z.test.example", A, ok),
            seen("mx-z.test.example", AAAA, ok),
            seen("mx-a.test.example", A, ok),
            seen("mx-a.test.example", AAAA, ok),
            seen("mx-b.test.example", A, ok),
            seen("mx-b.test.example", AAAA, ok),
            seen("mx-c.test.example", A, ok),
            seen("mx-c.test.example", AAAA, ok),
        ]
    );
}

#[tokio::test]
async fn an_exchange_listed_twice_is_kept_once_at_its_best_preference() {
    let (dns, resolver) = start().await;
    let targets = resolve_mail_targets(&resolver, "twice.test.example")
        .await
        .expect("resolves");
    let summary: Vec<_> = targets
        .iter()
        .map(|t| (t.exchange.as_str(), t.preference))
        .collect();
    assert_eq!(
        summary,
        vec![("mx-a.test.example", 10), ("mx-c.test.example", 20)]
    );
    assert_eq!(
        dns.lookups().len(),
        5,
        "MX, then A and AAAA of two exchanges"
    );
}

#[tokio::test]
async fn without_mx_records_the_domain_itself_is_the_implicit_mx() {
    let (dns, resolver) = start().await;
    for (domain, address) in [
        ("v4only.test.example", IpAddr::V4(V4_ONLY)),
        ("V6ONLY.test.example.", IpAddr::V6(MX_A6)),
    ] {
        dns.clear_queries();
        let targets = resolve_mail_targets(&resolver, domain)
            .await
            .expect("resolves");
        assert_eq!(targets.len(), 1, "{domain}");
        assert_eq!(targets[0].exchange, domain.trim_end_matches('.'));
        assert_eq!(targets[0].preference, 0);
        assert_eq!(targets[0].kind, TargetKind::ImplicitMx);
        assert_eq!(targets[0].addresses, vec![address]);
        let types: Vec<_> = asked(&dns).into_iter().map(|q| q.1).collect();
        assert_eq!(
            types,
            vec![RecordType::MX, RecordType::A, RecordType::AAAA],
            "{domain}"
        );
    }
}

#[tokio::test]
async fn a_null_mx_means_no_mail_even_with_addresses_to_fall_back_on() {
    let (dns, resolver) = start().await;
    let err = resolve_mail_targets(&resolver, "nomail.test.example")
        .await
        .expect_err("null MX");
    assert!(
        matches!(&err, MxError::NullMx { domain } if domain == "nomail.test.example"),
        "{err:?}"
    );
    assert!(!err.is_transient());
    // Only the MX query: a null MX is final (RFC 7505 §3), no implicit MX is tried.
    assert_eq!(
        asked(&dns),
        vec![seen(
            "nomail.test.example",
            RecordType::MX,
            ResponseCode::NoError
        )]
    );

    // A "." among real exchanges names no host: it is left out.
    let targets = resolve_mail_targets(&resolver, "mixednull.test.example")
        .await
        .expect("resolves");
    let exchanges: Vec<_> = targets.iter().map(|t| t.exchange.as_str()).collect();
    assert_eq!(exchanges, vec!["mx-a.test.example"]);
}

#[tokio::test]
async fn a_domain_that_does_not_exist_is_nxdomain() {
    let (dns, resolver) = start().await;
    let err = resolve_mail_targets(&resolver, "missing.test.example")
        .await
        .expect_err("NXDOMAIN");
    assert!(matches!(err, MxError::NoSuchDomain { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(
        asked(&dns),
        vec![seen(
            "missing.test.example",
            RecordType::MX,
            ResponseCode::NXDomain
        )]
    );
}

#[tokio::test]
async fn a_domain_with_neither_mx_nor_address_has_no_mail_target() {
    let (dns, resolver) = start().await;
    let err = resolve_mail_targets(&resolver, "empty.test.example")
        .await
        .expect_err("no target");
    assert!(matches!(err, MxError::NoMailTarget { .. }), "{err:?}");
    let types: Vec<_> = asked(&dns).into_iter().map(|q| q.1).collect();
    assert_eq!(
        types,
        vec![RecordType::MX, RecordType::A, RecordType::AAAA],
        "MX, then A and AAAA of the domain"
    );
}

#[tokio::test]
async fn an_exchange_without_address_is_kept_with_an_empty_list() {
    let (dns, resolver) = start().await;
    let targets = resolve_mail_targets(&resolver, "ghostly.test.example")
        .await
        .expect("resolves");
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0].exchange, "ghost.test.example");
    assert!(targets[0].addresses.is_empty());
    assert!(
        targets[0].address_error.is_none(),
        "NXDOMAIN is an answer, not a failure"
    );
    assert_eq!(targets[1].addresses, vec![IpAddr::V4(MX_B)]);
    let ghost: Vec<_> = asked(&dns)
        .into_iter()
        .filter(|q| q.0 == "ghost.test.example")
        .map(|q| (q.1, q.2))
        .collect();
    assert_eq!(
        ghost,
        vec![
            (RecordType::A, ResponseCode::NXDomain),
            (RecordType::AAAA, ResponseCode::NXDomain)
        ]
    );

    // The only exchange has no address: still a list, for the flow to report.
    let targets = resolve_mail_targets(&resolver, "onlyghost.test.example")
        .await
        .expect("resolves");
    assert_eq!(targets.len(), 1);
    assert!(targets[0].addresses.is_empty());
}

#[tokio::test]
async fn an_exchange_whose_lookup_fails_is_marked_and_the_others_are_kept() {
    let (_dns, resolver) = start().await;
    let targets = resolve_mail_targets(&resolver, "partly.test.example")
        .await
        .expect("one exchange is usable");
    assert_eq!(targets[0].exchange, "broken-mx.test.example");
    assert!(targets[0].addresses.is_empty());
    let error = targets[0].address_error.as_ref().expect("marked");
    assert_eq!(error.response_code(), Some(ResponseCode::ServFail));
    assert_eq!(error.record_type, RecordType::A);
    assert_eq!(targets[1].addresses, vec![IpAddr::V4(MX_C)]);
}

#[tokio::test]
async fn when_no_exchange_can_be_looked_up_the_failure_is_transient() {
    let (_dns, resolver) = start().await;
    // The only exchange is outside the zone: the test server refuses to answer for it.
    let err = resolve_mail_targets(&resolver, "elsewhere.test.example")
        .await
        .expect_err("nothing usable");
    assert!(err.is_transient(), "{err:?}");
    let MxError::Lookup(lookup) = err else {
        panic!("expected a lookup error");
    };
    assert_eq!(lookup.name, "mx.other.example");
    assert_eq!(lookup.response_code(), Some(ResponseCode::Refused));
}

#[tokio::test]
async fn servfail_on_the_mx_query_is_a_transient_lookup_error() {
    let (dns, resolver) = start().await;
    let err = resolve_mail_targets(&resolver, "broken.test.example")
        .await
        .expect_err("SERVFAIL");
    let MxError::Lookup(lookup) = &err else {
        panic!("expected a lookup error, got {err:?}");
    };
    assert_eq!(lookup.record_type, RecordType::MX);
    assert_eq!(lookup.response_code(), Some(ResponseCode::ServFail));
    assert!(err.is_transient());
    // One lookup (retried by the resolver with the same ID), and nothing else.
    assert_eq!(
        asked(&dns),
        vec![seen(
            "broken.test.example",
            RecordType::MX,
            ResponseCode::ServFail
        )]
    );
    assert!(dns.query_count() >= 2, "retried after SERVFAIL");
}

#[tokio::test]
async fn address_literals_need_no_lookup() {
    let (dns, resolver) = start().await;
    let targets = resolve_mail_targets(&resolver, "[127.0.0.2]")
        .await
        .expect("literal");
    assert_eq!(targets[0].addresses, vec![IpAddr::V4(MX_A)]);
    assert_eq!(targets[0].kind, TargetKind::AddressLiteral);
    let targets = resolve_mail_targets(&resolver, "[IPv6:::1]")
        .await
        .expect("literal");
    assert_eq!(targets[0].addresses, vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]);
    let err = resolve_mail_targets(&resolver, "[127.0.0.300]")
        .await
        .expect_err("not an address");
    assert!(matches!(err, MxError::InvalidDomain { .. }));
    assert_eq!(dns.query_count(), 0, "nothing was looked up");
}

#[tokio::test]
async fn each_resolver_has_its_own_cache() {
    let (dns, resolver) = start().await;
    resolve_mail_targets(&resolver, "v4only.test.example")
        .await
        .expect("resolves");
    assert_eq!(dns.lookups().len(), 3);
    // The same resolver may answer from its cache (TTL 1 s); a new one asks again.
    let fresh = resolver_for(dns.addr()).expect("resolver");
    resolve_mail_targets(&fresh, "v4only.test.example")
        .await
        .expect("resolves");
    assert_eq!(dns.lookups().len(), 6);
}

// ---------------------------------------------------------------------------------------------
// A name server that never answers

/// The resolver's timers are tokio's, so the paused clock drives them: the test takes no real
/// time, and the virtual time it took is the configured patience.
#[tokio::test(start_paused = true)]
async fn a_silent_name_server_gives_a_transient_lookup_error_after_the_timeout() {
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let settings = ResolverSettings {
        timeout: Duration::from_secs(3),
        attempts: 2,
        protocols: Protocols::UdpAndTcp,
    };
    let resolver = settings
        .build(silent.local_addr().expect("address"))
        .expect("resolver");

    let real = std::time::Instant::now();
    let virtual_start = tokio::time::Instant::now();
    let err = resolve_mail_targets(&resolver, "test.example")
        .await
        .expect_err("no answer");
    let waited = virtual_start.elapsed();

    let MxError::Lookup(lookup) = &err else {
        panic!("expected a lookup error, got {err:?}");
    };
    assert!(lookup.is_timeout(), "{lookup}");
    assert_eq!(lookup.record_type, RecordType::MX);
    assert!(err.is_transient());
    assert!(
        waited >= Duration::from_secs(6) && waited < Duration::from_secs(7),
        "two attempts of 3 s, took {waited:?} (virtual)"
    );
    assert!(
        real.elapsed() < Duration::from_secs(2),
        "the paused clock did the waiting"
    );
    // Each attempt reached the socket; within an attempt hickory retransmits a UDP query
    // (every 333 ms at least, three datagrams at most), all with the attempt's message ID.
    let mut buffer = [0u8; 512];
    let mut ids = Vec::new();
    while let Ok((len, _)) = silent.try_recv_from(&mut buffer) {
        assert!(len >= 12, "a DNS message");
        ids.push(u16::from_be_bytes([buffer[0], buffer[1]]));
    }
    assert!((2..=6).contains(&ids.len()), "{} datagrams", ids.len());
}
