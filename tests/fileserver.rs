//! The file server end to end: a master serving `file_roots`, a minion fetching through its
//! cache with `cp.*` (in module children, over the minion's bus and its sealed session), the
//! traversal attempts of CVE-2020-11652 / CVE-2024-22232 refused, and the reactor reading
//! `salt://` SLS files from the master's roots.

use crate::common::*;
use brine::bus::Request;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A master serving `roots` (base) and `dev`, one accepted minion.
fn served(roots: &Path, dev: &Path, extra: &str) -> (Master, Minion) {
    let m = Master::start_with(&format!(
        "auto_accept: True\nfile_roots:\n  base: [{}]\n  dev: [{}]\nfile_ignore_glob: ['*.secret']\n{extra}",
        roots.display(),
        dev.display()
    ));
    let mi = Minion::start(&m, "fs1", "");
    mi.wait_log("authenticated with the master", 1);
    (m, mi)
}

/// brine-call FUN ARGS... --out json through the running minion: (exit code, return).
fn call(mi: &Minion, args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--out", "json"];
    a.extend_from_slice(args);
    let out = mi.call(&a);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|_| {
        panic!(
            "brine-call {args:?}: not JSON: {}\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code().unwrap_or(-1), v["local"].clone())
}

/// Bytes that are not all the same, so a misplaced chunk shows.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn sha256_hex(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    stdout(&out)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_owned()
}

fn roots() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("salt");
    let dev = dir.path().join("dev");
    std::fs::create_dir_all(base.join("sub")).unwrap();
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::write(base.join("motd"), "hello from base\n").unwrap();
    std::fs::write(base.join("sub/inner.txt"), "inner\n").unwrap();
    std::fs::write(base.join("hidden.secret"), "do not serve\n").unwrap();
    std::fs::write(dev.join("motd"), "hello from dev\n").unwrap();
    std::fs::write(dir.path().join("outside"), "outside the root\n").unwrap();
    std::os::unix::fs::symlink("/etc", base.join("etc")).unwrap();
    std::os::unix::fs::symlink("../outside", base.join("escape")).unwrap();
    std::os::unix::fs::symlink("sub/inner.txt", base.join("inside-link")).unwrap();
    (dir, base, dev)
}

#[test]
fn a_file_over_10_mib_reaches_the_minion_cache_in_chunks_and_is_fetched_once() {
    let (_d, base, dev) = roots();
    let big = pattern(12 * 1024 * 1024 + 12345);
    std::fs::write(base.join("big.bin"), &big).unwrap();
    let (m, mi) = served(&base, &dev, "");
    let (code, ret) = call(&mi, &["cp.cache_file", "salt://big.bin"]);
    assert_eq!(code, 0, "{ret}");
    let cached = PathBuf::from(ret.as_str().expect("a path"));
    assert_eq!(
        cached,
        mi.dir.path().join("cache/files/base/big.bin"),
        "cached under cachedir/files/<saltenv>/"
    );
    assert!(
        std::fs::read(&cached).unwrap() == big,
        "the bytes arrived whole"
    );
    let (_, hash) = call(&mi, &["cp.hash_file", "salt://big.bin"]);
    assert_eq!(
        hash,
        json!({"hsum": sha256_hex(&base.join("big.bin")), "hash_type": "sha256"})
    );
    // Unchanged on the master: the second call does not download (the file stays the same
    // inode: a download would rename a new file into place).
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&cached).unwrap());
    let (_, again) = call(&mi, &["cp.cache_file", "salt://big.bin"]);
    assert_eq!(again, ret);
    let ino2 = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&cached).unwrap());
    assert_eq!(ino, ino2, "not downloaded again");
    // Changed on the master: downloaded again.
    std::fs::write(base.join("big.bin"), b"small now").unwrap();
    let (_, third) = call(&mi, &["cp.cache_file", "salt://big.bin"]);
    assert_eq!(third, ret);
    assert_eq!(std::fs::read(&cached).unwrap(), b"small now");
    // The master answered a ping while it served (its loop never held a whole file).
    let out = std::process::Command::new(bin("brine"))
        .arg("-c")
        .arg(m.conf())
        .args(["--out", "json", "-t", "10", "fs1", "test.ping"])
        .output()
        .expect("run brine");
    assert!(stdout(&out).contains("true"), "{}", stdout(&out));
}

#[test]
fn cp_functions_return_what_salt_returns() {
    let (_d, base, dev) = roots();
    let (_m, mi) = served(&base, &dev, "");
    let (_, text) = call(&mi, &["cp.get_file_str", "salt://motd"]);
    assert_eq!(text, json!("hello from base\n"));
    let (_, text) = call(&mi, &["cp.get_file_str", "salt://motd?saltenv=dev"]);
    assert_eq!(text, json!("hello from dev\n"), "?saltenv= picks the env");
    let (_, text) = call(&mi, &["cp.get_file_str", "salt://motd", "saltenv=dev"]);
    assert_eq!(text, json!("hello from dev\n"));
    let (_, missing) = call(&mi, &["cp.get_file_str", "salt://nope"]);
    assert_eq!(missing, json!(false));
    let out = tempfile::tempdir().unwrap();
    let (_, dest) = call(
        &mi,
        &[
            "cp.get_file",
            "salt://sub/inner.txt",
            &out.path().display().to_string(),
        ],
    );
    let want = out.path().join("inner.txt");
    assert_eq!(
        dest,
        json!(want.display().to_string()),
        "a directory gets the basename"
    );
    assert_eq!(std::fs::read_to_string(&want).unwrap(), "inner\n");
    let deep = out.path().join("a/b/c.txt");
    let (_, dest) = call(
        &mi,
        &[
            "cp.get_file",
            "salt://motd",
            &deep.display().to_string(),
            "makedirs=True",
        ],
    );
    assert_eq!(dest, json!(deep.display().to_string()));
    let (_, list) = call(&mi, &["cp.list_master"]);
    let list: Vec<String> = serde_json::from_value(list).unwrap();
    assert!(list.contains(&"motd".to_owned()) && list.contains(&"sub/inner.txt".to_owned()));
    assert!(
        list.contains(&"inside-link".to_owned()),
        "a link inside the root is served"
    );
    for hidden in ["hidden.secret", "escape", "etc/passwd"] {
        assert!(
            !list.contains(&hidden.to_owned()),
            "{hidden} listed: {list:?}"
        );
    }
    let (_, list) = call(&mi, &["cp.list_master", "prefix=sub/"]);
    assert_eq!(list, json!(["sub/inner.txt"]));
    let (_, h) = call(&mi, &["cp.hash_file", "salt://nope"]);
    assert_eq!(h, json!({}));
    let (_, linked) = call(&mi, &["cp.get_file_str", "salt://inside-link"]);
    assert_eq!(linked, json!("inner\n"));
}

/// What the master answers a `_master` request sent straight to the minion's bus, as a
/// hostile local process (or a hostile minion) would send it.
fn ask(mi: &Minion, load: Value) -> brine::bus::Answer {
    let mut c = brine::client::BusClient::connect(&brine::client::minion_socket(&mi.sock_dir()))
        .expect("minion bus");
    let mut kwarg = Map::new();
    kwarg.insert("load".into(), load);
    c.call(
        &Request {
            fun: "_master".into(),
            arg: Vec::new(),
            kwarg,
            user: None,
            send_return: false,
        },
        Some(Duration::from_secs(20)),
    )
    .expect("an answer")
}

#[test]
fn traversal_absolute_nul_symlink_escapes_and_unknown_saltenvs_are_refused() {
    let (d, base, dev) = roots();
    let (m, mi) = served(&base, &dev, "");
    let root_text = d.path().display().to_string();
    let attempts = [
        ("../outside", "base"),
        ("sub/../../outside", "base"),
        ("/etc/passwd", "base"),
        ("etc/passwd", "base"),
        ("escape", "base"),
        ("motd\0.txt", "base"),
        ("hidden.secret", "base"),
        ("motd", "nosuchenv"),
        ("motd", "../dev"),
    ];
    for (path, env) in attempts {
        for cmd in ["_serve_file", "_file_hash"] {
            let a = ask(
                &mi,
                json!({"cmd": cmd, "path": path, "saltenv": env, "loc": 0}),
            );
            let text = brine::py::python_str(&a.ret);
            assert!(
                !text.contains(&root_text) && !text.contains("root:x:0"),
                "{cmd} {path:?} in {env:?} leaked: {text}"
            );
            let served = a.ret.get("data").is_some() || a.ret.get("hsum").is_some();
            assert!(!served, "{cmd} {path:?} in {env:?} was served: {text}");
        }
    }
    // Through cp.*, each is a clear error or False, never the file.
    for url in [
        "salt://../outside",
        "salt://escape",
        "salt://etc/passwd",
        "salt://motd?saltenv=nosuchenv",
    ] {
        let (code, v) = call(&mi, &["cp.get_file_str", url]);
        let text = brine::py::python_str(&v);
        assert!(
            !text.contains("outside the root") && !text.contains("root:x:0"),
            "{url}: {text}"
        );
        assert!(code != 0 || v == json!(false), "{url}: {code} {text}");
    }
    // Only file-server loads may be relayed: a local process cannot have the minion send a
    // job return or an event in its name this way.
    let a = ask(&mi, json!({"cmd": "_return", "jid": "1", "return": true}));
    assert!(!a.success, "{:?}", a.ret);
    // And the master is still serving.
    let (_, text) = call(&mi, &["cp.get_file_str", "salt://motd"]);
    assert_eq!(text, json!("hello from base\n"));
    assert!(
        m.log().contains("refused a file request from fs1"),
        "{}",
        m.log()
    );
}

#[test]
fn the_reactor_reads_salt_sls_files_from_the_masters_file_roots() {
    let (_d, base, dev) = roots();
    std::fs::create_dir_all(base.join("reactor")).unwrap();
    std::fs::write(
        base.join("reactor/echo.sls"),
        "echo:\n  runner.event.send:\n    - args:\n      - tag: brine/test/echoed\n      - data: {seen: {{ data.n }}}\n",
    )
    .unwrap();
    let m = Master::start_with(&format!(
        "file_roots:\n  base: [{}]\n  dev: [{}]\nreactor:\n  - 'brine/test/go':\n    - salt://reactor/echo.sls\n",
        base.display(),
        dev.display()
    ));
    let mut watch = m.client();
    watch
        .subscribe(brine::matcher::MatchType::StartsWith, "brine/test/echoed")
        .expect("subscribe");
    m.wait_subscribed(1);
    let mut d = Map::new();
    d.insert("n".into(), json!(7));
    m.client().fire("brine/test/go", d, 1 << 20).expect("fire");
    let ev = watch
        .next_event(Some(Duration::from_secs(20)))
        .unwrap_or_else(|e| panic!("no reaction: {e}\n{}", m.log()));
    assert_eq!(ev.tag, "brine/test/echoed");
    assert_eq!(ev.data["seen"], json!(7));
}
