//! A partial's Parquet file: written a row group at a time, read back row group by row
//! group, checked against the checksum in its name.

use std::path::Path;

use anyhow::Context;
use polars::prelude::*;

use super::{HOUR, Key, Provenance, Rows, SCHEMA_VERSION, Value};
use crate::aggregate::Interner;
use crate::frame::{col, datetime_column};

fn joined<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items.map(|t| t.to_string()).collect::<Vec<_>>().join(";")
}

/// Rows per row group of a partial: building and encoding a group holds its columns (as
/// strings) and compressed pages in memory, so writing a whole table at once was the peak
/// memory of a first `--state` run; groups of this many rows keep that peak small and
/// independent of the table's size (measurements in benches/RESULTS.md).
const ROWS_PER_GROUP: usize = 1 << 16;

/// Rows `r` (a slice of a partial, in its order) as a data frame in the documented schema.
fn to_frame(rows: &Rows, r: &[(&Key, &Value)]) -> PolarsResult<DataFrame> {
    let n = r.len();
    // Every string was interned as UTF-8 (see `Rows::intern`).
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
    write_frames(path, rows, None)
}

/// Writes rows to a new Parquet file in partial schema 2 ([`SCHEMA_VERSION`]): the state's
/// columns after the provenance columns, `count` as a signed 64-bit integer (which every
/// engine reads; Spark reads unsigned ones as decimals).
pub fn write_mapped(path: &Path, rows: &Rows, provenance: &Provenance) -> anyhow::Result<()> {
    write_frames(path, rows, Some(provenance))
}

/// The provenance columns of schema 2 put before the state's, `count` made signed.
fn with_provenance(mut df: DataFrame, p: &Provenance) -> PolarsResult<DataFrame> {
    let n = df.height();
    let text = |name: &str, v: &str| col(name, std::iter::repeat_n(v, n));
    let count = df.column("count")?.cast(&DataType::Int64)?;
    df.with_column(count)?;
    let columns = [
        col("schema_version", std::iter::repeat_n(SCHEMA_VERSION, n)),
        text("config", &p.config),
        text("run", &p.run),
        text("file", &p.file),
        text("content", &p.content),
        col(
            "content_bytes",
            std::iter::repeat_n(i64::try_from(p.content_bytes).unwrap_or(i64::MAX), n),
        ),
    ];
    for (i, c) in columns.into_iter().enumerate() {
        df.insert_column(i, c)?;
    }
    Ok(df)
}

fn write_frames(path: &Path, rows: &Rows, provenance: Option<&Provenance>) -> anyhow::Result<()> {
    let mut r: Vec<(&Key, &Value)> = rows.map.iter().collect();
    r.sort_unstable_by_key(|(k, _)| (k.hour, **k));
    let mut file = crate::frame::create_buffered(path, &path.display().to_string())?;
    let failed = |e: PolarsError| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let frame = |group| {
        let df = to_frame(rows, group).and_then(|df| match provenance {
            Some(p) => with_provenance(df, p),
            None => Ok(df),
        });
        anyhow::Context::context(df, "cannot build a partial table")
    };
    let mut groups = r.chunks(ROWS_PER_GROUP);
    // An empty table still gets its schema written.
    let first = frame(groups.next().unwrap_or(&[]))?;
    let mut writer = ParquetWriter::new(&mut file)
        // Zstd: markedly smaller files than LZ4 for a little more time to write, and reading
        // costs the same (measurements in benches/RESULTS.md).
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
    rows.strings = read_into(path, false, |_, key, value, _| {
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
    read_into(path, false, |strings, key, value, _| {
        f(strings, &key, value)
    })
    .map(drop)
}

/// Where a mapped partial's row comes from; strings are ids in the rows' [`Interner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin {
    pub config: u32,
    pub run: u32,
    pub file: u32,
    /// `None`: rows an engine already counted once (no content to tell copies apart by).
    pub content: Option<u32>,
    pub content_bytes: Option<u64>,
}

/// [`read_each`] for a partial of schema 2 (`permlens map`'s, or an engine's reduction of
/// them), each row with its [`Origin`]. A file of another schema version is an error naming
/// the version.
pub fn read_mapped_each(
    path: &Path,
    mut f: impl FnMut(&Interner, Origin, &Key, Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    read_into(path, true, |strings, key, value, origin| {
        f(
            strings,
            origin.expect("mapped rows have an origin"),
            &key,
            value,
        )
    })
    .map(drop)
}

/// An [`Origin`] as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OriginText {
    pub config: String,
    pub run: String,
    pub file: String,
    pub content: Option<String>,
    pub content_bytes: Option<u64>,
}

/// The distinct origins of a mapped partial's rows.
pub fn origins(path: &Path) -> anyhow::Result<Vec<OriginText>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut last: Option<Origin> = None;
    read_into(path, true, |strings, _, _, origin| {
        let o = origin.expect("mapped rows have an origin");
        if last != Some(o) {
            last = Some(o);
            let text = |id: u32| String::from_utf8_lossy(strings.get(id)).into_owned();
            seen.insert(OriginText {
                config: text(o.config),
                run: text(o.run),
                file: text(o.file),
                content: o.content.map(text),
                content_bytes: o.content_bytes,
            });
        }
        Ok(())
    })?;
    Ok(seen.into_iter().collect())
}

/// Reads a partial row by row into `f`; returns the strings the rows' ids refer to.
fn read_into(
    path: &Path,
    mapped: bool,
    mut f: impl FnMut(&Interner, Key, Value, Option<Origin>) -> anyhow::Result<()>,
) -> anyhow::Result<Interner> {
    let bad = |what: &str| {
        if mapped {
            anyhow::anyhow!(
                "partial {}: {what} (expected permlens partial schema {SCHEMA_VERSION}, as `permlens map` writes it)",
                path.display()
            )
        } else {
            anyhow::anyhow!(
                "state partial {}: {what} (expected the permlens partial schema; the state directory is damaged)",
                path.display()
            )
        }
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
        decode(open, mapped, &bad, &mut f)
    }))
    .unwrap_or_else(|_| Err(bad("the Parquet reader failed on it")))
}

/// [`read_into`] once the file is trusted as far as it can be.
fn decode(
    open: impl Fn() -> anyhow::Result<std::fs::File>,
    mapped: bool,
    bad: &impl Fn(&str) -> anyhow::Error,
    f: &mut impl FnMut(&Interner, Key, Value, Option<Origin>) -> anyhow::Result<()>,
) -> anyhow::Result<Interner> {
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
        add_rows(&df, first_row, mapped, &mut strings, f, bad)?;
        first_row += n;
    }
    Ok(strings)
}

/// What a partial's rows are handed to, one at a time.
type RowFn<'a> = dyn FnMut(&Interner, Key, Value, Option<Origin>) -> anyhow::Result<()> + 'a;

/// Hands the rows of `df` (rows `first_row..` of a partial) to `f`, their strings interned
/// in `strings`; `bad` words an error.
fn add_rows(
    df: &DataFrame,
    first_row: usize,
    mapped: bool,
    strings: &mut Interner,
    f: &mut RowFn<'_>,
    bad: &dyn Fn(&str) -> anyhow::Error,
) -> anyhow::Result<()> {
    let columns = Columns::of(df, first_row, bad)?;
    let origins = if mapped {
        Some(OriginColumns::of(df, first_row, bad)?)
    } else {
        None
    };
    let mut kind = columns.kind.iter();
    let mut text = columns.text.each_ref().map(|c| c.iter());
    let mut numbers = columns.numbers.each_ref().map(|c| c.iter());
    let mut origin_text = origins
        .as_ref()
        .map(|o| o.text.each_ref().map(|c| c.iter()));
    let mut origin_bytes = origins.as_ref().map(|o| o.bytes.iter());
    for i in first_row..first_row + df.height() {
        let cells = Cells {
            kind: kind.next().flatten(),
            text: text.each_mut().map(|c| c.next().flatten()),
            numbers: numbers.each_mut().map(|c| c.next().flatten()),
        };
        let (key, value) = cells.row(i, strings, bad)?;
        let origin = match (&mut origin_text, &mut origin_bytes) {
            (Some(t), Some(b)) => {
                let [config, run, file, content] = t.each_mut().map(|c| c.next().flatten());
                let bytes = b.next().flatten();
                let (Some(config), Some(run), Some(file)) = (config, run, file) else {
                    return Err(bad(&format!("row {i}: no config, run or file")));
                };
                Some(Origin {
                    config: strings.intern(config.as_bytes()),
                    run: strings.intern(run.as_bytes()),
                    file: strings.intern(file.as_bytes()),
                    content: content.map(|c| strings.intern(c.as_bytes())),
                    content_bytes: match bytes {
                        Some(b) => Some(u64::try_from(b).map_err(|_| {
                            bad(&format!("row {i}: content_bytes {b}, expected 0 or more"))
                        })?),
                        None => None,
                    },
                })
            }
            _ => None,
        };
        f(strings, key, value, origin)?;
    }
    Ok(())
}

/// The provenance columns of schema 2, checked: the version first, so that a partial of
/// another version is named as such rather than by a missing column.
struct OriginColumns {
    /// `config`, `run`, `file`, `content`.
    text: [StringChunked; 4],
    bytes: Int64Chunked,
}

impl OriginColumns {
    fn of(
        df: &DataFrame,
        first_row: usize,
        bad: &dyn Fn(&str) -> anyhow::Error,
    ) -> anyhow::Result<OriginColumns> {
        let Ok(version) = df.column("schema_version") else {
            return Err(bad(
                "no schema_version column: a partial of schema 1 (a --state directory's, read with `analyze --state`) or not a permlens partial",
            ));
        };
        let version = whole_numbers(version, "schema_version", first_row, bad)?;
        if let Some(v) = version
            .iter()
            .flatten()
            .find(|v| *v != i64::from(SCHEMA_VERSION))
        {
            return Err(bad(&format!(
                "schema_version {v}: this permlens reads partial schema {SCHEMA_VERSION}; map the logs again with this version"
            )));
        }
        let column = |name: &str| {
            df.column(name)
                .map_err(|_| bad(&format!("no column {name}")))
        };
        let text = |name: &str| text_of(column(name)?, name, bad);
        let bytes = whole_numbers(column("content_bytes")?, "content_bytes", first_row, bad)?;
        Ok(OriginColumns {
            text: [
                text("config")?,
                text("run")?,
                text("file")?,
                text("content")?,
            ],
            bytes,
        })
    }
}

/// The columns of a row group, in the order [`Cells`] takes them.
struct Columns {
    kind: StringChunked,
    /// `user`, `user_id`, `method`, `route`, `path_shape`, `error_code`, `response_source`,
    /// `source_ip`, `sample_offsets`, `sample_request_ids`.
    text: [StringChunked; 10],
    /// `status`, `hour`, `count`, `first_seen`, `last_seen`.
    numbers: [Int64Chunked; 5],
}

impl Columns {
    /// The columns of `df`, checked in schema order: the first missing or mistyped one is
    /// the error.
    fn of(
        df: &DataFrame,
        first_row: usize,
        bad: &dyn Fn(&str) -> anyhow::Error,
    ) -> anyhow::Result<Columns> {
        let column = |name: &str| {
            df.column(name)
                .map_err(|_| bad(&format!("no column {name}")))
        };
        let text = |name: &str| text_of(column(name)?, name, bad);
        let ints = |name: &str| whole_numbers(column(name)?, name, first_row, bad);
        // Times are read as microseconds whatever unit an engine wrote them in (Spark's
        // INT96 and pandas' nanoseconds, DuckDB's microseconds, milliseconds): their raw
        // numbers in another unit would be read as dates centuries away.
        let times = |name: &str| -> anyhow::Result<Int64Chunked> {
            let c = column(name)?;
            let DataType::Datetime(_, zone) = c.dtype() else {
                return Err(bad(&format!(
                    "column {name} is {}, expected a timestamp",
                    c.dtype()
                )));
            };
            let micros = c
                .cast(&DataType::Datetime(TimeUnit::Microseconds, zone.clone()))
                .map_err(|e| bad(&format!("column {name}: {e}")))?;
            as_i64(&micros, name, first_row, bad)
        };
        let (kind, user, user_id, method) = (
            text("kind")?,
            text("user")?,
            text("user_id")?,
            text("method")?,
        );
        let (route, shape, status) = (text("route")?, text("path_shape")?, ints("status")?);
        let (error_code, source, source_ip) = (
            text("error_code")?,
            text("response_source")?,
            text("source_ip")?,
        );
        let (hour, count, first, last) = (
            times("hour")?,
            ints("count")?,
            times("first_seen")?,
            times("last_seen")?,
        );
        let (offsets, ids) = (text("sample_offsets")?, text("sample_request_ids")?);
        Ok(Columns {
            kind,
            text: [
                user, user_id, method, route, shape, error_code, source, source_ip, offsets, ids,
            ],
            numbers: [status, hour, count, first, last],
        })
    }
}

/// A text column; dictionary-encoded text (pandas' categoricals) is text too.
fn text_of(
    c: &Column,
    name: &str,
    bad: &dyn Fn(&str) -> anyhow::Error,
) -> anyhow::Result<StringChunked> {
    let not_text = || bad(&format!("column {name} is {}, expected text", c.dtype()));
    let c = match c.dtype() {
        DataType::String => c.clone(),
        DataType::Categorical(..) | DataType::Enum(..) => {
            c.cast(&DataType::String).map_err(|_| not_text())?
        }
        _ => return Err(not_text()),
    };
    Ok(c.str().map_err(|_| not_text())?.clone())
}

/// A column of whole numbers as 64-bit integers: integers of any width, or floating-point
/// or decimal numbers that are all whole (DuckDB writes `sum()` of integers as a double;
/// pandas writes an integer column with nulls as one). A fraction, an infinity or NaN is an
/// error naming the row (`first_row` is the file's row of the column's first).
fn whole_numbers(
    c: &Column,
    name: &str,
    first_row: usize,
    bad: &dyn Fn(&str) -> anyhow::Error,
) -> anyhow::Result<Int64Chunked> {
    let dtype = c.dtype();
    if dtype.is_float() || dtype.is_decimal() {
        let f = c
            .cast(&DataType::Float64)
            .map_err(|e| bad(&format!("column {name}: {e}")))?;
        let f = f
            .f64()
            .map_err(|_| bad(&format!("column {name} is not a number")))?;
        // Past 2^53 a double no longer holds every whole number.
        if let Some((i, v)) = f.iter().enumerate().find_map(|(i, v)| {
            v.filter(|v| !v.is_finite() || v.fract() != 0.0 || v.abs() > 9_007_199_254_740_992.0)
                .map(|v| (i, v))
        }) {
            return Err(bad(&format!(
                "row {}: column {name} holds {v}, expected whole numbers",
                first_row + i
            )));
        }
    } else if !dtype.is_integer() {
        return Err(bad(&format!(
            "column {name} is {dtype}, expected an integer"
        )));
    }
    as_i64(c, name, first_row, bad)
}

/// An integer, whole floating-point or timestamp column as 64-bit integers.
fn as_i64(
    c: &Column,
    name: &str,
    first_row: usize,
    bad: &dyn Fn(&str) -> anyhow::Error,
) -> anyhow::Result<Int64Chunked> {
    let wide = c
        .cast(&DataType::Int64)
        .map_err(|e| bad(&format!("column {name}: {e}")))?;
    let wide = wide
        .i64()
        .map_err(|_| bad(&format!("column {name} is not a number")))?
        .clone();
    // A value the cast made null (an unsigned one past i64::MAX) is an error, not a null.
    if wide.null_count() != c.null_count() {
        let i = (0..c.len())
            .find(|&i| wide.get(i).is_none() && !c.get(i).is_ok_and(|v| v.is_null()))
            .unwrap_or(0);
        return Err(bad(&format!(
            "row {}: column {name} holds a value out of range",
            first_row + i
        )));
    }
    Ok(wide)
}

/// The cells of one row, as in [`Columns`].
struct Cells<'a> {
    kind: Option<&'a str>,
    text: [Option<&'a str>; 10],
    numbers: [Option<i64>; 5],
}

impl Cells<'_> {
    /// Row `i` as a key and value, its strings interned in `strings`.
    fn row(
        self,
        i: usize,
        strings: &mut Interner,
        bad: &dyn Fn(&str) -> anyhow::Error,
    ) -> anyhow::Result<(Key, Value)> {
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
        ] = self.text;
        let [status, hour, count, first_seen, last_seen] = self.numbers;
        let unmatched = match self.kind {
            Some("usage") => false,
            Some("unmatched") => true,
            other => return Err(bad(&format!("row {i}: kind {other:?}"))),
        };
        let Some(target) = (if unmatched { shape } else { route }) else {
            return Err(bad(&format!("row {i}: no route or path_shape")));
        };
        if method.is_none_or(str::is_empty) {
            return Err(bad(&format!("row {i}: no method")));
        }
        let Some(h) = hour else {
            return Err(bad(&format!("row {i}: no hour")));
        };
        // Values no permlens writes are refused rather than clamped into a plausible row.
        let hour = u32::try_from(h / HOUR)
            .ok()
            .filter(|_| h >= 0 && h % HOUR == 0)
            .ok_or_else(|| {
                bad(&format!(
                    "row {i}: hour {h} µs is not the start of an hour after 1970"
                ))
            })?;
        let status = match status {
            None => 0,
            Some(s) => u16::try_from(s)
                .map_err(|_| bad(&format!("row {i}: status {s}, expected 0-65535 or null")))?,
        };
        let count = match count {
            Some(n) if n > 0 => n as u64,
            other => {
                let n = other.map_or("null".to_string(), |n| n.to_string());
                return Err(bad(&format!("row {i}: count {n}, expected at least 1")));
            }
        };
        if let (Some(first), Some(last)) = (first_seen, last_seen)
            && first > last
        {
            return Err(bad(&format!("row {i}: first_seen after last_seen")));
        }
        let mut s = |v: Option<&str>| strings.intern(v.unwrap_or_default().as_bytes());
        let key = Key {
            unmatched,
            user: s(user),
            method: s(method),
            target: s(Some(target)),
            status,
            error_code: s(error_code),
            source: s(source),
            source_ip: s(source_ip),
            hour,
        };
        let value = Value {
            user_id: s(user_id),
            count,
            first_seen,
            last_seen,
            samples: samples(offsets, ids),
        };
        Ok((key, value))
    }
}

/// The `;`-separated sample offsets and request ids of a row, paired; an offset that is not
/// a number drops its pair.
fn samples(offsets: Option<&str>, ids: Option<&str>) -> Vec<(u64, Box<str>)> {
    offsets
        .unwrap_or_default()
        .split(';')
        .filter(|o| !o.is_empty())
        .zip(ids.unwrap_or_default().split(';'))
        .filter_map(|(o, id)| Some((o.parse().ok()?, id.into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::row;
    use super::*;

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

    /// A mapped partial reads back with its rows and their origin; a state partial is not
    /// one (schema 1), and a state read of a mapped one still gets its rows.
    #[test]
    fn mapped_partials_round_trip_with_their_origin() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = Rows::default();
        row(&mut rows, 490_000, 3, &[(10, "r1"), (20, "r2")]);
        let p = dir.path().join("m.parquet");
        let provenance = Provenance {
            config: "cfg".into(),
            run: "run1".into(),
            file: "s3a://b/gw.log".into(),
            content: "abc-65536".into(),
            content_bytes: 1 << 40,
        };
        write_mapped(&p, &rows, &provenance).unwrap();
        let origins = origins(&p).unwrap();
        assert_eq!(
            origins,
            [OriginText {
                config: "cfg".into(),
                run: "run1".into(),
                file: "s3a://b/gw.log".into(),
                content: Some("abc-65536".into()),
                content_bytes: Some(1 << 40),
            }]
        );
        let mut back = Rows::default();
        read_mapped_each(&p, |strings, _, key, value| {
            let mut one = Rows {
                strings: strings.clone(),
                ..Rows::default()
            };
            one.map.insert(*key, value);
            back.absorb(one);
            Ok(())
        })
        .unwrap();
        assert_eq!(back, rows);
        assert_eq!(read(&p).unwrap(), rows);

        let state = dir.path().join("s.parquet");
        write(&state, &rows).unwrap();
        let e = origins_error(&state);
        assert!(e.contains("schema 1") && e.contains("s.parquet"), "{e}");
    }

    fn origins_error(p: &Path) -> String {
        format!("{:#}", origins(p).unwrap_err())
    }

    /// A mapped partial of `rows` as a frame, changed by `edit`, written back as another
    /// engine would have written it; what reading it gives.
    fn rewritten(
        rows: &Rows,
        edit: impl FnOnce(&mut DataFrame),
    ) -> (tempfile::TempDir, anyhow::Result<Rows>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.parquet");
        let provenance = Provenance {
            config: "cfg".into(),
            run: "run1".into(),
            file: "gw.log".into(),
            content: "abc-65536".into(),
            content_bytes: 100,
        };
        write_mapped(&p, rows, &provenance).unwrap();
        let mut df = ParquetReader::new(std::fs::File::open(&p).unwrap())
            .finish()
            .unwrap();
        edit(&mut df);
        let q = dir.path().join("edited.parquet");
        ParquetWriter::new(std::fs::File::create(&q).unwrap())
            .finish(&mut df)
            .unwrap();
        let mut back = Rows::default();
        let read = read_mapped_each(&q, |strings, _, key, value| {
            let mut one = Rows {
                strings: strings.clone(),
                ..Rows::default()
            };
            one.map.insert(*key, value);
            back.absorb(one);
            Ok(())
        })
        .map(|()| back);
        (dir, read)
    }

    fn cast(df: &mut DataFrame, name: &str, to: DataType) {
        let c = df.column(name).unwrap().cast(&to).unwrap();
        df.with_column(c).unwrap();
    }

    /// Regression: times in another unit than microseconds (Spark's INT96 and pandas'
    /// nanoseconds, milliseconds) were read as raw numbers, i.e. as microseconds.
    #[test]
    fn times_in_any_unit_and_integers_of_any_width_read_the_same() {
        let mut rows = Rows::default();
        row(&mut rows, 490_000, 3, &[(10, "r1"), (20, "r2")]);
        // Times a millisecond column holds exactly.
        for v in rows.map.values_mut() {
            v.first_seen = Some(490_000 * HOUR + 5_000);
            v.last_seen = Some(490_000 * HOUR + 9_000);
        }
        for unit in [TimeUnit::Nanoseconds, TimeUnit::Milliseconds] {
            for zone in [None, Some(TimeZone::UTC)] {
                let (_d, back) = rewritten(&rows, |df| {
                    for c in ["hour", "first_seen", "last_seen"] {
                        cast(df, c, DataType::Datetime(unit, zone.clone()));
                    }
                    cast(df, "count", DataType::Int32);
                    cast(df, "status", DataType::Int64);
                    cast(df, "schema_version", DataType::Int64);
                });
                assert_eq!(back.unwrap(), rows, "{unit:?} {zone:?}");
            }
        }
        // Other widths, whole doubles (DuckDB's sum), dictionary text (pandas' categoricals).
        let (_d, back) = rewritten(&rows, |df| {
            cast(df, "count", DataType::Float64);
            cast(df, "content_bytes", DataType::Float64);
            cast(df, "status", DataType::Int16);
            cast(df, "schema_version", DataType::UInt8);
            for c in ["kind", "user", "method"] {
                cast(df, c, DataType::from_categories(Categories::global()));
            }
        });
        assert_eq!(back.unwrap(), rows);
    }

    /// Values no permlens writes are refused with the row and what was expected, never
    /// clamped into a plausible row.
    #[test]
    fn implausible_values_are_refused_naming_the_row() {
        let mut rows = Rows::default();
        row(&mut rows, 490_000, 3, &[(10, "r1")]);
        let set = |name: &'static str, v: Column| {
            move |df: &mut DataFrame| {
                df.with_column(v.with_name(name.into())).unwrap();
            }
        };
        let hour = |us: i64| crate::frame::datetime_column("hour", vec![Some(us)]).unwrap();
        type Edit = Box<dyn FnOnce(&mut DataFrame)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(set("method", Column::new("".into(), [None::<&str>]))),
                "row 0: no method",
            ),
            (
                Box::new(set("count", Column::new("".into(), [-2i64]))),
                "count -2",
            ),
            (
                Box::new(set("count", Column::new("".into(), [0i64]))),
                "count 0",
            ),
            (
                Box::new(set("count", Column::new("".into(), [None::<i64>]))),
                "count null",
            ),
            (
                Box::new(set("count", Column::new("".into(), ["3"]))),
                "column count is str",
            ),
            (
                Box::new(set("count", Column::new("".into(), [1.5f64]))),
                "row 0: column count holds 1.5, expected whole numbers",
            ),
            (
                Box::new(set("count", Column::new("".into(), [u64::MAX]))),
                "row 0: column count holds a value out of range",
            ),
            (
                Box::new(set("count", Column::new("".into(), [f64::NAN]))),
                "expected whole numbers",
            ),
            (
                Box::new(set("status", Column::new("".into(), [70_000i64]))),
                "status 70000",
            ),
            (
                Box::new(set("status", Column::new("".into(), [-1i32]))),
                "status -1",
            ),
            (
                Box::new(set("hour", hour(-HOUR))),
                "not the start of an hour",
            ),
            (
                Box::new(set("hour", hour(490_000 * HOUR + 5))),
                "not the start of an hour",
            ),
            (
                Box::new(set("hour", Column::new("".into(), [490_000 * HOUR]))),
                "expected a timestamp",
            ),
            (
                Box::new(set("content_bytes", Column::new("".into(), [-1i64]))),
                "content_bytes -1",
            ),
            (
                Box::new(|df: &mut DataFrame| {
                    let first = df.column("first_seen").unwrap().clone();
                    let last = df.column("last_seen").unwrap().clone();
                    df.with_column(first.with_name("last_seen".into())).unwrap();
                    df.with_column(last.with_name("first_seen".into())).unwrap();
                }),
                "first_seen after last_seen",
            ),
        ];
        for (edit, want) in cases {
            let (_d, back) = rewritten(&rows, edit);
            let e = format!("{:#}", back.unwrap_err());
            assert!(
                e.contains(want) && e.contains("edited.parquet"),
                "{want}: {e}"
            );
        }
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
