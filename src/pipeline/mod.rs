//! The stages of `analyze`, in order, as a library: what `cmd::analyze::run` calls.
//!
//! 1. [`Context::load`]: the route catalog, the snapshot history, the context classes their
//!    time and IP conditions need.
//! 2. [`inputs::find`]: discover the log files and decide each one's format.
//! 3. [`read`]: scan them in parallel into an aggregate, once ([`read_once`]) or
//!    incrementally through a `--state` directory ([`incremental::read`]); the previous
//!    report's findings index is read beside the scan.
//! 4. [`write::report`]: judge the aggregate, write the report atomically, then the state.
//!
//! Each stage takes the resolved [`Config`] and what the stages before it produced; none of
//! them prints a summary or parses an option.

pub mod checks;
pub mod config;
pub mod incremental;
pub mod inputs;
pub mod map;
pub mod partials;
pub mod write;

use std::time::Instant;

use anyhow::Context as _;

pub use config::{Config, FailOn};

use crate::aggregate::{EarlierUses, Stats};
use crate::catalog::Catalog;
use crate::input::{self, FileReport, InputFile};
use crate::lock::{self, RunLock};
use crate::policy::History;
use crate::policy::context::ContextClasses;
use crate::progress::{self, ProgressMode};
use crate::report::changes;
use crate::scan::{Counters, Prefilter, ScanConfig, Sink};
use crate::state::{State, StateReport};

/// What the run judges with: loaded once, before any log is read.
pub struct Context {
    pub catalog: Catalog,
    /// The snapshots, when findings are wanted (`--policies`).
    pub history: Option<History>,
    /// The request contexts the snapshots' time and IP conditions tell apart.
    pub classes: ContextClasses,
    /// `--exceptions`: the accepted exceptions and the file's name.
    pub exceptions: Option<(Vec<crate::exceptions::Exception>, String)>,
}

impl Context {
    /// Loads the catalog and the snapshots (their warnings are logged).
    pub fn load(cfg: &Config) -> anyhow::Result<Context> {
        let catalog = Catalog::load_or_embedded(cfg.catalog.as_deref())?;
        let history = if cfg.policies.is_empty() {
            None
        } else {
            Some(History::load(&cfg.policies)?)
        };
        for s in history.iter().flat_map(|h| &h.snapshots) {
            for w in &s.warnings {
                crate::log::warn(&w.to_string());
            }
        }
        let classes = match &history {
            Some(h) => {
                let (dates, nets) = h.context_bounds();
                ContextClasses::new(dates, nets)
            }
            None => ContextClasses::default(),
        };
        let exceptions = match &cfg.exceptions {
            Some(path) => Some((crate::exceptions::load(path)?, path.display().to_string())),
            None => None,
        };
        Ok(Context {
            catalog,
            history,
            classes,
            exceptions,
        })
    }
}

/// What reading the logs produced, with or without `--state`.
pub struct Scanned {
    /// The aggregate findings and usage tables are computed from: this run's scan, or with
    /// `--state` everything stored in the window.
    pub stats: Stats,
    /// This run's reading.
    pub counters: Counters,
    pub reports: Vec<FileReport>,
    pub malformed: Vec<String>,
    pub state: Option<StateReport>,
    /// With `--state`: requests in hourly rows that straddle a condition or snapshot boundary.
    pub straddling: u64,
    /// With `--state`: the last successful uses before the window.
    pub earlier: EarlierUses,
    /// With `--state`: the state made by this run, written once the report is in place.
    pub pending_state: Option<State>,
    /// With `--partials`: what was read of them.
    pub partials: Option<crate::state::MappedReport>,
}

/// The read stage's result: the scan, the previous report's findings index, the scan's
/// seconds.
pub struct Read {
    pub scanned: Scanned,
    pub previous: Option<changes::FindingsIndex>,
    pub scan_s: f64,
}

/// The worker threads (`-j`). The whole run is one job of this pool: sniffing, the scan,
/// loading the state and the report all share its threads.
pub fn worker_pool(cfg: &Config) -> anyhow::Result<rayon::ThreadPool> {
    if let Some(n) = cfg.threads {
        // `-j` caps the threads at work, polars' own included: Parquet tables are encoded
        // on the lanes' threads, but the CSV writer splits its rows over polars' pool,
        // which polars sizes from POLARS_MAX_THREADS when first used (later than this).
        // SAFETY: called before any thread of the run starts (the first are this pool's),
        // so nothing reads the environment while it changes.
        unsafe { std::env::set_var("POLARS_MAX_THREADS", n.to_string()) };
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = cfg.threads {
        pool = pool.num_threads(n);
    }
    pool.build().context("cannot start the worker threads")
}

/// Takes the report directory's lock, making `--out`'s parents first (the lock lives beside
/// the report, so they are needed before anything is read).
pub fn lock_report(cfg: &Config) -> anyhow::Result<RunLock> {
    if let Some(parent) = cfg.out.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).with_context(|| {
            format!(
                "cannot create the parent directory {} of --out",
                parent.display()
            )
        })?;
    }
    let report_lock = RunLock::acquire(
        &lock::report_lock_path(&cfg.out),
        &format!("report directory {}", cfg.out.display()),
    )?;
    if let Some(holder) = &report_lock.took_over {
        crate::log::warn(&format!(
            "took over the lock of {} from a run that did not finish ({holder})",
            cfg.out.display()
        ));
    }
    Ok(report_lock)
}

/// Reads the logs (once, or through the state). The previous report's findings index (for
/// the changes table) is read beside the scan, as a job of the same pool; its warning, if
/// any, waits for the scan.
pub fn read(
    cfg: &Config,
    ctx: &Context,
    files: Vec<InputFile>,
    started: jiff::Timestamp,
) -> anyhow::Result<Read> {
    let scan_clock = Instant::now();
    let (scanned, previous) = rayon::join(
        || -> anyhow::Result<(Scanned, f64)> {
            let scanned = match &cfg.state {
                None if !cfg.partials.is_empty() => partials::read(cfg, ctx)?,
                None => read_once(cfg, ctx, files)?,
                Some(dir) => incremental::read(cfg, ctx, dir, files, started)?,
            };
            Ok((scanned, scan_clock.elapsed().as_secs_f64()))
        },
        || {
            ctx.history
                .as_ref()
                .and_then(|_| changes::read_previous(&cfg.out))
        },
    );
    let (scanned, scan_s) = scanned?;
    let previous = match previous {
        Some(Ok(index)) => Some(index),
        Some(Err(warning)) => {
            crate::log::warn(&warning);
            None
        }
        None => None,
    };
    Ok(Read {
        scanned,
        previous,
        scan_s,
    })
}

/// Reads the logs once, without state.
pub fn read_once(cfg: &Config, ctx: &Context, files: Vec<InputFile>) -> anyhow::Result<Scanned> {
    let mut scan_cfg = scan_config(cfg, ctx);
    scan_cfg.context = ctx.classes.clone();
    let (stats, mut reports): (Stats, _) = scan_all(cfg, &files, &scan_cfg)?;
    let malformed = checks::malformed_samples(&stats, &reports);
    checks::check_inputs(cfg, &stats.counters, &mut reports, &malformed)?;
    Ok(Scanned {
        counters: stats.counters,
        stats,
        reports,
        malformed,
        state: None,
        straddling: 0,
        earlier: Default::default(),
        pending_state: None,
        partials: None,
    })
}

/// The scanner's options (without context classes: the read decides those).
pub fn scan_config(cfg: &Config, ctx: &Context) -> ScanConfig {
    let mut s = ScanConfig::new(ctx.catalog.clone());
    if !cfg.prefilter {
        s.prefilter = None;
    } else {
        s.prefilter = Some(Prefilter::new(&s.catalog));
    }
    s.since = cfg.since;
    s.until = cfg.until;
    s.fields = cfg.fields.clone();
    s.user_field = cfg.user_field.clone();
    s.timezone = cfg.timezone;
    s.strip_prefixes = cfg
        .strip_prefixes
        .iter()
        .map(|p| p.as_bytes().into())
        .collect();
    s
}

/// Scans `files` into a sink of type `S`, with the progress bar.
pub fn scan_all<S: Sink>(
    cfg: &Config,
    files: &[InputFile],
    scan_cfg: &ScanConfig,
) -> anyhow::Result<(S, Vec<FileReport>)> {
    let total: u64 = files.iter().map(|f| f.len).sum();
    // --quiet means silent, progress bar included.
    let mode = if crate::log::is_quiet() {
        ProgressMode::Never
    } else {
        cfg.progress
    };
    let bar = progress::bar(total, mode);
    let tick = |n: u64| bar.inc(n);
    let result = input::scan(files, scan_cfg, &tick);
    bar.finish_and_clear();
    Ok(result)
}
