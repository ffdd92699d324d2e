//! The `manage` runner: which minions are up, decided by live authenticated sessions
//! (not by matching IP grains against TCP connections, salt-spec §9 row 8).

use super::{Context, Default, Exec, Outcome, Param, Runner};
use serde_json::{json, Map, Value};

/// `manage.up`: minions with a live session.
pub const UP: Runner = Runner {
    name: "manage.up",
    params: &[],
    doc: "List the minions that are up: accepted, with a live authenticated session.",
    exec: Exec::Master(|ctx, _| Outcome::ok(json!(ctx.minions().present))),
};

/// `manage.alived`: the same, under Salt's other name.
pub const ALIVED: Runner = Runner {
    name: "manage.alived",
    params: &[],
    doc: "List the minions that are alive (the same as manage.up: a live session).",
    exec: Exec::Master(|ctx, _| Outcome::ok(json!(ctx.minions().present))),
};

/// `manage.down [removekeys=True]`: accepted minions without a live session.
pub const DOWN: Runner = Runner {
    name: "manage.down",
    params: &[Param {
        name: "removekeys",
        default: Default::Bool(false),
    }],
    doc: "List accepted minions that are down; with removekeys=True also delete their keys.",
    exec: Exec::Master(down),
};

/// `manage.status`: {up: [...], down: [...]}.
pub const STATUS: Runner = Runner {
    name: "manage.status",
    params: &[],
    doc: "Show which accepted minions are up and which are down.",
    exec: Exec::Master(|ctx, _| {
        let m = ctx.minions();
        let down = down_of(&m);
        let mut r = Map::new();
        r.insert("down".into(), json!(down));
        r.insert("up".into(), json!(m.present));
        Outcome::ok(Value::Object(r))
    }),
};

fn down_of(m: &super::Minions) -> Vec<String> {
    m.accepted
        .iter()
        .filter(|id| m.present.binary_search(id).is_err())
        .cloned()
        .collect()
}

fn down(ctx: &mut dyn Context, args: &[Value]) -> Outcome {
    let down = down_of(&ctx.minions());
    if matches!(args.first(), Some(Value::Bool(true))) {
        for id in &down {
            let mut kw = Map::new();
            kw.insert("match".into(), json!(id));
            if let Err(e) = ctx.wheel("key.delete", kw) {
                return Outcome::exception("manage.down", &e);
            }
        }
    }
    Outcome::ok(json!(down))
}
