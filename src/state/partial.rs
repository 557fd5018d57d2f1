//! Partial aggregates: what one input's content contributed, per hour, independent of any
//! snapshot, stored as one Parquet file per content entry.
//!
//! Schema (one row per kind x user x route x status x error code x response source x client
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

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use polars::prelude::*;

use crate::aggregate::{NO_IP, SAMPLES_PER_ROW, Stats};
use crate::catalog::Catalog;
use crate::report::tables::{col, datetime_column};

pub const HOUR: i64 = 3_600_000_000;

/// What identifies a partial row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    /// `false` = usage, `true` = unmatched.
    pub unmatched: bool,
    pub user: String,
    pub method: String,
    /// Route template (usage) or path shape (unmatched).
    pub target: String,
    pub status: u16,
    pub error_code: String,
    pub source: String,
    pub source_ip: String,
    /// Hours since the epoch.
    pub hour: u32,
}

/// Counts and evidence of a partial row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowValue {
    pub user_id: String,
    pub count: u64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// (offset in the content, request id), earliest first.
    pub samples: Vec<(u64, String)>,
}

impl RowValue {
    pub fn merge(&mut self, o: RowValue) {
        self.count += o.count;
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = match (self.last_seen, o.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if self.user_id.is_empty() {
            self.user_id = o.user_id;
        }
        self.samples.extend(o.samples);
        self.samples.sort();
        self.samples.dedup();
        self.samples.truncate(SAMPLES_PER_ROW);
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The rows of one content entry.
pub type Rows = BTreeMap<RowKey, RowValue>;

/// Splits the rows a partitioned scan produced by input file.
pub fn split_by_file(stats: &Stats, catalog: &Catalog) -> BTreeMap<u32, Rows> {
    let mut out: BTreeMap<u32, Rows> = BTreeMap::new();
    for (k, cell) in &stats.usage {
        let route = catalog.route(k.route);
        let key = RowKey {
            unmatched: false,
            user: stats.users.text(k.user),
            method: route.method.as_str().to_owned(),
            target: route.template.as_str().to_owned(),
            status: k.status,
            error_code: stats.codes.text(k.error_code),
            source: stats.codes.text(k.source),
            source_ip: if k.ip == NO_IP {
                String::new()
            } else {
                stats.codes.text(k.ip)
            },
            hour: k.context,
        };
        let value = RowValue {
            user_id: stats
                .user_ids
                .get(&k.user)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            count: cell.count,
            first_seen: Some(cell.first_seen),
            last_seen: Some(cell.last_seen),
            samples: cell
                .samples
                .iter()
                .map(|s| (s.at.offset, s.request_id.to_string()))
                .collect(),
        };
        insert(out.entry(k.file).or_default(), key, value);
    }
    for (k, &n) in &stats.unmatched {
        let key = RowKey {
            unmatched: true,
            user: String::new(),
            method: stats.codes.text(k.method),
            target: stats.shapes.text(k.shape),
            status: 0,
            error_code: String::new(),
            source: String::new(),
            source_ip: String::new(),
            hour: k.hour,
        };
        let value = RowValue {
            user_id: String::new(),
            count: n,
            first_seen: None,
            last_seen: None,
            samples: Vec::new(),
        };
        insert(out.entry(k.file).or_default(), key, value);
    }
    out
}

pub fn insert(rows: &mut Rows, key: RowKey, value: RowValue) {
    match rows.get_mut(&key) {
        Some(v) => v.merge(value),
        None => {
            rows.insert(key, value);
        }
    }
}

/// Folds `more` into `rows`.
pub fn merge(rows: &mut Rows, more: Rows) {
    for (k, v) in more {
        insert(rows, k, v);
    }
}

/// The time span of the rows: (earliest hour, latest hour).
pub fn hours(rows: &Rows) -> Option<(u32, u32)> {
    let lo = rows.keys().map(|k| k.hour).min()?;
    let hi = rows.keys().map(|k| k.hour).max()?;
    Some((lo, hi))
}

fn joined<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items.map(|t| t.to_string()).collect::<Vec<_>>().join(";")
}

/// The rows as a data frame in the documented schema.
pub fn to_frame(rows: &Rows) -> PolarsResult<DataFrame> {
    let n = rows.len();
    let text =
        |f: for<'a> fn(&'a RowKey, &'a RowValue) -> &'a str| rows.iter().map(move |(k, v)| f(k, v));
    DataFrame::new(
        n,
        vec![
            col(
                "kind",
                rows.keys()
                    .map(|k| if k.unmatched { "unmatched" } else { "usage" }),
            ),
            col("user", text(|k, _| &k.user)),
            col("user_id", text(|_, v| &v.user_id)),
            col("method", text(|k, _| &k.method)),
            col(
                "route",
                rows.keys().map(|k| (!k.unmatched).then_some(&*k.target)),
            ),
            col(
                "path_shape",
                rows.keys().map(|k| k.unmatched.then_some(&*k.target)),
            ),
            col(
                "status",
                rows.keys()
                    .map(|k| (k.status != 0).then_some(i32::from(k.status))),
            ),
            col("error_code", text(|k, _| &k.error_code)),
            col("response_source", text(|k, _| &k.source)),
            col("source_ip", text(|k, _| &k.source_ip)),
            datetime_column(
                "hour",
                rows.keys()
                    .map(|k| Some(i64::from(k.hour) * HOUR))
                    .collect(),
            )?,
            col("count", rows.values().map(|v| v.count)),
            datetime_column("first_seen", rows.values().map(|v| v.first_seen).collect())?,
            datetime_column("last_seen", rows.values().map(|v| v.last_seen).collect())?,
            col(
                "sample_offsets",
                rows.values().map(|v| joined(v.samples.iter().map(|s| s.0))),
            ),
            col(
                "sample_request_ids",
                rows.values()
                    .map(|v| joined(v.samples.iter().map(|s| s.1.as_str()))),
            ),
        ],
    )
}

/// Writes rows to a new Parquet file, synced to disk.
pub fn write(path: &Path, rows: &Rows) -> anyhow::Result<()> {
    let mut df = anyhow::Context::context(to_frame(rows), "cannot build a partial table")?;
    let mut file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    ParquetWriter::new(&mut file)
        .finish(&mut df)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Reads a partial back. Any deviation from the schema is an error naming the file.
pub fn read(path: &Path) -> anyhow::Result<Rows> {
    let bad = |what: &str| {
        anyhow::anyhow!(
            "state partial {}: {what} (expected the permlens partial schema; the state directory is damaged)",
            path.display()
        )
    };
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| bad(&format!("not readable as Parquet ({e})")))?;
    let column = |name: &str| {
        df.column(name)
            .map_err(|_| bad(&format!("no column {name}")))
    };
    let strings = |name: &str| -> anyhow::Result<Vec<Option<String>>> {
        let c = column(name)?;
        let s = c
            .str()
            .map_err(|_| bad(&format!("column {name} is not text")))?;
        Ok(s.iter().map(|v| v.map(str::to_owned)).collect())
    };
    let ints = |name: &str| -> anyhow::Result<Vec<Option<i64>>> {
        let c = column(name)?
            .cast(&DataType::Int64)
            .map_err(|_| bad(&format!("column {name} is not a number or time")))?;
        let s = c
            .i64()
            .map_err(|_| bad(&format!("column {name} is not a number")))?;
        Ok(s.iter().collect())
    };
    let kind = strings("kind")?;
    let user = strings("user")?;
    let user_id = strings("user_id")?;
    let method = strings("method")?;
    let route = strings("route")?;
    let shape = strings("path_shape")?;
    let status = ints("status")?;
    let error_code = strings("error_code")?;
    let source = strings("response_source")?;
    let source_ip = strings("source_ip")?;
    let hour = ints("hour")?;
    let count = ints("count")?;
    let first = ints("first_seen")?;
    let last = ints("last_seen")?;
    let offsets = strings("sample_offsets")?;
    let ids = strings("sample_request_ids")?;
    let mut rows = Rows::new();
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    for i in 0..df.height() {
        let unmatched = match kind[i].as_deref() {
            Some("usage") => false,
            Some("unmatched") => true,
            other => return Err(bad(&format!("row {i}: kind {other:?}"))),
        };
        let target = if unmatched { &shape[i] } else { &route[i] };
        let Some(target) = target.clone() else {
            return Err(bad(&format!("row {i}: no route or path_shape")));
        };
        let Some(h) = hour[i] else {
            return Err(bad(&format!("row {i}: no hour")));
        };
        let samples: Vec<(u64, String)> = s(&offsets[i])
            .split(';')
            .filter(|o| !o.is_empty())
            .zip(s(&ids[i]).split(';'))
            .filter_map(|(o, id)| Some((o.parse().ok()?, id.to_owned())))
            .collect();
        let key = RowKey {
            unmatched,
            user: s(&user[i]),
            method: s(&method[i]),
            target,
            status: status[i].unwrap_or(0).clamp(0, i64::from(u16::MAX)) as u16,
            error_code: s(&error_code[i]),
            source: s(&source[i]),
            source_ip: s(&source_ip[i]),
            hour: (h.max(0) / HOUR) as u32,
        };
        let value = RowValue {
            user_id: s(&user_id[i]),
            count: count[i].unwrap_or(0).max(0) as u64,
            first_seen: first[i],
            last_seen: last[i],
            samples,
        };
        insert(&mut rows, key, value);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour: u32, count: u64, samples: &[(u64, &str)]) -> (RowKey, RowValue) {
        (
            RowKey {
                unmatched: false,
                user: "alice".into(),
                method: "GET".into(),
                target: "/v2/orders/customer-orders".into(),
                status: 200,
                error_code: String::new(),
                source: String::new(),
                source_ip: "10.0.0.1".into(),
                hour,
            },
            RowValue {
                user_id: "u1".into(),
                count,
                first_seen: Some(i64::from(hour) * HOUR + 5),
                last_seen: Some(i64::from(hour) * HOUR + 9),
                samples: samples.iter().map(|(o, s)| (*o, s.to_string())).collect(),
            },
        )
    }

    #[test]
    fn rows_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = Rows::new();
        let (k, v) = row(490_000, 3, &[(10, "r1"), (20, "r2")]);
        rows.insert(k, v);
        rows.insert(
            RowKey {
                unmatched: true,
                user: String::new(),
                method: "POST".into(),
                target: "/v2/orders/{id}/x".into(),
                status: 0,
                error_code: String::new(),
                source: String::new(),
                source_ip: String::new(),
                hour: 490_001,
            },
            RowValue {
                user_id: String::new(),
                count: 7,
                first_seen: None,
                last_seen: None,
                samples: vec![],
            },
        );
        let p = dir.path().join("p.parquet");
        write(&p, &rows).unwrap();
        assert_eq!(read(&p).unwrap(), rows);
    }

    #[test]
    fn merging_keeps_the_earliest_samples_and_sums() {
        let (k, mut a) = row(1, 2, &[(30, "c"), (40, "d")]);
        let (_, b) = row(1, 5, &[(10, "a"), (20, "b"), (50, "e")]);
        a.merge(b);
        assert_eq!(a.count, 7);
        assert_eq!(
            a.samples,
            vec![(10, "a".into()), (20, "b".into()), (30, "c".into())]
        );
        let mut rows = Rows::new();
        insert(&mut rows, k.clone(), a.clone());
        assert_eq!(hours(&rows), Some((1, 1)));
    }

    #[test]
    fn a_damaged_partial_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.parquet");
        std::fs::write(&p, b"not parquet").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("bad.parquet") && e.contains("damaged"), "{e}");
    }
}
