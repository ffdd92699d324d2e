//! brine's Python and Salt semantics, the ground floor every other module may use and which
//! uses none of them: Python truthiness, `str()`/`repr()`, `json.dumps`, PyYAML's dumper and
//! Salt's command-line argument parser with its YAML scalar rules.

pub mod args;
mod json;
mod pprint;
mod repr;
pub mod textwrap;
pub mod yaml;

pub use json::{json_dumps, python_json};
pub use pprint::pformat;
pub use repr::{python_float, python_repr, python_str};

use serde_json::{Map, Value};

/// Python truthiness of a value.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Python's `str.isspace`, which `rstrip` uses: Unicode White_Space plus U+001C..U+001F.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A map's entries in Python's `sorted()` order for str keys: by code point, which is UTF-8 byte order.
pub(crate) fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}
