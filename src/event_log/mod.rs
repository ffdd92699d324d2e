//! The master's durable event log: every event it publishes, appended to segment files in
//! one directory and kept within a size and an age budget, so a listener that was away can
//! replay what it missed ([`LogReader`]) and sequence numbers never go back across restarts.
//!
//! A segment is `dir/{first_seq:020}.log`: a header and records ([`record`]). The newest
//! segment is the current one. Appends go there and retention never deletes it, so its
//! name (or its last record) still gives the next sequence number when everything older
//! is gone.
//!
//! [`EventLog::append`] only buffers; [`EventLog::commit`] writes the turn's records with
//! one write per segment touched and syncs as the [`SyncPolicy`] says. A segment is synced
//! before the log moves on to the next one, whatever the policy, so only the last segment
//! can end in a torn write: [`EventLog::open`] cuts that tail and refuses damage anywhere
//! else.

mod reader;
pub mod record;
mod scan;
#[cfg(test)]
mod tests;

pub use reader::{LogReader, Record};

use record::{Damage, HEADER_LEN, MAX_PAYLOAD};
use scan::{Scanner, Step};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// When the log makes what it wrote durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every commit that wrote something is synced before it returns.
    Commit,
    /// At most one sync per interval; a write waits at most that long to become durable.
    Every(Duration),
    /// Left to the OS (a segment is still synced once, when the log moves past it).
    Never,
}

impl SyncPolicy {
    /// Parses `commit`, `never`, or an interval in milliseconds (`100` or `100ms`).
    pub fn parse(s: &str) -> Result<SyncPolicy, String> {
        let t = s.trim();
        match t {
            "commit" => return Ok(SyncPolicy::Commit),
            "never" => return Ok(SyncPolicy::Never),
            _ => {}
        }
        let digits = t.strip_suffix("ms").unwrap_or(t);
        // Only plain digits: u64's parser would also take "+5".
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(ms) = digits.parse::<u64>() {
                return Ok(SyncPolicy::Every(Duration::from_millis(ms)));
            }
        }
        Err(format!(
            "event log sync policy {s:?}: expected commit, never, or milliseconds (100 or 100ms)"
        ))
    }
}

/// Where the log lives and what it keeps.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The directory of segment files (created 0700 when missing).
    pub dir: PathBuf,
    /// Oldest segments are deleted while the log is bigger than this (the current one never).
    pub max_bytes: u64,
    /// Oldest segments are deleted once their newest record is older than this, measured
    /// against the newest record in the log.
    pub retention: Option<Duration>,
    /// When writes are synced.
    pub sync: SyncPolicy,
    /// A new segment is started before one would grow past this.
    pub segment_bytes: u64,
}

/// Why the event log could not be opened, written or read.
#[derive(Debug)]
pub enum LogError {
    /// A file or directory operation failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done, e.g. "writing".
        doing: &'static str,
        /// What the OS said.
        err: io::Error,
    },
    /// A segment's records are damaged somewhere a torn write cannot explain.
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Where the damaged record (or the break in numbering) starts.
        offset: u64,
        /// What is wrong.
        why: String,
    },
    /// A file that should be a segment is not one: its name or header is wrong.
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// An append whose sequence number is not the next one (a bug in the caller).
    OutOfOrder {
        /// The log's directory.
        dir: PathBuf,
        /// The sequence number the log expected.
        expected: u64,
        /// The one it was given.
        got: u64,
    },
    /// An event too big for a record.
    TooLarge {
        /// The log's directory.
        dir: PathBuf,
        /// The event's sequence number.
        seq: u64,
        /// Its length.
        len: usize,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Io { path, doing, err } => {
                write!(f, "event log {}: {doing}: {err}", path.display())
            }
            LogError::Corrupt { path, offset, why } => write!(
                f,
                "event log segment {}: corrupt at byte {offset}: {why}",
                path.display()
            ),
            LogError::BadHeader { path, why } => {
                write!(f, "event log segment {}: {why}", path.display())
            }
            LogError::OutOfOrder { dir, expected, got } => write!(
                f,
                "event log {}: append of sequence number {got} refused, the next is {expected}",
                dir.display()
            ),
            LogError::TooLarge { dir, seq, len } => write!(
                f,
                "event log {}: event {seq} of {len} bytes is over the {MAX_PAYLOAD}-byte limit",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for LogError {}

/// A closure that wraps an I/O error with its file and what was being done.
fn io_err<'a>(path: &'a Path, doing: &'static str) -> impl FnOnce(io::Error) -> LogError + 'a {
    move |err| LogError::Io {
        path: path.to_path_buf(),
        doing,
        err,
    }
}

/// The file name of the segment whose first record is `first_seq`.
fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.log"))
}

/// The segments in `dir`, oldest first, by file name. Other files are ignored, but a
/// `.log` file whose name is not a segment's is refused: it is most likely one renamed by
/// hand, and skipping it would quietly drop its events from replay.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LogError> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).map_err(io_err(dir, "listing the directory"))?;
    for entry in entries {
        let entry = entry.map_err(io_err(dir, "listing the directory"))?;
        let name = entry.file_name();
        let Some(stem) = name.as_bytes().strip_suffix(b".log") else {
            continue;
        };
        let path = entry.path();
        let seq = (stem.len() == 20 && stem.iter().all(u8::is_ascii_digit))
            .then(|| std::str::from_utf8(stem).ok()?.parse::<u64>().ok())
            .flatten()
            .filter(|&s| s > 0);
        let Some(seq) = seq else {
            return Err(LogError::BadHeader {
                path,
                why: "a .log file whose name is not a segment's (20 digits, from 1)".into(),
            });
        };
        out.push((seq, path));
    }
    out.sort_unstable();
    Ok(out)
}

/// What the log knows about one segment file, kept in memory so rotation and retention
/// never read the disk.
#[derive(Debug, Clone)]
struct Segment {
    /// The seq its name and header give: its first record's, or the next one's if empty.
    first_seq: u64,
    path: PathBuf,
    /// Its length on disk, header included.
    bytes: u64,
    records: u64,
    /// Its newest record's time, unix nanoseconds (none while it is empty).
    last_nanos: Option<u64>,
    /// Set once a failed delete was logged, so retention does not warn every turn.
    delete_warned: bool,
}

impl Segment {
    /// The seq after its last record.
    fn next_seq(&self) -> u64 {
        self.first_seq + self.records
    }
}

/// What opening the log found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The last sequence number the log handed out (its record may be gone to retention);
    /// none for a log that never held a record.
    pub last_seq: Option<u64>,
    /// Bytes cut from a torn last segment.
    pub cut_bytes: u64,
    /// Segments on disk.
    pub segments: usize,
    /// Records on disk.
    pub records: u64,
}

/// A record appended but not yet written: where its bytes end in the buffer.
#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: u64,
    nanos: u64,
    end: usize,
}

/// The writer of the event log. Invariant: `segments` is contiguous in seq and its last
/// entry, when there is one, is the current segment that `current` has open.
pub struct EventLog {
    cfg: LogConfig,
    segments: Vec<Segment>,
    current: Option<File>,
    /// Records appended but not yet written, encoded back to back.
    pending: Vec<u8>,
    pending_recs: Vec<Pending>,
    /// The seq the next append must carry.
    next_seq: u64,
    /// Sum of `segments[..].bytes`.
    total_bytes: u64,
    /// The newest record time written: the clock retention measures age against.
    newest_nanos: u64,
    /// The current segment (or the directory) has writes no sync has covered yet.
    unsynced: bool,
    /// A segment was created since the last sync, so the directory needs one too.
    dir_unsynced: bool,
    /// When the first write no sync covers was made.
    unsynced_since: Option<Instant>,
    last_sync: Option<Instant>,
    /// A write failed part way: bytes past the current segment's known end are garbage and
    /// are cut before the next write.
    torn: bool,
    /// Test hook: after this many more good writes, one fails half way through.
    #[cfg(test)]
    fail_after: Option<u32>,
}

impl EventLog {
    /// Opens (or creates) the log in `cfg.dir`: checks every segment, cuts a torn tail off
    /// the last one, and refuses damage anywhere else.
    pub fn open(cfg: LogConfig) -> Result<(EventLog, Recovered), LogError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&cfg.dir)
            .map_err(io_err(&cfg.dir, "creating the directory"))?;
        let names = list_segments(&cfg.dir)?;
        let count = names.len();
        let mut segments: Vec<Segment> = Vec::with_capacity(count);
        let mut current = None;
        let mut cut_bytes = 0;
        let mut newest_nanos = 0;
        for (i, (first_seq, path)) in names.into_iter().enumerate() {
            let last = i + 1 == count;
            // Retention deletes from the front only, so the numbering has no holes.
            if let Some(prev) = segments.last() {
                if prev.next_seq() != first_seq {
                    return Err(LogError::Corrupt {
                        path,
                        offset: 0,
                        why: format!(
                            "segment starts at sequence number {first_seq} but {} ends before {}",
                            prev.path.display(),
                            prev.next_seq()
                        ),
                    });
                }
            }
            let (seg, file, cut) = check_segment(first_seq, path, last)?;
            cut_bytes += cut;
            newest_nanos = newest_nanos.max(seg.last_nanos.unwrap_or(0));
            segments.push(seg);
            current = file;
        }
        let next_seq = segments.last().map_or(1, Segment::next_seq);
        let total_bytes = segments.iter().map(|s| s.bytes).sum();
        let recovered = Recovered {
            last_seq: next_seq.checked_sub(1).filter(|&s| s > 0),
            cut_bytes,
            segments: segments.len(),
            records: segments.iter().map(|s| s.records).sum(),
        };
        let log = EventLog {
            cfg,
            segments,
            current,
            pending: Vec::new(),
            pending_recs: Vec::new(),
            next_seq,
            total_bytes,
            newest_nanos,
            unsynced: false,
            dir_unsynced: false,
            unsynced_since: None,
            last_sync: None,
            torn: false,
            #[cfg(test)]
            fail_after: None,
        };
        Ok((log, recovered))
    }

    /// The sequence number the next append must carry: one past the last appended, or 1
    /// for a log that never held a record.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The oldest sequence number still on disk, if any record is.
    pub fn first_seq(&self) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| s.records > 0)
            .map(|s| s.first_seq)
    }

    /// Bytes the segments take on disk (appends not yet committed are not counted).
    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// Buffers one event for the next commit; no system call. Refuses a seq that is not
    /// [`EventLog::next_seq`] and an event over the record limit.
    pub fn append(&mut self, seq: u64, nanos: u64, event: &[u8]) -> Result<(), LogError> {
        if seq != self.next_seq {
            return Err(LogError::OutOfOrder {
                dir: self.cfg.dir.clone(),
                expected: self.next_seq,
                got: seq,
            });
        }
        if record::put_record(&mut self.pending, seq, nanos, event).is_err() {
            return Err(LogError::TooLarge {
                dir: self.cfg.dir.clone(),
                seq,
                len: event.len(),
            });
        }
        self.pending_recs.push(Pending {
            seq,
            nanos,
            end: self.pending.len(),
        });
        self.next_seq += 1;
        Ok(())
    }

    /// Writes the buffered records, syncs as the policy says, then enforces retention. On
    /// a failed write the records not yet on disk stay buffered and the next commit
    /// retries them: a full disk is an error, not lost events. A failed sync is returned
    /// too, but its records are written and not retried: after a failed fsync the kernel
    /// may have dropped them, so the caller should treat it as fatal.
    pub fn commit(&mut self, now: Instant) -> Result<(), LogError> {
        self.write_pending(now)?;
        let due = match self.cfg.sync {
            SyncPolicy::Commit => self.unsynced,
            SyncPolicy::Every(_) => self.next_deadline().is_some_and(|t| now >= t),
            SyncPolicy::Never => false,
        };
        if due {
            self.sync(now)?;
        }
        self.enforce_retention();
        Ok(())
    }

    /// When a pending sync falls due (only under [`SyncPolicy::Every`]), so the loop can
    /// wake for it.
    pub fn next_deadline(&self) -> Option<Instant> {
        let SyncPolicy::Every(d) = self.cfg.sync else {
            return None;
        };
        if !self.unsynced {
            return None;
        }
        // The first sync after open is not held back: nothing says when the last one was.
        match self.last_sync {
            Some(t) => Some(t + d),
            None => self.unsynced_since,
        }
    }

    /// Performs the pending sync if it is due at `now`.
    pub fn sync_due(&mut self, now: Instant) -> Result<(), LogError> {
        if self.next_deadline().is_some_and(|t| now >= t) {
            self.sync(now)?;
        }
        Ok(())
    }

    /// Makes the current segment, and the directory if a segment was created, durable.
    fn sync(&mut self, now: Instant) -> Result<(), LogError> {
        if let (Some(file), Some(seg)) = (&self.current, self.segments.last()) {
            file.sync_data().map_err(io_err(&seg.path, "syncing"))?;
        }
        if self.dir_unsynced {
            File::open(&self.cfg.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err(&self.cfg.dir, "syncing the directory"))?;
            self.dir_unsynced = false;
        }
        self.unsynced = false;
        self.unsynced_since = None;
        self.last_sync = Some(now);
        Ok(())
    }

    /// Notes a write no sync covers yet.
    fn mark_unsynced(&mut self, now: Instant) {
        if !self.unsynced {
            self.unsynced = true;
            self.unsynced_since = Some(now);
        }
    }

    /// Writes the buffer, one write per segment, rotating at record boundaries.
    fn write_pending(&mut self, now: Instant) -> Result<(), LogError> {
        let Some(first) = self.pending_recs.first().copied() else {
            return Ok(());
        };
        if self.segments.is_empty() {
            self.create_segment(first.seq, now)?;
        }
        if self.torn {
            self.cut_torn_tail()?;
        }
        let (mut done_recs, mut done_bytes) = (0, 0);
        while done_recs < self.pending_recs.len() {
            let result = self.write_chunk(done_recs, done_bytes, now);
            match result {
                Ok((recs, bytes)) => {
                    done_recs = recs;
                    done_bytes = bytes;
                }
                Err(e) => {
                    self.drop_written(done_recs, done_bytes);
                    return Err(e);
                }
            }
        }
        self.pending.clear();
        self.pending_recs.clear();
        Ok(())
    }

    /// Writes the buffered records from `from` (whose bytes start at `start`) that fit the
    /// current segment, rotating first when the current one is full; returns how far the
    /// buffer is now written.
    fn write_chunk(
        &mut self,
        from: usize,
        start: usize,
        now: Instant,
    ) -> Result<(usize, usize), LogError> {
        let limit = self.cfg.segment_bytes;
        let first = self.pending_recs[from];
        let first_len = (first.end - start) as u64;
        let full = self
            .current_segment()
            .is_some_and(|cur| cur.records > 0 && cur.bytes + first_len > limit);
        // A new segment starts only at a record boundary, and an empty one takes at least
        // one record however big, so rotation always makes progress.
        if full {
            self.create_segment(first.seq, now)?;
        }
        #[cfg(test)]
        let inject = match self.fail_after {
            Some(0) => {
                self.fail_after = None;
                true
            }
            Some(n) => {
                self.fail_after = Some(n - 1);
                false
            }
            None => false,
        };
        #[cfg(not(test))]
        let inject = false;
        let (Some(cur), Some(file)) = (self.segments.last(), self.current.as_ref()) else {
            return Err(LogError::Io {
                path: self.cfg.dir.clone(),
                doing: "writing",
                err: io::Error::other("no current segment is open"),
            });
        };
        let offset = cur.bytes;
        let mut upto = from + 1;
        while let Some(r) = self.pending_recs.get(upto) {
            if offset + (r.end - start) as u64 > limit {
                break;
            }
            upto += 1;
        }
        let last = self.pending_recs[upto - 1];
        let data = &self.pending[start..last.end];
        let result = if inject {
            // Half the bytes reach the file, as when the disk fills mid-write.
            let _ = file.write_all_at(&data[..data.len() / 2], offset);
            Err(io::Error::other("injected failure"))
        } else {
            file.write_all_at(data, offset)
        };
        if let Err(e) = result {
            let path = cur.path.clone();
            self.torn = true;
            return Err(io_err(&path, "writing")(e));
        }
        let written = data.len() as u64;
        if let Some(seg) = self.segments.last_mut() {
            seg.bytes += written;
            seg.records += (upto - from) as u64;
            seg.last_nanos = Some(last.nanos);
        }
        self.total_bytes += written;
        self.newest_nanos = self.newest_nanos.max(last.nanos);
        self.mark_unsynced(now);
        Ok((upto, last.end))
    }

    /// Forgets the first `recs` buffered records (`bytes` bytes), which are on disk.
    fn drop_written(&mut self, recs: usize, bytes: usize) {
        self.pending.drain(..bytes);
        self.pending_recs.drain(..recs);
        for r in &mut self.pending_recs {
            r.end -= bytes;
        }
    }

    /// Cuts what a failed write left past the current segment's last good record.
    fn cut_torn_tail(&mut self) -> Result<(), LogError> {
        if let (Some(seg), Some(file)) = (self.segments.last(), &self.current) {
            file.set_len(seg.bytes)
                .map_err(io_err(&seg.path, "cutting a failed write"))?;
        }
        self.torn = false;
        Ok(())
    }

    /// The last segment, which appends go to.
    fn current_segment(&self) -> Option<&Segment> {
        self.segments.last()
    }

    /// Starts the segment whose first record is `first_seq` and makes it current. The one
    /// before is synced first, whatever the policy: open treats damage in any segment but
    /// the last as corruption, so only the last may have an unsynced tail.
    fn create_segment(&mut self, first_seq: u64, now: Instant) -> Result<(), LogError> {
        if self.unsynced {
            self.sync(now)?;
        }
        let path = segment_path(&self.cfg.dir, first_seq);
        // Truncate rather than create_new: a file by this name can only be left from this
        // process's own failed attempt (open would have listed any other as current).
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(&path, "creating the segment"))?;
        if let Err(e) = file.write_all_at(&record::encode_header(first_seq), 0) {
            let _ = fs::remove_file(&path);
            return Err(io_err(&path, "writing the segment header")(e));
        }
        log::debug!("event log: started segment {}", path.display());
        self.segments.push(Segment {
            first_seq,
            path,
            bytes: HEADER_LEN as u64,
            records: 0,
            last_nanos: None,
            delete_warned: false,
        });
        self.total_bytes += HEADER_LEN as u64;
        self.current = Some(file);
        self.dir_unsynced = true;
        self.mark_unsynced(now);
        Ok(())
    }

    /// Deletes the oldest segments while the log is over its size or age budget, never the
    /// current one. A failed delete is logged and retried next commit; the events were
    /// written, so it does not fail the commit.
    fn enforce_retention(&mut self) {
        let max_age = self
            .cfg
            .retention
            .map(|r| u64::try_from(r.as_nanos()).unwrap_or(u64::MAX));
        while self.segments.len() > 1 {
            let oldest = &self.segments[0];
            let over_size = self.total_bytes > self.cfg.max_bytes;
            // Age is measured against the newest record rather than the wall clock: the
            // log keeps its own time, so a clock step cannot empty it.
            let too_old = match (max_age, oldest.last_nanos) {
                (Some(age), Some(t)) => self.newest_nanos.saturating_sub(t) > age,
                _ => false,
            };
            if !over_size && !too_old {
                break;
            }
            match fs::remove_file(&oldest.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    if !oldest.delete_warned {
                        log::warn!(
                            "event log segment {}: cannot delete it for retention: {e}",
                            oldest.path.display()
                        );
                        self.segments[0].delete_warned = true;
                    }
                    break;
                }
            }
            let gone = self.segments.remove(0);
            self.total_bytes -= gone.bytes;
            log::debug!(
                "event log: retention deleted {} (sequence numbers {} to {})",
                gone.path.display(),
                gone.first_seq,
                gone.next_seq().saturating_sub(1)
            );
        }
    }
}

/// Checks one segment at open and returns what it holds, its file when it is the last
/// (opened for writing), and the bytes cut from a torn tail.
fn check_segment(
    first_seq: u64,
    path: PathBuf,
    last: bool,
) -> Result<(Segment, Option<File>, u64), LogError> {
    let file = OpenOptions::new()
        .read(true)
        .write(last)
        .open(&path)
        .map_err(io_err(&path, "opening"))?;
    let len = file
        .metadata()
        .map_err(io_err(&path, "reading the size"))?
        .len();
    let mut header = [0u8; HEADER_LEN];
    let got = read_full_at(&file, &mut header, 0).map_err(io_err(&path, "reading"))?;
    let header = &header[..got];
    let mut seg = Segment {
        first_seq,
        path,
        bytes: HEADER_LEN as u64,
        records: 0,
        last_nanos: None,
        delete_warned: false,
    };
    // A crash while a segment was being created leaves it empty, short, or (on some file
    // systems) zero-filled. Only the last segment can be caught that way; it is rewritten
    // from its name, which keeps the numbering.
    if last && (got < HEADER_LEN || header.iter().all(|&b| b == 0)) {
        log::warn!(
            "event log segment {}: header incomplete ({len} bytes), a crash while it was \
             created; rewriting it empty",
            seg.path.display()
        );
        file.set_len(0)
            .and_then(|()| file.write_all_at(&record::encode_header(first_seq), 0))
            .and_then(|()| file.sync_all())
            .map_err(io_err(&seg.path, "rewriting the header"))?;
        return Ok((seg, Some(file), len));
    }
    let named = record::parse_header(header).map_err(|e| LogError::BadHeader {
        path: seg.path.clone(),
        why: e.to_string(),
    })?;
    if named != first_seq {
        return Err(LogError::BadHeader {
            path: seg.path.clone(),
            why: format!(
                "header names first sequence number {named} but the file name {first_seq}"
            ),
        });
    }
    let mut scan = Scanner::new(HEADER_LEN as u64);
    let cut_at = loop {
        let step = scan.step(&file).map_err(io_err(&seg.path, "reading"))?;
        let (offset, why) = match step {
            Step::Record {
                offset, seq, nanos, ..
            } => {
                if seq != seg.next_seq() {
                    let why = format!("sequence number {seq} where {} was due", seg.next_seq());
                    return Err(LogError::Corrupt {
                        path: seg.path,
                        offset,
                        why,
                    });
                }
                seg.records += 1;
                seg.last_nanos = Some(nanos);
                continue;
            }
            Step::End => break None,
            Step::Incomplete { offset } => (offset, "record runs past the end of the file".into()),
            Step::Corrupt { offset, damage } => {
                // Damage followed by a good record is not a torn write: the write after
                // it got to disk, so this one did too and was damaged since.
                if !last || good_record_follows(&file, offset, damage) {
                    return Err(LogError::Corrupt {
                        path: seg.path,
                        offset,
                        why: damage.to_string(),
                    });
                }
                (offset, damage.to_string())
            }
        };
        if !last {
            return Err(LogError::Corrupt {
                path: seg.path,
                offset,
                why,
            });
        }
        break Some((offset, why));
    };
    let mut cut = 0;
    if let Some((offset, why)) = cut_at {
        cut = len.saturating_sub(offset);
        log::warn!(
            "event log segment {}: torn write at byte {offset} ({why}), cutting {cut} bytes \
             after the last good record",
            seg.path.display()
        );
        file.set_len(offset)
            .and_then(|()| file.sync_all())
            .map_err(io_err(&seg.path, "cutting the torn tail"))?;
    }
    seg.bytes = len - cut;
    Ok((seg, last.then_some(file), cut))
}

/// Whether a whole, good record follows the damaged one at `offset`, going by its length.
fn good_record_follows(file: &File, offset: u64, damage: Damage) -> bool {
    let Damage::BadCrc { .. } = damage else {
        // An absurd length says nothing about where the next record would be.
        return false;
    };
    let mut head = [0u8; record::RECORD_HEADER_LEN];
    if !matches!(read_full_at(file, &mut head, offset), Ok(n) if n == head.len()) {
        return false;
    }
    let len = u64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]));
    let next = offset + record::RECORD_HEADER_LEN as u64 + len;
    let mut scan = Scanner::new(next);
    matches!(scan.step(file), Ok(Step::Record { .. }))
}

/// Reads into `buf` at `offset` until it is full or the file ends; returns the bytes read.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
