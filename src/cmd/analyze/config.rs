//! `analyze`'s command line, resolved into the pipeline's [`Config`].

use anyhow::{Context, bail};

use crate::cli::AnalyzeArgs;
use crate::parse::FormatChoice;
use crate::parse::time::format_micros;
use crate::pipeline::Config;
use crate::policy::condition::parse_date;
use crate::report::Formats;

fn time_option(name: &str, value: &Option<String>) -> anyhow::Result<Option<i64>> {
    value
        .as_deref()
        .map(|s| {
            parse_date(s).map(|t| t.as_microsecond()).with_context(|| {
                format!("{name}: expected an RFC 3339 time or a date (YYYY-MM-DD), got {s:?}")
            })
        })
        .transpose()
}

const HOUR: i64 = 3_600_000_000;

/// The most `-j` threads: more than any machine permlens runs on has cores, few enough that a
/// typo (`-j 100000`) cannot start a runaway number of threads.
const MAX_THREADS: usize = 1024;

/// Hours -> whole days, rounded up.
fn days_of(hours: i64) -> u32 {
    (hours.div_euclid(24) + i64::from(hours % 24 != 0)) as u32
}

/// `90d`, `36h`, `2w` -> hours.
fn parse_duration(option: &str, s: &str) -> anyhow::Result<i64> {
    let bad = || {
        anyhow::anyhow!(
            "{option}: expected a number of days, hours or weeks (90d, 36h, 2w), got {s:?}"
        )
    };
    let s = s.trim();
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n.parse().map_err(|_| bad())?;
    let hours = match unit {
        "h" => n,
        "d" => n * 24,
        "w" => n * 24 * 7,
        _ => return Err(bad()),
    };
    if hours <= 0 {
        return Err(bad());
    }
    Ok(hours)
}

/// Resolves and checks the options; `now` anchors `--window` when `--until` is not given.
pub fn resolve(a: AnalyzeArgs, now: jiff::Timestamp) -> anyhow::Result<Config> {
    let formats: Formats = a
        .format
        .parse()
        .map_err(|e| anyhow::anyhow!("--format: {e}"))?;
    let log_format: FormatChoice = a
        .reading
        .log_format
        .parse()
        .map_err(|e| anyhow::anyhow!("--log-format: {e}"))?;
    let (fields, timezone) = crate::parse::reading_options(
        &a.reading.fields,
        a.reading.user_field.as_deref(),
        a.reading.timezone.as_deref(),
    )
    .map_err(anyhow::Error::msg)?;
    for p in &a.reading.strip_prefixes {
        if !p.starts_with('/') || p.ends_with('/') || p.len() < 2 || p.contains(['?', '#']) {
            bail!(
                "--strip-prefix {p:?}: expected leading path segments such as /prod or /bss/v1 (starting with /, not ending with one)"
            );
        }
    }
    let mut since = time_option("--since", &a.since)?;
    let mut until = time_option("--until", &a.until)?;
    if a.state.is_some() {
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
    let mut window_days = None;
    let mut window_hours = None;
    if let Some(w) = &a.window {
        let hours = parse_duration("--window", w)?;
        window_hours = Some(hours);
        let end = until.unwrap_or_else(|| {
            let t = now.as_microsecond();
            if a.state.is_some() {
                // The end of the current hour, so the hour in progress is included.
                t.div_euclid(HOUR) * HOUR + HOUR
            } else {
                t
            }
        });
        since = Some(end - hours * HOUR);
        if a.until.is_some() {
            until = Some(end);
        }
        window_days = Some(days_of(hours));
    }
    let retain_days = match &a.retain {
        Some(r) => {
            let hours = parse_duration("--retain", r)?;
            if window_hours.is_some_and(|w| hours < w) {
                bail!("--retain {r} is shorter than --window: the window's rows would be pruned");
            }
            Some(days_of(hours))
        }
        None => None,
    };
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        bail!(
            "--since {} is not before --until {}",
            format_micros(s),
            format_micros(u)
        );
    }
    // The report directory is replaced whole (renamed over): it cannot be the directory
    // the run (or the user's shell) is in.
    let cwd = std::env::current_dir().ok();
    let out_abs = std::fs::canonicalize(&a.out).ok();
    if a.out.file_name().is_none()
        || out_abs
            .as_ref()
            .zip(cwd.as_ref())
            .is_some_and(|(o, c)| c.starts_with(o))
    {
        bail!(
            "--out {}: the report directory is replaced whole, so it cannot be the current directory or one above it; name a directory for the report (e.g. -o ./permlens-report)",
            a.out.display()
        );
    }
    if let Some(n) = a.threads
        && !(1..=MAX_THREADS).contains(&n)
    {
        bail!("--threads: expected 1 to {MAX_THREADS}, got {n}");
    }
    if !(0.0..=1.0).contains(&a.max_bad_ratio) {
        bail!(
            "--max-bad-ratio: expected a ratio between 0 and 1, got {}",
            a.max_bad_ratio
        );
    }
    let fail_on = a
        .fail_on
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(anyhow::Error::msg)?;
    Ok(Config {
        logs: a.logs,
        policies: a.policies,
        out: a.out,
        formats,
        log_format,
        log_format_text: a.reading.log_format,
        fields,
        field_specs: a.reading.fields,
        user_field: a.reading.user_field,
        timezone,
        strip_prefixes: a.reading.strip_prefixes,
        catalog: a.catalog.catalog,
        since,
        until,
        window_days,
        retain_days,
        round_bytes: a.round_bytes.max(1),
        state: a.state,
        threads: a.threads,
        progress: a.progress,
        fail_on,
        min_days: a.min_days,
        max_bad_ratio: a.max_bad_ratio,
        prefilter: !a.no_prefilter,
    })
}
