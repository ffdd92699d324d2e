//! The `Source` a minion-side process uses: the minion's own `file_roots` when it has no
//! master, otherwise the cache in front of the master (reached through the minion's bus).

use super::bus_remote::BusRemote;
use super::cache::Cache;
use super::roots::Roots;
use super::{FsError, Source};
use serde_json::{Map, Value};
use std::path::Path;

/// The file source for a process of the minion whose configuration is `opts`.
pub fn open_source(
    opts: &Map<String, Value>,
    masterless: bool,
    socket: Option<&Path>,
    cachedir: &Path,
) -> Result<Box<dyn Source>, FsError> {
    match (masterless, socket) {
        (false, Some(socket)) => Ok(Box::new(Cache::new(
            cachedir.to_path_buf(),
            BusRemote::new(socket),
        ))),
        _ => Ok(Box::new(local_roots(opts)?)),
    }
}

/// The `file_roots` of these options (a master's, or a masterless minion's) with their
/// ignore lists.
pub fn local_roots(opts: &Map<String, Value>) -> Result<Roots, FsError> {
    let strings = |k: &str| -> Vec<String> {
        opts.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let roots = opts.get("file_roots").cloned().unwrap_or(Value::Null);
    Roots::new(
        crate::config::roots_of(&roots),
        &strings("file_ignore_regex"),
        &strings("file_ignore_glob"),
    )
}
