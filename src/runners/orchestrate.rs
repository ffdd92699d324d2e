//! The `state` runners that orchestrate: `state.orchestrate` (aliases `state.orch` and
//! `state.sls`) and the old OverState's `state.over` and `state.show_stages`. They run
//! across many turns of the master's loop (see `crate::orchestrate`).

use super::{Default, Exec, Param, Runner};

const fn p(name: &'static str, default: Default) -> Param {
    Param { name, default }
}

/// Salt's `orchestrate(mods, saltenv, test, exclude, pillar, pillarenv, pillar_enc,
/// orchestration_jid)`.
const ORCH_PARAMS: &[Param] = &[
    p("mods", Default::Required),
    p("saltenv", Default::Str("base")),
    p("test", Default::Null),
    p("exclude", Default::Null),
    p("pillar", Default::Null),
    p("pillarenv", Default::Null),
    p("pillar_enc", Default::Null),
    p("orchestration_jid", Default::Null),
];

/// The OverState's `over(saltenv='base', os_fn=None)`.
const OVER_PARAMS: &[Param] = &[
    p("saltenv", Default::Str("base")),
    p("os_fn", Default::Null),
];

/// `state.orchestrate MODS`.
pub const ORCHESTRATE: Runner = Runner {
    name: "state.orchestrate",
    params: ORCH_PARAMS,
    doc: "Run the orchestration SLS MODS (from file_roots) on the master as <id>_master; salt.state, salt.function, salt.runner, salt.wheel and salt.wait_for_event steps reach the minions.",
    exec: Exec::Orchestrate,
};

/// `state.orch`, an alias.
pub const ORCH: Runner = Runner {
    name: "state.orch",
    doc: "An alias of state.orchestrate.",
    ..ORCHESTRATE
};

/// `state.sls`, an alias (as a runner).
pub const SLS: Runner = Runner {
    name: "state.sls",
    doc: "An alias of state.orchestrate.",
    ..ORCHESTRATE
};

/// `state.over [SALTENV] [OS_FN]`.
pub const OVER: Runner = Runner {
    name: "state.over",
    params: OVER_PARAMS,
    doc: "The OverState, removed from Salt in 2015.8 (use state.orchestrate): run the stages of overstate.sls (or OS_FN) in order, each on its match when the stages it requires succeeded.",
    exec: Exec::Orchestrate,
};

/// `state.show_stages [SALTENV] [OS_FN]`.
pub const SHOW_STAGES: Runner = Runner {
    name: "state.show_stages",
    params: OVER_PARAMS,
    doc: "The OverState's stages as state.over would read them, running nothing.",
    exec: Exec::Orchestrate,
};
