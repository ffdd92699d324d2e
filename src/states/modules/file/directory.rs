//! `file.directory`: a directory with its owner, group and mode (`dir_mode`, or `mode`),
//! its parents made with `makedirs`, a file or symlink in its place replaced with `force`.

use super::perms::{self, check_perms, mode_bits, normalize_mode, Stat, Want};
use super::{error, flag, make_parents, name_of, not_absolute};
use crate::states::{ret, Ctx};
use serde_json::{Map, Value};
use std::fs;
use std::path::Path;

/// Salt's `_check_directory` for one directory: what would change, keyed by the path, and
/// the comment listing it (or saying all is well).
fn check(name: &str, want: &Want) -> (Option<bool>, String, Map<String, Value>) {
    let mut ch = Map::new();
    let mut one = Map::new();
    if let Some(st) = Stat::of(Path::new(name), false) {
        want.diff(&st, &mut one);
    }
    // Anything that is not a directory yet (nothing, or a file force will remove) is new.
    if !Path::new(name).is_dir() {
        one = Map::new();
        one.insert("directory".into(), "new".into());
    }
    if one.is_empty() {
        return (
            Some(true),
            format!("The directory {name} is in the correct state"),
            ch,
        );
    }
    let mut comment = String::from("The following files will be changed:\n");
    for (k, v) in &one {
        let v = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        comment.push_str(&format!("{name}: {k} - {v}\n"));
    }
    ch.insert(name.to_string(), Value::Object(one));
    (None, comment, ch)
}

/// `file.directory`.
pub fn directory(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let orig = name_of(args);
    let mut r = run(ctx, args);
    // Salt strips a trailing slash for its work but returns the name as given.
    if let Some(m) = r.as_object_mut() {
        m.insert("name".into(), Value::String(orig));
    }
    r
}

/// `file.directory` with the name's trailing slash gone.
fn run(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let mut name = name_of(args);
    if name.is_empty() {
        return error(&name, "Must provide name to file.directory");
    }
    if name.len() > 1 && name.ends_with('/') {
        name.pop();
    }
    let mode_arg = match args.get("dir_mode") {
        Some(v) if super::truthy(v) => Some(v),
        _ => args.get("mode"),
    };
    let want = Want::from_args(args, normalize_mode(mode_arg));
    let u_check = perms::check_user(want.user.as_ref(), want.group.as_ref());
    if !u_check.is_empty() && !ctx.test {
        return error(&name, u_check);
    }
    if !name.starts_with('/') {
        return error(&name, not_absolute(&name));
    }
    let path = Path::new(&name);
    let force = flag(args, "force", false);
    let lmd = fs::symlink_metadata(path).ok();
    let is_link = lmd.as_ref().is_some_and(|m| m.file_type().is_symlink());
    let is_file = fs::metadata(path).is_ok_and(|m| m.is_file());
    let mut changes = Map::new();
    if is_file || (force && is_link) {
        if !force {
            return error(
                &name,
                format!("Specified location {name} exists and is a file"),
            );
        }
        let what = if is_link { "Symlink" } else { "File" };
        if ctx.test {
            changes.insert(
                "forced".into(),
                format!("{what} would be forcibly replaced").into(),
            );
        } else {
            if let Err(e) = fs::remove_file(path) {
                return error(&name, format!("Unable to remove {name}: {e}"));
            }
            changes.insert(
                "forced".into(),
                format!("{what} was forcibly replaced").into(),
            );
        }
    }
    let (tresult, tcomment, tchanges) = check(&name, &want);
    changes.extend(tchanges);
    // Nothing to change: Salt answers with the check's own comment and stops.
    if ctx.test || changes.is_empty() {
        return ret(&name, tresult, tcomment, changes);
    }
    let bits = want.mode.as_deref().and_then(mode_bits);
    if !path.is_dir() {
        if !Path::new(&super::dirname(&name)).is_dir() {
            if !flag(args, "makedirs", false) {
                // Salt keeps the would-be changes on this failure.
                return ret(
                    &name,
                    Some(false),
                    format!("No directory to create {name} in"),
                    changes,
                );
            }
            let uid = want.user.as_ref().and_then(perms::resolve_user);
            let gid = want.group.as_ref().and_then(perms::resolve_group);
            if let Err(e) = make_parents(path, bits, uid, gid) {
                return error(&name, format!("Failed to create directory {name}: {e}"));
            }
        }
        if let Err(e) = fs::create_dir(path) {
            log::warn!("mkdir {name}: {e}");
            return error(&name, format!("Failed to create directory {name}"));
        }
        // Salt's mkdir applies owner and mode afterwards and reports only the new directory.
        let mut ignored = Map::new();
        check_perms(path, &want, false, false, &mut ignored);
        let mut ch = Map::new();
        ch.insert(name.clone(), serde_json::json!({"directory": "new"}));
        changes.extend(ch);
        return ret(&name, Some(true), "", changes);
    }
    let checked = check_perms(path, &want, false, false, &mut changes);
    let mut comment = checked.comments.join("; ");
    if comment.is_empty() && !changes.is_empty() {
        comment = format!("Directory {name} updated");
    }
    if changes.is_empty() && checked.ok {
        comment = if comment.is_empty() {
            format!("Directory {name} is in the correct state")
        } else {
            format!("Directory {name} is in the correct state\n{comment}")
        };
    }
    ret(&name, Some(checked.ok), comment, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn makedirs_gives_parents_the_owner_and_mode() {
        let d = tempfile::tempdir().expect("tempdir");
        let leaf = d.path().join("a/b/c");
        let args = json!({"name": leaf.display().to_string(), "makedirs": true,
                          "user": "nobody", "dir_mode": "0750"});
        let r = super::super::fixture::call(
            d.path(),
            "file.directory",
            args.as_object().expect("args"),
            false,
            &Map::new(),
        );
        assert_eq!(r["result"], json!(true), "{r}");
        for p in [d.path().join("a"), d.path().join("a/b"), leaf] {
            let md = fs::metadata(&p).expect("meta");
            assert_eq!(
                (md.uid(), md.permissions().mode() & 0o777),
                (65534, 0o750),
                "{p:?}"
            );
        }
    }
}
