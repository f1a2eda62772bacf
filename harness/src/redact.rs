//! What changes from one run to the next in a transcript, replaced by a placeholder so that
//! transcripts can be compared (snapshots, `probe --expect`): ports, queue ids, SASL
//! challenges and responses (they carry nonces). Nothing else is touched.

use std::sync::OnceLock;

use regex::Regex;

fn patterns() -> &'static (Regex, Regex, Regex, Regex) {
    static PATTERNS: OnceLock<(Regex, Regex, Regex, Regex)> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        // Constant patterns: a mistake in them is caught by the tests below, not by input.
        let compile = |re: &str| Regex::new(re).expect("a valid constant regex");
        (
            compile(r"(127\.0\.0\.\d+|\[::1\]|::1):\d+"),
            // fake-smtp's queue ids (22 hex digits: start second, salt, serial).
            compile(r"\b[0-9A-F]{22}\b"),
            // Other servers' "queued as <id>": Postfix's hexadecimal ids, or its long ids
            // (letters and digits with a 'z' between the time and the inode part).
            compile(r"(?i)(queued as) ([0-9A-F]{6,12}|[0-9A-Za-y]{8,}z[0-9A-Za-z]{4,})\b"),
            // rustls's expired-certificate error names the clock: "verification time N (UNIX),
            // but certificate is not valid after M (S seconds ago)".
            compile(r"verification time \d+ \(UNIX\), but certificate is not valid (after|before) \d+ \(\d+ seconds (ago|from now)\)"),
        )
    })
}

/// Redacts a rendered transcript (`C:`/`S:` lines).
pub fn redact(text: &str) -> String {
    let (port, queue_id, queued_as, cert_time) = patterns();
    let mut out = String::with_capacity(text.len());
    let mut after_challenge = false;
    for line in text.lines() {
        let line = port.replace_all(line, "$1:[PORT]");
        let line = queue_id.replace_all(&line, "[QUEUE-ID]");
        let line = queued_as.replace_all(&line, "$1 [QUEUE-ID]");
        let line = cert_time.replace_all(
            &line,
            "verification time [TIME] (UNIX), but certificate is not valid $1 [TIME]",
        );
        let line = if let Some(rest) = line.strip_prefix("S: 334 ") {
            after_challenge = true;
            if rest.is_empty() {
                line.to_string()
            } else {
                "S: 334 [CHALLENGE]".to_owned()
            }
        } else if after_challenge && line.starts_with("C: ") {
            after_challenge = false;
            "C: [SASL RESPONSE]".to_owned()
        } else if let Some(rest) = line.strip_prefix("C: AUTH ") {
            after_challenge = false;
            match rest.split_once(' ') {
                Some((mechanism, _)) => format!("C: AUTH {mechanism} [INITIAL RESPONSE]"),
                None => line.to_string(),
            }
        } else {
            after_challenge = false;
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_only_what_varies() {
        let text = "** connected 127.0.0.1:5000 -> 127.0.0.1:2525\n\
S: 250 2.0.0 OK queued as 6B0A1F3C9E2D4A10000001\n\
S: 250 2.0.0 Ok: queued as 4B3E11C2A7\n\
S: 250 Mail OK queued as smtp11,token\n\
C: AUTH CRAM-MD5\n\
S: 334 PDEyMzQ1Njc4OTAuMTIzQGxvY2FsaG9zdD4=\n\
C: aGFybmVzcyBhYmNkZWY=\n\
S: 235 2.7.0 Authentication successful\n\
C: AUTH PLAIN AGhhcm5lc3MAc2VjcmV0\n\
** TLS handshake failed: invalid peer certificate: certificate expired: verification time 1796017387 (UNIX), but certificate is not valid after 1793425387 (2592000 seconds ago)\n\
C: QUIT\n";
        assert_eq!(
            redact(text),
            "** connected 127.0.0.1:[PORT] -> 127.0.0.1:[PORT]\n\
S: 250 2.0.0 OK queued as [QUEUE-ID]\n\
S: 250 2.0.0 Ok: queued as [QUEUE-ID]\n\
S: 250 Mail OK queued as smtp11,token\n\
C: AUTH CRAM-MD5\n\
S: 334 [CHALLENGE]\n\
C: [SASL RESPONSE]\n\
S: 235 2.7.0 Authentication successful\n\
C: AUTH PLAIN [INITIAL RESPONSE]\n\
** TLS handshake failed: invalid peer certificate: certificate expired: verification time [TIME] (UNIX), but certificate is not valid after [TIME]\n\
C: QUIT\n"
        );
    }
}
