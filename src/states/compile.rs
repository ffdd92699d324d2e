//! From high data to ordered low chunks, as Salt 3007's `State` does it: `verify_high` (its
//! error strings), `reconcile_extend`, the `*_in` requisites, `exclude`, `names`, and
//! `order` (auto, `first`, `last`, negative, ties by state, name and function).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::matcher::fnmatch;
use crate::py::{python_repr, python_str};

/// Requisites whose lists an `extend` appends to instead of replacing.
const REQUISITE_KEYWORDS: &[&str] = &[
    "onchanges",
    "onchanges_any",
    "onfail",
    "onfail_any",
    "onfail_all",
    "onfail_stop",
    "prereq",
    "prerequired",
    "watch",
    "watch_any",
    "require",
    "require_any",
    "listen",
];

/// The `*_in` requisites brine builds (each adds the plain requisite to its targets).
const REQUISITE_IN: &[&str] = &["require_in", "watch_in", "onfail_in", "onchanges_in"];

/// Salt features left out on purpose: refused by name, never silently skipped.
const UNSUPPORTED: &[&str] = &[
    "prereq",
    "prereq_in",
    "listen",
    "listen_in",
    "use",
    "use_in",
    "parallel",
];

/// A low chunk: `state`, `fun`, `name`, `__id__`, `__sls__`, `__env__`, `order` and the
/// state's arguments.
pub type Chunk = Map<String, Value>;

/// The key of a state's return: `<state>_|-<__id__>_|-<name>_|-<fun>`.
pub fn tag(low: &Chunk) -> String {
    let f = |k: &str| low.get(k).map(python_str).unwrap_or_default();
    format!(
        "{}_|-{}_|-{}_|-{}",
        f("state"),
        f("__id__"),
        f("name"),
        f("fun")
    )
}

fn sls_of(body: &Value) -> String {
    body.get("__sls__")
        .map(python_str)
        .unwrap_or_else(|| "None".into())
}

fn first_key(v: &Value) -> Option<&str> {
    v.as_object()
        .and_then(|m| m.keys().next())
        .map(String::as_str)
}

fn hashable(v: &Value) -> bool {
    !matches!(v, Value::Object(_) | Value::Array(_))
}

/// Salt's `verify_high`, plus brine's refusal of the features it leaves out.
pub fn verify_high(high: &Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut reqs: Map<String, Value> = Map::new();
    for (name, body) in high {
        if name.starts_with("__") {
            continue;
        }
        let Value::Object(decls) = body else {
            errors.push(format!(
                "The type {name} in {} is not formatted as a dictionary",
                python_repr(body)
            ));
            continue;
        };
        let sls = sls_of(body);
        for (state, run) in decls {
            if state.starts_with("__") {
                continue;
            }
            if run.is_null() {
                errors.push(format!(
                    "ID '{name}' in SLS '{sls}' contains a short declaration ({state}) with a \
                     trailing colon. When not passing any arguments to a state, the colon must \
                     be omitted."
                ));
                continue;
            }
            let Value::Array(args) = run else {
                errors.push(format!(
                    "State '{name}' in SLS '{sls}' is not formed as a list"
                ));
                continue;
            };
            let mut fun = usize::from(state.contains('.'));
            for arg in args {
                match arg {
                    Value::String(f) => {
                        fun += 1;
                        if f.trim().contains(' ') {
                            errors.push(format!(
                                "The function \"{f}\" in state \"{name}\" in SLS \"{sls}\" has \
                                 whitespace, a function with whitespace is not supported, \
                                 perhaps this is an argument that is missing a \":\""
                            ));
                        }
                    }
                    Value::Object(m) => {
                        let Some(argfirst) = m.keys().next() else {
                            continue;
                        };
                        let val = &m[argfirst];
                        if argfirst == "names" && !val.is_array() {
                            errors.push(format!(
                                "The 'names' argument in state '{name}' in SLS '{sls}' needs to \
                                 be formed as a list"
                            ));
                        }
                        if ["require", "watch", "prereq", "onchanges"].contains(&argfirst.as_str())
                        {
                            verify_requisite(
                                name,
                                state,
                                &sls,
                                argfirst,
                                val,
                                &mut reqs,
                                &mut errors,
                            );
                        }
                        if m.len() != 1 {
                            errors.push(format!(
                                "Multiple dictionaries defined in argument of state '{name}' in \
                                 SLS '{sls}'"
                            ));
                        }
                        if UNSUPPORTED.contains(&argfirst.as_str()) {
                            errors.push(format!(
                                "State '{name}' in SLS '{sls}' uses '{argfirst}', which brine \
                                 does not support"
                            ));
                        }
                        if let Some(s) = val.as_str().filter(|s| s.starts_with("__slot__:")) {
                            errors.push(format!(
                                "State '{name}' in SLS '{sls}' uses the slot {s:?} in \
                                 '{argfirst}', and brine does not support slots"
                            ));
                        }
                    }
                    _ => {}
                }
            }
            if fun == 0 {
                if state == "require" || state == "watch" {
                    continue;
                }
                errors.push(format!(
                    "No function declared in state '{name}' in SLS '{sls}'"
                ));
            } else if fun > 1 {
                let mut funs: Vec<String> = Vec::new();
                if let Some((_, f)) = state.split_once('.') {
                    funs.push(f.to_string());
                }
                funs.extend(args.iter().filter_map(|a| a.as_str().map(str::to_string)));
                errors.push(format!(
                    "Too many functions declared in state '{name}' in SLS '{sls}'. Please choose \
                     one of the following: {}",
                    funs.join(", ")
                ));
            }
        }
    }
    errors
}

/// One `require`/`watch`/`onchanges` list of `verify_high`, with its loop check.
fn verify_requisite(
    name: &str,
    state: &str,
    sls: &str,
    kind: &str,
    val: &Value,
    reqs: &mut Map<String, Value>,
    errors: &mut Vec<String>,
) {
    let Value::Array(list) = val else {
        errors.push(format!(
            "The {kind} statement in state '{name}' in SLS '{sls}' needs to be formed as a list"
        ));
        return;
    };
    let mut mine = Map::new();
    mine.insert("state".into(), state.into());
    reqs.insert(name.to_string(), Value::Object(mine));
    for req in list {
        let req = match req {
            Value::String(s) => {
                let mut m = Map::new();
                m.insert("id".into(), s.clone().into());
                Value::Object(m)
            }
            other => other.clone(),
        };
        let Some(m) = req.as_object().filter(|m| !m.is_empty()) else {
            errors.push(format!(
                "Requisite declaration {} in SLS {sls} is not formed as a single key dictionary",
                python_repr(&req)
            ));
            continue;
        };
        let Some((req_key, req_val)) = m.iter().next() else {
            continue;
        };
        if let Some(dot) = req_key.find('.') {
            errors.push(format!(
                "Invalid requisite type '{req_key}' in state '{name}', in SLS '{sls}'. Requisite \
                 types must not contain dots, did you mean '{}'?",
                &req_key[..dot]
            ));
        }
        if !hashable(req_val) {
            errors.push(format!(
                "Illegal requisite \"{}\", please check your syntax.\n",
                python_repr(req_val)
            ));
            continue;
        }
        let rv = python_str(req_val);
        if let Some(Value::Object(mine)) = reqs.get_mut(name) {
            mine.insert(rv.clone(), req_key.clone().into());
        }
        let looped = match (reqs.get(&rv), reqs.get(name)) {
            (Some(theirs), Some(mine)) => {
                theirs.get(name).and_then(Value::as_str) == Some(state)
                    && theirs.get("state") == mine.get(&rv)
            }
            _ => false,
        };
        if looped {
            errors.push(format!(
                "A recursive requisite was found, SLS \"{sls}\" ID \"{name}\" ID \"{rv}\""
            ));
        }
    }
}

/// Salt's `find_name`: the IDs (with their state) that a requisite or extend names.
fn find_name(
    name: &str,
    state: &str,
    high: &Map<String, Value>,
    strict: bool,
) -> Vec<(String, String)> {
    let check2 = !strict || high.get(name).and_then(|b| b.get(state)).is_some();
    let mut out = Vec::new();
    if high.contains_key(name) && check2 {
        out.push((name.to_string(), state.to_string()));
    } else if state == "sls" {
        for (nid, item) in high {
            if item.get("__sls__").and_then(Value::as_str) == Some(name) {
                if let Some(first) = item.as_object().and_then(|m| m.keys().next()) {
                    out.push((nid.clone(), first.clone()));
                }
            }
        }
    } else {
        for (nid, item) in high {
            let Some(Value::Array(args)) = item.get(state) else {
                continue;
            };
            for arg in args {
                if let Some(m) = arg.as_object().filter(|m| m.len() == 1) {
                    if m.values().next().and_then(Value::as_str) == Some(name) {
                        out.push((nid.clone(), state.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// Salt's `reconcile_extend`: each `__extend__` entry merged into its ID.
pub fn reconcile_extend(high: &mut Map<String, Value>, strict: bool) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(Value::Array(ext)) = high.shift_remove("__extend__") else {
        return errors;
    };
    let sls_excludes: Vec<String> = match high.get("__exclude__") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|e| match e {
                Value::String(s) => Some(s.clone()),
                Value::Object(m) => m.get("sls").and_then(Value::as_str).map(str::to_string),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    for chunk in ext {
        let Value::Object(chunk) = chunk else {
            continue;
        };
        for (name, body) in chunk {
            let Value::Object(body) = body else {
                continue;
            };
            let Some(state_type) = body.keys().find(|k| !k.starts_with("__")).cloned() else {
                continue;
            };
            let env = body
                .get("__env__")
                .and_then(Value::as_str)
                .unwrap_or("base");
            let bsls = body
                .get("__sls__")
                .and_then(Value::as_str)
                .unwrap_or("base");
            let mut name = name;
            if high.get(&name).and_then(|b| b.get(&state_type)).is_none() {
                let ids = find_name(&name, &state_type, high, strict);
                if ids.len() != 1 {
                    errors.push(format!(
                        "Cannot extend ID '{name}' in '{env}:{bsls}'. It is not part of the high \
                         state.\nThis is likely due to a missing include statement or an \
                         incorrectly typed ID.\nEnsure that a state with an ID of '{name}' is \
                         available\nin environment '{env}' and to SLS '{bsls}'"
                    ));
                    continue;
                }
                name = ids[0].0.clone();
            }
            if sls_excludes.iter().any(|s| s == bsls) {
                continue;
            }
            let Some(Value::Object(target)) = high.get_mut(&name) else {
                continue;
            };
            for (state, run) in body {
                if state.starts_with("__") {
                    continue;
                }
                let Value::Array(run) = run else {
                    continue;
                };
                let Some(Value::Array(have)) = target.get_mut(&state) else {
                    target.insert(state, Value::Array(run));
                    continue;
                };
                for arg in run {
                    extend_arg(have, arg);
                }
            }
        }
    }
    errors
}

/// One argument of an `extend`: a function replaces the function, a requisite list is
/// appended to, any other option replaces the option of that name.
fn extend_arg(have: &mut Vec<Value>, arg: Value) {
    let mut update = false;
    let argfirst = first_key(&arg).map(str::to_string);
    for slot in have.iter_mut() {
        match (&arg, &*slot) {
            (Value::String(_), Value::String(_)) => {
                *slot = arg.clone();
                update = true;
            }
            (Value::Object(a), Value::Object(_)) => {
                let Some(k) = argfirst.as_deref() else {
                    continue;
                };
                let cur = first_key(slot).map(str::to_string);
                if cur.as_deref() == Some(k) {
                    if REQUISITE_KEYWORDS.contains(&k) {
                        if let (Some(Value::Array(add)), Some(Value::Array(list))) =
                            (a.get(k), slot.get_mut(k))
                        {
                            list.extend(add.iter().cloned());
                        }
                    } else {
                        *slot = arg.clone();
                    }
                    update = true;
                }
                if k == "name" && cur.as_deref() == Some("names") {
                    *slot = arg.clone();
                }
            }
            _ => {}
        }
    }
    if !update {
        have.push(arg);
    }
}

/// Salt's `apply_exclude`: `__exclude__` entries (`sls` globs, `id`s) removed.
pub fn apply_exclude(high: &mut Map<String, Value>) {
    let Some(Value::Array(exclude)) = high.shift_remove("__exclude__") else {
        return;
    };
    let mut ex_sls = BTreeSet::new();
    let mut ex_id = BTreeSet::new();
    for exc in exclude {
        match exc {
            Value::String(s) => {
                ex_sls.insert(s);
            }
            Value::Object(m) if m.len() == 1 => {
                if let Some(s) = m.get("sls") {
                    ex_sls.insert(python_str(s));
                } else if let Some(s) = m.get("id") {
                    ex_id.insert(python_str(s));
                }
            }
            _ => {}
        }
    }
    for (name, body) in high.iter() {
        if name.starts_with("__") {
            continue;
        }
        let sls = body.get("__sls__").and_then(Value::as_str).unwrap_or("");
        if !sls.is_empty() && ex_sls.iter().any(|p| fnmatch(sls, p)) {
            ex_id.insert(name.clone());
        }
    }
    for id in ex_id {
        high.shift_remove(&id);
    }
}

/// Salt's `requisite_in`: each `require_in`/`watch_in`/`onfail_in`/`onchanges_in` becomes
/// the plain requisite on its targets, through an extend.
pub fn requisite_in(high: &mut Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut extend: Map<String, Value> = Map::new();
    for (id, body) in high.iter() {
        let Value::Object(decls) = body else {
            continue;
        };
        let env = body.get("__env__").cloned().unwrap_or(Value::Null);
        let bsls = body.get("__sls__").cloned().unwrap_or(Value::Null);
        for (state, run) in decls {
            if state.starts_with("__") {
                continue;
            }
            let Value::Array(run) = run else {
                continue;
            };
            for arg in run {
                let Some((key, items)) = arg.as_object().and_then(|m| m.iter().next()) else {
                    continue;
                };
                if !REQUISITE_IN.contains(&key.as_str()) {
                    continue;
                }
                let rkey = key.split('_').next().unwrap_or(key);
                let mut targets: Vec<(String, String)> = Vec::new();
                match items {
                    Value::Object(m) => {
                        for (st, name) in m {
                            let st = strip_dot(rkey, st, &python_str(name), &bsls, &mut errors);
                            targets.push((python_str(name), st));
                        }
                    }
                    Value::Array(list) => {
                        for ind in list {
                            let ind = match ind {
                                Value::Object(m) => m.clone(),
                                other => match bare_target(&python_str(other), high) {
                                    Some(m) => m,
                                    None => continue,
                                },
                            };
                            let Some((pstate, pname)) = ind.iter().next() else {
                                continue;
                            };
                            let pname = python_str(pname);
                            if pstate == "sls" {
                                targets = find_sls_ids(&pname, high);
                            } else {
                                let st = strip_dot(rkey, pstate, &pname, &bsls, &mut errors);
                                targets.push((pname, st));
                            }
                        }
                    }
                    _ => {}
                }
                for (name, st) in targets {
                    add_extend(&mut extend, &name, &st, rkey, state, id, &env, &bsls);
                }
            }
        }
    }
    let list: Vec<Value> = extend
        .into_iter()
        .map(|(k, v)| {
            let mut m = Map::new();
            m.insert(k, v);
            Value::Object(m)
        })
        .collect();
    high.insert("__extend__".into(), Value::Array(list));
    errors.extend(reconcile_extend(high, true));
    errors
}

/// A bare string in a `*_in` list: an ID (with its first state) or a `name` of one.
fn bare_target(s: &str, high: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut m = Map::new();
    if let Some(body) = high.get(s) {
        let first = body.as_object()?.keys().find(|k| !k.starts_with("__"))?;
        m.insert(first.clone(), s.into());
        return Some(m);
    }
    let mut found = None;
    for (nid, body) in high {
        for (st, args) in body.as_object().into_iter().flatten() {
            if st.starts_with("__") {
                continue;
            }
            for a in args.as_array().into_iter().flatten() {
                if a.get("name").and_then(Value::as_str) == Some(s) {
                    found = Some((st.clone(), nid.clone()));
                }
            }
        }
    }
    let (st, nid) = found?;
    m.insert(st, nid.into());
    Some(m)
}

fn strip_dot(rkey: &str, st: &str, name: &str, sls: &Value, errors: &mut Vec<String>) -> String {
    match st.find('.') {
        Some(dot) => {
            errors.push(format!(
                "Invalid requisite in {rkey}: {st} for {name}, in SLS '{}'. Requisites must not \
                 contain dots, did you mean '{}'?",
                python_str(sls),
                &st[..dot]
            ));
            st[..dot].to_string()
        }
        None => st.to_string(),
    }
}

/// Salt's `find_sls_ids`: every (ID, state) of one SLS.
fn find_sls_ids(sls: &str, high: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (nid, item) in high {
        let Value::Object(m) = item else {
            continue;
        };
        if m.get("__sls__").and_then(Value::as_str) == Some(sls) {
            for st in m.keys().filter(|k| !k.starts_with("__")) {
                out.push((nid.clone(), st.clone()));
            }
        }
    }
    out
}

/// Adds `{rkey: [{state: id}]}` to the extend of `name`'s `st` declaration.
#[allow(clippy::too_many_arguments)]
fn add_extend(
    extend: &mut Map<String, Value>,
    name: &str,
    st: &str,
    rkey: &str,
    state: &str,
    id: &str,
    env: &Value,
    sls: &Value,
) {
    let entry = extend
        .entry(name)
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(entry) = entry else {
        return;
    };
    entry.entry(st).or_insert_with(|| Value::Array(Vec::new()));
    entry.insert("__env__".into(), env.clone());
    entry.insert("__sls__".into(), sls.clone());
    let mut req = Map::new();
    req.insert(state.to_string(), id.into());
    let Some(Value::Array(list)) = entry.get_mut(st) else {
        return;
    };
    for item in list.iter_mut() {
        if first_key(item) == Some(rkey) {
            if let Some(Value::Array(reqs)) = item.get_mut(rkey) {
                reqs.push(Value::Object(req));
            }
            return;
        }
    }
    let mut m = Map::new();
    m.insert(rkey.to_string(), Value::Array(vec![Value::Object(req)]));
    list.push(Value::Object(m));
}

/// Salt's `compile_high_data` and `order_chunks`: one chunk per (ID, state, function) and
/// per name of `names`, sorted.
pub fn compile_high(high: &Map<String, Value>) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    for (name, body) in high {
        if name.starts_with("__") {
            continue;
        }
        let Value::Object(decls) = body else {
            continue;
        };
        for (state, run) in decls {
            if state.starts_with("__") {
                continue;
            }
            let mut chunk = Chunk::new();
            chunk.insert("state".into(), state.clone().into());
            chunk.insert("name".into(), name.clone().into());
            for k in ["__sls__", "__env__", "__sls_included_from__"] {
                if let Some(v) = decls.get(k) {
                    chunk.insert(k.into(), v.clone());
                }
            }
            chunk.insert("__id__".into(), name.clone().into());
            let mut funcs: Vec<String> = Vec::new();
            let mut names: Vec<Value> = Vec::new();
            for arg in run.as_array().into_iter().flatten() {
                match arg {
                    Value::String(f) if !funcs.contains(f) => funcs.push(f.clone()),
                    Value::String(_) => {}
                    Value::Object(m) => {
                        for (key, val) in m {
                            match key.as_str() {
                                "names" => {
                                    for n in val.as_array().into_iter().flatten() {
                                        if !names.contains(n) {
                                            names.push(n.clone());
                                        }
                                    }
                                }
                                "state" => {}
                                "name" if !val.is_string() => {
                                    chunk.insert("name".into(), name.clone().into());
                                }
                                _ => {
                                    chunk.insert(key.clone(), val.clone());
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            if names.is_empty() {
                for f in &funcs {
                    let mut live = chunk.clone();
                    live.insert("fun".into(), f.clone().into());
                    chunks.push(live);
                }
                continue;
            }
            for (i, entry) in names.iter().enumerate() {
                let mut live = chunk.clone();
                match entry {
                    Value::Object(m) if !m.is_empty() => {
                        let Some((low_name, args)) = m.iter().next() else {
                            continue;
                        };
                        live.insert("name".into(), low_name.clone().into());
                        for a in args.as_array().into_iter().flatten() {
                            if let Value::Object(a) = a {
                                for (k, v) in a {
                                    live.insert(k.clone(), v.clone());
                                }
                            }
                        }
                    }
                    other => {
                        live.insert("name".into(), other.clone());
                    }
                }
                live.insert("name_order".into(), (i as i64 + 1).into());
                for f in &funcs {
                    let mut one = live.clone();
                    one.insert("fun".into(), f.clone().into());
                    chunks.push(one);
                }
            }
        }
    }
    order_chunks(&mut chunks);
    chunks
}

/// Salt's `order_chunks`.
pub fn order_chunks(chunks: &mut [Chunk]) {
    let mut cap: i64 = 1;
    for c in chunks.iter() {
        if let Some(o) = c.get("order").and_then(Value::as_i64) {
            if o > cap - 1 && o > 0 {
                cap = o + 100;
            }
        }
    }
    for c in chunks.iter_mut() {
        let order = match c.get("order") {
            None => {
                c.insert("order".into(), cap.into());
                continue;
            }
            Some(Value::Number(n)) => n.clone(),
            Some(Value::String(s)) if s == "last" => (cap + 1_000_000).into(),
            Some(Value::String(s)) if s == "first" => 0.into(),
            Some(_) => cap.into(),
        };
        let mut order = Value::Number(order);
        if let Some(no) = c.shift_remove("name_order").and_then(|v| v.as_i64()) {
            let f = order.as_f64().unwrap_or(0.0) + no as f64 / 10000.0;
            order = serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(order);
        }
        if order.as_f64().is_some_and(|f| f < 0.0) {
            order = match order.as_i64() {
                Some(i) => (cap + 1_000_000 + i).into(),
                None => serde_json::Number::from_f64(
                    cap as f64 + 1_000_000.0 + order.as_f64().unwrap_or(0.0),
                )
                .map(Value::Number)
                .unwrap_or(order),
            };
        }
        c.insert("order".into(), order);
    }
    let key = |c: &Chunk| {
        let f = |k: &str| c.get(k).map(python_str).unwrap_or_default();
        format!("{}{}{}", f("state"), f("name"), f("fun"))
    };
    chunks.sort_by(|a, b| {
        let oa = a.get("order").and_then(Value::as_f64).unwrap_or(0.0);
        let ob = b.get("order").and_then(Value::as_f64).unwrap_or(0.0);
        oa.total_cmp(&ob).then_with(|| key(a).cmp(&key(b)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn names_make_one_chunk_each_in_list_order() {
        let high = obj(
            json!({"multi": {"test": [{"names": ["b", "a"]}, "nop", {"order": 10000}],
                                       "__sls__": "s", "__env__": "base"}}),
        );
        let chunks = compile_high(&high);
        let names: Vec<_> = chunks.iter().map(|c| c["name"].clone()).collect();
        assert_eq!(names, [json!("b"), json!("a")]);
        assert_eq!(chunks[0]["order"], json!(10000.0001));
        assert_eq!(tag(&chunks[1]), "test_|-multi_|-a_|-nop");
    }

    #[test]
    fn order_first_last_and_negative() {
        let mut chunks: Vec<Chunk> = ["first", "last"]
            .iter()
            .map(|o| obj(json!({"state": "t", "name": o, "fun": "nop", "order": o})))
            .chain([obj(
                json!({"state": "t", "name": "n", "fun": "nop", "order": -1}),
            )])
            .chain([obj(
                json!({"state": "t", "name": "five", "fun": "nop", "order": 5}),
            )])
            .collect();
        order_chunks(&mut chunks);
        let names: Vec<_> = chunks
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(names, ["first", "five", "n", "last"]);
        assert_eq!(chunks[3]["order"], json!(105 + 1_000_000));
        assert_eq!(chunks[2]["order"], json!(105 + 1_000_000 - 1));
    }

    #[test]
    fn extend_appends_requisites_and_replaces_options() {
        let mut have = vec![
            json!({"comment": "a"}),
            json!({"require": [{"test": "x"}]}),
            json!("nop"),
        ];
        extend_arg(&mut have, json!({"comment": "b"}));
        extend_arg(&mut have, json!({"require": [{"test": "y"}]}));
        extend_arg(&mut have, json!({"new": 1}));
        assert_eq!(
            have,
            vec![
                json!({"comment": "b"}),
                json!({"require": [{"test": "x"}, {"test": "y"}]}),
                json!("nop"),
                json!({"new": 1})
            ]
        );
    }

    #[test]
    fn unsupported_features_are_named() {
        let high =
            obj(json!({"x": {"test": ["nop", {"prereq": [{"test": "y"}]}], "__sls__": "s"}}));
        let errs = verify_high(&high);
        assert!(
            errs.iter()
                .any(|e| e.contains("'prereq', which brine does not support")),
            "{errs:?}"
        );
    }
}
