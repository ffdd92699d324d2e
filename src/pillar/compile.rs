//! One pillar compile for one minion: the top files gathered and matched, each SLS rendered
//! with its includes, everything merged, the errors collected (Salt's `get_tops`,
//! `render_pstate`, `render_pillar`, `ext_pillar` and `compile_pillar`).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

use super::merge::{merge, Strategy};
use super::top::Top;
use super::{PillarError, PillarRoots, Request, ERRORS_KEY};
use crate::matcher::fnmatch;
use crate::py::truthy;
use crate::states::render::{
    render_sls, RenderCtx, RenderError, SlsFile, DEFAULT_FUEL, DEFAULT_MAX_OUTPUT,
};
use crate::yaml::{Entry, YamlError};

/// Largest SLS or top file read; pillar files are small, this guards the master's memory.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// The options a compile reads, decoded once.
struct Settings {
    strategy: Strategy,
    /// `pillar_source_merging_strategy: none`: only the saltenv's (or base's) top file.
    strategy_none: bool,
    merge_lists: bool,
    includes_override: bool,
    safe_errors: bool,
    env_order: Vec<String>,
    /// `state_top` as a path relative to an environment's root.
    top_file: String,
    pillarenv: Option<String>,
    saltenv: Option<String>,
    nodegroups: Value,
}

impl Settings {
    fn new(opts: &Map<String, Value>, pillarenv: Option<&str>) -> Settings {
        let text = |k: &str| opts.get(k).and_then(Value::as_str).map(str::to_owned);
        let flag = |k: &str, d: bool| opts.get(k).map_or(d, truthy);
        let strategy_name =
            text("pillar_source_merging_strategy").unwrap_or_else(|| "smart".into());
        let renderer = text("renderer").unwrap_or_else(|| "jinja|yaml".into());
        let top = text("state_top").unwrap_or_else(|| "top.sls".into());
        let top = top
            .strip_prefix("salt://")
            .unwrap_or(&top)
            .trim_start_matches('/')
            .to_string();
        Settings {
            strategy: Strategy::from_opts(&strategy_name, &renderer),
            strategy_none: strategy_name == "none",
            merge_lists: flag("pillar_merge_lists", false),
            includes_override: flag("pillar_includes_override_sls", false),
            safe_errors: flag("pillar_safe_render_error", true),
            env_order: match opts.get("env_order") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            },
            top_file: if top.is_empty() {
                "top.sls".into()
            } else {
                top
            },
            pillarenv: pillarenv
                .map(str::to_owned)
                .or_else(|| text("pillarenv"))
                .filter(|e| !e.is_empty()),
            saltenv: text("saltenv").filter(|e| !e.is_empty()),
            nodegroups: opts.get("nodegroups").cloned().unwrap_or(Value::Null),
        }
    }
}

/// The state of one compile.
pub(super) struct Compiler<'a> {
    roots: &'a PillarRoots,
    req: &'a Request<'a>,
    settings: Settings,
    /// `opts` in templates: the options with the minion's id and grains.
    opts: Map<String, Value>,
    /// `pillar` in templates: the options' `pillar`, as Salt's renderers get it (empty on a
    /// master), not what is compiled so far.
    pillar: Map<String, Value>,
    /// Salt's `avail`: the SLS names of every known environment.
    avail: Vec<(String, Vec<String>)>,
    top: Top,
    errors: Vec<String>,
}

/// What a rendered SLS was, for the includes that name it again (Salt's `mods`).
type Mods = HashMap<String, Option<Value>>;

impl<'a> Compiler<'a> {
    pub(super) fn new(roots: &'a PillarRoots, req: &'a Request<'a>) -> Compiler<'a> {
        let settings = Settings::new(req.opts, req.pillarenv);
        let mut opts = req.opts.clone();
        opts.insert("id".into(), Value::String(req.id.to_string()));
        opts.insert("grains".into(), Value::Object(req.grains.clone()));
        if let Some(env) = &settings.pillarenv {
            opts.insert("pillarenv".into(), Value::String(env.clone()));
        }
        let pillar = match req.opts.get("pillar") {
            Some(Value::Object(p)) => p.clone(),
            _ => Map::new(),
        };
        let avail = roots
            .envs()
            .into_iter()
            .map(|e| (e.to_string(), roots.list_sls(e)))
            .collect();
        Compiler {
            roots,
            req,
            settings,
            opts,
            pillar,
            avail,
            top: Top::default(),
            errors: Vec::new(),
        }
    }

    /// The whole compile.
    pub(super) fn run(mut self) -> Map<String, Value> {
        let top_errors = self.read_top();
        let matches = self.top.matches(
            self.req.id,
            self.req.grains,
            &self.settings.nodegroups,
            self.settings.pillarenv.as_deref(),
        );
        let mut pillar = self.render_pillar(&matches);
        pillar = self.ext_pillar(pillar);
        for e in top_errors {
            self.push(e);
        }
        if truthy(self.req.opts.get("pillar_opts").unwrap_or(&Value::Null)) {
            let mut master = self.req.opts.clone();
            master.remove("grains");
            master.insert(
                "saltversion".into(),
                Value::String(env!("CARGO_PKG_VERSION").into()),
            );
            pillar.insert("master".into(), Value::Object(master));
        }
        if !self.errors.is_empty() {
            let errors = std::mem::take(&mut self.errors);
            pillar.insert(
                ERRORS_KEY.into(),
                Value::Array(errors.into_iter().map(Value::String).collect()),
            );
        }
        if !self.req.pillar_override.is_empty() {
            pillar = self.merge(&pillar, self.req.pillar_override);
        }
        pillar
    }

    fn merge(&self, a: &Map<String, Value>, b: &Map<String, Value>) -> Map<String, Value> {
        merge(a, b, self.settings.strategy, self.settings.merge_lists)
    }

    fn push(&mut self, e: PillarError) {
        let text = e.to_string();
        log::error!("Pillar render error for {}: {text}", self.req.id);
        self.errors.push(text);
    }

    /// Renders one file (`rel` under its root) with the state system's renderer; an
    /// include's `defaults` are template variables too. An empty or all-whitespace file is no
    /// data, before any rendering, as in Salt. A document that is not a map comes back as a
    /// string naming what it is, which callers only test for not being a map.
    fn render(
        &self,
        path: &Path,
        rel: &str,
        env: &str,
        sls: &str,
        defaults: &Map<String, Value>,
    ) -> Result<Option<Value>, String> {
        let text = read(path)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let ctx = RenderCtx {
            id: self.req.id,
            grains: self.req.grains,
            pillar: &self.pillar,
            opts: &self.opts,
            saltenv: env,
            fuel: DEFAULT_FUEL,
            max_output: DEFAULT_MAX_OUTPUT,
        };
        let file = SlsFile { sls, rel, path };
        let entries = if defaults.is_empty() {
            render_sls(file, &text, &ctx)
        } else {
            with_defaults(file, &text, defaults, &ctx)
        };
        match entries {
            Ok(entries) if entries.is_empty() => Ok(Some(Value::Object(Map::new()))),
            Ok(entries) => Ok(Some(Value::Object(
                entries.into_iter().map(|e| (e.key, e.value)).collect(),
            ))),
            Err(RenderError::Yaml(YamlError::NotAMap { found, .. })) => {
                Ok(Some(Value::String(found.to_string())))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Salt's `get_tops` and `merge_tops`: the top table, and the errors found on the way
    /// (reported after the SLS errors, as Salt does).
    fn read_top(&mut self) -> Vec<PillarError> {
        let mut errors = Vec::new();
        let envs: Vec<String> = match &self.settings.pillarenv {
            Some(env) if self.roots.contains(env) => vec![env.clone()],
            Some(env) => {
                log::debug!("pillarenv '{env}' not found in the configured pillar environments");
                Vec::new()
            }
            None if self.settings.strategy_none => {
                let only = self
                    .settings
                    .saltenv
                    .clone()
                    .unwrap_or_else(|| "base".into());
                self.roots
                    .envs()
                    .into_iter()
                    .filter(|e| *e == only)
                    .map(str::to_owned)
                    .collect()
            }
            None => self.roots.envs().into_iter().map(str::to_owned).collect(),
        };
        let none = Map::new();
        let mut tops: Vec<(String, Vec<Map<String, Value>>)> = Vec::new();
        for env in &envs {
            let Some(path) = self.roots.find(env, &self.settings.top_file) else {
                continue;
            };
            let rel = self.settings.top_file.clone();
            match self.render(&path, &rel, env, "", &none) {
                Ok(Some(Value::Object(t))) => tops.push((env.clone(), vec![t])),
                Ok(None) => tops.push((env.clone(), vec![Map::new()])),
                Ok(Some(_)) => {
                    errors.push(PillarError::MalformedTop);
                    return errors;
                }
                Err(message) => {
                    log::error!("pillar top file {}: {message}", path.display());
                    // Salt's try covers the whole loop: the first failure ends the gathering.
                    errors.push(PillarError::PrimaryTop { message });
                    break;
                }
            }
        }
        // One level of `include` in top files, each included top once per environment.
        for (env, ctops) in &mut tops {
            let includes: Vec<String> = ctops
                .iter_mut()
                .filter_map(|t| t.remove("include"))
                .flat_map(|inc| match inc {
                    Value::Array(a) => a
                        .into_iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            let mut done: Vec<String> = Vec::new();
            for sls in includes {
                if done.contains(&sls) {
                    continue;
                }
                done.push(sls.clone());
                let Some((path, rel)) = self.roots.find_sls(env, &sls) else {
                    log::error!(
                        "pillar top file {sls} included in environment '{env}' does not exist"
                    );
                    continue;
                };
                match self.render(&path, &rel, env, &sls, &none) {
                    Ok(Some(Value::Object(t))) => ctops.push(t),
                    Ok(None) => {}
                    Ok(Some(_)) => {
                        errors.push(PillarError::MalformedTop);
                        return errors;
                    }
                    Err(message) => errors.push(PillarError::IncludedTop { sls, message }),
                }
            }
        }
        let all: Vec<Map<String, Value>> = tops.into_iter().flat_map(|(_, t)| t).collect();
        match Top::merge(&all) {
            Ok(top) => self.top = top,
            Err(_) => errors.push(PillarError::MalformedTop),
        }
        errors
    }

    /// The SLS names of `env` matching the glob `pattern`, or `None` when the environment is
    /// unknown.
    fn avail(&self, env: &str, pattern: &str) -> Option<Vec<String>> {
        let names = &self.avail.iter().find(|(e, _)| e == env)?.1;
        Some(
            names
                .iter()
                .filter(|n| fnmatch(n, pattern))
                .cloned()
                .collect(),
        )
    }

    /// Salt's `render_pillar`: every matched SLS, environment by environment (`env_order`
    /// first), merged over the override.
    fn render_pillar(&mut self, matches: &[(String, Vec<String>)]) -> Map<String, Value> {
        let mut pillar = self.req.pillar_override.clone();
        let mut ordered: Vec<&(String, Vec<String>)> = Vec::new();
        for env in &self.settings.env_order {
            ordered.extend(matches.iter().filter(|(e, _)| e == env));
        }
        ordered.extend(
            matches
                .iter()
                .filter(|(e, _)| !self.settings.env_order.contains(e)),
        );
        for (env, pstates) in ordered {
            let mut files = Vec::new();
            for sls_match in pstates {
                match self.avail(env, sls_match) {
                    Some(found) if !found.is_empty() => files.extend(found),
                    Some(_) => files.push(sls_match.clone()),
                    None => {
                        self.push(PillarError::NoEnv { env: env.clone() });
                        files.push(sls_match.clone());
                    }
                }
            }
            let mut mods = Mods::new();
            for sls in files {
                match self.render_pstate(&sls, env, &mut mods, &Map::new()) {
                    Some(Value::Object(state)) => pillar = self.merge(&pillar, &state),
                    Some(_) => {
                        log::error!("The rendered pillar sls file '{sls}' is not a map; skipped")
                    }
                    None => {}
                }
            }
        }
        pillar
    }

    /// Salt's `render_pstate`: one SLS rendered, its includes rendered and merged under it.
    fn render_pstate(
        &mut self,
        sls: &str,
        env: &str,
        mods: &mut Mods,
        defaults: &Map<String, Value>,
    ) -> Option<Value> {
        let Some((path, rel)) = self.roots.find_sls(env, sls) else {
            if self.top.ignores(env, sls) {
                log::debug!("Skipping ignored and missing SLS '{sls}' in environment '{env}'");
            } else if !self.roots.dirs(env).is_empty() {
                self.push(PillarError::NotAvailable {
                    sls: sls.to_string(),
                    env: env.to_string(),
                });
            } else {
                log::debug!("Specified SLS '{sls}' in environment '{env}' was not found");
            }
            return None;
        };
        // Relative includes resolve from an init.sls's own name, else from its parent's.
        let is_init = rel == "init.sls" || rel.ends_with("/init.sls");
        let mut state = match self.render(&path, &rel, env, sls, defaults) {
            Ok(v) => v,
            Err(message) => {
                log::error!(
                    "Rendering SLS '{sls}' failed ({}): {message}",
                    path.display()
                );
                self.push(PillarError::Render {
                    sls: sls.to_string(),
                    message,
                    safe: self.settings.safe_errors,
                });
                None
            }
        };
        let include = match &mut state {
            Some(Value::Object(m)) if matches!(m.get("include"), Some(Value::Array(_))) => {
                m.remove("include")
            }
            _ => None,
        };
        mods.insert(sls.to_string(), state.clone());
        match &state {
            Some(v) if truthy(v) && !v.is_object() => {
                self.push(PillarError::NotADict {
                    sls: sls.to_string(),
                });
                return state;
            }
            Some(Value::Object(m)) if m.get("include").is_some() => {
                self.push(PillarError::IncludeNotList {
                    sls: sls.to_string(),
                });
                return state;
            }
            _ => {}
        }
        let Some(Value::Array(includes)) = include else {
            return state;
        };
        let mut own = match state {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut include_states: Vec<Map<String, Value>> = Vec::new();
        // Salt reassigns its `defaults` parameter on a `defaults:` include, so later plain
        // includes of the same file inherit it.
        let mut defaults = defaults.clone();
        for sub in includes {
            let (mut sub_sls, key) = match sub {
                Value::String(s) => (s, None),
                Value::Object(m) => {
                    let Some((name, v)) = m.into_iter().next() else {
                        continue;
                    };
                    defaults = match v.get("defaults") {
                        Some(Value::Object(d)) => d.clone(),
                        _ => Map::new(),
                    };
                    (
                        name,
                        v.get("key").and_then(Value::as_str).map(str::to_owned),
                    )
                }
                other => {
                    log::error!("pillar SLS '{sls}': an include that is not a name: {other}");
                    continue;
                }
            };
            let plain = sub_sls.trim_start_matches('.').replace('/', ".");
            let mut matched = match self.avail(env, &plain) {
                Some(mut found) => {
                    if let Some(rest) = sub_sls.strip_prefix('.') {
                        let mut parts: Vec<&str> = sls.split('.').collect();
                        if !is_init {
                            parts.pop();
                        }
                        parts.push(rest);
                        sub_sls = parts.join(".");
                    }
                    found.extend(self.avail(env, &sub_sls).unwrap_or_default());
                    found
                }
                None => {
                    self.push(PillarError::NoEnv {
                        env: env.to_string(),
                    });
                    vec![sub_sls.clone()]
                }
            };
            if matched.is_empty() {
                matched.push(sub_sls.clone());
            }
            for m in matched {
                let nstate = match mods.get(&m) {
                    Some(done) => done.clone(),
                    None => self.render_pstate(&m, env, mods, &defaults),
                };
                let Some(mut nstate) = nstate.filter(truthy) else {
                    continue;
                };
                if let Some(key) = &key {
                    for fragment in key.rsplit(':') {
                        let mut wrap = Map::new();
                        wrap.insert(fragment.to_string(), nstate);
                        nstate = Value::Object(wrap);
                    }
                }
                let Value::Object(nstate) = nstate else {
                    log::error!("pillar SLS '{m}' included by '{sls}' is not a map; skipped");
                    continue;
                };
                if self.settings.includes_override {
                    own = self.merge(&own, &nstate);
                } else {
                    include_states.push(nstate);
                }
            }
        }
        if !self.settings.includes_override {
            // The including file is merged last, so its own values win.
            include_states.push(own);
            let mut merged = Map::new();
            for (i, s) in include_states.into_iter().enumerate() {
                merged = if i == 0 { s } else { self.merge(&merged, &s) };
            }
            own = merged;
        }
        Some(Value::Object(own))
    }

    /// Salt's `ext_pillar` step: the override merged in again, and each configured module
    /// skipped, as brine has none.
    fn ext_pillar(&mut self, pillar: Map<String, Value>) -> Map<String, Value> {
        let Some(ext) = self.req.opts.get("ext_pillar") else {
            return pillar;
        };
        let Value::Array(runs) = ext else {
            self.push(PillarError::MalformedExtPillar);
            return pillar;
        };
        let mut pillar = pillar;
        if !self.req.pillar_override.is_empty() {
            pillar = self.merge(&pillar, self.req.pillar_override);
        }
        for run in runs {
            let Value::Object(run) = run else {
                self.push(PillarError::MalformedExtPillar);
                return Map::new();
            };
            for key in run.keys() {
                log::error!("Specified ext_pillar interface {key} is unavailable");
            }
        }
        pillar
    }
}

/// Renders an included SLS with its `defaults:` as template variables beside the file
/// variables Salt gives an SLS.
fn with_defaults(
    file: SlsFile<'_>,
    text: &str,
    defaults: &Map<String, Value>,
    ctx: &RenderCtx<'_>,
) -> Result<Vec<Entry>, RenderError> {
    crate::states::render::render_sls_with(file, text, defaults, ctx)
}

/// The text of a pillar file, bounded; the error names the file.
fn read(path: &Path) -> Result<String, String> {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{}: larger than {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| format!("{}: not UTF-8 ({e})", path.display()))
}
