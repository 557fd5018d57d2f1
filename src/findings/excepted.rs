//! Applying accepted exceptions ([`crate::exceptions`]) to the findings: each finding row an
//! exception in force covers names it (`excepted_by`), never counts for `--fail-on`, and is
//! counted apart; exceptions past their expiry apply to nothing and are reported, and those
//! in force that matched nothing in the window are reported as stale.

use super::{Findings, Verdict};
use crate::catalog::Catalog;
use crate::exceptions::{Exception, Subject};
use crate::policy::Snapshot;

/// What the exceptions did, for the summary.
#[derive(Debug, Clone, Default)]
pub struct ExceptionReport {
    /// The file, as given.
    pub file: String,
    /// Exceptions in force and the finding rows each covers.
    pub applied: Vec<(String, u64)>,
    /// (id, expires as written) of exceptions past their expiry.
    pub expired: Vec<(String, String)>,
    /// Exceptions in force that covered no finding.
    pub stale: Vec<String>,
}

/// Which rows are excepted, beside the tables (index for index), and by what.
#[derive(Debug, Clone, Default)]
pub struct Excepted {
    pub denied: Vec<Option<String>>,
    pub group_permissions: Vec<Option<String>>,
    pub unused: Vec<Option<String>>,
    /// Per group summary: its unused grants that are excepted.
    pub groups_unused: Vec<u32>,
}

impl Excepted {
    pub fn denied(&self, i: usize) -> Option<&str> {
        self.denied.get(i).and_then(|e| e.as_deref())
    }
    pub fn group_permission(&self, i: usize) -> Option<&str> {
        self.group_permissions.get(i).and_then(|e| e.as_deref())
    }
    pub fn unused(&self, i: usize) -> Option<&str> {
        self.unused.get(i).and_then(|e| e.as_deref())
    }
    pub fn group_unused(&self, i: usize) -> u32 {
        self.groups_unused.get(i).copied().unwrap_or(0)
    }
}

/// A granting policy's name without the scope a grant shows (`P [project p1]`).
fn policy_name(granted_by: &str) -> &str {
    granted_by.split(" [").next().unwrap_or(granted_by)
}

/// The kinds (`--fail-on` names) a denied call of `verdict` counts as.
pub fn kinds_of(verdict: Verdict) -> &'static [&'static str] {
    match verdict {
        Verdict::Confirmed => &["denied"],
        Verdict::PredictedOnly => &["drift"],
        Verdict::ObservedOnly => &["denied", "drift"],
    }
}

/// Marks the rows of `f` the exceptions in force at `now` (microseconds) cover. `snapshot` is
/// the one group findings were computed with (the latest).
pub fn apply(
    f: &mut Findings,
    exceptions: &[Exception],
    file: &str,
    snapshot: &Snapshot,
    catalog: &Catalog,
    now: i64,
) -> ExceptionReport {
    let mut report = ExceptionReport {
        file: file.to_owned(),
        ..ExceptionReport::default()
    };
    let in_force: Vec<&Exception> = exceptions.iter().filter(|e| !e.expired(now)).collect();
    for e in exceptions.iter().filter(|e| e.expired(now)) {
        report.expired.push((e.id.clone(), e.expires_text.clone()));
    }
    let mut hits = vec![0u64; in_force.len()];
    let mut first = |s: &Subject<'_>| -> Option<String> {
        let i = in_force.iter().position(|e| e.matches(s))?;
        hits[i] += 1;
        Some(in_force[i].id.clone())
    };
    // Each user's groups, by name.
    let groups_of = |user: &str| -> Vec<&str> {
        match snapshot.user(user) {
            Some(u) => snapshot
                .groups
                .iter()
                .filter(|g| g.members.contains(&u))
                .map(|g| g.name.as_str())
                .collect(),
            None => Vec::new(),
        }
    };
    let mut ex = Excepted::default();
    for d in &f.denied {
        let route = catalog.route(d.route);
        let groups = groups_of(&d.user);
        let policies: Vec<&str> = d
            .policy
            .as_deref()
            .map_or(Vec::new(), |p| p.split(';').collect());
        ex.denied.push(first(&Subject {
            kinds: kinds_of(d.verdict),
            user: Some(&d.user),
            groups: &groups,
            policies: &policies,
            permission: Some(&route.permission),
            route: Some((route.method.as_str(), route.template.as_str())),
            verdict: Some(d.verdict.as_str()),
        }));
    }
    ex.groups_unused = vec![0; f.groups.len()];
    for p in &f.group_permissions {
        if p.state != super::GrantState::Unused {
            ex.group_permissions.push(None);
            continue;
        }
        let group = snapshot.groups[p.group].name.as_str();
        let policies: Vec<&str> = p.granted_by.iter().map(|g| policy_name(g)).collect();
        let by = first(&Subject {
            kinds: &["over-privileged", "unused"],
            groups: &[group],
            policies: &policies,
            permission: Some(&p.permission),
            ..Subject::default()
        });
        if by.is_some()
            && let Some(i) = f.groups.iter().position(|g| g.group == p.group)
        {
            ex.groups_unused[i] += 1;
        }
        ex.group_permissions.push(by);
    }
    for u in &f.unused {
        let is_group = u.principal_type == "group";
        let groups = if is_group {
            vec![u.principal.as_str()]
        } else {
            groups_of(&u.principal)
        };
        let kinds: &[&str] = if is_group {
            &["unused", "over-privileged"]
        } else {
            &["unused"]
        };
        ex.unused.push(first(&Subject {
            kinds,
            user: (!is_group).then_some(u.principal.as_str()),
            groups: &groups,
            policies: &u.granted_by.split(';').map(policy_name).collect::<Vec<_>>(),
            permission: Some(&u.permission),
            ..Subject::default()
        }));
    }
    for (e, n) in in_force.iter().zip(&hits) {
        report.applied.push((e.id.clone(), *n));
        if *n == 0 {
            report.stale.push(e.id.clone());
        }
    }
    f.excepted = ex;
    report
}
