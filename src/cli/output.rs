//! The outputters every brine CLI selects with `--out`, byte-exact with Salt 3007's (colour off).
//!
//! Each one renders what `salt.output.try_printout` hands the CLI: the outputter's text with
//! trailing whitespace stripped (Python's `str.rstrip`). The CLI prints it and a newline, and
//! prints nothing at all when it is empty. Ground truth is differential: `nested` against
//! `tests/fixtures/salt/nested.json` (Salt itself), `yaml` against
//! `tests/fixtures/pyyaml_dump.json` (libyaml through PyYAML, the way Salt calls it).

use serde_json::{Map, Number, Value};
use std::fmt::Write;

/// The outputters a CLI can select with --out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outputter {
    /// Salt's default: indented `key:` lines, `- item` lists (`salt/output/nested.py`).
    Nested,
    /// `json.dumps(data, indent=4)`, keys in their given order (`salt/output/json_out.py`).
    Json,
    /// PyYAML block style through libyaml, keys sorted (`salt/output/yaml_out.py`).
    Yaml,
    /// Python's `str(data)` (`salt/output/raw.py`).
    Raw,
    /// Nothing (`salt/output/no_out_quiet.py`).
    Quiet,
}

impl Outputter {
    /// Every name --out accepts, in the order help text lists them.
    pub const NAMES: &'static [&'static str] = &["nested", "json", "yaml", "raw", "quiet"];

    /// The outputter Salt loads under `name`, if brine has it.
    pub fn from_name(name: &str) -> Option<Outputter> {
        match name {
            "nested" => Some(Outputter::Nested),
            "json" => Some(Outputter::Json),
            "yaml" => Some(Outputter::Yaml),
            "raw" => Some(Outputter::Raw),
            "quiet" => Some(Outputter::Quiet),
            _ => None,
        }
    }

    /// The name --out takes for this outputter.
    pub fn name(self) -> &'static str {
        match self {
            Outputter::Nested => "nested",
            Outputter::Json => "json",
            Outputter::Yaml => "yaml",
            Outputter::Raw => "raw",
            Outputter::Quiet => "quiet",
        }
    }
}

/// Render `data` as the outputter prints it, without the final newline ("" for quiet).
pub fn render(out: Outputter, data: &Value) -> String {
    let mut text = match out {
        Outputter::Nested => nested(data),
        Outputter::Json => {
            // json_out without `output_indent` in opts (the CLI default): indent 4, no sorting.
            let mut s = String::new();
            write_json(&mut s, data, Some(4), false, false, 0);
            s
        }
        Outputter::Yaml => yaml(data),
        // raw.py returns a string unchanged and `str()` of anything else.
        Outputter::Raw => match data {
            Value::String(s) => s.clone(),
            other => {
                let mut s = String::new();
                write_repr(&mut s, other);
                s
            }
        },
        Outputter::Quiet => String::new(),
    };
    let kept = text.trim_end_matches(is_py_space).len();
    text.truncate(kept);
    text
}

/// The `<tag>\t<json>` line `state.event` prints for each matching event.
pub fn event_line(tag: &str, data: &Value, pretty: bool) -> String {
    format!("{tag}\t{}", python_json(data, pretty))
}

/// Python json.dumps(data, ensure_ascii=False) compact (", " and ": " separators, key order kept) or pretty (sorted keys, indent 4).
pub fn python_json(data: &Value, pretty: bool) -> String {
    json_dumps(data, pretty.then_some(4), pretty, false)
}

/// Python's `json.dumps(data, indent=indent, sort_keys=sort, ensure_ascii=ensure_ascii)`.
pub fn json_dumps(data: &Value, indent: Option<usize>, sort: bool, ensure_ascii: bool) -> String {
    let mut s = String::new();
    write_json(&mut s, data, indent, sort, ensure_ascii, 0);
    s
}

/// Python repr() of a float, as Python 3 prints it.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` and Python's repr both pick the shortest digit string that reads back as
    // the same double; only the layout around those digits differs.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = tie_to_even(
        mantissa.chars().filter(char::is_ascii_digit).collect(),
        exp,
        f.abs(),
    );
    let sign = if mantissa.starts_with('-') { "-" } else { "" };
    let n = digits.len() as i32;
    // Python's decpt: the value is 0.DIGITS x 10^decpt. It switches to an exponent when the
    // exponent would be below -4 or at least 16 (float_repr_style 'short', mode 'r').
    let decpt = exp + 1;
    if !(-4 < decpt && decpt <= 16) {
        let (first, rest) = digits.split_at(digits.len().min(1));
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.unsigned_abs());
    }
    if decpt <= 0 {
        format!(
            "{sign}0.{}{digits}",
            "0".repeat(decpt.unsigned_abs() as usize)
        )
    } else if decpt >= n {
        format!("{sign}{digits}{}.0", "0".repeat((decpt - n) as usize))
    } else {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// When a double lies exactly halfway between two shortest candidates (`…616.625` between
/// `.62` and `.63`), Rust's shortest formatting rounds up but Python's dtoa rounds to even.
/// `digits` and `exp` are Rust's shortest form of `f` (positive): d.ddd × 10^exp.
fn tie_to_even(digits: String, exp: i32, f: f64) -> String {
    let Some(last) = digits.bytes().last().filter(|d| d % 2 == 1) else {
        return digits;
    };
    let mut lower = digits[..digits.len() - 1].to_string();
    lower.push(char::from(last - 1));
    let halfway = format!("{lower}5");
    // `{:.Ne}` is exact, and a double's expansion ends within 767 significant digits, so 800
    // digits show the value itself; the short call first keeps the common case cheap.
    let expansion = |precision: usize| {
        let s = format!("{f:.precision$e}");
        let (m, e) = s.split_once('e')?;
        (e.parse::<i32>().ok()? == exp).then(|| m.replace('.', ""))
    };
    let is_tie = expansion(lower.len()).is_some_and(|d| d == halfway)
        && expansion(800).is_some_and(|d| {
            d.starts_with(&halfway) && d[halfway.len()..].bytes().all(|b| b == b'0')
        });
    let (first, rest) = lower.split_at(1);
    let reads_back = format!("{first}.{rest}0e{exp}")
        .parse::<f64>()
        .is_ok_and(|g| g == f);
    if is_tie && reads_back {
        lower
    } else {
        digits
    }
}

/// Python's `repr()` of a JSON number: ints as they are, floats as `python_float`.
fn py_number(n: &Number) -> String {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (_, Some(u), _) => u.to_string(),
        (_, _, Some(f)) => python_float(f),
        _ => n.to_string(),
    }
}

/// Python's `str.isspace`, which `rstrip` uses: Unicode White_Space plus U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A map's entries in Python's `sorted()` order for str keys: by code point, which is UTF-8 byte order.
fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

// ---------------------------------------------------------------------------------------------
// nested

fn nested(data: &Value) -> String {
    let mut lines = Vec::new();
    nested_lines(data, 0, "", &mut lines);
    lines.join("\n")
}

/// NestDisplay.display: `indent` is absolute, `prefix` is "- " for list items.
fn nested_lines(v: &Value, indent: usize, prefix: &str, out: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    match v {
        Value::String(s) => {
            for (i, line) in py_splitlines(s).into_iter().enumerate() {
                // Later lines line up under the first one's text, past its "- ".
                let p = if i == 0 {
                    prefix.to_string()
                } else {
                    " ".repeat(prefix.chars().count())
                };
                // strip_colors (on by default) defuses terminal escapes in values, not in keys.
                out.push(format!("{pad}{p}{}", line.replace('\x1b', "?")));
            }
        }
        Value::Array(items) => {
            for item in items {
                if item.is_array() || item.is_object() {
                    out.push(format!("{pad}|_"));
                    let p = if item.is_object() { "" } else { "- " };
                    nested_lines(item, indent + 2, p, out);
                } else {
                    nested_lines(item, indent, "- ", out);
                }
            }
        }
        Value::Object(map) => {
            // Only the top-level map goes without the rule (Salt tests `if indent:`).
            if indent > 0 {
                out.push(format!("{pad}----------"));
            }
            for (k, val) in sorted(map) {
                out.push(format!("{pad}{prefix}{k}:"));
                nested_lines(val, indent + 4, "", out);
            }
        }
        scalar => {
            let mut s = String::new();
            write_repr(&mut s, scalar);
            out.push(format!("{pad}{prefix}{s}"));
        }
    }
}

/// Python's `str.splitlines()`: every Unicode line boundary, `\r\n` as one, no trailing empty line.
fn py_splitlines(s: &str) -> Vec<&str> {
    let is_break = |c: char| "\n\r\u{b}\u{c}\u{1c}\u{1d}\u{1e}\u{85}\u{2028}\u{2029}".contains(c);
    let mut lines = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find(is_break) {
        lines.push(&rest[..at]);
        let skip = if rest[at..].starts_with("\r\n") {
            2
        } else {
            rest[at..].chars().next().map_or(1, char::len_utf8)
        };
        rest = &rest[at + skip..];
    }
    if !rest.is_empty() {
        lines.push(rest);
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// json

/// `json.dumps`: `indent` None is the one-line form with ", " and ": ", Some(n) puts each item
/// on its own line with "," and ": ". Empty containers stay `[]` / `{}` either way.
fn write_json(
    out: &mut String,
    v: &Value,
    indent: Option<usize>,
    sort: bool,
    ascii: bool,
    level: usize,
) {
    let sep = |out: &mut String, first: bool| match indent {
        None if first => {}
        None => out.push_str(", "),
        Some(w) => {
            if !first {
                out.push(',');
            }
            out.push('\n');
            out.push_str(&" ".repeat(w * (level + 1)));
        }
    };
    let close = |out: &mut String| {
        if let Some(w) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(w * level));
        }
    };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&py_number(n)),
        Value::String(s) => json_str(out, s, ascii),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                sep(out, i == 0);
                write_json(out, item, indent, sort, ascii, level + 1);
            }
            close(out);
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            let entries = if sort { sorted(m) } else { m.iter().collect() };
            for (i, (k, item)) in entries.into_iter().enumerate() {
                sep(out, i == 0);
                json_str(out, k, ascii);
                out.push_str(": ");
                write_json(out, item, indent, sort, ascii, level + 1);
            }
            close(out);
            out.push('}');
        }
    }
}

/// A JSON string as Python writes it: `"`, `\\` and C0 controls escaped, and with
/// `ensure_ascii` every char outside `' '..='~'` as `\\uXXXX` (surrogate pairs past U+FFFF).
fn json_str(out: &mut String, s: &str, ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c if ascii || c < ' ' => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// raw: Python repr

/// Python's `repr()` of a value, as error messages quote arguments.
pub fn python_repr(v: &Value) -> String {
    let mut s = String::new();
    write_repr(&mut s, v);
    s
}

/// Python's `str()` of a value: a string as is, anything else as its repr.
pub fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn write_repr(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Number(n) => out.push_str(&py_number(n)),
        Value::String(s) => str_repr(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        // A dict's repr keeps insertion order.
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                str_repr(out, k);
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text has a `'` and no `"`.
fn str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        let code = c as u32;
        match c {
            c if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c < ' ' || c == '\x7f' => {
                let _ = write!(out, "\\x{code:02x}");
            }
            c if c.is_ascii() || py_printable(c) => out.push(c),
            _ if code <= 0xff => {
                let _ = write!(out, "\\x{code:02x}");
            }
            _ if code <= 0xffff => {
                let _ = write!(out, "\\u{code:04x}");
            }
            _ => {
                let _ = write!(out, "\\U{code:08x}");
            }
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable` for non-ASCII: false for categories Cc, Cf, Co, Zs, Zl, Zp
/// (Unicode 14, Python 3.11). Unassigned code points (Cn), which Python also escapes, are
/// treated as printable: a full table would be 700 ranges for characters no minion returns.
fn py_printable(c: char) -> bool {
    #[rustfmt::skip]
    const NOT_PRINTABLE: &[(u32, u32)] = &[
        (0x80, 0xA0), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F),
        (0x890, 0x891), (0x8E2, 0x8E2), (0x1680, 0x1680), (0x180E, 0x180E), (0x2000, 0x200F),
        (0x2028, 0x202F), (0x205F, 0x2064), (0x2066, 0x206F), (0x3000, 0x3000), (0xE000, 0xF8FF),
        (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
        (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
        (0xE0020, 0xE007F), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD),
    ];
    let code = c as u32;
    !NOT_PRINTABLE
        .iter()
        .any(|&(lo, hi)| (lo..=hi).contains(&code))
}

// ---------------------------------------------------------------------------------------------
// yaml: libyaml's emitter (src/emitter.c, 0.2.5) as PyYAML's CSafeDumper drives it with
// default_flow_style=False, allow_unicode=True, width 80, indent 2. Only what plain data can
// reach is kept: no anchors, no tags, no block scalars, flow style only for empty collections.

fn yaml(data: &Value) -> String {
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
    use serde_json::json;

    /// Turns the fixtures' `{"__float__": repr}` back into the exact double: serde_json's
    /// default float parser can land one ulp off, Rust's `str::parse` cannot.
    fn decode(v: &Value) -> Value {
        match v {
            Value::Object(m) if m.len() == 1 && m.contains_key("__float__") => {
                let f: f64 = m["__float__"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .expect("float marker");
                Value::from(f)
            }
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), decode(x))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(decode).collect()),
            other => other.clone(),
        }
    }

    /// Asserts every case of a `{"cases": [{"data", "text"}]}` fixture, reporting all misses.
    fn check_fixture(fixture: &str, out: Outputter) {
        let doc: Value = serde_json::from_str(fixture).expect("fixture is JSON");
        let cases = doc["cases"].as_array().expect("fixture has cases");
        assert!(!cases.is_empty());
        let misses: Vec<String> = cases
            .iter()
            .filter_map(|case| {
                let got = render(out, &decode(&case["data"]));
                let want = case["text"].as_str().expect("text is a string");
                (got != want)
                    .then(|| format!("data {}\n want {want:?}\n  got {got:?}", case["data"]))
            })
            .collect();
        assert!(
            misses.is_empty(),
            "{} of {} cases differ:\n{}",
            misses.len(),
            cases.len(),
            misses.join("\n")
        );
    }

    #[test]
    fn nested_matches_salt() {
        check_fixture(
            include_str!("../../tests/fixtures/salt/nested.json"),
            Outputter::Nested,
        );
    }

    #[test]
    fn yaml_matches_pyyaml() {
        check_fixture(
            include_str!("../../tests/fixtures/pyyaml_dump.json"),
            Outputter::Yaml,
        );
    }

    #[test]
    fn python_float_is_repr() {
        let table: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e-05, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1.0, "1.0"),
            (2.5, "2.5"),
            (1e20, "1e+20"),
            (1e-07, "1e-07"),
            (-1.5e-10, "-1.5e-10"),
            (1234.5678, "1234.5678"),
            (9999999999999998.0, "9999999999999998.0"),
            (0.30000000000000004, "0.30000000000000004"),
            // Exact ties between two 17-digit candidates go to the even one, as in Python.
            (f64::from_bits(0x42e9_3542_fe43_3e14), "221732383365616.62"), // ….625
            (f64::from_bits(0xc319_de1e_843c_2c69), "-1820274266671898.2"), // ….25
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for &(f, want) in table {
            assert_eq!(python_float(f), want, "repr({f:e})");
        }
    }

    #[test]
    fn python_json_compact_keeps_order_and_unicode() {
        let v = json!({"z": 1, "a": [1.0, null, true], "ü": "cödé\n\"\u{1}", "e": {}, "l": []});
        assert_eq!(
            python_json(&v, false),
            r#"{"z": 1, "a": [1.0, null, true], "ü": "cödé\n\"\u0001", "e": {}, "l": []}"#
        );
    }

    #[test]
    fn python_json_pretty_sorts_with_indent_4() {
        let v =
            json!({"user": "root", "arg": [], "minions": ["web1"], "cfg": {"b": 1e20, "a": {}}});
        let want = "{\n    \"arg\": [],\n    \"cfg\": {\n        \"a\": {},\n        \"b\": 1e+20\n    },\n    \
                    \"minions\": [\n        \"web1\"\n    ],\n    \"user\": \"root\"\n}";
        assert_eq!(python_json(&v, true), want);
    }

    #[test]
    fn event_line_is_tag_tab_json() {
        let v = json!({"b": 1, "a": "x"});
        assert_eq!(
            event_line("salt/job/1/new", &v, false),
            "salt/job/1/new\t{\"b\": 1, \"a\": \"x\"}"
        );
        assert_eq!(
            event_line("t", &v, true),
            "t\t{\n    \"a\": \"x\",\n    \"b\": 1\n}"
        );
    }

    #[test]
    fn json_outputter_indents_4_without_sorting() {
        let v = json!({"m2": false, "m1": {"items": ["a"], "empty": []}});
        let want = "{\n    \"m2\": false,\n    \"m1\": {\n        \"items\": [\n            \"a\"\n        ],\n        \
                    \"empty\": []\n    }\n}";
        assert_eq!(render(Outputter::Json, &v), want);
        assert_eq!(render(Outputter::Json, &json!("x")), "\"x\"");
        assert_eq!(render(Outputter::Json, &json!([])), "[]");
    }

    #[test]
    fn raw_is_python_str() {
        assert_eq!(
            render(Outputter::Raw, &json!({"a": true, "b": [1, "x"]})),
            "{'a': True, 'b': [1, 'x']}"
        );
        assert_eq!(render(Outputter::Raw, &json!(null)), "None");
        assert_eq!(render(Outputter::Raw, &json!(1e16)), "1e+16");
        // A string at the top is printed as it is, trailing whitespace stripped.
        assert_eq!(render(Outputter::Raw, &json!("it's\n")), "it's");
        assert_eq!(
            render(Outputter::Raw, &json!(["it's", "say \"hi\"", "both ' \""])),
            r#"["it's", 'say "hi"', 'both \' "']"#
        );
        assert_eq!(
            render(
                Outputter::Raw,
                &json!(["\t\n\r\u{0}\u{7f}\\", "é\u{a0}\u{ad}\u{2028}😀\u{e000}"])
            ),
            r"['\t\n\r\x00\x7f\\', 'é\xa0\xad\u2028😀\ue000']"
        );
    }

    #[test]
    fn quiet_prints_nothing() {
        assert_eq!(render(Outputter::Quiet, &json!({"a": 1})), "");
    }

    #[test]
    fn names_round_trip() {
        for name in Outputter::NAMES {
            assert_eq!(Outputter::from_name(name).map(Outputter::name), Some(*name));
        }
        assert_eq!(Outputter::from_name("txt"), None);
        assert_eq!(Outputter::from_name("JSON"), None);
    }

    #[test]
    fn nested_strips_escapes_in_values_and_trailing_space() {
        assert_eq!(
            render(Outputter::Nested, &json!({"k": "\u{1b}[31mred"})),
            "k:\n    ?[31mred"
        );
        assert_eq!(
            render(Outputter::Nested, &json!(["a\r\nb\u{2028}c", "x  \u{1f}"])),
            "- a\n  b\n  c\n- x"
        );
    }

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

    #[test]
    fn odd_values_do_not_panic() {
        let mut deep = json!("leaf");
        for i in 0..100 {
            deep = if i % 2 == 0 {
                json!([deep, {}])
            } else {
                json!({"k\n": deep, "": []})
            };
        }
        let odd = [
            deep,
            json!(u64::MAX),
            json!(i64::MIN),
            json!([
                "\u{0}",
                "\u{feff}",
                "\u{10ffff}",
                " ",
                "\n",
                "\r\n",
                "-",
                "? ",
                "#"
            ]),
            json!({"\u{1b}": "\u{85}", "k".repeat(300): "x ".repeat(200)}),
        ];
        for v in &odd {
            for name in Outputter::NAMES {
                if let Some(out) = Outputter::from_name(name) {
                    let _ = render(out, v);
                }
            }
        }
    }
}
