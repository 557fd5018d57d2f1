//! IAM 5.0 identity policies, alone and beside v1.1 policies: decision tables over the
//! embedded catalog's routes, with the documents in the shapes the provider documents
//! (`{"Version":"5.0","Statement":[{Effect, Action|NotAction, Resource?, Condition?}]}`, the
//! document as a JSON string as the v5 API returns it).

use super::*;
use crate::catalog::Catalog;

const SNAPSHOT: &str = r#"{
  "taken_at": "2026-11-27T00:00:00Z",
  "domain": {"name": "acme", "id": "d-1"},
  "users": [
    {"name": "vic"}, {"name": "walt"}, {"name": "xena"}, {"name": "yuri"}, {"name": "zoe"},
    {"name": "uma"}, {"name": "olga"}, {"name": "pete"}, {"name": "quin"},
    {"name": "rita", "urn": "iam::d-1:user:rita", "policies": ["RitaOrders"]}, {"name": "nobody"},
    {"name": "adam", "policies": ["Everything"]}
  ],
  "groups": [
    {"name": "v5-readers", "members": ["vic"], "policies": ["BillingView"]},
    {"name": "v5-orders", "members": ["walt"], "policies": ["OrdersV5"]},
    {"name": "both", "members": ["xena"], "policies": ["OrdersV11", "NoPayV5"]},
    {"name": "v11-deny", "members": ["yuri"], "policies": ["NoOrderViewV11", "OrdersV5"]},
    {"name": "not-subs", "members": ["zoe"], "policies": ["AllButSubscriptions"]},
    {"name": "agency-only", "members": ["uma"], "policies": ["AgencyResource"]},
    {"name": "office", "members": ["olga"], "policies": ["OfficeV5"]},
    {"name": "mfa", "members": ["pete"], "policies": ["MfaV5"]},
    {"name": "costs", "members": ["quin"], "policies": ["CostAlias"]}
  ],
  "agencies": [{"name": "ops-agency", "policies": ["BillingView"]}],
  "policies": [
    {"name": "BillingView", "document": "{\"Version\":\"5.0\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"billing:*:view\"],\"Resource\":[\"*\"]}]}"},
    {"name": "OrdersV5", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["billing:order:*"]}]}},
    {"name": "OrdersV11", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:order:*"]}]}},
    {"name": "NoPayV5", "document": {"Version": "5.0", "Statement": [{"Effect": "Deny", "Action": ["billing:order:pay"], "Resource": "*"}]}},
    {"name": "NoOrderViewV11", "document": {"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["bss:order:view"]}]}},
    {"name": "AllButSubscriptions", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "NotAction": ["billing:subscription:*"], "Resource": ["*"]}]}},
    {"name": "AgencyResource", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["billing:*"], "Resource": ["iam::d-1:agency:ops-agency"]}]}},
    {"name": "OfficeV5", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["billing:*:*"],
      "Condition": {"IpAddress": {"g:SourceIp": ["10.0.0.0/8"]}, "DateLessThan": {"g:CurrentTime": ["2026-12-01T00:00:00Z"]},
                    "ForAnyValue:StringMatch": {"g:PrincipalUrn": ["iam::d-1:user:ol*"]}}}]}},
    {"name": "MfaV5", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["billing:order:view"], "Condition": {"Bool": {"g:MFAPresent": ["true"]}}}]}},
    {"name": "CostAlias", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["bss:costanalysis:view", "bss:order:view"]}]}},
    {"name": "Everything", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["*"]}]}},
    {"name": "RitaOrders", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["billing:order:view"], "Condition": {"StringEquals": {"g:PrincipalUrn": "iam::d-1:user:rita"}}}]}}
  ]
}"#;

fn snapshot() -> Snapshot {
    Snapshot::from_json(SNAPSHOT, "v5.json").unwrap()
}

/// (user, method, path, time, ip, outcome, reason, deciding policy, model).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Outcome,
    Option<Reason>,
    &'static str,
    Option<PolicyModel>,
);

const NOV: &str = "2026-11-27T10:00:00Z";
const DEC: &str = "2026-12-05T10:00:00Z";
const ORDERS: &str = "/v2/orders/customer-orders";
const PAY: &str = "/v3/orders/customer-orders/pay";
const RENEW: &str = "/v2/orders/subscriptions/resources/renew";
const CANCEL: &str = "/v2/orders/customer-orders/cancel";
const INVOICES: &str = "/v1.0/{domain_id}/payments/intl-invoices";
const COSTS: &str = "/v4/costs/cost-analysed-bills/query";
const BALANCE: &str = "/v2/accounts/customer-accounts/balances";

use Outcome::{Allow, Deny, Undecided};
use PolicyModel::{V5, V11};

const CASES: &[Case] = &[
    // v5 only: the account is not "everyone denied".
    (
        "vic",
        "GET",
        ORDERS,
        NOV,
        "",
        Allow,
        None,
        "BillingView",
        Some(V5),
    ),
    (
        "vic",
        "GET",
        BALANCE,
        NOV,
        "",
        Allow,
        None,
        "BillingView",
        Some(V5),
    ),
    (
        "vic",
        "POST",
        PAY,
        NOV,
        "",
        Deny,
        Some(Reason::NotGranted),
        "",
        None,
    ),
    (
        "walt",
        "POST",
        PAY,
        NOV,
        "",
        Allow,
        None,
        "OrdersV5",
        Some(V5),
    ),
    // Renewal is billing:subscription:renew, not billing:order:*.
    (
        "walt",
        "POST",
        RENEW,
        NOV,
        "",
        Deny,
        Some(Reason::NotGranted),
        "",
        None,
    ),
    // Both models: v1.1 allows the view, v5 denies the payment (a v5 Deny beats a v1.1 Allow).
    (
        "xena",
        "GET",
        ORDERS,
        NOV,
        "",
        Allow,
        None,
        "OrdersV11",
        Some(V11),
    ),
    (
        "xena",
        "POST",
        PAY,
        NOV,
        "",
        Deny,
        Some(Reason::ExplicitDeny),
        "NoPayV5",
        Some(V5),
    ),
    // And the reverse: a v1.1 Deny beats a v5 Allow.
    (
        "yuri",
        "GET",
        ORDERS,
        NOV,
        "",
        Deny,
        Some(Reason::ExplicitDeny),
        "NoOrderViewV11",
        Some(V11),
    ),
    (
        "yuri",
        "POST",
        PAY,
        NOV,
        "",
        Allow,
        None,
        "OrdersV5",
        Some(V5),
    ),
    // NotAction: everything but subscriptions.
    (
        "zoe",
        "GET",
        ORDERS,
        NOV,
        "",
        Allow,
        None,
        "AllButSubscriptions",
        Some(V5),
    ),
    (
        "zoe",
        "POST",
        RENEW,
        NOV,
        "",
        Deny,
        Some(Reason::NotGranted),
        "",
        None,
    ),
    // A Resource other than "*" never covers billing actions (they have no resource type).
    (
        "uma",
        "GET",
        ORDERS,
        NOV,
        "",
        Deny,
        Some(Reason::NotGranted),
        "",
        None,
    ),
    // Conditions: IP, time and principal URN (ForAnyValue:StringMatch).
    (
        "olga",
        "GET",
        ORDERS,
        NOV,
        "10.1.2.3",
        Allow,
        None,
        "OfficeV5",
        Some(V5),
    ),
    (
        "olga",
        "GET",
        ORDERS,
        NOV,
        "192.168.1.1",
        Deny,
        Some(Reason::ConditionUnmet),
        "OfficeV5",
        Some(V5),
    ),
    (
        "olga",
        "GET",
        ORDERS,
        DEC,
        "10.1.2.3",
        Deny,
        Some(Reason::ConditionUnmet),
        "OfficeV5",
        Some(V5),
    ),
    (
        "rita",
        "GET",
        ORDERS,
        NOV,
        "",
        Allow,
        None,
        "RitaOrders",
        Some(V5),
    ),
    // A key no log carries stays undecided.
    (
        "pete",
        "GET",
        ORDERS,
        NOV,
        "",
        Undecided,
        Some(Reason::ConditionUndecided),
        "MfaV5",
        Some(V5),
    ),
    // Aliases: bss:costanalysis:view in a v5 policy grants cost data; bss:order:view does not
    // grant billing:order:view (no alias).
    (
        "quin",
        "POST",
        COSTS,
        NOV,
        "",
        Allow,
        None,
        "CostAlias",
        Some(V5),
    ),
    (
        "quin",
        "GET",
        ORDERS,
        NOV,
        "",
        Deny,
        Some(Reason::NotGranted),
        "",
        None,
    ),
    // Order cancel needs no v5 permission: allowed in an account on IAM 5.0 ...
    ("walt", "PUT", CANCEL, NOV, "", Allow, None, "", Some(V5)),
    // Invoices have no known v5 action: a user holding identity policies may be allowed by
    // one of them (undecided) ...
    (
        "vic",
        "GET",
        INVOICES,
        NOV,
        "",
        Undecided,
        Some(Reason::ConditionUndecided),
        "",
        Some(V5),
    ),
    // ... unless a `*` settles it; a user holding no identity policy is judged by v1.1 alone.
    (
        "adam",
        "GET",
        INVOICES,
        NOV,
        "",
        Allow,
        None,
        "Everything",
        Some(V5),
    ),
    (
        "xena",
        "GET",
        INVOICES,
        NOV,
        "",
        Deny,
        Some(Reason::NotGranted),
        "",
        None,
    ),
    (
        "nobody",
        "GET",
        ORDERS,
        NOV,
        "",
        Deny,
        Some(Reason::NotGranted),
        "",
        None,
    ),
];

fn route<'c>(catalog: &'c Catalog, method: &str, path: &str) -> &'c crate::catalog::Route {
    catalog
        .routes()
        .iter()
        .find(|r| r.method.as_str() == method && r.template.as_str() == path)
        .unwrap_or_else(|| panic!("{method} {path} is a catalog route"))
}

#[test]
fn v5_decision_table() {
    let s = snapshot();
    let catalog = Catalog::embedded();
    for (user, method, path, time, ip, outcome, reason, policy, model) in CASES {
        let r = route(&catalog, method, path);
        let ip = (!ip.is_empty()).then(|| ip.parse().unwrap());
        let d = s.decide(user, r, Some(time.parse().unwrap()), ip);
        let what = format!("{user} {method} {path} at {time} from {ip:?}: {d:?}");
        assert_eq!(d.outcome, *outcome, "{what}");
        assert_eq!(d.reason, *reason, "{what}");
        assert_eq!(d.model, *model, "{what}");
        let deciding = d
            .deciding_statement()
            .map_or("", |m| s.policies[m.policy].name.as_str());
        assert_eq!(deciding, *policy, "{what}");
    }
}

#[test]
fn cancel_without_v5_policies_is_judged_by_v11_alone() {
    let s = Snapshot::from_json(
        r#"{"users": [{"name": "a"}], "groups": [], "policies": []}"#,
        "v11.json",
    )
    .unwrap();
    let catalog = Catalog::embedded();
    let d = s.decide("a", route(&catalog, "PUT", CANCEL), None, None);
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.reason, Some(Reason::NotGranted));
}

#[test]
fn v5_conditions_split_requests_and_mark_decisions_per_request() {
    let s = snapshot();
    let catalog = Catalog::embedded();
    let orders = route(&catalog, "GET", ORDERS);
    assert!(s.depends_on_request("olga", orders));
    assert!(!s.depends_on_request("vic", orders));
    let (dates, nets) = s.context_bounds();
    assert!(
        dates.contains(
            &"2026-12-01T00:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_microsecond()
        )
    );
    assert_eq!(nets.len(), 1);
}

#[test]
fn v5_grants_are_rows_of_their_own_model() {
    let s = snapshot();
    let catalog = Catalog::embedded();
    let grants = |group: &str| {
        let gi = s.group_by_name(group).unwrap();
        s.grants(
            &s.groups[gi].policies,
            catalog.permissions(),
            catalog.v5_actions(),
        )
    };
    let both = grants("both");
    let v11: Vec<&str> = both
        .iter()
        .filter(|g| g.model == PolicyModel::V11)
        .map(|g| g.permission.as_str())
        .collect();
    assert_eq!(v11, ["bss:order:pay", "bss:order:update", "bss:order:view"]);
    // NoPayV5 only denies: it grants nothing.
    assert!(both.iter().all(|g| g.model == PolicyModel::V11));
    let readers: Vec<(String, bool)> = grants("v5-readers")
        .into_iter()
        .map(|g| (g.permission, g.model == PolicyModel::V5))
        .collect();
    assert!(
        readers.contains(&("billing:order:view".into(), true)),
        "{readers:?}"
    );
    assert!(readers.contains(&("billing:resourcePackages:view".into(), true)));
    assert!(!readers.iter().any(|(p, _)| p.starts_with("bss:")));
    let not_subs: Vec<String> = grants("not-subs")
        .into_iter()
        .map(|g| g.permission)
        .collect();
    assert!(not_subs.contains(&"billing:order:pay".to_owned()));
    assert!(
        !not_subs
            .iter()
            .any(|p| p.starts_with("billing:subscription:"))
    );
    assert!(grants("agency-only").is_empty());
    // An alias named in a v5 policy is a grant observable through the alias.
    let gi = s.group_by_name("costs").unwrap();
    let costs = s.grants(
        &s.groups[gi].policies,
        catalog.permissions(),
        catalog.v5_grant_codes(),
    );
    let alias = costs
        .iter()
        .find(|g| g.permission == "bss:costanalysis:view")
        .unwrap();
    assert!(alias.observable && alias.model == PolicyModel::V5);
    // bss:order:view is no alias: unobservable in a v5 policy.
    let order = costs
        .iter()
        .find(|g| g.permission == "bss:order:view")
        .unwrap();
    assert!(!order.observable);
    assert_eq!(s.agencies.len(), 1);
    assert_eq!(s.agencies[0].name, "ops-agency");
}

#[test]
fn v5_snapshot_errors_name_the_place() {
    let base = |policies: &str| {
        format!(
            r#"{{"users": [], "groups": [{{"name": "g", "policies": [{{"name": "P", "scope": "project:p1"}}]}}], "policies": {policies}}}"#
        )
    };
    let cases = [
        (
            base(r#"[{"name": "P", "document": "{\"Version\": \"5.0\""}]"#),
            "policies[0].document: expected a policy document (a JSON object, or a string holding one)",
        ),
        (
            base(
                r#"[{"name": "P", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["a:b:c"], "NotAction": ["a:b:d"]}]}}]"#,
            ),
            "Statement[0]: expected \"Action\" or \"NotAction\", not both",
        ),
        (
            base(
                r#"[{"name": "P", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["a:b:c"], "Resource": [3]}]}}]"#,
            ),
            "Statement[0].Resource[0]: expected a resource string, got a number",
        ),
        (
            base(
                r#"[{"name": "P", "document": {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["a:b:c"]}]}}]"#,
            ),
            "groups[0].policies[0].scope: identity policy \"P\" (Version 5.0) is attached without a scope",
        ),
    ];
    for (json, want) in cases {
        let err = Snapshot::from_json(&json, "snap.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
}

#[test]
fn least_privilege_v5_policy_keeps_what_was_used_and_the_v5_denies() {
    let s = snapshot();
    let catalog = Catalog::embedded();
    let gi = s.group_by_name("both").unwrap();
    let used: std::collections::BTreeSet<String> = [
        "billing:order:view",
        "billing:order:pay",
        "billing:subscription:renew",
        "bss:order:view",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let doc = s
        .least_privilege_v5(&s.groups[gi].policies, &used, &catalog)
        .unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"Version": "5.0", "Statement": [
            {"Effect": "Allow", "Action": ["billing:order:pay", "billing:order:view"], "Resource": ["*"]},
            {"Effect": "Deny", "Action": ["billing:order:pay"], "Resource": ["*"]}
        ]})
    );
    // Nothing used that the group grants: no policy.
    let gi = s.group_by_name("agency-only").unwrap();
    assert!(
        s.least_privilege_v5(&s.groups[gi].policies, &used, &catalog)
            .is_none()
    );
}
