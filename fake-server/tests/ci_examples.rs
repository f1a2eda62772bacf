//! The CI recipes in ci/examples/ work as written, as far as a local run allows: the
//! `fake-smtp run` line of the GitHub Actions workflow and of the GitLab job is read from the
//! YAML and run here (with the binary just built), in a scratch directory laid out like a
//! user's repository, and the report files the recipes publish are the ones it writes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/examples")
}

fn yaml(name: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(examples().join(name)).expect("example file");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

fn run_lines<'a>(commands: impl Iterator<Item = &'a serde_yaml::Value>) -> Vec<String> {
    commands
        .filter_map(|c| c.as_str())
        .filter(|c| c.starts_with("fake-smtp run "))
        .map(str::to_owned)
        .collect()
}

/// Runs a recipe's `fake-smtp run` line in a scratch copy of a user's repository; returns the
/// scratch directory.
fn run_recipe(name: &str, line: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fake-smtp-recipe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("ci/examples")).expect("scratch repository");
    std::fs::copy(
        examples().join("send_test_mail.py"),
        dir.join("ci/examples/send_test_mail.py"),
    )
    .expect("copy the example client");
    let command = line.replacen("fake-smtp", env!("CARGO_BIN_EXE_fake-smtp"), 1);
    let output = Command::new("sh")
        .args(["-c", &command])
        .current_dir(&dir)
        .output()
        .expect("run the recipe's command");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{name}: `{line}` failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

#[test]
fn the_github_actions_workflow_runs() {
    let workflow = yaml("github-actions.yml");
    let steps = workflow["jobs"]["smtp"]["steps"]
        .as_sequence()
        .expect("steps");
    let lines = run_lines(steps.iter().map(|s| &s["run"]));
    assert_eq!(lines.len(), 1, "one fake-smtp run step: {lines:?}");
    let dir = run_recipe("github", &lines[0]);
    // What the later steps publish is what the run wrote.
    let published = steps
        .iter()
        .filter_map(|s| {
            s["with"]["path"]
                .as_str()
                .or(s["with"]["report_paths"].as_str())
        })
        .flat_map(|p| p.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
    for path in published {
        assert!(dir.join(&path).is_file(), "{path} was not written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_gitlab_job_runs() {
    let pipeline = yaml("gitlab-ci.yml");
    let job = &pipeline["smtp-client"];
    let script = job["script"].as_sequence().expect("script");
    let lines = run_lines(script.iter());
    assert_eq!(lines.len(), 1, "one fake-smtp run line: {lines:?}");
    let dir = run_recipe("gitlab", &lines[0]);
    let junit = job["artifacts"]["reports"]["junit"]
        .as_str()
        .expect("junit report");
    assert!(dir.join(junit).is_file(), "{junit} was not written");
    for path in job["artifacts"]["paths"].as_sequence().expect("paths") {
        let path = path.as_str().expect("a path");
        assert!(dir.join(path).is_file(), "{path} was not written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
