//! The hot loop allocates nothing per line: once the parser's buffers and the aggregate's keys
//! and strings exist, parsing and scanning more lines of the same kind costs no allocation.
//! Counted by a global allocator that tallies the allocations of the calling thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use permlens::aggregate::Stats;
use permlens::catalog::Catalog;
use permlens::generate::{self, GenFormat, Spec};
use permlens::parse::LogFormat;
use permlens::parse::json::{FieldMap, JsonParser};
use permlens::policy::Snapshot;
use permlens::policy::context::ContextClasses;
use permlens::scan::{Origin, ScanConfig, Scanner};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised thread local,
// which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn generated(format: GenFormat, lines: usize) -> Vec<u8> {
    let catalog = Catalog::embedded();
    let spec = Spec {
        format,
        size: 4 << 20,
        users: 50,
        seed: 3,
        start: 1_795_132_800_000_000,
        days: 2,
        bss_share: generate::DEFAULT_BSS_SHARE,
    };
    generate::first_lines(&catalog, &spec, lines)
}

#[test]
fn parsing_a_json_line_allocates_nothing_once_warm() {
    let log = generated(GenFormat::Json, 2_000);
    let lines: Vec<&[u8]> = log
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut parser = JsonParser::new(&FieldMap::default());
    let mut parse_all = || {
        let mut ok = 0;
        for l in &lines {
            if parser.parse(l, |r| r.time.is_some()).unwrap_or(false) {
                ok += 1;
            }
        }
        ok
    };
    assert_eq!(parse_all(), lines.len(), "every generated line parses");
    let n = allocations_in(|| {
        parse_all();
    });
    assert_eq!(n, 0, "{n} allocations for {} warm lines", lines.len());
}

#[test]
fn scanning_lines_allocates_nothing_once_keys_are_known() {
    scan_without_allocating(GenFormat::Json, LogFormat::Json);
    scan_without_allocating(GenFormat::Apig, LogFormat::Apig);
    scan_without_allocating(GenFormat::Cts, LogFormat::Cts);
}

fn scan_without_allocating(generate: GenFormat, format: LogFormat) {
    let log = generated(generate, 5_000);
    let catalog = Catalog::embedded();
    // A snapshot with time and IP conditions, so requests are split into context classes.
    let snapshot = Snapshot::from_json(
        r#"{"users": [], "groups": [], "policies": [{"name": "p", "document": {"Version": "1.1",
            "Statement": [{"Effect": "Allow", "Action": ["bss:*:view"], "Condition": {
              "IpAddress": {"g:SourceIp": ["10.0.0.0/12"]},
              "DateLessThan": {"g:CurrentTime": ["2026-11-26T00:00:00Z"]}}}]}}]}"#,
        "inline",
    )
    .unwrap();
    let mut cfg = ScanConfig::new(catalog);
    cfg.user_field = Some(permlens::parse::apig::UserField::new("custom_data_log1").unwrap());
    let (dates, nets) = snapshot.context_bounds();
    cfg.context = ContextClasses::new(dates, nets);
    let mut scanner = Scanner::new(&cfg);
    let mut stats = Stats::default();
    let origin = Origin::start(format);
    // Three passes, each later in the input: every key, string and evidence slot (up to three
    // samples per row) then exists. A fourth pass is what the rest of a big log looks like.
    let pass = |k: u64| Origin {
        offset: k * log.len() as u64,
        ..origin
    };
    scanner.scan_lines(&log, pass(0), &mut stats);
    let first = stats.counters;
    assert!(first.bss_requests > 100, "{format:?}: {first:?}");
    scanner.scan_lines(&log, pass(1), &mut stats);
    scanner.scan_lines(&log, pass(2), &mut stats);
    let n = allocations_in(|| {
        scanner.scan_lines(&log, pass(3), &mut stats);
    });
    assert_eq!(stats.counters.bss_requests, 4 * first.bss_requests);
    assert_eq!(
        n, 0,
        "{format:?}: {n} allocations for {} warm lines",
        first.lines
    );
}
