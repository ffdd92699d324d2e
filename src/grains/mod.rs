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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CStr;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde_json::{Map, Value};

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

// ---------------------------------------------------------------------------------------------
// Kernel, memory, machine id, host names
// ---------------------------------------------------------------------------------------------

fn kernel_grains(g: &mut BTreeMap<String, Value>, root: &Path, sys: &SysInfo) {
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

fn memory_grains(g: &mut BTreeMap<String, Value>, root: &Path, sys: &SysInfo) {
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

fn machine_id_grain(g: &mut BTreeMap<String, Value>, root: &Path) {
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

fn host_grains(g: &mut BTreeMap<String, Value>, sys: &SysInfo) {
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

// ---------------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------------

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

fn network_grains(g: &mut BTreeMap<String, Value>, root: &Path, sys: &SysInfo) {
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

// ---------------------------------------------------------------------------------------------
// Operating system
// ---------------------------------------------------------------------------------------------

fn os_grains(g: &mut BTreeMap<String, Value>, root: &Path, sys: &SysInfo) {
    let d = match sys.sysname.as_str() {
        "Linux" => linux_distribution(root),
        // Salt's BSD branch runs commands for the details; kernel name and release suffice
        // for what targeting needs.
        "FreeBSD" | "OpenBSD" | "NetBSD" => Distro {
            os: Some(sys.sysname.clone()),
            os_family: Some(sys.sysname.clone()),
            osfullname: Some(sys.sysname.clone()),
            osrelease: sys.release.split('-').next().map(str::to_owned),
            ..Distro::default()
        },
        "Darwin" => Distro {
            os: Some("MacOS".to_owned()),
            os_family: Some("MacOS".to_owned()),
            ..Distro::default()
        },
        "" => Distro::default(),
        other => Distro {
            os: Some(other.to_owned()),
            os_family: Some("Unknown".to_owned()),
            ..Distro::default()
        },
    };
    for (k, v) in &d.lsb {
        put(g, k, v.as_str());
    }
    let fields = [
        ("os", &d.os),
        ("os_family", &d.os_family),
        ("osfullname", &d.osfullname),
        ("osrelease", &d.osrelease),
        ("oscodename", &d.oscodename),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            put(g, k, v.as_str());
        }
    }
    if let (Some(os), Some(release)) = (&d.os, &d.osrelease) {
        if !release.is_empty() {
            let fullname = d.osfullname.as_deref().unwrap_or(os);
            osrelease_data(g, os, fullname, release);
        }
    }
}

/// The distribution grains as Salt's dict holds them: `None` is a key Salt never set.
#[derive(Debug, Default)]
struct Distro {
    os: Option<String>,
    os_family: Option<String>,
    osfullname: Option<String>,
    osrelease: Option<String>,
    oscodename: Option<String>,
    /// `lsb_distrib_{id,release,codename,description}`, reported as grains too.
    lsb: BTreeMap<String, String>,
}

const LSB_ID: &str = "lsb_distrib_id";
const LSB_RELEASE: &str = "lsb_distrib_release";
const LSB_CODENAME: &str = "lsb_distrib_codename";
const LSB_DESCRIPTION: &str = "lsb_distrib_description";

fn linux_distribution(root: &Path) -> Distro {
    let lsb_file = read_text(&root.join("etc/lsb-release"))
        .map(|t| parse_lsb_release(&t))
        .unwrap_or_default();
    let osr_raw = read_text(&root.join("etc/os-release"))
        .or_else(|| read_text(&root.join("usr/lib/os-release")))
        .map(|t| parse_os_release(&t));
    let fallback = distro_fallback(root, osr_raw.as_ref(), &lsb_file);
    let centos_release = read_text(&root.join("etc/centos-release"));
    if osr_raw.is_none()
        && lsb_file.is_empty()
        && centos_release.is_none()
        && fallback.name.is_empty()
    {
        // Nothing names the distribution. Salt would report empty strings; leaving the grains
        // out says the same thing without inventing a value a target could match.
        return Distro::default();
    }
    // Python's platform.freedesktop_os_release() starts from these defaults.
    let osr = osr_raw.clone().map(|mut m| {
        for (k, v) in [("NAME", "Linux"), ("ID", "linux"), ("PRETTY_NAME", "Linux")] {
            m.entry(k.to_owned()).or_insert_with(|| v.to_owned());
        }
        m
    });
    let get = |k: &str| osr.as_ref().and_then(|m| m.get(k)).map(String::as_str);

    let mut d = Distro {
        lsb: lsb_file.clone(),
        ..Distro::default()
    };
    // First layer: os-release names the OS.
    if osr.is_some() {
        let name = get("NAME").unwrap_or("Linux");
        d.os = Some(derive_os(name, get("ID")));
        d.osfullname = Some(name.trim().to_owned());
    }

    // Second, legacy layer: LSB data, from the file or else from os-release.
    let description = d.lsb.get(LSB_DESCRIPTION).map(|s| s.to_lowercase());
    if description.is_some_and(|s| s.starts_with("antergos")) {
        // Antergos's lsb-release says "Arch"; Salt corrects it by name.
        d.osfullname = Some("Antergos Linux".to_owned());
    } else if !d.lsb.contains_key(LSB_ID) {
        if osr.is_some() {
            lsb_from_os_release(&mut d, &get);
        } else if let Some(text) = &centos_release {
            lsb_from_centos_release(&mut d, text);
        }
    }
    if d.osfullname.is_none() {
        let id = d.lsb.get(LSB_ID).cloned();
        d.osfullname = Some(match id {
            Some(id) if id.to_lowercase().starts_with("nilrt") => "nilrt".to_owned(),
            Some(id) => id.trim().to_owned(),
            None => fallback.name.trim().to_owned(),
        });
    }
    // CentOS Linux 7 and 8 put only the major in VERSION_ID; the full release is in
    // /etc/centos-release, which the distro fallback reads.
    let codename = d.lsb.get(LSB_CODENAME).cloned().unwrap_or_default();
    if codename.contains("CentOS Linux 7") || codename.contains("CentOS Linux 8") {
        d.lsb.remove(LSB_RELEASE);
    }
    let release = d.lsb.get(LSB_RELEASE).unwrap_or(&fallback.version);
    d.osrelease = Some(release.trim().to_owned());

    // Rocky, AlmaLinux and Astra SE put the codename in brackets: "Rocky Linux 9.3 (Blue Onyx)".
    let os_now = d.os.clone().unwrap_or_default();
    if ["Rocky", "AlmaLinux", "AstraLinuxSE"]
        .iter()
        .any(|o| os_now.contains(o))
    {
        if let Some(cn) = d.lsb.get(LSB_CODENAME).filter(|c| !c.is_empty()) {
            if let Some((_, inner)) = cn.split_once('(') {
                let inner = inner.split(')').next().unwrap_or(inner);
                let fixed = if os_now == "AstraLinuxSE" {
                    // "Smolensk 1.6" -> "smolensk"
                    inner.split_whitespace().next().map(str::to_lowercase)
                } else {
                    Some(inner.to_owned())
                };
                if let Some(fixed) = fixed {
                    d.lsb.insert(LSB_CODENAME.to_owned(), fixed);
                }
            }
        }
    }
    let lsb_codename = d.lsb.get(LSB_CODENAME).map(|c| c.trim()).unwrap_or("");
    let mut oscodename = if lsb_codename.is_empty() {
        fallback.codename.clone()
    } else {
        lsb_codename.to_owned()
    };
    // RHEL's PRETTY_NAME is no codename; its VERSION "8.5 (Ootpa)" has one.
    if oscodename.contains("Red Hat") {
        oscodename = fallback.codename.clone();
    }
    d.oscodename = Some(oscodename);
    if d.os.is_none() {
        d.os = Some(derive_os(d.osfullname.as_deref().unwrap_or(""), None));
    }
    let os = d.os.clone().unwrap_or_default();
    d.os_family = Some(os_family(&os, get("ID"), get("ID_LIKE")));
    d
}

/// Salt's legacy layer when /etc/lsb-release names no distribution: LSB values from os-release.
fn lsb_from_os_release<'a>(d: &mut Distro, get: &impl Fn(&str) -> Option<&'a str>) {
    let name = get("NAME").unwrap_or("Linux");
    d.lsb.insert(LSB_ID.to_owned(), name.trim().to_owned());
    if let Some(v) = get("VERSION_ID") {
        d.lsb.insert(LSB_RELEASE.to_owned(), v.to_owned());
    }
    if let Some(c) = get("VERSION_CODENAME").or_else(|| get("PRETTY_NAME")) {
        d.lsb.insert(LSB_CODENAME.to_owned(), c.to_owned());
    }
    if let Some(cpe) = get("CPE_NAME").and_then(parse_cpe) {
        let vendor = cpe.vendor.as_deref().unwrap_or("").to_lowercase();
        if vendor == "suse" || vendor == "opensuse" {
            d.os = Some("SUSE".to_owned());
            if get("NAME") == Some("openSUSE Leap") {
                d.osfullname = Some("Leap".to_owned());
            } else if get("VERSION") == Some("Tumbleweed") {
                d.osfullname = Some("Tumbleweed".to_owned());
            }
            // openSUSE's VERSION_ID can lag; its CPE carries the release. SLES keeps VERSION_ID.
            if let Some(v) = cpe.version.filter(|v| !v.is_empty()) {
                if cpe.vendor.as_deref() == Some("opensuse") {
                    d.lsb.insert(LSB_RELEASE.to_owned(), v);
                }
            }
        }
    }
    // Mendel sets no VERSION_ID: "Mendel GNU/Linux 5 (Eagle)" carries it third.
    if get("ID").map(str::trim) == Some("mendel") {
        if let Some(v) = get("PRETTY_NAME").and_then(|p| p.split_whitespace().nth(2)) {
            d.lsb.insert(LSB_RELEASE.to_owned(), v.to_owned());
        }
    }
}

/// Salt's legacy layer for old CentOS without os-release: "CentOS release 6.10 (Final)".
fn lsb_from_centos_release(d: &mut Distro, text: &str) {
    d.lsb.insert(LSB_ID.to_owned(), "CentOS".to_owned());
    for line in text.lines() {
        if let Some(r) = find_dotted_number(line) {
            d.lsb.insert(LSB_RELEASE.to_owned(), r.to_owned());
        }
        if let Some(c) = bracketed(line) {
            d.lsb.insert(LSB_CODENAME.to_owned(), c.to_owned());
        }
    }
}

/// The first `\d+\.\d+` in `s`.
fn find_dotted_number(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let digits_from = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let dot = digits_from(i);
            if dot + 1 < b.len() && b[dot] == b'.' && b[dot + 1].is_ascii_digit() {
                return s.get(i..digits_from(dot + 1));
            }
            i = dot;
        } else {
            i += 1;
        }
    }
    None
}

/// The text between the first '(' and the ')' after it.
fn bracketed(s: &str) -> Option<&str> {
    let (_, after) = s.split_once('(')?;
    after.split_once(')').map(|(inner, _)| inner)
}

/// Salt's `_derive_os_grain`: the short `os` name from os-release NAME (and ID).
fn derive_os(fullname: &str, id: Option<&str>) -> String {
    if let Some(id) = id {
        if let Some((_, _, os)) = ID_AND_NAME_TO_OS
            .iter()
            .find(|(i, n, _)| *i == id && *n == fullname)
        {
            return (*os).to_owned();
        }
    }
    let distroname = strip_linux(fullname);
    let distroname = distroname.trim();
    // The map is keyed by the first ten characters, spaces removed, lowercased.
    let short: String = distroname
        .replace(' ', "")
        .to_lowercase()
        .chars()
        .take(10)
        .collect();
    OS_NAME_MAP
        .iter()
        .find(|(k, _)| *k == short)
        .map_or_else(|| distroname.to_owned(), |(_, v)| (*v).to_owned())
}

/// Removes every "linux" or "gnu/linux" that follows a non-word character, case-insensitively
/// (Salt's `\W(?:gnu/)?linux`): "Debian GNU/Linux" -> "Debian", "Linux Mint" unchanged.
fn strip_linux(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        if !(c.is_alphanumeric() || c == '_') {
            let matched = ["gnu/linux", "linux"].iter().find_map(|w| {
                let head = after.get(..w.len())?;
                head.eq_ignore_ascii_case(w).then_some(w.len())
            });
            if let Some(n) = matched {
                rest = &after[n..];
                continue;
            }
        }
        out.push(c);
        rest = after;
    }
    out
}

/// `os_family`: Salt's map by `os`; otherwise the oldest ancestor that os-release's ID_LIKE
/// names (Salt's current tests expect Virtuozzo, ID_LIKE "rhel fedora", to be RedHat);
/// otherwise the `os` itself (NixOS, Alpine, Gentoo).
fn os_family(os: &str, id: Option<&str>, id_like: Option<&str>) -> String {
    if let Some((_, f)) = OS_FAMILY_MAP.iter().find(|(o, _)| *o == os) {
        return (*f).to_owned();
    }
    match id_like.filter(|l| !l.trim().is_empty()) {
        Some(like) => {
            let id = id.unwrap_or("linux");
            let ids: Vec<&str> = std::iter::once(id).chain(like.split_whitespace()).collect();
            // Linux Mint says only "ubuntu"; both mean the Debian family.
            let family = if ids.contains(&"debian") || ids.contains(&"ubuntu") {
                "debian"
            } else {
                ids.last().copied().unwrap_or(id)
            };
            if family == "fedora" {
                "RedHat".to_owned()
            } else {
                capitalize(family)
            }
        }
        None => os.to_owned(),
    }
}

/// Python's `str.capitalize`: first character upper, the rest lower.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// `osrelease_info`, `osmajorrelease` and `osfinger`, derived from a non-empty `osrelease`.
fn osrelease_data(g: &mut BTreeMap<String, Value>, os: &str, fullname: &str, release: &str) {
    let info: Vec<Value> = release
        .split('.')
        .map(|part| {
            let numeric = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
            match part.parse::<u64>() {
                Ok(n) if numeric => Value::from(n),
                _ => Value::from(part),
            }
        })
        .collect();
    let first = info.first().cloned().unwrap_or(Value::Null);
    if let Some(n) = first.as_u64() {
        put(g, "osmajorrelease", n);
    }
    // These keep the short `os` in the fingerprint, the others the full name; AlmaLinux too,
    // since Salt's tests expect "AlmaLinux-10" for "AlmaLinux Kitten".
    let name = if [
        "Debian",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Mac",
        "Raspbian",
        "AlmaLinux",
    ]
    .contains(&os)
    {
        os
    } else {
        fullname
    };
    // These release twice a year, so the major alone would not tell two releases apart.
    let version = if ["Ubuntu", "Pop", "NixOS"].contains(&os) {
        release.to_owned()
    } else {
        match &first {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    put(g, "osfinger", format!("{name}-{version}"));
    put(g, "osrelease_info", info);
}

/// Parses os-release as Python's `platform.freedesktop_os_release` does: `NAME=value`, the
/// value optionally in matching quotes, with `\\`, `\$`, `\"`, `\'` and `` \` `` unescaped.
fn parse_os_release(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.split('\n') {
        let Some((name, rest)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let quoted = rest.len() >= 2
            && (rest.starts_with('"') || rest.starts_with('\''))
            && rest.as_bytes().first() == rest.as_bytes().last();
        let value = if quoted {
            &rest[1..rest.len() - 1]
        } else {
            rest
        };
        out.insert(name.to_owned(), unescape_shell(value));
    }
    out
}

fn unescape_shell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&next) = chars.peek() {
                if matches!(next, '\\' | '$' | '"' | '\'' | '`') {
                    out.push(next);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// Parses /etc/lsb-release as Salt does: `DISTRIB_{ID,RELEASE,CODENAME,DESCRIPTION}=`, the
/// value being the leading run of word characters, spaces, dots and dashes after an optional
/// quote (so "Linux Mint 21 (Vanessa)" keeps "Linux Mint 21").
fn parse_lsb_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.split('\n') {
        let Some(rest) = line.strip_prefix("DISTRIB_") else {
            continue;
        };
        let Some((key, value)) = ["ID", "RELEASE", "CODENAME", "DESCRIPTION"]
            .iter()
            .find_map(|k| Some((*k, rest.strip_prefix(k)?.strip_prefix('=')?)))
        else {
            continue;
        };
        let value = value.strip_prefix(['"', '\'']).unwrap_or(value);
        let end = value
            .find(|c: char| {
                !(c.is_alphanumeric() || c == '_' || c.is_whitespace() || c == '.' || c == '-')
            })
            .unwrap_or(value.len());
        if end == 0 {
            continue;
        }
        out.insert(
            format!("lsb_distrib_{}", key.to_lowercase()),
            value[..end].trim_end().to_owned(),
        );
    }
    out
}

/// The part of a CPE name Salt looks at.
struct Cpe {
    vendor: Option<String>,
    version: Option<String>,
}

/// Salt's `_parse_cpe_name` for the URI form `cpe:/o:vendor:product:version` and the 2.3
/// string form `cpe:2.3:o:vendor:product:version:...`; `None` when it is neither.
fn parse_cpe(cpe: &str) -> Option<Cpe> {
    let p: Vec<&str> = cpe.split(':').collect();
    if p.len() <= 4 || p[0] != "cpe" {
        return None;
    }
    let field = |s: &str| (s != "*").then(|| s.to_owned());
    if p[1].starts_with('/') {
        Some(Cpe {
            vendor: Some(p[2].to_owned()),
            version: Some(p[4].to_owned()),
        })
    } else if p[1] == "2.3" && (p.len() == 6 || (p.len() > 7 && p.len() <= 13)) {
        Some(Cpe {
            vendor: field(p[3]),
            version: field(p[5]),
        })
    } else {
        None
    }
}

/// What Python's `distro` package would say, the last resort of Salt's legacy layer.
#[derive(Debug, Default)]
struct Fallback {
    name: String,
    version: String,
    codename: String,
}

/// Release files `distro` tries, in its order.
const RELEASE_FILES: &[&str] = &[
    "SuSE-release",
    "altlinux-release",
    "arch-release",
    "base-release",
    "centos-release",
    "fedora-release",
    "gentoo-release",
    "mageia-release",
    "mandrake-release",
    "mandriva-release",
    "mandrivalinux-release",
    "manjaro-release",
    "oracle-release",
    "redhat-release",
    "rocky-release",
    "sl-release",
    "slackware-version",
];

fn distro_fallback(
    root: &Path,
    osr: Option<&HashMap<String, String>>,
    lsb: &BTreeMap<String, String>,
) -> Fallback {
    let os = |k: &str| osr.and_then(|m| m.get(k)).map(String::as_str).unwrap_or("");
    let lsb_get = |k: &str| lsb.get(k).map(String::as_str).unwrap_or("");
    // `distro` reads the first release file that names something.
    let release = RELEASE_FILES
        .iter()
        .filter_map(|f| read_text(&root.join("etc").join(f)))
        .map(|t| parse_release_line(t.lines().next().unwrap_or("")))
        .find(|r| !r.name.is_empty())
        .unwrap_or_default();

    let name = [os("NAME"), lsb_get(LSB_ID), release.name.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_owned();

    let mut candidates = vec![
        os("VERSION_ID").to_owned(),
        lsb_get(LSB_RELEASE).to_owned(),
        release.version.clone(),
        parse_release_line(os("PRETTY_NAME")).version,
        parse_release_line(lsb_get(LSB_DESCRIPTION)).version,
    ];
    let id = if os("ID").is_empty() {
        lsb_get(LSB_ID).to_lowercase()
    } else {
        os("ID").to_lowercase()
    };
    if id == "debian" || os("ID_LIKE").split_whitespace().any(|l| l == "debian") {
        if let Some(v) = read_text(&root.join("etc/debian_version")) {
            candidates.push(v.lines().next().unwrap_or("").trim_end().to_owned());
        }
    }
    // `distro.version(best=True)`: the most precise candidate, the first of equals.
    let mut version = String::new();
    for v in candidates {
        if version.is_empty() || v.matches('.').count() > version.matches('.').count() {
            version = v;
        }
    }

    let release_codename = version_codename(os("VERSION"));
    let os_codename = osr.and_then(|m| {
        m.get("VERSION_CODENAME")
            .or_else(|| m.get("UBUNTU_CODENAME"))
            .cloned()
            .or_else(|| release_codename.clone())
    });
    let codename = release_codename
        .filter(|c| !c.is_empty())
        .or(os_codename)
        .unwrap_or_else(|| {
            [lsb_get(LSB_CODENAME), release.codename.as_str()]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or("")
                .to_owned()
        });
    let unquote = |s: &str| s.trim_matches('"').trim_matches('\'').to_owned();
    Fallback {
        name: unquote(&name),
        version: unquote(&version),
        codename: unquote(&codename),
    }
}

/// `distro`'s reading of a release line "NAME [release] VERSION [(CODENAME)]", e.g.
/// "CentOS Linux release 7.9.2009 (Core)". A line without a version is all name.
fn parse_release_line(line: &str) -> Fallback {
    let s = line.trim();
    if let (Some(open), Some(close)) = (s.find('('), s.rfind(')')) {
        if open < close {
            if let Some((name, version)) = split_name_version(&s[..open]) {
                return Fallback {
                    name,
                    version,
                    codename: s[open + 1..close].to_owned(),
                };
            }
        }
    }
    match split_name_version(s) {
        Some((name, version)) => Fallback {
            name,
            version,
            codename: String::new(),
        },
        None => Fallback {
            name: s.to_owned(),
            ..Fallback::default()
        },
    }
}

/// Splits "NAME [release] VERSION" where VERSION starts with a digit and runs on in digits,
/// dots, '+', '-' and lowercase letters to the end.
fn split_name_version(head: &str) -> Option<(String, String)> {
    let head = head.trim_end_matches(' ');
    let is_ver =
        |c: char| c.is_ascii_digit() || c == '.' || c == '+' || c == '-' || c.is_ascii_lowercase();
    let run_start = head.len()
        - head
            .chars()
            .rev()
            .take_while(|c| is_ver(*c))
            .map(char::len_utf8)
            .sum::<usize>();
    let run = &head[run_start..];
    let digit = run.find(|c: char| c.is_ascii_digit())?;
    let version = &run[digit..];
    let mut name = head[..run_start + digit].trim_end_matches(' ');
    if let Some(n) = name.strip_suffix("release") {
        let n = n.trim_end_matches(' ');
        if !n.is_empty() {
            name = n;
        }
    }
    if name.is_empty() {
        return None;
    }
    Some((name.to_owned(), version.to_owned()))
}

/// `distro`'s codename in an os-release VERSION: "8.5 (Ootpa)" or "16.04, Xenial Xerus".
fn version_codename(version: &str) -> Option<String> {
    let non_digits = |s: &str| -> usize { s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len()) };
    for (i, c) in version.char_indices() {
        let rest = &version[i + c.len_utf8()..];
        if c == '(' {
            let run = &rest[..non_digits(rest)];
            if let Some(close) = run.rfind(')').filter(|&p| p > 0) {
                return Some(run[..close].to_owned());
            }
        } else if c == ',' {
            let after = rest.trim_start();
            let run = &after[..non_digits(after)];
            if !run.is_empty() {
                return Some(run.to_owned());
            }
        }
    }
    None
}

/// Maps (os-release ID, NAME) to `os` where the name alone would not.
const ID_AND_NAME_TO_OS: &[(&str, &str, &str)] = &[
    ("astra", "Astra Linux (Orel)", "AstraLinuxCE"),
    ("astra", "Astra Linux (Smolensk)", "AstraLinuxSE"),
    ("pop", "Pop!_OS", "Pop"),
    ("almalinux", "AlmaLinux Kitten", "AlmaLinux"),
];

/// Salt's `_OS_NAME_MAP`: the first ten characters of the name (no spaces, lowercased) to `os`.
const OS_NAME_MAP: &[(&str, &str)] = &[
    ("redhatente", "RedHat"),
    ("gentoobase", "Gentoo"),
    ("archarm", "Arch ARM"),
    ("arch", "Arch"),
    ("debian", "Debian"),
    ("raspbian", "Raspbian"),
    ("fedoraremi", "Fedora"),
    ("chapeau", "Chapeau"),
    ("korora", "Korora"),
    ("amazonami", "Amazon"),
    ("alt", "ALT"),
    ("enterprise", "OEL"),
    ("oracleserv", "OEL"),
    ("cloudserve", "CloudLinux"),
    ("cloudlinux", "CloudLinux"),
    ("almalinux", "AlmaLinux"),
    ("pidora", "Fedora"),
    ("scientific", "ScientificLinux"),
    ("synology", "Synology"),
    ("nilrt", "NILinuxRT"),
    ("poky", "Poky"),
    ("manjaro", "Manjaro"),
    ("manjarolin", "Manjaro"),
    ("univention", "Univention"),
    ("antergos", "Antergos"),
    ("sles", "SUSE"),
    ("void", "Void"),
    ("slesexpand", "RES"),
    ("linuxmint", "Mint"),
    ("neon", "KDE neon"),
    ("pop", "Pop"),
    ("rocky", "Rocky"),
    ("alibabaclo", "Alinux"),
    ("mendel", "Mendel"),
];

/// Salt's `_OS_FAMILY_MAP` from `os` to `os_family`, plus openEuler (RedHat in Salt's tests).
const OS_FAMILY_MAP: &[(&str, &str)] = &[
    ("Ubuntu", "Debian"),
    ("Fedora", "RedHat"),
    ("Chapeau", "RedHat"),
    ("Korora", "RedHat"),
    ("FedBerry", "RedHat"),
    ("CentOS", "RedHat"),
    ("CentOS Stream", "RedHat"),
    ("GoOSe", "RedHat"),
    ("Scientific", "RedHat"),
    ("Amazon", "RedHat"),
    ("CloudLinux", "RedHat"),
    ("AlmaLinux", "RedHat"),
    ("OVS", "RedHat"),
    ("OEL", "RedHat"),
    ("XCP", "RedHat"),
    ("XCP-ng", "RedHat"),
    ("XenServer", "RedHat"),
    ("RES", "RedHat"),
    ("Sangoma", "RedHat"),
    ("VMware Photon OS", "RedHat"),
    ("openEuler", "RedHat"),
    ("Mandrake", "Mandriva"),
    ("Mint", "Debian"),
    ("VMwareESX", "VMware"),
    ("Bluewhite64", "Bluewhite"),
    ("Slamd64", "Slackware"),
    ("SLES", "Suse"),
    ("SUSE Enterprise Server", "Suse"),
    ("SUSE  Enterprise Server", "Suse"),
    ("SLED", "Suse"),
    ("openSUSE", "Suse"),
    ("SUSE", "Suse"),
    ("openSUSE Leap", "Suse"),
    ("openSUSE Tumbleweed", "Suse"),
    ("SLES_SAP", "Suse"),
    ("Arch ARM", "Arch"),
    ("Manjaro", "Arch"),
    ("Manjaro ARM", "Arch"),
    ("Antergos", "Arch"),
    ("EndeavourOS", "Arch"),
    ("ALT", "RedHat"),
    ("Trisquel", "Debian"),
    ("GCEL", "Debian"),
    ("Linaro", "Debian"),
    ("elementary OS", "Debian"),
    ("elementary", "Debian"),
    ("Univention", "Debian"),
    ("ScientificLinux", "RedHat"),
    ("Raspbian", "Debian"),
    ("Devuan", "Debian"),
    ("antiX", "Debian"),
    ("Kali", "Debian"),
    ("Parrot OS", "Debian"),
    ("neon", "Debian"),
    ("Cumulus", "Debian"),
    ("Deepin", "Debian"),
    ("NILinuxRT", "NILinuxRT"),
    ("KDE neon", "Debian"),
    ("Void", "Void"),
    ("IDMS", "Debian"),
    ("Funtoo", "Gentoo"),
    ("TurnKey", "Debian"),
    ("Pop", "Debian"),
    ("Rocky", "RedHat"),
    ("AstraLinuxCE", "Debian"),
    ("AstraLinuxSE", "Debian"),
    ("Alinux", "RedHat"),
    ("Mendel", "Debian"),
    ("OSMC", "Debian"),
];

// ---------------------------------------------------------------------------------------------
// libc
// ---------------------------------------------------------------------------------------------

/// A NUL-terminated `c_char` array field as a string (lossy: uname fields are ASCII in practice).
fn c_field(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .map(|c| c.to_ne_bytes()[0])
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn uname() -> (String, String, String) {
    // SAFETY: utsname is plain old data, so all-zero is a valid value for uname to fill.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (String::new(), String::new(), String::new());
    }
    (
        c_field(&u.sysname),
        c_field(&u.release),
        c_field(&u.machine),
    )
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for writes of its length.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return String::new();
    }
    // A name that fills the buffer may lack its NUL; the length bounds it either way.
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn interface_addrs() -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list into `head`, released by freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned; it lives until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr points to a sockaddr whose family says which struct it begins.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        let addr = match family {
            libc::AF_INET => {
                // SAFETY: an AF_INET address is a sockaddr_in; read unaligned to assume nothing.
                let sin =
                    unsafe { std::ptr::read_unaligned(ifa.ifa_addr.cast::<libc::sockaddr_in>()) };
                IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
            }
            libc::AF_INET6 => {
                // SAFETY: an AF_INET6 address is a sockaddr_in6.
                let sin6 =
                    unsafe { std::ptr::read_unaligned(ifa.ifa_addr.cast::<libc::sockaddr_in6>()) };
                IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
            }
            // Link-layer entries carry no IP address.
            _ => continue,
        };
        out.push((name, addr));
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    out
}

fn online_cpus() -> usize {
    // Online CPUs, which is what Salt counts in /proc/cpuinfo (not the affinity-limited count).
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        return usize::try_from(n).unwrap_or(0);
    }
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake root in the temp dir, removed when dropped.
    struct Tree(PathBuf);

    impl Tree {
        fn new(tag: &str) -> Tree {
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

        fn file(&self, rel: &str, text: &str) -> &Tree {
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

    fn linux() -> SysInfo {
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

    /// The os grains Salt's tests compare, for a tree holding `files`.
    fn os_of(files: &[(&str, &str)]) -> Value {
        let t = Tree::new("os");
        for (rel, text) in files {
            t.file(rel, text);
        }
        let g = compute_from("m1", &t.0, &linux());
        let keys = [
            "os",
            "os_family",
            "osfullname",
            "oscodename",
            "osfinger",
            "osrelease",
            "osrelease_info",
            "osmajorrelease",
        ];
        let sub: Map<String, Value> = keys
            .iter()
            .filter_map(|k| Some((k.to_string(), g.get(*k)?.clone())))
            .collect();
        Value::Object(sub)
    }

    /// Salt's os grains written "os|os_family|osfullname|oscodename|osrelease|osrelease_info|osfinger",
    /// `osmajorrelease` following from the first `osrelease_info` element.
    fn want(spec: &str) -> Value {
        let f: Vec<&str> = spec.split('|').collect();
        assert_eq!(f.len(), 7, "bad spec {spec}");
        let info: Value = serde_json::from_str(f[5]).expect("osrelease_info is JSON");
        let mut m = json!({
            "os": f[0], "os_family": f[1], "osfullname": f[2], "oscodename": f[3],
            "osrelease": f[4], "osrelease_info": info, "osfinger": f[6],
        });
        if let Some(major) = m["osrelease_info"][0].as_u64() {
            m["osmajorrelease"] = json!(major);
        }
        m
    }

    const DEBIAN_12: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"#;

    const UBUNTU_2204: &str = r#"PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=jammy
"#;

    const UBUNTU_2204_LSB: &str = "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n";

    const CENTOS_STREAM_9: &str = r#"NAME="CentOS Stream"
VERSION="9"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="9"
PLATFORM_ID="platform:el9"
PRETTY_NAME="CentOS Stream 9"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:centos:centos:9"
HOME_URL="https://centos.org/"
BUG_REPORT_URL="https://issues.redhat.com/"
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_SUPPORT_PRODUCT_VERSION="CentOS Stream"
"#;

    const ROCKY_9: &str = r#"NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
"#;

    const ALPINE_319: &str = r#"NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"#;

    const ARCH: &str = r#"NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
ANSI_COLOR="38;2;23;147;209"
HOME_URL="https://archlinux.org/"
LOGO=archlinux-logo
"#;

    const CENTOS_7: &str = r#"NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
CPE_NAME="cpe:/o:centos:centos:7"
"#;

    const RHEL_8: &str = r#"NAME="Red Hat Enterprise Linux"
VERSION="8.5 (Ootpa)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="8.5"
PRETTY_NAME="Red Hat Enterprise Linux 8.5 (Ootpa)"
CPE_NAME="cpe:/o:redhat:enterprise_linux:8::baseos"
"#;

    /// A fake tree's files, as (path under the root, content).
    type Files = &'static [(&'static str, &'static str)];

    /// The brief's distributions, with os-release as they ship it.
    const DISTROS: &[(&str, Files, &str)] = &[
        (
            "debian 12",
            &[
                ("etc/os-release", DEBIAN_12),
                ("etc/debian_version", "12.5\n"),
            ],
            "Debian|Debian|Debian GNU/Linux|bookworm|12|[12]|Debian-12",
        ),
        (
            "ubuntu 22.04",
            &[("etc/os-release", UBUNTU_2204)],
            "Ubuntu|Debian|Ubuntu|jammy|22.04|[22,4]|Ubuntu-22.04",
        ),
        (
            "ubuntu 22.04 with lsb-release",
            &[
                ("etc/os-release", UBUNTU_2204),
                ("etc/lsb-release", UBUNTU_2204_LSB),
            ],
            "Ubuntu|Debian|Ubuntu|jammy|22.04|[22,4]|Ubuntu-22.04",
        ),
        (
            "centos stream 9",
            &[
                ("etc/os-release", CENTOS_STREAM_9),
                ("etc/centos-release", "CentOS Stream release 9\n"),
            ],
            "CentOS Stream|RedHat|CentOS Stream|CentOS Stream 9|9|[9]|CentOS Stream-9",
        ),
        (
            "rocky 9",
            &[
                ("etc/os-release", ROCKY_9),
                (
                    "etc/redhat-release",
                    "Rocky Linux release 9.3 (Blue Onyx)\n",
                ),
            ],
            "Rocky|RedHat|Rocky Linux|Blue Onyx|9.3|[9,3]|Rocky Linux-9",
        ),
        (
            "alpine 3.19",
            &[
                ("etc/os-release", ALPINE_319),
                ("etc/alpine-release", "3.19.1\n"),
            ],
            "Alpine|Alpine|Alpine Linux|Alpine Linux v3.19|3.19.1|[3,19,1]|Alpine Linux-3",
        ),
        (
            "centos 7: the full release is in centos-release",
            &[
                ("etc/os-release", CENTOS_7),
                (
                    "etc/centos-release",
                    "CentOS Linux release 7.9.2009 (Core)\n",
                ),
            ],
            "CentOS|RedHat|CentOS Linux|CentOS Linux 7 (Core)|7.9.2009|[7,9,2009]|CentOS Linux-7",
        ),
        (
            "rhel 8: the codename is in VERSION, not PRETTY_NAME",
            &[("etc/os-release", RHEL_8)],
            "RedHat|RedHat|Red Hat Enterprise Linux|Ootpa|8.5|[8,5]|Red Hat Enterprise Linux-8",
        ),
        (
            "centos 6: no os-release",
            &[("etc/centos-release", "CentOS release 6.10 (Final)\n")],
            "CentOS|RedHat|CentOS|Final|6.10|[6,10]|CentOS-6",
        ),
    ];

    /// Cases of Salt's tests/pytests/unit/grains/test_core.py: its os-release data and its
    /// expectations (`_linux_distribution` mocks become the release files `distro` would read).
    const SALT_CASES: &[(&str, Files, &str)] = &[
        (
            "debian 9",
            &[("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 9 (stretch)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"9\"\nVERSION=\"9 (stretch)\"\nVERSION_CODENAME=stretch\nID=debian\n")],
            "Debian|Debian|Debian GNU/Linux|stretch|9|[9]|Debian-9",
        ),
        (
            "centos 8",
            &[
                ("etc/os-release", "NAME=\"CentOS Linux\"\nVERSION=\"8 (Core)\"\nVERSION_ID=\"8\"\nPRETTY_NAME=\"CentOS Linux 8 (Core)\"\nID=\"centos\"\nCPE_NAME=\"cpe:/o:centos:centos:8\"\n"),
                ("etc/centos-release", "CentOS Linux release 8.1.1911 (Core)\n"),
            ],
            "CentOS|RedHat|CentOS Linux|CentOS Linux 8 (Core)|8.1.1911|[8,1,1911]|CentOS Linux-8",
        ),
        (
            "centos stream 8",
            &[("etc/os-release", "NAME=\"CentOS Stream\"\nVERSION=\"8\"\nVERSION_ID=\"8\"\nPRETTY_NAME=\"CentOS Stream 8\"\nID=\"centos\"\nCPE_NAME=\"cpe:/o:centos:centos:8\"\n")],
            "CentOS Stream|RedHat|CentOS Stream|CentOS Stream 8|8|[8]|CentOS Stream-8",
        ),
        (
            "alinux 2",
            &[("etc/os-release", "NAME=\"Alibaba Cloud Linux (Aliyun Linux)\"\nVERSION=\"2.1903 LTS (Hunting Beagle)\"\nVERSION_ID=\"2.1903\"\nPRETTY_NAME=\"Alibaba Cloud Linux (Aliyun Linux) 2.1903 LTS (Hunting Beagle)\"\nID=\"alinux\"\n")],
            "Alinux|RedHat|Alibaba Cloud Linux (Aliyun Linux)|Alibaba Cloud Linux (Aliyun Linux) 2.1903 LTS (Hunting Beagle)|2.1903|[2,1903]|Alibaba Cloud Linux (Aliyun Linux)-2",
        ),
        (
            "rocky 8",
            &[("etc/os-release", "NAME=\"Rocky Linux\"\nVERSION=\"8.5 (Green Obsidian)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.5\"\nPRETTY_NAME=\"Rocky Linux 8.5 (Green Obsidian)\"\nCPE_NAME=\"cpe:/o:rocky:rocky:8.5:GA\"\n")],
            "Rocky|RedHat|Rocky Linux|Green Obsidian|8.5|[8,5]|Rocky Linux-8",
        ),
        (
            "mendel",
            &[("etc/os-release", "PRETTY_NAME=\"Mendel GNU/Linux 5 (Eagle)\"\nNAME=\"Mendel GNU/Linux\"\nID=mendel\nID_LIKE=debian\nVERSION_CODENAME=eagle\n")],
            "Mendel|Debian|Mendel GNU/Linux|eagle|5|[5]|Mendel GNU/Linux-5",
        ),
        (
            "almalinux 8",
            &[("etc/os-release", "NAME=\"AlmaLinux\"\nID=\"almalinux\"\nPRETTY_NAME=\"AlmaLinux 8.5 (Arctic Sphynx)\"\nVERSION=\"8.5 (Arctic Sphynx)\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.5\"\n")],
            "AlmaLinux|RedHat|AlmaLinux|Arctic Sphynx|8.5|[8,5]|AlmaLinux-8",
        ),
        (
            "almalinux kitten",
            &[("etc/os-release", "NAME=\"AlmaLinux Kitten\"\nVERSION=\"10 (Lion Cub)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"10\"\nPRETTY_NAME=\"AlmaLinux Kitten 10 (Lion Cub)\"\n")],
            "AlmaLinux|RedHat|AlmaLinux Kitten|Lion Cub|10|[10]|AlmaLinux-10",
        ),
        (
            "virtuozzo 7",
            &[("etc/os-release", "NAME=\"Virtuozzo\"\nID=\"virtuozzo\"\nPRETTY_NAME=\"Virtuozzo release 7.5.4\"\nVERSION=\"7.5.4\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n")],
            "Virtuozzo|RedHat|Virtuozzo|Virtuozzo release 7.5.4|7|[7]|Virtuozzo-7",
        ),
        (
            "parrot 5.1",
            &[("etc/os-release", "PRETTY_NAME=\"Parrot OS 5.1 (Electro Ara)\"\nNAME=\"Parrot OS\"\nVERSION_ID=\"5.1\"\nVERSION=\"5.1 (Electro Ara)\"\nVERSION_CODENAME=ara\nID=parrot\nID_LIKE=debian\n")],
            "Parrot OS|Debian|Parrot OS|ara|5.1|[5,1]|Parrot OS-5",
        ),
        (
            "ubuntu 20.04",
            &[("etc/os-release", "NAME=\"Ubuntu\"\nVERSION=\"20.04.3 LTS (Focal Fossa)\"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu 20.04.3 LTS\"\nVERSION_ID=\"20.04\"\nVERSION_CODENAME=focal\nUBUNTU_CODENAME=focal\n")],
            "Ubuntu|Debian|Ubuntu|focal|20.04|[20,4]|Ubuntu-20.04",
        ),
        (
            "mint 20.3",
            &[("etc/os-release", "NAME=\"Linux Mint\"\nVERSION=\"20.3 (Una)\"\nID=linuxmint\nID_LIKE=ubuntu\nPRETTY_NAME=\"Linux Mint 20.3\"\nVERSION_ID=\"20.3\"\nVERSION_CODENAME=una\nUBUNTU_CODENAME=focal\n")],
            "Mint|Debian|Linux Mint|una|20.3|[20,3]|Linux Mint-20",
        ),
        (
            "pop 20.04",
            &[("etc/os-release", "NAME=\"Pop!_OS\"\nVERSION=\"20.04 LTS\"\nID=pop\nID_LIKE=\"ubuntu debian\"\nPRETTY_NAME=\"Pop!_OS 20.04 LTS\"\nVERSION_ID=\"20.04\"\nVERSION_CODENAME=focal\n")],
            "Pop|Debian|Pop!_OS|focal|20.04|[20,4]|Pop!_OS-20.04",
        ),
        (
            "astra ce",
            &[("etc/os-release", "PRETTY_NAME=\"Astra Linux (Orel 2.12.43)\"\nNAME=\"Astra Linux (Orel)\"\nID=astra\nID_LIKE=debian\nVARIANT_ID=orel\nVERSION_ID=2.12.43\nVERSION_CODENAME=orel\n")],
            "AstraLinuxCE|Debian|Astra Linux (Orel)|orel|2.12.43|[2,12,43]|Astra Linux (Orel)-2",
        ),
        (
            "astra se",
            &[("etc/os-release", "PRETTY_NAME=\"Astra Linux (Smolensk 1.6)\"\nNAME=\"Astra Linux (Smolensk)\"\nID=astra\nID_LIKE=debian\nVARIANT_ID=smolensk\nVERSION_ID=1.6\n")],
            "AstraLinuxSE|Debian|Astra Linux (Smolensk)|smolensk|1.6|[1,6]|Astra Linux (Smolensk)-1",
        ),
        (
            "openeuler",
            &[("etc/os-release", "PRETTY_NAME=\"openEuler 24.03 (LTS-SP1)\"\nNAME=\"openEuler\"\nID=\"openEuler\"\nVERSION=\"24.03 (LTS-SP1)\"\nVERSION_ID=\"24.03\"\n")],
            "openEuler|RedHat|openEuler|openEuler 24.03 (LTS-SP1)|24.03|[24,3]|openEuler-24",
        ),
        (
            "nixos",
            &[("etc/os-release", "ID=nixos\nID_LIKE=\"\"\nNAME=NixOS\nPRETTY_NAME=\"NixOS 25.05 (Warbler)\"\nVERSION=\"25.05 (Warbler)\"\nVERSION_CODENAME=warbler\nVERSION_ID=\"25.05\"\n")],
            "NixOS|NixOS|NixOS|warbler|25.05|[25,5]|NixOS-25.05",
        ),
        (
            "sles 12 sp1",
            &[("etc/os-release", "NAME=\"SLES\"\nVERSION=\"12-SP1\"\nVERSION_ID=\"12.1\"\nPRETTY_NAME=\"SUSE Linux Enterprise Server 12 SP1\"\nID=\"sles\"\nCPE_NAME=\"cpe:/o:suse:sles:12:sp1\"\n")],
            "SUSE|Suse|SLES|SUSE Linux Enterprise Server 12 SP1|12.1|[12,1]|SLES-12",
        ),
        (
            "opensuse leap 42.1",
            &[("etc/os-release", "NAME=\"openSUSE Leap\"\nVERSION=\"42.1\"\nVERSION_ID=\"42.1\"\nPRETTY_NAME=\"openSUSE Leap 42.1 (x86_64)\"\nID=opensuse\nCPE_NAME=\"cpe:/o:opensuse:opensuse:42.1\"\n")],
            "SUSE|Suse|Leap|openSUSE Leap 42.1 (x86_64)|42.1|[42,1]|Leap-42",
        ),
        (
            "tumbleweed",
            &[("etc/os-release", "NAME=\"openSUSE\"\nVERSION=\"Tumbleweed\"\nVERSION_ID=\"20160504\"\nPRETTY_NAME=\"openSUSE Tumbleweed (20160504) (x86_64)\"\nID=opensuse\nCPE_NAME=\"cpe:/o:opensuse:opensuse:20160504\"\n")],
            "SUSE|Suse|Tumbleweed|openSUSE Tumbleweed (20160504) (x86_64)|20160504|[20160504]|Tumbleweed-20160504",
        ),
    ];

    #[test]
    fn distributions_get_salts_os_grains() {
        for (name, files, spec) in DISTROS.iter().chain(SALT_CASES) {
            assert_eq!(os_of(files), want(spec), "{name}");
        }
    }

    #[test]
    fn arch_has_no_release_so_no_derived_grains() {
        let got = os_of(&[("usr/lib/os-release", ARCH), ("etc/arch-release", "")]);
        assert_eq!(
            got,
            json!({"os": "Arch", "os_family": "Arch", "osfullname": "Arch Linux",
                   "oscodename": "Arch Linux", "osrelease": ""})
        );
    }

    #[test]
    fn lsb_grains_come_from_the_file_when_it_names_the_distribution() {
        let t = Tree::new("lsb");
        t.file("etc/os-release", UBUNTU_2204)
            .file("etc/lsb-release", UBUNTU_2204_LSB);
        let g = compute_from("m1", &t.0, &linux());
        assert_eq!(g["lsb_distrib_id"], "Ubuntu");
        assert_eq!(g["lsb_distrib_release"], "22.04");
        assert_eq!(g["lsb_distrib_codename"], "jammy");
        assert_eq!(g["lsb_distrib_description"], "Ubuntu 22.04.4 LTS");
    }

    #[test]
    fn lsb_grains_come_from_os_release_otherwise() {
        let t = Tree::new("lsb-osr");
        t.file("etc/os-release", DEBIAN_12);
        let g = compute_from("m1", &t.0, &linux());
        assert_eq!(g["lsb_distrib_id"], "Debian GNU/Linux");
        assert_eq!(g["lsb_distrib_release"], "12");
        assert_eq!(g["lsb_distrib_codename"], "bookworm");
        assert!(!g.contains_key("lsb_distrib_description"));
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
    fn garbage_files_do_not_panic() {
        let t = Tree::new("garbage");
        t.file(
            "etc/os-release",
            "\u{0}\u{1}==\n=\nNAME\nID=\"\nVERSION_ID='.'\nPRETTY_NAME=(\n",
        )
        .file(
            "etc/lsb-release",
            "DISTRIB_ID=\"\nDISTRIB_RELEASE=\nDISTRIB_CODENAME=(x)\n",
        )
        .file("proc/meminfo", "MemTotal:\nSwapTotal: lots kB\n::::\n")
        .file("etc/centos-release", "((((")
        .file("etc/redhat-release", "release 1.2 (")
        .file("etc/debian_version", "");
        let g = compute_from("m1", &t.0, &linux());
        assert_eq!(g["mem_total"], 0);
        assert_eq!(g["osrelease"], ".");
        assert_eq!(g["osrelease_info"], json!(["", ""]));
        assert!(!g.contains_key("osmajorrelease"));
        for line in [
            "",
            "(",
            ")",
            "x (",
            "1 (a)",
            "release",
            " release 1",
            "a release (b)",
        ] {
            let _ = parse_release_line(line);
        }
        for v in ["(", "()", "(1)", ",", ", ", ",1", "(a) (b)"] {
            let _ = version_codename(v);
        }
    }

    #[test]
    fn os_release_parsing_follows_python() {
        let m = parse_os_release(
            "# comment\nA=plain\nB=\"double\"\nC='single'\nD=\"unbalanced\nE=\"a\\\"b\\\\c\\$d\\x\"\nF-G=bad\n H=indented\nI=\"\"\nJ=\"\n",
        );
        assert_eq!(m["A"], "plain");
        assert_eq!(m["B"], "double");
        assert_eq!(m["C"], "single");
        assert_eq!(m["D"], "\"unbalanced");
        assert_eq!(m["E"], "a\"b\\c$d\\x");
        assert_eq!(m["I"], "");
        assert_eq!(m["J"], "\"");
        assert!(!m.contains_key("F-G") && !m.contains_key(" H") && !m.contains_key("# comment"));
    }

    #[test]
    fn lsb_release_parsing_follows_salt() {
        let m = parse_lsb_release(
            "DISTRIB_ID=LinuxMint\nDISTRIB_RELEASE='21.2'\nDISTRIB_CODENAME=victoria\nDISTRIB_DESCRIPTION=\"Linux Mint 21.2 (Victoria)\"\nDISTRIB_OTHER=x\n",
        );
        assert_eq!(m["lsb_distrib_id"], "LinuxMint");
        assert_eq!(m["lsb_distrib_release"], "21.2");
        assert_eq!(m["lsb_distrib_codename"], "victoria");
        assert_eq!(m["lsb_distrib_description"], "Linux Mint 21.2");
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn os_names_derive_as_salt_does() {
        assert_eq!(derive_os("Debian GNU/Linux", Some("debian")), "Debian");
        assert_eq!(derive_os("Linux Mint", Some("linuxmint")), "Mint");
        assert_eq!(derive_os("Fedora Linux", Some("fedora")), "Fedora");
        assert_eq!(derive_os("Oracle Linux Server", Some("ol")), "OEL");
        assert_eq!(derive_os("Amazon Linux", Some("amzn")), "Amazon");
        assert_eq!(derive_os("Kali GNU/Linux", Some("kali")), "Kali");
        assert_eq!(derive_os("Gentoo", Some("gentoo")), "Gentoo");
        assert_eq!(derive_os("Linux", Some("linux")), "Linux");
        assert_eq!(os_family("Fedora", Some("fedora"), None), "RedHat");
        assert_eq!(os_family("Kali", Some("kali"), Some("debian")), "Debian");
        assert_eq!(os_family("Gentoo", Some("gentoo"), None), "Gentoo");
        assert_eq!(
            os_family("Zorin OS", Some("zorin"), Some("ubuntu debian")),
            "Debian"
        );
    }

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

    #[test]
    fn non_linux_kernels_get_salts_generic_os() {
        let t = Tree::new("bsd");
        let mut sys = linux();
        sys.sysname = "FreeBSD".into();
        sys.release = "14.0-RELEASE".into();
        let g = compute_from("m1", &t.0, &sys);
        assert_eq!(
            (&g["os"], &g["os_family"], &g["osrelease"]),
            (&json!("FreeBSD"), &json!("FreeBSD"), &json!("14.0"))
        );
        assert_eq!(g["osfinger"], "FreeBSD-14");
        assert_eq!(g["mem_total"], 0);
        sys.sysname = "Plan9".into();
        let g = compute_from("m1", &t.0, &sys);
        assert_eq!(
            (&g["os"], &g["os_family"]),
            (&json!("Plan9"), &json!("Unknown"))
        );
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
