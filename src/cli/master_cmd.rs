//! `brine-master`: load the configuration, set up logging, detach if asked, run the loop.

use super::{common_flags, conf_dir, fail, flags, tools, EXIT_USAGE};
use crate::config::MasterConfig;
use crate::io::daemon::MasterDaemon;
use crate::io::process::{self, PidFile};

/// Runs brine-master with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::MASTER;
    let parsed = match flags::parse(tool, args) {
        Ok(p) => p,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    if let Some(status) = common_flags(tool, &parsed) {
        return status;
    }
    if let Some(extra) = parsed.positionals.first() {
        return fail(
            tool.name,
            format!("unexpected argument '{extra}'"),
            EXIT_USAGE,
        );
    }
    // Absolute, because a daemon changes its directory to / and SIGHUP re-reads it.
    let dir = conf_dir(&parsed);
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let (cfg, warnings) = match MasterConfig::load(&dir) {
        Ok(r) => r,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let level_name = parsed
        .value("log-level")
        .unwrap_or(&cfg.log_level)
        .to_string();
    let Some(level) = crate::log::level_filter(&level_name) else {
        return fail(
            tool.name,
            format!(
                "unknown log level '{level_name}' (one of {})",
                crate::log::LEVELS.join(", ")
            ),
            EXIT_USAGE,
        );
    };
    let daemon = parsed.has("daemon");
    let log_file = daemon.then_some(cfg.log_file.as_path());
    if let Err(e) = crate::log::init("brine-master", level, log_file) {
        return fail(
            tool.name,
            format!("log_file {}: {e}", cfg.log_file.display()),
            1,
        );
    }
    for w in &warnings {
        log::warn!("{w}");
    }
    let cli_level = parsed.value("log-level").map(str::to_string);
    let reload_dir = dir.clone();
    let reload = Box::new(move || {
        let (mut cfg, warnings) = MasterConfig::load(&reload_dir).map_err(|e| e.to_string())?;
        for w in &warnings {
            log::warn!("{w}");
        }
        if let Some(l) = &cli_level {
            cfg.log_level = l.clone();
        }
        Ok(cfg)
    });
    // Bind before detaching so a port or socket conflict is reported on the terminal.
    let d = match MasterDaemon::bind(cfg, reload) {
        Ok(d) => d,
        Err(e) => {
            log::error!("{e}");
            return fail(tool.name, e, 1);
        }
    };
    if daemon {
        if let Err(e) = process::daemonize() {
            return fail(tool.name, format!("cannot daemonize: {e}"), 1);
        }
    }
    let _pid = match parsed
        .value("pid-file")
        .map(|p| PidFile::create(p.as_ref()))
    {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            log::error!("pid file: {e}");
            return fail(tool.name, format!("pid file: {e}"), 1);
        }
        None => None,
    };
    match d.run() {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            1
        }
    }
}
