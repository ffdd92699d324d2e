//! The walls between brine's floors (README, Layout), checked on the source: a wall broken
//! fails this test naming the file and line.
//!
//! - A core (`master/`, `minion/`, `reactor/`, `queue/`, `targeting`, `jobs`, `bus`, `batch`) does not
//!   import `io` or `cli`.
//! - A function table (`runners/`, `wheel/`, `modules/`) does not import a core's types
//!   (`master`, `minion`, `reactor`, `queue`); it sees a core through a trait it defines.
//! - `wire` and `py` import nothing of brine's.
//! - A foreign crate with a home module is named only there.
//!
//! The walls the tree did not keep yet when this test was written are listed in `KNOWN`
//! (issue 12); the test fails when a new breach appears and when a listed one is mended
//! (remove it from the list), so the list only shrinks.

use std::path::{Path, PathBuf};

/// A breach: file (relative to `src/`), line number, what.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Breach {
    file: String,
    line: usize,
    what: String,
}

const CORES: &[&str] = &[
    "master/",
    "minion/",
    "reactor/",
    "queue/",
    "targeting",
    "jobs",
    "bus",
    "batch",
];
const TABLES: &[&str] = &["runners/", "wheel/", "modules/"];
const CORE_PATHS: &[&str] = &["master", "minion", "reactor", "queue"];

/// Foreign crates and the files or folders (prefixes under `src/`) that may name them.
const HOMES: &[(&str, &[&str])] = &[
    ("zmq", &["io/zsock.rs"]),
    ("libsodium_sys", &["crypto.rs"]),
    ("heed", &["store.rs"]),
    ("rusqlite", &["queue/sqlite.rs"]),
    // The state system renders with the reactor's environment and adds its `salt` object.
    ("minijinja", &["reactor/render.rs", "states/render.rs"]),
    ("minijinja_contrib", &["reactor/render.rs"]),
    ("serde_saphyr", &["yaml/"]),
    ("rustls", &["modules/http.rs", "io/tls.rs"]),
    ("httparse", &["api/http.rs"]),
    ("lettre", &["modules/smtp.rs"]),
    // file.managed's http(s) sources fetch in the state child, with the same blocking client.
    (
        "ureq",
        &["modules/http.rs", "states/modules/file/source.rs"],
    ),
    ("mio", &["io/"]),
    ("md5", &["digest.rs"]),
    ("sha1", &["digest.rs"]),
    ("sha2", &["digest.rs"]),
    ("hmac", &["digest.rs"]),
    ("bcrypt", &["digest.rs"]),
];

/// Breaches the tree still has, as `file:what` (line numbers move; the text does not).
const KNOWN: &[&str] = &[];

fn in_scope(file: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| {
        if p.ends_with('/') {
            file.starts_with(p)
        } else {
            file == format!("{p}.rs") || file.starts_with(&format!("{p}/"))
        }
    })
}

/// The code of a line without a `//` comment (strings holding `//` are rare enough here).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every breach in `files` (path relative to `src/`, text); test modules are skipped.
fn check(files: &[(String, String)]) -> Vec<Breach> {
    let mut out = Vec::new();
    for (file, text) in files {
        let core = in_scope(file, CORES);
        let table = in_scope(file, TABLES);
        let ground = file == "wire.rs" || file.starts_with("py/");
        for (i, raw) in text.lines().enumerate() {
            if raw.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            let line = code(raw);
            let mut push = |what: String| {
                let b = Breach {
                    file: file.clone(),
                    line: i + 1,
                    what,
                };
                if !out
                    .iter()
                    .any(|o: &Breach| o.file == b.file && o.what == b.what)
                {
                    out.push(b);
                }
            };
            if core {
                for floor in ["io", "cli"] {
                    if line.contains(&format!("crate::{floor}::"))
                        || line.contains(&format!("crate::{floor}}}"))
                    {
                        push(format!("imports crate::{floor}"));
                    }
                }
                if file == "bus.rs" && line.contains("crate::reactor") {
                    push("names crate::reactor".into());
                }
            }
            if table {
                for c in CORE_PATHS {
                    if line.contains(&format!("crate::{c}::")) {
                        push(format!("imports core crate::{c}"));
                    }
                }
            }
            if ground {
                if let Some(at) = line.find("crate::") {
                    let rest = &line[at + 7..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let own = file.starts_with("py/") && (name == "py" || rest.starts_with("py"));
                    if !own && !name.is_empty() {
                        push(format!("imports crate::{name}"));
                    }
                }
            }
            for (krate, homes) in HOMES {
                let named = line.contains(&format!("{krate}::"))
                    && !line.contains(&format!("_{krate}::"))
                    && !line.contains(&format!("{krate}_"))
                    || line.contains(&format!("use {krate};"));
                if named
                    && !homes.iter().any(|h| {
                        if h.ends_with('/') {
                            file.starts_with(h)
                        } else {
                            file == h
                        }
                    })
                {
                    push(format!("names {krate}"));
                }
            }
        }
    }
    out
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            sources(&p, root, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn the_walls_hold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    // The binaries are thin and the tests are outside.
    files.retain(|(f, _)| !f.starts_with("bin/"));
    let breaches = check(&files);
    let key = |b: &Breach| format!("{}:{}", b.file, b.what);
    let new: Vec<String> = breaches
        .iter()
        .filter(|b| !KNOWN.contains(&key(b).as_str()))
        .map(|b| format!("src/{}:{}: {}", b.file, b.line, b.what))
        .collect();
    assert!(new.is_empty(), "walls broken:\n{}", new.join("\n"));
    let mended: Vec<&&str> = KNOWN
        .iter()
        .filter(|k| !breaches.iter().any(|b| key(b) == **k))
        .collect();
    assert!(
        mended.is_empty(),
        "mended, take them out of KNOWN: {mended:?}"
    );
}

#[test]
fn the_checker_finds_each_kind_of_breach() {
    let files =
        vec![
        (
            "master/run.rs".to_string(),
            "use crate::io::timers::Timers;\n".to_string(),
        ),
        (
            "reactor/engine.rs".to_string(),
            "// crate::cli:: in a comment is fine\nfn f() { crate::cli::output::render(); }\n"
                .to_string(),
        ),
        (
            "runners/jobs.rs".to_string(),
            "use crate::master::Master;\n".to_string(),
        ),
        (
            "wire.rs".to_string(),
            "use crate::clock::stamp;\n".to_string(),
        ),
        ("py/args.rs".to_string(), "use crate::py::truthy;\n".to_string()),
        (
            "jobs.rs".to_string(),
            "fn f() { let _ = heed::Env::open(); }\n#[cfg(test)]\nmod t { use crate::io::x; }\n"
                .to_string(),
        ),
        ("store.rs".to_string(), "use heed::Env;\n".to_string()),
        (
            "modules/cmd.rs".to_string(),
            "use libsodium_sys::crypto_box;\n".to_string(),
        ),
    ];
    let got: Vec<(String, usize, String)> = check(&files)
        .into_iter()
        .map(|b| (b.file, b.line, b.what))
        .collect();
    assert_eq!(
        got,
        vec![
            ("master/run.rs".into(), 1, "imports crate::io".into()),
            ("reactor/engine.rs".into(), 2, "imports crate::cli".into()),
            (
                "runners/jobs.rs".into(),
                1,
                "imports core crate::master".into()
            ),
            ("wire.rs".into(), 1, "imports crate::clock".into()),
            ("jobs.rs".into(), 1, "names heed".into()),
            ("modules/cmd.rs".into(), 1, "names libsodium_sys".into()),
        ]
    );
}
