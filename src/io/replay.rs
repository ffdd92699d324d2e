//! Feeding a bus listener from the event log on disk, off the event loop's turn.
//!
//! A listener that fell off the ring, or asked to start before its oldest event, is handed
//! to a replay thread: it reads the log's segments from the listener's place and writes the
//! matching events to a duplicate of the listener's socket (the loop writes nothing to it
//! meanwhile), in the same frames the ring holds. At the end of what the log holds it
//! reports the next sequence number, and the loop hands the listener back to the ring (or
//! to another replay if the ring moved on meanwhile). Disk reads and a slow reader block
//! only this thread.

use crate::bus::{ClientId, Replay, Since};
use crate::event_log::LogReader;
use crate::matcher::TagFilter;
use crate::wire;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;

/// Replays running at once at most; more wait their turn.
const MAX_THREADS: usize = 8;

/// A listener that takes nothing for this long while replayed is disconnected: it would
/// hold one of the few replay threads from listeners that read.
const STALL_MS: i32 = 10_000;

/// What a replay thread reports when it ends.
#[derive(Debug)]
pub struct Done {
    /// The listener.
    pub id: ClientId,
    /// The sequence number after the last record it looked at (0: it found none at or
    /// after the time it was to start from).
    pub next: u64,
    /// Records the log's retention dropped before they could be sent.
    pub gone: u64,
    /// Why it stopped early, if it did (the listener left, a damaged segment).
    pub error: Option<String>,
    /// The listener's stream may be mid-frame or missing what it was owed (a write failed
    /// part-way, the thread could not start or died): the loop disconnects it.
    pub broken: bool,
    /// It came from a thread that ran (not from a failure to start one).
    ran: bool,
}

/// The replay threads of one daemon.
pub struct Replays {
    dir: PathBuf,
    done_tx: mpsc::Sender<Done>,
    done_rx: mpsc::Receiver<Done>,
    waker: Arc<mio::Waker>,
    running: usize,
    waiting: Vec<(Replay, OwnedFd)>,
}

impl Replays {
    /// Replays from the log in `dir`; a thread that ends wakes the loop through `waker`.
    pub fn new(dir: PathBuf, waker: Arc<mio::Waker>) -> Replays {
        let (done_tx, done_rx) = mpsc::channel();
        Replays {
            dir,
            done_tx,
            done_rx,
            waker,
            running: 0,
            waiting: Vec::new(),
        }
    }

    /// Starts (or queues) a replay to the listener whose socket is `fd`.
    pub fn start(&mut self, replay: Replay, fd: BorrowedFd<'_>) {
        let fd = match fd.try_clone_to_owned() {
            Ok(fd) => fd,
            Err(e) => {
                let _ = self.done_tx.send(Done {
                    id: replay.id,
                    next: 0,
                    gone: 0,
                    error: Some(format!("cannot duplicate its socket: {e}")),
                    broken: true,
                    ran: false,
                });
                let _ = self.waker.wake();
                return;
            }
        };
        self.waiting.push((replay, fd));
        self.spawn_waiting();
    }

    fn spawn_waiting(&mut self) {
        while self.running < MAX_THREADS && !self.waiting.is_empty() {
            let (replay, fd) = self.waiting.remove(0);
            let dir = self.dir.clone();
            let tx = self.done_tx.clone();
            let waker = Arc::clone(&self.waker);
            let id = replay.id;
            let spawned = std::thread::Builder::new()
                .name(format!("replay-{id}"))
                .spawn(move || {
                    // A panic must still report, or the listener would wait for good.
                    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run(&dir, replay, fd)
                    }))
                    .unwrap_or_else(|_| Done {
                        id,
                        next: 0,
                        gone: 0,
                        error: Some("the replay thread panicked".into()),
                        broken: true,
                        ran: true,
                    });
                    let _ = tx.send(done);
                    let _ = waker.wake();
                });
            match spawned {
                Ok(_) => self.running += 1,
                Err(e) => {
                    let _ = self.done_tx.send(Done {
                        id,
                        next: 0,
                        gone: 0,
                        error: Some(format!("cannot start a replay thread: {e}")),
                        broken: true,
                        ran: false,
                    });
                    let _ = self.waker.wake();
                }
            }
        }
    }

    /// Replays that ended since the last call.
    pub fn finished(&mut self) -> Vec<Done> {
        let done: Vec<Done> = self.done_rx.try_iter().collect();
        let ran = done.iter().filter(|d| d.ran).count();
        self.running = self.running.saturating_sub(ran);
        self.spawn_waiting();
        done
    }

    /// Forgets a queued replay of a listener that left (a running one ends by itself: the
    /// socket it writes to is shut down).
    pub fn forget(&mut self, id: ClientId) {
        self.waiting.retain(|(r, _)| r.id != id);
    }
}

fn wants(filters: &[TagFilter], tag: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| f.is_match(tag))
}

fn run(dir: &std::path::Path, replay: Replay, fd: OwnedFd) -> Done {
    let Replay {
        id,
        from,
        filters,
        preamble,
    } = replay;
    let mut done = Done {
        id,
        next: match from {
            Since::Seq(s) => s,
            Since::Time(_) => 0,
        },
        gone: 0,
        error: None,
        broken: false,
        ran: true,
    };
    let mut sock = Socket(UnixStream::from(fd));
    if let Err(e) = sock.write_all(&preamble) {
        done.error = Some(format!("write: {e}"));
        done.broken = true;
        return done;
    }
    let reader = match from {
        Since::Seq(s) => LogReader::open_at_seq(dir, s),
        Since::Time(t) => LogReader::open_at_time(dir, (t.max(0.0) * 1e9) as u64),
    };
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => {
            done.error = Some(e.to_string());
            return done;
        }
    };
    // `done.next` moves past a record only once its frame is written whole (or it was not
    // wanted): `pending_next` is where it goes when `out` is.
    let mut out = Vec::with_capacity(256 * 1024);
    let mut pending_next = done.next;
    let result: Result<(), String> = loop {
        match reader.next() {
            Ok(Some(rec)) => {
                // A jump past where it was to start: retention dropped those records.
                if pending_next != 0 && rec.seq > pending_next {
                    done.gone += rec.seq - pending_next;
                }
                pending_next = rec.seq + 1;
                // Records were validated when published: only the tag is read here.
                if !wire::tag_of(&rec.event).is_some_and(|tag| wants(&filters, tag)) {
                    if out.is_empty() {
                        done.next = pending_next;
                    }
                    continue;
                }
                wire::put_seq_event(&mut out, rec.seq, &rec.event);
                if out.len() >= 128 * 1024 {
                    if let Err(e) = sock.write_all(&out) {
                        done.broken = true;
                        break Err(format!("write: {e}"));
                    }
                    out.clear();
                    done.next = pending_next;
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e.to_string()),
        }
    };
    // What was read before a damaged record still goes out.
    if !done.broken {
        if let Err(e) = sock.write_all(&out) {
            done.error = Some(format!("write: {e}"));
            done.broken = true;
            return done;
        }
        done.next = pending_next;
    }
    if let Err(e) = result {
        done.error = Some(e);
    }
    done
}

/// The listener's socket, shared with the loop and so non-blocking: a write that would
/// block waits for the socket to drain.
struct Socket(UnixStream);

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(self.0.as_fd())?,
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn wait_writable(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one pollfd on this stack frame, for a descriptor this thread holds open.
    let r = unsafe { libc::poll(&mut p, 1, STALL_MS) };
    match r {
        r if r < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            }
        }
        0 => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the listener read nothing for 10 s while being replayed",
        )),
        _ if p.revents & (libc::POLLERR | libc::POLLHUP) != 0 => {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        _ => Ok(()),
    }
}
