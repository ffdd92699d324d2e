//! PyYAML's scalar resolution, where it differs from serde-saphyr's YAML 1.1: which plain
//! scalars are booleans, ints and floats, read again from the source text.

use serde_json::Value;

/// serde-saphyr typed a plain scalar as a boolean or a number; keep that only if PyYAML's
/// YAML 1.1 resolver agrees, otherwise it is the string that was written (`y`, `n`, `yEs`,
/// `0o17`, `1e3`). Without the source text, serde-saphyr's reading stands.
pub(super) fn pyyaml_scalar(source: Option<&str>, typed: Value) -> Value {
    let Some(source) = source else {
        return typed;
    };
    match PyScalar::resolve(source) {
        PyScalar::Bool(b) => Value::Bool(b),
        PyScalar::Number => typed,
        PyScalar::Other => Value::String(source.to_owned()),
    }
}

/// What PyYAML's implicit resolver (`yaml/resolver.py`) makes of a plain scalar, as far as the
/// corrections above need: booleans exactly, numbers by shape only.
#[derive(Debug, PartialEq)]
enum PyScalar {
    Bool(bool),
    Number,
    Other,
}

impl PyScalar {
    fn resolve(s: &str) -> PyScalar {
        match s {
            "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
                PyScalar::Bool(true)
            }
            "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
                PyScalar::Bool(false)
            }
            _ if py_int(s) || py_float(s) => PyScalar::Number,
            _ => PyScalar::Other,
        }
    }
}

/// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
///  | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`
fn py_int(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if let Some(bits) = s.strip_prefix("0b") {
        return !bits.is_empty() && bits.bytes().all(|b| matches!(b, b'0' | b'1' | b'_'));
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
    }
    if s == "0" {
        return true;
    }
    if let Some(octal) = s.strip_prefix('0') {
        return !octal.is_empty() && octal.bytes().all(|b| matches!(b, b'0'..=b'7' | b'_'));
    }
    let mut parts = s.split(':');
    let head = parts.next().unwrap_or("");
    leading_digits(head, b'1') == head.len() && !head.is_empty() && parts.all(sexagesimal_digit)
}

/// `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9][0-9_]*([eE][-+][0-9]+)?
///  | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)`
fn py_float(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let unsigned = s.strip_prefix(['-', '+']);
    let signed = unsigned.is_some();
    let s = unsigned.unwrap_or(s);
    if matches!(s, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    if let Some(fraction) = s.strip_prefix('.') {
        let digits = leading_digits(fraction, b'0');
        return !signed && digits > 0 && exponent(&fraction[digits..]);
    }
    let digits = leading_digits(s, b'0');
    if digits == 0 {
        return false;
    }
    let rest = &s[digits..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let frac_len = fraction
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'_')
            .count();
        return exponent(&fraction[frac_len..]);
    }
    // Sexagesimal: groups of `:[0-5]?[0-9]`, then `.` and a fraction without exponent.
    let Some((groups, fraction)) = rest.split_once('.') else {
        return false;
    };
    groups.starts_with(':')
        && groups[1..].split(':').all(sexagesimal_digit)
        && fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// Length of a leading `[first-9][0-9_]*`.
fn leading_digits(s: &str, first: u8) -> usize {
    match s.as_bytes().first() {
        Some(b) if (first..=b'9').contains(b) => {
            1 + s.as_bytes()[1..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b'_')
                .count()
        }
        _ => 0,
    }
}

/// `[0-5]?[0-9]`
fn sexagesimal_digit(part: &str) -> bool {
    match part.as_bytes() {
        [d] => d.is_ascii_digit(),
        [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
        _ => false,
    }
}

/// `([eE][-+][0-9]+)?` and nothing after it.
fn exponent(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let Some(rest) = s.strip_prefix(['e', 'E']) else {
        return false;
    };
    let Some(digits) = rest.strip_prefix(['-', '+']) else {
        return false;
    };
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyyaml_number_shapes() {
        for s in [
            "0", "-0", "+12", "1_0", "0b1_0", "0x_f", "07", "1:30", "-1:30:59", "0_7",
        ] {
            assert!(py_int(s), "{s} is a PyYAML int");
        }
        for s in [
            "", "-", "0b", "0x", "08", "0o7", "1:60", "1:3:", ":30", "1__a", "1e3",
        ] {
            assert!(!py_int(s), "{s} is not a PyYAML int");
        }
        for s in [
            "1.", "1.5", "-1.5", "1_0.0_1", ".5", ".5e-3", "1.0e+10", "1:30.5", ".inf", "-.Inf",
            ".NaN",
        ] {
            assert!(py_float(s), "{s} is a PyYAML float");
        }
        for s in [
            "1e3", "1.5e3", "-.5", "+.5", ".", "1.e", "1.0e+", "-.nan", "1:30", "abc",
        ] {
            assert!(!py_float(s), "{s} is not a PyYAML float");
        }
    }
}
