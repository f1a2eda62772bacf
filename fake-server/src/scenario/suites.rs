//! Built-in suites: sets of scenarios that provoke what the active client checks judge, for
//! `fake-smtp run --suite NAME -- CMD` (the client runs once per scenario). A suite is a
//! folder `scenarios/suites/<suite>/` of the built-in library; its scenarios are the built-in
//! names under it, in name order, and its one-line description is kept here.

use super::builtin::BUILTIN;

/// One suite: its name, what it is for, and its scenarios (built-in names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    pub name: &'static str,
    pub description: &'static str,
    pub scenarios: Vec<&'static str>,
}

/// The suites in the order they are listed, with their descriptions.
const SUITES: &[(&str, &str)] = &[
    (
        "basic",
        "what any client sending one message must survive: multi-line, odd and slow \
         replies, 251 and 252 to RCPT, enhanced codes after HELO, greylisting, a refused \
         recipient",
    ),
    (
        "submission",
        "ports 587/465: AUTH answered 535, 534, 454 and 538, the OAuth error challenge, STARTTLS \
         answered 454 or stripped, bad certificates, EHLO keywords in lower case",
    ),
    (
        "resilience",
        "a server in trouble: 421 and 554 greetings, 421 to MAIL, too many recipients, SIZE \
         refused, slow greetings and tarpits, lost connections, rejected pipelines, 451 \
         after the data",
    ),
];

/// Every built-in suite, in a stable order (the list above; scenarios by name).
pub fn all() -> Vec<Suite> {
    SUITES
        .iter()
        .map(|&(name, description)| Suite {
            name,
            description,
            scenarios: scenarios_of(name),
        })
        .collect()
}

/// A suite by name.
pub fn get(name: &str) -> Option<Suite> {
    all().into_iter().find(|suite| suite.name == name)
}

/// The built-in scenarios under `suites/<suite>/`, sorted by name.
fn scenarios_of(suite: &str) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = BUILTIN
        .iter()
        .map(|&(name, _)| name)
        .filter(|name| {
            name.strip_prefix("suites/")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(folder, _)| folder == suite)
        })
        .collect();
    names.sort_unstable();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every folder under `suites/` is a listed suite, and every listed suite has scenarios.
    #[test]
    fn every_suite_folder_is_listed_and_every_suite_has_scenarios() {
        let mut folders: Vec<&str> = BUILTIN
            .iter()
            .filter_map(|(name, _)| name.strip_prefix("suites/")?.split_once('/'))
            .map(|(folder, _)| folder)
            .collect();
        folders.sort_unstable();
        folders.dedup();
        let mut listed: Vec<&str> = SUITES.iter().map(|(name, _)| *name).collect();
        listed.sort_unstable();
        assert_eq!(folders, listed, "describe every suite in SUITES");
        for suite in all() {
            assert!(
                !suite.scenarios.is_empty(),
                "{} has no scenarios",
                suite.name
            );
            assert!(!suite.description.is_empty());
        }
    }

    #[test]
    fn get_finds_a_suite_and_only_its_own_scenarios() {
        let basic = get("basic").expect("the basic suite");
        assert!(basic.scenarios.contains(&"suites/basic/rfc-default"));
        assert!(basic
            .scenarios
            .iter()
            .all(|s| s.starts_with("suites/basic/")));
        let mut sorted = basic.scenarios.clone();
        sorted.sort_unstable();
        assert_eq!(basic.scenarios, sorted);
        assert!(get("no-such-suite").is_none());
        assert!(get("").is_none());
    }
}
