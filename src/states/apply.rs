//! The `state.*` execution functions as Salt 3007's `salt/modules/state.py` has them:
//! `apply`, `sls`, `highstate`, `test`, `single`, `show_sls`, `show_low_sls`,
//! `show_lowstate`, `show_highstate`, `show_top`, each with its return (a dict of state
//! returns, or a list of error strings) and retcode (0, 1 compile error, 2 a state failed,
//! 5 pillar failed). Runs in a child process: everything here may block.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::compile::{self, Chunk};
use super::high::Builder;
use super::render::{
    render_sls, render_template, RenderCtx, SlsFile, DEFAULT_FUEL, DEFAULT_MAX_OUTPUT,
};
use super::run::{Exec, RunOpts, Runner};
use super::{modules, Ctx};
use crate::fileserver::Source;
use crate::pillar::Top;
use crate::py::python_str;

/// Salt's exit codes for a state run.
pub mod retcode {
    /// Compile errors, a refused concurrent run, bad arguments.
    pub const COMPILER_ERROR: i32 = 1;
    /// A state failed.
    pub const STATE_FAILURE: i32 = 2;
    /// The pillar did not render.
    pub const PILLAR_FAILURE: i32 = 5;
}

/// Everything a state function call needs from the minion.
pub struct Env<'a> {
    /// The minion id.
    pub id: &'a str,
    /// The job id (events carry it).
    pub jid: Option<&'a str>,
    /// The minion's grains.
    pub grains: &'a Map<String, Value>,
    /// The compiled pillar (with `_errors` when it failed).
    pub pillar: &'a Map<String, Value>,
    /// The minion's options as Salt's `opts`.
    pub opts: &'a Map<String, Value>,
    /// Masterless (no events).
    pub local: bool,
    /// `salt://` files.
    pub files: &'a mut dyn Source,
    /// Sends an event to the master.
    pub fire: &'a mut dyn FnMut(&str, Value),
}

/// A return and its retcode.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The function's return.
    pub ret: Value,
    /// The job's retcode.
    pub retcode: i32,
}

impl Outcome {
    fn errors(list: Vec<String>, retcode: i32) -> Outcome {
        Outcome {
            ret: Value::Array(list.into_iter().map(Value::String).collect()),
            retcode,
        }
    }
}

/// The `state.*` functions this module answers.
pub const FUNCTIONS: &[&str] = &[
    "state.apply",
    "state.sls",
    "state.highstate",
    "state.top",
    "state.test",
    "state.single",
    "state.show_sls",
    "state.show_low_sls",
    "state.show_lowstate",
    "state.show_highstate",
    "state.show_top",
];

/// The execution functions whose returns Salt prints with the highstate outputter (their
/// `__outputter__`), so a job return of one says `out: highstate`.
pub const HIGHSTATE_OUTPUT: &[&str] = &[
    "state.sls",
    "state.sls_id",
    "state.pkg",
    "state.top",
    "state.single",
    "state.highstate",
    "state.template",
    "state.template_str",
    "state.apply",
    "state.test",
    "state.request",
    "state.check_request",
    "state.run_request",
];

/// Functions that run states (and so take the state lock).
pub fn runs_states(fun: &str) -> bool {
    matches!(
        fun,
        "state.apply"
            | "state.sls"
            | "state.highstate"
            | "state.top"
            | "state.test"
            | "state.single"
    )
}

/// Salt's `split_input`: a comma-separated string or a list.
fn split_input(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(python_str).collect(),
        Value::Null => Vec::new(),
        other => python_str(other)
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

fn truthy_opt(v: Option<&Value>) -> Option<bool> {
    v.filter(|v| !v.is_null()).map(crate::py::truthy)
}

/// One call's settings, from its keyword arguments over the minion's options.
struct Call<'k> {
    kwargs: &'k Map<String, Value>,
    test: bool,
    saltenv: String,
    /// The top file a highstate reads (`state.top` names another).
    top: String,
}

impl<'k> Call<'k> {
    fn new(kwargs: &'k Map<String, Value>, opts: &Map<String, Value>) -> Call<'k> {
        let test = truthy_opt(kwargs.get("test"))
            .or_else(|| truthy_opt(opts.get("test")))
            .unwrap_or(false);
        let saltenv = kwargs
            .get("saltenv")
            .filter(|v| !v.is_null())
            .or_else(|| opts.get("saltenv").filter(|v| !v.is_null()))
            .map(python_str)
            .unwrap_or_else(|| "base".into());
        Call {
            kwargs,
            test,
            saltenv,
            top: "top.sls".into(),
        }
    }
}

/// Runs one `state.*` function.
pub fn call(fun: &str, args: &[Value], kwargs: &Map<String, Value>, env: &mut Env<'_>) -> Outcome {
    let pillar_over = match kwargs.get("pillar") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            return Outcome::errors(
                vec![
                "Pillar data must be formatted as a dictionary, unless pillar_enc is specified."
                    .into(),
            ],
                retcode::COMPILER_ERROR,
            )
        }
    };
    let pillar = match &pillar_over {
        Some(over) => crate::pillar::merge::merge_override(env.pillar, over),
        None => env.pillar.clone(),
    };
    if let Some(errs) = crate::pillar::render_errors(&pillar) {
        if fun != "state.show_top" && !kwargs.get("force").is_some_and(crate::py::truthy) {
            return Outcome::errors(errs, retcode::PILLAR_FAILURE);
        }
    }
    let arg = |i: usize, key: &str| kwargs.get(key).cloned().or_else(|| args.get(i).cloned());
    let c = Call::new(kwargs, env.opts);
    match fun {
        "state.apply" => match arg(0, "mods").filter(crate::py::truthy) {
            Some(mods) => sls(&split_input(&mods), &c, &pillar, env),
            None => highstate(&c, &pillar, env),
        },
        "state.test" => {
            let mut k = kwargs.clone();
            k.insert("test".into(), true.into());
            let c = Call::new(&k, env.opts);
            match arg(0, "mods").filter(crate::py::truthy) {
                Some(mods) => sls(&split_input(&mods), &c, &pillar, env),
                None => highstate(&c, &pillar, env),
            }
        }
        "state.sls" => match arg(0, "mods") {
            Some(mods) => sls(&split_input(&mods), &c, &pillar, env),
            None => highstate(&c, &pillar, env),
        },
        "state.highstate" => highstate(&c, &pillar, env),
        "state.top" => {
            let Some(topfn) = arg(0, "topfn").filter(crate::py::truthy) else {
                return Outcome::errors(
                    vec!["state.top needs a top file, as state.top salt://tops/web.sls".into()],
                    retcode::COMPILER_ERROR,
                );
            };
            let name = python_str(&topfn);
            let mut c = c;
            c.top = name.strip_prefix("salt://").unwrap_or(&name).to_string();
            highstate(&c, &pillar, env)
        }
        "state.single" => {
            let Some(f) = arg(0, "fun") else {
                return Outcome::errors(vec!["state.single needs a state function, as state.single pkg.installed name=vim".into()], retcode::COMPILER_ERROR);
            };
            let name = arg(1, "name").unwrap_or(Value::Null);
            single(&python_str(&f), name, &c, &pillar, env)
        }
        "state.show_sls" | "state.show_low_sls" => {
            let mods = split_input(&arg(0, "mods").unwrap_or(Value::Null));
            let matches = vec![(c.saltenv.clone(), mods)];
            let r = build(&matches, &pillar, &c, env);
            let mut errors = r.errors;
            let mut high = r.high;
            errors.extend(compile::verify_high(&high));
            if !errors.is_empty() {
                return Outcome::errors(errors, retcode::COMPILER_ERROR);
            }
            if fun == "state.show_sls" {
                return ok(Value::Object(high));
            }
            let chunks = compile::compile_high(&std::mem::take(&mut high));
            ok(Value::Array(
                chunks.into_iter().map(Value::Object).collect(),
            ))
        }
        "state.show_top" => match top_matches(&c, &pillar, env) {
            Ok(m) => {
                let mut out = Map::new();
                for (e, list) in m {
                    out.insert(
                        e,
                        Value::Array(list.into_iter().map(Value::String).collect()),
                    );
                }
                ok(Value::Object(out))
            }
            Err(errs) => Outcome::errors(errs, retcode::COMPILER_ERROR),
        },
        "state.show_highstate" | "state.show_lowstate" => {
            let matches = match top_matches(&c, &pillar, env) {
                Ok(m) => m,
                Err(errs) => return Outcome::errors(errs, retcode::COMPILER_ERROR),
            };
            let r = build(&matches, &pillar, &c, env);
            if fun == "state.show_highstate" {
                if !r.errors.is_empty() {
                    return Outcome::errors(r.errors, retcode::COMPILER_ERROR);
                }
                return ok(Value::Object(r.high));
            }
            match prepare(r.high, r.errors) {
                Ok(high) => {
                    let chunks = compile::compile_high(&high);
                    ok(Value::Array(
                        chunks.into_iter().map(Value::Object).collect(),
                    ))
                }
                Err(errs) => Outcome::errors(errs, retcode::COMPILER_ERROR),
            }
        }
        other => Outcome::errors(
            vec![format!("'{other}' is not a state function brine has")],
            retcode::COMPILER_ERROR,
        ),
    }
}

fn ok(ret: Value) -> Outcome {
    Outcome { ret, retcode: 0 }
}

fn build(
    matches: &[(String, Vec<String>)],
    pillar: &Map<String, Value>,
    c: &Call<'_>,
    env: &mut Env<'_>,
) -> super::high::Rendered {
    let rctx = RenderCtx {
        id: env.id,
        grains: env.grains,
        pillar,
        opts: env.opts,
        saltenv: &c.saltenv,
        fuel: DEFAULT_FUEL,
        max_output: DEFAULT_MAX_OUTPUT,
    };
    let auto = env
        .opts
        .get("state_auto_order")
        .map(crate::py::truthy)
        .unwrap_or(true);
    Builder::new(&mut *env.files, rctx, auto).render_highstate(matches)
}

/// Salt's `call_high` up to the chunks: extend, verify, requisite_in, exclude.
fn prepare(
    mut high: Map<String, Value>,
    mut errors: Vec<String>,
) -> Result<Map<String, Value>, Vec<String>> {
    if !errors.is_empty() {
        return Err(errors);
    }
    errors.extend(compile::reconcile_extend(&mut high, false));
    errors.extend(compile::verify_high(&high));
    if !errors.is_empty() {
        return Err(errors);
    }
    errors.extend(compile::requisite_in(&mut high));
    compile::apply_exclude(&mut high);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(high)
}

fn add_exclude(high: &mut Map<String, Value>, c: &Call<'_>) {
    let Some(ex) = c.kwargs.get("exclude").filter(|v| crate::py::truthy(v)) else {
        return;
    };
    let items: Vec<Value> = split_input(ex).into_iter().map(Value::String).collect();
    match high.get_mut("__exclude__") {
        Some(Value::Array(list)) => list.extend(items),
        _ => {
            high.insert("__exclude__".into(), Value::Array(items));
        }
    }
}

/// High data compiled to ordered chunks: what a run of it needs.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// The chunks, in run order.
    pub chunks: Vec<Chunk>,
    /// The SLS files rendered (`sls:` requisites look here).
    pub processed: BTreeSet<String>,
    /// The high data (`check_result` reads `onfail_stop` from it).
    pub high: Map<String, Value>,
}

/// `state.sls` up to its run, for the master's orchestration: MODS rendered with `kwargs`
/// (`saltenv`, `pillar`, `exclude`, `test`), extended, verified and compiled; or Salt's
/// error list.
pub fn compile_sls(
    mods: &Value,
    kwargs: &Map<String, Value>,
    env: &mut Env<'_>,
) -> Result<Compiled, Vec<String>> {
    let c = Call::new(kwargs, env.opts);
    let pillar = env.pillar.clone();
    let matches = vec![(c.saltenv.clone(), split_input(mods))];
    let r = build(&matches, &pillar, &c, env);
    if !r.errors.is_empty() {
        return Err(r.errors);
    }
    let mut high = r.high;
    add_exclude(&mut high, &c);
    let high = prepare(high, Vec::new())?;
    Ok(Compiled {
        chunks: compile::compile_high(&high),
        processed: r.processed,
        high,
    })
}

/// One state function with the environment's context, outside a run (an orchestration
/// step on the master that may block: it runs off the master's loop).
pub fn call_state(state: &str, fun: &str, low: &Chunk, test: bool, env: &mut Env<'_>) -> Value {
    let mut exec = ModExec {
        id: env.id,
        grains: env.grains,
        pillar: env.pillar,
        opts: env.opts,
        files: &mut *env.files,
        fire: &mut *env.fire,
    };
    exec.call(state, fun, low, test)
}

/// The exit status of an `onlyif`/`unless` command run as a state run would run it.
pub fn command_retcode(cmd: &str, low: &Chunk, grains: &Map<String, Value>) -> Option<i32> {
    let opts = modules::cmd::cmd_opts(grains, low);
    super::command::run(cmd, &opts).ok().map(|o| o.retcode)
}

/// `state.sls`.
fn sls(mods: &[String], c: &Call<'_>, pillar: &Map<String, Value>, env: &mut Env<'_>) -> Outcome {
    let matches = vec![(c.saltenv.clone(), mods.to_vec())];
    let r = build(&matches, pillar, c, env);
    if !r.errors.is_empty() {
        return Outcome::errors(r.errors, retcode::COMPILER_ERROR);
    }
    let mut high = r.high;
    add_exclude(&mut high, c);
    run_high(high, r.processed, c, pillar, env)
}

/// `state.highstate`.
fn highstate(c: &Call<'_>, pillar: &Map<String, Value>, env: &mut Env<'_>) -> Outcome {
    let matches = match top_matches(c, pillar, env) {
        Ok(m) => m,
        Err(errs) => return Outcome::errors(errs, retcode::COMPILER_ERROR),
    };
    let none = |comment: &str| {
        let mut m = Map::new();
        m.insert(
            "no_|-states_|-states_|-None".into(),
            serde_json::json!({"result": false, "comment": comment, "name": "No States",
                               "changes": {}, "__run_num__": 0}),
        );
        Outcome {
            ret: Value::Object(m),
            retcode: retcode::STATE_FAILURE,
        }
    };
    if matches.is_empty() {
        return none(
            "No Top file or master_tops data matches found. Please see master log for details.",
        );
    }
    let r = build(&matches, pillar, c, env);
    if !r.errors.is_empty() {
        return Outcome::errors(r.errors, retcode::COMPILER_ERROR);
    }
    let mut high = r.high;
    add_exclude(&mut high, c);
    if high.is_empty() {
        return none("No states found for this minion");
    }
    run_high(high, r.processed, c, pillar, env)
}

/// The top file's SLS names for this minion, per saltenv.
fn top_matches(
    c: &Call<'_>,
    pillar: &Map<String, Value>,
    env: &mut Env<'_>,
) -> Result<Vec<(String, Vec<String>)>, Vec<String>> {
    // Salt reads the top file of every saltenv (base first) unless the run names one.
    let envs = if c.kwargs.get("saltenv").is_some()
        || env.opts.get("saltenv").is_some_and(|v| !v.is_null())
    {
        vec![c.saltenv.clone()]
    } else {
        let mut all = env.files.envs().unwrap_or_else(|e| {
            log::warn!("listing the saltenvs: {e}");
            Vec::new()
        });
        all.retain(|e| e != "base");
        all.insert(0, "base".to_string());
        all
    };
    let mut tops = Vec::new();
    let mut base_sections: Vec<String> = Vec::new();
    for e in &envs {
        let path = match env.files.get(e, &c.top) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(err) => {
                return Err(vec![format!(
                    "Unable to fetch the top file of saltenv {e}: {err}"
                )])
            }
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|err| vec![format!("{}: {err}", path.display())])?;
        let rctx = RenderCtx {
            id: env.id,
            grains: env.grains,
            pillar,
            opts: env.opts,
            saltenv: e,
            fuel: DEFAULT_FUEL,
            max_output: DEFAULT_MAX_OUTPUT,
        };
        let file = SlsFile {
            sls: "top",
            rel: "top.sls",
            path: &path,
        };
        let entries = render_sls(file, &text, &rctx)
            .map_err(|err| vec![format!("Rendering SLS '{e}:top' failed: {err}")])?;
        let mut m = Map::new();
        for en in entries {
            m.insert(en.key, en.value);
        }
        if e == "base" {
            base_sections = m.keys().cloned().collect();
        } else {
            // Salt's default top_file_merging_strategy (merge): another saltenv's top file
            // speaks only for that saltenv, and only when base's top did not.
            let base_has = base_sections.iter().any(|s| s == e);
            m.retain(|k, _| k == e && !base_has);
        }
        tops.push(m);
    }
    let top = Top::merge(&tops).map_err(|_| {
        vec!["Top file is malformed: expected {saltenv: {target: [sls, ...]}}".to_string()]
    })?;
    let nodegroups = env.opts.get("nodegroups").cloned().unwrap_or(Value::Null);
    let only = c.kwargs.get("saltenv").map(python_str);
    Ok(top.matches(env.id, env.grains, &nodegroups, only.as_deref()))
}

/// `state.single`: one state function, outside any SLS.
fn single(
    fun: &str,
    name: Value,
    c: &Call<'_>,
    pillar: &Map<String, Value>,
    env: &mut Env<'_>,
) -> Outcome {
    let Some((state, f)) = fun.split_once('.') else {
        return Outcome {
            ret: "Invalid function passed".into(),
            retcode: retcode::COMPILER_ERROR,
        };
    };
    let mut low = Chunk::new();
    for (k, v) in c.kwargs {
        if k.starts_with("__pub_")
            || matches!(
                k.as_str(),
                "test" | "queue" | "concurrent" | "pillar" | "saltenv"
            )
        {
            continue;
        }
        low.insert(k.clone(), v.clone());
    }
    low.insert("state".into(), state.into());
    low.insert("fun".into(), f.into());
    low.insert("__id__".into(), name.clone());
    low.insert("name".into(), name);
    low.insert("__env__".into(), c.saltenv.clone().into());
    let ret = run_chunks(vec![low], BTreeSet::new(), c, pillar, env);
    let code = if check_result(&ret, None) {
        0
    } else {
        retcode::STATE_FAILURE
    };
    Outcome {
        ret: Value::Object(ret),
        retcode: code,
    }
}

fn run_high(
    high: Map<String, Value>,
    processed: BTreeSet<String>,
    c: &Call<'_>,
    pillar: &Map<String, Value>,
    env: &mut Env<'_>,
) -> Outcome {
    let high = match prepare(high, Vec::new()) {
        Ok(h) => h,
        Err(errs) => return Outcome::errors(errs, retcode::COMPILER_ERROR),
    };
    let chunks = compile::compile_high(&high);
    let ret = run_chunks(chunks, processed, c, pillar, env);
    let code = if check_result(&ret, Some(&high)) {
        0
    } else {
        retcode::STATE_FAILURE
    };
    Outcome {
        ret: Value::Object(ret),
        retcode: code,
    }
}

fn run_chunks(
    chunks: Vec<Chunk>,
    processed: BTreeSet<String>,
    c: &Call<'_>,
    pillar: &Map<String, Value>,
    env: &mut Env<'_>,
) -> Map<String, Value> {
    let opt = |k: &str| env.opts.get(k).map(crate::py::truthy).unwrap_or(false);
    let state_events =
        truthy_opt(c.kwargs.get("state_events")).unwrap_or_else(|| opt("state_events"));
    let opts = RunOpts {
        test: c.test,
        failhard: opt("failhard"),
        state_events,
        jid: env.jid.map(str::to_string),
        id: env.id.to_string(),
        local: env.local,
    };
    let mut exec = ModExec {
        id: env.id,
        grains: env.grains,
        pillar,
        opts: env.opts,
        files: &mut *env.files,
        fire: &mut *env.fire,
    };
    Runner::new(chunks, processed, opts, &mut exec).run()
}

/// Salt's `check_result`: false when a state failed, unless an `onfail_stop: False`
/// handler of it succeeded.
pub fn check_result(running: &Map<String, Value>, high: Option<&Map<String, Value>>) -> bool {
    if running.is_empty() {
        return false;
    }
    for (tag, r) in running {
        if r.get("result") != Some(&Value::Bool(false)) {
            continue;
        }
        let handled = high.is_some_and(|h| onfail_handled(tag, r, running, h));
        if !handled {
            return false;
        }
    }
    true
}

fn onfail_handled(
    tag: &str,
    _r: &Value,
    running: &Map<String, Value>,
    high: &Map<String, Value>,
) -> bool {
    let parts: Vec<&str> = tag.split("_|-").collect();
    let (state, id) = match parts.as_slice() {
        [s, i, _, _] => (*s, *i),
        _ => return false,
    };
    let mut handlers = Vec::new();
    for (fid, body) in high {
        if fid == id {
            continue;
        }
        for (module, args) in body.as_object().into_iter().flatten() {
            let Some(args) = args.as_array().filter(|_| !module.starts_with("__")) else {
                continue;
            };
            let stop_off = args
                .iter()
                .any(|a| a.get("onfail_stop") == Some(&Value::Bool(false)));
            if !stop_off {
                continue;
            }
            let names_me = args
                .iter()
                .filter_map(|a| a.get("onfail"))
                .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                .any(|req| {
                    req.as_object().is_some_and(|m| {
                        m.iter().any(|(k, v)| v.as_str() == Some(id) && k == state)
                    })
                });
            if names_me {
                handlers.push((fid.clone(), module.clone()));
            }
        }
    }
    if handlers.is_empty() {
        return false;
    }
    let mut nret = None;
    for (fid, module) in handlers {
        for (rtag, rr) in running {
            let p: Vec<&str> = rtag.split("_|-").collect();
            if p.len() == 4 && p[0] == module && p[1] == fid {
                if let Some(Value::Bool(b)) = rr.get("result") {
                    nret = Some(*b);
                    if !b {
                        return false;
                    }
                }
            }
        }
    }
    nret.unwrap_or(false)
}

/// The state functions of `modules`, run with a [`Ctx`] per call.
struct ModExec<'e> {
    id: &'e str,
    grains: &'e Map<String, Value>,
    pillar: &'e Map<String, Value>,
    opts: &'e Map<String, Value>,
    files: &'e mut dyn Source,
    fire: &'e mut dyn FnMut(&str, Value),
}

impl Exec for ModExec<'_> {
    fn exists(&self, state: &str, fun: &str) -> bool {
        if fun == "mod_watch" {
            return modules::mod_watch(state).is_some();
        }
        modules::find(state, fun).is_some()
    }

    fn call(&mut self, state: &str, fun: &str, args: &Chunk, test: bool) -> Value {
        let f = if fun == "mod_watch" {
            modules::mod_watch(state)
        } else {
            modules::find(state, fun)
        };
        let Some(f) = f else {
            return super::ret(
                &python_str(args.get("name").unwrap_or(&Value::Null)),
                Some(false),
                format!("State '{state}.{fun}' was not found"),
                Map::new(),
            );
        };
        let saltenv = args
            .get("saltenv")
            .or_else(|| args.get("__env__"))
            .map(python_str)
            .unwrap_or_else(|| "base".into());
        let rctx = RenderCtx {
            id: self.id,
            grains: self.grains,
            pillar: self.pillar,
            opts: self.opts,
            saltenv: &saltenv,
            fuel: DEFAULT_FUEL,
            max_output: DEFAULT_MAX_OUTPUT,
        };
        let mut render = |text: &str, vars: &Map<String, Value>| {
            render_template("template", text, vars, &rctx).map_err(|e| e.to_string())
        };
        let mut ctx = Ctx {
            test,
            id: self.id,
            saltenv: &saltenv,
            grains: self.grains,
            pillar: self.pillar,
            opts: self.opts,
            files: &mut *self.files,
            render: &mut render,
        };
        f(&mut ctx, args)
    }

    fn has_mod_watch(&self, state: &str) -> bool {
        modules::mod_watch(state).is_some()
    }

    fn retcode(&mut self, cmd: &str, low: &Chunk) -> Option<i32> {
        command_retcode(cmd, low, self.grains)
    }

    fn fire(&mut self, tag: &str, data: Value) {
        (self.fire)(tag, data)
    }
}
