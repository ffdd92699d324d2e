//! The YAML loader config and the reactor use: one file's top-level `key: value` entries, in
//! file order, with every error naming `file:line:column`.
//!
//! YAML is read by serde-saphyr into an untyped tree that keeps the position of every node
//! ([`tree`]); serde-saphyr's YAML 1.1 scalars are a little wider than PyYAML's (it reads `y`,
//! `n` and `yEs` as booleans, `1e3` and `0o17` as numbers), so those scalars are put back to
//! what Salt's PyYAML reads, from the source text ([`scalar`]). Limits on size, depth, aliases
//! and nodes turn hostile input into an error.

mod scalar;
mod tree;

use serde_json::Value;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::options::AliasLimits;
use serde_saphyr::{DuplicateKeyPolicy, Location, Spanned};
use std::fmt;
use std::path::{Path, PathBuf};
use tree::{key_text, to_json, Raw};

/// Why a file is not YAML brine reads. `Display` is one line that starts with
/// `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlError {
    /// Syntax, encoding, a duplicate key, a key that is not a scalar, or a limit against
    /// hostile input.
    Syntax {
        /// The file.
        file: PathBuf,
        /// Where, from 1.
        line: usize,
        /// Where, from 1, in characters.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The top level is not a map of keys to values (`found` says what it is).
    NotAMap {
        /// The file.
        file: PathBuf,
        /// Where the top level starts.
        line: usize,
        /// Where the top level starts.
        column: usize,
        /// What it is instead ("a list", "a string").
        found: &'static str,
    },
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            YamlError::Syntax {
                file,
                line,
                column,
                message,
            } => write!(f, "{}:{line}:{column}: {message}", file.display()),
            YamlError::NotAMap {
                file,
                line,
                column,
                found,
            } => write!(
                f,
                "{}:{line}:{column}: expected a map of keys to values at the top level, \
                 found {found}",
                file.display()
            ),
        }
    }
}

impl std::error::Error for YamlError {}

/// Deepest nesting of lists and maps, the top-level map included. Real configs stay under 10.
/// The limit also bounds the recursion of the tree builder, which takes about 20 KiB of stack
/// a level in a debug build: 32 levels fit a 1 MiB stack (a test thread has 2 MiB).
pub const MAX_DEPTH: usize = 32;
/// Most nodes that aliases may replay in one file (billion laughs stops here).
pub const MAX_REPLAYED_EVENTS: usize = 100_000;
/// Most bytes of scalar text in one file, aliases' copies included.
pub const MAX_SCALAR_BYTES: usize = 8 << 20;

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
}

impl Pos {
    pub(super) fn of(location: &Location) -> Pos {
        Pos {
            line: usize::try_from(location.line()).unwrap_or(usize::MAX),
            column: usize::try_from(location.column()).unwrap_or(usize::MAX),
        }
    }
}

/// One top-level `key: value` of a file, with where each half is.
#[derive(Debug)]
pub struct Entry {
    /// The key, as text.
    pub key: String,
    /// Where the key is.
    pub key_at: Pos,
    /// The value, with PyYAML's scalar types.
    pub value: Value,
    /// Where the value is.
    pub value_at: Pos,
}

/// Reads one document into the positioned tree, with the limits against hostile input.
fn parse_document<'t>(file: &Path, bytes: &'t [u8]) -> Result<(Spanned<Raw>, &'t str), YamlError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = position_of(bytes, e.valid_up_to());
        YamlError::Syntax {
            file: file.to_path_buf(),
            line: at.line,
            column: at.column,
            message: "not valid UTF-8".to_owned(),
        }
    })?;
    // Stripped here, not by serde-saphyr, so that its byte offsets index `text`.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_total_scalar_bytes: MAX_SCALAR_BYTES,
        },
        alias_limits: AliasLimits {
            max_total_replayed_events: MAX_REPLAYED_EVENTS,
            ..AliasLimits::default()
        },
        // Salt's YAML loader refuses duplicate keys ("found conflicting ID").
        duplicate_keys: DuplicateKeyPolicy::Error,
        // YAML 1.1 booleans on; the few extra ones (`y`, `n`) are undone in `pyyaml_scalar`.
        strict_booleans: false,
        // `0755` stays 755, as Salt's loader reads it.
        legacy_octal_numbers: false,
        // The error must stay one line: no source snippet.
        with_snippet: false,
        crop_radius: 0,
    };
    let doc: Spanned<Raw> =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| yaml_error(file, &e))?;
    Ok((doc, text))
}

/// One whole document of any shape (a map, a list, a scalar; an empty one is null), read as
/// Salt's `yaml.safe_load` reads it: what brine-api takes as a YAML request body.
pub fn load_value(file: &Path, bytes: &[u8]) -> Result<Value, YamlError> {
    let (doc, text) = parse_document(file, bytes)?;
    let bad = |(at, found): (Pos, &str)| YamlError::Syntax {
        file: file.to_path_buf(),
        line: at.line,
        column: at.column,
        message: format!("a key must be text or a number, found {found}"),
    };
    to_json(doc, text).map_err(bad)
}

/// The top-level entries of one file, in file order. Empty and comment-only files have none.
/// The reactor reads its rendered SLS with this too, so both read YAML as Salt's PyYAML does.
pub fn parse_entries(file: &Path, bytes: &[u8]) -> Result<Vec<Entry>, YamlError> {
    let (doc, text) = parse_document(file, bytes)?;
    let top = Pos::of(&doc.referenced);
    let pairs = match doc.value {
        Raw::Null => return Ok(Vec::new()),
        Raw::Map(pairs) => pairs,
        other => {
            return Err(YamlError::NotAMap {
                file: file.to_path_buf(),
                line: top.line,
                column: top.column,
                found: other.kind(),
            })
        }
    };
    let mut entries = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        let bad_key = |(at, found): (Pos, &str)| YamlError::Syntax {
            file: file.to_path_buf(),
            line: at.line,
            column: at.column,
            message: format!("a key must be text or a number, found {found}"),
        };
        let key_at = Pos::of(&key.referenced);
        let value_at = Pos::of(&value.referenced);
        entries.push(Entry {
            key: key_text(key, text).map_err(bad_key)?,
            key_at,
            value: to_json(value, text).map_err(bad_key)?,
            value_at,
        });
    }
    Ok(entries)
}

/// Line and column of byte `offset` in `bytes` (whose prefix up to `offset` is valid UTF-8).
fn position_of(bytes: &[u8], offset: usize) -> Pos {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or(&[]))
        .chars()
        .count()
        + 1;
    Pos {
        line: before.iter().filter(|&&b| b == b'\n').count() + 1,
        column,
    }
}

fn yaml_error(file: &Path, error: &serde_saphyr::Error) -> YamlError {
    let error = error.without_snippet();
    // A location is missing only for errors that cannot happen on a string (I/O); 1:1 still
    // names the file.
    let at = error
        .location()
        .map_or(Pos { line: 1, column: 1 }, |l| Pos::of(&l));
    let message = match error {
        serde_saphyr::Error::Budget { breach, .. } => budget_message(breach),
        _ => {
            let text = error.to_string();
            // serde-saphyr appends the location in words; ours goes in front.
            let suffix = format!(" at line {}, column {}", at.line, at.column);
            let text = text.strip_suffix(&suffix).unwrap_or(&text);
            if text.starts_with("multiple YAML documents") {
                "more than one YAML document; a configuration file is one map".to_owned()
            } else if text.starts_with("alias replay limit exceeded") {
                format!(
                    "aliases expand to more than {MAX_REPLAYED_EVENTS} nodes \
                     (a limit against hostile input)"
                )
            } else {
                text.replace('\n', " ")
            }
        }
    };
    YamlError::Syntax {
        file: file.to_path_buf(),
        line: at.line,
        column: at.column,
        message,
    }
}

fn budget_message(breach: &BudgetBreach) -> String {
    let what = match breach {
        BudgetBreach::Depth { .. } => format!("lists and maps nested deeper than {MAX_DEPTH}"),
        BudgetBreach::ScalarBytes { .. } => {
            format!("more than {MAX_SCALAR_BYTES} bytes of text, aliases included")
        }
        BudgetBreach::Events { .. } | BudgetBreach::Nodes { .. } => "too many values".to_owned(),
        BudgetBreach::Aliases { .. } | BudgetBreach::AliasAnchorRatio { .. } => {
            "too many aliases".to_owned()
        }
        BudgetBreach::Anchors { .. } => "too many anchors".to_owned(),
        BudgetBreach::MergeKeys { .. } => "too many merge keys (<<)".to_owned(),
        other => format!("{other:?}"),
    };
    format!("{what} (a limit against hostile input)")
}
