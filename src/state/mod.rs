//! Incremental state (`analyze --state DIR`): what earlier runs counted, so a nightly run
//! parses only what is new.
//!
//! The state is a directory:
//!
//! - `manifest.json`: one entry per distinct log *content*, identified by fingerprints of the
//!   content (not the file name): the hash of its first 64 KiB, how many bytes and lines were
//!   counted, the hash of the last 64 KiB counted, and for compressed files the size and
//!   hashes of the compressed bytes. A log rotated and compressed (`gateway.log` ->
//!   `gateway.log.1` -> `gateway.log.2.gz`) has the same content head, so it is recognised as
//!   counted; only the bytes past what was counted are parsed (a compressed file is
//!   decompressed up to there, then parsed). Once a compressed file has been read whole, its
//!   compressed fingerprint lets later runs skip it without decompressing.
//! - `partials/<entry>.g<generation>.parquet`: the entry's aggregates per hour and client IP
//!   (schema in [`partial`]), independent of any snapshot, so findings are recomputed from
//!   them against whichever snapshots are in force.
//! - `lock`: held by the running permlens ([`crate::lock`]).
//!
//! Writes are crash-safe: new partials get new names, the manifest is replaced by a rename,
//! and only then are files the new manifest no longer names removed. A run killed at any
//! point leaves either the old manifest (whose partials are untouched) or the new one.

pub mod partial;
pub mod rows;

pub use rows::HourlyRows;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::aggregate::EarlierUses;
use crate::aggregate::{Cell, Interner, Position, Sample, Stats, UnmatchedKey, UsageKey};
use crate::catalog::{Catalog, RouteId};
use crate::input::{Compression, InputFile, TAIL, content_hash};
use crate::lock::RunLock;
use crate::policy::context::ContextClasses;
use partial::{HOUR, Rows};

/// Bytes of content the head fingerprint covers.
pub const HEAD: u64 = 64 << 10;
const MANIFEST: &str = "manifest.json";
const PARTIALS: &str = "partials";
const FORMAT: u32 = 1;

fn hex(h: u128) -> String {
    format!("{h:032x}")
}

/// Compressed bytes that hold exactly an entry's counted content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawId {
    pub size: u64,
    pub head_hash: String,
    pub tail_hash: String,
}

/// One distinct log content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// Order in which contents were first counted.
    pub seq: u64,
    pub format: String,
    pub head_len: u64,
    pub head_hash: String,
    /// Content bytes counted (decompressed bytes for compressed files).
    pub len: u64,
    pub lines: u64,
    pub tail_len: u64,
    pub tail_hash: String,
    #[serde(default)]
    pub raw: Vec<RawId>,
    /// Names it was last read under (newest last).
    #[serde(default)]
    pub names: Vec<String>,
    /// The partial file in `partials/`, when the entry has rows.
    pub partial: Option<String>,
    pub rows: u64,
    /// Hours (since the epoch) of the earliest and latest rows.
    pub first_hour: Option<u32>,
    pub last_hour: Option<u32>,
    pub counted_at: String,
    pub updated_at: String,
    /// When an input last matched this entry.
    pub seen_at: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub written_by: String,
    /// Fingerprint of the catalog and parsing options the partials were made with.
    pub config: String,
    /// Rows older than this many days before a run are pruned (the longest `--window` used).
    pub retain_days: Option<u32>,
    pub generation: u64,
    pub next_seq: u64,
    pub updated_at: Option<String>,
    pub entries: Vec<Entry>,
    /// xxh3-128 of the entries as written: an entry edited, duplicated or dropped by hand or
    /// by damage no longer matches, and the state is refused instead of giving wrong
    /// totals. Manifests written before it existed have none and are not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl Manifest {
    /// Parses `manifest.json`; errors name the file, line and column, or say what does not
    /// hold together.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Manifest> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "state {}: line {} column {}: {e} (expected a permlens state manifest)",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        if let Some(sum) = &m.checksum
            && *sum != m.entries_checksum()
        {
            bail!(
                "state {}: its entries do not match their checksum (the manifest was edited or damaged); its counts cannot be trusted: restore it or use a new --state directory",
                path.display()
            );
        }
        let mut ids = std::collections::HashSet::new();
        let mut partials = std::collections::HashSet::new();
        for (i, e) in m.entries.iter().enumerate() {
            if !ids.insert(e.id.as_str())
                || e.partial
                    .as_ref()
                    .is_some_and(|p| !partials.insert(p.as_str()))
            {
                bail!(
                    "state {}: entries[{i}] repeats another entry's content or partial (the manifest was edited or damaged): restore it or use a new --state directory",
                    path.display()
                );
            }
        }
        Ok(m)
    }

    fn entries_checksum(&self) -> String {
        let text = serde_json::to_string(&self.entries).expect("entries serialise");
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
    }

    /// The manifest as written, its checksum set.
    fn sealed_text(&mut self) -> String {
        self.checksum = Some(self.entries_checksum());
        serde_json::to_string_pretty(self).expect("manifest serialises")
    }
}

/// An open state directory, locked for this run.
#[derive(Debug)]
pub struct State {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// The previous manifest's entry ids, for telling what changed.
    _lock: RunLock,
    pub took_over: Option<String>,
    /// Rows of entries loaded or produced in this run, by entry id.
    rows: HashMap<String, Rows>,
    /// Entries whose rows changed since the last flush.
    dirty: HashSet<String>,
    /// Partial files written in this run, for unique names.
    flushes: u64,
}

/// What to do with one input file.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Everything in it was counted before.
    Skip { entry: usize, why: &'static str },
    /// Read from the entry's end and add to it.
    Resume { entry: usize },
    /// Read whole and replace the entry (a CTS document that was rewritten).
    Replace { entry: usize },
    /// New content.
    New,
    /// Not readable: the scan reports it.
    Unreadable,
}

/// Fingerprints taken while planning.
#[derive(Debug, Clone, Default)]
pub struct Prints {
    pub head_len: u64,
    pub head_hash: u128,
    /// Plain files: the hash of the last [`TAIL`] bytes up to the (adjusted) length.
    pub tail: Option<(u64, u128)>,
    pub raw: Option<RawId>,
}

/// Counts for the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateReport {
    pub dir: String,
    pub entries: usize,
    pub files_new: u64,
    pub files_resumed: u64,
    pub files_skipped: u64,
    pub files_replaced: u64,
    pub files_not_stored: u64,
    pub bytes_skipped: u64,
    pub rows_pruned: u64,
    pub entries_dropped: u64,
    pub retain_days: Option<u32>,
}

fn now_text() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The fingerprint of what shapes the partials: a state made with another catalog or other
/// parsing options cannot be mixed with this run's rows.
pub fn config_fingerprint(
    catalog: &Catalog,
    user_field: Option<&str>,
    fields: &[&str],
    log_format: &str,
) -> String {
    let text = format!(
        "{}\n{}\n{}\n{}",
        catalog.to_file().to_json(),
        user_field.unwrap_or(""),
        fields.join("\n"),
        log_format
    );
    hex(content_hash(text.as_bytes()))
}

impl State {
    /// Opens (or creates) the state directory, takes its lock, reads the manifest and removes
    /// files an interrupted run left behind.
    /// `config` is the fingerprint this run needs; `None` accepts any (merging, showing).
    pub fn open(dir: &Path, config: Option<&str>) -> anyhow::Result<State> {
        State::open_with(dir, config, true)
    }

    /// `clean`: remove what an interrupted run left behind (not for a state only read).
    fn open_with(dir: &Path, config: Option<&str>, clean: bool) -> anyhow::Result<State> {
        std::fs::create_dir_all(dir.join(PARTIALS))
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        let lock = RunLock::acquire(
            &dir.join("lock"),
            &format!("state directory {}", dir.display()),
        )?;
        let took_over = lock.took_over.clone();
        let path = dir.join(MANIFEST);
        let manifest = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let m = Manifest::parse(&text, &path)?;
                if m.format != FORMAT {
                    bail!(
                        "state {}: format {} (this permlens reads format {FORMAT}); use a new --state directory",
                        path.display(),
                        m.format
                    );
                }
                if config.is_some_and(|c| c != m.config) {
                    bail!(
                        "state {}: made with another catalog or other parsing options (--catalog, --user-field, --field, --log-format); its counts cannot be mixed with this run's: use the same options or a new --state directory",
                        path.display()
                    );
                }
                m
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest {
                format: FORMAT,
                written_by: String::new(),
                config: config.unwrap_or_default().to_owned(),
                retain_days: None,
                generation: 0,
                next_seq: 0,
                updated_at: None,
                entries: Vec::new(),
                checksum: None,
            },
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let state = State {
            dir: dir.to_owned(),
            manifest,
            _lock: lock,
            took_over,
            rows: HashMap::new(),
            dirty: HashSet::new(),
            flushes: 0,
        };
        if clean {
            state.remove_orphans();
        }
        Ok(state)
    }

    /// Deletes partials and temporary files no entry names (left by a killed run).
    fn remove_orphans(&self) {
        let named: HashSet<&str> = self
            .manifest
            .entries
            .iter()
            .filter_map(|e| e.partial.as_deref())
            .collect();
        if let Ok(dir) = std::fs::read_dir(self.dir.join(PARTIALS)) {
            for f in dir.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if !named.contains(name.as_str()) {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        if let Ok(dir) = std::fs::read_dir(&self.dir) {
            for f in dir.flatten() {
                if f.file_name().to_string_lossy().starts_with(".permlens-") {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
    }

    fn partial_path(&self, name: &str) -> PathBuf {
        self.dir.join(PARTIALS).join(name)
    }

    /// The rows of an entry, read once.
    fn rows_of(&mut self, entry: usize) -> anyhow::Result<&mut Rows> {
        let e = &self.manifest.entries[entry];
        let id = e.id.clone();
        if !self.rows.contains_key(&id) {
            let rows = match &e.partial {
                Some(name) => partial::read(&self.partial_path(name))?,
                None => Rows::default(),
            };
            self.rows.insert(id.clone(), rows);
        }
        Ok(self.rows.get_mut(&id).expect("inserted above"))
    }

    /// Decides, for each file, what is new in it. Adjusts `start`, `line_base`, `expect_tail`
    /// and, for live plain files, `len` (to the last complete line). Files that share their
    /// head with an earlier file of the same batch are deferred (`None`) to a later batch so
    /// that the same content is never read twice in one run.
    pub fn plan(&self, files: &mut [InputFile]) -> Vec<Option<(Plan, Prints)>> {
        let mut heads_in_batch: HashSet<(u64, u128)> = HashSet::new();
        let mut out = Vec::with_capacity(files.len());
        for f in files.iter_mut() {
            f.start = 0;
            f.line_base = 0;
            f.expect_tail = None;
            let planned = self.plan_one(f);
            if let Some((plan, p)) = &planned
                && matches!(plan, Plan::Resume { .. } | Plan::Replace { .. } | Plan::New)
                && p.head_len > 0
                && !heads_in_batch.insert((p.head_len, p.head_hash))
            {
                out.push(None);
                continue;
            }
            out.push(planned);
        }
        out
    }

    fn plan_one(&self, f: &mut InputFile) -> Option<(Plan, Prints)> {
        let Ok(format) = f.format.clone() else {
            return Some((Plan::Unreadable, Prints::default()));
        };
        let fp = match fingerprint(f) {
            Ok(fp) => fp,
            // The scan reports the unreadable file.
            Err(_) => return Some((Plan::Unreadable, Prints::default())),
        };
        let (prints, head_bytes) = fp;
        let entries = &self.manifest.entries;
        if let Some(raw) = &prints.raw
            && let Some(i) = entries.iter().position(|e| e.raw.contains(raw))
        {
            return Some((
                Plan::Skip {
                    entry: i,
                    why: "already counted (same compressed file)",
                },
                prints,
            ));
        }
        // Entries whose head this content starts with, longest counted first.
        let mut candidates: Vec<usize> = (0..entries.len())
            .filter(|&i| {
                let e = &entries[i];
                e.head_len <= head_bytes.len() as u64
                    && hex(content_hash(&head_bytes[..e.head_len as usize])) == e.head_hash
            })
            .collect();
        candidates.sort_by_key(|&i| std::cmp::Reverse(entries[i].len));
        let document = format.is_document();
        for i in candidates {
            let e = &entries[i];
            if f.compression != Compression::None && !document {
                // Verified while decompressing: the scan reads from 0 if the tail differs.
                f.start = e.len;
                f.line_base = e.lines;
                f.expect_tail = parse_hex(&e.tail_hash).map(|h| (e.tail_len, h));
                return Some((Plan::Resume { entry: i }, prints));
            }
            if document {
                if prints
                    .tail
                    .is_some_and(|t| e.len == f.len && tail_matches(e, t))
                {
                    return Some((
                        Plan::Skip {
                            entry: i,
                            why: "already counted (same document)",
                        },
                        prints,
                    ));
                }
                return Some((Plan::Replace { entry: i }, prints));
            }
            if f.len < e.len {
                // Same head, shorter: a prefix of content counted before (a copy taken
                // earlier, or a copytruncate copy).
                return Some((
                    Plan::Skip {
                        entry: i,
                        why: "already counted (holds less than was counted)",
                    },
                    prints,
                ));
            }
            match tail_at(&f.path, e.len, e.tail_len) {
                Ok(h) if hex(h) == e.tail_hash => {
                    if f.len == e.len {
                        return Some((
                            Plan::Skip {
                                entry: i,
                                why: "already counted (nothing new)",
                            },
                            prints,
                        ));
                    }
                    f.start = e.len;
                    f.line_base = e.lines;
                    return Some((Plan::Resume { entry: i }, prints));
                }
                _ => continue,
            }
        }
        Some((Plan::New, prints))
    }

    /// Records what the scan of one file produced.
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &mut self,
        f: &InputFile,
        plan: &Plan,
        prints: &Prints,
        report: &crate::input::FileReport,
        rows: Rows,
        counts: &mut StateReport,
    ) -> anyhow::Result<()> {
        let now = now_text();
        let complete = report.warnings.is_empty();
        let format = f.format.as_ref().map(|f| f.as_str()).unwrap_or("json");
        let tail = if f.compression == Compression::None
            && !f.format.as_ref().is_ok_and(|f| f.is_document())
        {
            prints.tail
        } else {
            report.tail
        };
        let plain = f.compression == Compression::None;
        if plain && !complete {
            // It shrank while read: what was counted is not a well-defined content. Nothing
            // is stored; the next run reads it (or its rotated copy) again.
            counts.files_not_stored += 1;
            return Ok(());
        }
        let entry = match *plan {
            Plan::Skip { entry, .. } => {
                self.touch(entry, f, prints, complete, &now);
                counts.files_skipped += 1;
                counts.bytes_skipped += f.len;
                return Ok(());
            }
            Plan::Unreadable => return Ok(()),
            Plan::Resume { entry }
                if report.nothing_new || (report.new_lines == 0 && !report.restarted) =>
            {
                self.touch(entry, f, prints, complete, &now);
                counts.files_skipped += 1;
                counts.bytes_skipped += f.len;
                return Ok(());
            }
            Plan::Resume { entry } if !report.restarted => {
                counts.files_resumed += 1;
                self.rows_of(entry)?.absorb(rows);
                entry
            }
            Plan::Replace { entry } => {
                counts.files_replaced += 1;
                let id = self.manifest.entries[entry].id.clone();
                self.rows.insert(id, rows);
                entry
            }
            Plan::Resume { .. } | Plan::New => {
                counts.files_new += 1;
                let seq = self.manifest.next_seq;
                self.manifest.next_seq += 1;
                let id = format!("{}-{seq}", &hex(prints.head_hash)[..16]);
                self.manifest.entries.push(Entry {
                    id: id.clone(),
                    seq,
                    format: format.to_owned(),
                    head_len: prints.head_len,
                    head_hash: hex(prints.head_hash),
                    len: 0,
                    lines: 0,
                    tail_len: 0,
                    tail_hash: String::new(),
                    raw: Vec::new(),
                    names: Vec::new(),
                    partial: None,
                    rows: 0,
                    first_hour: None,
                    last_hour: None,
                    counted_at: now.clone(),
                    updated_at: now.clone(),
                    seen_at: now.clone(),
                });
                self.rows.insert(id, rows);
                self.manifest.entries.len() - 1
            }
        };
        let e = &mut self.manifest.entries[entry];
        e.len = report.end;
        e.lines = report.lines;
        if let Some((len, hash)) = tail {
            e.tail_len = len;
            e.tail_hash = hex(hash);
        }
        e.updated_at = now.clone();
        let id = e.id.clone();
        self.dirty.insert(id);
        self.touch(entry, f, prints, complete, &now);
        Ok(())
    }

    /// Notes that `f` matched entry `i`: its name, and for a compressed file read whole, its
    /// compressed fingerprint.
    fn touch(&mut self, i: usize, f: &InputFile, prints: &Prints, complete: bool, now: &str) {
        let e = &mut self.manifest.entries[i];
        e.seen_at = now.to_owned();
        e.names.retain(|n| n != &f.name);
        e.names.push(f.name.clone());
        if e.names.len() > 8 {
            e.names.remove(0);
        }
        if complete
            && let Some(raw) = &prints.raw
            && !e.raw.contains(raw)
        {
            e.raw.push(raw.clone());
        }
    }

    /// Sets the retention to `retain_days`, or extends it to `window_days` (the longest
    /// window asked for is kept), and
    /// prunes rows older than the retention before `now`, but never rows at or after
    /// `since` (the window this run reports on).
    pub fn prune(
        &mut self,
        window_days: Option<u32>,
        retain_days: Option<u32>,
        now: i64,
        since: Option<i64>,
        counts: &mut StateReport,
    ) -> anyhow::Result<()> {
        if let Some(r) = retain_days {
            self.manifest.retain_days = Some(r);
        } else if let Some(w) = window_days {
            self.manifest.retain_days = Some(self.manifest.retain_days.map_or(w, |r| r.max(w)));
        }
        counts.retain_days = self.manifest.retain_days;
        let Some(days) = self.manifest.retain_days else {
            return Ok(());
        };
        let mut cutoff = now - i64::from(days) * 24 * HOUR;
        if let Some(s) = since {
            cutoff = cutoff.min(s);
        }
        let cutoff = crate::aggregate::hour_of(cutoff);
        for i in 0..self.manifest.entries.len() {
            let e = &self.manifest.entries[i];
            if e.first_hour.is_some_and(|h| h < cutoff) || self.rows.contains_key(&e.id) {
                let pruned = self.rows_of(i)?.prune_before(cutoff);
                if pruned > 0 {
                    counts.rows_pruned += pruned;
                    let id = self.manifest.entries[i].id.clone();
                    self.dirty.insert(id);
                }
            }
        }
        Ok(())
    }

    /// Writes the partials of entries changed since the last flush under new names, so the
    /// manifest on disk keeps naming the old ones until [`State::commit`]. With `drop_rows`
    /// their rows leave memory (a later use reads them back).
    pub fn flush(&mut self, drop_rows: bool) -> anyhow::Result<()> {
        let generation = self.manifest.generation + 1;
        for e in &mut self.manifest.entries {
            if !self.dirty.contains(&e.id) {
                continue;
            }
            let Some(rows) = self.rows.get(&e.id) else {
                continue;
            };
            e.rows = rows.len() as u64;
            let span = rows.hours();
            e.first_hour = span.map(|s| s.0);
            e.last_hour = span.map(|s| s.1);
            e.partial = None;
            if !rows.is_empty() {
                self.flushes += 1;
                // Written under a temporary name, then named after its content hash, which
                // every read checks: a damaged partial is refused by name, never decoded.
                let dir = self.dir.join(PARTIALS);
                let tmp = format!("{}.g{generation}.{}.parquet.tmp", e.id, self.flushes);
                partial::write(&dir.join(&tmp), rows)?;
                let hash = partial::file_hash(&dir.join(&tmp))?;
                let name = format!("{}.g{generation}.{}.h{hash}.parquet", e.id, self.flushes);
                std::fs::rename(dir.join(&tmp), dir.join(&name)).with_context(|| {
                    format!("cannot name the partial {}", dir.join(&name).display())
                })?;
                e.partial = Some(name);
            }
            if drop_rows {
                self.rows.remove(&e.id);
            }
        }
        self.dirty.clear();
        Ok(())
    }

    /// Writes changed partials, then the manifest (atomically), then removes what the old
    /// manifest named and the new one does not.
    ///
    /// Row-less entries no input matched since `run_started` are dropped (their files are
    /// gone); `None` keeps them (a merge reads no inputs).
    pub fn commit(
        &mut self,
        run_started: Option<&str>,
        counts: &mut StateReport,
    ) -> anyhow::Result<()> {
        self.prepare(run_started, counts)?;
        self.persist()
    }

    /// The first half of [`State::commit`]: the changed partials are written (under new names,
    /// which the manifest on disk does not name yet) and the new manifest is made in memory,
    /// so that [`State::load`] reads the new state; nothing the previous state is made of
    /// changes. A run that fails after this leaves the previous state as it was (the new
    /// partials are orphans, removed at the next start).
    pub fn prepare(
        &mut self,
        run_started: Option<&str>,
        counts: &mut StateReport,
    ) -> anyhow::Result<()> {
        self.flush(false)?;
        self.manifest.generation += 1;
        // Entries with no rows left that no input matched this run: their files are gone.
        let before = self.manifest.entries.len();
        self.manifest
            .entries
            .retain(|e| e.rows > 0 || run_started.is_none_or(|r| e.seen_at.as_str() >= r));
        counts.entries_dropped = (before - self.manifest.entries.len()) as u64;
        self.manifest.written_by = format!("permlens {}", env!("CARGO_PKG_VERSION"));
        self.manifest.updated_at = Some(now_text());
        counts.entries = self.manifest.entries.len();
        counts.dir = self.dir.display().to_string();
        Ok(())
    }

    /// The second half of [`State::commit`]: the manifest is replaced atomically, then what
    /// it no longer names is removed. `analyze` calls it once the report is in place, so a
    /// run whose report fails never advances the state.
    pub fn persist(&mut self) -> anyhow::Result<()> {
        let text = self.manifest.sealed_text();
        sync_dir(&self.dir.join(PARTIALS));
        crate::fsutil::write_atomic(&self.dir.join(MANIFEST), text.as_bytes())?;
        crash_point("after-manifest");
        sync_dir(&self.dir);
        // The partials the new manifest no longer names (replaced, pruned, dropped).
        self.remove_orphans();
        self.dirty.clear();
        Ok(())
    }

    /// Every stored row whose hour lies in `[since, until)`, folded into an aggregate whose
    /// usage rows are split by `context` classes (time slices and networks of the snapshots'
    /// conditions and `taken_at` times), like a scan would. Entries are read and folded in
    /// parallel (one partial at a time per worker), then merged.
    pub fn load(
        &mut self,
        catalog: &Catalog,
        since: Option<i64>,
        until: Option<i64>,
        context: &ContextClasses,
    ) -> anyhow::Result<Loaded> {
        use rayon::prelude::*;
        // Rows produced in this run are in memory; the others are read from their partials.
        let mut jobs: Vec<(u64, String, Option<Rows>, Option<PathBuf>)> = Vec::new();
        for e in &self.manifest.entries {
            let rows = self.rows.remove(&e.id);
            let path = match (&rows, &e.partial) {
                (None, Some(name)) => Some(self.partial_path(name)),
                _ => None,
            };
            jobs.push((e.seq, e.id.clone(), rows, path));
        }
        jobs.sort_by_key(|j| j.0);
        let dir = self.dir.clone();
        let parts: Vec<anyhow::Result<Loaded>> = jobs
            .into_par_iter()
            .map(|(seq, id, rows, path)| {
                let path = if rows.is_some() { None } else { path };
                fold_entry(
                    rows,
                    path.as_deref(),
                    seq,
                    &id,
                    &dir,
                    catalog,
                    since,
                    until,
                    context,
                )
            })
            .collect();
        let mut all = Loaded::default();
        for part in parts {
            let part = part?;
            all.stats.merge(part.stats);
            all.straddling += part.straddling;
            for (k, t) in part.earlier {
                let e = all.earlier.entry(k).or_insert(t);
                *e = (*e).max(t);
            }
        }
        Ok(all)
    }
}

/// Folds one entry's rows into a new aggregate (see [`State::load`]): the rows this run
/// produced, or those of its partial, folded as they are read (one row group at a time),
/// so that loading holds the aggregate of the window, not every stored row of the entry.
#[allow(clippy::too_many_arguments)]
fn fold_entry(
    rows: Option<Rows>,
    path: Option<&Path>,
    seq: u64,
    id: &str,
    dir: &Path,
    catalog: &Catalog,
    since: Option<i64>,
    until: Option<i64>,
    context: &ContextClasses,
) -> anyhow::Result<Loaded> {
    let mut stats = Stats::default();
    let mut straddling = 0u64;
    let mut earlier = EarlierUses::new();
    let mut routes: foldhash::HashMap<&[u8], foldhash::HashMap<&[u8], RouteId>> =
        Default::default();
    for (i, r) in catalog.routes().iter().enumerate() {
        routes
            .entry(r.method.as_str().as_bytes())
            .or_default()
            .insert(r.template.as_str().as_bytes(), i as RouteId);
    }
    let route_of = |strings: &Interner, k: &partial::Key| {
        routes
            .get(strings.get(k.method))
            .and_then(|m| m.get(strings.get(k.target)))
            .copied()
    };
    // Ids of this entry's strings in `stats`, and parsed IPs, resolved once each (the
    // entry's strings are interned as its rows are read: the tables grow with them).
    let mut user_ids: Vec<Option<u32>> = Vec::new();
    let mut code_ids: Vec<Option<u32>> = Vec::new();
    let mut ips: Vec<Option<Option<std::net::IpAddr>>> = Vec::new();
    let mut fold =
        |strings: &Interner, k: &partial::Key, v: &partial::Value| -> anyhow::Result<()> {
            for table in [&mut user_ids, &mut code_ids] {
                table.resize(strings.len(), None);
            }
            ips.resize(strings.len(), None);
            let start = i64::from(k.hour) * HOUR;
            if since.is_some_and(|s| start < s) {
                // Before the window: only remembered as the last use of a permission.
                if !k.unmatched
                    && (200..400).contains(&k.status)
                    && let (Some(route), Some(last)) = (route_of(strings, k), v.last_seen)
                {
                    let code = catalog.route(route).permission.clone();
                    let e = earlier
                        .entry((
                            String::from_utf8_lossy(strings.get(k.user)).into_owned(),
                            code,
                        ))
                        .or_insert(last);
                    *e = (*e).max(last);
                }
                return Ok(());
            }
            if until.is_some_and(|u| start + HOUR > u) {
                return Ok(());
            }
            let mut code = |id: u32| {
                *code_ids[id as usize].get_or_insert_with(|| stats.codes.intern(strings.get(id)))
            };
            if k.unmatched {
                let method = code(k.method);
                let shape = stats.shapes.intern(strings.get(k.target));
                stats.counters.unmatched_requests += v.count;
                *stats
                    .unmatched
                    .entry(UnmatchedKey { method, shape })
                    .or_insert(0) += v.count;
                return Ok(());
            }
            let Some(route) = route_of(strings, k) else {
                // The config fingerprint makes this impossible short of a hand-edited state.
                bail!(
                    "state {}: entry {} names route {} {} that the catalog does not have",
                    dir.display(),
                    id,
                    String::from_utf8_lossy(strings.get(k.method)),
                    String::from_utf8_lossy(strings.get(k.target))
                );
            };
            let (Some(first), Some(last)) = (v.first_seen, v.last_seen) else {
                return Ok(());
            };
            let error_code = code(k.error_code);
            let source = code(k.source);
            let ip = *ips[k.source_ip as usize]
                .get_or_insert_with(|| crate::net::parse_ip(strings.get(k.source_ip)));
            let class = context.class(first, ip);
            if context.class(last, ip) != class {
                straddling += v.count;
            }
            stats.counters.bss_requests += v.count;
            let user = *user_ids[k.user as usize]
                .get_or_insert_with(|| stats.users.intern(strings.get(k.user)));
            let user_id = strings.get(v.user_id);
            if !user_id.is_empty() {
                // Entries are folded in order and a partial's rows in hour order: the first
                // row with an id is the earliest (offsets of different runs do not compare).
                let first = Position {
                    file: seq as u32,
                    offset: 0,
                };
                let id = String::from_utf8_lossy(user_id).into();
                crate::aggregate::keep_earlier_id(&mut stats.user_ids, user, (first, id));
            }
            let key = UsageKey {
                user,
                route,
                status: k.status,
                error_code,
                source,
                context: class,
            };
            let at = |offset: u64| Position {
                file: seq as u32,
                offset,
            };
            let cell = Cell::stored(
                v.count,
                first,
                last,
                // An hourly row's evidence is its first request; states written before that
                // rule held by every merge may have kept up to three.
                v.samples
                    .iter()
                    .take(rows::SAMPLES_PER_HOURLY_ROW)
                    .map(|(o, id)| Sample {
                        at: at(*o),
                        request_id: id.clone(),
                    })
                    .collect(),
                ip.map(|ip| (at(v.samples.first().map_or(0, |s| s.0)), ip)),
            );
            stats.note_time(first);
            stats.note_time(last);
            match stats.usage.get_mut(&key) {
                Some(c) => c.merge(cell),
                None => {
                    stats.usage.insert(key, cell);
                }
            }
            Ok(())
        };
    match (rows, path) {
        (Some(rows), _) => {
            for (k, v) in &rows.map {
                fold(&rows.strings, k, v)?;
            }
        }
        (None, Some(path)) => partial::read_each(path, |strings, k, v| fold(strings, k, &v))?,
        (None, None) => {}
    }
    Ok(Loaded {
        stats,
        straddling,
        earlier,
    })
}

/// What a merge did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeReport {
    pub added: u64,
    pub replaced: u64,
    pub already_present: u64,
}

impl State {
    /// Folds the entries of the state at `src` into this one. Content both hold (same head)
    /// is kept once: the longer count wins, as logs only grow.
    pub fn merge_from(&mut self, src: &Path, report: &mut MergeReport) -> anyhow::Result<()> {
        if !src.join(MANIFEST).is_file() {
            bail!(
                "{}: no {MANIFEST}: not a permlens state directory",
                src.display()
            );
        }
        let mut other = State::open_with(src, None, false)?;
        if other.manifest.entries.is_empty() {
            return Ok(());
        }
        if self.manifest.entries.is_empty() && self.manifest.config.is_empty() {
            self.manifest.config = other.manifest.config.clone();
        } else if other.manifest.config != self.manifest.config {
            bail!(
                "state {}: made with another catalog or other parsing options than {}: its counts cannot be merged",
                src.display(),
                self.dir.display()
            );
        }
        if let Some(r) = other.manifest.retain_days {
            self.manifest.retain_days = Some(self.manifest.retain_days.map_or(r, |m| m.max(r)));
        }
        for j in 0..other.manifest.entries.len() {
            let e = other.manifest.entries[j].clone();
            let rows = other.rows_of(j)?.clone();
            let same = self
                .manifest
                .entries
                .iter()
                .position(|d| d.head_len == e.head_len && d.head_hash == e.head_hash);
            let i = match same {
                Some(i) if self.manifest.entries[i].len >= e.len => {
                    report.already_present += 1;
                    continue;
                }
                Some(i) => {
                    report.replaced += 1;
                    let d = &mut self.manifest.entries[i];
                    d.len = e.len;
                    d.lines = e.lines;
                    d.tail_len = e.tail_len;
                    d.tail_hash = e.tail_hash.clone();
                    d.updated_at = e.updated_at.clone();
                    i
                }
                None => {
                    report.added += 1;
                    let seq = self.manifest.next_seq;
                    self.manifest.next_seq += 1;
                    let mut d = e.clone();
                    d.seq = seq;
                    d.id = format!("{}-{seq}", &e.head_hash[..16.min(e.head_hash.len())]);
                    d.partial = None;
                    d.raw.clear();
                    d.names.clear();
                    self.manifest.entries.push(d);
                    self.manifest.entries.len() - 1
                }
            };
            let d = &mut self.manifest.entries[i];
            for raw in &e.raw {
                if !d.raw.contains(raw) {
                    d.raw.push(raw.clone());
                }
            }
            for n in &e.names {
                let n = format!("{}:{n}", src.display());
                if !d.names.contains(&n) {
                    d.names.push(n);
                }
            }
            let id = d.id.clone();
            self.rows.insert(id.clone(), rows);
            self.dirty.insert(id);
        }
        Ok(())
    }
}

/// What [`State::load`] gives back.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The stored rows in the window, split by context class.
    pub stats: Stats,
    /// Requests in hourly rows that a context-class boundary splits (judged at their
    /// earliest request).
    pub straddling: u64,
    /// Last successful use per (user, permission) before the window.
    pub earlier: EarlierUses,
}

fn parse_hex(s: &str) -> Option<u128> {
    u128::from_str_radix(s, 16).ok()
}

fn tail_matches(e: &Entry, tail: (u64, u128)) -> bool {
    e.tail_len == tail.0 && e.tail_hash == hex(tail.1)
}

/// The hash of the `tail_len` bytes before `end` of a plain file.
fn tail_at(path: &Path, end: u64, tail_len: u64) -> std::io::Result<u128> {
    let fd = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    let start = end.saturating_sub(tail_len);
    crate::input::mmap::read_range(&fd, start, (end - start) as usize, &mut buf)?;
    if (buf.len() as u64) < end - start {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
    }
    Ok(content_hash(&buf))
}

/// Reads a file's fingerprints: content head, plain tail (after cutting a live file back to
/// its last complete line), compressed identity. Returns them with the head bytes.
fn fingerprint(f: &mut InputFile) -> std::io::Result<(Prints, Vec<u8>)> {
    use std::io::Read;
    let fd = std::fs::File::open(&f.path)?;
    let mut prints = Prints::default();
    let raw_head = {
        let mut buf = Vec::new();
        crate::input::mmap::read_range(&fd, 0, f.len.min(HEAD) as usize, &mut buf)?;
        buf
    };
    let head = if f.compression == Compression::None {
        if f.live && !f.format.as_ref().is_ok_and(|f| f.is_document()) {
            // Stop at the last complete line: the rest is still being written.
            let from = f.len.saturating_sub(crate::scan::MAX_LINE);
            let mut tail = Vec::new();
            crate::input::mmap::read_range(&fd, from, (f.len - from) as usize, &mut tail)?;
            if let Some(i) = memchr::memrchr(b'\n', &tail) {
                let complete = from + i as u64 + 1;
                if complete < f.len {
                    crate::log::warn(&format!(
                        "{}: its last line has no newline yet and the file was modified in the last {}s: the line is left for the next run",
                        f.name,
                        crate::input::LIVE_WINDOW
                    ));
                }
                f.len = complete;
            }
        }
        let n = raw_head.len().min(f.len as usize);
        let head = raw_head[..n].to_vec();
        let tail_start = f.len.saturating_sub(TAIL);
        let mut tail = Vec::new();
        crate::input::mmap::read_range(&fd, tail_start, (f.len - tail_start) as usize, &mut tail)?;
        prints.tail = Some((tail.len() as u64, content_hash(&tail)));
        head
    } else {
        let mut tail = Vec::new();
        let tail_start = f.len.saturating_sub(TAIL);
        crate::input::mmap::read_range(&fd, tail_start, (f.len - tail_start) as usize, &mut tail)?;
        prints.raw = Some(RawId {
            size: f.len,
            head_hash: hex(content_hash(&raw_head)),
            tail_hash: hex(content_hash(&tail)),
        });
        let mut reader = crate::input::open_decoder(std::fs::File::open(&f.path)?, f.compression)?;
        let mut head = Vec::with_capacity(HEAD as usize);
        (&mut reader)
            .take(HEAD)
            .read_to_end(&mut head)
            .or_else(|e| {
                if head.is_empty() {
                    Err(e)
                } else {
                    Ok(head.len())
                }
            })?;
        head
    };
    prints.head_len = head.len() as u64;
    prints.head_hash = content_hash(&head);
    Ok((prints, head))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// For tests of crash safety: `PERMLENS_CRASH_AT=<point>` aborts the process there, as a
/// `kill -9` would.
pub fn crash_point(point: &str) {
    if std::env::var_os("PERMLENS_CRASH_AT").is_some_and(|v| v == point) {
        std::process::abort();
    }
}

/// Splits the scan's rows by file and hands each file's to [`State::store`].
pub fn rows_by_file(rows: HourlyRows, catalog: &Catalog) -> BTreeMap<u32, Rows> {
    partial::split_by_file(rows, catalog)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::context::ContextClasses;

    /// Regression: merges kept up to three samples of an hourly row before the one-sample
    /// rule held everywhere; a state written then reports the hour's first request only.
    #[test]
    fn a_stored_hourly_row_gives_its_first_request_as_evidence() {
        let mut rows = Rows::default();
        let empty = rows.empty_id();
        let key = partial::Key {
            unmatched: false,
            user: rows.intern(b"alice"),
            method: rows.intern(b"GET"),
            target: rows.intern(b"/v2/orders/customer-orders"),
            status: 200,
            error_code: empty,
            source: empty,
            source_ip: rows.intern(b"10.0.0.1"),
            hour: 490_000,
        };
        let value = partial::Value {
            user_id: empty,
            count: 3,
            first_seen: Some(490_000 * HOUR + 1),
            last_seen: Some(490_000 * HOUR + 3),
            samples: vec![(10, "a".into()), (20, "b".into()), (30, "c".into())],
        };
        rows.map.insert(key, value);
        let catalog = Catalog::embedded();
        let context = ContextClasses::default();
        let dir = Path::new("state");
        let loaded = fold_entry(
            Some(rows),
            None,
            0,
            "e",
            dir,
            &catalog,
            None,
            None,
            &context,
        )
        .unwrap();
        let cells: Vec<&Cell> = loaded.stats.usage.values().collect();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].count, 3);
        let ids: Vec<&str> = cells[0].samples.iter().map(|s| &*s.request_id).collect();
        assert_eq!(ids, ["a"]);
    }
}
