//! The `metrics` runner: the master's counters and gauges as metric families, for
//! brine-api's `/metrics` (Prometheus text, `crate::api::metrics`) and `/stats` (JSON).
//!
//! A family is `{"name", "type", "help", "samples": [{"labels": {..}, "value": n}]}`; a
//! histogram's samples also carry `"suffix"` (`_bucket`, `_sum`, `_count`). Counters count
//! from the master's start, as Prometheus expects (a restart is a reset it detects).

use super::{Context, Exec, Outcome, Runner};
use serde_json::{json, Map, Value};

/// `metrics.master`: the master's metric families.
pub const MASTER: Runner = Runner {
    name: "metrics.master",
    params: &[],
    doc: "The master's metrics as a list of families ({name, type, help, samples}): events in and out, listeners, jobs, returns, minions, auth refusals, reactor, queues, store commits, uptime; brine-api serves them at /metrics.",
    exec: Exec::Master(master),
};

/// What the master counted, as plain numbers (the master fills it; this module only
/// shapes it into families).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MasterStats {
    /// Seconds since the master's core started.
    pub uptime_seconds: f64,
    /// Events published on the master bus (from clients, minions and the master itself).
    pub events_in: u64,
    /// Events written whole to listeners.
    pub events_out: u64,
    /// Events listeners lost because the ring dropped them before they read them.
    pub events_lost: u64,
    /// Local clients subscribed to the bus.
    pub listeners: u64,
    /// Local clients connected (listeners, CLI calls, brine-api).
    pub clients: u64,
    /// Local frames refused (malformed, oversize, unknown).
    pub frames_refused: u64,
    /// Jobs published to minions.
    pub jobs_published: u64,
    /// Job returns received from minions (duplicates included).
    pub job_returns: u64,
    /// Jobs some of whose minions have not returned.
    pub jobs_active: u64,
    /// Minions with a live session.
    pub minions_present: u64,
    /// Minions whose key waits for acceptance.
    pub minions_pending: u64,
    /// Minions with an accepted key.
    pub minions_accepted: u64,
    /// Requests refused on the request port, by reason.
    pub auth_refusals: Vec<(&'static str, u64)>,
    /// Events that matched at least one reactor rule.
    pub reactor_matches: u64,
    /// Reactions carried out or queued.
    pub reactor_reactions: u64,
    /// Reactor render errors (each fires `salt/reactor/error`).
    pub reactor_render_errors: u64,
    /// Rule matches a throttle suppressed.
    pub reactor_throttled: u64,
    /// Runner and wheel reactions dropped because `reactor_worker_hwm` was reached.
    pub reactor_dropped: u64,
    /// Events the reactor missed because the ring dropped them first.
    pub reactor_missed: u64,
    /// The lmdb queues' lengths (at most [`MAX_QUEUES`], first by name).
    pub queue_lengths: Vec<(String, u64)>,
    /// Queue operations carried out in group commits.
    pub queue_operations: u64,
    /// Group commits that carried queue operations.
    pub queue_commits: u64,
    /// Store commits so far.
    pub commit_count: u64,
    /// Seconds those commits took in all.
    pub commit_seconds: f64,
    /// Commit latency buckets: (upper bound in seconds, commits at or under it), cumulative
    /// and ascending; `+Inf` is `commit_count`.
    pub commit_buckets: Vec<(f64, u64)>,
}

/// Most queues whose lengths one call reports: reading them is a store read.
pub const MAX_QUEUES: usize = 1000;

/// A family of one unlabelled sample.
fn one(name: &str, kind: &str, help: &str, value: Value) -> Value {
    json!({"name": name, "type": kind, "help": help,
           "samples": [{"labels": {}, "value": value}]})
}

/// A family of one sample per label value.
fn labelled(name: &str, kind: &str, help: &str, label: &str, values: &[(&str, u64)]) -> Value {
    let samples: Vec<Value> = values
        .iter()
        .map(|(l, v)| {
            let mut labels = Map::new();
            labels.insert(label.into(), json!(l));
            json!({"labels": labels, "value": v})
        })
        .collect();
    json!({"name": name, "type": kind, "help": help, "samples": samples})
}

/// A bucket bound as a label value: the shortest form that reads back exactly.
fn le(bound: f64) -> String {
    if bound.is_infinite() {
        "+Inf".into()
    } else {
        format!("{bound}")
    }
}

/// The families of `s`, in a fixed order.
pub fn families(s: &MasterStats) -> Vec<Value> {
    let counter = "counter";
    let gauge = "gauge";
    let queues: Vec<(&str, u64)> = s
        .queue_lengths
        .iter()
        .map(|(q, n)| (q.as_str(), *n))
        .collect();
    let mut buckets: Vec<Value> = s
        .commit_buckets
        .iter()
        .map(|(b, n)| json!({"suffix": "_bucket", "labels": {"le": le(*b)}, "value": n}))
        .collect();
    buckets.push(json!({"suffix": "_bucket", "labels": {"le": "+Inf"}, "value": s.commit_count}));
    buckets.push(json!({"suffix": "_sum", "labels": {}, "value": s.commit_seconds}));
    buckets.push(json!({"suffix": "_count", "labels": {}, "value": s.commit_count}));
    vec![
        one(
            "brine_master_uptime_seconds",
            gauge,
            "Seconds since the master started.",
            json!(s.uptime_seconds),
        ),
        one(
            "brine_master_events_in_total",
            counter,
            "Events published on the master bus.",
            json!(s.events_in),
        ),
        one(
            "brine_master_events_out_total",
            counter,
            "Events delivered whole to bus listeners.",
            json!(s.events_out),
        ),
        one(
            "brine_master_events_lost_total",
            counter,
            "Events listeners lost: the ring dropped them before they were read.",
            json!(s.events_lost),
        ),
        one(
            "brine_master_listeners_connected",
            gauge,
            "Local clients subscribed to the master bus.",
            json!(s.listeners),
        ),
        one(
            "brine_master_clients_connected",
            gauge,
            "Local clients connected to the master socket.",
            json!(s.clients),
        ),
        one(
            "brine_master_frames_refused_total",
            counter,
            "Frames from local clients refused (malformed, oversize, unknown).",
            json!(s.frames_refused),
        ),
        one(
            "brine_master_jobs_published_total",
            counter,
            "Jobs published to minions.",
            json!(s.jobs_published),
        ),
        one(
            "brine_master_job_returns_total",
            counter,
            "Job returns received from minions, duplicates included.",
            json!(s.job_returns),
        ),
        one(
            "brine_master_jobs_active",
            gauge,
            "Jobs some of whose minions have not returned yet.",
            json!(s.jobs_active),
        ),
        one(
            "brine_master_minions_present",
            gauge,
            "Minions with a live authenticated session.",
            json!(s.minions_present),
        ),
        one(
            "brine_master_minions_pending",
            gauge,
            "Minions authenticating: their key waits for acceptance.",
            json!(s.minions_pending),
        ),
        one(
            "brine_master_minions_accepted",
            gauge,
            "Minions with an accepted key.",
            json!(s.minions_accepted),
        ),
        labelled(
            "brine_master_auth_refusals_total",
            counter,
            "Requests refused on the request port, by reason.",
            "reason",
            &s.auth_refusals,
        ),
        one(
            "brine_master_reactor_matches_total",
            counter,
            "Events that matched a reactor rule.",
            json!(s.reactor_matches),
        ),
        one(
            "brine_master_reactor_reactions_total",
            counter,
            "Reactions the reactor carried out or queued.",
            json!(s.reactor_reactions),
        ),
        one(
            "brine_master_reactor_render_errors_total",
            counter,
            "Reactor SLS render errors (each fired salt/reactor/error).",
            json!(s.reactor_render_errors),
        ),
        one(
            "brine_master_reactor_throttled_total",
            counter,
            "Reactor rule matches a throttle suppressed.",
            json!(s.reactor_throttled),
        ),
        one(
            "brine_master_reactor_dropped_total",
            counter,
            "Runner and wheel reactions dropped at reactor_worker_hwm.",
            json!(s.reactor_dropped),
        ),
        one(
            "brine_master_reactor_missed_total",
            counter,
            "Events the reactor missed: the ring dropped them first.",
            json!(s.reactor_missed),
        ),
        labelled(
            "brine_master_queue_length",
            gauge,
            "Items in each lmdb queue (the first 1000 queues by name).",
            "queue",
            &queues,
        ),
        one(
            "brine_master_queue_operations_total",
            counter,
            "Queue operations carried out in group commits.",
            json!(s.queue_operations),
        ),
        one(
            "brine_master_queue_commits_total",
            counter,
            "Group commits that carried queue operations.",
            json!(s.queue_commits),
        ),
        json!({"name": "brine_master_store_commit_seconds", "type": "histogram",
               "help": "Latency of the master store's group commits, fsync included.",
               "samples": buckets}),
    ]
}

fn master(ctx: &mut dyn Context, _args: &[Value]) -> Outcome {
    Outcome::ok(Value::Array(families(&ctx.metrics())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> MasterStats {
        MasterStats {
            uptime_seconds: 12.5,
            events_in: 7,
            auth_refusals: vec![("forged", 2), ("replayed", 0)],
            queue_lengths: vec![("jobs".into(), 3), ("q\"x".into(), 0)],
            commit_count: 5,
            commit_seconds: 0.02,
            commit_buckets: vec![(0.001, 1), (0.01, 4)],
            ..MasterStats::default()
        }
    }

    fn family<'a>(f: &'a [Value], name: &str) -> &'a Value {
        f.iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("no family {name}"))
    }

    #[test]
    fn every_family_is_well_formed_and_named_once() {
        let f = families(&stats());
        let mut names: Vec<&str> = f.iter().map(|x| x["name"].as_str().unwrap()).collect();
        for x in &f {
            let name = x["name"].as_str().unwrap();
            assert!(name.starts_with("brine_master_"), "{name}");
            let kind = x["type"].as_str().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{name}");
            assert_eq!(kind == "counter", name.ends_with("_total"), "{name}");
            assert!(!x["help"].as_str().unwrap().contains('\n'));
            assert!(x["samples"].is_array());
        }
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn values_labels_and_the_histogram() {
        let f = families(&stats());
        assert_eq!(
            family(&f, "brine_master_events_in_total")["samples"],
            json!([{"labels": {}, "value": 7}])
        );
        assert_eq!(
            family(&f, "brine_master_uptime_seconds")["samples"][0]["value"],
            json!(12.5)
        );
        assert_eq!(
            family(&f, "brine_master_auth_refusals_total")["samples"],
            json!([{"labels": {"reason": "forged"}, "value": 2},
                   {"labels": {"reason": "replayed"}, "value": 0}])
        );
        assert_eq!(
            family(&f, "brine_master_queue_length")["samples"][1],
            json!({"labels": {"queue": "q\"x"}, "value": 0})
        );
        assert_eq!(
            family(&f, "brine_master_store_commit_seconds")["samples"],
            json!([
                {"suffix": "_bucket", "labels": {"le": "0.001"}, "value": 1},
                {"suffix": "_bucket", "labels": {"le": "0.01"}, "value": 4},
                {"suffix": "_bucket", "labels": {"le": "+Inf"}, "value": 5},
                {"suffix": "_sum", "labels": {}, "value": 0.02},
                {"suffix": "_count", "labels": {}, "value": 5},
            ])
        );
    }
}
