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
use crate::policy::snapshot::{Group, Statement};
use crate::policy::{Effect, PolicyKind, Snapshot};

/// One row of `recommendations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    pub group: String,
    /// `remove_permission`, `detach_policy`, `replace_role`, `review_member`,
    /// `migrate_to_v5`.
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

/// The recommendations and the least-privilege policy document of every group, in the
/// snapshot's group order. `summaries` hold one summary per group (in any order);
/// `used_by_group` is indexed like `snapshot.groups`.
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
    let advisor = Advisor {
        snapshot,
        catalog,
        active,
        span: format!(
            "{} .. {}",
            format_micros(window.start),
            format_micros(window.end)
        ),
    };
    let mut rows = Vec::new();
    let mut documents = BTreeMap::new();
    for (gi, group) in snapshot.groups.iter().enumerate() {
        let summary = summaries
            .iter()
            .find(|s| s.group == gi)
            .expect("a summary per group");
        let mut out = GroupRows {
            group: &group.name,
            confidence: confidence(short_window, summary.active_members),
            rows: &mut rows,
        };
        let mine: Vec<&GroupPermission> = permissions.iter().filter(|p| p.group == gi).collect();
        advisor.replace_roles(group, &mut out);
        let detached = advisor.detach_policies(group, &mine, &mut out);
        advisor.remove_permissions(&mine, &detached, &mut out);
        advisor.review_members(group, &mut out);
        advisor.migrate_to_v5(group, &used_by_group[gi], &mut out);
        documents.insert(
            group.name.clone(),
            policy_document(snapshot, catalog, &group.policies, &used_by_group[gi]),
        );
    }
    (rows, documents)
}

/// `low` when the window is shorter than `--min-days` or no member was active: absence of use
/// then proves little.
pub(super) fn confidence(short_window: bool, active_members: u32) -> &'static str {
    if short_window || active_members == 0 {
        "low"
    } else {
        "high"
    }
}

/// The rows of one group: each carries the group's name and confidence.
struct GroupRows<'r> {
    group: &'r str,
    confidence: &'static str,
    rows: &'r mut Vec<Recommendation>,
}

impl GroupRows<'_> {
    fn push(&mut self, action: &'static str, target: String, detail: String) {
        self.rows.push(Recommendation {
            group: self.group.to_owned(),
            action,
            target,
            detail,
            confidence: self.confidence,
        });
    }
}

/// What every group's recommendations read.
struct Advisor<'a> {
    snapshot: &'a Snapshot,
    catalog: &'a Catalog,
    active: &'a HashSet<&'a str>,
    /// The window, as the details name it.
    span: String,
}

impl<'a> Advisor<'a> {
    /// Roles that would grant a catalog code if they were evaluated: they never authorize
    /// these APIs, so the group's recommended policy file should replace them.
    fn replace_roles(&self, group: &Group, out: &mut GroupRows<'_>) {
        let codes = self.catalog.permissions();
        for &p in &group.policies {
            let policy = &self.snapshot.policies[p];
            let would_grant = policy.kind == PolicyKind::Role
                && policy.statements.iter().any(|s| {
                    s.effect == Effect::Allow
                        && s.actions.iter().any(|a| codes.iter().any(|c| a.matches(c)))
                });
            if would_grant {
                out.push(
                    "replace_role",
                    policy.name.clone(),
                    format!(
                        "role {:?} does not authorize {} APIs (only fine-grained policies do); attach policies/{}.json instead",
                        policy.name,
                        self.catalog.service().to_uppercase(),
                        file_stem(&group.name)
                    ),
                );
            }
        }
    }

    /// Policies that grant something observable and none of whose observable grants was
    /// used; returns their names, so that their permissions are not also listed one by one.
    fn detach_policies(
        &self,
        group: &Group,
        mine: &[&GroupPermission],
        out: &mut GroupRows<'_>,
    ) -> HashSet<&'a str> {
        let mut detached = HashSet::new();
        for &p in &group.policies {
            let policy = &self.snapshot.policies[p];
            if policy.kind != PolicyKind::Policy {
                continue;
            }
            let grants: Vec<&GroupPermission> = mine
                .iter()
                .copied()
                .filter(|g| {
                    matches!(g.state, GrantState::Used | GrantState::Unused)
                        && g.granted_by.contains(&policy.name)
                })
                .collect();
            if grants.is_empty() || grants.iter().any(|g| g.state != GrantState::Unused) {
                continue;
            }
            let names: Vec<&str> = grants.iter().map(|g| g.permission.as_str()).collect();
            detached.insert(policy.name.as_str());
            out.push(
                "detach_policy",
                policy.name.clone(),
                format!(
                    "none of its {} observable permission(s) was used by a member in {}: {}",
                    grants.len(),
                    self.span,
                    names.join(", ")
                ),
            );
        }
        detached
    }

    /// Unused permissions, except those whose every granting policy is detached already.
    fn remove_permissions(
        &self,
        mine: &[&GroupPermission],
        detached: &HashSet<&str>,
        out: &mut GroupRows<'_>,
    ) {
        for g in mine.iter().filter(|g| g.state == GrantState::Unused) {
            if g.granted_by.iter().all(|p| detached.contains(p.as_str())) {
                continue;
            }
            out.push(
                "remove_permission",
                g.permission.clone(),
                format!(
                    "granted by {}; no member made a successful call needing it in {}",
                    g.granted_by.join(", "),
                    self.span
                ),
            );
        }
    }

    /// Members with no request of any status in the window.
    fn review_members(&self, group: &Group, out: &mut GroupRows<'_>) {
        for &u in &group.members {
            let user = &self.snapshot.users[u];
            if self.active.contains(user.name.as_str()) {
                continue;
            }
            let disabled = if user.enabled {
                ""
            } else {
                " (the user is disabled)"
            };
            out.push(
                "review_member",
                user.name.clone(),
                format!(
                    "no {} request in {}{disabled}",
                    self.catalog.service().to_uppercase(),
                    self.span
                ),
            );
        }
    }
}

impl Advisor<'_> {
    /// In an account on IAM 5.0 (the snapshot has identity policies), a group that relies on
    /// v1.1 policies only: the least-privilege v5 policy for what its members used.
    fn migrate_to_v5(&self, group: &Group, used: &BTreeSet<String>, out: &mut GroupRows<'_>) {
        let s = self.snapshot;
        let kinds = || group.policies.iter().map(|&p| s.policies[p].kind);
        if !s.has_identity_policies()
            || !kinds().any(|k| k == PolicyKind::Policy)
            || kinds().any(|k| k == PolicyKind::Identity)
        {
            return;
        }
        let v11: Vec<&str> = group
            .policies
            .iter()
            .filter(|&&p| s.policies[p].kind == PolicyKind::Policy)
            .map(|&p| s.policies[p].name.as_str())
            .collect();
        let detail = match s.least_privilege_v5(&group.policies, used, self.catalog) {
            Some(doc) => format!(
                "the group relies on v1.1 policies only; in IAM 5.0 what its members used in {} needs this identity policy (conditions of the v1.1 statements not carried over): {doc}",
                self.span
            ),
            None => format!(
                "the group relies on v1.1 policies only; its members used no API with a known IAM 5.0 action in {}",
                self.span
            ),
        };
        out.push("migrate_to_v5", v11.join(";"), detail);
    }
}

/// A file name for a group: characters other than letters, digits (of any script: a group
/// named `计费组` gets `计费组.json`, not `___.json`), `.`, `_`, `-` become `_`.
pub fn file_stem(group: &str) -> String {
    let s: String = group
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') {
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
        assert_eq!(file_stem("Финансы ops"), "Финансы_ops");
        assert_eq!(file_stem("计费组/财务"), "计费组_财务");
        assert_eq!(file_stem("a\u{202e}b\u{0}c"), "a_b_c");
        assert_eq!(file_stem(".."), "group_2");
        assert_eq!(file_stem(""), "group_0");
    }
}
