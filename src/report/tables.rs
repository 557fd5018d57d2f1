//! The usage-side tables, built from the merged aggregates at the reporting edge.

use std::borrow::Cow;

use polars::prelude::*;
use rayon::prelude::*;

use crate::aggregate::{RowSum, Sample, Stats, StatusClass};
use crate::catalog::{Catalog, RouteId};
use crate::frame::{col, datetime_column};

/// One usage row: user x route x status (x error code x response source), contexts merged.
/// Texts and samples are borrowed from the aggregate.
#[derive(Debug, Clone)]
pub struct UsageRow<'s> {
    pub user: Cow<'s, str>,
    pub user_id: Option<&'s str>,
    pub route: RouteId,
    pub status: u16,
    pub error_code: Cow<'s, str>,
    pub source: Cow<'s, str>,
    pub sum: RowSum<'s>,
}

/// Usage rows in a stable order (user, route, status, error code, source). Rows are grouped
/// by interned ids (context classes merged) by sorting references, ordered by the text of the
/// ids (ranked once), and only then turned into text.
pub fn usage_rows(stats: &Stats) -> Vec<UsageRow<'_>> {
    let users = text_ranks(&stats.users);
    let codes = text_ranks(&stats.codes);
    // The order (user text, route, status, error code text, source text) packed into words
    // once per entry, so that sorting compares integers; equal words make one row.
    let mut entries: Vec<_> = stats
        .usage
        .iter()
        .map(|(k, cell)| {
            let order = (
                (u64::from(users[k.user as usize]) << 32) | u64::from(k.route),
                (u64::from(k.status) << 32) | u64::from(codes[k.error_code as usize]),
                codes[k.source as usize],
            );
            (order, k, cell)
        })
        .collect();
    // On the pool's threads: without a snapshot this is the report's work after the scan.
    entries.par_sort_unstable_by_key(|&(order, _, _)| order);
    entries
        .par_chunk_by(|a, b| a.0 == b.0)
        .map(|group| {
            let (_, k, first) = group[0];
            let mut sum = RowSum::of(first);
            for (_, _, other) in &group[1..] {
                sum.add(other);
            }
            UsageRow {
                user: String::from_utf8_lossy(stats.users.get(k.user)),
                user_id: stats.user_ids.get(&k.user).map(|(_, id)| &**id),
                route: k.route,
                status: k.status,
                error_code: String::from_utf8_lossy(stats.codes.get(k.error_code)),
                source: String::from_utf8_lossy(stats.codes.get(k.source)),
                sum,
            }
        })
        .collect()
}

/// The position of every interned string in byte order.
fn text_ranks(strings: &crate::aggregate::Interner) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..strings.len() as u32).collect();
    ids.sort_unstable_by(|&a, &b| strings.get(a).cmp(strings.get(b)));
    let mut ranks = vec![0u32; ids.len()];
    for (rank, id) in ids.into_iter().enumerate() {
        ranks[id as usize] = rank as u32;
    }
    ranks
}

/// Empty strings become nulls, without copying.
pub fn opt_str(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The kept request ids of each row, `;`-separated, as a column.
pub fn samples_column<'c, S>(name: &str, rows: impl ExactSizeIterator<Item = S>) -> Column
where
    S: IntoIterator<Item = &'c Sample>,
{
    let mut out = StringChunkedBuilder::new(name.into(), rows.len());
    let mut text = String::new();
    for samples in rows {
        text.clear();
        for (i, s) in samples.into_iter().enumerate() {
            if i > 0 {
                text.push(';');
            }
            text.push_str(&s.request_id);
        }
        out.append_value(&text);
    }
    out.finish().into_column()
}

/// `usage`: user x route x status, catalog routes only.
pub fn usage(stats: &Stats, catalog: &Catalog) -> PolarsResult<DataFrame> {
    let rows = usage_rows(stats);
    let route = |r: &UsageRow| catalog.route(r.route);
    let n = rows.len();
    // Columns are built in two halves at once: without a snapshot this table is all the
    // report's work after the scan, and the other thread would wait.
    let (mut columns, rest) = rayon::join(
        || {
            vec![
                col("user", rows.iter().map(|r| &*r.user)),
                col("user_id", rows.iter().map(|r| r.user_id)),
                col("method", rows.iter().map(|r| route(r).method.as_str())),
                col("route", rows.iter().map(|r| route(r).template.as_str())),
                col("api", rows.iter().map(|r| route(r).api.as_str())),
                col(
                    "permission",
                    rows.iter().map(|r| route(r).permission.as_str()),
                ),
                col(
                    "status",
                    rows.iter()
                        .map(|r| (r.status != 0).then_some(i32::from(r.status))),
                ),
                col(
                    "outcome",
                    rows.iter()
                        .map(|r| StatusClass::of_status(r.status).as_str()),
                ),
            ]
        },
        || -> PolarsResult<Vec<Column>> {
            Ok(vec![
                col("error_code", rows.iter().map(|r| opt_str(&r.error_code))),
                col("response_source", rows.iter().map(|r| opt_str(&r.source))),
                col("count", rows.iter().map(|r| r.sum.count)),
                datetime_column(
                    "first_seen",
                    rows.iter().map(|r| Some(r.sum.first_seen)).collect(),
                )?,
                datetime_column(
                    "last_seen",
                    rows.iter().map(|r| Some(r.sum.last_seen)).collect(),
                )?,
                samples_column("sample_request_ids", rows.iter().map(|r| r.sum.samples())),
            ])
        },
    );
    columns.extend(rest?);
    DataFrame::new(n, columns)
}

/// `unmatched`: method x path shape of requests to the service that match no route.
pub fn unmatched(stats: &Stats) -> PolarsResult<DataFrame> {
    let mut rows: Vec<(String, String, u64)> = stats
        .unmatched
        .iter()
        .map(|(k, &n)| (stats.codes.text(k.method), stats.shapes.text(k.shape), n))
        .collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    DataFrame::new(
        rows.len(),
        vec![
            col("method", rows.iter().map(|r| r.0.clone())),
            col("path_shape", rows.iter().map(|r| r.1.clone())),
            col("count", rows.iter().map(|r| r.2)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Observation, Position};
    use proptest::prelude::*;

    /// (user, route, status, error code, source, context, time) of one request.
    type Req = (u8, u16, u16, u8, u8, u32, i64);

    /// (user, route, status, error code, source): a row's key, as text.
    type Key = (String, u16, u16, String, String);

    const USERS: [&str; 5] = ["zoe", "ann", "Bob", "", "\u{e9}va"];
    const CODES: [&str; 4] = ["", "CBC.0151", "APIG.0302", "BSS.403"];
    const SOURCES: [&str; 3] = ["", "local", "remote"];
    const STATUSES: [u16; 4] = [200, 403, 0, 500];

    fn key_of(&(user, route, status, code, source, _, _): &Req) -> Key {
        (
            USERS[usize::from(user)].to_owned(),
            route,
            STATUSES[usize::from(status)],
            CODES[usize::from(code)].to_owned(),
            SOURCES[usize::from(source)].to_owned(),
        )
    }

    fn stats_of(reqs: &[Req]) -> Stats {
        let mut stats = Stats::default();
        for (i, r) in reqs.iter().enumerate() {
            let (user, route, status, code, source) = key_of(r);
            let id = format!("r{i}");
            stats.observe(&Observation {
                user: user.as_bytes(),
                user_id: b"",
                route,
                status,
                error_code: code.as_bytes(),
                source: source.as_bytes(),
                context: r.5,
                time: r.6,
                request_id: id.as_bytes(),
                source_ip: None,
                source_ip_raw: b"",
                at: Position {
                    file: 0,
                    offset: i as u64 * 100,
                },
            });
        }
        stats
    }

    /// A row as its key, count, first and last time, and sample ids.
    fn flat(rows: Vec<UsageRow<'_>>) -> Vec<(Key, u64, i64, i64, Vec<String>)> {
        rows.into_iter()
            .map(|r| {
                let key = (
                    r.user.into_owned(),
                    r.route,
                    r.status,
                    r.error_code.into_owned(),
                    r.source.into_owned(),
                );
                let samples = r.sum.samples().map(|s| s.request_id.to_string()).collect();
                (key, r.sum.count, r.sum.first_seen, r.sum.last_seen, samples)
            })
            .collect()
    }

    /// The plain definition: one row per key, context classes merged, in the order of the
    /// key's texts and numbers.
    fn reference(reqs: &[Req]) -> Vec<(Key, u64, i64, i64)> {
        let mut rows: std::collections::BTreeMap<Key, (u64, i64, i64)> = Default::default();
        for r in reqs {
            let row = rows.entry(key_of(r)).or_insert((0, i64::MAX, i64::MIN));
            row.0 += 1;
            row.1 = row.1.min(r.6);
            row.2 = row.2.max(r.6);
        }
        rows.into_iter()
            .map(|(k, (n, a, b))| (k, n, a, b))
            .collect()
    }

    proptest! {
        /// Rows sorted and grouped on four threads are the plain definition's, in its order,
        /// and the same as on one thread (samples included).
        #[test]
        fn usage_rows_on_many_threads_are_the_plain_grouping(
            reqs in prop::collection::vec(
                (0u8..5, 0u16..5, 0u16..4, 0u8..4, 0u8..3, 0u32..3, 0i64..1000),
                0..300,
            )
        ) {
            let stats = stats_of(&reqs);
            let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
            let four = pool(4).install(|| flat(usage_rows(&stats)));
            let one = pool(1).install(|| flat(usage_rows(&stats)));
            prop_assert_eq!(&four, &one);
            let got: Vec<_> = four.into_iter().map(|(k, n, a, b, _)| (k, n, a, b)).collect();
            prop_assert_eq!(got, reference(&reqs));
        }
    }

    #[test]
    fn datetimes_are_utc() {
        let c = datetime_column("t", vec![Some(1), None]).unwrap();
        assert_eq!(
            c.dtype(),
            &DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        );
        let mut df = DataFrame::new(2, vec![c]).unwrap();
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
        // Parquet stores them as isAdjustedToUTC timestamps; polars without its `timezones`
        // feature reads them back without a zone name, but as the same instants.
        let back = ParquetReader::new(std::io::Cursor::new(buf))
            .finish()
            .unwrap();
        let t = back.column("t").unwrap();
        assert!(
            matches!(t.dtype(), DataType::Datetime(TimeUnit::Microseconds, _)),
            "{:?}",
            t.dtype()
        );
        assert_eq!(
            t.cast(&DataType::Int64).unwrap().i64().unwrap().get(0),
            Some(1)
        );
    }
}
