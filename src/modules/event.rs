//! The `event` execution module: fire on the minion's bus or the master's.

use super::{text, truthy, Call, Function, Ret, Step};
use crate::signature::{Default, Param};
use serde_json::{Map, Value};

/// `event.fire DATA TAG`: fire DATA (a map) on the minion's own bus.
pub const FIRE: Function = Function {
    name: "event.fire",
    params: &[
        Param { name: "data", default: Default::Required },
        Param { name: "tag", default: Default::Required },
        Param { name: "timeout", default: Default::Null },
    ],
    kwargs: false,
    varargs: false,
    doc: "Fire DATA (a map) on the minion's event bus under TAG. Returns True, or False when it cannot.",
    run: fire,
};

/// `event.fire_master DATA TAG`: send an event to the master's bus.
pub const FIRE_MASTER: Function = Function {
    name: "event.fire_master",
    params: &[
        Param { name: "data", default: Default::Required },
        Param { name: "tag", default: Default::Required },
        Param { name: "preload", default: Default::Null },
        Param { name: "timeout", default: Default::Null },
    ],
    kwargs: false,
    varargs: false,
    doc: "Send an event to the master's bus, where it arrives wrapped as {id, cmd: _minion_event, pretag, tag, data}. False in masterless mode.",
    run: fire_master,
};

/// `event.send TAG [DATA] [with_grains=True] [with_env=True] [key=value ...]`.
pub const SEND: Function = Function {
    name: "event.send",
    params: &[
        Param { name: "tag", default: Default::Required },
        Param { name: "data", default: Default::Null },
        Param { name: "preload", default: Default::Null },
        Param { name: "with_env", default: Default::Bool(false) },
        Param { name: "with_grains", default: Default::Bool(false) },
        Param { name: "with_pillar", default: Default::Bool(false) },
        Param { name: "with_env_opts", default: Default::Bool(false) },
        Param { name: "timeout", default: Default::Null },
    ],
    kwargs: true,
    varargs: false,
    doc: "Send an event to the master (or the minion's bus when masterless) whose data is built from the environment, grains, extra key=value arguments and DATA, which wins.",
    run: send,
};

fn fire(c: &mut Call<'_>, a: &[Value], _: &Map<String, Value>) -> Step {
    let tag = text(&a[1]);
    // Salt's fire() catches the ValueError for non-map data and returns False.
    let Value::Object(data) = &a[0] else {
        log::warn!("event.fire: data must be a map, not {}", text(&a[0]));
        return Step::Done(Ret::ok(Value::Bool(false)));
    };
    match c.minion.fire_local(c.now, &tag, data.clone()) {
        Ok(()) => Step::Done(Ret::ok(Value::Bool(true))),
        Err(e) => {
            log::warn!("event.fire {tag}: {e}");
            Step::Done(Ret::ok(Value::Bool(false)))
        }
    }
}

fn fire_master(c: &mut Call<'_>, a: &[Value], _: &Map<String, Value>) -> Step {
    let tag = text(&a[1]);
    if c.minion.masterless() {
        log::warn!("Local mode detected. Event with tag {tag} will NOT be sent.");
        return Step::Done(Ret::ok(Value::Bool(false)));
    }
    if tag.is_empty() {
        return Step::Done(Ret::ok(Value::Bool(false)));
    }
    let data = a[0].clone();
    // As Salt's minion does: the request shows on the minion bus as `fire_master`, and
    // the daemon forwards it.
    let mut local = Map::new();
    local.insert("data".into(), data.clone());
    local.insert("tag".into(), Value::String(tag.clone()));
    local.insert("events".into(), Value::Null);
    local.insert("pretag".into(), Value::Null);
    let _ = c.minion.fire_local(c.now, "fire_master", local);
    c.minion.fire_master(&tag, data);
    Step::Done(Ret::ok(Value::Bool(true)))
}

/// The keyword brine-call uses to hand `event.send ... with_env=...` its own environment.
pub const CALLER_ENVIRON: &str = "__caller_environ__";

fn send(c: &mut Call<'_>, a: &[Value], extra: &Map<String, Value>) -> Step {
    let tag = text(&a[0]);
    let mut d = Map::new();
    let subset = |which: &Value, all: Map<String, Value>| -> Option<Value> {
        match which {
            Value::Array(keys) => Some(Value::Object(
                keys.iter()
                    .filter_map(Value::as_str)
                    .filter_map(|k| all.get(k).map(|v| (k.to_string(), v.clone())))
                    .collect(),
            )),
            v if truthy(v) => Some(Value::Object(all)),
            _ => None,
        }
    };
    // brine-call sends its own environment; a job from the master reports the minion's.
    let environ: Map<String, Value> = match extra.get(CALLER_ENVIRON) {
        Some(Value::Object(env)) => env.clone(),
        _ => std::env::vars()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    };
    if let Some(env) = subset(&a[3], environ) {
        d.insert("environ".into(), env);
    }
    if let Some(g) = subset(&a[4], c.minion.grains()) {
        d.insert("grains".into(), g);
    }
    if let Some(p) = subset(&a[5], Map::new()) {
        d.insert("pillar".into(), p);
    }
    if truthy(&a[6]) {
        d.insert("saltenv".into(), Value::String("base".into()));
        d.insert("pillarenv".into(), Value::Null);
    }
    for (k, v) in extra.iter().filter(|(k, _)| k.as_str() != CALLER_ENVIRON) {
        d.insert(k.clone(), v.clone());
    }
    if let Value::Object(data) = &a[1] {
        for (k, v) in data {
            d.insert(k.clone(), v.clone());
        }
    }
    if c.minion.masterless() {
        return fire(c, &[Value::Object(d), Value::String(tag)], &Map::new());
    }
    fire_master(c, &[Value::Object(d), Value::String(tag)], &Map::new())
}
