//! Owners and modes of files as Salt's `file.check_perms` and `salt.utils.files.normalize_mode`
//! see them: users and groups by name (or by number when the SLS gives a number), modes as
//! four-digit octal strings, and the changes and comments `check_perms` reports.

use serde_json::{Map, Value};
use std::ffi::{CStr, CString};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// A mode as Salt's `normalize_mode` writes it: `644`, `"0644"`, `"0o644"` all become
/// `"0644"`. `None` for no mode (absent or null).
pub fn normalize_mode(v: Option<&Value>) -> Option<String> {
    let s = match v? {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        other => other.to_string(),
    };
    let s = s.replace("0o", "0");
    let s = s
        .trim_matches('"')
        .trim_matches('\'')
        .trim_start_matches('0');
    Some(format!("{s:0>4}"))
}

/// The bits of a normalised mode; `None` when it is not octal.
pub fn mode_bits(mode: &str) -> Option<u32> {
    u32::from_str_radix(mode, 8).ok().filter(|m| *m <= 0o7777)
}

/// A user or a group as the SLS names it: a name, or a number (Salt compares numbers with
/// the id and names with the name).
#[derive(Debug, Clone, PartialEq)]
pub enum Who {
    /// By name.
    Name(String),
    /// By id.
    Id(u32),
}

impl Who {
    /// The owner argument, when one is given (`None`, null and `""` are none, as Salt's
    /// truthiness test has it).
    pub fn from_arg(v: Option<&Value>) -> Option<Who> {
        match v? {
            Value::String(s) if !s.is_empty() => Some(Who::Name(s.clone())),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).map(Who::Id),
            _ => None,
        }
    }

    /// The value Salt puts in `changes` (the argument as given).
    pub fn value(&self) -> Value {
        match self {
            Who::Name(s) => Value::String(s.clone()),
            Who::Id(n) => Value::from(*n),
        }
    }

    /// As text, for comments.
    pub fn text(&self) -> String {
        match self {
            Who::Name(s) => s.clone(),
            Who::Id(n) => n.to_string(),
        }
    }
}

/// Runs one of the reentrant passwd/group lookups with a buffer that grows on ERANGE.
fn lookup<T>(mut f: impl FnMut(&mut [libc::c_char]) -> Result<Option<T>, i32>) -> Option<T> {
    let mut size = 1024usize;
    while size <= 1 << 20 {
        let mut buf = vec![0 as libc::c_char; size];
        match f(&mut buf) {
            Ok(v) => return v,
            Err(libc::ERANGE) => size *= 4,
            Err(_) => return None,
        }
    }
    None
}

/// A field of user `name`'s entry in the system's user database.
fn passwd_field(name: &str, field: fn(&libc::passwd) -> u32) -> Option<u32> {
    let c = CString::new(name).ok()?;
    lookup(|buf| {
        // SAFETY: every pointer is valid for the call; `pw` is only read when `out` is set.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let rc =
            unsafe { libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
        match rc {
            0 if out.is_null() => Ok(None),
            0 => Ok(Some(field(&pw))),
            e => Err(e),
        }
    })
}

/// The uid of user `name`, from the system's user database.
pub fn uid_of(name: &str) -> Option<u32> {
    passwd_field(name, |pw| pw.pw_uid)
}

/// The primary gid of user `name`.
pub fn primary_gid(name: &str) -> Option<u32> {
    passwd_field(name, |pw| pw.pw_gid)
}

/// The gid of group `name`.
pub fn gid_of(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    lookup(|buf| {
        // SAFETY: as in `passwd_field`.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::group = std::ptr::null_mut();
        let rc =
            unsafe { libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut out) };
        match rc {
            0 if out.is_null() => Ok(None),
            0 => Ok(Some(gr.gr_gid)),
            e => Err(e),
        }
    })
}

/// The name of uid `uid`, or the number as text when it has none (as Salt's `uid_to_user`).
pub fn user_name(uid: u32) -> String {
    lookup(|buf| {
        // SAFETY: as in `passwd_field`; the name is copied out before the buffer goes.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
        match rc {
            0 if out.is_null() => Ok(None),
            0 => Ok(Some(
                unsafe { CStr::from_ptr(pw.pw_name) }
                    .to_string_lossy()
                    .into_owned(),
            )),
            e => Err(e),
        }
    })
    .unwrap_or_else(|| uid.to_string())
}

/// The name of gid `gid`, or the number as text.
pub fn group_name(gid: u32) -> String {
    group_name_of(gid).unwrap_or_else(|| gid.to_string())
}

/// The name of gid `gid`, if the group database has one.
pub fn group_name_of(gid: u32) -> Option<String> {
    lookup(|buf| {
        // SAFETY: as in `user_name`.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut out: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe { libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr(), buf.len(), &mut out) };
        match rc {
            0 if out.is_null() => Ok(None),
            0 => Ok(Some(
                unsafe { CStr::from_ptr(gr.gr_name) }
                    .to_string_lossy()
                    .into_owned(),
            )),
            e => Err(e),
        }
    })
}

/// The uid a `Who` stands for; `None` when no such user exists.
pub fn resolve_user(w: &Who) -> Option<u32> {
    match w {
        Who::Id(n) => Some(*n),
        Who::Name(s) => uid_of(s),
    }
}

/// The gid a `Who` stands for; `None` when no such group exists.
pub fn resolve_group(w: &Who) -> Option<u32> {
    match w {
        Who::Id(n) => Some(*n),
        Who::Name(s) => gid_of(s),
    }
}

/// Salt's `_check_user`: "User x is not available " and/or "Group y is not available", empty
/// when both exist. (Salt's user message keeps its trailing space.)
pub fn check_user(user: Option<&Who>, group: Option<&Who>) -> String {
    let mut err = String::new();
    if let Some(u) = user {
        if resolve_user(u).is_none() {
            err.push_str(&format!("User {} is not available ", u.text()));
        }
    }
    if let Some(g) = group {
        if resolve_group(g).is_none() {
            err.push_str(&format!("Group {} is not available", g.text()));
        }
    }
    err
}

/// What a path has now: owner, group (ids and names) and mode.
#[derive(Debug, Clone)]
pub struct Stat {
    /// Owner uid.
    pub uid: u32,
    /// Group gid.
    pub gid: u32,
    /// The normalised mode (`"0644"`).
    pub mode: String,
    /// Whether the path itself is a symlink.
    pub is_link: bool,
}

impl Stat {
    /// The path's state, following a symlink when `follow` (as Salt's `stats`).
    pub fn of(path: &Path, follow: bool) -> Option<Stat> {
        let is_link = fs::symlink_metadata(path)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        let md = if follow {
            fs::metadata(path)
        } else {
            fs::symlink_metadata(path)
        }
        .ok()?;
        Some(Stat {
            uid: md.uid(),
            gid: md.gid(),
            mode: format!("{:04o}", md.permissions().mode() & 0o7777),
            is_link,
        })
    }

    /// Whether the owner is `w` (by name or by id, as the argument is given).
    pub fn user_is(&self, w: &Who) -> bool {
        match w {
            Who::Id(n) => *n == self.uid,
            Who::Name(s) => *s == user_name(self.uid),
        }
    }

    /// Whether the group is `w`.
    pub fn group_is(&self, w: &Who) -> bool {
        match w {
            Who::Id(n) => *n == self.gid,
            Who::Name(s) => *s == group_name(self.gid),
        }
    }
}

/// The owner, group and mode a state asks of a path.
#[derive(Debug, Clone, Default)]
pub struct Want {
    /// `user`.
    pub user: Option<Who>,
    /// `group`.
    pub group: Option<Who>,
    /// The normalised `mode`.
    pub mode: Option<String>,
}

impl Want {
    /// `user`, `group` and `mode_key` (`mode`, or `dir_mode`) of a state's arguments.
    pub fn from_args(args: &Map<String, Value>, mode: Option<String>) -> Want {
        Want {
            user: Who::from_arg(args.get("user")),
            group: Who::from_arg(args.get("group")),
            mode,
        }
    }

    /// What would change on an existing path (Salt's `check_file_meta` and
    /// `_check_dir_meta`): `user`, `group`, `mode` as requested.
    pub fn diff(&self, st: &Stat, ch: &mut Map<String, Value>) {
        if let Some(u) = &self.user {
            if !st.user_is(u) {
                ch.insert("user".into(), u.value());
            }
        }
        if let Some(g) = &self.group {
            if !st.group_is(g) {
                ch.insert("group".into(), g.value());
            }
        }
        if let Some(m) = &self.mode {
            if *m != st.mode && !st.is_link {
                ch.insert("mode".into(), Value::String(m.clone()));
            }
        }
    }
}

/// The outcome of `check_perms`: its changes go into the state's, its comments are joined
/// with "; " after the state's own, and a failure makes the state fail.
#[derive(Debug, Default)]
pub struct Checked {
    /// False when an owner or mode could not be set.
    pub ok: bool,
    /// The failures, as Salt words them.
    pub comments: Vec<String>,
}

/// Salt's `file.check_perms`: sets owner, group and mode of `path` where they differ (not in
/// test mode), recording `user`/`group`/`mode` in `ch` for what changed (or would change).
/// A symlink is chowned itself (lchown) unless `follow`; its mode is never touched.
pub fn check_perms(
    path: &Path,
    want: &Want,
    follow: bool,
    test: bool,
    ch: &mut Map<String, Value>,
) -> Checked {
    let mut out = Checked {
        ok: true,
        comments: Vec::new(),
    };
    let Some(cur) = Stat::of(path, follow) else {
        out.ok = false;
        out.comments
            .push(format!("{}: file not found", path.display()));
        return out;
    };
    let link_itself = cur.is_link && !follow;
    let cuser = want.user.as_ref().filter(|u| !cur.user_is(u));
    let cgroup = want.group.as_ref().filter(|g| !cur.group_is(g));
    if (cuser.is_some() || cgroup.is_some()) && !test {
        let uid = cuser.and_then(resolve_user);
        let gid = cgroup.and_then(resolve_group);
        let r = if link_itself {
            std::os::unix::fs::lchown(path, uid, gid)
        } else {
            std::os::unix::fs::chown(path, uid, gid)
        };
        match r {
            // chown clears setuid/setgid bits; Salt puts the old mode back.
            Ok(()) if !cur.is_link => {
                if let Some(bits) = mode_bits(&cur.mode) {
                    let _ = fs::set_permissions(path, fs::Permissions::from_mode(bits));
                }
            }
            Ok(()) => {}
            Err(e) => {
                log::warn!("chown {}: {e}", path.display());
                out.ok = false;
            }
        }
    }
    let mut cmode = false;
    if let (Some(m), false, false) = (&want.mode, test, link_itself) {
        if *m != cur.mode {
            cmode = true;
            match mode_bits(m) {
                Some(bits) => {
                    if let Err(e) = fs::set_permissions(path, fs::Permissions::from_mode(bits)) {
                        log::warn!("chmod {}: {e}", path.display());
                    }
                }
                None => log::warn!("mode {m:?} of {} is not octal", path.display()),
            }
        }
    }
    let Some(post) = Stat::of(path, follow) else {
        out.ok = false;
        return out;
    };
    if let Some(u) = &want.user {
        if !post.user_is(u) {
            if test {
                ch.insert("user".into(), u.value());
            } else {
                out.ok = false;
                out.comments
                    .push(format!("Failed to change user to {}", u.text()));
            }
        } else if cuser.is_some() {
            ch.insert("user".into(), u.value());
        }
    }
    if let Some(g) = &want.group {
        if !post.group_is(g) {
            if test {
                ch.insert("group".into(), g.value());
            } else {
                out.ok = false;
                out.comments
                    .push(format!("Failed to change group to {}", g.text()));
            }
        } else if cgroup.is_some() {
            ch.insert("group".into(), g.value());
        }
    }
    if let (Some(m), false) = (&want.mode, link_itself) {
        if *m != post.mode {
            if test {
                ch.insert("mode".into(), Value::String(m.clone()));
            } else {
                out.ok = false;
                out.comments.push(format!("Failed to change mode to {m}"));
            }
        } else if cmode {
            ch.insert("mode".into(), Value::String(m.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes_normalise_as_salt_does() {
        assert_eq!(normalize_mode(Some(&json!(644))).as_deref(), Some("0644"));
        assert_eq!(
            normalize_mode(Some(&json!("0600"))).as_deref(),
            Some("0600")
        );
        assert_eq!(
            normalize_mode(Some(&json!("0o755"))).as_deref(),
            Some("0755")
        );
        assert_eq!(
            normalize_mode(Some(&json!("00644"))).as_deref(),
            Some("0644")
        );
        assert_eq!(normalize_mode(Some(&json!(null))), None);
        assert_eq!(mode_bits("0644"), Some(0o644));
        assert_eq!(mode_bits("rwx"), None);
    }

    #[test]
    fn root_and_missing_users() {
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(gid_of("root"), Some(0));
        assert_eq!(user_name(0), "root");
        assert_eq!(uid_of("no-such-user-here"), None);
        assert_eq!(
            check_user(Some(&Who::Name("nosuchu".into())), None),
            "User nosuchu is not available "
        );
    }
}
