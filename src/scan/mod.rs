//! The hot loop: lines in, aggregates out.
//!
//! [`Scanner::scan_lines`] is a pure function over bytes: it knows nothing of files, threads,
//! progress bars or reports. Per line it counts, prefilters, parses, classifies and folds the
//! request into a [`Sink`]. Parsers and the classifier reuse their buffers, so once warmed up
//! a line costs no allocation unless it creates a new aggregate key or evidence sample.

use std::net::IpAddr;

use crate::catalog::{Catalog, Segment};
use crate::classify::{Classified, Classifier, Memo, Scratch};
use crate::net::parse_ip;
use crate::parse::apig::{ApigParser, UserField};
use crate::parse::clf::ClfParser;
use crate::parse::json::{FieldMap, JsonParser};
use crate::parse::{LogFormat, Malformed, Request};
use crate::policy::context::ContextClasses;

mod prefilter;
pub mod sink;

pub use prefilter::Prefilter;
pub use sink::{Counters, Observation, Position, Sink};

/// Bytes of a plain file per unit of parallel work.
pub const CHUNK_SIZE: u64 = 32 << 20;
/// Lines in a row holding a prefilter hit after which the scan stops searching and reads
/// each next line directly ([`Scanner::scan_dense`]), until one turns out not to pass.
const DENSE_RUN: u32 = 8;
/// The longest line read; longer ones are malformed (chunked reads cannot see past it).
pub const MAX_LINE: u64 = 1 << 20;

/// Everything the scan needs besides the bytes.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub catalog: Catalog,
    pub classifier: Classifier,
    /// `None` disables the prefilter (for testing that it changes nothing).
    pub prefilter: Option<Prefilter>,
    /// Keep requests with `since <= time < until` (microseconds).
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub fields: FieldMap,
    pub user_field: Option<UserField>,
    /// The zone of times written without one (`--timezone`), seconds east of UTC.
    pub timezone: Option<i32>,
    /// Leading path segments removed from request targets before classification
    /// (`--strip-prefix`).
    pub strip_prefixes: Vec<Box<[u8]>>,
    pub context: ContextClasses,
    /// Bytes of a plain file per unit of parallel work.
    pub chunk_size: u64,
    /// The scan feeds `--state`, so a next run resumes after it: a file still being written
    /// leaves its last line without a newline for that run, and a compressed file's tail is
    /// hashed so that the run can tell it is the same file.
    pub resumable: bool,
    /// Lines in a row holding a prefilter hit after which each next line is read without
    /// searching it first (`u32::MAX`: always search; for testing that it changes nothing).
    pub dense_after: u32,
}

impl ScanConfig {
    pub fn new(catalog: Catalog) -> ScanConfig {
        let prefilter = Some(Prefilter::new(&catalog));
        ScanConfig {
            classifier: Classifier::new(&catalog),
            catalog,
            prefilter,
            since: None,
            until: None,
            fields: FieldMap::default(),
            user_field: None,
            timezone: None,
            strip_prefixes: Vec::new(),
            context: ContextClasses::default(),
            chunk_size: CHUNK_SIZE,
            resumable: false,
            dense_after: DENSE_RUN,
        }
    }
}

/// Where the lines being scanned come from.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub file: u32,
    pub chunk: u32,
    /// Byte offset of the first line in the file (decompressed stream for compressed files).
    pub offset: u64,
    /// Index of the first line within the chunk.
    pub line_base: u64,
    pub format: LogFormat,
}

impl Origin {
    /// The start of one in-memory input (file 0, chunk 0): for benches and tests.
    pub fn start(format: LogFormat) -> Origin {
        Origin {
            file: 0,
            chunk: 0,
            offset: 0,
            line_base: 0,
            format,
        }
    }
}

/// Per-worker parsing state.
#[derive(Debug)]
pub struct Scanner<'c> {
    cfg: &'c ScanConfig,
    json: JsonParser,
    apig: ApigParser,
    clf: ClfParser,
    scratch: Scratch,
    bufs: Buffers,
    /// Leading shapes of the routes: segments up to and including the second literal.
    leads: Vec<Vec<Option<Box<[u8]>>>>,
}

impl<'c> Scanner<'c> {
    /// The options the scanner was made with.
    pub fn config(&self) -> &'c ScanConfig {
        self.cfg
    }

    pub fn new(cfg: &'c ScanConfig) -> Scanner<'c> {
        let mut leads: Vec<Vec<Option<Box<[u8]>>>> = Vec::new();
        for r in cfg.catalog.routes() {
            let mut lead = Vec::new();
            let mut literals = 0;
            for s in r.template.segments() {
                match s {
                    Segment::Literal(l) => {
                        lead.push(Some(l.as_bytes().into()));
                        literals += 1;
                    }
                    Segment::Param(_) => lead.push(None),
                    Segment::Glob => break,
                }
                if literals == 2 {
                    break;
                }
            }
            if !leads.contains(&lead) {
                leads.push(lead);
            }
        }
        Scanner {
            cfg,
            json: JsonParser::new(&cfg.fields).with_zone(cfg.timezone),
            apig: ApigParser::new(cfg.user_field.as_ref()).with_zone(cfg.timezone),
            clf: ClfParser::new(cfg.timezone),
            scratch: Scratch::new(),
            bufs: Buffers {
                shape: Vec::with_capacity(256),
                ips: IpCache::new(),
                routes: Memo::new(),
            },
            leads,
        }
    }

    /// Scans whole lines (the last one may lack its newline) into `stats`. Returns the
    /// number of lines.
    ///
    /// With the prefilter, the chunk is searched for possible catalog calls as a whole and
    /// only the lines holding a hit are parsed; the lines in between are only counted (and
    /// checked for length), at memchr speed.
    pub fn scan_lines<S: Sink>(&mut self, bytes: &[u8], origin: Origin, stats: &mut S) -> u64 {
        let cfg: &'c ScanConfig = self.cfg;
        let Some(pf) = cfg.prefilter.as_ref().filter(|pf| !pf.pass_all) else {
            return self.scan_every_line(bytes, origin, stats);
        };
        let words = pf.literals(origin.format);
        let dense_format = matches!(origin.format, LogFormat::Json | LogFormat::Apig);
        let mut n = 0u64;
        let mut pos = 0usize;
        // Lines in a row that held a hit, each starting where the one before ended.
        let mut run = 0u32;
        // Line ends in dense runs, found 64 bytes at a time instead of a search call a line.
        let mut newlines = crate::bytes::positions::Positions::new(bytes, b'\n');
        while pos < bytes.len() {
            if dense_format && run >= cfg.dense_after {
                let end = newlines.next_from(pos).unwrap_or(bytes.len());
                if !self.scan_dense(bytes, pos..end, origin, stats) {
                    // Not a catalog call: the line is read as the search would have read it.
                    if words.is_some_and(|w| w.find(&bytes[..end], pos).is_some()) {
                        self.scan_at(bytes, pos..end, origin, n, stats, false);
                        n += 1;
                    } else {
                        // With its newline: an empty line is a line too.
                        let next = (end + 1).min(bytes.len());
                        self.skim(bytes, pos..next, origin, &mut n, stats);
                        run = 0;
                    }
                } else {
                    n += 1;
                }
                pos = end + 1;
                continue;
            }
            let hit = words.and_then(|w| w.find(bytes, pos));
            let Some(hit) = hit else {
                self.skim(bytes, pos..bytes.len(), origin, &mut n, stats);
                break;
            };
            let start = memchr::memrchr(b'\n', &bytes[pos..hit]).map_or(pos, |i| pos + i + 1);
            run = if start == pos { run + 1 } else { 1 };
            self.skim(bytes, pos..start, origin, &mut n, stats);
            let end = memchr::memchr(b'\n', &bytes[hit..]).map_or(bytes.len(), |i| hit + i);
            self.scan_at(bytes, start..end, origin, n, stats, false);
            n += 1;
            pos = end + 1;
        }
        n
    }

    /// Reads the line `bytes[range]`, which no search looked at, as [`Scanner::scan_at`]
    /// would if it is a call to a catalog route, and returns true; otherwise leaves no trace
    /// and returns false, for the caller to apply the prefilter first.
    ///
    /// What must stay true: a request classified to a route always passes the prefilter (its
    /// raw line holds the route's literal, or an escape that lets every line pass), so for
    /// such a line the search could only have found it; any other outcome is decided by the
    /// caller exactly as the search would have decided it.
    fn scan_dense<S: Sink>(
        &mut self,
        bytes: &[u8],
        range: std::ops::Range<usize>,
        origin: Origin,
        stats: &mut S,
    ) -> bool {
        let at = Position {
            file: origin.file,
            offset: origin.offset + range.start as u64,
        };
        let line = &bytes[range];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Blank, overlong and byte-order-marked lines go the way of every line.
        let json_object = origin.format != LogFormat::Json || line.first() == Some(&b'{');
        if !json_object || line.len() as u64 > MAX_LINE || at.offset == 0 {
            return false;
        }
        let Scanner {
            cfg,
            json,
            apig,
            scratch,
            bufs,
            leads,
            ..
        } = self;
        let handle = |req: &Request<'_>| {
            if req.trace || req.time.is_none() {
                return false;
            }
            let target = strip_prefix(req.target, &cfg.strip_prefixes);
            let classified =
                cfg.classifier
                    .classify_memo(req.method, target, scratch, &mut bufs.routes);
            if classified.route.is_none() {
                return false;
            }
            stats.counters().lines += 1;
            // A request with a time and a route is always folded.
            fold_request(req, at, cfg, scratch, bufs, leads, stats, Some(classified)).is_ok()
        };
        let folded = match origin.format {
            LogFormat::Json => json.parse(line, handle),
            LogFormat::Apig => apig.parse(line, handle),
            _ => return false,
        };
        folded == Ok(true)
    }

    /// The lines of `bytes[range]` (whole lines, the last one may lack its newline) hold no
    /// literal of the prefilter: one memchr3 pass counts them and finds the few with an
    /// escape (`%`, `\\u`), which are parsed; the others are skipped. Overlong lines are
    /// malformed, as they are wherever a line is read, and short whitespace-only ones blank.
    fn skim<S: Sink>(
        &mut self,
        bytes: &[u8],
        range: std::ops::Range<usize>,
        origin: Origin,
        n: &mut u64,
        stats: &mut S,
    ) {
        let to = range.end;
        let mut line = range.start;
        let mut cur = range.start;
        while let Some(i) = memchr::memchr3(b'\n', b'%', b'\\', &bytes[cur..to]) {
            let at = cur + i;
            match bytes[at] {
                b'\n' => {
                    skipped_line(&bytes[line..at], origin, origin.line_base + *n, stats);
                    *n += 1;
                    line = at + 1;
                    cur = line;
                }
                b'\\' if bytes.get(at + 1) != Some(&b'u') => cur = at + 1,
                _ => {
                    let end = memchr::memchr(b'\n', &bytes[at..to]).map_or(to, |j| at + j);
                    self.scan_at(bytes, line..end, origin, *n, stats, false);
                    *n += 1;
                    line = (end + 1).min(to);
                    cur = line;
                }
            }
        }
        if line < to {
            skipped_line(&bytes[line..to], origin, origin.line_base + *n, stats);
            *n += 1;
        }
    }

    /// Scans line `n` of the window `bytes`, which spans `range`.
    fn scan_at<S: Sink>(
        &mut self,
        bytes: &[u8],
        range: std::ops::Range<usize>,
        origin: Origin,
        n: u64,
        stats: &mut S,
        filter: bool,
    ) {
        let at = Position {
            file: origin.file,
            offset: origin.offset + range.start as u64,
        };
        self.scan_line(
            &bytes[range],
            at,
            origin,
            origin.line_base + n,
            stats,
            filter,
        );
    }

    fn scan_every_line<S: Sink>(&mut self, bytes: &[u8], origin: Origin, stats: &mut S) -> u64 {
        let mut n = 0u64;
        let mut pos = 0usize;
        while pos < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
            self.scan_at(bytes, pos..end, origin, n, stats, true);
            n += 1;
            pos = end + 1;
        }
        n
    }

    /// Scans one line (without its newline). `filter`: apply the prefilter to it.
    pub fn scan_line<S: Sink>(
        &mut self,
        line: &[u8],
        at: Position,
        origin: Origin,
        index: u64,
        stats: &mut S,
        filter: bool,
    ) {
        stats.counters().lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Windows tools start files with a byte-order mark; it is not part of the first line.
        let line = if at.offset == 0 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
        } else {
            line
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            stats.counters().blank += 1;
            return;
        }
        if line.len() as u64 > MAX_LINE {
            // Chunked reads cannot see past this length, so no read may accept such a line.
            stats.malformed(origin.file, origin.chunk, index, || {
                format!("line longer than {} bytes", MAX_LINE)
            });
            return;
        }
        if filter
            && let Some(pf) = &self.cfg.prefilter
            && !pf.may_match(line, origin.format)
        {
            stats.counters().prefiltered += 1;
            return;
        }
        let Scanner {
            cfg,
            json,
            apig,
            clf,
            scratch,
            bufs,
            leads,
        } = self;
        let mut handle =
            |req: &Request<'_>| fold_request(req, at, cfg, scratch, bufs, leads, stats, None);
        let result = match origin.format {
            LogFormat::Json | LogFormat::JsonDocument => json.parse(line, &mut handle),
            LogFormat::Apig => apig.parse(line, &mut handle),
            LogFormat::Clf => clf.parse(line, &mut handle),
            LogFormat::Cts | LogFormat::CtsDocument => {
                json.parse_trace(line, &cfg.catalog, &mut handle)
            }
        };
        if let Err(Malformed(reason)) | Ok(Err(Malformed(reason))) = result {
            // A text log's record of traffic that was no HTTP request (the parser refuses
            // it) is other traffic, as the prefilter counts such a line it skips.
            if origin.format == LogFormat::Clf && crate::parse::clf::no_request(line) {
                stats.counters().prefiltered += 1;
            } else {
                stats.malformed(origin.file, origin.chunk, index, || reason);
            }
        }
    }

    /// Reads one gateway record of a JSON document (an element of a batched array) and folds
    /// it in; a record that cannot be read is malformed.
    pub fn scan_record<S: Sink>(
        &mut self,
        bytes: &[u8],
        at: Position,
        origin: Origin,
        index: u64,
        stats: &mut S,
    ) {
        stats.counters().lines += 1;
        let Scanner {
            cfg,
            json,
            scratch,
            bufs,
            leads,
            ..
        } = self;
        let mut handle =
            |req: &Request<'_>| fold_request(req, at, cfg, scratch, bufs, leads, stats, None);
        let result = json.parse_full(bytes, &mut handle);
        if let Err(Malformed(reason)) | Ok(Err(Malformed(reason))) = result {
            stats.malformed(origin.file, origin.chunk, index, || reason);
        }
    }

    /// Scans one request a document reader already parsed (CTS documents hand traces in).
    pub fn scan_parsed<S: Sink>(
        &mut self,
        req: &Request<'_>,
        at: Position,
        origin: Origin,
        index: u64,
        stats: &mut S,
    ) {
        stats.counters().lines += 1;
        let Scanner {
            cfg,
            scratch,
            bufs,
            leads,
            ..
        } = self;
        if let Err(Malformed(reason)) =
            fold_request(req, at, cfg, scratch, bufs, leads, stats, None)
        {
            stats.malformed(origin.file, origin.chunk, index, || reason);
        }
    }
}

/// A worker's reusable buffers besides the classifier's.
#[derive(Debug)]
struct Buffers {
    /// The shape of an unmatched path.
    shape: Vec<u8>,
    ips: IpCache,
    /// Classifications of the paths seen, by method and path.
    routes: Memo,
}

/// [`parse_ip`], and which condition networks hold the address, remembered per text: a caller
/// writes the same few addresses all day. Direct mapped by a hash of the text; a slot holds
/// one text of up to 46 bytes. The networks depend on the scan's [`ContextClasses`], which do
/// not change during a scan.
#[derive(Debug)]
struct IpCache {
    slots: Box<[IpSlot]>,
}

#[derive(Debug, Clone, Copy)]
struct IpSlot {
    len: u8,
    text: [u8; 46],
    ip: Option<IpAddr>,
    networks: u32,
}

impl IpCache {
    const SLOTS: usize = 4096;

    fn new() -> IpCache {
        let empty = IpSlot {
            len: u8::MAX,
            text: [0; 46],
            ip: None,
            networks: 0,
        };
        IpCache {
            slots: vec![empty; Self::SLOTS].into_boxed_slice(),
        }
    }

    fn parse(&mut self, s: &[u8], context: &ContextClasses) -> (Option<IpAddr>, u32) {
        if s.len() > 46 {
            let ip = parse_ip(s);
            return (ip, context.networks(ip));
        }
        // foldhash reads the text a word at a time (a byte-wise FNV was a chain of dependent
        // multiplies, as long as parsing a dotted quad).
        let hash = std::hash::BuildHasher::hash_one(&foldhash::fast::FixedState::with_seed(0), s);
        let slot = &mut self.slots[(hash >> 32) as usize % Self::SLOTS];
        if usize::from(slot.len) != s.len() || !crate::bytes::same(&slot.text[..s.len()], s) {
            slot.len = s.len() as u8;
            slot.text[..s.len()].copy_from_slice(s);
            slot.ip = parse_ip(s);
            slot.networks = context.networks(slot.ip);
        }
        (slot.ip, slot.networks)
    }
}

/// Counts one line the prefilter skipped. It is not parsed (that is the prefilter's speed),
/// but it must look like a line of its file's format, so that garbage is malformed and
/// `--max-bad-ratio` means what it says: a JSON line runs from `{` to `}`, an API Gateway
/// line has at least the fields of its shortest layout. The rest are lines not addressed to
/// the service.
fn skipped_line<S: Sink>(line: &[u8], origin: Origin, index: u64, stats: &mut S) {
    stats.counters().lines += 1;
    // The common case first, two byte compares: a JSON line as gateways write it.
    if !matches!(origin.format, LogFormat::Apig | LogFormat::Clf)
        && line.first() == Some(&b'{')
        && line.last() == Some(&b'}')
        && line.len() as u64 <= MAX_LINE
    {
        stats.counters().prefiltered += 1;
        return;
    }
    if line.len() as u64 > MAX_LINE {
        stats.malformed(origin.file, origin.chunk, index, || {
            format!("line longer than {} bytes", MAX_LINE)
        });
        return;
    }
    // A byte-order mark starts a file written by some Windows tools; it is not content.
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.len() <= 8 && line.iter().all(u8::is_ascii_whitespace) {
        stats.counters().blank += 1;
    } else if looks_like(line, origin.format) {
        stats.counters().prefiltered += 1;
    } else {
        stats.malformed(origin.file, origin.chunk, index, || {
            not_like(line, origin.format)
        });
    }
}

/// The cheap structural check of a skipped line (see [`skipped_line`]).
#[inline]
fn looks_like(line: &[u8], format: LogFormat) -> bool {
    match format {
        LogFormat::Json | LogFormat::JsonDocument | LogFormat::Cts | LogFormat::CtsDocument => {
            let t = line.trim_ascii();
            t.first() == Some(&b'{') && t.last() == Some(&b'}')
        }
        LogFormat::Apig => crate::parse::apig::plausible(line),
        LogFormat::Clf => crate::parse::clf::plausible(line),
    }
}

/// Why a skipped line is not a line of its format.
#[cold]
fn not_like(line: &[u8], format: LogFormat) -> String {
    match format {
        LogFormat::Apig => crate::parse::apig::why_not(line),
        LogFormat::Clf => crate::parse::clf::why_not(line),
        _ => "not a JSON object (the line does not run from { to })".into(),
    }
}

/// Classifies one parsed request and pushes it into the sink: out of the window, a catalog
/// call, an unmatched call to the service, or a call to an API not in the catalog.
/// `known`: the request's classification, when the caller already has it.
#[allow(clippy::too_many_arguments)]
fn fold_request<S: Sink>(
    req: &Request<'_>,
    at: Position,
    cfg: &ScanConfig,
    scratch: &mut Scratch,
    bufs: &mut Buffers,
    leads: &[Vec<Option<Box<[u8]>>>],
    stats: &mut S,
    known: Option<Classified>,
) -> Result<(), Malformed> {
    let Some(time) = req.time else {
        return Err(Malformed(no_time(req.time_text)));
    };
    let c = stats.counters();
    c.parsed += 1;
    if cfg.since.is_some_and(|s| time < s) || cfg.until.is_some_and(|u| time >= u) {
        c.out_of_window += 1;
        return Ok(());
    }
    let route = if req.trace {
        req.trace_route
    } else {
        let classified = known.unwrap_or_else(|| {
            let target = strip_prefix(req.target, &cfg.strip_prefixes);
            cfg.classifier
                .classify_memo(req.method, target, scratch, &mut bufs.routes)
        });
        if classified.route.is_some() {
            c.dot_segments += u64::from(classified.normalized.dot_segments);
            c.percent_decoded += u64::from(classified.normalized.percent_decoded);
        }
        classified.route
    };
    let Some(route) = route else {
        if !req.trace && looks_like_service(req, cfg, scratch, leads) {
            c.unmatched_requests += 1;
            path_shape(scratch, &mut bufs.shape);
            let mut method = [0u8; 16];
            let m = req.method.len().min(16);
            method[..m].copy_from_slice(&req.method[..m]);
            method[..m].make_ascii_uppercase();
            stats.unmatched(&method[..m], &bufs.shape, at, time);
        } else {
            c.unlisted_parsed += 1;
        }
        return Ok(());
    };
    c.bss_requests += 1;
    c.bss_without_user += u64::from(req.user.is_empty());
    c.bss_without_status += u64::from(req.status == 0);
    // Parsing the client IP costs; do it per line only when IP conditions need it.
    let (source_ip, networks) = if cfg.context.needs_ip() {
        bufs.ips.parse(req.source_ip, &cfg.context)
    } else {
        (None, 0)
    };
    stats.request(&Observation {
        user: req.user,
        user_id: req.user_id,
        route,
        status: req.status,
        error_code: req.error_code,
        source: req.response_source,
        context: cfg.context.class_with(time, networks),
        time,
        request_id: req.request_id,
        source_ip,
        source_ip_raw: req.source_ip,
        at,
    });
    Ok(())
}

/// The target without the first of `prefixes` it starts with (`--strip-prefix /prod`: an
/// AWS API Gateway stage, a mount point): only a whole leading segment run is removed.
#[inline]
pub fn strip_prefix<'t>(target: &'t [u8], prefixes: &[Box<[u8]>]) -> &'t [u8] {
    for p in prefixes {
        if let Some(rest) = target.strip_prefix(&**p)
            && matches!(rest.first(), Some(b'/' | b'?') | None)
        {
            return rest;
        }
    }
    target
}

/// Why a request has no time, naming `--timezone` when the time only lacks its zone.
#[cold]
fn no_time(text: &[u8]) -> String {
    if text.is_empty() {
        "no request time (StartUTC, start_time, started_at, time, timestamp, @timestamp, time_local, requestTime, ts ...); name it with --field time=KEY".into()
    } else if crate::parse::time::is_zoneless(text) {
        format!(
            "time {:?} has no zone: name the zone the log writes times in with --timezone (e.g. --timezone +08:00)",
            String::from_utf8_lossy(text)
        )
    } else {
        format!(
            "time {:?} is not a time (expected RFC 3339, dd/Mon/yyyy:HH:MM:SS +zzzz, or epoch seconds/milliseconds)",
            String::from_utf8_lossy(text)
        )
    }
}

/// A request that matched no route but was sent to the catalog's host, or shares a route's
/// leading segments: the sign that the catalog is out of date.
fn looks_like_service(
    req: &Request<'_>,
    cfg: &ScanConfig,
    scratch: &Scratch,
    leads: &[Vec<Option<Box<[u8]>>>],
) -> bool {
    let host = if req.host.is_empty() {
        scratch.host().unwrap_or_default()
    } else {
        req.host
    };
    let host = host.split(|&b| b == b':').next().unwrap_or_default();
    if !host.is_empty()
        && cfg
            .catalog
            .hosts()
            .iter()
            .any(|h| h.as_bytes().eq_ignore_ascii_case(host))
    {
        return true;
    }
    leads.iter().any(|lead| {
        lead.len() <= scratch.len()
            && lead.iter().enumerate().all(|(i, seg)| match seg {
                Some(lit) => scratch.segment(i) == &**lit,
                None => true,
            })
    })
}

/// The normalised path with id-like segments replaced by `{id}`.
fn path_shape(scratch: &Scratch, out: &mut Vec<u8>) {
    const MAX_SEGMENTS: usize = 12;
    out.clear();
    for (i, seg) in scratch.segments().enumerate() {
        if i == MAX_SEGMENTS {
            out.extend_from_slice("/\u{2026}".as_bytes());
            break;
        }
        out.push(b'/');
        if is_id_like(seg) {
            out.extend_from_slice(b"{id}");
        } else {
            out.extend_from_slice(seg);
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
}

/// Ids in paths: anything with a digit that is not a version (`v2`, `v1.0`), and long tokens.
fn is_id_like(seg: &[u8]) -> bool {
    let is_version = seg.len() >= 2
        && (seg[0] == b'v' || seg[0] == b'V')
        && seg[1..].iter().all(|b| b.is_ascii_digit() || *b == b'.')
        && seg[1].is_ascii_digit();
    seg.len() >= 32
        || (seg.iter().any(u8::is_ascii_digit) && !is_version)
        || !seg.iter().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_replace_ids() {
        let mut s = Scratch::new();
        let mut out = Vec::new();
        for (target, want) in [
            (
                "/v2/orders/customer-orders/new-thing/CS2211281234",
                "/v2/orders/customer-orders/new-thing/{id}",
            ),
            ("/v1.0/0c5d1f7a9e8b4d3c/customer/x", "/v1.0/{id}/customer/x"),
            ("/v3/orders/abc", "/v3/orders/abc"),
            ("/", "/"),
        ] {
            s.normalize(target.as_bytes());
            path_shape(&s, &mut out);
            assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }

    #[test]
    fn the_address_cache_agrees_with_parsing() {
        let mut cache = IpCache::new();
        let net = crate::net::IpNet::parse("10.0.0.0/31").unwrap();
        let context = ContextClasses::new(vec![], vec![net]);
        for text in [
            &b"10.0.0.1"[..],
            b"10.0.0.2",
            b"10.0.0.1",
            b"-",
            b"",
            b"10.0.0.1:5678",
        ] {
            let ip = parse_ip(text);
            assert_eq!(cache.parse(text, &context), (ip, context.networks(ip)));
        }
        assert_eq!(cache.parse(b"10.0.0.1", &context).1, 1);
        assert_eq!(cache.parse(b"10.0.0.2", &context).1, 0);
        assert_eq!(cache.parse(b"-", &context).1, 1 << 16);
    }
}
