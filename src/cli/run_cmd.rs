//! `brine-run`: call a runner function on the master and print what it returns.

use super::event_cmd::{self, Format, Watch, WatchError};
use super::output::{self, Outputter};
use super::{conf_dir, fail, tools, EXIT_USAGE};
use crate::client::{self, BusClient, ClientError};
use crate::config::MasterConfig;
use crate::jobs::JidGen;
use crate::master::Request;
use crate::runners::{self, Exec};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::time::{Duration, SystemTime};

/// How long brine-run waits for the master's answer when `-t` is not given.
const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

fn print(out: Outputter, v: &Value) {
    let text = output::render(out, v);
    if !text.is_empty() {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{text}");
    }
}

/// Runs brine-run with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::RUN;
    let parsed = match super::start(tool, args) {
        Ok(p) => p,
        Err(status) => return status,
    };
    if let Err(status) = super::client_log(tool, &parsed) {
        return status;
    }
    let out = match super::outputter(tool, &parsed) {
        Ok(o) => o,
        Err(status) => return status,
    };
    let timeout = match super::seconds(tool, &parsed, "timeout", DEFAULT_ANSWER_TIMEOUT) {
        Ok(t) => t,
        Err(status) => return status,
    };
    let Some((fun, words)) = parsed.positionals.split_first() else {
        return fail(
            tool.name,
            "no function given (see brine-run --help)",
            EXIT_USAGE,
        );
    };
    let dir = conf_dir(&parsed);
    let cfg = match MasterConfig::load(&dir) {
        Ok((cfg, _)) => cfg,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let (arg, kwarg) = crate::py::args::parse_input(words);
    let socket = client::master_socket(&cfg.sock_dir);
    if let Some(runner) = runners::find(fun) {
        if let Exec::Client = runner.exec {
            return client_side(runner, &cfg, &socket, arg, kwarg, out);
        }
    }
    let mut bus = match BusClient::connect(&socket) {
        Ok(b) => b,
        Err(ClientError::NoDaemon(p)) => {
            return fail(
                tool.name,
                format!("no master at {} (is brine-master running?)", p.display()),
                EXIT_USAGE,
            )
        }
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let req = Request {
        fun: fun.clone(),
        arg,
        kwarg,
        user: Some(client::calling_user()),
        send_return: false,
    };
    match bus.call(&req, Some(timeout)) {
        Ok(answer) => {
            print(out, &answer.ret);
            answer.retcode
        }
        Err(e) => fail(tool.name, e, 1),
    }
}

/// Runs a streaming runner in this process, firing its run events as Salt's RunnerClient
/// does from the salt-run process.
fn client_side(
    runner: &runners::Runner,
    cfg: &MasterConfig,
    socket: &std::path::Path,
    arg: Vec<Value>,
    kwarg: Map<String, Value>,
    out: Outputter,
) -> i32 {
    let name = tools::RUN.name;
    let bound = match runners::bind(runner, &arg, &kwarg) {
        Ok(b) => b,
        Err(e) => {
            print(
                out,
                &Value::String(format!("Passed invalid arguments: {e}.")),
            );
            return 1;
        }
    };
    let mut bus = match BusClient::connect(socket) {
        Ok(b) => b,
        Err(ClientError::NoDaemon(p)) => {
            return fail(
                name,
                format!("no master at {} (is brine-master running?)", p.display()),
                EXIT_USAGE,
            )
        }
        Err(e) => return fail(name, e, EXIT_USAGE),
    };
    let jid = JidGen::new().next(SystemTime::now());
    let mut load = Map::new();
    load.insert("fun".into(), json!(format!("runner.{}", runner.name)));
    load.insert("jid".into(), json!(jid));
    load.insert("user".into(), json!(client::calling_user()));
    load.insert("fun_args".into(), runners::fun_args(&arg, &kwarg));
    let _ = bus.fire(
        &format!("salt/run/{jid}/new"),
        load.clone(),
        cfg.max_event_size,
    );
    // state.event is the only client-side runner: (tagmatch, count, quiet, sock_dir, pretty, node).
    let tagmatch = match &bound[0] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let count = bound[1].as_i64().unwrap_or(-1);
    let truthy = |v: &Value| matches!(v, Value::Bool(true)) || v.as_i64().is_some_and(|n| n != 0);
    let format = if truthy(&bound[2]) {
        Format::Quiet
    } else if truthy(&bound[4]) {
        Format::Pretty
    } else {
        Format::Line
    };
    let watch_socket = match (&bound[3], bound[5].as_str()) {
        (Value::String(dir), Some("minion")) => client::minion_socket(dir.as_ref()),
        (Value::String(dir), _) => client::master_socket(dir.as_ref()),
        (_, Some(node)) if node != "master" => match event_cmd::node_socket(&cfg.conf_dir, node) {
            Ok(p) => p,
            Err(e) => return fail(name, e, EXIT_USAGE),
        },
        _ => socket.to_path_buf(),
    };
    let result = event_cmd::watch(&Watch {
        socket: &watch_socket,
        tagmatch: &tagmatch,
        count,
        format,
    });
    let (ret, success) = match result {
        Ok(()) => (Value::Bool(true), true),
        Err(WatchError::NoDaemon(p)) => (
            Value::String(format!("no event bus at {}", p.display())),
            false,
        ),
        Err(WatchError::Client(e)) => (Value::String(e.to_string()), false),
    };
    load.insert("return".into(), ret.clone());
    load.insert("success".into(), json!(success));
    let _ = bus.fire(&format!("salt/run/{jid}/ret"), load, cfg.max_event_size);
    print(out, &ret);
    if success {
        0
    } else {
        1
    }
}
