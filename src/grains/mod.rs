//! Core grains: the facts a minion computes about its host when it starts.
//!
//! Names and value shapes are Salt's (`salt/grains/core.py`, and `salt/utils/network.py` for
//! the address lists), so a target written for Salt (`-G os_family:Debian`,
//! `-G osmajorrelease:12`, `-S 10.0.0.0/8`) selects the same hosts here.
//!
//! Nothing runs a subprocess: a minion must start fast on a small machine, so everything comes
//! from files under a root (`/` in production, a fake tree in tests) and from libc. A file that
//! cannot be read leaves its grains out, or at Salt's own fallback (`mem_total: 0`); nothing
//! the host presents can make this module panic.
//!
//! Salt decides the distribution in two layers. os-release gives `os` and `osfullname`; then a
//! "legacy" layer fills `osrelease`, `oscodename` and `os_family` from LSB data (the
//! `/etc/lsb-release` file, else values taken from os-release) with the `distro` package as the
//! last resort. Salt's packaged minion has no `lsb_release` Python module, so that legacy layer
//! is the one that decides in practice, and it is the one reproduced here.

mod distro;
mod host;
mod network;
mod os;
mod sys;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use serde_json::{Map, Value};

use host::{host_grains, kernel_grains, machine_id_grain, memory_grains};
use network::network_grains;
use os::os_grains;
use sys::{hostname, interface_addrs, online_cpus, uname};

/// The largest file read for a grain: os-release and meminfo are a few KiB, so a bigger file
/// is not what we are looking for and must not cost memory.
const MAX_FILE: u64 = 1 << 20;

/// What the host tells through libc: uname, its names, its interface addresses, its CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SysInfo {
    /// `uname -s`, e.g. "Linux".
    pub sysname: String,
    /// `uname -r`, the kernel release.
    pub release: String,
    /// `uname -m`, e.g. "x86_64".
    pub machine: String,
    /// `gethostname()`.
    pub hostname: String,
    /// The fully qualified host name.
    pub fqdn: String,
    /// Every IP address of every interface as (interface, address), in the kernel's order.
    pub addrs: Vec<(String, IpAddr)>,
    /// Online CPUs.
    pub num_cpus: usize,
}

impl SysInfo {
    /// Reads this host: libc uname, gethostname, getifaddrs and sysconf, and `config::host_fqdn`.
    pub fn read() -> SysInfo {
        let (sysname, release, machine) = uname();
        SysInfo {
            sysname,
            release,
            machine,
            hostname: hostname(),
            fqdn: crate::config::host_fqdn(),
            addrs: interface_addrs(),
            num_cpus: online_cpus(),
        }
    }
}

/// The computed grains of this host for minion `id` (the static `grains:` config map is merged over them by the caller).
pub fn compute(id: &str) -> Map<String, Value> {
    compute_from(id, Path::new("/"), &SysInfo::read())
}

/// Same, reading the OS files under `root` (tests point it at a fake tree) and taking interface addresses, uname and hostname as given.
pub fn compute_from(id: &str, root: &Path, sys: &SysInfo) -> Map<String, Value> {
    // A sorted map: `grains.items` then lists the grains in a stable, readable order.
    let mut g: BTreeMap<String, Value> = BTreeMap::new();
    put(&mut g, "id", id);
    kernel_grains(&mut g, root, sys);
    os_grains(&mut g, root, sys);
    memory_grains(&mut g, root, sys);
    put(&mut g, "num_cpus", sys.num_cpus as u64);
    machine_id_grain(&mut g, root);
    host_grains(&mut g, sys);
    network_grains(&mut g, root, sys);
    g.into_iter().collect()
}

/// Merges static config grains over computed ones (static wins, top-level keys replaced).
pub fn merge(computed: Map<String, Value>, static_grains: &Value) -> Map<String, Value> {
    let mut out = computed;
    // A `grains:` that is not a mapping (absent, null, a typo'd scalar) adds nothing: the
    // config loader reports it, and the computed grains still let the minion be targeted.
    if let Value::Object(m) = static_grains {
        for (k, v) in m {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

fn put(g: &mut BTreeMap<String, Value>, key: &str, value: impl Into<Value>) {
    g.insert(key.to_owned(), value.into());
}

/// Reads a text file, or `None` when it is missing, unreadable or too big to be the file meant.
fn read_text(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    // /proc files report a size of 0, so the cap is enforced by reading, not by metadata.
    file.take(MAX_FILE + 1).read_to_end(&mut buf).ok()?;
    if buf.len() as u64 > MAX_FILE {
        return None;
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake root in the temp dir, removed when dropped.
    pub(super) struct Tree(pub(super) PathBuf);

    impl Tree {
        pub(super) fn new(tag: &str) -> Tree {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "brine-grains-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create fake root");
            Tree(dir)
        }

        pub(super) fn file(&self, rel: &str, text: &str) -> &Tree {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().expect("file has a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write fake file");
            self
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub(super) fn linux() -> SysInfo {
        SysInfo {
            sysname: "Linux".into(),
            release: "6.1.0-18-amd64".into(),
            machine: "x86_64".into(),
            hostname: "web1".into(),
            fqdn: "web1.example.com".into(),
            addrs: vec![
                ("lo".into(), "127.0.0.1".parse().expect("ip")),
                ("lo".into(), "::1".parse().expect("ip")),
            ],
            num_cpus: 4,
        }
    }

    #[test]
    fn a_tree_without_any_file_gives_fallbacks_and_no_os_grains() {
        let t = Tree::new("empty");
        let g = compute_from("m1", &t.0, &linux());
        for k in [
            "os",
            "os_family",
            "osrelease",
            "oscodename",
            "osfullname",
            "machine_id",
            "kernelversion",
        ] {
            assert!(!g.contains_key(k), "{k} should be absent");
        }
        assert_eq!(g["mem_total"], 0);
        assert_eq!(g["swap_total"], 0);
        assert_eq!(g["id"], "m1");
        assert_eq!(g["kernel"], "Linux");
        assert_eq!(g["kernelrelease"], "6.1.0-18-amd64");
        assert_eq!(g["cpuarch"], "x86_64");
        assert_eq!(g["num_cpus"], 4);
    }

    #[test]
    fn a_root_that_does_not_exist_does_not_panic() {
        let g = compute_from(
            "m1",
            Path::new("/nonexistent/brine/root"),
            &SysInfo::default(),
        );
        assert_eq!(g["id"], "m1");
        assert_eq!(g["fqdn"], "localhost.localdomain");
        assert_eq!(g["host"], "localhost");
        assert_eq!(g["domain"], "localdomain");
        assert_eq!(g["ipv4"], json!([]));
        assert!(!g.contains_key("kernel"));
    }

    #[test]
    fn merge_lets_static_grains_win() {
        let t = Tree::new("merge");
        let computed = compute_from("m1", &t.0, &linux());
        let merged = merge(
            computed.clone(),
            &json!({"roles": ["web"], "os": "Custom", "id": "other"}),
        );
        assert_eq!(merged["roles"], json!(["web"]));
        assert_eq!(merged["os"], "Custom");
        assert_eq!(merged["id"], "other");
        assert_eq!(merged["kernel"], "Linux");
        assert_eq!(merge(computed.clone(), &Value::Null), computed);
        assert_eq!(merge(computed.clone(), &json!("scalar")), computed);
    }

    /// The grains of the machine running the tests: every grain has its Salt type, and the
    /// ones every Linux host has are there.
    #[test]
    fn this_machine() {
        let g = compute("me");
        let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
        let addrs = |v: &Value, v4: bool| {
            v.as_array().is_some_and(|a| {
                a.iter()
                    .all(|x| match x.as_str().map(str::parse::<IpAddr>) {
                        Some(Ok(ip)) => ip.is_ipv4() == v4,
                        _ => false,
                    })
            })
        };
        for (k, v) in &g {
            let ok = match k.as_str() {
                "num_cpus" | "mem_total" | "swap_total" | "osmajorrelease" => v.is_u64(),
                "ipv4" => addrs(v, true),
                "ipv6" => addrs(v, false),
                "osrelease_info" => v
                    .as_array()
                    .is_some_and(|a| a.iter().all(|x| x.is_u64() || x.is_string())),
                "ip_interfaces" | "ip4_interfaces" | "ip6_interfaces" => {
                    v.as_object().is_some_and(|m| m.values().all(strings))
                }
                _ => v.is_string(),
            };
            assert!(ok, "{k} has the wrong type: {v}");
        }
        assert_eq!(g["id"], "me");
        assert!(g["num_cpus"].as_u64() > Some(0));
        let mut required = vec![
            "kernel",
            "kernelrelease",
            "cpuarch",
            "host",
            "fqdn",
            "domain",
            "localhost",
            "nodename",
            "num_cpus",
            "mem_total",
            "ipv4",
            "ipv6",
            "ip_interfaces",
            "ip4_interfaces",
            "ip6_interfaces",
        ];
        if cfg!(target_os = "linux") {
            assert_eq!(g["kernel"], "Linux");
            assert!(g["mem_total"].as_u64() > Some(0));
            assert!(g["ipv4"]
                .as_array()
                .is_some_and(|a| a.contains(&json!("127.0.0.1"))));
            required.extend(["os", "os_family", "osfullname", "osrelease", "oscodename"]);
            required.extend(["kernelversion", "swap_total"]);
            if g["osrelease"] != "" {
                required.extend(["osfinger", "osrelease_info"]);
            }
            if Path::new("/etc/machine-id").exists()
                || Path::new("/var/lib/dbus/machine-id").exists()
            {
                required.push("machine_id");
            }
        }
        for k in required {
            assert!(g.contains_key(k), "{k} is missing");
        }
        println!("{}", serde_json::to_string_pretty(&g).unwrap_or_default());
    }
}
