//! `permlens catalog`: print the catalog in force, or import the provider's table.

use anyhow::Context;

use crate::ExitCode;
use crate::catalog::Catalog;
use crate::catalog::seed::{self, ImportOptions};
use crate::cli::{CatalogArgs, CatalogCommand, CatalogFormat, ImportArgs};
use crate::fsutil::{print_stdout, write_atomic};

pub fn run(args: CatalogArgs) -> anyhow::Result<ExitCode> {
    if let Some(CatalogCommand::Import(import)) = args.command {
        return run_import(import);
    }
    let catalog = Catalog::load_or_embedded(args.catalog.catalog.as_deref())?;
    let text = match args.format {
        CatalogFormat::Table => table(&catalog),
        CatalogFormat::Csv => csv(&catalog)?,
        CatalogFormat::Json => catalog.to_file().to_json(),
    };
    print_stdout(&text)?;
    Ok(ExitCode::Success)
}

fn run_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let name = args.seed.display().to_string();
    let text = std::fs::read_to_string(&args.seed)
        .with_context(|| format!("cannot read the permission table {name}"))?;
    let file = seed::import(&text, &name, &ImportOptions { hosts: args.hosts })?;
    // Validate what we are about to write, so an import never produces an unloadable catalog.
    let catalog = Catalog::from_file(file.clone(), &name)?;
    let json = file.to_json();
    match &args.out {
        Some(out) => {
            write_atomic(out, json.as_bytes())?;
            eprintln!(
                "permlens: wrote {} routes ({} permission codes) to {}",
                catalog.routes().len(),
                catalog.permissions().len(),
                out.display()
            );
        }
        None => print_stdout(&json)?,
    }
    Ok(ExitCode::Success)
}

fn table(catalog: &Catalog) -> String {
    let header = ["METHOD", "PATH", "PERMISSION", "API"];
    let rows: Vec<[&str; 4]> = catalog
        .routes()
        .iter()
        .map(|r| {
            [
                r.method.as_str(),
                r.template.as_str(),
                &r.permission,
                &r.api,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} routes, {} permission codes, service {} ({})\n",
        catalog.routes().len(),
        catalog.permissions().len(),
        catalog.service(),
        catalog.origin()
    ));
    out
}

fn csv(catalog: &Catalog) -> anyhow::Result<String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record([
        "method",
        "path",
        "permission",
        "api",
        "scenario",
        "sub_scenario",
        "permission_description",
        "trace_names",
        "console_trace_names",
        "response_filtering",
    ])?;
    for r in catalog.routes() {
        w.write_record([
            r.method.as_str(),
            r.template.as_str(),
            &r.permission,
            &r.api,
            &r.scenario,
            &r.sub_scenario,
            &r.permission_description,
            &r.trace_names.join(";"),
            &r.console_trace_names.join(";"),
            if r.response_filtering {
                "true"
            } else {
                "false"
            },
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
