//! The command-line tools: their flag tables, argument parsing, outputters, man pages,
//! and the code behind each binary (the files in `src/bin/` only call into here).

pub mod api_cmd;
mod args;
pub mod brine_cmd;
pub mod call_cmd;
pub mod cloud_cmd;
mod cloud_page;
pub mod daemon_start;
pub mod event_cmd;
pub mod flags;
pub mod highstate;
pub mod key_cmd;
pub mod master_cmd;
pub mod minion_cmd;
pub mod output;
mod reactor_page;
pub mod run_cmd;
mod states_page;
pub mod swarm_cmd;
pub mod tools;

use crate::client::{BusClient, ClientError};
use std::path::Path;

/// Exit status for a usage or configuration error (documented in every man page).
pub const EXIT_USAGE: i32 = 2;

/// Every man page brine ships: file name and generated contents.
pub fn man_pages() -> Vec<(String, String)> {
    let mut pages: Vec<(String, String)> = tools::ALL
        .iter()
        .map(|t| {
            let refs = match t.name {
                "brine-run" => vec![runner_reference()],
                "brine" | "brine-call" => vec![function_reference()],
                _ => Vec::new(),
            };
            (
                format!("{}.{}", t.name, t.section),
                flags::man_with(t, &refs),
            )
        })
        .collect();
    pages.push((
        "brine-minion.conf.5".into(),
        tools::config_page(
            "brine-minion.conf",
            "configuration of brine-minion",
            tools::MINION_CONF_INTRO,
            &[
                crate::config::MINION_KEYS,
                crate::config::MINION_MODULE_OPTIONS,
            ]
            .concat(),
            &[],
        ),
    ));
    pages.push((
        "brine-cloud.5".into(),
        tools::prose_page("brine-cloud", 5, cloud_page::SUMMARY, cloud_page::SECTIONS),
    ));
    pages.push((
        "brine-reactor.5".into(),
        tools::prose_page(
            "brine-reactor",
            5,
            reactor_page::SUMMARY,
            reactor_page::SECTIONS,
        ),
    ));
    pages.push((
        "brine-states.7".into(),
        tools::prose_page(
            "brine-states",
            7,
            states_page::SUMMARY,
            states_page::SECTIONS,
        ),
    ));
    pages.push((
        "brine-master.conf.5".into(),
        tools::config_page(
            "brine-master.conf",
            "configuration of brine-master",
            tools::MASTER_CONF_INTRO,
            crate::config::MASTER_KEYS,
            tools::MASTER_CONF_SECTIONS,
        ),
    ));
    pages
}

/// A Python-style signature line: `name PARAM [param=default] ...`.
fn signature_line(
    name: &str,
    params: &[crate::signature::Param],
    varargs: bool,
    kwargs: bool,
) -> String {
    let mut s = name.to_string();
    for p in params {
        match p.default.value() {
            None => s.push_str(&format!(" {}", p.name.to_uppercase())),
            Some(v) => s.push_str(&format!(" [{}={}]", p.name, crate::py::python_str(&v))),
        }
    }
    if varargs {
        s.push_str(" [ARG ...]");
    }
    if kwargs {
        s.push_str(" [KEY=VALUE ...]");
    }
    s
}

fn runner_reference() -> flags::Reference {
    let items = crate::runners::RUNNERS
        .iter()
        .map(|r| {
            (
                signature_line(r.name, r.params, false, false),
                r.doc.to_string(),
            )
        })
        .collect();
    ("RUNNER REFERENCE".into(), items)
}

fn function_reference() -> flags::Reference {
    let items = crate::modules::FUNCTIONS
        .iter()
        .map(|f| {
            (
                signature_line(f.name, f.params, f.varargs, f.kwargs),
                f.doc.to_string(),
            )
        })
        .collect();
    ("FUNCTION REFERENCE".into(), items)
}

/// Prints a one-line error for a tool and returns the status to exit with.
pub fn fail(tool: &str, msg: impl std::fmt::Display, status: i32) -> i32 {
    eprintln!("{tool}: {msg}");
    status
}

/// Connects to the master's bus, or prints why not; `Err` is the exit status.
fn connect_master(tool: &str, socket: &Path) -> Result<BusClient, i32> {
    match BusClient::connect(socket) {
        Ok(b) => Ok(b),
        Err(ClientError::NoDaemon(p)) => Err(fail(
            tool,
            format!("no master at {} (is brine-master running?)", p.display()),
            EXIT_USAGE,
        )),
        Err(e) => Err(fail(tool, e, EXIT_USAGE)),
    }
}
