//! Merging another state directory into this one (`permlens state merge`).

use std::path::Path;

use anyhow::bail;
use serde::Serialize;

use super::State;
use super::manifest::{Entry, MANIFEST, Manifest};

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
        self.take_config(&other.manifest, src)?;
        if let Some(r) = other.manifest.retain_days {
            self.manifest.retain_days = Some(self.manifest.retain_days.map_or(r, |m| m.max(r)));
        }
        for j in 0..other.manifest.entries.len() {
            let e = other.manifest.entries[j].clone();
            let Some(i) = self.merge_entry(&e, report) else {
                continue;
            };
            note_origin(&mut self.manifest.entries[i], &e, src);
            // The longer count's rows hold the shorter's: they replace this state's, copied a
            // part at a time (under new names: the manifest on disk names the old ones).
            let id = self.manifest.entries[i].id.clone();
            self.pending.remove(&id);
            let mut parts = Vec::with_capacity(e.parts.len());
            for part in &e.parts {
                let rows = other.part_rows(part)?;
                parts.push(self.write_part(&id, &rows)?);
            }
            let d = &mut self.manifest.entries[i];
            d.parts = parts;
            d.sync_parts();
        }
        Ok(())
    }

    /// A state with nothing in it takes the config of the first state merged into it;
    /// otherwise the configs must be the same, or the counts would not mean the same.
    fn take_config(&mut self, other: &Manifest, src: &Path) -> anyhow::Result<()> {
        if self.manifest.entries.is_empty() && self.manifest.config.is_empty() {
            self.manifest.config = other.config.clone();
        } else if other.config != self.manifest.config {
            bail!(
                "state {}: made with another catalog or other parsing options than {}: its counts cannot be merged",
                src.display(),
                self.dir.display()
            );
        }
        Ok(())
    }

    /// The index of this state's entry that now holds `e`'s count (updated, or added), or
    /// `None` when this state already counted at least as much of the same content.
    fn merge_entry(&mut self, e: &Entry, report: &mut MergeReport) -> Option<usize> {
        let entries = &mut self.manifest.entries;
        let same = entries
            .iter()
            .position(|d| d.head_len == e.head_len && d.head_hash == e.head_hash);
        match same {
            Some(i) if entries[i].len >= e.len => {
                report.already_present += 1;
                None
            }
            Some(i) => {
                report.replaced += 1;
                let d = &mut entries[i];
                d.len = e.len;
                d.lines = e.lines;
                d.tail_len = e.tail_len;
                d.tail_hash = e.tail_hash.clone();
                d.updated_at = e.updated_at.clone();
                Some(i)
            }
            None => {
                report.added += 1;
                let seq = self.manifest.next_seq;
                self.manifest.next_seq += 1;
                let mut d = e.clone();
                d.seq = seq;
                d.id = format!("{}-{seq}", &e.head_hash[..16.min(e.head_hash.len())]);
                d.partial = None;
                d.parts.clear();
                d.raw.clear();
                d.names.clear();
                entries.push(d);
                Some(entries.len() - 1)
            }
        }
    }
}

/// Adds to `d` the compressed fingerprints and names (prefixed with the state they came
/// from) that `e` was seen under.
fn note_origin(d: &mut Entry, e: &Entry, src: &Path) {
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
}
