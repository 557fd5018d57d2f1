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
pub(super) const FORMAT: u32 = 1;

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
    pub(super) fn sealed_text(&mut self) -> String {
        self.checksum = Some(self.entries_checksum());
        serde_json::to_string_pretty(self).expect("manifest serialises")
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
    // attributes (response filtering) leave the stored rows valid, so they are cleared,
    // which also keeps the fingerprints of states made before they existed.
    let mut file = catalog.to_file();
    for r in &mut file.routes {
        r.response_filtering = false;
    }
    let text = format!(
        "{}\n{}\n{}\n{}",
        file.to_json(),
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
}
