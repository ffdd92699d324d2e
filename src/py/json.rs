//! Python's `json.dumps`: separators, key order or `sort_keys`, `indent`, `ensure_ascii`
//! and float repr exactly as CPython writes them.

use super::repr::py_number;
use super::sorted;
use serde_json::Value;
use std::fmt::Write;

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
