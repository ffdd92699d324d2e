//! PyYAML's dumper as Salt's yaml outputter calls it (`safe_dump`, block style, sorted keys).

use super::repr::py_number;
use super::sorted;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// yaml: libyaml's emitter (src/emitter.c, 0.2.5) as PyYAML's CSafeDumper drives it with
// default_flow_style=False, allow_unicode=True, width 80, indent 2. Only what plain data can
// reach is kept: no anchors, no tags, no block scalars, flow style only for empty collections.

/// `yaml.safe_dump(data, default_flow_style=False, allow_unicode=True)` as libyaml writes it.
pub fn dump(data: &Value) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        indent: -1,
        indents: Vec::new(),
    };
    e.node(data, false, false);
    e.write_indent();
    e.out
}

/// A YAML scalar's text and whether it may be written plain: a plain string must not read
/// back as another type (PyYAML's implicit resolvers), while numbers, bools and null must.
fn yaml_scalar(v: &Value) -> (String, bool) {
    match v {
        Value::Null => ("null".into(), true),
        Value::Bool(b) => ((if *b { "true" } else { "false" }).into(), true),
        Value::Number(n) if n.is_f64() => {
            // SafeRepresenter.represent_float: repr, lower-cased, and `1e+20` made `1.0e+20`
            // because YAML 1.1 floats need a dot.
            let mut s = py_number(n).to_lowercase();
            if !s.contains('.') && s.contains('e') {
                s = s.replacen('e', ".0e", 1);
            }
            (s, true)
        }
        Value::Number(n) => (py_number(n), true),
        Value::String(s) => (s.clone(), !resolves_implicitly(s)),
        // Collections never get here; an empty plain scalar is the harmless answer.
        _ => (String::new(), true),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// What yaml_emitter_analyze_scalar finds (block context; flow context never holds a scalar here).
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
}

/// libyaml's IS_PRINTABLE on one character: 4-byte UTF-8 (emoji) is not printable.
fn yaml_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        && c != '\u{FEFF}'
}

fn yaml_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// IS_BLANKZ; past the end of the value libyaml reads the NUL terminator, so None counts.
fn yaml_blankz(c: Option<char>) -> bool {
    c.is_none_or(|c| matches!(c, ' ' | '\t' | '\0') || yaml_break(c))
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = yaml_blankz(chars.get(i + 1).copied());
        let (first, last) = (i == 0, i + 1 == chars.len());
        if first {
            if "#,[]{}&*!|>'\"%@`".contains(c)
                || (matches!(c, '?' | ':' | '-') && followed_by_whitespace)
            {
                block_indicators = true;
            }
        } else if (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace) {
            block_indicators = true;
        }
        if !yaml_printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            (previous_space, previous_break) = (true, false);
        } else if yaml_break(c) {
            line_breaks = true;
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            (previous_space, previous_break) = (false, true);
        } else {
            (previous_space, previous_break) = (false, false);
        }
        preceded_by_whitespace = yaml_blankz(Some(c));
    }
    let plain_ok = !(leading_space || leading_break || trailing_space || trailing_break)
        && !(break_space || space_break || special || line_breaks || block_indicators);
    Analysis {
        multiline: line_breaks,
        block_plain_allowed: plain_ok,
        single_quoted_allowed: !(break_space || space_break || special),
    }
}

/// The emitter's output position; fields mirror yaml_emitter_t.
struct Emitter {
    out: String,
    /// Characters (not bytes) since the last line break, as libyaml counts.
    column: usize,
    /// The last thing written was whitespace (or nothing), so an indicator needs no space.
    whitespace: bool,
    /// Only indentation has been written on this line so far.
    indention: bool,
    indent: i32,
    indents: Vec<i32>,
}

const BEST_INDENT: i32 = 2;
const BEST_WIDTH: usize = 80;

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        indicator.chars().for_each(|c| self.put(c));
        self.whitespace = is_whitespace;
        self.indention &= is_indention;
    }

    /// emit_node: `mapping` is the mapping-value context (it makes a block sequence indentless).
    fn node(&mut self, v: &Value, mapping: bool, simple_key: bool) {
        match v {
            Value::Array(a) if a.is_empty() => self.empty_flow("[", "]"),
            Value::Object(m) if m.is_empty() => self.empty_flow("{", "}"),
            Value::Array(items) => {
                // `key:\n- a`: under a map key the dash sits at the key's own column.
                self.increase_indent(false, mapping && !self.indention);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, false, false);
                }
                self.pop_indent();
            }
            Value::Object(m) => {
                self.increase_indent(false, false);
                for (k, item) in sorted(m) {
                    self.write_indent();
                    // check_simple_key counts UTF-8 bytes; longer or multi-line keys take `? `.
                    if k.len() <= 128 && !analyze(k).multiline {
                        self.scalar(k, !resolves_implicitly(k), true);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.scalar(k, !resolves_implicitly(k), false);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(item, true, false);
                }
                self.pop_indent();
            }
            scalar => {
                let (text, plain_implicit) = yaml_scalar(scalar);
                self.scalar(&text, plain_implicit, simple_key);
            }
        }
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    /// emit_scalar with yaml_emitter_select_scalar_style.
    fn scalar(&mut self, value: &str, plain_implicit: bool, simple_key: bool) {
        let a = analyze(value);
        let mut style = if simple_key && a.multiline {
            Style::Double
        } else {
            Style::Plain
        };
        if style == Style::Plain
            && (!a.block_plain_allowed || (value.is_empty() && simple_key) || !plain_implicit)
        {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let chars: Vec<char> = value.chars().collect();
        match style {
            Style::Plain => self.write_plain(&chars, !simple_key),
            Style::Single => self.write_single_quoted(&chars, !simple_key),
            Style::Double => self.write_double_quoted(&chars, !simple_key),
        }
        self.pop_indent();
    }

    /// Whether a space at `i` is where the line folds: past column 80, first of a run of spaces.
    fn folds_at(&self, chars: &[char], i: usize, allow_breaks: bool, spaces: bool) -> bool {
        allow_breaks && !spaces && self.column > BEST_WIDTH && chars.get(i + 1) != Some(&' ')
    }

    fn write_plain(&mut self, chars: &[char], allow_breaks: bool) {
        if !self.whitespace && !chars.is_empty() {
            self.put(' ');
        }
        let mut spaces = false;
        // analyze() rules out breaks in a plain scalar, so only spaces can fold.
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if self.folds_at(chars, i, allow_breaks, spaces) {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    /// Copies a line break: `\n` is written as a break, LS/PS are copied and end the line.
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_single_quoted(&mut self, chars: &[char], allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let inner = i != 0 && i + 1 != chars.len();
                if inner && self.folds_at(chars, i, allow_breaks, spaces) {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if yaml_break(c) {
                // One newline inside quotes folds to a space when read, so write it twice.
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if breaks {
            self.write_indent();
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, chars: &[char], allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !yaml_printable(c) || c == '\u{FEFF}' || yaml_break(c) || c == '"' || c == '\\' {
                let escaped = match c {
                    '\0' => "\\0".to_string(),
                    '\u{7}' => "\\a".into(),
                    '\u{8}' => "\\b".into(),
                    '\t' => "\\t".into(),
                    '\n' => "\\n".into(),
                    '\u{b}' => "\\v".into(),
                    '\u{c}' => "\\f".into(),
                    '\r' => "\\r".into(),
                    '\u{1b}' => "\\e".into(),
                    '"' => "\\\"".into(),
                    '\\' => "\\\\".into(),
                    '\u{85}' => "\\N".into(),
                    '\u{A0}' => "\\_".into(),
                    '\u{2028}' => "\\L".into(),
                    '\u{2029}' => "\\P".into(),
                    c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                escaped.chars().for_each(|e| self.put(e));
                spaces = false;
            } else if c == ' ' {
                let inner = i != 0 && i + 1 != chars.len();
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inner {
                    self.write_indent();
                    // A space opening the next line would be eaten as indentation: escape it.
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }
}

/// Whether a plain scalar would read back as something other than a string under PyYAML's
/// YAML 1.1 implicit resolvers (bool, int, float, null, timestamp, merge, value, yaml).
fn resolves_implicitly(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "", "~", "null", "Null", "NULL", "<<", "=", "!",
        "&", "*",
    ];
    WORDS.contains(&s)
        || is_yaml_int(s.as_bytes())
        || is_yaml_float(s.as_bytes())
        || is_yaml_timestamp(s.as_bytes())
}

fn skip_sign(b: &[u8]) -> &[u8] {
    match b.first() {
        Some(b'-' | b'+') => &b[1..],
        _ => b,
    }
}

/// Skips `[0-9_]*`.
fn skip_digits_us(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'_')
        .count();
    &b[n..]
}

/// `(?::[0-5]?[0-9])+` up to the end of `b`, which must start with ':'.
fn is_sexagesimal_tail(b: &[u8]) -> bool {
    b.first() == Some(&b':')
        && b[1..].split(|&c| c == b':').all(|part| match part {
            [d] => d.is_ascii_digit(),
            [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
            _ => false,
        })
}

/// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+`
fn is_yaml_int(b: &[u8]) -> bool {
    let body = skip_sign(b);
    let all = |r: &[u8], ok: fn(u8) -> bool| !r.is_empty() && r.iter().all(|&c| ok(c) || c == b'_');
    match body {
        [b'0', b'b', r @ ..] => all(r, |c| matches!(c, b'0' | b'1')),
        [b'0', b'x', r @ ..] => all(r, |c| c.is_ascii_hexdigit()),
        [b'0'] => true,
        [b'0', r @ ..] => all(r, |c| matches!(c, b'0'..=b'7')),
        [b'1'..=b'9', r @ ..] => {
            let tail = skip_digits_us(r);
            tail.is_empty() || is_sexagesimal_tail(tail)
        }
        _ => false,
    }
}

/// PyYAML's float resolver: `1.5`, `.5`, `1.0e+3`, `1:30.5`, `.inf`, `.nan` (a dot is required).
fn is_yaml_float(b: &[u8]) -> bool {
    let exp_ok = |r: &[u8]| match r {
        [] => true,
        [b'e' | b'E', b'-' | b'+', d @ ..] => !d.is_empty() && d.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    let frac_then_exp = |r: &[u8]| exp_ok(skip_digits_us(r));
    if matches!(b, b".nan" | b".NaN" | b".NAN") {
        return true;
    }
    // `\.[0-9][0-9_]*(exp)?` takes no sign.
    if let [b'.', d, r @ ..] = b {
        if d.is_ascii_digit() && frac_then_exp(r) {
            return true;
        }
    }
    let body = skip_sign(b);
    if matches!(body, b".inf" | b".Inf" | b".INF") {
        return true;
    }
    let [d, r @ ..] = body else { return false };
    if !d.is_ascii_digit() {
        return false;
    }
    let r = skip_digits_us(r);
    match r {
        [b'.', frac @ ..] => frac_then_exp(frac),
        [b':', ..] => {
            // `[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*`
            let Some(dot) = r.iter().position(|&c| c == b'.') else {
                return false;
            };
            is_sexagesimal_tail(&r[..dot]) && skip_digits_us(&r[dot + 1..]).is_empty()
        }
        _ => false,
    }
}

/// `YYYY-MM-DD`, or `YYYY-M-D` with a time: `(T|t|[ \t]+)H:MM:SS(.frac)?([ \t]*(Z|[-+]H(:MM)?))?`.
fn is_yaml_timestamp(b: &[u8]) -> bool {
    fn digits(b: &[u8], min: usize, max: usize) -> Option<&[u8]> {
        let n = b
            .iter()
            .take(max)
            .take_while(|c| c.is_ascii_digit())
            .count();
        (n >= min).then(|| &b[n..])
    }
    fn lit(b: &[u8], c: u8) -> Option<&[u8]> {
        b.split_first().filter(|(f, _)| **f == c).map(|(_, r)| r)
    }
    fn blanks(b: &[u8]) -> &[u8] {
        let n = b.iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
        &b[n..]
    }
    if b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
    {
        return true;
    }
    let long = || -> Option<bool> {
        let r = digits(b, 4, 4)?;
        let r = digits(lit(r, b'-')?, 1, 2)?;
        let r = digits(lit(r, b'-')?, 1, 2)?;
        let r = match r.first()? {
            b'T' | b't' => &r[1..],
            b' ' | b'\t' => blanks(r),
            _ => return None,
        };
        let r = digits(r, 1, 2)?;
        let r = digits(lit(r, b':')?, 2, 2)?;
        let mut r = digits(lit(r, b':')?, 2, 2)?;
        if let Some(frac) = lit(r, b'.') {
            r = digits(frac, 0, usize::MAX)?;
        }
        if r.is_empty() {
            return Some(true);
        }
        let r = blanks(r);
        let r = match r.first()? {
            b'Z' => &r[1..],
            b'-' | b'+' => {
                let r = digits(&r[1..], 1, 2)?;
                match lit(r, b':') {
                    Some(m) => digits(m, 2, 2)?,
                    None => r,
                }
            }
            _ => return None,
        };
        Some(r.is_empty())
    };
    long() == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_resolver_edges() {
        for s in [
            "0", "-0", "0b1_0", "0x_F", "0_7", "+1_000", "1:5:59", "1.", ".5e+3", "+.INF", "1:5.5",
        ] {
            assert!(resolves_implicitly(s), "{s} should resolve");
        }
        for s in [
            "0b",
            "0x",
            "08",
            "1:60",
            "1e3",
            "1.0e3",
            "-.nan",
            ".",
            "2001-1-1",
            "2001-01-01T1:00:00 Z+1",
            "a",
        ] {
            assert!(!resolves_implicitly(s), "{s} should stay a string");
        }
        assert!(resolves_implicitly("2001-1-1 1:00:00.5 +01:00"));
        assert!(resolves_implicitly("2001-1-1t1:00:00Z"));
    }
}
