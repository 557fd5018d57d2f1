//! `permlens classify METHOD TARGET`: which route, API and permission one request maps to.

use serde_json::json;

use crate::ExitCode;
use crate::catalog::{Catalog, Method, Segment};
use crate::classify::Scratch;
use crate::cli::{ClassifyArgs, TextOrJson};
use crate::fsutil::print_stdout;

pub fn run(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load_or_embedded(args.catalog.catalog.as_deref())?;
    let method = Method::from_bytes(args.method.as_bytes());
    let mut scratch = Scratch::new();
    let classified = crate::classify::Classifier::new(&catalog).classify(
        args.method.as_bytes(),
        args.target.as_bytes(),
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
            "{:?} is not an HTTP method any route uses",
            args.method
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

    let text = match args.format {
        TextOrJson::Json => {
            let mut v = json!({
                "method": args.method,
                "target": args.target,
                "path": path,
                "matched": route.is_some(),
                "normalization": {
                    "absolute_url": n.absolute_url,
                    "dot_segments": n.dot_segments,
                    "percent_decoded": n.percent_decoded,
                },
            });
            if let Some(r) = route {
                v["route"] = json!({
                    "method": r.method.as_str(),
                    "path": r.template.as_str(),
                    "api": r.api,
                    "permission": r.permission,
                    "permission_description": r.permission_description,
                    "scenario": r.scenario,
                    "sub_scenario": r.sub_scenario,
                });
                v["params"] = params.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            }
            format!("{}\n", serde_json::to_string_pretty(&v)?)
        }
        TextOrJson::Text => {
            let mut out = String::new();
            match route {
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
                    for (k, v) in &params {
                        out.push_str(&format!("param        {k} = {v}\n"));
                    }
                }
                None => out.push_str(&format!(
                    "not in the catalog: {} {path} needs no fine-grained permission\n",
                    args.method.to_ascii_uppercase()
                )),
            }
            for note in notes {
                out.push_str(&format!("note         {note}\n"));
            }
            out
        }
    };
    print_stdout(&text)?;
    Ok(ExitCode::Success)
}
