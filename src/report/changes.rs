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

use crate::catalog::Catalog;
use crate::findings::{Findings, GrantState};
use crate::frame::col;
use crate::policy::Snapshot;

/// The index file in a report directory.
pub const INDEX: &str = "findings_index.json";

/// A denial as indexes before 2026-11-28 kept it: user, method, route, permission, verdict.
type DenialKey = (String, String, String, String, String);

/// The keys of one run's findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingsIndex {
    pub run_started_at: String,
    /// Denials, one row each: `user\tMETHOD\ttemplate\tverdict\tpermission\treason`. Runs
    /// compare the first four fields ([`denial_key`]); rows are sorted by them, one a key.
    /// One string a row: the index of a 1 GiB log holds ~8k denials, and seven strings a
    /// row made building, writing and reading it back a tenth of the report's work.
    #[serde(deserialize_with = "denied_rows")]
    pub denied: Vec<String>,
    /// (principal type, principal, permission).
    pub unused: BTreeSet<(String, String, String)>,
    /// (group, permission) used in the window.
    pub used: BTreeSet<(String, String)>,
    /// Over-privileged group -> unused permissions.
    pub over_privileged: BTreeMap<String, u32>,
}

/// A denial row of the index (see [`FindingsIndex::denied`]).
pub fn denial_row(
    user: &str,
    method: &str,
    template: &str,
    verdict: &str,
    permission: &str,
    reason: &str,
) -> String {
    let parts = [user, method, template, verdict, permission, reason];
    let mut row = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            row.push('\t');
        }
        push_field(&mut row, part);
    }
    row
}

/// Appends a field of a row: a tab or a backslash in it (a user name from a log may hold
/// one) is written `\t` or `\\`, so that tabs only ever separate fields.
fn push_field(row: &mut String, field: &str) {
    if !field.contains(['\t', '\\']) {
        row.push_str(field);
        return;
    }
    for c in field.chars() {
        match c {
            '\t' => row.push_str("\\t"),
            '\\' => row.push_str("\\\\"),
            c => row.push(c),
        }
    }
}

/// The fields of a denial row, unescaped: user, method, template, verdict, permission,
/// reason (empty when the row has fewer).
fn denial_fields(row: &str) -> [std::borrow::Cow<'_, str>; 6] {
    let mut parts = row.splitn(6, '\t');
    std::array::from_fn(|_| {
        let part = parts.next().unwrap_or_default();
        if !part.contains('\\') {
            return std::borrow::Cow::Borrowed(part);
        }
        let mut out = String::with_capacity(part.len());
        let mut chars = part.chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('\\', Some('t')) => {
                    out.push('\t');
                    chars.next();
                }
                ('\\', Some('\\')) => {
                    out.push('\\');
                    chars.next();
                }
                (c, _) => out.push(c),
            }
        }
        std::borrow::Cow::Owned(out)
    })
}

/// What runs compare of a denial row: user, method, template and verdict.
pub fn denial_key(row: &str) -> &str {
    match memchr::memchr_iter(b'\t', row.as_bytes()).nth(3) {
        Some(at) => &row[..at],
        None => row,
    }
}

/// Sorts denial rows by key and keeps one row a key: the last one given.
fn sort_denials(rows: &mut Vec<String>) {
    // Each key's length found once, not per comparison.
    let mut keyed: Vec<(usize, String)> = rows
        .drain(..)
        .rev()
        .map(|row| (denial_key(&row).len(), row))
        .collect();
    // Stable: among equal keys the last row given comes first, and dedup keeps the first.
    keyed.sort_by(|(a, x), (b, y)| x[..*a].cmp(&y[..*b]));
    keyed.dedup_by(|(a, x), (b, y)| x[..*a] == y[..*b]);
    rows.extend(keyed.into_iter().map(|(_, row)| row));
}

/// Reads `denied` as rows, or as the map of indexes written before 2026-11-28 (text key ->
/// (user, method, route, permission, verdict), reason), so that the first run of this version
/// still reports what changed.
fn denied_rows<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Denied {
        Rows(Vec<String>),
        Keyed(BTreeMap<String, (DenialKey, String)>),
    }
    let mut rows = match Denied::deserialize(d)? {
        Denied::Rows(rows) => rows,
        Denied::Keyed(map) => map
            .into_values()
            .map(|((user, method, template, permission, verdict), reason)| {
                denial_row(&user, &method, &template, &verdict, &permission, &reason)
            })
            .collect(),
    };
    sort_denials(&mut rows);
    Ok(rows)
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
        index.denied = f
            .denied
            .iter()
            .map(|d| {
                let r = catalog.route(d.route);
                denial_row(
                    &d.user,
                    r.method.as_str(),
                    r.template.as_str(),
                    d.verdict.as_str(),
                    &r.permission,
                    d.reason,
                )
            })
            .collect();
        // For rows of equal keys the last wins, as when the index was a map.
        sort_denials(&mut index.denied);
        for u in &f.unused {
            index.unused.insert((
                u.principal_type.to_owned(),
                u.principal.clone(),
                u.permission.clone(),
            ));
        }
        for g in &f.group_permissions {
            if g.state == GrantState::Used {
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

/// The index in the report directory a run is about to replace: `None` when there is none,
/// or the warning to give when the file is not an index (changes are then not reported).
pub fn read_previous(out: &Path) -> Option<Result<FindingsIndex, String>> {
    let path = out.join(INDEX);
    let text = std::fs::read_to_string(&path).ok()?;
    Some(serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: not a findings index ({e}); changes are not reported this run",
            path.display()
        )
    }))
}

/// What changed from `previous` to `now`; nothing without a previous run.
pub fn diff(previous: Option<&FindingsIndex>, now: &FindingsIndex) -> Vec<Change> {
    let Some(prev) = previous else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let denial = |change, row: &str, detail: &str| {
        let [user, method, template, verdict, permission, reason] = denial_fields(row);
        Change {
            change,
            subject_type: "user".into(),
            subject: user.into_owned(),
            permission: Some(permission.into_owned()),
            route: Some(format!("{method} {template}")),
            detail: format!("{verdict} ({reason}){detail}"),
        }
    };
    // Both lists are sorted by key: one pass over the two.
    let (mut now_rows, mut prev_rows) =
        (now.denied.iter().peekable(), prev.denied.iter().peekable());
    loop {
        let order = match (now_rows.peek(), prev_rows.peek()) {
            (Some(a), Some(b)) => denial_key(a).cmp(denial_key(b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => break,
        };
        match order {
            std::cmp::Ordering::Less => {
                out.push(denial("newly_denied", now_rows.next().expect("peeked"), ""));
            }
            std::cmp::Ordering::Greater => out.push(denial(
                "denial_resolved",
                prev_rows.next().expect("peeked"),
                "; no such row among the denied calls of this run",
            )),
            std::cmp::Ordering::Equal => {
                now_rows.next();
                prev_rows.next();
            }
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
        i.denied.push(denial_row(
            "alice",
            "GET",
            "/v2/x",
            "confirmed",
            "bss:order:view",
            "not_granted",
        ));
        i.unused
            .insert(("group".into(), "Ops".into(), "bss:bill:view".into()));
        i.used.insert(("Ops".into(), "bss:order:view".into()));
        i.over_privileged.insert("Ops".into(), 1);
        i
    }

    /// The denial the later run of the tests adds.
    fn bob_denial() -> String {
        denial_row(
            "bob",
            "POST",
            "/v2/y",
            "observed_only",
            "bss:order:update",
            "gateway_acl",
        )
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
        after.denied.push(bob_denial());
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

    /// An index written before denials were one row each is read as the same index, so
    /// the first run after an upgrade still reports what changed.
    #[test]
    fn an_index_of_the_previous_format_reads_the_same() {
        let old = r#"{"run_started_at":"2026-11-27T02:00:00Z","denied":{
            "bob\tPOST\t/v2/y\tobserved_only":[["bob","POST","/v2/y","bss:order:update","observed_only"],"gateway_acl"],
            "alice\tGET\t/v2/x\tconfirmed":[["alice","GET","/v2/x","bss:order:view","confirmed"],"not_granted"]},
            "unused":[["group","Ops","bss:bill:view"]],"used":[["Ops","bss:order:view"]],
            "over_privileged":{"Ops":1}}"#;
        let mut want = index();
        want.denied.push(bob_denial());
        assert_eq!(serde_json::from_str::<FindingsIndex>(old).unwrap(), want);
    }

    /// A tab or a backslash in a user name neither splits its row nor shows in `changes`.
    #[test]
    fn tabs_and_backslashes_in_names_stay_in_their_field() {
        let name = "ali\tce\\x\\t";
        let row = denial_row(name, "GET", "/v2/x", "confirmed", "bss:order:view", "r");
        assert_eq!(
            denial_key(&row),
            "ali\\tce\\\\x\\\\t\tGET\t/v2/x\tconfirmed"
        );
        let [user, .., permission, reason] = denial_fields(&row);
        assert_eq!(
            (&*user, &*permission, &*reason),
            (name, "bss:order:view", "r")
        );
        let now = FindingsIndex {
            denied: vec![row],
            ..FindingsIndex::default()
        };
        let list = diff(Some(&FindingsIndex::default()), &now);
        assert_eq!(list[0].subject, name);
        assert_eq!(list[0].route.as_deref(), Some("GET /v2/x"));
    }

    /// Rows of one key keep the last one given; rows come out sorted by key, whatever order
    /// the file has them in.
    #[test]
    fn one_row_a_key_the_last_wins() {
        let mut rows = vec![
            denial_row("b", "GET", "/x", "confirmed", "p", "first"),
            denial_row("a", "GET", "/x", "confirmed", "p", "only"),
            denial_row("b", "GET", "/x", "confirmed", "p", "last"),
        ];
        sort_denials(&mut rows);
        assert_eq!(
            rows,
            [
                denial_row("a", "GET", "/x", "confirmed", "p", "only"),
                denial_row("b", "GET", "/x", "confirmed", "p", "last"),
            ]
        );
        assert_eq!(denial_key(&rows[1]), "b\tGET\t/x\tconfirmed");
        let text = r#"{"run_started_at":"t","denied":["z\tGET\t/x\tconfirmed\tp\tr","a\tGET\t/x\tconfirmed\tp\tr"],"unused":[],"used":[],"over_privileged":{}}"#;
        let read: FindingsIndex = serde_json::from_str(text).unwrap();
        assert!(read.denied[0].starts_with("a\t"));
    }
}
