//! The pillar top files: each environment's `top.sls` (and the top files it `include`s)
//! merged into one table of environment → targets → SLS names, sorted by `order`, and the
//! entries that match one minion (Salt's `get_tops`, `merge_tops`, `sort_top_targets` and
//! `top_matches`).

use serde_json::{Map, Value};

use crate::targeting::{Target, TgtType};

/// One target of a top file: the expression, how it is matched and the SLS it names.
#[derive(Clone, Debug, PartialEq)]
pub struct TopTarget {
    /// The target expression (the key in the top file).
    pub tgt: String,
    /// The `match:` type (Salt's default for top files is `compound`), if it is a string.
    pub matcher: Option<String>,
    /// The SLS names, in file order, once each.
    pub sls: Vec<String>,
    /// `order:` (default 0); targets sort by it, stably.
    pub order: i64,
}

/// The merged top table: environments in the order first seen, each with its targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Top {
    /// `(environment, targets)`, sorted by `order` within an environment.
    pub envs: Vec<(String, Vec<TopTarget>)>,
    /// SLS names marked `ignore_missing: True`, per environment: missing ones are skipped
    /// without an error.
    pub ignore_missing: Vec<(String, String)>,
}

/// A top file that is not `{env: {target: [sls | {match|order|ignore_missing: ...}]}}`:
/// Salt's TypeError in `merge_tops`, which empties the whole table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

impl Top {
    /// Merges rendered top files, in order: a later file's entry for the same target replaces
    /// the earlier one where it stood, as Salt's `merge_tops` assigns into an ordered dict.
    pub fn merge(tops: &[Map<String, Value>]) -> Result<Top, Malformed> {
        let mut top = Top::default();
        for ctop in tops {
            for (env, targets) in ctop {
                if env == "include" {
                    continue;
                }
                let Value::Object(targets) = targets else {
                    return Err(Malformed);
                };
                let at = match top.envs.iter().position(|(e, _)| e == env) {
                    Some(i) => i,
                    None => {
                        top.envs.push((env.clone(), Vec::new()));
                        top.envs.len() - 1
                    }
                };
                for (tgt, comps) in targets {
                    let Value::Array(comps) = comps else {
                        return Err(Malformed);
                    };
                    let entry = target(env, tgt, comps, &mut top.ignore_missing);
                    let list = &mut top.envs[at].1;
                    match list.iter_mut().find(|t| t.tgt == *tgt) {
                        Some(slot) => *slot = entry,
                        None => list.push(entry),
                    }
                }
            }
        }
        for (_, targets) in &mut top.envs {
            targets.sort_by_key(|t| t.order);
        }
        Ok(top)
    }

    /// Salt's `top_matches`: per environment (only `pillarenv` when set), the SLS names of
    /// every target that matches the minion, in order, once each.
    pub fn matches(
        &self,
        id: &str,
        grains: &Map<String, Value>,
        nodegroups: &Value,
        pillarenv: Option<&str>,
    ) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (env, targets) in &self.envs {
            if pillarenv.is_some_and(|p| p != env) {
                continue;
            }
            for t in targets {
                if !matches(t, id, grains, nodegroups) {
                    continue;
                }
                let at = match out.iter().position(|(e, _)| e == env) {
                    Some(i) => i,
                    None => {
                        out.push((env.clone(), Vec::new()));
                        out.len() - 1
                    }
                };
                for sls in &t.sls {
                    if !out[at].1.contains(sls) {
                        out[at].1.push(sls.clone());
                    }
                }
            }
        }
        out
    }

    /// Whether a missing `sls` of `env` is to be skipped quietly.
    pub fn ignores(&self, env: &str, sls: &str) -> bool {
        self.ignore_missing
            .iter()
            .any(|(e, s)| e == env && s == sls)
    }
}

/// One target's entry: the last `match`, the `order`, `ignore_missing`, the SLS names.
fn target(env: &str, tgt: &str, comps: &[Value], ignored: &mut Vec<(String, String)>) -> TopTarget {
    let mut t = TopTarget {
        tgt: tgt.to_string(),
        matcher: Some("compound".into()),
        sls: Vec::new(),
        order: 0,
    };
    let mut ignore_missing = false;
    for comp in comps {
        match comp {
            Value::Object(m) => {
                if let Some(kind) = m.get("match") {
                    t.matcher = kind.as_str().map(str::to_owned);
                }
                if let Some(order) = m.get("order") {
                    t.order = py_order(order);
                }
                if m.get("ignore_missing").is_some_and(crate::py::truthy) {
                    ignore_missing = true;
                }
            }
            Value::String(s) if !t.sls.contains(s) => t.sls.push(s.clone()),
            _ => {}
        }
    }
    if ignore_missing {
        ignored.extend(t.sls.iter().map(|s| (env.to_string(), s.clone())));
    }
    t
}

/// Salt's `order` value: an integer as it is, else `int(order)`, else 0.
fn py_order(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n
            .as_i64()
            // int() truncates a float toward zero; `as` saturates the out-of-range ones.
            .unwrap_or_else(|| n.as_f64().map_or(0, |f| f.trunc() as i64)),
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// Salt's `confirm_top`: the target against the minion with its matcher. A matcher brine's
/// targeting lacks (`pillar`, `range`, `data`, ...) or a target that does not parse matches
/// nothing, with a log line.
fn matches(t: &TopTarget, id: &str, grains: &Map<String, Value>, nodegroups: &Value) -> bool {
    let Some(kind) = t.matcher.as_deref() else {
        log::error!(
            "pillar top: the match type of target {:?} is not a string",
            t.tgt
        );
        return false;
    };
    let Some(tgt_type) = TgtType::from_name(kind) else {
        log::error!(
            "pillar top: target {:?} uses the {kind:?} matcher, which brine does not have",
            t.tgt
        );
        return false;
    };
    match Target::parse(&Value::String(t.tgt.clone()), tgt_type, nodegroups, ":") {
        Ok(target) => target.matches(id, grains),
        Err(e) => {
            log::error!("pillar top: target {:?}: {e}", t.tgt);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn merge_orders_targets_and_later_files_replace_entries_in_place() {
        let a = map(json!({"base": {
            "late": [{"order": "5"}, "l"],
            "*": ["common", "common"],
            "os:Debian": [{"match": "grain"}, "deb", {"ignore_missing": true}],
        }}));
        let b = map(json!({"base": {"*": ["replaced"]}, "dev": {"*": ["d"]}, "include": ["x"]}));
        let top = Top::merge(&[a, b]).unwrap_or_default();
        let base = &top.envs[0];
        assert_eq!(base.0, "base");
        let names: Vec<&str> = base.1.iter().map(|t| t.tgt.as_str()).collect();
        assert_eq!(names, vec!["*", "os:Debian", "late"]);
        assert_eq!(base.1[0].sls, vec!["replaced"]);
        assert_eq!(base.1[1].matcher.as_deref(), Some("grain"));
        assert!(top.ignores("base", "deb"));
        assert!(!top.ignores("dev", "deb"));
        assert_eq!(top.envs[1].0, "dev");
    }

    #[test]
    fn malformed_tops() {
        assert_eq!(Top::merge(&[map(json!({"base": ["a"]}))]), Err(Malformed));
        assert_eq!(
            Top::merge(&[map(json!({"base": {"*": "a"}}))]),
            Err(Malformed)
        );
    }

    #[test]
    fn matching_uses_the_targeting_matchers() {
        let top = Top::merge(&[map(json!({
            "base": {
                "web*": ["web"],
                "os:Debian": [{"match": "grain"}, "deb"],
                "G@os:RedHat or web1": ["compound", "web"],
                "x": [{"match": "pillar"}, "never"],
                "grp": [{"match": "nodegroup"}, "grouped"],
            },
            "dev": {"*": ["d"]},
        }))])
        .unwrap_or_default();
        let grains = map(json!({"os": "Debian"}));
        let groups = json!({"grp": "L@web1"});
        assert_eq!(
            top.matches("web1", &grains, &groups, None),
            vec![
                (
                    "base".to_string(),
                    vec![
                        "web".to_string(),
                        "deb".into(),
                        "compound".into(),
                        "grouped".into()
                    ]
                ),
                ("dev".to_string(), vec!["d".to_string()]),
            ]
        );
        assert_eq!(
            top.matches("db1", &grains, &groups, Some("dev")),
            vec![("dev".to_string(), vec!["d".to_string()])]
        );
    }
}
