//! The IAM snapshot: users, groups, memberships, policies and where they are attached.
//!
//! Read from permlens' snapshot JSON (see the README, "Snapshot format") and validated as it
//! loads. Every error names the file, the JSON path and what was expected; things that can
//! be analysed anyway (an empty group, a disabled user) are warnings.

use std::collections::HashMap;
use std::path::Path;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::condition::{Condition, parse_date};
use super::pattern::ActionPattern;

/// Why a snapshot could not be loaded.
pub type SnapshotError = crate::jsonfile::JsonFileError;

/// `"Version": "1.1"` policies and `"5.0"` identity policies are evaluated; `"1.0"` roles
/// never authorize these APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// A system-defined role (Version 1.0).
    Role,
    /// A fine-grained policy (Version 1.1): `bss:*` actions.
    Policy,
    /// An IAM 5.0 identity policy (Version 5.0): `billing:*` actions, judged against the
    /// route's v5 action.
    Identity,
}

/// The authorization model a policy belongs to: the provider's role/policy model (v1.1
/// policies, and the roles it explains `role_only` with) or its identity-policy model (5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyModel {
    V11,
    V5,
}

impl PolicyModel {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyModel::V11 => "v1.1",
            PolicyModel::V5 => "v5",
        }
    }
}

impl PolicyKind {
    pub fn model(self) -> PolicyModel {
        match self {
            PolicyKind::Identity => PolicyModel::V5,
            PolicyKind::Role | PolicyKind::Policy => PolicyModel::V11,
        }
    }

    /// True for the kinds that are evaluated (v1.1 policies and v5 identity policies).
    pub fn evaluated(self) -> bool {
        self != PolicyKind::Role
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub effect: Effect,
    pub actions: Vec<ActionPattern>,
    /// All must hold.
    pub conditions: Vec<Condition>,
    /// v5 `NotAction`: the statement covers every action its patterns do *not* match.
    pub not_action: bool,
    /// False when a v5 statement's `Resource` names no `*` (or its `NotResource` does):
    /// billing actions have no resource type, so such a statement never covers them.
    pub all_resources: bool,
}

impl Statement {
    /// The pattern (as written) through which this statement covers `code` or one of its
    /// aliases, or for `NotAction` a description of the exclusion it escapes; `None` when
    /// the statement does not cover it.
    pub fn covers(&self, code: &str, aliases: &[String]) -> Option<String> {
        if !self.all_resources {
            return None;
        }
        let hit = |a: &ActionPattern| a.matches(code) || aliases.iter().any(|x| a.matches(x));
        if self.not_action {
            if self.actions.iter().any(hit) {
                return None;
            }
            let listed: Vec<&str> = self.actions.iter().map(ActionPattern::as_str).collect();
            return Some(format!("NotAction {listed:?}"));
        }
        self.actions
            .iter()
            .find(|a| hit(a))
            .map(|a| a.as_str().to_owned())
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub kind: PolicyKind,
    pub statements: Vec<Statement>,
    /// A grant of another policy with a scope other than the whole account (`P [project
    /// p1]`): the index of the policy it was made from.
    pub scoped_from: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub id: Option<String>,
    /// The user's URN as IAM 5.0 lists it (`iam::<account-id>:user:<name>`), for
    /// `g:PrincipalUrn`; built from the domain id when absent.
    pub urn: Option<String>,
    pub enabled: bool,
    /// Policies attached directly to the user (indexes into `Snapshot::policies`).
    pub policies: Vec<usize>,
    /// Groups the user belongs to (indexes into `Snapshot::groups`).
    pub groups: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub members: Vec<usize>,
    pub policies: Vec<usize>,
}

/// An IAM agency (or trust agency) with the v5 identity policies attached to it. No access
/// log names an agency's sessions yet: agencies are kept so the snapshot is whole.
#[derive(Debug, Clone)]
pub struct Agency {
    pub name: String,
    pub policies: Vec<usize>,
}

/// A loaded, validated snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub origin: String,
    pub taken_at: Option<Timestamp>,
    /// The account (domain) name, for `g:DomainName`.
    pub domain_name: Option<String>,
    /// The account (domain) id, for `g:PrincipalAccount` and `g:PrincipalUrn`.
    pub domain_id: Option<String>,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub agencies: Vec<Agency>,
    pub policies: Vec<Policy>,
    /// Things that can be analysed anyway, worth telling the user.
    pub warnings: Vec<String>,
    user_by_name: HashMap<String, usize>,
}

impl Snapshot {
    pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
        let (text, name) = crate::jsonfile::read(path, crate::jsonfile::Kind::Snapshot)?;
        Snapshot::from_json(&text, &name)
    }

    pub fn from_json(text: &str, origin: &str) -> Result<Snapshot, SnapshotError> {
        let value: Value = crate::jsonfile::parse(text, origin, crate::jsonfile::Kind::Snapshot)?;
        Loader {
            origin,
            notes: std::cell::RefCell::new(Vec::new()),
        }
        .snapshot(&value)
    }

    /// The user with this exact (case-sensitive) name.
    pub fn user(&self, name: &str) -> Option<usize> {
        self.user_by_name.get(name).copied()
    }

    pub fn group_by_name(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    /// True when the snapshot holds IAM 5.0 identity policies: the account uses the
    /// identity-policy model, so a route that model requires nothing for is allowed by it.
    pub fn has_identity_policies(&self) -> bool {
        self.policies.iter().any(|p| p.kind == PolicyKind::Identity)
    }
}

struct Loader<'a> {
    origin: &'a str,
    /// Warnings found while loading policies (unreadable actions).
    notes: std::cell::RefCell<Vec<String>>,
}

/// Where a policy is attached, as the IAM role assignment says. BSS is a project-level service
/// granted in all regions, so the account, all projects and a single project all authorize
/// its calls; an enterprise project cannot be told from a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    Domain,
    AllProjects,
    Project(String),
    EnterpriseProject(String),
}

impl Scope {
    fn parse(s: &str) -> Option<Scope> {
        let s = s.trim();
        let (kind, id) = s.split_once(':').map_or((s, ""), |(k, v)| (k, v.trim()));
        Some(match kind {
            "" | "domain" | "account" => Scope::Domain,
            "all_projects" | "inherited" => Scope::AllProjects,
            "project" if !id.is_empty() => Scope::Project(id.to_owned()),
            "enterprise_project" if !id.is_empty() => Scope::EnterpriseProject(id.to_owned()),
            _ => return None,
        })
    }

    /// How a grant with this scope is named: the policy's name, with the scope unless it is
    /// the whole account.
    fn label(&self, policy: &str) -> String {
        match self {
            Scope::Domain => policy.to_owned(),
            Scope::AllProjects => format!("{policy} [all projects]"),
            Scope::Project(p) => format!("{policy} [project {p}]"),
            Scope::EnterpriseProject(e) => format!("{policy} [enterprise project {e}]"),
        }
    }
}

/// The condition key an enterprise-project grant is held under: no log line carries it, so
/// the grant is an Allow whose condition is undecided.
pub const ENTERPRISE_PROJECT_KEY: &str = "g:EnterpriseProjectId";

type Obj = Map<String, Value>;

impl Loader<'_> {
    fn err(&self, at: &str, msg: impl Into<String>) -> SnapshotError {
        SnapshotError::Invalid {
            path: self.origin.to_owned(),
            at: if at.is_empty() {
                "$".to_owned()
            } else {
                at.to_owned()
            },
            msg: msg.into(),
        }
    }

    fn object<'v>(&self, v: &'v Value, at: &str) -> Result<&'v Obj, SnapshotError> {
        v.as_object()
            .ok_or_else(|| self.err(at, format!("expected an object, got {}", kind(v))))
    }

    fn array<'v>(&self, v: &'v Value, at: &str) -> Result<&'v Vec<Value>, SnapshotError> {
        v.as_array()
            .ok_or_else(|| self.err(at, format!("expected a list, got {}", kind(v))))
    }

    fn required<'v>(&self, o: &'v Obj, key: &str, at: &str) -> Result<&'v Value, SnapshotError> {
        o.get(key)
            .ok_or_else(|| self.err(at, format!("expected a \"{key}\" field")))
    }

    fn name(&self, o: &Obj, at: &str) -> Result<String, SnapshotError> {
        let at_name = format!("{at}.name");
        match self.required(o, "name", at)? {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            Value::String(_) => Err(self.err(
                &at_name,
                "expected a non-empty string, got an empty one".to_owned(),
            )),
            v => Err(self.err(
                &at_name,
                format!("expected a non-empty string, got {}", kind(v)),
            )),
        }
    }

    fn optional_string(
        &self,
        o: &Obj,
        key: &str,
        at: &str,
    ) -> Result<Option<String>, SnapshotError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.err(
                &format!("{at}.{key}"),
                format!("expected a string, got {}", kind(v)),
            )),
        }
    }

    /// An optional list of strings (`members`, `policies`).
    fn string_list(
        &self,
        o: &Obj,
        key: &str,
        at: &str,
    ) -> Result<Vec<(String, String)>, SnapshotError> {
        let Some(v) = o.get(key) else {
            return Ok(Vec::new());
        };
        let at = format!("{at}.{key}");
        self.array(v, &at)?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("{at}[{i}]");
                match item {
                    Value::String(s) => Ok((s.clone(), at)),
                    v => Err(self.err(&at, format!("expected a string, got {}", kind(v)))),
                }
            })
            .collect()
    }

    fn snapshot(&self, root: &Value) -> Result<Snapshot, SnapshotError> {
        let root = self.object(root, "")?;
        let taken_at = match root.get("taken_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_date(s).ok_or_else(|| {
                self.err("taken_at", format!("expected an RFC 3339 time, got {s:?}"))
            })?),
            Some(v) => {
                return Err(self.err(
                    "taken_at",
                    format!("expected an RFC 3339 time, got {}", kind(v)),
                ));
            }
        };
        let domain_id = match root.get("domain") {
            Some(Value::Object(d)) => d.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        let domain_name = match root.get("domain") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(d)) => d.get("name").and_then(Value::as_str).map(str::to_owned),
            Some(v) => {
                return Err(self.err(
                    "domain",
                    format!(
                        "expected a string or an object with a name, got {}",
                        kind(v)
                    ),
                ));
            }
        };
        let mut warnings = Vec::new();

        // Policies first: users and groups refer to them by name.
        let mut policies = Vec::new();
        let mut policy_by_name: HashMap<String, usize> = HashMap::new();
        for (i, p) in self
            .array(self.required(root, "policies", "")?, "policies")?
            .iter()
            .enumerate()
        {
            let at = format!("policies[{i}]");
            let o = self.object(p, &at)?;
            let name = self.name(o, &at)?;
            if let Some(j) = policy_by_name.insert(name.clone(), i) {
                return Err(self.err(
                    &format!("{at}.name"),
                    format!("duplicate policy name {name:?}: policies[{j}] has it too"),
                ));
            }
            let doc_at = format!("{at}.document");
            // IAM 5.0's API returns a policy version's document as a JSON string.
            let parsed;
            let doc = match self.required(o, "document", &at)? {
                Value::String(text) => {
                    parsed = serde_json::from_str::<Value>(text).map_err(|e| {
                        self.err(
                            &doc_at,
                            format!("expected a policy document (a JSON object, or a string holding one): {e}"),
                        )
                    })?;
                    self.object(&parsed, &doc_at)?
                }
                v => self.object(v, &doc_at)?,
            };
            policies.push(self.policy(name, doc, &doc_at)?);
        }

        let mut users = Vec::new();
        let mut user_by_name = HashMap::new();
        for (i, u) in self
            .array(self.required(root, "users", "")?, "users")?
            .iter()
            .enumerate()
        {
            let at = format!("users[{i}]");
            let o = self.object(u, &at)?;
            let name = self.name(o, &at)?;
            if let Some(j) = user_by_name.insert(name.clone(), i) {
                return Err(self.err(
                    &format!("{at}.name"),
                    format!("duplicate user name {name:?}: users[{j}] has it too"),
                ));
            }
            let id = self.optional_string(o, "id", &at)?;
            let urn = self.optional_string(o, "urn", &at)?;
            let enabled = match o.get("enabled") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => *b,
                Some(v) => {
                    return Err(self.err(
                        &format!("{at}.enabled"),
                        format!("expected true or false, got {}", kind(v)),
                    ));
                }
            };
            if !enabled {
                warnings.push(format!("{}: {at}: user {name:?} is disabled", self.origin));
            }
            let policies = self.attachments(o, &at, &mut policy_by_name, &mut policies)?;
            users.push(User {
                name,
                id,
                urn,
                enabled,
                policies,
                groups: Vec::new(),
            });
        }

        let mut groups: Vec<Group> = Vec::new();
        let mut group_by_name: HashMap<String, usize> = HashMap::new();
        for (i, g) in self
            .array(self.required(root, "groups", "")?, "groups")?
            .iter()
            .enumerate()
        {
            let at = format!("groups[{i}]");
            let o = self.object(g, &at)?;
            let name = self.name(o, &at)?;
            if let Some(j) = group_by_name.insert(name.clone(), i) {
                return Err(self.err(
                    &format!("{at}.name"),
                    format!("duplicate group name {name:?}: groups[{j}] has it too"),
                ));
            }
            let mut members = Vec::new();
            for (member, member_at) in self.string_list(o, "members", &at)? {
                let u = *user_by_name.get(&member).ok_or_else(|| {
                    self.err(
                        &member_at,
                        format!("member {member:?} is not a user in \"users\""),
                    )
                })?;
                if !members.contains(&u) {
                    members.push(u);
                    users[u].groups.push(i);
                }
            }
            if members.is_empty() {
                warnings.push(format!(
                    "{}: {at}: group {name:?} has no members",
                    self.origin
                ));
            }
            let policies = self.attachments(o, &at, &mut policy_by_name, &mut policies)?;
            groups.push(Group {
                name,
                members,
                policies,
            });
        }

        // Agencies (optional): only v5 identity policies attach to them.
        let mut agencies: Vec<Agency> = Vec::new();
        if let Some(list) = root.get("agencies") {
            for (i, a) in self.array(list, "agencies")?.iter().enumerate() {
                let at = format!("agencies[{i}]");
                let o = self.object(a, &at)?;
                let name = self.name(o, &at)?;
                if let Some(j) = agencies.iter().position(|x| x.name == name) {
                    return Err(self.err(
                        &format!("{at}.name"),
                        format!("duplicate agency name {name:?}: agencies[{j}] has it too"),
                    ));
                }
                let policies = self.attachments(o, &at, &mut policy_by_name, &mut policies)?;
                agencies.push(Agency { name, policies });
            }
        }

        warnings.extend(self.notes.borrow_mut().drain(..));
        Ok(Snapshot {
            origin: self.origin.to_owned(),
            taken_at,
            domain_name,
            domain_id,
            users,
            groups,
            agencies,
            policies,
            warnings,
            user_by_name,
        })
    }

    /// The policies attached to a user or group: names, or `{"name", "scope"}` objects. A
    /// grant scoped to other than the whole account is a policy of its own, named with its
    /// scope (so `granted_by` and `explain` show it); an enterprise-project grant's Allows
    /// hold under a condition no log line can decide.
    fn attachments(
        &self,
        o: &Obj,
        at: &str,
        by_name: &mut HashMap<String, usize>,
        policies: &mut Vec<Policy>,
    ) -> Result<Vec<usize>, SnapshotError> {
        let mut out = Vec::new();
        let Some(list) = o.get("policies") else {
            return Ok(out);
        };
        let list_at = format!("{at}.policies");
        for (i, item) in self.array(list, &list_at)?.iter().enumerate() {
            let item_at = format!("{list_at}[{i}]");
            let (name, scope) = match item {
                Value::String(s) => (s.clone(), Scope::Domain),
                Value::Object(a) => {
                    let name = self.name(a, &item_at)?;
                    let scope = match a.get("scope") {
                        None | Some(Value::Null) => Scope::Domain,
                        Some(Value::String(s)) => Scope::parse(s).ok_or_else(|| {
                            self.err(
                                &format!("{item_at}.scope"),
                                format!("expected domain, all_projects, project:<id> or enterprise_project:<id>, got {s:?}"),
                            )
                        })?,
                        Some(v) => {
                            return Err(self.err(
                                &format!("{item_at}.scope"),
                                format!("expected a string, got {}", kind(v)),
                            ));
                        }
                    };
                    (name, scope)
                }
                v => {
                    return Err(self.err(
                        &item_at,
                        format!(
                            "expected a policy name or {{\"name\", \"scope\"}}, got {}",
                            kind(v)
                        ),
                    ));
                }
            };
            let base = *by_name.get(&name).ok_or_else(|| {
                self.err(
                    &item_at,
                    format!("attached policy {name:?} is not in \"policies\""),
                )
            })?;
            if scope != Scope::Domain && policies[base].kind == PolicyKind::Identity {
                return Err(self.err(
                    &format!("{item_at}.scope"),
                    format!("identity policy {name:?} (Version 5.0) is attached without a scope; expected no scope or \"domain\""),
                ));
            }
            let p = if scope == Scope::Domain {
                base
            } else {
                let label = scope.label(&name);
                match by_name.get(&label) {
                    Some(&p) => p,
                    None => {
                        let mut scoped = policies[base].clone();
                        scoped.name = label.clone();
                        scoped.scoped_from = Some(base);
                        if let Scope::EnterpriseProject(ep) = &scope {
                            let held = Condition::new(
                                "StringEquals",
                                ENTERPRISE_PROJECT_KEY,
                                vec![ep.clone()],
                            )
                            .map_err(|m| self.err(&item_at, m))?;
                            for st in &mut scoped.statements {
                                st.conditions.push(held.clone());
                            }
                        }
                        policies.push(scoped);
                        by_name.insert(label, policies.len() - 1);
                        policies.len() - 1
                    }
                }
            };
            if !out.contains(&p) {
                out.push(p);
            }
        }
        Ok(out)
    }

    fn policy(&self, name: String, doc: &Obj, at: &str) -> Result<Policy, SnapshotError> {
        let kind = match doc.get("Version") {
            Some(Value::String(v)) if v == "1.1" => PolicyKind::Policy,
            Some(Value::String(v)) if v == "1.0" => PolicyKind::Role,
            Some(Value::String(v)) if v == "5.0" => PolicyKind::Identity,
            Some(v) => {
                return Err(self.err(
                    &format!("{at}.Version"),
                    format!("expected \"1.1\" (fine-grained policy), \"5.0\" (identity policy) or \"1.0\" (role), got {v}"),
                ));
            }
            None => {
                return Err(self.err(
                    at,
                    "expected a \"Version\" field: \"1.1\" (policy), \"5.0\" (identity policy) or \"1.0\" (role)",
                ));
            }
        };
        let st_at = format!("{at}.Statement");
        let statements = if kind == PolicyKind::Role {
            // Roles never authorize these APIs: they are kept as the provider wrote them
            // (any service's actions, `identity:assume role`, ...); what can be read of
            // them only explains `role_only` and `replace_role`.
            doc.get("Statement")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .enumerate()
                        .filter_map(|(i, s)| self.statement(s, &format!("{st_at}[{i}]"), kind).ok())
                        .collect()
                })
                .unwrap_or_default()
        } else {
            self.array(self.required(doc, "Statement", at)?, &st_at)?
                .iter()
                .enumerate()
                .map(|(i, s)| self.statement(s, &format!("{st_at}[{i}]"), kind))
                .collect::<Result<_, _>>()?
        };
        Ok(Policy {
            name,
            kind,
            statements,
            scoped_from: None,
        })
    }

    /// Unreadable actions of policies are noted; roles drop them quietly. v5 statements may
    /// use `NotAction`, `Resource`/`NotResource` and the v5 condition forms.
    fn statement(
        &self,
        v: &Value,
        at: &str,
        kind_of: PolicyKind,
    ) -> Result<Statement, SnapshotError> {
        let warn = kind_of.evaluated();
        let v5 = kind_of == PolicyKind::Identity;
        let o = self.object(v, at)?;
        let effect = match o.get("Effect") {
            Some(Value::String(e)) if e == "Allow" => Effect::Allow,
            Some(Value::String(e)) if e == "Deny" => Effect::Deny,
            Some(v) => {
                return Err(self.err(
                    &format!("{at}.Effect"),
                    format!("expected \"Allow\" or \"Deny\", got {v}"),
                ));
            }
            None => {
                return Err(self.err(at, "expected an \"Effect\" field (\"Allow\" or \"Deny\")"));
            }
        };
        let not_action = v5 && o.contains_key("NotAction");
        if not_action && o.contains_key("Action") {
            return Err(self.err(
                at,
                "expected \"Action\" or \"NotAction\", not both in one statement",
            ));
        }
        let action_key = if not_action { "NotAction" } else { "Action" };
        let action_at = format!("{at}.{action_key}");
        let raw_actions: Vec<(&str, String)> = match o.get(action_key) {
            Some(Value::String(s)) => vec![(s.as_str(), action_at.clone())],
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let item_at = format!("{action_at}[{i}]");
                    item.as_str().map(|s| (s, item_at.clone())).ok_or_else(|| {
                        self.err(
                            &item_at,
                            format!("expected an action string, got {}", kind(item)),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(v) => {
                return Err(self.err(
                    &action_at,
                    format!(
                        "expected an action string or a list of them, got {}",
                        kind(v)
                    ),
                ));
            }
            None => {
                return Err(self.err(
                    at,
                    if v5 {
                        "expected an \"Action\" or \"NotAction\" field (a string or a list of strings)"
                    } else {
                        "expected an \"Action\" field (a string or a list of strings)"
                    },
                ));
            }
        };
        let all_resources = if v5 { self.all_resources(o, at)? } else { true };
        // An action that is not `service:resourceType:action` (another service's own form)
        // cannot be a BSS permission: the policy is kept, the action is left out and named.
        let mut actions = Vec::with_capacity(raw_actions.len());
        for (s, item_at) in raw_actions {
            match ActionPattern::parse(s) {
                Ok(p) => actions.push(p),
                Err(e) if warn => self.notes.borrow_mut().push(format!(
                    "{}: {item_at}: {e}; it is left out (it cannot match a {} permission)",
                    self.origin,
                    if s.starts_with("bss:") {
                        "well-formed bss"
                    } else {
                        "BSS"
                    }
                )),
                Err(_) => {}
            }
        }
        let mut conditions = Vec::new();
        if let Some(c) = o.get("Condition") {
            let c_at = format!("{at}.Condition");
            for (op, keys) in self.object(c, &c_at)? {
                let op_at = format!("{c_at}.{op}");
                for (key, values) in self.object(keys, &op_at)? {
                    let key_at = format!("{op_at}.{key}");
                    let values = self.condition_values(values, &key_at)?;
                    let c = if v5 {
                        Condition::new_v5(op, key, values)
                    } else {
                        Condition::new(op, key, values)
                    };
                    let c = c.map_err(|m| self.err(&key_at, m))?;
                    if !c.known_operator() {
                        self.notes.borrow_mut().push(format!(
                            "{}: {op_at}: {op:?} is no IAM condition operator (a typo? IAM refuses it): the calls this statement applies to are judged condition_undecided",
                            self.origin
                        ));
                    }
                    conditions.push(c);
                }
            }
        }
        Ok(Statement {
            effect,
            actions,
            conditions,
            not_action,
            all_resources,
        })
    }

    /// A v5 statement's `Resource` (strings; `*` covers billing actions, which have no
    /// resource type) or `NotResource` (covers them unless it names `*`). Absent: all.
    fn all_resources(&self, o: &Obj, at: &str) -> Result<bool, SnapshotError> {
        for (key, wanted) in [("Resource", true), ("NotResource", false)] {
            let Some(v) = o.get(key) else { continue };
            let list_at = format!("{at}.{key}");
            let items: Vec<&str> = match v {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        item.as_str().ok_or_else(|| {
                            self.err(
                                &format!("{list_at}[{i}]"),
                                format!("expected a resource string, got {}", kind(item)),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
                v => {
                    return Err(self.err(
                        &list_at,
                        format!(
                            "expected a resource string or a list of them, got {}",
                            kind(v)
                        ),
                    ));
                }
            };
            return Ok(items.contains(&"*") == wanted);
        }
        Ok(true)
    }

    fn condition_values(&self, v: &Value, at: &str) -> Result<Vec<String>, SnapshotError> {
        let scalar = |v: &Value, at: &str| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            v => Err(self.err(
                at,
                format!("expected a string, number or boolean, got {}", kind(v)),
            )),
        };
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| scalar(item, &format!("{at}[{i}]")))
                .collect(),
            v => Ok(vec![scalar(v, at)?]),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
