//! `report.html`, parsed with a real HTML parser: its sections and figures against the tables
//! and `summary.json`, the escaping of every name that comes from logs and snapshots, no
//! reference to anything outside the file, the cap on rows, and `permlens report`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{permlens, samples};
use polars::prelude::*;
use scraper::{ElementRef, Html, Selector};

fn analyze(
    logs: &Path,
    snapshot: Option<&Path>,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = permlens();
    cmd.arg("analyze").arg(logs);
    if let Some(s) = snapshot {
        cmd.arg("-p").arg(s);
    }
    cmd.args(["--progress", "never", "-q", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn samples_report(out: &Path, format: &str) {
    let o = analyze(
        &samples().join("logs"),
        Some(&samples().join("snapshot.json")),
        out,
        &["--user-field", "custom_data_log1", "--format", format],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn page(out: &Path) -> (String, Html) {
    let text = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = Html::parse_document(&text);
    (text, doc)
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn one<'a>(doc: &'a Html, s: &str) -> ElementRef<'a> {
    doc.select(&sel(s))
        .next()
        .unwrap_or_else(|| panic!("no {s} in the page"))
}

fn text(e: ElementRef<'_>) -> String {
    e.text().collect::<String>().trim().to_owned()
}

/// The number an element with `data-figure=key` shows.
fn figure(doc: &Html, key: &str) -> u64 {
    let e = one(doc, &format!("[data-figure=\"{key}\"]"));
    let t = match e.select(&sel(".value")).next() {
        Some(v) => text(v),
        None => text(e),
    };
    t.parse()
        .unwrap_or_else(|_| panic!("{key}: {t:?} is not a number"))
}

fn parquet(out: &Path, table: &str) -> DataFrame {
    ParquetReader::new(std::fs::File::open(out.join(format!("{table}.parquet"))).unwrap())
        .finish()
        .unwrap()
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// Rows and requests per verdict of `denied_calls`.
fn per_verdict(df: &DataFrame) -> BTreeMap<String, (u64, u64)> {
    let v = df.column("verdict").unwrap().str().unwrap();
    let c = df.column("count").unwrap().u64().unwrap();
    let mut out = BTreeMap::new();
    for (v, c) in v.iter().zip(c.iter()) {
        let e = out.entry(v.unwrap().to_owned()).or_insert((0, 0));
        e.0 += 1;
        e.1 += c.unwrap();
    }
    out
}

/// What a page may never hold: a reference outside the file, an element or attribute that
/// an input smuggled in.
fn assert_self_contained_and_inert(raw: &str, doc: &Html) {
    let mut scripts = 0;
    let mut svgs = 0;
    for node in doc.tree.nodes() {
        let Some(e) = ElementRef::wrap(node) else {
            continue;
        };
        let name = e.value().name();
        assert!(
            !matches!(
                name,
                "img" | "iframe" | "object" | "embed" | "link" | "base" | "form" | "b" | "i"
            ),
            "a <{name}> element: {}",
            e.html()
        );
        scripts += usize::from(name == "script");
        svgs += usize::from(name == "svg");
        for (attr, value) in e.value().attrs() {
            assert!(
                !attr.starts_with("on"),
                "an event handler attribute {attr}={value:?}"
            );
            assert!(attr != "src", "a src attribute on <{name}>: {value:?}");
            let lower = value.to_ascii_lowercase();
            for bad in ["http:", "https:", "javascript:", "url(", "//"] {
                assert!(
                    !lower.contains(bad),
                    "<{name} {attr}={value:?}> names {bad}"
                );
            }
            if attr == "href" {
                assert!(value.starts_with('#'), "a link out of the page: {value:?}");
            }
        }
    }
    assert_eq!(scripts, 1, "the page's own script only");
    assert!(svgs <= 2, "the two charts only, not an injected <svg>");
    for style in doc.select(&sel("style")) {
        let css = style.inner_html();
        assert!(
            !css.contains("url(") && !css.contains("@import"),
            "CSS fetches something"
        );
    }
    assert_eq!(
        raw.matches("</script>").count(),
        1,
        "only the page's script closes"
    );
    assert!(!raw.contains("<!--"), "a comment opener from an input");
    assert!(
        !raw.contains(['\u{2028}', '\u{2029}']),
        "raw line separators"
    );
    assert!(
        !raw.contains("http://") && !raw.contains("https://"),
        "a URL in the page"
    );
}

/// The samples' report (Parquet and CSV) and its page, parsed.
struct Samples {
    _dir: tempfile::TempDir,
    out: PathBuf,
    raw: String,
    doc: Html,
}

fn samples_page() -> Samples {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    samples_report(&out, "parquet,csv");
    let (raw, doc) = page(&out);
    Samples {
        _dir: dir,
        out,
        raw,
        doc,
    }
}

#[test]
fn the_samples_page_has_every_section_and_nothing_from_outside() {
    let Samples {
        _dir: _kept,
        out,
        raw,
        doc,
    } = samples_page();
    for id in [
        "summary",
        "denied",
        "groups",
        "recommendations",
        "unused",
        "changes",
        "usage",
        "limits",
    ] {
        one(&doc, &format!("section#{id}"));
        one(&doc, &format!("nav a[href=\"#{id}\"]"));
    }
    assert_self_contained_and_inert(&raw, &doc);
    let outputs: Vec<String> = summary(&out)["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(outputs.contains(&"report.html".to_owned()), "{outputs:?}");
}

#[test]
fn the_samples_headline_and_limits_equal_the_tables_and_summary() {
    let Samples {
        _dir: _kept,
        out,
        doc,
        ..
    } = samples_page();
    let denied = parquet(&out, "denied_calls");
    let verdicts = per_verdict(&denied);
    for (v, (rows, requests)) in &verdicts {
        assert_eq!(figure(&doc, &format!("denied-{v}")), *rows, "{v} rows");
        assert_eq!(
            figure(&doc, &format!("denied-{v}-requests")),
            *requests,
            "{v} requests"
        );
    }
    let s = summary(&out);
    for v in ["confirmed", "predicted_only", "observed_only"] {
        assert_eq!(
            s["findings"]["denied_calls"][v].as_u64().unwrap(),
            figure(&doc, &format!("denied-{v}"))
        );
    }
    assert_eq!(
        figure(&doc, "over-privileged-groups"),
        parquet(&out, "over_privileged_groups").height() as u64
    );
    assert_eq!(
        figure(&doc, "unused-permissions"),
        parquet(&out, "unused_permissions").height() as u64
    );
    assert_eq!(
        figure(&doc, "changes"),
        parquet(&out, "changes").height() as u64
    );
    let inputs = &s["inputs"];
    for (key, field) in [
        ("files-read", "files_read"),
        ("files", "files"),
        ("bytes", "bytes"),
        ("lines", "lines"),
        ("malformed", "malformed"),
        ("out-of-window", "out_of_window"),
        ("unlisted", "unlisted_requests"),
        ("not-addressed", "not_addressed_to_service"),
        ("files-skipped", "files_skipped"),
    ] {
        assert_eq!(figure(&doc, key), inputs[field].as_u64().unwrap(), "{key}");
    }
    let unmatched = parquet(&out, "unmatched");
    let unmatched_requests: u64 = unmatched
        .column("count")
        .unwrap()
        .u64()
        .unwrap()
        .sum()
        .unwrap();
    assert_eq!(figure(&doc, "unmatched"), unmatched_requests);
}

#[test]
fn the_samples_tables_and_charts_show_every_row() {
    let Samples {
        _dir: _kept,
        out,
        doc,
        ..
    } = samples_page();
    let verdicts = per_verdict(&parquet(&out, "denied_calls"));
    // Every row of the small sample tables is shown, and says how many there are.
    for (table, id) in [
        ("denied_calls", "denied-table"),
        ("unused_permissions", "unused-table"),
        ("unmatched", "unmatched-table"),
    ] {
        let rows = parquet(&out, table).height();
        assert_eq!(
            doc.select(&sel(&format!("#{id} tbody tr"))).count(),
            rows,
            "{table}"
        );
        let count = one(&doc, &format!("#{id}"))
            .ancestors()
            .filter_map(ElementRef::wrap)
            .find(|e| e.value().classes().any(|c| c == "table-block"))
            .unwrap()
            .select(&sel("p.count"))
            .next()
            .unwrap();
        assert_eq!(
            count.attr("data-total").unwrap(),
            rows.to_string(),
            "{table}"
        );
    }
    // The chart's figures per day add up to the denied requests per verdict.
    let mut per_day = [0u64; 3];
    for tr in doc.select(&sel("#denied-per-day tbody tr")) {
        for (i, td) in tr.select(&sel("td.num")).enumerate() {
            per_day[i] += text(td).parse::<u64>().unwrap();
        }
    }
    for (i, v) in ["confirmed", "predicted_only", "observed_only"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            per_day[i],
            verdicts.get(*v).map_or(0, |x| x.1),
            "{v} per day"
        );
    }
}

#[test]
fn the_samples_groups_recommendations_and_usage_are_whole() {
    let Samples {
        _dir: _kept,
        out,
        doc,
        ..
    } = samples_page();
    let s = summary(&out);
    // One recommendation card per recommended policy, each with its JSON and a copy button.
    let policies = s["recommended_policies"].as_array().unwrap().len();
    assert_eq!(
        doc.select(&sel("#recommendations article.card")).count(),
        policies
    );
    assert_eq!(
        doc.select(&sel("#recommendations button.copy")).count(),
        policies
    );
    for pre in doc.select(&sel("#recommendations pre")) {
        let v: serde_json::Value = serde_json::from_str(&text(pre)).unwrap();
        assert_eq!(v["Version"], "1.1");
    }
    // The groups table has every group of group_permissions and over_privileged_groups.
    let gp = parquet(&out, "group_permissions");
    let groups: std::collections::BTreeSet<_> = gp
        .column("group")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        doc.select(&sel("#groups-table tbody tr")).count(),
        groups.len()
    );
    // Usage per API adds up to the usage table.
    let usage = parquet(&out, "usage");
    let usage_requests: u64 = usage.column("count").unwrap().u64().unwrap().sum().unwrap();
    let shown: u64 = doc
        .select(&sel("#api-table tbody tr"))
        .map(|tr| {
            text(tr.select(&sel("td.num")).next().unwrap())
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(shown, usage_requests);
    // The header shows the run as summary.json has it.
    let header = text(one(&doc, "header.top"));
    assert!(header.contains(s["version"].as_str().unwrap()), "{header}");
    assert!(
        header.contains("2026-11-27T00:00:00Z"),
        "the snapshot's taken_at: {header}"
    );
    assert!(
        header.contains(s["window"]["first"].as_str().unwrap()),
        "{header}"
    );
}

/// A snapshot and a log with markup in every name: users, groups, policies, conditions,
/// request ids, paths, the log file's own name, the account.
fn hostile(dir: &Path) -> (PathBuf, PathBuf) {
    (hostile_logs(dir), hostile_snapshot(dir))
}

fn hostile_snapshot(dir: &Path) -> PathBuf {
    let snapshot = dir.join("snapshot.json");
    std::fs::write(
        &snapshot,
        serde_json::json!({
            "taken_at": "2026-11-27T00:00:00Z",
            "domain": {"name": "<i>acme</i><!-- x"},
            "users": [
                {"name": "<script>alert(1)</script>"},
                {"name": "\"><img src=x onerror=alert(2)>", "enabled": false},
                {"name": "ok\u{2028}user</script><!--"}
            ],
            "groups": [
                {"name": "\"><img src=x onerror=alert(3)>",
                 "members": ["<script>alert(1)</script>", "\"><img src=x onerror=alert(2)>"],
                 "policies": ["<b onmouseover=alert(4)>P</b>", "Deny</script><script>alert(5)</script>"]},
                {"name": "<svg onload=alert(6)>",
                 "members": ["ok\u{2028}user</script><!--"],
                 "policies": ["Cond<img src=c onerror=alert(11)>"]}
            ],
            "policies": [
                {"name": "<b onmouseover=alert(4)>P</b>", "document": {"Version": "1.1", "Statement": [
                    {"Effect": "Allow", "Action": ["bss:order:*", "bss:<script>:x"]}]}},
                {"name": "Deny</script><script>alert(5)</script>", "document": {"Version": "1.1", "Statement": [
                    {"Effect": "Deny", "Action": ["bss:order:pay"]}]}},
                {"name": "Cond<img src=c onerror=alert(11)>", "document": {"Version": "1.1", "Statement": [
                    {"Effect": "Allow", "Action": ["bss:order:view"],
                     "Condition": {"StringEquals": {"g:UserName": ["</script><img src=q onerror=alert(7)>"]}}}]}}
            ]
        })
        .to_string(),
    )
    .unwrap();
    snapshot
}

fn hostile_logs(dir: &Path) -> PathBuf {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let line = |t: &str, method: &str, uri: &str, status: u16, user: &str, id: &str| {
        serde_json::json!({"time": t, "method": method, "uri": uri, "status": status,
            "user": user, "request_id": id})
        .to_string()
    };
    let lines = [
        line(
            "2026-11-26T01:00:00Z",
            "GET",
            "/v2/orders/customer-orders",
            200,
            "<script>alert(1)</script>",
            "id-</script><!--",
        ),
        line(
            "2026-11-26T02:00:00Z",
            "POST",
            "/v2/orders/customer-orders/pay",
            403,
            "\"><img src=x onerror=alert(2)>",
            "<img src=r onerror=alert(9)>",
        ),
        line(
            "2026-11-26T03:00:00Z",
            "GET",
            "/v2/orders/customer-orders",
            403,
            "<iframe src=javascript:alert(10)>",
            "\u{2028}id",
        ),
        line(
            "2026-11-27T04:00:00Z",
            "GET",
            "/v2/orders/customer-orders",
            403,
            "ok\u{2028}user</script><!--",
            "r4",
        ),
        line(
            "2026-11-27T05:00:00Z",
            "GET",
            "/v2/orders/customer-orders/<svg onload=alert(12)>/x/y",
            200,
            "<script>alert(1)</script>",
            "r5",
        ),
        "{\"time\": \"<script>alert(13)</script>".to_owned(),
    ];
    std::fs::write(
        logs.join("evil<img src=z onerror=alert(8)>.jsonl"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    logs
}

#[test]
fn markup_in_every_name_is_shown_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, snapshot) = hostile(dir.path());
    let out = dir.path().join("report");
    let o = analyze(
        &logs,
        Some(&snapshot),
        &out,
        &["--max-bad-ratio", "0.5", "--format", "parquet,csv"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = dir.path().join("again");
    copy_dir(&out, &again);
    let o = permlens().arg("report").arg(&again).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for report in [&out, &again] {
        let (raw, doc) = page(report);
        assert_self_contained_and_inert(&raw, &doc);
        let all = doc.root_element().text().collect::<String>();
        for shown in [
            "<script>alert(1)</script>",
            "\"><img src=x onerror=alert(2)>",
            "\"><img src=x onerror=alert(3)>",
            "<b onmouseover=alert(4)>P</b>",
            "Deny</script><script>alert(5)</script>",
            "<svg onload=alert(6)>",
            "</script><img src=q onerror=alert(7)>",
            "evil<img src=z onerror=alert(8)>.jsonl",
            "<img src=r onerror=alert(9)>",
            "<iframe src=javascript:alert(10)>",
            "Cond<img src=c onerror=alert(11)>",
            "bss:<script>:x",
            "<i>acme</i><!-- x",
            "ok\u{2028}user</script><!--",
        ] {
            assert!(all.contains(shown), "{shown:?} is not shown as text");
        }
        assert!(
            raw.contains("ok&#x2028;user"),
            "U+2028 written as a reference"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The page less the line that says it was made again.
fn without_made_again(raw: &str) -> String {
    let start = raw.find("<br>page made again by permlens");
    match start {
        Some(s) => {
            let end = s + raw[s..].find("</dd>").unwrap();
            format!("{}{}", &raw[..s], &raw[end..])
        }
        None => raw.to_owned(),
    }
}

#[test]
fn permlens_report_makes_the_runs_page_from_parquet_or_csv() {
    for format in ["parquet", "csv"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report");
        samples_report(&out, format);
        let (by_run, _) = page(&out);
        std::fs::remove_file(out.join("report.html")).unwrap();
        let o = permlens().arg("report").arg(&out).output().unwrap();
        assert!(
            o.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (again, doc) = page(&out);
        assert!(again.contains("page made again by permlens"));
        assert_eq!(
            without_made_again(&again),
            by_run,
            "{format}: the page differs"
        );
        assert_self_contained_and_inert(&again, &doc);
    }
}

#[test]
fn permlens_report_names_what_is_missing_or_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    samples_report(&base, "parquet,csv");
    let fails = |report: &Path, expect: &str| {
        let before = std::fs::read(report.join("report.html")).ok();
        let o = permlens().arg("report").arg(report).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{expect}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(expect), "{expect:?} not in {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            std::fs::read(report.join("report.html")).ok(),
            before,
            "the old page stays"
        );
    };
    let not_a_report = dir.path().join("plain");
    std::fs::create_dir_all(&not_a_report).unwrap();
    std::fs::write(not_a_report.join("notes.txt"), "x").unwrap();
    fails(&not_a_report, "plain: not a permlens report");
    fails(&dir.path().join("nowhere"), "nowhere: not a directory");

    let case = |name: &str, damage: &dyn Fn(&Path)| {
        let r = dir.path().join(name);
        copy_dir(&base, &r);
        damage(&r);
        r
    };
    let r = case("missing", &|r| {
        std::fs::remove_file(r.join("denied_calls.parquet")).unwrap();
        std::fs::remove_file(r.join("denied_calls.csv")).unwrap();
    });
    fails(
        &r,
        "denied_calls.parquet: missing: expected the denied_calls table",
    );
    let r = case("damaged", &|r| {
        std::fs::write(r.join("usage.parquet"), b"PAR1 not really").unwrap()
    });
    fails(&r, "usage.parquet: not a readable Parquet table");
    let r = case("bad-csv", &|r| {
        std::fs::remove_file(r.join("unused_permissions.parquet")).unwrap();
        let text = std::fs::read_to_string(r.join("unused_permissions.csv")).unwrap();
        std::fs::write(
            r.join("unused_permissions.csv"),
            text.replacen("\n", "\nx,y\n", 1),
        )
        .unwrap();
    });
    fails(&r, "unused_permissions.csv: not a readable CSV table");
    let r = case("bad-column", &|r| {
        std::fs::remove_file(r.join("unmatched.parquet")).unwrap();
        let text = std::fs::read_to_string(r.join("unmatched.csv")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let damaged = format!("{}\nGET,/x,many\n", lines[0]);
        std::fs::write(r.join("unmatched.csv"), damaged).unwrap();
    });
    fails(
        &r,
        "unmatched.csv: row 1, column \"count\": expected a whole number, got \"many\"",
    );
    let r = case("no-policy", &|r| {
        std::fs::remove_file(r.join("policies/office-ops.json")).unwrap()
    });
    fails(&r, "policies/office-ops.json: cannot read it");
    let r = case("bad-summary", &|r| {
        std::fs::write(r.join("summary.json"), "{").unwrap()
    });
    fails(&r, "summary.json");
}

#[test]
fn the_format_list_decides_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, snapshot: bool, format: Option<&str>| {
        let out = dir.path().join(name);
        let mut extra = vec!["--user-field", "custom_data_log1"];
        if let Some(f) = format {
            extra.extend(["--format", f]);
        }
        let snap = samples().join("snapshot.json");
        let o = analyze(
            &samples().join("logs"),
            snapshot.then_some(snap.as_path()),
            &out,
            &extra,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let listed = summary(&out)["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "report.html");
        assert_eq!(
            listed,
            out.join("report.html").is_file(),
            "{name}: outputs agree"
        );
        out
    };
    assert!(run("default", true, None).join("report.html").is_file());
    assert!(run("csv", true, Some("csv")).join("report.html").is_file());
    assert!(
        !run("off", true, Some("parquet,no-html"))
            .join("report.html")
            .is_file()
    );
    assert!(
        !run("no-snapshot", false, None)
            .join("report.html")
            .is_file()
    );
    let usage_only = run("usage-page", false, Some("parquet,html"));
    let (raw, doc) = page(&usage_only);
    assert_self_contained_and_inert(&raw, &doc);
    one(&doc, "section#usage");
    one(&doc, "section#limits");
    assert!(doc.select(&sel("section#denied")).next().is_none());
    let page_only = run("page-only", true, Some("html"));
    assert!(page_only.join("report.html").is_file());
    assert!(!page_only.join("usage.parquet").exists() && !page_only.join("usage.csv").exists());
}

/// 100k denied-call rows: the page shows the 1000 with the most requests, says so, stays a
/// few megabytes, and its headline still counts every row.
#[test]
fn a_page_over_100k_denied_rows_caps_what_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut log = String::new();
    for i in 0..100_000u32 {
        // Users the snapshot does not know: every one is a confirmed denial of its own.
        let requests = if i % 1000 == 0 { 3 } else { 1 };
        for r in 0..requests {
            log.push_str(&format!(
                "{{\"time\":\"2026-11-{:02}T0{}:00:00Z\",\"method\":\"GET\",\"uri\":\"/v2/orders/customer-orders\",\"status\":403,\"user\":\"u{i}\",\"request_id\":\"q{i}-{r}\"}}\n",
                20 + i % 7,
                r
            ));
        }
    }
    std::fs::write(logs.join("big.jsonl"), log).unwrap();
    let out = dir.path().join("report");
    let o = analyze(&logs, Some(&samples().join("snapshot.json")), &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let size = std::fs::metadata(out.join("report.html")).unwrap().len();
    assert!(size < 8 << 20, "report.html is {size} bytes");
    let (raw, doc) = page(&out);
    assert_self_contained_and_inert(&raw, &doc);
    assert_eq!(figure(&doc, "denied-confirmed"), 100_000);
    assert_eq!(figure(&doc, "denied-confirmed-requests"), 100_200);
    assert_eq!(doc.select(&sel("#denied-table tbody tr")).count(), 1000);
    let count = one(&doc, "#denied p.count");
    assert_eq!(count.attr("data-total"), Some("100000"));
    assert_eq!(count.attr("data-shown"), Some("1000"));
    assert!(
        text(count).contains("Showing 1000 of 100000 rows"),
        "{}",
        text(count)
    );
    // The users with 3 requests come first.
    let first = one(&doc, "#denied-table tbody tr td.num");
    assert_eq!(text(first), "3");
    assert_eq!(figure(&doc, "unknown-users"), 100_000);
    assert!(doc.select(&sel("#limits ul.names li")).count() <= 50);
}

/// A report written before `denied_per_day`, `account` and `recommended_policies` existed (or
/// without a snapshot) still makes a page: without the chart per day, with each group's policy
/// found by its file name.
#[test]
fn reports_of_earlier_versions_make_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    samples_report(&out, "parquet");
    let mut s = summary(&out);
    let obj = s.as_object_mut().unwrap();
    obj.remove("account");
    obj.remove("recommended_policies");
    let outputs = obj["outputs"].as_array_mut().unwrap();
    outputs.retain(|v| v != "denied_per_day.parquet" && v != "report.html");
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&s).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(out.join("denied_per_day.parquet")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    let o = permlens().arg("report").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (raw, doc) = page(&out);
    assert_self_contained_and_inert(&raw, &doc);
    assert!(text(one(&doc, "#denied")).contains("no denied_per_day table"));
    let policies = std::fs::read_dir(out.join("policies")).unwrap().count();
    assert_eq!(doc.select(&sel("#recommendations pre")).count(), policies);

    let usage_only = dir.path().join("usage-only");
    let o = analyze(
        &samples().join("logs"),
        None,
        &usage_only,
        &["--user-field", "custom_data_log1"],
    );
    assert!(o.status.success());
    assert!(!usage_only.join("report.html").exists());
    let o = permlens().arg("report").arg(&usage_only).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (raw, doc) = page(&usage_only);
    assert_self_contained_and_inert(&raw, &doc);
    one(&doc, "section#usage");
    assert!(doc.select(&sel("section#denied")).next().is_none());
}
