//! `brine-run`: call a runner function on the master and print what it returns.

use super::args;
use super::event_cmd::{self, Format, Watch, WatchError};
use super::flags::{CliError, Parsed};
use super::highstate::HighstateOpts;
use super::output::{self, Outputter};
use super::tools::{self, RunFlag};
use super::{connect_master, fail, EXIT_USAGE};
use crate::bus::Request;
use crate::client;
use crate::config::MasterConfig;
use crate::jobs::JidGen;
use crate::runners::{self, Exec};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How long brine-run waits for the master's answer when `-t` is not given.
const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// How brine-run prints what a runner returns.
struct Printer {
    /// The --out choice; `None` lets the return decide.
    out: Option<Outputter>,
    highstate: HighstateOpts,
}

impl Printer {
    fn print(&self, v: &Value) {
        let (out, v) = self.choose(v);
        let text = output::render_with(out, v, &self.highstate);
        if !text.is_empty() {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{text}");
        }
    }

    /// salt-run's rule: a return that names its `outputter` (state.orchestrate's
    /// `{data, outputter: highstate, retcode}`) is printed with it, and when the two are its
    /// only keys, only `data` is printed; an outputter brine lacks is nested.
    fn choose<'a>(&self, v: &'a Value) -> (Outputter, &'a Value) {
        let named = v.get("outputter").and_then(Value::as_str);
        let out = self.out.unwrap_or_else(|| {
            named
                .and_then(Outputter::from_name)
                .unwrap_or(Outputter::Nested)
        });
        match v {
            Value::Object(m) if named.is_some() && m.len() == 2 && m.contains_key("data") => {
                (out, &m["data"])
            }
            _ => (out, v),
        }
    }
}

/// What brine-run's command line asks for, checked.
struct RunArgs {
    conf_dir: PathBuf,
    log_level: log::LevelFilter,
    /// The --out choice; `None` lets the return decide.
    out: Option<Outputter>,
    /// --state-output and --state-verbose, over the configuration's.
    state_output: Option<String>,
    state_verbose: Option<bool>,
    /// How long to wait for the master's answer.
    timeout: Duration,
    /// `-t` was given.
    timeout_given: bool,
    fun: String,
    /// The argument words, parsed as Salt parses them once the configuration is read.
    words: Vec<String>,
}

impl RunArgs {
    fn from_parsed(p: Parsed<RunFlag>) -> Result<RunArgs, CliError> {
        let log_level = args::log_level(p.value(RunFlag::LogLevel))?;
        let out = args::outputter_choice(p.value(RunFlag::Out))?;
        let state_output = args::state_output(p.value(RunFlag::StateOutput))?;
        let state_verbose = args::state_verbose(p.value(RunFlag::StateVerbose))?;
        let given = args::seconds(&p, RunFlag::Timeout)?;
        let timeout_given = given.is_some();
        let timeout = given.unwrap_or(DEFAULT_ANSWER_TIMEOUT);
        let conf_dir = args::conf_dir(p.value(RunFlag::ConfigDir));
        let (fun, words) = args::function(p.positionals, &tools::RUN)?;
        Ok(RunArgs {
            conf_dir,
            log_level,
            out,
            state_output,
            state_verbose,
            timeout,
            timeout_given,
            fun,
            words,
        })
    }
}

/// Runs brine-run with these arguments; returns the exit status.
pub fn main(argv: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::RUN;
    let a = match args::build(tool, argv, RunArgs::from_parsed) {
        Ok(a) => a,
        Err(status) => return status,
    };
    args::init_log(tool, a.log_level);
    let cfg = match MasterConfig::load(&a.conf_dir) {
        Ok((cfg, _)) => cfg,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let (arg, kwarg) = crate::py::args::parse_input(&a.words);
    let socket = client::master_socket(&cfg.sock_dir);
    let printer = Printer {
        out: a.out,
        highstate: args::highstate_opts(&cfg.values(), a.state_output.as_deref(), a.state_verbose),
    };
    if let Some(runner) = runners::find(&a.fun) {
        if let Exec::Client = runner.exec {
            return client_side(runner, &cfg, &socket, arg, kwarg, &printer);
        }
    }
    let mut bus = match connect_master(tool.name, &socket) {
        Ok(b) => b,
        Err(status) => return status,
    };
    // An orchestration answers when it ends, which may be long after any fixed wait:
    // brine-run waits for it unless -t says otherwise.
    let orchestrates = runners::find(&a.fun).is_some_and(|r| matches!(r.exec, Exec::Orchestrate));
    let timeout = if orchestrates && !a.timeout_given {
        None
    } else {
        Some(a.timeout)
    };
    let req = Request {
        fun: a.fun.clone(),
        arg,
        kwarg,
        user: Some(client::calling_user()),
        send_return: false,
    };
    if a.fun == "state.over" && printer.out.is_none() {
        return over(&mut bus, &req, timeout, &printer);
    }
    match bus.call(&req, timeout) {
        Ok(answer) => {
            printer.print(&answer.ret);
            answer.retcode
        }
        Err(e) => fail(tool.name, e, 1),
    }
}

/// `state.over` as the OverState printed it: its progress events as they come (the stage
/// lines, each stage's block, the minions' results with the highstate outputter), then the
/// return with the nested outputter.
fn over(
    bus: &mut client::BusClient,
    req: &Request,
    timeout: Option<Duration>,
    printer: &Printer,
) -> i32 {
    let name = tools::RUN.name;
    if let Err(e) = bus.subscribe(crate::matcher::MatchType::StartsWith, "salt/run/") {
        return fail(name, e, 1);
    }
    let user = req.user.clone().unwrap_or_default();
    let mut mine: Option<String> = None;
    let mut show = |ev: client::OwnedEvent| {
        let parts: Vec<&str> = ev.tag.split('/').collect();
        let [_, _, jid, what] = parts.as_slice() else {
            return;
        };
        if *what == "new"
            && mine.is_none()
            && ev.data.get("fun").and_then(Value::as_str) == Some("runner.state.over")
            && ev.data.get("user").and_then(Value::as_str) == Some(user.as_str())
        {
            mine = Some(jid.to_string());
        }
        if *what != "progress" || mine.as_deref() != Some(*jid) {
            return;
        }
        let text = over_progress(&ev.data, printer);
        if !text.is_empty() {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    };
    let answer = match bus.call_watching(req, timeout, &mut show) {
        Ok(a) => a,
        Err(e) => return fail(name, e, 1),
    };
    // The answer can overtake the last progress events: read on to the run's ret event.
    if let Some(jid) = answer.jid.clone() {
        let end = std::time::Instant::now() + OVER_DRAIN;
        let ret_tag = format!("salt/run/{jid}/ret");
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            match bus.next_event(Some(left)) {
                Ok(ev) if ev.tag == ret_tag => break,
                Ok(ev) => show(ev),
                Err(_) => break,
            }
        }
    }
    printer.print(&answer.ret);
    answer.retcode
}

/// How long brine-run reads on after state.over's answer for progress events still coming.
const OVER_DRAIN: Duration = Duration::from_secs(5);

/// One OverState progress event as the 2015.5 CLI printed it.
fn over_progress(data: &Map<String, Value>, printer: &Printer) -> String {
    if let Some(m) = data.get("message").and_then(Value::as_str) {
        return m.to_string();
    }
    let d = data.get("data").unwrap_or(&Value::Null);
    match data.get("outputter").and_then(Value::as_str) {
        Some("overstatestage") => overstatestage(d),
        Some("highstate") => output::render_with(Outputter::Highstate, d, &printer.highstate),
        _ => output::render_with(Outputter::Nested, d, &printer.highstate),
    }
}

/// Salt's `overstatestage` outputter: each stage's name, then its keys in order, each
/// value as Python prints it.
fn overstatestage(stages: &Value) -> String {
    let mut out = String::new();
    for stage in stages.as_array().into_iter().flatten() {
        for (name, body) in stage.as_object().into_iter().flatten() {
            out.push_str(&format!("{name}: \n"));
            let mut keys: Vec<(&String, &Value)> = body.as_object().into_iter().flatten().collect();
            keys.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in keys {
                out.push_str(&format!("    {k}: {}\n", crate::py::python_str(v)));
            }
        }
    }
    out.trim_end().to_string()
}

/// Runs a streaming runner in this process, firing its run events as Salt's RunnerClient
/// does from the salt-run process.
fn client_side(
    runner: &runners::Runner,
    cfg: &MasterConfig,
    socket: &std::path::Path,
    arg: Vec<Value>,
    kwarg: Map<String, Value>,
    printer: &Printer,
) -> i32 {
    let name = tools::RUN.name;
    let bound = match runners::bind(runner, &arg, &kwarg) {
        Ok(b) => b,
        Err(e) => {
            printer.print(&Value::String(format!("Passed invalid arguments: {e}.")));
            return 1;
        }
    };
    let mut bus = match connect_master(name, socket) {
        Ok(b) => b,
        Err(status) => return status,
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
        since: None,
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
    printer.print(&ret);
    if success {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_that_names_its_outputter_is_printed_with_it() {
        let p = |out| Printer {
            out,
            highstate: HighstateOpts::default(),
        };
        let orch = json!({"data": {"m_master": {}}, "outputter": "highstate", "retcode": 0});
        let (out, v) = p(None).choose(&orch);
        assert_eq!((out, v), (Outputter::Highstate, &orch));
        let wrapped = json!({"data": {"m_master": {}}, "outputter": "highstate"});
        let (out, v) = p(None).choose(&wrapped);
        assert_eq!((out, v), (Outputter::Highstate, &json!({"m_master": {}})));
        assert_eq!(
            p(None).choose(&json!({"outputter": "txt", "data": 1})).0,
            Outputter::Nested
        );
        assert_eq!(p(None).choose(&json!({"a": 1})).0, Outputter::Nested);
        assert_eq!(p(Some(Outputter::Json)).choose(&orch).0, Outputter::Json);
        assert_eq!(
            p(Some(Outputter::Json)).choose(&wrapped).1,
            &json!({"m_master": {}})
        );
    }
}
