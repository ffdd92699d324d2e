//! `brine-call`: run an execution function on this minion, through the running daemon.

use super::output::{self, Outputter};
use super::{common_flags, conf_dir, fail, flags, tools, EXIT_USAGE};
use crate::client::{self, BusClient, ClientError};
use crate::config::MinionConfig;
use crate::master::Request;
use serde_json::{Map, Value};
use std::io::Write;
use std::time::Duration;

/// Runs brine-call with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::CALL;
    let parsed = match flags::parse(tool, args) {
        Ok(p) => p,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    if let Some(status) = common_flags(tool, &parsed) {
        return status;
    }
    let level = parsed.value("log-level").unwrap_or("warning");
    let Some(level) = crate::log::level_filter(level) else {
        return fail(
            tool.name,
            format!("unknown log level '{level}'"),
            EXIT_USAGE,
        );
    };
    let _ = crate::log::init("brine-call", level, None);
    let out = match parsed.value("out").map(|n| (n, Outputter::from_name(n))) {
        None => Outputter::Nested,
        Some((_, Some(o))) => o,
        Some((name, None)) => {
            return fail(
                tool.name,
                format!(
                    "unknown outputter '{name}' (one of {})",
                    Outputter::NAMES.join(", ")
                ),
                EXIT_USAGE,
            )
        }
    };
    let timeout = match parsed.value("timeout").map(str::parse::<f64>) {
        None => Duration::from_secs(60),
        Some(Ok(t)) if t > 0.0 && t.is_finite() => Duration::from_secs_f64(t),
        Some(_) => {
            return fail(
                tool.name,
                "--timeout takes a positive number of seconds",
                EXIT_USAGE,
            )
        }
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
    let (arg, kwarg) = super::args::parse_input(words);
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
    let req = Request {
        fun: fun.clone(),
        arg,
        kwarg,
        user: Some(client::calling_user()),
    };
    match bus.call(&req, Some(timeout)) {
        Ok(answer) => {
            // salt-call prints the return under the id `local`.
            let mut m = Map::new();
            m.insert("local".into(), answer.ret);
            let text = output::render(out, &Value::Object(m));
            if !text.is_empty() {
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
            answer.retcode
        }
        Err(e) => fail(tool.name, e, 1),
    }
}
