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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

/// Why a dump could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {cause}")]
    Read {
        path: String,
        /// Not a `source`: the message already says it, and a chain would say it twice.
        cause: std::io::Error,
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

#[derive(Debug, Deserialize)]
struct UsersFile {
    users: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct GroupsFile {
    groups: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct AssignmentsFile {
    role_assignments: AssignmentList,
}

/// The provider's documentation shows `role_assignments` as one object in an example; the
/// API and SDKs return a list. Both are read.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AssignmentList {
    Many(Vec<Value>),
    One(Value),
}

#[derive(Debug, Deserialize)]
struct RolesFile {
    roles: Vec<Value>,
    #[serde(default)]
    links: Option<Value>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ImportError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|cause| ImportError::Read {
        path: name.clone(),
        cause,
    })?;
    serde_json::from_str(&text).map_err(|e| ImportError::Json {
        path: name,
        line: e.line(),
        column: e.column(),
        msg: e.to_string(),
    })
}

/// What a dump file holds, by its name (see the module's header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Users,
    Groups,
    Assignments,
    Roles,
}

/// `users.json`, `users.2.json`, `users-2.json`, `users_page2.json`, `users.page-3.json` ->
/// (users, page). Pages are numbered; anything else is not a dump file.
fn kind_of(file_name: &str) -> Option<Kind> {
    let stem = file_name.strip_suffix(".json")?;
    for (base, kind) in [
        ("role_assignments", Kind::Assignments),
        ("custom_policies", Kind::Roles),
        ("users", Kind::Users),
        ("groups", Kind::Groups),
        ("roles", Kind::Roles),
    ] {
        let Some(rest) = stem.strip_prefix(base) else {
            continue;
        };
        if rest.is_empty() {
            return Some(kind);
        }
        let rest = rest.strip_prefix(['.', '-', '_'])?;
        let rest = rest.strip_prefix("page").unwrap_or(rest);
        let rest = rest.strip_prefix(['.', '-', '_']).unwrap_or(rest);
        return (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())).then_some(kind);
    }
    None
}

/// The files of a dump, by role.
#[derive(Debug, Default)]
struct Dump {
    users: Vec<PathBuf>,
    groups: Vec<PathBuf>,
    members: Vec<(String, PathBuf)>,
    group_roles: Vec<(String, PathBuf)>,
    assignments: Vec<PathBuf>,
    roles: Vec<PathBuf>,
}

fn collect(inputs: &[PathBuf], warnings: &mut Vec<String>) -> Result<Dump, ImportError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
                let entry = entry.map_err(|e| ImportError::Read {
                    path: input.display().to_string(),
                    cause: e.into(),
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
                cause: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
    }
    // Pages in page order (`users.json` is the first), whatever the names sort as.
    files.sort_by_key(|f| {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let digits: String = name
            .trim_end_matches(".json")
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let page = if kind_of(name).is_some() {
            digits.parse::<u64>().unwrap_or(1)
        } else {
            0
        };
        (f.parent().map(Path::to_path_buf), page)
    });
    let mut dump = Dump::default();
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let parent = f
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let grandparent = f
            .parent()
            .and_then(Path::parent)
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str());
        let in_group = grandparent == Some("groups");
        match (kind_of(name), in_group) {
            (Some(Kind::Users), true) => dump.members.push((parent, f)),
            (Some(Kind::Roles), true) => dump.group_roles.push((parent, f)),
            (Some(Kind::Users), false) => dump.users.push(f),
            (Some(Kind::Groups), false) => dump.groups.push(f),
            (Some(Kind::Assignments), false) => dump.assignments.push(f),
            (Some(Kind::Roles), false) => dump.roles.push(f),
            _ => warnings.push(format!(
                "ignored {}: not a file of an IAM dump",
                f.display()
            )),
        }
    }
    Ok(dump)
}

/// Records of several pages merged by id: the first of an id is kept; the same id with
/// other content is warned about.
struct Merged {
    items: Vec<(Value, String, String)>, // (record, file, JSON path)
    by_id: HashMap<String, usize>,
}

impl Merged {
    fn new() -> Merged {
        Merged {
            items: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    fn add(
        &mut self,
        v: Value,
        id: String,
        file: &str,
        at: String,
        what: &str,
        warnings: &mut Vec<String>,
    ) {
        match self.by_id.get(&id) {
            Some(&k) => {
                let (first, first_file, first_at) = &self.items[k];
                if *first != v {
                    warnings.push(format!(
                        "{file}: {at}: {what} id {id:?} is also in {first_file} ({first_at}) with other content; the first is kept"
                    ));
                }
            }
            None => {
                self.by_id.insert(id, self.items.len());
                self.items.push((v, file.to_owned(), at));
            }
        }
    }
}

/// A required string field of a record, or an error naming the input file and path.
fn string_field(v: &Value, key: &str, file: &str, at: &str) -> Result<String, ImportError> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => Err(ImportError::Invalid {
            path: file.to_owned(),
            at: format!("{at}.{key}"),
            msg: format!("expected a non-empty string, got {other}"),
        }),
        None => Err(ImportError::Invalid {
            path: file.to_owned(),
            at: at.to_owned(),
            msg: format!("expected a \"{key}\" field"),
        }),
    }
}

/// The id of `v[key]` (`{"id": ...}`), if present.
fn ref_id<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key)?.get("id")?.as_str()
}

/// The scope of an assignment, as the snapshot writes it, or why it cannot be told: a scope
/// permlens does not know is never taken for the whole account.
fn scope_of(a: &Value) -> Result<String, String> {
    let inherited = a
        .get("is_inherited")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || a.get("inherited_to_projects")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let Some(scope) = a.get("scope").filter(|s| !s.is_null()) else {
        // No scope at all: the domain-level listing APIs answer without one.
        return Ok(if inherited { "all_projects" } else { "domain" }.into());
    };
    for key in ["enterprise_project", "enterprise_projects"] {
        if let Some(ep) = ref_id(scope, key) {
            return Ok(format!("enterprise_project:{ep}"));
        }
    }
    if inherited {
        return Ok("all_projects".into());
    }
    if let Some(p) = ref_id(scope, "project") {
        return Ok(format!("project:{p}"));
    }
    if scope.get("domain").is_some() {
        return Ok("domain".into());
    }
    Err(format!(
        "scope {scope} is none of domain, project, enterprise_project"
    ))
}

/// The scope a per-group permission listing names in its `links.self`, or why it cannot be
/// told.
fn listing_scope(links: Option<&Value>) -> Result<String, String> {
    let link = links
        .and_then(|l| l.get("self"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let id_after = |marker: &str| {
        link.split(marker)
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
    };
    if link.contains("inherited_to_projects") {
        return Ok("all_projects".into());
    }
    if let Some(ep) = id_after("/enterprise-projects/") {
        return Ok(format!("enterprise_project:{ep}"));
    }
    if let Some(p) = id_after("/projects/") {
        return Ok(format!("project:{p}"));
    }
    if id_after("/domains/").is_some() {
        return Ok("domain".into());
    }
    Err(if link.is_empty() {
        "no links.self to tell its scope (domain, project or inherited) by".into()
    } else {
        format!("links.self {link:?} names no scope permlens knows")
    })
}

/// The group id a `roles` response's `links.self` names (`.../groups/<id>/roles...`).
fn listing_group(links: Option<&Value>) -> Option<String> {
    let link = links?.get("self")?.as_str()?;
    let rest = link.split("/groups/").nth(1)?;
    let (id, after) = rest.split_once('/')?;
    after.starts_with("roles").then(|| id.to_owned())
}

/// Builds a permlens snapshot from raw IAM API responses. `taken_at` defaults to the newest
/// modification time of the input files.
pub fn import(
    inputs: &[PathBuf],
    taken_at: Option<jiff::Timestamp>,
) -> Result<Imported, ImportError> {
    let mut warnings = Vec::new();
    let dump = collect(inputs, &mut warnings)?;
    if dump.users.is_empty() {
        return Err(ImportError::NoUsers);
    }

    // Users, from every page.
    let mut users = Merged::new();
    for path in &dump.users {
        let file = path.display().to_string();
        for (i, u) in read_json::<UsersFile>(path)?.users.into_iter().enumerate() {
            let at = format!("users[{i}]");
            let id = string_field(&u, "id", &file, &at)?;
            string_field(&u, "name", &file, &at)?;
            users.add(u, id, &file, at, "user", &mut warnings);
        }
    }
    // Groups, from every page.
    let mut groups = Merged::new();
    for path in &dump.groups {
        let file = path.display().to_string();
        for (i, g) in read_json::<GroupsFile>(path)?
            .groups
            .into_iter()
            .enumerate()
        {
            let at = format!("groups[{i}]");
            let id = string_field(&g, "id", &file, &at)?;
            string_field(&g, "name", &file, &at)?;
            groups.add(g, id, &file, at, "group", &mut warnings);
        }
    }
    // Members: a member missing from users.json (a page not exported) is added from the
    // member listing, which has the same shape.
    let mut members: Vec<Vec<String>> = vec![Vec::new(); groups.items.len()];
    for (gid, path) in &dump.members {
        let file = path.display().to_string();
        let Some(&g) = groups.by_id.get(gid.as_str()) else {
            warnings.push(format!(
                "{file}: members of group id {gid:?}, which is in no groups page; skipped"
            ));
            continue;
        };
        for (i, m) in read_json::<UsersFile>(path)?.users.into_iter().enumerate() {
            let at = format!("users[{i}]");
            let id = string_field(&m, "id", &file, &at)?;
            let name = string_field(&m, "name", &file, &at)?;
            if !users.by_id.contains_key(&id) {
                warnings.push(format!(
                    "{file}: {at}: member {name:?} (id {id:?}) is in no users page; added from the group's member list"
                ));
                users.add(m, id.clone(), &file, at, "user", &mut warnings);
            }
            let name = users.items[users.by_id[&id]].0["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !members[g].contains(&name) {
                members[g].push(name);
            }
        }
    }

    // Roles and policies, from every page of the catalogue and the custom policies. A
    // `roles` response that names a group in its link is that group's listing.
    let mut roles = Merged::new();
    let mut listings: Vec<(String, PathBuf, RolesFile)> = Vec::new();
    for path in dump.roles.clone() {
        let file: RolesFile = read_json(&path)?;
        if let Some(gid) = listing_group(file.links.as_ref()) {
            listings.push((gid, path, file));
            continue;
        }
        add_roles(&mut roles, file.roles, &path, &mut warnings)?;
    }
    for (gid, path) in dump.group_roles.clone() {
        let file: RolesFile = read_json(&path)?;
        listings.push((gid, path, file));
    }
    // A listing's roles are documents too, used where the catalogue lacks them.
    let mut listed: Vec<(String, String, String, String)> = Vec::new(); // (group, role, scope, file)
    for (gid, path, file) in listings {
        let name = path.display().to_string();
        let scope = match listing_scope(file.links.as_ref()) {
            Ok(scope) => scope,
            Err(why) => {
                warnings.push(format!(
                    "{name}: the permissions of group id {gid:?} are skipped: {why}"
                ));
                continue;
            }
        };
        for (i, r) in file.roles.iter().enumerate() {
            let id = string_field(r, "id", &name, &format!("roles[{i}]"))?;
            listed.push((gid.clone(), id, scope.clone(), name.clone()));
        }
        let mut quiet = Vec::new();
        add_roles(&mut roles, file.roles, &path, &mut quiet)?;
    }

    // Names: display names, a clash getting the id appended.
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

    // Assignments, from every page, de-duplicated by subject, role and scope.
    let mut group_policies: Vec<Vec<(String, String)>> = vec![Vec::new(); groups.items.len()];
    let mut user_policies: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut unknown_roles: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut agencies = 0usize;
    let attach = |list: &mut Vec<(String, String)>, policy: &str, scope: &str| {
        let grant = (policy.to_owned(), scope.to_owned());
        if !list.contains(&grant) {
            list.push(grant);
        }
    };
    for (gid, role, scope, file) in &listed {
        let Some(&g) = groups.by_id.get(gid.as_str()) else {
            warnings.push(format!(
                "{file}: permissions of group id {gid:?}, which is in no groups page; skipped"
            ));
            continue;
        };
        let r = roles.by_id[role.as_str()];
        attach(&mut group_policies[g], &role_names[r], scope);
    }
    if dump.assignments.is_empty() && listed.is_empty() {
        warnings
            .push("no role_assignments.json: no policy is attached to any group or user".into());
    }
    for path in &dump.assignments {
        let file = path.display().to_string();
        let list = match read_json::<AssignmentsFile>(path)?.role_assignments {
            AssignmentList::Many(v) => v,
            AssignmentList::One(v) => vec![v],
        };
        for (i, a) in list.iter().enumerate() {
            let at = format!("role_assignments[{i}]");
            let Some(role_id) =
                ref_id(a, "role").or_else(|| a.get("role_id").and_then(Value::as_str))
            else {
                warnings.push(format!("{file}: {at}: no role.id; skipped"));
                continue;
            };
            let Some(&r) = roles.by_id.get(role_id) else {
                let e = unknown_roles
                    .entry(role_id.to_owned())
                    .or_insert_with(|| (format!("{file}: {at}.role.id"), 0));
                e.1 += 1;
                continue;
            };
            let scope = match scope_of(a) {
                Ok(scope) => scope,
                Err(why) => {
                    warnings.push(format!("{file}: {at}.scope: {why}; skipped"));
                    continue;
                }
            };
            let policy = &role_names[r];
            if let Some(g) = ref_id(a, "group") {
                match groups.by_id.get(g) {
                    Some(&gi) => attach(&mut group_policies[gi], policy, &scope),
                    None => warnings.push(format!(
                        "{file}: {at}.group.id: group {g:?} is in no groups page; skipped"
                    )),
                }
            } else if let Some(u) = ref_id(a, "user") {
                match users.by_id.get(u) {
                    Some(&ui) => {
                        let name = users.items[ui].0["name"].as_str().unwrap_or_default();
                        attach(
                            user_policies.entry(name.to_owned()).or_default(),
                            policy,
                            &scope,
                        );
                    }
                    None => warnings.push(format!(
                        "{file}: {at}.user.id: user {u:?} is in no users page; skipped"
                    )),
                }
            } else if ref_id(a, "agency").is_some() {
                agencies += 1;
            } else {
                warnings.push(format!("{file}: {at}: no group, user or agency; skipped"));
            }
        }
    }
    for (id, (first, n)) in &unknown_roles {
        warnings.push(format!(
            "{first}: role {id:?} is in no roles.json or custom_policies.json page; {n} assignment(s) skipped"
        ));
    }
    if agencies > 0 {
        warnings.push(format!(
            "skipped {agencies} assignment(s) to agencies: permlens analyses users"
        ));
    }

    let taken_at = match taken_at {
        Some(t) => t,
        None => newest_mtime(&dump).unwrap_or_else(jiff::Timestamp::now),
    };
    // A grant to the whole account is written as the policy's name, as before scopes existed.
    let grants = |list: &[(String, String)]| -> Vec<Value> {
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
    let snapshot = json!({
        "taken_at": taken_at.to_string(),
        "users": users.items.iter().map(|(u, _, _)| {
            let name = u["name"].as_str().unwrap_or_default();
            let mut v = json!({"name": name, "id": u["id"], "enabled": u.get("enabled").and_then(Value::as_bool).unwrap_or(true)});
            if let Some(p) = user_policies.get(name) {
                v["policies"] = json!(grants(p));
            }
            v
        }).collect::<Vec<_>>(),
        "groups": groups.items.iter().enumerate().map(|(i, (g, _, _))| json!({
            "name": g["name"], "id": g["id"], "members": members[i], "policies": grants(&group_policies[i]),
        })).collect::<Vec<_>>(),
        "policies": roles.items.iter().enumerate().map(|(i, (r, _, _))| json!({"name": role_names[i], "id": r["id"], "document": r["policy"]})).collect::<Vec<_>>(),
    });
    let sources = roles
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
    Ok(Imported {
        snapshot,
        warnings,
        sources,
        user_sources: placed(&users),
        group_sources: placed(&groups),
    })
}

/// Adds the roles of one `roles` response, checking what the snapshot needs of each.
fn add_roles(
    roles: &mut Merged,
    list: Vec<Value>,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    let file = path.display().to_string();
    for (i, r) in list.into_iter().enumerate() {
        let at = format!("roles[{i}]");
        let id = string_field(&r, "id", &file, &at)?;
        if !r.get("policy").is_some_and(Value::is_object) {
            return Err(ImportError::Invalid {
                path: file,
                at: format!("{at}.policy"),
                msg: "expected a policy document object".into(),
            });
        }
        roles.add(r, id, &file, at, "role", warnings);
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_file_names() {
        for (name, kind) in [
            ("users.json", Some(Kind::Users)),
            ("users.2.json", Some(Kind::Users)),
            ("role_assignments-3.json", Some(Kind::Assignments)),
            ("role_assignments_page12.json", Some(Kind::Assignments)),
            ("roles.page-2.json", Some(Kind::Roles)),
            ("custom_policies.json", Some(Kind::Roles)),
            ("groups.json", Some(Kind::Groups)),
            ("users.backup.json", None),
            ("usersx.json", None),
            ("notes.json", None),
        ] {
            assert_eq!(kind_of(name), kind, "{name}");
        }
    }

    #[test]
    fn scopes() {
        let a = |v: Value| scope_of(&v).unwrap();
        assert_eq!(a(json!({"scope": {"domain": {"id": "d"}}})), "domain");
        assert_eq!(a(json!({"scope": {"project": {"id": "p1"}}})), "project:p1");
        assert_eq!(
            a(json!({"scope": {"domain": {"id": "d"}}, "is_inherited": true})),
            "all_projects"
        );
        assert_eq!(
            a(json!({"scope": {"enterprise_project": {"id": "ep"}}})),
            "enterprise_project:ep"
        );
        let links = json!({"self": "https://iam/v3/projects/p9/groups/g1/roles"});
        assert_eq!(listing_scope(Some(&links)).unwrap(), "project:p9");
        assert_eq!(listing_group(Some(&links)).as_deref(), Some("g1"));
        let catalogue = json!({"self": "https://iam/v3/roles"});
        assert_eq!(listing_group(Some(&catalogue)), None);
        let inherited = json!({"self": "https://iam/v3/OS-INHERIT/domains/d/groups/g2/roles/inherited_to_projects"});
        assert_eq!(listing_scope(Some(&inherited)).unwrap(), "all_projects");
        let ep = json!({"self": "https://iam/v3.0/OS-PERMISSION/enterprise-projects/ep7/groups/g1/roles"});
        assert_eq!(listing_scope(Some(&ep)).unwrap(), "enterprise_project:ep7");
        assert_eq!(listing_group(Some(&ep)).as_deref(), Some("g1"));
        let domain = json!({"self": "https://iam/v3/domains/d1/groups/g1/roles"});
        assert_eq!(listing_scope(Some(&domain)).unwrap(), "domain");
        assert!(listing_scope(None).is_err());
        assert!(listing_scope(Some(&json!({"self": "https://iam/v9/x/groups/g/roles"}))).is_err());
        assert_eq!(
            a(json!({"scope": {"enterprise_projects": {"id": "ep3"}}})),
            "enterprise_project:ep3"
        );
        assert_eq!(a(json!({})), "domain");
        assert!(scope_of(&json!({"scope": {"region": {"id": "r"}}})).is_err());
        assert_eq!(listing_group(Some(&inherited)).as_deref(), Some("g2"));
    }
}
