//! Small helpers for building polars frames and writing them to files, shared by the report
//! and the `--state` partials.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;
use polars::prelude::*;

/// Microseconds since the epoch -> a UTC datetime column.
pub fn datetime_column(name: &str, values: Vec<Option<i64>>) -> PolarsResult<Column> {
    let micros = Int64Chunked::from_iter_options(name.into(), values.into_iter());
    Ok(micros
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column())
}

/// A column from an iterator of values (strings, numbers, options of them).
pub fn col<V, P: ?Sized>(name: &str, values: impl Iterator<Item = V>) -> Column
where
    Series: NamedFrom<Vec<V>, P>,
{
    Column::new(name.into(), values.collect::<Vec<V>>())
}

/// A new file behind a write buffer. polars' Parquet writer writes the file's metadata a
/// field at a time, often one byte per `write`: unbuffered, each of those is a system call.
pub fn create_buffered(path: &Path, name: &str) -> anyhow::Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("cannot create {name}"))?;
    Ok(BufWriter::new(file))
}
