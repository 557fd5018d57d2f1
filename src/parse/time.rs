//! Request times as logs write them, to microseconds since the epoch (UTC).
//!
//! RFC 3339 (`2026-11-27T10:00:00.123+08:00`, also with a space for `T`), the nginx/APIG
//! `dd/Mon/yyyy:HH:MM:SS +zzzz` (optionally in brackets), and epoch numbers: seconds,
//! milliseconds or microseconds, told apart by magnitude.

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
    s.parse::<Timestamp>().ok().map(|t| t.as_microsecond())
}

/// Epoch seconds, milliseconds or microseconds, by magnitude (dates after 1973).
pub fn epoch(n: f64) -> Option<i64> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let micros = if n < 1e11 {
        n * 1e6
    } else if n < 1e14 {
        n * 1e3
    } else {
        n
    };
    (micros < 4e15).then_some(micros as i64)
}

/// Formats microseconds since the epoch as RFC 3339 UTC.
pub fn format_micros(t: i64) -> String {
    Timestamp::from_microsecond(t).map_or_else(|_| t.to_string(), |ts| ts.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_764_237_600_000_000; // 2025-11-27T10:00:00Z

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
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s.as_bytes()), Some(*want), "{s}");
        }
        for bad in ["", "-", "yesterday", "2025-13-01T00:00:00Z", "27/Nov/2025"] {
            assert_eq!(parse_time(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(format_micros(T), "2025-11-27T10:00:00Z");
    }
}
