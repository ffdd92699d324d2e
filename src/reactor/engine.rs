//! The reactor as a daemon runs it: the configured rules (salt-spec §4.2, plus brine's
//! throttled form), the texts of the files they name (read and watched by the I/O layer,
//! handed in as [`Source`]s), throttling windows, and one call per event that matches, looks
//! the files up, renders and compiles. It never reads a file or dispatches anything itself:
//! the master (or the minion) carries out the reactions it returns.

use super::{react, Compiled, RenderEnv, RuleSet, Signatures};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Throttle windows kept before expired ones are pruned.
const MAX_WINDOWS: usize = 100_000;

/// Largest reactor SLS file read, in bytes (the I/O layer enforces it).
pub const MAX_FILE: u64 = 4 << 20;

/// How often a throttled rule may fire.
#[derive(Clone, Debug, PartialEq)]
pub struct Throttle {
    /// At most once within this window...
    pub once_within: Duration,
    /// ...per distinct value of these (`tag`, `data.id`, `data.data.x`); empty: per rule.
    pub group_by: Vec<String>,
}

/// One configured rule: a tag glob and the SLS files it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The tag glob (Python fnmatch).
    pub tag: String,
    /// SLS paths, file globs allowed.
    pub sls: Vec<String>,
    /// brine's throttle, if any.
    pub throttle: Option<Throttle>,
    /// Events this rule suppressed (throttled).
    pub suppressed: u64,
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

fn throttle(v: &Value) -> Result<Throttle, String> {
    let m = v
        .as_object()
        .ok_or("throttle must be a map with once_within and group_by")?;
    let secs = match m.get("once_within") {
        Some(Value::Number(n)) => n.as_f64().filter(|f| f.is_finite() && *f > 0.0),
        _ => None,
    }
    .ok_or("throttle needs once_within, a positive number of seconds")?;
    let group_by = match m.get("group_by") {
        None | Some(Value::Null) => Vec::new(),
        Some(g) => strings(g).ok_or("throttle group_by must be a list of names like data.id")?,
    };
    for g in &group_by {
        if g != "tag" && !g.starts_with("data") {
            return Err(format!(
                "throttle group_by {g:?} must be tag or start with data (data.id)"
            ));
        }
    }
    for k in m.keys() {
        if k != "once_within" && k != "group_by" {
            return Err(format!("throttle has an unknown key {k}"));
        }
    }
    // Past a year a window is a mistake, and an absurd number must not overflow a deadline.
    if secs > 366.0 * 86_400.0 {
        return Err("throttle once_within is longer than a year".into());
    }
    Ok(Throttle {
        once_within: Duration::from_secs_f64(secs),
        group_by,
    })
}

/// Reads one list element: Salt's one-key map, or brine's `{tag, sls, throttle}`.
fn rule(v: &Value) -> Result<Rule, String> {
    let m = v
        .as_object()
        .ok_or("an entry must be a map from a tag glob to SLS files")?;
    if m.len() > 1 || (m.contains_key("sls") && m.contains_key("tag")) {
        let tag = m
            .get("tag")
            .and_then(Value::as_str)
            .ok_or("an entry with several keys needs tag: GLOB")?;
        let sls = m
            .get("sls")
            .and_then(strings)
            .ok_or("an entry with tag: needs sls: a path or a list of paths")?;
        for k in m.keys() {
            if !matches!(k.as_str(), "tag" | "sls" | "throttle") {
                return Err(format!("unknown key {k} (expected tag, sls, throttle)"));
            }
        }
        let throttle = m.get("throttle").map(throttle).transpose()?;
        return Ok(Rule {
            tag: tag.to_owned(),
            sls,
            throttle,
            suppressed: 0,
        });
    }
    let (tag, sls) = m.iter().next().ok_or("an empty map is not an entry")?;
    let sls = strings(sls)
        .ok_or_else(|| format!("the SLS files of {tag:?} must be a path or a list of paths"))?;
    Ok(Rule {
        tag: tag.clone(),
        sls,
        throttle: None,
        suppressed: 0,
    })
}

/// Parses a reactor map file's bytes (a YAML list), with errors naming file, line and column.
fn parse_map(path: &Path, bytes: &[u8]) -> Result<Vec<Value>, String> {
    let text = String::from_utf8_lossy(bytes);
    // The YAML loader reads maps; nest the list under one key, two columns in, one line down.
    let mut nested = String::from("reactor:\n");
    for line in text.lines() {
        nested.push_str("  ");
        nested.push_str(line);
        nested.push('\n');
    }
    match crate::yaml::parse_entries(path, nested.as_bytes()) {
        Ok(entries) => match entries.into_iter().next().map(|e| e.value) {
            Some(Value::Array(list)) => Ok(list),
            Some(Value::Null) | None => Ok(Vec::new()),
            Some(_) => Err(format!(
                "Failed to parse YAML in reactor map: \"{}\": not a list of entries",
                path.display()
            )),
        },
        Err(crate::yaml::YamlError::Syntax {
            line,
            column,
            message,
            ..
        }) => Err(format!(
            "{}:{}:{}: Failed to parse YAML in reactor map: {message}",
            path.display(),
            line.saturating_sub(1),
            column.saturating_sub(2)
        )),
        Err(e) => Err(format!(
            "Failed to parse YAML in reactor map: \"{}\": {e}",
            path.display()
        )),
    }
}

/// The file `reactor:` names when it is a path (relative to the configuration directory).
pub fn rules_file(reactor: &Value, conf_dir: &Path) -> Option<PathBuf> {
    let path = PathBuf::from(reactor.as_str()?);
    Some(if path.is_relative() {
        conf_dir.join(path)
    } else {
        path
    })
}

/// Reads `reactor:` (a list, or the path of a YAML file holding one, whose bytes `read`
/// gives: the caller does the I/O). Broken entries are reported, naming where they are, and
/// left out; the others work.
pub fn load_rules(
    reactor: &Value,
    conf_dir: &Path,
    read: impl FnOnce(&Path) -> Result<Vec<u8>, String>,
) -> (Vec<Rule>, Vec<String>) {
    let mut errors = Vec::new();
    let (list, source) = match reactor {
        Value::Null => return (Vec::new(), errors),
        Value::Array(a) => (a.clone(), format!("{} reactor", conf_dir.display())),
        Value::String(_) => {
            let p = rules_file(reactor, conf_dir).unwrap_or_default();
            let parsed = read(&p)
                .map_err(|e| format!("Failed to read reactor map: \"{}\": {e}", p.display()))
                .and_then(|bytes| parse_map(&p, &bytes));
            match parsed {
                Ok(list) => (list, p.display().to_string()),
                Err(e) => {
                    errors.push(e);
                    return (Vec::new(), errors);
                }
            }
        }
        _ => {
            errors.push(format!(
                "{}: reactor must be a list of entries or the path of a file holding one",
                conf_dir.display()
            ));
            return (Vec::new(), errors);
        }
    };
    let mut rules = Vec::new();
    for (i, v) in list.iter().enumerate() {
        match rule(v) {
            Ok(r) => rules.push(r),
            Err(e) => errors.push(format!(
                "{source}: entry {} ({}): {e}; it is ignored",
                i + 1,
                crate::py::python_str(v)
            )),
        }
    }
    (rules, errors)
}

/// What the I/O layer read for the reactor: a file's text (or why it could not), or what a
/// glob entry expands to. The loop watches the files and sends one of these when they change.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A file's text, or why it is unreadable ("not a file", "larger than ...", the OS error).
    File(PathBuf, Result<String, String>),
    /// A file no rule names any more: forget its text.
    Gone(PathBuf),
    /// The files a glob entry matches now, sorted, or why the glob is bad.
    Glob(String, Result<Vec<PathBuf>, String>),
}

/// True when an SLS entry is a file glob (the I/O layer expands it).
pub fn is_glob(sls: &str) -> bool {
    sls.contains(['*', '?', '['])
}

/// What one event led to.
#[derive(Debug, Default)]
pub struct Reacted {
    /// Indices of the rules that matched and were not throttled.
    pub rules: Vec<usize>,
    /// Indices of the rules that matched but were throttled.
    pub throttled: Vec<usize>,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// Paths that named no readable file (each an error line).
    pub missing: Vec<(String, String)>,
    /// The rendered and compiled result, when any file was read.
    pub compiled: Option<Compiled>,
    /// The files read, with their text, for rendering ([`Engine::gather`] leaves them here;
    /// [`Engine::react`] renders them at once).
    pub texts: Vec<(PathBuf, String)>,
}

/// A daemon's reactor: its rules, the texts of the files they name, and the throttle
/// windows; [`Engine::gather`] turns one event into the files to render.
pub struct Engine {
    rules: Vec<Rule>,
    set: RuleSet,
    windows: HashMap<(usize, String), Instant>,
    /// The files' texts, as the I/O layer last read them.
    files: HashMap<PathBuf, Result<String, String>>,
    /// What each glob entry expands to.
    globs: HashMap<String, Result<Vec<PathBuf>, String>>,
    /// Options, grains and environment for templates.
    pub env: RenderEnv,
    scratch: Vec<usize>,
}

fn lookup<'a>(data: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    parts.next();
    let first = parts.next()?;
    let mut v = data.get(first)?;
    for p in parts {
        v = match v {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

impl Engine {
    /// An engine for these rules.
    pub fn new(rules: Vec<Rule>, env: RenderEnv) -> Engine {
        let set = RuleSet::new(rules.iter().map(|r| r.tag.clone()).collect());
        Engine {
            rules,
            set,
            windows: HashMap::new(),
            files: HashMap::new(),
            globs: HashMap::new(),
            env,
            scratch: Vec::new(),
        }
    }

    /// Replaces the rules (a reload); throttle windows and counts start afresh.
    pub fn set_rules(&mut self, rules: Vec<Rule>) {
        self.set = RuleSet::new(rules.iter().map(|r| r.tag.clone()).collect());
        self.rules = rules;
        self.windows.clear();
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// True when no rule is configured.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// A shareable predicate for the bus: does any rule match this tag?
    pub fn matcher(&self) -> std::sync::Arc<RuleSet> {
        std::sync::Arc::new(self.set.clone())
    }

    /// True when some rule matches `tag`.
    pub fn matches(&mut self, tag: &str) -> bool {
        self.set.matches(tag, &mut self.scratch);
        !self.scratch.is_empty()
    }

    fn group_key(t: &Throttle, tag: &str, data: &Map<String, Value>) -> String {
        let parts: Vec<String> = t
            .group_by
            .iter()
            .map(|g| match g.as_str() {
                "tag" => tag.to_owned(),
                // Every event's `_stamp` differs: grouping by it would never throttle.
                "data" => Value::Object(
                    data.iter()
                        .filter(|(k, _)| k.as_str() != "_stamp")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
                .to_string(),
                path => lookup(data, path).map_or("null".to_owned(), Value::to_string),
            })
            .collect();
        parts.join("\u{1f}")
    }

    /// Every SLS entry the rules name, once each, in rule order: what the I/O layer reads
    /// and watches for the engine.
    pub fn sources(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.rules.iter().flat_map(|r| r.sls.iter()) {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }

    /// Takes what the I/O layer read (at start, after a change to the rules, or when a
    /// watched file changed).
    pub fn set_source(&mut self, source: Source) {
        match source {
            Source::File(path, text) => {
                self.files.insert(path, text);
            }
            Source::Gone(path) => {
                self.files.remove(&path);
            }
            Source::Glob(sls, paths) => {
                self.globs.insert(sls, paths);
            }
        }
    }

    /// A file's text as the I/O layer read it.
    fn read(&self, path: &Path) -> Result<String, String> {
        match self.files.get(path) {
            Some(text) => text.clone(),
            None => Err("not read yet".into()),
        }
    }

    /// The files one SLS entry names (a glob expands, sorted).
    fn expand(&self, sls: &str) -> Result<Vec<PathBuf>, String> {
        // A salt:// entry is looked up in the master's file_roots by the I/O layer, which
        // hands it over like a glob of one file.
        if sls.starts_with("salt://") {
            return match self.globs.get(sls) {
                Some(paths) => paths.clone(),
                None => Err(format!("{sls}: not looked up in file_roots yet")),
            };
        }
        if !is_glob(sls) {
            return Ok(vec![PathBuf::from(sls)]);
        }
        match self.globs.get(sls) {
            Some(paths) => paths.clone(),
            None => Ok(Vec::new()),
        }
    }

    /// Handles one event: matching rules in config order, throttles, their files read,
    /// rendered and compiled in this process. With `dry`, throttles are looked at but not
    /// updated.
    pub fn react(
        &mut self,
        tag: &str,
        data: &Map<String, Value>,
        now: Instant,
        signatures: Signatures<'_>,
        dry: bool,
    ) -> Reacted {
        let mut out = self.gather(tag, data, now, dry);
        if !out.texts.is_empty() {
            log::debug!("Compiling reactions for tag {tag}");
            out.compiled = Some(react(&out.texts, tag, data, &self.env, signatures));
        }
        out
    }

    /// [`Engine::react`] up to the rendering: the rules matched, the throttles applied and
    /// the files read, left in [`Reacted::texts`] for a renderer process.
    pub fn gather(
        &mut self,
        tag: &str,
        data: &Map<String, Value>,
        now: Instant,
        dry: bool,
    ) -> Reacted {
        let mut out = Reacted::default();
        self.set.matches(tag, &mut self.scratch);
        if self.scratch.is_empty() {
            return out;
        }
        log::debug!("Gathering reactors for tag {tag}");
        let matched = std::mem::take(&mut self.scratch);
        for &i in &matched {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            if let Some(t) = rule.throttle.clone() {
                let key = (i, Self::group_key(&t, tag, data));
                match self.windows.get(&key) {
                    Some(at) if now.saturating_duration_since(*at) < t.once_within => {
                        out.throttled.push(i);
                        if !dry {
                            if let Some(r) = self.rules.get_mut(i) {
                                r.suppressed += 1;
                            }
                        }
                        continue;
                    }
                    _ => {
                        if !dry {
                            if self.windows.len() >= MAX_WINDOWS {
                                let rules = &self.rules;
                                self.windows.retain(|(r, _), at| {
                                    rules.get(*r).and_then(|r| r.throttle.as_ref()).is_some_and(
                                        |t| now.saturating_duration_since(*at) < t.once_within,
                                    )
                                });
                                // Still full of live windows (a group_by with endless values):
                                // start afresh rather than grow or scan on every event.
                                if self.windows.len() >= MAX_WINDOWS / 2 {
                                    log::warn!(
                                        "reactor: {} live throttle windows; forgetting them all (group_by has too many values)",
                                        self.windows.len()
                                    );
                                    self.windows.clear();
                                }
                            }
                            self.windows.insert(key, now);
                        }
                    }
                }
            }
            out.rules.push(i);
        }
        self.scratch = matched;
        let sls: Vec<String> = out
            .rules
            .iter()
            .filter_map(|&i| self.rules.get(i))
            .flat_map(|r| r.sls.iter().cloned())
            .collect();
        let mut texts = Vec::new();
        for s in sls {
            match self.expand(&s) {
                Ok(paths) if paths.is_empty() => out.missing.push((
                    s.clone(),
                    format!("Can not render SLS {s} for tag {tag}. File missing or not found."),
                )),
                Ok(paths) => {
                    for p in paths {
                        match self.read(&p) {
                            Ok(text) => {
                                out.files.push(p.clone());
                                texts.push((p, text));
                            }
                            Err(e) => out.missing.push((
                                s.clone(),
                                format!(
                                    "Can not render SLS {} for tag {tag}. File missing or not found. ({e})",
                                    p.display()
                                ),
                            )),
                        }
                    }
                }
                Err(e) => out.missing.push((s.clone(), format!("{s}: {e}"))),
            }
        }
        out.texts = texts;
        out
    }

    /// Salt's `reactor.list`: `[{glob: [sls, ...]}, ...]`; a throttled rule also shows its
    /// throttle and how many events it suppressed.
    pub fn list(&self) -> Value {
        Value::Array(
            self.rules
                .iter()
                .map(|r| match &r.throttle {
                    None => json!({ r.tag.clone(): r.sls }),
                    Some(t) => json!({
                        "tag": r.tag,
                        "sls": r.sls,
                        "throttle": {
                            "once_within": t.once_within.as_secs_f64(),
                            "group_by": t.group_by,
                        },
                        "suppressed": r.suppressed,
                    }),
                })
                .collect(),
        )
    }

    /// Salt's `reactor.add`: a rule for a tag not configured yet.
    pub fn add(&mut self, tag: &str, sls: Vec<String>) -> Value {
        if self.rules.iter().any(|r| r.tag == tag) {
            return json!({"status": false, "comment": "Reactor already exists."});
        }
        // Appending keeps every rule's index, so the throttle windows stay as they are.
        self.rules.push(Rule {
            tag: tag.to_owned(),
            sls,
            throttle: None,
            suppressed: 0,
        });
        self.set = RuleSet::new(self.rules.iter().map(|r| r.tag.clone()).collect());
        json!({"status": true, "comment": "Reactor added."})
    }

    /// Salt's `reactor.delete`.
    pub fn delete(&mut self, tag: &str) -> Value {
        if !self.rules.iter().any(|r| r.tag == tag) {
            return json!({"status": false, "comment": "Reactor does not exists."});
        }
        // The other rules keep their throttle windows (and suppressed counts) under their
        // new indices; the deleted rules' windows go.
        let mut new_index = Vec::with_capacity(self.rules.len());
        let mut next = 0;
        for r in &self.rules {
            new_index.push((r.tag != tag).then(|| {
                next += 1;
                next - 1
            }));
        }
        self.rules.retain(|r| r.tag != tag);
        self.windows = std::mem::take(&mut self.windows)
            .into_iter()
            .filter_map(|((i, group), at)| Some(((new_index.get(i).copied()??, group), at)))
            .collect();
        self.set = RuleSet::new(self.rules.iter().map(|r| r.tag.clone()).collect());
        json!({"status": true, "comment": "Reactor deleted."})
    }
}
