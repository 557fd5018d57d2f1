//! Accepted exceptions through the real binary (`analyze --exceptions FILE`): the samples'
//! exceptions file marks the findings it covers, keeps them out of `--fail-on`, counts them
//! apart, and reports expired and stale exceptions; a bad file stops the run naming its line.

mod common;

use std::path::Path;

use common::{permlens, samples};
use predicates::prelude::*;

fn analyze(out: &Path, extra: &[&str]) -> std::process::Output {
    permlens()
        .arg("analyze")
        .arg(samples().join("logs"))
        .arg("-p")
        .arg(samples().join("snapshot.json"))
        .args(["--user-field", "custom_data_log1", "--progress", "never"])
        .args(["--format", "csv,no-html", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// The rows of a CSV table as header -> value maps.
fn rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn the_samples_exceptions_mark_findings_and_report_expired_and_stale_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let file = samples().join("exceptions.toml");
    let o = analyze(&out, &["--exceptions", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("mallory-trial expired on 2026-01-31"),
        "{stderr}"
    );
    assert!(
        stderr.contains("old-export-job matched no finding"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("excepted ("), "{stdout}");

    let denied = rows(&out.join("denied_calls.csv"));
    let excepted: Vec<_> = denied
        .iter()
        .filter(|r| !r["excepted_by"].is_empty())
        .map(|r| {
            (
                r["user"].as_str(),
                r["verdict"].as_str(),
                r["excepted_by"].as_str(),
            )
        })
        .collect();
    assert_eq!(excepted, [("dave", "confirmed", "dave-may-not-pay")]);
    // mallory's exception expired: her denial is not excepted.
    assert!(
        denied
            .iter()
            .any(|r| r["user"] == "mallory" && r["excepted_by"].is_empty())
    );

    let grants = rows(&out.join("group_permissions.csv"));
    for g in &grants {
        let want = match (g["group"].as_str(), g["state"].as_str()) {
            ("office-ops", "unused") => "office-ops-broad-access",
            ("renewals", "unused") => "readonly-on-renewals",
            _ => "",
        };
        assert_eq!(g["excepted_by"], want, "{g:?}");
    }
    let groups = rows(&out.join("over_privileged_groups.csv"));
    for g in &groups {
        let all = matches!(g["group"].as_str(), "office-ops" | "renewals");
        assert_eq!(g["unused_excepted"] == g["unused"], all, "{g:?}");
    }

    let s = summary(&out);
    let e = &s["findings"]["excepted"];
    assert_eq!(e["denied_calls"]["confirmed"], 1);
    assert_eq!(e["over_privileged_groups"], 2);
    assert_eq!(e["expired"][0]["id"], "mallory-trial");
    assert_eq!(e["stale"], serde_json::json!(["old-export-job"]));
    let unused = rows(&out.join("unused_permissions.csv"));
    let n = unused
        .iter()
        .filter(|r| !r["excepted_by"].is_empty())
        .count();
    assert_eq!(e["unused_permissions"], n);
    // The totals still count every finding: excepted ones are counted apart, not removed.
    assert_eq!(s["findings"]["denied_calls"]["confirmed"], 7);
}

#[test]
fn excepted_findings_never_fail_the_run_and_expired_exceptions_do_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ex.toml");
    let every_denial = |expires: &str| {
        format!(
            "[[exception]]\nverdict = \"confirmed\"\nreason = \"known\"\nowner = \"sec\"\nexpires = \"{expires}\"\n\n\
             [[exception]]\nverdict = \"observed_only\"\nreason = \"known\"\nowner = \"sec\"\nexpires = \"{expires}\"\n"
        )
    };
    let out = dir.path().join("r");
    // Without exceptions the samples' denials fail the run.
    assert_eq!(
        analyze(&out, &["--fail-on", "denied"]).status.code(),
        Some(1)
    );
    std::fs::write(&file, every_denial("2099-01-01")).unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(
        analyze(&out, &["--fail-on", "denied", "--exceptions", f])
            .status
            .code(),
        Some(0)
    );
    // Drift (predicted_only) is not covered by these exceptions.
    assert_eq!(
        analyze(&out, &["--fail-on", "drift", "--exceptions", f])
            .status
            .code(),
        Some(1)
    );
    // Expired: they cover nothing, and the run fails again.
    std::fs::write(&file, every_denial("2020-01-01")).unwrap();
    let o = analyze(&out, &["--fail-on", "denied", "--exceptions", f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expired on 2020-01-01"));
}

#[test]
fn a_bad_exceptions_file_stops_the_run_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ex.toml");
    std::fs::write(
        &file,
        "[[exception]]\nuser = \"dave\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"next year\"\n",
    )
    .unwrap();
    let out = dir.path().join("r");
    permlens()
        .arg("analyze")
        .arg(samples().join("logs"))
        .arg("-p")
        .arg(samples().join("snapshot.json"))
        .args(["--user-field", "custom_data_log1", "-o"])
        .arg(&out)
        .arg("--exceptions")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("ex.toml line 5")
                .and(predicate::str::contains("expected a date")),
        );
    assert!(!out.exists(), "nothing is written");
    // Exceptions are about findings: a snapshot is needed.
    permlens()
        .arg("analyze")
        .arg(samples().join("logs"))
        .arg("--exceptions")
        .arg(&file)
        .assert()
        .code(2);
}
