//! `permlens snapshot import`: raw IAM API responses -> permlens snapshot JSON.
//!
//! An exporter's dump is a directory whose file names say what each file is:
//!
//! | file | API response |
//! |---|---|
//! | `users.json` | KeystoneListUsers `{"users":[...]}` |
//! | `groups.json` | KeystoneListGroups `{"groups":[...]}` |
//! | `groups/<group_id>/users.json` | the group's members, same shape as `users.json` |
//! | `role_assignments.json` | ListRoleAssignments `{"role_assignments":[...]}` |
//! | `roles.json` | KeystoneListPermissions `{"roles":[...]}` (system roles and policies) |
//! | `custom_policies.json` | ListCustomPolicies `{"roles":[...]}` |
//!
//! Other files are ignored with a warning. Policies are named by their `display_name` (what
//! the console shows, e.g. "BSS Administrator"). BSS is a global service, so only
//! assignments scoped to the whole account (`scope.domain`) can authorize it; assignments to
//! a project or enterprise project are skipped with a warning.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

/// Why a dump could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: line {line}, column {column}: {msg}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        msg: String,
    },
    #[error("{path}: {at}: {msg}")]
    Invalid {
        path: String,
        at: String,
        msg: String,
    },
    #[error(
        "no users.json among the inputs: expected an IAM dump directory (users.json, groups.json, groups/<id>/users.json, role_assignments.json, roles.json, custom_policies.json)"
    )]
    NoUsers,
}

/// The imported snapshot and what was skipped on the way.
#[derive(Debug)]
pub struct Imported {
    pub snapshot: Value,
    pub warnings: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct UsersFile {
    users: Vec<RawUser>,
}

#[derive(Debug, Deserialize)]
struct RawUser {
    id: String,
    name: String,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct GroupsFile {
    groups: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
struct RawGroup {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct AssignmentsFile {
    role_assignments: Vec<RawAssignment>,
}

#[derive(Debug, Deserialize)]
struct IdRef {
    id: String,
}

#[derive(Debug, Deserialize)]
struct RawAssignment {
    role: IdRef,
    #[serde(default)]
    user: Option<IdRef>,
    #[serde(default)]
    group: Option<IdRef>,
    #[serde(default)]
    agency: Option<IdRef>,
    #[serde(default)]
    scope: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct RolesFile {
    roles: Vec<RawRole>,
}

#[derive(Debug, Deserialize)]
struct RawRole {
    id: String,
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    policy: Value,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ImportError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: name.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ImportError::Json {
        path: name,
        line: e.line(),
        column: e.column(),
        msg: e.to_string(),
    })
}

/// The files of a dump, by role.
#[derive(Debug, Default)]
struct Dump {
    users: Option<PathBuf>,
    groups: Option<PathBuf>,
    members: Vec<(String, PathBuf)>,
    assignments: Option<PathBuf>,
    roles: Vec<PathBuf>,
}

fn collect(inputs: &[PathBuf], warnings: &mut Vec<String>) -> Result<Dump, ImportError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
                let entry = entry.map_err(|e| ImportError::Read {
                    path: input.display().to_string(),
                    source: e.into(),
                })?;
                if entry.file_type().is_file() {
                    files.push(entry.into_path());
                }
            }
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            return Err(ImportError::Read {
                path: input.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
    }
    let mut dump = Dump::default();
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let parent = f
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str());
        let grandparent = f
            .parent()
            .and_then(Path::parent)
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str());
        match (name, grandparent) {
            ("users.json", Some("groups")) => dump
                .members
                .push((parent.unwrap_or_default().to_owned(), f)),
            ("users.json", _) => dump.users = Some(f),
            ("groups.json", _) => dump.groups = Some(f),
            ("role_assignments.json", _) => dump.assignments = Some(f),
            ("roles.json" | "custom_policies.json", _) => dump.roles.push(f),
            _ => warnings.push(format!(
                "ignored {}: not a file of an IAM dump",
                f.display()
            )),
        }
    }
    Ok(dump)
}

/// Builds a permlens snapshot from raw IAM API responses. `taken_at` defaults to the newest
/// modification time of the input files.
pub fn import(
    inputs: &[PathBuf],
    taken_at: Option<jiff::Timestamp>,
) -> Result<Imported, ImportError> {
    let mut warnings = Vec::new();
    let dump = collect(inputs, &mut warnings)?;
    let users_path = dump.users.clone().ok_or(ImportError::NoUsers)?;
    let users: UsersFile = read_json(&users_path)?;
    let user_name: HashMap<&str, &str> = users
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.name.as_str()))
        .collect();

    let groups: Vec<RawGroup> = match &dump.groups {
        Some(p) => read_json::<GroupsFile>(p)?.groups,
        None => Vec::new(),
    };
    let group_index: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.as_str(), i))
        .collect();
    let mut members: Vec<Vec<String>> = vec![Vec::new(); groups.len()];
    for (gid, path) in &dump.members {
        let name = path.display().to_string();
        let Some(&g) = group_index.get(gid.as_str()) else {
            return Err(ImportError::Invalid {
                path: name,
                at: "$".into(),
                msg: format!("members of group id {gid:?}, which is not in groups.json"),
            });
        };
        let file: UsersFile = read_json(path)?;
        for (i, m) in file.users.iter().enumerate() {
            if !user_name.contains_key(m.id.as_str()) {
                return Err(ImportError::Invalid {
                    path: name,
                    at: format!("users[{i}]"),
                    msg: format!(
                        "member {:?} (id {:?}) is not in {}",
                        m.name,
                        m.id,
                        users_path.display()
                    ),
                });
            }
            members[g].push(m.name.clone());
        }
    }

    // Roles and policies, named by display name; a clash gets the id appended.
    let mut roles: Vec<(String, String, Value)> = Vec::new(); // (id, name, policy document)
    let mut seen_names: HashMap<String, usize> = HashMap::new();
    for path in &dump.roles {
        let file: RolesFile = read_json(path)?;
        for (i, r) in file.roles.into_iter().enumerate() {
            let display = r
                .display_name
                .filter(|d| !d.trim().is_empty())
                .unwrap_or(r.name);
            let name = if seen_names.contains_key(&display) {
                format!("{display} [{}]", r.id)
            } else {
                display
            };
            if !r.policy.is_object() {
                return Err(ImportError::Invalid {
                    path: path.display().to_string(),
                    at: format!("roles[{i}].policy"),
                    msg: "expected a policy document object".into(),
                });
            }
            seen_names.insert(name.clone(), roles.len());
            roles.push((r.id, name, r.policy));
        }
    }
    let role_by_id: HashMap<&str, usize> = roles
        .iter()
        .enumerate()
        .map(|(i, r)| (r.0.as_str(), i))
        .collect();

    let mut group_policies: Vec<Vec<String>> = vec![Vec::new(); groups.len()];
    let mut user_policies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(path) = &dump.assignments {
        let name = path.display().to_string();
        let file: AssignmentsFile = read_json(path)?;
        let (mut project_scoped, mut agencies) = (0usize, 0usize);
        for (i, a) in file.role_assignments.iter().enumerate() {
            let at = format!("role_assignments[{i}]");
            let Some(&r) = role_by_id.get(a.role.id.as_str()) else {
                return Err(ImportError::Invalid {
                    path: name,
                    at: format!("{at}.role.id"),
                    msg: format!(
                        "role {:?} is not in roles.json or custom_policies.json",
                        a.role.id
                    ),
                });
            };
            let domain_scoped = a.scope.as_ref().is_none_or(|s| s.get("domain").is_some());
            if !domain_scoped {
                project_scoped += 1;
                continue;
            }
            let policy = roles[r].1.clone();
            if let Some(g) = &a.group {
                let Some(&gi) = group_index.get(g.id.as_str()) else {
                    return Err(ImportError::Invalid {
                        path: name,
                        at: format!("{at}.group.id"),
                        msg: format!("group {:?} is not in groups.json", g.id),
                    });
                };
                if !group_policies[gi].contains(&policy) {
                    group_policies[gi].push(policy);
                }
            } else if let Some(u) = &a.user {
                let Some(un) = user_name.get(u.id.as_str()) else {
                    return Err(ImportError::Invalid {
                        path: name,
                        at: format!("{at}.user.id"),
                        msg: format!("user {:?} is not in users.json", u.id),
                    });
                };
                let list = user_policies.entry((*un).to_owned()).or_default();
                if !list.contains(&policy) {
                    list.push(policy);
                }
            } else if a.agency.is_some() {
                agencies += 1;
            }
        }
        if project_scoped > 0 {
            warnings.push(format!(
                "{name}: skipped {project_scoped} assignment(s) scoped to a project: BSS is a global service, only account-wide assignments authorize it"
            ));
        }
        if agencies > 0 {
            warnings.push(format!(
                "{name}: skipped {agencies} assignment(s) to agencies: permlens analyses users"
            ));
        }
    } else {
        warnings
            .push("no role_assignments.json: no policy is attached to any group or user".into());
    }

    let taken_at = match taken_at {
        Some(t) => t,
        None => newest_mtime(&dump).unwrap_or_else(jiff::Timestamp::now),
    };
    let snapshot = json!({
        "taken_at": taken_at.to_string(),
        "users": users.users.iter().map(|u| {
            let mut v = json!({"name": u.name, "id": u.id, "enabled": u.enabled.unwrap_or(true)});
            if let Some(p) = user_policies.get(&u.name) {
                v["policies"] = json!(p);
            }
            v
        }).collect::<Vec<_>>(),
        "groups": groups.iter().enumerate().map(|(i, g)| json!({
            "name": g.name, "id": g.id, "members": members[i], "policies": group_policies[i],
        })).collect::<Vec<_>>(),
        "policies": roles.iter().map(|(id, name, doc)| json!({"name": name, "id": id, "document": doc})).collect::<Vec<_>>(),
    });
    Ok(Imported { snapshot, warnings })
}

fn newest_mtime(dump: &Dump) -> Option<jiff::Timestamp> {
    let paths = dump
        .users
        .iter()
        .chain(&dump.groups)
        .chain(&dump.assignments)
        .chain(&dump.roles)
        .chain(dump.members.iter().map(|(_, p)| p));
    paths
        .filter_map(|p| std::fs::metadata(p).ok()?.modified().ok())
        .max()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
}
