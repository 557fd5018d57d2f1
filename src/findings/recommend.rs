//! Least-privilege recommendations per group.
//!
//! The recommended policy keeps, from the group's own fine-grained Allow statements, only
//! what its members used: a wildcard survives only when every catalog code it covers was
//! used, otherwise it is narrowed to the used codes it covers. Conditions stay on their
//! statements, Deny statements are kept as they are, and patterns the logs cannot judge
//! (unobservable codes, other services' actions) are kept as written. So the new policy never
//! removes something that was used and never grants more than the group had.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Value, json};

use super::{GrantState, GroupPermission, GroupSummary, Window};
use crate::catalog::Catalog;
use crate::parse::time::format_micros;
use crate::policy::condition::Condition;
use crate::policy::snapshot::Statement;
use crate::policy::{Effect, PolicyKind, Snapshot};

/// One row of `recommendations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    pub group: String,
    /// `remove_permission`, `detach_policy`, `replace_role`, `review_member`.
    pub action: &'static str,
    pub target: String,
    pub detail: String,
    /// `high`, or `low` when the window is shorter than `--min-days` or no member was active.
    pub confidence: &'static str,
}

fn conditions_json(conditions: &[Condition]) -> Value {
    let mut by_op: BTreeMap<&str, BTreeMap<&str, &Vec<String>>> = BTreeMap::new();
    for c in conditions {
        by_op
            .entry(&c.operator)
            .or_default()
            .insert(&c.key, &c.values);
    }
    json!(by_op)
}

fn statement_json(effect: Effect, actions: &[String], st: &Statement) -> Value {
    let mut v = json!({"Effect": effect.as_str(), "Action": actions});
    if !st.conditions.is_empty() {
        v["Condition"] = conditions_json(&st.conditions);
    }
    v
}

/// The least-privilege policy document for one group.
fn policy_document(
    snapshot: &Snapshot,
    catalog: &Catalog,
    policies: &[usize],
    used: &BTreeSet<String>,
) -> Value {
    let codes = catalog.permissions();
    let mut statements = Vec::new();
    let mut granted_unconditionally: HashSet<String> = HashSet::new();
    for &p in policies {
        let policy = &snapshot.policies[p];
        if policy.kind != PolicyKind::Policy {
            continue;
        }
        for st in &policy.statements {
            if st.effect == Effect::Deny {
                let actions: Vec<String> =
                    st.actions.iter().map(|a| a.as_str().to_owned()).collect();
                statements.push(statement_json(Effect::Deny, &actions, st));
                continue;
            }
            let mut actions: Vec<String> = Vec::new();
            for pattern in &st.actions {
                let covered: Vec<&String> = codes.iter().filter(|c| pattern.matches(c)).collect();
                if covered.is_empty() {
                    // Nothing the logs can judge: keep it as written.
                    actions.push(pattern.as_str().to_owned());
                    continue;
                }
                let used_covered: Vec<&String> = covered
                    .iter()
                    .copied()
                    .filter(|c| used.contains(*c))
                    .collect();
                if used_covered.is_empty() {
                    continue;
                }
                if used_covered.len() == covered.len() {
                    actions.push(pattern.as_str().to_owned());
                } else {
                    for code in used_covered {
                        if !granted_unconditionally.contains(code) && !actions.contains(code) {
                            actions.push(code.clone());
                        }
                    }
                }
            }
            if actions.is_empty() {
                continue;
            }
            if st.conditions.is_empty() {
                for code in codes.iter().filter(|c| {
                    actions.iter().any(|a| {
                        a == *c
                            || crate::policy::ActionPattern::parse(a).is_ok_and(|p| p.matches(c))
                    })
                }) {
                    granted_unconditionally.insert(code.clone());
                }
            }
            statements.push(statement_json(Effect::Allow, &actions, st));
        }
    }
    json!({"Version": "1.1", "Statement": statements})
}

#[allow(clippy::too_many_arguments)]
pub(super) fn recommend(
    snapshot: &Snapshot,
    catalog: &Catalog,
    permissions: &[GroupPermission],
    summaries: &[GroupSummary],
    active: &HashSet<&str>,
    used_by_group: &[BTreeSet<String>],
    window: Window,
    short_window: bool,
) -> (Vec<Recommendation>, BTreeMap<String, Value>) {
    let mut rows = Vec::new();
    let mut documents = BTreeMap::new();
    let span = format!(
        "{} .. {}",
        format_micros(window.start),
        format_micros(window.end)
    );
    for (gi, group) in snapshot.groups.iter().enumerate() {
        let summary = summaries
            .iter()
            .find(|s| s.group == gi)
            .expect("a summary per group");
        let confidence = if short_window || summary.active_members == 0 {
            "low"
        } else {
            "high"
        };
        let mut push = |action: &'static str, target: String, detail: String| {
            rows.push(Recommendation {
                group: group.name.clone(),
                action,
                target,
                detail,
                confidence,
            });
        };
        let mine: Vec<&GroupPermission> = permissions.iter().filter(|p| p.group == gi).collect();

        for &p in &group.policies {
            let policy = &snapshot.policies[p];
            if policy.kind == PolicyKind::Role {
                let would_grant = policy.statements.iter().any(|s| {
                    s.effect == Effect::Allow
                        && s.actions
                            .iter()
                            .any(|a| catalog.permissions().iter().any(|c| a.matches(c)))
                });
                if would_grant {
                    push(
                        "replace_role",
                        policy.name.clone(),
                        format!(
                            "role {:?} does not authorize {} APIs (only fine-grained policies do); attach policies/{}.json instead",
                            policy.name,
                            catalog.service().to_uppercase(),
                            file_stem(&group.name)
                        ),
                    );
                }
            }
        }
        // Policies none of whose observable grants were used.
        let mut detached: HashSet<&str> = HashSet::new();
        for &p in &group.policies {
            let policy = &snapshot.policies[p];
            if policy.kind != PolicyKind::Policy {
                continue;
            }
            let grants: Vec<&&GroupPermission> = mine
                .iter()
                .filter(|g| {
                    matches!(g.state, GrantState::Used | GrantState::Unused)
                        && g.granted_by.contains(&policy.name)
                })
                .collect();
            if !grants.is_empty() && grants.iter().all(|g| g.state == GrantState::Unused) {
                detached.insert(&policy.name);
                push(
                    "detach_policy",
                    policy.name.clone(),
                    format!(
                        "none of its {} observable permission(s) was used by a member in {span}: {}",
                        grants.len(),
                        grants
                            .iter()
                            .map(|g| g.permission.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        for g in mine.iter().filter(|g| g.state == GrantState::Unused) {
            if g.granted_by.iter().all(|p| detached.contains(p.as_str())) {
                continue;
            }
            push(
                "remove_permission",
                g.permission.clone(),
                format!(
                    "granted by {}; no member made a successful call needing it in {span}",
                    g.granted_by.join(", ")
                ),
            );
        }
        for &u in &group.members {
            let user = &snapshot.users[u];
            if !active.contains(user.name.as_str()) {
                let disabled = if user.enabled {
                    ""
                } else {
                    " (the user is disabled)"
                };
                push(
                    "review_member",
                    user.name.clone(),
                    format!(
                        "no {} request in {span}{disabled}",
                        catalog.service().to_uppercase()
                    ),
                );
            }
        }
        documents.insert(
            group.name.clone(),
            policy_document(snapshot, catalog, &group.policies, &used_by_group[gi]),
        );
    }
    (rows, documents)
}

/// A file name for a group: characters other than letters, digits, `.`, `_`, `-` become `_`.
pub fn file_stem(group: &str) -> String {
    let s: String = group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.as_str() {
        "" | "." | ".." => format!("group_{}", s.len()),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("finance-viewers"), "finance-viewers");
        assert_eq!(file_stem("../etc/passwd"), ".._etc_passwd");
        assert_eq!(file_stem("Финансы ops"), "________ops");
        assert_eq!(file_stem(".."), "group_2");
        assert_eq!(file_stem(""), "group_0");
    }
}
