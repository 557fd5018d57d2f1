//! Benchmarks of the pipeline's stages over generated logs, each checking what it measures:
//! JSON line extraction, API Gateway line parsing, policy decisions, and the whole in-memory
//! scan of 100k and 1M lines (bytes/s).
//!
//! `cargo bench --bench pipeline`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use permlens::aggregate::Stats;
use permlens::catalog::Catalog;
use permlens::generate::{self, GenFormat, Spec};
use permlens::parse::LogFormat;
use permlens::parse::apig::ApigParser;
use permlens::parse::json::{FieldMap, JsonParser};
use permlens::policy::Snapshot;
use permlens::scan::{Origin, ScanConfig, Scanner};

fn logs(format: GenFormat, lines: u64) -> Vec<u8> {
    let catalog = Catalog::embedded();
    // Generate a little more than needed, then keep exactly `lines` lines.
    let spec = Spec {
        format,
        size: lines * 700 + (1 << 20),
        users: 300,
        seed: 7,
        start: 1_795_132_800_000_000,
        days: 7,
        bss_share: generate::DEFAULT_BSS_SHARE,
    };
    generate::first_lines(&catalog, &spec, lines as usize)
}

fn scan(cfg: &ScanConfig, bytes: &[u8], format: LogFormat) -> Stats {
    let mut scanner = Scanner::new(cfg);
    let mut stats = Stats::default();
    let origin = Origin::start(format);
    scanner.scan_lines(bytes, origin, &mut stats);
    stats
}

fn bench_lines(c: &mut Criterion) {
    let json = logs(GenFormat::Json, 10_000);
    let apig = logs(GenFormat::Apig, 10_000);
    let mut g = c.benchmark_group("parse_line");
    let json_lines: Vec<&[u8]> = json
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let apig_lines: Vec<&[u8]> = apig
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!((json_lines.len(), apig_lines.len()), (10_000, 10_000));
    let mut parser = JsonParser::new(&FieldMap::default());
    let ok = json_lines
        .iter()
        .filter(|l| parser.parse(l, |r| r.time.is_some()).unwrap_or(false))
        .count();
    assert_eq!(ok, 10_000, "every generated JSON line parses, with a time");
    g.throughput(Throughput::Elements(json_lines.len() as u64));
    g.bench_function("json", |b| {
        b.iter(|| {
            json_lines
                .iter()
                .filter(|l| parser.parse(black_box(l), |r| r.status).is_ok())
                .count()
        })
    });
    // The same lines through simd-json alone: what the flat fast path saves.
    g.bench_function("json_full", |b| {
        b.iter(|| {
            json_lines
                .iter()
                .filter(|l| parser.parse_full(black_box(l), |r| r.status).is_ok())
                .count()
        })
    });
    let mut apig_parser = ApigParser::new(Some(
        &permlens::parse::apig::UserField::new("custom_data_log1").unwrap(),
    ));
    let ok = apig_lines
        .iter()
        .filter(|l| {
            apig_parser
                .parse(l, |r| !r.user.is_empty())
                .unwrap_or(false)
        })
        .count();
    assert_eq!(ok, 10_000, "every generated APIG line parses, with a user");
    g.throughput(Throughput::Elements(apig_lines.len() as u64));
    g.bench_function("apig", |b| {
        b.iter(|| {
            apig_lines
                .iter()
                .filter(|l| apig_parser.parse(black_box(l), |r| r.status).is_ok())
                .count()
        })
    });
    g.finish();
}

fn bench_decide(c: &mut Criterion) {
    let catalog = Catalog::embedded();
    let snap = Snapshot::from_json(&generate::snapshot(300, 7).to_string(), "generated").unwrap();
    let users: Vec<String> = (1..=300).map(|i| format!("user-{i:04}")).collect();
    let codes = catalog.permissions();
    let t = jiff::Timestamp::from_second(1_795_132_800).ok();
    let ip = "10.1.2.3".parse().ok();
    let allowed = users
        .iter()
        .flat_map(|u| codes.iter().map(move |c| (u, c)))
        .filter(|(u, c)| snap.decide(u, c, t, ip).outcome == permlens::policy::Outcome::Allow)
        .count();
    assert!(
        allowed > 300,
        "the generated snapshot grants something: {allowed}"
    );
    let mut g = c.benchmark_group("policy");
    g.throughput(Throughput::Elements((users.len() * codes.len()) as u64));
    g.bench_function("decide_all_users_codes", |b| {
        b.iter(|| {
            users
                .iter()
                .flat_map(|u| codes.iter().map(move |c| (u, c)))
                .filter(|(u, c)| {
                    snap.decide(black_box(u), c, t, ip).outcome == permlens::policy::Outcome::Allow
                })
                .count()
        })
    });
    g.finish();
}

fn bench_scan(c: &mut Criterion) {
    let cfg = {
        let mut cfg = ScanConfig::new(Catalog::embedded());
        cfg.user_field = Some(permlens::parse::apig::UserField::new("custom_data_log1").unwrap());
        cfg
    };
    let mut g = c.benchmark_group("scan");
    g.sample_size(10);
    for lines in [100_000u64, 1_000_000] {
        for (format, log_format) in [
            (GenFormat::Json, LogFormat::Json),
            (GenFormat::Apig, LogFormat::Apig),
        ] {
            let bytes = logs(format, lines);
            let stats = scan(&cfg, &bytes, log_format);
            let c = stats.counters;
            assert_eq!(c.lines, lines);
            assert_eq!(c.malformed, 0);
            assert_eq!(c.lines, c.blank + c.prefiltered + c.malformed + c.parsed);
            // About 30% of generated requests call the catalog.
            let share = c.bss_requests as f64 / lines as f64;
            assert!((0.27..0.33).contains(&share), "{format:?}: {share}");
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("{format:?}").to_lowercase(), lines),
                &bytes,
                |b, bytes| {
                    b.iter(|| {
                        scan(&cfg, black_box(bytes), log_format)
                            .counters
                            .bss_requests
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench_lines, bench_decide, bench_scan);
criterion_main!(benches);
