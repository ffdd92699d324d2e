//! The differential test: every case of `tests/fixtures/salt/file_states.json` (Salt
//! 3007.15's own returns, made by `tests/fixtures/gen_file_state_fixtures.py`) replayed
//! through brine's `file.*` functions in a temp dir laid out the same way, comparing the
//! return (name, result, comment, changes) and the tree left behind. A case's
//! `brine_differs` says where brine answers otherwise on purpose, and what it answers.

use crate::fileserver::Roots;
use crate::states::render::{render_template, RenderCtx, DEFAULT_FUEL, DEFAULT_MAX_OUTPUT};
use crate::states::Ctx;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const FIXTURE: &str = include_str!("../../../../tests/fixtures/salt/file_states.json");

/// Writes `files` (relative path -> text) under `base`.
fn write_tree(base: &Path, files: &Map<String, Value>) {
    for (rel, text) in files {
        let p = base.join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, text.as_str().expect("text")).expect("write");
    }
}

/// A loopback HTTP server for `www` (GET and HEAD, 404 for what it lacks), for the rest of
/// the test process; its base URL.
pub(super) fn serve(www: PathBuf) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut line = String::new();
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            if r.read_line(&mut line).is_err() {
                continue;
            }
            // The headers are read and ignored.
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                    break;
                }
            }
            let mut words = line.split_whitespace();
            let method = words.next().unwrap_or("");
            let path = words.next().unwrap_or("/").trim_start_matches('/');
            let (status, body) = match fs::read(www.join(path)) {
                Ok(b) if !path.contains("..") => ("200 OK", b),
                _ => ("404 Not Found", b"nope".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            if method != "HEAD" {
                let _ = s.write_all(&body);
            }
        }
    });
    url
}

/// Builds the case's `t/` as its `setup` says.
fn setup(root: &Path, steps: &[Value]) {
    let t = root.join("t");
    fs::create_dir_all(&t).expect("t");
    for s in steps {
        let s = s.as_array().expect("step");
        let kind = s[0].as_str().expect("kind");
        let p = t.join(s[1].as_str().expect("rel"));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let mode = |v: &Value| u32::from_str_radix(v.as_str().expect("mode"), 8).expect("octal");
        match kind {
            "file" => {
                fs::write(&p, s[2].as_str().expect("text")).expect("write");
                fs::set_permissions(&p, fs::Permissions::from_mode(mode(&s[3]))).expect("chmod");
            }
            "dir" => {
                fs::create_dir_all(&p).expect("dir");
                fs::set_permissions(&p, fs::Permissions::from_mode(mode(&s[2]))).expect("chmod");
            }
            "link" => {
                let target = s[2]
                    .as_str()
                    .expect("target")
                    .replace("@ROOT@", &root.display().to_string());
                std::os::unix::fs::symlink(target, &p).expect("symlink");
            }
            other => panic!("unknown setup step {other}"),
        }
    }
}

/// The tree under `t` as the generator records it.
fn snapshot(t: &Path, root: &str) -> Value {
    fn walk(dir: &Path, t: &Path, root: &str, out: &mut BTreeMap<String, Value>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(t).expect("under t").display().to_string();
            let md = fs::symlink_metadata(&p).expect("lstat");
            let mut e = Map::new();
            if md.file_type().is_symlink() {
                e.insert("type".into(), "link".into());
                let target = fs::read_link(&p).expect("readlink").display().to_string();
                e.insert("target".into(), target.replace(root, "@ROOT@").into());
            } else {
                let kind = if md.is_dir() { "dir" } else { "file" };
                e.insert("type".into(), kind.into());
                e.insert(
                    "mode".into(),
                    format!("{:04o}", md.permissions().mode() & 0o7777).into(),
                );
                if !md.is_dir() {
                    let text = String::from_utf8_lossy(&fs::read(&p).expect("read")).into_owned();
                    e.insert("text".into(), text.into());
                }
            }
            let user = super::perms::user_name(md.uid());
            let group = super::perms::group_name(md.gid());
            if user != "root" {
                e.insert("user".into(), user.into());
            }
            if group != "root" {
                e.insert("group".into(), group.into());
            }
            out.insert(rel, Value::Object(e));
            if md.is_dir() && !md.file_type().is_symlink() {
                walk(&p, t, root, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(t, t, root, &mut out);
    Value::Object(out.into_iter().collect())
}

/// `@ROOT@` and `@HTTP@` put in (`to_real`) or taken out, keys included.
fn subst(v: &Value, pairs: &[(&str, &str)]) -> Value {
    let s = |x: &str| {
        pairs
            .iter()
            .fold(x.to_string(), |acc, (a, b)| acc.replace(a, b))
    };
    match v {
        Value::String(x) => Value::String(s(x)),
        Value::Array(a) => Value::Array(a.iter().map(|x| subst(x, pairs)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (s(k), subst(x, pairs))).collect()),
        other => other.clone(),
    }
}

/// Runs one state function as a fixture case would, in `root` (srv/, srv-dev/ under it).
pub(super) fn call(
    root: &Path,
    fun: &str,
    args: &Map<String, Value>,
    test: bool,
    pillar: &Map<String, Value>,
) -> Value {
    let mut grains = Map::new();
    grains.insert("id".into(), "web1".into());
    let opts = Map::new();
    let rctx = RenderCtx {
        id: "web1",
        grains: &grains,
        pillar,
        opts: &opts,
        saltenv: "base",
        fuel: DEFAULT_FUEL,
        max_output: DEFAULT_MAX_OUTPUT,
    };
    let mut render = |t: &str, v: &Map<String, Value>| {
        render_template("template", t, v, &rctx).map_err(|e| e.to_string())
    };
    let mut envs = BTreeMap::new();
    envs.insert("base".to_string(), vec![root.join("srv")]);
    envs.insert("dev".to_string(), vec![root.join("srv-dev")]);
    let mut roots = Roots::new(envs, &[], &[]).expect("roots");
    let mut ctx = Ctx {
        test,
        id: "web1",
        saltenv: "base",
        grains: &grains,
        pillar,
        opts: &opts,
        files: &mut roots,
        render: &mut render,
    };
    let (state, f) = fun.split_once('.').expect("state.fun");
    let func = crate::states::modules::find(state, f).expect("registered");
    func(&mut ctx, args)
}

#[test]
fn salt_file_state_fixtures_replay() {
    let doc: Value = serde_json::from_str(FIXTURE).expect("fixture json");
    let www = tempfile::tempdir().expect("www");
    write_tree(www.path(), doc["www"].as_object().expect("www"));
    let http = serve(www.path().to_path_buf());
    let pillar = doc["pillar"].as_object().expect("pillar").clone();
    let mut failures = Vec::new();
    let cases = doc["cases"].as_array().expect("cases");
    for case in cases {
        let id = case["case"].as_str().expect("case");
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().display().to_string();
        write_tree(
            &dir.path().join("srv"),
            doc["srv"].as_object().expect("srv"),
        );
        write_tree(
            &dir.path().join("srv-dev"),
            doc["srv_dev"].as_object().expect("dev"),
        );
        setup(dir.path(), case["setup"].as_array().expect("setup"));
        let to_real = [("@ROOT@", root.as_str()), ("@HTTP@", http.as_str())];
        let args = subst(&case["args"], &to_real);
        let fun = case["fun"].as_str().expect("fun");
        let test = case["test"].as_bool().unwrap_or(false);
        let got = call(
            dir.path(),
            fun,
            args.as_object().expect("args"),
            test,
            &pillar,
        );
        let back = [(root.as_str(), "@ROOT@"), (http.as_str(), "@HTTP@")];
        let got = subst(&got, &back);
        let mut want = case["return"].clone();
        let mut want_after = case["after"].clone();
        let mut prefix = None;
        if let Some(Value::Object(d)) = case.get("brine_differs") {
            for (k, v) in d {
                match k.as_str() {
                    "reason" => {}
                    "after" => want_after = v.clone(),
                    "comment_prefix" => prefix = v.as_str().map(str::to_string),
                    _ => {
                        want[k] = v.clone();
                    }
                }
            }
        }
        for key in ["name", "result", "changes", "comment"] {
            let (g, w) = (&got[key], &want[key]);
            let ok = match (&prefix, key) {
                (Some(p), "comment") => g.as_str().is_some_and(|s| s.starts_with(p.as_str())),
                _ => g == w,
            };
            if !ok {
                failures.push(format!("{id}: {key}: brine {g} salt {w}"));
            }
        }
        let after = snapshot(&dir.path().join("t"), &root);
        if after != want_after {
            failures.push(format!("{id}: after: brine {after} salt {want_after}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
