//! `brine-minion`: load the configuration and keys, serve the minion bus, run the loop.

use super::{common_flags, conf_dir, fail, flags, tools, EXIT_USAGE};
use crate::config::MinionConfig;
use crate::io::minion::MinionLoop;
use crate::io::process::{self, PidFile};

/// Runs brine-minion with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::MINION;
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
    let dir = conf_dir(&parsed);
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let (cfg, warnings) = match MinionConfig::load(&dir) {
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
    if let Err(e) = crate::log::init(
        "brine-minion",
        level,
        daemon.then_some(cfg.log_file.as_path()),
    ) {
        return fail(
            tool.name,
            format!("log_file {}: {e}", cfg.log_file.display()),
            1,
        );
    }
    for w in &warnings {
        log::warn!("{w}");
    }
    if !crate::pki::valid_id(&cfg.id) {
        return fail(
            tool.name,
            format!("id {:?} cannot be a minion id", cfg.id),
            EXIT_USAGE,
        );
    }
    let keys = match crate::pki::load_or_generate(&cfg.pki_dir, "minion") {
        Ok(k) => k,
        Err(e) => return fail(tool.name, e, 1),
    };
    let cli_level = parsed.value("log-level").map(str::to_string);
    let reload_dir = dir.clone();
    let reload = Box::new(move || {
        let (mut cfg, warnings) = MinionConfig::load(&reload_dir).map_err(|e| e.to_string())?;
        for w in &warnings {
            log::warn!("{w}");
        }
        if let Some(l) = &cli_level {
            cfg.log_level = l.clone();
        }
        Ok(cfg)
    });
    let mut lp = match MinionLoop::new() {
        Ok(l) => l,
        Err(e) => return fail(tool.name, e, 1),
    };
    if let Err(e) = lp.serve_bus(&cfg.sock_dir, cfg.max_event_size, reload) {
        return fail(tool.name, e, 1);
    }
    log::info!(
        "minion {} connecting to {}:{}",
        cfg.id,
        cfg.master,
        cfg.master_port
    );
    if let Err(e) = lp.add(cfg, keys, true) {
        return fail(tool.name, e, 1);
    }
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
        Some(Err(e)) => return fail(tool.name, format!("pid file: {e}"), 1),
        None => None,
    };
    match lp.run() {
        Ok(code) => code,
        Err(e) => {
            log::error!("{e}");
            1
        }
    }
}
