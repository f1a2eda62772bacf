//! `docs/checks.md`, generated from the catalogue and the judges (a test keeps the file
//! current: run `UPDATE_DOCS=1 cargo test -p smtp-conformance docs` after changing either).

use std::fmt::Write as _;

use crate::catalogue::CATALOGUE;
use crate::check::Mode;
use crate::judges;

/// The section titles of the client checks (A.1 ... A.17), as docs/checks.md shows them.
fn section_title(section: &str) -> &'static str {
    match section {
        "A.1" => "RFC 5321: core SMTP",
        "A.2" => "RFC 3207: STARTTLS",
        "A.3" => "RFC 8314: implicit TLS and cleartext",
        "A.4" => "RFC 6409: message submission",
        "A.5" => "RFC 4954: SMTP AUTH",
        "A.6" => "SASL mechanisms as carried in SMTP AUTH",
        "A.7" => "RFC 2920: PIPELINING",
        "A.8" => "RFC 3030: CHUNKING (BDAT) and BINARYMIME",
        "A.9" => "RFC 1870: SIZE",
        "A.10" => "RFC 6152: 8BITMIME",
        "A.11" => "RFC 6531 SMTPUTF8 and RFC 6532 UTF-8 headers",
        "A.12" => "RFC 3461: DSN parameters",
        "A.13" => "RFC 2034 and RFC 3463: enhanced status codes",
        "A.14" => "RFC 5322: message format",
        "A.15" => "MIME: RFC 2045, 2046, 2049",
        "A.16" => "RFC 2047: encoded-words in headers",
        "A.17" => "RFC 2231: MIME parameter values",
        _ => "",
    }
}

/// Why a check without a judge is not judged, by how it is observed.
fn not_judged_reason(mode: Mode) -> &'static str {
    match mode {
        Mode::Harness => "needs known input given to the client (harness only)",
        Mode::ActiveHarness => "needs the client's own report of the outcome (harness only)",
        _ => "not judged yet",
    }
}

/// An example as inline code; one holding backticks is fenced with two.
fn code(text: &str) -> String {
    let text = cell(text);
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// Escapes a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The whole of `docs/checks.md`.
pub fn checks_markdown() -> String {
    let judged = CATALOGUE
        .iter()
        .filter(|c| judges::of(c.id).is_some())
        .count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Client checks\n\n\
<!-- Generated from conformance/src/catalogue.rs and the judges; do not edit by hand.\n     \
Regenerate: UPDATE_DOCS=1 cargo test -p smtp-conformance docs -->\n\n\
Every check `fake-smtp` can run on an SMTP client, by the ID that transcripts, `--json`\n\
events, reports and the Rust API print. **{judged} of the {} checks are judged**; the others\n\
are listed with the reason they are not.\n\n\
- **Level** is what a violation makes the session: `must` (MUST, MUST NOT, SHALL, a grammar\n  \
rule) is a **fail**, `should` (SHOULD, SHOULD NOT) a **warn**, `info` a warn worth knowing.\n  \
The *wording* column is the requirement level as the source words it.\n\
- **Observed**: `passive` checks are judged on every session; `active` ones only when the\n  \
session contains what provokes them (a scenario's 421, a refused EHLO, an error challenge),\n  \
and are *not applicable* otherwise; `harness` ones need input known in advance (the\n  \
harness's own reference client).\n\
- A result is `pass`, `fail`, `warn`, or `not-applicable` with the reason (the session had\n  \
nothing for the check to look at: \"passed\" and \"never checked\" never look the same).\n\
- A failure carries its evidence: the transcript entry or the octet offset in the message,\n  \
and the offending octets.\n",
        CATALOGUE.len()
    );
    let mut section = "";
    for info in CATALOGUE {
        if info.section != section {
            section = info.section;
            let _ = writeln!(
                out,
                "\n## {section} {}\n\n\
| ID | Level | Wording | Source | Observed | What the judge looks at | Example failure |\n\
| --- | --- | --- | --- | --- | --- | --- |",
                section_title(section)
            );
        }
        let (looks_at, example) = match judges::of(info.id) {
            Some(judge) => (cell(judge.looks_at), code(judge.example)),
            None => (
                format!("*not judged: {}*", not_judged_reason(info.mode)),
                String::new(),
            ),
        };
        let _ = writeln!(
            out,
            "| <a id=\"{id}\"></a>`{id}` | {} | {} | {} | {} | {looks_at} | {example} |",
            info.level.as_str(),
            cell(info.wording),
            cell(info.source),
            info.mode.as_str(),
            id = info.id,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/checks.md` is what the code generates.
    #[test]
    fn docs_checks_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/checks.md");
        let generated = checks_markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &generated).expect("write docs/checks.md");
            return;
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/checks.md is out of date: run UPDATE_DOCS=1 cargo test -p smtp-conformance docs"
        );
    }
}
