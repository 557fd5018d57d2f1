//! `permlens analyze`: the nightly job. Resolve the options, then run the pipeline's stages
//! in order (see [`crate::pipeline`]) and print the summary.

mod config;
mod summary;

use std::time::Instant;

use crate::ExitCode;
use crate::cli::AnalyzeArgs;
use crate::pipeline::{self, Context, inputs, write};
use crate::report::ReportWriter;

pub use config::resolve;

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let timing = write::Timing {
        started: jiff::Timestamp::now(),
        clock: Instant::now(),
    };
    crate::log::set_quiet(args.quiet);
    let cfg = resolve(args, timing.started)?;
    pipeline::worker_pool(&cfg)?.install(|| {
        let ctx = Context::load(&cfg)?;
        let lock = pipeline::lock_report(&cfg)?;
        // The output is checked (and staged) before anything is read: a refused or
        // unwritable --out fails at once, not after an hour's scan.
        let writer = ReportWriter::begin(&cfg.out, cfg.formats)?;
        let inputs = inputs::find(&cfg)?;
        let read = pipeline::read(&cfg, &ctx, inputs.files, timing.started)?;
        let done = write::report(&cfg, &ctx, read, writer, &inputs.paths_skipped, &timing)?;
        if !crate::log::is_quiet() {
            let snapshot = ctx.history.as_ref().map(|h| h.latest());
            summary::print(
                &cfg,
                &done.scanned,
                done.findings.as_ref(),
                snapshot,
                timing.clock,
            );
        }
        drop(lock);
        Ok(done.exit_code(ctx.history))
    })
}
