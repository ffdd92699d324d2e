//! The OverState (`state.over`), removed from Salt in 2015.8 and kept here so that the
//! seed's reactor files work as printed: stages read from `overstate.sls`, each run on its
//! `match` when the stages it `require`s succeeded.

use super::saltmod::MinionReturn;
use crate::py::python_str;
use crate::states::apply::Env;
use crate::states::render::{render_sls, RenderCtx, SlsFile, DEFAULT_FUEL, DEFAULT_MAX_OUTPUT};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Reads and renders an OverState file: its stages in file order as `[[name, body], ...]`,
/// or `None` when the saltenv has no such file.
pub fn read(saltenv: &str, path: &str, env: &mut Env<'_>) -> Result<Option<Value>, String> {
    let local = match env.files.get(saltenv, path) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("{path} in saltenv {saltenv}: {e}")),
    };
    let text = std::fs::read_to_string(&local).map_err(|e| format!("{}: {e}", local.display()))?;
    let ctx = RenderCtx {
        id: env.id,
        grains: env.grains,
        pillar: env.pillar,
        opts: env.opts,
        saltenv,
        fuel: DEFAULT_FUEL,
        max_output: DEFAULT_MAX_OUTPUT,
    };
    let sls = path.trim_end_matches(".sls").replace('/', ".");
    let file = SlsFile {
        sls: &sls,
        rel: path,
        path: &local,
    };
    let entries = render_sls(file, &text, &ctx).map_err(|e| format!("{path}: {e}"))?;
    Ok(Some(Value::Array(
        entries
            .into_iter()
            .map(|e| Value::Array(vec![Value::String(e.key), e.value]))
            .collect(),
    )))
}

/// The stages as `show_stages` returns them: `[{name: stage}, ...]` in name order.
pub fn sorted_stages(stages: &Value) -> Value {
    let mut list: Vec<(String, Value)> = stages
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| Some((pair.get(0)?.as_str()?.to_string(), pair.get(1)?.clone())))
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(
        list.into_iter()
            .map(|(k, v)| {
                let mut m = Map::new();
                m.insert(k, v);
                Value::Object(m)
            })
            .collect(),
    )
}

/// What the OverState does next.
#[derive(Debug, Clone, PartialEq)]
pub enum OverStep {
    /// Run a stage: publish `fun` with `arg` to the compound target `tgt`.
    Run {
        /// The stage.
        name: String,
        /// Its `match`.
        tgt: String,
        /// The function.
        fun: String,
        /// Its arguments.
        arg: Vec<Value>,
    },
    /// Every stage ran or was refused: `over_run`, the runner's return.
    Done(Value),
}

/// An OverState run: its stages (in name order) and the results of those that ran.
#[derive(Debug, Clone)]
pub struct Over {
    stages: Vec<(String, Map<String, Value>)>,
    saltenv: String,
    results: BTreeMap<String, Value>,
    fired: usize,
}

/// The key and return Salt records for a stage that a requisite stopped.
fn req_failure(key: &str, comment: String, retcode: i64) -> (String, Value) {
    (
        key.to_string(),
        json!({"ret": {"result": false, "comment": comment, "name": "Requisite Failure",
                       "changes": {}, "__run_num__": 0},
               "retcode": retcode, "success": false, "fun": "req.fail"}),
    )
}

/// One replay of the stage walk.
struct Walk<'o> {
    over: &'o Over,
    run: BTreeMap<String, Value>,
    active: BTreeSet<String>,
    events: Vec<Value>,
}

enum Call {
    Ran,
    Pending(String),
}

impl Over {
    /// The stages of an OverState file (`[[name, body], ...]`); with no file, one stage that
    /// runs a highstate on every minion.
    pub fn new(stages: Option<Value>) -> Over {
        let mut list: Vec<(String, Map<String, Value>)> = match &stages {
            Some(v) => v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|pair| {
                    let name = pair.get(0)?.as_str()?.to_string();
                    let body = pair.get(1)?.as_object().cloned().unwrap_or_default();
                    Some((name, body))
                })
                .collect(),
            None => {
                let mut all = Map::new();
                all.insert("match".into(), "*".into());
                vec![("highstate".to_string(), all)]
            }
        };
        list.sort_by(|a, b| a.0.cmp(&b.0));
        Over {
            stages: list,
            saltenv: "base".into(),
            results: BTreeMap::new(),
            fired: 0,
        }
    }

    /// Walks the stages again with the results so far: the progress events not sent yet go
    /// to `fire`; the next stage to run, or the end.
    pub fn next(&mut self, fire: &mut dyn FnMut(Value)) -> OverStep {
        let mut w = Walk {
            over: self,
            run: BTreeMap::new(),
            active: BTreeSet::new(),
            events: Vec::new(),
        };
        w.events
            .push(json!({"message": "Executing the following Over State:"}));
        let all: Vec<Value> = self
            .stages
            .iter()
            .map(|(k, v)| json!({k.as_str(): v}))
            .collect();
        w.events
            .push(json!({"data": all, "outputter": "overstatestage"}));
        let mut step = None;
        for (name, stage) in &self.stages {
            if w.run.contains_key(name) {
                continue;
            }
            if !stage.contains_key("match") {
                w.stage_block(name);
                w.events
                    .push(json!({"message": "No \"match\" argument in stage."}));
                continue;
            }
            if let Call::Pending(n) = w.call(name, 0) {
                step = Some(n);
                break;
            }
        }
        let (events, run) = (w.events, w.run);
        for e in events.into_iter().skip(self.fired) {
            fire(e);
            self.fired += 1;
        }
        match step {
            Some(name) => {
                let (tgt, fun, arg) = self.job_of(&name);
                OverStep::Run {
                    name,
                    tgt,
                    fun,
                    arg,
                }
            }
            None => OverStep::Done(Value::Object(run.into_iter().collect())),
        }
    }

    /// The job a stage runs: its target, function and arguments.
    fn job_of(&self, name: &str) -> (String, String, Vec<Value>) {
        let stage = self
            .stages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let tgt = match stage.get("match") {
            Some(Value::Array(a)) => a.iter().map(python_str).collect::<Vec<_>>().join(" or "),
            Some(v) => python_str(v),
            None => String::new(),
        };
        let saltenv = json!({"__kwarg__": true, "saltenv": self.saltenv});
        if let Some(sls) = stage.get("sls").filter(|v| !v.is_null()) {
            let csv = match sls {
                Value::Array(a) => a.iter().map(python_str).collect::<Vec<_>>().join(","),
                other => python_str(other),
            };
            return (tgt, "state.sls".into(), vec![csv.into(), saltenv]);
        }
        match stage.get("function").or_else(|| stage.get("fun")) {
            Some(Value::String(f)) => (tgt, f.clone(), Vec::new()),
            Some(Value::Object(m)) if !m.is_empty() => {
                let (f, a) = m
                    .iter()
                    .next()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .unwrap_or_default();
                let args = match a {
                    Value::Array(a) => a,
                    Value::Null => Vec::new(),
                    other => vec![other],
                };
                (tgt, f, args)
            }
            _ => (tgt, "state.highstate".into(), Vec::new()),
        }
    }

    /// A stage's job ended with these returns (minions that did not return are left out,
    /// as the OverState's `cmd_iter` left them).
    pub fn stage_done(&mut self, name: &str, fun: &str, returns: &[MinionReturn]) {
        let mut per = Map::new();
        for r in returns {
            let Some(ret) = &r.ret else { continue };
            per.insert(
                r.id.clone(),
                json!({"ret": ret, "fun": fun, "retcode": r.retcode, "success": r.retcode == 0}),
            );
        }
        self.results.insert(name.to_string(), Value::Object(per));
    }
}

impl Walk<'_> {
    fn stage(&self, name: &str) -> Option<&Map<String, Value>> {
        self.over
            .stages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    fn stage_block(&mut self, name: &str) {
        let body = self.stage(name).cloned().unwrap_or_default();
        self.events.push(json!({"message": "Executed Stage:"}));
        self.events
            .push(json!({"data": [{name: body}], "outputter": "overstatestage"}));
    }

    /// The OverState's `_check_results`: the failures a finished requisite stage gives.
    fn check(&self, req: &str, fails: &mut Vec<(String, Value)>) {
        let Some(Value::Object(per)) = self.run.get(req) else {
            return;
        };
        for (minion, r) in per {
            let fun = r.get("fun").and_then(Value::as_str).unwrap_or_default();
            let ok = if fun == "state.highstate" || fun == "state.sls" {
                r.get("ret").is_some_and(super::saltmod::state_ok)
            } else {
                r.get("retcode").and_then(Value::as_i64).unwrap_or(0) == 0
                    && r.get("success") != Some(&Value::Bool(false))
            };
            if !ok {
                fails.push(req_failure(
                    "req_|-fail_|-fail_|-None",
                    format!("Requisite {req} failed for stage on minion {minion}"),
                    254,
                ));
            }
        }
    }

    /// The OverState's `call_stage`: requisites first (run when not yet run), then the
    /// stage, or its refusal.
    fn call(&mut self, name: &str, depth: usize) -> Call {
        self.active.insert(name.to_string());
        let reqs: Vec<String> = match self.stage(name).and_then(|s| s.get("require")) {
            Some(Value::Array(a)) => a.iter().map(python_str).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let mut fails = Vec::new();
        for req in &reqs {
            if self.run.contains_key(req) {
                self.check(req, &mut fails);
            } else if self.stage(req).is_none_or(|s| !s.contains_key("match"))
                || self.active.contains(req)
                || depth > 64
            {
                // Salt crashes or recurses forever on a requisite without `match` or a
                // cycle; brine refuses the stage as it refuses an unknown one.
                fails.push(req_failure(
                    "No_|-Req_|-fail_|-None",
                    format!("Requisite {req} not found"),
                    253,
                ));
            } else {
                if let Call::Pending(n) = self.call(req, depth + 1) {
                    return Call::Pending(n);
                }
                self.check(req, &mut fails);
            }
        }
        let body = if fails.is_empty() {
            match self.over.results.get(name) {
                Some(r) => r.clone(),
                None => return Call::Pending(name.to_string()),
            }
        } else {
            let mut m = Map::new();
            for (k, v) in fails {
                m.insert(k, v);
            }
            Value::Object(m)
        };
        self.stage_block(name);
        self.events
            .push(json!({"message": "Stage execution results:"}));
        for (key, val) in body.as_object().into_iter().flatten() {
            let ret = val.get("ret").cloned().unwrap_or(Value::Null);
            let data = if key.contains("_|-") {
                json!({"error": {key.as_str(): ret}})
            } else {
                json!({key.as_str(): ret})
            };
            self.events
                .push(json!({"data": data, "outputter": "highstate"}));
        }
        self.run.insert(name.to_string(), body);
        Call::Ran
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_state() -> Value {
        json!({"test_|-a_|-a_|-nop": {"result": true, "changes": {}, "comment": ""}})
    }

    #[test]
    fn required_stages_run_first_and_failures_stop_dependents() {
        let stages = json!([
            ["web", {"match": "web*", "require": ["database"]}],
            ["database", {"match": "db*", "sls": ["mysql"]}],
        ]);
        let mut over = Over::new(Some(stages));
        let mut events = Vec::new();
        let step = over.next(&mut |e| events.push(e));
        let OverStep::Run {
            name,
            tgt,
            fun,
            arg,
        } = step
        else {
            panic!("expected a stage to run")
        };
        assert_eq!(
            (name.as_str(), tgt.as_str(), fun.as_str()),
            ("database", "db*", "state.sls")
        );
        assert_eq!(arg[0], json!("mysql"));
        over.stage_done(
            "database",
            "state.sls",
            &[MinionReturn {
                id: "db1".into(),
                ret: Some(json!({"x_|-y_|-z_|-w": {"result": false, "changes": {}}})),
                retcode: 2,
            }],
        );
        let step = over.next(&mut |e| events.push(e));
        let OverStep::Done(ret) = step else {
            panic!("web must be refused, not run")
        };
        assert_eq!(
            ret["web"]["req_|-fail_|-fail_|-None"]["ret"]["comment"],
            "Requisite database failed for stage on minion db1"
        );
        assert_eq!(events[0]["message"], "Executing the following Over State:");
        let messages: Vec<&str> = events
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "Executing the following Over State:",
                "Executed Stage:",
                "Stage execution results:",
                "Executed Stage:",
                "Stage execution results:"
            ]
        );
    }

    #[test]
    fn no_file_means_a_highstate_everywhere_and_unknown_requisites_refuse() {
        let mut over = Over::new(None);
        let OverStep::Run { tgt, fun, .. } = over.next(&mut |_| {}) else {
            panic!("expected the highstate stage")
        };
        assert_eq!((tgt.as_str(), fun.as_str()), ("*", "state.highstate"));
        let mut over = Over::new(Some(json!([["a", {"match": "*", "require": ["nope"]}]])));
        let OverStep::Done(ret) = over.next(&mut |_| {}) else {
            panic!()
        };
        assert_eq!(ret["a"]["No_|-Req_|-fail_|-None"]["retcode"], 253);
        let mut over = Over::new(Some(json!([["a", {"match": "*"}]])));
        assert!(matches!(over.next(&mut |_| {}), OverStep::Run { .. }));
        over.stage_done(
            "a",
            "state.highstate",
            &[MinionReturn {
                id: "m".into(),
                ret: Some(ok_state()),
                retcode: 0,
            }],
        );
        let OverStep::Done(ret) = over.next(&mut |_| {}) else {
            panic!()
        };
        assert_eq!(ret["a"]["m"]["success"], true);
    }
}
