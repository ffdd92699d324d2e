//! The one owner of each ZeroMQ socket, with its cached `ZMQ_EVENTS`.
//!
//! `ZMQ_FD` is edge-triggered and only means "look at `ZMQ_EVENTS`": libzmq may consume
//! the edge itself (during a send, for instance) and never wake `poll` again while
//! messages sit in the queue. So after every wake-up and after every send or receive,
//! failed ones too, the cached events are refreshed, and the loop keeps draining while
//! they say `POLLIN` and re-checks before it sleeps (pushpin's `zmq.rs`, calloop's
//! ZeroMQ chapter). Nothing else in brine names a zmq type.

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::fmt;

/// A ZeroMQ context (one per daemon).
pub struct ZContext {
    ctx: zmq::Context,
}

impl Default for ZContext {
    fn default() -> Self {
        ZContext {
            ctx: zmq::Context::new(),
        }
    }
}

impl ZContext {
    /// A new context with libzmq's default I/O thread.
    pub fn new() -> ZContext {
        ZContext::default()
    }
}

/// The socket types brine uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZKind {
    /// Publisher (master, port 4505).
    Pub,
    /// Subscriber (minion).
    Sub,
    /// Router (master, port 4506).
    Router,
    /// Dealer (minion).
    Dealer,
    /// Push end of a pipeline.
    Push,
    /// Pull end of a pipeline.
    Pull,
}

/// A ZeroMQ failure, with what was being done.
#[derive(Debug)]
pub struct ZError {
    /// What brine was doing, e.g. `bind tcp://0.0.0.0:4505`.
    pub op: String,
    /// libzmq's error.
    pub err: zmq::Error,
}

impl fmt::Display for ZError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.err)
    }
}

impl std::error::Error for ZError {}

fn zerr(op: impl Into<String>) -> impl FnOnce(zmq::Error) -> ZError {
    let op = op.into();
    move |err| ZError { op, err }
}

/// A non-blocking ZeroMQ socket driven by the event loop.
pub struct ZSocket {
    sock: zmq::Socket,
    events: zmq::PollEvents,
}

impl ZSocket {
    /// Creates a socket with linger 0 (a daemon never hangs on exit for unsent messages).
    pub fn new(ctx: &ZContext, kind: ZKind) -> Result<ZSocket, ZError> {
        let t = match kind {
            ZKind::Pub => zmq::PUB,
            ZKind::Sub => zmq::SUB,
            ZKind::Router => zmq::ROUTER,
            ZKind::Dealer => zmq::DEALER,
            ZKind::Push => zmq::PUSH,
            ZKind::Pull => zmq::PULL,
        };
        let sock = ctx.ctx.socket(t).map_err(zerr("create socket"))?;
        sock.set_linger(0).map_err(zerr("set linger"))?;
        if kind == ZKind::Sub {
            sock.set_subscribe(b"").map_err(zerr("subscribe"))?;
        }
        Ok(ZSocket {
            sock,
            events: zmq::PollEvents::empty(),
        })
    }

    /// How long closing the socket may wait to deliver queued messages, in milliseconds.
    pub fn set_linger(&self, ms: i32) -> Result<(), ZError> {
        self.sock.set_linger(ms).map_err(zerr("set linger"))
    }

    /// Sets the send and receive high-water marks (messages).
    pub fn set_hwm(&self, hwm: i32) -> Result<(), ZError> {
        self.sock.set_sndhwm(hwm).map_err(zerr("set sndhwm"))?;
        self.sock.set_rcvhwm(hwm).map_err(zerr("set rcvhwm"))
    }

    /// Drops (and disconnects) peers that send a message larger than `bytes`.
    pub fn set_max_msg_size(&self, bytes: i64) -> Result<(), ZError> {
        self.sock
            .set_maxmsgsize(bytes)
            .map_err(zerr("set maxmsgsize"))
    }

    /// Sends a ZMTP heartbeat every `ivl_ms` and drops a peer that sends nothing back for
    /// `timeout_ms`.
    pub fn set_heartbeat(&self, ivl_ms: i32, timeout_ms: i32) -> Result<(), ZError> {
        self.sock
            .set_heartbeat_ivl(ivl_ms)
            .map_err(zerr("set heartbeat_ivl"))?;
        self.sock
            .set_heartbeat_timeout(timeout_ms)
            .map_err(zerr("set heartbeat_timeout"))
    }

    /// Reconnect backoff for connecting sockets, in milliseconds.
    pub fn set_reconnect(&self, ivl_ms: i32, max_ms: i32) -> Result<(), ZError> {
        self.sock
            .set_reconnect_ivl(ivl_ms)
            .map_err(zerr("set reconnect_ivl"))?;
        self.sock
            .set_reconnect_ivl_max(max_ms)
            .map_err(zerr("set reconnect_ivl_max"))
    }

    /// Binds to an endpoint such as `tcp://127.0.0.1:4505`.
    pub fn bind(&self, endpoint: &str) -> Result<(), ZError> {
        self.sock
            .bind(endpoint)
            .map_err(zerr(format!("bind {endpoint}")))
    }

    /// Connects to an endpoint (asynchronously: libzmq retries in the background).
    pub fn connect(&self, endpoint: &str) -> Result<(), ZError> {
        self.sock
            .connect(endpoint)
            .map_err(zerr(format!("connect {endpoint}")))
    }

    /// The endpoint actually bound (resolves port 0 to the ephemeral port).
    pub fn last_endpoint(&self) -> Result<String, ZError> {
        match self.sock.get_last_endpoint() {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(_)) => Err(ZError {
                op: "last endpoint".into(),
                err: zmq::Error::EINVAL,
            }),
            Err(e) => Err(zerr("last endpoint")(e)),
        }
    }

    /// Registers `ZMQ_FD` for read readiness and takes the first look at the events,
    /// since an edge may have passed before registration.
    pub fn register(&mut self, registry: &Registry, token: Token) -> Result<(), ZError> {
        let fd = self.sock.get_fd().map_err(zerr("get ZMQ_FD"))?;
        registry
            .register(&mut SourceFd(&fd), token, Interest::READABLE)
            .map_err(|e| ZError {
                op: format!("register ZMQ_FD: {e}"),
                err: zmq::Error::EINVAL,
            })?;
        self.refresh();
        Ok(())
    }

    /// Removes `ZMQ_FD` from the loop; call before dropping the socket.
    pub fn deregister(&mut self, registry: &Registry) {
        if let Ok(fd) = self.sock.get_fd() {
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
    }

    /// Re-reads `ZMQ_EVENTS`; a wake-up of `ZMQ_FD` means nothing more than "call this".
    ///
    /// A signal can interrupt the call (`EINTR`): it is retried, since taking that for "no
    /// events" would leave queued messages unread until the next edge, which may never come
    /// (pushpin retries the same way). Any other error (a closed context) is "no events"
    /// and logged.
    pub fn refresh(&mut self) {
        for _ in 0..16 {
            match self.sock.get_events() {
                Ok(ev) => {
                    self.events = ev;
                    return;
                }
                Err(zmq::Error::EINTR) => continue,
                Err(e) => {
                    crate::log_limited!(Warn, "zmq:events", "ZMQ_EVENTS: {e}");
                    self.events = zmq::PollEvents::empty();
                    return;
                }
            }
        }
        // Interrupted again and again: say "maybe" both ways; a receive or send that finds
        // nothing returns at once and reads ZMQ_EVENTS afresh.
        self.events = zmq::POLLIN | zmq::POLLOUT;
    }

    /// A message can be received without blocking (as of the last refresh).
    pub fn readable(&self) -> bool {
        self.events.contains(zmq::POLLIN)
    }

    /// A message can be sent without blocking (as of the last refresh).
    pub fn writable(&self) -> bool {
        self.events.contains(zmq::POLLOUT)
    }

    /// Receives one whole multipart message, or `None` when nothing is queued.
    pub fn recv(&mut self) -> Result<Option<Vec<Vec<u8>>>, ZError> {
        let r = self.sock.recv_multipart(zmq::DONTWAIT);
        self.refresh();
        match r {
            Ok(parts) => Ok(Some(parts)),
            Err(zmq::Error::EAGAIN) => Ok(None),
            Err(e) => Err(zerr("recv")(e)),
        }
    }

    /// Sends one multipart message; `false` when the high-water mark is reached.
    pub fn send(&mut self, parts: &[&[u8]]) -> Result<bool, ZError> {
        let r = self
            .sock
            .send_multipart(parts.iter().copied(), zmq::DONTWAIT);
        self.refresh();
        match r {
            Ok(()) => Ok(true),
            Err(zmq::Error::EAGAIN) => Ok(false),
            Err(e) => Err(zerr("send")(e)),
        }
    }
}
