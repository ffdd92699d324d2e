//! What the system-state tests share: a `Ctx` over a file root, the root check, and a
//! guard that runs a cleanup command however the test ends.

use crate::fileserver::roots::Roots;
use crate::states::command::{run_argv, CmdOpts};
use crate::states::Ctx;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// True when the tests may change the system (users, packages, init scripts).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `f` with a state context whose `base` saltenv is served from `root`.
pub fn with_ctx<R>(test: bool, root: &Path, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    let mut envs = BTreeMap::new();
    envs.insert("base".to_owned(), vec![root.to_path_buf()]);
    let mut roots = match Roots::new(envs, &[], &[]) {
        Ok(r) => r,
        Err(e) => panic!("roots: {e}"),
    };
    let empty = Map::new();
    let mut render = |t: &str, _: &Map<String, Value>| Ok(t.to_owned());
    let mut ctx = Ctx {
        test,
        id: "brine-test",
        saltenv: "base",
        grains: &empty,
        pillar: &empty,
        opts: &empty,
        files: &mut roots,
        render: &mut render,
    };
    f(&mut ctx)
}

/// Runs a command (an argument vector) when dropped: the cleanup of a test that changed
/// the system, which must happen when an assertion fails too.
pub struct Cleanup(pub Vec<Vec<String>>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for argv in &self.0 {
            let _ = run_argv(argv, &CmdOpts::default());
        }
    }
}

/// Runs an argument vector, panicking when it cannot start; its stdout and status.
pub fn sh(argv: &[&str]) -> (i32, String) {
    match run_argv(argv, &CmdOpts::default()) {
        Ok(o) => (o.retcode, o.stdout),
        Err(e) => panic!("{argv:?}: {e}"),
    }
}
