//! The provider's real input shapes, end to end through the binary: API Gateway lines in the
//! joined (53), split (54) and legacy (23) layouts and as LTS JSON records, CTS traces as the
//! ListTraces API and OBS deliver them, and a complete, paged IAM dump. The fixtures in
//! `tests/data/real/` are built from the provider's documented shapes; `apig-joined.log`
//! starts with the provider's own example line.

mod common;

use std::path::{Path, PathBuf};

use common::{permlens, root};
use predicates::prelude::*;
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    root().join("tests/data/real").join(name)
}

/// Runs `analyze` over `logs` with `extra` options; returns (exit code, summary, stderr).
fn analyze(logs: &[PathBuf], extra: &[&str], out: &Path) -> (i32, Option<Value>, String) {
    let output = permlens()
        .arg("analyze")
        .args(logs)
        .args(["--progress", "never", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let summary = std::fs::read_to_string(out.join("summary.json"))
        .ok()
        .map(|s| serde_json::from_str(&s).unwrap());
    (
        output.status.code().unwrap_or(-1),
        summary,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn usage_csv(out: &Path) -> String {
    std::fs::read_to_string(out.join("usage.csv")).unwrap()
}

#[test]
fn the_providers_example_line_and_every_layout_are_read() {
    for (file, layout, bss) in [
        ("apig-joined.log", "apig-joined-53", 3),
        ("apig-split.log", "apig-split-54", 3),
        ("apig-legacy.log", "apig-legacy-23", 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        let user_field = if layout.ends_with("23") {
            "app_id"
        } else {
            "custom_data_log1"
        };
        let (code, summary, stderr) = analyze(
            &[data(file)],
            &["--user-field", user_field, "--format", "csv"],
            &out,
        );
        assert_eq!(code, 0, "{file}: {stderr}");
        let s = summary.unwrap();
        assert_eq!(s["inputs"]["malformed"], 0, "{file}: {s}");
        assert_eq!(s["inputs"]["bss_requests"], bss, "{file}");
        assert_eq!(s["inputs"]["per_file"][0]["layout"], layout, "{file}");
        assert_eq!(s["inputs"]["per_file"][0]["format"], "apig", "{file}");
        let usage = usage_csv(&out);
        if layout.ends_with("23") {
            assert!(usage.contains("app-alice"), "{usage}");
        } else {
            assert!(usage.contains("alice") && usage.contains("bob"), "{usage}");
            // The gateway's own denial keeps its code and source.
            assert!(
                usage.contains("APIG.0302") && usage.contains("local"),
                "{usage}"
            );
        }
    }
}

#[test]
fn the_joined_line_reads_its_fields_in_place() {
    let out = permlens()
        .args([
            "inspect",
            "--format",
            "json",
            "--user-field",
            "custom_data_log1",
        ])
        .arg(data("apig-joined.log"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v[0];
    assert_eq!(f["layout"], "apig-joined-53");
    let first = &f["requests"][0];
    // The provider's example: GET /api/echo 200 at 27/Jan/2022:15:56:44 +0800.
    assert_eq!(first["method"], "GET");
    assert_eq!(first["target"], "/api/echo");
    assert_eq!(first["status"], 200);
    assert_eq!(first["time"], "2022-01-27T07:56:44Z");
    let renew = &f["requests"][2];
    assert_eq!(renew["user"], "bob");
    assert_eq!(renew["permission"], "bss:renewal:update");
}

#[test]
fn a_user_field_the_layout_lacks_is_named_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, summary, stderr) = analyze(
        &[data("apig-legacy.log")],
        &["--user-field", "custom_data_log1"],
        &dir.path().join("r"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr
            .contains("apig-legacy.log: --user-field custom_data_log1: the apig-legacy-23 layout"),
        "{stderr}"
    );
    let warnings = summary.unwrap()["inputs"]["warnings"].to_string();
    assert!(warnings.contains("apig-legacy-23"), "{warnings}");
}

#[test]
fn zoneless_lts_records_need_a_timezone_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = analyze(
        &[data("apig-lts.jsonl")],
        &["--user-field", "custom_data_log1"],
        &dir.path().join("a"),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--timezone"), "{stderr}");

    let out = dir.path().join("b");
    let (code, summary, stderr) = analyze(
        &[data("apig-lts.jsonl")],
        &[
            "--user-field",
            "custom_data_log1",
            "--timezone",
            "+08:00",
            "--format",
            "csv",
        ],
        &out,
    );
    assert_eq!(code, 0, "{stderr}");
    let s = summary.unwrap();
    assert_eq!(s["inputs"]["bss_requests"], 2);
    assert_eq!(s["window"]["first"], "2022-01-27T07:56:44Z");
    let usage = usage_csv(&out);
    assert!(usage.contains("alice") && usage.contains("bob"), "{usage}");

    let bad = permlens()
        .args(["analyze", "--timezone", "Asia/Shanghai", "-o"])
        .arg(dir.path().join("c"))
        .arg(data("apig-lts.jsonl"))
        .assert()
        .code(2);
    bad.stderr(predicate::str::contains(
        "--timezone: expected a UTC offset",
    ));
}

#[test]
fn cts_documents_in_every_shape_are_read() {
    for (file, layout, traces) in [
        ("cts-list-traces.json", "cts-list-traces", 6),
        ("cts-list-traces-pretty.json", "cts-list-traces", 6),
        ("cts-list-traces.json.gz", "cts-list-traces", 6),
        ("cts-list-traces.json.zst", "cts-list-traces", 6),
        (
            "obs_CloudTrace_cn-north-4_2025-11-27T10-05-00Z_21d36ced8c8af71e.json.gz",
            "cts-array",
            2,
        ),
        ("cts-old.json", "cts-list-traces", 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        let (code, summary, stderr) = analyze(&[data(file)], &["--format", "csv"], &out);
        assert_eq!(code, 0, "{file}: {stderr}");
        let s = summary.unwrap();
        assert_eq!(s["inputs"]["per_file"][0]["layout"], layout, "{file}");
        assert_eq!(s["inputs"]["malformed"], 0, "{file}: {s}");
        assert_eq!(s["inputs"]["lines"], traces, "{file}: {s}");
        let usage = usage_csv(&out);
        match file {
            "cts-old.json" => {
                // No code: trace_rating normal is a success, warning no status.
                assert!(usage.contains("erin"), "{usage}");
                assert!(usage.contains(",allowed,"), "{usage}");
                assert!(usage.contains(",other,"), "{usage}");
                assert_eq!(s["window"]["first"], "2025-11-27T10:00:00Z");
            }
            f if f.starts_with("obs_") => {
                // The user written as a JSON string is read by name.
                assert!(usage.contains("alice") && usage.contains("bob"), "{usage}");
                assert!(!usage.contains("domain"), "{usage}");
            }
            _ => {
                assert!(
                    usage.contains("bss:enterpriseProjectFunction:update"),
                    "openEnterpriseProjectAuth: {usage}"
                );
                assert!(usage.contains("CBC.0151"), "{usage}");
                // Console operations are mapped and marked.
                let console: Vec<&str> = usage.lines().filter(|l| l.contains("console")).collect();
                assert_eq!(console.len(), 2, "{usage}");
                assert!(console.iter().any(|l| l.contains("bss:renewal:update")));
                assert!(console.iter().any(|l| l.contains("bss:order:pay")));
                // listEnterpriseSubCustomers is an unlisted API.
                assert_eq!(s["inputs"]["bss_requests"], 5, "{s}");
                assert_eq!(s["inputs"]["unlisted_requests"], 1, "{s}");
            }
        }
    }
}

#[test]
fn a_json_document_without_traces_is_named_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    // A compact ListTraces-like response without traces: named for what it lacks.
    let (code, _, stderr) = analyze(&[data("not-traces.json")], &[], &dir.path().join("r"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("not-traces.json: read as a CTS document: a JSON document without a traces array (keys: meta_data, items)"),
        "{stderr}"
    );
    // JSON lines whose records have no method and target: named, with their keys.
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, "{\"level\":\"info\",\"msg\":\"orders synced\"}\n").unwrap();
    let (_, _, stderr) = analyze(&[other], &[], &dir.path().join("o"));
    assert!(
        stderr.contains("other.jsonl: read as JSON lines (json-lines), but its records have no HTTP method and request target") && stderr.contains("(keys: level, msg)"),
        "{stderr}"
    );
    // A pretty document without traces is no JSON lines: named, and nothing to report.
    let pretty = dir.path().join("pretty.json");
    std::fs::write(
        &pretty,
        "{\n  \"meta_data\": {\"count\": 0},\n  \"traces\": {}\n}\n",
    )
    .unwrap();
    let (code, _, stderr) = analyze(&[pretty], &[], &dir.path().join("p"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "pretty.json: read as a CTS document: a JSON document whose traces is not an array"
        ),
        "{stderr}"
    );
    // With a readable file beside it the run goes on (within --max-bad-ratio: the document
    // counts as one malformed record), and the file is named.
    let out = dir.path().join("s");
    let (code, summary, stderr) = analyze(
        &[data("not-traces.json"), data("cts-list-traces.json")],
        &["--max-bad-ratio", "0.5"],
        &out,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("not-traces.json"), "{stderr}");
    let w = summary.unwrap()["inputs"]["warnings"].to_string();
    assert!(w.contains("not-traces.json"), "{w}");
}

#[test]
fn inspect_explains_an_unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("weird.log");
    std::fs::write(&f, "hello there\nthis is not a log\n").unwrap();
    permlens()
        .arg("inspect")
        .arg(&f)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("matches no known log format"));
    permlens()
        .arg("inspect")
        .arg(data("cts-list-traces.json"))
        .assert()
        .success()
        .stdout(predicate::str::contains("cts-list-traces"))
        .stdout(predicate::str::contains(
            "bss:enterpriseProjectFunction:update",
        ))
        .stdout(predicate::str::contains("[console]"));
}

/// Imports the dump; returns the snapshot path and the stderr.
fn import_dump(dir: &Path) -> (PathBuf, String) {
    let snap = dir.join("snapshot.json");
    let out = permlens()
        .args(["snapshot", "import"])
        .arg(data("iam-dump"))
        .args(["--taken-at", "2025-11-01T00:00:00Z", "--out"])
        .arg(&snap)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (snap, stderr)
}

#[test]
fn a_complete_paged_iam_dump_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let (snap, stderr) = import_dump(dir.path());
    // The unknown role id is named once, with where it was met.
    assert!(stderr.contains("\"r-gone\""), "{stderr}");
    assert!(stderr.contains("role_assignments.2.json"), "{stderr}");
    // A member missing from the users pages is added from the member list.
    assert!(stderr.contains("\"zed\""), "{stderr}");
    // The unreadable action of a custom policy is named by input file and JSON path.
    assert!(
        stderr.contains("custom_policies.json: roles[0].policy.Statement[1].Action[0]"),
        "{stderr}"
    );
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&snap).unwrap()).unwrap();
    let users: Vec<&str> = s["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["alice", "bob", "carol", "dave", "zed"]);
    let group = |n: &str| {
        s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == n)
            .unwrap()
            .clone()
    };
    let finance = group("finance");
    assert_eq!(finance["policies"][0], "BSS ReadOnlyAccess");
    assert_eq!(finance["policies"][1]["scope"], "project:p1");
    assert_eq!(
        finance["policies"].as_array().unwrap().len(),
        2,
        "de-duplicated"
    );
    let ops = group("ops");
    let ops_text = ops["policies"].to_string();
    assert!(ops_text.contains("all_projects"), "{ops_text}");
    // The group's own listing adds its project-scoped role; it is not the catalogue.
    assert!(ops_text.contains("project:p2"), "{ops_text}");
    assert_eq!(s["policies"].as_array().unwrap().len(), 7);

    // Every scope but an enterprise project authorizes BSS calls.
    let explain = |user: &str, method: &str, path: &str| {
        let out = permlens()
            .args(["explain", "-p"])
            .arg(&snap)
            .args(["--user", user, "--at", "2025-11-27T10:00:00Z", method, path])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let alice = explain("alice", "POST", "/v2/orders/subscriptions/resources/renew");
    assert!(alice.contains("allow"), "{alice}");
    assert!(alice.contains("FinanceRenew [project p1]"), "{alice}");
    let bob = explain("bob", "POST", "/v2/orders/subscriptions/resources/renew");
    assert!(bob.contains("allow"), "{bob}");
    assert!(bob.contains("FinanceRenew [all projects]"), "{bob}");
    let carol = explain("carol", "GET", "/v2/accounts/customer-accounts/balances");
    assert!(carol.contains("undecided"), "{carol}");
    assert!(carol.contains("enterprise project ep-7"), "{carol}");
}

#[test]
fn a_bad_policy_document_is_named_by_its_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    std::fs::create_dir(&dump).unwrap();
    std::fs::write(
        dump.join("users.json"),
        r#"{"users":[{"id":"u1","name":"alice"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dump.join("custom_policies.json"),
        r#"{"roles":[{"id":"c1","name":"x","display_name":"X","policy":{"Version":"1.1","Statement":[{"Effect":"Maybe","Action":["bss:order:view"]}]}}]}"#,
    )
    .unwrap();
    let out = dir.path().join("s.json");
    permlens()
        .args(["snapshot", "import"])
        .arg(&dump)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "custom_policies.json: roles[0].policy.Statement[0].Effect",
        ))
        .stderr(predicate::str::contains(out.display().to_string()).not());
}

#[test]
fn console_operations_are_judged_and_marked_in_denied_calls() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.json");
    // dave (the console user) holds nothing: his console renewal and payment succeeded, so
    // the snapshot is stale for them (predicted_only), marked as console use.
    std::fs::write(
        &snap,
        r#"{"taken_at": "2025-11-01T00:00:00Z",
            "users": [{"name": "alice"}, {"name": "bob"}, {"name": "dave"}],
            "groups": [{"name": "finance", "members": ["alice", "bob"], "policies": ["All"]}],
            "policies": [{"name": "All", "document": {"Version": "1.1", "Statement": [
                {"Effect": "Allow", "Action": ["bss:*:*"]}]}}]}"#,
    )
    .unwrap();
    let out = dir.path().join("r");
    let (code, _, stderr) = analyze(
        &[data("cts-list-traces.json")],
        &["-p", snap.to_str().unwrap(), "--format", "csv"],
        &out,
    );
    assert_eq!(code, 0, "{stderr}");
    let denied = std::fs::read_to_string(out.join("denied_calls.csv")).unwrap();
    let header: Vec<&str> = denied.lines().next().unwrap().split(',').collect();
    let source = header.iter().position(|c| *c == "source").unwrap();
    let dave: Vec<Vec<&str>> = denied
        .lines()
        .filter(|l| l.starts_with("dave,"))
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(dave.len(), 2, "{denied}");
    for row in &dave {
        assert_eq!(row[source], "console", "{denied}");
        assert!(row.contains(&"predicted_only"), "{denied}");
    }
    // bob's API call denied with CBC.0151 though the snapshot allows: observed_only, not console.
    let bob = denied.lines().find(|l| l.starts_with("bob,")).unwrap();
    assert!(bob.contains("observed_only"), "{bob}");
    assert!(!bob.contains("console"), "{bob}");
}

#[test]
fn a_user_field_json_records_lack_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = analyze(
        &[data("apig-lts.jsonl")],
        &["--user-field", "custom_data_log9", "--timezone", "+08:00"],
        &dir.path().join("r"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "apig-lts.jsonl: read as JSON lines (apig-lts), but its first record has no custom_data_log9 (--user-field)"
        ),
        "{stderr}"
    );
}

#[test]
fn an_out_path_with_missing_parents_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports/2026/12/06");
    let (code, summary, stderr) = analyze(&[data("cts-list-traces.json")], &[], &out);
    assert_eq!(code, 0, "{stderr}");
    assert!(summary.is_some());
}

#[test]
fn a_damaged_cts_document_keeps_what_came_before_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    // A .gz cut in the middle, beside a good file: the run goes on and names it.
    let gz = std::fs::read(data("cts-list-traces.json.gz")).unwrap();
    let cut = dir.path().join("cut.json.gz");
    std::fs::write(&cut, &gz[..gz.len() * 2 / 3]).unwrap();
    let out = dir.path().join("r");
    let (code, summary, stderr) = analyze(
        &[cut, data("cts-old.json")],
        &["--max-bad-ratio", "1"],
        &out,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("cut.json.gz: read as a CTS document"),
        "{stderr}"
    );
    let s = summary.unwrap();
    assert!(s["inputs"]["bss_requests"].as_u64().unwrap() >= 2);
    lines_add_up(&s);
    // A plain document cut short: its complete traces are read and the cut is counted.
    let text = std::fs::read_to_string(data("cts-list-traces-pretty.json")).unwrap();
    let short = dir.path().join("short.json");
    std::fs::write(&short, &text[..text.len() / 2]).unwrap();
    let (code, summary, stderr) =
        analyze(&[short], &["--max-bad-ratio", "1"], &dir.path().join("s"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("the document is cut"), "{stderr}");
    let s = summary.unwrap();
    assert!(s["inputs"]["parsed"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["inputs"]["malformed"], 1, "{s}");
    lines_add_up(&s);
}

/// `lines` = `blank` + `parsed` + `malformed` + `not_addressed_to_service`, for the run and
/// for each file, and the files' lines add up to the run's (regression: a cut document's
/// malformed line was in the run's lines but not its file's).
fn lines_add_up(s: &Value) {
    let parts = |o: &Value| {
        ["blank", "parsed", "malformed", "not_addressed_to_service"]
            .iter()
            .map(|k| o[k].as_u64().unwrap())
            .sum::<u64>()
    };
    let inputs = &s["inputs"];
    assert_eq!(inputs["lines"].as_u64().unwrap(), parts(inputs), "{inputs}");
    let files = inputs["per_file"].as_array().unwrap();
    for f in files {
        assert_eq!(f["lines"].as_u64().unwrap(), parts(f), "{f}");
    }
    let sum: u64 = files.iter().map(|f| f["lines"].as_u64().unwrap()).sum();
    assert_eq!(sum, inputs["lines"].as_u64().unwrap(), "{inputs}");
}

#[test]
fn dashes_in_json_records_mean_no_value() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lts.jsonl");
    std::fs::write(
        &log,
        r#"{"request_method":"GET","router_uri":"/v2/orders/customer-orders","status":"200","time_local":"27/Jan/2022:15:56:44","custom_data_log1":"-","apig_err_code":"-","request_id":"x"}
"#,
    )
    .unwrap();
    let out = dir.path().join("r");
    let (code, _, stderr) = analyze(
        &[log],
        &[
            "--user-field",
            "custom_data_log1",
            "--timezone",
            "+08:00",
            "--format",
            "csv",
        ],
        &out,
    );
    assert_eq!(code, 0, "{stderr}");
    let usage = usage_csv(&out);
    let row = usage.lines().nth(1).unwrap();
    assert!(row.starts_with("\"\",,GET"), "{usage}");
    assert!(!usage.contains("'-"), "{usage}");
}

/// Every line of every file is one of blank, parsed, malformed or not addressed to the
/// service, in the summary and per file.
fn assert_counts_add_up(s: &Value) {
    let i = &s["inputs"];
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    assert_eq!(
        n(i, "lines"),
        n(i, "blank") + n(i, "parsed") + n(i, "malformed") + n(i, "not_addressed_to_service"),
        "{i}"
    );
    for f in i["per_file"].as_array().unwrap() {
        assert_eq!(
            n(f, "new_lines"),
            n(f, "blank") + n(f, "parsed") + n(f, "malformed") + n(f, "not_addressed_to_service"),
            "{f}"
        );
    }
}

#[test]
fn garbage_the_prefilter_skips_is_malformed_and_counts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"time":"2026-11-27T10:00:00Z","method":"GET","uri":"/v2/orders/customer-orders","status":200,"user":"alice"}"#;
    let other = r#"{"time":"2026-11-27T10:00:00Z","method":"GET","uri":"/v1/proj/cloudservers","status":200,"user":"alice"}"#;
    let mut lines = vec![good.to_owned(), other.to_owned(), String::new()];
    // Half garbage: text, a BSS line cut mid-path, a line of NUL bytes.
    lines.push("hello there, not a log line".into());
    lines.push(r#"{"method":"GET","uri":"/v2/or"#.into());
    lines.push("\0\0\0\0\0\0\0\0\0\0".into());
    let log = dir.path().join("half.jsonl");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let (code, _, stderr) = analyze(std::slice::from_ref(&log), &[], &dir.path().join("a"));
    assert_eq!(code, 2, "--max-bad-ratio holds: {stderr}");
    assert!(
        stderr.contains("3 of 5 lines read were malformed"),
        "{stderr}"
    );
    assert!(stderr.contains("not a JSON object"), "{stderr}");
    let out = dir.path().join("b");
    let (code, summary, stderr) = analyze(&[log], &["--max-bad-ratio", "1"], &out);
    assert_eq!(code, 0, "{stderr}");
    let s = summary.unwrap();
    assert_eq!(s["inputs"]["malformed"], 3, "{s}");
    assert_eq!(s["inputs"]["not_addressed_to_service"], 1, "{s}");
    assert_eq!(s["inputs"]["bss_requests"], 1, "{s}");
    assert_counts_add_up(&s);

    // The same for the API Gateway layouts: a short line is no API Gateway line.
    let apig = dir.path().join("gw.log");
    let text = std::fs::read_to_string(data("apig-joined.log")).unwrap();
    std::fs::write(&apig, format!("{text}garbage line\n")).unwrap();
    let (code, summary, stderr) = analyze(
        &[apig],
        &["--user-field", "custom_data_log1", "--max-bad-ratio", "1"],
        &dir.path().join("c"),
    );
    assert_eq!(code, 0, "{stderr}");
    let s = summary.unwrap();
    assert_eq!(s["inputs"]["malformed"], 1, "{s}");
    let sample = s["inputs"]["malformed_samples"].to_string();
    assert!(
        sample.contains("gw.log:5:") && sample.contains("expected 53"),
        "{sample}"
    );
    assert_counts_add_up(&s);
}

#[test]
fn counts_add_up_over_every_real_shape() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = [
        "apig-joined.log",
        "apig-split.log",
        "cts-list-traces.json",
        "obs_CloudTrace_cn-north-4_2025-11-27T10-05-00Z_21d36ced8c8af71e.json.gz",
        "cts-old.json",
    ]
    .iter()
    .map(|f| data(f))
    .collect();
    let (code, summary, stderr) = analyze(
        &files,
        &["--user-field", "custom_data_log1"],
        &dir.path().join("r"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_counts_add_up(&summary.unwrap());
}

#[test]
fn a_file_holding_only_a_byte_order_mark_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let bom = dir.path().join("bom.jsonl");
    std::fs::write(&bom, b"\xEF\xBB\xBF").unwrap();
    let (code, summary, stderr) = analyze(
        &[bom, data("cts-list-traces.json")],
        &[],
        &dir.path().join("r"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_counts_add_up(&summary.unwrap());
}

#[test]
fn a_just_copied_file_without_a_final_newline_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("copied.jsonl");
    let line = |id: &str| {
        format!(
            r#"{{"time":"2026-11-27T10:00:00Z","request_id":"{id}","method":"GET","uri":"/v2/orders/customer-orders","status":200,"user":"alice"}}"#
        )
    };
    // Modified now (as `cp` leaves it), the last line without its newline.
    std::fs::write(&log, format!("{}\n{}", line("a"), line("b"))).unwrap();
    let (code, summary, stderr) = analyze(std::slice::from_ref(&log), &[], &dir.path().join("r"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary.unwrap()["inputs"]["bss_requests"], 2);
    // With --state a later run will read it: it waits, and the wait is said.
    let (code, summary, stderr) = analyze(
        &[log],
        &["--state", dir.path().join("state").to_str().unwrap()],
        &dir.path().join("s"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("its last line has no newline yet"),
        "{stderr}"
    );
    assert_eq!(summary.unwrap()["inputs"]["bss_requests"], 1);
}

#[test]
fn a_report_or_state_inside_the_log_tree_is_never_read_as_logs() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::copy(data("cts-list-traces.json"), logs.join("traces.json")).unwrap();
    let out = logs.join("report");
    let state = logs.join("state");
    let state_arg = ["--state", state.to_str().unwrap()];
    for _ in 0..2 {
        let (code, summary, stderr) = analyze(std::slice::from_ref(&logs), &state_arg, &out);
        assert_eq!(code, 0, "{stderr}");
        let s = summary.unwrap();
        assert_eq!(s["inputs"]["files"], 1, "{s}");
    }
    let (_, _, stderr) = analyze(&[logs], &[], &out);
    assert!(
        stderr.contains("a permlens report directory, not logs"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a permlens state directory, not logs"),
        "{stderr}"
    );
    assert!(out.join(".permlens-report").is_file());
}

#[test]
fn only_a_permlens_report_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("summary.json"), "{\"mine\": true}").unwrap();
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let (code, _, stderr) = analyze(&[data("cts-list-traces.json")], &[], &out);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is not a permlens report"), "{stderr}");
    assert!(out.join("notes.txt").is_file());
}

#[test]
fn a_missing_input_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = permlens()
        .args(["analyze", "/no/such/log.jsonl", "-o"])
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn every_policy_that_denies_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.json");
    std::fs::write(
        &snap,
        r#"{"users": [{"name": "bob"}],
            "groups": [{"name": "g", "members": ["bob"], "policies": ["Allow", "pol-15", "pol-16"]}],
            "policies": [
              {"name": "Allow", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:*:*"]}]}},
              {"name": "pol-15", "document": {"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["bss:renewal:update"]}]}},
              {"name": "pol-16", "document": {"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["bss:renewal:*"]}]}}]}"#,
    )
    .unwrap();
    let out = dir.path().join("r");
    let (code, _, stderr) = analyze(
        &[data("cts-list-traces.json")],
        &["-p", snap.to_str().unwrap(), "--format", "csv"],
        &out,
    );
    assert_eq!(code, 0, "{stderr}");
    let denied = std::fs::read_to_string(out.join("denied_calls.csv")).unwrap();
    let bob = denied.lines().find(|l| l.starts_with("bob,")).unwrap();
    assert!(
        bob.contains("explicit_deny") && bob.contains("pol-15;pol-16"),
        "{bob}"
    );
}

#[test]
fn absurd_sizes_and_thread_counts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    permlens()
        .args(["analyze", "--threads", "100000", "-o"])
        .arg(dir.path().join("r"))
        .arg(data("cts-list-traces.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--threads: expected 1 to 1024"));
    permlens()
        .args([
            "generate",
            "--format",
            "json",
            "--size",
            "99999999999999999999999",
            "--out",
        ])
        .arg(dir.path().join("g.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("more than the largest size"));
    assert!(!dir.path().join("g.jsonl").exists());
}

#[test]
fn a_refused_report_leaves_the_state_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let refused = dir.path().join("mine");
    std::fs::create_dir(&refused).unwrap();
    std::fs::write(refused.join("notes.txt"), "not a report").unwrap();
    let state_arg = ["--state", state.to_str().unwrap()];
    let (code, _, stderr) = analyze(&[data("cts-list-traces.json")], &state_arg, &refused);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        !state.join("manifest.json").exists(),
        "the state did not advance"
    );
    // The next run reads the logs as new.
    let out = dir.path().join("r");
    let (code, summary, stderr) = analyze(&[data("cts-list-traces.json")], &state_arg, &out);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary.unwrap()["inputs"]["bss_requests"], 5);
}

#[test]
fn staging_leftovers_of_a_killed_run_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let stale = dir.path().join(".permlens-stage-r-AbC123");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("usage.parquet"), "half").unwrap();
    let other = dir.path().join(".permlens-stage-other-XyZ");
    std::fs::create_dir(&other).unwrap();
    let (code, _, stderr) = analyze(&[data("cts-list-traces.json")], &[], &out);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stale.exists());
    assert!(
        other.exists(),
        "another report's staging is not this run's to remove"
    );
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".permlens-stage-r-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn skipped_paths_reach_the_summary_even_when_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::copy(data("cts-list-traces.json"), logs.join("t.json")).unwrap();
    let fifo = logs.join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink(&logs, logs.join("loop")).unwrap();
    let out = dir.path().join("r");
    let (code, summary, stderr) = analyze(&[logs], &["-q"], &out);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let s = summary.unwrap();
    let skipped = s["inputs"]["paths_skipped"].to_string();
    assert!(
        skipped.contains("pipe") && skipped.contains("loop"),
        "{skipped}"
    );
    let warnings = s["inputs"]["warnings"].to_string();
    assert!(warnings.contains("pipe"), "{warnings}");
}
