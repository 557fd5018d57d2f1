//! Policy conditions: `{"StringLike": {"g:UserName": ["a*"]}}`.
//!
//! A condition is decided from what permlens knows about a request: the user's name (and id
//! and domain, when the snapshot has them), the request time and the client IP from the log.
//! Any other key (`g:MFAPresent`, `g:ProjectName`, ...) cannot be read from an access log,
//! and any operator permlens does not implement cannot be evaluated: both are *undecided*,
//! never silently met, even with the `IfExists` suffix (the key exists on the real request;
//! only its value is unknown to us).

use std::net::IpAddr;

use jiff::Timestamp;

use super::pattern::like_match;
use crate::net::IpNet;

/// The outcome of one condition (or of all conditions of a statement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Truth {
    Met,
    Undecided,
    Unmet,
}

/// What a request looks like to the condition evaluator.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext<'a> {
    pub user_name: &'a str,
    pub user_id: Option<&'a str>,
    pub domain_name: Option<&'a str>,
    /// The account id, for `g:PrincipalAccount` (IAM 5.0).
    pub domain_id: Option<&'a str>,
    /// The caller's URN (`iam::<account-id>:user:<name>`), for `g:PrincipalUrn` (IAM 5.0).
    pub principal_urn: Option<&'a str>,
    /// The request time, for `g:CurrentTime`.
    pub time: Option<Timestamp>,
    /// The client IP, for `g:SourceIp`.
    pub source_ip: Option<IpAddr>,
}

/// Condition keys permlens can resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    UserName,
    UserId,
    DomainName,
    CurrentTime,
    SourceIp,
    /// IAM 5.0: `iam::<account-id>:user:<name>` for an IAM user.
    PrincipalUrn,
    /// IAM 5.0: the caller's account id (the same value as `g:DomainId`).
    PrincipalAccount,
    /// Any key an access log cannot carry.
    Other,
}

impl Key {
    fn parse(key: &str) -> Key {
        match key.to_ascii_lowercase().as_str() {
            "g:username" => Key::UserName,
            "g:userid" => Key::UserId,
            "g:domainname" => Key::DomainName,
            "g:currenttime" => Key::CurrentTime,
            "g:sourceip" => Key::SourceIp,
            "g:principalurn" => Key::PrincipalUrn,
            "g:principalaccount" | "g:domainid" => Key::PrincipalAccount,
            _ => Key::Other,
        }
    }

    /// True when the value differs between requests of the same user (so a decision cannot
    /// be computed once per user and permission).
    pub fn depends_on_request(self) -> bool {
        matches!(self, Key::CurrentTime | Key::SourceIp)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrOp {
    Equals,
    EqualsIgnoreCase,
    Like,
    StartWith,
    EndWith,
    StartWithIgnoreCase,
    EndWithIgnoreCase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateOp {
    Equals,
    NotEquals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// A string operator; `negated` for the `StringNot...` forms (true when no value matches).
    Str {
        op: StrOp,
        negated: bool,
    },
    Date(DateOp),
    Bool,
    Ip {
        negated: bool,
    },
    Null,
    /// An operator permlens does not evaluate: always undecided.
    Unsupported,
}

/// Operators IAM has that permlens does not evaluate (no request key it reads is a number),
/// besides the `...AnyOf` forms of every operator.
const KNOWN_UNEVALUATED: &[&str] = &[
    "NumberEquals",
    "NumberNotEquals",
    "NumberLessThan",
    "NumberLessThanEquals",
    "NumberGreaterThan",
    "NumberGreaterThanEquals",
    "IsNullOrEmpty",
    "IsNotNullOrEmpty",
    "IsNull",
    "IsNotNull",
];

fn parse_op(base: &str) -> Op {
    let s = |op, negated| Op::Str { op, negated };
    match base {
        "StringEquals" => s(StrOp::Equals, false),
        "StringNotEquals" => s(StrOp::Equals, true),
        "StringEqualsIgnoreCase" => s(StrOp::EqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => s(StrOp::EqualsIgnoreCase, true),
        "StringLike" => s(StrOp::Like, false),
        "StringNotLike" => s(StrOp::Like, true),
        "StringStartWith" => s(StrOp::StartWith, false),
        "StringNotStartWith" => s(StrOp::StartWith, true),
        "StringEndWith" => s(StrOp::EndWith, false),
        "StringNotEndWith" => s(StrOp::EndWith, true),
        "StringStartWithIgnoreCase" => s(StrOp::StartWithIgnoreCase, false),
        "StringNotStartWithIgnoreCase" => s(StrOp::StartWithIgnoreCase, true),
        "StringEndWithIgnoreCase" => s(StrOp::EndWithIgnoreCase, false),
        "StringNotEndWithIgnoreCase" => s(StrOp::EndWithIgnoreCase, true),
        "DateEquals" => Op::Date(DateOp::Equals),
        "DateNotEquals" => Op::Date(DateOp::NotEquals),
        "DateLessThan" => Op::Date(DateOp::LessThan),
        "DateLessThanEquals" => Op::Date(DateOp::LessThanEquals),
        "DateGreaterThan" => Op::Date(DateOp::GreaterThan),
        "DateGreaterThanEquals" => Op::Date(DateOp::GreaterThanEquals),
        "Bool" => Op::Bool,
        "IpAddress" => Op::Ip { negated: false },
        "NotIpAddress" => Op::Ip { negated: true },
        "Null" => Op::Null,
        _ => Op::Unsupported,
    }
}

/// One `operator: {key: values}` pair of a statement's `Condition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator as written (`StringLikeIfExists`).
    pub operator: String,
    /// The key as written (`g:UserName`).
    pub key: String,
    pub values: Vec<String>,
    op: Op,
    key_kind: Key,
    dates: Vec<Timestamp>,
    nets: Vec<IpNet>,
}

impl Condition {
    /// Builds a condition of a v1.1 policy; errors say what value was expected.
    pub fn new(operator: &str, key: &str, values: Vec<String>) -> Result<Condition, String> {
        // `IfExists` changes nothing here: every key permlens resolves exists on every real
        // request, and a key it cannot resolve stays undecided either way.
        let op = parse_op(operator.strip_suffix("IfExists").unwrap_or(operator));
        Condition::build(operator, op, key, values)
    }

    /// Builds a condition of an IAM 5.0 identity policy. Besides the v1.1 operators it reads
    /// `StringMatch`/`StringNotMatch` (`*` and `?`, case-sensitive) and the `ForAnyValue:` /
    /// `ForAllValues:` prefixes: every key permlens resolves has one value per request, and
    /// over one value both mean the operator itself. `IfExists` as in v1.1.
    pub fn new_v5(operator: &str, key: &str, values: Vec<String>) -> Result<Condition, String> {
        let base = operator
            .strip_prefix("ForAnyValue:")
            .or_else(|| operator.strip_prefix("ForAllValues:"))
            .unwrap_or(operator);
        let base = base.strip_suffix("IfExists").unwrap_or(base);
        let op = match base {
            "StringMatch" => Op::Str {
                op: StrOp::Like,
                negated: false,
            },
            "StringNotMatch" => Op::Str {
                op: StrOp::Like,
                negated: true,
            },
            other => parse_op(other),
        };
        Condition::build(operator, op, key, values)
    }

    fn build(operator: &str, op: Op, key: &str, values: Vec<String>) -> Result<Condition, String> {
        let mut dates = Vec::new();
        let mut nets = Vec::new();
        match op {
            Op::Date(_) => {
                for v in &values {
                    dates.push(parse_date(v).ok_or_else(|| {
                        format!("expected an RFC 3339 time for {operator}, got {v:?}")
                    })?);
                }
            }
            Op::Ip { .. } => {
                for v in &values {
                    nets.push(IpNet::parse(v).ok_or_else(|| {
                        format!("expected an IP address or CIDR range for {operator}, got {v:?}")
                    })?);
                }
            }
            Op::Bool | Op::Null => {
                for v in &values {
                    if !matches!(v.to_ascii_lowercase().as_str(), "true" | "false") {
                        return Err(format!(
                            "expected \"true\" or \"false\" for {operator}, got {v:?}"
                        ));
                    }
                }
            }
            _ => {}
        }
        if values.is_empty() {
            return Err(format!("expected at least one value for {operator} {key}"));
        }
        Ok(Condition {
            operator: operator.to_owned(),
            key: key.to_owned(),
            values,
            op,
            key_kind: Key::parse(key),
            dates,
            nets,
        })
    }

    pub fn key_kind(&self) -> Key {
        self.key_kind
    }

    /// Whether the operator is one IAM has: evaluated here, or known and left undecided
    /// (the number operators). An unknown one is most likely a typo that IAM itself would
    /// have refused; its statement stays undecided either way.
    pub fn known_operator(&self) -> bool {
        if self.op != Op::Unsupported {
            return true;
        }
        let base = self
            .operator
            .strip_prefix("ForAnyValue:")
            .or_else(|| self.operator.strip_prefix("ForAllValues:"))
            .unwrap_or(&self.operator);
        let base = base.strip_suffix("IfExists").unwrap_or(base);
        let base = base.strip_suffix("AnyOf").unwrap_or(base);
        KNOWN_UNEVALUATED.contains(&base)
            || !matches!(parse_op(base), Op::Unsupported)
            || matches!(base, "StringMatch" | "StringNotMatch")
    }

    /// True when this condition can be decided at all (supported operator, readable key).
    pub fn decidable(&self) -> bool {
        self.op != Op::Unsupported && self.key_kind != Key::Other
    }

    /// The date thresholds and IP networks this condition compares against, so that requests
    /// can be grouped into classes that every condition treats alike.
    pub fn dates(&self) -> &[Timestamp] {
        &self.dates
    }

    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    /// Human-readable form: `StringLike g:UserName ["a*"]`.
    pub fn describe(&self) -> String {
        format!("{} {} {:?}", self.operator, self.key, self.values)
    }

    /// Decides this condition for one request.
    pub fn evaluate(&self, ctx: &RequestContext<'_>) -> Truth {
        if self.op == Op::Unsupported {
            return Truth::Undecided;
        }
        let value: Option<Value<'_>> = match self.key_kind {
            Key::UserName => Some(Value::Str(ctx.user_name)),
            Key::UserId => ctx.user_id.map(Value::Str),
            Key::DomainName => ctx.domain_name.map(Value::Str),
            Key::CurrentTime => ctx.time.map(Value::Time),
            Key::SourceIp => ctx.source_ip.map(Value::Ip),
            Key::PrincipalUrn => ctx.principal_urn.map(Value::Str),
            Key::PrincipalAccount => ctx.domain_id.map(Value::Str),
            Key::Other => None,
        };
        // Every key we resolve exists on every real request; `None` means we cannot see its
        // value, which `IfExists` does not excuse.
        let Some(value) = value else {
            return Truth::Undecided;
        };
        let holds = match (&self.op, value) {
            (Op::Null, _) => self.values.iter().any(|v| v.eq_ignore_ascii_case("false")),
            (Op::Str { op, negated }, Value::Str(s)) => {
                let any = self.values.iter().any(|v| str_op(*op, v, s));
                any != *negated
            }
            (Op::Str { op, negated }, Value::Ip(ip)) => {
                let s = ip.to_string();
                let any = self.values.iter().any(|v| str_op(*op, v, &s));
                any != *negated
            }
            (Op::Date(op), Value::Time(t)) => self.dates.iter().any(|d| date_op(*op, t, *d)),
            (Op::Ip { negated }, Value::Ip(ip)) => {
                let any = self.nets.iter().any(|n| n.contains(ip));
                any != *negated
            }
            (Op::Bool, Value::Str(s)) => self.values.iter().any(|v| v.eq_ignore_ascii_case(s)),
            // An operator applied to a key of another type (IpAddress on g:UserName) never
            // holds, as in the provider's evaluation.
            _ => false,
        };
        if holds { Truth::Met } else { Truth::Unmet }
    }
}

#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Str(&'a str),
    Time(Timestamp),
    Ip(IpAddr),
}

fn str_op(op: StrOp, want: &str, got: &str) -> bool {
    let starts_ci = |g: &str, w: &str| {
        g.len() >= w.len() && g.as_bytes()[..w.len()].eq_ignore_ascii_case(w.as_bytes())
    };
    let ends_ci = |g: &str, w: &str| {
        g.len() >= w.len() && g.as_bytes()[g.len() - w.len()..].eq_ignore_ascii_case(w.as_bytes())
    };
    match op {
        StrOp::Equals => got == want,
        StrOp::EqualsIgnoreCase => got.eq_ignore_ascii_case(want),
        StrOp::Like => like_match(want.as_bytes(), got.as_bytes()),
        StrOp::StartWith => got.starts_with(want),
        StrOp::EndWith => got.ends_with(want),
        StrOp::StartWithIgnoreCase => starts_ci(got, want),
        StrOp::EndWithIgnoreCase => ends_ci(got, want),
    }
}

fn date_op(op: DateOp, t: Timestamp, d: Timestamp) -> bool {
    match op {
        DateOp::Equals => t == d,
        DateOp::NotEquals => t != d,
        DateOp::LessThan => t < d,
        DateOp::LessThanEquals => t <= d,
        DateOp::GreaterThan => t > d,
        DateOp::GreaterThanEquals => t >= d,
    }
}

/// RFC 3339 (`2026-12-31T23:59:59Z`), or a bare date meaning its midnight UTC. Offsets are
/// taken as the parser reads them (policies and snapshots written by other tools);
/// [`rfc3339_offset`] is the strict check for what a user types.
pub fn parse_date(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let date: jiff::civil::Date = s.parse().ok()?;
    date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// Whether the offset of a time (after its `T` or space), if any, is RFC 3339's `Z` or
/// `±HH:MM` with hours below 24 (the parser also takes `+25`, `+2500` and `+25:00:00`).
pub fn rfc3339_offset(s: &str) -> bool {
    let s = s.trim_end();
    let Some(t) = s.find(['T', 't', ' ']) else {
        return true;
    };
    let clock = &s[t + 1..];
    let Some(sign) = clock.find(['+', '-']) else {
        return true;
    };
    match &clock.as_bytes()[sign + 1..] {
        [h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) => {
            (h1 - b'0') * 10 + (h2 - b'0') < 24
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_iam_does_not_have_are_told_apart() {
        let known = |op: &str| {
            let value = match op {
                "Bool" => "true",
                "NotIpAddress" => "10.0.0.0/8",
                _ => "a",
            };
            Condition::new(op, "g:UserName", vec![value.into()])
                .unwrap()
                .known_operator()
        };
        for op in [
            "StringEquals",
            "StringLikeIfExists",
            "NumberLessThan",
            "Bool",
            "NotIpAddress",
            "StringEqualsAnyOf",
            "IsNotNull",
        ] {
            assert!(known(op), "{op}");
        }
        for op in ["StringEqual", "NoSuchOperator", "stringequals"] {
            assert!(!known(op), "{op}");
        }
        let v5 = Condition::new_v5("ForAnyValue:StringMatch", "g:UserName", vec!["a".into()]);
        assert!(v5.unwrap().known_operator());
    }

    #[test]
    fn rfc_3339_offsets_are_told_apart() {
        for ok in ["+23:59", "-05:00", "Z", ""] {
            assert!(rfc3339_offset(&format!("2025-11-27T08:00:00{ok}")), "{ok}");
        }
        assert!(rfc3339_offset("2025-11-27"));
        for loose in [
            "+24:00",
            "+25:00",
            "+2500",
            "+25",
            "+25:00:00",
            "+0800",
            "+08",
        ] {
            assert!(
                !rfc3339_offset(&format!("2025-11-27T08:00:00{loose}")),
                "{loose}"
            );
        }
    }

    fn ctx<'a>(user: &'a str) -> RequestContext<'a> {
        RequestContext {
            user_name: user,
            user_id: Some("u-1"),
            domain_name: Some("acme"),
            domain_id: Some("d-1"),
            principal_urn: Some("iam::d-1:user:alice"),
            time: Some("2026-11-27T10:00:00Z".parse().unwrap()),
            source_ip: Some("10.1.2.3".parse().unwrap()),
        }
    }

    fn eval_v5(op: &str, key: &str, values: &[&str]) -> Truth {
        Condition::new_v5(op, key, values.iter().map(|s| (*s).to_owned()).collect())
            .unwrap()
            .evaluate(&ctx("alice"))
    }

    #[test]
    fn v5_condition_forms() {
        let cases: &[(&str, &str, &[&str], Truth)] = &[
            ("StringMatch", "g:UserName", &["al*"], Truth::Met),
            ("StringMatch", "g:UserName", &["a?ice"], Truth::Met),
            ("StringMatch", "g:UserName", &["AL*"], Truth::Unmet),
            ("StringNotMatch", "g:UserName", &["b*"], Truth::Met),
            (
                "ForAnyValue:StringMatch",
                "g:UserName",
                &["x", "a*"],
                Truth::Met,
            ),
            (
                "ForAllValues:StringEquals",
                "g:UserName",
                &["bob"],
                Truth::Unmet,
            ),
            (
                "StringEquals",
                "g:PrincipalUrn",
                &["iam::d-1:user:alice"],
                Truth::Met,
            ),
            (
                "StringMatch",
                "g:PrincipalUrn",
                &["iam::d-1:user:b*"],
                Truth::Unmet,
            ),
            ("StringEquals", "g:PrincipalAccount", &["d-1"], Truth::Met),
            ("StringEndWithIfExists", "g:UserName", &["ice"], Truth::Met),
            ("Bool", "g:MFAPresent", &["true"], Truth::Undecided),
            ("NotIpAddress", "g:SourceIp", &["10.0.0.0/8"], Truth::Unmet),
            (
                "DateGreaterThan",
                "g:CurrentTime",
                &["2026-11-01T00:00:00Z"],
                Truth::Met,
            ),
            ("NumberEquals", "g:UserName", &["1"], Truth::Undecided),
        ];
        for (op, key, values, want) in cases {
            assert_eq!(eval_v5(op, key, values), *want, "{op} {key} {values:?}");
        }
        // v1.1 keeps reading these forms as undecided.
        assert_eq!(
            eval("StringMatch", "g:UserName", &["al*"], "alice"),
            Truth::Undecided
        );
    }

    fn eval(op: &str, key: &str, values: &[&str], user: &str) -> Truth {
        Condition::new(op, key, values.iter().map(|s| (*s).to_owned()).collect())
            .unwrap()
            .evaluate(&ctx(user))
    }

    /// (operator, key, values, user, expected).
    const CASES: &[(&str, &str, &[&str], &str, Truth)] = &[
        (
            "StringEquals",
            "g:UserName",
            &["alice"],
            "alice",
            Truth::Met,
        ),
        (
            "StringEquals",
            "g:UserName",
            &["Alice"],
            "alice",
            Truth::Unmet,
        ),
        (
            "StringEquals",
            "g:username",
            &["bob", "alice"],
            "alice",
            Truth::Met,
        ),
        (
            "StringNotEquals",
            "g:UserName",
            &["bob"],
            "alice",
            Truth::Met,
        ),
        (
            "StringNotEquals",
            "g:UserName",
            &["alice"],
            "alice",
            Truth::Unmet,
        ),
        (
            "StringEqualsIgnoreCase",
            "g:UserName",
            &["ALICE"],
            "alice",
            Truth::Met,
        ),
        ("StringLike", "g:UserName", &["a*"], "alice", Truth::Met),
        ("StringLike", "g:UserName", &["a?ice"], "alice", Truth::Met),
        ("StringLike", "g:UserName", &["b*"], "alice", Truth::Unmet),
        ("StringNotLike", "g:UserName", &["b*"], "alice", Truth::Met),
        (
            "StringStartWith",
            "g:UserName",
            &["al"],
            "alice",
            Truth::Met,
        ),
        ("StringEndWith", "g:UserName", &["ce"], "alice", Truth::Met),
        (
            "StringEndWith",
            "g:UserName",
            &["CE"],
            "alice",
            Truth::Unmet,
        ),
        (
            "StringStartWithIfExists",
            "g:UserName",
            &["x"],
            "alice",
            Truth::Unmet,
        ),
        ("StringEquals", "g:UserId", &["u-1"], "alice", Truth::Met),
        (
            "StringEquals",
            "g:DomainName",
            &["acme"],
            "alice",
            Truth::Met,
        ),
        (
            "DateLessThan",
            "g:CurrentTime",
            &["2026-12-01T00:00:00Z"],
            "alice",
            Truth::Met,
        ),
        (
            "DateGreaterThan",
            "g:CurrentTime",
            &["2026-12-01T00:00:00Z"],
            "alice",
            Truth::Unmet,
        ),
        (
            "DateGreaterThanEquals",
            "g:CurrentTime",
            &["2026-11-27T10:00:00Z"],
            "alice",
            Truth::Met,
        ),
        (
            "DateLessThan",
            "g:CurrentTime",
            &["2026-11-27"],
            "alice",
            Truth::Unmet,
        ),
        (
            "IpAddress",
            "g:SourceIp",
            &["10.0.0.0/8"],
            "alice",
            Truth::Met,
        ),
        (
            "IpAddress",
            "g:SourceIp",
            &["192.168.0.0/16", "10.1.2.3"],
            "alice",
            Truth::Met,
        ),
        (
            "IpAddress",
            "g:SourceIp",
            &["192.168.0.0/16"],
            "alice",
            Truth::Unmet,
        ),
        (
            "NotIpAddress",
            "g:SourceIp",
            &["192.168.0.0/16"],
            "alice",
            Truth::Met,
        ),
        ("Null", "g:UserName", &["true"], "alice", Truth::Unmet),
        ("Null", "g:UserName", &["false"], "alice", Truth::Met),
        // Keys a log cannot carry, and operators we do not evaluate, are undecided.
        ("Bool", "g:MFAPresent", &["true"], "alice", Truth::Undecided),
        (
            "BoolIfExists",
            "g:MFAPresent",
            &["true"],
            "alice",
            Truth::Undecided,
        ),
        (
            "StringEquals",
            "g:ProjectName",
            &["cn-north-4"],
            "alice",
            Truth::Undecided,
        ),
        (
            "NumberEquals",
            "g:UserName",
            &["1"],
            "alice",
            Truth::Undecided,
        ),
        (
            "ForAnyValue:StringEquals",
            "g:UserName",
            &["alice"],
            "alice",
            Truth::Undecided,
        ),
    ];

    #[test]
    fn condition_table() {
        for (op, key, values, user, want) in CASES {
            assert_eq!(
                eval(op, key, values, user),
                *want,
                "{op} {key} {values:?} for {user}"
            );
        }
    }

    #[test]
    fn unknown_request_values_are_undecided() {
        let c = Condition::new(
            "DateLessThan",
            "g:CurrentTime",
            vec!["2026-01-01T00:00:00Z".into()],
        )
        .unwrap();
        let no_time = RequestContext {
            user_name: "a",
            ..Default::default()
        };
        assert_eq!(c.evaluate(&no_time), Truth::Undecided);
        let c = Condition::new("StringEquals", "g:UserId", vec!["u".into()]).unwrap();
        assert_eq!(c.evaluate(&no_time), Truth::Undecided);
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(
            Condition::new("DateLessThan", "g:CurrentTime", vec!["soon".into()])
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert!(
            Condition::new("IpAddress", "g:SourceIp", vec!["10.0.0.0/33".into()])
                .unwrap_err()
                .contains("CIDR")
        );
        assert!(
            Condition::new("Bool", "g:MFAPresent", vec!["yes".into()])
                .unwrap_err()
                .contains("\"true\"")
        );
        assert!(Condition::new("StringEquals", "g:UserName", vec![]).is_err());
    }
}
