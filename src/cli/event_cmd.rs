//! `brine-event` (and `brine-run state.event`): watch a bus and print matching events.

use super::args;
use super::flags::{CliError, Parsed};
use super::tools::{self, EventFlag};
use super::{fail, EXIT_USAGE};
use crate::bus::Since;
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

/// One event as the format prints it (without the final newline); `seq` is its sequence
/// number on the bus, shown by the JSON format beside (never inside) the data.
pub fn format_event(
    format: Format,
    tag: &str,
    data: &Map<String, Value>,
    seq: Option<u64>,
) -> Option<String> {
    let data = Value::Object(data.clone());
    match format {
        Format::Line => Some(format!("{tag}\t{}", crate::py::python_json(&data, false))),
        Format::Pretty => Some(format!("{tag}\t{}", crate::py::python_json(&data, true))),
        Format::Json => {
            let mut m = Map::new();
            m.insert("tag".into(), Value::String(tag.to_string()));
            m.insert("data".into(), data);
            if let Some(seq) = seq {
                m.insert("seq".into(), Value::from(seq));
            }
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
    /// Start here instead of from now.
    pub since: Option<Since>,
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
    // After a reconnect, go on after the last event printed.
    let mut last_seq: Option<u64> = None;
    let mut bus = connect(w, w.since).map_err(|e| match e {
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
                bus = reconnect(w, last_seq.map(|s| Since::Seq(s + 1)).or(w.since));
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
        if ev.seq.is_some() {
            last_seq = ev.seq;
        }
        if let Some(line) = format_event(w.format, &ev.tag, &ev.data, ev.seq) {
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

fn connect(w: &Watch<'_>, since: Option<Since>) -> Result<BusClient, ClientError> {
    let mut bus = BusClient::connect(w.socket)?;
    bus.subscribe_since(MatchType::Expr, w.tagmatch, since)?;
    Ok(bus)
}

fn reconnect(w: &Watch<'_>, since: Option<Since>) -> BusClient {
    let mut delay = Duration::from_millis(100);
    loop {
        std::thread::sleep(delay);
        match connect(w, since) {
            Ok(bus) => {
                log::warn!("reconnected to {}", w.socket.display());
                return bus;
            }
            Err(_) => delay = (delay * 2).min(Duration::from_secs(2)),
        }
    }
}

/// Which daemon's bus to watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Master,
    Minion,
}

impl Node {
    fn from_name(name: &str) -> Option<Node> {
        match name {
            "master" => Some(Node::Master),
            "minion" => Some(Node::Minion),
            _ => None,
        }
    }

    /// The bus socket in a socket directory.
    fn socket_in(self, sock_dir: &Path) -> PathBuf {
        match self {
            Node::Master => client::master_socket(sock_dir),
            Node::Minion => client::minion_socket(sock_dir),
        }
    }

    /// The bus socket the daemon's configuration in `dir` names.
    fn configured_socket(self, dir: &Path) -> Result<PathBuf, String> {
        let sock_dir = match self {
            Node::Master => {
                MasterConfig::load(dir)
                    .map_err(|e| e.to_string())?
                    .0
                    .sock_dir
            }
            Node::Minion => {
                let (cfg, _) = crate::config::MinionConfig::load(dir).map_err(|e| e.to_string())?;
                cfg.sock_dir
            }
        };
        Ok(self.socket_in(&sock_dir))
    }

    fn daemon(self) -> &'static str {
        match self {
            Node::Master => "brine-master",
            Node::Minion => "brine-minion",
        }
    }
}

/// The bus socket for `--node` given the configuration directory.
pub fn node_socket(dir: &Path, node: &str) -> Result<PathBuf, String> {
    match Node::from_name(node) {
        Some(n) => n.configured_socket(dir),
        None => Err(format!("unknown node '{node}' (master or minion)")),
    }
}

/// Where the socket is found: in `--sock-dir`, or in the configuration's sock_dir.
enum SocketAt {
    SockDir(PathBuf),
    ConfigDir(PathBuf),
}

/// What brine-event's command line asks for, checked.
struct EventArgs {
    log_level: log::LevelFilter,
    /// Stop after this many matches; negative: never.
    count: i64,
    format: Format,
    node: Node,
    socket_at: SocketAt,
    tag: String,
    since: Option<Since>,
}

/// Reads `--since`: a sequence number, or an ISO 8601 time.
fn parse_since(v: &str) -> Result<Since, CliError> {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse::<u64>()
            .map(Since::Seq)
            .map_err(|_| CliError(format!("--since: sequence number {v} is too large")));
    }
    crate::clock::parse_iso8601(v)
        .map(Since::Time)
        .map_err(|e| CliError(format!("--since takes a sequence number or a time: {e}")))
}

impl EventArgs {
    fn from_parsed(p: Parsed<EventFlag>) -> Result<EventArgs, CliError> {
        if let Some(extra) = p.positionals.first() {
            return Err(CliError(format!("unexpected argument '{extra}'")));
        }
        let log_level = args::log_level(p.value(EventFlag::LogLevel))?;
        let count = match p.value(EventFlag::Count).map(str::parse::<i64>) {
            None => -1,
            Some(Ok(n)) => n,
            Some(Err(_)) => return Err(CliError("--count takes an integer".into())),
        };
        let format = match (
            p.has(EventFlag::Quiet),
            p.has(EventFlag::Json),
            p.has(EventFlag::Pretty),
        ) {
            (true, _, _) => Format::Quiet,
            (_, true, true) => {
                return Err(CliError("--pretty and --json exclude each other".into()))
            }
            (_, true, _) => Format::Json,
            (_, _, true) => Format::Pretty,
            _ => Format::Line,
        };
        let node_name = p.value(EventFlag::Node).unwrap_or("master");
        // With --sock-dir the node only picks the socket's name: anything but minion is
        // the master's.
        let (node, socket_at) = match p.value(EventFlag::SockDir) {
            Some(dir) => (
                Node::from_name(node_name).unwrap_or(Node::Master),
                SocketAt::SockDir(PathBuf::from(dir)),
            ),
            None => (
                Node::from_name(node_name).ok_or_else(|| {
                    CliError(format!("unknown node '{node_name}' (master or minion)"))
                })?,
                SocketAt::ConfigDir(args::conf_dir(p.value(EventFlag::ConfigDir))),
            ),
        };
        let tag = p.value(EventFlag::Tag).unwrap_or("*").to_string();
        let since = p.value(EventFlag::Since).map(parse_since).transpose()?;
        Ok(EventArgs {
            log_level,
            count,
            format,
            node,
            socket_at,
            tag,
            since,
        })
    }
}

/// Runs brine-event with these arguments; returns the exit status.
pub fn main(argv: Vec<std::ffi::OsString>) -> i32 {
    let tool = &tools::EVENT;
    let a = match args::build(tool, argv, EventArgs::from_parsed) {
        Ok(a) => a,
        Err(status) => return status,
    };
    args::init_log(tool, a.log_level);
    let socket = match &a.socket_at {
        SocketAt::SockDir(dir) => a.node.socket_in(dir),
        SocketAt::ConfigDir(dir) => match a.node.configured_socket(dir) {
            Ok(p) => p,
            Err(e) => return fail(tool.name, e, EXIT_USAGE),
        },
    };
    match watch(&Watch {
        socket: &socket,
        tagmatch: &a.tag,
        count: a.count,
        format: a.format,
        since: a.since,
    }) {
        Ok(()) => 0,
        Err(WatchError::NoDaemon(p)) => fail(
            tool.name,
            format!(
                "no event bus at {} (is {} running?)",
                p.display(),
                a.node.daemon()
            ),
            EXIT_USAGE,
        ),
        Err(WatchError::Client(e)) => fail(tool.name, e, EXIT_USAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::flags;

    fn args(words: &[&str]) -> Result<EventArgs, CliError> {
        EventArgs::from_parsed(
            flags::parse(&tools::EVENT, words.iter().map(|s| s.to_string())).unwrap(),
        )
    }

    #[test]
    fn the_command_line_becomes_typed_arguments() {
        let a = args(&[]).unwrap();
        assert_eq!(
            (a.count, a.format, a.node),
            (-1, Format::Line, Node::Master)
        );
        assert_eq!(a.tag, "*");
        assert!(matches!(a.socket_at, SocketAt::ConfigDir(d) if d == Path::new("/etc/brine")));
        let a = args(&["--count", "2", "--json", "-q", "--node", "minion"]).unwrap();
        assert_eq!(
            (a.count, a.format, a.node),
            (2, Format::Quiet, Node::Minion)
        );
        assert_eq!(args(&["--pretty"]).unwrap().format, Format::Pretty);
        assert_eq!(
            args(&["--since", "42"]).unwrap().since,
            Some(Since::Seq(42))
        );
        assert_eq!(
            args(&["--since", "1970-01-02T00:00:00Z"]).unwrap().since,
            Some(Since::Time(86_400.0))
        );
        assert!(args(&["--since", "soon"]).err().is_some_and(|e| e
            .0
            .starts_with("--since takes a sequence number or a time: 'soon'")));
        // With --sock-dir the node only names the socket: anything but minion is the master.
        let a = args(&["--sock-dir", "/run/x", "--node", "other"]).unwrap();
        assert_eq!(a.node, Node::Master);
        assert!(matches!(a.socket_at, SocketAt::SockDir(d) if d == Path::new("/run/x")));
        for (words, err) in [
            (&["x"][..], "unexpected argument 'x'"),
            (&["--count", "many"], "--count takes an integer"),
            (
                &["--json", "--pretty"],
                "--pretty and --json exclude each other",
            ),
            (
                &["--node", "other"],
                "unknown node 'other' (master or minion)",
            ),
        ] {
            assert_eq!(args(words).err(), Some(CliError(err.into())), "{words:?}");
        }
    }
}
