//! The report as one self-contained HTML page (no network, no CDN, no script): the verdict and
//! the expectations on top, then each session drawn as a sequence diagram.
//!
//! The diagram has two lanes, client on the left and server on the right, time running down:
//! each client line is an arrow to the server, each line of a server reply an arrow back, a
//! message's content one arrow with its size. The TLS phase (from the STARTTLS 220, or the
//! handshake of implicit TLS, to the end) and each AUTH exchange (from AUTH to its final reply)
//! are shaded bands. Every failed or warned finding sits beside the line it points at, with
//! its check ID linked to `docs/checks.md`; findings in a message sit under its content arrow
//! with their octet offsets. Below each diagram: the session's failed and warned checks as a
//! table, the counts, and the passed and not-applicable checks folded away.
//!
//! Everything from the report is escaped ([`escape`]); the page forbids scripts and every load
//! through its Content-Security-Policy as well. The output depends on the report alone (no
//! clock, no map order), and the diagram is plain HTML and CSS, one small grid per line, so a
//! session of thousands of entries lays out in linear time.

use std::collections::VecDeque;
use std::fmt::Write as _;

use smtp_conformance::{CheckResult, Evidence, Location, Status};
use smtp_protocol::data::ContentReport;
use smtp_protocol::transcript::{Entry, Event, LineMeta};

use super::{ClientResult, ExpectationResult, RunReport, RunResult, SessionResult};

/// Where the check IDs link to (relative: the page is read next to the docs, or the link
/// shows which file to open).
pub const CHECKS_DOC: &str = "docs/checks.md";

/// The report as an HTML document.
pub fn render(report: &RunReport) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let verdict = report.verdict.as_str().to_uppercase();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n\
<meta name=\"generator\" content=\"fake-smtp\">\n\
<title>fake-smtp report: {verdict}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    render_verdict(&mut out, report);
    out.push_str("<main>\n");
    for (index, run) in report.runs.iter().enumerate() {
        render_run(&mut out, run, index + 1);
    }
    out.push_str("</main>\n");
    let _ = write!(
        out,
        "<footer>fake-smtp run report, format {}. Check IDs link to <code>{CHECKS_DOC}</code>.</footer>\n</body>\n</html>\n",
        report.format
    );
    out
}

// ---- the top: verdict, runs, client, expectations ------------------------------------------

fn render_verdict(out: &mut String, report: &RunReport) {
    let sessions: usize = report.runs.iter().map(|r| r.sessions.len()).sum();
    let (mut failed, mut warned) = (0u64, 0u64);
    for session in report.runs.iter().flat_map(|r| &r.sessions) {
        failed += u64::from(session.counts.fail);
        warned += u64::from(session.counts.warn);
    }
    let failed_runs = report.runs.iter().filter(|r| !r.verdict.is_pass()).count();
    let class = report.verdict.as_str();
    let _ = write!(
        out,
        "<header class=\"top {class}\" id=\"verdict\">\n<div class=\"verdict\" data-verdict=\"{class}\">{}</div>\n<div class=\"summary\">\n\
<div class=\"line1\">{} of {} run{} failed</div>\n\
<div>failing level <b class=\"level\">{}</b>: a failed check at this level or above fails the run{}</div>\n\
<div>{} session{} · {} failed check{} · {} warned</div>\n</div>\n</header>\n",
        class.to_uppercase(),
        failed_runs,
        report.runs.len(),
        plural(report.runs.len() as u64),
        report.fail_on.as_str(),
        if report.fail_on == smtp_conformance::Level::Must {
            " (warnings do not)"
        } else {
            ", warnings included"
        },
        sessions,
        plural(sessions as u64),
        failed,
        plural(failed),
        warned,
    );
}

fn render_run(out: &mut String, run: &RunResult, number: usize) {
    let id = format!("r{number}");
    let class = run.verdict.as_str();
    let _ = write!(
        out,
        "<section class=\"run\" id=\"{id}\">\n<h2><span class=\"badge {class}\">{}</span> scenario <code>{}</code></h2>\n",
        class.to_uppercase(),
        escape(&run.scenario)
    );
    if let Some(description) = &run.description {
        let _ = writeln!(out, "<p class=\"desc\">{}</p>", escape(description));
    }
    out.push_str("<div class=\"facts\">\n");
    match &run.client {
        Some(client) => render_client(out, client),
        None => out.push_str(
            "<div class=\"fact wide\"><span class=\"k\">client</span><span class=\"v muted\">no client command (the server's own sessions)</span></div>\n",
        ),
    }
    let _ = write!(
        out,
        "<div class=\"fact\"><span class=\"k\">sessions</span><span class=\"v\">"
    );
    if run.sessions.is_empty() {
        out.push_str("<span class=\"bad\">none: the client never connected</span>");
    }
    for session in &run.sessions {
        let v = session.verdict.as_str();
        let _ = write!(
            out,
            "<a class=\"chip {v}\" href=\"#{id}-s{}\">#{} {} · {}</a> ",
            session.id,
            session.id,
            escape(&session.listener),
            v
        );
    }
    out.push_str("</span></div>\n</div>\n");
    render_expectations(out, &run.expectations);
    for session in &run.sessions {
        render_session(out, session, &format!("{id}-s{}", session.id));
    }
    out.push_str("</section>\n");
}

fn render_client(out: &mut String, client: &ClientResult) {
    let (ended, class) = match (client.timed_out, client.exit_code, client.signal) {
        (true, _, _) => ("killed at the timeout".to_owned(), "bad"),
        (false, Some(0), _) => ("exit code 0".to_owned(), "good"),
        (false, Some(code), _) => (format!("exit code {code}"), "bad"),
        (false, None, Some(signal)) => (format!("killed by signal {signal}"), "bad"),
        (false, None, None) => ("ended".to_owned(), "muted"),
    };
    let _ = write!(
        out,
        "<div class=\"fact wide\"><span class=\"k\">client</span><code class=\"v cmd\">{}</code></div>\n\
<div class=\"fact\"><span class=\"k\">exit</span><span class=\"v {class}\">{ended}</span></div>\n\
<div class=\"fact\"><span class=\"k\">duration</span><span class=\"v\">{}</span></div>\n",
        escape(&shell_words(&client.command)),
        duration_ms(client.duration_ms),
    );
}

fn render_expectations(out: &mut String, expectations: &[ExpectationResult]) {
    if expectations.is_empty() {
        out.push_str("<p class=\"muted small\">No expectations were set for this run.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"expect\">\n<thead><tr><th>expected</th><th>result</th><th>found</th></tr></thead>\n<tbody>\n",
    );
    for e in expectations {
        let v = e.status.as_str();
        let _ = writeln!(
            out,
            "<tr class=\"{v}\"><td><code>{}</code></td><td><span class=\"badge {v}\">{}</span></td><td>{}</td></tr>",
            escape(&e.what),
            v.to_uppercase(),
            escape(&e.detail)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

// ---- a session ----------------------------------------------------------------------------

fn render_session(out: &mut String, session: &SessionResult, id: &str) {
    let v = session.verdict.as_str();
    let close = session
        .close_reason
        .map(|r| close_reason(r).to_owned())
        .unwrap_or_else(|| "still open".to_owned());
    let _ = write!(
        out,
        "<section class=\"session {v}\" id=\"{id}\">\n<h3><span class=\"badge {v}\">{}</span> session {} <span class=\"sub\">from {} on <b>{}</b> · {} · {} · {} message{}</span></h3>\n",
        v.to_uppercase(),
        session.id,
        escape(&session.peer),
        escape(&session.listener),
        duration_ms(session.duration_ms),
        escape(&close),
        session.message_count,
        plural(session.message_count),
    );
    let entries: Vec<&Entry> = session.transcript.entries().collect();
    let marks = Marks::collect(session, &entries);
    render_diagram(out, session, &entries, &marks, id);
    render_counts(out, session);
    render_problems(out, session, &marks, id);
    render_others(out, session);
    out.push_str("</section>\n");
}

fn render_counts(out: &mut String, session: &SessionResult) {
    let c = session.counts;
    let _ = writeln!(
        out,
        "<div class=\"counts\"><span class=\"k\">checks</span><span class=\"count fail\"><b>{}</b> failed</span><span class=\"count warn\"><b>{}</b> warned</span><span class=\"count pass\"><b>{}</b> passed</span><span class=\"count na\"><b>{}</b> not applicable</span></div>",
        c.fail, c.warn, c.pass, c.not_applicable
    );
}

/// One failed or warned finding, placed in the diagram.
struct Mark<'a> {
    check: &'a CheckResult,
    evidence: &'a Evidence,
}

/// Where each finding goes: beside a transcript entry, under a message's content arrow, or
/// with the session as a whole.
struct Marks<'a> {
    /// Per entry index: the findings beside it.
    at_entry: Vec<Vec<Mark<'a>>>,
    /// Per entry index: the message findings under it (a content arrow).
    in_message: Vec<Vec<Mark<'a>>>,
    /// Findings about the session as a whole, or whose line was not kept.
    session: Vec<Mark<'a>>,
    /// The entry each message's findings went to, by message id.
    message_entry: Vec<(String, usize)>,
}

impl<'a> Marks<'a> {
    fn collect(session: &'a SessionResult, entries: &[&Entry]) -> Marks<'a> {
        let mut marks = Marks {
            at_entry: entries.iter().map(|_| Vec::new()).collect(),
            in_message: entries.iter().map(|_| Vec::new()).collect(),
            session: Vec::new(),
            message_entry: Vec::new(),
        };
        // Each stored message's content arrow: the last content before its `Stored` entry.
        let mut last_content = None;
        for (index, entry) in entries.iter().enumerate() {
            match &entry.event {
                Event::Content { .. } => last_content = Some(index),
                Event::Stored { id } => {
                    marks
                        .message_entry
                        .push((id.clone(), last_content.unwrap_or(index)));
                    last_content = None;
                }
                _ => {}
            }
        }
        for check in session.problems() {
            for evidence in &check.evidence {
                let mark = Mark { check, evidence };
                match &evidence.location {
                    Location::Entry { entry } if *entry < entries.len() => {
                        marks.at_entry[*entry].push(mark);
                    }
                    Location::Message { .. } => {
                        let at = evidence.message.as_deref().and_then(|id| {
                            marks
                                .message_entry
                                .iter()
                                .find(|(m, _)| m == id)
                                .map(|(_, at)| *at)
                        });
                        match at {
                            Some(at) => marks.in_message[at].push(mark),
                            None => marks.session.push(mark),
                        }
                    }
                    _ => marks.session.push(mark),
                }
            }
        }
        marks
    }

    fn message_entry(&self, id: &str) -> Option<usize> {
        self.message_entry
            .iter()
            .find(|(m, _)| m == id)
            .map(|(_, at)| *at)
    }
}

/// What the diagram needs to know of each entry beyond its event: the bands it is in, and
/// whether a client line is a SASL response.
#[derive(Clone, Copy, Default)]
struct Phase {
    tls: bool,
    auth: bool,
    /// The first entry of a TLS or AUTH band (its label goes there).
    tls_starts: bool,
    auth_starts: bool,
    sasl_response: bool,
}

/// A command waiting for its reply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pending {
    StartTls,
    Auth,
    Data,
    Other,
}

/// Replays the transcript to find the bands: commands queue for their replies in order (so
/// pipelined groups pair up), STARTTLS answered 220 opens TLS, AUTH opens an exchange that
/// its final (not 334) reply closes; client lines after a 334 are SASL responses.
fn phases(entries: &[&Entry]) -> Vec<Phase> {
    let mut out = Vec::with_capacity(entries.len());
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let (mut tls, mut auth, mut sasl_expected) = (false, false, false);
    let (mut content_expected, mut content_early) = (false, false);
    for entry in entries {
        let mut phase = Phase::default();
        match &entry.event {
            Event::Client { line, .. } => {
                if sasl_expected {
                    phase.sasl_response = true;
                    sasl_expected = false;
                } else {
                    let verb = line
                        .split(' ')
                        .next()
                        .unwrap_or_default()
                        .to_ascii_uppercase();
                    let kind = match verb.as_str() {
                        "STARTTLS" => Pending::StartTls,
                        "AUTH" => Pending::Auth,
                        "DATA" => Pending::Data,
                        _ => Pending::Other,
                    };
                    if kind == Pending::Auth && !auth {
                        auth = true;
                        phase.auth_starts = true;
                    }
                    pending.push_back(kind);
                }
            }
            Event::Content { .. } => {
                // The end of DATA content gets a reply of its own (a BDAT chunk's reply is
                // its command's). Content sent before the 354 came is answered after it.
                if content_expected {
                    pending.push_back(Pending::Other);
                    content_expected = false;
                } else if pending.contains(&Pending::Data) {
                    pending.push_back(Pending::Other);
                    content_early = true;
                }
            }
            Event::Server { text } => {
                let code = reply_code(text);
                match pending.front().copied() {
                    Some(Pending::Auth) if code == Some(334) => sasl_expected = true,
                    Some(kind) => {
                        pending.pop_front();
                        match kind {
                            Pending::Auth => {
                                // This reply closes the exchange, and is still in its band.
                                phase.auth = true;
                                auth = false;
                                sasl_expected = false;
                            }
                            Pending::StartTls if code == Some(220) && !tls => {
                                tls = true;
                                phase.tls_starts = true;
                            }
                            Pending::Data if code == Some(354) => {
                                content_expected = !content_early;
                                content_early = false;
                            }
                            _ => {}
                        }
                    }
                    None => {}
                }
            }
            Event::TlsEstablished { .. } => {
                if !tls {
                    tls = true;
                    phase.tls_starts = true;
                }
                // What the client sent in the clear before the handshake is discarded.
                pending.clear();
                sasl_expected = false;
                content_expected = false;
                content_early = false;
            }
            _ => {}
        }
        phase.tls |= tls;
        phase.auth |= auth;
        out.push(phase);
    }
    out
}

/// The code of a reply (its last line's), if it has one.
fn reply_code(text: &str) -> Option<u16> {
    let last = text.rsplit("\r\n").next().unwrap_or(text);
    last.get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse().ok())
}

fn render_diagram(
    out: &mut String,
    session: &SessionResult,
    entries: &[&Entry],
    marks: &Marks<'_>,
    id: &str,
) {
    let phases = phases(entries);
    let omitted = session.transcript.omitted();
    let _ = write!(
        out,
        "<details class=\"diagram\" open>\n<summary>Sequence diagram <span class=\"muted\">({} entr{}{})</span>\
<span class=\"legend\"><span class=\"sw c2s\"></span>client <span class=\"sw s2c\"></span>server <span class=\"sw content\"></span>message content \
<span class=\"sw band-tls\"></span>TLS <span class=\"sw band-auth\"></span>AUTH</span></summary>\n\
<div class=\"seq\">\n<div class=\"r head\"><div class=\"t\">time</div><div class=\"lane\"><span class=\"actor\">client<small>{}</small></span><span class=\"actor\">server<small>{}</small></span></div><div class=\"side\">findings and notes</div></div>\n",
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" },
        if omitted > 0 {
            format!(", {omitted} more omitted")
        } else {
            String::new()
        },
        escape(&session.peer),
        escape(&session.listener),
    );
    let omitted_at = session.transcript.omitted_at();
    for (index, entry) in entries.iter().enumerate() {
        let phase = phases.get(index).copied().unwrap_or_default();
        if Some(index) == omitted_at {
            let mut row = Row::new(phase, String::new());
            row.kind = "ev";
            row.lane = format!(
                "<span class=\"pill gap\">… {omitted} entries omitted here (the transcript keeps the first and the last) …</span>"
            );
            row.write(out);
        }
        render_entry(out, entry, index, phase, marks, id);
    }
    if !marks.session.is_empty() {
        let mut row = Row::new(Phase::default(), String::new());
        row.kind = "ev";
        row.lane = "<span class=\"pill\">the session as a whole</span>".to_owned();
        row.status = worst(&marks.session);
        row.side = side_marks(&marks.session);
        row.write(out);
    }
    out.push_str("</div>\n</details>\n");
}

/// One line of the diagram: time, lane, side.
struct Row {
    /// The anchor of the entry's first row, and the entry's index.
    id: String,
    line: Option<usize>,
    kind: &'static str,
    phase: Phase,
    status: Option<Status>,
    extra: &'static str,
    time: String,
    lane: String,
    side: String,
}

impl Row {
    fn new(phase: Phase, time: String) -> Row {
        Row {
            id: String::new(),
            line: None,
            kind: "",
            phase,
            status: None,
            extra: "",
            time,
            lane: String::new(),
            side: String::new(),
        }
    }

    fn write(&self, out: &mut String) {
        out.push_str("<div class=\"r");
        for class in [self.kind, self.extra] {
            if !class.is_empty() {
                out.push(' ');
                out.push_str(class);
            }
        }
        if self.phase.tls {
            out.push_str(" tls");
        }
        if self.phase.auth {
            out.push_str(" auth");
        }
        match self.status {
            Some(Status::Fail) => out.push_str(" fail"),
            Some(Status::Warn) => out.push_str(" warn"),
            _ => {}
        }
        out.push('"');
        if let Some(line) = self.line {
            let _ = write!(out, " id=\"{}\" title=\"line {}\"", self.id, line + 1);
        }
        out.push_str("><div class=\"t\">");
        out.push_str(&self.time);
        out.push_str("</div><div class=\"lane\">");
        if self.phase.tls_starts {
            out.push_str("<span class=\"band-tag tls-tag\">TLS</span>");
        }
        if self.phase.auth_starts {
            out.push_str("<span class=\"band-tag auth-tag\">AUTH</span>");
        }
        out.push_str(&self.lane);
        out.push_str("</div><div class=\"side\">");
        out.push_str(&self.side);
        out.push_str("</div></div>\n");
    }
}

fn render_entry(
    out: &mut String,
    entry: &Entry,
    index: usize,
    phase: Phase,
    marks: &Marks<'_>,
    id: &str,
) {
    let here = &marks.at_entry[index];
    let in_message = &marks.in_message[index];
    let mut row = Row::new(phase, time_us(entry.at_us));
    row.id = format!("{id}-e{index}");
    row.line = Some(index);
    row.status = worst(here).max(worst(in_message));
    row.side = side_marks(here);
    match &entry.event {
        Event::Client { line, meta } => {
            let (kind, tag) = if phase.sasl_response {
                ("c2s sasl", "<span class=\"tag\">SASL response</span>")
            } else {
                ("c2s", "")
            };
            row.kind = kind;
            row.lane = arrow(&format!(
                "{tag}<span class=\"txt\">{}</span>{}",
                escape(line),
                line_tags(meta)
            ));
        }
        Event::Server { text } => {
            // Every line of a reply is an arrow of its own; the findings go beside the first.
            let mut lines = text.split("\r\n").peekable();
            let mut first = true;
            while let Some(line) = lines.next() {
                row.kind = "s2c";
                row.extra = if first { "" } else { "cont" };
                row.lane = arrow(&reply_line(line));
                if lines.peek().is_none() {
                    // The last line ends the entry; earlier ones were written already.
                    break;
                }
                row.write(out);
                row.line = None;
                row.time.clear();
                row.side.clear();
                row.status = None;
                row.phase.tls_starts = false;
                row.phase.auth_starts = false;
                first = false;
            }
        }
        Event::ServerRaw { bytes } => {
            row.kind = "s2c raw";
            row.lane = arrow(&format!(
                "<span class=\"tag bad\">not a reply</span><span class=\"txt\">{}</span>",
                escape(bytes)
            ));
        }
        Event::Content {
            octets,
            summary,
            pipelined,
            report,
        } => {
            row.kind = "c2s content";
            let mut label = format!(
                "<span class=\"tag\">message content</span><span class=\"txt\"><b>{}</b> octets</span>",
                thousands(*octets)
            );
            if let Some(rest) = summary.split_once(", ").map(|(_, rest)| rest) {
                let _ = write!(label, " <span class=\"muted\">· {}</span>", escape(rest));
            }
            if *pipelined {
                label.push_str("<span class=\"tag\">pipelined</span>");
            }
            if let Some(report) = report {
                content_tags(&mut label, report);
            }
            let mut lane = arrow(&label);
            if !in_message.is_empty() {
                lane.push_str("<ul class=\"mf\">");
                for mark in in_message {
                    let offset = match mark.evidence.location {
                        Location::Message { offset } => thousands(offset),
                        _ => "?".to_owned(),
                    };
                    let _ = write!(
                        lane,
                        "<li class=\"{}\">{} <span class=\"at\">octet {offset}</span> {}",
                        mark.evidence.status.as_str(),
                        check_label(mark.check, mark.evidence.status),
                        escape(&mark.evidence.detail)
                    );
                    if !mark.evidence.octets.is_empty() {
                        let _ = write!(lane, " <code>{}</code>", escape(&mark.evidence.octets));
                    }
                    lane.push_str("</li>");
                }
                lane.push_str("</ul>");
            }
            row.lane = lane;
        }
        Event::Connected {
            peer,
            local,
            listener,
        } => {
            row.kind = "ev";
            row.lane = format!(
                "<span class=\"pill\">connected {} → {}{}</span>",
                escape(peer),
                escape(local),
                listener
                    .as_deref()
                    .map(|l| format!(" ({})", escape(l)))
                    .unwrap_or_default()
            );
        }
        Event::TlsEstablished {
            version,
            cipher,
            sni,
        } => {
            row.kind = "ev";
            row.lane = format!(
                "<span class=\"pill tls-pill\">TLS established · {} · {}{}</span>",
                escape(version),
                escape(cipher),
                sni.as_deref()
                    .map(|s| format!(" · SNI {}", escape(s)))
                    .unwrap_or_default()
            );
        }
        Event::Note { check, text } => {
            row.kind = "ev note";
            let mut side = String::from("<div class=\"n\"><span class=\"tag\">note</span>");
            if let Some(check) = check {
                let _ = write!(side, "{} ", check_link(check));
            }
            let _ = write!(side, "{}</div>", escape(text));
            side.push_str(&row.side);
            row.side = side;
            row.lane = "<span class=\"note-dot\"></span>".to_owned();
        }
        Event::Stored { id: message } => {
            row.kind = "ev";
            row.lane = format!(
                "<span class=\"pill stored\">stored as <code>{}</code></span>",
                escape(message)
            );
        }
        Event::Closed { reason } => {
            row.kind = "ev";
            row.lane = format!(
                "<span class=\"pill\">closed: {}</span>",
                close_reason(*reason)
            );
        }
    }
    row.write(out);
}

/// An arrow with its label above it; the direction comes from the row's class.
fn arrow(label: &str) -> String {
    format!("<div class=\"msg\"><div class=\"lbl\">{label}</div><div class=\"ln\"></div></div>")
}

/// A reply line with its code coloured by class (2yz, 3yz, 4yz, 5yz).
fn reply_line(line: &str) -> String {
    let code = line
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()));
    match code {
        Some(code) => format!(
            "<span class=\"txt\"><b class=\"k{}\">{code}</b>{}</span>",
            &code[..1],
            escape(&line[3..])
        ),
        None => format!("<span class=\"txt\">{}</span>", escape(line)),
    }
}

fn line_tags(meta: &LineMeta) -> String {
    let mut tags = String::new();
    if meta.pipelined {
        tags.push_str("<span class=\"tag\">pipelined</span>");
    }
    if meta.bare_lf {
        tags.push_str("<span class=\"tag bad\">bare LF</span>");
    }
    if let Some(octets) = meta.octets {
        let _ = write!(
            tags,
            "<span class=\"tag\">{} octets in all</span>",
            thousands(octets)
        );
    }
    tags
}

fn content_tags(label: &mut String, report: &ContentReport) {
    if report.eight_bit {
        label.push_str("<span class=\"tag\">8-bit</span>");
    }
    if report.nul {
        label.push_str("<span class=\"tag bad\">NUL</span>");
    }
    if report.bare_cr > 0 {
        let _ = write!(
            label,
            "<span class=\"tag bad\">bare CR ×{}</span>",
            report.bare_cr
        );
    }
    if report.bare_lf > 0 {
        let _ = write!(
            label,
            "<span class=\"tag bad\">bare LF ×{}</span>",
            report.bare_lf
        );
    }
    if report.long_lines > 0 {
        let _ = write!(
            label,
            "<span class=\"tag bad\">{} line{} over 998</span>",
            report.long_lines,
            plural(report.long_lines)
        );
    }
    if !report.lookalikes.is_empty() {
        let _ = write!(
            label,
            "<span class=\"tag bad\">{} end-of-data look-alike{}</span>",
            report.lookalikes.len(),
            plural(report.lookalikes.len() as u64)
        );
    }
}

/// The findings beside a line.
fn side_marks(marks: &[Mark<'_>]) -> String {
    let mut side = String::new();
    for mark in marks {
        let _ = write!(
            side,
            "<div class=\"f {}\">{}<div class=\"d\">{}</div></div>",
            mark.evidence.status.as_str(),
            check_label(mark.check, mark.evidence.status),
            escape(&mark.evidence.detail)
        );
    }
    side
}

/// `FAIL C-…-… must`, the ID linked to its row in docs/checks.md.
fn check_label(check: &CheckResult, status: Status) -> String {
    format!(
        "<span class=\"st {}\">{}</span> {} <span class=\"lv\">{}</span>",
        status.as_str(),
        status_word(status),
        check_link(check.id),
        check.level.as_str()
    )
}

fn check_link(id: &str) -> String {
    let id = escape(id);
    format!("<a class=\"id\" href=\"{CHECKS_DOC}#{id}\">{id}</a>")
}

fn worst(marks: &[Mark<'_>]) -> Option<Status> {
    marks.iter().map(|m| m.evidence.status).max()
}

// ---- below the diagram: the table of problems, the other checks -----------------------------

fn render_problems(out: &mut String, session: &SessionResult, marks: &Marks<'_>, id: &str) {
    let problems: Vec<&CheckResult> = session.problems().collect();
    if problems.is_empty() {
        out.push_str("<p class=\"clean\">No check failed or warned in this session.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"problems\">\n<thead><tr><th>check</th><th>status</th><th>level</th><th>findings</th></tr></thead>\n<tbody>\n",
    );
    for check in problems {
        let s = check.status.as_str();
        let _ = write!(
            out,
            "<tr class=\"{s}\"><td>{}</td><td><span class=\"st {s}\">{}</span></td><td><span class=\"lv\">{}</span></td><td><ul class=\"ev\">",
            check_link(check.id),
            status_word(check.status),
            check.level.as_str()
        );
        for evidence in &check.evidence {
            out.push_str("<li>");
            match &evidence.location {
                Location::Entry { entry } => {
                    let _ = write!(
                        out,
                        "<a class=\"at\" href=\"#{id}-e{entry}\">line {}</a> ",
                        entry + 1
                    );
                }
                Location::Message { offset } => {
                    let message = evidence.message.as_deref().unwrap_or("?");
                    let target = marks.message_entry(message);
                    let place =
                        format!("message {}, octet {}", escape(message), thousands(*offset));
                    match target {
                        Some(at) => {
                            let _ =
                                write!(out, "<a class=\"at\" href=\"#{id}-e{at}\">{place}</a> ");
                        }
                        None => {
                            let _ = write!(out, "<span class=\"at\">{place}</span> ");
                        }
                    }
                }
                Location::Session => out.push_str("<span class=\"at\">session</span> "),
            }
            out.push_str(&escape(&evidence.detail));
            if !evidence.octets.is_empty() {
                let _ = write!(out, " <code>{}</code>", escape(&evidence.octets));
            }
            out.push_str("</li>");
        }
        if check.more > 0 {
            let _ = write!(
                out,
                "<li class=\"muted\">… and {} more finding{}</li>",
                check.more,
                plural(u64::from(check.more))
            );
        }
        out.push_str("</ul></td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn render_others(out: &mut String, session: &SessionResult) {
    let passed: Vec<&CheckResult> = session
        .checks
        .iter()
        .filter(|c| c.status == Status::Pass)
        .collect();
    let skipped: Vec<&CheckResult> = session
        .checks
        .iter()
        .filter(|c| c.status == Status::NotApplicable)
        .collect();
    let _ = write!(
        out,
        "<details class=\"more\"><summary>{} passed check{}</summary><ul class=\"ids\">",
        passed.len(),
        plural(passed.len() as u64)
    );
    for check in &passed {
        let _ = write!(
            out,
            "<li>{} <span class=\"lv\">{}</span></li>",
            check_link(check.id),
            check.level.as_str()
        );
    }
    out.push_str("</ul></details>\n");
    let _ = write!(
        out,
        "<details class=\"more\"><summary>{} check{} not applicable</summary><table class=\"na\"><tbody>",
        skipped.len(),
        plural(skipped.len() as u64)
    );
    for check in &skipped {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><span class=\"lv\">{}</span></td><td>{}</td></tr>",
            check_link(check.id),
            check.level.as_str(),
            escape(check.why.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</tbody></table></details>\n");
}

// ---- small helpers ------------------------------------------------------------------------

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Fail => "FAIL",
        Status::Warn => "WARN",
        Status::Pass => "PASS",
        Status::NotApplicable => "N/A",
    }
}

fn close_reason(reason: smtp_protocol::transcript::CloseReason) -> &'static str {
    use smtp_protocol::transcript::CloseReason as C;
    match reason {
        C::Quit => "quit",
        C::PeerClosed => "the client closed without QUIT",
        C::Timeout => "timeout",
        C::Shutdown => "server shutdown",
        C::TooManyConnections => "too many connections",
        C::Policy => "closed by the scenario",
        C::Error => "network or TLS error",
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A time offset: `0.412 ms`, `87.3 ms`, `2.104 s`.
fn time_us(us: u64) -> String {
    if us < 10_000 {
        format!("{}.{:03} ms", us / 1000, us % 1000)
    } else if us < 1_000_000 {
        format!("{}.{} ms", us / 1000, (us % 1000) / 100)
    } else {
        format!("{}.{:03} s", us / 1_000_000, (us % 1_000_000) / 1000)
    }
}

/// A duration: `87 ms`, `2.104 s`.
fn duration_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{}.{:03} s", ms / 1000, ms % 1000)
    }
}

/// A command line as a shell would need it: words with anything but safe characters in
/// single quotes.
fn shell_words(words: &[String]) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    words
        .iter()
        .map(|w| {
            if !w.is_empty() && w.chars().all(safe) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Escapes text for HTML element content and (double- or single-quoted) attribute values.
/// Control characters, which HTML cannot show, and the invisible characters that reorder or
/// hide text (bidirectional overrides, zero-width characters) are shown as `\xNN` / `\u{NNNN}`
/// so that a transcript reads as what was sent.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fffe}'
            | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{--fail:#c62828;--fail-bg:#fdecea;--warn:#a15c00;--warn-bg:#fff4e0;--pass:#2e7d32;--pass-bg:#e8f5e9;--na:#6b7280;
--ink:#1f2933;--muted:#6b7280;--line:#e3e7ec;--life:#9aa5b1;--c2s:#1d4ed8;--s2c:#4b5563;--content:#7c3aed;
--tls:#e3f2fd;--auth:#fff3c4;--mono:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
*{box-sizing:border-box}
html{background:#f4f6f8}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans",Roboto,sans-serif;color:var(--ink)}
code{font-family:var(--mono);font-size:.92em}
a{color:#1558b0}
.muted{color:var(--muted)}.small{font-size:12px}.bad{color:var(--fail)}.good{color:var(--pass)}
header.top{display:flex;align-items:center;gap:28px;padding:18px 32px;color:#fff}
header.top.fail{background:linear-gradient(90deg,#b71c1c,#d84315)}
header.top.pass{background:linear-gradient(90deg,#1b5e20,#2e7d32)}
.verdict{font-size:56px;font-weight:800;letter-spacing:.06em;line-height:1}
.summary{font-size:14px;opacity:.95}.summary .line1{font-size:18px;font-weight:600}
.summary .level{background:rgba(255,255,255,.2);padding:0 6px;border-radius:4px}
main{max-width:1320px;margin:0 auto;padding:8px 24px 24px}
footer{max-width:1320px;margin:0 auto;padding:0 24px 24px;color:var(--muted);font-size:12px}
section.run{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 20px;margin:16px 0;box-shadow:0 1px 2px rgba(0,0,0,.04)}
h2{font-size:19px;margin:0 0 6px}h3{font-size:16px;margin:0 0 6px}
h3 .sub{font-weight:400;color:var(--muted);font-size:13px}
.desc{margin:0 0 8px;color:var(--muted)}
.badge{display:inline-block;font-size:11px;font-weight:700;letter-spacing:.05em;padding:2px 8px;border-radius:999px;vertical-align:2px}
.badge.fail{background:var(--fail);color:#fff}.badge.pass{background:var(--pass);color:#fff}
.facts{display:flex;flex-wrap:wrap;gap:4px 32px;margin:6px 0 10px}
.fact{display:flex;gap:8px;align-items:baseline}.fact.wide{flex-basis:100%}.fact .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.cmd{background:#f1f3f5;padding:1px 6px;border-radius:4px;overflow-wrap:anywhere}
.chip{display:inline-block;font-size:12px;padding:0 8px;border-radius:999px;text-decoration:none;margin-right:4px}
.chip.fail{background:var(--fail-bg);color:var(--fail)}.chip.pass{background:var(--pass-bg);color:var(--pass)}
table{border-collapse:collapse;width:100%}
th{text-align:left;font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);padding:4px 8px}
td{border-bottom:1px solid var(--line);padding:5px 8px;vertical-align:top}
table.expect{margin:4px 0 12px}table.expect tr.fail td{background:var(--fail-bg)}
section.session{border-top:1px solid var(--line);margin-top:14px;padding-top:12px}
.counts{display:flex;gap:8px;margin:12px 0 4px;flex-wrap:wrap;align-items:baseline}.counts .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em;margin-right:2px}
.count{font-size:12px;padding:2px 10px;border-radius:999px;background:#f1f3f5;color:var(--muted)}
.count.fail{background:var(--fail-bg);color:var(--fail)}.count.warn{background:var(--warn-bg);color:var(--warn)}
.count.pass{background:var(--pass-bg);color:var(--pass)}
details>summary{cursor:pointer;font-weight:600;padding:4px 0}
details.diagram>summary{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.legend{font-weight:400;font-size:12px;color:var(--muted);margin-left:auto}
.sw{display:inline-block;width:14px;height:10px;border-radius:2px;margin:0 3px 0 10px;vertical-align:0}
.sw.c2s{background:var(--c2s)}.sw.s2c{background:var(--s2c)}.sw.content{background:var(--content)}
.sw.band-tls{background:var(--tls);border:1px solid #90caf9}.sw.band-auth{background:var(--auth);border:1px solid #e6c200}
.seq{border:1px solid var(--line);border-radius:8px;overflow:clip}
.r{display:grid;grid-template-columns:76px minmax(0,1fr) 330px;min-height:22px;scroll-margin-top:44px}
.r:target>.lane,.r:target>.t{background:#fff59d}.r:target>.side{background:#fffbd0}
.r>.t{font:11px/1 var(--mono);color:var(--muted);text-align:right;padding:7px 8px 0 0;white-space:nowrap}
.r>.lane{position:relative;padding:0 60px}
.r>.lane::before,.r>.lane::after{content:"";position:absolute;top:0;bottom:0;width:2px;background:var(--life)}
.r>.lane::before{left:51px}.r>.lane::after{right:51px}
.r>.side{padding:2px 10px;border-left:1px solid var(--line);font-size:12px;min-width:0}
.r.tls>.lane{background:var(--tls)}.r.auth>.lane{background:var(--auth)}
.r.tls.auth>.lane{background:linear-gradient(90deg,var(--tls) 0 26px,var(--auth) 26px calc(100% - 26px),var(--tls) calc(100% - 26px))}
.band-tag{position:absolute;left:3px;top:3px;font:700 9px/1 system-ui,"DejaVu Sans",sans-serif;letter-spacing:.05em;padding:2px 3px;border-radius:3px;z-index:1}
.tls-tag{background:#1565c0;color:#fff}.auth-tag{background:#b38600;color:#fff;top:15px}
.r.head{position:sticky;top:0;z-index:3;background:#fafbfc;border-bottom:1px solid var(--line);min-height:34px}
.r.head>.t,.r.head>.side{font:600 11px/1 system-ui,"DejaVu Sans",sans-serif;text-transform:uppercase;letter-spacing:.04em;padding-top:12px}
.r.head>.lane{display:flex;justify-content:space-between;align-items:center;padding:4px 0}
.r.head>.lane::before,.r.head>.lane::after{top:28px}
.actor{position:relative;z-index:1;width:104px;text-align:center;background:#fff;border:1.5px solid var(--life);border-radius:6px;font-weight:700;font-size:12px;line-height:1.15;padding:2px 0}
.actor small{display:block;font-weight:400;color:var(--muted);font-size:10px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding:0 4px}
.msg{padding:3px 2px 4px}
.lbl{font:12.5px/1.35 var(--mono);white-space:pre-wrap;overflow-wrap:anywhere}
.ln{position:relative;height:0;border-top:1.5px solid;margin:2px 0 0}
.ln::after{content:"";position:absolute;top:-5.75px;border:5px solid transparent}
.c2s .ln{color:var(--c2s);border-color:var(--c2s)}.c2s .ln::after{right:-2px;border-left:9px solid var(--c2s);border-right:0}
.s2c .lbl{text-align:right}.s2c .ln{border-color:var(--s2c)}.s2c .ln::after{left:-2px;border-right:9px solid var(--s2c);border-left:0}
.c2s .txt{color:#16307a}
.r.cont .msg{padding-top:0}
.sasl .ln{border-top-style:dashed}.raw .ln{border-top-style:dashed;border-color:var(--fail)}.raw .ln::after{border-right-color:var(--fail)}
.content .ln{border-top-width:3px;border-color:var(--content)}.content .ln::after{border-left-color:var(--content);top:-6.5px}
.content .txt{color:var(--content)}
.k2{color:var(--pass)}.k3{color:#1565c0}.k4{color:var(--warn)}.k5{color:var(--fail)}
.tag{display:inline-block;font:600 10px/1.5 system-ui,"DejaVu Sans",sans-serif;padding:0 6px;margin:0 6px 0 0;border-radius:3px;background:#eef1f5;color:#475467;vertical-align:1px}
.txt+.tag{margin:0 0 0 6px}
.tag.bad{background:var(--fail-bg);color:var(--fail)}
.r.ev>.lane{display:flex;justify-content:center;align-items:center;padding-top:3px;padding-bottom:3px}
.pill{position:relative;z-index:1;font-size:11.5px;background:#fff;border:1px solid #cfd6de;border-radius:999px;padding:1px 12px;color:#475467}
.pill.tls-pill{border-color:#90caf9;color:#0d47a1}.pill.stored{border-color:#a5d6a7;color:var(--pass)}.pill.gap{border-style:dashed}
.note-dot{position:absolute;right:47px;top:7px;width:10px;height:10px;border-radius:50%;background:#fff;border:2px solid var(--life)}
.n{color:#475467;padding:3px 0}.n .tag{background:#eceff3}
.r.fail>.t{box-shadow:inset 4px 0 0 var(--fail)}.r.warn>.t{box-shadow:inset 4px 0 0 #f0a020}
.r.fail .c2s .txt,.r.fail.c2s .txt{color:var(--fail)}
.r.fail.c2s .ln{border-color:var(--fail)}.r.fail.c2s .ln::after{border-left-color:var(--fail)}
.r.fail>.side{background:var(--fail-bg)}.r.warn>.side{background:var(--warn-bg)}
.f{padding:3px 0}.f .d{color:#344054}
.st{font:700 10px/1.5 system-ui,"DejaVu Sans",sans-serif;padding:0 5px;border-radius:3px;color:#fff;background:var(--na)}
.st.fail{background:var(--fail)}.st.warn{background:#d98200}.st.pass{background:var(--pass)}
.lv{font-size:11px;color:var(--muted);font-style:italic}
a.id{font-family:var(--mono);font-size:12px;font-weight:600;color:#0b4f9c;text-decoration:none;border-bottom:1px dotted}
a.id:hover{text-decoration:underline}
ul.mf{list-style:none;margin:2px 0 6px;padding:6px 8px;background:#fff;border:1px solid #f3c1bd;border-left:3px solid var(--fail);border-radius:4px;font-size:12px}
ul.mf li{padding:1px 0}ul.mf li.warn{border-color:#f0a020}
.at{font-family:var(--mono);font-size:11px;color:var(--muted);margin-right:4px}
a.at{color:#1558b0}
table.problems{margin:4px 0 4px}table.problems td:first-child{white-space:nowrap}
table.problems tr.fail td:first-child{box-shadow:inset 3px 0 0 var(--fail)}table.problems tr.warn td:first-child{box-shadow:inset 3px 0 0 #f0a020}
ul.ev{margin:0;padding:0;list-style:none}ul.ev li{padding:1px 0}
ul.ev code,ul.mf code{background:#f6f7f9;padding:0 4px;border-radius:3px;overflow-wrap:anywhere}
.clean{color:var(--pass);margin:8px 0}
details.more{margin:2px 0}details.more>summary{font-weight:500;color:#475467;font-size:13px}
ul.ids{columns:3 260px;margin:4px 0 8px;padding-left:18px;font-size:12px}
table.na td{font-size:12px;padding:2px 8px}
@media (max-width:900px){.r{grid-template-columns:60px minmax(0,1fr) 180px}}
"#;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use smtp_conformance::{Counts, Level};
    use smtp_protocol::transcript::{CloseReason, Transcript};

    use super::super::Verdict;
    use super::*;

    #[test]
    fn escapes_markup_controls_and_invisible_characters() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("a\0b\x1b\u{85}"), "a\\x00b\\x1b\\x85");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("Café"), "Café");
    }

    #[test]
    fn formats_numbers_and_times() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(time_us(412), "0.412 ms");
        assert_eq!(time_us(87_345), "87.3 ms");
        assert_eq!(time_us(2_104_000), "2.104 s");
        assert_eq!(duration_ms(87), "87 ms");
        assert_eq!(duration_ms(2104), "2.104 s");
    }

    #[test]
    fn quotes_command_words() {
        let words = ["python3", "send.py", "--subject", "it's here", ""].map(String::from);
        assert_eq!(
            shell_words(&words),
            "python3 send.py --subject 'it'\\''s here' ''"
        );
    }

    fn session(transcript: Transcript, checks: Vec<CheckResult>) -> SessionResult {
        SessionResult {
            id: 7,
            listener: "submission".into(),
            peer: "127.0.0.1:40000".into(),
            duration_ms: 12,
            close_reason: Some(CloseReason::Quit),
            message_count: 0,
            messages: Vec::new(),
            verdict: Verdict::Fail,
            counts: Counts {
                fail: 1,
                ..Counts::default()
            },
            checks,
            transcript,
        }
    }

    fn report(session: SessionResult) -> RunReport {
        RunReport {
            format: super::super::FORMAT,
            verdict: Verdict::Fail,
            fail_on: Level::Must,
            runs: vec![RunResult {
                scenario: "test".into(),
                description: None,
                verdict: Verdict::Fail,
                client: None,
                sessions: vec![session],
                expectations: Vec::new(),
            }],
        }
    }

    /// The rows of the diagram, each as its classes and its text without tags.
    fn rows(page: &str) -> Vec<(String, String)> {
        page.lines()
            .filter_map(|l| l.strip_prefix("<div class=\"r "))
            .filter(|l| !l.starts_with("head"))
            .map(|l| {
                let (classes, rest) = l.split_once('"').unwrap_or((l, ""));
                let mut text = String::new();
                let mut in_tag = false;
                for c in rest.chars() {
                    match c {
                        '<' => in_tag = true,
                        '>' => in_tag = false,
                        c if !in_tag => text.push(c),
                        _ => {}
                    }
                }
                (classes.to_owned(), text)
            })
            .collect()
    }

    #[test]
    fn draws_bands_sasl_responses_and_marks() {
        let mut t = Transcript::new();
        let ms = Duration::from_millis;
        let line = |t: &mut Transcript, at, text: &str| {
            t.client_line(ms(at), text.as_bytes(), LineMeta::default())
        };
        t.server_bytes(ms(0), b"220 mx\r\n");
        line(&mut t, 1, "EHLO <b>x</b>");
        t.server_bytes(ms(2), b"250-mx\r\n250 STARTTLS\r\n");
        line(&mut t, 3, "STARTTLS");
        t.server_bytes(ms(4), b"220 go ahead\r\n");
        t.push(
            ms(5),
            Event::TlsEstablished {
                version: "TLSv1.3".into(),
                cipher: "X".into(),
                sni: None,
            },
        );
        line(&mut t, 6, "AUTH LOGIN");
        t.server_bytes(ms(7), b"334 VXNlcm5hbWU6\r\n");
        line(&mut t, 8, "YWxpY2U=");
        t.server_bytes(ms(9), b"334 UGFzc3dvcmQ6\r\n");
        line(&mut t, 10, "c2VjcmV0");
        t.server_bytes(ms(11), b"235 2.7.0 ok\r\n");
        line(&mut t, 12, "QUIT");
        t.server_bytes(ms(13), b"221 bye\r\n");
        t.push(
            ms(14),
            Event::Closed {
                reason: CloseReason::Quit,
            },
        );
        let finding = CheckResult {
            id: "C-5321-EHLO-ARG-SYNTAX",
            status: Status::Fail,
            level: Level::Must,
            why: None,
            evidence: vec![Evidence {
                status: Status::Fail,
                location: Location::Entry { entry: 1 },
                message: None,
                octets: String::new(),
                detail: "not a <domain>".into(),
            }]
            .into(),
            more: 0,
        };
        let page = render(&report(session(t, vec![finding])));
        let rows = rows(&page);
        let texts: Vec<&str> = rows.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(rows.len(), 16, "{texts:#?}");
        // Markup from the client is text; the finding is beside its line, linked.
        assert!(page.contains("EHLO &lt;b&gt;x&lt;/b&gt;"));
        assert!(!page.contains("<b>x</b>"));
        let (classes, text) = &rows[1];
        assert_eq!(classes, "c2s fail");
        assert!(text.contains("FAIL C-5321-EHLO-ARG-SYNTAX must"), "{text}");
        assert!(text.contains("not a &lt;domain&gt;"), "{text}");
        assert!(page.contains(
            "<a class=\"id\" href=\"docs/checks.md#C-5321-EHLO-ARG-SYNTAX\">C-5321-EHLO-ARG-SYNTAX</a>"
        ));
        // Each reply line an arrow.
        assert_eq!(rows[2].0, "s2c");
        assert_eq!(rows[3].0, "s2c cont");
        // TLS from the STARTTLS 220 to the end; AUTH from AUTH to 235, its responses marked.
        let band = |i: usize| rows[i].0.clone();
        assert_eq!(band(4), "c2s", "STARTTLS itself is in the clear");
        assert_eq!(band(5), "s2c tls");
        assert!(texts[5].contains("TLS220 go ahead"), "{}", texts[5]);
        assert_eq!(band(6), "ev tls");
        assert_eq!(band(7), "c2s tls auth");
        assert!(texts[7].contains("AUTHAUTH LOGIN"), "{}", texts[7]);
        assert_eq!(band(8), "s2c tls auth");
        assert_eq!(band(9), "c2s sasl tls auth");
        assert!(texts[9].contains("SASL responseYWxpY2U="), "{}", texts[9]);
        assert_eq!(band(11), "c2s sasl tls auth");
        assert_eq!(band(12), "s2c tls auth", "the 235 closes the band");
        assert_eq!(band(13), "c2s tls");
        assert_eq!(band(14), "s2c tls");
        assert_eq!(band(15), "ev tls");
        let again = render(&report(session(Transcript::new(), Vec::new())));
        assert_eq!(
            again,
            render(&report(session(Transcript::new(), Vec::new())))
        );
    }

    #[test]
    fn reads_reply_codes() {
        assert_eq!(reply_code("250-mx\r\n250 SIZE 10"), Some(250));
        assert_eq!(reply_code("334 "), Some(334));
        assert_eq!(reply_code("garbage"), None);
        assert_eq!(reply_code("é"), None);
    }
}
