//! Loading: the stored hourly rows of the window folded into a plain aggregate, classified
//! by the snapshots' context classes as a scan would.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::bail;
use foldhash::HashMap;

use super::partial::{self, HOUR, Key, Rows, Value};
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

impl Loaded {
    pub(super) fn merge(&mut self, part: Loaded) {
        self.stats.merge(part.stats);
        self.straddling += part.straddling;
        for (k, t) in part.earlier {
            let e = self.earlier.entry(k).or_insert(t);
            *e = (*e).max(t);
        }
    }
}

/// Where a part of an entry's rows is.
enum Stored {
    /// Produced or read in this run.
    InMemory(Rows),
    Partial(PathBuf),
}

/// An entry to fold: its parts, oldest first, each with the span of its hours (`None`:
/// unknown, any hour).
struct Job {
    seq: u64,
    id: String,
    parts: Vec<(Stored, Option<(u32, u32)>)>,
}

impl State {
    /// Every stored row whose hour lies in `[since, until)`, folded into an aggregate whose
    /// usage rows are split by `context` classes (time slices and networks of the snapshots'
    /// conditions and `taken_at` times), like a scan would. Entries are read and folded in
    /// parallel (one part at a time per worker, one entry per worker at a time), and merged
    /// in the order they were counted.
    pub fn load(
        &mut self,
        catalog: &Catalog,
        since: Option<i64>,
        until: Option<i64>,
        context: &ContextClasses,
    ) -> anyhow::Result<Loaded> {
        use rayon::prelude::*;
        // Rows written in this run are in memory; the others are read from their partials.
        let mut jobs: Vec<Job> = Vec::new();
        for e in &self.manifest.entries {
            let mut parts = Vec::new();
            for p in &e.parts {
                let stored = match self.written.remove(&p.file) {
                    Some(rows) => Stored::InMemory(rows),
                    None => Stored::Partial(self.partial_path(&p.file)),
                };
                parts.push((stored, p.first_hour.zip(p.last_hour)));
            }
            if let Some(rows) = self.pending.remove(&e.id) {
                let span = rows.hours();
                parts.push((Stored::InMemory(rows), span));
            }
            jobs.push(Job {
                seq: e.seq,
                id: e.id.clone(),
                parts,
            });
        }
        jobs.sort_by_key(|j| j.seq);
        let window = Window::new(catalog, since, until, context, &self.dir);
        // As many entries at a time as there are threads, each group merged before the next
        // is read: the aggregates of every entry held at once were most of the memory of a
        // run over many files. The merge order is the same as folding them all first.
        let threads = rayon::current_num_threads().max(1);
        let mut jobs = jobs.into_iter().peekable();
        let mut all = Loaded::default();
        while jobs.peek().is_some() {
            let group: Vec<Job> = jobs.by_ref().take(threads).collect();
            let parts: Vec<anyhow::Result<Loaded>> = group
                .into_par_iter()
                .map(|job| window.fold_entry(job))
                .collect();
            for part in parts {
                all.merge(part?);
            }
        }
        Ok(all)
    }
}

/// The hours that more than one of `spans` covers, as sorted, disjoint ranges.
fn shared_hours(spans: &[Option<(u32, u32)>]) -> Vec<(u32, u32)> {
    let spans: Vec<(u32, u32)> = spans.iter().map(|s| s.unwrap_or((0, u32::MAX))).collect();
    let mut overlaps: Vec<(u32, u32)> = Vec::new();
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            let (lo, hi) = (a.0.max(b.0), a.1.min(b.1));
            if lo <= hi {
                overlaps.push((lo, hi));
            }
        }
    }
    overlaps.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (lo, hi) in overlaps {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn in_ranges(ranges: &[(u32, u32)], hour: u32) -> bool {
    let i = ranges.partition_point(|r| r.1 < hour);
    ranges.get(i).is_some_and(|r| r.0 <= hour)
}

/// Adds a row of an entry's part (whose strings are `strings`) to `held`, where rows of the
/// same key from other parts merge into one hourly row as one partial would hold it.
fn hold(held: &mut Rows, strings: &Interner, k: &Key, v: Value) {
    let mut id = |i: u32| held.intern(strings.get(i));
    let key = k.remapped(&mut id);
    let value = Value {
        user_id: id(v.user_id),
        ..v
    };
    held.insert(key, value);
}

/// What every entry is folded against: the window, the context classes, and the catalog's
/// routes by method and template (a stored row names its route by those).
pub(super) struct Window<'a> {
    catalog: &'a Catalog,
    routes: HashMap<&'a [u8], HashMap<&'a [u8], RouteId>>,
    since: Option<i64>,
    until: Option<i64>,
    context: &'a ContextClasses,
    /// The state directory, for errors.
    dir: &'a Path,
}

impl<'a> Window<'a> {
    pub(super) fn new(
        catalog: &'a Catalog,
        since: Option<i64>,
        until: Option<i64>,
        context: &'a ContextClasses,
        dir: &'a Path,
    ) -> Window<'a> {
        let mut routes: HashMap<&[u8], HashMap<&[u8], RouteId>> = HashMap::default();
        for (i, r) in catalog.routes().iter().enumerate() {
            routes
                .entry(r.method.as_str().as_bytes())
                .or_default()
                .insert(r.template.as_str().as_bytes(), i as RouteId);
        }
        Window {
            catalog,
            routes,
            since,
            until,
            context,
            dir,
        }
    }

    fn route_of(&self, strings: &Interner, k: &Key) -> Option<RouteId> {
        self.routes
            .get(strings.get(k.method))
            .and_then(|m| m.get(strings.get(k.target)))
            .copied()
    }

    /// Folds one entry's rows into a new aggregate (see [`State::load`]): the rows this run
    /// produced, or those of its partials, folded as they are read (one row group at a
    /// time), so that loading holds the aggregate of the window, not every stored row of
    /// the entry. Rows of hours that several parts cover are held and merged first, so that
    /// an hourly row split between two parts is folded as the one row an unsplit partial
    /// holds (its one sample, its first and last request, its context class).
    fn fold_entry(&self, job: Job) -> anyhow::Result<Loaded> {
        let mut fold = EntryFold::new(self, job.seq, &job.id, rows::SAMPLES_PER_HOURLY_ROW);
        let spans: Vec<Option<(u32, u32)>> = job.parts.iter().map(|p| p.1).collect();
        let shared = if spans.len() > 1 {
            shared_hours(&spans)
        } else {
            Vec::new()
        };
        let mut held = Rows::default();
        for (stored, _) in job.parts {
            // Each part has its own strings.
            fold.new_strings();
            match stored {
                Stored::InMemory(rows) => {
                    for (k, v) in &rows.map {
                        if in_ranges(&shared, k.hour) {
                            hold(&mut held, &rows.strings, k, v.clone());
                        } else {
                            fold.row(&rows.strings, k, v)?;
                        }
                    }
                }
                Stored::Partial(path) => partial::read_each(&path, |strings, k, v| {
                    if in_ranges(&shared, k.hour) {
                        hold(&mut held, strings, k, v);
                        Ok(())
                    } else {
                        fold.row(strings, k, &v)
                    }
                })?,
            }
        }
        fold.new_strings();
        for (k, v) in &held.map {
            fold.row(&held.strings, k, v)?;
        }
        Ok(fold.out)
    }
}

/// One entry being folded into `out`.
pub(super) struct EntryFold<'a> {
    window: &'a Window<'a>,
    /// The order in which the entry's content was first counted (with mapped partials: the
    /// rank of the row's file and content), the `file` of its rows' positions.
    pub(super) seq: u64,
    id: &'a str,
    /// Samples a row gives: the hour's first request in a state; all a mapped row kept.
    samples: usize,
    pub(super) out: Loaded,
    /// Ids of the entry's strings in `out.stats`, and parsed IPs, resolved once each (the
    /// entry's strings are interned as its rows are read: the tables grow with them).
    user_ids: Vec<Option<u32>>,
    code_ids: Vec<Option<u32>>,
    ips: Vec<Option<Option<IpAddr>>>,
}

impl<'a> EntryFold<'a> {
    pub(super) fn new(window: &'a Window<'a>, seq: u64, id: &'a str, samples: usize) -> Self {
        EntryFold {
            window,
            seq,
            id,
            samples,
            out: Loaded::default(),
            user_ids: Vec::new(),
            code_ids: Vec::new(),
            ips: Vec::new(),
        }
    }

    /// Rows of another part follow: its string ids mean other strings.
    fn new_strings(&mut self) {
        self.user_ids.clear();
        self.code_ids.clear();
        self.ips.clear();
    }

    pub(super) fn row(&mut self, strings: &Interner, k: &Key, v: &Value) -> anyhow::Result<()> {
        for table in [&mut self.user_ids, &mut self.code_ids] {
            table.resize(strings.len(), None);
        }
        self.ips.resize(strings.len(), None);
        let start = i64::from(k.hour) * HOUR;
        if self.window.since.is_some_and(|s| start < s) {
            self.before_window(strings, k, v);
            return Ok(());
        }
        if self.window.until.is_some_and(|u| start + HOUR > u) {
            return Ok(());
        }
        if k.unmatched {
            self.unmatched(strings, k, v);
            return Ok(());
        }
        self.usage(strings, k, v)
    }

    /// A row before the window: only remembered as the last use of a permission.
    fn before_window(&mut self, strings: &Interner, k: &Key, v: &Value) {
        if !k.unmatched
            && (200..400).contains(&k.status)
            && let (Some(route), Some(last)) = (self.window.route_of(strings, k), v.last_seen)
        {
            let r = self.window.catalog.route(route);
            let user = String::from_utf8_lossy(strings.get(k.user)).into_owned();
            // A use of the route's code under both models (v1.1 code, IAM 5.0 action).
            for code in std::iter::once(&r.permission).chain(r.v5.action.as_ref()) {
                let e = self
                    .out
                    .earlier
                    .entry((user.clone(), code.clone()))
                    .or_insert(last);
                *e = (*e).max(last);
            }
        }
    }

    /// The id in `out.stats.codes` of the entry's string `id`.
    fn code(&mut self, strings: &Interner, id: u32) -> u32 {
        let codes = &mut self.out.stats.codes;
        *self.code_ids[id as usize].get_or_insert_with(|| codes.intern(strings.get(id)))
    }

    fn unmatched(&mut self, strings: &Interner, k: &Key, v: &Value) {
        let method = self.code(strings, k.method);
        let stats = &mut self.out.stats;
        let shape = stats.shapes.intern(strings.get(k.target));
        stats.counters.unmatched_requests += v.count;
        *stats
            .unmatched
            .entry(UnmatchedKey { method, shape })
            .or_insert(0) += v.count;
    }

    /// A usage row: its cell, keyed by the context class of its first request.
    fn usage(&mut self, strings: &Interner, k: &Key, v: &Value) -> anyhow::Result<()> {
        let Some(route) = self.window.route_of(strings, k) else {
            // The config fingerprint makes this impossible short of a hand-edited state.
            bail!(
                "state {}: entry {} names route {} {} that the catalog does not have",
                self.window.dir.display(),
                self.id,
                String::from_utf8_lossy(strings.get(k.method)),
                String::from_utf8_lossy(strings.get(k.target))
            );
        };
        let (Some(first), Some(last)) = (v.first_seen, v.last_seen) else {
            return Ok(());
        };
        let error_code = self.code(strings, k.error_code);
        let source = self.code(strings, k.source);
        let ip = *self.ips[k.source_ip as usize]
            .get_or_insert_with(|| crate::net::parse_ip(strings.get(k.source_ip)));
        let context = self.window.context;
        let class = context.class(first, ip);
        if context.class(last, ip) != class {
            self.out.straddling += v.count;
        }
        let stats = &mut self.out.stats;
        stats.counters.bss_requests += v.count;
        let user = *self.user_ids[k.user as usize]
            .get_or_insert_with(|| stats.users.intern(strings.get(k.user)));
        let user_id = strings.get(v.user_id);
        if !user_id.is_empty() {
            // Entries are folded in order and a partial's rows in hour order: the first
            // row with an id is the earliest (offsets of different runs do not compare). A
            // mapped row's offsets are those of one scan: its first sample places it.
            let offset = match self.samples {
                1 => 0,
                _ => v.samples.first().map_or(0, |s| s.0),
            };
            let first = Position {
                file: self.seq as u32,
                offset,
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
        let cell = stored_cell(v, self.seq, first, last, ip, self.samples);
        stats.note_time(first);
        stats.note_time(last);
        let day_left = match stats.usage.get_mut(&key) {
            Some(c) => c.merge(cell),
            None => {
                stats.usage.insert(key, cell);
                None
            }
        };
        if let Some(day) = day_left {
            stats.log_day(key, day);
        }
        Ok(())
    }
}

/// The cell of a stored usage row of the entry counted `seq`-th, with at most `samples` of
/// its samples; its positions are offsets in that entry's content.
fn stored_cell(
    v: &Value,
    seq: u64,
    first: i64,
    last: i64,
    ip: Option<IpAddr>,
    samples: usize,
) -> Cell {
    let at = |offset: u64| Position {
        file: seq as u32,
        offset,
    };
    Cell::stored(
        v.count,
        first,
        last,
        // An hourly row's evidence is its first request; states written before that rule
        // held by every merge may have kept up to three.
        v.samples
            .iter()
            .take(samples)
            .map(|(o, id)| Sample {
                at: at(*o),
                request_id: id.clone(),
            })
            .collect(),
        ip.map(|ip| (at(v.samples.first().map_or(0, |s| s.0)), ip)),
    )
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
        let window = Window::new(&catalog, None, None, &context, Path::new("state"));
        let job = Job {
            seq: 0,
            id: "e".into(),
            parts: vec![(Stored::InMemory(rows), None)],
        };
        let loaded = window.fold_entry(job).unwrap();
        let cells: Vec<&Cell> = loaded.stats.usage.values().collect();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].count, 3);
        let ids: Vec<&str> = cells[0].samples.iter().map(|s| &*s.request_id).collect();
        assert_eq!(ids, ["a"]);
    }

    /// A row: hour, count, first and last second in the hour, first sample.
    type TestRow<'a> = (u32, u64, (i64, i64), (u64, &'a str));

    /// An entry's rows.
    fn rows_of(rows: &[TestRow<'_>]) -> Rows {
        let mut out = Rows::default();
        for &(hour, count, (first, last), (offset, id)) in rows {
            let empty = out.empty_id();
            let key = partial::Key {
                unmatched: false,
                user: out.intern(b"alice"),
                method: out.intern(b"GET"),
                target: out.intern(b"/v2/orders/customer-orders"),
                status: 200,
                error_code: empty,
                source: empty,
                source_ip: out.intern(b"10.0.0.1"),
                hour,
            };
            let value = partial::Value {
                user_id: empty,
                count,
                first_seen: Some(i64::from(hour) * HOUR + first * 1_000_000),
                last_seen: Some(i64::from(hour) * HOUR + last * 1_000_000),
                samples: vec![(offset, id.into())],
            };
            out.insert(key, value);
        }
        out
    }

    fn fold(parts: Vec<Rows>) -> Loaded {
        let catalog = Catalog::embedded();
        let context = ContextClasses::default();
        let window = Window::new(&catalog, None, None, &context, Path::new("state"));
        let parts = parts
            .into_iter()
            .map(|rows| {
                let span = rows.hours();
                (Stored::InMemory(rows), span)
            })
            .collect();
        let job = Job {
            seq: 0,
            id: "e".into(),
            parts,
        };
        window.fold_entry(job).unwrap()
    }

    /// An hour whose rows a part boundary splits loads as the one hourly row of an unsplit
    /// partial: one sample (the hour's first request), not one per part.
    #[test]
    fn an_hour_split_between_parts_loads_as_one_hourly_row() {
        let h = 490_000;
        let whole = fold(vec![rows_of(&[
            (h, 5, (1, 50), (10, "a")),
            (h + 1, 2, (3, 4), (90, "x")),
        ])]);
        let split = fold(vec![
            rows_of(&[(h, 2, (1, 20), (10, "a"))]),
            rows_of(&[(h, 3, (30, 50), (50, "e")), (h + 1, 2, (3, 4), (90, "x"))]),
        ]);
        let cells = |l: &Loaded| l.stats.usage.values().cloned().collect::<Vec<Cell>>();
        assert_eq!(cells(&whole).len(), 1);
        assert_eq!(cells(&split), cells(&whole));
        let split_cells = cells(&split);
        let ids: Vec<&str> = split_cells[0]
            .samples
            .iter()
            .map(|s| &*s.request_id)
            .collect();
        assert_eq!(ids, ["a", "x"]);
        assert_eq!(split.straddling, whole.straddling);
    }

    #[test]
    fn shared_hours_are_those_two_parts_cover() {
        assert_eq!(shared_hours(&[Some((1, 5))]), vec![]);
        assert_eq!(
            shared_hours(&[Some((1, 5)), Some((5, 9)), Some((9, 9)), Some((20, 30))]),
            vec![(5, 5), (9, 9)]
        );
        assert_eq!(
            shared_hours(&[Some((1, 5)), None]),
            vec![(1, 5)],
            "a part of unknown hours may hold any"
        );
        let r = shared_hours(&[Some((1, 5)), Some((4, 9)), Some((20, 30)), Some((25, 40))]);
        assert_eq!(r, vec![(4, 5), (25, 30)]);
        assert!(in_ranges(&r, 4) && in_ranges(&r, 5) && in_ranges(&r, 27));
        assert!(!in_ranges(&r, 3) && !in_ranges(&r, 6) && !in_ranges(&r, 31));
    }
}
