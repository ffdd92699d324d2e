//! `pillar_roots`: the directories of each pillar environment, the SLS files they hold, and
//! where an SLS name (`web.tls`) or a top file lives, as Salt's local file client finds
//! them for the pillar. Every path comes from a name in a top file or an `include`, so a
//! name that would leave its root (`..`, an absolute path, a symlink out of the root) is
//! not found.

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

/// Salt's default `pillar_roots`.
pub const DEFAULT_ROOT: &str = "/srv/pillar";

/// Most directory entries one environment's listing reads, so a root pointed at a huge tree
/// ends with a log line instead of a stall; real pillar trees hold hundreds.
const MAX_ENTRIES: usize = 100_000;

/// Deepest directory nesting a listing descends into.
const MAX_DEPTH: usize = 32;

/// The pillar environments, in configuration order, each with its root directories.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PillarRoots {
    envs: Vec<(String, Vec<PathBuf>)>,
}

impl PillarRoots {
    /// Roots from a list of environments and their directories.
    pub fn new(envs: Vec<(String, Vec<PathBuf>)>) -> PillarRoots {
        PillarRoots { envs }
    }

    /// `pillar_roots` of an options map (Salt's default `base: [/srv/pillar]` when absent),
    /// with an `__env__` entry standing for `env` (the pillarenv, else the saltenv, else
    /// `base`) when `pillar_roots` does not name that environment itself, as Salt maps it.
    pub fn from_opts(opts: &Map<String, Value>, env: Option<&str>) -> PillarRoots {
        let Some(Value::Object(roots)) = opts.get("pillar_roots") else {
            return PillarRoots::new(vec![("base".into(), vec![PathBuf::from(DEFAULT_ROOT)])]);
        };
        let env = env.unwrap_or("base");
        let mut envs = Vec::new();
        for (name, dirs) in roots {
            let dirs: Vec<String> = match dirs {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                _ => Vec::new(),
            };
            if name == "__env__" {
                if roots.contains_key(env) {
                    log::debug!(
                        "pillar_roots __env__ ignored (environment '{env}' found in pillar_roots)"
                    );
                    continue;
                }
                let dirs = dirs
                    .iter()
                    .map(|d| PathBuf::from(d.replace("__env__", env)))
                    .collect();
                envs.push((env.to_string(), dirs));
            } else {
                envs.push((name.clone(), dirs.into_iter().map(PathBuf::from).collect()));
            }
        }
        PillarRoots { envs }
    }

    /// The environments, `base` first (Salt always has it), then the others in
    /// configuration order.
    pub fn envs(&self) -> Vec<&str> {
        let mut out = vec!["base"];
        out.extend(
            self.envs
                .iter()
                .map(|(e, _)| e.as_str())
                .filter(|e| *e != "base"),
        );
        out
    }

    /// Whether `env` is configured at all (a key of `pillar_roots`).
    pub fn contains(&self, env: &str) -> bool {
        self.envs.iter().any(|(e, _)| e == env)
    }

    /// The directories of `env`; empty when it is not configured.
    pub fn dirs(&self, env: &str) -> &[PathBuf] {
        self.envs
            .iter()
            .find(|(e, _)| e == env)
            .map(|(_, d)| d.as_slice())
            .unwrap_or(&[])
    }

    /// The first root of `env` holding the file `rel` (a `/`-separated relative path).
    pub fn find(&self, env: &str, rel: &str) -> Option<PathBuf> {
        if !is_safe_relative(rel) {
            log::warn!("pillar: refused the path {rel:?} in environment '{env}'");
            return None;
        }
        self.dirs(env).iter().find_map(|root| {
            let full = root.join(rel);
            (full.is_file() && stays_under(root, &full)).then_some(full)
        })
    }

    /// Salt's `get_state`: the file of SLS `sls` in `env` (`a.b` is `a/b.sls`, else
    /// `a/b/init.sls`), and its path relative to the root.
    pub fn find_sls(&self, env: &str, sls: &str) -> Option<(PathBuf, String)> {
        let base = sls.replace('.', "/");
        [format!("{base}.sls"), format!("{base}/init.sls")]
            .into_iter()
            .find_map(|rel| self.find(env, &rel).map(|p| (p, rel)))
    }

    /// Salt's `list_states`: every SLS name of `env`, sorted (`a/b.sls` is `a.b`,
    /// `a/init.sls` is `a`).
    pub fn list_sls(&self, env: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut budget = MAX_ENTRIES;
        for root in self.dirs(env) {
            walk(root, root, "", 0, &mut budget, &mut names);
        }
        names.sort();
        names.dedup();
        names
    }
}

/// Collects the SLS names under `dir` (`prefix` is its path relative to `root`).
fn walk(
    root: &Path,
    dir: &Path,
    prefix: &str,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<String>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if *budget == 0 {
            log::warn!(
                "pillar: listing {} stopped after {MAX_ENTRIES} entries",
                root.display()
            );
            return;
        }
        *budget -= 1;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let path = entry.path();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if !stays_under(root, &path) {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, &rel, depth + 1, budget, out);
        } else if let Some(stem) = rel.strip_suffix(".sls") {
            let dotted = match stem.strip_suffix("/init") {
                Some(d) => d.replace('/', "."),
                None if stem == "init" => "init".to_string(),
                None => stem.replace('/', "."),
            };
            out.push(dotted);
        }
    }
}

/// A relative path of plain names only: no `..`, no root, no NUL, not empty.
fn is_safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.contains('\0')
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Whether `path`, symlinks resolved, is inside `root`, symlinks resolved.
fn stays_under(root: &Path, path: &Path) -> bool {
    match (fs::canonicalize(root), fs::canonicalize(path)) {
        (Ok(r), Ok(p)) => p.starts_with(r),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_and_finds_sls_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let root = dir.path().join("base");
        for (p, body) in [
            ("top.sls", "base: {}"),
            ("a.sls", "a: 1"),
            ("web/init.sls", "w: 1"),
            ("web/tls.sls", "t: 1"),
            ("notes.txt", "x"),
        ] {
            let full = root.join(p);
            fs::create_dir_all(full.parent().unwrap_or(&root)).unwrap_or_default();
            fs::write(&full, body).unwrap_or_default();
        }
        fs::write(dir.path().join("secret.sls"), "s: 1").unwrap_or_default();
        let roots = PillarRoots::new(vec![("base".into(), vec![root.clone()])]);
        assert_eq!(roots.list_sls("base"), vec!["a", "top", "web", "web.tls"]);
        assert_eq!(
            roots.find_sls("base", "web"),
            Some((root.join("web/init.sls"), "web/init.sls".into()))
        );
        assert_eq!(
            roots.find_sls("base", "web.tls"),
            Some((root.join("web/tls.sls"), "web/tls.sls".into()))
        );
        assert_eq!(roots.find("base", "../secret.sls"), None);
        assert_eq!(roots.find("base", "/etc/passwd"), None);
        assert_eq!(roots.find_sls("dev", "a"), None);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.sls"), root.join("link.sls"))
                .unwrap_or_default();
            assert_eq!(roots.find_sls("base", "link"), None);
            assert!(!roots.list_sls("base").contains(&"link".to_string()));
        }
    }

    #[test]
    fn from_opts_defaults_and_env_placeholder() {
        assert_eq!(
            PillarRoots::from_opts(&Map::new(), None).dirs("base"),
            &[PathBuf::from("/srv/pillar")]
        );
        let opts = match json!({"pillar_roots": {"base": ["/p/base"], "__env__": ["/p/__env__"]}}) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let roots = PillarRoots::from_opts(&opts, Some("dev"));
        assert_eq!(roots.envs(), vec!["base", "dev"]);
        assert_eq!(roots.dirs("dev"), &[PathBuf::from("/p/dev")]);
        let roots = PillarRoots::from_opts(&opts, Some("base"));
        assert_eq!(roots.envs(), vec!["base"]);
    }
}
