//! `brine-call`: run an execution function on this minion, through the running daemon.

use super::output::{self, Outputter};
use super::{conf_dir, fail, tools, EXIT_USAGE};
use crate::bus::Request;
use crate::client::{self, BusClient, ClientError};
use crate::clock::Now;
use crate::config::MinionConfig;
use crate::minion::Minion;
use crate::modules::{self, Ret, Step};
use serde_json::{Map, Value};
use std::io::Write;
use std::time::Duration;

/// Runs brine-call with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::CALL;
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
    let timeout = match super::seconds(tool, &parsed, "timeout", Duration::from_secs(60)) {
        Ok(t) => t,
        Err(status) => return status,
    };
    let Some((fun, words)) = parsed.positionals.split_first() else {
        return fail(
            tool.name,
            "no function given (see brine-call --help)",
            EXIT_USAGE,
        );
    };
    let cfg = match MinionConfig::load(&conf_dir(&parsed)) {
        Ok((cfg, _)) => cfg,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let (arg, kwarg) = crate::py::args::parse_input(words);
    if parsed.has("local") {
        return match run_local(cfg, fun, &arg, &kwarg) {
            Ok(ret) => {
                print_local(out, ret.value);
                ret.retcode
            }
            Err(e) => fail(tool.name, e, 1),
        };
    }
    let socket = client::minion_socket(&cfg.sock_dir);
    let mut bus = match BusClient::connect(&socket) {
        Ok(b) => b,
        Err(ClientError::NoDaemon(p)) => {
            return fail(
                tool.name,
                format!("no minion at {} (is brine-minion running?)", p.display()),
                1,
            )
        }
        Err(e) => return fail(tool.name, e, 1),
    };
    let mut kwarg = kwarg;
    // with_env by keyword, or fourth positionally (TAG DATA PRELOAD WITH_ENV ...).
    if fun == "event.send" && (kwarg.contains_key("with_env") || arg.len() > 3) {
        // Salt's salt-call reports its own environment; through the daemon that has to be
        // sent along, or the daemon's would be reported.
        let env = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    serde_json::Value::String(v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        kwarg.insert(
            crate::modules::CALLER_ENVIRON.into(),
            serde_json::Value::Object(env),
        );
    }
    let req = Request {
        fun: fun.clone(),
        arg,
        kwarg,
        user: Some(client::calling_user()),
        send_return: parsed.has("return"),
    };
    match bus.call(&req, Some(timeout)) {
        Ok(answer) => {
            print_local(out, answer.ret);
            answer.retcode
        }
        Err(e) => fail(tool.name, e, 1),
    }
}

/// salt-call prints the return under the id `local`.
fn print_local(out: Outputter, ret: Value) {
    let mut m = Map::new();
    m.insert("local".into(), ret);
    let text = output::render(out, &Value::Object(m));
    if !text.is_empty() {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

/// Runs a function in this process, masterless: a minion core with throwaway keys, and
/// a child process (if the function needs one) waited for right here.
fn run_local(
    mut cfg: MinionConfig,
    fun: &str,
    arg: &[Value],
    kwarg: &Map<String, Value>,
) -> Result<Ret, String> {
    cfg.local = true;
    let keys = crate::pki::KeyPair::generate();
    let id = cfg.id.clone();
    let mut minion = Minion::new(cfg, keys, None, false);
    minion.set_grains(crate::grains::compute(&id));
    match modules::call(&mut minion, Now::read(), fun, arg, kwarg) {
        Step::Done(ret) => Ok(ret),
        Step::After(d, ret) => {
            std::thread::sleep(d);
            Ok(ret)
        }
        Step::Child(spec, finish) => {
            let result = crate::io::children::run_to_end(&spec).map_err(|e| e.to_string())?;
            Ok(finish(&spec, &result))
        }
    }
}
