//! Jobs on the master: publishing a job to the targeted minions (salt-spec §7.2), and
//! storing and firing their returns.

use super::{Master, Now};
use crate::bus::{Answer, Request};
use crate::targeting::{Target, TgtType};
use serde_json::{json, Map, Value};
use std::time::Duration;

fn fail(ret: impl Into<String>, retcode: i32) -> Answer {
    Answer {
        jid: None,
        ret: Value::String(ret.into()),
        success: false,
        retcode,
    }
}

impl Master {
    /// Publishes a job: `kwarg` holds `tgt`, `tgt_type` (or its old name `expr_form`),
    /// `fun`, `arg`, and optionally `delimiter`. Fires the bare `<jid>` event and
    /// `salt/job/<jid>/new`, saves the load, publishes, and answers
    /// `{jid, minions, missing, connected}`. With `expand_only: true` it only answers
    /// `{minions, missing}`, publishing nothing.
    pub(super) fn publish_job(&mut self, now: Now, req: &Request) -> Answer {
        let kw = &req.kwarg;
        let tgt = kw.get("tgt").cloned().unwrap_or(Value::String("*".into()));
        // tgt_type wins over its pre-2017.7 alias expr_form (salt-spec §6.6).
        let tgt_type_name = kw
            .get("tgt_type")
            .or_else(|| kw.get("expr_form"))
            .and_then(Value::as_str)
            .unwrap_or("glob")
            .to_string();
        let Some(tgt_type) = TgtType::from_name(&tgt_type_name) else {
            return fail(format!("Unknown target type '{tgt_type_name}'"), 2);
        };
        let Some(fun) = kw.get("fun").and_then(Value::as_str).map(str::to_string) else {
            return fail("No function given", 2);
        };
        let arg = match kw.get("arg") {
            Some(Value::Array(a)) => a.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(other) => vec![other.clone()],
        };
        let delimiter = kw
            .get("delimiter")
            .and_then(Value::as_str)
            .unwrap_or(":")
            .to_string();
        let target = match Target::parse(&tgt, tgt_type, &self.cfg.nodegroups, &delimiter) {
            Ok(t) => t,
            Err(e) => return fail(e.to_string(), 2),
        };
        let Some(auth) = self.auth.as_ref() else {
            return fail("this master serves no minions", 2);
        };
        let accepted = match auth.store().list(crate::pki::KeyState::Accepted) {
            Ok(a) => a,
            Err(e) => return fail(format!("key store: {e}"), 1),
        };
        let grains = &self.grains;
        let (minions, missing) = target.expected(&accepted, &|id| grains.get(id));
        // brine-api asks which minions a target names before it decides whether the user
        // may run a job on them; nothing is published.
        if kw.get("expand_only") == Some(&Value::Bool(true)) {
            return Answer {
                jid: None,
                ret: json!({"minions": minions, "missing": missing}),
                success: true,
                retcode: 0,
            };
        }
        if minions.is_empty() && missing.is_empty() {
            return fail("No minions matched the target.", 2);
        }
        let window = Duration::from_secs(self.cfg.presence_timeout.max(1));
        // What minions are sent (and the events show): nodegroups resolved to compound.
        let (pub_tgt, pub_type) = target.published();
        let (tgt, tgt_type) = (pub_tgt.clone(), pub_type);
        let connected: Vec<String> = minions
            .iter()
            .filter(|m| auth.is_connected(m, now.mono, window))
            .cloned()
            .collect();
        let jid = self.jids.next(now.wall);
        let user = req.user.clone().unwrap_or_else(|| "root".into());
        let mut bare = Map::new();
        bare.insert("minions".into(), json!(minions));
        self.fire(&jid, bare, now);
        let mut new = Map::new();
        new.insert("jid".into(), json!(jid));
        new.insert("tgt_type".into(), json!(tgt_type.name()));
        new.insert("tgt".into(), tgt.clone());
        new.insert("user".into(), json!(user));
        new.insert("fun".into(), json!(fun));
        new.insert("arg".into(), Value::Array(arg.clone()));
        new.insert("minions".into(), json!(minions));
        new.insert("missing".into(), json!(missing));
        self.fire(&format!("salt/job/{jid}/new"), new.clone(), now);
        self.save_load(&jid, &new);
        let mut load = Map::new();
        load.insert("fun".into(), json!(fun));
        load.insert("arg".into(), Value::Array(arg));
        load.insert("tgt".into(), tgt);
        load.insert("tgt_type".into(), json!(tgt_type.name()));
        load.insert("jid".into(), json!(jid));
        load.insert("ret".into(), json!(""));
        load.insert("user".into(), json!(user));
        if delimiter != ":" {
            load.insert("delimiter".into(), json!(delimiter));
        }
        self.publish(&Value::Object(load));
        self.counters.jobs_published += 1;
        self.track_job(now, &jid, &minions, req);
        Answer {
            jid: Some(jid.clone()),
            ret: json!({
                "jid": jid,
                "minions": minions,
                "missing": missing,
                "connected": connected,
            }),
            success: true,
            retcode: 0,
        }
    }

    /// Stores a minion's return and fires `salt/job/<jid>/ret/<id>`, once: a return that
    /// arrives twice (a retry whose first copy made it) is neither stored nor fired again.
    pub(super) fn job_return(&mut self, now: Now, id: &str, mut load: Map<String, Value>) {
        self.counters.job_returns += 1;
        let mut jid = load
            .get("jid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if jid == "req" {
            // A minion-initiated job (brine-call --return): the master allocates the jid.
            jid = self.jids.next(now.wall);
            load.insert("jid".into(), json!(jid));
            let mut job = Map::new();
            job.insert("jid".into(), json!(jid));
            job.insert("tgt".into(), json!(id));
            job.insert("tgt_type".into(), json!("glob"));
            job.insert(
                "fun".into(),
                load.get("fun").cloned().unwrap_or(Value::Null),
            );
            job.insert(
                "arg".into(),
                load.get("fun_args").cloned().unwrap_or(json!([])),
            );
            job.insert("user".into(), json!("root"));
            job.insert("minions".into(), json!([id]));
            self.save_load(&jid, &job);
        }
        if !crate::jobs::is_jid(&jid) {
            log::warn!("dropped a return from {id} with a bad jid {jid:?}");
            return;
        }
        if !self.save_return(&jid, id, &load) {
            log::debug!("return of {id} for {jid} arrived again; already stored and fired");
            return;
        }
        if let Some(job) = self.running_jobs.get_mut(&jid) {
            job.minions.retain(|m| m != id);
            if job.minions.is_empty() {
                self.running_jobs.remove(&jid);
            }
        }
        self.fire(&format!("salt/job/{jid}/ret/{id}"), load, now);
    }

    /// Tracks a published job for `jobs.active` until its minions return, or until its
    /// timeout plus `keep_jobs_seconds` has passed; the table holds at most
    /// [`super::MAX_ACTIVE_JOBS`], the oldest giving way.
    fn track_job(&mut self, now: Now, jid: &str, minions: &[String], req: &Request) {
        let timeout = req
            .kwarg
            .get("timeout")
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite() && *t > 0.0)
            .map_or(self.cfg.timeout as f64, |t| t);
        let keep = crate::clock::seconds(timeout)
            .saturating_add(Duration::from_secs(self.cfg.keep_jobs_seconds));
        while self.running_jobs.len() >= super::MAX_ACTIVE_JOBS {
            if self.running_jobs.pop_first().is_none() {
                break;
            }
            self.active_jobs_evicted += 1;
            if self.active_jobs_evicted.is_power_of_two() {
                log::warn!(
                    "more than {} active jobs: forgot the oldest ({} so far)",
                    super::MAX_ACTIVE_JOBS,
                    self.active_jobs_evicted
                );
            }
        }
        self.running_jobs.insert(
            jid.to_owned(),
            super::ActiveJob {
                minions: minions.to_vec(),
                forget_at: crate::clock::later(now.mono, keep),
            },
        );
    }

    /// Caches a minion's grains for grain targeting.
    pub(super) fn cache_grains(&mut self, now: Now, id: &str, grains: Map<String, Value>) {
        self.store_grains(id, &grains);
        self.grains.insert(id.to_string(), grains);
        log::debug!("cached the grains of {id}");
        if self.cfg.minion_data_cache_events {
            let mut data = Map::new();
            data.insert("Minion data cache refresh".into(), json!(id));
            self.fire(&format!("salt/minion/{id}/refresh"), data, now);
        }
    }
}
