//! OS grains: `os`, `os_family` and the release grains, from the Linux distribution or the
//! kernel name, with Salt's tables that map a distribution's name to them.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::distro::{linux_distribution, Distro};
use super::{put, SysInfo};

pub(super) fn os_grains(g: &mut BTreeMap<String, Value>, root: &Path, sys: &SysInfo) {
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

/// Salt's `_derive_os_grain`: the short `os` name from os-release NAME (and ID).
pub(super) fn derive_os(fullname: &str, id: Option<&str>) -> String {
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
pub(super) fn os_family(os: &str, id: Option<&str>, id_like: Option<&str>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grains::compute_from;
    use crate::grains::tests::{linux, Tree};
    use serde_json::json;

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
}
