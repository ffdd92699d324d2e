//! The `file.*` states with Salt 3007.15's arguments, comments and changes: `managed`,
//! `directory`, `symlink`, `append`, `replace` and `absent`. Every file they write goes
//! through `atomic` (a temporary file in the same directory, synced, renamed), so a crash
//! leaves the old file or the new one, never half of either.

mod absent;
mod append;
mod directory;
mod managed;
pub(crate) mod perms;
mod pyre;
mod replace;
mod source;
mod symlink;

#[cfg(test)]
mod fixture;

pub use absent::absent;
pub use append::append;
pub use directory::directory;
pub use managed::managed;
pub use replace::replace;
pub use symlink::symlink;

use crate::py::truthy;
use crate::states::ret;
use serde_json::{Map, Value};
use std::path::Path;

/// The state's `name`, as text.
fn name_of(args: &Map<String, Value>) -> String {
    match args.get("name") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Python's truthiness of an argument, `default` when it is absent.
fn flag(args: &Map<String, Value>, key: &str, default: bool) -> bool {
    match args.get(key) {
        None => default,
        Some(v) => truthy(v),
    }
}

/// A string argument (a number as its text); `None` when absent or null.
fn text_arg(args: &Map<String, Value>, key: &str) -> Option<String> {
    match args.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A failed return without changes (Salt's `_error`).
fn error(name: &str, comment: impl Into<String>) -> Value {
    ret(name, Some(false), comment, Map::new())
}

/// Salt's comment for a relative `name`.
fn not_absolute(name: &str) -> String {
    format!("Specified file {name} is not an absolute path")
}

/// The process umask, read from /proc so that nothing changes it (setting and restoring it
/// would race with other threads creating files).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// The parent directory of a path, as Python's `os.path.dirname` gives it.
fn dirname(name: &str) -> String {
    match name.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => name[..i].to_string(),
        None => String::new(),
    }
}

/// Creates the missing parents of `path` (Salt's `file.makedirs`), each with `mode` and owned
/// by `uid`/`gid` when given.
fn make_parents(
    path: &Path,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let mut missing = Vec::new();
    let mut p = parent;
    while !p.as_os_str().is_empty() && !p.is_dir() {
        missing.push(p.to_path_buf());
        match p.parent() {
            Some(q) => p = q,
            None => break,
        }
    }
    for d in missing.iter().rev() {
        let mut b = std::fs::DirBuilder::new();
        b.mode(mode.unwrap_or(0o777));
        b.create(d)?;
        if let Some(m) = mode {
            // The umask trimmed the mode DirBuilder asked for; Salt's set_mode does not.
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(m))?;
        }
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(d, uid, gid)?;
        }
    }
    Ok(())
}

/// An I/O error as Python prints an OSError about a path: `[Errno 21] Is a directory: '/x'`.
fn py_oserror(e: &std::io::Error, path: &str) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let full = e.to_string();
            let plain = full
                .strip_suffix(&format!(" (os error {n})"))
                .unwrap_or(&full);
            format!("[Errno {n}] {plain}: '{path}'")
        }
        None => e.to_string(),
    }
}

/// Python's `str.splitlines(keepends)`: breaks at `\n`, `\r\n`, `\r` and the other Unicode
/// line boundaries; with `bytes_only` only at the first three (as `bytes.splitlines`).
fn splitlines(s: &str, keepends: bool, bytes_only: bool) -> Vec<&str> {
    let is_break = |c: char| {
        matches!(c, '\n' | '\r')
            || (!bytes_only
                && matches!(
                    c,
                    '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}'
                ))
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if !is_break(c) {
            continue;
        }
        let mut end = i + c.len_utf8();
        if c == '\r' {
            if let Some(&(j, '\n')) = it.peek() {
                end = j + 1;
                it.next();
            }
        }
        out.push(if keepends {
            &s[start..end]
        } else {
            &s[start..i]
        });
        start = end;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_as_python() {
        assert_eq!(
            splitlines("a\nb\r\nc\rd", false, false),
            ["a", "b", "c", "d"]
        );
        assert_eq!(splitlines("a\n\n", true, false), ["a\n", "\n"]);
        assert_eq!(splitlines("", false, false), Vec::<&str>::new());
        assert_eq!(splitlines("a\x0cb", false, true), ["a\x0cb"]);
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
    }
}
