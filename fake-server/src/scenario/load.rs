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
    if let Some((line, column, tag)) = find_tag(text) {
        let message = if tag == "!!binary" {
            "YAML tag !!binary is not supported: scenarios honour no YAML tags (this one \
             would be read as its base64 text, not as octets); write octets as \
             {hex: \"00 1A ...\"}"
                .to_owned()
        } else {
            format!("YAML tag {tag} is not supported: scenarios honour no YAML tags; write the value without it")
        };
        return Err(ScenarioError::Invalid {
            file: source.display(),
            line,
            column,
            message,
        });
    }
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
    scenario.set_source(display);
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

/// The first YAML tag (`!!binary`, `!!str`, `!local`, `!<verbatim>`) in `text`, with its line
/// and column (from 1). serde_yaml ignores the tags it does not resolve itself (`!!binary
/// <base64>` reads as the base64 text) and hides them from the types, so they are found
/// here, in the text: a tag is a `!` where a node begins (after indentation, `- `, `? `,
/// `: `, `[`, `{`, `,`, an anchor or `---`), outside quotes, comments and block scalars.
fn find_tag(text: &str) -> Option<(usize, usize, String)> {
    let mut in_double = false;
    let mut in_single = false;
    let mut flow_depth = 0usize;
    // The indentation of the line that opened a block scalar (`|`, `>`): more indented
    // lines (and blank ones) are its content.
    let mut block_parent: Option<usize> = None;
    for (number, line) in text.lines().enumerate() {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        if let Some(parent) = block_parent {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_parent = None;
        }
        let in_quotes = in_double || in_single;
        if !in_quotes && flow_depth == 0 && bytes.first() == Some(&b'%') {
            continue; // a directive
        }
        let mut i = 0;
        let mut node_start = !in_quotes;
        if !in_quotes && (line.starts_with("--- ") || line == "---") {
            i = 3;
        }
        let space_or_end = |at: usize| bytes.get(at).is_none_or(|b| b.is_ascii_whitespace());
        while i < bytes.len() {
            let c = bytes[i];
            if in_double {
                match c {
                    b'\\' => i += 1,
                    b'"' => in_double = false,
                    _ => {}
                }
                i += 1;
                continue;
            }
            if in_single {
                if c == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        in_single = false;
                    }
                }
                i += 1;
                continue;
            }
            match c {
                b' ' | b'\t' => {}
                b'#' if i == 0 || bytes[i - 1].is_ascii_whitespace() => break,
                b'!' if node_start => {
                    let end = bytes[i..]
                        .iter()
                        .position(|b| b.is_ascii_whitespace() || b",[]{}".contains(b))
                        .map_or(bytes.len(), |n| i + n);
                    let column = line[..i].chars().count() + 1;
                    return Some((number + 1, column, line[i..end].to_owned()));
                }
                b'"' if node_start => {
                    in_double = true;
                    node_start = false;
                }
                b'\'' if node_start => {
                    in_single = true;
                    node_start = false;
                }
                b'&' if node_start => {
                    // An anchor: the node (and its tag) comes after it.
                    while i + 1 < bytes.len() && !bytes[i + 1].is_ascii_whitespace() {
                        i += 1;
                    }
                }
                b'-' | b'?' if node_start && space_or_end(i + 1) => {}
                b':' if space_or_end(i + 1) || (flow_depth > 0 && !node_start) => node_start = true,
                b'[' | b'{' if node_start || flow_depth > 0 => {
                    flow_depth += 1;
                    node_start = true;
                }
                b']' | b'}' if flow_depth > 0 => {
                    flow_depth -= 1;
                    node_start = false;
                }
                b',' if flow_depth > 0 => node_start = true,
                b'|' | b'>' if node_start && flow_depth == 0 => {
                    block_parent = Some(indent);
                    break;
                }
                _ => node_start = false,
            }
            i += 1;
        }
    }
    None
}

/// The JSON Schema of the scenario format, from the Rust types (feature `schema`, on by
/// default).
#[cfg(feature = "schema")]
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::find_tag;

    #[test]
    fn tags_are_found_where_nodes_begin() {
        let found = |text: &str| find_tag(text).map(|(l, c, t)| format!("{l}:{c} {t}"));
        assert_eq!(
            found("on:\n  quit:\n    - raw: !!binary AAAA\n").as_deref(),
            Some("3:12 !!binary")
        );
        assert_eq!(found("a: [x, !foo y]\n").as_deref(), Some("1:8 !foo"));
        assert_eq!(found("- &a !!str x\n").as_deref(), Some("1:6 !!str"));
        assert_eq!(found("--- !x\n").as_deref(), Some("1:5 !x"));
        assert_eq!(
            found("a:\n  - !<tag:x> y\n").as_deref(),
            Some("2:5 !<tag:x>")
        );
        // Not tags: inside quotes, plain scalars, comments and block scalars.
        for text in [
            "reply: \"250 ok !!binary\"\n",
            "reply: '250 it''s !x'\n",
            "reply: 250 hello !world\n",
            "a: b # !tag\n",
            "raw: |\n  !not a tag\n  !still\nb: c\n",
            "reply: \"multi\n  !line\"\n",
            "url: http://x!y\n",
        ] {
            assert_eq!(found(text), None, "{text:?}");
        }
        assert_eq!(
            found("raw: |\n  !not a tag\nb: !t c\n").as_deref(),
            Some("3:4 !t")
        );
    }
}
