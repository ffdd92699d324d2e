//! Orchestration on the master (`state.orchestrate`, and the old `state.over`): compiled
//! chunks run by the state engine's own runner inside the master's core, as `<id>_master`.
//!
//! The runner is synchronous; the master's loop must never wait. So a step that waits (a
//! job on minions, an event, a command, a `retry` pause) suspends the run: the runner stops,
//! its partial result is dropped, and the step goes to the master as a [`Need`]. When the
//! master has the step's answer, the runner runs again from the start with every answer so
//! far given from memory, reaches the next step that waits, and so on. The runner's choices
//! depend only on those answers, so each replay takes the same path (deterministic replay);
//! an orchestration has tens of steps, so replaying is cheap. Events a replay would send
//! again are counted and not sent twice.

pub mod overstate;
pub mod saltmod;
pub mod work;

use crate::clock::local_time_of_day;
use crate::states::apply::Compiled;
use crate::states::compile::Chunk;
use crate::states::run::{Exec, RunOpts, Runner};
use serde_json::{json, Map, Value};
use std::time::SystemTime;

/// What an orchestration waits for before it can go on.
#[derive(Debug, Clone, PartialEq)]
pub enum Need {
    /// A `salt.*` step: `state`, `function`, `wait_for_event`, `runner` or `wheel`.
    Salt {
        /// The `salt` state function.
        fun: String,
        /// Its chunk.
        low: Chunk,
        /// The run is a test run.
        test: bool,
    },
    /// A state function of another module, which may block: run off the loop.
    State {
        /// The module.
        state: String,
        /// The function.
        fun: String,
        /// Its chunk.
        low: Chunk,
        /// The run is a test run.
        test: bool,
    },
    /// An `onlyif`/`unless`/`check_cmd` command: its exit status (off the loop).
    Retcode {
        /// The command.
        cmd: String,
        /// The chunk it belongs to.
        low: Chunk,
    },
    /// A pause between `retry:` attempts, in seconds.
    Sleep(u64),
}

/// What a resumed orchestration did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// It waits for this.
    Wait(Need),
    /// It ran to the end: the state returns by tag.
    Done(Map<String, Value>),
}

/// One answered step, as the runner sees it again on each replay.
#[derive(Debug, Clone)]
struct Memo {
    ret: Value,
    timing: Option<(String, f64)>,
}

/// One orchestration's state between turns.
#[derive(Debug)]
pub struct Orchestration {
    compiled: Compiled,
    opts: RunOpts,
    memo: Vec<Memo>,
    fired: usize,
    waiting: Option<(Need, SystemTime)>,
}

impl Orchestration {
    /// An orchestration of `compiled`, run with `opts` (its id is `<id>_master`).
    pub fn new(compiled: Compiled, opts: RunOpts) -> Orchestration {
        Orchestration {
            compiled,
            opts,
            memo: Vec::new(),
            fired: 0,
            waiting: None,
        }
    }

    /// Whether it is a test run.
    pub fn test(&self) -> bool {
        self.opts.test
    }

    /// The step it waits for, if any.
    pub fn waiting(&self) -> Option<&Need> {
        self.waiting.as_ref().map(|(n, _)| n)
    }

    /// Runs on from where it stopped: the next step to wait for, or the whole return.
    /// Events go to `fire`.
    pub fn resume(&mut self, now: SystemTime, fire: &mut dyn FnMut(&str, Value)) -> Step {
        if let Some((need, _)) = &self.waiting {
            return Step::Wait(need.clone());
        }
        let mut replay = Replay {
            memo: &mut self.memo,
            calls: 0,
            pending: None,
            now,
            fired_before: self.fired,
            fired: 0,
            fire,
            timing: None,
        };
        let running = Runner::new(
            self.compiled.chunks.clone(),
            self.compiled.processed.clone(),
            self.opts.clone(),
            &mut replay,
        )
        .run();
        let (pending, fired) = (replay.pending.take(), replay.fired);
        self.fired = self.fired.max(fired);
        match pending {
            Some(need) => {
                self.waiting = Some((need.clone(), now));
                Step::Wait(need)
            }
            None => Step::Done(running),
        }
    }

    /// The answer to the step it waits for (a state return, an exit status as a number or
    /// null, or null after a pause); `now` closes the step's duration.
    pub fn answer(&mut self, ret: Value, now: SystemTime) {
        let Some((need, started)) = self.waiting.take() else {
            return;
        };
        let timing = match need {
            Need::Salt { .. } | Need::State { .. } => {
                let ms =
                    now.duration_since(started).unwrap_or_default().as_micros() as f64 / 1000.0;
                Some((local_time_of_day(started), ms))
            }
            Need::Retcode { .. } | Need::Sleep(_) => None,
        };
        self.memo.push(Memo { ret, timing });
    }

    /// Salt's `check_result` over the whole return (the runner's retcode is 1 when false).
    pub fn succeeded(&self, running: &Map<String, Value>) -> bool {
        crate::states::apply::check_result(running, Some(&self.compiled.high))
    }
}

/// The runner's executor during one replay.
struct Replay<'r> {
    memo: &'r mut Vec<Memo>,
    calls: usize,
    pending: Option<Need>,
    now: SystemTime,
    fired_before: usize,
    fired: usize,
    fire: &'r mut dyn FnMut(&str, Value),
    timing: Option<(String, f64)>,
}

/// The `salt` state functions an orchestration has.
const SALT_FUNS: &[&str] = &["state", "function", "wait_for_event", "runner", "wheel"];

/// What the runner sees of a step that has not been answered; the run stops before it
/// can use it.
fn placeholder() -> Value {
    json!({"result": false, "changes": {}, "comment": "waiting", "name": ""})
}

impl Replay<'_> {
    /// The memorised answer of the next step, or `None` (and the step becomes the one to
    /// wait for).
    fn next(&mut self, need: impl FnOnce() -> Need) -> Option<Value> {
        if self.pending.is_some() {
            return None;
        }
        let i = self.calls;
        self.calls += 1;
        if let Some(m) = self.memo.get(i) {
            self.timing = m.timing.clone();
            return Some(m.ret.clone());
        }
        self.pending = Some(need());
        None
    }

    /// A step answered on the spot (pure): remembered, so that a replay gives the same.
    fn now_answered(&mut self, ret: Value) -> Value {
        let i = self.calls;
        self.calls += 1;
        if let Some(m) = self.memo.get(i) {
            self.timing = m.timing.clone();
            return m.ret.clone();
        }
        let timing = Some((local_time_of_day(self.now), 0.0));
        self.timing = timing.clone();
        self.memo.push(Memo {
            ret: ret.clone(),
            timing,
        });
        ret
    }
}

/// The `test` state module has no files and renders nothing.
struct NoFiles;

impl crate::fileserver::Source for NoFiles {
    fn get(
        &mut self,
        _: &str,
        _: &str,
    ) -> Result<Option<std::path::PathBuf>, crate::fileserver::FsError> {
        Ok(None)
    }
    fn hash(&mut self, _: &str, _: &str) -> Result<Option<String>, crate::fileserver::FsError> {
        Ok(None)
    }
    fn list(&mut self, _: &str) -> Result<Vec<String>, crate::fileserver::FsError> {
        Ok(Vec::new())
    }
    fn envs(&mut self) -> Result<Vec<String>, crate::fileserver::FsError> {
        Ok(Vec::new())
    }
}

/// Runs a `test.*` state function (pure) in the core.
fn call_test(fun: &str, low: &Chunk, test: bool) -> Value {
    let Some(f) = crate::states::modules::find("test", fun) else {
        return placeholder();
    };
    let empty = Map::new();
    let mut files = NoFiles;
    let mut render =
        |_: &str, _: &Map<String, Value>| -> Result<String, String> { Err("no templates".into()) };
    let mut ctx = crate::states::Ctx {
        test,
        id: "",
        saltenv: "base",
        grains: &empty,
        pillar: &empty,
        opts: &empty,
        files: &mut files,
        render: &mut render,
    };
    f(&mut ctx, low)
}

impl Exec for Replay<'_> {
    fn exists(&self, state: &str, fun: &str) -> bool {
        if state == "salt" {
            return SALT_FUNS.contains(&fun);
        }
        if fun == "mod_watch" {
            return crate::states::modules::mod_watch(state).is_some();
        }
        crate::states::modules::find(state, fun).is_some()
    }

    fn call(&mut self, state: &str, fun: &str, low: &Chunk, test: bool) -> Value {
        self.timing = None;
        if self.pending.is_some() {
            return placeholder();
        }
        match state {
            "test" if fun != "mod_watch" => {
                let ret = call_test(fun, low, test);
                self.now_answered(ret)
            }
            "salt" => {
                // A step that does nothing in test mode answers now (Salt's test returns).
                let early = match fun {
                    "function" => saltmod::plan_function(low, test, false).err(),
                    "wait_for_event" => saltmod::plan_wait(low, test).err(),
                    "runner" | "wheel" if test => Some(saltmod::call_test_ret(fun, low)),
                    _ => None,
                };
                if let Some(r) = early {
                    return self.now_answered(r);
                }
                let need = || Need::Salt {
                    fun: fun.to_string(),
                    low: low.clone(),
                    test,
                };
                self.next(need).unwrap_or_else(placeholder)
            }
            _ => {
                let need = || Need::State {
                    state: state.to_string(),
                    fun: fun.to_string(),
                    low: low.clone(),
                    test,
                };
                self.next(need).unwrap_or_else(placeholder)
            }
        }
    }

    fn has_mod_watch(&self, state: &str) -> bool {
        state != "salt" && crate::states::modules::mod_watch(state).is_some()
    }

    fn retcode(&mut self, cmd: &str, low: &Chunk) -> Option<i32> {
        let need = || Need::Retcode {
            cmd: cmd.to_string(),
            low: low.clone(),
        };
        self.next(need).and_then(|v| v.as_i64()).map(|c| c as i32)
    }

    fn fire(&mut self, tag: &str, data: Value) {
        self.fired += 1;
        if self.fired > self.fired_before {
            (self.fire)(tag, data);
        }
    }

    fn now(&self) -> SystemTime {
        self.now
    }

    fn sleep(&mut self, secs: u64) {
        let _ = self.next(|| Need::Sleep(secs));
    }

    fn suspended(&self) -> bool {
        self.pending.is_some()
    }

    fn timing(&mut self) -> Option<(String, f64)> {
        self.timing.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::states::compile::compile_high;

    fn orch(sls: Value) -> Orchestration {
        let mut high = sls.as_object().cloned().unwrap_or_default();
        for body in high.values_mut() {
            body["__sls__"] = "orch".into();
            body["__env__"] = "base".into();
        }
        let chunks = compile_high(&high);
        Orchestration::new(
            Compiled {
                chunks,
                processed: ["orch".to_string()].into_iter().collect(),
                high,
            },
            RunOpts {
                id: "m_master".into(),
                jid: Some("20260101000000000000".into()),
                ..RunOpts::default()
            },
        )
    }

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn waits_step_by_step_and_replays_answers() {
        let mut o = orch(json!({
            "first": {"salt": ["function", {"name": "test.ping"}, {"tgt": "*"}]},
            "noop": {"test": ["succeed_without_changes", {"order": 2}]},
            "second": {"salt": ["state", {"tgt": "*"}, {"sls": "web"},
                                       {"require": [{"salt": "first"}]}]},
        }));
        let mut fire = |_: &str, _: Value| {};
        let Step::Wait(Need::Salt { fun, .. }) = o.resume(t0(), &mut fire) else {
            panic!("expected a wait")
        };
        assert_eq!(fun, "function");
        assert!(matches!(o.resume(t0(), &mut fire), Step::Wait(_)));
        o.answer(
            json!({"name": "test.ping", "result": true, "changes": {}, "comment": "ok"}),
            t0(),
        );
        let Step::Wait(Need::Salt { fun, .. }) = o.resume(t0(), &mut fire) else {
            panic!("expected a second wait")
        };
        assert_eq!(fun, "state");
        let later = t0() + std::time::Duration::from_millis(1500);
        o.answer(
            json!({"name": "web", "result": true, "changes": {}, "comment": "ok"}),
            later,
        );
        let Step::Done(running) = o.resume(later, &mut fire) else {
            panic!("expected the end")
        };
        assert_eq!(running.len(), 3);
        let second = &running["salt_|-second_|-second_|-state"];
        assert_eq!(second["duration"], 1500.0);
        assert_eq!(second["__run_num__"], 2);
        assert!(o.succeeded(&running));
    }

    #[test]
    fn a_failed_step_fails_what_requires_it() {
        let mut o = orch(json!({
            "first": {"salt": ["function", {"name": "test.false"}, {"tgt": "*"}]},
            "second": {"salt": ["state", {"tgt": "*"}, {"sls": "web"},
                                       {"require": [{"salt": "first"}]}]},
        }));
        let mut fire = |_: &str, _: Value| {};
        assert!(matches!(o.resume(t0(), &mut fire), Step::Wait(_)));
        o.answer(
            json!({"name": "test.false", "result": false, "changes": {}, "comment": "no"}),
            t0(),
        );
        let Step::Done(running) = o.resume(t0(), &mut fire) else {
            panic!("expected the end")
        };
        assert_eq!(
            running["salt_|-second_|-second_|-state"]["comment"],
            "One or more requisite failed: orch.first"
        );
        assert!(!o.succeeded(&running));
    }

    #[test]
    fn test_mode_answers_without_waiting_except_for_salt_state() {
        let mut o = orch(json!({
            "f": {"salt": ["function", {"name": "test.ping"}, {"tgt": "*"}]},
            "w": {"salt": ["wait_for_event", {"name": "x/*"}, {"id_list": ["m1"]}]},
            "r": {"salt": ["runner", {"name": "manage.up"}]},
        }));
        o.opts.test = true;
        let mut fire = |_: &str, _: Value| {};
        let Step::Done(running) = o.resume(t0(), &mut fire) else {
            panic!("test mode waits for nothing here")
        };
        assert_eq!(
            running["salt_|-w_|-x/*_|-wait_for_event"]["comment"],
            "Orchestration would wait for event 'x/*'"
        );
        assert_eq!(
            running["salt_|-r_|-manage.up_|-runner"]["comment"],
            "Runner function 'manage.up' would be executed."
        );
    }

    #[test]
    fn events_are_not_sent_twice_across_replays() {
        let mut o = orch(json!({
            "a": {"test": ["succeed_without_changes", {"fire_event": true}]},
            "b": {"salt": ["function", {"name": "test.ping"}, {"tgt": "*"}, {"order": 5}]},
        }));
        let mut tags = Vec::new();
        let mut fire = |t: &str, _: Value| tags.push(t.to_string());
        assert!(matches!(o.resume(t0(), &mut fire), Step::Wait(_)));
        o.answer(
            json!({"name": "test.ping", "result": true, "changes": {}, "comment": ""}),
            t0(),
        );
        assert!(matches!(o.resume(t0(), &mut fire), Step::Done(_)));
        assert_eq!(tags.len(), 1, "{tags:?}");
    }

    #[test]
    fn retry_pauses_and_onlyif_commands_are_steps_too() {
        let mut o = orch(json!({
            "flaky": {"salt": ["function", {"name": "test.ping"}, {"tgt": "*"},
                               {"retry": {"attempts": 2, "interval": 3}}, {"order": 1}]},
            "guarded": {"test": ["succeed_with_changes", {"onlyif": "test -e /x"}, {"order": 9}]},
        }));
        let mut fire = |_: &str, _: Value| {};
        let fail = json!({"name": "test.ping", "result": false, "changes": {}, "comment": "down"});
        assert!(matches!(
            o.resume(t0(), &mut fire),
            Step::Wait(Need::Salt { .. })
        ));
        o.answer(fail, t0());
        assert_eq!(o.resume(t0(), &mut fire), Step::Wait(Need::Sleep(3)));
        o.answer(Value::Null, t0());
        assert!(matches!(
            o.resume(t0(), &mut fire),
            Step::Wait(Need::Salt { .. })
        ));
        o.answer(
            json!({"name": "test.ping", "result": true, "changes": {}, "comment": "up"}),
            t0(),
        );
        let Step::Wait(Need::Retcode { cmd, .. }) = o.resume(t0(), &mut fire) else {
            panic!("the onlyif command is a step")
        };
        assert_eq!(cmd, "test -e /x");
        o.answer(json!(1), t0());
        let Step::Done(running) = o.resume(t0(), &mut fire) else {
            panic!("expected the end")
        };
        let flaky = &running["salt_|-flaky_|-test.ping_|-function"];
        assert_eq!(flaky["result"], true, "{flaky}");
        assert!(flaky["comment"]
            .as_str()
            .unwrap()
            .starts_with("Attempt 1: Returned a result of \"False\""));
        let guarded = &running["test_|-guarded_|-guarded_|-succeed_with_changes"];
        assert_eq!(guarded["comment"], "onlyif condition is false");
    }
}
