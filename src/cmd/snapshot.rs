//! `permlens snapshot import|check`: build a snapshot from a raw IAM dump, or validate one.

use anyhow::Context;

use crate::ExitCode;
use crate::cli::{SnapshotCheckArgs, SnapshotCommand, SnapshotImportArgs};
use crate::fsutil::{print_stdout, write_atomic};
use crate::policy::condition::parse_date;
use crate::policy::{PolicyKind, Snapshot, import};

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
    let imported = import::import(&args.raw, taken_at)?;
    let json = format!("{}\n", serde_json::to_string_pretty(&imported.snapshot)?);
    let out = args.out.display().to_string();
    // The import must produce a snapshot that loads: validate before writing. What is wrong
    // with a policy is told of the input file it came from, not of the output.
    let snapshot = Snapshot::from_json(&json, &out)
        .map_err(|e| anyhow::anyhow!(imported.locate(&out, &e.to_string())))?;
    write_atomic(&args.out, json.as_bytes())?;
    for w in imported.warnings.iter().chain(&snapshot.warnings) {
        eprintln!("permlens: warning: {}", imported.locate(&out, w));
    }
    eprintln!("permlens: {}", describe(&snapshot, &out));
    Ok(ExitCode::Success)
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
