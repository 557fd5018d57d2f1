//! The read stage from mapped partials (`analyze --partials`): the rows `permlens map` wrote
//! (on this machine, on others, through Spark), judged as a plain scan of the same logs
//! would be ([`crate::state::load_mapped`] holds the rules).

use std::path::PathBuf;

use anyhow::bail;

use super::{Config, Context, Scanned};
use crate::input::{FileReport, discover};
use crate::state;

/// Finds the partial files and folds their rows in the window.
pub fn read(cfg: &Config, ctx: &Context) -> anyhow::Result<Scanned> {
    let paths = find(&cfg.partials)?;
    let (manifests, map_parts) = map_outputs(&paths)?;
    let maps = map_totals(&manifests);
    let config = super::config::fingerprint(cfg, ctx);
    let (loaded, mut report) = state::load_mapped(
        &paths,
        &ctx.catalog,
        cfg.since,
        cfg.until,
        &ctx.classes,
        &config,
        &map_parts,
    )?;
    if loaded.straddling > 0 {
        crate::log::warn(&format!(
            "{} requests are in hourly rows that a condition's or snapshot's time boundary splits: they are judged at their hour's first request",
            loaded.straddling
        ));
    }
    if let Some(m) = &maps
        && m["malformed"].as_u64().unwrap_or(0) > 0
    {
        crate::log::warn(&format!(
            "the maps of these partials found {} malformed lines (the first: {}); summary.json partials.maps has their samples",
            m["malformed"],
            m["malformed_samples"][0].as_str().unwrap_or("?")
        ));
    }
    report.maps = maps;
    if report.duplicates > 0 {
        crate::log::info(&format!(
            "{} copies of contents mapped more than once were left out ({} requests)",
            report.duplicates, report.duplicate_requests
        ));
    }
    let reports = paths
        .iter()
        .map(|p| FileReport {
            name: p.display().to_string(),
            bytes: std::fs::metadata(p).map_or(0, |m| m.len()),
            compression: "none",
            ..FileReport::default()
        })
        .collect();
    // The partials hold requests, not lines: each request is counted as a line parsed, so
    // the summary's counts still add up (the map runs' own counts are in their map.json).
    let held = &loaded.stats.counters;
    let counters = crate::scan::Counters {
        bss_requests: held.bss_requests,
        unmatched_requests: held.unmatched_requests,
        parsed: held.bss_requests + held.unmatched_requests,
        lines: held.bss_requests + held.unmatched_requests,
        ..Default::default()
    };
    Ok(Scanned {
        stats: loaded.stats,
        counters,
        reports,
        malformed: Vec::new(),
        state: None,
        straddling: loaded.straddling,
        earlier: loaded.earlier,
        pending_state: None,
        partials: Some(report),
    })
}

/// The Parquet files under `inputs` (files, directories searched recursively, globs), in
/// path order. Names starting with `_` or `.` (Spark's `_SUCCESS`, `.crc` files) and what is
/// under a `_temporary` directory (an unfinished Spark job's) are not partials.
pub fn find(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let found = discover::discover(inputs)?;
    let ignored = |p: &std::path::Path| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        name.starts_with('_')
            || name.starts_with('.')
            || p.components().any(|c| c.as_os_str() == "_temporary")
    };
    let files: Vec<PathBuf> = found
        .files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet") && !ignored(p))
        .collect();
    if files.is_empty() {
        bail!(
            "--partials {}: no partial files (*.parquet) found; expected the output of `permlens map` or a reduction of it",
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(files)
}

/// The `map.json` documents of the map directories read, and the parts they name.
type MapOutputs = (Vec<serde_json::Value>, std::collections::HashSet<PathBuf>);

/// The `map.json` of each directory of `files` written by `permlens map` (a copy of one
/// counted once), and the parts they name, checked: one missing (lost in a copy, removed by
/// hand) would leave its file's requests out of the report unnoticed.
fn map_outputs(files: &[PathBuf]) -> anyhow::Result<MapOutputs> {
    let dirs: std::collections::BTreeSet<&std::path::Path> =
        files.iter().filter_map(|p| p.parent()).collect();
    let mut out = Vec::new();
    let mut parts = std::collections::HashSet::new();
    for dir in dirs {
        let manifest = dir.join("map.json");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: not a map's output description ({e}); expected the map.json `permlens map` writes",
                manifest.display()
            )
        })?;
        let Some(listed) = json.get("files").and_then(|f| f.as_array()) else {
            bail!(
                "{}: no `files` list; expected the map.json `permlens map` writes",
                manifest.display()
            );
        };
        for (i, entry) in listed.iter().enumerate() {
            let Some(part) = entry.get("partial").and_then(|p| p.as_str()) else {
                continue;
            };
            parts.insert(dir.join(part));
            if !dir.join(part).is_file() {
                bail!(
                    "{}: files[{i}] names the partial {part} (the rows of {}), which is not in {}: copy the map's output whole",
                    manifest.display(),
                    entry.get("file").and_then(|f| f.as_str()).unwrap_or("?"),
                    dir.display()
                );
            }
        }
        if !out.contains(&json) {
            out.push(json);
        }
    }
    Ok((out, parts))
}

/// What the maps read, added up from their `map.json` (`None` when no map directory was
/// given, e.g. only an engine's reduction): partials hold requests, not lines, so the lines
/// the maps found malformed or not addressed to the service are only known from there.
fn map_totals(maps: &[serde_json::Value]) -> Option<serde_json::Value> {
    if maps.is_empty() {
        return None;
    }
    let sum = |key: &str| -> u64 {
        maps.iter()
            .map(|m| m["totals"][key].as_u64().unwrap_or(0))
            .sum()
    };
    let samples: Vec<&serde_json::Value> = maps
        .iter()
        .filter_map(|m| m["malformed_samples"].as_array())
        .flatten()
        .take(10)
        .collect();
    Some(serde_json::json!({
        "maps": maps.len(),
        "files": sum("files"),
        "bytes": sum("bytes"),
        "lines": sum("lines"),
        "blank": sum("blank"),
        "parsed": sum("parsed"),
        "malformed": sum("malformed"),
        "not_addressed_to_service": sum("not_addressed_to_service"),
        "bss_requests": sum("bss_requests"),
        "malformed_samples": samples,
    }))
}
