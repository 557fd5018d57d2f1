//! IAM action patterns: `service:resourceType:action`, with `*` standing for any run of
//! characters within one segment (`bss:*:view`, `bss:order:v*`, `*:*:*`).
//!
//! The service segment compares exactly (services are lowercase); the resource type and the
//! action compare ASCII case-insensitively, as the provider documents. A `*` never crosses
//! a `:`. Patterns are compiled once when the snapshot loads.

use std::fmt;

/// A compiled action pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPattern {
    raw: String,
    /// Service, resource type, action; the last two lowercased.
    segments: [Box<str>; 3],
}

/// Why an action string is not a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected an action 'service:resourceType:action' with three non-empty segments, got {0:?}"
)]
pub struct BadPattern(pub String);

impl ActionPattern {
    /// Also the provider's short forms: `*` (every action of every service) and `svc:*`
    /// (every action of one service), read as `*:*:*` and `svc:*:*`.
    pub fn parse(raw: &str) -> Result<ActionPattern, BadPattern> {
        let mut parts: Vec<&str> = raw.split(':').collect();
        match parts.as_slice() {
            ["*"] => parts = vec!["*", "*", "*"],
            [service, "*"] if !service.is_empty() => parts.push("*"),
            _ => {}
        }
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || p.contains(char::is_whitespace))
        {
            return Err(BadPattern(raw.to_owned()));
        }
        Ok(ActionPattern {
            raw: raw.to_owned(),
            segments: [
                parts[0].into(),
                parts[1].to_ascii_lowercase().into(),
                parts[2].to_ascii_lowercase().into(),
            ],
        })
    }

    /// The pattern as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// True for `*`, `*:*:*` (and `*:*`...): every action of every service.
    pub fn matches_everything(&self) -> bool {
        self.segments.iter().all(|s| s.bytes().all(|b| b == b'*'))
    }

    /// True when the pattern has a `*` anywhere.
    pub fn is_wildcard(&self) -> bool {
        self.raw.contains('*')
    }

    /// Does this pattern cover the permission code `service:resourceType:action`?
    pub fn matches(&self, code: &str) -> bool {
        let mut parts = code.splitn(3, ':');
        let (Some(s), Some(r), Some(a)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        if a.contains(':') {
            return false;
        }
        wildcard_match(self.segments[0].as_bytes(), s.as_bytes(), false)
            && wildcard_match(self.segments[1].as_bytes(), r.as_bytes(), true)
            && wildcard_match(self.segments[2].as_bytes(), a.as_bytes(), true)
    }
}

impl fmt::Display for ActionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Matches `text` against `pattern` where `*` is any run of bytes (possibly empty).
/// `fold` compares ASCII case-insensitively (the pattern is already lowercase then).
pub(crate) fn wildcard_match(pattern: &[u8], text: &[u8], fold: bool) -> bool {
    glob(pattern, text, fold, false)
}

/// `StringLike` matching: `*` is any run of characters, `?` exactly one; case-sensitive.
pub(crate) fn like_match(pattern: &[u8], text: &[u8]) -> bool {
    glob(pattern, text, false, true)
}

/// Greedy glob with one backtrack point: linear in practice, O(n*m) at worst.
fn glob(pattern: &[u8], text: &[u8], fold: bool, question_mark: bool) -> bool {
    let eq = |p: u8, t: u8| {
        (question_mark && p == b'?')
            || if fold {
                p == t.to_ascii_lowercase()
            } else {
                p == t
            }
    };
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && eq(pattern[p], text[t]) {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (pattern, code, matches).
    const CASES: &[(&str, &str, bool)] = &[
        ("bss:order:view", "bss:order:view", true),
        ("bss:order:view", "bss:order:update", false),
        ("bss:*:view", "bss:order:view", true),
        ("bss:*:view", "bss:billDetail:view", true),
        ("bss:*:view", "bss:order:update", false),
        ("bss:order:*", "bss:order:pay", true),
        ("bss:order:*", "bss:renewal:update", false),
        ("bss:*:*", "bss:enterpriseProjectFunction:update", true),
        ("bss:*:*", "ecs:server:list", false),
        ("*:*:*", "bss:order:view", true),
        ("*:*:*", "ecs:server:list", true),
        ("bss:order:v*", "bss:order:view", true),
        ("bss:order:v*", "bss:order:update", false),
        ("bss:*detail:view", "bss:billDetail:view", true),
        ("bss:bill*:view", "bss:bill:view", true),
        ("bss:bill*:view", "bss:billDetail:view", true),
        ("bss:*a*:*e*", "bss:balance:view", true),
        ("b*:order:view", "bss:order:view", true),
        // Resource type and action ignore case; the service does not.
        ("bss:ORDER:View", "bss:order:view", true),
        ("bss:billdetail:view", "bss:billDetail:view", true),
        ("BSS:order:view", "bss:order:view", false),
        // `*` stays inside its segment; the provider's short forms `svc:*` and `*`.
        ("bss:*", "bss:order:view", true),
        ("*", "bss:order:view", true),
        ("identity:*", "bss:order:view", false),
        ("bss:order*", "bss:order:view", false),
        ("bss:contract:*", "bss:order:view", false),
    ];

    #[test]
    fn pattern_table() {
        for (pattern, code, want) in CASES {
            match ActionPattern::parse(pattern) {
                Ok(p) => assert_eq!(p.matches(code), *want, "{pattern} vs {code}"),
                Err(_) => assert!(!want, "{pattern} should parse"),
            }
        }
    }

    #[test]
    fn rejects_malformed_actions() {
        for bad in [
            "bss",
            "bss:order",
            ":*",
            "identity:assume role",
            "bss::view",
            "a:b:c:d",
            "",
            "bss:order :view",
        ] {
            assert!(ActionPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn naive(pattern: &str, code: &str) -> bool {
        let p: Vec<&str> = pattern.split(':').collect();
        let c: Vec<&str> = code.split(':').collect();
        if c.len() != 3 {
            return false;
        }
        p.iter().zip(&c).enumerate().all(|(i, (p, c))| {
            let body = p
                .split('*')
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(".*");
            let re = if i == 0 {
                format!("^{body}$")
            } else {
                format!("(?i)^{body}$")
            };
            regex::Regex::new(&re).unwrap().is_match(c)
        })
    }

    fn segment_pattern() -> impl Strategy<Value = String> {
        "[abAB*]{1,6}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn matcher_agrees_with_a_regex(
            p in (segment_pattern(), segment_pattern(), segment_pattern()),
            c in ("[abAB]{1,6}", "[abAB]{1,6}", "[abAB]{1,6}"),
        ) {
            let pattern = format!("{}:{}:{}", p.0, p.1, p.2);
            let code = format!("{}:{}:{}", c.0, c.1, c.2);
            let compiled = ActionPattern::parse(&pattern).unwrap();
            prop_assert_eq!(compiled.matches(&code), naive(&pattern, &code), "{} vs {}", pattern, code);
        }
    }
}
