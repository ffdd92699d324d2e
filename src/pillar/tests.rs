//! The pillar against Salt 3007.15's answers (`tests/fixtures/salt/pillar.json`, made by
//! `tests/fixtures/gen_pillar_fixtures.py` over `tests/fixtures/pillar/`): every minion's
//! compiled pillar, key order included, and every `pillar.get`/`item`/`raw` call.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::*;

/// The corpus directory.
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pillar")
}

fn fixtures() -> Map<String, Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/salt/pillar.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The case's environments as the generator configures them: base first, then by name.
fn roots_of(case: &str) -> PillarRoots {
    let dir = corpus().join(case);
    let mut envs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    envs.sort_by_key(|e| (e != "base", e.clone()));
    PillarRoots::new(
        envs.into_iter()
            .map(|e| (e.clone(), vec![dir.join(&e)]))
            .collect(),
    )
}

fn obj(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Salt's errors with `pillar_safe_render_error: False` carry Jinja2's and PyYAML's own
/// text, which brine's renderer words differently: those are compared up to the renderer's
/// message, and brine's must name the file's line.
fn same_error(ours: &str, salt: &str) -> bool {
    const MARK: &str = "failed, render error:\n";
    match salt.find(MARK) {
        Some(at) => {
            let head = &salt[..at + MARK.len()];
            ours.starts_with(head) && ours.len() > head.len() && ours.contains(':')
        }
        None => ours == salt,
    }
}

#[test]
fn compiled_pillars_match_salt() {
    let fx = fixtures();
    assert!(fx.len() >= 5, "the fixture has every case");
    for (case, data) in &fx {
        let roots = roots_of(case);
        let opts = obj(&data["opts"]);
        let pillarenv = data["pillarenv"].as_str();
        let over = obj(&data["override"]);
        for (id, m) in obj(&data["minions"]) {
            let grains = obj(&m["grains"]);
            let req = Request {
                id: &id,
                grains: &grains,
                pillarenv,
                opts: &opts,
                pillar_override: &over,
            };
            let mut ours = compile_pillar(&roots, &req);
            let mut want = obj(&m["pillar"]);
            let ours_errors = ours.shift_remove(ERRORS_KEY);
            let want_errors = want.shift_remove(ERRORS_KEY);
            assert_eq!(
                serde_json::to_string(&ours).unwrap_or_default(),
                serde_json::to_string(&want).unwrap_or_default(),
                "case {case}, minion {id}"
            );
            let ours_errors: Vec<String> = ours_errors
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            let want_errors: Vec<String> = want_errors
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            assert_eq!(
                ours_errors.len(),
                want_errors.len(),
                "case {case}, minion {id}: {ours_errors:#?}"
            );
            for (o, w) in ours_errors.iter().zip(&want_errors) {
                assert!(
                    same_error(o, w),
                    "case {case}, minion {id}:\n ours {o:?}\n salt {w:?}"
                );
            }
        }
    }
}

#[test]
fn pillar_functions_match_salt() {
    let fx = fixtures();
    let mut n = 0;
    for (case, data) in &fx {
        let merge_lists_opt = data["opts"]["pillar_merge_lists"]
            .as_bool()
            .unwrap_or(false);
        for call in data["calls"].as_array().into_iter().flatten() {
            let id = call["minion"].as_str().unwrap_or_default();
            let pillar = obj(&data["minions"][id]["pillar"]);
            let args = call["args"].as_array().cloned().unwrap_or_default();
            let kw = obj(&call["kwargs"]);
            let text = |v: &Value| crate::py::python_str(v);
            let ours = match call["fun"].as_str().unwrap_or_default() {
                "get" => {
                    let key = text(&args[0]);
                    let default = kw
                        .get("default")
                        .or(args.get(1))
                        .cloned()
                        .unwrap_or(json!(""));
                    let merge = kw.get("merge").is_some_and(crate::py::truthy);
                    let merge_lists = match kw.get("merge_nested_lists") {
                        Some(Value::Bool(b)) => *b,
                        _ => merge_lists_opt,
                    };
                    let delimiter = kw.get("delimiter").and_then(Value::as_str).unwrap_or(":");
                    get::get(&pillar, &key, &default, merge, merge_lists, delimiter)
                }
                "item" => {
                    let keys: Vec<String> = args.iter().map(text).collect();
                    let default = match kw.get("default") {
                        None | Some(Value::Null) => json!(""),
                        Some(d) => d.clone(),
                    };
                    let delimiter = kw.get("delimiter").and_then(Value::as_str).unwrap_or(":");
                    Value::Object(get::item(&pillar, &keys, &default, delimiter))
                }
                "raw" => get::raw(&pillar, args.first().and_then(Value::as_str)),
                other => panic!("unknown call {other}"),
            };
            assert_eq!(
                serde_json::to_string(&ours).unwrap_or_default(),
                serde_json::to_string(&call["ret"]).unwrap_or_default(),
                "case {case}: {call}"
            );
            n += 1;
        }
    }
    assert!(n >= 30, "only {n} calls");
}

#[test]
fn errors_refuse_a_state_run_with_salts_list() {
    let mut p = Map::new();
    assert_eq!(render_errors(&p), None);
    p.insert(ERRORS_KEY.into(), json!([]));
    assert_eq!(render_errors(&p), None);
    p.insert(ERRORS_KEY.into(), json!(["one", "two"]));
    assert_eq!(
        render_errors(&p),
        Some(vec![RENDER_FAILED.to_string(), "one".into(), "two".into()])
    );
}

#[test]
fn compile_returns_the_error_list_or_the_pillar() {
    let grains = obj(&json!({"os": "Debian"}));
    let errs = compile(&roots_of("errors"), "m1", &grains, None, &Map::new());
    let errs = errs.err().unwrap_or_default();
    assert_eq!(errs[0], RENDER_FAILED);
    assert_eq!(
        errs[1],
        "Rendering SLS 'badyaml' failed. Please see master log for details."
    );
    let ok = compile(
        &roots_of("pillarenv"),
        "m1",
        &Map::new(),
        Some("dev"),
        &Map::new(),
    );
    assert_eq!(ok, Ok(obj(&json!({"d2": "from-dev2"}))));
}

#[test]
fn override_starts_and_ends_the_merge() {
    let grains = Map::new();
    let over = obj(&json!({"d2": {"x": 1}, "new": [1]}));
    let opts = Map::new();
    let req = Request {
        id: "m1",
        grains: &grains,
        pillarenv: Some("dev"),
        opts: &opts,
        pillar_override: &over,
    };
    // The override is the start (so `new` comes first) and is merged again last (so it wins).
    assert_eq!(
        serde_json::to_string(&compile_pillar(&roots_of("pillarenv"), &req)).unwrap_or_default(),
        r#"{"d2":{"x":1},"new":[1]}"#
    );
}
