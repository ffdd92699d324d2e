//! An orchestration's job steps: `salt.state`, `salt.function` and OverState stages publish
//! their jobs (all at once, to a subset, or in batches) and collect the returns from the bus;
//! their deadlines, `salt.wait_for_event`'s and `retry` pauses are the master's timers.

use super::{step_error, Body, Orch, Wait};
use crate::batch::{Batch, Size};
use crate::bus::Request;
use crate::master::{Master, Now, Timer};
use crate::orchestrate::saltmod::{self, JobKind, JobPlan, MinionReturn};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// What the master answers a publication that matched no minion.
const NO_MATCH: &str = "No minions matched the target.";

/// A step that publishes jobs and collects the returns.
pub(super) struct Jobs {
    pub(super) plan: JobPlan,
    /// The first job's id (the step's `__jid__`).
    pub(super) jid: Option<String>,
    /// Minions started and not returned yet.
    pub(super) waiting: BTreeSet<String>,
    pub(super) returns: Vec<MinionReturn>,
    pub(super) batch: Option<Batch>,
    /// When the minions still waited for count as not returned (`None`: while connected).
    pub(super) deadline: Option<Instant>,
}

/// `salt.function`'s `fail_function`: Salt calls that execution function on the master
/// with each minion's return, and a false answer fails the minion. brine's master has the
/// `test` module's verdicts; another name is logged and judged true.
fn fail_function_ok(name: &str, ret: &Value) -> bool {
    match name {
        "test.false" => false,
        "test.true" => true,
        "test.truthy" | "bool" => crate::py::truthy(ret),
        _ => {
            log::warn!("fail_function {name} is not one brine's master can call; the return counts as a success");
            true
        }
    }
}

/// A number among a step's arguments.
fn low_f64(m: &Map<String, Value>, key: &str) -> Option<f64> {
    m.get(key).and_then(|v| match v {
        Value::String(s) => s.trim().parse().ok(),
        other => other.as_f64(),
    })
}

impl Master {
    /// The minions a target names (accepted keys, grains for grain targets).
    fn orch_minions(&self, tgt: &Value, tgt_type: &str) -> Result<Vec<String>, String> {
        let tt = crate::targeting::TgtType::from_name(tgt_type)
            .ok_or_else(|| format!("Unknown target type '{tgt_type}'"))?;
        let target = crate::targeting::Target::parse(tgt, tt, &self.cfg.nodegroups, ":")
            .map_err(|e| e.to_string())?;
        let auth = self.auth.as_ref().ok_or("this master serves no minions")?;
        let accepted = auth
            .store()
            .list(crate::pki::KeyState::Accepted)
            .map_err(|e| format!("key store: {e}"))?;
        let grains = &self.grains;
        let (minions, _missing) = target.expected(&accepted, &|id| grains.get(id));
        Ok(minions)
    }

    /// Publishes `plan`'s job (all at once, to a subset, or in batches) and waits for the
    /// returns; the step's return at once when nothing was published.
    pub(super) fn jobs_start(
        &mut self,
        id: u64,
        now: Now,
        plan: JobPlan,
        user: &str,
        stage: Option<String>,
    ) -> Option<Value> {
        let timeout = plan.timeout;
        let mut jobs = Jobs {
            plan,
            jid: None,
            waiting: BTreeSet::new(),
            returns: Vec::new(),
            batch: None,
            deadline: None,
        };
        let needs_list = jobs.plan.subset.is_some() || jobs.plan.batch.is_some();
        if needs_list {
            let mut minions = match self.orch_minions(&jobs.plan.tgt, &jobs.plan.tgt_type) {
                Ok(m) => m,
                Err(e) => return Some(step_error(&jobs.plan.name, &e)),
            };
            if let Some(n) = jobs.plan.subset {
                // Salt picks the subset at random among the minions that answer.
                let window = Duration::from_secs(self.cfg.presence_timeout.max(1));
                if let Some(a) = self.auth.as_ref() {
                    minions.retain(|m| a.is_connected(m, now.mono, window));
                }
                let mut picked = Vec::new();
                while picked.len() < n && !minions.is_empty() {
                    let i = self.rng.below(minions.len() as u32) as usize;
                    picked.push(minions.swap_remove(i));
                }
                picked.sort();
                minions = picked;
            }
            if let Some(b) = jobs.plan.batch.clone() {
                let size = match Size::parse(&b) {
                    Ok(s) => s,
                    Err(e) => return Some(step_error(&jobs.plan.name, &e.to_string())),
                };
                let t = timeout.unwrap_or(self.cfg.timeout as f64);
                let wait = low_f64(&jobs.plan.cmd_kw, "batch_wait").unwrap_or(0.0);
                jobs.batch = Some(Batch::new(
                    minions,
                    &size,
                    crate::clock::seconds(wait),
                    crate::clock::seconds(t),
                ));
            } else if !minions.is_empty() {
                if let Err(e) = self.jobs_publish(id, now, &mut jobs, json!(minions), "list", user)
                {
                    return Some(step_error(&jobs.plan.name, &e));
                }
            }
        } else {
            let (tgt, tt) = (jobs.plan.tgt.clone(), jobs.plan.tgt_type.clone());
            if let Err(e) = self.jobs_publish(id, now, &mut jobs, tgt, &tt, user) {
                return Some(step_error(&jobs.plan.name, &e));
            }
        }
        jobs.deadline = Some(crate::clock::later(
            now.mono,
            crate::clock::seconds(timeout.unwrap_or(self.cfg.timeout as f64)),
        ));
        let w = match stage {
            Some(name) => Wait::Stage(name, Box::new(jobs)),
            None => Wait::Jobs(Box::new(jobs)),
        };
        self.orch_set_wait(id, w);
        self.jobs_progress(id, now, user)
    }

    /// Publishes one job of a step to `tgt`.
    fn jobs_publish(
        &mut self,
        id: u64,
        now: Now,
        jobs: &mut Jobs,
        tgt: Value,
        tgt_type: &str,
        user: &str,
    ) -> Result<(), String> {
        let mut kwarg = Map::new();
        kwarg.insert("tgt".into(), tgt);
        kwarg.insert("tgt_type".into(), json!(tgt_type));
        kwarg.insert("fun".into(), json!(jobs.plan.fun));
        kwarg.insert("arg".into(), Value::Array(jobs.plan.arg.clone()));
        if let Some(t) = jobs.plan.timeout {
            kwarg.insert("timeout".into(), json!(t));
        }
        let req = Request {
            fun: "publish".into(),
            arg: Vec::new(),
            kwarg,
            user: Some(user.to_string()),
            send_return: false,
        };
        let a = self.publish_job(now, &req);
        if !a.success {
            let why = crate::py::python_str(&a.ret);
            log::info!("orchestration step {}: {why}", jobs.plan.name);
            // No minion matching is an empty step; anything else (a bad target) is the
            // step's error, as Salt's saltutil.cmd raising makes it.
            return if why == NO_MATCH { Ok(()) } else { Err(why) };
        }
        let Some(jid) = a.jid else { return Ok(()) };
        self.orch.jobs.insert(jid.clone(), id);
        if jobs.jid.is_none() {
            jobs.jid = Some(jid);
        }
        for m in a
            .ret
            .get("minions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(m) = m.as_str() {
                jobs.waiting.insert(m.to_string());
            }
        }
        Ok(())
    }

    /// Moves a job step on: the next batch, expiries, the end.
    fn jobs_progress(&mut self, id: u64, now: Now, user: &str) -> Option<Value> {
        let mut jobs = match self.orch.running.get_mut(&id).and_then(|o| o.wait.take()) {
            Some(Wait::Jobs(j)) => (None, j),
            Some(Wait::Stage(name, j)) => (Some(name), j),
            other => {
                if let Some(o) = self.orch.running.get_mut(&id) {
                    o.wait = other;
                }
                return None;
            }
        };
        let (stage, ref mut j) = jobs;
        if let Some(mut b) = j.batch.take() {
            for m in b.expire(now.mono) {
                j.waiting.remove(&m);
                j.returns.push(MinionReturn {
                    id: m,
                    ret: None,
                    retcode: 0,
                });
            }
            // Salt's batch with failhard starts no one after a minion failed.
            let stopped = j.plan.cmd_kw.get("failhard") == Some(&Value::Bool(true))
                && j.returns.iter().any(|r| r.retcode != 0);
            let next = if stopped {
                Vec::new()
            } else {
                b.next(now.mono)
            };
            if !next.is_empty() {
                if let Err(e) = self.jobs_publish(id, now, j, json!(next), "list", user) {
                    log::warn!("orchestration step {}: {e}", j.plan.name);
                }
                // The batch counts a minion from when it started; the step waits on it.
                for m in &next {
                    j.waiting.insert(m.clone());
                }
            }
            let done = b.done() || (stopped && j.waiting.is_empty());
            let at = b.deadline();
            j.batch = Some(b);
            if !done {
                if let Some(at) = at {
                    self.timers.set(Timer::Orch(id), at);
                }
                self.orch_put_jobs(id, stage, jobs.1);
                return None;
            }
        } else if !j.waiting.is_empty() {
            if let Some(at) = j.deadline {
                self.timers.set(Timer::Orch(id), at);
            }
            self.orch_put_jobs(id, stage, jobs.1);
            return None;
        }
        self.timers.cancel(Timer::Orch(id));
        let j = jobs.1;
        self.jobs_forget(id);
        match stage {
            Some(name) => {
                if let Some(Orch {
                    body: Body::Over(Some(over)),
                    ..
                }) = self.orch.running.get_mut(&id)
                {
                    over.stage_done(&name, &j.plan.fun, &j.returns);
                }
                // The caller (or the event scan) advances the OverState.
                None
            }
            None => {
                // Salt's batched saltutil.cmd returns no jid for the step.
                let jid = j.jid.as_deref().filter(|_| j.batch.is_none());
                Some(match j.plan.kind {
                    JobKind::State => saltmod::state_ret(&j.plan, jid, &j.returns),
                    JobKind::Function => {
                        let ff = j.plan.fail_function.clone();
                        saltmod::function_ret(&j.plan, jid, &j.returns, &mut |v| {
                            ff.as_deref().is_some_and(|f| !fail_function_ok(f, v))
                        })
                    }
                })
            }
        }
    }

    fn orch_put_jobs(&mut self, id: u64, stage: Option<String>, j: Box<Jobs>) {
        let w = match stage {
            Some(name) => Wait::Stage(name, j),
            None => Wait::Jobs(j),
        };
        self.orch_set_wait(id, w);
    }

    /// A step ended: returns of its jobs that still come are not its business.
    fn jobs_forget(&mut self, id: u64) {
        self.orch.jobs.retain(|_, v| *v != id);
    }

    /// Starts an OverState stage's job.
    pub(super) fn over_stage(
        &mut self,
        id: u64,
        now: Now,
        name: String,
        tgt: String,
        fun: String,
        arg: Vec<Value>,
    ) {
        let user = self
            .orch
            .running
            .get(&id)
            .map(|o| o.user.clone())
            .unwrap_or_default();
        let plan = JobPlan {
            kind: JobKind::Function,
            name: name.clone(),
            tgt: json!(tgt),
            tgt_type: "compound".into(),
            fun,
            arg,
            kwarg: Map::new(),
            timeout: None,
            batch: None,
            subset: None,
            expect_minions: false,
            fail_minions: Vec::new(),
            allow_fail: 0,
            fail_function: None,
            test: false,
            cmd_kw: Map::new(),
            warnings: Vec::new(),
        };
        let _ = self.jobs_start(id, now, plan, &user, Some(name));
    }

    /// The timer of an orchestration's step fired.
    pub(in crate::master) fn orch_timer(&mut self, id: u64, now: Now) {
        let Some(o) = self.orch.running.get_mut(&id) else {
            return;
        };
        let user = o.user.clone();
        match o.wait.take() {
            Some(Wait::Event(w, started)) => {
                let secs = now.mono.saturating_duration_since(started).as_secs_f64();
                self.orch_answer(id, w.ret(secs), now);
            }
            Some(Wait::Sleep) => self.orch_answer(id, Value::Null, now),
            Some(w @ (Wait::Jobs(_) | Wait::Stage(..))) => {
                let (stage, mut j) = match w {
                    Wait::Jobs(j) => (None, j),
                    Wait::Stage(n, j) => (Some(n), j),
                    _ => return,
                };
                if j.batch.is_none() && j.deadline.is_some_and(|d| d <= now.mono) {
                    let window = Duration::from_secs(self.cfg.presence_timeout.max(1));
                    let connected = |m: &str| {
                        self.auth
                            .as_ref()
                            .is_some_and(|a| a.is_connected(m, now.mono, window))
                    };
                    let gone: Vec<String> = if j.plan.timeout.is_some() {
                        j.waiting.iter().cloned().collect()
                    } else {
                        // No timeout: Salt waits while the minions still run the job; a
                        // minion that is not connected will not return.
                        j.waiting
                            .iter()
                            .filter(|m| !connected(m))
                            .cloned()
                            .collect()
                    };
                    for m in gone {
                        j.waiting.remove(&m);
                        j.returns.push(MinionReturn {
                            id: m,
                            ret: None,
                            retcode: 0,
                        });
                    }
                    j.deadline = Some(crate::clock::later(
                        now.mono,
                        Duration::from_secs(self.cfg.timeout.max(1)),
                    ));
                }
                self.orch_put_jobs(id, stage, j);
                self.jobs_step_on(id, now, &user);
            }
            other => o.wait = other,
        }
    }

    /// Moves a job step on and, when it ended, the orchestration.
    fn jobs_step_on(&mut self, id: u64, now: Now, user: &str) {
        let stage = matches!(
            self.orch.running.get(&id).and_then(|o| o.wait.as_ref()),
            Some(Wait::Stage(..))
        );
        let ret = self.jobs_progress(id, now, user);
        let ended = self.orch.running.get(&id).is_some_and(|o| o.wait.is_none());
        match ret {
            Some(r) => self.orch_answer(id, r, now),
            None if stage && ended => self.orch_advance(id, now),
            None => {}
        }
    }

    /// Reads the bus for the returns and events orchestrations wait for.
    pub(in crate::master) fn orchestrate_events(&mut self, now: Now) {
        let end = self.bus.next_seq();
        if self.orch.running.is_empty() {
            self.orch.cursor = end;
            return;
        }
        // Only the events some step waits for are decoded.
        let patterns: Vec<crate::matcher::Glob> = self
            .orch
            .running
            .values()
            .filter_map(|o| match &o.wait {
                Some(Wait::Event(w, _)) => Some(crate::matcher::Glob::new(&w.name)),
                _ => None,
            })
            .collect();
        let mut seen: Vec<(String, Map<String, Value>)> = Vec::new();
        let jobs = &self.orch.jobs;
        self.orch.cursor = self.bus.scan(self.orch.cursor, &mut |tag, data| {
            let wanted = patterns.iter().any(|p| p.is_match(tag))
                || tag
                    .strip_prefix("salt/job/")
                    .and_then(|r| r.split_once("/ret/"))
                    .is_some_and(|(jid, _)| jobs.contains_key(jid));
            if wanted {
                if let Ok(d) = crate::bus::event_data(data) {
                    seen.push((tag.to_string(), d));
                }
            }
        });
        for (tag, data) in seen {
            if let Some((jid, minion)) = tag
                .strip_prefix("salt/job/")
                .and_then(|r| r.split_once("/ret/"))
            {
                if let Some(&id) = self.orch.jobs.get(jid) {
                    self.orch_job_return(id, now, minion, &data);
                }
            }
            let waiting: Vec<u64> = self
                .orch
                .running
                .iter()
                .filter(|(_, o)| matches!(o.wait, Some(Wait::Event(..))))
                .map(|(id, _)| *id)
                .collect();
            for id in waiting {
                let Some(o) = self.orch.running.get_mut(&id) else {
                    continue;
                };
                let Some(Wait::Event(w, started)) = o.wait.as_mut() else {
                    continue;
                };
                if w.event(&tag, &data) {
                    let secs = now.mono.saturating_duration_since(*started).as_secs_f64();
                    let ret = w.ret(secs);
                    self.orch_answer(id, ret, now);
                }
            }
        }
    }

    fn orch_job_return(&mut self, id: u64, now: Now, minion: &str, data: &Map<String, Value>) {
        let Some(o) = self.orch.running.get_mut(&id) else {
            return;
        };
        let user = o.user.clone();
        let j = match o.wait.as_mut() {
            Some(Wait::Jobs(j)) | Some(Wait::Stage(_, j)) => j,
            _ => return,
        };
        if !j.waiting.remove(minion) {
            return;
        }
        j.returns.push(MinionReturn {
            id: minion.to_string(),
            ret: Some(data.get("return").cloned().unwrap_or(Value::Null)),
            retcode: data.get("retcode").and_then(Value::as_i64).unwrap_or(0),
        });
        if let Some(b) = j.batch.as_mut() {
            b.returned(minion, now.mono);
        }
        self.jobs_step_on(id, now, &user);
    }
}
