//! `brine`: publish a job to targeted minions and print their returns as they arrive
//! (salt-spec §7.2): the wait, the `saltutil.find_job` probe of minions still out after
//! the timeout, and `Minion did not return.` for the ones that neither returned nor are
//! still running it.

use super::output::{self, Outputter};
use super::{conf_dir, fail, tools, EXIT_USAGE};
use crate::client::{self, BusClient, ClientError, OwnedEvent};
use crate::config::MasterConfig;
use crate::master::Request;
use crate::matcher::MatchType;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant};

/// The flags that pick a target type, and the type each picks.
const TARGET_FLAGS: &[(&str, &str)] = &[
    ("pcre", "pcre"),
    ("list", "list"),
    ("grain", "grain"),
    ("grain-pcre", "grain_pcre"),
    ("ipcidr", "ipcidr"),
    ("compound", "compound"),
    ("nodegroup", "nodegroup"),
];

struct Printer {
    out: Outputter,
    static_out: bool,
    collected: Map<String, Value>,
}

impl Printer {
    fn show(&mut self, id: &str, ret: Value) {
        if self.static_out {
            self.collected.insert(id.to_string(), ret);
            return;
        }
        let mut m = Map::new();
        m.insert(id.to_string(), ret);
        let text = output::render(self.out, &Value::Object(m));
        if !text.is_empty() {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{text}");
            let _ = o.flush();
        }
    }

    fn done(self) {
        if self.static_out && !self.collected.is_empty() {
            let text = output::render(self.out, &Value::Object(self.collected));
            if !text.is_empty() {
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
        }
    }
}

/// Publishes through the master; the answer's `ret` is `{jid, minions, missing, connected}`.
fn publish(
    bus: &mut BusClient,
    kwarg: Map<String, Value>,
) -> Result<Map<String, Value>, (String, i32)> {
    let req = Request {
        fun: "publish".into(),
        arg: Vec::new(),
        kwarg,
        user: Some(client::calling_user()),
        send_return: false,
    };
    match bus.call(&req, Some(Duration::from_secs(30))) {
        Ok(a) if a.success => match a.ret {
            Value::Object(m) => Ok(m),
            other => Err((format!("unexpected answer from the master: {other}"), 1)),
        },
        Ok(a) => Err((crate::py::python_str(&a.ret), a.retcode.max(1))),
        Err(e) => Err((e.to_string(), 1)),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The jid and minion of a `salt/job/<jid>/ret/<id>` tag.
fn ret_tag(tag: &str) -> Option<(&str, &str)> {
    let rest = tag.strip_prefix("salt/job/")?;
    let (jid, id) = rest.split_once("/ret/")?;
    Some((jid, id))
}

/// Runs brine with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::BRINE;
    let parsed = match super::start(tool, args) {
        Ok(p) => p,
        Err(status) => return status,
    };
    if let Err(status) = super::client_log(tool, &parsed) {
        return status;
    }
    let picked: Vec<&str> = TARGET_FLAGS
        .iter()
        .filter(|(f, _)| parsed.has(f))
        .map(|(_, t)| *t)
        .collect();
    if picked.len() > 1 {
        return fail(tool.name, "give at most one target type option", EXIT_USAGE);
    }
    let tgt_type = picked.first().copied().unwrap_or("glob");
    let out = match super::outputter(tool, &parsed) {
        Ok(o) => o,
        Err(status) => return status,
    };
    let dir = conf_dir(&parsed);
    let cfg = match MasterConfig::load(&dir) {
        Ok((cfg, _)) => cfg,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let secs = |name: &str, default: u64| {
        super::seconds(tool, &parsed, name, Duration::from_secs(default))
    };
    let timeout = match secs("timeout", cfg.timeout) {
        Ok(t) => t,
        Err(status) => return status,
    };
    let gather = match secs("gather-job-timeout", cfg.gather_job_timeout) {
        Ok(t) => t,
        Err(status) => return status,
    };
    let [tgt, fun, words @ ..] = &parsed.positionals[..] else {
        return fail(
            tool.name,
            "usage: brine TARGET FUN [ARG ...] (see brine --help)",
            EXIT_USAGE,
        );
    };
    let socket = client::master_socket(&cfg.sock_dir);
    let mut bus = match BusClient::connect(&socket) {
        Ok(b) => b,
        Err(ClientError::NoDaemon(p)) => {
            return fail(
                tool.name,
                format!("no master at {} (is brine-master running?)", p.display()),
                EXIT_USAGE,
            )
        }
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    // Listen before publishing so no return can slip past.
    let is_async = parsed.has("async");
    if !is_async {
        if let Err(e) = bus.subscribe(MatchType::StartsWith, "salt/job/") {
            return fail(tool.name, e, 1);
        }
    }
    let mut kw = Map::new();
    kw.insert("tgt".into(), Value::String(tgt.clone()));
    kw.insert("tgt_type".into(), json!(tgt_type));
    kw.insert("fun".into(), json!(fun));
    // Arguments go as the words typed; each minion parses them (salt-spec §2.4).
    kw.insert(
        "arg".into(),
        Value::Array(words.iter().map(|w| Value::String(w.clone())).collect()),
    );
    let job = match publish(&mut bus, kw) {
        Ok(j) => j,
        Err((msg, code)) => {
            if code == 2 && msg.starts_with("No minions matched") {
                println!("{msg}");
                return 2;
            }
            return fail(tool.name, msg, code);
        }
    };
    let jid = job
        .get("jid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if is_async {
        println!("Executed command with job ID: {jid}");
        return 0;
    }
    let minions = strings(job.get("minions"));
    let missing = strings(job.get("missing"));
    let connected: BTreeSet<String> = strings(job.get("connected")).into_iter().collect();
    let mut printer = Printer {
        out,
        static_out: parsed.has("static"),
        collected: Map::new(),
    };
    let mut outstanding: BTreeSet<String> = minions.iter().cloned().collect();
    let mut retcodes: BTreeMap<String, i64> = BTreeMap::new();
    let mut no_return: Vec<String> = missing.clone();
    let mut deadline = crate::clock::later(Instant::now(), timeout);
    // jid of a find_job probe -> minions still running the job.
    let mut probe: Option<(String, Instant, BTreeSet<String>)> = None;
    while !outstanding.is_empty() {
        let now = Instant::now();
        let until = match &probe {
            Some((_, end, _)) => *end,
            None => deadline,
        };
        let ev: Option<OwnedEvent> = match bus.next_event(Some(
            until
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        )) {
            Ok(ev) => Some(ev),
            Err(ClientError::Timeout) => None,
            Err(e) => return fail(tool.name, format!("lost the master: {e}"), 1),
        };
        if let Some(ev) = ev {
            let Some((ev_jid, id)) = ret_tag(&ev.tag) else {
                continue;
            };
            if ev_jid == jid && outstanding.remove(id) {
                retcodes.insert(
                    id.to_string(),
                    ev.data.get("retcode").and_then(Value::as_i64).unwrap_or(0),
                );
                printer.show(id, ev.data.get("return").cloned().unwrap_or(Value::Null));
            } else if let Some((pjid, _, running)) = probe.as_mut() {
                // find_job answers {} once the job is over; anything else means running.
                let busy = matches!(ev.data.get("return"), Some(Value::Object(m)) if !m.is_empty());
                if ev_jid == pjid && busy {
                    running.insert(id.to_string());
                }
            }
            continue;
        }
        // A deadline passed.
        match probe.take() {
            None => {
                let mut kw = Map::new();
                kw.insert(
                    "tgt".into(),
                    json!(outstanding.iter().cloned().collect::<Vec<_>>()),
                );
                kw.insert("tgt_type".into(), json!("list"));
                kw.insert("fun".into(), json!("saltutil.find_job"));
                kw.insert("arg".into(), json!([jid]));
                match publish(&mut bus, kw) {
                    Ok(p) => {
                        let pjid = p
                            .get("jid")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        probe = Some((
                            pjid,
                            crate::clock::later(Instant::now(), gather),
                            BTreeSet::new(),
                        ));
                    }
                    Err(_) => break,
                }
            }
            Some((_, _, running)) => {
                outstanding.retain(|m| running.contains(m));
                if outstanding.is_empty() {
                    break;
                }
                deadline = crate::clock::later(Instant::now(), timeout);
            }
        }
        if outstanding.is_empty() {
            break;
        }
    }
    for m in minions.iter().filter(|m| !retcodes.contains_key(*m)) {
        no_return.push(m.clone());
    }
    no_return.sort();
    no_return.dedup();
    for m in &no_return {
        let why = if connected.contains(m) {
            "[No response]"
        } else {
            "[Not connected]"
        };
        printer.show(m, Value::String(format!("Minion did not return. {why}")));
    }
    printer.done();
    if parsed.has("retcode-passthrough") {
        if let Some(rc) = retcodes.values().find(|rc| **rc != 0) {
            return (*rc).clamp(1, 255) as i32;
        }
    }
    if !no_return.is_empty() || retcodes.values().any(|rc| *rc != 0) {
        return 1;
    }
    0
}
