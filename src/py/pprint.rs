//! Python's `pprint.pformat(value)` (width 80, indent 1, dict keys sorted), which the highstate
//! outputter prints for a state return that lacks its run number.

use super::repr::python_repr;
use serde_json::Value;

const WIDTH: usize = 80;

/// `pprint.pformat(v)`.
pub fn pformat(v: &Value) -> String {
    let mut out = String::new();
    format(v, &mut out, 0, 0, 0);
    out
}

/// pprint's `_safe_repr`: `repr()` with every dict's keys sorted.
fn sorted_repr(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let items: Vec<String> = super::sorted(m)
                .into_iter()
                .map(|(k, x)| {
                    format!(
                        "{}: {}",
                        python_repr(&Value::String(k.clone())),
                        sorted_repr(x)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(sorted_repr).collect();
            format!("[{}]", items.join(", "))
        }
        other => python_repr(other),
    }
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// `PrettyPrinter._format`: the repr when it fits in what is left of the line, else the
/// container or string broken over lines.
fn format(v: &Value, out: &mut String, indent: usize, allowance: usize, level: usize) {
    let rep = sorted_repr(v);
    let max_width = WIDTH.saturating_sub(indent + allowance);
    if len(&rep) <= max_width {
        out.push_str(&rep);
        return;
    }
    match v {
        Value::Object(m) => {
            out.push('{');
            let items = super::sorted(m);
            let indent = indent + 1;
            let last = items.len().saturating_sub(1);
            for (i, (k, x)) in items.into_iter().enumerate() {
                let key = python_repr(&Value::String(k.clone()));
                out.push_str(&key);
                out.push_str(": ");
                let allow = if i == last { allowance + 1 } else { 1 };
                format(x, out, indent + len(&key) + 2, allow, level + 1);
                if i != last {
                    out.push_str(",\n");
                    out.push_str(&" ".repeat(indent));
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            let indent = indent + 1;
            let last = a.len().saturating_sub(1);
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                    out.push_str(&" ".repeat(indent));
                }
                let allow = if i == last { allowance + 1 } else { 1 };
                format(x, out, indent, allow, level + 1);
            }
            out.push(']');
        }
        Value::String(s) => format_str(s, out, indent, allowance, level + 1),
        _ => out.push_str(&rep),
    }
}

/// `PrettyPrinter._pprint_str`: a long string as adjacent literals, split after whitespace,
/// one line each; at the top (level 1) in parentheses.
fn format_str(s: &str, out: &mut String, indent: usize, allowance: usize, level: usize) {
    let repr = |t: &str| python_repr(&Value::String(t.to_string()));
    let (indent, allowance) = if level == 1 {
        (indent + 1, allowance + 1)
    } else {
        (indent, allowance)
    };
    let max_width = WIDTH.saturating_sub(indent);
    let lines = split_keepends(s);
    let mut chunks: Vec<String> = Vec::new();
    let mut last_rep = String::new();
    for (i, line) in lines.iter().enumerate() {
        let rep = repr(line);
        let last_line = i + 1 == lines.len();
        let max1 = if last_line {
            max_width.saturating_sub(allowance)
        } else {
            max_width
        };
        if len(&rep) <= max1 {
            chunks.push(rep.clone());
        } else {
            let parts = space_parts(line);
            let mut current = String::new();
            for (j, part) in parts.iter().enumerate() {
                let candidate = format!("{current}{part}");
                let max2 = if j + 1 == parts.len() && last_line {
                    max_width.saturating_sub(allowance)
                } else {
                    max_width
                };
                if len(&repr(&candidate)) > max2 {
                    if !current.is_empty() {
                        chunks.push(repr(&current));
                    }
                    current = part.to_string();
                } else {
                    current = candidate;
                }
            }
            if !current.is_empty() {
                chunks.push(repr(&current));
            }
        }
        last_rep = rep;
    }
    if chunks.len() <= 1 {
        // pprint writes the last line's repr here, which is the whole string's for one line.
        out.push_str(if lines.len() == 1 {
            &last_rep
        } else {
            &chunks[0]
        });
        return;
    }
    if level == 1 {
        out.push('(');
    }
    for (i, c) in chunks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(c);
    }
    if level == 1 {
        out.push(')');
    }
}

/// `str.splitlines(True)` for the common breaks (`\n`, `\r\n`, `\r`).
fn split_keepends(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' || b[i] == b'\r' {
            let end = if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
                i + 2
            } else {
                i + 1
            };
            out.push(&s[start..end]);
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// `re.findall(r'\S*\s*', line)` without its final empty match.
fn space_parts(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let word = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let after = rest[word..]
            .find(|c: char| !c.is_whitespace())
            .map_or(rest.len(), |n| word + n);
        out.push(&rest[..after]);
        rest = &rest[after..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_values_are_one_sorted_repr() {
        assert_eq!(
            pformat(&json!({"b": 1, "a": [true, null]})),
            "{'a': [True, None], 'b': 1}"
        );
    }

    #[test]
    fn long_values_break_like_python() {
        // From Python 3.11's pprint.pformat.
        let v = json!({"name": "b", "comment": "c".repeat(30), "changes": {"k": "v".repeat(70)},
                       "result": true, "list": ["x".repeat(40), "y".repeat(40)]});
        assert_eq!(
            pformat(&v),
            "{'changes': {'k': 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv'},\n \
             'comment': 'cccccccccccccccccccccccccccccc',\n \
             'list': ['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',\n          \
             'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'],\n \
             'name': 'b',\n \
             'result': True}"
        );
        let v = json!({"comment": "word ".repeat(20)});
        assert_eq!(
            pformat(&v),
            "{'comment': 'word word word word word word word word word word word word word '\n            \
             'word word word word word word word '}"
        );
        let v = json!({"c": "line one\nline two ".repeat(8)});
        let mut want = "{'c': 'line one\\n'\n".to_string();
        want.push_str(&"      'line two line one\\n'\n".repeat(7));
        want.push_str("      'line two '}");
        assert_eq!(pformat(&v), want);
    }
}
