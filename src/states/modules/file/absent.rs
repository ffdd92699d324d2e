//! `file.absent`: removes a file, a symlink or a whole directory tree.

use super::{error, name_of, not_absolute};
use crate::states::{ret, Ctx};
use serde_json::{Map, Value};
use std::fs;
use std::path::Path;

/// `file.absent`.
pub fn absent(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = name_of(args);
    if name.is_empty() {
        return error(&name, "Must provide name to file.absent");
    }
    if !name.starts_with('/') {
        return error(&name, not_absolute(&name));
    }
    if name == "/" {
        return error(&name, "Refusing to make \"/\" absent");
    }
    let path = Path::new(&name);
    let Ok(md) = fs::symlink_metadata(path) else {
        return ret(
            &name,
            Some(true),
            format!("File {name} is not present"),
            Map::new(),
        );
    };
    // A symlink is removed itself, even one to a directory (Salt checks islink first).
    let is_dir = md.is_dir();
    let what = if is_dir { "Directory" } else { "File" };
    let mut ch = Map::new();
    ch.insert("removed".into(), Value::String(name.clone()));
    if ctx.test {
        return ret(&name, None, format!("{what} {name} is set for removal"), ch);
    }
    let r = if is_dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match r {
        Ok(()) => ret(
            &name,
            Some(true),
            format!("Removed {} {name}", what.to_lowercase()),
            ch,
        ),
        Err(_) if is_dir => error(&name, format!("Failed to remove directory {name}")),
        Err(e) => error(&name, format!("{e}")),
    }
}
