//! `brine-swarm`: many full minions (own ids, keys and sockets) in one process and one
//! event loop, for tests and benchmarks.

use super::args;
use super::flags::{CliError, Parsed};
use super::tools::{self, SwarmFlag};
use super::{fail, EXIT_USAGE};
use crate::config::MinionConfig;
use crate::io::minion_loop::MinionLoop;
use std::path::PathBuf;

/// What brine-swarm's command line asks for, checked.
struct SwarmArgs {
    conf_dir: PathBuf,
    /// How many minions to run, one at least.
    minions: usize,
    id_prefix: String,
    /// `-l`, which overrides the configuration's log_level (checked with it).
    log_level: Option<String>,
}

impl SwarmArgs {
    fn from_parsed(p: Parsed<SwarmFlag>) -> Result<SwarmArgs, CliError> {
        let minions = match p.value(SwarmFlag::Minions).map(str::parse::<usize>) {
            Some(Ok(n)) if n > 0 => n,
            _ => return Err(CliError("--minions takes a positive integer".into())),
        };
        Ok(SwarmArgs {
            conf_dir: args::conf_dir(p.value(SwarmFlag::ConfigDir)),
            minions,
            id_prefix: p.value(SwarmFlag::IdPrefix).unwrap_or("swarm-").to_string(),
            log_level: p.value(SwarmFlag::LogLevel).map(str::to_string),
        })
    }
}

/// Runs brine-swarm with these arguments; returns the exit status.
pub fn main(argv: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::SWARM;
    let a = match args::build(tool, argv, SwarmArgs::from_parsed) {
        Ok(a) => a,
        Err(status) => return status,
    };
    let (template, warnings) = match MinionConfig::load(&a.conf_dir) {
        Ok(r) => r,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let level_name = a.log_level.as_deref().unwrap_or(&template.log_level);
    let Some(level) = crate::log::level_filter(level_name) else {
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
    run(&a, &template)
}

/// Starts the minions, each from the template with its own id and keys, and runs them.
fn run(a: &SwarmArgs, template: &MinionConfig) -> i32 {
    let name = tools::SWARM.name;
    let mut lp = match MinionLoop::new() {
        Ok(l) => l,
        Err(e) => return fail(name, e, 1),
    };
    for i in 0..a.minions {
        let mut cfg = template.clone();
        cfg.id = format!("{}{i:05}", a.id_prefix);
        cfg.pki_dir = template.pki_dir.join(&cfg.id);
        // Each minion keeps its own cache: the state lock and job records are per minion.
        cfg.cachedir = template.cachedir.join(&cfg.id);
        let keys = match crate::pki::load_or_generate(&cfg.pki_dir, "minion") {
            Ok(k) => k,
            Err(e) => return fail(name, e, 1),
        };
        if let Err(e) = lp.add(cfg, keys, false) {
            return fail(name, format!("minion {i}: {e}"), 1);
        }
    }
    log::info!("swarm of {} minions started", a.minions);
    match lp.run() {
        Ok(code) => code,
        Err(e) => fail(name, e, 1),
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
