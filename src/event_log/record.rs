//! The event log's on-disk format, over byte slices and without I/O: a segment file is a
//! 20-byte header and then records, back to back.
//!
//! ```text
//! header  magic "BRINELOG" (8) | version u32 LE (4) | first seq u64 LE (8)
//! record  payload length u32 LE (4) | crc32 u32 LE (4) | seq u64 LE (8) | time u64 LE (8) | payload
//! ```
//!
//! The crc covers the seq, the time and the payload; the length is not covered but is
//! bounded by [`MAX_PAYLOAD`] and, when damaged, makes the crc check fail on the wrong bytes
//! (or the record run past the end), so a damaged length is caught too. The bytes come
//! from disk and may be anything: every length is checked once, before any slicing, and
//! nothing here panics.

use std::fmt;

/// The first eight bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"BRINELOG";
/// The format version this code writes and reads.
pub const VERSION: u32 = 1;
/// Bytes in a segment header.
pub const HEADER_LEN: usize = 20;
/// Bytes in a record's header, before its payload.
pub const RECORD_HEADER_LEN: usize = 24;
/// The largest payload a record may carry: no event comes near it, so a longer length on
/// disk is damage, not data, and is never allocated.
pub const MAX_PAYLOAD: usize = 256 << 20;

/// Why a segment header or a record to encode was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer bytes than a header.
    ShortHeader {
        /// How many bytes there were.
        len: usize,
    },
    /// The file does not start with [`MAGIC`].
    BadMagic,
    /// A version this code does not read.
    BadVersion(u32),
    /// The header names sequence number 0, which is never written (numbering starts at 1).
    ZeroFirstSeq,
    /// A payload longer than [`MAX_PAYLOAD`].
    TooLong {
        /// The payload's length.
        len: usize,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::ShortHeader { len } => {
                write!(
                    f,
                    "shorter than the {HEADER_LEN}-byte segment header ({len} bytes)"
                )
            }
            RecordError::BadMagic => f.write_str("not an event log segment (bad magic)"),
            RecordError::BadVersion(v) => {
                write!(
                    f,
                    "segment format version {v}, this brine reads version {VERSION}"
                )
            }
            RecordError::ZeroFirstSeq => {
                f.write_str("header names first sequence number 0 (numbering starts at 1)")
            }
            RecordError::TooLong { len } => {
                write!(
                    f,
                    "an event of {len} bytes is over the {MAX_PAYLOAD}-byte record limit"
                )
            }
        }
    }
}

impl std::error::Error for RecordError {}

/// What is wrong with a record that is all there but cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The stored checksum does not match the bytes.
    BadCrc {
        /// The checksum on disk.
        stored: u32,
        /// The checksum of the bytes on disk.
        computed: u32,
    },
    /// A payload length over [`MAX_PAYLOAD`].
    TooLong {
        /// The length on disk.
        len: u32,
    },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::BadCrc { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch (stored {stored:08x}, computed {computed:08x})"
                )
            }
            Damage::TooLong { len } => {
                write!(
                    f,
                    "record length {len} is over the {MAX_PAYLOAD}-byte limit"
                )
            }
        }
    }
}

/// The record at the start of a buffer, as far as the buffer tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole record whose checksum holds.
    Record {
        /// Its sequence number.
        seq: u64,
        /// Its time, unix nanoseconds.
        nanos: u64,
        /// The event's bytes, borrowed from the buffer.
        payload: &'a [u8],
        /// Bytes the record takes, header included: where the next one starts.
        len: usize,
    },
    /// The buffer ends inside a record (an empty buffer too); at the end of a file, a torn
    /// write.
    Incomplete {
        /// Bytes the record needs from its start: its whole length once the header is
        /// there, else the header's.
        needed: usize,
    },
    /// The record is there but damaged.
    Corrupt(Damage),
}

/// A little-endian reader over a slice that says `None` instead of running off the end.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (a, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*a))
    }

    fn u64(&mut self) -> Option<u64> {
        let (a, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*a))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(a)
    }
}

/// The header of a segment whose first record is `first_seq`.
pub fn encode_header(first_seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    let (magic, rest) = h.split_at_mut(MAGIC.len());
    magic.copy_from_slice(&MAGIC);
    let (version, seq) = rest.split_at_mut(4);
    version.copy_from_slice(&VERSION.to_le_bytes());
    seq.copy_from_slice(&first_seq.to_le_bytes());
    h
}

/// The first sequence number a segment header names; `buf` may run on past the header.
pub fn parse_header(buf: &[u8]) -> Result<u64, RecordError> {
    let mut b = Bytes(buf);
    let short = RecordError::ShortHeader { len: buf.len() };
    let magic = b.take(MAGIC.len()).ok_or(short.clone())?;
    if magic != MAGIC {
        return Err(RecordError::BadMagic);
    }
    let version = b.u32().ok_or(short.clone())?;
    if version != VERSION {
        return Err(RecordError::BadVersion(version));
    }
    match b.u64().ok_or(short)? {
        0 => Err(RecordError::ZeroFirstSeq),
        seq => Ok(seq),
    }
}

/// The checksum a record carries: over its seq, time and payload.
fn checksum(seq: u64, nanos: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(&nanos.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Appends one record to `out` and returns the bytes it took; a payload over
/// [`MAX_PAYLOAD`] is refused (and nothing appended), since the decoder would call it
/// damage.
pub fn put_record(
    out: &mut Vec<u8>,
    seq: u64,
    nanos: u64,
    payload: &[u8],
) -> Result<usize, RecordError> {
    let too_long = RecordError::TooLong { len: payload.len() };
    if payload.len() > MAX_PAYLOAD {
        return Err(too_long);
    }
    let len = u32::try_from(payload.len()).map_err(|_| too_long)?;
    out.reserve(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(seq, nanos, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&nanos.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(RECORD_HEADER_LEN + payload.len())
}

/// Decodes the record at the start of `buf`.
pub fn next_record(buf: &[u8]) -> Decoded<'_> {
    let incomplete = Decoded::Incomplete {
        needed: RECORD_HEADER_LEN,
    };
    let mut b = Bytes(buf);
    let (Some(len), Some(stored), Some(seq), Some(nanos)) = (b.u32(), b.u32(), b.u64(), b.u64())
    else {
        return incomplete;
    };
    // The length is checked before it sizes anything: a damaged one must not make the
    // caller read (or allocate) gigabytes looking for the rest.
    let Some(plen) = usize::try_from(len).ok().filter(|&l| l <= MAX_PAYLOAD) else {
        return Decoded::Corrupt(Damage::TooLong { len });
    };
    let Some(payload) = b.take(plen) else {
        return Decoded::Incomplete {
            needed: RECORD_HEADER_LEN + plen,
        };
    };
    let computed = checksum(seq, nanos, payload);
    if computed != stored {
        return Decoded::Corrupt(Damage::BadCrc { stored, computed });
    }
    Decoded::Record {
        seq,
        nanos,
        payload,
        len: RECORD_HEADER_LEN + plen,
    }
}

/// Fuzz entry: any bytes as a segment header and as a run of records; it must never panic,
/// and every record it accepts must encode back to the very bytes it came from.
pub fn fuzz_decode(data: &[u8]) {
    // A whole segment (header, then records) or bare records.
    let mut rest = match parse_header(data) {
        Ok(_) => data.get(HEADER_LEN..).unwrap_or_default(),
        Err(_) => data,
    };
    while let Decoded::Record {
        seq,
        nanos,
        payload,
        len,
    } = next_record(rest)
    {
        let mut again = Vec::new();
        let put = put_record(&mut again, seq, nanos, payload);
        assert!(put == Ok(len) && rest.get(..len) == Some(&again[..]));
        rest = rest.get(len..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so a failing buffer can be found again.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn record(seq: u64, nanos: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        assert_eq!(
            put_record(&mut out, seq, nanos, payload),
            Ok(24 + payload.len())
        );
        out
    }

    #[test]
    fn header_round_trips_and_refuses_what_is_not_one() {
        let h = encode_header(42);
        assert_eq!(&h[..8], b"BRINELOG");
        assert_eq!(parse_header(&h), Ok(42));
        let mut long = h.to_vec();
        long.extend_from_slice(b"records follow");
        assert_eq!(parse_header(&long), Ok(42));
        assert_eq!(
            parse_header(&h[..19]),
            Err(RecordError::ShortHeader { len: 19 })
        );
        assert_eq!(parse_header(b""), Err(RecordError::ShortHeader { len: 0 }));
        let mut bad = h;
        bad[0] = b'X';
        assert_eq!(parse_header(&bad), Err(RecordError::BadMagic));
        let mut v2 = h;
        v2[8] = 2;
        assert_eq!(parse_header(&v2), Err(RecordError::BadVersion(2)));
        assert_eq!(
            parse_header(&encode_header(0)),
            Err(RecordError::ZeroFirstSeq)
        );
        assert_eq!(
            RecordError::BadMagic.to_string(),
            "not an event log segment (bad magic)"
        );
    }

    #[test]
    fn records_round_trip_back_to_back() {
        let mut buf = record(7, 1_700_000_000_000_000_000, b"salt/job/1/ret\n\n{}");
        buf.extend(record(8, 1_700_000_000_000_000_001, b""));
        match next_record(&buf) {
            Decoded::Record {
                seq: 7,
                nanos: 1_700_000_000_000_000_000,
                payload,
                len,
            } => {
                assert_eq!(payload, b"salt/job/1/ret\n\n{}");
                assert_eq!(len, 24 + 18);
                assert!(matches!(
                    next_record(&buf[len..]),
                    Decoded::Record {
                        seq: 8,
                        payload: b"",
                        len: 24,
                        ..
                    }
                ));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_truncation_is_incomplete_and_every_flip_is_caught() {
        let rec = record(3, 99, b"an event payload");
        for cut in 0..rec.len() {
            let needed = if cut < 24 { 24 } else { rec.len() };
            assert_eq!(next_record(&rec[..cut]), Decoded::Incomplete { needed });
        }
        for at in 0..rec.len() {
            for bit in 0..8 {
                let mut bad = rec.clone();
                bad[at] ^= 1 << bit;
                // A flipped length reads as a longer record (incomplete here) or a shorter
                // one whose checksum fails; anything else fails its checksum.
                assert!(
                    !matches!(next_record(&bad), Decoded::Record { .. }),
                    "flip at byte {at} bit {bit} accepted"
                );
            }
        }
    }

    #[test]
    fn absurd_lengths_are_damage_not_allocations() {
        let mut rec = record(1, 1, b"x");
        rec[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            next_record(&rec),
            Decoded::Corrupt(Damage::TooLong { len: u32::MAX })
        );
        let big = vec![0u8; MAX_PAYLOAD + 1];
        let mut out = Vec::new();
        assert_eq!(
            put_record(&mut out, 1, 1, &big),
            Err(RecordError::TooLong {
                len: MAX_PAYLOAD + 1
            })
        );
        assert!(out.is_empty());
    }

    #[test]
    fn decoder_survives_arbitrary_bytes() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for round in 0..20_000 {
            let len = (xorshift(&mut state) % 96) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            // Some buffers start like a plausible record so the checksum path runs too.
            if round % 3 == 0 && buf.len() >= 4 {
                let plen = (buf.len() as u32).saturating_sub(24);
                buf[..4].copy_from_slice(&plen.to_le_bytes());
            }
            fuzz_decode(&buf);
        }
        let mut valid = record(1, 2, b"abc");
        valid.extend(record(2, 3, b"defg"));
        for cut in 0..=valid.len() {
            fuzz_decode(&valid[..cut]);
        }
        fuzz_decode(&encode_header(5));
    }
}
