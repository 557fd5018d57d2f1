//! Table-driven evaluation cases over one snapshot that has every kind of grant.

use super::*;
use crate::catalog::Catalog;

const SNAPSHOT: &str = r#"{
  "taken_at": "2026-11-27T00:00:00Z",
  "domain": {"name": "acme"},
  "users": [
    {"name": "alice", "id": "u-a"}, {"name": "bob"}, {"name": "carol"}, {"name": "dave"},
    {"name": "erin"}, {"name": "frank"}, {"name": "gina"}, {"name": "hank", "policies": ["HankCost"]},
    {"name": "ivan"}, {"name": "judy"}, {"name": "kim"}, {"name": "Alice"}
  ],
  "groups": [
    {"name": "finance", "members": ["alice", "bob"], "policies": ["FinanceView"]},
    {"name": "ops", "members": ["alice"], "policies": ["OrdersFull"]},
    {"name": "admins", "members": ["carol"], "policies": ["BSS Administrator"]},
    {"name": "nopay", "members": ["dave"], "policies": ["NoPay"]},
    {"name": "buyers", "members": ["dave", "kim"], "policies": ["OrdersFull"]},
    {"name": "mfa", "members": ["erin"], "policies": ["MfaOrders"]},
    {"name": "timebox", "members": ["frank"], "policies": ["UntilDec"]},
    {"name": "office", "members": ["gina"], "policies": ["OfficeOnly"]},
    {"name": "mixed", "members": ["ivan"], "policies": ["Mixed"]},
    {"name": "a-names", "members": ["judy", "alice"], "policies": ["ANames"]},
    {"name": "maybe-deny", "members": ["kim"], "policies": ["MaybeDeny"]},
    {"name": "contracts", "members": [], "policies": ["Contracts", "BSS Administrator"]}
  ],
  "policies": [
    {"name": "FinanceView", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:*:view"]}]}},
    {"name": "OrdersFull", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": "bss:order:*"}]}},
    {"name": "BSS Administrator", "document": {"Version": "1.0", "Statement": [{"Effect": "Allow", "Action": ["bss:*:*"]}]}},
    {"name": "NoPay", "document": {"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["bss:order:pay"]}]}},
    {"name": "MfaOrders", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:order:*"], "Condition": {"Bool": {"g:MFAPresent": ["true"]}}}]}},
    {"name": "UntilDec", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:bill:view"], "Condition": {"DateLessThan": {"g:CurrentTime": ["2026-12-01T00:00:00Z"]}}}]}},
    {"name": "OfficeOnly", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:*:*"], "Condition": {"IpAddress": {"g:SourceIp": ["10.0.0.0/8"]}}}]}},
    {"name": "Mixed", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:ORDER:View", "bss:*:UPDATE"]}]}},
    {"name": "ANames", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:coupon:view"], "Condition": {"StringLike": {"g:UserName": ["a*"]}, "StringEquals": {"g:DomainName": "acme"}}}]}},
    {"name": "MaybeDeny", "document": {"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["bss:order:update"], "Condition": {"BoolIfExists": {"g:MFAPresent": ["false"]}}}]}},
    {"name": "HankCost", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:costanalysis:view"]}]}},
    {"name": "Contracts", "document": {"Version": "1.1", "Statement": [
      {"Effect": "Allow", "Action": ["bss:contract:*", "bss:invoice:view", "bss:order:view", "ecs:*:*"]},
      {"Effect": "Deny", "Action": ["bss:order:view"]}]}}
  ]
}"#;

fn snapshot() -> Snapshot {
    Snapshot::from_json(SNAPSHOT, "test.json").unwrap()
}

/// (user, permission, time, ip, outcome, reason, deciding policy).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Outcome,
    Option<Reason>,
    &'static str,
);

const NOV: &str = "2026-11-27T10:00:00Z";
const DEC: &str = "2026-12-05T10:00:00Z";

const CASES: &[Case] = &[
    (
        "alice",
        "bss:order:view",
        NOV,
        "",
        Outcome::Allow,
        None,
        "FinanceView",
    ),
    (
        "alice",
        "bss:order:pay",
        NOV,
        "",
        Outcome::Allow,
        None,
        "OrdersFull",
    ),
    (
        "bob",
        "bss:order:pay",
        NOV,
        "",
        Outcome::Deny,
        Some(Reason::NotGranted),
        "",
    ),
    (
        "bob",
        "bss:discount:view",
        NOV,
        "",
        Outcome::Allow,
        None,
        "FinanceView",
    ),
    // Roles never authorize BSS APIs.
    (
        "carol",
        "bss:order:view",
        NOV,
        "",
        Outcome::Deny,
        Some(Reason::RoleOnly),
        "BSS Administrator",
    ),
    // Deny in one group beats Allow in another.
    (
        "dave",
        "bss:order:pay",
        NOV,
        "",
        Outcome::Deny,
        Some(Reason::ExplicitDeny),
        "NoPay",
    ),
    (
        "dave",
        "bss:order:view",
        NOV,
        "",
        Outcome::Allow,
        None,
        "OrdersFull",
    ),
    // A key no log carries: undecided, even though the statement would allow.
    (
        "erin",
        "bss:order:view",
        NOV,
        "",
        Outcome::Undecided,
        Some(Reason::ConditionUndecided),
        "MfaOrders",
    ),
    (
        "erin",
        "bss:bill:view",
        NOV,
        "",
        Outcome::Deny,
        Some(Reason::NotGranted),
        "",
    ),
    // Time conditions use the request time.
    (
        "frank",
        "bss:bill:view",
        NOV,
        "",
        Outcome::Allow,
        None,
        "UntilDec",
    ),
    (
        "frank",
        "bss:bill:view",
        DEC,
        "",
        Outcome::Deny,
        Some(Reason::ConditionUnmet),
        "UntilDec",
    ),
    // IP conditions use the client IP, undecided without one.
    (
        "gina",
        "bss:order:view",
        NOV,
        "10.1.2.3",
        Outcome::Allow,
        None,
        "OfficeOnly",
    ),
    (
        "gina",
        "bss:order:view",
        NOV,
        "192.168.1.1",
        Outcome::Deny,
        Some(Reason::ConditionUnmet),
        "OfficeOnly",
    ),
    (
        "gina",
        "bss:order:view",
        NOV,
        "",
        Outcome::Undecided,
        Some(Reason::ConditionUndecided),
        "OfficeOnly",
    ),
    // Resource type and action compare case-insensitively.
    (
        "ivan",
        "bss:order:view",
        NOV,
        "",
        Outcome::Allow,
        None,
        "Mixed",
    ),
    (
        "ivan",
        "bss:renewal:update",
        NOV,
        "",
        Outcome::Allow,
        None,
        "Mixed",
    ),
    (
        "ivan",
        "bss:order:pay",
        NOV,
        "",
        Outcome::Deny,
        Some(Reason::NotGranted),
        "",
    ),
    // User-name and domain conditions come from the snapshot.
    (
        "judy",
        "bss:coupon:view",
        NOV,
        "",
        Outcome::Deny,
        Some(Reason::ConditionUnmet),
        "ANames",
    ),
    (
        "alice",
        "bss:coupon:view",
        NOV,
        "",
        Outcome::Allow,
        None,
        "FinanceView",
    ),
    // User names are case-sensitive: "Alice" is another user, in no group.
    (
        "Alice",
        "bss:order:view",
        NOV,
        "",
        Outcome::Deny,
        Some(Reason::NotGranted),
        "",
    ),
    (
        "zed",
        "bss:order:view",
        NOV,
        "",
        Outcome::Deny,
        Some(Reason::UnknownUser),
        "",
    ),
    // A Deny whose condition we cannot decide makes an Allow undecided.
    (
        "kim",
        "bss:order:update",
        NOV,
        "",
        Outcome::Undecided,
        Some(Reason::ConditionUndecided),
        "MaybeDeny",
    ),
    (
        "kim",
        "bss:order:view",
        NOV,
        "",
        Outcome::Allow,
        None,
        "OrdersFull",
    ),
    // Direct attachment to a user.
    (
        "hank",
        "bss:costanalysis:view",
        NOV,
        "",
        Outcome::Allow,
        None,
        "HankCost",
    ),
    (
        "hank",
        "bss:bill:view",
        NOV,
        "",
        Outcome::Deny,
        Some(Reason::NotGranted),
        "",
    ),
];

#[test]
fn decision_table() {
    let s = snapshot();
    let mut failures = Vec::new();
    for (user, code, time, ip, outcome, reason, policy) in CASES {
        let ip = (!ip.is_empty()).then(|| ip.parse().unwrap());
        let d = s.decide(user, code, Some(time.parse().unwrap()), ip);
        let deciding = d
            .deciding_statement()
            .map_or("", |m| s.policies[m.policy].name.as_str());
        if (d.outcome, d.reason, deciding) != (*outcome, *reason, *policy) {
            failures.push(format!(
                "{user} {code} {time} {ip:?}: got {:?} {:?} {deciding:?}",
                d.outcome, d.reason
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_reason_is_covered() {
    for reason in [
        Reason::UnknownUser,
        Reason::ExplicitDeny,
        Reason::ConditionUndecided,
        Reason::ConditionUnmet,
        Reason::RoleOnly,
        Reason::NotGranted,
    ] {
        assert!(CASES.iter().any(|c| c.5 == Some(reason)), "{reason}");
    }
}

#[test]
fn explain_lists_every_matching_statement() {
    let s = snapshot();
    let d = s.decide("dave", "bss:order:pay", None, None);
    let names: Vec<&str> = d
        .matched
        .iter()
        .map(|m| s.policies[m.policy].name.as_str())
        .collect();
    assert_eq!(names, ["NoPay", "OrdersFull"]);
    let d = s.decide("erin", "bss:order:view", None, None);
    assert_eq!(
        d.matched[0].condition.as_deref(),
        Some("Bool g:MFAPresent [\"true\"]")
    );
}

#[test]
fn request_dependence_is_known_per_user_and_code() {
    let s = snapshot();
    assert!(s.depends_on_request("frank", "bss:bill:view"));
    assert!(s.depends_on_request("gina", "bss:order:view"));
    assert!(!s.depends_on_request("erin", "bss:order:view"));
    assert!(!s.depends_on_request("alice", "bss:order:view"));
    assert!(!s.depends_on_request("zed", "bss:order:view"));
}

#[test]
fn grants_expand_over_catalog_codes_and_keep_unobservable_patterns() {
    let s = snapshot();
    let catalog = Catalog::embedded();
    let g = |name: &str| {
        let gi = s.group_by_name(name).unwrap();
        s.grants(
            &s.groups[gi].policies,
            catalog.permissions(),
            catalog.v5_actions(),
        )
    };
    let finance: Vec<String> = g("finance").into_iter().map(|g| g.permission).collect();
    assert_eq!(
        finance,
        [
            "bss:balance:view",
            "bss:bill:view",
            "bss:billDetail:view",
            "bss:costanalysis:view",
            "bss:coupon:view",
            "bss:discount:view",
            "bss:order:view"
        ]
    );
    let contracts = g("contracts");
    let summary: Vec<(&str, bool, bool)> = contracts
        .iter()
        .map(|g| (g.permission.as_str(), g.observable, g.denied))
        .collect();
    // Roles grant nothing; a pattern that covers no catalog code, of this service or
    // another, is granted and unobservable (contract: reported as written).
    assert_eq!(
        summary,
        [
            ("bss:contract:*", false, false),
            ("bss:invoice:view", false, false),
            ("bss:order:view", true, true),
            ("ecs:*:*", false, false)
        ]
    );
    let timebox = g("timebox");
    assert!(timebox[0].conditional);
}

#[test]
fn validation_errors_name_file_path_and_expectation() {
    let base = |users: &str, groups: &str, policies: &str| {
        format!(r#"{{"users": {users}, "groups": {groups}, "policies": {policies}}}"#)
    };
    let p = r#"[{"name": "P", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:order:view"]}]}}]"#;
    let cases = [
        ("{not json".to_owned(), "line 1, column 2: invalid JSON"),
        (
            r#"{"users": [], "groups": []}"#.to_owned(),
            "$: expected a \"policies\" field",
        ),
        (
            base(
                r#"[{"name": "a"}]"#,
                r#"[{"name": "g", "members": ["b"]}]"#,
                p,
            ),
            "groups[0].members[0]: member \"b\" is not a user",
        ),
        (
            base(
                r#"[{"name": "a"}]"#,
                r#"[{"name": "g", "policies": ["Q"]}]"#,
                p,
            ),
            "groups[0].policies[0]: attached policy \"Q\" is not in \"policies\"",
        ),
        (
            base(r#"[{"name": "a", "policies": ["Q"]}]"#, "[]", p),
            "users[0].policies[0]: attached policy \"Q\"",
        ),
        (
            base(r#"[{"name": "a"}, {"name": "a"}]"#, "[]", p),
            "users[1].name: duplicate user name \"a\"",
        ),
        (
            base("[]", r#"[{"name": "g"}, {"name": "g"}]"#, p),
            "groups[1].name: duplicate group name \"g\"",
        ),
        (
            base(
                "[]",
                "[]",
                r#"[{"name": "P", "document": {"Version": "1.1", "Statement": [{"Action": ["x:y:z"]}]}}]"#,
            ),
            "policies[0].document.Statement[0]: expected an \"Effect\" field",
        ),
        (
            base(
                "[]",
                "[]",
                r#"[{"name": "P", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow"}]}}]"#,
            ),
            "policies[0].document.Statement[0]: expected an \"Action\" field",
        ),
        (
            base(
                "[]",
                "[]",
                r#"[{"name": "P", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:a:b", 7]}]}}]"#,
            ),
            "Statement[0].Action[1]: expected an action string, got a number",
        ),
        (
            base(
                "[]",
                "[]",
                r#"[{"name": "P", "document": {"Version": "2.0", "Statement": []}}]"#,
            ),
            "policies[0].document.Version: expected \"1.1\" (fine-grained policy), \"5.0\" (identity policy) or \"1.0\" (role), got \"2.0\"",
        ),
        (
            base(
                "[]",
                "[]",
                r#"[{"name": "P", "document": {"Version": "1.1", "Statement": [{"Effect": "allow", "Action": "a:b:c"}]}}]"#,
            ),
            "Statement[0].Effect: expected \"Allow\" or \"Deny\"",
        ),
        (
            base(
                "[]",
                "[]",
                r#"[{"name": "P", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": "a:b:c", "Condition": {"DateLessThan": {"g:CurrentTime": "soon"}}}]}}]"#,
            ),
            "Condition.DateLessThan.g:CurrentTime: expected an RFC 3339 time",
        ),
        (
            base(r#"[{"name": ""}]"#, "[]", p),
            "users[0].name: expected a non-empty string",
        ),
    ];
    for (json, want) in cases {
        let err = Snapshot::from_json(&json, "snap.json")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("snap.json: "), "{err}");
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
}

#[test]
fn unreadable_actions_are_left_out_and_named_and_roles_kept_as_written() {
    let s = Snapshot::from_json(
        r#"{"users": [{"name": "a"}], "groups": [{"name": "g", "members": ["a"], "policies": ["P", "R"]}], "policies": [
            {"name": "P", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["iam:users:list user", "bss:order:view"]}]}},
            {"name": "R", "document": {"Version": "1.0", "Statement": [{"Effect": "Allow", "Action": ["identity:assume role"]}, {"Effect": "Allow", "Action": "bss:*:*"}]}}
        ]}"#,
        "w.json",
    )
    .unwrap();
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(
        s.warnings[0].starts_with("w.json: policies[0].document.Statement[0].Action[0]:"),
        "{:?}",
        s.warnings
    );
    assert_eq!(s.policies[0].statements[0].actions.len(), 1);
    assert_eq!(s.policies[1].statements.len(), 2);
}

#[test]
fn scoped_grants_are_policies_of_their_own() {
    let s = Snapshot::from_json(
        r#"{"users": [{"name": "a"}], "groups": [{"name": "g", "members": ["a"], "policies": [
            {"name": "P", "scope": "project:p1"}, {"name": "P", "scope": "enterprise_project:ep"}, "P"]}], "policies": [
            {"name": "P", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["bss:order:view"]}]}}
        ]}"#,
        "s.json",
    )
    .unwrap();
    let names: Vec<&str> = s.groups[0]
        .policies
        .iter()
        .map(|&p| s.policies[p].name.as_str())
        .collect();
    assert_eq!(names, ["P [project p1]", "P [enterprise project ep]", "P"]);
    let ep = &s.policies[s.groups[0].policies[1]];
    assert_eq!(ep.statements[0].conditions.len(), 1);
    let err = Snapshot::from_json(
        r#"{"users": [], "groups": [{"name": "g", "policies": [{"name": "P", "scope": "region"}]}], "policies": [
            {"name": "P", "document": {"Version": "1.1", "Statement": []}}]}"#,
        "s.json",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("groups[0].policies[0].scope: expected domain"),
        "{err}"
    );
}

#[test]
fn warnings_for_what_can_be_analysed_anyway() {
    let s = Snapshot::from_json(
        r#"{"users": [{"name": "a", "enabled": false}], "groups": [{"name": "empty"}], "policies": []}"#,
        "w.json",
    )
    .unwrap();
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("user \"a\" is disabled"));
    assert!(s.warnings[1].contains("group \"empty\" has no members"));
}
