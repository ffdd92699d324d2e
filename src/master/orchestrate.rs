//! Orchestrations in the master's core (`state.orchestrate`, `state.over`): each one a
//! state machine that waits, between turns, for what its current step needs (a render or a
//! command off the loop, job returns, an event, a timer) and resumes when it comes. Several
//! run at once; none ever holds the loop.

use super::{Master, Now, Timer};
use crate::batch::{Batch, Size};
use crate::bus::{Answer, ClientId, Request};
use crate::orchestrate::overstate::{Over, OverStep};
use crate::orchestrate::saltmod::{self, EventWait, JobKind, JobPlan, MinionReturn};
use crate::orchestrate::work::{Done, MasterEnv, Work};
use crate::orchestrate::{Need, Orchestration, Step};
use crate::runners::{self, Outcome};
use crate::states::run::RunOpts;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Where an orchestration's answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// A local client (`None`: the reactor, the schedule, or a client that left).
    Client(Option<ClientId>),
    /// The `salt.runner` step of another orchestration.
    Step(u64),
}

/// What an orchestration runs.
enum Body {
    /// `state.orchestrate`: the compiled SLS, once rendered.
    Sls(Option<Box<Orchestration>>),
    /// `state.over`: its stages, once read.
    Over(Option<Over>),
    /// `state.show_stages`.
    ShowStages,
}

/// A step that publishes jobs and collects the returns.
struct Jobs {
    plan: JobPlan,
    /// The first job's id (the step's `__jid__`).
    jid: Option<String>,
    /// Minions started and not returned yet.
    waiting: BTreeSet<String>,
    returns: Vec<MinionReturn>,
    batch: Option<Batch>,
    /// When the minions still waited for count as not returned (`None`: while connected).
    deadline: Option<Instant>,
}

/// What an orchestration waits for now.
enum Wait {
    /// Work off the loop (a render, a command, a state function).
    Work,
    /// Job returns.
    Jobs(Box<Jobs>),
    /// An event.
    Event(EventWait, Instant),
    /// A `retry` pause.
    Sleep,
    /// An orchestration it started with `salt.runner`.
    Runner(Box<crate::states::compile::Chunk>),
    /// An OverState stage's job.
    Stage(String, Box<Jobs>),
}

/// One running orchestration.
struct Orch {
    fun: String,
    jid: String,
    load: Map<String, Value>,
    reply: Reply,
    user: String,
    env: MasterEnv,
    body: Body,
    wait: Option<Wait>,
}

/// The orchestrations of one master.
#[derive(Default)]
pub(super) struct Orchs {
    running: BTreeMap<u64, Orch>,
    seq: u64,
    /// Which orchestration a published job belongs to.
    jobs: HashMap<String, u64>,
    /// Work for the I/O layer's threads.
    work: Vec<(u64, Work)>,
    /// How far the bus has been read for returns and events.
    cursor: u64,
    /// Set while a `salt.runner` step calls a runner: an orchestration it starts answers
    /// that step.
    parent: Option<u64>,
}

/// The kind of each runner this module answers.
pub(super) fn is_orchestration(fun: &str) -> bool {
    matches!(
        fun,
        "state.orchestrate" | "state.orch" | "state.sls" | "state.over" | "state.show_stages"
    )
}

fn fail_answer(ret: String) -> Answer {
    Answer {
        jid: None,
        ret: Value::String(ret),
        success: false,
        retcode: 1,
    }
}

impl Master {
    /// Starts an orchestration runner; its answer comes when it ends.
    pub(super) fn orchestrate_start(
        &mut self,
        now: Now,
        req: Request,
        client: Option<ClientId>,
    ) -> Option<Answer> {
        let runner = runners::find(&req.fun)?;
        let args = match runners::bind(runner, &req.arg, &req.kwarg) {
            Ok(a) => a,
            Err(e) => return Some(fail_answer(format!("Passed invalid arguments: {e}."))),
        };
        let over = matches!(req.fun.as_str(), "state.over" | "state.show_stages");
        let pillar_arg = if over { &Value::Null } else { &args[4] };
        let over_pillar = match pillar_arg {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => {
                return Some(fail_answer(format!(
                    "Exception occurred in runner {}: SaltInvocationError: Pillar data must be formatted as a dictionary",
                    req.fun
                )))
            }
        };
        let user = req.user.clone().unwrap_or_else(|| "UNKNOWN".into());
        let jid = self.jids.next(now.wall);
        let mut load = Map::new();
        load.insert("fun".into(), json!(format!("runner.{}", req.fun)));
        load.insert("jid".into(), json!(jid));
        load.insert("user".into(), json!(user));
        load.insert("fun_args".into(), runners::fun_args(&req.arg, &req.kwarg));
        self.fire(&format!("salt/run/{jid}/new"), load.clone(), now);
        let host = self
            .host_grains()
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("master")
            .to_string();
        let base_pillar = self.reactor.env.pillar.clone();
        let env = MasterEnv {
            id: self
                .cfg
                .id
                .clone()
                .unwrap_or_else(|| format!("{host}_master")),
            grains: self.host_grains().clone(),
            pillar: crate::pillar::merge::merge_override(&base_pillar, &over_pillar),
            opts: self.cfg.values(),
        };
        self.orch.seq += 1;
        let id = self.orch.seq;
        let reply = match self.orch.parent.take() {
            Some(p) => Reply::Step(p),
            None => Reply::Client(client),
        };
        let (body, work) = if over {
            if req.fun == "state.over" {
                log::warn!(
                    "state.over: the OverState was removed from Salt in 2015.8; use state.orchestrate"
                );
            }
            let saltenv = crate::py::python_str(&args[0]);
            let path = match &args[1] {
                Value::Null => self.cfg.overstate.clone(),
                v => crate::py::python_str(v),
            };
            let body = if req.fun == "state.over" {
                Body::Over(None)
            } else {
                Body::ShowStages
            };
            let work = Work::Overstate {
                saltenv,
                path,
                env: env.clone(),
            };
            (body, work)
        } else {
            let mut kwargs = Map::new();
            kwargs.insert("saltenv".into(), args[1].clone());
            if !args[3].is_null() {
                kwargs.insert("exclude".into(), args[3].clone());
            }
            let work = Work::Render {
                mods: args[0].clone(),
                kwargs,
                env: env.clone(),
            };
            (Body::Sls(None), work)
        };
        let test = if over {
            false
        } else {
            match &args[2] {
                Value::Null => self.cfg.test,
                v => crate::py::truthy(v),
            }
        };
        let orch_jid = match args.get(7) {
            Some(Value::String(s)) if !over => s.clone(),
            _ => jid.clone(),
        };
        load.insert("__orch_jid".into(), json!(orch_jid));
        load.insert("__orch_test".into(), json!(test));
        self.orch.running.insert(
            id,
            Orch {
                fun: req.fun.clone(),
                jid,
                load,
                reply,
                user,
                env,
                body,
                wait: Some(Wait::Work),
            },
        );
        self.orch.work.push((id, work));
        None
    }

    /// The work the I/O layer's threads should do.
    pub fn take_orchestration_work(&mut self) -> Vec<(u64, Work)> {
        std::mem::take(&mut self.orch.work)
    }

    /// True while orchestrations have events on the bus they have not looked at.
    pub(super) fn orchestrations_busy(&self) -> bool {
        !self.orch.running.is_empty() && self.orch.cursor < self.bus.next_seq()
    }

    /// How many orchestrations are running.
    pub fn orchestrations(&self) -> usize {
        self.orch.running.len()
    }

    /// A piece of work finished off the loop.
    pub fn orchestration_work_done(&mut self, now: Now, id: u64, done: Done) {
        let Some(o) = self.orch.running.get_mut(&id) else {
            return;
        };
        if !matches!(o.wait, Some(Wait::Work)) {
            return;
        }
        o.wait = None;
        match (done, &mut o.body) {
            (Done::Rendered(Ok(compiled)), Body::Sls(slot)) => {
                let test = o.load.get("__orch_test").is_some_and(crate::py::truthy);
                let jid = o
                    .load
                    .get("__orch_jid")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let opts = RunOpts {
                    test,
                    failhard: o.env.opts.get("failhard").is_some_and(crate::py::truthy),
                    state_events: false,
                    jid,
                    id: o.env.id.clone(),
                    local: false,
                };
                *slot = Some(Box::new(Orchestration::new(compiled, opts)));
                self.orch_advance(id, now);
            }
            (Done::Rendered(Err(errors)), _) => self.orch_finish(
                id,
                now,
                Value::Array(errors.into_iter().map(Value::String).collect()),
                false,
            ),
            (Done::Overstate(r), Body::Over(slot)) => {
                let stages = match r {
                    Ok(s) => s,
                    Err(e) => {
                        log::warn!("state.over: {e}; there are no stages");
                        Some(Value::Array(Vec::new()))
                    }
                };
                *slot = Some(Over::new(stages));
                self.orch_advance(id, now);
            }
            (Done::Overstate(r), Body::ShowStages) => {
                let shown = match r {
                    Ok(Some(s)) => crate::orchestrate::overstate::sorted_stages(&s),
                    Ok(None) => json!({}),
                    Err(e) => {
                        log::warn!("state.show_stages: {e}");
                        json!({})
                    }
                };
                let mut d = Map::new();
                d.insert("data".into(), shown.clone());
                d.insert("outputter".into(), json!("overstatestage"));
                let jid = o.jid.clone();
                self.fire(&format!("salt/run/{jid}/progress"), d, now);
                self.orch_finish(id, now, shown, true);
            }
            (Done::State(ret), Body::Sls(_)) => self.orch_answer(id, ret, now),
            (Done::Retcode(code), Body::Sls(_)) => {
                self.orch_answer(id, code.map_or(Value::Null, |c| json!(c)), now)
            }
            (other, _) => {
                log::error!("orchestration {id}: unexpected work result {other:?}");
                self.orch_finish(
                    id,
                    now,
                    json!(["internal error: unexpected work result"]),
                    false,
                )
            }
        }
    }

    /// Hands the step's answer to the orchestration and runs it on.
    fn orch_answer(&mut self, id: u64, ret: Value, now: Now) {
        self.timers.cancel(Timer::Orch(id));
        let Some(o) = self.orch.running.get_mut(&id) else {
            return;
        };
        o.wait = None;
        if let Body::Sls(Some(m)) = &mut o.body {
            m.answer(ret, now.wall);
        }
        self.orch_advance(id, now);
    }

    /// Runs an orchestration until it waits or ends.
    fn orch_advance(&mut self, id: u64, now: Now) {
        loop {
            let Some(o) = self.orch.running.get_mut(&id) else {
                return;
            };
            if o.wait.is_some() {
                return;
            }
            let mut events: Vec<(String, Value)> = Vec::new();
            let step = match &mut o.body {
                Body::Sls(Some(m)) => {
                    match m.resume(now.wall, &mut |t, d| events.push((t.to_string(), d))) {
                        Step::Done(running) => {
                            let ok = m.succeeded(&running);
                            Err((Value::Object(running), ok))
                        }
                        Step::Wait(need) => Ok(need),
                    }
                }
                Body::Over(Some(over)) => {
                    let jid = o.jid.clone();
                    let step =
                        over.next(&mut |d| events.push((format!("salt/run/{jid}/progress"), d)));
                    for (t, d) in events.drain(..) {
                        self.fire(&t, d.as_object().cloned().unwrap_or_default(), now);
                    }
                    match step {
                        OverStep::Run {
                            name,
                            tgt,
                            fun,
                            arg,
                        } => {
                            self.over_stage(id, now, name, tgt, fun, arg);
                            continue;
                        }
                        OverStep::Done(ret) => {
                            self.orch_finish(id, now, ret, true);
                            return;
                        }
                    }
                }
                _ => return,
            };
            for (t, d) in events {
                self.fire(&t, d.as_object().cloned().unwrap_or_default(), now);
            }
            match step {
                Err((running, ok)) => {
                    self.orch_finish(id, now, running, ok);
                    return;
                }
                Ok(need) => {
                    if let Some(ret) = self.orch_start_step(id, need, now) {
                        if let Some(Orch {
                            body: Body::Sls(Some(m)),
                            ..
                        }) = self.orch.running.get_mut(&id)
                        {
                            m.answer(ret, now.wall);
                        }
                    }
                }
            }
        }
    }

    /// Starts what a step needs; its answer when it has one at once.
    fn orch_start_step(&mut self, id: u64, need: Need, now: Now) -> Option<Value> {
        let o = self.orch.running.get(&id)?;
        let (user, env) = (o.user.clone(), o.env.clone());
        let failhard = env.opts.get("failhard").is_some_and(crate::py::truthy);
        let orch_jid = o
            .load
            .get("__orch_jid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match need {
            Need::Salt { fun, low, test } => match fun.as_str() {
                "state" | "function" => {
                    let plan = if fun == "state" {
                        saltmod::plan_state(&low, test, failhard)
                    } else {
                        saltmod::plan_function(&low, test, failhard)
                    };
                    let plan = match plan {
                        Ok(p) => p,
                        Err(r) => return Some(r),
                    };
                    let mut args = Map::new();
                    args.insert("type".into(), json!(fun));
                    args.insert("tgt".into(), plan.tgt.clone());
                    args.insert("name".into(), json!(plan.name));
                    args.insert("args".into(), Value::Object(plan.cmd_kw.clone()));
                    self.fire(&format!("salt/run/{orch_jid}/args"), args, now);
                    self.jobs_start(id, now, plan, &user, None)
                }
                "wait_for_event" => match saltmod::plan_wait(&low, test) {
                    Err(r) => Some(r),
                    Ok(w) => {
                        let at = crate::clock::later(now.mono, crate::clock::seconds(w.timeout));
                        self.timers.set(Timer::Orch(id), at);
                        self.orch_set_wait(id, Wait::Event(w, now.mono));
                        None
                    }
                },
                "runner" => {
                    let name = low
                        .get("name")
                        .map(crate::py::python_str)
                        .unwrap_or_default();
                    let kwarg = saltmod::call_kwargs(&low);
                    let mut args = Map::new();
                    args.insert("type".into(), json!("runner"));
                    args.insert("name".into(), json!(name));
                    args.insert("args".into(), json!([]));
                    args.insert("kwargs".into(), Value::Object(kwarg.clone()));
                    self.fire(&format!("salt/run/{orch_jid}/args"), args, now);
                    self.orch.parent = Some(id);
                    let req = Request {
                        fun: name,
                        arg: Vec::new(),
                        kwarg,
                        user: Some(user),
                        send_return: false,
                    };
                    let answer = self.call(now, req, None);
                    let started_child = self.orch.parent.take().is_none();
                    match answer {
                        Some(a) => Some(saltmod::call_ret(
                            "runner",
                            &low,
                            a.ret,
                            a.success,
                            a.jid.as_deref(),
                        )),
                        None if started_child => {
                            self.orch_set_wait(id, Wait::Runner(Box::new(low)));
                            None
                        }
                        // A queue operation: carried out in this turn's commit.
                        None => Some(saltmod::call_ret(
                            "runner",
                            &low,
                            Value::Bool(true),
                            true,
                            None,
                        )),
                    }
                }
                "wheel" => {
                    let name = low
                        .get("name")
                        .map(crate::py::python_str)
                        .unwrap_or_default();
                    let kwarg = saltmod::call_kwargs(&low);
                    let mut args = Map::new();
                    args.insert("type".into(), json!("wheel"));
                    args.insert("name".into(), json!(name));
                    args.insert("args".into(), Value::Object(kwarg.clone()));
                    self.fire(&format!("salt/run/{orch_jid}/args"), args, now);
                    let a = self.wheel_call(now, &name, Vec::new(), kwarg, &user);
                    Some(saltmod::call_ret(
                        "wheel",
                        &low,
                        a.ret,
                        a.success,
                        a.jid.as_deref(),
                    ))
                }
                other => Some(
                    json!({"name": low.get("name"), "result": false, "changes": {},
                                     "comment": format!("State 'salt.{other}' was not found")}),
                ),
            },
            Need::State {
                state,
                fun,
                low,
                test,
            } => {
                self.orch_set_wait(id, Wait::Work);
                self.orch.work.push((
                    id,
                    Work::State {
                        state,
                        fun,
                        low,
                        test,
                        env,
                    },
                ));
                None
            }
            Need::Retcode { cmd, low } => {
                self.orch_set_wait(id, Wait::Work);
                self.orch.work.push((
                    id,
                    Work::Retcode {
                        cmd,
                        low,
                        grains: env.grains,
                    },
                ));
                None
            }
            Need::Sleep(secs) => {
                let at = crate::clock::later(now.mono, Duration::from_secs(secs));
                self.timers.set(Timer::Orch(id), at);
                self.orch_set_wait(id, Wait::Sleep);
                None
            }
        }
    }

    fn orch_set_wait(&mut self, id: u64, w: Wait) {
        if let Some(o) = self.orch.running.get_mut(&id) {
            o.wait = Some(w);
        }
    }

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
    fn jobs_start(
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
                self.jobs_publish(id, now, &mut jobs, json!(minions), "list", user);
            }
        } else {
            let (tgt, tt) = (jobs.plan.tgt.clone(), jobs.plan.tgt_type.clone());
            self.jobs_publish(id, now, &mut jobs, tgt, &tt, user);
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
    ) {
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
            log::info!(
                "orchestration step {}: {}",
                jobs.plan.name,
                crate::py::python_str(&a.ret)
            );
            return;
        }
        let Some(jid) = a.jid else { return };
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
            let next = b.next(now.mono);
            if !next.is_empty() {
                self.jobs_publish(id, now, j, json!(next), "list", user);
                // The batch counts a minion from when it started; the step waits on it.
                for m in &next {
                    j.waiting.insert(m.clone());
                }
            }
            let done = b.done();
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
    fn over_stage(
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
    pub(super) fn orch_timer(&mut self, id: u64, now: Now) {
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
    pub(super) fn orchestrate_events(&mut self, now: Now) {
        let end = self.bus.next_seq();
        if self.orch.running.is_empty() {
            self.orch.cursor = end;
            return;
        }
        // Only the events some step waits for are decoded.
        let patterns: Vec<String> = self
            .orch
            .running
            .values()
            .filter_map(|o| match &o.wait {
                Some(Wait::Event(w, _)) => Some(w.name.clone()),
                _ => None,
            })
            .collect();
        let mut seen: Vec<(String, Map<String, Value>)> = Vec::new();
        let jobs = &self.orch.jobs;
        self.orch.cursor = self.bus.scan(self.orch.cursor, &mut |tag, data| {
            let wanted = patterns.iter().any(|p| crate::matcher::fnmatch(tag, p))
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

    /// Ends an orchestration: its return to whoever asked.
    fn orch_finish(&mut self, id: u64, now: Now, result: Value, ok: bool) {
        self.timers.cancel(Timer::Orch(id));
        let Some(mut o) = self.orch.running.remove(&id) else {
            return;
        };
        self.orch.jobs.retain(|_, v| *v != id);
        o.load.remove("__orch_jid");
        o.load.remove("__orch_test");
        let (ret, success) = match o.body {
            Body::Sls(_) => {
                let mut data = Map::new();
                data.insert(o.env.id.clone(), result);
                let code = if ok { 0 } else { 1 };
                (
                    json!({"data": data, "outputter": "highstate", "retcode": code}),
                    ok,
                )
            }
            Body::Over(_) | Body::ShowStages => (result, true),
        };
        let mut answer =
            self.finish_run(now, o.jid.clone(), o.load.clone(), Outcome { ret, success });
        answer.retcode = if success { 0 } else { 1 };
        match o.reply {
            Reply::Client(Some(c)) => self.answer_in_order(c, answer),
            Reply::Client(None) => {
                if !success {
                    log::warn!("{} {} ended with failures", o.fun, o.jid);
                }
            }
            Reply::Step(parent) => {
                let low = match self.orch.running.get_mut(&parent).map(|p| p.wait.take()) {
                    Some(Some(Wait::Runner(low))) => low,
                    Some(other) => {
                        if let Some(p) = self.orch.running.get_mut(&parent) {
                            p.wait = other;
                        }
                        return;
                    }
                    None => return,
                };
                let r = saltmod::call_ret(
                    "runner",
                    &low,
                    answer.ret,
                    answer.success,
                    answer.jid.as_deref(),
                );
                self.orch_answer(parent, r, now);
            }
        }
    }

    /// A client went away: orchestrations it started answer no one.
    pub(super) fn orch_forget_client(&mut self, id: ClientId) {
        for o in self.orch.running.values_mut() {
            if o.reply == Reply::Client(Some(id)) {
                o.reply = Reply::Client(None);
            }
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

/// A step that could not start.
fn step_error(name: &str, why: &str) -> Value {
    json!({"name": name, "result": false, "changes": {}, "comment": why})
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
