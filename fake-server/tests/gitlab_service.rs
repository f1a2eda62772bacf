//! The container image's configuration (ci/container/Containerfile) and the GitLab CI service
//! recipe that uses it (ci/examples/gitlab-service.yml), rehearsed without a container
//! engine: the binary is started the way the image starts it (its ENTRYPOINT and CMD, its
//! ENV plus the service's variables), the image's health check is run against it, and the
//! job's script sends through it with the job's variables. Only what a container changes is
//! changed here: listen addresses get free loopback ports instead of 0.0.0.0 and the fixed
//! ones, and the data folder is a temporary one.

mod common;

use common::repo_root;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The Containerfile's instructions, continuation lines joined.
fn instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("ci/container/Containerfile"))
        .expect("Containerfile");
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                if let Some((keyword, rest)) = current.trim().split_once(' ') {
                    joined.push((keyword.to_owned(), rest.trim().to_owned()));
                }
                current.clear();
            }
        }
    }
    joined
}

fn instruction(keyword: &str) -> String {
    instructions()
        .into_iter()
        .find(|(k, _)| k == keyword)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("the Containerfile has no {keyword}"))
}

fn json_words(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not a JSON array ({e}): {text}"))
}

#[test]
fn the_image_listens_where_it_exposes_and_the_gitlab_service_recipe_works() {
    // The image: its environment, ports, entry point, command and health check.
    let mut env: BTreeMap<String, String> = instruction("ENV")
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let exposed: Vec<String> = instruction("EXPOSE")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    for variable in [
        "FAKE_SMTP_SMTP",
        "FAKE_SMTP_SUBMISSION",
        "FAKE_SMTP_SMTPS",
        "FAKE_SMTP_HTTP",
    ] {
        let address = env.get(variable).expect("a listener address");
        let (host, port) = address.rsplit_once(':').expect("host:port");
        assert_eq!(
            host, "0.0.0.0",
            "{variable} must listen outside the container"
        );
        assert!(
            exposed.contains(&port.to_owned()),
            "{variable}'s port is not exposed"
        );
    }
    assert_eq!(instruction("USER"), "65534:65534", "not root");
    let entrypoint = json_words(&instruction("ENTRYPOINT"));
    let cmd = json_words(&instruction("CMD"));
    let health = instruction("HEALTHCHECK");
    let health = json_words(health.split_once("CMD ").expect("a health command").1);
    assert_eq!(entrypoint, ["/fake-smtp"]);
    assert_eq!(health[0], "/fake-smtp");

    // The GitLab recipe: the service's variables apply to the image, the job's to its script.
    let recipe: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo_root().join("ci/examples/gitlab-service.yml"))
            .expect("recipe"),
    )
    .expect("YAML");
    let job = &recipe["smtp-service"];
    let service = &job["services"][0];
    assert_eq!(service["name"].as_str(), Some("$FAKE_SMTP_IMAGE"));
    let alias = service["alias"].as_str().expect("alias");
    for (k, v) in service["variables"]
        .as_mapping()
        .expect("service variables")
    {
        env.insert(
            k.as_str().expect("name").to_owned(),
            v.as_str().expect("value").to_owned(),
        );
    }
    let job_vars: BTreeMap<String, String> = job["variables"]
        .as_mapping()
        .expect("job variables")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("name").to_owned(),
                v.as_str().expect("value").to_owned(),
            )
        })
        .collect();
    assert_eq!(job_vars.get("SMTP_HOST").map(String::as_str), Some(alias));
    let smtp_port = job_vars.get("SMTP_PORT").expect("SMTP_PORT").clone();
    assert!(env["FAKE_SMTP_SMTP"].ends_with(&format!(":{smtp_port}")));

    // What only a container would give: ports of its own (any free ones: the SMTP listener's
    // is read from the log; a port picked free beforehand may be taken by the time the
    // server binds it), a data folder.
    for variable in [
        "FAKE_SMTP_SMTP",
        "FAKE_SMTP_SUBMISSION",
        "FAKE_SMTP_SMTPS",
        "FAKE_SMTP_HTTP",
    ] {
        env.insert(variable.into(), "127.0.0.1:0".into());
    }
    let data = std::env::temp_dir().join(format!("fake-smtp-image-{}", std::process::id()));
    env.insert("FAKE_SMTP_DATA_DIR".into(), data.display().to_string());

    let mut server = Command::new(env!("CARGO_BIN_EXE_fake-smtp"))
        .args(&cmd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&env)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the image's command");
    // The log says when it listens (the image has no --json).
    let stderr = server.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|l: &&String| l.contains("listening"))
        .count()
        < 3
    {
        let line = lines
            .next()
            .expect("the server logs its listeners")
            .expect("read");
        seen.push(line);
    }

    let mapped: u16 = seen
        .iter()
        .find_map(|line| line.split("listener=\"smtp\" address=127.0.0.1:").nth(1))
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or_else(|| panic!("the SMTP listener's address in the log: {seen:?}"));
    let probe: Vec<String> = health[1..]
        .iter()
        .map(|word| word.replace(":1025", &format!(":{mapped}")))
        .collect();
    let healthy = Command::new(env!("CARGO_BIN_EXE_fake-smtp"))
        .args(&probe)
        .output()
        .expect("health");
    if !healthy.status.success() {
        let exited = server.try_wait().ok().flatten();
        let log = match exited {
            // It has gone: the rest of its log says why.
            Some(_) => lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"),
            None => String::from("(still running)"),
        };
        panic!("health check: {healthy:?}; server {exited:?}; log: {seen:?}\n{log}");
    }

    for line in job["script"].as_sequence().expect("script") {
        let line = line.as_str().expect("a command");
        let words: Vec<&str> = line.split_whitespace().collect();
        let output = Command::new(words[0])
            .args(&words[1..])
            .current_dir(repo_root())
            .envs(&job_vars)
            // The service's alias resolves to the container in GitLab; here, to loopback.
            .env("SMTP_HOST", "127.0.0.1")
            .env("SMTP_PORT", mapped.to_string())
            .output()
            .expect("the job's script");
        assert!(output.status.success(), "{line}: {output:?}");
    }

    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    for line in lines.map_while(Result::ok) {
        seen.push(line);
    }
    let log = seen.join("\n");
    assert!(log.contains("message accepted"), "{log}");
    let _ = std::fs::remove_dir_all(&data);
}
