//! The master's logic as a state machine without I/O.
//!
//! The event loop feeds it inputs (a client connected, a frame arrived, a timer fired,
//! the config was reloaded) with the current time, and carries out what it leaves
//! behind: bytes queued on the bus for clients, clients to disconnect, the next
//! deadline. Nothing here reads the clock or touches a socket, so tests drive it
//! deterministically.

use crate::bus::{Bus, ClientId, Overflow};
use crate::config::MasterConfig;
use crate::jobs::JidGen;
use crate::matcher::{MatchType, TagFilter};
use crate::runners::{self, Exec, Outcome};
use crate::wire::{self, kind, Event};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::time::{Instant, SystemTime};

/// The two clocks a core needs: wall time for stamps and jids, monotonic for deadlines.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    /// Wall-clock time.
    pub wall: SystemTime,
    /// Monotonic time.
    pub mono: Instant,
}

impl Now {
    /// Reads both clocks (only the I/O layer calls this).
    pub fn read() -> Now {
        Now {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }
}

/// Something that happened, handed to the core.
#[derive(Debug)]
pub enum Input<'a> {
    /// A local client connected.
    Opened {
        /// Its id.
        id: ClientId,
        /// Its pid, for log lines.
        pid: i32,
    },
    /// A complete frame arrived from a client.
    Frame {
        /// The client.
        id: ClientId,
        /// The frame kind.
        kind: u8,
        /// The payload, borrowed from the read buffer.
        payload: &'a [u8],
    },
    /// A client announced a frame over the limit (its bytes are being skipped).
    Oversize {
        /// The client.
        id: ClientId,
        /// The announced size.
        size: usize,
    },
    /// A client sent a frame of length zero.
    EmptyFrame {
        /// The client.
        id: ClientId,
    },
    /// A client went away.
    Closed {
        /// The client.
        id: ClientId,
    },
    /// The configuration was re-read (SIGHUP).
    Reload(Box<MasterConfig>),
}

/// A client's `S` frame.
#[derive(Debug, Serialize, Deserialize)]
pub struct Subscribe {
    /// One of the match type names; the daemon's `event_match_type` when absent.
    #[serde(default)]
    pub match_type: Option<String>,
    /// The pattern.
    #[serde(default)]
    pub tag: String,
}

/// A client's `R` frame: call a function.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// `module.function`.
    pub fun: String,
    /// Positional arguments.
    #[serde(default)]
    pub arg: Vec<Value>,
    /// Keyword arguments.
    #[serde(default)]
    pub kwarg: Map<String, Value>,
    /// The calling user, for the events.
    #[serde(default)]
    pub user: Option<String>,
}

/// The daemon's `A` frame: what a call returned.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    /// The runner's jid, when one ran.
    pub jid: Option<String>,
    /// The return value.
    #[serde(rename = "return")]
    pub ret: Value,
    /// Whether it succeeded.
    pub success: bool,
    /// The exit status the CLI should use.
    pub retcode: i32,
}

/// The master core.
pub struct Master {
    cfg: MasterConfig,
    bus: Bus,
    jids: JidGen,
    default_match: MatchType,
    refused: u64,
}

impl Master {
    /// A master with this configuration.
    pub fn new(cfg: MasterConfig) -> Master {
        let bus = Bus::new(
            cfg.event_listener_buffer,
            Overflow::from_name(&cfg.event_listener_overflow).unwrap_or(Overflow::Drop),
            cfg.max_event_size,
        );
        let default_match =
            MatchType::from_name(&cfg.event_match_type).unwrap_or(MatchType::StartsWith);
        Master {
            cfg,
            bus,
            jids: JidGen::new(),
            default_match,
            refused: 0,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &MasterConfig {
        &self.cfg
    }

    /// The bus, for the loop to flush.
    pub fn bus(&mut self) -> &mut Bus {
        &mut self.bus
    }

    /// Frames refused so far (malformed, oversize, unknown).
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// The earliest deadline the core wants to be woken for.
    pub fn next_timeout(&self) -> Option<Instant> {
        None
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Now, input: Input<'_>) {
        match input {
            Input::Opened { id, pid } => self.bus.open(id, pid),
            Input::Closed { id } => self.bus.close(id),
            Input::Frame { id, kind, payload } => self.frame(now, id, kind, payload),
            Input::Oversize { id, size } => self.refuse(
                id,
                &format!(
                    "frame of {size} bytes is over max_event_size {}",
                    self.cfg.max_event_size
                ),
            ),
            Input::EmptyFrame { id } => self.refuse(id, "empty frame"),
            Input::Reload(cfg) => self.reload(*cfg),
        }
    }

    fn reload(&mut self, cfg: MasterConfig) {
        if cfg.sock_dir != self.cfg.sock_dir {
            log::warn!("sock_dir changed: the new path takes effect at the next restart");
        }
        self.bus.set_limits(
            cfg.event_listener_buffer,
            Overflow::from_name(&cfg.event_listener_overflow).unwrap_or(Overflow::Drop),
            cfg.max_event_size,
        );
        self.default_match =
            MatchType::from_name(&cfg.event_match_type).unwrap_or(MatchType::StartsWith);
        let sock_dir = self.cfg.sock_dir.clone();
        self.cfg = cfg;
        self.cfg.sock_dir = sock_dir;
        log::info!("configuration reloaded");
    }

    fn refuse(&mut self, id: ClientId, why: &str) {
        self.refused += 1;
        log::warn!("local client {id}: {why}");
        self.bus.reply(id, kind::ERROR, why.as_bytes());
    }

    fn frame(&mut self, now: Now, id: ClientId, k: u8, payload: &[u8]) {
        match k {
            kind::FIRE => match Event::decode(payload, self.cfg.max_event_size) {
                Ok(ev) => self.bus.publish(ev.tag(), ev.raw(), now.wall),
                Err(e) => self.refuse(id, &format!("dropped event: {e}")),
            },
            kind::SUBSCRIBE => match rmp_serde::from_slice::<Subscribe>(payload) {
                Ok(sub) => {
                    let mt = match sub.match_type.as_deref() {
                        None => Some(self.default_match),
                        Some(name) => MatchType::from_name(name),
                    };
                    match mt.map(|mt| TagFilter::new(mt, &sub.tag)) {
                        Some(Ok(f)) => {
                            log::debug!(
                                "local client {id} subscribed: {} {:?}",
                                f.match_type().name(),
                                f.pattern()
                            );
                            self.bus.subscribe(id, f)
                        }
                        Some(Err(e)) => self.refuse(id, &format!("bad subscription: {e}")),
                        None => self.refuse(
                            id,
                            &format!(
                                "bad subscription: unknown match type '{}'",
                                sub.match_type.unwrap_or_default()
                            ),
                        ),
                    }
                }
                Err(e) => self.refuse(id, &format!("bad subscription: {e}")),
            },
            kind::REQUEST => match rmp_serde::from_slice::<Request>(payload) {
                Ok(req) => {
                    let answer = self.call(now, req);
                    match rmp_serde::to_vec_named(&answer) {
                        Ok(bytes) => self.bus.reply(id, kind::ANSWER, &bytes),
                        Err(e) => self.refuse(id, &format!("cannot encode the answer: {e}")),
                    }
                }
                Err(e) => self.refuse(id, &format!("bad request: {e}")),
            },
            other => self.refuse(
                id,
                &format!(
                    "unknown frame kind {:?}",
                    char::from(other).escape_default()
                ),
            ),
        }
    }

    /// Runs a runner call: `salt/run/<jid>/new`, the function, `salt/run/<jid>/ret`.
    fn call(&mut self, now: Now, req: Request) -> Answer {
        let Some(runner) = runners::find(&req.fun) else {
            return Answer {
                jid: None,
                ret: Value::String(runners::not_available(&req.fun)),
                success: false,
                retcode: 1,
            };
        };
        let Exec::Master(fun) = runner.exec else {
            return Answer {
                jid: None,
                ret: Value::String(format!(
                    "'{}' runs in the calling process, not in the master.",
                    req.fun
                )),
                success: false,
                retcode: 1,
            };
        };
        let args = match runners::bind(runner, &req.arg, &req.kwarg) {
            Ok(a) => a,
            Err(e) => {
                return Answer {
                    jid: None,
                    ret: Value::String(format!("Passed invalid arguments: {e}.")),
                    success: false,
                    retcode: 1,
                }
            }
        };
        let jid = self.jids.next(now.wall);
        let user = req.user.unwrap_or_else(|| "UNKNOWN".into());
        let base = format!("salt/run/{jid}");
        let mut load = Map::new();
        load.insert("fun".into(), json!(format!("runner.{}", req.fun)));
        load.insert("jid".into(), json!(jid));
        load.insert("user".into(), json!(user));
        load.insert("fun_args".into(), runners::fun_args(&req.arg, &req.kwarg));
        self.fire(&format!("{base}/new"), load.clone(), now);
        let outcome: Outcome = {
            let mut ctx = RunCtx { master: self, now };
            fun(&mut ctx, &args)
        };
        load.insert("return".into(), outcome.ret.clone());
        load.insert("success".into(), json!(outcome.success));
        self.fire(&format!("{base}/ret"), load, now);
        Answer {
            jid: Some(jid),
            ret: outcome.ret,
            success: outcome.success,
            retcode: if outcome.success { 0 } else { 1 },
        }
    }

    /// Fires an event of the master's own; a failure (only an unencodable tag) is logged.
    pub fn fire(&mut self, tag: &str, data: Map<String, Value>, now: Now) {
        if let Err(e) = self.bus.fire(tag, data, now.wall) {
            log::error!("cannot fire {tag:?}: {e}");
        }
    }
}

struct RunCtx<'a> {
    master: &'a mut Master,
    now: Now,
}

impl runners::Context for RunCtx<'_> {
    fn now(&self) -> SystemTime {
        self.now.wall
    }

    fn fire(&mut self, tag: &str, data: Map<String, Value>) -> Result<(), String> {
        if tag.is_empty() {
            return Err("Empty tag.".into());
        }
        self.master
            .bus
            .fire(tag, data, self.now.wall)
            .map_err(|e| e.to_string())
    }
}

/// Encodes a subscription frame payload.
pub fn subscribe_payload(match_type: MatchType, tag: &str) -> Vec<u8> {
    rmp_serde::to_vec_named(&Subscribe {
        match_type: Some(match_type.name().to_string()),
        tag: tag.to_string(),
    })
    .unwrap_or_default()
}

/// Checks a fired payload the way the master will, for clients that want to fail early.
pub fn check_event(payload: &[u8], max: usize) -> Result<(), wire::WireError> {
    Event::decode(payload, max).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{FrameReader, Next};
    use std::path::Path;

    fn master() -> Master {
        Master::new(MasterConfig::defaults(Path::new("/nonexistent")))
    }

    fn frames(m: &mut Master, id: ClientId) -> Vec<(u8, Vec<u8>)> {
        let mut r = FrameReader::new(1 << 22);
        r.extend(m.bus().pending(id));
        let n = m.bus().pending(id).len();
        m.bus().consumed(id, n, SystemTime::now());
        let mut out = Vec::new();
        while let Some(Next::Frame(k, p)) = r.next_frame() {
            out.push((k, p.to_vec()));
        }
        out
    }

    fn tags(fr: &[(u8, Vec<u8>)]) -> Vec<String> {
        fr.iter()
            .filter(|(k, _)| *k == kind::EVENT)
            .map(|(_, p)| Event::decode(p, 1 << 22).unwrap().tag().to_string())
            .collect()
    }

    #[test]
    fn event_send_fires_new_event_ret_in_order() {
        let mut m = master();
        let now = Now::read();
        m.handle(now, Input::Opened { id: 1, pid: 1 });
        m.handle(now, Input::Opened { id: 2, pid: 2 });
        let sub = subscribe_payload(MatchType::StartsWith, "");
        m.handle(
            now,
            Input::Frame {
                id: 1,
                kind: kind::SUBSCRIBE,
                payload: &sub,
            },
        );
        let req = rmp_serde::to_vec_named(&Request {
            fun: "event.send".into(),
            arg: vec![json!("myco/x"), json!({"a": 1})],
            kwarg: Map::new(),
            user: Some("root".into()),
        })
        .unwrap();
        m.handle(
            now,
            Input::Frame {
                id: 2,
                kind: kind::REQUEST,
                payload: &req,
            },
        );
        let got = frames(&mut m, 1);
        let t = tags(&got);
        assert_eq!(t.len(), 3);
        assert!(t[0].starts_with("salt/run/") && t[0].ends_with("/new"));
        assert_eq!(t[1], "myco/x");
        assert!(t[2].ends_with("/ret"));
        let data = Event::decode(&got[1].1, 1 << 20).unwrap().value().unwrap();
        assert_eq!(data["a"], 1, "master-side events are not wrapped");
        let ret = Event::decode(&got[2].1, 1 << 20).unwrap().value().unwrap();
        assert_eq!(ret["fun"], "runner.event.send");
        assert_eq!(ret["fun_args"], json!(["myco/x", {"a": 1}]));
        assert_eq!(ret["return"], true);
        assert_eq!(ret["user"], "root");
        let answer = frames(&mut m, 2);
        assert_eq!(answer[0].0, kind::ANSWER);
        let a: Answer = rmp_serde::from_slice(&answer[0].1).unwrap();
        assert!(a.success);
        assert_eq!(a.ret, json!(true));
    }

    #[test]
    fn unknown_function_and_garbage_are_refused_not_fatal() {
        let mut m = master();
        let now = Now::read();
        m.handle(now, Input::Opened { id: 1, pid: 1 });
        let req = rmp_serde::to_vec_named(&Request {
            fun: "foo.bar".into(),
            arg: vec![],
            kwarg: Map::new(),
            user: None,
        })
        .unwrap();
        m.handle(
            now,
            Input::Frame {
                id: 1,
                kind: kind::REQUEST,
                payload: &req,
            },
        );
        m.handle(
            now,
            Input::Frame {
                id: 1,
                kind: kind::REQUEST,
                payload: b"\xc1garbage",
            },
        );
        m.handle(
            now,
            Input::Frame {
                id: 1,
                kind: kind::FIRE,
                payload: b"tag only",
            },
        );
        m.handle(
            now,
            Input::Frame {
                id: 1,
                kind: b'?',
                payload: b"",
            },
        );
        m.handle(
            now,
            Input::Oversize {
                id: 1,
                size: 5 << 20,
            },
        );
        let got = frames(&mut m, 1);
        let a: Answer = rmp_serde::from_slice(&got[0].1).unwrap();
        assert_eq!(a.ret, json!("'foo.bar' is not available."));
        assert_eq!(a.retcode, 1);
        let errors: Vec<String> = got[1..]
            .iter()
            .map(|(k, p)| {
                assert_eq!(*k, kind::ERROR);
                String::from_utf8_lossy(p).into_owned()
            })
            .collect();
        assert_eq!(errors.len(), 4);
        assert!(errors[0].starts_with("bad request"));
        assert!(errors[1].contains("no \"\\n\\n\""));
        assert!(errors[2].contains("unknown frame kind"));
        assert!(errors[3].contains("over max_event_size"));
        assert_eq!(m.refused(), 4);
    }
}
