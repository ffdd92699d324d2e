//! Job returns to the master: each is kept and sent again until the master acknowledges
//! it or the tries run out.

use super::{Minion, Timer};
use crate::clock::Now;
use crate::proto::Load;
use std::time::{Duration, Instant};

/// A return sent to the master and not acknowledged yet.
#[derive(Debug)]
pub(super) struct PendingReturn {
    pub(super) load: Load,
    pub(super) ctr: u64,
    pub(super) tries: u64,
    due: Instant,
}

impl Minion {
    /// Sends a return and remembers it until the master acknowledges it.
    pub(super) fn send_return(&mut self, now: Now, load: Load, tries: u64) {
        let ctr = self.send_load(&load).unwrap_or(0);
        let wait = {
            let lo = self.cfg.return_retry_timer.max(1);
            let hi = self.cfg.return_retry_timer_max.max(lo);
            lo + self.rng.below((hi - lo + 1).min(u32::MAX as u64) as u32) as u64
        };
        self.returns.push(PendingReturn {
            load,
            ctr,
            tries: tries + 1,
            due: crate::clock::later(now.mono, Duration::from_secs(wait)),
        });
        self.arm_return_retry();
    }

    fn arm_return_retry(&mut self) {
        match self.returns.iter().map(|p| p.due).min() {
            Some(at) => self.timers.set(Timer::ReturnRetry, at),
            None => self.timers.cancel(Timer::ReturnRetry),
        }
    }

    pub(super) fn retry_returns(&mut self, now: Now) {
        let (due, keep): (Vec<PendingReturn>, Vec<PendingReturn>) =
            std::mem::take(&mut self.returns)
                .into_iter()
                .partition(|p| p.due <= now.mono);
        self.returns = keep;
        for p in due {
            if p.tries > self.cfg.return_retry_tries {
                log::error!("giving up a job return the master never acknowledged");
                continue;
            }
            log::info!("sending a job return again (try {})", p.tries + 1);
            self.send_return(now, p.load, p.tries);
        }
        self.arm_return_retry();
    }
}
