//! Reading scenario files: the only code that touches YAML. Resolves `extends`, merges, and
//! reports every mistake with file, line and column before the server starts.

use std::path::{Path, PathBuf};

use super::model::ScenarioFile;
use super::{builtin, Scenario};

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    InvalidNoLocation { file: String, message: String },
    #[error("no scenario file or built-in scenario named {0:?} (`fake-smtp scenarios` lists the built-in ones)")]
    NotFound(String),
    #[error("{file}:{line}:{column}: extends {target:?}: no such file next to it, and no built-in scenario of that name")]
    ExtendsNotFound {
        file: String,
        line: usize,
        column: usize,
        target: String,
    },
    #[error("extends goes round in a circle: {}", chain.join(" -> "))]
    Cycle { chain: Vec<String> },
}

/// Where a scenario's text came from: a file on disk, or a built-in.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Builtin(&'static str),
    Text(String),
}

impl Source {
    fn display(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Builtin(name) => format!("builtin:{name}"),
            Source::Text(name) => name.clone(),
        }
    }

    fn default_name(&self) -> String {
        match self {
            Source::File(path) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Source::Builtin(name) => (*name).to_owned(),
            Source::Text(name) => name.clone(),
        }
    }
}

/// Loads a scenario by file path or built-in name: an existing file wins.
pub fn load(reference: &str) -> Result<Scenario, ScenarioError> {
    let path = Path::new(reference);
    if path.is_file() {
        return load_file(path);
    }
    match builtin::get(reference) {
        Some((name, text)) => resolve(Source::Builtin(name), text.to_owned(), &mut Vec::new()),
        None => Err(ScenarioError::NotFound(reference.to_owned())),
    }
}

pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.display().to_string(),
        source,
    })?;
    resolve(Source::File(path.to_owned()), text, &mut Vec::new())
}

/// Loads a scenario given as text (`extends` may name built-in scenarios only).
pub fn from_yaml(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    resolve(
        Source::Text(name.to_owned()),
        text.to_owned(),
        &mut Vec::new(),
    )
}

fn parse(source: &Source, text: &str) -> Result<ScenarioFile, ScenarioError> {
    serde_yaml::from_str::<ScenarioFile>(text).map_err(|error| {
        let file = source.display();
        // The message ends with " at line L column C"; the location moves to the front.
        let message = error.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        match error.location() {
            Some(location) => ScenarioError::Invalid {
                file,
                line: location.line(),
                column: location.column(),
                message,
            },
            None => ScenarioError::InvalidNoLocation { file, message },
        }
    })
}

fn resolve(
    source: Source,
    text: String,
    chain: &mut Vec<String>,
) -> Result<Scenario, ScenarioError> {
    let display = source.display();
    if chain.contains(&display) {
        chain.push(display);
        return Err(ScenarioError::Cycle {
            chain: chain.clone(),
        });
    }
    if chain.len() >= 16 {
        return Err(ScenarioError::InvalidNoLocation {
            file: display,
            message: "extends is nested more than 16 deep".to_owned(),
        });
    }
    chain.push(display.clone());
    let file = parse(&source, &text)?;
    let parent = match &file.extends {
        None => None,
        Some(target) => Some(resolve_extends(&source, &text, target, chain)?),
    };
    let name = file.name.clone().unwrap_or_else(|| source.default_name());
    let mut scenario = Scenario::from_file(name, file);
    scenario.source = display;
    if let Some(parent) = parent {
        scenario.inherit(parent);
    }
    chain.pop();
    Ok(scenario)
}

fn resolve_extends(
    source: &Source,
    text: &str,
    target: &str,
    chain: &mut Vec<String>,
) -> Result<Scenario, ScenarioError> {
    if let Source::File(path) = source {
        let dir = path.parent().unwrap_or(Path::new("."));
        for candidate in [dir.join(target), dir.join(format!("{target}.yaml"))] {
            if candidate.is_file() {
                let text =
                    std::fs::read_to_string(&candidate).map_err(|source| ScenarioError::Read {
                        path: candidate.display().to_string(),
                        source,
                    })?;
                return resolve(Source::File(candidate), text, chain);
            }
        }
    }
    if let Some((name, builtin_text)) = builtin::get(target) {
        return resolve(Source::Builtin(name), builtin_text.to_owned(), chain);
    }
    // Point at the `extends:` line (serde has no location for a valid string value).
    let (line, column) = text
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("extends:").map(|c| (i + 1, c + 10)))
        .unwrap_or((1, 1));
    Err(ScenarioError::ExtendsNotFound {
        file: source.display(),
        line,
        column,
        target: target.to_owned(),
    })
}

/// The JSON Schema of the scenario format, from the Rust types.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
