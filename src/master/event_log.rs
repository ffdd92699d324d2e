//! The master's durable event log in the loop's group commit: every event the bus stored
//! this turn is appended once, and synced per `event_log_sync`.

use super::Master;
use crate::clock::Now;
use crate::event_log::{EventLog, LogConfig, LogError, Recovered, SyncPolicy};
use std::time::Duration;

/// Bytes of one segment file: retention drops whole segments, so this is its grain.
const SEGMENT_BYTES: u64 = 64 << 20;

/// The log's settings from the master's configuration.
pub fn log_config(cfg: &crate::config::MasterConfig) -> LogConfig {
    LogConfig {
        dir: cfg.event_log_dir.clone(),
        max_bytes: cfg.event_log_size,
        retention: (cfg.event_log_retention > 0)
            .then(|| Duration::from_secs(cfg.event_log_retention)),
        // The configuration check accepted the value already.
        sync: SyncPolicy::parse(&cfg.event_log_sync).unwrap_or(SyncPolicy::Commit),
        segment_bytes: SEGMENT_BYTES.min(cfg.event_log_size.max(1 << 20)),
    }
}

/// Opens (and recovers) the log the configuration names.
pub fn open(cfg: &crate::config::MasterConfig) -> Result<(EventLog, Recovered), LogError> {
    EventLog::open(log_config(cfg))
}

impl Master {
    /// Attaches the opened event log: the bus numbers events from where the log left off
    /// and replays listeners that fall off the ring from it.
    pub fn set_event_log(&mut self, log: EventLog) {
        self.bus.attach_log(log.next_seq());
        self.event_log = Some(log);
    }

    /// The event log's directory, when it is on.
    pub fn event_log_dir(&self) -> Option<&std::path::Path> {
        self.event_log.as_ref().map(|l| l.dir())
    }

    /// Appends what the bus stored since the last commit and writes it out.
    pub(super) fn commit_event_log(&mut self, now: Now) {
        let Some(log) = self.event_log.as_mut() else {
            return;
        };
        let mut failed = None;
        self.bus.take_unlogged(&mut |seq, nanos, event| {
            if let Err(e) = log.append(seq, nanos, event) {
                failed.get_or_insert(e);
            }
        });
        let result = match failed {
            Some(e) => Err(e),
            None => log.commit(now.mono),
        };
        if let Err(e) = result {
            // The records stay buffered and the next commit retries: a full disk delays
            // the log, it does not lose events or stop the bus.
            crate::log_limited!(Error, "event-log", "event log: {e}");
        }
    }

    /// Syncs the log when `event_log_sync`'s interval is due.
    pub(super) fn sync_event_log(&mut self, now: Now) {
        if let Some(log) = self.event_log.as_mut() {
            if log.next_deadline().is_some_and(|at| at <= now.mono) {
                if let Err(e) = log.sync_due(now.mono) {
                    crate::log_limited!(Error, "event-log", "event log: {e}");
                }
            }
        }
    }
}
