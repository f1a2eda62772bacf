//! A whole server session (`smtp_protocol::session::Session`) with the default policy, under
//! any listener settings, fed any octets cut at any points, with "TLS established", "timer",
//! "stored", "peer closed" and the other runtime events at any point; then its transcript is
//! judged as the server judges every session. Input: see `common/session_driver.rs`.
//!
//! Proves: no panic in the session or the judges; no action after `Close`; and a session
//! whose client hangs up closes (once what it waits for is answered): it never hangs.
#![no_main]

#[path = "common/session_driver.rs"]
mod driver;
#[path = "common/pieces.rs"]
mod pieces;

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use smtp_protocol::session::{DefaultPolicy, Session};

fuzz_target!(|data: &[u8]| {
    let mut header = pieces::Header::new(data);
    let settings = driver::Settings::read(&mut header);
    let session = Session::new(
        Arc::new(settings.config()),
        DefaultPolicy,
        settings.peer(),
        Duration::ZERO,
    );
    let transcript = driver::play(session, driver::inputs(header.rest()));
    let _ = smtp_conformance::judge_session(&transcript);
});
