//! ISO 8601 times as people type them (`brine-event --since`), parsed to Unix seconds.

// Howard Hinnant's days-from-civil: exact for the whole proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an ISO 8601 time (`2026-12-02`, `2026-12-02T16:53`, `...:05.123456`, a `T` or a
/// space between, `Z` or `+01:00` after) into Unix seconds. A time without a zone is UTC,
/// like Salt's `_stamp`, so a stamp copied from an event names that event's moment.
pub fn parse_iso8601(input: &str) -> Result<f64, String> {
    let bad = |why: &str| format!("'{input}' is not an ISO 8601 time ({why})");
    let s = input.trim();
    let num = |t: &str, what: &str| -> Result<u32, String> {
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(what));
        }
        t.parse::<u32>().map_err(|_| bad(what))
    };
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (Some(y), Some(mo), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected YYYY-MM-DD"));
    };
    if y.len() != 4 {
        return Err(bad("expected a four-digit year"));
    }
    let (y, mo, d) = (num(y, "year")?, num(mo, "month")?, num(d, "day")?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo) || d == 0 || d > month_days[(mo - 1) as usize] {
        return Err(bad("no such date"));
    }
    let mut secs = days_from_civil(i64::from(y), mo, d) as f64 * 86_400.0;
    let Some(rest) = rest else {
        return Ok(secs);
    };
    // The zone: Z, or a sign with HH:MM or HHMM.
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (c, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let z = z[1..].replace(':', "");
        if z.len() != 4 {
            return Err(bad("expected a zone like +01:00"));
        }
        let (h, m) = (num(&z[..2], "zone")?, num(&z[2..], "zone")?);
        if h > 23 || m > 59 {
            return Err(bad("no such zone"));
        }
        (c, sign * i64::from(h * 3600 + m * 60))
    } else {
        (rest, 0)
    };
    let mut f = clock.split(':');
    let h = num(f.next().unwrap_or(""), "hour")?;
    let mi = num(f.next().ok_or_else(|| bad("expected HH:MM"))?, "minute")?;
    let sec: f64 = match f.next() {
        None => 0.0,
        Some(t) => {
            let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
            let whole = num(whole, "second")?;
            if !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("second"));
            }
            let frac = if frac.is_empty() {
                0.0
            } else {
                format!("0.{frac}")
                    .parse::<f64>()
                    .map_err(|_| bad("second"))?
            };
            f64::from(whole) + frac
        }
    };
    if f.next().is_some() || h > 23 || mi > 59 || sec >= 61.0 {
        return Err(bad("no such time of day"));
    }
    secs += f64::from(h * 3600 + mi * 60) + sec - offset as f64;
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_parse_to_unix_seconds_and_bad_ones_say_why() {
        let t = 1_796_230_380.0;
        assert_eq!(parse_iso8601("1970-01-01"), Ok(0.0));
        assert_eq!(parse_iso8601("2026-12-02T16:53:00Z"), Ok(t));
        assert_eq!(parse_iso8601("2026-12-02 16:53"), Ok(t));
        assert_eq!(parse_iso8601("2026-12-02T17:53:00+01:00"), Ok(t));
        assert_eq!(parse_iso8601("2026-12-02T15:53:00-0100"), Ok(t));
        let f = parse_iso8601("2026-12-02T16:53:00.250000").unwrap();
        assert!((f - t - 0.25).abs() < 1e-6);
        assert_eq!(parse_iso8601("2024-02-29"), Ok(1_709_164_800.0));
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2023-02-29",
            "2026-12-02T25:00",
            "2026-12-02T10",
            "26-12-02",
        ] {
            let e = parse_iso8601(bad).unwrap_err();
            assert!(e.contains("is not an ISO 8601 time"), "{bad}: {e}");
        }
    }
}
