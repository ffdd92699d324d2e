//! Runner functions: master-side functions called by `brine-run` (and later the
//! reactor and the schedule), with Salt's names, signatures and return values.
//!
//! A runner is a plain function of its bound arguments and a context that lets it fire
//! events; it never does I/O itself, so the master core stays free of it.

use serde_json::{Map, Value};
use std::time::SystemTime;

mod dates;
mod event;
pub mod jobs;
mod manage;
pub mod metrics;
pub mod orchestrate;
pub mod queue;
mod reactor;

pub use crate::signature::{Default, Param};

/// Where a runner executes.
#[derive(Clone, Copy)]
pub enum Exec {
    /// In the master's loop.
    Master(fn(&mut dyn Context, &[Value]) -> Outcome),
    /// A queue operation: planned now, carried out in the turn's group commit, answered
    /// once it is on disk.
    Queue(queue::PlanFn),
    /// In the calling CLI process (streaming functions such as `state.event`).
    Client,
    /// Across many turns of the master's loop, answered when it ends (orchestrations).
    Orchestrate,
}

/// A runner function's entry in the table.
#[derive(Clone, Copy)]
pub struct Runner {
    /// `module.function`.
    pub name: &'static str,
    /// Its signature.
    pub params: &'static [Param],
    /// One line for `--help` and the man page.
    pub doc: &'static str,
    /// How it runs.
    pub exec: Exec,
}

/// What a runner returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The return value the CLI prints.
    pub ret: Value,
    /// False when the runner failed (the CLI exits non-zero).
    pub success: bool,
}

impl Outcome {
    /// A successful return.
    pub fn ok(ret: Value) -> Outcome {
        Outcome { ret, success: true }
    }

    /// A runner exception, worded as Salt words it.
    pub fn exception(fun: &str, msg: &str) -> Outcome {
        Outcome {
            ret: Value::String(format!("Exception occurred in runner {fun}: {msg}")),
            success: false,
        }
    }
}

/// What a runner may ask of the master.
pub trait Context: jobs::JobsContext {
    /// The current wall-clock time (from the core's input, never read directly).
    fn now(&self) -> SystemTime;
    /// Fires an event on the master bus.
    fn fire(&mut self, tag: &str, data: Map<String, Value>) -> Result<(), String>;
    /// Accepted and present minions.
    fn minions(&self) -> Minions;
    /// Calls a wheel function (`key.delete`, ...), firing its events.
    fn wheel(&mut self, fun: &str, kwarg: Map<String, Value>) -> Result<Value, String>;
    /// The reactor's rules (`reactor.list`).
    fn reactor_list(&self) -> Value;
    /// Adds a reactor rule until the next reload (`reactor.add`).
    fn reactor_add(&mut self, tag: &str, sls: Vec<String>) -> Value;
    /// Removes a reactor rule until the next reload (`reactor.delete`).
    fn reactor_delete(&mut self, tag: &str) -> Value;
    /// What an event would make the reactor do, doing nothing (`reactor.test`).
    fn reactor_test(&mut self, tag: &str, data: Map<String, Value>) -> Value;
    /// The master's counters and gauges (`metrics.master`).
    fn metrics(&self) -> metrics::MasterStats;
}

/// What the master knows of its minions.
#[derive(Clone, Debug, Default)]
pub struct Minions {
    /// Ids with an accepted key, sorted.
    pub accepted: Vec<String>,
    /// Ids with a live session, sorted.
    pub present: Vec<String>,
}

/// Every runner brine has, in name order.
pub const RUNNERS: &[Runner] = &[
    event::SEND,
    jobs::ACTIVE,
    jobs::EXIT_SUCCESS,
    jobs::LIST_JOB,
    jobs::LIST_JOBS,
    jobs::LOOKUP_JID,
    jobs::PRINT_JOB,
    manage::ALIVED,
    manage::DOWN,
    manage::STATUS,
    manage::UP,
    metrics::MASTER,
    queue::DELETE,
    queue::INSERT,
    queue::INSERT_RUNNER,
    queue::LIST_ITEMS,
    queue::LIST_LENGTH,
    queue::LIST_QUEUES,
    queue::MIGRATE,
    queue::POP,
    queue::PROCESS_QUEUE,
    queue::PROCESS_RUNNER,
    reactor::ADD,
    reactor::DELETE,
    reactor::LIST,
    reactor::TEST,
    event::STATE_EVENT,
    orchestrate::ORCH,
    orchestrate::ORCHESTRATE,
    orchestrate::OVER,
    orchestrate::SHOW_STAGES,
    orchestrate::SLS,
];

/// Looks a runner up by `module.function`.
pub fn find(name: &str) -> Option<&'static Runner> {
    RUNNERS.iter().find(|r| r.name == name)
}

/// Salt's message for a function that does not exist.
pub fn not_available(fun: &str) -> String {
    format!("'{fun}' is not available.")
}

/// Binds positional and keyword arguments to a runner's signature as Python would.
pub fn bind(
    runner: &Runner,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Result<Vec<Value>, String> {
    let short = runner.name.rsplit('.').next().unwrap_or(runner.name);
    crate::signature::bind(short, runner.params, None, args, kwargs).map(|(bound, _)| bound)
}

/// Salt's `fun_args` in runner events: the positional args, then a map of the kwargs.
pub fn fun_args(args: &[Value], kwargs: &Map<String, Value>) -> Value {
    let mut v: Vec<Value> = args.to_vec();
    if !kwargs.is_empty() {
        v.push(Value::Object(kwargs.clone()));
    }
    Value::Array(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kw(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn binds_like_python() {
        let r = find("event.send").unwrap();
        assert_eq!(
            bind(r, &[json!("t")], &Map::new()).unwrap(),
            [json!("t"), Value::Null]
        );
        assert_eq!(
            bind(r, &[], &kw(json!({"tag": "t", "data": {"a": 1}}))).unwrap(),
            [json!("t"), json!({"a": 1})]
        );
        assert_eq!(
            bind(r, &[], &Map::new()).unwrap_err(),
            "send() missing 1 required positional argument: 'tag'"
        );
        assert_eq!(
            bind(r, &[json!(1), json!(2), json!(3)], &Map::new()).unwrap_err(),
            "send() takes from 1 to 2 positional arguments but 3 were given"
        );
        assert_eq!(
            bind(r, &[json!("t")], &kw(json!({"tag": "u"}))).unwrap_err(),
            "send() got multiple values for argument 'tag'"
        );
        assert_eq!(
            bind(r, &[json!("t")], &kw(json!({"foo": "bar", "n": 2}))).unwrap_err(),
            "The following keyword arguments are not valid: foo='bar', n=2"
        );
    }

    #[test]
    fn fun_args_packs_kwargs_last() {
        assert_eq!(
            fun_args(&[json!("myco/x")], &kw(json!({"a": 1}))),
            json!(["myco/x", {"a": 1}])
        );
        assert_eq!(fun_args(&[json!("x")], &Map::new()), json!(["x"]));
    }
}
