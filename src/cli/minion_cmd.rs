//! `brine-minion`: load the configuration and keys, serve the minion bus, run the loop.

use super::daemon_start::{self, Started};
use super::{fail, tools, EXIT_USAGE};
use crate::config::MinionConfig;
use crate::io::minion_loop::MinionLoop;

/// Runs brine-minion with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let s: Started<MinionConfig> = match daemon_start::start(&tools::MINION, args) {
        Ok(s) => s,
        Err(status) => return status,
    };
    let cfg = s.cfg.clone();
    if !crate::pki::valid_id(&cfg.id) {
        return fail(
            tools::MINION.name,
            format!("id {:?} cannot be a minion id", cfg.id),
            EXIT_USAGE,
        );
    }
    let keys = match crate::pki::load_or_generate(&cfg.pki_dir, "minion") {
        Ok(k) => k,
        Err(e) => return s.fail(e),
    };
    // The bus socket is bound before detaching, so that a conflict reaches the terminal.
    let mut lp = match MinionLoop::new() {
        Ok(l) => l,
        Err(e) => return s.fail(e),
    };
    if let Err(e) = lp.serve_bus(&cfg.sock_dir, cfg.max_event_size, s.reloader()) {
        return s.fail(e);
    }
    // ZeroMQ's I/O threads would not survive the fork: its sockets are made after it.
    let _pid = match s.detach() {
        Ok(p) => p,
        Err(status) => return status,
    };
    log::info!(
        "minion {} connecting to {}:{}",
        cfg.id,
        cfg.master,
        cfg.master_port
    );
    if let Err(e) = lp.add(cfg, keys, true) {
        return s.fail(e);
    }
    s.ready();
    daemon_start::exit_status(lp.run())
}
