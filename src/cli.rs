//! The command line as clap sees it. Only shape and help text live here; each command's
//! module turns its arguments into what the library takes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Finds who can do more than they need, and who was stopped from doing what they needed,
/// in a cloud account's billing (BSS) APIs, from API-gateway access logs and an IAM snapshot.
#[derive(Debug, Parser)]
#[command(name = "permlens", version, about, max_term_width = 100)]
#[command(
    after_help = "Exit codes: 0 done, 1 done with findings matching --fail-on, 2 could not be done."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the route catalog in force (the embedded BSS table unless --catalog), or import one
    Catalog(CatalogArgs),
    /// Print the route, API and permission code a request maps to, or that it is not in the catalog
    Classify(ClassifyArgs),
    /// Decide allow or deny for one user and request, with every policy statement that decided it
    Explain(ExplainArgs),
    /// Work with IAM snapshots
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CatalogArgs {
    #[command(subcommand)]
    pub command: Option<CatalogCommand>,
    #[command(flatten)]
    pub catalog: CatalogOpt,
    /// Output format
    #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
    pub format: CatalogFormat,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Convert the provider's scraped permission table into a catalog JSON file
    #[command(
        after_help = "The input is the provider's \"API Access Permission\" page saved as text: one cell per line \
ending in ' |', a '---|---|...' line after the header, and '|'/'||' lines marking cells merged with the row above."
    )]
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The scraped table (text)
    pub seed: PathBuf,
    /// Write the catalog here (atomically) instead of to stdout
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Host serving the service's APIs (repeatable); default: the known hosts of the service
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    /// Aligned columns for a terminal
    Table,
    /// RFC 4180 CSV with a header row
    Csv,
    /// The catalog file format, loadable with --catalog
    Json,
}

#[derive(Debug, Args)]
pub struct CatalogOpt {
    /// Use this catalog JSON instead of the embedded BSS catalog
    #[arg(long, value_name = "FILE", global = true)]
    pub catalog: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    #[command(flatten)]
    pub catalog: CatalogOpt,
    /// Output format
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
    /// HTTP method, any case
    pub method: String,
    /// Request target: a path, a path with query string, or a full URL
    pub target: String,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The IAM snapshot (permlens snapshot JSON)
    #[arg(short = 'p', long, value_name = "FILE")]
    pub policies: PathBuf,
    /// The IAM user name, exactly as in the logs (case-sensitive)
    #[arg(long)]
    pub user: String,
    /// Request time for g:CurrentTime conditions (RFC 3339 or YYYY-MM-DD); default: now
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Client IP for g:SourceIp conditions; without it such conditions are undecided
    #[arg(long, value_name = "IP")]
    pub ip: Option<std::net::IpAddr>,
    #[command(flatten)]
    pub catalog: CatalogOpt,
    /// Output format
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
    /// HTTP method, any case
    pub method: String,
    /// Request target: a path, a path with query string, or a full URL
    pub target: String,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Build a permlens snapshot from raw IAM API responses (an exporter's dump directory)
    #[command(
        after_help = "Recognised files: users.json, groups.json, groups/<group_id>/users.json, \
role_assignments.json, roles.json, custom_policies.json; others are ignored with a warning."
    )]
    Import(SnapshotImportArgs),
    /// Validate a snapshot and print what it holds
    Check(SnapshotCheckArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotImportArgs {
    /// Dump directories or individual response files
    #[arg(required = true, value_name = "RAW")]
    pub raw: Vec<PathBuf>,
    /// Where to write the snapshot (atomically)
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
    /// When the dump was taken (RFC 3339); default: the newest modification time of the inputs
    #[arg(long, value_name = "TIME")]
    pub taken_at: Option<String>,
}

#[derive(Debug, Args)]
pub struct SnapshotCheckArgs {
    /// The snapshot to validate
    pub snapshot: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
