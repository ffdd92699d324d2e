//! The second stage of reading a command line, the part the tools share: `--help` and
//! `--version`, and typed values (directories, log levels, outputters, seconds) built from
//! the parsed flags' strings, or a one-line usage error.

use super::flags::{self, CliError, FlagSet, Parsed, Tool};
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
    use crate::cli::tools::{self, RunFlag};

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
                "unknown outputter 'xml' (one of nested, json, yaml, raw, quiet)".into()
            ))
        );
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
