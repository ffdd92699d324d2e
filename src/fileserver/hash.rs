//! The sha256 of served files, cached by what the file looked like (mtime, size, inode), so
//! an unchanged file is read once however often minions ask for its hash.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Entries kept at most; past it the cache starts over (a roots tree that big is rare, and
/// hashing again is only slower, never wrong).
const MAX_ENTRIES: usize = 100_000;

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    mtime_ns: i128,
    size: u64,
    ino: u64,
}

/// Hashes of files by path, valid while their stamp is unchanged.
#[derive(Debug, Default)]
pub struct HashCache {
    entries: HashMap<PathBuf, (Stamp, String)>,
    /// Files read to hash them (tests check that a hit reads nothing).
    pub reads: u64,
}

impl HashCache {
    /// An empty cache.
    pub fn new() -> HashCache {
        HashCache::default()
    }

    /// The sha256 (hex) of the file at `path`.
    pub fn sha256(&mut self, path: &Path) -> std::io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let stamp = Stamp {
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            size: meta.size(),
            ino: meta.ino(),
        };
        if let Some((s, h)) = self.entries.get(path) {
            if *s == stamp {
                return Ok(h.clone());
            }
        }
        let mut f = std::fs::File::open(path)?;
        self.reads += 1;
        let h = crate::crypto::hex(&crate::crypto::sha256_reader(&mut f)?);
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(path.to_path_buf(), (stamp, h.clone()));
        Ok(h)
    }
}
