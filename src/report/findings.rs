//! The findings tables, built with polars at the reporting edge.

use std::collections::HashSet;

use polars::prelude::*;

use super::tables::{datetime_column, samples_text};
use crate::catalog::Catalog;
use crate::findings::Findings;
use crate::findings::recommend_file_stem;
use crate::policy::Snapshot;

/// `denied_calls`: user x route x verdict x reason.
pub fn denied_calls(f: &Findings, catalog: &Catalog) -> PolarsResult<DataFrame> {
    let d = &f.denied;
    let route = |i: usize| catalog.route(d[i].route);
    let idx: Vec<usize> = (0..d.len()).collect();
    DataFrame::new(
        d.len(),
        vec![
            Column::new(
                "user".into(),
                d.iter().map(|r| r.user.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "method".into(),
                idx.iter()
                    .map(|&i| route(i).method.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "route".into(),
                idx.iter()
                    .map(|&i| route(i).template.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "api".into(),
                idx.iter()
                    .map(|&i| route(i).api.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "permission".into(),
                idx.iter()
                    .map(|&i| route(i).permission.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "verdict".into(),
                d.iter().map(|r| r.verdict.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "reason".into(),
                d.iter().map(|r| r.reason).collect::<Vec<_>>(),
            ),
            Column::new(
                "policy".into(),
                d.iter().map(|r| r.policy.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "condition".into(),
                d.iter().map(|r| r.condition.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "count".into(),
                d.iter().map(|r| r.cell.count).collect::<Vec<_>>(),
            ),
            datetime_column(
                "first_seen",
                d.iter().map(|r| Some(r.cell.first_seen)).collect(),
            )?,
            datetime_column(
                "last_seen",
                d.iter().map(|r| Some(r.cell.last_seen)).collect(),
            )?,
            Column::new(
                "sample_request_ids".into(),
                d.iter().map(|r| samples_text(&r.cell)).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// `group_permissions`: group x permission.
pub fn group_permissions(f: &Findings, snapshot: &Snapshot) -> PolarsResult<DataFrame> {
    let g = &f.group_permissions;
    DataFrame::new(
        g.len(),
        vec![
            Column::new(
                "group".into(),
                g.iter()
                    .map(|r| snapshot.groups[r.group].name.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "permission".into(),
                g.iter().map(|r| r.permission.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "granted_by".into(),
                g.iter().map(|r| r.granted_by.join(";")).collect::<Vec<_>>(),
            ),
            Column::new(
                "state".into(),
                g.iter().map(|r| r.state.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "conditional".into(),
                g.iter().map(|r| r.conditional).collect::<Vec<_>>(),
            ),
            datetime_column("last_used", g.iter().map(|r| r.last_used).collect())?,
            Column::new(
                "users_used".into(),
                g.iter().map(|r| r.users_used).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// `over_privileged_groups`: groups with at least one unused observable permission, worst first.
pub fn over_privileged_groups(f: &Findings, snapshot: &Snapshot) -> PolarsResult<DataFrame> {
    let g: Vec<_> = f.over_privileged().collect();
    DataFrame::new(
        g.len(),
        vec![
            Column::new(
                "group".into(),
                g.iter()
                    .map(|r| snapshot.groups[r.group].name.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "members".into(),
                g.iter().map(|r| r.members).collect::<Vec<_>>(),
            ),
            Column::new(
                "active_members".into(),
                g.iter().map(|r| r.active_members).collect::<Vec<_>>(),
            ),
            Column::new(
                "granted".into(),
                g.iter().map(|r| r.granted).collect::<Vec<_>>(),
            ),
            Column::new("used".into(), g.iter().map(|r| r.used).collect::<Vec<_>>()),
            Column::new(
                "unused".into(),
                g.iter().map(|r| r.unused).collect::<Vec<_>>(),
            ),
            Column::new(
                "unobservable".into(),
                g.iter().map(|r| r.unobservable).collect::<Vec<_>>(),
            ),
            Column::new(
                "denied".into(),
                g.iter().map(|r| r.denied).collect::<Vec<_>>(),
            ),
            Column::new(
                "unused_ratio".into(),
                g.iter().map(|r| r.unused_ratio).collect::<Vec<_>>(),
            ),
            Column::new(
                "unused_permissions".into(),
                g.iter()
                    .map(|r| r.unused_permissions.join(";"))
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// `unused_permissions`: principal x permission x granting policy.
pub fn unused_permissions(f: &Findings) -> PolarsResult<DataFrame> {
    let u = &f.unused;
    DataFrame::new(
        u.len(),
        vec![
            Column::new(
                "principal_type".into(),
                u.iter().map(|r| r.principal_type).collect::<Vec<_>>(),
            ),
            Column::new(
                "principal".into(),
                u.iter().map(|r| r.principal.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "permission".into(),
                u.iter().map(|r| r.permission.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "granted_by".into(),
                u.iter().map(|r| r.granted_by.clone()).collect::<Vec<_>>(),
            ),
            datetime_column("last_used", u.iter().map(|_| None).collect())?,
        ],
    )
}

/// `recommendations`.
pub fn recommendations(f: &Findings) -> PolarsResult<DataFrame> {
    let r = &f.recommendations;
    DataFrame::new(
        r.len(),
        vec![
            Column::new(
                "group".into(),
                r.iter().map(|x| x.group.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "action".into(),
                r.iter().map(|x| x.action).collect::<Vec<_>>(),
            ),
            Column::new(
                "target".into(),
                r.iter().map(|x| x.target.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "detail".into(),
                r.iter().map(|x| x.detail.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "confidence".into(),
                r.iter().map(|x| x.confidence).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// `policies/<group>.json` paths, unique even when two group names sanitise alike.
pub fn policy_files(f: &Findings) -> Vec<(String, &serde_json::Value)> {
    let mut taken = HashSet::new();
    f.policies
        .iter()
        .map(|(group, doc)| {
            let stem = recommend_file_stem(group);
            let mut name = stem.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{stem}-{n}");
                n += 1;
            }
            (format!("policies/{name}.json"), doc)
        })
        .collect()
}
