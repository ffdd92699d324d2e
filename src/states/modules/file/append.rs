//! `file.append`: adds the lines of `text` that the file does not already hold (a chunk
//! counts as present when it matches anywhere with whitespace and line breaks ignored, as
//! Salt's `build_whitespace_split_regex`), creating the file when it is missing.

use super::super::{atomic, difflib};
use super::{error, flag, make_parents, name_of, not_absolute, splitlines};
use crate::states::{ret, Ctx};
use serde_json::{Map, Value};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The words of a line as Python's non-POSIX `shlex` splits them with `whitespace_split`:
/// whitespace separates, a quoted run (quotes kept) does not.
fn shlex_words(line: &str) -> Vec<String> {
    // Salt narrows the quote characters when the text holds only one kind.
    let quotes: &[char] = if line.contains("'\\\"") {
        &[]
    } else if line.contains('\'') {
        &['"']
    } else if line.contains('"') {
        &['\'']
    } else {
        &['\'', '"']
    };
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if quotes.contains(&c) => {
                cur.push(c);
                quote = Some(c);
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Salt's `build_whitespace_split_regex`: the chunk's words in order, any whitespace (line
/// breaks too) around and between them, anchored at line ends.
fn whitespace_regex(chunk: &str) -> String {
    let mut re = String::new();
    for line in splitlines(chunk, false, false) {
        let parts: Vec<String> = shlex_words(line).iter().map(|w| regex::escape(w)).collect();
        re.push_str(&format!(
            r"(?:[\s]+)?{}(?:[\s]+)?",
            parts.join(r"(?:[\s]+)?")
        ));
    }
    format!("(?m)^{re}$")
}

/// The chunks of `text`: a string is one, a list gives one per item.
fn chunks(v: Option<&Value>) -> Option<Vec<String>> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    match v? {
        Value::Array(a) => a.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

/// `file.append`.
pub fn append(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = name_of(args);
    if name.is_empty() {
        return error(&name, "Must provide name to file.append");
    }
    let path = Path::new(&name);
    let makedirs = flag(args, "makedirs", false);
    if makedirs && !ctx.test && name.starts_with('/') {
        if let Err(e) = make_parents(path, None, None, None) {
            return error(
                &name,
                format!("Unable to create {}: {e}", super::dirname(&name)),
            );
        }
    }
    if !name.starts_with('/') {
        return error(&name, not_absolute(&name));
    }
    if path.is_dir() {
        return error(&name, format!("Specified target {name} is a directory"));
    }
    if !path.exists() {
        // Salt touches the file first; in test mode it answers as file.touch would.
        if ctx.test {
            let mut ch = Map::new();
            ch.insert("new".into(), name.clone().into());
            return ret(&name, None, format!("File {name} is set to be created"), ch);
        }
        let mode = 0o666 & !super::umask();
        if let Err(e) = atomic::write(
            path,
            b"",
            atomic::Meta {
                mode: Some(mode),
                ..atomic::Meta::default()
            },
        ) {
            log::warn!("touch {name}: {e}");
            return error(&name, format!("{name}: file not found"));
        }
    }
    let Some(text) = chunks(args.get("text")) else {
        return error(&name, "No text found to append. Nothing appended");
    };
    let old = match fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return error(&name, format!("Unable to read {name}: {e}")),
    };
    let slines: Vec<&str> = splitlines(&old, false, false);
    let mut add: Vec<String> = Vec::new();
    for chunk in &text {
        let present = regex::Regex::new(&whitespace_regex(chunk))
            .map(|re| re.is_match(&old))
            .unwrap_or(false);
        if present {
            continue;
        }
        add.extend(
            splitlines(chunk, false, false)
                .into_iter()
                .map(str::to_string),
        );
    }
    let mut nlines: Vec<&str> = slines.clone();
    nlines.extend(add.iter().map(String::as_str));
    let diff = |a: &[&str], b: &[&str]| difflib::unified_parts(a, b).join("\n");
    if ctx.test {
        if slines == nlines {
            return ret(
                &name,
                Some(true),
                format!("File {name} is in correct state"),
                Map::new(),
            );
        }
        let mut ch = Map::new();
        ch.insert("diff".into(), diff(&slines, &nlines).into());
        return ret(&name, None, format!("File {name} is set to be updated"), ch);
    }
    if add.is_empty() {
        return ret(
            &name,
            Some(true),
            format!("File {name} is in correct state"),
            Map::new(),
        );
    }
    // Salt's file.append: a final newline first when the file lacks one, then each line.
    let mut new = old.clone();
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    for l in &add {
        new.push_str(l);
        new.push('\n');
    }
    let md = fs::metadata(path).ok();
    let meta = atomic::Meta {
        mode: md.as_ref().map(|m| m.permissions().mode() & 0o7777),
        uid: md.as_ref().map(|m| m.uid()),
        gid: md.as_ref().map(|m| m.gid()),
    };
    if let Err(e) = atomic::write(path, new.as_bytes(), meta) {
        return error(&name, format!("Unable to write {name}: {e}"));
    }
    let mut ch = Map::new();
    ch.insert("diff".into(), diff(&slines, &nlines).into());
    ret(
        &name,
        Some(true),
        format!("Appended {} lines", add.len()),
        ch,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_regex_as_salt_builds_it() {
        assert_eq!(
            whitespace_regex("a b"),
            r"(?m)^(?:[\s]+)?a(?:[\s]+)?b(?:[\s]+)?$"
        );
        // Salt narrows shlex's quotes to the kind the text lacks, so one kind alone never
        // groups words; with both, the double quotes do.
        assert_eq!(shlex_words("x 'a b' c"), ["x", "'a", "b'", "c"]);
        assert_eq!(shlex_words("say \"a b\" it's"), ["say", "\"a b\"", "it's"]);
    }
}
