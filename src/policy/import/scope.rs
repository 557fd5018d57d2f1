//! The scope of a grant, as the snapshot writes it (`domain`, `all_projects`,
//! `project:<id>`, `enterprise_project:<id>`): from a role assignment, or from the link of a
//! per-group permission listing. A scope permlens does not know is never taken for the whole
//! account.

use serde_json::Value;

use super::ref_id;

/// The scope of an assignment, as the snapshot writes it, or why it cannot be told: a scope
/// permlens does not know is never taken for the whole account.
pub(super) fn scope_of(a: &Value) -> Result<String, String> {
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
pub(super) fn listing_scope(links: Option<&Value>) -> Result<String, String> {
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
pub(super) fn listing_group(links: Option<&Value>) -> Option<String> {
    let link = links?.get("self")?.as_str()?;
    let rest = link.split("/groups/").nth(1)?;
    let (id, after) = rest.split_once('/')?;
    after.starts_with("roles").then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
