//! `changes`: what changed since the previous run that wrote the same report directory.
//!
//! Each run leaves `findings_index.json` in its report: the keys of its findings (denials,
//! unused and used permissions, over-privileged groups). The next run compares its own with
//! the one in the report it replaces. The first run (or one after a report without an index)
//! has nothing to compare with: no changes, and `summary.json` says `previous_run: null`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::tables::col;
use crate::catalog::Catalog;
use crate::findings::{Findings, State};
use crate::policy::Snapshot;

/// The index file in a report directory.
pub const INDEX: &str = "findings_index.json";

/// A denial, as compared between runs: user, method, route, permission, verdict.
type DenialKey = (String, String, String, String, String);

/// The keys of one run's findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingsIndex {
    pub run_started_at: String,
    /// Denials with their reason.
    pub denied: BTreeMap<String, (DenialKey, String)>,
    /// (principal type, principal, permission).
    pub unused: BTreeSet<(String, String, String)>,
    /// (group, permission) used in the window.
    pub used: BTreeSet<(String, String)>,
    /// Over-privileged group -> unused permissions.
    pub over_privileged: BTreeMap<String, u32>,
}

impl FindingsIndex {
    pub fn of(
        f: &Findings,
        snapshot: &Snapshot,
        catalog: &Catalog,
        started: jiff::Timestamp,
    ) -> FindingsIndex {
        let mut index = FindingsIndex {
            run_started_at: started.to_string(),
            ..FindingsIndex::default()
        };
        // Collected, then built in bulk (sorted once; for equal texts the last row wins, as
        // with inserts one by one).
        index.denied = f
            .denied
            .iter()
            .map(|d| {
                let r = catalog.route(d.route);
                let (method, template, verdict) =
                    (r.method.as_str(), r.template.as_str(), d.verdict.as_str());
                let mut text = String::with_capacity(
                    d.user.len() + method.len() + template.len() + verdict.len() + 3,
                );
                for (i, part) in [d.user.as_str(), method, template, verdict]
                    .into_iter()
                    .enumerate()
                {
                    if i > 0 {
                        text.push('\t');
                    }
                    text.push_str(part);
                }
                let key = (
                    d.user.clone(),
                    method.to_owned(),
                    template.to_owned(),
                    r.permission.clone(),
                    verdict.to_owned(),
                );
                (text, (key, d.reason.to_owned()))
            })
            .collect();
        for u in &f.unused {
            index.unused.insert((
                u.principal_type.to_owned(),
                u.principal.clone(),
                u.permission.clone(),
            ));
        }
        for g in &f.group_permissions {
            if g.state == State::Used {
                index
                    .used
                    .insert((snapshot.groups[g.group].name.clone(), g.permission.clone()));
            }
        }
        for g in f.over_privileged() {
            index
                .over_privileged
                .insert(snapshot.groups[g.group].name.clone(), g.unused);
        }
        index
    }
}

/// One row of `changes`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// `newly_denied`, `denial_resolved`, `newly_unused`, `newly_used`,
    /// `newly_over_privileged`, `no_longer_over_privileged`.
    pub change: &'static str,
    /// `user` or `group`.
    pub subject_type: String,
    pub subject: String,
    pub permission: Option<String>,
    /// `METHOD template` for denials.
    pub route: Option<String>,
    pub detail: String,
}

pub const KINDS: [&str; 6] = [
    "newly_denied",
    "denial_resolved",
    "newly_unused",
    "newly_used",
    "newly_over_privileged",
    "no_longer_over_privileged",
];

/// The index in the report directory a run is about to replace, if any.
pub fn read_previous(out: &Path) -> Option<FindingsIndex> {
    let path = out.join(INDEX);
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str(&text) {
        Ok(index) => Some(index),
        Err(e) => {
            crate::log::warn(&format!(
                "{}: not a findings index ({e}); changes are not reported this run",
                path.display()
            ));
            None
        }
    }
}

/// What changed from `previous` to `now`; nothing without a previous run.
pub fn diff(previous: Option<&FindingsIndex>, now: &FindingsIndex) -> Vec<Change> {
    let Some(prev) = previous else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let denial = |change, (k, reason): &(DenialKey, String), detail: String| Change {
        change,
        subject_type: "user".into(),
        subject: k.0.clone(),
        permission: Some(k.3.clone()),
        route: Some(format!("{} {}", k.1, k.2)),
        detail: format!("{} ({reason}){detail}", k.4),
    };
    for (key, d) in &now.denied {
        if !prev.denied.contains_key(key) {
            out.push(denial("newly_denied", d, String::new()));
        }
    }
    for (key, d) in &prev.denied {
        if !now.denied.contains_key(key) {
            out.push(denial(
                "denial_resolved",
                d,
                "; no such row among the denied calls of this run".into(),
            ));
        }
    }
    for u in now.unused.difference(&prev.unused) {
        out.push(Change {
            change: "newly_unused",
            subject_type: u.0.clone(),
            subject: u.1.clone(),
            permission: Some(u.2.clone()),
            route: None,
            detail: String::new(),
        });
    }
    for u in now.used.difference(&prev.used) {
        out.push(Change {
            change: "newly_used",
            subject_type: "group".into(),
            subject: u.0.clone(),
            permission: Some(u.1.clone()),
            route: None,
            detail: String::new(),
        });
    }
    for (g, n) in &now.over_privileged {
        if !prev.over_privileged.contains_key(g) {
            out.push(Change {
                change: "newly_over_privileged",
                subject_type: "group".into(),
                subject: g.clone(),
                permission: None,
                route: None,
                detail: format!("{n} unused permissions"),
            });
        }
    }
    for g in prev.over_privileged.keys() {
        if !now.over_privileged.contains_key(g) {
            out.push(Change {
                change: "no_longer_over_privileged",
                subject_type: "group".into(),
                subject: g.clone(),
                permission: None,
                route: None,
                detail: String::new(),
            });
        }
    }
    out.sort_by(|a, b| {
        let rank = |c: &Change| KINDS.iter().position(|k| *k == c.change);
        rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
    });
    out
}

/// Counts per kind for `summary.json`.
pub fn counts(previous: Option<&FindingsIndex>, list: &[Change]) -> serde_json::Value {
    let mut v = json!({
        "previous_run": previous.map(|p| p.run_started_at.clone()),
    });
    for k in KINDS {
        v[k] = json!(list.iter().filter(|c| c.change == k).count());
    }
    v
}

pub fn table(list: &[Change]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        list.len(),
        vec![
            col("change", list.iter().map(|c| c.change)),
            col("subject_type", list.iter().map(|c| c.subject_type.clone())),
            col("subject", list.iter().map(|c| c.subject.clone())),
            col("permission", list.iter().map(|c| c.permission.clone())),
            col("route", list.iter().map(|c| c.route.clone())),
            col("detail", list.iter().map(|c| c.detail.clone())),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> FindingsIndex {
        let mut i = FindingsIndex {
            run_started_at: "2026-11-27T02:00:00Z".into(),
            ..FindingsIndex::default()
        };
        let k = (
            "alice".to_owned(),
            "GET".to_owned(),
            "/v2/x".to_owned(),
            "bss:order:view".to_owned(),
            "confirmed".to_owned(),
        );
        i.denied.insert(
            "alice\tGET\t/v2/x\tconfirmed".into(),
            (k, "not_granted".into()),
        );
        i.unused
            .insert(("group".into(), "Ops".into(), "bss:bill:view".into()));
        i.used.insert(("Ops".into(), "bss:order:view".into()));
        i.over_privileged.insert("Ops".into(), 1);
        i
    }

    #[test]
    fn no_previous_run_means_no_changes() {
        assert!(diff(None, &index()).is_empty());
        assert_eq!(counts(None, &[])["previous_run"], serde_json::Value::Null);
        assert!(diff(Some(&index()), &index()).is_empty());
    }

    #[test]
    fn every_kind_of_change_is_reported() {
        let before = index();
        let mut after = FindingsIndex::default();
        after
            .unused
            .insert(("user".into(), "bob".into(), "bss:order:update".into()));
        after.used.insert(("Ops".into(), "bss:bill:view".into()));
        after.over_privileged.insert("Dev".into(), 2);
        let k = (
            "bob".to_owned(),
            "POST".to_owned(),
            "/v2/y".to_owned(),
            "bss:order:update".to_owned(),
            "observed_only".to_owned(),
        );
        after.denied.insert(
            "bob\tPOST\t/v2/y\tobserved_only".into(),
            (k, "gateway_acl".into()),
        );
        let list = diff(Some(&before), &after);
        let kinds: Vec<&str> = list.iter().map(|c| c.change).collect();
        assert_eq!(kinds, KINDS.to_vec());
        assert_eq!(list[0].detail, "observed_only (gateway_acl)");
        assert_eq!(list[0].route.as_deref(), Some("POST /v2/y"));
        let c = counts(Some(&before), &list);
        assert_eq!(c["newly_denied"], 1);
        assert_eq!(c["previous_run"], "2026-11-27T02:00:00Z");
        // The index survives a JSON round trip (it is read back by the next run).
        let text = serde_json::to_string(&after).unwrap();
        assert_eq!(serde_json::from_str::<FindingsIndex>(&text).unwrap(), after);
    }
}
