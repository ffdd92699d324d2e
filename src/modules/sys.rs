//! The `sys` execution module: what functions the minion has.

use super::{text, Function, Ret, Step, FUNCTIONS};
use serde_json::{Map, Value};

/// `sys.list_functions [MODULE ...]`.
pub const LIST_FUNCTIONS: Function = Function {
    name: "sys.list_functions",
    params: &[],
    kwargs: false,
    varargs: true,
    doc: "List the functions of the given modules (or globs of function names), or all of them.",
    run: |_, a, _| {
        let names: Vec<Value> = FUNCTIONS
            .iter()
            .filter(|f| selected(f.name, a))
            .map(|f| Value::String(f.name.into()))
            .collect();
        Step::Done(Ret::ok(Value::Array(names)))
    },
};

/// `sys.doc [NAME ...]`.
pub const DOC: Function = Function {
    name: "sys.doc",
    params: &[],
    kwargs: false,
    varargs: true,
    doc:
        "Return the documentation of the given functions or modules (or globs), or of all of them.",
    run: |_, a, _| {
        let docs: Map<String, Value> = FUNCTIONS
            .iter()
            .filter(|f| selected(f.name, a))
            .map(|f| (f.name.to_string(), Value::String(f.doc.into())))
            .collect();
        Step::Done(Ret::ok(Value::Object(docs)))
    },
};

/// A function is selected by its module name, its full name, or a glob over it.
fn selected(name: &str, wanted: &[Value]) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let module = name.split('.').next().unwrap_or(name);
    wanted.iter().map(text).any(|w| {
        w == module
            || w == name
            || w.strip_suffix('.') == Some(module)
            || crate::matcher::fnmatch(name, &w)
    })
}
