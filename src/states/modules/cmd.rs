//! The `cmd.*` states: `cmd.run`, `cmd.wait` (runs only when watched), `cmd.script` (a
//! `salt://` script) and their `mod_watch`, with `cwd`, `runas`, `env`, `shell`, `timeout`,
//! `stateful` and `success_retcodes`, as Salt 3007 reports them.

use serde_json::{Map, Value};

use crate::py::python_str;
use crate::states::command::{self, CmdOpts, Output};
use crate::states::{ret, Ctx};

fn name(args: &Map<String, Value>) -> String {
    args.get("name").map(python_str).unwrap_or_default()
}

/// `env` as a list of one-key maps or one map; `Err` for any other shape.
fn env_of(v: Option<&Value>) -> Result<Vec<(String, String)>, ()> {
    let mut out = Vec::new();
    let mut add = |m: &Map<String, Value>| {
        for (k, v) in m {
            out.push((k.clone(), python_str(v)));
        }
    };
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => add(m),
        Some(Value::Array(list)) => {
            for item in list {
                match item {
                    Value::Object(m) => add(m),
                    _ => return Err(()),
                }
            }
        }
        Some(_) => return Err(()),
    }
    Ok(out)
}

/// The command options a chunk gives (shared with `onlyif`/`unless`).
pub fn cmd_opts(ctx_grains: &Map<String, Value>, args: &Map<String, Value>) -> CmdOpts {
    let s = |k: &str| {
        args.get(k)
            .filter(|v| !v.is_null())
            .map(python_str)
            .filter(|s| !s.is_empty())
    };
    CmdOpts {
        cwd: s("cwd"),
        runas: s("runas"),
        env: env_of(args.get("env")).unwrap_or_default(),
        shell: s("shell").or_else(|| ctx_grains.get("shell").map(python_str)),
        timeout: args.get("timeout").and_then(|t| match t {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }),
        stdin: None,
    }
}

/// `cmd.run_all`'s map: pid, retcode (0 when `success_retcodes` has it), stdout, stderr.
fn run_all(out: &Output, args: &Map<String, Value>) -> Map<String, Value> {
    let ok: Vec<i64> = match args.get("success_retcodes") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_i64).collect(),
        Some(Value::Number(n)) => n.as_i64().into_iter().collect(),
        _ => Vec::new(),
    };
    let retcode = if ok.contains(&i64::from(out.retcode)) {
        0
    } else {
        out.retcode
    };
    let mut m = Map::new();
    m.insert("pid".into(), out.pid.into());
    m.insert("retcode".into(), retcode.into());
    m.insert("stdout".into(), out.stdout.clone().into());
    m.insert("stderr".into(), out.stderr.clone().into());
    m
}

/// Python's non-POSIX `shlex` with `whitespace_split`, as Salt's `shlex_split` reads a
/// stateful command's last line: a quote starts a token only at its beginning.
fn shlex_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut tok = String::new();
        if c == '\'' || c == '"' {
            tok.push(c);
            chars.next();
            for n in chars.by_ref() {
                tok.push(n);
                if n == c {
                    break;
                }
            }
        } else {
            while let Some(&n) = chars.peek() {
                if n.is_whitespace() {
                    break;
                }
                tok.push(n);
                chars.next();
            }
        }
        out.push(tok);
    }
    out
}

fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "yes" | "true" | "1"),
        _ => false,
    }
}

/// Salt's `_reinterpreted_state`: a `stateful` command's output says what changed.
fn reinterpreted(mut state: Value) -> Value {
    let ret = match state.get_mut("changes").map(Value::take) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    state["changes"] = Value::Object(Map::new());
    state["comment"] = "".into();
    let out = ret.get("stdout").map(python_str).unwrap_or_default();
    if out.is_empty() {
        if let Some(e) = ret.get("stderr").filter(|e| crate::py::truthy(e)) {
            state["comment"] = e.clone();
        }
        return state;
    }
    let mut idx: Option<usize> = None;
    let (mut data, is_json) = match serde_json::from_str::<Value>(&out) {
        Ok(Value::Object(m)) => (m, true),
        Ok(_) => {
            state["comment"] = "script JSON output must be a JSON object (e.g., {})!".into();
            state["result"] = false.into();
            return state;
        }
        Err(_) => {
            let trimmed = out.trim_end();
            let line = match trimmed.rfind('\n') {
                Some(i) => {
                    idx = Some(i);
                    &out[i + 1..]
                }
                None => out.as_str(),
            };
            let mut data = Map::new();
            for item in shlex_words(line) {
                let parts: Vec<&str> = item.split('=').collect();
                if parts.len() != 2 {
                    state["comment"] =
                        "Failed parsing script output! Stdout must be JSON or a line of name=value pairs."
                            .into();
                    state["result"] = false.into();
                    state["changes"] = Value::Object(ret);
                    return state;
                }
                data.insert(parts[0].to_string(), parts[1].into());
            }
            (data, false)
        }
    };
    let changed = data.get("changed").map(is_true).unwrap_or(false);
    if let Some(c) = data.shift_remove("comment") {
        state["comment"] = c;
    }
    if changed {
        for (k, v) in &ret {
            data.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let stdout = if is_json {
            String::new()
        } else {
            let full = data.get("stdout").map(python_str).unwrap_or_default();
            match idx {
                Some(i) => full.chars().take(i).collect(),
                // Python's [:-1] when rfind found nothing.
                None => {
                    let mut s = full;
                    s.pop();
                    s
                }
            }
        };
        data.insert("stdout".into(), stdout.into());
        state["changes"] = Value::Object(data);
    }
    state
}

fn stateful(args: &Map<String, Value>) -> (bool, Option<String>) {
    match args.get("stateful") {
        Some(Value::Array(list)) => {
            let tn = list
                .first()
                .and_then(|m| m.get("test_name"))
                .map(python_str);
            (true, tn)
        }
        Some(v) => (*v == Value::Bool(true), None),
        None => (false, None),
    }
}

/// What `cmd.run` and `cmd.script` check first: the name (`stateful`'s `test_name` in test
/// mode), whether `stateful` is on, its `test_name`, and a well-formed `env`.
fn preflight(
    ctx: &Ctx<'_>,
    args: &Map<String, Value>,
) -> Result<(String, bool, Option<String>), Value> {
    let (is_stateful, test_name) = stateful(args);
    let n = match (&test_name, ctx.test) {
        (Some(t), true) => t.clone(),
        _ => name(args),
    };
    if env_of(args.get("env")).is_err() {
        return Err(ret(
            &n,
            Some(false),
            "Invalidly-formatted 'env' parameter. See documentation.",
            Map::new(),
        ));
    }
    Ok((n, is_stateful, test_name))
}

/// The command options of a chunk, refusing a `cwd` that is not a directory.
fn run_opts(ctx: &Ctx<'_>, n: &str, args: &Map<String, Value>) -> Result<CmdOpts, Value> {
    let opts = cmd_opts(ctx.grains, args);
    if let Some(cwd) = &opts.cwd {
        if !std::path::Path::new(cwd).is_dir() {
            return Err(ret(
                n,
                Some(false),
                format!("Desired working directory \"{cwd}\" is not available"),
                Map::new(),
            ));
        }
    }
    Ok(opts)
}

/// `cmd.run`.
pub fn run(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let (n, is_stateful, test_name) = match preflight(ctx, args) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if ctx.test && test_name.is_none() {
        let mut ch = Map::new();
        ch.insert("cmd".into(), n.clone().into());
        let r = ret(
            &n,
            None,
            format!("Command \"{n}\" would have been executed"),
            ch,
        );
        return if is_stateful { reinterpreted(r) } else { r };
    }
    let opts = match run_opts(ctx, &n, args) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let comment = format!("Command \"{n}\" run");
    finish(ctx, &n, command::run(&n, &opts), args, comment, is_stateful)
}

/// The return of a command that ran: `cmd.run_all`'s map as changes, result from its
/// retcode, reinterpreted when `stateful`, None in test mode when it changed something.
fn finish(
    ctx: &Ctx<'_>,
    n: &str,
    out: Result<Output, command::CmdError>,
    args: &Map<String, Value>,
    comment: String,
    is_stateful: bool,
) -> Value {
    let out = match out {
        Ok(o) => o,
        Err(e) => return ret(n, Some(false), e.to_string(), Map::new()),
    };
    let all = run_all(&out, args);
    let ok = all.get("retcode").and_then(Value::as_i64) == Some(0);
    let mut r = ret(n, Some(ok), comment, all);
    if is_stateful {
        r = reinterpreted(r);
    }
    if ctx.test && ok && r.get("changes").is_some_and(crate::py::truthy) {
        r["result"] = Value::Null;
    }
    r
}

/// `cmd.wait`: nothing unless a watched state changed (then `mod_watch` runs it).
pub fn wait(_ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    ret(&name(args), Some(true), "", Map::new())
}

/// `cmd.script`: `source` (default the name) fetched from the file server and run with
/// `args` by the shell.
pub fn script(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let (n, is_stateful, test_name) = match preflight(ctx, args) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let source = args
        .get("source")
        .filter(|v| !v.is_null())
        .map(python_str)
        .unwrap_or_else(|| n.clone());
    let mut script_args = args
        .get("args")
        .filter(|v| crate::py::truthy(v))
        .map(python_str);
    if script_args.is_none() {
        if let Some((_, rest)) = n.split_once(' ') {
            script_args = Some(rest.to_string());
        }
    }
    if ctx.test && test_name.is_none() {
        let r = ret(
            &n,
            None,
            format!("Command '{n}' would have been executed"),
            Map::new(),
        );
        return if is_stateful { reinterpreted(r) } else { r };
    }
    let opts = match run_opts(ctx, &n, args) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let saltenv = args
        .get("saltenv")
        .map(python_str)
        .unwrap_or_else(|| ctx.saltenv.to_string());
    let local = match crate::fileserver::url::split_url(&source) {
        Some((path, env)) => {
            let env = env.unwrap_or(saltenv.clone());
            match ctx.files.get(&env, &path) {
                Ok(Some(p)) => p,
                Ok(None) | Err(_) => {
                    return ret(
                        &n,
                        Some(false),
                        format!("Unable to cache script {source} from saltenv '{env}'"),
                        Map::new(),
                    )
                }
            }
        }
        None => std::path::PathBuf::from(&source),
    };
    if !local.is_file() {
        return ret(
            &n,
            Some(false),
            format!("Unable to cache script {source} from saltenv '{saltenv}'"),
            Map::new(),
        );
    }
    // Run a private copy in a fresh 0700 directory: the cached file stays as the cache
    // keeps it, and no other user can swap the script between copy and run.
    let dir = std::env::temp_dir().join(format!(
        "brine-script-{}-{}",
        std::process::id(),
        crate::crypto::random_u32(u32::MAX)
    ));
    {
        use std::os::unix::fs::DirBuilderExt;
        if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            return ret(
                &n,
                Some(false),
                format!("Unable to run script: {e}"),
                Map::new(),
            );
        }
    }
    let copy = dir.join(local.file_name().unwrap_or_default());
    if let Err(e) = std::fs::copy(&local, &copy) {
        let _ = std::fs::remove_dir_all(&dir);
        return ret(
            &n,
            Some(false),
            format!("Unable to run script: {e}"),
            Map::new(),
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o700));
    let quoted = format!("'{}'", copy.display().to_string().replace('\'', "'\\''"));
    let cmd = match &script_args {
        Some(a) => format!("{quoted} {a}"),
        None => quoted,
    };
    let out_result = command::run(&cmd, &opts);
    let _ = std::fs::remove_dir_all(&dir);
    finish(
        ctx,
        &n,
        out_result,
        args,
        format!("Command '{n}' run"),
        is_stateful,
    )
}

/// `cmd.mod_watch`: runs the watched `cmd.run`/`cmd.wait` or `cmd.script`.
pub fn mod_watch(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let sfun = args.get("sfun").map(python_str).unwrap_or_default();
    match sfun.as_str() {
        "wait" | "run" | "watch" => run(ctx, args),
        "wait_script" | "script" => script(ctx, args),
        other => ret(
            &name(args),
            Some(false),
            format!("cmd.{other} does not work with the watch requisite, please use cmd.wait or cmd.wait_script"),
            Map::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shlex_keeps_quotes_only_at_token_starts() {
        assert_eq!(
            shlex_words("changed=yes comment='did it'"),
            ["changed=yes", "comment='did", "it'"]
        );
        assert_eq!(shlex_words("a 'b c' d"), ["a", "'b c'", "d"]);
    }
}
