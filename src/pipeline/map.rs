//! `permlens map`: the map half of a distributed run. Logs are scanned, without a snapshot,
//! into mapped partials (partial schema 2): per input file, its hourly rows with where they
//! come from (the options' fingerprint, the run, the file's name, its content's id and
//! counted length). `analyze --partials` judges any number of them (from any number of
//! machines, or reduced by an engine) as one plain `analyze` of the same logs.

use std::path::Path;

use serde_json::json;

use super::checks::{check_inputs, malformed_samples};
use super::{Config, Context};
use crate::input::{FileReport, InputFile};
use crate::policy::context::ContextClasses;
use crate::scan::Counters;
use crate::state::partial::{self, Provenance};
use crate::state::rows::{HourlyRows, SAMPLES_PER_MAPPED_ROW};

/// What a map run wrote.
#[derive(Debug, Default)]
pub struct Mapped {
    pub run: String,
    pub config: String,
    pub counters: Counters,
    pub reports: Vec<FileReport>,
    pub malformed: Vec<String>,
    /// Per input file read: (name recorded, content id, content bytes, partial file name,
    /// rows); the partial is `None` for a file without rows.
    pub files: Vec<(String, String, u64, Option<String>, usize)>,
}

impl Mapped {
    /// `map.json`: what was read and written, for the job that collects the partials.
    pub fn to_json(&self) -> serde_json::Value {
        let c = &self.counters;
        json!({
            "schema_version": partial::SCHEMA_VERSION,
            "version": env!("CARGO_PKG_VERSION"),
            "run": self.run,
            "config": self.config,
            "totals": {
                "files": self.reports.len(),
                "bytes": self.reports.iter().map(|r| r.bytes).sum::<u64>(),
                "lines": c.lines,
                "blank": c.blank,
                "parsed": c.parsed,
                "malformed": c.malformed,
                "bss_requests": c.bss_requests,
                "unmatched_requests": c.unmatched_requests,
                "unlisted_requests": c.unlisted_parsed,
                "not_addressed_to_service": c.prefiltered,
            },
            "malformed_samples": self.malformed,
            "files": self.files.iter().zip(&self.reports).map(|((name, content, bytes, part, rows), r)| json!({
                "file": name,
                "content": content,
                "content_bytes": bytes,
                "partial": part,
                "rows": rows,
                "format": r.format.map(|f| f.as_str()),
                "compression": r.compression,
                "bytes": r.bytes,
                "lines": r.lines,
                "malformed": r.malformed,
                "bss_requests": r.counts.bss_requests,
                "warnings": r.notes.iter().chain(&r.warnings).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// An id for this run: partials of two runs over the same content tell their copies apart
/// by it.
fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{now}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    );
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(seed.as_bytes()))
}

/// Scans `files` in rounds of `cfg.round_bytes` and writes each file's rows into `stage`
/// (`part-<n>-<content>.parquet`). `name` replaces the recorded name of a single input.
pub fn map(
    cfg: &Config,
    ctx: &Context,
    mut files: Vec<InputFile>,
    name: Option<&str>,
    stage: &Path,
) -> anyhow::Result<Mapped> {
    let mut out = Mapped {
        run: run_id(),
        config: super::config::fingerprint(cfg, ctx),
        ..Mapped::default()
    };
    // Every request is kept, whatever window a later judge asks for; rows are keyed by hour
    // and client address, not by any snapshot's context classes.
    let mut scan_cfg = super::scan_config(cfg, ctx);
    scan_cfg.context = ContextClasses::default();
    scan_cfg.since = None;
    scan_cfg.until = None;
    // The content ids first: a live file is cut back to its last complete line here, and
    // read up to there.
    let contents: Vec<Option<String>> = files.iter_mut().map(crate::state::content_id).collect();
    let mut first = 0;
    while first < files.len() {
        let mut end = first + 1;
        let mut bytes = files[first].len;
        while end < files.len() && bytes + files[end].len <= cfg.round_bytes {
            bytes += files[end].len;
            end += 1;
        }
        let round = &files[first..end];
        let (hourly, reports): (HourlyRows<SAMPLES_PER_MAPPED_ROW>, _) =
            super::scan_all(cfg, round, &scan_cfg)?;
        out.malformed
            .extend(malformed_samples(&hourly.rows, &reports));
        out.counters += hourly.rows.counters;
        let mut rows = crate::state::rows_by_file(hourly, &ctx.catalog);
        for (i, (f, r)) in round.iter().zip(&reports).enumerate() {
            let n = first + i;
            let file_rows = rows.remove(&(i as u32)).unwrap_or_default();
            let content = contents[n].clone().unwrap_or_default();
            let recorded = name.map_or_else(|| f.name.clone(), str::to_owned);
            let mut written = None;
            if r.error.is_none() && !file_rows.is_empty() {
                let part = format!("part-{n:05}-{}.parquet", &content[..content.len().min(16)]);
                let provenance = Provenance {
                    config: out.config.clone(),
                    run: out.run.clone(),
                    file: recorded.clone(),
                    content: content.clone(),
                    content_bytes: r.end,
                };
                partial::write_mapped(&stage.join(&part), &file_rows, &provenance)?;
                written = Some(part);
            }
            out.files
                .push((recorded, content, r.end, written, file_rows.len()));
        }
        out.reports.extend(reports);
        first = end;
    }
    check_inputs(cfg, &out.counters, &mut out.reports, &out.malformed)?;
    Ok(out)
}
