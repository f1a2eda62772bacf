//! The command parser, `Command::parse`, on any line.
//!
//! Proves: no panic on any octets; and for every line that parses, printing the command and
//! parsing that again gives the same command (parse ∘ print = id on parsed commands), and the
//! printed form is one line (no CR or LF) that `to_line` ends with CRLF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_protocol::command::{bdat_declared_size, Command};

fuzz_target!(|line: &[u8]| {
    let parsed = Command::parse(line);
    // The BDAT size reader runs on lines that did not parse too.
    let declared = bdat_declared_size(line);
    let Ok(command) = parsed else {
        if let Err(error) = &parsed {
            let _ = error.to_string();
            let _ = error.verb();
        }
        return;
    };
    if let Command::Bdat { size, .. } = &command {
        assert_eq!(declared, Some(*size), "BDAT size read two ways");
    }
    let printed = command.to_string();
    assert!(!printed.contains(['\r', '\n']), "{printed:?}");
    assert_eq!(command.to_line(), format!("{printed}\r\n"));
    let again = Command::parse(printed.as_bytes())
        .unwrap_or_else(|e| panic!("{printed:?} (from {command:?}) does not parse: {e}"));
    assert_eq!(again, command, "{printed:?}");
});
