//! Every kind of mistake in a scenario is refused before the server starts, with file, line
//! and column, what was found and what was expected. The messages are snapshot-tested
//! (tests/snapshots/): a change in wording shows up in review.

use fake_server::Scenario;

fn error_of(yaml: &str) -> String {
    match Scenario::from_yaml("scenario.yaml", yaml) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(error) => error.to_string(),
    }
}

macro_rules! refused {
    ($name:ident, $yaml:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), error_of($yaml));
        }
    };
}

refused!(yaml_syntax, "on:\n  quit: [\n");
// Found by fuzzing: a delay too large for a Duration panicked the loader.
refused!(
    delay_too_long,
    "on:\n  ehlo:\n    - delay: 511111111111111111111111111111111111111111111111110ms\n"
);
refused!(unknown_top_level_field, "name: x\nreplies: {}\n");
refused!(unknown_event, "on:\n  quitt:\n    - reply: \"221 bye\"\n");
refused!(
    unknown_rule_field,
    "on:\n  quit:\n    - replly: \"221 bye\"\n"
);
refused!(
    unknown_condition,
    "on:\n  mail:\n    - when: { sendr: x }\n      reply: \"550 no\"\n"
);
refused!(
    content_condition_outside_end_of_data,
    "on:\n  rcpt:\n    - when: { header: { name: Subject, value: x } }\n      reply: \"550 no\"\n"
);
refused!(reply_without_code, "on:\n  quit:\n    - reply: \"bye\"\n");
refused!(
    multiline_reply_wrong_separator,
    "on:\n  auth:\n    - reply: [\"535 5.7.8 first\", \"535 5.7.8 last\"]\n"
);
refused!(
    multiline_reply_mixed_codes,
    "on:\n  auth:\n    - reply: [\"535-5.7.8 first\", \"534 5.7.8 last\"]\n"
);
refused!(
    structured_reply_bad_enhanced_code,
    "on:\n  quit:\n    - reply: { code: 221, enhanced: 2.0, text: bye }\n"
);
refused!(
    structured_reply_code_out_of_range,
    "on:\n  quit:\n    - reply: { code: 621, text: bye }\n"
);
refused!(bad_duration, "on:\n  greeting:\n    - delay: 5 parsecs\n");
refused!(
    bad_regex,
    "on:\n  mail:\n    - when: { args: \"(unclosed\" }\n      reply: \"550 no\"\n"
);
refused!(bad_hex, "on:\n  quit:\n    - raw: { hex: \"00 0G\" }\n");
refused!(
    steps_mixed_with_short_form,
    "on:\n  quit:\n    - reply: \"221 bye\"\n      steps: [close]\n"
);
refused!(
    step_with_two_keys,
    "on:\n  quit:\n    - steps:\n        - { reply: \"221 bye\", delay: 1s }\n"
);
refused!(unknown_step_word, "on:\n  quit:\n    - steps: [explode]\n");
refused!(
    probability_out_of_range,
    "on:\n  rcpt:\n    - when: { probability: 1.5 }\n      reply: \"451 try later\"\n"
);
refused!(unknown_quirk, "quirks: [ignore-everything]\n");
refused!(unknown_key_part, "on:\n  rcpt:\n    - when: { across-sessions: { key: [moon-phase], nth: 1 } }\n      reply: \"451 later\"\n");
refused!(wrong_type, "ehlo:\n  capabilities: PIPELINING\n");
refused!(
    unknown_then,
    "on:\n  quit:\n    - reply: \"221 bye\"\n      then: explode\n"
);
// Issue 9 item 10: YAML tags are refused (serde_yaml would read `!!binary` as its base64).
refused!(
    binary_tag,
    "on:\n  quit:\n    - raw: !!binary AAAAGgAAAA==\n"
);
refused!(local_tag, "on:\n  quit:\n    - reply: !weird \"221 bye\"\n");
// Issue 9 item 12: reply and raw in the short form have no order that could be told.
refused!(
    short_form_reply_and_raw,
    "on:\n  quit:\n    - raw: \"x\\r\\n\"\n      reply: \"221 bye\"\n"
);
refused!(
    step_after_with_delay,
    "on:\n  quit:\n    - steps:\n        - { after: 1s, delay: 1s }\n"
);
refused!(
    extends_unknown_builtin,
    "name: x\nextends: providers/nowhere/base\n"
);

/// The warnings of a scenario that loads (issue 9 item 13: settings that cannot take effect).
fn warnings_of(yaml: &str) -> String {
    let scenario = Scenario::from_yaml("scenario.yaml", yaml).expect("loads");
    let warnings: Vec<String> = scenario
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(!warnings.is_empty(), "no warning for:\n{yaml}");
    warnings.join("\n")
}

macro_rules! warned {
    ($name:ident, $yaml:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), warnings_of($yaml));
        }
    };
}

// QQ's base lists AUTH, but this capability list (taking the place of QQ's) does not.
warned!(
    warn_in_cleartext_without_auth_advertised,
    "extends: providers/qq/base\nehlo:\n  capabilities: [PIPELINING, SIZE 1000]\nauth:\n  in-cleartext: true\n  required: true\n"
);
warned!(
    warn_auth_settings_without_mechanisms,
    "auth:\n  mechanisms: []\n  in-cleartext: true\n  users: [{ name: a, password: b }]\n"
);
warned!(
    warn_both_pipelining_quirks,
    "quirks: [drop-pipelined-input, refuse-pipelining]\n"
);
warned!(
    warn_unreachable_rule,
    "on:\n  rcpt:\n    - reply: \"550 no\"\n    - when: { nth: 2 }\n      reply: \"451 later\"\n"
);
warned!(
    warn_steps_after_close,
    "on:\n  quit:\n    - steps: [close, { reply: \"221 bye\" }]\n"
);
warned!(
    warn_keep_open_without_421,
    "on:\n  mail:\n    - reply: \"450 busy\"\n      then: keep-open\n"
);

#[test]
fn what_can_take_effect_is_not_warned_about() {
    for yaml in [
        // AUTH in the capabilities, in the clear.
        "ehlo:\n  capabilities: [AUTH PLAIN]\nauth:\n  in-cleartext: true\n",
        // The capabilities are not set: the server's own list offers the mechanisms.
        "auth:\n  in-cleartext: true\n",
        // An unconditional rule that passes on to the next with `default`.
        "on:\n  rcpt:\n    - steps: [{ delay: 1s }, default]\n    - when: { nth: 2 }\n      reply: \"451 later\"\n",
        // A child's unconditional rule overrides the parent's on purpose.
        "extends: providers/qq/base\non:\n  quit:\n    - reply: \"221 other\"\n",
        "on:\n  mail:\n    - reply: \"421 busy\"\n      then: keep-open\n",
    ] {
        let scenario = Scenario::from_yaml("scenario.yaml", yaml).expect("loads");
        assert!(scenario.warnings().is_empty(), "{yaml}: {:?}", scenario.warnings());
    }
    for (name, _) in fake_server::scenario::builtin::BUILTIN {
        let scenario = Scenario::load(name).expect("loads");
        assert!(
            scenario.warnings().is_empty(),
            "{name}: {:?}",
            scenario.warnings()
        );
    }
}

#[test]
fn file_errors_name_the_file_and_a_cycle_is_shown() {
    let dir =
        std::env::temp_dir().join(format!("fake-smtp-scenario-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("a.yaml"), "extends: b\n").expect("write");
    std::fs::write(dir.join("b.yaml"), "extends: a.yaml\n").expect("write");
    std::fs::write(
        dir.join("bad.yaml"),
        "name: bad\non:\n  mail:\n    - reply: \"hello\"\n",
    )
    .expect("write");
    let cycle = Scenario::load(dir.join("a.yaml").to_str().expect("utf-8")).expect_err("cycle");
    let bad = Scenario::load(dir.join("bad.yaml").to_str().expect("utf-8")).expect_err("bad");
    let missing = Scenario::load("no/such/scenario").expect_err("missing");
    let shown = [cycle.to_string(), bad.to_string(), missing.to_string()]
        .join("\n")
        .replace(dir.to_str().expect("utf-8"), "[DIR]");
    insta::assert_snapshot!("file_errors", shown);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_built_in_scenario_loads() {
    for (name, _) in fake_server::scenario::builtin::BUILTIN {
        let scenario = Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(scenario.name, *name, "the name inside {name}.yaml");
        assert!(scenario.description.is_some(), "{name} has no description");
    }
}

#[test]
fn every_built_in_scenario_opens_with_its_source_and_what_it_exposes() {
    for (name, text) in fake_server::scenario::builtin::BUILTIN {
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            header.contains("Source:"),
            "{name}: no `Source:` in its opening comment"
        );
        if *name != "default" {
            assert!(
                header.contains("Exposes:"),
                "{name}: no `Exposes:` in its opening comment"
            );
        }
    }
}

/// scenarios/schema.json is generated from the Rust types and must be current. To update it:
/// `cargo run -p fake-server --bin fake-smtp -- schema > scenarios/schema.json`.
#[test]
fn the_committed_json_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/schema.json");
    let committed = std::fs::read_to_string(path).expect("scenarios/schema.json");
    assert!(
        committed == fake_server::scenario::json_schema(),
        "scenarios/schema.json is out of date: run `cargo run -p fake-server --bin fake-smtp -- schema > scenarios/schema.json`"
    );
}
