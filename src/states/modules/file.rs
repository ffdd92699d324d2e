//! The `file.*` states: `file.managed` (inline `contents`, `mode`, `makedirs`, test mode)
//! and `file.absent`, with Salt 3007's comments and changes.

use super::atomic::{self, Meta};
use super::difflib;
use crate::states::{ret, Ctx};
use serde_json::{Map, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Salt's test-mode comment for a file that would change.
fn would_change(name: &str) -> String {
    format!("The file {name} is set to be changed\nNote: No changes made, actual changes may\nbe different due to other states.")
}

/// Salt's `contents`: a string or a list of lines, ending in a newline.
fn contents(v: &Value) -> Option<String> {
    let mut s = match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|l| {
                l.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| l.to_string())
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => return None,
        other => other.to_string(),
    };
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Some(s)
}

/// A mode as Salt normalises it (`644`, `"0644"`, 420 as octal digits) to bits.
fn mode(v: &Value) -> Option<u32> {
    let s = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    u32::from_str_radix(s.trim(), 8).ok()
}

/// `file.managed`.
pub fn managed(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let Some(new) = args.get("contents").and_then(contents) else {
        return ret(
            name,
            Some(false),
            "Only contents is supported yet",
            Map::new(),
        );
    };
    let want_mode = args.get("mode").and_then(mode);
    let path = Path::new(name);
    let old = fs::read(path).ok();
    let mut ch = Map::new();
    match &old {
        None => {
            if ctx.test {
                ch.insert("newfile".into(), name.into());
                return ret(name, None, would_change(name), ch);
            }
            ch.insert("diff".into(), "New file".into());
        }
        Some(o) if o.as_slice() != new.as_bytes() => {
            let d = match std::str::from_utf8(o) {
                Ok(t) => difflib::unified(t, &new),
                Err(_) => "Replace binary file".to_string(),
            };
            ch.insert("diff".into(), d.into());
        }
        Some(_) => {}
    }
    let cur_mode = fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777);
    if let Some(m) = want_mode {
        if cur_mode != Some(m) {
            ch.insert("mode".into(), format!("{m:04o}").into());
        }
    }
    if ch.is_empty() {
        return ret(
            name,
            Some(true),
            format!("File {name} is in the correct state"),
            ch,
        );
    }
    if ctx.test {
        return ret(name, None, would_change(name), ch);
    }
    if args.get("makedirs").and_then(Value::as_bool) == Some(true) {
        if let Some(p) = path.parent() {
            let _ = fs::create_dir_all(p);
        }
    }
    let meta = Meta {
        mode: want_mode,
        ..Meta::default()
    };
    match atomic::write(path, new.as_bytes(), meta) {
        Ok(()) => ret(name, Some(true), format!("File {name} updated"), ch),
        Err(e) => ret(
            name,
            Some(false),
            format!("Unable to manage file: {e}"),
            Map::new(),
        ),
    }
}

/// `file.absent`.
pub fn absent(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let path = Path::new(name);
    let Ok(md) = fs::symlink_metadata(path) else {
        return ret(
            name,
            Some(true),
            format!("File {name} is not present"),
            Map::new(),
        );
    };
    let mut ch = Map::new();
    ch.insert("removed".into(), name.into());
    let what = if md.is_dir() { "directory" } else { "file" };
    if ctx.test {
        return ret(name, None, format!("File {name} is set for removal"), ch);
    }
    let r = if md.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match r {
        Ok(()) => ret(name, Some(true), format!("Removed {what} {name}"), ch),
        Err(e) => ret(name, Some(false), format!("{e}"), Map::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_and_modes_as_salt_normalises_them() {
        assert_eq!(
            contents(&serde_json::json!(["a", "B"])).as_deref(),
            Some("a\nB\n")
        );
        assert_eq!(mode(&serde_json::json!(644)), Some(0o644));
        assert_eq!(mode(&serde_json::json!("0600")), Some(0o600));
    }
}
