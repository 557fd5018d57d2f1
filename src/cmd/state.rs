//! `permlens state merge|show`: fold the state directories of several log shards into one,
//! and print what a state directory holds.

use serde_json::json;

use crate::ExitCode;
use crate::cli::{StateCommand, StateMergeArgs, StateShowArgs, TextOrJson};
use crate::fsutil::print_stdout;
use crate::state::{Manifest, MergeReport, State, StateReport};

pub fn run(cmd: StateCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StateCommand::Merge(args) => merge(args),
        StateCommand::Show(args) => show(args),
    }
}

fn merge(args: StateMergeArgs) -> anyhow::Result<ExitCode> {
    let mut into = State::open(&args.into, None)?;
    let mut report = MergeReport::default();
    for src in &args.sources {
        if src.canonicalize().ok() == args.into.canonicalize().ok() {
            anyhow::bail!(
                "{}: cannot merge a state directory into itself",
                src.display()
            );
        }
        into.merge_from(src, &mut report)?;
    }
    into.commit(None, &mut StateReport::default())?;
    crate::log::info(&format!(
        "merged {} state(s) into {}: {} content(s) added, {} replaced by a longer count, {} already present",
        args.sources.len(),
        args.into.display(),
        report.added,
        report.replaced,
        report.already_present
    ));
    Ok(ExitCode::Success)
}

fn show(args: StateShowArgs) -> anyhow::Result<ExitCode> {
    if !args.dir.join("manifest.json").is_file() {
        anyhow::bail!(
            "{}: no manifest.json: not a permlens state directory",
            args.dir.display()
        );
    }
    // Read without the lock: the manifest is replaced by a rename, so it is always whole.
    let path = args.dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let m = Manifest::parse(&text, &path)?;
    let m = &m;
    let hour =
        |h: Option<u32>| h.map(|h| crate::parse::time::format_micros(i64::from(h) * 3_600_000_000));
    let first = m.entries.iter().filter_map(|e| e.first_hour).min();
    let last = m.entries.iter().filter_map(|e| e.last_hour).max();
    match args.format {
        TextOrJson::Json => {
            let v = json!({
                "dir": args.dir.display().to_string(),
                "written_by": m.written_by,
                "updated_at": m.updated_at,
                "retain_days": m.retain_days,
                "first_hour": hour(first),
                "last_hour": hour(last),
                "entries": m.entries,
            });
            print_stdout(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
        }
        TextOrJson::Text => {
            let mut out = format!(
                "{}: {} log content(s), {} rows, hours {} .. {}, retention {}, updated {}\n",
                args.dir.display(),
                m.entries.len(),
                m.entries.iter().map(|e| e.rows).sum::<u64>(),
                hour(first).unwrap_or_else(|| "-".into()),
                hour(last).unwrap_or_else(|| "-".into()),
                m.retain_days
                    .map_or_else(|| "unlimited".to_owned(), |d| format!("{d} days")),
                m.updated_at.as_deref().unwrap_or("never"),
            );
            for e in &m.entries {
                out.push_str(&format!(
                    "  {}  {:>12} bytes {:>10} lines {:>8} rows  {}\n",
                    e.id,
                    e.len,
                    e.lines,
                    e.rows,
                    e.names.last().map_or("", String::as_str)
                ));
            }
            print_stdout(&out)?;
        }
    }
    Ok(ExitCode::Success)
}
