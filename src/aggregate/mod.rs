//! Mergeable aggregates of the requests seen in the logs.
//!
//! Each worker folds the chunks it scans into its own [`Stats`], keyed by small interned ids
//! (user, route, status, error code, context class); at the end the per-worker values are
//! merged. Merging is commutative and associative and every kept sample is chosen by its
//! position in the input (file, byte offset), so the result is the same for any thread count
//! and chunk size. Memory grows with the number of distinct keys (users x routes x statuses),
//! never with the number of lines.

mod cell;
mod intern;

use std::collections::hash_map::Entry;

use foldhash::HashMap;

use crate::catalog::RouteId;
use crate::scan::sink::Sink;
pub use crate::scan::sink::{Counters, Observation, Position};
pub use cell::{Cell, DayCount, RowSum, Sample, day_of, day_start};
pub use intern::Interner;

/// How many request ids are kept as evidence per aggregate row.
pub const SAMPLES_PER_ROW: usize = 3;

/// How many malformed lines are kept per file, with their line numbers.
pub const MALFORMED_SAMPLES_PER_FILE: usize = 5;
/// Unmatched path shapes kept per worker; beyond this they are counted under one shape.
pub const MAX_UNMATCHED_SHAPES: usize = 10_000;
/// The shape that stands for all shapes past [`MAX_UNMATCHED_SHAPES`].
pub const OVERFLOW_SHAPE: &str = "{other}";

/// What the status says about the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusClass {
    /// 2xx and 3xx.
    Allowed,
    /// 403: a permission denial.
    Denied,
    /// 401: an authentication failure, not a permission denial.
    Unauthenticated,
    /// 429.
    Throttled,
    /// 5xx.
    Error,
    /// Anything else (404, 405, no status ...).
    Other,
}

impl StatusClass {
    pub fn of_status(status: u16) -> StatusClass {
        match status {
            200..=399 => StatusClass::Allowed,
            403 => StatusClass::Denied,
            401 => StatusClass::Unauthenticated,
            429 => StatusClass::Throttled,
            500..=599 => StatusClass::Error,
            _ => StatusClass::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::Allowed => "allowed",
            StatusClass::Denied => "denied",
            StatusClass::Unauthenticated => "unauthenticated",
            StatusClass::Throttled => "throttled",
            StatusClass::Error => "error",
            StatusClass::Other => "other",
        }
    }
}

/// The key of a usage row. Ids are per-[`Stats`] interned ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UsageKey {
    pub user: u32,
    pub route: RouteId,
    pub status: u16,
    /// Interned error code (`CBC.0151`, `APIG.0302`); the empty string when none.
    pub error_code: u32,
    /// Interned `response_source` of API Gateway logs (`local`/`remote`); empty otherwise.
    pub source: u32,
    /// Which class of request context (time slice, client network) the requests fall in, so
    /// that policies with time or IP conditions can be evaluated exactly per row. Always 0
    /// when no loaded policy has such a condition.
    pub context: u32,
}

/// Hashed as three words instead of field by field: every catalog request looks its row up,
/// and foldhash folds each write into its state with a multiply (six dependent multiplies
/// for the derived `Hash`, three here). Equal keys write equal words, as `Eq` requires.
impl std::hash::Hash for UsageKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(
            u64::from(self.user) | u64::from(self.route) << 32 | u64::from(self.status) << 48,
        );
        state.write_u64(u64::from(self.error_code) | u64::from(self.source) << 32);
        state.write_u32(self.context);
    }
}

/// Counts of unmatched requests to the service, by method and path shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnmatchedKey {
    /// Interned (in `codes`), uppercased method.
    pub method: u32,
    pub shape: u32,
}

/// What a kind of aggregate row is keyed by. [`Stats`] is generic over it: the plain
/// aggregate is keyed by [`UsageKey`]; the hourly rows of `--state` by a key with the input
/// file, the hour and the client address (`state::HourKey`).
pub trait RowKey: Copy + Ord + std::hash::Hash + std::fmt::Debug + Send + 'static {
    /// How many samples a row keeps.
    const SAMPLES: usize;
    /// Whether a row keeps the client address of its earliest request (a key that holds the
    /// address has no use for it).
    const KEEPS_IP: bool;
    /// The key of an unmatched row.
    type Unmatched: Copy + Eq + std::hash::Hash + std::fmt::Debug + Send + 'static;
    /// The key of an observed request, given its interned parts.
    fn of(row: UsageKey, o: &Observation<'_>, codes: &mut Interner) -> Self;
    /// The key with its interned ids mapped into another aggregate's interners.
    fn remapped(self, users: &[u32], codes: &[u32]) -> Self;
    /// The key of an unmatched request.
    fn unmatched(row: UnmatchedKey, at: Position, time: i64) -> Self::Unmatched;
    /// The unmatched key with its method and shape replaced.
    fn unmatched_remapped(key: Self::Unmatched, row: UnmatchedKey) -> Self::Unmatched;
    /// The method and shape of an unmatched key.
    fn unmatched_parts(key: &Self::Unmatched) -> UnmatchedKey;
}

impl RowKey for UsageKey {
    const SAMPLES: usize = SAMPLES_PER_ROW;
    const KEEPS_IP: bool = true;
    type Unmatched = UnmatchedKey;

    #[inline]
    fn of(row: UsageKey, _: &Observation<'_>, _: &mut Interner) -> UsageKey {
        row
    }

    fn remapped(self, users: &[u32], codes: &[u32]) -> UsageKey {
        UsageKey {
            user: users[self.user as usize],
            error_code: codes[self.error_code as usize],
            source: codes[self.source as usize],
            ..self
        }
    }

    fn unmatched(row: UnmatchedKey, _: Position, _: i64) -> UnmatchedKey {
        row
    }

    fn unmatched_remapped(_: UnmatchedKey, row: UnmatchedKey) -> UnmatchedKey {
        row
    }

    fn unmatched_parts(key: &UnmatchedKey) -> UnmatchedKey {
        *key
    }
}

/// A malformed line, counted and kept as a sample.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MalformedSample {
    pub file: u32,
    /// Index of the chunk of the file, and the line's index within the chunk; turned into a
    /// line number once every chunk's line count is known.
    pub chunk: u32,
    pub line_in_chunk: u64,
    pub reason: String,
}

/// Keeps `first` as `user`'s id unless the map holds one of an earlier request.
pub fn keep_earlier_id<K: std::hash::Hash + Eq, V>(
    ids: &mut HashMap<K, (Position, V)>,
    user: K,
    first: (Position, V),
) {
    match ids.entry(user) {
        Entry::Occupied(mut e) => {
            if first.0 < e.get().0 {
                e.insert(first);
            }
        }
        Entry::Vacant(e) => {
            e.insert(first);
        }
    }
}

/// Hours since the epoch of a time in microseconds (0 before 1970).
pub fn hour_of(micros: i64) -> u32 {
    (micros.max(0) / 3_600_000_000) as u32
}

/// Last successful use per (user, permission code) before the window: what `--state` keeps
/// beyond the window, so an unused permission can say when it was last needed.
pub type EarlierUses = std::collections::HashMap<(String, String), i64>;

/// The logged days of an aggregate's rows ([`Stats::day_index`]).
#[derive(Debug, Default)]
pub struct DayIndex<K>(HashMap<K, Vec<DayCount>>);

impl<K: RowKey> DayIndex<K> {
    /// A row's requests per UTC day, in day order: its logged days and its cell's current day.
    pub fn days(&self, key: &K, cell: &Cell) -> Vec<DayCount> {
        let mut days: Vec<DayCount> = self.0.get(key).cloned().unwrap_or_default();
        days.push(cell.current_day());
        days.sort_unstable();
        days.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
        days.retain(|d| d.1 > 0);
        days
    }
}

/// Everything one worker learned, in rows keyed by `K`. `Default` + [`Stats::merge`] make
/// it a monoid.
#[derive(Debug, Clone)]
pub struct Stats<K: RowKey = UsageKey> {
    pub counters: Counters,
    pub users: Interner,
    /// Per user (by interned user name): the user id of the user's earliest request that
    /// carries one, and where that request is. Earliest in input order, not in the order a
    /// worker saw it, so that the id a report shows does not depend on the thread count.
    pub user_ids: HashMap<u32, (Position, Box<str>)>,
    pub codes: Interner,
    pub shapes: Interner,
    pub usage: HashMap<K, Cell>,
    pub unmatched: HashMap<K::Unmatched, u64>,
    pub malformed: Vec<MalformedSample>,
    /// Lines per (file, chunk), for numbering malformed lines.
    pub chunk_lines: Vec<(u32, u32, u64)>,
    /// Request time range of the parsed, in-window requests.
    pub window: Option<(i64, i64)>,
    /// Samples that [`Stats::merge_spare`] displaced: freed with the aggregate, after the
    /// report is written, instead of one by one while the report waits for the merge.
    pub spare: Vec<Vec<Sample>>,
    /// Requests of rows on days other than their cell's current day, handed over when a
    /// row's requests change day (a few times a row: logs are mostly in time order): row,
    /// day, requests. A row and day may be here several times; [`Stats::day_index`] adds
    /// them up with the cells' current days.
    pub day_log: Vec<(K, i32, u64)>,
}

impl<K: RowKey> Default for Stats<K> {
    fn default() -> Stats<K> {
        Stats {
            counters: Counters::default(),
            users: Interner::default(),
            user_ids: HashMap::default(),
            codes: Interner::default(),
            shapes: Interner::default(),
            usage: HashMap::default(),
            unmatched: HashMap::default(),
            malformed: Vec::new(),
            chunk_lines: Vec::new(),
            window: None,
            spare: Vec::new(),
            day_log: Vec::new(),
        }
    }
}

impl<K: RowKey> Stats<K> {
    /// Adds one catalog request. Allocates only for a new key or a kept sample.
    pub fn observe(&mut self, o: &Observation<'_>) {
        let user = self.users.intern(o.user);
        if !o.user_id.is_empty() && self.user_ids.get(&user).is_none_or(|(at, _)| o.at < *at) {
            self.user_ids
                .insert(user, (o.at, String::from_utf8_lossy(o.user_id).into()));
        }
        let row = UsageKey {
            user,
            route: o.route,
            status: o.status,
            error_code: self.codes.intern(o.error_code),
            source: self.codes.intern(o.source),
            context: o.context,
        };
        let key = K::of(row, o, &mut self.codes);
        let cell = self.usage.entry(key).or_insert_with(|| Cell::new(o.time));
        let day_left = cell.count_at(o.time);
        cell.first_seen = cell.first_seen.min(o.time);
        cell.last_seen = cell.last_seen.max(o.time);
        if cell.keeps(o.at, K::SAMPLES) && !o.request_id.is_empty() {
            cell.add_sample(
                Sample {
                    at: o.at,
                    request_id: String::from_utf8_lossy(o.request_id).into(),
                },
                K::SAMPLES,
            );
        }
        if K::KEEPS_IP
            && cell.source_ip.is_none_or(|(at, _)| o.at < at)
            && let Some(ip) = o
                .source_ip
                .or_else(|| crate::net::parse_ip(o.source_ip_raw))
        {
            cell.source_ip = Some((o.at, ip));
        }
        if let Some(day) = day_left {
            self.log_day(key, day);
        }
        self.note_time(o.time);
    }

    /// Logs a row's requests on a day other than its cell's current one. A full log is first
    /// compacted in place (one entry a row and day), so that scanning the same days again
    /// allocates nothing; it grows when that frees too little.
    pub fn log_day(&mut self, key: K, (day, n): DayCount) {
        let log = &mut self.day_log;
        if log.len() == log.capacity() && log.len() >= 64 {
            log.sort_unstable_by_key(|e| (e.0, e.1));
            log.dedup_by(|later, kept| {
                let same = (later.0, later.1) == (kept.0, kept.1);
                if same {
                    kept.2 += later.2;
                }
                same
            });
            // Grow when compacting freed too little, so it is not done again at once.
            if log.len() > log.capacity() / 2 {
                log.reserve(log.len());
            }
        }
        log.push((key, day, n));
    }

    /// Every row's logged days, added up per row and day, for [`DayIndex::days`].
    pub fn day_index(&self) -> DayIndex<K> {
        let mut rows: HashMap<K, Vec<DayCount>> = HashMap::default();
        for &(key, day, n) in &self.day_log {
            rows.entry(key).or_default().push((day, n));
        }
        DayIndex(rows)
    }

    pub fn note_time(&mut self, t: i64) {
        self.window = Some(match self.window {
            Some((a, b)) => (a.min(t), b.max(t)),
            None => (t, t),
        });
    }

    /// Adds one unmatched request to the service, by method and path shape.
    pub fn unmatched(&mut self, method: &[u8], shape: &[u8], at: Position, time: i64) {
        let row = UnmatchedKey {
            method: self.codes.intern(method),
            shape: self.shape_id(shape),
        };
        *self
            .unmatched
            .entry(K::unmatched(row, at, time))
            .or_insert(0) += 1;
    }

    /// Interns a shape, folding new shapes past the cap into [`OVERFLOW_SHAPE`].
    fn shape_id(&mut self, shape: &[u8]) -> u32 {
        match self.shapes.ids.get(shape) {
            Some(&id) => id,
            None if self.shapes.len() >= MAX_UNMATCHED_SHAPES => {
                self.shapes.intern(OVERFLOW_SHAPE.as_bytes())
            }
            None => self.shapes.intern(shape),
        }
    }

    pub fn malformed(
        &mut self,
        file: u32,
        chunk: u32,
        line_in_chunk: u64,
        reason: impl FnOnce() -> String,
    ) {
        self.counters.malformed += 1;
        let kept = self
            .malformed
            .iter()
            .filter(|m| m.file == file && m.chunk == chunk)
            .count();
        if kept < MALFORMED_SAMPLES_PER_FILE {
            self.malformed.push(MalformedSample {
                file,
                chunk,
                line_in_chunk,
                reason: reason(),
            });
        }
    }

    /// Folds everything but the rows of `other` into `self`: counters, malformed lines, line
    /// counts and the time range. Returns `other` with only its rows and interners.
    pub fn absorb_tally(&mut self, mut other: Stats<K>) -> Stats<K> {
        self.counters += std::mem::take(&mut other.counters);
        self.malformed.append(&mut other.malformed);
        self.chunk_lines.append(&mut other.chunk_lines);
        if let Some((a, b)) = other.window.take() {
            self.note_time(a);
            self.note_time(b);
        }
        self.spare.append(&mut other.spare);
        other
    }

    /// Folds `other` into `self`, re-interning its ids.
    pub fn merge(&mut self, other: Stats<K>) {
        self.merge_deferring(other, false);
    }

    /// [`Stats::merge`] for the workers' aggregates at the end of a scan, which the report
    /// waits for: the samples that neither side keeps go to [`Stats::spare`] instead of being
    /// freed now. Only for a bounded number of merges (one per worker): spare samples are
    /// held until the aggregate is dropped.
    pub fn merge_spare(&mut self, other: Stats<K>) {
        self.merge_deferring(other, true);
    }

    fn merge_deferring(&mut self, other: Stats<K>, defer_frees: bool) {
        let other = self.absorb_tally(other);
        let mut spare = Vec::new();
        let users: Vec<u32> = other
            .users
            .strings
            .iter()
            .map(|s| self.users.intern(s))
            .collect();
        let codes: Vec<u32> = other
            .codes
            .strings
            .iter()
            .map(|s| self.codes.intern(s))
            .collect();
        for (u, first) in other.user_ids {
            keep_earlier_id(&mut self.user_ids, users[u as usize], first);
        }
        for (k, day, n) in other.day_log {
            self.log_day(k.remapped(&users, &codes), (day, n));
        }
        for (k, cell) in other.usage {
            let k = k.remapped(&users, &codes);
            let day_left = match self.usage.entry(k) {
                Entry::Occupied(mut e) => e.get_mut().merge_sparing(cell, K::SAMPLES, &mut spare),
                Entry::Vacant(e) => {
                    e.insert(cell);
                    None
                }
            };
            if let Some(day) = day_left {
                self.log_day(k, day);
            }
        }
        for (k, n) in other.unmatched {
            let parts = K::unmatched_parts(&k);
            let row = UnmatchedKey {
                method: codes[parts.method as usize],
                shape: self.shape_id(other.shapes.get(parts.shape)),
            };
            *self
                .unmatched
                .entry(K::unmatched_remapped(k, row))
                .or_insert(0) += n;
        }
        if defer_frees {
            self.spare.append(&mut spare);
            self.spare.extend(other.spare);
        }
    }

    /// Line numbers (1-based) of the kept malformed lines, at most
    /// [`MALFORMED_SAMPLES_PER_FILE`] per file, in file order.
    pub fn malformed_samples(&self) -> Vec<(u32, u64, &str)> {
        let mut starts: HashMap<(u32, u32), u64> = HashMap::default();
        let mut chunks = self.chunk_lines.clone();
        chunks.sort_unstable();
        let mut running: HashMap<u32, u64> = HashMap::default();
        for (file, chunk, lines) in chunks {
            let r = running.entry(file).or_insert(0);
            starts.insert((file, chunk), *r);
            *r += lines;
        }
        let mut out: Vec<(u32, u64, &str)> = self
            .malformed
            .iter()
            .map(|m| {
                let base = starts.get(&(m.file, m.chunk)).copied().unwrap_or(0);
                (m.file, base + m.line_in_chunk + 1, m.reason.as_str())
            })
            .collect();
        out.sort_unstable();
        let mut per_file: HashMap<u32, usize> = HashMap::default();
        out.retain(|(f, _, _)| {
            let n = per_file.entry(*f).or_insert(0);
            *n += 1;
            *n <= MALFORMED_SAMPLES_PER_FILE
        });
        out
    }
}

impl<K: RowKey> Stats<K> {
    /// [`Sink::chunk_lines`], for sinks that hold a `Stats`.
    pub fn record_chunk_lines(&mut self, file: u32, chunk: u32, lines: u64) {
        self.chunk_lines.push((file, chunk, lines));
    }
}

impl Sink for Stats {
    #[inline]
    fn counters(&mut self) -> &mut Counters {
        &mut self.counters
    }

    #[inline]
    fn request(&mut self, o: &Observation<'_>) {
        self.observe(o);
    }

    fn unmatched(&mut self, method: &[u8], shape: &[u8], at: Position, time: i64) {
        Stats::unmatched(self, method, shape, at, time);
    }

    fn malformed(
        &mut self,
        file: u32,
        chunk: u32,
        line_in_chunk: u64,
        reason: impl FnOnce() -> String,
    ) {
        Stats::malformed(self, file, chunk, line_in_chunk, reason);
    }

    fn chunk_lines(&mut self, file: u32, chunk: u32, lines: u64) {
        self.record_chunk_lines(file, chunk, lines);
    }

    fn lines_by_chunk(&self) -> &[(u32, u32, u64)] {
        &self.chunk_lines
    }

    fn rows(&self) -> usize {
        self.usage.len()
    }

    fn merge(&mut self, other: Stats) {
        self.merge_spare(other);
    }
}

#[cfg(test)]
mod tests {
    use super::cell::tests::{offsets, sample};
    use super::*;

    /// An aggregate of one usage row holding samples at `offsets`.
    fn one_row(offsets: &[u64]) -> Stats {
        let mut stats = Stats::default();
        let key = UsageKey {
            user: stats.users.intern(b"alice"),
            route: 0,
            status: 200,
            error_code: stats.codes.intern(b""),
            source: stats.codes.intern(b""),
            context: 0,
        };
        let mut cell = Cell::new(0);
        for &o in offsets {
            cell.add_sample(sample(o), SAMPLES_PER_ROW);
        }
        stats.usage.insert(key, cell);
        stats
    }

    /// Regression: loading a state merges one aggregate per stored log content; holding the
    /// samples each merge displaced would keep every stored sample in memory.
    #[test]
    fn only_merge_spare_holds_displaced_samples() {
        let mut all = one_row(&[1, 2, 3]);
        for _ in 0..100 {
            all.merge(one_row(&[4, 5, 6]));
        }
        assert!(all.spare.is_empty());
        assert_eq!(
            offsets(&all.usage[&all.usage.keys().next().copied().unwrap()]),
            [1, 2, 3]
        );

        let mut end_of_scan = one_row(&[4, 5, 6]);
        end_of_scan.merge_spare(one_row(&[1, 2, 3]));
        let cell = end_of_scan.usage.values().next().unwrap();
        assert_eq!(offsets(cell), [1, 2, 3]);
        let held: Vec<u64> = end_of_scan
            .spare
            .iter()
            .flatten()
            .filter(|s| !s.request_id.is_empty())
            .map(|s| s.at.offset)
            .collect();
        assert_eq!(held.len(), 3, "{held:?}");
    }
}
