//! `permlens analyze`: the nightly job. The pipeline, in order: resolve options, load the
//! catalog and the snapshot, find and sniff the logs, scan them in parallel, judge the input's
//! quality, compute findings, write the report directory atomically, print the summary.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::json;

use crate::aggregate::Stats;
use crate::catalog::Catalog;
use crate::cli::{AnalyzeArgs, ProgressMode};
use crate::input::{self, FileReport, discover};
use crate::parse::FormatChoice;
use crate::parse::json::FieldMap;
use crate::parse::time::format_micros;
use crate::policy::Snapshot;
use crate::policy::condition::parse_date;
use crate::report::{Formats, ReportWriter, tables};
use crate::scan::{Prefilter, ScanConfig, Scanner};
use crate::{ExitCode, progress};

/// `analyze` options, resolved and validated.
#[derive(Debug)]
#[allow(dead_code)] // fail_on and min_days are read by the findings stage
pub struct AnalyzeConfig {
    /// Log files, directories, globs.
    pub logs: Vec<PathBuf>,
    /// The snapshot, when findings are wanted.
    pub policies: Option<PathBuf>,
    /// The report directory.
    pub out: PathBuf,
    pub formats: Formats,
    pub log_format: FormatChoice,
    pub fields: FieldMap,
    pub user_field: Option<String>,
    pub catalog: Option<PathBuf>,
    /// Window bounds, microseconds since the epoch.
    pub since: Option<i64>,
    pub until: Option<i64>,
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

impl AnalyzeConfig {
    pub fn from_args(a: AnalyzeArgs) -> anyhow::Result<AnalyzeConfig> {
        let formats: Formats = a
            .format
            .parse()
            .map_err(|e| anyhow::anyhow!("--format: {e}"))?;
        let log_format: FormatChoice = a
            .log_format
            .parse()
            .map_err(|e| anyhow::anyhow!("--log-format: {e}"))?;
        let mut fields = FieldMap::default();
        for spec in &a.fields {
            fields.set(spec).map_err(anyhow::Error::msg)?;
        }
        if let Some(uf) = &a.user_field {
            crate::parse::apig::ApigParser::new(Some(uf)).map_err(anyhow::Error::msg)?;
        }
        let since = time_option("--since", &a.since)?;
        let until = time_option("--until", &a.until)?;
        if let (Some(s), Some(u)) = (since, until)
            && s >= u
        {
            bail!(
                "--since {} is not before --until {}",
                format_micros(s),
                format_micros(u)
            );
        }
        if a.threads == Some(0) {
            bail!("--threads: expected at least 1, got 0");
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
            fields,
            user_field: a.user_field,
            catalog: a.catalog.catalog,
            since,
            until,
            threads: a.threads,
            progress: a.progress,
            fail_on,
            min_days: a.min_days,
            max_bad_ratio: a.max_bad_ratio,
            prefilter: !a.no_prefilter,
        })
    }
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let started = jiff::Timestamp::now();
    let clock = Instant::now();
    let cfg = AnalyzeConfig::from_args(args)?;
    let catalog = Catalog::load_or_embedded(cfg.catalog.as_deref())?;
    let snapshot = cfg.policies.as_deref().map(Snapshot::load).transpose()?;
    if let Some(s) = &snapshot {
        for w in &s.warnings {
            eprintln!("permlens: warning: {w}");
        }
    }
    let scan_cfg = scan_config(&cfg, catalog.clone());
    Scanner::new(&scan_cfg).map_err(anyhow::Error::msg)?;

    let discovered = discover::discover(&cfg.logs)?;
    for w in &discovered.warnings {
        eprintln!("permlens: warning: {w}");
    }
    let files = input::sniff(&discovered.files, cfg.log_format);
    let (stats, reports) = scan_all(&cfg, &files, &scan_cfg)?;
    check_inputs(&cfg, &stats, &reports)?;

    let mut writer = ReportWriter::begin(&cfg.out, cfg.formats)?;
    writer.table("usage", tables::usage(&stats, &catalog)?)?;
    writer.table("unmatched", tables::unmatched(&stats)?)?;
    writer.announce("summary.json");
    let summary = summary(&cfg, started, clock, &stats, &reports, writer.outputs());
    writer.json("summary.json", &summary)?;
    writer.commit()?;

    print_summary(&cfg, &stats, &reports, clock);
    Ok(ExitCode::Success)
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
    s
}

fn scan_all(
    cfg: &AnalyzeConfig,
    files: &[input::InputFile],
    scan_cfg: &ScanConfig,
) -> anyhow::Result<(Stats, Vec<FileReport>)> {
    let total: u64 = files.iter().map(|f| f.len).sum();
    let bar = progress::bar(total, cfg.progress);
    let tick = |n: u64| bar.inc(n);
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = cfg.threads {
        pool = pool.num_threads(n);
    }
    let pool = pool.build().context("cannot start the worker threads")?;
    let result = pool.install(|| input::scan(files, scan_cfg, &tick));
    bar.finish_and_clear();
    Ok(result)
}

/// Exit-2 conditions that depend on what the scan found.
fn check_inputs(cfg: &AnalyzeConfig, stats: &Stats, reports: &[FileReport]) -> anyhow::Result<()> {
    let errors: Vec<&str> = reports.iter().filter_map(|r| r.error.as_deref()).collect();
    for w in reports.iter().flat_map(|r| &r.warnings) {
        eprintln!("permlens: warning: {w}");
    }
    if !errors.is_empty() {
        for e in &errors[..errors.len() - 1] {
            eprintln!("permlens: error: {e}");
        }
        bail!("{}", errors[errors.len() - 1]);
    }
    let c = &stats.counters;
    if c.parsed + c.prefiltered == 0 {
        bail!(
            "no request could be read from {} file(s) ({} lines, {} malformed): nothing to report",
            reports.len(),
            c.lines,
            c.malformed
        );
    }
    let judged = c.parsed + c.malformed;
    if judged > 0 && c.malformed as f64 > cfg.max_bad_ratio * judged as f64 {
        let samples = malformed_samples(stats, reports);
        for s in samples.iter().take(5) {
            eprintln!("permlens: malformed: {s}");
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

fn malformed_samples(stats: &Stats, reports: &[FileReport]) -> Vec<String> {
    stats
        .malformed_samples()
        .into_iter()
        .map(|(file, line, reason)| format!("{}:{line}: {reason}", reports[file as usize].name))
        .collect()
}

fn summary(
    cfg: &AnalyzeConfig,
    started: jiff::Timestamp,
    clock: Instant,
    stats: &Stats,
    reports: &[FileReport],
    outputs: &[String],
) -> serde_json::Value {
    let c = &stats.counters;
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started_at": started.to_string(),
        "duration_s": (clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "inputs": {
            "files": reports.len(),
            "bytes": reports.iter().map(|r| r.bytes).sum::<u64>(),
            "lines": c.lines,
            "blank": c.blank,
            "parsed": c.parsed,
            "malformed": c.malformed,
            "out_of_window": c.out_of_window,
            "bss_requests": c.bss_requests,
            "unmatched_requests": c.unmatched_requests,
            "unlisted_requests": c.unlisted_parsed + c.prefiltered,
            "prefiltered": c.prefiltered,
            "dot_segment_requests": c.dot_segments,
            "percent_encoded_requests": c.percent_decoded,
            "malformed_samples": malformed_samples(stats, reports),
            "per_file": reports.iter().map(|r| json!({
                "file": r.name,
                "format": r.format.map(|f| f.as_str()),
                "compression": r.compression,
                "bytes": r.bytes,
                "lines": r.lines,
                "malformed": r.malformed,
                "warnings": r.warnings,
            })).collect::<Vec<_>>(),
        },
        "window": {
            "first": stats.window.map(|w| format_micros(w.0)),
            "last": stats.window.map(|w| format_micros(w.1)),
            "since": cfg.since.map(format_micros),
            "until": cfg.until.map(format_micros),
        },
        "findings": {},
        "outputs": outputs,
    })
}

fn print_summary(cfg: &AnalyzeConfig, stats: &Stats, reports: &[FileReport], clock: Instant) {
    let c = &stats.counters;
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    let secs = clock.elapsed().as_secs_f64().max(1e-9);
    println!(
        "permlens: read {} file(s), {:.1} MiB, {} lines in {:.2}s ({:.0} MiB/s)",
        reports.len(),
        bytes as f64 / (1 << 20) as f64,
        c.lines,
        secs,
        bytes as f64 / (1 << 20) as f64 / secs
    );
    println!(
        "  {} BSS requests, {} unmatched calls to the service, {} other requests, {} malformed, {} out of window",
        c.bss_requests,
        c.unmatched_requests,
        c.unlisted_parsed + c.prefiltered,
        c.malformed,
        c.out_of_window
    );
    if let Some((a, b)) = stats.window {
        println!("  window {} .. {}", format_micros(a), format_micros(b));
    }
    println!("  report: {}", cfg.out.display());
}
