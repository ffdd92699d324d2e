//! Tag matching as Salt does it: Python's `fnmatch` (the reactor), `expr_match` (glob or
//! anchored regex, `state.event`), and the listener match types of `get_event` (salt-spec §1.4,
//! §1.6, §4.2).
//!
//! Globs are compiled once into segments split at `*` and matched without backtracking: `*` is
//! fnmatch's only variable-length token, so placing each fixed-length segment at its leftmost
//! occurrence is enough, and `*a*a*a*b` costs a scan, not an exponential search. Regexes are
//! written in Python's `re` dialect by users; [`python_regex`] rewrites the parts where Rust's
//! `regex` reads the same text differently, and rejects what Python itself would reject.

pub mod rules;

pub use rules::RuleSet;

use std::fmt;

use regex::{Regex, RegexBuilder};

/// Ceiling on a compiled regex, so a hostile subscription cannot eat the daemon's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

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

// ---------------------------------------------------------------------------------------------
// fnmatch

/// A set of chars from `[...]`; singles are stored as one-char ranges, sorted and merged.
#[derive(Clone, Debug)]
struct Class {
    negated: bool,
    ranges: Box<[(char, char)]>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// One fixed-width position of a glob.
#[derive(Clone, Debug)]
enum Atom {
    Char(char),
    Any,
    Class(Class),
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Char(want) => *want == c,
            Atom::Any => true,
            Atom::Class(class) => class.matches(c),
        }
    }
}

/// A run of atoms between two `*`: it always covers exactly `atoms.len()` chars.
#[derive(Clone, Debug)]
struct Segment {
    atoms: Box<[Atom]>,
    /// The same segment as text when it has no wildcard, so `str` search does the work.
    lit: Option<Box<str>>,
}

impl Segment {
    fn new(atoms: Vec<Atom>) -> Segment {
        let lit = atoms
            .iter()
            .map(|a| match a {
                Atom::Char(c) => Some(*c),
                _ => None,
            })
            .collect::<Option<String>>()
            .map(String::into_boxed_str);
        Segment {
            atoms: atoms.into_boxed_slice(),
            lit,
        }
    }

    /// Where the segment ends if it matches `s` starting at byte `at` (a char boundary).
    fn match_at(&self, s: &str, at: usize) -> Option<usize> {
        let rest = &s[at..];
        if let Some(lit) = &self.lit {
            return rest.starts_with(&**lit).then(|| at + lit.len());
        }
        let mut chars = rest.chars();
        let mut end = at;
        for atom in self.atoms.iter() {
            let c = chars.next()?;
            if !atom.matches(c) {
                return None;
            }
            end += c.len_utf8();
        }
        Some(end)
    }

    /// End of the leftmost match in `hay` at or after byte `from`.
    fn find(&self, hay: &str, from: usize) -> Option<usize> {
        if let Some(lit) = &self.lit {
            return hay[from..].find(&**lit).map(|i| from + i + lit.len());
        }
        hay[from..]
            .char_indices()
            .find_map(|(i, _)| self.match_at(hay, from + i))
    }

    /// The byte where the segment must start to end exactly at the end of `s`.
    fn start_from_end(&self, s: &str) -> Option<usize> {
        if let Some(lit) = &self.lit {
            return s.ends_with(&**lit).then(|| s.len() - lit.len());
        }
        match self.atoms.len() {
            0 => Some(s.len()),
            n => s.char_indices().rev().nth(n - 1).map(|(i, _)| i),
        }
    }
}

/// A compiled fnmatch pattern: Python's `fnmatch.fnmatchcase`, exactly (POSIX, case-sensitive).
#[derive(Clone, Debug)]
pub struct Glob {
    pattern: Box<str>,
    /// Before the first `*` (the whole pattern when there is no `*`).
    head: Segment,
    /// Between the stars; each is placed at its leftmost occurrence.
    middle: Box<[Segment]>,
    /// After the last `*`; `None` when the pattern has no `*` at all.
    tail: Option<Segment>,
    prefix: Box<str>,
    suffix: Box<str>,
    literal: bool,
}

/// A pattern token before it is grouped into segments.
enum Token {
    Atom(Atom),
    Star,
}

impl Glob {
    /// Compile an fnmatch pattern; every string is a valid pattern, as in Python.
    pub fn new(pattern: &str) -> Glob {
        let mut segments = vec![Vec::new()];
        let mut stars = 0;
        for token in tokenize(pattern) {
            match token {
                Token::Star => {
                    segments.push(Vec::new());
                    stars += 1;
                }
                Token::Atom(atom) => {
                    if let Some(last) = segments.last_mut() {
                        last.push(atom);
                    }
                }
            }
        }
        let mut segments: Vec<Segment> = segments.into_iter().map(Segment::new).collect();
        let tail = if stars > 0 { segments.pop() } else { None };
        let head = if segments.is_empty() {
            Segment::new(Vec::new())
        } else {
            segments.remove(0)
        };
        let literal = tail.is_none() && head.lit.is_some();
        let prefix = leading_chars(&head.atoms);
        let suffix = trailing_chars(&tail.as_ref().unwrap_or(&head).atoms);
        Glob {
            pattern: pattern.into(),
            head,
            middle: segments.into_boxed_slice(),
            tail,
            prefix: prefix.into(),
            suffix: suffix.into(),
            literal,
        }
    }

    /// Whether `s` matches the whole pattern.
    pub fn is_match(&self, s: &str) -> bool {
        let Some(tail) = &self.tail else {
            return self.head.match_at(s, 0) == Some(s.len());
        };
        let Some(mut pos) = self.head.match_at(s, 0) else {
            return false;
        };
        // The tail is pinned to the end, so the middle segments may only use what lies between.
        let Some(tail_start) = tail.start_from_end(s) else {
            return false;
        };
        if tail_start < pos || tail.match_at(s, tail_start).is_none() {
            return false;
        }
        let hay = &s[..tail_start];
        for segment in self.middle.iter() {
            match segment.find(hay, pos) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }

    /// The pattern text as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The one string this pattern matches, when it has no wildcard (`a[*]` gives `a*`).
    pub fn literal(&self) -> Option<&str> {
        self.literal.then_some(&*self.prefix)
    }

    /// The text every match starts with: the literal chars before the first wildcard.
    pub fn literal_prefix(&self) -> &str {
        &self.prefix
    }

    /// The text every match ends with: the literal chars after the last wildcard.
    pub fn literal_suffix(&self) -> &str {
        &self.suffix
    }
}

/// Python's `fnmatch.fnmatchcase(name, pattern)`, compiling the pattern for this one call.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    Glob::new(pattern).is_match(name)
}

fn leading_chars(atoms: &[Atom]) -> String {
    atoms
        .iter()
        .map_while(|a| match a {
            Atom::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn trailing_chars(atoms: &[Atom]) -> String {
    let start = atoms
        .iter()
        .rposition(|a| !matches!(a, Atom::Char(_)))
        .map_or(0, |i| i + 1);
    leading_chars(&atoms[start..])
}

/// Splits a pattern as `fnmatch.translate` does; runs of `*` collapse to one.
fn tokenize(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                if !matches!(tokens.last(), Some(Token::Star)) {
                    tokens.push(Token::Star);
                }
            }
            '?' => tokens.push(Token::Atom(Atom::Any)),
            '[' => {
                // `!` and then `]` right after the bracket belong to the set, not its end.
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    // No closing bracket: Python matches the `[` literally.
                    tokens.push(Token::Atom(Atom::Char('[')));
                } else {
                    tokens.push(Token::Atom(class(&chars[i..j])));
                    i = j + 1;
                }
            }
            // Backslash is an ordinary char: fnmatch has no escapes (`[*]` is how to quote).
            _ => tokens.push(Token::Atom(Atom::Char(c))),
        }
    }
    tokens
}

/// The body of `[...]`, read the way `fnmatch.translate` reads it.
fn class(body: &[char]) -> Atom {
    let negated = body.first() == Some(&'!');
    // Python splits the body at the hyphens that make ranges: a hyphen first (after `!`), last,
    // or straight after a range is literal. The chunks join with ranges from the last char of
    // one chunk to the first char of the next.
    let mut chunks: Vec<Vec<char>> = Vec::new();
    let mut start = 0;
    let mut k = if negated { 2 } else { 1 };
    while let Some(pos) = body
        .get(k..)
        .and_then(|rest| rest.iter().position(|&c| c == '-'))
        .map(|p| p + k)
    {
        chunks.push(body[start..pos].to_vec());
        start = pos + 1;
        k = pos + 3;
    }
    let rest = &body[start..];
    match chunks.last_mut() {
        Some(last) if rest.is_empty() => last.push('-'),
        _ => chunks.push(rest.to_vec()),
    }
    // A reversed range (`z-a`) matches nothing, and Python drops it with both its endpoints.
    for k in (1..chunks.len()).rev() {
        if let (Some(&a), Some(&b)) = (chunks[k - 1].last(), chunks[k].first()) {
            if a > b {
                let next = chunks.remove(k);
                chunks[k - 1].pop();
                chunks[k - 1].extend_from_slice(&next[1..]);
            }
        }
    }
    let mut ranges: Vec<(char, char)> = Vec::new();
    for (n, chunk) in chunks.iter().enumerate() {
        let skip = usize::from(n == 0 && negated);
        ranges.extend(chunk.iter().skip(skip).map(|&c| (c, c)));
        if let (Some(&lo), Some(&hi)) = (chunk.last(), chunks.get(n + 1).and_then(|c| c.first())) {
            ranges.push((lo, hi));
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(char, char)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1).saturating_add(1) => {
                last.1 = last.1.max(hi);
            }
            _ => merged.push((lo, hi)),
        }
    }
    // Fold the common quoting idiom `[*]` to a plain char so it stays in the literal prefix.
    match (negated, merged.as_slice()) {
        (false, &[(lo, hi)]) if lo == hi => Atom::Char(lo),
        (true, []) => Atom::Any,
        _ => Atom::Class(Class {
            negated,
            ranges: merged.into_boxed_slice(),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Python regexes

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Rewrite a Python `re` pattern for Rust's `regex`, or say why Python would reject it.
///
/// The dialects agree on most syntax; this rewrites where the same text means different things
/// and refuses what Python refuses, so an invalid pattern never matches in Rust by accident.
/// Refused because Rust cannot express them (a refusal is "no match" for expr, an error for a
/// regex listener): lookaround `(?=` `(?!` `(?<=` `(?<!`, backreferences `\1` `(?P=n)`,
/// conditionals, atomic groups `(?>`, possessive repeats `a*+`, `\N{name}`. Still different,
/// and rare in tags: Python's `$` also matches before a final `\n`; `\w` `\d` `\s` differ at the
/// edges of Unicode; in verbose mode `(?x)` comments are scanned as syntax here.
fn python_regex(pattern: &str) -> Result<String, String> {
    /// What the previous token allows a quantifier to do.
    enum Prev {
        /// An atom: may be repeated.
        Atom,
        /// Start, `(`, `|`, or an assertion (`^ $ \A \Z \b \B`): Python says "nothing to repeat".
        Nothing,
        /// A quantifier: only a lazy `?` may follow.
        Repeat,
        /// A lazy quantifier: nothing may follow.
        Lazy,
    }
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut prev = Prev::Nothing;
    while let Some(c) = chars.next() {
        let quantifier = match c {
            '*' | '+' | '?' => Some(c.to_string()),
            '{' => counted_repeat(&mut chars),
            _ => None,
        };
        if let Some(q) = quantifier {
            prev = match prev {
                Prev::Atom => Prev::Repeat,
                Prev::Repeat if q == "?" => Prev::Lazy,
                // Python 3.11 reads `a*+` as possessive, Rust as `(a*)+`, which matches more.
                Prev::Repeat if q == "+" => {
                    return Err("possessive repeats are not supported".into())
                }
                Prev::Nothing => return Err("nothing to repeat".into()),
                Prev::Repeat | Prev::Lazy => return Err("multiple repeat".into()),
            };
            out.push_str(&q);
            continue;
        }
        prev = Prev::Atom;
        match c {
            '\\' => match chars.next().ok_or("bad escape (end of pattern)")? {
                // Python's `\Z` is the very end of the string: Rust's `\z`.
                'Z' => {
                    out.push_str(r"\z");
                    prev = Prev::Nothing;
                }
                e @ ('A' | 'b' | 'B') => {
                    out.push('\\');
                    out.push(e);
                    prev = Prev::Nothing;
                }
                e @ ('d' | 'D' | 's' | 'S' | 'w' | 'W') => {
                    out.push('\\');
                    out.push(e);
                }
                // Three octal digits are a char in Python; anything else is a group reference.
                e @ '1'..='7' if octal_follows(&chars) => {
                    push_literal(&mut out, escaped_char(e, &mut chars)?)
                }
                '1'..='9' => return Err("backreferences are not supported".into()),
                e => push_literal(&mut out, escaped_char(e, &mut chars)?),
            },
            '[' => set(&mut out, &mut chars)?,
            // Python reads `{` that does not start a valid count as a literal; Rust refuses it.
            '{' | '}' | ']' => push_literal(&mut out, c),
            '(' => {
                group_open(&chars)?;
                out.push('(');
                // `(?` opens an extension, not a repeat; its header chars pass through as atoms.
                if chars.next_if_eq(&'?').is_some() {
                    out.push('?');
                }
                prev = Prev::Nothing;
            }
            '|' | '^' | '$' => {
                out.push(c);
                prev = Prev::Nothing;
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// Whether two octal digits come next, making `\1`..`\7` before them an octal escape.
fn octal_follows(chars: &Chars<'_>) -> bool {
    let mut look = chars.clone();
    look.next().is_some_and(|c| c.is_digit(8)) && look.next().is_some_and(|c| c.is_digit(8))
}

/// The char a Python escape `\e` stands for, reading the digits it takes from `chars`.
fn escaped_char(e: char, chars: &mut Chars<'_>) -> Result<char, String> {
    /// Up to `max` digits (at least `min`) appended to `value`.
    fn digits(
        chars: &mut Chars<'_>,
        radix: u32,
        mut value: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, String> {
        for n in 0..max {
            match chars.peek().and_then(|c| c.to_digit(radix)) {
                Some(d) => {
                    chars.next();
                    value = value * radix + d;
                }
                None if n < min => return Err("incomplete escape".into()),
                None => break,
            }
        }
        Ok(value)
    }
    let value = match e {
        'a' => 0x07,
        'f' => 0x0c,
        'n' => 0x0a,
        'r' => 0x0d,
        't' => 0x09,
        'v' => 0x0b,
        'x' => digits(chars, 16, 0, 2, 2)?,
        'u' => digits(chars, 16, 0, 4, 4)?,
        'U' => digits(chars, 16, 0, 8, 8)?,
        // `\0`, and inside a set `\1` to `\7`: octal, three digits at most.
        '0'..='7' => match digits(chars, 8, u32::from(e) - u32::from('0'), 0, 2)? {
            v if v > 0o377 => return Err(format!("octal escape value {v:o} outside of range")),
            v => v,
        },
        // Any other ASCII letter or digit is an error in Python (`\e`, `\p`, `\z`), and Rust has
        // no `\N{name}`; any other char stands for itself (`\.`, `\<`, `\é`).
        'N' => return Err(r"named escapes \N{...} are not supported".into()),
        e if e.is_ascii_alphanumeric() => return Err(format!("bad escape \\{e}")),
        e => return Ok(e),
    };
    char::from_u32(value).ok_or_else(|| format!("bad escape: {value:#x} is not a char"))
}

/// Emit `c` so that Rust reads it as that one char wherever it stands, in a set or not.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else if c.is_ascii_graphic() && !matches!(c, '<' | '>') {
        // Rust allows `\` before any ASCII punctuation but `<` `>` (word boundaries).
        out.push('\\');
        out.push(c);
    } else {
        // Spaces, controls and non-ASCII: a hex escape survives verbose mode and sets alike.
        out.push_str(&format!("\\x{{{:x}}}", u32::from(c)));
    }
}

/// One member of a Python set: a char, or a class escape like `\d`.
enum Member {
    Char(char),
    Class(char),
}

/// Copy a Python `[...]` set (its `[` already read) member by member.
///
/// Python reads `[`, `&&`, `~~` and `--` in a set as plain chars (with a warning), Rust as
/// nested sets and set operations, so every char is re-emitted quoted.
fn set(out: &mut String, chars: &mut Chars<'_>) -> Result<(), String> {
    const UNTERMINATED: &str = "unterminated character set";
    fn member(c: char, chars: &mut Chars<'_>) -> Result<Member, String> {
        if c != '\\' {
            return Ok(Member::Char(c));
        }
        Ok(match chars.next().ok_or(UNTERMINATED)? {
            e @ ('d' | 'D' | 's' | 'S' | 'w' | 'W') => Member::Class(e),
            // Inside a set Python's `\b` is a backspace.
            'b' => Member::Char('\x08'),
            e => Member::Char(escaped_char(e, chars)?),
        })
    }
    fn push(out: &mut String, m: Member) {
        match m {
            Member::Char(c) => push_literal(out, c),
            Member::Class(e) => {
                out.push('\\');
                out.push(e);
            }
        }
    }
    out.push('[');
    if chars.next_if_eq(&'^').is_some() {
        out.push('^');
    }
    // A `]` straight after `[` or `[^` is a member, not the end.
    let mut first = true;
    loop {
        let c = chars.next().ok_or(UNTERMINATED)?;
        if c == ']' && !first {
            break;
        }
        first = false;
        let lo = member(c, chars)?;
        if chars.next_if_eq(&'-').is_none() {
            push(out, lo);
            continue;
        }
        match chars.peek() {
            None => return Err(UNTERMINATED.into()),
            // A `-` before the closing `]` is a member.
            Some(']') => {
                push(out, lo);
                push_literal(out, '-');
            }
            Some(_) => {
                let c = chars.next().ok_or(UNTERMINATED)?;
                match (lo, member(c, chars)?) {
                    (Member::Char(a), Member::Char(b)) if a <= b => {
                        push_literal(out, a);
                        out.push('-');
                        push_literal(out, b);
                    }
                    _ => return Err("bad character range".into()),
                }
            }
        }
    }
    out.push(']');
    Ok(())
}

/// After `{`: consume a Python counted repeat (`{m}`, `{m,}`, `{,n}`, `{m,n}`) and return it in
/// Rust's spelling, or consume nothing when the brace is a literal.
fn counted_repeat(chars: &mut Chars<'_>) -> Option<String> {
    let mut look = chars.clone();
    let lo: String = std::iter::from_fn(|| look.next_if(char::is_ascii_digit)).collect();
    let comma = look.next_if_eq(&',').is_some();
    let hi: String = std::iter::from_fn(|| look.next_if(char::is_ascii_digit)).collect();
    if look.next_if_eq(&'}').is_none() || (lo.is_empty() && !comma) {
        return None;
    }
    *chars = look;
    let lo = if lo.is_empty() { "0" } else { &lo };
    Some(if comma {
        format!("{{{lo},{hi}}}")
    } else {
        format!("{{{lo}}}")
    })
}

/// Refuse the group openings Rust accepts but Python 3.11 does not.
fn group_open(chars: &Chars<'_>) -> Result<(), String> {
    let mut look = chars.clone();
    if look.next() != Some('?') {
        return Ok(());
    }
    let mut flags = 0;
    while look.next_if(|c| "aiLmsux-".contains(*c)).is_some() {
        flags += 1;
    }
    match look.next() {
        // Our patterns always start with `\A` or `^`, so a global flag group like `(?i)` is
        // never at the start, which Python 3.11 rejects; Rust would apply it from there on.
        Some(')') if flags > 0 => Err("global flags not at the start of the expression".into()),
        // Rust's `(?<name>` is Python's `(?P<name>`; Python rejects the short form.
        Some('<') if flags == 0 && !matches!(look.next(), Some('=' | '!')) => {
            Err("unknown extension ?<".into())
        }
        _ => Ok(()),
    }
}

/// Compile Python regex text for Rust, with the size ceiling.
pub(crate) fn compile_python(python: &str) -> Result<Regex, String> {
    let rust = python_regex(python)?;
    RegexBuilder::new(&rust)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            // The syntax message spans lines (pattern, caret); keep its last line, the reason.
            regex::Error::Syntax(msg) => {
                let last = msg.lines().last().unwrap_or_default();
                last.strip_prefix("error: ").unwrap_or(last).to_string()
            }
            other => other.to_string(),
        })
}

// ---------------------------------------------------------------------------------------------
// expr_match

/// A compiled `expr_match` expression: a glob, else the regex `\A<expr>\Z`.
#[derive(Clone, Debug)]
struct Expr {
    glob: Glob,
    /// `None` when Python's `re` would raise: Salt swallows the error and the regex never matches.
    regex: Option<Regex>,
}

impl Expr {
    fn new(expr: &str) -> Expr {
        Expr {
            glob: Glob::new(expr),
            regex: compile_python(&format!(r"\A{expr}\Z")).ok(),
        }
    }

    fn is_match(&self, tag: &str) -> bool {
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

// ---------------------------------------------------------------------------------------------
// Listener filters

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
enum Test {
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
