//! The init-script provider, as Salt 3007's `salt/modules/debian_service.py` on a host
//! without systemd: scripts in `/etc/init.d`, driven by `service <name> <verb>`; a service
//! is enabled when `/etc/rc[S<runlevel>].d/` holds an `S` link to it, and `update-rc.d`
//! changes that.

use super::Provider;
use crate::states::command::{run_argv, CmdOpts};
use std::path::Path;

/// `service`, `update-rc.d` and the rc directories.
pub struct Sysvinit;

/// Runs an argument vector; true when it exits 0.
fn ok(argv: &[&str]) -> bool {
    log::debug!(target: "brine::states", "service: running {argv:?}");
    let opts = CmdOpts {
        // An init script that never returns must not hold the state run forever.
        timeout: Some(300.0),
        ..CmdOpts::default()
    };
    run_argv(argv, &opts).is_ok_and(|o| o.retcode == 0)
}

/// The current runlevel; "2" when `runlevel` does not know (no init keeps utmp), as Salt.
fn runlevel() -> String {
    let out = run_argv(&["runlevel"], &CmdOpts::default())
        .map(|o| o.stdout)
        .unwrap_or_default();
    if out.contains("unknown") || out.trim().is_empty() {
        return "2".into();
    }
    out.split_whitespace().nth(1).unwrap_or("2").to_owned()
}

/// The services with a start link in `/etc/rcS.d` or the runlevel's directory.
fn enabled_set() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["S".to_owned(), runlevel()] {
        let Ok(rd) = std::fs::read_dir(format!("/etc/rc{dir}.d")) else {
            continue;
        };
        for e in rd.flatten() {
            let f = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = f.strip_prefix('S') else {
                continue;
            };
            // `S01name`: what follows the last run of digits, as Salt's re.split(r"\d+").
            let name = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            if !name.is_empty() && !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

impl Provider for Sysvinit {
    fn available(&self, name: &str) -> bool {
        // A name with a slash would escape /etc/init.d.
        (!name.contains('/') && name != "README" && Path::new("/etc/init.d").join(name).exists())
            || enabled_set().iter().any(|n| n == name)
    }
    fn status(&self, name: &str) -> bool {
        ok(&["service", name, "status"])
    }
    fn start(&self, name: &str) -> bool {
        ok(&["service", name, "start"])
    }
    fn stop(&self, name: &str) -> bool {
        ok(&["service", name, "stop"])
    }
    fn restart(&self, name: &str) -> bool {
        ok(&["service", name, "restart"])
    }
    fn reload(&self, name: &str) -> bool {
        ok(&["service", name, "reload"])
    }
    fn can_enable(&self) -> bool {
        Path::new("/usr/sbin/update-rc.d").exists() || Path::new("/sbin/update-rc.d").exists()
    }
    fn enabled(&self, name: &str) -> bool {
        enabled_set().iter().any(|n| n == name)
    }
    fn enable(&self, name: &str) -> bool {
        // Salt runs `insserv` first, which Debian no longer ships; `defaults` makes the
        // links from the script's LSB header when there are none, `enable` turns K into S.
        ok(&["update-rc.d", name, "defaults"]) && ok(&["update-rc.d", name, "enable"])
    }
    fn disable(&self, name: &str) -> bool {
        ok(&["update-rc.d", name, "disable"])
    }
}
