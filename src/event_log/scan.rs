//! Reading a segment's records in order, a chunk at a time: a segment may be bigger than
//! is worth holding in memory, and the newest one may still be growing.

use super::record::{self, Damage, Decoded};
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

/// Bytes asked of the file per read when no longer record needs more.
const CHUNK: usize = 256 << 10;

/// What is next in the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// A good record; its payload is [`Scanner::payload`] of the range.
    Record {
        offset: u64,
        seq: u64,
        nanos: u64,
        payload: Range<usize>,
    },
    /// The file ends at a record boundary (for now, if it is still being written).
    End,
    /// The file ends inside the record at `offset`.
    Incomplete { offset: u64 },
    /// The record at `offset` is damaged.
    Corrupt { offset: u64, damage: Damage },
}

/// A read position in a segment and the bytes read past it. It reads with explicit
/// offsets (pread), so the end of the file is never sticky: a later step sees what was
/// appended since.
#[derive(Debug)]
pub(super) struct Scanner {
    buf: Vec<u8>,
    /// Where in `buf` the next record starts.
    at: usize,
    /// The file offset of `buf[0]`.
    base: u64,
}

impl Scanner {
    /// A scanner whose first record starts at `offset`.
    pub(super) fn new(offset: u64) -> Scanner {
        Scanner {
            buf: Vec::new(),
            at: 0,
            base: offset,
        }
    }

    /// The file offset of the next record.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.at as u64
    }

    /// The payload bytes of the last record stepped over.
    pub(super) fn payload(&self, range: Range<usize>) -> &[u8] {
        self.buf.get(range).unwrap_or_default()
    }

    /// Decodes the next record, reading more of `file` as it needs to.
    pub(super) fn step(&mut self, file: &File) -> io::Result<Step> {
        loop {
            let rest = self.buf.get(self.at..).unwrap_or_default();
            match record::next_record(rest) {
                Decoded::Record {
                    seq,
                    nanos,
                    payload,
                    len,
                } => {
                    let offset = self.offset();
                    let end = self.at + len;
                    let payload = end - payload.len()..end;
                    self.at = end;
                    return Ok(Step::Record {
                        offset,
                        seq,
                        nanos,
                        payload,
                    });
                }
                Decoded::Corrupt(damage) => {
                    return Ok(Step::Corrupt {
                        offset: self.offset(),
                        damage,
                    })
                }
                Decoded::Incomplete { needed } => {
                    if !self.fill(file, needed)? {
                        return Ok(if self.at >= self.buf.len() {
                            Step::End
                        } else {
                            Step::Incomplete {
                                offset: self.offset(),
                            }
                        });
                    }
                }
            }
        }
    }

    /// Reads until `needed` bytes follow the next record's start; false when the file
    /// ends first. `needed` is at most a record's bounded length, so this never allocates
    /// more than the largest valid record.
    fn fill(&mut self, file: &File, needed: usize) -> io::Result<bool> {
        if self.at > 0 {
            self.buf.drain(..self.at.min(self.buf.len()));
            self.base += self.at as u64;
            self.at = 0;
        }
        let target = needed.max(CHUNK);
        while self.buf.len() < needed {
            let old = self.buf.len();
            self.buf.resize(target, 0);
            let read = self
                .buf
                .get_mut(old..)
                .map_or(Ok(0), |spare| file.read_at(spare, self.base + old as u64));
            match read {
                Ok(n) => {
                    self.buf.truncate(old + n);
                    if n == 0 {
                        return Ok(false);
                    }
                }
                Err(e) => {
                    self.buf.truncate(old);
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
        Ok(true)
    }
}
