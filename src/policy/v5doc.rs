//! The least-privilege IAM 5.0 identity policy for a set of policies (a group's): what a
//! group would need under the identity-policy model for what its members did.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::snapshot::Statement;
use super::{Effect, Need, PolicyKind, Snapshot, statement_covers};
use crate::catalog::Catalog;

impl Snapshot {
    /// A `"Version": "5.0"` document allowing the v5 actions of the catalog routes that
    /// `policies` allow (under either model) and whose v5 action is in `used` (the codes and
    /// actions the members used successfully), with `Resource` `*`; the Deny statements of the
    /// v5 policies among `policies` are kept as written. `None` when it would allow nothing.
    /// Conditions of the granting statements are not carried over (a v1.1 condition's keys
    /// may not exist in v5): the caller says so.
    pub fn least_privilege_v5(
        &self,
        policies: &[usize],
        used: &BTreeSet<String>,
        catalog: &Catalog,
    ) -> Option<Value> {
        let mut actions: BTreeSet<&str> = BTreeSet::new();
        for route in catalog.routes() {
            let Some(action) = route.v5.action.as_deref() else {
                continue;
            };
            if !used.contains(action) {
                continue;
            }
            let need = Need::from(route);
            let granted = policies.iter().any(|&p| {
                let policy = &self.policies[p];
                policy.kind.evaluated()
                    && policy.statements.iter().any(|s| {
                        s.effect == Effect::Allow
                            && statement_covers(policy.kind, s, need).is_some()
                    })
            });
            if granted {
                actions.insert(action);
            }
        }
        if actions.is_empty() {
            return None;
        }
        let mut statements = vec![json!({"Effect": "Allow", "Action": actions, "Resource": ["*"]})];
        for &p in policies {
            let policy = &self.policies[p];
            if policy.kind != PolicyKind::Identity {
                continue;
            }
            statements.extend(
                policy
                    .statements
                    .iter()
                    .filter(|s| s.effect == Effect::Deny)
                    .map(deny_json),
            );
        }
        Some(json!({"Version": "5.0", "Statement": statements}))
    }
}

fn deny_json(st: &Statement) -> Value {
    let patterns: Vec<&str> = st.actions.iter().map(|a| a.as_str()).collect();
    let key = if st.not_action { "NotAction" } else { "Action" };
    let mut v = json!({"Effect": "Deny", key: patterns, "Resource": ["*"]});
    if !st.conditions.is_empty() {
        let mut by_op: BTreeMap<&str, BTreeMap<&str, &Vec<String>>> = BTreeMap::new();
        for c in &st.conditions {
            by_op
                .entry(&c.operator)
                .or_default()
                .insert(&c.key, &c.values);
        }
        v["Condition"] = json!(by_op);
    }
    v
}
