//! What the scanner hands on, and the trait of what it hands it to.
//!
//! The scanner knows nothing of what is kept: it pushes each request, unmatched call and
//! malformed line into a [`Sink`]. The plain aggregate (`aggregate::Stats`) and the hourly
//! rows of `--state` (`state::HourlyRows`) are two sinks, with one meaning each.

use std::net::IpAddr;

use crate::catalog::RouteId;

/// Where a line is in the input: for picking samples deterministically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub file: u32,
    pub offset: u64,
}

impl Position {
    /// After every position of every input.
    pub const END: Position = Position {
        file: u32::MAX,
        offset: u64::MAX,
    };
}

/// Counters of one scan. Everything adds up: `lines = blank + prefiltered + malformed + parsed`,
/// and `parsed = out_of_window + bss_requests + unmatched_requests + unlisted_parsed`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub lines: u64,
    pub blank: u64,
    /// Lines the prefilter proved cannot be calls to the catalog's service (not parsed).
    pub prefiltered: u64,
    pub malformed: u64,
    pub parsed: u64,
    pub out_of_window: u64,
    pub bss_requests: u64,
    pub unmatched_requests: u64,
    /// Parsed requests to APIs not in the catalog.
    pub unlisted_parsed: u64,
    /// Catalog requests whose target needed dot-segment resolution (worth a look).
    pub dot_segments: u64,
    /// Catalog requests whose target needed percent-decoding.
    pub percent_decoded: u64,
    /// Catalog requests without a caller (the field missing, empty or `-`).
    pub bss_without_user: u64,
    /// Catalog requests without a status.
    pub bss_without_status: u64,
}

impl Counters {
    /// What was counted since `before` (a copy of these counters taken earlier).
    pub fn since(&self, before: &Counters) -> Counters {
        Counters {
            lines: self.lines - before.lines,
            blank: self.blank - before.blank,
            prefiltered: self.prefiltered - before.prefiltered,
            malformed: self.malformed - before.malformed,
            parsed: self.parsed - before.parsed,
            out_of_window: self.out_of_window - before.out_of_window,
            bss_requests: self.bss_requests - before.bss_requests,
            unmatched_requests: self.unmatched_requests - before.unmatched_requests,
            unlisted_parsed: self.unlisted_parsed - before.unlisted_parsed,
            dot_segments: self.dot_segments - before.dot_segments,
            percent_decoded: self.percent_decoded - before.percent_decoded,
            bss_without_user: self.bss_without_user - before.bss_without_user,
            bss_without_status: self.bss_without_status - before.bss_without_status,
        }
    }

    /// Every line is one of these: the counts add up when this equals `lines`.
    pub fn accounted(&self) -> u64 {
        self.blank + self.prefiltered + self.malformed + self.parsed
    }
}

impl std::ops::AddAssign for Counters {
    fn add_assign(&mut self, o: Counters) {
        self.lines += o.lines;
        self.blank += o.blank;
        self.prefiltered += o.prefiltered;
        self.malformed += o.malformed;
        self.parsed += o.parsed;
        self.out_of_window += o.out_of_window;
        self.bss_requests += o.bss_requests;
        self.unmatched_requests += o.unmatched_requests;
        self.unlisted_parsed += o.unlisted_parsed;
        self.dot_segments += o.dot_segments;
        self.percent_decoded += o.percent_decoded;
        self.bss_without_user += o.bss_without_user;
        self.bss_without_status += o.bss_without_status;
    }
}

/// One observed request, as the scanner hands it to its sink.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub user: &'a [u8],
    pub user_id: &'a [u8],
    pub route: RouteId,
    pub status: u16,
    pub error_code: &'a [u8],
    pub source: &'a [u8],
    /// The request's context class (see `policy::context`); 0 when no condition needs one.
    pub context: u32,
    pub time: i64,
    pub request_id: &'a [u8],
    /// The client IP when the scan already parsed it.
    pub source_ip: Option<IpAddr>,
    /// The client IP as written, parsed only when this request's IP is kept.
    pub source_ip_raw: &'a [u8],
    pub at: Position,
}

/// Where a scan puts what it reads. A worker owns one sink; the workers' sinks are merged
/// when the scan ends, so [`Sink::merge`] must not depend on which worker read what: kept
/// evidence is chosen by [`Position`], never by arrival order.
pub trait Sink: Send + Default {
    /// The scan's counters, which the scanner updates in place.
    fn counters(&mut self) -> &mut Counters;
    /// One catalog request in the window.
    fn request(&mut self, o: &Observation<'_>);
    /// A request to the service that matched no route, by uppercased method and path shape.
    fn unmatched(&mut self, method: &[u8], shape: &[u8], at: Position, time: i64);
    /// A malformed line (counted; some are kept with their reason).
    fn malformed(
        &mut self,
        file: u32,
        chunk: u32,
        line_in_chunk: u64,
        reason: impl FnOnce() -> String,
    );
    /// How many lines chunk `chunk` of `file` had, for numbering its malformed lines.
    fn chunk_lines(&mut self, file: u32, chunk: u32, lines: u64);
    /// The lines per (file, chunk) recorded so far.
    fn lines_by_chunk(&self) -> &[(u32, u32, u64)];
    /// How many rows the sink holds (the largest of the workers' sinks absorbs the others).
    fn rows(&self) -> usize;
    /// Folds another worker's sink into this one.
    fn merge(&mut self, other: Self);
}
