//! `file.replace`: a Python regular expression substituted through a file (Salt's
//! `file.replace` module function under the state), with `append_if_not_found`,
//! `prepend_if_not_found` and `not_found_content`, and a `.bak` copy of the old text.

use super::super::{atomic, difflib};
use super::pyre;
use super::{error, flag, name_of, not_absolute, splitlines, text_arg};
use crate::states::{ret, Ctx};
use serde_json::{Map, Value};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What one replacement run decided.
struct Outcome {
    /// The file's new text.
    new: String,
    /// Whether it differs from the old (and so is written).
    changed: bool,
    /// The unified diff, old lines against new.
    diff: String,
}

/// The core of Salt's `file.replace` on the file's text, without touching the file.
fn run(old: &str, args: &Map<String, Value>) -> Result<Outcome, pyre::ReError> {
    let pattern = text_arg(args, "pattern").unwrap_or_default();
    let mut repl = text_arg(args, "repl").unwrap_or_default();
    let count = args
        .get("count")
        .and_then(Value::as_u64)
        .and_then(|c| usize::try_from(c).ok())
        .unwrap_or(0);
    let flags = pyre::flags(args.get("flags"))?;
    let append = flag(args, "append_if_not_found", false);
    let prepend = flag(args, "prepend_if_not_found", false);
    let nfc = text_arg(args, "not_found_content").filter(|s| !s.is_empty());
    if flag(args, "backslash_literal", false) {
        repl = repl.replace('\\', "\\\\");
    }
    let re = pyre::compile(&pattern, flags)?;
    let (result, nrepl) = pyre::subn(&re, &repl, old, count)?;
    let mut found = nrepl > 0;
    // Salt's has_changes is only set when the pattern text differs from the replacement.
    let mut changed = nrepl > 0 && pattern != repl;
    let content = match (&nfc, append || prepend) {
        (Some(c), true) => c.clone(),
        _ => repl.clone(),
    };
    if append || prepend {
        let probe = pyre::compile(&format!("^{}(?:$|(?=\r\n))", pyre::escape(&content)), flags)?;
        if pyre::search(&probe, old)? {
            found = true;
        }
    }
    let orig_file = splitlines(old, true, true);
    let mut new_file: Vec<String> = splitlines(&result, true, true)
        .into_iter()
        .map(str::to_string)
        .collect();
    if orig_file == new_file {
        changed = false;
    }
    if !found && (append || prepend) {
        let line = format!("{}\n", nfc.unwrap_or(repl));
        if prepend {
            new_file.insert(0, line);
        } else {
            if let Some(last) = new_file.last_mut() {
                if !last.ends_with('\n') {
                    last.push('\n');
                }
            }
            new_file.push(line);
        }
        changed = true;
    }
    let new_refs: Vec<&str> = new_file.iter().map(String::as_str).collect();
    let diff = difflib::unified_parts(&orig_file, &new_refs).concat();
    Ok(Outcome {
        new: new_file.concat(),
        changed,
        diff,
    })
}

/// `file.replace`.
pub fn replace(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = name_of(args);
    if name.is_empty() {
        return error(&name, "Must provide name to file.replace");
    }
    if !name.starts_with('/') {
        return error(&name, not_absolute(&name));
    }
    let given = Path::new(&name);
    if !given.exists() {
        if flag(args, "ignore_if_missing", false) {
            return ret(
                &name,
                Some(true),
                "No changes needed to be made",
                Map::new(),
            );
        }
        return error(&name, format!("{name}: file not found"));
    }
    if given.is_dir() {
        return error(&name, format!("Specified target {name} is a directory"));
    }
    if flag(args, "append_if_not_found", false) && flag(args, "prepend_if_not_found", false) {
        return error(
            &name,
            "Only one of append and prepend_if_not_found is permitted",
        );
    }
    // A symlink's target is edited; the link stays.
    let path: PathBuf = fs::canonicalize(given).unwrap_or_else(|_| given.to_path_buf());
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            return error(
                &name,
                format!("Unable to open file '{}'. Exception: {e}", path.display()),
            )
        }
    };
    let Ok(old) = String::from_utf8(bytes) else {
        return error(
            &name,
            format!(
                "Cannot perform string replacements on a binary file: {}",
                path.display()
            ),
        );
    };
    let out = match run(&old, args) {
        Ok(o) => o,
        Err(e) => return error(&name, e.to_string()),
    };
    if out.changed && !ctx.test {
        let md = fs::metadata(&path).ok();
        let meta = atomic::Meta {
            mode: md.as_ref().map(|m| m.permissions().mode() & 0o7777),
            uid: md.as_ref().map(|m| m.uid()),
            gid: md.as_ref().map(|m| m.gid()),
        };
        let backup = match args.get("backup") {
            None => Some(".bak".to_string()),
            Some(v) if super::truthy(v) => text_arg(args, "backup"),
            Some(_) => None,
        };
        if let Some(suffix) = backup {
            let mut b = path.clone().into_os_string();
            b.push(&suffix);
            if let Err(e) = atomic::write(Path::new(&b), old.as_bytes(), meta) {
                return error(
                    &name,
                    format!(
                        "Unable to write the backup file '{}': {e}",
                        Path::new(&b).display()
                    ),
                );
            }
            // A symlink gets a backup symlink beside it, to the target's backup (as Salt).
            if let Ok(target) = fs::read_link(given) {
                let mut link = given.as_os_str().to_owned();
                link.push(&suffix);
                let mut to = target.into_os_string();
                to.push(&suffix);
                let _ = fs::remove_file(&link);
                if let Err(e) = std::os::unix::fs::symlink(&to, &link) {
                    log::warn!("backup symlink {}: {e}", Path::new(&link).display());
                }
            }
        }
        if let Err(e) = atomic::write(&path, out.new.as_bytes(), meta) {
            return error(
                &name,
                format!("Unable to write file '{}': {e}", path.display()),
            );
        }
    }
    let show = flag(args, "show_changes", true);
    let diff = if show {
        (!out.diff.is_empty()).then(|| Value::String(out.diff))
    } else {
        out.changed.then_some(Value::Bool(true))
    };
    let Some(diff) = diff else {
        return ret(
            &name,
            Some(true),
            "No changes needed to be made",
            Map::new(),
        );
    };
    let mut ch = Map::new();
    ch.insert("diff".into(), diff);
    if ctx.test {
        ret(&name, None, "Changes would have been made", ch)
    } else {
        ret(&name, Some(true), "Changes were made", ch)
    }
}
