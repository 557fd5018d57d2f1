//! The denied calls: the chart per day and verdict, the table, the headline figures per
//! verdict, and what the rows say about the limits of the evidence (unknown users,
//! undecided conditions, 403s the snapshot cannot explain).

use std::collections::{BTreeMap, BTreeSet};

use maud::{Markup, html};

use super::Table;
use super::charts;
use super::markup::{self, DataTable, VERDICTS, col, num_col};

/// A headline figure: one verdict's rows and requests.
#[derive(Debug, Clone)]
pub struct VerdictFigure {
    pub verdict: &'static str,
    pub rows: usize,
    pub requests: u64,
}

/// What the denied-calls rows say about what the run could not judge.
#[derive(Debug, Default)]
pub struct DeniedLimits {
    /// Callers the snapshot does not know: user, requests.
    pub unknown_users: Vec<(String, u64)>,
    /// Undecided conditions: condition, deciding policy, requests, users.
    pub undecided: Vec<(String, String, u64, usize)>,
    /// 403s the snapshot would allow and the gateway did not answer: rows, requests.
    pub unexplained: (usize, u64),
    /// 403s the gateway's own access control answered: rows, requests.
    pub gateway_acl: (usize, u64),
}

/// The denied section, the figures per verdict and the limits the rows show.
pub struct Denied {
    pub section: Markup,
    pub verdicts: Vec<VerdictFigure>,
    pub limits: DeniedLimits,
}

/// The columns of `denied_calls` the page reads.
struct Rows<'a> {
    user: super::columns::Texts<'a>,
    method: super::columns::Texts<'a>,
    route: super::columns::Texts<'a>,
    api: super::columns::Texts<'a>,
    permission: super::columns::Texts<'a>,
    /// Every row's verdict and reason: read in whole, as every row is counted by them.
    verdict: Vec<std::borrow::Cow<'a, str>>,
    reason: Vec<std::borrow::Cow<'a, str>>,
    policy: super::columns::Texts<'a>,
    condition: Option<super::columns::Texts<'a>>,
    snapshot: Option<super::columns::Texts<'a>>,
    source: Option<super::columns::Texts<'a>>,
    samples: super::columns::Texts<'a>,
    count: Vec<u64>,
    first: Vec<Option<i64>>,
    last: Vec<Option<i64>>,
}

impl<'a> Rows<'a> {
    fn read(t: &'a Table) -> anyhow::Result<Rows<'a>> {
        Ok(Rows {
            user: t.texts("user")?,
            method: t.texts("method")?,
            route: t.texts("route")?,
            api: t.texts("api")?,
            permission: t.texts("permission")?,
            verdict: t.texts("verdict")?.all(),
            reason: t.texts("reason")?.all(),
            policy: t.texts("policy")?,
            condition: t.texts_if("condition")?,
            snapshot: t.texts_if("snapshot")?,
            source: t.texts_if("source")?,
            samples: t.texts("sample_request_ids")?,
            count: t.counts("count")?,
            first: t.times("first_seen")?,
            last: t.times("last_seen")?,
        })
    }

    fn condition(&self, i: usize) -> String {
        self.condition
            .as_ref()
            .map(|c| c.get(i).into_owned())
            .unwrap_or_default()
    }
}

pub fn denied(t: &Table, per_day: Option<&Table>) -> anyhow::Result<Denied> {
    let rows = Rows::read(t)?;
    let n = t.len();
    let verdicts = VERDICTS
        .iter()
        .map(|&v| {
            let mine = (0..n).filter(|&i| rows.verdict[i] == v);
            VerdictFigure {
                verdict: v,
                rows: mine.clone().count(),
                requests: mine.map(|i| rows.count[i]).sum(),
            }
        })
        .collect();
    let chart = match per_day {
        Some(days) => per_day_chart(days)?,
        None => html! { p.note { "This report has no " code { "denied_per_day" }
        " table (written by an earlier permlens): no chart per day." } },
    };
    let section = html! {
        section #denied {
            h2 { "Denied calls" }
            p.lead { "Calls the logs show refused (403) or the snapshot would refuse, one row per \
                user, API, verdict and reason. " strong { "confirmed" } ": a 403 the snapshot \
                explains; " strong { "predicted only" } ": a success the snapshot would deny (the \
                policy changed or the snapshot is stale); " strong { "observed only" } ": a 403 the \
                snapshot would allow." }
            (chart)
            (table(t, &rows)?)
        }
    };
    Ok(Denied {
        section,
        verdicts,
        limits: limits(&rows, n),
    })
}

/// The chart of requests per day by verdict, and its figures as a table.
fn per_day_chart(t: &Table) -> anyhow::Result<Markup> {
    let day = t.times("day")?;
    let verdict = t.texts("verdict")?;
    let count = t.counts("count")?;
    let mut days: BTreeMap<i64, [u64; 3]> = BTreeMap::new();
    for i in 0..t.len() {
        let Some(d) = day[i] else { continue };
        let Some(v) = VERDICTS.iter().position(|v| *v == verdict.get(i)) else {
            continue;
        };
        days.entry(d).or_default()[v] += count[i];
    }
    let days: Vec<(i64, [u64; 3])> = days.into_iter().collect();
    if days.is_empty() {
        return Ok(html! { p.note { "No denied call in the window: nothing to chart." } });
    }
    Ok(html! {
        figure.chart {
            (charts::per_day(&days))
            figcaption {
                "Requests of the denied calls per UTC day, by verdict: "
                @for (i, v) in VERDICTS.iter().enumerate() {
                    span class={"key k" (i)} {} (v) " "
                }
            }
        }
        details.figures-per-day {
            summary { "Figures per day" }
            table.data #denied-per-day {
                thead { tr { th scope="col" { "Day (UTC)" }
                    @for v in VERDICTS { th.num scope="col" { (v) } } } }
                tbody {
                    @for (d, counts) in &days {
                        tr { td { (markup::time(Some(*d)).get(..10).unwrap_or("")) }
                            @for c in counts { (markup::count_cell(*c)) } }
                    }
                }
            }
        }
    })
}

fn table(t: &Table, r: &Rows<'_>) -> anyhow::Result<Markup> {
    let n = t.len();
    let order = markup::top_rows(n, markup::ROWS_SHOWN, |i| r.count[i]);
    let several = r
        .snapshot
        .as_ref()
        .is_some_and(|s| (1..n).any(|i| s.get(i) != s.get(0)));
    let reasons: BTreeSet<&str> = r.reason.iter().map(|s| &**s).collect();
    let mut cols = vec![
        col("User"),
        col("API"),
        col("Permission"),
        col("Verdict"),
        col("Reason"),
        col("Deciding policies"),
        num_col("Requests"),
        col("First seen"),
        col("Last seen"),
        col("Sample request ids"),
    ];
    if several {
        cols.push(col("Snapshot"));
    }
    let rows = html! {
        @for &i in &order {
            tr {
                td { (r.user.get(i)) }
                td.api {
                    (r.api.get(i)) br;
                    (markup::route(&r.method.get(i), &r.route.get(i)))
                    @if r.source.as_ref().is_some_and(|s| s.get(i) == "console") {
                        " " (markup::badge("console"))
                    }
                }
                td { (markup::permission(&r.permission.get(i))) }
                td data-sort=(r.verdict[i]) { (markup::badge(&r.verdict[i])) }
                td data-sort=(r.reason[i]) {
                    (r.reason[i])
                    @let c = r.condition(i);
                    @if !c.is_empty() { br; small { "condition: " (c) } }
                }
                td { (markup::list(&r.policy.get(i))) }
                (markup::count_cell(r.count[i]))
                (markup::time_cell(r.first[i]))
                (markup::time_cell(r.last[i]))
                td.ids { (markup::list(&r.samples.get(i))) }
                @if several { td { (r.snapshot.as_ref().map(|s| s.get(i)).unwrap_or_default()) } }
            }
        }
    };
    Ok(DataTable {
        id: "denied-table",
        cols: &cols,
        total: n,
        shown: order.len(),
        order: "those with the most requests",
        file: &t.name,
        selects: vec![
            (3, "verdict", VERDICTS.map(str::to_owned).to_vec()),
            (
                4,
                "reason",
                reasons.into_iter().map(str::to_owned).collect(),
            ),
        ],
        rows,
    }
    .render())
}

/// Unknown users, undecided conditions and unexplained 403s, from every row.
fn limits(r: &Rows<'_>, n: usize) -> DeniedLimits {
    let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
    let mut undecided: BTreeMap<(String, String), (u64, BTreeSet<String>)> = BTreeMap::new();
    let mut out = DeniedLimits::default();
    for i in 0..n {
        let reason = &r.reason[i];
        let count = r.count[i];
        match &**reason {
            "unknown_user" => *unknown.entry(r.user.get(i).into_owned()).or_default() += count,
            "condition_undecided" => {
                let e = undecided
                    .entry((r.condition(i), r.policy.get(i).into_owned()))
                    .or_default();
                e.0 += count;
                e.1.insert(r.user.get(i).into_owned());
            }
            "unexplained" => {
                out.unexplained.0 += 1;
                out.unexplained.1 += count;
            }
            "gateway_acl" => {
                out.gateway_acl.0 += 1;
                out.gateway_acl.1 += count;
            }
            _ => {}
        }
    }
    out.unknown_users = unknown.into_iter().collect();
    out.undecided = undecided
        .into_iter()
        .map(|((c, p), (n, users))| (c, p, n, users.len()))
        .collect();
    out
}
