//! The `test` execution module.

use super::{text, Call, Function, Ret, Step};
use crate::signature::{Default, Param};
use serde_json::{Map, Value};
use std::time::Duration;

/// `test.ping`: True.
pub const PING: Function = Function {
    name: "test.ping",
    params: &[],
    kwargs: false,
    varargs: false,
    doc: "Return True: the minion is up and answers.",
    run: |_, _, _| Step::Done(Ret::ok(Value::Bool(true))),
};

/// `test.true`: True (orchestrations' `fail_function` and tests use it).
pub const TRUE: Function = Function {
    name: "test.true",
    params: &[],
    kwargs: false,
    varargs: false,
    doc: "Return True.",
    run: |_, _, _| Step::Done(Ret::ok(Value::Bool(true))),
};

/// `test.false`: False.
pub const FALSE: Function = Function {
    name: "test.false",
    params: &[],
    kwargs: false,
    varargs: false,
    doc: "Return False.",
    run: |_, _, _| Step::Done(Ret::ok(Value::Bool(false))),
};

/// `test.retcode [CODE]`: True, with the job's retcode set to CODE (default 42).
pub const RETCODE: Function = Function {
    name: "test.retcode",
    params: &[Param {
        name: "code",
        default: Default::Int(42),
    }],
    kwargs: false,
    varargs: false,
    doc: "Return True and set the job's retcode to CODE (default 42).",
    run: |_, a, _| {
        let code = a[0]
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(42);
        Step::Done(Ret {
            value: Value::Bool(true),
            retcode: code,
        })
    },
};

/// `test.echo TEXT`: TEXT (after Salt's argument coercion).
pub const ECHO: Function = Function {
    name: "test.echo",
    params: &[Param {
        name: "text",
        default: Default::Required,
    }],
    kwargs: false,
    varargs: false,
    doc: "Return TEXT unchanged (after the usual YAML coercion of arguments).",
    run: |_, a, _| Step::Done(Ret::ok(a[0].clone())),
};

/// `test.version`: the minion's version.
pub const VERSION: Function = Function {
    name: "test.version",
    params: &[],
    kwargs: false,
    varargs: false,
    doc: "Return the minion's brine version.",
    run: |_, _, _| Step::Done(Ret::ok(Value::String(env!("CARGO_PKG_VERSION").into()))),
};

/// `test.sleep LENGTH`: True after LENGTH seconds, without blocking the minion.
pub const SLEEP: Function = Function {
    name: "test.sleep",
    params: &[Param {
        name: "length",
        default: Default::Required,
    }],
    kwargs: false,
    varargs: false,
    doc: "Return True after LENGTH seconds; the minion keeps serving other jobs meanwhile.",
    run: sleep,
};

fn sleep(_: &mut Call<'_>, a: &[Value], _: &Map<String, Value>) -> Step {
    let secs = match &a[0] {
        Value::Number(n) => n.as_f64(),
        other => text(other).trim().parse::<f64>().ok(),
    };
    match secs {
        Some(s) if s >= 0.0 && s.is_finite() && s < 1e9 => {
            Step::After(Duration::from_secs_f64(s), Ret::ok(Value::Bool(true)))
        }
        _ => Step::Done(Ret::fail(format!(
            "Passed invalid arguments: length must be a number of seconds, not '{}'.",
            text(&a[0])
        ))),
    }
}
