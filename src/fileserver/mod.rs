//! The file server: `file_roots` on the master (and on a masterless minion), `salt://`
//! URLs, and the minion's cache of what it fetched. Blocking file I/O lives here; callers
//! run it off the event loop (the master's file-server threads, a minion's state child).

pub mod bus_remote;
pub mod cache;
pub mod hash;
mod open;
pub mod roots;
pub mod serve;
pub mod url;

pub use open::{local_roots, open_source};
pub use roots::Roots;

use std::fmt;
use std::path::PathBuf;

/// Why a file-server operation failed or was refused; the text names the path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsError {
    /// The path was refused (traversal, absolute, NUL, a symlink out of its root).
    Refused(String),
    /// The saltenv is not one of `file_roots`.
    UnknownEnv(String),
    /// Reading or writing failed.
    Io(String),
    /// The master (or the channel to it) failed.
    Remote(String),
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::Refused(s) | FsError::Io(s) | FsError::Remote(s) => f.write_str(s),
            FsError::UnknownEnv(e) => write!(f, "saltenv {e:?} is not in file_roots"),
        }
    }
}

impl std::error::Error for FsError {}

/// Where `salt://` files come from for a state run or a `cp.*` call: the roots themselves
/// (masterless, or on the master) or the minion's cache in front of the master.
pub trait Source {
    /// A local path holding `salt://<path>` of `saltenv` (the file under its root, or the
    /// cached copy, fetched when its hash differs); `None` when no root has it.
    fn get(&mut self, saltenv: &str, path: &str) -> Result<Option<PathBuf>, FsError>;
    /// The sha256 (hex) of `salt://<path>`; `None` when no root has it.
    fn hash(&mut self, saltenv: &str, path: &str) -> Result<Option<String>, FsError>;
    /// Every file of `saltenv`, as relative paths in sorted order.
    fn list(&mut self, saltenv: &str) -> Result<Vec<String>, FsError>;
    /// The saltenvs there are, in name order.
    fn envs(&mut self) -> Result<Vec<String>, FsError>;
}
