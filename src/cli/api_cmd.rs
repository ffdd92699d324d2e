//! `brine-api`: load the master's configuration, bind the listener, detach if asked, run.

use super::daemon_start::{self, Started};
use super::tools;
use crate::api::config::ApiConfig;
use crate::config::MasterConfig;
use crate::io::api_loop::ApiLoop;

/// Runs brine-api with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let s: Started<MasterConfig> = match daemon_start::start(&tools::API, args) {
        Ok(s) => s,
        Err(status) => return status,
    };
    let cfg = match ApiConfig::from_master(&s.cfg) {
        Ok(Some(c)) => c,
        Ok(None) => return s.fail(
            "the master configuration has no rest_cherrypy section with a port: nothing to serve",
        ),
        Err(e) => return s.fail(e),
    };
    let eauth = match crate::api::eauth::EauthConfig::from_master(&s.cfg) {
        Ok(e) => e,
        Err(e) => return s.fail(e),
    };
    // Bind before detaching so a taken port or a bad certificate is reported on the terminal.
    let d = match ApiLoop::bind(cfg, eauth) {
        Ok(d) => d,
        Err(e) => return s.fail(e),
    };
    let _pid = match s.detach() {
        Ok(p) => p,
        Err(status) => return status,
    };
    match d.run(|| s.ready()) {
        Ok(()) => 0,
        Err(e) => s.fail(e),
    }
}
