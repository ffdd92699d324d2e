//! Salt's wheel functions: master-side administration that works on the master's own
//! state. Only the `key` module exists; the master dispatches `wheel.key.*` here and
//! brine-key calls it directly when the master is down.

pub mod key;

pub use key::KeyEvent;

use crate::pki::KeyStore;
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
