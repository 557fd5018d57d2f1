//! Golden reports over `samples/`: the full analysis with the sample snapshot, compared as
//! values (rows read back from CSV, sorted), plus Parquet read back through polars.
//!
//! To accept a deliberate change: `PERMLENS_BLESS=1 cargo test --test golden`, then review
//! the diff of `tests/golden/`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{permlens, root, samples};
use polars::prelude::*;

const TABLES: &[&str] = &[
    "usage",
    "unmatched",
    "denied_calls",
    "denied_per_day",
    "group_permissions",
    "over_privileged_groups",
    "unused_permissions",
    "recommendations",
];

fn run_samples(out: &Path, extra: &[&str]) -> std::process::Output {
    permlens()
        .arg("analyze")
        .arg(samples().join("logs"))
        .arg("-p")
        .arg(samples().join("snapshot.json"))
        .args([
            "--user-field",
            "custom_data_log1",
            "--progress",
            "never",
            "--format",
            "parquet,csv",
            "-o",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn read_csv(p: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::Reader::from_path(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let headers = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    let mut rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    rows.sort();
    (headers, rows)
}

fn golden_dir() -> PathBuf {
    root().join("tests/golden")
}

#[test]
fn sample_reports_match_the_goldens() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let o = run_samples(&out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bless = std::env::var_os("PERMLENS_BLESS").is_some();
    for table in TABLES {
        let got = out.join(format!("{table}.csv"));
        let golden = golden_dir().join(format!("{table}.csv"));
        if bless {
            std::fs::copy(&got, &golden).unwrap();
            continue;
        }
        assert_eq!(
            read_csv(&got),
            read_csv(&golden),
            "{table} differs from tests/golden/{table}.csv"
        );
    }
    for doc in [
        "finance-viewers",
        "office-ops",
        "purchasers",
        "legacy-admins",
    ] {
        let got = out.join(format!("policies/{doc}.json"));
        let golden = golden_dir().join(format!("policy-{doc}.json"));
        if bless {
            std::fs::copy(&got, &golden).unwrap();
            continue;
        }
        let a: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&got).unwrap()).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&golden).unwrap()).unwrap();
        assert_eq!(a, b, "policies/{doc}.json");
    }
}

fn column(rows: &[Vec<String>], headers: &[String], name: &str) -> Vec<String> {
    let i = headers.iter().position(|h| h == name).unwrap();
    rows.iter().map(|r| r[i].clone()).collect()
}

#[test]
fn samples_exercise_every_verdict_reason_state_and_action() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    assert!(run_samples(&out, &[]).status.success());
    let (h, rows) = read_csv(&out.join("denied_calls.csv"));
    let pairs: BTreeSet<(String, String)> = column(&rows, &h, "verdict")
        .into_iter()
        .zip(column(&rows, &h, "reason"))
        .collect();
    for (verdict, reason) in [
        ("confirmed", "not_granted"),
        ("confirmed", "explicit_deny"),
        ("confirmed", "role_only"),
        ("confirmed", "unknown_user"),
        ("confirmed", "condition_unmet"),
        ("confirmed", "condition_undecided"),
        ("predicted_only", "not_granted"),
        ("predicted_only", "condition_unmet"),
        ("observed_only", "gateway_acl"),
        ("observed_only", "unexplained"),
    ] {
        assert!(
            pairs.contains(&(verdict.to_owned(), reason.to_owned())),
            "no {verdict}/{reason} row: {pairs:?}"
        );
    }
    // 401, 429 and 5xx are never denials.
    let users_routes: Vec<(String, String)> = column(&rows, &h, "user")
        .into_iter()
        .zip(column(&rows, &h, "route"))
        .collect();
    assert!(!users_routes.contains(&(
        "bob".into(),
        "/v2/accounts/customer-accounts/balances".into()
    )));
    assert!(
        !users_routes.contains(&("bob".into(), "/v2/bills/ratings/on-demand-resources".into()))
    );

    let (h, rows) = read_csv(&out.join("group_permissions.csv"));
    let states: BTreeSet<String> = column(&rows, &h, "state").into_iter().collect();
    assert_eq!(
        states,
        ["denied", "unobservable", "unused", "used"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let (h, rows) = read_csv(&out.join("recommendations.csv"));
    let actions: BTreeSet<String> = column(&rows, &h, "action").into_iter().collect();
    assert_eq!(
        actions,
        [
            "detach_policy",
            "remove_permission",
            "replace_role",
            "review_member"
        ]
        .map(String::from)
        .into_iter()
        .collect()
    );
    // Three days of logs are less than --min-days 30: every recommendation is low confidence.
    assert!(column(&rows, &h, "confidence").iter().all(|c| c == "low"));

    // Never recommend removing something that was used.
    let (gh, grows) = read_csv(&out.join("group_permissions.csv"));
    let used: BTreeSet<(String, String)> = grows
        .iter()
        .filter(|r| r[gh.iter().position(|x| x == "state").unwrap()] == "used")
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    for r in rows.iter().filter(|r| r[1] == "remove_permission") {
        assert!(
            !used.contains(&(r[0].clone(), r[2].clone())),
            "removes a used permission: {r:?}"
        );
    }
}

/// The requests per day add up, per verdict, to the requests of the denied-calls rows, and
/// each day is a midnight inside the window.
#[test]
fn denied_per_day_adds_up_to_denied_calls() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    assert!(run_samples(&out, &[]).status.success());
    let sums = |table: &str| {
        let (h, rows) = read_csv(&out.join(format!("{table}.csv")));
        let mut by = std::collections::BTreeMap::<String, u64>::new();
        for (v, n) in column(&rows, &h, "verdict")
            .into_iter()
            .zip(column(&rows, &h, "count"))
        {
            *by.entry(v).or_default() += n.parse::<u64>().unwrap();
        }
        (
            by,
            column(
                &rows,
                &h,
                if table == "denied_per_day" {
                    "day"
                } else {
                    "user"
                },
            ),
        )
    };
    let (per_day, days) = sums("denied_per_day");
    let (per_row, _) = sums("denied_calls");
    assert_eq!(per_day, per_row);
    assert!(
        days.iter().all(|d| d.ends_with("T00:00:00.000000Z")),
        "{days:?}"
    );
}

#[test]
fn confidence_is_high_with_a_long_enough_window_and_active_members() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    assert!(run_samples(&out, &["--min-days", "1"]).status.success());
    let (h, rows) = read_csv(&out.join("recommendations.csv"));
    let by_group: Vec<(String, String)> = column(&rows, &h, "group")
        .into_iter()
        .zip(column(&rows, &h, "confidence"))
        .collect();
    assert!(by_group.contains(&("finance-viewers".into(), "high".into())));
    // legacy-admins' only member made no successful call, but carol was active (denied).
    assert!(
        by_group
            .iter()
            .all(|(g, c)| g != "contractors" || c == "high")
    );
}

#[test]
fn parquet_reads_back_with_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    assert!(run_samples(&out, &[]).status.success());
    let df = ParquetReader::new(std::fs::File::open(out.join("denied_calls.parquet")).unwrap())
        .finish()
        .unwrap();
    let names: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
    for col in [
        "user",
        "method",
        "route",
        "permission",
        "verdict",
        "reason",
        "policy",
        "count",
        "first_seen",
        "last_seen",
        "sample_request_ids",
    ] {
        assert!(names.contains(&col), "{col} missing from {names:?}");
    }
    assert!(matches!(
        df.column("first_seen").unwrap().dtype(),
        DataType::Datetime(TimeUnit::Microseconds, _)
    ));
    assert_eq!(df.column("count").unwrap().dtype(), &DataType::UInt64);
    let csv_rows = read_csv(&out.join("denied_calls.csv")).1.len();
    assert_eq!(df.height(), csv_rows);
    for table in TABLES {
        let df =
            ParquetReader::new(std::fs::File::open(out.join(format!("{table}.parquet"))).unwrap())
                .finish()
                .unwrap();
        assert_eq!(
            df.height(),
            read_csv(&out.join(format!("{table}.csv"))).1.len(),
            "{table}"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["findings"]["denied_calls"]["confirmed"], 7);
    let outputs: Vec<&str> = summary["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        outputs.contains(&"denied_calls.parquet")
            && outputs.contains(&"summary.json")
            && outputs.contains(&"policies/finance-viewers.json")
    );
}

#[test]
fn fail_on_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    for (fail_on, code) in [
        ("denied", 1),
        ("drift", 1),
        ("over-privileged", 1),
        ("unused", 1),
        ("", 0),
    ] {
        let o = run_samples(&out, &["--fail-on", fail_on]);
        assert_eq!(
            o.status.code(),
            Some(code),
            "--fail-on {fail_on:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            out.join("summary.json").is_file(),
            "findings still write the report"
        );
    }
}

#[test]
fn no_catalog_request_gives_no_basis_for_unused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("other.jsonl");
    std::fs::write(&log, "{\"time\":\"2026-11-27T00:00:00Z\",\"method\":\"GET\",\"uri\":\"/v2/orders-archive/x\",\"status\":200,\"user\":\"alice\"}\n").unwrap();
    let o = permlens()
        .args(["analyze", "--progress", "never", "-p"])
        .arg(samples().join("snapshot.json"))
        .arg("-o")
        .arg(dir.path().join("r"))
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no basis for calling any permission unused")
    );
    assert!(!dir.path().join("r").exists());
}

/// Regression: a log whose requests have no status (its status key has another name) was
/// judged as if nobody had used anything: every grant unused, a removal recommended, exit 0
/// or 1. Such requests are no basis for findings; one with a status among them is.
#[test]
fn requests_without_a_status_give_no_basis_for_unused() {
    let dir = tempfile::tempdir().unwrap();
    let line = |user: &str, status: &str| {
        format!(
            "{{\"time\":\"2026-11-27T00:00:00Z\",\"method\":\"GET\",\"uri\":\"/v2/accounts/customer-accounts/balances\",\"user\":\"{user}\"{status}}}\n"
        )
    };
    let run = |name: &str, body: String| {
        let log = dir.path().join(name);
        std::fs::write(&log, body).unwrap();
        let out = dir.path().join(format!("r-{name}"));
        let o = permlens()
            .args(["analyze", "--progress", "never", "-p"])
            .arg(samples().join("snapshot.json"))
            .arg("-o")
            .arg(&out)
            .arg(&log)
            .output()
            .unwrap();
        (o, out)
    };
    let (o, out) = run(
        "nostatus.jsonl",
        line("alice", ",\"http_status\":200") + &line("bob", ""),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("none of the 2 requests") && err.contains("has a status"),
        "{err}"
    );
    assert!(!out.exists());
    // One request with a status is evidence: the report is written.
    let (o, out) = run(
        "somestatus.jsonl",
        line("alice", ",\"status\":200") + &line("bob", ""),
    );
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.join("summary.json").is_file());
}

#[test]
fn csv_cells_that_look_like_formulas_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("evil.jsonl");
    std::fs::write(
        &log,
        "{\"time\":\"2026-11-27T00:00:00Z\",\"method\":\"GET\",\"uri\":\"/v2/orders/customer-orders\",\"status\":403,\"user\":\"=HYPERLINK(\\\"http://x\\\")\",\"request_id\":\"@id\"}\n",
    )
    .unwrap();
    let out = dir.path().join("r");
    let o = permlens()
        .args(["analyze", "--progress", "never", "--format", "csv", "-p"])
        .arg(samples().join("snapshot.json"))
        .arg("-o")
        .arg(&out)
        .arg(&log)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("denied_calls.csv")).unwrap();
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(text.contains("'@id"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with('=')), "{text}");
}
