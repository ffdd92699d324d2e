//! Salt's `expr_match`: a glob, else the anchored regex `\A<expr>\Z` (`state.event`).

use super::*;

/// A compiled `expr_match` expression: a glob, else the regex `\A<expr>\Z`.
#[derive(Clone, Debug)]
pub(super) struct Expr {
    pub(super) glob: Glob,
    /// `None` when Python's `re` would raise: Salt swallows the error and the regex never matches.
    pub(super) regex: Option<Regex>,
}

impl Expr {
    pub(super) fn new(expr: &str) -> Expr {
        Expr {
            glob: Glob::new(expr),
            regex: compile_python(&format!(r"\A{expr}\Z")).ok(),
        }
    }

    pub(super) fn is_match(&self, tag: &str) -> bool {
        // Salt uses `re.match`, anchored at 0 only; the text is pasted, not grouped, so in
        // `\Aa|b\Z` the second branch may match elsewhere. A match at 0, if any, is leftmost.
        self.glob.is_match(tag)
            || self
                .regex
                .as_ref()
                .and_then(|re| re.find(tag))
                .is_some_and(|m| m.start() == 0)
    }
}

/// Salt's `salt.utils.stringutils.expr_match(tag, expr)`: fnmatch, else the regex `\A<expr>\Z`.
///
/// Salt 3007 has no separate equality test (older Salt did), so `[a]` does not match the tag
/// `[a]`.
pub fn expr_match(tag: &str, expr: &str) -> bool {
    Expr::new(expr).is_match(tag)
}
