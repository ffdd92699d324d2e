//! The `salt.*` states of an orchestration, as Salt 3007's `salt/states/saltmod.py` has
//! them: each step's arguments read from its chunk into a plan the master carries out
//! (publish a job, watch the bus, call a runner or wheel function), and the state return
//! built from what came back, with Salt's comments. Pure: no I/O, no clock.

use crate::py::{python_repr, python_str, truthy};
use crate::states::compile::Chunk;
use serde_json::{json, Map, Value};

/// Which `salt.*` state a job step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// `salt.state`: a state run on minions.
    State,
    /// `salt.function`: an execution function on minions.
    Function,
}

/// A `salt.state` or `salt.function` step, read from its chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPlan {
    /// Which state.
    pub kind: JobKind,
    /// The step's `name`.
    pub name: String,
    /// The target.
    pub tgt: Value,
    /// Its type (`glob`, `list`, `compound`, ...).
    pub tgt_type: String,
    /// The function published (`state.sls`, `state.highstate`, or the `salt.function` name).
    pub fun: String,
    /// Its positional arguments.
    pub arg: Vec<Value>,
    /// Its keyword arguments.
    pub kwarg: Map<String, Value>,
    /// Seconds to wait for returns; `None` waits while the minions are connected.
    pub timeout: Option<f64>,
    /// `batch`: a count or a percentage.
    pub batch: Option<String>,
    /// `subset`: run on this many of the targeted minions.
    pub subset: Option<usize>,
    /// A minion that does not return counts (`salt.state`'s default).
    pub expect_minions: bool,
    /// Minions whose failure is excused.
    pub fail_minions: Vec<String>,
    /// Failures tolerated (`salt.state`).
    pub allow_fail: usize,
    /// `salt.function`'s `fail_function`.
    pub fail_function: Option<String>,
    /// The run is a test run.
    pub test: bool,
    /// What `salt/run/<jid>/args` carries as `args` (Salt's `cmd_kw`).
    pub cmd_kw: Map<String, Value>,
    /// Warnings for the return.
    pub warnings: Vec<String>,
}

/// The state return of a step that ends before it starts (a bad argument, test mode).
fn early(name: &str, result: Value, comment: &str) -> Value {
    json!({"name": name, "changes": {}, "comment": comment, "result": result})
}

fn arg<'c>(low: &'c Chunk, key: &str) -> Option<&'c Value> {
    low.get(key).filter(|v| !v.is_null())
}

fn name_of(low: &Chunk) -> String {
    arg(low, "name").map(python_str).unwrap_or_default()
}

/// `fail_minions` as a list: a comma-separated string, a list, or (with a warning) nothing.
fn fail_minions(v: Option<&Value>, warnings: &mut Vec<String>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(|m| m.trim().to_string()).collect(),
        Some(Value::Array(a)) => a.iter().map(python_str).collect(),
        Some(_) => {
            warnings.push(
                "'fail_minions' needs to be a list or a comma separated string. Ignored.".into(),
            );
            Vec::new()
        }
    }
}

fn timeout_of(low: &Chunk) -> Option<f64> {
    arg(low, "timeout")
        .and_then(|v| match v {
            Value::String(s) => s.trim().parse().ok(),
            other => other.as_f64(),
        })
        .filter(|t| t.is_finite() && *t > 0.0)
}

fn batch_of(low: &Chunk) -> Option<String> {
    arg(low, "batch").map(python_str)
}

fn subset_of(low: &Chunk) -> Option<usize> {
    arg(low, "subset").and_then(|v| match v {
        Value::String(s) => s.trim().parse().ok(),
        other => other.as_u64().map(|n| n as usize),
    })
}

/// Salt's `verify_data` return for a required argument a step lacks.
fn missing(low: &Chunk, param: &str, state: &str) -> Option<Value> {
    if low.contains_key(param) {
        return None;
    }
    Some(
        json!({"name": low.get("name").cloned().unwrap_or(Value::Null), "result": false,
                "changes": {}, "comment": format!("Missing parameter {param} for state {state}\n")}),
    )
}

/// `salt.state`: the job to publish, or the return of a step that cannot run.
pub fn plan_state(low: &Chunk, test_opt: bool, failhard_opt: bool) -> Result<JobPlan, Value> {
    if let Some(r) = missing(low, "tgt", "salt.state") {
        return Err(r);
    }
    let name = name_of(low);
    let allow_fail = match arg(low, "allow_fail") {
        None => 0,
        Some(v) => match v {
            Value::Number(n) if n.as_u64().is_some() => n.as_u64().unwrap_or(0) as usize,
            Value::String(s) if s.trim().parse::<usize>().is_ok() => s.trim().parse().unwrap_or(0),
            _ => {
                return Err(early(
                    &name,
                    false.into(),
                    "Passed invalid value for 'allow_fail', must be an int",
                ))
            }
        },
    };
    let (fun, mut args) = if arg(low, "highstate").is_some_and(truthy) {
        ("state.highstate".to_string(), Vec::new())
    } else if let Some(top) = arg(low, "top").filter(|v| truthy(v)) {
        ("state.top".to_string(), vec![top.clone()])
    } else if let Some(sls) = arg(low, "sls").filter(|v| truthy(v)) {
        let csv = match sls {
            Value::Array(a) => a.iter().map(python_str).collect::<Vec<_>>().join(","),
            other => python_str(other),
        };
        ("state.sls".to_string(), vec![Value::String(csv)])
    } else {
        return Err(early(
            &name,
            false.into(),
            "No highstate or sls specified, no execution made",
        ));
    };
    let mut kwarg = Map::new();
    let test = match arg(low, "test") {
        Some(t) => {
            kwarg.insert("test".into(), t.clone());
            truthy(t)
        }
        None if test_opt => {
            kwarg.insert("test".into(), true.into());
            true
        }
        None => false,
    };
    if let Some(p) = arg(low, "pillar").filter(|v| truthy(v)) {
        kwarg.insert("pillar".into(), p.clone());
    }
    for k in ["pillarenv", "saltenv", "exclude"] {
        if let Some(v) = arg(low, k) {
            kwarg.insert(k.into(), v.clone());
        }
    }
    kwarg.insert(
        "queue".into(),
        arg(low, "queue").cloned().unwrap_or(false.into()),
    );
    match low.get("concurrent") {
        None | Some(Value::Null) => {
            kwarg.insert("concurrent".into(), false.into());
        }
        Some(Value::Bool(b)) => {
            kwarg.insert("concurrent".into(), (*b).into());
        }
        Some(_) => {
            return Err(early(
                &name,
                false.into(),
                "Must pass in boolean for value of 'concurrent'",
            ))
        }
    }
    let mut warnings = Vec::new();
    let fail = fail_minions(arg(low, "fail_minions"), &mut warnings);
    let expect_minions = arg(low, "expect_minions").map(truthy).unwrap_or(true);
    let mut cmd_kw = cmd_kw_head(low, &args, &kwarg);
    add_targeting(low, &mut cmd_kw, expect_minions);
    add_batching(low, &mut cmd_kw);
    add_failhard(low, &mut cmd_kw, failhard_opt);
    // The minion reads keyword arguments packed as Salt packs them.
    let mut packed = kwarg.clone();
    packed.insert("__kwarg__".into(), true.into());
    args.push(Value::Object(packed));
    Ok(JobPlan {
        kind: JobKind::State,
        name,
        tgt: arg(low, "tgt").cloned().unwrap_or(Value::Null),
        tgt_type: tgt_type_of(low),
        fun,
        arg: args,
        kwarg,
        timeout: timeout_of(low),
        batch: batch_of(low),
        subset: subset_of(low),
        expect_minions,
        fail_minions: fail,
        allow_fail,
        fail_function: None,
        test,
        cmd_kw,
        warnings,
    })
}

/// The first keys of Salt's `cmd_kw` (the `salt/run/<jid>/args` event's `args`), in its order.
fn cmd_kw_head(low: &Chunk, args: &[Value], kwarg: &Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arg".into(), Value::Array(args.to_vec()));
    m.insert("kwarg".into(), Value::Object(kwarg.clone()));
    m.insert("ret".into(), arg(low, "ret").cloned().unwrap_or("".into()));
    m.insert(
        "timeout".into(),
        arg(low, "timeout").cloned().unwrap_or(Value::Null),
    );
    m
}

/// `batch` (as a string, as Salt passes it), `subset` and `batch_wait`, when given.
fn add_batching(low: &Chunk, m: &mut Map<String, Value>) {
    if let Some(b) = batch_of(low) {
        m.insert("batch".into(), b.into());
    }
    for k in ["subset", "batch_wait"] {
        if let Some(v) = arg(low, k) {
            m.insert(k.into(), v.clone());
        }
    }
}

/// `tgt_type`, `ssh` and `expect_minions`.
fn add_targeting(low: &Chunk, m: &mut Map<String, Value>, expect_minions: bool) {
    m.insert("tgt_type".into(), tgt_type_of(low).into());
    m.insert(
        "ssh".into(),
        arg(low, "ssh").cloned().unwrap_or(false.into()),
    );
    m.insert("expect_minions".into(), expect_minions.into());
}

/// `failhard`, from the step or the master's option.
fn add_failhard(low: &Chunk, m: &mut Map<String, Value>, failhard_opt: bool) {
    if low.get("failhard") == Some(&Value::Bool(true)) || failhard_opt {
        m.insert("failhard".into(), true.into());
    }
}

fn tgt_type_of(low: &Chunk) -> String {
    arg(low, "tgt_type")
        .or_else(|| arg(low, "expr_form"))
        .map(python_str)
        .unwrap_or_else(|| "glob".into())
}

/// `salt.function`: the job to publish, or the return of a step that does not run (test
/// mode says what it would do).
pub fn plan_function(low: &Chunk, test_opt: bool, failhard_opt: bool) -> Result<JobPlan, Value> {
    if let Some(r) = missing(low, "tgt", "salt.function") {
        return Err(r);
    }
    let name = name_of(low);
    let tgt = arg(low, "tgt").cloned().unwrap_or(Value::Null);
    let mut warnings = Vec::new();
    let args: Vec<Value> = match arg(low, "arg") {
        None => Vec::new(),
        Some(Value::String(s)) => {
            warnings.push("Please specify 'arg' as a list of arguments.".to_string());
            s.split_whitespace()
                .map(|w| Value::String(w.into()))
                .collect()
        }
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
    };
    let kwarg = match arg(low, "kwarg") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if test_opt {
        let mut r = early(
            &name,
            Value::Null,
            &format!(
                "Function {name} would be executed on target {}",
                python_str(&tgt)
            ),
        );
        if !warnings.is_empty() {
            r["warnings"] = json!(warnings);
        }
        return Err(r);
    }
    let fail = fail_minions(arg(low, "fail_minions"), &mut warnings);
    let expect_minions = arg(low, "expect_minions").map(truthy).unwrap_or(false);
    let mut cmd_kw = cmd_kw_head(low, &args, &kwarg);
    add_batching(low, &mut cmd_kw);
    add_targeting(low, &mut cmd_kw, expect_minions);
    cmd_kw.insert("_cmd_meta".into(), true.into());
    add_failhard(low, &mut cmd_kw, failhard_opt);
    let mut published = args;
    if !kwarg.is_empty() {
        let mut packed = kwarg.clone();
        packed.insert("__kwarg__".into(), true.into());
        published.push(Value::Object(packed));
    }
    Ok(JobPlan {
        kind: JobKind::Function,
        fun: name.clone(),
        name,
        tgt,
        tgt_type: tgt_type_of(low),
        arg: published,
        kwarg,
        timeout: timeout_of(low),
        batch: batch_of(low),
        subset: subset_of(low),
        expect_minions,
        fail_minions: fail,
        allow_fail: 0,
        fail_function: arg(low, "fail_function").map(python_str),
        test: false,
        cmd_kw,
        warnings,
    })
}

/// What one minion sent back for a job step.
#[derive(Debug, Clone, PartialEq)]
pub struct MinionReturn {
    /// The minion.
    pub id: String,
    /// Its return; `None` when it did not return in time.
    pub ret: Option<Value>,
    /// Its retcode.
    pub retcode: i64,
}

/// Salt's `state.check_result(ret, recurse=True)` for a minion's state return.
pub fn state_ok(running: &Value) -> bool {
    let Some(m) = running.as_object().filter(|m| !m.is_empty()) else {
        return false;
    };
    for r in m.values() {
        if let Some(inner) = r.as_object() {
            match inner.get("result") {
                Some(Value::Bool(false)) => return false,
                None if !state_ok(r) => return false,
                _ => {}
            }
        }
    }
    true
}

fn failure_detail(minion: &str, ret: Option<&Value>) -> String {
    match ret {
        None => format!("Minion {minion} did not return a state result."),
        Some(Value::Array(items)) => {
            let parts: Vec<String> = items.iter().filter(|v| truthy(v)).map(python_str).collect();
            if parts.is_empty() {
                format!("Minion {minion} returned an empty error list.")
            } else {
                format!("Minion {minion} returned errors: {}", parts.join("; "))
            }
        }
        Some(Value::Object(_)) => String::new(),
        Some(other) => format!(
            "Minion {minion} returned {} instead of a state result.",
            python_repr(other)
        ),
    }
}

fn with_jid(mut r: Map<String, Value>, jid: Option<&str>, warnings: &[String]) -> Value {
    if let Some(j) = jid {
        r.insert("__jid__".into(), j.into());
    }
    if !warnings.is_empty() {
        r.insert("warnings".into(), json!(warnings));
    }
    Value::Object(r)
}

/// A return that succeeded and says nothing yet, in Salt's key order.
fn blank_ret(name: &str) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("name".into(), name.into());
    r.insert("changes".into(), json!({}));
    r.insert("comment".into(), "".into());
    r.insert("result".into(), true.into());
    r
}

/// `salt.state`'s return from its minions' returns (in the order they came).
pub fn state_ret(plan: &JobPlan, jid: Option<&str>, returns: &[MinionReturn]) -> Value {
    let mut r = blank_ret(&plan.name);
    // Salt keeps the order returns came in; brine sorts by minion id, so the same run
    // always reads the same.
    let mut shown: Vec<&MinionReturn> = returns
        .iter()
        .filter(|m| m.ret.is_some() || plan.expect_minions)
        .collect();
    shown.sort_by(|a, b| a.id.cmp(&b.id));
    if shown.is_empty() && plan.expect_minions {
        r.insert("result".into(), false.into());
        r.insert("comment".into(), "No minions returned".into());
        return with_jid(r, None, &plan.warnings);
    }
    let mut changes = Map::new();
    let mut fail: Vec<String> = Vec::new();
    let mut detail: Vec<(String, String)> = Vec::new();
    let mut no_change: Vec<String> = Vec::new();
    for m in &shown {
        let ok = m.ret.as_ref().is_some_and(state_ok);
        if !ok {
            if !plan.fail_minions.contains(&m.id) {
                fail.push(m.id.clone());
                detail.push((m.id.clone(), failure_detail(&m.id, m.ret.as_ref())));
            }
            changes.insert(m.id.clone(), m.ret.clone().unwrap_or(false.into()));
            continue;
        }
        let ret = m.ret.clone().unwrap_or(Value::Null);
        let changed = ret.as_object().is_some_and(|states| {
            states
                .values()
                .any(|s| s.get("changes").is_some_and(truthy))
        });
        if changed {
            changes.insert(m.id.clone(), ret);
        } else {
            no_change.push(m.id.clone());
        }
    }
    if !changes.is_empty() {
        r.insert(
            "changes".into(),
            json!({"out": "highstate", "ret": Value::Object(changes.clone())}),
        );
    }
    // Salt joins sets (no stable order); brine sorts them.
    fail.sort();
    no_change.sort();
    if fail.len() > plan.allow_fail {
        r.insert("result".into(), false.into());
        let mut comment = format!("Run failed on minions: {}", fail.join(", "));
        detail.sort();
        let lines: Vec<&str> = detail
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(_, d)| d.as_str())
            .collect();
        if !lines.is_empty() {
            comment.push('\n');
            comment.push_str(&lines.join("\n"));
        }
        r.insert("comment".into(), comment.into());
    } else {
        let mut comment = String::from("States ran successfully.");
        if !changes.is_empty() {
            let ids: Vec<&str> = changes.keys().map(String::as_str).collect();
            comment.push_str(&format!(" Updating {}.", ids.join(", ")));
        }
        if !no_change.is_empty() {
            comment.push_str(&format!(" No changes made to {}.", no_change.join(", ")));
        }
        r.insert("comment".into(), comment.into());
    }
    if plan.test && !changes.is_empty() && r.get("result") == Some(&Value::Bool(true)) {
        r.insert("result".into(), Value::Null);
    }
    with_jid(r, jid, &plan.warnings)
}

/// `salt.function`'s return from its minions' returns; `failed(ret)` is the
/// `fail_function`'s verdict (true: the return is a failure).
pub fn function_ret(
    plan: &JobPlan,
    jid: Option<&str>,
    returns: &[MinionReturn],
    failed: &mut dyn FnMut(&Value) -> bool,
) -> Value {
    let mut r = blank_ret(&plan.name);
    let mut shown: Vec<&MinionReturn> = returns
        .iter()
        .filter(|m| m.ret.is_some() || plan.expect_minions)
        .collect();
    shown.sort_by(|a, b| a.id.cmp(&b.id));
    let mut changes = Map::new();
    let mut fail: Vec<String> = Vec::new();
    for m in &shown {
        if m.retcode != 0 {
            r.insert("result".into(), false.into());
            fail.push(m.id.clone());
        }
        let ok = match &m.ret {
            None => false,
            Some(Value::Bool(false)) => false,
            Some(v) => !failed(v),
        };
        if !ok && !plan.fail_minions.contains(&m.id) && !fail.contains(&m.id) {
            fail.push(m.id.clone());
        }
        changes.insert(m.id.clone(), m.ret.clone().unwrap_or(false.into()));
    }
    if shown.is_empty() {
        r.insert("result".into(), false.into());
        r.insert("comment".into(), "No minions responded".into());
        return with_jid(r, None, &plan.warnings);
    }
    r.insert(
        "changes".into(),
        json!({"ret": Value::Object(changes.clone())}),
    );
    fail.sort();
    let mut comment = if fail.is_empty() {
        "Function ran successfully.".to_string()
    } else {
        r.insert("result".into(), false.into());
        // Salt's wording has no full stop here.
        format!(
            "Running function {} failed on minions: {}",
            plan.name,
            fail.join(", ")
        )
    };
    let ran: Vec<&str> = changes.keys().map(String::as_str).collect();
    comment.push_str(&format!(
        " Function {} ran on {}.",
        plan.name,
        ran.join(", ")
    ));
    r.insert("comment".into(), comment.into());
    with_jid(r, jid, &plan.warnings)
}

/// A `salt.wait_for_event` step: what it watches for and what it has seen.
#[derive(Debug, Clone, PartialEq)]
pub struct EventWait {
    /// The step's name: an fnmatch pattern of tags.
    pub name: String,
    /// The ids still awaited.
    pub id_list: Vec<String>,
    /// The data key that carries an id.
    pub event_id: String,
    /// Seconds to wait.
    pub timeout: f64,
    /// The ids seen so far, in order.
    pub seen: Vec<String>,
}

/// `salt.wait_for_event`: what to watch for, or the return of a step that does not wait.
pub fn plan_wait(low: &Chunk, test_opt: bool) -> Result<EventWait, Value> {
    if let Some(r) = missing(low, "id_list", "salt.wait_for_event") {
        return Err(r);
    }
    let name = name_of(low);
    if test_opt {
        return Err(early(
            &name,
            Value::Null,
            &format!("Orchestration would wait for event '{name}'"),
        ));
    }
    let id_list = match arg(low, "id_list") {
        Some(Value::Array(a)) => a.iter().map(python_str).collect(),
        Some(other) => vec![python_str(other)],
        None => Vec::new(),
    };
    if let Some(node) = arg(low, "node").map(python_str).filter(|n| n != "master") {
        return Err(early(
            &name,
            false.into(),
            &format!("brine's master waits for events on its own bus only, not node '{node}'"),
        ));
    }
    let timeout = arg(low, "timeout")
        .and_then(|v| match v {
            Value::String(s) => s.trim().parse().ok(),
            other => other.as_f64(),
        })
        .filter(|t: &f64| t.is_finite() && *t >= 0.0)
        .unwrap_or(300.0);
    Ok(EventWait {
        name,
        id_list,
        event_id: arg(low, "event_id")
            .map(python_str)
            .unwrap_or_else(|| "id".into()),
        timeout,
        seen: Vec::new(),
    })
}

impl EventWait {
    /// Takes an event: the ids it names leave the list. True when none are left.
    pub fn event(&mut self, tag: &str, data: &Map<String, Value>) -> bool {
        if !crate::matcher::fnmatch(tag, &self.name) {
            return self.id_list.is_empty();
        }
        let val = data
            .get(&self.event_id)
            .filter(|v| !v.is_null())
            .or_else(|| {
                data.get("data")
                    .and_then(|d| d.get(&self.event_id))
                    .filter(|v| !v.is_null())
            });
        match val {
            Some(Value::Array(vals)) => {
                let names: Vec<String> = vals.iter().map(python_str).collect();
                let found: Vec<String> = self
                    .id_list
                    .iter()
                    .filter(|id| names.contains(id))
                    .cloned()
                    .collect();
                for f in found {
                    if let Some(i) = self.id_list.iter().position(|x| *x == f) {
                        self.id_list.remove(i);
                    }
                    self.seen.push(f);
                }
            }
            Some(v) => {
                let v = python_str(v);
                if let Some(i) = self.id_list.iter().position(|x| *x == v) {
                    self.id_list.remove(i);
                    self.seen.push(v);
                }
            }
            None => {}
        }
        self.id_list.is_empty()
    }

    /// The step's return: all seen after `secs`, or the timeout.
    pub fn ret(&self, secs: f64) -> Value {
        let mut changes = Map::new();
        if !self.seen.is_empty() {
            changes.insert("minions_seen".into(), json!(self.seen));
        }
        let (result, comment) = if self.id_list.is_empty() {
            (true, format!("All events seen in {secs} seconds."))
        } else {
            (false, "Timeout value reached.".to_string())
        };
        json!({"name": self.name, "changes": changes, "comment": comment, "result": result})
    }
}

/// `salt.runner` and `salt.wheel` in test mode: what would run.
pub fn call_test_ret(kind: &str, low: &Chunk) -> Value {
    let name = name_of(low);
    let label = if kind == "wheel" { "Wheel" } else { "Runner" };
    early(
        &name,
        Value::Null,
        &format!("{label} function '{name}' would be executed."),
    )
}

/// The keyword arguments a `salt.runner`/`salt.wheel` step passes on: the chunk's own,
/// without the state system's keys.
pub fn call_kwargs(low: &Chunk) -> Map<String, Value> {
    let mut kw = Map::new();
    for (k, v) in low {
        if k.starts_with("__")
            || matches!(
                k.as_str(),
                "name"
                    | "state"
                    | "fun"
                    | "order"
                    | "require"
                    | "require_in"
                    | "watch"
                    | "watch_in"
                    | "onchanges"
                    | "onchanges_in"
                    | "onfail"
                    | "onfail_in"
                    | "require_any"
                    | "watch_any"
                    | "onfail_any"
                    | "onchanges_any"
                    | "failhard"
                    | "fire_event"
                    | "retry"
                    | "onlyif"
                    | "unless"
                    | "creates"
                    | "check_cmd"
                    | "reload_modules"
                    | "reload_pillar"
                    | "reload_grains"
            )
        {
            continue;
        }
        kw.insert(k.clone(), v.clone());
    }
    kw
}

/// The `salt/run/<jid>/args` data of a `salt.runner`/`salt.wheel` step, as Salt's
/// `saltutil.runner`/`saltutil.wheel` fire it.
pub fn call_args_event(kind: &str, name: &str, kwarg: &Map<String, Value>) -> Map<String, Value> {
    let mut args = Map::new();
    args.insert("type".into(), kind.into());
    args.insert("name".into(), name.into());
    if kind == "wheel" {
        args.insert("args".into(), Value::Object(kwarg.clone()));
    } else {
        args.insert("args".into(), json!([]));
        args.insert("kwargs".into(), Value::Object(kwarg.clone()));
    }
    args
}

/// `salt.runner`/`salt.wheel`'s return from the call's return and success.
pub fn call_ret(kind: &str, low: &Chunk, ret: Value, success: bool, jid: Option<&str>) -> Value {
    let name = name_of(low);
    let success = success && !ret.as_object().is_some_and(|m| m.contains_key("Error"));
    let label = if kind == "wheel" { "Wheel" } else { "Runner" };
    let mut r = Map::new();
    r.insert("name".into(), name.clone().into());
    r.insert("changes".into(), json!({"return": ret}));
    r.insert("result".into(), success.into());
    r.insert(
        "comment".into(),
        format!(
            "{label} function '{name}' {}.",
            if success { "executed" } else { "failed" }
        )
        .into(),
    );
    with_jid(r, jid, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(v: Value) -> Chunk {
        v.as_object().cloned().unwrap_or_default()
    }

    fn back(id: &str, ret: Option<Value>, retcode: i64) -> MinionReturn {
        MinionReturn {
            id: id.into(),
            ret,
            retcode,
        }
    }

    #[test]
    fn state_plans_the_job_salt_publishes() {
        let p = plan_state(
            &chunk(json!({"name": "web", "tgt": "*", "sls": ["a", "b"], "pillar": {"x": 1}})),
            false,
            false,
        )
        .unwrap();
        assert_eq!(p.fun, "state.sls");
        assert_eq!(p.arg[0], json!("a,b"));
        assert_eq!(
            p.arg[1],
            json!({"pillar": {"x": 1}, "queue": false, "concurrent": false, "__kwarg__": true})
        );
        let e = plan_state(&chunk(json!({"name": "w", "tgt": "*"})), false, false).unwrap_err();
        assert_eq!(
            e["comment"],
            "No highstate or sls specified, no execution made"
        );
        let e = plan_state(
            &chunk(json!({"name": "w", "tgt": "*", "sls": "a", "allow_fail": "x"})),
            false,
            false,
        )
        .unwrap_err();
        assert_eq!(
            e["comment"],
            "Passed invalid value for 'allow_fail', must be an int"
        );
    }

    #[test]
    fn state_comments_as_salt() {
        let p = plan_state(
            &chunk(json!({"name": "w", "tgt": "*", "sls": "a"})),
            false,
            false,
        )
        .unwrap();
        let changed = json!({"t_|-a_|-a_|-x": {"result": true, "changes": {"k": 1}}});
        let same = json!({"t_|-a_|-a_|-x": {"result": true, "changes": {}}});
        let bad = json!({"t_|-a_|-a_|-x": {"result": false, "changes": {}}});
        let r = state_ret(
            &p,
            Some("j"),
            &[
                back("m2", Some(same.clone()), 0),
                back("m1", Some(changed), 0),
            ],
        );
        assert_eq!(
            r["comment"],
            "States ran successfully. Updating m1. No changes made to m2."
        );
        assert_eq!(r["changes"]["out"], "highstate");
        assert_eq!(r["__jid__"], "j");
        let r = state_ret(
            &p,
            Some("j"),
            &[back("m1", Some(bad), 2), back("m3", None, 0)],
        );
        assert_eq!(r["result"], false);
        assert_eq!(
            r["comment"],
            "Run failed on minions: m1, m3\nMinion m3 did not return a state result."
        );
        let r = state_ret(&p, None, &[]);
        assert_eq!(r["comment"], "No minions returned");
        let r = state_ret(&p, None, &[back("m1", Some(json!(["bad yaml"])), 1)]);
        assert_eq!(
            r["comment"],
            "Run failed on minions: m1\nMinion m1 returned errors: bad yaml"
        );
    }

    #[test]
    fn function_comments_as_salt() {
        let p = plan_function(
            &chunk(json!({"name": "cmd.run", "tgt": "*", "arg": ["exit 3"]})),
            false,
            false,
        )
        .unwrap();
        let mut never = |_: &Value| false;
        let r = function_ret(
            &p,
            Some("j"),
            &[
                back("m1", Some(json!("")), 3),
                back("m2", Some(json!("ok")), 0),
            ],
            &mut never,
        );
        assert_eq!(
            r["comment"],
            "Running function cmd.run failed on minions: m1 Function cmd.run ran on m1, m2."
        );
        let r = function_ret(&p, None, &[back("m1", None, 0)], &mut never);
        assert_eq!(r["comment"], "No minions responded");
        let e = plan_function(
            &chunk(json!({"name": "test.ping", "tgt": "m*"})),
            true,
            false,
        )
        .unwrap_err();
        assert_eq!(
            e["comment"],
            "Function test.ping would be executed on target m*"
        );
        assert_eq!(e["result"], Value::Null);
    }

    #[test]
    fn wait_for_event_takes_ids_from_data_or_nested_data() {
        let mut w = plan_wait(
            &chunk(json!({"name": "orch/*", "id_list": ["m1", "m2"], "timeout": 5})),
            false,
        )
        .unwrap();
        assert!(!w.event("other/x", json!({"id": "m1"}).as_object().unwrap()));
        assert!(!w.event("orch/ready", json!({"id": "m1"}).as_object().unwrap()));
        assert!(w.event(
            "orch/ready",
            json!({"data": {"id": ["m2", "m9"]}}).as_object().unwrap()
        ));
        assert_eq!(w.ret(1.5)["comment"], "All events seen in 1.5 seconds.");
        assert_eq!(w.ret(1.5)["changes"]["minions_seen"], json!(["m1", "m2"]));
    }
}
