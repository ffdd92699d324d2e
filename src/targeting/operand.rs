//! One operand of a target: how Salt's `parse_target` reads a compound word, and how the
//! operand it names decides for one minion (fnmatch, `re.match`, list, grain, pillar, ipcidr).

use std::cell::Cell;

use regex::Regex;
use serde_json::{Map, Value};

use super::subdict::{PatternCache, Subdict};
use super::{ip, Abort, TargetError};
use crate::matcher::{compile_python, Glob};
use crate::py::python_str;

/// One operand word, compiled.
#[derive(Clone, Debug)]
pub(super) enum Operand {
    /// A bare word or a glob target: fnmatch on the id.
    Glob(Glob),
    /// `E@` or a pcre target: `re.match` on the id.
    Pcre(Regex),
    /// `L@` or a list target as text: Salt's substring tests around commas.
    List(String),
    /// A list target given as a real list: plain membership.
    ListOf(Vec<Value>),
    /// `G@`/`P@`, or a grain/grain_pcre target.
    Grain {
        expr: String,
        delimiter: String,
        regex: bool,
    },
    /// `I@`/`J@`. brine has no pillar, so like a Salt minion with an empty pillar this is
    /// always false on the minion side (and greedy on the master, as any cache operand).
    Pillar,
    /// `S@` or an ipcidr target; `None` when the text is neither an address nor a network
    /// (Salt's matcher returns `[]` then: false, and in `eval` an atom that opens a bracket).
    Ipcidr(Option<ip::Target>),
}

impl Operand {
    /// This operand's value for one minion; `grains` is `None` when the master has no cache.
    pub(super) fn matches(
        &self,
        id: &str,
        grains: Option<&Map<String, Value>>,
        cache: &PatternCache,
        index: usize,
    ) -> Result<bool, Abort> {
        Ok(match self {
            Operand::Glob(glob) => glob.is_match(id),
            Operand::Pcre(regex) => re_match(regex, id),
            Operand::List(list) => list_match(id, list),
            Operand::ListOf(items) => items.iter().any(|item| item.as_str() == Some(id)),
            Operand::Grain {
                expr,
                delimiter,
                regex,
            } => match grains {
                None => true,
                // Salt's grain matcher: without the delimiter there is nothing to look up.
                Some(_) if !expr.contains(delimiter.as_str()) => false,
                Some(grains) => Subdict {
                    cache,
                    operand: index,
                    regex: *regex,
                    steps: Cell::new(0),
                }
                .subdict(grains, expr, delimiter, 0)?,
            },
            Operand::Pillar => grains.is_none(),
            Operand::Ipcidr(None) => false,
            Operand::Ipcidr(Some(target)) => match grains {
                None => true,
                Some(grains) => target.matches(grains)?,
            },
        })
    }

    /// The ids a list operand names, for `missing`: Salt splits on commas and drops empties.
    pub(super) fn listed(&self) -> Vec<String> {
        match self {
            Operand::List(list) => list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            Operand::ListOf(items) => items.iter().map(python_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Salt's list matcher on a string: `,id,` inside, `id,` first, `,id` last, or the whole text.
fn list_match(id: &str, list: &str) -> bool {
    list == id
        || list.strip_prefix(id).is_some_and(|r| r.starts_with(','))
        || list.strip_suffix(id).is_some_and(|r| r.ends_with(','))
        || list.contains(&format!(",{id},"))
}

/// Compiles a Python regex for `re.match`, which anchors at the start only.
pub(super) fn compile_match(pattern: &str) -> Result<Regex, TargetError> {
    python_match_regex(pattern).map_err(|reason| TargetError::BadRegex {
        pattern: pattern.to_string(),
        reason,
    })
}

/// Python regex text compiled for `re.match`.
///
/// Global flag groups like `(?i)` are legal at the very start of a Python pattern, but
/// `compile_python` refuses them because its callers always prepend an anchor. They are read
/// here and applied as a scoped group around the rest, which means the same once the rest is
/// known to compile on its own (so its parentheses balance).
pub(super) fn python_match_regex(pattern: &str) -> Result<Regex, String> {
    let mut rest = pattern;
    let mut flags = String::new();
    while let Some(after) = rest.strip_prefix("(?") {
        let end = after
            .find(|c: char| !"aiLmsux".contains(c))
            .unwrap_or(after.len());
        if end == 0 || !after[end..].starts_with(')') {
            break;
        }
        flags.push_str(&after[..end]);
        rest = &after[end + 1..];
    }
    if flags.is_empty() {
        return compile_python(pattern);
    }
    compile_python(rest)?;
    compile_python(&format!("(?{flags}:{rest})"))
}

/// Python's `re.match(regex, text)` is not None: a match starting at 0.
pub(super) fn re_match(regex: &Regex, text: &str) -> bool {
    // The leftmost match starts at 0 whenever any match does.
    regex.find(text).is_some_and(|m| m.start() == 0)
}

/// What a compound word is, after Salt's `parse_target`.
pub(super) struct Word<'w> {
    pub(super) engine: Option<char>,
    pub(super) delimiter: Option<char>,
    pub(super) pattern: &'w str,
}

/// Salt's `TARGET_REX`: `((?P<engine>G|P|I|J|L|N|S|E|R)(?P<delimiter>(?<=G|P|I|J).)?@)?
/// (?P<pattern>.+)$`, tried as Python's backtracking does: with a delimiter, then without,
/// then as a bare pattern. Any other letter (`X@foo`) is no engine: the word is a glob.
pub(super) fn parse_word(word: &str) -> Word<'_> {
    // `.+$`: at least one char, no newline, except that `$` may stand before a final newline.
    let pattern = |s: &str| -> Option<usize> {
        let end = s.find('\n').unwrap_or(s.len());
        (end > 0 && (end == s.len() || end + 1 == s.len())).then_some(end)
    };
    let mut chars = word.chars();
    if let Some(engine) = chars.next().filter(|c| "GPIJLNSER".contains(*c)) {
        let rest = chars.as_str();
        if "GPIJ".contains(engine) {
            let mut after = rest.chars();
            if let Some(delimiter) = after.next().filter(|&c| c != '\n') {
                if let Some(tail) = after.as_str().strip_prefix('@') {
                    if let Some(end) = pattern(tail) {
                        return Word {
                            engine: Some(engine),
                            delimiter: Some(delimiter),
                            pattern: &tail[..end],
                        };
                    }
                }
            }
        }
        if let Some(tail) = rest.strip_prefix('@') {
            if let Some(end) = pattern(tail) {
                return Word {
                    engine: Some(engine),
                    delimiter: None,
                    pattern: &tail[..end],
                };
            }
        }
    }
    Word {
        engine: None,
        delimiter: None,
        pattern: word,
    }
}
