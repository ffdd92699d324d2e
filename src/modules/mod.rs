//! Execution modules: the functions a minion runs for jobs published by the master and
//! for `brine-call`, with Salt's names, signatures and return values.
//!
//! A function never blocks: what can block (a shell command, an SMTP session, an HTTP
//! request) is described as a child process for the minion's event loop to run, and finished
//! when the child is done. Functions whose work is Rust code run it in a module child, this
//! binary started again with a hidden flag (see `child`).

use crate::clock::Now;
use crate::py::truthy;
use crate::signature::{self, Param};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub mod child;
mod cmd;
mod cp;
mod event;
mod grains;
mod http;
mod pillar;
mod saltutil;
mod smtp;
mod state;
mod sys;
mod test;

pub use event::CALLER_ENVIRON;

/// A function's result: the return value and the job's retcode (0 = success).
#[derive(Clone, Debug, PartialEq)]
pub struct Ret {
    /// What the function returned.
    pub value: Value,
    /// Its retcode.
    pub retcode: i32,
}

impl Ret {
    /// A successful return.
    pub fn ok(value: Value) -> Ret {
        Ret { value, retcode: 0 }
    }

    /// A failure with a message, retcode 1.
    pub fn fail(msg: impl Into<String>) -> Ret {
        Ret {
            value: Value::String(msg.into()),
            retcode: 1,
        }
    }
}

/// A child process a function needs run.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildSpec {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Environment variables added to (or, with `clean_env`, replacing) the minion's.
    pub env: BTreeMap<String, String>,
    /// Start from an empty environment.
    pub clean_env: bool,
    /// Bytes written to the child's stdin, then closed.
    pub stdin: Vec<u8>,
    /// Run as this user (needs the minion to run as root).
    pub runas: Option<String>,
    /// Killed after this long.
    pub timeout: Option<Duration>,
    /// stderr goes to the stdout pipe, interleaved as written (cmd.run).
    pub merge_stderr: bool,
    /// Strip trailing whitespace from the output.
    pub rstrip: bool,
}

/// What a finished child did.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildResult {
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
    /// Its exit status (128 + signal when killed by one).
    pub status: i32,
    /// Its pid.
    pub pid: u32,
    /// It ran past its timeout and was killed.
    pub timed_out: bool,
    /// It could not be started: why.
    pub spawn_error: Option<String>,
}

impl ChildResult {
    /// The result of a child that could not be started.
    pub fn spawn_failed(why: String) -> ChildResult {
        ChildResult {
            stdout: Vec::new(),
            stderr: Vec::new(),
            status: -1,
            pid: 0,
            timed_out: false,
            spawn_error: Some(why),
        }
    }
}

/// Turns a finished child into the function's return.
pub type Finish = fn(&ChildSpec, &ChildResult) -> Ret;

/// The next step of a call.
pub enum Step {
    /// Done now.
    Done(Ret),
    /// Run this child; `finish` turns its result into the return.
    Child(ChildSpec, Finish),
    /// Return this after a delay (test.sleep), without blocking anything.
    After(Duration, Ret),
}

/// An execution function's entry in the table.
pub struct Function {
    /// `module.function`.
    pub name: &'static str,
    /// Its named parameters.
    pub params: &'static [Param],
    /// Whether it takes `**kwargs` (extra keywords are passed on, not refused).
    pub kwargs: bool,
    /// Whether it takes `*args`: positional arguments are passed as they are and the
    /// parameters bind by keyword only.
    pub varargs: bool,
    /// One line for `sys.doc` and the man page.
    pub doc: &'static str,
    /// The code: bound parameters and extra keywords in, the next step out.
    pub run: fn(&mut Call<'_>, &[Value], &Map<String, Value>) -> Step,
}

/// What a function runs against.
pub struct Call<'a> {
    /// The minion.
    pub minion: &'a mut dyn Host,
    /// The time of the call.
    pub now: Now,
    /// The job's id, when the call is a published job.
    pub jid: Option<&'a str>,
}

/// Every execution function brine has, in name order.
pub const FUNCTIONS: &[Function] = &[
    cmd::RETCODE,
    cmd::RUN,
    cmd::RUN_ALL,
    cp::CACHE_FILE,
    cp::GET_FILE,
    cp::GET_FILE_STR,
    cp::HASH_FILE,
    cp::LIST_MASTER,
    event::FIRE,
    event::FIRE_MASTER,
    event::SEND,
    grains::GET,
    grains::ITEM,
    grains::ITEMS,
    http::QUERY,
    pillar::DATA,
    pillar::FETCH,
    pillar::GET,
    pillar::ITEM,
    pillar::ITEMS,
    pillar::KEYS,
    pillar::LS,
    pillar::OBFUSCATE,
    pillar::RAW,
    saltutil::FIND_JOB,
    saltutil::KILL_JOB,
    saltutil::REFRESH_GRAINS,
    saltutil::REFRESH_PILLAR,
    saltutil::RUNNING,
    smtp::SEND_MSG,
    state::APPLY,
    state::HIGHSTATE,
    state::RUNNING,
    state::SHOW_HIGHSTATE,
    state::SHOW_LOW_SLS,
    state::SHOW_LOWSTATE,
    state::SHOW_SLS,
    state::SHOW_TOP,
    state::SINGLE,
    state::SLS,
    state::TEST,
    state::TOP,
    sys::DOC,
    sys::LIST_FUNCTIONS,
    test::ECHO,
    test::FALSE,
    test::PING,
    test::RETCODE,
    test::SLEEP,
    test::TRUE,
    test::VERSION,
];

/// Looks a function up by `module.function`.
pub fn find(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Salt's `load_args_and_kwargs`: CLI words are YAML-coerced and `key=value` words become
/// keyword arguments; a map carrying `__kwarg__: true` is merged into the keywords.
pub fn parse_job_args(arg: &[Value]) -> (Vec<Value>, Map<String, Value>) {
    let mut args = Vec::new();
    let mut kwargs = Map::new();
    for a in arg {
        match a {
            Value::String(s) => {
                let (mut pa, kw) = crate::py::args::parse_input(std::slice::from_ref(s));
                args.append(&mut pa);
                kwargs.extend(kw);
            }
            Value::Object(m) if m.get("__kwarg__") == Some(&Value::Bool(true)) => {
                for (k, v) in m {
                    if k != "__kwarg__" {
                        kwargs.insert(k.clone(), v.clone());
                    }
                }
            }
            other => args.push(other.clone()),
        }
    }
    (args, kwargs)
}

/// What execution functions see of the minion they run on: the function table knows the
/// minion only through this trait, which the minion core implements.
pub trait Host {
    /// The minion's configuration.
    fn config(&self) -> &crate::config::MinionConfig;
    /// Fires an event on the minion's own bus.
    fn fire_local(&mut self, now: Now, tag: &str, data: Map<String, Value>) -> Result<(), String>;
    /// Sends an event to the master.
    fn fire_master(&mut self, tag: &str, data: Value);
    /// The minion's grains.
    fn grains(&self) -> Map<String, Value>;
    /// The minion's pillar, as the master compiled it, kept in memory (`_errors` included).
    fn pillar(&self) -> Map<String, Value>;
    /// Asks the master for a fresh pillar.
    fn refresh_pillar(&mut self);
    /// Kills a running job; its pid when there was one.
    fn kill_job(&mut self, jid: &str) -> Option<u32>;
    /// True when the minion runs without a master.
    fn masterless(&self) -> bool;
    /// Sends fresh grains to the master.
    fn refresh_grains(&mut self);
    /// The jobs running now, as `saltutil.running` shows them.
    fn running_jobs(&self) -> Vec<Value>;
}

/// Starts `fun` on `minion` with parsed arguments; an unknown function gives Salt's
/// `'<fun>' is not available.` with retcode 1.
pub fn call(
    minion: &mut dyn Host,
    now: Now,
    jid: Option<&str>,
    fun: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Step {
    let Some(f) = find(fun) else {
        return Step::Done(Ret::fail(crate::runners::not_available(fun)));
    };
    let short = f.name.rsplit('.').next().unwrap_or(f.name);
    // Salt drops the `__pub_*` keywords it adds to published calls before binding; the
    // one brine-call adds for event.send stays.
    let kwargs: Map<String, Value> = kwargs
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("__") || (k.as_str() == CALLER_ENVIRON && fun == "event.send")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if f.varargs {
        // Keyword parameters with their defaults travel in the keyword map.
        let mut kw = Map::new();
        for p in f.params {
            match kwargs.get(p.name).cloned().or_else(|| p.default.value()) {
                Some(v) => {
                    kw.insert(p.name.to_string(), v);
                }
                None => {
                    return Step::Done(Ret::fail(format!(
                    "Passed invalid arguments: {short}() missing required keyword argument '{}'.",
                    p.name
                )))
                }
            }
        }
        if f.kwargs {
            for (k, v) in &kwargs {
                kw.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        return (f.run)(&mut Call { minion, now, jid }, args, &kw);
    }
    match signature::bind(short, f.params, f.kwargs.then_some("kwargs"), args, &kwargs) {
        Ok((bound, extra)) => (f.run)(&mut Call { minion, now, jid }, &bound, &extra),
        Err(e) => Step::Done(Ret::fail(format!("Passed invalid arguments: {e}."))),
    }
}

/// Python `str()` of a value.
pub fn text(v: &Value) -> String {
    crate::py::python_str(v)
}
