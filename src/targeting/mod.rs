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

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;
use serde_json::{Map, Value};

use crate::matcher::{compile_python, Glob};
use crate::py::args::yamlify_arg;
use crate::py::python_str;

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

/// Python's `str.isspace`: Unicode White_Space plus the separators U+001C..U+001F.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

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

/// Compiles a Python regex for `re.match`, which anchors at the start only.
fn compile_match(pattern: &str) -> Result<Regex, TargetError> {
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
fn python_match_regex(pattern: &str) -> Result<Regex, String> {
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
fn re_match(regex: &Regex, text: &str) -> bool {
    // The leftmost match starts at 0 whenever any match does.
    regex.find(text).is_some_and(|m| m.start() == 0)
}

// ---------------------------------------------------------------------------------------------
// Operands

/// One operand word, compiled.
#[derive(Clone, Debug)]
enum Operand {
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
    fn matches(
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
    fn listed(&self) -> Vec<String> {
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

// ---------------------------------------------------------------------------------------------
// Nodegroups

/// The master's `nodegroups` map, and Salt's `nodegroup_comp` over it.
struct Nodegroups<'n> {
    groups: Option<&'n Map<String, Value>>,
}

/// The state of one top-level expansion.
struct Expansion {
    /// The groups being expanded, outermost first: meeting one again is a cycle.
    path: Vec<String>,
    /// Bytes of words produced so far, to stop a group that doubles at every level.
    produced: usize,
}

impl<'n> Nodegroups<'n> {
    fn new(config: &'n Value) -> Nodegroups<'n> {
        Nodegroups {
            groups: config.as_object(),
        }
    }

    /// The words that replace `N@name`, as Salt's client resolves them before publishing.
    fn expand(&self, name: &str) -> Result<Vec<String>, TargetError> {
        let mut state = Expansion {
            path: Vec::new(),
            produced: 0,
        };
        self.comp(name, true, &mut state)
    }

    /// `salt.utils.minions.nodegroup_comp`.
    ///
    /// Nested groups are wrapped in parentheses, but a top-level group with no nested group is
    /// returned as its bare words: `N@g and x` with `g: 'a or b'` means `a or (b and x)` in
    /// Salt, and here. A group of plain names becomes one `L@a,b` word (`E@` if a name has a
    /// regex character).
    fn comp(
        &self,
        name: &str,
        first_call: bool,
        state: &mut Expansion,
    ) -> Result<Vec<String>, TargetError> {
        if state.path.iter().any(|n| n == name) {
            return Err(TargetError::NestedNodegroup {
                name: name.to_string(),
            });
        }
        if state.path.len() >= MAX_NODEGROUP_DEPTH {
            return Err(TargetError::NodegroupTooDeep {
                name: name.to_string(),
            });
        }
        let definition = self
            .groups
            .and_then(|groups| groups.get(name))
            .ok_or_else(|| TargetError::UnknownNodegroup {
                name: name.to_string(),
            })?;
        let bad = || TargetError::BadNodegroup {
            name: name.to_string(),
        };
        let words: Vec<&str> = match definition {
            Value::String(s) => py_split(s).collect(),
            // Salt str()s other entries, then mostly raises on them; refuse them outright.
            Value::Array(items) => items
                .iter()
                .map(|w| w.as_str().ok_or_else(bad))
                .collect::<Result<_, _>>()?,
            _ => return Err(bad()),
        };
        state.path.push(name.to_string());
        let mut ret = Vec::new();
        let mut expanded = false;
        for &word in &words {
            match word.strip_prefix("N@").filter(|inner| !inner.is_empty()) {
                Some(inner) => {
                    expanded = true;
                    ret.extend(self.comp(inner, false, state)?);
                }
                _ => {
                    state.produced += word.len() + 1;
                    ret.push(word.to_string());
                }
            }
            if state.produced > MAX_EXPR_LEN {
                return Err(TargetError::TooLong {
                    len: state.produced,
                });
            }
        }
        state.path.pop();
        if !first_call {
            if let Some(joined) = joined_names(&words) {
                return Ok(vec![joined]);
            }
        } else if !expanded {
            return Ok(match joined_names(&words) {
                Some(joined) => vec![joined],
                None => words.iter().map(|w| w.to_string()).collect(),
            });
        }
        if !ret.is_empty() {
            state.produced += 4;
            ret.insert(0, "(".to_string());
            ret.push(")".to_string());
        }
        Ok(ret)
    }
}

/// Salt's `_nodegroup_regex`: a group of plain names (no operator, no `*`, no `X@` prefix)
/// becomes `L@a,b,c`, or `E@a,b,c` when a name has a regex character.
fn joined_names(words: &[&str]) -> Option<String> {
    const REGEX_CHARS: [char; 8] = ['(', '[', '{', '\\', '?', '}', ']', ')'];
    let engine_prefix = |w: &str| {
        let b = w.as_bytes();
        b.len() >= 2 && b[0].is_ascii_uppercase() && b[1] == b'@'
    };
    if words
        .iter()
        .any(|w| OPERATORS.contains(w) || w.contains('*') || engine_prefix(w))
    {
        return None;
    }
    let engine = if words.iter().any(|w| w.contains(REGEX_CHARS)) {
        "E@"
    } else {
        "L@"
    };
    Some(format!("{engine}{}", words.join(",")))
}

// ---------------------------------------------------------------------------------------------
// Compound expressions

/// What a compound word is, after Salt's `parse_target`.
struct Word<'w> {
    engine: Option<char>,
    delimiter: Option<char>,
    pattern: &'w str,
}

/// Salt's `TARGET_REX`: `((?P<engine>G|P|I|J|L|N|S|E|R)(?P<delimiter>(?<=G|P|I|J).)?@)?
/// (?P<pattern>.+)$`, tried as Python's backtracking does: with a delimiter, then without,
/// then as a bare pattern. Any other letter (`X@foo`) is no engine: the word is a glob.
fn parse_word(word: &str) -> Word<'_> {
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

/// A token of the Python expression Salt builds from the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    And,
    Or,
    Not,
    Open,
    Close,
    /// An operand's value (`True`, `False`, or `[]` for an unparsable `S@`).
    Leaf(usize),
}

/// A compound expression compiled from its words.
struct Compiled {
    operands: Vec<Operand>,
    expr: Node,
    missing_from: Vec<usize>,
}

impl Compiled {
    /// Salt's `compound_match` word loop, then Python's parser over the tokens it produces.
    fn new(text: &str) -> Result<Compiled, TargetError> {
        let invalid = || TargetError::InvalidCompound {
            expr: text.to_string(),
        };
        let mut toks: Vec<Tok> = Vec::new();
        let mut operands = Vec::new();
        let mut missing_from = Vec::new();
        let mut grain_text = 0;
        for word in py_split(text) {
            let op = match word {
                "and" => Some(Tok::And),
                "or" => Some(Tok::Or),
                "not" => Some(Tok::Not),
                "(" => Some(Tok::Open),
                ")" => Some(Tok::Close),
                _ => None,
            };
            if let Some(op) = op {
                match toks.last() {
                    // An expression may open with `not` or `(` only.
                    None if !matches!(op, Tok::Not | Tok::Open) => return Err(invalid()),
                    Some(Tok::Open) if matches!(op, Tok::And | Tok::Or) => return Err(invalid()),
                    // `a not b` reads as `a and not b`; so does `not not b` (`not and not b`),
                    // which Python then rejects.
                    Some(last)
                        if op == Tok::Not && !matches!(last, Tok::And | Tok::Or | Tok::Open) =>
                    {
                        toks.push(Tok::And)
                    }
                    _ => {}
                }
                toks.push(op);
                continue;
            }
            let parsed = parse_word(word);
            let operand = match parsed.engine {
                None => Operand::Glob(Glob::new(word)),
                Some(engine @ ('G' | 'P')) => {
                    grain_text += parsed.pattern.len();
                    if grain_text > MAX_GRAIN_TEXT {
                        return Err(TargetError::GrainTextTooLong { len: grain_text });
                    }
                    Operand::Grain {
                        expr: parsed.pattern.to_string(),
                        delimiter: parsed.delimiter.unwrap_or(':').to_string(),
                        regex: engine == 'P',
                    }
                }
                Some('I' | 'J') => Operand::Pillar,
                Some('L') => Operand::List(parsed.pattern.to_string()),
                Some('S') => Operand::Ipcidr(ip::Target::parse(parsed.pattern)),
                Some('E') => Operand::Pcre(compile_match(parsed.pattern)?),
                // `R@` needs seco.range, which a Salt minion rarely has and brine never does.
                // `N@` only survives resolution inside a list-form group entry holding a space
                // (`['a N@x']`), which Salt's minions could not resolve either.
                Some(engine) => {
                    return Err(TargetError::UnknownEngine {
                        engine,
                        word: word.to_string(),
                    })
                }
            };
            if matches!(operand, Operand::List(_)) && toks.last() != Some(&Tok::Not) {
                missing_from.push(operands.len());
            }
            toks.push(Tok::Leaf(operands.len()));
            operands.push(operand);
        }
        // Python's tokenizer counts brackets before anything is parsed; `[]` opens one too.
        let mut level = 0usize;
        for tok in &toks {
            let opens = match tok {
                Tok::Open => 1,
                Tok::Leaf(i) if matches!(operands.get(*i), Some(Operand::Ipcidr(None))) => 1,
                _ => 0,
            };
            if level + opens > MAX_NESTING {
                return Err(invalid());
            }
            match tok {
                Tok::Open => level += 1,
                Tok::Close => level = level.checked_sub(1).ok_or_else(invalid)?,
                _ => {}
            }
        }
        let mut parser = Parser {
            toks: &toks,
            pos: 0,
        };
        let expr = parser.disjunction().ok_or_else(invalid)?;
        if parser.pos != toks.len() {
            return Err(invalid());
        }
        Ok(Compiled {
            operands,
            expr,
            missing_from,
        })
    }
}

/// The expression Python's `eval` would evaluate.
#[derive(Clone, Debug)]
enum Node {
    Leaf(usize),
    /// `( )`: an empty tuple, false.
    Empty,
    /// A call such as `True ( False )`: TypeError when evaluation reaches it.
    Call,
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// Python raised while evaluating (a call).
struct Raised;

impl Node {
    /// Python's evaluation, short-circuits included: `x or y ( z )` is true when `x` is.
    fn eval(&self, values: &[bool]) -> Result<bool, Raised> {
        match self {
            Node::Leaf(i) => Ok(values.get(*i).copied().unwrap_or(false)),
            Node::Empty => Ok(false),
            Node::Call => Err(Raised),
            Node::Not(inner) => Ok(!inner.eval(values)?),
            Node::And(items) => {
                for item in items {
                    if !item.eval(values)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(items) => {
                for item in items {
                    if item.eval(values)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }
}

/// Python's grammar for the only tokens Salt's expression can hold:
///
/// ```text
/// disjunction := conjunction ('or' conjunction)*
/// conjunction := inversion ('and' inversion)*
/// inversion   := 'not' inversion | primary
/// primary     := atom ('(' [disjunction] ')')*      a call
/// atom        := operand | '(' ')' | '(' disjunction ')'
/// ```
///
/// Recursion is bounded: `not` cannot follow `not` in the token stream, and brackets were
/// counted to at most [`MAX_NESTING`] before parsing.
struct Parser<'t> {
    toks: &'t [Tok],
    pos: usize,
}

impl Parser<'_> {
    fn eat(&mut self, tok: Tok) -> bool {
        let hit = self.toks.get(self.pos) == Some(&tok);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn disjunction(&mut self) -> Option<Node> {
        let first = self.conjunction()?;
        if self.toks.get(self.pos) != Some(&Tok::Or) {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(Tok::Or) {
            items.push(self.conjunction()?);
        }
        Some(Node::Or(items))
    }

    fn conjunction(&mut self) -> Option<Node> {
        let first = self.inversion()?;
        if self.toks.get(self.pos) != Some(&Tok::And) {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(Tok::And) {
            items.push(self.inversion()?);
        }
        Some(Node::And(items))
    }

    fn inversion(&mut self) -> Option<Node> {
        // A loop, not recursion, and only the parity matters: `not not x` is `x` as a bool.
        let mut negated = false;
        while self.eat(Tok::Not) {
            negated = !negated;
        }
        let node = self.primary()?;
        Some(if negated {
            Node::Not(Box::new(node))
        } else {
            node
        })
    }

    fn primary(&mut self) -> Option<Node> {
        let tok = *self.toks.get(self.pos)?;
        self.pos += 1;
        let mut node = match tok {
            Tok::Leaf(i) => Node::Leaf(i),
            Tok::Open => {
                if self.eat(Tok::Close) {
                    Node::Empty
                } else {
                    let inner = self.disjunction()?;
                    self.eat(Tok::Close).then_some(inner)?
                }
            }
            _ => return None,
        };
        while self.eat(Tok::Open) {
            if !self.eat(Tok::Close) {
                self.disjunction()?;
                if !self.eat(Tok::Close) {
                    return None;
                }
            }
            node = Node::Call;
        }
        Some(node)
    }
}

// ---------------------------------------------------------------------------------------------
// Grain subdict match

/// Compiled grain value patterns of one target.
///
/// Every pattern Salt's subdict match compares with is a suffix of its operand's expression
/// (split points, `*:` prefixes and the `*` key only ever cut from the front), so a pattern is
/// named by its operand and its length: no hashing of pattern text on the hot path.
#[derive(Debug, Default)]
struct PatternCache {
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
struct Subdict<'c> {
    cache: &'c PatternCache,
    /// Which operand's expression every pattern here is a suffix of.
    operand: usize,
    regex: bool,
    /// Calls made so far, against [`MAX_SUBDICT_STEPS`].
    steps: Cell<usize>,
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
    fn subdict(
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

// ---------------------------------------------------------------------------------------------
// ipcidr

/// Python's `ipaddress` as Salt's ipcidr matcher uses it (Python 3.11).
mod ip {
    use super::Abort;
    use serde_json::{Map, Value};

    /// An ipcidr target: an address (compared as Python's `str()` of it) or a network.
    #[derive(Clone, Debug)]
    pub(super) enum Target {
        Address { v6: bool, text: String },
        Network { v6: bool, network: u128, mask: u128 },
    }

    impl Target {
        /// `ip_address(text)`, else `ip_network(text)` (strict: no host bits), else `None`.
        pub(super) fn parse(text: &str) -> Option<Target> {
            if let Some(address) = Address::parse(text) {
                return Some(Target::Address {
                    v6: address.v6,
                    text: address.to_string(),
                });
            }
            network(text)
        }

        /// Salt's ipcidr matcher on one minion's grains.
        pub(super) fn matches(&self, grains: &Map<String, Value>) -> Result<bool, Abort> {
            let v6 = match self {
                Target::Address { v6, .. } | Target::Network { v6, .. } => *v6,
            };
            let Some(grain) = grains.get(if v6 { "ipv6" } else { "ipv4" }) else {
                return Ok(false);
            };
            match self {
                // `str(tgt) in grains[proto]`: list membership, but a substring test on a
                // string and a key test on a map; anything else raises TypeError.
                Target::Address { text, .. } => match grain {
                    Value::Array(items) => Ok(items.iter().any(|i| i.as_str() == Some(text))),
                    Value::String(s) => Ok(s.contains(text.as_str())),
                    Value::Object(m) => Ok(m.contains_key(text.as_str())),
                    _ => Err(Abort),
                },
                // `in_subnet`: every entry parsed with `ip_address` until one is inside; an
                // entry that does not parse raises.
                Target::Network { v6, network, mask } => {
                    let items = match grain {
                        Value::Array(items) => items.as_slice(),
                        // Salt's `in_subnet(net, None)` checks the host's own addresses; a
                        // minion's grains are those, so brine reads null as none known.
                        Value::Null => &[],
                        single => std::slice::from_ref(single),
                    };
                    for item in items {
                        let (item_v6, int) = from_value(item).ok_or(Abort)?;
                        if item_v6 == *v6 && int & mask == *network {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                }
            }
        }
    }

    /// `ipaddress.ip_address(value)` for a grain entry: strings, and ints as Python takes them.
    fn from_value(value: &Value) -> Option<(bool, u128)> {
        match value {
            Value::String(s) => Address::parse(s).map(|a| (a.v6, a.int)),
            Value::Bool(b) => Some((false, u128::from(*b))),
            Value::Number(n) => n.as_u64().map(|n| (n > u64::from(u32::MAX), u128::from(n))),
            _ => None,
        }
    }

    /// A parsed address.
    pub(super) struct Address {
        v6: bool,
        int: u128,
        scope: Option<String>,
    }

    impl Address {
        /// `ipaddress.ip_address(text)`: IPv4 first, then IPv6 (with an optional `%scope`).
        pub(super) fn parse(text: &str) -> Option<Address> {
            if let Some(int) = v4(text) {
                return Some(Address {
                    v6: false,
                    int: u128::from(int),
                    scope: None,
                });
            }
            let (int, scope) = v6_with_scope(text)?;
            Some(Address {
                v6: true,
                int,
                scope,
            })
        }
    }

    impl std::fmt::Display for Address {
        /// Python's `str()`: dotted quad, or RFC 5952 with the longest zero run (the first of
        /// equals, and only runs of two or more) as `::`. IPv4-mapped stays hex, as in 3.11.
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            if !self.v6 {
                let b = (self.int as u32).to_be_bytes();
                return write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
            }
            let hextets: Vec<u16> = (0..8)
                .map(|i| (self.int >> (112 - 16 * i)) as u16)
                .collect();
            let (mut best_start, mut best_len, mut start, mut len) = (0, 0, 0, 0);
            for (i, &h) in hextets.iter().enumerate() {
                if h == 0 {
                    if len == 0 {
                        start = i;
                    }
                    len += 1;
                    if len > best_len {
                        (best_start, best_len) = (start, len);
                    }
                } else {
                    len = 0;
                }
            }
            let hex = |hs: &[u16]| {
                hs.iter()
                    .map(|h| format!("{h:x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            };
            if best_len > 1 {
                let (head, tail) = (&hextets[..best_start], &hextets[best_start + best_len..]);
                write!(f, "{}::{}", hex(head), hex(tail))?;
            } else {
                f.write_str(&hex(&hextets))?;
            }
            match &self.scope {
                Some(scope) => write!(f, "%{scope}"),
                None => Ok(()),
            }
        }
    }

    /// `IPv4Address(text)`: four decimal octets, no leading zeros, ASCII digits only.
    fn v4(text: &str) -> Option<u32> {
        let mut parts = text.split('.');
        let mut int = 0u32;
        for _ in 0..4 {
            let octet = parts.next()?;
            if octet.is_empty()
                || octet.len() > 3
                || !octet.bytes().all(|b| b.is_ascii_digit())
                || (octet.len() > 1 && octet.starts_with('0'))
            {
                return None;
            }
            let value: u32 = octet.parse().ok()?;
            if value > 255 {
                return None;
            }
            int = int << 8 | value;
        }
        parts.next().is_none().then_some(int)
    }

    /// `IPv6Address(text)`: no `/`, an optional non-empty `%scope` without another `%`.
    fn v6_with_scope(text: &str) -> Option<(u128, Option<String>)> {
        if text.contains('/') {
            return None;
        }
        let (address, scope) = match text.split_once('%') {
            None => (text, None),
            Some((_, scope)) if scope.is_empty() || scope.contains('%') => return None,
            Some((address, scope)) => (address, Some(scope.to_string())),
        };
        Some((v6(address)?, scope))
    }

    /// `IPv6Address._ip_int_from_string`, step for step.
    fn v6(text: &str) -> Option<u128> {
        const HEXTETS: usize = 8;
        if text.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = text.split(':').map(str::to_string).collect();
        if parts.len() < 3 {
            return None;
        }
        // An IPv4 tail becomes two hextets.
        if parts.last().is_some_and(|p| p.contains('.')) {
            let tail = v4(&parts.pop()?)?;
            parts.push(format!("{:x}", tail >> 16));
            parts.push(format!("{:x}", tail & 0xffff));
        }
        if parts.len() > HEXTETS + 1 {
            return None;
        }
        // The one `::` (an empty part not at either end).
        let mut skip = None;
        for (i, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
            if part.is_empty() {
                if skip.is_some() {
                    return None;
                }
                skip = Some(i);
            }
        }
        let (hi, lo, skipped) = match skip {
            Some(at) => {
                let mut hi = at;
                let mut lo = parts.len() - at - 1;
                if parts[0].is_empty() {
                    hi -= 1;
                    if hi > 0 {
                        return None;
                    }
                }
                if parts[parts.len() - 1].is_empty() {
                    lo -= 1;
                    if lo > 0 {
                        return None;
                    }
                }
                let skipped = HEXTETS.checked_sub(hi + lo).filter(|&s| s >= 1)?;
                (hi, lo, skipped)
            }
            None => {
                if parts.len() != HEXTETS || parts[0].is_empty() || parts[HEXTETS - 1].is_empty() {
                    return None;
                }
                (parts.len(), 0, 0)
            }
        };
        let hextet = |s: &str| -> Option<u128> {
            if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u128::from_str_radix(s, 16).ok()
        };
        let mut int: u128 = 0;
        for part in &parts[..hi] {
            int = int << 16 | hextet(part)?;
        }
        for _ in 0..skipped {
            int <<= 16;
        }
        for part in &parts[parts.len() - lo..] {
            int = int << 16 | hextet(part)?;
        }
        Some(int)
    }

    /// `ip_network(text)` (strict): IPv4 with a prefix length, netmask or hostmask, else IPv6
    /// with a prefix length; host bits set is an error.
    fn network(text: &str) -> Option<Target> {
        let (address, mask) = match text.split_once('/') {
            Some((_, mask)) if mask.contains('/') => return None,
            Some((address, mask)) => (address, Some(mask)),
            None => (text, None),
        };
        if let Some(network) = v4(address) {
            if let Some(prefix) = mask.map_or(Some(32), v4_prefix) {
                let mask = prefix_mask(prefix, 32);
                return (u128::from(network) & !mask == 0).then_some(Target::Network {
                    v6: false,
                    network: u128::from(network),
                    mask,
                });
            }
        }
        let (network, _scope) = v6_with_scope(address)?;
        let prefix = mask.map_or(Some(128), |m| prefix_length(m, 128))?;
        let mask = prefix_mask(prefix, 128);
        (network & !mask == 0).then_some(Target::Network {
            v6: true,
            network,
            mask,
        })
    }

    /// `_prefix_from_prefix_string`: ASCII digits only, at most `max`.
    fn prefix_length(text: &str, max: u32) -> Option<u32> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let trimmed = text.trim_start_matches('0');
        if trimmed.len() > 3 {
            return None;
        }
        let n: u32 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().ok()?
        };
        (n <= max).then_some(n)
    }

    /// An IPv4 mask: a prefix length, else a dotted netmask, else a dotted hostmask.
    fn v4_prefix(text: &str) -> Option<u32> {
        if let Some(n) = prefix_length(text, 32) {
            return Some(n);
        }
        let int = v4(text)?;
        contiguous_prefix(int).or_else(|| contiguous_prefix(!int))
    }

    /// `_prefix_from_ip_int`: the prefix length of ones-then-zeros, or `None` if mixed.
    fn contiguous_prefix(int: u32) -> Option<u32> {
        let zeros = int.trailing_zeros();
        let prefix = 32 - zeros;
        let ones = if zeros == 32 { 0 } else { int >> zeros };
        let all_ones = if prefix == 32 {
            u32::MAX
        } else {
            (1u32 << prefix) - 1
        };
        (ones == all_ones).then_some(prefix)
    }

    /// The network mask of a prefix, in the low `bits` bits of a u128.
    fn prefix_mask(prefix: u32, bits: u32) -> u128 {
        let all: u128 = if bits == 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        if prefix == 0 {
            0
        } else {
            all & !((1u128 << (bits - prefix)) - 1)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzzing

/// The fleet and nodegroups fuzzing runs against: the fixture's minions, plus groups that
/// cycle, nest, double at every level, and name nothing.
const FUZZ_FLEET: &str = r#"{
  "minions": [
    {"id": "web1.example.com", "grains": {"os": "Ubuntu", "roles": ["webserver", {"name": "db"}],
      "ipv4": ["10.0.0.5", "127.0.0.1"], "ipv6": ["fe80::1"], "num_cpus": 4, "virtual": true,
      "ip_interfaces": {"eth0": ["10.0.0.5"]}, "nested": {"a": {"b": "c:d"}}, "f": 1e16}},
    {"id": "db1", "grains": {"os": "Debian", "roles": [], "ipv4": "192.168.1.10", "empty": {}}},
    {"id": "x", "grains": {"ipv4": [167772165, "bogus"], "ipv6": null}},
    {"id": "nogrstates", "grains": {}}
  ],
  "nodegroups": {
    "webs": "G@roles:web*", "lst": ["web1.example.com", "db1"], "re": ["a(b", "c"],
    "nested": "N@webs or N@lst", "cycle": "N@cycle2", "cycle2": "N@cycle",
    "lost": "N@nosuch or x", "bad": 5, "d1": "N@d2 N@d2", "d2": "N@d3 N@d3", "d3": "N@d4 N@d4",
    "d4": "N@d5 N@d5", "d5": "N@d6 N@d6", "d6": "N@d7 N@d7", "d7": "N@d8 N@d8",
    "d8": "N@d9 N@d9", "d9": "N@d10 N@d10", "d10": "N@d11 N@d11", "d11": "N@d12 N@d12",
    "d12": "N@d13 N@d13", "d13": "abcdefghijklmnopqrstuvwxyz0123456789 or db*"
  }
}"#;

/// Fuzz entry: any bytes as an expression of every type (and, if they are JSON, as a value)
/// against a small fixed fleet; it must never panic.
pub fn fuzz_compound(data: &[u8]) {
    /// The parsed fleet: nodegroups, and each minion's id and grains.
    type Fleet = (Value, Vec<(String, Map<String, Value>)>);
    static FLEET: OnceLock<Fleet> = OnceLock::new();
    let (nodegroups, minions) = FLEET.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(FUZZ_FLEET).unwrap_or(Value::Null);
        let minions = doc["minions"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|m| {
                        let id = m["id"].as_str().unwrap_or_default().to_string();
                        let grains = m["grains"].as_object().cloned().unwrap_or_default();
                        (id, grains)
                    })
                    .collect()
            })
            .unwrap_or_default();
        (doc["nodegroups"].take(), minions)
    });
    let accepted: Vec<String> = minions.iter().map(|(id, _)| id.clone()).collect();
    // Every other minion's grains unknown, to take the greedy paths too.
    let lookup = |id: &str| {
        minions
            .iter()
            .position(|(m, _)| m == id)
            .filter(|i| i % 2 == 0)
            .map(|i| &minions[i].1)
    };
    let mut targets = vec![Value::String(String::from_utf8_lossy(data).into_owned())];
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        targets.push(value);
    }
    for tgt in &targets {
        for tgt_type in TgtType::ALL {
            match Target::parse(tgt, tgt_type, nodegroups, DEFAULT_DELIMITER) {
                Ok(target) => {
                    for (id, grains) in minions {
                        target.matches(id, grains);
                    }
                    target.expected(&accepted, &lookup);
                    let _ = target.published();
                }
                Err(err) => {
                    let _ = err.to_string();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, Instant};

    /// The fixture: Salt 3007.15's own matchers over five minions.
    struct Fixture {
        minions: Vec<(String, Map<String, Value>)>,
        nodegroups: Value,
        cases: Vec<(Value, TgtType, Vec<String>)>,
    }

    fn fixture() -> Fixture {
        let doc: Value =
            serde_json::from_str(include_str!("../tests/fixtures/salt/targeting.json"))
                .expect("fixture is JSON");
        let minions = doc["minions"]
            .as_array()
            .expect("minions")
            .iter()
            .map(|m| {
                let id = m["id"].as_str().expect("id").to_string();
                (id, m["grains"].as_object().expect("grains").clone())
            })
            .collect();
        let cases = doc["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|c| {
                let tgt_type = c["tgt_type"].as_str().expect("tgt_type");
                let matches = c["matches"].as_array().expect("matches");
                (
                    c["tgt"].clone(),
                    TgtType::from_name(tgt_type).expect("known tgt_type"),
                    matches
                        .iter()
                        .map(|m| m.as_str().expect("id").to_string())
                        .collect(),
                )
            })
            .collect();
        Fixture {
            minions,
            nodegroups: doc["nodegroups"].clone(),
            cases,
        }
    }

    impl Fixture {
        fn ids(&self) -> Vec<String> {
            self.minions.iter().map(|(id, _)| id.clone()).collect()
        }

        /// The minions (in fixture order) that match on the minion side; parse errors match none.
        fn minion_side(&self, tgt: &Value, tgt_type: TgtType) -> Vec<String> {
            let Ok(target) = Target::parse(tgt, tgt_type, &self.nodegroups, ":") else {
                return Vec::new();
            };
            self.minions
                .iter()
                .filter(|(id, grains)| target.matches(id, grains))
                .map(|(id, _)| id.clone())
                .collect()
        }

        fn compound(&self, expr: &str) -> Vec<&str> {
            let found = self.minion_side(&json!(expr), TgtType::Compound);
            self.minions
                .iter()
                .map(|(id, _)| id.as_str())
                .filter(|id| found.iter().any(|f| f == id))
                .collect()
        }

        /// The master's answer with every minion's grains cached.
        fn master_side(&self, target: &Target) -> (Vec<String>, Vec<String>) {
            let lookup = |id: &str| self.minions.iter().find(|(m, _)| m == id).map(|(_, g)| g);
            target.expected(&self.ids(), &lookup)
        }
    }

    const WEB1: &str = "web1.example.com";
    const WEB2: &str = "web2.example.com";

    fn compound(expr: &str) -> Result<Target, TargetError> {
        Target::parse(&json!(expr), TgtType::Compound, &Value::Null, ":")
    }

    fn grains(v: Value) -> Map<String, Value> {
        v.as_object().expect("grains are a map").clone()
    }

    #[test]
    fn every_fixture_case_matches_on_the_minion_side() {
        let fx = fixture();
        assert!(fx.cases.len() >= 80);
        let bad: Vec<String> = fx
            .cases
            .iter()
            .filter_map(|(tgt, tgt_type, want)| {
                let got = fx.minion_side(tgt, *tgt_type);
                (&got != want).then(|| format!("{tgt_type} {tgt}: Salt {want:?}, brine {got:?}"))
            })
            .collect();
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn with_every_grain_cached_the_master_expects_exactly_the_minions_that_match() {
        let fx = fixture();
        for (tgt, tgt_type, want) in &fx.cases {
            let mut want = want.clone();
            want.sort();
            let (expected, missing) = match Target::parse(tgt, *tgt_type, &fx.nodegroups, ":") {
                Ok(target) => fx.master_side(&target),
                Err(_) => (Vec::new(), Vec::new()),
            };
            assert_eq!(expected, want, "{tgt_type} {tgt}");
            // Only list targets name ids that may have no key.
            let want_missing: &[&str] = match (tgt_type, tgt.as_str()) {
                (TgtType::List, Some("ghost,db1")) => &["ghost"],
                (TgtType::List, Some("DB1")) => &["DB1"],
                (TgtType::List, Some("web1.example.com, db1")) => &[" db1"],
                _ => &[],
            };
            assert_eq!(missing, want_missing, "missing of {tgt_type} {tgt}");
        }
    }

    #[test]
    fn list_targets_report_unlisted_ids_as_missing() {
        let accepted = vec![WEB1.to_string(), "db1".to_string()];
        let none = |_: &str| None;
        let expect = |tgt: Value, tgt_type| {
            Target::parse(&tgt, tgt_type, &Value::Null, ":")
                .expect("parses")
                .expected(&accepted, &none)
        };
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Empty names are dropped, as Salt's master splits and filters.
        assert_eq!(
            expect(json!("a,db1,,b,a"), TgtType::List),
            (ids(&["db1"]), ids(&["a", "b"]))
        );
        assert_eq!(
            expect(json!(["db1", "ghost", "ghost"]), TgtType::List),
            (ids(&["db1"]), ids(&["ghost"]))
        );
        assert_eq!(
            expect(json!("L@ghost,db1 or L@x"), TgtType::Compound),
            (ids(&["db1"]), ids(&["ghost", "x"]))
        );
        // A list straight after `not` is an exclusion: its strangers are not missing...
        assert_eq!(
            expect(json!("* and not L@ghost"), TgtType::Compound),
            (ids(&["db1", WEB1]), ids(&[]))
        );
        // ...but one inside parentheses is, as in Salt's master.
        assert_eq!(
            expect(json!("* and not ( L@ghost )"), TgtType::Compound),
            (ids(&["db1", WEB1]), ids(&["ghost"]))
        );
        assert_eq!(
            expect(json!("db*"), TgtType::Glob),
            (ids(&["db1"]), ids(&[]))
        );
    }

    #[test]
    fn unknown_grains_are_greedy_on_the_master() {
        let fx = fixture();
        // The master has grains for everyone but db1.
        let lookup = |id: &str| {
            fx.minions
                .iter()
                .find(|(m, _)| m == id && id != "db1")
                .map(|(_, g)| g)
        };
        let expected = |tgt: &str, tgt_type| {
            let target = Target::parse(&json!(tgt), tgt_type, &fx.nodegroups, ":").expect("parses");
            target.expected(&fx.ids(), &lookup).0
        };
        let set = |v: &[&str]| {
            let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(expected("os:Ubuntu", TgtType::Grain), set(&[WEB1, "db1"]));
        assert_eq!(
            expected("os:ubu.*", TgtType::GrainPcre),
            set(&[WEB1, "db1"])
        );
        assert_eq!(
            expected("10.0.0.0/24", TgtType::Ipcidr),
            set(&[WEB1, "mysql1", "db1"])
        );
        assert_eq!(expected("db*", TgtType::Glob), set(&["db1"]));
        assert_eq!(
            expected("G@os:Ubuntu", TgtType::Compound),
            set(&[WEB1, "db1"])
        );
        // `not X` is ALL − X, and X kept db1.
        assert_eq!(
            expected("not G@os:Ubuntu", TgtType::Compound),
            set(&[WEB2, "mysql1", "minion_x"])
        );
        // No pillar is ever cached, so only the unknown minion is kept.
        assert_eq!(expected("I@role:web", TgtType::Compound), set(&["db1"]));
        // An address that does not parse keeps nobody, unknown or not.
        assert_eq!(expected("nonsense", TgtType::Ipcidr), set(&[]));
    }

    #[test]
    fn precedence_parentheses_and_implicit_and() {
        let fx = fixture();
        // (expression, Salt 3007.15's answer over the fixture fleet)
        let cases: &[(&str, &[&str])] = &[
            ("web* and ( db1 or mysql1 )", &[]),
            ("web* and db1 or mysql1", &["mysql1"]),
            ("not web* and not db1", &["mysql1", "minion_x"]),
            (
                "not ( web* and G@os:Ubuntu )",
                &[WEB2, "db1", "mysql1", "minion_x"],
            ),
            ("( ( ( db1 ) ) )", &["db1"]),
            (
                "mysql1 or not G@os:CentOS and not minion_x",
                &[WEB1, "db1", "mysql1"],
            ),
            ("web* not G@os:Ubuntu", &[WEB2]),
            ("( web* ) not db*", &[WEB1, WEB2]),
            ("( not web* )", &["db1", "mysql1", "minion_x"]),
            ("G@roles:web* and G@env:prod", &[WEB1]),
            ("G@os:ubuntu or S@10.0.0.0/8", &[WEB1, WEB2, "mysql1"]),
        ];
        for (expr, want) in cases {
            assert_eq!(fx.compound(expr), *want, "{expr}");
        }
    }

    #[test]
    fn the_grammar_is_pythons_eval() {
        let fx = fixture();
        let all: &[&str] = &[WEB1, WEB2, "db1", "mysql1", "minion_x"];
        // (expression, Salt 3007.15's answer, why)
        let cases: &[(&str, &[&str], &str)] = &[
            ("not ( )", all, "not of an empty tuple"),
            ("( )", &[], "an empty tuple is false"),
            ("( ( ) )", &[], "still an empty tuple"),
            (
                "web* or db1 ( x )",
                &[WEB1, WEB2],
                "the call is never reached",
            ),
            ("db1 ( x ) or web*", &[], "the call raises first"),
            ("not web* ( db1 )", &[], "a call under not raises"),
            ("web* ( )", &[], "a call without arguments raises too"),
            ("( web* ) ( db1 )", &[], "calling a parenthesized bool"),
            (
                "not S@bad and db1",
                &["db1"],
                "a bad address is `[]`, false",
            ),
            ("S@bad or db1", &["db1"], "`[] or True`"),
        ];
        for (expr, want, why) in cases {
            assert!(compound(expr).is_ok(), "{expr} parses");
            assert_eq!(fx.compound(expr), *want, "{expr}: {why}");
        }
        // Syntax errors: nothing matches and the CLI hears why.
        for expr in [
            "not not web*",
            "web* and not not db1",
            "web* db1",
            "web* )",
            ") web*",
            "( web* or ( db1 )",
            "( web*",
            "not",
            "( not )",
            "web* and",
            "and web*",
            "or db1",
            "( and web* )",
            "",
            "   ",
        ] {
            assert_eq!(
                compound(expr).map(|_| ()),
                Err(TargetError::InvalidCompound {
                    expr: py_split(expr).collect::<Vec<_>>().join(" ")
                }),
                "{expr:?}"
            );
        }
    }

    #[test]
    fn words_are_read_as_salts_parse_target_reads_them() {
        let fx = fixture();
        // A delimiter between the engine letter and `@`, for G, P, I and J only.
        assert_eq!(fx.compound("G|@os|ubuntu"), [WEB1]);
        assert_eq!(fx.compound("G:@os:ubuntu"), [WEB1]);
        // `@` itself can be the delimiter: `G@@os@ubuntu` is G, `@`, `os@ubuntu`.
        assert_eq!(fx.compound("G@@os@ubuntu"), [WEB1]);
        // Letters that are no engine make the word a glob, which only a minion so named matches.
        assert_eq!(fx.compound("X@foo or db1"), ["db1"]);
        assert_eq!(fx.compound("not X@foo and db1"), ["db1"]);
        assert_eq!(parse_word("T@x").engine, None);
        // An engine with nothing after `@` is a glob too.
        assert_eq!(parse_word("G@").engine, None);
        assert_eq!(parse_word("L|@x").engine, None);
        let w = parse_word("G@a\n");
        assert_eq!((w.engine, w.pattern), (Some('G'), "a"));
        assert_eq!(parse_word("G@a\nb").engine, None);
        // Pillar: brine has none, so like a Salt minion without pillar data: false.
        assert_eq!(fx.compound("J@x:y or I@a:b or db1"), ["db1"]);
        assert_eq!(fx.compound("not I@foo:bar").len(), 5);
        // `R@` (range) fails the whole expression, as on a minion without seco.range.
        let err = compound("R@foo or web*").map(|_| ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"Unrecognized target engine "R" for target expression "R@foo""#
        );
        assert!(fx.compound("not R@foo").is_empty());
    }

    #[test]
    fn grain_delimiter_applies_to_the_grain_types_only() {
        let fx = fixture();
        let web1 = &fx.minions[0].1;
        let parse = |tgt: &str, tgt_type| Target::parse(&json!(tgt), tgt_type, &Value::Null, "|");
        assert!(parse("os|Ubuntu", TgtType::Grain)
            .expect("parses")
            .matches(WEB1, web1));
        assert!(parse("os|ubu.*", TgtType::GrainPcre)
            .expect("parses")
            .matches(WEB1, web1));
        // Compound words default to `:` whatever the CLI's delimiter, as in Salt.
        assert!(!parse("G@os|Ubuntu", TgtType::Compound)
            .expect("parses")
            .matches(WEB1, web1));
        assert!(parse("G@os:Ubuntu", TgtType::Compound)
            .expect("parses")
            .matches(WEB1, web1));
        let err = Target::parse(&json!("os:x"), TgtType::Grain, &Value::Null, "").map(|_| ());
        assert_eq!(err, Err(TargetError::EmptyDelimiter));
    }

    #[test]
    fn nodegroups_resolve_as_salts_client_resolves_them() {
        let mut groups = fixture().nodegroups;
        groups["g"] = json!("web* or db*");
        groups["re"] = json!(["web?", "db1"]);
        groups["dd"] = json!("N@webs or N@webs");
        groups["spaced"] = json!(["web1.example.com", "db1 mysql1"]);
        let published = |tgt: &str, tgt_type| {
            let target = Target::parse(&json!(tgt), tgt_type, &groups, ":").expect("resolves");
            let (value, published_type) = target.published();
            assert_eq!(published_type, TgtType::Compound);
            value.as_str().expect("a string").to_string()
        };
        // A top-level group without nested groups is spliced in bare, parenthesized otherwise.
        assert_eq!(published("webs", TgtType::Nodegroup), "G@roles:web*");
        assert_eq!(
            published("lst", TgtType::Nodegroup),
            "L@web1.example.com,db1"
        );
        assert_eq!(
            published("nested", TgtType::Nodegroup),
            "( ( G@roles:web* ) or L@web1.example.com,db1 )"
        );
        assert_eq!(
            published("prodweb", TgtType::Nodegroup),
            "( ( G@roles:web* ) and G@env:prod )"
        );
        assert_eq!(
            published("N@lst   or minion_x", TgtType::Compound),
            "L@web1.example.com,db1 or minion_x"
        );
        // A name with a regex character makes the group a pcre.
        assert_eq!(published("re", TgtType::Nodegroup), "E@web?,db1");
        // Using a group twice is no cycle.
        assert_eq!(
            published("dd", TgtType::Nodegroup),
            "( ( G@roles:web* ) or ( G@roles:web* ) )"
        );
        // The bare splice changes precedence, exactly as in Salt: web* or (db* and mysql*).
        assert_eq!(
            published("N@g and mysql*", TgtType::Compound),
            "web* or db* and mysql*"
        );
        let fx = Fixture {
            nodegroups: groups.clone(),
            ..fixture()
        };
        assert_eq!(fx.compound("N@g and mysql*"), [WEB1, WEB2]);
        // Published words are split again, so a list entry with a space breaks the group.
        assert!(matches!(
            Target::parse(&json!("spaced"), TgtType::Nodegroup, &groups, ":"),
            Err(TargetError::InvalidCompound { .. })
        ));
        // Other types are published unchanged.
        let target = Target::parse(&json!("web*"), TgtType::Glob, &groups, ":").expect("parses");
        assert_eq!(target.published(), (&json!("web*"), TgtType::Glob));
        assert_eq!(target.tgt_type(), TgtType::Glob);
    }

    #[test]
    fn nodegroup_cycles_and_unknown_groups_are_errors() {
        let groups = json!({
            "c1": "N@c2 or web*", "c2": ["N@c1"], "me": "N@me", "u": "N@nope or web*",
            "bad": 5, "badlist": ["web1", 5], "ok": "db*",
        });
        let err = |tgt: &str, tgt_type| {
            Target::parse(&json!(tgt), tgt_type, &groups, ":")
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let nodegroup = TgtType::Nodegroup;
        assert_eq!(
            err("c1", nodegroup),
            r#"Failed nodegroup expansion: illegal nested nodegroup "c1""#
        );
        assert_eq!(
            err("me", nodegroup),
            r#"Failed nodegroup expansion: illegal nested nodegroup "me""#
        );
        assert_eq!(
            err("N@ok or N@c2", TgtType::Compound),
            r#"Failed nodegroup expansion: illegal nested nodegroup "c2""#
        );
        assert_eq!(
            err("nope", nodegroup),
            r#"Failed nodegroup expansion: unknown nodegroup "nope""#
        );
        assert_eq!(
            err("u", nodegroup),
            r#"Failed nodegroup expansion: unknown nodegroup "nope""#
        );
        assert_eq!(
            err("web* and N@gone", TgtType::Compound),
            r#"Failed nodegroup expansion: unknown nodegroup "gone""#
        );
        assert!(err("bad", nodegroup).contains("neither a string nor a list"));
        assert!(err("badlist", nodegroup).contains("neither a string nor a list"));
        // No nodegroups configured at all.
        let none = Target::parse(&json!("ok"), nodegroup, &Value::Null, ":").map(|_| ());
        assert_eq!(
            none,
            Err(TargetError::UnknownNodegroup {
                name: "ok".to_string()
            })
        );
    }

    #[test]
    fn nodegroup_expansion_is_bounded() {
        // Each group uses the next one twice: 2^40 words if nothing stopped it.
        let mut groups = Map::new();
        for i in 0..40 {
            groups.insert(
                format!("d{i}"),
                json!(format!("N@d{} or N@d{}", i + 1, i + 1)),
            );
        }
        groups.insert("d40".to_string(), json!("web*"));
        let start = Instant::now();
        let result = Target::parse(
            &json!("d0"),
            TgtType::Nodegroup,
            &Value::Object(groups),
            ":",
        );
        assert!(matches!(result, Err(TargetError::TooLong { .. })));
        assert!(start.elapsed() < Duration::from_secs(2));
        // A chain deeper than brine follows.
        let mut groups = Map::new();
        for i in 0..100 {
            groups.insert(format!("c{i}"), json!(format!("N@c{}", i + 1)));
        }
        groups.insert("c100".to_string(), json!("web*"));
        let result = Target::parse(
            &json!("c0"),
            TgtType::Nodegroup,
            &Value::Object(groups),
            ":",
        );
        assert!(matches!(result, Err(TargetError::NodegroupTooDeep { .. })));
    }

    #[test]
    fn hostile_expressions_fail_fast_without_blowing_the_stack() {
        let fx = fixture();
        let start = Instant::now();
        let opens = "( ".repeat(100_000);
        assert!(matches!(compound(&opens), Err(TargetError::TooLong { .. })));
        let opens = "( ".repeat(30_000);
        assert!(matches!(
            compound(&opens),
            Err(TargetError::InvalidCompound { .. })
        ));
        let nots = "not ".repeat(16_000);
        assert!(matches!(
            compound(&nots),
            Err(TargetError::InvalidCompound { .. })
        ));
        let nots = "not ".repeat(100_000);
        assert!(matches!(compound(&nots), Err(TargetError::TooLong { .. })));
        let not_parens = format!("{}web*{}", "not ( ".repeat(5_000), " )".repeat(5_000));
        assert!(matches!(
            compound(&not_parens),
            Err(TargetError::InvalidCompound { .. })
        ));
        // Python's limit exactly: 200 nested brackets parse, 201 do not; `[]` opens one.
        let nested = |n: usize, inner: &str| format!("{}{inner}{}", "( ".repeat(n), " )".repeat(n));
        assert_eq!(fx.compound(&nested(200, "db1")), ["db1"]);
        assert_eq!(fx.compound(&format!("not {}", nested(199, "db1"))).len(), 4);
        assert!(compound(&nested(201, "db1")).is_err());
        assert!(compound(&nested(199, "S@bad")).is_ok());
        assert!(compound(&nested(200, "S@bad")).is_err());
        // Long flat expressions are fine.
        let flat = vec!["nomatch"; 5_000].join(" or ") + " or db1";
        assert!(flat.len() < MAX_EXPR_LEN);
        assert_eq!(fx.compound(&flat), ["db1"]);
        let too_long = "x".repeat(MAX_EXPR_LEN + 1);
        for tgt_type in TgtType::ALL {
            assert_eq!(
                Target::parse(&json!(too_long), tgt_type, &Value::Null, ":").map(|_| ()),
                Err(TargetError::TooLong {
                    len: MAX_EXPR_LEN + 1
                })
            );
        }
        // A grain pattern that recurses once per `*:` gives up (Salt's RecursionError)...
        let web1 = &fx.minions[0].1;
        let deep = format!("{}x", "*:".repeat(4_000));
        let target =
            Target::parse(&json!(deep), TgtType::Grain, &Value::Null, ":").expect("parses");
        assert!(!target.matches(WEB1, web1));
        let shallow = format!("{}ubuntu", "*:".repeat(10));
        let target =
            Target::parse(&json!(shallow), TgtType::Grain, &Value::Null, ":").expect("parses");
        assert!(target.matches(WEB1, web1));
        // ...and the master gives up on everyone, as Salt's check_minions does on an exception.
        let target = compound(&format!("G@{deep} or web*")).expect("parses");
        assert_eq!(fx.master_side(&target), (vec![], vec![]));
        // A long first key with many splits after it stays linear.
        let wide = format!("{}{}", "k".repeat(4_000), ":a".repeat(2_000));
        let target =
            Target::parse(&json!(wide), TgtType::Grain, &Value::Null, ":").expect("parses");
        assert!(!target.matches(WEB1, web1));
        // Grain text is bounded per target, across all its words.
        let long = format!("os:{}", "*".repeat(MAX_GRAIN_TEXT));
        assert!(matches!(
            Target::parse(&json!(long), TgtType::Grain, &Value::Null, ":"),
            Err(TargetError::GrainTextTooLong { .. })
        ));
        let many = vec!["G@os:ubuntu"; MAX_GRAIN_TEXT / 9 + 1].join(" or ");
        assert!(matches!(
            compound(&many),
            Err(TargetError::GrainTextTooLong { .. })
        ));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn grain_matching_follows_salt_3007_15() {
        let q1 = grains(json!({
            "os": "Ubuntu",
            "roles": ["web", {"name": "db", "port": 5432}],
            "ip_interfaces": {"eth0": ["10.0.0.5", "fe80::1"]},
            "num": 1e16, "ratio": 0.5, "small": 0.00001, "none": null, "flag": true,
            "deep": {"a": {"b": {"c": "x"}}},
            "list": [[1, 2], "three"],
            "Mixed Key": "v",
            "keys": {"alpha": 1, "beta": 2},
            "empty": {}, "quote": "it's",
        }));
        // (type, expression, Salt 3007.15's answer for this minion)
        let cases: &[(TgtType, &str, bool)] = &[
            (TgtType::Grain, "roles:db", false),
            (TgtType::Grain, "roles:name:db", true),
            (TgtType::Grain, "roles:0:web", true),
            (TgtType::Grain, "roles:-1:port:5432", true),
            (TgtType::Grain, "roles:2:web", false),
            (TgtType::Grain, "roles: 0 :web", true),
            (TgtType::Grain, "roles:0_0:web", true),
            (TgtType::Grain, "num:1e+16", true),
            (TgtType::Grain, "ratio:0.5", true),
            (TgtType::Grain, "small:1e-05", true),
            (TgtType::Grain, "none:none", true),
            (TgtType::Grain, "flag:TRUE", true),
            (TgtType::Grain, "list:?1, 2?", true),
            (TgtType::Grain, "roles:*'port': 5432*", true),
            (TgtType::Grain, "keys:al*", true),
            (TgtType::Grain, "keys:*", true),
            (TgtType::Grain, "keys:gamma", false),
            (TgtType::Grain, "*:ubuntu", true),
            (TgtType::Grain, "*:*:ubuntu", true),
            (TgtType::Grain, "deep:a:b:c:x", true),
            (TgtType::Grain, "deep:*:c:x", false),
            (TgtType::Grain, "deep:a:*", true),
            (TgtType::Grain, "*:a:b:c:x", true),
            (TgtType::Grain, "*:c:x", false),
            (TgtType::Grain, "'os':ubuntu", true),
            (TgtType::Grain, "\"os\":ubuntu", true),
            (TgtType::Grain, " os:ubuntu", true),
            (TgtType::Grain, "os :ubuntu", true),
            (TgtType::Grain, "Mixed Key:v", true),
            (TgtType::Grain, "mixed key:v", false),
            (TgtType::Grain, "ip_interfaces:eth0:fe80::1", true),
            (TgtType::Grain, "empty:*", false),
            (TgtType::Grain, "empty:x", false),
            (TgtType::Grain, "quote:IT'S", true),
            (TgtType::Grain, "os:ubu*", true),
            (TgtType::Grain, "os:[u]buntu", true),
            (TgtType::Grain, "os", false),
            (TgtType::Grain, "os:", false),
            (TgtType::Grain, ":ubuntu", false),
            (TgtType::Grain, "nosuch:*", false),
            (TgtType::Grain, "keys:beta:2", true),
            (TgtType::Grain, "keys:*:2", true),
            (TgtType::Grain, "roles:web*", true),
            (TgtType::Grain, "ip_interfaces:*:10.0.0.5", true),
            (TgtType::Grain, "ip_interfaces:*:*", true),
            (TgtType::Grain, "*:*:*:x", false),
            (TgtType::GrainPcre, "os:U", true),
            (TgtType::GrainPcre, r"os:\D", false),
            (TgtType::GrainPcre, "os:ubu(", false),
            (TgtType::GrainPcre, "roles:.*port", true),
            (TgtType::GrainPcre, "keys:a.*", true),
            (TgtType::GrainPcre, r"os:\Z", false),
            (TgtType::GrainPcre, "os:ubuntu$", true),
            (TgtType::GrainPcre, "os:(?i)UBUNTU", true),
            (TgtType::GrainPcre, r"num:1e\+16", true),
            (TgtType::Compound, "P@os:ubu( or G@os:ubuntu", true),
        ];
        for (tgt_type, expr, want) in cases {
            let target = Target::parse(&json!(expr), *tgt_type, &Value::Null, ":").expect("parses");
            assert_eq!(target.matches("q1", &q1), *want, "{tgt_type} {expr:?}");
        }
    }

    #[test]
    fn ipcidr_reads_addresses_as_pythons_ipaddress() {
        let q1 = grains(json!({"ipv4": "10.0.0.5", "ipv6": ["FE80::1", "2001:db8::1"]}));
        // (target, Salt 3007.15's answer)
        let cases: &[(&str, bool)] = &[
            ("fe80::1", false), // compared as text, and the grain is upper case
            ("2001:db8::/32", true),
            ("10.0.0.5", true),
            ("0.0.0.5", true), // a string grain: `in` is a substring test
            ("10.0.0.0/8", true),
            ("10.0.0.0/255.0.0.0", true),
            ("10.0.0.0/0.255.255.255", true),
            ("10.0.0.1/8", false), // host bits set: not a network
            ("::/0", true),
            ("0.0.0.0/0", true),
            ("2001:db8::1%eth0", false),
            ("010.0.0.5", false),
        ];
        for (tgt, want) in cases {
            let target =
                Target::parse(&json!(tgt), TgtType::Ipcidr, &Value::Null, ":").expect("parses");
            assert_eq!(target.matches("q1", &q1), *want, "{tgt}");
        }
        // Entries are parsed in order until one is inside; one that does not parse raises.
        let fleet = [
            ("a", json!({"ipv4": ["bogus", "10.0.0.5"]})),
            ("b", json!({"ipv4": ["10.0.0.5", "bogus"]})),
            ("c", json!({"ipv4": 5})),
            ("d", json!({"ipv4": [167772165]})),
            ("f", json!({"ipv4": {"10.0.0.5": 1}})),
            ("g", json!({"ipv4": [true]})),
            ("h", json!({"ipv6": ["::ffff:10.0.0.5"]})),
        ];
        let matching = |tgt: &str, tgt_type| {
            let target = Target::parse(&json!(tgt), tgt_type, &Value::Null, ":").expect("parses");
            fleet
                .iter()
                .filter(|(id, g)| target.matches(id, &grains(g.clone())))
                .map(|(id, _)| *id)
                .collect::<Vec<_>>()
        };
        assert_eq!(matching("10.0.0.0/8", TgtType::Ipcidr), ["b", "d"]);
        assert_eq!(matching("10.0.0.5", TgtType::Ipcidr), ["a", "b", "f"]);
        assert_eq!(matching("0.0.0.0/31", TgtType::Ipcidr), ["g"]);
        assert_eq!(matching("::ffff:0:0/96", TgtType::Ipcidr), ["h"]);
        assert_eq!(matching("::ffff:a00:5", TgtType::Ipcidr), [] as [&str; 0]);
        // A raising operand fails the whole expression on that minion.
        assert_eq!(
            matching("S@10.0.0.0/8 or L@a,b,c,d,f,g,h", TgtType::Compound),
            ["b", "c", "d", "g", "h"]
        );
        // ...and on the master, the whole target.
        let accepted: Vec<String> = fleet.iter().map(|(id, _)| id.to_string()).collect();
        let cached: Vec<Map<String, Value>> =
            fleet.iter().map(|(_, g)| grains(g.clone())).collect();
        let lookup = |id: &str| accepted.iter().position(|a| a == id).map(|i| &cached[i]);
        let target = compound("S@10.0.0.0/8 or L@a,b").expect("parses");
        assert_eq!(target.expected(&accepted, &lookup), (vec![], vec![]));
    }

    #[test]
    fn addresses_print_as_python_prints_them() {
        let cases = [
            ("::ffff:1.2.3.4", "::ffff:102:304"),
            ("FE80::1%eth0", "fe80::1%eth0"),
            ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("1::", "1::"),
            ("::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"),
            ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
            ("10.0.0.5", "10.0.0.5"),
        ];
        for (text, shown) in cases {
            let address = ip::Address::parse(text).expect(text);
            assert_eq!(address.to_string(), shown, "{text}");
        }
        for bad in [
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1::",
            "::1:",
            "12345::",
            "1.2.3",
            "1.2.3.256",
            "01.2.3.4",
            "::%",
            "fe80::1%a%b",
            "1.2.3.4/32",
            "",
        ] {
            assert!(ip::Address::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn pcre_is_anchored_at_the_start_only() {
        let fx = fixture();
        let pcre = |p: &str| fx.minion_side(&json!(p), TgtType::Pcre);
        assert_eq!(pcre("web"), [WEB1, WEB2]);
        assert_eq!(pcre("example"), [] as [&str; 0]);
        assert_eq!(pcre("(?i)WEB1"), [WEB1]);
        assert_eq!(pcre("(?i)(?s)DB1$"), ["db1"]);
        assert_eq!(fx.compound("E@web|db"), [WEB1, WEB2, "db1"]);
        // A regex that does not compile fails the target (Salt's re.error propagates).
        let err = |p: &str| {
            Target::parse(&json!(p), TgtType::Pcre, &Value::Null, ":")
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("web("), r#"Invalid pcre target "web(": unclosed group"#);
        assert!(err("(?=web)").starts_with(r#"Invalid pcre target "(?=web)": "#));
        assert!(err("(?i)a)(").starts_with("Invalid pcre target"));
        assert!(matches!(
            compound("web* or E@("),
            Err(TargetError::BadRegex { .. })
        ));
    }

    #[test]
    fn lists_are_salts_substring_tests() {
        let fx = fixture();
        let list = |t: &str| fx.minion_side(&json!(t), TgtType::List);
        assert_eq!(list("web1.example.com,db1"), [WEB1, "db1"]);
        assert_eq!(list("db1,"), ["db1"]);
        assert_eq!(list(",db1"), ["db1"]);
        assert_eq!(list("x,db1,y"), ["db1"]);
        assert_eq!(list("db"), [] as [&str; 0]);
        assert_eq!(list("web1.example.com,,db1"), [WEB1, "db1"]);
        assert_eq!(fx.compound("L@,db1,"), ["db1"]);
        let real = fx.minion_side(&json!(["db1", WEB1, 5]), TgtType::List);
        assert_eq!(real, [WEB1, "db1"]);
        let words = fx.minion_side(
            &json!(["web*", "and", "not", "G@os:Ubuntu"]),
            TgtType::Compound,
        );
        assert_eq!(words, [WEB2]);
    }

    #[test]
    fn type_names_round_trip() {
        for t in TgtType::ALL {
            assert_eq!(TgtType::from_name(t.name()), Some(t));
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!(TgtType::from_name("grain_pcre"), Some(TgtType::GrainPcre));
        assert_eq!(TgtType::from_name("pillar"), None);
        assert_eq!(TgtType::from_name("Glob"), None);
    }

    #[test]
    fn errors_are_one_line() {
        let err = compound("and\nweb*\t").map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), "Invalid compound target: and web*");
        let long = format!("and {}", "x".repeat(1000));
        let shown = compound(&long).map(|_| ()).unwrap_err().to_string();
        assert!(
            shown.ends_with('…') && shown.chars().count() < 240,
            "{shown}"
        );
        let err = Target::parse(&json!(5), TgtType::Glob, &Value::Null, ":").map(|_| ());
        assert_eq!(
            err.unwrap_err().to_string(),
            "A glob target must be a string"
        );
        let err = Target::parse(&json!({}), TgtType::List, &Value::Null, ":").map(|_| ());
        assert_eq!(
            err.unwrap_err().to_string(),
            "A list target must be a string or a list of strings"
        );
        let err = Target::parse(&json!(["a", 1]), TgtType::Compound, &Value::Null, ":");
        assert!(matches!(err, Err(TargetError::NotAString { .. })));
    }

    #[test]
    fn targets_clone_and_match_alike() {
        let fx = fixture();
        let target = compound("G@os:Ubuntu or P@os:cent.*").expect("parses");
        let copy = target.clone();
        for (id, grains) in &fx.minions {
            assert_eq!(target.matches(id, grains), copy.matches(id, grains), "{id}");
        }
    }

    #[test]
    fn fuzz_entry_survives_odd_input() {
        for data in [
            &b"web* and ( G@roles:web* or N@nested ) not S@10.0.0.0/8"[..],
            b"N@cycle or N@lost or N@bad or N@d1 or N@re",
            b"[\"L@db1\", \"or\", \"N@lst\"]",
            b"*:*:*:*:*:x",
            b"\xff\xfe( not",
            b"",
        ] {
            fuzz_compound(data);
        }
    }
}
