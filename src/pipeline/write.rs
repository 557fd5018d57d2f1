//! The report stage: judge the aggregate against the snapshots and write every table, the
//! policy documents and `summary.json` into the staged report, then swap it into place.
//!
//! The tail runs on the scan's threads in two lanes: the usage tables are built and written
//! while the findings are judged, turned into tables and written. `report.html` is made from
//! the same frames: each lane renders its part of the page beside writing its tables, and
//! the page is finished once `summary.json` is known (it shows the run). Files are listed
//! afterwards, in a fixed order, so the report does not depend on which lane finished first.

use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::json;

use super::{Config, Context, Read, Scanned};
use crate::aggregate::Stats;
use crate::catalog::Catalog;
use crate::findings::{self, Findings, Verdict, Window};
use crate::parse::time::format_micros;
use crate::policy::History;
use crate::report::page::{self, PolicyDoc, Table};
use crate::report::{Formats, ReportWriter, changes, finding_tables, tables};

/// What the findings lane hands back: the findings and their report.
type Judged = (Findings, FindingsReport);

/// A run whose report is written: what the summary on stdout and the exit code need.
pub struct Done {
    pub scanned: Scanned,
    pub findings: Option<Findings>,
    /// The `--fail-on` kinds that have findings.
    pub failing: Vec<&'static str>,
    /// The report's documents and the previous index: freed with the aggregates, after
    /// the report is committed (see [`Done::exit_code`]).
    _report: Option<FindingsReport>,
    _previous: Option<changes::FindingsIndex>,
}

impl Done {
    /// The exit code. The aggregates (tens of thousands of rows and their strings) are freed
    /// on another thread: the report is written, so the caller need not wait for that.
    pub fn exit_code(self, history: Option<History>) -> crate::ExitCode {
        let failing = self.failing.clone();
        std::thread::spawn(move || drop((self, history)));
        if failing.is_empty() {
            crate::ExitCode::Success
        } else {
            crate::log::warn(&format!(
                "findings matched --fail-on: {}",
                failing.join(", ")
            ));
            crate::ExitCode::Findings
        }
    }
}

/// When and how long: for `summary.json`.
pub struct Timing {
    pub started: jiff::Timestamp,
    pub clock: Instant,
}

/// Judges, writes the report and commits it; then writes the state the run made.
pub fn report(
    cfg: &Config,
    ctx: &Context,
    read: Read,
    mut writer: ReportWriter,
    paths_skipped: &[String],
    timing: &Timing,
) -> anyhow::Result<Done> {
    let Read {
        mut scanned,
        previous,
        scan_s,
    } = read;
    if scanned.straddling > 0 {
        crate::log::warn(&format!(
            "{} stored requests fall in hourly rows that a time condition or a snapshot change splits; each such row is judged at its earliest request (run without --state over those logs for an exact split)",
            scanned.straddling
        ));
    }
    let ((usage_written, usage_page), judged) =
        lanes(cfg, ctx, &scanned, &writer, previous.as_ref(), timing)?;
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
    let change_counts = list_outputs(
        &mut writer,
        usage_written,
        report.as_mut(),
        usage_page.is_some(),
    );
    let failing = findings
        .as_ref()
        .map(|f| super::config::failing_findings(cfg.fail_on, f))
        .unwrap_or_default();
    let mut summary = summary(cfg, timing, &scanned, findings.as_ref(), writer.outputs());
    summary["scan_s"] = json!((scan_s * 1000.0).round() / 1000.0);
    summary["inputs"]["paths_skipped"] = json!(paths_skipped);
    if let Some(c) = change_counts {
        summary["changes"] = c;
    }
    if let Some(h) = &ctx.history {
        snapshot_context(&mut summary, h, report.as_ref());
    }
    if let Some(usage_page) = &usage_page {
        let findings_page = report.as_ref().and_then(|r| r.page.as_ref());
        let html = page::page(&summary, usage_page, findings_page, &page::Made::ByTheRun);
        writer.write_text(page::FILE, &html)?;
    }
    writer.json("summary.json", &summary)?;
    writer.commit()?;
    if let Some(mut state) = scanned.pending_state.take() {
        state.persist().context(
            "the report is written but the state could not be: the next run reads these logs again",
        )?;
    }
    crate::log::info(&format!("wrote {}", cfg.out.display()));
    Ok(Done {
        scanned,
        findings,
        failing,
        _report: report,
        _previous: previous,
    })
}

/// Lists the files the lanes wrote, in a fixed order, then the page and `summary.json` to
/// come; returns the change counts for the summary.
fn list_outputs(
    writer: &mut ReportWriter,
    usage_written: Vec<String>,
    report: Option<&mut FindingsReport>,
    with_page: bool,
) -> Option<serde_json::Value> {
    writer.list(usage_written);
    let mut change_counts = None;
    if let Some(report) = report {
        writer.list(std::mem::take(&mut report.written));
        writer.list(report.policies.iter().map(|p| p.file.clone()).collect());
        writer.list(vec![changes::INDEX.to_owned()]);
        change_counts = Some(std::mem::take(&mut report.change_counts));
    }
    if with_page {
        writer.announce(page::FILE);
    }
    writer.announce("summary.json");
    change_counts
}

/// What `summary.json` says of the snapshots: which judged, the account, and which policy
/// file is each group's (so that a report read back pairs them without guessing).
fn snapshot_context(summary: &mut serde_json::Value, h: &History, report: Option<&FindingsReport>) {
    summary["snapshots"] = json!((0..h.len()).map(|i| h.label(i)).collect::<Vec<_>>());
    summary["account"] = json!(h.latest().domain_name);
    if let Some(report) = report {
        summary["recommended_policies"] = report
            .policies
            .iter()
            .map(|p| json!({"group": p.group, "file": p.file}))
            .collect();
    }
}

/// What the usage lane hands back: the files it wrote and its part of the page.
type UsageWritten = (Vec<String>, Option<page::UsagePart>);

/// The two lanes: usage tables on one side; findings judged, built and written on the other.
/// Each lane renders its part of the page beside writing its tables.
fn lanes(
    cfg: &Config,
    ctx: &Context,
    scanned: &Scanned,
    writer: &ReportWriter,
    previous: Option<&changes::FindingsIndex>,
    timing: &Timing,
) -> anyhow::Result<(UsageWritten, Option<Judged>)> {
    let stats = &scanned.stats;
    let catalog = &ctx.catalog;
    let with_page = cfg.formats.writes_page(ctx.history.is_some());
    let (usage_written, judged) = rayon::join(
        || -> anyhow::Result<UsageWritten> {
            let usage = tables::usage(stats, catalog)?;
            let unmatched = tables::unmatched(stats)?;
            let page_tables = with_page.then(|| page::UsageTables {
                usage: frame_table("usage", &usage, cfg.formats),
                unmatched: frame_table("unmatched", &unmatched, cfg.formats),
            });
            let (written, part) = rayon::join(
                || writer.write_tables(vec![("usage", usage), ("unmatched", unmatched)]),
                || page_tables.as_ref().map(page::usage_part).transpose(),
            );
            Ok((written?, part?))
        },
        || -> anyhow::Result<Option<Judged>> {
            let Some(h) = &ctx.history else {
                return Ok(None);
            };
            let mut f = judge(cfg, stats, catalog, h, &scanned.earlier)?;
            if let Some((exceptions, file)) = &ctx.exceptions {
                let now = timing.started.as_microsecond();
                let r =
                    findings::excepted::apply(&mut f, exceptions, file, h.latest(), catalog, now);
                for (id, expires) in &r.expired {
                    crate::log::warn(&format!(
                        "exceptions file {file}: {id} expired on {expires}: it no longer applies"
                    ));
                }
                for id in &r.stale {
                    crate::log::warn(&format!(
                        "exceptions file {file}: {id} matched no finding in this run: stale (remove it, or check its matchers)"
                    ));
                }
                f.excepted_report = Some(r);
            }
            let mut report =
                FindingsReport::build(&f, h.latest(), catalog, timing.started, previous)?;
            // The index, the policy documents and the page's part are made beside the
            // tables (the usage lane, done by then, takes one side).
            let tables = std::mem::take(&mut report.tables);
            let page_tables = with_page.then(|| page_tables(&tables, cfg.formats));
            let (written, (documents, part)) = rayon::join(
                || writer.write_tables(tables),
                || {
                    rayon::join(
                        || -> anyhow::Result<()> {
                            writer.write_compact_json(changes::INDEX, &report.index)?;
                            for p in &report.policies {
                                writer.write_json(&p.file, &p.doc)?;
                            }
                            Ok(())
                        },
                        || {
                            page_tables
                                .flatten()
                                .map(|t| page::findings_part(&t, &report.policies))
                                .transpose()
                        },
                    )
                },
            );
            report.written = written?;
            documents?;
            report.page = part?;
            Ok(Some((f, report)))
        },
    );
    Ok((usage_written?, judged?))
}

/// A frame of this run as the page reads it (polars frames share their columns: no copy).
fn frame_table(name: &str, df: &polars::prelude::DataFrame, formats: Formats) -> Table {
    Table::new(name, formats.table_file(name), df.clone(), false)
}

/// The findings frames as the page reads them; `None` if one is missing (never: the page's
/// tables are the ones [`FindingsReport::build`] makes).
fn page_tables(
    tables: &[(&'static str, polars::prelude::DataFrame)],
    formats: Formats,
) -> Option<page::FindingTables> {
    let get = |name: &str| {
        tables
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, df)| frame_table(n, df, formats))
    };
    Some(page::FindingTables {
        denied_calls: get("denied_calls")?,
        denied_per_day: get("denied_per_day"),
        group_permissions: get("group_permissions")?,
        over_privileged_groups: get("over_privileged_groups")?,
        unused_permissions: get("unused_permissions")?,
        recommendations: get("recommendations")?,
        changes: get("changes")?,
    })
}

/// The findings tables, policy documents and change list of a run, built before writing.
pub struct FindingsReport {
    /// Handed to the writer in the findings lane, which lists their files in `written`.
    tables: Vec<(&'static str, polars::prelude::DataFrame)>,
    written: Vec<String>,
    policies: Vec<PolicyDoc>,
    index: changes::FindingsIndex,
    change_counts: serde_json::Value,
    /// The findings' part of the page, when it is written.
    page: Option<page::FindingsPart>,
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
            || finding_tables::denied_calls(f, catalog),
        );
        let tables = vec![
            ("denied_calls", denied_calls?),
            ("denied_per_day", finding_tables::denied_per_day(f)?),
            (
                "group_permissions",
                finding_tables::group_permissions(f, snapshot)?,
            ),
            (
                "over_privileged_groups",
                finding_tables::over_privileged_groups(f, snapshot)?,
            ),
            ("unused_permissions", finding_tables::unused_permissions(f)?),
            ("recommendations", finding_tables::recommendations(f)?),
            ("changes", changes::table(&list)?),
        ];
        Ok(FindingsReport {
            tables,
            written: Vec::new(),
            // `policy_files` names the documents in the order of `f.policies`.
            policies: f
                .policies
                .keys()
                .zip(finding_tables::policy_files(f))
                .map(|(group, (file, doc))| PolicyDoc {
                    group: group.clone(),
                    file,
                    doc: doc.clone(),
                })
                .collect(),
            change_counts: changes::counts(previous, &list),
            index,
            page: None,
        })
    }
}

fn judge(
    cfg: &Config,
    stats: &Stats,
    catalog: &Catalog,
    history: &History,
    earlier: &findings::EarlierUses,
) -> anyhow::Result<Findings> {
    // The window is the time range of the catalog requests read: none, no window.
    let (Some((first, last)), 1..) = (stats.window, stats.counters.bss_requests) else {
        bail!(
            "the logs hold no request to a {} API in the catalog ({} lines read): no basis for calling any permission unused; check the inputs, --since/--until and --log-format",
            catalog.service(),
            stats.counters.lines
        );
    };
    // Requests without a status are counted, but none is a use or a denial: logs whose
    // requests all lack one are no more a basis for calling a permission unused than no logs.
    if stats.usage.keys().all(|k| k.status == 0) {
        bail!(
            "none of the {} requests to {} APIs read has a status: no basis for calling any permission used, unused or denied; name the status field with --field status=KEY (`permlens inspect LOG` shows its fields)",
            stats.counters.bss_requests,
            catalog.service(),
        );
    }
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
        "excepted": excepted_json(f),
    })
}

/// The findings accepted exceptions cover, apart (`null` without `--exceptions`), and what
/// became of each exception.
fn excepted_json(f: &Findings) -> serde_json::Value {
    let Some(r) = &f.excepted_report else {
        return serde_json::Value::Null;
    };
    let e = &f.excepted;
    let count = |v: &[Option<String>]| v.iter().filter(|x| x.is_some()).count();
    let denied = |verdict: Verdict| {
        (f.denied.iter().enumerate())
            .filter(|(i, d)| d.verdict == verdict && e.denied(*i).is_some())
            .count()
    };
    json!({
        "file": r.file,
        "denied_calls": {
            "confirmed": denied(Verdict::Confirmed),
            "predicted_only": denied(Verdict::PredictedOnly),
            "observed_only": denied(Verdict::ObservedOnly),
        },
        "over_privileged_groups": f.over_privileged().count() - f.over_privileged_open().count(),
        "unused_grants": count(&e.group_permissions),
        "unused_permissions": count(&e.unused),
        "applied": r.applied.iter().map(|(id, n)| json!({"id": id, "findings": n})).collect::<Vec<_>>(),
        "expired": r.expired.iter().map(|(id, at)| json!({"id": id, "expires": at})).collect::<Vec<_>>(),
        "stale": r.stale,
    })
}

fn summary(
    cfg: &Config,
    timing: &Timing,
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
        "started_at": timing.started.to_string(),
        "duration_s": (timing.clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
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
            "per_file": per_file(reports),
        },
        "state": scanned.state.as_ref().map(|s| state_json(s, scanned)),
        "partials": scanned.partials.as_ref().map(|p| json!({
            "files": p.files,
            "contents": p.contents,
            "duplicate_copies": p.duplicates,
            "duplicate_requests": p.duplicate_requests,
            "straddling_requests": scanned.straddling,
            "maps": p.maps,
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

/// `summary.json`'s line per input file.
fn per_file(reports: &[crate::input::FileReport]) -> Vec<serde_json::Value> {
    reports
        .iter()
        .map(|r| {
            json!({
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
                "warnings": r.notes.iter().chain(&r.warnings).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// `summary.json`'s `state` object.
fn state_json(s: &crate::state::StateReport, scanned: &Scanned) -> serde_json::Value {
    json!({
            "dir": s.dir,
            "entries": s.entries,
            "files_new": s.files_new,
            "files_resumed": s.files_resumed,
            "files_replaced": s.files_replaced,
            "files_skipped": s.files_skipped,
            "files_not_stored": s.files_not_stored,
            "bytes_skipped": s.bytes_skipped,
            "requests_pruned": s.rows_pruned,
            "pruned_before": s.pruned_before.map(format_micros),
            "entries_dropped": s.entries_dropped,
            "retain_days": s.retain_days,
            "stored_bss_requests": scanned.stats.counters.bss_requests,
            "straddling_requests": scanned.straddling,

    })
}
