//! The scenario loader, `fake_server::Scenario::from_yaml`, on any text; and every scenario
//! that loads, played over a short ordinary session (EHLO, AUTH, MAIL, RCPT, DATA, BDAT,
//! RSET, QUIT) as `fake-smtp serve --scenario` plays it.
//!
//! Proves: no panic on any YAML, and none in a loaded scenario's settings or policy (its
//! rules, templates and regular expressions) whatever the session asks it.
#![no_main]

#[path = "common/session_driver.rs"]
mod driver;
#[path = "common/pieces.rs"]
mod pieces;

use std::sync::Arc;
use std::time::Duration;

use fake_server::scenario::ScenarioPolicyFactory;
use fake_server::{PolicyFactory, Scenario, SessionConfig};
use libfuzzer_sys::fuzz_target;
use smtp_protocol::session::Session;

/// What an ordinary client sends, in pieces.
const DIALOG: &[&[u8]] = &[
    b"EHLO client.example\r\n",
    b"AUTH PLAIN AHVzZXIAcGVuY2ls\r\n",
    b"MAIL FROM:<a@example.com> SIZE=100\r\nRCPT TO:<b@example.org>\r\n",
    b"RCPT TO:<c@example.org>\r\nDATA\r\n",
    b"Subject: hi\r\nFrom: a@example.com\r\n\r\nhello\r\n..dot\r\n.\r\n",
    b"MAIL FROM:<> BODY=BINARYMIME\r\nRCPT TO:<b@example.org>\r\nBDAT 5 LAST\r\nhello",
    b"RSET\r\nNOOP\r\nVRFY x\r\nSTARTTLS\r\n",
    b"QUIT\r\n",
];

fuzz_target!(|text: &str| {
    let Ok(scenario) = Scenario::from_yaml("fuzz", text) else {
        return;
    };
    let config = Arc::new(scenario.session_config(&SessionConfig::default(), true));
    let factory = ScenarioPolicyFactory::new(Arc::new(scenario), config.hostname.clone());
    let peer = smtp_protocol::session::PeerInfo {
        peer: "192.0.2.1:50000".to_owned(),
        local: "192.0.2.2:25".to_owned(),
        tls: None,
        random: "3rfcNHYJY1ZVvWVs7j".to_owned(),
        unix_time: 697170952,
        listener: Some("smtp".to_owned()),
    };
    let session = Session::new(config, factory.policy(), peer, Duration::ZERO);
    let mut inputs = Vec::new();
    for bytes in DIALOG {
        inputs.push(driver::Input::Bytes(bytes));
        inputs.push(driver::Input::Timer);
        inputs.push(driver::Input::Stored(2));
        inputs.push(driver::Input::TlsEstablished);
    }
    driver::play(session, inputs);
});
