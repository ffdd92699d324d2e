//! Runner calls in the master: from local clients (`brine-run`), from the schedule and from
//! queued runner calls, with their `salt/run/<jid>/new` and `.../ret` events; and the turn's
//! commit, which carries out the queue operations planned during the turn.

use super::{Master, Now, RunCtx};
use crate::bus::{Answer, ClientId, Request};
use crate::queue::{Call, Outcome as QueueOutcome};
use crate::runners::queue::{Plan, Planned, Then};
use crate::runners::{self, Exec, Outcome};
use serde_json::{json, Map, Value};

/// Rounds of commits one turn runs at most: a queued runner call may itself plan queue
/// operations, which the next round carries out.
const MAX_ROUNDS: usize = 8;

/// A queue operation waiting for the turn's commit, or an answer held behind one so that a
/// client's answers leave in the order of its requests.
pub(super) struct PendingQueue {
    /// The client to answer, if any (cleared when it goes away).
    client: Option<ClientId>,
    /// The orchestration whose `salt.runner` step waits for the answer, if any.
    orch: Option<u64>,
    /// What waits.
    work: Pending,
}

enum Pending {
    /// A planned operation: the runner job's id, its `salt/run/<jid>/ret` load so far, and
    /// the plan.
    Op {
        jid: String,
        load: Map<String, Value>,
        plan: Plan,
    },
    /// An answer ready now, held until the same client's earlier operations are answered.
    Ready(Answer),
    /// An answer that holds only once the turn's writes are on disk (an eauth token stored
    /// or removed); when the commit fails the client is told so instead.
    Durable(Answer),
}

pub(super) fn refused(ret: String) -> Answer {
    Answer {
        jid: None,
        ret: Value::String(ret),
        success: false,
        retcode: 1,
    }
}

impl Master {
    /// Runs a request from a local client (or, with `client` None, from inside the master).
    /// The answer is `None` when it comes later: a queue operation is answered after the
    /// commit that holds it.
    pub(super) fn call(
        &mut self,
        now: Now,
        req: Request,
        client: Option<ClientId>,
    ) -> Option<Answer> {
        if let Some(fun) = req.fun.strip_prefix("wheel.") {
            return Some(self.wheel(now, fun, &req));
        }
        if req.fun == "publish" {
            return Some(self.publish_job(now, &req));
        }
        if super::tokens::is_token_fun(&req.fun) {
            return self.token_call(now, &req, client);
        }
        if req.fun == "reactor.test" && self.render_in_child {
            return self.reactor_test_deferred(now, &req, client);
        }
        let Some(runner) = runners::find(&req.fun) else {
            return Some(refused(runners::not_available(&req.fun)));
        };
        if let Exec::Orchestrate = runner.exec {
            return self.orchestrate_start(now, req, client);
        }
        if let Exec::Client = runner.exec {
            return Some(refused(format!(
                "'{}' runs in the calling process, not in the master.",
                req.fun
            )));
        }
        // brine-api's runner_async names the jid before the call (Salt's low `__jid__`), so
        // that it can answer at once.
        let mut req = req;
        let asked_jid = match req.kwarg.remove("__jid__") {
            Some(Value::String(j)) if crate::jobs::is_jid(&j) => Some(j),
            _ => None,
        };
        let args = match runners::bind(runner, &req.arg, &req.kwarg) {
            Ok(a) => a,
            Err(e) => return Some(refused(format!("Passed invalid arguments: {e}."))),
        };
        let jid = asked_jid.unwrap_or_else(|| self.jids.next(now.wall));
        let user = req.user.unwrap_or_else(|| "UNKNOWN".into());
        let mut load = Map::new();
        load.insert("fun".into(), json!(format!("runner.{}", req.fun)));
        load.insert("jid".into(), json!(jid));
        load.insert("user".into(), json!(user));
        load.insert("fun_args".into(), runners::fun_args(&req.arg, &req.kwarg));
        self.fire(&format!("salt/run/{jid}/new"), load.clone(), now);
        let outcome = match runner.exec {
            Exec::Master(fun) => {
                let mut ctx = RunCtx {
                    master: self,
                    now,
                    user: user.clone(),
                };
                fun(&mut ctx, &args)
            }
            Exec::Queue(plan) => match plan(&self.cfg, &args) {
                Planned::Run(plan) => {
                    let orch = self.orch_parent_take();
                    self.queue_pending.push(PendingQueue {
                        client,
                        orch,
                        work: Pending::Op { jid, load, plan },
                    });
                    return None;
                }
                Planned::Done(outcome) => outcome,
                Planned::Progress(errors) => {
                    let mut d = Map::new();
                    d.insert("errors".into(), Value::String(errors));
                    self.fire(&format!("salt/run/{jid}/progress"), d, now);
                    Outcome::ok(Value::Bool(false))
                }
            },
            Exec::Client | Exec::Orchestrate => {
                Outcome::exception(&req.fun, "runs in the calling process")
            }
        };
        Some(self.finish_run(now, jid, load, outcome))
    }

    /// Fires `salt/run/<jid>/ret` and builds the caller's answer.
    pub(super) fn finish_run(
        &mut self,
        now: Now,
        jid: String,
        mut load: Map<String, Value>,
        outcome: Outcome,
    ) -> Answer {
        load.insert("return".into(), outcome.ret.clone());
        load.insert("success".into(), json!(outcome.success));
        self.fire(&format!("salt/run/{jid}/ret"), load, now);
        Answer {
            jid: Some(jid),
            ret: outcome.ret,
            success: outcome.success,
            retcode: if outcome.success { 0 } else { 1 },
        }
    }

    /// Runs a runner call of the master's own (the schedule, a queued runner call).
    pub(super) fn run_internal(
        &mut self,
        now: Now,
        fun: &str,
        arg: Vec<Value>,
        kwarg: Map<String, Value>,
        user: &str,
    ) -> Option<Answer> {
        // Only runner functions: a queued runner call or a runner reaction may not publish
        // jobs or run wheel functions through the runner door (Salt looks in its runner table).
        if runners::find(fun).is_none() {
            log::warn!("runner {fun} failed: {}", runners::not_available(fun));
            return Some(refused(runners::not_available(fun)));
        }
        let req = Request {
            fun: fun.to_owned(),
            arg,
            kwarg,
            user: Some(user.to_owned()),
            send_return: false,
        };
        let answer = self.call(now, req, None);
        if let Some(a) = answer.as_ref().filter(|a| !a.success) {
            log::warn!("runner {fun} failed: {}", crate::py::python_str(&a.ret));
        }
        answer
    }

    /// True while queue operations wait for a commit (the loop must not sleep).
    pub fn busy(&self) -> bool {
        !self.queue_pending.is_empty()
            || self.reactor_busy()
            || self.orchestrations_busy()
            || self.bus.has_ready()
            || self.bus.has_unlogged()
    }

    /// Sends a client its answer now, or holds it behind the client's operations still
    /// waiting for the commit, so that answers leave in the order of the requests.
    pub(super) fn answer_in_order(&mut self, id: ClientId, answer: Answer) {
        if self.queue_pending.iter().any(|p| p.client == Some(id)) {
            self.queue_pending.push(PendingQueue {
                client: Some(id),
                orch: None,
                work: Pending::Ready(answer),
            });
        } else {
            self.bus.answer(id, &answer);
        }
    }

    /// Answers `client` with `answer` once the turn's commit has put its writes on disk.
    pub(super) fn answer_after_commit(&mut self, client: ClientId, answer: Answer) {
        self.queue_pending.push(PendingQueue {
            client: Some(client),
            orch: None,
            work: Pending::Durable(answer),
        });
    }

    /// A client went away: its pending answers have no one to go to.
    pub(super) fn forget_client(&mut self, id: ClientId) {
        for p in &mut self.queue_pending {
            if p.client == Some(id) {
                p.client = None;
            }
        }
    }

    /// Commits the turn's writes and queue operations in one transaction; replies and
    /// answers that waited for them leave only when it succeeded (a minion whose return is
    /// not acknowledged sends it again).
    pub fn commit(&mut self, now: Now) {
        self.commit_event_log(now);
        for _ in 0..MAX_ROUNDS {
            let pending = std::mem::take(&mut self.queue_pending);
            if pending.is_empty() && self.batch.is_empty() {
                break;
            }
            let calls: Vec<Call> = pending
                .iter()
                .filter_map(|p| match &p.work {
                    Pending::Op { plan, .. } => Some(plan.call.clone()),
                    Pending::Ready(_) | Pending::Durable(_) => None,
                })
                .collect();
            let (batch, results) = self.queues.execute(&mut self.batch, &calls);
            let failed = match batch {
                Ok(()) => {
                    self.zout.append(&mut self.after_commit);
                    if !calls.is_empty() {
                        self.counters.queue_operations += calls.len() as u64;
                        self.counters.queue_commits += 1;
                    }
                    None
                }
                Err(e) => {
                    log::error!("cannot commit to the store: {e}");
                    self.batch.clear();
                    self.after_commit.clear();
                    Some(e.to_string())
                }
            };
            let mut results = results.into_iter();
            for p in pending {
                match p.work {
                    Pending::Op { jid, load, plan } => {
                        let r = results.next().unwrap_or_else(|| {
                            Err(crate::queue::QueueError::Store("not carried out".into()))
                        });
                        self.finish_queue(now, (p.client, p.orch), jid, load, plan, r);
                    }
                    Pending::Ready(answer) => {
                        if let Some(id) = p.client {
                            self.bus.answer(id, &answer);
                        }
                    }
                    Pending::Durable(answer) => {
                        let answer = match &failed {
                            None => answer,
                            Some(e) => refused(format!("not stored: {e}")),
                        };
                        if let Some(id) = p.client {
                            self.bus.answer(id, &answer);
                        }
                    }
                }
            }
        }
        self.zout.append(&mut self.after_commit);
    }

    fn finish_queue(
        &mut self,
        now: Now,
        (client, orch): (Option<ClientId>, Option<u64>),
        jid: String,
        load: Map<String, Value>,
        plan: Plan,
        r: QueueOutcome,
    ) {
        let fun = load
            .get("fun")
            .and_then(Value::as_str)
            .and_then(|f| f.strip_prefix("runner."))
            .unwrap_or("queue")
            .to_owned();
        let user = load
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or("UNKNOWN")
            .to_owned();
        let outcome = match (r, plan.then) {
            (Err(e), _) => Outcome::exception(&fun, &e.to_string()),
            (Ok(v), Then::Return) => Outcome::ok(v),
            (Ok(items), Then::ProcessQueue { queue, backend }) => Outcome::ok(Value::Object(
                self.fire_process(now, &queue, backend, items),
            )),
            (Ok(items), Then::ProcessRunner { queue, backend }) => {
                let data = self.fire_process(now, &queue, backend, items);
                let calls = match data.get("items") {
                    Some(Value::Array(a)) => a.clone(),
                    _ => Vec::new(),
                };
                for item in calls {
                    match runners::queue::runner_call(&item) {
                        Ok((f, args, kwargs)) => {
                            self.run_internal(now, &f, args, kwargs, &user);
                        }
                        Err(e) => log::error!("queue {queue}: {e}; skipped"),
                    }
                }
                Outcome::ok(Value::Null)
            }
        };
        let answer = self.finish_run(now, jid, load, outcome);
        if let Some(id) = client {
            self.bus.answer(id, &answer);
        }
        if let Some(o) = orch {
            self.orch_runner_answered(o, answer, now);
        }
    }

    /// Fires `salt/queue/<queue>/process` (also for no items) and returns its data.
    fn fire_process(
        &mut self,
        now: Now,
        queue: &str,
        backend: &str,
        items: Value,
    ) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("items".into(), items);
        data.insert("backend".into(), json!(backend));
        data.insert("queue".into(), json!(queue));
        self.fire(&format!("salt/queue/{queue}/process"), data.clone(), now);
        data
    }
}
