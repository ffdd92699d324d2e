//! Wall-clock formatting in Salt's shapes: event `_stamp`s, jids and `asctime`.
//!
//! Only plain arithmetic on a `SystemTime` handed in by the caller: the cores stay
//! deterministic because they never read the clock themselves.

pub mod iso;
pub mod timers;

pub use iso::parse_iso8601;
pub use timers::Timers;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The two clocks a core needs: wall time for stamps and jids, monotonic for deadlines.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    /// Wall-clock time.
    pub wall: SystemTime,
    /// Monotonic time.
    pub mono: Instant,
}

impl Now {
    /// Reads both clocks (only the I/O layer calls this).
    pub fn read() -> Now {
        Now {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }
}

/// A UTC instant broken into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// Year, e.g. 2024.
    pub year: i64,
    /// Month 1..=12.
    pub month: u32,
    /// Day of month 1..=31.
    pub day: u32,
    /// Hour 0..=23.
    pub hour: u32,
    /// Minute 0..=59.
    pub minute: u32,
    /// Second 0..=59.
    pub second: u32,
    /// Microseconds 0..=999_999.
    pub micros: u32,
    /// Day of week, 0 = Monday.
    pub weekday: u32,
}

impl Civil {
    /// Breaks a `SystemTime` into UTC fields (times before 1970 clamp to the epoch).
    pub fn from_system(t: SystemTime) -> Civil {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let secs = d.as_secs() as i64;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: ((rem % 3600) / 60) as u32,
            second: (rem % 60) as u32,
            micros: d.subsec_micros(),
            // 1970-01-01 was a Thursday (3 with Monday = 0).
            weekday: ((days + 3).rem_euclid(7)) as u32,
        }
    }
}

// Howard Hinnant's days-to-civil: exact for the whole proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Salt's `_stamp`: naive UTC `YYYY-MM-DDTHH:MM:SS.ffffff`, always six fraction digits.
pub fn stamp(t: SystemTime) -> String {
    let c = Civil::from_system(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
    )
}

/// The 20-digit jid number for a time: `%Y%m%d%H%M%S%f` read as an integer.
pub fn jid_number(t: SystemTime) -> u128 {
    let c = Civil::from_system(t);
    let date = c.year.max(0) as u128 * 10_000 + c.month as u128 * 100 + c.day as u128;
    let time = c.hour as u128 * 10_000 + c.minute as u128 * 100 + c.second as u128;
    (date * 1_000_000 + time) * 1_000_000 + c.micros as u128
}

/// Python's `time.asctime()` for a UTC time, e.g. `Thu Jan  4 10:00:00 2024`.
pub fn asctime(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = Civil::from_system(t);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[c.weekday as usize % 7],
        MONTHS[(c.month as usize + 11) % 12],
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros as u64)
    }

    #[test]
    fn stamp_has_six_digits_even_at_zero_micros() {
        assert_eq!(stamp(at(0, 0)), "1970-01-01T00:00:00.000000");
        // 2024-05-01T10:00:00.123456 UTC
        assert_eq!(
            stamp(at(1_714_557_600, 123_456)),
            "2024-05-01T10:00:00.123456"
        );
    }

    #[test]
    fn leap_days_and_century_rules() {
        // 2000-02-29 and 2100-03-01 (2100 is not a leap year).
        assert_eq!(stamp(at(951_782_400, 0)), "2000-02-29T00:00:00.000000");
        assert_eq!(stamp(at(4_107_542_400, 1)), "2100-03-01T00:00:00.000001");
    }

    #[test]
    fn jid_is_twenty_digits() {
        let j = jid_number(at(1_714_557_600, 123_456));
        assert_eq!(j.to_string(), "20240501100000123456");
    }

    #[test]
    fn asctime_pads_the_day_with_a_space() {
        // 2024-01-04 was a Thursday.
        assert_eq!(asctime(at(1_704_362_400, 0)), "Thu Jan  4 10:00:00 2024");
    }
}

/// Python's `time.asctime()` as Salt calls it, in local time (the `TZ` environment
/// variable or /etc/localtime, through the C library).
pub fn asctime_local(t: SystemTime) -> String {
    asctime(to_local(t))
}

/// Python's `datetime.now().time().isoformat()`, as a state's `start_time`: local
/// `HH:MM:SS.ffffff`, without the fraction when it is zero.
pub fn local_time_of_day(t: SystemTime) -> String {
    let c = Civil::from_system(to_local(t));
    if c.micros == 0 {
        format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second)
    } else {
        format!(
            "{:02}:{:02}:{:02}.{:06}",
            c.hour, c.minute, c.second, c.micros
        )
    }
}

/// `t` shifted by the local zone's offset at `t`, so UTC field breakdowns read local time.
fn to_local(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which lives on this stack frame.
    let offset = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            0
        } else {
            tm.tm_gmtoff
        }
    };
    let local = if offset >= 0 {
        t.checked_add(Duration::from_secs(offset as u64))
    } else {
        t.checked_sub(Duration::from_secs(offset.unsigned_abs()))
    };
    local.unwrap_or(t)
}

/// Delays past this are treated as "never" in practice: a century.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `at + d` for deadlines and timers, saturating at a century ahead: a configured interval
/// or a user's timeout of `u64::MAX` seconds must not overflow the clock (a panic).
pub fn later(at: std::time::Instant, d: Duration) -> std::time::Instant {
    at.checked_add(d.min(FOREVER)).unwrap_or(at)
}

/// A positive finite number of seconds as a `Duration`, at most a century (where
/// `Duration::from_secs_f64` would panic on `1e300`).
pub fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs)
        .unwrap_or(FOREVER)
        .min(FOREVER)
}

#[cfg(test)]
mod later_tests {
    use super::*;

    #[test]
    fn huge_delays_saturate_instead_of_panicking() {
        let now = std::time::Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(later(now, Duration::from_secs(u64::MAX)) > now + Duration::from_secs(1 << 30));
        assert!(later(now, Duration::MAX) > now);
        assert_eq!(seconds(1.5), Duration::from_millis(1500));
        assert_eq!(seconds(1e300), FOREVER);
        assert_eq!(seconds(f64::NAN), FOREVER);
    }
}
