//! The master's key store: one file per minion id in each state directory under `pki_dir`
//! (accepted, pending, rejected, denied), the listings being the truth.

use super::files::{create_dir, read_capped, write_atomic};
use super::{io_err, valid_id, PkiError, MAX_KEY_FILE};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The state of a minion key, in Salt's listing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyState {
    /// `minions/`: the minion may talk to the master.
    Accepted,
    /// `minions_denied/`: a known id presented a different key.
    Denied,
    /// `minions_pre/`: waiting for a decision ("Unaccepted").
    Pending,
    /// `minions_rejected/`: refused.
    Rejected,
}

impl KeyState {
    /// Every state, in the order salt-key lists them.
    pub const ALL: [KeyState; 4] = [
        KeyState::Accepted,
        KeyState::Denied,
        KeyState::Pending,
        KeyState::Rejected,
    ];

    /// The directories in the order Salt's key API walks them (and returns them).
    pub const DIR_ORDER: [KeyState; 4] = [
        KeyState::Accepted,
        KeyState::Pending,
        KeyState::Rejected,
        KeyState::Denied,
    ];

    /// The directory under `pki_dir`, also the key of this state in wheel returns.
    pub fn dir_name(self) -> &'static str {
        match self {
            KeyState::Accepted => "minions",
            KeyState::Denied => "minions_denied",
            KeyState::Pending => "minions_pre",
            KeyState::Rejected => "minions_rejected",
        }
    }

    /// The section header salt-key prints.
    pub fn title(self) -> &'static str {
        match self {
            KeyState::Accepted => "Accepted Keys:",
            KeyState::Denied => "Denied Keys:",
            KeyState::Pending => "Unaccepted Keys:",
            KeyState::Rejected => "Rejected Keys:",
        }
    }

    /// The state a `salt-key -l` argument names: it starts with `acc`, `pre` or `un`,
    /// `rej` or `den` (so `accepted`, `unaccepted`, `rejected`, `denied` work); `all` is
    /// not a state.
    pub fn from_name(s: &str) -> Option<KeyState> {
        if s.starts_with("acc") {
            Some(KeyState::Accepted)
        } else if s.starts_with("pre") || s.starts_with("un") {
            Some(KeyState::Pending)
        } else if s.starts_with("rej") {
            Some(KeyState::Rejected)
        } else if s.starts_with("den") {
            Some(KeyState::Denied)
        } else {
            None
        }
    }

    /// The state whose directory is `name` (`minions_pre` is Pending).
    pub fn from_dir_name(name: &str) -> Option<KeyState> {
        KeyState::ALL.into_iter().find(|s| s.dir_name() == name)
    }
}

/// What is at a key's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    Missing,
    File,
    Other,
}

/// Salt's `sorted_ignorecase`, with a fixed order for names that differ only in case.
pub fn sort_ignorecase(names: &mut [String]) {
    names.sort_by(|a, b| {
        a.to_lowercase()
            .cmp(&b.to_lowercase())
            .then_with(|| a.cmp(b))
    });
}

/// The master's key store under `pki_dir`: one file per minion id in each state directory.
#[derive(Clone, Debug)]
pub struct KeyStore {
    pki_dir: PathBuf,
}

impl KeyStore {
    /// Opens the store, creating `pki_dir` and the four state directories (0700) if missing.
    pub fn open(pki_dir: &Path) -> Result<KeyStore, PkiError> {
        create_dir(pki_dir)?;
        for s in KeyState::ALL {
            create_dir(&pki_dir.join(s.dir_name()))?;
        }
        Ok(KeyStore {
            pki_dir: pki_dir.to_path_buf(),
        })
    }

    /// The directory the store lives in.
    pub fn pki_dir(&self) -> &Path {
        &self.pki_dir
    }

    /// The file of `id` in `state`, once `id` is known to be a safe file name.
    pub fn path(&self, state: KeyState, id: &str) -> Result<PathBuf, PkiError> {
        if !valid_id(id) {
            return Err(PkiError::InvalidId(id.to_string()));
        }
        Ok(self.pki_dir.join(state.dir_name()).join(id))
    }

    pub(super) fn entry(&self, state: KeyState, id: &str) -> Result<Entry, PkiError> {
        let path = self.path(state, id)?;
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Entry::File),
            Ok(_) => Ok(Entry::Other),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
            Err(e) => Err(io_err(&path, "read")(e)),
        }
    }

    /// Whether `id` has a key file in `state`.
    pub fn contains(&self, state: KeyState, id: &str) -> Result<bool, PkiError> {
        Ok(self.entry(state, id)? == Entry::File)
    }

    /// The ids in `state`, sorted case-insensitively as salt-key sorts; dot files (our
    /// temp files among them), anything that is not a file and non-UTF-8 names are skipped.
    pub fn list(&self, state: KeyState) -> Result<Vec<String>, PkiError> {
        let dir = self.pki_dir.join(state.dir_name());
        let mut ids = list_files(&dir, valid_id)?;
        sort_ignorecase(&mut ids);
        Ok(ids)
    }

    /// The PEM text of `id`'s key in `state`, if it has one.
    pub fn get(&self, state: KeyState, id: &str) -> Result<Option<String>, PkiError> {
        let path = self.path(state, id)?;
        match read_capped(&path, MAX_KEY_FILE) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, "read")(e)),
        }
    }

    /// Stores `pem` as `id`'s key in `state`, replacing any key there atomically.
    pub fn put(&self, state: KeyState, id: &str, pem: &str) -> Result<(), PkiError> {
        let path = self.path(state, id)?;
        write_atomic(&path, pem.as_bytes(), 0o644)
    }

    /// Removes `id`'s key from `state`; false when it had none.
    pub fn remove(&self, state: KeyState, id: &str) -> Result<bool, PkiError> {
        let path = self.path(state, id)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(&path, "remove")(e)),
        }
    }

    /// Moves `id`'s key from one state to another, replacing any key it had there.
    pub fn move_key(&self, from: KeyState, to: KeyState, id: &str) -> Result<(), PkiError> {
        let (src, dst) = (self.path(from, id)?, self.path(to, id)?);
        fs::rename(&src, &dst).map_err(|source| PkiError::Move {
            from: src,
            to: dst,
            source,
        })
    }

    /// How many keys are in `state`.
    pub fn count(&self, state: KeyState) -> Result<usize, PkiError> {
        let dir = self.pki_dir.join(state.dir_name());
        Ok(list_files(&dir, valid_id)?.len())
    }

    /// The master's own key files (`*.pem`, `*.pub` directly in `pki_dir`), sorted as
    /// salt-key sorts them: its "Local Keys".
    pub fn local_keys(&self) -> Result<Vec<String>, PkiError> {
        let mut names = list_files(&self.pki_dir, |name| {
            name.ends_with(".pem") || name.ends_with(".pub")
        })?;
        sort_ignorecase(&mut names);
        Ok(names)
    }

    /// The text of one of the master's own key files.
    pub fn get_local(&self, name: &str) -> Result<Option<String>, PkiError> {
        if !valid_id(name) {
            return Err(PkiError::InvalidId(name.to_string()));
        }
        let path = self.pki_dir.join(name);
        match read_capped(&path, MAX_KEY_FILE) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, "read")(e)),
        }
    }
}

/// Regular files in `dir` whose names pass `keep`, skipping dot files and non-UTF-8 names.
fn list_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<String>, PkiError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        // Salt treats a state directory that does not exist yet as empty.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(dir, "list")(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(dir, "list"))?;
        let Ok(name) = entry.file_name().into_string() else {
            log::warn!("{}: ignoring a file whose name is not UTF-8", dir.display());
            continue;
        };
        if name.starts_with('.') || !keep(&name) {
            continue;
        }
        // The directory entry's type costs no system call; only a symlink is followed
        // (as Salt's isfile does), with a stat.
        let is_file = match entry.file_type() {
            Ok(t) if t.is_symlink() => fs::metadata(entry.path()).is_ok_and(|m| m.is_file()),
            Ok(t) => t.is_file(),
            Err(_) => false,
        };
        if is_file {
            out.push(name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::load_or_generate;
    use crate::pki::tests::{key, mode, store};

    #[test]
    fn state_names_as_salt_key_takes_them() {
        for (name, state) in [
            ("acc", KeyState::Accepted),
            ("accepted", KeyState::Accepted),
            ("un", KeyState::Pending),
            ("unaccepted", KeyState::Pending),
            ("pre", KeyState::Pending),
            ("rej", KeyState::Rejected),
            ("rejected", KeyState::Rejected),
            ("den", KeyState::Denied),
            ("denied", KeyState::Denied),
        ] {
            assert_eq!(KeyState::from_name(name), Some(state), "{name}");
        }
        for name in ["all", "a", "", "foo-acc", "ACC"] {
            assert_eq!(KeyState::from_name(name), None, "{name}");
        }
        let titles: Vec<_> = KeyState::ALL.iter().map(|s| s.title()).collect();
        assert_eq!(
            titles,
            [
                "Accepted Keys:",
                "Denied Keys:",
                "Unaccepted Keys:",
                "Rejected Keys:"
            ]
        );
        let mut sorted = KeyState::ALL;
        sorted.sort();
        assert_eq!(sorted, KeyState::ALL);
        assert_eq!(
            KeyState::from_dir_name("minions_pre"),
            Some(KeyState::Pending)
        );
    }

    #[test]
    fn the_store_lists_sorted_ignoring_case_and_skips_temp_files() {
        let (_tmp, s) = store();
        for st in KeyState::ALL {
            assert_eq!(mode(&s.pki_dir().join(st.dir_name())), 0o700);
        }
        let pem = key().to_pem();
        for id in ["b", "A", "c", "a", "B"] {
            s.put(KeyState::Pending, id, &pem).unwrap();
        }
        let dir = s.pki_dir().join("minions_pre");
        fs::write(dir.join(".web1.tmp"), "x").unwrap();
        fs::create_dir(dir.join("subdir")).unwrap();
        assert_eq!(
            s.list(KeyState::Pending).unwrap(),
            ["A", "a", "B", "b", "c"]
        );
        assert_eq!(s.count(KeyState::Pending).unwrap(), 5);
        assert_eq!(
            s.get(KeyState::Pending, "a").unwrap().as_deref(),
            Some(pem.as_str())
        );
        assert_eq!(s.get(KeyState::Accepted, "a").unwrap(), None);
        s.move_key(KeyState::Pending, KeyState::Accepted, "a")
            .unwrap();
        assert_eq!(s.list(KeyState::Accepted).unwrap(), ["a"]);
        assert!(s
            .move_key(KeyState::Pending, KeyState::Accepted, "a")
            .is_err());
        assert!(s.remove(KeyState::Accepted, "a").unwrap());
        assert!(!s.remove(KeyState::Accepted, "a").unwrap());
        assert!(matches!(
            s.put(KeyState::Pending, "../x", &pem),
            Err(PkiError::InvalidId(_))
        ));
        assert!(matches!(
            s.get(KeyState::Pending, ".."),
            Err(PkiError::InvalidId(_))
        ));
        // An oversized file is an error, not a memory hog.
        fs::write(dir.join("big"), vec![b'x'; 70_000]).unwrap();
        assert!(s.get(KeyState::Pending, "big").is_err());
    }

    #[test]
    fn local_keys_are_the_pem_and_pub_files_in_pki_dir() {
        let (_tmp, s) = store();
        load_or_generate(s.pki_dir(), "master").unwrap();
        fs::write(s.pki_dir().join("notes.txt"), "x").unwrap();
        assert_eq!(s.local_keys().unwrap(), ["master.pem", "master.pub"]);
        assert!(s.get_local("master.pub").unwrap().is_some());
        assert!(s.get_local("nope.pub").unwrap().is_none());
    }
}
