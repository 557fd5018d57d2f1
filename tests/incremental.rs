//! Nightly operation through the real binary: `--state` runs over logs that grow, rotate and
//! get compressed equal one full run over the same content; a killed run leaves usable state;
//! locks work across processes; snapshot history and the change report.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::permlens;
use predicates::prelude::*;

/// A generated log (3 days, with time/IP/MFA conditions in its snapshot), split by day.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    snapshot: PathBuf,
    /// Three parts: the first day, the second, the rest.
    days: Vec<Vec<u8>>,
    by_day: BTreeMap<String, Vec<u8>>,
}

fn fixture(size: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let log = root.join("all.jsonl");
    let snapshot = root.join("snapshot.json");
    permlens()
        .args(["generate", "--size", size, "--users", "40", "--days", "3"])
        .arg("--out")
        .arg(&log)
        .arg("--snapshot")
        .arg(&snapshot)
        .assert()
        .success();
    let text = std::fs::read(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    let mut by_day: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for line in text.split_inclusive(|&b| b == b'\n') {
        let at = memchr_find(line, b"\"@timestamp\":\"").expect("generated lines have a time");
        let day = String::from_utf8(line[at + 14..at + 24].to_vec()).unwrap();
        by_day.entry(day).or_default().extend_from_slice(line);
    }
    assert!(by_day.len() >= 3, "at least three days of logs");
    let mut parts = by_day.values();
    let mut days = vec![parts.next().unwrap().clone(), parts.next().unwrap().clone()];
    days.push(parts.flatten().copied().collect());
    Fixture {
        _dir: dir,
        root,
        snapshot,
        days,
        by_day,
    }
}

impl Fixture {
    /// A directory `name` holding the given days as `day<i>.log`.
    fn logs_with_days(&self, name: &str, days: std::ops::Range<usize>) -> PathBuf {
        let logs = self.root.join(name);
        std::fs::create_dir_all(&logs).unwrap();
        for i in days {
            std::fs::write(logs.join(format!("day{i}.log")), &self.days[i]).unwrap();
        }
        logs
    }
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn halves(b: &[u8]) -> (&[u8], &[u8]) {
    let mid = b.len() / 2;
    let cut = mid + b[mid..].iter().position(|&c| c == b'\n').unwrap() + 1;
    b.split_at(cut)
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

fn gzip(from: &Path, to: &Path) {
    let data = std::fs::read(from).unwrap();
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&data).unwrap();
    enc.finish().unwrap();
    std::fs::remove_file(from).unwrap();
}

fn analyze(logs: &Path, snapshot: &Path, out: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = permlens();
    cmd.arg("analyze")
        .arg(logs)
        .arg("-p")
        .arg(snapshot)
        .args(["--format", "csv", "--progress", "never", "-o"])
        .arg(out)
        .args(extra);
    cmd
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// Every table of a CSV report as sorted rows, without the sample request ids (which are the
/// earliest in input order, and the order of files differs between the runs compared).
fn tables(out: &Path) -> BTreeMap<String, Vec<String>> {
    let mut t = BTreeMap::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".csv") && name != "changes.csv" {
            let mut r = csv::Reader::from_path(&p).unwrap();
            let headers = r.headers().unwrap().clone();
            let keep: Vec<usize> = (0..headers.len())
                .filter(|&i| &headers[i] != "sample_request_ids")
                .collect();
            let mut rows: Vec<String> = r
                .records()
                .map(|rec| {
                    let rec = rec.unwrap();
                    keep.iter().map(|&i| &rec[i]).collect::<Vec<_>>().join(",")
                })
                .collect();
            rows.sort();
            t.insert(name, rows);
        }
    }
    for entry in std::fs::read_dir(out.join("policies"))
        .into_iter()
        .flatten()
    {
        let p = entry.unwrap().path();
        t.insert(
            format!("policies/{}", p.file_name().unwrap().to_string_lossy()),
            vec![std::fs::read_to_string(&p).unwrap()],
        );
    }
    t
}

/// One run without state over files holding `contents`.
fn full_run(fx: &Fixture, contents: &[Vec<u8>]) -> BTreeMap<String, Vec<String>> {
    full_run_with(fx, contents, &[])
}

fn full_run_with(
    fx: &Fixture,
    contents: &[Vec<u8>],
    extra: &[&str],
) -> BTreeMap<String, Vec<String>> {
    let logs = fx.root.join("full-logs");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).unwrap();
    for (i, c) in contents.iter().enumerate() {
        std::fs::write(logs.join(format!("part{i}.jsonl")), c).unwrap();
    }
    let out = fx.root.join("full-report");
    let mut args = vec!["-q"];
    args.extend_from_slice(extra);
    analyze(&logs, &fx.snapshot, &out, &args).assert().success();
    tables(&out)
}

fn assert_same(a: &BTreeMap<String, Vec<String>>, b: &BTreeMap<String, Vec<String>>) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "same tables"
    );
    for (name, rows) in a {
        assert_eq!(rows, &b[name], "table {name} differs");
    }
}

#[test]
fn growth_rotation_and_compression_equal_one_full_run() {
    let fx = fixture("3MiB");
    let logs = fx.root.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let state = fx.root.join("state");
    let out = fx.root.join("report");
    let state_arg = ["--state", state.to_str().unwrap()];
    let live = logs.join("gateway.log");
    let (d1a, d1b) = halves(&fx.days[0]);
    let (d2a, d2b) = halves(&fx.days[1]);

    // Night 1: half of day 1 written so far.
    append(&live, d1a);
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success();
    // Night 2: the file grew; only the new half is read.
    append(&live, d1b);
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success();
    let s = summary(&out);
    assert_eq!(s["state"]["files_resumed"], 1, "{s}");
    assert_eq!(
        s["inputs"]["bytes"].as_u64().unwrap(),
        d1b.len() as u64,
        "only the new bytes are read"
    );
    // Night 3: rotated (`gateway.log` -> `gateway.log.1`), a new day in a new file.
    std::fs::rename(&live, logs.join("gateway.log.1")).unwrap();
    append(&live, d2a);
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success();
    let s = summary(&out);
    assert_eq!(s["state"]["files_skipped"], 1, "{s}");
    assert_eq!(s["state"]["files_new"], 1, "{s}");
    // Night 4: lines written after the last run and before rotation, then rotation with
    // compression of the older file (delaycompress): `.1` -> `.2.gz`, live -> `.1`.
    append(&live, d2b);
    gzip(&logs.join("gateway.log.1"), &logs.join("gateway.log.2.gz"));
    std::fs::rename(&live, logs.join("gateway.log.1")).unwrap();
    append(&live, &fx.days[2]);
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success();
    let s = summary(&out);
    assert_eq!(s["state"]["files_new"], 1, "{s}");
    assert_eq!(
        s["state"]["files_resumed"], 1,
        "the rotated file's tail: {s}"
    );
    assert_eq!(s["state"]["files_skipped"], 1, "the compressed copy: {s}");
    let incremental = tables(&out);
    // Night 5: nothing new: every file is skipped and the report is the same.
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success();
    let s = summary(&out);
    assert_eq!(s["state"]["files_skipped"], 3, "{s}");
    assert_eq!(s["inputs"]["lines"], 0, "{s}");
    assert_same(&incremental, &tables(&out));

    let full = full_run(&fx, &fx.days);
    assert_same(&full, &incremental);
    let total: u64 = full["usage.csv"]
        .iter()
        .map(|r| {
            let cols: Vec<&str> = r.split(',').collect();
            cols[cols.len() - 3].parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(
        s["state"]["stored_bss_requests"].as_u64().unwrap(),
        total,
        "nothing counted twice"
    );
}

#[test]
fn the_same_content_twice_in_one_run_is_counted_once() {
    let fx = fixture("1MiB");
    let logs = fx.root.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("gateway.log.1"), &fx.days[0]).unwrap();
    std::fs::write(logs.join("copy.log"), &fx.days[0]).unwrap();
    let gz = logs.join("gateway.log.2");
    std::fs::write(&gz, &fx.days[0]).unwrap();
    gzip(&gz, &logs.join("gateway.log.2.gz"));
    let out = fx.root.join("report");
    let state = fx.root.join("state");
    analyze(
        &logs,
        &fx.snapshot,
        &out,
        &["--state", state.to_str().unwrap()],
    )
    .assert()
    .success();
    let s = summary(&out);
    assert_eq!(s["state"]["files_new"], 1, "{s}");
    assert_eq!(s["state"]["entries"], 1, "{s}");
    assert_same(&full_run(&fx, &fx.days[..1]), &tables(&out));
}

#[test]
fn killed_runs_leave_usable_state() {
    let fx = fixture("2MiB");
    let logs = fx.root.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let state = fx.root.join("state");
    let out = fx.root.join("report");
    let state_arg = ["--state", state.to_str().unwrap()];
    std::fs::write(logs.join("day1.log"), &fx.days[0]).unwrap();
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success();
    std::fs::write(logs.join("day2.log"), &fx.days[1]).unwrap();
    // Killed before and right after the new manifest is in place (abort = kill -9: no
    // destructors, the lock is dropped by the kernel).
    for point in ["before-commit", "after-manifest"] {
        analyze(&logs, &fx.snapshot, &out, &state_arg)
            .env("PERMLENS_CRASH_AT", point)
            .assert()
            .failure();
    }
    // Killed at arbitrary moments.
    let bin = assert_cmd::cargo::cargo_bin("permlens");
    std::fs::write(logs.join("day3.log"), &fx.days[2]).unwrap();
    for delay_ms in [5, 30, 80, 150, 300] {
        let mut child = std::process::Command::new(&bin)
            .arg("analyze")
            .arg(&logs)
            .arg("-p")
            .arg(&fx.snapshot)
            .args(["--format", "csv", "-q", "-o"])
            .arg(&out)
            .args(state_arg)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success();
    assert_same(&full_run(&fx, &fx.days), &tables(&out));
    // No partial is left that the manifest does not name.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("manifest.json")).unwrap())
            .unwrap();
    let named: Vec<&str> = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["partial"].as_str())
        .collect();
    for f in std::fs::read_dir(state.join("partials")).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        assert!(named.contains(&name.as_str()), "orphan {name}");
    }
}

#[test]
fn a_second_run_on_the_same_state_or_report_exits_2_and_a_dead_lock_is_taken_over() {
    let fx = fixture("512KiB");
    let logs = fx.logs_with_days("logs", 0..1);
    let state = fx.root.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let out = fx.root.join("report");
    let state_arg = ["--state", state.to_str().unwrap()];

    // Another process holds the state lock (flock is per open file, across processes).
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("lock"))
        .unwrap();
    held.lock().unwrap();
    std::fs::write(state.join("lock"), "pid 4242 since 2026-11-28T02:00:00Z").unwrap();
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("in use by another permlens run"))
        .stderr(predicate::str::contains("pid 4242"));
    drop(held);

    // The report directory's lock, beside it.
    let report_lock = fx.root.join(".report.lock");
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&report_lock)
        .unwrap();
    held.lock().unwrap();
    analyze(&logs, &fx.snapshot, &out, &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("report directory"));
    drop(held);

    // A lock file left by a process that died: its flock is gone, so it is taken over.
    std::fs::write(state.join("lock"), "pid 999999 since 2026-11-27T02:00:00Z").unwrap();
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success()
        .stderr(predicate::str::contains("took over"));
    assert_eq!(std::fs::read_to_string(state.join("lock")).unwrap(), "");
}

#[test]
fn window_selects_and_prunes_stored_hours() {
    let fx = fixture("1MiB");
    let logs = fx.logs_with_days("logs", 0..3);
    let state = fx.root.join("state");
    let out = fx.root.join("report");
    // The generated logs end on 2026-11-27: a one-day window ending the next midnight holds
    // that day only.
    let args = [
        "--state",
        state.to_str().unwrap(),
        "--until",
        "2026-11-28",
        "--window",
        "1d",
    ];
    let o = analyze(&logs, &fx.snapshot, &out, &args).output().unwrap();
    assert!(o.status.success());
    // Pruning is said, with the hour it cut at (regression: only counts in the summary).
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("stored request(s) from before 2026-11-27T00:00:00Z"),
        "{err}"
    );
    let windowed = tables(&out);
    // The same window without state: the findings name the same window.
    assert_same(
        &full_run_with(
            &fx,
            &[fx.by_day["2026-11-27"].clone()],
            &["--since", "2026-11-27", "--until", "2026-11-28"],
        ),
        &windowed,
    );
    let s = summary(&out);
    assert_eq!(s["window"]["since"], "2026-11-27T00:00:00Z", "{s}");
    // The retention is one day, but never cuts into the window asked for: the days before
    // 2026-11-27 are pruned.
    assert_eq!(s["state"]["retain_days"], 1);
    assert!(s["state"]["requests_pruned"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["state"]["pruned_before"], "2026-11-27T00:00:00Z", "{s}");
    // A bound inside an hour cannot be honoured with hourly rows.
    analyze(
        &logs,
        &fx.snapshot,
        &out,
        &[
            "--state",
            state.to_str().unwrap(),
            "--since",
            "2026-11-26T10:30:00Z",
        ],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("whole hours"));
}

const OLD_SNAPSHOT: &str = r#"{"taken_at": "2026-11-25T00:00:00Z",
  "users": [{"name": "alice"}, {"name": "bob"}],
  "groups": [{"name": "buyers", "members": ["alice", "bob"], "policies": ["View"]}],
  "policies": [{"name": "View", "document": {"Version": "1.1", "Statement": [
    {"Effect": "Allow", "Action": ["bss:order:view"]}]}}]}"#;

/// The same account after `View` was detached from `buyers`.
const NEW_SNAPSHOT: &str = r#"{"taken_at": "2026-11-26T12:00:00Z",
  "users": [{"name": "alice"}, {"name": "bob"}],
  "groups": [{"name": "buyers", "members": ["alice", "bob"], "policies": ["Bills"]}],
  "policies": [{"name": "Bills", "document": {"Version": "1.1", "Statement": [
    {"Effect": "Allow", "Action": ["bss:bill:view"]}]}}]}"#;

/// A temporary directory holding `gw.jsonl` with `lines` and `snapshot.json` with `snapshot`.
fn small_case(lines: &[String], snapshot: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("gw.jsonl");
    std::fs::write(&logs, lines.concat()).unwrap();
    let snap = dir.path().join("snapshot.json");
    std::fs::write(&snap, snapshot).unwrap();
    (dir, logs, snap)
}

fn line(time: &str, user: &str, status: u16, id: &str) -> String {
    format!(
        r#"{{"@timestamp":"{time}","request_id":"{id}","request_method":"GET","request_uri":"/v2/orders/customer-orders","status":{status},"user_name":"{user}","host":"bss.myhuaweicloud.com"}}"#
    ) + "\n"
}

#[test]
fn each_request_is_judged_by_the_snapshot_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let snaps = dir.path().join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    std::fs::write(snaps.join("2026-11-25.json"), OLD_SNAPSHOT).unwrap();
    std::fs::write(snaps.join("2026-11-26.json"), NEW_SNAPSHOT).unwrap();
    let logs = dir.path().join("gw.jsonl");
    std::fs::write(
        &logs,
        [
            line("2026-11-25T10:00:00Z", "alice", 200, "r1"),
            line("2026-11-26T13:00:00Z", "alice", 200, "r2"),
            line("2026-11-26T14:00:00Z", "bob", 403, "r3"),
        ]
        .concat(),
    )
    .unwrap();
    let out = dir.path().join("report");
    analyze(&logs, &snaps, &out, &[]).assert().success();
    let t = tables(&out);
    // Alice's first call was allowed by the snapshot in force then: no finding. Her second
    // succeeded although the newer snapshot denies it: drift, judged by the newer snapshot.
    assert_eq!(
        t["denied_calls.csv"],
        vec![
            "alice,GET,/v2/orders/customer-orders,Querying order lists,bss:order:view,predicted_only,not_granted,,,,2026-11-26.json@2026-11-26T12:00:00Z,1,2026-11-26T13:00:00.000000Z,2026-11-26T13:00:00.000000Z,,",
            "bob,GET,/v2/orders/customer-orders,Querying order lists,bss:order:view,confirmed,not_granted,,,,2026-11-26.json@2026-11-26T12:00:00Z,1,2026-11-26T14:00:00.000000Z,2026-11-26T14:00:00.000000Z,,",
        ]
    );
    let s = summary(&out);
    assert_eq!(s["snapshots"].as_array().unwrap().len(), 2);
    // With only the newer snapshot, both of alice's calls are drift.
    let only_new = dir.path().join("report-new");
    analyze(&logs, &snaps.join("2026-11-26.json"), &only_new, &[])
        .assert()
        .success();
    assert!(
        tables(&only_new)["denied_calls.csv"][0]
            .contains("predicted_only,not_granted,,,,2026-11-26.json@2026-11-26T12:00:00Z,2,")
    );
    // Snapshots without taken_at cannot be ordered.
    std::fs::write(
        snaps.join("undated.json"),
        OLD_SNAPSHOT.replace(r#""taken_at": "2026-11-25T00:00:00Z","#, ""),
    )
    .unwrap();
    analyze(&logs, &snaps, &out, &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("undated.json").and(predicate::str::contains("taken_at")));
}

#[test]
fn changes_report_what_moved_since_the_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("gw.jsonl");
    std::fs::write(
        &logs,
        [
            line("2026-11-26T13:00:00Z", "alice", 200, "r1"),
            line("2026-11-26T14:00:00Z", "bob", 403, "r2"),
        ]
        .concat(),
    )
    .unwrap();
    let old = dir.path().join("old.json");
    let new = dir.path().join("new.json");
    std::fs::write(&old, OLD_SNAPSHOT).unwrap();
    std::fs::write(&new, NEW_SNAPSHOT).unwrap();
    let out = dir.path().join("report");
    analyze(&logs, &old, &out, &[]).assert().success();
    assert_eq!(
        summary(&out)["changes"]["previous_run"],
        serde_json::Value::Null
    );
    let rows = |out: &Path| -> Vec<String> {
        let mut r = csv::Reader::from_path(out.join("changes.csv")).unwrap();
        r.records()
            .map(|x| x.unwrap().iter().collect::<Vec<_>>().join(","))
            .collect()
    };
    assert!(
        rows(&out).is_empty(),
        "a first run has nothing to compare with"
    );
    analyze(&logs, &new, &out, &[]).assert().success();
    let s = summary(&out);
    assert!(s["changes"]["previous_run"].is_string(), "{s}");
    assert_eq!(
        rows(&out),
        vec![
            "newly_denied,user,alice,bss:order:view,GET /v2/orders/customer-orders,predicted_only (not_granted)",
            "newly_denied,user,bob,bss:order:view,GET /v2/orders/customer-orders,confirmed (not_granted)",
            "denial_resolved,user,bob,bss:order:view,GET /v2/orders/customer-orders,observed_only (unexplained); no such row among the denied calls of this run",
            "newly_unused,group,buyers,bss:bill:view,,",
            "newly_over_privileged,group,buyers,,,1 unused permissions",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    );
}

#[test]
fn a_damaged_findings_index_is_named_and_the_run_goes_on() {
    let (dir, logs, snap) = small_case(
        &[line("2026-11-26T14:00:00Z", "bob", 403, "r2")],
        OLD_SNAPSHOT,
    );
    let out = dir.path().join("report");
    analyze(&logs, &snap, &out, &[]).assert().success();
    std::fs::write(out.join("findings_index.json"), "{\"denials\": [1, 2").unwrap();
    // The index is read beside the scan; its warning still names the file, and the run
    // reports no changes rather than failing.
    analyze(&logs, &snap, &out, &[]).assert().success().stderr(
        predicate::str::contains("findings_index.json")
            .and(predicate::str::contains("not a findings index")),
    );
    let s = summary(&out);
    assert_eq!(s["changes"]["previous_run"], serde_json::Value::Null, "{s}");
    // The run wrote a sound index again, which the next run reads.
    analyze(&logs, &snap, &out, &[])
        .assert()
        .success()
        .stderr(predicate::str::contains("not a findings index").not());
    assert!(summary(&out)["changes"]["previous_run"].is_string());
}

#[test]
fn a_line_still_being_written_is_counted_once_it_is_complete() {
    let fx = fixture("512KiB");
    let logs = fx.root.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let live = logs.join("gateway.log");
    let (head, rest) = fx.days[1].split_at(40);
    // Just written, so live: the unterminated last line is left for the next run.
    append(&live, &fx.days[0]);
    append(&live, head);
    let state = fx.root.join("state");
    let out = fx.root.join("report");
    let state_arg = ["--state", state.to_str().unwrap()];
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success();
    let lines_day0 = fx.days[0].iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(summary(&out)["inputs"]["lines"], lines_day0);
    append(&live, rest);
    analyze(&logs, &fx.snapshot, &out, &state_arg)
        .assert()
        .success();
    let s = summary(&out);
    assert_eq!(s["state"]["files_resumed"], 1, "{s}");
    assert_eq!(
        s["inputs"]["lines"].as_u64().unwrap(),
        fx.days[1].iter().filter(|&&b| b == b'\n').count() as u64
    );
    assert_same(&full_run(&fx, &fx.days[..2]), &tables(&out));
}

#[test]
fn rows_kept_beyond_the_window_give_unused_permissions_their_last_use() {
    let (dir, logs, snap) = small_case(
        &[
            line("2026-11-25T10:00:00Z", "alice", 200, "r1"),
            line("2026-11-27T09:00:00Z", "bob", 403, "r2"),
        ],
        OLD_SNAPSHOT,
    );
    let out = dir.path().join("report");
    let state = dir.path().join("state");
    let mut args = vec!["--state", state.to_str().unwrap()];
    args.extend(["--until", "2026-11-28", "--window", "1d", "--retain", "30d"]);
    analyze(&logs, &snap, &out, &args).assert().success();
    let mut r = csv::Reader::from_path(out.join("unused_permissions.csv")).unwrap();
    let rows: Vec<String> = r
        .records()
        .map(|x| x.unwrap().iter().collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        rows,
        vec!["group,buyers,bss:order:view,View,2026-11-25T10:00:00.000000Z,"]
    );
    assert_eq!(summary(&out)["state"]["retain_days"], 30);
    // A retention shorter than the window would prune the window itself.
    analyze(&logs, &snap, &out, &args[..args.len() - 2])
        .args(["--retain", "12h"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shorter than --window"));
}

#[test]
fn shards_merged_into_one_state_report_like_one_machine() {
    let fx = fixture("1MiB");
    let mut states = Vec::new();
    // Two machines, each with its own shard of the logs; day 0 was copied to both.
    for (i, shard) in [vec![0, 1], vec![0, 2]].into_iter().enumerate() {
        let logs = fx.root.join(format!("shard{i}"));
        std::fs::create_dir_all(&logs).unwrap();
        for d in shard {
            std::fs::write(logs.join(format!("day{d}.log")), &fx.days[d]).unwrap();
        }
        let state = fx.root.join(format!("state{i}"));
        analyze(
            &logs,
            &fx.snapshot,
            &fx.root.join(format!("report{i}")),
            &["-q", "--state", state.to_str().unwrap()],
        )
        .assert()
        .success();
        states.push(state);
    }
    let merged = fx.root.join("merged");
    permlens()
        .args(["state", "merge"])
        .args(&states)
        .arg("--into")
        .arg(&merged)
        .assert()
        .success()
        .stderr(predicate::str::contains("1 already present"));
    // No logs: the report is computed from what the state holds.
    let out = fx.root.join("report");
    permlens()
        .args(["analyze", "-q", "--format", "csv", "-p"])
        .arg(&fx.snapshot)
        .arg("--state")
        .arg(&merged)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_same(&full_run(&fx, &fx.days), &tables(&out));
    permlens()
        .args(["state", "show"])
        .arg(&merged)
        .assert()
        .success()
        .stdout(predicate::str::contains("3 log content(s)"));
    // A directory that is not a state is refused, not created.
    let missing = fx.root.join("no-such-state");
    permlens()
        .args(["state", "merge"])
        .arg(&missing)
        .arg("--into")
        .arg(&merged)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a permlens state directory"));
    assert!(!missing.exists());
    // Another catalog's state cannot be mixed in.
    let other = fx.root.join("other-state");
    let catalog = fx.root.join("catalog.json");
    let text = permlens()
        .args(["catalog", "--format", "json"])
        .output()
        .unwrap()
        .stdout;
    let text =
        String::from_utf8(text)
            .unwrap()
            .replacen("Querying order lists", "Listing orders", 1);
    std::fs::write(&catalog, text).unwrap();
    analyze(
        &fx.root.join("shard0"),
        &fx.snapshot,
        &fx.root.join("report-other"),
        &[
            "-q",
            "--state",
            other.to_str().unwrap(),
            "--catalog",
            catalog.to_str().unwrap(),
        ],
    )
    .assert()
    .success();
    permlens()
        .args(["state", "merge"])
        .arg(&other)
        .arg("--into")
        .arg(&merged)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("another catalog"));
    analyze(
        &fx.root.join("shard0"),
        &fx.snapshot,
        &out,
        &["-q", "--state", other.to_str().unwrap()],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("another catalog"));
}

/// `buyers` may view orders only before 10:30 on 2026-11-26.
const TIMED_SNAPSHOT: &str = r#"{"taken_at": "2026-11-25T00:00:00Z",
  "users": [{"name": "alice"}],
  "groups": [{"name": "buyers", "members": ["alice"], "policies": ["View"]}],
  "policies": [{"name": "View", "document": {"Version": "1.1", "Statement": [
    {"Effect": "Allow", "Action": ["bss:order:view"],
     "Condition": {"DateLessThan": {"g:CurrentTime": ["2026-11-26T10:30:00Z"]}}}]}}]}"#;

#[test]
fn an_hourly_row_split_by_a_time_condition_is_judged_at_its_first_request_and_counted() {
    let (dir, logs, snap) = small_case(
        &[
            line("2026-11-26T10:10:00Z", "alice", 200, "r1"),
            line("2026-11-26T10:50:00Z", "alice", 200, "r2"),
        ],
        TIMED_SNAPSHOT,
    );
    // Without state each request is judged at its own time: the second is drift.
    let out = dir.path().join("exact");
    analyze(&logs, &snap, &out, &[]).assert().success();
    let denied = &tables(&out)["denied_calls.csv"];
    assert_eq!(denied.len(), 1);
    assert!(
        denied[0].contains("predicted_only,condition_unmet"),
        "{denied:?}"
    );
    // With state both requests share one hourly row: judged at 10:10 (allowed), and said so.
    let out = dir.path().join("stored");
    let state = dir.path().join("state");
    analyze(&logs, &snap, &out, &["--state", state.to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "2 stored requests fall in hourly rows that a time condition or a snapshot change splits",
        ));
    assert!(tables(&out)["denied_calls.csv"].is_empty());
    assert_eq!(summary(&out)["state"]["straddling_requests"], 2);
}

#[test]
fn a_damaged_state_stops_the_run_naming_the_file() {
    let (dir, logs, snap) = small_case(
        &[line("2026-11-26T10:10:00Z", "alice", 200, "r1")],
        OLD_SNAPSHOT,
    );
    let state = dir.path().join("state");
    let out = dir.path().join("report");
    let args = ["--state", state.to_str().unwrap()];
    analyze(&logs, &snap, &out, &args).assert().success();
    // A partial that is not Parquet.
    let partial = std::fs::read_dir(state.join("partials"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&partial, b"garbage").unwrap();
    analyze(&logs, &snap, &out, &args).assert().code(2).stderr(
        predicate::str::contains("damaged").and(predicate::str::contains(
            partial.file_name().unwrap().to_str().unwrap(),
        )),
    );
    // A manifest that is not JSON.
    std::fs::write(state.join("manifest.json"), "{ nope").unwrap();
    analyze(&logs, &snap, &out, &args)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("manifest.json: line 1"));
    // The report of the last good run is still there.
    assert!(out.join("summary.json").is_file());
}

#[test]
fn a_backfill_in_rounds_equals_one_full_run() {
    let fx = fixture("1MiB");
    let logs = fx.logs_with_days("logs", 0..3);
    let state = fx.root.join("state");
    let out = fx.root.join("report");
    // One file per round: each round's rows are written out before the next is read.
    analyze(
        &logs,
        &fx.snapshot,
        &out,
        &["--state", state.to_str().unwrap(), "--round-bytes", "1"],
    )
    .assert()
    .success();
    assert_same(&full_run(&fx, &fx.days), &tables(&out));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("manifest.json")).unwrap())
            .unwrap();
    let entries = manifest["entries"].as_array().unwrap().len();
    assert_eq!(entries, 3);
    assert_eq!(
        std::fs::read_dir(state.join("partials")).unwrap().count(),
        entries,
        "one partial per entry, none left over"
    );
}

#[test]
fn explain_uses_the_snapshot_in_force_at_the_time_asked() {
    let dir = tempfile::tempdir().unwrap();
    let snaps = dir.path().join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    std::fs::write(snaps.join("2026-11-25.json"), OLD_SNAPSHOT).unwrap();
    std::fs::write(snaps.join("2026-11-26.json"), NEW_SNAPSHOT).unwrap();
    let explain = |at: &str| -> serde_json::Value {
        let out = permlens()
            .args([
                "explain", "--format", "json", "--user", "alice", "--at", at, "-p",
            ])
            .arg(&snaps)
            .args(["GET", "/v2/orders/customer-orders"])
            .output()
            .unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = explain("2026-11-25T10:00:00Z");
    assert_eq!(before["decision"], "allow");
    assert_eq!(before["snapshot"], "2026-11-25.json@2026-11-25T00:00:00Z");
    let after = explain("2026-11-26T13:00:00Z");
    assert_eq!(after["decision"], "deny");
    assert_eq!(after["snapshot"], "2026-11-26.json@2026-11-26T12:00:00Z");
}

/// What happens to the logs between and at nightly runs.
#[derive(Debug, Clone)]
enum Op {
    /// The gateway writes this many more lines.
    Append(usize),
    /// logrotate: `.N` -> `.N+1`, the live file -> `.1`; with `compress`, `.2` is gzipped
    /// (delaycompress).
    Rotate { compress: bool },
    /// A `--state` run.
    Run,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (1usize..300).prop_map(Op::Append),
        any::<bool>().prop_map(|compress| Op::Rotate { compress }),
        Just(Op::Run),
    ]
}

fn rotate(logs: &Path, compress: bool) {
    let live = logs.join("gateway.log");
    if !live.exists() {
        return;
    }
    let name =
        |i: usize, gz: bool| logs.join(format!("gateway.log.{i}{}", if gz { ".gz" } else { "" }));
    let highest = (1..)
        .take_while(|&i| name(i, false).exists() || name(i, true).exists())
        .last();
    for i in (1..=highest.unwrap_or(0)).rev() {
        for gz in [false, true] {
            if name(i, gz).exists() {
                std::fs::rename(name(i, gz), name(i + 1, gz)).unwrap();
            }
        }
    }
    if compress && name(2, false).exists() {
        gzip(&name(2, false), &name(2, true));
    }
    std::fs::rename(&live, name(1, false)).unwrap();
}

#[test]
fn any_sequence_of_growth_rotation_and_runs_equals_one_full_run() {
    use proptest::prelude::*;
    let fx = fixture("1MiB");
    let all: Vec<u8> = fx.days.concat();
    let lines: Vec<&[u8]> = all.split_inclusive(|&b| b == b'\n').collect();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let ops = (200usize..400, proptest::collection::vec(op(), 1..8));
    runner
        .run(&ops, |(first, ops)| {
            let case = tempfile::tempdir().unwrap();
            let logs = case.path().join("logs");
            std::fs::create_dir_all(&logs).unwrap();
            let state = case.path().join("state");
            let out = case.path().join("report");
            let mut written = 0usize;
            let mut step = |op: &Op| match op {
                Op::Append(n) => {
                    let end = (written + n).min(lines.len());
                    append(&logs.join("gateway.log"), &lines[written..end].concat());
                    written = end;
                }
                Op::Rotate { compress } => rotate(&logs, *compress),
                Op::Run => {
                    // Small parts: larger appends are read in parts, smaller ones join the
                    // entry's last part.
                    analyze(
                        &logs,
                        &fx.snapshot,
                        &out,
                        &[
                            "-q",
                            "--state",
                            state.to_str().unwrap(),
                            "--part-bytes",
                            "40000",
                        ],
                    )
                    .assert()
                    .success();
                }
            };
            step(&Op::Append(first));
            step(&Op::Run);
            for op in &ops {
                step(op);
            }
            step(&Op::Run);
            let content = lines[..written].concat();
            prop_assert_eq!(tables(&out), full_run(&fx, &[content]), "{:?}", ops);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_night_where_the_only_change_is_compression_is_not_an_error() {
    // Regression: the compressed copy was decompressed up to what was counted, held no new
    // line, and the run failed with "no request could be read".
    let fx = fixture("512KiB");
    let logs = fx.logs_with_days("logs", 0..1);
    let state = fx.root.join("state");
    let out = fx.root.join("report");
    let args = ["--state", state.to_str().unwrap()];
    analyze(&logs, &fx.snapshot, &out, &args).assert().success();
    gzip(&logs.join("day0.log"), &logs.join("day0.log.gz"));
    analyze(&logs, &fx.snapshot, &out, &args).assert().success();
    let s = summary(&out);
    assert_eq!(s["inputs"]["files_skipped"], 1, "{s}");
    assert_eq!(s["inputs"]["lines"], 0, "{s}");
    assert_same(&full_run(&fx, &fx.days[..1]), &tables(&out));
    // The next night it is skipped by its compressed fingerprint, without decompressing.
    analyze(&logs, &fx.snapshot, &out, &args).assert().success();
    assert_eq!(
        summary(&out)["inputs"]["per_file"][0]["skipped"],
        "already counted (same compressed file)"
    );
}

/// A run killed at any moment without `--state` leaves the previous report or the new one,
/// complete, never a mix; the next run removes what the killed one staged.
#[test]
fn killed_runs_leave_a_whole_report() {
    let fx = fixture("2MiB");
    let logs = fx.root.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("day1.log"), &fx.days[0]).unwrap();
    let out = fx.root.join("report");
    analyze(&logs, &fx.snapshot, &out, &[]).assert().success();
    let whole = |out: &Path| {
        let s = summary(out);
        for f in s["outputs"].as_array().unwrap() {
            assert!(
                out.join(f.as_str().unwrap()).is_file(),
                "{f} missing in {s}"
            );
        }
    };
    let bin = assert_cmd::cargo::cargo_bin("permlens");
    for delay_ms in [3, 20, 60, 120, 250, 400] {
        let mut child = std::process::Command::new(&bin)
            .arg("analyze")
            .arg(&logs)
            .arg("-p")
            .arg(&fx.snapshot)
            .args(["--format", "parquet,csv", "-q", "-o"])
            .arg(&out)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        whole(&out);
    }
    analyze(&logs, &fx.snapshot, &out, &[]).assert().success();
    whole(&out);
    let staged: Vec<String> = std::fs::read_dir(&fx.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".permlens-stage-"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}

/// The partial files a state's manifest names, and its format.
fn named_partials(state: &Path) -> (u64, Vec<String>) {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("manifest.json")).unwrap())
            .unwrap();
    let mut named = Vec::new();
    for e in manifest["entries"].as_array().unwrap() {
        named.extend(e["partial"].as_str().map(str::to_owned));
        for p in e["parts"].as_array().into_iter().flatten() {
            named.push(p["file"].as_str().unwrap().to_owned());
        }
    }
    (manifest["format"].as_u64().unwrap(), named)
}

/// Every file in `partials/` is named by the manifest.
fn assert_no_orphans(state: &Path) {
    let (_, named) = named_partials(state);
    for f in std::fs::read_dir(state.join("partials")).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        assert!(named.contains(&name), "orphan {name}");
    }
}

/// A file larger than `--part-bytes` is read a part at a time, each part's rows written as a
/// part of its entry: the report equals one full run, after growth, after killed runs, after
/// a merge and after pruning, and the state's files stay named by its manifest.
#[test]
fn a_large_file_read_in_parts_equals_one_full_run() {
    let fx = fixture("2MiB");
    let logs = fx.root.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("gateway.log");
    let state = fx.root.join("state");
    let out = fx.root.join("report");
    let args = [
        "-q",
        "--state",
        state.to_str().unwrap(),
        "--part-bytes",
        "150000",
    ];
    let first: Vec<u8> = fx.days[..2].concat();
    std::fs::write(&log, &first).unwrap();
    analyze(&logs, &fx.snapshot, &out, &args).assert().success();
    assert_same(&full_run(&fx, std::slice::from_ref(&first)), &tables(&out));
    let (format, named) = named_partials(&state);
    assert_eq!(format, 2, "a manifest with a multi-part entry says so");
    assert!(named.len() >= 4, "{named:?}");
    assert_no_orphans(&state);
    // Nothing new.
    analyze(&logs, &fx.snapshot, &out, &args).assert().success();
    assert_same(&full_run(&fx, std::slice::from_ref(&first)), &tables(&out));
    assert_eq!(summary(&out)["state"]["files_skipped"], 1);
    // Grown, with runs killed before and right after the new manifest first.
    append(&log, &fx.days[2]);
    let all: Vec<u8> = fx.days.concat();
    for point in ["before-commit", "after-manifest"] {
        analyze(&logs, &fx.snapshot, &out, &args)
            .env("PERMLENS_CRASH_AT", point)
            .assert()
            .failure();
    }
    analyze(&logs, &fx.snapshot, &out, &args).assert().success();
    assert_same(&full_run(&fx, std::slice::from_ref(&all)), &tables(&out));
    assert_no_orphans(&state);
    // Merged into another state: the parts are copied, the report is the same.
    let merged = fx.root.join("merged");
    permlens()
        .args(["state", "merge"])
        .arg(&state)
        .arg("--into")
        .arg(&merged)
        .assert()
        .success();
    assert_no_orphans(&merged);
    let merged_out = fx.root.join("merged-report");
    analyze(
        &logs,
        &fx.snapshot,
        &merged_out,
        &["-q", "--state", merged.to_str().unwrap()],
    )
    .assert()
    .success();
    assert_same(
        &full_run(&fx, std::slice::from_ref(&all)),
        &tables(&merged_out),
    );
    // Pruned to the last day, a part at a time.
    let mut pruning = args.to_vec();
    pruning.extend(["--until", "2026-11-28", "--window", "1d"]);
    analyze(&logs, &fx.snapshot, &out, &pruning)
        .assert()
        .success();
    assert!(summary(&out)["state"]["requests_pruned"].as_u64().unwrap() > 0);
    assert_same(
        &full_run_with(
            &fx,
            &[fx.by_day["2026-11-27"].clone()],
            &["--since", "2026-11-27", "--until", "2026-11-28"],
        ),
        &tables(&out),
    );
    assert_no_orphans(&state);
}

/// A state written before entries had parts (manifest format 1, one `partial` per entry,
/// `tests/data/state-format1`) is read as it is, and grows.
#[test]
fn a_state_of_format_1_is_read_and_grown() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/state-format1");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("partials")).unwrap();
    std::fs::copy(
        data.join("state/manifest.json"),
        state.join("manifest.json"),
    )
    .unwrap();
    for f in std::fs::read_dir(data.join("state/partials")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), state.join("partials").join(f.file_name())).unwrap();
    }
    let (old_format, old_partials) = named_partials(&state);
    assert_eq!((old_format, old_partials.len()), (1, 1));
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("gateway.jsonl");
    std::fs::copy(data.join("gateway.jsonl"), &log).unwrap();
    let snapshot = data.join("snapshot.json");
    let full = |contents: &[u8], name: &str| {
        let logs = dir.path().join(name);
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("all.jsonl"), contents).unwrap();
        let out = dir.path().join(format!("{name}-report"));
        analyze(&logs, &snapshot, &out, &["-q"]).assert().success();
        tables(&out)
    };
    let out = dir.path().join("report");
    let args = ["-q", "--state", state.to_str().unwrap()];
    // Counted by the old version: nothing is read, the stored rows are the report.
    analyze(&logs, &snapshot, &out, &args).assert().success();
    assert_eq!(summary(&out)["state"]["files_skipped"], 1);
    let first = std::fs::read(&log).unwrap();
    assert_same(&full(&first, "first"), &tables(&out));
    // Grown: the new rows join the old partial's.
    let later = std::fs::read(data.join("later.jsonl")).unwrap();
    append(&log, &later);
    analyze(&logs, &snapshot, &out, &args).assert().success();
    assert_eq!(summary(&out)["state"]["files_resumed"], 1);
    assert_same(&full(&[first, later].concat(), "all"), &tables(&out));
    assert_no_orphans(&state);
}

/// A file read in parts names the same malformed lines as one read whole: its first ones,
/// numbered in the file, not a few per part.
#[test]
fn a_file_read_in_parts_names_its_first_malformed_lines() {
    let fx = fixture("512KiB");
    let logs = fx.root.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut content = Vec::new();
    for (i, line) in fx
        .days
        .concat()
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
    {
        content.extend_from_slice(line);
        if i % 97 == 0 {
            content.extend_from_slice(b"{not json at all\n");
        }
    }
    std::fs::write(logs.join("gateway.log"), &content).unwrap();
    let samples = |part_bytes: &str, name: &str| {
        let state = fx.root.join(format!("state-{name}"));
        let out = fx.root.join(format!("report-{name}"));
        let args = [
            "-q",
            "--max-bad-ratio",
            "0.5",
            "--state",
            state.to_str().unwrap(),
            "--part-bytes",
            part_bytes,
        ];
        analyze(&logs, &fx.snapshot, &out, &args).assert().success();
        summary(&out)["inputs"]["malformed_samples"].clone()
    };
    let whole = samples("1000000000", "whole");
    assert_eq!(whole.as_array().unwrap().len(), 5, "{whole}");
    assert_eq!(samples("50000", "parts"), whole);
}

/// Regression: an empty log (a quiet night, logrotate's `ifempty`) was stored as an entry
/// with an empty head, which every content starts with: once that file grew, a new, shorter
/// log was taken for a copy of it and skipped ("holds less than was counted"), exit 0.
#[test]
fn an_empty_log_does_not_make_later_logs_look_counted() {
    let fx = fixture("600KiB");
    let logs = fx.root.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let state = fx.root.join("state");
    let out = fx.root.join("report");
    let night = || {
        analyze(&logs, &fx.snapshot, &out, &["-q", "--state"])
            .arg(&state)
            .assert()
            .success();
    };
    std::fs::write(logs.join("a.log"), &fx.days[0]).unwrap();
    std::fs::write(logs.join("gw.log"), b"").unwrap();
    night();
    append(&logs.join("gw.log"), &fx.days[1]);
    night();
    // Rotated: the grown log moves away, a new (shorter) one starts.
    std::fs::rename(logs.join("gw.log"), logs.join("gw.log.1")).unwrap();
    let (early, _) = halves(&fx.days[2]);
    std::fs::write(logs.join("gw.log"), early).unwrap();
    night();
    let nightly = tables(&out);
    let full = full_run(
        &fx,
        &[fx.days[0].clone(), fx.days[1].clone(), early.to_vec()],
    );
    assert_same(&full, &nightly);
}
