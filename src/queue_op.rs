//! The queue operations: what the `queue` runner plans and a queue backend ([`crate::queue`])
//! carries out at the turn's commit. Both sides share this vocabulary, as master and minion
//! share [`crate::proto`], so the runner needs nothing of the queue core.

use serde_json::Value;

/// The longest queue name, in bytes (it is part of LMDB keys and of a file name).
pub const MAX_NAME: usize = 255;

/// Where a queue lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The master's LMDB environment (FIFO, set semantics, group commit).
    Lmdb,
    /// Salt's format: one sqlite file per queue in `sqlite_queue_dir`.
    Sqlite,
}

impl Backend {
    /// The backend of this name.
    pub fn from_name(name: &str) -> Option<Backend> {
        match name {
            "lmdb" => Some(Backend::Lmdb),
            "sqlite" => Some(Backend::Sqlite),
            _ => None,
        }
    }

    /// Its name, as `backend=` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Lmdb => "lmdb",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// How many items a pop takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Everything (`all`, or a negative number as sqlite's `LIMIT` reads it).
    All,
    /// At most this many.
    Count(u64),
}

impl Quantity {
    /// Reads a `quantity` argument as Salt does (`int(quantity)` unless it is `"all"`); the
    /// error is Salt's message.
    pub fn parse(v: &Value) -> Result<Quantity, String> {
        let n = match v {
            Value::String(s) if s == "all" => return Ok(Quantity::All),
            Value::String(s) => python_int(s).ok_or_else(|| {
                format!(
                    "invalid literal for int() with base 10: {}",
                    crate::py::python_repr(v)
                )
            }),
            Value::Bool(b) => Ok(i64::from(*b)),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_u64().map(|u| u.min(i64::MAX as u64) as i64))
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| f.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
                })
                .ok_or_else(|| "cannot convert float infinity to integer".to_string()),
            other => Err(format!(
                "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                py_type(other)
            )),
        };
        match n {
            Ok(n) if n < 0 => Ok(Quantity::All),
            Ok(n) => Ok(Quantity::Count(n as u64)),
            Err(e) => Err(format!(
                "Quantity must be an integer or \"all\".\nError: \"{e}\"."
            )),
        }
    }

    /// The count as a limit, `u64::MAX` for all.
    pub fn limit(self) -> u64 {
        match self {
            Quantity::All => u64::MAX,
            Quantity::Count(n) => n,
        }
    }
}

/// Python's `int(str)`: surrounding whitespace, a sign, digits with single underscores between.
fn python_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let n: i64 = clean.parse().unwrap_or(i64::MAX);
    Some(if neg { -n } else { n })
}

/// Python's type name of a value.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The items of an insert or a delete: one item, or a list of them.
#[derive(Clone, Debug, PartialEq)]
pub enum Items {
    /// One string or map.
    One(Value),
    /// A list of strings and maps (inserted all or none).
    Many(Vec<Value>),
}

impl Items {
    /// Checks an `items` argument: a string, a map, or a list of those. Anything else is
    /// refused (Salt's sqlite backend silently answers `True` and stores nothing).
    pub fn parse(v: Value) -> Result<Items, String> {
        fn check(v: &Value) -> Result<(), String> {
            match v {
                Value::String(_) | Value::Object(_) => Ok(()),
                other => Err(format!(
                    "a queue item must be a string or a map, not {} {}",
                    py_type(other),
                    crate::py::python_str(other)
                )),
            }
        }
        match v {
            Value::Array(list) => {
                for item in &list {
                    check(item)?;
                }
                Ok(Items::Many(list))
            }
            one => {
                check(&one)?;
                Ok(Items::One(one))
            }
        }
    }

    /// The items as a slice.
    pub fn as_slice(&self) -> &[Value] {
        match self {
            Items::One(v) => std::slice::from_ref(v),
            Items::Many(v) => v,
        }
    }
}

/// Checks a queue name: non-empty UTF-8 without `/` or NUL, at most [`MAX_NAME`] bytes.
pub fn check_name(name: &str) -> Result<(), String> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.contains('/') {
        "it contains '/'"
    } else if name.contains('\0') {
        "it contains a NUL byte"
    } else if name.len() > MAX_NAME {
        "it is longer than 255 bytes"
    } else if name == "." || name == ".." {
        "it names a directory"
    } else {
        return Ok(());
    };
    Err(format!(
        "invalid queue name {}: {why}",
        crate::py::python_repr(&Value::from(name))
    ))
}

/// One queue operation, as a runner plans it.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Adds items (a duplicate is refused, and a list with one is refused whole).
    Insert {
        /// The queue.
        queue: String,
        /// What to add.
        items: Items,
    },
    /// Removes items; absent ones are not an error.
    Delete {
        /// The queue.
        queue: String,
        /// What to remove.
        items: Items,
    },
    /// The queue names.
    ListQueues,
    /// Every item, oldest first.
    ListItems {
        /// The queue.
        queue: String,
    },
    /// The number of items.
    ListLength {
        /// The queue.
        queue: String,
    },
    /// Removes and returns the oldest items.
    Pop {
        /// The queue.
        queue: String,
        /// How many.
        quantity: Quantity,
        /// The items are runner calls: give maps back (sqlite stores them as text).
        is_runner: bool,
    },
    /// Copies one queue, or all, to another backend (items already there are skipped).
    Migrate {
        /// The destination backend.
        dst: Backend,
        /// Only this queue.
        queue: Option<String>,
    },
}

/// An operation on a backend.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The backend (for a migration, the source).
    pub backend: Backend,
    /// What to do.
    pub op: Op,
}
