//! The trace header the server adds to the delivered copy of a message (RFC 5321 §4.4,
//! S-5321-TRACE), and the RFC 5322 §3.3 date it needs, computed from the system clock without
//! a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Builds `Received: from <helo> ([ip]) by <host> (fake-smtp) with <proto> id <id>
/// [for <rcpt>]; <date>`. The client's address goes in as a literal: the server never looks
/// names up in DNS.
pub fn received_header(
    helo: Option<&str>,
    peer_ip: Option<std::net::IpAddr>,
    hostname: &str,
    protocol: &str,
    id: &str,
    single_recipient: Option<&str>,
    at: SystemTime,
) -> String {
    let literal = match peer_ip {
        Some(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
        Some(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        None => "[unknown]".to_owned(),
    };
    let from = match helo {
        Some(helo) => format!("{helo} ({literal})"),
        None => literal,
    };
    let recipient = single_recipient
        .map(|r| format!("\r\n\tfor {r}"))
        .unwrap_or_default();
    format!(
        "Received: from {from}\r\n\tby {hostname} (fake-smtp) with {protocol} id {id}{recipient};\r\n\t{}\r\n",
        rfc5322_date(at)
    )
}

/// `Fri, 27 Nov 2026 20:55:58 +0000`, always in UTC.
pub fn rfc5322_date(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = crate::civil::civil_from_days(days as i64);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_known_answers() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(rfc5322_date(at(0)), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(at(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
        assert_eq!(
            rfc5322_date(at(1_795_812_958)),
            "Fri, 27 Nov 2026 20:55:58 +0000"
        );
    }

    #[test]
    fn header_shape() {
        let header = received_header(
            Some("client.example"),
            Some("127.0.0.1".parse().expect("ip")),
            "mx.test",
            "ESMTP",
            "ABC",
            Some("<a@b.c>"),
            UNIX_EPOCH,
        );
        assert_eq!(
            header,
            "Received: from client.example ([127.0.0.1])\r\n\tby mx.test (fake-smtp) with ESMTP id ABC\r\n\tfor <a@b.c>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
    }
}
