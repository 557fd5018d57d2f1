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

mod denied;
pub mod excepted;
mod groups;
mod recommend;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::aggregate::{Cell, Stats};
use crate::catalog::{Catalog, RouteId};
use crate::policy::History;

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
    /// The row's counts and evidence (its requests per day are in
    /// [`Findings::denied_per_day`], not here).
    pub cell: Cell,
}

/// One row of `denied_per_day`: the requests of the denied-calls rows of one verdict and
/// reason on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedDay {
    /// Days since the epoch (UTC).
    pub day: i32,
    pub verdict: Verdict,
    pub reason: &'static str,
    pub count: u64,
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
    /// The requests of `denied` per day, verdict and reason, in that order.
    pub denied_per_day: Vec<DeniedDay>,
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
    /// The rows accepted exceptions cover (`--exceptions`; empty without).
    pub excepted: excepted::Excepted,
    /// What the exceptions did, with `--exceptions`.
    pub excepted_report: Option<excepted::ExceptionReport>,
}

impl Findings {
    pub fn over_privileged(&self) -> impl Iterator<Item = &GroupSummary> {
        self.groups.iter().filter(|g| g.unused > 0)
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.denied.iter().filter(|d| d.verdict == verdict).count()
    }

    /// Denied calls of `verdict` no exception covers.
    pub fn count_open(&self, verdict: Verdict) -> usize {
        (self.denied.iter().enumerate())
            .filter(|(i, d)| d.verdict == verdict && self.excepted.denied(*i).is_none())
            .count()
    }

    /// Over-privileged groups with an unused grant no exception covers.
    pub fn over_privileged_open(&self) -> impl Iterator<Item = &GroupSummary> {
        (self.groups.iter().enumerate())
            .filter(|(i, g)| g.unused > self.excepted.group_unused(*i))
            .map(|(_, g)| g)
    }

    /// Unused permissions no exception covers.
    pub fn unused_open(&self) -> usize {
        (0..self.unused.len())
            .filter(|&i| self.excepted.unused(i).is_none())
            .count()
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

/// Computes every finding. `stats` are the merged aggregates of the window; each row is
/// judged by the snapshot in force at its earliest request, group findings by the latest.
pub fn compute(
    stats: &Stats,
    catalog: &Catalog,
    history: &History,
    window: Window,
    min_days: u32,
    earlier: &EarlierUses,
) -> Findings {
    let snapshot = history.latest();
    let names = denied::user_names(stats);
    let judged = denied::judge_rows(stats, &names, catalog, history);
    let groups::GroupFindings {
        permissions: group_permissions,
        summaries: groups,
        unused,
    } = groups::group_findings(&groups::Evidence {
        snapshot,
        codes: catalog.permissions(),
        used: &judged.used,
        active: &judged.active,
        earlier,
    });
    let window_days = window.days();
    let (recommendations, policies) = recommend::recommend(
        snapshot,
        catalog,
        &group_permissions,
        &groups,
        &judged.active,
        &groups::used_by_group(snapshot, &judged.used),
        window,
        window_days < f64::from(min_days),
    );
    Findings {
        denied_per_day: judged.per_day,
        denied: denied::denied_calls(judged.rows, history),
        group_permissions,
        groups,
        unused,
        recommendations,
        policies,
        window_days,
        before_first_snapshot: judged.before_first_snapshot,
        excepted: Default::default(),
        excepted_report: None,
    }
}
