//! Running ordered low chunks with their requisites, as Salt 3007.15's `State.call_chunks`,
//! `call_chunk`, `check_requisite` and `call` do: requisites first (recursively), the exact
//! returns of states that did not run, `onlyif`/`unless`/`creates`, `mod_watch`, `failhard`,
//! `__run_num__`, `start_time` and `duration`, and `state_events`/`fire_event`.

use std::collections::BTreeSet;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::compile::{tag, Chunk};
use crate::matcher::fnmatch;
use crate::py::{python_repr, python_str};

/// What a run needs from the world: the state functions, shell checks and the bus.
pub trait Exec {
    /// Whether `state.fun` exists (`mod_watch` included).
    fn exists(&self, state: &str, fun: &str) -> bool;
    /// Runs `state.fun` (which exists) with the chunk as its arguments.
    fn call(&mut self, state: &str, fun: &str, args: &Chunk, test: bool) -> Value;
    /// Whether the state module answers `watch` with a `mod_watch`.
    fn has_mod_watch(&self, state: &str) -> bool;
    /// The exit status of an `onlyif`/`unless`/`check_cmd` command run with the chunk's
    /// `cwd`, `runas`, `env`, `shell` and `timeout`; `None` when it could not run.
    fn retcode(&mut self, cmd: &str, low: &Chunk) -> Option<i32>;
    /// Sends an event to the master's bus.
    fn fire(&mut self, tag: &str, data: Value);
    /// The wall clock (an orchestration in the master's core gives the core's time).
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    /// Waits between `retry:` attempts.
    fn sleep(&mut self, secs: u64) {
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }
    /// True once the run must stop where it is: an orchestration waiting on minions, whose
    /// runner is run again from the start, with the answers so far, when they come.
    fn suspended(&self) -> bool {
        false
    }
    /// The `(start_time, duration)` of the last `call`, when the executor measured it
    /// itself (an orchestration step that waited across turns).
    fn timing(&mut self) -> Option<(String, f64)> {
        None
    }
}

/// How a run behaves.
#[derive(Debug, Clone, Default)]
pub struct RunOpts {
    /// `test=True`.
    pub test: bool,
    /// The minion's `failhard` (a chunk's own `failhard` wins).
    pub failhard: bool,
    /// `state_events`: a `salt/job/<jid>/prog/<id>/<n>` event after each state.
    pub state_events: bool,
    /// The job id; events need it.
    pub jid: Option<String>,
    /// The minion id.
    pub id: String,
    /// Masterless: no events.
    pub local: bool,
}

/// The requisites in the order `call_chunk` looks for missing ones.
const REQUISITES: &[&str] = &[
    "require",
    "require_any",
    "watch",
    "watch_any",
    "prereq",
    "onfail",
    "onfail_any",
    "onchanges",
    "onchanges_any",
    "prerequired",
];

/// The requisites `check_requisite` evaluates, in its order.
const CHECKED: &[&str] = &[
    "require",
    "require_any",
    "watch",
    "watch_any",
    "prereq",
    "onfail",
    "onfail_any",
    "onfail_all",
    "onchanges",
    "onchanges_any",
];

/// A state's `retry:` settings, as Salt's `verify_retry_data` reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Retry {
    until: bool,
    attempts: i64,
    interval: i64,
    splay: i64,
}

impl Retry {
    fn of(v: &Value) -> Retry {
        let defaults = Retry {
            until: true,
            attempts: 2,
            interval: 30,
            splay: 0,
        };
        match v {
            Value::Object(m) => {
                let int = |k: &str, d: i64| m.get(k).and_then(Value::as_i64).unwrap_or(d);
                Retry {
                    until: m.get("until").and_then(Value::as_bool).unwrap_or(true),
                    attempts: int("attempts", 2),
                    interval: int("interval", 30),
                    splay: int("splay", 0),
                }
            }
            Value::Bool(false) => Retry {
                attempts: 0,
                ..defaults
            },
            _ => defaults,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Met,
    Unmet,
    Fail,
    Change,
    OnFail,
    OnChanges,
}

/// One state run over compiled chunks.
pub struct Runner<'r> {
    chunks: Vec<Chunk>,
    running: Map<String, Value>,
    active: BTreeSet<String>,
    run_num: u64,
    processed: BTreeSet<String>,
    opts: RunOpts,
    exec: &'r mut dyn Exec,
    failhard_hit: bool,
}

/// A state's `(start_time, duration)` for one that did not run, as
/// `_calculate_fake_duration` gives it.
fn fake_duration(exec: &dyn Exec) -> (String, f64) {
    let start = exec.now();
    let at = crate::clock::local_time_of_day(start);
    (at, millis_since(exec, start))
}

/// Milliseconds from `start` to the executor's now.
fn millis_since(exec: &dyn Exec, start: SystemTime) -> f64 {
    let d = exec.now().duration_since(start).unwrap_or_default();
    d.as_micros() as f64 / 1000.0
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// A requisite entry as `{kind: pattern}`: a bare string means `id`, and a `state.fun`
/// kind is cut to its module (`trim_req`).
fn req_pair(req: &Value) -> Option<(String, Value)> {
    match req {
        Value::String(s) => Some(("id".into(), Value::String(s.clone()))),
        Value::Object(m) => {
            let (k, v) = m.iter().next()?;
            let k = k.split('.').next().unwrap_or(k).to_string();
            Some((k, v.clone()))
        }
        _ => None,
    }
}

impl<'r> Runner<'r> {
    /// A run of `chunks` (already ordered); `processed` are the SLS files rendered.
    pub fn new(
        chunks: Vec<Chunk>,
        processed: BTreeSet<String>,
        opts: RunOpts,
        exec: &'r mut dyn Exec,
    ) -> Runner<'r> {
        let mut chunks = chunks;
        // check_requisite turns watch into require for modules without mod_watch, in place.
        for c in chunks.iter_mut() {
            let state = c.get("state").map(python_str).unwrap_or_default();
            if exec.has_mod_watch(&state) {
                continue;
            }
            for (w, r) in [("watch", "require"), ("watch_any", "require_any")] {
                if let Some(v) = c.shift_remove(w) {
                    match c.get_mut(r) {
                        Some(Value::Array(list)) => list.extend(as_list(&v)),
                        _ => {
                            c.insert(r.into(), Value::Array(as_list(&v)));
                        }
                    }
                }
            }
        }
        Runner {
            chunks,
            running: Map::new(),
            active: BTreeSet::new(),
            run_num: 0,
            processed,
            opts,
            exec,
            failhard_hit: false,
        }
    }

    /// Salt's `call_chunks`: every chunk in order; the returns by state tag.
    pub fn run(mut self) -> Map<String, Value> {
        for i in 0..self.chunks.len() {
            if self.failhard_hit || self.exec.suspended() {
                break;
            }
            let low = self.chunks[i].clone();
            let t = tag(&low);
            if !self.running.contains_key(&t) {
                self.call_chunk(&low, 0);
                if self.check_failhard(&low) {
                    break;
                }
            }
            self.active.clear();
        }
        self.running
    }

    fn check_failhard(&self, low: &Chunk) -> bool {
        if self.opts.test {
            return false;
        }
        let on = low
            .get("failhard")
            .map(crate::py::truthy)
            .unwrap_or(self.opts.failhard);
        if !on {
            return false;
        }
        match self.running.get(&tag(low)).and_then(|r| r.get("result")) {
            Some(Value::Bool(b)) => !b,
            Some(Value::Null) | None => false,
            Some(other) => !crate::py::truthy(other),
        }
    }

    /// The chunks a requisite entry names (matched by `fnmatch` on name or ID, or by SLS).
    fn matching(&self, key: &str, val: &Value) -> Vec<usize> {
        let pat = python_str(val);
        let mut out = Vec::new();
        for (i, c) in self.chunks.iter().enumerate() {
            if key == "sls" {
                let sls = c.get("__sls__").map(python_str).unwrap_or_default();
                let from = c
                    .get("__sls_included_from__")
                    .and_then(Value::as_array)
                    .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(pat.as_str())));
                if fnmatch(&sls, &pat) || from {
                    out.push(i);
                }
                continue;
            }
            let name = c.get("name").map(python_str).unwrap_or_default();
            let id = c.get("__id__").map(python_str).unwrap_or_default();
            if fnmatch(&name, &pat) || fnmatch(&id, &pat) {
                let state = c.get("state").map(python_str).unwrap_or_default();
                if key == "id" || state == key {
                    out.push(i);
                }
            }
        }
        out
    }

    fn sls_processed(&self, pat: &str) -> bool {
        self.processed.iter().any(|s| fnmatch(s, pat))
    }

    /// Salt's `check_requisite`: the status and the chunks each requisite kind names.
    fn check_requisite(&self, low: &Chunk) -> (Status, Vec<(&'static str, Vec<usize>)>) {
        if !CHECKED.iter().any(|k| low.contains_key(*k)) {
            return (Status::Met, Vec::new());
        }
        let mut reqs: Vec<(&'static str, Vec<usize>)> = Vec::new();
        for r_state in CHECKED {
            let mut found_chunks = Vec::new();
            if let Some(list) = low.get(*r_state).filter(|v| !v.is_null()) {
                for req in as_list(list) {
                    let Some((key, val)) = req_pair(&req) else {
                        continue;
                    };
                    if val.is_null() {
                        continue;
                    }
                    let m = self.matching(&key, &val);
                    let found =
                        !m.is_empty() || (key == "sls" && self.sls_processed(&python_str(&val)));
                    found_chunks.extend(m);
                    if !found {
                        return (Status::Unmet, Vec::new());
                    }
                }
            }
            reqs.push((r_state, found_chunks));
        }
        let mut fun_stats: BTreeSet<&'static str> = BTreeSet::new();
        for (r_state, idxs) in &reqs {
            let mut st: BTreeSet<&'static str> = BTreeSet::new();
            for &i in idxs {
                let Some(ret) = self.running.get(&tag(&self.chunks[i])) else {
                    st.insert("unmet");
                    continue;
                };
                let result = ret.get("result");
                let changed = ret.get("changes").is_some_and(crate::py::truthy);
                if r_state.starts_with("onfail") {
                    if result == Some(&Value::Bool(true)) {
                        st.insert("onfail");
                        continue;
                    }
                } else if r_state.starts_with("onchanges") {
                    if result == Some(&Value::Bool(false)) || !changed {
                        st.insert("onchanges");
                    } else {
                        st.insert("onchangesmet");
                    }
                    continue;
                } else if result == Some(&Value::Bool(false)) {
                    st.insert("fail");
                    continue;
                }
                if r_state.starts_with("watch") && changed {
                    st.insert("change");
                    continue;
                }
                if ret.get("__state_ran__") != Some(&Value::Bool(false)) {
                    st.insert("met");
                }
            }
            if r_state.ends_with("_any") || *r_state == "onfail" {
                if st.contains("met") || st.contains("change") {
                    st.remove("fail");
                }
                if st.contains("onchangesmet") {
                    st.remove("onchanges");
                    st.remove("fail");
                }
                if st.contains("onfail") && st.contains("met") {
                    st.remove("onfail");
                }
            }
            if r_state.ends_with("_all") && st.contains("onfail") {
                st.remove("met");
            }
            fun_stats.extend(st);
        }
        let status = if fun_stats.contains("unmet") {
            Status::Unmet
        } else if fun_stats.contains("fail") {
            Status::Fail
        } else if fun_stats.contains("onfail") && !fun_stats.contains("onchangesmet") {
            Status::OnFail
        } else if fun_stats.contains("onchanges") && !fun_stats.contains("onchangesmet") {
            Status::OnChanges
        } else if fun_stats.contains("change") {
            Status::Change
        } else if fun_stats.contains("onfail") {
            Status::OnFail
        } else {
            Status::Met
        };
        (status, reqs)
    }

    fn next_run_num(&mut self) -> u64 {
        let n = self.run_num;
        self.run_num += 1;
        n
    }

    /// A return for a state that did not run, with the chunk's `__sls__`, `__id__`, `name`.
    fn not_run(
        &mut self,
        low: &Chunk,
        result: bool,
        comment: String,
        ran: Option<bool>,
        fake: bool,
    ) -> Value {
        let mut m = Map::new();
        m.insert("changes".into(), Value::Object(Map::new()));
        m.insert("result".into(), result.into());
        if fake {
            let (start, duration) = fake_duration(&*self.exec);
            m.insert("duration".into(), duration.into());
            m.insert("start_time".into(), start.into());
        }
        m.insert("comment".into(), comment.into());
        if let Some(r) = ran {
            m.insert("__state_ran__".into(), r.into());
        }
        m.insert("__run_num__".into(), self.next_run_num().into());
        for k in ["__sls__", "__id__", "name"] {
            m.insert(k.into(), low.get(k).cloned().unwrap_or(Value::Null));
        }
        Value::Object(m)
    }

    /// Salt's `call_chunk`.
    fn call_chunk(&mut self, low: &Chunk, depth: usize) {
        let t = tag(low);
        self.active.insert(t.clone());
        let (status, reqs) = self.check_requisite(low);
        match status {
            Status::Unmet => {
                if self.unmet(low, &t, depth) {
                    return;
                }
            }
            Status::Met => {
                let r = self.call(low);
                self.running.insert(t.clone(), r);
            }
            Status::Fail => {
                let mut failed: BTreeSet<String> = BTreeSet::new();
                for (_, idxs) in &reqs {
                    for &i in idxs {
                        let c = &self.chunks[i];
                        if self.running.get(&tag(c)).and_then(|r| r.get("result"))
                            == Some(&Value::Bool(false))
                        {
                            let f = |k: &str| c.get(k).map(python_str).unwrap_or_default();
                            failed.insert(format!("{}.{}", f("__sls__"), f("__id__")));
                        }
                    }
                }
                // Salt joins a set, in no stable order; brine sorts it.
                let list: Vec<String> = failed.into_iter().collect();
                let r = self.not_run(
                    low,
                    false,
                    format!("One or more requisite failed: {}", list.join(", ")),
                    None,
                    true,
                );
                self.running.insert(t.clone(), r);
            }
            Status::Change => {
                let mut r = self.call(low);
                let changed = r.get("changes").is_some_and(crate::py::truthy);
                let skip = r.get("skip_watch").is_some_and(crate::py::truthy);
                if !changed && !skip {
                    let mut w = low.clone();
                    let fun = w.get("fun").cloned().unwrap_or(Value::Null);
                    w.insert("sfun".into(), fun);
                    w.insert("fun".into(), "mod_watch".into());
                    let watched: Vec<Value> = reqs
                        .iter()
                        .filter(|(k, _)| *k == "watch")
                        .flat_map(|(_, idxs)| idxs.iter())
                        .filter_map(|&i| {
                            let c = &self.chunks[i];
                            let ch = self.running.get(&tag(c))?.get("changes")?;
                            crate::py::truthy(ch).then(|| {
                                let f = |k: &str| c.get(k).map(python_str).unwrap_or_default();
                                Value::String(format!("{}: {}", f("state"), f("__id__")))
                            })
                        })
                        .collect();
                    w.insert("__watch_changes__".into(), Value::Array(watched));
                    r = self.call(&w);
                }
                self.running.insert(t.clone(), r);
            }
            Status::OnFail => {
                let r = self.not_run(
                    low,
                    true,
                    "State was not run because onfail req did not change".into(),
                    Some(false),
                    true,
                );
                self.running.insert(t.clone(), r);
            }
            Status::OnChanges => {
                let r = self.not_run(
                    low,
                    true,
                    "State was not run because none of the onchanges reqs changed".into(),
                    Some(false),
                    true,
                );
                self.running.insert(t.clone(), r);
            }
        }
        if self.exec.suspended() {
            return;
        }
        if let Some(r) = self.running.get(&t).cloned() {
            self.event(&r, low.get("fire_event"));
        }
    }

    /// The `unmet` branch of `call_chunk`: missing requisites reported, or the requisites
    /// run first and the chunk tried again. True when the chunk's return is final (and its
    /// event already sent).
    fn unmet(&mut self, low: &Chunk, t: &str, depth: usize) -> bool {
        let mut lost: Vec<(&str, Vec<(String, Value)>)> = Vec::new();
        let mut reqs: Vec<usize> = Vec::new();
        for requisite in REQUISITES {
            let mut missing = Vec::new();
            if let Some(list) = low.get(*requisite) {
                for req in as_list(list) {
                    let Some((key, val)) = req_pair(&req) else {
                        continue;
                    };
                    if val.is_null() {
                        missing.push((key, val));
                        continue;
                    }
                    let m = self.matching(&key, &val);
                    let found =
                        !m.is_empty() || (key == "sls" && self.sls_processed(&python_str(&val)));
                    reqs.extend(m);
                    if !found {
                        missing.push((key, val));
                    }
                }
            }
            lost.push((requisite, missing));
        }
        if lost.iter().any(|(_, l)| !l.is_empty()) {
            let mut comment = String::from("The following requisites were not found:\n");
            for (requisite, l) in &lost {
                if l.is_empty() {
                    continue;
                }
                comment.push_str(&format!("{}{requisite}:\n", " ".repeat(19)));
                for (k, v) in l {
                    comment.push_str(&format!("{}{k}: {}\n", " ".repeat(23), python_str(v)));
                }
            }
            let r = self.not_run(low, false, comment, None, true);
            self.running.insert(t.to_string(), r.clone());
            self.event(&r, low.get("fire_event"));
            return true;
        }
        let mut last = None;
        for i in reqs {
            let chunk = self.chunks[i].clone();
            let ctag = tag(&chunk);
            if self.running.contains_key(&ctag) {
                last = Some(chunk);
                continue;
            }
            if self.active.contains(&ctag) {
                log::error!("Recursive requisite found");
                let r = self.not_run(low, false, "Recursive requisite found".into(), None, false);
                self.running.insert(t.to_string(), r.clone());
                self.event(&r, low.get("fire_event"));
                return true;
            }
            self.call_chunk(&chunk, 0);
            if self.exec.suspended() {
                return true;
            }
            if self.check_failhard(&chunk) {
                self.failhard_hit = true;
                return true;
            }
            last = Some(chunk);
        }
        if depth + 1 >= 20 {
            log::error!("Recursive requisite found");
            let r = self.not_run(low, false, "Recursive requisite found".into(), None, false);
            self.running.insert(t.to_string(), r);
        } else {
            self.call_chunk(low, depth + 1);
            // The inner call sent the event.
            if let Some(c) = last {
                if self.check_failhard(&c) {
                    self.failhard_hit = true;
                }
            }
            return true;
        }
        false
    }

    /// Salt's `State.event`.
    fn event(&mut self, ret: &Value, fire_event: Option<&Value>) {
        if self.opts.local || self.exec.suspended() {
            return;
        }
        let fire = fire_event.filter(|v| crate::py::truthy(v));
        if !self.opts.state_events && fire.is_none() {
            return;
        }
        let jid = self.opts.jid.clone().unwrap_or_default();
        let id = self.opts.id.clone();
        let mut data = Map::new();
        data.insert("ret".into(), ret.clone());
        let tag = match fire {
            Some(Value::Bool(true)) => {
                let name = ret.get("name").map(python_str).unwrap_or_default();
                format!("salt/state_result/{jid}/{id}/{name}")
            }
            Some(other) => format!("salt/state_result/{jid}/{id}/{}", python_str(other)),
            None => {
                let n = ret.get("__run_num__").map(python_str).unwrap_or_default();
                data.insert("len".into(), self.chunks.len().into());
                format!("salt/job/{jid}/prog/{id}/{n}")
            }
        };
        self.exec.fire(&tag, Value::Object(data));
    }

    /// Salt's `verify_data` for a chunk about to run.
    fn verify_data(&self, low: &Chunk) -> Vec<String> {
        let mut errors = Vec::new();
        let name = low.get("name").cloned().unwrap_or(Value::Null);
        if crate::py::truthy(&name) && !name.is_string() {
            let sls = low
                .get("__sls__")
                .map(|s| format!("in SLS '{}' ", python_str(s)))
                .unwrap_or_default();
            let ty = match name {
                Value::Number(ref n) if n.is_f64() => "float",
                Value::Number(_) => "int",
                Value::Bool(_) => "bool",
                Value::Array(_) => "list",
                Value::Object(_) => "dict",
                _ => "NoneType",
            };
            errors.push(format!(
                "ID '{}' {sls}is not formed as a string, but is a {ty}",
                python_str(&name)
            ));
            return errors;
        }
        if low.get("require").is_some() {
            let state = low.get("state").map(python_str).unwrap_or_default();
            let id = low.get("__id__").map(python_str).unwrap_or_default();
            for req in as_list(&low["require"]) {
                let Some(m) = req.as_object() else {
                    continue;
                };
                let Some((k, v)) = m.iter().next() else {
                    continue;
                };
                let pat = python_str(v);
                if *k == state && (fnmatch(&python_str(&name), &pat) || fnmatch(&id, &pat)) {
                    errors.push(format!(
                        "Recursive require detected in SLS {} for require {} in ID {id}",
                        low.get("__sls__").map(python_str).unwrap_or_default(),
                        python_repr(&req)
                    ));
                }
            }
        }
        errors
    }

    /// Salt's `_run_check`: `onlyif`, `unless` and `creates`; `Some` holds the return of a
    /// state that is skipped.
    fn run_check(&mut self, low: &Chunk) -> Option<Map<String, Value>> {
        let mut result = false;
        let mut skip_watch: Option<bool> = None;
        let mut comments: Vec<String> = Vec::new();
        if let Some(v) = low.get("onlyif") {
            let mut r = false;
            let mut comment = String::new();
            for entry in as_list(v) {
                let Value::String(cmd) = entry else {
                    comment = "onlyif execution failed, bad type passed".into();
                    r = false;
                    break;
                };
                let code = self.exec.retcode(&cmd, low).unwrap_or(100);
                if code != 0 && !r {
                    comment = "onlyif condition is false".into();
                    skip_watch = Some(true);
                    r = true;
                    break;
                } else if code == 0 {
                    comment = "onlyif condition is true".into();
                    r = false;
                }
            }
            result = r;
            comments.push(comment);
        }
        if let Some(v) = low.get("unless") {
            let mut r = false;
            let mut comment = String::new();
            let mut sw = None;
            for entry in as_list(v) {
                let Value::String(cmd) = entry else {
                    comment = "unless condition is false, bad type passed".into();
                    r = false;
                    continue;
                };
                let code = self.exec.retcode(&cmd, low).unwrap_or(0);
                if code == 0 {
                    comment = "unless condition is true".into();
                    sw = Some(true);
                    r = true;
                } else {
                    sw = None;
                    comment = "unless condition is false".into();
                    r = false;
                    break;
                }
            }
            result = r || result;
            if let Some(s) = sw {
                skip_watch = Some(s || skip_watch.unwrap_or(false));
            }
            comments.push(comment);
        }
        if let Some(v) = low.get("creates") {
            let (r, comment) = match v {
                Value::String(p) if std::path::Path::new(p).exists() => {
                    (true, format!("{p} exists"))
                }
                Value::Array(ps)
                    if ps
                        .iter()
                        .all(|p| std::path::Path::new(&python_str(p)).exists()) =>
                {
                    (true, "All files in creates exist".to_string())
                }
                _ => (false, "Creates files not found".to_string()),
            };
            if r {
                skip_watch = Some(true);
            }
            result = r || result;
            comments.push(comment);
        }
        if !result {
            return None;
        }
        let mut m = Map::new();
        m.insert("result".into(), true.into());
        m.insert(
            "name".into(),
            low.get("name").cloned().unwrap_or(Value::Null),
        );
        m.insert("changes".into(), Value::Object(Map::new()));
        m.insert("comment".into(), comments.join("\n").into());
        m.insert(
            "__sls__".into(),
            low.get("__sls__").cloned().unwrap_or(Value::Null),
        );
        m.insert(
            "__id__".into(),
            low.get("__id__").cloned().unwrap_or(Value::Null),
        );
        if let Some(s) = skip_watch {
            m.insert("skip_watch".into(), s.into());
        }
        Some(m)
    }

    /// Salt's `State.call`: one state function, with its checks, numbered and timed.
    fn call(&mut self, low: &Chunk) -> Value {
        self.call_try(low, 1)
    }

    /// One attempt of `call`; `retry:` calls it again while the result is not `until`.
    fn call_try(&mut self, low: &Chunk, attempt: i64) -> Value {
        let wall = self.exec.now();
        let name = low.get("name").cloned().unwrap_or(Value::Null);
        let errors = self.verify_data(low);
        let state = low.get("state").map(python_str).unwrap_or_default();
        let fun = low.get("fun").map(python_str).unwrap_or_default();
        if !errors.is_empty() {
            return self.error_ret(&name, errors);
        }
        if !self.exec.exists(&state, &fun) {
            let full = format!("{state}.{fun}");
            let errors = match low.get("__sls__") {
                Some(sls) => vec![
                    format!("State '{full}' was not found in SLS '{}'", python_str(sls)),
                    format!("Reason: '{full}' is not available."),
                ],
                None => vec![format!("Specified state '{full}' was not found")],
            };
            return self.error_ret(&name, errors);
        }
        let mut ret = match self.run_check(low) {
            Some(skipped) => skipped,
            None => match self.exec.call(&state, &fun, low, self.opts.test) {
                Value::Object(m) => m,
                other => {
                    let mut m = Map::new();
                    m.insert("result".into(), false.into());
                    m.insert("name".into(), name.clone());
                    m.insert("changes".into(), Value::Object(Map::new()));
                    m.insert(
                        "comment".into(),
                        format!(
                            "State {state}.{fun} returned {} instead of a dict",
                            python_repr(&other)
                        )
                        .into(),
                    );
                    m
                }
            },
        };
        if let Some(v) = low.get("check_cmd") {
            if state != "file" {
                self.check_cmd(low, v, &mut ret);
            }
        }
        ret.insert(
            "__sls__".into(),
            low.get("__sls__").cloned().unwrap_or(Value::Null),
        );
        ret.insert("__run_num__".into(), self.next_run_num().into());
        let (start_time, duration) = self.exec.timing().unwrap_or_else(|| {
            (
                crate::clock::local_time_of_day(wall),
                millis_since(&*self.exec, wall),
            )
        });
        ret.insert("start_time".into(), start_time.into());
        ret.insert("duration".into(), duration.into());
        ret.insert(
            "__id__".into(),
            low.get("__id__").cloned().unwrap_or(Value::Null),
        );
        match low.get("retry") {
            Some(r) => self.retry(low, Value::Object(ret), r, attempt),
            None => Value::Object(ret),
        }
    }

    /// Salt's `retry:` after an attempt: run again (after `interval` plus up to `splay`
    /// seconds) while the result is not `until` and attempts are left; in test mode only say
    /// so.
    fn retry(&mut self, low: &Chunk, ret: Value, spec: &Value, attempt: i64) -> Value {
        let r = Retry::of(spec);
        let py_bool = |b: bool| if b { "True" } else { "False" };
        let comment = ret.get("comment").map(python_str).unwrap_or_default();
        if self.opts.test {
            let mut ret = ret;
            ret["comment"] = format!(
                "{comment}  The state would be retried every {} seconds (with a splay of up to {} \
                 seconds) a maximum of {} times or until a result of {} is returned",
                r.interval,
                r.splay,
                r.attempts,
                py_bool(r.until)
            )
            .into();
            return ret;
        }
        let result = ret.get("result").cloned().unwrap_or(Value::Null);
        if result == Value::Bool(r.until) || r.attempts <= attempt {
            return ret;
        }
        let mut wait = r.interval;
        if r.splay > 0 {
            wait += i64::from(crate::crypto::random_u32(r.splay as u32 + 1));
        }
        self.exec.sleep(wait.max(0) as u64);
        if self.exec.suspended() {
            return ret;
        }
        let mut next = self.call_try(low, attempt + 1);
        let shown = match &result {
            Value::Bool(b) => py_bool(*b).to_string(),
            Value::Null => "None".to_string(),
            other => python_str(other),
        };
        let later = next.get("comment").map(python_str).unwrap_or_default();
        next["comment"] = format!(
            "Attempt {attempt}: Returned a result of \"{shown}\", with the following comment: \"{comment}\"\n{later}"
        )
        .into();
        let d = |v: &Value| v.get("duration").and_then(Value::as_f64).unwrap_or(0.0);
        next["duration"] = (d(&next) + d(&ret) + (wait * 1000) as f64).into();
        if attempt == 1 {
            if let Some(st) = ret.get("start_time") {
                next["start_time"] = st.clone();
            }
        }
        next
    }

    /// Salt's `_run_check_cmd`: `check_cmd` decides the result after the state ran.
    fn check_cmd(&mut self, low: &Chunk, v: &Value, ret: &mut Map<String, Value>) {
        let mut result = false;
        for entry in as_list(v) {
            let code = self.exec.retcode(&python_str(&entry), low).unwrap_or(1);
            if code == 0 && !result {
                ret.insert(
                    "comment".into(),
                    "check_cmd determined the state succeeded".into(),
                );
                ret.insert("result".into(), true.into());
                result = true;
            } else if code != 0 {
                ret.insert(
                    "comment".into(),
                    "check_cmd determined the state failed".into(),
                );
                ret.insert("result".into(), false.into());
                return;
            }
        }
    }

    fn error_ret(&mut self, name: &Value, errors: Vec<String>) -> Value {
        let mut m = Map::new();
        m.insert("result".into(), false.into());
        m.insert("name".into(), name.clone());
        m.insert("changes".into(), Value::Object(Map::new()));
        let mut comment = String::new();
        for e in errors {
            comment.push_str(&e);
            comment.push('\n');
        }
        m.insert("comment".into(), comment.into());
        m.insert("__run_num__".into(), self.next_run_num().into());
        Value::Object(m)
    }
}
