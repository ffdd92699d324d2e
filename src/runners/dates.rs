//! Times for `jobs.list_jobs`' `start_time` and `end_time`: the common forms dateutil's parser
//! reads (as Salt's runner uses it), as naive UTC, like jids.

use super::jobs::jid_time;
use crate::clock::Civil;
use std::time::SystemTime;

/// Date and time fields as given; what is missing comes from `now` (date) or zero (time).
#[derive(Default)]
struct Fields {
    year: Option<i64>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
    minute: u32,
    second: u32,
    micro: u32,
    pm: Option<bool>,
}

const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const WEEKDAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Words dateutil skips, and zone names meaning UTC (jids are UTC).
const SKIPPED: [&str; 12] = [
    "at", "on", "and", "ad", "of", "t", "st", "nd", "rd", "th", "utc", "gmt",
];

/// `jan`, `janu`, ..., `january` (and `sept`) name a month; so do weekdays' prefixes a day.
fn name_index(word: &str, names: &[&str]) -> Option<usize> {
    if word.len() < 3 {
        return None;
    }
    names.iter().position(|n| n.starts_with(word))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Reads `H:M[:S[.f]]`.
fn parse_clock(tok: &str, f: &mut Fields) -> Option<()> {
    let mut parts = tok.split(':');
    let hour = parts.next()?;
    let minute = parts.next()?;
    let second = parts.next();
    if parts.next().is_some() || f.hour.is_some() {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    f.hour = Some(num(hour)?);
    f.minute = num(minute)?;
    if let Some(second) = second {
        let (whole, frac) = second.split_once('.').unwrap_or((second, ""));
        f.second = num(whole)?;
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Microseconds: the first six digits, right-padded.
        let six: String = frac.chars().chain("000000".chars()).take(6).collect();
        f.micro = six.parse().ok()?;
    }
    Some(())
}

/// Reads a numeric date with `-` or `/`: `Y-M-D` when it starts with four digits, else `M/D/Y`.
fn parse_numeric_date(tok: &str, f: &mut Fields) -> Option<()> {
    let parts: Vec<&str> = tok.split(['-', '/']).collect();
    if f.month.is_some()
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let n = |s: &str| s.parse::<i64>().ok();
    let small = |s: &str| s.parse::<u32>().ok();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 => {
            f.year = Some(n(y)?);
            f.month = Some(small(m)?);
            f.day = Some(small(d)?);
        }
        [y, m] if y.len() == 4 => {
            f.year = Some(n(y)?);
            f.month = Some(small(m)?);
        }
        [m, d, y] => {
            f.month = Some(small(m)?);
            f.day = Some(small(d)?);
            f.year = Some(full_year(n(y)?));
        }
        [m, d] => {
            f.month = Some(small(m)?);
            f.day = Some(small(d)?);
        }
        _ => return None,
    }
    Some(())
}

/// Two-digit years mean this century, as dateutil reads them near today.
fn full_year(y: i64) -> i64 {
    if y < 100 {
        2000 + y
    } else {
        y
    }
}

/// Parses a `start_time`/`end_time` into a jid-like number (`YYYYMMDDhhmmssffffff`) for
/// comparing with jids: Salt's own "2015, Mar 16 19:00" form, ISO 8601, `M/D/Y`, month names,
/// `am`/`pm`, a bare jid; a missing date is `now`'s, a missing time midnight (dateutil's rule).
pub(super) fn parse_time(input: &str, now: SystemTime) -> Result<u128, String> {
    let bad = || format!("ParserError: Unknown string format: {input}");
    let trimmed = input.trim();
    if let Some(t) = jid_time(trimmed) {
        return Ok(t);
    }
    let mut f = Fields::default();
    let mut numbers: Vec<String> = Vec::new();
    // ISO's `T` and a trailing `Z` are separators here.
    let spaced = trimmed.replace(|c: char| c == ',' || c.is_whitespace(), " ");
    let mut tokens: Vec<&str> = Vec::new();
    for word in spaced.split(' ').filter(|w| !w.is_empty()) {
        match word.split_once('T') {
            Some((date, clock)) if date.contains('-') && clock.contains(':') => {
                tokens.push(date);
                tokens.push(clock.trim_end_matches('Z'));
            }
            _ => tokens.push(word),
        }
    }
    if tokens.is_empty() {
        return Err(bad());
    }
    for tok in tokens {
        let lowered = tok.to_ascii_lowercase();
        let lower = lowered.trim_end_matches('.');
        // A trailing am/pm may be glued to the hour ("7pm", "7:30pm").
        let (body, meridian) = match lower.strip_suffix("am").or(lower.strip_suffix("a.m")) {
            Some(b) if !b.is_empty() && b.ends_with(|c: char| c.is_ascii_digit()) => {
                (b, Some(false))
            }
            _ => match lower.strip_suffix("pm").or(lower.strip_suffix("p.m")) {
                Some(b) if !b.is_empty() && b.ends_with(|c: char| c.is_ascii_digit()) => {
                    (b, Some(true))
                }
                _ => (lower, None),
            },
        };
        if meridian.is_some() {
            f.pm = meridian;
        }
        if body.contains(':') {
            parse_clock(body, &mut f).ok_or_else(bad)?;
        } else if body.contains(['-', '/']) && body.starts_with(|c: char| c.is_ascii_digit()) {
            parse_numeric_date(body, &mut f).ok_or_else(bad)?;
        } else if body.bytes().all(|b| b.is_ascii_digit()) {
            if meridian.is_some() {
                if f.hour.is_some() {
                    return Err(bad());
                }
                f.hour = Some(body.parse().map_err(|_| bad())?);
            } else {
                numbers.push(body.to_owned());
            }
        } else if let Some(digits) = ["st", "nd", "rd", "th"]
            .iter()
            .find_map(|s| body.strip_suffix(s))
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        {
            // "16th": an ordinal is always the day.
            if f.day.is_some() {
                return Err(bad());
            }
            f.day = Some(digits.parse().map_err(|_| bad())?);
        } else if let Some(m) = name_index(body, &MONTH_NAMES) {
            if f.month.is_some() {
                return Err(bad());
            }
            f.month = Some(m as u32 + 1);
        } else if body == "am" || body == "pm" {
            f.pm = Some(body == "pm");
        } else if name_index(body, &WEEKDAY_NAMES).is_some()
            || SKIPPED.contains(&body)
            || body == "z"
        {
            // Weekdays say nothing a date does not; the zone words mean UTC.
        } else {
            return Err(bad());
        }
    }
    // Bare numbers: 8 digits are YYYYMMDD, 4 digits (or > 31) a year, the rest fill the
    // month, day and year still missing, in dateutil's month-first order.
    let mut loose: Vec<i64> = Vec::new();
    for n in numbers {
        let v: i64 = n.parse().map_err(|_| bad())?;
        if n.len() == 8 && f.year.is_none() && f.month.is_none() {
            f.year = Some(v / 10_000);
            f.month = Some((v / 100 % 100) as u32);
            f.day = Some((v % 100) as u32);
        } else if (n.len() == 4 || v > 31) && f.year.is_none() {
            f.year = Some(v);
        } else {
            loose.push(v);
        }
    }
    for v in loose {
        let v = u32::try_from(v).map_err(|_| bad())?;
        if f.month.is_none() && f.day.is_none() {
            f.month = Some(v);
        } else if f.day.is_none() {
            f.day = Some(v);
        } else if f.year.is_none() {
            f.year = Some(full_year(v.into()));
        } else {
            return Err(bad());
        }
    }
    let today = Civil::from_system(now);
    let year = f.year.unwrap_or(today.year);
    let month = f.month.unwrap_or(today.month);
    let day = f.day.unwrap_or(today.day);
    let mut hour = f.hour.unwrap_or(0);
    match f.pm {
        Some(_) if hour == 0 || hour > 12 => return Err(bad()),
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let valid = (1..=9999).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && f.minute < 60
        && f.second < 60;
    if !valid {
        return Err(bad());
    }
    let date = year as u128 * 10_000 + month as u128 * 100 + day as u128;
    let time = hour as u128 * 10_000 + f.minute as u128 * 100 + f.second as u128;
    Ok((date * 1_000_000 + time) * 1_000_000 + f.micro as u128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn now() -> SystemTime {
        // 2024-05-04 00:00:00 UTC
        UNIX_EPOCH + Duration::from_secs(1_714_780_800)
    }

    #[test]
    fn times_read_as_dateutil_reads_them() {
        let t = |s: &str| parse_time(s, now()).map(|n| n.to_string());
        let ok = |s: &str| t(s).unwrap();
        assert_eq!(ok("2015, Mar 16 19:00"), "20150316190000000000");
        assert_eq!(ok("2015, Mar 16 19:00:05.721678"), "20150316190005721678");
        assert_eq!(ok("2024-05-01"), "20240501000000000000");
        assert_eq!(ok("2024-05-01T10:00:00.5"), "20240501100000500000");
        assert_eq!(ok("05/01/2024 10:00"), "20240501100000000000");
        assert_eq!(ok("May 1 2024"), "20240501000000000000");
        assert_eq!(ok("1 May 2024 7pm"), "20240501190000000000");
        assert_eq!(
            ok("Wednesday, 1st of May, 2024 12:30 am"),
            "20240501003000000000"
        );
        assert_eq!(ok("Sept 3"), "20240903000000000000");
        assert_eq!(ok("10:00"), "20240504100000000000");
        assert_eq!(ok("20240501"), "20240501000000000000");
        assert_eq!(ok("20240501100000123456"), "20240501100000123456");
        assert_eq!(ok("3/4/24"), "20240304000000000000");
        for bad in [
            "2024-4294967297-01",
            "2024 May 4294967297",
            "",
            "soon",
            "2024-02-30",
            "25:00",
            "13pm",
            "1 2 3 4",
            "May June",
            "10:00:00:00",
        ] {
            assert!(t(bad).is_err(), "{bad:?} parsed");
        }
    }
}
