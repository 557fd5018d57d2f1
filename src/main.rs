//! The `permlens` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = permlens::cli::Cli::parse();
    match permlens::cmd::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            // One line per cause chain: what failed, where, and what was expected.
            permlens::log::error(&format!("{err:#}"));
            permlens::ExitCode::Failure.into()
        }
    }
}
