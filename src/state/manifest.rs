//! `manifest.json`: the schema of the state's entries, how it is parsed and sealed, and the
//! fingerprint of the options the stored rows were made with.

use std::path::Path;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::input::content_hash;

/// Bytes of content the head fingerprint covers.
pub const HEAD: u64 = 64 << 10;
pub(super) const MANIFEST: &str = "manifest.json";
pub(super) const PARTIALS: &str = "partials";
/// The format of a manifest whose entries each name at most one partial (`partial`); written
/// whenever no entry has more, so such states stay readable by versions before parts.
pub(super) const FORMAT: u32 = 1;
/// The format of a manifest with an entry of several parts (`parts`): versions that know
/// only [`FORMAT`] refuse it instead of reading such an entry as empty.
pub(super) const FORMAT_PARTS: u32 = 2;

pub(super) fn hex(h: u128) -> String {
    format!("{h:032x}")
}

pub(super) fn parse_hex(s: &str) -> Option<u128> {
    u128::from_str_radix(s, 16).ok()
}

/// Compressed bytes that hold exactly an entry's counted content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawId {
    pub size: u64,
    pub head_hash: String,
    pub tail_hash: String,
}

/// One partial file of an entry and the span of its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub file: String,
    pub rows: u64,
    /// Hours (since the epoch) of its earliest and latest rows.
    pub first_hour: Option<u32>,
    pub last_hour: Option<u32>,
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
    /// The partial file in `partials/`, when the entry has rows in one part (on disk; in
    /// memory every partial is in `parts`, see [`Manifest::normalize_parts`]).
    pub partial: Option<String>,
    /// The partial files in `partials/` of an entry whose rows were written in several parts
    /// (a large file read a part at a time, rows added by later runs), oldest first. The
    /// same key may have rows in several parts (an hour at the boundary of two); loading
    /// merges them into one hourly row before folding it, as if they were one partial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// Rows in its partials (a key with rows in several parts counts once per part).
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

impl Entry {
    /// Sets the rows and hours the entry's parts hold.
    pub(super) fn sync_parts(&mut self) {
        self.rows = self.parts.iter().map(|p| p.rows).sum();
        self.first_hour = self.parts.iter().filter_map(|p| p.first_hour).min();
        self.last_hour = self.parts.iter().filter_map(|p| p.last_hour).max();
    }

    /// Every partial file the entry names, on disk or in memory.
    pub fn partial_files(&self) -> impl Iterator<Item = &str> {
        self.partial
            .iter()
            .map(String::as_str)
            .chain(self.parts.iter().map(|p| p.file.as_str()))
    }
}

impl Manifest {
    /// The manifest of a state nothing was stored in yet, for rows made with `config`.
    pub(super) fn new(config: &str) -> Manifest {
        Manifest {
            format: FORMAT,
            written_by: String::new(),
            config: config.to_owned(),
            retain_days: None,
            generation: 0,
            next_seq: 0,
            updated_at: None,
            entries: Vec::new(),
            checksum: None,
        }
    }

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
                || e.partial_files().any(|p| !partials.insert(p))
                || (e.partial.is_some() && !e.parts.is_empty())
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

    /// Moves each entry's `partial` into its `parts` (with the entry's rows and hours), the
    /// form a state is worked on in.
    pub(super) fn normalize_parts(&mut self) {
        for e in &mut self.entries {
            if let Some(file) = e.partial.take() {
                e.parts.insert(
                    0,
                    Part {
                        file,
                        rows: e.rows,
                        first_hour: e.first_hour,
                        last_hour: e.last_hour,
                    },
                );
            }
        }
    }

    /// The manifest as written, its checksum set: an entry of one part names it in `partial`,
    /// as before parts existed, and the format says whether any entry has more
    /// ([`FORMAT_PARTS`]).
    pub(super) fn sealed_text(&mut self) -> String {
        let mut disk = self.clone();
        for e in &mut disk.entries {
            if e.parts.len() == 1 {
                e.partial = Some(e.parts.remove(0).file);
            }
        }
        let several = disk.entries.iter().any(|e| e.parts.len() > 1);
        disk.format = if several { FORMAT_PARTS } else { FORMAT };
        disk.checksum = Some(disk.entries_checksum());
        self.format = disk.format;
        self.checksum = disk.checksum.clone();
        serde_json::to_string_pretty(&disk).expect("manifest serialises")
    }
}

/// The fingerprint of what shapes the partials: a state made with another catalog or other
/// parsing options cannot be mixed with this run's rows.
pub fn config_fingerprint(
    catalog: &Catalog,
    user_field: Option<&str>,
    fields: &[&str],
    log_format: &str,
) -> String {
    // Only what decides which route a line is classified to enters: a route's judging
    // attributes (response filtering, IAM 5.0 actions) leave the stored rows valid, so they
    // are left out, which also keeps the fingerprints of states made before they existed.
    let text = format!(
        "{}\n{}\n{}\n{}",
        catalog.routing_json(),
        user_field.unwrap_or(""),
        fields.join("\n"),
        log_format
    );
    hex(content_hash(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A route's judging attributes do not change what a line is classified to: states made
    /// before they existed, or with them set otherwise, stay usable.
    #[test]
    fn the_fingerprint_ignores_response_filtering() {
        let catalog = Catalog::embedded();
        let mut file = catalog.to_file();
        assert!(file.routes.iter().any(|r| r.response_filtering));
        for r in &mut file.routes {
            r.response_filtering = !r.response_filtering;
        }
        let flipped = Catalog::from_file(file.clone(), "x.json").unwrap();
        let print = |c: &Catalog| config_fingerprint(c, Some("custom_data_log1"), &[], "auto");
        assert_eq!(print(&catalog), print(&flipped));
        file.routes[0].permission = "bss:other:view".into();
        let changed = Catalog::from_file(file, "x.json").unwrap();
        assert_ne!(print(&catalog), print(&changed));
    }

    fn entry(id: &str) -> Entry {
        Entry {
            id: id.into(),
            seq: 0,
            format: "json".into(),
            head_len: 1,
            head_hash: "00".into(),
            len: 1,
            lines: 1,
            tail_len: 1,
            tail_hash: "00".into(),
            raw: Vec::new(),
            names: Vec::new(),
            partial: None,
            parts: Vec::new(),
            rows: 0,
            first_hour: None,
            last_hour: None,
            counted_at: String::new(),
            updated_at: String::new(),
            seen_at: String::new(),
        }
    }

    fn part(file: &str, rows: u64, hours: (u32, u32)) -> Part {
        Part {
            file: file.into(),
            rows,
            first_hour: Some(hours.0),
            last_hour: Some(hours.1),
        }
    }

    /// An entry of one part is written as before parts (`partial`, format 1), so older
    /// versions still read such states; one of several parts makes the manifest format 2,
    /// which they refuse. Either reads back into the same parts.
    #[test]
    fn parts_are_written_in_the_oldest_form_that_holds_them() {
        let mut m = Manifest::new("c");
        let mut e = entry("a-0");
        e.parts = vec![part("a.g1.1.parquet", 3, (10, 12))];
        e.sync_parts();
        m.entries.push(e);
        let text = m.sealed_text();
        let disk: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(disk["format"], FORMAT);
        assert_eq!(disk["entries"][0]["partial"], "a.g1.1.parquet");
        assert!(disk["entries"][0].get("parts").is_none(), "{text}");
        assert_eq!(disk["entries"][0]["rows"], 3);
        let mut back = Manifest::parse(&text, Path::new("m")).unwrap();
        back.normalize_parts();
        assert_eq!(back.entries[0].parts, m.entries[0].parts);

        m.entries[0].parts.push(part("a.g2.2.parquet", 4, (12, 20)));
        m.entries[0].sync_parts();
        assert_eq!(
            (
                m.entries[0].rows,
                m.entries[0].first_hour,
                m.entries[0].last_hour
            ),
            (7, Some(10), Some(20))
        );
        let text = m.sealed_text();
        let disk: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(disk["format"], FORMAT_PARTS);
        assert!(disk["entries"][0]["partial"].is_null());
        let mut back = Manifest::parse(&text, Path::new("m")).unwrap();
        back.normalize_parts();
        assert_eq!(back.entries[0].parts, m.entries[0].parts);
    }

    #[test]
    fn a_partial_named_twice_is_refused() {
        let mut m = Manifest::new("c");
        let mut e = entry("a-0");
        e.parts = vec![part("x.parquet", 1, (1, 1)), part("y.parquet", 1, (2, 2))];
        m.entries.push(e);
        let mut e = entry("b-1");
        e.parts = vec![part("y.parquet", 1, (3, 3))];
        m.entries.push(e);
        let text = m.sealed_text();
        let err = Manifest::parse(&text, Path::new("m"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("repeats"), "{err}");
    }
}
