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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use foldhash::HashMap;
use polars::prelude::*;

use super::rows::{HourKey, HourlyRows, SAMPLES_PER_HOURLY_ROW};
use crate::aggregate::{Interner, Position, Stats};
use crate::catalog::Catalog;
use crate::frame::{col, datetime_column};

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

impl Value {
    fn merge(&mut self, o: Value) {
        self.count += o.count;
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = match (self.last_seen, o.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.samples.extend(o.samples);
        self.samples.sort();
        self.samples.dedup();
        // Rows are hourly: like a scan, a merge keeps the hour's first request (a resumed
        // file's new lines in a stored hour must not add samples a one-shot run lacks).
        self.samples.truncate(SAMPLES_PER_HOURLY_ROW);
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
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub strings: Interner,
    pub map: HashMap<Key, Value>,
    /// The id of the empty string.
    empty: Option<u32>,
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
            Some(v) => v.merge(value),
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
            let key = Key {
                user: id(k.user),
                method: id(k.method),
                target: id(k.target),
                error_code: id(k.error_code),
                source: id(k.source),
                source_ip: id(k.source_ip),
                ..k
            };
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

/// Splits the rows a partitioned scan produced by input file, consuming the scan's aggregate
/// (its samples move, and its memory goes as the rows are built). Each string is interned
/// once per file (ids are mapped through tables), not once per row.
pub fn split_by_file(rows: HourlyRows, catalog: &Catalog) -> BTreeMap<u32, Rows> {
    let mut parts = rows.into_parts();
    // Every row of a user gets the id of the user's earliest request, over all parts: each
    // part only knows the earliest among the requests its worker read.
    let mut first_ids: HashMap<&[u8], (Position, &str)> = HashMap::default();
    for part in &parts {
        for (&u, (at, id)) in &part.user_ids {
            crate::aggregate::keep_earlier_id(&mut first_ids, part.users.get(u), (*at, &**id));
        }
    }
    let first_ids: HashMap<Box<[u8]>, Box<str>> = first_ids
        .into_iter()
        .map(|(user, (_, id))| (user.into(), id.into()))
        .collect();
    // Each file's table is sized once, for every row of every part: growing it by doubling
    // would hold the old table and one twice its size beside the parts' tables.
    let mut per_file: BTreeMap<u32, usize> = BTreeMap::new();
    for part in &parts {
        let files = part.usage.keys().map(|k| k.file);
        for file in files.chain(part.unmatched.keys().map(|k| k.file)) {
            *per_file.entry(file).or_default() += 1;
        }
    }
    let mut out: BTreeMap<u32, Rows> = BTreeMap::new();
    for (file, n) in per_file {
        out.entry(file).or_default().map.reserve(n);
    }
    // One part after the other (each worker's rows of a partitioned scan), the smallest
    // first, each freed once its rows are in: equal keys of two parts add up in
    // [`Rows::insert`].
    parts.sort_by_key(|p| p.usage.len());
    for part in parts {
        add_part(part, catalog, &first_ids, &mut out);
    }
    out
}

/// Adds the rows of one aggregate (without parts) to `out`, by file.
fn add_part(
    mut stats: Stats<HourKey>,
    catalog: &Catalog,
    first_ids: &HashMap<Box<[u8]>, Box<str>>,
    out: &mut BTreeMap<u32, Rows>,
) {
    let usage = std::mem::take(&mut stats.usage);
    let unmatched = std::mem::take(&mut stats.unmatched);
    let stats = &stats;
    // The ids of this part's users, looked up once each.
    let user_ids: Vec<Option<&str>> = (0..stats.users.len() as u32)
        .map(|u| first_ids.get(stats.users.get(u)).map(|id| &**id))
        .collect();
    /// Per file: the ids in its rows of this aggregate's strings, interned once each.
    struct Ids {
        users: Vec<Option<u32>>,
        codes: Vec<Option<u32>>,
        routes: Vec<Option<(u32, u32)>>,
        empty: u32,
    }
    let mut ids: BTreeMap<u32, Ids> = BTreeMap::new();
    fn target<'a>(
        out: &'a mut BTreeMap<u32, Rows>,
        ids: &'a mut BTreeMap<u32, Ids>,
        file: u32,
        stats: &Stats<HourKey>,
        catalog: &Catalog,
    ) -> (&'a mut Rows, &'a mut Ids) {
        let rows = out.entry(file).or_default();
        let ids = ids.entry(file).or_insert_with(|| Ids {
            users: vec![None; stats.users.len()],
            codes: vec![None; stats.codes.len()],
            routes: vec![None; catalog.routes().len()],
            empty: rows.empty_id(),
        });
        (rows, ids)
    }
    fn cached(slot: &mut Option<u32>, rows: &mut Rows, bytes: &[u8]) -> u32 {
        *slot.get_or_insert_with(|| rows.intern(bytes))
    }
    for (k, cell) in usage {
        let (rows, o) = target(out, &mut ids, k.file, stats, catalog);
        let route = catalog.route(k.row.route);
        let (method, route_id) = *o.routes[usize::from(k.row.route)].get_or_insert_with(|| {
            (
                rows.intern(route.method.as_str().as_bytes()),
                rows.intern(route.template.as_str().as_bytes()),
            )
        });
        let user = cached(
            &mut o.users[k.row.user as usize],
            rows,
            stats.users.get(k.row.user),
        );
        let mut code = |id: u32| cached(&mut o.codes[id as usize], rows, stats.codes.get(id));
        let key = Key {
            unmatched: false,
            user,
            method,
            target: route_id,
            status: k.row.status,
            error_code: code(k.row.error_code),
            source: code(k.row.source),
            source_ip: code(k.ip),
            hour: k.hour,
        };
        let user_id = match user_ids[k.row.user as usize] {
            Some(id) => rows.intern(id.as_bytes()),
            None => o.empty,
        };
        let value = Value {
            user_id,
            count: cell.count,
            first_seen: Some(cell.first_seen),
            last_seen: Some(cell.last_seen),
            samples: cell
                .samples
                .into_iter()
                .map(|s| (s.at.offset, s.request_id))
                .collect(),
        };
        rows.insert(key, value);
    }
    for (k, n) in unmatched {
        let (rows, o) = target(out, &mut ids, k.file, stats, catalog);
        let empty = o.empty;
        let key = Key {
            unmatched: true,
            user: empty,
            method: cached(
                &mut o.codes[k.row.method as usize],
                rows,
                stats.codes.get(k.row.method),
            ),
            target: rows.intern(stats.shapes.get(k.row.shape)),
            status: 0,
            error_code: empty,
            source: empty,
            source_ip: empty,
            hour: k.hour,
        };
        let value = Value {
            user_id: empty,
            count: n,
            first_seen: None,
            last_seen: None,
            samples: Vec::new(),
        };
        rows.insert(key, value);
    }
}

fn joined<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items.map(|t| t.to_string()).collect::<Vec<_>>().join(";")
}

/// Rows per row group of a partial: building and encoding a group holds its columns (as
/// strings) and compressed pages in memory, so a whole table at once was the peak of a
/// first `--state` run (~145 MB for 400k rows); a group of this size holds a few MB.
const ROWS_PER_GROUP: usize = 1 << 16;

/// Rows `r` (a slice of a partial, in its order) as a data frame in the documented schema.
fn to_frame(rows: &Rows, r: &[(&Key, &Value)]) -> PolarsResult<DataFrame> {
    let n = r.len();
    // Every string was interned as UTF-8 (see `Rows::intern_text`).
    let text = |id: u32| std::str::from_utf8(rows.strings.get(id)).unwrap_or("\u{FFFD}");
    let key = |f: fn(&Key) -> u32| r.iter().map(move |(k, _)| text(f(k)));
    DataFrame::new(
        n,
        vec![
            col(
                "kind",
                r.iter()
                    .map(|(k, _)| if k.unmatched { "unmatched" } else { "usage" }),
            ),
            col("user", key(|k| k.user)),
            col("user_id", r.iter().map(|(_, v)| text(v.user_id))),
            col("method", key(|k| k.method)),
            col(
                "route",
                r.iter()
                    .map(|(k, _)| (!k.unmatched).then(|| text(k.target))),
            ),
            col(
                "path_shape",
                r.iter().map(|(k, _)| k.unmatched.then(|| text(k.target))),
            ),
            col(
                "status",
                r.iter()
                    .map(|(k, _)| (k.status != 0).then_some(i32::from(k.status))),
            ),
            col("error_code", key(|k| k.error_code)),
            col("response_source", key(|k| k.source)),
            col("source_ip", key(|k| k.source_ip)),
            datetime_column(
                "hour",
                r.iter()
                    .map(|(k, _)| Some(i64::from(k.hour) * HOUR))
                    .collect(),
            )?,
            col("count", r.iter().map(|(_, v)| v.count)),
            datetime_column("first_seen", r.iter().map(|(_, v)| v.first_seen).collect())?,
            datetime_column("last_seen", r.iter().map(|(_, v)| v.last_seen).collect())?,
            col(
                "sample_offsets",
                r.iter().map(|(_, v)| joined(v.samples.iter().map(|s| s.0))),
            ),
            col(
                "sample_request_ids",
                r.iter()
                    .map(|(_, v)| joined(v.samples.iter().map(|s| &*s.1))),
            ),
        ],
    )
}

/// Writes rows to a new Parquet file, ordered by hour, one row group at a time, synced to
/// disk.
pub fn write(path: &Path, rows: &Rows) -> anyhow::Result<()> {
    let mut r: Vec<(&Key, &Value)> = rows.map.iter().collect();
    r.sort_unstable_by_key(|(k, _)| (k.hour, **k));
    let mut file = crate::frame::create_buffered(path, &path.display().to_string())?;
    let failed = |e: PolarsError| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let frame =
        |group| anyhow::Context::context(to_frame(rows, group), "cannot build a partial table");
    let mut groups = r.chunks(ROWS_PER_GROUP);
    // An empty table still gets its schema written.
    let first = frame(groups.next().unwrap_or(&[]))?;
    let mut writer = ParquetWriter::new(&mut file)
        // Zstd: 40% smaller than LZ4 for ~0.4 s more per 400k rows written; reading costs
        // the same.
        .with_compression(ParquetCompression::Zstd(None))
        .batched(first.schema())
        .map_err(failed)?;
    writer.write_batch(&first).map_err(failed)?;
    drop(first);
    for group in groups {
        writer.write_batch(&frame(group)?).map_err(failed)?;
    }
    writer.finish().map_err(failed)?;
    drop(writer);
    file.into_inner()
        .map_err(std::io::IntoInnerError::into_error)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The xxh3-128 of a file's bytes, in hex: the checksum a partial's name carries.
pub fn file_hash(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes)))
}

/// The checksum a partial's name carries (`<id>.g<gen>.<n>.h<hash>.parquet`), if any
/// (partials written before checksums have none).
fn named_hash(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?.strip_suffix(".parquet")?;
    let hash = name.rsplit('.').next()?.strip_prefix('h')?;
    (hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hash)
}

/// Reads a partial back. Any deviation from the schema is an error naming the file.
pub fn read(path: &Path) -> anyhow::Result<Rows> {
    let mut rows = Rows::default();
    rows.strings = read_into(path, |_, key, value| {
        rows.insert(key, value);
        Ok(())
    })?;
    Ok(rows)
}

/// Hands each row of a partial to `f` as it is read (one row group decoded at a time), with
/// the strings its ids refer to so far.
pub fn read_each(
    path: &Path,
    mut f: impl FnMut(&Interner, &Key, Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    read_into(path, |strings, key, value| f(strings, &key, value)).map(drop)
}

/// Reads a partial row by row into `f`; returns the strings the rows' ids refer to.
fn read_into(
    path: &Path,
    mut f: impl FnMut(&Interner, Key, Value) -> anyhow::Result<()>,
) -> anyhow::Result<Interner> {
    let bad = |what: &str| {
        anyhow::anyhow!(
            "state partial {}: {what} (expected the permlens partial schema; the state directory is damaged)",
            path.display()
        )
    };
    let open =
        || std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()));
    if let Some(want) = named_hash(path) {
        let got = file_hash(path)?;
        if got != want {
            return Err(bad("its content does not match the checksum in its name"));
        }
    }
    // The Parquet reader must not take the run down on a file damaged in a way the checksum
    // could not see (a partial written before checksums): a panic in it is this file's error.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode(path, open, &bad, &mut f)
    }))
    .unwrap_or_else(|_| Err(bad("the Parquet reader failed on it")))
}

/// [`read_into`] once the file is trusted as far as it can be.
fn decode(
    path: &Path,
    open: impl Fn() -> anyhow::Result<std::fs::File>,
    bad: &impl Fn(&str) -> anyhow::Error,
    f: &mut impl FnMut(&Interner, Key, Value) -> anyhow::Result<()>,
) -> anyhow::Result<Interner> {
    let _ = path;
    let unreadable = |e: PolarsError| bad(&format!("not readable as Parquet ({e})"));
    let metadata = ParquetReader::new(open()?)
        .get_metadata()
        .map_err(unreadable)?
        .clone();
    let groups: Vec<usize> = metadata.row_groups.iter().map(|g| g.num_rows()).collect();
    let mut strings = Interner::default();
    // One row group at a time, each folded into the rows before the next is decoded: a whole
    // table decoded at once (in parallel, as polars does for files of several groups) held
    // it beside the rows at up to twice its size. A file without groups still has its
    // schema checked.
    let mut first_row = 0;
    for n in groups.iter().copied().chain(groups.is_empty().then_some(0)) {
        let mut reader = ParquetReader::new(open()?)
            .read_parallel(ParallelStrategy::Columns)
            .with_slice((!groups.is_empty()).then_some((first_row, n)));
        reader.set_metadata(metadata.clone());
        let df = reader.finish().map_err(unreadable)?;
        add_rows(&df, first_row, &mut strings, f, bad)?;
        first_row += n;
    }
    Ok(strings)
}

/// Hands the rows of `df` (rows `first_row..` of a partial) to `f`, their strings interned
/// in `strings`; `bad` words an error.
fn add_rows(
    df: &DataFrame,
    first_row: usize,
    strings: &mut Interner,
    f: &mut dyn FnMut(&Interner, Key, Value) -> anyhow::Result<()>,
    bad: &dyn Fn(&str) -> anyhow::Error,
) -> anyhow::Result<()> {
    let column = |name: &str| {
        df.column(name)
            .map_err(|_| bad(&format!("no column {name}")))
    };
    let text_column = |name: &str| -> anyhow::Result<StringChunked> {
        let c = column(name)?;
        Ok(c.str()
            .map_err(|_| bad(&format!("column {name} is not text")))?
            .clone())
    };
    let ints = |name: &str| -> anyhow::Result<Int64Chunked> {
        let c = column(name)?
            .cast(&DataType::Int64)
            .map_err(|_| bad(&format!("column {name} is not a number or time")))?;
        Ok(c.i64()
            .map_err(|_| bad(&format!("column {name} is not a number")))?
            .clone())
    };
    let (kind, user, user_id, method) = (
        text_column("kind")?,
        text_column("user")?,
        text_column("user_id")?,
        text_column("method")?,
    );
    let (route, shape, status) = (
        text_column("route")?,
        text_column("path_shape")?,
        ints("status")?,
    );
    let (error_code, source, source_ip) = (
        text_column("error_code")?,
        text_column("response_source")?,
        text_column("source_ip")?,
    );
    let (hour, count, first, last) = (
        ints("hour")?,
        ints("count")?,
        ints("first_seen")?,
        ints("last_seen")?,
    );
    let (offsets, ids) = (
        text_column("sample_offsets")?,
        text_column("sample_request_ids")?,
    );
    let mut kind = kind.iter();
    let mut text = [
        user.iter(),
        user_id.iter(),
        method.iter(),
        route.iter(),
        shape.iter(),
        error_code.iter(),
        source.iter(),
        source_ip.iter(),
        offsets.iter(),
        ids.iter(),
    ];
    let mut numbers = [
        status.iter(),
        hour.iter(),
        count.iter(),
        first.iter(),
        last.iter(),
    ];
    for i in first_row..first_row + df.height() {
        let [
            user,
            user_id,
            method,
            route,
            shape,
            error_code,
            source,
            source_ip,
            offsets,
            ids,
        ] = text.each_mut().map(|c| c.next().flatten());
        let [status, hour, count, first_seen, last_seen] =
            numbers.each_mut().map(|c| c.next().flatten());
        let unmatched = match kind.next().flatten() {
            Some("usage") => false,
            Some("unmatched") => true,
            other => return Err(bad(&format!("row {i}: kind {other:?}"))),
        };
        let Some(target) = (if unmatched { shape } else { route }) else {
            return Err(bad(&format!("row {i}: no route or path_shape")));
        };
        let Some(h) = hour else {
            return Err(bad(&format!("row {i}: no hour")));
        };
        let mut s = |v: Option<&str>| strings.intern(v.unwrap_or_default().as_bytes());
        let key = Key {
            unmatched,
            user: s(user),
            method: s(method),
            target: s(Some(target)),
            status: status.unwrap_or(0).clamp(0, i64::from(u16::MAX)) as u16,
            error_code: s(error_code),
            source: s(source),
            source_ip: s(source_ip),
            hour: (h.max(0) / HOUR) as u32,
        };
        let user_id = s(user_id);
        let samples: Vec<(u64, Box<str>)> = offsets
            .unwrap_or_default()
            .split(';')
            .filter(|o| !o.is_empty())
            .zip(ids.unwrap_or_default().split(';'))
            .filter_map(|(o, id)| Some((o.parse().ok()?, id.into())))
            .collect();
        let value = Value {
            user_id,
            count: count.unwrap_or(0).max(0) as u64,
            first_seen,
            last_seen,
            samples,
        };
        f(strings, key, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rows: &mut Rows, hour: u32, count: u64, samples: &[(u64, &str)]) {
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
    fn rows_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = Rows::default();
        row(&mut rows, 490_000, 3, &[(10, "r1"), (20, "r2")]);
        let empty = rows.empty_id();
        let key = Key {
            unmatched: true,
            user: empty,
            method: rows.intern(b"POST"),
            target: rows.intern(b"/v2/orders/{id}/x"),
            status: 0,
            error_code: empty,
            source: empty,
            source_ip: empty,
            hour: 490_001,
        };
        rows.insert(
            key,
            Value {
                user_id: empty,
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

    /// Tables are written a row group at a time: one of several groups, and an empty one,
    /// read back whole and in hour order.
    #[test]
    fn tables_of_several_groups_and_empty_ones_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = Rows::default();
        let n = ROWS_PER_GROUP as u32 * 2 + 3;
        for hour in (0..n).rev() {
            row(&mut rows, 400_000 + hour, 1, &[(u64::from(hour), "r")]);
        }
        let p = dir.path().join("p.parquet");
        write(&p, &rows).unwrap();
        assert_eq!(read(&p).unwrap(), rows);
        let hours = ParquetReader::new(std::fs::File::open(&p).unwrap())
            .finish()
            .unwrap()
            .column("hour")
            .unwrap()
            .as_materialized_series()
            .clone();
        assert!(hours.is_sorted(Default::default()).unwrap());

        let p = dir.path().join("empty.parquet");
        write(&p, &Rows::default()).unwrap();
        assert_eq!(read(&p).unwrap(), Rows::default());
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

    #[test]
    fn a_damaged_partial_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.parquet");
        std::fs::write(&p, b"not parquet").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("bad.parquet") && e.contains("damaged"), "{e}");
    }
}
