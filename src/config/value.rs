//! A key's type read from a YAML value (`FromValue`), with errors that say what was expected
//! and what was found.

#[cfg(test)]
use crate::yaml::parse_entries;
use serde_json::Value;
use std::path::PathBuf;

/// A key's type: how it is read from a YAML value. The error says what was expected and what
/// was found, e.g. `expected an integer, found "abc"`; the loader adds file, position and key.
pub(super) trait FromValue: Sized {
    fn from_value(value: Value) -> Result<Self, String>;
}

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Self, String> {
        Ok(value)
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(s),
            // YAML reads `user: 1000` as a number; it is still a usable name.
            Value::Number(n) => Ok(n.to_string()),
            other => Err(expected("a string", &other)),
        }
    }
}

impl FromValue for PathBuf {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(PathBuf::from(s)),
            other => Err(expected("a path", &other)),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Bool(b) => Ok(b),
            other => Err(expected("a boolean (true or false)", &other)),
        }
    }
}

/// An unset key (`~`, `null`, nothing after the colon, or `''`, which Salt also reads as
/// unset) is `None`.
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

macro_rules! unsigned_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<Self, String> {
                match &value {
                    Value::Number(n) if n.is_i64() && !n.is_u64() => {
                        Err(format!("expected a non-negative integer, found {n}"))
                    }
                    Value::Number(n) if n.is_u64() => n
                        .as_u64()
                        .and_then(|u| <$t>::try_from(u).ok())
                        .ok_or_else(|| {
                            format!("expected an integer from 0 to {}, found {n}", <$t>::MAX)
                        }),
                    other => Err(expected("an integer", other)),
                }
            }
        }
    )*};
}

unsigned_from_value!(u16, u64, usize);

pub(super) fn expected(what: &str, found: &Value) -> String {
    format!("expected {what}, found {}", describe(found))
}

/// A value as an error message shows it: short, on one line.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a map".to_owned(),
    }
}

/// A string quoted and escaped so that it stays on one line, cut at 60 characters.
pub(super) fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut shown: String = s.chars().take(MAX_CHARS).collect();
    let cut = shown.len() < s.len();
    shown = format!("{shown:?}");
    if cut {
        shown.push_str("...");
    }
    shown
}

/// Whether a key's shown default, read as YAML the way a file is, gives its real default.
/// "unset" stands for null; a shown default that is prose (the user) does not match.
#[cfg(test)]
pub(super) fn shown_default_matches<T: FromValue + PartialEq>(default: &T, shown: &str) -> bool {
    let yaml = if shown == "unset" { "~" } else { shown };
    let Ok(entries) = parse_entries(
        std::path::Path::new("shown"),
        format!("k: {yaml}").as_bytes(),
    ) else {
        return false;
    };
    match entries.into_iter().next() {
        Some(entry) => T::from_value(entry.value).is_ok_and(|v| &v == default),
        None => false,
    }
}
