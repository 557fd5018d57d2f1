//! IAM 5.0 identity policies through the real binary: an account with v5 policies only, one
//! with both models (a v5 Deny over a v1.1 Allow), conditions, and `explain`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{permlens, root};
use predicates::prelude::*;

fn data(name: &str) -> PathBuf {
    root().join("tests/data/iam-v5").join(name)
}

/// Runs `analyze` over the fixture log with `snapshot`; returns each CSV table as rows of
/// column -> value.
fn analyze(snapshot: &str, out: &Path) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    permlens()
        .arg("analyze")
        .arg(data("gateway.jsonl"))
        .arg("-p")
        .arg(data(snapshot))
        .args(["--format", "csv,no-html", "--progress", "never", "-q", "-o"])
        .arg(out)
        .assert()
        .success();
    let mut tables = BTreeMap::new();
    for name in ["denied_calls", "group_permissions"] {
        let mut r = csv::Reader::from_path(out.join(format!("{name}.csv"))).unwrap();
        let headers = r.headers().unwrap().clone();
        let rows = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap();
                headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect()
            })
            .collect();
        tables.insert(name.to_owned(), rows);
    }
    tables
}

fn pick<'t>(
    rows: &'t [BTreeMap<String, String>],
    key: &str,
    value: &str,
) -> Vec<&'t BTreeMap<String, String>> {
    rows.iter().filter(|r| r[key] == value).collect()
}

#[test]
fn an_account_with_v5_policies_only_is_not_everyone_denied() {
    let dir = tempfile::tempdir().unwrap();
    let t = analyze("v5-only.json", &dir.path().join("r"));
    let denied = &t["denied_calls"];
    let known: Vec<String> = denied
        .iter()
        .filter(|r| r["reason"] != "unknown_user")
        .map(|r| {
            format!(
                "{} {} {} {} {} {} {}",
                r["user"],
                r["method"],
                r["route"],
                r["verdict"],
                r["reason"],
                r["policy"],
                r["policy_model"]
            )
        })
        .collect();
    // vic's and walt's successes are allowed by their v5 policies (no predicted_only); what
    // they were refused is what their v5 policies do not grant; olga's IP condition splits
    // her requests; walt's order cancel needs no v5 permission.
    assert_eq!(
        known,
        [
            "olga GET /v2/orders/customer-orders confirmed condition_unmet OfficeOrders v5",
            "vic POST /v3/orders/customer-orders/pay confirmed not_granted  ",
            "walt POST /v2/orders/subscriptions/resources/renew confirmed not_granted  ",
        ]
    );
    let olga = pick(denied, "user", "olga");
    assert!(olga[0]["condition"].contains("IpAddress g:SourceIp"));

    let grants = &t["group_permissions"];
    assert!(
        grants.iter().all(|g| g["policy_model"] == "v5"),
        "{grants:?}"
    );
    let readers = pick(grants, "group", "billing-readers");
    let state = |rows: &[&BTreeMap<String, String>], p: &str| {
        rows.iter()
            .find(|r| r["permission"] == p)
            .map(|r| r["state"].clone())
            .unwrap_or_else(|| panic!("{p} in {rows:?}"))
    };
    assert_eq!(state(&readers, "billing:order:view"), "used");
    assert_eq!(state(&readers, "billing:balance:view"), "used");
    assert_eq!(state(&readers, "billing:coupon:view"), "unused");
    assert_eq!(readers[0]["granted_by"], "BillingReadOnly");
    let buyers = pick(grants, "group", "buyers");
    assert_eq!(state(&buyers, "billing:order:pay"), "used");
    assert_eq!(state(&buyers, "billing:order:view"), "unused");
}

#[test]
fn both_models_a_v5_deny_beats_a_v11_allow() {
    let dir = tempfile::tempdir().unwrap();
    let t = analyze("mixed.json", &dir.path().join("r"));
    let denied: Vec<String> = t["denied_calls"]
        .iter()
        .filter(|r| r["reason"] != "unknown_user")
        .map(|r| {
            format!(
                "{} {} {} {} {} {}",
                r["user"], r["route"], r["verdict"], r["reason"], r["policy"], r["policy_model"]
            )
        })
        .collect();
    // xena's payment succeeded although DenyPayV5 denies it: drift, decided by the v5 model;
    // her order list and yuri's renewal (v5 only) are allowed.
    assert_eq!(
        denied,
        ["xena /v3/orders/customer-orders/pay predicted_only explicit_deny DenyPayV5 v5"]
    );
    let grants = &t["group_permissions"];
    let models: Vec<(String, String, String)> = grants
        .iter()
        .map(|g| {
            (
                g["group"].clone(),
                g["permission"].clone(),
                g["policy_model"].clone(),
            )
        })
        .collect();
    assert!(models.contains(&("purchasers".into(), "bss:order:view".into(), "v1.1".into())));
    assert!(models.contains(&(
        "renewers-v5".into(),
        "billing:subscription:renew".into(),
        "v5".into()
    )));
}

#[test]
fn explain_names_the_model_and_the_deciding_statement() {
    let explain = |format: &str, user: &str, method: &str, target: &str| {
        permlens()
            .args([
                "explain",
                "--format",
                format,
                "--at",
                "2026-11-27T10:00:00Z",
            ])
            .args(["--user", user, "-p"])
            .arg(data("mixed.json"))
            .args([method, target])
            .assert()
            .success()
    };
    explain("text", "xena", "POST", "/v3/orders/customer-orders/pay")
        .stdout(predicate::str::contains("v5 action    billing:order:pay (confirmed)"))
        .stdout(predicate::str::contains(
            "decision     deny (decided by the v5 model)",
        ))
        .stdout(predicate::str::contains(
            "reason       explicit_deny: DenyPayV5 statement 0 (Deny billing:order:pay)",
        ))
        .stdout(predicate::str::contains(
            "Allow OrderManager [group purchasers] #0  bss:order:*  applies  (v1.1)",
        ))
        .stdout(predicate::str::contains(
            "Deny  DenyPayV5 [group no-pay-v5] #0  billing:order:pay  applies  (v5 identity policy)",
        ));
    explain(
        "text",
        "yuri",
        "POST",
        "/v2/orders/subscriptions/resources/renew",
    )
    .stdout(predicate::str::contains(
        "decision     allow (decided by the v5 model)",
    ))
    .stdout(predicate::str::contains(
        "allowed by   RenewV5 statement 0 (Allow billing:subscription:renew)",
    ));
    let out = explain("json", "xena", "POST", "/v3/orders/customer-orders/pay");
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["policy_model"], "v5");
    assert_eq!(v["deciding_policy"], "DenyPayV5");
    assert_eq!(v["deciding_statement"], 0);
    assert_eq!(v["v5_action"], "billing:order:pay");
    let models: Vec<&str> = v["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["policy_model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["v1.1", "v5"]);
}

#[test]
fn snapshot_check_counts_identity_policies_and_agencies() {
    permlens()
        .args(["snapshot", "check"])
        .arg(data("v5-only.json"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3 users, 3 groups, 1 agencies, 0 policies, 3 IAM 5.0 identity policies and 0 roles",
        ))
        .stdout(predicate::str::contains("taken at 2026-11-27T00:00:00Z"));
}
