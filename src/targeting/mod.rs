//! Targeting: which minions a target expression names, decided as Salt 3007.15 decides it
//! (salt-spec §6). Ground truth is `tests/fixtures/salt/targeting.json`, Salt's own minion-side
//! matchers over a five-minion fleet.
//!
//! [`Target::parse`] does what Salt's `LocalClient._prep_pub` and the matchers' parsing do: it
//! resolves nodegroups, re-joins compound words, and compiles every operand once.
//! [`Target::matches`] is the minion's decision, [`Target::expected`] the master's guess at it
//! for return tracking. Both evaluate the same parsed expression, so with every grain cached
//! the master expects exactly the minions that will answer.
//!
//! Salt evaluates a compound expression by turning each word into `True`/`False` and handing
//! the text to Python's `eval`, so its grammar is Python's, quirks included: `not not x` is
//! invalid (an `and` is inserted between the two), `( )` is an empty tuple and false, `x ( y )`
//! is a call that raises when it is reached, and more than 200 nested brackets is a syntax error.
//! Every operand is evaluated before the expression is, so a matcher that raises anywhere
//! (a grain match recursing too deep, an unparsable address in an `ipv4` grain) makes the whole
//! expression fail on that minion, and on the master the whole target comes out empty.
//!
//! Where brine departs from Salt, on purpose:
//! - The master and the minions share one grammar. Salt's master-side evaluator is a second,
//!   looser one (it closes unbalanced `(` itself, for instance), so it can expect minions that
//!   will never answer; brine expects none of them.
//! - An unknown or cyclic nodegroup anywhere is an error. Salt's client refuses an unknown
//!   group at the top level, but drops a nested one with a log line and evaluates what is left.
//! - A pcre target (or `E@` word) that Rust's `regex` cannot compile is an error, as one that
//!   Python rejects is in Salt; Python accepts lookaround and backreferences, Rust does not.
//! - Grain and pillar operands stay greedy on the master (a minion whose grains are not cached
//!   is expected), as salt-spec §6.5 says; Salt 3007.15 drops such minions instead (#68976).
//! - A list target's `missing` is de-duplicated; Salt repeats a name listed twice.
//! - Integer path segments into lists (`roles:0:web`) read ASCII digits only; Python's `int()`
//!   also takes other Unicode decimal digits.
//! - An `ipv4`/`ipv6` grain that is null holds no addresses; Salt's `in_subnet` would check the
//!   host's own addresses instead.
//! - Work is bounded where Salt's is not: expressions of [`MAX_EXPR_LEN`] bytes, grain patterns
//!   of [`MAX_GRAIN_TEXT`] bytes per target, 200 nested brackets (Python's own limit), and a
//!   grain match gives up (as Salt does on RecursionError) after 32 nested calls or 4096 calls
//!   in all. No real target comes near any of these.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::matcher::Glob;

mod compound;
mod fuzz;
mod ip;
mod nodegroups;
mod operand;
mod subdict;

pub use fuzz::fuzz_compound;

use compound::{Compiled, Node};
use nodegroups::Nodegroups;
use operand::{compile_match, Operand};
use subdict::PatternCache;

/// Longest target expression, in bytes, before or after nodegroup expansion.
pub const MAX_EXPR_LEN: usize = 64 * 1024;

/// Python's tokenizer refuses a 201st open bracket ("too many nested parentheses"); this also
/// bounds the recursion of our parser and evaluator.
const MAX_NESTING: usize = 200;

/// How deep Salt's subdict match may recurse (in calls: two per `*:` prefix or per nested map
/// a wildcard searches) before we give up as Python does with RecursionError. Python stops
/// near 1000 frames; brine stops sooner because every level compiles a new pattern, and real
/// grain targets need a few levels.
const MAX_SUBDICT_DEPTH: usize = 32;

/// Calls one grain operand may make on one minion. A `*:` search branches into every nested
/// map at every level, so calls grow like levels^depth (in Salt too); real targets make tens.
const MAX_SUBDICT_STEPS: usize = 4096;

/// Total bytes of grain patterns (`G@`, `P@`, grain targets) in one target. Matching compiles
/// each suffix a recursion strips, so work grows with levels × length; real grain targets are
/// far shorter.
pub const MAX_GRAIN_TEXT: usize = 8 * 1024;

/// How deep nodegroups may nest inside each other before expansion is refused.
const MAX_NODEGROUP_DEPTH: usize = 64;

/// Bytes of glob pattern text a target keeps compiled, so the suffixes a grain match strips
/// are compiled once per target rather than once per minion.
const GLOB_CACHE_BYTES: usize = 256 * 1024;

/// Regexes a target keeps compiled; each may take up to the 1 MiB compile limit.
const REGEX_CACHE_ENTRIES: usize = 64;

/// Salt's DEFAULT_TARGET_DELIM, also the delimiter of every nested subdict match.
const DEFAULT_DELIMITER: &str = ":";

/// The words compound_match treats as operators.
const OPERATORS: [&str; 5] = ["and", "or", "not", "(", ")"];

/// Target types (salt-spec §6.1), with Salt's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TgtType {
    /// fnmatch on the minion id (the default).
    Glob,
    /// Python `re.match` on the minion id: anchored at the start only.
    Pcre,
    /// Membership in a comma-separated list (or a real list) of ids.
    List,
    /// Subdict match on grains with fnmatch values.
    Grain,
    /// Subdict match on grains with `re.match` values.
    GrainPcre,
    /// An address or network against the `ipv4`/`ipv6` grains.
    Ipcidr,
    /// A boolean expression of the others (salt-spec §6.3).
    Compound,
    /// A nodegroup from the master config, expanded to a compound expression.
    Nodegroup,
}

impl TgtType {
    /// Every type, in the order of salt-spec §6.1.
    pub const ALL: [TgtType; 8] = [
        TgtType::Glob,
        TgtType::Pcre,
        TgtType::List,
        TgtType::Grain,
        TgtType::GrainPcre,
        TgtType::Ipcidr,
        TgtType::Compound,
        TgtType::Nodegroup,
    ];

    /// The type Salt calls `s` (`glob`, `grain_pcre`, ...), if brine supports it.
    pub fn from_name(s: &str) -> Option<TgtType> {
        TgtType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// Salt's name for the type, as in `tgt_type` of jobs and events.
    pub fn name(self) -> &'static str {
        match self {
            TgtType::Glob => "glob",
            TgtType::Pcre => "pcre",
            TgtType::List => "list",
            TgtType::Grain => "grain",
            TgtType::GrainPcre => "grain_pcre",
            TgtType::Ipcidr => "ipcidr",
            TgtType::Compound => "compound",
            TgtType::Nodegroup => "nodegroup",
        }
    }
}

impl fmt::Display for TgtType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A target expression that failed to parse or expand; it matches no minion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// Not a valid compound expression (operator first or after `(`, unbalanced, ...).
    InvalidCompound { expr: String },
    /// An engine letter this matcher lacks: `R@` (range), as on a minion without seco.range.
    UnknownEngine { engine: char, word: String },
    /// A nodegroup that (eventually) contains itself.
    NestedNodegroup { name: String },
    /// A nodegroup the configuration does not define.
    UnknownNodegroup { name: String },
    /// A nodegroup defined as something other than a string or a list of strings.
    BadNodegroup { name: String },
    /// Nodegroups nested deeper than brine follows.
    NodegroupTooDeep { name: String },
    /// A pcre target (or `E@` word) that does not compile.
    BadRegex { pattern: String, reason: String },
    /// The expression, or its nodegroup expansion, is longer than [`MAX_EXPR_LEN`].
    TooLong { len: usize },
    /// The grain patterns of the target add up to more than [`MAX_GRAIN_TEXT`].
    GrainTextTooLong { len: usize },
    /// The target is not a string (nor, for list and compound, a list of strings).
    NotAString { tgt_type: TgtType },
    /// A grain delimiter that is the empty string.
    EmptyDelimiter,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::InvalidCompound { expr } => {
                write!(f, "Invalid compound target: {}", one_line(expr))
            }
            TargetError::UnknownEngine { engine, word } => write!(
                f,
                "Unrecognized target engine \"{engine}\" for target expression \"{}\"",
                one_line(word)
            ),
            TargetError::NestedNodegroup { name } => write!(
                f,
                "Failed nodegroup expansion: illegal nested nodegroup \"{}\"",
                one_line(name)
            ),
            TargetError::UnknownNodegroup { name } => write!(
                f,
                "Failed nodegroup expansion: unknown nodegroup \"{}\"",
                one_line(name)
            ),
            TargetError::BadNodegroup { name } => write!(
                f,
                "Failed nodegroup expansion: nodegroup \"{}\" is neither a string nor a list of strings",
                one_line(name)
            ),
            TargetError::NodegroupTooDeep { name } => write!(
                f,
                "Failed nodegroup expansion: nodegroups nested more than {MAX_NODEGROUP_DEPTH} deep at \"{}\"",
                one_line(name)
            ),
            TargetError::BadRegex { pattern, reason } => {
                write!(f, "Invalid pcre target \"{}\": {reason}", one_line(pattern))
            }
            TargetError::TooLong { len } => write!(
                f,
                "Target expression is {len} bytes, over the limit of {MAX_EXPR_LEN}"
            ),
            TargetError::GrainTextTooLong { len } => write!(
                f,
                "Grain patterns in the target total {len} bytes, over the limit of {MAX_GRAIN_TEXT}"
            ),
            TargetError::NotAString { tgt_type } => match tgt_type {
                TgtType::List | TgtType::Compound => {
                    write!(f, "A {tgt_type} target must be a string or a list of strings")
                }
                _ => write!(f, "A {tgt_type} target must be a string"),
            },
            TargetError::EmptyDelimiter => f.write_str("The grain delimiter must not be empty"),
        }
    }
}

impl std::error::Error for TargetError {}

/// User text for a one-line message: line breaks and controls become spaces, long text is cut.
fn one_line(s: &str) -> String {
    const SHOWN: usize = 200;
    let mut out: String = s
        .chars()
        .take(SHOWN)
        .map(|c| {
            if c.is_control() || py_space(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    if s.chars().nth(SHOWN).is_some() {
        out.push('…');
    }
    out
}

/// Python's `str.isspace` (one definition, in `py`).
pub(super) use crate::py::is_py_space as py_space;

/// Python's `str.split()` with no separator: runs of whitespace split, ends are dropped.
fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(py_space).filter(|w| !w.is_empty())
}

// ---------------------------------------------------------------------------------------------
// The parsed target

/// A parsed target, ready to match many minions.
#[derive(Debug)]
pub struct Target {
    tgt_type: TgtType,
    /// What the minions are sent: the target as given, or for compound and nodegroup targets
    /// the re-joined words with every nodegroup resolved (what Salt's LocalClient publishes).
    published: Value,
    /// One per operand word (a lone operand for the non-compound types).
    operands: Vec<Operand>,
    /// The boolean expression over `operands`.
    expr: Node,
    /// Operands whose unlisted ids are reported as `missing`: list operands, except those
    /// straight after `not` (Salt's master ignores a list it is told to exclude).
    missing_from: Vec<usize>,
    /// Grain patterns compiled so far, shared by every minion this target is matched against.
    cache: PatternCache,
}

impl Clone for Target {
    fn clone(&self) -> Target {
        Target {
            tgt_type: self.tgt_type,
            published: self.published.clone(),
            operands: self.operands.clone(),
            expr: self.expr.clone(),
            missing_from: self.missing_from.clone(),
            cache: PatternCache::default(),
        }
    }
}

impl Target {
    /// Parses `tgt` as `tgt_type`, resolving nodegroups from the master's `nodegroups` map.
    ///
    /// `tgt` is a string; list and compound targets may also be a JSON list (of ids, or of
    /// words). `nodegroups` maps a name to a string or a list of words (salt-spec §6.4; `null`
    /// when there are none). `delimiter` separates grain keys for the grain and grain_pcre
    /// types only: Salt's compound words carry their own (`G|@os|Debian`) and default to `:`.
    pub fn parse(
        tgt: &Value,
        tgt_type: TgtType,
        nodegroups: &Value,
        delimiter: &str,
    ) -> Result<Target, TargetError> {
        let len = text_len(tgt);
        if len > MAX_EXPR_LEN {
            return Err(TargetError::TooLong { len });
        }
        let not_a_string = || TargetError::NotAString { tgt_type };
        let single = |operand: Operand| {
            let missing_from = match operand {
                Operand::List(_) | Operand::ListOf(_) => vec![0],
                _ => Vec::new(),
            };
            Ok(Target {
                tgt_type,
                published: tgt.clone(),
                operands: vec![operand],
                expr: Node::Leaf(0),
                missing_from,
                cache: PatternCache::default(),
            })
        };
        match tgt_type {
            TgtType::Glob => single(Operand::Glob(Glob::new(
                tgt.as_str().ok_or_else(not_a_string)?,
            ))),
            TgtType::Pcre => single(Operand::Pcre(compile_match(
                tgt.as_str().ok_or_else(not_a_string)?,
            )?)),
            TgtType::List => match tgt {
                Value::String(s) => single(Operand::List(s.clone())),
                Value::Array(items) => single(Operand::ListOf(items.clone())),
                _ => Err(not_a_string()),
            },
            TgtType::Grain | TgtType::GrainPcre => {
                if delimiter.is_empty() {
                    return Err(TargetError::EmptyDelimiter);
                }
                let expr = tgt.as_str().ok_or_else(not_a_string)?;
                if expr.len() > MAX_GRAIN_TEXT {
                    return Err(TargetError::GrainTextTooLong { len: expr.len() });
                }
                single(Operand::Grain {
                    expr: expr.to_string(),
                    delimiter: delimiter.to_string(),
                    regex: tgt_type == TgtType::GrainPcre,
                })
            }
            TgtType::Ipcidr => single(Operand::Ipcidr(ip::Target::parse(
                tgt.as_str().ok_or_else(not_a_string)?,
            ))),
            TgtType::Compound => {
                let words: Vec<&str> = match tgt {
                    Value::String(s) => py_split(s).collect(),
                    Value::Array(items) => items
                        .iter()
                        .map(|w| w.as_str().ok_or_else(not_a_string))
                        .collect::<Result<_, _>>()?,
                    _ => return Err(not_a_string()),
                };
                let groups = Nodegroups::new(nodegroups);
                let mut resolved = Vec::with_capacity(words.len());
                for word in words {
                    match word.strip_prefix("N@").filter(|name| !name.is_empty()) {
                        Some(name) => resolved.extend(groups.expand(name)?),
                        None => resolved.push(word.to_string()),
                    }
                }
                Target::compound(tgt_type, resolved)
            }
            TgtType::Nodegroup => {
                let name = tgt.as_str().ok_or_else(not_a_string)?;
                let words = Nodegroups::new(nodegroups).expand(name)?;
                Target::compound(tgt_type, words)
            }
        }
    }

    /// The compound target made of nodegroup-free `words`, as the master and minions see it.
    fn compound(tgt_type: TgtType, words: Vec<String>) -> Result<Target, TargetError> {
        // Salt's client publishes the words joined by spaces, and both sides split them again:
        // a list-form word holding a space becomes two words.
        let text = words.join(" ");
        if text.len() > MAX_EXPR_LEN {
            return Err(TargetError::TooLong { len: text.len() });
        }
        let compiled = Compiled::new(&text)?;
        Ok(Target {
            tgt_type,
            published: Value::String(text),
            operands: compiled.operands,
            expr: compiled.expr,
            missing_from: compiled.missing_from,
            cache: PatternCache::default(),
        })
    }

    /// The type the target was parsed as.
    pub fn tgt_type(&self) -> TgtType {
        self.tgt_type
    }

    /// What to publish to the minions, as Salt's LocalClient does: compound and nodegroup
    /// targets become the compound string with every nodegroup resolved; others are unchanged.
    pub fn published(&self) -> (&Value, TgtType) {
        match self.tgt_type {
            TgtType::Compound | TgtType::Nodegroup => (&self.published, TgtType::Compound),
            other => (&self.published, other),
        }
    }

    /// Minion side: does the minion with this id and these grains match? (salt-spec §6.1–6.3)
    pub fn matches(&self, id: &str, grains: &Map<String, Value>) -> bool {
        let mut values = Vec::with_capacity(self.operands.len());
        self.decide(id, Some(grains), &mut values).unwrap_or(false)
    }

    /// Master side (salt-spec §6.5): the expected minions among `accepted` (sorted), and the
    /// list-target ids that have no accepted key (`missing`).
    ///
    /// `grains` gives each minion's cached grains; a minion without them is kept by every
    /// grain, pillar and ipcidr operand ("greedy"), so `G@x` expects it and `not G@x` does not.
    /// As in Salt, an operand that fails outright for any minion empties the whole answer.
    pub fn expected<'g>(
        &self,
        accepted: &[String],
        grains: &dyn Fn(&str) -> Option<&'g Map<String, Value>>,
    ) -> (Vec<String>, Vec<String>) {
        let mut minions = Vec::new();
        let mut values = Vec::with_capacity(self.operands.len());
        for id in accepted {
            match self.decide(id, grains(id), &mut values) {
                Ok(true) => minions.push(id.clone()),
                Ok(false) => {}
                Err(Abort) => return (Vec::new(), Vec::new()),
            }
        }
        minions.sort_unstable();
        minions.dedup();
        let known: HashSet<&str> = accepted.iter().map(String::as_str).collect();
        let mut seen = HashSet::new();
        let mut missing = Vec::new();
        for operand in self
            .missing_from
            .iter()
            .filter_map(|&i| self.operands.get(i))
        {
            for listed in operand.listed() {
                if !known.contains(listed.as_str()) && seen.insert(listed.clone()) {
                    missing.push(listed);
                }
            }
        }
        (minions, missing)
    }

    /// Evaluates every operand for one minion (as Salt does, before the expression), then the
    /// expression. `Err` when an operand raised: the minion does not match, the master gives up.
    fn decide(
        &self,
        id: &str,
        grains: Option<&Map<String, Value>>,
        values: &mut Vec<bool>,
    ) -> Result<bool, Abort> {
        values.clear();
        for (index, operand) in self.operands.iter().enumerate() {
            values.push(operand.matches(id, grains, &self.cache, index)?);
        }
        // A call in the expression raises only when evaluation reaches it; that is a no-match.
        Ok(self.expr.eval(values).unwrap_or(false))
    }
}

/// Bytes of target text, to hold expressions to [`MAX_EXPR_LEN`] before any work on them.
fn text_len(tgt: &Value) -> usize {
    match tgt {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(|v| text_len(v) + 1).sum(),
        _ => 0,
    }
}

/// A matcher raised: Salt's exception, which fails the whole target rather than one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Abort;

#[cfg(test)]
mod tests;
