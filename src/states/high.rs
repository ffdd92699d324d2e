//! Building high data from SLS files, as Salt 3007's `HighState.render_highstate` and
//! `render_state` do: each file rendered (Jinja, then YAML), its `include` resolved (relative
//! `.x` forms too) and merged after it, `extend` and `exclude` collected, short `state.fun`
//! keys padded, `__sls__`/`__env__` added, and `order` numbered in render order.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::render::{render_sls, RenderCtx, RenderError, SlsFile};
use crate::fileserver::Source;
use crate::matcher::fnmatch;
use crate::yaml::YamlError;

/// The first automatic `order`, as Salt's `iorder` starts.
pub const FIRST_AUTO_ORDER: i64 = 10_000;

/// High data and what building it saw.
#[derive(Debug, Default)]
pub struct Rendered {
    /// `{ID: {state: [args..], __sls__, __env__}}` plus `__extend__` and `__exclude__`.
    pub high: Map<String, Value>,
    /// Salt's compile errors, one string each.
    pub errors: Vec<String>,
    /// Every SLS rendered, even empty ones (an `sls` requisite on an empty file is met).
    pub processed: BTreeSet<String>,
}

/// Renders SLS files of one run into high data.
pub struct Builder<'a> {
    files: &'a mut dyn Source,
    ctx: RenderCtx<'a>,
    auto_order: bool,
    iorder: i64,
    mods: BTreeSet<String>,
    avail: BTreeMap<String, Vec<String>>,
    processed: BTreeSet<String>,
}

/// The SLS names a file list holds: `a/b.sls` is `a.b`, `a/init.sls` is `a`.
pub fn sls_names(files: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let Some(stem) = f.strip_suffix(".sls") else {
            continue;
        };
        let name = match stem.strip_suffix("/init") {
            Some(dir) => dir.to_string(),
            None if stem == "init" => continue,
            None => stem.to_string(),
        };
        let name = name.replace('/', ".");
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out.sort();
    out
}

impl<'a> Builder<'a> {
    /// A builder reading files from `files`, rendering with `ctx` (its saltenv is replaced
    /// per file).
    pub fn new(files: &'a mut dyn Source, ctx: RenderCtx<'a>, auto_order: bool) -> Builder<'a> {
        Builder {
            files,
            ctx,
            auto_order,
            iorder: FIRST_AUTO_ORDER,
            mods: BTreeSet::new(),
            avail: BTreeMap::new(),
            processed: BTreeSet::new(),
        }
    }

    /// The SLS names of a saltenv, listed once per run; an unknown saltenv has none.
    fn avail(&mut self, env: &str) -> &[String] {
        if !self.avail.contains_key(env) {
            let names = match self.files.list(env) {
                Ok(files) => sls_names(&files),
                Err(e) => {
                    log::debug!("listing saltenv {env}: {e}");
                    Vec::new()
                }
            };
            self.avail.insert(env.to_string(), names);
        }
        self.avail.get(env).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Salt's `render_highstate`: every SLS of `matches` (`[(saltenv, [sls or glob])]`).
    pub fn render_highstate(mut self, matches: &[(String, Vec<String>)]) -> Rendered {
        let mut high = Map::new();
        let mut all_errors = Vec::new();
        for (saltenv, states) in matches {
            for sls_match in states {
                let mut statefiles: Vec<String> = self
                    .avail(saltenv)
                    .iter()
                    .filter(|s| fnmatch(s, sls_match))
                    .cloned()
                    .collect();
                if statefiles.is_empty() {
                    statefiles.push(sls_match.clone());
                }
                for sls in statefiles {
                    if self.mods.contains(&format!("{saltenv}:{sls}")) {
                        continue;
                    }
                    let (state, mut errors) = self.render_state(&sls, saltenv, matches);
                    if let Some(state) = state {
                        merge_included(&mut high, state, &mut errors);
                    }
                    let this = format!("SLS {sls_match} in saltenv");
                    for e in errors.iter_mut() {
                        if e.contains("is not available") && e.contains(&this) {
                            *e = format!(
                                "No matching sls found for '{sls_match}' in env '{saltenv}'"
                            );
                        }
                    }
                    all_errors.extend(errors);
                }
            }
        }
        dedup_extends(&mut high);
        Rendered {
            high,
            errors: all_errors,
            processed: self.processed,
        }
    }

    /// Finds `sls` in `saltenv`: `a/b.sls`, then `a/b/init.sls`; the path under the root and
    /// the local file.
    fn locate(&mut self, sls: &str, saltenv: &str) -> Option<(String, std::path::PathBuf)> {
        let base = sls.replace('.', "/");
        for rel in [format!("{base}.sls"), format!("{base}/init.sls")] {
            match self.files.get(saltenv, &rel) {
                Ok(Some(path)) => return Some((rel, path)),
                Ok(None) => {}
                Err(e) => {
                    log::warn!("fetching salt://{rel} of saltenv {saltenv}: {e}");
                }
            }
        }
        None
    }

    /// Salt's `render_state`: one file and, recursively, its includes. `None` is an empty
    /// (or unusable) file.
    fn render_state(
        &mut self,
        sls: &str,
        saltenv: &str,
        matches: &[(String, Vec<String>)],
    ) -> (Option<Map<String, Value>>, Vec<String>) {
        let mut errors = Vec::new();
        let Some((rel, path)) = self.locate(sls, saltenv) else {
            errors.push(format!(
                "Specified SLS {sls} in saltenv {saltenv} is not available on the salt master \
                 or through a configured fileserver"
            ));
            return (None, errors);
        };
        let text = match std::fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                errors.push(format!(
                    "Rendering SLS '{saltenv}:{sls}' failed: {}: {e}",
                    path.display()
                ));
                return (None, errors);
            }
        };
        let ctx = RenderCtx {
            saltenv,
            ..self.ctx
        };
        let file = SlsFile {
            sls,
            rel: &rel,
            path: &path,
        };
        let rendered = render_sls(file, &text, &ctx);
        self.mods.insert(format!("{saltenv}:{sls}"));
        self.processed.insert(sls.to_string());
        let entries = match rendered {
            Ok(entries) => entries,
            Err(RenderError::Yaml(YamlError::NotAMap { .. })) => {
                errors.push(format!("SLS {sls} does not render to a dictionary"));
                return (None, errors);
            }
            Err(e) => {
                errors.push(format!("Rendering SLS '{saltenv}:{sls}' failed: {e}"));
                return (None, errors);
            }
        };
        if entries.is_empty() {
            return (None, errors);
        }
        let mut state = Map::new();
        for e in entries {
            state.insert(e.key, e.value);
        }
        let mut include = Vec::new();
        if let Some(inc) = state.get("include") {
            match inc {
                Value::Array(list) => {
                    include = list.clone();
                    state.shift_remove("include");
                }
                _ => errors.push(format!(
                    "Include Declaration in SLS {sls} is not formed as a list"
                )),
            }
        }
        handle_extend(&mut state, sls, saltenv, &mut errors);
        handle_exclude(&mut state, sls, &mut errors);
        handle_state_decls(&mut state, sls, saltenv, &mut errors);
        for inc in include {
            self.include(&mut state, inc, sls, &rel, saltenv, matches, &mut errors);
        }
        if self.auto_order {
            self.handle_iorder(&mut state);
        }
        (Some(state), errors)
    }

    /// One `include` entry: `sls`, `{saltenv: sls}`, or a relative `.sls`/`..sls`.
    #[allow(clippy::too_many_arguments)]
    fn include(
        &mut self,
        state: &mut Map<String, Value>,
        inc: Value,
        sls: &str,
        rel: &str,
        saltenv: &str,
        matches: &[(String, Vec<String>)],
        errors: &mut Vec<String>,
    ) {
        let (env_key, mut inc_sls) = match inc {
            Value::String(s) => (saltenv.to_string(), s),
            Value::Object(m) if m.len() == 1 => {
                let Some((k, v)) = m.into_iter().next() else {
                    return;
                };
                (k, crate::py::python_str(&v))
            }
            other => (saltenv.to_string(), crate::py::python_str(&other)),
        };
        let known_env = env_key == saltenv || !self.avail(&env_key).is_empty();
        if !known_env && env_key != "_xenv" {
            errors.push(format!(
                "Nonexistent saltenv '{env_key}' found in include of '{inc_sls}' within SLS \
                 '{saltenv}:{sls}'"
            ));
            return;
        }
        if inc_sls.starts_with('.') {
            let levels = inc_sls.chars().take_while(|c| *c == '.').count();
            let rest = &inc_sls[levels..];
            let mut comps: Vec<&str> = sls.split('.').collect();
            if rel.ends_with("/init.sls") {
                comps.push("init");
            }
            if levels > comps.len() {
                errors.push(format!(
                    "Attempted relative include of '{inc_sls}' within SLS '{saltenv}:{sls}' goes \
                     beyond top level package "
                ));
                return;
            }
            let mut parts: Vec<String> = comps[..comps.len() - levels]
                .iter()
                .map(|s| s.to_string())
                .collect();
            parts.push(rest.to_string());
            inc_sls = parts.join(".");
        }
        let in_matches = |env: &str| matches.iter().any(|(e, _)| e == env);
        let resolved: Vec<String> = if env_key != "_xenv" {
            let listed = self.avail(&env_key).iter().any(|s| fnmatch(s, &inc_sls));
            if in_matches(&env_key) || listed {
                vec![env_key.clone()]
            } else {
                Vec::new()
            }
        } else {
            let envs: Vec<String> = matches.iter().map(|(e, _)| e.clone()).collect();
            envs.into_iter()
                .filter(|e| self.avail(e).iter().any(|s| fnmatch(s, &inc_sls)))
                .collect()
        };
        if resolved.len() == 1 || resolved.iter().any(|e| e == saltenv) {
            let r_env = if resolved.len() == 1 {
                resolved[0].clone()
            } else {
                saltenv.to_string()
            };
            let mut targets: Vec<String> = self
                .avail(saltenv)
                .iter()
                .filter(|s| fnmatch(s, &inc_sls))
                .cloned()
                .collect();
            if targets.is_empty() {
                targets.push(inc_sls.clone());
            }
            for target in targets {
                if self.mods.contains(&format!("{r_env}:{target}")) {
                    continue;
                }
                let (nstate, err) = self.render_state(&target, &r_env, matches);
                if let Some(mut nstate) = nstate {
                    for (id, body) in nstate.iter_mut() {
                        if id.starts_with("__") {
                            continue;
                        }
                        if let Value::Object(body) = body {
                            let from = body
                                .entry("__sls_included_from__")
                                .or_insert_with(|| Value::Array(Vec::new()));
                            if let Value::Array(list) = from {
                                list.push(sls.into());
                            }
                        }
                    }
                    merge_included(state, nstate, errors);
                }
                errors.extend(err);
            }
        } else if resolved.is_empty() {
            let envs = if env_key == "_xenv" {
                matches
                    .iter()
                    .map(|(e, _)| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                env_key.clone()
            };
            errors.push(format!(
                "Unknown include: Specified SLS {env_key}: {inc_sls} is not available on the \
                 salt master in saltenv(s): {envs} "
            ));
        } else {
            errors.push(format!(
                "Ambiguous include: Specified SLS {env_key}: {inc_sls} is available on the salt \
                 master in multiple available saltenvs: {}",
                resolved.join(", ")
            ));
        }
    }

    /// Salt's `_handle_iorder`: each declaration without `order` gets the next number.
    fn handle_iorder(&mut self, state: &mut Map<String, Value>) {
        for (_, body) in state.iter_mut() {
            let Value::Object(body) = body else {
                continue;
            };
            for (decl, args) in body.iter_mut() {
                if decl.starts_with('_') {
                    continue;
                }
                let Value::Array(args) = args else {
                    continue;
                };
                let has = args.iter().any(|a| {
                    a.as_object()
                        .and_then(|m| m.keys().next())
                        .is_some_and(|k| k == "order")
                });
                if !has {
                    let mut m = Map::new();
                    m.insert("order".into(), self.iorder.into());
                    args.push(Value::Object(m));
                    self.iorder += 1;
                }
            }
        }
    }
}

/// Salt's `merge_included_states`: `__extend__`/`__exclude__` appended, IDs merged (a later
/// file's ID replaces an earlier one in place; a different body is a conflict error).
pub fn merge_included(
    high: &mut Map<String, Value>,
    mut state: Map<String, Value>,
    errors: &mut Vec<String>,
) {
    for key in ["__extend__", "__exclude__"] {
        if let Some(Value::Array(add)) = state.shift_remove(key) {
            if let Value::Array(list) = high.entry(key).or_insert_with(|| Value::Array(Vec::new()))
            {
                list.extend(add);
            }
        }
    }
    for (id, body) in &state {
        if let Some(old) = high.get(id) {
            if old != body {
                let field = |v: &Value, k: &str| {
                    v.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or("None")
                        .to_string()
                };
                errors.push(format!(
                    "Detected conflicting IDs, SLS IDs need to be globally unique.\n    The \
                     conflicting ID is '{id}' and is found in SLS '{}:{}' and SLS '{}:{}'",
                    field(old, "__env__"),
                    field(old, "__sls__"),
                    field(body, "__env__"),
                    field(body, "__sls__"),
                ));
            }
        }
    }
    for (id, body) in state {
        high.insert(id, body);
    }
}

/// Salt's `clean_duplicate_extends`: one copy of each identical extend entry.
fn dedup_extends(high: &mut Map<String, Value>) {
    let Some(Value::Array(exts)) = high.get_mut("__extend__") else {
        return;
    };
    let mut seen: Vec<(String, Value)> = Vec::new();
    for ext in exts.iter() {
        if let Value::Object(m) = ext {
            for (k, v) in m {
                let item = (k.clone(), v.clone());
                if !seen.contains(&item) {
                    seen.push(item);
                }
            }
        }
    }
    *exts = seen
        .into_iter()
        .map(|(k, v)| {
            let mut m = Map::new();
            m.insert(k, v);
            Value::Object(m)
        })
        .collect();
}

/// Moves `state.fun` keys to `state: [..., fun]`; returns false for a second declaration of
/// one state module.
fn pad_decls(body: &mut Map<String, Value>) -> bool {
    let mut ok = true;
    let mut seen = BTreeSet::new();
    let keys: Vec<String> = body.keys().cloned().collect();
    for key in keys {
        if key.starts_with('_') || !body.get(&key).is_some_and(Value::is_array) {
            continue;
        }
        match key.split_once('.') {
            Some((state, fun)) => {
                if seen.contains(state) {
                    ok = false;
                    continue;
                }
                // Salt pops the key and re-inserts it under the module name: it moves to
                // the end of the body.
                if let Some(Value::Array(mut args)) = body.shift_remove(&key) {
                    args.push(Value::String(fun.to_string()));
                    body.insert(state.to_string(), Value::Array(args));
                }
                seen.insert(state.to_string());
            }
            None => {
                seen.insert(key);
            }
        }
    }
    ok
}

/// Salt's `_handle_extend`: `extend:` moves to `__extend__`, padded and marked with its file.
fn handle_extend(
    state: &mut Map<String, Value>,
    sls: &str,
    saltenv: &str,
    errors: &mut Vec<String>,
) {
    let Some(ext) = state.shift_remove("extend") else {
        return;
    };
    let Value::Object(mut ext) = ext else {
        errors.push(format!(
            "Extension value in SLS '{sls}' is not a dictionary"
        ));
        return;
    };
    for (name, body) in ext.iter_mut() {
        let Value::Object(body) = body else {
            errors.push(format!(
                "Extension name '{name}' in SLS '{sls}' is not a dictionary"
            ));
            continue;
        };
        body.entry("__sls__").or_insert_with(|| sls.into());
        body.entry("__env__").or_insert_with(|| saltenv.into());
        pad_decls(body);
    }
    if let Value::Array(list) = state
        .entry("__extend__")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        list.push(Value::Object(ext));
    }
}

/// Salt's `_handle_exclude`: `exclude:` moves to `__exclude__`.
fn handle_exclude(state: &mut Map<String, Value>, sls: &str, errors: &mut Vec<String>) {
    let Some(exc) = state.shift_remove("exclude") else {
        return;
    };
    let items = match exc {
        Value::Array(a) => a,
        other => {
            errors.push(format!(
                "Exclude Declaration in SLS {sls} is not formed as a list"
            ));
            vec![other]
        }
    };
    if let Value::Array(list) = state
        .entry("__exclude__")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        list.extend(items);
    }
}

/// Salt's `_handle_state_decls`: short `ID: state.fun` forms padded, `state.fun:` keys split,
/// `__sls__`/`__env__` added.
fn handle_state_decls(
    state: &mut Map<String, Value>,
    sls: &str,
    saltenv: &str,
    errors: &mut Vec<String>,
) {
    for (name, body) in state.iter_mut() {
        if name == "__extend__" || name == "__exclude__" {
            continue;
        }
        if let Value::String(short) = body {
            if let Some((st, fun)) = short.split_once('.') {
                let fun = fun.split('.').next().unwrap_or(fun).to_string();
                let mut m = Map::new();
                m.insert("__sls__".into(), sls.into());
                m.insert("__env__".into(), saltenv.into());
                m.insert(st.to_string(), Value::Array(vec![Value::String(fun)]));
                *body = Value::Object(m);
                continue;
            }
        }
        let Value::Object(body) = body else {
            errors.push(format!("ID {name} in SLS {sls} is not a dictionary"));
            continue;
        };
        if !pad_decls(body) {
            errors.push(format!(
                "ID '{name}' in SLS '{sls}' contains multiple state declarations of the same type"
            ));
        }
        body.entry("__sls__").or_insert_with(|| sls.into());
        body.entry("__env__").or_insert_with(|| saltenv.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sls_names_come_from_paths_and_init_files() {
        let files: Vec<String> = ["a.sls", "web/init.sls", "web/nginx.sls", "top.sls", "x.txt"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(sls_names(&files), ["a", "top", "web", "web.nginx"]);
    }

    #[test]
    fn short_keys_are_padded_and_move_to_the_end() {
        let mut body: Map<String, Value> =
            serde_json::from_str(r#"{"pkg.installed": [{"name": "x"}], "__sls__": "s"}"#).unwrap();
        assert!(pad_decls(&mut body));
        assert_eq!(
            Value::Object(body),
            serde_json::json!({"__sls__": "s", "pkg": [{"name": "x"}, "installed"]})
        );
    }
}
