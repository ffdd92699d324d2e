//! Network grains: the host's IP addresses, all together and per interface, in Salt's
//! order (`ipv4`, `ipv6`, `ip_interfaces`, `ip4_interfaces`, `ip6_interfaces`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde_json::{Map, Value};

use super::{put, read_text, SysInfo};

/// One interface's addresses, kept apart by family because Salt lists IPv4 first.
struct Iface {
    name: String,
    /// The kernel's interface index, which orders `ip addr` and so Salt's maps.
    index: Option<u32>,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
}

impl Iface {
    fn new(name: String) -> Iface {
        Iface {
            name,
            index: None,
            v4: Vec::new(),
            v6: Vec::new(),
        }
    }
}

pub(super) fn network_grains(g: &mut BTreeMap<String, Value>, root: &Path, sys: &SysInfo) {
    // Salt's ipv4/ipv6: a set of ipaddress objects, sorted by numeric value, loopback included.
    let mut v4: BTreeSet<Ipv4Addr> = BTreeSet::new();
    let mut v6: BTreeSet<Ipv6Addr> = BTreeSet::new();
    let mut ifaces: Vec<Iface> = Vec::new();
    for (name, addr) in &sys.addrs {
        // getifaddrs names a labelled IPv4 address "eth0:1"; `ip addr`, which Salt parses,
        // files it under eth0. A ':' cannot occur in a Linux interface name, so this is safe.
        let base = name.split(':').next().unwrap_or(name);
        let at = match ifaces.iter().position(|i| i.name == base) {
            Some(at) => at,
            None => {
                ifaces.push(Iface::new(base.to_owned()));
                ifaces.len() - 1
            }
        };
        let iface = &mut ifaces[at];
        match addr {
            IpAddr::V4(a) => {
                v4.insert(*a);
                if !iface.v4.contains(a) {
                    iface.v4.push(*a);
                }
            }
            IpAddr::V6(a) => {
                v6.insert(*a);
                if !iface.v6.contains(a) {
                    iface.v6.push(*a);
                }
            }
        }
    }
    add_sysfs_links(&mut ifaces, root);
    put(g, "ipv4", addr_list(v4.iter()));
    put(g, "ipv6", addr_list(v6.iter()));

    let mut all = Map::new();
    let mut only4 = Map::new();
    let mut only6 = Map::new();
    for i in &ifaces {
        let mut both = addr_list(i.v4.iter());
        both.extend(addr_list(i.v6.iter()));
        all.insert(i.name.clone(), Value::Array(both));
        only4.insert(i.name.clone(), Value::Array(addr_list(i.v4.iter())));
        only6.insert(i.name.clone(), Value::Array(addr_list(i.v6.iter())));
    }
    put(g, "ip_interfaces", all);
    put(g, "ip4_interfaces", only4);
    put(g, "ip6_interfaces", only6);
}

/// Adds the links that have no address (Salt lists every link `ip addr` shows, with an empty
/// list) and orders all interfaces by kernel index, as `ip addr` does.
fn add_sysfs_links(ifaces: &mut Vec<Iface>, root: &Path) {
    let net = root.join("sys/class/net");
    if let Ok(dir) = std::fs::read_dir(&net) {
        let mut names: Vec<String> = dir
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            if !ifaces.iter().any(|i| i.name == name) {
                ifaces.push(Iface::new(name));
            }
        }
    }
    for i in ifaces.iter_mut() {
        i.index = read_text(&net.join(&i.name).join("ifindex")).and_then(|t| t.trim().parse().ok());
    }
    // Stable: interfaces sysfs does not know keep their order, after the indexed ones.
    ifaces.sort_by_key(|i| (i.index.is_none(), i.index));
}

fn addr_list<'a, T: std::fmt::Display + 'a>(addrs: impl Iterator<Item = &'a T>) -> Vec<Value> {
    // Rust prints IPv6 as RFC 5952 (lowercase, longest zero run as "::"), which is what both
    // Python's ipaddress and iproute2 print for interface addresses.
    addrs.map(|a| Value::String(a.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grains::compute_from;
    use crate::grains::tests::{linux, Tree};
    use serde_json::json;

    #[test]
    fn addresses_are_sorted_deduplicated_and_grouped_by_interface() {
        let t = Tree::new("net");
        t.file("sys/class/net/lo/ifindex", "1\n")
            .file("sys/class/net/eth0/ifindex", "2\n")
            .file("sys/class/net/wlan0/ifindex", "3\n");
        let mut sys = linux();
        let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
        sys.addrs = vec![
            ("eth0".into(), ip("192.168.1.20")),
            ("eth0:1".into(), ip("10.0.0.5")),
            ("lo".into(), ip("127.0.0.1")),
            ("docker0".into(), ip("172.17.0.1")),
            ("eth0".into(), ip("fe80::a00:27ff:fe4e:66a1")),
            ("eth0".into(), ip("2001:db8::10")),
            ("lo".into(), ip("::1")),
            ("br0".into(), ip("10.0.0.5")),
        ];
        let g = compute_from("m1", &t.0, &sys);
        assert_eq!(
            g["ipv4"],
            json!(["10.0.0.5", "127.0.0.1", "172.17.0.1", "192.168.1.20"])
        );
        assert_eq!(
            g["ipv6"],
            json!(["::1", "2001:db8::10", "fe80::a00:27ff:fe4e:66a1"])
        );
        let order: Vec<&String> = g["ip_interfaces"]
            .as_object()
            .expect("map")
            .keys()
            .collect();
        assert_eq!(order, ["lo", "eth0", "wlan0", "docker0", "br0"]);
        assert_eq!(
            g["ip_interfaces"]["eth0"],
            json!([
                "192.168.1.20",
                "10.0.0.5",
                "fe80::a00:27ff:fe4e:66a1",
                "2001:db8::10"
            ])
        );
        assert_eq!(
            g["ip4_interfaces"]["eth0"],
            json!(["192.168.1.20", "10.0.0.5"])
        );
        assert_eq!(
            g["ip6_interfaces"]["eth0"],
            json!(["fe80::a00:27ff:fe4e:66a1", "2001:db8::10"])
        );
        assert_eq!(g["ip6_interfaces"]["docker0"], json!([]));
        assert_eq!(g["ip_interfaces"]["wlan0"], json!([]));
        assert_eq!(g["ip4_interfaces"]["lo"], json!(["127.0.0.1"]));
    }
}
