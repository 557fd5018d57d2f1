//! The findings side of the page: its sections and headline figures, read from the findings
//! tables and the recommended policies.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::denied::{self, DeniedLimits, VerdictFigure};
use super::markup::{self, DataTable, col};
use super::{FindingTables, PolicyDoc, Table, groups};

/// The findings sections, rendered, and the figures the headline and the limits need.
pub struct FindingsPart {
    pub verdicts: Vec<VerdictFigure>,
    pub over_privileged: usize,
    /// Groups with a grant (in `group_permissions`) or in `over_privileged_groups`.
    pub group_count: usize,
    pub unused: usize,
    pub change_rows: usize,
    pub denied: Markup,
    pub groups: Markup,
    pub recommendations: Markup,
    pub unused_section: Markup,
    pub changes: Markup,
    pub limits: DeniedLimits,
    /// Grants no catalog route needs, so their use cannot be seen.
    pub unobservable: usize,
    /// Recommendations of `low` confidence, and all of them.
    pub low_confidence: (usize, usize),
}

pub fn part(t: &FindingTables, policies: &[PolicyDoc]) -> anyhow::Result<FindingsPart> {
    let d = denied::denied(&t.denied_calls, t.denied_per_day.as_ref())?;
    let g = groups::groups(t, policies)?;
    let confidence = t.recommendations.texts("confidence")?;
    let low = (0..t.recommendations.len())
        .filter(|&i| confidence.get(i) == "low")
        .count();
    Ok(FindingsPart {
        verdicts: d.verdicts,
        over_privileged: t.over_privileged_groups.len(),
        group_count: g.group_count,
        unused: t.unused_permissions.len(),
        change_rows: t.changes.len(),
        denied: d.section,
        groups: g.groups,
        recommendations: g.recommendations,
        unused_section: unused(&t.unused_permissions)?,
        changes: changes(&t.changes)?,
        limits: d.limits,
        unobservable: g.unobservable,
        low_confidence: (low, t.recommendations.len()),
    })
}

fn unused(t: &Table) -> anyhow::Result<Markup> {
    let kind = t.texts("principal_type")?;
    let principal = t.texts("principal")?;
    let permission = t.texts("permission")?;
    let granted_by = t.texts("granted_by")?;
    let last = t.times("last_used")?;
    let shown = t.len().min(markup::ROWS_SHOWN);
    let rows = html! {
        @for i in 0..shown {
            tr {
                td { (kind.get(i)) }
                td { (principal.get(i)) }
                td { (markup::permission(&permission.get(i))) }
                td { (granted_by.get(i)) }
                @match last[i] {
                    Some(_) => { (markup::time_cell(last[i])) }
                    None => { td.time data-sort=(i64::MIN) { span.muted { "none known" } } }
                }
            }
        }
    };
    Ok(html! {
        section #unused {
            h2 { "Unused permissions" }
            p.lead { "Grants no member (or user) used in the window: one row per principal, \
                permission and granting policy. " strong { "Last used" } " is the last successful \
                use before the window, when a " code { "--state" } " kept one; " em { "none known" }
                " means no use is on record." }
            (DataTable {
                id: "unused-table",
                cols: &[col("Principal type"), col("Principal"), col("Permission"),
                    col("Granted by"), col("Last used")],
                total: t.len(),
                shown,
                order: "in the table's order",
                file: &t.name,
                selects: vec![(0, "principal type", vec!["group".into(), "user".into()])],
                rows,
            }.render())
        }
    })
}

fn changes(t: &Table) -> anyhow::Result<Markup> {
    let change = t.texts("change")?;
    let subject_type = t.texts("subject_type")?;
    let subject = t.texts("subject")?;
    let permission = t.texts("permission")?;
    let route = t.texts("route")?;
    let detail = t.texts("detail")?;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..t.len() {
        *kinds.entry(change.get(i).into_owned()).or_default() += 1;
    }
    let shown = t.len().min(markup::ROWS_SHOWN);
    let rows = html! {
        @for i in 0..shown {
            tr {
                td { (change.get(i)) }
                td { (subject_type.get(i)) }
                td { (subject.get(i)) }
                td { (markup::permission(&permission.get(i))) }
                td { code { (route.get(i)) } }
                td { (detail.get(i)) }
            }
        }
    };
    Ok(html! {
        section #changes {
            h2 { "Changes since the previous run" }
            p.lead { "What differs from the findings of the previous run that wrote this report \
                directory." }
            @if !kinds.is_empty() {
                ul.chips {
                    @for (k, n) in &kinds { li { (k) ": " strong { (n) } } }
                }
            }
            (DataTable {
                id: "changes-table",
                cols: &[col("Change"), col("Subject type"), col("Subject"), col("Permission"),
                    col("Route"), col("Detail")],
                total: t.len(),
                shown,
                order: "in the table's order",
                file: &t.name,
                selects: vec![(0, "change", kinds.keys().cloned().collect())],
                rows,
            }.render())
        }
    })
}
