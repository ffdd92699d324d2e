//! Merging pillar data as Salt's `salt.utils.dictupdate.merge` does: the pillar of each SLS
//! over what was compiled before it, included files under the file that includes them, and a
//! `pillar=` override over the compiled pillar.

use serde_json::{Map, Value};

/// `pillar_source_merging_strategy`, as Salt names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Maps merge recursively; anything else in the later source replaces the earlier value
    /// (`recurse`, and `smart`, `none` and unknown names, which Salt runs as `recurse`).
    Recurse,
    /// Top-level keys of the later source replace whole values, then the rest merges as
    /// `recurse` (`overwrite`).
    Overwrite,
    /// A key present in both becomes the list `[earlier, later]`; keys only in the later
    /// source are dropped, as Salt's `merge_list` drops them (`list`).
    List,
}

impl Strategy {
    /// The strategy Salt runs for `name` with the `renderer` pipeline. `smart` is `recurse`
    /// unless the pipeline ends in `yamlex`, which asks for `aggregate`: brine has no yamlex
    /// renderer, so that is `recurse` too (logged).
    pub fn from_opts(name: &str, renderer: &str) -> Strategy {
        match name {
            "overwrite" => Strategy::Overwrite,
            "list" => Strategy::List,
            "smart" if renderer.rsplit('|').next() == Some("yamlex") => {
                log::warn!("pillar merging: yamlex's aggregate strategy is not supported, merging recursively");
                Strategy::Recurse
            }
            "smart" | "recurse" | "none" => Strategy::Recurse,
            "aggregate" => {
                log::warn!(
                    "pillar merging: the aggregate strategy is not supported, merging recursively"
                );
                Strategy::Recurse
            }
            other => {
                log::warn!("Unknown merging strategy '{other}', fallback to recurse");
                Strategy::Recurse
            }
        }
    }
}

/// Salt's `merge(a, b, strategy, renderer, merge_lists)`: `b` over `a`, `a` left as it was.
pub fn merge(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    strategy: Strategy,
    merge_lists: bool,
) -> Map<String, Value> {
    match strategy {
        Strategy::Recurse => merge_recurse(a, b, merge_lists),
        Strategy::Overwrite => {
            // Salt replaces the shared top-level keys first, so the recursive pass below finds
            // nothing left to merge inside them.
            let mut first = a.clone();
            for (k, v) in b {
                if let Some(slot) = first.get_mut(k) {
                    *slot = v.clone();
                }
            }
            merge_recurse(&first, b, merge_lists)
        }
        Strategy::List => a
            .iter()
            .map(|(k, v)| match b.get(k) {
                Some(w) => (k.clone(), Value::Array(vec![v.clone(), w.clone()])),
                None => (k.clone(), v.clone()),
            })
            .collect(),
    }
}

/// A `pillar=` override over the compiled pillar, as a state run applies it (Salt's
/// `dictupdate.merge` with the default `smart` strategy and `pillar_merge_lists: False`).
pub fn merge_override(base: &Map<String, Value>, over: &Map<String, Value>) -> Map<String, Value> {
    merge_recurse(base, over, false)
}

/// Salt's `merge_recurse`: a copy of `a` updated recursively with `b`.
pub fn merge_recurse(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    merge_lists: bool,
) -> Map<String, Value> {
    let mut out = a.clone();
    update(&mut out, b, merge_lists);
    out
}

/// Salt's `dictupdate.update`: `upd` into `dest`. Maps under the same key merge; with
/// `merge_lists`, a list under the same key gets the later list's items that it does not
/// already hold (compared with Python's `==`, before any is added); anything else replaces.
/// A key already in `dest` keeps its place, new keys go at the end, as in a Python dict.
pub fn update(dest: &mut Map<String, Value>, upd: &Map<String, Value>, merge_lists: bool) {
    for (key, val) in upd {
        match (dest.get_mut(key), val) {
            (Some(Value::Object(d)), Value::Object(u)) => update(d, u, merge_lists),
            (Some(Value::Array(d)), Value::Array(u)) if merge_lists => {
                let fresh: Vec<Value> = u
                    .iter()
                    .filter(|x| !d.iter().any(|y| py_eq(x, y)))
                    .cloned()
                    .collect();
                d.extend(fresh);
            }
            (Some(slot), _) => *slot = val.clone(),
            (None, _) => {
                dest.insert(key.clone(), val.clone());
            }
        }
    }
}

/// Python's `==` between two decoded values: `1 == 1.0 == True`, `0 == False`.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    fn num(v: &Value) -> Option<f64> {
        match v {
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_i64() && y.is_i64() => x == y,
        (Value::Number(x), Value::Number(y)) if x.is_u64() && y.is_u64() => x == y,
        (Value::Bool(_) | Value::Number(_), Value::Bool(_) | Value::Number(_)) => num(a) == num(b),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn recurse_merges_maps_and_replaces_lists_keeping_key_order() {
        let a = map(json!({"x": {"a": 1, "l": [1, 2]}, "y": 1}));
        let b = map(json!({"x": {"b": 2, "l": [3]}, "z": null, "y": {"now": "map"}}));
        let m = merge(&a, &b, Strategy::Recurse, false);
        assert_eq!(
            serde_json::to_string(&m).unwrap_or_default(),
            r#"{"x":{"a":1,"l":[3],"b":2},"y":{"now":"map"},"z":null}"#
        );
        // `a` is left alone.
        assert_eq!(a, map(json!({"x": {"a": 1, "l": [1, 2]}, "y": 1})));
    }

    #[test]
    fn merge_lists_appends_only_new_items_but_keeps_repeats_of_the_later_list() {
        let a = map(json!({"l": [1, 2, "a"]}));
        let b = map(json!({"l": [2, 3, 3, "b", true, 1.0]}));
        let m = merge(&a, &b, Strategy::Recurse, true);
        assert_eq!(m["l"], json!([1, 2, "a", 3, 3, "b"]));
    }

    #[test]
    fn overwrite_replaces_top_level_values_whole() {
        let a = map(json!({"x": {"a": 1}, "k": 1}));
        let b = map(json!({"x": {"b": 2}}));
        assert_eq!(
            merge(&a, &b, Strategy::Overwrite, false),
            map(json!({"x": {"b": 2}, "k": 1}))
        );
    }

    #[test]
    fn list_strategy_pairs_shared_keys_and_drops_new_ones() {
        let a = map(json!({"x": 1, "y": 2}));
        let b = map(json!({"x": 3, "z": 4}));
        assert_eq!(
            merge(&a, &b, Strategy::List, false),
            map(json!({"x": [1, 3], "y": 2}))
        );
    }

    #[test]
    fn strategy_names() {
        assert_eq!(
            Strategy::from_opts("smart", "jinja|yaml"),
            Strategy::Recurse
        );
        assert_eq!(Strategy::from_opts("none", "yaml"), Strategy::Recurse);
        assert_eq!(Strategy::from_opts("bogus", "yaml"), Strategy::Recurse);
        assert_eq!(
            Strategy::from_opts("overwrite", "yaml"),
            Strategy::Overwrite
        );
        assert_eq!(Strategy::from_opts("list", "yaml"), Strategy::List);
    }

    #[test]
    fn override_is_a_recursive_merge_that_replaces_lists() {
        let base = map(json!({"a": {"b": 1, "l": [1]}, "c": 2}));
        let over = map(json!({"a": {"l": [2], "n": 3}}));
        assert_eq!(
            merge_override(&base, &over),
            map(json!({"a": {"b": 1, "l": [2], "n": 3}, "c": 2}))
        );
    }

    #[test]
    fn python_equality() {
        assert!(py_eq(&json!(1), &json!(1.0)));
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(!py_eq(&json!("1"), &json!(1)));
        assert!(py_eq(&json!([1, {"a": false}]), &json!([1.0, {"a": 0}])));
    }
}
