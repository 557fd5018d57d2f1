//! Accepted exceptions (`analyze --exceptions FILE`): findings a team has accepted, with an
//! owner, a reason and an expiry date, so that a nightly `--fail-on` job fails only on what
//! is new. The file is TOML:
//!
//! ```toml
//! [[exception]]
//! id = "break-glass"                 # optional; default exception[N] (1-based)
//! kind = "over-privileged"           # optional: denied, drift, over-privileged, unused
//! group = "break-glass"              # the matchers given must all match
//! permission = "bss:*:*"             # a pattern: * matches any run of characters
//! reason = "emergency access, reviewed quarterly"
//! owner = "secops@example.com"
//! expires = "2027-03-31"             # a date (end of that day, UTC) or an RFC 3339 time
//! ```
//!
//! Matchers: `user`, `group`, `policy`, `permission`, `route` (`METHOD /template` or the
//! template alone, as in the catalog), `verdict` (denied calls). This module parses and
//! validates the file and matches one finding's fields; `findings::excepted` applies it to
//! the tables.

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

/// Kinds of findings, as `--fail-on` names them.
pub const KINDS: [&str; 4] = ["denied", "drift", "over-privileged", "unused"];

/// Verdicts of denied calls.
pub const VERDICTS: [&str; 3] = ["confirmed", "predicted_only", "observed_only"];

/// One accepted exception, validated.
#[derive(Debug, Clone)]
pub struct Exception {
    pub id: String,
    /// 1-based line of its `[[exception]]` table, for messages.
    pub line: usize,
    pub kind: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub policy: Option<String>,
    permission: Option<(String, GlobMatcher)>,
    /// (method, template); the method `None` matches any.
    route: Option<(Option<String>, String)>,
    pub verdict: Option<String>,
    pub reason: String,
    pub owner: String,
    /// Microseconds since the epoch after which it no longer applies.
    pub expires: i64,
    pub expires_text: String,
}

/// The fields of one finding an exception is matched against. `groups` are the groups the
/// finding's user belongs to, or the group of a group finding.
#[derive(Debug, Default)]
pub struct Subject<'a> {
    /// The kinds the finding counts as (`--fail-on` names).
    pub kinds: &'a [&'static str],
    pub user: Option<&'a str>,
    pub groups: &'a [&'a str],
    /// Policies the finding names (deciding or granting).
    pub policies: &'a [&'a str],
    pub permission: Option<&'a str>,
    /// (method, template).
    pub route: Option<(&'a str, &'a str)>,
    pub verdict: Option<&'a str>,
}

impl Exception {
    /// Whether the exception covers the finding: every matcher it gives matches.
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        let kind = self.kind.as_deref().is_none_or(|k| s.kinds.contains(&k));
        let user = self.user.as_deref().is_none_or(|u| s.user == Some(u));
        let group = self.group.as_deref().is_none_or(|g| s.groups.contains(&g));
        let policy = self
            .policy
            .as_deref()
            .is_none_or(|p| s.policies.contains(&p));
        let permission = self
            .permission
            .as_ref()
            .is_none_or(|(_, m)| s.permission.is_some_and(|p| m.is_match(p)));
        let route = self.route.as_ref().is_none_or(|(method, template)| {
            s.route.is_some_and(|(m, t)| {
                t == template
                    && method
                        .as_deref()
                        .is_none_or(|want| want.eq_ignore_ascii_case(m))
            })
        });
        let verdict = self.verdict.as_deref().is_none_or(|v| s.verdict == Some(v));
        kind && user && group && policy && permission && route && verdict
    }

    pub fn expired(&self, now: i64) -> bool {
        now > self.expires
    }

    /// The permission pattern as written.
    pub fn permission(&self) -> Option<&str> {
        self.permission.as_ref().map(|(p, _)| p.as_str())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    exception: Vec<toml::Spanned<Raw>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: Option<String>,
    kind: Option<String>,
    user: Option<String>,
    group: Option<String>,
    policy: Option<String>,
    permission: Option<String>,
    route: Option<String>,
    verdict: Option<String>,
    reason: Option<String>,
    owner: Option<String>,
    expires: Option<toml::Spanned<String>>,
}

/// Reads and validates an exceptions file. Errors name the file, the line and what was
/// expected.
pub fn load(path: &Path) -> anyhow::Result<Vec<Exception>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("exceptions file {}: cannot read it: {e}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// 1-based line of byte `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// [`load`] on the file's text; `name` is the file's name for messages.
pub fn parse(text: &str, name: &str) -> anyhow::Result<Vec<Exception>> {
    let file: File = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map_or(String::new(), |s| format!(" line {}:", line_of(text, s.start)));
        anyhow::anyhow!(
            "exceptions file {name}:{at} {} (expected [[exception]] tables with reason, owner, expires and matchers: see the README)",
            e.message().trim_end()
        )
    })?;
    let mut out: Vec<Exception> = Vec::new();
    for (i, spanned) in file.exception.into_iter().enumerate() {
        let line = line_of(text, spanned.span().start);
        let raw = spanned.into_inner();
        let bad = |what: String| {
            anyhow::anyhow!(
                "exceptions file {name} line {line}: exception[{}]: {what}",
                i + 1
            )
        };
        let required = |v: Option<String>, field: &str| -> anyhow::Result<String> {
            match v {
                Some(v) if !v.trim().is_empty() => Ok(v),
                _ => Err(bad(format!("expected a non-empty `{field}`"))),
            }
        };
        let reason = required(raw.reason, "reason")?;
        let owner = required(raw.owner, "owner")?;
        let Some(expires) = raw.expires else {
            return Err(bad(
                "expected `expires` (a date such as 2027-03-31, or an RFC 3339 time)".into(),
            ));
        };
        let expires_line = line_of(text, expires.span().start);
        let expires_text = expires.into_inner();
        let expires = parse_expiry(&expires_text).ok_or_else(|| {
            anyhow::anyhow!(
                "exceptions file {name} line {expires_line}: exception[{}]: expires {expires_text:?}: expected a date (2027-03-31) or an RFC 3339 time",
                i + 1
            )
        })?;
        if let Some(k) = &raw.kind
            && !KINDS.contains(&k.as_str())
        {
            return Err(bad(format!(
                "kind {k:?}: expected one of {}",
                KINDS.join(", ")
            )));
        }
        if let Some(v) = &raw.verdict
            && !VERDICTS.contains(&v.as_str())
        {
            return Err(bad(format!(
                "verdict {v:?}: expected one of {}",
                VERDICTS.join(", ")
            )));
        }
        let permission = match raw.permission {
            Some(p) => {
                let glob = GlobBuilder::new(&p)
                    .case_insensitive(true)
                    .literal_separator(false)
                    .build()
                    .map_err(|e| bad(format!("permission {p:?}: {e}")))?;
                Some((p, glob.compile_matcher()))
            }
            None => None,
        };
        let route = match raw.route {
            Some(r) => Some(parse_route(&r).ok_or_else(|| {
                bad(format!(
                    "route {r:?}: expected `METHOD /path/template` or `/path/template`"
                ))
            })?),
            None => None,
        };
        let matchers = [
            raw.user.is_some(),
            raw.group.is_some(),
            raw.policy.is_some(),
            permission.is_some(),
            route.is_some(),
            raw.verdict.is_some(),
        ];
        if !matchers.contains(&true) {
            return Err(bad(
                "expected at least one of user, group, policy, permission, route, verdict (an exception that matches everything would hide every finding)".into(),
            ));
        }
        let id = raw.id.unwrap_or_else(|| format!("exception[{}]", i + 1));
        if out.iter().any(|e| e.id == id) {
            return Err(bad(format!("id {id:?} is already used")));
        }
        out.push(Exception {
            id,
            line,
            kind: raw.kind,
            user: raw.user,
            group: raw.group,
            policy: raw.policy,
            permission,
            route,
            verdict: raw.verdict,
            reason,
            owner,
            expires,
            expires_text,
        });
    }
    Ok(out)
}

/// A date is valid through its whole day (UTC); a time is the instant itself.
fn parse_expiry(text: &str) -> Option<i64> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Some(t.as_microsecond());
    }
    let date: jiff::civil::Date = text.parse().ok()?;
    let next = date.checked_add(jiff::Span::new().days(1)).ok()?;
    let start: jiff::Timestamp = format!("{next}T00:00:00Z").parse().ok()?;
    Some(start.as_microsecond() - 1)
}

/// `POST /v2/x` or `/v2/x`.
fn parse_route(text: &str) -> Option<(Option<String>, String)> {
    let text = text.trim();
    match text.split_once(char::is_whitespace) {
        Some((method, path)) if path.trim().starts_with('/') => {
            Some((Some(method.to_ascii_uppercase()), path.trim().to_owned()))
        }
        None if text.starts_with('/') => Some((None, text.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[exception]]
id = "break-glass"
kind = "over-privileged"
group = "break-glass"
permission = "bss:*:*"
reason = "emergency access"
owner = "secops"
expires = "2027-03-31"

[[exception]]
user = "svc-reconcile"
route = "post /v3/orders/customer-orders/pay"
verdict = "confirmed"
reason = "expected"
owner = "finops"
expires = "2026-12-01T00:00:00Z"
"#;

    #[test]
    fn a_file_parses_with_ids_lines_and_expiry() {
        let e = parse(GOOD, "x.toml").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].id.as_str(), e[0].line), ("break-glass", 2));
        assert_eq!((e[1].id.as_str(), e[1].line), ("exception[2]", 11));
        let end_of_march = "2027-03-31T23:59:59.999999Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_microsecond();
        assert_eq!(e[0].expires, end_of_march);
        assert!(!e[0].expired(end_of_march) && e[0].expired(end_of_march + 1));
        assert!(e[0].matches(&Subject {
            kinds: &["over-privileged", "unused"],
            groups: &["break-glass"],
            permission: Some("BSS:order:pay"),
            ..Subject::default()
        }));
        assert!(!e[0].matches(&Subject {
            kinds: &["unused"],
            groups: &["break-glass"],
            permission: Some("bss:order:pay"),
            ..Subject::default()
        }));
        let call = Subject {
            kinds: &["denied"],
            user: Some("svc-reconcile"),
            route: Some(("POST", "/v3/orders/customer-orders/pay")),
            verdict: Some("confirmed"),
            ..Subject::default()
        };
        assert!(e[1].matches(&call));
        assert!(!e[1].matches(&Subject {
            verdict: Some("predicted_only"),
            ..call
        }));
    }

    #[test]
    fn errors_name_the_file_the_line_and_what_was_expected() {
        let cases = [
            (
                "[[exception]]\nuser = \"a\"\nowner = \"o\"\nexpires = \"2027-01-01\"\n",
                "line 1",
                "`reason`",
            ),
            (
                "[[exception]]\nuser = \"a\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"soon\"\n",
                "line 5",
                "expires \"soon\"",
            ),
            (
                "[[exception]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2027-01-01\"\n",
                "line 1",
                "at least one of",
            ),
            (
                "[[exception]]\nuser = \"a\"\nkind = \"bad\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2027-01-01\"\n",
                "line 1",
                "kind \"bad\"",
            ),
            (
                "[[exception]]\nuser = \"a\"\nfoo = 1\n",
                "line 3",
                "unknown field",
            ),
            ("[[exception]\n", "line 1", "exceptions file"),
            (
                "[[exception]]\nroute = \"pay\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2027-01-01\"\n",
                "line 1",
                "route \"pay\"",
            ),
        ];
        for (text, line, what) in cases {
            let e = format!("{:#}", parse(text, "ex.toml").unwrap_err());
            assert!(
                e.contains("ex.toml") && e.contains(line) && e.contains(what),
                "{text:?}: {e}"
            );
        }
    }
}
