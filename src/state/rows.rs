//! The hourly rows a `--state` scan keeps: the second [`Sink`] besides the plain aggregate.
//!
//! A stored row must not depend on any snapshot (the snapshot of a later run may have other
//! time or IP conditions), so rows are keyed by input file, hour and client address instead
//! of by context class, and keep one sample each: the first request of the hour. Loading a
//! state folds these rows into a plain [`Stats`], classifying their contexts then.

use crate::aggregate::{Interner, RowKey, Stats, UnmatchedKey, UsageKey, hour_of};
use crate::scan::{Counters, Observation, Position, Sink};

/// Samples an hourly row keeps: its first request, so that the report's earliest requests
/// are the first of the earliest hours.
pub const SAMPLES_PER_HOURLY_ROW: usize = 1;

/// Samples a mapped partial's hourly row keeps (`permlens map`): as many as a plain scan's
/// row, so that the earliest requests of a report from partials are those of a plain scan.
pub const SAMPLES_PER_MAPPED_ROW: usize = crate::aggregate::SAMPLES_PER_ROW;

/// The first request (its position and the user's id) of each user name, over the scans of
/// a file read in parts.
pub type FirstIds = foldhash::HashMap<Box<[u8]>, (Position, Box<str>)>;

/// The key of an hourly row that keeps `N` samples. `row.context` is always 0: the hour
/// stands in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HourKey<const N: usize = SAMPLES_PER_HOURLY_ROW> {
    pub row: UsageKey,
    /// Hours since the epoch (UTC).
    pub hour: u32,
    /// The index of the input file.
    pub file: u32,
    /// The interned (in `codes`) client address, as written.
    pub ip: u32,
}

/// The key of an hourly row of unmatched requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HourUnmatchedKey {
    pub row: UnmatchedKey,
    pub hour: u32,
    pub file: u32,
}

impl<const N: usize> RowKey for HourKey<N> {
    const SAMPLES: usize = N;
    const KEEPS_IP: bool = false;
    type Unmatched = HourUnmatchedKey;

    #[inline]
    fn of(row: UsageKey, o: &Observation<'_>, codes: &mut Interner) -> HourKey<N> {
        HourKey {
            row: UsageKey { context: 0, ..row },
            hour: hour_of(o.time),
            file: o.at.file,
            ip: codes.intern(o.source_ip_raw),
        }
    }

    fn remapped(self, users: &[u32], codes: &[u32]) -> HourKey<N> {
        HourKey {
            row: self.row.remapped(users, codes),
            ip: codes[self.ip as usize],
            ..self
        }
    }

    fn unmatched(row: UnmatchedKey, at: Position, time: i64) -> HourUnmatchedKey {
        HourUnmatchedKey {
            row,
            hour: hour_of(time),
            file: at.file,
        }
    }

    fn unmatched_remapped(key: HourUnmatchedKey, row: UnmatchedKey) -> HourUnmatchedKey {
        HourUnmatchedKey { row, ..key }
    }

    fn unmatched_parts(key: &HourUnmatchedKey) -> UnmatchedKey {
        key.row
    }
}

/// The hourly rows of a scan: the rows of the worker that read the most, and the other
/// workers' rows kept apart, each with the interners its keys refer to.
///
/// The rows are split by file next (`partial::split_by_file`), which adds up equal keys
/// anyway; merging the workers' tables first would hold the largest, one twice its size and
/// the others at once.
#[derive(Debug)]
pub struct HourlyRows<const N: usize = SAMPLES_PER_HOURLY_ROW> {
    /// Every worker's counters, malformed lines and time range, and one worker's rows.
    pub rows: Stats<HourKey<N>>,
    /// The other workers' rows (their counters are in `rows`).
    pub others: Vec<Stats<HourKey<N>>>,
}

impl<const N: usize> Default for HourlyRows<N> {
    fn default() -> Self {
        HourlyRows {
            rows: Stats::default(),
            others: Vec::new(),
        }
    }
}

impl<const N: usize> HourlyRows<N> {
    /// Every part's rows, the first holding the counters.
    pub fn into_parts(self) -> Vec<Stats<HourKey<N>>> {
        let mut parts = self.others;
        parts.insert(0, self.rows);
        parts
    }

    /// Every part folded into one table (for tests and small inputs: it holds the largest
    /// table and the merged one at once).
    pub fn merged(self) -> Stats<HourKey<N>> {
        let mut parts = self.into_parts().into_iter();
        let mut all = parts.next().unwrap_or_default();
        for part in parts {
            all.merge(part);
        }
        all
    }
}

impl<const N: usize> Sink for HourlyRows<N> {
    #[inline]
    fn counters(&mut self) -> &mut Counters {
        &mut self.rows.counters
    }

    #[inline]
    fn request(&mut self, o: &Observation<'_>) {
        self.rows.observe(o);
    }

    fn unmatched(&mut self, method: &[u8], shape: &[u8], at: Position, time: i64) {
        self.rows.unmatched(method, shape, at, time);
    }

    fn malformed(
        &mut self,
        file: u32,
        chunk: u32,
        line_in_chunk: u64,
        reason: impl FnOnce() -> String,
    ) {
        self.rows.malformed(file, chunk, line_in_chunk, reason);
    }

    fn chunk_lines(&mut self, file: u32, chunk: u32, lines: u64) {
        self.rows.record_chunk_lines(file, chunk, lines);
    }

    fn lines_by_chunk(&self) -> &[(u32, u32, u64)] {
        &self.rows.chunk_lines
    }

    fn rows(&self) -> usize {
        self.rows.usage.len()
    }

    fn merge(&mut self, mut other: HourlyRows<N>) {
        self.others.append(&mut other.others);
        let rest = self.rows.absorb_tally(other.rows);
        self.others.push(rest);
    }
}
