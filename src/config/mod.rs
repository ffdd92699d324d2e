//! Daemon configuration: `DIR/master` then `DIR/master.d/*.conf` (and the same for the minion),
//! YAML with Salt's key names and defaults.
//!
//! Each daemon has one declarative table of keys (`config_table!`): it generates the typed
//! struct, its defaults, the key setter the loader uses and the `KeyDoc` table the man page is
//! generated from, so the documentation cannot drift from the code.
//!
//! Files are read by [`crate::yaml`] into entries that keep their positions, with PyYAML's
//! scalars; the types are checked here, so every error carries `file:line:column`.

#[macro_use]
mod table;
mod check;
mod host;
mod loader;
mod master;
mod minion;
mod value;

pub use host::{current_user_name, host_fqdn};

/// `file_roots` or `pillar_roots` (checked to be a map of lists of strings when loaded) as
/// saltenv -> directories.
pub fn roots_of(
    v: &serde_json::Value,
) -> std::collections::BTreeMap<String, Vec<std::path::PathBuf>> {
    let mut out = std::collections::BTreeMap::new();
    for (env, dirs) in v.as_object().into_iter().flatten() {
        let dirs = match dirs {
            serde_json::Value::String(s) => vec![std::path::PathBuf::from(s)],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(serde_json::Value::as_str)
                .map(std::path::PathBuf::from)
                .collect(),
            _ => Vec::new(),
        };
        out.insert(env.clone(), dirs);
    }
    out
}
pub use master::{MasterConfig, MASTER_KEYS};
pub use minion::{MinionConfig, MINION_KEYS, MINION_MODULE_OPTIONS};

use crate::yaml::YamlError;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// One documented configuration key, for --help-style listings and the man page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    /// The key as written in the file.
    pub name: &'static str,
    /// The default as shown to a user, e.g. "4505", "/var/run/brine/master", "startswith".
    pub default: &'static str,
    /// What the key does, in one or two sentences.
    pub doc: &'static str,
}

/// A problem that does not stop the daemon (an unknown key); the caller logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file the key is in.
    pub file: PathBuf,
    /// 1-based line of the key.
    pub line: usize,
    /// 1-based column (in characters) of the key.
    pub column: usize,
    /// What is wrong, e.g. "unknown key 'foo' (ignored)".
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Why a configuration could not be loaded. `Display` is one line naming the file (and, for
/// anything inside a file, the line and column), for the daemon to print before it exits 2.
#[derive(Debug)]
pub enum ConfigError {
    /// The configuration directory (`-c DIR`) is missing or is not a directory.
    ConfDir { dir: PathBuf, error: io::Error },
    /// A file or the drop-in directory exists but could not be read.
    Read { path: PathBuf, error: io::Error },
    /// A configuration path is something other than a regular file (a directory, a FIFO...).
    NotAFile { path: PathBuf },
    /// A file is larger than `limit` bytes; configuration files are small, so this is refused.
    TooLarge { file: PathBuf, limit: usize },
    /// Not YAML that brine reads: syntax, encoding, a duplicate key, a limit against hostile
    /// input, or a top level that is not a map of keys to values.
    Yaml(YamlError),
    /// A key's value has the wrong type or is not one of the values the key accepts.
    Value {
        file: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ConfDir { dir, error } => write!(
                f,
                "{}: cannot use as the configuration directory: {error}",
                dir.display()
            ),
            ConfigError::Read { path, error } => {
                write!(f, "{}: cannot read: {error}", path.display())
            }
            ConfigError::NotAFile { path } => {
                write!(f, "{}: not a regular file", path.display())
            }
            ConfigError::TooLarge { file, limit } => write!(
                f,
                "{}: larger than {limit} bytes, the limit for a configuration file",
                file.display()
            ),
            ConfigError::Yaml(e) => e.fmt(f),
            ConfigError::Value {
                file,
                line,
                column,
                key,
                message,
            } => write!(f, "{}:{line}:{column}: {key}: {message}", file.display()),
        }
    }
}

impl From<YamlError> for ConfigError {
    fn from(e: YamlError) -> ConfigError {
        ConfigError::Yaml(e)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::ConfDir { error, .. } | ConfigError::Read { error, .. } => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
