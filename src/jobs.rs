//! Job ids: Salt's 20-digit `%Y%m%d%H%M%S%f` jids, strictly increasing per generator.

use std::time::SystemTime;

/// Hands out strictly increasing jids, bumping 1 µs past the last one when the clock
/// has not moved (or moved backwards), as Salt does.
#[derive(Debug, Default)]
pub struct JidGen {
    last: u128,
}

impl JidGen {
    /// A generator that has issued nothing yet.
    pub fn new() -> JidGen {
        JidGen::default()
    }

    /// The next jid for `now`.
    pub fn next(&mut self, now: SystemTime) -> String {
        let mut n = crate::clock::jid_number(now);
        if n <= self.last {
            n = self.last + 1;
        }
        self.last = n;
        format!("{n:020}")
    }
}

/// Salt's `is_jid`: 20 digits, optionally followed by `_` and a suffix.
pub fn is_jid(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b.len() >= 20 && b[..20].iter().all(u8::is_ascii_digit);
    digits && (b.len() == 20 || (b.len() > 21 && b[20] == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn jids_are_strictly_increasing_even_when_the_clock_stalls() {
        let t = UNIX_EPOCH + Duration::from_micros(1_714_557_600_123_456);
        let mut g = JidGen::new();
        assert_eq!(g.next(t), "20240501100000123456");
        assert_eq!(g.next(t), "20240501100000123457");
        assert_eq!(g.next(t - Duration::from_secs(1)), "20240501100000123458");
        assert!(is_jid(&g.next(t)));
    }

    #[test]
    fn is_jid_follows_salt() {
        assert!(is_jid("20240501100000123456"));
        assert!(is_jid("20240501100000123456_123"));
        assert!(!is_jid("20240501100000123456_"));
        assert!(!is_jid("2024050110000012345"));
        assert!(!is_jid("2024050110000012345x"));
    }
}
