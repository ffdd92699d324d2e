//! The `reactor` runner (salt-spec §4.9): the rules in force, changed at run time (in memory
//! only, as in Salt: SIGHUP goes back to the configuration), and brine's dry run.

use super::{Context, Default, Exec, Outcome, Param, Runner};
use serde_json::{Map, Value};

/// `reactor.list`: the rules, `[{glob: [sls, ...]}, ...]` (throttled rules with counts).
pub const LIST: Runner = Runner {
    name: "reactor.list",
    params: &[],
    doc: "List the reactor rules in force; a throttled rule shows its throttle and how many events it suppressed.",
    exec: Exec::Master(|ctx, _| Outcome::ok(ctx.reactor_list())),
};

/// `reactor.add EVENT reactors=SLS`: a rule for a new tag glob.
pub const ADD: Runner = Runner {
    name: "reactor.add",
    params: &[
        Param {
            name: "event",
            default: Default::Required,
        },
        Param {
            name: "reactors",
            default: Default::Required,
        },
    ],
    doc: "Add a rule from the tag glob EVENT to REACTORS (a path or a list of paths), until the next reload.",
    exec: Exec::Master(add),
};

/// `reactor.delete EVENT`: removes the rule for a tag glob.
pub const DELETE: Runner = Runner {
    name: "reactor.delete",
    params: &[Param {
        name: "event",
        default: Default::Required,
    }],
    doc: "Remove the rule for the tag glob EVENT, until the next reload.",
    exec: Exec::Master(delete),
};

/// `reactor.test TAG [DATA]`: the dry run.
pub const TEST: Runner = Runner {
    name: "reactor.test",
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
    doc: "Dry run: which rules an event TAG with DATA (a map) matches, the rendered text of each file, and the reactions with their resolved arguments, running nothing.",
    exec: Exec::Master(test),
};

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => crate::py::python_str(other),
    }
}

fn add(ctx: &mut dyn Context, a: &[Value]) -> Outcome {
    let sls: Vec<String> = match &a[1] {
        Value::Array(v) => v.iter().map(text).collect(),
        other => vec![text(other)],
    };
    Outcome::ok(ctx.reactor_add(&text(&a[0]), sls))
}

fn delete(ctx: &mut dyn Context, a: &[Value]) -> Outcome {
    Outcome::ok(ctx.reactor_delete(&text(&a[0])))
}

fn test(ctx: &mut dyn Context, a: &[Value]) -> Outcome {
    let data = match &a[1] {
        Value::Null => Map::new(),
        Value::Object(m) => m.clone(),
        other => {
            return Outcome::exception(
                "reactor.test",
                &format!("data must be a map, not {}", crate::py::python_str(other)),
            )
        }
    };
    Outcome::ok(ctx.reactor_test(&text(&a[0]), data))
}
