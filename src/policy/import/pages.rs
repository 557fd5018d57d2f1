//! Reading the pages of a dump: users, groups, group members and roles, each merged by id
//! across pages ([`Merged`]) and checked for what the snapshot needs of each record.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ImportError;
use super::dump::{Dump, GroupsFile, RolesFile, UsersFile, read_json};
use super::scope::{listing_group, listing_scope};
use crate::jsonfile::JsonFileError;

/// Records of several pages merged by id: the first of an id is kept; the same id with
/// other content is warned about.
pub(super) struct Merged {
    pub(super) items: Vec<(Value, String, String)>, // (record, file, JSON path)
    pub(super) by_id: HashMap<String, usize>,
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

/// A role that a group's permission listing attaches to the group, at the listing's scope.
pub(super) struct Listed {
    pub(super) group: String,
    pub(super) role: String,
    pub(super) scope: String,
    /// The listing's file, for messages.
    pub(super) file: String,
}

/// A required string field of a record, or an error naming the input file and path.
fn string_field(v: &Value, key: &str, file: &str, at: &str) -> Result<String, ImportError> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => Err(ImportError::File(JsonFileError::Invalid {
            path: file.to_owned(),
            at: format!("{at}.{key}"),
            msg: format!("expected a non-empty string, got {other}"),
        })),
        None => Err(ImportError::File(JsonFileError::Invalid {
            path: file.to_owned(),
            at: at.to_owned(),
            msg: format!("expected a \"{key}\" field"),
        })),
    }
}

/// Users, from every page.
pub(super) fn users(dump: &Dump, warnings: &mut Vec<String>) -> Result<Merged, ImportError> {
    let mut users = Merged::new();
    for path in &dump.users {
        let file = path.display().to_string();
        for (i, u) in read_json::<UsersFile>(path)?.users.into_iter().enumerate() {
            let at = format!("users[{i}]");
            let id = string_field(&u, "id", &file, &at)?;
            string_field(&u, "name", &file, &at)?;
            users.add(u, id, &file, at, "user", warnings);
        }
    }
    Ok(users)
}

/// Groups, from every page.
pub(super) fn groups(dump: &Dump, warnings: &mut Vec<String>) -> Result<Merged, ImportError> {
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
            groups.add(g, id, &file, at, "group", warnings);
        }
    }
    Ok(groups)
}

/// The user names of each group's members, in the order of `groups`. A member missing from
/// users.json (a page not exported) is added to `users` from the member listing, which has
/// the same shape.
pub(super) fn members(
    dump: &Dump,
    groups: &Merged,
    users: &mut Merged,
    warnings: &mut Vec<String>,
) -> Result<Vec<Vec<String>>, ImportError> {
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
                users.add(m, id.clone(), &file, at, "user", warnings);
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
    Ok(members)
}

/// Roles and policies, from every page of the catalogue and the custom policies, and the
/// roles that per-group permission listings attach to their groups. A `roles` response that
/// names a group in its link is that group's listing, wherever it lies.
pub(super) fn roles(
    dump: &Dump,
    warnings: &mut Vec<String>,
) -> Result<(Merged, Vec<Listed>), ImportError> {
    let mut roles = Merged::new();
    let mut listings: Vec<(String, PathBuf, RolesFile)> = Vec::new();
    // Per catalogue listing (system roles, custom policies): its own count of everything on
    // its pages, the most any page says, and the distinct ids its pages held.
    let mut totals: HashMap<&str, (u64, String, std::collections::HashSet<String>)> =
        HashMap::new();
    for path in dump.roles.clone() {
        let file: RolesFile = read_json(&path)?;
        if let Some(gid) = listing_group(file.links.as_ref()) {
            listings.push((gid, path, file));
            continue;
        }
        let listing = if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("custom_policies"))
        {
            "custom policies"
        } else {
            "roles"
        };
        let t = totals
            .entry(listing)
            .or_insert_with(|| (0, String::new(), Default::default()));
        if let Some(n) = file.total_number
            && n > t.0
        {
            t.0 = n;
            t.1 = path.display().to_string();
        }
        t.2.extend(
            file.roles
                .iter()
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned)),
        );
        add_roles(&mut roles, file.roles, &path, warnings)?;
    }
    for (listing, (n, file, ids)) in &totals {
        if (ids.len() as u64) < *n {
            warnings.push(format!(
                "{file}: total_number says the listing has {n} {listing}, but its pages hold {}: a page is missing (save every page); assignments of the roles on it are skipped",
                ids.len()
            ));
        }
    }
    for (gid, path) in dump.group_roles.clone() {
        let file: RolesFile = read_json(&path)?;
        listings.push((gid, path, file));
    }
    // A listing's roles are documents too, used where the catalogue lacks them.
    let mut listed: Vec<Listed> = Vec::new();
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
            listed.push(Listed {
                group: gid.clone(),
                role: id,
                scope: scope.clone(),
                file: name.clone(),
            });
        }
        let mut quiet = Vec::new();
        add_roles(&mut roles, file.roles, &path, &mut quiet)?;
    }
    Ok((roles, listed))
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
            return Err(ImportError::File(JsonFileError::Invalid {
                path: file,
                at: format!("{at}.policy"),
                msg: "expected a policy document object".into(),
            }));
        }
        roles.add(r, id, &file, at, "role", warnings);
    }
    Ok(())
}
