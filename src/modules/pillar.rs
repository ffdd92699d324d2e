//! The `pillar` execution module over the minion's in-memory pillar (the reading itself is
//! `crate::pillar::get`).
//!
//! Salt's `pillar.items` (and `data`, `ls`, `obfuscate`) ask the master for a freshly
//! compiled pillar; brine's answer from the pillar the master last sent, which the master
//! refreshes, so `pillarenv=` is not honoured (logged) and `pillar=` is merged over the
//! in-memory pillar as a state run merges it.

use super::{text, truthy, Call, Function, Ret, Step};
use crate::pillar::get;
use crate::signature::{Default, Param};
use serde_json::{Map, Value};

/// The keywords of `pillar.items` and the functions built on it.
const ITEMS_PARAMS: &[Param] = &[
    Param {
        name: "pillar",
        default: Default::Null,
    },
    Param {
        name: "pillar_enc",
        default: Default::Null,
    },
    Param {
        name: "pillarenv",
        default: Default::Null,
    },
    Param {
        name: "saltenv",
        default: Default::Null,
    },
];

/// The parameters of `pillar.get` (and `pillar.fetch`).
const GET_PARAMS: &[Param] = &[
    Param {
        name: "key",
        default: Default::Required,
    },
    Param {
        name: "default",
        default: Default::Str(""),
    },
    Param {
        name: "merge",
        default: Default::Bool(false),
    },
    Param {
        name: "merge_nested_lists",
        default: Default::Null,
    },
    Param {
        name: "delimiter",
        default: Default::Str(":"),
    },
    Param {
        name: "pillarenv",
        default: Default::Null,
    },
    Param {
        name: "saltenv",
        default: Default::Null,
    },
];

/// The doc of `pillar.get` (and `pillar.fetch`).
const GET_DOC: &str = "Return the pillar value at KEY, a path through nested maps (by key) and lists (by index) separated by DELIMITER (default :), or DEFAULT; with merge=True a map or list DEFAULT is merged with the value found.";

/// `pillar.get KEY [default] [merge] [merge_nested_lists] [delimiter]`.
pub const GET: Function = Function {
    name: "pillar.get",
    params: GET_PARAMS,
    kwargs: false,
    varargs: false,
    doc: GET_DOC,
    run: get_fn,
};

/// `pillar.fetch`: Salt's alias of `pillar.get`.
pub const FETCH: Function = Function {
    name: "pillar.fetch",
    params: GET_PARAMS,
    kwargs: false,
    varargs: false,
    doc: GET_DOC,
    run: get_fn,
};

/// `pillar.item KEY ...`: a map of each key to its value.
pub const ITEM: Function = Function {
    name: "pillar.item",
    params: &[
        Param { name: "default", default: Default::Null },
        Param { name: "delimiter", default: Default::Null },
        Param { name: "pillarenv", default: Default::Null },
        Param { name: "saltenv", default: Default::Null },
    ],
    kwargs: false,
    varargs: true,
    doc: "Return a map of each named KEY (a delimited path) to its pillar value, or DEFAULT (an empty string).",
    run: item_fn,
};

/// `pillar.items [KEY ...]`: the whole pillar, or `pillar.item` of the keys given.
pub const ITEMS: Function = Function {
    name: "pillar.items",
    params: ITEMS_PARAMS,
    kwargs: false,
    varargs: true,
    doc: "Return the minion's pillar (with pillar=DATA merged over it); with KEYs, the same as pillar.item.",
    run: |c, a, kw| Step::Done(items(c, a, kw)),
};

/// `pillar.data`: Salt's alias of `pillar.items`.
pub const DATA: Function = Function {
    name: "pillar.data",
    params: ITEMS_PARAMS,
    kwargs: false,
    varargs: true,
    doc: "The same as pillar.items.",
    run: |c, a, kw| Step::Done(items(c, a, kw)),
};

/// `pillar.ls`: the top-level keys.
pub const LS: Function = Function {
    name: "pillar.ls",
    params: ITEMS_PARAMS,
    kwargs: false,
    varargs: true,
    doc: "Return the top-level keys of the pillar (of pillar.items with the same arguments).",
    run: |c, a, kw| {
        let r = items(c, a, kw);
        let keys = match &r.value {
            Value::Object(m) => m.keys().cloned().map(Value::String).collect(),
            _ => Vec::new(),
        };
        Step::Done(Ret {
            value: Value::Array(keys),
            retcode: r.retcode,
        })
    },
};

/// `pillar.obfuscate`: the pillar with every value replaced by its type name.
pub const OBFUSCATE: Function = Function {
    name: "pillar.obfuscate",
    params: ITEMS_PARAMS,
    kwargs: false,
    varargs: true,
    doc: "Return the pillar (as pillar.items) with every leaf value replaced by its type, as <str>, <int>.",
    run: |c, a, kw| {
        let r = items(c, a, kw);
        Step::Done(Ret { value: get::obfuscate(&r.value), retcode: r.retcode })
    },
};

/// `pillar.raw [key]`: the in-memory pillar, or one top-level key of it.
pub const RAW: Function = Function {
    name: "pillar.raw",
    params: &[Param {
        name: "key",
        default: Default::Null,
    }],
    kwargs: false,
    varargs: false,
    doc: "Return the pillar in the minion's memory, or its top-level KEY ({} when missing).",
    run: |c, a, _| {
        let key = match &a[0] {
            Value::Null => None,
            k => Some(text(k)),
        };
        Step::Done(Ret::ok(get::raw(&c.minion.pillar(), key.as_deref())))
    },
};

/// `pillar.keys KEY [delimiter]`: the keys of the map at KEY.
pub const KEYS: Function = Function {
    name: "pillar.keys",
    params: &[
        Param {
            name: "key",
            default: Default::Required,
        },
        Param {
            name: "delimiter",
            default: Default::Str(":"),
        },
    ],
    kwargs: false,
    varargs: false,
    doc: "Return the keys of the pillar map at KEY (an error when it is missing or not a map).",
    run: |c, a, _| {
        let key = text(&a[0]);
        Step::Done(
            match get::keys(&c.minion.pillar(), &key, &delimiter(&a[1])) {
                Ok(keys) => Ret::ok(Value::Array(keys.into_iter().map(Value::String).collect())),
                // Salt raises KeyError / ValueError, which the minion reports as an exception.
                Err(e @ get::GetError::NotFound(_)) => Ret::fail(format!(
                    "The minion function caused an exception: KeyError: '{e}'"
                )),
                Err(e) => Ret::fail(format!(
                    "The minion function caused an exception: ValueError: {e}"
                )),
            },
        )
    },
};

/// A delimiter argument: Salt's default when it is None or empty.
fn delimiter(v: &Value) -> String {
    match v {
        Value::Null => get::DELIMITER.to_string(),
        d => match text(d) {
            s if s.is_empty() => get::DELIMITER.to_string(),
            s => s,
        },
    }
}

/// Logs that a fresh compile from one environment was asked for and not done.
fn note_pillarenv(fun: &str, kw: &Map<String, Value>) {
    if let Some(env) = kw.get("pillarenv").filter(|v| !v.is_null()) {
        log::warn!(
            "{fun}: pillarenv={} ignored, the in-memory pillar answers",
            text(env)
        );
    }
}

fn get_fn(c: &mut Call<'_>, a: &[Value], _: &Map<String, Value>) -> Step {
    let merge_lists = match &a[3] {
        Value::Null => false,
        v => truthy(v),
    };
    if !a[5].is_null() {
        log::warn!(
            "pillar.get: pillarenv={} ignored, the in-memory pillar answers",
            text(&a[5])
        );
    }
    let value = get::get(
        &c.minion.pillar(),
        &text(&a[0]),
        &a[1],
        truthy(&a[2]),
        merge_lists,
        &delimiter(&a[4]),
    );
    Step::Done(Ret::ok(value))
}

fn item_map(c: &mut Call<'_>, a: &[Value], kw: &Map<String, Value>) -> Map<String, Value> {
    note_pillarenv("pillar.item", kw);
    let default = match kw.get("default") {
        None | Some(Value::Null) => Value::String(String::new()),
        Some(d) => d.clone(),
    };
    let delim = delimiter(kw.get("delimiter").unwrap_or(&Value::Null));
    let keys: Vec<String> = a.iter().map(text).collect();
    get::item(&c.minion.pillar(), &keys, &default, &delim)
}

fn item_fn(c: &mut Call<'_>, a: &[Value], kw: &Map<String, Value>) -> Step {
    Step::Done(Ret::ok(Value::Object(item_map(c, a, kw))))
}

/// `pillar.items` and its aliases: keys given ask for `pillar.item`.
fn items(c: &mut Call<'_>, a: &[Value], kw: &Map<String, Value>) -> Ret {
    if !a.is_empty() {
        return Ret::ok(Value::Object(item_map(c, a, kw)));
    }
    note_pillarenv("pillar.items", kw);
    let pillar = c.minion.pillar();
    match kw.get("pillar") {
        Some(Value::Object(over)) if !over.is_empty() => {
            Ret::ok(Value::Object(crate::pillar::merge_override(&pillar, over)))
        }
        Some(Value::Null) | None => Ret::ok(Value::Object(pillar)),
        Some(_) => {
            log::error!("Pillar data must be a dictionary");
            Ret::ok(Value::Object(pillar))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{call, Host, Step};
    use crate::clock::Now;
    use crate::config::MinionConfig;
    use serde_json::{json, Map, Value};

    /// A minion that has only a pillar.
    struct Pillared {
        cfg: MinionConfig,
        pillar: Map<String, Value>,
    }

    impl Host for Pillared {
        fn config(&self) -> &MinionConfig {
            &self.cfg
        }
        fn fire_local(&mut self, _: Now, _: &str, _: Map<String, Value>) -> Result<(), String> {
            Ok(())
        }
        fn fire_master(&mut self, _: &str, _: Value) {}
        fn grains(&self) -> Map<String, Value> {
            Map::new()
        }
        fn pillar(&self) -> Map<String, Value> {
            self.pillar.clone()
        }
        fn kill_job(&mut self, _: &str) -> Option<u32> {
            None
        }
        fn masterless(&self) -> bool {
            true
        }
        fn refresh_grains(&mut self) {}
        fn refresh_pillar(&mut self) {}
        fn running_jobs(&self) -> Vec<Value> {
            Vec::new()
        }
    }

    fn host() -> Pillared {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cfg, _) = MinionConfig::load(dir.path()).expect("default minion config");
        let pillar = json!({"a": {"b": [10, 20], "c": "x"}, "top": 1});
        Pillared {
            cfg,
            pillar: pillar.as_object().cloned().unwrap_or_default(),
        }
    }

    /// Runs `fun` with CLI-style words, as a published job does.
    fn run(h: &mut Pillared, fun: &str, words: &[&str]) -> (Value, i32) {
        let arg: Vec<Value> = words.iter().map(|w| Value::String((*w).into())).collect();
        let (args, kwargs) = super::super::parse_job_args(&arg);
        match call(h, Now::read(), None, fun, &args, &kwargs) {
            Step::Done(r) => (r.value, r.retcode),
            _ => (Value::Null, -1),
        }
    }

    #[test]
    fn functions_read_the_in_memory_pillar() {
        let mut h = host();
        assert_eq!(run(&mut h, "pillar.get", &["a:b:1"]), (json!(20), 0));
        assert_eq!(run(&mut h, "pillar.get", &["a:b:-1"]), (json!(20), 0));
        assert_eq!(run(&mut h, "pillar.get", &["nope"]), (json!(""), 0));
        assert_eq!(
            run(&mut h, "pillar.get", &["nope", "default=d"]),
            (json!("d"), 0)
        );
        assert_eq!(
            run(&mut h, "pillar.fetch", &["a|c", "delimiter=|"]),
            (json!("x"), 0)
        );
        assert_eq!(
            run(
                &mut h,
                "pillar.get",
                &["a", r#"default={"d": 1}"#, "merge=True"]
            ),
            (json!({"d": 1, "b": [10, 20], "c": "x"}), 0)
        );
        assert_eq!(
            run(&mut h, "pillar.item", &["a:c", "nope", "default=D"]),
            (json!({"a:c": "x", "nope": "D"}), 0)
        );
        assert_eq!(
            run(&mut h, "pillar.items", &["top"]),
            (json!({"top": 1}), 0)
        );
        assert_eq!(
            run(&mut h, "pillar.items", &[]).0,
            Value::Object(h.pillar.clone())
        );
        assert_eq!(
            run(&mut h, "pillar.items", &[r#"pillar={"top": 2, "n": 3}"#]).0["top"],
            json!(2)
        );
        assert_eq!(run(&mut h, "pillar.ls", &[]), (json!(["a", "top"]), 0));
        assert_eq!(run(&mut h, "pillar.raw", &["key=a"]).0["c"], json!("x"));
        assert_eq!(run(&mut h, "pillar.raw", &["key=zz"]), (json!({}), 0));
        assert_eq!(run(&mut h, "pillar.keys", &["a"]), (json!(["b", "c"]), 0));
        assert_eq!(run(&mut h, "pillar.keys", &["zz"]).1, 1);
        assert_eq!(
            run(&mut h, "pillar.obfuscate", &[]).0["a"]["b"],
            json!(["<int>", "<int>"])
        );
        assert_eq!(run(&mut h, "pillar.get", &[]).1, 1);
    }
}
