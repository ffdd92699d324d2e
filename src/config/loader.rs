//! The generic loader: `DIR/<file>` then `DIR/<file>.d/*.conf` in name order, each file read
//! within a size limit and parsed by [`crate::yaml`], each entry set through a key table.

use super::{ConfigError, ConfigWarning};
use crate::yaml::parse_entries;
use serde_json::Value;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What the loader needs from a daemon's table; `config_table!` implements it.
pub(super) trait Table: Sized {
    /// The main file's name in DIR; the drop-in directory is `<FILE>.d`.
    const FILE: &'static str;
    fn defaults(conf_dir: &Path) -> Self;
    /// Set `key`; `None` when the table has no such key.
    fn set(&mut self, key: &str, value: Value) -> Option<Result<(), String>>;
    /// Rules between keys, applied once every file is read.
    fn finish(&mut self);
}

/// Files larger than this are refused before they are parsed. Salt configs are a few KiB.
pub(super) const MAX_FILE_BYTES: usize = 4 << 20;

pub(super) fn load_table<C: Table>(
    conf_dir: &Path,
) -> Result<(C, Vec<ConfigWarning>), ConfigError> {
    match fs::metadata(conf_dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(ConfigError::ConfDir {
                dir: conf_dir.to_path_buf(),
                error: io::Error::other("not a directory"),
            })
        }
        Err(error) => {
            return Err(ConfigError::ConfDir {
                dir: conf_dir.to_path_buf(),
                error,
            })
        }
    }
    let mut config = C::defaults(conf_dir);
    let mut warnings = Vec::new();
    for file in config_files(conf_dir, C::FILE)? {
        let bytes = read_limited(&file)?;
        for entry in parse_entries(&file, &bytes)? {
            match config.set(&entry.key, entry.value) {
                Some(Ok(())) => {}
                Some(Err(message)) => {
                    return Err(ConfigError::Value {
                        file,
                        line: entry.value_at.line,
                        column: entry.value_at.column,
                        key: entry.key,
                        message,
                    })
                }
                None => warnings.push(ConfigWarning {
                    line: entry.key_at.line,
                    column: entry.key_at.column,
                    // Escaped: a quoted key may hold a newline, and a warning is one line.
                    message: format!("unknown key '{}' (ignored)", entry.key.escape_debug()),
                    file: file.clone(),
                }),
            }
        }
    }
    config.finish();
    Ok((config, warnings))
}

/// `DIR/<name>` if it exists, then `DIR/<name>.d/*.conf` sorted by name as Python's
/// `sorted(glob(...))` does it: by code point, and without names that start with a dot.
fn config_files(conf_dir: &Path, name: &str) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    let main = conf_dir.join(name);
    if regular_file(&main)? {
        files.push(main);
    }
    let drop_in = conf_dir.join(format!("{name}.d"));
    let entries = match fs::read_dir(&drop_in) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(error) => {
            return Err(ConfigError::Read {
                path: drop_in,
                error,
            })
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| ConfigError::Read {
            path: drop_in.clone(),
            error,
        })?;
        let file_name = entry.file_name();
        let bytes = file_name.as_encoded_bytes();
        if bytes.ends_with(b".conf") && !bytes.starts_with(b".") {
            names.push(file_name);
        }
    }
    // UTF-8 byte order is code point order, which is Python's string order.
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for file_name in names {
        let path = drop_in.join(file_name);
        if !regular_file(&path)? {
            // Listed a moment ago, gone now: as if it had never been there.
            continue;
        }
        files.push(path);
    }
    Ok(files)
}

/// Whether `path` is a regular file (following links); missing is `false`, anything else that
/// is not a file is an error, because opening a FIFO would block the daemon forever.
fn regular_file(path: &Path) -> Result<bool, ConfigError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(true),
        Ok(_) => Err(ConfigError::NotAFile {
            path: path.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// The file's bytes, reading at most one byte past the limit so a huge file costs nothing.
fn read_limited(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let read_error = |error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    };
    let file = fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            file: path.to_path_buf(),
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}
