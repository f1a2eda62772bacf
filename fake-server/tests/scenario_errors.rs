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
refused!(
    extends_unknown_builtin,
    "name: x\nextends: providers/nowhere/base\n"
);

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
