//! What `cargo package` would put in each published package (issue 14, item 1): the sources,
//! the README and both licence texts, fake-server's built-in scenarios (embedded with
//! `include_str!`, so a package without them would not build), and never the tests or their
//! data. `cargo package --list` reads the manifests' `include` lists; nothing is built.

use std::process::Command;

/// The files `cargo package --list` gives for `package`.
fn package_files(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "package",
            "--list",
            "--offline",
            "--allow-dirty",
            "--package",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo package --list");
    assert!(
        output.status.success(),
        "cargo package --list -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn each_package_holds_its_sources_readme_and_licences_and_no_tests() {
    for package in [
        "smtp-protocol",
        "smtp-conformance",
        "fake-server",
        "smtp-harness",
    ] {
        let files = package_files(package);
        for needed in [
            "Cargo.toml",
            "README.md",
            "LICENSE-MIT",
            "LICENSE-APACHE",
            "src/lib.rs",
        ] {
            assert!(
                files.iter().any(|f| f == needed),
                "{package} lacks {needed}: {files:?}"
            );
        }
        let strays: Vec<&String> = files
            .iter()
            .filter(|f| {
                f.starts_with("tests/")
                    || f.starts_with("benches/")
                    || f.starts_with("fuzz/")
                    || f.contains("/snapshots/")
                    || f.ends_with(".snap")
            })
            .collect();
        assert!(
            strays.is_empty(),
            "{package} carries test files: {strays:?}"
        );
    }
}

#[test]
fn fake_server_carries_every_built_in_scenario_it_embeds() {
    let files = package_files("fake-server");
    for (name, _) in fake_server::scenario::builtin::BUILTIN {
        let path = format!("scenarios/{name}.yaml");
        assert!(files.contains(&path), "the package lacks {path}");
    }
    // Both binaries are in their packages.
    assert!(files.iter().any(|f| f == "src/main.rs"));
    assert!(package_files("smtp-harness")
        .iter()
        .any(|f| f == "src/main.rs"));
}
