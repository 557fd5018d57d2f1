//! Request times as logs write them, to microseconds since the epoch (UTC).
//!
//! RFC 3339 (`2026-11-27T10:00:00.123+08:00`, also with a space for `T`), the nginx/APIG
//! `dd/Mon/yyyy:HH:MM:SS +zzzz` (optionally in brackets), and epoch numbers: seconds,
//! milliseconds or microseconds, told apart by magnitude; the older CTS string form
//! (`2016/12/08 11:07:28 GMT+08:00`).
//!
//! A time written without a zone (LTS's structured API Gateway records write `time_local` as
//! `27/Jan/2022:15:56:44`) is never guessed: it is read only in the zone the user names
//! (`--timezone`), and otherwise it is no time at all, which the caller reports as such.

use jiff::Timestamp;
use jiff::fmt::strtime;

/// Parses a textual time.
pub fn parse_time(s: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(s)
        .ok()?
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return epoch_int(s.parse::<u64>().ok()?);
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return epoch(s.parse::<f64>().ok()?);
    }
    // The nginx / API Gateway shape first: trying RFC 3339 on it would fail, and a failed
    // parse builds an error (an allocation per line).
    if s.as_bytes().get(2) == Some(&b'/') {
        return strtime::parse("%d/%b/%Y:%H:%M:%S %z", s)
            .ok()?
            .to_timestamp()
            .ok()
            .map(|t| t.as_microsecond());
    }
    // CTS traces of older services: `2016/12/08 11:07:28 GMT+08:00`.
    if s.as_bytes().get(4) == Some(&b'/') {
        let (civil, zone) = s.split_once(" GMT").or_else(|| s.split_once(" UTC"))?;
        let offset = if zone.is_empty() {
            0
        } else {
            parse_offset(zone)?
        };
        return civil_in(civil, &["%Y/%m/%d %H:%M:%S"], offset);
    }
    s.parse::<Timestamp>().ok().map(|t| t.as_microsecond())
}

/// [`parse_time`], and a time written without a zone read in `zone` (seconds east of UTC).
pub fn parse_time_in(s: &[u8], zone: Option<i32>) -> Option<i64> {
    parse_time(s).or_else(|| zone.and_then(|z| zoneless(s, z)))
}

/// Whether `s` is a time that only lacks its zone (so the message can name `--timezone`).
pub fn is_zoneless(s: &[u8]) -> bool {
    parse_time(s).is_none() && zoneless(s, 0).is_some()
}

/// A time without a zone, read at `offset` seconds east of UTC.
fn zoneless(s: &[u8], offset: i32) -> Option<i64> {
    let s = std::str::from_utf8(s)
        .ok()?
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']');
    civil_in(
        s,
        &[
            "%d/%b/%Y:%H:%M:%S",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y/%m/%d %H:%M:%S",
        ],
        offset,
    )
}

/// A civil time in one of `layouts`, at `offset` seconds east of UTC.
fn civil_in(s: &str, layouts: &[&str], offset: i32) -> Option<i64> {
    let offset = jiff::tz::Offset::from_seconds(offset).ok()?;
    layouts.iter().find_map(|layout| {
        let civil = strtime::parse(layout, s).ok()?.to_datetime().ok()?;
        let t = offset.to_timestamp(civil).ok()?;
        Some(t.as_microsecond())
    })
}

/// `+08:00`, `+0800`, `+8`, `-05:30`, `Z`, `UTC` -> seconds east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if matches!(s, "Z" | "z" | "UTC" | "GMT" | "+00:00" | "-00:00") {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &s[1..];
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    if h.is_empty()
        || h.len() > 2
        || m.len() > 2
        || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 18 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// [`parse_time`] for a log's lines in order: consecutive lines share their minute, so the
/// time of the minute (and zone) last seen is kept and only the seconds and fraction of a
/// line in the same minute are read. Anything but the two common layouts with a plain zone
/// (`2026-11-27T10:00:00.123Z`, `+08:00`; `27/Nov/2026:18:00:00 +0800`) goes to
/// [`parse_time`]; a test checks that both agree.
#[derive(Debug, Clone, Default)]
pub struct TimeCache {
    /// The text of the minute last seen, the seconds (and fraction) left out.
    key: [u8; 32],
    key_len: usize,
    /// Where the seconds start in that layout.
    seconds_at: usize,
    /// The minute's time, in microseconds; `None` before the first use.
    minute: Option<i64>,
    /// The zone of times written without one (`--timezone`), seconds east of UTC.
    zone: Option<i32>,
}

impl TimeCache {
    /// A cache that reads times written without a zone in `zone`.
    pub fn with_zone(zone: Option<i32>) -> TimeCache {
        TimeCache {
            zone,
            ..TimeCache::default()
        }
    }

    pub fn parse(&mut self, s: &[u8]) -> Option<i64> {
        self.fast(s).or_else(|| parse_time_in(s, self.zone))
    }

    fn fast(&mut self, s: &[u8]) -> Option<i64> {
        let rfc3339 = s.len() >= 20
            && s[4] == b'-'
            && s[7] == b'-'
            && matches!(s[10], b'T' | b't' | b' ')
            && s[13] == b':'
            && s[16] == b':';
        let nginx = !rfc3339
            && s.len() >= 26
            && s[2] == b'/'
            && s[6] == b'/'
            && s[11] == b':'
            && s[14] == b':'
            && s[17] == b':';
        let seconds_at = match (rfc3339, nginx) {
            (true, _) => 17,
            (_, true) => 18,
            _ => return None,
        };
        let (tens, units) = (s[seconds_at], s[seconds_at + 1]);
        if !tens.is_ascii_digit() || !units.is_ascii_digit() {
            return None;
        }
        // A leap second (60) is left to jiff.
        let seconds = i64::from(tens - b'0') * 10 + i64::from(units - b'0');
        if seconds > 59 {
            return None;
        }
        let mut rest = &s[seconds_at + 2..];
        let mut micros = 0i64;
        if rfc3339 && let Some(fraction) = rest.strip_prefix(b".") {
            // One pass: count the digits, keeping the first six. Truncated to microseconds,
            // as jiff's `as_microsecond` does for times after 1970.
            let mut digits = 0;
            while let Some(d) = fraction.get(digits).filter(|d| d.is_ascii_digit()) {
                if digits < 6 {
                    micros = micros * 10 + i64::from(d - b'0');
                }
                digits += 1;
            }
            if digits == 0 || digits > 9 {
                return None;
            }
            micros *= [100_000, 10_000, 1_000, 100, 10, 1][digits.min(6) - 1];
            rest = &fraction[digits..];
        }
        let zone_ok = if rfc3339 {
            matches!(rest, b"Z" | b"z")
                || (rest.len() == 6
                    && matches!(rest[0], b'+' | b'-')
                    && rest[1..3].iter().all(u8::is_ascii_digit)
                    && rest[3] == b':'
                    && rest[4..6].iter().all(u8::is_ascii_digit))
        } else {
            rest.len() == 6
                && rest[0] == b' '
                && matches!(rest[1], b'+' | b'-')
                && rest[2..6].iter().all(u8::is_ascii_digit)
        };
        if !zone_ok {
            return None;
        }
        let key_len = seconds_at + rest.len();
        let same = self.minute.is_some()
            && self.seconds_at == seconds_at
            && self.key_len == key_len
            && crate::bytes::same(&self.key[..seconds_at], &s[..seconds_at])
            && crate::bytes::same(&self.key[seconds_at..key_len], rest);
        if !same {
            // The minute itself, through jiff: the same text with 00 seconds.
            let mut text = [0u8; 32];
            text[..seconds_at].copy_from_slice(&s[..seconds_at]);
            text[seconds_at..seconds_at + 2].copy_from_slice(b"00");
            text[seconds_at + 2..key_len + 2].copy_from_slice(rest);
            let minute = parse_time(&text[..key_len + 2]).filter(|&m| m >= 0)?;
            self.key[..seconds_at].copy_from_slice(&s[..seconds_at]);
            self.key[seconds_at..key_len].copy_from_slice(rest);
            self.key_len = key_len;
            self.seconds_at = seconds_at;
            self.minute = Some(minute);
        }
        Some(self.minute? + seconds * 1_000_000 + micros)
    }
}

/// Epoch seconds, milliseconds, microseconds or nanoseconds, by magnitude (dates after 1973).
pub fn epoch(n: f64) -> Option<i64> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let micros = if n < 1e11 {
        n * 1e6
    } else if n < 1e14 {
        n * 1e3
    } else if n < 1e17 {
        n
    } else {
        // Nanoseconds (Caddy's `unix_nano`).
        n / 1e3
    };
    (micros < 4e15).then_some(micros as i64)
}

/// [`epoch`] for an integer, exactly (a float loses the last digits of nanoseconds).
pub fn epoch_int(n: u64) -> Option<i64> {
    let micros = match n {
        0 => return None,
        1..100_000_000_000 => n.checked_mul(1_000_000)?,
        100_000_000_000..100_000_000_000_000 => n.checked_mul(1_000)?,
        100_000_000_000_000..100_000_000_000_000_000 => n,
        _ => n / 1_000,
    };
    (micros < 4_000_000_000_000_000).then_some(micros as i64)
}

/// Formats microseconds since the epoch as RFC 3339 UTC.
pub fn format_micros(t: i64) -> String {
    Timestamp::from_microsecond(t).map_or_else(|_| t.to_string(), |ts| ts.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_764_237_600_000_000; // 2025-11-27T10:00:00Z

    proptest::proptest! {
        /// The cache gives what jiff gives, line after line, whatever the text.
        #[test]
        fn the_cache_agrees_with_jiff(times in proptest::collection::vec(
            proptest::string::string_regex(
                "(2026-11-2[0-9][T t]1[0-9]:0[0-2]:[0-6][0-9](\\.[0-9]{0,10})?(Z|z|[+-]0[0-9]:[0-5]0|[+-]0800|,5Z|)|\
                 2[0-9]/(Nov|Dec|Xyz)/2026:1[0-9]:0[0-2]:[0-6][0-9]( [+-]0[0-9]00|[+-]0800| \\+08:00|)|\
                 1969-12-31T23:59:[0-6][0-9](\\.[0-9]{1,3})?Z)"
            ).unwrap(),
            1..40,
        )) {
            let mut cache = TimeCache::default();
            for t in &times {
                proptest::prop_assert_eq!(cache.parse(t.as_bytes()), parse_time(t.as_bytes()), "{}", t);
            }
        }
    }

    #[test]
    fn the_cache_reads_seconds_within_a_minute() {
        let mut cache = TimeCache::default();
        assert_eq!(cache.parse(b"2025-11-27T10:00:00Z"), Some(T));
        assert_eq!(cache.parse(b"2025-11-27T10:00:07.25Z"), Some(T + 7_250_000));
        assert_eq!(
            cache.parse(b"2025-11-27T18:00:07.25+08:00"),
            Some(T + 7_250_000)
        );
        assert_eq!(
            cache.parse(b"27/Nov/2025:18:00:59 +0800"),
            Some(T + 59_000_000)
        );
        assert_eq!(cache.parse(b"2025-11-27T10:01:00Z"), Some(T + 60_000_000));
        assert_eq!(cache.parse(b"2025-11-27T10:00:61Z"), None);
    }

    #[test]
    fn parses_every_layout() {
        let cases: &[(&str, i64)] = &[
            ("2025-11-27T10:00:00Z", T),
            ("2025-11-27T18:00:00+08:00", T),
            ("2025-11-27 10:00:00Z", T),
            ("2025-11-27T10:00:00.250Z", T + 250_000),
            ("27/Nov/2025:18:00:00 +0800", T),
            ("[27/Nov/2025:10:00:00 +0000]", T),
            ("1764237600", T),
            ("1764237600000", T),
            ("1764237600000000", T),
            ("1764237600.5", T + 500_000),
            ("1764237600000000000", T),
            ("1764237600250000000", T + 250_000),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s.as_bytes()), Some(*want), "{s}");
        }
        for bad in ["", "-", "yesterday", "2025-13-01T00:00:00Z", "27/Nov/2025"] {
            assert_eq!(parse_time(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(format_micros(T), "2025-11-27T10:00:00Z");
    }

    #[test]
    fn reads_cts_string_times() {
        assert_eq!(parse_time(b"2025/11/27 18:00:00 GMT+08:00"), Some(T));
        assert_eq!(parse_time(b"2025/11/27 10:00:00 GMT"), Some(T));
        assert_eq!(parse_time(b"2025/11/27 13:00:00 GMT+0300"), Some(T));
        assert_eq!(parse_time(b"2025/11/27 10:00:00"), None);
    }

    #[test]
    fn zoneless_times_need_a_zone() {
        for s in [
            "27/Nov/2025:18:00:00",
            "2025-11-27T18:00:00",
            "2025-11-27 18:00:00.000",
        ] {
            assert_eq!(parse_time(s.as_bytes()), None, "{s}");
            assert!(is_zoneless(s.as_bytes()), "{s}");
            assert_eq!(parse_time_in(s.as_bytes(), Some(8 * 3600)), Some(T), "{s}");
            let mut cache = TimeCache::with_zone(Some(8 * 3600));
            assert_eq!(cache.parse(s.as_bytes()), Some(T), "{s}");
            assert_eq!(TimeCache::default().parse(s.as_bytes()), None, "{s}");
        }
        // A time with its own zone is never moved by the default zone.
        assert_eq!(parse_time_in(b"2025-11-27T10:00:00Z", Some(3600)), Some(T));
        assert!(!is_zoneless(b"yesterday"));
    }

    #[test]
    fn offsets() {
        for (s, want) in [
            ("+08:00", 28800),
            ("+0800", 28800),
            ("+8", 28800),
            ("-05:30", -19800),
            ("Z", 0),
            ("UTC", 0),
        ] {
            assert_eq!(parse_offset(s), Some(want), "{s}");
        }
        for bad in ["", "8", "+25:00", "+08:99", "Asia/Shanghai", "+0a"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }
}
