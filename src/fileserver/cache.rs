//! The minion's cache in front of the master's file server: `cachedir/files/<saltenv>/<path>`,
//! downloaded in chunks only when the master's hash differs from the cached file's, written
//! to a temp file, checked against the hash, synced and renamed into place, so a crash or a
//! lying master never leaves a half or wrong file where a state reads it.

use super::hash::HashCache;
use super::roots::clean;
use super::{FsError, Source};
use std::io::Write;
use std::path::PathBuf;

/// Chunks of one file at most (a master that never sends an empty chunk is cut off there:
/// 64 GiB at 1 MiB a chunk).
const MAX_CHUNKS: u64 = 65_536;

/// The master's side of the file server, as the minion reaches it.
pub trait Remote {
    /// The master's sha256 of `salt://path`; None when it has no such file.
    fn file_hash(&mut self, saltenv: &str, path: &str) -> Result<Option<String>, FsError>;
    /// The bytes of `salt://path` from `loc`: `Some(empty)` at the end, None when there is
    /// no such file.
    fn serve_chunk(
        &mut self,
        saltenv: &str,
        path: &str,
        loc: u64,
    ) -> Result<Option<Vec<u8>>, FsError>;
    /// The master's files of `saltenv` under `prefix`.
    fn file_list(&mut self, saltenv: &str, prefix: &str) -> Result<Vec<String>, FsError>;
    /// The saltenvs of the master's `file_roots`.
    fn file_envs(&mut self) -> Result<Vec<String>, FsError>;
}

/// The cache of one minion.
pub struct Cache<R: Remote> {
    cachedir: PathBuf,
    remote: R,
    hashes: HashCache,
    /// Chunks fetched so far (tests check that a cache hit fetches none).
    pub chunks: u64,
}

impl<R: Remote> Cache<R> {
    /// A cache under `cachedir/files` in front of `remote`.
    pub fn new(cachedir: PathBuf, remote: R) -> Cache<R> {
        Cache {
            cachedir,
            remote,
            hashes: HashCache::new(),
            chunks: 0,
        }
    }

    /// Where `salt://path` of `saltenv` is cached; refused for paths or saltenvs that
    /// would leave `cachedir/files` (a hostile master cannot steer the minion's writes).
    pub fn cached_path(&self, saltenv: &str, path: &str) -> Result<PathBuf, FsError> {
        let env_ok = !saltenv.is_empty()
            && !saltenv.contains(['/', '\\', '\0'])
            && saltenv != "."
            && saltenv != "..";
        if !env_ok {
            return Err(FsError::Refused(format!(
                "saltenv {saltenv:?} is not a name"
            )));
        }
        Ok(self.cachedir.join("files").join(saltenv).join(clean(path)?))
    }

    fn download(
        &mut self,
        saltenv: &str,
        path: &str,
        dest: &std::path::Path,
        want: &str,
    ) -> Result<bool, FsError> {
        let io = |what: &str, e: std::io::Error| FsError::Io(format!("salt://{path}: {what}: {e}"));
        let dir = dest.parent().unwrap_or(&self.cachedir).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| io("create the cache directory", e))?;
        let tmp = dir.join(format!(
            ".{}.part.{}",
            dest.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let result = (|| -> Result<bool, FsError> {
            let mut f = std::fs::File::create(&tmp).map_err(|e| io("create", e))?;
            let mut loc = 0u64;
            for _ in 0..MAX_CHUNKS {
                self.chunks += 1;
                match self.remote.serve_chunk(saltenv, path, loc)? {
                    None => return Ok(false),
                    Some(data) if data.is_empty() => {
                        f.sync_all().map_err(|e| io("sync", e))?;
                        let got = self.hashes.sha256(&tmp).map_err(|e| io("hash", e))?;
                        if got != want {
                            return Err(FsError::Remote(format!(
                                "salt://{path}: the file received does not match the master's hash"
                            )));
                        }
                        std::fs::rename(&tmp, dest).map_err(|e| io("rename", e))?;
                        return Ok(true);
                    }
                    Some(data) => {
                        f.write_all(&data).map_err(|e| io("write", e))?;
                        loc += data.len() as u64;
                    }
                }
            }
            Err(FsError::Remote(format!(
                "salt://{path}: the master never ended the file"
            )))
        })();
        if !matches!(result, Ok(true)) {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

impl<R: Remote> Source for Cache<R> {
    fn envs(&mut self) -> Result<Vec<String>, FsError> {
        self.remote.file_envs()
    }

    fn get(&mut self, saltenv: &str, path: &str) -> Result<Option<PathBuf>, FsError> {
        let dest = self.cached_path(saltenv, path)?;
        let Some(want) = self.remote.file_hash(saltenv, path)? else {
            return Ok(None);
        };
        if dest.is_file() && self.hashes.sha256(&dest).ok().as_deref() == Some(want.as_str()) {
            return Ok(Some(dest));
        }
        Ok(self.download(saltenv, path, &dest, &want)?.then_some(dest))
    }

    fn hash(&mut self, saltenv: &str, path: &str) -> Result<Option<String>, FsError> {
        clean(path)?;
        self.remote.file_hash(saltenv, path)
    }

    fn list(&mut self, saltenv: &str) -> Result<Vec<String>, FsError> {
        self.remote.file_list(saltenv, "")
    }
}

#[cfg(test)]
mod tests {
    use super::super::roots::Roots;
    use super::super::serve;
    use super::*;
    use std::collections::BTreeMap;

    /// The master's side in-process: the real roots and serve functions.
    struct Local {
        roots: Roots,
        lie: bool,
    }

    impl Remote for Local {
        fn file_hash(&mut self, env: &str, path: &str) -> Result<Option<String>, FsError> {
            Ok(serve::file_hash(&mut self.roots, env, path)?.map(|(h, _)| h))
        }
        fn serve_chunk(
            &mut self,
            env: &str,
            path: &str,
            loc: u64,
        ) -> Result<Option<Vec<u8>>, FsError> {
            let c = serve::serve_chunk(&mut self.roots, env, path, loc, serve::FILE_BUFFER_SIZE)?;
            Ok(c.map(|mut c| {
                if self.lie && !c.data.is_empty() {
                    c.data[0] ^= 1;
                }
                c.data
            }))
        }
        fn file_list(&mut self, env: &str, prefix: &str) -> Result<Vec<String>, FsError> {
            serve::file_list(&mut self.roots, env, prefix)
        }
        fn file_envs(&mut self) -> Result<Vec<String>, FsError> {
            Ok(self.roots.envs())
        }
    }

    fn setup(lie: bool) -> (tempfile::TempDir, Cache<Local>, Vec<u8>) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let big: Vec<u8> = (0..(10 << 20) + 4321)
            .map(|i: u32| (i * 7 % 251) as u8)
            .collect();
        std::fs::write(root.join("big.bin"), &big).unwrap();
        let mut envs = BTreeMap::new();
        envs.insert("base".to_owned(), vec![root]);
        let roots = Roots::new(envs, &[], &[]).unwrap();
        let cache = Cache::new(d.path().join("cache"), Local { roots, lie });
        (d, cache, big)
    }

    #[test]
    fn a_big_file_comes_in_chunks_once_and_again_when_it_changes() {
        let (d, mut c, big) = setup(false);
        let p = c.get("base", "big.bin").unwrap().unwrap();
        assert_eq!(p, d.path().join("cache/files/base/big.bin"));
        assert!(std::fs::read(&p).unwrap() == big);
        assert_eq!(c.chunks, 12, "11 chunks of data and the empty end");
        c.get("base", "big.bin").unwrap().unwrap();
        assert_eq!(c.chunks, 12, "a second get downloads nothing");
        std::fs::write(d.path().join("root/big.bin"), b"new").unwrap();
        let p = c.get("base", "big.bin").unwrap().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert!(c.get("base", "nope").unwrap().is_none());
        assert!(c.get("../x", "big.bin").is_err() && c.get("base", "../big.bin").is_err());
    }

    #[test]
    fn a_master_that_sends_wrong_bytes_leaves_no_file() {
        let (d, mut c, _) = setup(true);
        let e = c.get("base", "big.bin").unwrap_err();
        assert!(matches!(e, FsError::Remote(_)), "{e:?}");
        let dir = d.path().join("cache/files/base");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
