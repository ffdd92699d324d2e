//! eauth tokens in the master's store, for brine-api (Salt's `salt.tokens.localfs`, kept in
//! LMDB instead of one file per token).
//!
//! brine-api reaches them through the master's socket with three requests that are not
//! runners (no `salt/run` events, not in `brine-run`'s reference, not callable from the
//! reactor, the schedule or a queue): `token.put`, `token.get` and `token.rm`, all with
//! keyword arguments. A token is 64 lowercase hex digits; its data is a map that carries at
//! least `expire` (Unix seconds).
//!
//! Invariants:
//! - A put or a removal is answered only once the turn's commit holding it is on disk, as a
//!   queue operation is; a token brine-api handed out survives a master restart.
//! - Expiry is decided with the core's `now` (the wall time the loop read for the turn),
//!   never the clock. A token whose `expire <= now` is never returned: it is deleted the
//!   moment it is asked for (Salt's CVE-2021-3144 let an expired token through once).
//! - Expired tokens nobody asks for are swept on the maintenance tick, a bounded number of
//!   entries per tick, resuming where the last sweep stopped.

use super::{run::refused, Master, Now};
use crate::bus::{Answer, ClientId, Request};
use crate::store::{Batch, Store, StoreError, Table};
use serde_json::{Map, Value};
use std::fmt;
use std::ops::Bound;
use std::time::UNIX_EPOCH;

/// The store table: token (its 64 hex digits) -> its data (msgpack).
pub const TABLE: &str = "tokens";

/// Hex digits in a token (Salt's `hashlib.sha256(...).hexdigest()`).
pub const TOKEN_LEN: usize = 64;

/// Largest token data stored, in bytes of msgpack: a name, a few groups and the ACL fit many
/// times over; a client cannot fill the store through one token.
pub const MAX_DATA: usize = 64 << 10;

/// Table entries one sweep looks at, so that a million tokens never stall the loop.
pub const SWEEP_PER_TICK: usize = 1024;

/// The requests this module answers.
const FUNS: [&str; 3] = ["token.put", "token.get", "token.rm"];

/// True for the token requests ([`Master::call`] takes them before looking for a runner).
pub(super) fn is_token_fun(fun: &str) -> bool {
    FUNS.contains(&fun)
}

/// Why a token request was refused; the text is the answer's one line.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenError {
    /// The master runs without its store (only in tests of the core).
    NoStore,
    /// Positional arguments were given: every argument is a keyword.
    Positional(&'static str),
    /// The `token` keyword is missing or not a string.
    NoToken(&'static str),
    /// The token is not 64 lowercase hex digits.
    BadToken(&'static str, String),
    /// The `data` keyword is missing or not a map.
    DataNotMap,
    /// The data has no numeric `expire`.
    NoExpire,
    /// The data is over [`MAX_DATA`] once encoded (its size), or cannot be encoded.
    Data(String),
    /// The store failed.
    Store(&'static str, String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::NoStore => f.write_str("tokens: the master has no store"),
            TokenError::Positional(fun) => {
                write!(f, "{fun}: takes keyword arguments only (token, data)")
            }
            TokenError::NoToken(fun) => write!(f, "{fun}: token must be a string"),
            TokenError::BadToken(fun, why) => write!(f, "{fun}: bad token: {why}"),
            TokenError::DataNotMap => f.write_str("token.put: data must be a map"),
            TokenError::NoExpire => {
                f.write_str("token.put: data must hold expire, a number of Unix seconds")
            }
            TokenError::Data(why) => write!(f, "token.put: data {why}"),
            TokenError::Store(fun, e) => write!(f, "{fun}: {e}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// Checks a token's form: exactly [`TOKEN_LEN`] lowercase hex digits.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.len() != TOKEN_LEN {
        return Err(format!(
            "{} characters where {TOKEN_LEN} hex digits are expected",
            token.chars().count()
        ));
    }
    match token
        .bytes()
        .find(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Some(b) if b.is_ascii_hexdigit() => Err("hex digits must be lowercase".into()),
        Some(_) => Err("holds a character that is not a hex digit".into()),
        None => Ok(()),
    }
}

/// A token's `expire`, when its data has a finite numeric one.
fn expire_of(data: &Map<String, Value>) -> Option<f64> {
    data.get("expire")
        .and_then(Value::as_f64)
        .filter(|e| e.is_finite())
}

/// The turn's wall time in Unix seconds (before 1970: 0, so nothing looks unexpired).
fn unix_secs(now: Now) -> f64 {
    now.wall
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A stored token's data, when it reads back as a map with an expiry.
fn decode(bytes: &[u8]) -> Option<(Map<String, Value>, f64)> {
    let data: Map<String, Value> = rmp_serde::from_slice(bytes).ok()?;
    let expire = expire_of(&data)?;
    Some((data, expire))
}

/// The token table and the sweep's place in it.
#[derive(Default)]
pub(super) struct Tokens {
    table: Option<Table>,
    /// The last key the previous sweep looked at; the next one starts after it.
    cursor: Option<Vec<u8>>,
}

impl Tokens {
    /// Opens (creating) the token table in `store`.
    pub(super) fn attach(&mut self, store: &Store) -> Result<(), StoreError> {
        self.table = Some(store.table(TABLE)?);
        self.cursor = None;
        Ok(())
    }
}

/// What a key holds once the turn commits: the batch's pending write, else the store's.
fn current(
    store: &Store,
    batch: &Batch,
    table: &Table,
    key: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    match batch.pending(table, key) {
        Some(v) => Ok(v.map(<[u8]>::to_vec)),
        None => store.read(|txn| Ok(table.get(txn, key)?.map(<[u8]>::to_vec))),
    }
}

/// The `token` keyword of a request, checked.
fn token_arg<'r>(fun: &'static str, req: &'r Request) -> Result<&'r str, TokenError> {
    if !req.arg.is_empty() {
        return Err(TokenError::Positional(fun));
    }
    req.kwarg
        .get("token")
        .and_then(Value::as_str)
        .ok_or(TokenError::NoToken(fun))
}

fn ok(ret: Value) -> Answer {
    Answer {
        jid: None,
        ret,
        success: true,
        retcode: 0,
    }
}

/// How a request ended: answered now, or after the commit.
enum Done {
    Now(Answer),
    AfterCommit(Answer),
}

impl Master {
    /// Handles `token.put`, `token.get` or `token.rm` (see the module's invariants). The
    /// answer is `None` when it waits for the turn's commit.
    pub(super) fn token_call(
        &mut self,
        now: Now,
        req: &Request,
        client: Option<ClientId>,
    ) -> Option<Answer> {
        let done = match req.fun.as_str() {
            "token.put" => self.token_put(req).map(Done::AfterCommit),
            "token.get" => self.token_get(now, req).map(Done::Now),
            _ => self.token_rm(req).map(Done::AfterCommit),
        };
        match (done, client) {
            (Err(e), _) => {
                log::debug!("refused {}: {e}", req.fun);
                Some(refused(e.to_string()))
            }
            (Ok(Done::Now(a)), _) => Some(a),
            (Ok(Done::AfterCommit(a)), Some(id)) => {
                self.answer_after_commit(id, a);
                None
            }
            // Nobody waits (no client): the write simply joins the turn's commit.
            (Ok(Done::AfterCommit(a)), None) => Some(a),
        }
    }

    fn token_store(&self) -> Result<(&Store, &Table), TokenError> {
        match (self.store.as_ref(), self.tokens.table.as_ref()) {
            (Some(s), Some(t)) => Ok((s, t)),
            _ => Err(TokenError::NoStore),
        }
    }

    fn token_put(&mut self, req: &Request) -> Result<Answer, TokenError> {
        let token = token_arg("token.put", req)?;
        check_token(token).map_err(|e| TokenError::BadToken("token.put", e))?;
        let data = match req.kwarg.get("data") {
            Some(Value::Object(m)) => m,
            _ => return Err(TokenError::DataNotMap),
        };
        if expire_of(data).is_none() {
            return Err(TokenError::NoExpire);
        }
        let bytes = rmp_serde::to_vec_named(data)
            .map_err(|e| TokenError::Data(format!("cannot be encoded: {e}")))?;
        if bytes.len() > MAX_DATA {
            return Err(TokenError::Data(format!(
                "is {} bytes, over the {MAX_DATA} a token may hold",
                bytes.len()
            )));
        }
        let table = self.token_store()?.1.clone();
        self.batch
            .put(&table, token.as_bytes(), bytes)
            .map_err(|e| TokenError::Store("token.put", e.to_string()))?;
        Ok(ok(Value::Bool(true)))
    }

    fn token_get(&mut self, now: Now, req: &Request) -> Result<Answer, TokenError> {
        let token = token_arg("token.get", req)?;
        // A malformed token is simply not a valid one: brine-api passes on what a client
        // sent in X-Auth-Token, and the answer to garbage is "no such token".
        if check_token(token).is_err() {
            return Ok(ok(Value::Null));
        }
        let (store, table) = self.token_store()?;
        let table = table.clone();
        let key = token.as_bytes();
        let bytes = current(store, &self.batch, &table, key)
            .map_err(|e| TokenError::Store("token.get", e.to_string()))?;
        let Some(bytes) = bytes else {
            return Ok(ok(Value::Null));
        };
        match decode(&bytes) {
            Some((data, expire)) if expire > unix_secs(now) => Ok(ok(Value::Object(data))),
            found => {
                if found.is_none() {
                    log::warn!("token store: removed an unreadable token");
                }
                // Gone now, not at the next sweep: an expired token is never usable again.
                self.batch.delete(&table, key);
                Ok(ok(Value::Null))
            }
        }
    }

    fn token_rm(&mut self, req: &Request) -> Result<Answer, TokenError> {
        let token = token_arg("token.rm", req)?;
        check_token(token).map_err(|e| TokenError::BadToken("token.rm", e))?;
        let (store, table) = self.token_store()?;
        let table = table.clone();
        let key = token.as_bytes();
        let existed = current(store, &self.batch, &table, key)
            .map_err(|e| TokenError::Store("token.rm", e.to_string()))?
            .is_some();
        if existed {
            self.batch.delete(&table, key);
        }
        Ok(ok(Value::Bool(existed)))
    }

    /// Deletes expired tokens among the next [`SWEEP_PER_TICK`] entries of the table (from
    /// where the last sweep stopped, wrapping at the end); returns how many it deleted.
    pub(super) fn sweep_tokens(&mut self, now: Now) -> usize {
        let (Some(store), Some(table)) = (self.store.as_ref(), self.tokens.table.as_ref()) else {
            return 0;
        };
        let limit = unix_secs(now);
        let start = self.tokens.cursor.clone();
        let scanned = store.read(|txn| {
            let from = match start.as_deref() {
                Some(k) => Bound::Excluded(k),
                None => Bound::Unbounded,
            };
            let mut seen = 0;
            let mut last = None;
            let mut expired = Vec::new();
            for item in table
                .range(txn, from, Bound::Unbounded)?
                .take(SWEEP_PER_TICK)
            {
                let (k, v) = item?;
                seen += 1;
                last = Some(k.to_vec());
                if decode(v).is_none_or(|(_, expire)| expire <= limit) {
                    expired.push(k.to_vec());
                }
            }
            Ok((seen, last, expired))
        });
        let (seen, last, expired) = match scanned {
            Ok(s) => s,
            Err(e) => {
                log::error!("token sweep: {e}");
                return 0;
            }
        };
        // A short page means the end of the table: the next sweep starts over.
        self.tokens.cursor = if seen < SWEEP_PER_TICK { None } else { last };
        let table = table.clone();
        let mut n = 0;
        for key in expired {
            // A token written this turn is newer than what the scan read.
            if self.batch.pending(&table, &key).is_none() {
                self.batch.delete(&table, &key);
                n += 1;
            }
        }
        if n > 0 {
            log::debug!("token sweep: removed {n} expired tokens");
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::ClientInput;
    use crate::config::MasterConfig;
    use crate::master::Input;
    use crate::wire::{kind, FrameReader, Next};
    use serde_json::json;
    use std::path::Path;
    use std::time::{Duration, Instant, SystemTime};

    /// A core with a store in `dir`, a client 1 connected, and a simulated clock.
    struct Sim {
        m: Master,
        now: Now,
    }

    const T0: u64 = 1_700_000_000;

    impl Sim {
        fn new(dir: &Path) -> Sim {
            let mut m = Master::new(MasterConfig::defaults(Path::new("/nonexistent")), None);
            m.set_store(Store::open(dir).unwrap()).unwrap();
            let now = Now {
                wall: UNIX_EPOCH + Duration::from_secs(T0),
                mono: Instant::now(),
            };
            m.start(now);
            m.handle(now, Input::Client(ClientInput::Opened { id: 1, pid: 1 }));
            Sim { m, now }
        }

        fn advance(&mut self, secs: u64) {
            self.now.wall += Duration::from_secs(secs);
            self.now.mono += Duration::from_secs(secs);
        }

        /// Sends a request from client 1 (no commit).
        fn send(&mut self, fun: &str, kwarg: Value) {
            let req = rmp_serde::to_vec_named(&Request {
                fun: fun.into(),
                arg: Vec::new(),
                kwarg: kwarg.as_object().cloned().unwrap_or_default(),
                user: None,
                send_return: false,
            })
            .unwrap();
            self.m.handle(
                self.now,
                Input::Client(ClientInput::Frame {
                    id: 1,
                    kind: kind::REQUEST,
                    payload: &req,
                }),
            );
        }

        /// Answers client 1 has been sent so far.
        fn answers(&mut self) -> Vec<Answer> {
            let mut r = FrameReader::new(1 << 22);
            r.extend(&self.m.bus().take_output(1, SystemTime::now()));
            let mut out = Vec::new();
            while let Some(Next::Frame(k, p)) = r.next_frame() {
                if k == kind::ANSWER {
                    out.push(rmp_serde::from_slice(p).unwrap());
                }
            }
            out
        }

        /// One request and the turn's commit; its one answer.
        fn call(&mut self, fun: &str, kwarg: Value) -> Answer {
            self.send(fun, kwarg);
            self.m.commit(self.now);
            let mut a = self.answers();
            assert_eq!(a.len(), 1, "{fun}: one answer");
            a.remove(0)
        }

        fn stored(&self) -> u64 {
            let table = self.m.tokens.table.clone().unwrap();
            self.m
                .store
                .as_ref()
                .unwrap()
                .read(|txn| table.len(txn))
                .unwrap()
        }
    }

    fn tok(c: char) -> String {
        std::iter::repeat_n(c, TOKEN_LEN).collect()
    }

    fn data(expire: u64) -> Value {
        json!({"start": T0 as f64, "expire": expire as f64, "name": "fred", "eauth": "pam",
               "groups": ["adm"], "auth_list": [".*"]})
    }

    #[test]
    fn a_put_is_answered_only_after_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sim::new(dir.path());
        s.send(
            "token.put",
            json!({"token": tok('a'), "data": data(T0 + 60)}),
        );
        assert!(s.answers().is_empty(), "not before the commit");
        assert!(s.m.busy(), "the loop must commit before it sleeps");
        s.m.commit(s.now);
        let a = s.answers();
        assert_eq!(a, [ok(json!(true))]);
        assert_eq!(s.stored(), 1);
    }

    #[test]
    fn get_returns_the_data_until_it_expires_then_never_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sim::new(dir.path());
        let t = tok('b');
        s.call("token.put", json!({"token": t, "data": data(T0 + 60)}));
        let a = s.call("token.get", json!({"token": t}));
        assert!(a.success);
        assert_eq!(a.ret, data(T0 + 60));
        s.advance(59);
        assert_eq!(s.call("token.get", json!({"token": t})).ret, data(T0 + 60));
        // expire <= now is expired: at the very second it is gone, and deleted.
        s.advance(1);
        assert_eq!(s.call("token.get", json!({"token": t})), ok(Value::Null));
        assert_eq!(s.stored(), 0, "an expired token is deleted when asked for");
        assert_eq!(s.call("token.rm", json!({"token": t})).ret, json!(false));
    }

    #[test]
    fn missing_and_malformed_tokens_get_null() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sim::new(dir.path());
        for t in [tok('c'), tok('C'), "abc".into(), tok('g'), String::new()] {
            assert_eq!(
                s.call("token.get", json!({"token": t})),
                ok(Value::Null),
                "{t}"
            );
        }
    }

    #[test]
    fn rm_says_whether_the_token_existed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sim::new(dir.path());
        let t = tok('d');
        s.call("token.put", json!({"token": t, "data": data(T0 + 60)}));
        assert_eq!(s.call("token.rm", json!({"token": t})), ok(json!(true)));
        assert_eq!(s.call("token.rm", json!({"token": t})), ok(json!(false)));
        assert_eq!(s.call("token.get", json!({"token": t})).ret, Value::Null);
        assert_eq!(s.stored(), 0);
    }

    #[test]
    fn one_turn_sees_its_own_writes_and_answers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sim::new(dir.path());
        let t = tok('e');
        s.send("token.put", json!({"token": t, "data": data(T0 + 60)}));
        s.send("token.get", json!({"token": t}));
        s.send("token.rm", json!({"token": t}));
        s.send("token.get", json!({"token": t}));
        assert!(s.answers().is_empty(), "the get waits behind the put");
        s.m.commit(s.now);
        let a = s.answers();
        let rets: Vec<Value> = a.into_iter().map(|a| a.ret).collect();
        assert_eq!(rets, [json!(true), data(T0 + 60), json!(true), Value::Null]);
        assert_eq!(s.stored(), 0);
    }

    #[test]
    fn tokens_survive_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let t = tok('f');
        {
            let mut s = Sim::new(dir.path());
            s.call("token.put", json!({"token": t, "data": data(T0 + 60)}));
        }
        let mut s = Sim::new(dir.path());
        assert_eq!(s.call("token.get", json!({"token": t})).ret, data(T0 + 60));
    }

    #[test]
    fn bad_input_is_refused_with_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sim::new(dir.path());
        let cases = [
            (
                "token.put",
                json!({"token": "ab", "data": data(T0)}),
                "token.put: bad token: 2 characters where 64 hex digits are expected",
            ),
            (
                "token.put",
                json!({"token": tok('A'), "data": data(T0)}),
                "token.put: bad token: hex digits must be lowercase",
            ),
            (
                "token.put",
                json!({"token": tok('z'), "data": data(T0)}),
                "token.put: bad token: holds a character that is not a hex digit",
            ),
            (
                "token.put",
                json!({"token": 5, "data": data(T0)}),
                "token.put: token must be a string",
            ),
            (
                "token.put",
                json!({"data": data(T0)}),
                "token.put: token must be a string",
            ),
            (
                "token.put",
                json!({"token": tok('a'), "data": [1]}),
                "token.put: data must be a map",
            ),
            (
                "token.put",
                json!({"token": tok('a')}),
                "token.put: data must be a map",
            ),
            (
                "token.put",
                json!({"token": tok('a'), "data": {"name": "x"}}),
                "token.put: data must hold expire, a number of Unix seconds",
            ),
            (
                "token.put",
                json!({"token": tok('a'), "data": {"expire": "soon"}}),
                "token.put: data must hold expire, a number of Unix seconds",
            ),
            (
                "token.put",
                json!({"token": tok('a'), "data": {"expire": 1, "x": "y".repeat(MAX_DATA)}}),
                "token.put: data is 65552 bytes, over the 65536 a token may hold",
            ),
            (
                "token.rm",
                json!({"token": "xyz"}),
                "token.rm: bad token: 3 characters where 64 hex digits are expected",
            ),
            (
                "token.get",
                json!({"token": null}),
                "token.get: token must be a string",
            ),
        ];
        for (fun, kw, want) in cases {
            let a = s.call(fun, kw);
            assert!(!a.success, "{want}");
            assert_eq!(a.retcode, 1);
            assert_eq!(a.ret, json!(want));
        }
        assert_eq!(s.stored(), 0);
        // Positional arguments are refused too.
        let req = Request {
            fun: "token.get".into(),
            arg: vec![json!(tok('a'))],
            kwarg: Map::new(),
            user: None,
            send_return: false,
        };
        let a = s.m.call(s.now, req, Some(1)).unwrap();
        assert_eq!(
            a.ret,
            json!("token.get: takes keyword arguments only (token, data)")
        );
    }

    #[test]
    fn without_a_store_tokens_are_refused() {
        let mut m = Master::new(MasterConfig::defaults(Path::new("/nonexistent")), None);
        let req = Request {
            fun: "token.put".into(),
            arg: Vec::new(),
            kwarg: json!({"token": tok('a'), "data": data(T0)})
                .as_object()
                .cloned()
                .unwrap(),
            user: None,
            send_return: false,
        };
        let a = m.call(Now::read(), req, Some(1)).unwrap();
        assert_eq!(a.ret, json!("tokens: the master has no store"));
    }

    #[test]
    fn the_sweep_removes_expired_tokens_a_page_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sim::new(dir.path());
        let n = SWEEP_PER_TICK + 10;
        for i in 0..n {
            // Every third token lives on; the others expire at T0 + 10.
            let expire = if i % 3 == 0 { T0 + 1000 } else { T0 + 10 };
            s.send(
                "token.put",
                json!({"token": format!("{i:064x}"), "data": data(expire)}),
            );
        }
        s.m.commit(s.now);
        assert_eq!(s.answers().len(), n);
        assert_eq!(s.m.sweep_tokens(s.now), 0, "nothing expired yet");
        assert_eq!(s.m.sweep_tokens(s.now), 0);
        s.advance(10);
        let first = s.m.sweep_tokens(s.now);
        s.m.commit(s.now);
        let expired = (0..n).filter(|i| i % 3 != 0).count();
        let in_first_page = (0..SWEEP_PER_TICK).filter(|i| i % 3 != 0).count();
        assert_eq!(first, in_first_page, "one page per sweep");
        let second = s.m.sweep_tokens(s.now);
        s.m.commit(s.now);
        assert_eq!(first + second, expired);
        assert_eq!(s.stored() as usize, n - expired);
        let live = format!("{:064x}", 3);
        assert_eq!(
            s.call("token.get", json!({"token": live})).ret,
            data(T0 + 1000)
        );
    }

    #[test]
    fn the_sweep_spares_a_token_rewritten_this_turn() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sim::new(dir.path());
        let t = tok('9');
        s.call("token.put", json!({"token": t, "data": data(T0 + 1)}));
        s.advance(5);
        s.send("token.put", json!({"token": t, "data": data(T0 + 100)}));
        assert_eq!(s.m.sweep_tokens(s.now), 0);
        s.m.commit(s.now);
        s.answers();
        assert_eq!(s.call("token.get", json!({"token": t})).ret, data(T0 + 100));
    }

    #[test]
    fn check_token_accepts_only_64_lowercase_hex() {
        assert!(check_token(&"0123456789abcdef".repeat(4)).is_ok());
        assert!(check_token(&"0123456789ABCDEF".repeat(4)).is_err());
        assert!(check_token(&"é".repeat(32)).is_err());
        assert!(check_token(&tok('a')[1..]).is_err());
    }
}
