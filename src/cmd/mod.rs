//! One module per command. [`run`] dispatches; each command returns the exit code of a run
//! that completed, or an error for a run that could not be done (exit 2).

mod analyze;
mod catalog;
mod classify;
mod explain;
mod generate;
mod inspect;
mod map;
mod report;
mod snapshot;
mod state;

use crate::ExitCode;
use crate::cli::{Cli, Command};

/// Runs one command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => analyze::run(*args),
        Command::Catalog(args) => catalog::run(args),
        Command::Classify(args) => classify::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Snapshot(cmd) => snapshot::run(cmd),
        Command::Generate(args) => generate::run(args),
        Command::State(cmd) => state::run(cmd),
        Command::Map(args) => map::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Report(args) => report::run(args),
    }
}
