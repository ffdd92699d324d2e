//! The master's LMDB environment: named tables of byte keys and byte values, written in one
//! transaction per loop turn (group commit), with a memory map that grows when it fills.
//!
//! This is the only module that names heed or LMDB types. Everything above it sees a
//! [`Store`], [`Table`] handles, closure-scoped [`ReadTxn`]/[`WriteTxn`] and a [`Batch`] of
//! pending writes.
//!
//! Invariants the rest of brine relies on:
//! - A transaction lives only inside one `read`/`write`/`commit` call, and only one such call
//!   runs at a time per environment (a nested call is refused with [`StoreError::Busy`]).
//!   That is what makes growing the map (`mdb_env_set_mapsize`) safe: LMDB requires that no
//!   transaction of this process is open while it remaps.
//! - Commits use LMDB's default flags, so `commit` returning `Ok` means the data is on disk
//!   (fsync). A caller answers a client only after the commit that holds its write returned
//!   `Ok`; that is the whole durability contract of design.md.

use heed::types::Bytes;
use heed::{Database, EnvOpenOptions, MdbError};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The environment's directory under `cachedir`.
pub const DIR_NAME: &str = "brine.lmdb";

/// The map size a new environment starts with; it doubles whenever a write fills it.
pub const INITIAL_MAP_SIZE: usize = 64 << 20;

/// LMDB's largest key (the bundled build's `MDB_MAXKEYSIZE`); longer keys are refused early.
pub const MAX_KEY_SIZE: usize = 511;

/// Named databases one environment may hold: the job cache, the queues, minion data, eauth
/// tokens, and room.
const MAX_DBS: u32 = 16;

/// The map never grows past this (1 TiB of address space on 64-bit, 1 GiB on 32-bit).
const MAX_MAP_SIZE: usize = if usize::BITS >= 64 { 1 << 40 } else { 1 << 30 };

/// Map sizes are kept multiples of this: a multiple of every page size LMDB runs with.
const MAP_ALIGN: usize = 64 << 10;

/// Times one call may grow the map or adopt another process's size before it gives up.
const MAX_RETRIES: u32 = 32;

/// Upper bounds, in seconds, of the commit-latency buckets [`Store::commit_times`] counts
/// (a commit over the last falls in `+Inf` only).
pub const COMMIT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// How long this environment's group commits took: the ones that succeeded, from the first
/// write to the end of the fsync (map growth and retries included).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitTimes {
    /// Commits.
    pub count: u64,
    /// Their total duration in seconds.
    pub seconds: f64,
    /// Commits at or under each bound of [`COMMIT_BUCKETS`] (cumulative).
    pub buckets: [u64; COMMIT_BUCKETS.len()],
}

/// Every way the store can fail; each names the environment's path.
#[derive(Debug)]
pub enum StoreError {
    /// The environment's directory could not be created or restricted to its owner.
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        err: io::Error,
    },
    /// LMDB refused an operation.
    Lmdb {
        /// The environment's directory.
        path: PathBuf,
        /// What was being done, e.g. "commit".
        op: &'static str,
        /// LMDB's (or heed's) message.
        err: String,
    },
    /// The map is full and already at the largest size brine allows.
    Full {
        /// The environment's directory.
        path: PathBuf,
        /// The map size in bytes.
        size: usize,
    },
    /// A transaction is already open on this environment (a nested or concurrent call).
    Busy {
        /// The environment's directory.
        path: PathBuf,
    },
    /// A key or value was refused before it reached LMDB.
    Invalid {
        /// The environment's directory.
        path: PathBuf,
        /// The table it was meant for.
        table: &'static str,
        /// Why it was refused.
        what: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Dir { path, err } => {
                write!(
                    f,
                    "{}: cannot create the store directory: {err}",
                    path.display()
                )
            }
            StoreError::Lmdb { path, op, err } => {
                write!(f, "{}: LMDB {op} failed: {err}", path.display())
            }
            StoreError::Full { path, size } => write!(
                f,
                "{}: LMDB map is full at {size} bytes, the largest brine allows",
                path.display()
            ),
            StoreError::Busy { path } => write!(
                f,
                "{}: a transaction is already open (one store call at a time)",
                path.display()
            ),
            StoreError::Invalid { path, table, what } => {
                write!(f, "{}: table {table}: {what}", path.display())
            }
        }
    }
}

impl std::error::Error for StoreError {}

impl Inner {
    fn lmdb(&self, op: &'static str, err: heed::Error) -> StoreError {
        // LMDB reports a write that found no room as EIO (or ENOSPC): look at the disk, so
        // the operator reads "full" rather than "Input/output error".
        let io_kind = match &err {
            heed::Error::Io(e) => Some(e.raw_os_error()),
            heed::Error::Mdb(heed::MdbError::Other(code)) => Some(Some(*code)),
            _ => None,
        };
        let mut text = err.to_string();
        if matches!(io_kind, Some(Some(libc::EIO | libc::ENOSPC | libc::EDQUOT))) {
            if let Some(free) = free_bytes(&self.path) {
                if free < 16 << 20 {
                    text = format!(
                        "the disk holding {} is full ({free} bytes free): free some space ({text})",
                        self.path.display()
                    );
                }
            }
        }
        StoreError::Lmdb {
            path: self.path.clone(),
            op,
            err: text,
        }
    }

    fn invalid(&self, table: &'static str, what: String) -> StoreError {
        StoreError::Invalid {
            path: self.path.clone(),
            table,
            what,
        }
    }
}

/// The master's LMDB environment under `cachedir/brine.lmdb` (created 0700), with named tables.
///
/// Cloning is cheap and shares the environment, so the job cache and the queue each keep one.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Clears the busy flag when a store call ends, however it ends.
struct Entered<'a>(&'a AtomicBool);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// How one attempt at a write transaction ended.
enum Attempt<T> {
    Done(Result<T, StoreError>),
    /// The map filled: grow it and run the closure again.
    Full,
    /// Another process grew the map: adopt its size and run again.
    Resized,
}

fn is_full(e: &heed::Error) -> bool {
    matches!(e, heed::Error::Mdb(MdbError::MapFull))
}

fn is_resized(e: &heed::Error) -> bool {
    matches!(e, heed::Error::Mdb(MdbError::MapResized))
}

fn align_up(n: usize) -> usize {
    n.div_ceil(MAP_ALIGN)
        .saturating_mul(MAP_ALIGN)
        .max(MAP_ALIGN)
}

impl Store {
    /// Opens (creating if needed) the environment under `cachedir` with a 64 MiB initial map.
    pub fn open(cachedir: &Path) -> Result<Store, StoreError> {
        Store::open_with(cachedir, INITIAL_MAP_SIZE)
    }

    /// Opens the environment with `map_size` bytes of initial map (rounded up to 64 KiB).
    pub fn open_with(cachedir: &Path, map_size: usize) -> Result<Store, StoreError> {
        let path = cachedir.join(DIR_NAME);
        make_private_dir(&path)?;
        let mut options = EnvOpenOptions::new();
        options
            .map_size(align_up(map_size).min(MAX_MAP_SIZE))
            .max_dbs(MAX_DBS);
        // SAFETY: LMDB's memory map is only unsound if the file is changed behind its back.
        // The file lives in a 0700 directory of ours, we use LMDB's own locking (no NO_LOCK,
        // NO_SYNC or other unsafe flags), and heed refuses a second open in this process.
        let env = unsafe { options.open(&path) }.map_err(|err| StoreError::Lmdb {
            path: path.clone(),
            op: "open",
            err: err.to_string(),
        })?;
        Ok(Store {
            inner: Arc::new(Inner {
                env,
                path,
                busy: AtomicBool::new(false),
                commits: sealed::CommitClock::default(),
            }),
        })
    }

    /// The environment's directory (`cachedir/brine.lmdb`).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How long the group commits took so far (for the master's metrics).
    pub fn commit_times(&self) -> CommitTimes {
        let c = &self.inner.commits;
        let mut buckets = [0; COMMIT_BUCKETS.len()];
        let mut sum = 0;
        for (out, n) in buckets.iter_mut().zip(&c.buckets) {
            sum += n.load(Ordering::Relaxed);
            *out = sum;
        }
        CommitTimes {
            count: c.count.load(Ordering::Relaxed),
            seconds: Duration::from_nanos(c.nanos.load(Ordering::Relaxed)).as_secs_f64(),
            buckets,
        }
    }

    /// The current size of the memory map in bytes.
    pub fn map_size(&self) -> usize {
        self.inner.env.info().map_size
    }

    /// The named table `name`, created on first use; names are fixed strings of the code.
    pub fn table(&self, name: &'static str) -> Result<Table, StoreError> {
        let inner = &self.inner;
        let db = self.write(|txn| {
            inner
                .env
                .create_database::<Bytes, Bytes>(&mut txn.txn, Some(name))
                .map_err(|e| {
                    txn.full |= is_full(&e);
                    inner.lmdb("create table", e)
                })
        })?;
        Ok(Table {
            db,
            name,
            owner: self.inner.clone(),
        })
    }

    /// Marks the environment busy for one call, refusing nested or concurrent calls.
    fn enter(&self) -> Result<Entered<'_>, StoreError> {
        if self.inner.busy.swap(true, Ordering::Acquire) {
            return Err(StoreError::Busy {
                path: self.inner.path.clone(),
            });
        }
        Ok(Entered(&self.inner.busy))
    }

    /// Runs `f` in one read transaction over a consistent snapshot.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&ReadTxn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _entered = self.enter()?;
        let inner = &*self.inner;
        let mut tries = 0;
        let txn = loop {
            match inner.env.read_txn() {
                Ok(txn) => break txn,
                Err(e) if is_resized(&e) && tries < MAX_RETRIES => {
                    tries += 1;
                    self.adopt_size()?;
                }
                Err(e) => return Err(inner.lmdb("begin read", e)),
            }
        };
        let txn = ReadTxn { txn, owner: inner };
        f(&txn)
    }

    /// Runs `f` in one write transaction and commits it; on `MDB_MAP_FULL` (from a write or
    /// the commit) it aborts, doubles the map and runs `f` again, so a full map grows instead
    /// of failing. `f` may run more than once and must build its writes from scratch each time.
    pub fn write<T>(
        &self,
        mut f: impl FnMut(&mut WriteTxn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _entered = self.enter()?;
        let mut tries = 0;
        loop {
            match self.write_once(&mut f) {
                Attempt::Done(result) => return result,
                Attempt::Full if tries < MAX_RETRIES => self.grow()?,
                Attempt::Resized if tries < MAX_RETRIES => self.adopt_size()?,
                Attempt::Full | Attempt::Resized => {
                    return Err(StoreError::Full {
                        path: self.inner.path.clone(),
                        size: self.map_size(),
                    })
                }
            }
            tries += 1;
        }
    }

    fn write_once<T>(
        &self,
        f: &mut impl FnMut(&mut WriteTxn<'_>) -> Result<T, StoreError>,
    ) -> Attempt<T> {
        let inner = &*self.inner;
        let txn = match inner.env.write_txn() {
            Ok(txn) => txn,
            Err(e) if is_resized(&e) => return Attempt::Resized,
            Err(e) => return Attempt::Done(Err(inner.lmdb("begin write", e))),
        };
        let mut txn = WriteTxn {
            txn,
            owner: inner,
            full: false,
        };
        let result = f(&mut txn);
        // After MDB_MAP_FULL the transaction is unusable whatever `f` did with the error;
        // dropping it aborts it.
        if txn.full {
            return Attempt::Full;
        }
        let value = match result {
            Ok(value) => value,
            Err(e) => return Attempt::Done(Err(e)),
        };
        match txn.txn.commit() {
            Ok(()) => Attempt::Done(Ok(value)),
            Err(e) if is_full(&e) => Attempt::Full,
            Err(e) => Attempt::Done(Err(inner.lmdb("commit", e))),
        }
    }

    /// Writes every operation of `batch` in one transaction and one commit (group commit),
    /// then empties it. Only after this returned `Ok` may the clients whose writes are in the
    /// batch be answered; on an error the batch is left as it was and nothing was written.
    pub fn commit(&self, batch: &mut Batch) -> Result<(), StoreError> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        self.commit_with(batch, |_| Ok(()))
    }

    /// Like [`Store::commit`], and in the same transaction (after the batch's writes) runs
    /// `f`, whose reads see every write before them: operations that must decide from the
    /// current state (a queue's pop) join the group commit this way. `f` may run more than
    /// once (the map grew) and must start from scratch each time.
    pub fn commit_with<T>(
        &self,
        batch: &mut Batch,
        mut f: impl FnMut(&mut WriteTxn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Timed here, where the fsync happens: the metric is the disk's, not the loop's.
        let started = Instant::now();
        let value = self.write(|txn| {
            for op in &batch.ops {
                match op {
                    Op::Put { table, key, value } => table.put(txn, key, value)?,
                    Op::Delete { table, key } => {
                        table.delete(txn, key)?;
                    }
                }
            }
            f(txn)
        })?;
        self.inner.commits.record(started.elapsed());
        batch.clear();
        Ok(value)
    }

    /// Doubles the map. Called only between transactions, with the busy flag held.
    fn grow(&self) -> Result<(), StoreError> {
        let size = self.map_size();
        if size >= MAX_MAP_SIZE {
            return Err(StoreError::Full {
                path: self.inner.path.clone(),
                size,
            });
        }
        let new = align_up(size.saturating_mul(2)).min(MAX_MAP_SIZE);
        log::info!(
            "{}: LMDB map full at {size} bytes, growing to {new}",
            self.inner.path.display()
        );
        // SAFETY: the busy flag is ours and every transaction is scoped to a store call, so no
        // transaction of this process is open while LMDB remaps (its one requirement).
        unsafe { self.inner.env.resize(new) }.map_err(|e| self.inner.lmdb("grow map", e))
    }

    /// Takes the map size another process set (after `MDB_MAP_RESIZED`).
    fn adopt_size(&self) -> Result<(), StoreError> {
        // SAFETY: as in `grow`; size 0 tells LMDB to take the size recorded in the file.
        unsafe { self.inner.env.resize(0) }.map_err(|e| self.inner.lmdb("adopt map size", e))
    }
}

/// Bytes an unprivileged writer may still use on the file system holding `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct for a NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Creates `path` (and missing parents) and restricts it to its owner.
fn make_private_dir(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let err = |err| StoreError::Dir {
        path: path.to_owned(),
        err,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = std::fs::metadata(path).map_err(err)?;
            if !meta.is_dir() {
                return Err(err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a directory",
                )));
            }
            // An older or hand-made directory may be wider; the store holds job returns.
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                    .map_err(err)?;
            }
            Ok(())
        }
        Err(e) => Err(err(e)),
    }
}

/// Items public only so that [`Txn`] can be implemented for the transactions while no one
/// outside this module can name them (the module itself is private).
mod sealed {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Duration;

    /// What is shared by a store's clones and its table handles.
    pub struct Inner {
        pub env: heed::Env,
        pub path: PathBuf,
        /// Set while a transaction is open; see the module invariants.
        pub busy: AtomicBool,
        /// How long the commits took.
        pub commits: CommitClock,
    }

    /// Commit durations as counters (atomics: a `Store` is shared by its clones).
    #[derive(Default)]
    pub struct CommitClock {
        pub count: AtomicU64,
        pub nanos: AtomicU64,
        /// Commits per bucket of `COMMIT_BUCKETS`, not cumulative.
        pub buckets: [AtomicU64; super::COMMIT_BUCKETS.len()],
    }

    impl CommitClock {
        pub fn record(&self, took: Duration) {
            self.count.fetch_add(1, Ordering::Relaxed);
            let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
            self.nanos.fetch_add(nanos, Ordering::Relaxed);
            let secs = took.as_secs_f64();
            let bucket = super::COMMIT_BUCKETS.iter().position(|b| secs <= *b);
            if let Some(n) = bucket.and_then(|i| self.buckets.get(i)) {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Gives table operations the underlying transaction and its environment.
    pub trait Raw {
        fn raw(&self) -> &heed::RoTxn<'_>;
        fn owner(&self) -> &Inner;
    }
}

use sealed::Inner;

/// A transaction tables can read through: a [`ReadTxn`] or a [`WriteTxn`].
pub trait Txn: sealed::Raw {}

/// A read transaction: a consistent snapshot, alive for one [`Store::read`] call.
pub struct ReadTxn<'e> {
    txn: heed::RoTxn<'e, heed::WithTls>,
    owner: &'e Inner,
}

/// A write transaction, alive for one [`Store::write`] call; reads see its own writes.
pub struct WriteTxn<'e> {
    txn: heed::RwTxn<'e>,
    owner: &'e Inner,
    /// Set when LMDB reported MDB_MAP_FULL: the call grows the map and starts over.
    full: bool,
}

impl sealed::Raw for ReadTxn<'_> {
    fn raw(&self) -> &heed::RoTxn<'_> {
        &self.txn
    }
    fn owner(&self) -> &Inner {
        self.owner
    }
}

impl sealed::Raw for WriteTxn<'_> {
    fn raw(&self) -> &heed::RoTxn<'_> {
        &self.txn
    }
    fn owner(&self) -> &Inner {
        self.owner
    }
}

impl Txn for ReadTxn<'_> {}
impl Txn for WriteTxn<'_> {}

/// A named table of byte keys (sorted bytewise) and byte values.
#[derive(Clone)]
pub struct Table {
    db: Database<Bytes, Bytes>,
    name: &'static str,
    owner: Arc<Inner>,
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Table({:?})", self.name)
    }
}

/// Checks a key against LMDB's limits so a bad one fails alone, not its whole transaction.
fn check_key(path: &Path, table: &'static str, key: &[u8]) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_KEY_SIZE {
        return Err(StoreError::Invalid {
            path: path.to_owned(),
            table,
            what: format!(
                "key of {} bytes is outside LMDB's 1..={MAX_KEY_SIZE}",
                key.len()
            ),
        });
    }
    Ok(())
}

impl Table {
    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Refuses a transaction of another environment (heed would panic on it).
    fn check_owner(&self, txn: &impl Txn) -> Result<(), StoreError> {
        if std::ptr::eq(txn.owner(), &*self.owner) {
            Ok(())
        } else {
            Err(self
                .owner
                .invalid(self.name, "used with a transaction of another store".into()))
        }
    }

    /// The value under `key`, borrowed from the transaction.
    pub fn get<'t>(&self, txn: &'t impl Txn, key: &[u8]) -> Result<Option<&'t [u8]>, StoreError> {
        self.check_owner(txn)?;
        // LMDB rejects empty and oversize keys with an error; such a key is simply absent.
        if key.is_empty() || key.len() > MAX_KEY_SIZE {
            return Ok(None);
        }
        self.db
            .get(txn.raw(), key)
            .map_err(|e| txn.owner().lmdb("get", e))
    }

    /// Every entry in key order.
    pub fn iter<'t>(&self, txn: &'t impl Txn) -> Result<Iter<'t>, StoreError> {
        self.check_owner(txn)?;
        let owner = txn.owner();
        let it = self
            .db
            .iter(txn.raw())
            .map_err(|e| owner.lmdb("iterate", e))?;
        Ok(Iter {
            inner: IterInner::All(it),
            owner,
        })
    }

    /// The entries with keys between `start` and `end`, in key order.
    pub fn range<'t>(
        &self,
        txn: &'t impl Txn,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<Iter<'t>, StoreError> {
        self.check_owner(txn)?;
        let owner = txn.owner();
        let it = self
            .db
            .range(txn.raw(), &(start, end))
            .map_err(|e| owner.lmdb("range", e))?;
        Ok(Iter {
            inner: IterInner::Range(it),
            owner,
        })
    }

    /// The entries whose keys start with `prefix`, in key order.
    pub fn prefix<'t>(&self, txn: &'t impl Txn, prefix: &[u8]) -> Result<Iter<'t>, StoreError> {
        self.check_owner(txn)?;
        let owner = txn.owner();
        let it = self
            .db
            .prefix_iter(txn.raw(), prefix)
            .map_err(|e| owner.lmdb("prefix scan", e))?;
        Ok(Iter {
            inner: IterInner::Prefix(it),
            owner,
        })
    }

    /// The number of entries.
    pub fn len(&self, txn: &impl Txn) -> Result<u64, StoreError> {
        self.check_owner(txn)?;
        self.db
            .len(txn.raw())
            .map_err(|e| txn.owner().lmdb("count", e))
    }

    /// True when the table holds nothing.
    pub fn is_empty(&self, txn: &impl Txn) -> Result<bool, StoreError> {
        self.len(txn).map(|n| n == 0)
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn put(&self, txn: &mut WriteTxn<'_>, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.check_owner(txn)?;
        check_key(&self.owner.path, self.name, key)?;
        self.db.put(&mut txn.txn, key, value).map_err(|e| {
            txn.full |= is_full(&e);
            txn.owner.lmdb("put", e)
        })
    }

    /// Removes `key`; true when it was there.
    pub fn delete(&self, txn: &mut WriteTxn<'_>, key: &[u8]) -> Result<bool, StoreError> {
        self.check_owner(txn)?;
        if key.is_empty() || key.len() > MAX_KEY_SIZE {
            return Ok(false);
        }
        self.db.delete(&mut txn.txn, key).map_err(|e| {
            txn.full |= is_full(&e);
            txn.owner.lmdb("delete", e)
        })
    }

    /// Removes every key between `start` and `end`; returns how many.
    pub fn delete_range(
        &self,
        txn: &mut WriteTxn<'_>,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<usize, StoreError> {
        self.check_owner(txn)?;
        self.db
            .delete_range(&mut txn.txn, &(start, end))
            .map_err(|e| {
                txn.full |= is_full(&e);
                txn.owner.lmdb("delete range", e)
            })
    }
}

enum IterInner<'t> {
    All(heed::RoIter<'t, Bytes, Bytes>),
    Range(heed::RoRange<'t, Bytes, Bytes>),
    Prefix(heed::RoPrefix<'t, Bytes, Bytes>),
}

/// Entries of a table in key order, borrowed from the transaction.
pub struct Iter<'t> {
    inner: IterInner<'t>,
    owner: &'t Inner,
}

impl<'t> Iterator for Iter<'t> {
    type Item = Result<(&'t [u8], &'t [u8]), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match &mut self.inner {
            IterInner::All(it) => it.next(),
            IterInner::Range(it) => it.next(),
            IterInner::Prefix(it) => it.next(),
        }?;
        Some(next.map_err(|e| self.owner.lmdb("iterate", e)))
    }
}

/// One pending write of a batch.
enum Op {
    Put {
        table: Table,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        table: Table,
        key: Vec<u8>,
    },
}

/// The writes collected during one turn of the event loop, committed together by
/// [`Store::commit`] (group commit).
///
/// A batch also answers "what will this key hold once committed?" ([`Batch::pending`]), so
/// a decision made in the same turn (is this return a duplicate?) sees earlier writes of
/// the turn that are not on disk yet.
#[derive(Default)]
pub struct Batch {
    ops: Vec<Op>,
    /// The last op touching each (table, key): the overlay `pending` reads.
    last: HashMap<(&'static str, Vec<u8>), usize>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Queues `value` under `key`; a bad key is refused now so it cannot fail the commit.
    pub fn put(&mut self, table: &Table, key: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        check_key(&table.owner.path, table.name, key)?;
        self.last.insert((table.name, key.to_vec()), self.ops.len());
        self.ops.push(Op::Put {
            table: table.clone(),
            key: key.to_vec(),
            value,
        });
        Ok(())
    }

    /// Queues the removal of `key`.
    pub fn delete(&mut self, table: &Table, key: &[u8]) {
        self.last.insert((table.name, key.to_vec()), self.ops.len());
        self.ops.push(Op::Delete {
            table: table.clone(),
            key: key.to_vec(),
        });
    }

    /// What the batch will leave under `key`: `Some(Some(v))` a put, `Some(None)` a delete,
    /// `None` when the batch does not touch it.
    pub fn pending(&self, table: &Table, key: &[u8]) -> Option<Option<&[u8]>> {
        let i = *self.last.get(&(table.name, key.to_vec()))?;
        match self.ops.get(i)? {
            Op::Put { value, .. } => Some(Some(value)),
            Op::Delete { .. } => Some(None),
        }
    }

    /// Number of queued operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Drops every queued operation.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.last.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn collect(it: Iter<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
        it.map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn commits_are_timed_and_empty_ones_are_not_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t = store.table("t").unwrap();
        assert_eq!(store.commit_times(), CommitTimes::default());
        let mut b = Batch::new();
        store.commit(&mut b).unwrap();
        for i in 0..3u8 {
            b.put(&t, &[i + 1], vec![i]).unwrap();
            store.commit(&mut b).unwrap();
        }
        let c = store.commit_times();
        assert_eq!(c.count, 3);
        assert!(c.seconds > 0.0);
        assert!(c.buckets.windows(2).all(|w| w[0] <= w[1]), "cumulative");
        assert!(c.buckets[COMMIT_BUCKETS.len() - 1] <= 3);
        // A clone shares the environment and its figures.
        assert_eq!(store.clone().commit_times(), c);
    }

    #[test]
    fn a_committed_write_is_there_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let t = store.table("t").unwrap();
            let mut b = Batch::new();
            b.put(&t, b"k", b"v".to_vec()).unwrap();
            store.commit(&mut b).unwrap();
            assert!(b.is_empty());
        }
        let store = Store::open(dir.path()).unwrap();
        let t = store.table("t").unwrap();
        let v = store
            .read(|r| Ok(t.get(r, b"k")?.map(<[u8]>::to_vec)))
            .unwrap();
        assert_eq!(v.as_deref(), Some(&b"v"[..]));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn an_uncommitted_batch_is_not_written_and_an_error_aborts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t = store.table("t").unwrap();
        let mut b = Batch::new();
        b.put(&t, b"a", b"1".to_vec()).unwrap();
        drop(b);
        let r: Result<(), StoreError> = store.write(|w| {
            t.put(w, b"b", b"2")?;
            Err(store_invalid(&store))
        });
        assert!(r.is_err());
        store
            .read(|r| {
                assert!(t.is_empty(r)?);
                Ok(())
            })
            .unwrap();
    }

    fn store_invalid(store: &Store) -> StoreError {
        store.inner.invalid("t", "test".into())
    }

    #[test]
    fn the_batch_overlay_answers_before_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (t, u) = (store.table("t").unwrap(), store.table("u").unwrap());
        let mut b = Batch::new();
        b.put(&t, b"k", b"1".to_vec()).unwrap();
        assert_eq!(b.pending(&t, b"k"), Some(Some(&b"1"[..])));
        assert_eq!(b.pending(&u, b"k"), None);
        b.put(&t, b"k", b"2".to_vec()).unwrap();
        b.put(&t, b"gone", b"x".to_vec()).unwrap();
        b.delete(&t, b"gone");
        assert_eq!(b.pending(&t, b"k"), Some(Some(&b"2"[..])));
        assert_eq!(b.pending(&t, b"gone"), Some(None));
        assert_eq!(b.len(), 4);
        store.commit(&mut b).unwrap();
        let all = store.read(|r| Ok(collect(t.iter(r)?))).unwrap();
        assert_eq!(all, vec![(b"k".to_vec(), b"2".to_vec())]);
    }

    #[test]
    fn bad_keys_are_refused_when_queued_not_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t = store.table("t").unwrap();
        let mut b = Batch::new();
        assert!(b.put(&t, b"", vec![]).is_err());
        let long = vec![b'x'; MAX_KEY_SIZE + 1];
        let e = b.put(&t, &long, vec![]).unwrap_err();
        assert!(e.to_string().contains("table t: key of 512 bytes"), "{e}");
        b.put(&t, &long[..MAX_KEY_SIZE], vec![]).unwrap();
        store.commit(&mut b).unwrap();
        // Reads of impossible keys are simply misses.
        store
            .read(|r| {
                assert_eq!(t.get(r, &long)?, None);
                assert_eq!(t.get(r, b"")?, None);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn ranges_and_prefixes_follow_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t = store.table("t").unwrap();
        store
            .write(|w| {
                for k in ["a\0x", "a\0y", "a_1\0z", "b", "c"] {
                    t.put(w, k.as_bytes(), b"")?;
                }
                Ok(())
            })
            .unwrap();
        let keys = |it: Iter<'_>| -> Vec<String> {
            collect(it)
                .into_iter()
                .map(|(k, _)| String::from_utf8(k).unwrap())
                .collect()
        };
        store
            .read(|r| {
                assert_eq!(keys(t.prefix(r, b"a\0")?), ["a\0x", "a\0y"]);
                assert_eq!(
                    keys(t.range(r, Bound::Unbounded, Bound::Excluded(b"b"))?),
                    ["a\0x", "a\0y", "a_1\0z"]
                );
                assert_eq!(
                    keys(t.range(r, Bound::Included(b"b"), Bound::Unbounded)?),
                    ["b", "c"]
                );
                assert_eq!(t.len(r)?, 5);
                Ok(())
            })
            .unwrap();
        let n = store
            .write(|w| t.delete_range(w, Bound::Unbounded, Bound::Excluded(b"b")))
            .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn nested_calls_are_refused_not_undefined() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t = store.table("t").unwrap();
        let clone = store.clone();
        let inner = store
            .write(|w| {
                t.put(w, b"k", b"v")?;
                Ok(clone.read(|_| Ok(())).is_err())
            })
            .unwrap();
        assert!(inner);
        let e = store.read(|_| clone.write(|_| Ok(()))).unwrap_err();
        assert!(matches!(e, StoreError::Busy { .. }));
        assert!(e.to_string().contains("already open"), "{e}");
        // The flag is released afterwards.
        store.read(|r| t.get(r, b"k").map(|_| ())).unwrap();
    }

    #[test]
    fn a_table_of_another_store_is_an_error_not_a_panic() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let s1 = Store::open(d1.path()).unwrap();
        let s2 = Store::open(d2.path()).unwrap();
        let t1 = s1.table("t").unwrap();
        let e = s2.read(|r| t1.get(r, b"k").map(|_| ())).unwrap_err();
        assert!(e.to_string().contains("another store"), "{e}");
        let mut b = Batch::new();
        b.put(&t1, b"k", vec![]).unwrap();
        assert!(s2.commit(&mut b).is_err());
        assert_eq!(b.len(), 1, "a failed commit leaves the batch as it was");
        s1.commit(&mut b).unwrap();
    }

    #[test]
    fn a_full_map_grows_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(dir.path(), 256 << 10).unwrap();
        let t = store.table("t").unwrap();
        let start = store.map_size();
        let value = vec![0x5a_u8; 64 << 10];
        // 100 MiB in 400 transactions of four 64 KiB values.
        for txn in 0..400u32 {
            let mut b = Batch::new();
            for i in 0..4u32 {
                b.put(&t, &(txn * 4 + i).to_be_bytes(), value.clone())
                    .unwrap();
            }
            store.commit(&mut b).unwrap();
        }
        let n = store.read(|r| t.len(r)).unwrap();
        assert_eq!(n, 1600);
        println!(
            "map grew from {start} to {} bytes for 100 MiB of values",
            store.map_size()
        );
        assert!(store.map_size() >= 100 << 20);
    }

    #[test]
    fn one_transaction_larger_than_twice_the_map_still_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(dir.path(), 256 << 10).unwrap();
        let t = store.table("t").unwrap();
        let mut runs = 0;
        store
            .write(|w| {
                runs += 1;
                for i in 0..64u32 {
                    t.put(w, &i.to_be_bytes(), &[1u8; 64 << 10])?;
                }
                Ok(())
            })
            .unwrap();
        // 4 MiB from a 256 KiB map: the closure ran once per doubling, then committed.
        assert!(runs > 2, "{runs}");
        let n = store.read(|r| t.len(r)).unwrap();
        assert_eq!(n, 64);
    }

    #[test]
    fn measure_batched_against_single_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t = store.table("t").unwrap();
        let value = vec![7u8; 100];
        let singles = 200u32;
        let started = Instant::now();
        for i in 0..singles {
            let mut b = Batch::new();
            b.put(&t, &i.to_be_bytes(), value.clone()).unwrap();
            store.commit(&mut b).unwrap();
        }
        let single = started.elapsed();
        let (batches, per) = (50u32, 1000u32);
        let started = Instant::now();
        for n in 0..batches {
            let mut b = Batch::new();
            for i in 0..per {
                let key = (1_000_000 + n * per + i).to_be_bytes();
                b.put(&t, &key, value.clone()).unwrap();
            }
            store.commit(&mut b).unwrap();
        }
        let batched = started.elapsed();
        let total = (batches * per) as f64;
        println!(
            "single: {singles} commits of 1 write in {single:?} = {:.0} commits/s, {:.0} writes/s",
            singles as f64 / single.as_secs_f64(),
            singles as f64 / single.as_secs_f64()
        );
        println!(
            "batched: {batches} commits of {per} writes in {batched:?} = {:.0} commits/s, {:.0} writes/s",
            batches as f64 / batched.as_secs_f64(),
            total / batched.as_secs_f64()
        );
    }
}
