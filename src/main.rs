//! The `permlens` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = match permlens::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::{ContextKind, ContextValue, ErrorKind};
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // A usage error is one line, like every other error, and names `--help`. A value
            // our parsers refuse is named by its option (their messages do not repeat it);
            // clap's own (numbers, addresses) keep clap's wording, which quotes the value.
            if e.kind() == ErrorKind::ValueValidation
                && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
                && let Some(why) = std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<permlens::cli::value::OptionError>())
            {
                let option = arg.split(' ').next().unwrap_or(arg);
                permlens::log::error(&format!("{option}: {why} (see --help)"));
                return permlens::ExitCode::Failure.into();
            }
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            // Values clap checks against a list (`--progress`) say which it takes, which its
            // rendering puts on a line of its own.
            let valid = match e.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) if !v.is_empty() => {
                    format!("; expected one of {}", v.join(", "))
                }
                _ => String::new(),
            };
            permlens::log::error(&format!("{first}{valid} (see --help)"));
            return permlens::ExitCode::Failure.into();
        }
    };
    match permlens::cmd::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            // One line per cause chain: what failed, where, and what was expected.
            permlens::log::error(&format!("{err:#}"));
            permlens::ExitCode::Failure.into()
        }
    }
}
