//! `file.symlink`: a symlink to `target`, owned by `user`:`group` (Salt's defaults: the
//! minion's user and that user's primary group), replacing a file in its way with `force`
//! and making its parents with `makedirs`.

use super::perms::{self, Who};
use super::{dirname, error, flag, make_parents, name_of, py_oserror, text_arg};
use crate::states::{ret, Ctx};
use serde_json::{Map, Value};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Python's `os.path.normpath` for comparing link targets (`a//b/./c` is `a/b/c`).
fn normpath(p: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in Path::new(p).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The symlink's own owner and group names.
fn link_owner(path: &Path) -> Option<(String, String)> {
    let md = fs::symlink_metadata(path).ok()?;
    Some((perms::user_name(md.uid()), perms::group_name(md.gid())))
}

/// Salt's `_symlink_check`: what test mode says, and the changes it shows.
fn check(
    name: &str,
    target: &str,
    force: bool,
    user: &str,
    group: &str,
) -> (Option<bool>, String, Map<String, Value>) {
    let path = Path::new(name);
    let mut ch = Map::new();
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link && !path.exists() {
        ch.insert("new".into(), name.into());
        return (
            None,
            format!("Symlink {name} to {target} is set for creation"),
            ch,
        );
    }
    if is_link {
        let cur = fs::read_link(path).map(|p| p.to_string_lossy().into_owned());
        if cur.as_deref().ok() != Some(target) {
            ch.insert("change".into(), name.into());
            return (
                None,
                format!("Link {name} target is set to be changed to {target}"),
                ch,
            );
        }
        let mut msg = format!("The symlink {name} is present");
        let (cu, cg) = link_owner(path).unwrap_or_default();
        if cu != user || cg != group {
            ch.insert("ownership".into(), format!("{cu}:{cg}").into());
            msg.push_str(&format!(
                ", but the ownership of the symlink would be changed from {cu}:{cg} to {user}:{group}"
            ));
            return (None, msg, ch);
        }
        return (Some(true), msg, ch);
    }
    if force {
        return (
            None,
            format!(
                "The file or directory {name} is set for removal to make way for a new symlink targeting {target}"
            ),
            ch,
        );
    }
    (
        Some(false),
        format!(
            "File or directory exists where the symlink {name} should be. Did you mean to use force?"
        ),
        ch,
    )
}

/// Sets the symlink's own owner; whether it is then `user`:`group`.
fn set_owner(path: &Path, uid: Option<u32>, gid: Option<u32>, user: &str, group: &str) -> bool {
    if let Err(e) = std::os::unix::fs::lchown(path, uid, gid) {
        log::warn!("lchown {}: {e}", path.display());
    }
    link_owner(path).is_some_and(|(u, g)| u == user && g == group)
}

/// `file.symlink`.
pub fn symlink(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = name_of(args);
    if name.is_empty() {
        return error(&name, "Must provide name to file.symlink");
    }
    let Some(target) = text_arg(args, "target") else {
        return error(&name, "Must provide target to file.symlink");
    };
    let force = flag(args, "force", false);
    let user = match Who::from_arg(args.get("user")) {
        Some(w) => w.text(),
        None => text_arg(ctx.opts, "user").unwrap_or_else(|| "root".into()),
    };
    let group = match Who::from_arg(args.get("group")) {
        Some(w) => w.text(),
        None => perms::primary_gid(&user)
            .map(perms::group_name)
            .unwrap_or_else(|| "root".into()),
    };
    let uid = perms::uid_of(&user);
    let gid = perms::gid_of(&group);
    let mut preflight = Vec::new();
    if uid.is_none() {
        preflight.push(format!("User {user} does not exist"));
    }
    if gid.is_none() {
        preflight.push(format!("Group {group} does not exist"));
    }
    if !name.starts_with('/') {
        preflight.push(super::not_absolute(&name));
    }
    if !preflight.is_empty() {
        let mut msg = preflight.join(". ");
        if preflight.len() > 1 {
            msg.push('.');
        }
        return error(&name, msg);
    }
    let path = Path::new(&name);
    let (tresult, mut tcomment, tchanges) = check(&name, &target, force, &user, &group);
    let parent = dirname(&name);
    if !Path::new(&parent).is_dir() {
        if flag(args, "makedirs", false) {
            if ctx.test {
                tcomment.push_str(&format!("\n{parent} will be created"));
            } else {
                let mode = super::perms::normalize_mode(args.get("mode"))
                    .as_deref()
                    .and_then(perms::mode_bits);
                if let Err(e) = make_parents(path, mode, uid, gid) {
                    return error(&name, format!("Unable to create {parent}: {e}"));
                }
            }
        } else if ctx.test {
            tcomment.push_str(&format!("\nDirectory {parent} for symlink is not present"));
        } else {
            return error(
                &name,
                format!("Directory {parent} for symlink is not present"),
            );
        }
    }
    if ctx.test {
        return ret(&name, tresult, tcomment, tchanges);
    }
    let lmd = fs::symlink_metadata(path).ok();
    if lmd.as_ref().is_some_and(|m| m.file_type().is_symlink()) {
        let cur = fs::read_link(path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if normpath(&cur) != normpath(&target) {
            if let Err(e) = fs::remove_file(path) {
                return error(&name, format!("Unable to remove {name}: {e}"));
            }
        } else {
            let owned = link_owner(path).is_some_and(|(u, g)| u == user && g == group);
            if owned {
                return ret(
                    &name,
                    Some(true),
                    format!("Symlink {name} is present and owned by {user}:{group}"),
                    Map::new(),
                );
            }
            if set_owner(path, uid, gid, &user, &group) {
                let mut ch = Map::new();
                ch.insert("ownership".into(), format!("{user}:{group}").into());
                return ret(
                    &name,
                    Some(true),
                    format!("Set ownership of symlink {name} to {user}:{group}"),
                    ch,
                );
            }
            return error(
                &name,
                format!("Failed to set ownership of symlink {name} to {user}:{group}"),
            );
        }
    } else if path.exists() {
        if !force {
            let what = if path.is_file() {
                "File"
            } else if path.is_dir() {
                "Directory"
            } else {
                "File system entry"
            };
            return error(
                &name,
                format!("{what} exists where the symlink {name} should be"),
            );
        }
        // Salt's file.symlink removes with os.remove, which refuses a directory; so does this.
        if let Err(e) = fs::remove_file(path) {
            return error(
                &name,
                format!(
                    "Unable to create new symlink {name} -> {target}: {}",
                    py_oserror(&e, &name)
                ),
            );
        }
    }
    if let Err(e) = std::os::unix::fs::symlink(&target, path) {
        return error(
            &name,
            format!(
                "Unable to create new symlink {name} -> {target}: {}",
                py_oserror(&e, &name)
            ),
        );
    }
    let mut ch = Map::new();
    ch.insert("new".into(), name.clone().into());
    let mut comment = format!("Created new symlink {name} -> {target}");
    let mut result = Some(true);
    if !set_owner(path, uid, gid, &user, &group) {
        result = Some(false);
        comment.push_str(&format!(
            ", but was unable to set ownership to {user}:{group}"
        ));
    }
    ret(&name, result, comment, ch)
}
