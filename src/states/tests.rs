//! The differential test: every case of `tests/fixtures/salt/states.json` (made by
//! `salt-call --local` of Salt 3007.15 over `tests/fixtures/states/<tree>`) run through
//! brine's state engine on the same tree, compared without timings and pids.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::apply::{self, Env};
use crate::fileserver::Roots;

const DROP: &[&str] = &["start_time", "duration", "pid"];

/// Cases where brine answers differently on purpose, with why.
const DIFFERS: &[(&str, &str)] = &[(
    "err_notdict",
    "Salt's second line is its own ValueError leaking (dict.update on a list); brine gives the one real error",
)];

fn scrub(v: &Value, root: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !DROP.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), scrub(v, root)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| scrub(x, root)).collect()),
        Value::String(s) => Value::String(s.replace(root, "@ROOT@")),
        other => other.clone(),
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read fixture tree") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Runs one fixture case through brine; `(return, retcode)` scrubbed like the fixture.
fn run_case(case: &Value, grains: &Map<String, Value>, id: &str, base: &Path) -> (Value, i32) {
    let tree = case["tree"].as_str().unwrap_or_default();
    let root = base.join(tree);
    if !root.exists() {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/states")
            .join(tree);
        copy_tree(&here, &root);
    }
    // A tree with a `saltenvs` file has one root per saltenv it names, as the generator
    // sets file_roots.
    let mut envs = BTreeMap::new();
    match std::fs::read_to_string(root.join("saltenvs")) {
        Ok(list) => {
            for e in list.split_whitespace() {
                envs.insert(e.to_string(), vec![root.join(e)]);
            }
        }
        Err(_) => {
            envs.insert("base".to_string(), vec![root.clone()]);
        }
    }
    let mut roots = Roots::new(envs, &[], &[]).expect("roots");
    let mut opts = Map::new();
    opts.insert("id".into(), id.into());
    let pillar = Map::new();
    let mut fire = |_: &str, _: Value| {};
    let mut env = Env {
        id,
        jid: None,
        grains,
        pillar: &pillar,
        opts: &opts,
        local: true,
        files: &mut roots,
        fire: &mut fire,
    };
    let args: Vec<Value> = case["args"].as_array().cloned().unwrap_or_default();
    let kwargs = case["kwargs"].as_object().cloned().unwrap_or_default();
    let out = apply::call(
        case["fun"].as_str().unwrap_or_default(),
        &args,
        &kwargs,
        &mut env,
    );
    (scrub(&out.ret, &root.display().to_string()), out.retcode)
}

/// Where two returns differ, as lines a reader can act on.
fn diff(want: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    None => out.push(format!("missing {k}: {wv}")),
                    Some(gv) if gv != wv => out.push(format!("{k}:\n   salt  {wv}\n   brine {gv}")),
                    _ => {}
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("extra {k}: {}", g[k]));
            }
        }
        _ if want != got => out.push(format!("salt  {want}\nbrine {got}")),
        _ => {}
    }
    out
}

#[test]
fn every_salt_case_matches() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/salt/states.json"),
    )
    .expect("fixture");
    let doc: Value = serde_json::from_str(&text).expect("fixture json");
    let grains = doc["grains"].as_object().cloned().unwrap_or_default();
    let id = doc["minion_id"].as_str().unwrap_or("web1").to_string();
    let base = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let cases = doc["cases"].as_array().cloned().unwrap_or_default();
    assert!(cases.len() >= 40, "the fixture holds the whole corpus");
    for case in &cases {
        let name = case["case"].as_str().unwrap_or_default();
        let (got, code) = run_case(case, &grains, &id, base.path());
        // BRINE_SHOW=1 prints brine's answer to every case, for writing new ones.
        if std::env::var_os("BRINE_SHOW").is_some() {
            eprintln!("{name} {code} {got}");
        }
        let want = &case["return"];
        if let Some((_, why)) = DIFFERS.iter().find(|(c, _)| *c == name) {
            let first = want.get(0).cloned().unwrap_or(Value::Null);
            assert_eq!(got, Value::Array(vec![first]), "{name} ({why})");
            continue;
        }
        let mut problems = diff(want, &got);
        let wcode = case["retcode"].as_i64().unwrap_or(-1);
        if i64::from(code) != wcode {
            problems.push(format!("retcode: salt {wcode}, brine {code}"));
        }
        if let (Value::Object(w), Value::Object(g)) = (want, &got) {
            let order = |m: &Map<String, Value>| {
                let mut v: Vec<(i64, String)> = m
                    .iter()
                    .map(|(k, r)| {
                        (
                            r.get("__run_num__").and_then(Value::as_i64).unwrap_or(-1),
                            k.clone(),
                        )
                    })
                    .collect();
                v.sort();
                v.into_iter().map(|(_, k)| k).collect::<Vec<_>>()
            };
            if w.values().all(|r| r.get("__run_num__").is_some()) && order(w) != order(g) {
                problems.push(format!(
                    "run order:\n   salt  {:?}\n   brine {:?}",
                    order(w),
                    order(g)
                ));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("== {name}\n{}", problems.join("\n")));
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
