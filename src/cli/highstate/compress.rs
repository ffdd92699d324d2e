//! `state_compress_ids`: the states of one ID, state module, SLS and result (the `names` of one
//! declaration) folded into one, named `ID (count)`, with the earliest start, the lowest run
//! number, the summed duration and the changes keyed by name.

use crate::py::{python_str, truthy};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;

/// The compressed hosts, or `None` where Salt gives up and renders the data as it is (a host
/// that is not a state dict, a state without `__id__`, values it cannot add or compare).
pub(super) fn compress_ids(data: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (host, states) in data {
        out.insert(
            host.clone(),
            Value::Object(compress_host(states.as_object()?)?),
        );
    }
    Some(out)
}

/// The key states are grouped by: state module, ID, SLS and result, as Python prints them.
fn group(tag: &str, info: &Value) -> Option<String> {
    let m = info.as_object()?;
    let module = tag.split("_|-").next().unwrap_or("");
    let part = |k: &str| m.get(k).map(python_str);
    Some(format!(
        "{module}_{}_{}_{}",
        part("__id__")?,
        part("__sls__")?,
        part("result")?
    ))
}

fn compress_host(states: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (tag, info) in states {
        *counts.entry(group(tag, info)?).or_default() += 1;
    }
    let mut out = Map::new();
    for (tag, info) in states {
        let n = counts.get(&group(tag, info)?).copied().unwrap_or(1);
        if n == 1 {
            out.insert(tag.clone(), info.clone());
            continue;
        }
        let m = info.as_object()?;
        let part = |k: &str| m.get(k).map(python_str).unwrap_or_default();
        let mut comps: Vec<String> = tag.split("_|-").map(str::to_string).collect();
        if comps.len() < 3 {
            return None;
        }
        comps[2] = format!(
            "state_compressed_{}_{}_{}",
            part("__sls__"),
            part("__id__"),
            part("result")
        );
        comps[1] = format!("{} ({n})", part("__id__"));
        let new_tag = comps.join("_|-");
        match out.get_mut(&new_tag) {
            None => {
                out.insert(new_tag, info.clone());
            }
            Some(Value::Object(first)) => merge(first, m)?,
            Some(_) => return None,
        }
    }
    Some(out)
}

/// Folds a later state into the first of its group.
fn merge(first: &mut Map<String, Value>, info: &Map<String, Value>) -> Option<()> {
    let run = min(info.get("__run_num__")?, first.get("__run_num__")?)?;
    first.insert("__run_num__".into(), run);
    let duration = add(info.get("duration")?, first.get("duration")?)?;
    first.insert("duration".into(), duration);
    let start = min(info.get("start_time")?, first.get("start_time")?)?;
    first.insert("start_time".into(), start);
    let name = |m: &Map<String, Value>| m.get("name").map(python_str);
    let theirs = info.get("changes").cloned().unwrap_or(Value::Null);
    if first.get("changes").is_some_and(truthy) && truthy(&theirs) {
        let Some(Value::Object(changes)) = first.get("changes") else {
            return None;
        };
        if !changes.get("compressed changes").is_some_and(truthy) {
            let own = Value::Object(changes.clone());
            let mut by_name = Map::new();
            by_name.insert(name(first)?, own);
            let mut wrapped = Map::new();
            wrapped.insert("compressed changes".into(), Value::Object(by_name));
            first.insert("changes".into(), Value::Object(wrapped));
        }
        let key = name(info)?;
        let Some(Value::Object(by_name)) = first
            .get_mut("changes")
            .and_then(|c| c.get_mut("compressed changes"))
        else {
            return None;
        };
        by_name.insert(key, theirs);
    } else if truthy(&theirs) {
        let mut by_name = Map::new();
        by_name.insert(name(info)?, theirs);
        let mut wrapped = Map::new();
        wrapped.insert("compressed changes".into(), Value::Object(by_name));
        first.insert("changes".into(), Value::Object(wrapped));
    }
    Some(())
}

/// Python's ordering of two values it can compare: numbers (bools too) or two strings.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    let num = |v: &Value| match v {
        Value::Bool(x) => Some(f64::from(u8::from(*x))),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => num(a)?.partial_cmp(&num(b)?),
    }
}

/// The smaller of two values, the first when they are equal (Python's `min` and `sorted()[0]`).
fn min(a: &Value, b: &Value) -> Option<Value> {
    Some(
        if compare(b, a)? == Ordering::Less {
            b
        } else {
            a
        }
        .clone(),
    )
}

/// `round(a + b, 3)`: ints stay ints.
fn add(a: &Value, b: &Value) -> Option<Value> {
    if let (Some(x), Some(y)) = (as_int(a), as_int(b)) {
        return Some(Value::from(x.checked_add(y)?));
    }
    let f = |v: &Value| match v {
        Value::Bool(x) => Some(f64::from(u8::from(*x))),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    let sum = f(a)? + f(b)?;
    let rounded: f64 = format!("{sum:.3}").parse().unwrap_or(sum);
    serde_json::Number::from_f64(rounded).map(Value::Number)
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Bool(x) => Some(i64::from(*x)),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The `(count)` a compressed tag's ID ends with (1 when there is none).
pub(super) fn count_of(tag: &str) -> u64 {
    let parts: Vec<&str> = tag.split("_|-").collect();
    let Some(id) = parts.get(1).filter(|_| parts.len() == 4) else {
        return 1;
    };
    id.strip_suffix(')')
        .and_then(|s| s.rsplit_once('('))
        .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn count_comes_from_the_id() {
        assert_eq!(
            count_of("cmd_|-mix (4)_|-state_compressed_demo_mix_True_|-run"),
            4
        );
        assert_eq!(count_of("cmd_|-mix_|-x_|-run"), 1);
        assert_eq!(count_of("cmd_|-mix (x)_|-x_|-run"), 1);
        assert_eq!(count_of("cmd_|-mix (2)_|-x"), 1);
    }

    #[test]
    fn a_host_salt_cannot_compress_is_left_alone() {
        let data = json!({"m1": ["error"]});
        assert_eq!(compress_ids(data.as_object().unwrap()), None);
        let data = json!({"m1": {"a_|-b_|-c_|-d": {"result": true}}});
        assert_eq!(compress_ids(data.as_object().unwrap()), None);
    }
}
