//! Ingestion through the library: any thread count and chunk size give the same result, the
//! prefilter changes nothing, and damaged inputs are counted rather than fatal.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use permlens::aggregate::{Counters, Stats};
use permlens::catalog::Catalog;
use permlens::input::{self, FileReport};
use permlens::parse::FormatChoice;
use permlens::report::tables::usage_rows;
use permlens::scan::{ScanConfig, Sink};
use permlens::state::HourlyRows;
use proptest::prelude::*;

/// user, user id, route, status, error code, source, count, first, last, samples.
type UsageCanon = (
    String,
    Option<String>,
    u16,
    u16,
    String,
    String,
    u64,
    i64,
    i64,
    Vec<String>,
);

/// The whole result in a comparable, order-independent form.
/// user, route, status, error code, source -> requests per UTC day (contexts merged).
type DaysCanon = BTreeMap<(String, u16, u16, String, String), BTreeMap<i32, u64>>;

#[derive(Debug, PartialEq)]
struct Canon {
    counters: Counters,
    usage: Vec<UsageCanon>,
    days: DaysCanon,
    unmatched: Vec<(String, String, u64)>,
    malformed: Vec<(u32, u64, String)>,
    window: Option<(i64, i64)>,
}

/// An hourly table as sorted rows of strings and numbers.
fn hourly_canon(
    stats: &permlens::aggregate::Stats<permlens::state::rows::HourKey>,
) -> (Vec<String>, Counters) {
    let mut rows: Vec<String> = stats
        .usage
        .iter()
        .map(|(k, c)| {
            let user_id = stats
                .user_ids
                .get(&k.row.user)
                .map(|(_, id)| id.to_string());
            format!(
                "{} {user_id:?} {} {} {} {} h{} f{} {} n{} {} {} {:?}",
                stats.users.text(k.row.user),
                k.row.route,
                k.row.status,
                stats.codes.text(k.row.error_code),
                stats.codes.text(k.row.source),
                k.hour,
                k.file,
                stats.codes.text(k.ip),
                c.count,
                c.first_seen,
                c.last_seen,
                c.samples
                    .iter()
                    .map(|s| s.request_id.to_string())
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    rows.extend(stats.unmatched.iter().map(|(k, n)| {
        format!(
            "unmatched {} {} h{} f{} n{n}",
            stats.codes.text(k.row.method),
            stats.shapes.text(k.row.shape),
            k.hour,
            k.file
        )
    }));
    rows.sort();
    (rows, stats.counters)
}

fn canon(stats: &Stats) -> Canon {
    let usage = usage_rows(stats)
        .into_iter()
        .map(|r| {
            (
                r.user.into_owned(),
                r.user_id.map(str::to_owned),
                r.route,
                r.status,
                r.error_code.into_owned(),
                r.source.into_owned(),
                r.sum.count,
                r.sum.first_seen,
                r.sum.last_seen,
                r.sum.samples().map(|s| s.request_id.to_string()).collect(),
            )
        })
        .collect();
    let mut unmatched: Vec<_> = stats
        .unmatched
        .iter()
        .map(|(k, &n)| (stats.codes.text(k.method), stats.shapes.text(k.shape), n))
        .collect();
    unmatched.sort();
    let malformed = stats
        .malformed_samples()
        .into_iter()
        .map(|(f, l, r)| (f, l, r.to_owned()))
        .collect();
    Canon {
        counters: stats.counters,
        usage,
        days: days(stats),
        unmatched,
        malformed,
        window: stats.window,
    }
}

/// Every row's requests per day: the cells' current days and the day log, however the
/// workers split the input.
fn days(stats: &Stats) -> DaysCanon {
    let index = stats.day_index();
    let mut out = DaysCanon::new();
    for (k, cell) in &stats.usage {
        let row = (
            stats.users.text(k.user),
            k.route,
            k.status,
            stats.codes.text(k.error_code),
            stats.codes.text(k.source),
        );
        let days = out.entry(row).or_default();
        for (d, n) in index.days(k, cell) {
            *days.entry(d).or_insert(0) += n;
        }
    }
    out
}

fn run(paths: &[PathBuf], threads: usize, chunk: u64, prefilter: bool) -> (Stats, Vec<FileReport>) {
    run_with(paths, threads, chunk, prefilter)
}

/// How [`run_dense`] reads lines besides `dense_after`.
#[derive(Debug, Clone, Copy)]
struct Reading {
    /// `--field user_id=user_id`: every JSON line through the full parser instead of the walk.
    field_override: bool,
    /// `--strip-prefix /prod`.
    strip: bool,
}

/// [`run`] with the prefilter, reading lines without searching them after `dense_after`
/// hits in a row (`u32::MAX`: never), inside a window that leaves some requests out.
fn run_dense(paths: &[PathBuf], chunk: u64, dense_after: u32, reading: Reading) -> Stats {
    let mut cfg = ScanConfig::new(Catalog::embedded());
    cfg.chunk_size = chunk;
    cfg.dense_after = dense_after;
    cfg.user_field = Some(permlens::parse::apig::UserField::new("custom_data_log1").unwrap());
    if reading.field_override {
        cfg.fields.set("user_id=user_id").unwrap();
    }
    if reading.strip {
        cfg.strip_prefixes = vec![b"/prod"[..].into()];
    }
    cfg.since = Some(1_764_028_800_000_000); // 2025-11-25T00:00Z
    cfg.until = Some(1_796_169_600_000_000); // 2026-12-01T00:00Z
    let files = input::sniff(paths, FormatChoice::Auto);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| input::scan(&files, &cfg, &|_| {})).0
}

/// A small deterministic generator for the mixes below.
fn xorshift(seed: u64) -> impl FnMut() -> usize {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as usize
    }
}

/// [`dense_mix`] for API Gateway text lines (the samples' layout): runs of catalog calls,
/// broken by calls to other services, calls the catalog does not list, blank lines, short
/// garbage and lines cut short.
fn apig_mix(n: usize, seed: u64) -> Vec<String> {
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs/apig-2026-11-27.log"),
    )
    .unwrap();
    let template = sample.lines().next().unwrap().to_owned();
    let path = "/v2/orders/customer-orders/details/CS261127000000";
    assert!(template.contains(path) && template.contains(" alice "));
    let mut next = xorshift(seed);
    let mut lines = Vec::new();
    while lines.len() < n {
        for _ in 0..next() % 20 {
            let target = TARGETS[next() % 7].replace("{n}", &(next() % 5).to_string());
            let target = target.split("://").last().unwrap();
            let target = target.find('/').map_or(target, |i| &target[i..]);
            let user = [" alice ", " bob "][next() % 2];
            lines.push(template.replace(path, target).replace(" alice ", user));
        }
        let odd = match next() % 6 {
            0 => template
                .replace(path, "/v1/proj/cloudservers/1")
                .replace("bss.myhuaweicloud.com", "ecs.example.com"),
            1 => template.replace(path, "/v2/orders/customer-orders/new-thing/1"),
            2 => String::new(),
            3 => "garbage".into(),
            4 => template[..template.len() / 2].to_owned(),
            _ => template
                .replace(path, "/v1/proj/x%20y")
                .replace("bss.", "ecs."),
        };
        lines.push(odd);
    }
    lines
}

/// Runs of catalog calls broken by every other kind of line a log holds: calls to other
/// services, calls the catalog does not list, blank and whitespace lines, broken lines with
/// and without a route's literal, escapes, lines without a time, old requests, CRLF endings.
fn dense_mix(n: usize, seed: u64) -> Vec<String> {
    let mut next = xorshift(seed);
    let mut lines = Vec::new();
    while lines.len() < n {
        let run = next() % 20;
        for _ in 0..run {
            let t = lines.len() as u64;
            let mut target = TARGETS[next() % 7].replace("{n}", &(next() % 5).to_string());
            if next().is_multiple_of(4) && target.starts_with('/') {
                target = format!("/prod{target}");
            }
            let mut line = json_line(["alice", "bob"][next() % 2], "GET", &target, 200, t, 0);
            if next().is_multiple_of(9) {
                line.push('\r');
            }
            lines.push(line);
        }
        let t = lines.len() as u64;
        let odd = match next() % 15 {
            0 => json_line("carol", "GET", "/v1/proj/cloudservers/1", 200, t, 0),
            1 => json_line(
                "carol",
                "GET",
                "/v2/orders/customer-orders/new-thing/1",
                200,
                t,
                0,
            ),
            2 => String::new(),
            3 => "   ".into(),
            4 => r#"{"broken": "/v2/orders/customer-orders""#.into(),
            5 => "garbage without any literal".into(),
            6 => r#"{"no":"literal at all"}"#.into(),
            7 => json_line("dave", "GET", "/v1/proj/x%20y", 200, t, 0),
            8 => json_line("dave", "GET", "/v2/orders/customer-orders", 200, t, 2),
            9 => r#"{"method":"GET","uri":"/v2/orders/customer-orders","user":"erin"}"#.into(),
            10 => json_line("erin", "GET", "/v2/orders/customer-orders", 200, t, 0)
                .replace("2026-11-2", "2024-11-2"),
            11 => format!(
                "\u{feff}{}",
                json_line("erin", "GET", "/v2/orders/customer-orders", 200, t, 0)
            ),
            12 => {
                json_line("erin", "GET", "/v2/orders/customer-orders", 200, t, 0).replace('{', "{ ")
            }
            13 => json_line("erin", "GET", "/v2/orders/customer-orders", 200, t, 0)
                .replace("\"method\":\"GET\"", "\"method\":\"GET\\u0000\""),
            _ => "{}".into(),
        };
        lines.push(odd);
    }
    lines
}

/// [`run`] into any sink: `HourlyRows` keeps rows by file, hour and client address as
/// `--state` scans do.
fn run_with<S: Sink>(
    paths: &[PathBuf],
    threads: usize,
    chunk: u64,
    prefilter: bool,
) -> (S, Vec<FileReport>) {
    let mut cfg = ScanConfig::new(Catalog::embedded());
    cfg.chunk_size = chunk;
    cfg.user_field = Some(permlens::parse::apig::UserField::new("custom_data_log1").unwrap());
    cfg.fields.set("user_id=user_id").unwrap();
    if !prefilter {
        cfg.prefilter = None;
    }
    let files = input::sniff(paths, FormatChoice::Auto);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| input::scan(&files, &cfg, &|_| {}))
}

fn samples_logs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

const TARGETS: &[&str] = &[
    "/v2/orders/customer-orders",
    "/v2/orders/customer-orders/details/CS{n}",
    "/v2/orders/customer-orders/details/../cancel",
    "/v2/orders/%63ustomer-orders",
    "/v2/orders/customer%2Dorders/details/X{n}",
    "https://bss.myhuaweicloud.com/v2/accounts/customer-accounts/balances?x={n}",
    "/v2/orders/subscriptions/resources/autorenew/r{n}",
    "/v1.0/dom{n}/payments/intl-invoices",
    "/v2/orders/customer-orders/new-thing/{n}",
    "https://bss-intl.myhuaweicloud.com/v9/other/{n}",
    "/v1/proj/cloudservers/{n}",
    "/v3/auth/tokens",
    "/v2/orders/%2e%2e/orders/customer-orders",
];

/// One JSON line, with optional JSON escaping tricks (`\/`, `\u0063`). A user has two ids
/// (one left out now and then), as a user deleted and created again under the same name.
fn json_line(user: &str, method: &str, target: &str, status: u16, t: u64, escape: u8) -> String {
    let user_id = ["", "id-1", "id-2"][(t % 3) as usize];
    let mut line = format!(
        r#"{{"time":"2026-11-2{}T{:02}:{:02}:00Z","request_id":"r{t}","method":"{method}","uri":"{target}","status":{status},"user":"{user}","user_id":"{user_id}","remote_addr":"10.0.{}.1"}}"#,
        5 + t % 3,
        t % 24,
        t % 60,
        t % 7
    );
    match escape {
        1 => line = line.replace('/', "\\/"),
        2 => line = line.replace("customer", "\\u0063ustomer"),
        _ => {}
    }
    line
}

fn write_log(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    p
}

/// Makes a file look old, so it is memory-mapped rather than read as a live log.
fn age(p: &Path) {
    let f = std::fs::File::options().append(true).open(p).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
}

fn generated(n: usize, seed: u64) -> Vec<String> {
    let users = ["alice", "bob", "carol", "Alice"];
    let methods = ["GET", "POST", "PUT", "DELETE", "get"];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize
    };
    (0..n)
        .map(|i| {
            let r = next();
            if r % 23 == 0 {
                return "{\"broken\": ".to_owned();
            }
            if r % 29 == 0 {
                return String::new();
            }
            let target = TARGETS[next() % TARGETS.len()].replace("{n}", &(next() % 5).to_string());
            json_line(
                users[next() % users.len()],
                methods[next() % methods.len()],
                &target,
                [200, 403, 401, 500][next() % 4],
                i as u64,
                (next() % 3) as u8,
            )
        })
        .collect()
}

/// `n` calls by two users from two addresses over three hours: hourly rows of many requests.
fn crowded_hours(n: usize, seed: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let r = (i as u64).wrapping_mul(seed | 1).rotate_left(17) as usize;
            format!(
                r#"{{"time":"2026-11-25T0{}:{:02}:{:02}Z","request_id":"r{i}","method":"GET","uri":"{}","status":200,"user":"{}","user_id":"id-{}","remote_addr":"10.0.0.{}"}}"#,
                i * 3 / n,
                i % 60,
                r % 60,
                TARGETS[r % 3].replace("{n}", "1"),
                ["alice", "bob"][(r >> 3) % 2],
                (r >> 7) % 3,
                1 + (r >> 5) % 2
            )
        })
        .collect()
}

#[test]
fn samples_scan_the_same_for_any_threads_and_chunk_size() {
    let paths = samples_logs();
    let dir = tempfile::tempdir().unwrap();
    // Copies that look old, so that both the mapped and the read paths are covered.
    let old: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            let q = dir.path().join(p.file_name().unwrap());
            std::fs::copy(p, &q).unwrap();
            age(&q);
            q
        })
        .collect();
    let (a, _) = run(&old, 2, 64, true);
    let (base, _) = run(&paths, 1, 1 << 30, true);
    let want = canon(&base);
    let mut mapped = canon(&a);
    // Positions are the same, file names differ only in directory: compare the values.
    mapped.malformed.clone_from(&want.malformed);
    assert_eq!(mapped, want);
    assert!(want.counters.bss_requests > 100);
    for (threads, chunk) in [(2, 1), (2, 7), (2, 64), (1, 333), (2, 4096), (3, 1 << 20)] {
        let (stats, _) = run(&paths, threads, chunk, true);
        assert_eq!(canon(&stats), want, "threads {threads}, chunk {chunk}");
    }
}

#[test]
fn reading_dense_runs_directly_changes_nothing_on_the_samples() {
    let paths = samples_logs();
    let reading = Reading {
        field_override: false,
        strip: false,
    };
    for chunk in [4096, 1 << 20] {
        let searched = run_dense(&paths, chunk, u32::MAX, reading);
        let dense = run_dense(&paths, chunk, 1, reading);
        assert_eq!(dense.counters, searched.counters);
        assert_eq!(canon(&dense), canon(&searched));
        assert!(searched.counters.prefiltered > 0 && searched.counters.bss_requests > 0);
    }
}

#[test]
fn prefilter_changes_no_result_on_the_samples() {
    let paths = samples_logs();
    let (with, _) = run(&paths, 2, 4096, true);
    let (without, _) = run(&paths, 2, 4096, false);
    let (a, b) = (canon(&with), canon(&without));
    assert_eq!(a.usage, b.usage);
    assert_eq!(a.unmatched, b.unmatched);
    assert_eq!(a.counters.bss_requests, b.counters.bss_requests);
    assert!(a.counters.prefiltered > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn parallel_equals_sequential(seed in any::<u64>(), n in 1usize..400, chunk in 1u64..2000, threads in 1usize..4, mapped in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let p = write_log(dir.path(), "g.jsonl", &generated(n, seed));
        if mapped {
            age(&p);
        }
        let (seq, _) = run(std::slice::from_ref(&p), 1, 1 << 30, true);
        let (par, _) = run(&[p], threads, chunk, true);
        prop_assert_eq!(canon(&seq), canon(&par));
    }

    /// Regression: merging the workers' aggregates kept up to three samples of an hourly
    /// row (which keeps one), so the samples a `--state` report showed depended on how the
    /// workers had split the input. Regression: a user seen with two ids was reported (and
    /// stored) with the first id the first-merged worker had seen, not the earliest.
    #[test]
    fn partitioned_parallel_equals_sequential(seed in any::<u64>(), n in 1usize..400, chunk in 1u64..2000, threads in 2usize..4) {
        let dir = tempfile::tempdir().unwrap();
        let p = write_log(dir.path(), "g.jsonl", &crowded_hours(n, seed));
        let (seq, _): (HourlyRows, _) = run_with(std::slice::from_ref(&p), 1, 1 << 30, true);
        let (par, _): (HourlyRows, _) = run_with(std::slice::from_ref(&p), threads, chunk, true);
        // The workers' rows are kept apart; split into stored rows, or folded, they are one
        // scan's.
        let (seq_again, _): (HourlyRows, _) = run_with(std::slice::from_ref(&p), 1, 1 << 30, true);
        let (par_again, _): (HourlyRows, _) = run_with(&[p], threads, chunk, true);
        let catalog = Catalog::embedded();
        prop_assert_eq!(
            permlens::state::rows_by_file(seq_again, &catalog),
            permlens::state::rows_by_file(par_again, &catalog)
        );
        let (seq, par) = (seq.merged(), par.merged());
        prop_assert!(par.usage.values().all(|c| c.samples.len() <= 1));
        prop_assert_eq!(hourly_canon(&seq), hourly_canon(&par));
    }

    /// Reading lines without searching them, once hits come in a row, gives what searching
    /// every line gives: the same rows, samples, counters and malformed lines; JSON lines
    /// through the walk or the full parser, with and without `--strip-prefix`, and API
    /// Gateway lines.
    #[test]
    fn reading_dense_runs_directly_changes_nothing(seed in any::<u64>(), n in 1usize..600, chunk in 64u64..5000, after in 1u32..10, mapped in any::<bool>(), field_override in any::<bool>(), strip in any::<bool>(), apig in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let p = if apig {
            write_log(dir.path(), "g.log", &apig_mix(n, seed))
        } else {
            write_log(dir.path(), "g.jsonl", &dense_mix(n, seed))
        };
        if mapped {
            age(&p);
        }
        let reading = Reading { field_override, strip };
        let searched = run_dense(std::slice::from_ref(&p), chunk, u32::MAX, reading);
        let dense = run_dense(&[p], chunk, after, reading);
        prop_assert_eq!(&dense.counters, &searched.counters);
        prop_assert_eq!(canon(&dense), canon(&searched));
        prop_assert_eq!(days(&dense), days(&searched));
    }

    #[test]
    fn prefilter_never_drops_a_catalog_call(seed in any::<u64>(), n in 1usize..300) {
        let dir = tempfile::tempdir().unwrap();
        let p = write_log(dir.path(), "g.jsonl", &generated(n, seed));
        let (with, _) = run(std::slice::from_ref(&p), 2, 512, true);
        let (without, _) = run(&[p], 2, 512, false);
        let (a, b) = (canon(&with), canon(&without));
        prop_assert_eq!(a.usage, b.usage);
        prop_assert_eq!(a.unmatched, b.unmatched);
        prop_assert_eq!(a.counters.bss_requests, b.counters.bss_requests);
        prop_assert_eq!(a.counters.unmatched_requests, b.counters.unmatched_requests);
    }
}

#[test]
fn mapped_and_read_files_give_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let lines = generated(3000, 5);
    let live = write_log(dir.path(), "live.jsonl", &lines);
    let old = write_log(dir.path(), "old.jsonl", &lines);
    age(&old);
    let files = input::sniff(&[live.clone(), old.clone()], FormatChoice::Auto);
    assert!(files[0].live && !files[1].live);
    let (a, _) = run(&[live], 2, 4096, true);
    let (b, _) = run(&[old], 2, 4096, true);
    assert_eq!(canon(&a).usage, canon(&b).usage);
    assert_eq!(a.counters, b.counters);
}

/// Sniffs, lets `change` alter the file, then scans: the file changes between the two.
fn scan_after(p: &Path, change: impl FnOnce(&Path)) -> (Stats, Vec<FileReport>) {
    let mut cfg = ScanConfig::new(Catalog::embedded());
    cfg.chunk_size = 1 << 12;
    let files = input::sniff(&[p.to_path_buf()], FormatChoice::Auto);
    change(p);
    input::scan(&files, &cfg, &|_| {})
}

#[test]
fn a_live_file_that_grows_or_shrinks_is_read_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let lines = generated(2000, 9);
    let p = write_log(dir.path(), "live.jsonl", &lines);
    // Appended after the run started: the new lines wait for the next run.
    let (grown, reports) = scan_after(&p, |p| {
        let mut f = std::fs::File::options().append(true).open(p).unwrap();
        writeln!(
            f,
            "{}",
            json_line("alice", "GET", "/v2/orders/customer-orders", 200, 1, 0)
        )
        .unwrap();
        write!(f, "{{\"partial").unwrap();
    });
    assert_eq!(grown.counters.lines, 2000);
    assert!(reports[0].error.is_none() && reports[0].warnings.is_empty());
    // Truncated (copytruncate) mid-run: the complete lines still there are counted.
    let (shrunk, reports) = scan_after(&p, |p| {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_len(100_000).unwrap();
    });
    assert!(shrunk.counters.lines < 2000 && shrunk.counters.lines > 100);
    // Every malformed line is counted; up to five per file are sampled.
    assert_eq!(
        shrunk
            .counters
            .malformed
            .min(permlens::aggregate::MALFORMED_SAMPLES_PER_FILE as u64),
        canon(&shrunk).malformed.len() as u64
    );
    assert!(reports[0].error.is_none());
    assert!(
        reports[0]
            .warnings
            .iter()
            .any(|w| w.contains("shrank while it was read")),
        "{:?}",
        reports[0].warnings
    );
}

#[test]
fn a_mapped_file_that_shrinks_fails_the_run_instead_of_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_log(dir.path(), "old.jsonl", &generated(5000, 13));
    age(&p);
    let (_, reports) = scan_after(&p, |p| {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_len(10_000).unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
    });
    let err = reports[0]
        .error
        .as_deref()
        .expect("the run must fail for this file");
    assert!(err.contains("shrank while it was read"), "{err}");
}

#[test]
fn crlf_line_ends_and_a_byte_order_mark_are_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..5)
        .map(|i| json_line("alice", "GET", "/v2/orders/customer-orders", 200, i, 0))
        .collect();
    let p = dir.path().join("win.jsonl");
    std::fs::write(&p, format!("\u{feff}{}\r\n", lines.join("\r\n"))).unwrap();
    let (stats, reports) = run(&[p], 2, 64, true);
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(stats.counters.bss_requests, 5);
    assert_eq!(stats.counters.malformed, 0);
}

#[test]
fn escaped_and_encoded_targets_are_classified() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..3)
        .map(|e| {
            json_line(
                "alice",
                "GET",
                "/v2/orders/customer-orders",
                200,
                e as u64,
                e,
            )
        })
        .chain([json_line(
            "alice",
            "PUT",
            "/v2/orders/customer-orders/details/../cancel",
            200,
            9,
            0,
        )])
        .collect();
    let p = write_log(dir.path(), "e.jsonl", &lines);
    let (stats, _) = run(&[p], 1, 1 << 20, true);
    assert_eq!(stats.counters.bss_requests, 4);
    assert_eq!(stats.counters.dot_segments, 1);
    assert_eq!(stats.counters.malformed, 0);
}

#[test]
fn truncated_gzip_is_read_up_to_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let lines = generated(2000, 3);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for l in &lines {
        writeln!(enc, "{l}").unwrap();
    }
    let gz = enc.finish().unwrap();
    let whole = dir.path().join("whole.jsonl.gz");
    std::fs::write(&whole, &gz).unwrap();
    let cut = dir.path().join("cut.jsonl.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let (full, reports) = run(&[whole], 2, 1 << 20, true);
    assert!(reports[0].warnings.is_empty());
    let (part, reports) = run(&[cut], 2, 1 << 20, true);
    assert_eq!(reports[0].warnings.len(), 1, "{:?}", reports[0].warnings);
    assert!(
        reports[0].warnings[0].contains("corrupt or truncated"),
        "{:?}",
        reports[0].warnings
    );
    assert!(part.counters.lines > 0 && part.counters.lines < full.counters.lines);
    assert_eq!(full.counters.lines, 2000);
}

#[test]
fn zstd_and_plain_give_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let lines = generated(500, 11);
    let plain = write_log(dir.path(), "p.jsonl", &lines);
    let zst = dir.path().join("p.jsonl.zst");
    std::fs::write(
        &zst,
        zstd::encode_all(std::fs::read(&plain).unwrap().as_slice(), 3).unwrap(),
    )
    .unwrap();
    let (a, _) = run(&[plain], 2, 100, true);
    let (b, _) = run(&[zst], 2, 100, true);
    assert_eq!(canon(&a).usage, canon(&b).usage);
    assert_eq!(a.counters, b.counters);
}

#[test]
fn unknown_formats_are_file_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_log(
        dir.path(),
        "notes.txt",
        &["hello world".to_owned(), "second line".to_owned()],
    );
    let (stats, reports) = run(&[p], 1, 1 << 20, true);
    assert!(
        reports[0]
            .error
            .as_deref()
            .unwrap()
            .contains("matches no known log format")
    );
    assert_eq!(stats.counters.lines, 0);
}

#[test]
fn overlong_lines_are_malformed_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!(
        "{{\"time\":\"2026-11-27T00:00:00Z\",\"method\":\"GET\",\"uri\":\"/v2/orders/customer-orders?{}\"}}",
        "x".repeat(1_100_000)
    );
    let ok = json_line("alice", "GET", "/v2/orders/customer-orders", 200, 1, 0);
    let p = write_log(dir.path(), "long.jsonl", &[ok.clone(), long, ok]);
    for chunk in [64, 1 << 20, 1 << 30] {
        let (stats, _) = run(std::slice::from_ref(&p), 2, chunk, true);
        assert_eq!(stats.counters.lines, 3, "chunk {chunk}");
        assert_eq!(stats.counters.bss_requests, 2, "chunk {chunk}");
        assert_eq!(stats.counters.malformed, 1, "chunk {chunk}");
    }
}
