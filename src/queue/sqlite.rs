//! The `sqlite` queue backend in Salt's own on-disk format (salt-spec §5.3), so queue
//! directories written by Salt's `sqlite_queue.py` work here and the other way round: one
//! `<queue>.db` file per queue in `sqlite_queue_dir`, holding one table named after the queue,
//! `id INTEGER PRIMARY KEY, name TEXT UNIQUE`; an item is its text, a map is stored as Salt
//! stores it (JSON with `"` turned into `'`).
//!
//! Kept from Salt: the file and table layout, the return values and the duplicate messages
//! (with SQLite's own text after `sqlite error:`). Not kept: the quoting bugs (names and
//! items are bound or quoted, so any name and any item text work), the lexical pop order
//! (salt#56421: items pop oldest first, by `id`), a list insert half-done on a duplicate (it
//! is all or none here), and the race between two pops (select and delete share one
//! `BEGIN IMMEDIATE` transaction).
//!
//! The operations of one loop turn on one queue share one transaction and one commit. SQLite
//! never waits for a lock here (busy timeout 0): a file locked by another process is an
//! error, not a stalled loop. This is the only module that names rusqlite.

use super::{Items, Op, Outcome, Quantity, QueueError, EXISTS_MANY, EXISTS_ONE};
use rusqlite::{params, Connection, OpenFlags};
use serde_json::Value;
use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Open connections kept between turns; past it they are all closed and reopened on use.
const MAX_OPEN: usize = 64;

/// The sqlite backend: a directory of queue files and the connections open on them.
pub struct Sqlite {
    dir: PathBuf,
    conns: HashMap<String, Connection>,
}

/// SQLite's message for an error, as Salt shows it after `sqlite error:`.
/// Names SQLite keeps for itself (`sqlite_master`, `sqlite_sequence`, ...) cannot be a
/// queue's table, and `NAME.db` must fit a file name: refused before any file is made.
fn check_file_name(name: &str) -> Result<(), QueueError> {
    let why = if name.len() > 252 {
        "it is longer than 252 bytes, too long for NAME.db"
    } else if name.len() >= 7 && name[..7].eq_ignore_ascii_case("sqlite_") {
        "names starting with sqlite_ are reserved by SQLite"
    } else {
        return Ok(());
    };
    Err(QueueError::Invalid(format!(
        "invalid queue name '{name}': {why}"
    )))
}

fn message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    }
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An item's stored text: a string as it is, a map as Salt writes it.
pub fn to_text(item: &Value) -> String {
    match item {
        Value::String(s) => s.clone(),
        // Python's json.dumps (default separators, ensure_ascii), as Salt writes maps.
        other => crate::py::json_dumps(other, None, false, true).replace('"', "'"),
    }
}

/// Salt's reading of a stored runner call: `'` back to `"`, then JSON.
fn runner_item(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(&text.replace('\'', "\""))
        .ok()
        .filter(Value::is_object)
}

/// A stored text as an item for another backend: Salt's map text becomes the map again.
pub fn from_text(item: Value) -> Value {
    match &item {
        Value::String(s) if s.starts_with('{') => runner_item(s).unwrap_or(item),
        _ => item,
    }
}

impl Sqlite {
    /// The backend over `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Sqlite {
        Sqlite {
            dir,
            conns: HashMap::new(),
        }
    }

    /// The queue directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.db"))
    }

    fn sqlite_err(&self, name: &str, e: &rusqlite::Error) -> QueueError {
        QueueError::Sqlite {
            path: self.path(name),
            err: message(e),
        }
    }

    /// The connection to `name`'s file, opened (and the file made) on first use.
    fn conn(&mut self, name: &str) -> Result<&Connection, QueueError> {
        if !self.conns.contains_key(name) {
            check_file_name(name)?;
            // Queued items are the master's business: the directory and files are private.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|err| QueueError::Io {
                    path: self.dir.clone(),
                    err,
                })?;
            let path = self.path(name);
            // SQLite would create the file with the umask's mode (0644); make it first.
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(|err| QueueError::Io {
                    path: path.clone(),
                    err,
                })?;
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| self.sqlite_err(name, &e))?;
            // Never wait for another process's lock inside the event loop.
            conn.busy_timeout(Duration::ZERO)
                .map_err(|e| self.sqlite_err(name, &e))?;
            self.conns.insert(name.to_owned(), conn);
        }
        self.conns
            .get(name)
            .ok_or_else(|| QueueError::Corrupt(format!("queue {name}: connection lost")))
    }

    /// Opens `name` for this turn: an immediate transaction, and the table as Salt makes it.
    fn begin(&mut self, name: &str) -> Result<(), QueueError> {
        let sql = format!(
            "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS {}(id INTEGER PRIMARY KEY, name TEXT UNIQUE);",
            ident(name)
        );
        let r = self.conn(name)?.execute_batch(&sql);
        r.map_err(|e| {
            self.rollback(name);
            self.sqlite_err(name, &e)
        })
    }

    fn rollback(&mut self, name: &str) {
        if let Some(c) = self.conns.get(name) {
            if !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
        }
    }

    /// The queue names: the `*.db` files of the directory, sorted.
    fn names(&self) -> Result<Vec<String>, QueueError> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => {
                return Err(QueueError::Io {
                    path: self.dir.clone(),
                    err,
                })
            }
        };
        let mut out: Vec<String> = rd
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let q = name.strip_suffix(".db")?;
                (!q.is_empty() && e.file_type().ok()?.is_file()).then(|| q.to_owned())
            })
            .collect();
        out.sort();
        Ok(out)
    }

    fn insert(&mut self, name: &str, items: &Items) -> Outcome {
        let sql = format!("INSERT INTO {}(name) VALUES (?1)", ident(name));
        let path = self.path(name);
        let err = |e: &rusqlite::Error| QueueError::Sqlite {
            path: path.clone(),
            err: message(e),
        };
        let conn = self.conn(name)?;
        match items {
            Items::One(item) => match conn.execute(&sql, params![to_text(item)]) {
                Ok(_) => Ok(Value::Bool(true)),
                Err(e) if is_unique(&e) => Ok(Value::String(format!(
                    "{EXISTS_ONE} sqlite error: {}",
                    message(&e)
                ))),
                Err(e) => Err(err(&e)),
            },
            Items::Many(list) => {
                conn.execute_batch("SAVEPOINT items").map_err(|e| err(&e))?;
                let mut failed = None;
                for item in list {
                    if let Err(e) = conn.execute(&sql, params![to_text(item)]) {
                        failed = Some(e);
                        break;
                    }
                }
                let end = if failed.is_some() {
                    "ROLLBACK TO items; RELEASE items"
                } else {
                    "RELEASE items"
                };
                conn.execute_batch(end).map_err(|e| err(&e))?;
                match failed {
                    None => Ok(Value::Bool(true)),
                    Some(e) if is_unique(&e) => Ok(Value::String(format!(
                        "{EXISTS_MANY} sqlite error: {}",
                        message(&e)
                    ))),
                    Some(e) => Err(err(&e)),
                }
            }
        }
    }

    fn delete(&mut self, name: &str, items: &Items) -> Outcome {
        let sql = format!("DELETE FROM {} WHERE name = ?1", ident(name));
        for item in items.as_slice() {
            let r = self.conn(name)?.execute(&sql, params![to_text(item)]);
            r.map_err(|e| self.sqlite_err(name, &e))?;
        }
        Ok(Value::Bool(true))
    }

    fn select(&mut self, name: &str, limit: Option<u64>) -> Result<Vec<(i64, String)>, QueueError> {
        let mut sql = format!("SELECT id, name FROM {} ORDER BY id", ident(name));
        if let Some(n) = limit {
            sql.push_str(&format!(" LIMIT {}", n.min(i64::MAX as u64)));
        }
        let conn = self.conn(name)?;
        let rows = conn.prepare(&sql).and_then(|mut st| {
            st.query_map([], |r| {
                let text = match r.get_ref(1)? {
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    rusqlite::types::ValueRef::Real(f) => f.to_string(),
                    rusqlite::types::ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                    rusqlite::types::ValueRef::Null => "None".to_owned(),
                };
                Ok((r.get::<_, i64>(0)?, text))
            })?
            .collect::<Result<Vec<_>, _>>()
        });
        rows.map_err(|e| self.sqlite_err(name, &e))
    }

    fn pop(&mut self, name: &str, quantity: Quantity, is_runner: bool) -> Outcome {
        let limit = match quantity {
            Quantity::All => None,
            Quantity::Count(n) => Some(n),
        };
        let rows = self.select(name, limit)?;
        let sql = format!("DELETE FROM {} WHERE id = ?1", ident(name));
        // All of the pop or none of it, even inside the turn's transaction.
        let r = self.conn(name)?.execute_batch("SAVEPOINT pop");
        r.map_err(|e| self.sqlite_err(name, &e))?;
        for (id, _) in &rows {
            let r = self.conn(name)?.execute(&sql, params![id]);
            if let Err(e) = r {
                let _ = self
                    .conn(name)?
                    .execute_batch("ROLLBACK TO pop; RELEASE pop");
                return Err(self.sqlite_err(name, &e));
            }
        }
        let r = self.conn(name)?.execute_batch("RELEASE pop");
        r.map_err(|e| self.sqlite_err(name, &e))?;
        Ok(Value::Array(
            rows.into_iter()
                .map(|(_, text)| match is_runner {
                    true => runner_item(&text).unwrap_or(Value::String(text)),
                    false => Value::String(text),
                })
                .collect(),
        ))
    }

    fn length(&mut self, name: &str) -> Outcome {
        let sql = format!("SELECT COUNT(*) FROM {}", ident(name));
        let r = self.conn(name)?.query_row(&sql, [], |r| r.get::<_, i64>(0));
        r.map(Value::from).map_err(|e| self.sqlite_err(name, &e))
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Insert { queue, items } => self.insert(queue, items),
            Op::Delete { queue, items } => self.delete(queue, items),
            Op::ListQueues => Ok(Value::from(self.names()?)),
            Op::ListItems { queue } => Ok(Value::Array(
                self.select(queue, None)?
                    .into_iter()
                    .map(|(_, t)| Value::String(t))
                    .collect(),
            )),
            Op::ListLength { queue } => self.length(queue),
            Op::Pop {
                queue,
                quantity,
                is_runner,
            } => self.pop(queue, *quantity, *is_runner),
            Op::Migrate { .. } => Err(QueueError::Unavailable(
                "a migration is not a single-backend operation".into(),
            )),
        }
    }

    /// Carries out one turn's operations in order; those on one queue share a transaction,
    /// committed once at the end. A failed commit fails every operation on that queue.
    pub fn execute(&mut self, ops: &[&Op]) -> Vec<Outcome> {
        // Only between turns, when no connection holds a transaction, may idle ones close.
        if self.conns.len() >= MAX_OPEN {
            self.conns.retain(|_, c| !c.is_autocommit());
        }
        let mut results: Vec<Outcome> = Vec::with_capacity(ops.len());
        let mut open: Vec<String> = Vec::new();
        let mut failed_begin: HashMap<String, String> = HashMap::new();
        for op in ops {
            if let Some(q) = op_queue(op) {
                if let Some(e) = failed_begin.get(q) {
                    results.push(Err(QueueError::Sqlite {
                        path: self.path(q),
                        err: e.clone(),
                    }));
                    continue;
                }
                if !open.iter().any(|o| o == q) {
                    if let Err(e) = self.begin(q) {
                        failed_begin.insert(q.to_owned(), e.to_string());
                        results.push(Err(e));
                        continue;
                    }
                    open.push(q.to_owned());
                }
            }
            results.push(self.apply(op));
        }
        for q in open {
            let r = match self.conns.get(&q) {
                Some(c) => c.execute_batch("COMMIT"),
                None => Err(rusqlite::Error::InvalidQuery),
            };
            if let Err(e) = r {
                self.rollback(&q);
                let err = message(&e);
                for (op, res) in ops.iter().zip(results.iter_mut()) {
                    if op_queue(op) == Some(q.as_str()) {
                        *res = Err(QueueError::Sqlite {
                            path: self.path(&q),
                            err: err.clone(),
                        });
                    }
                }
            }
        }
        results
    }

    /// Every queue (or only `only`) with its items as stored, oldest first.
    pub fn dump(&mut self, only: Option<&str>) -> Result<Vec<(String, Vec<Value>)>, QueueError> {
        let names = match only {
            Some(n) => vec![n.to_owned()],
            None => self.names()?,
        };
        let mut out = Vec::new();
        for n in names {
            let ops = [&Op::ListItems { queue: n.clone() }];
            let items = match self.execute(&ops).pop() {
                Some(Ok(Value::Array(items))) => items,
                Some(Err(e)) => return Err(e),
                _ => Vec::new(),
            };
            out.push((n, items));
        }
        Ok(out)
    }

    /// Inserts `items` into `name` one by one in one transaction: (copied, already there).
    pub fn copy_in(&mut self, name: &str, items: &[Value]) -> Result<(u64, u64), QueueError> {
        self.begin(name)?;
        let sql = format!("INSERT OR IGNORE INTO {}(name) VALUES (?1)", ident(name));
        let mut counts = (0, 0);
        for item in items {
            let r = self.conn(name)?.execute(&sql, params![to_text(item)]);
            match r {
                Ok(1) => counts.0 += 1,
                Ok(_) => counts.1 += 1,
                Err(e) => {
                    self.rollback(name);
                    return Err(self.sqlite_err(name, &e));
                }
            }
        }
        let r = self.conn(name)?.execute_batch("COMMIT");
        if let Err(e) = r {
            self.rollback(name);
            return Err(self.sqlite_err(name, &e));
        }
        Ok(counts)
    }
}

fn op_queue(op: &Op) -> Option<&str> {
    match op {
        Op::Insert { queue, .. }
        | Op::Delete { queue, .. }
        | Op::ListItems { queue }
        | Op::ListLength { queue }
        | Op::Pop { queue, .. } => Some(queue),
        Op::ListQueues | Op::Migrate { .. } => None,
    }
}

fn is_unique(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(s: &mut Sqlite, op: Op) -> Value {
        s.execute(&[&op]).pop().unwrap().unwrap()
    }

    /// A queue file made the way Salt's sqlite_queue.py makes it.
    fn salt_queue(dir: &Path, name: &str, items: &[&str]) {
        std::fs::create_dir_all(dir).unwrap();
        let c = Connection::open(dir.join(format!("{name}.db"))).unwrap();
        c.execute_batch(&format!(
            "CREATE TABLE {name}(id INTEGER PRIMARY KEY, name TEXT UNIQUE)"
        ))
        .unwrap();
        for i in items {
            // Salt doubles single quotes into an SQL literal.
            let lit = i.replace('\'', "''");
            c.execute(&format!("INSERT INTO {name}(name) VALUES ('{lit}')"), [])
                .unwrap();
        }
    }

    #[test]
    fn reads_and_writes_salts_format() {
        let dir = tempfile::tempdir().unwrap();
        let qdir = dir.path().join("queues");
        salt_queue(
            &qdir,
            "salty",
            &[
                "zulu",
                "alpha",
                "{'fun': 'test.arg', 'args': [], 'kwargs': {}}",
            ],
        );
        let mut s = Sqlite::new(qdir.clone());
        assert_eq!(run(&mut s, Op::ListQueues), json!(["salty"]));
        assert_eq!(
            run(
                &mut s,
                Op::ListLength {
                    queue: "salty".into()
                }
            ),
            json!(3)
        );
        assert_eq!(
            run(
                &mut s,
                Op::Insert {
                    queue: "salty".into(),
                    items: Items::One(json!("alpha"))
                }
            ),
            json!("Item already exists in this queue. sqlite error: UNIQUE constraint failed: salty.name")
        );
        assert_eq!(
            run(
                &mut s,
                Op::Insert {
                    queue: "salty".into(),
                    items: Items::Many(vec![json!("new"), json!("zulu")])
                }
            ),
            json!("One or more items already exists in this queue. sqlite error: UNIQUE constraint failed: salty.name")
        );
        assert_eq!(
            run(
                &mut s,
                Op::Pop {
                    queue: "salty".into(),
                    quantity: Quantity::Count(2),
                    is_runner: false
                }
            ),
            json!(["zulu", "alpha"]),
            "oldest first, not lexical"
        );
        assert_eq!(
            run(
                &mut s,
                Op::Pop {
                    queue: "salty".into(),
                    quantity: Quantity::All,
                    is_runner: true
                }
            ),
            json!([{"fun": "test.arg", "args": [], "kwargs": {}}])
        );
        // A map is stored as Salt stores it, so Salt reads it back.
        run(
            &mut s,
            Op::Insert {
                queue: "salty".into(),
                items: Items::One(
                    json!({"fun": "event.send", "args": ["t"], "kwargs": {"é": "it's"}}),
                ),
            },
        );
        drop(s);
        let c = Connection::open(qdir.join("salty.db")).unwrap();
        let text: String = c
            .query_row("SELECT name FROM salty", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            text,
            "{'fun': 'event.send', 'args': ['t'], 'kwargs': {'\\u00e9': 'it's'}}"
        );
    }

    #[test]
    fn any_name_and_item_text_work() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sqlite::new(dir.path().join("q"));
        for name in ["select", "my-queue", "with \"quote\"", "name"] {
            let items = Items::Many(vec![json!("name"), json!("it's"), json!("a\"b")]);
            assert_eq!(
                run(
                    &mut s,
                    Op::Insert {
                        queue: name.into(),
                        items: items.clone()
                    }
                ),
                json!(true)
            );
            assert_eq!(
                run(
                    &mut s,
                    Op::Delete {
                        queue: name.into(),
                        items: Items::One(json!("it's"))
                    }
                ),
                json!(true)
            );
            assert_eq!(
                run(
                    &mut s,
                    Op::Pop {
                        queue: name.into(),
                        quantity: Quantity::All,
                        is_runner: false
                    }
                ),
                json!(["name", "a\"b"])
            );
        }
        assert_eq!(
            run(&mut s, Op::ListQueues),
            json!(["my-queue", "name", "select", "with \"quote\""])
        );
    }

    #[test]
    fn a_turn_touching_more_queues_than_stay_open_commits_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sqlite::new(dir.path().join("q"));
        for round in 0..2 {
            let ops: Vec<Op> = (0..(MAX_OPEN + 10))
                .map(|i| Op::Insert {
                    queue: format!("q{i}"),
                    items: Items::One(json!(format!("item{round}"))),
                })
                .collect();
            let refs: Vec<&Op> = ops.iter().collect();
            for r in s.execute(&refs) {
                assert_eq!(r.unwrap(), json!(true));
            }
        }
        drop(s);
        let mut s = Sqlite::new(dir.path().join("q"));
        for i in [0, MAX_OPEN + 9] {
            assert_eq!(
                run(
                    &mut s,
                    Op::ListItems {
                        queue: format!("q{i}")
                    }
                ),
                json!(["item0", "item1"])
            );
        }
    }

    #[test]
    fn a_locked_file_is_an_error_not_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let qdir = dir.path().join("q");
        salt_queue(&qdir, "locked", &["a"]);
        let other = Connection::open(qdir.join("locked.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut s = Sqlite::new(qdir);
        let t = std::time::Instant::now();
        let r = s
            .execute(&[&Op::ListLength {
                queue: "locked".into(),
            }])
            .pop()
            .unwrap();
        assert!(r.unwrap_err().to_string().contains("locked"));
        assert!(t.elapsed() < Duration::from_secs(1));
        other.execute_batch("COMMIT").unwrap();
        assert_eq!(
            run(
                &mut s,
                Op::ListLength {
                    queue: "locked".into()
                }
            ),
            json!(1)
        );
    }
}
