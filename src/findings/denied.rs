//! Judging every usage row against the snapshot in force at its earliest request: the rows of
//! the denied-calls table with their verdicts, and what the rows say about the users (who made
//! a successful call needing which code, and who made any request at all).
//!
//! Rows never straddle a snapshot change (`taken_at` times are context-class thresholds), so
//! one decision per row is exact.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

/// For the per-row lookups of the judging loop (SipHash showed in its profile).
use foldhash::HashMap as FastMap;

use super::{DeniedCall, DeniedDay, Verdict};
use crate::aggregate::{Cell, RowSum, Stats, StatusClass, UsageKey};
use crate::catalog::{Catalog, RouteId};
use crate::policy::{Decision, Effect, History, Outcome as Judgement, Reason, Snapshot, Truth};

/// (user, permission code) -> the last successful use in the window. Keys borrow the user
/// names and the catalog's codes: no allocation per usage row.
pub(super) type Used<'a> = FastMap<(&'a str, &'a str), i64>;

/// Names of the users with a request in the window, whatever its status.
pub(super) type Active<'a> = HashSet<&'a str>;

/// user, route, verdict, reason, deciding policy, condition, judging snapshot, console.
/// Field order is the order of the denied-calls table.
pub(super) type DeniedKey<'a> = (
    &'a str,
    RouteId,
    Verdict,
    &'static str,
    Option<Cow<'a, str>>,
    Option<String>,
    usize,
    bool,
);

/// Gateway access-control codes: the gateway refused the call, not IAM.
const GATEWAY_ACL: [&str; 3] = ["APIG.0302", "APIG.0304", "APIG.0306"];

/// What judging every usage row yields.
pub(super) struct Judged<'a> {
    /// Rows of the denied-calls table, one per usage row that has a verdict; rows with equal
    /// keys are added up by [`denied_calls`].
    pub rows: Vec<(DeniedKey<'a>, &'a Cell)>,
    pub used: Used<'a>,
    pub active: Active<'a>,
    /// Requests older than every snapshot (judged by the earliest), with several snapshots.
    pub before_first_snapshot: u64,
    /// Requests of the denied-calls rows per UTC day, verdict and reason, in that order.
    pub per_day: Vec<DeniedDay>,
}

/// Decisions, computed once per (snapshot, user, code), or per (snapshot, user, code,
/// context class) when a condition depends on the request's time or client IP. Keys are
/// interned user ids and borrowed codes: no allocation per usage row.
struct Judge<'a> {
    history: &'a History,
    depends: FastMap<(usize, u32, &'a str), bool>,
    cache: FastMap<(usize, u32, &'a str, Option<u32>), Decision>,
}

impl<'a> Judge<'a> {
    fn new(history: &'a History) -> Judge<'a> {
        Judge {
            history,
            depends: FastMap::default(),
            cache: FastMap::default(),
        }
    }

    /// The decision of snapshot `at` on `user` calling `code`, for the row `k` whose
    /// requests `cell` counts: judged at the row's earliest request and client address.
    fn decide(
        &mut self,
        at: usize,
        user: &str,
        code: &'a str,
        k: &UsageKey,
        cell: &Cell,
    ) -> &Decision {
        let snapshot = &self.history.snapshots[at];
        let per_request = *self
            .depends
            .entry((at, k.user, code))
            .or_insert_with(|| snapshot.depends_on_request(user, code));
        let key = (at, k.user, code, per_request.then_some(k.context));
        self.cache.entry(key).or_insert_with(|| {
            let t = jiff::Timestamp::from_microsecond(cell.first_seen).ok();
            snapshot.decide(user, code, t, cell.source_ip.map(|(_, ip)| ip))
        })
    }
}

/// Every interned user name of `stats`, indexed by id: the judging loop borrows them.
pub(super) fn user_names(stats: &Stats) -> Vec<String> {
    (0..stats.users.len() as u32)
        .map(|u| stats.users.text(u))
        .collect()
}

/// Judges every usage row of `stats`; `names` are [`user_names`] of `stats`. Only allowed
/// (2xx/3xx) and denied (403) rows are judged, but a row of any status makes its user active.
pub(super) fn judge_rows<'a>(
    stats: &'a Stats,
    names: &'a [String],
    catalog: &'a Catalog,
    history: &'a History,
) -> Judged<'a> {
    let mut judge = Judge::new(history);
    let mut rows = Vec::new();
    let mut used = Used::default();
    // Users with a request, by interned id; their names are collected once at the end (a set
    // of names took a SipHash of the name per row).
    let mut active_ids = vec![false; names.len()];
    let mut before_first_snapshot = 0u64;
    let console = stats.codes.find(b"console");
    let days = stats.day_index();
    let mut per_day: BTreeMap<(i32, Verdict, &'static str), u64> = BTreeMap::new();
    for (k, cell) in &stats.usage {
        let user = names[k.user as usize].as_str();
        active_ids[k.user as usize] = true;
        let status = StatusClass::of_status(k.status);
        if !matches!(status, StatusClass::Allowed | StatusClass::Denied) {
            continue;
        }
        let route = catalog.route(k.route);
        let code = route.permission.as_str();
        if history.predates(cell.first_seen) {
            before_first_snapshot += cell.count;
        }
        let at = history.at(cell.first_seen);
        let d = judge.decide(at, user, code, k, cell);
        // A success uses the code; where the code only filters the response, only a caller
        // who held it used it (the others got the answer without the filtered part).
        if status == StatusClass::Allowed
            && (!route.response_filtering || d.outcome != Judgement::Deny)
        {
            let e = used.entry((user, code)).or_insert(cell.last_seen);
            *e = (*e).max(cell.last_seen);
        }
        let error_code = stats.codes.get(k.error_code);
        let judged = if route.response_filtering {
            filtering_verdict(status, error_code)
        } else {
            verdict(status, d.outcome, d.reason, error_code)
        };
        let Some((verdict, reason)) = judged else {
            continue;
        };
        let (policy, condition) = match verdict {
            Verdict::ObservedOnly => (None, None),
            _ => blame(d, &history.snapshots[at]),
        };
        for (day, n) in days.days(k, cell) {
            *per_day.entry((day, verdict, reason)).or_insert(0) += n;
        }
        let via_console = console == Some(k.source);
        let key = (
            user,
            k.route,
            verdict,
            reason,
            policy,
            condition,
            at,
            via_console,
        );
        rows.push((key, cell));
    }
    let active = names
        .iter()
        .zip(&active_ids)
        .filter_map(|(name, &on)| on.then_some(name.as_str()))
        .collect();
    Judged {
        rows,
        used,
        active,
        before_first_snapshot,
        per_day: per_day
            .into_iter()
            .map(|((day, verdict, reason), count)| DeniedDay {
                day,
                verdict,
                reason,
                count,
            })
            .collect(),
    }
}

/// How a row's status and the snapshot's decision compare, with the reason the table shows;
/// `None` when they agree. A success under a condition the snapshot cannot decide proves the
/// condition held: no finding. A 403 the snapshot would allow is `gateway_acl` when the
/// gateway's own access control answered (`error_code`), else `unexplained`.
pub(super) fn verdict(
    status: StatusClass,
    judgement: Judgement,
    reason: Option<Reason>,
    error_code: &[u8],
) -> Option<(Verdict, &'static str)> {
    let policy_reason = || reason.map_or("not_granted", Reason::as_str);
    match (status, judgement) {
        (StatusClass::Denied, Judgement::Deny | Judgement::Undecided) => {
            Some((Verdict::Confirmed, policy_reason()))
        }
        (StatusClass::Denied, Judgement::Allow) => {
            let acl = GATEWAY_ACL.iter().any(|c| c.as_bytes() == error_code);
            Some((
                Verdict::ObservedOnly,
                if acl { "gateway_acl" } else { "unexplained" },
            ))
        }
        (StatusClass::Allowed, Judgement::Deny) => Some((Verdict::PredictedOnly, policy_reason())),
        _ => None,
    }
}

/// [`verdict`] for a route whose code only filters the response: the code's absence never
/// causes a 403 and a success without it is no drift, so only a 403 has a verdict, and the
/// snapshot cannot explain it (the gateway's access control, or unexplained).
pub(super) fn filtering_verdict(
    status: StatusClass,
    error_code: &[u8],
) -> Option<(Verdict, &'static str)> {
    (status == StatusClass::Denied).then(|| {
        let acl = GATEWAY_ACL.iter().any(|c| c.as_bytes() == error_code);
        (
            Verdict::ObservedOnly,
            if acl { "gateway_acl" } else { "unexplained" },
        )
    })
}

/// The policy and the condition a denial the snapshot explains names. Where several policies
/// deny, a user fixing the denial must see all of them (`A;B`, in match order); otherwise the
/// deciding statement's policy, if a statement decided.
fn blame<'a>(d: &Decision, judged_by: &'a Snapshot) -> (Option<Cow<'a, str>>, Option<String>) {
    let deciding = d.deciding_statement();
    let mut denying: Vec<&str> = Vec::new();
    if d.reason == Some(Reason::ExplicitDeny) {
        for m in &d.matched {
            let name = judged_by.policies[m.policy].name.as_str();
            if m.effect == Effect::Deny
                && !m.role
                && m.truth == Truth::Met
                && !denying.contains(&name)
            {
                denying.push(name);
            }
        }
    }
    let policy = if denying.len() > 1 {
        Some(denying.join(";").into())
    } else {
        deciding.map(|m| judged_by.policies[m.policy].name.as_str().into())
    };
    (policy, deciding.and_then(|m| m.condition.clone()))
}

/// The denied-calls table: the rows of equal keys added up, in key order, each naming the
/// snapshot that judged it.
pub(super) fn denied_calls(
    mut rows: Vec<(DeniedKey<'_>, &Cell)>,
    history: &History,
) -> Vec<DeniedCall> {
    // Labels are formatted once per snapshot, not once per row.
    let labels: Vec<String> = (0..history.len()).map(|i| history.label(i)).collect();
    // Sorting borrowed keys, then grouping equal neighbours: a map of owned keys copied the
    // key and the cell per insert.
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    rows.chunk_by(|a, b| a.0 == b.0)
        .map(|group| {
            let ((user, route, verdict, reason, policy, condition, at, via_console), first) =
                &group[0];
            // Added up by reference; only the kept samples are copied.
            let mut sum = RowSum::of(first);
            for (_, other) in &group[1..] {
                sum.add(other);
            }
            DeniedCall {
                user: (*user).to_owned(),
                route: *route,
                verdict: *verdict,
                reason,
                policy: policy.as_deref().map(str::to_owned),
                condition: condition.clone(),
                snapshot: labels[*at].clone(),
                source: via_console.then_some("console"),
                cell: sum.to_cell(),
            }
        })
        .collect()
}
