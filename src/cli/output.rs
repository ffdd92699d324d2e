//! The outputters every brine CLI selects with `--out`, byte-exact with Salt 3007's (colour off).
//!
//! Each one renders what `salt.output.try_printout` hands the CLI: the outputter's text with
//! trailing whitespace stripped (Python's `str.rstrip`). The CLI prints it and a newline, and
//! prints nothing at all when it is empty. Ground truth is differential: `nested` against
//! `tests/fixtures/salt/nested.json` (Salt itself), `yaml` against
//! `tests/fixtures/pyyaml_dump.json` (libyaml through PyYAML, the way Salt calls it).

use super::highstate::HighstateOpts;
use crate::py::{is_py_space, json_dumps, python_json, python_str, sorted};
use serde_json::Value;

/// The outputters a CLI can select with --out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outputter {
    /// Salt's default: indented `key:` lines, `- item` lists (`salt/output/nested.py`).
    Nested,
    /// `json.dumps(data, indent=4)`, keys in their given order (`salt/output/json_out.py`).
    Json,
    /// PyYAML block style through libyaml, keys sorted (`salt/output/yaml_out.py`).
    Yaml,
    /// Python's `str(data)` (`salt/output/raw.py`).
    Raw,
    /// Nothing (`salt/output/no_out_quiet.py`).
    Quiet,
    /// State runs: one block per state and a summary (`salt/output/highstate.py`).
    Highstate,
}

impl Outputter {
    /// Every name --out accepts, in the order help text lists them.
    pub const NAMES: &'static [&'static str] =
        &["nested", "json", "yaml", "raw", "quiet", "highstate"];

    /// The outputter Salt loads under `name`, if brine has it.
    pub fn from_name(name: &str) -> Option<Outputter> {
        match name {
            "nested" => Some(Outputter::Nested),
            "json" => Some(Outputter::Json),
            "yaml" => Some(Outputter::Yaml),
            "raw" => Some(Outputter::Raw),
            "quiet" => Some(Outputter::Quiet),
            "highstate" => Some(Outputter::Highstate),
            _ => None,
        }
    }

    /// The name --out takes for this outputter.
    pub fn name(self) -> &'static str {
        match self {
            Outputter::Nested => "nested",
            Outputter::Json => "json",
            Outputter::Yaml => "yaml",
            Outputter::Raw => "raw",
            Outputter::Quiet => "quiet",
            Outputter::Highstate => "highstate",
        }
    }
}

/// Render `data` as the outputter prints it, without the final newline ("" for quiet);
/// highstate with Salt's default options.
pub fn render(out: Outputter, data: &Value) -> String {
    render_with(out, data, &HighstateOpts::default())
}

/// Render `data` as the outputter prints it, the highstate outputter with these options.
pub fn render_with(out: Outputter, data: &Value, hs: &HighstateOpts) -> String {
    let mut text = match out {
        Outputter::Nested => nested(data),
        // json_out without `output_indent` in opts (the CLI default): indent 4, no sorting.
        Outputter::Json => json_dumps(data, Some(4), false, false),
        Outputter::Yaml => crate::py::yaml::dump(data),
        // raw.py returns a string unchanged and `str()` of anything else.
        Outputter::Raw => python_str(data),
        Outputter::Quiet => String::new(),
        Outputter::Highstate => super::highstate::format(data, hs),
    };
    let kept = text.trim_end_matches(is_py_space).len();
    text.truncate(kept);
    text
}

/// The `<tag>\t<json>` line `state.event` prints for each matching event.
pub fn event_line(tag: &str, data: &Value, pretty: bool) -> String {
    format!("{tag}\t{}", python_json(data, pretty))
}

// ---------------------------------------------------------------------------------------------
// nested

fn nested(data: &Value) -> String {
    let mut lines = Vec::new();
    nested_lines(data, 0, "", &mut lines);
    lines.join("\n")
}

/// The nested outputter's text of `data` from column `indent` (`nested_indent`), trailing
/// whitespace stripped as `try_printout` strips it: the highstate outputter's changes.
pub(crate) fn nested_at(data: &Value, indent: usize) -> String {
    let mut lines = Vec::new();
    nested_lines(data, indent, "", &mut lines);
    let mut text = lines.join("\n");
    let kept = text.trim_end_matches(is_py_space).len();
    text.truncate(kept);
    text
}

/// NestDisplay.display: `indent` is absolute, `prefix` is "- " for list items.
fn nested_lines(v: &Value, indent: usize, prefix: &str, out: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    match v {
        Value::String(s) => {
            for (i, line) in py_splitlines(s).into_iter().enumerate() {
                // Later lines line up under the first one's text, past its "- ".
                let p = if i == 0 {
                    prefix.to_string()
                } else {
                    " ".repeat(prefix.chars().count())
                };
                // strip_colors (on by default) defuses terminal escapes in values, not in keys.
                out.push(format!("{pad}{p}{}", line.replace('\x1b', "?")));
            }
        }
        Value::Array(items) => {
            for item in items {
                if item.is_array() || item.is_object() {
                    out.push(format!("{pad}|_"));
                    let p = if item.is_object() { "" } else { "- " };
                    nested_lines(item, indent + 2, p, out);
                } else {
                    nested_lines(item, indent, "- ", out);
                }
            }
        }
        Value::Object(map) => {
            // Only the top-level map goes without the rule (Salt tests `if indent:`).
            if indent > 0 {
                out.push(format!("{pad}----------"));
            }
            for (k, val) in sorted(map) {
                out.push(format!("{pad}{prefix}{k}:"));
                nested_lines(val, indent + 4, "", out);
            }
        }
        scalar => {
            out.push(format!("{pad}{prefix}{}", crate::py::python_repr(scalar)));
        }
    }
}

/// Python's `str.splitlines()`: every Unicode line boundary, `\r\n` as one, no trailing empty line.
pub(crate) fn py_splitlines(s: &str) -> Vec<&str> {
    let is_break = |c: char| "\n\r\u{b}\u{c}\u{1c}\u{1d}\u{1e}\u{85}\u{2028}\u{2029}".contains(c);
    let mut lines = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find(is_break) {
        lines.push(&rest[..at]);
        let skip = if rest[at..].starts_with("\r\n") {
            2
        } else {
            rest[at..].chars().next().map_or(1, char::len_utf8)
        };
        rest = &rest[at + skip..];
    }
    if !rest.is_empty() {
        lines.push(rest);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Turns the fixtures' `{"__float__": repr}` back into the exact double: serde_json's
    /// default float parser can land one ulp off, Rust's `str::parse` cannot.
    fn decode(v: &Value) -> Value {
        match v {
            Value::Object(m) if m.len() == 1 && m.contains_key("__float__") => {
                let f: f64 = m["__float__"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .expect("float marker");
                Value::from(f)
            }
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), decode(x))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(decode).collect()),
            other => other.clone(),
        }
    }

    /// Asserts every case of a `{"cases": [{"data", "text"}]}` fixture, reporting all misses.
    fn check_fixture(fixture: &str, out: Outputter) {
        let doc: Value = serde_json::from_str(fixture).expect("fixture is JSON");
        let cases = doc["cases"].as_array().expect("fixture has cases");
        assert!(!cases.is_empty());
        let misses: Vec<String> = cases
            .iter()
            .filter_map(|case| {
                let got = render(out, &decode(&case["data"]));
                let want = case["text"].as_str().expect("text is a string");
                (got != want)
                    .then(|| format!("data {}\n want {want:?}\n  got {got:?}", case["data"]))
            })
            .collect();
        assert!(
            misses.is_empty(),
            "{} of {} cases differ:\n{}",
            misses.len(),
            cases.len(),
            misses.join("\n")
        );
    }

    #[test]
    fn nested_matches_salt() {
        check_fixture(
            include_str!("../../tests/fixtures/salt/nested.json"),
            Outputter::Nested,
        );
    }

    #[test]
    fn yaml_matches_pyyaml() {
        check_fixture(
            include_str!("../../tests/fixtures/pyyaml_dump.json"),
            Outputter::Yaml,
        );
    }

    #[test]
    fn python_json_compact_keeps_order_and_unicode() {
        let v = json!({"z": 1, "a": [1.0, null, true], "ü": "cödé\n\"\u{1}", "e": {}, "l": []});
        assert_eq!(
            python_json(&v, false),
            r#"{"z": 1, "a": [1.0, null, true], "ü": "cödé\n\"\u0001", "e": {}, "l": []}"#
        );
    }

    #[test]
    fn python_json_pretty_sorts_with_indent_4() {
        let v =
            json!({"user": "root", "arg": [], "minions": ["web1"], "cfg": {"b": 1e20, "a": {}}});
        let want = "{\n    \"arg\": [],\n    \"cfg\": {\n        \"a\": {},\n        \"b\": 1e+20\n    },\n    \
                    \"minions\": [\n        \"web1\"\n    ],\n    \"user\": \"root\"\n}";
        assert_eq!(python_json(&v, true), want);
    }

    #[test]
    fn event_line_is_tag_tab_json() {
        let v = json!({"b": 1, "a": "x"});
        assert_eq!(
            event_line("salt/job/1/new", &v, false),
            "salt/job/1/new\t{\"b\": 1, \"a\": \"x\"}"
        );
        assert_eq!(
            event_line("t", &v, true),
            "t\t{\n    \"a\": \"x\",\n    \"b\": 1\n}"
        );
    }

    #[test]
    fn json_outputter_indents_4_without_sorting() {
        let v = json!({"m2": false, "m1": {"items": ["a"], "empty": []}});
        let want = "{\n    \"m2\": false,\n    \"m1\": {\n        \"items\": [\n            \"a\"\n        ],\n        \
                    \"empty\": []\n    }\n}";
        assert_eq!(render(Outputter::Json, &v), want);
        assert_eq!(render(Outputter::Json, &json!("x")), "\"x\"");
        assert_eq!(render(Outputter::Json, &json!([])), "[]");
    }

    #[test]
    fn raw_is_python_str() {
        assert_eq!(
            render(Outputter::Raw, &json!({"a": true, "b": [1, "x"]})),
            "{'a': True, 'b': [1, 'x']}"
        );
        assert_eq!(render(Outputter::Raw, &json!(null)), "None");
        assert_eq!(render(Outputter::Raw, &json!(1e16)), "1e+16");
        // A string at the top is printed as it is, trailing whitespace stripped.
        assert_eq!(render(Outputter::Raw, &json!("it's\n")), "it's");
        assert_eq!(
            render(Outputter::Raw, &json!(["it's", "say \"hi\"", "both ' \""])),
            r#"["it's", 'say "hi"', 'both \' "']"#
        );
        assert_eq!(
            render(
                Outputter::Raw,
                &json!(["\t\n\r\u{0}\u{7f}\\", "é\u{a0}\u{ad}\u{2028}😀\u{e000}"])
            ),
            r"['\t\n\r\x00\x7f\\', 'é\xa0\xad\u2028😀\ue000']"
        );
    }

    #[test]
    fn quiet_prints_nothing() {
        assert_eq!(render(Outputter::Quiet, &json!({"a": 1})), "");
    }

    #[test]
    fn names_round_trip() {
        for name in Outputter::NAMES {
            assert_eq!(Outputter::from_name(name).map(Outputter::name), Some(*name));
        }
        assert_eq!(Outputter::from_name("txt"), None);
        assert_eq!(Outputter::from_name("JSON"), None);
    }

    #[test]
    fn nested_strips_escapes_in_values_and_trailing_space() {
        assert_eq!(
            render(Outputter::Nested, &json!({"k": "\u{1b}[31mred"})),
            "k:\n    ?[31mred"
        );
        assert_eq!(
            render(Outputter::Nested, &json!(["a\r\nb\u{2028}c", "x  \u{1f}"])),
            "- a\n  b\n  c\n- x"
        );
    }

    #[test]
    fn odd_values_do_not_panic() {
        let mut deep = json!("leaf");
        for i in 0..100 {
            deep = if i % 2 == 0 {
                json!([deep, {}])
            } else {
                json!({"k\n": deep, "": []})
            };
        }
        let odd = [
            deep,
            json!(u64::MAX),
            json!(i64::MIN),
            json!([
                "\u{0}",
                "\u{feff}",
                "\u{10ffff}",
                " ",
                "\n",
                "\r\n",
                "-",
                "? ",
                "#"
            ]),
            json!({"\u{1b}": "\u{85}", "k".repeat(300): "x ".repeat(200)}),
        ];
        for v in &odd {
            for name in Outputter::NAMES {
                if let Some(out) = Outputter::from_name(name) {
                    let _ = render(out, v);
                }
            }
        }
    }
}
