//! The minion's event loop. One loop drives one minion (`brine-minion`, with its local
//! bus) or many (`brine-swarm`, each a full minion on the wire with its own keys and
//! sockets, none with a local bus).

use super::children::Children;
use super::local::LocalServer;
use super::reactor_files::{self, ReactorFiles};
use super::renderer::{Done, Renderer};
use super::signals::{SignalAction, Signals};
use super::zsock::{ZContext, ZError, ZKind, ZSocket};
use crate::bus::ClientInput;
use crate::clock::Now;
use crate::config::MinionConfig;
use crate::minion::{Action, Input, Loaded, Minion, PinFile};
use crate::modules::ChildResult;
use crate::pki::{self, KeyPair};
use mio::{Events, Poll, Token};
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const RENDER_OUT: Token = Token(2);
const RENDER_IN: Token = Token(3);
const REACTOR_FILES: Token = Token(4);

/// Time from settling (authenticated, start event fired) to unmapping start-up's pages, so
/// that start-up's last work is not faulted straight back in.
const RELEASE_DELAY: Duration = Duration::from_secs(2);

/// Tokens of minion sockets start past every local client token.
const SLOT_BASE: usize = super::local::LAST_CLIENT;

/// Tokens of child processes start here.
const CHILD_BASE: usize = 1 << 50;

/// Messages taken from one socket per turn before the others get their go.
const ZMQ_BUDGET: usize = 256;

/// How many minions share one ZeroMQ context (libzmq caps sockets per context).
const MINIONS_PER_CONTEXT: usize = 400;

/// Why a minion loop stopped or could not start.
#[derive(Debug)]
pub enum MinionError {
    /// A system call failed.
    Io(&'static str, io::Error),
    /// A ZeroMQ socket could not be set up.
    Zmq(ZError),
    /// Keys could not be read or made.
    Pki(pki::PkiError),
    /// The bus socket could not be bound.
    Ipc(super::ipc::IpcError),
}

impl std::fmt::Display for MinionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MinionError::Io(what, e) => write!(f, "{what}: {e}"),
            MinionError::Zmq(e) => write!(f, "{e}"),
            MinionError::Pki(e) => write!(f, "{e}"),
            MinionError::Ipc(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MinionError {}

struct Slot {
    core: Minion,
    dealer: ZSocket,
    sub: ZSocket,
}

/// Re-reads the configuration on SIGHUP.
pub type Reloader = Box<dyn FnMut() -> Result<MinionConfig, String>>;

/// One event loop driving one or more minions.
pub struct MinionLoop {
    poll: Poll,
    signals: Signals,
    local: Option<LocalServer>,
    contexts: Vec<ZContext>,
    slots: Vec<Slot>,
    reload: Option<Reloader>,
    exit: Option<i32>,
    /// Swarm minions that stopped (their key was refused).
    exited: usize,
    /// When to hand start-up pages back to the kernel (a while after start-up, once the
    /// pages it faulted in have settled where the kernel can reclaim them).
    release_at: Option<Instant>,
    children: Children,
    /// Child key -> (minion slot, that minion's job key).
    child_owner: HashMap<u64, (usize, u64)>,
    next_child: u64,
    /// The reactor's renderer process, for the minion with a bus (started with its first
    /// job, so an idle minion has none).
    renderer: Option<Renderer>,
    /// The reactor's files, for the minion with a bus.
    reactor_files: Option<ReactorFiles>,
}

/// The host part of a `master` setting, bracketed for IPv6.
fn master_host(master: &str) -> String {
    if master.contains(':') && !master.starts_with('[') {
        format!("[{master}]")
    } else {
        master.to_string()
    }
}

/// The master key this minion pinned, if any.
pub fn read_pin(pki_dir: &Path) -> Option<String> {
    std::fs::read_to_string(pki_dir.join("minion_master.pub")).ok()
}

impl MinionLoop {
    /// An empty loop with signal handling.
    pub fn new() -> Result<MinionLoop, MinionError> {
        let poll = Poll::new().map_err(|e| MinionError::Io("create poll", e))?;
        let signals = Signals::register(poll.registry(), SIGNALS)
            .map_err(|e| MinionError::Io("install signal handlers", e))?;
        Ok(MinionLoop {
            poll,
            signals,
            local: None,
            contexts: Vec::new(),
            slots: Vec::new(),
            reload: None,
            exit: None,
            exited: 0,
            release_at: None,
            children: Children::new(CHILD_BASE),
            child_owner: HashMap::new(),
            next_child: 1,
            renderer: None,
            reactor_files: None,
        })
    }

    /// Serves a local bus at `sock_dir/minion_event.ipc` for the first minion.
    pub fn serve_bus(
        &mut self,
        sock_dir: &Path,
        max_event_size: usize,
        reload: Reloader,
    ) -> Result<(), MinionError> {
        let path = crate::client::minion_socket(sock_dir);
        let local = LocalServer::bind(&path, self.poll.registry(), LISTENER, max_event_size)
            .map_err(MinionError::Ipc)?;
        log::info!("minion event bus listening on {}", path.display());
        self.local = Some(local);
        self.reload = Some(reload);
        Ok(())
    }

    /// Adds a minion: its DEALER and SUB connect to the master (libzmq reconnects with
    /// backoff on its own when the master goes away).
    pub fn add(&mut self, cfg: MinionConfig, keys: KeyPair, bus: bool) -> Result<(), MinionError> {
        let i = self.slots.len();
        if i.is_multiple_of(MINIONS_PER_CONTEXT) {
            self.contexts.push(ZContext::new());
        }
        let ctx = &self.contexts[i / MINIONS_PER_CONTEXT];
        let mut dealer = ZSocket::new(ctx, ZKind::Dealer).map_err(MinionError::Zmq)?;
        let mut sub = ZSocket::new(ctx, ZKind::Sub).map_err(MinionError::Zmq)?;
        for s in [&dealer, &sub] {
            s.set_reconnect(100, 5000).map_err(MinionError::Zmq)?;
            s.set_hwm(10_000).map_err(MinionError::Zmq)?;
        }
        let host = master_host(&cfg.master);
        dealer
            .connect(&format!("tcp://{host}:{}", cfg.master_port))
            .map_err(MinionError::Zmq)?;
        sub.connect(&format!("tcp://{host}:{}", cfg.publish_port))
            .map_err(MinionError::Zmq)?;
        dealer
            .register(self.poll.registry(), Token(SLOT_BASE + 2 * i))
            .map_err(MinionError::Zmq)?;
        sub.register(self.poll.registry(), Token(SLOT_BASE + 2 * i + 1))
            .map_err(MinionError::Zmq)?;
        let pin = read_pin(&cfg.pki_dir);
        let grains = if bus {
            crate::grains::compute(&cfg.id)
        } else {
            // Swarm minions share the host: compute once per process, change the id.
            self.shared_grains(&cfg.id)
        };
        if bus && self.renderer.is_none() {
            self.renderer = Some(Renderer::new(
                RENDER_OUT,
                RENDER_IN,
                crate::clock::seconds(cfg.reactor_render_timeout as f64),
                cfg.reactor_render_memory.saturating_mul(1 << 20),
            ));
        }
        let mut core = Minion::new(cfg, keys, pin, bus);
        core.set_renderer(bus);
        core.set_grains(grains);
        if bus {
            core.set_environ(std::env::vars().collect());
            let rules = reactor_files::read_rules(&core.config().reactor, &core.config().conf_dir);
            core.set_reactor_rules(rules);
            if self.reactor_files.is_none() {
                self.reactor_files = Some(ReactorFiles::new(self.poll.registry(), REACTOR_FILES));
            }
        }
        clear_job_records(&core.proc_dir());
        core.start(Now::read());
        self.slots.push(Slot { core, dealer, sub });
        Ok(())
    }

    fn shared_grains(&mut self, id: &str) -> serde_json::Map<String, serde_json::Value> {
        let mut g = match self.slots.first() {
            Some(s) => s.core.grains(),
            None => crate::grains::compute(id),
        };
        g.insert("id".into(), serde_json::Value::String(id.to_string()));
        g
    }

    /// Number of minions in this loop.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the loop drives no minion.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Runs until SIGTERM/SIGINT (exit 0) or a minion must stop (its status).
    pub fn run(mut self) -> Result<i32, MinionError> {
        let mut events = Events::with_capacity(1024);
        let status = loop {
            self.do_actions();
            if let Some(code) = self.exit {
                break code;
            }
            let now = Instant::now();
            let mut timeout = self
                .slots
                .iter()
                .filter_map(|s| s.core.next_timeout())
                .min()
                .map(|at| at.saturating_duration_since(now));
            if let Some(d) = self.children.next_deadline() {
                let left = d.saturating_duration_since(now);
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            if let Some(d) = self.renderer.as_ref().and_then(|r| r.next_deadline()) {
                let left = d.saturating_duration_since(now);
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            if let Some(d) = self.local.as_ref().and_then(|l| l.next_deadline()) {
                let left = d.saturating_duration_since(now);
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            if let Some(d) = self.release_at {
                let left = d.saturating_duration_since(now);
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            if !self.children.is_empty() {
                // Without a pidfd an exit is only seen by looking.
                let cap = Duration::from_millis(100);
                timeout = Some(timeout.map_or(cap, |t| t.min(cap)));
            }
            let busy = self.local.as_ref().is_some_and(|l| l.has_ready())
                || self.slots.iter().any(|s| s.core.reactor_busy())
                || self
                    .slots
                    .iter()
                    .any(|s| s.dealer.readable() || s.sub.readable());
            if busy {
                timeout = Some(Duration::ZERO);
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(MinionError::Io("poll", e));
            }
            // Before any input: a reactor file written before an event was sent is read
            // before it is handled.
            self.feed_reactor_files();
            let mut shutdown = false;
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    REACTOR_FILES => {
                        if let Some(f) = self.reactor_files.as_mut() {
                            f.on_ready();
                        }
                    }
                    SIGNALS => {
                        for s in self.signals.pending() {
                            match s {
                                SignalAction::Shutdown => shutdown = true,
                                SignalAction::Reload => self.reload(),
                            }
                        }
                    }
                    t if self.renderer.as_ref().is_some_and(|r| r.owns(t)) => {
                        let done = match self.renderer.as_mut() {
                            Some(r) => r.on_event(self.poll.registry(), t),
                            None => Vec::new(),
                        };
                        self.rendered(done);
                    }
                    Token(t) if t >= CHILD_BASE => {
                        let done = self.children.on_event(self.poll.registry(), Token(t));
                        self.children_done(done);
                    }
                    Token(t) if t >= SLOT_BASE => {
                        let i = (t - SLOT_BASE) / 2;
                        if let Some(slot) = self.slots.get_mut(i) {
                            // A wake-up only says "look at ZMQ_EVENTS".
                            slot.dealer.refresh();
                            slot.sub.refresh();
                        }
                    }
                    Token(id) => {
                        let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
                        self.client_event(id, readable, ev.is_writable());
                    }
                }
            }
            self.drain_zmq();
            self.read_clients();
            let now = Now::read();
            self.children.check_deadlines(now.mono);
            if !self.children.is_empty() {
                let done = self.children.poll_all(self.poll.registry());
                self.children_done(done);
            }
            for slot in &mut self.slots {
                if slot.core.next_timeout().is_some_and(|at| at <= now.mono) {
                    slot.core.handle(now, Input::Tick);
                }
            }
            self.feed_reactor_files();
            for slot in &mut self.slots {
                slot.core.react(now);
            }
            self.render();
            self.do_actions();
            self.flush_clients();
            if self.release_at.is_some_and(|at| at <= Instant::now()) {
                self.release_at = None;
                let kib = crate::io::process::release_startup_pages();
                log::debug!("unmapped start-up pages of {kib} KiB of read-only file mappings");
            }
            if shutdown {
                log::info!("shutting down");
                break 0;
            }
        };
        self.shutdown();
        Ok(status)
    }

    fn drain_zmq(&mut self) {
        let now = Now::read();
        for slot in &mut self.slots {
            for _ in 0..ZMQ_BUDGET {
                if !slot.dealer.readable() {
                    break;
                }
                match slot.dealer.recv() {
                    Ok(Some(parts)) => {
                        if let [payload] = &parts[..] {
                            slot.core.handle(now, Input::Reply(payload));
                        } else {
                            crate::log_limited!(
                                Warn,
                                "dealer:parts",
                                "dropped a reply of {} parts",
                                parts.len()
                            );
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        crate::log_limited!(Warn, "dealer:recv", "request channel: {e}");
                        break;
                    }
                }
            }
            for _ in 0..ZMQ_BUDGET {
                if !slot.sub.readable() {
                    break;
                }
                match slot.sub.recv() {
                    Ok(Some(parts)) => {
                        if let [payload] = &parts[..] {
                            slot.core.handle(now, Input::Publication(payload));
                        } else {
                            crate::log_limited!(
                                Warn,
                                "sub:parts",
                                "dropped a publication of {} parts",
                                parts.len()
                            );
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        crate::log_limited!(Warn, "sub:recv", "publish channel: {e}");
                        break;
                    }
                }
            }
        }
    }

    fn children_done(&mut self, done: Vec<(u64, ChildResult)>) {
        let now = Now::read();
        // The last child of a burst (a state run) leaves the minion idle again: what its
        // spawn and its reply touched is given back shortly after, as after start-up.
        if !done.is_empty() && self.children.is_empty() {
            self.release_at = Some(Instant::now() + RELEASE_DELAY);
        }
        for (child, result) in done {
            if let Some((i, key)) = self.child_owner.remove(&child) {
                if let Some(slot) = self.slots.get_mut(i) {
                    slot.core.handle(now, Input::ChildDone { key, result });
                }
            }
        }
    }

    /// Carries out what the minions asked for.
    fn do_actions(&mut self) {
        // A swarm's minions settle one by one while others still start: only a lone daemon
        // drops its start-up pages.
        let alone = self.slots.len() == 1;
        let total = self.slots.len();
        let mut settled = false;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            // An action's answer goes straight back in and may bring more actions.
            loop {
                let actions = slot.core.take_actions();
                if actions.is_empty() {
                    break;
                }
                for action in actions {
                    match action {
                        Action::Send(bytes) => match slot.dealer.send(&[&bytes]) {
                            Ok(true) => {}
                            Ok(false) => log::warn!("dropped a request: the master is not reading"),
                            Err(e) => log::warn!("send: {e}"),
                        },
                        Action::PinMaster(pem) => {
                            let path = slot.core.config().pki_dir.join("minion_master.pub");
                            match std::fs::write(&path, pem) {
                                Ok(()) => {
                                    slot.core.handle(Now::read(), Input::PinSaved);
                                    log::info!("pinned the master's key in {}", path.display());
                                }
                                Err(e) => log::error!("cannot write {}: {e}", path.display()),
                            }
                        }
                        Action::Publication(load) => {
                            slot.core.handle(Now::read(), Input::Job(load))
                        }
                        Action::ReadPin(path) => {
                            let pin = match std::fs::read_to_string(&path) {
                                Ok(text) => PinFile::Text(text),
                                Err(e) if e.kind() == io::ErrorKind::NotFound => PinFile::Missing,
                                Err(e) => {
                                    log::warn!("cannot read {}: {e}", path.display());
                                    PinFile::Unreadable
                                }
                            };
                            slot.core.handle(Now::read(), Input::Pin(pin));
                        }
                        Action::WriteJobRecord(path, bytes) => write_job_record(&path, &bytes),
                        Action::RemoveJobRecord(path) => {
                            let _ = std::fs::remove_file(path);
                        }
                        // In a swarm one refused minion stops alone; the loop ends with the last.
                        Action::Exit(code) => {
                            if alone {
                                self.exit = Some(code);
                            } else {
                                log::error!(
                                    "minion {} stopped; the rest of the swarm goes on",
                                    slot.core.config().id
                                );
                                self.exited += 1;
                                if self.exited >= total {
                                    self.exit = Some(code);
                                }
                            }
                        }
                        Action::Settled => {
                            if alone {
                                settled = true;
                            }
                        }
                        Action::Spawn(key, spec) => {
                            let child = self.next_child;
                            self.next_child += 1;
                            match self.children.spawn(self.poll.registry(), child, &spec) {
                                Ok(pid) => {
                                    self.child_owner.insert(child, (i, key));
                                    slot.core
                                        .handle(Now::read(), Input::ChildStarted { key, pid });
                                }
                                Err(e) => {
                                    log::warn!("cannot start a job's process: {e}");
                                    let result = ChildResult::spawn_failed(e);
                                    slot.core
                                        .handle(Now::read(), Input::ChildDone { key, result });
                                }
                            }
                        }
                        Action::Kill(key) => {
                            let child = self
                                .child_owner
                                .iter()
                                .find(|(_, owner)| **owner == (i, key))
                                .map(|(c, _)| *c);
                            if let Some(c) = child {
                                self.children.kill(c);
                            }
                        }
                    }
                }
            }
        }
        if settled {
            self.release_at = Some(Instant::now() + RELEASE_DELAY);
        }
    }

    fn accept(&mut self) {
        let (Some(local), Some(slot)) = (self.local.as_mut(), self.slots.first_mut()) else {
            return;
        };
        local.accept(self.poll.registry(), &mut |input| {
            feed(&mut slot.core, input)
        });
    }

    fn client_event(&mut self, id: usize, readable: bool, writable: bool) {
        let (Some(local), Some(slot)) = (self.local.as_mut(), self.slots.first_mut()) else {
            return;
        };
        let Some(bus) = slot.core.bus() else {
            return;
        };
        for id in local.on_event(id, readable, writable, bus, self.poll.registry()) {
            closed(&mut slot.core, id);
        }
    }

    /// Reads the reactor files the minion asked for (its rules changed) and the ones that
    /// changed on disk, and hands them over.
    fn feed_reactor_files(&mut self) {
        let (Some(files), Some(slot)) = (self.reactor_files.as_mut(), self.slots.first_mut())
        else {
            return;
        };
        for s in files.poll(slot.core.take_reactor_sources()) {
            slot.core.handle(Now::read(), Input::ReactorSource(s));
        }
    }

    /// Hands the renderer process the reactor's new jobs, and the minion what finished.
    fn render(&mut self) {
        let (Some(r), Some(slot)) = (self.renderer.as_mut(), self.slots.first_mut()) else {
            return;
        };
        let jobs = slot.core.take_renders();
        if !jobs.is_empty() {
            if let Some((gen, env)) = slot.core.render_env() {
                r.set_env(gen, env);
            }
            for job in &jobs {
                r.submit(self.poll.registry(), job);
            }
        }
        let done = r.check(self.poll.registry());
        self.rendered(done);
    }

    fn rendered(&mut self, done: Vec<Done>) {
        let Some(slot) = self.slots.first_mut() else {
            return;
        };
        for d in done {
            let r = match d {
                Done::Rendered(reply) => Ok(reply),
                Done::Failed(f) => Err((f.seq, f.why)),
            };
            slot.core.handle(Now::read(), Input::Rendered(r));
        }
    }

    fn read_clients(&mut self) {
        let (Some(local), Some(slot)) = (self.local.as_mut(), self.slots.first_mut()) else {
            return;
        };
        local.read_ready(self.poll.registry(), &mut |input| {
            feed(&mut slot.core, input)
        });
        local.sweep(self.poll.registry(), &mut |input| {
            feed(&mut slot.core, input)
        });
    }

    fn flush_clients(&mut self) {
        let (Some(local), Some(slot)) = (self.local.as_mut(), self.slots.first_mut()) else {
            return;
        };
        let Some(bus) = slot.core.bus() else {
            return;
        };
        for id in local.flush_dirty(bus, self.poll.registry()) {
            closed(&mut slot.core, id);
        }
    }

    fn reload(&mut self) {
        let Some(reload) = self.reload.as_mut() else {
            return;
        };
        match reload() {
            Ok(cfg) => {
                if let Some(level) = crate::log::level_filter(&cfg.log_level) {
                    log::set_max_level(level);
                }
                if let Some(local) = self.local.as_mut() {
                    local.set_max_frame(cfg.max_event_size);
                }
                if let Some(slot) = self.slots.first_mut() {
                    let rules = reactor_files::read_rules(&cfg.reactor, &cfg.conf_dir);
                    let loaded = Loaded { cfg, rules };
                    slot.core
                        .handle(Now::read(), Input::Reload(Box::new(loaded)));
                }
            }
            Err(e) => log::error!("reload failed, keeping the old configuration: {e}"),
        }
    }

    fn shutdown(&mut self) {
        self.children.kill_all();
        for slot in &mut self.slots {
            slot.core.goodbye();
        }
        self.do_actions();
        for slot in &mut self.slots {
            // Give the goodbyes a moment to leave; closing the context waits this long.
            let _ = slot.dealer.set_linger(500);
        }
        if let (Some(local), Some(slot)) = (self.local.as_mut(), self.slots.first_mut()) {
            for id in local.shutdown(self.poll.registry()) {
                closed(&mut slot.core, id);
            }
        }
        for slot in &mut self.slots {
            slot.dealer.deregister(self.poll.registry());
            slot.sub.deregister(self.poll.registry());
        }
    }
}

fn feed(core: &mut Minion, input: ClientInput<'_>) {
    core.handle(Now::read(), Input::Client(input));
}

/// Tells the core about a local client the I/O layer closed.
fn closed(core: &mut Minion, id: usize) {
    core.handle(Now::read(), Input::Client(ClientInput::Closed { id }));
}

/// Writes a running job's record; a failure costs only the record.
fn write_job_record(path: &Path, bytes: &[u8]) {
    let write = match path.parent() {
        Some(dir) => std::fs::create_dir_all(dir).and_then(|()| std::fs::write(path, bytes)),
        None => std::fs::write(path, bytes),
    };
    if let Err(e) = write {
        log::warn!("cannot write the job record {}: {e}", path.display());
    }
}

/// Removes job records left by a minion that crashed (their jobs died with it).
fn clear_job_records(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
