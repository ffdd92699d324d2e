//! Python `re` patterns, flags and replacement templates for `file.replace`, on top of
//! fancy-regex (which has the lookaround and backreferences Python patterns use).
//!
//! Differences from Python's `re` that remain: classes such as `\w` and `\d` are Unicode
//! here, while Salt matches bytes (ASCII classes); an empty match right after a previous
//! match is skipped (Python 3.7+ replaces it too); `LOCALE` is ignored; fancy-regex spells a
//! few rare constructs differently (`(?P=name)` backreferences are taken as `\k<name>`).

use fancy_regex::{Captures, Regex, RegexBuilder};
use serde_json::Value;
use std::fmt;

/// Python's `re.IGNORECASE`.
const IGNORECASE: u32 = 2;
/// `re.MULTILINE` (Salt's default flags are exactly this).
pub const MULTILINE: u32 = 8;
/// `re.DOTALL`.
const DOTALL: u32 = 16;
/// `re.VERBOSE`.
const VERBOSE: u32 = 64;

/// Backtracking steps one match may take, so a pathological pattern fails instead of hanging.
const BACKTRACK_LIMIT: usize = 10_000_000;

/// Why a pattern, flag or template was refused; `Display` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReError {
    /// A flag name that `re.RegexFlag` lacks.
    Flag(String),
    /// The pattern does not compile.
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// The compiler's words.
        why: String,
    },
    /// The replacement template is malformed (`\g<` unclosed, a bad escape).
    Template(String),
    /// Matching gave up (the backtrack limit).
    Match(String),
}

impl fmt::Display for ReError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReError::Flag(s) => write!(f, "Invalid re flag given: {s}"),
            ReError::Pattern { pattern, why } => write!(f, "Invalid pattern '{pattern}': {why}"),
            ReError::Template(s) => write!(f, "Invalid replacement: {s}"),
            ReError::Match(s) => write!(f, "Matching failed: {s}"),
        }
    }
}

impl std::error::Error for ReError {}

/// Salt's `_get_flags`: an int as it is, a name or a list of names OR-ed (a list replaces
/// the default MULTILINE rather than adding to it).
pub fn flags(v: Option<&Value>) -> Result<u32, ReError> {
    let names: Vec<String> = match v {
        None | Some(Value::Null) => return Ok(MULTILINE),
        Some(Value::Number(n)) => {
            return n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| ReError::Flag(n.to_string()))
        }
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect(),
        Some(other) => return Err(ReError::Flag(other.to_string())),
    };
    let mut out = 0;
    for n in names {
        out |= match n.to_uppercase().as_str() {
            "A" | "ASCII" => 256,
            "I" | "IGNORECASE" => IGNORECASE,
            "L" | "LOCALE" => 4,
            "M" | "MULTILINE" => MULTILINE,
            "S" | "DOTALL" => DOTALL,
            "U" | "UNICODE" => 32,
            "X" | "VERBOSE" => VERBOSE,
            _ => return Err(ReError::Flag(n)),
        };
    }
    Ok(out)
}

/// The pattern in fancy-regex's dialect: `\Z` is `\z`, and without MULTILINE a bare `$`
/// also matches before a final newline, as Python's does.
fn translate(pattern: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') => out.push_str(r"\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` first in a class is a literal, as in Python.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str(r"\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '$' if !in_class && !multiline => out.push_str(r"(?=\n?\z)"),
            '(' if !in_class && chars.peek() == Some(&'?') => {
                // `(?P=name)` is a backreference in Python.
                let rest: String = chars.clone().take(3).collect();
                if rest == "?P=" {
                    for _ in 0..3 {
                        chars.next();
                    }
                    out.push_str(r"\k<");
                    for n in chars.by_ref() {
                        if n == ')' {
                            break;
                        }
                        out.push(n);
                    }
                    out.push('>');
                } else {
                    out.push('(');
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Compiles a Python pattern with Python flags.
pub fn compile(pattern: &str, flags: u32) -> Result<Regex, ReError> {
    let mut inline = String::new();
    for (bit, f) in [
        (IGNORECASE, 'i'),
        (MULTILINE, 'm'),
        (DOTALL, 's'),
        (VERBOSE, 'x'),
    ] {
        if flags & bit != 0 {
            inline.push(f);
        }
    }
    let body = translate(pattern, flags & MULTILINE != 0);
    let full = if inline.is_empty() {
        body
    } else {
        format!("(?{inline}){body}")
    };
    RegexBuilder::new(&full)
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
        .map_err(|e| ReError::Pattern {
            pattern: pattern.to_string(),
            why: e.to_string(),
        })
}

/// One piece of a parsed replacement template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// Literal text.
    Lit(String),
    /// A group by number.
    Num(usize),
    /// A group by name.
    Name(String),
}

/// Parses Python's replacement template: `\1`..`\99`, `\g<n>`, `\g<name>`, the character
/// escapes (`\n`, `\t`, ...), `\\`; an unknown escape of a non-letter stays as it is.
fn parse_template(repl: &str) -> Result<Vec<Piece>, ReError> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut it = repl.chars().peekable();
    let flush = |lit: &mut String, out: &mut Vec<Piece>| {
        if !lit.is_empty() {
            out.push(Piece::Lit(std::mem::take(lit)));
        }
    };
    while let Some(c) = it.next() {
        if c != '\\' {
            lit.push(c);
            continue;
        }
        let Some(n) = it.next() else {
            return Err(ReError::Template("bad escape (end of pattern)".into()));
        };
        match n {
            'g' => {
                if it.next() != Some('<') {
                    return Err(ReError::Template("missing <".into()));
                }
                let mut g = String::new();
                loop {
                    match it.next() {
                        Some('>') => break,
                        Some(x) => g.push(x),
                        None => {
                            return Err(ReError::Template("missing >, unterminated name".into()))
                        }
                    }
                }
                flush(&mut lit, &mut out);
                out.push(match g.parse::<usize>() {
                    Ok(i) => Piece::Num(i),
                    Err(_) => Piece::Name(g),
                });
            }
            '1'..='9' => {
                let mut num = n.to_digit(10).unwrap_or(0) as usize;
                if let Some(d) = it.peek().and_then(|d| d.to_digit(10)) {
                    num = num * 10 + d as usize;
                    it.next();
                }
                flush(&mut lit, &mut out);
                out.push(Piece::Num(num));
            }
            '0' => {
                // An octal escape of up to three digits.
                let mut v = 0u32;
                for _ in 0..2 {
                    match it.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            it.next();
                        }
                        None => break,
                    }
                }
                lit.push(char::from_u32(v).unwrap_or('\0'));
            }
            'n' => lit.push('\n'),
            't' => lit.push('\t'),
            'r' => lit.push('\r'),
            'f' => lit.push('\x0c'),
            'v' => lit.push('\x0b'),
            'a' => lit.push('\x07'),
            'b' => lit.push('\x08'),
            '\\' => lit.push('\\'),
            x if x.is_ascii_alphabetic() => {
                return Err(ReError::Template(format!("bad escape \\{x}")));
            }
            x => {
                lit.push('\\');
                lit.push(x);
            }
        }
    }
    flush(&mut lit, &mut out);
    Ok(out)
}

/// Python's `re.subn(pattern, repl, text, count)`: the new text and how many replacements
/// (count 0 is all).
pub fn subn(re: &Regex, repl: &str, text: &str, count: usize) -> Result<(String, usize), ReError> {
    let template = parse_template(repl)?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut n = 0;
    for caps in re.captures_iter(text) {
        if count != 0 && n == count {
            break;
        }
        let caps: Captures<'_, str> = caps.map_err(|e| ReError::Match(e.to_string()))?;
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        for p in &template {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Num(i) => {
                    if *i >= caps.len() {
                        return Err(ReError::Template(format!("invalid group reference {i}")));
                    }
                    out.push_str(caps.get(*i).map(|g| g.as_str()).unwrap_or(""));
                }
                Piece::Name(name) => {
                    out.push_str(caps.name(name).map(|g| g.as_str()).unwrap_or(""));
                }
            }
        }
        last = m.end();
        n += 1;
    }
    out.push_str(&text[last..]);
    Ok((out, n))
}

/// Whether the pattern matches anywhere in `text`.
pub fn search(re: &Regex, text: &str) -> Result<bool, ReError> {
    re.is_match(text).map_err(|e| ReError::Match(e.to_string()))
}

/// Python's `re.escape`: every character but ASCII letters, digits and `_` is escaped
/// where it means something; fancy-regex takes the escaped forms regex gives.
pub fn escape(s: &str) -> String {
    regex::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sub(p: &str, f: u32, r: &str, t: &str) -> (String, usize) {
        subn(&compile(p, f).expect("compile"), r, t, 0).expect("subn")
    }

    #[test]
    fn flags_as_salt_reads_them() {
        assert_eq!(flags(None), Ok(8));
        assert_eq!(flags(Some(&json!(10))), Ok(10));
        assert_eq!(flags(Some(&json!(["IGNORECASE", "MULTILINE"]))), Ok(10));
        assert_eq!(flags(Some(&json!("dotall"))), Ok(16));
        assert_eq!(
            flags(Some(&json!(["NOPE"]))),
            Err(ReError::Flag("NOPE".into()))
        );
    }

    #[test]
    fn python_templates_and_anchors() {
        assert_eq!(
            sub(r"^(\w+)=(\d+)$", 8, r"\2=\1", "port=80\n").0,
            "80=port\n"
        );
        assert_eq!(
            sub(r"(?P<k>\w+)=80", 8, r"\g<k>=8080", "port=80").0,
            "port=8080"
        );
        assert_eq!(sub("b", 8, r"x\ny", "abc").0, "ax\nyc");
        // Python's `$` without MULTILINE matches before a final newline.
        assert_eq!(sub("c$", 0, "C", "abc\n").0, "abC\n");
        assert_eq!(sub(r"c\Z", 0, "C", "abc\n").1, 0);
        assert_eq!(sub("(a)(?=b)", 8, r"[\1]", "ab ac").0, "[a]b ac");
    }
}
