//! `permlens classify METHOD TARGET`: which route, API and permission one request maps to.

use serde_json::json;

use crate::ExitCode;
use crate::catalog::{Catalog, Method, Segment};
use crate::classify::Scratch;
use crate::cli::{ClassifyArgs, TextOrJson};
use crate::fsutil::print_stdout;

/// What one request maps to, for printing.
struct Classification<'c> {
    method: String,
    target: String,
    /// The normalised path.
    path: String,
    route: Option<&'c crate::catalog::Route>,
    /// Template parameters and the segments they took.
    params: Vec<(String, String)>,
    normalized: crate::classify::Normalization,
    notes: Vec<String>,
}

pub fn run(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load_or_embedded(args.catalog.catalog.as_deref())?;
    let c = classify(&catalog, &args.method, &args.target);
    let text = match args.format {
        TextOrJson::Json => format!("{}\n", serde_json::to_string_pretty(&to_json(&c))?),
        TextOrJson::Text => to_text(&c),
    };
    print_stdout(&text)?;
    Ok(ExitCode::Success)
}

fn classify<'c>(catalog: &'c Catalog, method_text: &str, target: &str) -> Classification<'c> {
    let method = Method::from_bytes(method_text.as_bytes());
    let mut scratch = Scratch::new();
    let classified = crate::classify::Classifier::new(catalog).classify(
        method_text.as_bytes(),
        target.as_bytes(),
        &mut scratch,
    );
    let segments: Vec<String> = scratch
        .segments()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let path = format!("/{}", segments.join("/"));
    let route = classified.route.map(|id| catalog.route(id));
    let params: Vec<(String, String)> = route
        .map(|r| {
            r.template
                .segments()
                .iter()
                .enumerate()
                .filter_map(|(i, seg)| match seg {
                    Segment::Param(name) => Some((name.to_string(), segments[i].clone())),
                    Segment::Glob => Some(("**".to_owned(), segments[i..].join("/"))),
                    Segment::Literal(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let n = classified.normalized;
    let mut notes = Vec::new();
    if method.is_none() {
        notes.push(format!(
            "{method_text:?} is not an HTTP method any route uses"
        ));
    }
    if n.dot_segments {
        notes.push(format!(
            "dot segments were resolved: the server sees {path}"
        ));
    }
    if n.percent_decoded {
        notes.push("percent-escapes were decoded per segment".to_owned());
    }
    Classification {
        method: method_text.to_owned(),
        target: target.to_owned(),
        path,
        route,
        params,
        normalized: n,
        notes,
    }
}

fn to_json(c: &Classification<'_>) -> serde_json::Value {
    let n = c.normalized;
    let mut v = json!({
        "method": c.method,
        "target": c.target,
        "path": c.path,
        "matched": c.route.is_some(),
        "normalization": {
            "absolute_url": n.absolute_url,
            "dot_segments": n.dot_segments,
            "percent_decoded": n.percent_decoded,
        },
    });
    if let Some(r) = c.route {
        v["route"] = json!({
            "method": r.method.as_str(),
            "path": r.template.as_str(),
            "api": r.api,
            "permission": r.permission,
            "permission_description": r.permission_description,
            "scenario": r.scenario,
            "sub_scenario": r.sub_scenario,
        });
        v["params"] = c
            .params
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
    }
    v
}

fn to_text(c: &Classification<'_>) -> String {
    let mut out = String::new();
    match c.route {
        Some(r) => {
            out.push_str(&format!("route        {} {}\n", r.method, r.template));
            out.push_str(&format!("api          {}\n", r.api));
            out.push_str(&format!(
                "permission   {}  ({})\n",
                r.permission, r.permission_description
            ));
            out.push_str(&format!(
                "scenario     {} > {}\n",
                r.scenario, r.sub_scenario
            ));
            for (k, v) in &c.params {
                out.push_str(&format!("param        {k} = {v}\n"));
            }
        }
        None => out.push_str(&format!(
            "not in the catalog: {} {} needs no fine-grained permission\n",
            c.method.to_ascii_uppercase(),
            c.path
        )),
    }
    for note in &c.notes {
        out.push_str(&format!("note         {note}\n"));
    }
    out
}
