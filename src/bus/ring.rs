//! The bus's ring: recent events, each stored once as the frame a listener receives, in
//! sequence order, bounded in bytes.
//!
//! Frames live back to back in chunks; a chunk is dropped whole from the tail when the ring
//! would pass its size, so eviction frees memory in large pieces and the frames of a chunk
//! can go to a socket in one slice. A frame is `[len][b'Q'][seq: u64 BE][tag\n\nbody]`, so
//! the bytes a listener gets carry the sequence number without touching the event itself.

use crate::wire;
use std::collections::VecDeque;

/// Bytes a chunk holds unless one frame needs more (or the ring is small).
const CHUNK: usize = 1 << 20;

/// Bytes of a stored frame before the event: length, kind and sequence number.
pub const SEQ_HEADER: usize = wire::FRAME_HEADER + 1 + 8;

/// What the ring knows of one stored event besides its bytes.
#[derive(Clone, Copy, Debug)]
struct Meta {
    /// Where its frame starts in the chunk.
    start: u32,
    /// Length of its tag.
    tag_len: u32,
    /// When it was published (Unix nanoseconds).
    nanos: u64,
    /// How many reactions led to it.
    chain: u8,
}

/// Frames with consecutive sequence numbers, back to back.
#[derive(Debug)]
pub struct Chunk {
    first_seq: u64,
    data: Vec<u8>,
    meta: Vec<Meta>,
}

impl Chunk {
    /// The sequence number of its first event.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// One past the sequence number of its last event.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.meta.len() as u64
    }

    fn index(&self, seq: u64) -> Option<usize> {
        let i = seq.checked_sub(self.first_seq)? as usize;
        (i < self.meta.len()).then_some(i)
    }

    fn frame_range(&self, i: usize) -> (usize, usize) {
        let start = self.meta[i].start as usize;
        let end = self
            .meta
            .get(i + 1)
            .map_or(self.data.len(), |m| m.start as usize);
        (start, end)
    }
}

/// A stored event, borrowed from the ring.
#[derive(Clone, Copy, Debug)]
pub struct Stored<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// Its tag.
    pub tag: &'a str,
    /// The event as fired: `tag\n\nbody`.
    pub event: &'a [u8],
    /// The whole frame a listener receives.
    pub frame: &'a [u8],
    /// When it was published (Unix nanoseconds).
    pub nanos: u64,
    /// How many reactions led to it.
    pub chain: u8,
}

/// Recent events in sequence order, at most `limit` bytes of chunks.
#[derive(Debug)]
pub struct Ring {
    chunks: VecDeque<Chunk>,
    /// Capacity of all chunks held.
    bytes: usize,
    limit: usize,
    chunk_size: usize,
    next_seq: u64,
    /// An evicted chunk's buffers, reused for the next one.
    spare: Option<Chunk>,
}

impl Ring {
    /// An empty ring of at most `limit` bytes whose first event gets `next_seq`.
    pub fn new(limit: usize, next_seq: u64) -> Ring {
        Ring {
            chunks: VecDeque::new(),
            bytes: 0,
            limit,
            chunk_size: (limit / 8).clamp(4096, CHUNK),
            next_seq: next_seq.max(1),
            spare: None,
        }
    }

    /// Applies a reloaded size: a smaller ring drops its oldest chunks at the next push.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        self.chunk_size = (limit / 8).clamp(4096, CHUNK);
        // A spare of the old size would make the byte count wrong.
        self.spare = None;
    }

    /// The size bound in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes of chunks held now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The sequence number the next event gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The oldest sequence number still held (`next_seq` when empty).
    pub fn first_seq(&self) -> u64 {
        self.chunks.front().map_or(self.next_seq, |c| c.first_seq)
    }

    /// Number of events held.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.meta.len()).sum()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The chunk a push of an event of `event_len` bytes would evict first, if any: the
    /// caller settles the cursors inside it, then calls [`Ring::evict`].
    pub fn must_evict(&self, event_len: usize) -> bool {
        // Over the bound (a reload made it smaller): give back all but the newest chunk.
        if self.bytes > self.limit && self.chunks.len() > 1 {
            return true;
        }
        let frame = SEQ_HEADER + event_len;
        if self.fits_last(frame) {
            return false;
        }
        let need = frame.max(self.chunk_size);
        !self.chunks.is_empty() && self.bytes + need > self.limit
    }

    /// True when the newest chunk takes a frame of `frame` bytes. A ring over its bound (a
    /// smaller size reloaded) starts a new chunk, so the old, bigger one can go.
    fn fits_last(&self, frame: usize) -> bool {
        self.bytes <= self.limit
            && self
                .chunks
                .back()
                .is_some_and(|c| c.data.len() + frame <= c.data.capacity())
    }

    /// The oldest chunk, the one [`Ring::evict`] drops.
    pub fn oldest(&self) -> Option<&Chunk> {
        self.chunks.front()
    }

    /// Drops the oldest chunk.
    pub fn evict(&mut self) {
        if let Some(mut c) = self.chunks.pop_front() {
            self.bytes -= c.data.capacity();
            if c.data.capacity() == self.chunk_size {
                c.data.clear();
                c.meta.clear();
                self.spare = Some(c);
            }
        }
    }

    /// The chunks holding `seq` and later, each with the index of its first event at or
    /// after `seq`.
    pub fn chunks_from(&self, seq: u64) -> impl Iterator<Item = (&Chunk, usize)> {
        let first = self.chunk_of(seq).unwrap_or(self.chunks.len());
        self.chunks
            .iter()
            .skip(first)
            .map(move |c| (c, seq.saturating_sub(c.first_seq) as usize))
    }

    /// Stores an event whose first bytes are `tag` (the caller evicted what
    /// [`Ring::must_evict`] asked for); returns its sequence number.
    pub fn push(&mut self, tag: &str, event: &[u8], nanos: u64, chain: u8) -> u64 {
        let tag_len = if event.starts_with(tag.as_bytes()) {
            tag.len()
        } else {
            0
        };
        let seq = self.next_seq;
        let frame = SEQ_HEADER + event.len();
        if !self.fits_last(frame) {
            let size = frame.max(self.chunk_size);
            let chunk = match self.spare.take() {
                Some(mut c) if size == self.chunk_size && c.data.capacity() == size => {
                    c.first_seq = seq;
                    c.data.clear();
                    c.meta.clear();
                    c
                }
                _ => Chunk {
                    first_seq: seq,
                    data: Vec::with_capacity(size),
                    meta: Vec::with_capacity(size / 256),
                },
            };
            self.bytes += chunk.data.capacity();
            self.chunks.push_back(chunk);
        }
        let Some(c) = self.chunks.back_mut() else {
            return seq;
        };
        let start = c.data.len();
        wire::put_seq_event(&mut c.data, seq, event);
        c.meta.push(Meta {
            start: start as u32,
            tag_len: tag_len as u32,
            nanos,
            chain,
        });
        self.next_seq += 1;
        seq
    }

    fn chunk_of(&self, seq: u64) -> Option<usize> {
        if seq < self.first_seq() || seq >= self.next_seq {
            return None;
        }
        // Chunks are in order and contiguous: find the last one starting at or before seq.
        let i = self.chunks.partition_point(|c| c.first_seq <= seq);
        i.checked_sub(1)
    }

    /// The event with this sequence number, if still held.
    pub fn get(&self, seq: u64) -> Option<Stored<'_>> {
        let c = &self.chunks[self.chunk_of(seq)?];
        stored(c, c.index(seq)?)
    }

    /// The first sequence number at or after `nanos` (Unix nanoseconds), if the ring holds
    /// events that old: `None` when the oldest event held is younger.
    pub fn seq_at_time(&self, nanos: u64) -> Option<u64> {
        let oldest = self.chunks.front()?.meta.first()?;
        if oldest.nanos > nanos {
            return None;
        }
        // Publication times follow sequence order unless the clock stepped back; a search
        // is right in the common case and never worse than the oldest held.
        let ci = self
            .chunks
            .partition_point(|c| c.meta.last().is_some_and(|m| m.nanos < nanos));
        let Some(c) = self.chunks.get(ci) else {
            return Some(self.next_seq);
        };
        let i = c.meta.partition_point(|m| m.nanos < nanos);
        Some(c.first_seq + i as u64)
    }

    /// The sequence number whose frame holds byte `at` of the frames from `seq` on in its
    /// chunk, and how far into that frame `at` is.
    pub fn locate(&self, seq: u64, at: usize) -> (u64, usize) {
        let Some(ci) = self.chunk_of(seq) else {
            return (seq, 0);
        };
        let c = &self.chunks[ci];
        let Some(i) = c.index(seq) else {
            return (seq, 0);
        };
        let abs = c.meta[i].start as usize + at;
        // The last frame starting at or before `abs`.
        let j = c.meta.partition_point(|m| m.start as usize <= abs) - 1;
        let (start, end) = c.frame_range(j);
        if abs >= end {
            (c.first_seq + j as u64 + 1, 0)
        } else {
            (c.first_seq + j as u64, abs - start)
        }
    }

    /// Events from `seq` on, oldest first.
    pub fn iter_from(&self, seq: u64) -> impl Iterator<Item = Stored<'_>> {
        let first = self.chunk_of(seq).unwrap_or(self.chunks.len());
        self.chunks.iter().skip(first).flat_map(move |c| {
            let from = seq.saturating_sub(c.first_seq) as usize;
            (from..c.meta.len()).filter_map(move |i| stored(c, i))
        })
    }
}

impl Chunk {
    /// Number of events in it.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// True when it holds no event.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// The index of `seq` in it, if it holds it.
    pub fn position(&self, seq: u64) -> Option<usize> {
        self.index(seq)
    }

    /// The tag of its `i`th event (`i < len()`).
    pub fn tag(&self, i: usize) -> &str {
        let m = &self.meta[i];
        let start = m.start as usize + SEQ_HEADER;
        let bytes = &self.data[start..start + m.tag_len as usize];
        // Tags enter the ring only as `&str` (see `Ring::push`) and the buffer is never
        // written in place afterwards; the check stays for a ring built wrong, at the cost
        // of a scan per listener per event only in debug builds.
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // SAFETY: `push` copied these bytes from a `&str` and nothing modifies them since.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The frames of events `i..j` of it, side by side, as one slice.
    pub fn frames(&self, i: usize, j: usize) -> &[u8] {
        let start = self.meta[i].start as usize;
        let end = self
            .meta
            .get(j)
            .map_or(self.data.len(), |m| m.start as usize);
        &self.data[start..end]
    }

    /// Its events from `seq` on.
    pub fn iter_from(&self, seq: u64) -> impl Iterator<Item = Stored<'_>> {
        let from = seq.saturating_sub(self.first_seq) as usize;
        (from..self.meta.len()).filter_map(move |i| stored(self, i))
    }

    /// The stored frame of `seq` from byte `off` on.
    pub fn frame_rest(&self, seq: u64, off: usize) -> &[u8] {
        match self.index(seq) {
            Some(i) => {
                let (start, end) = self.frame_range(i);
                &self.data[(start + off).min(end)..end]
            }
            None => &[],
        }
    }
}

fn stored(c: &Chunk, i: usize) -> Option<Stored<'_>> {
    let m = c.meta.get(i)?;
    let (start, end) = c.frame_range(i);
    let frame = c.data.get(start..end)?;
    let event = frame.get(SEQ_HEADER..)?;
    let tag = c.tag(i);
    Some(Stored {
        seq: c.first_seq + i as u64,
        tag,
        event,
        frame,
        nanos: m.nanos,
        chain: m.chain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::kind;

    fn ev(tag: &str, n: usize) -> Vec<u8> {
        let mut v = tag.as_bytes().to_vec();
        v.extend_from_slice(wire::TAGEND);
        v.extend(std::iter::repeat_n(b'x', n));
        v
    }

    fn push(r: &mut Ring, tag: &str, n: usize, nanos: u64) -> u64 {
        let e = ev(tag, n);
        while r.must_evict(e.len()) {
            r.evict();
        }
        r.push(tag, &e, nanos, 0)
    }

    #[test]
    fn events_keep_their_order_and_numbers_and_read_back() {
        let mut r = Ring::new(1 << 20, 7);
        for i in 0..1000 {
            assert_eq!(push(&mut r, &format!("t/{i}"), 10, i), 7 + i);
        }
        let got: Vec<_> = r
            .iter_from(500)
            .map(|s| (s.seq, s.tag.to_string()))
            .collect();
        assert_eq!(got.len(), 507);
        assert_eq!(got[0], (500, "t/493".to_string()));
        let s = r.get(906).unwrap();
        assert_eq!(s.tag, "t/899");
        assert_eq!(&s.frame[5..13], &906u64.to_be_bytes());
        assert_eq!(s.frame[4], kind::SEQ_EVENT);
        let len = u32::from_be_bytes(s.frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len + 4, s.frame.len());
        assert_eq!(r.seq_at_time(300), Some(307));
        assert_eq!(r.seq_at_time(5000), Some(r.next_seq()));
    }

    #[test]
    fn the_ring_stays_within_its_bound_dropping_whole_old_chunks() {
        let mut r = Ring::new(64 * 1024, 1);
        for i in 0..10_000 {
            push(&mut r, "t", 100, i);
            assert!(r.bytes() <= 64 * 1024, "{} bytes", r.bytes());
        }
        assert_eq!(r.next_seq(), 10_001);
        assert!(r.first_seq() > 9000, "only recent events are held");
        assert!(r.get(r.first_seq() - 1).is_none());
        assert!(r.get(r.first_seq()).is_some());
        assert_eq!(r.seq_at_time(0), None, "older than anything held");
    }

    #[test]
    fn an_event_bigger_than_a_chunk_gets_its_own() {
        let mut r = Ring::new(8 << 20, 1);
        push(&mut r, "small", 10, 0);
        let big = push(&mut r, "big", 3 << 20, 0);
        push(&mut r, "after", 10, 0);
        assert_eq!(r.get(big).unwrap().event.len(), 3 + 2 + (3 << 20));
        assert_eq!(r.get(big + 1).unwrap().tag, "after");
    }

    #[test]
    fn locate_maps_written_bytes_back_to_frames() {
        let mut r = Ring::new(1 << 20, 1);
        for _ in 0..10 {
            push(&mut r, "t", 20, 0);
        }
        let flen = r.get(1).unwrap().frame.len();
        let (c, first) = r.chunks_from(3).next().unwrap();
        assert_eq!((first, c.len()), (2, 10));
        let run = c.frames(first, c.len());
        assert_eq!(run.len(), flen * 8);
        assert_eq!(r.locate(3, 0), (3, 0));
        assert_eq!(r.locate(3, flen), (4, 0));
        assert_eq!(r.locate(3, flen + 5), (4, 5));
        assert_eq!(r.locate(3, run.len()), (11, 0));
    }
}
