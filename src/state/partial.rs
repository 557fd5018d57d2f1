//! Partial aggregates: what one input's content contributed, per hour, independent of any
//! snapshot, stored as one Parquet file per content entry.
//!
//! Two versions: a state's partials (schema 1, below) and `permlens map`'s (schema 2: the
//! same columns after `schema_version`, `config`, `run`, `file`, `content`, `content_bytes`
//! — see [`Provenance`] — with `count` as int64 and up to three samples a row; the README's
//! "Fleets" section documents it for users).
//!
//! Schema 1 (one row per kind x user x route x status x error code x response source x client
//! IP x hour, or per unmatched method x path shape x hour):
//!
//! | column | type | |
//! |---|---|---|
//! | `kind` | string | `usage` (a catalog route) or `unmatched` (the service, no route) |
//! | `user`, `user_id` | string | the caller (empty for `unmatched`) |
//! | `method` | string | upper case |
//! | `route` | string | the catalog route template (`usage`) |
//! | `path_shape` | string | ids replaced by `{id}` (`unmatched`) |
//! | `status` | int32 | HTTP status, null when the log had none |
//! | `error_code`, `response_source`, `source_ip` | string | as logged, empty when absent |
//! | `hour` | timestamp (UTC) | the hour the requests fall in |
//! | `count` | uint64 | requests |
//! | `first_seen`, `last_seen` | timestamp (UTC) | null for `unmatched` |
//! | `sample_offsets`, `sample_request_ids` | string | `;`-separated: byte offsets in the content and the request ids of the earliest requests |

mod parquet;
mod split;

pub use parquet::{
    Origin, file_hash, origins, read, read_each, read_mapped_each, write, write_mapped,
};
pub use split::split_by_file;

use std::borrow::Cow;

use foldhash::HashMap;

use super::rows::SAMPLES_PER_HOURLY_ROW;
use crate::aggregate::Interner;

pub const HOUR: i64 = 3_600_000_000;

/// What identifies a partial row; strings are ids in the rows' own [`Interner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// `false` = usage, `true` = unmatched.
    pub unmatched: bool,
    pub user: u32,
    pub method: u32,
    /// Route template (usage) or path shape (unmatched).
    pub target: u32,
    pub status: u16,
    pub error_code: u32,
    pub source: u32,
    pub source_ip: u32,
    /// Hours since the epoch.
    pub hour: u32,
}

impl Key {
    /// The key with its string ids mapped through `id` (into another [`Rows`]' strings).
    pub fn remapped(&self, mut id: impl FnMut(u32) -> u32) -> Key {
        Key {
            user: id(self.user),
            method: id(self.method),
            target: id(self.target),
            error_code: id(self.error_code),
            source: id(self.source),
            source_ip: id(self.source_ip),
            ..*self
        }
    }
}

/// Counts and evidence of a partial row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub user_id: u32,
    pub count: u64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// (offset in the content, request id), earliest first.
    pub samples: Vec<(u64, Box<str>)>,
}

/// The version of the partial schema `permlens map` writes (`schema_version` column). State
/// partials, which have no such column, are version 1.
pub const SCHEMA_VERSION: i32 = 2;

/// Where a mapped partial's rows come from: the columns schema 2 adds to every row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The fingerprint of the catalog and parsing options the rows were made with.
    pub config: String,
    /// The map run that wrote the rows.
    pub run: String,
    /// The input's name: orders samples across files, as a plain scan orders its inputs.
    pub file: String,
    /// The content's id: the hash of its first 64 KiB (decompressed).
    pub content: String,
    /// Bytes of the content that were counted.
    pub content_bytes: u64,
}

impl Value {
    /// Adds another value of the same row, keeping the `keep` earliest samples.
    fn merge(&mut self, o: Value, keep: usize) {
        self.count += o.count;
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = match (self.last_seen, o.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.samples.extend(o.samples);
        self.samples.sort();
        self.samples.dedup();
        // Rows are hourly: like a scan, a merge keeps the hour's first requests (a resumed
        // file's new lines in a stored hour must not add samples a one-shot run lacks).
        self.samples.truncate(keep);
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The rows of one content entry: interned keys, so a row costs tens of bytes, not a dozen
/// strings.
#[derive(Debug, Clone)]
pub struct Rows {
    pub strings: Interner,
    pub map: HashMap<Key, Value>,
    /// The id of the empty string.
    empty: Option<u32>,
    /// Samples a row keeps: one in a state (the hour's first request), three in a mapped
    /// partial (so that a report from partials names the requests a plain scan would).
    pub samples_kept: usize,
}

impl Default for Rows {
    fn default() -> Rows {
        Rows {
            strings: Interner::default(),
            map: HashMap::default(),
            empty: None,
            samples_kept: SAMPLES_PER_HOURLY_ROW,
        }
    }
}

impl PartialEq for Rows {
    fn eq(&self, other: &Rows) -> bool {
        self.resolved() == other.resolved()
    }
}

/// A row with its strings, for comparing and ordering.
type Resolved<'a> = (
    (
        bool,
        Cow<'a, str>,
        Cow<'a, str>,
        Cow<'a, str>,
        u16,
        Cow<'a, str>,
        Cow<'a, str>,
        Cow<'a, str>,
        u32,
    ),
    (
        Cow<'a, str>,
        u64,
        Option<i64>,
        Option<i64>,
        &'a [(u64, Box<str>)],
    ),
);

impl Rows {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Interns text as UTF-8 (invalid bytes from a log become U+FFFD, as in the reports).
    pub fn intern(&mut self, s: &[u8]) -> u32 {
        match String::from_utf8_lossy(s) {
            std::borrow::Cow::Borrowed(_) => self.strings.intern(s),
            std::borrow::Cow::Owned(fixed) => self.strings.intern(fixed.as_bytes()),
        }
    }

    pub fn empty_id(&mut self) -> u32 {
        match self.empty {
            Some(id) => id,
            None => {
                let id = self.strings.intern(b"");
                self.empty = Some(id);
                id
            }
        }
    }

    pub fn text(&self, id: u32) -> Cow<'_, str> {
        String::from_utf8_lossy(self.strings.get(id))
    }

    pub fn insert(&mut self, key: Key, value: Value) {
        match self.map.get_mut(&key) {
            Some(v) => v.merge(value, self.samples_kept),
            None => {
                self.map.insert(key, value);
            }
        }
    }

    /// Folds `other` in, re-interning its strings.
    pub fn absorb(&mut self, other: Rows) {
        let ids: Vec<u32> = (0..other.strings.len() as u32)
            .map(|i| self.intern(other.strings.get(i)))
            .collect();
        let id = |i: u32| ids[i as usize];
        for (k, mut v) in other.map {
            let key = k.remapped(id);
            v.user_id = id(v.user_id);
            self.insert(key, v);
        }
    }

    /// The time span of the rows: (earliest hour, latest hour).
    pub fn hours(&self) -> Option<(u32, u32)> {
        let lo = self.map.keys().map(|k| k.hour).min()?;
        let hi = self.map.keys().map(|k| k.hour).max()?;
        Some((lo, hi))
    }

    /// Drops rows before `cutoff` (hours); returns the requests they held.
    pub fn prune_before(&mut self, cutoff: u32) -> u64 {
        let mut pruned = 0;
        self.map.retain(|k, v| {
            let keep = k.hour >= cutoff;
            if !keep {
                pruned += v.count;
            }
            keep
        });
        pruned
    }

    /// Every row with its strings, in key order.
    fn resolved(&self) -> Vec<Resolved<'_>> {
        let mut out: Vec<Resolved<'_>> = self
            .map
            .iter()
            .map(|(k, v)| {
                (
                    (
                        k.unmatched,
                        self.text(k.user),
                        self.text(k.method),
                        self.text(k.target),
                        k.status,
                        self.text(k.error_code),
                        self.text(k.source),
                        self.text(k.source_ip),
                        k.hour,
                    ),
                    (
                        self.text(v.user_id),
                        v.count,
                        v.first_seen,
                        v.last_seen,
                        &v.samples[..],
                    ),
                )
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn row(rows: &mut Rows, hour: u32, count: u64, samples: &[(u64, &str)]) {
        let key = Key {
            unmatched: false,
            user: rows.intern(b"alice"),
            method: rows.intern(b"GET"),
            target: rows.intern(b"/v2/orders/customer-orders"),
            status: 200,
            error_code: rows.empty_id(),
            source: rows.empty_id(),
            source_ip: rows.intern(b"10.0.0.1"),
            hour,
        };
        let value = Value {
            user_id: rows.intern(b"u1"),
            count,
            first_seen: Some(i64::from(hour) * HOUR + 5),
            last_seen: Some(i64::from(hour) * HOUR + 9),
            samples: samples.iter().map(|(o, s)| (*o, (*s).into())).collect(),
        };
        rows.insert(key, value);
    }

    #[test]
    fn merging_sums_keeps_the_first_sample_and_reinterns() {
        let mut a = Rows::default();
        row(&mut a, 1, 2, &[(30, "c"), (40, "d")]);
        let mut b = Rows::default();
        b.intern(b"something else first");
        row(&mut b, 1, 5, &[(10, "a"), (20, "b"), (50, "e")]);
        row(&mut b, 2, 1, &[(60, "f")]);
        a.absorb(b);
        assert_eq!(a.len(), 2);
        let v = a.map.values().find(|v| v.count == 7).unwrap();
        let ids: Vec<&str> = v.samples.iter().map(|s| &*s.1).collect();
        // Rows are hourly and keep the hour's first request, as a scan does.
        assert_eq!(ids, ["a"]);
        assert_eq!(a.hours(), Some((1, 2)));
        assert_eq!(a.prune_before(2), 7);
        assert_eq!(a.len(), 1);
    }
}
