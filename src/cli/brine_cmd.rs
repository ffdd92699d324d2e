//! `brine`: publish a job to targeted minions and print their returns as they arrive
//! (salt-spec §7.2): the wait, the `saltutil.find_job` probe of minions still out after
//! the timeout, and `Minion did not return.` for the ones that neither returned nor are
//! still running it.

use super::args;
use super::flags::{CliError, Parsed};
use super::highstate::{self, HighstateOpts};
use super::output::{self, Outputter};
use super::tools::{self, BrineFlag};
use super::{connect_master, fail};
use crate::batch::{Batch, Size};
use crate::bus::Request;
use crate::client::{self, BusClient, ClientError, OwnedEvent};
use crate::config::MasterConfig;
use crate::matcher::MatchType;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant};

/// The flags that pick a target type, and the type each picks.
const TARGET_FLAGS: &[(BrineFlag, &str)] = &[
    (BrineFlag::Pcre, "pcre"),
    (BrineFlag::List, "list"),
    (BrineFlag::Grain, "grain"),
    (BrineFlag::GrainPcre, "grain_pcre"),
    (BrineFlag::Ipcidr, "ipcidr"),
    (BrineFlag::Compound, "compound"),
    (BrineFlag::Nodegroup, "nodegroup"),
];

/// What brine's command line asks for, checked, with the master's configuration (it holds
/// the timeouts' defaults and the socket).
struct BrineArgs {
    cfg: MasterConfig,
    log_level: log::LevelFilter,
    /// The target type the flags picked (glob without one).
    tgt_type: &'static str,
    /// The --out choice; `None` lets each return decide (its `out`, or the function).
    out: Option<Outputter>,
    /// The highstate outputter's options: the master configuration's, then the flags.
    highstate: HighstateOpts,
    /// How long to wait for returns, and for the answers to a find_job probe.
    timeouts: Timeouts,
    /// Publish and print the jid without waiting.
    is_async: bool,
    /// Print the returns together at the end.
    static_out: bool,
    retcode_passthrough: bool,
    /// `-b`: run the job in batch mode with this window.
    batch: Option<Size>,
    /// `--batch-wait`: how long a finished minion's slot stays busy.
    batch_wait: Duration,
    tgt: String,
    fun: String,
    /// The argument words, passed as typed: each minion parses them.
    words: Vec<String>,
}

impl BrineArgs {
    fn from_parsed(p: Parsed<BrineFlag>) -> Result<BrineArgs, CliError> {
        let log_level = args::log_level(p.value(BrineFlag::LogLevel))?;
        let picked: Vec<&str> = TARGET_FLAGS
            .iter()
            .filter(|(f, _)| p.has(*f))
            .map(|(_, t)| *t)
            .collect();
        if picked.len() > 1 {
            return Err(CliError("give at most one target type option".into()));
        }
        let out = args::outputter_choice(p.value(BrineFlag::Out))?;
        let state_output = args::state_output(p.value(BrineFlag::StateOutput))?;
        let state_verbose = args::state_verbose(p.value(BrineFlag::StateVerbose))?;
        // Read here, between the checks, as brine always did: a missing configuration is
        // reported before a missing target.
        let (cfg, _) = MasterConfig::load(&args::conf_dir(p.value(BrineFlag::ConfigDir)))
            .map_err(|e| CliError(e.to_string()))?;
        let timeouts = Timeouts {
            ret: args::seconds(&p, BrineFlag::Timeout)?.unwrap_or(Duration::from_secs(cfg.timeout)),
            gather: args::seconds(&p, BrineFlag::GatherJobTimeout)?
                .unwrap_or(Duration::from_secs(cfg.gather_job_timeout)),
        };
        let batch = p
            .last_of(&[BrineFlag::Batch, BrineFlag::BatchSize])
            .map(Size::parse)
            .transpose()
            .map_err(|e| CliError(e.to_string()))?;
        // Salt's type=float; a negative wait would free slots at once, so it is refused.
        let batch_wait = match p.value(BrineFlag::BatchWait).map(str::parse::<f64>) {
            None => Duration::ZERO,
            Some(Ok(t)) if t >= 0.0 && t.is_finite() => crate::clock::seconds(t),
            Some(_) => {
                return Err(CliError(
                    "--batch-wait takes a number of seconds, 0 or more".into(),
                ))
            }
        };
        let mut words = p.positionals.iter().cloned();
        let (Some(tgt), Some(fun)) = (words.next(), words.next()) else {
            return Err(CliError(
                "usage: brine TARGET FUN [ARG ...] (see brine --help)".into(),
            ));
        };
        let mut highstate =
            args::highstate_opts(&cfg.values(), state_output.as_deref(), state_verbose);
        if p.has(BrineFlag::OutputDiff) {
            highstate.state_output_diff = true;
        }
        let words: Vec<String> = words.collect();
        // salt keeps its parsed arguments in opts, where the filter mode finds exclude=
        // and terse=.
        highstate.cli_kwargs = crate::py::args::parse_input(&words).1;
        Ok(BrineArgs {
            cfg,
            log_level,
            tgt_type: picked.first().copied().unwrap_or("glob"),
            out,
            highstate,
            timeouts,
            is_async: p.has(BrineFlag::Async),
            static_out: p.has(BrineFlag::Static),
            retcode_passthrough: p.has(BrineFlag::RetcodePassthrough),
            batch,
            batch_wait,
            tgt,
            fun,
            words,
        })
    }
}

/// Prints the returns, each with the outputter it asks for unless --out chose one.
struct Printer {
    out: Option<Outputter>,
    /// The job's function, which picks the outputter of returns that do not name one.
    fun: String,
    highstate: HighstateOpts,
    static_out: bool,
    collected: Map<String, Value>,
    /// The `out` of the last return, which --static prints them all with, as salt does.
    last_out: Option<String>,
}

impl Printer {
    fn new(a: &BrineArgs) -> Printer {
        Printer {
            out: a.out,
            fun: a.fun.clone(),
            highstate: a.highstate.clone(),
            static_out: a.static_out,
            collected: Map::new(),
            last_out: None,
        }
    }

    /// The outputter for a return whose `out` is `ret_out`: salt takes the return's (an
    /// outputter brine lacks is nested); brine's minions do not send one yet, so the
    /// function's decides then, as salt-call decides.
    fn outputter(&self, ret_out: Option<&str>) -> Outputter {
        self.out.unwrap_or_else(|| match ret_out {
            Some(name) => Outputter::from_name(name).unwrap_or(Outputter::Nested),
            None if highstate::is_state_function(&self.fun) => Outputter::Highstate,
            None => Outputter::Nested,
        })
    }

    fn show(&mut self, id: &str, ret: Value, ret_out: Option<&str>) {
        if self.static_out {
            self.collected.insert(id.to_string(), ret);
            if ret_out.is_some() {
                self.last_out = ret_out.map(str::to_string);
            }
            return;
        }
        let mut m = Map::new();
        m.insert(id.to_string(), ret);
        let out = self.outputter(ret_out);
        let text = output::render_with(out, &Value::Object(m), &self.highstate);
        if !text.is_empty() {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{text}");
            let _ = o.flush();
        }
    }

    fn done(self) {
        if self.static_out && !self.collected.is_empty() {
            let out = self.outputter(self.last_out.as_deref());
            let text = output::render_with(out, &Value::Object(self.collected), &self.highstate);
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
pub fn main(argv: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::BRINE;
    let a = match args::build(tool, argv, BrineArgs::from_parsed) {
        Ok(a) => a,
        Err(status) => return status,
    };
    args::init_log(tool, a.log_level);
    let mut bus = match connect_master(tool.name, &client::master_socket(&a.cfg.sock_dir)) {
        Ok(b) => b,
        Err(status) => return status,
    };
    if let Some(size) = a.batch {
        // As salt: batch mode wins over --async.
        return run_batch(&mut bus, &a, size);
    }
    // Listen before publishing so no return can slip past.
    if !a.is_async {
        if let Err(e) = bus.subscribe(MatchType::StartsWith, "salt/job/") {
            return fail(tool.name, e, 1);
        }
    }
    let job = match publish_job(
        &mut bus,
        job_kwarg(json!(a.tgt), a.tgt_type, &a.fun, &a.words),
    ) {
        Ok(job) => job,
        Err(status) => return status,
    };
    if a.is_async {
        println!("Executed command with job ID: {}", job.jid);
        return 0;
    }
    let mut printer = Printer::new(&a);
    match wait_for_returns(&mut bus, &job, a.timeouts, &mut printer) {
        Ok(retcodes) => report(&job, &retcodes, printer, a.retcode_passthrough),
        Err(status) => status,
    }
}

/// How long to wait: for returns, and for the answers to a find_job probe.
#[derive(Clone, Copy)]
struct Timeouts {
    ret: Duration,
    gather: Duration,
}

/// A published job, as the master answered.
struct Job {
    jid: String,
    /// The minions expected to return.
    minions: Vec<String>,
    /// Targeted minions the master knows will not return.
    missing: Vec<String>,
    /// Minions with a live session, to tell `[No response]` from `[Not connected]`.
    connected: BTreeSet<String>,
}

/// The publication of `fun` with its argument words to a target.
fn job_kwarg(tgt: Value, tgt_type: &str, fun: &str, words: &[String]) -> Map<String, Value> {
    let mut kw = Map::new();
    kw.insert("tgt".into(), tgt);
    kw.insert("tgt_type".into(), json!(tgt_type));
    kw.insert("fun".into(), json!(fun));
    // Arguments go as the words typed; each minion parses them (salt-spec §2.4).
    kw.insert(
        "arg".into(),
        Value::Array(words.iter().map(|w| Value::String(w.clone())).collect()),
    );
    kw
}

/// Publishes the job; `Err` is the exit status, the error printed (`No minions matched`
/// on stdout, as salt prints it).
fn publish_job(bus: &mut BusClient, kw: Map<String, Value>) -> Result<Job, i32> {
    match publish(bus, kw) {
        Ok(job) => Ok(Job {
            jid: jid_of(&job),
            minions: strings(job.get("minions")),
            missing: strings(job.get("missing")),
            connected: strings(job.get("connected")).into_iter().collect(),
        }),
        Err((msg, 2)) if msg.starts_with("No minions matched") => {
            println!("{msg}");
            Err(2)
        }
        Err((msg, code)) => Err(fail(tools::BRINE.name, msg, code)),
    }
}

fn jid_of(answer: &Map<String, Value>) -> String {
    answer
        .get("jid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A `saltutil.find_job` probe of the minions still out after the timeout.
struct Probe {
    jid: String,
    /// When the minions' answers are due.
    end: Instant,
    /// The minions that answered they still run the job.
    running: BTreeSet<String>,
}

/// Prints each return as it arrives until every expected minion returned or was found
/// no longer running the job; the retcodes of those that returned.
fn wait_for_returns(
    bus: &mut BusClient,
    job: &Job,
    t: Timeouts,
    printer: &mut Printer,
) -> Result<BTreeMap<String, i64>, i32> {
    let mut outstanding: BTreeSet<String> = job.minions.iter().cloned().collect();
    let mut retcodes: BTreeMap<String, i64> = BTreeMap::new();
    let mut deadline = crate::clock::later(Instant::now(), t.ret);
    let mut probe: Option<Probe> = None;
    while !outstanding.is_empty() {
        let now = Instant::now();
        let until = probe.as_ref().map_or(deadline, |p| p.end);
        let wait = until
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        let ev: OwnedEvent = match bus.next_event(Some(wait)) {
            Ok(ev) => ev,
            Err(ClientError::Timeout) => {
                // A deadline passed: probe the minions still out, or drop those the probe
                // did not find running the job and wait again for the others.
                match probe.take() {
                    None => match publish(bus, find_job(&outstanding, &job.jid)) {
                        Ok(p) => {
                            probe = Some(Probe {
                                jid: jid_of(&p),
                                end: crate::clock::later(Instant::now(), t.gather),
                                running: BTreeSet::new(),
                            })
                        }
                        Err(_) => break,
                    },
                    Some(p) => {
                        outstanding.retain(|m| p.running.contains(m));
                        deadline = crate::clock::later(Instant::now(), t.ret);
                    }
                }
                continue;
            }
            Err(e) => return Err(fail(tools::BRINE.name, format!("lost the master: {e}"), 1)),
        };
        let Some((ev_jid, id)) = ret_tag(&ev.tag) else {
            continue;
        };
        if ev_jid == job.jid && outstanding.remove(id) {
            retcodes.insert(
                id.to_string(),
                ev.data.get("retcode").and_then(Value::as_i64).unwrap_or(0),
            );
            printer.show(
                id,
                ev.data.get("return").cloned().unwrap_or(Value::Null),
                ev.data.get("out").and_then(Value::as_str),
            );
        } else if let Some(p) = probe.as_mut() {
            // find_job answers {} once the job is over; anything else means running.
            let busy = matches!(ev.data.get("return"), Some(Value::Object(m)) if !m.is_empty());
            if ev_jid == p.jid && busy {
                p.running.insert(id.to_string());
            }
        }
    }
    Ok(retcodes)
}

/// The find_job publication for the minions still out.
fn find_job(outstanding: &BTreeSet<String>, jid: &str) -> Map<String, Value> {
    let mut kw = Map::new();
    kw.insert(
        "tgt".into(),
        json!(outstanding.iter().cloned().collect::<Vec<_>>()),
    );
    kw.insert("tgt_type".into(), json!("list"));
    kw.insert("fun".into(), json!("saltutil.find_job"));
    kw.insert("arg".into(), json!([jid]));
    kw
}

/// Shows the minions that did not return and picks the exit status.
fn report(
    job: &Job,
    retcodes: &BTreeMap<String, i64>,
    mut printer: Printer,
    retcode_passthrough: bool,
) -> i32 {
    let mut no_return: Vec<String> = job.missing.clone();
    for m in job.minions.iter().filter(|m| !retcodes.contains_key(*m)) {
        no_return.push(m.clone());
    }
    no_return.sort();
    no_return.dedup();
    for m in &no_return {
        let why = if job.connected.contains(m) {
            "[No response]"
        } else {
            "[Not connected]"
        };
        printer.show(
            m,
            Value::String(format!("Minion did not return. {why}")),
            None,
        );
    }
    printer.done();
    if retcode_passthrough {
        if let Some(rc) = retcodes.values().find(|rc| **rc != 0) {
            return (*rc).clamp(1, 255) as i32;
        }
    }
    if !no_return.is_empty() || retcodes.values().any(|rc| *rc != 0) {
        return 1;
    }
    0
}

/// Runs the job as `salt -b` does (salt/cli/batch.py, brine(1) BATCH MODE): test.ping
/// finds the minions that answer, then [`Batch`] keeps at most its window of them running
/// the job, one list-targeted publication per group it starts. Returns the exit status.
fn run_batch(bus: &mut BusClient, a: &BrineArgs, size: Size) -> i32 {
    let name = tools::BRINE.name;
    if let Err(e) = bus.subscribe(MatchType::StartsWith, "salt/job/") {
        return fail(name, e, 1);
    }
    // Salt's gather_minions: a ping with the usual wait, its returns not shown.
    let ping = match publish_job(bus, job_kwarg(json!(a.tgt), a.tgt_type, "test.ping", &[])) {
        Ok(job) => job,
        Err(status) => return status,
    };
    let mut quiet = Printer::new(a);
    quiet.out = Some(Outputter::Quiet);
    quiet.static_out = false;
    let answered = match wait_for_returns(bus, &ping, a.timeouts, &mut quiet) {
        Ok(r) => r,
        Err(status) => return status,
    };
    if answered.is_empty() {
        // salt.py's guard for a batch with no minions (#57357), before any other line.
        eprintln!("ERROR: No return received");
        return 2;
    }
    let mut down: BTreeSet<&String> = ping.minions.iter().chain(&ping.missing).collect();
    down.retain(|m| !answered.contains_key(*m));
    if !a.static_out {
        for m in &down {
            println!("Minion {m} did not respond. No job will be sent.");
        }
    }
    // BTreeMap keys: the batch starts in id order (salt's is a set's, i.e. arbitrary).
    let minions: Vec<String> = answered.into_keys().collect();
    let mut batch =
        Batch::new(minions, &size, a.batch_wait, a.timeouts.ret).with_probe(a.timeouts.gather);
    let mut printer = Printer::new(a);
    let mut run = BatchRun::default();
    let end = loop {
        let now = Instant::now();
        let start = batch.next(now);
        if !start.is_empty() {
            if let Err(status) = run.start(bus, a, start) {
                break Err(status);
            }
        }
        let due = batch.probe(now);
        if !due.is_empty() {
            run.probe(bus, due);
        }
        for m in batch.expire(now) {
            // batch.py gives a minion whose returns ended without it `{"ret": {}}` and
            // shows that with the default outputter (--static: with the others').
            let out = if a.static_out { None } else { Some("nested") };
            printer.show(&m, json!({}), out);
        }
        if batch.done() {
            break Ok(());
        }
        // Every state short of done has a deadline; the fallback only guards a wake-up.
        let wait = batch
            .deadline()
            .map_or(Duration::from_secs(1), |d| d.saturating_duration_since(now))
            .max(Duration::from_millis(1));
        match bus.next_event(Some(wait)) {
            Ok(ev) => run.event(&ev, &mut batch, &mut printer),
            Err(ClientError::Timeout) => {}
            Err(e) => break Err(fail(name, format!("lost the master: {e}"), 1)),
        }
    };
    printer.done();
    if let Err(status) = end {
        return status;
    }
    // salt.py exits with the highest retcode; brine also fails a run that left minions out.
    let highest = run
        .retcodes
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .clamp(0, 255) as i32;
    if highest == 0 && (!down.is_empty() || !batch.failed().is_empty()) {
        return 1;
    }
    highest
}

/// The publications of a batch run and what came back.
#[derive(Default)]
struct BatchRun {
    /// The jid each started minion's publication got.
    jid_of: BTreeMap<String, String>,
    /// Each find_job probe's jid, and the jid it asks about.
    probes: BTreeMap<String, String>,
    /// The retcodes of the minions that returned.
    retcodes: Vec<i64>,
}

impl BatchRun {
    /// Publishes the job to the minions the window just let in; `Err` is the exit status.
    fn start(
        &mut self,
        bus: &mut BusClient,
        a: &BrineArgs,
        mut start: Vec<String>,
    ) -> Result<(), i32> {
        start.sort();
        if !a.static_out {
            // batch.py: print_cli(f"\nExecuting run on {sorted(next_)}\n").
            let list = crate::py::python_str(&json!(start));
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "\nExecuting run on {list}\n");
            let _ = o.flush();
        }
        let job = publish_job(bus, job_kwarg(json!(start), "list", &a.fun, &a.words))?;
        for m in start {
            self.jid_of.insert(m, job.jid.clone());
        }
        Ok(())
    }

    /// Asks the minions past their timeout whether they still run the job: one find_job
    /// publication per jid, as each group of minions has its own.
    fn probe(&mut self, bus: &mut BusClient, due: Vec<String>) {
        let mut by_jid: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for m in due {
            if let Some(jid) = self.jid_of.get(&m) {
                by_jid.entry(jid.clone()).or_default().insert(m);
            }
        }
        for (jid, minions) in by_jid {
            match publish(bus, find_job(&minions, &jid)) {
                Ok(p) => {
                    self.probes.insert(jid_of(&p), jid);
                }
                // Unasked, they fail at the probe window's end, as unanswered ones do.
                Err((msg, _)) => log::warn!("find_job for {jid} not published: {msg}"),
            }
        }
    }

    /// A return on the bus: the job's (shown, its minion's slot freed) or a probe's answer.
    fn event(&mut self, ev: &OwnedEvent, batch: &mut Batch, printer: &mut Printer) {
        let Some((jid, id)) = ret_tag(&ev.tag) else {
            return;
        };
        let now = Instant::now();
        let ours = self.jid_of.get(id).map(String::as_str);
        if ours == Some(jid) {
            if !batch.is_running(id) {
                // A late return of a minion already counted as failed, or a duplicate.
                return;
            }
            batch.returned(id, now);
            self.retcodes
                .push(ev.data.get("retcode").and_then(Value::as_i64).unwrap_or(0));
            printer.show(
                id,
                ev.data.get("return").cloned().unwrap_or(Value::Null),
                ev.data.get("out").and_then(Value::as_str),
            );
        } else if ours.is_some() && self.probes.get(jid).map(String::as_str) == ours {
            // find_job answers {} once the job is over; anything else means running.
            if matches!(ev.data.get("return"), Some(Value::Object(m)) if !m.is_empty()) {
                batch.extend(id, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::flags;

    #[test]
    fn each_return_picks_its_outputter_unless_out_does() {
        let printer = |words: &[&str]| Printer::new(&args(words).unwrap());
        let p = printer(&["*", "state.apply", "web"]);
        assert_eq!(p.outputter(None), Outputter::Highstate);
        assert_eq!(p.outputter(Some("highstate")), Outputter::Highstate);
        assert_eq!(p.outputter(Some("txt")), Outputter::Nested);
        let p = printer(&["*", "test.ping"]);
        assert_eq!(p.outputter(None), Outputter::Nested);
        assert_eq!(p.outputter(Some("highstate")), Outputter::Highstate);
        let p = printer(&["--out", "yaml", "*", "state.apply"]);
        assert_eq!(p.outputter(Some("highstate")), Outputter::Yaml);
        let p = printer(&["--out=highstate", "*", "test.ping"]);
        assert_eq!(p.outputter(None), Outputter::Nested);
        let p = printer(&[
            "--state-output",
            "changes",
            "--output-diff",
            "*",
            "state.apply",
            "exclude=True,",
        ]);
        assert_eq!(p.highstate.state_output, "changes");
        assert!(p.highstate.state_output_diff && p.highstate.state_verbose);
        assert_eq!(p.highstate.cli_kwargs.get("exclude"), Some(&json!("True,")));
        assert!(args(&["--state-verbose", "yes", "*", "f"]).is_err());
    }

    fn args(words: &[&str]) -> Result<BrineArgs, CliError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("master"), "timeout: 7\n").unwrap();
        let conf = ["-c", dir.path().to_str().unwrap()];
        let words = conf.iter().chain(words).map(|s| s.to_string());
        BrineArgs::from_parsed(flags::parse(&tools::BRINE, words).unwrap())
    }

    #[test]
    fn batch_flags_in_every_spelling() {
        let a = args(&["*", "test.ping"]).unwrap();
        assert_eq!((a.batch, a.batch_wait), (None, Duration::ZERO));
        for words in [
            &["-b", "2", "*", "f"][..],
            &["--batch", "2", "*", "f"],
            &["--batch-size=2", "*", "f"],
            &["--batch_size", "2", "*", "f"],
            &["-b", "9", "--batch-size", "2", "*", "f"],
            &["--batch-size", "9", "-b2", "*", "f"],
        ] {
            assert_eq!(
                args(words).unwrap().batch,
                Some(Size::Count(2)),
                "{words:?}"
            );
        }
        assert_eq!(
            args(&["-b", "50%", "*", "f"]).unwrap().batch,
            Some(Size::Percent(50.0))
        );
        assert_eq!(
            args(&["-b", "x", "*", "f"]).err(),
            Some(CliError(
                "Invalid batch data sent: x\nData must be in the form of %10, 10% or 3".into()
            ))
        );
        let a = args(&["-b", "1", "--batch-wait", "1.5", "*", "f"]).unwrap();
        assert_eq!(a.batch_wait, Duration::from_millis(1500));
        assert_eq!(
            args(&["--batch-wait", "0", "*", "f"]).unwrap().batch_wait,
            Duration::ZERO
        );
        for bad in ["-1", "x", "inf"] {
            assert_eq!(
                args(&["--batch-wait", bad, "*", "f"]).err(),
                Some(CliError(
                    "--batch-wait takes a number of seconds, 0 or more".into()
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_command_line_becomes_typed_arguments() {
        let a = args(&["-P", "os:Deb.*", "test.ping", "x", "--async", "-t", "3"]).unwrap();
        assert_eq!(a.tgt_type, "grain_pcre");
        assert_eq!((a.tgt.as_str(), a.fun.as_str()), ("os:Deb.*", "test.ping"));
        assert_eq!(a.words, ["x"]);
        assert!(a.is_async && !a.static_out && !a.retcode_passthrough);
        assert_eq!(a.timeouts.ret, Duration::from_secs(3));
        // The defaults are the configuration's.
        assert_eq!(
            a.timeouts.gather,
            Duration::from_secs(a.cfg.gather_job_timeout)
        );
        assert_eq!(
            args(&["x", "f"]).unwrap().timeouts.ret,
            Duration::from_secs(7)
        );
        assert_eq!(args(&["*", "test.ping"]).unwrap().tgt_type, "glob");
        assert_eq!(
            args(&["-E", "-L", "x", "test.ping"]).err(),
            Some(CliError("give at most one target type option".into()))
        );
        assert_eq!(
            args(&["web1"]).err(),
            Some(CliError(
                "usage: brine TARGET FUN [ARG ...] (see brine --help)".into()
            ))
        );
        assert_eq!(
            args(&["--gather-job-timeout", "0", "*", "f"]).err(),
            Some(CliError(
                "--gather-job-timeout takes a positive number of seconds".into()
            ))
        );
    }
}
