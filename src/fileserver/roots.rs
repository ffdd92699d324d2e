//! `file_roots` resolution: which file `salt://<path>` of a saltenv is, refusing every path
//! that could leave its root (the CVE-2020-11652 / CVE-2024-22232 class): absolute paths,
//! `..`, NUL bytes, and symlinks whose target is outside the root. Errors name the
//! `salt://` path and why, never a directory of the master.

use super::hash::HashCache;
use super::{FsError, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// Directories deeper than this are not listed (a guard against loops of bind mounts).
const MAX_DEPTH: usize = 64;
/// Files listed per saltenv at most.
const MAX_FILES: usize = 1_000_000;

/// The roots of each saltenv, with the ignore lists and a hash cache.
#[derive(Debug)]
pub struct Roots {
    envs: BTreeMap<String, Vec<PathBuf>>,
    ignore_regex: Vec<regex::Regex>,
    ignore_glob: Vec<String>,
    /// Hashes of served files, by mtime.
    pub hashes: HashCache,
    /// Each root's real path, resolved once: a state run asks for thousands of files.
    real_roots: BTreeMap<PathBuf, PathBuf>,
}

impl Roots {
    /// Roots for `envs` (saltenv -> directories, first wins); a bad regex is an error
    /// naming it.
    pub fn new(
        envs: BTreeMap<String, Vec<PathBuf>>,
        ignore_regex: &[String],
        ignore_glob: &[String],
    ) -> Result<Roots, FsError> {
        let mut res = Vec::new();
        for r in ignore_regex {
            res.push(
                regex::Regex::new(r)
                    .map_err(|e| FsError::Refused(format!("file_ignore_regex {r:?}: {e}")))?,
            );
        }
        Ok(Roots {
            envs,
            ignore_regex: res,
            ignore_glob: ignore_glob.to_vec(),
            hashes: HashCache::new(),
            real_roots: BTreeMap::new(),
        })
    }

    /// The saltenvs these roots serve, in name order (`__env__` left out: it stands for any).
    pub fn envs(&self) -> Vec<String> {
        self.envs
            .keys()
            .filter(|e| *e != "__env__")
            .cloned()
            .collect()
    }

    /// The directories of `saltenv` (a `__env__` root stands for any saltenv).
    fn dirs(&self, saltenv: &str) -> Result<&[PathBuf], FsError> {
        self.envs
            .get(saltenv)
            .or_else(|| self.envs.get("__env__"))
            .map(Vec::as_slice)
            .ok_or_else(|| FsError::UnknownEnv(saltenv.to_owned()))
    }

    fn ignored(&self, rel: &str) -> bool {
        self.ignore_regex.iter().any(|r| r.is_match(rel))
            || self
                .ignore_glob
                .iter()
                .any(|g| crate::matcher::fnmatch(rel, g))
    }

    /// The file under the first root of `saltenv` that holds `path`, or None.
    pub fn find(&mut self, saltenv: &str, path: &str) -> Result<Option<PathBuf>, FsError> {
        let rel = clean(path)?;
        let dirs = self.dirs(saltenv)?.to_vec();
        if self.ignored(&rel) {
            return Ok(None);
        }
        for root in dirs {
            // A root that does not exist yet is looked up again next time.
            let root = match self.real_roots.get(&root) {
                Some(real) => real.clone(),
                None => match root.canonicalize() {
                    Ok(real) => {
                        self.real_roots.insert(root, real.clone());
                        real
                    }
                    Err(_) => continue,
                },
            };
            let candidate = root.join(&rel);
            // Without a symlink on the way (lstat of each component under the root) the
            // path is already real; only a link needs resolving and checking.
            let mut linked = false;
            let mut missing = false;
            let mut at = root.clone();
            for comp in Path::new(&rel).components() {
                at.push(comp);
                match std::fs::symlink_metadata(&at) {
                    Ok(m) if m.file_type().is_symlink() => {
                        linked = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        missing = true;
                        break;
                    }
                }
            }
            if missing {
                continue;
            }
            if !linked {
                if std::fs::metadata(&candidate).is_ok_and(|m| m.is_file()) {
                    return Ok(Some(candidate));
                }
                continue;
            }
            let real = candidate
                .canonicalize()
                .map_err(|_| FsError::Refused(format!("salt://{rel}: a dangling symlink")))?;
            if !real.starts_with(&root) {
                return Err(FsError::Refused(format!(
                    "salt://{rel}: a symlink that leaves its root"
                )));
            }
            if real.is_file() {
                return Ok(Some(real));
            }
        }
        Ok(None)
    }

    /// Every file of `saltenv` as relative paths, sorted (first root wins).
    pub fn files(&self, saltenv: &str) -> Result<Vec<String>, FsError> {
        let mut out = BTreeSet::new();
        for root in self.dirs(saltenv)? {
            let Ok(root) = root.canonicalize() else {
                continue;
            };
            walk(&root, &root, "", 0, &mut out);
        }
        Ok(out.into_iter().filter(|r| !self.ignored(r)).collect())
    }
}

/// Adds the files under `dir` (relative prefix `rel`) that stay inside `root`.
fn walk(root: &Path, dir: &Path, rel: &str, depth: usize, out: &mut BTreeSet<String>) {
    if depth > MAX_DEPTH || out.len() >= MAX_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let Ok(real) = e.path().canonicalize() else {
            continue;
        };
        if !real.starts_with(root) {
            continue;
        }
        if real.is_dir() {
            // A link back up the tree would loop: only real directories are descended.
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(root, &real, &r, depth + 1, out);
            }
        } else if real.is_file() {
            out.insert(r);
        }
    }
}

/// A `salt://` path as a clean relative path, or why it is refused.
pub fn clean(path: &str) -> Result<String, FsError> {
    let refuse = |why: &str| {
        FsError::Refused(format!(
            "salt://{}: {why}",
            path.replace('\0', "\\0")
                .chars()
                .take(200)
                .collect::<String>()
        ))
    };
    if path.contains('\0') {
        return Err(refuse("a NUL byte in the path"));
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(refuse("an absolute path"));
    }
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse("'..' leaves the root")),
            Component::RootDir | Component::Prefix(_) => return Err(refuse("an absolute path")),
        }
    }
    if parts.is_empty() {
        return Err(refuse("an empty path"));
    }
    Ok(parts.join("/"))
}

impl Source for Roots {
    fn envs(&mut self) -> Result<Vec<String>, FsError> {
        Ok(Roots::envs(self))
    }

    fn get(&mut self, saltenv: &str, path: &str) -> Result<Option<PathBuf>, FsError> {
        self.find(saltenv, path)
    }

    fn hash(&mut self, saltenv: &str, path: &str) -> Result<Option<String>, FsError> {
        let Some(p) = self.find(saltenv, path)? else {
            return Ok(None);
        };
        self.hashes
            .sha256(&p)
            .map(Some)
            .map_err(|e| FsError::Io(format!("salt://{path}: {e}")))
    }

    fn list(&mut self, saltenv: &str) -> Result<Vec<String>, FsError> {
        self.files(saltenv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, Roots) {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::create_dir_all(a.join("sub")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("one"), "a1").unwrap();
        std::fs::write(b.join("one"), "b1").unwrap();
        std::fs::write(b.join("two"), "b2").unwrap();
        std::fs::write(a.join("sub/x.secret"), "s").unwrap();
        std::fs::write(a.join("sub/keep.txt"), "k").unwrap();
        std::fs::write(d.path().join("outside"), "o").unwrap();
        std::os::unix::fs::symlink("/etc", a.join("etc")).unwrap();
        std::os::unix::fs::symlink("../outside", a.join("escape")).unwrap();
        std::os::unix::fs::symlink("sub/keep.txt", a.join("link")).unwrap();
        std::os::unix::fs::symlink(".", a.join("sub/loop")).unwrap();
        let mut envs = BTreeMap::new();
        envs.insert("base".to_owned(), vec![a, b]);
        let r = Roots::new(envs, &["\\.secret$".to_owned()], &["*.bak".to_owned()]).unwrap();
        (d, r)
    }

    #[test]
    fn first_root_wins_and_listing_is_sorted_and_filtered() {
        let (_d, mut r) = tree();
        let p = r.get("base", "one").unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(p).unwrap(), "a1");
        assert!(r.get("base", "two").unwrap().is_some());
        assert_eq!(
            r.list("base").unwrap(),
            ["link", "one", "sub/keep.txt", "two"],
            "no secrets, no links out, no loops"
        );
        assert!(r.get("base", "sub/x.secret").unwrap().is_none());
        assert_eq!(
            std::fs::read_to_string(r.get("base", "link").unwrap().unwrap()).unwrap(),
            "k"
        );
    }

    #[test]
    fn every_escape_is_refused_without_naming_a_directory() {
        let (d, mut r) = tree();
        let dir = d.path().display().to_string();
        for bad in [
            "../outside",
            "sub/../../outside",
            "/etc/passwd",
            "etc/passwd",
            "escape",
            "one\0x",
            "",
        ] {
            let e = r.get("base", bad).unwrap_err();
            assert!(matches!(e, FsError::Refused(_)), "{bad:?}: {e:?}");
            assert!(!e.to_string().contains(&dir), "{e}");
        }
        let e = r.get("nosuch", "one").unwrap_err();
        assert_eq!(e, FsError::UnknownEnv("nosuch".into()));
        assert!(!e.to_string().contains(&dir));
        assert!(Roots::new(BTreeMap::new(), &["(".into()], &[]).is_err());
    }

    #[test]
    fn a_hash_is_read_once_while_the_file_is_unchanged() {
        let (d, mut r) = tree();
        let h1 = r.hash("base", "two").unwrap().unwrap();
        assert_eq!(h1, crate::crypto::hex(&crate::crypto::sha256(b"b2")));
        let h2 = r.hash("base", "two").unwrap().unwrap();
        assert_eq!((h1.clone(), r.hashes.reads), (h2, 1));
        std::fs::write(d.path().join("b/two"), "changed!").unwrap();
        let h3 = r.hash("base", "two").unwrap().unwrap();
        assert_ne!(h1, h3);
        assert_eq!(r.hashes.reads, 2);
    }
}
