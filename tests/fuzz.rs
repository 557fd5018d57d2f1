//! Mutation fuzzing on stable Rust: every parser and loader gets arbitrary bytes and damaged
//! copies of real inputs (bytes flipped, inserted, removed, cut, blocks zeroed or repeated),
//! and must answer with a value or an error, never a panic; a scan must account for every
//! line it was given.
//!
//! CI runs a short budget. A long run, per target:
//! `PERMLENS_FUZZ_CASES=20000 cargo test --release --test fuzz` (about ten minutes a target
//! on two cores; the count is per target).

mod common;

use std::path::{Path, PathBuf};

use permlens::catalog::Catalog;
use permlens::input;
use permlens::parse::apig::ApigParser;
use permlens::parse::json::{FieldMap, JsonParser};
use permlens::parse::{self, FormatChoice};
use permlens::scan::ScanConfig;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PERMLENS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seed(path: &str) -> Vec<u8> {
    std::fs::read(root().join(path)).unwrap()
}

/// One damage to a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Cut(usize),
    Zero(usize, usize),
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b"{".to_vec(),
        b"}".to_vec(),
        b"[".to_vec(),
        b"\"".to_vec(),
        b"\\".to_vec(),
        b"\\u00".to_vec(),
        b"\n".to_vec(),
        b"\r\n".to_vec(),
        b"\0".to_vec(),
        b" ".to_vec(),
        b"-".to_vec(),
        b"%2F".to_vec(),
        b"/../".to_vec(),
        b"\xff\xfe".to_vec(),
        b"9999999999999999999999".to_vec(),
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec(),
        b"{\"traces\":".to_vec(),
        b"GMT+08:00".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
        any::<usize>().prop_map(Mutation::Cut),
        (any::<usize>(), 1usize..512).prop_map(|(i, n)| Mutation::Zero(i, n)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Repeat(i, n)),
    ]
}

fn damage(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let len = b.len().max(1);
        match m {
            Mutation::Flip(i, x) => {
                if !b.is_empty() {
                    b[i % len] ^= x;
                }
            }
            Mutation::Insert(i, bytes) => {
                let at = i % (b.len() + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let at = i % len;
                let end = (at + n).min(b.len());
                if at < end {
                    b.drain(at..end);
                }
            }
            Mutation::Cut(i) => b.truncate(i % len),
            Mutation::Zero(i, n) => {
                let at = i % len;
                let end = (at + n).min(b.len());
                if at < end {
                    b[at..end].fill(0);
                }
            }
            Mutation::Repeat(i, n) => {
                let at = i % len;
                let end = (at + n).min(b.len());
                if at < end {
                    let part = b[at..end].to_vec();
                    b.splice(end..end, part);
                }
            }
        }
    }
    b
}

fn damaged(path: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let bytes = seed(path);
    prop::collection::vec(mutation(), 1..6).prop_map(move |ms| damage(bytes.clone(), &ms))
}

/// Scans one file as analyze would; every line is accounted for.
fn scan_file(path: &Path) {
    let files = input::sniff(&[path.to_path_buf()], FormatChoice::Auto);
    let mut cfg = ScanConfig::new(Catalog::embedded());
    cfg.user_field = Some(permlens::parse::apig::UserField::new("custom_data_log1").unwrap());
    cfg.chunk_size = 1 << 12;
    let (stats, reports): (permlens::aggregate::Stats, _) = input::scan(&files, &cfg, &|_| {});
    let c = stats.counters;
    assert_eq!(c.lines, c.accounted(), "{c:?}");
    for r in &reports {
        assert_eq!(r.counts.lines, r.counts.accounted(), "{r:?}");
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn json_lines_never_panic(line in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        damaged("tests/data/real/apig-lts.jsonl"),
        damaged("samples/logs/gateway-2026-11-26.jsonl").prop_map(|b| b[..b.len().min(4000)].to_vec()),
    ]) {
        let mut p = JsonParser::new(&FieldMap::default()).with_zone(Some(3600));
        let catalog = Catalog::embedded();
        for l in line.split(|&b| b == b'\n') {
            let _ = p.parse(l, |_| ());
            let _ = p.parse_full(l, |_| ());
            let _ = p.parse_trace(l, &catalog, |_| ());
        }
    }

    #[test]
    fn apig_lines_never_panic(line in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        damaged("tests/data/real/apig-joined.log"),
        damaged("tests/data/real/apig-legacy.log"),
    ]) {
        let mut p = ApigParser::new(Some(&permlens::parse::apig::UserField::new("custom_data_log1").unwrap()));
        for l in line.split(|&b| b == b'\n') {
            let _ = p.parse(l, |_| ());
            let _ = parse::apig::line_layout(l);
            let _ = parse::apig::why_not(l);
        }
        let _ = parse::detect(&line);
    }

    #[test]
    fn text_access_log_lines_never_panic(line in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        damaged("tests/data/gateways/nginx-combined.log"),
        damaged("tests/data/gateways/traefik-common.log"),
        damaged("tests/data/gateways/envoy-default.log"),
    ]) {
        let mut p = permlens::parse::clf::ClfParser::new(Some(3600));
        for l in line.split(|&b| b == b'\n') {
            let _ = p.parse(l, |_| ());
            let _ = parse::clf::line_layout(l);
            let _ = parse::clf::plausible(l);
        }
        let _ = parse::detect(&line);
    }

    #[test]
    fn cts_documents_never_panic(doc in prop_oneof![
        damaged("tests/data/real/cts-list-traces.json"),
        damaged("tests/data/real/cts-list-traces-pretty.json"),
        damaged("tests/data/real/cts-old.json"),
        prop::collection::vec(any::<u8>(), 0..300),
    ]) {
        let catalog = Catalog::embedded();
        let mut d = doc.clone();
        let _ = parse::cts::for_each_trace(&mut d, &catalog, None, |_, _| (), |_, _| ());
        let _ = parse::detect(&doc);
    }

    #[test]
    fn damaged_files_are_scanned_and_every_line_accounted(
        which in 0usize..5,
        ms in prop::collection::vec(mutation(), 1..5),
    ) {
        let (path, name) = [
            ("samples/logs/gateway-2026-11-26.jsonl", "g.jsonl"),
            ("samples/logs/apig-2026-11-27.log", "a.log"),
            ("samples/logs/cts-2026-11-25.jsonl.gz", "c.jsonl.gz"),
            ("tests/data/real/cts-list-traces.json.zst", "d.json.zst"),
            ("tests/data/real/obs_CloudTrace_cn-north-4_2025-11-27T10-05-00Z_21d36ced8c8af71e.json.gz", "o.json.gz"),
        ][which];
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), name, &damage(seed(path), &ms));
        scan_file(&p);
    }

    #[test]
    fn snapshots_and_catalogs_never_panic(
        snap in damaged("samples/snapshot.json"),
        cat in damaged("src/catalog/data/bss.json"),
    ) {
        let _ = permlens::policy::Snapshot::from_json(&String::from_utf8_lossy(&snap), "s.json");
        let _ = Catalog::from_json(&String::from_utf8_lossy(&cat), "c.json");
    }

    #[test]
    fn raw_iam_dumps_never_panic(
        which in 0usize..6,
        bytes in prop_oneof![
            damaged("tests/data/real/iam-dump/role_assignments.json"),
            damaged("tests/data/real/iam-dump/roles.json"),
            damaged("tests/data/real/iam-dump/users.json"),
            damaged("tests/data/real/iam-dump/groups/g2/roles.json"),
        ],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump");
        copy_tree(&root().join("tests/data/real/iam-dump"), &dump);
        let target = [
            "role_assignments.json",
            "roles.json",
            "users.json",
            "groups/g2/roles.json",
            "custom_policies.json",
            "groups.json",
        ][which];
        std::fs::write(dump.join(target), &bytes).unwrap();
        if let Ok(imported) = permlens::policy::import::import(&[dump], None) {
            let text = serde_json::to_string(&imported.snapshot).unwrap();
            let _ = permlens::policy::Snapshot::from_json(&text, "out.json");
        }
    }

    #[test]
    fn state_manifests_and_partials_never_panic(
        manifest in prop::collection::vec(mutation(), 1..5),
        partial in prop::collection::vec(mutation(), 1..5),
    ) {
        let (state, _keep) = shared_state();
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read(state.join("manifest.json")).unwrap();
        let bad = damage(text, &manifest);
        let _ = permlens::state::Manifest::parse(&String::from_utf8_lossy(&bad), &dir.path().join("manifest.json"));
        for entry in std::fs::read_dir(state.join("partials")).unwrap() {
            let p = entry.unwrap().path();
            let copy = dir.path().join(p.file_name().unwrap());
            std::fs::write(&copy, damage(std::fs::read(&p).unwrap(), &partial)).unwrap();
            // Under its checksummed name a damaged partial is refused before it is decoded.
            // (The same bytes under a name without a checksum, as partials written before
            // checksums are, reach the Parquet reader, which can abort the process on a
            // corrupt length: seen at 40,000 cases. Such states are not protected.)
            let read = permlens::state::partial::read(&copy);
            let intact = std::fs::read(&copy).unwrap() == std::fs::read(&p).unwrap();
            prop_assert!(intact || read.is_err());
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A state directory made once from the samples, shared by the cases.
fn shared_state() -> (PathBuf, &'static tempfile::TempDir) {
    use std::sync::OnceLock;
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        common::permlens()
            .arg("analyze")
            .arg(root().join("samples/logs"))
            .args([
                "--user-field",
                "custom_data_log1",
                "-q",
                "--progress",
                "never",
            ])
            .arg("--state")
            .arg(dir.path().join("state"))
            .arg("-o")
            .arg(dir.path().join("r"))
            .assert()
            .success();
        dir
    });
    (dir.path().join("state"), dir)
}
