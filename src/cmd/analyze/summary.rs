//! The summary `analyze` prints on stdout (unless `--quiet`).

use std::time::Instant;

use crate::findings::{Findings, Verdict};
use crate::input::FileReport;
use crate::parse::time::format_micros;
use crate::pipeline::{Config, Scanned};
use crate::policy::Snapshot;

pub fn print(
    cfg: &Config,
    scanned: &Scanned,
    findings: Option<&Findings>,
    snapshot: Option<&Snapshot>,
    clock: Instant,
) {
    let c = &scanned.counters;
    let reports = &scanned.reports;
    let read: Vec<&FileReport> = reports.iter().filter(|r| r.skipped.is_none()).collect();
    let bytes: u64 = read.iter().map(|r| r.bytes).sum();
    let secs = clock.elapsed().as_secs_f64().max(1e-9);
    println!(
        "permlens: read {} file(s), {:.1} MiB, {} lines in {:.2}s ({:.0} MiB/s)",
        read.len(),
        bytes as f64 / (1 << 20) as f64,
        c.lines,
        secs,
        bytes as f64 / (1 << 20) as f64 / secs
    );
    println!(
        "  {} BSS requests, {} unmatched calls to the service, {} requests to unlisted APIs, {} lines not addressed to the service, {} malformed, {} out of window",
        c.bss_requests,
        c.unmatched_requests,
        c.unlisted_parsed,
        c.prefiltered,
        c.malformed,
        c.out_of_window
    );
    if let Some(s) = &scanned.state {
        println!(
            "  state {}: {} new, {} resumed, {} skipped as already counted; {} BSS requests stored in the window",
            s.dir,
            s.files_new + s.files_replaced,
            s.files_resumed,
            s.files_skipped,
            scanned.stats.counters.bss_requests
        );
    }
    let stats = &scanned.stats;
    if let Some((a, b)) = stats.window {
        println!("  window {} .. {}", format_micros(a), format_micros(b));
    }
    if let (Some(f), Some(s)) = (findings, snapshot) {
        print_findings(f, s);
    }
    println!("  report: {}", cfg.out.display());
    if cfg.formats.writes_page(snapshot.is_some()) {
        println!(
            "  page: {} (open it in a browser)",
            cfg.out.join(crate::report::page::FILE).display()
        );
    }
}

fn print_findings(f: &Findings, s: &Snapshot) {
    println!(
        "  denied calls: {} confirmed, {} predicted only, {} observed only",
        f.count(Verdict::Confirmed),
        f.count(Verdict::PredictedOnly),
        f.count(Verdict::ObservedOnly)
    );
    let worst: Vec<String> = f
        .over_privileged()
        .take(3)
        .map(|g| {
            format!(
                "{} ({} of {} unused)",
                s.groups[g.group].name,
                g.unused,
                g.used + g.unused
            )
        })
        .collect();
    println!(
        "  over-privileged groups: {}{}",
        f.over_privileged().count(),
        if worst.is_empty() {
            String::new()
        } else {
            format!(": {}", worst.join(", "))
        }
    );
    print_most_denied(f);
    print_unknown_users(f);
    println!(
        "  unused permissions: {}, recommendations: {} (window {:.1} days)",
        f.unused.len(),
        f.recommendations.len(),
        f.window_days
    );
    print_excepted(f);
}

/// Findings accepted exceptions cover, apart: they stay in the tables but fail no run.
fn print_excepted(f: &Findings) {
    let Some(r) = &f.excepted_report else {
        return;
    };
    let e = &f.excepted;
    let n = |v: &[Option<String>]| v.iter().filter(|x| x.is_some()).count();
    println!(
        "  excepted ({}): {} denied calls, {} unused grants, {} unused permissions; {} expired, {} stale",
        r.file,
        n(&e.denied),
        n(&e.group_permissions),
        n(&e.unused),
        r.expired.len(),
        r.stale.len()
    );
}

fn print_most_denied(f: &Findings) {
    let mut denied_by_user: std::collections::BTreeMap<&str, u64> =
        std::collections::BTreeMap::new();
    for d in f
        .denied
        .iter()
        .filter(|d| d.verdict != Verdict::PredictedOnly)
    {
        *denied_by_user.entry(&d.user).or_insert(0) += d.cell.count;
    }
    let mut top: Vec<(&str, u64)> = denied_by_user.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if !top.is_empty() {
        let top: Vec<String> = top
            .iter()
            .take(3)
            .map(|(u, n)| format!("{u} ({n})"))
            .collect();
        println!("  most denied users: {}", top.join(", "));
    }
}

fn print_unknown_users(f: &Findings) {
    // Callers the snapshot does not know (or that the log does not name): a missing
    // caller field or a stale snapshot, worth seeing apart from real denials.
    let mut unknown: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for d in f.denied.iter().filter(|d| d.reason == "unknown_user") {
        *unknown.entry(&d.user).or_insert(0) += d.cell.count;
    }
    if !unknown.is_empty() {
        let requests: u64 = unknown.values().sum();
        let names: Vec<String> = unknown
            .keys()
            .take(5)
            .map(|u| {
                if u.is_empty() {
                    "(no caller in the log)".to_owned()
                } else {
                    (*u).to_owned()
                }
            })
            .collect();
        println!(
            "  unknown users: {} caller(s), {requests} request(s) not in the snapshot: {}{}",
            unknown.len(),
            names.join(", "),
            if unknown.len() > 5 { ", ..." } else { "" }
        );
    }
}
