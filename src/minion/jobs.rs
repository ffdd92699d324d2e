//! Calls the minion runs (jobs from the master, local calls, caller reactions): starting
//! them, their records under `proc/`, and where each result goes when it is done.

use super::{Action, Minion, Timer};
use crate::bus::{Answer, ClientId};
use crate::clock::Now;
use crate::modules::{self, ChildResult, ChildSpec, Ret, Step};
use crate::proto::{self, Load};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// Who asked for a call, so its result goes back there.
#[derive(Debug)]
pub(super) enum Origin {
    /// A job published by the master: the return goes to the master.
    Job {
        jid: String,
        fun: String,
        fun_args: Vec<Value>,
    },
    /// A local client (brine-call): the answer goes to it, and with `send_return` to the
    /// master too, as a job with jid `req`.
    Local {
        client: ClientId,
        fun: String,
        fun_args: Vec<Value>,
        send_return: bool,
    },
    /// A caller reaction of the minion's own reactor: the result is only logged.
    Reactor {
        /// The reaction's ID.
        id: String,
        /// The function.
        fun: String,
    },
}

/// A call still running (a child process or a delay).
#[derive(Debug)]
pub(super) struct Running {
    pub(super) origin: Origin,
    /// The job's record, as `saltutil.running` shows it (Salt's proc file).
    data: Map<String, Value>,
    finish: Option<(ChildSpec, modules::Finish)>,
    pub(super) delayed: Option<Ret>,
}

impl Minion {
    /// Jobs running now, as `saltutil.running` shows them.
    pub fn running_jobs(&self) -> Vec<Value> {
        self.running
            .values()
            .filter(|r| matches!(r.origin, Origin::Job { .. }))
            .map(|r| Value::Object(r.data.clone()))
            .collect()
    }

    /// Kills the job `jid`; returns the pid signalled.
    pub fn kill_job(&mut self, jid: &str) -> Option<u32> {
        let (key, pid) = self.running.iter().find_map(|(k, r)| {
            let same = matches!(&r.origin, Origin::Job { jid: j, .. } if j == jid);
            same.then(|| {
                (
                    *k,
                    r.data.get("pid").and_then(Value::as_u64).unwrap_or(0) as u32,
                )
            })
        })?;
        self.actions.push_back(Action::Kill(key));
        Some(pid)
    }

    /// Runs a job published by the master, if it targets this minion.
    pub(super) fn on_job(&mut self, now: Now, load: Value) {
        let Value::Object(load) = load else {
            crate::log_limited!(Warn, "pub:map", "dropped a publication that is not a map");
            return;
        };
        let field = |k: &str| load.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(jid), Some(fun)) = (field("jid"), field("fun")) else {
            crate::log_limited!(
                Warn,
                "pub:fields",
                "dropped a publication without jid or fun"
            );
            return;
        };
        let tgt = load.get("tgt").cloned().unwrap_or(Value::Null);
        let tgt_type_name = field("tgt_type").unwrap_or_else(|| "glob".into());
        let Some(tgt_type) = crate::targeting::TgtType::from_name(&tgt_type_name) else {
            log::warn!("job {jid}: unknown tgt_type {tgt_type_name:?}");
            return;
        };
        let delimiter = field("delimiter").unwrap_or_else(|| ":".into());
        let nodegroups = load.get("nodegroups").cloned().unwrap_or(Value::Null);
        let target = match crate::targeting::Target::parse(&tgt, tgt_type, &nodegroups, &delimiter)
        {
            Ok(t) => t,
            Err(e) => {
                log::warn!("job {jid}: {e}");
                return;
            }
        };
        if !target.matches(&self.cfg.id, &self.grains()) {
            log::trace!("job {jid} does not target this minion");
            return;
        }
        let arg: Vec<Value> = match load.get("arg") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        log::info!("job {jid}: {fun}");
        let mut data = Map::new();
        for k in ["jid", "fun", "arg", "tgt", "tgt_type", "user", "ret"] {
            if let Some(v) = load.get(k) {
                data.insert(k.to_string(), v.clone());
            }
        }
        data.insert("pid".into(), json!(std::process::id()));
        let (args, kwargs) = modules::parse_job_args(&arg);
        let origin = Origin::Job {
            jid,
            fun: fun.clone(),
            fun_args: arg,
        };
        self.start_call(now, origin, data, &fun, &args, &kwargs);
    }

    pub(super) fn start_call(
        &mut self,
        now: Now,
        origin: Origin,
        data: Map<String, Value>,
        fun: &str,
        args: &[Value],
        kwargs: &Map<String, Value>,
    ) {
        let jid = match &origin {
            Origin::Job { jid, .. } => Some(jid.clone()),
            _ => None,
        };
        let step = modules::call(self, now, jid.as_deref(), fun, args, kwargs);
        let key = self.next_key;
        self.next_key += 1;
        match step {
            Step::Done(ret) => self.finish(now, origin, ret),
            Step::Child(spec, fin) => {
                self.write_proc(&origin, &data);
                self.actions.push_back(Action::Spawn(key, spec.clone()));
                self.running.insert(
                    key,
                    Running {
                        origin,
                        data,
                        finish: Some((spec, fin)),
                        delayed: None,
                    },
                );
            }
            Step::After(delay, ret) => {
                self.write_proc(&origin, &data);
                self.timers
                    .set(Timer::Job(key), crate::clock::later(now.mono, delay));
                self.running.insert(
                    key,
                    Running {
                        origin,
                        data,
                        finish: None,
                        delayed: Some(ret),
                    },
                );
            }
        }
    }

    /// The loop started job `key`'s child with this pid.
    pub(super) fn child_started(&mut self, key: u64, pid: u32) {
        if let Some(r) = self.running.get_mut(&key) {
            r.data.insert("pid".into(), json!(pid));
            let origin_jid = match &r.origin {
                Origin::Job { jid, .. } => Some(jid.clone()),
                Origin::Local { .. } | Origin::Reactor { .. } => None,
            };
            if let Some(jid) = origin_jid {
                let data = r.data.clone();
                self.write_proc_file(&jid, &data);
            }
        }
    }

    /// Job `key`'s child finished (or could not start).
    pub(super) fn child_done(&mut self, now: Now, key: u64, result: ChildResult) {
        let Some(r) = self.running.remove(&key) else {
            return;
        };
        let ret = match &r.finish {
            Some((spec, fin)) => fin(spec, &result),
            None => Ret::fail("the job had no child"),
        };
        self.finish(now, r.origin, ret);
    }

    /// Where job records live (`cachedir/proc`, as in Salt): the loop removes what a
    /// crashed minion left there before the first job.
    pub fn proc_dir(&self) -> PathBuf {
        self.cfg.cachedir.join("proc")
    }

    fn write_proc(&mut self, origin: &Origin, data: &Map<String, Value>) {
        if let Origin::Job { jid, .. } = origin {
            self.write_proc_file(jid, data);
        }
    }

    fn write_proc_file(&mut self, jid: &str, data: &Map<String, Value>) {
        if !crate::jobs::is_jid(jid) && jid != "req" {
            return;
        }
        self.actions.push_back(Action::WriteJobRecord(
            self.proc_dir().join(jid),
            proto::encode(data),
        ));
    }

    pub(super) fn finish(&mut self, now: Now, origin: Origin, ret: Ret) {
        match origin {
            Origin::Local {
                client,
                fun,
                fun_args,
                send_return: true,
            } => {
                // salt-call --return: the master assigns the jid (salt-spec §7.3).
                let job = Origin::Job {
                    jid: "req".into(),
                    fun,
                    fun_args,
                };
                let local = Origin::Local {
                    client,
                    fun: String::new(),
                    fun_args: Vec::new(),
                    send_return: false,
                };
                self.finish(now, job, ret.clone());
                self.finish(now, local, ret);
            }
            Origin::Job { jid, fun, fun_args } => {
                self.actions
                    .push_back(Action::RemoveJobRecord(self.proc_dir().join(&jid)));
                // `cmd: _return` is the message's tag; the master puts it back in the event.
                let mut load = Map::new();
                load.insert("id".into(), json!(self.cfg.id));
                load.insert("jid".into(), json!(jid));
                load.insert("fun".into(), json!(fun));
                load.insert("fun_args".into(), Value::Array(fun_args));
                let mut retcode = ret.retcode;
                // Salt: a map return with result/success false fails the job.
                if retcode == 0 {
                    if let Value::Object(m) = &ret.value {
                        if m.get("result") == Some(&Value::Bool(false))
                            || m.get("success") == Some(&Value::Bool(false))
                        {
                            retcode = 1;
                        }
                    }
                }
                load.insert("return".into(), ret.value);
                if crate::states::apply::HIGHSTATE_OUTPUT.contains(&fun.as_str()) {
                    load.insert("out".into(), json!("highstate"));
                }
                load.insert("retcode".into(), json!(retcode));
                load.insert("success".into(), json!(retcode == 0));
                let size = crate::wire::msgpack_len(&Value::Object(load.clone()));
                if size > self.cfg.max_event_size {
                    log::warn!("job {jid}: the return of {size} bytes is over max_event_size");
                    load.insert(
                        "return".into(),
                        json!(format!(
                            "The return of {size} bytes is over max_event_size ({}) and was not sent",
                            self.cfg.max_event_size
                        )),
                    );
                    load.insert("retcode".into(), json!(1));
                    load.insert("success".into(), json!(false));
                }
                self.send_return(now, Load::Return { load }, 0);
            }
            Origin::Reactor { id, fun } => {
                if ret.retcode == 0 {
                    log::info!("Reactor '{id}' ran caller '{fun}'");
                } else {
                    log::error!(
                        "Reactor '{id}' failed to execute caller '{fun}': {}",
                        crate::py::python_str(&ret.value)
                    );
                }
            }
            Origin::Local { client, .. } => {
                if let Some(bus) = self.bus.as_mut() {
                    bus.answer(
                        client,
                        &Answer {
                            jid: None,
                            success: ret.retcode == 0,
                            retcode: ret.retcode,
                            ret: ret.value,
                        },
                    );
                }
            }
        }
    }
}
