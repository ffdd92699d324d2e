//! The second stage of reading a command line, the part the tools share: `--help` and
//! `--version`, and typed values (directories, log levels, outputters, seconds) built from
//! the parsed flags' strings, or a one-line usage error.

use super::flags::{self, CliError, FlagSet, Parsed, Tool};
use super::highstate::HighstateOpts;
use super::output::Outputter;
use super::{fail, EXIT_USAGE};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Parses a tool's arguments, handles `--help`/`--version`, then builds its typed arguments
/// with `from_parsed`; `Err(status)` when the tool should exit now (usage errors printed).
pub fn build<K: FlagSet, T>(
    tool: &Tool,
    args: Vec<OsString>,
    from_parsed: impl FnOnce(Parsed<K>) -> Result<T, CliError>,
) -> Result<T, i32> {
    let parsed = flags::parse(tool, args).map_err(|e| fail(tool.name, e, EXIT_USAGE))?;
    if let Some(status) = common_flags(tool, &parsed) {
        return Err(status);
    }
    from_parsed(parsed).map_err(|e| fail(tool.name, e, EXIT_USAGE))
}

/// Handles `--help` and `--version`; `Some(status)` when the tool should exit now.
pub fn common_flags<K: FlagSet>(tool: &Tool, parsed: &Parsed<K>) -> Option<i32> {
    if parsed.has(K::HELP) {
        print!("{}", flags::help(tool));
        return Some(0);
    }
    if parsed.has(K::VERSION) {
        println!("{} {}", tool.name, env!("CARGO_PKG_VERSION"));
        return Some(0);
    }
    None
}

/// The configuration directory: `-c DIR`, else `/etc/brine`.
pub fn conf_dir(value: Option<&str>) -> PathBuf {
    value
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/brine"))
}

/// A command-line client's log level, `-l` (default warning).
pub fn log_level(value: Option<&str>) -> Result<log::LevelFilter, CliError> {
    let name = value.unwrap_or("warning");
    crate::log::level_filter(name).ok_or_else(|| CliError(format!("unknown log level '{name}'")))
}

/// Starts a command-line client's logging to stderr.
pub fn init_log(tool: &Tool, level: log::LevelFilter) {
    let _ = crate::log::init(tool.name, level, None);
}

/// The `--out` outputter (default nested).
pub fn outputter(value: Option<&str>) -> Result<Outputter, CliError> {
    match value {
        None => Ok(Outputter::Nested),
        Some(name) => Outputter::from_name(name).ok_or_else(|| {
            CliError(format!(
                "unknown outputter '{name}' (one of {})",
                Outputter::NAMES.join(", ")
            ))
        }),
    }
}

/// `--out` when it picks an outputter; `None` lets the return decide (highstate for state
/// runs, else nested), also for `--out highstate`, which Salt treats as no choice.
pub fn outputter_choice(value: Option<&str>) -> Result<Option<Outputter>, CliError> {
    match value {
        None | Some("highstate") => Ok(None),
        Some(_) => outputter(value).map(Some),
    }
}

/// `--state-output MODE`, checked.
pub fn state_output(value: Option<&str>) -> Result<Option<String>, CliError> {
    match value {
        None => Ok(None),
        Some(mode) if super::highstate::is_state_output(mode) => Ok(Some(mode.to_string())),
        Some(mode) => Err(CliError(format!(
            "--state-output takes full, terse, mixed, changes or filter, each also with _id (got '{mode}')"
        ))),
    }
}

/// `--state-verbose BOOL`: the spellings Salt turns into a boolean.
pub fn state_verbose(value: Option<&str>) -> Result<Option<bool>, CliError> {
    match value {
        None => Ok(None),
        Some("True" | "true") => Ok(Some(true)),
        Some("False" | "false") => Ok(Some(false)),
        Some(v) => Err(CliError(format!(
            "--state-verbose takes True or False (got '{v}')"
        ))),
    }
}

/// The highstate outputter's options: the configuration's values, then the flags over them.
pub fn highstate_opts(
    config: &serde_json::Map<String, serde_json::Value>,
    state_output: Option<&str>,
    state_verbose: Option<bool>,
) -> HighstateOpts {
    let mut o = HighstateOpts::from_opts(config);
    if let Some(mode) = state_output {
        o.state_output = mode.to_string();
    }
    if let Some(v) = state_verbose {
        o.state_verbose = v;
    }
    o
}

/// A positive number of seconds given with `flag`, if it was given.
pub fn seconds<K: FlagSet>(parsed: &Parsed<K>, flag: K) -> Result<Option<Duration>, CliError> {
    match parsed.value(flag).map(str::parse::<f64>) {
        None => Ok(None),
        Some(Ok(t)) if t > 0.0 && t.is_finite() => Ok(Some(crate::clock::seconds(t))),
        Some(_) => Err(CliError(format!(
            "--{} takes a positive number of seconds",
            flag.row().long
        ))),
    }
}

/// The function and its argument words: the positionals, of which there must be one at least.
pub fn function(positionals: Vec<String>, tool: &Tool) -> Result<(String, Vec<String>), CliError> {
    let mut words = positionals.into_iter();
    match words.next() {
        Some(fun) => Ok((fun, words.collect())),
        None => Err(CliError(format!(
            "no function given (see {} --help)",
            tool.name
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::tools::{self, CallFlag, RunFlag};
    use serde_json::json;

    #[test]
    fn state_flags_in_every_spelling_salt_takes() {
        let call = |args: &[&str]| -> Parsed<CallFlag> {
            flags::parse(&tools::CALL, args.iter().map(|s| s.to_string())).unwrap()
        };
        for args in [
            &["--state-output", "terse", "f"][..],
            &["--state-output=terse", "f"],
            &["--state_output", "terse", "f"],
            &["f", "--state_output=terse"],
        ] {
            assert_eq!(
                call(args).value(CallFlag::StateOutput),
                Some("terse"),
                "{args:?}"
            );
        }
        for args in [
            &["--state-verbose", "False"][..],
            &["--state_verbose=False"],
        ] {
            let p = call(args);
            assert_eq!(
                state_verbose(p.value(CallFlag::StateVerbose)),
                Ok(Some(false))
            );
        }
        assert!(call(&["--retcode-passthrough"]).has(CallFlag::RetcodePassthrough));
        assert!(call(&["--retcode_passthrough"]).has(CallFlag::RetcodePassthrough));
        let run = flags::parse::<RunFlag, _>(&tools::RUN, ["--state-output", "mixed_id"]).unwrap();
        assert_eq!(run.value(RunFlag::StateOutput), Some("mixed_id"));
        let brine = flags::parse::<tools::BrineFlag, _>(
            &tools::BRINE,
            ["--state_verbose", "true", "--output-diff"],
        )
        .unwrap();
        assert_eq!(brine.value(tools::BrineFlag::StateVerbose), Some("true"));
        assert!(brine.has(tools::BrineFlag::OutputDiff));
    }

    #[test]
    fn state_flag_values_are_checked() {
        assert_eq!(state_output(None), Ok(None));
        assert_eq!(state_output(Some("Terse_ID")), Ok(Some("Terse_ID".into())));
        assert_eq!(
            state_output(Some("short")),
            Err(CliError(
                "--state-output takes full, terse, mixed, changes or filter, each also with _id (got 'short')".into()
            ))
        );
        assert_eq!(state_verbose(Some("true")), Ok(Some(true)));
        assert_eq!(state_verbose(None), Ok(None));
        assert_eq!(
            state_verbose(Some("no")),
            Err(CliError(
                "--state-verbose takes True or False (got 'no')".into()
            ))
        );
    }

    #[test]
    fn flags_override_the_configuration() {
        let cfg = json!({"state_output": "mixed", "state_verbose": false, "state_tabular": true});
        let cfg = cfg.as_object().unwrap();
        let o = highstate_opts(cfg, None, None);
        assert_eq!(
            (o.state_output.as_str(), o.state_verbose, o.state_tabular),
            ("mixed", false, true)
        );
        let o = highstate_opts(cfg, Some("terse"), Some(true));
        assert_eq!((o.state_output.as_str(), o.state_verbose), ("terse", true));
    }

    fn p(args: &[&str]) -> Parsed<RunFlag> {
        flags::parse(&tools::RUN, args.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn values_are_typed_or_one_line_errors() {
        assert_eq!(
            seconds(&p(&["-t", "2.5"]), RunFlag::Timeout),
            Ok(Some(Duration::from_millis(2500)))
        );
        assert_eq!(seconds(&p(&[]), RunFlag::Timeout), Ok(None));
        for bad in ["0", "-1", "soon", "inf", "NaN"] {
            assert_eq!(
                seconds(&p(&["--timeout", bad]), RunFlag::Timeout),
                Err(CliError(
                    "--timeout takes a positive number of seconds".into()
                )),
                "{bad}"
            );
        }
        assert_eq!(outputter(None), Ok(Outputter::Nested));
        assert_eq!(outputter(Some("json")), Ok(Outputter::Json));
        assert_eq!(
            outputter(Some("xml")),
            Err(CliError(
                "unknown outputter 'xml' (one of nested, json, yaml, raw, quiet, highstate)".into()
            ))
        );
        assert_eq!(outputter_choice(None), Ok(None));
        assert_eq!(outputter_choice(Some("highstate")), Ok(None));
        assert_eq!(outputter_choice(Some("yaml")), Ok(Some(Outputter::Yaml)));
        assert!(outputter_choice(Some("xml")).is_err());
        assert_eq!(log_level(None), Ok(log::LevelFilter::Warn));
        assert_eq!(
            log_level(Some("loud")),
            Err(CliError("unknown log level 'loud'".into()))
        );
        assert_eq!(conf_dir(None), PathBuf::from("/etc/brine"));
        assert_eq!(
            function(vec!["f".into(), "a".into()], &tools::RUN),
            Ok(("f".to_string(), vec!["a".to_string()]))
        );
        assert_eq!(
            function(Vec::new(), &tools::RUN),
            Err(CliError("no function given (see brine-run --help)".into()))
        );
    }
}
