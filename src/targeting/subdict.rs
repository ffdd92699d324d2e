//! Grain matching: Salt's `subdict_match` over a minion's grains, the value patterns a target
//! compiles once for all minions, and Python's `int()` and list indexing for path segments.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regex::Regex;
use serde_json::{Map, Value};

use super::operand::{python_match_regex, re_match};
use super::{
    py_space, Abort, DEFAULT_DELIMITER, GLOB_CACHE_BYTES, MAX_SUBDICT_DEPTH, MAX_SUBDICT_STEPS,
    REGEX_CACHE_ENTRIES,
};
use crate::matcher::Glob;
use crate::py::args::yamlify_arg;
use crate::py::python_str;

/// Compiled grain value patterns of one target.
///
/// Every pattern Salt's subdict match compares with is a suffix of its operand's expression
/// (split points, `*:` prefixes and the `*` key only ever cut from the front), so a pattern is
/// named by its operand and its length: no hashing of pattern text on the hot path.
#[derive(Debug, Default)]
pub(super) struct PatternCache {
    compiled: Mutex<CompiledPatterns>,
}

/// The cache's contents.
#[derive(Debug, Default)]
struct CompiledPatterns {
    /// By (operand index, pattern length).
    patterns: HashMap<(usize, usize), Arc<ValuePattern>>,
    /// Bytes of glob pattern text kept.
    glob_bytes: usize,
    /// Regexes kept.
    regexes: usize,
}

/// One lowercased value pattern.
#[derive(Debug)]
enum ValuePattern {
    Glob(Glob),
    /// `None` when Python or Rust rejects it: Salt logs it and the comparison is false.
    Regex(Option<Regex>),
}

impl PatternCache {
    /// The compiled `pattern`, a suffix of operand `operand`'s expression.
    fn get(&self, operand: usize, regex: bool, pattern: &str) -> Arc<ValuePattern> {
        let key = (operand, pattern.len());
        // A poisoned lock only means another thread panicked mid-insert; the map is valid.
        let mut cache = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = cache.patterns.get(&key) {
            return Arc::clone(found);
        }
        let lower = pattern.to_lowercase();
        let made = Arc::new(if regex {
            ValuePattern::Regex(python_match_regex(&lower).ok())
        } else {
            ValuePattern::Glob(Glob::new(&lower))
        });
        let keep = if regex {
            cache.regexes < REGEX_CACHE_ENTRIES
        } else {
            cache.glob_bytes + pattern.len() <= GLOB_CACHE_BYTES
        };
        if keep {
            if regex {
                cache.regexes += 1;
            } else {
                cache.glob_bytes += pattern.len();
            }
            cache.patterns.insert(key, Arc::clone(&made));
        }
        made
    }
}

/// What a key path led to: the grains map itself (for the `*` key) or a value inside it.
#[derive(Clone, Copy)]
enum Found<'a> {
    Map(&'a Map<String, Value>),
    Value(&'a Value),
}

/// `salt.utils.data.subdict_match` (3007.15) with its inner `_match` and `_dict_match`.
pub(super) struct Subdict<'c> {
    pub(super) cache: &'c PatternCache,
    /// Which operand's expression every pattern here is a suffix of.
    pub(super) operand: usize,
    pub(super) regex: bool,
    /// Calls made so far, against [`MAX_SUBDICT_STEPS`].
    pub(super) steps: Cell<usize>,
}

impl ValuePattern {
    /// `_match`: `str()` of the value, lowercased, against the lowercased pattern by fnmatch
    /// or `re.match`.
    fn value(&self, target: &Value) -> bool {
        self.text(&python_str(target))
    }

    fn text(&self, target: &str) -> bool {
        let target = target.to_lowercase();
        match self {
            ValuePattern::Glob(glob) => glob.is_match(&target),
            ValuePattern::Regex(Some(regex)) => re_match(regex, &target),
            ValuePattern::Regex(None) => false,
        }
    }
}

impl Subdict<'_> {
    /// The compiled form of a value pattern.
    fn pattern(&self, pattern: &str) -> Arc<ValuePattern> {
        self.cache.get(self.operand, self.regex, pattern)
    }

    /// Counts a call; too deep or too many is Salt's RecursionError (or a hang) cut short.
    fn enter(&self, depth: usize) -> Result<(), Abort> {
        let steps = self.steps.get() + 1;
        self.steps.set(steps);
        if depth > MAX_SUBDICT_DEPTH || steps > MAX_SUBDICT_STEPS {
            return Err(Abort);
        }
        Ok(())
    }

    /// `subdict_match(data, expr, delimiter)`: every split of `expr` into key path and pattern,
    /// deepest key first; a key of exactly `*` stands for the whole map.
    pub(super) fn subdict(
        &self,
        data: &Map<String, Value>,
        expr: &str,
        delimiter: &str,
        depth: usize,
    ) -> Result<bool, Abort> {
        self.enter(depth)?;
        // Byte offsets where each delimiter-separated segment starts. Matches of a UTF-8
        // delimiter in UTF-8 text fall on char boundaries; memmem, like `str::split`, takes
        // them left to right without overlap, and scans far faster than `match_indices`.
        let starts: Vec<usize> = std::iter::once(0)
            .chain(
                memchr::memmem::find_iter(expr.as_bytes(), delimiter.as_bytes())
                    .map(|i| i + delimiter.len()),
            )
            .collect();
        let segment = |k: usize| {
            let end = starts
                .get(k + 1)
                .map_or(expr.len(), |&next| next - delimiter.len());
            &expr[starts[k]..end]
        };
        // Each key path extends the shorter ones, so one walk finds them all: `path[k]` is
        // where the first k + 1 segments lead, and the walk stops where a lookup fails.
        let path = walk(data, (0..starts.len() - 1).map(segment));
        for idx in (1..starts.len()).rev() {
            let (pattern, found) = if idx == 1 && segment(0) == "*" {
                (expr, Some(Found::Map(data)))
            } else {
                (&expr[starts[idx]..], path.get(idx - 1).copied())
            };
            let found = match found {
                Some(Found::Value(Value::Object(map))) => Found::Map(map),
                Some(found) => found,
                None => continue,
            };
            match found {
                // Salt compares with `{}`, its "not found" default, so an empty map is skipped.
                Found::Map(map) if map.is_empty() => continue,
                Found::Map(map) => {
                    if self.dict(map, pattern, depth + 1)? {
                        return Ok(true);
                    }
                }
                Found::Value(Value::Array(members)) => {
                    let compiled = self.pattern(pattern);
                    for member in members {
                        if let Value::Object(map) = member {
                            if self.dict(map, pattern, depth + 1)? {
                                return Ok(true);
                            }
                        }
                        if compiled.value(member) {
                            return Ok(true);
                        }
                    }
                }
                Found::Value(scalar) => {
                    if self.pattern(pattern).value(scalar) {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// `_dict_match(target, pattern)`: the pattern is `*`, a key, a glob/regex over the keys,
    /// a nested subdict match (always with `:`), or after `*:` a search of every value.
    fn dict(
        &self,
        target: &Map<String, Value>,
        pattern: &str,
        depth: usize,
    ) -> Result<bool, Abort> {
        self.enter(depth)?;
        let (wildcard, pattern) = match pattern.strip_prefix("*:") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        // A length check first spares hashing a long pattern that no key could equal.
        if pattern == "*"
            || (target.keys().any(|k| k.len() == pattern.len()) && target.contains_key(pattern))
        {
            return Ok(true);
        }
        let compiled = self.pattern(pattern);
        if target.keys().any(|key| compiled.text(key)) {
            return Ok(true);
        }
        if self.subdict(target, pattern, DEFAULT_DELIMITER, depth + 1)? {
            return Ok(true);
        }
        if wildcard {
            for value in target.values() {
                let hit = match value {
                    Value::Object(map) => self.dict(map, pattern, depth + 1)?,
                    Value::Array(items) => items.iter().any(|item| compiled.value(item)),
                    other => compiled.value(other),
                };
                if hit {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// `salt.utils.data.traverse_dict_and_list` for every prefix of a key path at once: where
/// each prefix leads, up to the first segment that leads nowhere.
fn walk<'a, 'k>(
    data: &'a Map<String, Value>,
    path: impl Iterator<Item = &'k str>,
) -> Vec<Found<'a>> {
    let mut reached = Vec::new();
    let mut at = Found::Map(data);
    for key in path {
        match step(at, key) {
            Some(next) => {
                at = Found::Value(next);
                reached.push(at);
            }
            None => break,
        }
    }
    reached
}

/// One step of `traverse_dict_and_list`: a map key, or a list index or name.
fn step<'a>(at: Found<'a>, key: &str) -> Option<&'a Value> {
    match at {
        Found::Map(map) | Found::Value(Value::Object(map)) => match map.get(key) {
            Some(v) => Some(v),
            // Salt retries with the key YAML-loaded (`'os'` or ` os` find `os`); JSON keys are
            // strings, so only a string result can be found.
            None => match yamlify_arg(key) {
                Value::String(loaded) if loaded != key => map.get(&loaded),
                _ => None,
            },
        },
        Found::Value(Value::Array(list)) => match py_int(key) {
            // Maps inside the list never have int keys, so Salt falls through to indexing.
            PyInt::Int(i) => py_index(list, i),
            PyInt::TooBig => None,
            // A name: the first map in the list that has it.
            PyInt::NotANumber => list
                .iter()
                .find_map(|item| item.as_object().and_then(|m| m.get(key))),
        },
        // Indexing a string or number raises TypeError, which Salt turns into "not found".
        Found::Value(_) => None,
    }
}

/// What Python's `int(text)` makes of a path segment.
enum PyInt {
    Int(i128),
    /// A valid int no list can be indexed with (IndexError).
    TooBig,
    /// ValueError.
    NotANumber,
}

/// Python's `int(text)`: surrounding whitespace, a sign, digits with single `_` between them.
fn py_int(text: &str) -> PyInt {
    /// Python 3.11 refuses longer digit strings with ValueError (sys.get_int_max_str_digits).
    const MAX_DIGITS: usize = 4300;
    let s = text.trim_matches(py_space);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return PyInt::NotANumber;
    }
    if digits.bytes().filter(u8::is_ascii_digit).count() > MAX_DIGITS {
        return PyInt::NotANumber;
    }
    let mut value: i128 = 0;
    for b in digits.bytes().filter(u8::is_ascii_digit) {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(b - b'0')))
        {
            Some(v) => value = v,
            None => return PyInt::TooBig,
        }
    }
    PyInt::Int(if negative { -value } else { value })
}

/// Python's `list[i]`: negative indices count from the end.
fn py_index(list: &[Value], i: i128) -> Option<&Value> {
    let len = i128::try_from(list.len()).ok()?;
    let at = if i < 0 { i + len } else { i };
    usize::try_from(at).ok().and_then(|at| list.get(at))
}
