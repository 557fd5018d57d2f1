//! Typed option values. clap parses each option with one of these, so a command receives
//! values that are already checked: a bad value stops the run at parse time with one line
//! naming the option (see `main.rs`), before anything is read.
//!
//! Messages do not name the option: `main` prefixes it to an [`OptionError`]. Values clap
//! parses itself (numbers, addresses) keep clap's own message, which quotes the value.

use crate::parse::FormatChoice;

/// Why a value given to an option is not one it takes (the option is named by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError(pub String);

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionError {}

impl From<String> for OptionError {
    fn from(s: String) -> OptionError {
        OptionError(s)
    }
}

type Parsed<T> = Result<T, OptionError>;
use crate::parse::apig::UserField;
use crate::parse::json::FieldSpec;
use crate::pipeline::FailOn;
use crate::report::Formats;

/// `--log-format`: the choice, and its name as given (part of a state's identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormatArg {
    pub choice: FormatChoice,
    pub name: String,
}

impl Default for LogFormatArg {
    fn default() -> LogFormatArg {
        LogFormatArg {
            choice: FormatChoice::Auto,
            name: "auto".into(),
        }
    }
}

pub fn log_format(s: &str) -> Parsed<LogFormatArg> {
    Ok(LogFormatArg {
        choice: s.parse().map_err(OptionError)?,
        name: s.to_owned(),
    })
}

/// `--format parquet,csv`.
pub fn formats(s: &str) -> Parsed<Formats> {
    s.parse().map_err(OptionError)
}

/// `--fail-on denied,unused`.
pub fn fail_on(s: &str) -> Parsed<FailOn> {
    s.parse().map_err(OptionError)
}

/// `--field NAME=PATH`, checked as the JSON reader will read it.
pub fn field_spec(s: &str) -> Parsed<FieldSpec> {
    FieldSpec::parse(s).map_err(OptionError)
}

/// `--user-field`: an API Gateway log field.
pub fn user_field(s: &str) -> Parsed<UserField> {
    UserField::new(s).map_err(OptionError)
}

/// `--timezone +08:00`: seconds east of UTC.
pub fn timezone(s: &str) -> Parsed<i32> {
    crate::parse::time::parse_offset(s).ok_or_else(|| {
        OptionError(format!(
            "expected a UTC offset such as +08:00, -0500 or Z, got {s:?}"
        ))
    })
}

/// `--strip-prefix /prod`: leading path segments.
pub fn strip_prefix(p: &str) -> Parsed<String> {
    if !p.starts_with('/') || p.ends_with('/') || p.len() < 2 || p.contains(['?', '#']) {
        return Err(OptionError(format!(
            "{p:?}: expected leading path segments such as /prod or /bss/v1 (starting with /, not ending with one)"
        )));
    }
    Ok(p.to_owned())
}

/// `--since`, `--until`, `--at`.
pub fn time(s: &str) -> Parsed<jiff::Timestamp> {
    use crate::policy::condition::{parse_date, rfc3339_offset};
    parse_date(s).filter(|_| rfc3339_offset(s)).ok_or_else(|| {
        // The parser says why a well-formed time is refused (a year past its range).
        let why = match s.parse::<jiff::Timestamp>() {
            Err(e) if s.len() > 10 && s.as_bytes().get(4) == Some(&b'-') => format!(" ({e})"),
            _ => String::new(),
        };
        OptionError(format!(
            "expected an RFC 3339 time (offset at most 23:59) or a date (YYYY-MM-DD), got {s:?}{why}"
        ))
    })
}

/// A span of whole hours: `90d`, `36h`, `2w`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    pub hours: i64,
    /// As given, for messages.
    pub text: String,
}

impl Hours {
    /// Whole days, rounded up.
    pub fn days(&self) -> u32 {
        (self.hours.div_euclid(24) + i64::from(self.hours % 24 != 0)) as u32
    }
}

/// The longest `--window` or `--retain`: 100 years.
const MAX_SPAN_HOURS: i64 = 876_000;

/// `--window`, `--retain`.
pub fn duration(s: &str) -> Parsed<Hours> {
    let bad = || {
        OptionError(format!(
            "expected a number of days, hours or weeks (90d, 36h, 2w), got {s:?}"
        ))
    };
    let t = s.trim();
    let (n, unit) = t.split_at(t.len().saturating_sub(1));
    let n: i64 = n.parse().map_err(|_| bad())?;
    let hours = match unit {
        "h" => Some(n),
        "d" => n.checked_mul(24),
        "w" => n.checked_mul(24 * 7),
        _ => return Err(bad()),
    };
    if hours.is_some_and(|h| h <= 0) {
        return Err(bad());
    }
    // Times are microseconds since 1970: a span reaching back past that is a typo.
    let Some(hours) = hours.filter(|h| *h <= MAX_SPAN_HOURS) else {
        return Err(OptionError(format!(
            "{s:?} is longer than permlens handles (at most 100 years, 876000h)"
        )));
    };
    Ok(Hours {
        hours,
        text: t.to_owned(),
    })
}

/// A number as given: bare, or quoted when it is empty or holds spaces.
fn shown(s: &str) -> String {
    if s.trim().is_empty() || s.contains(char::is_whitespace) {
        format!("{s:?}")
    } else {
        s.to_owned()
    }
}

/// The most `-j` threads: more than any machine permlens runs on has cores, few enough that a
/// typo (`-j 100000`) cannot start a runaway number of threads.
pub const MAX_THREADS: usize = 1024;

/// `--threads N`.
pub fn threads(s: &str) -> Parsed<usize> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(OptionError(format!(
            "expected 1 to {MAX_THREADS}, got {}",
            shown(s)
        ))),
    }
}

/// `--max-bad-ratio R`: a ratio between 0 and 1.
pub fn ratio(s: &str) -> Parsed<f64> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(OptionError(format!(
            "expected a ratio between 0 and 1, got {}",
            shown(s)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_hours_and_round_up_to_days() {
        for (text, hours, days) in [
            ("36h", 36, 2),
            ("24h", 24, 1),
            ("1h", 1, 1),
            ("90d", 90 * 24, 90),
            ("2w", 14 * 24, 14),
            (" 7d ", 7 * 24, 7),
        ] {
            let h = duration(text).unwrap();
            assert_eq!((h.hours, h.days()), (hours, days), "{text}");
        }
        for bad in ["", "d", "0d", "-1d", "1y", "1.5d", "ten days"] {
            assert!(
                duration(bad)
                    .unwrap_err()
                    .0
                    .contains("expected a number of days"),
                "{bad}"
            );
        }
        // Regression: a huge span overflowed into a window starting before the epoch.
        for huge in ["99999999999999d", "9223372036854775807w", "876001h"] {
            assert!(
                duration(huge).unwrap_err().0.contains("at most 100 years"),
                "{huge}"
            );
        }
        assert_eq!(duration("36500d").unwrap().hours, 876_000);
    }

    #[test]
    fn times_are_rfc3339_or_dates() {
        let micros = |s| time(s).unwrap().as_microsecond();
        assert_eq!(micros("1970-01-01"), 0);
        assert_eq!(micros("1970-01-01T01:00:00Z"), 3_600_000_000);
        assert_eq!(micros("1970-01-01T09:00:00+08:00"), 3_600_000_000);
        assert!(time("yesterday").unwrap_err().0.contains("RFC 3339"));
        // Regression: an offset past 23:59 was taken; a year past the parser's range was
        // refused as if it were not a time at all.
        for loose in ["+25:00", "+2500", "+25", "+25:00:00"] {
            assert!(
                time(&format!("2025-11-27T08:00:00{loose}")).is_err(),
                "{loose}"
            );
        }
        let e = time("9999-12-31T23:59:59Z").unwrap_err().0;
        assert!(e.contains("RFC 3339") && e.contains("9999"), "{e}");
    }

    #[test]
    fn numbers_are_checked_against_their_range() {
        assert_eq!(threads("1"), Ok(1));
        assert_eq!(threads("1024"), Ok(1024));
        for bad in ["0", "1025", "x", "-1"] {
            assert!(
                threads(bad)
                    .unwrap_err()
                    .0
                    .starts_with("expected 1 to 1024"),
                "{bad}"
            );
        }
        assert_eq!(ratio("0"), Ok(0.0));
        assert_eq!(ratio("1"), Ok(1.0));
        for bad in ["2", "-0.1", "NaN", "x"] {
            assert!(ratio(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_and_names_are_checked() {
        assert!(formats("parquet,csv").is_ok());
        assert!(
            formats("xlsx")
                .unwrap_err()
                .0
                .contains("unknown format \"xlsx\"")
        );
        assert_eq!(log_format("kong").unwrap().name, "kong");
        assert!(
            log_format("syslog")
                .unwrap_err()
                .0
                .starts_with("expected auto, json")
        );
        assert!(fail_on("denied,unused").is_ok_and(|f| f.denied && f.unused && !f.drift));
        assert!(
            fail_on("everything")
                .unwrap_err()
                .0
                .contains("unknown finding")
        );
        assert!(field_spec("user=auth.name").is_ok());
        assert!(
            field_spec("colour=x")
                .unwrap_err()
                .0
                .contains("unknown field")
        );
        assert!(user_field("custom_data_log1").is_ok());
        assert!(
            user_field("nope")
                .unwrap_err()
                .0
                .starts_with("\"nope\" is not an API Gateway")
        );
        assert_eq!(timezone("+08:00"), Ok(8 * 3600));
        assert!(timezone("CST").is_err());
        assert!(strip_prefix("/prod").is_ok());
        for bad in ["prod", "/prod/", "/", "/a?b"] {
            assert!(strip_prefix(bad).is_err(), "{bad}");
        }
    }
}
