//! The minion's logic as a state machine without I/O: auth with the master, the session,
//! publications, heartbeats, its own event bus and reactor, and the functions `brine-call`
//! runs.
//!
//! # The loop contract
//!
//! The event loop ([`crate::io::minion_loop`], or `brine-swarm`, which runs many minions in
//! one loop) owns every socket, file and child process; the core owns the decisions. It has
//! the master core's shape ([`crate::master`]): inputs go in through one call, outputs come
//! out as vectors the loop drains, and one deadline says when to wake.
//!
//! - Built with [`Minion::new`], then given what the loop read: [`Minion::set_grains`] and
//!   [`Minion::set_environ`] (host facts), [`Minion::set_reactor_rules`] (its `reactor:`),
//!   then [`Minion::start`] (the first auth request).
//! - Inputs: [`Minion::handle`] with an [`Input`]: a reply or a publication from the master,
//!   a local client's frame, a child process that started or ended, a render, a reactor
//!   file, the pin file, a reload, or [`Input::Tick`] once [`Minion::next_timeout`] passed.
//! - Outputs: [`Minion::take_actions`] (messages to send, files to write, children to start
//!   or kill, the pin file to read, exit), [`Minion::take_renders`] (reactor files for the
//!   renderer process), [`Minion::take_reactor_sources`] (files to read and watch) and the
//!   bytes its [`Minion::bus`] holds for local clients.
//!
//! Each turn the loop: hands over what the sockets, children and renderer brought, then
//! `Tick` if the deadline passed; then feeds reactor files ([`Minion::take_reactor_sources`]
//! and what the file watch saw); then [`Minion::react`]; then carries out
//! [`Minion::take_actions`] (an action's answer, such as [`Input::Pin`], goes straight back
//! in, and its actions are carried out in the same turn); then flushes the bus.

mod auth;
mod jobs;
mod local;
mod master_ask;
pub use master_ask::MASTER_FUN;
mod outbox;
mod react;
mod returns;
mod session;

use crate::bus::{Bus, ClientInput};
use crate::clock::Now;
use crate::clock::Timers;
use crate::config::MinionConfig;
use crate::matcher::MatchType;
use crate::modules::{ChildSpec, Ret};
use crate::pki::KeyPair;
use crate::proto::{self, Load, Reply};
use jobs::Running;
use returns::PendingReturn;
use serde_json::{json, Map, Value};
use session::Phase;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    /// Read the pin file (the master's key differs from the pin): answer with
    /// [`Input::Pin`].
    ReadPin(PathBuf),
    /// Write a running job's record (`cachedir/proc/<jid>`, for `saltutil.running` after a
    /// restart and for Salt's tools); a failure is only logged.
    WriteJobRecord(PathBuf, Vec<u8>),
    /// The job finished: remove its record.
    RemoveJobRecord(PathBuf),
    /// Start-up is over (first authenticated, start event sent): the daemon may drop the
    /// memory only start-up needed.
    Settled,
}

/// Something that happened, handed to the minion core.
#[derive(Debug)]
pub enum Input<'a> {
    /// A message from the master on the request channel (DEALER).
    Reply(&'a [u8]),
    /// A publication from the master (SUB).
    Publication(&'a [u8]),
    /// A verified publication for the job layer (what [`Action::Publication`] carried).
    Job(Value),
    /// A local client of the minion's bus connected, sent a frame, or went away.
    Client(ClientInput<'a>),
    /// Job `key`'s child process started with this pid.
    ChildStarted {
        /// The job's key ([`Action::Spawn`]).
        key: u64,
        /// The child's pid.
        pid: u32,
    },
    /// Job `key`'s child process ended (or could not start).
    ChildDone {
        /// The job's key.
        key: u64,
        /// What it returned.
        result: crate::modules::ChildResult,
    },
    /// The renderer process answered a render job, or the job failed (its number, why).
    Rendered(Result<crate::reactor::RenderReply, (u64, String)>),
    /// A reactor file the loop read.
    ReactorSource(crate::reactor::engine::Source),
    /// The pin file, read for [`Action::ReadPin`].
    Pin(PinFile),
    /// The pin file was written ([`Action::PinMaster`] done).
    PinSaved,
    /// The configuration was re-read (SIGHUP), with the reactor rules it names.
    Reload(Box<Loaded>),
    /// The loop woke for the core's deadline.
    Tick,
}

/// The pin file as the loop found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinFile {
    /// Its text.
    Text(String),
    /// It is not there.
    Missing,
    /// It is there but cannot be read.
    Unreadable,
}

/// What the loop read for a reload: the configuration and the reactor rules it names.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub cfg: MinionConfig,
    /// The reactor's rules, from `reactor:` (inline or its map file).
    pub rules: Vec<crate::reactor::engine::Rule>,
}

/// What a minion core sets deadlines for.
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

/// One minion core: its session with the master, its jobs, bus and reactor, driven by a
/// loop (see the loop contract above).
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
    /// The pillar the master compiled for this minion, kept in memory (`pillar.*` reads it).
    pillar: Map<String, Value>,
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
    /// The reactor's rules changed: the loop must read (and watch) the files they name.
    reactor_sources_changed: bool,
    /// The process environment, for templates (`environ.get`); the loop reads it.
    environ: BTreeMap<String, String>,
    /// An auth reply waiting for the loop to read the pin file.
    awaiting_pin: Option<proto::AuthReply>,
    /// The core's randomness (auth nonces, retry and re-auth jitter).
    rng: crate::crypto::Rng,
    /// Requests sent to the master for someone waiting here, by request counter.
    asks: BTreeMap<u64, master_ask::Asker>,
}

impl Minion {
    /// A minion with this configuration, keys and pinned master key (if it has one). With
    /// `bus` it also runs a local event bus (the daemon does; swarm minions do not).
    pub fn new(cfg: MinionConfig, keys: KeyPair, pinned: Option<String>, bus: bool) -> Minion {
        let bus = bus.then(|| {
            let mut bus = Bus::new(
                crate::bus::limits_of(
                    cfg.event_ring_size,
                    cfg.event_listener_buffer,
                    &cfg.event_listener_overflow,
                    cfg.max_event_size,
                ),
                1,
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
            pillar: Map::new(),
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
            reactor_sources_changed: false,
            environ: BTreeMap::new(),
            awaiting_pin: None,
            asks: BTreeMap::new(),
            rng: crate::crypto::Rng::from_os(),
        }
    }

    /// Draws the core's randomness from this seed from now on: a simulated run replays.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = crate::crypto::Rng::from_seed(seed);
    }

    /// The process environment, for reactor templates (`environ.get`).
    pub fn set_environ(&mut self, environ: BTreeMap<String, String>) {
        self.environ = environ;
        if let Some(r) = self.reactor.as_mut() {
            r.env.environ = self.environ.clone();
            self.render_env_gen += 1;
        }
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Now, input: Input<'_>) {
        match input {
            Input::Reply(bytes) => self.on_reply(now, bytes),
            Input::Publication(bytes) => self.on_publication(now, bytes),
            Input::Job(load) => self.on_job(now, load),
            Input::Client(c) => self.client(now, c),
            Input::ChildStarted { key, pid } => self.child_started(key, pid),
            Input::ChildDone { key, result } => self.child_done(now, key, result),
            Input::Rendered(r) => self.rendered(now, r),
            Input::ReactorSource(s) => {
                if let Some(r) = self.reactor.as_mut() {
                    r.set_source(s);
                }
            }
            Input::Pin(pin) => self.pin_read(now, pin),
            Input::PinSaved => self.pin_saved(),
            Input::Reload(loaded) => self.reload(*loaded),
            Input::Tick => self.tick(now),
        }
    }

    /// Sets the computed grains (the static `grains:` config is merged over them).
    pub fn set_grains(&mut self, computed: Map<String, Value>) {
        self.grains = crate::grains::merge(computed, &self.cfg.grains);
        self.grains.insert("id".into(), json!(self.cfg.id));
        if let Some(r) = self.reactor.as_mut() {
            r.env.grains = self.grains.clone();
            self.render_env_gen += 1;
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

    /// What the loop must do, oldest first.
    pub fn take_actions(&mut self) -> Vec<Action> {
        self.actions.drain(..).collect()
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
    fn tick(&mut self, now: Now) {
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

    /// Handles a message from the request channel.
    fn on_reply(&mut self, now: Now, bytes: &[u8]) {
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
                    Some(r) if self.asks.contains_key(&ctr) => {
                        self.master_answered(ctr, r.ok, r.ret, r.bin.map(|b| b.0));
                    }
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
                    self.asks_lost("refused the session; ask again");
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

    /// The minion's pillar, as the master last sent it (empty until then).
    pub fn pillar(&self) -> &Map<String, Value> {
        &self.pillar
    }

    /// Replaces the in-memory pillar with one the master compiled (`_errors` included).
    pub fn set_pillar(&mut self, pillar: Map<String, Value>) {
        self.pillar = pillar;
    }

    /// Applies a reloaded configuration (only what can change at run time).
    fn reload(&mut self, loaded: Loaded) {
        let Loaded { cfg, rules } = loaded;
        if let Some(bus) = self.bus.as_mut() {
            bus.set_limits(crate::bus::limits_of(
                cfg.event_ring_size,
                cfg.event_listener_buffer,
                &cfg.event_listener_overflow,
                cfg.max_event_size,
            ));
            bus.set_max_subscriptions(cfg.event_listener_max_subscriptions);
        }
        self.default_match =
            MatchType::from_name(&cfg.event_match_type).unwrap_or(MatchType::StartsWith);
        let keep_id = self.cfg.id.clone();
        self.cfg = cfg;
        self.cfg.id = keep_id;
        self.set_reactor_rules(rules);
        log::info!("configuration reloaded");
    }

    /// Asks the master for a fresh pillar (`saltutil.refresh_pillar`).
    pub fn refresh_pillar(&mut self) {
        self.request_pillar();
    }

    /// True in masterless mode, where events for the master stay local (salt-spec §8).
    pub fn masterless(&self) -> bool {
        self.cfg.local
            || (self.cfg.file_client == "local" && !self.cfg.use_master_when_local)
            || self.cfg.master_type == "disable"
    }
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
    fn pillar(&self) -> Map<String, Value> {
        Minion::pillar(self).clone()
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
    fn refresh_pillar(&mut self) {
        Minion::refresh_pillar(self)
    }
}
