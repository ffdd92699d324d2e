//! `brine-swarm`: many full minions (own ids, keys and sockets) in one process and one
//! event loop, for tests and benchmarks.

use super::{common_flags, conf_dir, fail, flags, tools, EXIT_USAGE};
use crate::config::MinionConfig;
use crate::io::minion_loop::MinionLoop;

/// Runs brine-swarm with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::SWARM;
    let parsed = match flags::parse(tool, args) {
        Ok(p) => p,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    if let Some(status) = common_flags(tool, &parsed) {
        return status;
    }
    let n = match parsed.value("minions").map(str::parse::<usize>) {
        Some(Ok(n)) if n > 0 => n,
        _ => return fail(tool.name, "--minions takes a positive integer", EXIT_USAGE),
    };
    let (template, warnings) = match MinionConfig::load(&conf_dir(&parsed)) {
        Ok(r) => r,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let level_name = parsed
        .value("log-level")
        .unwrap_or(&template.log_level)
        .to_string();
    let Some(level) = crate::log::level_filter(&level_name) else {
        return fail(
            tool.name,
            format!("unknown log level '{level_name}'"),
            EXIT_USAGE,
        );
    };
    let _ = crate::log::init("brine-swarm", level, None);
    for w in &warnings {
        log::warn!("{w}");
    }
    raise_fd_limit();
    let prefix = parsed.value("id-prefix").unwrap_or("swarm-").to_string();
    let mut lp = match MinionLoop::new() {
        Ok(l) => l,
        Err(e) => return fail(tool.name, e, 1),
    };
    for i in 0..n {
        let mut cfg = template.clone();
        cfg.id = format!("{prefix}{i:05}");
        cfg.pki_dir = template.pki_dir.join(&cfg.id);
        let keys = match crate::pki::load_or_generate(&cfg.pki_dir, "minion") {
            Ok(k) => k,
            Err(e) => return fail(tool.name, e, 1),
        };
        if let Err(e) = lp.add(cfg, keys, false) {
            return fail(tool.name, format!("minion {i}: {e}"), 1);
        }
    }
    log::info!("swarm of {n} minions started");
    match lp.run() {
        Ok(code) => code,
        Err(e) => fail(tool.name, e, 1),
    }
}

/// Each minion holds a few descriptors (sockets, ZeroMQ signalers): lift the soft limit
/// to the hard one.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit for both calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
