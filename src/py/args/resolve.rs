//! PyYAML's implicit resolvers: which tag a plain scalar gets (null, bool, int, float, or
//! string), from its text.

use super::*;

/// PyYAML's implicit resolvers for a plain scalar, minus the timestamp one (Salt keeps strings).
pub(super) fn resolve(text: &str) -> Tag {
    let Some(first) = text.chars().next() else {
        return Tag::Null;
    };
    match first {
        'y' | 'Y' | 'n' | 'N' | 't' | 'T' | 'f' | 'F' | 'o' | 'O' if is_bool_word(text) => {
            Tag::Bool
        }
        'n' | 'N' | '~' if matches!(text, "~" | "null" | "Null" | "NULL") => Tag::Null,
        '-' | '+' | '0'..='9' | '.' if is_float_text(text) => Tag::Float,
        '-' | '+' | '0'..='9' if is_int_text(text) => Tag::Int,
        '<' if text == "<<" => Tag::Merge,
        '=' if text == "=" => Tag::YamlValue,
        _ => Tag::Str,
    }
}

/// `yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF`
pub(super) fn is_bool_word(text: &str) -> bool {
    matches!(
        text.to_ascii_lowercase().as_str(),
        "yes" | "no" | "true" | "false" | "on" | "off"
    ) && (text[1..] == text[1..].to_ascii_lowercase() || text == text.to_ascii_uppercase())
}

/// A tiny cursor for the resolver's regular expressions.
pub(super) struct Cur<'a>(&'a [u8]);

impl Cur<'_> {
    pub(super) fn eat(&mut self, set: &[u8]) -> bool {
        match self.0.split_first() {
            Some((b, rest)) if set.contains(b) => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }
    pub(super) fn eat_str(&mut self, s: &str) -> bool {
        let found = self.0.starts_with(s.as_bytes());
        if found {
            self.0 = &self.0[s.len()..];
        }
        found
    }
    /// `[set]*`
    pub(super) fn many(&mut self, set: &[u8]) {
        while self.eat(set) {}
    }
    pub(super) fn done(&self) -> bool {
        self.0.is_empty()
    }
    /// `(?::[0-5]?[0-9])+`
    pub(super) fn sexagesimal(&mut self) -> bool {
        let mut groups = 0;
        while self.eat(b":") {
            // A two-digit group starts 0-5; otherwise a single digit.
            let two = matches!(self.0, [b'0'..=b'5', b'0'..=b'9', ..]);
            if !self.eat(DIGITS) || (two && !self.eat(DIGITS)) {
                return false;
            }
            groups += 1;
        }
        groups > 0
    }
}

pub(super) const DIGITS: &[u8] = b"0123456789";
pub(super) const DIGITS_: &[u8] = b"0123456789_";

/// PyYAML's float regex.
pub(super) fn is_float_text(text: &str) -> bool {
    let exponent = |c: &mut Cur| {
        let save = c.0;
        if !(c.eat(b"eE") && c.eat(b"-+") && c.eat(DIGITS)) {
            c.0 = save;
            return;
        }
        c.many(DIGITS);
    };
    let b = text.as_bytes();
    // `.5`, `.inf`, `.nan` (only `.inf` may carry a sign)
    let mut c = Cur(b);
    if c.eat_str(".") {
        if c.eat(DIGITS) {
            c.many(DIGITS_);
            exponent(&mut c);
            return c.done();
        }
        return matches!(c.0, b"inf" | b"Inf" | b"INF" | b"nan" | b"NaN" | b"NAN");
    }
    let mut c = Cur(b);
    c.eat(b"-+");
    if c.eat_str(".") {
        return matches!(c.0, b"inf" | b"Inf" | b"INF");
    }
    if !c.eat(DIGITS) {
        return false;
    }
    c.many(DIGITS_);
    let rest = c.0;
    // `1.5`, `1_0.`, `1.0e+3`
    if c.eat(b".") {
        c.many(DIGITS_);
        exponent(&mut c);
        return c.done();
    }
    // `1:30.5`
    let mut c = Cur(rest);
    c.sexagesimal() && c.eat(b".") && {
        c.many(DIGITS_);
        c.done()
    }
}

/// PyYAML's int regex.
pub(super) fn is_int_text(text: &str) -> bool {
    let mut c = Cur(text.as_bytes());
    c.eat(b"-+");
    let body = c.0;
    let all = |c: &Cur, set: &[u8]| !c.0.is_empty() && c.0.iter().all(|b| set.contains(b));
    if c.eat_str("0b") {
        return all(&c, b"01_");
    }
    if c.eat_str("0x") {
        return all(&c, b"0123456789abcdefABCDEF_");
    }
    if c.eat_str("0") {
        return c.done() || all(&c, b"01234567_");
    }
    let mut c = Cur(body);
    if !c.eat(b"123456789") {
        return false;
    }
    c.many(DIGITS_);
    c.done() || (c.sexagesimal() && c.done())
}
