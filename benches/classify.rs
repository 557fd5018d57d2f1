//! Classification cost per call (ns) over a realistic mix of request targets: BSS routes with
//! ids and query strings, full URLs, odd encodings, and other services' APIs.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use permlens::catalog::Catalog;
use permlens::classify::{Classifier, Scratch};

const MIX: &[(&str, &str)] = &[
    (
        "GET",
        "/v2/orders/customer-orders/details/CS2211281234ABCDE?include=all",
    ),
    (
        "GET",
        "/v2/orders/customer-orders?status=2&offset=0&limit=10",
    ),
    ("POST", "/v2/bills/customer-bills/res-records/query"),
    (
        "GET",
        "/v1.0/0c5d1f7a9e8b4d3c9f0e1a2b3c4d5e6f/customer/account-mgr/bill/monthly-sum?cycle=2026-10",
    ),
    (
        "POST",
        "/v2/orders/subscriptions/resources/autorenew/r-1a2b3c",
    ),
    (
        "DELETE",
        "/v2/orders/subscriptions/resources/autorenew/r-1a2b3c",
    ),
    (
        "GET",
        "https://bss.myhuaweicloud.com/v2/accounts/customer-accounts/balances",
    ),
    ("PUT", "/v2/orders/customer-orders/details/../cancel"),
    ("GET", "/v2/orders/%63ustomer-orders"),
    ("GET", "/v3/0c5d1f7a9e8b4d3c/cloudservers/detail?limit=50"),
    ("POST", "/v2.0/networks"),
    (
        "GET",
        "/v1/0c5d1f7a9e8b4d3c/buckets/logs/objects?prefix=2026/11/27",
    ),
    ("GET", "/v3/auth/tokens"),
    ("POST", "/v4/costs/cost-analysed-bills/query"),
];

fn bench(c: &mut Criterion) {
    let catalog = Catalog::embedded();
    let classifier = Classifier::new(&catalog);
    let mut scratch = Scratch::new();
    // The bench checks what it measures: 10 of the 14 targets are catalog calls.
    let matched = MIX
        .iter()
        .filter(|(m, t)| {
            classifier
                .classify(m.as_bytes(), t.as_bytes(), &mut scratch)
                .route
                .is_some()
        })
        .count();
    assert_eq!(matched, 10);

    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(MIX.len() as u64));
    group.bench_function("realistic_mix", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for (m, t) in MIX {
                let c = classifier.classify(
                    black_box(m.as_bytes()),
                    black_box(t.as_bytes()),
                    &mut scratch,
                );
                hits += u32::from(c.route.is_some());
            }
            hits
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
