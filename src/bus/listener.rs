//! One client of the bus: its filters, its cursor into the ring and the few bytes that are
//! its own (replies, notices), and how a write to it is planned from the ring and settled.
//!
//! A listener never holds a copy of an event. Its cursor is the sequence number of the next
//! event it has not been sent, plus how many bytes of that event's frame already went out
//! (a socket may take part of a frame). A write is a list of slices: the private bytes and
//! runs of stored frames; what the socket took is mapped back onto the cursor afterwards.

use super::ring::Ring;
use crate::matcher::TagFilter;
use std::io::IoSlice;

/// Slices one write may carry at most (well under the kernel's IOV_MAX).
const MAX_SLICES: usize = 256;

/// Bytes one write may carry at most (more than any socket buffer takes at once).
const MAX_WRITE: usize = 4 << 20;

/// Bytes queued for one client that are not in the ring, written from the front.
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

    /// True while a frame is partly written.
    pub fn is_mid(&self) -> bool {
        self.pos > 0
    }

    /// Marks `n` bytes as written.
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if self.buf.capacity() > 1 << 16 {
                self.buf.shrink_to(4096);
            }
        }
    }

    /// Puts bytes ahead of everything waiting (the rest of a frame already partly sent;
    /// nothing of this buffer is mid-frame then).
    pub fn prepend(&mut self, bytes: &[u8]) {
        self.buf.drain(..self.pos);
        self.pos = 0;
        self.buf.splice(0..0, bytes.iter().copied());
    }

    /// Takes everything waiting.
    pub fn take(&mut self) -> Vec<u8> {
        let out = self.pending().to_vec();
        self.buf.clear();
        self.pos = 0;
        out
    }

    /// Appends one frame.
    pub fn push(&mut self, kind: u8, payload: &[u8]) {
        crate::wire::put_frame(&mut self.buf, kind, payload);
    }

    /// Capacity held.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

/// Where a listener is in the ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The next sequence number not yet sent (or being sent).
    pub seq: u64,
    /// Bytes of that event's frame already written.
    pub off: usize,
}

/// A connected client of the bus.
#[derive(Debug)]
pub struct Listener {
    /// Its pid, for log lines.
    pub pid: i32,
    /// Replies, notices, and the rest of a frame the ring dropped while it was being sent.
    pub private: OutBuf,
    /// Its tag filters.
    pub filters: Vec<TagFilter>,
    /// A filter that takes every tag was added: the others need not be tried.
    pub all: bool,
    /// It subscribed at least once: the cursor means something.
    pub subscribed: bool,
    /// Its place in the ring.
    pub cursor: Cursor,
    /// Events it lost and has not been told of yet.
    pub lost: u64,
    /// Events it lost since it connected.
    pub lost_total: u64,
    /// Its socket took no more: wait for it to be writable.
    pub blocked: bool,
    /// Its events come from the event log on disk for now (see `Bus::take_replays`).
    pub replaying: bool,
    /// Where its current replay after falling behind the ring again started: a replay that
    /// ends no further on makes no progress.
    pub replay_from: Option<u64>,
    /// A `since` that came while a frame was half sent or a replay ran: applied as soon as
    /// the stream is at a frame boundary again.
    pub pending_since: Option<super::Since>,
}

impl Listener {
    /// A client that has not subscribed yet.
    pub fn new(pid: i32) -> Listener {
        Listener {
            pid,
            private: OutBuf::default(),
            filters: Vec::new(),
            all: false,
            subscribed: false,
            cursor: Cursor::default(),
            lost: 0,
            lost_total: 0,
            blocked: false,
            replaying: false,
            replay_from: None,
            pending_since: None,
        }
    }

    /// Counts `n` events it lost (it is told at its next write); returns `n`.
    pub fn lose(&mut self, n: u64) -> u64 {
        self.lost += n;
        self.lost_total += n;
        n
    }

    /// Hands it to a replay from the event log starting at `from`: nothing of the ring is
    /// written to it meanwhile, and what it was already owed goes out first.
    pub fn replay(&mut self, id: super::ClientId, from: super::Since) -> super::Replay {
        self.replaying = true;
        super::Replay {
            id,
            from,
            filters: if self.all {
                Vec::new()
            } else {
                self.filters.clone()
            },
            preamble: self.private.take(),
        }
    }

    /// True when this listener wants an event with this tag.
    pub fn wants(&self, tag: &str) -> bool {
        self.subscribed && (self.all || self.filters.iter().any(|f| f.is_match(tag)))
    }

    /// True when something could be written to it now (events before `visible` only).
    pub fn has_work(&self, visible: u64) -> bool {
        // While replaying, the socket belongs to the replay: nothing else may interleave.
        !self.blocked
            && !self.replaying
            && (!self.private.is_empty()
                || self.lost > 0
                || (self.subscribed && self.cursor.seq < visible))
    }
}

/// A part of a planned write.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// Bytes of the private buffer.
    Private(usize),
    /// Stored frames starting at `seq` (from byte `off` of its frame), `len` bytes, all in
    /// one chunk.
    Ring { seq: u64, off: usize, len: usize },
}

/// A write planned for one listener: the slices to hand the socket and what they are.
#[derive(Default)]
pub struct Plan<'a> {
    /// What to write, in order.
    pub slices: Vec<IoSlice<'a>>,
    parts: Vec<Part>,
    /// The listener's cursor skips to here when nothing of the ring is written (the events
    /// before it were looked at and not wanted).
    skip_to: Option<u64>,
}

impl Plan<'_> {
    /// Bytes planned.
    pub fn len(&self) -> usize {
        self.slices.iter().map(|s| s.len()).sum()
    }

    /// True when nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }
}

/// Plans the next write to `l` from `ring`, of events before `visible` (the ones the
/// event log has, when it is on: a listener never sees an event a crash could take back).
pub fn plan<'a>(l: &'a Listener, ring: &'a Ring, visible: u64) -> Plan<'a> {
    let mut p = Plan::default();
    if l.replaying {
        return p;
    }
    let mut bytes = 0usize;
    let mut from = l.cursor.seq;
    let ring_ok = l.subscribed;
    // Whatever is mid-frame goes first, so frames never interleave.
    if ring_ok && l.cursor.off > 0 {
        if let Some(s) = ring.get(l.cursor.seq) {
            let rest = &s.frame[l.cursor.off.min(s.frame.len())..];
            p.slices.push(IoSlice::new(rest));
            p.parts.push(Part::Ring {
                seq: s.seq,
                off: l.cursor.off,
                len: rest.len(),
            });
            bytes += rest.len();
        }
        from += 1;
    }
    if !l.private.is_empty() {
        let b = l.private.pending();
        p.slices.push(IoSlice::new(b));
        p.parts.push(Part::Private(b.len()));
        bytes += b.len();
    }
    // A `since` waiting for a frame boundary: finish what is half sent, nothing more.
    if !ring_ok || l.private.is_mid() || l.pending_since.is_some() {
        return p;
    }
    let from = from.max(ring.first_seq());
    let full = |p: &Plan<'_>, bytes: usize| p.slices.len() >= MAX_SLICES || bytes >= MAX_WRITE;
    if l.all {
        // Every event: each chunk's frames from the cursor on are one slice.
        for (c, first) in ring.chunks_from(from) {
            let end = (visible.saturating_sub(c.first_seq()) as usize).min(c.len());
            if first >= end || full(&p, bytes) {
                break;
            }
            let run = c.frames(first, end);
            let run = &run[..run.len().min(MAX_WRITE)];
            push_run(&mut p, c.first_seq() + first as u64, run, &mut bytes);
        }
        return p;
    }
    // Filtered: runs of adjacent wanted frames become one slice each.
    let mut next = from;
    'chunks: for (c, first) in ring.chunks_from(from) {
        let base = c.first_seq();
        let end = (visible.saturating_sub(base) as usize).min(c.len());
        if first >= end {
            break;
        }
        let mut run: Option<usize> = None;
        for i in first..end {
            if full(&p, bytes) {
                if let Some(r) = run.take() {
                    push_run(&mut p, base + r as u64, c.frames(r, i), &mut bytes);
                }
                break 'chunks;
            }
            next = base + i as u64 + 1;
            if l.wants(c.tag(i)) {
                run.get_or_insert(i);
            } else if let Some(r) = run.take() {
                push_run(&mut p, base + r as u64, c.frames(r, i), &mut bytes);
            }
        }
        if let Some(r) = run.take() {
            push_run(&mut p, base + r as u64, c.frames(r, end), &mut bytes);
        }
        next = base + end as u64;
        if end < c.len() {
            break;
        }
    }
    if !p.parts.iter().any(|x| matches!(x, Part::Ring { .. })) {
        p.skip_to = Some(next);
    }
    p
}

fn push_run<'a>(p: &mut Plan<'a>, seq: u64, slice: &'a [u8], bytes: &mut usize) {
    p.slices.push(IoSlice::new(slice));
    p.parts.push(Part::Ring {
        seq,
        off: 0,
        len: slice.len(),
    });
    *bytes += slice.len();
}

/// What settling a write did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Frames from the ring written whole.
    pub frames: u64,
}

/// Moves the listener on by the `n` bytes the socket took of `plan` (the plan's parts;
/// the slices are gone by now).
pub fn settle(l: &mut Listener, ring: &Ring, plan: PlanParts, mut n: usize) -> Settled {
    let mut out = Settled::default();
    if let Some(to) = plan.skip_to {
        if l.cursor.off == 0 && l.cursor.seq < to {
            l.cursor.seq = to;
        }
    }
    for part in plan.parts {
        if n == 0 {
            break;
        }
        match part {
            Part::Private(len) => {
                let k = n.min(len);
                l.private.consume(k);
                n -= k;
            }
            Part::Ring { seq, off, len } => {
                let k = n.min(len);
                let (s, o) = ring.locate(seq, off + k);
                out.frames += s - seq;
                l.cursor = Cursor { seq: s, off: o };
                n -= k;
            }
        }
    }
    out
}

/// The parts of a plan, kept after its slices are dropped.
pub struct PlanParts {
    parts: Vec<Part>,
    skip_to: Option<u64>,
}

impl Plan<'_> {
    /// Splits off what [`settle`] needs, ending the borrow of the ring and listener.
    pub fn into_parts(self) -> PlanParts {
        PlanParts {
            parts: self.parts,
            skip_to: self.skip_to,
        }
    }
}
