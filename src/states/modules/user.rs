//! The `user.*` states: `user.present` (`uid`, `gid`, `groups`, `optional_groups`,
//! `remove_groups`, `home`, `createhome`, `shell`, `fullname`, `system`, `unique`,
//! `allow_uid_change`, `allow_gid_change`) and `user.absent` (`purge`, `force`), with Salt
//! 3007's comments and changes, through `useradd`/`usermod`/`userdel` (Salt's `useradd`
//! module). Passwords and shadow ageing are not handled.

use super::group::{self, ok, py_list, py_str};
use crate::states::command::{run_argv, CmdOpts};
use crate::states::{ret, Ctx};
use serde_json::{json, Map, Value};

/// A user as Salt's `user.info` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UserInfo {
    name: String,
    passwd: String,
    uid: u64,
    gid: u64,
    /// The GECOS fields: full name, room, work phone, home phone, other.
    gecos: [String; 5],
    home: String,
    shell: String,
    /// Every group the user is in, the primary one included, sorted.
    groups: Vec<String>,
}

impl UserInfo {
    /// The info in Salt's key order.
    fn to_map(&self) -> Map<String, Value> {
        let [fullname, roomnumber, workphone, homephone, other] = &self.gecos;
        let v = json!({
            "gid": self.gid, "groups": self.groups, "home": self.home, "name": self.name,
            "passwd": self.passwd, "shell": self.shell, "uid": self.uid,
            "fullname": fullname, "roomnumber": roomnumber, "workphone": workphone,
            "homephone": homephone, "other": other,
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// Parses a `name:passwd:uid:gid:gecos:home:shell` line.
fn parse_passwd(line: &str) -> Option<UserInfo> {
    let f: Vec<&str> = line.trim_end_matches('\n').split(':').collect();
    let [name, passwd, uid, gid, gecos, home, shell] = f.as_slice() else {
        return None;
    };
    let mut g = gecos.splitn(5, ',').map(str::to_owned);
    let mut next = || g.next().unwrap_or_default();
    Some(UserInfo {
        name: name.to_string(),
        passwd: passwd.to_string(),
        uid: uid.parse().ok()?,
        gid: gid.parse().ok()?,
        gecos: [next(), next(), next(), next(), next()],
        home: home.to_string(),
        shell: shell.to_string(),
        groups: Vec::new(),
    })
}

/// `user.info`: the password database entry (NSS, as Python's `pwd`) and the groups.
fn info(name: &str) -> Option<UserInfo> {
    // getent and id read options from a name that starts with a dash.
    if name.is_empty() || name.starts_with('-') {
        return None;
    }
    let o = run_argv(&["getent", "passwd", name], &CmdOpts::default()).ok()?;
    if o.retcode != 0 {
        return None;
    }
    let mut u = o.stdout.lines().next().and_then(parse_passwd)?;
    u.groups = group_list(name);
    Some(u)
}

/// `salt.utils.user.get_group_list`: the names of the user's groups, sorted.
fn group_list(name: &str) -> Vec<String> {
    let Ok(o) = run_argv(&["id", "-Gn", name], &CmdOpts::default()) else {
        return Vec::new();
    };
    let mut g: Vec<String> = o.stdout.split_whitespace().map(str::to_owned).collect();
    g.sort();
    g.dedup();
    g
}

/// A uid or gid argument: a number, or (for a gid) a group name.
fn id_arg(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A gid argument as a number (a group name looked up), as `file.group_to_gid`.
fn gid_of(g: &str) -> Option<u64> {
    g.parse().ok().or_else(|| group::lookup(g).map(|i| i.gid))
}

/// A string argument, `None` when missing or null (numbers stringified, as Salt's `str()`).
fn text(args: &Map<String, Value>, k: &str) -> Option<String> {
    match args.get(k)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn flag(args: &Map<String, Value>, k: &str, default: bool) -> bool {
    match args.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "1"),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => default,
    }
}

/// What `user.present` asks for.
struct Want {
    uid: Option<String>,
    gid: Option<String>,
    groups: Option<Vec<String>>,
    optional: Vec<String>,
    remove_groups: bool,
    home: Option<String>,
    createhome: bool,
    shell: Option<String>,
    fullname: Option<String>,
}

/// One attribute to change, as Salt's `_changes` names it.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    Uid(String),
    Gid(String),
    Groups(Vec<String>),
    Home(String),
    HomeDoesNotExist(String),
    Shell(String),
    Fullname(String),
}

impl Change {
    /// `key: value` as Salt's test-mode comment prints it (Python's `str` of the value).
    fn line(&self) -> String {
        match self {
            Change::Uid(v) => format!("uid: {v}"),
            Change::Gid(v) => format!("gid: {v}"),
            Change::Groups(g) => format!("groups: {}", py_list(g, '[', ']')),
            Change::Home(v) => format!("home: {v}"),
            Change::HomeDoesNotExist(v) => format!("homeDoesNotExist: {v}"),
            Change::Shell(v) => format!("shell: {v}"),
            Change::Fullname(v) => format!("fullname: {v}"),
        }
    }
    /// `'key': value` inside Python's repr of the dict.
    fn repr(&self) -> String {
        let (k, v) = match self {
            Change::Uid(v) => (
                "uid",
                v.parse::<u64>()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| py_str(v)),
            ),
            Change::Gid(v) => (
                "gid",
                v.parse::<u64>()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| py_str(v)),
            ),
            Change::Groups(g) => ("groups", py_list(g, '[', ']')),
            Change::Home(v) => ("home", py_str(v)),
            Change::HomeDoesNotExist(v) => ("homeDoesNotExist", py_str(v)),
            Change::Shell(v) => ("shell", py_str(v)),
            Change::Fullname(v) => ("fullname", py_str(v)),
        };
        format!("'{k}': {v}")
    }
}

/// Salt's `_group_changes`: the supplementary groups need setting.
fn group_changes(cur: &[String], wanted: &[String], remove: bool) -> bool {
    let has = |set: &[String], x: &String| set.contains(x);
    let same = cur.iter().all(|c| has(wanted, c)) && wanted.iter().all(|w| has(cur, w));
    if same || (!remove && wanted.iter().all(|w| has(cur, w))) {
        return false;
    }
    if remove {
        cur.iter().any(|c| !has(wanted, c)) || wanted.iter().any(|w| !has(cur, w))
    } else {
        wanted.iter().any(|w| !has(cur, w))
    }
}

/// Salt's `_changes` (without the duplicate-gid subtleties): what differs on an existing
/// user, in Salt's order.
fn changes(u: &UserInfo, w: &Want) -> Vec<Change> {
    let mut out = Vec::new();
    if let Some(uid) = &w.uid {
        if uid.parse::<u64>().ok() != Some(u.uid) {
            out.push(Change::Uid(uid.clone()));
        }
    }
    if let Some(gid) = &w.gid {
        if gid_of(gid) != Some(u.gid) {
            out.push(Change::Gid(gid.clone()));
        }
    }
    let mut wanted: Vec<String> = w.groups.clone().unwrap_or_default();
    wanted.extend(w.optional.iter().cloned());
    let mut cur = u.groups.clone();
    if !w.remove_groups || (w.groups.is_none() && w.optional.is_empty()) {
        wanted.extend(cur.iter().cloned());
    }
    wanted.sort();
    wanted.dedup();
    // The primary group is never a supplementary one to set (old or new).
    let name_of = |gid: u64| {
        crate::states::command::run_argv(
            &["getent", "group", &gid.to_string()],
            &CmdOpts::default(),
        )
        .ok()
        .and_then(|o| o.stdout.split(':').next().map(str::to_owned))
    };
    let new_gid = w.gid.as_deref().and_then(gid_of).unwrap_or(u.gid);
    for primary in [name_of(new_gid), name_of(u.gid)].into_iter().flatten() {
        cur.retain(|g| *g != primary);
        if Some(new_gid) == gid_of(&primary) {
            wanted.retain(|g| *g != primary);
        }
    }
    if !wanted.contains(&u.name) {
        cur.retain(|g| *g != u.name);
    }
    if group_changes(&cur, &wanted, w.remove_groups) && (!wanted.is_empty() || w.remove_groups) {
        out.push(Change::Groups(wanted));
    }
    if let Some(home) = &w.home {
        if *home != u.home {
            out.push(Change::Home(home.clone()));
        }
    }
    if w.createhome {
        let h = w.home.clone().unwrap_or_else(|| u.home.clone());
        if !std::path::Path::new(&h).is_dir() {
            out.push(Change::HomeDoesNotExist(h));
        }
    }
    if let Some(shell) = &w.shell {
        if *shell != u.shell {
            out.push(Change::Shell(shell.clone()));
        }
    }
    if let Some(f) = &w.fullname {
        if *f != u.gecos[0] {
            out.push(Change::Fullname(f.clone()));
        }
    }
    out
}

/// The GECOS field with a new full name, trailing empty fields dropped (`_build_gecos`).
fn gecos_with(u: &UserInfo, fullname: &str) -> String {
    let mut g = u.gecos.clone();
    g[0] = fullname.to_owned();
    g.join(",").trim_end_matches(',').to_owned()
}

/// `user.present`.
pub fn present(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let fail = |c: String| ret(name, Some(false), c, Map::new());
    let w = Want {
        uid: id_arg(args.get("uid")),
        gid: id_arg(args.get("gid")),
        groups: super::name_list(args.get("groups")),
        optional: super::name_list(args.get("optional_groups"))
            .unwrap_or_default()
            .into_iter()
            .filter(|g| group::lookup(g).is_some())
            .collect(),
        remove_groups: flag(args, "remove_groups", true),
        home: text(args, "home"),
        createhome: flag(args, "createhome", true),
        shell: text(args, "shell"),
        fullname: text(args, "fullname"),
    };
    if let Some(f) = w.fullname.as_ref().filter(|f| f.contains(',')) {
        return fail(format!("Unsupported char ',' in {f}"));
    }
    let mut w = w;
    let missing: Vec<String> = w
        .groups
        .iter()
        .flatten()
        .filter(|g| group::lookup(g).is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        if !ctx.test {
            return fail(format!(
                "The following group(s) are not present: {}",
                missing.join(",")
            ));
        }
        if let Some(g) = w.groups.as_mut() {
            g.retain(|x| !missing.contains(x));
        }
    }
    let Some(pre) = info(name) else {
        return add(ctx, name, args, &w, &missing);
    };
    let ch = changes(&pre, &w);
    // Salt refuses an id change (it would leave files owned by the old id) unless allowed.
    let mut errors = Vec::new();
    for c in &ch {
        match c {
            Change::Uid(v) if !flag(args, "allow_uid_change", false) => errors.push(format!(
                "Changing uid ({} -> {v}) not permitted, set allow_uid_change to True to force this change. Note that this will not change file ownership.",
                pre.uid
            )),
            Change::Gid(v) if !flag(args, "allow_gid_change", false) => errors.push(format!(
                "Changing gid ({} -> {v}) not permitted, set allow_gid_change to True to force this change. Note that this will not change file ownership.",
                pre.gid
            )),
            _ => {}
        }
    }
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(|e| format!("- {e}")).collect();
        return fail(format!(
            "Encountered error checking for needed changes. Additional info follows:\n\n{}",
            list.join("\n")
        ));
    }
    if ch.is_empty() {
        return ret(
            name,
            Some(true),
            format!("User {name} is present and up to date"),
            Map::new(),
        );
    }
    if ctx.test {
        let mut c = String::from("The following user attributes are set to be changed:\n");
        for x in &ch {
            c.push_str(&x.line());
            c.push('\n');
        }
        if !missing.is_empty() {
            c.push_str(&format!(
                "groups (pending creation): {}\n",
                missing.join(",")
            ));
        }
        return ret(name, None, c, Map::new());
    }
    let mut home_changed = false;
    for c in &ch {
        match c {
            Change::Uid(v) => {
                ok(&["usermod", "-u", v, name]);
            }
            Change::Gid(v) => {
                ok(&["usermod", "-g", v, name]);
            }
            Change::Groups(g) => {
                let joined = g.join(",");
                if w.remove_groups {
                    ok(&["usermod", "-G", &joined, name]);
                } else {
                    ok(&["usermod", "-a", "-G", &joined, name]);
                }
            }
            Change::Home(h) => {
                if !ch.iter().any(|x| matches!(x, Change::HomeDoesNotExist(_))) {
                    ok(&["usermod", "-d", h, name]);
                    home_changed = true;
                }
            }
            Change::HomeDoesNotExist(h) => {
                if !home_changed {
                    ok(&["usermod", "-d", h, name]);
                }
                if !std::path::Path::new(h).is_dir() && std::fs::create_dir_all(h).is_ok() {
                    let (u, g) = (pre.uid as libc::uid_t, pre.gid as libc::gid_t);
                    if let Ok(c) = std::ffi::CString::new(h.as_str()) {
                        // SAFETY: chown(2) on a NUL-terminated path we own for the call.
                        unsafe {
                            libc::chown(c.as_ptr(), u, g);
                        }
                    }
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(h, std::fs::Permissions::from_mode(0o755));
                }
            }
            Change::Shell(s) => {
                ok(&["usermod", "-s", s, name]);
            }
            Change::Fullname(f) => {
                ok(&["usermod", "-c", &gecos_with(&pre, f), name]);
            }
        }
    }
    let post = info(name);
    let mut out = Map::new();
    let mut comment = format!("User {name} is present and up to date");
    if let Some(post) = &post {
        let (a, b) = (pre.to_map(), post.to_map());
        for (k, v) in b {
            if a.get(&k) != Some(&v) {
                out.insert(k, v);
            }
        }
        if !out.is_empty() {
            comment = format!("Updated user {name}");
        }
    }
    // What is still different after the changes (ids allowed this time) failed.
    let left = post.map(|p| changes(&p, &w)).unwrap_or(ch);
    if !left.is_empty() {
        let items: Vec<String> = left.iter().map(Change::repr).collect();
        return ret(
            name,
            Some(false),
            format!(
                "These values could not be changed: {{{}}}",
                items.join(", ")
            ),
            out,
        );
    }
    ret(name, Some(true), comment, out)
}

/// The `user.present` of a user that does not exist yet (`useradd`).
fn add(
    ctx: &Ctx<'_>,
    name: &str,
    args: &Map<String, Value>,
    w: &Want,
    missing: &[String],
) -> Value {
    if ctx.test {
        let mut c = format!("User {name} set to be added");
        if !missing.is_empty() {
            c.push_str(&format!(" (pending groups: {})", missing.join(",")));
        }
        return ret(name, None, c, Map::new());
    }
    let mut argv: Vec<String> = vec!["useradd".into()];
    let mut opt = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            argv.push(k.into());
            argv.push(v.clone());
        }
    };
    opt("-s", &w.shell);
    opt("-u", &w.uid);
    opt("-g", &w.gid);
    opt("-d", &w.home);
    if !flag(args, "unique", true) {
        argv.push("-o".into());
    }
    argv.push(if w.createhome { "-m" } else { "-M" }.into());
    if flag(args, "system", false) {
        argv.push("-r".into());
    }
    // `--` so a name that starts with a dash is not read as an option.
    argv.push("--".into());
    argv.push(name.into());
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    if !ok(&words) {
        return ret(
            name,
            Some(false),
            format!("Failed to create new user {name}"),
            Map::new(),
        );
    }
    // As Salt's `useradd.add`: groups and the full name after the user exists.
    let mut groups = w.groups.clone().unwrap_or_default();
    groups.extend(w.optional.iter().cloned());
    if !groups.is_empty() {
        ok(&["usermod", "-G", &groups.join(","), name]);
    }
    if let Some(f) = w.fullname.as_ref().filter(|f| !f.is_empty()) {
        ok(&["usermod", "-c", f, name]);
    }
    let mut ch = info(name).map(|u| u.to_map()).unwrap_or_default();
    if !w.createhome {
        ch.insert("home".into(), json!(""));
    }
    ret(name, Some(true), format!("New user {name} created"), ch)
}

/// `user.absent`.
pub fn absent(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    if info(name).is_none() {
        return ret(
            name,
            Some(true),
            format!("User {name} is not present"),
            Map::new(),
        );
    }
    if ctx.test {
        return ret(
            name,
            None,
            format!("User {name} set for removal"),
            Map::new(),
        );
    }
    let before = group_list(name);
    let mut argv = vec!["userdel"];
    if flag(args, "purge", false) {
        argv.push("-r");
    }
    if flag(args, "force", false) {
        argv.push("-f");
    }
    argv.extend(["--", name]);
    if !ok(&argv) {
        return ret(
            name,
            Some(false),
            format!("Failed to remove user {name}"),
            Map::new(),
        );
    }
    // userdel drops the user's private group too; Salt reports each group that went.
    let mut ch = Map::new();
    for g in before.iter().filter(|g| group::lookup(g).is_none()) {
        ch.insert(format!("{g} group"), json!("removed"));
    }
    ch.insert(name.to_owned(), json!("removed"));
    ret(name, Some(true), format!("Removed user {name}"), ch)
}

#[cfg(test)]
mod tests;
