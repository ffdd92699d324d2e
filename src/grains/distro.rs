//! Which Linux distribution this is, decided as Salt's legacy layer does: os-release,
//! /etc/lsb-release, /etc/centos-release, and the release files of the `distro` package last.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::os::{derive_os, os_family};
use super::read_text;

/// The distribution grains as Salt's dict holds them: `None` is a key Salt never set.
#[derive(Debug, Default)]
pub(super) struct Distro {
    pub(super) os: Option<String>,
    pub(super) os_family: Option<String>,
    pub(super) osfullname: Option<String>,
    pub(super) osrelease: Option<String>,
    pub(super) oscodename: Option<String>,
    /// `lsb_distrib_{id,release,codename,description}`, reported as grains too.
    pub(super) lsb: BTreeMap<String, String>,
}

const LSB_ID: &str = "lsb_distrib_id";
const LSB_RELEASE: &str = "lsb_distrib_release";
const LSB_CODENAME: &str = "lsb_distrib_codename";
const LSB_DESCRIPTION: &str = "lsb_distrib_description";

pub(super) fn linux_distribution(root: &Path) -> Distro {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grains::compute_from;
    use crate::grains::tests::{linux, Tree};
    use serde_json::{json, Map, Value};

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
}
