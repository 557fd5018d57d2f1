//! The open state: recording what each file's scan produced, pruning, and writing it back
//! by the crash-safety protocol of the [module docs](super).
//!
//! What must stay true, so that a run killed at any point leaves a usable state:
//!
//! - A partial is never written over: [`State::flush`] writes under a temporary name, then
//!   renames to a new name (generation, flush count, checksum) that no manifest names yet.
//! - The manifest on disk changes only in [`State::persist`], by one atomic replace, after
//!   the partials it names are synced.
//! - A file is removed only once no manifest on disk names it: after the replace, or at
//!   open (what a killed run left behind).
//! - [`State::prepare`] writes nothing the previous manifest names, so the new state can be
//!   loaded and reported on before [`State::persist`] makes it the state.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

use super::fingerprint::Prints;
use super::manifest::{Entry, FORMAT, FORMAT_PARTS, MANIFEST, Manifest, PARTIALS, Part, hex};
use super::partial::{self, HOUR, Rows};
use super::plan::Plan;
use crate::input::{Compression, InputFile};
use crate::lock::RunLock;

/// Rows up to which new rows are merged into an entry's last part instead of starting a
/// new one (see [`State::flush`]); merging holds both in memory.
const PART_ROWS: u64 = 1 << 17;

/// An open state directory, locked for this run.
#[derive(Debug)]
pub struct State {
    pub dir: PathBuf,
    /// Every partial of an entry is in its `parts` while the state is open
    /// ([`Manifest::normalize_parts`]).
    pub manifest: Manifest,
    /// Held while the state is open: one run at a time reads and changes the directory.
    _lock: RunLock,
    pub took_over: Option<String>,
    /// Rows produced in this run and not written yet, by entry id: written as a new part of
    /// the entry at the next flush.
    pub(super) pending: HashMap<String, Rows>,
    /// Rows of parts written in this run and kept in memory for [`State::load`], by file.
    pub(super) written: HashMap<String, Rows>,
    /// Partial files written in this run, for unique names.
    flushes: u64,
}

/// Rows of one file that its scan already wrote as parts, a part at a time, before the
/// file was done ([`State::write_part`]).
pub type Spilled = Vec<Part>;

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
    /// The hour (µs) before which stored rows are pruned, when retention applies.
    pub pruned_before: Option<i64>,
}

fn now_text() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl State {
    /// Opens (or creates) the state directory, takes its lock, reads the manifest and removes
    /// files an interrupted run left behind.
    /// `config` is the fingerprint this run needs; `None` accepts any (merging, showing).
    pub fn open(dir: &Path, config: Option<&str>) -> anyhow::Result<State> {
        State::open_with(dir, config, true)
    }

    /// `clean`: remove what an interrupted run left behind (not for a state only read).
    pub(super) fn open_with(
        dir: &Path,
        config: Option<&str>,
        clean: bool,
    ) -> anyhow::Result<State> {
        if !dir.join(MANIFEST).exists() {
            check_without_manifest(dir)?;
        }
        std::fs::create_dir_all(dir.join(PARTIALS))
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        let lock = RunLock::acquire(
            &dir.join("lock"),
            &format!("state directory {}", dir.display()),
        )?;
        let took_over = lock.took_over.clone();
        let manifest = read_manifest(&dir.join(MANIFEST), config)?;
        let state = State {
            dir: dir.to_owned(),
            manifest,
            _lock: lock,
            took_over,
            pending: HashMap::new(),
            written: HashMap::new(),
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
            .flat_map(Entry::partial_files)
            .collect();
        if let Ok(dir) = std::fs::read_dir(self.dir.join(PARTIALS)) {
            for f in dir.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                // Only what a run of permlens writes: anything else was put there by someone.
                if !named.contains(name.as_str()) && partial_name(&name).is_some() {
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

    pub(super) fn partial_path(&self, name: &str) -> PathBuf {
        self.dir.join(PARTIALS).join(name)
    }

    /// Writes `rows` as a new partial (a temporary name first, then one with a checksum of
    /// its bytes, which every read checks: a damaged partial is refused by name, never
    /// decoded) that no manifest names yet; `prefix` starts its name.
    pub(super) fn write_part(&mut self, prefix: &str, rows: &Rows) -> anyhow::Result<Part> {
        let generation = self.manifest.generation + 1;
        self.flushes += 1;
        let dir = self.dir.join(PARTIALS);
        let tmp = format!("{prefix}.g{generation}.{}.parquet.tmp", self.flushes);
        partial::write(&dir.join(&tmp), rows)?;
        let hash = partial::file_hash(&dir.join(&tmp))?;
        let name = format!("{prefix}.g{generation}.{}.h{hash}.parquet", self.flushes);
        std::fs::rename(dir.join(&tmp), dir.join(&name))
            .with_context(|| format!("cannot name the partial {}", dir.join(&name).display()))?;
        let span = rows.hours();
        Ok(Part {
            file: name,
            rows: rows.len() as u64,
            first_hour: span.map(|s| s.0),
            last_hour: span.map(|s| s.1),
        })
    }

    /// Writes the rows of a file being read in parts (see [`Spilled`]) before the file is
    /// done; `prints` names the content.
    pub fn spill(&mut self, prints: &Prints, rows: &Rows) -> anyhow::Result<Part> {
        let prefix = hex(prints.head_hash)[..16].to_owned();
        self.write_part(&prefix, rows)
    }

    /// Removes parts written for a file that is not stored after all.
    fn discard(&self, spilled: Spilled) {
        for p in spilled {
            let _ = std::fs::remove_file(self.partial_path(&p.file));
        }
    }

    /// The rows of a part: kept from this run, or read from its partial.
    pub(super) fn part_rows(&mut self, part: &Part) -> anyhow::Result<Rows> {
        match self.written.remove(&part.file) {
            Some(rows) => Ok(rows),
            None => partial::read(&self.partial_path(&part.file)),
        }
    }

    /// Records what the scan of one file produced: `spilled`, the parts already written of
    /// it (oldest first), and `rows`, the rest.
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &mut self,
        f: &InputFile,
        plan: &Plan,
        prints: &Prints,
        report: &crate::input::FileReport,
        rows: Rows,
        spilled: Spilled,
        counts: &mut StateReport,
    ) -> anyhow::Result<()> {
        let now = now_text();
        let complete = report.warnings.is_empty();
        if f.compression == Compression::None && !complete {
            // It shrank while read: what was counted is not a well-defined content. Nothing
            // is stored; the next run reads it (or its rotated copy) again.
            counts.files_not_stored += 1;
            self.discard(spilled);
            return Ok(());
        }
        let nothing_new = report.nothing_new || (report.new_lines == 0 && !report.restarted);
        let entry = match *plan {
            Plan::Unreadable => {
                self.discard(spilled);
                return Ok(());
            }
            Plan::Skip { entry, .. } => {
                self.discard(spilled);
                self.seen_again(entry, f, prints, complete, &now, counts);
                return Ok(());
            }
            Plan::Resume { entry } if nothing_new => {
                self.discard(spilled);
                self.seen_again(entry, f, prints, complete, &now, counts);
                return Ok(());
            }
            // What was counted before stays in its parts; the new rows become new parts.
            Plan::Resume { entry } if !report.restarted => {
                counts.files_resumed += 1;
                self.add_rows(entry, rows, spilled);
                entry
            }
            Plan::Replace { entry } => {
                counts.files_replaced += 1;
                let e = &mut self.manifest.entries[entry];
                // The old parts stay on disk, named by the manifest there, until it is replaced.
                e.parts.clear();
                let id = e.id.clone();
                self.pending.remove(&id);
                self.add_rows(entry, rows, spilled);
                entry
            }
            // Empty content: nothing to store, and an entry without a head would match
            // every file.
            Plan::Resume { .. } | Plan::New if prints.head_len == 0 => {
                self.discard(spilled);
                return Ok(());
            }
            // A resumed file whose scan restarted from 0 (its content differed) is new.
            Plan::Resume { .. } | Plan::New => {
                counts.files_new += 1;
                let i = self.new_entry(f, prints, &now);
                self.add_rows(i, rows, spilled);
                i
            }
        };
        self.counted(entry, f, prints, report, complete, &now);
        Ok(())
    }

    /// `f` held nothing entry `i` had not counted: only the match is noted.
    fn seen_again(
        &mut self,
        i: usize,
        f: &InputFile,
        prints: &Prints,
        complete: bool,
        now: &str,
        counts: &mut StateReport,
    ) {
        self.touch(i, f, prints, complete, now);
        counts.files_skipped += 1;
        counts.bytes_skipped += f.len;
    }

    /// Adds parts already written and rows to be written to entry `i`.
    fn add_rows(&mut self, i: usize, rows: Rows, spilled: Spilled) {
        let e = &mut self.manifest.entries[i];
        e.parts.extend(spilled);
        e.sync_parts();
        let id = e.id.clone();
        match self.pending.get_mut(&id) {
            Some(held) => held.absorb(rows),
            None => {
                self.pending.insert(id, rows);
            }
        }
    }

    /// Adds an entry for content not counted before; returns its index. What was counted of
    /// it is set by [`State::counted`].
    fn new_entry(&mut self, f: &InputFile, prints: &Prints, now: &str) -> usize {
        let seq = self.manifest.next_seq;
        self.manifest.next_seq += 1;
        let id = format!("{}-{seq}", &hex(prints.head_hash)[..16]);
        self.manifest.entries.push(Entry {
            id: id.clone(),
            seq,
            format: f
                .format
                .as_ref()
                .map(|f| f.as_str())
                .unwrap_or("json")
                .to_owned(),
            head_len: prints.head_len,
            head_hash: hex(prints.head_hash),
            len: 0,
            lines: 0,
            tail_len: 0,
            tail_hash: String::new(),
            raw: Vec::new(),
            names: Vec::new(),
            partial: None,
            parts: Vec::new(),
            rows: 0,
            first_hour: None,
            last_hour: None,
            counted_at: now.to_owned(),
            updated_at: now.to_owned(),
            seen_at: now.to_owned(),
        });
        self.manifest.entries.len() - 1
    }

    /// Entry `i` now holds what the scan of `f` read: its length, lines and the hash of its
    /// last bytes (what the next run compares to resume); its rows are to be written.
    fn counted(
        &mut self,
        i: usize,
        f: &InputFile,
        prints: &Prints,
        report: &crate::input::FileReport,
        complete: bool,
        now: &str,
    ) {
        // A plain line file's tail was taken while planning, up to the length read;
        // otherwise the scan took it of the content it read.
        let tail = if f.compression == Compression::None
            && !f.format.as_ref().is_ok_and(|f| f.is_document())
        {
            prints.tail
        } else {
            report.tail
        };
        let e = &mut self.manifest.entries[i];
        e.len = report.end;
        e.lines = report.lines;
        // A content that grew past its head when first counted (a file that was short) gets
        // the longer head: what it counted now starts with it. A head shorter than HEAD is a
        // prefix of other contents too, which would be taken for copies of this one.
        if prints.head_len > e.head_len && prints.head_len <= e.len {
            e.head_len = prints.head_len;
            e.head_hash = hex(prints.head_hash);
        }
        if let Some((len, hash)) = tail {
            e.tail_len = len;
            e.tail_hash = hex(hash);
        }
        e.updated_at = now.to_owned();
        self.touch(i, f, prints, complete, now);
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
        counts.pruned_before = Some(i64::from(cutoff) * HOUR);
        for rows in self.pending.values_mut() {
            counts.rows_pruned += rows.prune_before(cutoff);
        }
        // A part at a time: one that holds rows before the cutoff is read, pruned and written
        // again under a new name (or dropped when nothing is left).
        for i in 0..self.manifest.entries.len() {
            let old = std::mem::take(&mut self.manifest.entries[i].parts);
            let mut parts = Vec::with_capacity(old.len());
            for part in old {
                if part.first_hour.is_none_or(|h| h >= cutoff) {
                    parts.push(part);
                    continue;
                }
                let mut rows = self.part_rows(&part)?;
                let pruned = rows.prune_before(cutoff);
                counts.rows_pruned += pruned;
                if pruned == 0 {
                    parts.push(part);
                } else if !rows.is_empty() {
                    let prefix = self.manifest.entries[i].id.clone();
                    parts.push(self.write_part(&prefix, &rows)?);
                }
            }
            let e = &mut self.manifest.entries[i];
            e.parts = parts;
            e.sync_parts();
        }
        Ok(())
    }

    /// Writes the rows produced since the last flush as new parts of their entries, under new
    /// names, so the manifest on disk keeps naming the old ones until [`State::persist`]. Rows
    /// few enough to join the entry's last part are merged into it (written again as a new
    /// part), so that a file that grows a little every night does not gather a part a night.
    /// Without `drop_rows` the written rows stay in memory for [`State::load`].
    pub fn flush(&mut self, drop_rows: bool) -> anyhow::Result<()> {
        let mut pending: Vec<(String, Rows)> = self.pending.drain().collect();
        pending.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, mut rows) in pending {
            let Some(i) = self.manifest.entries.iter().position(|e| e.id == id) else {
                continue;
            };
            if rows.is_empty() {
                continue;
            }
            let last = self.manifest.entries[i].parts.last().cloned();
            if let Some(last) = last
                && last.rows + rows.len() as u64 <= PART_ROWS
            {
                let mut held = self.part_rows(&last)?;
                held.absorb(rows);
                rows = held;
                self.manifest.entries[i].parts.pop();
            }
            let part = self.write_part(&id, &rows)?;
            if !drop_rows {
                self.written.insert(part.file.clone(), rows);
            }
            let e = &mut self.manifest.entries[i];
            e.parts.push(part);
            e.sync_parts();
        }
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
        Ok(())
    }
}

/// The manifest at `path`, or a new one if there is none. `config`: see [`State::open`].
/// The generation in the name of a partial a run of permlens wrote
/// (`<16 hex>[-<seq>].g<generation>.<flush>[.h<hash>].parquet[.tmp]`), `Some(0)` for the
/// names of versions before generations (`<16 hex>-<seq>.parquet`), `None` for any other
/// file.
fn partial_name(name: &str) -> Option<u64> {
    let (hex, rest) = name.split_at_checked(16)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit())
        || !(name.ends_with(".parquet") || name.ends_with(".parquet.tmp"))
    {
        return None;
    }
    let rest = match rest.strip_prefix('-') {
        Some(seq) => seq.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    match rest.strip_prefix(".g") {
        Some(generation) => generation[..generation.find('.')?].parse().ok(),
        None => Some(0),
    }
}

/// A state directory without a manifest is new, or what a first run that was killed left
/// (partials of generation 1, removed as orphans). Partials of a later generation prove a
/// manifest named them once: it was lost, and starting afresh would delete the history they
/// hold. A directory holding other files is not a state at all.
fn check_without_manifest(dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == PARTIALS || name == "lock" || name.starts_with(".permlens-") {
            continue;
        }
        bail!(
            "{}: not a permlens state directory (it holds {name:?} and no {MANIFEST}); give --state an empty or new directory",
            dir.display()
        );
    }
    let later = std::fs::read_dir(dir.join(PARTIALS))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| partial_name(&e.file_name().to_string_lossy()).is_some_and(|g| g != 1))
        .count();
    if later > 0 {
        bail!(
            "state {}: {PARTIALS}/ holds {later} partial(s) of earlier runs but there is no {MANIFEST}: the state is damaged (its manifest was removed or lost); restore {MANIFEST} from a backup, or start afresh with a new --state directory",
            dir.display()
        );
    }
    Ok(())
}

fn read_manifest(path: &Path, config: Option<&str>) -> anyhow::Result<Manifest> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Manifest::new(config.unwrap_or_default()));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut m = Manifest::parse(&text, path)?;
    if m.format != FORMAT && m.format != FORMAT_PARTS {
        bail!(
            "state {}: format {} (this permlens reads formats {FORMAT} and {FORMAT_PARTS}); use a new --state directory",
            path.display(),
            m.format
        );
    }
    m.normalize_parts();
    if config.is_some_and(|c| c != m.config) {
        bail!(
            "state {}: made with another catalog or other parsing options (--catalog, --user-field, --field, --log-format); its counts cannot be mixed with this run's: use the same options or a new --state directory",
            path.display()
        );
    }
    Ok(m)
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

#[cfg(test)]
mod name_tests {
    use super::partial_name;

    #[test]
    fn partial_names_are_told_from_other_files() {
        for (name, generation) in [
            (
                "06c2dcae891ae396-1.g1.1.h00dbb2b77e75de9b4050caac1668de35.parquet",
                Some(1),
            ),
            ("06c2dcae891ae396.g12.3.parquet.tmp", Some(12)),
            ("06c2dcae891ae396-7.parquet", Some(0)),
            ("keep.parquet", None),
            ("README", None),
            ("06c2dcae891ae396-1.g1.1.parquet.bak", None),
        ] {
            assert_eq!(partial_name(name), generation, "{name}");
        }
    }
}
