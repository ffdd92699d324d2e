//! The `lmdb` queue backend: three tables of the master's LMDB environment.
//!
//! - `queues`: name → next sequence number and item count (16 bytes, big-endian);
//! - `queue_items`: name, NUL, sequence (8 bytes big-endian) → the item (msgpack), so a
//!   prefix scan walks a queue oldest first;
//! - `queue_index`: name, NUL, SHA-256 of the item → its sequence number, which gives set
//!   semantics (an item is stored once) and deletes by value without a scan.
//!
//! A name never holds NUL, so one queue's keys are never a prefix of another's.

use super::{Items, Op, Outcome, Quantity, QueueError, EXISTS_MANY, EXISTS_ONE};
use crate::store::{Store, StoreError, Table, Txn, WriteTxn};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The LMDB tables that hold every queue: each queue's counters, its items by position, and
/// an index from item to position (set semantics).
pub struct Tables {
    queues: Table,
    items: Table,
    index: Table,
}

/// A queue's counters.
#[derive(Clone, Copy, Default)]
struct Meta {
    next: u64,
    len: u64,
}

impl Meta {
    fn decode(b: &[u8]) -> Meta {
        let word = |r: std::ops::Range<usize>| {
            b.get(r)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map_or(0, u64::from_be_bytes)
        };
        Meta {
            next: word(0..8),
            len: word(8..16),
        }
    }

    fn encode(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next.to_be_bytes());
        b[8..].copy_from_slice(&self.len.to_be_bytes());
        b
    }
}

/// The item's stored form: msgpack with map keys sorted, so equal maps are equal bytes.
pub fn canonical(item: &Value) -> Vec<u8> {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    rmp_serde::to_vec_named(&sorted(item)).unwrap_or_default()
}

fn key(name: &str, tail: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 1 + tail.len());
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k.extend_from_slice(tail);
    k
}

fn decode(name: &str, bytes: &[u8]) -> Result<Value, QueueError> {
    rmp_serde::from_slice(bytes)
        .map_err(|e| QueueError::Corrupt(format!("queue {name}: unreadable item: {e}")))
}

impl Tables {
    /// Opens (creating) the tables in `store`.
    pub fn open(store: &Store) -> Result<Tables, StoreError> {
        Ok(Tables {
            queues: store.table("queues")?,
            items: store.table("queue_items")?,
            index: store.table("queue_index")?,
        })
    }

    fn meta(&self, txn: &impl Txn, name: &str) -> Result<Option<Meta>, QueueError> {
        Ok(self.queues.get(txn, name.as_bytes())?.map(Meta::decode))
    }

    /// Records the queue so that `list_queues` shows it even while it is empty.
    pub fn touch(&self, txn: &mut WriteTxn<'_>, name: &str) -> Result<(), StoreError> {
        if self.queues.get(txn, name.as_bytes())?.is_none() {
            self.queues
                .put(txn, name.as_bytes(), &Meta::default().encode())?;
        }
        Ok(())
    }

    /// Adds one item unless it is there; true when added.
    pub fn insert_one(
        &self,
        txn: &mut WriteTxn<'_>,
        name: &str,
        item: &Value,
    ) -> Result<bool, QueueError> {
        let bytes = canonical(item);
        let ik = key(name, &crate::crypto::sha256(&bytes));
        if self.index.get(txn, &ik)?.is_some() {
            return Ok(false);
        }
        let mut meta = self.meta(txn, name)?.unwrap_or_default();
        let seq = meta.next.to_be_bytes();
        self.items.put(txn, &key(name, &seq), &bytes)?;
        self.index.put(txn, &ik, &seq)?;
        meta.next += 1;
        meta.len += 1;
        self.queues.put(txn, name.as_bytes(), &meta.encode())?;
        Ok(true)
    }

    fn insert(&self, txn: &mut WriteTxn<'_>, name: &str, items: &Items) -> Outcome {
        match items {
            Items::One(item) => Ok(if self.insert_one(txn, name, item)? {
                Value::Bool(true)
            } else {
                Value::String(EXISTS_ONE.into())
            }),
            Items::Many(list) => {
                // All or none: look for any item already there, or twice in the list.
                let mut seen = HashSet::new();
                for item in list {
                    let h = crate::crypto::sha256(&canonical(item));
                    if !seen.insert(h) || self.index.get(txn, &key(name, &h))?.is_some() {
                        return Ok(Value::String(EXISTS_MANY.into()));
                    }
                }
                for item in list {
                    self.insert_one(txn, name, item)?;
                }
                if list.is_empty() {
                    self.touch(txn, name)?;
                }
                Ok(Value::Bool(true))
            }
        }
    }

    fn delete(&self, txn: &mut WriteTxn<'_>, name: &str, items: &Items) -> Outcome {
        let Some(mut meta) = self.meta(txn, name)? else {
            return Ok(Value::Bool(true));
        };
        for item in items.as_slice() {
            let ik = key(name, &crate::crypto::sha256(&canonical(item)));
            let Some(seq) = self.index.get(txn, &ik)?.map(<[u8]>::to_vec) else {
                continue;
            };
            self.index.delete(txn, &ik)?;
            self.items.delete(txn, &key(name, &seq))?;
            meta.len = meta.len.saturating_sub(1);
        }
        self.queues.put(txn, name.as_bytes(), &meta.encode())?;
        Ok(Value::Bool(true))
    }

    fn pop(&self, txn: &mut WriteTxn<'_>, name: &str, quantity: Quantity) -> Outcome {
        let Some(mut meta) = self.meta(txn, name)? else {
            return Ok(Value::Array(Vec::new()));
        };
        let limit = usize::try_from(quantity.limit()).unwrap_or(usize::MAX);
        let mut taken: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for entry in self.items.prefix(txn, &key(name, &[]))?.take(limit) {
            let (k, v) = entry?;
            taken.push((k.to_vec(), v.to_vec()));
        }
        // Every item is read back before any is removed: a bad one fails the pop whole.
        let mut out = Vec::with_capacity(taken.len());
        for (_, v) in &taken {
            out.push(decode(name, v)?);
        }
        for (k, v) in taken {
            self.items.delete(txn, &k)?;
            self.index
                .delete(txn, &key(name, &crate::crypto::sha256(&v)))?;
            meta.len = meta.len.saturating_sub(1);
        }
        self.queues.put(txn, name.as_bytes(), &meta.encode())?;
        Ok(Value::Array(out))
    }

    fn list_items(&self, txn: &impl Txn, name: &str) -> Result<Vec<Value>, QueueError> {
        let mut out = Vec::new();
        for entry in self.items.prefix(txn, &key(name, &[]))? {
            let (_, v) = entry?;
            out.push(decode(name, v)?);
        }
        Ok(out)
    }

    fn names(&self, txn: &impl Txn) -> Result<Vec<String>, QueueError> {
        let mut out = Vec::new();
        for entry in self.queues.iter(txn)? {
            let (k, _) = entry?;
            out.push(String::from_utf8_lossy(k).into_owned());
        }
        Ok(out)
    }

    /// The first `max` queues by name with their item counts (read from the counters, not
    /// by walking the items).
    pub fn lengths(&self, txn: &impl Txn, max: usize) -> Result<Vec<(String, u64)>, QueueError> {
        let mut out = Vec::new();
        for entry in self.queues.iter(txn)?.take(max) {
            let (k, v) = entry?;
            out.push((String::from_utf8_lossy(k).into_owned(), Meta::decode(v).len));
        }
        Ok(out)
    }

    /// Every queue (or only `only`) with its items, oldest first.
    pub fn dump(
        &self,
        txn: &impl Txn,
        only: Option<&str>,
    ) -> Result<Vec<(String, Vec<Value>)>, QueueError> {
        let names = match only {
            Some(n) => vec![n.to_owned()],
            None => self.names(txn)?,
        };
        names
            .into_iter()
            .map(|n| {
                let items = self.list_items(txn, &n)?;
                Ok((n, items))
            })
            .collect()
    }

    /// Carries out one operation inside the turn's transaction.
    pub fn apply(&self, txn: &mut WriteTxn<'_>, op: &Op) -> Outcome {
        match op {
            Op::Insert { queue, items } => self.insert(txn, queue, items),
            Op::Delete { queue, items } => self.delete(txn, queue, items),
            Op::ListQueues => Ok(Value::from(self.names(txn)?)),
            Op::ListItems { queue } => Ok(Value::Array(self.list_items(txn, queue)?)),
            Op::ListLength { queue } => {
                Ok(Value::from(self.meta(txn, queue)?.map_or(0, |m| m.len)))
            }
            Op::Pop {
                queue, quantity, ..
            } => self.pop(txn, queue, *quantity),
            Op::Migrate { .. } => Err(QueueError::Unavailable(
                "a migration is not a single-backend operation".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Backend, Call, Queues};
    use super::*;
    use serde_json::json;

    fn queues(dir: &std::path::Path) -> Queues {
        let store = Store::open(dir).unwrap();
        let mut q = Queues::new(dir.join("queues"));
        q.attach_store(&store).unwrap();
        q
    }

    fn run(q: &mut Queues, op: Op) -> Value {
        q.execute_one(&Call {
            backend: Backend::Lmdb,
            op,
        })
        .unwrap()
    }

    fn insert(q: &mut Queues, name: &str, v: Value) -> Value {
        run(
            q,
            Op::Insert {
                queue: name.into(),
                items: Items::parse(v).unwrap(),
            },
        )
    }

    fn pop(q: &mut Queues, name: &str, quantity: Quantity) -> Value {
        run(
            q,
            Op::Pop {
                queue: name.into(),
                quantity,
                is_runner: false,
            },
        )
    }

    #[test]
    fn lengths_come_from_the_counters_a_bounded_number_of_queues() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = queues(dir.path());
        insert(&mut q, "b", json!(["1", "2", "3"]));
        insert(&mut q, "a", json!("x"));
        insert(&mut q, "c", json!([]));
        pop(&mut q, "b", Quantity::Count(1));
        assert_eq!(
            q.lengths(10).unwrap(),
            [("a".into(), 1), ("b".into(), 2), ("c".into(), 0)]
        );
        assert_eq!(q.lengths(1).unwrap(), [("a".to_string(), 1)]);
        assert!(Queues::new(dir.path().join("none"))
            .lengths(5)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn fifo_set_semantics() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = queues(dir.path());
        assert_eq!(insert(&mut q, "q", json!("zeta")), json!(true));
        assert_eq!(insert(&mut q, "q", json!(["alpha", "mid"])), json!(true));
        assert_eq!(insert(&mut q, "q", json!("alpha")), json!(EXISTS_ONE));
        assert_eq!(
            insert(&mut q, "q", json!(["new", "zeta"])),
            json!(EXISTS_MANY)
        );
        assert_eq!(insert(&mut q, "q", json!(["x", "x"])), json!(EXISTS_MANY));
        assert_eq!(
            run(&mut q, Op::ListItems { queue: "q".into() }),
            json!(["zeta", "alpha", "mid"]),
            "insertion order, and nothing of a refused list"
        );
        assert_eq!(insert(&mut q, "q", json!({"b": 1, "a": [1]})), json!(true));
        assert_eq!(
            insert(&mut q, "q", json!({"a": [1], "b": 1})),
            json!(EXISTS_ONE),
            "maps compare by value, not key order"
        );
        assert_eq!(run(&mut q, Op::ListLength { queue: "q".into() }), json!(4));
        assert_eq!(
            pop(&mut q, "q", Quantity::Count(2)),
            json!(["zeta", "alpha"])
        );
        assert_eq!(
            insert(&mut q, "q", json!("zeta")),
            json!(true),
            "popped, so new"
        );
        assert_eq!(
            pop(&mut q, "q", Quantity::All),
            json!(["mid", {"a": [1], "b": 1}, "zeta"])
        );
        assert_eq!(pop(&mut q, "q", Quantity::Count(5)), json!([]));
        assert_eq!(pop(&mut q, "nothere", Quantity::All), json!([]));
        assert_eq!(run(&mut q, Op::ListQueues), json!(["q"]));
    }

    #[test]
    fn delete_by_value_and_absent_items() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = queues(dir.path());
        insert(&mut q, "q", json!(["a", "b", "c"]));
        let del = |q: &mut Queues, v| {
            run(
                q,
                Op::Delete {
                    queue: "q".into(),
                    items: Items::parse(v).unwrap(),
                },
            )
        };
        assert_eq!(del(&mut q, json!("b")), json!(true));
        assert_eq!(del(&mut q, json!(["a", "zz"])), json!(true));
        assert_eq!(
            run(&mut q, Op::ListItems { queue: "q".into() }),
            json!(["c"])
        );
        assert_eq!(run(&mut q, Op::ListLength { queue: "q".into() }), json!(1));
    }

    #[test]
    fn one_turn_sees_its_own_writes_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut q = queues(dir.path());
            let calls = vec![
                Call {
                    backend: Backend::Lmdb,
                    op: Op::Insert {
                        queue: "q".into(),
                        items: Items::One(json!("a")),
                    },
                },
                Call {
                    backend: Backend::Lmdb,
                    op: Op::Insert {
                        queue: "q".into(),
                        items: Items::One(json!("b")),
                    },
                },
                Call {
                    backend: Backend::Lmdb,
                    op: Op::Pop {
                        queue: "q".into(),
                        quantity: Quantity::Count(1),
                        is_runner: false,
                    },
                },
                Call {
                    backend: Backend::Lmdb,
                    op: Op::Pop {
                        queue: "q".into(),
                        quantity: Quantity::Count(1),
                        is_runner: false,
                    },
                },
            ];
            let mut batch = crate::store::Batch::new();
            let (r, out) = q.execute(&mut batch, &calls);
            r.unwrap();
            let out: Vec<Value> = out.into_iter().map(Result::unwrap).collect();
            assert_eq!(out, [json!(true), json!(true), json!(["a"]), json!(["b"])]);
            insert(&mut q, "q", json!("c"));
        }
        let mut q = queues(dir.path());
        assert_eq!(
            run(&mut q, Op::ListItems { queue: "q".into() }),
            json!(["c"])
        );
    }

    #[test]
    fn the_map_grows_under_many_items() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(dir.path(), 1 << 20).unwrap();
        let mut q = Queues::new(dir.path().join("queues"));
        q.attach_store(&store).unwrap();
        let items: Vec<Value> = (0..3000).map(|i| json!(format!("{i:0>400}"))).collect();
        assert_eq!(insert(&mut q, "big", Value::Array(items)), json!(true));
        assert!(store.map_size() > 1 << 20);
        assert_eq!(
            run(
                &mut q,
                Op::ListLength {
                    queue: "big".into()
                }
            ),
            json!(3000)
        );
    }
}
