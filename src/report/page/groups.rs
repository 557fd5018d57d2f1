//! Groups and recommendations: each group's grants by state (chart and table, worst first),
//! and per group the grants it has now beside the recommended policy, with what the
//! recommendation removes, why, and how sure it is.

use std::collections::BTreeMap;

use foldhash::HashMap;

use maud::{Markup, html};
use serde_json::Value;

use super::markup::{self, DataTable, col, num_col};
use super::{FindingTables, PolicyDoc, charts};
use crate::policy::ActionPattern;

/// Groups in the chart, and with a recommendation card.
const CHART_GROUPS: usize = 30;
const CARDS: usize = 200;

/// One row of `group_permissions`.
struct Grant {
    permission: String,
    granted_by: String,
    state: String,
    conditional: bool,
    last_used: Option<i64>,
}

/// A group's grants and, when it is over-privileged, its row of `over_privileged_groups`.
#[derive(Default)]
pub struct Group {
    pub name: String,
    grants: Vec<Grant>,
    /// Grants per state: used, unused, unobservable, denied.
    pub states: [usize; 4],
    last_used: Option<i64>,
    /// members, active members (known for over-privileged groups only).
    members: Option<(u64, u64)>,
}

pub const STATES: [&str; 4] = ["used", "unused", "unobservable", "denied"];

impl Group {
    fn unused_share(&self) -> f64 {
        let [used, unused, ..] = self.states;
        if used + unused == 0 {
            0.0
        } else {
            unused as f64 / (used + unused) as f64
        }
    }
}

/// A recommendation row.
struct Advice {
    action: String,
    target: String,
    detail: String,
    confidence: String,
}

pub struct Groups {
    pub groups: Markup,
    pub recommendations: Markup,
    pub group_count: usize,
    pub unobservable: usize,
}

pub fn groups(t: &FindingTables, policies: &[PolicyDoc]) -> anyhow::Result<Groups> {
    let mut list = read_groups(t)?;
    list.sort_by(|a, b| {
        b.states[1]
            .cmp(&a.states[1])
            .then(b.unused_share().total_cmp(&a.unused_share()))
            .then(a.name.cmp(&b.name))
    });
    let advice = read_advice(t)?;
    Ok(Groups {
        groups: groups_section(&list, &t.group_permissions.name),
        recommendations: recommendations(&list, &advice, policies),
        group_count: list.len(),
        unobservable: list.iter().map(|g| g.states[2]).sum(),
    })
}

/// Every group of `group_permissions` and `over_privileged_groups`, in first-seen order.
fn read_groups(t: &FindingTables) -> anyhow::Result<Vec<Group>> {
    let gp = &t.group_permissions;
    let (group, permission, granted_by, state) = (
        gp.texts("group")?,
        gp.texts("permission")?,
        gp.texts("granted_by")?,
        gp.texts("state")?,
    );
    let (conditional, last_used) = (gp.bools("conditional")?, gp.times("last_used")?);
    let mut list: Vec<Group> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::default();
    let mut index = |name: &str, list: &mut Vec<Group>| {
        *at.entry(name.to_owned()).or_insert_with(|| {
            list.push(Group {
                name: name.to_owned(),
                ..Group::default()
            });
            list.len() - 1
        })
    };
    for i in 0..gp.len() {
        let at = index(&group.get(i), &mut list);
        let g = &mut list[at];
        let s = state.get(i);
        if let Some(k) = STATES.iter().position(|x| *x == s) {
            g.states[k] += 1;
        }
        g.last_used = g.last_used.max(last_used[i]);
        g.grants.push(Grant {
            permission: permission.get(i).into_owned(),
            granted_by: granted_by.get(i).into_owned(),
            state: s.into_owned(),
            conditional: conditional[i],
            last_used: last_used[i],
        });
    }
    let op = &t.over_privileged_groups;
    let (name, members, active) = (
        op.texts("group")?,
        op.counts("members")?,
        op.counts("active_members")?,
    );
    for i in 0..op.len() {
        let at = index(&name.get(i), &mut list);
        let g = &mut list[at];
        g.members = Some((members[i], active[i]));
    }
    Ok(list)
}

/// Recommendation rows per group, in the table's order.
fn read_advice(t: &FindingTables) -> anyhow::Result<BTreeMap<String, Vec<Advice>>> {
    let r = &t.recommendations;
    let (group, action, target, detail, confidence) = (
        r.texts("group")?,
        r.texts("action")?,
        r.texts("target")?,
        r.texts("detail")?,
        r.texts("confidence")?,
    );
    let mut out: BTreeMap<String, Vec<Advice>> = BTreeMap::new();
    for i in 0..r.len() {
        out.entry(group.get(i).into_owned())
            .or_default()
            .push(Advice {
                action: action.get(i).into_owned(),
                target: target.get(i).into_owned(),
                detail: detail.get(i).into_owned(),
                confidence: confidence.get(i).into_owned(),
            });
    }
    Ok(out)
}

fn groups_section(list: &[Group], file: &str) -> Markup {
    let shown = list.len().min(markup::ROWS_SHOWN);
    let chart: Vec<(&str, [usize; 4])> = list
        .iter()
        .take(CHART_GROUPS)
        .map(|g| (g.name.as_str(), g.states))
        .collect();
    let rows = html! {
        @for g in &list[..shown] {
            tr {
                td { (g.name) }
                @match g.members {
                    Some((m, a)) => { (markup::count_cell(m)) (markup::count_cell(a)) }
                    None => { td.num data-sort="-1" { "-" } td.num data-sort="-1" { "-" } }
                }
                (markup::count_cell(g.grants.len() as u64))
                @for n in g.states { (markup::count_cell(n as u64)) }
                td.num data-sort=(g.unused_share()) { (format!("{:.0}%", 100.0 * g.unused_share())) }
                (markup::time_cell(g.last_used))
                td { @for (i, p) in g.grants.iter().filter(|p| p.state == "unused").enumerate() {
                    @if i > 0 { br; }
                    code { (p.permission) }
                } }
            }
        }
    };
    html! {
        section #groups {
            h2 { "Groups" }
            p.lead { "What each group grants, by state, worst first (most unused grants). "
                strong { "used" } ": a member made a successful call needing it in the window; "
                strong { "unused" } ": none did; " strong { "unobservable" } ": no API in the \
                catalog needs it, so its use cannot be seen in logs; " strong { "denied" }
                ": the group's own policies deny it. Members are known for over-privileged \
                groups (from " code { "over_privileged_groups" } ")." }
            @if !chart.is_empty() {
                figure.chart {
                    (charts::groups(&chart))
                    figcaption {
                        "Grants per group by state"
                        @if list.len() > CHART_GROUPS {
                            " (the " (CHART_GROUPS) " worst of " (list.len()) " groups)"
                        } ": "
                        @for (i, s) in STATES.iter().enumerate() {
                            span class={"key s" (i)} {} (s) " "
                        }
                    }
                }
            }
            (DataTable {
                id: "groups-table",
                cols: &[col("Group"), num_col("Members"), num_col("Active members"),
                    num_col("Granted"), num_col("Used"), num_col("Unused"),
                    num_col("Unobservable"), num_col("Denied"), num_col("Unused share"),
                    col("Last use"), col("Unused permissions")],
                total: list.len(),
                shown,
                order: "the worst first",
                file,
                selects: Vec::new(),
                rows,
            }.render())
        }
    }
}

/// A card per group (worst first; then groups with only a recommended policy or advice).
fn recommendations(
    list: &[Group],
    advice: &BTreeMap<String, Vec<Advice>>,
    policies: &[PolicyDoc],
) -> Markup {
    let docs: HashMap<&str, &PolicyDoc> = policies.iter().map(|p| (p.group.as_str(), p)).collect();
    let known: HashMap<&str, &Group> = list.iter().map(|g| (g.name.as_str(), g)).collect();
    let mut names: Vec<&str> = list.iter().map(|g| g.name.as_str()).collect();
    let mut rest: Vec<&str> = advice
        .keys()
        .map(String::as_str)
        .chain(policies.iter().map(|p| p.group.as_str()))
        .filter(|n| !known.contains_key(n))
        .collect();
    rest.sort_unstable();
    rest.dedup();
    names.extend(rest);
    let shown = names.len().min(CARDS);
    html! {
        section #recommendations {
            h2 { "Recommendations" }
            p.lead { "Per group: what it grants now beside the least-privilege policy permlens \
                recommends (" code { "policies/<group>.json" } "), what that removes, and why. \
                The recommendation keeps everything members used, keeps Deny statements and \
                patterns the logs cannot judge, and never grants more. Confidence is "
                strong { "low" } " when the window is shorter than " code { "--min-days" }
                " or no member was active." }
            p.count data-total=(names.len()) data-shown=(shown) {
                @if shown < names.len() { "Showing " (shown) " of " (names.len())
                    " groups (the worst first); every recommendation is in "
                    code { "recommendations" } " and " code { "policies/" } "." }
                @else { (names.len()) " groups." }
            }
            @for (i, name) in names.iter().take(shown).enumerate() {
                (card(i, name, known.get(name).copied(), advice.get(*name), docs.get(name).copied()))
            }
        }
    }
}

fn card(
    i: usize,
    name: &str,
    group: Option<&Group>,
    advice: Option<&Vec<Advice>>,
    doc: Option<&PolicyDoc>,
) -> Markup {
    let advice: &[Advice] = advice.map_or(&[], Vec::as_slice);
    let confidence = advice.first().map(|a| a.confidence.as_str());
    let grants: &[Grant] = group.map_or(&[], |g| g.grants.as_slice());
    let statements = doc.map(|d| statements(&d.doc)).unwrap_or_default();
    let json_id = format!("policy-json-{i}");
    html! {
        article.card {
            h3 { (name) " "
                @match confidence {
                    Some(c) => { (markup::badge(c)) " confidence" }
                    None => { span.muted { "no action recommended" } }
                }
            }
            @if !advice.is_empty() {
                ul.why { @for ((action, detail), targets) in same_reason(advice) {
                    li {
                        span.action { (action) } " "
                        @for (i, t) in targets.iter().enumerate() {
                            @if i > 0 { ", " }
                            code { (t) }
                        }
                        ": " (detail)
                    }
                } }
            }
            div.diff {
                div {
                    h4 { "Granted now (" (grants.len()) ")" }
                    (now_table(grants, &statements))
                }
                div {
                    h4 { "Recommended policy" }
                    @match doc {
                        Some(d) => { (recommended(&statements)) p.muted { code { (d.file) } } }
                        None => { p.muted { "No recommended policy document for this group." } }
                    }
                }
            }
            @if let Some(d) = doc {
                details.json {
                    summary { "Policy JSON " button.copy type="button" data-copy=(json_id) { "Copy JSON" } }
                    pre id=(json_id) { (serde_json::to_string_pretty(&d.doc).unwrap_or_default()) }
                }
            }
        }
    }
}

/// Recommendation rows with the same action and reason, as one line naming their targets
/// (ten unused permissions of one policy read as one reason), in the order of their first row.
fn same_reason(advice: &[Advice]) -> Vec<((&str, &str), Vec<&str>)> {
    let mut out: Vec<((&str, &str), Vec<&str>)> = Vec::new();
    for a in advice {
        let key = (a.action.as_str(), a.detail.as_str());
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, targets)) => targets.push(&a.target),
            None => out.push((key, vec![&a.target])),
        }
    }
    out
}

/// The effect, actions and condition (as JSON text) of each statement of a policy document.
fn statements(doc: &Value) -> Vec<(String, Vec<String>, Option<String>)> {
    let list = doc["Statement"].as_array().map_or(&[][..], Vec::as_slice);
    list.iter()
        .map(|st| {
            let actions = match &st["Action"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            let condition = st.get("Condition").map(Value::to_string);
            (
                st["Effect"].as_str().unwrap_or("?").to_owned(),
                actions,
                condition,
            )
        })
        .collect()
}

/// What the recommended policy does with a granted code: `kept` when an Allow action equals
/// it (a pattern kept as written) or covers it, `deny_kept` when a kept Deny covers it,
/// else `removed`.
fn fate(permission: &str, statements: &[(String, Vec<String>, Option<String>)]) -> &'static str {
    let covers = |effect: &str| {
        statements
            .iter()
            .filter(|(e, ..)| e == effect)
            .flat_map(|(_, actions, _)| actions)
            .any(|a| {
                a == permission || ActionPattern::parse(a).is_ok_and(|p| p.matches(permission))
            })
    };
    if covers("Deny") {
        "deny_kept"
    } else if covers("Allow") {
        "kept"
    } else {
        "removed"
    }
}

fn now_table(grants: &[Grant], statements: &[(String, Vec<String>, Option<String>)]) -> Markup {
    html! {
        @if grants.is_empty() {
            p.muted { "No fine-grained grant (roles grant nothing for these APIs)." }
        } @else {
            table.grants {
                thead { tr { th { "Permission" } th { "State" } th { "Granted by" } th { "Recommended" } } }
                tbody { @for g in grants {
                    @let fate = fate(&g.permission, statements);
                    tr class=(fate) {
                        td { code { (g.permission) } @if g.conditional { " " small { "(conditional)" } } }
                        td { (markup::badge(&g.state))
                            @if let Some(t) = g.last_used { br; small title=(markup::time(Some(t))) { "last used " (markup::short_time(Some(t))) } } }
                        td { (markup::list(&g.granted_by)) }
                        td { (markup::fate_badge(fate)) }
                    }
                } }
            }
        }
    }
}

fn recommended(statements: &[(String, Vec<String>, Option<String>)]) -> Markup {
    html! {
        @if statements.is_empty() {
            p { "No statement: nothing the group grants was used. Detach its policies." }
        }
        @for (effect, actions, condition) in statements {
            div class={"statement " (effect.to_lowercase())} {
                strong { (effect) }
                ul { @for a in actions { li { code { (a) } } } }
                @if let Some(c) = condition { p.muted { "Condition: " code { (c) } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_is_kept_removed_or_still_denied_by_the_recommended_policy() {
        let doc = serde_json::json!({"Version": "1.1", "Statement": [
            {"Effect": "Allow", "Action": ["bss:order:*", "bss:contract:*"]},
            {"Effect": "Allow", "Action": "bss:bill:view"},
            {"Effect": "Deny", "Action": ["bss:order:pay"]}
        ]});
        let st = statements(&doc);
        assert_eq!(fate("bss:order:view", &st), "kept", "covered by a pattern");
        assert_eq!(
            fate("bss:contract:*", &st),
            "kept",
            "a pattern kept as written"
        );
        assert_eq!(
            fate("bss:bill:view", &st),
            "kept",
            "an Action given as a string"
        );
        assert_eq!(fate("bss:order:pay", &st), "deny_kept");
        assert_eq!(fate("bss:coupon:view", &st), "removed");
    }

    #[test]
    fn advice_with_one_reason_is_one_line() {
        let a = |action: &str, target: &str, detail: &str| Advice {
            action: action.into(),
            target: target.into(),
            detail: detail.into(),
            confidence: "low".into(),
        };
        let advice = [
            a("remove_permission", "x", "why"),
            a("review_member", "bob", "idle"),
            a("remove_permission", "y", "why"),
        ];
        assert_eq!(
            same_reason(&advice),
            [
                (("remove_permission", "why"), vec!["x", "y"]),
                (("review_member", "idle"), vec!["bob"]),
            ]
        );
    }
}
