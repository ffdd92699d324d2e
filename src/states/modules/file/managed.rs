//! `file.managed`: a file's text from `contents` (or `contents_pillar`/`contents_grains`) or
//! a `source` (salt://, local, http(s) with `source_hash`; a list takes the first that
//! exists), optionally a Jinja `template` with `context` and `defaults`, with its owner,
//! group and mode; `makedirs`, `replace: False`, `create: False`, and test mode, with Salt
//! 3007.15's comments and changes (the unified diff in `changes.diff`).

use super::super::{atomic, difflib};
use super::perms::{self, check_perms, mode_bits, normalize_mode, Stat, Want};
use super::source::{self, Kind, Picked, SourceError};
use super::{error, flag, make_parents, name_of, not_absolute, splitlines, text_arg, truthy};
use crate::states::{ret, Ctx};
use serde_json::{Map, Value};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Salt's test-mode comment for a file that would change.
fn would_change(name: &str) -> String {
    format!("The file {name} is set to be changed\nNote: No changes made, actual changes may\nbe different due to other states.")
}

/// Salt's `get_diff` of two file texts (no file names): a unified diff, or a sentence when
/// either side is binary.
fn diff(old: &[u8], new: &[u8]) -> String {
    match (std::str::from_utf8(old), std::str::from_utf8(new)) {
        (Ok(a), Ok(b)) => difflib::unified(a, b),
        (Err(_), Err(_)) => "Replace binary file".into(),
        (Ok(_), Err(_)) => "Replace text file with binary file".into(),
        (Err(_), Ok(_)) => "Replace binary file with text file".into(),
    }
}

/// A value looked up by a `:`-separated key (Salt's `pillar.get` / `grains.get`).
fn lookup<'v>(data: &'v Map<String, Value>, key: &str, delim: &str) -> Option<&'v Value> {
    let mut parts = key.split(delim);
    let mut cur = data.get(parts.next()?)?;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// A value as Python's `str()` would print a scalar.
fn pystr(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// The `contents`, `contents_pillar` or `contents_grains` of the state, before it is split
/// into lines; `Err` is the failed return.
fn raw_contents(
    ctx: &Ctx<'_>,
    name: &str,
    args: &Map<String, Value>,
) -> Result<Option<Value>, Value> {
    let delim = text_arg(args, "contents_delimiter").unwrap_or_else(|| ":".into());
    for (key, data, what) in [
        ("contents_pillar", ctx.pillar, "Pillar"),
        ("contents_grains", ctx.grains, "Grain"),
    ] {
        let Some(spec) = args.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        let keys: Vec<String> = match spec {
            Value::Array(a) => a.iter().map(pystr).collect(),
            other => vec![pystr(other)],
        };
        let mut found = Vec::new();
        for k in &keys {
            match lookup(data, k, &delim) {
                Some(v) => found.push(v.clone()),
                None => return Err(error(name, format!("{what} {k} does not exist"))),
            }
        }
        return Ok(Some(if spec.is_array() {
            Value::String(found.iter().map(pystr).collect::<Vec<_>>().join("\n"))
        } else {
            found.pop().unwrap_or(Value::Null)
        }));
    }
    Ok(args.get("contents").filter(|v| !v.is_null()).cloned())
}

/// Salt's normalisation of contents: every line ends in a newline (the last one too unless
/// `contents_newline: False`).
fn contents_text(v: &Value, newline: bool) -> String {
    let parts: Vec<String> = match v {
        Value::Array(a) => a.iter().map(pystr).collect(),
        other => vec![pystr(other)],
    };
    let mut out = String::new();
    for part in &parts {
        for line in splitlines(part, false, false) {
            out.push_str(line.trim_end_matches('\n').trim_end_matches('\r'));
            out.push('\n');
        }
    }
    if !newline {
        let t = out.trim_end_matches('\n').trim_end_matches('\r').len();
        out.truncate(t);
    }
    out
}

/// The template variables: `defaults` overlaid with `context`.
fn template_vars(args: &Map<String, Value>) -> Map<String, Value> {
    let mut vars = match args.get("defaults") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if let Some(Value::Object(c)) = args.get("context") {
        vars.extend(c.clone());
    }
    vars
}

/// Renders `text` with the state's `template`; `Err` is Salt's message.
fn render(
    ctx: &mut Ctx<'_>,
    template: &str,
    text: &[u8],
    args: &Map<String, Value>,
) -> Result<Vec<u8>, String> {
    if template != "jinja" {
        return Err(format!(
            "Specified template format {template} is not supported"
        ));
    }
    let text = std::str::from_utf8(text).map_err(|e| format!("template is not UTF-8: {e}"))?;
    (ctx.render)(text, &template_vars(args)).map(String::into_bytes)
}

/// The new text from a source, as Salt's `get_managed` makes it: fetched, and rendered when
/// a template is asked for. `expected` is the (type, hex) a remote source must hash to.
struct Fetched {
    /// The file's new text.
    data: Vec<u8>,
    /// `source_hash` of a non-salt:// source, to verify the download against.
    expected: Option<(String, String)>,
}

/// Salt's `get_managed` for a picked source; `Err` is its comment.
fn get_managed(
    ctx: &mut Ctx<'_>,
    picked: &Picked,
    args: &Map<String, Value>,
    template: Option<&str>,
) -> Result<Fetched, String> {
    let src = picked.source.as_str();
    let skip_verify = flag(args, "skip_verify", false);
    let mut expected = None;
    match source::kind(src) {
        Kind::Local => {
            let p = src.strip_prefix("file://").unwrap_or(src);
            if !Path::new(p).exists() {
                return Err(SourceError::LocalMissing(p.to_string()).to_string());
            }
        }
        Kind::Http | Kind::Other if !skip_verify => match &picked.hash {
            Some(h) => {
                let name = text_arg(args, "source_hash_name");
                expected = Some(
                    source::source_sum(ctx, src, h, name.as_deref())
                        .map_err(|e| format!("Unable to manage file: {e}"))?,
                );
            }
            None => return Err(SourceError::NoHash(src.to_string()).to_string()),
        },
        _ => {}
    }
    let data = match source::fetch(ctx, src) {
        Ok(d) => d,
        Err(e @ SourceError::Fetch { .. }) => return Err(e.to_string()),
        Err(e) => return Err(e.to_string()),
    };
    let data = match template {
        Some(t) => {
            // Salt renders the downloaded file, so the hash is checked on the raw bytes.
            if let Some((ht, hx)) = &expected {
                if source::digest(ht, &data).as_deref() != Some(hx.as_str()) {
                    return Err(format!(
                        "Specified {ht} checksum for {src} ({hx}) does not match actual checksum"
                    ));
                }
                expected = None;
            }
            render(ctx, t, &data, args)?
        }
        None => data,
    };
    Ok(Fetched { data, expected })
}

/// A `source_hash` check of downloaded bytes; `Err` is the actual digest.
fn verify(expected: &Option<(String, String)>, data: &[u8]) -> Result<(), String> {
    let Some((ht, hx)) = expected else {
        return Ok(());
    };
    match source::digest(ht, data) {
        Some(d) if d == *hx => Ok(()),
        Some(d) => Err(d),
        None => Err(format!("(brine computes sha256 only, not {ht})")),
    }
}

/// The arguments `managed` works from, read once.
struct Plan {
    name: String,
    want: Want,
    template: Option<String>,
    contents: Option<Vec<u8>>,
    source: Option<Value>,
    makedirs: bool,
    dir_mode: Option<String>,
    /// `mode: keep`: the source file's mode.
    keep_mode: bool,
}

/// `file.managed`.
pub fn managed(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = name_of(args);
    if name.is_empty() {
        return error(&name, "Destination file name is required");
    }
    let keep_mode =
        matches!(args.get("mode"), Some(Value::String(s)) if s.eq_ignore_ascii_case("keep"));
    let mode = if keep_mode {
        None
    } else {
        normalize_mode(args.get("mode"))
    };
    let source = args.get("source").filter(|v| truthy(v)).cloned();
    let count = ["contents", "contents_pillar", "contents_grains"]
        .iter()
        .filter(|k| args.get(**k).is_some_and(|v| !v.is_null()))
        .count();
    if source.is_some() && count > 0 {
        return error(&name, "'source' cannot be used in combination with 'contents', 'contents_pillar', or 'contents_grains'");
    }
    if keep_mode && count > 0 {
        return error(&name, "Mode preservation cannot be used in combination with 'contents', 'contents_pillar', or 'contents_grains'");
    }
    if count > 1 {
        return error(
            &name,
            "Only one of 'contents', 'contents_pillar', and 'contents_grains' is permitted",
        );
    }
    let mut replace = flag(args, "replace", true);
    if source.is_none() && count == 0 {
        replace = false;
    }
    let mut warnings = Vec::new();
    if args.contains_key("file_mode") {
        warnings.push(Value::String(
            "The 'file_mode' argument will be ignored.  Please use 'mode' instead to set file permissions.".into(),
        ));
    }
    let template = text_arg(args, "template").filter(|t| !t.is_empty());
    let contents = match raw_contents(ctx, &name, args) {
        Err(r) => return r,
        Ok(None) => None,
        Ok(Some(v)) => {
            if !flag(args, "allow_empty", true) && !truthy(&v) {
                let id = if let Some(p) = text_arg(args, "contents_pillar") {
                    format!("contents_pillar {p}")
                } else if let Some(g) = text_arg(args, "contents_grains") {
                    format!("contents_grains {g}")
                } else {
                    "'contents'".into()
                };
                return error(&name, format!("{id} value would result in empty contents. Set allow_empty to True to allow the managed file to be empty."));
            }
            let text = contents_text(&v, flag(args, "contents_newline", true));
            match &template {
                Some(t) => match render(ctx, t, text.as_bytes(), args) {
                    Ok(b) => Some(b),
                    Err(e) => return error(&name, e),
                },
                None => Some(text.into_bytes()),
            }
        }
    };
    let want = Want::from_args(args, mode);
    let path = PathBuf::from(&name);
    if !flag(args, "create", true) && !path.is_file() {
        return ret(
            &name,
            Some(true),
            format!("File {name} is not present and is not set for creation"),
            Map::new(),
        );
    }
    let u_check = perms::check_user(want.user.as_ref(), want.group.as_ref());
    if !u_check.is_empty() && !ctx.test {
        return error(&name, u_check);
    }
    if !name.starts_with('/') {
        return error(&name, not_absolute(&name));
    }
    if path.is_dir() {
        return error(&name, format!("Specified target {name} is a directory"));
    }
    if args
        .get("context")
        .is_some_and(|c| !c.is_null() && !c.is_object())
    {
        return error(&name, "Context must be formed as a dict");
    }
    if args
        .get("defaults")
        .is_some_and(|d| truthy(d) && !d.is_object())
    {
        return error(&name, "Defaults must be formed as a dict");
    }
    let mut plan = Plan {
        name,
        want,
        template,
        contents,
        source,
        makedirs: flag(args, "makedirs", false),
        dir_mode: normalize_mode(args.get("dir_mode")),
        keep_mode,
    };
    let mut r = run(ctx, args, &mut plan, replace);
    if !warnings.is_empty() {
        if let Some(m) = r.as_object_mut() {
            m.insert("warnings".into(), Value::Array(warnings));
        }
    }
    r
}

/// `managed` once the arguments are checked.
fn run(ctx: &mut Ctx<'_>, args: &Map<String, Value>, plan: &mut Plan, mut replace: bool) -> Value {
    let name = plan.name.clone();
    let name = name.as_str();
    let path = Path::new(name);
    let exists = path.exists();
    let source_hash = text_arg(args, "source_hash").filter(|s| !s.is_empty());
    // A remote source whose source_hash the file already has is not fetched again.
    if let (None, None, Some(src), true, true) = (
        &plan.contents,
        &plan.template,
        &plan.source,
        exists,
        replace,
    ) {
        if !flag(args, "skip_verify", false) {
            if let Ok(p) = source::pick(ctx, src, source_hash.as_deref()) {
                if let (Kind::Http | Kind::Other, Some(h)) = (source::kind(&p.source), &p.hash) {
                    let hn = text_arg(args, "source_hash_name");
                    if let Ok((ht, hx)) = source::source_sum(ctx, &p.source, h, hn.as_deref()) {
                        let have = fs::read(path).ok().and_then(|d| source::digest(&ht, &d));
                        if have.as_deref() == Some(hx.as_str()) {
                            replace = false;
                        }
                    }
                }
            }
        }
    }
    if !replace && exists {
        return keep_text(ctx, plan);
    }
    let picked = match &plan.source {
        None => None,
        Some(src) => match source::pick(ctx, src, source_hash.as_deref()) {
            Ok(p) => Some(p),
            Err(e) => return error(name, format!("Unable to manage file: {e}")),
        },
    };
    if let (true, Some(p)) = (plan.keep_mode, &picked) {
        // Salt's test mode keeps the mode only when it has a local copy of the source
        // (`sfn`): never for a plain salt:// file, which it hashes without fetching.
        let no_copy = ctx.test && source::kind(&p.source) == Kind::Salt && plan.template.is_none();
        if let Some(m) = source::stat_mode(ctx, &p.source).filter(|_| !no_copy) {
            plan.want.mode = Some(m);
        }
    }
    let fetched = match &picked {
        None => None,
        Some(p) => match get_managed(ctx, p, args, plan.template.as_deref()) {
            Ok(f) => Some(f),
            Err(e) if ctx.test => return error(name, e),
            Err(e) => return error(name, format!("Unable to manage file: {e}")),
        },
    };
    if ctx.test {
        return test_changes(plan, fetched.as_ref(), flag(args, "show_changes", true));
    }
    manage_file(
        plan,
        picked.as_ref(),
        fetched,
        flag(args, "show_changes", true),
    )
}

/// `replace: False` (or no text at all) on an existing file: only owner and mode.
fn keep_text(ctx: &mut Ctx<'_>, plan: &Plan) -> Value {
    let name = plan.name.as_str();
    let path = Path::new(name);
    let lmode = Stat::of(path, true).map(|s| s.mode);
    let mut ch = Map::new();
    let checked = check_perms(path, &plan.want, true, ctx.test, &mut ch);
    if ctx.test {
        let comment = match (&plan.want.mode, &lmode) {
            (Some(m), Some(l)) if m != l => format!(
                "File {name} will be updated with permissions {m} from its current state of {l}"
            ),
            _ => format!("File {name} not updated"),
        };
        let result = if ch.is_empty() {
            Some(checked.ok)
        } else {
            None
        };
        return ret(name, result, comment, ch);
    }
    let comment = if ch.is_empty() && checked.ok {
        format!("File {name} exists with proper permissions. No changes made.")
    } else {
        checked.comments.join("; ")
    };
    ret(name, Some(checked.ok), comment, ch)
}

/// Salt's `check_managed_changes` in test mode: `newfile`, or the diff and the owner and
/// mode that would change.
fn test_changes(plan: &Plan, fetched: Option<&Fetched>, show: bool) -> Value {
    let name = plan.name.as_str();
    let path = Path::new(name);
    let mut ch = Map::new();
    match Stat::of(path, true) {
        None => {
            ch.insert("newfile".into(), name.into());
        }
        Some(st) => {
            let old = fs::read(path).unwrap_or_default();
            let new = fetched
                .map(|f| f.data.as_slice())
                .or(plan.contents.as_deref());
            if let Some(new) = new {
                if new != old.as_slice() {
                    let d = if show {
                        diff(&old, new)
                    } else {
                        "<show_changes=False>".into()
                    };
                    ch.insert("diff".into(), d.into());
                }
            }
            plan.want.diff(
                &Stat {
                    is_link: false,
                    ..st
                },
                &mut ch,
            );
        }
    }
    if ch.is_empty() {
        return ret(
            name,
            Some(true),
            format!("The file {name} is in the correct state"),
            ch,
        );
    }
    ret(name, None, would_change(name), ch)
}

/// The atomic-write metadata that keeps an existing file's mode and owner.
fn keep_meta(path: &Path) -> atomic::Meta {
    let md = fs::metadata(path).ok();
    atomic::Meta {
        mode: md.as_ref().map(|m| m.permissions().mode() & 0o7777),
        uid: md.as_ref().map(|m| m.uid()),
        gid: md.as_ref().map(|m| m.gid()),
    }
}

/// Salt's `manage_file`: writes the new text (atomically), then owner and mode.
fn manage_file(
    plan: &Plan,
    picked: Option<&Picked>,
    fetched: Option<Fetched>,
    show: bool,
) -> Value {
    let name = plan.name.as_str();
    let path = Path::new(name);
    let mut ch = Map::new();
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let new: Option<Vec<u8>> = match &fetched {
        Some(f) => Some(f.data.clone()),
        None => plan.contents.clone(),
    };
    let expected = fetched.as_ref().and_then(|f| f.expected.clone());
    let src_text = picked.map(|p| p.source.clone()).unwrap_or_default();
    if path.is_file() || is_link {
        // The text goes to the file a symlink points at; the link stays.
        let real: PathBuf = if is_link {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        } else {
            path.to_path_buf()
        };
        let old = fs::read(&real).unwrap_or_default();
        if let Some(new) = &new {
            if *new != old {
                if let Err(actual) = verify(&expected, new) {
                    let (ht, hx) = expected.clone().unwrap_or_default();
                    return error(name, format!("Specified {ht} checksum for {src_text} ({hx}) does not match actual checksum ({actual}). If the 'source_hash' value refers to a remote file with multiple possible matches, then it may be necessary to set 'source_hash_name'."));
                }
                let d = if show {
                    diff(&old, new)
                } else {
                    "<show_changes=False>".into()
                };
                if !d.is_empty() {
                    ch.insert("diff".into(), d.into());
                }
                if let Err(e) = atomic::write(&real, new, keep_meta(&real)) {
                    return error(name, format!("Failed to commit change: {e}"));
                }
            }
        }
        let checked = check_perms(path, &plan.want, true, false, &mut ch);
        let comment = if !ch.is_empty() {
            format!("File {name} updated")
        } else if checked.ok {
            format!("File {name} is in the correct state")
        } else {
            checked.comments.join("; ")
        };
        return ret(name, Some(checked.ok), comment, ch);
    }
    if let Err(actual) = verify(&expected, new.as_deref().unwrap_or_default()) {
        let (ht, hx) = expected.clone().unwrap_or_default();
        return error(
            name,
            format!("Specified {ht} checksum for {name} ({hx}) does not match actual checksum ({actual})"),
        );
    }
    let parent = super::dirname(name);
    if !Path::new(&parent).is_dir() {
        if !plan.makedirs {
            return error(name, "Parent directory not present");
        }
        // Salt's dir_mode from mode: every non-zero digit gains the search bit.
        let dir_mode = plan.dir_mode.clone().or_else(|| {
            plan.want.mode.as_ref().map(|m| {
                let digits: Vec<char> = m.chars().collect();
                let tail = &digits[digits.len().saturating_sub(3)..];
                tail.iter()
                    .map(|c| match c.to_digit(8) {
                        Some(0) | None => *c,
                        Some(d) => char::from_digit(d | 1, 8).unwrap_or(*c),
                    })
                    .collect()
            })
        });
        let uid = plan.want.user.as_ref().and_then(perms::resolve_user);
        let gid = plan.want.group.as_ref().and_then(perms::resolve_group);
        if let Err(e) = make_parents(path, dir_mode.as_deref().and_then(mode_bits), uid, gid) {
            return error(name, format!("Failed to create {parent}: {e}"));
        }
    }
    let umask_mode = 0o666 & !super::umask();
    let mut comment = String::new();
    // The first mode is what Salt's own steps leave (touch under umask 077 when a mode is
    // asked for, a copy of a 0600 temp file for sources); check_perms then reports the rest.
    let first_mode = match (&fetched, &plan.want.mode) {
        (Some(_), _) => 0o600,
        (None, Some(_)) => 0o600,
        (None, None) => umask_mode,
    };
    match &new {
        None => {
            ch.insert("new".into(), format!("file {name} created").into());
            comment = "Empty file".into();
        }
        Some(_) => {
            ch.insert("diff".into(), "New file".into());
        }
    }
    let meta = atomic::Meta {
        mode: Some(first_mode),
        ..atomic::Meta::default()
    };
    if let Err(e) = atomic::write(path, new.as_deref().unwrap_or_default(), meta) {
        return error(name, format!("File {name} not created: {e}"));
    }
    let want = Want {
        mode: plan
            .want
            .mode
            .clone()
            .or_else(|| Some(format!("{umask_mode:04o}"))),
        ..plan.want.clone()
    };
    let checked = check_perms(path, &want, true, false, &mut ch);
    if !checked.comments.is_empty() {
        comment = checked.comments.join("; ");
    }
    if comment.is_empty() {
        comment = format!("File {name} updated");
    }
    ret(name, Some(checked.ok), comment, ch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contents_lines_as_salt_joins_them() {
        assert_eq!(contents_text(&json!("hi"), true), "hi\n");
        assert_eq!(contents_text(&json!(["a", "b"]), true), "a\nb\n");
        assert_eq!(contents_text(&json!("l1\nl2\n\n"), true), "l1\nl2\n\n");
        assert_eq!(contents_text(&json!("l1"), false), "l1");
        assert_eq!(contents_text(&json!(""), true), "");
        assert_eq!(contents_text(&json!(5), true), "5\n");
    }

    /// Runs `file.managed` with `args` in a fresh root (srv/ holds `tpl.j2`).
    fn managed_in(root: &Path, args: Value, test: bool) -> Value {
        fs::create_dir_all(root.join("srv")).expect("srv");
        fs::write(root.join("srv/tpl.j2"), "v={{ v }}\n").expect("tpl");
        let args = args.as_object().expect("args").clone();
        super::super::fixture::call(root, "file.managed", &args, test, &Map::new())
    }

    #[test]
    fn a_rewrite_keeps_owner_and_mode_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().expect("tempdir");
        let x = d.path().join("x");
        fs::write(&x, "old\n").expect("write");
        fs::set_permissions(&x, fs::Permissions::from_mode(0o640)).expect("chmod");
        std::os::unix::fs::chown(&x, Some(65534), Some(65534)).expect("chown");
        let r = managed_in(
            d.path(),
            json!({"name": x.display().to_string(), "contents": "new"}),
            false,
        );
        assert_eq!(r["result"], json!(true), "{r}");
        assert_eq!(
            r["changes"]["diff"],
            json!("--- \n+++ \n@@ -1 +1 @@\n-old\n+new\n")
        );
        let md = fs::metadata(&x).expect("meta");
        assert_eq!(
            (md.uid(), md.gid(), md.permissions().mode() & 0o777),
            (65534, 65534, 0o640)
        );
        let names: Vec<_> = fs::read_dir(d.path())
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names.len(), 2, "only srv and x: {names:?}");
    }

    #[test]
    fn a_template_error_fails_and_writes_nothing() {
        let d = tempfile::tempdir().expect("tempdir");
        let x = d.path().join("x");
        let r = managed_in(
            d.path(),
            json!({"name": x.display().to_string(), "contents": "{{ nope(", "template": "jinja"}),
            false,
        );
        assert_eq!(r["result"], json!(false), "{r}");
        assert!(!x.exists());
    }

    #[test]
    fn test_mode_touches_nothing() {
        let d = tempfile::tempdir().expect("tempdir");
        let x = d.path().join("x");
        let r = managed_in(
            d.path(),
            json!({"name": x.display().to_string(), "source": "salt://tpl.j2",
                   "template": "jinja", "context": {"v": 1}, "mode": "0600"}),
            true,
        );
        assert_eq!(r["result"], Value::Null, "{r}");
        assert_eq!(r["changes"], json!({"newfile": x.display().to_string()}));
        assert!(!x.exists());
        let r = managed_in(
            d.path(),
            json!({"name": x.display().to_string(), "source": "salt://tpl.j2",
                   "template": "jinja", "context": {"v": 1}, "mode": "0600"}),
            false,
        );
        assert_eq!(fs::read_to_string(&x).expect("read"), "v=1\n", "{r}");
    }

    #[test]
    fn pillar_keys_by_colon() {
        let m = json!({"a": {"b": [1, 2]}});
        let m = m.as_object().expect("object");
        assert_eq!(lookup(m, "a:b:1", ":"), Some(&json!(2)));
        assert_eq!(lookup(m, "a:c", ":"), None);
    }
}
