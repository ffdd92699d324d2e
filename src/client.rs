//! The client side of a daemon's Unix socket, for the command-line tools and tests.
//!
//! CLIs are not event loops: a blocking stream with read timeouts is the simplest thing
//! that is correct here.

use crate::bus::{Answer, Request};
use crate::matcher::MatchType;
use crate::wire::{self, kind, FrameReader, Next};
use serde_json::{Map, Value};
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The master bus socket inside `sock_dir`.
pub fn master_socket(sock_dir: &Path) -> PathBuf {
    sock_dir.join("master_event.ipc")
}

/// The minion bus socket inside `sock_dir`.
pub fn minion_socket(sock_dir: &Path) -> PathBuf {
    sock_dir.join("minion_event.ipc")
}

/// What can go wrong talking to a daemon.
#[derive(Debug)]
pub enum ClientError {
    /// Nothing listens at the path.
    NoDaemon(PathBuf),
    /// This user may not open the socket (or a directory on its way).
    Denied(PathBuf),
    /// The daemon closed the connection.
    Closed,
    /// Nothing arrived in time.
    Timeout,
    /// The daemon refused a frame, with its reason.
    Refused(String),
    /// A malformed frame or event from the daemon.
    Wire(wire::WireError),
    /// A system call failed.
    Io(io::Error),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::NoDaemon(p) => write!(f, "no event bus at {}", p.display()),
            ClientError::Denied(p) => write!(
                f,
                "permission denied on {}: only root and the daemon's user may use it; run as one of them (sudo) or set sock_dir to a directory you can reach",
                p.display()
            ),
            ClientError::Closed => write!(f, "the daemon closed the connection"),
            ClientError::Timeout => write!(f, "timed out waiting for the daemon"),
            ClientError::Refused(why) => write!(f, "refused: {why}"),
            ClientError::Wire(e) => write!(f, "bad frame from the daemon: {e}"),
            ClientError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// A received event, owned.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedEvent {
    /// Its tag.
    pub tag: String,
    /// Its data.
    pub data: Map<String, Value>,
    /// Its sequence number on the daemon's bus (None for a notice the daemon made for this
    /// listener alone, such as `salt/event/lost`).
    pub seq: Option<u64>,
}

/// A connection to a daemon's bus socket.
pub struct BusClient {
    stream: UnixStream,
    reader: FrameReader,
    max_event_size: usize,
    skipped: u64,
    /// Events of this client's subscriptions that arrived while a call waited for its
    /// answer: `next_event` hands them out first, so a call never loses one.
    held: std::collections::VecDeque<OwnedEvent>,
}

fn read_event(frame: &[u8], seq: Option<u64>) -> Result<OwnedEvent, wire::WireError> {
    let ev = wire::Event::decode(frame, usize::MAX)?;
    Ok(OwnedEvent {
        tag: ev.tag().to_string(),
        data: ev.value()?,
        seq,
    })
}

impl BusClient {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> Result<BusClient, ClientError> {
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                ClientError::NoDaemon(path.to_path_buf())
            }
            io::ErrorKind::PermissionDenied => ClientError::Denied(path.to_path_buf()),
            _ => ClientError::Io(e),
        })?;
        Ok(BusClient {
            stream,
            // Events from the daemon can be up to its max_event_size; leave room.
            reader: FrameReader::new(64 << 20),
            max_event_size: 64 << 20,
            skipped: 0,
            held: std::collections::VecDeque::new(),
        })
    }

    /// Events skipped so far because they could not be read.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The underlying stream, for tools that read frames themselves (benchmarks).
    pub fn into_stream(self) -> UnixStream {
        self.stream
    }

    /// Sends one raw frame.
    pub fn send_frame(&mut self, k: u8, payload: &[u8]) -> Result<(), ClientError> {
        match self.stream.write_all(&wire::frame(k, payload)) {
            Ok(()) => Ok(()),
            // The daemon hung up, perhaps after saying why: read that rather than report
            // a broken pipe.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(self.why_closed()),
            Err(e) => Err(ClientError::Io(e)),
        }
    }

    /// What the daemon said before it closed the connection, if anything.
    fn why_closed(&mut self) -> ClientError {
        match self.next_frame(Some(Duration::from_millis(200))) {
            Ok((kind::ERROR, p)) => ClientError::Refused(String::from_utf8_lossy(&p).into_owned()),
            _ => ClientError::Closed,
        }
    }

    /// Fires an event (stamped, trimmed to `max_event_size`).
    pub fn fire(
        &mut self,
        tag: &str,
        data: Map<String, Value>,
        max_event_size: usize,
    ) -> Result<(), ClientError> {
        let bytes = wire::encode_fired(
            tag,
            data,
            crate::clock::stamp(SystemTime::now()),
            max_event_size,
        )
        .map_err(ClientError::Wire)?;
        self.send_frame(kind::FIRE, &bytes)
    }

    /// Subscribes to events whose tag matches `pattern` under `match_type`.
    pub fn subscribe(&mut self, match_type: MatchType, pattern: &str) -> Result<(), ClientError> {
        self.subscribe_since(match_type, pattern, None)
    }

    /// Subscribes from `since` (a sequence number or a time; None: from now): the daemon
    /// replays what it still holds from there, then follows live.
    pub fn subscribe_since(
        &mut self,
        match_type: MatchType,
        pattern: &str,
        since: Option<crate::bus::Since>,
    ) -> Result<(), ClientError> {
        let payload = crate::bus::subscribe_payload_since(match_type, pattern, since);
        self.send_frame(kind::SUBSCRIBE, &payload)
    }

    /// Waits for the next frame, up to `timeout` (None: forever).
    pub fn next_frame(&mut self, timeout: Option<Duration>) -> Result<(u8, Vec<u8>), ClientError> {
        let deadline = timeout.map(|t| crate::clock::later(Instant::now(), t));
        loop {
            match self.reader.next_frame() {
                Some(Next::Frame(k, p)) => return Ok((k, p.to_vec())),
                Some(Next::Oversize(n)) => {
                    return Err(ClientError::Wire(wire::WireError::TooLarge {
                        size: n,
                        max: self.max_event_size,
                    }))
                }
                Some(Next::Empty) => return Err(ClientError::Wire(wire::WireError::EmptyFrame)),
                None => {}
            }
            let wait = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(ClientError::Timeout);
                    }
                    Some(left)
                }
                None => None,
            };
            self.stream.set_read_timeout(wait)?;
            match self.reader.read_from(&mut self.stream) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ClientError::Timeout)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
    }

    /// Waits for the next event; an error frame from the daemon is returned as `Refused`.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<OwnedEvent, ClientError> {
        if let Some(ev) = self.held.pop_front() {
            return Ok(ev);
        }
        loop {
            let (k, p) = self.next_frame(timeout)?;
            let read = match k {
                kind::EVENT => Some(read_event(&p, None)),
                kind::SEQ_EVENT => {
                    Some(wire::split_seq(&p).and_then(|(seq, ev)| read_event(ev, Some(seq))))
                }
                _ => None,
            };
            if let Some(read) = read {
                // The daemon refuses at fire what cannot be read here; an event that still
                // cannot be read is skipped, not a reason to drop the connection and the
                // events behind it.
                match read {
                    Ok(ev) => return Ok(ev),
                    Err(e) => {
                        self.skipped += 1;
                        log::warn!("skipped an event the daemon sent that cannot be read: {e}");
                    }
                }
                continue;
            }
            match k {
                kind::ERROR => {
                    return Err(ClientError::Refused(
                        String::from_utf8_lossy(&p).into_owned(),
                    ))
                }
                _ => continue,
            }
        }
    }

    /// Calls a function in the daemon and waits for its answer; events of this client's
    /// subscriptions that arrive meanwhile wait for [`BusClient::next_event`].
    pub fn call(
        &mut self,
        req: &Request,
        timeout: Option<Duration>,
    ) -> Result<Answer, ClientError> {
        let mut held = Vec::new();
        let answer = self.call_watching(req, timeout, &mut |ev| held.push(ev));
        self.held.extend(held);
        answer
    }
}

impl BusClient {
    /// Calls a function in the daemon and waits for its answer, handing `on_event` each
    /// event of this client's subscriptions that arrives meanwhile.
    pub fn call_watching(
        &mut self,
        req: &Request,
        timeout: Option<Duration>,
        on_event: &mut dyn FnMut(OwnedEvent),
    ) -> Result<Answer, ClientError> {
        let payload = rmp_serde::to_vec_named(req)
            .map_err(|e| ClientError::Wire(wire::WireError::Data(e.to_string())))?;
        self.send_frame(kind::REQUEST, &payload)?;
        loop {
            let (k, p) = self.next_frame(timeout)?;
            match k {
                kind::ANSWER => {
                    return rmp_serde::from_slice(&p)
                        .map_err(|e| ClientError::Wire(wire::WireError::Data(e.to_string())))
                }
                kind::ERROR => {
                    return Err(ClientError::Refused(
                        String::from_utf8_lossy(&p).into_owned(),
                    ))
                }
                kind::EVENT => match read_event(&p, None) {
                    Ok(ev) => on_event(ev),
                    Err(e) => log::warn!("skipped an event that cannot be read: {e}"),
                },
                kind::SEQ_EVENT => {
                    match wire::split_seq(&p).and_then(|(seq, ev)| read_event(ev, Some(seq))) {
                        Ok(ev) => on_event(ev),
                        Err(e) => log::warn!("skipped an event that cannot be read: {e}"),
                    }
                }
                _ => continue,
            }
        }
    }
}

/// The user name Salt records for a CLI call: `sudo_<user>` under sudo.
pub fn calling_user() -> String {
    if let Ok(u) = std::env::var("SUDO_USER") {
        if !u.is_empty() {
            return format!("sudo_{u}");
        }
    }
    crate::config::current_user_name()
}
