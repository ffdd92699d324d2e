//! brine-api's event loop: one thread, one `mio::Poll`, owning the HTTP(S) listener and its
//! connections, the link to the master's bus, a connection per master call, and a worker
//! thread for what blocks (eauth: PAM and password files; static files).
//!
//! Every connection is bounded: its request head and body (by the parser's limits), the
//! requests it may have in flight, the bytes waiting to be written (an `/events` client past
//! `sse_buffer` loses events and is told how many), the time a request may take to arrive
//! (`request_timeout`: a client sending a byte a second is cut off) and the time it may sit
//! idle (`idle_timeout`). Past `max_connections`, new connections are closed at once.

use super::signals::{SignalAction, Signals};
use super::tls::{self, Transport};

mod master;
use crate::api::config::ApiConfig;
use crate::api::http::{self, Limits, Parsed, Response};
use crate::api::server::{unix, Api, Incoming, OpId, Out, ReqId, StreamSpec};
use crate::bus::{self, Answer};
use crate::clock::Now;
use crate::matcher::MatchType;
use crate::wire::{self, kind, FrameReader, Next};
use mio::net::{TcpListener, UnixStream};
use mio::{Events, Interest, Poll, Token, Waker};
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const SIGNALS: Token = Token(2);
const MASTER: Token = Token(3);
const FIRST_DYNAMIC: usize = 16;

/// Requests one connection may have waiting for answers before it is read no more.
const MAX_IN_FLIGHT: usize = 32;
/// Most bytes of fired events waiting for the master (past it hooks get 503).
const MASTER_OUT_MAX: usize = 64 << 20;
/// Largest static file served.
const MAX_FILE: u64 = 64 << 20;

/// Why brine-api could not start or stopped.
#[derive(Debug)]
pub enum ApiLoopError {
    /// The settings are wrong.
    Config(String),
    /// The listener could not be bound.
    Bind(String, io::Error),
    /// Setting up the loop failed.
    Io(io::Error),
}

impl std::fmt::Display for ApiLoopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiLoopError::Config(e) => f.write_str(e),
            ApiLoopError::Bind(a, e) => write!(f, "cannot listen on {a}: {e}"),
            ApiLoopError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ApiLoopError {}

impl From<io::Error> for ApiLoopError {
    fn from(e: io::Error) -> Self {
        ApiLoopError::Io(e)
    }
}

/// A response slot, in request order.
struct Slot {
    id: ReqId,
    bytes: Option<Vec<u8>>,
    close_after: bool,
}

struct Conn {
    t: Transport,
    peer: String,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    off: usize,
    slots: VecDeque<Slot>,
    stream: Option<Stream>,
    last_active: Instant,
    /// When the request being received started arriving.
    started: Option<Instant>,
    /// Close once everything written.
    closing: bool,
    /// The peer closed its side: answer what is in flight, then close.
    read_closed: bool,
    /// Whether the socket is registered for writability too.
    writable_interest: bool,
    /// Reading stopped with requests in flight or the buffer full.
    read_paused: bool,
}

struct Stream {
    spec: StreamSpec,
    lost: u64,
}

/// A master call in flight: its own connection.
struct CallConn {
    op: OpId,
    sock: UnixStream,
    out: Vec<u8>,
    off: usize,
    reader: FrameReader,
}

/// The link to the master's bus (events in, fired events out).
struct Link {
    sock: Option<UnixStream>,
    reader: FrameReader,
    out: Vec<u8>,
    off: usize,
    retry_at: Instant,
}

enum Job {
    Auth(OpId, String, String, String),
    File(ReqId, PathBuf, Option<PathBuf>, &'static str),
}

enum Done {
    Auth(OpId, Result<crate::api::eauth::Identity, String>),
    File(ReqId, Response),
}

/// brine-api bound and ready to run.
pub struct ApiLoop {
    poll: Poll,
    listener: TcpListener,
    tls: Option<tls::ServerConfig>,
    api: Api,
    limits: Limits,
    conns: HashMap<Token, Conn>,
    calls: HashMap<Token, CallConn>,
    req_conn: HashMap<ReqId, (Token, bool, bool)>,
    link: Link,
    next_token: usize,
    next_req: ReqId,
    later: Vec<(Instant, ReqId, Response)>,
    /// Connections whose reading paused for room and may read again.
    rearm: Vec<Token>,
    jobs: mpsc::Sender<Job>,
    done: Arc<Mutex<Vec<Done>>>,
    signals: Signals,
    socket_path: PathBuf,
    date: (u64, String),
}

fn worker(
    jobs: mpsc::Receiver<Job>,
    done: Arc<Mutex<Vec<Done>>>,
    waker: Arc<Waker>,
    eauth: crate::api::eauth::EauthConfig,
) {
    while let Ok(job) = jobs.recv() {
        let d = match job {
            Job::Auth(op, e, u, p) => Done::Auth(
                op,
                crate::api::eauth::authenticate(&eauth, &e, &u, &p).map_err(|e| e.to_string()),
            ),
            Job::File(id, path, root, ct) => Done::File(id, read_file(&path, root.as_deref(), ct)),
        };
        if let Ok(mut q) = done.lock() {
            q.push(d);
        }
        let _ = waker.wake();
    }
}

fn read_file(path: &std::path::Path, root: Option<&std::path::Path>, ct: &'static str) -> Response {
    // The path is built from checked segments, but a symlink inside the directory may still
    // point out of it: the real path must stay under the real root.
    if let Some(root) = root {
        let inside = match (std::fs::canonicalize(path), std::fs::canonicalize(root)) {
            (Ok(p), Ok(r)) => p.starts_with(&r),
            _ => false,
        };
        if !inside {
            return Response::error(404, "Nothing matches the given URI");
        }
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() <= MAX_FILE => match std::fs::read(path) {
            Ok(b) => Response::new(200, ct, b),
            Err(e) => Response::error(404, &format!("cannot read the file: {}", e.kind())),
        },
        Ok(m) if m.is_file() => Response::error(413, "file too large"),
        _ => Response::error(404, "Nothing matches the given URI"),
    }
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

impl ApiLoop {
    /// Binds the listener (so a taken port is reported before detaching).
    pub fn bind(
        cfg: ApiConfig,
        eauth: crate::api::eauth::EauthConfig,
    ) -> Result<ApiLoop, ApiLoopError> {
        raise_fd_limit();
        let tls = match &cfg.tls {
            Some(f) => Some(
                tls::server_config(&f.crt, &f.key, f.chain.as_deref())
                    .map_err(|e| ApiLoopError::Config(e.to_string()))?,
            ),
            None => None,
        };
        let addr_text = if cfg.host.contains(':') {
            format!("[{}]:{}", cfg.host, cfg.port)
        } else {
            format!("{}:{}", cfg.host, cfg.port)
        };
        let addr: std::net::SocketAddr = addr_text.parse().map_err(|_| {
            ApiLoopError::Config(format!(
                "rest_cherrypy: host '{}' is not an IP address",
                cfg.host
            ))
        })?;
        let mut listener =
            TcpListener::bind(addr).map_err(|e| ApiLoopError::Bind(addr_text.clone(), e))?;
        {
            use std::os::fd::AsRawFd;
            // SAFETY: listen on our own listening socket only changes its backlog.
            unsafe { libc::listen(listener.as_raw_fd(), 4096) };
        }
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let signals = Signals::register(poll.registry(), SIGNALS)?;
        let (tx, rx) = mpsc::channel();
        let done = Arc::new(Mutex::new(Vec::new()));
        {
            let done = done.clone();
            let waker = waker.clone();
            std::thread::Builder::new()
                .name("brine-api-work".into())
                .spawn(move || worker(rx, done, waker, eauth))?;
        }
        let limits = Limits {
            max_header: cfg.max_header,
            max_body: cfg.max_body,
        };
        let socket_path = crate::client::master_socket(&cfg.sock_dir);
        let api = Api::new(cfg).map_err(ApiLoopError::Config)?;
        Ok(ApiLoop {
            poll,
            listener,
            tls,
            api,
            limits,
            conns: HashMap::new(),
            calls: HashMap::new(),
            req_conn: HashMap::new(),
            link: Link {
                sock: None,
                reader: FrameReader::new(64 << 20),
                out: Vec::new(),
                off: 0,
                retry_at: Instant::now(),
            },
            next_token: FIRST_DYNAMIC,
            next_req: 1,
            later: Vec::new(),
            rearm: Vec::new(),
            jobs: tx,
            done,
            signals,
            socket_path,
            date: (0, String::new()),
        })
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    fn token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        t
    }

    /// Runs until TERM or INT; `ready` is called once the loop is up.
    pub fn run(mut self, ready: impl FnOnce()) -> Result<(), ApiLoopError> {
        self.connect_master();
        ready();
        log::info!(
            "brine-api listening on {}:{}{}",
            self.api.config().host,
            self.port(),
            if self.tls.is_some() { " (TLS)" } else { "" }
        );
        let mut events = Events::with_capacity(1024);
        let mut last_sweep = Instant::now();
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    WAKER => self.worker_done(),
                    SIGNALS => {
                        for s in self.signals.pending() {
                            match s {
                                SignalAction::Shutdown => {
                                    log::info!("brine-api stopping");
                                    return Ok(());
                                }
                                SignalAction::Reload => log::warn!("brine-api reads its configuration at start only: restart it to apply changes"),
                            }
                        }
                    }
                    MASTER => self.master_ready(),
                    t if self.calls.contains_key(&t) => self.call_ready(t),
                    t => self.conn_ready(t),
                }
            }
            self.worker_done();
            for _ in 0..64 {
                let again = std::mem::take(&mut self.rearm);
                if again.is_empty() {
                    break;
                }
                for t in again {
                    self.conn_ready(t);
                }
            }
            let clock = Now::read();
            let (now, wall) = (clock.mono, clock.wall);
            self.api.on_tick(clock);
            let due: Vec<(ReqId, Response)> = {
                let (due, keep): (Vec<_>, Vec<_>) =
                    self.later.drain(..).partition(|(t, ..)| *t <= now);
                self.later = keep;
                due.into_iter().map(|(_, id, r)| (id, r)).collect()
            };
            for (id, r) in due {
                self.answer(id, r);
            }
            self.carry_out();
            if now.duration_since(last_sweep) >= Duration::from_millis(500) {
                last_sweep = now;
                self.sweep(now, wall);
                self.connect_master();
            }
        }
    }

    fn poll_timeout(&self) -> Duration {
        if !self.rearm.is_empty() {
            return Duration::ZERO;
        }
        let mut t = Duration::from_millis(500);
        let now = Instant::now();
        if let Some(d) = self.api.next_deadline() {
            t = t.min(d.saturating_duration_since(now));
        }
        for (at, ..) in &self.later {
            t = t.min(at.saturating_duration_since(now));
        }
        t
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((sock, addr)) => {
                    if self.conns.len() >= self.api.config().max_connections {
                        log::warn!(
                            "refused a connection from {addr}: max_connections ({}) are open",
                            self.api.config().max_connections
                        );
                        drop(sock);
                        continue;
                    }
                    let _ = sock.set_nodelay(true);
                    let mut t = match Transport::new(sock, self.tls.as_ref()) {
                        Ok(t) => t,
                        Err(e) => {
                            log::warn!("{e}");
                            continue;
                        }
                    };
                    let token = self.token();
                    if self
                        .poll
                        .registry()
                        .register(t.socket(), token, Interest::READABLE)
                        .is_err()
                    {
                        continue;
                    }
                    self.conns.insert(
                        token,
                        Conn {
                            t,
                            peer: addr.ip().to_string(),
                            inbuf: Vec::new(),
                            out: Vec::new(),
                            off: 0,
                            slots: VecDeque::new(),
                            stream: None,
                            last_active: Instant::now(),
                            started: None,
                            closing: false,
                            read_closed: false,
                            writable_interest: false,
                            read_paused: false,
                        },
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors, most often: the connections already open go on.
                    log::warn!("accept: {e}");
                    return;
                }
            }
        }
    }

    fn conn_ready(&mut self, t: Token) {
        self.read_conn(t);
        self.flush_conn(t);
    }

    fn read_conn(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        if c.closing || c.read_closed {
            return;
        }
        if c.stream.is_some() {
            // An /events client sends nothing more; what it sends is read and dropped.
            let mut sink = Vec::new();
            match c.t.read_into(&mut sink, 64 * 1024) {
                Ok(r) if r.eof => c.closing = true,
                Err(_) => c.closing = true,
                _ => {}
            }
            return;
        }
        let budget = self.limits.max_header + self.limits.max_body + 4096;
        if c.slots.len() >= MAX_IN_FLIGHT || c.inbuf.len() >= budget {
            // Readiness is edge-triggered: what stays in the socket now is read when room
            // comes back (`rearm`), not on a wake-up that will not come.
            c.read_paused = true;
            return;
        }
        let room = budget.saturating_sub(c.inbuf.len()).max(1);
        match c.t.read_into(&mut c.inbuf, room) {
            Ok(r) => {
                if r.bytes > 0 {
                    c.last_active = Instant::now();
                    if c.started.is_none() {
                        c.started = Some(c.last_active);
                    }
                }
                if r.eof {
                    c.read_closed = true;
                } else if r.bytes >= room {
                    // Stopped at the budget, not at WouldBlock: more may wait in the socket.
                    c.read_paused = true;
                }
            }
            Err(_) => {
                c.closing = true;
                c.out.clear();
                c.off = 0;
                return;
            }
        }
        self.parse_requests(t);
    }

    fn parse_requests(&mut self, t: Token) {
        loop {
            let Some(c) = self.conns.get_mut(&t) else {
                return;
            };
            if c.stream.is_some()
                || c.closing
                || c.slots.len() >= MAX_IN_FLIGHT
                || c.inbuf.is_empty()
            {
                break;
            }
            match http::parse(&c.inbuf, &self.limits) {
                Parsed::Partial => break,
                Parsed::Bad(status, why) => {
                    log::debug!("bad request from {}: {why}", c.peer);
                    let id = self.next_req;
                    self.next_req += 1;
                    c.inbuf.clear();
                    let date = self.date_now();
                    let Some(c) = self.conns.get_mut(&t) else {
                        return;
                    };
                    let bytes = Response::error(status, &why).encode(false, false, &date);
                    c.slots.push_back(Slot {
                        id,
                        bytes: Some(bytes),
                        close_after: true,
                    });
                    break;
                }
                Parsed::Done(req, n) => {
                    c.inbuf.drain(..n);
                    c.started = if c.inbuf.is_empty() {
                        None
                    } else {
                        Some(Instant::now())
                    };
                    let id = self.next_req;
                    self.next_req += 1;
                    let keep = req.keep_alive();
                    let head = req.method.eq_ignore_ascii_case("HEAD");
                    c.slots.push_back(Slot {
                        id,
                        bytes: None,
                        close_after: !keep,
                    });
                    let peer = c.peer.clone();
                    self.req_conn.insert(id, (t, keep, head));
                    self.api.on_request(Incoming { id, req, peer }, Now::read());
                    self.carry_out();
                    if !keep {
                        break;
                    }
                }
            }
        }
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        if c.read_closed && c.slots.is_empty() && c.stream.is_none() {
            c.closing = true;
        }
    }

    fn date_now(&mut self) -> String {
        let now = SystemTime::now();
        let secs = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if self.date.0 != secs || self.date.1.is_empty() {
            self.date = (secs, http::http_date(now));
        }
        self.date.1.clone()
    }

    /// Moves answered slots, in order, to the connection's output and writes it.
    fn flush_conn(&mut self, t: Token) {
        let Some(c) = self.conns.get_mut(&t) else {
            return;
        };
        while c.slots.front().is_some_and(|s| s.bytes.is_some()) {
            let Some(s) = c.slots.pop_front() else { break };
            if c.off > 0 && c.off == c.out.len() {
                c.out.clear();
                c.off = 0;
            }
            c.out.extend_from_slice(&s.bytes.unwrap_or_default());
            if s.close_after {
                c.closing = true;
                c.slots.clear();
                break;
            }
        }
        if c.off < c.out.len() || c.t.wants_write() {
            if c.t.write_from(&c.out, &mut c.off).is_err() {
                c.out.clear();
                c.off = 0;
                c.closing = true;
            }
            if c.off == c.out.len() {
                c.out.clear();
                c.off = 0;
                if c.out.capacity() > 65536 {
                    c.out.shrink_to(16384);
                }
            }
        }
        let pending_out = c.off < c.out.len() || c.t.wants_write();
        if c.closing && !pending_out {
            self.close(t);
            return;
        }
        let interest = if pending_out {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        // epoll_ctl only when the interest changes: most answers fit the socket at once.
        if c.writable_interest != pending_out {
            c.writable_interest = pending_out;
            let _ = self.poll.registry().reregister(c.t.socket(), t, interest);
        }
        // Requests that waited for room may go now, and a paused reader reads again (from
        // the loop, not from here, so that answering never recurses into reading).
        if c.read_paused && c.slots.len() < MAX_IN_FLIGHT && !c.closing {
            c.read_paused = false;
            self.rearm.push(t);
        }
        let Some(c) = self.conns.get(&t) else {
            return;
        };
        if !c.inbuf.is_empty() && c.slots.len() < MAX_IN_FLIGHT && c.stream.is_none() && !c.closing
        {
            self.parse_requests(t);
            if let Some(c) = self.conns.get(&t) {
                if c.slots.front().is_some_and(|s| s.bytes.is_some()) {
                    self.flush_conn(t);
                }
            }
        }
    }

    fn close(&mut self, t: Token) {
        if let Some(mut c) = self.conns.remove(&t) {
            let _ = self.poll.registry().deregister(c.t.socket());
            for s in &c.slots {
                self.req_conn.remove(&s.id);
            }
            if let Some(s) = c.stream.take() {
                self.api.stream_closed(s.lost);
            }
        }
    }

    fn answer(&mut self, id: ReqId, r: Response) {
        let Some((t, keep, head)) = self.req_conn.remove(&id) else {
            return;
        };
        let date = self.date_now();
        let bytes = r.encode(keep, head, &date);
        if let Some(c) = self.conns.get_mut(&t) {
            if let Some(s) = c.slots.iter_mut().find(|s| s.id == id) {
                s.bytes = Some(bytes);
            }
        }
        self.flush_conn(t);
    }

    /// Carries out what the core asked for.
    fn carry_out(&mut self) {
        loop {
            let outs = self.api.take_out();
            if outs.is_empty() {
                return;
            }
            for o in outs {
                match o {
                    Out::Respond(id, r) => self.answer(id, r),
                    Out::RespondLater(id, r, d) => self.later.push((Instant::now() + d, id, r)),
                    Out::Stream(id, head, spec) => self.start_stream(id, head, spec),
                    Out::Fire(tag, data) => self.fire(&tag, data),
                    Out::Call(op, req) => self.start_call(op, &req),
                    Out::Authenticate(op, e, u, p) => {
                        let _ = self.jobs.send(Job::Auth(op, e, u, p));
                    }
                    Out::ServeFile(id, path, root, ct) => {
                        let _ = self.jobs.send(Job::File(id, path, root, ct));
                    }
                    Out::EndStreams(token) => {
                        let ends: Vec<Token> = self
                            .conns
                            .iter()
                            .filter(|(_, c)| {
                                c.stream.as_ref().is_some_and(|s| s.spec.token == token)
                            })
                            .map(|(t, _)| *t)
                            .collect();
                        for t in ends {
                            self.end_stream(t);
                        }
                    }
                }
            }
        }
    }

    fn end_stream(&mut self, t: Token) {
        if let Some(c) = self.conns.get_mut(&t) {
            // The chunked body's end: the client sees a clean close.
            c.out.extend_from_slice(b"0\r\n\r\n");
            c.closing = true;
        }
        self.flush_conn(t);
    }

    fn start_stream(&mut self, id: ReqId, head: Response, spec: StreamSpec) {
        let Some((t, _, _)) = self.req_conn.remove(&id) else {
            self.api.stream_closed(0);
            return;
        };
        let date = self.date_now();
        let mut bytes = http::stream_head(head.status, &head.headers, &date);
        bytes.extend_from_slice(&http::chunk(crate::api::sse::START));
        if let Some(c) = self.conns.get_mut(&t) {
            if let Some(s) = c.slots.iter_mut().find(|s| s.id == id) {
                s.bytes = Some(bytes);
            }
            c.stream = Some(Stream { spec, lost: 0 });
            c.inbuf.clear();
        }
        self.flush_conn(t);
    }

    fn worker_done(&mut self) {
        let done: Vec<Done> = match self.done.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => Vec::new(),
        };
        for d in done {
            match d {
                Done::Auth(op, r) => self.api.on_auth(op, r, Now::read()),
                Done::File(id, r) => self.api.respond_file(id, r),
            }
        }
        self.carry_out();
    }

    /// Cuts off slow and idle connections and ends streams whose token expired.
    fn sweep(&mut self, now: Instant, wall: SystemTime) {
        let cfg = self.api.config();
        let idle = Duration::from_secs(cfg.idle_timeout);
        let slow = Duration::from_secs(cfg.request_timeout);
        let w = unix(wall);
        let mut cut = Vec::new();
        let mut timed_out = Vec::new();
        let mut ends = Vec::new();
        for (t, c) in &self.conns {
            if let Some(s) = &c.stream {
                if s.spec.expire <= w {
                    ends.push(*t);
                }
                continue;
            }
            if c.started.is_some_and(|s| now.duration_since(s) > slow) {
                timed_out.push(*t);
            } else if c.slots.is_empty()
                && c.off >= c.out.len()
                && now.duration_since(c.last_active) > idle
            {
                cut.push(*t);
            }
        }
        for t in cut {
            self.close(t);
        }
        for t in timed_out {
            let date = self.date_now();
            if let Some(c) = self.conns.get_mut(&t) {
                log::debug!(
                    "cut off {}: no whole request within request_timeout",
                    c.peer
                );
                let id = self.next_req;
                self.next_req += 1;
                c.inbuf.clear();
                c.started = None;
                c.slots.push_back(Slot {
                    id,
                    bytes: Some(
                        Response::error(408, "request_timeout").encode(false, false, &date),
                    ),
                    close_after: true,
                });
            }
            self.flush_conn(t);
        }
        for t in ends {
            self.end_stream(t);
        }
    }
}
