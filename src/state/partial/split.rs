//! Splitting a scan's hourly rows into the rows of each input file.

use std::collections::BTreeMap;

use foldhash::HashMap;

use super::{Key, Rows, Value};
use crate::aggregate::{Cell, Stats};
use crate::catalog::Catalog;
use crate::state::rows::{FirstIds, HourKey, HourUnmatchedKey, HourlyRows};

/// Splits the rows a partitioned scan produced by input file, consuming the scan's aggregate
/// (its samples move, and its memory goes as the rows are built). Each string is interned
/// once per file (ids are mapped through tables), not once per row.
///
/// `earlier`: the first request id of each user in earlier scans of the same files (a file
/// read in parts); it is updated with this scan's, and a user's rows get the earliest.
pub fn split_by_file<const N: usize>(
    rows: HourlyRows<N>,
    catalog: &Catalog,
    earlier: &mut FirstIds,
) -> BTreeMap<u32, Rows> {
    let mut parts = rows.into_parts();
    // Every row of a user gets the id of the user's earliest request, over all parts: each
    // part only knows the earliest among the requests its worker read.
    for part in &parts {
        for (&u, (at, id)) in &part.user_ids {
            let user: Box<[u8]> = part.users.get(u).into();
            crate::aggregate::keep_earlier_id(earlier, user, (*at, id.clone()));
        }
    }
    let first_ids: HashMap<Box<[u8]>, Box<str>> = earlier
        .iter()
        .map(|(user, (_, id))| (user.clone(), id.clone()))
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
        let rows = out.entry(file).or_default();
        rows.samples_kept = N;
        rows.map.reserve(n);
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
fn add_part<const N: usize>(
    mut stats: Stats<HourKey<N>>,
    catalog: &Catalog,
    first_ids: &HashMap<Box<[u8]>, Box<str>>,
    out: &mut BTreeMap<u32, Rows>,
) {
    let usage = std::mem::take(&mut stats.usage);
    let unmatched = std::mem::take(&mut stats.unmatched);
    let part = Part {
        // The ids of this part's users, looked up once each.
        user_ids: (0..stats.users.len() as u32)
            .map(|u| first_ids.get(stats.users.get(u)).map(|id| &**id))
            .collect(),
        stats: &stats,
        catalog,
    };
    let mut ids: BTreeMap<u32, Ids> = BTreeMap::new();
    for (k, cell) in usage {
        let (rows, o) = part.target(out, &mut ids, k.file);
        let (key, value) = part.usage_row(rows, o, k, cell);
        rows.insert(key, value);
    }
    for (k, n) in unmatched {
        let (rows, o) = part.target(out, &mut ids, k.file);
        let (key, value) = part.unmatched_row(rows, o, k, n);
        rows.insert(key, value);
    }
}

/// One part of a scan's rows (one worker's), whose strings are ids in its own interners.
struct Part<'a, const N: usize> {
    stats: &'a Stats<HourKey<N>>,
    catalog: &'a Catalog,
    /// Each user's id (of their earliest request over all parts), by the part's user id.
    user_ids: Vec<Option<&'a str>>,
}

/// Per file: the ids in its rows of a part's strings, interned once each.
struct Ids {
    users: Vec<Option<u32>>,
    codes: Vec<Option<u32>>,
    /// (method, template) by route.
    routes: Vec<Option<(u32, u32)>>,
    empty: u32,
}

fn cached(slot: &mut Option<u32>, rows: &mut Rows, bytes: &[u8]) -> u32 {
    *slot.get_or_insert_with(|| rows.intern(bytes))
}

impl<const N: usize> Part<'_, N> {
    /// The rows of `file` and the ids of this part's strings in them.
    fn target<'o>(
        &self,
        out: &'o mut BTreeMap<u32, Rows>,
        ids: &'o mut BTreeMap<u32, Ids>,
        file: u32,
    ) -> (&'o mut Rows, &'o mut Ids) {
        let rows = out.entry(file).or_default();
        let ids = ids.entry(file).or_insert_with(|| Ids {
            users: vec![None; self.stats.users.len()],
            codes: vec![None; self.stats.codes.len()],
            routes: vec![None; self.catalog.routes().len()],
            empty: rows.empty_id(),
        });
        (rows, ids)
    }

    /// A usage row of the part as a row of `rows` (whose ids are `o`), its samples moved.
    fn usage_row(&self, rows: &mut Rows, o: &mut Ids, k: HourKey<N>, cell: Cell) -> (Key, Value) {
        let stats = self.stats;
        let route = self.catalog.route(k.row.route);
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
        let user_id = match self.user_ids[k.row.user as usize] {
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
        (key, value)
    }

    /// An unmatched row of the part as a row of `rows` (whose ids are `o`).
    fn unmatched_row(
        &self,
        rows: &mut Rows,
        o: &mut Ids,
        k: HourUnmatchedKey,
        n: u64,
    ) -> (Key, Value) {
        let empty = o.empty;
        let method = self.stats.codes.get(k.row.method);
        let key = Key {
            unmatched: true,
            user: empty,
            method: cached(&mut o.codes[k.row.method as usize], rows, method),
            target: rows.intern(self.stats.shapes.get(k.row.shape)),
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
        (key, value)
    }
}
