//! Replay: reading the log from a sequence number or a time, and following it as it grows.
//!
//! A reader needs only the directory, so it can run on its own thread while the writer
//! appends. It copes with the two things the writer does meanwhile: appending to the
//! newest segment (a record cut short at its end is "no more yet") and deleting the
//! oldest for retention (an open segment stays readable on Unix; one deleted before the
//! reader got to it is counted in [`LogReader::skipped`]).

use super::record::{self, HEADER_LEN, RECORD_HEADER_LEN};
use super::scan::{Scanner, Step};
use super::{io_err, list_segments, read_full_at, LogError};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// One event read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number.
    pub seq: u64,
    /// Its time, unix nanoseconds.
    pub nanos: u64,
    /// The event's bytes, as appended.
    pub event: Vec<u8>,
}

/// Where a reader starts: the first record at or after this.
#[derive(Debug, Clone, Copy)]
enum Start {
    Seq(u64),
    Time(u64),
}

/// The segment being read.
#[derive(Debug)]
struct Cursor {
    first_seq: u64,
    path: PathBuf,
    file: File,
    scan: Scanner,
    header_ok: bool,
    /// The seq the next record must carry.
    next: u64,
}

impl Cursor {
    fn open(first_seq: u64, path: PathBuf) -> io::Result<Cursor> {
        let file = File::open(&path)?;
        Ok(Cursor {
            first_seq,
            path,
            file,
            scan: Scanner::new(HEADER_LEN as u64),
            header_ok: false,
            next: first_seq,
        })
    }

    /// The next step in this segment, its header checked first.
    fn step(&mut self) -> Result<Step, LogError> {
        if !self.header_ok {
            let mut h = [0u8; HEADER_LEN];
            let n = read_full_at(&self.file, &mut h, 0).map_err(io_err(&self.path, "reading"))?;
            // A segment being created is empty for a moment.
            match n {
                0 => return Ok(Step::End),
                n if n < HEADER_LEN => return Ok(Step::Incomplete { offset: 0 }),
                _ => {}
            }
            let named = record::parse_header(&h).map_err(|e| LogError::BadHeader {
                path: self.path.clone(),
                why: e.to_string(),
            })?;
            if named != self.first_seq {
                return Err(LogError::BadHeader {
                    path: self.path.clone(),
                    why: format!(
                        "header names first sequence number {named} but the file name {}",
                        self.first_seq
                    ),
                });
            }
            self.header_ok = true;
        }
        self.scan
            .step(&self.file)
            .map_err(io_err(&self.path, "reading"))
    }
}

/// Reads the log in order from a starting point, following the writer. `Send`, and
/// independent of [`super::EventLog`]: it needs only the directory.
#[derive(Debug)]
pub struct LogReader {
    dir: PathBuf,
    cur: Option<Cursor>,
    /// Until the first record is returned, what it must reach; records before are passed.
    start: Option<Start>,
    skipped: u64,
}

impl LogReader {
    /// A reader whose first record is the first with seq `seq` or later.
    pub fn open_at_seq(dir: &Path, seq: u64) -> Result<LogReader, LogError> {
        LogReader::open(dir, Start::Seq(seq.max(1)))
    }

    /// A reader whose first record is the first with a time of `unix_nanos` or later.
    /// Segments are chosen by their first record's time, so this assumes times rise with
    /// seq (a clock stepped back can make it start later than the first such record).
    pub fn open_at_time(dir: &Path, unix_nanos: u64) -> Result<LogReader, LogError> {
        LogReader::open(dir, Start::Time(unix_nanos))
    }

    fn open(dir: &Path, start: Start) -> Result<LogReader, LogError> {
        let mut reader = LogReader {
            dir: dir.to_path_buf(),
            cur: None,
            start: Some(start),
            skipped: 0,
        };
        // Positioning now surfaces a missing directory or a bad file at open.
        reader.enter_first()?;
        Ok(reader)
    }

    /// Records lost to retention: deleted before this reader reached them.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The next record; `None` at the end of what has been written so far (a later call
    /// returns more once more is written).
    // Not an Iterator on purpose: `None` here means "nothing more yet", and iterator
    // adaptors would take it as the end for good.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Record>, LogError> {
        // The segment after the current one, once seen: the current one is then finished.
        let mut newer: Option<(u64, PathBuf)> = None;
        loop {
            let Some(cur) = self.cur.as_mut() else {
                if !self.enter_first()? {
                    return Ok(None);
                }
                continue;
            };
            let step = cur.step()?;
            match step {
                Step::Record {
                    offset,
                    seq,
                    nanos,
                    payload,
                } => {
                    if seq != cur.next {
                        return Err(LogError::Corrupt {
                            path: cur.path.clone(),
                            offset,
                            why: format!("sequence number {seq} where {} was due", cur.next),
                        });
                    }
                    cur.next += 1;
                    newer = None;
                    let wanted = match self.start {
                        None => true,
                        Some(Start::Seq(s)) => seq >= s,
                        Some(Start::Time(t)) => nanos >= t,
                    };
                    if wanted {
                        self.start = None;
                        let event = cur.scan.payload(payload).to_vec();
                        return Ok(Some(Record { seq, nanos, event }));
                    }
                }
                Step::End if newer.is_some() => {
                    let Some((first_seq, path)) = newer.take() else {
                        continue;
                    };
                    let prev_next = cur.next;
                    match Cursor::open(first_seq, path.clone()) {
                        Ok(next) => self.switch(prev_next, next)?,
                        // Deleted by retention since the listing: list again.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_err(&path, "opening")(e)),
                    }
                }
                Step::End | Step::Incomplete { .. } | Step::Corrupt { .. } => {
                    if newer.is_some() {
                        // The writer finishes a segment before it creates the next one,
                        // so a re-read after seeing the next one sees all of this one.
                        return Err(finished_damage(cur, step));
                    }
                    let first = cur.first_seq;
                    newer = list_segments(&self.dir)?
                        .into_iter()
                        .find(|(f, _)| *f > first);
                    if newer.is_none() {
                        // Damage in the newest segment may be a write still in progress;
                        // it is an error once that segment is finished.
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Moves on to the next segment, counting records retention took in between.
    fn switch(&mut self, prev_next: u64, next: Cursor) -> Result<(), LogError> {
        if next.first_seq < prev_next {
            return Err(LogError::Corrupt {
                path: next.path,
                offset: 0,
                why: format!(
                    "segment starts at sequence number {} but the one before ends at {}",
                    next.first_seq,
                    prev_next - 1
                ),
            });
        }
        // Records below a seq start were not wanted anyway, so they are not lost.
        let wanted_from = match self.start {
            Some(Start::Seq(s)) => prev_next.max(s),
            _ => prev_next,
        };
        self.skipped += next.first_seq.saturating_sub(wanted_from);
        self.cur = Some(next);
        Ok(())
    }

    /// Opens the segment the start points into; false when there is no segment yet.
    fn enter_first(&mut self) -> Result<bool, LogError> {
        // Each retry follows a segment deleted between listing and opening.
        for _ in 0..16 {
            let segs = list_segments(&self.dir)?;
            let pick = match self.start {
                Some(Start::Time(t)) => pick_by_time(&segs, t),
                Some(Start::Seq(s)) => segs.iter().rposition(|(f, _)| *f <= s),
                None => None,
            }
            .or(if segs.is_empty() { None } else { Some(0) });
            let Some((first_seq, path)) = pick.and_then(|i| segs.get(i)).cloned() else {
                return Ok(false);
            };
            match Cursor::open(first_seq, path.clone()) {
                Ok(cur) => {
                    if let Some(Start::Seq(s)) = self.start {
                        self.skipped += first_seq.saturating_sub(s);
                    }
                    self.cur = Some(cur);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path, "opening")(e)),
            }
        }
        Err(LogError::Io {
            path: self.dir.clone(),
            doing: "opening the oldest segment",
            err: io::Error::other("segments kept disappearing while being opened"),
        })
    }
}

/// The error for a finished segment that does not end at a record boundary.
fn finished_damage(cur: &Cursor, step: Step) -> LogError {
    let (offset, why) = match step {
        Step::Corrupt { offset, damage } => (offset, damage.to_string()),
        Step::Incomplete { offset } => (
            offset,
            "a finished segment ends inside a record (a newer segment exists)".to_string(),
        ),
        Step::End | Step::Record { .. } => (cur.scan.offset(), "unexpected end".to_string()),
    };
    LogError::Corrupt {
        path: cur.path.clone(),
        offset,
        why,
    }
}

/// The segment whose records reach `t` first: the last whose first record is older than
/// `t`. Segments whose first record cannot be read (gone, or still empty) end the search.
fn pick_by_time(segs: &[(u64, PathBuf)], t: u64) -> Option<usize> {
    let mut pick = None;
    for (i, (_, path)) in segs.iter().enumerate() {
        let mut head = [0u8; HEADER_LEN + RECORD_HEADER_LEN];
        let first_nanos = File::open(path)
            .and_then(|f| read_full_at(&f, &mut head, 0))
            .ok()
            .filter(|&n| n == head.len())
            .and_then(|_| head.last_chunk::<8>())
            .map(|b| u64::from_le_bytes(*b));
        match first_nanos {
            Some(n) if n < t => pick = Some(i),
            Some(_) => break,
            None if i == 0 => {}
            None => break,
        }
    }
    pick
}
