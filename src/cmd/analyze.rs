//! `permlens analyze`: the nightly job. The pipeline, in order: resolve options, load the
//! catalog and the snapshot, find and sniff the logs, scan them in parallel, judge the input's
//! quality, compute findings, write the report directory atomically, print the summary.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::json;

use crate::aggregate::{Counters, Stats};
use crate::catalog::Catalog;
use crate::cli::{AnalyzeArgs, ProgressMode};
use crate::findings::{self, Findings, Verdict, Window};
use crate::input::{self, FileReport, discover};
use crate::lock::{self, RunLock};
use crate::parse::FormatChoice;
use crate::parse::json::FieldMap;
use crate::parse::time::format_micros;
use crate::policy::condition::parse_date;
use crate::policy::context::ContextClasses;
use crate::policy::{History, Snapshot};
use crate::report::findings as report_findings;
use crate::report::{Formats, ReportWriter, changes, tables};
use crate::scan::{Prefilter, ScanConfig, Scanner};
use crate::state::{self, State, StateReport};
use crate::{ExitCode, progress};

/// `analyze` options, resolved and validated.
#[derive(Debug)]
pub struct AnalyzeConfig {
    /// Log files, directories, globs.
    pub logs: Vec<PathBuf>,
    /// Snapshot files or directories, when findings are wanted.
    pub policies: Vec<PathBuf>,
    /// The report directory.
    pub out: PathBuf,
    pub formats: Formats,
    pub log_format: FormatChoice,
    pub log_format_text: String,
    pub fields: FieldMap,
    pub field_specs: Vec<String>,
    pub user_field: Option<String>,
    /// `--timezone`: seconds east of UTC of times written without a zone.
    pub timezone: Option<i32>,
    /// `--strip-prefix`, as given (each checked: `/segment[/segment...]`).
    pub strip_prefixes: Vec<String>,
    pub catalog: Option<PathBuf>,
    /// Window bounds, microseconds since the epoch.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// `--window`, in whole days (rounded up), for the state's retention.
    pub window_days: Option<u32>,
    /// `--retain`, in whole days (rounded up).
    pub retain_days: Option<u32>,
    /// With `--state`: input bytes read per round before the round's rows are written out.
    pub round_bytes: u64,
    pub state: Option<PathBuf>,
    pub threads: Option<usize>,
    pub progress: ProgressMode,
    pub fail_on: FailOn,
    pub min_days: u32,
    pub max_bad_ratio: f64,
    pub prefilter: bool,
}

/// Which findings make the run exit 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailOn {
    pub denied: bool,
    pub drift: bool,
    pub over_privileged: bool,
    pub unused: bool,
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<FailOn, String> {
        let mut f = FailOn::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "denied" => f.denied = true,
                "drift" => f.drift = true,
                "over-privileged" => f.over_privileged = true,
                "unused" => f.unused = true,
                other => {
                    return Err(format!(
                        "--fail-on: unknown finding {other:?}, expected a list of denied, drift, over-privileged, unused"
                    ));
                }
            }
        }
        Ok(f)
    }
}

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

impl AnalyzeConfig {
    /// `now` anchors `--window` when `--until` is not given.
    pub fn from_args(a: AnalyzeArgs, now: jiff::Timestamp) -> anyhow::Result<AnalyzeConfig> {
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
                    bail!(
                        "--retain {r} is shorter than --window: the window's rows would be pruned"
                    );
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
        Ok(AnalyzeConfig {
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
}

/// What reading the logs produced, with or without `--state`.
struct Scanned {
    /// The aggregate findings and usage tables are computed from: this run's scan, or with
    /// `--state` everything stored in the window.
    stats: Stats,
    /// This run's reading.
    counters: Counters,
    reports: Vec<FileReport>,
    malformed: Vec<String>,
    state: Option<StateReport>,
    /// With `--state`: requests in hourly rows that straddle a condition or snapshot boundary.
    straddling: u64,
    /// With `--state`: the last successful uses before the window.
    earlier: findings::EarlierUses,
    /// With `--state`: the state made by this run, written once the report is in place.
    pending_state: Option<State>,
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let started = jiff::Timestamp::now();
    let clock = Instant::now();
    crate::log::set_quiet(args.quiet);
    let cfg = AnalyzeConfig::from_args(args, started)?;
    if let Some(n) = cfg.threads {
        // `-j` caps the threads at work, polars' own included: Parquet tables are encoded
        // on the lanes' threads, but the CSV writer splits its rows over polars' pool,
        // which polars sizes from POLARS_MAX_THREADS when first used (later than this).
        // SAFETY: no other thread runs yet (the first are the worker pool's, started just
        // below), so nothing reads the environment while it changes.
        unsafe { std::env::set_var("POLARS_MAX_THREADS", n.to_string()) };
    }
    // The whole run is one job of the worker pool: sniffing, the scan, loading the state and
    // the report all share its `-j` threads.
    worker_pool(&cfg)?.install(|| analyze(cfg, started, clock))
}

/// [`run`], on the worker pool.
fn analyze(
    cfg: AnalyzeConfig,
    started: jiff::Timestamp,
    clock: Instant,
) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load_or_embedded(cfg.catalog.as_deref())?;
    let history = if cfg.policies.is_empty() {
        None
    } else {
        Some(History::load(&cfg.policies)?)
    };
    for s in history.iter().flat_map(|h| &h.snapshots) {
        for w in &s.warnings {
            crate::log::warn(&w.to_string());
        }
    }
    // `--out reports/2026/12/06`: the parents are made, as users expect of an output path
    // (the lock lives beside the report, so they are needed before anything is read).
    if let Some(parent) = cfg.out.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).with_context(|| {
            format!(
                "cannot create the parent directory {} of --out",
                parent.display()
            )
        })?;
    }
    let report_lock = RunLock::acquire(
        &lock::report_lock_path(&cfg.out),
        &format!("report directory {}", cfg.out.display()),
    )?;
    if let Some(holder) = &report_lock.took_over {
        crate::log::warn(&format!(
            "took over the lock of {} from a run that did not finish ({holder})",
            cfg.out.display()
        ));
    }
    // The output is checked (and staged) before anything is read: a refused or unwritable
    // --out fails at once, not after an hour's scan.
    let mut writer = ReportWriter::begin(&cfg.out, cfg.formats)?;
    let mut scan_cfg = scan_config(&cfg, catalog.clone());
    let context = match &history {
        Some(h) => {
            let (dates, nets) = h.context_bounds();
            ContextClasses::new(dates, nets)
        }
        None => ContextClasses::default(),
    };
    Scanner::new(&scan_cfg).map_err(anyhow::Error::msg)?;

    let discovered = discover::discover(&cfg.logs)?;
    for w in &discovered.warnings {
        crate::log::warn(w);
    }
    let mut files = input::sniff(&discovered.files, cfg.log_format);
    if cfg.user_field.is_none()
        && files
            .iter()
            .any(|f| f.format == Ok(crate::parse::LogFormat::Apig))
    {
        crate::log::warn(
            "API Gateway logs carry no IAM user name of their own (user_id is a project id): name the field that does with --user-field (e.g. custom_data_log1); until then every caller is unknown",
        );
    }
    for f in &mut files {
        if let Some(refused) = check_json_fields(f, &cfg) {
            f.format = Err(refused);
        }
    }
    if let Some(uf) = &cfg.user_field {
        for f in &files {
            let lacks = crate::parse::apig::Layout::ALL
                .iter()
                .find(|l| l.as_str() == f.layout)
                .is_some_and(|l| !l.has(uf));
            if lacks {
                crate::log::warn(&format!(
                    "{}: --user-field {uf}: the {} layout this file is in has no such field; its callers are read as unknown (name a field it has, e.g. app_id)",
                    f.name, f.layout
                ));
            }
        }
    }
    let scan_clock = Instant::now();
    // The previous run's findings index (for the changes table) is read beside the scan, as
    // a job of the same pool: on two threads one reads it while the other starts scanning
    // (the workers pull chunks from a shared counter, so the scan evens out), instead of
    // spending ~6 ms of the report's tail on it. Its warning, if any, waits for the scan.
    let (scanned, previous) = rayon::join(
        || -> anyhow::Result<(Scanned, f64)> {
            let scanned = match &cfg.state {
                None => {
                    scan_cfg.context = context;
                    scan_once(&cfg, files, &scan_cfg)?
                }
                Some(dir) => {
                    scan_incremental(&cfg, dir, files, scan_cfg, &catalog, &context, started)?
                }
            };
            Ok((scanned, scan_clock.elapsed().as_secs_f64()))
        },
        || {
            history
                .as_ref()
                .and_then(|_| changes::read_previous(&cfg.out))
        },
    );
    let (scanned, scan_s) = scanned?;
    let previous = match previous {
        Some(Ok(index)) => Some(index),
        Some(Err(warning)) => {
            crate::log::warn(&warning);
            None
        }
        None => None,
    };
    let stats = &scanned.stats;
    if scanned.straddling > 0 {
        crate::log::warn(&format!(
            "{} stored requests fall in hourly rows that a time condition or a snapshot change splits; each such row is judged at its earliest request (run without --state over those logs for an exact split)",
            scanned.straddling
        ));
    }
    // The report tail runs on the scan's threads, in two lanes: the usage tables are built
    // and written while the findings are judged, turned into tables and written. Files are
    // listed afterwards, in a fixed order.
    let (usage_written, judged) = rayon::join(
        || -> anyhow::Result<Vec<String>> {
            let usage = tables::usage(stats, &catalog)?;
            let unmatched = tables::unmatched(stats)?;
            writer.write_tables(vec![("usage", usage), ("unmatched", unmatched)])
        },
        || -> anyhow::Result<Option<Judged>> {
            let Some(h) = &history else {
                return Ok(None);
            };
            let f = compute_findings(&cfg, stats, &catalog, h, &scanned.earlier)?;
            let mut report =
                FindingsReport::build(&f, h.latest(), &catalog, started, previous.as_ref())?;
            // The index and the policy documents are written beside the tables (the
            // usage lane, done by then, takes one side).
            let tables = std::mem::take(&mut report.tables);
            let (written, documents) = rayon::join(
                || writer.write_tables(tables),
                || -> anyhow::Result<()> {
                    writer.write_compact_json(changes::INDEX, &report.index)?;
                    for (rel, doc) in &report.policies {
                        writer.write_json(rel, doc)?;
                    }
                    Ok(())
                },
            );
            report.written = written?;
            documents?;
            Ok(Some((f, report)))
        },
    );
    let judged = judged?;
    let usage_written = usage_written?;
    // The report's documents and the previous index are freed with the aggregates, after
    // the report is committed (freeing their strings took 2-5 ms).
    let (findings, mut report) = match judged {
        Some((f, r)) => (Some(f), Some(r)),
        None => (None, None),
    };
    if let Some(f) = &findings
        && f.before_first_snapshot > 0
    {
        crate::log::warn(&format!(
            "{} requests are older than the earliest snapshot; they were judged by it",
            f.before_first_snapshot
        ));
    }
    writer.record(usage_written);
    let mut change_counts = None;
    if let Some(report) = &mut report {
        writer.record(std::mem::take(&mut report.written));
        writer.record(report.policies.iter().map(|(rel, _)| rel.clone()).collect());
        writer.record(vec![changes::INDEX.to_owned()]);
        change_counts = Some(std::mem::take(&mut report.change_counts));
    }
    writer.announce("summary.json");
    let failing = findings
        .as_ref()
        .map(|f| failing_findings(cfg.fail_on, f))
        .unwrap_or_default();
    let mut summary = summary(
        &cfg,
        started,
        clock,
        &scanned,
        findings.as_ref(),
        writer.outputs(),
    );
    summary["scan_s"] = json!((scan_s * 1000.0).round() / 1000.0);
    // Paths found but not read (unreadable directories, FIFOs, symlink loops, hidden entries,
    // permlens's own directories): named here too, so a --quiet run keeps them.
    summary["inputs"]["paths_skipped"] = json!(discovered.warnings);
    if let Some(c) = change_counts {
        summary["changes"] = c;
    }
    if let Some(h) = &history {
        summary["snapshots"] = json!((0..h.len()).map(|i| h.label(i)).collect::<Vec<_>>());
    }
    writer.json("summary.json", &summary)?;
    writer.commit()?;
    let mut scanned = scanned;
    if let Some(mut state) = scanned.pending_state.take() {
        state.persist().context(
            "the report is written but the state could not be: the next run reads these logs again",
        )?;
    }
    crate::log::info(&format!("wrote {}", cfg.out.display()));

    if !crate::log::is_quiet() {
        print_summary(
            &cfg,
            &scanned,
            findings.as_ref(),
            history.as_ref().map(History::latest),
            clock,
        );
    }
    drop(report_lock);
    // Freeing the aggregates (tens of thousands of rows and their strings) takes a noticeable
    // share of a short run; the report is written, so the caller need not wait for it.
    std::thread::spawn(move || drop((scanned, findings, history, report, previous)));
    if failing.is_empty() {
        Ok(ExitCode::Success)
    } else {
        crate::log::warn(&format!(
            "findings matched --fail-on: {}",
            failing.join(", ")
        ));
        Ok(ExitCode::Findings)
    }
}

/// Reads the logs once, without state.
fn scan_once(
    cfg: &AnalyzeConfig,
    files: Vec<input::InputFile>,
    scan_cfg: &ScanConfig,
) -> anyhow::Result<Scanned> {
    let (stats, reports) = scan_all(cfg, &files, scan_cfg)?;
    let malformed = malformed_samples(&stats, &reports);
    check_inputs(cfg, &stats.counters, &reports, &malformed)?;
    Ok(Scanned {
        counters: stats.counters,
        stats,
        reports,
        malformed,
        state: None,
        straddling: 0,
        earlier: Default::default(),
        pending_state: None,
    })
}

/// Reads what is new since the state was written, stores it, and loads the window.
fn scan_incremental(
    cfg: &AnalyzeConfig,
    dir: &std::path::Path,
    mut pending: Vec<input::InputFile>,
    mut scan_cfg: ScanConfig,
    catalog: &Catalog,
    context: &ContextClasses,
    started: jiff::Timestamp,
) -> anyhow::Result<Scanned> {
    // Options that change what a line is read as are part of the state's identity; those
    // added later enter it only when given, so older states stay usable.
    let mut reading = cfg.log_format_text.clone();
    if let Some(z) = cfg.timezone {
        reading.push_str(&format!(";timezone={z}"));
    }
    for p in &cfg.strip_prefixes {
        reading.push_str(&format!(";strip-prefix={p}"));
    }
    let fingerprint = state::config_fingerprint(
        catalog,
        cfg.user_field.as_deref(),
        &cfg.field_specs,
        &reading,
    );
    let mut state = State::open(dir, Some(&fingerprint))?;
    if let Some(holder) = &state.took_over {
        crate::log::warn(&format!(
            "took over the lock of the state directory {} from a run that did not finish ({holder})",
            dir.display()
        ));
    }
    // Everything is stored; the window applies when the stored rows are loaded.
    scan_cfg.resumable = true;
    // Stored rows are keyed by hour and client address, not by the snapshot's context classes.
    scan_cfg.context = ContextClasses::default();
    scan_cfg.since = None;
    scan_cfg.until = None;
    let run_started = started.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut counts = StateReport::default();
    let mut counters = Counters::default();
    let mut reports = Vec::new();
    let mut malformed = Vec::new();
    // Files that share their content head with another in the same batch wait for the next
    // batch, so the same content is never read twice.
    while !pending.is_empty() {
        let plans = state.plan(&mut pending);
        let mut batch = Vec::new();
        let mut batch_plans = Vec::new();
        let mut deferred = Vec::new();
        for (f, plan) in pending.into_iter().zip(plans) {
            match plan {
                None => deferred.push(f),
                Some((plan @ state::Plan::Skip { why, .. }, prints)) => {
                    crate::log::info(&format!("{}: skipped, {why}", f.name));
                    let report = FileReport {
                        name: f.name.clone(),
                        format: f.format.as_ref().ok().copied(),
                        layout: f.layout,
                        compression: f.compression.as_str(),
                        skipped: Some(why),
                        ..FileReport::default()
                    };
                    state.record(&f, &plan, &prints, &report, Default::default(), &mut counts)?;
                    reports.push(report);
                }
                Some(p) => {
                    batch.push(f);
                    batch_plans.push(p);
                }
            }
        }
        pending = deferred;
        if batch.is_empty() {
            continue;
        }
        // Rounds of at most `round_bytes` of input: each round's rows are written to their
        // partials and dropped before the next, so a backfill over months of logs holds one
        // round's rows at a time (the manifest still commits once, at the end).
        let mut rest: Vec<(input::InputFile, (state::Plan, state::Prints))> =
            batch.into_iter().zip(batch_plans).collect();
        while !rest.is_empty() {
            let mut take = 0;
            let mut bytes = 0u64;
            while take < rest.len() && (take == 0 || bytes + rest[take].0.len <= cfg.round_bytes) {
                bytes += rest[take].0.len;
                take += 1;
            }
            let round: Vec<_> = rest.drain(..take).collect();
            let files: Vec<input::InputFile> = round.iter().map(|r| r.0.clone()).collect();
            let (hourly, mut round_reports): (state::HourlyRows, _) =
                scan_all(cfg, &files, &scan_cfg)?;
            malformed.extend(malformed_samples(&hourly.rows, &round_reports));
            counters += hourly.rows.counters;
            let mut rows = state::rows_by_file(hourly, catalog);
            for (i, (f, (plan, prints))) in round.iter().enumerate() {
                let r = &mut round_reports[i];
                if r.error.is_some() {
                    continue;
                }
                let nothing_new = r.nothing_new || (r.new_lines == 0 && !r.restarted);
                if matches!(plan, state::Plan::Resume { .. }) && nothing_new {
                    // Decompressed up to what was counted and found nothing after it.
                    r.skipped = Some("already counted (nothing new)");
                }
                let r = &*r;
                let how = match plan {
                    state::Plan::Resume { .. } if r.restarted => {
                        "content differs from what was counted: read whole".to_owned()
                    }
                    state::Plan::Resume { .. } if nothing_new => {
                        "already counted (nothing new)".to_owned()
                    }
                    state::Plan::Resume { .. } => {
                        format!("read from byte {} (counted before)", f.start)
                    }
                    state::Plan::Replace { .. } => {
                        "rewritten since counted: read whole, replacing".to_owned()
                    }
                    _ => "read".to_owned(),
                };
                crate::log::info(&format!("{}: {how}, {} new lines", f.name, r.new_lines));
                let file_rows = rows.remove(&(i as u32)).unwrap_or_default();
                state.record(f, plan, prints, r, file_rows, &mut counts)?;
            }
            reports.extend(round_reports);
            if !rest.is_empty() || !pending.is_empty() {
                state.flush(true)?;
            }
        }
    }
    check_inputs(cfg, &counters, &reports, &malformed)?;
    state.prune(
        cfg.window_days,
        cfg.retain_days,
        started.as_microsecond(),
        cfg.since,
        &mut counts,
    )?;
    crate::state::crash_point("before-commit");
    // The new state is made and read here, but written over the old one only once the report
    // is in place (see `analyze`): a run whose report fails leaves the state as it was.
    state.prepare(Some(&run_started), &mut counts)?;
    let loaded = state.load(catalog, cfg.since, cfg.until, context)?;
    Ok(Scanned {
        stats: loaded.stats,
        counters,
        reports,
        malformed,
        state: Some(counts),
        straddling: loaded.straddling,
        earlier: loaded.earlier,
        pending_state: Some(state),
    })
}

/// What the findings lane hands back: the findings and their report.
type Judged = (Findings, FindingsReport);

/// The findings tables, policy documents and change list of a run, built before writing.
struct FindingsReport {
    /// Handed to the writer in the findings lane, which lists their files in `written`.
    tables: Vec<(&'static str, polars::prelude::DataFrame)>,
    written: Vec<String>,
    policies: Vec<(String, serde_json::Value)>,
    index: changes::FindingsIndex,
    change_counts: serde_json::Value,
}

impl FindingsReport {
    fn build(
        f: &Findings,
        snapshot: &crate::policy::Snapshot,
        catalog: &Catalog,
        started: jiff::Timestamp,
        previous: Option<&changes::FindingsIndex>,
    ) -> anyhow::Result<FindingsReport> {
        // The index and the largest table are built side by side: the usage lane is often
        // done by then and its thread takes one.
        let ((index, list), denied_calls) = rayon::join(
            || {
                let index = changes::FindingsIndex::of(f, snapshot, catalog, started);
                let list = changes::diff(previous, &index);
                (index, list)
            },
            || report_findings::denied_calls(f, catalog),
        );
        let tables = vec![
            ("denied_calls", denied_calls?),
            (
                "group_permissions",
                report_findings::group_permissions(f, snapshot)?,
            ),
            (
                "over_privileged_groups",
                report_findings::over_privileged_groups(f, snapshot)?,
            ),
            (
                "unused_permissions",
                report_findings::unused_permissions(f)?,
            ),
            ("recommendations", report_findings::recommendations(f)?),
            ("changes", changes::table(&list)?),
        ];
        Ok(FindingsReport {
            tables,
            written: Vec::new(),
            policies: report_findings::policy_files(f)
                .into_iter()
                .map(|(rel, doc)| (rel, doc.clone()))
                .collect(),
            change_counts: changes::counts(previous, &list),
            index,
        })
    }
}

fn compute_findings(
    cfg: &AnalyzeConfig,
    stats: &Stats,
    catalog: &Catalog,
    history: &History,
    earlier: &findings::EarlierUses,
) -> anyhow::Result<Findings> {
    if stats.counters.bss_requests == 0 {
        bail!(
            "the logs hold no request to a {} API in the catalog ({} lines read): no basis for calling any permission unused; check the inputs, --since/--until and --log-format",
            catalog.service(),
            stats.counters.lines
        );
    }
    let (first, last) = stats.window.expect("requests were read");
    let window = Window {
        start: cfg.since.unwrap_or(first),
        end: cfg.until.unwrap_or(last),
    };
    Ok(findings::compute(
        stats,
        catalog,
        history,
        window,
        cfg.min_days,
        earlier,
    ))
}

/// The `--fail-on` kinds that have findings.
fn failing_findings(fail_on: FailOn, f: &Findings) -> Vec<&'static str> {
    let mut out = Vec::new();
    if fail_on.denied && (f.count(Verdict::Confirmed) > 0 || f.count(Verdict::ObservedOnly) > 0) {
        out.push("denied");
    }
    if fail_on.drift && (f.count(Verdict::PredictedOnly) > 0 || f.count(Verdict::ObservedOnly) > 0)
    {
        out.push("drift");
    }
    if fail_on.over_privileged && f.over_privileged().next().is_some() {
        out.push("over-privileged");
    }
    if fail_on.unused && !f.unused.is_empty() {
        out.push("unused");
    }
    out
}

fn scan_config(cfg: &AnalyzeConfig, catalog: Catalog) -> ScanConfig {
    let mut s = ScanConfig::new(catalog);
    if !cfg.prefilter {
        s.prefilter = None;
    } else {
        s.prefilter = Some(Prefilter::new(&s.catalog));
    }
    s.since = cfg.since;
    s.until = cfg.until;
    s.fields = cfg.fields.clone();
    s.user_field = cfg.user_field.clone();
    s.timezone = cfg.timezone;
    s.strip_prefixes = cfg
        .strip_prefixes
        .iter()
        .map(|p| p.as_bytes().into())
        .collect();
    s
}

fn scan_all<S: crate::scan::Sink>(
    cfg: &AnalyzeConfig,
    files: &[input::InputFile],
    scan_cfg: &ScanConfig,
) -> anyhow::Result<(S, Vec<FileReport>)> {
    let total: u64 = files.iter().map(|f| f.len).sum();
    // --quiet means silent, progress bar included.
    let mode = if crate::log::is_quiet() {
        ProgressMode::Never
    } else {
        cfg.progress
    };
    let bar = progress::bar(total, mode);
    let tick = |n: u64| bar.inc(n);
    let result = input::scan(files, scan_cfg, &tick);
    bar.finish_and_clear();
    Ok(result)
}

/// The worker threads (`-j`).
fn worker_pool(cfg: &AnalyzeConfig) -> anyhow::Result<rayon::ThreadPool> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = cfg.threads {
        pool = pool.num_threads(n);
    }
    pool.build().context("cannot start the worker threads")
}

/// Names a JSON-lines file whose first record lacks what a request needs, once, before the
/// scan: without a method and target every line would pass as other traffic, without a
/// status no call could count as used or denied, without a caller every call would be an
/// unknown user's, without a time every line is malformed. Each warning names the field,
/// where permlens looked, and `--field`.
///
/// A file none of whose first records has a method and a target is no access log of any
/// kind permlens reads: it is refused (the returned error), not counted as other traffic.
fn check_json_fields(f: &input::InputFile, cfg: &AnalyzeConfig) -> Option<String> {
    let json = matches!(
        f.format,
        Ok(crate::parse::LogFormat::Json | crate::parse::LogFormat::JsonDocument)
    );
    if !json || f.keys.is_empty() {
        return None;
    }
    let found = crate::parse::json::field_sources(&f.keys, &cfg.fields);
    let has = |name: &str| found.iter().any(|(n, k)| *n == name && k.is_some());
    let keys = f
        .keys
        .iter()
        .filter(|k| !k.contains('.'))
        .take(16)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let shape = if f.layout.is_empty() {
        "json-lines"
    } else {
        f.layout
    };
    let templates = f
        .keys
        .iter()
        .any(|k| k == "resourcePath" || k == "routeKey");
    if !(has("request") || (has("method") && has("path"))) {
        if templates {
            // An access log that names routes, not requests: refused, it cannot be read.
            return Some(format!(
                "read as JSON lines ({shape}), but its records have only a route template (resourcePath, routeKey), not the request path: log $context.path (and --strip-prefix the stage), or name the path with --field path=KEY (keys: {keys}); see permlens inspect"
            ));
        }
        // Another kind of JSON log (an application's): named, its lines counted as not
        // addressed to the service.
        crate::log::warn(&format!(
            "{}: read as JSON lines ({shape}), but its records have no HTTP method and request target: not an access log? name them with --field method=KEY --field path=KEY (keys: {keys}); see permlens inspect",
            f.name
        ));
        return None;
    }
    let warn = |what: &str| {
        crate::log::warn(&format!(
            "{}: read as JSON lines ({shape}), but its first record {what} (keys: {keys}); see permlens inspect",
            f.name
        ))
    };
    if !has("status") {
        warn(
            "has no status (status, status_code, response_code, statusCode, DownstreamStatus, response.status): no call can count as used or denied; name it with --field status=KEY",
        );
    }
    if !has("user") {
        match &cfg.user_field {
            Some(uf) => warn(&format!(
                "has no {uf} (--user-field) and no user field: its callers are read as unknown"
            )),
            None => warn(
                "has no caller (user_name, user, username, remote_user, ClientUsername, caller, consumer.username ...): every caller is unknown; name it with --field user=KEY",
            ),
        }
    }
    if !has("time") {
        warn(
            "has no time (StartUTC, start_time, started_at, time, timestamp, @timestamp, time_local, requestTime, ts ...): its lines cannot be read; name it with --field time=KEY",
        );
    }
    None
}

/// Exit-2 conditions that depend on what the scan found.
fn check_inputs(
    cfg: &AnalyzeConfig,
    c: &Counters,
    reports: &[FileReport],
    malformed: &[String],
) -> anyhow::Result<()> {
    let errors: Vec<&str> = reports.iter().filter_map(|r| r.error.as_deref()).collect();
    for w in reports.iter().flat_map(|r| &r.warnings) {
        crate::log::warn(w);
    }
    if !errors.is_empty() {
        for e in &errors[..errors.len() - 1] {
            crate::log::error(e);
        }
        bail!("{}", errors[errors.len() - 1]);
    }
    // AWS API Gateway paths ($context.path) start with the stage: a file of them in which no
    // request is a BSS call most likely needs --strip-prefix.
    for r in reports {
        if matches!(r.layout, "aws-rest" | "aws-http")
            && r.counts.parsed > 0
            && r.counts.bss_requests == 0
            && cfg.strip_prefixes.is_empty()
        {
            crate::log::warn(&format!(
                "{}: none of its {} requests is a BSS call: AWS API Gateway paths ($context.path) start with the stage; name it with --strip-prefix /STAGE (e.g. --strip-prefix /prod)",
                r.name, r.counts.parsed
            ));
        }
    }
    // A file from which nothing could be read is named, whatever the other files gave.
    for r in reports {
        if r.new_lines > 0 && r.malformed >= r.new_lines && r.warnings.is_empty() {
            let prefix = format!("{}:", r.name);
            let first = malformed
                .iter()
                .find_map(|m| m.strip_prefix(&prefix))
                .unwrap_or_default();
            crate::log::warn(&format!(
                "{}: no request could be read from its {} lines (read as {}); the first: line{first}",
                r.name,
                r.new_lines,
                if r.layout.is_empty() {
                    r.format.map_or("?", |f| f.as_str())
                } else {
                    r.layout
                },
            ));
        }
    }
    let read = reports.iter().filter(|r| r.skipped.is_none()).count();
    // With --state, a night with nothing new is fine; new lines with no request in them are
    // not. (A compressed copy of counted content has bytes but no new line.)
    if c.parsed + c.prefiltered == 0 && (cfg.state.is_none() || c.lines > 0) {
        bail!(
            "no request could be read from {} file(s) ({} lines, {} malformed): nothing to report",
            read,
            c.lines,
            c.malformed
        );
    }
    // Every non-blank line is judged: parsed, checked for its format's shape, or malformed.
    let judged = c.parsed + c.malformed + c.prefiltered;
    if judged > 0 && c.malformed as f64 > cfg.max_bad_ratio * judged as f64 {
        for s in malformed.iter().take(5) {
            crate::log::warn(&format!("malformed: {s}"));
        }
        bail!(
            "{} of {} lines read were malformed ({:.2}%), more than --max-bad-ratio {}",
            c.malformed,
            judged,
            100.0 * c.malformed as f64 / judged as f64,
            cfg.max_bad_ratio
        );
    }
    Ok(())
}

/// `file:line: reason` of the kept malformed lines (line numbers count the lines of a file
/// counted by earlier runs too).
fn malformed_samples<K: crate::aggregate::RowKey>(
    stats: &Stats<K>,
    reports: &[FileReport],
) -> Vec<String> {
    stats
        .malformed_samples()
        .into_iter()
        .map(|(file, line, reason)| {
            let r = &reports[file as usize];
            let base = r.lines - r.new_lines.min(r.lines);
            format!("{}:{}: {reason}", r.name, base + line)
        })
        .collect()
}

fn findings_json(f: &Findings) -> serde_json::Value {
    json!({
        "denied_calls": {
            "confirmed": f.count(Verdict::Confirmed),
            "predicted_only": f.count(Verdict::PredictedOnly),
            "observed_only": f.count(Verdict::ObservedOnly),
        },
        "over_privileged_groups": f.over_privileged().count(),
        "unused_permissions": f.unused.len(),
        "recommendations": f.recommendations.len(),
        "window_days": (f.window_days * 100.0).round() / 100.0,
    })
}

fn summary(
    cfg: &AnalyzeConfig,
    started: jiff::Timestamp,
    clock: Instant,
    scanned: &Scanned,
    findings: Option<&Findings>,
    outputs: &[String],
) -> serde_json::Value {
    let c = &scanned.counters;
    let reports = &scanned.reports;
    let window = scanned.stats.window;
    let read = reports.iter().filter(|r| r.skipped.is_none());
    let mut warnings = crate::log::warnings();
    for w in reports.iter().flat_map(|r| &r.warnings) {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started_at": started.to_string(),
        "duration_s": (clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "inputs": {
            "files": reports.len(),
            "files_read": read.clone().count(),
            "files_skipped": reports.len() - read.clone().count(),
            "bytes": read.map(|r| r.bytes).sum::<u64>(),
            "lines": c.lines,
            "blank": c.blank,
            "parsed": c.parsed,
            "malformed": c.malformed,
            "out_of_window": c.out_of_window,
            "bss_requests": c.bss_requests,
            "unmatched_requests": c.unmatched_requests,
            "unlisted_requests": c.unlisted_parsed,
            "not_addressed_to_service": c.prefiltered,
            "prefiltered": c.prefiltered,
            "dot_segment_requests": c.dot_segments,
            "percent_encoded_requests": c.percent_decoded,
            "malformed_samples": scanned.malformed,
            "warnings": warnings,
            "per_file": reports.iter().map(|r| json!({
                "file": r.name,
                "format": r.format.map(|f| f.as_str()),
                "layout": (!r.layout.is_empty()).then_some(r.layout),
                "compression": r.compression,
                "bytes": r.bytes,
                "lines": r.lines,
                "new_lines": r.new_lines,
                "malformed": r.malformed,
                "blank": r.counts.blank,
                "parsed": r.counts.parsed,
                "not_addressed_to_service": r.counts.prefiltered,
                "bss_requests": r.counts.bss_requests,
                "skipped": r.skipped,
                "warnings": r.warnings,
            })).collect::<Vec<_>>(),
        },
        "state": scanned.state.as_ref().map(|s| json!({
            "dir": s.dir,
            "entries": s.entries,
            "files_new": s.files_new,
            "files_resumed": s.files_resumed,
            "files_replaced": s.files_replaced,
            "files_skipped": s.files_skipped,
            "files_not_stored": s.files_not_stored,
            "bytes_skipped": s.bytes_skipped,
            "requests_pruned": s.rows_pruned,
            "entries_dropped": s.entries_dropped,
            "retain_days": s.retain_days,
            "stored_bss_requests": scanned.stats.counters.bss_requests,
            "straddling_requests": scanned.straddling,
        })),
        "window": {
            "first": window.map(|w| format_micros(w.0)),
            "last": window.map(|w| format_micros(w.1)),
            "since": cfg.since.map(format_micros),
            "until": cfg.until.map(format_micros),
        },
        "findings": findings.map_or_else(|| json!({}), findings_json),
        "outputs": outputs,
    })
}

fn print_summary(
    cfg: &AnalyzeConfig,
    scanned: &Scanned,
    findings: Option<&Findings>,
    snapshot: Option<&Snapshot>,
    clock: Instant,
) {
    let c = &scanned.counters;
    let reports = &scanned.reports;
    let read: Vec<&FileReport> = reports.iter().filter(|r| r.skipped.is_none()).collect();
    let bytes: u64 = read.iter().map(|r| r.bytes).sum();
    let secs = clock.elapsed().as_secs_f64().max(1e-9);
    println!(
        "permlens: read {} file(s), {:.1} MiB, {} lines in {:.2}s ({:.0} MiB/s)",
        read.len(),
        bytes as f64 / (1 << 20) as f64,
        c.lines,
        secs,
        bytes as f64 / (1 << 20) as f64 / secs
    );
    println!(
        "  {} BSS requests, {} unmatched calls to the service, {} requests to unlisted APIs, {} lines not addressed to the service, {} malformed, {} out of window",
        c.bss_requests,
        c.unmatched_requests,
        c.unlisted_parsed,
        c.prefiltered,
        c.malformed,
        c.out_of_window
    );
    if let Some(s) = &scanned.state {
        println!(
            "  state {}: {} new, {} resumed, {} skipped as already counted; {} BSS requests stored in the window",
            s.dir,
            s.files_new + s.files_replaced,
            s.files_resumed,
            s.files_skipped,
            scanned.stats.counters.bss_requests
        );
    }
    let stats = &scanned.stats;
    if let Some((a, b)) = stats.window {
        println!("  window {} .. {}", format_micros(a), format_micros(b));
    }
    if let (Some(f), Some(s)) = (findings, snapshot) {
        println!(
            "  denied calls: {} confirmed, {} predicted only, {} observed only",
            f.count(Verdict::Confirmed),
            f.count(Verdict::PredictedOnly),
            f.count(Verdict::ObservedOnly)
        );
        let worst: Vec<String> = f
            .over_privileged()
            .take(3)
            .map(|g| {
                format!(
                    "{} ({} of {} unused)",
                    s.groups[g.group].name,
                    g.unused,
                    g.used + g.unused
                )
            })
            .collect();
        println!(
            "  over-privileged groups: {}{}",
            f.over_privileged().count(),
            if worst.is_empty() {
                String::new()
            } else {
                format!(": {}", worst.join(", "))
            }
        );
        let mut denied_by_user: std::collections::BTreeMap<&str, u64> =
            std::collections::BTreeMap::new();
        for d in f
            .denied
            .iter()
            .filter(|d| d.verdict != Verdict::PredictedOnly)
        {
            *denied_by_user.entry(&d.user).or_insert(0) += d.cell.count;
        }
        let mut top: Vec<(&str, u64)> = denied_by_user.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        if !top.is_empty() {
            let top: Vec<String> = top
                .iter()
                .take(3)
                .map(|(u, n)| format!("{u} ({n})"))
                .collect();
            println!("  most denied users: {}", top.join(", "));
        }
        // Callers the snapshot does not know (or that the log does not name): a missing
        // caller field or a stale snapshot, worth seeing apart from real denials.
        let mut unknown: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for d in f.denied.iter().filter(|d| d.reason == "unknown_user") {
            *unknown.entry(&d.user).or_insert(0) += d.cell.count;
        }
        if !unknown.is_empty() {
            let requests: u64 = unknown.values().sum();
            let names: Vec<String> = unknown
                .keys()
                .take(5)
                .map(|u| {
                    if u.is_empty() {
                        "(no caller in the log)".to_owned()
                    } else {
                        (*u).to_owned()
                    }
                })
                .collect();
            println!(
                "  unknown users: {} caller(s), {requests} request(s) not in the snapshot: {}{}",
                unknown.len(),
                names.join(", "),
                if unknown.len() > 5 { ", ..." } else { "" }
            );
        }
        println!(
            "  unused permissions: {}, recommendations: {} (window {:.1} days)",
            f.unused.len(),
            f.recommendations.len(),
            f.window_days
        );
    }
    println!("  report: {}", cfg.out.display());
}
