//! Python `re` patterns rewritten for Rust's `regex`, refusing what Python refuses.

use super::*;

pub(super) type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Rewrite a Python `re` pattern for Rust's `regex`, or say why Python would reject it.
///
/// The dialects agree on most syntax; this rewrites where the same text means different things
/// and refuses what Python refuses, so an invalid pattern never matches in Rust by accident.
/// Refused because Rust cannot express them (a refusal is "no match" for expr, an error for a
/// regex listener): lookaround `(?=` `(?!` `(?<=` `(?<!`, backreferences `\1` `(?P=n)`,
/// conditionals, atomic groups `(?>`, possessive repeats `a*+`, `\N{name}`. Still different,
/// and rare in tags: Python's `$` also matches before a final `\n`; `\w` `\d` `\s` differ at the
/// edges of Unicode; in verbose mode `(?x)` comments are scanned as syntax here.
pub(super) fn python_regex(pattern: &str) -> Result<String, String> {
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
pub(super) fn octal_follows(chars: &Chars<'_>) -> bool {
    let mut look = chars.clone();
    look.next().is_some_and(|c| c.is_digit(8)) && look.next().is_some_and(|c| c.is_digit(8))
}

/// The char a Python escape `\e` stands for, reading the digits it takes from `chars`.
pub(super) fn escaped_char(e: char, chars: &mut Chars<'_>) -> Result<char, String> {
    /// Up to `max` digits (at least `min`) appended to `value`.
    pub(super) fn digits(
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
pub(super) fn push_literal(out: &mut String, c: char) {
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
pub(super) enum Member {
    Char(char),
    Class(char),
}

/// Copy a Python `[...]` set (its `[` already read) member by member.
///
/// Python reads `[`, `&&`, `~~` and `--` in a set as plain chars (with a warning), Rust as
/// nested sets and set operations, so every char is re-emitted quoted.
pub(super) fn set(out: &mut String, chars: &mut Chars<'_>) -> Result<(), String> {
    const UNTERMINATED: &str = "unterminated character set";
    pub(super) fn member(c: char, chars: &mut Chars<'_>) -> Result<Member, String> {
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
    pub(super) fn push(out: &mut String, m: Member) {
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
pub(super) fn counted_repeat(chars: &mut Chars<'_>) -> Option<String> {
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
pub(super) fn group_open(chars: &Chars<'_>) -> Result<(), String> {
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
