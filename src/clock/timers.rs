//! One table of named deadlines; its earliest entry sets the event loop's poll timeout.
//!
//! Like quinn-proto's `TimerTable`: a timer is identified by a key, setting it again
//! moves it, and the loop asks for the next deadline and for the keys that expired.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Named deadlines keyed by `K`.
#[derive(Debug)]
pub struct Timers<K: Copy + Eq + Hash + Ord> {
    by_key: HashMap<K, Instant>,
    ordered: BTreeSet<(Instant, K)>,
}

impl<K: Copy + Eq + Hash + Ord> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_key: HashMap::new(),
            ordered: BTreeSet::new(),
        }
    }
}

impl<K: Copy + Eq + Hash + Ord> Timers<K> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or moves) the timer `key` to fire at `at`.
    pub fn set(&mut self, key: K, at: Instant) {
        if let Some(old) = self.by_key.insert(key, at) {
            self.ordered.remove(&(old, key));
        }
        self.ordered.insert((at, key));
    }

    /// Cancels the timer `key` if it is set.
    pub fn cancel(&mut self, key: K) {
        if let Some(old) = self.by_key.remove(&key) {
            self.ordered.remove(&(old, key));
        }
    }

    /// When `key` fires, if it is set.
    pub fn get(&self, key: K) -> Option<Instant> {
        self.by_key.get(&key).copied()
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.ordered.first().map(|(at, _)| *at)
    }

    /// How long `poll` may sleep from `now`: zero if a timer is already due.
    pub fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        self.next_deadline()
            .map(|at| at.saturating_duration_since(now))
    }

    /// Removes and returns the earliest timer that is due at `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<K> {
        let (at, key) = *self.ordered.first()?;
        if at > now {
            return None;
        }
        self.ordered.remove(&(at, key));
        self.by_key.remove(&key);
        Some(key)
    }

    /// Number of timers set.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True when no timer is set.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_moving_a_timer() {
        let t0 = Instant::now();
        let mut t = Timers::new();
        t.set(1u8, t0 + Duration::from_secs(5));
        t.set(2u8, t0 + Duration::from_secs(1));
        t.set(1u8, t0 + Duration::from_millis(500));
        assert_eq!(t.poll_timeout(t0), Some(Duration::from_millis(500)));
        assert_eq!(t.pop_expired(t0), None);
        assert_eq!(t.pop_expired(t0 + Duration::from_secs(2)), Some(1));
        assert_eq!(t.pop_expired(t0 + Duration::from_secs(2)), Some(2));
        assert!(t.is_empty());
        t.set(3u8, t0);
        t.cancel(3u8);
        assert_eq!(t.next_deadline(), None);
    }
}
