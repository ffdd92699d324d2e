//! The `grains` execution module.

use super::{text, truthy, Call, Function, Ret, Step};
use crate::signature::{Default, Param};
use serde_json::{Map, Value};

/// `grains.items`: every grain.
pub const ITEMS: Function = Function {
    name: "grains.items",
    params: &[Param {
        name: "sanitize",
        default: Default::Bool(false),
    }],
    kwargs: false,
    varargs: false,
    doc: "Return all grains of the minion.",
    run: |c, _, _| Step::Done(Ret::ok(Value::Object(c.minion.grains()))),
};

/// `grains.get KEY [default] [delimiter]`.
pub const GET: Function = Function {
    name: "grains.get",
    params: &[
        Param { name: "key", default: Default::Required },
        Param { name: "default", default: Default::Str("") },
        Param { name: "delimiter", default: Default::Str(":") },
        Param { name: "ordered", default: Default::Bool(true) },
    ],
    kwargs: false,
    varargs: false,
    doc: "Return the grain at KEY, a path through nested maps (by key) and lists (by index) separated by DELIMITER (default :), or DEFAULT.",
    run: get,
};

/// `grains.item NAME ...`: a map of the named grains.
pub const ITEM: Function = Function {
    name: "grains.item",
    params: &[Param {
        name: "sanitize",
        default: Default::Bool(false),
    }],
    kwargs: false,
    varargs: true,
    doc: "Return a map of the named grains (each NAME may be a delimited path).",
    run: item,
};

/// Salt's `traverse_dict_and_list`: maps by key, lists by index (or by a key of a map
/// inside the list).
pub fn traverse<'a>(root: &'a Value, path: &str, delimiter: &str) -> Option<&'a Value> {
    let mut cur = root;
    for part in path.split(delimiter) {
        cur = match cur {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => match part.parse::<usize>() {
                Ok(i) => a.get(i)?,
                Err(_) => a
                    .iter()
                    .find_map(|x| x.as_object().and_then(|m| m.get(part)))?,
            },
            _ => return None,
        };
    }
    Some(cur)
}

fn get(c: &mut Call<'_>, a: &[Value], _: &Map<String, Value>) -> Step {
    let grains = Value::Object(c.minion.grains());
    let delimiter = match text(&a[2]) {
        d if d.is_empty() => ":".to_string(),
        d => d,
    };
    let found = traverse(&grains, &text(&a[0]), &delimiter).cloned();
    Step::Done(Ret::ok(found.unwrap_or_else(|| a[1].clone())))
}

fn item(c: &mut Call<'_>, a: &[Value], kw: &Map<String, Value>) -> Step {
    let grains = Value::Object(c.minion.grains());
    let _sanitize = kw.get("sanitize").is_some_and(truthy);
    let mut out = Map::new();
    for name in a {
        let key = text(name);
        let v = traverse(&grains, &key, ":")
            .cloned()
            .unwrap_or(Value::String(String::new()));
        out.insert(key, v);
    }
    Step::Done(Ret::ok(Value::Object(out)))
}
