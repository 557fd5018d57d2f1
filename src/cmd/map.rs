//! `permlens map`: scan logs into mapped partials (see [`crate::pipeline::map`]), written into
//! a staging directory beside `--out` and put in its place once complete.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::ExitCode;
use crate::cli::MapArgs;
use crate::pipeline::{self, Config, Context, inputs};
use crate::report::Formats;

pub fn run(args: MapArgs) -> anyhow::Result<ExitCode> {
    crate::log::set_quiet(args.quiet);
    let name = args.name.clone();
    let out = args.out.clone();
    let cfg = resolve(args);
    pipeline::worker_pool(&cfg)?.install(|| {
        let ctx = Context::load(&cfg)?;
        let found = inputs::find(&cfg)?;
        if name.is_some() && found.files.len() != 1 {
            bail!(
                "--name names the one log file given; {} files were found",
                found.files.len()
            );
        }
        let stage = stage(&out)?;
        let result = pipeline::map::map(&cfg, &ctx, found.files, name.as_deref(), &stage)
            .and_then(|mapped| {
                let text = serde_json::to_string_pretty(&mapped.to_json())?;
                std::fs::write(stage.join("map.json"), text + "\n")
                    .with_context(|| format!("cannot write {}", stage.display()))?;
                commit(&stage, &out)?;
                Ok(mapped)
            });
        let mapped = match result {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&stage);
                return Err(e);
            }
        };
        if !crate::log::is_quiet() {
            let parts = mapped.files.iter().filter(|f| f.3.is_some()).count();
            println!(
                "permlens map: {} files, {} lines, {} BSS requests, {} malformed -> {} partials in {}",
                mapped.reports.len(),
                mapped.counters.lines,
                mapped.counters.bss_requests,
                mapped.counters.malformed,
                parts,
                out.display()
            );
        }
        Ok(ExitCode::Success)
    })
}

/// `map`'s options as the pipeline's [`Config`] (no snapshot, window or report).
fn resolve(a: MapArgs) -> Config {
    let fields = crate::parse::field_map(&a.reading.fields, a.reading.user_field.as_ref());
    Config {
        logs: a.logs,
        policies: Vec::new(),
        out: a.out,
        formats: Formats {
            parquet: true,
            csv: false,
            html: Default::default(),
        },
        log_format: a.reading.log_format.choice,
        log_format_text: a.reading.log_format.name,
        fields,
        field_specs: a.reading.fields,
        user_field: a.reading.user_field,
        timezone: a.reading.timezone,
        strip_prefixes: a.reading.strip_prefixes,
        catalog: a.catalog.catalog,
        since: None,
        until: None,
        window_days: None,
        retain_days: None,
        round_bytes: a.round_bytes.max(1),
        // Used with --state only.
        part_bytes: 512 << 20,
        partials: Vec::new(),
        exceptions: None,
        state: None,
        threads: a.threads,
        progress: a.progress,
        fail_on: Default::default(),
        min_days: 0,
        max_bad_ratio: a.max_bad_ratio,
        prefilter: true,
    }
}

/// A new, empty staging directory beside `out`, once `out` is known to be replaceable: new,
/// empty, or an earlier map's output (it holds `map.json`).
fn stage(out: &Path) -> anyhow::Result<PathBuf> {
    if out.exists() {
        let replaceable = out.is_dir()
            && (out.join("map.json").is_file()
                || std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_none()));
        if !replaceable {
            bail!(
                "--out {}: exists and is not the output of permlens map (no map.json); name a new or empty directory",
                out.display()
            );
        }
    }
    let Some(file_name) = out.file_name() else {
        bail!("--out {}: expected a directory name", out.display());
    };
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let stage = parent.join(format!(
        ".{}.map-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir(&stage).with_context(|| format!("cannot create {}", stage.display()))?;
    Ok(stage)
}

/// Puts the staged output in `out`'s place: the old output is moved aside, the new one
/// renamed in, the old one removed.
fn commit(stage: &Path, out: &Path) -> anyhow::Result<()> {
    let old = stage.with_extension("old");
    let had = out.exists();
    if had {
        std::fs::rename(out, &old)
            .with_context(|| format!("cannot move the earlier {} aside", out.display()))?;
    }
    std::fs::rename(stage, out).with_context(|| format!("cannot write {}", out.display()))?;
    if had {
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("cannot remove {}", old.display()))?;
    }
    Ok(())
}
