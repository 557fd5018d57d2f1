//! The judge: loads the IAM snapshot and decides, for a user, a permission code and a
//! request, whether the call is allowed, and why not.
//!
//! Evaluation follows the provider: gather every policy attached to the user's groups and to
//! the user; a matching Deny wins, else a matching Allow, else the call is denied. Roles
//! (`"Version": "1.0"`) are never evaluated for these APIs; they only explain `role_only`.
//! Reasons follow the precedence `unknown_user`, `explicit_deny`, `condition_undecided`,
//! `condition_unmet`, `role_only`, `not_granted`.
//!
//! Two models are in force at once: v1.1 policies match the route's `bss:*` code, IAM 5.0
//! identity policies its v5 action (`billing:*`). The provider does not document how they
//! combine; permlens allows a call when either model allows it and neither denies it, which
//! is the same as judging the matching statements of both models together: a Deny of either
//! model beats an Allow of the other. Each matched statement and the decision name the model.

pub mod condition;
pub mod context;
pub mod history;
pub mod import;
pub mod pattern;
pub mod snapshot;
mod v5doc;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use jiff::Timestamp;

pub use condition::{RequestContext, Truth};
pub use history::History;
pub use pattern::ActionPattern;
pub use snapshot::{Effect, PolicyKind, PolicyModel, Snapshot, SnapshotError};

use crate::catalog::{Route, V5Basis};

/// What a call needs, per model: the v1.1 permission code and the IAM 5.0 requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Need<'a> {
    pub code: &'a str,
    pub v5: V5Need<'a>,
}

/// What a call needs under IAM 5.0 identity policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum V5Need<'a> {
    /// This action (or one of its aliases) must be allowed.
    Action {
        action: &'a str,
        aliases: &'a [String],
    },
    /// The provider says the API needs no identity-policy permission.
    NotRequired,
    /// No v5 action is known: identity policies neither allow nor deny the call.
    Unknown,
}

/// What [`Snapshot::decide`] takes: a route (both models), a [`Need`], or a bare v1.1 code
/// (`&str`, `&String`: nothing known under IAM 5.0).
pub trait IntoNeed<'a> {
    fn into_need(self) -> Need<'a>;
}

impl<'a> IntoNeed<'a> for Need<'a> {
    fn into_need(self) -> Need<'a> {
        self
    }
}

impl<'a> IntoNeed<'a> for &'a str {
    fn into_need(self) -> Need<'a> {
        Need {
            code: self,
            v5: V5Need::Unknown,
        }
    }
}

impl<'a> IntoNeed<'a> for &'a String {
    fn into_need(self) -> Need<'a> {
        self.as_str().into_need()
    }
}

impl<'a> IntoNeed<'a> for &&'a str {
    fn into_need(self) -> Need<'a> {
        (*self).into_need()
    }
}

impl<'a> IntoNeed<'a> for &&'a String {
    fn into_need(self) -> Need<'a> {
        (*self).into_need()
    }
}

impl<'a> IntoNeed<'a> for &'a Route {
    fn into_need(self) -> Need<'a> {
        Need::from(self)
    }
}

impl<'a> From<&'a Route> for Need<'a> {
    fn from(r: &'a Route) -> Need<'a> {
        let v5 = match (&r.v5.action, r.v5.basis) {
            (Some(action), _) => V5Need::Action {
                action,
                aliases: &r.v5.aliases,
            },
            (None, V5Basis::NotRequired) => V5Need::NotRequired,
            (None, _) => V5Need::Unknown,
        };
        Need {
            code: &r.permission,
            v5,
        }
    }
}

/// Why a call is (or may be) denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    UnknownUser,
    ExplicitDeny,
    ConditionUndecided,
    ConditionUnmet,
    RoleOnly,
    NotGranted,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownUser => "unknown_user",
            Reason::ExplicitDeny => "explicit_deny",
            Reason::ConditionUndecided => "condition_undecided",
            Reason::ConditionUnmet => "condition_unmet",
            Reason::RoleOnly => "role_only",
            Reason::NotGranted => "not_granted",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of the snapshot on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    Deny,
    /// Allowed or denied depending on a condition permlens cannot decide from the log.
    Undecided,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Undecided => "undecided",
        }
    }
}

/// Where a policy is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Group(usize),
    User,
}

/// A statement whose actions cover the permission code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    pub policy: usize,
    pub via: Via,
    pub statement: usize,
    pub effect: Effect,
    /// The action pattern that matched, as written.
    pub pattern: String,
    /// True for a Version 1.0 role, which is shown but never evaluated.
    pub role: bool,
    /// The model of the statement's policy.
    pub model: PolicyModel,
    /// How the statement's conditions came out (`Met` when it has none).
    pub truth: Truth,
    /// The first condition that was unmet or undecided, described.
    pub condition: Option<String>,
}

/// The decision for one user, permission and request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Set when the outcome is not `Allow`.
    pub reason: Option<Reason>,
    /// Index into `matched` of the statement that decided, if one did.
    pub deciding: Option<usize>,
    /// Every statement (policies and roles) whose actions cover the code.
    pub matched: Vec<MatchedStatement>,
    /// The model that decided: the deciding statement's, or v5 for an allow because IAM 5.0
    /// requires nothing for the API; `None` when no statement decided.
    pub model: Option<PolicyModel>,
    /// Why the outcome is undecided when no statement's condition is the reason: the user
    /// holds IAM 5.0 identity policies and the API's v5 action is unknown.
    pub note: Option<String>,
}

impl Decision {
    fn deny(reason: Reason, deciding: Option<usize>, matched: Vec<MatchedStatement>) -> Decision {
        let model = deciding.map(|i| matched[i].model);
        Decision {
            outcome: Outcome::Deny,
            reason: Some(reason),
            deciding,
            matched,
            model,
            note: None,
        }
    }

    /// The statement that decided, if any.
    pub fn deciding_statement(&self) -> Option<&MatchedStatement> {
        self.deciding.map(|i| &self.matched[i])
    }
}

/// One permission a set of policies grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// A catalog permission code, or for patterns no catalog route needs, the pattern as written.
    pub permission: String,
    /// Indexes into `Snapshot::policies`, in attachment order.
    pub policies: Vec<usize>,
    /// False when no catalog route needs this permission: its use can never be observed.
    pub observable: bool,
    /// True when every granting statement has conditions.
    pub conditional: bool,
    /// The model of the granting policies: v1.1 codes and v5 actions are separate grants.
    pub model: PolicyModel,
    /// True when the same policies deny it without a condition.
    pub denied: bool,
}

impl Snapshot {
    /// The date thresholds (microseconds) and IP networks of every time and IP condition, so
    /// the scan can group requests into classes these conditions treat alike.
    pub fn context_bounds(&self) -> (Vec<i64>, Vec<crate::net::IpNet>) {
        let conditions = self
            .policies
            .iter()
            .flat_map(|p| &p.statements)
            .flat_map(|s| &s.conditions);
        let mut dates = Vec::new();
        let mut nets = Vec::new();
        for c in conditions {
            dates.extend(c.dates().iter().map(|d| d.as_microsecond()));
            nets.extend_from_slice(c.nets());
        }
        (dates, nets)
    }

    /// Decides whether `user` may make a call needing `need` (a route, or a bare v1.1 code)
    /// at `time` from `ip`, judging the statements of both models together.
    pub fn decide<'n>(
        &self,
        user: &str,
        need: impl IntoNeed<'n>,
        time: Option<Timestamp>,
        ip: Option<IpAddr>,
    ) -> Decision {
        let need = need.into_need();
        let Some(u) = self.user(user) else {
            return Decision::deny(Reason::UnknownUser, None, Vec::new());
        };
        let user = &self.users[u];
        let urn = user.urn.clone().or_else(|| {
            self.domain_id
                .as_ref()
                .map(|d| format!("iam::{d}:user:{}", user.name))
        });
        let ctx = RequestContext {
            user_name: &user.name,
            user_id: user.id.as_deref(),
            domain_name: self.domain_name.as_deref(),
            domain_id: self.domain_id.as_deref(),
            principal_urn: urn.as_deref(),
            time,
            source_ip: ip,
        };
        let matched = self.matching_statements(u, need, &ctx);
        // IAM 5.0 requires nothing for this API: in an account on that model, the v5 side
        // allows it (a Deny of either model still wins).
        let v5_free = need.v5 == V5Need::NotRequired && self.has_identity_policies();
        let first = |f: &dyn Fn(&MatchedStatement) -> bool| matched.iter().position(f);
        let fine = |effect: Effect, truth: Truth| {
            move |m: &MatchedStatement| !m.role && m.effect == effect && m.truth == truth
        };

        if let Some(i) = first(&fine(Effect::Deny, Truth::Met)) {
            return Decision::deny(Reason::ExplicitDeny, Some(i), matched);
        }
        let allow_met = first(&fine(Effect::Allow, Truth::Met));
        let allow_undecided = first(&fine(Effect::Allow, Truth::Undecided));
        if allow_met.is_some() || allow_undecided.is_some() || v5_free {
            // A Deny we cannot decide matters only when something would allow the call.
            let deny_undecided = first(&fine(Effect::Deny, Truth::Undecided));
            let undecided = deny_undecided.or(if allow_met.is_none() && !v5_free {
                allow_undecided
            } else {
                None
            });
            return match undecided {
                Some(i) => Decision {
                    outcome: Outcome::Undecided,
                    reason: Some(Reason::ConditionUndecided),
                    deciding: Some(i),
                    model: Some(matched[i].model),
                    matched,
                    note: None,
                },
                None => Decision {
                    outcome: Outcome::Allow,
                    reason: None,
                    deciding: allow_met,
                    model: Some(allow_met.map_or(PolicyModel::V5, |i| matched[i].model)),
                    matched,
                    note: None,
                },
            };
        }
        // Nothing allows the call that permlens can see. If the API's v5 action is unknown
        // and the user holds identity policies, one of them may well allow it: undecided.
        if need.v5 == V5Need::Unknown && self.holds_identity_allow(u) {
            return Decision {
                outcome: Outcome::Undecided,
                reason: Some(Reason::ConditionUndecided),
                deciding: None,
                matched,
                model: Some(PolicyModel::V5),
                note: Some(
                    "IAM 5.0 action unknown for this API: the user's identity policies cannot be judged".into(),
                ),
            };
        }
        if let Some(i) = first(&fine(Effect::Allow, Truth::Unmet)) {
            return Decision::deny(Reason::ConditionUnmet, Some(i), matched);
        }
        if let Some(i) = first(&|m: &MatchedStatement| m.role && m.effect == Effect::Allow) {
            return Decision::deny(Reason::RoleOnly, Some(i), matched);
        }
        Decision::deny(Reason::NotGranted, None, matched)
    }

    /// True when an identity policy with an Allow statement is attached to the user (directly
    /// or through a group).
    fn holds_identity_allow(&self, u: usize) -> bool {
        self.attached(u).any(|(p, _)| {
            let policy = &self.policies[p];
            policy.kind == PolicyKind::Identity
                && policy.statements.iter().any(|s| s.effect == Effect::Allow)
        })
    }

    /// True when a decision for this user and need can differ between requests (a matching
    /// statement has a `g:CurrentTime` or `g:SourceIp` condition), so it cannot be cached
    /// per user and need.
    pub fn depends_on_request<'n>(&self, user: &str, need: impl IntoNeed<'n>) -> bool {
        let need = need.into_need();
        let Some(u) = self.user(user) else {
            return false;
        };
        self.attached(u).any(|(p, _)| {
            let policy = &self.policies[p];
            policy.kind.evaluated()
                && policy.statements.iter().any(|s| {
                    statement_covers(policy.kind, s, need).is_some()
                        && s.conditions
                            .iter()
                            .any(|c| c.key_kind().depends_on_request())
                })
        })
    }

    /// Policies attached to the user's groups, then directly to the user.
    fn attached(&self, u: usize) -> impl Iterator<Item = (usize, Via)> + '_ {
        let user = &self.users[u];
        user.groups
            .iter()
            .flat_map(move |&g| {
                self.groups[g]
                    .policies
                    .iter()
                    .map(move |&p| (p, Via::Group(g)))
            })
            .chain(user.policies.iter().map(|&p| (p, Via::User)))
    }

    fn matching_statements(
        &self,
        u: usize,
        need: Need<'_>,
        ctx: &RequestContext<'_>,
    ) -> Vec<MatchedStatement> {
        let mut out = Vec::new();
        for (p, via) in self.attached(u) {
            let policy = &self.policies[p];
            for (si, st) in policy.statements.iter().enumerate() {
                let Some(pattern) = statement_covers(policy.kind, st, need) else {
                    continue;
                };
                let role = policy.kind == PolicyKind::Role;
                let (truth, condition) = if role {
                    (Truth::Met, None)
                } else {
                    all_conditions(&st.conditions, ctx)
                };
                out.push(MatchedStatement {
                    policy: p,
                    via,
                    statement: si,
                    effect: st.effect,
                    pattern,
                    role,
                    model: policy.kind.model(),
                    truth,
                    condition,
                });
            }
        }
        out
    }

    /// What these policies grant: catalog codes the Allow patterns of v1.1 policies cover,
    /// catalog v5 actions (`v5_codes`) those of identity policies cover, and, as written,
    /// Allow patterns that cover none of their model's codes (`bss:invoice:view`,
    /// `bss:contract:*`, `ecs:*:*`): those are unobservable. Roles grant nothing. A code is
    /// `denied` when the same policies of its model deny it without a condition.
    pub fn grants(
        &self,
        policies: &[usize],
        catalog_codes: &[String],
        v5_codes: &[String],
    ) -> Vec<Grant> {
        let mut by_code: BTreeMap<(String, PolicyModel), Grant> = BTreeMap::new();
        let mut add = |permission: &str,
                       model: PolicyModel,
                       p: usize,
                       observable: bool,
                       conditional: bool| {
            let g = by_code
                .entry((permission.to_owned(), model))
                .or_insert_with(|| Grant {
                    permission: permission.to_owned(),
                    policies: Vec::new(),
                    observable,
                    conditional: true,
                    denied: false,
                    model,
                });
            if !g.policies.contains(&p) {
                g.policies.push(p);
            }
            g.conditional &= conditional;
        };
        for &p in policies {
            let policy = &self.policies[p];
            if !policy.kind.evaluated() {
                continue;
            }
            let model = policy.kind.model();
            let codes = match model {
                PolicyModel::V11 => catalog_codes,
                PolicyModel::V5 => v5_codes,
            };
            for st in policy
                .statements
                .iter()
                .filter(|s| s.effect == Effect::Allow && s.all_resources)
            {
                let conditional = !st.conditions.is_empty();
                if st.not_action {
                    // Everything but the listed actions: what it covers of the catalog.
                    for code in codes.iter().filter(|c| st.covers(c, &[]).is_some()) {
                        add(code, model, p, true, conditional);
                    }
                    continue;
                }
                for action in &st.actions {
                    let mut covered = false;
                    for code in codes.iter().filter(|c| action.matches(c)) {
                        covered = true;
                        add(code, model, p, true, conditional);
                    }
                    // A pattern that covers no catalog code (`bss:contract:*`, another
                    // service's `ecs:*:*`): granted, but its use can never be observed in
                    // these logs; reported as written.
                    if !covered {
                        add(action.as_str(), model, p, false, conditional);
                    }
                }
            }
        }
        for g in by_code.values_mut() {
            g.denied = g.observable && self.denies_unconditionally(policies, &g.permission);
        }
        by_code.into_values().collect()
    }

    /// True when one of these evaluated policies denies `code` with no condition (a v1.1
    /// code is denied by v1.1 statements, a v5 action by v5 ones: their names differ).
    pub fn denies_unconditionally(&self, policies: &[usize], code: &str) -> bool {
        policies.iter().any(|&p| {
            let policy = &self.policies[p];
            policy.kind.evaluated()
                && policy.statements.iter().any(|s| {
                    s.effect == Effect::Deny
                        && s.conditions.is_empty()
                        && s.covers(code, &[]).is_some()
                })
        })
    }
}

/// The pattern through which a statement of a policy of `kind` covers `need`: v1.1 policies
/// and roles match its v1.1 code, identity policies its v5 action (or an alias).
fn statement_covers(kind: PolicyKind, st: &snapshot::Statement, need: Need<'_>) -> Option<String> {
    match kind {
        PolicyKind::Policy | PolicyKind::Role => st
            .actions
            .iter()
            .find(|a| a.matches(need.code))
            .map(|a| a.as_str().to_owned()),
        PolicyKind::Identity => match need.v5 {
            V5Need::Action { action, aliases } => st.covers(action, aliases),
            // Whatever the action is, `*` covers it.
            V5Need::Unknown if st.all_resources && !st.not_action => st
                .actions
                .iter()
                .find(|a| a.matches_everything())
                .map(|a| a.as_str().to_owned()),
            V5Need::NotRequired | V5Need::Unknown => None,
        },
    }
}

/// All conditions of a statement: unmet if any is unmet, else undecided if any is undecided.
fn all_conditions(
    conditions: &[condition::Condition],
    ctx: &RequestContext<'_>,
) -> (Truth, Option<String>) {
    let mut undecided = None;
    for c in conditions {
        match c.evaluate(ctx) {
            Truth::Met => {}
            Truth::Unmet => return (Truth::Unmet, Some(c.describe())),
            Truth::Undecided => {
                undecided.get_or_insert_with(|| c.describe());
            }
        }
    }
    match undecided {
        Some(c) => (Truth::Undecided, Some(c)),
        None => (Truth::Met, None),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_v5;
