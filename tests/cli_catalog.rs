//! `permlens catalog` and `permlens classify` through the real binary.

mod common;

use common::{permlens, root};
use predicates::prelude::*;

#[test]
fn catalog_csv_prints_a_header_and_27_routes() {
    let out = permlens()
        .args(["catalog", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(&headers[0], "method");
    assert_eq!(&headers[1], "path");
    assert_eq!(&headers[2], "permission");
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 27);
    assert!(
        rows.iter()
            .any(|r| &r[1] == "/v2/orders/suscriptions/resources/query")
    );
}

#[test]
fn catalog_table_and_json() {
    permlens()
        .arg("catalog")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "27 routes, 12 permission codes, 12 IAM 5.0 actions, service bss",
        ))
        .stdout(predicate::str::contains(
            "GET     /v1.0/{domain_id}/payments/intl-invoices",
        ));
    let out = permlens()
        .args(["catalog", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["routes"].as_array().unwrap().len(), 27);
    assert_eq!(v["hosts"][0], "bss.myhuaweicloud.com");
}

#[test]
fn catalog_shows_each_routes_iam5_action_with_its_basis_and_source() {
    let out = permlens()
        .args(["catalog", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let route = |path: &str| {
        v["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"] == path)
            .unwrap()
            .clone()
    };
    let renew = route("/v2/orders/subscriptions/resources/renew");
    assert_eq!(renew["permission"], "bss:renewal:update");
    assert_eq!(renew["v5_action"], "billing:subscription:renew");
    assert_eq!(renew["v5_basis"], "confirmed");
    assert!(
        renew["v5_source"]
            .as_str()
            .unwrap()
            .contains("api_order_00018")
    );
    let cancel = route("/v2/orders/customer-orders/cancel");
    assert_eq!(cancel["v5_basis"], "not_required");
    assert!(cancel.get("v5_action").is_none());
    let costs = route("/v4/costs/cost-analysed-bills/query");
    assert_eq!(costs["v5_basis"], "inferred");
    assert_eq!(costs["v5_aliases"][0], "bss:costanalysis:view");
    assert_eq!(
        route("/v1.0/{domain_id}/payments/intl-invoices")["v5_basis"],
        "unknown"
    );

    let out = permlens()
        .args(["catalog", "--format", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (action, basis) = (col("v5_action"), col("v5_basis"));
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let packages = rows
        .iter()
        .find(|r| &r[1] == "/v3/payments/free-resources/query")
        .unwrap();
    assert_eq!(&packages[action], "billing:resourcePackages:view");
    assert_eq!(&packages[basis], "confirmed");
    assert!(!packages[col("v5_source")].is_empty());
}

#[test]
fn catalog_json_round_trips_through_catalog_option() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.json");
    let out = permlens()
        .args(["catalog", "--format", "json"])
        .output()
        .unwrap();
    std::fs::write(&file, &out.stdout).unwrap();
    let again = permlens()
        .args(["catalog", "--format", "json", "--catalog"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn import_writes_the_embedded_catalog_from_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bss.json");
    permlens()
        .args(["catalog", "import"])
        .arg(root().join("src/catalog/data/bss-api-permissions.txt"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "wrote 27 routes (12 permission codes)",
        ));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        permlens::catalog::EMBEDDED_JSON
    );
}

#[test]
fn import_of_a_broken_table_exits_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.txt");
    std::fs::write(
        &seed,
        "Scenario |\nSub-Scenario |\nAPI Description |\nURL |\nPermission Code |\nSupported Action |\n---|---|---|---|---|---|\na |\nb |\nc |\nGETT /x |\nbss:a:b |\nd |\n",
    )
    .unwrap();
    permlens()
        .args(["catalog", "import"])
        .arg(&seed)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("seed.txt:8: expected a URL cell"));
}

#[test]
fn a_bad_user_catalog_exits_2_with_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.json");
    std::fs::write(
        &file,
        r#"{"service":"bss","routes":[{"scenario":"s","sub_scenario":"","api":"a","method":"GET","path":"/a/**/b","permission":"bss:a:view","permission_description":""}]}"#,
    )
    .unwrap();
    let assert = permlens()
        .args(["classify", "GET", "/a", "--catalog"])
        .arg(&file)
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("mine.json: routes[0].path: '**' must be the last segment"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));

    permlens()
        .args(["catalog", "--catalog", "/nonexistent/catalog.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read catalog /nonexistent/catalog.json",
        ));
}

#[test]
fn classify_names_the_permission() {
    permlens()
        .args([
            "classify",
            "GET",
            "/v2/orders/customer-orders/details/CS123?x=1",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("bss:order:view"))
        .stdout(predicate::str::contains("param        order_id = CS123"));
    permlens()
        .args([
            "classify",
            "put",
            "/v2/orders/customer-orders/details/../cancel",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("bss:order:update"))
        .stdout(predicate::str::contains("dot segments were resolved"));
    permlens()
        .args(["classify", "GET", "/v3/projects/p/cloudservers"])
        .assert()
        .success()
        .stdout(predicate::str::contains("not in the catalog"));
}

#[test]
fn classify_json() {
    let out = permlens()
        .args([
            "classify",
            "--format",
            "json",
            "POST",
            "https://bss.myhuaweicloud.com/v2/orders/subscriptions/resources/autorenew/r1/r2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["matched"], true);
    assert_eq!(v["route"]["permission"], "bss:renewal:update");
    assert_eq!(v["params"]["**"], "r1/r2");
    assert_eq!(v["normalization"]["absolute_url"], true);
}

#[test]
fn usage_errors_exit_2_and_help_and_version_work() {
    permlens().args(["classify", "GET"]).assert().code(2);
    permlens()
        .args(["catalog", "--format", "yaml"])
        .assert()
        .code(2);
    permlens()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("permlens "));
    for cmd in [
        &["--help"][..],
        &["catalog", "--help"],
        &["catalog", "import", "--help"],
        &["classify", "--help"],
    ] {
        permlens()
            .args(cmd)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: permlens"));
    }
}
