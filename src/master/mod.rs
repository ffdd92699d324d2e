//! The master's logic as a state machine without I/O: the bus, auth and sessions with
//! minions, jobs and their returns, the schedule, the queues and the reactor.
//!
//! Nothing here reads the clock, a file or a socket, so tests (`tests/sim.rs`) drive it
//! deterministically, replaying its randomness from a seed ([`Master::reseed`]).
//!
//! # The loop contract
//!
//! The event loop ([`crate::io::master_loop`]) owns the sockets, the files and the
//! processes; the core owns every decision. The minion core ([`crate::minion`]) has the same
//! shape: inputs through one call, outputs as vectors the loop drains, one deadline.
//!
//! - Built with [`Master::new`], then given what the loop read or gathered:
//!   [`Master::set_host`] (grains, environment), [`Master::set_reactor_rules`],
//!   [`Master::set_renderer`], then [`Master::start`]; [`Master::set_store`] once LMDB is
//!   open (after daemonizing).
//! - Inputs: [`Master::handle`] with an [`Input`]: a local client's doing, a message on the
//!   request port, a render, a reactor file, a reload, or [`Input::Tick`] once
//!   [`Master::next_timeout`] has passed.
//! - Outputs: bytes its [`Master::bus`] holds for local clients (the loop flushes them),
//!   [`Master::take_zmq`] (replies and publications), [`Master::take_renders`] (reactor
//!   files for the renderer process) and [`Master::take_reactor_sources`] (files to read and
//!   watch). [`Master::busy`] says the loop must not sleep: work is left for the next turn.
//!
//! Each turn the loop: hands over reactor files that changed; hands over what the sockets
//! and the renderer brought, within a budget per source; `Tick` if the deadline passed;
//! reactor files again (for rules changed this turn); then [`Master::react`] (the events
//! the bus kept for the reactor, and queued reactions); then renders; then
//! [`Master::commit`] (one LMDB commit for the turn, and the replies that waited on it);
//! then sends [`Master::take_zmq`] and flushes the bus.

pub mod auth;
mod event_log;
mod metrics;
mod orchestrate;
pub use event_log::open as open_event_log;
mod publish;
mod react;
mod run;
pub mod schedule;
mod tokens;

use crate::bus::{Bus, ClientId, ClientInput, Local};
use crate::clock::Timers;
use crate::config::MasterConfig;
use crate::jobs::JidGen;
use crate::matcher::MatchType;
use crate::proto;
use crate::runners;
use crate::wire::{self, Event};
use auth::{Auth, Handled};
use serde_json::{json, Map, Value};
use std::time::{Instant, SystemTime};

pub use crate::clock::Now;
pub use react::signatures as reaction_signatures;

/// Something that happened, handed to the core.
#[derive(Debug)]
pub enum Input<'a> {
    /// A local client of the bus connected, sent a frame, or went away.
    Client(ClientInput<'a>),
    /// The configuration was re-read (SIGHUP), with the files it names, read by the I/O
    /// layer.
    Reload(Box<Loaded>),
    /// A reactor file the I/O layer read (its text changed, or it was asked for).
    ReactorSource(crate::reactor::engine::Source),
    /// A message arrived on the request port (ROUTER).
    Request {
        /// The peer's ZeroMQ routing id.
        identity: &'a [u8],
        /// The message.
        payload: &'a [u8],
    },
    /// The loop woke for the core's deadline.
    Tick,
    /// The renderer process answered a render job, or the job failed (its number, why).
    Rendered(Result<crate::reactor::RenderReply, (u64, String)>),
    /// An orchestration's work off the loop finished (the orchestration's number).
    Orchestrated(u64, Box<crate::orchestrate::work::Done>),
}

/// What the I/O layer read for a reload: the configuration and the files it names.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub cfg: MasterConfig,
    /// The auth policy, from the autosign and autoreject files.
    pub policy: crate::pki::AuthPolicy,
    /// The reactor's rules, from `reactor:` (inline or its map file).
    pub rules: Vec<crate::reactor::engine::Rule>,
}

/// What the core wants sent on its ZeroMQ sockets.
#[derive(Debug, PartialEq, Eq)]
pub enum ZOut {
    /// A reply to the peer with this routing id (ROUTER).
    Reply {
        /// The routing id.
        identity: Vec<u8>,
        /// The message.
        payload: Vec<u8>,
    },
    /// A publication to every minion (PUB).
    Publish(Vec<u8>),
}

/// Most jobs `jobs.active` tracks; past it the oldest is forgotten (its returns are still
/// stored and fired when they come).
pub const MAX_ACTIVE_JOBS: usize = 100_000;

/// A job some of whose minions have not returned.
#[derive(Debug)]
struct ActiveJob {
    /// The minions still out.
    minions: Vec<String>,
    /// Past this the job is forgotten: its timeout plus `keep_jobs_seconds`, when the job
    /// cache has forgotten it too.
    forget_at: Instant,
}

/// What the master core sets deadlines for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Timer {
    /// Time for a new session key (`publish_session`).
    Rotate,
    /// The maintenance tick (`loop_interval`): presence.
    Maintenance,
    /// The next run of the schedule's entry at this index.
    Schedule(usize),
    /// The deadline of an orchestration's step (its number).
    Orch(u64),
}

use crate::bus::{Answer, Request};
pub use auth::Deferred;

/// A request for the file-server workers, with the grains its pillar is compiled against.
#[derive(Debug, Clone)]
pub struct FileWork {
    /// The request and where its answer goes.
    pub req: Deferred,
    /// The minion's cached grains (pillar targets match them).
    pub grains: Map<String, Value>,
}

/// The master core: everything the master decides, driven by its loop (see the loop
/// contract above).
pub struct Master {
    cfg: MasterConfig,
    bus: Bus,
    jids: JidGen,
    default_match: MatchType,
    auth: Option<Auth>,
    zout: Vec<ZOut>,
    timers: Timers<Timer>,
    presence_prev: Option<std::collections::BTreeSet<String>>,
    /// Cached grains per minion, for grain targeting.
    grains: std::collections::HashMap<String, Map<String, Value>>,
    /// Jobs whose minions have not all returned: jid -> minions still out, and when to
    /// forget the job if they never do. Jids sort by time, so the first is the oldest.
    running_jobs: std::collections::BTreeMap<String, ActiveJob>,
    store: Option<crate::store::Store>,
    cache: Option<crate::jobs::JobCache>,
    minion_data: Option<crate::store::Table>,
    /// Writes of this loop turn, committed together (group commit).
    batch: crate::store::Batch,
    /// The durable event log, when `event_log` is on.
    event_log: Option<crate::event_log::EventLog>,
    /// Replies that may only leave once the batch is on disk.
    after_commit: Vec<ZOut>,
    /// Requests for files and pillar, for the loop's file-server workers.
    file_work: Vec<FileWork>,
    /// The queue backends.
    queues: crate::queue::Queues,
    /// Queue operations waiting for the turn's commit.
    queue_pending: Vec<run::PendingQueue>,
    /// The master's schedule (`schedule:`).
    schedule: Vec<schedule::Entry>,
    /// The reactor's rules and state.
    reactor: crate::reactor::engine::Engine,
    /// Runner and wheel reactions waiting (at most `reactor_worker_hwm`).
    reactor_work: std::collections::VecDeque<react::Work>,
    /// Reactions dropped because that queue was full.
    reactor_dropped: u64,
    /// Active jobs forgotten because the table was full.
    active_jobs_evicted: u64,
    /// Reactor files go to a renderer process (the daemon's loop has one).
    render_in_child: bool,
    /// Renders for the loop to hand the renderer process.
    render_out: Vec<crate::reactor::RenderJob>,
    /// Events whose renders are out, by job number.
    renders: std::collections::BTreeMap<u64, react::PendingRender>,
    render_seq: u64,
    /// Changes when the render environment does (a reload).
    render_env_gen: u64,
    /// The reactor's rules changed: the loop must read (and watch) the files they name.
    reactor_sources_changed: bool,
    /// The core's randomness (the schedule's splay).
    rng: crate::crypto::Rng,
    /// The orchestrations running (`state.orchestrate`, `state.over`).
    orch: orchestrate::Orchs,
    /// brine-api's eauth tokens (`token.put`, `token.get`, `token.rm`).
    tokens: tokens::Tokens,
    /// What `metrics.master` reports that the core counts itself.
    counters: metrics::Counters,
}

impl Master {
    /// A master with this configuration; without `auth` it serves only its local bus.
    pub fn new(cfg: MasterConfig, mut auth: Option<Auth>) -> Master {
        if let Some(a) = auth.as_mut() {
            a.presence_window = std::time::Duration::from_secs(cfg.presence_timeout.max(1));
        }
        let bus = Bus::new(
            crate::bus::limits_of(
                cfg.event_ring_size,
                cfg.event_listener_buffer,
                &cfg.event_listener_overflow,
                cfg.max_event_size,
            ),
            1,
        );
        let default_match =
            MatchType::from_name(&cfg.event_match_type).unwrap_or(MatchType::StartsWith);
        let sqlite_dir = cfg.sqlite_queue_dir.clone();
        let schedule = schedule::load(&cfg.schedule);
        let reactor = react::engine(&cfg);
        let mut bus = bus;
        bus.set_max_subscriptions(cfg.event_listener_max_subscriptions);
        bus.set_tap(Some(reactor.matcher()));
        Master {
            cfg,
            bus,
            jids: JidGen::new(),
            default_match,
            auth,
            zout: Vec::new(),
            timers: Timers::new(),
            presence_prev: None,
            grains: std::collections::HashMap::new(),
            running_jobs: std::collections::BTreeMap::new(),
            store: None,
            cache: None,
            minion_data: None,
            batch: crate::store::Batch::new(),
            event_log: None,
            after_commit: Vec::new(),
            file_work: Vec::new(),
            queues: crate::queue::Queues::new(sqlite_dir),
            queue_pending: Vec::new(),
            schedule,
            reactor,
            reactor_work: std::collections::VecDeque::new(),
            reactor_dropped: 0,
            active_jobs_evicted: 0,
            render_in_child: false,
            render_out: Vec::new(),
            renders: std::collections::BTreeMap::new(),
            render_seq: 0,
            render_env_gen: 0,
            reactor_sources_changed: false,
            rng: crate::crypto::Rng::from_os(),
            orch: orchestrate::Orchs::default(),
            tokens: tokens::Tokens::default(),
            counters: metrics::Counters::default(),
        }
    }

    /// Draws the core's randomness from this seed from now on, so a simulated run replays
    /// from it (the auth state draws from the next seed).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = crate::crypto::Rng::from_seed(seed);
        if let Some(a) = self.auth.as_mut() {
            a.reseed(seed.wrapping_add(1));
        }
    }

    /// Gives the core the master's LMDB environment (job cache, minion data) and loads
    /// the cached grains.
    pub fn set_store(
        &mut self,
        store: crate::store::Store,
    ) -> Result<(), crate::store::StoreError> {
        let max_record = self
            .cfg
            .max_event_size
            .saturating_mul(2)
            .saturating_add(1 << 16);
        self.cache = Some(crate::jobs::JobCache::open(&store, max_record)?);
        let table = store.table("minion_data")?;
        let cached: Vec<(String, Map<String, Value>)> = store.read(|txn| {
            let mut out = Vec::new();
            for item in table.iter(txn)? {
                let (k, v) = item?;
                match rmp_serde::from_slice::<Map<String, Value>>(v) {
                    Ok(g) => out.push((String::from_utf8_lossy(k).into_owned(), g)),
                    Err(e) => log::warn!("skipped unreadable cached grains: {e}"),
                }
            }
            Ok(out)
        })?;
        self.grains = cached.into_iter().collect();
        self.minion_data = Some(table);
        self.queues.attach_store(&store)?;
        self.tokens.attach(&store)?;
        self.store = Some(store);
        Ok(())
    }

    fn save_load(&mut self, jid: &str, load: &Map<String, Value>) {
        if let Some(cache) = self.cache.as_ref() {
            if let Err(e) = cache.save_load(&mut self.batch, jid, load) {
                log::error!("job cache: cannot save job {jid}: {e}");
            }
        }
    }

    /// True when the return was new (queued for the turn's commit); false when it was
    /// already there. Without a store every return counts as new.
    fn save_return(&mut self, jid: &str, id: &str, load: &Map<String, Value>) -> bool {
        match self.cache.as_ref() {
            Some(cache) => match cache.save_return(&mut self.batch, jid, id, load) {
                Ok(new) => new,
                Err(e) => {
                    log::error!("job cache: cannot save the return of {id} for {jid}: {e}");
                    true
                }
            },
            None => true,
        }
    }

    fn store_grains(&mut self, id: &str, grains: &Map<String, Value>) {
        if let (Some(table), Ok(bytes)) =
            (self.minion_data.as_ref(), rmp_serde::to_vec_named(grains))
        {
            if let Err(e) = self.batch.put(table, id.as_bytes(), bytes) {
                log::error!("cannot cache the grains of {id}: {e}");
            }
        }
    }

    /// The job cache, for runners.
    pub fn job_cache(&self) -> Option<&crate::jobs::JobCache> {
        self.cache.as_ref()
    }

    /// Maintenance work of each `loop_interval`: old jobs leave the cache, and jobs whose
    /// minions never answered leave the active table.
    fn maintenance(&mut self, now: Now) {
        crate::log::flush_limited();
        let before = self.running_jobs.len();
        self.running_jobs.retain(|_, j| j.forget_at > now.mono);
        if self.running_jobs.len() < before {
            log::info!(
                "forgot {} jobs whose minions never returned",
                before - self.running_jobs.len()
            );
        }
        if let Some(cache) = self.cache.as_ref() {
            match cache.clean_old(now.wall, self.cfg.keep_jobs_seconds) {
                Ok(0) => {}
                Ok(n) => log::info!("removed {n} old jobs from the job cache"),
                Err(e) => log::error!("job cache cleanup: {e}"),
            }
        }
    }

    /// Arms the core's timers; the loop calls this once before its first turn.
    pub fn start(&mut self, now: Now) {
        self.counters.started = Some(now.mono);
        self.arm_schedule(now, true);
        if self.auth.is_some() {
            self.timers.set(
                Timer::Rotate,
                crate::clock::later(
                    now.mono,
                    std::time::Duration::from_secs(self.cfg.publish_session.max(1)),
                ),
            );
            self.timers.set(
                Timer::Maintenance,
                crate::clock::later(
                    now.mono,
                    std::time::Duration::from_secs(self.cfg.loop_interval.max(1)),
                ),
            );
        }
    }

    /// Minions with a live session (spoke within `presence_timeout`), sorted.
    pub fn present(&self, now: Now) -> Vec<String> {
        let window = std::time::Duration::from_secs(self.cfg.presence_timeout.max(1));
        let mut v: Vec<String> = match self.auth.as_ref() {
            Some(a) => a
                .connected()
                .filter(|(_, s)| now.mono.saturating_duration_since(s.last_seen) <= window)
                .map(|(id, _)| id.clone())
                .collect(),
            None => Vec::new(),
        };
        v.sort();
        v
    }

    /// Presence (salt-spec §2.6), decided by authenticated sessions and heartbeats: `change`
    /// when the set moved since the last tick (the baseline lives as long as the master
    /// process), `present` every tick.
    fn presence(&mut self, now: Now) {
        let present = self.present(now);
        let current: std::collections::BTreeSet<String> = present.iter().cloned().collect();
        let previous = self.presence_prev.take().unwrap_or_default();
        let new: Vec<&String> = current.difference(&previous).collect();
        let lost: Vec<&String> = previous.difference(&current).collect();
        if self.cfg.presence_events {
            if !new.is_empty() || !lost.is_empty() {
                let mut d = Map::new();
                d.insert("new".into(), json!(new));
                d.insert("lost".into(), json!(lost));
                self.fire("salt/presence/change", d, now);
            }
            let mut d = Map::new();
            d.insert("present".into(), json!(present));
            self.fire("salt/presence/present", d, now);
        }
        self.presence_prev = Some(current);
    }

    /// Requests for the file-server workers, oldest first.
    pub fn take_file_work(&mut self) -> Vec<FileWork> {
        std::mem::take(&mut self.file_work)
    }

    /// A file-server worker's answer to a request: sealed to the session it came on and
    /// sent, unless that session ended meanwhile.
    pub fn file_answered(&mut self, req: &Deferred, ok: bool, ret: Value, bin: Option<Vec<u8>>) {
        let Some(a) = self.auth.as_ref() else {
            return;
        };
        match a.seal_answer(req, ok, ret, bin) {
            Some(payload) => self.zout.push(ZOut::Reply {
                identity: req.identity.clone(),
                payload,
            }),
            None => log::debug!(
                "the session of {} ended before its file request {} was answered",
                req.id,
                req.ctr
            ),
        }
    }

    /// Messages for the ZeroMQ sockets, oldest first.
    pub fn take_zmq(&mut self) -> Vec<ZOut> {
        std::mem::take(&mut self.zout)
    }

    /// The auth state, when the master serves minions.
    pub fn auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }

    /// Seals, signs and queues a publication for every minion.
    pub fn publish(&mut self, load: &Value) {
        if let Some(a) = self.auth.as_mut() {
            let bytes = a.publish(load);
            self.zout.push(ZOut::Publish(bytes));
        }
    }

    fn zmq_request(&mut self, now: Now, identity: &[u8], payload: &[u8]) {
        let Some(a) = self.auth.as_mut() else {
            return;
        };
        match a.handle(identity, payload, now.mono) {
            Handled::Drop => {}
            Handled::Reply(r) => self.zout.push(ZOut::Reply {
                identity: identity.to_vec(),
                payload: r,
            }),
            Handled::Events(events, r) => {
                self.zout.push(ZOut::Reply {
                    identity: identity.to_vec(),
                    payload: r,
                });
                for (tag, data) in events {
                    self.fire(&tag, data, now);
                }
            }
            Handled::Return(id, load, r) => {
                // Acknowledged only once it is on disk: an unacknowledged return comes again.
                self.job_return(now, &id, load);
                self.after_commit.push(ZOut::Reply {
                    identity: identity.to_vec(),
                    payload: r,
                });
            }
            Handled::Deferred(d) => {
                // A pillar request brings the minion's grains: they are what its top.sls
                // targets match, so the cache takes them first.
                if let proto::Load::Pillar {
                    grains: Some(g), ..
                } = &d.load
                {
                    let mut g = g.clone();
                    g.insert("id".into(), json!(d.id));
                    self.cache_grains(now, &d.id.clone(), g);
                }
                let grains = self.grains.get(&d.id).cloned().unwrap_or_default();
                self.file_work.push(FileWork { req: d, grains });
            }
            Handled::Grains(id, grains, r) => {
                self.cache_grains(now, &id, grains);
                self.zout.push(ZOut::Reply {
                    identity: identity.to_vec(),
                    payload: r,
                });
            }
        }
    }

    fn tick(&mut self, now: Now) {
        self.sync_event_log(now);
        while let Some(t) = self.timers.pop_expired(now.mono) {
            match t {
                Timer::Maintenance => {
                    self.presence(now);
                    self.maintenance(now);
                    self.sweep_tokens(now);
                    if let Some(a) = self.auth.as_mut() {
                        a.prune(now.mono);
                    }
                    self.timers.set(
                        Timer::Maintenance,
                        crate::clock::later(
                            now.mono,
                            std::time::Duration::from_secs(self.cfg.loop_interval.max(1)),
                        ),
                    );
                }
                Timer::Schedule(i) => self.run_scheduled(now, i),
                Timer::Orch(id) => self.orch_timer(id, now),
                Timer::Rotate => {
                    if let Some(a) = self.auth.as_mut() {
                        a.rotate("publish_session elapsed");
                    }
                    self.timers.set(
                        Timer::Rotate,
                        crate::clock::later(
                            now.mono,
                            std::time::Duration::from_secs(self.cfg.publish_session.max(1)),
                        ),
                    );
                }
            }
        }
    }

    /// Sets a timer for every schedule entry; at start, `run_on_start` entries run at once.
    fn arm_schedule(&mut self, now: Now, starting: bool) {
        for (i, e) in self.schedule.iter().enumerate() {
            let at = if starting && e.run_on_start {
                Some(now.mono)
            } else {
                now.mono.checked_add(schedule::next_delay(e, &mut self.rng))
            };
            match at {
                Some(at) => self.timers.set(Timer::Schedule(i), at),
                None => log::error!(
                    "schedule entry {}: its next run is beyond the clock",
                    e.name
                ),
            }
        }
        if !self.schedule.is_empty() {
            log::info!("schedule: {} entries", self.schedule.len());
        }
    }

    /// Runs a schedule entry and sets its next run.
    fn run_scheduled(&mut self, now: Now, i: usize) {
        let Some(e) = self.schedule.get(i).cloned() else {
            return;
        };
        log::debug!("schedule: running {} ({})", e.name, e.function);
        self.run_internal(now, &e.function, e.args, e.kwargs, "Schedule");
        if let Some(at) = self
            .schedule
            .get(i)
            .and_then(|e| now.mono.checked_add(schedule::next_delay(e, &mut self.rng)))
        {
            self.timers.set(Timer::Schedule(i), at);
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &MasterConfig {
        &self.cfg
    }

    /// The bus, for the loop to flush.
    pub fn bus(&mut self) -> &mut Bus {
        &mut self.bus
    }

    /// Frames refused so far (malformed, oversize, unknown).
    pub fn refused(&self) -> u64 {
        self.bus.refused()
    }

    /// The earliest deadline the core wants to be woken for.
    pub fn next_timeout(&self) -> Option<Instant> {
        let log = self.event_log.as_ref().and_then(|l| l.next_deadline());
        self.timers.next_deadline().into_iter().chain(log).min()
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Now, input: Input<'_>) {
        match input {
            Input::Client(ClientInput::Opened { id, pid }) => self.bus.open(id, pid),
            Input::Client(ClientInput::Closed { id }) => {
                self.forget_client(id);
                self.orch_forget_client(id);
                self.forget_dry_client(id);
                self.bus.close(id)
            }
            Input::Client(ClientInput::Frame { id, kind, payload }) => {
                self.frame(now, id, kind, payload)
            }
            Input::Client(ClientInput::Oversize { id, size }) => self.refuse(
                id,
                &format!(
                    "frame of {size} bytes is over max_event_size {}",
                    self.cfg.max_event_size
                ),
            ),
            Input::Client(ClientInput::Empty { id }) => self.refuse(id, "empty frame"),
            Input::Reload(loaded) => self.reload(now, *loaded),
            Input::ReactorSource(source) => self.reactor.set_source(source),
            Input::Request { identity, payload } => self.zmq_request(now, identity, payload),
            Input::Tick => self.tick(now),
            Input::Rendered(r) => self.rendered(now, r),
            Input::Orchestrated(key, done) => self.orchestration_work_done(now, key, *done),
        }
    }

    fn reload(&mut self, now: Now, loaded: Loaded) {
        let Loaded { cfg, policy, rules } = loaded;
        if cfg.sock_dir != self.cfg.sock_dir {
            log::warn!("sock_dir changed: the new path takes effect at the next restart");
        }
        if cfg.event_log != self.cfg.event_log || cfg.event_log_dir != self.cfg.event_log_dir {
            log::warn!("event_log or event_log_dir changed: it takes effect at the next restart");
        }
        self.bus.set_limits(crate::bus::limits_of(
            cfg.event_ring_size,
            cfg.event_listener_buffer,
            &cfg.event_listener_overflow,
            cfg.max_event_size,
        ));
        self.bus
            .set_max_subscriptions(cfg.event_listener_max_subscriptions);
        self.default_match =
            MatchType::from_name(&cfg.event_match_type).unwrap_or(MatchType::StartsWith);
        if let Some(a) = self.auth.as_mut() {
            a.set_policy(policy, cfg.auth_events);
            a.presence_window = std::time::Duration::from_secs(cfg.presence_timeout.max(1));
        }
        // Paths and ports are bound once: keep the ones in use until a restart.
        let (sock_dir, pki_dir) = (self.cfg.sock_dir.clone(), self.cfg.pki_dir.clone());
        let (interface, pp, rp) = (
            self.cfg.interface.clone(),
            self.cfg.publish_port,
            self.cfg.ret_port,
        );
        self.cfg = cfg;
        self.cfg.sock_dir = sock_dir;
        self.cfg.pki_dir = pki_dir;
        self.cfg.interface = interface;
        self.cfg.publish_port = pp;
        self.cfg.ret_port = rp;
        self.queues
            .set_sqlite_dir(self.cfg.sqlite_queue_dir.clone());
        // An entry that did not change keeps its next run: a daily job on a master that is
        // reloaded daily must still run.
        let before: Vec<(schedule::Entry, Option<Instant>)> = self
            .schedule
            .iter()
            .enumerate()
            .map(|(i, e)| (e.clone(), self.timers.get(Timer::Schedule(i))))
            .collect();
        for i in 0..self.schedule.len() {
            self.timers.cancel(Timer::Schedule(i));
        }
        self.schedule = schedule::load(&self.cfg.schedule);
        self.arm_schedule(now, false);
        for (i, e) in self.schedule.iter().enumerate() {
            if let Some((_, Some(at))) = before.iter().find(|(old, _)| old == e) {
                self.timers.set(Timer::Schedule(i), *at);
            }
        }
        self.reload_reactor(rules);
        log::info!("configuration reloaded");
    }

    fn refuse(&mut self, id: ClientId, why: &str) {
        self.bus.refuse(id, why);
    }

    fn frame(&mut self, now: Now, id: ClientId, k: u8, payload: &[u8]) {
        let local = self.bus.handle_frame(
            id,
            k,
            payload,
            now.wall,
            self.default_match,
            self.cfg.max_event_size,
        );
        if let Local::Request(req) = local {
            if let Some(answer) = self.call(now, req, Some(id)) {
                self.answer_in_order(id, answer);
            }
        }
    }

    /// A wheel call from a client (`brine-run wheel.key.accept match=m1`, brine-key).
    pub(crate) fn wheel(&mut self, now: Now, fun: &str, req: &Request) -> Answer {
        let user = req.user.clone().unwrap_or_else(|| "UNKNOWN".into());
        self.wheel_call(now, fun, req.arg.clone(), req.kwarg.clone(), &user)
    }

    /// Runs a wheel function with Salt's `salt/wheel/<jid>/new` and `.../ret` events.
    pub(crate) fn wheel_call(
        &mut self,
        now: Now,
        fun: &str,
        arg: Vec<Value>,
        kwarg: Map<String, Value>,
        user: &str,
    ) -> Answer {
        let known = crate::wheel::params(fun).is_some();
        if !known {
            return Answer {
                jid: None,
                ret: Value::String(runners::not_available(&format!("wheel.{fun}"))),
                success: false,
                retcode: 1,
            };
        }
        let jid = self.jids.next(now.wall);
        let mut load = Map::new();
        load.insert("fun".into(), json!(format!("wheel.{fun}")));
        load.insert("jid".into(), json!(jid));
        load.insert("user".into(), json!(user));
        load.insert("fun_args".into(), runners::fun_args(&arg, &kwarg));
        self.fire(&format!("salt/wheel/{jid}/new"), load.clone(), now);
        let (ret, success) = match self.wheel_inner(now, fun, &arg, &kwarg) {
            Ok(ret) => (ret, true),
            Err(e) => (Value::String(e), false),
        };
        // A generated private key goes to the caller only, never onto the bus (Salt's ret
        // event carries it for every listener to read).
        let mut shown = ret.clone();
        if fun == "key.gen" || fun == "key.gen_accept" {
            if let Value::Object(m) = &mut shown {
                m.remove("priv");
            }
        }
        load.insert("return".into(), shown);
        load.insert("success".into(), json!(success));
        self.fire(&format!("salt/wheel/{jid}/ret"), load, now);
        Answer {
            jid: Some(jid),
            ret,
            success,
            retcode: if success { 0 } else { 1 },
        }
    }

    /// The wheel functions: `key.*` move keys in the store (firing `salt/key` for each, and a
    /// rejected or deleted minion loses its session and the session key is rotated so it can
    /// no longer read publications); `minions.connected` and `config.values` read the master.
    fn wheel_inner(
        &mut self,
        now: Now,
        fun: &str,
        arg: &[Value],
        kwarg: &Map<String, Value>,
    ) -> Result<Value, String> {
        match fun {
            "minions.connected" => return Ok(json!(self.present(now))),
            "config.values" => return Ok(Value::Object(react::public_opts(&self.cfg))),
            _ => {}
        }
        let Some(a) = self.auth.as_mut() else {
            return Err(format!("'wheel.{fun}' needs the master's key store"));
        };
        let Some(result) = crate::wheel::key::call(a.store(), fun, arg, kwarg) else {
            return Err(runners::not_available(&format!("wheel.{fun}")));
        };
        let (ret, events) =
            result.map_err(|e| format!("Exception occurred in wheel {fun}: {e}"))?;
        let mut rotate = false;
        for ev in &events {
            match ev.act {
                "reject" | "delete" => {
                    a.drop_session(&ev.id);
                    rotate = true;
                }
                // Accepting a denied key replaces the accepted one: whoever holds the old
                // key loses its session and, with the rotation, the publication key.
                "accept" => rotate |= a.drop_session(&ev.id),
                _ => {}
            }
        }
        if rotate && self.cfg.rotate_aes_key {
            a.rotate("a minion key was rejected, deleted or replaced");
        }
        for ev in events {
            let mut data = Map::new();
            data.insert("id".into(), json!(ev.id));
            data.insert("act".into(), json!(ev.act));
            data.insert("result".into(), json!(true));
            self.fire("salt/key", data, now);
        }
        Ok(ret)
    }

    /// Fires an event of the master's own; a failure (only an unencodable tag) is logged.
    pub fn fire(&mut self, tag: &str, data: Map<String, Value>, now: Now) {
        if let Err(e) = self.bus.fire(tag, data, now.wall) {
            log::error!("cannot fire {tag:?}: {e}");
        }
    }
}

struct RunCtx<'a> {
    master: &'a mut Master,
    now: Now,
    /// The user the runner job runs for; wheel calls it makes are recorded as theirs.
    user: String,
}

impl runners::jobs::JobsContext for RunCtx<'_> {
    fn job_cache(&self) -> Option<&crate::jobs::JobCache> {
        self.master.cache.as_ref()
    }

    fn active_jobs(&self) -> Vec<runners::jobs::ActiveJob> {
        let Some(cache) = self.master.cache.as_ref() else {
            return Vec::new();
        };
        self.master
            .running_jobs
            .iter()
            .map(|(jid, job)| runners::jobs::ActiveJob {
                jid: jid.clone(),
                load: cache.load(jid).ok().flatten().unwrap_or_default(),
                running: job.minions.iter().map(|m| (m.clone(), None)).collect(),
            })
            .collect()
    }
}

impl runners::Context for RunCtx<'_> {
    fn now(&self) -> SystemTime {
        self.now.wall
    }

    fn minions(&self) -> runners::Minions {
        let accepted = match self.master.auth.as_ref() {
            Some(a) => a
                .store()
                .list(crate::pki::KeyState::Accepted)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        runners::Minions {
            accepted,
            present: self.master.present(self.now),
        }
    }

    fn wheel(&mut self, fun: &str, kwarg: Map<String, Value>) -> Result<Value, String> {
        let req = Request {
            fun: format!("wheel.{fun}"),
            arg: Vec::new(),
            kwarg,
            user: Some(self.user.clone()),
            send_return: false,
        };
        let a = self.master.wheel(self.now, fun, &req);
        if a.success {
            Ok(a.ret)
        } else {
            Err(crate::py::python_str(&a.ret))
        }
    }

    fn reactor_list(&self) -> Value {
        self.master.reactor.list()
    }

    fn reactor_add(&mut self, tag: &str, sls: Vec<String>) -> Value {
        let r = self.master.reactor.add(tag, sls);
        self.master.reactor_rules_changed();
        r
    }

    fn reactor_delete(&mut self, tag: &str) -> Value {
        let r = self.master.reactor.delete(tag);
        self.master.reactor_rules_changed();
        r
    }

    fn reactor_test(&mut self, tag: &str, data: Map<String, Value>) -> Value {
        self.master.reactor_test(self.now, tag, data)
    }

    fn metrics(&self) -> runners::metrics::MasterStats {
        self.master.metrics(self.now)
    }

    fn fire(&mut self, tag: &str, data: Map<String, Value>) -> Result<(), String> {
        if tag.is_empty() {
            return Err("Empty tag.".into());
        }
        self.master
            .bus
            .fire(tag, data, self.now.wall)
            .map_err(|e| e.to_string())
    }
}

/// Checks a fired payload the way the master will, for clients that want to fail early.
pub fn check_event(payload: &[u8], max: usize) -> Result<(), wire::WireError> {
    Event::decode(payload, max).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::subscribe_payload;
    use crate::wire::{self, kind, FrameReader, Next};
    use std::path::Path;

    fn master() -> Master {
        Master::new(MasterConfig::defaults(Path::new("/nonexistent")), None)
    }

    fn frames(m: &mut Master, id: ClientId) -> Vec<(u8, Vec<u8>)> {
        let mut r = FrameReader::new(1 << 22);
        r.extend(&m.bus().take_output(id, SystemTime::now()));
        let mut out = Vec::new();
        while let Some(Next::Frame(k, p)) = r.next_frame() {
            // Events come with their sequence number first; these tests look at the event.
            match k {
                kind::SEQ_EVENT => out.push((kind::EVENT, wire::split_seq(p).unwrap().1.to_vec())),
                _ => out.push((k, p.to_vec())),
            }
        }
        out
    }

    fn tags(fr: &[(u8, Vec<u8>)]) -> Vec<String> {
        fr.iter()
            .filter(|(k, _)| *k == kind::EVENT)
            .map(|(_, p)| Event::decode(p, 1 << 22).unwrap().tag().to_string())
            .collect()
    }

    #[test]
    fn event_send_fires_new_event_ret_in_order() {
        let mut m = master();
        let now = Now::read();
        m.handle(now, Input::Client(ClientInput::Opened { id: 1, pid: 1 }));
        m.handle(now, Input::Client(ClientInput::Opened { id: 2, pid: 2 }));
        let sub = subscribe_payload(MatchType::StartsWith, "");
        m.handle(
            now,
            Input::Client(ClientInput::Frame {
                id: 1,
                kind: kind::SUBSCRIBE,
                payload: &sub,
            }),
        );
        let req = rmp_serde::to_vec_named(&Request {
            fun: "event.send".into(),
            arg: vec![json!("myco/x"), json!({"a": 1})],
            kwarg: Map::new(),
            user: Some("root".into()),
            send_return: false,
        })
        .unwrap();
        m.handle(
            now,
            Input::Client(ClientInput::Frame {
                id: 2,
                kind: kind::REQUEST,
                payload: &req,
            }),
        );
        let got = frames(&mut m, 1);
        let t = tags(&got);
        assert_eq!(t.len(), 3);
        assert!(t[0].starts_with("salt/run/") && t[0].ends_with("/new"));
        assert_eq!(t[1], "myco/x");
        assert!(t[2].ends_with("/ret"));
        let data = Event::decode(&got[1].1, 1 << 20).unwrap().value().unwrap();
        assert_eq!(data["a"], 1, "master-side events are not wrapped");
        let ret = Event::decode(&got[2].1, 1 << 20).unwrap().value().unwrap();
        assert_eq!(ret["fun"], "runner.event.send");
        assert_eq!(ret["fun_args"], json!(["myco/x", {"a": 1}]));
        assert_eq!(ret["return"], true);
        assert_eq!(ret["user"], "root");
        let answer = frames(&mut m, 2);
        assert_eq!(answer[0].0, kind::ANSWER);
        let a: Answer = rmp_serde::from_slice(&answer[0].1).unwrap();
        assert!(a.success);
        assert_eq!(a.ret, json!(true));
    }

    #[test]
    fn unknown_function_and_garbage_are_refused_not_fatal() {
        let mut m = master();
        let now = Now::read();
        m.handle(now, Input::Client(ClientInput::Opened { id: 1, pid: 1 }));
        let req = rmp_serde::to_vec_named(&Request {
            fun: "foo.bar".into(),
            arg: vec![],
            kwarg: Map::new(),
            user: None,
            send_return: false,
        })
        .unwrap();
        m.handle(
            now,
            Input::Client(ClientInput::Frame {
                id: 1,
                kind: kind::REQUEST,
                payload: &req,
            }),
        );
        m.handle(
            now,
            Input::Client(ClientInput::Frame {
                id: 1,
                kind: kind::REQUEST,
                payload: b"\xc1garbage",
            }),
        );
        m.handle(
            now,
            Input::Client(ClientInput::Frame {
                id: 1,
                kind: kind::FIRE,
                payload: b"tag only",
            }),
        );
        m.handle(
            now,
            Input::Client(ClientInput::Frame {
                id: 1,
                kind: b'?',
                payload: b"",
            }),
        );
        m.handle(
            now,
            Input::Client(ClientInput::Oversize {
                id: 1,
                size: 5 << 20,
            }),
        );
        let got = frames(&mut m, 1);
        let a: Answer = rmp_serde::from_slice(&got[0].1).unwrap();
        assert_eq!(a.ret, json!("'foo.bar' is not available."));
        assert_eq!(a.retcode, 1);
        let errors: Vec<String> = got[1..]
            .iter()
            .map(|(k, p)| {
                assert_eq!(*k, kind::ERROR);
                String::from_utf8_lossy(p).into_owned()
            })
            .collect();
        assert_eq!(errors.len(), 4);
        assert!(errors[0].starts_with("bad request"));
        assert!(errors[1].contains("no \"\\n\\n\""));
        assert!(errors[2].contains("unknown frame kind"));
        assert!(errors[3].contains("over max_event_size"));
        assert_eq!(m.refused(), 4);
    }
}
