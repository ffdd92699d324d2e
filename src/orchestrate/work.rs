//! The parts of an orchestration that may block, done off the master's loop (the I/O layer
//! runs each on a thread of its own): rendering and compiling the orchestration SLS from
//! the master's `file_roots`, a state function of a module other than `salt` and `test`
//! (`cmd.run`, `file.managed` on the master), an `onlyif`/`unless` command, and reading an
//! OverState file. Everything here may block.

use crate::states::apply::{self, Compiled, Env};
use crate::states::compile::Chunk;
use serde_json::{Map, Value};

/// What the master's state functions see: its id, grains, pillar and options.
#[derive(Debug, Clone)]
pub struct MasterEnv {
    /// `<id>_master`.
    pub id: String,
    /// The master's grains.
    pub grains: Map<String, Value>,
    /// The master's pillar, the orchestration's `pillar=` merged over it.
    pub pillar: Map<String, Value>,
    /// The master's options (`file_roots` among them).
    pub opts: Map<String, Value>,
}

/// One piece of blocking work.
#[derive(Debug, Clone)]
pub enum Work {
    /// Render and compile `mods` (`state.sls` on the master) with these keyword arguments.
    Render {
        /// The SLS names.
        mods: Value,
        /// `saltenv`, `exclude`, `test`.
        kwargs: Map<String, Value>,
        /// The master.
        env: MasterEnv,
    },
    /// Run one state function.
    State {
        /// The module.
        state: String,
        /// The function.
        fun: String,
        /// Its chunk.
        low: Chunk,
        /// Test mode.
        test: bool,
        /// The master.
        env: MasterEnv,
    },
    /// The exit status of a command.
    Retcode {
        /// The command.
        cmd: String,
        /// The chunk (`cwd`, `runas`, `env`, `shell`, `timeout`).
        low: Chunk,
        /// The master's grains (the shell).
        grains: Map<String, Value>,
    },
    /// Read and render an OverState file (`saltenv`, path).
    Overstate {
        /// The saltenv.
        saltenv: String,
        /// The file, relative to the saltenv's roots.
        path: String,
        /// The master.
        env: MasterEnv,
    },
}

/// What a piece of work came to.
#[derive(Debug, Clone)]
pub enum Done {
    /// The compiled SLS, or Salt's error list.
    Rendered(Result<Compiled, Vec<String>>),
    /// A state function's return.
    State(Value),
    /// A command's exit status (`None`: it did not run).
    Retcode(Option<i32>),
    /// An OverState file's stages (`None`: there is no such file), or why it is unusable.
    Overstate(Result<Option<Value>, String>),
}

/// Does one piece of work.
pub fn run(work: Work) -> Done {
    match work {
        Work::Render { mods, kwargs, env } => Done::Rendered(
            with_env(&env, |e| apply::compile_sls(&mods, &kwargs, e))
                .unwrap_or_else(|e| Err(vec![e])),
        ),
        Work::State {
            state,
            fun,
            low,
            test,
            env,
        } => Done::State(
            with_env(&env, |e| apply::call_state(&state, &fun, &low, test, e)).unwrap_or_else(
                |why| {
                    let name = low
                        .get("name")
                        .map(crate::py::python_str)
                        .unwrap_or_default();
                    crate::states::ret(&name, Some(false), why, Map::new())
                },
            ),
        ),
        Work::Retcode { cmd, low, grains } => {
            Done::Retcode(apply::command_retcode(&cmd, &low, &grains))
        }
        Work::Overstate { saltenv, path, env } => Done::Overstate(
            with_env(&env, |e| super::overstate::read(&saltenv, &path, e)).and_then(|r| r),
        ),
    }
}

/// Runs `f` with the master's environment over its `file_roots`.
fn with_env<T>(env: &MasterEnv, f: impl FnOnce(&mut Env<'_>) -> T) -> Result<T, String> {
    let mut roots =
        crate::fileserver::local_roots(&env.opts).map_err(|e| format!("file_roots: {e}"))?;
    // Events of a master-side state go nowhere: the orchestration sends its own.
    let mut fire = |_: &str, _: Value| {};
    let mut e = Env {
        id: &env.id,
        jid: None,
        grains: &env.grains,
        pillar: &env.pillar,
        opts: &env.opts,
        local: true,
        files: &mut roots,
        fire: &mut fire,
    };
    Ok(f(&mut e))
}
