//! The master's counters, and the snapshot the `metrics.master` runner reads.
//!
//! Counters are plain integers bumped on the hot path (one add each); everything that costs
//! more (listeners, key directories, queue lengths) is read only when a snapshot is taken.

use super::{Master, Now};
use crate::runners::metrics::{MasterStats, MAX_QUEUES};
use std::time::Instant;

/// What the master core counts itself (the bus, the auth state and the store count the rest).
#[derive(Clone, Debug, Default)]
pub(super) struct Counters {
    /// When the core started ([`Master::start`]).
    pub started: Option<Instant>,
    /// Jobs published to minions.
    pub jobs_published: u64,
    /// Job returns handed in by minions, duplicates included.
    pub job_returns: u64,
    /// Events that matched a reactor rule (throttled or not).
    pub reactor_matches: u64,
    /// Reactions an event's files compiled to, carried out or queued.
    pub reactor_reactions: u64,
    /// Reactor render errors, one per `salt/reactor/error`.
    pub reactor_render_errors: u64,
    /// Rule matches a throttle suppressed.
    pub reactor_throttled: u64,
    /// Queue operations carried out in group commits.
    pub queue_operations: u64,
    /// Group commits that carried queue operations.
    pub queue_commits: u64,
}

impl Master {
    /// Counts what one event did in the reactor: matched rules, throttled ones.
    pub(super) fn count_reacted(&mut self, r: &crate::reactor::engine::Reacted) {
        if !r.rules.is_empty() || !r.throttled.is_empty() {
            self.counters.reactor_matches += 1;
        }
        self.counters.reactor_throttled += r.throttled.len() as u64;
    }

    /// Everything `metrics.master` reports, at `now`.
    pub(super) fn metrics(&self, now: Now) -> MasterStats {
        let c = &self.counters;
        let bus = self.bus.stats();
        let (refusals, pending, accepted) = match self.auth.as_ref() {
            Some(a) => {
                let r = a.refusals;
                let count = |state| a.store().list(state).map_or(0, |v| v.len() as u64);
                (
                    vec![
                        ("malformed", r.malformed),
                        ("no_session", r.no_session),
                        ("replayed", r.replayed),
                        ("forged", r.forged),
                        ("foreign", r.foreign),
                        ("throttled", r.throttled),
                    ],
                    count(crate::pki::KeyState::Pending),
                    count(crate::pki::KeyState::Accepted),
                )
            }
            None => (Vec::new(), 0, 0),
        };
        let queue_lengths = self.queues.lengths(MAX_QUEUES).unwrap_or_else(|e| {
            log::warn!("metrics: cannot read the queue lengths: {e}");
            Vec::new()
        });
        let commits = self
            .store
            .as_ref()
            .map(|s| s.commit_times())
            .unwrap_or_default();
        MasterStats {
            uptime_seconds: c
                .started
                .map_or(0.0, |s| now.mono.saturating_duration_since(s).as_secs_f64()),
            events_in: bus.published,
            events_out: bus.delivered,
            events_lost: bus.lost,
            listeners: self.bus.listeners() as u64,
            clients: self.bus.len() as u64,
            frames_refused: self.bus.refused(),
            jobs_published: c.jobs_published,
            job_returns: c.job_returns,
            jobs_active: self.running_jobs.len() as u64,
            minions_present: self.present(now).len() as u64,
            minions_pending: pending,
            minions_accepted: accepted,
            auth_refusals: refusals,
            reactor_matches: c.reactor_matches,
            reactor_reactions: c.reactor_reactions,
            reactor_render_errors: c.reactor_render_errors,
            reactor_throttled: c.reactor_throttled,
            reactor_dropped: self.reactor_dropped,
            reactor_missed: self.bus.tap_dropped(),
            queue_lengths,
            queue_operations: c.queue_operations,
            queue_commits: c.queue_commits,
            commit_count: commits.count,
            commit_seconds: commits.seconds,
            commit_buckets: crate::store::COMMIT_BUCKETS
                .iter()
                .copied()
                .zip(commits.buckets)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{subscribe_payload, Answer, ClientInput, Request};
    use crate::config::MasterConfig;
    use crate::master::Input;
    use crate::matcher::MatchType;
    use crate::reactor::engine::{Rule, Source, Throttle};
    use crate::wire::{kind, FrameReader, Next};
    use serde_json::{json, Map, Value};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime};

    fn request(m: &mut Master, now: Now, fun: &str, arg: Vec<Value>) {
        let req = rmp_serde::to_vec_named(&Request {
            fun: fun.into(),
            arg,
            kwarg: Map::new(),
            user: Some("root".into()),
            send_return: false,
        })
        .unwrap();
        m.handle(
            now,
            Input::Client(ClientInput::Frame {
                id: 1,
                kind: kind::REQUEST,
                payload: &req,
            }),
        );
    }

    fn answers(m: &mut Master) -> Vec<Answer> {
        let mut r = FrameReader::new(1 << 22);
        r.extend(&m.bus().take_output(1, SystemTime::now()));
        let mut out = Vec::new();
        while let Some(Next::Frame(k, p)) = r.next_frame() {
            if k == kind::ANSWER {
                out.push(rmp_serde::from_slice(p).unwrap());
            }
        }
        out
    }

    /// The value of a family's first sample with these labels.
    fn value(fams: &Value, name: &str, labels: Value) -> Value {
        let f = fams
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"));
        f["samples"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["labels"] == labels)
            .map(|s| s["value"].clone())
            .unwrap_or_else(|| panic!("no {name} {labels}"))
    }

    #[test]
    fn the_runner_reports_what_the_core_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Master::new(MasterConfig::defaults(Path::new("/nonexistent")), None);
        m.set_store(crate::store::Store::open(dir.path()).unwrap())
            .unwrap();
        let missing = PathBuf::from("/nonexistent/missing.sls");
        let sends = PathBuf::from("/srv/reactor/send.sls");
        m.set_reactor_rules(vec![
            Rule {
                tag: "myco/fail".into(),
                sls: vec![missing.display().to_string()],
                throttle: Some(Throttle {
                    once_within: Duration::from_secs(60),
                    group_by: Vec::new(),
                }),
                suppressed: 0,
            },
            Rule {
                tag: "myco/go".into(),
                sls: vec![sends.display().to_string()],
                throttle: None,
                suppressed: 0,
            },
        ]);
        let text = "a:\n  runner.event.send:\n    - tag: myco/done\nb:\n  runner.event.send:\n    - tag: myco/done\n";
        m.handle(
            Now::read(),
            Input::ReactorSource(Source::File(sends, Ok(text.into()))),
        );
        let mut now = Now::read();
        m.start(now);
        m.handle(now, Input::Client(ClientInput::Opened { id: 1, pid: 1 }));
        m.handle(now, Input::Client(ClientInput::Opened { id: 2, pid: 2 }));
        let sub = subscribe_payload(MatchType::StartsWith, "");
        m.handle(
            now,
            Input::Client(ClientInput::Frame {
                id: 2,
                kind: kind::SUBSCRIBE,
                payload: &sub,
            }),
        );
        // Two failing events (the second throttled), one that compiles to two reactions.
        for tag in ["myco/fail", "myco/fail", "myco/go", "other/x"] {
            m.fire(tag, Map::new(), now);
        }
        m.react(now);
        // Two queue inserts in one turn: one commit carrying two operations.
        request(&mut m, now, "queue.insert", vec![json!("jobs"), json!("a")]);
        request(&mut m, now, "queue.insert", vec![json!("jobs"), json!("b")]);
        m.commit(now);
        assert_eq!(answers(&mut m).len(), 2);
        now.mono += Duration::from_secs(90);
        request(&mut m, now, "metrics.master", Vec::new());
        let a = answers(&mut m).pop().unwrap();
        assert!(a.success);
        let f = &a.ret;
        let none = json!({});
        assert_eq!(value(f, "brine_master_uptime_seconds", none.clone()), 90.0);
        assert_eq!(
            value(f, "brine_master_reactor_matches_total", none.clone()),
            3
        );
        assert_eq!(
            value(f, "brine_master_reactor_throttled_total", none.clone()),
            1
        );
        assert_eq!(
            value(f, "brine_master_reactor_render_errors_total", none.clone()),
            1
        );
        assert_eq!(
            value(f, "brine_master_reactor_reactions_total", none.clone()),
            2
        );
        assert_eq!(
            value(f, "brine_master_queue_operations_total", none.clone()),
            2
        );
        assert_eq!(
            value(f, "brine_master_queue_commits_total", none.clone()),
            1
        );
        assert_eq!(
            value(f, "brine_master_queue_length", json!({"queue": "jobs"})),
            2
        );
        assert_eq!(
            value(f, "brine_master_listeners_connected", none.clone()),
            1
        );
        assert_eq!(value(f, "brine_master_clients_connected", none.clone()), 2);
        let hist = f
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "brine_master_store_commit_seconds")
            .unwrap();
        let count = hist["samples"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["suffix"] == "_count")
            .unwrap();
        assert!(count["value"].as_u64().unwrap() >= 1, "{hist}");
        // The events so far went in and out to the one listener, none lost.
        let events_in = value(f, "brine_master_events_in_total", none.clone());
        assert!(events_in.as_u64().unwrap() >= 4);
        assert_eq!(value(f, "brine_master_events_lost_total", none.clone()), 0);
        assert_eq!(value(f, "brine_master_jobs_published_total", none), 0);
    }
}
