//! Checks a key's value must pass beyond its type (`check` in a key table): allowed words,
//! addresses, shapes of maps and lists, positive numbers.

use super::value::{expected, quote};
use serde_json::Value;

/// The levels `log_level` accepts, least severe first.
pub(super) const LOG_LEVELS: &[&str] = &[
    "garbage", "trace", "debug", "info", "warning", "error", "critical", "quiet",
];

pub(super) fn log_level(level: String) -> Result<String, String> {
    // Salt lower-cases the level before looking it up, so `INFO` works there too.
    let lower = level.to_ascii_lowercase();
    one_of(lower, LOG_LEVELS)
}

/// The ways a bus listener's tag filter can match, as Salt names them.
pub(super) const EVENT_MATCH_TYPES: &[&str] =
    &["startswith", "endswith", "find", "regex", "fnmatch"];

pub(super) fn event_match_type(kind: String) -> Result<String, String> {
    one_of(kind, EVENT_MATCH_TYPES)
}

pub(super) fn event_listener_overflow(what: String) -> Result<String, String> {
    one_of(what, &["drop", "disconnect"])
}

/// The ring must hold a few chunks of the largest event to be of use.
pub(super) fn ring_size(n: usize) -> Result<usize, String> {
    if n < 65_536 {
        return Err(format!("expected at least 65536 bytes, found {n}"));
    }
    Ok(n)
}

/// `commit`, `never`, or a number of milliseconds (`100` or `100ms`).
pub(super) fn event_log_sync(what: String) -> Result<String, String> {
    let ms = what.strip_suffix("ms").unwrap_or(&what);
    if what == "commit" || what == "never" || ms.parse::<u64>().is_ok_and(|n| n > 0) {
        Ok(what)
    } else {
        Err(format!(
            "expected commit, never or a number of milliseconds, found {}",
            quote(&what)
        ))
    }
}

pub(super) fn one_of(value: String, allowed: &[&str]) -> Result<String, String> {
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(format!(
            "expected one of {}, found {}",
            allowed.join(", "),
            quote(&value)
        ))
    }
}

/// `state_output`: the highstate outputter's modes, each with or without `_id`, any case
/// (Salt lower-cases it; it is kept as written).
pub(super) fn state_output(mode: String) -> Result<String, String> {
    if crate::cli::highstate::is_state_output(&mode) {
        Ok(mode)
    } else {
        Err(format!(
            "expected full, terse, mixed, changes or filter, each also with _id, found {}",
            quote(&mode)
        ))
    }
}

/// `interface`: an IPv4 or IPv6 address, as Salt requires (a name would need a DNS lookup
/// at bind time, and the error would name the port).
pub(super) fn ip_address(value: String) -> Result<String, String> {
    match value.parse::<std::net::IpAddr>() {
        Ok(_) => Ok(value),
        Err(_) => Err(format!(
            "expected an IP address (such as 0.0.0.0 or ::), found {}",
            quote(&value)
        )),
    }
}

/// A map; an empty key (`schedule:` with nothing after it) is the empty map.
pub(super) fn map(value: Value) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Object(serde_json::Map::new())),
        Value::Object(_) => Ok(value),
        other => Err(expected("a map", &other)),
    }
}

/// A map, or unset.
pub(super) fn map_or_unset(value: Value) -> Result<Value, String> {
    match value {
        Value::Null | Value::Object(_) => Ok(value),
        other => Err(expected("a map", &other)),
    }
}

/// A list; an empty key is the empty list.
pub(super) fn list(value: Value) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Array(Vec::new())),
        Value::Array(_) => Ok(value),
        other => Err(expected("a list", &other)),
    }
}

/// `file_roots` and `pillar_roots`: a map from a saltenv to a list of directories (a single
/// directory is taken as a list of one, as Salt's config loader does).
pub(super) fn roots(value: Value) -> Result<Value, String> {
    let Value::Object(envs) = value else {
        return Err(expected(
            "a map from a saltenv to a list of directories",
            &value,
        ));
    };
    let mut out = serde_json::Map::new();
    for (env, dirs) in envs {
        let dirs = match dirs {
            Value::String(s) => vec![Value::String(s)],
            Value::Array(a) if a.iter().all(Value::is_string) => a,
            other => {
                return Err(format!(
                    "saltenv {env:?}: {}",
                    expected("a list of directories", &other)
                ))
            }
        };
        out.insert(env, Value::Array(dirs));
    }
    Ok(Value::Object(out))
}

/// `reactor`: a list of rules, or the path of a file holding one.
pub(super) fn list_or_path(value: Value) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Array(Vec::new())),
        Value::Array(_) | Value::String(_) => Ok(value),
        other => Err(expected(
            "a list of rules or the path of a file holding one",
            &other,
        )),
    }
}

pub(super) fn positive_u64(n: u64) -> Result<u64, String> {
    if n == 0 {
        Err("expected a positive integer, found 0".to_owned())
    } else {
        Ok(n)
    }
}

pub(super) fn positive_usize(n: usize) -> Result<usize, String> {
    if n == 0 {
        Err("expected a positive integer, found 0".to_owned())
    } else {
        Ok(n)
    }
}
