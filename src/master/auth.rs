//! The master's side of the minion protocol: auth, sessions, sealed requests and
//! publications. Pure logic over the key store; the event loop moves the bytes.

use crate::crypto::{self, SymKey};
use crate::pki::{self, AuthPolicy, AuthReply as Verdict, KeyPair, KeyStore, PublicKey};
use crate::proto::{self, serde_bytes_compat::Bytes, AuthResult, Load, Request};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// A minion the master has accepted and handed a session.
pub struct MinionSession {
    /// The session id the minion tags its requests with.
    pub sid: u64,
    shared: SymKey,
    last_ctr: u64,
    /// The ZeroMQ routing id of its request socket (changes on reconnect).
    pub identity: Vec<u8>,
    /// When it last spoke (a heartbeat or any request).
    pub last_seen: Instant,
}

/// Counters of what the master refused on its request port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    /// Messages that were not valid protocol messages (malformed, truncated, oversize).
    pub malformed: u64,
    /// Sealed requests from peers without a session (unknown, unaccepted, rejected, stale).
    pub no_session: u64,
    /// Sealed requests that replayed a counter.
    pub replayed: u64,
    /// Sealed requests that failed to decrypt (forged or corrupted).
    pub forged: u64,
    /// Events a minion fired about another minion or in the master's `salt/` tags.
    pub foreign: u64,
    /// Auth attempts put off because new key files came faster than `KEY_WRITES_PER_SEC`.
    pub throttled: u64,
}

/// New key files (pending, denied, rejected) the master writes per second at most, and
/// in one burst: each is two fsyncs on the event loop, and a flood of made-up ids must
/// neither stall it nor fill the disk at line rate. A legitimate new minion put off is
/// answered "pending" and asks again after its acceptance_wait_time.
const KEY_WRITES_PER_SEC: u32 = 200;

/// Accepted auth nonces remembered per minion.
const AUTH_NONCES_KEPT: usize = 8;
const KEY_WRITE_BURST: u32 = 2000;

/// What handling one request produced.
pub enum Handled {
    /// Send these bytes back to the requester.
    Reply(Vec<u8>),
    /// Fire these events and send the reply.
    Events(Vec<(String, Map<String, Value>)>, Vec<u8>),
    /// A job return to store and fire, then the reply.
    Return(String, Map<String, Value>, Vec<u8>),
    /// A minion's grains to cache, then the reply.
    Grains(String, Map<String, Value>, Vec<u8>),
    /// A request answered off the loop (a file, a pillar): the answer is sealed later with
    /// [`Auth::seal_answer`].
    Deferred(Deferred),
    /// Nothing to send (dropped).
    Drop,
}

/// A sealed request whose answer is worked out off the event loop.
#[derive(Debug, Clone)]
pub struct Deferred {
    /// The minion's routing identity on the request socket.
    pub identity: Vec<u8>,
    /// The minion id (the session's, whatever the load says).
    pub id: String,
    /// The session the request came on.
    pub sid: u64,
    /// The request counter the answer must carry.
    pub ctr: u64,
    /// What was asked.
    pub load: Load,
}

/// Keys, sessions and the current publication key.
pub struct Auth {
    keys: KeyPair,
    master_pub: String,
    store: KeyStore,
    policy: AuthPolicy,
    sessions: HashMap<String, MinionSession>,
    /// Sessions given by an auth reply and not used yet, by id. One becomes the minion's
    /// session (replacing the old one) with its first request: only the holder of the
    /// minion's secret key can open it, so an auth request replayed or forged by another
    /// peer cannot knock a connected minion off its session.
    fresh: HashMap<String, MinionSession>,
    /// Nonces of the last accepted auth requests, by id: the same request sent again (a
    /// replay, the request being public) is refused, so it cannot replace the offer the
    /// minion is about to take up.
    auth_nonces: HashMap<String, VecDeque<Vec<u8>>>,
    /// How recently a session must have spoken to count as connected (`max_minions`).
    pub presence_window: std::time::Duration,
    /// New key files that may still be written now, and when the budget was last refilled.
    key_writes: u32,
    key_writes_at: Option<Instant>,
    session_key: SymKey,
    kid: u64,
    serial: u64,
    auth_events: bool,
    /// What was refused so far.
    pub refusals: Refusals,
    /// Session ids.
    rng: crypto::Rng,
}

impl Auth {
    /// The auth state for a master with these keys, store and policy.
    pub fn new(keys: KeyPair, store: KeyStore, policy: AuthPolicy, auth_events: bool) -> Auth {
        let session_key = SymKey::generate();
        let kid = session_key.id();
        let master_pub = keys.public.to_pem();
        Auth {
            keys,
            master_pub,
            store,
            policy,
            sessions: HashMap::new(),
            fresh: HashMap::new(),
            auth_nonces: HashMap::new(),
            presence_window: std::time::Duration::from_secs(30),
            key_writes: KEY_WRITE_BURST,
            key_writes_at: None,
            session_key,
            kid,
            serial: 0,
            auth_events,
            refusals: Refusals::default(),
            rng: crypto::Rng::from_os(),
        }
    }

    /// Draws session ids from this seed from now on (a simulated run replays); session
    /// keys still come from the system.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = crypto::Rng::from_seed(seed);
    }

    /// Applies a reloaded policy.
    pub fn set_policy(&mut self, policy: AuthPolicy, auth_events: bool) {
        self.policy = policy;
        self.auth_events = auth_events;
    }

    /// The key store.
    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    /// Ids with a live session.
    pub fn connected(&self) -> impl Iterator<Item = (&String, &MinionSession)> {
        self.sessions.iter()
    }

    /// A new publication key: minions that cannot read the next publication re-auth.
    pub fn rotate(&mut self, why: &str) {
        self.session_key = SymKey::generate();
        self.kid = self.session_key.id();
        self.serial = 0;
        log::info!("rotated the session key ({why})");
    }

    /// Forgets sessions of minions silent for an hour (and ten presence windows) and
    /// session offers not taken up within that time: a minion that died without a goodbye
    /// costs nothing for long, and one that comes back is told to re-authenticate.
    pub fn prune(&mut self, now: Instant) {
        let keep = (self.presence_window * 10).max(std::time::Duration::from_secs(3600));
        let before = self.sessions.len() + self.fresh.len();
        let alive = |s: &MinionSession| now.saturating_duration_since(s.last_seen) <= keep;
        self.sessions.retain(|_, s| alive(s));
        self.fresh.retain(|_, s| alive(s));
        let gone = before - self.sessions.len() - self.fresh.len();
        if gone > 0 {
            log::info!("forgot {gone} sessions silent for {} s", keep.as_secs());
        }
    }

    /// Forgets a minion's session (its key was rejected or deleted).
    pub fn drop_session(&mut self, id: &str) -> bool {
        let fresh = self.fresh.remove(id).is_some();
        self.sessions.remove(id).is_some() || fresh
    }

    /// Seals and signs a publication load.
    pub fn publish(&mut self, load: &Value) -> Vec<u8> {
        self.serial += 1;
        let plain = proto::encode(load);
        let data = self
            .session_key
            .encrypt(&proto::pub_aad(self.kid, self.serial), &plain);
        let sig = self
            .keys
            .sign
            .sign(&proto::pub_signed_bytes(self.kid, self.serial, &data));
        proto::encode(&proto::Publication {
            kid: self.kid,
            serial: self.serial,
            data: Bytes(data),
            sig: Bytes(sig.to_vec()),
        })
    }

    /// Handles one message from the request port.
    pub fn handle(&mut self, identity: &[u8], payload: &[u8], now: Instant) -> Handled {
        let req: Request = match proto::decode(payload) {
            Ok(r) => r,
            Err(e) => {
                self.refusals.malformed += 1;
                crate::log_limited!(
                    Warn,
                    "request-port:malformed",
                    "dropped a malformed request of {} bytes on the request port: {e}",
                    payload.len()
                );
                return Handled::Drop;
            }
        };
        match req {
            Request::Auth { id, public, nonce } => self.auth(identity, &id, &public, &nonce.0, now),
            Request::Sealed { id, sid, ctr, data } => {
                self.sealed(identity, &id, sid, ctr, &data.0, now)
            }
        }
    }

    fn auth(
        &mut self,
        identity: &[u8],
        id: &str,
        public: &str,
        nonce: &[u8],
        now: Instant,
    ) -> Handled {
        if !pki::valid_id(id) {
            self.refusals.malformed += 1;
            crate::log_limited!(
                Warn,
                "auth:invalid-id",
                "refused auth for an invalid minion id {id:?}"
            );
            return Handled::Drop;
        }
        let key = match PublicKey::from_pem(public) {
            Ok(k) => k,
            Err(e) => {
                self.refusals.malformed += 1;
                crate::log_limited!(
                    Warn,
                    "auth:bad-key",
                    "refused auth for {id}: bad public key: {e}"
                );
                return Handled::Drop;
            }
        };
        // Connected: spoke within the presence window (a minion that died without a
        // goodbye stops counting against max_minions).
        if self
            .auth_nonces
            .get(id)
            .is_some_and(|seen| seen.iter().any(|n| n[..] == nonce[..]))
        {
            self.refusals.replayed += 1;
            crate::log_limited!(
                Warn,
                format!("auth:replay:{id}"),
                "refused a replayed auth request for {id}"
            );
            return Handled::Drop;
        }
        let window = self.presence_window;
        let live = |s: &MinionSession| now.saturating_duration_since(s.last_seen) <= window;
        let connected = self.sessions.get(id).is_some_and(live);
        // Minions that took up a session offer but have not used it yet count too. Only
        // counted when there is a limit: it walks every session.
        let count = if self.policy.max_minions > 0 {
            self.sessions.values().filter(|s| live(s)).count()
                + self
                    .fresh
                    .iter()
                    .filter(|(k, s)| live(s) && *k != id && !self.sessions.contains_key(*k))
                    .count()
        } else {
            0
        };
        let since = self.key_writes_at.map_or(std::time::Duration::ZERO, |t| {
            now.saturating_duration_since(t)
        });
        let per_write = std::time::Duration::from_secs(1) / KEY_WRITES_PER_SEC;
        let refill = (since.as_nanos() / per_write.as_nanos()).min(u128::from(KEY_WRITE_BURST));
        match self.key_writes_at {
            None => self.key_writes_at = Some(now),
            Some(at) if refill > 0 => {
                // Keep the part of a write not earned yet, so the rate is the rate.
                let refill = refill as u32;
                self.key_writes = self.key_writes.saturating_add(refill).min(KEY_WRITE_BURST);
                self.key_writes_at = Some(if refill >= KEY_WRITE_BURST {
                    now
                } else {
                    at + per_write * refill
                });
            }
            Some(_) => {}
        }
        let decision = match pki::authorize_limited(
            &self.store,
            &self.policy,
            id,
            &key,
            connected,
            count,
            &mut self.key_writes,
        ) {
            Ok(d) => d,
            Err(e) => {
                crate::log_limited!(Error, "auth:store", "auth for {id}: key store: {e}");
                return Handled::Drop;
            }
        };
        if decision.throttled {
            self.refusals.throttled += 1;
            if self.refusals.throttled.is_power_of_two() {
                log::warn!(
                    "new minion keys are coming faster than {KEY_WRITES_PER_SEC}/s; put off {} auth attempts so far (latest {id})",
                    self.refusals.throttled
                );
            }
        }
        let mut events = Vec::new();
        if self.auth_events && !decision.throttled {
            let mut data = Map::new();
            data.insert("id".into(), json!(id));
            data.insert("pub".into(), json!(public));
            data.insert("result".into(), json!(decision.result));
            if let Some(act) = decision.act {
                data.insert("act".into(), json!(act));
            }
            events.push(("salt/auth".to_string(), data));
        }
        let (ret, sealed) = match decision.reply {
            Verdict::Accepted => {
                let mut sid = [0u8; 8];
                self.rng.fill(&mut sid);
                let sid = u64::from_be_bytes(sid);
                let shared = match SymKey::shared(&self.keys.boxk, &key.box_pub) {
                    Ok(s) => s,
                    Err(e) => {
                        crate::log_limited!(Warn, "auth:refused", "refused auth for {id}: {e}");
                        return Handled::Drop;
                    }
                };
                let session = proto::Session {
                    sid,
                    kid: self.kid,
                    key: Bytes(self.session_key.bytes().to_vec()),
                    serial: self.serial,
                };
                let sealed = crypto::seal(&key.box_pub, &proto::encode(&session));
                let seen = self.auth_nonces.entry(id.to_string()).or_default();
                if seen.len() >= AUTH_NONCES_KEPT {
                    seen.pop_front();
                }
                seen.push_back(nonce.to_vec());
                self.fresh.insert(
                    id.to_string(),
                    MinionSession {
                        sid,
                        shared,
                        last_ctr: 0,
                        identity: identity.to_vec(),
                        last_seen: now,
                    },
                );
                (AuthResult::Accepted, Some(sealed))
            }
            Verdict::Pending => (AuthResult::Pending, None),
            Verdict::Rejected => (AuthResult::Rejected, None),
            Verdict::Denied => (AuthResult::Denied, None),
            Verdict::Full => (AuthResult::Full, None),
        };
        let sig = self.keys.sign.sign(&proto::auth_reply_signed_bytes(
            ret,
            &self.master_pub,
            nonce,
            sealed.as_deref(),
        ));
        let reply = proto::encode(&proto::Reply::Auth(proto::AuthReply {
            ret,
            master_pub: self.master_pub.clone(),
            nonce: Bytes(nonce.to_vec()),
            sealed: sealed.map(Bytes),
            sig: Bytes(sig.to_vec()),
        }));
        Handled::Events(events, reply)
    }

    fn refuse(&self, sid: u64, ctr: u64) -> Handled {
        Handled::Reply(proto::encode(&proto::Reply::Refused {
            error: "reauth".into(),
            ctr,
            sid,
        }))
    }

    fn sealed(
        &mut self,
        identity: &[u8],
        id: &str,
        sid: u64,
        ctr: u64,
        data: &[u8],
        now: Instant,
    ) -> Handled {
        let fresh = self.fresh.get(id).is_some_and(|f| f.sid == sid);
        let s = if fresh {
            self.fresh.get_mut(id)
        } else {
            self.sessions.get_mut(id)
        };
        let Some(s) = s else {
            self.refusals.no_session += 1;
            log::info!(
                "refused a request from {id:?}: no session (not authenticated or not accepted)"
            );
            return self.refuse(sid, ctr);
        };
        if s.sid != sid {
            self.refusals.no_session += 1;
            log::info!("refused a request from {id}: stale session");
            return self.refuse(sid, ctr);
        }
        let aad = proto::aad(id, sid, ctr);
        let plain = match s.shared.decrypt(&aad, data) {
            Ok(p) => p,
            Err(_) => {
                self.refusals.forged += 1;
                crate::log_limited!(
                    Warn,
                    "request:forged",
                    "refused a request claiming to be {id}: it does not decrypt with that minion's key"
                );
                return Handled::Drop;
            }
        };
        // The minion opened its new session: it replaces the old one.
        let s = if fresh {
            match self.fresh.remove(id) {
                Some(f) => {
                    log::info!("minion {id} authenticated");
                    self.sessions.insert(id.to_string(), f);
                    match self.sessions.get_mut(id) {
                        Some(s) => s,
                        None => return Handled::Drop,
                    }
                }
                None => return Handled::Drop,
            }
        } else {
            s
        };
        // Checked after decryption so a forger cannot burn the real minion's counters.
        if ctr <= s.last_ctr {
            self.refusals.replayed += 1;
            crate::log_limited!(
                Warn,
                format!("request:replay:{id}"),
                "refused a replayed request from {id} (counter {ctr})"
            );
            return Handled::Drop;
        }
        s.last_ctr = ctr;
        s.last_seen = now;
        if s.identity != identity {
            s.identity = identity.to_vec();
        }
        let shared = s.shared.clone();
        let load: Load = match proto::decode(&plain) {
            Ok(l) => l,
            Err(e) => {
                self.refusals.malformed += 1;
                crate::log_limited!(
                    Warn,
                    format!("request:malformed:{id}"),
                    "dropped a malformed request from {id}: {e}"
                );
                return self.sealed_reply(&shared, id, sid, answer(ctr, false, json!(e), None));
            }
        };
        let events = match load {
            Load::Ping {} => Vec::new(),
            Load::Bye {} => {
                log::info!("minion {id} is shutting down");
                self.sessions.remove(id);
                return Handled::Drop;
            }
            Load::MinionEvent {
                tag,
                data,
                pretag,
                events,
                extra,
                ..
            } => {
                let (events, foreign) = minion_events(id, tag, data, pretag, events, extra);
                self.refusals.foreign += foreign;
                events
            }
            Load::Return { mut load } => {
                // The return speaks for the session's minion, whatever it claims.
                load.insert("id".into(), json!(id));
                load.shift_insert(0, "cmd".into(), json!("_return"));
                let reply = self.sealed_bytes(&shared, id, sid, ctr);
                return Handled::Return(id.to_string(), load, reply);
            }
            Load::Grains { mut grains } => {
                grains.insert("id".into(), json!(id));
                let reply = self.sealed_bytes(&shared, id, sid, ctr);
                return Handled::Grains(id.to_string(), grains, reply);
            }
            load @ (Load::FileList { .. }
            | Load::FileEnvs {}
            | Load::FileHash { .. }
            | Load::ServeFile { .. }
            | Load::Pillar { .. }) => {
                return Handled::Deferred(Deferred {
                    identity: identity.to_vec(),
                    id: id.to_string(),
                    sid,
                    ctr,
                    load,
                })
            }
        };
        Handled::Events(events, self.sealed_bytes(&shared, id, sid, ctr))
    }

    fn sealed_bytes(&self, shared: &SymKey, id: &str, sid: u64, ctr: u64) -> Vec<u8> {
        match self.sealed_reply(shared, id, sid, answer(ctr, true, Value::Null, None)) {
            Handled::Reply(r) => r,
            _ => Vec::new(),
        }
    }

    /// The sealed answer to a deferred request, under the key of the session it came on;
    /// `None` when that session has ended meanwhile (the minion asks again on its new one).
    pub fn seal_answer(
        &self,
        d: &Deferred,
        ok: bool,
        ret: Value,
        bin: Option<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        let s = self.sessions.get(&d.id).filter(|s| s.sid == d.sid)?;
        match self.sealed_reply(&s.shared, &d.id, d.sid, answer(d.ctr, ok, ret, bin)) {
            Handled::Reply(r) => Some(r),
            _ => None,
        }
    }

    /// Whether `id` has a session that spoke within `window` of `now`.
    pub fn is_connected(&self, id: &str, now: Instant, window: std::time::Duration) -> bool {
        self.sessions
            .get(id)
            .is_some_and(|s| now.saturating_duration_since(s.last_seen) <= window)
    }

    fn sealed_reply(
        &self,
        shared: &SymKey,
        id: &str,
        sid: u64,
        reply: proto::SealedReply,
    ) -> Handled {
        let ctr = reply.ctr;
        let plain = proto::encode(&reply);
        let data = shared.encrypt(&proto::reply_aad(id, sid, ctr), &plain);
        Handled::Reply(proto::encode(&proto::Reply::Sealed {
            ctr,
            data: Bytes(data),
        }))
    }
}

/// The plaintext of a sealed answer.
fn answer(ctr: u64, ok: bool, ret: Value, bin: Option<Vec<u8>>) -> proto::SealedReply {
    proto::SealedReply {
        ctr,
        ok,
        ret,
        bin: bin.map(Bytes),
    }
}

/// An event to fire: tag and data.
type TaggedEvent = (String, Map<String, Value>);

/// Salt's `_minion_event` handling (salt-spec §1.5): a list of events, each fired with its
/// own data, or one event whose data is the whole load. The id is always the session's:
/// a minion cannot fire as another. So each listed event's data gets the sender's `id`
/// (Salt passes it as sent), and a `salt/` tag is refused unless it is one a minion fires
/// about itself (see `own_tag`). Returns the events and how many were refused.
fn minion_events(
    id: &str,
    tag: Option<String>,
    data: Option<Value>,
    pretag: Option<String>,
    events: Option<Vec<Map<String, Value>>>,
    extra: Map<String, Value>,
) -> (Vec<TaggedEvent>, u64) {
    let mut out = Vec::new();
    let mut refused = 0;
    let mut admit = |tag: String, data: Map<String, Value>, out: &mut Vec<_>| {
        if own_tag(id, &tag) {
            out.push((tag, data));
        } else {
            refused += 1;
            crate::log_limited!(
                Warn,
                format!("event:foreign:{id}"),
                "refused event {tag} from minion {id}: it names another minion or the master"
            );
        }
    };
    if let Some(list) = events {
        for item in list {
            let Some(tag) = item.get("tag").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let mut data = match item.get("data") {
                Some(Value::Object(m)) => m.clone(),
                Some(_) | None => item.clone(),
            };
            data.insert("id".into(), json!(id));
            if let Some(pre) = &pretag {
                admit(format!("{pre}/{tag}"), data.clone(), &mut out);
            }
            admit(tag, data, &mut out);
        }
        return (out, refused);
    }
    let Some(tag) = tag else {
        return (out, refused);
    };
    if !own_tag(id, &tag) {
        crate::log_limited!(
            Warn,
            format!("event:foreign:{id}"),
            "refused event {tag} from minion {id}: it names another minion or the master"
        );
        return (out, 1);
    }
    let mut load = Map::new();
    load.insert("id".into(), json!(id));
    load.insert("cmd".into(), json!("_minion_event"));
    load.insert(
        "pretag".into(),
        pretag.map(Value::String).unwrap_or(Value::Null),
    );
    load.insert("tag".into(), json!(tag));
    load.insert("data".into(), data.unwrap_or_else(|| json!({})));
    for (k, v) in extra {
        if k != "tok" && !load.contains_key(&k) {
            load.insert(k, v);
        }
    }
    out.push((tag, load));
    (out, refused)
}

/// May minion `id` fire `tag`?
///
/// No tag from a minion may hold an empty, `.` or `..` segment: a consumer that
/// normalizes the path would read `salt/minion/m1/../m2/start` as m2's.
///
/// Outside `salt/` anything else goes. Inside it, only the tags that name this minion where
/// Salt puts a minion id, in Salt's own shapes: `salt/minion/<id>/...`,
/// `salt/beacon/<id>/...`, `salt/job/<jid>/ret/<id>` and `salt/job/<jid>/prog/<id>/<n>`. The
/// rest of `salt/` (auth, key, job publications, runner, wheel, presence, reactor and queue
/// events) is the master's to fire.
///
/// Reactor and listener globs match with fnmatch, whose `*` crosses `/`: `salt/job/*/ret/m2`
/// takes any `salt/job/` tag that ends in `/ret/m2` for m2's return. So a `salt/job/` tag is
/// also read the way such a glob reads it, and refused unless every minion id it could be
/// read to name (after any `ret` as its next-to-last segment, after any `prog`) is the
/// sender's: `salt/job/1/prog/m1/ret/m2` is refused, and so is `salt/job/1/prog/ret/m2` from
/// a minion named `ret`.
fn own_tag(id: &str, tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return false;
    }
    let Some(("salt", rest)) = parts.split_first().map(|(a, r)| (*a, r)) else {
        return true;
    };
    match rest {
        ["minion" | "beacon", who, _, ..] => *who == id,
        ["job", _, "ret", who] | ["job", _, "prog", who, _] => {
            *who == id && job_tag_names_only(id, &rest[2..])
        }
        _ => false,
    }
}

/// Every minion id a glob could read in the segments after `salt/job/<jid>/` is `id`.
fn job_tag_names_only(id: &str, after_jid: &[&str]) -> bool {
    let n = after_jid.len();
    if n >= 2 && after_jid[n - 2] == "ret" && after_jid[n - 1] != id {
        return false;
    }
    after_jid.windows(2).all(|w| w[0] != "prog" || w[1] == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minion_fires_salt_tags_only_about_itself() {
        for ok in [
            "myco/app/refresh",
            "salt/minion/m1/start",
            "salt/beacon/m1/inotify/etc/x",
            "salt/job/20260101/ret/m1",
            "salt/job/20260101/prog/m1/0",
        ] {
            assert!(own_tag("m1", ok), "{ok}");
        }
        for bad in [
            "salt/minion/m0/start",
            "salt/beacon/m0/x",
            "salt/job/20260101/ret/m0",
            "salt/job/20260101/new",
            "salt/auth",
            "salt/key",
            "salt/run/1/ret",
            "salt/wheel/1/new",
            "salt/presence/change",
            "salt/reactor/error",
            "salt/",
            "salt/minion",
            "salt/minion/m1",
            // CVE-2025-22239's class: a tag that a glob for another minion's namespace takes.
            "salt/job/20260101/prog/m1/ret/other",
            "salt/job/20260101/prog/m1/x/ret/other",
            "salt/job/20260101/prog/m1/prog/other/1",
            "salt/minion/m1/../other/start",
            "salt/minion/m1//start",
            "salt/minion/m1/./start",
            "salt/beacon/m1/inotify//etc/x",
            "myco/../salt/minion/other/start",
            "myco//x",
            "myco/x/",
        ] {
            assert!(!own_tag("m1", bad), "{bad}");
        }
        // A minion whose id is a word of the job namespace cannot use it to name another:
        // `salt/job/*/ret/5` would take minion ret's progress tags for minion 5's return,
        // so they are refused (its returns still go through).
        assert!(!own_tag("ret", "salt/job/1/prog/ret/other"));
        assert!(!own_tag("ret", "salt/job/1/prog/ret/5"));
        assert!(own_tag("ret", "salt/job/1/ret/ret"));
        assert!(own_tag("prog", "salt/job/1/ret/prog"));
        // The globs reactors use, against every tag a minion m1 may fire: none of them can
        // be taken for another minion's.
        let globs = [
            "salt/job/*/ret/other",
            "salt/job/*/prog/other/*",
            "salt/minion/other/*",
            "salt/beacon/other/*",
        ];
        for tag in [
            "salt/job/1/ret/m1",
            "salt/job/1/prog/m1/3",
            "salt/minion/m1/start",
            "salt/beacon/m1/load",
        ] {
            assert!(own_tag("m1", tag), "{tag}");
            for g in globs {
                let f =
                    crate::matcher::TagFilter::new(crate::matcher::MatchType::Fnmatch, g).unwrap();
                assert!(!f.is_match(tag), "{g} takes {tag}");
            }
        }
    }

    #[test]
    fn listed_events_speak_for_the_sender_and_foreign_ones_are_refused() {
        let item = |tag: &str, data: Value| {
            let mut m = Map::new();
            m.insert("tag".into(), json!(tag));
            m.insert("data".into(), data);
            m
        };
        let (out, refused) = minion_events(
            "m1",
            None,
            None,
            None,
            Some(vec![
                item("salt/job/1/ret/m0", json!({"return": "forged", "id": "m0"})),
                item("salt/beacon/m1/load", json!({"1m": 9, "id": "m0"})),
                item("myco/x", json!({"id": "m0"})),
                item("salt/auth", json!({"act": "accept", "id": "m0"})),
            ]),
            Map::new(),
        );
        assert_eq!(refused, 2);
        let tags: Vec<&str> = out.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(tags, ["salt/beacon/m1/load", "myco/x"]);
        assert!(out.iter().all(|(_, d)| d["id"] == "m1"));
        // A pretag cannot smuggle a tag into salt/ either.
        let (out, refused) = minion_events(
            "m1",
            None,
            None,
            Some("salt/key".into()),
            Some(vec![item("x", json!({}))]),
            Map::new(),
        );
        assert_eq!((out.len(), refused), (1, 1));
        // The single form is wrapped with the sender's id, and refused the same way.
        let (out, refused) = minion_events(
            "m1",
            Some("salt/minion/m0/start".into()),
            Some(json!({})),
            None,
            None,
            Map::new(),
        );
        assert_eq!((out.len(), refused), (0, 1));
    }
}
