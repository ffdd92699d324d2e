//! Metric families as the master's `metrics.master` runner returns them, rendered in the
//! Prometheus text exposition format 0.0.4 for brine-api's `/metrics` (`/stats` serves the
//! families as JSON).
//!
//! A family is `{"name", "type", "help", "samples": [{"labels": {..}, "value": n}]}`, where
//! `type` is `counter`, `gauge`, `histogram`, `summary` or `untyped`, and a sample of a
//! histogram or summary may carry `"suffix"` (`_bucket`, `_sum`, `_count`) appended to the
//! family's name on its line. A value is a JSON number, or the string `+Inf`, `-Inf` or
//! `NaN` (JSON has no literal for them).
//!
//! The input comes over the master's socket, so nothing in it can make rendering fail: a
//! family without a usable name or samples is left out, a bad name character becomes `_`.

use serde_json::{Map, Value};
use std::fmt::Write;

/// The `Content-Type` of [`prometheus_text`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The family types the format knows; anything else is written as `untyped`.
const TYPES: [&str; 5] = ["counter", "gauge", "histogram", "summary", "untyped"];

/// Suffixes a sample may add to its family's name.
const SUFFIXES: [&str; 3] = ["_bucket", "_sum", "_count"];

/// A metric or label name with every character the format does not allow replaced by `_`
/// (metric names may also hold `:`); None when nothing is left.
fn clean_name(name: &str, colons: bool) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let out: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let ok = c.is_ascii_alphabetic()
                || c == '_'
                || (colons && c == ':')
                || (i > 0 && c.is_ascii_digit());
            if ok {
                c
            } else {
                '_'
            }
        })
        .collect();
    Some(out)
}

/// A `# HELP` text: backslash and newline escaped, as the format asks.
fn escape_help(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A label value: backslash, double quote and newline escaped.
fn escape_label(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A float as the format reads it (Go's `ParseFloat`): `+Inf`, `-Inf`, `NaN`, whole
/// numbers without a fraction, and an exponent only for the very large or small.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let a = v.abs();
    if a == 0.0 || (1e-6..1e21).contains(&a) {
        // Rust's shortest round-trip form: 3 for 3.0, 0.25, 1234.5.
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A sample's value; None when it is not a number or one of the named floats.
fn format_value(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Some(u.to_string())
            } else if let Some(i) = n.as_i64() {
                Some(i.to_string())
            } else {
                n.as_f64().map(format_float)
            }
        }
        Value::String(s) => match s.as_str() {
            "+Inf" | "Inf" | "inf" | "+inf" => Some("+Inf".into()),
            "-Inf" | "-inf" => Some("-Inf".into()),
            "NaN" | "nan" => Some("NaN".into()),
            _ => None,
        },
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
        _ => None,
    }
}

/// `{a="x",b="y"}`, or nothing without labels.
fn write_labels(labels: Option<&Map<String, Value>>, out: &mut String) {
    let Some(labels) = labels.filter(|l| !l.is_empty()) else {
        return;
    };
    out.push('{');
    let mut first = true;
    for (k, v) in labels {
        let Some(k) = clean_name(k, false) else {
            continue;
        };
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&k);
        out.push_str("=\"");
        match v {
            Value::String(s) => escape_label(s, out),
            other => escape_label(&other.to_string(), out),
        }
        out.push('"');
    }
    out.push('}');
}

/// Renders families in the text format 0.0.4: per family `# HELP` (when it has help),
/// `# TYPE`, then one line per sample. Families that share a name should be merged first
/// ([`merge`]); the format wants each name once.
pub fn prometheus_text(families: &[Value]) -> String {
    let mut out = String::new();
    for f in families {
        let Some(f) = f.as_object() else {
            continue;
        };
        let Some(name) = f
            .get("name")
            .and_then(Value::as_str)
            .and_then(|n| clean_name(n, true))
        else {
            continue;
        };
        let kind = f
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| TYPES.contains(t))
            .unwrap_or("untyped");
        let samples = match f.get("samples") {
            Some(Value::Array(s)) => s.as_slice(),
            _ => &[],
        };
        let help = f.get("help").and_then(Value::as_str).unwrap_or("");
        if !help.is_empty() {
            let _ = write!(out, "# HELP {name} ");
            escape_help(help, &mut out);
            out.push('\n');
        }
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for s in samples {
            let Some(s) = s.as_object() else {
                continue;
            };
            let Some(value) = s.get("value").and_then(format_value) else {
                continue;
            };
            let suffix = s
                .get("suffix")
                .and_then(Value::as_str)
                .filter(|x| SUFFIXES.contains(x))
                .unwrap_or("");
            out.push_str(&name);
            out.push_str(suffix);
            write_labels(s.get("labels").and_then(Value::as_object), &mut out);
            out.push(' ');
            out.push_str(&value);
            out.push('\n');
        }
    }
    out
}

/// Joins lists of families (the master's and brine-api's own) into one list in which each
/// name appears once: a name's samples are gathered under its first family, in order.
pub fn merge(lists: &[&[Value]]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for f in lists.iter().flat_map(|l| l.iter()) {
        let Some(name) = f.get("name").and_then(Value::as_str) else {
            continue;
        };
        match at.get(name) {
            Some(&i) => {
                let more = match f.get("samples") {
                    Some(Value::Array(s)) => s.clone(),
                    _ => Vec::new(),
                };
                if let Some(Value::Array(s)) = out.get_mut(i).and_then(|g| g.get_mut("samples")) {
                    s.extend(more);
                }
            }
            None => {
                at.insert(name.to_owned(), out.len());
                let mut f = f.clone();
                if let Some(m) = f.as_object_mut() {
                    if !matches!(m.get("samples"), Some(Value::Array(_))) {
                        m.insert("samples".into(), Value::Array(Vec::new()));
                    }
                }
                out.push(f);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counters_and_gauges_with_help_type_and_labels() {
        let fams = [
            json!({"name": "brine_master_events_in_total", "type": "counter",
                   "help": "Events published on the master bus.",
                   "samples": [{"labels": {}, "value": 42}]}),
            json!({"name": "brine_master_auth_refusals_total", "type": "counter",
                   "help": "Refused requests.",
                   "samples": [{"labels": {"reason": "forged"}, "value": 1},
                               {"labels": {"reason": "replayed"}, "value": 0}]}),
            json!({"name": "brine_master_uptime_seconds", "type": "gauge", "help": "",
                   "samples": [{"value": 12.5}]}),
        ];
        assert_eq!(
            prometheus_text(&fams),
            "# HELP brine_master_events_in_total Events published on the master bus.\n\
             # TYPE brine_master_events_in_total counter\n\
             brine_master_events_in_total 42\n\
             # HELP brine_master_auth_refusals_total Refused requests.\n\
             # TYPE brine_master_auth_refusals_total counter\n\
             brine_master_auth_refusals_total{reason=\"forged\"} 1\n\
             brine_master_auth_refusals_total{reason=\"replayed\"} 0\n\
             # TYPE brine_master_uptime_seconds gauge\n\
             brine_master_uptime_seconds 12.5\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let fams = [json!({"name": "q", "type": "gauge",
            "help": "a \\ back\nslash",
            "samples": [{"labels": {"queue": "a\"b\\c\nd", "n": 3}, "value": 1}]})];
        assert_eq!(
            prometheus_text(&fams),
            "# HELP q a \\\\ back\\nslash\n# TYPE q gauge\nq{queue=\"a\\\"b\\\\c\\nd\",n=\"3\"} 1\n"
        );
    }

    #[test]
    fn floats_as_the_format_reads_them() {
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(3.0), "3");
        assert_eq!(format_float(-0.25), "-0.25");
        assert_eq!(format_float(0.0), "0");
        assert_eq!(format_float(1e-7), "1e-7");
        assert_eq!(format_float(1.5e300), "1.5e300");
        assert_eq!(format_float(0.1 + 0.2), "0.30000000000000004");
        for v in [1e-7, 1.5e300, 0.30000000000000004, 123456.789] {
            assert_eq!(format_float(v).parse::<f64>().unwrap(), v);
        }
        let fams = [json!({"name": "x", "type": "gauge", "samples": [
            {"value": "+Inf"}, {"value": "-Inf"}, {"value": "NaN"}, {"value": u64::MAX},
            {"value": -3}, {"value": "seven"}, {"value": null}, {"labels": {}}]})];
        assert_eq!(
            prometheus_text(&fams),
            "# TYPE x gauge\nx +Inf\nx -Inf\nx NaN\nx 18446744073709551615\nx -3\n"
        );
    }

    #[test]
    fn histogram_samples_carry_their_suffix() {
        let fams = [
            json!({"name": "brine_master_store_commit_seconds", "type": "histogram",
            "help": "Commit latency.",
            "samples": [
                {"suffix": "_bucket", "labels": {"le": "0.001"}, "value": 3},
                {"suffix": "_bucket", "labels": {"le": "+Inf"}, "value": 4},
                {"suffix": "_sum", "labels": {}, "value": 0.0125},
                {"suffix": "_count", "labels": {}, "value": 4},
                {"suffix": "_evil", "labels": {}, "value": 9}]}),
        ];
        assert_eq!(
            prometheus_text(&fams),
            "# HELP brine_master_store_commit_seconds Commit latency.\n\
             # TYPE brine_master_store_commit_seconds histogram\n\
             brine_master_store_commit_seconds_bucket{le=\"0.001\"} 3\n\
             brine_master_store_commit_seconds_bucket{le=\"+Inf\"} 4\n\
             brine_master_store_commit_seconds_sum 0.0125\n\
             brine_master_store_commit_seconds_count 4\n\
             brine_master_store_commit_seconds 9\n"
        );
    }

    #[test]
    fn bad_families_are_left_out_and_bad_names_cleaned() {
        let fams = [
            json!("not a family"),
            json!({"type": "counter", "samples": [{"value": 1}]}),
            json!({"name": "", "samples": [{"value": 1}]}),
            json!({"name": "9lives-left.x", "type": "weird", "samples": [
                {"labels": {"bad-label": "v", "": "gone", "0x": "y"}, "value": 1}]}),
            json!({"name": "no_samples", "type": "counter"}),
        ];
        assert_eq!(
            prometheus_text(&fams),
            "# TYPE _lives_left_x untyped\n_lives_left_x{bad_label=\"v\",_x=\"y\"} 1\n\
             # TYPE no_samples counter\n"
        );
    }

    #[test]
    fn the_master_runner_families_render() {
        let stats = crate::runners::metrics::MasterStats {
            queue_lengths: vec![("jobs".into(), 2)],
            auth_refusals: vec![("forged", 1)],
            commit_count: 3,
            commit_seconds: 0.5,
            commit_buckets: vec![(0.0005, 0), (0.25, 2)],
            ..Default::default()
        };
        let text = prometheus_text(&crate::runners::metrics::families(&stats));
        for line in [
            "# TYPE brine_master_events_in_total counter\nbrine_master_events_in_total 0\n",
            "brine_master_queue_length{queue=\"jobs\"} 2\n",
            "brine_master_auth_refusals_total{reason=\"forged\"} 1\n",
            "# TYPE brine_master_store_commit_seconds histogram\n",
            "brine_master_store_commit_seconds_bucket{le=\"0.0005\"} 0\n",
            "brine_master_store_commit_seconds_bucket{le=\"0.25\"} 2\n",
            "brine_master_store_commit_seconds_bucket{le=\"+Inf\"} 3\n",
            "brine_master_store_commit_seconds_sum 0.5\nbrine_master_store_commit_seconds_count 3\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        // Every line is a comment or `name{labels} value`.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = l.rsplit_once(' ').unwrap();
            assert!(v.parse::<f64>().is_ok() || v == "+Inf", "{l}");
        }
    }

    #[test]
    fn merge_gathers_samples_under_one_name() {
        let a = [
            json!({"name": "a", "type": "counter", "help": "first", "samples": [{"value": 1}]}),
            json!({"name": "b", "type": "gauge", "samples": [{"value": 2}]}),
        ];
        let b = [
            json!({"name": "a", "type": "gauge", "help": "second",
                   "samples": [{"labels": {"x": "y"}, "value": 3}]}),
            json!({"name": "c", "type": "gauge"}),
            json!({"samples": []}),
        ];
        let m = merge(&[&a, &b]);
        assert_eq!(
            m,
            [
                json!({"name": "a", "type": "counter", "help": "first",
                       "samples": [{"value": 1}, {"labels": {"x": "y"}, "value": 3}]}),
                json!({"name": "b", "type": "gauge", "samples": [{"value": 2}]}),
                json!({"name": "c", "type": "gauge", "samples": []}),
            ]
        );
        assert_eq!(
            prometheus_text(&m),
            "# HELP a first\n# TYPE a counter\na 1\na{x=\"y\"} 3\n# TYPE b gauge\nb 2\n# TYPE c gauge\n"
        );
    }
}
