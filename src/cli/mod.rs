//! The command-line tools: their flag tables, argument parsing, outputters, man pages,
//! and the code behind each binary (the files in `src/bin/` only call into here).

pub mod brine_cmd;
pub mod call_cmd;
pub mod daemon_start;
pub mod event_cmd;
pub mod flags;
pub mod key_cmd;
pub mod master_cmd;
pub mod minion_cmd;
pub mod output;
mod reactor_page;
pub mod run_cmd;
pub mod swarm_cmd;
pub mod tools;

use std::path::PathBuf;

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
        "brine-reactor.5".into(),
        tools::prose_page(
            "brine-reactor",
            5,
            reactor_page::SUMMARY,
            reactor_page::SECTIONS,
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

/// The configuration directory: `-c DIR`, else `/etc/brine`.
pub fn conf_dir(parsed: &flags::Parsed) -> PathBuf {
    parsed
        .value("config-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/brine"))
}

/// Prints a one-line error for a tool and returns the status to exit with.
pub fn fail(tool: &str, msg: impl std::fmt::Display, status: i32) -> i32 {
    eprintln!("{tool}: {msg}");
    status
}

/// Handles `--help` and `--version`; `Some(status)` when the tool should exit now.
pub fn common_flags(tool: &flags::Tool, parsed: &flags::Parsed) -> Option<i32> {
    if parsed.has("help") {
        print!("{}", flags::help(tool));
        return Some(0);
    }
    if parsed.has("version") {
        println!("{} {}", tool.name, env!("CARGO_PKG_VERSION"));
        return Some(0);
    }
    None
}

/// Parses a tool's arguments and handles `--help`/`--version`; `Err(status)` when the
/// tool should exit now (usage errors are printed).
pub fn start(tool: &flags::Tool, args: Vec<std::ffi::OsString>) -> Result<flags::Parsed, i32> {
    let parsed = flags::parse(tool, args).map_err(|e| fail(tool.name, e, EXIT_USAGE))?;
    match common_flags(tool, &parsed) {
        Some(status) => Err(status),
        None => Ok(parsed),
    }
}

/// Logging to stderr for a command-line client, at `-l` (default warning).
pub fn client_log(tool: &flags::Tool, parsed: &flags::Parsed) -> Result<(), i32> {
    let name = parsed.value("log-level").unwrap_or("warning");
    let Some(level) = crate::log::level_filter(name) else {
        return Err(fail(
            tool.name,
            format!("unknown log level '{name}'"),
            EXIT_USAGE,
        ));
    };
    let _ = crate::log::init(tool.name, level, None);
    Ok(())
}

/// The `--out` outputter (default nested).
pub fn outputter(tool: &flags::Tool, parsed: &flags::Parsed) -> Result<output::Outputter, i32> {
    match parsed.value("out") {
        None => Ok(output::Outputter::Nested),
        Some(name) => output::Outputter::from_name(name).ok_or_else(|| {
            fail(
                tool.name,
                format!(
                    "unknown outputter '{name}' (one of {})",
                    output::Outputter::NAMES.join(", ")
                ),
                EXIT_USAGE,
            )
        }),
    }
}

/// A positive number of seconds given as `--NAME`, or `default`.
pub fn seconds(
    tool: &flags::Tool,
    parsed: &flags::Parsed,
    name: &str,
    default: std::time::Duration,
) -> Result<std::time::Duration, i32> {
    match parsed.value(name).map(str::parse::<f64>) {
        None => Ok(default),
        Some(Ok(t)) if t > 0.0 && t.is_finite() => Ok(crate::clock::seconds(t)),
        Some(_) => Err(fail(
            tool.name,
            format!("--{name} takes a positive number of seconds"),
            EXIT_USAGE,
        )),
    }
}
