//! The scenario library compiled into the binary, so that `--scenario <name>` works without
//! the repository. Names are paths under `scenarios/` without `.yaml`.

macro_rules! builtins {
    ($($name:literal),* $(,)?) => {
        /// Every built-in scenario: (name, YAML text).
        pub const BUILTIN: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../scenarios/", $name, ".yaml")))),*
        ];
    };
}

builtins![
    "behaviours/disconnect-mid-data",
    "behaviours/drop-pipelined-input",
    "behaviours/greeting-421",
    "behaviours/greeting-554",
    "behaviours/greylisting",
    "behaviours/multiline-greeting",
    "behaviours/no-8bitmime",
    "behaviours/no-chunking",
    "behaviours/no-smtputf8",
    "behaviours/pipelined-rejection",
    "behaviours/rate-limit-421",
    "behaviours/refuse-pipelining",
    "behaviours/size-refused-at-mail",
    "behaviours/slow-greeting",
    "behaviours/tarpit",
    "default",
    "providers/163/auth-550-no-permission",
    "providers/163/base",
    "providers/163/dtspm-554",
    "providers/163/sender-mismatch-553",
    "providers/gmail/app-password-534",
    "providers/gmail/base",
    "providers/gmail/multiline-535",
    "providers/gmail/rcpt-reject-data-503",
    "providers/gmail/size-552-at-mail",
    "providers/gmail/starttls-required",
    "providers/outlook/base",
    "providers/outlook/basic-auth-disabled",
    "providers/outlook/starttls-required-451",
    "providers/qq/auth-code-gbk-535",
    "providers/qq/base",
    "providers/qq/helo-multiline",
    "providers/qq/plaintext-auth-530-close",
    "providers/qq/quit-garbage",
    "providers/qq/rset-garbage",
    "providers/qq/sender-mismatch-501",
    "providers/ses/base",
    "providers/ses/quit-no-close-notify",
    "providers/ses/throttling-454",
    "providers/yahoo/bad-auth-535",
    "providers/yahoo/base",
    "providers/zoho/553-after-dot",
    "providers/zoho/base",
    "providers/zoho/split-ehlo-packets",
    "suites/basic/greylisting",
    "suites/basic/helo-enhanced-codes",
    "suites/basic/misleading-reply-text",
    "suites/basic/multiline-replies",
    "suites/basic/rcpt-251",
    "suites/basic/rcpt-252",
    "suites/basic/replies-in-pieces",
    "suites/basic/rfc-default",
    "suites/basic/second-recipient-refused",
    "suites/resilience/disconnect-after-dot",
    "suites/resilience/disconnect-mid-data",
    "suites/resilience/eod-451",
    "suites/resilience/greeting-421",
    "suites/resilience/greeting-554",
    "suites/resilience/mail-421",
    "suites/resilience/pipelined-rejections",
    "suites/resilience/size-refused-at-mail",
    "suites/resilience/slow-greeting",
    "suites/resilience/tarpit",
    "suites/resilience/too-many-recipients",
    "suites/submission/auth-454-temporary",
    "suites/submission/auth-534-mechanism-too-weak",
    "suites/submission/auth-535-then-235",
    "suites/submission/auth-538-encryption-required",
    "suites/submission/certificate-expired",
    "suites/submission/certificate-wrong-host",
    "suites/submission/keywords-lower-case",
    "suites/submission/oauth-error-challenge",
    "suites/submission/starttls-454",
    "suites/submission/starttls-stripped",
];

/// A built-in scenario by name.
pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
    let name = name.strip_suffix(".yaml").unwrap_or(name);
    BUILTIN.iter().copied().find(|(n, _)| *n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under scenarios/ is built in, and every built-in has its file.
    #[test]
    fn the_list_matches_the_scenarios_folder() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut on_disk = Vec::new();
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("read scenarios/") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    let relative = path.strip_prefix(&root).expect("under root");
                    on_disk.push(relative.with_extension("").display().to_string());
                }
            }
        }
        on_disk.sort();
        let mut built_in: Vec<String> = BUILTIN.iter().map(|(n, _)| (*n).to_owned()).collect();
        built_in.sort();
        assert_eq!(
            built_in, on_disk,
            "update builtins![...] in scenario/builtin.rs"
        );
    }
}
