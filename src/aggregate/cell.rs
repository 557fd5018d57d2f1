//! One aggregate row's counts and evidence ([`Cell`]), and several cells of a report row
//! added up without copying ([`RowSum`]).
//!
//! A cell keeps the earliest samples in input order, whatever order the workers saw them in,
//! so that merged aggregates keep the same samples for any thread count and chunk size. It
//! counts its requests of one UTC day inline; when its requests change day, the count of the
//! day left is handed to the aggregate's day log (`Stats::day_log`), for the report's denied
//! calls per day.

use std::net::IpAddr;

use super::{Position, SAMPLES_PER_ROW};

/// A request id kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sample {
    pub at: Position,
    pub request_id: Box<str>,
}

impl Sample {
    /// A placeholder that owns no memory.
    fn empty() -> Sample {
        Sample {
            at: Position::END,
            request_id: Box::default(),
        }
    }
}

/// Microseconds in a day.
const DAY: i64 = 86_400_000_000;

/// The UTC day of a time in microseconds, in days since the epoch.
#[inline]
pub fn day_of(micros: i64) -> i32 {
    micros.div_euclid(DAY) as i32
}

/// Midnight (UTC) of a day since the epoch, in microseconds.
pub fn day_start(day: i32) -> i64 {
    i64::from(day) * DAY
}

/// Requests of a row on one UTC day (days since the epoch).
pub type DayCount = (i32, u64);

/// Counts and evidence for one usage row.
#[derive(Debug, Clone)]
pub struct Cell {
    pub count: u64,
    /// Microseconds since the epoch, UTC.
    pub first_seen: i64,
    pub last_seen: i64,
    /// The earliest requests in input order (change them only through `Cell` methods).
    pub samples: Vec<Sample>,
    /// Where the last of `samples` is: kept in the cell, so that deciding whether a request
    /// can still be a sample reads no heap memory (that read was a cache miss per request).
    last_sample: Position,
    /// The client IP of the earliest request, when the log has one.
    pub source_ip: Option<(Position, IpAddr)>,
    /// The day of the requests counted last: `count - elsewhere` of the cell's requests fell
    /// on it. Logs are mostly in time order, so a request nearly always falls on it too.
    day: i32,
    /// Requests counted on other days, which the aggregate's day log holds: where a row's
    /// days are depends on the order requests came in, so [`PartialEq`] leaves it out and
    /// `Stats::day_index` gives the days.
    elsewhere: u64,
}

/// Equal counts, times, samples and client address (the days are the aggregate's).
impl PartialEq for Cell {
    fn eq(&self, other: &Cell) -> bool {
        self.count == other.count
            && self.first_seen == other.first_seen
            && self.last_seen == other.last_seen
            && self.samples == other.samples
            && self.last_sample == other.last_sample
            && self.source_ip == other.source_ip
    }
}

impl Eq for Cell {}

impl Cell {
    pub(super) fn new(time: i64) -> Cell {
        Cell::stored(0, time, time, Vec::new(), None)
    }

    /// A cell from stored parts; `samples` in input order, at most [`SAMPLES_PER_ROW`]. Its
    /// requests are counted on the day of `first_seen` (an hourly row's day).
    pub fn stored(
        count: u64,
        first_seen: i64,
        last_seen: i64,
        samples: Vec<Sample>,
        source_ip: Option<(Position, IpAddr)>,
    ) -> Cell {
        let last_sample = samples.last().map_or(Position::END, |s| s.at);
        Cell {
            count,
            first_seen,
            last_seen,
            samples,
            last_sample,
            source_ip,
            day: day_of(first_seen),
            elsewhere: 0,
        }
    }

    /// Counts one request at `time` (microseconds). When it falls on another day than the
    /// requests before it, returns the requests of the day left, for the day log.
    #[inline]
    #[must_use]
    pub(super) fn count_at(&mut self, time: i64) -> Option<DayCount> {
        let day = day_of(time);
        let left = if day != self.day {
            self.move_to_day(day)
        } else {
            None
        };
        self.count += 1;
        left
    }

    /// Makes `day` the current day; returns the requests of the day left.
    #[cold]
    fn move_to_day(&mut self, day: i32) -> Option<DayCount> {
        let here = self.count - self.elsewhere;
        self.elsewhere = self.count;
        let left = (here > 0).then_some((self.day, here));
        self.day = day;
        left
    }

    /// The requests on the cell's current day (those on other days are in the day log).
    pub fn current_day(&self) -> DayCount {
        (self.day, self.count - self.elsewhere)
    }

    /// Takes in another cell's days; `self.count` already holds its requests. The other
    /// cell's logged days stay logged (for this row); its current day, unless it is this
    /// cell's, is returned for the day log.
    fn fold_days(&mut self, other: &Cell) -> Option<DayCount> {
        self.elsewhere += other.elsewhere;
        let (day, n) = other.current_day();
        if n == 0 || day == self.day {
            return None;
        }
        self.elsewhere += n;
        Some((day, n))
    }

    /// Whether a request at `at` would be kept among `limit` samples.
    #[inline]
    pub(super) fn keeps(&self, at: Position, limit: usize) -> bool {
        self.samples.len() < limit || at < self.last_sample
    }

    /// Keeps `sample` if it is among the first `limit` (by position).
    pub(super) fn add_sample(&mut self, sample: Sample, limit: usize) {
        if self.keeps(sample.at, limit) {
            self.insert_sample(sample, limit);
        }
    }

    /// Inserts a sample that [`Cell::keeps`] says is kept; returns the one it displaces.
    fn insert_sample(&mut self, sample: Sample, limit: usize) -> Option<Sample> {
        // Displace first, so that a full list never grows its buffer.
        let out = if self.samples.len() >= limit {
            self.samples.pop()
        } else {
            None
        };
        // A first insert would allocate room for four; a row never holds more than `limit`
        // (one for each of the many hourly rows of a `--state` run, where the unused room
        // added up).
        self.samples
            .reserve_exact(limit.saturating_sub(self.samples.len()));
        let at = self.samples.binary_search(&sample).unwrap_or_else(|i| i);
        self.samples.insert(at, sample);
        self.last_sample = self.samples.last().map_or(Position::END, |s| s.at);
        out
    }

    /// Adds another cell's counts, time range and client address (all but the samples);
    /// returns a day for the day log, as [`Cell::merge`] does.
    fn fold_counts(&mut self, other: &Cell) -> Option<DayCount> {
        self.count += other.count;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.source_ip = earlier_ip(self.source_ip, other.source_ip);
        self.fold_days(other)
    }

    /// Folds another cell of the same row into this one, cloning only the samples it keeps;
    /// returns a day for the day log, as [`Cell::merge`] does.
    #[must_use]
    pub fn merge_ref(&mut self, other: &Cell) -> Option<DayCount> {
        let left = self.fold_counts(other);
        for s in &other.samples {
            if !self.keeps(s.at, SAMPLES_PER_ROW) {
                break;
            }
            self.add_sample(s.clone(), SAMPLES_PER_ROW);
        }
        left
    }

    /// Folds another cell of the same row into this one. The other cell's requests of its
    /// current day, when that is not this cell's, are returned: the caller logs them for the
    /// row (the other cell's logged days are the row's already).
    #[must_use]
    pub fn merge(&mut self, other: Cell) -> Option<DayCount> {
        self.merge_sparing(other, SAMPLES_PER_ROW, &mut Vec::new())
    }

    /// [`Cell::merge`] for a row that keeps `limit` samples, leaving the samples neither
    /// cell keeps in `spare` instead of freeing them, so that the caller decides when their
    /// memory is released.
    #[must_use]
    pub fn merge_sparing(
        &mut self,
        mut other: Cell,
        limit: usize,
        spare: &mut Vec<Vec<Sample>>,
    ) -> Option<DayCount> {
        let left = self.fold_counts(&other);
        let mut theirs = std::mem::take(&mut other.samples);
        // Both lists are in input order: once one of `other`'s is not kept, no later one is.
        // A kept sample trades places with the one it displaces.
        for slot in &mut theirs {
            if !self.keeps(slot.at, limit) {
                break;
            }
            let sample = std::mem::replace(slot, Sample::empty());
            if let Some(out) = self.insert_sample(sample, limit) {
                *slot = out;
            }
        }
        spare.push(theirs);
        left
    }
}

/// Several cells of one report row added up without copying them: the counts, the time range
/// and the earliest samples, borrowed. Agrees with folding the cells with [`Cell::merge_ref`]
/// (property-tested), without cloning a sample that a later cell displaces.
#[derive(Debug, Clone, Copy)]
pub struct RowSum<'a> {
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The earliest samples in input order; `None`s only at the end.
    samples: [Option<&'a Sample>; SAMPLES_PER_ROW],
    /// The client address of the earliest request that had one.
    pub source_ip: Option<(Position, IpAddr)>,
}

/// The earlier of two (position, client address) pairs.
fn earlier_ip(
    a: Option<(Position, IpAddr)>,
    b: Option<(Position, IpAddr)>,
) -> Option<(Position, IpAddr)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.0 < x.0 { y } else { x }),
        (x, y) => x.or(y),
    }
}

impl<'a> RowSum<'a> {
    pub fn of(cell: &'a Cell) -> RowSum<'a> {
        let mut sum = RowSum {
            count: 0,
            first_seen: cell.first_seen,
            last_seen: cell.last_seen,
            samples: [None; SAMPLES_PER_ROW],
            source_ip: None,
        };
        sum.add(cell);
        sum
    }

    pub fn add(&mut self, cell: &'a Cell) {
        self.count += cell.count;
        self.first_seen = self.first_seen.min(cell.first_seen);
        self.last_seen = self.last_seen.max(cell.last_seen);
        self.source_ip = earlier_ip(self.source_ip, cell.source_ip);
        for s in &cell.samples {
            // The first slot that is empty or holds a later sample takes it; the rest shift.
            let Some(at) = self
                .samples
                .iter()
                .position(|slot| slot.is_none_or(|t| s < t))
            else {
                // Both lists are in input order: no later sample of this cell is kept either.
                break;
            };
            self.samples[at..].rotate_right(1);
            self.samples[at] = Some(s);
        }
    }

    pub fn samples(&self) -> impl Iterator<Item = &'a Sample> + '_ {
        self.samples.iter().map_while(|s| *s)
    }

    /// An owned cell with these counts, samples and client address. Requests per day are not
    /// summed: the cell counts them all on the day of `first_seen` (read them from the
    /// summed cells).
    pub fn to_cell(&self) -> Cell {
        Cell::stored(
            self.count,
            self.first_seen,
            self.last_seen,
            self.samples().cloned().collect(),
            self.source_ip,
        )
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn sample(offset: u64) -> Sample {
        Sample {
            at: Position { file: 0, offset },
            request_id: offset.to_string().into(),
        }
    }

    pub(crate) fn offsets(cell: &Cell) -> Vec<u64> {
        cell.samples.iter().map(|s| s.at.offset).collect()
    }

    /// The `n` smallest of `seen`, in order.
    fn earliest(seen: &[u64], n: usize) -> Vec<u64> {
        let mut all = seen.to_vec();
        all.sort_unstable();
        all.truncate(n);
        all
    }

    /// The cell's cached last position is that of its last sample.
    fn last_is_cached(cell: &Cell) -> bool {
        cell.last_sample == cell.samples.last().map_or(Position::END, |s| s.at)
    }

    #[test]
    fn the_earlier_client_address_wins_and_ties_keep_the_first() {
        let at = |offset| Position { file: 0, offset };
        let ip = |last: u8| IpAddr::from([10, 0, 0, last]);
        let (a, b) = (Some((at(5), ip(1))), Some((at(3), ip(2))));
        assert_eq!(earlier_ip(a, b), b);
        assert_eq!(earlier_ip(b, a), b);
        assert_eq!(earlier_ip(None, a), a);
        assert_eq!(earlier_ip(a, None), a);
        assert_eq!(earlier_ip(a, Some((at(5), ip(9)))), a);
        // Row sums and merged cells agree.
        let mut x = Cell::new(0);
        x.source_ip = a;
        let mut y = Cell::new(0);
        y.source_ip = b;
        let mut sum = RowSum::of(&x);
        sum.add(&y);
        let summed = sum.to_cell();
        let _ = x.merge_ref(&y);
        assert_eq!(summed.source_ip, x.source_ip);
        assert_eq!(x.source_ip, b);
    }

    /// Regression: a first sample allocated room for four, so every hourly row of a
    /// `--state` run (one sample each) held a buffer four times what it kept.
    #[test]
    fn sample_buffers_hold_no_more_than_the_row_keeps() {
        for limit in [1, SAMPLES_PER_ROW] {
            let mut cell = Cell::new(0);
            for o in [9, 3, 7, 1, 5, 2] {
                cell.add_sample(sample(o), limit);
                assert!(cell.samples.capacity() <= limit, "limit {limit}");
            }
            assert_eq!(offsets(&cell), earliest(&[9, 3, 7, 1, 5, 2], limit));
        }
    }

    /// The plain definition of requests per day.
    fn histogram(times: &[i64]) -> Vec<(i32, u64)> {
        let mut days = std::collections::BTreeMap::new();
        for &t in times {
            *days.entry(day_of(t)).or_insert(0u64) += 1;
        }
        days.into_iter().collect()
    }

    /// A cell and the day log its aggregate would hold for it.
    struct Logged {
        cell: Cell,
        log: Vec<DayCount>,
    }

    impl Logged {
        /// Requests per day: the log's and the current day's, added up.
        fn days(&self) -> Vec<DayCount> {
            let mut days = std::collections::BTreeMap::new();
            for &(d, n) in self.log.iter().chain([self.cell.current_day()].iter()) {
                *days.entry(d).or_insert(0u64) += n;
            }
            days.into_iter().filter(|d| d.1 > 0).collect()
        }

        /// Folds `other` in as an aggregate's merge does: its log is the row's, and the day
        /// the merge hands back is logged.
        fn merge(&mut self, other: Logged, by_ref: bool) {
            self.log.extend(other.log);
            let left = if by_ref {
                self.cell.merge_ref(&other.cell)
            } else {
                self.cell.merge(other.cell)
            };
            self.log.extend(left);
        }
    }

    fn counted(times: &[i64]) -> Logged {
        let mut l = Logged {
            cell: Cell::new(times.first().copied().unwrap_or(0)),
            log: Vec::new(),
        };
        for &t in times {
            l.log.extend(l.cell.count_at(t));
        }
        l
    }

    #[test]
    fn days_are_utc_days_before_and_after_the_epoch() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY - 1), 0);
        assert_eq!(day_of(DAY), 1);
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_start(day_of(DAY + 5)), DAY);
    }

    proptest::proptest! {
        /// Requests per day, counted in any order and merged from any split (by value, by
        /// reference), are the plain histogram; cells that saw the same requests are equal
        /// however their days are held.
        #[test]
        fn cells_count_requests_per_day(
            times in proptest::collection::vec(-2 * DAY..5 * DAY, 0..60),
            split in 0usize..60,
        ) {
            let whole = counted(&times);
            proptest::prop_assert_eq!(whole.days(), histogram(&times));
            proptest::prop_assert_eq!(
                whole.days().iter().map(|d| d.1).sum::<u64>(),
                whole.cell.count
            );
            let (a, b) = times.split_at(split.min(times.len()));
            for by_ref in [true, false] {
                let mut merged = counted(b);
                merged.merge(counted(a), by_ref);
                proptest::prop_assert_eq!(merged.days(), histogram(&times));
            }
            let mut reversed: Vec<i64> = times.clone();
            reversed.reverse();
            let mut back = counted(&reversed).cell;
            back.first_seen = whole.cell.first_seen;
            back.last_seen = whole.cell.last_seen;
            proptest::prop_assert_eq!(&back, &whole.cell);
        }
    }

    proptest::proptest! {
        /// Whatever the order requests arrive in (workers take chunks in any order), a cell
        /// keeps the earliest ones, and its cached last position is that of its last sample.
        #[test]
        fn cells_keep_the_earliest_samples(
            mut seen in proptest::collection::hash_set(0u64..1000, 0..20),
            split in 0usize..20,
        ) {
            let seen: Vec<u64> = seen.drain().collect();
            for limit in [1, SAMPLES_PER_ROW] {
                let mut cell = Cell::new(0);
                for &o in &seen {
                    if cell.keeps(sample(o).at, limit) {
                        cell.add_sample(sample(o), limit);
                    }
                }
                proptest::prop_assert_eq!(offsets(&cell), earliest(&seen, limit));
                proptest::prop_assert!(last_is_cached(&cell));
                // Two halves merged agree with one cell that saw everything.
                let (a, b) = seen.split_at(split.min(seen.len()));
                let half = |part: &[u64]| {
                    let mut c = Cell::new(0);
                    part.iter().for_each(|&o| c.add_sample(sample(o), SAMPLES_PER_ROW));
                    c
                };
                let mut merged = half(a);
                let _ = merged.merge_ref(&half(b));
                let whole = earliest(&seen, SAMPLES_PER_ROW);
                proptest::prop_assert_eq!(offsets(&merged), whole.clone());
                proptest::prop_assert!(last_is_cached(&merged));
                // Merging by value agrees, and every sample of the halves is either kept or
                // handed back as spare, exactly once.
                let mut spare = Vec::new();
                let mut moved = half(a);
                let _ = moved.merge_sparing(half(b), SAMPLES_PER_ROW, &mut spare);
                proptest::prop_assert_eq!(offsets(&moved), whole);
                proptest::prop_assert_eq!(moved.last_sample, merged.last_sample);
                let mut all: Vec<u64> = offsets(&moved);
                all.extend(
                    spare
                        .iter()
                        .flatten()
                        .filter(|s| !s.request_id.is_empty())
                        .map(|s| s.at.offset),
                );
                all.sort_unstable();
                // Borrowed sums agree with merged cells.
                let (ha, hb) = (half(a), half(b));
                let mut sum = RowSum::of(&ha);
                sum.add(&hb);
                proptest::prop_assert_eq!(
                    sum.samples().map(|s| s.at.offset).collect::<Vec<_>>(),
                    offsets(&merged)
                );
                proptest::prop_assert_eq!(sum.count, merged.count);
                let mut halves: Vec<u64> = offsets(&half(a));
                halves.extend(offsets(&half(b)));
                halves.sort_unstable();
                proptest::prop_assert_eq!(all, halves);
            }
        }
    }
}
