//! `permlens snapshot import|check`: build a snapshot from a raw IAM dump, or validate one.

use anyhow::Context;

use crate::ExitCode;
use crate::cli::{SnapshotCheckArgs, SnapshotCommand, SnapshotImportArgs};
use crate::fsutil::{print_stdout, write_atomic};
use crate::policy::condition::parse_date;
use crate::policy::{PolicyKind, Snapshot, SnapshotError, import};

pub fn run(cmd: SnapshotCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SnapshotCommand::Import(args) => run_import(args),
        SnapshotCommand::Check(args) => run_check(args),
    }
}

fn run_import(args: SnapshotImportArgs) -> anyhow::Result<ExitCode> {
    let taken_at = match &args.taken_at {
        Some(s) => Some(
            parse_date(s)
                .with_context(|| format!("--taken-at: expected an RFC 3339 time, got {s:?}"))?,
        ),
        None => None,
    };
    let mut imported = import::import(&args.raw, taken_at)?;
    let out = args.out.display().to_string();
    // The import must produce a snapshot that loads: validate before writing. What is wrong
    // with a policy is told of the input file it came from, not of the output. A statement
    // permlens cannot read that no BSS action can match (another service's condition forms)
    // is left out with a warning: it cannot change a verdict, and an export of a whole
    // account holds every service's policies.
    let mut dropped = Vec::new();
    let (json, snapshot) = loop {
        let json = format!("{}\n", serde_json::to_string_pretty(&imported.snapshot)?);
        match Snapshot::from_json(&json, &out) {
            Ok(s) => break (json, s),
            Err(e) => {
                let located = imported.locate(&out, &e.to_string());
                if !drop_other_service_statement(&mut imported.snapshot, &e) {
                    anyhow::bail!(located);
                }
                dropped.push(format!(
                    "{located}; the statement grants or denies no BSS action: left out"
                ));
            }
        }
    };
    write_atomic(&args.out, json.as_bytes())?;
    for w in imported.warnings.iter().chain(&snapshot.warnings) {
        eprintln!("permlens: warning: {}", imported.locate(&out, w));
    }
    for w in &dropped {
        eprintln!("permlens: warning: {w}");
    }
    eprintln!("permlens: {}", describe(&snapshot, &out));
    Ok(ExitCode::Success)
}

/// Removes the statement an error `e` is about, when it is a policy statement none of
/// whose actions can be a BSS action; false (nothing removed) otherwise.
fn drop_other_service_statement(snapshot: &mut serde_json::Value, e: &SnapshotError) -> bool {
    let crate::jsonfile::JsonFileError::Invalid { at, .. } = e else {
        return false;
    };
    let index = |s: &str, prefix: &str| -> Option<(usize, usize)> {
        let rest = s.strip_prefix(prefix)?;
        let end = rest.find(']')?;
        Some((rest[..end].parse().ok()?, prefix.len() + end + 1))
    };
    let Some((k, after)) = index(at, "policies[") else {
        return false;
    };
    let Some((j, _)) = index(&at[after..], ".document.Statement[") else {
        return false;
    };
    let Some(statements) = snapshot["policies"][k]["document"]["Statement"].as_array_mut() else {
        return false;
    };
    let Some(statement) = statements.get(j) else {
        return false;
    };
    // A pattern may match a BSS action when its service part (before the first `:`) may be
    // `bss` (v1.1) or `billing` (IAM 5.0).
    let may_be_bss = |a: &serde_json::Value| {
        a.as_str().is_none_or(|a| {
            let service = a.split(':').next().unwrap_or_default();
            ["bss", "billing"].iter().any(|s| {
                service.eq_ignore_ascii_case(s)
                    || crate::policy::pattern::ActionPattern::parse(&format!("{service}:x:y"))
                        .map_or(true, |p| p.matches(&format!("{s}:x:y")))
            })
        })
    };
    let actions: Vec<&serde_json::Value> = ["Action", "NotAction"]
        .iter()
        .filter_map(|k| statement.get(*k))
        .flat_map(|v| match v {
            serde_json::Value::Array(items) => items.iter().collect(),
            one => vec![one],
        })
        .collect();
    if statement.get("NotAction").is_some()
        || actions.is_empty()
        || actions.iter().any(|a| may_be_bss(a))
    {
        return false;
    }
    statements.remove(j);
    true
}

fn run_check(args: SnapshotCheckArgs) -> anyhow::Result<ExitCode> {
    let snapshot = Snapshot::load(&args.snapshot)?;
    for w in &snapshot.warnings {
        eprintln!("permlens: warning: {w}");
    }
    print_stdout(&format!(
        "{}\n",
        describe(&snapshot, &args.snapshot.display().to_string())
    ))?;
    Ok(ExitCode::Success)
}

fn describe(s: &Snapshot, name: &str) -> String {
    // Scoped grants are the same documents attached with a scope: not counted again.
    let own = || s.policies.iter().filter(|p| p.scoped_from.is_none());
    let roles = own().filter(|p| p.kind == PolicyKind::Role).count();
    let identity = own().filter(|p| p.kind == PolicyKind::Identity).count();
    let scoped = s.policies.len() - own().count();
    format!(
        "{name}: {} users, {} groups, {}{} policies{} and {} roles{}{}",
        s.users.len(),
        s.groups.len(),
        if s.agencies.is_empty() {
            String::new()
        } else {
            format!("{} agencies, ", s.agencies.len())
        },
        own().count() - roles - identity,
        if identity > 0 {
            format!(", {identity} IAM 5.0 identity policies")
        } else {
            String::new()
        },
        roles,
        if scoped > 0 {
            format!(" ({scoped} granted with a scope)")
        } else {
            String::new()
        },
        s.taken_at
            .map(|t| format!(", taken at {t}"))
            .unwrap_or_default()
    )
}
