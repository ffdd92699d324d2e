//! The event bus: local clients, their subscriptions and their bounded outbound buffers.
//!
//! Pure logic: the bus never touches a socket. The event loop hands it frames and asks
//! it which bytes to write to whom; that keeps fan-out, loss accounting and the memory
//! bound testable without I/O.
//!
//! Fan-out copies each event's raw bytes (never re-encoded) into the outbound buffer of
//! every listener whose filter matches; the loop flushes each buffer once per turn, so
//! many events leave in one `write`. A listener's buffer never grows past its limit: a
//! listener that stops reading loses events instead of stalling the loop or growing the
//! daemon's memory, and is told how many it lost (`salt/event/lost`) when it reads again.

use crate::matcher::{MatchType, TagFilter};
use crate::wire::{self, kind, Event};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

/// A client of the bus, identified by the event loop's token for its stream.
pub type ClientId = usize;

/// The tag that tells a listener how many events it lost.
pub const LOST_TAG: &str = "salt/event/lost";

/// A client's `S` frame: subscribe to tags.
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
    rmp_serde::to_vec_named(&Subscribe {
        match_type: Some(match_type.name().to_string()),
        tag: tag.to_string(),
    })
    .unwrap_or_default()
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

/// What happens to a listener whose buffer is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Drop events for it and count them (the default).
    Drop,
    /// Disconnect it.
    Disconnect,
}

impl Overflow {
    /// Parses the `event_listener_overflow` setting.
    pub fn from_name(s: &str) -> Option<Overflow> {
        match s {
            "drop" => Some(Overflow::Drop),
            "disconnect" => Some(Overflow::Disconnect),
            _ => None,
        }
    }
}

/// Bytes queued for one client, written from the front.
#[derive(Debug, Default)]
pub struct OutBuf {
    buf: Vec<u8>,
    pos: usize,
}

impl OutBuf {
    /// Bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Number of bytes waiting.
    pub fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// Marks `n` bytes as written.
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            // A listener that caught up after a burst gives its memory back.
            if self.buf.capacity() > 1 << 20 {
                self.buf.shrink_to(64 * 1024);
            }
        } else if self.pos > 1 << 16 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    fn push(&mut self, kind: u8, payload: &[u8]) {
        wire::put_frame(&mut self.buf, kind, payload);
    }
}

#[derive(Debug)]
struct Client {
    pid: i32,
    out: OutBuf,
    filters: Vec<TagFilter>,
    /// A filter that takes every tag was added: the others need not be tried.
    all: bool,
    lost: u64,
    lost_total: u64,
}

/// Counters a daemon reports about its bus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Events published.
    pub published: u64,
    /// Event copies queued to listeners.
    pub delivered: u64,
    /// Event copies dropped because a listener's buffer was full.
    pub lost: u64,
}

/// All local clients of one daemon's bus.
#[derive(Debug)]
pub struct Bus {
    clients: BTreeMap<ClientId, Client>,
    limit: usize,
    overflow: Overflow,
    max_event_size: usize,
    dirty: BTreeSet<ClientId>,
    doomed: BTreeSet<ClientId>,
    stats: BusStats,
    refused: u64,
    /// The reactor's rules: events whose tag matches one are also kept for the reactor.
    tap: Option<std::sync::Arc<crate::matcher::RuleSet>>,
    tap_scratch: Vec<usize>,
    tapped: std::collections::VecDeque<Tapped>,
    /// How many reactions led to the events published now (see [`Bus::set_chain`]).
    chain: u8,
    tapped_bytes: usize,
    tap_dropped: u64,
    tap_dropping: bool,
    max_subscriptions: usize,
    /// A client that held much memory left: the loop may give the heap back.
    trim_wanted: bool,
}

/// Subscriptions one client may hold unless configured otherwise
/// (`event_listener_max_subscriptions`).
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 256;

/// An event kept for the reactor.
#[derive(Debug)]
pub struct Tapped {
    /// Its tag.
    pub tag: String,
    /// The encoded event.
    pub event: Vec<u8>,
    /// How many reactions, one causing the next, led to it (0: none did).
    pub chain: u8,
}

impl Tapped {
    /// The event's data, parsed once: its bytes were validated when they entered the bus
    /// (a client's frame) or were encoded (a fired event), so they are not walked again.
    pub fn data(&self) -> Result<Map<String, Value>, wire::WireError> {
        let body = self
            .event
            .get(self.tag.len() + wire::TAGEND.len()..)
            .unwrap_or_default();
        rmp_serde::from_slice(body).map_err(|e| wire::WireError::Data(e.to_string()))
    }
}

/// Events kept for the reactor at most; past it they are dropped and counted.
pub const TAP_LIMIT: usize = 10_000;

/// Bytes of events kept for the reactor at most.
pub const TAP_BYTES: usize = 64 << 20;

impl Bus {
    /// A bus whose listeners may each hold `limit` outbound bytes.
    pub fn new(limit: usize, overflow: Overflow, max_event_size: usize) -> Bus {
        Bus {
            clients: BTreeMap::new(),
            limit,
            overflow,
            max_event_size,
            dirty: BTreeSet::new(),
            doomed: BTreeSet::new(),
            stats: BusStats::default(),
            refused: 0,
            tap: None,
            tap_scratch: Vec::new(),
            tapped: std::collections::VecDeque::new(),
            chain: 0,
            tapped_bytes: 0,
            tap_dropped: 0,
            tap_dropping: false,
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
            trim_wanted: false,
        }
    }

    /// Sets how many subscriptions one client may hold (`event_listener_max_subscriptions`).
    pub fn set_max_subscriptions(&mut self, max: usize) {
        self.max_subscriptions = max.max(1);
    }

    /// True once after a client that held much memory (many filters, a big buffer) left:
    /// the loop gives free heap back to the kernel then.
    pub fn take_trim_hint(&mut self) -> bool {
        std::mem::take(&mut self.trim_wanted)
    }

    /// Keeps the events whose tag matches one of these rules for the reactor (None: none).
    pub fn set_tap(&mut self, rules: Option<std::sync::Arc<crate::matcher::RuleSet>>) {
        self.tap = rules.filter(|r| !r.is_empty());
    }

    /// Takes up to `max` events kept for the reactor, oldest first.
    pub fn take_tapped(&mut self, max: usize) -> Vec<Tapped> {
        let n = max.min(self.tapped.len());
        let out: Vec<Tapped> = self.tapped.drain(..n).collect();
        self.tapped_bytes = self
            .tapped_bytes
            .saturating_sub(out.iter().map(|t| t.tag.len() + t.event.len()).sum());
        out
    }

    /// Events published from now on were caused by a chain of `n` reactions (0: by none);
    /// the reactor reads it back from [`Tapped::chain`] to stop loops.
    pub fn set_chain(&mut self, n: u8) {
        self.chain = n;
    }

    /// True while events wait for the reactor.
    pub fn has_tapped(&self) -> bool {
        !self.tapped.is_empty()
    }

    /// Events the reactor lost because it was [`TAP_LIMIT`] events behind.
    pub fn tap_dropped(&self) -> u64 {
        self.tap_dropped
    }

    /// Applies reloaded limits.
    pub fn set_limits(&mut self, limit: usize, overflow: Overflow, max_event_size: usize) {
        self.limit = limit;
        self.overflow = overflow;
        self.max_event_size = max_event_size;
    }

    /// Counters so far.
    pub fn stats(&self) -> BusStats {
        self.stats
    }

    /// Frames refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Tells a client why its frame was refused, logs it and counts it.
    pub fn refuse(&mut self, id: ClientId, why: &str) {
        self.refused += 1;
        // Per client process and kind of refusal: a flood of bad frames is one line and a
        // count, not a line each.
        let pid = self.clients.get(&id).map_or(0, |c| c.pid);
        let cause = why.split(':').next().unwrap_or(why);
        crate::log_limited!(
            Warn,
            format!("local:{pid}:{cause}"),
            "local client {id} (pid {pid}): {why}"
        );
        self.reply(id, kind::ERROR, why.as_bytes());
    }

    /// Answers a client's request.
    pub fn answer(&mut self, id: ClientId, answer: &Answer) {
        match rmp_serde::to_vec_named(answer) {
            Ok(bytes) => self.reply(id, kind::ANSWER, &bytes),
            Err(e) => self.refuse(id, &format!("cannot encode the answer: {e}")),
        }
    }

    /// Handles one frame from a local client: fires and subscriptions are done here;
    /// a request is handed back to the daemon.
    pub fn handle_frame<'a>(
        &mut self,
        id: ClientId,
        k: u8,
        payload: &'a [u8],
        now: SystemTime,
        default_match: MatchType,
        max_event_size: usize,
    ) -> Local<'a> {
        match k {
            kind::FIRE => match Event::decode(payload, max_event_size) {
                Ok(ev) => {
                    self.publish(ev.tag(), ev.raw(), now);
                    Local::Fired(ev)
                }
                Err(e) => {
                    self.refuse(id, &format!("dropped event: {e}"));
                    Local::Nothing
                }
            },
            kind::SUBSCRIBE => {
                let sub = match rmp_serde::from_slice::<Subscribe>(payload) {
                    Ok(sub) => sub,
                    Err(e) => {
                        self.refuse(id, &format!("bad subscription: {e}"));
                        return Local::Nothing;
                    }
                };
                let mt = match sub.match_type.as_deref() {
                    None => default_match,
                    Some(name) => match MatchType::from_name(name) {
                        Some(mt) => mt,
                        None => {
                            self.refuse(
                                id,
                                &format!("bad subscription: unknown match type '{name}'"),
                            );
                            return Local::Nothing;
                        }
                    },
                };
                if let Some(c) = self.clients.get(&id) {
                    // A filter the client has, or one that everything it has already takes,
                    // adds nothing: matching costs the same however often it is sent.
                    if c.all
                        || c.filters
                            .iter()
                            .any(|f| f.match_type() == mt && f.pattern() == sub.tag)
                    {
                        return Local::Nothing;
                    }
                    // Checked before compiling: a regex costs memory to build.
                    if c.filters.len() >= self.max_subscriptions {
                        let max = self.max_subscriptions;
                        self.refuse(
                            id,
                            &format!(
                                "bad subscription: this connection already holds {max} subscriptions (event_listener_max_subscriptions)"
                            ),
                        );
                        return Local::Nothing;
                    }
                }
                match TagFilter::new(mt, &sub.tag) {
                    Ok(f) => {
                        log::debug!(
                            "local client {id} subscribed: {} {:?}",
                            f.match_type().name(),
                            f.pattern()
                        );
                        self.subscribe(id, f);
                    }
                    Err(e) => self.refuse(id, &format!("bad subscription: {e}")),
                }
                Local::Nothing
            }
            kind::REQUEST => match rmp_serde::from_slice::<Request>(payload) {
                Ok(req) => Local::Request(req),
                Err(e) => {
                    self.refuse(id, &format!("bad request: {e}"));
                    Local::Nothing
                }
            },
            other => {
                self.refuse(
                    id,
                    &format!(
                        "unknown frame kind {:?}",
                        char::from(other).escape_default()
                    ),
                );
                Local::Nothing
            }
        }
    }

    /// Adds a connected client (`pid` from its credentials, for log lines).
    pub fn open(&mut self, id: ClientId, pid: i32) {
        self.clients.insert(
            id,
            Client {
                pid,
                out: OutBuf::default(),
                filters: Vec::new(),
                all: false,
                lost: 0,
                lost_total: 0,
            },
        );
    }

    /// Forgets a client.
    pub fn close(&mut self, id: ClientId) {
        if let Some(c) = self.clients.remove(&id) {
            if c.filters.len() > 32 || c.out.buf.capacity() > 1 << 20 {
                self.trim_wanted = true;
            }
            if c.lost_total > 0 {
                log::info!(
                    "bus listener {id} (pid {}) left having lost {} events",
                    c.pid,
                    c.lost_total
                );
            }
        }
        self.dirty.remove(&id);
        self.doomed.remove(&id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Adds a tag filter to a client, making it a listener.
    pub fn subscribe(&mut self, id: ClientId, filter: TagFilter) {
        if let Some(c) = self.clients.get_mut(&id) {
            if filter.matches_all() {
                c.filters.clear();
                c.filters.shrink_to_fit();
                c.all = true;
            }
            c.filters.push(filter);
        }
    }

    /// Delivers an already-encoded event to every matching listener.
    pub fn publish(&mut self, tag: &str, event: &[u8], now: SystemTime) {
        self.stats.published += 1;
        if let Some(rules) = self.tap.as_ref() {
            rules.matches(tag, &mut self.tap_scratch);
            if !self.tap_scratch.is_empty() {
                let size = tag.len() + event.len();
                if self.tapped.len() < TAP_LIMIT && self.tapped_bytes + size <= TAP_BYTES {
                    self.tapped.push_back(Tapped {
                        tag: tag.to_owned(),
                        event: event.to_vec(),
                        chain: self.chain,
                    });
                    self.tapped_bytes += size;
                    self.tap_dropping = false;
                } else {
                    if !self.tap_dropping {
                        log::error!(
                            "the reactor is {} events ({} bytes) behind: dropping events for it ({} dropped before)",
                            self.tapped.len(),
                            self.tapped_bytes,
                            self.tap_dropped
                        );
                        self.tap_dropping = true;
                    }
                    self.tap_dropped += 1;
                }
            }
        }
        let frame_len = wire::FRAME_HEADER + 1 + event.len();
        for (&id, c) in self.clients.iter_mut() {
            if !c.all && !c.filters.iter().any(|f| f.is_match(tag)) {
                continue;
            }
            if c.lost > 0 && !queue_lost_notice(id, c, self.limit, frame_len, now) {
                c.lost += 1;
                c.lost_total += 1;
                self.stats.lost += 1;
                continue;
            }
            if c.out.len() + frame_len > self.limit {
                if self.overflow == Overflow::Disconnect {
                    log::warn!(
                        "bus listener {id} (pid {}) is not reading: disconnecting it",
                        c.pid
                    );
                    self.doomed.insert(id);
                    continue;
                }
                if c.lost == 0 {
                    log::warn!(
                        "bus listener {id} (pid {}) is not reading: dropping its events",
                        c.pid
                    );
                }
                c.lost += 1;
                c.lost_total += 1;
                self.stats.lost += 1;
                continue;
            }
            c.out.push(kind::EVENT, event);
            self.stats.delivered += 1;
            self.dirty.insert(id);
        }
    }

    /// Fires an event from the daemon itself: stamps, trims and publishes it.
    pub fn fire(
        &mut self,
        tag: &str,
        data: Map<String, Value>,
        now: SystemTime,
    ) -> Result<(), wire::WireError> {
        let bytes = wire::encode_fired(tag, data, crate::clock::stamp(now), self.max_event_size)?;
        self.publish(tag, &bytes, now);
        Ok(())
    }

    /// Queues a reply frame to one client. Replies are small and requested, so they may
    /// exceed the listener limit once; a client that never reads them is disconnected.
    pub fn reply(&mut self, id: ClientId, kind: u8, payload: &[u8]) {
        if let Some(c) = self.clients.get_mut(&id) {
            if c.out.len() > self.limit.saturating_mul(2) {
                self.doomed.insert(id);
                return;
            }
            c.out.push(kind, payload);
            self.dirty.insert(id);
        }
    }

    /// Bytes waiting for one client.
    pub fn pending(&self, id: ClientId) -> &[u8] {
        self.clients
            .get(&id)
            .map(|c| c.out.pending())
            .unwrap_or(&[])
    }

    /// Records that `n` bytes reached the client; a listener that lost events and now
    /// reads again is told how many first.
    pub fn consumed(&mut self, id: ClientId, n: usize, now: SystemTime) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.out.consume(n);
            if c.lost > 0 && queue_lost_notice(id, c, self.limit, 0, now) {
                self.dirty.insert(id);
            }
            if c.out.is_empty() {
                self.dirty.remove(&id);
            }
        }
    }

    /// Clients with bytes queued since the last call.
    pub fn take_dirty(&mut self) -> Vec<ClientId> {
        let d: Vec<ClientId> = self.dirty.iter().copied().collect();
        self.dirty.clear();
        d
    }

    /// Clients the bus wants disconnected.
    pub fn take_doomed(&mut self) -> Vec<ClientId> {
        let d: Vec<ClientId> = self.doomed.iter().copied().collect();
        self.doomed.clear();
        d
    }
}

/// Queues `salt/event/lost` when the buffer has room for it and `then` more bytes (the
/// event about to follow), so a notice is never immediately followed by another loss;
/// true when queued.
fn queue_lost_notice(
    id: ClientId,
    c: &mut Client,
    limit: usize,
    then: usize,
    now: SystemTime,
) -> bool {
    let data = match json!({ "count": c.lost }) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let Ok(bytes) = wire::encode_fired(LOST_TAG, data, crate::clock::stamp(now), usize::MAX) else {
        return false;
    };
    if c.out.len() + bytes.len() + wire::FRAME_HEADER + 1 + then > limit {
        return false;
    }
    log::warn!(
        "bus listener {id} (pid {}) lost {} events while it did not read",
        c.pid,
        c.lost
    );
    c.out.push(kind::EVENT, &bytes);
    c.lost = 0;
    true
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::MatchType;
    use crate::wire::{Event, FrameReader, Next};

    fn all() -> TagFilter {
        TagFilter::new(MatchType::StartsWith, "").unwrap()
    }

    fn drain(bus: &mut Bus, id: ClientId) -> Vec<(String, Map<String, Value>)> {
        let mut r = FrameReader::new(1 << 20);
        r.extend(bus.pending(id));
        let n = bus.pending(id).len();
        bus.consumed(id, n, SystemTime::now());
        let mut out = Vec::new();
        while let Some(Next::Frame(k, p)) = r.next_frame() {
            assert_eq!(k, kind::EVENT);
            let ev = Event::decode(p, 1 << 20).unwrap();
            out.push((ev.tag().to_string(), ev.value().unwrap()));
        }
        out
    }

    #[test]
    fn only_matching_listeners_get_events_in_order() {
        let mut bus = Bus::new(1 << 20, Overflow::Drop, 1 << 20);
        bus.open(1, 0);
        bus.open(2, 0);
        bus.open(3, 0);
        bus.subscribe(1, all());
        bus.subscribe(
            2,
            TagFilter::new(MatchType::StartsWith, "salt/job").unwrap(),
        );
        let now = SystemTime::now();
        for tag in ["salt/job/1/new", "other", "salt/job/1/ret/m"] {
            bus.fire(tag, Map::new(), now).unwrap();
        }
        let tags = |v: Vec<(String, _)>| v.into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(
            tags(drain(&mut bus, 1)),
            ["salt/job/1/new", "other", "salt/job/1/ret/m"]
        );
        assert_eq!(
            tags(drain(&mut bus, 2)),
            ["salt/job/1/new", "salt/job/1/ret/m"]
        );
        assert!(
            bus.pending(3).is_empty(),
            "a client that never subscribed gets nothing"
        );
    }

    #[test]
    fn the_reactor_tap_keeps_matching_events_whose_data_reads_back() {
        let mut bus = Bus::new(4096, Overflow::Drop, 1 << 20);
        let rules = crate::matcher::RuleSet::new(vec!["react/*".into()]);
        bus.set_tap(Some(std::sync::Arc::new(rules)));
        let now = SystemTime::now();
        let mut data = Map::new();
        data.insert("n".into(), json!(1));
        data.insert("deep".into(), json!({"list": [1, "two", null]}));
        bus.fire("react/a", data.clone(), now).unwrap();
        bus.fire("other/b", data.clone(), now).unwrap();
        let tapped = bus.take_tapped(10);
        assert_eq!(tapped.len(), 1, "only the matching tag is kept");
        let got = tapped[0].data().unwrap();
        assert_eq!(got["n"], json!(1));
        assert_eq!(got["deep"], data["deep"]);
        assert!(got.contains_key("_stamp"));
    }

    #[test]
    fn a_full_listener_loses_events_and_is_told_how_many() {
        let mut bus = Bus::new(4096, Overflow::Drop, 1 << 20);
        bus.open(1, 0);
        bus.open(2, 0);
        bus.subscribe(1, all());
        bus.subscribe(2, all());
        let now = SystemTime::now();
        let payload = json!({"pad": "x".repeat(200)});
        let Value::Object(m) = payload else { panic!() };
        for _ in 0..100 {
            bus.fire("t", m.clone(), now).unwrap();
            // Listener 2 keeps up; listener 1 never reads.
            let n = bus.pending(2).len();
            bus.consumed(2, n, now);
        }
        assert!(
            bus.pending(1).len() <= 4096,
            "the buffer stays under its limit"
        );
        let lost = bus.stats().lost;
        assert!(
            lost > 80,
            "most events were dropped for the stalled listener: {lost}"
        );
        let got = drain(&mut bus, 1);
        let delivered = got.len() as u64;
        // Now the notice waits in the buffer, ahead of anything newer.
        bus.fire("t", m, now).unwrap();
        let after = drain(&mut bus, 1);
        assert_eq!(after[0].0, LOST_TAG);
        assert_eq!(after[0].1["count"], json!(lost));
        assert_eq!(after[1].0, "t");
        assert_eq!(delivered + lost, 100);
    }

    #[test]
    fn overflow_disconnect_policy_dooms_the_listener() {
        let mut bus = Bus::new(512, Overflow::Disconnect, 1 << 20);
        bus.open(7, 0);
        bus.subscribe(7, all());
        let Value::Object(m) = json!({"pad": "y".repeat(300)}) else {
            panic!()
        };
        bus.fire("t", m.clone(), SystemTime::now()).unwrap();
        bus.fire("t", m, SystemTime::now()).unwrap();
        assert_eq!(bus.take_doomed(), vec![7]);
    }
}
