//! The reactor's files, read and watched for a core (master or minion): the rule map that
//! `reactor:` may name is read at start and on SIGHUP; the SLS files the rules name are read
//! once, then again when inotify reports a change in their directory. So an edited reactor
//! file takes effect for the next matching event, as in Salt, without a `stat` per event in
//! the loop turn.

use crate::reactor::engine::{self, is_glob, Rule, Source, MAX_FILE};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What changes in a watched directory: entries made, removed, renamed, written, or their
/// attributes (a `chmod` can make a file readable).
const MASK: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MODIFY
    | libc::IN_CLOSE_WRITE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;

/// Reads `reactor:` for a core: the inline list, or the map file it names (errors are
/// logged, naming file and line; the broken entries are left out).
pub fn read_rules(reactor: &Value, conf_dir: &Path) -> Vec<Rule> {
    let (rules, errors) = engine::load_rules(reactor, conf_dir, |path| {
        std::fs::read(path).map_err(|e| e.to_string())
    });
    for e in errors {
        log::error!("{e}");
    }
    rules
}

/// What a file looked like when last read: enough to tell an edit (or why it was unreadable).
type Stamp = Result<Seen, String>;

/// A file's identity, size and times: an edit, a replacement by rename or a `chmod` changes
/// one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// The files of one core's reactor, and the inotify watches on their directories.
pub struct ReactorFiles {
    /// The inotify instance; `None` where the kernel refused one (then edits need SIGHUP).
    fd: Option<OwnedFd>,
    /// Watched directories and their watch descriptors (two paths to one directory, such
    /// as `.` and its absolute path, share one).
    dirs: HashMap<PathBuf, i32>,
    /// The SLS entries the rules name.
    sources: Vec<String>,
    /// Every file handed to the core, with what it looked like then.
    files: HashMap<PathBuf, Stamp>,
    /// What each glob entry expanded to when last handed over.
    globs: HashMap<String, Result<Vec<PathBuf>, String>>,
    /// inotify said something changed; the loop has not looked yet.
    pending: bool,
    /// The master's `file_roots`, where `salt://` entries are found (None: they are refused).
    roots: Option<crate::fileserver::Roots>,
}

impl ReactorFiles {
    /// A watcher registered with the loop's poll under `token`; without inotify it still
    /// reads the files (once per change of the rules).
    pub fn new(registry: &Registry, token: Token) -> ReactorFiles {
        // SAFETY: inotify_init1 takes flags only; a non-negative result is a new descriptor
        // this process owns.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        let fd = if raw < 0 {
            log::warn!(
                "reactor: cannot watch its files ({}); an edited reactor file takes effect after SIGHUP",
                io::Error::last_os_error()
            );
            None
        } else {
            // SAFETY: `raw` is a fresh descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            match registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE) {
                Ok(()) => Some(fd),
                Err(e) => {
                    log::warn!("reactor: cannot poll its file watch ({e}); an edited reactor file takes effect after SIGHUP");
                    None
                }
            }
        };
        ReactorFiles {
            fd,
            dirs: HashMap::new(),
            sources: Vec::new(),
            files: HashMap::new(),
            globs: HashMap::new(),
            pending: false,
            roots: None,
        }
    }

    /// The loop saw the watch readable.
    pub fn on_ready(&mut self) {
        self.pending = true;
    }

    /// The rules changed: read (and watch) what these SLS entries name. Returns what the
    /// core must be told.
    pub fn track(&mut self, sources: Vec<String>) -> Vec<Source> {
        self.sources = sources;
        self.drain();
        self.refresh()
    }

    /// What changed in the watched directories since the last call. The loop calls this
    /// every turn before the core reacts, so a file written before an event was sent is read
    /// before that event is handled; with nothing queued it costs one `read` that finds
    /// nothing (the readiness edge alone could come a turn late when many sources are ready).
    pub fn changed(&mut self) -> Vec<Source> {
        let pending = std::mem::take(&mut self.pending);
        // A core without reactor rules watches nothing: its turns cost no system call here.
        if self.dirs.is_empty() && !pending {
            return Vec::new();
        }
        if !self.drain() && !pending {
            return Vec::new();
        }
        self.refresh()
    }

    /// One turn's worth: what changed on disk, then, when the core's rules changed
    /// (`wanted`, from its `take_reactor_sources`), what those name.
    pub fn poll(&mut self, wanted: Option<Vec<String>>) -> Vec<Source> {
        let mut sources = self.changed();
        if let Some(wanted) = wanted {
            sources.extend(self.track(wanted));
        }
        sources
    }

    /// Reads the queued inotify events; true when there were any. Only removed watches
    /// need their details: any other event means "look again".
    fn drain(&mut self) -> bool {
        let Some(fd) = &self.fd else {
            return false;
        };
        let mut any = false;
        // inotify_event is 16 bytes plus a name; a 4 KiB read holds many.
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads into a buffer we own, of its length, from our descriptor.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            any = true;
            let mut at = 0usize;
            let n = n as usize;
            while at + 16 <= n {
                let word = |i: usize| {
                    let b = &buf[at + i..at + i + 4];
                    [b[0], b[1], b[2], b[3]]
                };
                let wd = i32::from_ne_bytes(word(0));
                let mask = u32::from_ne_bytes(word(4));
                let len = u32::from_ne_bytes(word(12)) as usize;
                if mask & libc::IN_IGNORED != 0 {
                    self.dirs.retain(|_, w| *w != wd);
                }
                at += 16 + len;
            }
        }
        any
    }

    /// The master's `file_roots`, for `salt://` entries; they are looked up again.
    pub fn set_roots(&mut self, roots: Option<crate::fileserver::Roots>) {
        self.roots = roots;
        self.pending = true;
    }

    /// The file a `salt://` entry names under the file roots, as a one-file "glob".
    fn resolve(&mut self, sls: &str) -> Result<Vec<PathBuf>, String> {
        use crate::fileserver::Source as _;
        let Some(roots) = self.roots.as_mut() else {
            return Err(format!(
                "{sls}: this daemon has no file_roots to serve salt:// from"
            ));
        };
        let Some((path, env)) = crate::fileserver::url::split_url(sls) else {
            return Err(format!("{sls}: not a salt:// URL"));
        };
        let env = env.unwrap_or_else(|| "base".to_owned());
        match roots.get(&env, &path) {
            Ok(Some(p)) => Ok(vec![p]),
            Ok(None) => Err(format!("{sls}: no such file in file_roots (saltenv {env})")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Looks at every file and glob again; returns what differs from what the core has.
    fn refresh(&mut self) -> Vec<Source> {
        let mut out = Vec::new();
        let mut wanted: BTreeSet<PathBuf> = BTreeSet::new();
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
        for sls in &self.sources {
            // Resolved against the file roots below.
            if sls.starts_with("salt://") {
                continue;
            }
            if !is_glob(sls) {
                wanted.insert(PathBuf::from(sls));
                continue;
            }
            let found = expand(sls);
            if let Ok(paths) = &found {
                wanted.extend(paths.iter().cloned());
            }
            dirs.insert(existing_dir(&literal_prefix(sls)));
            if self.globs.get(sls) != Some(&found) {
                self.globs.insert(sls.clone(), found.clone());
                out.push(Source::Glob(sls.clone(), found));
            }
        }
        let salt: Vec<String> = self
            .sources
            .iter()
            .filter(|s| s.starts_with("salt://"))
            .cloned()
            .collect();
        for sls in salt {
            let found = self.resolve(&sls);
            if let Ok(paths) = &found {
                wanted.extend(paths.iter().cloned());
            }
            if self.globs.get(&sls) != Some(&found) {
                self.globs.insert(sls.clone(), found.clone());
                out.push(Source::Glob(sls, found));
            }
        }
        let sources = &self.sources;
        self.globs.retain(|sls, _| sources.contains(sls));
        for path in &wanted {
            dirs.insert(existing_dir(path.parent().unwrap_or(Path::new("."))));
            let stamp = stamp(path);
            if self.files.get(path) == Some(&stamp) {
                continue;
            }
            out.push(Source::File(path.clone(), read(path)));
            self.files.insert(path.clone(), stamp);
        }
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !wanted.contains(*p))
            .cloned()
            .collect();
        for path in gone {
            self.files.remove(&path);
            out.push(Source::Gone(path));
        }
        self.watch(&dirs);
        out
    }

    /// Watches exactly these directories.
    fn watch(&mut self, dirs: &BTreeSet<PathBuf>) {
        let Some(fd) = &self.fd else {
            return;
        };
        let stale: Vec<PathBuf> = self
            .dirs
            .keys()
            .filter(|d| !dirs.contains(*d))
            .cloned()
            .collect();
        for dir in stale {
            let Some(wd) = self.dirs.remove(&dir) else {
                continue;
            };
            // The kernel watches the directory, not the path: keep it for another path to it.
            if !self.dirs.values().any(|w| *w == wd) {
                // SAFETY: removes a watch of our own descriptor; a stale wd only fails.
                unsafe { libc::inotify_rm_watch(fd.as_raw_fd(), wd) };
            }
        }
        for dir in dirs {
            if self.dirs.contains_key(dir) {
                continue;
            }
            let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
                continue;
            };
            // SAFETY: a NUL-terminated path and our own descriptor.
            let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), MASK) };
            if wd < 0 {
                crate::log_limited!(
                    Warn,
                    format!("reactor:watch:{}", dir.display()),
                    "reactor: cannot watch {} ({}); an edit there takes effect after SIGHUP",
                    dir.display(),
                    io::Error::last_os_error()
                );
                continue;
            }
            self.dirs.insert(dir.clone(), wd);
        }
    }
}

/// A file's identity and times, or why it cannot be looked at.
fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).map_err(|e| e.to_string())?;
    Ok(Seen {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}

/// A reactor SLS file's text, or why it cannot be used (the engine's error lines show it).
fn read(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    if meta.len() > MAX_FILE {
        return Err(format!("larger than {MAX_FILE} bytes"));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE {
        return Err(format!("larger than {MAX_FILE} bytes"));
    }
    Ok(text)
}

/// The files a glob entry matches, sorted.
fn expand(sls: &str) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = glob::glob(sls)
        .map_err(|e| format!("bad file glob: {e}"))?
        .filter_map(Result::ok)
        .collect();
    out.sort();
    Ok(out)
}

/// The directories of a glob before its first wildcard (`/srv/reactor` of
/// `/srv/reactor/*/x.sls`).
fn literal_prefix(glob: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for part in Path::new(glob).components() {
        if is_glob(&part.as_os_str().to_string_lossy()) {
            break;
        }
        out.push(part);
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// The nearest directory at or above `dir` that exists: a file in a directory not made yet
/// is seen when its parents are.
fn existing_dir(dir: &Path) -> PathBuf {
    let mut at = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    loop {
        if at.is_dir() {
            return at.to_owned();
        }
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => return PathBuf::from("."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_is_watched_from_its_literal_part() {
        assert_eq!(literal_prefix("/srv/r/*/x.sls"), PathBuf::from("/srv/r"));
        assert_eq!(literal_prefix("*.sls"), PathBuf::from("."));
        assert_eq!(literal_prefix("a/b[12].sls"), PathBuf::from("a"));
    }

    #[test]
    fn a_missing_directory_is_watched_from_its_nearest_parent() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        assert_eq!(existing_dir(&deep), dir.path());
    }

    #[test]
    fn two_paths_to_one_directory_share_a_watch_that_outlives_either() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let one = real.join("one.sls");
        let two = dir.path().join("link/two.sls");
        std::fs::write(&one, "1").unwrap();
        std::fs::write(&two, "2").unwrap();
        let poll = mio::Poll::new().unwrap();
        let mut files = ReactorFiles::new(poll.registry(), Token(9));
        files.track(vec![one.display().to_string(), two.display().to_string()]);
        // Dropping the path through the link must not drop the kernel's watch on the
        // directory, which the other path still needs: no IN_IGNORED comes of it.
        assert_eq!(
            files.track(vec![one.display().to_string()]),
            vec![Source::Gone(two)]
        );
        assert!(!files.drain(), "the shared watch was removed");
        std::fs::write(&one, "edited").unwrap();
        assert_eq!(
            files.changed(),
            vec![Source::File(one, Ok("edited".into()))]
        );
    }

    #[test]
    fn a_core_without_rules_reads_nothing() {
        let poll = mio::Poll::new().unwrap();
        let mut files = ReactorFiles::new(poll.registry(), Token(9));
        assert!(files.track(Vec::new()).is_empty());
        assert!(files.changed().is_empty());
        assert!(files.dirs.is_empty());
    }

    #[test]
    fn edits_creations_and_removals_reach_the_core_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let poll = mio::Poll::new().unwrap();
        let mut files = ReactorFiles::new(poll.registry(), Token(9));
        let a = dir.path().join("a.sls");
        let glob = format!("{}/g/*.sls", dir.path().display());
        std::fs::write(&a, "one").unwrap();
        let first = files.track(vec![a.display().to_string(), glob.clone()]);
        assert!(first.contains(&Source::File(a.clone(), Ok("one".into()))));
        assert!(first.contains(&Source::Glob(glob.clone(), Ok(Vec::new()))));
        assert!(files.changed().is_empty(), "nothing pending, nothing read");

        std::fs::write(&a, "two").unwrap();
        std::fs::create_dir(dir.path().join("g")).unwrap();
        std::fs::write(dir.path().join("g/x.sls"), "x").unwrap();
        files.on_ready();
        let mut seen = files.changed();
        // Had x come after the look that saw g made, the watch on g added then finds it.
        seen.extend(files.changed());
        let x = dir.path().join("g/x.sls");
        assert!(seen.contains(&Source::File(a.clone(), Ok("two".into()))));
        assert!(seen.contains(&Source::Glob(glob.clone(), Ok(vec![x.clone()]))));
        assert!(seen.contains(&Source::File(x.clone(), Ok("x".into()))));

        std::fs::remove_file(&a).unwrap();
        files.on_ready();
        let seen = files.changed();
        assert!(matches!(&seen[..], [Source::File(p, Err(_))] if *p == a));

        let dropped = files.track(vec![a.display().to_string()]);
        assert_eq!(dropped, vec![Source::Gone(x)]);
    }
}
