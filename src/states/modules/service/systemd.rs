//! The systemd provider, as Salt 3007's `salt/modules/systemd_service.py`: `systemctl`
//! verbs, a unit available when `systemctl status` knows it (exit below 4).

use super::Provider;
use crate::states::command::{run_argv, CmdOpts, Output};

/// `systemctl`.
pub struct Systemd;

fn systemctl(args: &[&str]) -> Option<Output> {
    let mut argv = vec!["systemctl"];
    argv.extend_from_slice(args);
    log::debug!(target: "brine::states", "service: running {argv:?}");
    let opts = CmdOpts {
        // A unit whose start job never finishes must not hold the state run forever.
        timeout: Some(300.0),
        ..CmdOpts::default()
    };
    run_argv(&argv, &opts).ok()
}

fn ok(args: &[&str]) -> bool {
    systemctl(args).is_some_and(|o| o.retcode == 0)
}

impl Provider for Systemd {
    fn available(&self, name: &str) -> bool {
        // systemctl status exits 4 for a unit it has never heard of (systemd >= 231).
        systemctl(&["status", name]).is_some_and(|o| (0..4).contains(&o.retcode))
    }
    fn status(&self, name: &str) -> bool {
        ok(&["is-active", name])
    }
    fn start(&self, name: &str) -> bool {
        ok(&["start", name])
    }
    fn stop(&self, name: &str) -> bool {
        ok(&["stop", name])
    }
    fn restart(&self, name: &str) -> bool {
        ok(&["restart", name])
    }
    fn reload(&self, name: &str) -> bool {
        ok(&["reload", name])
    }
    fn can_enable(&self) -> bool {
        true
    }
    fn enabled(&self, name: &str) -> bool {
        systemctl(&["is-enabled", name]).is_some_and(|o| o.retcode == 0 && o.stdout != "alias")
    }
    fn enable(&self, name: &str) -> bool {
        ok(&["enable", name])
    }
    fn disable(&self, name: &str) -> bool {
        ok(&["disable", name])
    }
}
