//! Small pieces of text built by hand on the session's hot paths, where `format!` and
//! `to_string()` cost several times more than the work (measured with callgrind under
//! ci/bench.sh's loads: ci/bench/instructions.sh).

use std::net::SocketAddr;

/// Appends `value` in hex, at least `min_digits` digits (zeros in front), like `{:0N}` with
/// `x` or `X`.
pub fn push_hex(out: &mut String, value: u64, min_digits: usize, upper: bool) {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let needed = 16 - value.leading_zeros().min(63) as usize / 4;
    for shift in (0..needed.max(min_digits)).rev() {
        let digit = if shift < 16 {
            (value >> (shift * 4)) & 0xF
        } else {
            0
        };
        out.push(char::from(digits[digit as usize]));
    }
}

/// Appends `value` in decimal, at least `width` digits (zeros in front), like `{:0width$}`.
pub fn push_padded(out: &mut String, value: u64, width: usize) {
    let mut number = itoa::Buffer::new();
    let digits = number.format(value);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// `addr.to_string()`: an IPv4 address and port written octet by octet (the common case on
/// every connection); IPv6 through its Display.
pub fn socket_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => {
            let mut text = String::with_capacity(21);
            let mut number = itoa::Buffer::new();
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                text.push_str(number.format(octet));
            }
            text.push(':');
            text.push_str(number.format(v4.port()));
            text
        }
        SocketAddr::V6(_) => addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_what_format_writes() {
        let mut values = vec![0, 1, 0xA, 0xFFFFFF, 0x1000000, u64::MAX];
        values.extend((0..64).map(|bit| 1u64 << bit));
        values.extend((0..64).map(|bit| (1u64 << bit) - 1));
        for value in values {
            for (min, upper) in [(6, true), (16, false), (1, false), (20, true)] {
                let mut ours = String::new();
                push_hex(&mut ours, value, min, upper);
                let expected = match (min, upper) {
                    (6, true) => format!("{value:06X}"),
                    (16, false) => format!("{value:016x}"),
                    (1, false) => format!("{value:x}"),
                    _ => format!("{value:020X}"),
                };
                assert_eq!(ours, expected, "{value} {min} {upper}");
            }
        }
    }

    #[test]
    fn padded_decimals_are_what_format_writes() {
        for value in [
            0,
            1,
            9,
            10,
            99,
            100,
            999,
            1000,
            9999,
            10_000,
            123_456,
            u64::MAX,
        ] {
            for width in [0, 1, 2, 3, 4, 25] {
                let mut ours = String::new();
                push_padded(&mut ours, value, width);
                assert_eq!(ours, format!("{value:0width$}"), "{value} in {width}");
            }
        }
    }

    #[test]
    fn socket_addresses_are_what_display_writes() {
        for text in [
            "127.0.0.1:25",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.20.30.40:587",
            "[::1]:2525",
            "[2001:db8::1]:465",
        ] {
            let addr: SocketAddr = text.parse().expect("an address");
            assert_eq!(socket_addr(addr), addr.to_string());
        }
    }
}
