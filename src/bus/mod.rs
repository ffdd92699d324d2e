//! The event bus: local clients, their subscriptions, and the ring every event is stored in
//! once.
//!
//! Pure logic: the bus never touches a socket. The event loop hands it frames and asks it
//! for the slices to write to whom; that keeps fan-out, loss accounting and the memory
//! bound testable without I/O.
//!
//! Each event is stored once, in the [`ring::Ring`], with a sequence number; a listener is
//! a cursor into the ring, and a write to it is the stored frames themselves (see
//! [`listener`]). Memory does not grow with the number of listeners. A listener that stops
//! reading keeps its place until the ring drops the events it has not read; only then does
//! it lose them, and it is told how many (`salt/event/lost`, with the sequence number it
//! resumes at) before anything newer.

pub mod frames;
pub mod listener;
pub mod ring;

pub use frames::{
    subscribe_payload, subscribe_payload_since, Answer, ClientInput, Local, Request, Since,
    Subscribe,
};

use crate::matcher::{MatchType, TagFilter};
use crate::wire::{self, kind, Event};
use listener::{Listener, Settled};
use ring::Ring;

/// What [`Bus::scan`] hands each event to: its tag and its msgpack body (see
/// [`event_data`]).
pub type EventVisitor<'a> = dyn FnMut(&str, &[u8]) + 'a;

/// An event body's data, decoded.
pub fn event_data(body: &[u8]) -> Result<Map<String, Value>, wire::WireError> {
    rmp_serde::from_slice(body).map_err(|e| wire::WireError::Data(e.to_string()))
}
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, IoSlice};
use std::time::SystemTime;

/// A client of the bus, identified by the event loop's token for its stream.
pub type ClientId = usize;

/// The tag that tells a listener how many events it lost.
pub const LOST_TAG: &str = "salt/event/lost";

/// Bytes one [`Bus::write_to`] sends one listener at most before the others get their go.
const WRITE_BUDGET: usize = 16 << 20;

/// What happens to a listener that falls off the ring's tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the events it missed and tell it how many (the default).
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

/// Counters a daemon reports about its bus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Events published.
    pub published: u64,
    /// Events written whole to listeners.
    pub delivered: u64,
    /// Events listeners lost because the ring dropped them before they read them.
    pub lost: u64,
}

/// The sizes a bus keeps to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of the ring (`event_ring_size`).
    pub ring: usize,
    /// Bytes of replies and notices one client may hold (`event_listener_buffer`).
    pub listener: usize,
    /// What happens to a listener that falls off the ring.
    pub overflow: Overflow,
    /// The largest event accepted (`max_event_size`).
    pub max_event_size: usize,
}

/// The limits a daemon's configuration gives its bus.
pub fn limits_of(ring: usize, listener: usize, overflow: &str, max_event_size: usize) -> Limits {
    Limits {
        ring,
        listener,
        overflow: Overflow::from_name(overflow).unwrap_or(Overflow::Drop),
        max_event_size,
    }
}

/// A listener to be fed from the event log on disk: it fell off the ring, or asked to start
/// before the ring's oldest event.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The listener.
    pub id: ClientId,
    /// Where to start.
    pub from: Since,
    /// Its filters (empty: every tag).
    pub filters: Vec<TagFilter>,
    /// Bytes to send before the first replayed event (the rest of what it was being sent).
    pub preamble: Vec<u8>,
}

/// All local clients of one daemon's bus.
#[derive(Debug)]
pub struct Bus {
    clients: BTreeMap<ClientId, Listener>,
    ring: Ring,
    /// The sequence number the ring started at in this process.
    first_seq: u64,
    limits: Limits,
    doomed: BTreeSet<ClientId>,
    stats: BusStats,
    refused: u64,
    /// The reactor's rules: events whose tag matches one are also handed to the reactor.
    tap: Option<std::sync::Arc<crate::matcher::RuleSet>>,
    tap_scratch: Vec<usize>,
    /// The reactor's place in the ring.
    tap_cursor: u64,
    /// How many reactions led to the events published now (see [`Bus::set_chain`]).
    chain: u8,
    tap_dropped: u64,
    tap_dropping: bool,
    max_subscriptions: usize,
    /// A client that held much memory left: the loop may give the heap back.
    trim_wanted: bool,
    /// Events can be read back from the event log: listeners that fall off the ring are
    /// replayed from it instead of losing events.
    log_on: bool,
    replays: Vec<Replay>,
    /// The first sequence number not yet handed to the event log.
    logged_to: u64,
    /// The last publication time and its Unix nanoseconds: a turn's events share one
    /// `now`, and converting it per event was measurable at millions per second.
    last_time: (SystemTime, u64),
    /// Events the ring dropped before they were handed to the log: (seq, nanos, event).
    log_backlog: Vec<(u64, u64, Vec<u8>)>,
}

/// Subscriptions one client may hold unless configured otherwise
/// (`event_listener_max_subscriptions`).
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 256;

/// An event handed to the reactor.
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

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Bus {
    /// A bus with these limits whose first event gets sequence number `first_seq`.
    pub fn new(limits: Limits, first_seq: u64) -> Bus {
        let ring = Ring::new(limits.ring, first_seq);
        Bus {
            clients: BTreeMap::new(),
            first_seq: ring.next_seq(),
            tap_cursor: ring.next_seq(),
            ring,
            limits,
            doomed: BTreeSet::new(),
            stats: BusStats::default(),
            refused: 0,
            tap: None,
            tap_scratch: Vec::new(),
            chain: 0,
            tap_dropped: 0,
            tap_dropping: false,
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
            trim_wanted: false,
            log_on: false,
            replays: Vec::new(),
            logged_to: 0,
            log_backlog: Vec::new(),
            last_time: (SystemTime::UNIX_EPOCH, 0),
        }
    }

    /// Numbers events from `next_seq` on (the event log's next number, read at start) and
    /// replays listeners that fall off the ring from the log.
    pub fn attach_log(&mut self, next_seq: u64) {
        self.logged_to = self.ring.next_seq();
        if self.ring.is_empty() && next_seq > self.ring.next_seq() {
            self.ring = Ring::new(self.limits.ring, next_seq);
            self.logged_to = next_seq;
            self.first_seq = next_seq;
            self.tap_cursor = next_seq;
            for l in self.clients.values_mut() {
                l.cursor.seq = next_seq;
            }
        }
        self.log_on = true;
    }

    /// The ring, for the event log's commit and for tests.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Hands every event published since the last call to `append` (sequence number,
    /// Unix nanoseconds, the event), oldest first: the event log's next records.
    pub fn take_unlogged(&mut self, append: &mut dyn FnMut(u64, u64, &[u8])) {
        for (seq, nanos, event) in self.log_backlog.drain(..) {
            append(seq, nanos, &event);
        }
        let from = self.logged_to.max(self.ring.first_seq());
        for s in self.ring.iter_from(from) {
            append(s.seq, s.nanos, s.event);
        }
        self.logged_to = self.ring.next_seq();
    }

    /// The sequence number the next event will have: a cursor past every event so far.
    pub fn next_seq(&self) -> u64 {
        self.ring.next_seq()
    }

    /// Hands `f` each event from sequence number `from` on (tag, body), oldest first, and
    /// returns the cursor after them: how the master's orchestrations see the returns and
    /// events they wait for.
    pub fn scan(&self, from: u64, f: &mut EventVisitor<'_>) -> u64 {
        let mut next = from.max(self.ring.first_seq());
        for s in self.ring.iter_from(next) {
            next = s.seq + 1;
            let body = s
                .event
                .get(s.tag.len() + wire::TAGEND.len()..)
                .unwrap_or_default();
            f(s.tag, body);
        }
        next
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

    /// Hands the events whose tag matches one of these rules to the reactor (None: none).
    pub fn set_tap(&mut self, rules: Option<std::sync::Arc<crate::matcher::RuleSet>>) {
        let rules = rules.filter(|r| !r.is_empty());
        if self.tap.is_none() && rules.is_some() {
            self.tap_cursor = self.ring.next_seq();
        }
        self.tap = rules;
    }

    /// Takes up to `max` events for the reactor, oldest first.
    pub fn take_tapped(&mut self, max: usize) -> Vec<Tapped> {
        let mut out = Vec::new();
        let Some(rules) = self.tap.as_ref() else {
            return out;
        };
        let mut next = self.tap_cursor.max(self.ring.first_seq());
        for s in self.ring.iter_from(next) {
            if out.len() >= max {
                break;
            }
            next = s.seq + 1;
            rules.matches(s.tag, &mut self.tap_scratch);
            if !self.tap_scratch.is_empty() {
                out.push(Tapped {
                    tag: s.tag.to_owned(),
                    event: s.event.to_vec(),
                    chain: s.chain,
                });
            }
        }
        self.tap_cursor = next;
        if out.is_empty() {
            self.tap_dropping = false;
        }
        out
    }

    /// Events published from now on were caused by a chain of `n` reactions (0: by none);
    /// the reactor reads it back from [`Tapped::chain`] to stop loops.
    pub fn set_chain(&mut self, n: u8) {
        self.chain = n;
    }

    /// True while events wait for the reactor.
    pub fn has_tapped(&self) -> bool {
        self.tap.is_some() && self.tap_cursor < self.ring.next_seq()
    }

    /// Events the reactor lost because the ring dropped them before it read them.
    pub fn tap_dropped(&self) -> u64 {
        self.tap_dropped
    }

    /// Applies reloaded limits.
    pub fn set_limits(&mut self, limits: Limits) {
        self.ring.set_limit(limits.ring);
        self.limits = limits;
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
                self.subscribe_frame(id, payload, default_match);
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

    fn subscribe_frame(&mut self, id: ClientId, payload: &[u8], default_match: MatchType) {
        let sub = match rmp_serde::from_slice::<Subscribe>(payload) {
            Ok(sub) => sub,
            Err(e) => return self.refuse(id, &format!("bad subscription: {e}")),
        };
        let mt = match sub.match_type.as_deref() {
            None => default_match,
            Some(name) => match MatchType::from_name(name) {
                Some(mt) => mt,
                None => {
                    return self.refuse(
                        id,
                        &format!("bad subscription: unknown match type '{name}'"),
                    )
                }
            },
        };
        if let Some(c) = self.clients.get(&id) {
            // A filter the client has, or one that everything it has already takes, adds
            // nothing: matching costs the same however often it is sent.
            let known = c.all
                || c.filters
                    .iter()
                    .any(|f| f.match_type() == mt && f.pattern() == sub.tag);
            if !known && c.filters.len() >= self.max_subscriptions {
                // Checked before compiling: a regex costs memory to build.
                let max = self.max_subscriptions;
                return self.refuse(
                    id,
                    &format!(
                        "bad subscription: this connection already holds {max} subscriptions (event_listener_max_subscriptions)"
                    ),
                );
            }
            if !known {
                match TagFilter::new(mt, &sub.tag) {
                    Ok(f) => {
                        log::debug!(
                            "local client {id} subscribed: {} {:?}",
                            f.match_type().name(),
                            f.pattern()
                        );
                        self.subscribe(id, f);
                    }
                    Err(e) => return self.refuse(id, &format!("bad subscription: {e}")),
                }
            }
        }
        if let Some(since) = sub.since() {
            self.start_at(id, since);
        }
    }

    /// Adds a connected client (`pid` from its credentials, for log lines).
    pub fn open(&mut self, id: ClientId, pid: i32) {
        self.clients.insert(id, Listener::new(pid));
    }

    /// Forgets a client.
    pub fn close(&mut self, id: ClientId) {
        if let Some(c) = self.clients.remove(&id) {
            if c.filters.len() > 32 || c.private.capacity() > 1 << 20 {
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
        self.doomed.remove(&id);
        self.replays.retain(|r| r.id != id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Number of clients that subscribed (listeners); counted on demand, for metrics.
    pub fn listeners(&self) -> usize {
        self.clients.values().filter(|c| c.subscribed).count()
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Adds a tag filter to a client, making it a listener from the next event on.
    pub fn subscribe(&mut self, id: ClientId, filter: TagFilter) {
        let head = self.ring.next_seq();
        if let Some(c) = self.clients.get_mut(&id) {
            if !c.subscribed {
                c.subscribed = true;
                c.cursor = listener::Cursor { seq: head, off: 0 };
            }
            if filter.matches_all() {
                c.filters.clear();
                c.filters.shrink_to_fit();
                c.all = true;
            }
            c.filters.push(filter);
        }
    }

    /// Moves a listener to `since`: into the ring when it still holds that event, to the
    /// event log when it does not and the log is on, else to the ring's oldest event with
    /// a notice of what is gone.
    pub fn start_at(&mut self, id: ClientId, since: Since) {
        let oldest = self.ring.first_seq();
        let head = self.ring.next_seq();
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if !c.subscribed {
            return;
        }
        if c.cursor.off > 0 || c.replaying || c.private.is_mid() {
            c.pending_since = Some(since);
            return;
        }
        c.pending_since = None;
        let in_ring = match since {
            Since::Seq(s) if s >= oldest => Some(s.min(head)),
            Since::Seq(_) => None,
            Since::Time(t) => {
                let nanos = (t.max(0.0) * 1e9) as u64;
                // A ring that dropped nothing yet holds everything since this process
                // began; with the log on, what came before is on disk.
                self.ring
                    .seq_at_time(nanos)
                    .or((oldest == self.first_seq && !self.log_on).then_some(oldest))
            }
        };
        if let Some(seq) = in_ring {
            c.cursor.seq = seq;
            return;
        }
        if self.log_on {
            self.replays.push(c.replay(id, since));
            return;
        }
        // Without a log, what the ring dropped is gone: say how many sequence numbers.
        let gone = match since {
            Since::Seq(s) => oldest - s,
            Since::Time(_) => oldest - self.first_seq,
        };
        c.cursor.seq = oldest;
        self.stats.lost += c.lose(gone);
    }

    /// Listeners to be fed from the event log, taken once.
    pub fn take_replays(&mut self) -> Vec<Replay> {
        std::mem::take(&mut self.replays)
    }

    /// A replay from the log reached `next` (the sequence number after the last record it
    /// sent) having found `gone` records already dropped by the log's retention: the
    /// listener continues from the ring, or from the log again if the ring moved on.
    pub fn replayed(&mut self, id: ClientId, next: u64, gone: u64) {
        let oldest = self.ring.first_seq();
        let head = self.ring.next_seq();
        // Nothing in the log at or after the time asked for: it is all past what the log
        // holds, in the ring.
        let next = if next == 0 { self.logged_to } else { next };
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        self.stats.lost += c.lose(gone);
        let stuck = matches!(c.replay_from, Some(from) if next <= from);
        if next >= oldest || stuck {
            // Behind the ring and no further than last time (the log could not be
            // written): what is gone is counted, not replayed again and again.
            self.stats.lost += c.lose(oldest.saturating_sub(next));
            c.replay_from = None;
            c.replaying = false;
            c.cursor = listener::Cursor {
                seq: next.min(head),
                off: 0,
            };
        } else {
            c.replay_from = Some(next);
            self.replays.push(c.replay(id, Since::Seq(next)));
        }
    }

    /// A replay from the log stopped early at `next` (a damaged segment): the listener
    /// goes on from the ring, told of what it missed.
    pub fn replay_failed(&mut self, id: ClientId, next: u64) {
        let oldest = self.ring.first_seq();
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        c.replaying = false;
        c.replay_from = None;
        // Not knowing where it stopped (0), it resumes at what the log had not written.
        let next = if next == 0 { self.logged_to } else { next };
        self.stats.lost += c.lose(oldest.saturating_sub(next));
        c.cursor = listener::Cursor {
            seq: next.max(oldest),
            off: 0,
        };
    }

    /// Stores an already-encoded event once; every matching listener gets it from there.
    pub fn publish(&mut self, tag: &str, event: &[u8], now: SystemTime) {
        self.stats.published += 1;
        while self.ring.must_evict(event.len()) {
            self.settle_oldest();
            self.ring.evict();
        }
        if self.last_time.0 != now {
            self.last_time = (now, unix_nanos(now));
        }
        self.ring.push(tag, event, self.last_time.1, self.chain);
    }

    /// Before the ring drops its oldest chunk: listeners still inside it finish the frame
    /// they are in the middle of from a private copy and lose the rest (counted per
    /// listener, only the events it wanted), or are replayed from the log.
    fn settle_oldest(&mut self) {
        let Some(chunk) = self.ring.oldest() else {
            return;
        };
        let end = chunk.end_seq();
        if self.log_on && self.logged_to < end {
            for s in chunk.iter_from(self.logged_to) {
                self.log_backlog.push((s.seq, s.nanos, s.event.to_vec()));
            }
            self.logged_to = end;
        }
        for (&id, l) in self.clients.iter_mut() {
            if !l.subscribed || l.replaying || l.cursor.seq >= end {
                continue;
            }
            if l.cursor.off > 0 {
                l.private
                    .prepend(chunk.frame_rest(l.cursor.seq, l.cursor.off));
                l.cursor.seq += 1;
                l.cursor.off = 0;
                self.stats.delivered += 1;
            }
            if self.log_on && self.limits.overflow == Overflow::Drop {
                log::info!(
                    "bus listener {id} (pid {}) fell off the ring at event {}: it goes on from the event log",
                    l.pid,
                    l.cursor.seq
                );
                self.replays.push(l.replay(id, Since::Seq(l.cursor.seq)));
                continue;
            }
            let n = chunk
                .iter_from(l.cursor.seq)
                .filter(|s| l.wants(s.tag))
                .count() as u64;
            l.cursor.seq = end;
            if n == 0 {
                continue;
            }
            if self.limits.overflow == Overflow::Disconnect {
                log::warn!(
                    "bus listener {id} (pid {}) is not reading and fell off the ring: disconnecting it",
                    l.pid
                );
                self.doomed.insert(id);
                continue;
            }
            if l.lost == 0 {
                log::warn!(
                    "bus listener {id} (pid {}) is not reading and fell off the ring: dropping its events",
                    l.pid
                );
            }
            self.stats.lost += l.lose(n);
        }
        if let Some(rules) = self.tap.as_ref() {
            if self.tap_cursor < end {
                let mut n = 0u64;
                for s in chunk.iter_from(self.tap_cursor) {
                    rules.matches(s.tag, &mut self.tap_scratch);
                    n += u64::from(!self.tap_scratch.is_empty());
                }
                if n > 0 && !self.tap_dropping {
                    log::error!(
                        "the reactor fell {} bytes behind the bus (event_ring_size): dropping events for it ({} dropped before)",
                        self.ring.bytes(),
                        self.tap_dropped
                    );
                    self.tap_dropping = true;
                }
                self.tap_dropped += n;
                self.tap_cursor = end;
            }
        }
    }

    /// Fires an event from the daemon itself: stamps, trims and publishes it.
    pub fn fire(
        &mut self,
        tag: &str,
        data: Map<String, Value>,
        now: SystemTime,
    ) -> Result<(), wire::WireError> {
        let bytes = wire::encode_fired(
            tag,
            data,
            crate::clock::stamp(now),
            self.limits.max_event_size,
        )?;
        self.publish(tag, &bytes, now);
        Ok(())
    }

    /// Queues a reply frame to one client. Replies are small and requested; a client that
    /// lets more than its buffer's worth pile up unread is disconnected.
    pub fn reply(&mut self, id: ClientId, kind: u8, payload: &[u8]) {
        if let Some(c) = self.clients.get_mut(&id) {
            if c.private.len() > self.limits.listener {
                self.doomed.insert(id);
                return;
            }
            c.private.push(kind, payload);
        }
    }

    /// True while events wait to be handed to the event log (fired after this turn's log
    /// commit): the loop turns again instead of sleeping with them held back.
    pub fn has_unlogged(&self) -> bool {
        self.log_on && self.logged_to < self.ring.next_seq()
    }

    /// One past the newest event listeners may be sent: with the event log on, the ones
    /// handed to it (written at this turn's commit, before the loop flushes listeners).
    fn visible(&self) -> u64 {
        if self.log_on {
            self.logged_to
        } else {
            self.ring.next_seq()
        }
    }

    /// Clients with something to write and a socket that may take it.
    pub fn ready(&self) -> Vec<ClientId> {
        self.clients
            .iter()
            .filter(|(_, c)| c.has_work(self.visible()))
            .map(|(&id, _)| id)
            .collect()
    }

    /// True when a client could be written to now (the loop must not sleep).
    pub fn has_ready(&self) -> bool {
        self.clients.values().any(|c| c.has_work(self.visible()))
    }

    /// The client's socket became writable again.
    pub fn writable(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.blocked = false;
        }
    }

    /// Writes what waits for one client through `write` (one vectored write per call,
    /// `WouldBlock` when the socket is full), up to a budget; a listener that lost events
    /// is told how many first.
    pub fn write_to(
        &mut self,
        id: ClientId,
        now: SystemTime,
        write: &mut dyn FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<()> {
        let mut sent = 0usize;
        while sent < WRITE_BUDGET {
            if let Some(since) = self.clients.get(&id).and_then(|c| {
                (c.cursor.off == 0 && !c.replaying && !c.private.is_mid())
                    .then_some(c.pending_since)
                    .flatten()
            }) {
                self.start_at(id, since);
            }
            self.tell_lost(id, now);
            let Some(l) = self.clients.get(&id) else {
                return Ok(());
            };
            let plan = listener::plan(l, &self.ring, self.visible());
            if plan.is_empty() {
                let parts = plan.into_parts();
                if let Some(l) = self.clients.get_mut(&id) {
                    listener::settle(l, &self.ring, parts, 0);
                }
                return Ok(());
            }
            let result = write(&plan.slices);
            let parts = plan.into_parts();
            let Some(l) = self.clients.get_mut(&id) else {
                return Ok(());
            };
            match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let Settled { frames } = listener::settle(l, &self.ring, parts, n);
                    self.stats.delivered += frames;
                    sent += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    listener::settle(l, &self.ring, parts, 0);
                    l.blocked = true;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Queues `salt/event/lost` for a listener that lost events, once nothing is mid-frame.
    fn tell_lost(&mut self, id: ClientId, now: SystemTime) {
        let oldest = self.ring.first_seq();
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.lost == 0 || c.cursor.off > 0 || c.private.is_mid() || c.replaying {
            return;
        }
        let next = c.cursor.seq.max(oldest);
        let data = match json!({ "count": c.lost, "next_seq": next }) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let Ok(bytes) = wire::encode_fired(LOST_TAG, data, crate::clock::stamp(now), usize::MAX)
        else {
            return;
        };
        log::warn!(
            "bus listener {id} (pid {}) lost {} events while it did not read; it resumes at {next}",
            c.pid,
            c.lost
        );
        c.private.push(kind::EVENT, &bytes);
        c.lost = 0;
    }

    /// Everything waiting for one client, as if its socket took it all (for tests and
    /// in-process clients).
    pub fn take_output(&mut self, id: ClientId, now: SystemTime) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = self.write_to(id, now, &mut |slices| {
            for s in slices {
                out.extend_from_slice(s);
            }
            Ok(slices.iter().map(|s| s.len()).sum())
        });
        out
    }

    /// Clients the bus wants disconnected.
    pub fn take_doomed(&mut self) -> Vec<ClientId> {
        let d: Vec<ClientId> = self.doomed.iter().copied().collect();
        self.doomed.clear();
        d
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Event, FrameReader, Next};

    fn all() -> TagFilter {
        TagFilter::new(MatchType::StartsWith, "").unwrap()
    }

    fn limits(ring: usize) -> Limits {
        Limits {
            ring,
            listener: 1 << 20,
            overflow: Overflow::Drop,
            max_event_size: 1 << 20,
        }
    }

    fn bus(ring: usize) -> Bus {
        Bus::new(limits(ring), 1)
    }

    /// Events read from bytes a listener got: (seq, tag, data); notices have seq 0.
    fn read(bytes: &[u8]) -> Vec<(u64, String, Map<String, Value>)> {
        let mut r = FrameReader::new(64 << 20);
        r.extend(bytes);
        let mut out = Vec::new();
        while let Some(Next::Frame(k, p)) = r.next_frame() {
            let (seq, body) = match k {
                kind::SEQ_EVENT => wire::split_seq(p).unwrap(),
                kind::EVENT => (0, p),
                other => panic!("unexpected frame kind {other}"),
            };
            let ev = Event::decode(body, 1 << 20).unwrap();
            out.push((seq, ev.tag().to_string(), ev.value().unwrap()));
        }
        assert_eq!(r.buffered(), 0, "whole frames only");
        out
    }

    fn drain(bus: &mut Bus, id: ClientId) -> Vec<(u64, String, Map<String, Value>)> {
        let bytes = bus.take_output(id, SystemTime::now());
        read(&bytes)
    }

    fn pad(n: usize) -> Map<String, Value> {
        let Value::Object(m) = json!({"pad": "x".repeat(n)}) else {
            unreachable!()
        };
        m
    }

    #[test]
    fn only_matching_listeners_get_events_in_order_with_their_numbers() {
        let mut bus = bus(1 << 20);
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
        let got =
            |v: Vec<(u64, String, _)>| v.into_iter().map(|(s, t, _)| (s, t)).collect::<Vec<_>>();
        assert_eq!(
            got(drain(&mut bus, 1)),
            [
                (1, "salt/job/1/new".to_string()),
                (2, "other".to_string()),
                (3, "salt/job/1/ret/m".to_string())
            ]
        );
        assert_eq!(
            got(drain(&mut bus, 2)),
            [
                (1, "salt/job/1/new".to_string()),
                (3, "salt/job/1/ret/m".to_string())
            ]
        );
        assert!(
            drain(&mut bus, 3).is_empty(),
            "a client that never subscribed gets nothing"
        );
        assert_eq!(bus.stats().delivered, 5);
    }

    #[test]
    fn the_reactor_tap_keeps_matching_events_whose_data_reads_back() {
        let mut bus = bus(1 << 20);
        let rules = crate::matcher::RuleSet::new(vec!["react/*".into()]);
        bus.set_tap(Some(std::sync::Arc::new(rules)));
        let now = SystemTime::now();
        let mut data = Map::new();
        data.insert("n".into(), json!(1));
        data.insert("deep".into(), json!({"list": [1, "two", null]}));
        bus.fire("react/a", data.clone(), now).unwrap();
        bus.fire("other/b", data.clone(), now).unwrap();
        assert!(bus.has_tapped());
        let tapped = bus.take_tapped(10);
        assert_eq!(tapped.len(), 1, "only the matching tag is kept");
        assert!(!bus.has_tapped());
        let got = tapped[0].data().unwrap();
        assert_eq!(got["n"], json!(1));
        assert_eq!(got["deep"], data["deep"]);
        assert!(got.contains_key("_stamp"));
    }

    /// A socket that takes `take` bytes per write and then says it is full, `rounds` times.
    fn slow_writes(bus: &mut Bus, id: ClientId, take: usize, rounds: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..rounds {
            bus.writable(id);
            let mut budget = take;
            let _ = bus.write_to(id, SystemTime::now(), &mut |slices| {
                if budget == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let mut n = 0;
                for s in slices {
                    let k = s.len().min(budget - n);
                    out.extend_from_slice(&s[..k]);
                    n += k;
                    if n == budget {
                        break;
                    }
                }
                budget -= n;
                Ok(n)
            });
        }
        out
    }

    #[test]
    fn a_slow_listener_gets_every_event_whole_whatever_the_socket_takes() {
        let mut bus = bus(1 << 20);
        bus.open(1, 0);
        bus.open(2, 0);
        bus.subscribe(1, all());
        bus.subscribe(2, TagFilter::new(MatchType::Fnmatch, "odd/*").unwrap());
        let now = SystemTime::now();
        let mut bytes1 = Vec::new();
        let mut bytes2 = Vec::new();
        for i in 0..500 {
            let tag = if i % 2 == 1 { "odd/x" } else { "even/x" };
            bus.fire(tag, pad(i % 37), now).unwrap();
            // A reply in between must never split a frame.
            if i % 50 == 0 {
                bus.reply(2, kind::ANSWER, b"hello");
            }
            bytes1.extend(slow_writes(&mut bus, 1, 7 + i % 13, 1));
            bytes2.extend(slow_writes(&mut bus, 2, 3 + i % 5, 1));
        }
        bytes1.extend(slow_writes(&mut bus, 1, 1 << 20, 3));
        bytes2.extend(slow_writes(&mut bus, 2, 1 << 20, 3));
        let seqs: Vec<u64> = read(&bytes1).into_iter().map(|e| e.0).collect();
        assert_eq!(seqs, (1..=500).collect::<Vec<_>>());
        let mut r = FrameReader::new(1 << 20);
        r.extend(&bytes2);
        let (mut events, mut answers, mut last) = (0, 0, 0);
        while let Some(Next::Frame(k, p)) = r.next_frame() {
            match k {
                kind::ANSWER => {
                    assert_eq!(p, b"hello");
                    answers += 1;
                }
                kind::SEQ_EVENT => {
                    let (seq, _) = wire::split_seq(p).unwrap();
                    assert!(seq > last && seq % 2 == 0, "odd events in order: {seq}");
                    last = seq;
                    events += 1;
                }
                other => panic!("frame kind {other}"),
            }
        }
        assert_eq!((events, answers), (250, 10));
    }

    #[test]
    fn a_listener_that_falls_off_the_ring_is_told_the_exact_count_and_where_it_resumes() {
        let mut bus = bus(64 * 1024);
        bus.open(1, 0);
        bus.open(2, 0);
        bus.subscribe(1, all());
        bus.subscribe(2, all());
        let now = SystemTime::now();
        // Listener 1 takes half of the first event's frame and then stops reading.
        bus.fire("t", pad(200), now).unwrap();
        let first = slow_writes(&mut bus, 1, 100, 1);
        let mut got2 = drain(&mut bus, 2);
        for _ in 1..2000 {
            bus.fire("t", pad(200), now).unwrap();
            got2.extend(drain(&mut bus, 2));
        }
        assert_eq!(got2.len(), 2000, "the reading listener lost nothing");
        assert!(bus.ring().bytes() <= 64 * 1024);
        let lost = bus.stats().lost;
        assert!(lost > 1000, "{lost}");
        let mut bytes = first;
        bytes.extend(slow_writes(&mut bus, 1, 1 << 20, 2));
        let got = read(&bytes);
        assert_eq!(got[0].0, 1, "the frame it was in the middle of is finished");
        assert_eq!(got[1].1, LOST_TAG);
        assert_eq!(got[1].2["count"], json!(lost));
        let next = got[1].2["next_seq"].as_u64().unwrap();
        assert_eq!(next, 2 + lost, "the notice names where it resumes");
        assert_eq!(got[2].0, next, "and the next event is that one");
        assert_eq!(got.last().unwrap().0, 2000);
        assert_eq!(got.len() as u64 - 1 + lost, 2000);
    }

    #[test]
    fn overflow_disconnect_policy_dooms_the_listener_that_falls_off() {
        let mut bus = Bus::new(
            Limits {
                listener: 4096,
                overflow: Overflow::Disconnect,
                ..limits(16 * 1024)
            },
            1,
        );
        bus.open(7, 0);
        bus.subscribe(7, all());
        for _ in 0..200 {
            bus.fire("t", pad(300), SystemTime::now()).unwrap();
        }
        assert_eq!(bus.take_doomed(), vec![7]);
    }

    #[test]
    fn a_subscription_may_start_at_a_sequence_number_or_a_time_in_the_ring() {
        let mut bus = bus(1 << 20);
        let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for i in 0..100u64 {
            bus.fire("t", Map::new(), t0 + std::time::Duration::from_secs(i))
                .unwrap();
        }
        bus.open(1, 0);
        bus.subscribe(1, all());
        bus.start_at(1, Since::Seq(42));
        let got = drain(&mut bus, 1);
        assert_eq!(got.first().map(|e| e.0), Some(42));
        assert_eq!(got.len(), 59);
        bus.open(2, 0);
        bus.subscribe(2, all());
        bus.start_at(2, Since::Time(1_000_090.0));
        assert_eq!(drain(&mut bus, 2).first().map(|e| e.0), Some(91));
        // Before the ring's oldest and no log: told what is gone, then from the oldest.
        let mut small = self::bus(8192);
        for _ in 0..200 {
            small.fire("t", pad(100), t0).unwrap();
        }
        small.open(3, 0);
        small.subscribe(3, all());
        small.start_at(3, Since::Seq(1));
        let got = drain(&mut small, 3);
        let oldest = small.ring().first_seq();
        assert_eq!(got[0].1, LOST_TAG);
        assert_eq!(got[0].2["count"], json!(oldest - 1));
        assert_eq!(got[1].0, oldest);
    }

    #[test]
    fn with_the_log_on_a_listener_that_falls_off_is_replayed_not_dropped() {
        let mut bus = bus(16 * 1024);
        bus.attach_log(500);
        bus.open(1, 0);
        bus.subscribe(1, all());
        bus.reply(1, kind::ANSWER, b"pending");
        for _ in 0..300 {
            bus.fire("t", pad(100), SystemTime::now()).unwrap();
        }
        let replays = bus.take_replays();
        assert_eq!(replays.len(), 1);
        assert_eq!(replays[0].from, Since::Seq(500));
        assert!(!replays[0].preamble.is_empty(), "the reply goes first");
        assert!(
            drain(&mut bus, 1).is_empty(),
            "nothing interleaves the replay"
        );
        assert_eq!(bus.stats().lost, 0);
        let head = bus.ring().next_seq();
        bus.replayed(1, head - 3, 0);
        // Nothing goes out before the log has it: the commit hands it over first.
        assert!(drain(&mut bus, 1).is_empty());
        let mut logged = Vec::new();
        bus.take_unlogged(&mut |seq, _, _| logged.push(seq));
        assert_eq!(
            logged,
            (500..head).collect::<Vec<_>>(),
            "every event, once, in order"
        );
        let got = drain(&mut bus, 1);
        assert_eq!(
            got.iter().map(|e| e.0).collect::<Vec<_>>(),
            [head - 3, head - 2, head - 1]
        );
    }

    #[test]
    fn a_replay_that_makes_no_progress_is_counted_lost_not_repeated() {
        let mut bus = bus(16 * 1024);
        bus.attach_log(1);
        bus.open(1, 0);
        bus.subscribe(1, all());
        for _ in 0..300 {
            bus.fire("t", pad(100), SystemTime::now()).unwrap();
        }
        assert_eq!(bus.take_replays().len(), 1);
        let oldest = bus.ring().first_seq();
        // The log ends below the ring (it could not be written): one more try...
        bus.replayed(1, 5, 0);
        assert_eq!(bus.take_replays().len(), 1);
        // ...and when that ends at the same place, the rest is counted and it rejoins.
        bus.replayed(1, 5, 0);
        assert!(bus.take_replays().is_empty());
        bus.take_unlogged(&mut |_, _, _| {});
        let got = drain(&mut bus, 1);
        assert_eq!(got[0].1, LOST_TAG);
        assert_eq!(got[0].2["count"], json!(oldest - 5));
        assert_eq!(got[1].0, oldest);
    }

    #[test]
    fn a_reloaded_ring_size_keeps_its_byte_count() {
        let mut bus = bus(64 * 1024);
        for _ in 0..2000 {
            bus.fire("t", pad(100), SystemTime::now()).unwrap();
        }
        bus.set_limits(limits(16 << 20));
        for _ in 0..400 {
            bus.fire("t", pad(60_000), SystemTime::now()).unwrap();
            assert!(bus.ring().bytes() <= (16 << 20) + (1 << 20));
        }
        bus.set_limits(limits(64 * 1024));
        for _ in 0..2000 {
            bus.fire("t", pad(100), SystemTime::now()).unwrap();
        }
        assert!(bus.ring().bytes() <= 64 * 1024, "{}", bus.ring().bytes());
    }

    #[test]
    fn a_since_sent_while_a_frame_is_half_written_waits_for_the_frame_boundary() {
        let mut bus = bus(1 << 20);
        bus.open(1, 0);
        bus.subscribe(1, all());
        for _ in 0..10 {
            bus.fire("t", pad(50), SystemTime::now()).unwrap();
        }
        // Half of the first frame goes out, then the client asks to start over at 3.
        let mut bytes = slow_writes(&mut bus, 1, 20, 1);
        bus.start_at(1, Since::Seq(3));
        bytes.extend(slow_writes(&mut bus, 1, 1 << 20, 2));
        let seqs: Vec<u64> = read(&bytes).into_iter().map(|e| e.0).collect();
        assert_eq!(seqs, [1, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
}
