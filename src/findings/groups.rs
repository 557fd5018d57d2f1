//! Group findings, against the latest snapshot (the account as it is now, the one to act on):
//! the state of every permission each group grants, each group's summary, and the unused
//! permissions of groups and of policies attached directly to users.
//!
//! A use counts for *every* group of the user that grants the code; conditional allows count
//! as granted; roles grant nothing.

use std::collections::{BTreeSet, HashSet};

use super::denied::{Active, Used};
use super::{EarlierUses, GrantState, GroupPermission, GroupSummary, UnusedPermission};
use crate::policy::Snapshot;
use crate::policy::snapshot::Group;

/// What the group findings read besides the snapshot's grants.
pub(super) struct Evidence<'e> {
    pub snapshot: &'e Snapshot,
    /// The catalog's permission codes: what a grant can be observed through.
    pub codes: &'e [String],
    /// The catalog's IAM 5.0 actions: what a v5 grant can be observed through.
    pub v5_codes: &'e [String],
    pub used: &'e Used<'e>,
    pub active: &'e Active<'e>,
    /// Last uses before the window, for `last_used` of what the window did not see used.
    pub earlier: &'e EarlierUses,
}

/// The group tables, in the snapshot's group order except `summaries` (see [`sort_summaries`]).
#[derive(Debug, Default)]
pub(super) struct GroupFindings {
    pub permissions: Vec<GroupPermission>,
    pub summaries: Vec<GroupSummary>,
    /// Group rows first, then users' direct attachments.
    pub unused: Vec<UnusedPermission>,
}

/// Every group's permissions and summary, and the unused permissions of groups and users.
pub(super) fn group_findings(e: &Evidence<'_>) -> GroupFindings {
    let mut out = GroupFindings::default();
    for (gi, group) in e.snapshot.groups.iter().enumerate() {
        let summary = e.group(gi, group, &mut out);
        out.summaries.push(summary);
    }
    out.unused.extend(e.direct_grants());
    sort_summaries(&mut out.summaries, e.snapshot);
    out
}

/// The state of one granted code. The order of the tests is the rule: a code no catalog route
/// needs is never `unused` (its use cannot be seen), and a code the group's own policies deny
/// without a condition is `denied` even when a member's success says otherwise.
pub(super) fn grant_state(observable: bool, denied: bool, used: bool) -> GrantState {
    if !observable {
        GrantState::Unobservable
    } else if denied {
        GrantState::Denied
    } else if used {
        GrantState::Used
    } else {
        GrantState::Unused
    }
}

/// unused / (used + unused); 0 when the group grants nothing observable and not denied.
pub(super) fn unused_ratio(used: u32, unused: u32) -> f64 {
    let observable = used + unused;
    if observable == 0 {
        0.0
    } else {
        f64::from(unused) / f64::from(observable)
    }
}

impl Evidence<'_> {
    /// One group's permission rows (into `out`) and its summary; an unused code gives one
    /// unused-permission row per granting policy.
    fn group(&self, gi: usize, group: &Group, out: &mut GroupFindings) -> GroupSummary {
        let s = self.snapshot;
        let members: Vec<&str> = group
            .members
            .iter()
            .map(|&u| s.users[u].name.as_str())
            .collect();
        let mut summary = GroupSummary {
            group: gi,
            members: members.len() as u32,
            active_members: members.iter().filter(|m| self.active.contains(**m)).count() as u32,
            granted: 0,
            used: 0,
            unused: 0,
            unobservable: 0,
            denied: 0,
            unused_ratio: 0.0,
            unused_permissions: Vec::new(),
        };
        for grant in s.grants(&group.policies, self.codes, self.v5_codes) {
            let uses: Vec<i64> = members
                .iter()
                .filter_map(|m| self.used.get(&(*m, grant.permission.as_str())).copied())
                .collect();
            let state = grant_state(grant.observable, grant.denied, !uses.is_empty());
            let earlier_use = || self.earlier_use(&members, &grant.permission);
            let row = GroupPermission {
                group: gi,
                granted_by: grant
                    .policies
                    .iter()
                    .map(|&p| s.policies[p].name.clone())
                    .collect(),
                policy_model: grant.model.as_str(),
                state,
                last_used: uses.iter().copied().max().or_else(earlier_use),
                users_used: uses.len() as u32,
                conditional: grant.conditional,
                permission: grant.permission,
            };
            summary.granted += 1;
            match state {
                GrantState::Used => summary.used += 1,
                GrantState::Unused => {
                    summary.unused += 1;
                    summary.unused_permissions.push(row.permission.clone());
                    out.unused
                        .extend(row.granted_by.iter().map(|p| UnusedPermission {
                            principal_type: "group",
                            principal: group.name.clone(),
                            permission: row.permission.clone(),
                            granted_by: p.clone(),
                            last_used: row.last_used,
                        }));
                }
                GrantState::Unobservable => summary.unobservable += 1,
                GrantState::Denied => summary.denied += 1,
            }
            out.permissions.push(row);
        }
        summary.unused_ratio = unused_ratio(summary.used, summary.unused);
        summary
    }

    /// The latest use of `code` by any of `members` before the window.
    fn earlier_use(&self, members: &[&str], code: &str) -> Option<i64> {
        members
            .iter()
            .filter_map(|m| {
                self.earlier
                    .get(&((*m).to_owned(), code.to_owned()))
                    .copied()
            })
            .max()
    }

    /// Unused permissions of policies attached directly to users: observable, not denied by
    /// the same policies, and not used by that user in the window (only the user's own uses
    /// count). One row per granting policy.
    fn direct_grants(&self) -> Vec<UnusedPermission> {
        let s = self.snapshot;
        let mut out = Vec::new();
        for user in &s.users {
            for grant in s.grants(&user.policies, self.codes, self.v5_codes) {
                let key = (user.name.as_str(), grant.permission.as_str());
                if !grant.observable || grant.denied || self.used.contains_key(&key) {
                    continue;
                }
                let last_used = self
                    .earlier
                    .get(&(user.name.clone(), grant.permission.clone()))
                    .copied();
                out.extend(grant.policies.iter().map(|&p| UnusedPermission {
                    principal_type: "user",
                    principal: user.name.clone(),
                    permission: grant.permission.clone(),
                    granted_by: s.policies[p].name.clone(),
                    last_used,
                }));
            }
        }
        out
    }
}

/// Most unused permissions first, then the highest unused ratio, then by group name: the
/// order of the over-privileged-groups table. Stable.
pub(super) fn sort_summaries(summaries: &mut [GroupSummary], snapshot: &Snapshot) {
    summaries.sort_by(|a, b| {
        b.unused
            .cmp(&a.unused)
            .then(b.unused_ratio.total_cmp(&a.unused_ratio))
            .then_with(|| {
                snapshot.groups[a.group]
                    .name
                    .cmp(&snapshot.groups[b.group].name)
            })
    });
}

/// For each group, the catalog codes its members used in the window.
pub(super) fn used_by_group(snapshot: &Snapshot, used: &Used<'_>) -> Vec<BTreeSet<String>> {
    snapshot
        .groups
        .iter()
        .map(|g| {
            let names: HashSet<&str> = g
                .members
                .iter()
                .map(|&u| snapshot.users[u].name.as_str())
                .collect();
            used.keys()
                .filter(|(u, _)| names.contains(u))
                .map(|(_, code)| (*code).to_owned())
                .collect()
        })
        .collect()
}
