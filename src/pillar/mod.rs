//! Pillar: per-minion data compiled on the master from `pillar_roots`, as Salt 3007.15's
//! `salt/pillar/__init__.py` compiles it, and read on the minion by the `pillar.*` functions.
//!
//! [`compile_pillar`] reads the `top.sls` of every pillar environment, keeps the targets that
//! match the minion (with the targeting matchers, `compound` by default), renders each named
//! SLS (Jinja then YAML, by the state system's renderer `states::render`, seeing `grains`,
//! `opts`, `pillar`, `saltenv`, `sls`, `tpldir`... and an include's `defaults`), resolves `include` (plain, relative `.x`,
//! `key:` and `defaults:` forms) and merges the results in top-file order with
//! `pillar_source_merging_strategy` (Salt's `smart`: maps merge recursively, lists are
//! replaced unless `pillar_merge_lists`). Errors do not stop the compile: they are collected,
//! with Salt's texts, under `_errors` in the pillar, which a state run then refuses
//! ([`render_errors`], retcode 5).
//!
//! The master calls this on a worker thread (it reads files and renders templates) and sends
//! the result to the minion, which keeps it in memory.
//!
//! Where brine departs from Salt, on purpose:
//! - Environments are visited in a fixed order: `base`, then the others as `pillar_roots`
//!   lists them (then `env_order`, as in Salt, decides the render order). Salt walks a Python
//!   `set` of environment names, so without `env_order` its merge order across environments
//!   changes from one process to the next.
//! - A target whose value is not a list (`'*': common`) is a malformed top file; Salt would
//!   iterate the string and look for one SLS per character.
//! - `ext_pillar` modules do not exist in brine: each configured one is logged and skipped.
//! - An included SLS that renders to something other than a map is skipped with a log line
//!   (Salt fails the whole compile with a TypeError).
//! - Render errors are logged with the renderer's full message (file, line, column); the
//!   pillar carries Salt's short "Please see master log" text unless
//!   `pillar_safe_render_error: False`, and then the renderer's own message, which is
//!   brine's wording, not Jinja2's or PyYAML's.

use std::fmt;

use serde_json::{Map, Value};

mod compile;
pub mod get;
pub mod merge;
mod minion;
mod roots;
mod top;
pub use minion::for_minion;
pub use top::Top;

pub use merge::{merge, merge_override, Strategy};
pub use roots::PillarRoots;

/// The first line of the list a state run returns when the pillar has errors.
pub const RENDER_FAILED: &str = "Pillar failed to render with the following messages:";

/// The key under which a compiled pillar carries its errors.
pub const ERRORS_KEY: &str = "_errors";

/// One problem found while compiling a pillar; `Display` is Salt's text for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PillarError {
    /// An SLS failed to render. `safe` hides the renderer's message as Salt's
    /// `pillar_safe_render_error` (default on) does.
    Render {
        /// The SLS name.
        sls: String,
        /// The renderer's message.
        message: String,
        /// Show only that it failed.
        safe: bool,
    },
    /// A top file or an include names an SLS that the environment does not have.
    NotAvailable {
        /// The SLS name.
        sls: String,
        /// The environment.
        env: String,
    },
    /// An SLS rendered to something other than a map.
    NotADict {
        /// The SLS name.
        sls: String,
    },
    /// An SLS's `include` is not a list.
    IncludeNotList {
        /// The SLS name.
        sls: String,
    },
    /// A top file names an environment that `pillar_roots` lacks.
    NoEnv {
        /// The environment.
        env: String,
    },
    /// An environment's `top.sls` failed to render.
    PrimaryTop {
        /// The renderer's message.
        message: String,
    },
    /// A top file included by a `top.sls` failed to render.
    IncludedTop {
        /// The included top's SLS name.
        sls: String,
        /// The renderer's message.
        message: String,
    },
    /// A top file is not a map of environments to maps of targets to lists.
    MalformedTop,
    /// `ext_pillar` is not a list of maps.
    MalformedExtPillar,
}

impl fmt::Display for PillarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PillarError::Render {
                sls, safe: true, ..
            } => write!(
                f,
                "Rendering SLS '{sls}' failed. Please see master log for details."
            ),
            PillarError::Render {
                sls,
                message,
                safe: false,
            } => {
                write!(f, "Rendering SLS '{sls}' failed, render error:\n{message}")
            }
            PillarError::NotAvailable { sls, env } => write!(
                f,
                "Specified SLS '{sls}' in environment '{env}' is not available on the salt master"
            ),
            PillarError::NotADict { sls } => {
                write!(f, "SLS '{sls}' does not render to a dictionary")
            }
            PillarError::IncludeNotList { sls } => write!(
                f,
                "Include Declaration in SLS '{sls}' is not formed as a list"
            ),
            PillarError::NoEnv { env } => write!(
                f,
                "No matching pillar environment for environment '{env}' found"
            ),
            PillarError::PrimaryTop { message } => write!(
                f,
                "Rendering Primary Top file failed, render error:\n{message}"
            ),
            PillarError::IncludedTop { sls, message } => write!(
                f,
                "Rendering Top file {sls} failed, render error:\n{message}"
            ),
            PillarError::MalformedTop => {
                f.write_str("Error encountered while rendering pillar top file.")
            }
            PillarError::MalformedExtPillar => {
                f.write_str("The \"ext_pillar\" option is malformed")
            }
        }
    }
}

impl std::error::Error for PillarError {}

/// What one compile needs besides the files: who the minion is and the options.
pub struct Request<'a> {
    /// The minion id.
    pub id: &'a str,
    /// The minion's grains.
    pub grains: &'a Map<String, Value>,
    /// Only this pillar environment (`pillarenv`); `None` reads `opts["pillarenv"]`, and
    /// with neither every environment is compiled.
    pub pillarenv: Option<&'a str>,
    /// The options (the master's, or a masterless minion's): `pillar_roots` is read by the
    /// caller into [`PillarRoots`]; here `pillar_source_merging_strategy`,
    /// `pillar_merge_lists`, `pillar_includes_override_sls`, `pillar_safe_render_error`,
    /// `env_order`, `state_top`, `nodegroups`, `pillar_opts`, `ext_pillar`, `renderer`,
    /// `saltenv`. Templates see them as `opts`, with `id` and `grains` the minion's.
    pub opts: &'a Map<String, Value>,
    /// `pillar=` data merged over the result (and the starting point of the merge).
    pub pillar_override: &'a Map<String, Value>,
}

/// Salt's `Pillar.compile_pillar`: the minion's pillar, with `_errors` (Salt's texts, in
/// the order found) when anything failed. This is what the master sends the minion.
pub fn compile_pillar(roots: &PillarRoots, req: &Request<'_>) -> Map<String, Value> {
    compile::Compiler::new(roots, req).run()
}

/// The pillar for a minion, or, when it has errors, the list a state run returns for them
/// (`["Pillar failed to render with the following messages:", ...]`).
pub fn compile(
    roots: &PillarRoots,
    id: &str,
    grains: &Map<String, Value>,
    pillarenv: Option<&str>,
    opts: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<String>> {
    let none = Map::new();
    let pillar = compile_pillar(
        roots,
        &Request {
            id,
            grains,
            pillarenv,
            opts,
            pillar_override: &none,
        },
    );
    match render_errors(&pillar) {
        Some(errors) => Err(errors),
        None => Ok(pillar),
    }
}

/// What a state run (`state.apply`, `state.sls`, `state.highstate`) returns instead of
/// running when the pillar carries `_errors`: Salt's header line, then each error. A
/// non-list `_errors` is shown as one message.
pub fn render_errors(pillar: &Map<String, Value>) -> Option<Vec<String>> {
    let errors = pillar.get(ERRORS_KEY)?;
    let mut out = vec![RENDER_FAILED.to_string()];
    match errors {
        // An empty list is no errors, as Python's truthiness reads it.
        Value::Array(items) if items.is_empty() => return None,
        Value::Array(items) => out.extend(items.iter().map(crate::py::python_str)),
        Value::Null => return None,
        other => out.push(crate::py::python_str(other)),
    }
    Some(out)
}

#[cfg(test)]
mod tests;
