//! The gateways customers run in front of BSS, each in its documented JSON access-log shape
//! (fixtures in `tests/data/gateways/`, built from the projects' docs and code): read with no
//! options, or refused loudly. Each fixture holds a BSS success, a BSS denial and a call to
//! another service.

mod common;

use std::path::{Path, PathBuf};

use common::{permlens, root};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    root().join("tests/data/gateways").join(name)
}

fn analyze(file: &str, extra: &[&str], out: &Path) -> (i32, Option<Value>, String) {
    analyze_path(&data(file), extra, out)
}

/// `analyze` of any log: (exit code, summary.json, stderr).
fn analyze_path(log: &Path, extra: &[&str], out: &Path) -> (i32, Option<Value>, String) {
    let output = permlens()
        .arg("analyze")
        .arg(log)
        .args(["--progress", "never", "--format", "csv", "-o"])
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

/// usage.csv rows as (user, method, status, first_seen).
fn usage(out: &Path) -> Vec<(String, String, String, String)> {
    let mut r = csv::Reader::from_path(out.join("usage.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let at = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (u, m, s, t) = (at("user"), at("method"), at("status"), at("first_seen"));
    let mut rows: Vec<_> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[u].to_owned(),
                rec[m].to_owned(),
                rec[s].to_owned(),
                rec[t].to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn every_gateway_shape_is_read_with_no_options() {
    for (file, shape, users, first) in [
        ("kong.jsonl", "kong", true, "2025-11-27T10:00:00.000000Z"),
        (
            "apisix.jsonl",
            "apisix",
            true,
            "2025-11-27T10:00:00.000000Z",
        ),
        // Caddy's ts is written at the end: the start is ts - duration.
        ("caddy.jsonl", "caddy", true, "2025-11-27T10:00:00.000000Z"),
        ("nginx.jsonl", "nginx", true, "2025-11-27T10:00:00.000000Z"),
        (
            "traefik.jsonl",
            "traefik",
            true,
            "2025-11-27T10:01:00.000000Z",
        ),
        ("istio.jsonl", "envoy", false, "2025-11-27T10:00:00.000000Z"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        let (code, summary, stderr) = analyze(file, &[], &out);
        assert_eq!(code, 0, "{file}: {stderr}");
        let s = summary.unwrap();
        assert_eq!(s["inputs"]["per_file"][0]["layout"], shape, "{file}");
        assert_eq!(s["inputs"]["bss_requests"], 2, "{file}: {s}");
        assert_eq!(s["inputs"]["malformed"], 0, "{file}: {s}");
        let other = |k: &str| s["inputs"][k].as_u64().unwrap();
        assert_eq!(
            other("not_addressed_to_service")
                + other("unlisted_requests")
                + other("unmatched_requests"),
            1,
            "{file}: {s}"
        );
        let rows = usage(&out);
        let statuses: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        assert!(
            statuses.contains(&"200") && statuses.contains(&"403"),
            "{file}: {rows:?}"
        );
        if users {
            let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
            assert!(
                names.contains(&"alice") && names.contains(&"bob"),
                "{file}: {rows:?}"
            );
            assert!(!stderr.contains("has no caller"), "{file}: {stderr}");
        } else {
            // Istio's default format has no caller: said once, with --field.
            assert!(stderr.contains("has no caller"), "{file}: {stderr}");
            assert!(stderr.contains("--field user=KEY"), "{file}: {stderr}");
        }
        let firsts: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        assert!(firsts.contains(&first), "{file}: {rows:?}");
        // The gateway's name works as --log-format too.
        let named = dir.path().join("n");
        let preset = if shape == "envoy" { "istio" } else { shape };
        let (code, _, stderr) = analyze(file, &["--log-format", preset], &named);
        assert_eq!(code, 0, "{file} --log-format {preset}: {stderr}");
        assert_eq!(usage(&named), rows, "{file}");
    }
}

#[test]
fn traefik_requests_are_placed_at_their_start() {
    // Started 23:59:59.999Z, logged the next day: inside --until, by its start.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let (code, summary, stderr) = analyze(
        "traefik.jsonl",
        &[
            "--since",
            "2025-11-27T23:00:00Z",
            "--until",
            "2025-11-28T00:00:00Z",
        ],
        &out,
    );
    assert_eq!(code, 0, "{stderr}");
    let s = summary.unwrap();
    assert_eq!(s["inputs"]["bss_requests"], 1, "{s}");
    assert_eq!(usage(&out)[0].0, "alice");
}

#[test]
fn aws_route_templates_are_refused_loudly_and_stages_stripped() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = analyze("aws-rest-template.jsonl", &[], &dir.path().join("t"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("only a route template"), "{stderr}");
    assert!(stderr.contains("$context.path"), "{stderr}");
    // $context.path carries the stage: without --strip-prefix nothing is a BSS call.
    let (code, summary, stderr) = analyze("aws-rest-path.jsonl", &[], &dir.path().join("p"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary.unwrap()["inputs"]["bss_requests"], 0);
    let out = dir.path().join("s");
    let (code, summary, stderr) =
        analyze("aws-rest-path.jsonl", &["--strip-prefix", "/prod"], &out);
    assert_eq!(code, 0, "{stderr}");
    let s = summary.unwrap();
    assert_eq!(s["inputs"]["per_file"][0]["layout"], "aws-rest");
    assert_eq!(s["inputs"]["bss_requests"], 2, "{s}");
    let users: Vec<String> = usage(&out).into_iter().map(|r| r.0).collect();
    assert!(users.contains(&"alice".to_owned()), "{users:?}");
    // `-` (no caller) is no user named "-".
    assert!(!users.iter().any(|u| u.contains('-')), "{users:?}");
    let bad = permlens()
        .args(["analyze", "--strip-prefix", "prod/", "-o"])
        .arg(dir.path().join("b"))
        .arg(data("aws-rest-path.jsonl"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--strip-prefix: \"prod/\": expected leading path segments")
    );
}

#[test]
fn a_missing_status_is_named_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nostatus.jsonl");
    std::fs::write(
        &log,
        r#"{"time":"2025-11-27T10:00:00Z","method":"GET","uri":"/v2/orders/customer-orders","user":"alice"}
"#,
    )
    .unwrap();
    let out = permlens()
        .args(["analyze", "--progress", "never", "-o"])
        .arg(dir.path().join("r"))
        .arg(&log)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nostatus.jsonl"), "{stderr}");
    assert!(stderr.contains("has no status"), "{stderr}");
    assert!(stderr.contains("--field status=KEY"), "{stderr}");
    assert_eq!(stderr.matches("has no status").count(), 1, "once: {stderr}");
}

#[test]
fn epoch_nanoseconds_and_null_values_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ns.jsonl");
    std::fs::write(
        &log,
        concat!(
            r#"{"ts":null,"time":"1764237600250000000","method":"GET","uri":"/v2/orders/customer-orders","status":"200","user":"alice"}"#,
            "\n",
            r#"{"time":1764237660000000000,"method":"GET","uri":"/v2/orders/customer-orders","status":"-","user":"-"}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("r");
    let output = permlens()
        .args(["analyze", "--progress", "never", "--format", "csv", "-o"])
        .arg(&out)
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = usage(&out);
    assert_eq!(rows[1].3, "2025-11-27T10:00:00.250000Z", "{rows:?}");
    // `-` for the user and the status: no user, no status.
    assert_eq!(rows[0].0, "", "{rows:?}");
    assert_eq!(rows[0].2, "", "{rows:?}");
}

#[test]
fn batched_json_arrays_are_read_as_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let (code, summary, stderr) = analyze("apisix-http-logger.json", &[], &out);
    assert_eq!(code, 0, "{stderr}");
    let s = summary.unwrap();
    assert_eq!(s["inputs"]["per_file"][0]["layout"], "apisix", "{s}");
    assert_eq!(s["inputs"]["lines"], 3, "one per record: {s}");
    assert_eq!(s["inputs"]["bss_requests"], 2, "{s}");
    let users: Vec<String> = usage(&out).into_iter().map(|r| r.0).collect();
    assert!(users.contains(&"alice".to_owned()) && users.contains(&"bob".to_owned()));
    // Pretty-printed and cut short: the complete records are read, the cut is named.
    let text = std::fs::read_to_string(data("apisix-http-logger.json")).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let pretty = serde_json::to_string_pretty(&first).unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &pretty[..pretty.len() - 40]).unwrap();
    let output = permlens()
        .args([
            "analyze",
            "--progress",
            "never",
            "--max-bad-ratio",
            "1",
            "-o",
        ])
        .arg(dir.path().join("c"))
        .arg(&cut)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("read as a JSON document: the array is cut after 1 complete record(s)"),
        "{stderr}"
    );
}

#[test]
fn unknown_users_are_said_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.json");
    std::fs::write(
        &snap,
        r#"{"users": [{"name": "alice"}], "groups": [], "policies": []}"#,
    )
    .unwrap();
    let out = permlens()
        .args(["analyze", "--progress", "never", "-p"])
        .arg(&snap)
        .arg("-o")
        .arg(dir.path().join("r"))
        .arg(data("istio.jsonl"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("unknown users: 1 caller(s)"), "{stdout}");
    assert!(stdout.contains("(no caller in the log)"), "{stdout}");
}

#[test]
fn second_reader_findings_stay_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let run = |file: &Path, extra: &[&str], out: &str| {
        let out = dir.path().join(out);
        let o = permlens()
            .args(["analyze", "--progress", "never", "--format", "csv", "-o"])
            .arg(&out)
            .arg(file)
            .args(extra)
            .output()
            .unwrap();
        let s: Option<Value> = std::fs::read_to_string(out.join("summary.json"))
            .ok()
            .map(|t| serde_json::from_str(&t).unwrap());
        (
            o.status.code(),
            s,
            String::from_utf8_lossy(&o.stderr).into_owned(),
            out,
        )
    };
    // A `-` time falls back to the next alias.
    let aws = write(
        "aws.jsonl",
        r#"{"requestId":"a","ip":"1.2.3.4","caller":"-","user":"alice","requestTimeEpoch":"-","requestTime":"27/Nov/2025:10:00:00 +0000","httpMethod":"GET","resourcePath":"/v2/{proxy+}","path":"/prod/v2/orders/customer-orders","status":"200"}
"#,
    );
    let (code, s, stderr, _) = run(&aws, &["--strip-prefix", "/prod"], "aws");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(s.unwrap()["inputs"]["bss_requests"], 1);
    // Without the prefix stripped, the stage is named.
    let (_, _, stderr, _) = run(&aws, &[], "aws2");
    assert!(stderr.contains("--strip-prefix /STAGE"), "{stderr}");
    // nginx: the client's request_uri, not the rewritten $uri.
    let nginx = write(
        "nginx.jsonl",
        r#"{"time_local":"27/Nov/2025:18:00:00 +0800","remote_addr":"1.2.3.4","remote_user":"bob","request_method":"POST","request_uri":"/v2/orders/subscriptions/resources/renew","uri":"/upstream/v2/x","status":"403"}
"#,
    );
    let (code, s, stderr, _) = run(&nginx, &[], "nginx");
    assert_eq!(code, Some(0), "{stderr}");
    let s = s.unwrap();
    assert_eq!(s["inputs"]["bss_requests"], 1, "{s}");
    assert_eq!(s["inputs"]["per_file"][0]["layout"], "nginx", "{s}");
    // Caddy in nanoseconds: the start is ts - duration too.
    let caddy = write(
        "caddy.jsonl",
        r#"{"level":"info","ts":1764237600135000000,"logger":"http.log.access","request":{"method":"GET","host":"x","uri":"/v2/orders/customer-orders","client_ip":"1.2.3.4"},"user_id":"alice","duration":0.012,"status":200}
"#,
    );
    let (code, _, stderr, out) = run(&caddy, &[], "caddy");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        usage(&out)[0].3.starts_with("2025-11-27T10:00:00.123"),
        "{:?}",
        usage(&out)
    );
    // A gateway named for a batched file reads its arrays.
    let (code, s, stderr, _) = run(
        &data("apisix-http-logger.json"),
        &["--log-format", "apisix"],
        "batch",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(s.unwrap()["inputs"]["bss_requests"], 2);
    // An application's JSON log beside access logs: named, the run goes on.
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::copy(data("kong.jsonl"), logs.join("kong.jsonl")).unwrap();
    std::fs::write(
        logs.join("app.jsonl"),
        "{\"level\":\"info\",\"msg\":\"hi\"}\n",
    )
    .unwrap();
    let (code, s, stderr, _) = run(&logs, &[], "mix");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("app.jsonl: read as JSON lines"), "{stderr}");
    assert_eq!(s.unwrap()["inputs"]["bss_requests"], 2);
}

/// Regression: a file whose first record was longer than the 64 KiB format detection looked
/// at (a Kong record with a long cookie header) was refused whole as "neither JSON lines nor
/// a CTS document", though `inspect` and `--log-format` read it.
#[test]
fn a_first_record_longer_than_detection_looks_at_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let kong = std::fs::read_to_string(data("kong.jsonl")).unwrap();
    let cookie = "c".repeat(200_000);
    let mut lines: Vec<String> = kong.lines().map(str::to_owned).collect();
    lines[0] = lines[0].replacen(
        "\"user-agent\": \"curl/8\"",
        &format!("\"user-agent\": \"curl/8\", \"cookie\": \"{cookie}\""),
        1,
    );
    assert!(lines[0].len() > 200_000);
    let log = dir.path().join("long-first.jsonl");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("r");
    let (code, s, err) = analyze_path(&log, &[], &out);
    assert!(matches!(code, 0 | 1), "{err}");
    let s = s.unwrap();
    assert_eq!(s["inputs"]["per_file"][0]["layout"], "kong", "{s}");
    assert_eq!(s["inputs"]["malformed"], 0);
    assert_eq!(s["inputs"]["lines"], lines.len());
    let plain = dir.path().join("plain");
    let (code, _, _) = analyze("kong.jsonl", &[], &plain);
    assert!(matches!(code, 0 | 1));
    assert_eq!(usage(&out), usage(&plain));
}

/// Regression: a caller or status field that is there but never filled (Traefik writes
/// `ClientUsername` `-` without auth) passed the first record's check, and every request was
/// judged as an unknown user's, or as no use, without a word. Such a file is named, in the
/// warnings and in its `per_file` entry.
#[test]
fn a_field_that_is_never_filled_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let traefik = std::fs::read_to_string(data("traefik.jsonl")).unwrap();
    let anonymous = traefik.replace(
        "\"ClientUsername\": \"",
        "\"ClientUsername\": \"-\", \"Other\": \"",
    );
    assert_ne!(anonymous, traefik);
    let log = dir.path().join("anonymous.jsonl");
    std::fs::write(&log, anonymous).unwrap();
    let out = dir.path().join("r");
    let (code, s, err) = analyze_path(&log, &[], &out);
    assert!(matches!(code, 0 | 1), "{err}");
    assert!(err.contains("anonymous.jsonl: none of its"), "{err}");
    assert!(err.contains("names a caller"), "{err}");
    let s = s.unwrap();
    let w = s["inputs"]["per_file"][0]["warnings"].to_string();
    assert!(w.contains("names a caller"), "{w}");
    // The fixture as it is, with its callers: no such warning.
    let (_, _, err) = analyze("traefik.jsonl", &[], &dir.path().join("plain"));
    assert!(!err.contains("names a caller"), "{err}");
}

/// The gateways' default text formats: nginx `combined`, Traefik `common` (CLF with its
/// extensions) and Envoy's default, read with no options and with `--log-format clf`.
#[test]
fn default_text_formats_are_read() {
    for (file, layout, users) in [
        ("nginx-combined.log", "clf", true),
        ("traefik-common.log", "clf", true),
        ("envoy-default.log", "envoy-text", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        let (code, summary, stderr) = analyze(file, &[], &out);
        assert_eq!(code, 0, "{file}: {stderr}");
        let s = summary.unwrap();
        assert_eq!(s["inputs"]["per_file"][0]["layout"], layout, "{file}");
        assert_eq!(s["inputs"]["bss_requests"], 2, "{file}: {s}");
        assert_eq!(s["inputs"]["malformed"], 0, "{file}: {s}");
        assert_eq!(s["inputs"]["lines"], 3, "{file}: {s}");
        let rows = usage(&out);
        let statuses: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        assert_eq!(statuses, ["200", "403"], "{file}: {rows:?}");
        // Every request at 10:00:00 UTC (nginx's times are +08:00).
        assert!(
            rows.iter().any(|r| r.3 == "2025-11-27T10:00:00.000000Z"),
            "{file}: {rows:?}"
        );
        let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        if users {
            assert_eq!(names, ["alice", "bob"], "{file}");
        } else {
            assert_eq!(names, ["", ""], "{file}");
            assert!(stderr.contains("has no caller"), "{file}: {stderr}");
        }
        let forced = dir.path().join("f");
        let (code, _, stderr) = analyze(file, &["--log-format", "clf"], &forced);
        assert_eq!(code, 0, "{file}: {stderr}");
        assert_eq!(usage(&forced), rows, "{file}");
    }
}

/// Regression: records of traffic that was no HTTP request (nginx's `"-" 400`, TLS bytes on
/// a plain port, Envoy's TCP `"- - -"`) were malformed when they held a `%` (parsed) and
/// other traffic when not (skipped by the prefilter); first in a file, Envoy's made the
/// whole file unreadable. They are other traffic wherever they are.
#[test]
fn records_of_traffic_that_was_no_request_are_other_traffic() {
    let dir = tempfile::tempdir().unwrap();
    for (name, odd, fixture) in [
        (
            "nginx.log",
            [
                r#"10.0.0.9 - - [27/Nov/2025:18:00:03 +0800] "-" 400 0 "-" "-""#,
                r#"10.0.0.9 - - [27/Nov/2025:18:00:04 +0800] "\x16\x03\x01\x02\x00%\x01\x00" 400 157 "-" "-""#,
            ],
            "nginx-combined.log",
        ),
        (
            "envoy.log",
            [
                r#"[2025-11-27T10:00:03.000Z] "- - -" 0 UF,URX 0 0 1 - "-" "-" "-" "-" "10.0.2.1:5432""#,
                r#"[2025-11-27T10:00:04.000Z] "- - -" 0 - 10 20 1 - "-" "-" "-" "-" "10.0.2.1:5432""#,
            ],
            "envoy-default.log",
        ),
    ] {
        let log = dir.path().join(name);
        let text = std::fs::read_to_string(data(fixture)).unwrap();
        std::fs::write(&log, format!("{}\n{text}{}\n", odd[0], odd[1])).unwrap();
        let out = dir.path().join(format!("r-{name}"));
        let (code, s, err) = analyze_path(&log, &["--max-bad-ratio", "0"], &out);
        assert_eq!(code, 0, "{name}: {err}");
        let s = s.unwrap();
        let i = &s["inputs"];
        assert_eq!(i["lines"], 5, "{name}: {i}");
        assert_eq!(i["malformed"], 0, "{name}: {i}");
        assert_eq!(i["bss_requests"], 2, "{name}: {i}");
    }
}
