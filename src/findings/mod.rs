//! Findings: what the logs and the snapshot say together.
//!
//! - **Denied calls**, with a verdict comparing the log with the snapshot: `confirmed` (the
//!   log shows a 403 and the snapshot does not allow the call), `predicted_only` (the
//!   snapshot denies a call the log shows succeeding: the policy changed or the snapshot is
//!   stale), `observed_only` (a 403 the snapshot cannot explain: `gateway_acl` when the
//!   gateway's own access control answered, else `unexplained`). A success under an
//!   undecidable condition proves the condition held: no finding.
//! - **Group permissions**: each code a group grants is `used` (some member made a successful
//!   call needing it in the window; a use counts for *every* group of the user that grants
//!   the code), `denied` (the group's own policies deny it without a condition),
//!   `unobservable` (no catalog route needs it: its use can never be seen in API logs) or
//!   `unused`. Conditional allows count as granted. Roles grant nothing.
//! - **Over-privileged groups**, **unused permissions** and **recommendations**, including a
//!   least-privilege policy per group that never removes anything that was used and never
//!   grants more than the group had.

mod recommend;

use std::collections::{BTreeMap, BTreeSet, HashSet};

/// For the per-row lookups of the judging loop (SipHash showed in its profile).
use foldhash::HashMap as FastMap;
use std::net::IpAddr;

use crate::aggregate::{Cell, RowSum, Stats, StatusClass};
use crate::catalog::{Catalog, RouteId};
use crate::policy::{Decision, Effect, History, Outcome as Judgement, Reason, Snapshot, Truth};

pub use crate::aggregate::EarlierUses;
pub use recommend::{Recommendation, file_stem as recommend_file_stem};

/// How the log and the snapshot compare on a denied (or deniable) call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Confirmed,
    PredictedOnly,
    ObservedOnly,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::PredictedOnly => "predicted_only",
            Verdict::ObservedOnly => "observed_only",
        }
    }
}

/// One row of `denied_calls`: user x route x verdict x reason.
#[derive(Debug, Clone)]
pub struct DeniedCall {
    pub user: String,
    pub route: RouteId,
    pub verdict: Verdict,
    /// A policy reason, or `gateway_acl` / `unexplained` for observed-only denials.
    pub reason: &'static str,
    pub policy: Option<String>,
    /// The undecided or unmet condition, described.
    pub condition: Option<String>,
    /// The snapshot that judged the requests (`file@taken_at`).
    pub snapshot: String,
    /// `console`: Billing Center console operations recorded by CTS, mapped to this route by
    /// inference; `None`: API calls.
    pub source: Option<&'static str>,
    pub cell: Cell,
}

/// The state of a permission a group grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantState {
    Used,
    Unused,
    Unobservable,
    Denied,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Used => "used",
            GrantState::Unused => "unused",
            GrantState::Unobservable => "unobservable",
            GrantState::Denied => "denied",
        }
    }
}

/// One row of `group_permissions`.
#[derive(Debug, Clone)]
pub struct GroupPermission {
    pub group: usize,
    pub permission: String,
    /// Names of the granting policies.
    pub granted_by: Vec<String>,
    pub state: GrantState,
    pub last_used: Option<i64>,
    pub users_used: u32,
    pub conditional: bool,
}

/// One row of `over_privileged_groups`.
#[derive(Debug, Clone)]
pub struct GroupSummary {
    pub group: usize,
    pub members: u32,
    pub active_members: u32,
    pub granted: u32,
    pub used: u32,
    pub unused: u32,
    pub unobservable: u32,
    pub denied: u32,
    /// unused / (used + unused).
    pub unused_ratio: f64,
    pub unused_permissions: Vec<String>,
}

/// One row of `unused_permissions`: principal x permission x granting policy.
#[derive(Debug, Clone)]
pub struct UnusedPermission {
    pub principal_type: &'static str,
    pub principal: String,
    pub permission: String,
    pub granted_by: String,
    /// The last successful use before the window, when the state remembers one.
    pub last_used: Option<i64>,
}

/// Everything the findings stage produces.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub denied: Vec<DeniedCall>,
    pub group_permissions: Vec<GroupPermission>,
    /// Every group's summary; over-privileged ones have `unused > 0`.
    pub groups: Vec<GroupSummary>,
    pub unused: Vec<UnusedPermission>,
    pub recommendations: Vec<Recommendation>,
    /// Recommended policy document per group name.
    pub policies: BTreeMap<String, serde_json::Value>,
    /// Days the observation window covers.
    pub window_days: f64,
    /// Requests older than every snapshot (judged by the earliest), with several snapshots.
    pub before_first_snapshot: u64,
}

impl Findings {
    pub fn over_privileged(&self) -> impl Iterator<Item = &GroupSummary> {
        self.groups.iter().filter(|g| g.unused > 0)
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.denied.iter().filter(|d| d.verdict == verdict).count()
    }
}

/// The observation window, for confidence.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    pub fn days(&self) -> f64 {
        (self.end - self.start).max(0) as f64 / 86_400e6
    }
}

/// user, route, verdict, reason, deciding policy, condition, judging snapshot, console.
type DeniedKey<'a> = (
    &'a str,
    RouteId,
    Verdict,
    &'static str,
    Option<std::borrow::Cow<'a, str>>,
    Option<String>,
    usize,
    bool,
);

/// Gateway access-control codes: the gateway refused the call, not IAM.
const GATEWAY_ACL: [&str; 3] = ["APIG.0302", "APIG.0304", "APIG.0306"];

/// Decisions, computed once per (snapshot, user, code), or per (snapshot, user, code,
/// context class) when a condition depends on the request's time or client IP. Keys are
/// interned user ids and borrowed codes: no allocation per usage row.
struct Judge<'a> {
    history: &'a History,
    depends: FastMap<(usize, u32, &'a str), bool>,
    cache: FastMap<(usize, u32, &'a str, Option<u32>), Decision>,
}

impl<'a> Judge<'a> {
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        at: usize,
        user_id: u32,
        user: &str,
        code: &'a str,
        context: u32,
        time: i64,
        ip: Option<IpAddr>,
    ) -> &Decision {
        let snapshot = &self.history.snapshots[at];
        let per_request = *self
            .depends
            .entry((at, user_id, code))
            .or_insert_with(|| snapshot.depends_on_request(user, code));
        let key = (at, user_id, code, per_request.then_some(context));
        self.cache.entry(key).or_insert_with(|| {
            let t = jiff::Timestamp::from_microsecond(time).ok();
            snapshot.decide(user, code, t, ip)
        })
    }
}

/// Computes every finding. `stats` are the merged aggregates of the window; each row is
/// judged by the snapshot in force at its earliest request (rows never straddle a snapshot
/// change: `taken_at` times are context-class thresholds), group findings by the latest.
pub fn compute(
    stats: &Stats,
    catalog: &Catalog,
    history: &History,
    window: Window,
    min_days: u32,
    earlier: &EarlierUses,
) -> Findings {
    let snapshot = history.latest();
    let mut judge = Judge {
        history,
        depends: FastMap::default(),
        cache: FastMap::default(),
    };
    let mut before_first_snapshot = 0u64;
    // Rows of the denied-calls table, grouped once all are known (sorting borrowed keys
    // instead of keeping a map of owned ones: a map insert copied the key and the cell).
    let mut denied: Vec<(DeniedKey<'_>, &Cell)> = Vec::new();
    let names: Vec<String> = (0..stats.users.len() as u32)
        .map(|u| stats.users.text(u))
        .collect();
    // (user, code) -> last successful use.
    let mut used: FastMap<(&str, &str), i64> = FastMap::default();
    // Users with a request in the window, by interned id; their names are collected once at
    // the end (a set of names took a SipHash of the name per row).
    let mut active_ids = vec![false; names.len()];
    let console = stats.codes.find(b"console");

    for (k, cell) in &stats.usage {
        let user = names[k.user as usize].as_str();
        active_ids[k.user as usize] = true;
        let route = catalog.route(k.route);
        let outcome = StatusClass::of_status(k.status);
        if !matches!(outcome, StatusClass::Allowed | StatusClass::Denied) {
            continue;
        }
        if outcome == StatusClass::Allowed {
            let e = used
                .entry((user, route.permission.as_str()))
                .or_insert(cell.last_seen);
            *e = (*e).max(cell.last_seen);
        }
        let ip = cell.source_ip.map(|(_, ip)| ip);
        let at = history.at(cell.first_seen);
        if history.predates(cell.first_seen) {
            before_first_snapshot += cell.count;
        }
        let judged_by = &history.snapshots[at];
        let d = judge.decide(
            at,
            k.user,
            user,
            &route.permission,
            k.context,
            cell.first_seen,
            ip,
        );
        let deciding = d.deciding_statement();
        // Where several policies deny, a user fixing the denial must see all of them.
        let denying: Vec<&str> = if d.reason == Some(Reason::ExplicitDeny) {
            let mut names: Vec<&str> = Vec::new();
            for m in &d.matched {
                let name = judged_by.policies[m.policy].name.as_str();
                if m.effect == Effect::Deny
                    && !m.role
                    && m.truth == Truth::Met
                    && !names.contains(&name)
                {
                    names.push(name);
                }
            }
            names
        } else {
            Vec::new()
        };
        let policy: Option<std::borrow::Cow<'_, str>> = if denying.len() > 1 {
            Some(denying.join(";").into())
        } else {
            deciding.map(|m| judged_by.policies[m.policy].name.as_str().into())
        };
        let condition = deciding.and_then(|m| m.condition.clone());
        let row = match (outcome, d.outcome) {
            (StatusClass::Denied, Judgement::Deny | Judgement::Undecided) => Some((
                Verdict::Confirmed,
                d.reason.map_or("not_granted", Reason::as_str),
                policy,
                condition,
            )),
            (StatusClass::Denied, Judgement::Allow) => {
                let code = stats.codes.text(k.error_code);
                let reason = if GATEWAY_ACL.contains(&code.as_str()) {
                    "gateway_acl"
                } else {
                    "unexplained"
                };
                Some((Verdict::ObservedOnly, reason, None, None))
            }
            (StatusClass::Allowed, Judgement::Deny) => Some((
                Verdict::PredictedOnly,
                d.reason.map_or("not_granted", Reason::as_str),
                policy,
                condition,
            )),
            _ => None,
        };
        if let Some((verdict, reason, policy, condition)) = row {
            let via_console = console == Some(k.source);
            denied.push((
                (
                    user,
                    k.route,
                    verdict,
                    reason,
                    policy,
                    condition,
                    at,
                    via_console,
                ),
                cell,
            ));
        }
    }
    let active: HashSet<&str> = names
        .iter()
        .zip(&active_ids)
        .filter_map(|(name, &on)| on.then_some(name.as_str()))
        .collect();
    // Formatting a label takes longer than judging a row: once per snapshot.
    let labels: Vec<String> = (0..history.len()).map(|i| history.label(i)).collect();
    denied.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let denied = denied
        .chunk_by(|a, b| a.0 == b.0)
        .map(|group| {
            let ((user, route, verdict, reason, policy, condition, at, via_console), first) =
                &group[0];
            // Added up by reference; only the kept samples are copied.
            let mut sum = RowSum::of(first);
            for (_, other) in &group[1..] {
                sum.add(other);
            }
            let cell = sum.to_cell();
            DeniedCall {
                user: (*user).to_owned(),
                route: *route,
                verdict: *verdict,
                reason,
                policy: policy.as_deref().map(str::to_owned),
                condition: condition.clone(),
                snapshot: labels[*at].clone(),
                source: via_console.then_some("console"),
                cell,
            }
        })
        .collect();

    let codes = catalog.permissions();
    let mut group_permissions = Vec::new();
    let mut groups = Vec::new();
    let mut unused = Vec::new();
    for (gi, group) in snapshot.groups.iter().enumerate() {
        let members: Vec<&str> = group
            .members
            .iter()
            .map(|&u| snapshot.users[u].name.as_str())
            .collect();
        let mut summary = GroupSummary {
            group: gi,
            members: members.len() as u32,
            active_members: members.iter().filter(|m| active.contains(**m)).count() as u32,
            granted: 0,
            used: 0,
            unused: 0,
            unobservable: 0,
            denied: 0,
            unused_ratio: 0.0,
            unused_permissions: Vec::new(),
        };
        for grant in snapshot.grants(&group.policies, codes) {
            let granted_by: Vec<String> = grant
                .policies
                .iter()
                .map(|&p| snapshot.policies[p].name.clone())
                .collect();
            let uses: Vec<i64> = members
                .iter()
                .filter_map(|m| used.get(&(*m, grant.permission.as_str())).copied())
                .collect();
            let state = if !grant.observable {
                GrantState::Unobservable
            } else if grant.denied {
                GrantState::Denied
            } else if !uses.is_empty() {
                GrantState::Used
            } else {
                GrantState::Unused
            };
            summary.granted += 1;
            let earlier_use = || {
                members
                    .iter()
                    .filter_map(|m| {
                        earlier
                            .get(&((*m).to_owned(), grant.permission.clone()))
                            .copied()
                    })
                    .max()
            };
            let last_used = uses.iter().copied().max().or_else(earlier_use);
            match state {
                GrantState::Used => summary.used += 1,
                GrantState::Unused => {
                    summary.unused += 1;
                    summary.unused_permissions.push(grant.permission.clone());
                    for p in &granted_by {
                        unused.push(UnusedPermission {
                            principal_type: "group",
                            principal: group.name.clone(),
                            permission: grant.permission.clone(),
                            granted_by: p.clone(),
                            last_used,
                        });
                    }
                }
                GrantState::Unobservable => summary.unobservable += 1,
                GrantState::Denied => summary.denied += 1,
            }
            group_permissions.push(GroupPermission {
                group: gi,
                permission: grant.permission,
                granted_by,
                state,
                last_used,
                users_used: uses.len() as u32,
                conditional: grant.conditional,
            });
        }
        let observable = summary.used + summary.unused;
        summary.unused_ratio = if observable == 0 {
            0.0
        } else {
            f64::from(summary.unused) / f64::from(observable)
        };
        groups.push(summary);
    }
    // Direct attachments: per user.
    for user in &snapshot.users {
        for grant in snapshot.grants(&user.policies, codes) {
            if grant.observable
                && !grant.denied
                && !used.contains_key(&(user.name.as_str(), grant.permission.as_str()))
            {
                for &p in &grant.policies {
                    unused.push(UnusedPermission {
                        principal_type: "user",
                        principal: user.name.clone(),
                        permission: grant.permission.clone(),
                        granted_by: snapshot.policies[p].name.clone(),
                        last_used: earlier
                            .get(&(user.name.clone(), grant.permission.clone()))
                            .copied(),
                    });
                }
            }
        }
    }
    groups.sort_by(|a, b| {
        b.unused
            .cmp(&a.unused)
            .then(b.unused_ratio.total_cmp(&a.unused_ratio))
            .then_with(|| {
                snapshot.groups[a.group]
                    .name
                    .cmp(&snapshot.groups[b.group].name)
            })
    });

    let window_days = window.days();
    let (recommendations, policies) = recommend::recommend(
        snapshot,
        catalog,
        &group_permissions,
        &groups,
        &active,
        &used_by_group(snapshot, &used),
        window,
        window_days < f64::from(min_days),
    );
    Findings {
        denied,
        group_permissions,
        groups,
        unused,
        recommendations,
        policies,
        window_days,
        before_first_snapshot,
    }
}

/// For each group, the catalog codes its members used.
fn used_by_group(snapshot: &Snapshot, used: &FastMap<(&str, &str), i64>) -> Vec<BTreeSet<String>> {
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
