//! Salt Cloud's configuration directory: the main `cloud` file, the providers and profiles
//! (with their `.d/*.conf` drop-ins and `extends:`), map files, and the per-VM `vm_` map that
//! `Cloud.vm_config` builds from them.
//!
//! Read from `salt/config/__init__.py` (`cloud_config`, `apply_cloud_providers_config`,
//! `apply_vm_profiles_config`, `include_config`) and `salt/cloud/__init__.py` (`vm_config`,
//! `Map.read`, `provider_list`, `profile_list`) of Salt 3007.15, and checked against it by
//! `tests/fixtures/gen_cloud_fixtures.py`. brine departs from Salt on purpose in four places,
//! each a Salt bug that loses or leaks settings:
//! * a profile that does not extend and names `provider: alias:driver` is kept (Salt's check
//!   looks the whole `alias:driver` text up as an alias and drops the profile);
//! * `extends:` chains resolve in any order (Salt resolves in file order, so a profile or
//!   provider extending one defined later gets its unresolved data);
//! * an extending provider merges into a deep copy of its parent (Salt's shallow copy leaks
//!   the child's nested maps, `minion:` and `grains:`, into the parent);
//! * a drop-in file that is not valid YAML is an error (Salt logs it and reads it as empty).
//!
//! Not read: `cloud.conf.d/` and `include:`/`default_include:` inside these files (Salt merges
//! them into its opts, but `run_profile` builds `vm_` from the main file alone, which is what
//! [`CloudConfig::main`] holds), and the Jinja rendering of map files (read as plain YAML).

use crate::yaml::{parse_entries, YamlError};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Keys of a providers or profiles file that are settings of the loader, not entries.
const LOADER_KEYS: [&str; 4] = ["conf_file", "include", "default_include", "user"];

/// Salt's name for a provider entry without `driver:` (data only other entries extend).
const EXTENDABLE: &str = "-only-extendable-";

/// Why a cloud configuration or map file is refused. `Display` is one line naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudConfigError {
    /// A file or directory could not be read.
    Read {
        /// The file.
        file: PathBuf,
        /// The OS error.
        error: String,
    },
    /// A file is not YAML brine reads (syntax, duplicate key, top level not a map).
    Yaml(YamlError),
    /// A provider or profile entry, or a setting in one, has the wrong shape.
    Shape {
        /// The file the entry came from.
        file: PathBuf,
        /// Where the entry's key is (1-based line).
        line: usize,
        /// Where the entry's key is (1-based column).
        column: usize,
        /// The provider alias or profile name.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A provider alias lists the same driver twice.
    DuplicateDriver {
        /// The file the alias came from.
        file: PathBuf,
        /// The alias.
        alias: String,
        /// The driver.
        driver: String,
    },
    /// A provider's `extends:` names nothing it can extend.
    ProviderExtends {
        /// The file the extending alias came from.
        file: PathBuf,
        /// The extending alias.
        alias: String,
        /// What it extends.
        extends: String,
        /// Why that is refused.
        reason: &'static str,
    },
    /// `vm_config` was asked for a profile that is not loaded.
    UnknownProfile {
        /// The profile.
        profile: String,
    },
    /// A map file entry has the wrong shape.
    Map {
        /// The map file.
        file: PathBuf,
        /// The profile the entry is under.
        profile: String,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for CloudConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloudConfigError::Read { file, error } => {
                write!(f, "{}: cannot read: {error}", file.display())
            }
            CloudConfigError::Yaml(e) => write!(f, "{e}"),
            CloudConfigError::Shape {
                file,
                line,
                column,
                key,
                message,
            } => write!(f, "{}:{line}:{column}: '{key}': {message}", file.display()),
            CloudConfigError::DuplicateDriver {
                file,
                alias,
                driver,
            } => write!(
                f,
                "{}: the cloud provider alias '{alias}' has multiple entries for the \
                 '{driver}' driver",
                file.display()
            ),
            CloudConfigError::ProviderExtends {
                file,
                alias,
                extends,
                reason,
            } => write!(
                f,
                "{}: the cloud provider alias '{alias}' cannot extend '{extends}': {reason}",
                file.display()
            ),
            CloudConfigError::UnknownProfile { profile } => {
                write!(f, "profile '{profile}' is not defined")
            }
            CloudConfigError::Map {
                file,
                profile,
                message,
            } => write!(f, "{}: profile '{profile}': {message}", file.display()),
        }
    }
}

impl std::error::Error for CloudConfigError {}

impl From<YamlError> for CloudConfigError {
    fn from(e: YamlError) -> Self {
        CloudConfigError::Yaml(e)
    }
}

/// A loaded Salt Cloud configuration directory.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudConfig {
    /// The main `cloud` file as written (empty when there is none).
    pub main: Map<String, Value>,
    /// alias -> driver -> that entry's settings (with `driver`), `extends:` resolved. Salt's
    /// `profiles` back-references are not kept: `list_profiles` derives them.
    pub providers: Map<String, Value>,
    /// name -> the merged profile: `extends:` resolved, `provider` as `alias:driver`, and
    /// `profile` set to its name. Profiles whose provider or parent is missing are dropped.
    pub profiles: Map<String, Value>,
    /// The directory the files were read from.
    pub dir: PathBuf,
}

/// Where a top-level key was last set, for errors.
#[derive(Debug, Clone)]
struct Origin {
    file: PathBuf,
    line: usize,
    column: usize,
}

/// One layer (`X` and `X.d/*.conf`) merged as Salt merges it, with each key's origin.
struct Layer {
    entries: Map<String, Value>,
    origins: HashMap<String, Origin>,
}

impl Layer {
    fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin {
            file: PathBuf::new(),
            line: 0,
            column: 0,
        })
    }
}

impl CloudConfig {
    /// Reads `dir/cloud`, `dir/cloud.providers[.d/*.conf]` and `dir/cloud.profiles[.d/*.conf]`.
    pub fn load(dir: &Path) -> Result<CloudConfig, CloudConfigError> {
        let main = match read_file(&dir.join("cloud"))? {
            Some(bytes) => {
                let mut map = Map::new();
                for e in parse_entries(&dir.join("cloud"), &bytes)? {
                    map.insert(e.key, e.value);
                }
                map
            }
            None => Map::new(),
        };
        let providers_layer = read_layer(dir, "cloud.providers")?;
        let providers = build_providers(&providers_layer)?;
        let profiles_layer = read_layer(dir, "cloud.profiles")?;
        let profiles = build_profiles(&profiles_layer, &providers)?;
        Ok(CloudConfig {
            main,
            providers,
            profiles,
            dir: dir.to_path_buf(),
        })
    }

    /// Salt's `Cloud.vm_config`: main, then the provider, then the profile, then `overrides`
    /// (this VM's own, what Salt finds at `overrides[name]`), each merged into nested maps
    /// (lists are replaced), then `name`.
    pub fn vm_config(
        &self,
        name: &str,
        profile: &str,
        overrides: &Map<String, Value>,
    ) -> Result<Map<String, Value>, CloudConfigError> {
        let unknown = || CloudConfigError::UnknownProfile {
            profile: profile.to_owned(),
        };
        let details = self
            .profiles
            .get(profile)
            .and_then(Value::as_object)
            .ok_or_else(unknown)?;
        // Loading made every kept profile's provider an existing `alias:driver`.
        let provider = details
            .get("provider")
            .and_then(Value::as_str)
            .and_then(|p| p.split_once(':'))
            .and_then(|(alias, driver)| self.providers.get(alias)?.get(driver))
            .and_then(Value::as_object)
            .ok_or_else(unknown)?;
        let mut vm = self.main.clone();
        deep_update(&mut vm, provider, false);
        deep_update(&mut vm, details, false);
        deep_update(&mut vm, overrides, false);
        vm.insert("name".to_owned(), Value::String(name.to_owned()));
        Ok(vm)
    }

    /// `salt-cloud --list-providers`: `{alias: {driver: {}}}`.
    pub fn list_providers(&self) -> Value {
        let mut out = Map::new();
        for (alias, drivers) in &self.providers {
            let mut d = Map::new();
            if let Some(drivers) = drivers.as_object() {
                for driver in drivers.keys() {
                    d.insert(driver.clone(), Value::Object(Map::new()));
                }
            }
            out.insert(alias.clone(), Value::Object(d));
        }
        Value::Object(out)
    }

    /// `salt-cloud --list-profiles PROVIDER`: `{profile: {alias: {}}}` for every profile
    /// (`None` or `"all"`), those under an alias (`{profile: {alias: {}}}`), or those using a
    /// driver (`{profile: {driver: {}}}`); an alias wins over a driver of the same name.
    pub fn list_profiles(&self, provider: Option<&str>) -> Value {
        let wanted = provider.filter(|p| *p != "all");
        let mut out = Map::new();
        for (name, details) in &self.profiles {
            let Some((alias, driver)) = details
                .get("provider")
                .and_then(Value::as_str)
                .and_then(|p| p.split_once(':'))
            else {
                continue;
            };
            let under = match wanted {
                None => alias,
                Some(w) if w == alias => alias,
                Some(w) if w == driver => driver,
                Some(_) => continue,
            };
            let mut inner = Map::new();
            inner.insert(under.to_owned(), Value::Object(Map::new()));
            out.insert(name.clone(), Value::Object(inner));
        }
        Value::Object(out)
    }
}

/// One VM of a map file: its profile, its name, and its overrides (with `name` set).
pub type MapEntry = (String, String, Map<String, Value>);

/// Salt's `Map.read` on a map file `{profile: [name | {name: {overrides}}] | {name: {...}} |
/// name}`: `(profile, name, overrides)` in file order, each `overrides` with `name` set. A
/// name given twice under one profile keeps its first place and its last overrides. The file
/// is read as plain YAML: Salt renders it with Jinja first.
pub fn read_map(path: &Path) -> Result<Vec<MapEntry>, CloudConfigError> {
    let bytes = read_file(path)?.ok_or_else(|| CloudConfigError::Read {
        file: path.to_path_buf(),
        error: "no such file".to_owned(),
    })?;
    let mut out = Vec::new();
    for entry in parse_entries(path, &bytes)? {
        let bad = |message: String| CloudConfigError::Map {
            file: path.to_path_buf(),
            profile: entry.key.clone(),
            message,
        };
        // name -> overrides, insertion-ordered like the dict Salt builds.
        let mut nodes: Map<String, Value> = Map::new();
        let mut add = |name: String, overrides: Value| -> Result<(), CloudConfigError> {
            let mut ov = match overrides {
                // `- web1:` with nothing after it, or a boolean, means no overrides.
                Value::Null | Value::Bool(_) => Map::new(),
                Value::Object(m) => m,
                other => {
                    return Err(bad(format!(
                        "the overrides of '{name}' must be a map, found {}",
                        kind(&other)
                    )))
                }
            };
            ov.entry("name")
                .or_insert_with(|| Value::String(name.clone()));
            nodes.insert(name, Value::Object(ov));
            Ok(())
        };
        match entry.value {
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(name) => add(name, Value::Null)?,
                        Value::Object(m) => {
                            for (name, ov) in m {
                                add(name, ov)?;
                            }
                        }
                        other => {
                            return Err(bad(format!(
                                "a list entry must be a name or a map of names, found {}",
                                kind(&other)
                            )))
                        }
                    }
                }
            }
            Value::Object(m) => {
                for (name, ov) in m {
                    // Salt crashes on `name:` with no map here (the list form allows it).
                    if !ov.is_object() {
                        return Err(bad(format!(
                            "the overrides of '{name}' must be a map, found {}",
                            kind(&ov)
                        )));
                    }
                    add(name, ov)?;
                }
            }
            Value::String(name) => add(name, Value::Null)?,
            other => {
                return Err(bad(format!(
                    "expected a name, a list or a map of names, found {}",
                    kind(&other)
                )))
            }
        }
        for (name, ov) in nodes {
            if let Value::Object(ov) = ov {
                out.push((entry.key.clone(), name, ov));
            }
        }
    }
    Ok(out)
}

/// A file's bytes, or `None` when it does not exist.
fn read_file(path: &Path) -> Result<Option<Vec<u8>>, CloudConfigError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CloudConfigError::Read {
            file: path.to_path_buf(),
            error: e.to_string(),
        }),
    }
}

/// `dir/NAME` and then `dir/NAME.d/*.conf`: the drop-ins are merged with each other in name
/// order (nested maps merged, lists joined without repeats: `include_config`), and the result
/// replaces the main file's keys whole (`overrides.update(...)`).
fn read_layer(dir: &Path, name: &str) -> Result<Layer, CloudConfigError> {
    let mut entries = Map::new();
    let mut origins = HashMap::new();
    let take = |file: &Path,
                bytes: &[u8],
                into: &mut Map<String, Value>,
                origins: &mut HashMap<String, Origin>|
     -> Result<(), CloudConfigError> {
        let mut one = Map::new();
        for e in parse_entries(file, bytes)? {
            if LOADER_KEYS.contains(&e.key.as_str()) {
                continue;
            }
            origins.insert(
                e.key.clone(),
                Origin {
                    file: file.to_path_buf(),
                    line: e.key_at.line,
                    column: e.key_at.column,
                },
            );
            one.insert(e.key, e.value);
        }
        deep_update(into, &one, true);
        Ok(())
    };
    let main_file = dir.join(name);
    if let Some(bytes) = read_file(&main_file)? {
        take(&main_file, &bytes, &mut entries, &mut origins)?;
    }
    let d = dir.join(format!("{name}.d"));
    let mut files = Vec::new();
    match std::fs::read_dir(&d) {
        Ok(rd) => {
            for ent in rd {
                let ent = ent.map_err(|e| CloudConfigError::Read {
                    file: d.clone(),
                    error: e.to_string(),
                })?;
                let path = ent.path();
                let is_conf = path.extension().is_some_and(|x| x == "conf");
                // Salt's glob skips dot files.
                let hidden = ent.file_name().to_string_lossy().starts_with('.');
                if is_conf && !hidden && path.is_file() {
                    files.push(path);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(CloudConfigError::Read {
                file: d,
                error: e.to_string(),
            })
        }
    }
    files.sort();
    let mut included = Map::new();
    for file in files {
        if let Some(bytes) = read_file(&file)? {
            take(&file, &bytes, &mut included, &mut origins)?;
        }
    }
    for (k, v) in included {
        entries.insert(k, v);
    }
    Ok(Layer { entries, origins })
}

/// Salt's `dictupdate.update`: nested maps merge, anything else is replaced; with
/// `merge_lists`, a list gains the other list's items it does not already hold.
fn deep_update(dest: &mut Map<String, Value>, upd: &Map<String, Value>, merge_lists: bool) {
    for (k, v) in upd {
        match (dest.get_mut(k), v) {
            (Some(Value::Object(d)), Value::Object(u)) => deep_update(d, u, merge_lists),
            (Some(Value::Array(d)), Value::Array(u)) if merge_lists => {
                for item in u {
                    if !d.contains(item) {
                        d.push(item.clone());
                    }
                }
            }
            _ => {
                dest.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A value's kind, for errors.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// `apply_cloud_providers_config`: alias -> driver -> entry, `extends:` merged.
fn build_providers(layer: &Layer) -> Result<Map<String, Value>, CloudConfigError> {
    let shape = |key: &str, message: String| {
        let o = layer.origin(key);
        CloudConfigError::Shape {
            file: o.file,
            line: o.line,
            column: o.column,
            key: key.to_owned(),
            message,
        }
    };
    // alias -> driver key -> entry; entries without `driver:` get Salt's placeholder key.
    let mut providers: Map<String, Value> = Map::new();
    let mut extendable = 0usize;
    for (alias, val) in &layer.entries {
        let list = match val {
            Value::Array(items) => items.clone(),
            Value::Object(_) => vec![val.clone()],
            other => {
                return Err(shape(
                    alias,
                    format!(
                        "a provider must be a map or a list of maps, found {}",
                        kind(other)
                    ),
                ))
            }
        };
        let mut seen: Vec<String> = Vec::new();
        let mut drivers = Map::new();
        for item in list {
            let Value::Object(mut entry) = item else {
                return Err(shape(
                    alias,
                    format!("a provider entry must be a map, found {}", kind(&item)),
                ));
            };
            let driver = match entry.get("driver") {
                Some(Value::String(d)) => d.clone(),
                Some(other) => {
                    return Err(shape(
                        alias,
                        format!("driver must be text, found {}", kind(other)),
                    ))
                }
                None => {
                    if !entry.contains_key("extends") {
                        log::error!(
                            "cloud provider alias '{alias}' has an entry with neither \
                             'driver' nor 'extends'"
                        );
                    }
                    let placeholder = format!("{EXTENDABLE}{extendable}");
                    extendable += 1;
                    entry.insert("driver".to_owned(), Value::String(placeholder.clone()));
                    placeholder
                }
            };
            if val.is_array() && !driver.starts_with(EXTENDABLE) {
                if seen.contains(&driver) {
                    return Err(CloudConfigError::DuplicateDriver {
                        file: layer.origin(alias).file,
                        alias: alias.clone(),
                        driver,
                    });
                }
                seen.push(driver.clone());
            }
            // Salt's own `profiles` key is rebuilt from the profiles; a user's one is lost.
            entry.remove("profiles");
            if !drivers.contains_key(&driver) {
                drivers.insert(driver, Value::Object(entry));
            }
        }
        providers.insert(alias.clone(), Value::Object(drivers));
    }

    // Every `extends:` must name `alias:driver` that exists; the entry's `driver` becomes the
    // parent's driver, as Salt sets it.
    let mut wants: Vec<(String, String, String, String)> = Vec::new();
    for (alias, drivers) in &providers {
        let Some(drivers) = drivers.as_object() else {
            continue;
        };
        for (key, entry) in drivers {
            let Some(ext) = entry.get("extends") else {
                continue;
            };
            let refuse =
                |extends: String, reason: &'static str| CloudConfigError::ProviderExtends {
                    file: layer.origin(alias).file,
                    alias: alias.clone(),
                    extends,
                    reason,
                };
            let Some(ext) = ext.as_str() else {
                return Err(shape(
                    alias,
                    format!("extends must be text, found {}", kind(ext)),
                ));
            };
            let Some((ext_alias, ext_driver)) = ext.split_once(':') else {
                let reason = if providers.contains_key(ext) {
                    "no driver was given (write alias:driver)"
                } else {
                    "no such provider alias"
                };
                return Err(refuse(ext.to_owned(), reason));
            };
            match providers.get(ext_alias).and_then(Value::as_object) {
                None => return Err(refuse(ext.to_owned(), "no such provider alias")),
                Some(d) if !d.contains_key(ext_driver) => {
                    return Err(refuse(ext.to_owned(), "that alias has no such driver"))
                }
                Some(_) => {}
            }
            wants.push((
                alias.clone(),
                key.clone(),
                ext_alias.to_owned(),
                ext_driver.to_owned(),
            ));
        }
    }

    // Resolve every extending entry from its parent's resolved data, whatever the order.
    let mut resolved: HashMap<(String, String), Map<String, Value>> = HashMap::new();
    let lookup: HashMap<(String, String), (String, String)> = wants
        .iter()
        .map(|(a, k, pa, pd)| ((a.clone(), k.clone()), (pa.clone(), pd.clone())))
        .collect();
    for (alias, key, _, _) in &wants {
        let mut visiting = Vec::new();
        resolve_provider(
            &providers,
            &lookup,
            &mut resolved,
            (alias.clone(), key.clone()),
            &mut visiting,
        )
        .map_err(|()| CloudConfigError::ProviderExtends {
            file: layer.origin(alias).file,
            alias: alias.clone(),
            extends: lookup
                .get(&(alias.clone(), key.clone()))
                .map(|(a, d)| format!("{a}:{d}"))
                .unwrap_or_default(),
            reason: "the extends chain loops",
        })?;
    }
    for (alias, key, _, ext_driver) in &wants {
        let Some(merged) = resolved.remove(&(alias.clone(), key.clone())) else {
            continue;
        };
        if let Some(Value::Object(drivers)) = providers.get_mut(alias) {
            if key.starts_with(EXTENDABLE) {
                // A driverless entry takes its parent's driver name as its key.
                drivers.shift_remove(key);
                drivers.insert(ext_driver.clone(), Value::Object(merged));
            } else {
                drivers.insert(key.clone(), Value::Object(merged));
            }
        }
    }

    // Driverless entries that extend nothing were only data to extend from.
    for (alias, drivers) in providers.iter_mut() {
        if let Value::Object(d) = drivers {
            let before = d.len();
            d.retain(|k, _| !k.starts_with(EXTENDABLE));
            if d.len() != before {
                log::info!(
                    "cloud provider alias '{alias}' has an entry without 'driver': not listed"
                );
            }
        }
    }
    providers.retain(|_, d| d.as_object().is_some_and(|m| !m.is_empty()));
    Ok(providers)
}

/// One provider entry with its `extends:` chain merged in; `Err(())` on a loop.
fn resolve_provider(
    providers: &Map<String, Value>,
    lookup: &HashMap<(String, String), (String, String)>,
    resolved: &mut HashMap<(String, String), Map<String, Value>>,
    at: (String, String),
    visiting: &mut Vec<(String, String)>,
) -> Result<Map<String, Value>, ()> {
    if let Some(done) = resolved.get(&at) {
        return Ok(done.clone());
    }
    let own = providers
        .get(&at.0)
        .and_then(|d| d.get(&at.1))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(parent) = lookup.get(&at) else {
        return Ok(own);
    };
    if visiting.contains(&at) {
        return Err(());
    }
    visiting.push(at.clone());
    let mut merged = resolve_provider(providers, lookup, resolved, parent.clone(), visiting)?;
    visiting.pop();
    let mut own = own;
    own.remove("extends");
    own.insert("driver".to_owned(), Value::String(parent.1.clone()));
    deep_update(&mut merged, &own, false);
    resolved.insert(at, merged.clone());
    Ok(merged)
}

/// What became of one profile while resolving.
enum Resolved {
    Kept(Map<String, Value>),
    Dropped,
}

/// `apply_vm_profiles_config`: profiles with `extends:` merged and providers checked.
fn build_profiles(
    layer: &Layer,
    providers: &Map<String, Value>,
) -> Result<Map<String, Value>, CloudConfigError> {
    let mut raw: Map<String, Value> = Map::new();
    for (name, val) in &layer.entries {
        let Value::Object(details) = val else {
            let o = layer.origin(name);
            return Err(CloudConfigError::Shape {
                file: o.file,
                line: o.line,
                column: o.column,
                key: name.clone(),
                message: format!("a profile must be a map of settings, found {}", kind(val)),
            });
        };
        let mut details = details.clone();
        details.insert("profile".to_owned(), Value::String(name.clone()));
        raw.insert(name.clone(), Value::Object(details));
    }
    let mut done: HashMap<String, Resolved> = HashMap::new();
    let mut out = Map::new();
    for name in raw.keys() {
        let mut visiting = Vec::new();
        if let Resolved::Kept(p) =
            resolve_profile(layer, &raw, providers, &mut done, name, &mut visiting)?
        {
            out.insert(name.clone(), Value::Object(p));
        }
    }
    Ok(out)
}

/// One profile with its chain merged and its provider made `alias:driver`, or dropped (with
/// a log line) when a parent or the provider is missing.
fn resolve_profile(
    layer: &Layer,
    raw: &Map<String, Value>,
    providers: &Map<String, Value>,
    done: &mut HashMap<String, Resolved>,
    name: &str,
    visiting: &mut Vec<String>,
) -> Result<Resolved, CloudConfigError> {
    match done.get(name) {
        Some(Resolved::Kept(p)) => return Ok(Resolved::Kept(p.clone())),
        Some(Resolved::Dropped) => return Ok(Resolved::Dropped),
        None => {}
    }
    let shape = |message: String| {
        let o = layer.origin(name);
        CloudConfigError::Shape {
            file: o.file,
            line: o.line,
            column: o.column,
            key: name.to_owned(),
            message,
        }
    };
    let mut details = raw
        .get(name)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut merged = match details.remove("extends") {
        None => details,
        Some(Value::String(parent)) => {
            if !raw.contains_key(&parent) {
                log::error!(
                    "cloud profile '{name}' extends '{parent}', which is not defined: not listed"
                );
                done.insert(name.to_owned(), Resolved::Dropped);
                return Ok(Resolved::Dropped);
            }
            if visiting.iter().any(|v| v == name) {
                log::error!("cloud profile '{name}' extends itself through '{parent}': not listed");
                done.insert(name.to_owned(), Resolved::Dropped);
                return Ok(Resolved::Dropped);
            }
            visiting.push(name.to_owned());
            let got = resolve_profile(layer, raw, providers, done, &parent, visiting)?;
            visiting.pop();
            let Resolved::Kept(mut base) = got else {
                log::error!("cloud profile '{name}' extends '{parent}', which is not listed");
                done.insert(name.to_owned(), Resolved::Dropped);
                return Ok(Resolved::Dropped);
            };
            base.remove("profile");
            deep_update(&mut base, &details, false);
            base
        }
        Some(other) => {
            return Err(shape(format!(
                "extends must be text, found {}",
                kind(&other)
            )))
        }
    };
    let provider = match merged.get("provider") {
        Some(Value::String(p)) => p.clone(),
        Some(other) => {
            return Err(shape(format!(
                "provider must be text, found {}",
                kind(other)
            )))
        }
        // Salt fails with a KeyError here.
        None => return Err(shape("the profile names no provider".to_owned())),
    };
    let full = match provider.split_once(':') {
        Some((alias, driver)) => providers
            .get(alias)
            .and_then(|d| d.get(driver))
            .map(|_| provider.clone()),
        None => providers
            .get(&provider)
            .and_then(Value::as_object)
            .and_then(|d| d.keys().next())
            .map(|driver| format!("{provider}:{driver}")),
    };
    let Some(full) = full else {
        log::trace!("cloud profile '{name}' names provider '{provider}', which is not configured");
        done.insert(name.to_owned(), Resolved::Dropped);
        return Ok(Resolved::Dropped);
    };
    merged.insert("provider".to_owned(), Value::String(full));
    done.insert(name.to_owned(), Resolved::Kept(merged.clone()));
    Ok(Resolved::Kept(merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (rel, text) in files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(path, text).unwrap();
        }
    }

    fn load(files: &[(&str, &str)]) -> Result<CloudConfig, CloudConfigError> {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), files);
        CloudConfig::load(dir.path())
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    /// Every case Salt 3007.15 loaded, replayed: brine must give Salt's results except in the
    /// fields the fixture marks as differing on purpose (pinned by the tests below).
    #[test]
    fn matches_salt_fixtures() {
        let text = include_str!("../../tests/fixtures/salt/cloud_config.json");
        let doc: Value = serde_json::from_str(text).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 10);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let differs = |field: &str| case["differs"].get(field).is_some();
            let dir = tempfile::tempdir().unwrap();
            for (rel, body) in case["files"].as_object().unwrap() {
                write(dir.path(), &[(rel, body.as_str().unwrap())]);
            }
            let loaded = CloudConfig::load(dir.path());
            if let Some(err) = case.get("error") {
                assert!(
                    loaded.is_err(),
                    "{name}: Salt refused ({err}), brine loaded it"
                );
                continue;
            }
            let cfg = loaded.unwrap_or_else(|e| panic!("{name}: {e}"));
            if !differs("providers") {
                assert_eq!(
                    Value::Object(cfg.providers.clone()),
                    case["providers"],
                    "{name}"
                );
            }
            if !differs("profiles") {
                assert_eq!(
                    Value::Object(cfg.profiles.clone()),
                    case["profiles"],
                    "{name}"
                );
            }
            if !differs("vm_configs") {
                for vc in case["vm_configs"].as_array().unwrap() {
                    let vm = cfg
                        .vm_config(
                            vc["name"].as_str().unwrap(),
                            vc["profile"].as_str().unwrap(),
                            &obj(vc["overrides"].clone()),
                        )
                        .unwrap();
                    assert_eq!(Value::Object(vm), vc["vm"], "{name}: {}", vc["name"]);
                }
            }
            if !differs("list_providers") {
                assert_eq!(cfg.list_providers(), case["list_providers"], "{name}");
            }
            if !differs("list_profiles") {
                for (prov, want) in case["list_profiles"].as_object().unwrap() {
                    let p = (prov != "all").then_some(prov.as_str());
                    assert_eq!(&cfg.list_profiles(p), want, "{name}: {prov}");
                }
            }
            for m in case["maps"].as_array().unwrap() {
                let got = read_map(&dir.path().join(m["file"].as_str().unwrap())).unwrap();
                let got: Vec<Value> = got
                    .into_iter()
                    .map(|(p, n, o)| json!([p, n, Value::Object(o)]))
                    .collect();
                assert_eq!(Value::Array(got), m["entries"], "{name}: {}", m["file"]);
            }
        }
    }

    #[test]
    fn colon_provider_without_extends_is_kept() {
        let cfg = load(&[
            (
                "cloud.providers",
                "multi:\n  - driver: ec2\n  - driver: digitalocean\n",
            ),
            ("cloud.profiles", "p:\n  provider: multi:digitalocean\n"),
        ])
        .unwrap();
        assert_eq!(cfg.profiles["p"]["provider"], "multi:digitalocean");
        let vm = cfg.vm_config("v", "p", &Map::new()).unwrap();
        assert_eq!(vm["driver"], "digitalocean");
        assert_eq!(
            cfg.list_profiles(Some("digitalocean")),
            json!({"p": {"digitalocean": {}}})
        );
    }

    #[test]
    fn provider_extends_does_not_leak_into_parent() {
        let cfg = load(&[(
            "cloud.providers",
            "base:\n  driver: ec2\n  minion: {master: m, grains: {a: 1}}\n\
             prod:\n  extends: base:ec2\n  minion: {grains: {b: 2}}\n",
        )])
        .unwrap();
        assert_eq!(
            cfg.providers["base"]["ec2"]["minion"],
            json!({"master": "m", "grains": {"a": 1}})
        );
        assert_eq!(
            cfg.providers["prod"]["ec2"]["minion"],
            json!({"master": "m", "grains": {"a": 1, "b": 2}})
        );
        assert!(cfg.providers["prod"]["ec2"].get("extends").is_none());
    }

    #[test]
    fn driverless_provider_takes_parent_driver_and_templates_vanish() {
        let cfg = load(&[(
            "cloud.providers",
            "tmpl:\n  key: k\nbase:\n  driver: saltify\n  a: 1\nuse:\n  extends: base:saltify\n  b: 2\n",
        )])
        .unwrap();
        assert!(cfg.providers.get("tmpl").is_none());
        assert_eq!(
            cfg.providers["use"],
            json!({"saltify": {"driver": "saltify", "a": 1, "b": 2}})
        );
    }

    #[test]
    fn profile_chain_resolves_in_any_order() {
        let cfg = load(&[
            ("cloud.providers", "s:\n  driver: saltify\n"),
            (
                "cloud.profiles",
                "c:\n  extends: b\n  c: 3\nb:\n  extends: a\n  b: 2\na:\n  provider: s\n  a: 1\n",
            ),
        ])
        .unwrap();
        assert_eq!(
            Value::Object(cfg.profiles["c"].as_object().cloned().unwrap()),
            json!({"provider": "s:saltify", "a": 1, "b": 2, "c": 3, "profile": "c"})
        );
        let keys: Vec<&String> = cfg.profiles.keys().collect();
        assert_eq!(keys, ["c", "b", "a"]);
    }

    #[test]
    fn profile_loops_and_missing_parents_are_dropped() {
        let cfg = load(&[
            ("cloud.providers", "s:\n  driver: saltify\n"),
            (
                "cloud.profiles",
                "x:\n  extends: y\n  provider: s\ny:\n  extends: x\n\
                 lost:\n  extends: nowhere\n  provider: s\nok:\n  provider: s\n",
            ),
        ])
        .unwrap();
        let keys: Vec<&String> = cfg.profiles.keys().collect();
        assert_eq!(keys, ["ok"]);
    }

    #[test]
    fn refusals_name_the_file() {
        let e = load(&[("cloud.providers", "a:\n  - driver: ec2\n  - driver: ec2\n")]).unwrap_err();
        assert!(matches!(e, CloudConfigError::DuplicateDriver { .. }), "{e}");
        assert!(e.to_string().contains("cloud.providers: "), "{e}");
        let e = load(&[("cloud.providers", "a:\n  driver: ec2\n  extends: a\n")]).unwrap_err();
        assert!(e.to_string().contains("no driver was given"), "{e}");
        let e = load(&[
            ("cloud.providers", "s:\n  driver: saltify\n"),
            ("cloud.profiles", "\np: [1]\n"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("cloud.profiles:2:1: 'p':"), "{e}");
        let e = load(&[
            ("cloud.providers", "s:\n  driver: saltify\n"),
            ("cloud.profiles", "p:\n  size: s\n"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("names no provider"), "{e}");
        let e = load(&[("cloud.profiles.d/a.conf", "p: [\n")]).unwrap_err();
        assert!(matches!(e, CloudConfigError::Yaml(_)), "{e}");
        assert!(e.to_string().contains("a.conf:"), "{e}");
    }

    #[test]
    fn vm_config_layers_and_unknown_profile() {
        let cfg = load(&[
            (
                "cloud",
                "minion: {master: a, grains: {m: 1}}\nlist: [1, 2]\n",
            ),
            (
                "cloud.providers",
                "s:\n  driver: saltify\n  minion: {master: b}\n",
            ),
            (
                "cloud.profiles",
                "p:\n  provider: s\n  list: [3]\n  minion: {grains: {p: 2}}\n",
            ),
        ])
        .unwrap();
        let ov = obj(json!({"minion": {"grains": {"o": 3}}, "name": "ignored"}));
        let vm = cfg.vm_config("web1", "p", &ov).unwrap();
        assert_eq!(
            vm["minion"],
            json!({"master": "b", "grains": {"m": 1, "p": 2, "o": 3}})
        );
        assert_eq!(vm["list"], json!([3]));
        assert_eq!(vm["name"], "web1");
        assert_eq!(vm["provider"], "s:saltify");
        assert_eq!(vm["profile"], "p");
        let e = cfg.vm_config("x", "nope", &Map::new()).unwrap_err();
        assert_eq!(e.to_string(), "profile 'nope' is not defined");
    }

    #[test]
    fn dropins_merge_lists_and_replace_main_keys() {
        let cfg = load(&[
            ("cloud.providers", "a:\n  driver: saltify\n  x: 1\n"),
            (
                "cloud.providers.d/1.conf",
                "a:\n  driver: saltify\n  y: [1]\n",
            ),
            (
                "cloud.providers.d/2.conf",
                "a:\n  driver: saltify\n  y: [1, 2]\n",
            ),
            ("cloud.providers.d/.hidden.conf", "b:\n  driver: saltify\n"),
        ])
        .unwrap();
        assert_eq!(
            cfg.providers,
            obj(json!({"a": {"saltify": {"driver": "saltify", "y": [1, 2]}}}))
        );
    }

    #[test]
    fn map_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.map");
        std::fs::write(
            &path,
            "p:\n  - a\n  - b: {size: 1}\n  - a: {size: 2}\nq: solo\n",
        )
        .unwrap();
        let got = read_map(&path).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            ("p".into(), "a".into(), obj(json!({"size": 2, "name": "a"})))
        );
        assert_eq!(got[1].1, "b");
        assert_eq!(
            got[2],
            ("q".into(), "solo".into(), obj(json!({"name": "solo"})))
        );
        std::fs::write(&path, "p:\n  a:\n").unwrap();
        let e = read_map(&path).unwrap_err();
        assert!(
            e.to_string()
                .contains("profile 'p': the overrides of 'a' must be a map"),
            "{e}"
        );
        std::fs::write(&path, "p:\n  - 5\n").unwrap();
        assert!(read_map(&path).is_err());
        std::fs::write(&path, "").unwrap();
        assert!(read_map(&path).unwrap().is_empty());
        assert!(read_map(&dir.path().join("none")).is_err());
    }
}
