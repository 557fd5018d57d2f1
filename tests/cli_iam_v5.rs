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
    for name in ["denied_calls", "group_permissions", "recommendations"] {
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
            "walt GET /v1.0/{domain_id}/payments/intl-invoices confirmed condition_undecided  v5",
        ]
    );
    // Invoices have no known v5 action: vic's success is no drift, walt's 403 is undecided
    // and says why.
    let walt = pick(denied, "user", "walt");
    assert!(
        walt.iter()
            .any(|r| r["condition"].contains("IAM 5.0 action unknown for this API")),
        "{walt:?}"
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
    // purchasers rely on v1.1 only in an account on IAM 5.0: the v5 policy for what its
    // members used (xena's order list and payment), beside the v1.1 recommendation.
    let migrate = pick(&t["recommendations"], "action", "migrate_to_v5");
    assert_eq!(migrate.len(), 1, "{migrate:?}");
    assert_eq!(migrate[0]["group"], "purchasers");
    assert_eq!(migrate[0]["target"], "OrderManager");
    let detail = &migrate[0]["detail"];
    let doc: serde_json::Value =
        serde_json::from_str(&detail[detail.find('{').unwrap()..]).unwrap();
    assert_eq!(doc["Version"], "5.0");
    assert_eq!(
        doc["Statement"][0]["Action"],
        serde_json::json!(["billing:order:pay", "billing:order:view"])
    );
    assert_eq!(doc["Statement"][0]["Resource"], serde_json::json!(["*"]));
    // A v5-only account has nothing to migrate.
    let dir = tempfile::tempdir().unwrap();
    let t = analyze("v5-only.json", &dir.path().join("r"));
    assert!(pick(&t["recommendations"], "action", "migrate_to_v5").is_empty());
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

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let dest = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn import(dump: &Path, out: &Path) -> assert_cmd::assert::Assert {
    permlens()
        .args(["snapshot", "import"])
        .arg(dump)
        .arg("--out")
        .arg(out)
        .args(["--taken-at", "2026-11-27T00:00:00Z"])
        .assert()
}

#[test]
fn import_of_the_v5_list_apis_pages_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    import(&data("dump"), &out)
        .success()
        .stderr(predicate::str::contains(
            "3 users, 2 groups, 1 agencies, 0 policies, 3 IAM 5.0 identity policies and 0 roles",
        ))
        .stderr(predicate::str::contains("next_marker").not());
    let snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    // Users from both pages, with their URNs and direct attachments.
    let users: Vec<&str> = snap["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["vic", "walt", "olga"]);
    assert_eq!(snap["users"][0]["urn"], "iam::0a1b2c3d4e5f:user:vic");
    assert_eq!(snap["users"][0]["policies"], serde_json::json!(["NoPayV5"]));
    assert_eq!(snap["groups"][0]["name"], "billing-readers");
    assert_eq!(snap["groups"][0]["members"], serde_json::json!(["vic"]));
    assert_eq!(
        snap["groups"][0]["policies"],
        serde_json::json!(["BillingReadOnly"])
    );
    assert_eq!(snap["agencies"][0]["name"], "finance-agency");
    assert_eq!(
        snap["agencies"][0]["policies"],
        serde_json::json!(["BillingReadOnly"])
    );
    // The default version's document (v2), parsed from the API's JSON string.
    assert_eq!(snap["policies"][0]["name"], "BillingReadOnly");
    assert_eq!(
        snap["policies"][0]["document"]["Statement"][0]["Action"],
        serde_json::json!(["billing:*:view"])
    );
    // The v3 sample dump and the v5 one together: one account, both models.
    let both = dir.path().join("both.json");
    permlens()
        .args(["snapshot", "import"])
        .arg(common::samples().join("iam-dump"))
        .arg(data("dump"))
        .arg("--out")
        .arg(&both)
        .args(["--taken-at", "2026-11-27T00:00:00Z"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "14 users, 12 groups, 1 agencies, 11 policies, 3 IAM 5.0 identity policies and 2 roles",
        ));
}

#[test]
fn an_unfinished_v5_listing_and_broken_documents_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    copy_dir(&data("dump"), &dump);
    std::fs::remove_file(dump.join("v5/users.2.json")).unwrap();
    import(&dump, &dir.path().join("a.json"))
        .success()
        .stderr(predicate::str::contains(
            "v5/users.json: page_info.next_marker is \"u-walt\": the listing goes on",
        ));

    let versions = dump.join("v5/policies/p-buy/versions.json");
    std::fs::write(
        &versions,
        r#"{"versions": [{"version_id": "v1", "is_default": true, "document": "{\"Version\":\"5.0\",\"Statement\":[{\"Effect\":\"Permit\",\"Action\":[\"billing:order:*\"]}]}"}]}"#,
    )
    .unwrap();
    import(&dump, &dir.path().join("b.json"))
        .code(2)
        .stderr(predicate::str::contains(
            "p-buy/versions.json: versions[0].document.Statement[0].Effect: expected \"Allow\" or \"Deny\"",
        ));
    std::fs::write(
        &versions,
        r#"{"versions": [{"version_id": "v1", "is_default": true, "document": "{\"Version\":"}]}"#,
    )
    .unwrap();
    import(&dump, &dir.path().join("c.json"))
        .code(2)
        .stderr(predicate::str::contains(
            "p-buy/versions.json: versions[0].document: expected a policy document in the string",
        ));
}

#[test]
fn v5_grants_get_their_last_use_before_the_window_from_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    permlens()
        .arg("analyze")
        .arg(data("gateway.jsonl"))
        .arg("-p")
        .arg(data("v5-only.json"))
        .arg("--state")
        .arg(dir.path().join("state"))
        .args([
            "--since",
            "2026-11-26T11:00:00Z",
            "--until",
            "2026-11-27T00:00:00Z",
        ])
        .args(["--format", "csv,no-html", "--progress", "never", "-q", "-o"])
        .arg(&out)
        .assert()
        .success();
    let mut r = csv::Reader::from_path(out.join("group_permissions.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let view = rows
        .iter()
        .find(|r| {
            &r[col("group")] == "billing-readers" && &r[col("permission")] == "billing:order:view"
        })
        .unwrap();
    assert_eq!(&view[col("state")], "unused");
    assert_eq!(&view[col("policy_model")], "v5");
    assert!(
        view[col("last_used")].starts_with("2026-11-26T08:00:00"),
        "{view:?}"
    );
}

/// Regression: a v5 user whose record says `"enabled": false` was imported as enabled.
#[test]
fn a_disabled_v5_user_is_imported_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    copy_dir(&data("dump"), &dump);
    let users = dump.join("v5/users.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&users).unwrap()).unwrap();
    v["users"][1]["enabled"] = serde_json::json!(false);
    std::fs::write(&users, v.to_string()).unwrap();
    let out = dir.path().join("snap.json");
    import(&dump, &out)
        .success()
        .stderr(predicate::str::contains("user \"walt\" is disabled"));
    let snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(snap["users"][1]["name"], "walt");
    assert_eq!(snap["users"][1]["enabled"], false);
    assert!(snap["users"][0].get("enabled").is_none());
}
