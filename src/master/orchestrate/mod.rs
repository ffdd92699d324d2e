//! Orchestrations in the master's core (`state.orchestrate`, `state.over`): each one a
//! state machine that waits, between turns, for what its current step needs (a render or a
//! command off the loop, job returns, an event, a timer) and resumes when it comes. Several
//! run at once; none ever holds the loop. `jobs.rs` has the steps that publish jobs and
//! collect their returns, and the bus and timers they wait on.

mod jobs;

use jobs::Jobs;

use super::{Master, Now, Timer};
use crate::bus::{Answer, ClientId, Request};
use crate::orchestrate::overstate::{Over, OverStep};
use crate::orchestrate::saltmod::{self, EventWait};
use crate::orchestrate::work::{Done, MasterEnv, Work};
use crate::orchestrate::{Need, Orchestration, Step};
use crate::runners::{self, Outcome};
use crate::states::run::RunOpts;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
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
            Err(e) => {
                return Some(super::run::refused(format!(
                    "Passed invalid arguments: {e}."
                )))
            }
        };
        let over = matches!(req.fun.as_str(), "state.over" | "state.show_stages");
        let pillar_arg = if over { &Value::Null } else { &args[4] };
        let over_pillar = match pillar_arg {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => {
                return Some(super::run::refused(format!(
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
        let reply = match self.orch_parent_take() {
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
                    let args = saltmod::call_args_event("runner", &name, &kwarg);
                    self.fire(&format!("salt/run/{orch_jid}/args"), args, now);
                    // An orchestration or a queue operation the call starts takes this and
                    // answers the step when it ends.
                    self.orch.parent = Some(id);
                    let req = Request {
                        fun: name,
                        arg: Vec::new(),
                        kwarg,
                        user: Some(user),
                        send_return: false,
                    };
                    let answer = self.call(now, req, None);
                    let taken = self.orch.parent.take().is_none();
                    match answer {
                        Some(a) => Some(saltmod::call_ret(
                            "runner",
                            &low,
                            a.ret,
                            a.success,
                            a.jid.as_deref(),
                        )),
                        None if taken => {
                            self.orch_set_wait(id, Wait::Runner(Box::new(low)));
                            None
                        }
                        None => Some(step_error(
                            &crate::py::python_str(low.get("name").unwrap_or(&Value::Null)),
                            "the runner gave no answer",
                        )),
                    }
                }
                "wheel" => {
                    let name = low
                        .get("name")
                        .map(crate::py::python_str)
                        .unwrap_or_default();
                    let kwarg = saltmod::call_kwargs(&low);
                    let args = saltmod::call_args_event("wheel", &name, &kwarg);
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
            Reply::Step(parent) => self.orch_runner_answered(parent, answer, now),
        }
    }

    /// The parent orchestration's `salt.runner` step waited for this answer.
    pub(super) fn orch_runner_answered(&mut self, parent: u64, answer: Answer, now: Now) {
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

    /// Who a runner call started now answers: the `salt.runner` step that made it, if any.
    pub(super) fn orch_parent_take(&mut self) -> Option<u64> {
        self.orch.parent.take()
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

/// A step that could not start.
fn step_error(name: &str, why: &str) -> Value {
    json!({"name": name, "result": false, "changes": {}, "comment": why})
}
