//! The `group.*` states: `group.present` (`gid`, `system`, `members`, `addusers`,
//! `delusers`, `non_unique`) and `group.absent`, with Salt 3007's comments and changes,
//! through `groupadd`/`groupmod`/`gpasswd`/`groupdel` (Salt's `groupadd` module).

use crate::states::command::{run_argv, CmdOpts};
use crate::states::{ret, Ctx};
use serde_json::{json, Map, Value};

/// A group as `group.info` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group name.
    pub name: String,
    /// The password field (`x`).
    pub passwd: String,
    /// The numeric id.
    pub gid: u64,
    /// The supplementary members, in database order.
    pub members: Vec<String>,
}

impl GroupInfo {
    /// The info as Salt's changes show a new group.
    fn to_value(&self) -> Value {
        json!({"name": self.name, "passwd": self.passwd, "gid": self.gid, "members": self.members})
    }
}

/// Parses a `name:passwd:gid:members` line.
fn parse_line(line: &str) -> Option<GroupInfo> {
    let mut f = line.trim_end().splitn(4, ':');
    let name = f.next()?.to_owned();
    let passwd = f.next()?.to_owned();
    let gid = f.next()?.parse().ok()?;
    let members = f
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    Some(GroupInfo {
        name,
        passwd,
        gid,
        members,
    })
}

/// `getent group <key>` (a name or a gid), through NSS as Python's `grp` module.
pub fn lookup(key: &str) -> Option<GroupInfo> {
    // getent would read an option from a key that starts with a dash.
    if key.is_empty() || key.starts_with('-') {
        return None;
    }
    let o = run_argv(&["getent", "group", key], &CmdOpts::default()).ok()?;
    if o.retcode != 0 {
        return None;
    }
    o.stdout.lines().next().and_then(parse_line)
}

/// Runs an argument vector; true when it exits 0 (a failure is logged with its stderr).
pub(crate) fn ok(argv: &[&str]) -> bool {
    log::debug!(target: "brine::states", "running {argv:?}");
    match run_argv(argv, &CmdOpts::default()) {
        Ok(o) if o.retcode == 0 => true,
        Ok(o) => {
            log::warn!(target: "brine::states", "{argv:?} exited {}: {}", o.retcode, o.stderr);
            false
        }
        Err(e) => {
            log::warn!(target: "brine::states", "{argv:?}: {e}");
            false
        }
    }
}

/// A string as Python's `repr` prints it: single quotes unless it holds one and no double.
pub(crate) fn py_str(s: &str) -> String {
    let e = s.replace('\\', "\\\\");
    if s.contains('\'') && !s.contains('"') {
        format!("\"{e}\"")
    } else {
        format!("'{}'", e.replace('\'', "\\'"))
    }
}

/// A list of names as Python prints it (`['a', 'b']`), for Salt's comments.
pub(crate) fn py_list(items: &[String], open: char, close: char) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_str(s)).collect();
    if inner.is_empty() && open == '{' {
        return "set()".into();
    }
    format!("{open}{}{close}", inner.join(", "))
}

/// One change Salt's `_changes` found, in its order.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    Gid(u64),
    Members(Vec<String>),
    AddUsers(Vec<String>),
    DelUsers(Vec<String>, bool),
}

impl Change {
    /// The `key: value` line of Salt's comment (values as Python prints them).
    fn line(&self) -> String {
        match self {
            Change::Gid(g) => format!("gid: {g}"),
            Change::Members(m) => format!("members: {}", py_list(m, '[', ']')),
            Change::AddUsers(u) => format!("addusers: {}", py_list(u, '[', ']')),
            Change::DelUsers(u, true) => format!("delusers: {}", py_list(u, '{', '}')),
            Change::DelUsers(u, false) => format!("delusers: {}", py_list(u, '[', ']')),
        }
    }
    fn key(&self) -> &'static str {
        match self {
            Change::Gid(_) => "gid",
            Change::Members(_) => "members",
            Change::AddUsers(_) => "addusers",
            Change::DelUsers(..) => "delusers",
        }
    }
    fn value(&self) -> Value {
        match self {
            Change::Gid(g) => json!(g),
            Change::Members(v) | Change::AddUsers(v) | Change::DelUsers(v, _) => json!(v),
        }
    }
}

/// The wanted membership and id of a group.
struct Want {
    gid: Option<u64>,
    members: Option<Vec<String>>,
    addusers: Option<Vec<String>>,
    delusers: Option<Vec<String>>,
}

/// Salt's `_changes`: what differs on an existing group, in Salt's order.
fn changes(g: &GroupInfo, w: &Want) -> Vec<Change> {
    let mut out = Vec::new();
    if let Some(gid) = w.gid.filter(|&x| x != 0) {
        if g.gid != gid {
            out.push(Change::Gid(gid));
        }
    }
    let differs = |m: &[String]| {
        let mut a: Vec<&String> = g.members.iter().collect();
        let mut b: Vec<&String> = m.iter().collect();
        a.sort();
        a.dedup();
        b.sort();
        b.dedup();
        a != b
    };
    match &w.members {
        // `members: []` empties the group, which Salt words as deleting everyone.
        Some(m) if m.is_empty() && !g.members.is_empty() => {
            out.push(Change::DelUsers(g.members.clone(), true));
        }
        Some(m) if !m.is_empty() && differs(m) => out.push(Change::Members(m.clone())),
        _ => {}
    }
    if let Some(add) = &w.addusers {
        let add: Vec<String> = add
            .iter()
            .filter(|u| !g.members.contains(u))
            .cloned()
            .collect();
        if !add.is_empty() {
            out.push(Change::AddUsers(add));
        }
    }
    if let Some(del) = &w.delusers {
        let del: Vec<String> = del
            .iter()
            .filter(|u| g.members.contains(u))
            .cloned()
            .collect();
        if !del.is_empty() {
            out.push(Change::DelUsers(del, false));
        }
    }
    out
}

/// The failed changes as Salt's `{"Failed": {...}}`.
fn failed(ch: &[Change]) -> Map<String, Value> {
    let inner: Map<String, Value> = ch.iter().map(|c| (c.key().to_owned(), c.value())).collect();
    let mut m = Map::new();
    m.insert("Failed".into(), Value::Object(inner));
    m
}

/// `group.present`.
pub fn present(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let gid = match args.get("gid") {
        None | Some(Value::Null) => None,
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(g) => Some(g),
            None => return ret(name, Some(false), "Invalid gid", Map::new()),
        },
    };
    let w = Want {
        gid,
        members: super::name_list(args.get("members")),
        addusers: super::name_list(args.get("addusers")),
        delusers: super::name_list(args.get("delusers")),
    };
    if w.members.is_some() && (w.addusers.is_some() || w.delusers.is_some()) {
        return ret(
            name,
            None,
            "Error: Conflicting options \"members\" with \"addusers\" and/or \"delusers\" can not be used together. ",
            Map::new(),
        );
    }
    if let (Some(a), Some(d)) = (&w.addusers, &w.delusers) {
        if a.iter().any(|u| d.contains(u)) {
            return ret(
                name,
                None,
                "Error. Same user(s) can not be added and deleted simultaneously",
                Map::new(),
            );
        }
    }
    let non_unique = args.get("non_unique").and_then(Value::as_bool) == Some(true);
    if let Some(g) = lookup(name) {
        let ch = changes(&g, &w);
        if ch.is_empty() {
            return ret(
                name,
                Some(true),
                format!("Group {name} is present and up to date"),
                Map::new(),
            );
        }
        let mut comment = String::from("The following group attributes are set to be changed:\n");
        for c in &ch {
            comment.push_str(&c.line());
            comment.push('\n');
        }
        if ctx.test {
            return ret(name, None, comment, Map::new());
        }
        for c in &ch {
            match c {
                Change::Gid(gid) => {
                    let gid = gid.to_string();
                    let mut argv = vec!["groupmod", "-g", &gid];
                    if non_unique {
                        argv.push("-o");
                    }
                    argv.push(name);
                    ok(&argv);
                }
                Change::AddUsers(us) => us.iter().for_each(|u| {
                    ok(&["gpasswd", "-a", u, name]);
                }),
                Change::DelUsers(us, _) => us.iter().for_each(|u| {
                    ok(&["gpasswd", "-d", u, name]);
                }),
                Change::Members(m) => {
                    ok(&["gpasswd", "-M", &m.join(","), name]);
                }
            }
        }
        let after = lookup(name)
            .map(|g| changes(&g, &w))
            .unwrap_or_else(|| ch.clone());
        if !after.is_empty() {
            comment.push_str("Some changes could not be applied");
            return ret(name, Some(false), comment, failed(&after));
        }
        let mut m = Map::new();
        m.insert("Final".into(), json!("All changes applied successfully"));
        return ret(name, Some(true), comment, m);
    }
    if ctx.test {
        return ret(
            name,
            None,
            format!("Group {name} set to be added"),
            Map::new(),
        );
    }
    if let Some(g) = gid
        .filter(|_| !non_unique)
        .and_then(|g| lookup(&g.to_string()))
    {
        return ret(
            name,
            Some(false),
            format!(
                "Group {name} is not present but gid {} is already taken by group {}",
                gid.unwrap_or_default(),
                g.name
            ),
            Map::new(),
        );
    }
    let gid_s = gid.map(|g| g.to_string());
    let mut argv = vec!["groupadd"];
    if let Some(g) = &gid_s {
        argv.extend(["-g", g.as_str()]);
    }
    if args.get("system").and_then(Value::as_bool) == Some(true) {
        argv.push("-r");
    }
    if non_unique {
        argv.push("-o");
    }
    argv.push(name);
    if !ok(&argv) {
        return ret(
            name,
            Some(false),
            format!("Failed to create new group {name}"),
            Map::new(),
        );
    }
    // As Salt: `members` is set, or else `addusers` (which wins when both are given).
    if let Some(m) = w
        .addusers
        .as_ref()
        .or(w.members.as_ref())
        .filter(|m| !m.is_empty())
    {
        ok(&["gpasswd", "-M", &m.join(","), name]);
    }
    let Some(g) = lookup(name) else {
        return ret(
            name,
            Some(false),
            format!("Failed to create new group {name}"),
            Map::new(),
        );
    };
    let ch = changes(&g, &w);
    if !ch.is_empty() {
        return ret(
            name,
            Some(false),
            format!("Group {name} has been created but, some changes could not be applied"),
            failed(&ch),
        );
    }
    let mut m = Map::new();
    if let Value::Object(o) = g.to_value() {
        m = o;
    }
    ret(name, Some(true), format!("New group {name} created"), m)
}

/// `group.absent`.
pub fn absent(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    if lookup(name).is_none() {
        return ret(name, Some(true), "Group not present", Map::new());
    }
    if ctx.test {
        return ret(
            name,
            None,
            format!("Group {name} is set for removal"),
            Map::new(),
        );
    }
    if ok(&["groupdel", name]) {
        let mut m = Map::new();
        m.insert(name.to_owned(), json!(""));
        ret(name, Some(true), format!("Removed group {name}"), m)
    } else {
        ret(
            name,
            Some(false),
            format!("Failed to remove group {name}"),
            Map::new(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_lines_and_python_lists() {
        let g = parse_line("adm:x:4:syslog,alice\n");
        assert_eq!(
            g,
            Some(GroupInfo {
                name: "adm".into(),
                passwd: "x".into(),
                gid: 4,
                members: vec!["syslog".into(), "alice".into()]
            })
        );
        assert_eq!(parse_line("x:x:notanumber:"), None);
        assert_eq!(
            py_list(&["a".into(), "it's".into()], '[', ']'),
            "['a', \"it's\"]"
        );
        assert_eq!(lookup("-x"), None);
    }
}
