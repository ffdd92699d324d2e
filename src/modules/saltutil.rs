//! The `saltutil` execution module: the minion's running jobs and its grains on the master.

use super::{text, Call, Function, Ret, Step};
use crate::signature::{Default, Param};
use serde_json::{Map, Value};

/// `saltutil.running`: the jobs running on this minion.
pub const RUNNING: Function = Function {
    name: "saltutil.running",
    params: &[],
    kwargs: false,
    varargs: false,
    doc: "Return the data of every job running on the minion (as in its proc directory).",
    run: |c, _, _| Step::Done(Ret::ok(Value::Array(c.minion.running_jobs()))),
};

/// `saltutil.find_job JID`: the job's data while it runs, else {}.
pub const FIND_JOB: Function = Function {
    name: "saltutil.find_job",
    params: &[Param {
        name: "jid",
        default: Default::Required,
    }],
    kwargs: false,
    varargs: false,
    doc: "Return the data of the running job JID, or {} when it is not running.",
    run: |c, a, _| {
        let jid = text(&a[0]);
        let found = c
            .minion
            .running_jobs()
            .into_iter()
            .find(|j| j.get("jid").and_then(Value::as_str) == Some(jid.as_str()));
        Step::Done(Ret::ok(found.unwrap_or_else(|| Value::Object(Map::new()))))
    },
};

/// `saltutil.kill_job JID`: kill a running job.
pub const KILL_JOB: Function = Function {
    name: "saltutil.kill_job",
    params: &[Param { name: "jid", default: Default::Required }],
    kwargs: false,
    varargs: false,
    doc: "Kill the running job JID (its process group gets SIGKILL); returns the signalled pid, or nothing when the job is not running.",
    run: kill,
};

/// `saltutil.refresh_grains`: recompute grains and send them to the master.
pub const REFRESH_GRAINS: Function = Function {
    name: "saltutil.refresh_grains",
    params: &[],
    kwargs: true,
    varargs: false,
    doc: "Recompute the grains and send them to the master's cache. Returns True.",
    run: |c, _, _| {
        c.minion.refresh_grains();
        Step::Done(Ret::ok(Value::Bool(true)))
    },
};

/// `saltutil.refresh_pillar`: ask the master for this minion's pillar again.
pub const REFRESH_PILLAR: Function = Function {
    name: "saltutil.refresh_pillar",
    params: &[],
    kwargs: true,
    varargs: false,
    doc: "Ask the master to compile this minion's pillar again and send it. Returns True.",
    run: |c, _, _| {
        c.minion.refresh_pillar();
        Step::Done(Ret::ok(Value::Bool(true)))
    },
};

fn kill(c: &mut Call<'_>, a: &[Value], _: &Map<String, Value>) -> Step {
    let jid = text(&a[0]);
    match c.minion.kill_job(&jid) {
        Some(pid) => {
            let mut m = Map::new();
            m.insert(
                jid,
                Value::String(format!("Signal 9 sent to job {} at pid {pid}", text(&a[0]))),
            );
            Step::Done(Ret::ok(Value::Object(m)))
        }
        None => Step::Done(Ret::ok(Value::Object(Map::new()))),
    }
}
