//! Tag matching as Salt does it: Python's `fnmatch` (the reactor), `expr_match` (glob or
//! anchored regex, `state.event`), and the listener match types of `get_event` (salt-spec §1.4,
//! §1.6, §4.2).
//!
//! Globs are compiled once into segments split at `*` and matched without backtracking: `*` is
//! fnmatch's only variable-length token, so placing each fixed-length segment at its leftmost
//! occurrence is enough, and `*a*a*a*b` costs a scan, not an exponential search. Regexes are
//! written in Python's `re` dialect by users; [`python_regex`] rewrites the parts where Rust's
//! `regex` reads the same text differently, and rejects what Python itself would reject.

mod expr;
mod filter;
mod glob;
mod pyre;
pub mod rules;

pub use expr::expr_match;
pub use filter::{MatchType, TagFilter};
pub use glob::{fnmatch, Glob};
pub use rules::RuleSet;

pub(crate) use pyre::compile_python;

use expr::*;

use std::fmt;

use regex::{Regex, RegexBuilder};

/// Ceiling on a compiled regex, so a hostile subscription cannot eat the daemon's memory.
pub(super) const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Why a tag pattern could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatcherError {
    /// A `regex` listener's pattern that Python's `re` (or Rust's `regex`) rejects.
    BadRegex { pattern: String, reason: String },
}

impl fmt::Display for MatcherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatcherError::BadRegex { pattern, reason } => {
                // As typed: Debug quoting would double every backslash of `\d`.
                write!(f, "bad regex \"{pattern}\": {reason}")
            }
        }
    }
}

impl std::error::Error for MatcherError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::time::{Duration, Instant};

    /// Every case of a fixture whose answer differs from `ours`, as readable lines.
    fn disagreements(fixture: &str, key: &str, ours: impl Fn(&str, &str) -> bool) -> Vec<String> {
        let doc: Value = serde_json::from_str(fixture).expect("fixture is JSON");
        let cases = doc["cases"].as_array().expect("fixture has cases");
        assert!(!cases.is_empty());
        cases
            .iter()
            .filter_map(|case| {
                let pattern = case[key].as_str().expect("pattern");
                let tag = case["tag"].as_str().expect("tag");
                let want = case["match"].as_bool().expect("match");
                (ours(tag, pattern) != want)
                    .then(|| format!("{key} {pattern:?} tag {tag:?}: Salt says {want}"))
            })
            .collect()
    }

    #[test]
    fn fnmatch_agrees_with_python_on_every_fixture_case() {
        let bad = disagreements(
            include_str!("../../tests/fixtures/salt/fnmatch.json"),
            "pattern",
            fnmatch,
        );
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn expr_match_agrees_with_salt_on_every_fixture_case() {
        let bad = disagreements(
            include_str!("../../tests/fixtures/salt/expr_match.json"),
            "expr",
            expr_match,
        );
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn tag_filter_expr_agrees_with_expr_match_on_the_fixture() {
        let bad = disagreements(
            include_str!("../../tests/fixtures/salt/expr_match.json"),
            "expr",
            |tag, expr| {
                // The one deliberate difference: an empty filter is "no filter".
                expr.is_empty()
                    || TagFilter::new(MatchType::Expr, expr).is_ok_and(|f| f.is_match(tag))
            },
        );
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn fnmatch_sets_follow_python() {
        // (pattern, matches, does not match)
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("[abc]", &["a", "c"], &["d", "[", ""]),
            ("[!abc]", &["d", "/"], &["a", ""]),
            ("[a-c]x", &["bx"], &["dx"]),
            ("[]]", &["]"], &["["]),
            ("[!]]", &["a"], &["]"]),
            ("[]-a]", &["]", "^", "a"], &["b"]),
            ("[a-]", &["a", "-"], &["b"]),
            ("[-a]", &["a", "-"], &["b"]),
            ("[!-a]", &["b"], &["a", "-"]),
            ("[a-b-c]", &["a", "b", "-", "c"], &["d"]),
            ("[z-a]", &[], &["a", "b", "z", "-"]),
            ("[!z-a]", &["a", "z", "-"], &[""]),
            ("[az-ab]", &["a", "b"], &["z", "c"]),
            ("[\\-a]", &["\\", "_", "a"], &["-"]),
            ("[", &["["], &["a"]),
            ("[]", &["[]"], &["]"]),
            ("[!]", &["[!]"], &["a"]),
            ("a[b", &["a[b"], &["ab"]),
            ("[^a]", &["^", "a"], &["b"]),
            ("[&&~|]", &["&", "~", "|"], &["a"]),
            ("[à-é]", &["ä", "é"], &["a", "ê"]),
            ("?", &["é", "\n", "/"], &["", "ab"]),
        ];
        for (pattern, yes, no) in cases {
            let glob = Glob::new(pattern);
            for s in *yes {
                assert!(glob.is_match(s), "{pattern:?} should match {s:?}");
            }
            for s in *no {
                assert!(!glob.is_match(s), "{pattern:?} should not match {s:?}");
            }
        }
    }

    #[test]
    fn star_crosses_slashes_and_backslash_is_literal() {
        assert!(fnmatch("salt/job/1/ret/m1", "salt/job/*/ret/*"));
        assert!(fnmatch("salt/minion/a/b/start", "salt/minion/*/start"));
        assert!(fnmatch("a\\xb", "a\\*b"));
        assert!(!fnmatch("a*b", "a\\*b"));
        assert!(fnmatch("a*b", "a[*]b"));
        assert!(!fnmatch("Salt/auth", "salt/auth"));
        assert!(fnmatch("", "*"));
        assert!(fnmatch("", ""));
        assert!(!fnmatch("x", ""));
        assert!(fnmatch("aXbXc", "*b*"));
        assert!(!fnmatch("ab", "a*ba"), "tail must not overlap head");
        assert!(fnmatch("aba", "a*a"));
        assert!(!fnmatch("a", "a*a"));
    }

    #[test]
    fn stars_do_not_backtrack_exponentially() {
        let long = "a".repeat(10_000);
        let mut long_b = long.clone();
        long_b.push('c');
        let patterns = ["*a*a*a*a*a*a*a*b", "*a?a*[ab]a*a*a*a*?b*", "*?*?*?*?*?*?*b"];
        let start = Instant::now();
        for pattern in patterns {
            let glob = Glob::new(pattern);
            assert!(!glob.is_match(&long));
            assert!(!glob.is_match(&long_b));
        }
        assert!(Glob::new("*a*a*a*a*a*a*a*").is_match(&long));
        assert!(Glob::new("*a?a*[ab]a*a*a*a*?c").is_match(&long_b));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn literal_prefix_and_suffix() {
        // (pattern, literal, prefix, suffix)
        let cases = [
            ("salt/auth", Some("salt/auth"), "salt/auth", "salt/auth"),
            ("salt/job/*/ret/*", None, "salt/job/", ""),
            ("salt/minion/*/start", None, "salt/minion/", "/start"),
            ("*/start", None, "", "/start"),
            ("salt/?/x", None, "salt/", "/x"),
            ("a[bc]d*e[*]", None, "a", "e*"),
            ("a[*]b", Some("a*b"), "a*b", "a*b"),
            ("a[", Some("a["), "a[", "a["),
            ("a\\b", Some("a\\b"), "a\\b", "a\\b"),
            ("", Some(""), "", ""),
            ("*", None, "", ""),
            ("é*ü", None, "é", "ü"),
        ];
        for (pattern, literal, prefix, suffix) in cases {
            let glob = Glob::new(pattern);
            assert_eq!(glob.literal(), literal, "literal of {pattern:?}");
            assert_eq!(glob.literal_prefix(), prefix, "prefix of {pattern:?}");
            assert_eq!(glob.literal_suffix(), suffix, "suffix of {pattern:?}");
            assert_eq!(glob.pattern(), pattern);
        }
    }

    #[test]
    fn match_type_names_round_trip() {
        for t in MatchType::ALL {
            assert_eq!(MatchType::from_name(t.name()), Some(t));
        }
        assert_eq!(
            MatchType::from_name("startswith"),
            Some(MatchType::StartsWith)
        );
        assert_eq!(MatchType::from_name("StartsWith"), None);
        assert_eq!(MatchType::from_name("glob"), None);
    }

    fn filter(t: MatchType, pattern: &str) -> TagFilter {
        TagFilter::new(t, pattern).expect("compiles")
    }

    #[test]
    fn startswith_endswith_find() {
        let f = filter(MatchType::StartsWith, "salt/job/");
        assert!(f.is_match("salt/job/1/new"));
        assert!(!f.is_match("salt/jo"));
        assert!(filter(MatchType::StartsWith, "").is_match("anything"));
        assert!(filter(MatchType::StartsWith, "").is_match(""));
        let f = filter(MatchType::EndsWith, "/start");
        assert!(f.is_match("salt/minion/m1/start"));
        assert!(!f.is_match("salt/minion/m1/start/"));
        let f = filter(MatchType::Find, "/ret/");
        assert!(f.is_match("salt/job/1/ret/m1"));
        assert!(!f.is_match("salt/job/1/new"));
        assert_eq!(f.match_type(), MatchType::Find);
        assert_eq!(f.pattern(), "/ret/");
    }

    #[test]
    fn regex_is_anchored_at_the_start_only() {
        let f = filter(MatchType::Regex, r"salt/job/\d+/ret");
        assert!(f.is_match("salt/job/123/ret/m1"));
        assert!(!f.is_match("x/salt/job/123/ret"));
        // `"^" + pattern` is pasted, not grouped: the second branch searches anywhere.
        let f = filter(MatchType::Regex, "a|b");
        assert!(f.is_match("xxb"));
        assert!(!f.is_match("xxa"));
        assert!(filter(MatchType::Regex, "").is_match("anything"));
        assert!(filter(MatchType::Regex, r"salt\Z").is_match("salt"));
        assert!(!filter(MatchType::Regex, r"salt\Z").is_match("salty"));
    }

    #[test]
    fn bad_regex_is_an_error_naming_the_pattern() {
        let Err(err) = TagFilter::new(MatchType::Regex, "(") else {
            panic!("( compiled");
        };
        assert_eq!(err.to_string(), r#"bad regex "(": unclosed group"#);
        for pattern in [
            "(?=a)", r"(a)\1", "a**", "(?i)a", "*", "[a", r"\e", "(?<n>a)",
        ] {
            assert!(
                TagFilter::new(MatchType::Regex, pattern).is_err(),
                "{pattern:?}"
            );
        }
        let Err(err) = TagFilter::new(MatchType::Regex, r"x\d+\e") else {
            panic!("\\e compiled");
        };
        assert_eq!(err.to_string(), r#"bad regex "x\d+\e": bad escape \e"#);
        let huge = "a{1000}{1000}";
        assert!(TagFilter::new(MatchType::Regex, huge).is_err());
        let huge = "(?:a{1000}){1000}";
        assert!(TagFilter::new(MatchType::Regex, huge).is_err());
    }

    #[test]
    fn fnmatch_filter() {
        let f = filter(MatchType::Fnmatch, "salt/job/*/ret/*");
        assert!(f.is_match("salt/job/1/ret/m1"));
        assert!(!f.is_match("salt/job/1/new"));
        assert!(filter(MatchType::Fnmatch, "*").is_match(""));
        assert!(filter(MatchType::Fnmatch, "").is_match(""));
        assert!(!filter(MatchType::Fnmatch, "").is_match("x"));
    }

    #[test]
    fn expr_is_glob_or_whole_regex() {
        let f = filter(MatchType::Expr, r"salt/job/\d+/new");
        assert!(f.is_match("salt/job/123/new"));
        assert!(!f.is_match("salt/job/123/new/x"));
        assert!(filter(MatchType::Expr, "salt/job/*").is_match("salt/job/1/ret/m"));
        assert!(filter(MatchType::Expr, "*").is_match(""));
        assert!(filter(MatchType::Expr, "").is_match("salt/auth"));
        // A regex Python rejects is just "no match", never an error.
        let f = filter(MatchType::Expr, "(");
        assert!(f.is_match("("));
        assert!(!f.is_match("(("));
    }

    #[test]
    fn expr_match_reads_regexes_as_python_does() {
        // (tag, expr, Salt's answer, why)
        let cases = [
            ("ab", "a|b", true, "re.match of \\Aa|b\\Z stops after a"),
            ("b", "a|b", true, "second branch at 0"),
            ("xb", "a|b", false, "re.match is anchored at 0"),
            ("abc", "?abc", false, "\\A? is nothing to repeat in Python"),
            ("abc", "+abc", false, "\\A+ is nothing to repeat in Python"),
            ("abc", "(?i)ABC", false, "global flags not at start (3.11)"),
            ("abc", "(?i:ABC)", true, "scoped flags are fine"),
            ("a{", "a{", true, "fnmatch"),
            ("xa{", ".a{", true, "a lone { is a literal in Python"),
            ("xa{b}", ".a{b}", true, "{b} is not a count"),
            ("aaa", "a{,3}", true, "{,n} is {0,n}"),
            ("aaaa", "a{,3}", false, "{,n} is {0,n}"),
            ("a<", r".\<", true, "\\< is a literal in Python"),
            ("[x", r"[[]x", true, "fnmatch: [[] is the set of ["),
            ("[y", r".[[]y", false, "regex: [[] is a set of [ too"),
            ("y[", r"y[[]", true, "..."),
            ("a", r"a\Z", true, "\\Z is the end"),
            ("aZ", r"a\Z", false, "\\Z is not a literal"),
            ("a", "a$", true, "$ at the end"),
            ("xé", r".\é", true, "\\é is a literal in Python"),
            ("a\x08", r"a[\b]", true, "[\\b] is a backspace"),
            ("salt", "salt|", true, "empty branch"),
            ("aa", "(a)\\1", false, "backreference: Rust refuses"),
            ("ab", "a(?=b)b", false, "lookahead: Rust refuses"),
            ("a&", "a[&&]", true, "&& in a set is literal in Python"),
            ("a~", "a[~~]", true, "~~ in a set is literal in Python"),
            ("[a]", "[a]", false, "3007 has no equality test"),
            ("a", "[a]", true, "the set"),
            ("xA", r".\101", true, "three octal digits"),
            ("xA", r".\x41", true, "hex"),
            ("xa", r"(x)\1", false, "a backreference Rust cannot follow"),
            (
                "x-",
                r".[+--]",
                true,
                "+-- is a range in Python, not a difference",
            ),
            (
                "b",
                r"[a--b]",
                true,
                "fnmatch drops the reversed range a-- and its ends",
            ),
            (
                "a",
                r"[a--b]",
                false,
                "...so a is out, and the regex is a bad range",
            ),
            ("xa", r".[a--b]", false, "bad range"),
            (
                "x ",
                r"(?x:x[ ])",
                true,
                "a space in a set is kept in verbose mode",
            ),
        ];
        for (tag, expr, want, why) in cases {
            assert_eq!(expr_match(tag, expr), want, "{expr:?} vs {tag:?}: {why}");
        }
    }

    #[test]
    fn filters_are_cheap_to_share() {
        let f = filter(MatchType::Regex, "salt/.*");
        let g = f.clone();
        assert!(g.is_match("salt/auth"));
        assert_eq!(format!("{:?}", f.match_type()), "Regex");
    }
}
