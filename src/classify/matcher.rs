//! A segment trie over the catalog's path templates.
//!
//! Lookup walks the request's segments from the root, trying at each node the literal child
//! first, then the parameter child, then a `**` that ends there, and backtracking when a
//! branch cannot finish with a route for the request's method. The first route found is
//! therefore the most specific one (literal > parameter > `**`, left to right), which is
//! what [`crate::catalog::Template::specificity_cmp`] defines and what the property test
//! checks against a linear scan. No allocation, no regex.

use crate::catalog::{Method, Route, RouteId, Segment};

use super::Scratch;

const METHODS: usize = Method::ALL.len();
type PerMethod = [Option<RouteId>; METHODS];

#[derive(Debug, Clone, Default)]
struct Node {
    /// Literal children, sorted by segment bytes.
    literals: Vec<(Box<[u8]>, u32)>,
    /// The child for a `{param}` segment.
    param: Option<u32>,
    /// Routes whose template ends in `**` right after this node.
    glob: PerMethod,
    /// Routes whose template ends at this node.
    end: PerMethod,
}

/// The compiled route lookup of a catalog.
#[derive(Debug, Clone)]
pub struct Matcher {
    nodes: Vec<Node>,
}

impl Matcher {
    /// Builds the trie. The catalog has already rejected duplicate and ambiguous routes, so no
    /// slot is filled twice.
    pub fn new(routes: &[Route]) -> Matcher {
        let mut nodes = vec![Node::default()];
        for (id, route) in routes.iter().enumerate() {
            let id = RouteId::try_from(id).expect("catalog limits the number of routes");
            let mut at = 0usize;
            for seg in route.template.segments() {
                at = match seg {
                    Segment::Literal(lit) => {
                        let key = lit.as_bytes();
                        match nodes[at].literals.binary_search_by(|(k, _)| (**k).cmp(key)) {
                            Ok(i) => nodes[at].literals[i].1 as usize,
                            Err(i) => {
                                let child = nodes.len();
                                nodes.push(Node::default());
                                nodes[at].literals.insert(i, (key.into(), child as u32));
                                child
                            }
                        }
                    }
                    Segment::Param(_) => match nodes[at].param {
                        Some(child) => child as usize,
                        None => {
                            let child = nodes.len();
                            nodes.push(Node::default());
                            nodes[at].param = Some(child as u32);
                            child
                        }
                    },
                    Segment::Glob => {
                        debug_assert!(nodes[at].glob[route.method.index()].is_none());
                        nodes[at].glob[route.method.index()] = Some(id);
                        break;
                    }
                };
            }
            if !matches!(route.template.segments().last(), Some(Segment::Glob)) {
                debug_assert!(nodes[at].end[route.method.index()].is_none());
                nodes[at].end[route.method.index()] = Some(id);
            }
        }
        Matcher { nodes }
    }

    /// The most specific route for this method and the segments in `scratch`.
    pub fn find(&self, method: Method, scratch: &Scratch) -> Option<RouteId> {
        self.walk(0, 0, method.index(), scratch)
    }

    fn walk(&self, node: usize, i: usize, m: usize, req: &Scratch) -> Option<RouteId> {
        let n = &self.nodes[node];
        if i == req.len() {
            return n.end[m];
        }
        let seg = req.segment(i);
        // Nodes have a handful of literal children: a length-first linear scan beats a
        // binary search of memcmp calls.
        if let Some(&(_, child)) = n
            .literals
            .iter()
            .find(|(key, _)| crate::bytes::same(key, seg))
            && let Some(found) = self.walk(child as usize, i + 1, m, req)
        {
            return Some(found);
        }
        if let Some(child) = n.param
            && let Some(found) = self.walk(child as usize, i + 1, m, req)
        {
            return Some(found);
        }
        // `i < req.len()` here, so `**` has at least one segment to match.
        n.glob[m]
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::{Catalog, CatalogFile, Method, RouteFile, RouteId};
    use crate::classify::{Classifier, Scratch};
    use proptest::prelude::*;
    use std::cmp::Ordering;

    /// The plain definition: every route that matches, the most specific one wins.
    fn linear_scan(catalog: &Catalog, method: Method, scratch: &Scratch) -> Option<RouteId> {
        let segs: Vec<&[u8]> = scratch.segments().collect();
        let mut best: Option<RouteId> = None;
        for (id, r) in catalog.routes().iter().enumerate() {
            if r.method != method || !r.template.matches(&segs) {
                continue;
            }
            let better = best.is_none_or(|b| {
                r.template.specificity_cmp(&catalog.route(b).template) == Ordering::Greater
            });
            if better {
                best = Some(id as RouteId);
            }
        }
        best
    }

    /// A catalog built to need backtracking: literals under parameters, globs beside both.
    fn tricky_catalog() -> Catalog {
        let paths = [
            ("GET", "/a/b/c"),
            ("GET", "/a/{x}/d"),
            ("DELETE", "/a/b/c"),
            ("DELETE", "/a/{x}/c"),
            ("POST", "/a/**"),
            ("POST", "/a/b/**"),
            ("POST", "/a/{x}/c"),
            ("GET", "/a/{x}/{y}/**"),
            ("GET", "/{p}/b/e"),
            ("PUT", "/{p}/{q}"),
            ("PUT", "/a/**"),
        ];
        let routes = paths
            .iter()
            .map(|(m, p)| RouteFile {
                scenario: "s".into(),
                sub_scenario: "s".into(),
                api: format!("{m} {p}"),
                method: (*m).into(),
                path: (*p).into(),
                permission: "bss:x:view".into(),
                permission_description: String::new(),
                trace_names: vec![],
                console_trace_names: vec![],
                response_filtering: false,
            })
            .collect();
        Catalog::from_file(
            CatalogFile {
                service: "bss".into(),
                hosts: vec![],
                routes,
            },
            "tricky",
        )
        .unwrap()
    }

    fn api(c: &Catalog, method: &str, target: &str) -> Option<String> {
        let mut s = Scratch::new();
        Classifier::new(c)
            .classify(method.as_bytes(), target.as_bytes(), &mut s)
            .route
            .map(|id| c.route(id).api.clone())
    }

    #[test]
    fn backtracks_to_a_less_specific_branch() {
        let c = tricky_catalog();
        assert_eq!(api(&c, "GET", "/a/b/d").as_deref(), Some("GET /a/{x}/d"));
        assert_eq!(api(&c, "GET", "/a/b/c").as_deref(), Some("GET /a/b/c"));
        assert_eq!(
            api(&c, "DELETE", "/a/z/c").as_deref(),
            Some("DELETE /a/{x}/c")
        );
        assert_eq!(api(&c, "POST", "/a/b/c").as_deref(), Some("POST /a/b/**"));
        assert_eq!(api(&c, "POST", "/a/z/c").as_deref(), Some("POST /a/{x}/c"));
        assert_eq!(api(&c, "POST", "/a/z/q").as_deref(), Some("POST /a/**"));
        assert_eq!(api(&c, "POST", "/a").as_deref(), None);
        assert_eq!(api(&c, "GET", "/a/b/e").as_deref(), Some("GET /{p}/b/e"));
        assert_eq!(
            api(&c, "GET", "/a/b/c/d").as_deref(),
            Some("GET /a/{x}/{y}/**")
        );
        assert_eq!(api(&c, "PUT", "/a/b").as_deref(), Some("PUT /a/**"));
        assert_eq!(api(&c, "PUT", "/z/b").as_deref(), Some("PUT /{p}/{q}"));
        assert_eq!(api(&c, "PATCH", "/a/b/c").as_deref(), None);
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("c".to_owned()),
            Just("d".to_owned()),
            Just("e".to_owned()),
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("".to_owned()),
            Just("%61".to_owned()),
            Just("a%2Fb".to_owned()),
            Just("v2".to_owned()),
            Just("orders".to_owned()),
            Just("customer-orders".to_owned()),
            Just("subscriptions".to_owned()),
            Just("resources".to_owned()),
            Just("autorenew".to_owned()),
            Just("details".to_owned()),
            Just("v1.0".to_owned()),
            Just("payments".to_owned()),
            Just("intl-invoices".to_owned()),
            "[a-z0-9]{1,6}",
        ]
    }

    fn method() -> impl Strategy<Value = Method> {
        (0..Method::ALL.len()).prop_map(|i| Method::ALL[i])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn trie_agrees_with_linear_scan(m in method(), segs in prop::collection::vec(segment(), 0..8)) {
            let target = format!("/{}", segs.join("/"));
            for catalog in [Catalog::embedded(), tricky_catalog()] {
                let mut s = Scratch::new();
                let got = Classifier::new(&catalog).classify(m.as_str().as_bytes(), target.as_bytes(), &mut s).route;
                prop_assert_eq!(got, linear_scan(&catalog, m, &s), "target {}", target);
            }
        }

        #[test]
        fn embedded_routes_match_their_own_shape(idx in 0usize..27, fill in "[A-Za-z0-9_-]{1,12}", tail in prop::collection::vec("[a-z0-9]{1,5}", 1..4)) {
            let c = Catalog::embedded();
            let r = &c.routes()[idx];
            let target = r.template.as_str()
                .split('/')
                .map(|s| if s == "**" { tail.join("/") } else if s.starts_with('{') { fill.clone() } else { s.to_owned() })
                .collect::<Vec<_>>()
                .join("/");
            let mut s = Scratch::new();
            let got = Classifier::new(&c).classify(r.method.as_str().as_bytes(), target.as_bytes(), &mut s).route;
            prop_assert_eq!(got, Some(idx as RouteId), "target {}", target);
        }
    }
}
