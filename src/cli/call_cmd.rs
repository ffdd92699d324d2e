//! `brine-call`: run an execution function on this minion, through the running daemon.

use super::args;
use super::flags::{CliError, Parsed};
use super::highstate::{self, HighstateOpts};
use super::output::{self, Outputter};
use super::tools::{self, CallFlag};
use super::{fail, EXIT_USAGE};
use crate::bus::Request;
use crate::client::{self, BusClient, ClientError};
use crate::clock::Now;
use crate::config::MinionConfig;
use crate::minion::Minion;
use crate::modules::{self, Ret, Step};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// How long brine-call waits for the minion's answer when `-t` is not given.
const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// What brine-call's command line asks for, checked.
struct CallArgs {
    conf_dir: PathBuf,
    log_level: log::LevelFilter,
    /// The --out choice; `None` lets the function decide (highstate for state runs).
    out: Option<Outputter>,
    /// --state-output and --state-verbose, over the configuration's.
    state_output: Option<String>,
    state_verbose: Option<bool>,
    /// Exit with the retcode itself, not 1.
    retcode_passthrough: bool,
    /// How long to wait for the minion's answer.
    timeout: Duration,
    /// Run in this process, masterless, instead of through the daemon.
    local: bool,
    /// Also send the result to the master as a job return.
    send_return: bool,
    fun: String,
    /// The argument words, parsed as Salt parses them once the configuration is read.
    words: Vec<String>,
}

impl CallArgs {
    fn from_parsed(p: Parsed<CallFlag>) -> Result<CallArgs, CliError> {
        let log_level = args::log_level(p.value(CallFlag::LogLevel))?;
        let out = args::outputter_choice(p.value(CallFlag::Out))?;
        let state_output = args::state_output(p.value(CallFlag::StateOutput))?;
        let state_verbose = args::state_verbose(p.value(CallFlag::StateVerbose))?;
        let retcode_passthrough = p.has(CallFlag::RetcodePassthrough);
        let timeout = args::seconds(&p, CallFlag::Timeout)?.unwrap_or(DEFAULT_ANSWER_TIMEOUT);
        let conf_dir = args::conf_dir(p.value(CallFlag::ConfigDir));
        let (local, send_return) = (p.has(CallFlag::Local), p.has(CallFlag::Return));
        let (fun, words) = args::function(p.positionals, &tools::CALL)?;
        Ok(CallArgs {
            conf_dir,
            log_level,
            out,
            state_output,
            state_verbose,
            retcode_passthrough,
            timeout,
            local,
            send_return,
            fun,
            words,
        })
    }
}

/// Runs brine-call with these arguments; returns the exit status.
pub fn main(argv: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::CALL;
    let a = match args::build(tool, argv, CallArgs::from_parsed) {
        Ok(a) => a,
        Err(status) => return status,
    };
    args::init_log(tool, a.log_level);
    let cfg = match MinionConfig::load(&a.conf_dir) {
        Ok((cfg, _)) => cfg,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let (arg, kwarg) = crate::py::args::parse_input(&a.words);
    let printer = Printer::new(&a, &cfg);
    if a.local {
        return match run_local(cfg, &a.fun, &arg, &kwarg) {
            Ok(ret) => printer.print(ret.value, ret.retcode),
            Err(e) => fail(tool.name, e, 1),
        };
    }
    through_daemon(&a, &cfg, arg, kwarg, &printer)
}

/// How brine-call prints a return and picks its exit status, as salt-call does.
struct Printer {
    out: Outputter,
    highstate: HighstateOpts,
    retcode_passthrough: bool,
}

impl Printer {
    fn new(a: &CallArgs, cfg: &MinionConfig) -> Printer {
        // salt-call takes the outputter the function names (`__outputter__`).
        let out = a.out.unwrap_or(if highstate::is_state_function(&a.fun) {
            Outputter::Highstate
        } else {
            Outputter::Nested
        });
        // salt-call keeps its arguments unparsed in opts, so exclude= and terse= words do
        // not reach the filter mode (salt's do).
        let highstate =
            args::highstate_opts(&cfg.values(), a.state_output.as_deref(), a.state_verbose);
        Printer {
            out,
            highstate,
            retcode_passthrough: a.retcode_passthrough,
        }
    }

    /// Prints the return under the id `local` and returns the exit status.
    fn print(&self, ret: Value, retcode: i32) -> i32 {
        let mut m = Map::new();
        m.insert("local".into(), ret);
        let text = output::render_with(self.out, &Value::Object(m), &self.highstate);
        if !text.is_empty() {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
        exit_status(retcode, self.retcode_passthrough)
    }
}

/// salt-call exits 1 for any retcode but 0, or with the retcode itself when passed through.
fn exit_status(retcode: i32, passthrough: bool) -> i32 {
    match (retcode, passthrough) {
        (0, _) => 0,
        (rc, true) => rc,
        (_, false) => 1,
    }
}

/// Runs the function through the running brine-minion and prints its answer.
fn through_daemon(
    a: &CallArgs,
    cfg: &MinionConfig,
    arg: Vec<Value>,
    kwarg: Map<String, Value>,
    printer: &Printer,
) -> i32 {
    let name = tools::CALL.name;
    let socket = client::minion_socket(&cfg.sock_dir);
    let mut bus = match BusClient::connect(&socket) {
        Ok(b) => b,
        Err(ClientError::NoDaemon(p)) => {
            return fail(
                name,
                format!("no minion at {} (is brine-minion running?)", p.display()),
                1,
            )
        }
        Err(e) => return fail(name, e, 1),
    };
    let mut kwarg = kwarg;
    // with_env by keyword, or fourth positionally (TAG DATA PRELOAD WITH_ENV ...).
    if a.fun == "event.send" && (kwarg.contains_key("with_env") || arg.len() > 3) {
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
        fun: a.fun.clone(),
        arg,
        kwarg,
        user: Some(client::calling_user()),
        send_return: a.send_return,
    };
    match bus.call(&req, Some(a.timeout)) {
        Ok(answer) => printer.print(answer.ret, answer.retcode),
        Err(e) => fail(name, e, 1),
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
    match modules::call(&mut minion, Now::read(), None, fun, arg, kwarg) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::flags;

    fn args(words: &[&str]) -> Result<CallArgs, CliError> {
        CallArgs::from_parsed(
            flags::parse(&tools::CALL, words.iter().map(|s| s.to_string())).unwrap(),
        )
    }

    #[test]
    fn state_runs_print_highstate_unless_out_says_otherwise() {
        let cfg = MinionConfig::defaults(std::path::Path::new("/nonexistent"));
        let printer = |words: &[&str]| Printer::new(&args(words).unwrap(), &cfg);
        assert_eq!(printer(&["state.apply", "web"]).out, Outputter::Highstate);
        assert_eq!(printer(&["state.sls", "web"]).out, Outputter::Highstate);
        assert_eq!(printer(&["state.show_sls", "web"]).out, Outputter::Nested);
        assert_eq!(printer(&["test.ping"]).out, Outputter::Nested);
        assert_eq!(
            printer(&["--out", "json", "state.apply"]).out,
            Outputter::Json
        );
        assert_eq!(
            printer(&["--out", "highstate", "test.ping"]).out,
            Outputter::Nested
        );
        let p = printer(&[
            "--state-output",
            "terse",
            "--state-verbose",
            "False",
            "state.apply",
        ]);
        assert_eq!(
            (p.highstate.state_output.as_str(), p.highstate.state_verbose),
            ("terse", false)
        );
        assert!(args(&["--state-verbose", "maybe", "state.apply"]).is_err());
        assert!(args(&["--state-output", "loud", "state.apply"]).is_err());
    }

    #[test]
    fn a_nonzero_retcode_exits_1_unless_passed_through() {
        assert_eq!(exit_status(0, false), 0);
        assert_eq!(exit_status(0, true), 0);
        assert_eq!(exit_status(2, false), 1);
        assert_eq!(exit_status(2, true), 2);
        assert_eq!(exit_status(5, true), 5);
        assert!(
            args(&["--retcode-passthrough", "state.apply"])
                .unwrap()
                .retcode_passthrough
        );
    }
}
