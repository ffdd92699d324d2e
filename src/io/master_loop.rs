//! The master's event loop: one `mio::Poll`, one thread, driving the master core
//! ([`crate::master`] states the order of its calls each turn).
//!
//! Every turn: wait for readiness (the timer table's head bounds the wait, and sources
//! left with work skip it), read what is ready within a budget per client, hand each
//! frame to the core, then flush every client the core queued bytes for, once, so a
//! burst of events leaves in few `write`s.

use super::ipc;
use super::local::LocalServer;
use super::reactor_files::{self, ReactorFiles};
use super::renderer::{Done, Renderer};
use super::replay::Replays;
use super::signals::{SignalAction, Signals};
use super::zsock::{ZContext, ZError, ZKind, ZSocket};
use crate::bus::ClientInput;
use crate::config::MasterConfig;
use crate::master::{auth::Auth, Input, Loaded, Master, Now, ZOut};
use crate::pki::{self, AuthPolicy, KeyStore};
use mio::{Events, Poll, Token};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::time::Duration;

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const ROUTER: Token = Token(2);
const RENDER_OUT: Token = Token(3);
const RENDER_IN: Token = Token(4);
const REACTOR_FILES: Token = Token(5);
const REPLAY: Token = Token(6);
const FILES: Token = Token(7);
const ORCHESTRATE: Token = Token(8);

/// How often the loop gives free heap memory back to the kernel.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Messages taken from the request port per turn before local clients get their go.
const ZMQ_BUDGET: usize = 4096;

/// Why the daemon stopped or could not start.
#[derive(Debug)]
pub enum LoopError {
    /// The bus socket could not be bound.
    Ipc(ipc::IpcError),
    /// The poller or signal set-up failed.
    Io(&'static str, io::Error),
    /// A ZeroMQ socket could not be set up.
    Zmq(ZError),
    /// The master's keys or key store could not be read.
    Pki(pki::PkiError),
    /// The LMDB environment could not be opened.
    Store(crate::store::StoreError),
    /// The event log could not be opened or recovered.
    EventLog(crate::event_log::LogError),
}

impl std::fmt::Display for LoopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoopError::Ipc(e) => write!(f, "{e}"),
            LoopError::Io(what, e) => write!(f, "{what}: {e}"),
            LoopError::Zmq(e) => write!(f, "{e}"),
            LoopError::Pki(e) => write!(f, "{e}"),
            LoopError::Store(e) => write!(f, "{e}"),
            LoopError::EventLog(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoopError {}

/// Reads the auth policy's files (autosign, autoreject) for the core, at start and on
/// SIGHUP: the core itself reads no files.
fn auth_policy(cfg: &MasterConfig) -> AuthPolicy {
    let (policy, warnings) = AuthPolicy::for_master(cfg);
    for w in warnings {
        log::warn!("{w}");
    }
    policy
}

/// Re-reads the configuration on SIGHUP; the daemon keeps the old one on error.
pub type Reloader = Box<dyn FnMut() -> Result<MasterConfig, String>>;

/// Feeds a local client's doing to the master core. The clock is read once per batch:
/// a batch is one turn's bounded reads, and two clock reads per frame were a seventh of
/// the bus's time at millions of events per second.
fn to_core(core: &mut Master) -> impl FnMut(ClientInput<'_>) + '_ {
    let now = Now::read();
    move |input| core.handle(now, Input::Client(input))
}

/// The master's `file_roots`, for the reactor's `salt://` files (None, logged, when they
/// cannot be used).
fn master_roots(cfg: &MasterConfig) -> Option<crate::fileserver::Roots> {
    match super::fileserver::roots_of(cfg) {
        Ok(r) => Some(r),
        Err(e) => {
            log::error!("file_roots: {e}");
            None
        }
    }
}

/// The running master: the core plus the I/O it needs.
pub struct MasterLoop {
    poll: Poll,
    signals: Signals,
    local: LocalServer,
    core: Master,
    reload: Reloader,
    zmq: Option<Zmq>,
    renderer: Renderer,
    reactor_files: ReactorFiles,
    /// Listeners fed from the event log, when it is on.
    replays: Option<Replays>,
    /// The file server's and pillar's workers (started with the request port).
    files: Option<super::fileserver::Workers>,
    /// The orchestrations' blocking work, on threads.
    steps: Option<super::orchestrate::Steps>,
}

/// The master's ZeroMQ sockets.
struct Zmq {
    _ctx: ZContext,
    publisher: ZSocket,
    router: ZSocket,
}

impl MasterLoop {
    /// Binds the bus socket and the ZeroMQ ports and installs the signal handlers.
    pub fn bind(cfg: MasterConfig, reload: Reloader) -> Result<MasterLoop, LoopError> {
        let poll = Poll::new().map_err(|e| LoopError::Io("create poll", e))?;
        let socket_path = crate::client::master_socket(&cfg.sock_dir);
        // Handlers first: a client (or a test) that sees the socket may signal at once, and
        // SIGHUP's default action would end the daemon.
        let signals = Signals::register(poll.registry(), SIGNALS)
            .map_err(|e| LoopError::Io("install signal handlers", e))?;
        let local = LocalServer::bind(&socket_path, poll.registry(), LISTENER, cfg.max_event_size)
            .map_err(LoopError::Ipc)?;
        log::info!("master event bus listening on {}", socket_path.display());
        let keys = pki::load_or_generate(&cfg.pki_dir, "master").map_err(LoopError::Pki)?;
        let store = KeyStore::open(&cfg.pki_dir).map_err(LoopError::Pki)?;
        let policy = auth_policy(&cfg);
        let auth = Auth::new(keys, store, policy, cfg.auth_events);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&cfg.cachedir)
            .map_err(|e| {
                LoopError::Io(
                    "cachedir",
                    io::Error::new(e.kind(), format!("{}: {e}", cfg.cachedir.display())),
                )
            })?;
        // ZeroMQ starts an I/O thread, which would not survive a fork: the sockets are made
        // in `run`, after daemonizing. Check the ports now so a conflict is reported on the
        // terminal.
        for port in [cfg.publish_port, cfg.ret_port] {
            if port != 0 {
                std::net::TcpListener::bind((cfg.interface.as_str(), port)).map_err(|e| {
                    LoopError::Io(
                        if port == cfg.publish_port {
                            "publish_port"
                        } else {
                            "ret_port"
                        },
                        io::Error::new(e.kind(), format!("{}:{port}: {e}", cfg.interface)),
                    )
                })?;
            }
        }
        for w in super::process::wider_than_private(&[
            &cfg.cachedir,
            &cfg.sqlite_queue_dir,
            &cfg.pki_dir,
        ]) {
            log::warn!("{w}");
        }
        let renderer = Renderer::new(
            RENDER_OUT,
            RENDER_IN,
            crate::clock::seconds(cfg.reactor_render_timeout as f64),
            cfg.reactor_render_memory.saturating_mul(1 << 20),
        );
        let mut core = Master::new(cfg, Some(auth));
        // Host facts are gathered here, not by the core (the fqdn lookup is bounded).
        core.set_host(
            crate::grains::compute(&crate::config::host_fqdn()),
            std::env::vars().collect(),
        );
        core.set_renderer(true);
        let mut reactor_files = ReactorFiles::new(poll.registry(), REACTOR_FILES);
        reactor_files.set_roots(master_roots(core.config()));
        core.set_reactor_rules(reactor_files::read_rules(
            &core.config().reactor,
            &core.config().conf_dir,
        ));
        core.start(Now::read());
        Ok(MasterLoop {
            poll,
            signals,
            local,
            core,
            reload,
            zmq: None,
            renderer,
            reactor_files,
            replays: None,
            files: None,
            steps: None,
        })
    }

    /// Creates and binds the publisher and the request router.
    fn start_zmq(&mut self) -> Result<(), LoopError> {
        let cfg = self.core.config();
        let zctx = ZContext::new();
        let publisher = ZSocket::new(&zctx, ZKind::Pub).map_err(LoopError::Zmq)?;
        let mut router = ZSocket::new(&zctx, ZKind::Router).map_err(LoopError::Zmq)?;
        // libzmq itself drops (and disconnects) anything far over the limit, so a hostile
        // peer cannot make it buffer gigabytes; between the limit and that, the core drops
        // the message with a log line.
        let hard_limit = (cfg.max_event_size as i64)
            .saturating_mul(4)
            .saturating_add(1 << 20);
        router
            .set_max_msg_size(hard_limit)
            .map_err(LoopError::Zmq)?;
        // What a peer that does not read can cost is pub_hwm publications; one that stops
        // answering heartbeats is dropped, and its queue freed.
        publisher
            .set_hwm(i32::try_from(cfg.pub_hwm).unwrap_or(i32::MAX))
            .map_err(LoopError::Zmq)?;
        let hb_timeout = cfg.pub_heartbeat_timeout.saturating_mul(1000);
        publisher
            .set_heartbeat(5_000, i32::try_from(hb_timeout).unwrap_or(i32::MAX))
            .map_err(LoopError::Zmq)?;
        router.set_hwm(100_000).map_err(LoopError::Zmq)?;
        let host = if cfg.interface.contains(':') {
            format!("[{}]", cfg.interface)
        } else {
            cfg.interface.clone()
        };
        publisher
            .bind(&format!("tcp://{host}:{}", cfg.publish_port))
            .map_err(LoopError::Zmq)?;
        router
            .bind(&format!("tcp://{host}:{}", cfg.ret_port))
            .map_err(LoopError::Zmq)?;
        router
            .register(self.poll.registry(), ROUTER)
            .map_err(LoopError::Zmq)?;
        log::info!(
            "publishing on {host}:{}, serving requests on {host}:{}",
            cfg.publish_port,
            cfg.ret_port
        );
        self.zmq = Some(Zmq {
            _ctx: zctx,
            publisher,
            router,
        });
        Ok(())
    }

    /// Runs until SIGTERM or SIGINT, then removes the socket file; `ready` is called once
    /// the store is open and the ports are bound.
    pub fn run(mut self, ready: impl FnOnce()) -> Result<(), LoopError> {
        // LMDB, like ZeroMQ, must not cross a fork: both start here, after daemonizing.
        let store =
            crate::store::Store::open(&self.core.config().cachedir).map_err(LoopError::Store)?;
        self.core.set_store(store).map_err(LoopError::Store)?;
        if self.core.config().event_log {
            let (log, found) =
                crate::master::open_event_log(self.core.config()).map_err(LoopError::EventLog)?;
            log::info!(
                "event log {}: {} records in {} segments, next sequence number {}{}",
                log.dir().display(),
                found.records,
                found.segments,
                log.next_seq(),
                if found.cut_bytes > 0 {
                    format!(", a torn tail of {} bytes cut", found.cut_bytes)
                } else {
                    String::new()
                }
            );
            let waker = mio::Waker::new(self.poll.registry(), REPLAY)
                .map_err(|e| LoopError::Io("create the replay waker", e))?;
            self.replays = Some(Replays::new(
                log.dir().to_path_buf(),
                std::sync::Arc::new(waker),
            ));
            self.core.set_event_log(log);
        }
        self.start_zmq()?;
        let waker = mio::Waker::new(self.poll.registry(), ORCHESTRATE)
            .map_err(|e| LoopError::Io("create the orchestrations' waker", e))?;
        self.steps = Some(super::orchestrate::Steps::new(std::sync::Arc::new(waker)));
        let waker = mio::Waker::new(self.poll.registry(), FILES)
            .map_err(|e| LoopError::Io("create the file server's waker", e))?;
        self.files = Some(
            super::fileserver::Workers::start(self.core.config(), std::sync::Arc::new(waker))
                .map_err(|e| LoopError::Io("start the file server's workers", e))?,
        );
        self.compile_master_pillar();
        ready();
        let mut events = Events::with_capacity(1024);
        let mut next_trim = std::time::Instant::now() + TRIM_EVERY;
        let result = loop {
            let now = Now::read();
            let mut timeout = [
                self.core.next_timeout(),
                self.local.next_deadline(),
                self.renderer.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_duration_since(now.mono));
            // ZMQ_FD is edge-triggered: messages may wait in the router with no new edge
            // coming, so look at the cached events before sleeping.
            if self.local.has_ready()
                || self.core.busy()
                || self.zmq.as_ref().is_some_and(|z| z.router.readable())
            {
                timeout = Some(Duration::ZERO);
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break Err(LoopError::Io("poll", e));
            }
            // Before any input: a reactor file written before a client's event or
            // `reactor.test` was sent is read before it is handled.
            self.feed_reactor_files();
            let mut shutdown = false;
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self
                        .local
                        .accept(self.poll.registry(), &mut to_core(&mut self.core)),
                    SIGNALS => {
                        for s in self.signals.pending() {
                            match s {
                                SignalAction::Shutdown => shutdown = true,
                                SignalAction::Reload => self.reload(),
                            }
                        }
                    }
                    ROUTER => {
                        if let Some(z) = self.zmq.as_mut() {
                            z.router.refresh();
                        }
                    }
                    REACTOR_FILES => self.reactor_files.on_ready(),
                    REPLAY => self.replays_finished(),
                    FILES => self.files_answered(),
                    ORCHESTRATE => self.orchestration_done(),
                    t if self.renderer.owns(t) => {
                        let done = self.renderer.on_event(self.poll.registry(), t);
                        self.rendered(done);
                    }
                    Token(id) => {
                        let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
                        let closed = self.local.on_event(
                            id,
                            readable,
                            ev.is_writable(),
                            self.core.bus(),
                            self.poll.registry(),
                        );
                        self.closed(closed);
                    }
                }
            }
            self.drain_router();
            self.submit_file_work();
            self.local
                .read_ready(self.poll.registry(), &mut to_core(&mut self.core));
            self.local
                .sweep(self.poll.registry(), &mut to_core(&mut self.core));
            let now = Now::read();
            if self.core.next_timeout().is_some_and(|at| at <= now.mono) {
                self.core.handle(now, Input::Tick);
            }
            // ZeroMQ's queues for peers that left (a stuck subscriber's publications) and
            // bursts of clients are freed inside glibc, which keeps the pages: hand them back
            // now and then.
            if now.mono >= next_trim {
                super::process::trim_heap();
                next_trim = now.mono + TRIM_EVERY;
            }
            // One commit for everything this turn wrote, then the replies that waited on it.
            // Rules changed this turn (reactor.add, SIGHUP) have their files read first.
            self.feed_reactor_files();
            self.core.react(Now::read());
            self.render();
            self.submit_orchestration_work();
            // Events need no store commit (Salt's do not wait for its job cache either):
            // they leave now, and a return's event does not wait for the fsync of its job
            // cache record. With the event log on, only the ones already logged can.
            let closed = self
                .local
                .flush_dirty(self.core.bus(), self.poll.registry());
            self.closed(closed);
            self.core.commit(Now::read());
            self.send_zmq();
            let closed = self
                .local
                .flush_dirty(self.core.bus(), self.poll.registry());
            self.closed(closed);
            self.start_replays();
            if shutdown {
                log::info!("shutting down");
                break Ok(());
            }
        };
        let closed = self.local.shutdown(self.poll.registry());
        self.closed(closed);
        if let Some(z) = self.zmq.as_mut() {
            z.router.deregister(self.poll.registry());
        }
        result
    }

    /// Reads the reactor files the core asked for (its rules changed) and the ones that
    /// changed on disk, and hands them over.
    fn feed_reactor_files(&mut self) {
        let wanted = self.core.take_reactor_sources();
        for s in self.reactor_files.poll(wanted) {
            self.core.handle(Now::read(), Input::ReactorSource(s));
        }
    }

    /// Hands the renderer process the core's new render jobs, and the core what finished.
    fn render(&mut self) {
        let jobs = self.core.take_renders();
        if !jobs.is_empty() {
            let (gen, env) = self.core.render_env();
            self.renderer.set_env(gen, env);
            for job in &jobs {
                self.renderer.submit(self.poll.registry(), job);
            }
        }
        let done = self.renderer.check(self.poll.registry());
        self.rendered(done);
    }

    fn rendered(&mut self, done: Vec<Done>) {
        for d in done {
            let r = match d {
                Done::Rendered(reply) => Ok(reply),
                Done::Failed(f) => Err((f.seq, f.why)),
            };
            self.core.handle(Now::read(), Input::Rendered(r));
        }
    }

    /// Has a worker compile the master's own pillar (`<host id>_master`, as Salt names the
    /// master's minion) for the reactor's `pillar.get`.
    fn compile_master_pillar(&mut self) {
        let cfg = self.core.config().clone();
        self.compile_master_pillar_with(&cfg);
    }

    fn compile_master_pillar_with(&mut self, cfg: &MasterConfig) {
        let grains = self.core.host_grains().clone();
        let host = grains
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("master");
        let id = format!("{host}_master");
        if let Some(files) = self.files.as_mut() {
            files.set_config(cfg);
            files.compile_master_pillar(id, grains);
        }
    }

    /// Starts the orchestrations' blocking work of this turn.
    fn submit_orchestration_work(&mut self) {
        let work = self.core.take_orchestration_work();
        if let Some(steps) = self.steps.as_mut() {
            for (key, w) in work {
                steps.submit(key, w);
            }
        }
    }

    /// Hands the core the orchestrations' finished work.
    fn orchestration_done(&mut self) {
        let Some(steps) = self.steps.as_mut() else {
            return;
        };
        for (key, done) in steps.finished() {
            self.core
                .handle(Now::read(), Input::Orchestrated(key, Box::new(done)));
        }
        self.submit_orchestration_work();
    }

    /// Hands the file server's workers the requests of this turn.
    fn submit_file_work(&mut self) {
        let work = self.core.take_file_work();
        if let Some(files) = self.files.as_mut() {
            for w in work {
                files.submit(w);
            }
        }
    }

    /// Seals and queues the workers' answers.
    fn files_answered(&mut self) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        for d in files.finished() {
            match d {
                super::fileserver::Done::Minion(a) => {
                    self.core.file_answered(&a.work.req, a.ok, a.ret, a.bin)
                }
                super::fileserver::Done::MasterPillar(p) => self.core.set_pillar(p),
            }
        }
    }

    /// Hands the listeners the bus moved to the event log to replay threads.
    fn start_replays(&mut self) {
        let Some(replays) = self.replays.as_mut() else {
            return;
        };
        for r in self.core.bus().take_replays() {
            match self.local.fd(r.id) {
                Some(fd) => replays.start(r, fd),
                None => log::debug!("listener {} left before its replay", r.id),
            }
        }
    }

    /// Hands listeners whose replay ended back to the bus.
    fn replays_finished(&mut self) {
        let Some(replays) = self.replays.as_mut() else {
            return;
        };
        let mut broken = Vec::new();
        for d in replays.finished() {
            match d.error {
                None => self.core.bus().replayed(d.id, d.next, d.gone),
                Some(why) if d.broken => {
                    log::warn!(
                        "replay of the event log to listener {} failed: {why}; disconnecting it",
                        d.id
                    );
                    broken.push(d.id);
                }
                Some(why) => {
                    log::warn!(
                        "replay of the event log to listener {} stopped: {why}",
                        d.id
                    );
                    self.core.bus().replay_failed(d.id, d.next);
                }
            }
        }
        for id in &broken {
            self.local.close(*id, self.poll.registry());
        }
        self.closed(broken);
    }

    /// Tells the core about clients the I/O layer closed.
    fn closed(&mut self, ids: Vec<usize>) {
        for id in ids {
            if let Some(r) = self.replays.as_mut() {
                r.forget(id);
            }
            self.core
                .handle(Now::read(), Input::Client(ClientInput::Closed { id }));
        }
    }

    /// Takes what the request port holds, up to a budget per turn.
    fn drain_router(&mut self) {
        let max = self.core.config().max_event_size.saturating_add(64 * 1024);
        for _ in 0..ZMQ_BUDGET {
            let Some(z) = self.zmq.as_mut() else {
                return;
            };
            if !z.router.readable() {
                break;
            }
            let parts = match z.router.recv() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    crate::log_limited!(Warn, "request-port:recv", "request port: {e}");
                    break;
                }
            };
            // A DEALER's message arrives as [routing id, payload].
            if parts.len() != 2 {
                crate::log_limited!(
                    Warn,
                    "request-port:parts",
                    "dropped a request of {} parts on the request port (expected 2)",
                    parts.len()
                );
                continue;
            }
            if parts[1].len() > max {
                crate::log_limited!(
                    Warn,
                    "request-port:size",
                    "dropped a request of {} bytes on the request port (over max_event_size)",
                    parts[1].len()
                );
                continue;
            }
            self.core.handle(
                Now::read(),
                Input::Request {
                    identity: &parts[0],
                    payload: &parts[1],
                },
            );
        }
    }

    /// Sends what the core queued for the ZeroMQ sockets. Neither socket blocks: PUB drops
    /// at its high-water mark and so does ROUTER for a peer that does not read.
    fn send_zmq(&mut self) {
        let Some(z) = self.zmq.as_mut() else {
            return;
        };
        for out in self.core.take_zmq() {
            let sent = match &out {
                ZOut::Reply { identity, payload } => z.router.send(&[identity, payload]),
                ZOut::Publish(payload) => z.publisher.send(&[payload]),
            };
            match sent {
                Ok(true) => {}
                Ok(false) => crate::log_limited!(
                    Warn,
                    "zmq:hwm",
                    "dropped an outgoing message: high-water mark reached"
                ),
                Err(e) => crate::log_limited!(Warn, "zmq:send", "send: {e}"),
            }
        }
    }

    fn reload(&mut self) {
        match (self.reload)() {
            Ok(cfg) => {
                if let Some(level) = crate::log::level_filter(&cfg.log_level) {
                    log::set_max_level(level);
                }
                self.local.set_max_frame(cfg.max_event_size);
                let policy = auth_policy(&cfg);
                let rules = reactor_files::read_rules(&cfg.reactor, &cfg.conf_dir);
                if let Some(files) = self.files.as_mut() {
                    files.set_config(&cfg);
                }
                self.reactor_files.set_roots(master_roots(&cfg));
                self.compile_master_pillar_with(&cfg);
                let loaded = Loaded { cfg, policy, rules };
                self.core
                    .handle(Now::read(), Input::Reload(Box::new(loaded)));
            }
            Err(e) => log::error!("reload failed, keeping the old configuration: {e}"),
        }
    }
}
