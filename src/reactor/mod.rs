//! The reactor (salt-spec §4): which rules an event's tag matches ([`rules`]), rendering the
//! matched SLS files ([`render`]) and compiling them into reactions ([`compile`]).
//!
//! Everything here is pure: the caller reads the files, gathers the options, grains and
//! environment, and dispatches the reactions; [`react`] ties the steps together for one event.

pub mod compile;
pub mod engine;
pub mod render;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::matcher::RuleSet;
pub use compile::{Call, Kind, Notice, Reaction, Signatures, Target};
pub use render::RenderEnv;

/// Why a file, or all reactions of an event, could not be produced. `Display` is one line
/// that starts with the file (and the line, and the column, where known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReactorError {
    /// A `#!` line (or the configured `renderer`) names a renderer brine does not have.
    Renderer { file: PathBuf, renderer: String },
    /// Jinja failed: syntax, an undefined value, an unknown `salt[...]` function, the fuel or
    /// output limit.
    Template {
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// The rendered text is not YAML brine reads, or its top level is not a map of IDs.
    Yaml {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// The merged reactions break a rule of Salt's `verify_high` or the compiler; `more`
    /// counts the further errors found, which Salt would log together.
    Invalid {
        file: PathBuf,
        line: Option<usize>,
        message: String,
        more: usize,
    },
}

impl fmt::Display for ReactorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReactorError::Renderer { file, renderer } => write!(
                f,
                "{}: renderer '{renderer}' is not supported (brine renders jinja|yaml)",
                file.display()
            ),
            ReactorError::Template {
                file,
                line: Some(line),
                message,
            } => write!(f, "{}:{line}: {message}", file.display()),
            ReactorError::Template {
                file,
                line: None,
                message,
            } => write!(f, "{}: {message}", file.display()),
            ReactorError::Yaml {
                file,
                line,
                column,
                message,
            } => write!(f, "{}:{line}:{column}: {message}", file.display()),
            ReactorError::Invalid {
                file,
                line,
                message,
                more,
            } => {
                write!(f, "{}", file.display())?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                write!(f, ": {message}")?;
                match more {
                    0 => Ok(()),
                    1 => write!(f, " (and 1 more error)"),
                    n => write!(f, " (and {n} more errors)"),
                }
            }
        }
    }
}

impl std::error::Error for ReactorError {}

impl ReactorError {
    /// The file the error is in.
    pub fn file(&self) -> &Path {
        match self {
            ReactorError::Renderer { file, .. }
            | ReactorError::Template { file, .. }
            | ReactorError::Yaml { file, .. }
            | ReactorError::Invalid { file, .. } => file,
        }
    }
}

/// One file's rendered text, as a dry run shows it (Salt's debug line `Rendered data from
/// file: <path>:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendered {
    /// The SLS file.
    pub file: PathBuf,
    /// Its text after templating: the YAML that was parsed.
    pub text: String,
}

/// Everything one event's matched files produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compiled {
    /// Every file that rendered, in the order given.
    pub rendered: Vec<Rendered>,
    /// Files that failed to render or parse. As in Salt, such a file contributes nothing and
    /// the others still run.
    pub file_errors: Vec<ReactorError>,
    /// What to dispatch, in Salt's execution order. Empty when `abort` is set.
    pub reactions: Vec<Reaction>,
    /// Reactions skipped one by one, with Salt's log line (bad argument format, unknown
    /// runner or wheel function, missing target).
    pub skipped: Vec<Notice>,
    /// Warnings about reactions that still run (ignored `arg`/`kwarg`, `expr_form`...).
    pub warnings: Vec<Notice>,
    /// The merged reactions were invalid, so none of them runs (Salt's `Unable to render
    /// reactions for event <tag> due to errors ...`).
    pub abort: Option<ReactorError>,
}

/// One event's files for a renderer process to render and compile (see `io::renderer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenderJob {
    /// The job's number, echoed in the reply.
    pub seq: u64,
    /// Each file's path and raw text, in the order the rules listed them.
    pub files: Vec<(PathBuf, String)>,
    /// The event's tag.
    pub tag: String,
    /// The event's data.
    pub data: Map<String, Value>,
}

/// What a renderer process made of one job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenderReply {
    /// The job's number.
    pub seq: u64,
    /// The result.
    pub compiled: Compiled,
}

/// Renders and compiles the SLS files an event matched: `files` holds each file's path and raw
/// text in the order the rules listed them (duplicates included), `signatures` gives runner
/// and wheel signatures for the legacy argument schema.
pub fn react(
    files: &[(PathBuf, String)],
    tag: &str,
    data: &Map<String, Value>,
    env: &RenderEnv,
    signatures: Signatures<'_>,
) -> Compiled {
    let mut rendered = Vec::with_capacity(files.len());
    let mut file_errors = Vec::new();
    let mut parsed = Vec::with_capacity(files.len());
    for (file, text) in files {
        match render_and_parse(file, text, tag, data, env) {
            Ok((text, entries)) => {
                rendered.push(Rendered {
                    file: file.clone(),
                    text,
                });
                parsed.push((file.clone(), entries));
            }
            Err(e) => file_errors.push(e),
        }
    }
    let (reactions, skipped, warnings, abort) = match compile::compile(parsed, signatures) {
        Ok(out) => (out.reactions, out.skipped, out.warnings, None),
        Err(e) => (Vec::new(), Vec::new(), Vec::new(), Some(e)),
    };
    Compiled {
        rendered,
        file_errors,
        reactions,
        skipped,
        warnings,
        abort,
    }
}

fn render_and_parse(
    file: &Path,
    text: &str,
    tag: &str,
    data: &Map<String, Value>,
    env: &RenderEnv,
) -> Result<(String, Vec<compile::Id>), ReactorError> {
    let text = render::render(file, text, tag, data, env)?;
    let entries = compile::parse(file, &text)?;
    Ok((text, entries))
}

#[cfg(test)]
mod tests;
