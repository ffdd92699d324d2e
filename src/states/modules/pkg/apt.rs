//! The Debian package provider, as Salt 3007's `salt/modules/aptpkg.py`: the package
//! database from `dpkg-query`, candidates from `apt-cache policy`, installs and removals
//! through `apt-get` (a local `.deb` is given to `apt-get install` by path, as Salt does),
//! version comparisons by `dpkg --compare-versions`.

use crate::states::command::{run_argv, CmdError, CmdOpts, Output};
use std::collections::BTreeMap;
use std::fmt;

/// Installed packages: name (with `:arch` for a foreign architecture) to versions.
pub type PkgList = BTreeMap<String, Vec<String>>;

/// Why the package database could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkgError {
    /// A command could not be started.
    Cmd(CmdError),
    /// A command ran and failed: the command and its standard error.
    Failed(String, String),
}

impl fmt::Display for PkgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkgError::Cmd(e) => write!(f, "{e}"),
            PkgError::Failed(cmd, err) => write!(f, "{cmd} failed: {err}"),
        }
    }
}

impl std::error::Error for PkgError {}

/// The environment Salt gives apt and dpkg (`DPKG_ENV_VARS`), so nothing prompts.
fn opts() -> CmdOpts {
    let env = [
        ("APT_LISTBUGS_FRONTEND", "none"),
        ("APT_LISTCHANGES_FRONTEND", "none"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("UCF_FORCE_CONFFOLD", "1"),
    ];
    CmdOpts {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        // An apt-get that waits on a lock or a dead mirror must not hang the run forever.
        timeout: Some(1800.0),
        ..CmdOpts::default()
    }
}

fn call(argv: &[&str]) -> Result<Output, PkgError> {
    log::debug!(target: "brine::states", "pkg: running {argv:?}");
    run_argv(argv, &opts()).map_err(PkgError::Cmd)
}

/// The machine's dpkg architecture (`amd64`), for naming foreign packages `name:arch`.
fn native_arch() -> Option<String> {
    let o = call(&["dpkg", "--print-architecture"]).ok()?;
    (o.retcode == 0).then(|| o.stdout.trim().to_owned())
}

/// The installed packages, as `pkg.list_pkgs(versions_as_list=True)`: a package counts
/// when its selection is `install` or `hold` and its status is `installed`.
pub fn list_pkgs() -> Result<PkgList, PkgError> {
    let fmt = "${Status} ${Package} ${Version} ${Architecture}\n";
    let o = call(&["dpkg-query", "--showformat", fmt, "-W"])?;
    // dpkg-query exits 1 with "no packages found" only for a named query; -W alone
    // failing means the database is unreadable.
    if o.retcode != 0 && o.stdout.is_empty() {
        return Err(PkgError::Failed("dpkg-query -W".into(), o.stderr));
    }
    Ok(parse_list(&o.stdout, native_arch().as_deref()))
}

/// Parses `dpkg-query -W` lines of `want ok status name version arch`.
fn parse_list(out: &str, native: Option<&str>) -> PkgList {
    let mut ret = PkgList::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [want, _, status, name, version, arch, ..] = cols.as_slice() else {
            continue;
        };
        if !((want.contains("install") || want.contains("hold")) && status.contains("installed"))
            || *status == "not-installed"
        {
            continue;
        }
        let mut name = name.to_string();
        if native.is_some_and(|n| *arch != "all" && n != *arch) {
            name = format!("{name}:{arch}");
        }
        ret.entry(name).or_default().push(version.to_string());
    }
    ret
}

/// A version list as Salt's `pkg_resource.stringify` joins it.
pub fn joined(versions: Option<&Vec<String>>) -> String {
    versions.map(|v| v.join(",")).unwrap_or_default()
}

/// `apt-get -q update`.
pub fn refresh_db() -> Result<(), PkgError> {
    let o = call(&["apt-get", "-q", "update"])?;
    if o.retcode != 0 {
        return Err(PkgError::Failed("apt-get -q update".into(), o.merged()));
    }
    Ok(())
}

/// The candidate versions of `names` (`apt-cache policy`), empty where there is none.
pub fn candidates(names: &[String]) -> Result<BTreeMap<String, String>, PkgError> {
    let mut argv = vec!["apt-cache", "-q", "policy"];
    argv.extend(names.iter().map(String::as_str));
    let o = call(&argv)?;
    let mut ret: BTreeMap<String, String> =
        names.iter().map(|n| (n.clone(), String::new())).collect();
    let mut this: Option<String> = None;
    for line in o.stdout.lines() {
        let line = line.trim();
        if let Some(head) = line.strip_suffix(':') {
            if !line.starts_with("Version table") {
                let short = head.split(':').next().unwrap_or(head);
                this = names
                    .iter()
                    .find(|n| n.as_str() == head || n.split(':').next() == Some(short))
                    .cloned();
            }
        } else if let Some(rest) = line.strip_prefix("Candidate:") {
            let c = rest.trim();
            if let Some(n) = &this {
                let c = if c.eq_ignore_ascii_case("(none)") {
                    ""
                } else {
                    c
                };
                ret.insert(n.clone(), c.to_owned());
            }
        }
    }
    Ok(ret)
}

/// `pkg.latest_version`: the candidate of each name, or empty when nothing newer than the
/// installed version is available.
pub fn latest_version(
    names: &[String],
    cur: &PkgList,
) -> Result<BTreeMap<String, String>, PkgError> {
    let mut ret = candidates(names)?;
    for (name, cand) in ret.iter_mut() {
        let Some(inst) = cur.get(name) else { continue };
        if cand.is_empty() || inst.iter().any(|v| compare(v, ">=", cand)) {
            cand.clear();
        }
    }
    Ok(ret)
}

/// The versions the repositories offer for `name`, newest first (`apt-cache madison`).
pub fn repo_versions(name: &str) -> Vec<String> {
    let Ok(o) = call(&["apt-cache", "madison", name]) else {
        return Vec::new();
    };
    let mut v: Vec<String> = Vec::new();
    for line in o.stdout.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [n, ver, ..] = cols.as_slice() {
            if *n == name && !v.iter().any(|x| x == ver) {
                v.push(ver.to_string());
            }
        }
    }
    v
}

/// Debian version comparison (`dpkg --compare-versions a op b`) with Salt's operators.
pub fn compare(a: &str, op: &str, b: &str) -> bool {
    let dop = match op {
        "==" | "=" => "eq",
        "!=" => "ne",
        ">=" => "ge",
        "<=" => "le",
        ">" => "gt",
        "<" => "lt",
        _ => return false,
    };
    call(&["dpkg", "--compare-versions", a, dop, b]).is_ok_and(|o| o.retcode == 0)
}

/// The package name and version inside a `.deb` (`lowpkg.bin_pkg_info`).
pub fn bin_pkg_info(path: &str) -> Option<(String, String)> {
    let o = call(&["dpkg-deb", "-f", path, "Package", "Version"]).ok()?;
    if o.retcode != 0 {
        return None;
    }
    let field = |k: &str| {
        o.stdout.lines().find_map(|l| {
            l.strip_prefix(k)?
                .strip_prefix(':')
                .map(|v| v.trim().to_owned())
        })
    };
    Some((field("Package")?, field("Version")?))
}

/// `apt-get -q -y -o DPkg::Options::=--force-confold -o DPkg::Options::=--force-confdef
/// install <targets>` (with `--force-yes` for downgrades, as Salt); the errors of each
/// failed command.
pub fn install(targets: &[String], downgrade: &[String]) -> Vec<String> {
    let mut errors = Vec::new();
    for (words, force) in [(targets, false), (downgrade, true)] {
        if words.is_empty() {
            continue;
        }
        let mut argv = vec![
            "apt-get",
            "-q",
            "-y",
            "-o",
            "DPkg::Options::=--force-confold",
            "-o",
            "DPkg::Options::=--force-confdef",
        ];
        if force {
            argv.push("--force-yes");
        }
        argv.push("install");
        argv.extend(words.iter().map(String::as_str));
        match call(&argv) {
            Ok(o) if o.retcode != 0 && !o.stderr.is_empty() => errors.push(o.stderr),
            Ok(_) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    errors
}

/// `apt-get -q -y remove <names>`; the error text when it fails.
pub fn remove(names: &[String]) -> Option<String> {
    let mut argv = vec!["apt-get", "-q", "-y", "remove"];
    argv.extend(names.iter().map(String::as_str));
    match call(&argv) {
        Ok(o) if o.retcode != 0 && !o.stderr.is_empty() => Some(o.stderr),
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_lists_installed_and_held_packages_with_foreign_arches() {
        let out = "install ok installed bash 5.2 amd64\n\
                   deinstall ok config-files old 1.0 amd64\n\
                   hold ok installed held 2 all\n\
                   install ok installed libc6 2.36 i386\n\
                   unknown ok not-installed gone  amd64\n";
        let l = parse_list(out, Some("amd64"));
        let names: Vec<&str> = l.keys().map(String::as_str).collect();
        assert_eq!(names, ["bash", "held", "libc6:i386"]);
        assert_eq!(joined(l.get("bash")), "5.2");
    }
}
