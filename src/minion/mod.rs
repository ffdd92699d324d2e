//! The minion's logic as a state machine without I/O: auth with the master, the session,
//! publications, heartbeats, its own event bus and the functions `brine-call` runs.
//!
//! The event loop (or `brine-swarm`, which runs many of these in one loop) feeds it
//! inputs with the current time and carries out the actions it queues.

use crate::bus::{Answer, Bus, ClientId, Local, Overflow};
use crate::clock::Now;
use crate::clock::Timers;
use crate::config::MinionConfig;
use crate::crypto::{self, SymKey};
use crate::matcher::MatchType;
use crate::modules::{self, ChildResult, ChildSpec, Ret, Step};
use crate::pki::{KeyPair, PublicKey};
use crate::proto::{self, serde_bytes_compat::Bytes, AuthResult, Load, Publication, Reply};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How many events for the master a minion keeps while it is not connected.
const OUTBOX_LIMIT: usize = 1000;

/// Publications held for a session key a re-auth will bring, at most (count and bytes).
const MAX_HELD: usize = 256;
const MAX_HELD_BYTES: usize = 16 << 20;

/// Publication keys of earlier sessions remembered as replays.
const MAX_OLD_KIDS: usize = 16;

/// Something the minion asks its event loop to do.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Send this message on the request channel (DEALER).
    Send(Vec<u8>),
    /// Remember this master key (write `minion_master.pub`).
    PinMaster(String),
    /// A verified, decrypted publication for the job layer.
    Publication(Value),
    /// Stop the daemon with this status (the key was rejected).
    Exit(i32),
    /// Start a child process for job `key`.
    Spawn(u64, ChildSpec),
    /// Kill job `key`'s child (its process group).
    Kill(u64),
    /// Start-up is over (first authenticated, start event sent): the daemon may drop the
    /// memory only start-up needed.
    Settled,
}

/// Where the minion stands with its master.
#[derive(Debug)]
enum Phase {
    /// Not started.
    Idle,
    /// An auth request is out.
    Authenticating { nonce: [u8; 16], tries: u64 },
    /// Waiting before the next auth attempt (pending, refused, no answer).
    Waiting,
    /// Accepted, with a session.
    Accepted(Session),
    /// Rejected for good: the daemon exits.
    Refused,
}

#[derive(Debug)]
struct Session {
    sid: u64,
    shared: SymKey,
    kid: u64,
    key: SymKey,
    last_serial: u64,
}

/// Timers of one minion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// No answer to an auth request yet.
    AuthTimeout,
    /// Time for another auth attempt.
    AuthRetry,
    /// Time for a heartbeat.
    Heartbeat,
    /// Re-authenticate (after the master rotated its key).
    Reauth,
    /// A delayed job (test.sleep) is due.
    Job(u64),
    /// A job return the master has not acknowledged is due to be sent again.
    ReturnRetry,
}

/// Counters of what a minion dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// Publications that failed the master's signature.
    pub forged: u64,
    /// Publications replayed (old serial or old key).
    pub replayed: u64,
    /// Messages that could not be decoded or decrypted.
    pub malformed: u64,
    /// Events for the master dropped because the outbox was full.
    pub outbox: u64,
    /// Caller reactions dropped because too many were running.
    pub reactions: u64,
}

/// Caller reactions running at once at most; past it new ones are dropped and logged.
const MAX_CALLER_REACTIONS: usize = 16;

/// One minion.
pub struct Minion {
    cfg: MinionConfig,
    keys: KeyPair,
    pin_path: PathBuf,
    /// The pin is on disk (read at start or written since): only then does a missing pin
    /// file mean the operator removed it.
    pin_on_disk: bool,
    /// A re-auth from a session is under way: publications under a new key are held.
    holding: bool,
    pinned: Option<String>,
    phase: Phase,
    ctr: u64,
    attempts: u64,
    started: bool,
    timers: Timers<Timer>,
    actions: VecDeque<Action>,
    outbox: VecDeque<Load>,
    bus: Option<Bus>,
    default_match: MatchType,
    grains: Map<String, Value>,
    running: BTreeMap<u64, Running>,
    next_key: u64,
    returns: Vec<PendingReturn>,
    /// Events sent to the master and not acknowledged yet, by request counter.
    unacked: VecDeque<(u64, Load)>,
    /// Publication keys of earlier sessions, newest last: a publication under one of them
    /// is a replay. Kept across re-auths, which leave no session in between.
    old_kids: VecDeque<u64>,
    /// Publications signed by the master under a key this minion does not have yet (the
    /// master rotated it): read again once the re-auth brings the new key, as Salt does.
    held: VecDeque<Vec<u8>>,
    /// What was dropped so far.
    pub drops: Drops,
    /// The minion's own reactor (caller reactions), when it has a bus and rules.
    reactor: Option<crate::reactor::engine::Engine>,
    /// Reactor files go to a renderer process (the daemon's loop has one).
    render_in_child: bool,
    /// Renders for the loop to hand the renderer process.
    render_out: Vec<crate::reactor::RenderJob>,
    /// Events whose renders are out: job number -> (tag, what gathering found).
    renders: std::collections::BTreeMap<u64, (String, crate::reactor::engine::Reacted)>,
    render_seq: u64,
    /// Changes with the reactor's rules and environment.
    render_env_gen: u64,
}

/// Who asked for a call, so its result goes back there.
#[derive(Debug)]
enum Origin {
    /// A job published by the master: the return goes to the master.
    Job {
        jid: String,
        fun: String,
        fun_args: Vec<Value>,
    },
    /// A local client (brine-call): the answer goes to it, and with `send_return` to the
    /// master too, as a job with jid `req`.
    Local {
        client: ClientId,
        fun: String,
        fun_args: Vec<Value>,
        send_return: bool,
    },
    /// A caller reaction of the minion's own reactor: the result is only logged.
    Reactor {
        /// The reaction's ID.
        id: String,
        /// The function.
        fun: String,
    },
}

/// A call still running (a child process or a delay).
#[derive(Debug)]
struct Running {
    origin: Origin,
    /// The job's record, as `saltutil.running` shows it (Salt's proc file).
    data: Map<String, Value>,
    finish: Option<(ChildSpec, modules::Finish)>,
    delayed: Option<Ret>,
}

/// A return sent to the master and not acknowledged yet.
#[derive(Debug)]
struct PendingReturn {
    load: Load,
    ctr: u64,
    tries: u64,
    due: Instant,
}

impl Minion {
    /// A minion with this configuration, keys and pinned master key (if it has one). With
    /// `bus` it also runs a local event bus (the daemon does; swarm minions do not).
    pub fn new(cfg: MinionConfig, keys: KeyPair, pinned: Option<String>, bus: bool) -> Minion {
        let bus = bus.then(|| {
            let mut bus = Bus::new(
                cfg.event_listener_buffer,
                Overflow::from_name(&cfg.event_listener_overflow).unwrap_or(Overflow::Drop),
                cfg.max_event_size,
            );
            bus.set_max_subscriptions(cfg.event_listener_max_subscriptions);
            bus
        });
        let default_match =
            MatchType::from_name(&cfg.event_match_type).unwrap_or(MatchType::StartsWith);
        Minion {
            pin_path: cfg.pki_dir.join("minion_master.pub"),
            pin_on_disk: pinned.is_some(),
            holding: false,
            cfg,
            keys,
            pinned,
            phase: Phase::Idle,
            ctr: 0,
            attempts: 0,
            started: false,
            timers: Timers::new(),
            actions: VecDeque::new(),
            outbox: VecDeque::new(),
            bus,
            default_match,
            grains: Map::new(),
            running: BTreeMap::new(),
            next_key: 1,
            returns: Vec::new(),
            unacked: VecDeque::new(),
            old_kids: VecDeque::new(),
            held: VecDeque::new(),
            drops: Drops::default(),
            reactor: None,
            render_in_child: false,
            render_out: Vec::new(),
            renders: std::collections::BTreeMap::new(),
            render_seq: 0,
            render_env_gen: 0,
        }
    }

    /// Sets the computed grains (the static `grains:` config is merged over them).
    pub fn set_grains(&mut self, computed: Map<String, Value>) {
        self.grains = crate::grains::merge(computed, &self.cfg.grains);
        self.grains.insert("id".into(), json!(self.cfg.id));
        match self.reactor.as_mut() {
            Some(r) => r.env.grains = self.grains.clone(),
            None => self.load_reactor(),
        }
    }

    /// The minion id.
    pub fn id(&self) -> &str {
        &self.cfg.id
    }

    /// The configuration.
    pub fn config(&self) -> &MinionConfig {
        &self.cfg
    }

    /// True once the master accepted this minion and a session is up.
    pub fn is_accepted(&self) -> bool {
        matches!(self.phase, Phase::Accepted(_))
    }

    /// The local bus, for the loop to flush.
    pub fn bus(&mut self) -> Option<&mut Bus> {
        self.bus.as_mut()
    }

    /// The next action for the loop.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest deadline.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Starts authenticating.
    pub fn start(&mut self, now: Now) {
        self.send_auth(now, 0);
    }

    /// Handles timers that are due.
    pub fn tick(&mut self, now: Now) {
        while let Some(t) = self.timers.pop_expired(now.mono) {
            match t {
                Timer::AuthTimeout => {
                    if let Phase::Authenticating { tries, .. } = self.phase {
                        if tries + 1 < self.cfg.auth_tries.max(1) {
                            log::info!("no answer from the master yet; trying again");
                            self.send_auth(now, tries + 1);
                        } else {
                            log::warn!(
                                "the master did not answer {} auth attempts; waiting {} s",
                                tries + 1,
                                self.cfg.acceptance_wait_time
                            );
                            self.wait_then_retry(now);
                        }
                    }
                }
                Timer::AuthRetry | Timer::Reauth => self.send_auth(now, 0),
                Timer::Job(key) => {
                    if let Some(r) = self.running.remove(&key) {
                        let ret = r.delayed.unwrap_or_else(|| Ret::ok(Value::Bool(true)));
                        self.finish(now, r.origin, ret);
                    }
                }
                Timer::ReturnRetry => self.retry_returns(now),
                Timer::Heartbeat => {
                    if self.is_accepted() {
                        self.send_load(&Load::Ping {});
                        self.timers.set(
                            Timer::Heartbeat,
                            crate::clock::later(
                                now.mono,
                                Duration::from_secs(self.cfg.heartbeat_interval),
                            ),
                        );
                    }
                }
            }
        }
    }

    fn send_auth(&mut self, now: Now, tries: u64) {
        let mut nonce = [0u8; 16];
        crypto::random_bytes(&mut nonce);
        let req = proto::Request::Auth {
            id: self.cfg.id.clone(),
            public: self.keys.public.to_pem(),
            nonce: Bytes(nonce.to_vec()),
        };
        self.actions.push_back(Action::Send(proto::encode(&req)));
        self.retire_session();
        self.phase = Phase::Authenticating { nonce, tries };
        self.timers.cancel(Timer::AuthRetry);
        self.timers.cancel(Timer::Reauth);
        self.timers.set(
            Timer::AuthTimeout,
            crate::clock::later(now.mono, Duration::from_secs(self.cfg.auth_timeout.max(1))),
        );
    }

    /// Waits `acceptance_wait_time` (growing to `acceptance_wait_time_max`) and retries.
    fn wait_then_retry(&mut self, now: Now) -> u64 {
        self.attempts += 1;
        // Held publications wait for one re-auth, not for an acceptance that may come much
        // later: jobs that old are not to run, nor are those published meanwhile.
        self.holding = false;
        if !self.held.is_empty() {
            log::warn!(
                "dropped {} publications held for a re-auth that was not accepted",
                self.held.len()
            );
            self.drops.malformed += self.held.len() as u64;
            self.held.clear();
        }
        let base = self.cfg.acceptance_wait_time;
        let wait = if self.cfg.acceptance_wait_time_max > base {
            (base.saturating_mul(self.attempts)).min(self.cfg.acceptance_wait_time_max)
        } else {
            base
        };
        self.phase = Phase::Waiting;
        self.timers.cancel(Timer::AuthTimeout);
        let wait = wait.max(1);
        self.timers.set(
            Timer::AuthRetry,
            crate::clock::later(now.mono, Duration::from_secs(wait)),
        );
        wait
    }

    /// Handles a message from the request channel.
    pub fn on_reply(&mut self, now: Now, bytes: &[u8]) {
        let reply: Reply = match proto::decode(bytes) {
            Ok(r) => r,
            Err(e) => {
                self.drops.malformed += 1;
                crate::log_limited!(
                    Warn,
                    "master-reply:malformed",
                    "dropped a malformed reply from the master: {e}"
                );
                return;
            }
        };
        match reply {
            Reply::Auth(a) => self.on_auth(now, a),
            Reply::Sealed { ctr, data } => {
                let Phase::Accepted(s) = &self.phase else {
                    return;
                };
                let aad = proto::reply_aad(&self.cfg.id, s.sid, ctr);
                let answer = s
                    .shared
                    .decrypt(&aad, &data.0)
                    .ok()
                    .and_then(|plain| proto::decode::<proto::SealedReply>(&plain).ok())
                    .filter(|r| r.ctr == ctr);
                match answer {
                    Some(r) => {
                        if !r.ok {
                            // Answered, so not sent again: the master could not use it.
                            log::warn!("the master refused request {ctr}: {}", r.ret);
                        }
                        self.returns.retain(|p| p.ctr != ctr);
                        self.unacked.retain(|(c, _)| *c != ctr);
                    }
                    None => {
                        self.drops.malformed += 1;
                        crate::log_limited!(
                            Warn,
                            "master-reply:decrypt",
                            "dropped a reply that does not decrypt with our session"
                        );
                    }
                }
            }
            Reply::Refused { error, sid, .. } => {
                let current = matches!(&self.phase, Phase::Accepted(s) if s.sid == sid);
                if current {
                    log::warn!("the master refused our session ({error}); re-authenticating");
                    // Events sent on the dead session go again on the next one.
                    let lost: Vec<Load> = std::mem::take(&mut self.unacked)
                        .into_iter()
                        .map(|(_, l)| l)
                        .collect();
                    for load in lost.into_iter().rev() {
                        self.outbox.push_front(load);
                    }
                    self.send_auth(now, 0);
                }
            }
        }
    }

    fn on_auth(&mut self, now: Now, a: proto::AuthReply) {
        let Phase::Authenticating { nonce, .. } = &self.phase else {
            log::debug!("ignored an auth reply that came late");
            return;
        };
        if a.nonce.0 != nonce {
            log::debug!("ignored an auth reply to an earlier attempt");
            return;
        }
        let master = match PublicKey::from_pem(&a.master_pub) {
            Ok(k) => k,
            Err(e) => {
                self.drops.malformed += 1;
                crate::log_limited!(
                    Warn,
                    "auth-reply:key",
                    "dropped an auth reply with a bad master key: {e}"
                );
                return;
            }
        };
        let signed = proto::auth_reply_signed_bytes(
            a.ret,
            &a.master_pub,
            &a.nonce.0,
            a.sealed.as_ref().map(|b| &b.0[..]),
        );
        if !crypto::verify(&master.sign_pub, &signed, &a.sig.0) {
            self.drops.forged += 1;
            crate::log_limited!(
                Warn,
                "auth-reply:sig",
                "dropped an auth reply whose signature does not verify"
            );
            return;
        }
        if self
            .pinned
            .as_ref()
            .is_some_and(|pin| pin.trim() != a.master_pub.trim())
        {
            // The log line below says to remove the pin file: honour that without a restart
            // (a tiny local file, read only when the master's key differs).
            match std::fs::read_to_string(&self.pin_path) {
                Ok(text) => self.pinned = Some(text),
                // Only a pin file that was there and is gone now trusts a new key: an
                // unreadable file, or a pin never written, keeps refusing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.pin_on_disk => {
                    log::warn!(
                        "{} was removed: trusting the master's new key",
                        self.pin_path.display()
                    );
                    self.pinned = None;
                    self.pin_on_disk = false;
                }
                Err(_) => {}
            }
        }
        match &self.pinned {
            Some(pin) if pin.trim() != a.master_pub.trim() => {
                log::error!(
                    "the master's public key has changed: refusing it. If the master was \
                     re-keyed on purpose, remove {} to trust the new key",
                    self.pin_path.display()
                );
                self.wait_then_retry(now);
                return;
            }
            Some(_) => {}
            None => {
                self.pinned = Some(a.master_pub.clone());
                self.actions
                    .push_back(Action::PinMaster(a.master_pub.clone()));
            }
        }
        match a.ret {
            AuthResult::Accepted => self.accepted(now, a.sealed),
            AuthResult::Pending => {
                let wait = self.wait_then_retry(now);
                log::info!("the master has our key pending acceptance; retrying in {wait} s");
            }
            AuthResult::Full => {
                log::warn!("the master has reached max_minions; retrying later");
                self.wait_then_retry(now);
            }
            AuthResult::Rejected | AuthResult::Denied => {
                let word = if a.ret == AuthResult::Rejected {
                    "rejected"
                } else {
                    "denied"
                };
                if self.cfg.rejected_retry {
                    log::error!("the master {word} our key; retrying (rejected_retry)");
                    self.wait_then_retry(now);
                } else {
                    log::error!(
                        "the master {word} our key; exiting (set rejected_retry to keep trying)"
                    );
                    self.phase = Phase::Refused;
                    self.timers.cancel(Timer::AuthTimeout);
                    self.actions.push_back(Action::Exit(1));
                }
            }
        }
    }

    fn accepted(&mut self, now: Now, sealed: Option<Bytes>) {
        let opened = sealed
            .ok_or_else(|| "no session in the reply".to_string())
            .and_then(|s| crypto::unseal(&self.keys.boxk, &s.0).map_err(|e| e.to_string()))
            .and_then(|plain| proto::decode::<proto::Session>(&plain));
        let session = match opened {
            Ok(s) => s,
            Err(e) => {
                self.drops.malformed += 1;
                log::warn!("cannot open the session the master sent: {e}");
                self.wait_then_retry(now);
                return;
            }
        };
        let master_box = self
            .pinned
            .as_deref()
            .and_then(|p| PublicKey::from_pem(p).ok())
            .map(|k| k.box_pub);
        let (Some(master_box), Ok(key)) = (master_box, SymKey::from_bytes(&session.key.0)) else {
            log::warn!("the master sent an unusable session");
            self.wait_then_retry(now);
            return;
        };
        let shared = match SymKey::shared(&self.keys.boxk, &master_box) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("cannot derive the session key: {e}");
                self.wait_then_retry(now);
                return;
            }
        };
        self.retire_session();
        self.old_kids.retain(|k| *k != session.kid);
        self.phase = Phase::Accepted(Session {
            sid: session.sid,
            shared,
            kid: session.kid,
            key,
            last_serial: session.serial,
        });
        self.attempts = 0;
        self.ctr = 0;
        // Events the old session never acknowledged go again (at least once).
        let unacked: Vec<Load> = std::mem::take(&mut self.unacked)
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        for load in unacked.into_iter().rev() {
            self.outbox.push_front(load);
        }
        self.timers.cancel(Timer::AuthTimeout);
        self.timers.set(
            Timer::Heartbeat,
            crate::clock::later(now.mono, Duration::from_secs(self.cfg.heartbeat_interval)),
        );
        log::info!("authenticated with the master");
        if !self.started {
            self.started = true;
            self.fire_start(now);
            self.actions.push_back(Action::Settled);
        }
        // The master caches grains for targeting; a restarted master has lost them.
        self.refresh_grains();
        while let Some(load) = self.outbox.pop_front() {
            self.send_load(&load);
        }
        // Returns the old session never got acknowledged go again on the new one.
        let pending: Vec<PendingReturn> = std::mem::take(&mut self.returns);
        for p in pending {
            self.send_return(now, p.load, p.tries);
        }
        self.read_held();
    }

    /// `salt/minion/<id>/start` (and `minion_start`), once per process (salt-spec §2.3).
    fn fire_start(&mut self, now: Now) {
        let id = self.cfg.id.clone();
        let text = format!(
            "Minion {id} started at {}",
            crate::clock::asctime_local(now.wall)
        );
        let mut extra = Map::new();
        if let Value::Array(names) = &self.cfg.start_event_grains {
            if !names.is_empty() {
                let grains = self.grains();
                let mut picked = Map::new();
                for n in names.iter().filter_map(Value::as_str) {
                    if let Some(v) = grains.get(n) {
                        picked.insert(n.to_string(), v.clone());
                    }
                }
                extra.insert("grains".into(), Value::Object(picked));
            }
        }
        let mut tags = vec![format!("salt/minion/{id}/start")];
        if self.cfg.enable_legacy_startup_events {
            tags.push("minion_start".to_string());
        }
        for tag in tags {
            self.send_load(&Load::MinionEvent {
                id: id.clone(),
                tag: Some(tag),
                data: Some(Value::String(text.clone())),
                pretag: None,
                events: None,
                extra: extra.clone(),
            });
        }
    }

    /// The minion's grains: computed ones (a later issue) under the static `grains:`.
    pub fn grains(&self) -> Map<String, Value> {
        if !self.grains.is_empty() {
            return self.grains.clone();
        }
        crate::grains::merge(
            [("id".to_string(), json!(self.cfg.id))]
                .into_iter()
                .collect(),
            &self.cfg.grains,
        )
    }

    /// Recomputes nothing (grains are computed by the loop at start) but sends the
    /// current grains to the master's cache.
    pub fn refresh_grains(&mut self) {
        let grains = self.grains();
        self.send_load(&Load::Grains { grains });
    }

    fn send_load(&mut self, load: &Load) -> Option<u64> {
        let Phase::Accepted(s) = &self.phase else {
            if matches!(
                load,
                Load::Ping {} | Load::Bye {} | Load::Grains { .. } | Load::Return { .. }
            ) {
                return None;
            }
            if self.outbox.len() >= OUTBOX_LIMIT {
                self.drops.outbox += 1;
                log::warn!("not connected to the master and the outbox is full: dropped an event");
                return None;
            }
            self.outbox.push_back(load.clone());
            return None;
        };
        self.ctr += 1;
        let aad = proto::aad(&self.cfg.id, s.sid, self.ctr);
        let data = s.shared.encrypt(&aad, &proto::encode(load));
        let req = proto::Request::Sealed {
            id: self.cfg.id.clone(),
            sid: s.sid,
            ctr: self.ctr,
            data: Bytes(data),
        };
        self.actions.push_back(Action::Send(proto::encode(&req)));
        if matches!(load, Load::MinionEvent { .. }) {
            if self.unacked.len() >= OUTBOX_LIMIT {
                self.unacked.pop_front();
                self.drops.outbox += 1;
            }
            self.unacked.push_back((self.ctr, load.clone()));
        }
        Some(self.ctr)
    }

    /// Sends an event to the master bus (`_minion_event`, salt-spec §1.5).
    pub fn fire_master(&mut self, tag: &str, data: Value) {
        let data = match data {
            Value::Null => json!({}),
            other => other,
        };
        self.send_load(&Load::MinionEvent {
            id: self.cfg.id.clone(),
            tag: Some(tag.to_string()),
            data: Some(data),
            pretag: None,
            events: None,
            extra: Map::new(),
        });
    }

    /// Tells the master this minion is leaving (a clean shutdown).
    pub fn goodbye(&mut self) {
        if self.is_accepted() {
            self.send_load(&Load::Bye {});
        }
    }

    /// Jobs running now, as `saltutil.running` shows them.
    pub fn running_jobs(&self) -> Vec<Value> {
        self.running
            .values()
            .filter(|r| matches!(r.origin, Origin::Job { .. }))
            .map(|r| Value::Object(r.data.clone()))
            .collect()
    }

    /// Kills the job `jid`; returns the pid signalled.
    pub fn kill_job(&mut self, jid: &str) -> Option<u32> {
        let (key, pid) = self.running.iter().find_map(|(k, r)| {
            let same = matches!(&r.origin, Origin::Job { jid: j, .. } if j == jid);
            same.then(|| {
                (
                    *k,
                    r.data.get("pid").and_then(Value::as_u64).unwrap_or(0) as u32,
                )
            })
        })?;
        self.actions.push_back(Action::Kill(key));
        Some(pid)
    }

    /// Runs a job published by the master, if it targets this minion.
    pub fn on_job(&mut self, now: Now, load: Value) {
        let Value::Object(load) = load else {
            crate::log_limited!(Warn, "pub:map", "dropped a publication that is not a map");
            return;
        };
        let field = |k: &str| load.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(jid), Some(fun)) = (field("jid"), field("fun")) else {
            crate::log_limited!(
                Warn,
                "pub:fields",
                "dropped a publication without jid or fun"
            );
            return;
        };
        let tgt = load.get("tgt").cloned().unwrap_or(Value::Null);
        let tgt_type_name = field("tgt_type").unwrap_or_else(|| "glob".into());
        let Some(tgt_type) = crate::targeting::TgtType::from_name(&tgt_type_name) else {
            log::warn!("job {jid}: unknown tgt_type {tgt_type_name:?}");
            return;
        };
        let delimiter = field("delimiter").unwrap_or_else(|| ":".into());
        let nodegroups = load.get("nodegroups").cloned().unwrap_or(Value::Null);
        let target = match crate::targeting::Target::parse(&tgt, tgt_type, &nodegroups, &delimiter)
        {
            Ok(t) => t,
            Err(e) => {
                log::warn!("job {jid}: {e}");
                return;
            }
        };
        if !target.matches(&self.cfg.id, &self.grains()) {
            log::trace!("job {jid} does not target this minion");
            return;
        }
        let arg: Vec<Value> = match load.get("arg") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        log::info!("job {jid}: {fun}");
        let mut data = Map::new();
        for k in ["jid", "fun", "arg", "tgt", "tgt_type", "user", "ret"] {
            if let Some(v) = load.get(k) {
                data.insert(k.to_string(), v.clone());
            }
        }
        data.insert("pid".into(), json!(std::process::id()));
        let (args, kwargs) = modules::parse_job_args(&arg);
        let origin = Origin::Job {
            jid,
            fun: fun.clone(),
            fun_args: arg,
        };
        self.start_call(now, origin, data, &fun, &args, &kwargs);
    }

    fn start_call(
        &mut self,
        now: Now,
        origin: Origin,
        data: Map<String, Value>,
        fun: &str,
        args: &[Value],
        kwargs: &Map<String, Value>,
    ) {
        let step = modules::call(self, now, fun, args, kwargs);
        let key = self.next_key;
        self.next_key += 1;
        match step {
            Step::Done(ret) => self.finish(now, origin, ret),
            Step::Child(spec, fin) => {
                self.write_proc(&origin, &data);
                self.actions.push_back(Action::Spawn(key, spec.clone()));
                self.running.insert(
                    key,
                    Running {
                        origin,
                        data,
                        finish: Some((spec, fin)),
                        delayed: None,
                    },
                );
            }
            Step::After(delay, ret) => {
                self.write_proc(&origin, &data);
                self.timers
                    .set(Timer::Job(key), crate::clock::later(now.mono, delay));
                self.running.insert(
                    key,
                    Running {
                        origin,
                        data,
                        finish: None,
                        delayed: Some(ret),
                    },
                );
            }
        }
    }

    /// The loop started job `key`'s child with this pid.
    pub fn child_started(&mut self, key: u64, pid: u32) {
        if let Some(r) = self.running.get_mut(&key) {
            r.data.insert("pid".into(), json!(pid));
            let origin_jid = match &r.origin {
                Origin::Job { jid, .. } => Some(jid.clone()),
                Origin::Local { .. } | Origin::Reactor { .. } => None,
            };
            if let Some(jid) = origin_jid {
                let data = r.data.clone();
                self.write_proc_file(&jid, &data);
            }
        }
    }

    /// Job `key`'s child finished (or could not start).
    pub fn child_done(&mut self, now: Now, key: u64, result: ChildResult) {
        let Some(r) = self.running.remove(&key) else {
            return;
        };
        let ret = match &r.finish {
            Some((spec, fin)) => fin(spec, &result),
            None => Ret::fail("the job had no child"),
        };
        self.finish(now, r.origin, ret);
    }

    fn proc_dir(&self) -> PathBuf {
        self.cfg.cachedir.join("proc")
    }

    /// Removes job records left by a minion that crashed (their jobs died with it).
    pub fn clear_stale_jobs(&self) {
        if let Ok(entries) = std::fs::read_dir(self.proc_dir()) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn write_proc(&self, origin: &Origin, data: &Map<String, Value>) {
        if let Origin::Job { jid, .. } = origin {
            self.write_proc_file(jid, data);
        }
    }

    fn write_proc_file(&self, jid: &str, data: &Map<String, Value>) {
        if !crate::jobs::is_jid(jid) && jid != "req" {
            return;
        }
        let dir = self.proc_dir();
        let write = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(dir.join(jid), proto::encode(data)));
        if let Err(e) = write {
            log::warn!(
                "cannot write the job record {}: {e}",
                dir.join(jid).display()
            );
        }
    }

    fn finish(&mut self, now: Now, origin: Origin, ret: Ret) {
        match origin {
            Origin::Local {
                client,
                fun,
                fun_args,
                send_return: true,
            } => {
                // salt-call --return: the master assigns the jid (salt-spec §7.3).
                let job = Origin::Job {
                    jid: "req".into(),
                    fun,
                    fun_args,
                };
                let local = Origin::Local {
                    client,
                    fun: String::new(),
                    fun_args: Vec::new(),
                    send_return: false,
                };
                self.finish(now, job, ret.clone());
                self.finish(now, local, ret);
            }
            Origin::Job { jid, fun, fun_args } => {
                let _ = std::fs::remove_file(self.proc_dir().join(&jid));
                // `cmd: _return` is the message's tag; the master puts it back in the event.
                let mut load = Map::new();
                load.insert("id".into(), json!(self.cfg.id));
                load.insert("jid".into(), json!(jid));
                load.insert("fun".into(), json!(fun));
                load.insert("fun_args".into(), Value::Array(fun_args));
                let mut retcode = ret.retcode;
                // Salt: a map return with result/success false fails the job.
                if retcode == 0 {
                    if let Value::Object(m) = &ret.value {
                        if m.get("result") == Some(&Value::Bool(false))
                            || m.get("success") == Some(&Value::Bool(false))
                        {
                            retcode = 1;
                        }
                    }
                }
                load.insert("return".into(), ret.value);
                load.insert("retcode".into(), json!(retcode));
                load.insert("success".into(), json!(retcode == 0));
                let size = crate::wire::msgpack_len(&Value::Object(load.clone()));
                if size > self.cfg.max_event_size {
                    log::warn!("job {jid}: the return of {size} bytes is over max_event_size");
                    load.insert(
                        "return".into(),
                        json!(format!(
                            "The return of {size} bytes is over max_event_size ({}) and was not sent",
                            self.cfg.max_event_size
                        )),
                    );
                    load.insert("retcode".into(), json!(1));
                    load.insert("success".into(), json!(false));
                }
                self.send_return(now, Load::Return { load }, 0);
            }
            Origin::Reactor { id, fun } => {
                if ret.retcode == 0 {
                    log::info!("Reactor '{id}' ran caller '{fun}'");
                } else {
                    log::error!(
                        "Reactor '{id}' failed to execute caller '{fun}': {}",
                        crate::py::python_str(&ret.value)
                    );
                }
            }
            Origin::Local { client, .. } => {
                if let Some(bus) = self.bus.as_mut() {
                    bus.answer(
                        client,
                        &Answer {
                            jid: None,
                            success: ret.retcode == 0,
                            retcode: ret.retcode,
                            ret: ret.value,
                        },
                    );
                }
            }
        }
    }

    /// Sends a return and remembers it until the master acknowledges it.
    fn send_return(&mut self, now: Now, load: Load, tries: u64) {
        let ctr = self.send_load(&load).unwrap_or(0);
        let wait = {
            let lo = self.cfg.return_retry_timer.max(1);
            let hi = self.cfg.return_retry_timer_max.max(lo);
            lo + crypto::random_u32((hi - lo + 1).min(u32::MAX as u64) as u32) as u64
        };
        self.returns.push(PendingReturn {
            load,
            ctr,
            tries: tries + 1,
            due: crate::clock::later(now.mono, Duration::from_secs(wait)),
        });
        self.arm_return_retry();
    }

    fn arm_return_retry(&mut self) {
        match self.returns.iter().map(|p| p.due).min() {
            Some(at) => self.timers.set(Timer::ReturnRetry, at),
            None => self.timers.cancel(Timer::ReturnRetry),
        }
    }

    fn retry_returns(&mut self, now: Now) {
        let (due, keep): (Vec<PendingReturn>, Vec<PendingReturn>) =
            std::mem::take(&mut self.returns)
                .into_iter()
                .partition(|p| p.due <= now.mono);
        self.returns = keep;
        for p in due {
            if p.tries > self.cfg.return_retry_tries {
                log::error!("giving up a job return the master never acknowledged");
                continue;
            }
            log::info!("sending a job return again (try {})", p.tries + 1);
            self.send_return(now, p.load, p.tries);
        }
        self.arm_return_retry();
    }

    /// The io layer wrote the pin file.
    pub fn pin_saved(&mut self) {
        self.pin_on_disk = true;
    }

    /// Remembers the publication key of the session being left.
    fn retire_session(&mut self) {
        if let Phase::Accepted(s) = &self.phase {
            self.holding = true;
            let kid = s.kid;
            if !self.old_kids.contains(&kid) {
                if self.old_kids.len() >= MAX_OLD_KIDS {
                    self.old_kids.pop_front();
                }
                self.old_kids.push_back(kid);
            }
        }
    }

    /// Keeps a publication for the key a re-auth will bring (bounded: past it, dropped).
    fn hold(&mut self, bytes: &[u8]) {
        let held: usize = self.held.iter().map(Vec::len).sum();
        if self.held.len() >= MAX_HELD || held + bytes.len() > MAX_HELD_BYTES {
            self.drops.malformed += 1;
            log::warn!(
                "dropped a publication under a session key this minion does not have yet ({} held)",
                self.held.len()
            );
            return;
        }
        self.held.push_back(bytes.to_vec());
    }

    /// Reads the publications held for the key this session brought, in serial order and
    /// each serial once. They came live while the minion lacked the key, so unlike other
    /// publications they may be older than the session.
    fn read_held(&mut self) {
        self.holding = false;
        let held = std::mem::take(&mut self.held);
        let Phase::Accepted(s) = &mut self.phase else {
            return;
        };
        let mut pubs: Vec<Publication> = held
            .iter()
            .filter_map(|b| proto::decode::<Publication>(b).ok())
            .filter(|p| p.kid == s.kid)
            .collect();
        let other = held.len() - pubs.len();
        if other > 0 {
            self.drops.malformed += other as u64;
            log::warn!("dropped {other} held publications under a key the master did not give");
        }
        pubs.sort_by_key(|p| p.serial);
        pubs.dedup_by_key(|p| p.serial);
        let mut opened = Vec::new();
        for p in &pubs {
            s.last_serial = s.last_serial.max(p.serial);
            match open(&s.key, p) {
                Ok(v) => opened.push(v),
                Err(e) => {
                    self.drops.malformed += 1;
                    log::warn!("{e}");
                }
            }
        }
        if !opened.is_empty() {
            log::info!(
                "read {} publications held until the new session key came",
                opened.len()
            );
        }
        self.actions
            .extend(opened.into_iter().map(Action::Publication));
    }

    /// Handles a publication from the master.
    pub fn on_publication(&mut self, now: Now, bytes: &[u8]) {
        let p: Publication = match proto::decode(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.drops.malformed += 1;
                crate::log_limited!(
                    Warn,
                    "pub:malformed",
                    "dropped a malformed publication: {e}"
                );
                return;
            }
        };
        let Some(master) = self
            .pinned
            .as_deref()
            .and_then(|pem| PublicKey::from_pem(pem).ok())
        else {
            return;
        };
        if !crypto::verify(
            &master.sign_pub,
            &proto::pub_signed_bytes(p.kid, p.serial, &p.data.0),
            &p.sig.0,
        ) {
            self.drops.forged += 1;
            crate::log_limited!(
                Warn,
                "pub:sig",
                "dropped a publication whose signature does not verify"
            );
            return;
        }
        if self.old_kids.contains(&p.kid) {
            self.drops.replayed += 1;
            log::warn!("dropped a publication under an old session key (replayed)");
            return;
        }
        match &self.phase {
            Phase::Accepted(s) if s.kid == p.kid => {}
            // The master rotated its key (or restarted): re-auth, then read this.
            Phase::Accepted(_) => {
                self.hold(bytes);
                if self.timers.get(Timer::Reauth).is_none() {
                    let delay = crypto::random_u32(
                        (self.cfg.random_reauth_delay.min(u32::MAX as u64) as u32)
                            .saturating_mul(1000)
                            .max(1),
                    );
                    log::info!(
                        "the master rotated its session key; re-authenticating in {:.1} s",
                        delay as f64 / 1000.0
                    );
                    self.timers.set(
                        Timer::Reauth,
                        crate::clock::later(now.mono, Duration::from_millis(delay as u64)),
                    );
                }
                return;
            }
            // A re-auth from a session is under way: this is for the key it will bring.
            // (Not before the first acceptance, nor once a re-auth was turned down: jobs
            // from then are not this minion's to run.)
            Phase::Authenticating { .. } if self.holding => {
                self.hold(bytes);
                return;
            }
            _ => return,
        }
        let Phase::Accepted(s) = &mut self.phase else {
            return;
        };
        if p.serial <= s.last_serial {
            self.drops.replayed += 1;
            log::warn!("dropped a replayed publication (serial {})", p.serial);
            return;
        }
        s.last_serial = p.serial;
        match open(&s.key, &p) {
            Ok(v) => self.actions.push_back(Action::Publication(v)),
            Err(e) => {
                self.drops.malformed += 1;
                log::warn!("{e}");
            }
        }
    }

    /// A local client connected to the minion bus.
    pub fn client_opened(&mut self, id: ClientId, pid: i32) {
        if let Some(b) = self.bus.as_mut() {
            b.open(id, pid);
        }
    }

    /// A local client went away.
    pub fn client_closed(&mut self, id: ClientId) {
        if let Some(b) = self.bus.as_mut() {
            b.close(id);
        }
    }

    /// A frame from a local client of the minion bus.
    pub fn client_frame(&mut self, now: Now, id: ClientId, kind: u8, payload: &[u8]) {
        let Some(bus) = self.bus.as_mut() else {
            return;
        };
        let max = self.cfg.max_event_size;
        match bus.handle_frame(id, kind, payload, now.wall, self.default_match, max) {
            Local::Nothing => {}
            Local::Fired(ev) => {
                // Salt's minion forwards what is fired locally under `fire_master`.
                if ev.tag() == "fire_master" {
                    if let Ok(d) = ev.value() {
                        let tag = d.get("tag").and_then(Value::as_str).map(str::to_string);
                        let data = d.get("data").cloned().unwrap_or(Value::Null);
                        if let Some(tag) = tag {
                            self.fire_master(&tag, data);
                        }
                    }
                }
            }
            Local::Request(req) => {
                let mut data = Map::new();
                data.insert("fun".into(), json!(req.fun));
                let mut fun_args = req.arg.clone();
                if !req.kwarg.is_empty() {
                    let mut kw = req.kwarg.clone();
                    kw.insert("__kwarg__".into(), Value::Bool(true));
                    fun_args.push(Value::Object(kw));
                }
                let origin = Origin::Local {
                    client: id,
                    fun: req.fun.clone(),
                    fun_args,
                    send_return: req.send_return,
                };
                self.start_call(now, origin, data, &req.fun, &req.arg, &req.kwarg);
            }
        }
    }

    /// Fires an event on the minion's own bus.
    pub fn fire_local(
        &mut self,
        now: Now,
        tag: &str,
        data: Map<String, Value>,
    ) -> Result<(), String> {
        match self.bus.as_mut() {
            Some(bus) => bus.fire(tag, data, now.wall).map_err(|e| e.to_string()),
            None => Err("this minion has no local bus".into()),
        }
    }

    /// Reads the minion's `reactor:` rules and points its bus at them.
    fn load_reactor(&mut self) {
        let Some(bus) = self.bus.as_mut() else {
            return;
        };
        let (rules, errors) =
            crate::reactor::engine::load_rules(&self.cfg.reactor, &self.cfg.conf_dir, |p| {
                std::fs::read(p).map_err(|e| e.to_string())
            });
        for e in errors {
            log::error!("{e}");
        }
        if rules.is_empty() {
            self.reactor = None;
            bus.set_tap(None);
            return;
        }
        log::info!("reactor: {} rules", rules.len());
        self.render_env_gen += 1;
        let env = crate::reactor::RenderEnv {
            opts: self
                .cfg
                .values()
                .into_iter()
                .filter(|(k, _)| !k.contains("pass") && !k.contains("secret"))
                .collect(),
            grains: self.grains.clone(),
            environ: std::env::vars().collect(),
            ..crate::reactor::RenderEnv::default()
        };
        let engine = crate::reactor::engine::Engine::new(rules, env);
        bus.set_tap(Some(engine.matcher()));
        self.reactor = Some(engine);
    }

    /// True while events wait for the minion's reactor.
    pub fn reactor_busy(&self) -> bool {
        self.bus.as_ref().is_some_and(Bus::has_tapped) || !self.render_out.is_empty()
    }

    /// Runs the minion's reactor over the events its bus kept: caller reactions start as
    /// local calls; errors are logged and fired as `salt/reactor/error` on the minion bus.
    pub fn react(&mut self, now: Now) {
        let Some(bus) = self.bus.as_mut() else {
            return;
        };
        let events = bus.take_tapped(256);
        for crate::bus::Tapped {
            tag, event: raw, ..
        } in events
        {
            let data = match crate::wire::Event::decode(&raw, usize::MAX).and_then(|e| e.value()) {
                Ok(m) => m,
                Err(e) => {
                    log::warn!("reactor: cannot read the data of {tag}: {e}");
                    continue;
                }
            };
            if data.get("user").and_then(Value::as_str) == Some("Reactor") {
                continue;
            }
            let Some(engine) = self.reactor.as_mut() else {
                return;
            };
            if self.render_in_child {
                let mut r = engine.gather(&tag, &data, now.mono, false);
                if r.texts.is_empty() {
                    self.reacted(now, &tag, r);
                    continue;
                }
                self.render_seq += 1;
                self.render_out.push(crate::reactor::RenderJob {
                    seq: self.render_seq,
                    files: std::mem::take(&mut r.texts),
                    tag: tag.clone(),
                    data,
                });
                self.renders.insert(self.render_seq, (tag, r));
                continue;
            }
            let sig = |_: crate::reactor::Kind, fun: &str| modules::find(fun).map(|f| f.params);
            let r = engine.react(&tag, &data, now.mono, &sig, false);
            self.reacted(now, &tag, r);
        }
    }

    /// From now on reactor files are rendered by a renderer process: the loop takes the
    /// jobs with [`Minion::take_renders`] and hands back [`Minion::rendered`].
    pub fn set_renderer(&mut self, on: bool) {
        self.render_in_child = on;
    }

    /// Renders for the renderer process, oldest first.
    pub fn take_renders(&mut self) -> Vec<crate::reactor::RenderJob> {
        std::mem::take(&mut self.render_out)
    }

    /// The render environment and its generation, when the minion has a reactor.
    pub fn render_env(&self) -> Option<(u64, &crate::reactor::RenderEnv)> {
        self.reactor.as_ref().map(|e| (self.render_env_gen, &e.env))
    }

    /// The renderer process answered (or failed) one event's files.
    pub fn rendered(
        &mut self,
        now: Now,
        result: Result<crate::reactor::RenderReply, (u64, String)>,
    ) {
        let (seq, outcome) = match result {
            Ok(reply) => (reply.seq, Ok(reply.compiled)),
            Err((seq, why)) => (seq, Err(why)),
        };
        let Some((tag, mut r)) = self.renders.remove(&seq) else {
            return;
        };
        match outcome {
            Ok(c) => r.compiled = Some(c),
            Err(why) => {
                let file = r
                    .files
                    .first()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                r.missing.push((file.clone(), format!("{file}: {why}")));
            }
        }
        self.reacted(now, &tag, r);
    }

    /// Starts what one event's files compiled to, or reports why they did not.
    fn reacted(&mut self, now: Now, tag: &str, r: crate::reactor::engine::Reacted) {
        let mut errors: Vec<(String, String)> = r.missing.clone();
        if let Some(c) = r.compiled.as_ref() {
            for e in c.file_errors.iter().chain(c.abort.iter()) {
                errors.push((e.file().display().to_string(), e.to_string()));
            }
            for n in c.skipped.iter() {
                log::error!("{}", n.message);
            }
            for n in c.warnings.iter() {
                log::warn!("{}", n.message);
            }
        }
        if !errors.is_empty() {
            for (sls, error) in errors {
                log::error!("Unable to render reactions for event {tag}: {error}");
                if tag == "salt/reactor/error" {
                    continue;
                }
                let mut d = Map::new();
                d.insert("tag".into(), json!(tag));
                d.insert("sls".into(), json!(sls));
                d.insert("error".into(), json!(error));
                let _ = self.fire_local(now, "salt/reactor/error", d);
            }
            return;
        }
        let reactions = r.compiled.map(|c| c.reactions).unwrap_or_default();
        for x in reactions {
            if x.kind() != crate::reactor::Kind::Caller {
                log::warn!(
                    "Reactor '{}': only caller reactions run on a minion; {} skipped",
                    x.id,
                    x.kind().name()
                );
                continue;
            }
            let running = self
                .running
                .values()
                .filter(|r| matches!(r.origin, Origin::Reactor { .. }))
                .count();
            if running >= MAX_CALLER_REACTIONS {
                self.drops.reactions += 1;
                log::error!(
                    "Reactor '{}' failed to execute caller '{}': {MAX_CALLER_REACTIONS} caller reactions are still running ({} dropped so far)",
                    x.id,
                    x.fun,
                    self.drops.reactions
                );
                continue;
            }
            let mut data = Map::new();
            data.insert("fun".into(), json!(x.fun));
            let origin = Origin::Reactor {
                id: x.id.clone(),
                fun: x.fun.clone(),
            };
            self.start_call(now, origin, data, &x.fun, &x.arg, &x.kwarg);
        }
    }

    /// Applies a reloaded configuration (only what can change at run time).
    pub fn reload(&mut self, cfg: MinionConfig) {
        if let Some(bus) = self.bus.as_mut() {
            bus.set_limits(
                cfg.event_listener_buffer,
                Overflow::from_name(&cfg.event_listener_overflow).unwrap_or(Overflow::Drop),
                cfg.max_event_size,
            );
            bus.set_max_subscriptions(cfg.event_listener_max_subscriptions);
        }
        self.default_match =
            MatchType::from_name(&cfg.event_match_type).unwrap_or(MatchType::StartsWith);
        let keep_id = self.cfg.id.clone();
        self.cfg = cfg;
        self.cfg.id = keep_id;
        self.load_reactor();
        log::info!("configuration reloaded");
    }

    /// True in masterless mode, where events for the master stay local (salt-spec §8).
    pub fn masterless(&self) -> bool {
        self.cfg.local
            || (self.cfg.file_client == "local" && !self.cfg.use_master_when_local)
            || self.cfg.master_type == "disable"
    }
}

/// Decrypts a verified publication with its session key.
fn open(key: &SymKey, p: &Publication) -> Result<Value, String> {
    let plain = key
        .decrypt(&proto::pub_aad(p.kid, p.serial), &p.data.0)
        .map_err(|_| "dropped a publication that does not decrypt".to_string())?;
    proto::decode::<Value>(&plain)
        .map_err(|e| format!("dropped a publication with a malformed load: {e}"))
}

impl crate::modules::Host for Minion {
    fn config(&self) -> &MinionConfig {
        Minion::config(self)
    }
    fn fire_local(&mut self, now: Now, tag: &str, data: Map<String, Value>) -> Result<(), String> {
        Minion::fire_local(self, now, tag, data)
    }
    fn fire_master(&mut self, tag: &str, data: Value) {
        Minion::fire_master(self, tag, data)
    }
    fn grains(&self) -> Map<String, Value> {
        Minion::grains(self)
    }
    fn kill_job(&mut self, jid: &str) -> Option<u32> {
        Minion::kill_job(self, jid)
    }
    fn masterless(&self) -> bool {
        Minion::masterless(self)
    }
    fn refresh_grains(&mut self) {
        Minion::refresh_grains(self)
    }
    fn running_jobs(&self) -> Vec<Value> {
        Minion::running_jobs(self)
    }
}
