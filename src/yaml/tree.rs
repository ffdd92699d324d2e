//! The untyped YAML tree serde-saphyr builds, every node with its position, and its
//! conversion to JSON values with PyYAML's scalar types.

use super::scalar::pyyaml_scalar;
use super::Pos;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{Location, Spanned};
use std::fmt;

/// A YAML node as serde-saphyr hands it over, before the PyYAML corrections. Every node keeps
/// its position (`Spanned`), so a top-level value can be blamed precisely and a scalar's source
/// text can be looked at again.
#[derive(Debug)]
pub(super) enum Raw {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl Raw {
    /// What the node is, as an error message names it.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Raw::Null => "nothing",
            Raw::Bool(_) => "a boolean",
            Raw::Unsigned(_) | Raw::Signed(_) | Raw::Float(_) => "a number",
            Raw::Str(_) => "a string",
            Raw::Seq(_) => "a list",
            Raw::Map(_) => "a map",
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Raw, D::Error> {
        inner.deserialize_any(RawVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    // `!!binary` scalars; Salt configs have no use for bytes, so keep them readable.
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry()? {
            pairs.push(pair);
        }
        Ok(Raw::Map(pairs))
    }
}

/// The node as JSON, its scalars read as Salt's PyYAML reads them. Err: a map key that is a
/// list or a map (PyYAML refuses those too, as unhashable), where it is and what it is.
pub(super) fn to_json(node: Spanned<Raw>, text: &str) -> Result<Value, (Pos, &'static str)> {
    let source = source_text(&node.defined, text);
    Ok(match node.value {
        Raw::Null => Value::Null,
        Raw::Str(s) => Value::String(s),
        Raw::Bool(b) => pyyaml_scalar(source, Value::Bool(b)),
        Raw::Unsigned(u) => pyyaml_scalar(source, Value::from(u)),
        Raw::Signed(i) => pyyaml_scalar(source, Value::from(i)),
        // JSON has no infinities or NaN; keep what was written.
        Raw::Float(f) => match serde_json::Number::from_f64(f) {
            Some(n) => pyyaml_scalar(source, Value::Number(n)),
            None => Value::String(source.map_or_else(|| f.to_string(), str::to_owned)),
        },
        Raw::Seq(items) => Value::Array(
            items
                .into_iter()
                .map(|item| to_json(item, text))
                .collect::<Result<_, _>>()?,
        ),
        Raw::Map(pairs) => {
            let mut map = serde_json::Map::with_capacity(pairs.len());
            for (key, value) in pairs {
                map.insert(key_text(key, text)?, to_json(value, text)?);
            }
            Value::Object(map)
        }
    })
}

/// A map key as text: strings as they are, numbers and booleans as JSON writes them (and as
/// Salt's JSON output shows PyYAML's int and bool keys), null as "null".
pub(super) fn key_text(key: Spanned<Raw>, text: &str) -> Result<String, (Pos, &'static str)> {
    let at = Pos::of(&key.referenced);
    match to_json(key, text)? {
        Value::String(s) => Ok(s),
        Value::Null => Ok("null".to_owned()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(_) => Err((at, "a list")),
        Value::Object(_) => Err((at, "a map")),
    }
}

/// The source text of a scalar node, if serde-saphyr knows where it is.
fn source_text<'t>(location: &Location, text: &'t str) -> Option<&'t str> {
    let span = location.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    text.get(start..start.checked_add(len)?)
}
