//! A whole server session (`smtp_protocol::session::Session`) playing a built-in scenario
//! (`fake_server::scenario::ScenarioPolicyFactory`, as `fake-smtp serve --scenario` does),
//! fed any octets cut at any points, with "TLS established", "timer", "stored", "peer
//! closed" and the other runtime events at any point; then its transcript is judged.
//! Input: the scenario (its index in the built-in list, 1 octet), the number of sessions
//! (1 octet), then as `common/session_driver.rs` says.
//!
//! Proves: no panic in any scenario's policy, the session or the judges; no action after
//! `Close`; and a session whose client hangs up closes: no scenario makes it hang.
#![no_main]

#[path = "common/session_driver.rs"]
mod driver;
#[path = "common/pieces.rs"]
mod pieces;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fake_server::scenario::builtin::BUILTIN;
use fake_server::scenario::ScenarioPolicyFactory;
use fake_server::{PolicyFactory, Scenario};
use libfuzzer_sys::fuzz_target;
use smtp_protocol::session::Session;

fn scenarios() -> &'static [Arc<Scenario>] {
    static SCENARIOS: OnceLock<Vec<Arc<Scenario>>> = OnceLock::new();
    SCENARIOS.get_or_init(|| {
        BUILTIN
            .iter()
            .map(|(name, text)| Arc::new(Scenario::from_yaml(name, text).expect("built-in loads")))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut header = pieces::Header::new(data);
    let scenarios = scenarios();
    let scenario = &scenarios[usize::from(header.u8()) % scenarios.len()];
    // Scenario sessions share memory (greylisting counts earlier ones): play up to three.
    let sessions = header.u8() % 3 + 1;
    let settings = driver::Settings::read(&mut header);
    let inputs = driver::inputs(header.rest());
    let config = Arc::new(scenario.session_config(&settings.config(), true));
    let factory = ScenarioPolicyFactory::new(Arc::clone(scenario), config.hostname.clone());
    for _ in 0..sessions {
        let session = Session::new(
            Arc::clone(&config),
            factory.policy(),
            settings.peer(),
            Duration::ZERO,
        );
        let transcript = driver::play(session, inputs.clone());
        let _ = smtp_conformance::judge_session(&transcript);
    }
});
