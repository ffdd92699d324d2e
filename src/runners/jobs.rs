//! The `jobs` runner: Salt's `jobs.*` functions over the master's job cache (salt-spec §3).
//!
//! Each function is a pure function of a [`JobCache`] and its arguments, returning the map
//! Salt's `salt/runners/jobs.py` returns over `local_cache`, with the same key names, defaults
//! and shapes; the `run_*` wrappers read the bound arguments and reach the cache through
//! [`JobsContext`].

use super::dates::parse_time;
use super::{Context, Default, Exec, Outcome, Param, Runner};
use crate::jobs::{is_jid, jid_to_time, JobCache};
use crate::matcher::fnmatch;
use crate::py::truthy;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::time::SystemTime;

/// What the jobs runners need from the master, beyond what every runner gets.
pub trait JobsContext {
    /// The master's job cache, `None` when it could not be opened.
    fn job_cache(&self) -> Option<&JobCache>;
    /// The jobs the master knows to be still running on some minions (for `jobs.active`).
    fn active_jobs(&self) -> Vec<ActiveJob>;
}

/// A job still running on some minions, as the master's find_job checks last saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct ActiveJob {
    /// The job's jid.
    pub jid: String,
    /// Its publish load (`fun`, `arg`, `tgt`, `tgt_type`, `user`, ...).
    pub load: Map<String, Value>,
    /// The minions still running it, each with the pid it reported if known.
    pub running: Vec<(String, Option<u64>)>,
}

/// Salt's message for a jid the cache does not have.
const NO_JOB: &str = "Cannot contact returner or no job with this jid";

/// What lookup_jid puts in for a targeted minion that has not returned.
const DID_NOT_RETURN: &str = "Minion did not return";

/// Python's `str()` of an argument: a jid typed on the command line may arrive as a number.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => crate::py::python_str(other),
    }
}

/// Python's `list(x)` for a load's `arg`: a list stays, a string gives its characters, a map
/// its keys; anything else (which Python would refuse) gives an empty list.
fn py_list(v: &Value) -> Value {
    Value::Array(match v {
        Value::Array(a) => a.clone(),
        Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        Value::Object(m) => m.keys().map(|k| Value::String(k.clone())).collect(),
        _ => Vec::new(),
    })
}

/// The targeted minions of a load, sorted and without repeats (Salt's `Minions`).
fn targeted(load: &Map<String, Value>) -> Vec<String> {
    let set: BTreeSet<String> = match load.get("minions") {
        Some(Value::Array(a)) => a.iter().map(text).collect(),
        _ => BTreeSet::new(),
    };
    set.into_iter().collect()
}

/// Salt's `_format_jid_instance`: the summary of a job's load plus its `StartTime`.
/// `with_minions` adds `Minions` as `list_job` does (from `get_load`); `list_jobs` does not.
fn jid_instance(
    jid: &str,
    load: Option<&Map<String, Value>>,
    with_minions: bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    match load.filter(|l| !l.is_empty()) {
        None => {
            out.insert("Error".into(), NO_JOB.into());
        }
        Some(load) => {
            let or = |key: &str, default: &str| {
                load.get(key)
                    .cloned()
                    .unwrap_or_else(|| Value::String(default.into()))
            };
            out.insert("Function".into(), or("fun", "unknown-function"));
            let args = load.get("arg").map(py_list).unwrap_or(Value::Array(vec![]));
            out.insert("Arguments".into(), args);
            out.insert("Target".into(), or("tgt", "unknown-target"));
            out.insert("Target-type".into(), or("tgt_type", "list"));
            out.insert("User".into(), or("user", "root"));
            let metadata = match load.get("metadata") {
                Some(m) => Some(m.clone()),
                None => load
                    .get("kwargs")
                    .and_then(Value::as_object)
                    .and_then(|k| k.get("metadata"))
                    .cloned(),
            };
            if let Some(m) = metadata {
                out.insert("Metadata".into(), m);
            }
            let minions = targeted(load);
            if with_minions && !minions.is_empty() {
                out.insert("Minions".into(), minions.into());
            }
        }
    }
    out.insert("StartTime".into(), jid_to_time(jid).into());
    out
}

/// The `Result` map of `list_job`: each returned minion's record (`return`, `retcode`,
/// `success`, `out`) by minion id.
fn results(cache: &JobCache, jid: &str) -> Result<Map<String, Value>, String> {
    let returns = cache.returns(jid).map_err(|e| e.to_string())?;
    Ok(returns
        .into_iter()
        .map(|(id, record)| (id, Value::Object(record)))
        .collect())
}

/// `jobs.list_job JID`: `{jid, Function, Arguments, Target, Target-type, User, [Metadata],
/// [Minions], StartTime, Result: {minion: {return, ...}}}`.
pub fn list_job(cache: &JobCache, jid: &str) -> Result<Value, String> {
    let load = cache.load(jid).map_err(|e| e.to_string())?;
    let mut out = Map::new();
    out.insert("jid".into(), jid.into());
    out.extend(jid_instance(jid, load.as_ref(), true));
    out.insert("Result".into(), Value::Object(results(cache, jid)?));
    Ok(Value::Object(out))
}

/// `jobs.print_job JID`: `{jid: {Function, ..., StartTime, Result}}`.
pub fn print_job(cache: &JobCache, jid: &str) -> Result<Value, String> {
    let load = cache.load(jid).map_err(|e| e.to_string())?;
    let mut job = jid_instance(jid, load.as_ref(), true);
    job.insert("Result".into(), Value::Object(results(cache, jid)?));
    let mut out = Map::new();
    out.insert(jid.into(), Value::Object(job));
    Ok(Value::Object(out))
}

/// `jobs.lookup_jid JID [returned=True] [missing=False]`: `{minion: return}`; with `missing`,
/// targeted minions without a return read "Minion did not return"; when the returns carry an
/// outputter (`out`), `{"outputter": out, "data": {...}}` so the CLI prints with it.
pub fn lookup_jid(
    cache: &JobCache,
    jid: &str,
    returned: bool,
    missing: bool,
) -> Result<Value, String> {
    let load = cache.load(jid).map_err(|e| e.to_string())?;
    let returns = cache.returns(jid).map_err(|e| e.to_string())?;
    let mut ret = Map::new();
    if returned {
        for (id, record) in &returns {
            ret.insert(
                id.clone(),
                record.get("return").cloned().unwrap_or(Value::Null),
            );
        }
    }
    if missing {
        for id in load.as_ref().map(targeted).unwrap_or_default() {
            if !returns.iter().any(|(r, _)| *r == id) {
                ret.insert(id, DID_NOT_RETURN.into());
            }
        }
    }
    // Salt takes the outputter of the first return only (ours: the first by minion id).
    let outputter = returns
        .first()
        .and_then(|(_, record)| record.get("out"))
        .filter(|out| truthy(out));
    Ok(match outputter {
        Some(out) => {
            let mut wrapped = Map::new();
            wrapped.insert("outputter".into(), out.clone());
            wrapped.insert("data".into(), Value::Object(ret));
            Value::Object(wrapped)
        }
        None => Value::Object(ret),
    })
}

/// Whether one stored return counts as a success: its `success` flag, else `retcode == 0`
/// (all of them for a multi-function job), else Python truth of the return value.
fn succeeded(record: &Map<String, Value>) -> bool {
    fn all(v: &Value, each: fn(&Value) -> bool) -> bool {
        match v {
            Value::Object(m) => m.values().all(each),
            Value::Array(a) => a.iter().all(each),
            v => each(v),
        }
    }
    if let Some(success) = record.get("success") {
        return all(success, |v| v.as_bool() == Some(true));
    }
    if let Some(retcode) = record.get("retcode") {
        return all(retcode, |v| v.as_i64() == Some(0));
    }
    record.get("return").is_some_and(truthy)
}

/// `jobs.exit_success JID`: `{minion: bool}` for every targeted or returned minion; a minion
/// succeeded when its stored return says so (a minion without a return did not).
pub fn exit_success(cache: &JobCache, jid: &str) -> Result<Value, String> {
    let load = cache.load(jid).map_err(|e| e.to_string())?;
    let returns = cache.returns(jid).map_err(|e| e.to_string())?;
    let mut out = Map::new();
    for id in load.as_ref().map(targeted).unwrap_or_default() {
        out.insert(id, false.into());
    }
    for (id, record) in &returns {
        out.insert(id.clone(), succeeded(record).into());
    }
    Ok(Value::Object(out))
}

/// The filters of `jobs.list_jobs`, each `Null` when not given (Salt's parameter names).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobSearch {
    /// `outputter`: wraps the result as `{"outputter": ..., "data": ...}`.
    pub outputter: Value,
    /// `search_metadata`: a map; a job matches when any of its pairs is in its `Metadata`.
    pub search_metadata: Value,
    /// `search_function`: globs (a list or a comma-separated string) for `Function`.
    pub search_function: Value,
    /// `search_target`: globs (a list or a comma-separated string) for `Target`.
    pub search_target: Value,
    /// `start_time`: jobs that started at or after this time.
    pub start_time: Value,
    /// `end_time`: jobs that started at or before this time.
    pub end_time: Value,
}

/// Salt's `split_input`: a list as it is, anything else split on commas and stripped.
fn split_input(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(text).collect(),
        other => text(other)
            .split(',')
            .map(|s| s.trim().to_owned())
            .collect(),
    }
}

/// True when `field` (a string, or a list of them) matches any of the globs.
fn field_matches(field: Option<&Value>, globs: &[String]) -> bool {
    let names: Vec<String> = match field {
        Some(Value::Array(a)) => a.iter().map(text).collect(),
        Some(v) => vec![text(v)],
        None => return false,
    };
    names
        .iter()
        .any(|name| globs.iter().any(|g| fnmatch(name, g)))
}

/// The time of a jid as a comparable number (its first 20 digits).
pub(super) fn jid_time(jid: &str) -> Option<u128> {
    if is_jid(jid) {
        jid[..20].parse().ok()
    } else {
        None
    }
}

/// `jobs.list_jobs [search_metadata] [search_function] [search_target] [start_time]
/// [end_time]`: `{jid: {Function, Arguments, Target, Target-type, User, [Metadata],
/// StartTime}}` for the jobs matching every filter given, oldest first. `now` fills in the
/// date of a time given without one, as dateutil does.
pub fn list_jobs(cache: &JobCache, search: &JobSearch, now: SystemTime) -> Result<Value, String> {
    let start = match &search.start_time {
        v if truthy(v) => Some(parse_time(&text(v), now)?),
        _ => None,
    };
    let end = match &search.end_time {
        v if truthy(v) => Some(parse_time(&text(v), now)?),
        _ => None,
    };
    let functions = truthy(&search.search_function).then(|| split_input(&search.search_function));
    let targets = truthy(&search.search_target).then(|| split_input(&search.search_target));
    let metadata = match &search.search_metadata {
        Value::Object(m) if !m.is_empty() => Some(m),
        v if truthy(v) => {
            log::info!("jobs.list_jobs: search_metadata must be a map; ignoring it");
            None
        }
        _ => None,
    };
    let mut out = Map::new();
    for (jid, load) in cache.loads().map_err(|e| e.to_string())? {
        let job = jid_instance(&jid, Some(&load), false);
        if let Some(wanted) = metadata {
            let have = job.get("Metadata").and_then(Value::as_object);
            let any = have.is_some_and(|have| wanted.iter().any(|(k, v)| have.get(k) == Some(v)));
            if !any {
                continue;
            }
        }
        if let Some(globs) = &targets {
            if !field_matches(job.get("Target"), globs) {
                continue;
            }
        }
        if let Some(globs) = &functions {
            if !field_matches(job.get("Function"), globs) {
                continue;
            }
        }
        // A bound given excludes a job whose start time cannot be read.
        let started = jid_time(&jid);
        let after_start = start.is_none_or(|s| started.is_some_and(|t| t >= s));
        let before_end = end.is_none_or(|e| started.is_some_and(|t| t <= e));
        if !(after_start && before_end) {
            continue;
        }
        out.insert(jid, Value::Object(job));
    }
    Ok(if truthy(&search.outputter) {
        let mut wrapped = Map::new();
        wrapped.insert("outputter".into(), search.outputter.clone());
        wrapped.insert("data".into(), Value::Object(out));
        Value::Object(wrapped)
    } else {
        Value::Object(out)
    })
}

/// `jobs.active`: `{jid: {Function, Arguments, Target, Target-type, User, StartTime,
/// Running: [{minion: pid}], Returned: [minion]}}` for the jobs the master knows are running.
pub fn active(cache: &JobCache, jobs: &[ActiveJob]) -> Result<Value, String> {
    let mut out = Map::new();
    for job in jobs {
        let entry = out.entry(job.jid.clone()).or_insert_with(|| {
            let mut j = jid_instance(&job.jid, Some(&job.load), false);
            j.insert("Running".into(), Value::Array(Vec::new()));
            j.insert("Returned".into(), Value::Array(Vec::new()));
            Value::Object(j)
        });
        if let Some(Value::Array(running)) = entry.get_mut("Running") {
            for (id, pid) in &job.running {
                let mut m = Map::new();
                m.insert(id.clone(), pid.map_or(Value::Null, Value::from));
                running.push(Value::Object(m));
            }
        }
    }
    for (jid, entry) in out.iter_mut() {
        let returned: Vec<Value> = cache
            .returns(jid)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(id, _)| Value::String(id))
            .collect();
        if let Some(slot) = entry.get_mut("Returned") {
            *slot = Value::Array(returned);
        }
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------------
// The runner table entries.

const JID: Param = Param {
    name: "jid",
    default: Default::Required,
};
const EXT_SOURCE: Param = Param {
    name: "ext_source",
    default: Default::Null,
};
const DISPLAY_PROGRESS: Param = Param {
    name: "display_progress",
    default: Default::Bool(false),
};

/// `jobs.active [display_progress]`.
pub const ACTIVE: Runner = Runner {
    name: "jobs.active",
    params: &[DISPLAY_PROGRESS],
    doc: "Report the jobs still running on minions: their function, target, start time, the minions running them (with pids) and those that returned.",
    exec: Exec::Master(run_active),
};

/// `jobs.exit_success JID [ext_source]`.
pub const EXIT_SUCCESS: Runner = Runner {
    name: "jobs.exit_success",
    params: &[JID, EXT_SOURCE],
    doc: "For each minion targeted by or returning for job JID, whether it returned successfully (its success flag, else retcode 0).",
    exec: Exec::Master(run_exit_success),
};

/// `jobs.list_job JID [ext_source] [display_progress]`.
pub const LIST_JOB: Runner = Runner {
    name: "jobs.list_job",
    params: &[JID, EXT_SOURCE, DISPLAY_PROGRESS],
    doc: "Show job JID from the job cache: jid, Function, Arguments, Target, Target-type, User, Minions, StartTime and each minion's Result.",
    exec: Exec::Master(run_list_job),
};

/// `jobs.list_jobs [ext_source] [outputter] [search_metadata] [search_function]
/// [search_target] [start_time] [end_time] [display_progress]`.
pub const LIST_JOBS: Runner = Runner {
    name: "jobs.list_jobs",
    params: &[
        EXT_SOURCE,
        Param {
            name: "outputter",
            default: Default::Null,
        },
        Param {
            name: "search_metadata",
            default: Default::Null,
        },
        Param {
            name: "search_function",
            default: Default::Null,
        },
        Param {
            name: "search_target",
            default: Default::Null,
        },
        Param {
            name: "start_time",
            default: Default::Null,
        },
        Param {
            name: "end_time",
            default: Default::Null,
        },
        DISPLAY_PROGRESS,
    ],
    doc: "List the cached jobs by jid, filtered by SEARCH_FUNCTION and SEARCH_TARGET globs (list or comma-separated), SEARCH_METADATA, START_TIME and END_TIME.",
    exec: Exec::Master(run_list_jobs),
};

/// `jobs.lookup_jid JID [ext_source] [returned] [missing] [display_progress]`.
pub const LOOKUP_JID: Runner = Runner {
    name: "jobs.lookup_jid",
    params: &[
        JID,
        EXT_SOURCE,
        Param {
            name: "returned",
            default: Default::Bool(true),
        },
        Param {
            name: "missing",
            default: Default::Bool(false),
        },
        DISPLAY_PROGRESS,
    ],
    doc: "Print the returns of job JID by minion; missing=True adds targeted minions that did not return.",
    exec: Exec::Master(run_lookup_jid),
};

/// `jobs.print_job JID [ext_source]`.
pub const PRINT_JOB: Runner = Runner {
    name: "jobs.print_job",
    params: &[JID, EXT_SOURCE],
    doc: "Show job JID with its returns, keyed by the jid.",
    exec: Exec::Master(run_print_job),
};

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

/// brine has one job cache; naming Salt's default returner is fine, any other is an error.
fn check_ext_source(v: &Value) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::String(s) if s == "local_cache" => Ok(()),
        other => Err(format!(
            "ext_source {} is not available: brine keeps one job cache (local_cache)",
            crate::py::python_repr(other)
        )),
    }
}

/// Runs `f` over the job cache, turning errors into Salt's runner exception.
fn with_cache(
    cache: Option<&JobCache>,
    fun: &str,
    ext_source: &Value,
    f: impl FnOnce(&JobCache) -> Result<Value, String>,
) -> Outcome {
    if let Err(e) = check_ext_source(ext_source) {
        return Outcome::exception(fun, &e);
    }
    match cache {
        None => Outcome::exception(fun, "the master's job cache is not available"),
        Some(cache) => match f(cache) {
            Ok(v) => Outcome::ok(v),
            Err(e) => Outcome::exception(fun, &e),
        },
    }
}

// Each runner in two steps: `run_*` asks the context for what it holds, `exec_*` works on
// the bound arguments alone (and is what the tests drive).

fn run_lookup_jid(ctx: &mut dyn Context, args: &[Value]) -> Outcome {
    exec_lookup_jid(ctx.job_cache(), args)
}

fn exec_lookup_jid(cache: Option<&JobCache>, args: &[Value]) -> Outcome {
    let jid = text(arg(args, 0));
    let (returned, missing) = (truthy(arg(args, 2)), truthy(arg(args, 3)));
    with_cache(cache, LOOKUP_JID.name, arg(args, 1), |c| {
        lookup_jid(c, &jid, returned, missing)
    })
}

fn run_list_job(ctx: &mut dyn Context, args: &[Value]) -> Outcome {
    exec_list_job(ctx.job_cache(), args)
}

fn exec_list_job(cache: Option<&JobCache>, args: &[Value]) -> Outcome {
    let jid = text(arg(args, 0));
    with_cache(cache, LIST_JOB.name, arg(args, 1), |c| list_job(c, &jid))
}

fn run_print_job(ctx: &mut dyn Context, args: &[Value]) -> Outcome {
    exec_print_job(ctx.job_cache(), args)
}

fn exec_print_job(cache: Option<&JobCache>, args: &[Value]) -> Outcome {
    let jid = text(arg(args, 0));
    with_cache(cache, PRINT_JOB.name, arg(args, 1), |c| print_job(c, &jid))
}

fn run_exit_success(ctx: &mut dyn Context, args: &[Value]) -> Outcome {
    exec_exit_success(ctx.job_cache(), args)
}

fn exec_exit_success(cache: Option<&JobCache>, args: &[Value]) -> Outcome {
    let jid = text(arg(args, 0));
    with_cache(cache, EXIT_SUCCESS.name, arg(args, 1), |c| {
        exit_success(c, &jid)
    })
}

fn run_list_jobs(ctx: &mut dyn Context, args: &[Value]) -> Outcome {
    let now = ctx.now();
    exec_list_jobs(ctx.job_cache(), args, now)
}

fn exec_list_jobs(cache: Option<&JobCache>, args: &[Value], now: SystemTime) -> Outcome {
    let search = JobSearch {
        outputter: arg(args, 1).clone(),
        search_metadata: arg(args, 2).clone(),
        search_function: arg(args, 3).clone(),
        search_target: arg(args, 4).clone(),
        start_time: arg(args, 5).clone(),
        end_time: arg(args, 6).clone(),
    };
    with_cache(cache, LIST_JOBS.name, arg(args, 0), |c| {
        list_jobs(c, &search, now)
    })
}

fn run_active(ctx: &mut dyn Context, args: &[Value]) -> Outcome {
    let jobs = ctx.active_jobs();
    exec_active(ctx.job_cache(), args, &jobs)
}

fn exec_active(cache: Option<&JobCache>, _args: &[Value], jobs: &[ActiveJob]) -> Outcome {
    with_cache(cache, ACTIVE.name, &Value::Null, |c| active(c, jobs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Batch, Store};
    use serde_json::json;
    use std::time::{Duration, UNIX_EPOCH};

    const J1: &str = "20240501100000123456";
    const J2: &str = "20240502120000000001";
    const J3: &str = "20240503080000000002";

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    /// J1: test.ping to a, b, c (a and b returned); J2: cmd.run on a list target with
    /// metadata, a returned with an outputter; J3: a load with nothing but `fun`.
    fn fixture(dir: &std::path::Path) -> JobCache {
        let cache = JobCache::open(&Store::open(dir).unwrap(), 1 << 20).unwrap();
        let mut b = Batch::new();
        let l1 = json!({"jid": J1, "fun": "test.ping", "arg": [], "tgt": "*",
            "tgt_type": "glob", "user": "root", "minions": ["c", "b", "a"], "missing": []});
        cache.save_load(&mut b, J1, &map(l1)).unwrap();
        let ok = json!({"return": true, "retcode": 0, "success": true});
        cache
            .save_return(&mut b, J1, "b", &map(ok.clone()))
            .unwrap();
        cache.save_return(&mut b, J1, "a", &map(ok)).unwrap();
        let l2 = json!({"jid": J2, "fun": "cmd.run", "arg": ["ls"], "tgt": ["web1", "db1"],
            "tgt_type": "list", "user": "sudo_ops", "minions": ["web1", "db1"],
            "kwargs": {"metadata": {"ticket": "T-1"}}});
        cache.save_load(&mut b, J2, &map(l2)).unwrap();
        let failed = json!({"return": "boom", "retcode": 2, "success": false, "out": "nested"});
        cache.save_return(&mut b, J2, "web1", &map(failed)).unwrap();
        cache
            .save_load(&mut b, J3, &map(json!({"fun": "state.apply"})))
            .unwrap();
        cache.store().commit(&mut b).unwrap();
        cache
    }

    fn now() -> SystemTime {
        // 2024-05-04 00:00:00 UTC
        UNIX_EPOCH + Duration::from_secs(1_714_780_800)
    }

    #[test]
    fn list_job_has_salts_shape() {
        let dir = tempfile::tempdir().unwrap();
        let c = fixture(dir.path());
        let v = list_job(&c, J1).unwrap();
        assert_eq!(
            v,
            json!({"jid": J1, "Function": "test.ping", "Arguments": [], "Target": "*",
                "Target-type": "glob", "User": "root", "Minions": ["a", "b", "c"],
                "StartTime": "2024, May 01 10:00:00.123456",
                "Result": {"a": {"return": true, "retcode": 0, "success": true},
                           "b": {"return": true, "retcode": 0, "success": true}}})
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "jid",
                "Function",
                "Arguments",
                "Target",
                "Target-type",
                "User",
                "Minions",
                "StartTime",
                "Result"
            ]
        );
        // Defaults for a sparse load, and the error shape for an unknown job.
        assert_eq!(
            list_job(&c, J3).unwrap(),
            json!({"jid": J3, "Function": "state.apply", "Arguments": [],
                "Target": "unknown-target", "Target-type": "list", "User": "root",
                "StartTime": "2024, May 03 08:00:00.000002", "Result": {}})
        );
        assert_eq!(
            list_job(&c, "20240101000000000000").unwrap(),
            json!({"jid": "20240101000000000000", "Error": NO_JOB,
                "StartTime": "2024, Jan 01 00:00:00.000000", "Result": {}})
        );
        assert_eq!(
            print_job(&c, J2).unwrap(),
            json!({J2: {"Function": "cmd.run", "Arguments": ["ls"], "Target": ["web1", "db1"],
                "Target-type": "list", "User": "sudo_ops", "Metadata": {"ticket": "T-1"},
                "Minions": ["db1", "web1"], "StartTime": "2024, May 02 12:00:00.000001",
                "Result": {"web1": {"return": "boom", "retcode": 2, "success": false,
                                    "out": "nested"}}}})
        );
    }

    #[test]
    fn lookup_jid_returned_missing_and_outputter() {
        let dir = tempfile::tempdir().unwrap();
        let c = fixture(dir.path());
        assert_eq!(
            lookup_jid(&c, J1, true, false).unwrap(),
            json!({"a": true, "b": true})
        );
        assert_eq!(
            lookup_jid(&c, J1, true, true).unwrap(),
            json!({"a": true, "b": true, "c": "Minion did not return"})
        );
        assert_eq!(
            lookup_jid(&c, J1, false, true).unwrap(),
            json!({"c": "Minion did not return"})
        );
        assert_eq!(
            lookup_jid(&c, J2, true, true).unwrap(),
            json!({"outputter": "nested",
                   "data": {"web1": "boom", "db1": "Minion did not return"}})
        );
        assert_eq!(lookup_jid(&c, "nope", true, true).unwrap(), json!({}));
    }

    #[test]
    fn exit_success_uses_the_stored_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let c = fixture(dir.path());
        assert_eq!(
            exit_success(&c, J1).unwrap(),
            json!({"a": true, "b": true, "c": false})
        );
        assert_eq!(
            exit_success(&c, J2).unwrap(),
            json!({"db1": false, "web1": false})
        );
        assert!(succeeded(&map(
            json!({"return": {}, "retcode": {"a": 0, "b": 0}})
        )));
        assert!(!succeeded(&map(
            json!({"return": 1, "success": {"a": true, "b": false}})
        )));
        assert!(succeeded(&map(json!({"return": "x"}))));
        assert!(!succeeded(&map(json!({"return": ""}))));
    }

    fn jids(v: &Value) -> Vec<String> {
        let v = v.get("data").unwrap_or(v);
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn list_jobs_filters_like_salt() {
        let dir = tempfile::tempdir().unwrap();
        let c = fixture(dir.path());
        let all = list_jobs(&c, &JobSearch::default(), now()).unwrap();
        assert_eq!(jids(&all), [J1, J2, J3]);
        assert_eq!(
            all[J2],
            json!({"Function": "cmd.run", "Arguments": ["ls"], "Target": ["web1", "db1"],
                "Target-type": "list", "User": "sudo_ops", "Metadata": {"ticket": "T-1"},
                "StartTime": "2024, May 02 12:00:00.000001"})
        );
        let search = |f: fn(&mut JobSearch)| {
            let mut s = JobSearch::default();
            f(&mut s);
            jids(&list_jobs(&c, &s, now()).unwrap())
        };
        assert_eq!(search(|s| s.search_function = json!("test.*")), [J1]);
        assert_eq!(
            search(|s| s.search_function = json!("test.*, cmd.*")),
            [J1, J2]
        );
        assert_eq!(
            search(|s| s.search_function = json!(["state.*", "cmd.run"])),
            [J2, J3]
        );
        assert_eq!(search(|s| s.search_target = json!("db*")), [J2]);
        assert_eq!(
            search(|s| s.search_target = json!("\\*")),
            Vec::<String>::new()
        );
        assert_eq!(search(|s| s.search_target = json!("[*]")), [J1]);
        assert_eq!(search(|s| s.search_target = json!("unknown-*")), [J3]);
        assert_eq!(
            search(|s| s.search_metadata = json!({"ticket": "T-1"})),
            [J2]
        );
        assert_eq!(
            search(|s| s.search_metadata = json!({"ticket": "T-2"})),
            Vec::<String>::new()
        );
        assert_eq!(
            search(|s| s.search_metadata = json!("ticket")),
            [J1, J2, J3]
        );
        assert_eq!(
            search(|s| s.start_time = json!("2024, May 02 12:00")),
            [J2, J3]
        );
        assert_eq!(
            search(|s| s.start_time = json!("2024-05-02 12:00:00.000002")),
            [J3]
        );
        assert_eq!(search(|s| s.end_time = json!("May 2 2024")), [J1]);
        assert_eq!(
            search(|s| s.end_time = json!("2024-05-02T12:00:00.000001Z")),
            [J1, J2]
        );
        assert_eq!(
            search(|s| {
                s.start_time = json!("05/01/2024 11am");
                s.end_time = json!("20240503");
                s.search_function = json!("*");
            }),
            [J2]
        );
        let wrapped = list_jobs(
            &c,
            &JobSearch {
                outputter: json!("json"),
                ..JobSearch::default()
            },
            now(),
        )
        .unwrap();
        assert_eq!(wrapped["outputter"], json!("json"));
        assert_eq!(
            list_jobs(
                &c,
                &JobSearch {
                    start_time: json!("yesterday-ish"),
                    ..JobSearch::default()
                },
                now()
            )
            .unwrap_err(),
            "ParserError: Unknown string format: yesterday-ish"
        );
    }

    #[test]
    fn active_merges_running_minions_and_returns() {
        let dir = tempfile::tempdir().unwrap();
        let c = fixture(dir.path());
        let load = map(
            json!({"fun": "test.sleep", "arg": [30], "tgt": "*", "tgt_type": "glob",
            "user": "root"}),
        );
        let jobs = [
            ActiveJob {
                jid: J1.into(),
                load: load.clone(),
                running: vec![("c".into(), Some(4242))],
            },
            ActiveJob {
                jid: J1.into(),
                load,
                running: vec![("d".into(), None)],
            },
        ];
        assert_eq!(
            active(&c, &jobs).unwrap(),
            json!({J1: {"Function": "test.sleep", "Arguments": [30], "Target": "*",
                "Target-type": "glob", "User": "root",
                "StartTime": "2024, May 01 10:00:00.123456",
                "Running": [{"c": 4242}, {"d": null}], "Returned": ["a", "b"]}})
        );
        assert_eq!(active(&c, &[]).unwrap(), json!({}));
    }

    /// Binds like brine-run does, then runs the runner's `exec_*` step.
    fn run(cache: Option<&JobCache>, name: &str, args: &[Value], kwargs: Value) -> Outcome {
        let r = super::super::find(name).unwrap();
        let bound = super::super::bind(r, args, kwargs.as_object().unwrap()).unwrap();
        match name {
            "jobs.lookup_jid" => exec_lookup_jid(cache, &bound),
            "jobs.list_job" => exec_list_job(cache, &bound),
            "jobs.print_job" => exec_print_job(cache, &bound),
            "jobs.exit_success" => exec_exit_success(cache, &bound),
            "jobs.list_jobs" => exec_list_jobs(cache, &bound, now()),
            "jobs.active" => exec_active(cache, &bound, &[]),
            _ => unreachable!("{name}"),
        }
    }

    #[test]
    fn the_runners_bind_salts_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let cache = fixture(dir.path());
        let c = Some(&cache);
        let o = run(c, "jobs.lookup_jid", &[json!(J1)], json!({"missing": true}));
        assert_eq!(
            o,
            Outcome::ok(json!({"a": true, "b": true, "c": "Minion did not return"}))
        );
        let o = run(
            c,
            "jobs.lookup_jid",
            &[json!(J1), Value::Null, json!(false), json!(true)],
            json!({}),
        );
        assert_eq!(o.ret, json!({"c": "Minion did not return"}));
        let o = run(
            c,
            "jobs.list_job",
            &[json!(J1)],
            json!({"ext_source": "local_cache"}),
        );
        assert_eq!(o.ret["Minions"], json!(["a", "b", "c"]));
        let o = run(
            c,
            "jobs.list_jobs",
            &[],
            json!({"search_function": "cmd.*"}),
        );
        assert_eq!(jids(&o.ret), [J2]);
        let o = run(c, "jobs.list_jobs", &[], json!({"start_time": "whenever"}));
        assert_eq!(
            o.ret,
            json!("Exception occurred in runner jobs.list_jobs: ParserError: Unknown string format: whenever")
        );
        let o = run(c, "jobs.print_job", &[json!(J3)], json!({}));
        assert_eq!(o.ret[J3]["Function"], json!("state.apply"));
        let o = run(c, "jobs.exit_success", &[json!(J1)], json!({}));
        assert_eq!(o.ret, json!({"a": true, "b": true, "c": false}));
        let o = run(c, "jobs.active", &[], json!({}));
        assert_eq!(o, Outcome::ok(json!({})));
        let o = run(
            c,
            "jobs.lookup_jid",
            &[json!(J1)],
            json!({"ext_source": "mysql"}),
        );
        assert_eq!(
            o.ret,
            json!("Exception occurred in runner jobs.lookup_jid: ext_source 'mysql' is not available: brine keeps one job cache (local_cache)")
        );
        assert!(!o.success);
        let r = super::super::find("jobs.lookup_jid").unwrap();
        assert_eq!(
            super::super::bind(r, &[], &Map::new()).unwrap_err(),
            "lookup_jid() missing 1 required positional argument: 'jid'"
        );
        let o = run(None, "jobs.list_jobs", &[], json!({}));
        assert_eq!(
            o,
            Outcome::exception("jobs.list_jobs", "the master's job cache is not available")
        );
    }
}
