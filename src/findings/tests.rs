//! Table-driven cases for the findings: a tiny snapshot, usage rows inserted straight into a
//! `Stats`, and the embedded catalog. Each table row is one case; the fixture is small enough
//! that every expected value can be checked by hand against it.

use serde_json::json;

use super::denied::verdict;
use super::groups::{grant_state, unused_ratio};
use super::recommend::confidence;
use super::*;
use crate::aggregate::{StatusClass, UsageKey};
use crate::parse::time::format_micros;
use crate::policy::{Outcome as Judgement, Reason, Snapshot};

/// Every kind of grant, once: used, unused (with and without an earlier use), unobservable,
/// denied by the group's own policy, conditional, a wildcard, a role, a direct attachment.
const SNAPSHOT: &str = r#"{
  "taken_at": "2026-11-27T00:00:00Z",
  "users": [
    {"name": "alice"}, {"name": "bob"}, {"name": "carol"},
    {"name": "dave", "policies": ["NoPayEither"]}, {"name": "erin"},
    {"name": "frank", "enabled": false}, {"name": "hank", "policies": ["HankCost"]},
    {"name": "ivan"}, {"name": "kim"}, {"name": "rita"}
  ],
  "groups": [
    {"name": "viewers", "members": ["alice", "bob", "frank", "kim"], "policies": ["View"]},
    {"name": "buyers", "members": ["alice", "carol", "dave"], "policies": ["OrdersFull", "NoPay"]},
    {"name": "mfa", "members": ["erin"], "policies": ["MfaOrders"]},
    {"name": "details", "members": ["bob"], "policies": ["DetailAll"]},
    {"name": "idle", "members": ["ivan"], "policies": ["Coupons"]},
    {"name": "legacy", "members": ["rita"], "policies": ["BSS Administrator"]}
  ],
  "policies": [
    {"name": "View", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:order:view", "bss:bill:view", "bss:contract:*"]}]}},
    {"name": "OrdersFull", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:order:*"]}]}},
    {"name": "NoPay", "document": {"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["bss:order:pay"]}]}},
    {"name": "NoPayEither", "document": {"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["bss:order:pay"]}]}},
    {"name": "MfaOrders", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:order:*"], "Condition": {"Bool": {"g:MFAPresent": ["true"]}}}]}},
    {"name": "DetailAll", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:billDetail:*"]}]}},
    {"name": "Coupons", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:coupon:view"]}]}},
    {"name": "HankCost", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:costanalysis:view", "bss:balance:view"]}]}},
    {"name": "BSS Administrator", "document": {"Version": "1.0", "Statement": [{"Effect": "Allow", "Action": ["bss:*:*"]}]}}
  ]
}"#;

const LABEL: &str = "fixture.json@2026-11-27T00:00:00Z";
const START: &str = "2026-11-01T00:00:00Z";
const END: &str = "2026-11-27T00:00:00Z";
const D20: &str = "2026-11-20T10:00:00Z";
const D21: &str = "2026-11-21T10:00:00Z";
/// Before the window: what `--state` remembers.
const OCT: &str = "2026-10-05T08:00:00Z";

fn micros(t: &str) -> i64 {
    t.parse::<jiff::Timestamp>().unwrap().as_microsecond()
}

/// One usage row, as the scan would have aggregated it.
#[derive(Debug, Clone)]
struct Row {
    user: &'static str,
    code: &'static str,
    status: u16,
    error: &'static str,
    source: &'static str,
    context: u32,
    count: u64,
    first: &'static str,
    last: &'static str,
}

fn row(user: &'static str, code: &'static str, status: u16) -> Row {
    Row {
        user,
        code,
        status,
        error: "",
        source: "",
        context: 0,
        count: 1,
        first: D20,
        last: D20,
    }
}

impl Row {
    fn error(self, error: &'static str) -> Row {
        Row { error, ..self }
    }
    fn source(self, source: &'static str) -> Row {
        Row { source, ..self }
    }
    fn context(self, context: u32) -> Row {
        Row { context, ..self }
    }
    fn count(self, count: u64) -> Row {
        Row { count, ..self }
    }
    fn seen(self, first: &'static str, last: &'static str) -> Row {
        Row {
            first,
            last,
            ..self
        }
    }
}

/// The first catalog route that needs `code`.
fn route_of(catalog: &Catalog, code: &str) -> RouteId {
    let i = catalog.routes().iter().position(|r| r.permission == code);
    RouteId::try_from(i.unwrap_or_else(|| panic!("no route needs {code}"))).unwrap()
}

fn stats(catalog: &Catalog, rows: &[Row]) -> Stats {
    let mut s: Stats = Stats::default();
    for r in rows {
        let key = UsageKey {
            user: s.users.intern(r.user.as_bytes()),
            route: route_of(catalog, r.code),
            status: r.status,
            error_code: s.codes.intern(r.error.as_bytes()),
            source: s.codes.intern(r.source.as_bytes()),
            context: r.context,
        };
        let cell = Cell::stored(r.count, micros(r.first), micros(r.last), Vec::new(), None);
        assert!(
            s.usage.insert(key, cell).is_none(),
            "two rows with one key: {r:?}"
        );
    }
    s
}

/// The fixture's usage: one row per case of the tables below.
fn rows() -> Vec<Row> {
    vec![
        row("alice", "bss:order:view", 200).count(4).seen(D20, D21),
        row("alice", "bss:order:view", 403).error("APIG.0302"),
        row("alice", "bss:bill:view", 403).error("CBC.0151"),
        // Two rows of one denied call (error codes are not in its key): added up.
        row("bob", "bss:order:pay", 403).count(2),
        row("bob", "bss:order:pay", 403)
            .error("CBC.0151")
            .count(3)
            .seen(D21, D21),
        row("bob", "bss:order:pay", 403).source("console"),
        row("bob", "bss:order:update", 200),
        row("bob", "bss:billDetail:view", 200),
        row("carol", "bss:order:view", 200).seen(D20, D20),
        row("carol", "bss:order:pay", 403),
        row("dave", "bss:order:pay", 403),
        row("erin", "bss:order:view", 403),
        row("erin", "bss:order:view", 200),
        row("hank", "bss:costanalysis:view", 200),
        // Not judged, but kim is active.
        row("kim", "bss:order:view", 404),
        row("rita", "bss:order:view", 403),
        row("zed", "bss:order:view", 403),
    ]
}

fn earlier() -> EarlierUses {
    [
        (("bob", "bss:bill:view"), OCT),
        (("hank", "bss:balance:view"), OCT),
        // zed is in no group: his earlier use is no member's.
        (("zed", "bss:order:update"), OCT),
    ]
    .into_iter()
    .map(|((u, c), t)| ((u.to_owned(), c.to_owned()), micros(t)))
    .collect()
}

fn window() -> Window {
    Window {
        start: micros(START),
        end: micros(END),
    }
}

fn findings_with(min_days: u32) -> (Findings, Snapshot) {
    let catalog = Catalog::embedded();
    let snapshot = Snapshot::from_json(SNAPSHOT, "fixture.json").unwrap();
    let history = History::new(vec![snapshot.clone()]).unwrap();
    let stats = stats(&catalog, &rows());
    let f = compute(&stats, &catalog, &history, window(), min_days, &earlier());
    (f, snapshot)
}

fn findings() -> (Findings, Snapshot) {
    findings_with(7)
}

/// (user, permission, verdict, reason, policy, condition, source, count).
type DeniedRow = (
    &'static str,
    &'static str,
    Verdict,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    u64,
);

const DENIED: &[DeniedRow] = &[
    // The snapshot allows it, the gateway's access control refused it.
    (
        "alice",
        "bss:order:view",
        Verdict::ObservedOnly,
        "gateway_acl",
        None,
        None,
        None,
        1,
    ),
    // The snapshot allows it, nothing explains the 403.
    (
        "alice",
        "bss:bill:view",
        Verdict::ObservedOnly,
        "unexplained",
        None,
        None,
        None,
        1,
    ),
    (
        "bob",
        "bss:order:pay",
        Verdict::Confirmed,
        "not_granted",
        None,
        None,
        None,
        5,
    ),
    // Console use is its own row.
    (
        "bob",
        "bss:order:pay",
        Verdict::Confirmed,
        "not_granted",
        None,
        None,
        Some("console"),
        1,
    ),
    // A success the snapshot denies.
    (
        "bob",
        "bss:order:update",
        Verdict::PredictedOnly,
        "not_granted",
        None,
        None,
        None,
        1,
    ),
    (
        "carol",
        "bss:order:pay",
        Verdict::Confirmed,
        "explicit_deny",
        Some("NoPay"),
        None,
        None,
        1,
    ),
    // Several denying policies are all named, in match order (groups, then the user's own).
    (
        "dave",
        "bss:order:pay",
        Verdict::Confirmed,
        "explicit_deny",
        Some("NoPay;NoPayEither"),
        None,
        None,
        1,
    ),
    // A 403 under an undecidable condition is confirmed; erin's success is no finding.
    (
        "erin",
        "bss:order:view",
        Verdict::Confirmed,
        "condition_undecided",
        Some("MfaOrders"),
        Some(r#"Bool g:MFAPresent ["true"]"#),
        None,
        1,
    ),
    (
        "rita",
        "bss:order:view",
        Verdict::Confirmed,
        "role_only",
        Some("BSS Administrator"),
        None,
        None,
        1,
    ),
    (
        "zed",
        "bss:order:view",
        Verdict::Confirmed,
        "unknown_user",
        None,
        None,
        None,
        1,
    ),
];

#[test]
fn each_denied_call_has_its_verdict_reason_and_policy() {
    let (f, _) = findings();
    let catalog = Catalog::embedded();
    let mut got: Vec<_> = f
        .denied
        .iter()
        .map(|d| {
            (
                d.user.clone(),
                catalog.route(d.route).permission.clone(),
                d.verdict,
                d.reason,
                d.policy.clone(),
                d.condition.clone(),
                d.source,
                d.cell.count,
            )
        })
        .collect();
    let mut want: Vec<_> = DENIED
        .iter()
        .map(|&(u, c, v, r, p, cond, src, n)| {
            (
                u.to_owned(),
                c.to_owned(),
                v,
                r,
                p.map(str::to_owned),
                cond.map(str::to_owned),
                src,
                n,
            )
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert!(f.denied.iter().all(|d| d.snapshot == LABEL));
    assert_eq!(f.count(Verdict::Confirmed), 7);
    assert_eq!(f.count(Verdict::PredictedOnly), 1);
    assert_eq!(f.count(Verdict::ObservedOnly), 2);
    assert_eq!(f.before_first_snapshot, 0);
}

#[test]
fn rows_of_one_denied_call_add_up_their_time_range() {
    let (f, _) = findings();
    let bob: Vec<&DeniedCall> = f
        .denied
        .iter()
        .filter(|d| d.user == "bob" && d.source.is_none() && d.verdict == Verdict::Confirmed)
        .collect();
    assert_eq!(bob.len(), 1);
    assert_eq!(
        (bob[0].cell.first_seen, bob[0].cell.last_seen),
        (micros(D20), micros(D21))
    );
}

/// (status, snapshot outcome, snapshot reason, error code, expected verdict and reason).
type VerdictCase = (
    u16,
    Judgement,
    Option<Reason>,
    &'static str,
    Option<(Verdict, &'static str)>,
);

const VERDICTS: &[VerdictCase] = &[
    (
        403,
        Judgement::Deny,
        Some(Reason::ExplicitDeny),
        "",
        Some((Verdict::Confirmed, "explicit_deny")),
    ),
    (
        403,
        Judgement::Undecided,
        Some(Reason::ConditionUndecided),
        "",
        Some((Verdict::Confirmed, "condition_undecided")),
    ),
    // A denial without a reason reads as not granted.
    (
        403,
        Judgement::Deny,
        None,
        "",
        Some((Verdict::Confirmed, "not_granted")),
    ),
    (
        403,
        Judgement::Allow,
        None,
        "APIG.0302",
        Some((Verdict::ObservedOnly, "gateway_acl")),
    ),
    (
        403,
        Judgement::Allow,
        None,
        "APIG.0304",
        Some((Verdict::ObservedOnly, "gateway_acl")),
    ),
    (
        403,
        Judgement::Allow,
        None,
        "APIG.0306",
        Some((Verdict::ObservedOnly, "gateway_acl")),
    ),
    (
        403,
        Judgement::Allow,
        None,
        "APIG.0303",
        Some((Verdict::ObservedOnly, "unexplained")),
    ),
    (
        403,
        Judgement::Allow,
        None,
        "",
        Some((Verdict::ObservedOnly, "unexplained")),
    ),
    (
        200,
        Judgement::Deny,
        Some(Reason::ConditionUnmet),
        "",
        Some((Verdict::PredictedOnly, "condition_unmet")),
    ),
    (
        304,
        Judgement::Deny,
        Some(Reason::NotGranted),
        "",
        Some((Verdict::PredictedOnly, "not_granted")),
    ),
    // A success proves an undecidable condition held.
    (
        200,
        Judgement::Undecided,
        Some(Reason::ConditionUndecided),
        "",
        None,
    ),
    (200, Judgement::Allow, None, "", None),
    // Only 403 is a permission denial.
    (401, Judgement::Deny, Some(Reason::NotGranted), "", None),
    (429, Judgement::Deny, Some(Reason::NotGranted), "", None),
    (500, Judgement::Allow, None, "", None),
];

#[test]
fn verdict_compares_the_status_with_the_decision() {
    for &(status, judgement, reason, error, want) in VERDICTS {
        let got = verdict(
            StatusClass::of_status(status),
            judgement,
            reason,
            error.as_bytes(),
        );
        assert_eq!(got, want, "{status} {judgement:?} {reason:?} {error:?}");
    }
}

/// (group, permission, state, users who used it, last use, conditional, granted by).
type GrantRow = (
    &'static str,
    &'static str,
    GrantState,
    u32,
    Option<&'static str>,
    bool,
    &'static [&'static str],
);

const GRANTS: &[GrantRow] = &[
    // bob's 403 is no use; his use before the window is the last one.
    (
        "viewers",
        "bss:bill:view",
        GrantState::Unused,
        0,
        Some(OCT),
        false,
        &["View"],
    ),
    // Covers no catalog code: reported as written.
    (
        "viewers",
        "bss:contract:*",
        GrantState::Unobservable,
        0,
        None,
        false,
        &["View"],
    ),
    // kim's 404 is no use.
    (
        "viewers",
        "bss:order:view",
        GrantState::Used,
        1,
        Some(D21),
        false,
        &["View"],
    ),
    // The group's own policy denies it without a condition.
    (
        "buyers",
        "bss:order:pay",
        GrantState::Denied,
        0,
        None,
        false,
        &["OrdersFull"],
    ),
    // zed's earlier use is not a member's.
    (
        "buyers",
        "bss:order:update",
        GrantState::Unused,
        0,
        None,
        false,
        &["OrdersFull"],
    ),
    // alice's use counts here as well as in viewers.
    (
        "buyers",
        "bss:order:view",
        GrantState::Used,
        2,
        Some(D21),
        false,
        &["OrdersFull"],
    ),
    (
        "mfa",
        "bss:order:pay",
        GrantState::Unused,
        0,
        None,
        true,
        &["MfaOrders"],
    ),
    (
        "mfa",
        "bss:order:update",
        GrantState::Unused,
        0,
        None,
        true,
        &["MfaOrders"],
    ),
    // A conditional allow counts as granted; the success proves the condition held.
    (
        "mfa",
        "bss:order:view",
        GrantState::Used,
        1,
        Some(D20),
        true,
        &["MfaOrders"],
    ),
    (
        "details",
        "bss:billDetail:view",
        GrantState::Used,
        1,
        Some(D20),
        false,
        &["DetailAll"],
    ),
    (
        "idle",
        "bss:coupon:view",
        GrantState::Unused,
        0,
        None,
        false,
        &["Coupons"],
    ),
    // legacy's role grants nothing: no row.
];

#[test]
fn each_group_permission_has_its_state() {
    let (f, snapshot) = findings();
    let got: Vec<_> = f
        .group_permissions
        .iter()
        .map(|p| {
            (
                snapshot.groups[p.group].name.clone(),
                p.permission.clone(),
                p.state,
                p.users_used,
                p.last_used,
                p.conditional,
                p.granted_by.clone(),
            )
        })
        .collect();
    let want: Vec<_> = GRANTS
        .iter()
        .map(|&(g, c, state, n, last, cond, by)| {
            (
                g.to_owned(),
                c.to_owned(),
                state,
                n,
                last.map(micros),
                cond,
                by.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn grant_state_precedence() {
    // (observable, denied by the group, used by a member, state).
    let cases = [
        (false, false, false, GrantState::Unobservable),
        (false, false, true, GrantState::Unobservable),
        (true, true, false, GrantState::Denied),
        (true, true, true, GrantState::Denied),
        (true, false, true, GrantState::Used),
        (true, false, false, GrantState::Unused),
    ];
    for (observable, denied, used, want) in cases {
        assert_eq!(
            grant_state(observable, denied, used),
            want,
            "{observable} {denied} {used}"
        );
    }
}

/// (group, members, active, granted, used, unused, unobservable, denied, ratio, unused codes).
type SummaryRow = (
    &'static str,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    f64,
    &'static [&'static str],
);

/// In report order: most unused first, then the highest ratio, then by name.
const SUMMARIES: &[SummaryRow] = &[
    (
        "mfa",
        1,
        1,
        3,
        1,
        2,
        0,
        0,
        2.0 / 3.0,
        &["bss:order:pay", "bss:order:update"],
    ),
    // No active member.
    ("idle", 1, 0, 1, 0, 1, 0, 0, 1.0, &["bss:coupon:view"]),
    // A denied grant is neither used nor unused.
    ("buyers", 3, 3, 3, 1, 1, 0, 1, 0.5, &["bss:order:update"]),
    // frank made no request; kim's 404 makes him active. Unobservable is not in the ratio.
    ("viewers", 4, 3, 3, 1, 1, 1, 0, 0.5, &["bss:bill:view"]),
    ("details", 1, 1, 1, 1, 0, 0, 0, 0.0, &[]),
    // A 403 makes rita active.
    ("legacy", 1, 1, 0, 0, 0, 0, 0, 0.0, &[]),
];

#[test]
fn group_summaries_count_states_and_sort_over_privileged_first() {
    let (f, snapshot) = findings();
    let got: Vec<_> = f
        .groups
        .iter()
        .map(|g| {
            (
                snapshot.groups[g.group].name.as_str(),
                g.members,
                g.active_members,
                g.granted,
                g.used,
                g.unused,
                g.unobservable,
                g.denied,
                g.unused_ratio,
                g.unused_permissions.clone(),
            )
        })
        .collect();
    let want: Vec<_> = SUMMARIES
        .iter()
        .map(|&(g, m, a, gr, u, un, ob, d, r, codes)| {
            let codes: Vec<String> = codes.iter().map(|s| (*s).to_owned()).collect();
            (g, m, a, gr, u, un, ob, d, r, codes)
        })
        .collect();
    assert_eq!(got, want);
    let over: Vec<&str> = f
        .over_privileged()
        .map(|g| snapshot.groups[g.group].name.as_str())
        .collect();
    assert_eq!(over, ["mfa", "idle", "buyers", "viewers"]);
}

#[test]
fn unused_ratio_leaves_out_what_cannot_be_judged() {
    for (used, unused, want) in [(0, 0, 0.0), (3, 0, 0.0), (1, 1, 0.5), (0, 2, 1.0)] {
        assert_eq!(unused_ratio(used, unused), want, "{used} {unused}");
    }
}

/// (principal type, principal, permission, granting policy, last use before the window).
const UNUSED: &[(&str, &str, &str, &str, Option<&str>)] = &[
    ("group", "viewers", "bss:bill:view", "View", Some(OCT)),
    ("group", "buyers", "bss:order:update", "OrdersFull", None),
    ("group", "mfa", "bss:order:pay", "MfaOrders", None),
    ("group", "mfa", "bss:order:update", "MfaOrders", None),
    ("group", "idle", "bss:coupon:view", "Coupons", None),
    // A direct attachment: only hank's own use counts, and costanalysis was used.
    ("user", "hank", "bss:balance:view", "HankCost", Some(OCT)),
];

#[test]
fn unused_permissions_of_groups_then_users_with_earlier_uses() {
    let (f, _) = findings();
    let got: Vec<_> = f
        .unused
        .iter()
        .map(|u| {
            (
                u.principal_type,
                u.principal.as_str(),
                u.permission.as_str(),
                u.granted_by.as_str(),
                u.last_used,
            )
        })
        .collect();
    let want: Vec<_> = UNUSED
        .iter()
        .map(|&(t, p, c, by, last)| (t, p, c, by, last.map(micros)))
        .collect();
    assert_eq!(got, want);
}

/// (group, action, target, detail; `{span}` stands for the window).
const RECOMMENDATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "viewers",
        "remove_permission",
        "bss:bill:view",
        "granted by View; no member made a successful call needing it in {span}",
    ),
    (
        "viewers",
        "review_member",
        "frank",
        "no BSS request in {span} (the user is disabled)",
    ),
    // Denied is not unused: the pay the group denies is not proposed for removal.
    (
        "buyers",
        "remove_permission",
        "bss:order:update",
        "granted by OrdersFull; no member made a successful call needing it in {span}",
    ),
    (
        "mfa",
        "remove_permission",
        "bss:order:pay",
        "granted by MfaOrders; no member made a successful call needing it in {span}",
    ),
    (
        "mfa",
        "remove_permission",
        "bss:order:update",
        "granted by MfaOrders; no member made a successful call needing it in {span}",
    ),
    // A detached policy's permissions are not listed again one by one.
    (
        "idle",
        "detach_policy",
        "Coupons",
        "none of its 1 observable permission(s) was used by a member in {span}: bss:coupon:view",
    ),
    ("idle", "review_member", "ivan", "no BSS request in {span}"),
    (
        "legacy",
        "replace_role",
        "BSS Administrator",
        "role \"BSS Administrator\" does not authorize BSS APIs (only fine-grained policies do); attach policies/legacy.json instead",
    ),
];

#[test]
fn recommendations_per_group_with_confidence() {
    let span = format!(
        "{} .. {}",
        format_micros(micros(START)),
        format_micros(micros(END))
    );
    // A long enough window: low only where no member was active.
    let (f, _) = findings_with(7);
    let got: Vec<_> = f
        .recommendations
        .iter()
        .map(|r| {
            (
                r.group.as_str(),
                r.action,
                r.target.as_str(),
                r.detail.clone(),
                r.confidence,
            )
        })
        .collect();
    let want: Vec<_> = RECOMMENDATIONS
        .iter()
        .map(|&(g, a, t, d)| {
            let conf = if g == "idle" { "low" } else { "high" };
            (g, a, t, d.replace("{span}", &span), conf)
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(f.window_days, 26.0);
    // A window shorter than --min-days: every row is low.
    let (short, _) = findings_with(30);
    assert_eq!(short.recommendations.len(), RECOMMENDATIONS.len());
    assert!(short.recommendations.iter().all(|r| r.confidence == "low"));
}

#[test]
fn confidence_needs_a_long_window_and_an_active_member() {
    for (short, active, want) in [
        (false, 2, "high"),
        (false, 0, "low"),
        (true, 2, "low"),
        (true, 0, "low"),
    ] {
        assert_eq!(confidence(short, active), want, "{short} {active}");
    }
}

/// (group, recommended policy document).
fn documents() -> Vec<(&'static str, serde_json::Value)> {
    let allow = |actions: &[&str]| json!({"Effect": "Allow", "Action": actions});
    let doc =
        |statements: Vec<serde_json::Value>| json!({"Version": "1.1", "Statement": statements});
    vec![
        // bill:view dropped; the pattern no log can judge kept as written; bob's
        // order:update not added (the group never had it).
        (
            "viewers",
            doc(vec![allow(&["bss:order:view", "bss:contract:*"])]),
        ),
        // A wildcard narrowed to the used code it covers; the Deny kept as it is.
        (
            "buyers",
            doc(vec![
                allow(&["bss:order:view"]),
                json!({"Effect": "Deny", "Action": ["bss:order:pay"]}),
            ]),
        ),
        // The condition stays on its statement.
        (
            "mfa",
            doc(vec![json!({
                "Effect": "Allow",
                "Action": ["bss:order:view"],
                "Condition": {"Bool": {"g:MFAPresent": ["true"]}}
            })]),
        ),
        // A wildcard whose every covered code was used survives.
        ("details", doc(vec![allow(&["bss:billDetail:*"])])),
        // Nothing used: no statement.
        ("idle", doc(vec![])),
        // Roles are never carried over.
        ("legacy", doc(vec![])),
    ]
}

#[test]
fn recommended_policies_keep_what_was_used_and_never_grant_more() {
    let (f, _) = findings();
    let mut want = documents();
    want.sort_by_key(|(g, _)| *g);
    let got: Vec<(&str, serde_json::Value)> = f
        .policies
        .iter()
        .map(|(g, v)| (g.as_str(), v.clone()))
        .collect();
    assert_eq!(got, want);
}

/// A snapshot of one user, bob, whose group is allowed `grants`.
fn snapshot_at(origin: &str, taken_at: &str, grants: &str) -> Snapshot {
    let text = format!(
        r#"{{"taken_at": "{taken_at}", "users": [{{"name": "bob"}}],
            "groups": [{{"name": "staff", "members": ["bob"], "policies": ["P"]}}],
            "policies": [{{"name": "P", "document": {{"Version": "1.1",
              "Statement": [{{"Effect": "Allow", "Action": ["{grants}"]}}]}}}}]}}"#
    );
    Snapshot::from_json(&text, origin).unwrap()
}

#[test]
fn each_row_is_judged_by_the_snapshot_in_force_and_groups_by_the_latest() {
    let catalog = Catalog::embedded();
    // bob may pay until the second snapshot.
    let history = History::new(vec![
        snapshot_at("new.json", "2026-11-10T00:00:00Z", "bss:order:view"),
        snapshot_at("old.json", "2026-11-01T00:00:00Z", "bss:order:pay"),
    ])
    .unwrap();
    const BEFORE: &str = "2026-10-30T00:00:00Z";
    const OLD: &str = "2026-11-05T00:00:00Z";
    const NEW: &str = "2026-11-15T00:00:00Z";
    // Rows of one key in different snapshots differ by context class, as a scan makes them.
    let rows = [
        row("bob", "bss:order:pay", 200)
            .context(0)
            .count(2)
            .seen(BEFORE, BEFORE),
        row("bob", "bss:order:pay", 403)
            .context(0)
            .seen(BEFORE, BEFORE),
        row("bob", "bss:order:pay", 200)
            .context(1)
            .count(3)
            .seen(OLD, OLD),
        row("bob", "bss:order:pay", 200)
            .context(2)
            .count(4)
            .seen(NEW, NEW),
    ];
    let stats = stats(&catalog, &rows);
    let f = compute(&stats, &catalog, &history, window(), 7, &EarlierUses::new());
    // (verdict, reason, judging snapshot, count).
    let mut got: Vec<_> = f
        .denied
        .iter()
        .map(|d| (d.verdict, d.reason, d.snapshot.as_str(), d.cell.count))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                Verdict::PredictedOnly,
                "not_granted",
                "new.json@2026-11-10T00:00:00Z",
                4
            ),
            // The old snapshot allowed paying: the 403 is not explained by it.
            (
                Verdict::ObservedOnly,
                "unexplained",
                "old.json@2026-11-01T00:00:00Z",
                1
            ),
        ]
    );
    // The allowed and denied requests older than every snapshot.
    assert_eq!(f.before_first_snapshot, 3);
    // Group findings use the latest snapshot: view is granted and unused, pay is not granted.
    let states: Vec<_> = f
        .group_permissions
        .iter()
        .map(|p| (p.permission.as_str(), p.state))
        .collect();
    assert_eq!(states, [("bss:order:view", GrantState::Unused)]);
}

/// `bss:discount:view` only filters responses (the provider's note): no drift and no use for
/// a caller without it, a 403 it cannot explain; a code that gates its API (order pay) is
/// judged as usual beside it.
#[test]
fn a_response_filtering_code_causes_no_drift_and_counts_only_held_uses() {
    let snapshot = r#"{
      "taken_at": "2026-11-27T00:00:00Z",
      "users": [{"name": "pat"}, {"name": "sam"}, {"name": "dan", "policies": ["NoDiscount"]}, {"name": "ned"}],
      "groups": [
        {"name": "pricers", "members": ["pat"], "policies": ["Discounts"]},
        {"name": "others", "members": ["sam", "dan"], "policies": ["Orders"]}
      ],
      "policies": [
        {"name": "Discounts", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:discount:view"]}]}},
        {"name": "Orders", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:order:view", "bss:discount:view"]}]}},
        {"name": "NoDiscount", "document": {"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["bss:discount:view"]}]}}
      ]
    }"#;
    let catalog = Catalog::embedded();
    let route = |m: &str, p: &str| -> RouteId {
        let i = catalog
            .routes()
            .iter()
            .position(|r| r.method.as_str() == m && r.template.to_string() == p);
        RouteId::try_from(i.unwrap()).unwrap()
    };
    let rating = route("POST", "/v2/bills/ratings/on-demand-resources");
    let discounts = route("GET", "/v2/orders/customer-orders/order-discounts");
    let pay = route("POST", "/v3/orders/customer-orders/pay");
    assert!(catalog.route(rating).response_filtering);
    assert!(catalog.route(discounts).response_filtering);
    assert!(!catalog.route(pay).response_filtering);
    let snapshot = Snapshot::from_json(snapshot, "fixture.json").unwrap();
    let history = History::new(vec![snapshot.clone()]).unwrap();
    let mut s: Stats = Stats::default();
    let mut add = |user: &str, route: RouteId, status: u16, error: &str| {
        let key = UsageKey {
            user: s.users.intern(user.as_bytes()),
            route,
            status,
            error_code: s.codes.intern(error.as_bytes()),
            source: s.codes.intern(b""),
            context: 0,
        };
        s.usage.insert(
            key,
            Cell::stored(1, micros(D20), micros(D20), Vec::new(), None),
        );
    };
    // dan is denied the code explicitly: his price queries still succeed, without discounts.
    add("dan", rating, 200, "");
    add("dan", rating, 403, "CBC.0151");
    // ned holds nothing: his discounts query is no drift, his payment is.
    add("ned", discounts, 200, "");
    add("ned", pay, 200, "");
    add("pat", rating, 200, "");
    add("sam", rating, 403, "APIG.0302");
    let f = compute(&s, &catalog, &history, window(), 7, &EarlierUses::default());
    let denied: Vec<_> = f
        .denied
        .iter()
        .map(|d| {
            (
                d.user.as_str(),
                catalog.route(d.route).template.to_string(),
                d.verdict,
                d.reason,
            )
        })
        .collect();
    assert_eq!(
        denied,
        [
            (
                "dan",
                "/v2/bills/ratings/on-demand-resources".to_owned(),
                Verdict::ObservedOnly,
                "unexplained"
            ),
            (
                "ned",
                "/v3/orders/customer-orders/pay".to_owned(),
                Verdict::PredictedOnly,
                "not_granted"
            ),
            (
                "sam",
                "/v2/bills/ratings/on-demand-resources".to_owned(),
                Verdict::ObservedOnly,
                "gateway_acl"
            ),
        ]
    );
    let state = |group: &str, code: &str| {
        f.group_permissions
            .iter()
            .find(|p| snapshot.groups[p.group].name == group && p.permission == code)
            .map(|p| (p.state, p.users_used))
    };
    // pat held the code: his success used it. dan's did not (he was denied it).
    assert_eq!(
        state("pricers", "bss:discount:view"),
        Some((GrantState::Used, 1))
    );
    assert_eq!(state("others", "bss:discount:view").unwrap().1, 0);
}

#[test]
fn a_filtering_code_has_a_verdict_only_for_a_403() {
    use super::denied::filtering_verdict;
    assert_eq!(filtering_verdict(StatusClass::Allowed, b""), None);
    assert_eq!(filtering_verdict(StatusClass::of_status(500), b""), None);
    assert_eq!(
        filtering_verdict(StatusClass::Denied, b"CBC.0151"),
        Some((Verdict::ObservedOnly, "unexplained"))
    );
    assert_eq!(
        filtering_verdict(StatusClass::Denied, b"APIG.0306"),
        Some((Verdict::ObservedOnly, "gateway_acl"))
    );
}
