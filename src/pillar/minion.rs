//! One minion's pillar from the options' `pillar_roots`, rendered with the state system's
//! SLS renderer: what the master sends a minion, and what a masterless run compiles itself.

use super::{compile_pillar, PillarRoots, Request};
use crate::states::render::{
    render_sls, render_template, RenderCtx, RenderError, SlsFile, DEFAULT_FUEL, DEFAULT_MAX_OUTPUT,
};
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
    let render =
        |path: &Path, text: &str, ctx: &Map<String, Value>| render_file(id, path, text, ctx);
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

/// Renders one pillar SLS file (Jinja, then YAML) with the compile's context (`grains`,
/// `opts`, `pillar`, `saltenv`, `sls`). A top-level list is kept as Salt keeps it, for the
/// compiler to refuse with Salt's text.
pub(super) fn render_file(
    id: &str,
    path: &Path,
    text: &str,
    ctx: &Map<String, Value>,
) -> Result<Value, String> {
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
    let file = SlsFile {
        sls,
        rel: &rel,
        path,
    };
    // An include's `defaults:` arrive as extra names beside the usual ones.
    let extra: Map<String, Value> = ctx
        .iter()
        .filter(|(k, _)| !["grains", "pillar", "opts", "saltenv", "sls"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let rendered = if extra.is_empty() {
        render_sls(file, text, &rc)
    } else {
        let name = path.display().to_string();
        render_template(&name, text, &extra, &rc).and_then(|out| {
            crate::yaml::parse_entries(path, out.as_bytes()).map_err(RenderError::Yaml)
        })
    };
    match rendered {
        Ok(entries) => Ok(Value::Object(
            entries.into_iter().map(|e| (e.key, e.value)).collect(),
        )),
        Err(RenderError::Yaml(crate::yaml::YamlError::NotAMap {
            found: "a list", ..
        })) => Ok(Value::Array(vec![Value::Null])),
        Err(e) => Err(e.to_string()),
    }
}
