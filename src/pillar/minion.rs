//! One minion's pillar from the options' `pillar_roots`: what the master sends a minion,
//! and what a masterless run compiles itself.

use super::{compile_pillar, PillarRoots, Request};
use serde_json::{Map, Value};

/// The pillar of minion `id` with these grains (`_errors` holds what failed, in Salt's
/// texts).
pub fn for_minion(
    opts: &Map<String, Value>,
    id: &str,
    grains: &Map<String, Value>,
    pillarenv: Option<&str>,
) -> Map<String, Value> {
    let roots = PillarRoots::from_opts(opts, pillarenv);
    let none = Map::new();
    compile_pillar(
        &roots,
        &Request {
            id,
            grains,
            pillarenv,
            opts,
            pillar_override: &none,
        },
    )
}
