//! Python's `fnmatch`, compiled once into segments split at `*` and matched without
//! backtracking.

/// A set of chars from `[...]`; singles are stored as one-char ranges, sorted and merged.
#[derive(Clone, Debug)]
pub(super) struct Class {
    pub(super) negated: bool,
    pub(super) ranges: Box<[(char, char)]>,
}

impl Class {
    pub(super) fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// One fixed-width position of a glob.
#[derive(Clone, Debug)]
pub(super) enum Atom {
    Char(char),
    Any,
    Class(Class),
}

impl Atom {
    pub(super) fn matches(&self, c: char) -> bool {
        match self {
            Atom::Char(want) => *want == c,
            Atom::Any => true,
            Atom::Class(class) => class.matches(c),
        }
    }
}

/// A run of atoms between two `*`: it always covers exactly `atoms.len()` chars.
#[derive(Clone, Debug)]
pub(super) struct Segment {
    pub(super) atoms: Box<[Atom]>,
    /// The same segment as text when it has no wildcard, so `str` search does the work.
    pub(super) lit: Option<Box<str>>,
}

impl Segment {
    pub(super) fn new(atoms: Vec<Atom>) -> Segment {
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
    pub(super) fn match_at(&self, s: &str, at: usize) -> Option<usize> {
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
    pub(super) fn find(&self, hay: &str, from: usize) -> Option<usize> {
        if let Some(lit) = &self.lit {
            return hay[from..].find(&**lit).map(|i| from + i + lit.len());
        }
        hay[from..]
            .char_indices()
            .find_map(|(i, _)| self.match_at(hay, from + i))
    }

    /// The byte where the segment must start to end exactly at the end of `s`.
    pub(super) fn start_from_end(&self, s: &str) -> Option<usize> {
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
pub(super) enum Token {
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

pub(super) fn leading_chars(atoms: &[Atom]) -> String {
    atoms
        .iter()
        .map_while(|a| match a {
            Atom::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

pub(super) fn trailing_chars(atoms: &[Atom]) -> String {
    let start = atoms
        .iter()
        .rposition(|a| !matches!(a, Atom::Char(_)))
        .map_or(0, |i| i + 1);
    leading_chars(&atoms[start..])
}

/// Splits a pattern as `fnmatch.translate` does; runs of `*` collapse to one.
pub(super) fn tokenize(pattern: &str) -> Vec<Token> {
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
pub(super) fn class(body: &[char]) -> Atom {
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
