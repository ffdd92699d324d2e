//! Key files, the master's key store and the auth decision (salt-spec §2.2, §7.4).
//!
//! Keys are text so they read like Salt's: a public key file is
//!
//! ```text
//! -----BEGIN BRINE PUBLIC KEY-----
//! <base64 of box_public(32) || sign_public(32), wrapped at 64 columns>
//! -----END BRINE PUBLIC KEY-----
//! ```
//!
//! and a secret key file holds box_secret(32) || sign_secret(64) between
//! `BRINE PRIVATE KEY` lines. The store keeps one file per minion id in each state
//! directory under `pki_dir`, as Salt does; the directory listings are the truth, because
//! brine-key may change them while the master is down.

mod files;
mod keys;
mod pem;
mod policy;
mod store;

pub use keys::{generate_files, load_or_generate, KeyPair, PublicKey};
pub use pem::fuzz_pem;
pub use policy::{
    authorize, authorize_counted, authorize_limited, AuthDecision, AuthPolicy, AuthReply,
};
pub use store::{sort_ignorecase, KeyState, KeyStore};

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The largest key file the store reads; real ones are a few hundred bytes.
const MAX_KEY_FILE: u64 = 64 << 10;

/// What can go wrong with key files and the key store.
#[derive(Debug)]
pub enum PkiError {
    /// A file system operation failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done ("read", "create", ...).
        op: &'static str,
        /// Why it failed.
        source: io::Error,
    },
    /// A key could not be moved between state directories.
    Move {
        /// Where it was.
        from: PathBuf,
        /// Where it was going.
        to: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// A secret key file that its group or other users can read or write.
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Text that is not a brine key.
    BadKey {
        /// The file it came from, when it came from one.
        path: Option<PathBuf>,
        /// What is wrong with it.
        why: String,
    },
    /// A public key file that does not belong to the secret key beside it.
    Mismatch {
        /// The secret key file.
        secret: PathBuf,
        /// The public key file.
        public: PathBuf,
    },
    /// A file that would have been overwritten.
    Exists(PathBuf),
    /// A minion id (or key name) that cannot be a file name.
    InvalidId(String),
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkiError::Io { path, op, source } => {
                write!(f, "{}: cannot {op}: {source}", path.display())
            }
            PkiError::Move { from, to, source } => write!(
                f,
                "cannot move {} to {}: {source}",
                from.display(),
                to.display()
            ),
            PkiError::Exposed { path, mode } => {
                let who = if mode & 0o004 != 0 {
                    "readable by others"
                } else if mode & 0o002 != 0 {
                    "writable by others"
                } else if mode & 0o040 != 0 {
                    "readable by its group"
                } else if mode & 0o020 != 0 {
                    "writable by its group"
                } else {
                    "accessible to its group or others"
                };
                write!(
                    f,
                    "{} is {who} (mode {:04o}); run chmod 600 on it",
                    path.display(),
                    mode & 0o7777
                )
            }
            PkiError::BadKey {
                path: Some(path),
                why,
            } => write!(f, "{}: {why}", path.display()),
            PkiError::BadKey { path: None, why } => f.write_str(why),
            PkiError::Mismatch { secret, public } => write!(
                f,
                "{} does not belong to {}; remove it to have it written again from the secret key",
                public.display(),
                secret.display()
            ),
            PkiError::Exists(path) => {
                write!(f, "{} already exists; not overwriting it", path.display())
            }
            PkiError::InvalidId(id) => write!(f, "invalid minion id {id:?}"),
        }
    }
}

impl std::error::Error for PkiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PkiError::Io { source, .. } | PkiError::Move { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> PkiError + 'a {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

fn bad(why: impl Into<String>) -> PkiError {
    PkiError::BadKey {
        path: None,
        why: why.into(),
    }
}

/// Whether a minion id can name a key file: non-empty, at most 255 bytes, not `.` or `..`,
/// and without `/`, `\` (Salt refuses it too), NUL or any control character.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id != "."
        && id != ".."
        && !id.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    pub(super) fn store() -> (tempfile::TempDir, KeyStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("pki")).unwrap();
        (dir, store)
    }

    pub(super) fn key() -> PublicKey {
        KeyPair::generate().public
    }

    pub(super) fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn ids_must_be_plain_file_names() {
        for ok in [
            "web1",
            "web1.example.com",
            "a b",
            "ünïcode",
            "-x",
            &"a".repeat(255),
        ] {
            assert!(valid_id(ok), "{ok:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "/",
            "a\\b",
            "a\0b",
            "a\nb",
            "\t",
            "\u{7f}",
            &"a".repeat(256),
        ] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn errors_name_the_path() {
        let e = PkiError::Exposed {
            path: "/etc/brine/pki/master/master.pem".into(),
            mode: 0o100644,
        };
        assert_eq!(
            e.to_string(),
            "/etc/brine/pki/master/master.pem is readable by others (mode 0644); run chmod 600 on it"
        );
        let e = PkiError::Io {
            path: "/x/y".into(),
            op: "read",
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(e.to_string().starts_with("/x/y: cannot read: "));
        assert_eq!(
            PkiError::InvalidId("a\nb".into()).to_string(),
            "invalid minion id \"a\\nb\""
        );
    }
}
