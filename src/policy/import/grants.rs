//! Who holds which policy, at which scope: the roles that per-group listings attach, and the
//! role assignments, each to a group or a user of the dump. An assignment naming a role,
//! group or user the dump lacks is skipped with a warning.

use std::collections::BTreeMap;

use serde_json::Value;

use super::dump::{AssignmentList, AssignmentsFile, Dump, read_json};
use super::pages::Listed;
use super::scope::scope_of;
use super::{ImportError, Records, ref_id};

/// A policy held at a scope: (policy name in the snapshot, scope).
pub(super) type Grant = (String, String);

/// The grants of the snapshot, de-duplicated by policy and scope.
pub(super) struct Grants {
    /// Per group, in the order of the dump's groups.
    pub(super) groups: Vec<Vec<Grant>>,
    /// Per user name.
    pub(super) users: BTreeMap<String, Vec<Grant>>,
}

/// Assignments skipped for a reason said once at the end rather than per assignment.
#[derive(Default)]
struct Skipped {
    /// Per role id: where it was first named, and how many assignments named it.
    unknown_roles: BTreeMap<String, (String, usize)>,
    agencies: usize,
}

/// The grants of the listings and of every page of role assignments.
pub(super) fn grants(
    dump: &Dump,
    listed: &[Listed],
    records: &Records<'_>,
    warnings: &mut Vec<String>,
) -> Result<Grants, ImportError> {
    let mut grants = Grants {
        groups: vec![Vec::new(); records.groups.items.len()],
        users: BTreeMap::new(),
    };
    for l in listed {
        let Some(&g) = records.groups.by_id.get(l.group.as_str()) else {
            warnings.push(format!(
                "{}: permissions of group id {:?}, which is in no groups page; skipped",
                l.file, l.group
            ));
            continue;
        };
        let r = records.roles.by_id[l.role.as_str()];
        attach(&mut grants.groups[g], &records.role_names[r], &l.scope);
    }
    if dump.assignments.is_empty() && listed.is_empty() && !dump.users.is_empty() {
        warnings
            .push("no role_assignments.json: no policy is attached to any group or user".into());
    }
    let mut skipped = Skipped::default();
    // The listing's own count against the distinct assignments its pages held: a page not
    // saved leaves grants out, which would judge their calls as not granted.
    let mut total: Option<(u64, String)> = None;
    let mut distinct: std::collections::HashSet<String> = std::collections::HashSet::new();
    for path in &dump.assignments {
        let file = path.display().to_string();
        let page = read_json::<AssignmentsFile>(path)?;
        if let Some(n) = page.total_num
            && total.as_ref().is_none_or(|(t, _)| n > *t)
        {
            total = Some((n, file.clone()));
        }
        let list = match page.role_assignments {
            AssignmentList::Many(v) => v,
            AssignmentList::One(v) => vec![v],
        };
        for (i, a) in list.iter().enumerate() {
            distinct.insert(a.to_string());
            let here = format!("{file}: role_assignments[{i}]");
            grants.assign(a, &here, records, &mut skipped, warnings);
        }
    }
    if let Some((n, file)) = total
        && (distinct.len() as u64) < n
    {
        warnings.push(format!(
            "{file}: total_num says the listing has {n} role assignments, but its pages hold {}: a page is missing (save every page, --page=1.. until one has fewer than --per_page); the grants on it are left out",
            distinct.len()
        ));
    }
    for (id, (first, n)) in &skipped.unknown_roles {
        warnings.push(format!(
            "{first}: role {id:?} is in no roles.json or custom_policies.json page; {n} assignment(s) skipped"
        ));
    }
    if skipped.agencies > 0 {
        warnings.push(format!(
            "skipped {} assignment(s) to agencies: permlens analyses users",
            skipped.agencies
        ));
    }
    Ok(grants)
}

impl Grants {
    /// One role assignment `a` (at `here`: file and JSON path, for messages): its policy
    /// attached to the group or user it names, or why not.
    fn assign(
        &mut self,
        a: &Value,
        here: &str,
        records: &Records<'_>,
        skipped: &mut Skipped,
        warnings: &mut Vec<String>,
    ) {
        let Some(role_id) = ref_id(a, "role").or_else(|| a.get("role_id").and_then(Value::as_str))
        else {
            warnings.push(format!("{here}: no role.id; skipped"));
            return;
        };
        let Some(&r) = records.roles.by_id.get(role_id) else {
            let e = skipped
                .unknown_roles
                .entry(role_id.to_owned())
                .or_insert_with(|| (format!("{here}.role.id"), 0));
            e.1 += 1;
            return;
        };
        let scope = match scope_of(a) {
            Ok(scope) => scope,
            Err(why) => {
                warnings.push(format!("{here}.scope: {why}; skipped"));
                return;
            }
        };
        let policy = &records.role_names[r];
        if let Some(g) = ref_id(a, "group") {
            match records.groups.by_id.get(g) {
                Some(&gi) => attach(&mut self.groups[gi], policy, &scope),
                None => warnings.push(format!(
                    "{here}.group.id: group {g:?} is in no groups page; skipped"
                )),
            }
        } else if let Some(u) = ref_id(a, "user") {
            match records.users.by_id.get(u) {
                Some(&ui) => {
                    let name = records.users.items[ui].0["name"]
                        .as_str()
                        .unwrap_or_default();
                    attach(
                        self.users.entry(name.to_owned()).or_default(),
                        policy,
                        &scope,
                    );
                }
                None => warnings.push(format!(
                    "{here}.user.id: user {u:?} is in no users page; skipped"
                )),
            }
        } else if ref_id(a, "agency").is_some() {
            skipped.agencies += 1;
        } else {
            warnings.push(format!("{here}: no group, user or agency; skipped"));
        }
    }
}

/// Adds a grant to a list unless it holds it already.
fn attach(list: &mut Vec<Grant>, policy: &str, scope: &str) {
    let grant = (policy.to_owned(), scope.to_owned());
    if !list.contains(&grant) {
        list.push(grant);
    }
}
