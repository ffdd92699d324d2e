//! The state modules (`test.*`, `cmd.*`, `file.*`, `pkg.*`, `service.*`, `user.*`,
//! `group.*`), each with Salt's arguments, comments and changes.

use super::StateFn;
use serde_json::Value;

pub mod atomic;
pub mod cmd;
pub mod difflib;
pub mod file;
pub mod group;
pub mod pkg;
pub mod service;
pub mod test;
#[cfg(test)]
mod testing;
pub mod user;

/// Every state function, as (`state.fun`, function).
const TABLE: &[(&str, StateFn)] = &[
    ("cmd.run", cmd::run),
    ("cmd.wait", cmd::wait),
    ("cmd.watch", cmd::wait),
    ("cmd.script", cmd::script),
    ("cmd.wait_script", cmd::wait),
    ("file.absent", file::absent),
    ("file.append", file::append),
    ("file.directory", file::directory),
    ("file.managed", file::managed),
    ("file.replace", file::replace),
    ("file.symlink", file::symlink),
    ("group.absent", group::absent),
    ("group.present", group::present),
    ("pkg.installed", pkg::installed),
    ("pkg.latest", pkg::latest),
    ("pkg.removed", pkg::removed),
    ("service.dead", service::dead),
    ("service.disabled", service::disabled),
    ("service.enabled", service::enabled),
    ("service.running", service::running),
    ("user.absent", user::absent),
    ("user.present", user::present),
    ("test.nop", test::nop),
    (
        "test.succeed_without_changes",
        test::succeed_without_changes,
    ),
    ("test.succeed_with_changes", test::succeed_with_changes),
    ("test.fail_without_changes", test::fail_without_changes),
    ("test.fail_with_changes", test::fail_with_changes),
    (
        "test.configurable_test_state",
        test::configurable_test_state,
    ),
    ("test.show_notification", test::show_notification),
];

/// The functions that answer a `watch` (`mod_watch`), by state module.
const MOD_WATCH: &[(&str, StateFn)] = &[
    ("cmd", cmd::mod_watch),
    ("service", service::mod_watch),
    ("test", test::mod_watch),
];

/// Looks up `state.fun`.
pub fn find(state: &str, fun: &str) -> Option<StateFn> {
    TABLE
        .iter()
        .find(|(n, _)| n.split_once('.') == Some((state, fun)))
        .map(|(_, f)| *f)
}

/// A list of names from a state argument: a list, or one comma-separated string
/// (`user.present`'s groups, `group.present`'s members).
pub(crate) fn name_list(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::Null => None,
        Value::Array(a) => Some(
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect(),
        ),
        Value::String(s) => Some(
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        other => Some(vec![other.to_string()]),
    }
}

/// The `mod_watch` of a state module, when it has one.
pub fn mod_watch(state: &str) -> Option<StateFn> {
    MOD_WATCH.iter().find(|(n, _)| *n == state).map(|(_, f)| *f)
}
