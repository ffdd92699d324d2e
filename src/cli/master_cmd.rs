//! `brine-master`: load the configuration, set up logging, bind, detach if asked, run the loop.

use super::daemon_start::{self, Started};
use super::tools;
use crate::config::MasterConfig;
use crate::io::master_loop::MasterLoop;

/// Runs brine-master with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let s: Started<MasterConfig> = match daemon_start::start(&tools::MASTER, args) {
        Ok(s) => s,
        Err(status) => return status,
    };
    // Bind before detaching so a port or socket conflict is reported on the terminal.
    let d = match MasterLoop::bind(s.cfg.clone(), s.reloader()) {
        Ok(d) => d,
        Err(e) => return s.fail(e),
    };
    let mut bound = Some(d);
    let _pid = match s.detach_then(|| drop(bound.take())) {
        Ok(p) => p,
        Err(status) => return status,
    };
    let Some(d) = bound else {
        return 1;
    };
    match d.run(|| s.ready()) {
        Ok(()) => 0,
        // Before readiness the error goes to the waiting terminal; after it, to the log.
        Err(e) => s.fail(e),
    }
}
