//! Host grains: the kernel, memory, machine id and host names of the machine.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{put, read_text, SysInfo};

pub(super) fn kernel_grains(g: &mut BTreeMap<String, Value>, root: &Path, sys: &SysInfo) {
    // Salt takes these from platform.uname(); an empty field means uname itself failed.
    for (key, value) in [
        ("kernel", &sys.sysname),
        ("kernelrelease", &sys.release),
        ("cpuarch", &sys.machine),
    ] {
        if !value.is_empty() {
            put(g, key, value.as_str());
        }
    }
    // `uname -v`, which Linux also publishes as a file, so no field is missing from SysInfo.
    if sys.sysname == "Linux" {
        if let Some(v) = read_text(&root.join("proc/sys/kernel/version")) {
            put(g, "kernelversion", v.trim());
        }
    }
}

pub(super) fn memory_grains(g: &mut BTreeMap<String, Value>, root: &Path, sys: &SysInfo) {
    // Salt reports 0 when it cannot tell, and only Linux gets swap_total without a command.
    if sys.sysname != "Linux" {
        put(g, "mem_total", 0u64);
        return;
    }
    let (mem, swap) = read_text(&root.join("proc/meminfo"))
        .map(|t| parse_meminfo(&t))
        .unwrap_or((0, 0));
    put(g, "mem_total", mem);
    put(g, "swap_total", swap);
}

/// `(MemTotal, SwapTotal)` in MiB, floored as Salt does (`kB // 1024`); 0 for what is absent.
fn parse_meminfo(text: &str) -> (u64, u64) {
    let (mut mem, mut swap) = (0, 0);
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        // A malformed number keeps the fallback: Salt would fail the whole os grain set.
        let kib = || rest.split_whitespace().next()?.parse::<u64>().ok();
        match key.trim() {
            "MemTotal" => mem = kib().map_or(mem, |k| k / 1024),
            "SwapTotal" => swap = kib().map_or(swap, |k| k / 1024),
            _ => {}
        }
    }
    (mem, swap)
}

pub(super) fn machine_id_grain(g: &mut BTreeMap<String, Value>, root: &Path) {
    // Salt takes the first of the two that exists, even empty (a fresh container image), and
    // does not fall through to the second one when the first cannot be read.
    for rel in ["etc/machine-id", "var/lib/dbus/machine-id"] {
        let path = root.join(rel);
        if path.exists() {
            if let Some(text) = read_text(&path) {
                put(g, "machine_id", text.trim());
            }
            return;
        }
    }
}

pub(super) fn host_grains(g: &mut BTreeMap<String, Value>, sys: &SysInfo) {
    // Salt's fallback when the host has no usable name at all.
    let fqdn = if sys.fqdn.is_empty() {
        "localhost.localdomain"
    } else {
        sys.fqdn.as_str()
    };
    let (host, domain) = fqdn.split_once('.').unwrap_or((fqdn, ""));
    put(g, "fqdn", fqdn);
    put(g, "host", host);
    put(g, "domain", domain);
    put(g, "localhost", sys.hostname.as_str());
    // platform.uname().node, which is gethostname() on every system brine runs on.
    put(g, "nodename", sys.hostname.as_str());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grains::compute_from;
    use crate::grains::tests::{linux, Tree};
    use serde_json::json;

    #[test]
    fn meminfo_is_floored_to_mib() {
        // Salt's test_linux_memdata values.
        assert_eq!(
            parse_meminfo("MemTotal:       16277028 kB\nSwapTotal:       4789244 kB"),
            (15895, 4676)
        );
        assert_eq!(
            parse_meminfo("MemTotal:       16277028 kB\n\nSwapTotal:       4789244 kB"),
            (15895, 4676)
        );
        assert_eq!(parse_meminfo("MemFree: 5 kB\n"), (0, 0));
        let t = Tree::new("mem");
        t.file(
            "proc/meminfo",
            "MemTotal:        2048000 kB\nMemFree: 1 kB\nSwapTotal:             0 kB\n",
        );
        let g = compute_from("m1", &t.0, &linux());
        assert_eq!(g["mem_total"], 2000);
        assert_eq!(g["swap_total"], 0);
    }

    #[test]
    fn machine_id_falls_back_to_dbus_and_keeps_an_empty_first_file() {
        let t = Tree::new("mid");
        t.file(
            "var/lib/dbus/machine-id",
            "0123456789abcdef0123456789abcdef\n",
        );
        assert_eq!(
            compute_from("m1", &t.0, &linux())["machine_id"],
            "0123456789abcdef0123456789abcdef"
        );
        t.file("etc/machine-id", "fedcba9876543210fedcba9876543210\n");
        assert_eq!(
            compute_from("m1", &t.0, &linux())["machine_id"],
            "fedcba9876543210fedcba9876543210"
        );
        t.file("etc/machine-id", "");
        assert_eq!(compute_from("m1", &t.0, &linux())["machine_id"], "");
    }

    #[test]
    fn kernel_version_comes_from_proc() {
        let t = Tree::new("kver");
        t.file(
            "proc/sys/kernel/version",
            "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)\n",
        );
        let g = compute_from("m1", &t.0, &linux());
        assert_eq!(
            g["kernelversion"],
            "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"
        );
    }

    #[test]
    fn host_names_split_the_fqdn() {
        let t = Tree::new("host");
        let mut sys = linux();
        let g = compute_from("m1", &t.0, &sys);
        assert_eq!(
            (
                &g["fqdn"],
                &g["host"],
                &g["domain"],
                &g["localhost"],
                &g["nodename"]
            ),
            (
                &json!("web1.example.com"),
                &json!("web1"),
                &json!("example.com"),
                &json!("web1"),
                &json!("web1")
            )
        );
        sys.fqdn = "web1".into();
        let g = compute_from("m1", &t.0, &sys);
        assert_eq!((&g["host"], &g["domain"]), (&json!("web1"), &json!("")));
    }
}
