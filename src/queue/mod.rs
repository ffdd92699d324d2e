//! Queues: named sets of items that pop in insertion order, kept in the master's LMDB
//! environment (`lmdb`, the default backend) or in Salt's own sqlite files (`sqlite`).
//!
//! A queue operation is planned when its request arrives ([`Call`]) and carried out when the
//! loop turn commits ([`Queues::execute`]): every operation of the turn runs in the one
//! transaction that also holds the job cache's writes, in arrival order, and the clients are
//! answered only after that transaction is on disk (group commit, design.md Storage). So a pop
//! sees the inserts before it, two pops never return the same item, and an answered insert
//! survives a crash.

pub mod lmdb;
pub mod sqlite;

use crate::store::{Batch, Store, StoreError};
use serde_json::{Map, Value};
use std::fmt;
use std::path::PathBuf;

pub use crate::queue_op::{check_name, Backend, Call, Items, Op, Quantity, MAX_NAME};

/// Salt's answer to an insert that met an item already there.
pub const EXISTS_ONE: &str = "Item already exists in this queue.";
/// Salt's answer to a list insert that met an item already there.
pub const EXISTS_MANY: &str = "One or more items already exists in this queue.";

/// Why a queue operation failed.
#[derive(Debug)]
pub enum QueueError {
    /// The backend is not available here.
    Unavailable(String),
    /// The master's store failed (the whole turn's transaction was abandoned).
    Store(String),
    /// An sqlite queue file could not be used.
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's message.
        err: String,
    },
    /// The queue directory could not be read or created.
    Io {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        err: std::io::Error,
    },
    /// A stored item could not be read back.
    Corrupt(String),
    /// The request names something the backend cannot hold (a reserved queue name).
    Invalid(String),
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::Unavailable(m)
            | QueueError::Store(m)
            | QueueError::Corrupt(m)
            | QueueError::Invalid(m) => f.write_str(m),
            QueueError::Sqlite { path, err } => write!(f, "{}: {err}", path.display()),
            QueueError::Io { path, err } => write!(f, "{}: {err}", path.display()),
        }
    }
}

impl std::error::Error for QueueError {}

impl From<StoreError> for QueueError {
    fn from(e: StoreError) -> QueueError {
        QueueError::Store(e.to_string())
    }
}

/// A queue operation's result: Salt's return value.
pub type Outcome = Result<Value, QueueError>;

/// The queue backends of one master.
pub struct Queues {
    lmdb: Option<(Store, lmdb::Tables)>,
    sqlite: sqlite::Sqlite,
}

impl Queues {
    /// Queues in `sqlite_dir`; the lmdb backend comes with [`Queues::attach_store`].
    pub fn new(sqlite_dir: PathBuf) -> Queues {
        Queues {
            lmdb: None,
            sqlite: sqlite::Sqlite::new(sqlite_dir),
        }
    }

    /// Opens the lmdb backend's tables in the master's store.
    pub fn attach_store(&mut self, store: &Store) -> Result<(), StoreError> {
        self.lmdb = Some((store.clone(), lmdb::Tables::open(store)?));
        Ok(())
    }

    /// The sqlite backend's directory.
    pub fn sqlite_dir(&self) -> &std::path::Path {
        self.sqlite.dir()
    }

    /// Follows a changed `sqlite_queue_dir`.
    pub fn set_sqlite_dir(&mut self, dir: PathBuf) {
        if dir != self.sqlite.dir() {
            self.sqlite = sqlite::Sqlite::new(dir);
        }
    }

    /// Commits `batch` and carries out `calls` in order, the LMDB ones in the batch's
    /// transaction. Returns the batch's fate and one result per call. When the LMDB
    /// transaction fails, the batch is left as it was (the caller drops it) and every LMDB
    /// call fails with the store's error.
    pub fn execute(
        &mut self,
        batch: &mut Batch,
        calls: &[Call],
    ) -> (Result<(), StoreError>, Vec<Outcome>) {
        let mut results: Vec<Option<Outcome>> = calls.iter().map(|_| None).collect();
        let lmdb_calls: Vec<usize> = (0..calls.len())
            .filter(|&i| {
                calls[i].backend == Backend::Lmdb && !matches!(calls[i].op, Op::Migrate { .. })
            })
            .collect();
        let mut batch_result = Ok(());
        match self.lmdb.as_ref() {
            Some((store, tables)) if !batch.is_empty() || !lmdb_calls.is_empty() => {
                let mut out: Vec<Outcome> = Vec::new();
                let r = store.commit_with(batch, |txn| {
                    out.clear();
                    for &i in &lmdb_calls {
                        match tables.apply(txn, &calls[i].op) {
                            Err(QueueError::Store(e)) => {
                                return Err(StoreError::Invalid {
                                    path: store.path().to_owned(),
                                    table: "queues",
                                    what: e,
                                })
                            }
                            r => out.push(r),
                        }
                    }
                    Ok(())
                });
                match r {
                    Ok(()) => {
                        for (&i, r) in lmdb_calls.iter().zip(out) {
                            results[i] = Some(r);
                        }
                    }
                    Err(e) => {
                        for &i in &lmdb_calls {
                            results[i] = Some(Err(QueueError::Store(e.to_string())));
                        }
                        batch_result = Err(e);
                    }
                }
            }
            Some(_) => {}
            None => {
                for &i in &lmdb_calls {
                    results[i] = Some(Err(no_lmdb()));
                }
            }
        }
        let sqlite_calls: Vec<usize> = (0..calls.len())
            .filter(|&i| {
                calls[i].backend == Backend::Sqlite && !matches!(calls[i].op, Op::Migrate { .. })
            })
            .collect();
        if !sqlite_calls.is_empty() {
            let ops: Vec<&Op> = sqlite_calls.iter().map(|&i| &calls[i].op).collect();
            for (&i, r) in sqlite_calls.iter().zip(self.sqlite.execute(&ops)) {
                results[i] = Some(r);
            }
        }
        for (i, call) in calls.iter().enumerate() {
            if let Op::Migrate { dst, queue } = &call.op {
                results[i] = Some(self.migrate(call.backend, *dst, queue.as_deref()));
            }
        }
        let results = results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(QueueError::Store("not carried out".into()))))
            .collect();
        (batch_result, results)
    }

    /// The first `max` lmdb queues by name with their lengths, in one bounded store read
    /// (none without a store); the sqlite backend's files are not opened for this.
    pub fn lengths(&self, max: usize) -> Result<Vec<(String, u64)>, QueueError> {
        match self.lmdb.as_ref() {
            Some((store, tables)) => store.read(|txn| Ok(tables.lengths(txn, max)))?,
            None => Ok(Vec::new()),
        }
    }

    /// Runs one call alone, in its own transaction (tools and tests).
    pub fn execute_one(&mut self, call: &Call) -> Outcome {
        let mut batch = Batch::new();
        let (_, mut r) = self.execute(&mut batch, std::slice::from_ref(call));
        r.pop()
            .unwrap_or_else(|| Err(QueueError::Store("not carried out".into())))
    }

    /// Every queue of `backend` with its items, oldest first.
    fn dump(
        &mut self,
        backend: Backend,
        only: Option<&str>,
    ) -> Result<Vec<(String, Vec<Value>)>, QueueError> {
        match backend {
            Backend::Lmdb => {
                let (store, tables) = self.lmdb.as_ref().ok_or_else(no_lmdb)?;
                store.read(|txn| Ok(tables.dump(txn, only)))?
            }
            Backend::Sqlite => self.sqlite.dump(only),
        }
    }

    /// Copies queues from `src` to `dst`: `{queue: {copied: N, skipped: M}}`, skipped being
    /// the items the destination already had.
    fn migrate(&mut self, src: Backend, dst: Backend, only: Option<&str>) -> Outcome {
        if src == dst {
            return Err(QueueError::Unavailable(format!(
                "source and destination are both {}",
                src.name()
            )));
        }
        let queues = self.dump(src, only)?;
        let mut report = Map::new();
        for (name, items) in queues {
            let (copied, skipped) = match dst {
                Backend::Lmdb => {
                    let (store, tables) = self.lmdb.as_ref().ok_or_else(no_lmdb)?;
                    let items: Vec<Value> = items.into_iter().map(sqlite::from_text).collect();
                    let mut counts = (0, 0);
                    store.write(|txn| {
                        counts = (0, 0);
                        for item in &items {
                            match tables.insert_one(txn, &name, item) {
                                Ok(true) => counts.0 += 1,
                                Ok(false) => counts.1 += 1,
                                Err(QueueError::Store(e)) => {
                                    return Err(StoreError::Invalid {
                                        path: store.path().to_owned(),
                                        table: "queues",
                                        what: e,
                                    })
                                }
                                Err(_) => counts.1 += 1,
                            }
                        }
                        tables.touch(txn, &name)?;
                        Ok(())
                    })?;
                    counts
                }
                Backend::Sqlite => self.sqlite.copy_in(&name, &items)?,
            };
            let mut m = Map::new();
            m.insert("copied".into(), Value::from(copied));
            m.insert("skipped".into(), Value::from(skipped));
            report.insert(name, Value::Object(m));
        }
        Ok(Value::Object(report))
    }
}

fn no_lmdb() -> QueueError {
    QueueError::Unavailable("the lmdb queue backend needs the master's store".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantity_reads_like_python_int() {
        assert_eq!(Quantity::parse(&json!("all")), Ok(Quantity::All));
        assert_eq!(Quantity::parse(&json!(2)), Ok(Quantity::Count(2)));
        assert_eq!(Quantity::parse(&json!(" 3 ")), Ok(Quantity::Count(3)));
        assert_eq!(Quantity::parse(&json!("1_000")), Ok(Quantity::Count(1000)));
        assert_eq!(Quantity::parse(&json!(-1)), Ok(Quantity::All));
        assert_eq!(Quantity::parse(&json!(2.7)), Ok(Quantity::Count(2)));
        assert_eq!(Quantity::parse(&json!(true)), Ok(Quantity::Count(1)));
        assert_eq!(
            Quantity::parse(&json!("abc")).unwrap_err(),
            "Quantity must be an integer or \"all\".\nError: \"invalid literal for int() with base 10: 'abc'\"."
        );
        assert!(Quantity::parse(&json!(null))
            .unwrap_err()
            .contains("not 'NoneType'"));
        assert!(Quantity::parse(&json!("1__0")).is_err());
        assert!(Quantity::parse(&json!("ALL")).is_err());
    }

    #[test]
    fn items_are_strings_or_maps() {
        assert_eq!(Items::parse(json!("a")), Ok(Items::One(json!("a"))));
        assert_eq!(
            Items::parse(json!(["a", {"b": 1}])),
            Ok(Items::Many(vec![json!("a"), json!({"b": 1})]))
        );
        assert_eq!(
            Items::parse(json!(5)).unwrap_err(),
            "a queue item must be a string or a map, not int 5"
        );
        assert!(Items::parse(json!(["a", null])).is_err());
        assert!(Items::parse(json!([["a"]])).is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("myqueue").is_ok());
        assert!(check_name("my queue-1 ünï").is_ok());
        assert!(check_name("").unwrap_err().contains("empty"));
        assert!(check_name("a/b").unwrap_err().contains("'/'"));
        assert!(check_name("a\0b").unwrap_err().contains("NUL"));
        assert!(check_name(&"x".repeat(256)).is_err());
        assert!(check_name("..").is_err());
    }
}
