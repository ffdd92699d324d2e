//! The `event` and `state` runners that touch the bus.

use super::{Context, Default, Exec, Outcome, Param, Runner};
use serde_json::{Map, Value};

/// `event.send TAG [DATA]`: fires DATA (not wrapped) on the master bus under TAG.
pub const SEND: Runner = Runner {
    name: "event.send",
    params: &[
        Param {
            name: "tag",
            default: Default::Required,
        },
        Param {
            name: "data",
            default: Default::Null,
        },
    ],
    doc: "Fire DATA (a map, default {}) on the master event bus under TAG; returns True.",
    exec: Exec::Master(send),
};

/// `state.event [tagmatch] [count] [quiet] [pretty]`: a listener, run by brine-run itself.
pub const STATE_EVENT: Runner = Runner {
    name: "state.event",
    params: &[
        Param {
            name: "tagmatch",
            default: Default::Str("*"),
        },
        Param {
            name: "count",
            default: Default::Int(-1),
        },
        Param {
            name: "quiet",
            default: Default::Bool(false),
        },
        Param {
            name: "sock_dir",
            default: Default::Null,
        },
        Param {
            name: "pretty",
            default: Default::Bool(false),
        },
        Param {
            name: "node",
            default: Default::Str("master"),
        },
    ],
    doc: "Print events whose tag matches TAGMATCH (glob or regex) as `tag<TAB>json`, COUNT of them (-1: forever).",
    exec: Exec::Client,
};

fn send(ctx: &mut dyn Context, args: &[Value]) -> Outcome {
    let tag = match args.first() {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let data = match args.get(1) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Outcome::exception(
                "event.send",
                &format!(
                    "ValueError: Dict object expected, not '{}'.",
                    crate::py::python_str(other)
                ),
            )
        }
    };
    match ctx.fire(&tag, data) {
        Ok(()) => Outcome::ok(Value::Bool(true)),
        Err(e) => Outcome::exception("event.send", &format!("ValueError: {e}")),
    }
}
