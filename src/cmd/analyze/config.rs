//! `analyze`'s command line, resolved into the pipeline's [`Config`]. clap has already
//! parsed every value (`cli::value`); what is left are the rules between options.

use std::path::Path;

use anyhow::bail;

use crate::cli::AnalyzeArgs;
use crate::cli::value::Hours;
use crate::parse::time::format_micros;
use crate::pipeline::Config;

const HOUR: i64 = 3_600_000_000;

/// The window of a run, in microseconds since the epoch, and in whole days for the state's
/// retention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Window {
    since: Option<i64>,
    until: Option<i64>,
    /// `--window`, in whole days (rounded up).
    window_days: Option<u32>,
    /// `--retain`, in whole days (rounded up).
    retain_days: Option<u32>,
}

/// Resolves and checks the options; `now` anchors `--window` when `--until` is not given.
pub fn resolve(a: AnalyzeArgs, now: jiff::Timestamp) -> anyhow::Result<Config> {
    let window = window(
        a.since.map(|t| t.as_microsecond()),
        a.until.map(|t| t.as_microsecond()),
        a.window.as_ref(),
        a.retain.as_ref(),
        a.state.is_some(),
        now.as_microsecond(),
    )?;
    // Without a snapshot nothing is judged: a scheduled run that lost its -p would pass
    // every night.
    if a.fail_on.is_some_and(|f| f != Default::default()) && a.policies.is_empty() {
        bail!(
            "--fail-on needs a snapshot (-p/--policies): without one no call is judged and no finding can fail the run (see --help)"
        );
    }
    check_out(&a.out)?;
    let fields = crate::parse::field_map(&a.reading.fields, a.reading.user_field.as_ref());
    Ok(Config {
        logs: a.logs,
        policies: a.policies,
        out: a.out,
        formats: a.format,
        log_format: a.reading.log_format.choice,
        log_format_text: a.reading.log_format.name,
        fields,
        field_specs: a.reading.fields,
        user_field: a.reading.user_field,
        timezone: a.reading.timezone,
        strip_prefixes: a.reading.strip_prefixes,
        catalog: a.catalog.catalog,
        since: window.since,
        until: window.until,
        window_days: window.window_days,
        retain_days: window.retain_days,
        round_bytes: a.round_bytes.max(1),
        partials: a.partials,
        exceptions: a.exceptions,
        part_bytes: a.part_bytes.max(1),
        state: a.state,
        threads: a.threads,
        progress: a.progress,
        fail_on: a.fail_on.unwrap_or_default(),
        min_days: a.min_days,
        max_bad_ratio: a.max_bad_ratio,
        prefilter: !a.no_prefilter,
    })
}

/// The window from `--since`, `--until`, `--window` and `--retain` (microseconds; `now`
/// anchors `--window` without `--until`).
fn window(
    since: Option<i64>,
    until: Option<i64>,
    window: Option<&Hours>,
    retain: Option<&Hours>,
    with_state: bool,
    now: i64,
) -> anyhow::Result<Window> {
    if with_state {
        // Stored rows are hourly: a bound inside an hour could not be honoured exactly.
        for (name, t) in [("--since", since), ("--until", until)] {
            if let Some(t) = t
                && t.rem_euclid(HOUR) != 0
            {
                bail!(
                    "{name} {}: with --state the window is made of whole hours; expected a time on the hour (or a date)",
                    format_micros(t)
                );
            }
        }
    }
    let mut w = Window {
        since,
        until,
        ..Window::default()
    };
    if let Some(hours) = window {
        let end = until.unwrap_or(if with_state {
            // The end of the current hour, so the hour in progress is included.
            now.div_euclid(HOUR) * HOUR + HOUR
        } else {
            now
        });
        w.since = Some(end - hours.hours * HOUR);
        w.window_days = Some(hours.days());
    }
    if let Some(r) = retain {
        if let Some(w) = window
            && r.hours < w.hours
        {
            bail!(
                "--retain {} is shorter than --window {}: the window's rows would be pruned",
                r.text,
                w.text
            );
        }
        w.retain_days = Some(r.days());
    }
    if let (Some(s), Some(u)) = (w.since, w.until)
        && s >= u
    {
        bail!(
            "--since {} is not before --until {}",
            format_micros(s),
            format_micros(u)
        );
    }
    Ok(w)
}

/// The report directory is replaced whole (renamed over): it cannot be the directory the run
/// (or the user's shell) is in.
fn check_out(out: &Path) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().ok();
    let out_abs = std::fs::canonicalize(out).ok();
    if out.file_name().is_none()
        || out_abs
            .as_ref()
            .zip(cwd.as_ref())
            .is_some_and(|(o, c)| c.starts_with(o))
    {
        bail!(
            "--out {}: the report directory is replaced whole, so it cannot be the current directory or one above it; name a directory for the report (e.g. -o ./permlens-report)",
            out.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000 * HOUR + 1_234;

    fn w(
        since: Option<i64>,
        until: Option<i64>,
        window_h: Option<i64>,
        retain_h: Option<i64>,
        state: bool,
    ) -> Result<Window, String> {
        let hours = |h: i64| Hours {
            hours: h,
            text: format!("{h}h"),
        };
        window(
            since,
            until,
            window_h.map(hours).as_ref(),
            retain_h.map(hours).as_ref(),
            state,
            NOW,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn window_arithmetic() {
        let ok = |since, until, window_days, retain_days| {
            Ok(Window {
                since,
                until,
                window_days,
                retain_days,
            })
        };
        // (since, until, --window hours, --retain hours, --state) -> window
        let cases = [
            // No options: everything.
            (w(None, None, None, None, false), ok(None, None, None, None)),
            // --since/--until pass through.
            (
                w(Some(HOUR), Some(2 * HOUR), None, None, false),
                ok(Some(HOUR), Some(2 * HOUR), None, None),
            ),
            // --window ends now without --until, and has no upper bound.
            (
                w(None, None, Some(36), None, false),
                ok(Some(NOW - 36 * HOUR), None, Some(2), None),
            ),
            // With --state it ends at the end of the current hour.
            (
                w(None, None, Some(24), None, true),
                ok(Some(977 * HOUR), None, Some(1), None),
            ),
            // --window before --until.
            (
                w(None, Some(500 * HOUR), Some(48), Some(72), true),
                ok(Some(452 * HOUR), Some(500 * HOUR), Some(2), Some(3)),
            ),
            // --retain alone.
            (
                w(None, None, None, Some(25), true),
                ok(None, None, None, Some(2)),
            ),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn window_rules() {
        for (got, want) in [
            (
                w(Some(HOUR + 1), None, None, None, true),
                "with --state the window is made of whole hours",
            ),
            (
                w(None, Some(HOUR + 1), None, None, true),
                "--until 1970-01-01T01:00:00.000001Z",
            ),
            (
                w(Some(2 * HOUR), Some(HOUR), None, None, false),
                "is not before --until",
            ),
            (
                w(Some(HOUR), Some(HOUR), None, None, false),
                "is not before --until",
            ),
            (
                w(None, None, Some(48), Some(24), true),
                "--retain 24h is shorter than --window 48h",
            ),
        ] {
            let e = got.unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        // Inside an hour is fine without --state.
        assert!(w(Some(HOUR + 1), None, None, None, false).is_ok());
    }

    #[test]
    fn the_report_cannot_be_the_current_directory_or_above() {
        for bad in [".", "..", "/"] {
            assert!(check_out(Path::new(bad)).is_err(), "{bad}");
        }
        assert!(check_out(Path::new("permlens-report")).is_ok());
    }
}
