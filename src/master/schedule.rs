//! The master's schedule (`schedule:` in the master config): runner functions run every so
//! often, as timers of the event loop, with Salt's keys (`function`, `seconds`, `minutes`,
//! `hours`, `days`, `args`, `kwargs`, `splay`, `run_on_start`, `enabled`).
//!
//! A broken entry is logged with its name and left out; the others run.

use serde_json::{Map, Value};
use std::time::Duration;

/// One scheduled runner call.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The entry's name (its key under `schedule:`).
    pub name: String,
    /// The runner function.
    pub function: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Map<String, Value>,
    /// Time between runs.
    pub every: Duration,
    /// A random extra delay for each run, in seconds: from `.0` to `.1`.
    pub splay: Option<(u64, u64)>,
    /// Run once as soon as the master starts, then every `every`.
    pub run_on_start: bool,
}

/// The longest interval or splay, in seconds: beyond it a deadline could overflow the clock.
const MAX_INTERVAL: f64 = 10.0 * 366.0 * 86_400.0;

/// Keys Salt's schedule has that brine accepts and does not need.
const IGNORED: &[&str] = &[
    "jid_include",
    "maxrunning",
    "return_job",
    "persist",
    "name",
    "returner",
    "return_config",
    "metadata",
];

fn seconds(v: &Value, key: &str) -> Result<f64, String> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(f) if f.is_finite() && f >= 0.0 => Ok(f),
        _ => Err(format!(
            "{key} must be a non-negative number, not {}",
            crate::py::python_str(v)
        )),
    }
}

fn whole(v: &Value, key: &str) -> Result<u64, String> {
    seconds(v, key).map(|f| f as u64)
}

/// Reads one entry.
fn entry(name: &str, body: &Value) -> Result<Option<Entry>, String> {
    let m = body
        .as_object()
        .ok_or_else(|| "an entry must be a map".to_string())?;
    if m.get("enabled") == Some(&Value::Bool(false)) {
        return Ok(None);
    }
    let function = match m.get("function") {
        Some(Value::String(f)) => f.clone(),
        Some(_) => return Err("function must be a string".into()),
        None => return Err("no function".into()),
    };
    match crate::runners::find(&function) {
        Some(r) if !matches!(r.exec, crate::runners::Exec::Client) => {}
        _ => return Err(format!("{function} is not a runner function brine has")),
    }
    let mut total = 0.0;
    let mut splay = None;
    let mut args = Vec::new();
    let mut kwargs = Map::new();
    let mut run_on_start = false;
    for (k, v) in m {
        match k.as_str() {
            "seconds" => total += seconds(v, k)?,
            "minutes" => total += seconds(v, k)? * 60.0,
            "hours" => total += seconds(v, k)? * 3600.0,
            "days" => total += seconds(v, k)? * 86400.0,
            "function" | "enabled" => {}
            "args" => {
                args = match v {
                    Value::Array(a) => a.clone(),
                    Value::Null => Vec::new(),
                    other => vec![other.clone()],
                }
            }
            "kwargs" => {
                kwargs = match v {
                    Value::Object(o) => o.clone(),
                    Value::Null => Map::new(),
                    _ => return Err("kwargs must be a map".into()),
                }
            }
            "splay" => {
                splay = match v {
                    Value::Object(o) => {
                        let start = o.get("start").map_or(Ok(0), |x| whole(x, "splay start"))?;
                        let end = o
                            .get("end")
                            .ok_or_else(|| "splay needs an end".to_string())
                            .and_then(|x| whole(x, "splay end"))?;
                        if end < start {
                            return Err("splay end is before its start".into());
                        }
                        Some((start, end))
                    }
                    other => Some((0, whole(other, "splay")?)),
                }
            }
            "run_on_start" => run_on_start = crate::py::truthy(v),
            "when" | "cron" | "once" | "range" | "after" | "until" => {
                return Err(format!(
                    "{k} is not supported: use seconds, minutes, hours or days"
                ))
            }
            other if IGNORED.contains(&other) => {}
            other => log::warn!("schedule entry {name}: unknown key {other} ignored"),
        }
    }
    if total < 1.0 {
        return Err("no interval: give seconds, minutes, hours or days (at least 1 second)".into());
    }
    if total > MAX_INTERVAL {
        return Err("the interval is longer than ten years".into());
    }
    if splay.is_some_and(|(_, end)| end as f64 > MAX_INTERVAL) {
        return Err("the splay is longer than ten years".into());
    }
    Ok(Some(Entry {
        name: name.to_owned(),
        function,
        args,
        kwargs,
        every: Duration::from_secs_f64(total),
        splay,
        run_on_start,
    }))
}

/// Reads `schedule:`; broken entries are logged, naming them, and left out.
pub fn load(schedule: &Value) -> Vec<Entry> {
    let (entries, errors) = parse(schedule);
    for e in errors {
        log::error!("{e}");
    }
    entries
}

/// Reads `schedule:` into its entries and one message per broken entry.
pub fn parse(schedule: &Value) -> (Vec<Entry>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let m = match schedule {
        Value::Object(m) => m,
        Value::Null => return (out, errors),
        _ => {
            errors.push("schedule: must be a map of job names to jobs; ignored".into());
            return (out, errors);
        }
    };
    if m.get("enabled") == Some(&Value::Bool(false)) {
        return (out, errors);
    }
    for (name, body) in m {
        if name == "enabled" && body.is_boolean() {
            continue;
        }
        match entry(name, body) {
            Ok(Some(e)) => out.push(e),
            Ok(None) => {}
            Err(e) => errors.push(format!("schedule entry {name}: {e}; it will not run")),
        }
    }
    (out, errors)
}

/// The delay before an entry's next run: its interval plus a random splay.
pub fn next_delay(e: &Entry, rng: &mut crate::crypto::Rng) -> Duration {
    let splay = match e.splay {
        Some((start, end)) if end > start => {
            let span =
                u32::try_from(end.saturating_sub(start).saturating_add(1)).unwrap_or(u32::MAX);
            start + u64::from(rng.below(span))
        }
        Some((start, _)) => start,
        None => 0,
    };
    e.every.saturating_add(Duration::from_secs(splay))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_salts_schedule_keys() {
        let (e, errors) = parse(&json!({
            "decom_queue": {"function": "queue.process_queue", "minutes": 5,
                            "args": ["decom"], "kwargs": {"quantity": "all"}},
            "runner queue": {"function": "queue.process_runner", "minutes": 1,
                             "kwargs": {"quantity": 2}, "splay": 10},
            "mixed": {"function": "manage.up", "hours": 1, "seconds": 30,
                      "splay": {"start": 5, "end": 8}, "jid_include": true},
            "off": {"function": "manage.up", "seconds": 5, "enabled": false},
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].every, Duration::from_secs(300));
        assert_eq!(e[0].args, [json!("decom")]);
        assert_eq!(e[0].kwargs["quantity"], "all");
        assert_eq!(e[1].splay, Some((0, 10)));
        assert_eq!(e[2].every, Duration::from_secs(3630));
        for _ in 0..50 {
            let d = next_delay(&e[2], &mut crate::crypto::Rng::from_seed(1));
            assert!(d >= Duration::from_secs(3635) && d <= Duration::from_secs(3638));
        }
    }

    #[test]
    fn broken_entries_are_named_and_the_rest_run() {
        let (e, errors) = parse(&json!({
            "good": {"function": "manage.up", "seconds": 10},
            "nofun": {"seconds": 10},
            "badfun": {"function": "nope.nope", "seconds": 10},
            "noint": {"function": "manage.up"},
            "cron": {"function": "manage.up", "cron": "* * * * *"},
            "notmap": 5,
        }));
        assert_eq!(e.len(), 1);
        assert_eq!(errors.len(), 5);
        assert!(errors
            .iter()
            .any(|m| m.starts_with("schedule entry badfun: nope.nope")));
        assert!(errors.iter().all(|m| m.ends_with("it will not run")));
        let (e, errors) =
            parse(&json!({"enabled": false, "x": {"function": "manage.up", "seconds": 1}}));
        assert!(e.is_empty() && errors.is_empty());
        let (_, errors) = parse(&json!("every day"));
        assert_eq!(errors.len(), 1);
    }
}
