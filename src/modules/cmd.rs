//! The `cmd` execution module: shell commands, run as child processes of the minion's
//! event loop (their pipes and deadline live in the loop; nothing blocks).

use super::{text, truthy, ChildResult, ChildSpec, Function, Ret, Step};
use crate::signature::{Default, Param};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const PARAMS: &[Param] = &[
    Param {
        name: "cmd",
        default: Default::Required,
    },
    Param {
        name: "cwd",
        default: Default::Null,
    },
    Param {
        name: "stdin",
        default: Default::Null,
    },
    Param {
        name: "runas",
        default: Default::Null,
    },
    Param {
        name: "shell",
        default: Default::Str("/bin/sh"),
    },
    Param {
        name: "python_shell",
        default: Default::Null,
    },
    Param {
        name: "env",
        default: Default::Null,
    },
    Param {
        name: "clean_env",
        default: Default::Bool(false),
    },
    Param {
        name: "rstrip",
        default: Default::Bool(true),
    },
    Param {
        name: "timeout",
        default: Default::Null,
    },
    Param {
        name: "ignore_retcode",
        default: Default::Bool(false),
    },
];

/// `cmd.run CMD`: the combined output as one string; the exit status is the job retcode.
pub const RUN: Function = Function {
    name: "cmd.run",
    params: PARAMS,
    kwargs: true,
    varargs: false,
    doc: "Run CMD in a shell and return its stdout and stderr as one string (trailing whitespace stripped with rstrip); a non-zero exit status becomes the job's retcode. Options: cwd, stdin, runas, shell, python_shell, env, clean_env, timeout (seconds, then the command is killed).",
    run: |c, a, kw| spawn(c.minion.config().id.as_str(), a, kw, true, finish_run),
};

/// `cmd.run_all CMD`: {pid, retcode, stdout, stderr}.
pub const RUN_ALL: Function = Function {
    name: "cmd.run_all",
    params: PARAMS,
    kwargs: true,
    varargs: false,
    doc: "Run CMD and return a map with pid, retcode, stdout and stderr.",
    run: |c, a, kw| spawn(c.minion.config().id.as_str(), a, kw, false, finish_run_all),
};

/// `cmd.retcode CMD`: the exit status.
pub const RETCODE: Function = Function {
    name: "cmd.retcode",
    params: PARAMS,
    kwargs: true,
    varargs: false,
    doc: "Run CMD and return its exit status.",
    run: |c, a, kw| spawn(c.minion.config().id.as_str(), a, kw, true, finish_retcode),
};

/// Splits a command line as a POSIX shell would, without running one (python_shell=False).
fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(x) => cur.push(x),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn spawn(
    _id: &str,
    a: &[Value],
    _kw: &Map<String, Value>,
    merge_stderr: bool,
    finish: fn(&ChildSpec, &ChildResult) -> Ret,
) -> Step {
    let cmd = text(&a[0]);
    let shell = match &a[4] {
        Value::Null => "/bin/sh".to_string(),
        v => text(v),
    };
    let argv = if a[5] == Value::Bool(false) {
        match shell_split(&cmd) {
            Ok(v) if !v.is_empty() => v,
            Ok(_) => return Step::Done(Ret::fail("cmd is empty")),
            Err(e) => return Step::Done(Ret::fail(format!("cannot split the command: {e}"))),
        }
    } else {
        vec![shell, "-c".into(), cmd]
    };
    let mut env = BTreeMap::new();
    match &a[6] {
        Value::Null => {}
        Value::Object(m) => {
            for (k, v) in m {
                env.insert(k.clone(), text(v));
            }
        }
        Value::Array(items) => {
            // Salt also takes a list of one-key maps.
            for item in items {
                if let Value::Object(m) = item {
                    for (k, v) in m {
                        env.insert(k.clone(), text(v));
                    }
                }
            }
        }
        other => {
            return Step::Done(Ret::fail(format!(
                "Invalid input: env must be a map, not '{}'",
                text(other)
            )))
        }
    }
    let timeout = match &a[9] {
        Value::Null => None,
        v => match v.as_f64().or_else(|| text(v).parse().ok()) {
            Some(t) if t > 0.0 && t.is_finite() => Some(crate::clock::seconds(t)),
            _ => return Step::Done(Ret::fail(format!("Invalid timeout '{}'", text(v)))),
        },
    };
    let spec = ChildSpec {
        argv,
        cwd: match &a[1] {
            Value::Null => None,
            v => Some(text(v).into()),
        },
        env,
        clean_env: truthy(&a[7]),
        stdin: match &a[2] {
            Value::Null => Vec::new(),
            v => text(v).into_bytes(),
        },
        runas: match &a[3] {
            Value::Null => None,
            v => Some(text(v)),
        },
        timeout,
        merge_stderr,
        rstrip: truthy(&a[8]),
    };
    Step::Child(spec, finish)
}

fn out_text(spec: &ChildSpec, bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if spec.rstrip {
        s.trim_end().to_string()
    } else {
        s.into_owned()
    }
}

fn failed_to_start(r: &ChildResult) -> Option<Ret> {
    r.spawn_error.as_ref().map(|e| Ret::fail(e.clone()))
}

fn timed_out(spec: &ChildSpec) -> String {
    format!(
        "Timed out after {} seconds",
        spec.timeout.map(|t| t.as_secs_f64()).unwrap_or(0.0)
    )
}

fn finish_run(spec: &ChildSpec, r: &ChildResult) -> Ret {
    if let Some(f) = failed_to_start(r) {
        return f;
    }
    if r.timed_out {
        return Ret::fail(timed_out(spec));
    }
    if r.status != 0 {
        log::error!(
            "Command '{}' failed with return code: {}",
            spec.argv.join(" "),
            r.status
        );
    }
    Ret {
        value: Value::String(out_text(spec, &r.stdout)),
        retcode: r.status,
    }
}

fn finish_run_all(spec: &ChildSpec, r: &ChildResult) -> Ret {
    if let Some(f) = failed_to_start(r) {
        return f;
    }
    let (stdout, retcode) = if r.timed_out {
        (timed_out(spec), Value::Null)
    } else {
        (out_text(spec, &r.stdout), json!(r.status))
    };
    Ret::ok(json!({
        "pid": r.pid,
        "retcode": retcode,
        "stderr": out_text(spec, &r.stderr),
        "stdout": stdout,
    }))
}

fn finish_retcode(spec: &ChildSpec, r: &ChildResult) -> Ret {
    if let Some(f) = failed_to_start(r) {
        return f;
    }
    if r.timed_out {
        return Ret::fail(timed_out(spec));
    }
    Ret::ok(json!(r.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            shell_split(r#"echo 'a b' "c \"d\"" e\ f"#).unwrap(),
            ["echo", "a b", "c \"d\"", "e f"]
        );
        assert!(shell_split("echo 'oops").is_err());
        assert_eq!(shell_split("").unwrap(), Vec::<String>::new());
    }
}
