//! The orchestrations' blocking work (an SLS render, a command, a state function on the
//! master), each on a thread of its own so the master's loop never waits for it; a finished
//! piece wakes the loop.

use crate::orchestrate::work::{self, Done, Work};
use std::sync::mpsc;
use std::sync::Arc;

/// Most pieces of work running at once; more wait their turn in the queue.
const MAX_THREADS: usize = 8;

/// The work in flight and what finished.
pub struct Steps {
    waker: Arc<mio::Waker>,
    tx: mpsc::Sender<(u64, Done)>,
    rx: mpsc::Receiver<(u64, Done)>,
    queued: std::collections::VecDeque<(u64, Work)>,
    running: usize,
}

impl Steps {
    /// No work yet; each finished piece wakes the loop through `waker`.
    pub fn new(waker: Arc<mio::Waker>) -> Steps {
        let (tx, rx) = mpsc::channel();
        Steps {
            waker,
            tx,
            rx,
            queued: std::collections::VecDeque::new(),
            running: 0,
        }
    }

    /// Starts `work` (numbered `key`) when a thread is free.
    pub fn submit(&mut self, key: u64, work: Work) {
        self.queued.push_back((key, work));
        self.start();
    }

    fn start(&mut self) {
        while self.running < MAX_THREADS {
            let Some((key, work)) = self.queued.pop_front() else {
                return;
            };
            let tx = self.tx.clone();
            let waker = self.waker.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("orchestrate-{key}"))
                .spawn(move || {
                    let done = work::run(work);
                    let _ = tx.send((key, done));
                    let _ = waker.wake();
                });
            match spawned {
                Ok(_) => self.running += 1,
                Err(e) => {
                    log::error!("cannot start a thread for orchestration work: {e}");
                    let why = format!("cannot start a thread: {e}");
                    let _ = self.tx.send((key, Done::Rendered(Err(vec![why]))));
                    let _ = self.waker.wake();
                }
            }
        }
    }

    /// The pieces that finished, with their numbers.
    pub fn finished(&mut self) -> Vec<(u64, Done)> {
        let done: Vec<(u64, Done)> = self.rx.try_iter().collect();
        self.running = self.running.saturating_sub(done.len());
        self.start();
        done
    }
}
