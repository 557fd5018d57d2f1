//! Loading: the stored hourly rows of the window folded into a plain aggregate, classified
//! by the snapshots' context classes as a scan would.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::partial::{self, HOUR, Rows};
use super::{State, rows};
use crate::aggregate::EarlierUses;
use crate::aggregate::{Cell, Interner, Position, Sample, Stats, UnmatchedKey, UsageKey};
use crate::catalog::{Catalog, RouteId};
use crate::policy::context::ContextClasses;

/// What [`State::load`] gives back.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The stored rows in the window, split by context class.
    pub stats: Stats,
    /// Requests in hourly rows that a context-class boundary splits (judged at their
    /// earliest request).
    pub straddling: u64,
    /// Last successful use per (user, permission) before the window.
    pub earlier: EarlierUses,
}

impl State {
    /// Every stored row whose hour lies in `[since, until)`, folded into an aggregate whose
    /// usage rows are split by `context` classes (time slices and networks of the snapshots'
    /// conditions and `taken_at` times), like a scan would. Entries are read and folded in
    /// parallel (one partial at a time per worker), then merged.
    pub fn load(
        &mut self,
        catalog: &Catalog,
        since: Option<i64>,
        until: Option<i64>,
        context: &ContextClasses,
    ) -> anyhow::Result<Loaded> {
        use rayon::prelude::*;
        // Rows produced in this run are in memory; the others are read from their partials.
        let mut jobs: Vec<(u64, String, Option<Rows>, Option<PathBuf>)> = Vec::new();
        for e in &self.manifest.entries {
            let rows = self.rows.remove(&e.id);
            let path = match (&rows, &e.partial) {
                (None, Some(name)) => Some(self.partial_path(name)),
                _ => None,
            };
            jobs.push((e.seq, e.id.clone(), rows, path));
        }
        jobs.sort_by_key(|j| j.0);
        let dir = self.dir.clone();
        let parts: Vec<anyhow::Result<Loaded>> = jobs
            .into_par_iter()
            .map(|(seq, id, rows, path)| {
                let path = if rows.is_some() { None } else { path };
                fold_entry(
                    rows,
                    path.as_deref(),
                    seq,
                    &id,
                    &dir,
                    catalog,
                    since,
                    until,
                    context,
                )
            })
            .collect();
        let mut all = Loaded::default();
        for part in parts {
            let part = part?;
            all.stats.merge(part.stats);
            all.straddling += part.straddling;
            for (k, t) in part.earlier {
                let e = all.earlier.entry(k).or_insert(t);
                *e = (*e).max(t);
            }
        }
        Ok(all)
    }
}

/// Folds one entry's rows into a new aggregate (see [`State::load`]): the rows this run
/// produced, or those of its partial, folded as they are read (one row group at a time),
/// so that loading holds the aggregate of the window, not every stored row of the entry.
#[allow(clippy::too_many_arguments)]
fn fold_entry(
    rows: Option<Rows>,
    path: Option<&Path>,
    seq: u64,
    id: &str,
    dir: &Path,
    catalog: &Catalog,
    since: Option<i64>,
    until: Option<i64>,
    context: &ContextClasses,
) -> anyhow::Result<Loaded> {
    let mut stats = Stats::default();
    let mut straddling = 0u64;
    let mut earlier = EarlierUses::new();
    let mut routes: foldhash::HashMap<&[u8], foldhash::HashMap<&[u8], RouteId>> =
        Default::default();
    for (i, r) in catalog.routes().iter().enumerate() {
        routes
            .entry(r.method.as_str().as_bytes())
            .or_default()
            .insert(r.template.as_str().as_bytes(), i as RouteId);
    }
    let route_of = |strings: &Interner, k: &partial::Key| {
        routes
            .get(strings.get(k.method))
            .and_then(|m| m.get(strings.get(k.target)))
            .copied()
    };
    // Ids of this entry's strings in `stats`, and parsed IPs, resolved once each (the
    // entry's strings are interned as its rows are read: the tables grow with them).
    let mut user_ids: Vec<Option<u32>> = Vec::new();
    let mut code_ids: Vec<Option<u32>> = Vec::new();
    let mut ips: Vec<Option<Option<std::net::IpAddr>>> = Vec::new();
    let mut fold =
        |strings: &Interner, k: &partial::Key, v: &partial::Value| -> anyhow::Result<()> {
            for table in [&mut user_ids, &mut code_ids] {
                table.resize(strings.len(), None);
            }
            ips.resize(strings.len(), None);
            let start = i64::from(k.hour) * HOUR;
            if since.is_some_and(|s| start < s) {
                // Before the window: only remembered as the last use of a permission.
                if !k.unmatched
                    && (200..400).contains(&k.status)
                    && let (Some(route), Some(last)) = (route_of(strings, k), v.last_seen)
                {
                    let code = catalog.route(route).permission.clone();
                    let e = earlier
                        .entry((
                            String::from_utf8_lossy(strings.get(k.user)).into_owned(),
                            code,
                        ))
                        .or_insert(last);
                    *e = (*e).max(last);
                }
                return Ok(());
            }
            if until.is_some_and(|u| start + HOUR > u) {
                return Ok(());
            }
            let mut code = |id: u32| {
                *code_ids[id as usize].get_or_insert_with(|| stats.codes.intern(strings.get(id)))
            };
            if k.unmatched {
                let method = code(k.method);
                let shape = stats.shapes.intern(strings.get(k.target));
                stats.counters.unmatched_requests += v.count;
                *stats
                    .unmatched
                    .entry(UnmatchedKey { method, shape })
                    .or_insert(0) += v.count;
                return Ok(());
            }
            let Some(route) = route_of(strings, k) else {
                // The config fingerprint makes this impossible short of a hand-edited state.
                bail!(
                    "state {}: entry {} names route {} {} that the catalog does not have",
                    dir.display(),
                    id,
                    String::from_utf8_lossy(strings.get(k.method)),
                    String::from_utf8_lossy(strings.get(k.target))
                );
            };
            let (Some(first), Some(last)) = (v.first_seen, v.last_seen) else {
                return Ok(());
            };
            let error_code = code(k.error_code);
            let source = code(k.source);
            let ip = *ips[k.source_ip as usize]
                .get_or_insert_with(|| crate::net::parse_ip(strings.get(k.source_ip)));
            let class = context.class(first, ip);
            if context.class(last, ip) != class {
                straddling += v.count;
            }
            stats.counters.bss_requests += v.count;
            let user = *user_ids[k.user as usize]
                .get_or_insert_with(|| stats.users.intern(strings.get(k.user)));
            let user_id = strings.get(v.user_id);
            if !user_id.is_empty() {
                // Entries are folded in order and a partial's rows in hour order: the first
                // row with an id is the earliest (offsets of different runs do not compare).
                let first = Position {
                    file: seq as u32,
                    offset: 0,
                };
                let id = String::from_utf8_lossy(user_id).into();
                crate::aggregate::keep_earlier_id(&mut stats.user_ids, user, (first, id));
            }
            let key = UsageKey {
                user,
                route,
                status: k.status,
                error_code,
                source,
                context: class,
            };
            let at = |offset: u64| Position {
                file: seq as u32,
                offset,
            };
            let cell = Cell::stored(
                v.count,
                first,
                last,
                // An hourly row's evidence is its first request; states written before that
                // rule held by every merge may have kept up to three.
                v.samples
                    .iter()
                    .take(rows::SAMPLES_PER_HOURLY_ROW)
                    .map(|(o, id)| Sample {
                        at: at(*o),
                        request_id: id.clone(),
                    })
                    .collect(),
                ip.map(|ip| (at(v.samples.first().map_or(0, |s| s.0)), ip)),
            );
            stats.note_time(first);
            stats.note_time(last);
            match stats.usage.get_mut(&key) {
                Some(c) => c.merge(cell),
                None => {
                    stats.usage.insert(key, cell);
                }
            }
            Ok(())
        };
    match (rows, path) {
        (Some(rows), _) => {
            for (k, v) in &rows.map {
                fold(&rows.strings, k, v)?;
            }
        }
        (None, Some(path)) => partial::read_each(path, |strings, k, v| fold(strings, k, &v))?,
        (None, None) => {}
    }
    Ok(Loaded {
        stats,
        straddling,
        earlier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::context::ContextClasses;

    /// Regression: merges kept up to three samples of an hourly row before the one-sample
    /// rule held everywhere; a state written then reports the hour's first request only.
    #[test]
    fn a_stored_hourly_row_gives_its_first_request_as_evidence() {
        let mut rows = Rows::default();
        let empty = rows.empty_id();
        let key = partial::Key {
            unmatched: false,
            user: rows.intern(b"alice"),
            method: rows.intern(b"GET"),
            target: rows.intern(b"/v2/orders/customer-orders"),
            status: 200,
            error_code: empty,
            source: empty,
            source_ip: rows.intern(b"10.0.0.1"),
            hour: 490_000,
        };
        let value = partial::Value {
            user_id: empty,
            count: 3,
            first_seen: Some(490_000 * HOUR + 1),
            last_seen: Some(490_000 * HOUR + 3),
            samples: vec![(10, "a".into()), (20, "b".into()), (30, "c".into())],
        };
        rows.map.insert(key, value);
        let catalog = Catalog::embedded();
        let context = ContextClasses::default();
        let dir = Path::new("state");
        let loaded = fold_entry(
            Some(rows),
            None,
            0,
            "e",
            dir,
            &catalog,
            None,
            None,
            &context,
        )
        .unwrap();
        let cells: Vec<&Cell> = loaded.stats.usage.values().collect();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].count, 3);
        let ids: Vec<&str> = cells[0].samples.iter().map(|s| &*s.request_id).collect();
        assert_eq!(ids, ["a"]);
    }
}
