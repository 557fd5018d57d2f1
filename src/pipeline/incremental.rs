//! The read stage with `--state`: read only what is new since the state was written, store
//! it as hourly rows, and load the window from everything stored.
//!
//! The order is the state's crash-safety protocol (DESIGN.md, "The state"): partials are
//! written as rounds finish, the new manifest is prepared and read here, and it replaces the
//! old one only after the report is committed ([`super::Scanned::pending_state`]).

use std::path::Path;

use super::checks::{check_inputs, malformed_samples};
use super::{Config, Context, Scanned};
use crate::aggregate::MALFORMED_SAMPLES_PER_FILE;
use crate::input::{Compression, FileReport, InputFile};
use crate::policy::context::ContextClasses;
use crate::scan::{Counters, ScanConfig};
use crate::state::partial::Rows;
use crate::state::{self, FirstIds, HourlyRows, Plan, Prints, Spilled, State, StateReport};

/// What the rounds of one run add up to.
#[derive(Default)]
struct Progress {
    counts: StateReport,
    counters: Counters,
    reports: Vec<FileReport>,
    malformed: Vec<String>,
}

/// Reads what is new since the state was written, stores it, and loads the window.
pub fn read(
    cfg: &Config,
    ctx: &Context,
    dir: &Path,
    mut pending: Vec<InputFile>,
    started: jiff::Timestamp,
) -> anyhow::Result<Scanned> {
    let mut state = open(cfg, ctx, dir)?;
    let mut scan_cfg = super::scan_config(cfg, ctx);
    // Everything is stored; the window applies when the stored rows are loaded. Stored rows
    // are keyed by hour and client address, not by the snapshot's context classes.
    scan_cfg.resumable = true;
    scan_cfg.context = ContextClasses::default();
    scan_cfg.since = None;
    scan_cfg.until = None;
    let mut progress = Progress::default();
    // Files that share their content head with another in the same batch wait for the next
    // batch, so the same content is never read twice.
    while !pending.is_empty() {
        let batch = plan_batch(&mut state, &mut pending, &mut progress)?;
        read_batch(
            cfg,
            ctx,
            &mut state,
            &scan_cfg,
            batch,
            &pending,
            &mut progress,
        )?;
    }
    let Progress {
        mut counts,
        counters,
        mut reports,
        malformed,
    } = progress;
    check_inputs(cfg, &counters, &mut reports, &malformed)?;
    state.prune(
        cfg.window_days,
        cfg.retain_days,
        started.as_microsecond(),
        cfg.since,
        &mut counts,
    )?;
    crate::state::crash_point("before-commit");
    // The new state is made and read here, but written over the old one only once the report
    // is in place: a run whose report fails leaves the state as it was.
    let run_started = started.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    state.prepare(Some(&run_started), &mut counts)?;
    // Pruning is for good: say what went, as a warning a --quiet run still records in the
    // summary.
    if counts.rows_pruned > 0 {
        crate::log::warn(&format!(
            "state {}: pruned {} stored request(s) from before {} (kept {} days: --retain, or the longest --window used){}",
            cfg.state
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
            counts.rows_pruned,
            counts
                .pruned_before
                .map_or_else(String::new, crate::parse::time::format_micros),
            counts.retain_days.unwrap_or_default(),
            if counts.entries_dropped > 0 {
                format!(
                    "; {} log content(s) left with no rows were dropped",
                    counts.entries_dropped
                )
            } else {
                String::new()
            }
        ));
    }
    let loaded = state.load(&ctx.catalog, cfg.since, cfg.until, &ctx.classes)?;
    Ok(Scanned {
        stats: loaded.stats,
        counters,
        reports,
        malformed,
        state: Some(counts),
        straddling: loaded.straddling,
        earlier: loaded.earlier,
        pending_state: Some(state),
        partials: None,
    })
}

/// Opens (or creates) the state, whose identity includes every option that changes what a
/// line is read as; options added later enter it only when given, so older states stay
/// usable.
fn open(cfg: &Config, ctx: &Context, dir: &Path) -> anyhow::Result<State> {
    let state = State::open(dir, Some(&super::config::fingerprint(cfg, ctx)))?;
    if let Some(holder) = &state.took_over {
        crate::log::warn(&format!(
            "took over the lock of the state directory {} from a run that did not finish ({holder})",
            dir.display()
        ));
    }
    Ok(state)
}

/// Plans the pending files: skipped ones are recorded at once, files that must wait for the
/// next batch stay in `pending`, the rest are returned with their plans.
fn plan_batch(
    state: &mut State,
    pending: &mut Vec<InputFile>,
    progress: &mut Progress,
) -> anyhow::Result<Vec<(InputFile, (Plan, Prints))>> {
    let plans = state.plan(pending);
    let mut batch = Vec::new();
    let mut deferred = Vec::new();
    for (f, plan) in std::mem::take(pending).into_iter().zip(plans) {
        match plan {
            None => deferred.push(f),
            Some((plan @ Plan::Skip { why, .. }, prints)) => {
                crate::log::info(&format!("{}: skipped, {why}", f.name));
                let report = FileReport {
                    name: f.name.clone(),
                    format: f.format.as_ref().ok().copied(),
                    layout: f.layout,
                    compression: f.compression.as_str(),
                    skipped: Some(why),
                    ..FileReport::default()
                };
                let counts = &mut progress.counts;
                let rows = Default::default();
                state.store(&f, &plan, &prints, &report, rows, Vec::new(), counts)?;
                progress.reports.push(report);
            }
            Some(p) => batch.push((f, p)),
        }
    }
    *pending = deferred;
    Ok(batch)
}

/// Reads a batch in rounds of at most `round_bytes` of input: each round's rows are written
/// to their partials and dropped before the next, so a backfill over months of logs holds
/// one round's rows at a time (the manifest still commits once, at the end). A plain file
/// with more than `part_bytes` to read is a round of its own, read in parts
/// ([`read_in_parts`]).
fn read_batch(
    cfg: &Config,
    ctx: &Context,
    state: &mut State,
    scan_cfg: &ScanConfig,
    mut rest: Vec<(InputFile, (Plan, Prints))>,
    pending: &[InputFile],
    progress: &mut Progress,
) -> anyhow::Result<()> {
    while !rest.is_empty() {
        let mut take = 0;
        let mut bytes = 0u64;
        while take < rest.len() && (take == 0 || bytes + rest[take].0.len <= cfg.round_bytes) {
            bytes += rest[take].0.len;
            take += 1;
        }
        let round: Vec<_> = rest.drain(..take).collect();
        if let [(f, (plan, prints))] = &round[..]
            && in_parts(f, cfg.part_bytes)
        {
            read_in_parts(cfg, ctx, state, scan_cfg, f, plan, prints, progress)?;
        } else {
            let files: Vec<InputFile> = round.iter().map(|r| r.0.clone()).collect();
            let (hourly, reports): (HourlyRows, _) = super::scan_all(cfg, &files, scan_cfg)?;
            progress
                .malformed
                .extend(malformed_samples(&hourly.rows, &reports));
            progress.counters += hourly.rows.counters;
            let mut rows = state::rows_by_file(hourly, &ctx.catalog);
            for (i, ((f, (plan, prints)), mut r)) in round.iter().zip(reports).enumerate() {
                let file_rows = rows.remove(&(i as u32)).unwrap_or_default();
                record(
                    state,
                    f,
                    plan,
                    prints,
                    &mut r,
                    file_rows,
                    Vec::new(),
                    progress,
                )?;
                progress.reports.push(r);
            }
        }
        if !rest.is_empty() || !pending.is_empty() {
            state.flush(true)?;
        }
    }
    Ok(())
}

/// Whether `f` is read in parts of `part_bytes`: a plain file of lines with more than that to
/// read. (A compressed stream or a document is read whole.)
fn in_parts(f: &InputFile, part_bytes: u64) -> bool {
    f.compression == Compression::None
        && f.format.as_ref().is_ok_and(|f| !f.is_document())
        && f.len.saturating_sub(f.start) > part_bytes
}

/// Reads one large plain file a part (about `part_bytes`, cut at a line start) at a time:
/// each part's rows are written out ([`State::spill`]) before the next is read, so a first
/// run over a file of a week holds the rows of one part, not of the week. The parts' reports
/// add up to the file's; users keep the id of their first request over all parts.
#[allow(clippy::too_many_arguments)]
fn read_in_parts(
    cfg: &Config,
    ctx: &Context,
    state: &mut State,
    scan_cfg: &ScanConfig,
    f: &InputFile,
    plan: &Plan,
    prints: &Prints,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let mut first_ids = FirstIds::default();
    let mut spilled = Vec::new();
    let mut whole: Option<FileReport> = None;
    let mut part = f.clone();
    // The file's first malformed lines, as one scan of it would keep them.
    let mut samples_left = MALFORMED_SAMPLES_PER_FILE;
    loop {
        part.len = part_end(f, part.start, cfg.part_bytes)?;
        let (hourly, reports): (HourlyRows, Vec<FileReport>) =
            super::scan_all(cfg, std::slice::from_ref(&part), scan_cfg)?;
        let samples = malformed_samples(&hourly.rows, &reports);
        let take = samples.len().min(samples_left);
        samples_left -= take;
        progress.malformed.extend(samples.into_iter().take(take));
        progress.counters += hourly.rows.counters;
        let rows = state::rows_by_file_after(hourly, &ctx.catalog, &mut first_ids)
            .remove(&0)
            .unwrap_or_default();
        let r = reports.into_iter().next().unwrap_or_default();
        let last = part.len >= f.len || r.error.is_some() || !r.warnings.is_empty();
        part.line_base = r.lines;
        part.start = part.len;
        add_report(&mut whole, r);
        if last {
            let mut r = whole.unwrap_or_default();
            record(state, f, plan, prints, &mut r, rows, spilled, progress)?;
            progress.reports.push(r);
            return Ok(());
        }
        spilled.push(state.spill(prints, &rows)?);
    }
}

/// Where the part of `f` that starts at `start` ends: the start of the first line at or after
/// `start + part_bytes`, or the end of what is read of the file.
fn part_end(f: &InputFile, start: u64, part_bytes: u64) -> anyhow::Result<u64> {
    use std::os::unix::fs::FileExt;
    let target = start.saturating_add(part_bytes);
    if target >= f.len {
        return Ok(f.len);
    }
    let file = std::fs::File::open(&f.path)
        .map_err(|e| anyhow::anyhow!("{}: cannot open: {e}", f.name))?;
    let mut buf = vec![0u8; 64 << 10];
    // From the byte before the target: a line that starts at the target ends the part there.
    let mut at = target - 1;
    while at < f.len {
        let want = buf.len().min((f.len - at) as usize);
        let n = file
            .read_at(&mut buf[..want], at)
            .map_err(|e| anyhow::anyhow!("{}: cannot read at byte {at}: {e}", f.name))?;
        if n == 0 {
            break;
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(at + i as u64 + 1);
        }
        at += n as u64;
    }
    Ok(f.len)
}

/// Adds the report of a part of a file to the file's.
fn add_report(whole: &mut Option<FileReport>, r: FileReport) {
    let Some(w) = whole else {
        *whole = Some(r);
        return;
    };
    w.bytes += r.bytes;
    w.lines = r.lines;
    w.new_lines += r.new_lines;
    w.malformed += r.malformed;
    w.counts += r.counts;
    w.end = r.end;
    w.tail = r.tail;
    w.warnings.extend(r.warnings);
    if w.error.is_none() {
        w.error = r.error;
    }
}

/// Stores what reading one planned file produced (see [`State::store`]) and logs how it was
/// read.
#[allow(clippy::too_many_arguments)]
fn record(
    state: &mut State,
    f: &InputFile,
    plan: &Plan,
    prints: &Prints,
    r: &mut FileReport,
    rows: Rows,
    spilled: Spilled,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    if r.error.is_some() {
        // The run fails; the parts written are orphans, removed by the next run.
        return Ok(());
    }
    let nothing_new = r.nothing_new || (r.new_lines == 0 && !r.restarted);
    if matches!(plan, Plan::Resume { .. }) && nothing_new {
        // Decompressed up to what was counted and found nothing after it.
        r.skipped = Some("already counted (nothing new)");
    }
    let how = how_read(plan, r, f, nothing_new);
    crate::log::info(&format!("{}: {how}, {} new lines", f.name, r.new_lines));
    state.store(f, plan, prints, r, rows, spilled, &mut progress.counts)
}

/// How a planned file was read, for the log.
fn how_read(plan: &Plan, r: &FileReport, f: &InputFile, nothing_new: bool) -> String {
    match plan {
        Plan::Resume { .. } if r.restarted => {
            "content differs from what was counted: read whole".to_owned()
        }
        Plan::Resume { .. } if nothing_new => "already counted (nothing new)".to_owned(),
        Plan::Resume { .. } => format!("read from byte {} (counted before)", f.start),
        Plan::Replace { .. } => "rewritten since counted: read whole, replacing".to_owned(),
        _ => "read".to_owned(),
    }
}
