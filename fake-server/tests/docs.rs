//! What the repository tells a user is explained inside it: no file points at material a user
//! of the repository does not have, every server-behaviour ID the code prints (`S-...`) is in
//! docs/server.md, and every provider section a scenario cites is in docs/providers.md.

mod common;

use common::repo_root;
use std::path::{Path, PathBuf};

/// Text files under `dirs` (recursively) with one of `extensions`.
fn files(dirs: &[&str], extensions: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending: Vec<PathBuf> = dirs.iter().map(|d| repo_root().join(d)).collect();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "node_modules" || name == "target" {
                continue;
            }
            for entry in std::fs::read_dir(&path).expect("read a folder") {
                pending.push(entry.expect("entry").path());
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            found.push(path);
        }
    }
    assert!(!found.is_empty(), "no files under {dirs:?}");
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn nothing_points_outside_the_repository() {
    let mut paths = files(
        &[
            "scenarios",
            "docs",
            "ci",
            "fake-server/src",
            "protocol/src",
            "conformance/src",
            "harness/src",
        ],
        &["yaml", "md", "rs", "sh", "py", "js", "yml"],
    );
    paths.push(repo_root().join("README.md"));
    for path in paths {
        let text = read(&path);
        for outside in [
            "../shared",
            "provider-quirks.md",
            "conformance-checklist.md",
        ] {
            assert!(
                !text.contains(outside),
                "{} cites {outside}, which users of the repository do not have",
                path.display()
            );
        }
    }
}

/// `S-1234-NAME` IDs in `text`.
fn server_ids(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (at, _) in text.match_indices("S-") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        let id: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        let id = id.trim_end_matches('-').to_owned();
        let digits = id.get(2..6).unwrap_or("");
        if digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit()) && id.len() > 7 {
            ids.push(id);
        }
    }
    ids
}

#[test]
fn every_server_behaviour_id_in_the_code_is_explained() {
    let doc = read(&repo_root().join("docs/server.md"));
    let mut seen = 0;
    for path in files(&["protocol/src", "fake-server/src"], &["rs"]) {
        for id in server_ids(&read(&path)) {
            seen += 1;
            assert!(
                doc.contains(&format!("<a id=\"{id}\"></a>")),
                "{id} (in {}) is not explained in docs/server.md",
                path.display()
            );
        }
    }
    assert!(
        seen > 20,
        "only {seen} server IDs found: the scan is broken"
    );
}

#[test]
fn every_provider_section_a_scenario_cites_exists() {
    let doc = read(&repo_root().join("docs/providers.md"));
    let mut cited = 0;
    for path in files(&["scenarios"], &["yaml"]) {
        // Comments wrap, so join the lines first.
        let text = read(&path).replace("\n# ", " ");
        for (at, _) in text.match_indices("docs/providers.md §") {
            let rest = &text[at + "docs/providers.md §".len()..];
            let section: String = rest.chars().take_while(char::is_ascii_digit).collect();
            assert!(
                doc.contains(&format!("## §{section}. ")),
                "{} cites §{section}, not in docs/providers.md",
                path.display()
            );
            cited += 1;
        }
        for (at, _) in text.match_indices("§10 item ") {
            let item: String = text[at + "§10 item ".len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            assert!(
                doc.contains(&format!("\n| {item} | ")),
                "{} cites §10 item {item}, not in docs/providers.md",
                path.display()
            );
        }
    }
    assert!(
        cited > 20,
        "only {cited} citations found: the scan is broken"
    );
}
