//! The frames local clients and a daemon's bus exchange, as data.

use super::ClientId;
use crate::matcher::MatchType;
use crate::wire::Event;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A client's `S` frame: subscribe to tags.
#[derive(Debug, Serialize, Deserialize)]
pub struct Subscribe {
    /// One of the match type names; the daemon's `event_match_type` when absent.
    #[serde(default)]
    pub match_type: Option<String>,
    /// The pattern.
    #[serde(default)]
    pub tag: String,
    /// Start from this sequence number instead of from now (events still in the ring or
    /// the event log), then follow live.
    #[serde(default)]
    pub since_seq: Option<u64>,
    /// Start from the first event published at or after this time (Unix seconds).
    #[serde(default)]
    pub since_time: Option<f64>,
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
    /// Also send the result to the master as a job return (`brine-call --return`).
    #[serde(default, rename = "return")]
    pub send_return: bool,
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

/// Encodes a subscription frame payload.
pub fn subscribe_payload(match_type: MatchType, tag: &str) -> Vec<u8> {
    subscribe_payload_since(match_type, tag, None)
}

/// Encodes a subscription frame payload that starts at `since` (None: from now).
pub fn subscribe_payload_since(match_type: MatchType, tag: &str, since: Option<Since>) -> Vec<u8> {
    rmp_serde::to_vec_named(&Subscribe {
        match_type: Some(match_type.name().to_string()),
        tag: tag.to_string(),
        since_seq: match since {
            Some(Since::Seq(s)) => Some(s),
            _ => None,
        },
        since_time: match since {
            Some(Since::Time(t)) => Some(t),
            _ => None,
        },
    })
    .unwrap_or_default()
}

/// Where a subscription starts when not from now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Since {
    /// At this sequence number.
    Seq(u64),
    /// At the first event published at or after this time (Unix seconds).
    Time(f64),
}

impl Subscribe {
    /// Where it asks to start, if not from now.
    pub fn since(&self) -> Option<Since> {
        match (self.since_seq, self.since_time) {
            (Some(s), _) => Some(Since::Seq(s)),
            (None, Some(t)) if t.is_finite() => Some(Since::Time(t)),
            _ => None,
        }
    }
}

/// What a local client's frame leaves for the daemon once the bus has done its part.
#[derive(Debug)]
pub enum Local<'a> {
    /// Nothing more (a subscription, or a refused frame).
    Nothing,
    /// An event was fired and published; the daemon may act on it too.
    Fired(Event<'a>),
    /// A function call for the daemon to answer with `Bus::answer`.
    Request(Request),
}

/// Something a local client of a bus did: what the I/O layer hands the core (master or
/// minion) for each client socket.
#[derive(Debug)]
pub enum ClientInput<'a> {
    /// Connected (credentials checked).
    Opened {
        /// Its id (its token).
        id: ClientId,
        /// Its pid.
        pid: i32,
    },
    /// Sent a complete frame.
    Frame {
        /// The client.
        id: ClientId,
        /// Frame kind.
        kind: u8,
        /// Payload.
        payload: &'a [u8],
    },
    /// Announced a frame over the limit (skipped).
    Oversize {
        /// The client.
        id: ClientId,
        /// Announced size.
        size: usize,
    },
    /// Sent a zero-length frame.
    Empty {
        /// The client.
        id: ClientId,
    },
    /// Went away.
    Closed {
        /// The client.
        id: ClientId,
    },
}
