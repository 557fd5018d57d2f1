//! Merging another state directory into this one (`permlens state merge`).

use std::path::Path;

use anyhow::bail;
use serde::Serialize;

use super::State;
use super::manifest::MANIFEST;

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
