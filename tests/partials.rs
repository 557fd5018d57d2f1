//! `permlens map` and `analyze --partials` through the real binary: logs mapped file by file
//! (as shards or Spark tasks would) and judged from the partials give the report a plain
//! `analyze` of the same logs gives, table by table; what cannot be judged is refused.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::permlens;
use polars::prelude::*;
use predicates::prelude::*;

/// Every CSV table of a report, its lines sorted (values, not order).
fn tables(report: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(report).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "csv") {
            let text = std::fs::read_to_string(&p).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines.sort();
            out.insert(p.file_name().unwrap().to_string_lossy().into_owned(), lines);
        }
    }
    assert!(out.len() >= 8, "a report with its tables: {out:?}");
    out
}

/// Asserts two reports' tables are equal, naming the lines that differ.
fn same_tables(a: &Path, b: &Path) {
    same_tables_but(a, b, &[]);
}

/// [`same_tables`] but for the tables named.
fn same_tables_but(a: &Path, b: &Path, except: &[&str]) {
    let (mut ta, mut tb) = (tables(a), tables(b));
    for name in except {
        ta.remove(*name);
        tb.remove(*name);
    }
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (name, la) in &ta {
        let lb = &tb[name];
        let only_a: Vec<&String> = la.iter().filter(|l| !lb.contains(l)).take(5).collect();
        let only_b: Vec<&String> = lb.iter().filter(|l| !la.contains(l)).take(5).collect();
        assert!(
            la == lb,
            "{name} differs: {} vs {} lines; only in {}: {only_a:#?}; only in {}: {only_b:#?}",
            la.len(),
            lb.len(),
            a.display(),
            b.display()
        );
    }
}

fn summary(report: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap()).unwrap()
}

/// A generated log (with time, IP and MFA conditions in its snapshot) split into `parts`
/// files at arbitrary lines (so an hour's requests span two files), one of them gzipped.
struct Logs {
    _dir: tempfile::TempDir,
    root: PathBuf,
    logs: PathBuf,
    snapshot: PathBuf,
}

fn logs(size: &str, parts: usize) -> Logs {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let all = root.join("all.jsonl");
    let snapshot = root.join("snapshot.json");
    permlens()
        .args([
            "generate", "--size", size, "--users", "40", "--days", "5", "--seed", "9",
        ])
        .arg("--out")
        .arg(&all)
        .arg("--snapshot")
        .arg(&snapshot)
        .assert()
        .success();
    let text = std::fs::read(&all).unwrap();
    std::fs::remove_file(&all).unwrap();
    let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    let logs = root.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let per = lines.len().div_ceil(parts);
    for (i, chunk) in lines.chunks(per).enumerate() {
        let bytes: Vec<u8> = chunk.concat();
        if i == 1 {
            let f = std::fs::File::create(logs.join(format!("gw-{i:02}.log.gz"))).unwrap();
            let mut z = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            z.write_all(&bytes).unwrap();
            z.finish().unwrap();
        } else {
            std::fs::write(logs.join(format!("gw-{i:02}.log")), bytes).unwrap();
        }
    }
    Logs {
        _dir: dir,
        root,
        logs,
        snapshot,
    }
}

impl Logs {
    fn analyze(&self, out: &str, inputs: &[&str]) -> PathBuf {
        let report = self.root.join(out);
        permlens()
            .current_dir(&self.root)
            .arg("analyze")
            .args(inputs)
            .arg("-p")
            .arg(&self.snapshot)
            .args(["--format", "parquet,csv,no-html", "-q", "-o"])
            .arg(&report)
            .assert()
            .success();
        report
    }

    /// Each log file mapped on its own into `maps/<name>` (as one task each).
    fn map_each(&self, maps: &str) -> PathBuf {
        let dir = self.root.join(maps);
        for e in std::fs::read_dir(&self.logs).unwrap() {
            let log = e.unwrap().path();
            let name = log.file_name().unwrap().to_string_lossy().into_owned();
            permlens()
                .current_dir(&self.root)
                .arg("map")
                .arg(Path::new("logs").join(&name))
                .arg("-q")
                .arg("-o")
                .arg(dir.join(&name))
                .assert()
                .success();
        }
        dir
    }
}

#[test]
fn partials_mapped_file_by_file_judge_as_one_plain_analyze() {
    let l = logs("3MiB", 4);
    let plain = l.analyze("plain", &["logs"]);
    l.map_each("maps");
    // The same content mapped again elsewhere (a log copied to a second shard) is counted once.
    permlens()
        .current_dir(&l.root)
        .args(["map", "logs/gw-02.log", "-q", "-o", "shard-b"])
        .assert()
        .success();
    let judged = l.analyze("judged", &["--partials", "maps", "--partials", "shard-b"]);
    same_tables(&plain, &judged);
    let (a, b) = (summary(&plain), summary(&judged));
    assert_eq!(a["findings"], b["findings"]);
    assert_eq!(a["inputs"]["bss_requests"], b["inputs"]["bss_requests"]);
    assert_eq!(
        a["inputs"]["unmatched_requests"],
        b["inputs"]["unmatched_requests"]
    );
    assert_eq!(b["partials"]["files"], 5);
    assert_eq!(b["partials"]["contents"], 4);
    // What the maps read, from their map.json: the lines of every log, and the one mapped
    // twice counted by both maps.
    let maps = &b["partials"]["maps"];
    assert_eq!(maps["maps"], 5, "{maps}");
    assert!(
        maps["lines"].as_u64().unwrap() > a["inputs"]["lines"].as_u64().unwrap(),
        "{maps}"
    );
    assert_eq!(maps["malformed"], a["inputs"]["malformed"], "{maps}");
    assert_eq!(b["partials"]["duplicate_copies"], 1);
    assert!(b["partials"]["duplicate_requests"].as_u64().unwrap() > 0);
    // One map over the whole directory and a glob give the same.
    permlens()
        .current_dir(&l.root)
        .args(["map", "logs", "-q", "-o", "whole"])
        .assert()
        .success();
    let globbed = l.analyze("globbed", &["--partials", "whole/*.parquet"]);
    same_tables(&plain, &globbed);
    // Windows apply as they do to logs. Partials also hold the uses before the window, which
    // a plain run skips: like `--state`, they give unused permissions their last use.
    let since = ["--since", "2026-11-25", "--until", "2026-11-26T12:00:00Z"];
    let plain_w = l.analyze("plain-w", &[&["logs"][..], &since].concat());
    let judged_w = l.analyze("judged-w", &[&["--partials", "maps"][..], &since].concat());
    let last_used = ["group_permissions.csv", "unused_permissions.csv"];
    same_tables_but(&plain_w, &judged_w, &last_used);
    let strip_times = |report: &Path, table: &str| -> Vec<String> {
        let mut lines: Vec<String> = tables(report)[table]
            .iter()
            .map(|l| {
                l.split(',')
                    .map(|f| if f.starts_with("2026-") { "" } else { f })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        lines.sort();
        lines
    };
    for t in last_used {
        assert_eq!(strip_times(&plain_w, t), strip_times(&judged_w, t), "{t}");
    }
    assert!(
        tables(&judged_w)["group_permissions.csv"]
            .iter()
            .any(|l| l.contains(",unused,") && l.contains(",2026-11-2")),
        "an unused grant with its last use before the window"
    );
}

/// Regression: the same partials given under two paths (a map's directory copied, a part
/// copied beside itself) were all counted, doubling every count with exit 0.
#[test]
fn the_same_partials_given_twice_count_once() {
    let l = logs("1MiB", 3);
    let plain = l.analyze("plain", &["logs"]);
    permlens()
        .current_dir(&l.root)
        .args(["map", "logs", "-q", "-o", "whole"])
        .assert()
        .success();
    copy_dir(&l.root.join("whole"), &l.root.join("backup"));
    let part = only_parts(&l.root.join("whole"))[0].clone();
    std::fs::copy(&part, l.root.join("whole").join("part-copy.parquet")).unwrap();
    let judged = l.analyze(
        "judged",
        &["--partials", "whole", "--partials", "backup/*.parquet"],
    );
    same_tables(&plain, &judged);
    let (a, b) = (summary(&plain), summary(&judged));
    assert_eq!(a["inputs"]["bss_requests"], b["inputs"]["bss_requests"]);
    // Three copies in backup/, one beside itself.
    assert_eq!(b["partials"]["duplicate_copies"], 4);
    assert!(b["partials"]["duplicate_requests"].as_u64().unwrap() > 0);
    // A part missing from a map's output (its map.json names it) is an error.
    std::fs::remove_file(only_parts(&l.root.join("backup"))[1].clone()).unwrap();
    permlens()
        .current_dir(&l.root)
        .args(["analyze", "--partials", "backup", "-p"])
        .arg(&l.snapshot)
        .args(["-q", "-o", "missing"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("map.json: files[").and(predicate::str::contains(
                "which is not in backup: copy the map's output whole",
            )),
        );
}

/// Regression: a map cut a just-written file back to its last complete line, as `--state`
/// does to read the rest next run; a map has no next run, so the last request was lost.
#[test]
fn a_map_reads_a_just_written_file_whole() {
    let l = logs("1MiB", 1);
    let log = only_parts_with(&l.logs, "log")[0].clone();
    // A BSS call last, without its newline.
    let text = std::fs::read_to_string(&log).unwrap();
    let call = text
        .lines()
        .rfind(|l| l.contains("\"host\":\"bss."))
        .unwrap()
        .to_owned();
    std::fs::write(&log, text + "{\"broken\n" + &call).unwrap();
    let plain = l.analyze("plain", &["logs"]);
    permlens()
        .current_dir(&l.root)
        .args(["map", "logs", "-q", "-o", "m"])
        .assert()
        .success();
    let judged = l.analyze("judged", &["--partials", "m"]);
    same_tables(&plain, &judged);
    let (a, b) = (summary(&plain), summary(&judged));
    assert_eq!(a["inputs"]["bss_requests"], b["inputs"]["bss_requests"]);
    // The malformed line the map found is in the judge's summary, from map.json.
    assert_eq!(a["inputs"]["malformed"], 1);
    let maps = &b["partials"]["maps"];
    assert_eq!(maps["malformed"], 1, "{maps}");
    assert_eq!(maps["lines"], a["inputs"]["lines"], "{maps}");
    let sample = maps["malformed_samples"][0].as_str().unwrap();
    assert!(
        sample.starts_with("logs/gw-00.log:") && sample.contains("not a JSON object"),
        "{maps}"
    );
}

/// Regression: a reduction whose rows of one copy are spread over several directories (Spark's
/// `partitionBy`) lost all but the first directory's rows; with the maps it came from, each
/// copy still counts once (the map part holding it).
#[test]
fn a_reduction_spread_over_directories_counts_whole_and_once_with_its_maps() {
    let l = logs("1MiB", 2);
    let plain = l.analyze("plain", &["logs"]);
    permlens()
        .current_dir(&l.root)
        .args(["map", "logs", "-q", "-o", "maps"])
        .assert()
        .success();
    // Every part's rows split by hour parity into two directories, as partitionBy would.
    for (i, part) in only_parts(&l.root.join("maps")).iter().enumerate() {
        let df = ParquetReader::new(std::fs::File::open(part).unwrap())
            .finish()
            .unwrap();
        let hours = df.column("hour").unwrap().cast(&DataType::Int64).unwrap();
        let odd: Vec<bool> = hours
            .i64()
            .unwrap()
            .iter()
            .map(|h| h.unwrap() / 3_600_000_000 % 2 == 1)
            .collect();
        let mask = BooleanChunked::from_slice("odd".into(), &odd);
        for (dir, m) in [("hour=odd", mask.clone()), ("hour=even", !&mask)] {
            let mut split = df.filter(&m).unwrap();
            assert!(split.height() > 0);
            let d = l.root.join("reduced").join(dir);
            std::fs::create_dir_all(&d).unwrap();
            let f = std::fs::File::create(d.join(format!("part-{i}.parquet"))).unwrap();
            ParquetWriter::new(f).finish(&mut split).unwrap();
        }
    }
    let reduced = l.analyze("r1", &["--partials", "reduced"]);
    same_tables(&plain, &reduced);
    let both = l.analyze("r2", &["--partials", "reduced", "--partials", "maps"]);
    same_tables(&plain, &both);
    let s = summary(&both);
    assert_eq!(
        s["inputs"]["bss_requests"],
        summary(&plain)["inputs"]["bss_requests"]
    );
    assert_eq!(s["partials"]["duplicate_copies"], 4, "{s}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn only_parts(dir: &Path) -> Vec<PathBuf> {
    only_parts_with(dir, "parquet")
}

/// The files of `dir` with extension `ext`, sorted.
fn only_parts_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    parts.sort();
    parts
}

#[test]
fn map_json_says_what_was_read_and_a_rerun_replaces_the_output() {
    let l = logs("1MiB", 2);
    let out = l.root.join("m");
    for _ in 0..2 {
        permlens()
            .current_dir(&l.root)
            .args(["map", "logs", "-q", "-o", "m"])
            .assert()
            .success();
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("map.json")).unwrap()).unwrap();
    assert_eq!(m["schema_version"], 2);
    assert_eq!(m["files"].as_array().unwrap().len(), 2);
    let parts: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    assert_eq!(parts.len(), 2, "{parts:?}");
    let totals = &m["totals"];
    assert_eq!(
        totals["parsed"].as_u64().unwrap(),
        totals["bss_requests"].as_u64().unwrap()
            + totals["unmatched_requests"].as_u64().unwrap()
            + totals["unlisted_requests"].as_u64().unwrap()
    );
    // The schema: provenance first, signed counts, UTC microsecond times.
    let df = ParquetReader::new(std::fs::File::open(out.join(&parts[0])).unwrap())
        .finish()
        .unwrap();
    let names: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
    assert_eq!(
        &names[..6],
        [
            "schema_version",
            "config",
            "run",
            "file",
            "content",
            "content_bytes"
        ]
    );
    assert_eq!(df.column("count").unwrap().dtype(), &DataType::Int64);
    assert!(matches!(
        df.column("hour").unwrap().dtype(),
        DataType::Datetime(TimeUnit::Microseconds, _)
    ));
    // A directory that is not a map's output is never replaced.
    std::fs::create_dir(l.root.join("precious")).unwrap();
    std::fs::write(l.root.join("precious/notes.txt"), "keep").unwrap();
    permlens()
        .current_dir(&l.root)
        .args(["map", "logs", "-q", "-o", "precious"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not the output of permlens map"));
    assert!(l.root.join("precious/notes.txt").is_file());
}

#[test]
fn name_records_the_source_and_needs_one_file() {
    let l = logs("1MiB", 2);
    permlens()
        .current_dir(&l.root)
        .args([
            "map",
            "logs/gw-00.log",
            "--name",
            "s3a://bucket/gw/gw-00.log",
            "-q",
            "-o",
            "m",
        ])
        .assert()
        .success();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(l.root.join("m/map.json")).unwrap()).unwrap();
    assert_eq!(m["files"][0]["file"], "s3a://bucket/gw/gw-00.log");
    permlens()
        .current_dir(&l.root)
        .args(["map", "logs", "--name", "x", "-q", "-o", "m2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--name names the one log file"));
}

/// Rewrites one column of a partial.
fn rewrite(path: &Path, column: Column) {
    let mut df = ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap();
    df.with_column(column).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    ParquetWriter::new(&mut f).finish(&mut df).unwrap();
}

fn only_part(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap()
}

#[test]
fn partials_of_another_version_options_or_kind_are_refused_naming_the_file() {
    let l = logs("1MiB", 1);
    let map = |out: &str, extra: &[&str]| {
        permlens()
            .current_dir(&l.root)
            .args(["map", "logs", "-q", "-o", out])
            .args(extra)
            .assert()
            .success();
    };
    let judge = |partials: &str| {
        permlens()
            .current_dir(&l.root)
            .args(["analyze", "--partials", partials, "-q", "-o", "r", "-p"])
            .arg(&l.snapshot)
            .assert()
            .code(2)
    };
    // A newer schema version.
    map("v3", &[]);
    let part = only_part(&l.root.join("v3"));
    let n = ParquetReader::new(std::fs::File::open(&part).unwrap())
        .finish()
        .unwrap()
        .height();
    rewrite(&part, Column::new("schema_version".into(), vec![3i32; n]));
    judge("v3").stderr(
        predicate::str::contains("schema_version 3").and(predicate::str::contains(
            part.file_name().unwrap().to_str().unwrap(),
        )),
    );
    // Other parsing options.
    map("other", &["--strip-prefix", "/prod"]);
    judge("other").stderr(predicate::str::contains(
        "another catalog or other parsing options",
    ));
    // A --state partial (schema 1) is not a mapped one.
    permlens()
        .current_dir(&l.root)
        .args(["analyze", "logs", "-q", "--state", "st", "-o", "r0"])
        .assert()
        .success();
    judge("st/partials").stderr(predicate::str::contains("schema 1"));
    // Nothing to read.
    std::fs::create_dir(l.root.join("empty")).unwrap();
    judge("empty").stderr(predicate::str::contains("no partial files"));
    // Not Parquet at all.
    std::fs::create_dir(l.root.join("junk")).unwrap();
    std::fs::write(l.root.join("junk/part-0.parquet"), b"not parquet").unwrap();
    judge("junk").stderr(predicate::str::contains("part-0.parquet"));
}
