//! What the run could not judge: the limits of the evidence a reviewer must see beside the
//! findings. Read from `summary.json` (what was read and what was not) and from the tables
//! (unknown users, undecided conditions, unmatched calls, unobservable grants).

use maud::{Markup, html};
use serde_json::Value;

use super::usage::UsagePart;
use super::{FindingsPart, markup};

/// Lines of a list (malformed samples, skipped paths, warnings) the page shows.
const LISTED: usize = 50;

/// One limit: its figure, what it is, and what it means for the findings.
struct Limit<'a> {
    key: &'a str,
    figure: String,
    what: &'a str,
    means: Markup,
}

pub fn section(summary: &Value, usage: &UsagePart, findings: Option<&FindingsPart>) -> Markup {
    let inputs = &summary["inputs"];
    let n = |k: &str| inputs[k].as_u64().unwrap_or(0);
    let mut limits = Vec::new();
    if let Some(f) = findings {
        limits.extend(finding_limits(f));
    }
    limits.extend([
        Limit {
            key: "malformed",
            figure: n("malformed").to_string(),
            what: "malformed lines",
            means: html! { "Lines that could not be read (invalid JSON, wrong field count, no \
                method, target or time). Their requests are in no table." },
        },
        Limit {
            key: "out-of-window",
            figure: n("out_of_window").to_string(),
            what: "requests outside the window",
            means: html! { "Read but left out by " code { "--since" } "/" code { "--until" } "/"
                code { "--window" } ": findings say nothing about them." },
        },
        Limit {
            key: "unmatched",
            figure: usage.unmatched_requests.to_string(),
            what: "calls to the service that match no API",
            means: html! { "Requests to the service's hosts or paths that no catalog route \
                matches: the route table may be out of date. Never judged." },
        },
        Limit {
            key: "unlisted",
            figure: n("unlisted_requests").to_string(),
            what: "requests to APIs not in the catalog",
            means: html! { "Such APIs need no fine-grained permission: never a denial, never a use." },
        },
        Limit {
            key: "not-addressed",
            figure: n("not_addressed_to_service").to_string(),
            what: "lines not addressed to the service",
            means: html! { "Other services' traffic, counted only." },
        },
        Limit {
            key: "files-skipped",
            figure: n("files_skipped").to_string(),
            what: "files skipped",
            means: html! { "Inputs not read (see the list below and " code { "summary.json" } ")." },
        },
    ]);
    if let Some(s) = summary["state"]["straddling_requests"].as_u64() {
        limits.push(Limit {
            key: "straddling",
            figure: s.to_string(),
            what: "stored requests judged at their hour's first request",
            means: html! { "With " code { "--state" } ", hourly rows that a time condition or a \
            snapshot change splits are judged at their earliest request." },
        });
    }
    html! {
        section #limits {
            h2 { "Limits of the evidence" }
            p.lead { "What this run could not judge. Findings hold only for what was read, \
                inside the window, by the snapshot given." }
            table.limits {
                tbody { @for l in &limits {
                    tr data-limit=(l.key) {
                        td.num data-figure=(l.key) { (l.figure) }
                        th scope="row" { (l.what) }
                        td { (l.means) }
                    }
                } }
            }
            @if let Some(f) = findings { (finding_details(f)) }
            (input_details(inputs, usage))
        }
    }
}

fn finding_limits(f: &FindingsPart) -> Vec<Limit<'static>> {
    let l = &f.limits;
    let undecided: u64 = l.undecided.iter().map(|u| u.2).sum();
    let unknown: u64 = l.unknown_users.iter().map(|u| u.1).sum();
    vec![
        Limit {
            key: "undecided",
            figure: undecided.to_string(),
            what: "refused requests under an undecided condition",
            means: html! { "A condition permlens cannot decide from a log line (" code { "g:MFAPresent" }
            ", an enterprise project, ...): such 403s are " em { "confirmed" } " with reason "
            code { "condition_undecided" } "; a success under one proves it held." },
        },
        Limit {
            key: "unknown-users",
            figure: l.unknown_users.len().to_string(),
            what: "callers not in the snapshot",
            means: html! { (unknown) " requests by users the snapshot does not know ("
            code { "unknown_user" } "): deleted users, service accounts, a stale snapshot." },
        },
        Limit {
            key: "unexplained",
            figure: l.unexplained.1.to_string(),
            what: "403s the snapshot would allow",
            means: html! { "Refused by something other than the snapshot's policies ("
            code { "observed_only" } "/" code { "unexplained" } ", " (l.unexplained.0)
            " rows); " (l.gateway_acl.1) " more were refused by the gateway's own access \
            control (" code { "gateway_acl" } ")." },
        },
        Limit {
            key: "unobservable",
            figure: f.unobservable.to_string(),
            what: "grants whose use cannot be seen",
            means: html! { "Permissions no catalog API needs: never called unused." },
        },
        Limit {
            key: "low-confidence",
            figure: f.low_confidence.0.to_string(),
            what: "recommendations of low confidence",
            means: html! { "Of " (f.low_confidence.1) ": the window is shorter than "
            code { "--min-days" } " or no member of the group was active." },
        },
    ]
}

fn finding_details(f: &FindingsPart) -> Markup {
    let l = &f.limits;
    html! {
        @if !l.undecided.is_empty() {
            h3 { "Undecided conditions" }
            table.data #undecided-table {
                thead { tr { th { "Condition" } th { "Deciding policy" } th.num { "Requests" } th.num { "Users" } } }
                tbody { @for (c, p, n, users) in l.undecided.iter().take(LISTED) {
                    tr { td { code { (c) } } td { (markup::list(p)) } (markup::count_cell(*n))
                        (markup::count_cell(*users as u64)) }
                } }
            }
        }
        @if !l.unknown_users.is_empty() {
            h3 { "Callers not in the snapshot" }
            (shown(l.unknown_users.len()))
            ul.names { @for (u, n) in l.unknown_users.iter().take(LISTED) {
                li { (u) " " span.muted { "x" (n) } }
            } }
        }
    }
}

fn input_details(inputs: &Value, usage: &UsagePart) -> Markup {
    let list = |k: &str| -> Vec<String> {
        inputs[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let samples = list("malformed_samples");
    let skipped = list("paths_skipped");
    let warnings = list("warnings");
    let files = inputs["per_file"].as_array().map_or(&[][..], Vec::as_slice);
    html! {
        @if usage.unmatched_shapes > 0 {
            h3 { "Calls that match no API" }
            (usage.unmatched)
        }
        @if !samples.is_empty() {
            h3 { "Malformed lines (samples, with file and line)" }
            (shown(samples.len()))
            ul.lines { @for s in samples.iter().take(LISTED) { li { code { (s) } } } }
        }
        @if !skipped.is_empty() {
            h3 { "Paths skipped" }
            (shown(skipped.len()))
            ul.lines { @for s in skipped.iter().take(LISTED) { li { code { (s) } } } }
        }
        @if !warnings.is_empty() {
            h3 { "Warnings" }
            (shown(warnings.len()))
            ul.lines { @for w in warnings.iter().take(LISTED) { li { (w) } } }
        }
        @if !files.is_empty() {
            h3 { "Files read" }
            (shown(files.len()))
            div.scroll { table.data #files-table {
                thead { tr { th { "File" } th { "Format" } th.num { "Bytes" } th.num { "Lines" }
                    th.num { "Requests to the service" } th.num { "Malformed" } th { "Skipped" } } }
                tbody { @for f in files.iter().take(LISTED) {
                    tr {
                        td { code { (f["file"].as_str().unwrap_or("")) } }
                        td { (f["format"].as_str().unwrap_or("-")) " "
                            span.muted { (f["layout"].as_str().unwrap_or("")) } }
                        td.num { (super::num(&f["bytes"])) }
                        td.num { (super::num(&f["lines"])) }
                        td.num { (super::num(&f["bss_requests"])) }
                        td.num { (super::num(&f["malformed"])) }
                        td { (f["skipped"].as_str().unwrap_or("")) }
                    }
                } }
            } }
        }
    }
}

/// How many of a list's items are shown.
fn shown(total: usize) -> Markup {
    html! {
        p.count data-total=(total) data-shown=(total.min(LISTED)) {
            @if total > LISTED { "Showing " (LISTED) " of " (total) " (all in " code { "summary.json" } ")." }
            @else { (total) " in all." }
        }
    }
}
