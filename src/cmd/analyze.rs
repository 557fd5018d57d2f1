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
use crate::findings::{self, Findings, Verdict, Window};
use crate::input::{self, FileReport, discover};
use crate::parse::FormatChoice;
use crate::parse::json::FieldMap;
use crate::parse::time::format_micros;
use crate::policy::Snapshot;
use crate::policy::condition::parse_date;
use crate::report::findings as report_findings;
use crate::report::{Formats, ReportWriter, tables};
use crate::scan::{ContextClasses, Prefilter, ScanConfig, Scanner};
use crate::{ExitCode, progress};

/// `analyze` options, resolved and validated.
#[derive(Debug)]
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
    let mut scan_cfg = scan_config(&cfg, catalog.clone());
    if let Some(s) = &snapshot {
        let (dates, nets) = s.context_bounds();
        scan_cfg.context = ContextClasses::new(dates, nets);
    }
    Scanner::new(&scan_cfg).map_err(anyhow::Error::msg)?;

    let discovered = discover::discover(&cfg.logs)?;
    for w in &discovered.warnings {
        eprintln!("permlens: warning: {w}");
    }
    let files = input::sniff(&discovered.files, cfg.log_format);
    if cfg.user_field.is_none()
        && files
            .iter()
            .any(|f| f.format == Ok(crate::parse::LogFormat::Apig))
    {
        eprintln!(
            "permlens: warning: API Gateway logs carry no IAM user name of their own (user_id is a project id): name the field that does with --user-field (e.g. custom_data_log1); until then every caller is unknown"
        );
    }
    let scan_clock = Instant::now();
    let (stats, reports) = scan_all(&cfg, &files, &scan_cfg)?;
    let scan_s = scan_clock.elapsed().as_secs_f64();
    check_inputs(&cfg, &stats, &reports)?;
    let findings = match &snapshot {
        Some(s) => Some(compute_findings(&cfg, &stats, &catalog, s)?),
        None => None,
    };

    let mut writer = ReportWriter::begin(&cfg.out, cfg.formats)?;
    writer.table("usage", tables::usage(&stats, &catalog)?)?;
    writer.table("unmatched", tables::unmatched(&stats)?)?;
    if let (Some(f), Some(s)) = (&findings, &snapshot) {
        writer.table("denied_calls", report_findings::denied_calls(f, &catalog)?)?;
        writer.table(
            "group_permissions",
            report_findings::group_permissions(f, s)?,
        )?;
        writer.table(
            "over_privileged_groups",
            report_findings::over_privileged_groups(f, s)?,
        )?;
        writer.table(
            "unused_permissions",
            report_findings::unused_permissions(f)?,
        )?;
        writer.table("recommendations", report_findings::recommendations(f)?)?;
        for (rel, doc) in report_findings::policy_files(f) {
            writer.json(&rel, doc)?;
        }
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
        &stats,
        &reports,
        findings.as_ref(),
        writer.outputs(),
    );
    summary["scan_s"] = json!((scan_s * 1000.0).round() / 1000.0);
    writer.json("summary.json", &summary)?;
    writer.commit()?;

    print_summary(
        &cfg,
        &stats,
        &reports,
        findings.as_ref(),
        snapshot.as_ref(),
        clock,
    );
    if failing.is_empty() {
        Ok(ExitCode::Success)
    } else {
        eprintln!(
            "permlens: findings matched --fail-on: {}",
            failing.join(", ")
        );
        Ok(ExitCode::Findings)
    }
}

fn compute_findings(
    cfg: &AnalyzeConfig,
    stats: &Stats,
    catalog: &Catalog,
    snapshot: &Snapshot,
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
        snapshot,
        window,
        cfg.min_days,
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
    stats: &Stats,
    reports: &[FileReport],
    findings: Option<&Findings>,
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
        "findings": findings.map_or_else(|| json!({}), findings_json),
        "outputs": outputs,
    })
}

fn print_summary(
    cfg: &AnalyzeConfig,
    stats: &Stats,
    reports: &[FileReport],
    findings: Option<&Findings>,
    snapshot: Option<&Snapshot>,
    clock: Instant,
) {
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
        println!(
            "  unused permissions: {}, recommendations: {} (window {:.1} days)",
            f.unused.len(),
            f.recommendations.len(),
            f.window_days
        );
    }
    println!("  report: {}", cfg.out.display());
}
