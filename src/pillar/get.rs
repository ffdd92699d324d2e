//! Reading a compiled pillar as Salt's `pillar.get`, `pillar.item`, `pillar.raw`,
//! `pillar.keys` and `pillar.obfuscate` do: pure functions over the map, so the execution
//! module, the state engine's `pillar` in templates and tests all answer the same.

use std::fmt;

use serde_json::{Map, Value};

use super::merge::{py_eq, update};

/// Salt's `DEFAULT_TARGET_DELIM`.
pub const DELIMITER: &str = ":";

/// Why a pillar read failed, with Salt's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetError {
    /// `pillar.keys` of a key the pillar does not have (Salt's `KeyError`).
    NotFound(String),
    /// `pillar.keys` of a key whose value is not a map (Salt's `ValueError`).
    NotADict(String),
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::NotFound(k) => write!(f, "Pillar key not found: {k}"),
            GetError::NotADict(k) => write!(f, "Pillar value in key {k} is not a dict"),
        }
    }
}

impl std::error::Error for GetError {}

/// Salt's `traverse_dict_and_list` on `key` split at `delimiter`: a map by key, a list by
/// index (Python's `int()`, negative counting from the end) or, for a word that is not a
/// number, by that key of the first map in the list that has it. `None` where Salt returns
/// its default, a step into a scalar included.
///
/// Salt also retries a missing map key YAML-loaded (`01` finds the integer key 1); pillar maps
/// here have string keys only, as they travel as JSON, so the plain lookup is all there is.
pub fn traverse<'a>(data: &'a Value, key: &str, delimiter: &str) -> Option<&'a Value> {
    walk(data, words(key, delimiter))
}

/// [`traverse`] from a pillar map, without wrapping (and copying) it into a value.
pub fn lookup<'a>(pillar: &'a Map<String, Value>, key: &str, delimiter: &str) -> Option<&'a Value> {
    let mut words = words(key, delimiter);
    let first = pillar.get(words.next()?)?;
    walk(first, words)
}

/// The words of a key. An empty delimiter is a ValueError in Python's split; Salt's callers
/// never pass one, and the whole key as one word is the useful reading.
fn words<'k>(key: &'k str, delimiter: &'k str) -> Box<dyn Iterator<Item = &'k str> + 'k> {
    if delimiter.is_empty() {
        Box::new(std::iter::once(key))
    } else {
        Box::new(key.split(delimiter))
    }
}

/// Follows `words` down from `data`.
fn walk<'a, 'k>(data: &'a Value, words: impl Iterator<Item = &'k str>) -> Option<&'a Value> {
    let mut ptr = data;
    for word in words {
        ptr = match ptr {
            Value::Object(m) => m.get(word)?,
            Value::Array(items) => match py_int(word) {
                Some(i) => {
                    let len = i64::try_from(items.len()).ok()?;
                    let at = if i < 0 { i.checked_add(len)? } else { i };
                    items.get(usize::try_from(at).ok()?)?
                }
                None => items
                    .iter()
                    .find_map(|x| x.as_object().and_then(|m| m.get(word)))?,
            },
            _ => return None,
        };
    }
    Some(ptr)
}

/// Python's `int(s)` for a decimal string: surrounding whitespace, a sign, and single
/// underscores between digits allowed. `None` for anything else or out of range.
fn py_int(s: &str) -> Option<i64> {
    let t = s.trim_matches(crate::py::is_py_space);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let n: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -n } else { n })
}

/// `pillar.get(key, default, merge, merge_nested_lists, delimiter)`: the value at `key`, or
/// `default`. With `merge`, a map (or list) default is merged with the value found when both
/// are maps (or lists): the pillar's value over the default's, lists by `merge_lists` (Salt's
/// `merge_nested_lists`, falling back to `pillar_merge_lists`); a list default gets the
/// found items it lacks. A mismatch is logged and the plain lookup answers, as in Salt.
pub fn get(
    pillar: &Map<String, Value>,
    key: &str,
    default: &Value,
    merge: bool,
    merge_lists: bool,
    delimiter: &str,
) -> Value {
    let found = lookup(pillar, key, delimiter);
    if merge {
        match (default, found) {
            (Value::Object(d), Some(Value::Object(f))) => {
                let mut out = d.clone();
                update(&mut out, f, merge_lists);
                return Value::Object(out);
            }
            (Value::Object(_), None) => return default.clone(),
            (Value::Array(d), Some(Value::Array(f))) => {
                let mut out = d.clone();
                let fresh: Vec<Value> = f
                    .iter()
                    .filter(|x| !d.iter().any(|y| py_eq(x, y)))
                    .cloned()
                    .collect();
                out.extend(fresh);
                return Value::Array(out);
            }
            (Value::Array(_), None) => return default.clone(),
            (Value::Object(_) | Value::Array(_), Some(_)) => log::error!(
                "pillar.get: the default of {key} is a {}, but the pillar value is not; merge skipped",
                if default.is_object() { "dict" } else { "list" }
            ),
            _ => log::error!(
                "pillar.get: the default of {key} must be a dict or list to merge; merge skipped"
            ),
        }
    }
    found.cloned().unwrap_or_else(|| default.clone())
}

/// `pillar.item(*keys, default, delimiter)`: a map of each key as given to its value (or
/// `default`).
pub fn item(
    pillar: &Map<String, Value>,
    keys: &[String],
    default: &Value,
    delimiter: &str,
) -> Map<String, Value> {
    keys.iter()
        .map(|k| {
            let v = lookup(pillar, k, delimiter).cloned();
            (k.clone(), v.unwrap_or_else(|| default.clone()))
        })
        .collect()
}

/// `pillar.raw(key)`: the whole pillar, or the top-level `key` (an empty map when missing).
/// An empty key is no key, as Python's `if key:` reads it.
pub fn raw(pillar: &Map<String, Value>, key: Option<&str>) -> Value {
    match key.filter(|k| !k.is_empty()) {
        Some(k) => pillar
            .get(k)
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new())),
        None => Value::Object(pillar.clone()),
    }
}

/// `pillar.keys(key, delimiter)`: the keys of the map at `key`.
pub fn keys(
    pillar: &Map<String, Value>,
    key: &str,
    delimiter: &str,
) -> Result<Vec<String>, GetError> {
    match lookup(pillar, key, delimiter) {
        None => Err(GetError::NotFound(key.to_string())),
        Some(Value::Object(m)) => Ok(m.keys().cloned().collect()),
        Some(_) => Err(GetError::NotADict(key.to_string())),
    }
}

/// `pillar.obfuscate`: every leaf replaced by its Python type name (`<str>`, `<int>`, ...),
/// map keys kept.
pub fn obfuscate(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), obfuscate(x))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(obfuscate).collect()),
        Value::Null => Value::String("<NoneType>".into()),
        Value::Bool(_) => Value::String("<bool>".into()),
        Value::Number(n) if n.is_f64() => Value::String("<float>".into()),
        Value::Number(_) => Value::String("<int>".into()),
        Value::String(_) => Value::String("<str>".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pillar() -> Map<String, Value> {
        match json!({
            "a": {"l": ["x", "y"], "s": "str", "n": null},
            "lm": [{"k": 1}, {"j": 2}],
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn traverse_reads_maps_lists_and_maps_in_lists() {
        let p = Value::Object(pillar());
        assert_eq!(traverse(&p, "a:l:1", ":"), Some(&json!("y")));
        assert_eq!(traverse(&p, "a:l:-2", ":"), Some(&json!("x")));
        assert_eq!(traverse(&p, "a:l: +1_0", ":"), None);
        assert_eq!(traverse(&p, "a:l:-3", ":"), None);
        assert_eq!(traverse(&p, "lm:j", ":"), Some(&json!(2)));
        assert_eq!(traverse(&p, "a:s:x", ":"), None);
        assert_eq!(traverse(&p, "a:n:x", ":"), None);
        assert_eq!(traverse(&p, "a|s", "|"), Some(&json!("str")));
    }

    #[test]
    fn python_int() {
        assert_eq!(py_int(" 12 "), Some(12));
        assert_eq!(py_int("-1_0"), Some(-10));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("_1"), None);
        assert_eq!(py_int("1.0"), None);
        assert_eq!(py_int(""), None);
    }

    #[test]
    fn keys_and_their_errors() {
        let p = pillar();
        assert_eq!(
            keys(&p, "a", ":"),
            Ok(vec!["l".into(), "s".into(), "n".into()])
        );
        assert_eq!(
            keys(&p, "a:s", ":").map_err(|e| e.to_string()),
            Err("Pillar value in key a:s is not a dict".to_string())
        );
        assert_eq!(
            keys(&p, "zz", ":").map_err(|e| e.to_string()),
            Err("Pillar key not found: zz".to_string())
        );
    }

    #[test]
    fn obfuscate_names_types() {
        assert_eq!(
            obfuscate(&json!({"a": [1, 1.5, "s", null, true, {"b": []}]})),
            json!({"a": ["<int>", "<float>", "<str>", "<NoneType>", "<bool>", {"b": []}]})
        );
    }
}
