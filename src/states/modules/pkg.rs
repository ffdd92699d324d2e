//! The `pkg.*` states: `pkg.installed` (`name`, `version`, `pkgs`, `sources`, `refresh`),
//! `pkg.removed` and `pkg.latest`, with Salt 3007's comments and changes, over the apt/dpkg
//! provider (`pkg/apt.rs`).

mod apt;

use crate::states::{ret, Ctx};
use apt::PkgList;
use serde_json::{json, Map, Value};

/// Packages in the order the SLS names them, each with its wanted version (or source).
type Desired = Vec<(String, Option<String>)>;

/// The name argument, empty when missing.
fn name_of(args: &Map<String, Value>) -> &str {
    args.get("name").and_then(Value::as_str).unwrap_or_default()
}

/// A version as Salt stringifies it (`1.2` from YAML is a float, `2` an int).
fn version_str(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Salt's `_repack_pkgs`: a list of names or one-key maps; `None` when malformed.
fn repack(v: &Value) -> Option<Desired> {
    let mut out = Desired::new();
    for item in v.as_array()? {
        match item {
            Value::String(s) => out.push((s.clone(), None)),
            Value::Object(m) if m.len() == 1 => {
                let (k, v) = m.iter().next()?;
                out.push((k.clone(), version_str(v)));
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A truthy argument (`True`, `"true"`, 1).
fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "1"),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

/// Salt's `_parse_version_string`: comma-separated conditions, `==` when no operator.
fn conditions(spec: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        let op = ["==", ">=", "<=", "!=", "<", ">", "="]
            .into_iter()
            .find(|o| p.starts_with(o));
        match op {
            Some(o) => out.push((
                if o == "=" { "==" } else { o },
                p[o.len()..].trim().to_owned(),
            )),
            None => out.push(("==", p.to_owned())),
        }
    }
    out
}

/// Salt's `_fulfills_version_string`: some installed version meets every condition.
fn fulfills(installed: &[String], spec: &str) -> bool {
    let conds = conditions(spec);
    installed
        .iter()
        .any(|v| conds.iter().all(|(op, want)| apt::compare(v, op, want)))
}

/// Salt's `_get_desired_pkg`: `name=version`, or `name>=1` for a comparison.
fn desired_str(name: &str, version: Option<&str>) -> String {
    match version {
        None | Some("") => name.to_owned(),
        Some(v) if v.starts_with(['<', '>', '=']) => format!("{name}{v}"),
        Some(v) => format!("{name}={v}"),
    }
}

/// Salt's `salt.utils.data.compare_dicts` over two package lists, names sorted.
fn diff(old: &PkgList, new: &PkgList) -> Map<String, Value> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut ch = Map::new();
    for k in keys {
        let (o, n) = (apt::joined(old.get(k)), apt::joined(new.get(k)));
        if !old.contains_key(k) {
            ch.insert(k.clone(), json!({"old": "", "new": n}));
        } else if !new.contains_key(k) {
            ch.insert(k.clone(), json!({"new": "", "old": o}));
        } else if o != n {
            ch.insert(k.clone(), json!({"old": o, "new": n}));
        }
    }
    ch
}

/// A `sources` entry as a local path: `salt://` through the file server (with its
/// `?saltenv=`), `file://` and absolute paths as they are.
fn local_source(ctx: &mut Ctx<'_>, pkg: &str, src: &str) -> Result<String, String> {
    if src.starts_with("salt://") {
        let unable = || format!("Unable to cache source {src} for package {pkg}");
        let (path, env) = crate::fileserver::url::split_url(src).ok_or_else(unable)?;
        let env = env.unwrap_or_else(|| ctx.saltenv.to_owned());
        return match ctx.files.get(&env, &path) {
            Ok(Some(p)) => Ok(p.to_string_lossy().into_owned()),
            Ok(None) => Err(unable()),
            Err(e) => Err(format!("{}: {e}", unable())),
        };
    }
    let p = src.strip_prefix("file://").unwrap_or(src);
    if !p.starts_with('/') {
        return Err(format!(
            "Path {src} for package {pkg} is either not absolute or an invalid protocol"
        ));
    }
    Ok(p.to_owned())
}

/// Salt's `CommandExecutionError.strerror_without_changes` for an apt failure.
fn problem(what: &str, errors: &[String]) -> String {
    let mut s =
        format!("Problem encountered {what} package(s). Additional info follows:\n\nerrors:");
    for e in errors {
        s.push_str("\n    - ");
        // The nested outputter indents continuation lines under the dash.
        s.push_str(&e.replace('\n', "\n      "));
    }
    s
}

/// `pkg.installed`.
pub fn installed(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = name_of(args);
    let fail = |c: String| ret(name, Some(false), c, Map::new());
    let pkgs_arg = args.get("pkgs").filter(|v| !v.is_null());
    let sources_arg = args.get("sources").filter(|v| !v.is_null());
    if pkgs_arg
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        return ret(
            name,
            Some(true),
            "No packages to install provided",
            Map::new(),
        );
    }
    if pkgs_arg.is_some() && sources_arg.is_some() {
        return fail("Only one of \"pkgs\" and \"sources\" is permitted.".into());
    }
    let by_sources = sources_arg.is_some();
    // As Salt: a lone name becomes `pkgs: [name]` (or `[{name: version}]`).
    let version = args.get("version").and_then(version_str);
    let desired = match (pkgs_arg, sources_arg) {
        (Some(p), _) => repack(p),
        (None, Some(s)) => repack(s),
        (None, None) => Some(vec![(name.to_owned(), version)]),
    };
    let Some(mut desired) = desired else {
        let which = if by_sources { "sources" } else { "pkgs" };
        return fail(format!(
            "Invalidly formatted '{which}' parameter. See minion log."
        ));
    };
    if by_sources && desired.iter().any(|(_, s)| s.is_none()) {
        return fail("Invalidly formatted 'sources' parameter. See minion log.".into());
    }
    let mut refresh = truthy(args.get("refresh"));
    let cur = match apt::list_pkgs() {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    // `version: latest` resolves to the candidate (or what is installed).
    if !by_sources {
        let latest: Vec<String> = desired
            .iter()
            .filter(|(_, v)| v.as_deref() == Some("latest"))
            .map(|(n, _)| n.clone())
            .collect();
        if !latest.is_empty() {
            if refresh && !ctx.test {
                if let Err(e) = apt::refresh_db() {
                    return fail(e.to_string());
                }
                refresh = false;
            }
            let found = apt::latest_version(&latest, &cur).unwrap_or_default();
            for (n, v) in desired.iter_mut().filter(|(n, _)| latest.contains(n)) {
                *v = match found.get(n).filter(|c| !c.is_empty()) {
                    Some(c) => Some(c.clone()),
                    None => cur.get(n).and_then(|l| l.last().cloned()),
                };
            }
        }
    }
    // What needs installing: missing packages, and installed ones whose version does not
    // meet the wanted one (for a source, the version inside the .deb).
    let mut targets: Vec<(String, Option<String>)> = Vec::new();
    let mut version_spec = false;
    let mut problems = Vec::new();
    for (pkg, want) in &desired {
        let cver = cur.get(pkg).cloned().unwrap_or_default();
        let verstr = if by_sources {
            let src = want.clone().unwrap_or_default();
            if cver.is_empty() {
                targets.push((pkg.clone(), want.clone()));
                continue;
            }
            let path = match local_source(ctx, pkg, &src) {
                Ok(p) if std::path::Path::new(&p).exists() => p,
                Ok(_) => {
                    problems.push(format!("{src} does not exist on minion"));
                    continue;
                }
                Err(_) => {
                    problems.push(format!("Unable to cache {src}: file not found"));
                    continue;
                }
            };
            // A .deb whose metadata cannot be read is taken as installed, as Salt does.
            match apt::bin_pkg_info(&path) {
                Some((_, v)) => v,
                None => continue,
            }
        } else {
            if cver.is_empty() {
                targets.push((pkg.clone(), want.clone()));
                continue;
            }
            match want {
                Some(v) if !v.is_empty() => v.clone(),
                _ => continue,
            }
        };
        version_spec = true;
        if !fulfills(&cver, &verstr) {
            targets.push((pkg.clone(), want.clone()));
        }
    }
    if !problems.is_empty() {
        return fail(problems.join(" "));
    }
    if targets.is_empty() {
        let tail = if version_spec && !by_sources {
            " and are at the desired version"
        } else {
            ""
        };
        return ret(
            name,
            Some(true),
            format!("All specified packages are already installed{tail}"),
            Map::new(),
        );
    }
    let summary_of = |list: &[(String, Option<String>)]| {
        list.iter()
            .map(|(n, v)| {
                if by_sources {
                    n.clone()
                } else {
                    desired_str(n, v.as_deref())
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if ctx.test {
        let mut ch = Map::new();
        let latest = if by_sources {
            Default::default()
        } else {
            let plain: Vec<String> = targets
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| n.clone())
                .collect();
            if plain.is_empty() {
                Default::default()
            } else {
                apt::latest_version(&plain, &PkgList::new()).unwrap_or_default()
            }
        };
        for (n, v) in &targets {
            let new = match (by_sources, v) {
                (false, Some(v)) => apt::repo_versions(n)
                    .into_iter()
                    .find(|r| fulfills(std::slice::from_ref(r), v)),
                (false, None) => latest.get(n).filter(|c| !c.is_empty()).cloned(),
                (true, _) => None,
            };
            let new = new.unwrap_or_else(|| "installed".into());
            ch.insert(n.clone(), json!({"new": new, "old": ""}));
        }
        let names: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
        return ret(
            name,
            None,
            format!(
                "The following packages would be installed/updated: {}",
                names.join(", ")
            ),
            ch,
        );
    }
    // The apt-get words: paths for sources, `name=version` (a comparison resolved against
    // the repository) for packages; a lower version than installed is a downgrade.
    let mut words = Vec::new();
    let mut downgrade = Vec::new();
    for (n, v) in &targets {
        if by_sources {
            let src = v.clone().unwrap_or_default();
            match local_source(ctx, n, &src) {
                Ok(p) => words.push(p),
                Err(e) => {
                    return fail(format!(
                        "An error was encountered while installing package(s): {e}"
                    ))
                }
            }
            continue;
        }
        let Some(v) = v.as_deref().filter(|v| !v.is_empty()) else {
            words.push(n.clone());
            continue;
        };
        let v = if v.starts_with(['<', '>']) {
            let avail = apt::repo_versions(n);
            match avail.iter().find(|r| fulfills(std::slice::from_ref(r), v)) {
                Some(r) => r.clone(),
                None => {
                    let list = if avail.is_empty() {
                        "None".to_owned()
                    } else {
                        avail.join(", ")
                    };
                    return fail(problem(
                        "installing",
                        &[format!(
                            "No version matching '{n}{v}' could be found (available: {list})"
                        )],
                    ));
                }
            }
        } else {
            v.trim_start_matches('=').to_owned()
        };
        let word = format!("{n}={v}");
        match cur.get(n) {
            Some(c) if !c.iter().any(|x| apt::compare(&v, ">=", x)) => downgrade.push(word),
            _ => words.push(word),
        }
    }
    if refresh {
        if let Err(e) = apt::refresh_db() {
            return fail(format!(
                "An error was encountered while installing package(s): {e}"
            ));
        }
    }
    let errors = apt::install(&words, &downgrade);
    let new = match apt::list_pkgs() {
        Ok(n) => n,
        Err(e) => return fail(e.to_string()),
    };
    let changes = diff(&cur, &new);
    if !errors.is_empty() {
        return ret(name, Some(false), problem("installing", &errors), changes);
    }
    let target_names: Vec<&String> = targets.iter().map(|(n, _)| n).collect();
    let (modified, not_modified, failed): (Vec<_>, Vec<_>, Vec<_>) = if by_sources {
        let modified: Vec<_> = targets
            .iter()
            .filter(|(n, _)| changes.contains_key(n))
            .cloned()
            .collect();
        let not_modified: Vec<_> = desired
            .iter()
            .filter(|(n, _)| !target_names.contains(&n))
            .cloned()
            .collect();
        let failed: Vec<_> = targets
            .iter()
            .filter(|(n, _)| !changes.contains_key(n))
            .cloned()
            .collect();
        (modified, not_modified, failed)
    } else {
        // Salt's `_verify_install`: each wanted package is there at a fitting version.
        let ok = |n: &str, v: &Option<String>| match (new.get(n), v.as_deref()) {
            (None, _) => false,
            (Some(_), None | Some("") | Some("latest")) => true,
            (Some(have), Some(v)) => fulfills(have, v),
        };
        let (good, bad): (Vec<_>, Vec<_>) = desired.iter().cloned().partition(|(n, v)| ok(n, v));
        let modified = good
            .iter()
            .filter(|(n, _)| target_names.contains(&n))
            .cloned()
            .collect();
        let not_modified = good
            .iter()
            .filter(|(n, _)| !target_names.contains(&n))
            .cloned()
            .collect();
        let failed = bad
            .into_iter()
            .filter(|(n, _)| target_names.contains(&n))
            .collect();
        (modified, not_modified, failed)
    };
    let mut comment = Vec::new();
    if !modified.is_empty() {
        let summary = summary_of(&modified);
        // Salt compares the length of the summary text, not the count, with 20.
        if summary.chars().count() < 20 {
            comment.push(format!(
                "The following packages were installed/updated: {summary}"
            ));
        } else {
            let many = modified.len() > 1;
            comment.push(format!(
                "{} targeted package{} {} installed/updated.",
                modified.len(),
                if many { "s" } else { "" },
                if many { "were" } else { "was" }
            ));
        }
    }
    if !not_modified.is_empty() {
        if not_modified.len() <= 20 {
            comment.push(format!(
                "The following packages were already installed: {}",
                summary_of(&not_modified)
            ));
        } else {
            comment.push(format!(
                "{} targeted packages were already installed",
                not_modified.len()
            ));
        }
    }
    let mut result = true;
    if !failed.is_empty() {
        comment.insert(
            0,
            format!(
                "The following packages failed to install/update: {}",
                summary_of(&failed)
            ),
        );
        result = false;
    }
    ret(name, Some(result), comment.join("\n"), changes)
}

/// `pkg.removed`.
pub fn removed(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = name_of(args);
    let fail = |c: String| ret(name, Some(false), c, Map::new());
    let wanted = match args.get("pkgs").filter(|v| !v.is_null()) {
        Some(p) => match repack(p) {
            Some(d) => d,
            None => return fail("Invalidly formatted pkgs parameter. See minion log.".into()),
        },
        None => vec![(name.to_owned(), args.get("version").and_then(version_str))],
    };
    let cur = match apt::list_pkgs() {
        Ok(c) => c,
        Err(e) => {
            return fail(format!(
                "An error was encountered while removing package(s): {e}"
            ))
        }
    };
    // Salt's `_find_remove_targets`: installed, and at the named version when one is given.
    let mut targets = Vec::new();
    let mut version_spec = false;
    for (pkg, ver) in &wanted {
        let Some(cver) = cur.get(pkg) else { continue };
        match ver.as_deref().filter(|v| !v.is_empty()) {
            None => targets.push(pkg.clone()),
            Some(v) => {
                version_spec = true;
                if fulfills(cver, v) {
                    targets.push(pkg.clone());
                }
            }
        }
    }
    if targets.is_empty() {
        let tail = if version_spec {
            " (matching specified versions)"
        } else {
            ""
        };
        return ret(
            name,
            Some(true),
            format!("All specified packages{tail} are already absent"),
            Map::new(),
        );
    }
    targets.sort();
    if ctx.test {
        let mut ch = Map::new();
        for t in &targets {
            ch.insert(t.clone(), json!({"new": "removed", "old": ""}));
        }
        return ret(
            name,
            None,
            format!(
                "The following packages will be removed: {}.",
                targets.join(", ")
            ),
            ch,
        );
    }
    let error = apt::remove(&targets);
    let new = match apt::list_pkgs() {
        Ok(n) => n,
        Err(e) => {
            return fail(format!(
                "An error was encountered while removing package(s): {e}"
            ))
        }
    };
    let changes = diff(&cur, &new);
    if let Some(e) = error {
        return ret(name, Some(false), problem("removing", &[e]), changes);
    }
    let mut failed: Vec<&String> = wanted
        .iter()
        .map(|(n, _)| n)
        .filter(|n| new.contains_key(*n))
        .collect();
    failed.sort();
    if !failed.is_empty() {
        let list: Vec<&str> = failed.iter().map(|s| s.as_str()).collect();
        return ret(
            name,
            Some(false),
            format!(
                "The following packages failed to remove: {}.",
                list.join(", ")
            ),
            changes,
        );
    }
    let mut not_installed: Vec<&str> = wanted
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !targets.iter().any(|t| t == n))
        .collect();
    not_installed.sort();
    let comment = if not_installed.is_empty() {
        "All targeted packages were removed.".to_owned()
    } else {
        format!(
            "The following packages were not installed: {} The following packages were removed: {}.",
            not_installed.join(", "),
            targets.join(", ")
        )
    };
    ret(name, Some(true), comment, changes)
}

/// `pkg.latest`.
pub fn latest(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = name_of(args);
    let fail = |c: String| ret(name, Some(false), c, Map::new());
    if args.get("sources").is_some_and(|v| !v.is_null()) {
        return fail("The \"sources\" parameter is not supported.".into());
    }
    let pkgs_arg = args.get("pkgs").filter(|v| !v.is_null());
    let desired: Vec<String> = match pkgs_arg {
        Some(Value::Array(a)) if a.is_empty() => {
            return ret(
                name,
                Some(true),
                "No packages to install provided",
                Map::new(),
            )
        }
        Some(p) => match repack(p) {
            Some(d) => d.into_iter().map(|(n, _)| n).collect(),
            None => return fail("Invalidly formatted \"pkgs\" parameter. See minion log.".into()),
        },
        None => vec![name.to_owned()],
    };
    // Salt refreshes before asking for candidates unless told not to.
    let refresh = args
        .get("refresh")
        .is_none_or(|v| v.is_null() || truthy(Some(v)));
    if refresh && !ctx.test {
        if let Err(e) = apt::refresh_db() {
            return fail(format!(
                "An error was encountered while checking the newest available version of package(s): {e}"
            ));
        }
    }
    let cur = match apt::list_pkgs() {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let avail = match apt::latest_version(&desired, &cur) {
        Ok(a) => a,
        Err(e) => {
            return fail(format!(
                "An error was encountered while checking the newest available version of package(s): {e}"
            ))
        }
    };
    let mut targets: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    for p in &desired {
        match avail.get(p).filter(|a| !a.is_empty()) {
            Some(a) => targets.push((p.clone(), a.clone())),
            None if !cur.contains_key(p) => {
                problems.push(format!("No information found for '{p}'."))
            }
            None => {}
        }
    }
    if !problems.is_empty() {
        return fail(problems.join(" "));
    }
    if targets.is_empty() {
        let comment = if desired.len() > 10 {
            format!("All {} packages are up-to-date.", desired.len())
        } else if desired.len() > 1 {
            let mut s = desired.clone();
            s.sort();
            format!("All packages are up-to-date ({}).", s.join(", "))
        } else {
            format!("Package {name} is already up-to-date", name = desired[0])
        };
        return ret(name, Some(true), comment, Map::new());
    }
    targets.sort();
    let tnames: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
    let mut up_to_date: Vec<&str> = if pkgs_arg.is_some() {
        desired
            .iter()
            .map(String::as_str)
            .filter(|p| !tnames.contains(p))
            .collect()
    } else {
        Vec::new()
    };
    up_to_date.sort();
    if ctx.test {
        let mut comments = vec![format!(
            "The following packages would be installed/upgraded: {}",
            tnames.join(", ")
        )];
        if !up_to_date.is_empty() {
            if up_to_date.len() <= 10 {
                let l: Vec<String> = up_to_date
                    .iter()
                    .map(|x| format!("{x} ({})", apt::joined(cur.get(*x))))
                    .collect();
                comments.push(format!(
                    "The following packages are already up-to-date: {}",
                    l.join(", ")
                ));
            } else {
                comments.push(format!(
                    "{} packages are already up-to-date",
                    up_to_date.len()
                ));
            }
        }
        let mut ch = Map::new();
        for (n, v) in &targets {
            ch.insert(n.clone(), json!({"new": v, "old": apt::joined(cur.get(n))}));
        }
        return ret(name, None, comments.join("\n"), ch);
    }
    let words: Vec<String> = tnames.iter().map(|s| s.to_string()).collect();
    let errors = apt::install(&words, &[]);
    let new = match apt::list_pkgs() {
        Ok(n) => n,
        Err(e) => return fail(e.to_string()),
    };
    let changes = diff(&cur, &new);
    if !errors.is_empty() {
        return fail(format!(
            "An error was encountered while installing package(s): {}",
            problem("installing", &errors)
        ));
    }
    if changes.is_empty() {
        let mut comment = if targets.len() > 10 {
            format!(
                "{} targeted packages failed to update. See debug log for details.",
                targets.len()
            )
        } else if targets.len() > 1 {
            format!(
                "The following targeted packages failed to update. See debug log for details: ({}).",
                tnames.join(", ")
            )
        } else {
            format!("Package {} failed to update.", tnames[0])
        };
        if !up_to_date.is_empty() {
            if up_to_date.len() <= 10 {
                comment.push_str(&format!(
                    " The following packages were already up-to-date: {}",
                    up_to_date.join(", ")
                ));
            } else {
                comment.push_str(&format!(
                    "{} packages were already up-to-date",
                    up_to_date.len()
                ));
            }
        }
        return ret(name, Some(false), comment, changes);
    }
    let failed: Vec<&str> = targets
        .iter()
        .filter(|(n, v)| match changes.get(n) {
            None => true,
            Some(c) => c
                .get("new")
                .and_then(Value::as_str)
                .is_some_and(|new| !new.split(',').any(|x| x == v)),
        })
        .map(|(n, _)| n.as_str())
        .collect();
    let ok: Vec<&str> = tnames
        .iter()
        .copied()
        .filter(|n| !failed.contains(n))
        .collect();
    let mut comments = Vec::new();
    if !failed.is_empty() {
        comments.push(format!(
            "The following packages failed to update: {}",
            failed.join(", ")
        ));
    }
    if !ok.is_empty() {
        comments.push(format!(
            "The following packages were successfully installed/upgraded: {}",
            ok.join(", ")
        ));
    }
    if !up_to_date.is_empty() {
        if up_to_date.len() <= 10 {
            comments.push(format!(
                "The following packages were already up-to-date: {}",
                up_to_date.join(", ")
            ));
        } else {
            comments.push(format!(
                "{} packages were already up-to-date ",
                up_to_date.len()
            ));
        }
    }
    ret(name, Some(failed.is_empty()), comments.join(" "), changes)
}

#[cfg(test)]
mod tests;
