//! The route catalog: which API a request calls and which IAM permission code that API needs.
//!
//! The embedded catalog is `data/bss.json`, generated from the provider's table
//! (`data/bss-api-permissions.txt`) by `permlens catalog import`; a test keeps the two equal.
//! Users can load their own catalog in the same JSON format with `--catalog FILE`.

mod known;
mod method;
pub mod seed;
mod template;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::jsonfile::{self, Kind};

pub use method::{Method, UnknownMethod};
pub use template::{Segment, Template, TemplateError};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
                response_filtering: r.response_filtering,
            });
        }
        let permissions: BTreeSet<String> = routes.iter().map(|r| r.permission.clone()).collect();
        Ok(Catalog {
            origin: origin.to_owned(),
            service: file.service,
            hosts: file.hosts,
            routes,
            permissions: permissions.into_iter().collect(),
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
                    response_filtering: r.response_filtering,
                })
                .collect(),
        }
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
