//! What each route needs under the provider's IAM 5.0 identity-policy model: the v5 action
//! (`billing:order:view`), its documented aliases (legacy names a v5 policy may use for it),
//! how sure the mapping is, and where it comes from.
//!
//! The provider names one requirement per model on each BSS API page ("如果使用身份策略授权,
//! 需具备如下身份策略权限"). The names are not a prefix swap of the v1.1 codes (renewal became
//! `billing:subscription:renew`, resource-package queries `billing:resourcePackages:view`), so
//! the catalog keeps them per route rather than deriving them.

use serde::{Deserialize, Serialize};

/// How a route's v5 requirement is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum V5Basis {
    /// The provider's page for this API (or its v5 action table) names the action.
    Confirmed,
    /// Derived (from the v1.1 crosswalk, the action's description, or another version of the
    /// same API): a hypothesis, reported as such.
    Inferred,
    /// The provider says the API needs no identity-policy permission (order cancel).
    NotRequired,
    /// No v5 action was found: the v5 model cannot be judged for this route.
    #[default]
    Unknown,
}

impl V5Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            V5Basis::Confirmed => "confirmed",
            V5Basis::Inferred => "inferred",
            V5Basis::NotRequired => "not_required",
            V5Basis::Unknown => "unknown",
        }
    }

    /// True when the basis names an action (`confirmed`, `inferred`).
    pub fn has_action(self) -> bool {
        matches!(self, V5Basis::Confirmed | V5Basis::Inferred)
    }
}

/// A route's requirement under IAM 5.0 identity policies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct V5Requirement {
    pub basis: V5Basis,
    /// The v5 action, for `confirmed` and `inferred`.
    pub action: Option<String>,
    /// Legacy action names the provider lists as aliases of the action: a v5 policy that
    /// names one of them grants the route too.
    pub aliases: Vec<String>,
    /// Where the mapping comes from (the provider's page), or why there is none.
    pub source: String,
}

/// `service:resourceType:action` with non-empty segments of letters, digits, `-`, `_`: the
/// form of a v5 action (any service: `billing`, `costCenter`, ...), no wildcards.
pub(super) fn check_action(action: &str) -> Result<(), String> {
    let parts: Vec<&str> = action.split(':').collect();
    let ok = parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected a v5 action service:resourceType:action without wildcards, got {action:?}"
        ))
    }
}
