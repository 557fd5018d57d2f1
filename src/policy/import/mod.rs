//! `permlens snapshot import`: raw IAM API responses -> permlens snapshot JSON.
//!
//! An exporter's dump is one or more directories whose file names say what each file is:
//!
//! | file | API response |
//! |---|---|
//! | `users.json` | KeystoneListUsers `{"users":[...]}` |
//! | `groups.json` | KeystoneListGroups `{"groups":[...]}` |
//! | `groups/<group_id>/users.json` | the group's members, same shape as `users.json` |
//! | `groups/<group_id>/roles.json` | the group's permissions (KeystoneListDomainPermissionsForGroup, the project and inherited variants): `{"roles":[...]}` |
//! | `role_assignments.json` | ListRoleAssignments `{"role_assignments":[...]}` |
//! | `roles.json` | KeystoneListPermissions `{"roles":[...]}` (system roles and policies) |
//! | `custom_policies.json` | ListCustomPolicies `{"roles":[...]}` |
//!
//! **Pages.** List APIs answer in pages (role assignments at most 50 a page). Each page is
//! its own file, named after its kind with a page number: `role_assignments.2.json`,
//! `role_assignments-2.json`, `role_assignments_page2.json`, `users.page-3.json`; several dump
//! directories may be given too. Pages are merged and de-duplicated by id (assignments by
//! subject, role and scope); the same id with other content is kept once and warned about.
//!
//! A `roles` response whose `links.self` names a group (`.../groups/<id>/roles...`) is that
//! group's permission listing, wherever it lies: never the role catalogue. Its roles are
//! attached to the group (with the scope its link names) and their documents used where the
//! catalogue lacks them.
//!
//! **Scope.** BSS is a project-level service granted in all regions: assignments to the
//! account (`scope.domain`), to all projects (`is_inherited`) and to a project all authorize
//! its calls; each keeps its scope in the snapshot (`{"name", "scope"}`). An enterprise
//! project scope is kept too; the analysis holds such a grant under a condition no log can
//! decide.
//!
//! **Nothing stops an import but a file that cannot be read or parsed**: roles are copied as
//! the provider wrote them (any service's actions), an assignment naming a role, group or user
//! the dump lacks is skipped with a warning, and a policy action permlens cannot read is left
//! out with a warning naming the input file and its JSON path. Other files are ignored with a
//! warning. Policies are named by their `display_name` (what the console shows, e.g. "BSS
//! Administrator").
//!
//! The files of a dump are found and read in `dump`, merged page by page in `pages`; `scope`
//! tells the scope of a grant and `grants` attaches policies to groups and users. This file
//! turns the merged records into the snapshot.

mod dump;
mod grants;
mod pages;
mod scope;
mod v5;

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::jsonfile::JsonFileError;

use grants::{Grant, Grants};
use pages::Merged;

/// Why a dump could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read or parsed, or holds what a dump file cannot.
    #[error(transparent)]
    File(#[from] JsonFileError),
    #[error(
        "no users.json among the inputs: expected an IAM dump directory (users.json, groups.json, groups/<id>/users.json, role_assignments.json, roles.json, custom_policies.json; pages as users.2.json ...)"
    )]
    NoUsers,
}

/// The imported snapshot and what was skipped on the way.
#[derive(Debug)]
pub struct Imported {
    pub snapshot: Value,
    pub warnings: Vec<String>,
    /// Per policy of the snapshot, in order: the input file and JSON path it came from.
    pub sources: Vec<(String, String)>,
    /// The same for users and groups.
    pub user_sources: Vec<(String, String)>,
    pub group_sources: Vec<(String, String)>,
}

impl Imported {
    /// Rewrites a message about the built snapshot (`OUT: policies[k].document...`) to name
    /// the input file and JSON path the policy came from.
    pub fn locate(&self, out: &str, message: &str) -> String {
        for (list, sources, inner) in [
            ("policies", &self.sources, ".document"),
            ("users", &self.user_sources, ""),
            ("groups", &self.group_sources, ""),
        ] {
            let prefix = format!("{out}: {list}[");
            let Some(rest) = message.strip_prefix(&prefix) else {
                continue;
            };
            let Some((k, rest)) = rest.split_once(']') else {
                continue;
            };
            let Some((file, at)) = k.parse::<usize>().ok().and_then(|k| sources.get(k)) else {
                continue;
            };
            let rest = rest.strip_prefix(inner).unwrap_or(rest);
            return format!("{file}: {at}{rest}");
        }
        message.to_owned()
    }
}

/// The id of `v[key]` (`{"id": ...}`), if present.
fn ref_id<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key)?.get("id")?.as_str()
}

/// The merged records of a dump, which grants name by id.
struct Records<'a> {
    users: &'a Merged,
    groups: &'a Merged,
    roles: &'a Merged,
    /// The snapshot's name of each role, in the order of `roles`.
    role_names: &'a [String],
}

/// Builds a permlens snapshot from raw IAM API responses. `taken_at` defaults to the newest
/// modification time of the input files.
pub fn import(
    inputs: &[PathBuf],
    taken_at: Option<jiff::Timestamp>,
) -> Result<Imported, ImportError> {
    let mut warnings = Vec::new();
    let dump = dump::collect(inputs, &mut warnings)?;
    if dump.users.is_empty() && dump.v5.is_empty() {
        return Err(ImportError::NoUsers);
    }
    let mut users = pages::users(&dump, &mut warnings)?;
    let groups = pages::groups(&dump, &mut warnings)?;
    let members = pages::members(&dump, &groups, &mut users, &mut warnings)?;
    let (roles, listed) = pages::roles(&dump, &mut warnings)?;
    let role_names = role_names(&roles);
    let records = Records {
        users: &users,
        groups: &groups,
        roles: &roles,
        role_names: &role_names,
    };
    let grants = grants::grants(&dump, &listed, &records, &mut warnings)?;

    let taken_at = match taken_at {
        Some(t) => t,
        None => dump::newest_mtime(&dump).unwrap_or_else(jiff::Timestamp::now),
    };
    let mut snapshot = snapshot(taken_at, &records, &members, &grants);
    let mut sources: Vec<(String, String)> = roles
        .items
        .iter()
        .map(|(_, file, at)| (file.clone(), format!("{at}.policy")))
        .collect();
    let placed = |m: &Merged| -> Vec<(String, String)> {
        m.items
            .iter()
            .map(|(_, file, at)| (file.clone(), at.clone()))
            .collect()
    };
    let mut user_sources = placed(&users);
    let mut group_sources = placed(&groups);
    if !dump.v5.is_empty() {
        let v5 = v5::read(&dump.v5, &mut warnings)?;
        add_v5(
            &mut snapshot,
            &v5,
            &mut sources,
            &mut user_sources,
            &mut group_sources,
        );
    }
    Ok(Imported {
        snapshot,
        warnings,
        sources,
        user_sources,
        group_sources,
    })
}

/// Adds the IAM 5.0 records to the snapshot built from the v3 part: policies (a v5 name that
/// a v3 policy has gets ` [v5 <id>]`), users and groups (matched by name with the v3 ones:
/// the same account), their attachments, and agencies.
fn add_v5(
    snapshot: &mut Value,
    v5: &v5::V5,
    sources: &mut Vec<(String, String)>,
    user_sources: &mut Vec<(String, String)>,
    group_sources: &mut Vec<(String, String)>,
) {
    let taken: Vec<String> = snapshot["policies"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut renamed: HashMap<&str, String> = HashMap::new();
    for (name, id, doc, file, at) in &v5.policies {
        let written = if taken.contains(name) {
            format!("{name} [v5 {id}]")
        } else {
            name.clone()
        };
        renamed.insert(name.as_str(), written.clone());
        snapshot["policies"]
            .as_array_mut()
            .expect("built as a list")
            .push(json!({"name": written, "id": id, "document": doc}));
        sources.push((file.clone(), at.clone()));
    }
    let names = |list: Option<&Vec<String>>| -> Vec<Value> {
        list.map(|l| l.iter().map(|n| json!(renamed[n.as_str()])).collect())
            .unwrap_or_default()
    };
    for (name, id, urn) in &v5.users {
        let users = snapshot["users"].as_array_mut().expect("built as a list");
        let k = match users.iter().position(|u| u["name"] == *name) {
            Some(k) => k,
            None => {
                users.push(json!({"name": name, "id": id}));
                user_sources.push(("v5/users.json".into(), format!("user {name:?}")));
                users.len() - 1
            }
        };
        let u = &mut users[k];
        if let Some(urn) = urn {
            u["urn"] = json!(urn);
        }
        if v5.disabled.contains(id) {
            u["enabled"] = json!(false);
        }
        let added = names(v5.user_policies.get(id));
        if !added.is_empty() {
            let list = u
                .as_object_mut()
                .expect("a user object")
                .entry("policies")
                .or_insert_with(|| json!([]));
            list.as_array_mut().expect("a list").extend(added);
        }
    }
    for (name, id, members) in &v5.groups {
        let groups = snapshot["groups"].as_array_mut().expect("built as a list");
        let k = match groups.iter().position(|g| g["name"] == *name) {
            Some(k) => k,
            None => {
                groups.push(json!({"name": name, "id": id, "members": [], "policies": []}));
                group_sources.push(("v5/groups.json".into(), format!("group {name:?}")));
                groups.len() - 1
            }
        };
        let g = &mut groups[k];
        for m in members {
            let list = g["members"].as_array_mut().expect("a list");
            if !list.iter().any(|x| x == m) {
                list.push(json!(m));
            }
        }
        g["policies"]
            .as_array_mut()
            .expect("a list")
            .extend(names(v5.group_policies.get(id)));
    }
    if !v5.agencies.is_empty() {
        snapshot["agencies"] = v5
            .agencies
            .iter()
            .map(|(name, id)| {
                json!({"name": name, "id": id, "policies": names(v5.agency_policies.get(id))})
            })
            .collect();
    }
}

/// The snapshot's policy names: display names, a clash getting the id appended.
fn role_names(roles: &Merged) -> Vec<String> {
    let mut role_names: Vec<String> = Vec::with_capacity(roles.items.len());
    let mut taken: HashMap<String, usize> = HashMap::new();
    for (r, _, _) in &roles.items {
        let id = r["id"].as_str().unwrap_or_default();
        let display = r
            .get("display_name")
            .and_then(Value::as_str)
            .filter(|d| !d.trim().is_empty())
            .or_else(|| r.get("name").and_then(Value::as_str))
            .unwrap_or(id)
            .to_owned();
        let name = if taken.contains_key(&display) {
            format!("{display} [{id}]")
        } else {
            display
        };
        taken.insert(name.clone(), role_names.len());
        role_names.push(name);
    }
    role_names
}

/// The snapshot JSON: users with the policies assigned to them, groups with their members
/// and policies, and every policy's document.
fn snapshot(
    taken_at: jiff::Timestamp,
    records: &Records<'_>,
    members: &[Vec<String>],
    grants: &Grants,
) -> Value {
    // A grant to the whole account is written as the policy's name, as before scopes existed.
    let written = |list: &[Grant]| -> Vec<Value> {
        list.iter()
            .map(|(p, scope)| {
                if scope == "domain" {
                    json!(p)
                } else {
                    json!({"name": p, "scope": scope})
                }
            })
            .collect()
    };
    let role_names = records.role_names;
    json!({
        "taken_at": taken_at.to_string(),
        "users": records.users.items.iter().map(|(u, _, _)| {
            let name = u["name"].as_str().unwrap_or_default();
            let mut v = json!({"name": name, "id": u["id"], "enabled": u.get("enabled").and_then(Value::as_bool).unwrap_or(true)});
            if let Some(p) = grants.users.get(name) {
                v["policies"] = json!(written(p));
            }
            v
        }).collect::<Vec<_>>(),
        "groups": records.groups.items.iter().enumerate().map(|(i, (g, _, _))| json!({
            "name": g["name"], "id": g["id"], "members": members[i], "policies": written(&grants.groups[i]),
        })).collect::<Vec<_>>(),
        "policies": records.roles.items.iter().enumerate().map(|(i, (r, _, _))| json!({"name": role_names[i], "id": r["id"], "document": r["policy"]})).collect::<Vec<_>>(),
    })
}
