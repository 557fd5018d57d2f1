//! `report.html`: one self-contained page for people, made from the report's tables.
//!
//! The page is made in two steps so that `analyze` can make most of it beside writing the
//! tables: [`usage_part`] and [`findings_part`] read the tables (the run's own frames, or
//! frames read back by `permlens report`) and render their sections; [`page`] adds what
//! `summary.json` says (the run, the inputs, the limits of the evidence) and assembles the
//! document. Every figure on the page is read from those tables and that summary.
//!
//! Markup is written with maud, which escapes every value it is given: names from logs and
//! snapshots can only ever be text. Charts are SVG drawn by plotters (which escapes its
//! labels too). The page has no script data: its one script only sorts, filters and pages
//! the rows that are in the HTML, and copies a policy's JSON from the page's text. Nothing is
//! fetched: styles and script are inline, charts are inline SVG, fonts are the system's.

mod charts;
pub mod columns;
mod denied;
mod findings;
mod groups;
mod limits;
pub mod load;
mod markup;
mod usage;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

pub use columns::Table;

/// The file a report directory holds the page in.
pub const FILE: &str = "report.html";

/// The usage-side tables.
pub struct UsageTables {
    pub usage: Table,
    pub unmatched: Table,
}

/// The findings tables (a run with a snapshot). `denied_per_day` is missing from reports
/// written before it existed; the page then says the chart cannot be drawn.
pub struct FindingTables {
    pub denied_calls: Table,
    pub denied_per_day: Option<Table>,
    pub group_permissions: Table,
    pub over_privileged_groups: Table,
    pub unused_permissions: Table,
    pub recommendations: Table,
    pub changes: Table,
}

/// A recommended policy document and the group it is for.
#[derive(Debug, Clone)]
pub struct PolicyDoc {
    pub group: String,
    /// `policies/<file>.json`, relative to the report directory.
    pub file: String,
    pub doc: Value,
}

/// How the page was made: by the run itself, or again later from its tables.
#[derive(Debug, Clone)]
pub enum Made {
    ByTheRun,
    Again {
        version: String,
        at: jiff::Timestamp,
    },
}

pub use findings::FindingsPart;
pub use usage::UsagePart;

/// Reads the usage tables and renders their section.
pub fn usage_part(t: &UsageTables) -> anyhow::Result<UsagePart> {
    usage::part(t)
}

/// Reads the findings tables and the recommended policies and renders their sections.
pub fn findings_part(t: &FindingTables, policies: &[PolicyDoc]) -> anyhow::Result<FindingsPart> {
    findings::part(t, policies)
}

/// The whole page: `summary` is the run's `summary.json`.
pub fn page(
    summary: &Value,
    usage: &UsagePart,
    findings: Option<&FindingsPart>,
    made: &Made,
) -> String {
    let title = match summary["account"].as_str() {
        Some(a) => format!("permlens report: {a}"),
        None => "permlens report".to_owned(),
    };
    let limits = limits::section(summary, usage, findings);
    let body = html! {
        (header(summary, &title, made))
        (nav(findings.is_some()))
        main {
            @if let Some(f) = findings {
                (headline(summary, f))
                (f.denied)
                (f.groups)
                (f.recommendations)
                (f.unused_section)
                (f.changes)
            } @else {
                section #summary {
                    h2 { "Findings" }
                    p.note { "This run had no IAM snapshot (" code { "--policies" } "): only usage was \
                        reported. Denied calls, over-privileged groups, unused permissions and \
                        recommendations need a snapshot." }
                }
            }
            (usage.section)
            (limits)
        }
        footer {
            p { "Made from the tables and summary.json of this report directory, which hold \
                every row; this page shows at most the number of rows it states." }
        }
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // Nothing may be fetched: no network, inline everything.
                meta http-equiv="Content-Security-Policy"
                    content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (body)
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string();
    line_separators_as_references(page)
}

/// U+2028 and U+2029 (line and paragraph separators, which a name may hold) as character
/// references: the same text to an HTML reader, and never a line break to a script or a
/// tool that reads the file.
fn line_separators_as_references(page: String) -> String {
    // One character at a time: a search for a single char is a byte search, one for a set of
    // chars decodes every character of the page.
    if !page.contains('\u{2028}') && !page.contains('\u{2029}') {
        return page;
    }
    page.replace('\u{2028}', "&#x2028;")
        .replace('\u{2029}', "&#x2029;")
}

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The run: account, snapshots, window, what was read, when, by which version.
fn header(summary: &Value, title: &str, made: &Made) -> Markup {
    let inputs = &summary["inputs"];
    let window = &summary["window"];
    let snapshots: Vec<&str> = summary["snapshots"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let days = summary["findings"]["window_days"].as_f64();
    html! {
        header.top {
            h1 { (title) }
            dl.run {
                div { dt { "Account" } dd { (summary["account"].as_str().unwrap_or("not named in the snapshot")) } }
                div { dt { "Snapshot" } dd {
                    @if snapshots.is_empty() { "none (usage only)" }
                    @for (i, s) in snapshots.iter().enumerate() {
                        @if i > 0 { br; }
                        @match snapshot_label(s) {
                            (file, Some(taken)) => { (file) ", taken at " (taken) }
                            (file, None) => { (file) ", no taken_at" }
                        }
                    }
                } }
                div { dt { "Window" } dd {
                    (text(&window["first"])) " to " (text(&window["last"]))
                    @if let Some(d) = days { " (" (format!("{d:.2}")) " days)" }
                    @if let Some(s) = window["since"].as_str() { br; "--since " (s) }
                    @if let Some(u) = window["until"].as_str() { br; "--until " (u) }
                } }
                div { dt { "Read" } dd {
                    span data-figure="files-read" { (num(&inputs["files_read"])) } " of "
                    span data-figure="files" { (num(&inputs["files"])) } " files, "
                    span data-figure="bytes" { (num(&inputs["bytes"])) } " bytes ("
                    (markup::mib(inputs["bytes"].as_u64().unwrap_or(0))) "), "
                    span data-figure="lines" { (num(&inputs["lines"])) } " lines"
                } }
                div { dt { "Run" } dd {
                    (text(&summary["started_at"])) ", "
                    span data-figure="duration" { (num(&summary["duration_s"])) } " s"
                } }
                div { dt { "permlens" } dd {
                    (text(&summary["version"]))
                    @if let Made::Again { version, at } = made {
                        br; "page made again by permlens " (version) " at " (at.to_string())
                    }
                } }
            }
        }
    }
}

fn nav(findings: bool) -> Markup {
    html! {
        nav.sections {
            @if findings {
                a href="#summary" { "Summary" }
                a href="#denied" { "Denied calls" }
                a href="#groups" { "Groups" }
                a href="#recommendations" { "Recommendations" }
                a href="#unused" { "Unused permissions" }
                a href="#changes" { "Changes" }
            }
            a href="#usage" { "Usage" }
            a href="#limits" { "Limits of the evidence" }
        }
    }
}

/// The headline figures, each linking to its section.
fn headline(summary: &Value, f: &FindingsPart) -> Markup {
    let previous = summary["changes"]["previous_run"].as_str();
    html! {
        section #summary {
            h2 { "Summary" }
            div.figures {
                @for v in &f.verdicts {
                    a href="#denied" class={"figure verdict-" (v.verdict)} data-figure={"denied-" (v.verdict)} {
                        @let (name, means) = markup::verdict_label(v.verdict);
                        span.value { (v.rows) }
                        span.label { "Denied calls: " (name) }
                        span.sub { "rows of " span data-figure={"denied-" (v.verdict) "-requests"} { (v.requests) }
                            " requests; " (means) }
                    }
                }
                a.figure href="#groups" data-figure="over-privileged-groups" {
                    span.value { (f.over_privileged) }
                    span.label { "Over-privileged groups" }
                    span.sub { "of " (f.group_count) " groups with grants" }
                }
                a.figure href="#unused" data-figure="unused-permissions" {
                    span.value { (f.unused) }
                    span.label { "Unused permissions" }
                    span.sub { "principal x permission x policy" }
                }
                a.figure href="#changes" data-figure="changes" {
                    span.value { (f.change_rows) }
                    span.label { "Changes since the previous run" }
                    span.sub { @match previous {
                        Some(p) => { "previous run " (p) }
                        None => { "first run into this directory: nothing to compare" }
                    } }
                }
            }
        }
    }
}

/// A snapshot's label (`file@taken_at`, or the file alone) as its file and time.
fn snapshot_label(label: &str) -> (&str, Option<&str>) {
    match label.rsplit_once('@') {
        Some((file, t)) if t.parse::<jiff::Timestamp>().is_ok() => (file, Some(t)),
        _ => (label, None),
    }
}

/// A JSON string as text; anything else (null, missing) as a dash.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// A JSON number as written, or a dash.
fn num(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        _ => "-".to_owned(),
    }
}
