//! The `state` execution module: `state.apply`, `state.sls`, `state.highstate`,
//! `state.test`, `state.single`, the `state.show_*` functions and `state.running`. A state
//! run blocks (commands, packages, file fetches), so it runs in a module child
//! (`--module-child state.run`), as `cmd.run` does; the idle minion keeps its memory.
//!
//! The child takes `cachedir/state.lock` for the run: a second run is refused with Salt's
//! "is running as PID" text, waits with `queue=True`, and ignores the lock with
//! `concurrent=True`. It reaches the master's file server through the minion's bus and
//! sends `state_events`/`fire_event` events as `fire_master` requests on that bus.

use super::{child, Call, Function, Ret, Step};
use crate::client::BusClient;
use crate::states::apply::{self, Env};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::io::{Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

/// What a state child is given, resolved by the minion.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateRequest {
    /// `state.apply`, ...
    pub fun: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Map<String, Value>,
    /// The minion id.
    pub id: String,
    /// The job id.
    pub jid: Option<String>,
    /// The minion's grains.
    pub grains: Map<String, Value>,
    /// The minion's pillar (None masterless: the child compiles it).
    pub pillar: Option<Map<String, Value>>,
    /// The minion's configuration.
    pub opts: Map<String, Value>,
    /// No master.
    pub masterless: bool,
    /// The minion bus socket (None when the minion has no bus).
    pub socket: Option<PathBuf>,
    /// The minion's cache directory.
    pub cachedir: PathBuf,
}

/// The name a state child is started with.
pub const CHILD: &str = "state.run";

/// A whole state run's limit when `state_run_timeout` is 0: a day.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(86_400);

macro_rules! state_fn {
    ($id:ident, $name:literal, $doc:literal) => {
        #[doc = $doc]
        pub const $id: Function = Function {
            name: $name,
            params: &[],
            kwargs: true,
            varargs: true,
            doc: $doc,
            run: |c, a, kw| start(c, $name, a, kw),
        };
    };
}

state_fn!(APPLY, "state.apply", "Apply the SLS files named (comma-separated or a list), or the highstate when none are; test=True, pillar={...}, saltenv, exclude, queue=True, concurrent=True.");
state_fn!(
    SLS,
    "state.sls",
    "Apply the SLS files MODS (comma-separated or a list) with the same options as state.apply."
);
state_fn!(
    HIGHSTATE,
    "state.highstate",
    "Apply the states top.sls assigns to this minion."
);
state_fn!(
    TOP,
    "state.top",
    "Apply the states the top file TOPFN (salt://path or a path in the saltenv) assigns to this minion."
);
state_fn!(
    TEST,
    "state.test",
    "state.apply with test=True: report what would change, change nothing."
);
state_fn!(
    SINGLE,
    "state.single",
    "Run one state function: state.single FUN NAME key=value ..."
);
state_fn!(
    SHOW_SLS,
    "state.show_sls",
    "The high data of the SLS files MODS, as compiled, without running them."
);
state_fn!(
    SHOW_LOW_SLS,
    "state.show_low_sls",
    "The low chunks of the SLS files MODS, in run order, without running them."
);
state_fn!(
    SHOW_LOWSTATE,
    "state.show_lowstate",
    "The low chunks of this minion's highstate, without running them."
);
state_fn!(
    SHOW_HIGHSTATE,
    "state.show_highstate",
    "The high data of this minion's highstate, without running it."
);
state_fn!(
    SHOW_TOP,
    "state.show_top",
    "The SLS files top.sls assigns to this minion, per saltenv."
);

/// `state.running`: the state runs in progress, as Salt's refusal text.
pub const RUNNING: Function = Function {
    name: "state.running",
    params: &[],
    kwargs: true,
    varargs: true,
    doc: "The state runs in progress on this minion, each as \"The function ... is running as PID ...\".",
    run: |c, _, _| {
        let me = c.jid.map(str::to_string);
        let list: Vec<Value> = c
            .minion
            .running_jobs()
            .into_iter()
            .filter(|j| j.get("fun").and_then(Value::as_str).is_some_and(|f| f.starts_with("state.")))
            .filter(|j| j.get("jid").and_then(Value::as_str).map(str::to_string) != me)
            .map(|j| Value::String(refusal(&j)))
            .collect();
        Step::Done(Ret::ok(Value::Array(list)))
    },
};

/// Salt's text for a state run in the way.
fn refusal(job: &Value) -> String {
    let s = |k: &str| job.get(k).map(crate::py::python_str).unwrap_or_default();
    let jid = s("jid");
    format!(
        "The function \"{}\" is running as PID {} and was started at {} with jid {jid}",
        s("fun"),
        s("pid"),
        crate::jobs::jid_to_time(&jid)
    )
}

fn start(c: &mut Call<'_>, fun: &str, a: &[Value], kw: &Map<String, Value>) -> Step {
    let cfg = c.minion.config();
    let opts = cfg.values();
    let masterless = c.minion.masterless();
    let timeout = match opts.get("state_run_timeout").and_then(Value::as_u64) {
        Some(s) if s > 0 => Duration::from_secs(s),
        _ => DEFAULT_TIMEOUT,
    };
    let req = StateRequest {
        fun: fun.to_owned(),
        args: a.to_vec(),
        kwargs: kw
            .iter()
            .filter(|(k, _)| !k.starts_with("__pub_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        id: cfg.id.clone(),
        jid: c.jid.map(str::to_string),
        grains: c.minion.grains(),
        pillar: (!masterless).then(|| c.minion.pillar()),
        opts,
        masterless,
        socket: Some(crate::client::minion_socket(&cfg.sock_dir)),
        cachedir: cfg.cachedir.clone(),
    };
    let request = serde_json::to_value(&req).unwrap_or(Value::Null);
    Step::Child(child::spec(CHILD, &request, timeout), child::finish)
}

/// The lock a state run holds, with who holds it written inside.
struct StateLock {
    file: std::fs::File,
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        // SAFETY: flock on a descriptor this struct owns.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Takes the state lock: `Ok(None)` with `concurrent`, `Err(holder)` when another run has
/// it and `queue` is off.
fn lock(req: &StateRequest) -> Result<Option<StateLock>, String> {
    let on = |k: &str| req.kwargs.get(k).is_some_and(crate::py::truthy);
    if on("concurrent") {
        return Ok(None);
    }
    let path = req.cachedir.join("state.lock");
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let queue = on("queue");
    let how = if queue {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    // SAFETY: flock on a descriptor owned by `file` for the whole call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), how) };
    if rc != 0 {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let holder: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        return Err(if holder.is_null() {
            "A state run is in progress on this minion".to_string()
        } else {
            refusal(&holder)
        });
    }
    let me = json!({"fun": req.fun, "pid": std::process::id(), "jid": req.jid.clone().unwrap_or_default()});
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(me.to_string().as_bytes());
    let _ = file.flush();
    Ok(Some(StateLock { file }))
}

/// Sends events as `fire_master` on the minion bus, which the minion forwards.
struct Events {
    socket: Option<PathBuf>,
    max_event_size: usize,
    client: Option<BusClient>,
}

impl Events {
    fn fire(&mut self, tag: &str, data: Value) {
        if self.client.is_none() {
            self.client = self
                .socket
                .as_deref()
                .and_then(|s| BusClient::connect(s).ok());
        }
        let Some(c) = self.client.as_mut() else {
            log::warn!("no minion bus to send {tag} on");
            return;
        };
        let mut m = Map::new();
        m.insert("tag".into(), tag.into());
        m.insert("data".into(), data);
        if let Err(e) = c.fire("fire_master", m, self.max_event_size) {
            log::warn!("sending {tag}: {e}");
            self.client = None;
        }
    }
}

fn pillar_of(req: &StateRequest) -> Map<String, Value> {
    let pillarenv = req.kwargs.get("pillarenv").map(crate::py::python_str);
    if req.masterless {
        return crate::pillar::for_minion(&req.opts, &req.id, &req.grains, pillarenv.as_deref());
    }
    if let (Some(env), Some(sock)) = (&pillarenv, &req.socket) {
        let mut remote = crate::fileserver::bus_remote::BusRemote::new(sock);
        match remote.pillar(Some(env), &req.grains) {
            Ok(p) => return p,
            Err(errs) => {
                let mut m = Map::new();
                m.insert("_errors".into(), json!(errs));
                return m;
            }
        }
    }
    req.pillar.clone().unwrap_or_default()
}

/// The work of a state child.
pub fn child_main(request: &Value) -> child::Reply {
    let req: StateRequest = match serde_json::from_value(request.clone()) {
        Ok(r) => r,
        Err(e) => return failed(format!("a state request that cannot be read: {e}"), 1),
    };
    let _lock = match lock(&req) {
        Ok(l) => l,
        Err(holder) => {
            return child::Reply {
                value: json!([holder]),
                retcode: apply::retcode::COMPILER_ERROR,
                errors: Vec::new(),
            }
        }
    };
    let mut files = match crate::fileserver::open_source(
        &req.opts,
        req.masterless,
        req.socket.as_deref().filter(|_| !req.masterless),
        &req.cachedir,
    ) {
        Ok(f) => f,
        Err(e) => return failed(e.to_string(), 1),
    };
    let pillar = pillar_of(&req);
    let mut events = Events {
        socket: req.socket.clone(),
        max_event_size: req
            .opts
            .get("max_event_size")
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .unwrap_or(1 << 20),
        client: None,
    };
    let mut fire = |tag: &str, data: Value| events.fire(tag, data);
    let mut env = Env {
        id: &req.id,
        jid: req.jid.as_deref(),
        grains: &req.grains,
        pillar: &pillar,
        opts: &req.opts,
        local: req.masterless,
        files: files.as_mut(),
        fire: &mut fire,
    };
    let out = apply::call(&req.fun, &req.args, &req.kwargs, &mut env);
    child::Reply {
        value: out.ret,
        retcode: out.retcode,
        errors: Vec::new(),
    }
}

fn failed(why: String, retcode: i32) -> child::Reply {
    child::Reply {
        value: json!([why.clone()]),
        retcode,
        errors: vec![why],
    }
}
