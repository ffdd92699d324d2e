//! Job ids (Salt's 20-digit `%Y%m%d%H%M%S%f` jids, strictly increasing per generator) and
//! the job cache: Salt's `local_cache` returner kept in the master's LMDB environment.
//!
//! The cache is two tables. `jobs.loads` maps a jid to its publish load; `jobs.returns` maps
//! `jid NUL minion-id` to that minion's return. Jids are fixed-width timestamps, so byte order
//! is time order: listing is a scan, a job's returns are one prefix scan (already sorted by
//! minion id), and expiry is one range delete below the cutoff jid. Values are msgpack maps
//! (`rmp_serde::to_vec_named`); a record that no longer decodes is skipped with a log line,
//! never a panic, so one damaged record cannot hide the rest of the cache.
//!
//! Writes go into the loop turn's [`Batch`] and reach the disk with the turn's one commit.

use crate::store::{Batch, Store, StoreError, Table};
use serde_json::{Map, Value};
use std::fmt;
use std::ops::Bound;
use std::time::{Duration, SystemTime};

/// Hands out strictly increasing jids, bumping 1 µs past the last one when the clock
/// has not moved (or moved backwards), as Salt does.
#[derive(Debug, Default)]
pub struct JidGen {
    last: u128,
}

impl JidGen {
    /// A generator that has issued nothing yet.
    pub fn new() -> JidGen {
        JidGen::default()
    }

    /// The next jid for `now`.
    pub fn next(&mut self, now: SystemTime) -> String {
        let mut n = crate::clock::jid_number(now);
        if n <= self.last {
            n = self.last + 1;
        }
        self.last = n;
        format!("{n:020}")
    }
}

/// Salt's `is_jid`: 20 digits, optionally followed by `_` and a suffix.
pub fn is_jid(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b.len() >= 20 && b[..20].iter().all(u8::is_ascii_digit);
    digits && (b.len() == 20 || (b.len() > 21 && b[20] == b'_'))
}

/// Month abbreviations of Python's `calendar.month_abbr`, January first.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Salt's `jid_to_time`: "2015, Feb 13 00:19:05.721678", "" for an invalid jid.
pub fn jid_to_time(jid: &str) -> String {
    if !is_jid(jid) {
        return String::new();
    }
    // is_jid checked that the first 20 bytes are ASCII digits, so these slices are whole chars.
    let d = &jid[..20];
    match d[4..6].parse::<usize>() {
        Ok(month @ 1..=12) => format!(
            "{}, {} {} {}:{}:{}.{}",
            &d[..4],
            MONTHS[month - 1],
            &d[6..8],
            &d[8..10],
            &d[10..12],
            &d[12..14],
            &d[14..20]
        ),
        _ => String::new(),
    }
}

/// A stored load or return: a msgpack map, read back as JSON values.
pub type Record = Map<String, Value>;

/// The table of publish loads, keyed by jid.
pub const LOADS_TABLE: &str = "jobs.loads";

/// The table of minion returns, keyed by jid, a NUL byte, and the minion id.
pub const RETURNS_TABLE: &str = "jobs.returns";

/// The parts of a minion's `_return` load that are kept, in Salt's order (`local_cache`
/// stores `return`, `retcode` and `success` in `return.p` and `out` beside it).
const RETURN_KEYS: [&str; 4] = ["return", "retcode", "success", "out"];

/// A jid the cache can key on: Salt's form, without the NUL that separates return keys.
fn storable_jid(jid: &str) -> bool {
    is_jid(jid) && !jid.contains('\0')
}

fn return_key(jid: &str, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(jid.len() + 1 + id.len());
    key.extend_from_slice(jid.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

/// Deepest nesting a stored record is read with: the wire admits 64 levels of event data,
/// and a damaged record must fail to decode rather than recurse off the stack.
const MAX_RECORD_DEPTH: usize = 128;

/// A stored map, or `None` (logged) when the record is damaged.
fn decode(table: &str, key: &[u8], bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MAX_RECORD_DEPTH);
    match serde::Deserialize::deserialize(&mut de) {
        Ok(map) => Some(map),
        Err(e) => {
            log::warn!(
                "job cache: skipping unreadable record {:?} in {table}: {e}",
                String::from_utf8_lossy(key)
            );
            None
        }
    }
}

/// The master's job cache: publish loads and minion returns by jid, in the [`Store`].
///
/// Cloning is cheap; clones share the environment.
#[derive(Clone)]
pub struct JobCache {
    store: Store,
    loads: Table,
    returns: Table,
    /// The largest encoded record kept: what the master accepts on the wire, so a load or
    /// return it took in is never refused here and nothing larger is ever written.
    max_record: usize,
}

impl fmt::Debug for JobCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobCache({})", self.store.path().display())
    }
}

impl JobCache {
    /// Opens the cache's tables in `store`; records over `max_record` bytes are refused.
    pub fn open(store: &Store, max_record: usize) -> Result<JobCache, StoreError> {
        Ok(JobCache {
            loads: store.table(LOADS_TABLE)?,
            returns: store.table(RETURNS_TABLE)?,
            store: store.clone(),
            max_record,
        })
    }

    /// The store the cache lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn invalid(&self, table: &Table, what: String) -> StoreError {
        StoreError::Invalid {
            path: self.store.path().to_owned(),
            table: table.name(),
            what,
        }
    }

    fn encode(
        &self,
        table: &Table,
        what: &str,
        map: &Map<String, Value>,
    ) -> Result<Vec<u8>, StoreError> {
        let bytes = rmp_serde::to_vec_named(map)
            .map_err(|e| self.invalid(table, format!("cannot encode {what}: {e}")))?;
        if bytes.len() > self.max_record {
            return Err(self.invalid(
                table,
                format!(
                    "{what} of {} bytes is over the {}-byte limit",
                    bytes.len(),
                    self.max_record
                ),
            ));
        }
        Ok(bytes)
    }

    /// Queues a publish load (jid, tgt, tgt_type, fun, arg, user, minions, missing, ...)
    /// under its jid, replacing an earlier one as Salt's `save_load` does.
    pub fn save_load(
        &self,
        batch: &mut Batch,
        jid: &str,
        load: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        if !storable_jid(jid) {
            return Err(self.invalid(&self.loads, format!("{jid:?} is not a jid")));
        }
        let bytes = self.encode(&self.loads, &format!("load of job {jid}"), load)?;
        batch.put(&self.loads, jid.as_bytes(), bytes)
    }

    /// Queues a minion's return (its `return`, `retcode`, `success` and `out`); returns false
    /// and queues nothing when this minion's return for this jid is already stored or queued,
    /// so a return that arrives twice is stored and fired once.
    pub fn save_return(
        &self,
        batch: &mut Batch,
        jid: &str,
        id: &str,
        ret: &Map<String, Value>,
    ) -> Result<bool, StoreError> {
        if !storable_jid(jid) {
            return Err(self.invalid(&self.returns, format!("{jid:?} is not a jid")));
        }
        if id.is_empty() || id.contains('\0') {
            return Err(self.invalid(&self.returns, format!("{id:?} is not a minion id")));
        }
        let key = return_key(jid, id);
        let seen = match batch.pending(&self.returns, &key) {
            Some(pending) => pending.is_some(),
            None => self
                .store
                .read(|r| Ok(self.returns.get(r, &key)?.is_some()))?,
        };
        if seen {
            // Salt's local_cache calls this a possible replay; the caller must not fire it again.
            log::warn!("job cache: dropped a second return from {id} for job {jid}");
            return Ok(false);
        }
        let record: Map<String, Value> = RETURN_KEYS
            .iter()
            .filter_map(|k| ret.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        let what = format!("return of {id} for job {jid}");
        let bytes = self.encode(&self.returns, &what, &record)?;
        batch.put(&self.returns, &key, bytes)?;
        Ok(true)
    }

    /// The publish load of `jid`, if the cache has a readable one.
    pub fn load(&self, jid: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        if !storable_jid(jid) {
            return Ok(None);
        }
        self.store.read(|r| {
            Ok(self
                .loads
                .get(r, jid.as_bytes())?
                .and_then(|bytes| decode(LOADS_TABLE, jid.as_bytes(), bytes)))
        })
    }

    /// The returns stored for `jid` as (minion id, record), sorted by minion id.
    pub fn returns(&self, jid: &str) -> Result<Vec<(String, Record)>, StoreError> {
        if !storable_jid(jid) {
            return Ok(Vec::new());
        }
        let prefix = return_key(jid, "");
        self.store.read(|r| {
            let mut out = Vec::new();
            for entry in self.returns.prefix(r, &prefix)? {
                let (key, bytes) = entry?;
                let Ok(id) = std::str::from_utf8(&key[prefix.len()..]) else {
                    log::warn!("job cache: skipping a return of job {jid} with a non-UTF-8 id");
                    continue;
                };
                if let Some(map) = decode(RETURNS_TABLE, key, bytes) {
                    out.push((id.to_owned(), map));
                }
            }
            Ok(out)
        })
    }

    /// Every jid with a stored load, oldest first.
    pub fn jids(&self) -> Result<Vec<String>, StoreError> {
        self.store.read(|r| {
            let mut out = Vec::new();
            for entry in self.loads.iter(r)? {
                let (key, _) = entry?;
                if let Ok(jid) = std::str::from_utf8(key) {
                    out.push(jid.to_owned());
                }
            }
            Ok(out)
        })
    }

    /// Every job's readable load with its jid, oldest first (one snapshot).
    pub fn loads(&self) -> Result<Vec<(String, Record)>, StoreError> {
        self.store.read(|r| {
            let mut out = Vec::new();
            for entry in self.loads.iter(r)? {
                let (key, bytes) = entry?;
                let Ok(jid) = std::str::from_utf8(key) else {
                    continue;
                };
                if let Some(map) = decode(LOADS_TABLE, key, bytes) {
                    out.push((jid.to_owned(), map));
                }
            }
            Ok(out)
        })
    }

    /// Removes jobs (loads and returns) older than `keep_seconds` and returns how many;
    /// `keep_seconds` 0 keeps everything, as Salt's `keep_jobs_seconds: 0` does. Called from
    /// the master's loop timer; it commits on its own, being rare and independent of clients.
    pub fn clean_old(&self, now: SystemTime, keep_seconds: u64) -> Result<usize, StoreError> {
        if keep_seconds == 0 {
            return Ok(0);
        }
        let Some(cutoff) = now.checked_sub(Duration::from_secs(keep_seconds)) else {
            return Ok(0);
        };
        // A job is old when its jid time is strictly before the cutoff; every key of such a
        // job sorts below the cutoff's bare 20 digits, and every key of a newer one above.
        let cutoff = format!("{:020}", crate::clock::jid_number(cutoff));
        let below = Bound::Excluded(cutoff.as_bytes());
        self.store.write(|w| {
            let mut jobs: Vec<Vec<u8>> = Vec::new();
            for entry in self.loads.range(w, Bound::Unbounded, below)? {
                jobs.push(entry?.0.to_vec());
            }
            // Returns whose load is gone (or never came) count as jobs too.
            let mut orphans = 0;
            let mut last: Option<Vec<u8>> = None;
            for entry in self.returns.range(w, Bound::Unbounded, below)? {
                let key = entry?.0;
                let jid = key.split(|&b| b == 0).next().unwrap_or(key);
                if last.as_deref() != Some(jid) {
                    if jobs.binary_search_by(|j| j.as_slice().cmp(jid)).is_err() {
                        orphans += 1;
                    }
                    last = Some(jid.to_vec());
                }
            }
            self.loads.delete_range(w, Bound::Unbounded, below)?;
            self.returns.delete_range(w, Bound::Unbounded, below)?;
            Ok(jobs.len() + orphans)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn jids_are_strictly_increasing_even_when_the_clock_stalls() {
        let t = UNIX_EPOCH + Duration::from_micros(1_714_557_600_123_456);
        let mut g = JidGen::new();
        assert_eq!(g.next(t), "20240501100000123456");
        assert_eq!(g.next(t), "20240501100000123457");
        assert_eq!(g.next(t - Duration::from_secs(1)), "20240501100000123458");
        assert!(is_jid(&g.next(t)));
    }

    #[test]
    fn is_jid_follows_salt() {
        assert!(is_jid("20240501100000123456"));
        assert!(is_jid("20240501100000123456_123"));
        assert!(!is_jid("20240501100000123456_"));
        assert!(!is_jid("2024050110000012345"));
        assert!(!is_jid("2024050110000012345x"));
    }

    use crate::store::{Batch, Store};
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn cache(dir: &std::path::Path) -> JobCache {
        JobCache::open(&Store::open(dir).unwrap(), 1 << 20).unwrap()
    }

    fn at(jid_secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(jid_secs)
    }

    const J1: &str = "20240501100000123456";
    const J2: &str = "20240501100000123457";

    #[test]
    fn jid_to_time_follows_salt() {
        assert_eq!(
            jid_to_time("20150213001905721678"),
            "2015, Feb 13 00:19:05.721678"
        );
        assert_eq!(
            jid_to_time("20240501100000123456_42"),
            "2024, May 01 10:00:00.123456"
        );
        assert_eq!(jid_to_time("2015021300190572167"), "");
        assert_eq!(jid_to_time("20151313001905721678"), "");
        assert_eq!(jid_to_time("req"), "");
    }

    #[test]
    fn loads_and_returns_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let load = map(json!({"jid": J1, "fun": "test.ping", "arg": [], "tgt": "*",
            "tgt_type": "glob", "user": "root", "minions": ["b", "a"], "missing": []}));
        {
            let c = cache(dir.path());
            let mut b = Batch::new();
            c.save_load(&mut b, J1, &load).unwrap();
            let ret = map(
                json!({"cmd": "_return", "id": "b", "jid": J1, "fun": "test.ping",
                "fun_args": [], "return": true, "retcode": 0, "success": true}),
            );
            assert!(c.save_return(&mut b, J1, "b", &ret).unwrap());
            let ret = map(json!({"return": "x", "retcode": 1, "success": false, "out": "nested"}));
            assert!(c.save_return(&mut b, J1, "a", &ret).unwrap());
            c.store().commit(&mut b).unwrap();
        }
        let c = cache(dir.path());
        assert_eq!(c.load(J1).unwrap(), Some(load));
        assert_eq!(
            c.returns(J1).unwrap(),
            vec![
                (
                    "a".into(),
                    map(json!({"return": "x", "retcode": 1, "success": false, "out": "nested"}))
                ),
                (
                    "b".into(),
                    map(json!({"return": true, "retcode": 0, "success": true}))
                ),
            ]
        );
        assert_eq!(c.load(J2).unwrap(), None);
        assert!(c.returns(J2).unwrap().is_empty());
        assert_eq!(c.load("not a jid").unwrap(), None);
    }

    #[test]
    fn a_return_that_arrives_twice_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let first = map(json!({"return": 1}));
        let second = map(json!({"return": 2}));
        let mut b = Batch::new();
        assert!(c.save_return(&mut b, J1, "m", &first).unwrap());
        // Same turn, not yet committed.
        assert!(!c.save_return(&mut b, J1, "m", &second).unwrap());
        c.store().commit(&mut b).unwrap();
        // A later turn, after the commit.
        assert!(!c.save_return(&mut b, J1, "m", &second).unwrap());
        assert!(b.is_empty());
        assert!(c.save_return(&mut b, J2, "m", &second).unwrap());
        c.store().commit(&mut b).unwrap();
        assert_eq!(c.returns(J1).unwrap(), vec![("m".into(), first)]);
    }

    #[test]
    fn jids_are_listed_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let mut b = Batch::new();
        for jid in [J2, "20231231235959999999", J1, "20240501100000123456_7"] {
            c.save_load(&mut b, jid, &map(json!({"fun": "test.ping"})))
                .unwrap();
        }
        c.store().commit(&mut b).unwrap();
        assert_eq!(
            c.jids().unwrap(),
            ["20231231235959999999", J1, "20240501100000123456_7", J2]
        );
        assert_eq!(c.loads().unwrap().len(), 4);
    }

    #[test]
    fn bad_jids_ids_and_oversize_records_are_refused_alone() {
        let dir = tempfile::tempdir().unwrap();
        let c = JobCache::open(&Store::open(dir.path()).unwrap(), 100).unwrap();
        let mut b = Batch::new();
        let small = map(json!({"return": true}));
        assert!(c.save_load(&mut b, "req", &small).is_err());
        assert!(c
            .save_return(&mut b, "20240501100000123456_\0", "m", &small)
            .is_err());
        assert!(c.save_return(&mut b, J1, "", &small).is_err());
        assert!(c.save_return(&mut b, J1, "a\0b", &small).is_err());
        assert!(c.save_return(&mut b, J1, &"m".repeat(600), &small).is_err());
        let big = map(json!({"return": "x".repeat(200)}));
        let e = c
            .save_return(&mut b, J1, "m", &big)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "return of m for job 20240501100000123456 of 210 bytes is over the 100-byte limit"
            ),
            "{e}"
        );
        assert!(e.contains("brine.lmdb: table jobs.returns"), "{e}");
        assert!(b.is_empty());
        assert!(c.save_return(&mut b, J1, "m", &small).unwrap());
        c.store().commit(&mut b).unwrap();
    }

    #[test]
    fn a_damaged_record_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let mut b = Batch::new();
        c.save_load(&mut b, J1, &map(json!({"fun": "a"}))).unwrap();
        c.save_load(&mut b, J2, &map(json!({"fun": "b"}))).unwrap();
        c.save_return(&mut b, J1, "good", &map(json!({"return": 1})))
            .unwrap();
        c.store().commit(&mut b).unwrap();
        // Overwrite records with bytes that are not msgpack maps.
        let loads = c.store().table(LOADS_TABLE).unwrap();
        let returns = c.store().table(RETURNS_TABLE).unwrap();
        b.put(&loads, J1.as_bytes(), vec![0xc1, 0xff]).unwrap();
        b.put(&returns, &return_key(J1, "bad"), vec![0x92, 0x01])
            .unwrap();
        // A record nested far deeper than anything the wire admits.
        let mut deep = vec![0x81, 0xa1, b'x'];
        deep.extend(std::iter::repeat_n(0x91, 100_000));
        deep.push(0x01);
        b.put(&returns, &return_key(J1, "deep"), deep).unwrap();
        c.store().commit(&mut b).unwrap();
        assert_eq!(c.load(J1).unwrap(), None);
        assert_eq!(c.loads().unwrap().len(), 1);
        assert_eq!(c.jids().unwrap(), [J1, J2]);
        assert_eq!(
            c.returns(J1).unwrap(),
            vec![("good".into(), map(json!({"return": 1})))]
        );
    }

    #[test]
    fn old_jobs_are_cleaned_by_their_jid_time() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let jid = |t: SystemTime| format!("{:020}", crate::clock::jid_number(t));
        let t0 = at(1_714_557_600); // 2024-05-01 10:00:00
        let old = jid(t0);
        let edge = jid(t0 + Duration::from_secs(100));
        let new = jid(t0 + Duration::from_secs(200));
        let mut b = Batch::new();
        for jid in [&old, &edge, &new] {
            c.save_load(&mut b, jid, &map(json!({"fun": "test.ping"})))
                .unwrap();
            c.save_return(&mut b, jid, "m", &map(json!({"return": true})))
                .unwrap();
        }
        // A return without a load, and an old suffixed jid.
        let orphan = jid(t0 + Duration::from_secs(1));
        c.save_return(&mut b, &orphan, "m", &map(json!({"return": true})))
            .unwrap();
        let suffixed = format!("{}_99", jid(t0 + Duration::from_secs(2)));
        c.save_load(&mut b, &suffixed, &map(json!({"fun": "x"})))
            .unwrap();
        c.store().commit(&mut b).unwrap();

        let now = t0 + Duration::from_secs(200);
        assert_eq!(c.clean_old(now, 0).unwrap(), 0, "keep 0 keeps everything");
        // Keep 100 s: `old` and the two early ones are older; `edge` (exactly 100 s) stays.
        assert_eq!(c.clean_old(now, 100).unwrap(), 3);
        assert_eq!(c.jids().unwrap(), [edge.clone(), new.clone()]);
        assert!(c.returns(&old).unwrap().is_empty());
        assert!(c.returns(&orphan).unwrap().is_empty());
        assert_eq!(c.returns(&edge).unwrap().len(), 1);
        assert_eq!(c.clean_old(now, 100).unwrap(), 0);
        assert_eq!(
            c.clean_old(now + Duration::from_secs(1000), 100).unwrap(),
            2
        );
        assert!(c.jids().unwrap().is_empty());
    }

    #[test]
    fn measure_returns_per_turn_against_one_commit_each() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let ret = map(json!({"cmd": "_return", "fun": "test.ping", "fun_args": [],
            "return": true, "retcode": 0, "success": true}));
        let mut b = Batch::new();
        let started = std::time::Instant::now();
        for i in 0..200 {
            assert!(c
                .save_return(&mut b, J1, &format!("m{i:04}"), &ret)
                .unwrap());
            c.store().commit(&mut b).unwrap();
        }
        let single = started.elapsed();
        let started = std::time::Instant::now();
        for i in 0..1000 {
            assert!(c
                .save_return(&mut b, J2, &format!("m{i:04}"), &ret)
                .unwrap());
        }
        c.store().commit(&mut b).unwrap();
        let turn = started.elapsed();
        println!(
            "job cache: 200 returns committed one by one in {single:?} ({:.0}/s); \
             1000 returns in one turn's commit in {turn:?} ({:.0}/s)",
            200.0 / single.as_secs_f64(),
            1000.0 / turn.as_secs_f64()
        );
        assert_eq!(c.returns(J2).unwrap().len(), 1000);
    }
}
