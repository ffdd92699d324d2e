//! CLI words to arguments, as Salt's `salt.utils.args.parse_input(words, condition=False)`.
//!
//! Every brine CLI (and the reactor) splits its words into positional args and `key=value`
//! kwargs and coerces each value as Salt's `yamlify_arg` does: a few string rules first, then
//! Salt's YAML loader (libyaml 0.2.5's scanner and parser under PyYAML's SafeLoader resolver,
//! with Salt's tweaks: leading zeros make decimal ints, timestamps stay strings, duplicate keys
//! fail), then rules on which results are kept. The loader below is our own and only as big as
//! one CLI word needs: a single line, so no multi-line block structure or line folding.
//!
//! Deliberate differences from Salt, because `serde_json::Value` cannot hold Salt's value or
//! to keep hostile input bounded. "The word" means the word stays the string it was; inside a
//! collection a value JSON cannot carry becomes its scalar's text instead.
//! - `.inf`, `-.inf`, `.nan`, floats that overflow, and ints outside i64/u64.
//! - Map keys become the string Python's `str()` gives (`1` → "1", `~` → "None").
//! - Nesting past 64 collections, aliases to their own ancestors, alias expansion past a
//!   budget, and `!!binary`, `!!set`, `!!omap`, `!!pairs` (no JSON form): the word.
//! - Words holding YAML line breaks other than CR/LF (U+0085, U+2028, U+2029): the word.
//! - Kwarg names use Rust's `char::is_alphanumeric`, not Python's `\w`: a few combining marks
//!   and circled letters count as letters, and a name cannot start with a digit like `²`.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde_json::{Map, Number, Value};

mod construct;
mod parser;
mod resolve;
mod scanner;

use construct::*;
use parser::*;
use resolve::*;
use scanner::*;

/// Collections nested deeper than this keep the word: bounds recursion on hostile input.
pub(super) const MAX_DEPTH: usize = 64;
/// libyaml forgets a possible implicit key once the scanner is this many characters past it.
pub(super) const SIMPLE_KEY_LIMIT: usize = 1024;
/// Values an alias-free word can build are at most its length; this is the slack for aliases.
pub(super) const ALIAS_BUDGET: usize = 1 << 16;

/// Salt's parse_input(words, condition=False): positional args and key=value kwargs.
pub fn parse_input<S: AsRef<str>>(words: &[S]) -> (Vec<Value>, Map<String, Value>) {
    let mut args = Vec::new();
    let mut kwargs = Map::new();
    for word in words {
        let word = word.as_ref();
        match split_kwarg(word) {
            // A repeated key keeps its first position and takes the last value, as a dict does.
            Some((key, value)) => {
                kwargs.insert(key.to_owned(), yamlify_arg(value));
            }
            None => args.push(yamlify_arg(word)),
        }
    }
    (args, kwargs)
}

/// Fuzz entry: NUL-separated words (lossy UTF-8) through `parse_input`; must never panic.
pub fn fuzz_parse(data: &[u8]) {
    let words: Vec<String> = data
        .split(|&b| b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let _ = parse_input(&words);
}

/// Salt's `KWARG_REGEX`, `^([^\d\W][\w.-]*)=(?!=)(.*)$`, without a regex engine.
pub(super) fn split_kwarg(word: &str) -> Option<(&str, &str)> {
    let (key, rest) = word.split_once('=')?;
    let mut chars = key.chars();
    let first = chars.next()?;
    if !(first == '_' || first.is_alphabetic()) || rest.starts_with('=') {
        return None;
    }
    if !chars.all(|c| c == '_' || c == '.' || c == '-' || c.is_alphanumeric()) {
        return None;
    }
    // `.` never matches a newline, and `$` may only step over a final one.
    match rest.find('\n') {
        None => Some((key, rest)),
        Some(i) if i + 1 == rest.len() => Some((key, &rest[..i])),
        Some(_) => None,
    }
}

/// One CLI word coerced as Salt's yamlify_arg does.
pub fn yamlify_arg(word: &str) -> Value {
    let original = || Value::String(word.to_owned());
    let stripped = word.trim_matches(py_space);
    // YAML would read these as null or a document marker, so Salt keeps them.
    if matches!(stripped, "" | "---" | "...") {
        return original();
    }
    // YAML would drop the underscores and read an int.
    if word.contains('_') && stripped.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return original();
    }
    if word.contains(['\t', '\r', '\n']) {
        return original();
    }
    if word.contains('#') {
        // `#` may have cut a comment off, so only a non-string result is worth the loss.
        return match load(word) {
            Ok(Value::String(_) | Value::Null) | Err(Reject) => original(),
            Ok(value) => value,
        };
    }
    if word == "None" {
        return Value::Null;
    }
    match load(word) {
        Err(Reject) => original(),
        // `a: b` or `- x` read as a map or list only when braces or brackets say so.
        Ok(Value::Object(_)) if !word.starts_with('{') => original(),
        Ok(Value::Array(_)) if !word.starts_with('[') => original(),
        // YAML reads both as an empty string, which is surely not what was meant.
        Ok(Value::String(s)) if s.is_empty() && (word == "|" || word == "!") => original(),
        Ok(value) => value,
    }
}

/// Python's `str.isspace` (one definition, in `py`).
pub(super) use crate::py::is_py_space as py_space;

/// Anything Salt's loader raises on, or a value brine declines: the word stays a string.
#[derive(Debug)]
pub(super) struct Reject;

/// Salt's `salt.utils.yaml.safe_load` for one line; `null` also stands for an empty stream.
pub(super) fn load(text: &str) -> Result<Value, Reject> {
    // libyaml refuses control characters outright; other line breaks would need multi-line YAML.
    let usable = |c: char| {
        matches!(c, ' '..='~' | '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{d7ff}'
            | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
    };
    if !text.chars().all(usable) {
        return Err(Reject);
    }
    // libyaml's reader drops one byte-order mark without it taking a column.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let chars: Vec<char> = text.chars().collect();
    let tokens = Scanner::new(&chars).run()?;
    let root = Parser::new(tokens).document()?;
    let mut builder = Builder {
        budget: chars.len() + ALIAS_BUDGET,
    };
    match root {
        None => Ok(Value::Null),
        Some(node) => builder.value(&node, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn y(word: &str) -> Value {
        yamlify_arg(word)
    }

    /// Salt 3007's own output (`gen_salt_fixtures.py`), every case, bar the listed differences.
    #[test]
    fn matches_salt_fixture() {
        // Word, the float Salt gave (fixture marker `{"__float__": ..}`), why brine keeps the word.
        const DIFFERENCES: &[(&str, &str, &str)] = &[
            (".inf", "inf", "serde_json::Value has no infinity"),
            ("-.inf", "-inf", "serde_json::Value has no infinity"),
            (".nan", "nan", "serde_json::Value has no NaN"),
        ];
        fn substitute(v: &Value, table: &[(&str, &str, &str)]) -> Value {
            match v {
                Value::Object(m) if m.keys().any(|k| k.starts_with("__")) => {
                    let found = table
                        .iter()
                        .find(|(_, float, _)| *v == json!({ "__float__": float }));
                    match found {
                        Some((word, _, _)) => Value::String((*word).to_owned()),
                        None => panic!("unlisted difference: Salt gave {v}"),
                    }
                }
                Value::Object(m) => Value::Object(
                    m.iter()
                        .map(|(k, x)| (k.clone(), substitute(x, table)))
                        .collect(),
                ),
                Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, table)).collect()),
                _ => v.clone(),
            }
        }
        let fixture: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/salt/args.json")).unwrap();
        let cases = fixture["cases"].as_array().unwrap();
        assert!(cases.len() >= 148);
        for case in cases {
            let words: Vec<&str> = case["input"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            let (args, kwargs) = parse_input(&words);
            assert_eq!(
                Value::Array(args),
                substitute(&case["args"], DIFFERENCES),
                "args of {words:?}"
            );
            assert_eq!(
                Value::Object(kwargs),
                substitute(&case["kwargs"], DIFFERENCES),
                "kwargs of {words:?}"
            );
        }
    }

    #[test]
    fn kwarg_names_follow_salts_regex() {
        assert_eq!(split_kwarg("a.b-c_d=1"), Some(("a.b-c_d", "1")));
        assert_eq!(split_kwarg("ünï=1"), Some(("ünï", "1")));
        assert_eq!(split_kwarg("k=v\n"), Some(("k", "v")));
        assert_eq!(split_kwarg("k=a\nb"), None);
        assert_eq!(split_kwarg("k==v"), None);
        assert_eq!(split_kwarg("1k=v"), None);
        assert_eq!(split_kwarg("k y=v"), None);
        let (args, kwargs) = parse_input(&["k=1", "x", "k=2"]);
        assert_eq!(args, vec![json!("x")]);
        assert_eq!(Value::Object(kwargs), json!({"k": 2}));
    }

    /// Each checked against Salt's loader (libyaml 0.2.5 under PyYAML 6).
    #[test]
    fn scalars_resolve_as_salt_does() {
        for (word, want) in [
            ("-0755", json!(-493)), // Salt's leading-zero fix misses a sign: octal again
            ("+0755", json!(493)),
            ("0789", json!("0789")),
            ("0b101", json!(5)),
            ("-0x1F", json!(-31)),
            ("0x_", json!("0x_")),
            ("-0_7", json!(-7)),
            ("190:20:30", json!(685230)),
            ("-1:30", json!(-90)),
            ("1:60", json!("1:60")),
            ("0:30", json!("0:30")),
            ("1:30.5", json!(90.5)),
            ("1.e+3", json!(1000.0)),
            ("1.0e3", json!("1.0e3")),
            (".5", json!(0.5)),
            ("-.5", json!("-.5")),
            ("+.inf", json!("+.inf")),
            ("-.nan", json!("-.nan")),
            ("18446744073709551615", json!(18446744073709551615u64)),
            ("18446744073709551616", json!("18446744073709551616")),
            ("-9223372036854775809", json!("-9223372036854775809")),
            ("\u{feff}5", json!(5)),
            ("\u{feff}", json!(null)),
            ("=", json!("=")),
            ("<<", json!("<<")),
            ("!", json!("!")),
            ("!!str", json!("")),
            ("! 5", json!(5)),
            ("! '5'", json!(5)),
            ("!!int '5'", json!(5)),
            ("!!int ' 5 '", json!(5)),
            ("!!int --5", json!(5)),
            ("!!int 0x0x10", json!(16)),
            ("!!int 0o17", json!("!!int 0o17")),
            ("!!float 1", json!(1.0)),
            ("!!float ' 1.5 '", json!(1.5)),
            ("!!bool YES", json!(true)),
            ("!!bool x", json!("!!bool x")),
            ("!!null x", json!(null)),
            ("!!timestamp 2024-01-01", json!("2024-01-01")),
            ("!!python/unicode x", json!("x")),
            ("!<tag:yaml.org,2002:int> 5", json!(5)),
            ("!<!> 5", json!(5)),
            ("!!binary aGk=", json!("!!binary aGk=")),
            ("&a", json!(null)),
            ("&a 5", json!(5)),
            ("|+", json!("")),
            ("|-1", json!("")),
            ("|0", json!("|0")),
            ("| x", json!("| x")),
            ("--- |", json!("")),
            ("--- 5", json!(5)),
            ("... x", json!("... x")),
            ("\"\\x41\\u00e9\\U0001F600\\/\"", json!("Aé😀/")),
            ("\"\\ud800\"", json!("\"\\ud800\"")),
            ("\"\\'\"", json!("\"\\'\"")),
            ("\"a\\\"", json!("\"a\\\"")),
            ("'it''s'", json!("it's")),
            ("'a' b", json!("'a' b")),
            ("a 'b'", json!("a 'b'")),
            (" %x", json!(" %x")),
            ("`a", json!("`a")),
            (" 5 ", json!(5)),
            ("a\u{85}b", json!("a\u{85}b")), // Salt folds this to "a b": see the module docs
            // The reader drops one BOM; the scanner skips another in column 0, which then is 1.
            ("\u{feff}--- 5", json!(5)),
            ("\u{feff}\u{feff}", json!(null)),
            ("\u{feff}\u{feff}--- 5", json!("--- 5")),
            ("\u{feff}... x", json!("\u{feff}... x")),
            // SafeConstructor reads a map with a `=` key as that key's value.
            ("!!str {a: 1, =: 0755} #", json!("!!str {a: 1, =: 0755} #")),
            ("[!!str {a: 1, =: 0755}]", json!(["755"])),
            ("[!!float {=: 1.5}]", json!([1.5])),
            ("[!!int {=: 5}]", json!("[!!int {=: 5}]")),
            ("{!!str {=: a}: b}", json!({"a": "b"})),
        ] {
            assert_eq!(y(word), want, "{word:?}");
        }
    }

    #[test]
    fn collections_follow_libyaml() {
        for (word, want) in [
            ("{a:1}", json!({"a:1": null})),
            ("[a:b]", json!(["a:b"])),
            ("{a:[1]}", json!("{a:[1]}")), // libyaml 0.2.5 rejects `:[` inside a plain scalar
            ("[a :,]", json!("[a :,]")),
            ("[a: ,]", json!([{"a": null}])),
            ("[:b]", json!("[:b]")),
            ("{:b}", json!("{:b}")),
            ("{? : b}", json!({"None": "b"})),
            ("[? a : b]", json!([{"a": "b"}])),
            ("{\"a\":1}", json!({"a": 1})),
            ("['a':1]", json!([{"a": 1}])),
            ("[a b: c]", json!([{"a b": "c"}])),
            ("{a, b}", json!({"a": null, "b": null})),
            ("[a,]", json!(["a"])),
            ("[,]", json!("[,]")),
            ("[a #c]", json!("[a #c]")),
            ("[1]#c", json!([1])),
            ("{a: 1}#x", json!({"a": 1})),
            ("'a'#c", json!("'a'#c")),
            ("[a, b]x", json!("[a, b]x")),
            ("[!!str, a]", json!(["", "a"])),
            ("[!!str]", json!("[!!str]")),
            ("{!!str: a}", json!("{!!str: a}")),
            ("[&a 5, *a]", json!([5, 5])),
            ("[&a 1, &a 2]", json!("[&a 1, &a 2]")),
            ("[&a: 1]", json!([{"None": 1}])),
            ("[<<]", json!("[<<]")),
            ("[=]", json!("[=]")),
            ("{=: 1}", json!({"=": 1})),
            (
                "{<<: [{a: 1}, {b: 2}], c: 3}",
                json!({"b": 2, "a": 1, "c": 3}),
            ),
            ("{<<: [{a: 1}, {a: 2}]}", json!("{<<: [{a: 1}, {a: 2}]}")),
            ("{<<: {a: 1}, a: 2}", json!({"a": 2})),
            ("{1: a, 1.0: b}", json!("{1: a, 1.0: b}")),
            ("{~: 1, null: 2}", json!("{~: 1, null: 2}")),
            ("{1: a, '1': b}", json!({"1": "b"})),
            (
                "{1.5: x, 1e+16: y, 1.0e+16: z}",
                json!({"1.5": "x", "1e+16": "z"}),
            ),
            (
                "{yes: 1, 0.0001: 2, 0.00001: 3}",
                json!({"True": 1, "0.0001": 2, "1e-05": 3}),
            ),
            (
                "[.inf, 99999999999999999999]",
                json!([".inf", "99999999999999999999"]),
            ),
            ("[&a [*a]]", json!("[&a [*a]]")),
            // libyaml skips the token after an empty `?` key in a flow sequence.
            ("[? ]", json!("[? ]")),
            ("[? , a]", json!("[? , a]")),
            ("[? ,]", json!([{"None": null}])),
            ("[? : ]", json!([{"None": null}])),
            ("[? a, ? : ,]", json!([{"a": null}, {"None": null}])),
            ("{? }", json!({"None": null})),
            ("{? ,a}", json!({"None": null, "a": null})),
            // Block structure on one line only counts where a `#` lets Salt keep non-strings.
            ("- a #", json!(["a"])),
            ("- - a #", json!([["a"]])),
            ("- a: b #", json!([{"a": "b"}])),
            ("? a #", json!({"a": null})),
            ("x: y #c", json!({"x": "y"})),
            ("- #", json!([null])),
            ("a: | #", json!({"a": ""})),
            ("--- [1] #", json!([1])),
            ("a: b: c #", json!("a: b: c #")),
            ("a: - b #", json!("a: - b #")),
            (": b #", json!(": b #")),
            ("? a : b #", json!("? a : b #")),
            ("[a]: b #", json!("[a]: b #")),
            ("--- a: b #", json!("--- a: b #")),
            ("--- - a #", json!("--- - a #")),
            ("! [1]", json!("! [1]")),
            ("! [1] #", json!([1])),
            ("!!map {a: 1} #", json!({"a": 1})),
            ("!!str [1] #", json!("!!str [1] #")),
            (" {a: 1}", json!(" {a: 1}")),
        ] {
            assert_eq!(y(word), want, "{word:?}");
        }
    }

    #[test]
    fn implicit_keys_stop_at_1024_chars() {
        let key = |n: usize| format!("{{{}: 1}}", "é".repeat(n));
        assert!(y(&key(1024)).is_object());
        assert_eq!(y(&key(1025)), json!(key(1025)));
    }

    #[test]
    fn nesting_is_capped() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(y(&nest(MAX_DEPTH)).is_array());
        assert_eq!(y(&nest(MAX_DEPTH + 1)), json!(nest(MAX_DEPTH + 1)));
        assert_eq!(y(&"[".repeat(100_000)), json!("[".repeat(100_000)));
        let blocks = format!("{}a #", "- ".repeat(MAX_DEPTH + 1));
        assert_eq!(y(&blocks), json!(blocks));
        // Aliases nest without the source nesting.
        let mut chain = String::from("[&a0 []");
        for i in 1..100 {
            chain.push_str(&format!(", &a{i} [*a{}]", i - 1));
        }
        chain.push(']');
        assert_eq!(y(&chain), json!(chain));
    }

    #[test]
    fn alias_expansion_is_bounded() {
        let mut laughs = String::from("[&a0 [x, x]");
        for i in 1..40 {
            laughs.push_str(&format!(", &a{i} [*a{0}, *a{0}]", i - 1));
        }
        laughs.push(']');
        assert_eq!(y(&laughs), json!(laughs));
    }

    #[test]
    fn float_keys_render_as_python_repr() {
        for (f, want) in [
            (1.5, "1.5"),
            (-0.0, "-0.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (123.456, "123.456"),
        ] {
            assert_eq!(py_float_repr(f), want);
        }
    }

    /// A tiny xorshift, so the test needs no extra crates and replays the same inputs.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn fuzz_entry_takes_any_bytes() {
        fuzz_parse(b"myqueue\0['a','b']\0backend=sqlite\0\xff\xfe[");
        fuzz_parse(b"");
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        // Raw bytes, then words built from the characters YAML gives meaning to.
        for _ in 0..4000 {
            let len = (rng.next() % 24) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let word = String::from_utf8_lossy(&bytes);
            let _ = parse_input(&[word.as_ref()]);
        }
        let alphabet: Vec<char> = "[]{},:?-!&*'\"#|>%@`<=~ . a b 0 1 x _ é \\ \u{feff}"
            .chars()
            .collect();
        for _ in 0..20000 {
            let len = (rng.next() % 16) as usize;
            let word: String = (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                .collect();
            let _ = parse_input(&[word.as_str(), &format!("k={word}")]);
        }
    }
}
