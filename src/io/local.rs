//! A daemon's local bus socket and its clients, shared by the master and the minion.
//!
//! Reads are bounded per client per turn (a busy client goes on a "still ready" list
//! instead of starving the rest); writes hand the socket the ring's stored frames for a
//! client in vectored writes, as much as it accepts now, and wait for the next writable
//! edge for the rest.

use super::ipc::{self, Conn, ReadStatus};
use crate::bus::{Bus, ClientId, ClientInput};
use crate::wire::{FrameReader, Next};
use mio::net::UnixListener;
use mio::{Interest, Registry, Token};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

/// Bytes read from one client per turn before the others get their go.
const READ_BUDGET: usize = 1 << 20;

/// How long a client may sit in the middle of a frame before it is cut off.
pub const PARTIAL_FRAME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Bytes of unfinished frames all clients together may hold (at least four frames of the
/// largest size): past it the client that has been mid-frame the longest is cut off.
pub fn partial_limit(max_frame: usize) -> usize {
    max_frame.saturating_mul(4).max(64 << 20)
}

/// Client tokens start here; lower tokens belong to the daemon's other sources.
pub const FIRST_CLIENT: usize = 16;

/// Client tokens stay below this; higher tokens belong to the daemon's other sources.
pub const LAST_CLIENT: usize = 1 << 40;

/// The listening socket and its clients.
pub struct LocalServer {
    listener: UnixListener,
    path: PathBuf,
    conns: HashMap<usize, Conn>,
    next_id: usize,
    still_ready: BTreeSet<usize>,
    max_frame: usize,
    /// The socket file is ours to remove.
    bound: bool,
    /// Bytes held in unfinished frames, all clients together.
    held: usize,
}

impl LocalServer {
    /// Binds `path` (mode 0660) and registers it under `token`.
    pub fn bind(
        path: &Path,
        registry: &Registry,
        token: Token,
        max_frame: usize,
    ) -> Result<LocalServer, ipc::IpcError> {
        let mut listener = ipc::bind(path)?;
        registry
            .register(&mut listener, token, Interest::READABLE)
            .map_err(|e| ipc::IpcError::Io(path.to_path_buf(), "register", e))?;
        Ok(LocalServer {
            listener,
            path: path.to_path_buf(),
            conns: HashMap::new(),
            next_id: FIRST_CLIENT,
            still_ready: BTreeSet::new(),
            max_frame,
            bound: true,
            held: 0,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when a client has unread input left from an earlier turn.
    pub fn has_ready(&self) -> bool {
        !self.still_ready.is_empty()
    }

    /// Frames accepted from clients connecting from now on may carry this many bytes.
    pub fn set_max_frame(&mut self, max: usize) {
        self.max_frame = max;
    }

    /// Accepts every pending connection.
    pub fn accept(&mut self, registry: &Registry, on: &mut dyn FnMut(ClientInput<'_>)) {
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
                        crate::log_limited!(
                            Warn,
                            format!("local-uid:{}", cred.uid),
                            "refused a local client: uid {} (pid {}) may not use {}",
                            cred.uid,
                            cred.pid,
                            self.path.display()
                        );
                        // Say why before hanging up (best effort: the socket is new and
                        // its buffer empty).
                        let why = format!(
                            "uid {} may not use {}: only root and the daemon's user may",
                            cred.uid,
                            self.path.display()
                        );
                        let _ = std::io::Write::write(
                            &mut stream,
                            &crate::wire::frame(crate::wire::kind::ERROR, why.as_bytes()),
                        );
                        continue;
                    }
                    let id = self.next_id;
                    self.next_id += 1;
                    if id >= LAST_CLIENT {
                        log::error!("out of client tokens");
                        return;
                    }
                    if let Err(e) = registry.register(
                        &mut stream,
                        Token(id),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        log::warn!("cannot register a local client: {e}");
                        continue;
                    }
                    log::debug!("local client {id} connected (pid {})", cred.pid);
                    self.conns.insert(
                        id,
                        Conn {
                            stream,
                            reader: FrameReader::new(self.max_frame),
                            cred,
                            held: 0,
                            mid_since: None,
                        },
                    );
                    on(ClientInput::Opened { id, pid: cred.pid });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: log and retry on the next readiness.
                    log::error!("accept on {}: {e}", self.path.display());
                    return;
                }
            }
        }
    }

    /// Notes readiness of a client token; returns the clients it had to close.
    pub fn on_event(
        &mut self,
        id: usize,
        readable: bool,
        writable: bool,
        bus: &mut Bus,
        registry: &Registry,
    ) -> Vec<ClientId> {
        if !self.conns.contains_key(&id) {
            return Vec::new();
        }
        if readable {
            self.still_ready.insert(id);
        }
        if writable {
            bus.writable(id);
            return self.flush(id, bus, registry).into_iter().collect();
        }
        Vec::new()
    }

    /// Reads every client that has input, within the per-client budget.
    pub fn read_ready(&mut self, registry: &Registry, on: &mut dyn FnMut(ClientInput<'_>)) {
        let ready: Vec<usize> = std::mem::take(&mut self.still_ready).into_iter().collect();
        for id in ready {
            self.read(id, registry, on);
        }
    }

    fn read(&mut self, id: usize, registry: &Registry, on: &mut dyn FnMut(ClientInput<'_>)) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let status = conn.read_some(READ_BUDGET);
        while let Some(next) = conn.reader.next_frame() {
            on(match next {
                Next::Frame(kind, payload) => ClientInput::Frame { id, kind, payload },
                Next::Oversize(size) => ClientInput::Oversize { id, size },
                Next::Empty => ClientInput::Empty { id },
            });
        }
        let now_held = conn.reader.buffered();
        self.held = self.held - conn.held + now_held;
        conn.held = now_held;
        if now_held == 0 {
            conn.mid_since = None;
            conn.reader.shrink();
        } else if conn.mid_since.is_none() {
            conn.mid_since = Some(Instant::now());
        }
        match status {
            Ok(ReadStatus::Drained) => {}
            Ok(ReadStatus::Budget) => {
                self.still_ready.insert(id);
            }
            Ok(ReadStatus::Closed) => {
                if conn.reader.is_mid_frame() {
                    crate::log_limited!(
                        Info,
                        format!("local-cut:{}", conn.cred.pid),
                        "local client {id} (pid {}) disconnected in the middle of a frame ({} bytes dropped)",
                        conn.cred.pid,
                        conn.reader.buffered()
                    );
                }
                self.close(id, registry);
                on(ClientInput::Closed { id });
            }
            Err(e) => {
                log::info!("local client {id}: read: {e}");
                self.close(id, registry);
                on(ClientInput::Closed { id });
            }
        }
    }

    /// Writes what the bus holds for one client, as much as the socket takes now (the
    /// ring's frames themselves, in vectored writes); returns the client if the write
    /// failed and it was closed.
    pub fn flush(&mut self, id: usize, bus: &mut Bus, registry: &Registry) -> Option<ClientId> {
        let conn = self.conns.get_mut(&id)?;
        let stream = &mut conn.stream;
        let result = bus.write_to(id, SystemTime::now(), &mut |slices| {
            io::Write::write_vectored(stream, slices)
        });
        match result {
            Ok(()) => None,
            Err(e) => {
                log::info!("local client {id}: write: {e}");
                self.close(id, registry);
                Some(id)
            }
        }
    }

    /// Flushes every client the bus has bytes for and drops the ones it gave up on;
    /// returns the clients closed.
    pub fn flush_dirty(&mut self, bus: &mut Bus, registry: &Registry) -> Vec<ClientId> {
        let mut closed = Vec::new();
        for id in bus.ready() {
            closed.extend(self.flush(id, bus, registry));
        }
        for id in bus.take_doomed() {
            self.close(id, registry);
            closed.push(id);
        }
        if bus.take_trim_hint() {
            super::process::trim_heap();
        }
        closed
    }

    /// Cuts off clients that hold the unfinished-frame budget: past the total, the one
    /// mid-frame the longest goes first; and any mid-frame for [`PARTIAL_FRAME_TIMEOUT`].
    /// The loop calls it every turn (it costs nothing while no client is mid-frame).
    pub fn sweep(&mut self, registry: &Registry, on: &mut dyn FnMut(ClientInput<'_>)) {
        if self.held == 0 {
            return;
        }
        let limit = partial_limit(self.max_frame);
        let now = Instant::now();
        loop {
            let oldest = self
                .conns
                .iter()
                .filter_map(|(&id, c)| c.mid_since.map(|t| (t, id)))
                .min();
            let Some((since, id)) = oldest else {
                break;
            };
            let stale = now.saturating_duration_since(since) >= PARTIAL_FRAME_TIMEOUT;
            if !stale && self.held <= limit {
                break;
            }
            if let Some(c) = self.conns.get(&id) {
                let why = if stale {
                    format!(
                        "sat in the middle of a frame for {} s",
                        PARTIAL_FRAME_TIMEOUT.as_secs()
                    )
                } else {
                    format!(
                        "unfinished frames of all clients hold {} bytes (limit {limit}), and it has held one the longest",
                        self.held
                    )
                };
                crate::log::limited(
                    log::Level::Warn,
                    "local-partial",
                    &format!(
                        "local client {id} (pid {}) cut off: {why} ({} bytes dropped)",
                        c.cred.pid, c.held
                    ),
                );
            }
            self.close(id, registry);
            on(ClientInput::Closed { id });
        }
    }

    /// When [`LocalServer::sweep`] next has work: the oldest unfinished frame's timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.held == 0 {
            return None;
        }
        self.conns
            .values()
            .filter_map(|c| c.mid_since)
            .min()
            .map(|t| t + PARTIAL_FRAME_TIMEOUT)
    }

    /// A client's socket, for a replay thread to write to.
    pub fn fd(&self, id: usize) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.conns.get(&id).map(|c| c.stream.as_fd())
    }

    /// Disconnects one client (the caller tells its core).
    pub fn close(&mut self, id: usize, registry: &Registry) {
        if let Some(mut conn) = self.conns.remove(&id) {
            // A replay thread may hold a duplicate of the socket: shutting it down ends
            // that thread's writes too, and the peer sees the close now.
            let _ = conn.stream.shutdown(std::net::Shutdown::Both);
            self.held -= conn.held;
            let _ = registry.deregister(&mut conn.stream);
            log::debug!("local client {id} disconnected");
        }
        self.still_ready.remove(&id);
    }

    /// Disconnects everyone and removes the socket file; returns the clients closed.
    pub fn shutdown(&mut self, registry: &Registry) -> Vec<ClientId> {
        let ids: Vec<usize> = self.conns.keys().copied().collect();
        for &id in &ids {
            self.close(id, registry);
        }
        let _ = registry.deregister(&mut self.listener);
        self.remove_socket();
        ids
    }

    fn remove_socket(&mut self) {
        if std::mem::take(&mut self.bound) {
            if let Err(e) = std::fs::remove_file(&self.path) {
                log::warn!("cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

/// A daemon that fails after binding (a pid file it cannot write, a store it cannot open)
/// leaves no socket file behind.
impl Drop for LocalServer {
    fn drop(&mut self) {
        self.remove_socket();
    }
}
