//! The route catalog: which API a request calls and which IAM permission code that API needs.
//!
//! The embedded catalog is `data/bss.json`, generated from the provider's table
//! (`data/bss-api-permissions.txt`) by `permlens catalog import`; a test keeps the two equal.
//! Users can load their own catalog in the same JSON format with `--catalog FILE`.

mod known;
mod method;
pub mod seed;
mod template;
mod v5;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::jsonfile::{self, Kind};

pub use method::{Method, UnknownMethod};
pub use template::{Segment, Template, TemplateError};
pub use v5::{V5Basis, V5Requirement};

/// The catalog compiled into the binary.
pub const EMBEDDED_JSON: &str = include_str!("data/bss.json");
/// The provider's table the embedded catalog is generated from.
pub const EMBEDDED_SEED: &str = include_str!("data/bss-api-permissions.txt");
/// How errors and reports name the embedded catalog.
pub const EMBEDDED_NAME: &str = "<embedded bss catalog>";

/// Index of a route in [`Catalog::routes`].
pub type RouteId = u16;

/// The catalog file format, as read from and written to JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// The service segment of every permission code (`bss`).
    pub service: String,
    /// Hosts that serve the catalog's APIs; requests to them that match no route are reported
    /// as unmatched rather than as other traffic.
    #[serde(default)]
    pub hosts: Vec<String>,
    pub routes: Vec<RouteFile>,
}

/// One route in the catalog file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub scenario: String,
    pub sub_scenario: String,
    /// The provider's API description, e.g. "Querying order details".
    pub api: String,
    pub method: String,
    /// Path template: literals, `{param}` for one segment, `**` for one or more trailing ones.
    pub path: String,
    pub permission: String,
    /// The provider's "Supported Action" text for the permission.
    pub permission_description: String,
    /// Cloud Trace Service operation names recorded for this API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace_names: Vec<String>,
    /// Operation names the Billing Center console records in CTS for the same operation
    /// (console use, not an API call: mapped to this route's permission by inference).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub console_trace_names: Vec<String>,
    /// The action an IAM 5.0 identity policy must allow for this API (`billing:order:view`);
    /// absent when none is required (`v5_basis` `not_required`) or none is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v5_action: Option<String>,
    /// `confirmed`, `inferred`, `not_required` or `unknown` (the default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v5_basis: Option<V5Basis>,
    /// Legacy names the provider lists as aliases of `v5_action` in its v5 action table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub v5_aliases: Vec<String>,
    /// Where the v5 mapping comes from, or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v5_source: Option<String>,
    /// The permission filters the response instead of gating the call: without it the API
    /// still succeeds and only leaves some information out (the provider documents this for
    /// `bss:discount:view` on the rating APIs). Its absence never explains a 403, a success
    /// without it is no drift, and a success counts as a use only for a caller who held it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub response_filtering: bool,
}

/// A validated route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub scenario: String,
    pub sub_scenario: String,
    pub api: String,
    pub method: Method,
    pub template: Template,
    pub permission: String,
    pub permission_description: String,
    pub trace_names: Vec<String>,
    pub console_trace_names: Vec<String>,
    /// What the route needs under IAM 5.0 identity policies.
    pub v5: V5Requirement,
    /// See [`RouteFile::response_filtering`].
    pub response_filtering: bool,
}

/// Why a catalog could not be loaded. Every variant names the file and the place.
pub type CatalogError = crate::jsonfile::JsonFileError;

/// A loaded, validated catalog with its compiled matcher.
#[derive(Debug, Clone)]
pub struct Catalog {
    origin: String,
    service: String,
    hosts: Vec<String>,
    routes: Vec<Route>,
    permissions: Vec<String>,
    v5_actions: Vec<String>,
    v5_grant_codes: Vec<String>,
    by_trace_name: HashMap<String, RouteId>,
    by_console_trace_name: HashMap<String, RouteId>,
}

impl Catalog {
    /// The BSS catalog compiled into the binary.
    pub fn embedded() -> Catalog {
        Catalog::from_json(EMBEDDED_JSON, EMBEDDED_NAME)
            .expect("the embedded catalog is validated by the test suite")
    }

    /// Loads the embedded catalog, or the user's file when one is given.
    pub fn load_or_embedded(path: Option<&Path>) -> Result<Catalog, CatalogError> {
        match path {
            Some(p) => Catalog::load(p),
            None => Ok(Catalog::embedded()),
        }
    }

    /// Loads and validates a catalog JSON file.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let (text, name) = jsonfile::read(path, Kind::Catalog)?;
        Catalog::from_json(&text, &name)
    }

    /// Parses and validates catalog JSON; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = jsonfile::parse(text, origin, Kind::Catalog)?;
        Catalog::from_file(file, origin)
    }

    /// Validates a catalog: known methods, well-formed templates and permission codes, no
    /// duplicate or ambiguous routes, no trace name used twice.
    pub fn from_file(file: CatalogFile, origin: &str) -> Result<Catalog, CatalogError> {
        let invalid = |at: String, msg: String| CatalogError::Invalid {
            path: origin.to_owned(),
            at,
            msg,
        };
        if !is_service_name(&file.service) {
            return Err(invalid(
                "service".into(),
                format!(
                    "expected a lowercase service name such as \"bss\", got {:?}",
                    file.service
                ),
            ));
        }
        for (i, host) in file.hosts.iter().enumerate() {
            if host.is_empty() || host.contains(['/', ' ']) || host.to_ascii_lowercase() != *host {
                return Err(invalid(
                    format!("hosts[{i}]"),
                    format!("expected a lowercase host name, got {host:?}"),
                ));
            }
        }
        if file.routes.is_empty() {
            return Err(invalid(
                "routes".into(),
                "expected at least one route".into(),
            ));
        }
        if file.routes.len() > usize::from(RouteId::MAX) {
            return Err(invalid(
                "routes".into(),
                format!(
                    "{} routes is more than the limit of {}",
                    file.routes.len(),
                    RouteId::MAX
                ),
            ));
        }
        let mut routes: Vec<Route> = Vec::with_capacity(file.routes.len());
        let mut by_trace_name = HashMap::new();
        let mut by_console_trace_name: HashMap<String, RouteId> = HashMap::new();
        for (i, r) in file.routes.into_iter().enumerate() {
            let at = |field: &str| format!("routes[{i}].{field}");
            for (field, value) in [("scenario", &r.scenario), ("api", &r.api)] {
                if value.trim().is_empty() {
                    return Err(invalid(at(field), "expected a non-empty string".into()));
                }
            }
            let method: Method = r
                .method
                .parse()
                .map_err(|e: UnknownMethod| invalid(at("method"), e.to_string()))?;
            let template =
                Template::parse(&r.path).map_err(|e| invalid(at("path"), e.to_string()))?;
            check_permission_code(&r.permission, &file.service)
                .map_err(|msg| invalid(at("permission"), msg))?;
            for (j, other) in routes.iter().enumerate() {
                if other.method != method {
                    continue;
                }
                if other.template.as_str() == template.as_str() {
                    return Err(invalid(
                        at("path"),
                        format!(
                            "duplicate route {method} {template}: routes[{j}] has the same method and path"
                        ),
                    ));
                }
                if other.template.same_shape(&template) {
                    return Err(invalid(
                        at("path"),
                        format!(
                            "ambiguous route {method} {template}: routes[{j}] ({method} {}) matches the same requests and neither is more specific",
                            other.template
                        ),
                    ));
                }
            }
            // API and console names share one namespace: a trace name stands for one route.
            for (list, names) in [
                ("trace_names", &r.trace_names),
                ("console_trace_names", &r.console_trace_names),
            ] {
                for (k, name) in names.iter().enumerate() {
                    let at = format!("routes[{i}].{list}[{k}]");
                    if name.is_empty() {
                        return Err(invalid(at, "expected a non-empty trace name".into()));
                    }
                    if let Some(j) = by_trace_name
                        .get(name)
                        .or_else(|| by_console_trace_name.get(name))
                    {
                        return Err(invalid(
                            at,
                            format!("trace name {name:?} is already used by routes[{j}]"),
                        ));
                    }
                    let map = if list == "trace_names" {
                        &mut by_trace_name
                    } else {
                        &mut by_console_trace_name
                    };
                    map.insert(name.clone(), i as RouteId);
                }
            }
            let v5 = check_v5(&r).map_err(|(field, msg)| invalid(at(field), msg))?;
            routes.push(Route {
                scenario: r.scenario,
                sub_scenario: r.sub_scenario,
                api: r.api,
                method,
                template,
                permission: r.permission,
                permission_description: r.permission_description,
                trace_names: r.trace_names,
                console_trace_names: r.console_trace_names,
                v5,
                response_filtering: r.response_filtering,
            });
        }
        let permissions: BTreeSet<String> = routes.iter().map(|r| r.permission.clone()).collect();
        let v5_actions: BTreeSet<String> =
            routes.iter().filter_map(|r| r.v5.action.clone()).collect();
        let v5_grant_codes: BTreeSet<String> = v5_actions
            .iter()
            .cloned()
            .chain(routes.iter().flat_map(|r| r.v5.aliases.iter().cloned()))
            .collect();
        Ok(Catalog {
            origin: origin.to_owned(),
            service: file.service,
            hosts: file.hosts,
            routes,
            permissions: permissions.into_iter().collect(),
            v5_actions: v5_actions.into_iter().collect(),
            v5_grant_codes: v5_grant_codes.into_iter().collect(),
            by_trace_name,
            by_console_trace_name,
        })
    }

    /// Where this catalog came from (a file name, or the embedded marker).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn route(&self, id: RouteId) -> &Route {
        &self.routes[usize::from(id)]
    }

    /// The distinct permission codes the routes require, sorted.
    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }

    /// The distinct IAM 5.0 actions the routes require, sorted (empty for a catalog without
    /// v5 mappings).
    pub fn v5_actions(&self) -> &[String] {
        &self.v5_actions
    }

    /// What an IAM 5.0 grant can be observed through: the v5 actions and their documented
    /// aliases (a v5 policy naming `bss:costanalysis:view` grants cost data, and a success
    /// on that route uses both the v1.1 code and the alias), sorted.
    pub fn v5_grant_codes(&self) -> &[String] {
        &self.v5_grant_codes
    }

    /// The route a Cloud Trace Service operation name stands for (case-sensitive).
    pub fn route_for_trace(&self, trace_name: &str) -> Option<RouteId> {
        self.by_trace_name.get(trace_name).copied()
    }

    /// The route a Billing Center console operation name stands for (case-sensitive): the
    /// API that performs the same operation.
    pub fn route_for_console_trace(&self, trace_name: &str) -> Option<RouteId> {
        self.by_console_trace_name.get(trace_name).copied()
    }

    /// The catalog in its file format, for `catalog --format json`.
    pub fn to_file(&self) -> CatalogFile {
        CatalogFile {
            service: self.service.clone(),
            hosts: self.hosts.clone(),
            routes: self
                .routes
                .iter()
                .map(|r| RouteFile {
                    scenario: r.scenario.clone(),
                    sub_scenario: r.sub_scenario.clone(),
                    api: r.api.clone(),
                    method: r.method.to_string(),
                    path: r.template.to_string(),
                    permission: r.permission.clone(),
                    permission_description: r.permission_description.clone(),
                    trace_names: r.trace_names.clone(),
                    console_trace_names: r.console_trace_names.clone(),
                    v5_action: r.v5.action.clone(),
                    v5_basis: (r.v5 != V5Requirement::default()).then_some(r.v5.basis),
                    v5_aliases: r.v5.aliases.clone(),
                    v5_source: (!r.v5.source.is_empty()).then(|| r.v5.source.clone()),
                    response_filtering: r.response_filtering,
                })
                .collect(),
        }
    }
}

impl Catalog {
    /// The catalog's JSON without what only judging reads (response filtering, the IAM 5.0
    /// fields): what shapes classified rows, for fingerprints of stored rows. A state or
    /// partial made before those fields existed keeps its fingerprint, and a change of them
    /// never makes one unreadable (rows are judged afresh every run).
    pub fn routing_json(&self) -> String {
        let mut file = self.to_file();
        for r in &mut file.routes {
            r.response_filtering = false;
            r.v5_action = None;
            r.v5_basis = None;
            r.v5_aliases.clear();
            r.v5_source = None;
        }
        file.to_json()
    }
}

impl CatalogFile {
    /// Pretty JSON with a trailing newline, the form `catalog import` writes.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("catalog serialises");
        s.push('\n');
        s
    }
}

fn is_service_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A route's v5 fields: an action exactly when the basis is `confirmed` or `inferred` (the
/// default basis is `confirmed` when an action is given, `unknown` otherwise), well-formed
/// actions and aliases. Errors name the field.
fn check_v5(r: &RouteFile) -> Result<V5Requirement, (&'static str, String)> {
    let basis = r.v5_basis.unwrap_or(if r.v5_action.is_some() {
        V5Basis::Confirmed
    } else {
        V5Basis::Unknown
    });
    match (&r.v5_action, basis.has_action()) {
        (Some(a), true) => v5::check_action(a).map_err(|m| ("v5_action", m))?,
        (None, false) => {}
        (Some(a), false) => {
            return Err((
                "v5_action",
                format!("v5_basis {:?} takes no action, got {a:?}", basis.as_str()),
            ));
        }
        (None, true) => {
            return Err((
                "v5_action",
                format!("v5_basis {:?} needs a v5_action", basis.as_str()),
            ));
        }
    }
    for a in &r.v5_aliases {
        v5::check_action(a).map_err(|m| ("v5_aliases", m))?;
    }
    if !r.v5_aliases.is_empty() && r.v5_action.is_none() {
        return Err(("v5_aliases", "aliases need a v5_action".into()));
    }
    Ok(V5Requirement {
        basis,
        action: r.v5_action.clone(),
        aliases: r.v5_aliases.clone(),
        source: r.v5_source.clone().unwrap_or_default(),
    })
}

/// A permission code is `service:resourceType:action`, with the catalog's service.
fn check_permission_code(code: &str, service: &str) -> Result<(), String> {
    let parts: Vec<&str> = code.split(':').collect();
    let well_formed = parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !well_formed {
        return Err(format!(
            "expected a permission code service:resourceType:action without wildcards, got {code:?}"
        ));
    }
    if parts[0] != service {
        return Err(format!(
            "permission {code:?} belongs to service {:?}, expected the catalog's service {service:?}",
            parts[0]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> RouteFile {
        RouteFile {
            scenario: "s".into(),
            sub_scenario: "ss".into(),
            api: "a".into(),
            method: method.into(),
            path: path.into(),
            permission: "bss:order:view".into(),
            permission_description: String::new(),
            trace_names: vec![],
            console_trace_names: vec![],
            v5_action: None,
            v5_basis: None,
            v5_aliases: vec![],
            v5_source: None,
            response_filtering: false,
        }
    }

    fn build(routes: Vec<RouteFile>) -> Result<Catalog, CatalogError> {
        Catalog::from_file(
            CatalogFile {
                service: "bss".into(),
                hosts: vec!["bss.example.com".into()],
                routes,
            },
            "test.json",
        )
    }

    #[test]
    fn embedded_catalog_loads() {
        let c = Catalog::embedded();
        assert_eq!(c.routes().len(), 27);
        assert_eq!(c.permissions().len(), 12);
        assert_eq!(c.service(), "bss");
        assert_eq!(c.v5_actions().len(), 12);
        // Every route says what it needs under IAM 5.0, with a source.
        for r in c.routes() {
            assert!(!r.v5.source.is_empty(), "{} {}", r.method, r.template);
        }
        let cancel = c
            .routes()
            .iter()
            .find(|r| r.template.as_str() == "/v2/orders/customer-orders/cancel")
            .unwrap();
        assert_eq!(cancel.v5.basis, V5Basis::NotRequired);
        assert_eq!(cancel.v5.action, None);
    }

    #[test]
    fn routing_json_leaves_out_the_v5_fields() {
        let c = Catalog::embedded();
        let routing = c.routing_json();
        assert!(!routing.contains("v5_"));
        assert!(c.to_file().to_json().contains("v5_action"));
        // The same catalog without v5 fields has the same routing JSON.
        let mut plain = c.to_file();
        for r in &mut plain.routes {
            r.v5_action = None;
            r.v5_basis = None;
            r.v5_aliases.clear();
            r.v5_source = None;
        }
        assert_eq!(
            Catalog::from_file(plain, "p").unwrap().routing_json(),
            routing
        );
    }

    #[test]
    fn v5_fields_are_checked() {
        let mut r = route("GET", "/a");
        r.v5_action = Some("billing:order:*".into());
        let err = build(vec![r.clone()]).unwrap_err().to_string();
        assert!(
            err.contains("routes[0].v5_action: expected a v5 action"),
            "{err}"
        );
        r.v5_action = Some("billing:order:view".into());
        r.v5_basis = Some(V5Basis::NotRequired);
        let err = build(vec![r.clone()]).unwrap_err().to_string();
        assert!(err.contains("takes no action"), "{err}");
        r.v5_action = None;
        r.v5_basis = Some(V5Basis::Inferred);
        let err = build(vec![r.clone()]).unwrap_err().to_string();
        assert!(err.contains("needs a v5_action"), "{err}");
        // An action alone is confirmed; no v5 fields at all is unknown (older catalogs).
        r.v5_action = Some("billing:order:view".into());
        r.v5_basis = None;
        let c = build(vec![r, route("GET", "/b")]).unwrap();
        assert_eq!(c.routes()[0].v5.basis, V5Basis::Confirmed);
        assert_eq!(c.routes()[1].v5, V5Requirement::default());
        assert_eq!(c.v5_actions(), ["billing:order:view"]);
    }

    #[test]
    fn validation_errors_name_the_place() {
        let cases: Vec<(Vec<RouteFile>, &str)> = vec![
            (
                vec![route("FETCH", "/a")],
                "routes[0].method: unknown HTTP method \"FETCH\"",
            ),
            (
                vec![route("GET", "/a/{b")],
                "routes[0].path: unbalanced braces",
            ),
            (
                vec![route("GET", "/a/**/b")],
                "routes[0].path: '**' must be the last",
            ),
            (
                vec![route("GET", "/a/{x}"), route("get", "/a/{x}")],
                "routes[1].path: duplicate route GET /a/{x}",
            ),
            (
                vec![route("GET", "/a/{x}/c"), route("GET", "/a/{y}/c")],
                "routes[1].path: ambiguous route GET /a/{y}/c: routes[0]",
            ),
            (vec![], "routes: expected at least one route"),
        ];
        for (routes, want) in cases {
            let err = build(routes).unwrap_err().to_string();
            assert!(err.starts_with("test.json: "), "{err}");
            assert!(err.contains(want), "want {want:?} in {err:?}");
        }
    }

    #[test]
    fn same_path_for_two_methods_is_fine() {
        build(vec![route("POST", "/a/**"), route("DELETE", "/a/{id}")]).unwrap();
    }

    #[test]
    fn permission_codes_are_checked() {
        let mut r = route("GET", "/a");
        r.permission = "bss:order:*".into();
        let err = build(vec![r.clone()]).unwrap_err().to_string();
        assert!(
            err.contains("routes[0].permission: expected a permission code"),
            "{err}"
        );
        r.permission = "ecs:server:list".into();
        let err = build(vec![r]).unwrap_err().to_string();
        assert!(
            err.contains("expected the catalog's service \"bss\""),
            "{err}"
        );
    }

    #[test]
    fn json_errors_carry_line_and_column() {
        let err = Catalog::from_json("{\"service\": \"bss\",\n \"routs\": []}", "c.json")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.json: line 2, column"), "{err}");
        assert!(err.contains("unknown field `routs`"), "{err}");
    }
}
