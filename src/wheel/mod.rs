//! Salt's wheel functions: master-side administration that works on the master's own
//! state. The `key` module lives here (brine-key calls it directly when the master is down);
//! `minions.connected` and `config.values` read the running master's state, so the master
//! answers them itself.

pub mod key;

pub use key::KeyEvent;

use crate::pki::KeyStore;
use crate::signature::Param;

/// Wheel functions the master answers from its own state (no parameters).
pub const MASTER_FUNS: &[&str] = &["config.values", "minions.connected"];

/// The signature of a wheel function, if it exists.
pub fn params(fun: &str) -> Option<&'static [Param]> {
    if MASTER_FUNS.contains(&fun) {
        return Some(&[]);
    }
    key::params(fun)
}
use serde_json::{Map, Value};

/// Calls the wheel function `fun` (`key.accept`, ...); None when no such function exists.
/// The return value comes with one `salt/key` event per key moved or removed.
pub fn call(
    store: &KeyStore,
    fun: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Option<Result<(Value, Vec<KeyEvent>), String>> {
    match fun.split_once('.') {
        Some(("key", _)) => key::call(store, fun, args, kwargs),
        _ => None,
    }
}
