//! The state modules (`test.*`, `cmd.*`, `file.*`, `pkg.*`, `service.*`, `user.*`,
//! `group.*`), each with Salt's arguments, comments and changes.

use super::StateFn;

pub mod atomic;
pub mod difflib;
pub mod file;

/// Every state function, as (`state.fun`, function).
const TABLE: &[(&str, StateFn)] = &[
    ("file.absent", file::absent),
    ("file.append", file::append),
    ("file.directory", file::directory),
    ("file.managed", file::managed),
    ("file.replace", file::replace),
    ("file.symlink", file::symlink),
];

/// The functions that answer a `watch` (`mod_watch`), by state module.
const MOD_WATCH: &[(&str, StateFn)] = &[];

/// Looks up `state.fun`.
pub fn find(state: &str, fun: &str) -> Option<StateFn> {
    TABLE
        .iter()
        .find(|(n, _)| n.split_once('.') == Some((state, fun)))
        .map(|(_, f)| *f)
}

/// The `mod_watch` of a state module, when it has one.
pub fn mod_watch(state: &str) -> Option<StateFn> {
    MOD_WATCH.iter().find(|(n, _)| *n == state).map(|(_, f)| *f)
}
