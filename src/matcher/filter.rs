//! The listener match types of `get_event` (`startswith`, `endswith`, `find`, `regex`,
//! `fnmatch`) as tag filters.

use super::*;

/// How a listener's tag is compared with each event's tag (salt-spec §1.4), plus state.event's glob-or-regex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    /// The event tag starts with the pattern (Salt's default `event_match_type`).
    StartsWith,
    /// The event tag ends with the pattern.
    EndsWith,
    /// The pattern occurs anywhere in the event tag.
    Find,
    /// `re.search("^" + pattern, tag)`: a Python regex anchored at the start only.
    Regex,
    /// `fnmatch` over the whole tag.
    Fnmatch,
    /// `expr_match`: glob, else the regex `\A<pattern>\Z`.
    Expr,
}

impl MatchType {
    /// All of them, in the order of their names in docs and `--help`.
    pub const ALL: [MatchType; 6] = [
        MatchType::StartsWith,
        MatchType::EndsWith,
        MatchType::Find,
        MatchType::Regex,
        MatchType::Fnmatch,
        MatchType::Expr,
    ];

    /// Parse Salt's name for a match type (`startswith`, `endswith`, `find`, `regex`, `fnmatch`, `expr`).
    pub fn from_name(s: &str) -> Option<MatchType> {
        MatchType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// Salt's name for this match type.
    pub fn name(self) -> &'static str {
        match self {
            MatchType::StartsWith => "startswith",
            MatchType::EndsWith => "endswith",
            MatchType::Find => "find",
            MatchType::Regex => "regex",
            MatchType::Fnmatch => "fnmatch",
            MatchType::Expr => "expr",
        }
    }
}

/// The compiled form of each match type.
#[derive(Clone, Debug)]
pub(super) enum Test {
    All,
    StartsWith,
    EndsWith,
    Find,
    Regex(Regex),
    Glob(Glob),
    Expr(Expr),
}

/// A listener's subscription filter, compiled once and matched against every event's tag.
///
/// `is_match` does not allocate: it runs for every listener on every event.
#[derive(Clone, Debug)]
pub struct TagFilter {
    match_type: MatchType,
    pattern: Box<str>,
    test: Test,
}

impl TagFilter {
    /// Compile; a bad regex is an error naming the pattern.
    ///
    /// For `Expr`, `*` and the empty pattern match every tag. The empty one departs from
    /// `expr_match` (which gives only the empty tag) because a listener with no filter wants
    /// everything; a regex Python would reject is no error there, only never matches, as in Salt.
    pub fn new(match_type: MatchType, pattern: &str) -> Result<TagFilter, MatcherError> {
        let test = match match_type {
            MatchType::StartsWith | MatchType::Find if pattern.is_empty() => Test::All,
            MatchType::EndsWith if pattern.is_empty() => Test::All,
            MatchType::Expr if pattern.is_empty() || pattern == "*" => Test::All,
            MatchType::Fnmatch if pattern == "*" => Test::All,
            MatchType::StartsWith => Test::StartsWith,
            MatchType::EndsWith => Test::EndsWith,
            MatchType::Find => Test::Find,
            MatchType::Regex => {
                let regex = compile_python(&format!("^{pattern}")).map_err(|reason| {
                    MatcherError::BadRegex {
                        pattern: pattern.to_string(),
                        reason,
                    }
                })?;
                Test::Regex(regex)
            }
            MatchType::Fnmatch => Test::Glob(Glob::new(pattern)),
            MatchType::Expr => Test::Expr(Expr::new(pattern)),
        };
        Ok(TagFilter {
            match_type,
            pattern: pattern.into(),
            test,
        })
    }

    /// Whether an event with this tag passes the filter.
    pub fn is_match(&self, tag: &str) -> bool {
        match &self.test {
            Test::All => true,
            Test::StartsWith => tag.starts_with(&*self.pattern),
            Test::EndsWith => tag.ends_with(&*self.pattern),
            Test::Find => tag.contains(&*self.pattern),
            Test::Regex(regex) => regex.is_match(tag),
            Test::Glob(glob) => glob.is_match(tag),
            Test::Expr(expr) => expr.is_match(tag),
        }
    }

    /// True when it takes every tag.
    pub fn matches_all(&self) -> bool {
        matches!(self.test, Test::All)
    }

    /// The match type it was compiled with.
    pub fn match_type(&self) -> MatchType {
        self.match_type
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}
