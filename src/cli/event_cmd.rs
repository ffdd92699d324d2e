//! `brine-event` (and `brine-run state.event`): watch a bus and print matching events.

use super::{conf_dir, fail, tools, EXIT_USAGE};
use crate::client::{self, BusClient, ClientError, OwnedEvent};
use crate::config::MasterConfig;
use crate::matcher::MatchType;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How each event is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `tag<TAB>compact json` (state.event).
    Line,
    /// `tag<TAB>` then sorted, 4-space indented JSON.
    Pretty,
    /// `{"tag": ..., "data": ...}` per line.
    Json,
    /// Nothing.
    Quiet,
}

/// One event as the format prints it (without the final newline).
pub fn format_event(format: Format, tag: &str, data: &Map<String, Value>) -> Option<String> {
    let data = Value::Object(data.clone());
    match format {
        Format::Line => Some(format!("{tag}\t{}", crate::py::python_json(&data, false))),
        Format::Pretty => Some(format!("{tag}\t{}", crate::py::python_json(&data, true))),
        Format::Json => {
            let mut m = Map::new();
            m.insert("tag".into(), Value::String(tag.to_string()));
            m.insert("data".into(), data);
            serde_json::to_string(&Value::Object(m)).ok()
        }
        Format::Quiet => None,
    }
}

/// What a watch should do.
pub struct Watch<'a> {
    /// The bus socket.
    pub socket: &'a Path,
    /// state.event's glob-or-regex tag filter.
    pub tagmatch: &'a str,
    /// Stop after this many matches; negative: never (Salt: 0 stops after the first).
    pub count: i64,
    /// Output format.
    pub format: Format,
}

/// Why a watch ended early.
#[derive(Debug)]
pub enum WatchError {
    /// No daemon at the start.
    NoDaemon(PathBuf),
    /// The filter was refused by the daemon or the connection failed otherwise.
    Client(ClientError),
}

/// Prints matching events until `count` is reached, reconnecting when the daemon restarts.
pub fn watch(w: &Watch<'_>) -> Result<(), WatchError> {
    let mut remaining = w.count;
    let mut bus = connect(w).map_err(|e| match e {
        ClientError::NoDaemon(p) => WatchError::NoDaemon(p),
        other => WatchError::Client(other),
    })?;
    let stdout = std::io::stdout();
    loop {
        let ev: OwnedEvent = match bus.next_event(None) {
            Ok(ev) => ev,
            Err(ClientError::Refused(why)) => {
                return Err(WatchError::Client(ClientError::Refused(why)))
            }
            Err(e) => {
                log::warn!("lost the event bus ({e}); reconnecting");
                bus = reconnect(w);
                continue;
            }
        };
        let notice = ev.tag == crate::bus::LOST_TAG;
        if notice {
            log::warn!(
                "this listener fell behind: the daemon dropped {} events",
                ev.data.get("count").cloned().unwrap_or(Value::Null)
            );
        }
        if let Some(line) = format_event(w.format, &ev.tag, &ev.data) {
            let mut out = stdout.lock();
            // A closed stdout (`| head`) ends the watch quietly.
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                return Ok(());
            }
        }
        if notice {
            continue;
        }
        if remaining > 0 {
            remaining -= 1;
        }
        if remaining == 0 {
            return Ok(());
        }
    }
}

fn connect(w: &Watch<'_>) -> Result<BusClient, ClientError> {
    let mut bus = BusClient::connect(w.socket)?;
    bus.subscribe(MatchType::Expr, w.tagmatch)?;
    Ok(bus)
}

fn reconnect(w: &Watch<'_>) -> BusClient {
    let mut delay = Duration::from_millis(100);
    loop {
        std::thread::sleep(delay);
        match connect(w) {
            Ok(bus) => {
                log::warn!("reconnected to {}", w.socket.display());
                return bus;
            }
            Err(_) => delay = (delay * 2).min(Duration::from_secs(2)),
        }
    }
}

/// The bus socket for `--node` given the configuration directory.
pub fn node_socket(dir: &Path, node: &str) -> Result<PathBuf, String> {
    match node {
        "master" => {
            let (cfg, _) = MasterConfig::load(dir).map_err(|e| e.to_string())?;
            Ok(client::master_socket(&cfg.sock_dir))
        }
        "minion" => {
            let (cfg, _) = crate::config::MinionConfig::load(dir).map_err(|e| e.to_string())?;
            Ok(client::minion_socket(&cfg.sock_dir))
        }
        other => Err(format!("unknown node '{other}' (master or minion)")),
    }
}

/// Runs brine-event with these arguments; returns the exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::EVENT;
    let parsed = match super::start(tool, args) {
        Ok(p) => p,
        Err(status) => return status,
    };
    if let Some(extra) = parsed.positionals.first() {
        return fail(
            tool.name,
            format!("unexpected argument '{extra}'"),
            EXIT_USAGE,
        );
    }
    if let Err(status) = super::client_log(tool, &parsed) {
        return status;
    }
    let count = match parsed.value("count").map(str::parse::<i64>) {
        None => -1,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return fail(tool.name, "--count takes an integer", EXIT_USAGE);
        }
    };
    let format = match (
        parsed.has("quiet"),
        parsed.has("json"),
        parsed.has("pretty"),
    ) {
        (true, _, _) => Format::Quiet,
        (_, true, true) => {
            return fail(
                tool.name,
                "--pretty and --json exclude each other",
                EXIT_USAGE,
            )
        }
        (_, true, _) => Format::Json,
        (_, _, true) => Format::Pretty,
        _ => Format::Line,
    };
    let socket = match parsed.value("sock-dir") {
        Some(dir) => {
            let node = parsed.value("node").unwrap_or("master");
            let dir = Path::new(dir);
            if node == "minion" {
                client::minion_socket(dir)
            } else {
                client::master_socket(dir)
            }
        }
        None => match node_socket(&conf_dir(&parsed), parsed.value("node").unwrap_or("master")) {
            Ok(p) => p,
            Err(e) => return fail(tool.name, e, EXIT_USAGE),
        },
    };
    let tagmatch = parsed.value("tag").unwrap_or("*");
    match watch(&Watch {
        socket: &socket,
        tagmatch,
        count,
        format,
    }) {
        Ok(()) => 0,
        Err(WatchError::NoDaemon(p)) => fail(
            tool.name,
            format!(
                "no event bus at {} (is {} running?)",
                p.display(),
                if parsed.value("node") == Some("minion") {
                    "brine-minion"
                } else {
                    "brine-master"
                }
            ),
            EXIT_USAGE,
        ),
        Err(WatchError::Client(e)) => fail(tool.name, e, EXIT_USAGE),
    }
}
