//! The constructor: nodes to values, as Salt's SaltYamlSafeLoader builds Python objects,
//! with Python's int, float and str rules.

use super::*;

/// A constructed scalar, before it becomes a JSON value or a map key.
pub(super) enum Scalar {
    Null,
    Bool(bool),
    /// `None` when the int is too big even for i128 (Python would still hold it).
    Int(Option<i128>),
    Float(f64),
    Str(String),
}

pub(super) struct Builder {
    pub(super) budget: usize,
}

impl Builder {
    /// `depth` counts the collections around `node`; a value JSON cannot carry fails at the
    /// root, so the word stays whole, and becomes its text below it.
    pub(super) fn value(&mut self, node: &Node, depth: usize) -> Result<Value, Reject> {
        // Aliases can build what the source never nested or repeated: bound both.
        self.budget = self.budget.checked_sub(1).ok_or(Reject)?;
        match (node.tag(), node) {
            (Tag::Seq | Tag::Map, _) if depth >= MAX_DEPTH => Err(Reject),
            (Tag::Seq, Node::Seq(_, items)) => items
                .iter()
                .map(|item| self.value(item, depth + 1))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            (Tag::Map, Node::Map(_, pairs)) => self.mapping(pairs, depth),
            (tag, _) => {
                let (scalar, text) = scalar(tag, node)?;
                let json = match scalar {
                    Scalar::Null => Some(Value::Null),
                    Scalar::Bool(b) => Some(Value::Bool(b)),
                    Scalar::Int(i) => i.and_then(json_int),
                    Scalar::Float(f) => Number::from_f64(f).map(Value::Number),
                    Scalar::Str(s) => Some(Value::String(s)),
                };
                match json {
                    Some(v) => Ok(v),
                    None if depth > 0 => Ok(Value::String(text)),
                    None => Err(Reject),
                }
            }
        }
    }

    pub(super) fn mapping(
        &mut self,
        pairs: &[(Rc<Node>, Rc<Node>)],
        depth: usize,
    ) -> Result<Value, Reject> {
        let pairs = self.flatten(pairs, depth)?;
        let mut seen = HashSet::new();
        let mut map = Map::new();
        for (key, value) in &pairs {
            let tag = match key.tag() {
                // Lists and maps are unhashable as Python dict keys.
                Tag::Seq | Tag::Map => return Err(Reject),
                // Salt's flatten_mapping makes `=` keys strings.
                Tag::YamlValue => Tag::Str,
                tag => tag,
            };
            let (key, text) = scalar(tag, key)?;
            let value = self.value(value, depth + 1)?;
            // Salt refuses a key equal (as Python compares) to an earlier one.
            if let Some(id) = key_identity(&key, &text) {
                if !seen.insert(id) {
                    return Err(Reject);
                }
            }
            // Distinct Python keys may render alike (1 and "1"): the last wins, as in Salt's JSON.
            map.insert(py_str(key, text), value);
        }
        Ok(Value::Object(map))
    }

    /// Salt's `flatten_mapping`: `<<` keys pull in other maps' pairs, which yield to the map's own.
    pub(super) fn flatten(
        &mut self,
        pairs: &[(Rc<Node>, Rc<Node>)],
        depth: usize,
    ) -> Result<Pairs, Reject> {
        // Merging aliased maps into each other can repeat pairs exponentially: charge for them.
        self.budget = self.budget.checked_sub(pairs.len()).ok_or(Reject)?;
        if depth >= MAX_DEPTH {
            return Err(Reject);
        }
        let mut merged = Vec::new();
        let mut own = Vec::new();
        for (key, value) in pairs {
            if key.tag() != Tag::Merge {
                own.push((key.clone(), value.clone()));
                continue;
            }
            match &**value {
                Node::Map(_, inner) => merged.extend(self.flatten(inner, depth + 1)?),
                Node::Seq(_, maps) => {
                    let mut parts = Vec::new();
                    for map in maps {
                        let Node::Map(_, inner) = &**map else {
                            return Err(Reject);
                        };
                        parts.push(self.flatten(inner, depth + 1)?);
                    }
                    // Earlier maps in the list win, so they are applied last.
                    merged.extend(parts.into_iter().rev().flatten());
                }
                Node::Scalar(..) => return Err(Reject),
            }
        }
        // Salt compares the keys' source text here, not their values.
        let own_keys: HashSet<String> = own
            .iter()
            .filter_map(|(k, _)| match &**k {
                Node::Scalar(_, t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        merged.retain(|(k, _)| !matches!(&**k, Node::Scalar(_, t) if own_keys.contains(t)));
        merged.extend(own);
        Ok(merged)
    }
}

pub(super) fn json_int(i: i128) -> Option<Value> {
    if let Ok(i) = i64::try_from(i) {
        Some(Value::from(i))
    } else {
        u64::try_from(i).ok().map(Value::from)
    }
}

/// The scalar constructors of PyYAML's SafeConstructor with Salt's overrides, and the text
/// they read.
pub(super) fn scalar(tag: Tag, node: &Node) -> Result<(Scalar, String), Reject> {
    let text = scalar_text(node, 0)?;
    let scalar = match tag {
        Tag::Null => Scalar::Null,
        Tag::Bool => match text.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => Scalar::Bool(true),
            "no" | "false" | "off" => Scalar::Bool(false),
            _ => return Err(Reject),
        },
        Tag::Int => Scalar::Int(construct_int(&text)?),
        Tag::Float => Scalar::Float(construct_float(&text)?),
        Tag::Str => Scalar::Str(text.clone()),
        Tag::Seq | Tag::Map | Tag::Merge | Tag::YamlValue | Tag::Unknown => return Err(Reject),
    };
    Ok((scalar, text))
}

/// SafeConstructor's `construct_scalar` under Salt's override: a scalar's text (without
/// leading zeros if it is an int), or for a map the text of its first `=` key's value.
pub(super) fn scalar_text(node: &Node, depth: usize) -> Result<String, Reject> {
    if depth >= MAX_DEPTH {
        return Err(Reject);
    }
    match node {
        Node::Scalar(Tag::Int, text) if text != "0" && text.starts_with('0') => {
            if text.starts_with("0b") || text.starts_with("0x") {
                return Ok(text.clone());
            }
            // Salt: a leading zero means decimal, not YAML 1.1 octal (`-0755` slips past).
            let digits = text.trim_start_matches('0');
            Ok(if digits.is_empty() { "0" } else { digits }.to_owned())
        }
        Node::Scalar(_, text) => Ok(text.clone()),
        // Salt's override calls `str.startswith` on the map's pairs there and fails.
        Node::Map(Tag::Int, _) => Err(Reject),
        Node::Map(_, pairs) => match pairs.iter().find(|(k, _)| k.tag() == Tag::YamlValue) {
            Some((_, value)) => scalar_text(value, depth + 1),
            None => Err(Reject),
        },
        Node::Seq(..) => Err(Reject),
    }
}

/// Splits PyYAML's leading sign off; an empty value is Python's IndexError.
pub(super) fn sign(value: &str) -> Result<(bool, &str), Reject> {
    match value.as_bytes().first() {
        None => Err(Reject),
        Some(b'-') => Ok((true, &value[1..])),
        Some(b'+') => Ok((false, &value[1..])),
        Some(_) => Ok((false, value)),
    }
}

pub(super) fn construct_int(text: &str) -> Result<Option<i128>, Reject> {
    let value = text.replace('_', "");
    let (negative, body) = sign(&value)?;
    let magnitude = if body == "0" {
        Some(0)
    } else if let Some(bin) = body.strip_prefix("0b") {
        py_int(bin, 2)?
    } else if let Some(hex) = body.strip_prefix("0x") {
        py_int(hex, 16)?
    } else if body.starts_with('0') {
        py_int(body, 8)?
    } else if body.contains(':') {
        let mut total = Some(0i128);
        for part in body.split(':') {
            let part = py_int(part, 10)?;
            total = total.and_then(|t| t.checked_mul(60)?.checked_add(part?));
        }
        total
    } else {
        py_int(body, 10)?
    };
    Ok(magnitude.and_then(|m| if negative { m.checked_neg() } else { Some(m) }))
}

/// Python's `int(s, base)` on ASCII digits; `Ok(None)` when it would outgrow i128.
pub(super) fn py_int(s: &str, base: u32) -> Result<Option<i128>, Reject> {
    let s = s.trim_matches(py_space);
    let (negative, mut digits) = sign(s)?;
    let prefix = match base {
        2 => "0b",
        8 => "0o",
        16 => "0x",
        _ => "",
    };
    if !prefix.is_empty()
        && digits
            .get(..2)
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    {
        digits = &digits[2..];
    }
    if digits.is_empty() {
        return Err(Reject);
    }
    let mut total = Some(0i128);
    for c in digits.chars() {
        let d = c.to_digit(base).ok_or(Reject)?;
        total = total.and_then(|t| t.checked_mul(i128::from(base))?.checked_add(i128::from(d)));
    }
    Ok(total.map(|t| if negative { -t } else { t }))
}

pub(super) fn construct_float(text: &str) -> Result<f64, Reject> {
    let value = text.replace('_', "").to_lowercase();
    let (negative, body) = sign(&value)?;
    let magnitude = match body {
        ".inf" => f64::INFINITY,
        ".nan" => f64::NAN,
        _ if body.contains(':') => {
            let parts = body
                .split(':')
                .map(py_float)
                .collect::<Result<Vec<_>, _>>()?;
            // Summed from the last part up, as PyYAML does, so the rounding is the same.
            let (mut total, mut base) = (0.0, 1.0);
            for part in parts.iter().rev() {
                total += part * base;
                base *= 60.0;
            }
            total
        }
        _ => py_float(body)?,
    };
    Ok(if negative { -magnitude } else { magnitude })
}

/// Python's `float(s)`: Rust's grammar is the same for ASCII text once whitespace is gone.
pub(super) fn py_float(s: &str) -> Result<f64, Reject> {
    s.trim_matches(py_space).parse().map_err(|_| Reject)
}

/// What Python's `==` (and so dict lookup) sees in a key; `None` for NaN, equal to nothing.
#[derive(Hash, PartialEq, Eq)]
pub(super) enum KeyId {
    Null,
    Str(String),
    Int(i128),
    Float(u64),
    BigInt(String),
}

pub(super) fn key_identity(key: &Scalar, text: &str) -> Option<KeyId> {
    Some(match key {
        Scalar::Null => KeyId::Null,
        Scalar::Str(s) => KeyId::Str(s.clone()),
        Scalar::Bool(b) => KeyId::Int(i128::from(*b)),
        Scalar::Int(Some(i)) => KeyId::Int(*i),
        Scalar::Int(None) => KeyId::BigInt(text.to_owned()),
        Scalar::Float(f) if f.is_nan() => return None,
        // 1.0 == 1 and -0.0 == 0 in Python.
        Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => KeyId::Int(*f as i128),
        Scalar::Float(f) => KeyId::Float(f.to_bits()),
    })
}

/// Python's `str()` of a key, which is how Salt's values reach JSON.
pub(super) fn py_str(key: Scalar, text: String) -> String {
    match key {
        Scalar::Null => "None".to_owned(),
        Scalar::Bool(b) => (if b { "True" } else { "False" }).to_owned(),
        Scalar::Int(Some(i)) => i.to_string(),
        Scalar::Int(None) => text,
        Scalar::Float(f) => py_float_repr(f),
        Scalar::Str(s) => s,
    }
}

/// Python's `repr(float)`: shortest digits, exponent form below 1e-4 and from 1e16 up.
pub(super) fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return (if f > 0.0 { "inf" } else { "-inf" }).to_owned();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..16).contains(&exp) {
        let (head, tail) = digits.split_at(1);
        let dot = if tail.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{head}{dot}{tail}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1;
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() > point {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    } else {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    }
}
