//! The master's event loop: one `mio::Poll`, one thread, driving the master core.
//!
//! Every turn: wait for readiness (the timer table's head bounds the wait, and sources
//! left with work skip it), read what is ready within a budget per client, hand each
//! frame to the core, then flush every client the core queued bytes for, once, so a
//! burst of events leaves in few `write`s.

use super::ipc::{self, Conn, ReadStatus};
use super::signals::{SignalAction, Signals};
use crate::config::MasterConfig;
use crate::master::{Input, Master, Now};
use crate::wire::{FrameReader, Next};
use mio::net::UnixListener;
use mio::{Events, Interest, Poll, Token};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::PathBuf;
use std::time::Duration;

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const FIRST_CLIENT: usize = 16;

/// Bytes read from one client per turn before the others get their go.
const READ_BUDGET: usize = 1 << 20;

/// Why the daemon stopped or could not start.
#[derive(Debug)]
pub enum DaemonError {
    /// The bus socket could not be bound.
    Ipc(ipc::IpcError),
    /// The poller or signal set-up failed.
    Io(&'static str, io::Error),
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonError::Ipc(e) => write!(f, "{e}"),
            DaemonError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for DaemonError {}

/// Re-reads the configuration on SIGHUP; the daemon keeps the old one on error.
pub type Reloader = Box<dyn FnMut() -> Result<MasterConfig, String>>;

/// The running master: the core plus the I/O it needs.
pub struct MasterDaemon {
    poll: Poll,
    listener: UnixListener,
    signals: Signals,
    socket_path: PathBuf,
    conns: HashMap<usize, Conn>,
    next_id: usize,
    core: Master,
    still_ready: BTreeSet<usize>,
    reload: Reloader,
}

impl MasterDaemon {
    /// Binds the bus socket and installs the signal handlers.
    pub fn bind(cfg: MasterConfig, reload: Reloader) -> Result<MasterDaemon, DaemonError> {
        let poll = Poll::new().map_err(|e| DaemonError::Io("create poll", e))?;
        let socket_path = crate::client::master_socket(&cfg.sock_dir);
        let mut listener = ipc::bind(&socket_path).map_err(DaemonError::Ipc)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(|e| DaemonError::Io("register the bus socket", e))?;
        let signals = Signals::register(poll.registry(), SIGNALS)
            .map_err(|e| DaemonError::Io("install signal handlers", e))?;
        log::info!("master event bus listening on {}", socket_path.display());
        Ok(MasterDaemon {
            poll,
            listener,
            signals,
            socket_path,
            conns: HashMap::new(),
            next_id: FIRST_CLIENT,
            core: Master::new(cfg),
            still_ready: BTreeSet::new(),
            reload,
        })
    }

    /// Runs until SIGTERM or SIGINT, then removes the socket file.
    pub fn run(mut self) -> Result<(), DaemonError> {
        let mut events = Events::with_capacity(1024);
        let result = loop {
            let now = Now::read();
            let mut timeout = self
                .core
                .next_timeout()
                .map(|at| at.saturating_duration_since(now.mono));
            if !self.still_ready.is_empty() {
                timeout = Some(Duration::ZERO);
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break Err(DaemonError::Io("poll", e));
            }
            let mut shutdown = false;
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    SIGNALS => {
                        for s in self.signals.pending() {
                            match s {
                                SignalAction::Shutdown => shutdown = true,
                                SignalAction::Reload => self.reload(),
                            }
                        }
                    }
                    Token(id) => {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.still_ready.insert(id);
                        }
                        if ev.is_writable() {
                            self.flush(id);
                        }
                    }
                }
            }
            let ready: Vec<usize> = std::mem::take(&mut self.still_ready).into_iter().collect();
            for id in ready {
                self.read(id);
            }
            self.flush_dirty();
            if shutdown {
                log::info!("shutting down");
                break Ok(());
            }
        };
        self.shutdown();
        result
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    let cred = match ipc::peer_cred(&stream) {
                        Ok(c) => c,
                        Err(e) => {
                            log::warn!("cannot read the credentials of a local client: {e}");
                            continue;
                        }
                    };
                    if !ipc::uid_allowed(cred.uid) {
                        log::warn!(
                            "refused a local client: uid {} (pid {}) may not use the bus",
                            cred.uid,
                            cred.pid
                        );
                        continue;
                    }
                    let id = self.next_id;
                    self.next_id += 1;
                    if let Err(e) = self.poll.registry().register(
                        &mut stream,
                        Token(id),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        log::warn!("cannot register a local client: {e}");
                        continue;
                    }
                    log::debug!("local client {id} connected (pid {})", cred.pid);
                    let max = self.core.config().max_event_size;
                    self.conns.insert(
                        id,
                        Conn {
                            stream,
                            reader: FrameReader::new(max),
                            cred,
                        },
                    );
                    self.core
                        .handle(Now::read(), Input::Opened { id, pid: cred.pid });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: log and retry on the next readiness.
                    log::error!("accept on {}: {e}", self.socket_path.display());
                    return;
                }
            }
        }
    }

    fn read(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let status = conn.read_some(READ_BUDGET);
        let now = Now::read();
        while let Some(next) = conn.reader.next_frame() {
            let input = match next {
                Next::Frame(kind, payload) => Input::Frame { id, kind, payload },
                Next::Oversize(size) => Input::Oversize { id, size },
                Next::Empty => Input::EmptyFrame { id },
            };
            self.core.handle(now, input);
        }
        match status {
            Ok(ReadStatus::Drained) => {}
            Ok(ReadStatus::Budget) => {
                self.still_ready.insert(id);
            }
            Ok(ReadStatus::Closed) => {
                if conn.reader.is_mid_frame() {
                    log::info!(
                        "local client {id} (pid {}) disconnected in the middle of a frame ({} bytes dropped)",
                        conn.cred.pid,
                        conn.reader.buffered()
                    );
                }
                self.close(id);
            }
            Err(e) => {
                log::info!("local client {id}: read: {e}");
                self.close(id);
            }
        }
    }

    fn flush(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let bus = self.core.bus();
        let pending = bus.pending(id);
        if pending.is_empty() {
            return;
        }
        match conn.write_some(pending) {
            Ok(n) => bus.consumed(id, n, Now::read().wall),
            Err(e) => {
                log::info!("local client {id}: write: {e}");
                self.close(id);
            }
        }
    }

    fn flush_dirty(&mut self) {
        // A flush can queue a salt/event/lost notice, so loop until nothing is left that
        // the sockets will take now.
        for _ in 0..4 {
            let dirty = self.core.bus().take_dirty();
            if dirty.is_empty() {
                break;
            }
            for id in dirty {
                self.flush(id);
            }
        }
        for id in self.core.bus().take_doomed() {
            self.close(id);
        }
    }

    fn close(&mut self, id: usize) {
        if let Some(mut conn) = self.conns.remove(&id) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            log::debug!("local client {id} disconnected");
        }
        self.still_ready.remove(&id);
        self.core.handle(Now::read(), Input::Closed { id });
    }

    fn reload(&mut self) {
        match (self.reload)() {
            Ok(cfg) => {
                if let Some(level) = crate::log::level_filter(&cfg.log_level) {
                    log::set_max_level(level);
                }
                self.core.handle(Now::read(), Input::Reload(Box::new(cfg)));
            }
            Err(e) => log::error!("reload failed, keeping the old configuration: {e}"),
        }
    }

    fn shutdown(&mut self) {
        let ids: Vec<usize> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        let _ = self.poll.registry().deregister(&mut self.listener);
        if let Err(e) = std::fs::remove_file(&self.socket_path) {
            log::warn!("cannot remove {}: {e}", self.socket_path.display());
        }
    }
}
