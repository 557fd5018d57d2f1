//! `permlens analyze` through the real binary: exit codes, atomic replacement, options.

mod common;

use std::path::Path;

use common::{permlens, samples};
use predicates::prelude::*;

fn analyze(out: &Path) -> assert_cmd::Command {
    let mut cmd = permlens();
    cmd.arg("analyze")
        .arg(samples().join("logs"))
        .args([
            "--user-field",
            "custom_data_log1",
            "--progress",
            "never",
            "-o",
        ])
        .arg(out);
    cmd
}

#[test]
fn usage_only_run_writes_usage_unmatched_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    analyze(&out)
        .args(["--format", "parquet,csv"])
        .assert()
        .success()
        .stdout(predicate::str::contains("BSS requests"));
    for f in [
        "usage.parquet",
        "usage.csv",
        "unmatched.parquet",
        "unmatched.csv",
        "summary.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let inputs = &summary["inputs"];
    assert_eq!(inputs["files"], 4);
    assert_eq!(inputs["malformed"], 1);
    assert_eq!(inputs["unmatched_requests"], 2);
    let lines = inputs["lines"].as_u64().unwrap();
    let parts = ["blank", "prefiltered", "malformed", "parsed"]
        .iter()
        .map(|k| inputs[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(lines, parts, "every line is accounted for");
    assert!(
        inputs["malformed_samples"][0]
            .as_str()
            .unwrap()
            .contains("gateway-2026-11-26.jsonl:18: invalid JSON")
    );
    let unmatched = std::fs::read_to_string(out.join("unmatched.csv")).unwrap();
    assert!(
        unmatched.contains("GET,/v2/orders/customer-orders/{id}/invoice-info,1"),
        "{unmatched}"
    );
}

#[test]
fn window_options_filter_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    analyze(&out)
        .args(["--since", "2026-11-26", "--until", "2026-11-27"])
        .assert()
        .success();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["inputs"]["out_of_window"].as_u64().unwrap() > 0);
    assert!(
        summary["window"]["first"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-26")
    );
    assert!(
        summary["window"]["last"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-26")
    );
    analyze(&out)
        .args(["--since", "2026-11-27", "--until", "2026-11-26"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not before --until"));
    analyze(&out)
        .args(["--since", "last tuesday"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--since: expected an RFC 3339 time",
        ));
}

#[test]
fn a_failed_run_leaves_the_previous_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    analyze(&out).assert().success();
    let before = std::fs::read(out.join("usage.parquet")).unwrap();
    // A file in no known format makes the run fail: the report must stay as it was.
    let junk = dir.path().join("junk.log");
    std::fs::write(&junk, "this is not a log\nneither is this\n").unwrap();
    let assert = analyze(&out).arg(&junk).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("junk.log: matches no known log format"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    assert_eq!(std::fs::read(out.join("usage.parquet")).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        leftovers.iter().all(|n| !n.starts_with(".permlens")),
        "{leftovers:?}"
    );
}

#[test]
fn too_many_malformed_lines_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bad.jsonl");
    let mut text = String::new();
    for i in 0..10 {
        text.push_str(&format!("{{\"time\":\"2026-11-27T00:00:0{i}Z\",\"method\":\"GET\",\"uri\":\"/v2/orders/customer-orders\",\"status\":200,\"user\":\"a\"}}\n"));
    }
    text.push_str(
        "{\"time\": \"2026-11-27T00:00:00Z\", \"method\": \"GET\", \"uri\": \"/v2/orders\n",
    );
    std::fs::write(&log, &text).unwrap();
    permlens()
        .args(["analyze", "--progress", "never", "-o"])
        .arg(dir.path().join("r"))
        .arg(&log)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.jsonl:11: invalid JSON"))
        .stderr(predicate::str::contains(
            "1 of 11 lines read were malformed",
        ));
    permlens()
        .args([
            "analyze",
            "--progress",
            "never",
            "--max-bad-ratio",
            "0.2",
            "-o",
        ])
        .arg(dir.path().join("r"))
        .arg(&log)
        .assert()
        .success();
}

#[test]
fn logs_with_no_readable_request_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("empty.jsonl");
    std::fs::write(&log, "\n\n").unwrap();
    permlens()
        .args(["analyze", "--progress", "never", "-o"])
        .arg(dir.path().join("r"))
        .arg(&log)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no request could be read"));
    assert!(!dir.path().join("r").exists());
}

/// Regression: a `--quiet` run (the nightly mode) that read no request said only how many
/// lines it read: the file and the cause were in warnings `--quiet` hides. The error itself
/// names each file and why; a too-malformed run names its worst file and first bad line.
#[test]
fn an_error_that_nothing_was_read_names_the_file_and_why_under_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("notime.jsonl");
    std::fs::write(
        &log,
        "{\"when\":\"2026-11-27T00:00:00Z\",\"method\":\"GET\",\"uri\":\"/v2/orders/customer-orders\",\"status\":200,\"user\":\"a\"}\n",
    )
    .unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let o = permlens()
        .args(["analyze", "-q", "-o"])
        .arg(dir.path().join("r"))
        .arg(&log)
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("notime.jsonl: first malformed line 1: no request time")
            && err.contains("--field time=KEY")
            && err.contains("empty.jsonl: no line"),
        "{err}"
    );
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"time\":\"2026-11-27T00:00:00Z\",\"method\":\"GET\",\"uri\":\"/v2/orders/customer-orders\",\"status\":200,\"user\":\"a\"}\n{\"time\": \"2026-11-27T00:00:00Z\", \"method\": \"GET\", \"uri\": \"/v2/orders\n{\"time\n",
    )
    .unwrap();
    permlens()
        .args(["analyze", "-q", "-o"])
        .arg(dir.path().join("r"))
        .arg(samples().join("logs/gateway-2026-11-26.jsonl"))
        .arg(&bad)
        .args(["--max-bad-ratio", "0"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("most in ").and(predicate::str::contains(
                "bad.jsonl (2 malformed); the first: ",
            )),
        );
}

/// A field a file's records lack is said in its `per_file` entry, not only on stderr.
#[test]
fn a_files_missing_field_is_in_its_summary_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nostatus.jsonl");
    std::fs::write(
        &log,
        "{\"time\":\"2026-11-27T00:00:00Z\",\"method\":\"GET\",\"uri\":\"/v2/orders/customer-orders\",\"code\":200,\"user\":\"a\"}\n",
    )
    .unwrap();
    let out = dir.path().join("r");
    permlens()
        .args(["analyze", "-q", "-o"])
        .arg(&out)
        .arg(samples().join("logs/gateway-2026-11-26.jsonl"))
        .arg(&log)
        .assert()
        .success();
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let files = s["inputs"]["per_file"].as_array().unwrap();
    let entry = files
        .iter()
        .find(|f| f["file"].as_str().unwrap().ends_with("nostatus.jsonl"))
        .unwrap();
    assert!(
        entry["warnings"][0]
            .as_str()
            .unwrap()
            .contains("has no status"),
        "{entry}"
    );
}

#[test]
fn bad_options_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    for (args, want) in [
        (
            &["--format", "xlsx"][..],
            "--format: unknown format \"xlsx\"",
        ),
        (
            &["--log-format", "syslog"],
            "--log-format: expected auto, json, apig, clf, cts or a gateway (kong",
        ),
        (&["--field", "colour=x"], "unknown field \"colour\""),
        (
            &["--user-field", "nope"],
            "--user-field: \"nope\" is not an API Gateway log field",
        ),
        (
            &["--fail-on", "everything"],
            "--fail-on: unknown finding \"everything\"",
        ),
        (&["--threads", "0"], "--threads: expected 1 to 1024, got 0"),
        (
            &["--max-bad-ratio", "2"],
            "--max-bad-ratio: expected a ratio between 0 and 1",
        ),
        // Regression: values starting with a minus were "unexpected arguments", and a value
        // clap checks against a list did not say the list.
        (
            &["--window", "-3d"],
            "--window: expected a number of days, hours or weeks",
        ),
        (
            &["--threads", "-1"],
            "--threads: expected 1 to 1024, got -1",
        ),
        (&["--min-days", "-1"], "'--min-days <N>': -1 is not in"),
        (
            &["--progress", "sometimes"],
            "expected one of auto, always, never",
        ),
        (&["--window", "99999999999999d"], "at most 100 years"),
        // Regression: without a snapshot --fail-on never fired (exit 0 every night).
        (&["--fail-on", "denied"], "--fail-on needs a snapshot"),
    ] {
        let assert = permlens()
            .arg("analyze")
            .arg(samples().join("logs"))
            .args(["-o"])
            .arg(&out)
            .args(args)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(want), "want {want:?} in {stderr:?}");
    }
    permlens()
        .args(["analyze", "--progress", "never", "/nonexistent/logs"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read input /nonexistent/logs",
        ));
}

#[test]
fn refuses_to_replace_a_directory_that_is_not_a_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("thesis.tex"), "precious").unwrap();
    analyze(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("refusing to replace"));
    assert!(dir.path().join("thesis.tex").is_file());
}

#[test]
fn stderr_lines_are_timestamped_off_a_terminal_and_quiet_keeps_only_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    // API Gateway logs without --user-field: a warning.
    let apig = samples().join("logs/apig-2026-11-27.log");
    let output = permlens()
        .arg("analyze")
        .arg(&apig)
        .args(["--progress", "never", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let line =
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ permlens: (warning: |error: )?\S")
            .unwrap();
    assert!(stderr.contains("warning: API Gateway logs"), "{stderr}");
    for l in stderr.lines() {
        assert!(
            line.is_match(l),
            "not one timestamped event per line: {l:?}"
        );
    }
    permlens()
        .arg("analyze")
        .arg(&apig)
        .args(["-q", "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout("")
        .stderr("");
    // Errors still come through.
    permlens()
        .arg("analyze")
        .arg(dir.path().join("missing.jsonl"))
        .args(["-q", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("permlens: error:"));
}

#[test]
fn usage_errors_and_an_out_of_dot_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (args, want) in [
        (
            vec!["analyze", "--threads", "x", "samples/logs"],
            "--threads: expected 1 to 1024, got x",
        ),
        (vec!["analyze", "--nope"], "unexpected argument '--nope'"),
        (
            vec!["analyze", "-o", ".", "logs"],
            "--out .: the report directory is replaced whole",
        ),
        (
            vec!["analyze", "-o", "..", "logs"],
            "--out ..: the report directory is replaced whole",
        ),
    ] {
        let assert = permlens()
            .current_dir(dir.path())
            .args(&args)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

/// Regression: one file reached by two names (a hard link, a symlink) was read twice by a
/// run without `--state` (which counts content once): the counts doubled, silently.
#[test]
fn a_file_reached_by_two_names_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("gw.jsonl");
    std::fs::copy(samples().join("logs/gateway-2026-11-26.jsonl"), &log).unwrap();
    let bss = |out: &str, inputs: &[&Path]| {
        let out = dir.path().join(out);
        permlens()
            .arg("analyze")
            .args(inputs)
            .args(["-q", "-o"])
            .arg(&out)
            .assert()
            .success();
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        (
            s["inputs"]["bss_requests"].as_u64().unwrap(),
            s["inputs"]["paths_skipped"].to_string(),
        )
    };
    let (once, _) = bss("r1", &[&log]);
    std::fs::hard_link(&log, logs.join("gw.hardlink.jsonl")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&log, dir.path().join("elsewhere.jsonl")).unwrap();
    let (twice, skipped) = bss("r2", &[&logs, &dir.path().join("elsewhere.jsonl")]);
    assert_eq!(once, twice);
    assert!(skipped.contains("the same file as"), "{skipped}");
}
