//! The findings tables, built with polars at the reporting edge.

use std::collections::HashSet;

use polars::prelude::*;

use super::tables::samples_column;
use crate::aggregate::day_start;
use crate::catalog::Catalog;
use crate::findings::Findings;
use crate::findings::recommend_file_stem;
use crate::frame::{col, datetime_column};
use crate::policy::Snapshot;

/// `denied_calls`: user x route x verdict x reason.
pub fn denied_calls(f: &Findings, catalog: &Catalog) -> PolarsResult<DataFrame> {
    let d = &f.denied;
    let route = |r: &crate::findings::DeniedCall| catalog.route(r.route);
    DataFrame::new(
        d.len(),
        vec![
            col("user", d.iter().map(|r| r.user.as_str())),
            col("method", d.iter().map(|r| route(r).method.as_str())),
            col("route", d.iter().map(|r| route(r).template.as_str())),
            col("api", d.iter().map(|r| route(r).api.as_str())),
            col("permission", d.iter().map(|r| route(r).permission.as_str())),
            col("verdict", d.iter().map(|r| r.verdict.as_str())),
            col("reason", d.iter().map(|r| r.reason)),
            col("policy", d.iter().map(|r| r.policy.as_deref())),
            col("condition", d.iter().map(|r| r.condition.as_deref())),
            col("snapshot", d.iter().map(|r| r.snapshot.as_str())),
            col("count", d.iter().map(|r| r.cell.count)),
            datetime_column(
                "first_seen",
                d.iter().map(|r| Some(r.cell.first_seen)).collect(),
            )?,
            datetime_column(
                "last_seen",
                d.iter().map(|r| Some(r.cell.last_seen)).collect(),
            )?,
            samples_column("sample_request_ids", d.iter().map(|r| &r.cell.samples)),
            col("source", d.iter().map(|r| r.source)),
            col("excepted_by", (0..d.len()).map(|i| f.excepted.denied(i))),
        ],
    )
}

/// `denied_per_day`: the requests of `denied_calls` per UTC day, verdict and reason.
pub fn denied_per_day(f: &Findings) -> PolarsResult<DataFrame> {
    let d = &f.denied_per_day;
    DataFrame::new(
        d.len(),
        vec![
            datetime_column("day", d.iter().map(|r| Some(day_start(r.day))).collect())?,
            col("verdict", d.iter().map(|r| r.verdict.as_str())),
            col("reason", d.iter().map(|r| r.reason)),
            col("count", d.iter().map(|r| r.count)),
        ],
    )
}

/// `group_permissions`: group x permission.
pub fn group_permissions(f: &Findings, snapshot: &Snapshot) -> PolarsResult<DataFrame> {
    let g = &f.group_permissions;
    DataFrame::new(
        g.len(),
        vec![
            col(
                "group",
                g.iter().map(|r| snapshot.groups[r.group].name.clone()),
            ),
            col("permission", g.iter().map(|r| r.permission.clone())),
            col("granted_by", g.iter().map(|r| r.granted_by.join(";"))),
            col("state", g.iter().map(|r| r.state.as_str())),
            col("conditional", g.iter().map(|r| r.conditional)),
            datetime_column("last_used", g.iter().map(|r| r.last_used).collect())?,
            col("users_used", g.iter().map(|r| r.users_used)),
            col(
                "excepted_by",
                (0..g.len()).map(|i| f.excepted.group_permission(i)),
            ),
        ],
    )
}

/// `over_privileged_groups`: groups with at least one unused observable permission, worst first.
pub fn over_privileged_groups(f: &Findings, snapshot: &Snapshot) -> PolarsResult<DataFrame> {
    let (at, g): (Vec<usize>, Vec<_>) = (f.groups.iter().enumerate())
        .filter(|(_, g)| g.unused > 0)
        .unzip();
    DataFrame::new(
        g.len(),
        vec![
            col(
                "group",
                g.iter().map(|r| snapshot.groups[r.group].name.clone()),
            ),
            col("members", g.iter().map(|r| r.members)),
            col("active_members", g.iter().map(|r| r.active_members)),
            col("granted", g.iter().map(|r| r.granted)),
            col("used", g.iter().map(|r| r.used)),
            col("unused", g.iter().map(|r| r.unused)),
            col("unobservable", g.iter().map(|r| r.unobservable)),
            col("denied", g.iter().map(|r| r.denied)),
            col("unused_ratio", g.iter().map(|r| r.unused_ratio)),
            col(
                "unused_permissions",
                g.iter().map(|r| r.unused_permissions.join(";")),
            ),
            col(
                "unused_excepted",
                at.iter().map(|&i| f.excepted.group_unused(i)),
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
            col("principal_type", u.iter().map(|r| r.principal_type)),
            col("principal", u.iter().map(|r| r.principal.clone())),
            col("permission", u.iter().map(|r| r.permission.clone())),
            col("granted_by", u.iter().map(|r| r.granted_by.clone())),
            datetime_column("last_used", u.iter().map(|r| r.last_used).collect())?,
            col("excepted_by", (0..u.len()).map(|i| f.excepted.unused(i))),
        ],
    )
}

/// `recommendations`.
pub fn recommendations(f: &Findings) -> PolarsResult<DataFrame> {
    let r = &f.recommendations;
    DataFrame::new(
        r.len(),
        vec![
            col("group", r.iter().map(|x| x.group.clone())),
            col("action", r.iter().map(|x| x.action)),
            col("target", r.iter().map(|x| x.target.clone())),
            col("detail", r.iter().map(|x| x.detail.clone())),
            col("confidence", r.iter().map(|x| x.confidence)),
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
