//! Python's `str()` and `repr()` of values, and float repr, as Salt's messages and the
//! raw outputter print them.

use serde_json::{Number, Value};
use std::fmt::Write;

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
pub(super) fn py_number(n: &Number) -> String {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (_, Some(u), _) => u.to_string(),
        (_, _, Some(f)) => python_float(f),
        _ => n.to_string(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
