//! The event wire format: `tag` + `"\n\n"` + msgpack(map), carried in length-prefixed
//! frames on stream sockets.
//!
//! Decoding follows smoltcp's `wire` habit: one checked constructor validates the bytes
//! (tag, separator, that the body is exactly one msgpack map), after which the accessors
//! cannot fail on structure. The tag and body are borrowed from the frame; the body is
//! only parsed into values when someone asks for the data.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The separator between a tag and its msgpack body (Salt's `TAGEND`).
pub const TAGEND: &[u8] = b"\n\n";

/// Salt's default `max_event_size` in bytes.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 1_048_576;

/// What replaces a value trimmed out of an oversize event.
pub const VALUE_TRIMMED: &str = "VALUE_TRIMMED";

/// Length of a frame header: a big-endian u32 holding the length of kind + payload.
pub const FRAME_HEADER: usize = 4;

/// Deepest msgpack nesting a decoder walks before calling the body hostile.
const MAX_DEPTH: usize = 64;

/// Every way an event or frame can be bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The tag is empty.
    EmptyTag,
    /// The tag holds `"\n\n"`, which would split it on decode.
    TagHasTagend,
    /// The tag bytes are not UTF-8.
    TagNotUtf8,
    /// No `"\n\n"` separates tag and body.
    NoTagend,
    /// The body does not start with a msgpack map.
    BodyNotMap,
    /// The msgpack body is malformed at this byte offset.
    BadMsgpack(usize),
    /// The msgpack body nests deeper than the decoder allows.
    TooDeep,
    /// Bytes follow the msgpack map.
    TrailingBytes(usize),
    /// Valid msgpack that listeners cannot read (a non-string key, binary data), at this
    /// byte offset of the data.
    NotListenable(usize, &'static str),
    /// The event or frame is larger than the limit.
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A frame with length zero (no kind byte).
    EmptyFrame,
    /// The data could not be (de)serialized as requested.
    Data(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::EmptyTag => write!(f, "empty tag"),
            WireError::TagHasTagend => write!(f, "tag contains \"\\n\\n\""),
            WireError::TagNotUtf8 => write!(f, "tag is not UTF-8"),
            WireError::NoTagend => write!(f, "no \"\\n\\n\" between tag and data"),
            WireError::BodyNotMap => write!(f, "event data is not a msgpack map"),
            WireError::BadMsgpack(at) => write!(f, "malformed msgpack at byte {at} of the data"),
            WireError::TooDeep => write!(f, "event data nests deeper than {MAX_DEPTH} levels"),
            WireError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the event data"),
            WireError::NotListenable(at, what) => {
                write!(
                    f,
                    "event data holds {what} at byte {at}, which listeners cannot read"
                )
            }
            WireError::TooLarge { size, max } => {
                write!(f, "event of {size} bytes is over max_event_size {max}")
            }
            WireError::EmptyFrame => write!(f, "empty frame"),
            WireError::Data(msg) => write!(f, "event data: {msg}"),
        }
    }
}

impl std::error::Error for WireError {}

/// A validated event borrowing its tag and raw msgpack body from a buffer.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    tag: &'a str,
    body: &'a [u8],
    raw: &'a [u8],
}

impl<'a> Event<'a> {
    /// Validates `bytes` as one event of at most `max` bytes; no data is parsed.
    pub fn decode(bytes: &'a [u8], max: usize) -> Result<Event<'a>, WireError> {
        if bytes.len() > max {
            return Err(WireError::TooLarge {
                size: bytes.len(),
                max,
            });
        }
        let (split, ascii) = find_tagend(bytes).ok_or(WireError::NoTagend)?;
        if split == 0 {
            return Err(WireError::EmptyTag);
        }
        let tag_bytes = &bytes[..split];
        let tag = if ascii {
            // SAFETY: every byte of the tag is below 0x80, so it is ASCII and valid UTF-8.
            unsafe { std::str::from_utf8_unchecked(tag_bytes) }
        } else {
            std::str::from_utf8(tag_bytes).map_err(|_| WireError::TagNotUtf8)?
        };
        let body = &bytes[split + TAGEND.len()..];
        match body.first() {
            Some(0x80..=0x8f) | Some(0xde) | Some(0xdf) => {}
            _ => return Err(WireError::BodyNotMap),
        }
        let end = skip_value(body, 0, 0)?;
        if end != body.len() {
            return Err(WireError::TrailingBytes(body.len() - end));
        }
        Ok(Event {
            tag,
            body,
            raw: bytes,
        })
    }

    /// The event's tag.
    pub fn tag(&self) -> &'a str {
        self.tag
    }

    /// The raw msgpack body (a map).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The whole encoded event, tag and body, as it arrived.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Typed access to the data; strings may borrow from the frame.
    pub fn data<T: Deserialize<'a>>(&self) -> Result<T, WireError> {
        rmp_serde::from_slice(self.body).map_err(|e| WireError::Data(e.to_string()))
    }

    /// The data as a dynamic map.
    pub fn value(&self) -> Result<Map<String, Value>, WireError> {
        self.data()
    }
}

// memchr finds each '\n' a word at a time; a tag rarely holds one, so one call usually does.
// Whether the tag is ASCII (std checks that a word at a time too) spares the UTF-8 check.
fn find_tagend(bytes: &[u8]) -> Option<(usize, bool)> {
    let mut from = 0;
    loop {
        let i = from + memchr::memchr(b'\n', bytes.get(from..)?)?;
        if bytes.get(i + 1) == Some(&b'\n') {
            return Some((i, bytes[..i].is_ascii()));
        }
        from = i + 1;
    }
}

fn be_len(buf: &[u8], pos: usize, width: usize) -> Result<usize, WireError> {
    match buf.get(pos..pos + width) {
        Some(b) => Ok(b.iter().fold(0usize, |acc, x| (acc << 8) | *x as usize)),
        None => Err(WireError::BadMsgpack(pos)),
    }
}

const NOT_UTF8: &str = "a string that is not UTF-8";

/// Whether `b` is UTF-8; ASCII (nearly every key and tag value) is checked a word at a time
/// without the general decoder's set-up.
#[inline]
fn utf8(b: &[u8]) -> bool {
    b.is_ascii() || std::str::from_utf8(b).is_ok()
}

/// Walks one msgpack value starting at `pos` without allocating and without recursion;
/// returns where it ends. Each level of nesting keeps a count of the items still to skip.
///
/// Only what every listener can read passes: strings are UTF-8, map keys are strings, and
/// there are no binary or extension values, so the master never forwards an event that its
/// own clients (which read data as JSON-like maps) would have to refuse.
fn skip_value(buf: &[u8], pos: usize, _depth: usize) -> Result<usize, WireError> {
    // Items left to read at each open level. Left uninitialized: only levels up to `depth`
    // are ever read, and each is written when it opens (zeroing the whole stack was a good
    // part of every decode).
    let mut left = [const { std::mem::MaybeUninit::<u32>::uninit() }; MAX_DEPTH + 1];
    // Bit `d` set: level `d` is a map, whose items alternate key, value.
    let mut maps: u128 = 0;
    let mut depth = 0;
    left[0].write(1);
    let mut p = pos;
    loop {
        // SAFETY: `left[depth]` was written when level `depth` opened (level 0 above).
        let mut n = unsafe { left[depth].assume_init() };
        while n == 0 {
            if depth == 0 {
                return Ok(p);
            }
            maps &= !(1u128 << depth);
            depth -= 1;
            // SAFETY: as above, for the enclosing level.
            n = unsafe { left[depth].assume_init() };
        }
        left[depth].write(n - 1);
        // In a map the count left is even exactly before each key.
        let key = maps & (1u128 << depth) != 0 && n % 2 == 0;
        let at = p;
        let marker = *buf.get(p).ok_or(WireError::BadMsgpack(p))?;
        p += 1;
        // The common case first: a short string (map keys, most values).
        if marker & 0xe0 == 0xa0 {
            let end = p + (marker & 0x1f) as usize;
            if end > buf.len() {
                return Err(WireError::BadMsgpack(at));
            }
            if !utf8(&buf[p..end]) {
                return Err(WireError::NotListenable(at, NOT_UTF8));
            }
            p = end;
            continue;
        }
        if key && !matches!(marker, 0xd9..=0xdb) {
            return Err(WireError::NotListenable(
                at,
                "a map key that is not a string",
            ));
        }
        // (bytes to skip after the marker, items to descend into)
        let (skip, items) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => continue,
            0x80..=0x8f => (0, (marker & 0x0f) as usize * 2),
            0x90..=0x9f => (0, (marker & 0x0f) as usize),
            0xd9..=0xdb => {
                let width = 1 << (marker - 0xd9);
                let len = be_len(buf, p, width)?;
                let start = p + width;
                let end = start.checked_add(len).filter(|&e| e <= buf.len());
                let Some(end) = end else {
                    return Err(WireError::BadMsgpack(at));
                };
                if !utf8(&buf[start..end]) {
                    return Err(WireError::NotListenable(at, NOT_UTF8));
                }
                (width + len, 0)
            }
            0xc4..=0xc9 | 0xd4..=0xd8 => {
                return Err(WireError::NotListenable(at, "a binary or extension value"))
            }
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xdc => (2, be_len(buf, p, 2)?),
            0xdd => (4, be_len(buf, p, 4)?),
            0xde => (2, be_len(buf, p, 2)? * 2),
            0xdf => (4, be_len(buf, p, 4)?.saturating_mul(2)),
            0xc1 | 0xa0..=0xbf => return Err(WireError::BadMsgpack(at)),
        };
        p = match p.checked_add(skip) {
            Some(end) if end <= buf.len() => end,
            _ => return Err(WireError::BadMsgpack(at)),
        };
        if items > 0 {
            // Every item takes at least one byte: refuse counts the buffer cannot hold.
            if items > buf.len() - p || items > u32::MAX as usize {
                return Err(WireError::BadMsgpack(at));
            }
            if depth == MAX_DEPTH {
                return Err(WireError::TooDeep);
            }
            depth += 1;
            left[depth].write(items as u32);
            if matches!(marker, 0x80..=0x8f | 0xde | 0xdf) {
                maps |= 1u128 << depth;
            }
        }
    }
}

/// Encodes an event as it is: the data must serialize to a msgpack map.
pub fn encode<T: Serialize + ?Sized>(tag: &str, data: &T) -> Result<Vec<u8>, WireError> {
    check_tag(tag)?;
    let mut out = Vec::with_capacity(tag.len() + 2 + 64);
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(TAGEND);
    rmp_serde::encode::write_named(&mut out, data).map_err(|e| WireError::Data(e.to_string()))?;
    match out.get(tag.len() + 2) {
        Some(0x80..=0x8f) | Some(0xde) | Some(0xdf) => {}
        _ => return Err(WireError::BodyNotMap),
    }
    // The same rule as for events fired by clients: nothing a listener would refuse (data
    // nested past the limit, from a runner's arguments) leaves the daemon.
    skip_value(&out[tag.len() + 2..], 0, 0)?;
    Ok(out)
}

/// Rejects tags that cannot survive a decode.
pub fn check_tag(tag: &str) -> Result<(), WireError> {
    if tag.is_empty() {
        Err(WireError::EmptyTag)
    } else if tag.as_bytes().windows(2).any(|w| w == TAGEND) {
        Err(WireError::TagHasTagend)
    } else {
        Ok(())
    }
}

/// Fires as Salt's `fire_event` does: adds `_stamp`, then trims to `max` bytes.
pub fn encode_fired(
    tag: &str,
    mut data: Map<String, Value>,
    stamp: String,
    max: usize,
) -> Result<Vec<u8>, WireError> {
    check_tag(tag)?;
    data.insert("_stamp".into(), Value::String(stamp));
    let overhead = tag.len() + TAGEND.len();
    let budget = max.saturating_sub(overhead);
    if msgpack_len(&Value::Object(data.clone())) > budget {
        trim(&mut data, budget);
    }
    let out = encode(tag, &data)?;
    if out.len() > max {
        return Err(WireError::TooLarge {
            size: out.len(),
            max,
        });
    }
    Ok(out)
}

/// Salt's `trim_dict` by serialized size: values over a shrinking share of the budget
/// (50%, 40%, ... 0%) become `VALUE_TRIMMED`, descending into maps, until the map fits.
fn trim(data: &mut Map<String, Value>, budget: usize) {
    fn pass(map: &mut Map<String, Value>, limit: usize, top: bool) {
        for (key, value) in map.iter_mut() {
            if top && key == "_stamp" {
                continue;
            }
            if let Value::Object(inner) = value {
                pass(inner, limit, false);
            } else if msgpack_len(value) > limit {
                *value = Value::String(VALUE_TRIMMED.into());
            }
        }
    }
    for percent in [50usize, 40, 30, 20, 10, 0] {
        pass(data, budget * percent / 100, true);
        if msgpack_len(&Value::Object(data.clone())) <= budget {
            return;
        }
    }
}

/// The exact number of bytes rmp-serde writes for a value.
pub fn msgpack_len(v: &Value) -> usize {
    fn header(n: usize, fix: usize) -> usize {
        if n < fix {
            1
        } else if n <= u16::MAX as usize {
            3
        } else {
            5
        }
    }
    match v {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                match u {
                    0..=127 => 1,
                    128..=0xff => 2,
                    0x100..=0xffff => 3,
                    0x1_0000..=0xffff_ffff => 5,
                    _ => 9,
                }
            } else if let Some(i) = n.as_i64() {
                match i {
                    -32..=-1 => 1,
                    -128..=-33 => 2,
                    -32_768..=-129 => 3,
                    -2_147_483_648..=-32_769 => 5,
                    _ => 9,
                }
            } else {
                9
            }
        }
        Value::String(s) => {
            let n = s.len();
            n + if n < 32 {
                1
            } else if n <= 0xff {
                2
            } else if n <= 0xffff {
                3
            } else {
                5
            }
        }
        Value::Array(a) => header(a.len(), 16) + a.iter().map(msgpack_len).sum::<usize>(),
        Value::Object(m) => {
            header(m.len(), 16)
                + m.iter()
                    .map(|(k, v)| msgpack_len(&Value::String(k.clone())) + msgpack_len(v))
                    .sum::<usize>()
        }
    }
}

/// Frame kinds on the local Unix sockets.
pub mod kind {
    /// Client fires an event (payload: an encoded event).
    pub const FIRE: u8 = b'F';
    /// Client subscribes (payload: msgpack `{match_type, tag}`).
    pub const SUBSCRIBE: u8 = b'S';
    /// Client calls a function (payload: msgpack request map).
    pub const REQUEST: u8 = b'R';
    /// Daemon delivers an event (payload: an encoded event).
    pub const EVENT: u8 = b'E';
    /// Daemon answers a request (payload: msgpack reply map).
    pub const ANSWER: u8 = b'A';
    /// Daemon reports a bad frame (payload: UTF-8 message).
    pub const ERROR: u8 = b'X';
    /// Daemon to listener: an event with its sequence number (8 bytes, big-endian) first.
    pub const SEQ_EVENT: u8 = b'Q';
}

/// Appends one frame (header, kind, payload) to `out`.
pub fn put_frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let len = (payload.len() + 1) as u32;
    out.extend_from_slice(&len.to_be_bytes());
    out.push(kind);
    out.extend_from_slice(payload);
}

/// Appends the frame a listener receives for an event: `[len][Q][seq, u64 BE][event]`
/// (the ring stores exactly this; a replay from the log writes the same).
pub fn put_seq_event(out: &mut Vec<u8>, seq: u64, event: &[u8]) {
    let len = (1 + 8 + event.len()) as u32;
    out.extend_from_slice(&len.to_be_bytes());
    out.push(kind::SEQ_EVENT);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(event);
}

/// Splits the payload of a `Q` frame into its sequence number and the event.
pub fn split_seq(payload: &[u8]) -> Result<(u64, &[u8]), WireError> {
    match payload.split_first_chunk::<8>() {
        Some((seq, event)) => Ok((u64::from_be_bytes(*seq), event)),
        None => Err(WireError::Data(
            "a sequenced event shorter than its sequence number".into(),
        )),
    }
}

/// The tag of an event already validated once (the ring's, the log's): no body walk.
pub fn tag_of(event: &[u8]) -> Option<&str> {
    let (split, _) = find_tagend(event)?;
    std::str::from_utf8(&event[..split]).ok()
}

/// Builds one frame.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + 1 + payload.len());
    put_frame(&mut out, kind, payload);
    out
}

/// What a frame reader found next in its buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A complete frame: its kind and payload.
    Frame(u8, &'a [u8]),
    /// A frame over the limit was announced; its bytes are being skipped.
    Oversize(usize),
    /// A zero-length frame: it carries no kind.
    Empty,
}

/// Reassembles frames from a byte stream, skipping (not buffering) oversize ones so a
/// hostile peer cannot make the reader allocate past `max + header`.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    skip: usize,
    max: usize,
}

impl FrameReader {
    /// A reader whose frames carry at most `max` payload bytes (plus the kind byte).
    pub fn new(max: usize) -> FrameReader {
        FrameReader {
            buf: Vec::new(),
            start: 0,
            skip: 0,
            max,
        }
    }

    /// The payload limit in bytes.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Appends bytes read from the stream.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.compact();
        let mut bytes = bytes;
        if self.skip > 0 {
            let n = self.skip.min(bytes.len());
            self.skip -= n;
            bytes = &bytes[n..];
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Reads from `r` once into the buffer; returns what `read` returned.
    pub fn read_from<R: std::io::Read>(&mut self, r: &mut R) -> std::io::Result<usize> {
        self.compact();
        let old = self.buf.len();
        // Grow in steps so one read can take many small frames at once.
        let want = 64 * 1024;
        self.buf.resize(old + want, 0);
        match r.read(&mut self.buf[old..]) {
            Ok(n) => {
                self.buf.truncate(old + n);
                if self.skip > 0 {
                    let k = self.skip.min(n);
                    self.skip -= k;
                    self.buf.drain(old..old + k);
                }
                Ok(n)
            }
            Err(e) => {
                self.buf.truncate(old);
                Err(e)
            }
        }
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // A reader that once held a big frame gives the memory back when it is empty again.
        if self.buf.is_empty() && self.buf.capacity() > 256 * 1024 {
            self.buf = Vec::new();
        }
    }

    /// Frees what a finished read left allocated (call when nothing is mid-frame): an
    /// idle connection, such as one of a thousand listeners, holds no read buffer.
    pub fn shrink(&mut self) {
        self.compact();
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
    }

    /// True when a partial frame (or a skip) is pending.
    pub fn is_mid_frame(&self) -> bool {
        self.start < self.buf.len() || self.skip > 0
    }

    /// Bytes held, for memory accounting.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, if one is buffered.
    pub fn next_frame(&mut self) -> Option<Next<'_>> {
        let avail = &self.buf[self.start..];
        if avail.len() < FRAME_HEADER {
            return None;
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len == 0 {
            self.start += FRAME_HEADER;
            return Some(Next::Empty);
        }
        if len > self.max + 1 {
            let have = avail.len() - FRAME_HEADER;
            let drop = have.min(len);
            self.start += FRAME_HEADER + drop;
            self.skip = len - drop;
            return Some(Next::Oversize(len - 1));
        }
        if avail.len() < FRAME_HEADER + len {
            return None;
        }
        let s = self.start + FRAME_HEADER;
        self.start += FRAME_HEADER + len;
        Some(Next::Frame(self.buf[s], &self.buf[s + 1..s + len]))
    }
}

/// Fuzzing entry point: frames and events from arbitrary bytes. It must never panic,
/// and any event that decodes to a value re-encodes to an event with the same value.
pub fn fuzz_decode(data: &[u8]) {
    fn check(p: &[u8]) {
        let Ok(ev) = Event::decode(p, usize::MAX) else {
            return;
        };
        let Ok(value) = ev.value() else {
            return;
        };
        let again = match encode(ev.tag(), &value) {
            Ok(b) => b,
            Err(e) => panic!("a decoded event does not re-encode: {e}"),
        };
        let back = Event::decode(&again, usize::MAX).and_then(|e| e.value());
        assert_eq!(
            back.as_ref().ok(),
            Some(&value),
            "round trip changed the data"
        );
    }
    let mut r = FrameReader::new(1 << 16);
    r.extend(data);
    while let Some(next) = r.next_frame() {
        if let Next::Frame(_, payload) = next {
            check(payload);
        }
    }
    check(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn round_trip_borrows_tag_and_body() {
        let bytes = encode("salt/job/1/new", &json!({"a": 1, "b": "x"})).unwrap();
        let ev = Event::decode(&bytes, DEFAULT_MAX_EVENT_SIZE).unwrap();
        assert_eq!(ev.tag(), "salt/job/1/new");
        assert_eq!(ev.raw(), &bytes[..]);
        #[derive(Deserialize)]
        struct D<'a> {
            a: u32,
            b: &'a str,
        }
        let d: D = ev.data().unwrap();
        assert_eq!((d.a, d.b), (1, "x"));
        // The borrowed string points into the frame: no copy was made.
        let range = bytes.as_ptr_range();
        assert!(range.contains(&d.b.as_ptr()));
    }

    #[test]
    fn every_bad_input_is_a_typed_error() {
        let body = rmp_serde::to_vec(&json!({"a": 1})).unwrap();
        let with = |tag: &[u8], body: &[u8]| [tag, TAGEND, body].concat();
        let max = DEFAULT_MAX_EVENT_SIZE;
        assert_eq!(
            Event::decode(&with(b"", &body), max).unwrap_err(),
            WireError::EmptyTag
        );
        assert_eq!(
            Event::decode(b"no separator", max).unwrap_err(),
            WireError::NoTagend
        );
        assert_eq!(
            Event::decode(&with(b"\xff\xfe", &body), max).unwrap_err(),
            WireError::TagNotUtf8
        );
        let list = rmp_serde::to_vec(&json!([1, 2])).unwrap();
        assert_eq!(
            Event::decode(&with(b"t", &list), max).unwrap_err(),
            WireError::BodyNotMap
        );
        assert_eq!(
            Event::decode(&with(b"t", b""), max).unwrap_err(),
            WireError::BodyNotMap
        );
        let mut trailing = body.clone();
        trailing.push(0xc0);
        assert_eq!(
            Event::decode(&with(b"t", &trailing), max).unwrap_err(),
            WireError::TrailingBytes(1)
        );
        let truncated = &body[..body.len() - 1];
        assert!(matches!(
            Event::decode(&with(b"t", truncated), max),
            Err(WireError::BadMsgpack(_))
        ));
        assert!(matches!(
            Event::decode(&with(b"t", &body), 4),
            Err(WireError::TooLarge { max: 4, .. })
        ));
        // A tag holding "\n\n" splits early and leaves garbage as the body.
        assert_eq!(
            Event::decode(&with(b"a\n\nb", &body), max).unwrap_err(),
            WireError::BodyNotMap
        );
        assert_eq!(
            encode("a\n\nb", &json!({})).unwrap_err(),
            WireError::TagHasTagend
        );
        assert_eq!(encode("", &json!({})).unwrap_err(), WireError::EmptyTag);
        assert_eq!(encode("t", &json!([1])).unwrap_err(), WireError::BodyNotMap);
        // A map claiming four billion entries in six bytes.
        let huge = [0xdf, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert!(matches!(
            Event::decode(&with(b"t", &huge), max),
            Err(WireError::BadMsgpack(_))
        ));
        // Nesting past the depth cap.
        let mut deep = vec![0x81, 0xa1, b'k'];
        deep.extend(std::iter::repeat_n(0x91, 200));
        deep.push(0xc0);
        assert_eq!(
            Event::decode(&with(b"t", &deep), max).unwrap_err(),
            WireError::TooDeep
        );
    }

    #[test]
    fn what_a_listener_cannot_read_is_refused_and_the_rest_reads_back() {
        let with = |body: &[u8]| [&b"t"[..], TAGEND, body].concat();
        let max = DEFAULT_MAX_EVENT_SIZE;
        let refused = |body: &[u8]| match Event::decode(&with(body), max) {
            Err(WireError::NotListenable(..)) => {}
            other => panic!("{body:x?}: {other:?}"),
        };
        // {"k": <fixstr ff fe>}, and the same as str8.
        refused(&[0x81, 0xa1, b'k', 0xa2, 0xff, 0xfe]);
        refused(&[0x81, 0xa1, b'k', 0xd9, 0x02, 0xff, 0xfe]);
        // A non-UTF-8 key.
        refused(&[0x81, 0xa2, 0xc3, 0x28, 0x01]);
        // {1: 2}, {nil: 1}, {[]: 1}: keys that are not strings.
        refused(&[0x81, 0x01, 0x02]);
        refused(&[0x81, 0xc0, 0x01]);
        refused(&[0x81, 0x90, 0x01]);
        // A nested map's integer key, after a good pair.
        refused(&[0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0x81, 0x05, 0x06]);
        // bin8 and fixext1.
        refused(&[0x81, 0xa1, b'k', 0xc4, 0x01, 0x00]);
        refused(&[0x81, 0xa1, b'k', 0xd4, 0x01, 0x00]);
        // Integers, lists, nested maps and long strings are all fine, and read back.
        let good = rmp_serde::to_vec_named(&json!({
            "a": [1, -5, 3.5, null, true, "x".repeat(300), {"b": {"c": []}}],
            "é": "ü",
        }))
        .unwrap();
        let framed = with(&good);
        let ev = Event::decode(&framed, max).unwrap();
        assert_eq!(ev.value().unwrap()["é"], "ü");
        // 63 levels below the top map decode, and the listener reads them.
        let mut deep = vec![0x81, 0xa1, b'k'];
        deep.extend(std::iter::repeat_n(0x91, 62));
        deep.push(0xc0);
        let framed = with(&deep);
        let ev = Event::decode(&framed, max).unwrap();
        assert!(ev.value().is_ok());
    }

    #[test]
    fn fired_events_carry_a_stamp() {
        let now = UNIX_EPOCH + Duration::from_micros(1_714_557_600_000_000);
        let bytes = encode_fired(
            "t",
            map(json!({"x": 1})),
            crate::clock::stamp(now),
            DEFAULT_MAX_EVENT_SIZE,
        )
        .unwrap();
        let data = Event::decode(&bytes, DEFAULT_MAX_EVENT_SIZE)
            .unwrap()
            .value()
            .unwrap();
        assert_eq!(data["_stamp"], "2024-05-01T10:00:00.000000");
        assert_eq!(data["x"], 1);
    }

    #[test]
    fn oversize_events_are_trimmed_largest_first() {
        let now = SystemTime::now();
        let big = "x".repeat(3000);
        let data = map(json!({
            "small": "keep me",
            "big": big,
            "nested": {"inner_big": "y".repeat(2000), "inner_small": 1},
            "list": vec!["z"; 10],
        }));
        let bytes = encode_fired("trim/me", data, crate::clock::stamp(now), 2048).unwrap();
        assert!(bytes.len() <= 2048);
        let d = Event::decode(&bytes, 2048).unwrap().value().unwrap();
        assert_eq!(d["big"], VALUE_TRIMMED);
        assert_eq!(d["nested"]["inner_big"], VALUE_TRIMMED);
        assert_eq!(d["nested"]["inner_small"], 1);
        assert_eq!(d["small"], "keep me");
        assert_eq!(d["list"].as_array().map(|a| a.len()), Some(10));
        assert!(d["_stamp"].is_string());
    }

    #[test]
    fn msgpack_len_is_exact() {
        let samples = [
            json!(null),
            json!(true),
            json!(0),
            json!(127),
            json!(128),
            json!(65_536),
            json!(u64::MAX),
            json!(-1),
            json!(-33),
            json!(-40_000),
            json!(i64::MIN),
            json!(1.5),
            json!("a".repeat(31)),
            json!("a".repeat(32)),
            json!("a".repeat(300)),
            json!("a".repeat(70_000)),
            json!([1, 2, [3, {"k": "v"}]]),
            json!({"a": {"b": vec![1; 20]}}),
        ];
        for v in samples {
            assert_eq!(msgpack_len(&v), rmp_serde::to_vec(&v).unwrap().len(), "{v}");
        }
    }

    #[test]
    fn frame_reader_reassembles_and_skips_oversize() {
        let mut r = FrameReader::new(16);
        let mut stream = Vec::new();
        put_frame(&mut stream, kind::FIRE, b"hello");
        put_frame(&mut stream, kind::FIRE, &[b'x'; 40]);
        stream.extend_from_slice(&0u32.to_be_bytes());
        put_frame(&mut stream, kind::REQUEST, b"after");
        // Feed one byte at a time: frames split anywhere must reassemble.
        let mut got = Vec::new();
        for b in &stream {
            r.extend(std::slice::from_ref(b));
            while let Some(n) = r.next_frame() {
                got.push(match n {
                    Next::Frame(k, p) => format!("{}:{}", k as char, String::from_utf8_lossy(p)),
                    Next::Oversize(n) => format!("oversize {n}"),
                    Next::Empty => "empty".into(),
                });
            }
        }
        assert_eq!(got, ["F:hello", "oversize 40", "empty", "R:after"]);
        assert!(!r.is_mid_frame());
    }
}
