//! Judging from mapped partials (`analyze --partials`): the rows `permlens map` wrote on any
//! number of machines, or an engine's reduction of them (schema 2, [`partial::SCHEMA_VERSION`]),
//! folded into one aggregate as a plain scan of the same logs would have made it.
//!
//! Two rules make the result equal a plain scan's:
//! - **Each content once.** The same content may have been mapped by two shards (a log copied
//!   to both) or twice by one (a file given again): of the rows of one `content`, only those
//!   of its first (`content_bytes` descending, `file`, `run`) are counted, as `state merge`
//!   keeps the longer count. Rows without a content (an engine's output that dropped it) are
//!   counted as they are.
//! - **Each copy from one place.** The same partials given twice (a map's directory copied,
//!   a glob that also matches a backup, a reduction given with the maps it was made from)
//!   hold the same copy (`content`, `file`, `run`) twice. Of files with identical bytes only
//!   the first (in path order) is counted. A map writes a copy into one file (a part its
//!   `map.json` names), so a copy a map part holds is taken from that part alone; an
//!   engine's reduction keeps a copy's rows whole but may spread them over many files and
//!   directories (`partitionBy`), so a copy no map part holds is taken from every file.
//! - **Samples in input order.** A plain scan keeps each row's earliest requests in the order
//!   of its (sorted) input paths, then of their bytes. A mapped row keeps the three first
//!   requests of its hour with their offsets, and its `file` names the input: positions are
//!   (rank of the file name, compared as a path, then of the content; offset).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Loaded;
use super::load::{EntryFold, Window};
use super::partial::{self, Origin};
use crate::aggregate::SAMPLES_PER_ROW;
use crate::catalog::Catalog;
use crate::policy::context::ContextClasses;

/// What was read, for the summary.
#[derive(Debug, Default, Clone)]
pub struct MappedReport {
    /// Partial files read.
    pub files: usize,
    /// Distinct contents counted.
    pub contents: usize,
    /// Copies of a content that were left out (counted by another shard or run).
    pub duplicates: usize,
    /// Requests in the rows left out as duplicates.
    pub duplicate_requests: u64,
    /// What the maps whose output directories were given read, from their `map.json`.
    pub maps: Option<serde_json::Value>,
}

/// A content's identity and the copy of it that is counted.
type CopyId = (String, Option<String>, String, String);

/// A copy of a content: its `content` (if any), `file` and `run`.
type CopyOf = (Option<String>, String, String);

/// Which of `paths` repeat an earlier one byte for byte (a map directory copied, a partial
/// copied beside itself, one file reached by two names): their rows are left out.
fn identical_files(paths: &[PathBuf]) -> anyhow::Result<Vec<bool>> {
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .with_context(|| format!("cannot read {}", p.display()))
    };
    let mut by_size: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, p) in paths.iter().enumerate() {
        by_size.entry(size(p)?).or_default().push(i);
    }
    let mut repeat = vec![false; paths.len()];
    for same_size in by_size.values().filter(|v| v.len() > 1) {
        let mut seen: HashMap<u128, ()> = HashMap::new();
        for &i in same_size {
            let bytes = std::fs::read(&paths[i])
                .with_context(|| format!("cannot read {}", paths[i].display()))?;
            if seen
                .insert(xxhash_rust::xxh3::xxh3_128(&bytes), ())
                .is_some()
            {
                repeat[i] = true;
            }
        }
    }
    Ok(repeat)
}

/// Every row of `paths` in `[since, until)`, folded into an aggregate split by `context`, as
/// [`super::State::load`] does for a state. `config` is the fingerprint of the catalog and
/// parsing options in force: partials made with others are refused.
pub fn load_mapped(
    paths: &[PathBuf],
    catalog: &Catalog,
    since: Option<i64>,
    until: Option<i64>,
    context: &ContextClasses,
    config: &str,
    map_parts: &HashSet<PathBuf>,
) -> anyhow::Result<(Loaded, MappedReport)> {
    use rayon::prelude::*;
    let repeats = identical_files(paths)?;
    let found: Vec<anyhow::Result<_>> = paths.par_iter().map(|p| partial::origins(p)).collect();
    // Per content: the copy counted, the longest first, then by file and run.
    let mut best: BTreeMap<String, (u64, String, String)> = BTreeMap::new();
    let mut copies: BTreeMap<CopyId, ()> = BTreeMap::new();
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    // Per copy a map part holds, the part its rows are taken from: the first in path order.
    let mut owners: HashMap<CopyOf, &Path> = HashMap::new();
    let mut elsewhere: BTreeMap<(CopyOf, &Path), ()> = BTreeMap::new();
    let mut held: Vec<(CopyOf, &Path)> = Vec::new();
    for ((path, origins), repeat) in paths.iter().zip(found).zip(&repeats) {
        let origins = origins?;
        if *repeat {
            continue;
        }
        for o in origins {
            let copy = (o.content.clone(), o.file.clone(), o.run.clone());
            if map_parts.contains(path) {
                owners.entry(copy.clone()).or_insert(path);
            }
            held.push((copy, path));
            let (cfg, run, file, content, bytes) =
                (o.config, o.run, o.file, o.content, o.content_bytes);
            if cfg != config {
                bail!(
                    "partial {}: made with another catalog or other parsing options (config {cfg}, this run's {config}); give analyze the --catalog, --log-format, --user-field, --field, --timezone and --strip-prefix options the map used",
                    path.display()
                );
            }
            names.push((file.clone(), content.clone()));
            if let Some(c) = &content {
                copies.insert(
                    (c.clone(), Some(file.clone()), run.clone(), String::new()),
                    (),
                );
                let candidate = (bytes.unwrap_or(0), file, run);
                let keep = best.get(c).is_none_or(|b| {
                    (std::cmp::Reverse(candidate.0), &candidate.1, &candidate.2)
                        < (std::cmp::Reverse(b.0), &b.1, &b.2)
                });
                if keep {
                    best.insert(c.clone(), candidate);
                }
            }
        }
    }
    for (copy, path) in held {
        if owners.get(&copy).is_some_and(|owner| *owner != path) {
            elsewhere.insert((copy, path), ());
        }
    }
    // Ranks of (file, content) in the order a plain scan reads its inputs.
    names.sort_by(|a, b| Path::new(&a.0).cmp(Path::new(&b.0)).then(a.1.cmp(&b.1)));
    names.dedup();
    let rank: HashMap<(String, Option<String>), u64> = names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, i as u64))
        .collect();
    let window = Window::new(catalog, since, until, context, Path::new("--partials"));
    let parts: Vec<anyhow::Result<(Loaded, u64)>> = paths
        .par_iter()
        .zip(&repeats)
        .map(|(path, repeat)| fold_file(path, *repeat, &window, &best, &rank, &owners))
        .collect();
    let mut all = Loaded::default();
    let mut duplicate_requests = 0;
    for part in parts {
        let (loaded, dropped) = part?;
        all.merge(loaded);
        duplicate_requests += dropped;
    }
    let report = MappedReport {
        files: paths.len() - repeats.iter().filter(|r| **r).count(),
        contents: best.len(),
        duplicates: copies.len().saturating_sub(best.len())
            + elsewhere.len()
            + repeats.iter().filter(|r| **r).count(),
        duplicate_requests,
        maps: None,
    };
    Ok((all, report))
}

/// Folds the rows of one partial file that are counted; returns them with the requests of
/// the rows left out as copies.
fn fold_file(
    path: &Path,
    repeat: bool,
    window: &Window<'_>,
    best: &BTreeMap<String, (u64, String, String)>,
    rank: &HashMap<(String, Option<String>), u64>,
    owners: &HashMap<CopyOf, &Path>,
) -> anyhow::Result<(Loaded, u64)> {
    let id = path.display().to_string();
    let mut fold = EntryFold::new(window, 0, &id, SAMPLES_PER_ROW);
    let mut dropped = 0u64;
    // Per origin (ids of this file's strings): whether its rows count, and their rank.
    let mut decided: HashMap<Origin, Option<u64>> = HashMap::new();
    partial::read_mapped_each(path, |strings, origin, key, value| {
        let seq = *decided.entry(origin).or_insert_with(|| {
            let text = |id: u32| String::from_utf8_lossy(strings.get(id)).into_owned();
            let file = text(origin.file);
            let content = origin.content.map(text);
            let copy = (content.clone(), file.clone(), text(origin.run));
            if repeat || owners.get(&copy).is_some_and(|owner| *owner != path) {
                return None;
            }
            if let Some(c) = &content {
                let (bytes, f, run) = &best[c];
                if origin.content_bytes.unwrap_or(0) != *bytes
                    || file != *f
                    || text(origin.run) != *run
                {
                    return None;
                }
            }
            rank.get(&(file, content)).copied()
        });
        match seq {
            Some(seq) => {
                fold.seq = seq;
                fold.row(strings, key, &value)
            }
            None => {
                dropped += value.count;
                Ok(())
            }
        }
    })?;
    Ok((fold.out, dropped))
}
