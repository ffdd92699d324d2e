//! The `queue` runner (salt-spec §5.1): Salt's functions and signatures over brine's queue
//! backends, `lmdb` by default and Salt's `sqlite` format with `backend=sqlite`.
//!
//! A queue runner only plans: it checks its arguments and says which queue operation to run
//! and what to do with its result. The master carries the operation out in the turn's group
//! commit and answers the caller after it is on disk.

use super::{Default, Exec, Outcome, Param, Runner};
use crate::config::MasterConfig;
use crate::queue_op::{check_name, Backend, Call, Items, Op, Quantity};
use serde_json::{Map, Value};

/// What the master does with a queue operation's result.
#[derive(Clone, Debug, PartialEq)]
pub enum Then {
    /// Return it.
    Return,
    /// Fire `salt/queue/<queue>/process` with the popped items and return that data.
    ProcessQueue {
        /// The queue.
        queue: String,
        /// The backend's name.
        backend: &'static str,
    },
    /// As `ProcessQueue`, then run each popped runner call in order.
    ProcessRunner {
        /// The queue.
        queue: String,
        /// The backend's name.
        backend: &'static str,
    },
}

/// A planned queue operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The operation.
    pub call: Call,
    /// What follows it.
    pub then: Then,
}

/// A queue runner's answer at planning time.
#[derive(Debug)]
pub enum Planned {
    /// Run this at the commit.
    Run(Plan),
    /// Done already (a bad argument).
    Done(Outcome),
    /// `process_queue`'s failure: fire `{"errors": ...}` as the job's progress, return False.
    Progress(String),
}

/// A planning function.
pub type PlanFn = fn(&MasterConfig, &[Value]) -> Planned;

const fn p(name: &'static str, default: Default) -> Param {
    Param { name, default }
}

const BACKEND: Param = p("backend", Default::Str("lmdb"));

macro_rules! queue_runner {
    ($id:ident, $name:literal, [$($param:expr),*], $doc:literal, $plan:ident) => {
        #[doc = $doc]
        pub const $id: Runner = Runner {
            name: $name,
            params: &[$($param),*],
            doc: $doc,
            exec: Exec::Queue($plan),
        };
    };
}

queue_runner!(
    INSERT,
    "queue.insert",
    [
        p("queue", Default::Required),
        p("items", Default::Required),
        BACKEND
    ],
    "Add ITEMS (a string, a map, or a list of them) to QUEUE; an item already there is refused.",
    plan_insert
);
queue_runner!(
    DELETE,
    "queue.delete",
    [
        p("queue", Default::Required),
        p("items", Default::Required),
        BACKEND
    ],
    "Remove ITEMS (an item or a list) from QUEUE; absent items are not an error.",
    plan_delete
);
queue_runner!(
    LIST_QUEUES,
    "queue.list_queues",
    [BACKEND],
    "List the queues of the backend.",
    plan_list_queues
);
queue_runner!(
    LIST_LENGTH,
    "queue.list_length",
    [p("queue", Default::Required), BACKEND],
    "The number of items in QUEUE.",
    plan_list_length
);
queue_runner!(
    LIST_ITEMS,
    "queue.list_items",
    [p("queue", Default::Required), BACKEND],
    "The items of QUEUE, oldest first.",
    plan_list_items
);
queue_runner!(
    POP,
    "queue.pop",
    [
        p("queue", Default::Required),
        p("quantity", Default::Int(1)),
        BACKEND,
        p("is_runner", Default::Bool(false))
    ],
    "Remove and return the QUANTITY (default 1, or all) oldest items of QUEUE.",
    plan_pop
);
queue_runner!(PROCESS_QUEUE, "queue.process_queue",
    [p("queue", Default::Required), p("quantity", Default::Int(1)), BACKEND,
     p("is_runner", Default::Bool(false))],
    "Pop QUANTITY items and fire salt/queue/QUEUE/process with items, backend and queue (also when empty); returns that map.",
    plan_process_queue);
queue_runner!(
    INSERT_RUNNER,
    "queue.insert_runner",
    [
        p("fun", Default::Required),
        p("args", Default::Null),
        p("kwargs", Default::Null),
        p("queue", Default::Null),
        p("backend", Default::Null)
    ],
    "Queue a runner call {fun, args, kwargs} (queue and backend default from runner_queue).",
    plan_insert_runner
);
queue_runner!(PROCESS_RUNNER, "queue.process_runner",
    [p("quantity", Default::Int(1)), p("queue", Default::Null), p("backend", Default::Null)],
    "Pop QUANTITY queued runner calls and run each in order (queue and backend default from runner_queue).",
    plan_process_runner);
queue_runner!(MIGRATE, "queue.migrate",
    [p("src", Default::Required), p("dst", Default::Required), p("queue", Default::Null)],
    "Copy QUEUE (default: every queue) from backend SRC to backend DST; returns copied and skipped counts per queue.",
    plan_migrate);

fn fail(fun: &str, msg: &str) -> Planned {
    Planned::Done(Outcome::exception(fun, msg))
}

fn run(backend: Backend, op: Op) -> Planned {
    Planned::Run(Plan {
        call: Call { backend, op },
        then: Then::Return,
    })
}

/// A backend argument: Salt's message names the function the backend lacks.
fn backend(v: &Value, fun: &str) -> Result<Backend, String> {
    let name = match v {
        Value::String(s) => s.clone(),
        other => crate::py::python_str(other),
    };
    let short = fun.rsplit('.').next().unwrap_or(fun);
    Backend::from_name(&name).ok_or_else(|| format!("Function \"{name}.{short}\" is not available"))
}

/// A queue name argument: Python formats whatever it is given, so a number is its text.
fn queue_name(v: &Value) -> Result<String, String> {
    let name = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
        other => {
            return Err(format!(
                "a queue name must be a string, not {}",
                crate::py::python_str(other)
            ))
        }
    };
    check_name(&name)?;
    Ok(name)
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

fn plan_insert(_: &MasterConfig, a: &[Value]) -> Planned {
    plan_items("queue.insert", a, |queue, items| Op::Insert {
        queue,
        items,
    })
}

fn plan_delete(_: &MasterConfig, a: &[Value]) -> Planned {
    plan_items("queue.delete", a, |queue, items| Op::Delete {
        queue,
        items,
    })
}

fn plan_items(fun: &str, a: &[Value], op: fn(String, Items) -> Op) -> Planned {
    let r = (|| {
        let b = backend(arg(a, 2), fun)?;
        let queue = queue_name(arg(a, 0))?;
        let items = Items::parse(arg(a, 1).clone())?;
        Ok::<_, String>((b, op(queue, items)))
    })();
    match r {
        Ok((b, op)) => run(b, op),
        Err(e) => fail(fun, &e),
    }
}

fn plan_list_queues(_: &MasterConfig, a: &[Value]) -> Planned {
    match backend(arg(a, 0), "queue.list_queues") {
        Ok(b) => run(b, Op::ListQueues),
        Err(e) => fail("queue.list_queues", &e),
    }
}

fn plan_queue_only(fun: &str, a: &[Value], op: fn(String) -> Op) -> Planned {
    match backend(arg(a, 1), fun).and_then(|b| Ok((b, queue_name(arg(a, 0))?))) {
        Ok((b, q)) => run(b, op(q)),
        Err(e) => fail(fun, &e),
    }
}

fn plan_list_length(_: &MasterConfig, a: &[Value]) -> Planned {
    plan_queue_only("queue.list_length", a, |queue| Op::ListLength { queue })
}

fn plan_list_items(_: &MasterConfig, a: &[Value]) -> Planned {
    plan_queue_only("queue.list_items", a, |queue| Op::ListItems { queue })
}

/// The pop behind `pop`, `process_queue` and `process_runner`.
fn pop_plan(
    fun: &str,
    queue: &Value,
    quantity: &Value,
    backend_arg: &Value,
    is_runner: bool,
) -> Result<(Backend, String, Op), String> {
    let b = backend(backend_arg, fun)?;
    let quantity = Quantity::parse(quantity)?;
    let queue = queue_name(queue)?;
    Ok((
        b,
        queue.clone(),
        Op::Pop {
            queue,
            quantity,
            is_runner,
        },
    ))
}

fn plan_pop(_: &MasterConfig, a: &[Value]) -> Planned {
    let is_runner = crate::py::truthy(arg(a, 3));
    match pop_plan("queue.pop", arg(a, 0), arg(a, 1), arg(a, 2), is_runner) {
        Ok((b, _, op)) => run(b, op),
        Err(e) => fail("queue.pop", &e),
    }
}

fn plan_process_queue(_: &MasterConfig, a: &[Value]) -> Planned {
    let is_runner = crate::py::truthy(arg(a, 3));
    match pop_plan(
        "queue.process_queue",
        arg(a, 0),
        arg(a, 1),
        arg(a, 2),
        is_runner,
    ) {
        Ok((b, queue, op)) => Planned::Run(Plan {
            call: Call { backend: b, op },
            then: Then::ProcessQueue {
                queue,
                backend: b.name(),
            },
        }),
        Err(e) => Planned::Progress(e),
    }
}

/// `runner_queue` from the master config: its queue and backend (default lmdb).
fn runner_queue(cfg: &MasterConfig, queue: &Value, backend: &Value) -> (Value, Value) {
    let conf = cfg.runner_queue.as_object();
    let pick = |given: &Value, key: &str| match given {
        Value::Null => conf
            .and_then(|m| m.get(key))
            .cloned()
            .unwrap_or(Value::Null),
        v => v.clone(),
    };
    let b = match pick(backend, "backend") {
        Value::Null => Value::from("lmdb"),
        v => v,
    };
    (pick(queue, "queue"), b)
}

const NO_QUEUE: &str =
    "no queue given and runner_queue has no queue in the master config (runner_queue: {queue: NAME})";

fn plan_insert_runner(cfg: &MasterConfig, a: &[Value]) -> Planned {
    const FUN: &str = "queue.insert_runner";
    let fun = match arg(a, 0) {
        Value::String(s) => s.clone(),
        other => {
            return fail(
                FUN,
                &format!(
                    "fun must be a runner name, not {}",
                    crate::py::python_str(other)
                ),
            )
        }
    };
    match super::find(&fun) {
        Some(r) if !matches!(r.exec, Exec::Client) => {}
        _ => return fail(FUN, &super::not_available(&fun)),
    }
    let args = match arg(a, 1) {
        Value::Null => Vec::new(),
        Value::String(s) => s.split(',').map(|x| Value::String(x.to_owned())).collect(),
        Value::Array(v) => v.clone(),
        other => {
            return fail(
                FUN,
                &format!(
                    "args must be a list or a comma-separated string, not {}",
                    crate::py::python_str(other)
                ),
            )
        }
    };
    let kwargs = match arg(a, 2) {
        Value::Null => Map::new(),
        Value::Object(m) => m.clone(),
        other => {
            return fail(
                FUN,
                &format!("kwargs must be a map, not {}", crate::py::python_str(other)),
            )
        }
    };
    let (queue, b) = runner_queue(cfg, arg(a, 3), arg(a, 4));
    if queue.is_null() {
        return fail(FUN, NO_QUEUE);
    }
    let mut item = Map::new();
    item.insert("fun".into(), Value::String(fun));
    item.insert("args".into(), Value::Array(args));
    item.insert("kwargs".into(), Value::Object(kwargs));
    plan_items(FUN, &[queue, Value::Object(item), b], |queue, items| {
        Op::Insert { queue, items }
    })
}

fn plan_process_runner(cfg: &MasterConfig, a: &[Value]) -> Planned {
    const FUN: &str = "queue.process_runner";
    let (queue, b) = runner_queue(cfg, arg(a, 1), arg(a, 2));
    if queue.is_null() {
        return fail(FUN, NO_QUEUE);
    }
    match pop_plan(FUN, &queue, arg(a, 0), &b, true) {
        Ok((b, queue, op)) => Planned::Run(Plan {
            call: Call { backend: b, op },
            then: Then::ProcessRunner {
                queue,
                backend: b.name(),
            },
        }),
        Err(e) => fail(FUN, &e),
    }
}

fn plan_migrate(_: &MasterConfig, a: &[Value]) -> Planned {
    const FUN: &str = "queue.migrate";
    let r = (|| {
        let src = backend(arg(a, 0), FUN)?;
        let dst = backend(arg(a, 1), FUN)?;
        if src == dst {
            return Err(format!("source and destination are both {}", src.name()));
        }
        let queue = match arg(a, 2) {
            Value::Null => None,
            q => Some(queue_name(q)?),
        };
        Ok((src, Op::Migrate { dst, queue }))
    })();
    match r {
        Ok((src, op)) => run(src, op),
        Err(e) => fail(FUN, &e),
    }
}

/// A queued runner call: its function, positional and keyword arguments.
pub type RunnerCall = (String, Vec<Value>, Map<String, Value>);

/// One runner call popped by `process_runner`, or why it is not one.
pub fn runner_call(item: &Value) -> Result<RunnerCall, String> {
    let m = item
        .as_object()
        .ok_or_else(|| format!("not a runner call: {}", crate::py::python_str(item)))?;
    let fun = m
        .get("fun")
        .and_then(Value::as_str)
        .ok_or_else(|| "a queued runner call has no fun".to_string())?;
    let args = match m.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
    };
    let kwargs = match m.get("kwargs") {
        Some(Value::Object(k)) => k.clone(),
        _ => Map::new(),
    };
    Ok((fun.to_owned(), args, kwargs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn cfg() -> MasterConfig {
        MasterConfig::defaults(Path::new("/nonexistent"))
    }

    fn plan(r: &Runner, args: &[Value]) -> Planned {
        let bound = super::super::bind(r, args, &Map::new()).unwrap();
        let Exec::Queue(f) = r.exec else {
            panic!("not a queue runner")
        };
        f(&cfg(), &bound)
    }

    #[test]
    fn plans_carry_the_backend_and_check_arguments() {
        match plan(&INSERT, &[json!("q"), json!(["a", "b"]), json!("sqlite")]) {
            Planned::Run(p) => {
                assert_eq!(p.call.backend, Backend::Sqlite);
                assert_eq!(
                    p.call.op,
                    Op::Insert {
                        queue: "q".into(),
                        items: Items::Many(vec![json!("a"), json!("b")])
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        match plan(&INSERT, &[json!("q"), json!("a"), json!("redis")]) {
            Planned::Done(o) => assert_eq!(
                o.ret,
                json!("Exception occurred in runner queue.insert: Function \"redis.insert\" is not available")
            ),
            other => panic!("{other:?}"),
        }
        match plan(&INSERT, &[json!("q"), json!(7)]) {
            Planned::Done(o) => assert!(!o.success),
            other => panic!("{other:?}"),
        }
        match plan(&POP, &[json!("q"), json!("many")]) {
            Planned::Done(o) => assert!(o
                .ret
                .as_str()
                .unwrap()
                .contains("Quantity must be an integer or \"all\".")),
            other => panic!("{other:?}"),
        }
        match plan(&PROCESS_QUEUE, &[json!("q"), json!("many")]) {
            Planned::Progress(e) => assert!(e.starts_with("Quantity must be")),
            other => panic!("{other:?}"),
        }
        match plan(&LIST_ITEMS, &[json!("a/b")]) {
            Planned::Done(o) => assert!(o.ret.as_str().unwrap().contains("invalid queue name")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn insert_runner_builds_salts_item() {
        let mut c = cfg();
        c.runner_queue = json!({"queue": "runners"});
        let bound = super::super::bind(
            &INSERT_RUNNER,
            &[json!("event.send"), json!("a,b")],
            &Map::new(),
        )
        .unwrap();
        match plan_insert_runner(&c, &bound) {
            Planned::Run(p) => {
                assert_eq!(p.call.backend, Backend::Lmdb);
                assert_eq!(
                    p.call.op,
                    Op::Insert {
                        queue: "runners".into(),
                        items: Items::One(
                            json!({"fun": "event.send", "args": ["a", "b"], "kwargs": {}})
                        )
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        match plan(&INSERT_RUNNER, &[json!("event.send")]) {
            Planned::Done(o) => assert!(o.ret.as_str().unwrap().contains("runner_queue")),
            other => panic!("{other:?}"),
        }
        match plan(
            &INSERT_RUNNER,
            &[json!("nope.nope"), Value::Null, Value::Null, json!("q")],
        ) {
            Planned::Done(o) => assert!(o
                .ret
                .as_str()
                .unwrap()
                .contains("'nope.nope' is not available")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn runner_calls_are_checked() {
        assert_eq!(
            runner_call(&json!({"fun": "event.send", "args": ["t"], "kwargs": {"data": {}}}))
                .unwrap(),
            (
                "event.send".into(),
                vec![json!("t")],
                json!({"data": {}}).as_object().unwrap().clone()
            )
        );
        assert!(runner_call(&json!("event.send")).is_err());
        assert!(runner_call(&json!({"args": []})).is_err());
    }
}
