//! The `test.*` states: functions that succeed or fail, with or without changes, on demand,
//! with Salt 3007's comments in normal and test mode, and their `mod_watch`.

use serde_json::{json, Map, Value};

use crate::py::python_str;
use crate::states::{ret, Ctx};

fn name(args: &Map<String, Value>) -> String {
    args.get("name").map(python_str).unwrap_or_default()
}

fn comment(args: &Map<String, Value>, default: &str) -> String {
    args.get("comment")
        .map(python_str)
        .unwrap_or_else(|| default.to_string())
}

/// The changes every pretend state reports.
fn pretend() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "testing".into(),
        json!({"old": "Unchanged", "new": "Something pretended to change"}),
    );
    m
}

/// `test.nop`: succeeds, changes nothing (its `comment` is ignored, as Salt's is).
pub fn nop(_ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    ret(&name(args), Some(true), "Success!", Map::new())
}

/// `test.succeed_without_changes`.
pub fn succeed_without_changes(_ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    ret(
        &name(args),
        Some(true),
        comment(args, "Success!"),
        Map::new(),
    )
}

/// `test.fail_without_changes`.
pub fn fail_without_changes(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let c = if ctx.test {
        "If we weren't testing, this would be a failure!".to_string()
    } else {
        comment(args, "Failure!")
    };
    ret(&name(args), Some(false), c, Map::new())
}

/// `test.succeed_with_changes`.
pub fn succeed_with_changes(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    if ctx.test {
        let c = "If we weren't testing, this would be successful with changes";
        return ret(&name(args), None, c, pretend());
    }
    ret(
        &name(args),
        Some(true),
        comment(args, "Success!"),
        pretend(),
    )
}

/// `test.fail_with_changes`.
pub fn fail_with_changes(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    if ctx.test {
        let c = "If we weren't testing, this would be failed with changes";
        return ret(&name(args), None, c, pretend());
    }
    ret(
        &name(args),
        Some(false),
        comment(args, "Failure!"),
        pretend(),
    )
}

/// Salt's answer when a state gets an argument of the wrong kind (its SaltInvocationError).
fn invocation_error(name: &str, msg: &str) -> Value {
    ret(
        name,
        Some(false),
        format!("An exception occurred in this state: SaltInvocationError: {msg}"),
        Map::new(),
    )
}

/// `test.configurable_test_state`: `changes`, `result` (each True, False or "Random"),
/// `comment`, `warnings`, `allow_test_mode_failure`.
pub fn configurable_test_state(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let n = name(args);
    let random = |v: &Value| python_str(v).eq_ignore_ascii_case("random");
    let coin = || {
        let mut b = [0u8; 1];
        crate::crypto::random_bytes(&mut b);
        b[0] & 1 == 1
    };
    let changes_arg = args.get("changes").cloned().unwrap_or(Value::Bool(true));
    let changes = match &changes_arg {
        Value::Bool(b) => *b,
        v if random(v) => coin(),
        _ => {
            return invocation_error(
                &n,
                "You have specified the state option 'changes' with invalid arguments. It must be either True, False, or 'Random'",
            )
        }
    };
    let result_arg = args.get("result").cloned().unwrap_or(Value::Bool(true));
    let result = match &result_arg {
        Value::Bool(b) => *b,
        v if random(v) => coin(),
        _ => {
            return invocation_error(
                &n,
                "You have specified the state option 'result' with invalid arguments. It must be either True, False, or 'Random'",
            )
        }
    };
    let comment = args.get("comment").map(python_str).unwrap_or_default();
    let warnings = match args.get("warnings") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(vec![Value::String(s.clone())]),
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => {
            return invocation_error(
                &n,
                "You have specified the state option 'warnings' with invalid arguments. It must be a string or a list of strings",
            )
        }
    };
    let ch = if changes { pretend() } else { Map::new() };
    let mut r = ret(&n, Some(result), comment.clone(), ch);
    if let Some(w) = warnings {
        r["warnings"] = Value::Array(w);
    }
    if ctx.test {
        let allow = args
            .get("allow_test_mode_failure")
            .is_some_and(crate::py::truthy);
        let test_result = if allow && result_arg == Value::Bool(false) {
            Value::Bool(false)
        } else if changes_arg == Value::Bool(false) {
            Value::Bool(true)
        } else {
            Value::Null
        };
        r["result"] = test_result;
        r["comment"] = if comment.is_empty() {
            "This is a test".into()
        } else {
            comment.into()
        };
    }
    r
}

/// `test.show_notification`: `text` as the comment.
pub fn show_notification(_ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let n = name(args);
    match args.get("text").filter(|t| crate::py::truthy(t)) {
        Some(t) => ret(&n, Some(true), python_str(t), Map::new()),
        None => invocation_error(&n, "Missing required argument text."),
    }
}

/// `test.mod_watch`: "Watch statement fired." with the watched states that changed.
pub fn mod_watch(_ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), name(args).into());
    m.insert(
        "result".into(),
        args.get("result").cloned().unwrap_or(Value::Bool(true)),
    );
    m.insert(
        "comment".into(),
        args.get("comment")
            .cloned()
            .unwrap_or_else(|| "Watch statement fired.".into()),
    );
    let changed = args
        .get("__watch_changes__")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    m.insert(
        "changes".into(),
        args.get("changes")
            .cloned()
            .unwrap_or_else(|| json!({"Requisites with changes": changed})),
    );
    Value::Object(m)
}
