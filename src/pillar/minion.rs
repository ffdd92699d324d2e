//! One minion's pillar from the options' `pillar_roots`, rendered with the state system's
//! SLS renderer: what the master sends a minion, and what a masterless run compiles itself.

use super::{compile_pillar, PillarRoots, Request};
use crate::states::render::{render_sls, RenderCtx, SlsFile, DEFAULT_FUEL, DEFAULT_MAX_OUTPUT};
use serde_json::{Map, Value};
use std::path::Path;

/// The pillar of minion `id` with these grains (`_errors` holds what failed, in Salt's
/// texts).
pub fn for_minion(
    opts: &Map<String, Value>,
    id: &str,
    grains: &Map<String, Value>,
    pillarenv: Option<&str>,
) -> Map<String, Value> {
    let roots = PillarRoots::from_opts(opts, pillarenv);
    let render = |path: &Path, text: &str, ctx: &Map<String, Value>| -> Result<Value, String> {
        let empty = Map::new();
        let map = |k: &str| ctx.get(k).and_then(Value::as_object).unwrap_or(&empty);
        let text_of = |k: &str| ctx.get(k).and_then(Value::as_str).unwrap_or("");
        let rc = RenderCtx {
            id,
            grains: map("grains"),
            pillar: map("pillar"),
            opts: map("opts"),
            saltenv: text_of("saltenv"),
            fuel: DEFAULT_FUEL,
            max_output: DEFAULT_MAX_OUTPUT,
        };
        let sls = text_of("sls");
        let rel = format!("{}.sls", sls.replace('.', "/"));
        let entries = render_sls(
            SlsFile {
                sls,
                rel: &rel,
                path,
            },
            text,
            &rc,
        )
        .map_err(|e| e.to_string())?;
        Ok(Value::Object(
            entries.into_iter().map(|e| (e.key, e.value)).collect(),
        ))
    };
    let none = Map::new();
    compile_pillar(
        &roots,
        &Request {
            id,
            grains,
            pillarenv,
            opts,
            pillar_override: &none,
            render: &render,
        },
    )
}
