//! The command line as clap sees it. Only shape and help text live here; each command's
//! module turns its arguments into what the library takes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::progress::ProgressMode;

pub mod value;

use crate::pipeline::FailOn;
use crate::report::Formats;
use value::{Hours, LogFormatArg};

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
    /// The main job: read access logs (and an IAM snapshot) and write the report directory
    #[command(after_help = ANALYZE_HELP)]
    Analyze(Box<AnalyzeArgs>),
    /// Print the route catalog in force (the embedded BSS table unless --catalog), or import one
    Catalog(CatalogArgs),
    /// Print the route, API and permission code a request maps to, or that it is not in the catalog
    Classify(ClassifyArgs),
    /// Decide allow or deny for one user and request, with every policy statement that decided it
    Explain(ExplainArgs),
    /// Work with IAM snapshots
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Write realistic, deterministic logs (and a matching snapshot) to try the tool or benchmark it
    Generate(GenerateArgs),
    /// Work with `analyze --state` directories: merge shards, show what one holds
    #[command(subcommand)]
    State(StateCommand),
    /// Scan logs into partials (Parquet, no snapshot needed) for `analyze --partials`: the map
    /// half of a run spread over machines or a Spark cluster
    #[command(after_help = MAP_HELP)]
    Map(MapArgs),
    /// Show how permlens reads log files: detected format and layout (and why), compression,
    /// fields found and used, the first requests as read and the first errors (from a sample)
    Inspect(InspectArgs),
    /// Make report.html again from a report directory's tables (Parquet or CSV) and summary.json
    #[command(
        after_help = "The page replaces REPORT_DIR/report.html atomically; the tables and summary.json are \
not changed. Exit 2 with one line naming the file when the directory is not a permlens report or a \
table it needs is missing or damaged."
    )]
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A report directory written by `permlens analyze`
    #[arg(value_name = "REPORT_DIR")]
    pub dir: PathBuf,
}

/// How log lines are read: shared by `analyze` and `inspect`, so that `inspect` shows what
/// `analyze` would read.
#[derive(Debug, Args)]
pub struct ReadingOpts {
    /// Log format: auto (decided per file), json, apig, cts, or a gateway (kong, envoy, istio,
    /// nginx, traefik, apisix, caddy, aws-rest, aws-http)
    #[arg(long, value_name = "FORMAT", default_value = "auto", value_parser = value::log_format)]
    pub log_format: LogFormatArg,
    /// JSON field override, e.g. user=auth.user.name (repeatable); names: method, path, request,
    /// status, user, user_id, time, request_id, source_ip, error_code, host, response_source
    #[arg(long = "field", value_name = "NAME=PATH", value_parser = value::field_spec)]
    pub fields: Vec<crate::parse::json::FieldSpec>,
    /// API Gateway field that carries the caller's IAM user name, e.g. custom_data_log1 (also
    /// read from JSON records, such as LTS-structured API Gateway logs, unless --field user=)
    #[arg(long, value_name = "NAME", value_parser = value::user_field)]
    pub user_field: Option<crate::parse::apig::UserField>,
    /// Zone of times written without one (LTS-structured API Gateway records), e.g. +08:00;
    /// without it such times are not read (never guessed)
    #[arg(long, value_name = "OFFSET", value_parser = value::timezone)]
    pub timezone: Option<i32>,
    /// Leading path segments to remove from request paths before they are classified (an AWS
    /// API Gateway stage such as /prod, a gateway mount point); repeatable
    #[arg(long = "strip-prefix", value_name = "PREFIX", value_parser = value::strip_prefix)]
    pub strip_prefixes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Log files to look at (the first 4 MiB of a line log; a CTS document whole)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
    /// Requests and errors shown per file
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub records: usize,
    #[command(flatten)]
    pub reading: ReadingOpts,
    #[command(flatten)]
    pub catalog: CatalogOpt,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Fold state directories of other log shards (machines) into one; `analyze --state` over
    /// it then reports on all of them
    #[command(
        after_help = "Content counted by two shards (the same log file copied to both) is kept once: the \
longer count wins. The states must have been made with the same catalog and parsing options."
    )]
    Merge(StateMergeArgs),
    /// Print what a state directory holds
    Show(StateShowArgs),
}

#[derive(Debug, Args)]
pub struct StateMergeArgs {
    /// State directories to read (locked while read; never changed)
    #[arg(required = true, value_name = "SRC")]
    pub sources: Vec<PathBuf>,
    /// The state directory to merge into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
}

#[derive(Debug, Args)]
pub struct StateShowArgs {
    /// The state directory
    pub dir: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Log format to write
    #[arg(long, value_enum, default_value_t = GenerateFormat::Json)]
    pub format: GenerateFormat,
    /// How much to write: bytes, or with a unit (500MB, 2GiB)
    #[arg(long, default_value = "100MiB")]
    pub size: String,
    /// Number of IAM users making requests
    #[arg(long, default_value_t = 300)]
    pub users: usize,
    /// Seed: the same seed gives the same bytes
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days the requests spread over, ending at 2026-11-27
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Output file (`-` for stdout)
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also write a matching snapshot here
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Share of requests that call the BSS service, 0 to 1 in whole percent (1: every line
    /// is a BSS call, the worst case for the scan; about 1% of them call an unlisted API)
    #[arg(long, value_name = "SHARE", default_value_t = crate::generate::DEFAULT_BSS_SHARE, value_parser = value::ratio, allow_hyphen_values = true)]
    pub bss_share: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenerateFormat {
    Json,
    Apig,
    Cts,
}

const ANALYZE_HELP: &str = "\
Inputs are files, directories (searched recursively; hidden entries, FIFOs and symlink loops are
skipped with a warning) and globs; .gz and .zst files are read transparently. The format is decided
per file: JSON lines (gateway logs), API Gateway text logs (54 or 23 fields) or CTS traces.

Exit codes: 0 done and nothing matched --fail-on; 1 done and findings matched --fail-on; 2 could not
be done (bad option, unreadable input or a file in no known format, invalid snapshot or catalog,
more malformed lines than --max-bad-ratio, no request readable at all, another run holding the
same --out or --state). On exit 2 the previous report is left in place.

Nightly: --state DIR --window 90d reads only what is new each night (grown, rotated and
compressed logs are recognised by content, not name) and reports on the stored window; the
report gains changes.parquet (what changed since the previous run). Off a terminal, stderr
lines carry their UTC time; --quiet keeps only errors.";

const MAP_HELP: &str = "\
Writes DIR/part-<n>-<content>.parquet (partial schema 2: one row per input file, user, route,
status, error code, response source, client IP and hour, with up to three sample requests) and
DIR/map.json (what was read). DIR is replaced whole; it must be new, empty or an earlier map's.
Judge with: permlens analyze --partials DIR [--partials DIR2 ...] -p SNAPSHOT, giving the same
--catalog and parsing options. A content mapped twice (a log copied to two machines) is counted
once. Exit 2 when the run could not be done (as analyze).";

/// Options of `permlens map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// Log files, directories or globs
    #[arg(required = true, value_name = "LOGS")]
    pub logs: Vec<PathBuf>,
    /// Output directory for the partials and map.json (replaced whole)
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// With a single log file: the name recorded for it instead of its path (e.g. the URI it
    /// was copied from); samples of a report are ordered by these names, as by paths
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub reading: ReadingOpts,
    #[command(flatten)]
    pub catalog: CatalogOpt,
    /// Threads at work at once (default: all cores)
    #[arg(short = 'j', long, value_name = "N", value_parser = value::threads, allow_hyphen_values = true)]
    pub threads: Option<usize>,
    /// Progress bar on stderr: auto (only on a terminal), always or never
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Largest tolerated share of malformed lines among the lines parsed
    #[arg(long, value_name = "R", default_value = "0.01", value_parser = value::ratio, allow_hyphen_values = true)]
    pub max_bad_ratio: f64,
    /// Print only errors
    #[arg(short, long)]
    pub quiet: bool,
    /// Input bytes per round of reading before its rows are written out (bounds memory)
    #[arg(long, hide = true, default_value_t = 1 << 30)]
    pub round_bytes: u64,
}

/// Options of `permlens analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Log files, directories or globs (none with --state: report on what is stored; none with
    /// --partials)
    #[arg(required_unless_present_any = ["state", "partials"], value_name = "LOGS")]
    pub logs: Vec<PathBuf>,
    /// Judge mapped partials instead of logs: `permlens map` output directories, Parquet files
    /// or globs (repeatable), from any number of machines or reduced by Spark
    #[arg(long, value_name = "DIR|FILE|GLOB", conflicts_with_all = ["logs", "state"])]
    pub partials: Vec<PathBuf>,
    /// IAM snapshot (permlens snapshot JSON); without it only usage is reported. Repeat it, or
    /// name a directory of snapshots, to judge each request by the snapshot in force at its time
    #[arg(short = 'p', long, value_name = "FILE|DIR")]
    pub policies: Vec<PathBuf>,
    /// Report directory, replaced atomically
    #[arg(short, long, value_name = "DIR", default_value = "permlens-report")]
    pub out: PathBuf,
    /// What to write: parquet, csv (tables) and the page: report.html is written with a snapshot
    /// unless the list says no-html; html writes it without a snapshot too (html alone: no tables)
    #[arg(long, value_name = "LIST", default_value = "parquet", value_parser = value::formats)]
    pub format: Formats,
    #[command(flatten)]
    pub reading: ReadingOpts,
    #[command(flatten)]
    pub catalog: CatalogOpt,
    /// Only requests at or after this time (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME", value_parser = value::time)]
    pub since: Option<jiff::Timestamp>,
    /// Only requests before this time (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME", value_parser = value::time)]
    pub until: Option<jiff::Timestamp>,
    /// Threads at work at once: the scan, the report and its CSV writing (default: all cores)
    #[arg(short = 'j', long, value_name = "N", value_parser = value::threads, allow_hyphen_values = true)]
    pub threads: Option<usize>,
    /// Progress bar on stderr: auto (only on a terminal), always or never
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Exit 1 when any of these findings exist: denied, drift, over-privileged, unused
    #[arg(long, value_name = "LIST", value_parser = value::fail_on)]
    pub fail_on: Option<FailOn>,
    /// Accepted exceptions (TOML): findings they cover stay in the tables with excepted_by
    /// and never trigger --fail-on; expired and stale ones are reported (see the README)
    #[arg(long, value_name = "FILE", requires = "policies")]
    pub exceptions: Option<PathBuf>,
    /// Observation window (days) below which recommendations are low confidence
    #[arg(
        long,
        value_name = "N",
        default_value_t = 30,
        allow_negative_numbers = true
    )]
    pub min_days: u32,
    /// Largest tolerated share of malformed lines among the lines parsed
    #[arg(long, value_name = "R", default_value = "0.01", value_parser = value::ratio, allow_hyphen_values = true)]
    pub max_bad_ratio: f64,
    /// Incremental state directory: what each log content contributed is kept there, so later
    /// runs parse only new or grown files (rotated and compressed copies are recognised) and
    /// findings cover everything stored in the window
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Findings over the last N days or hours (90d, 36h, 2w) before --until (default: now);
    /// with --state, rows older than the longest window used are pruned
    #[arg(long, value_name = "DURATION", conflicts_with = "since", value_parser = value::duration, allow_hyphen_values = true)]
    pub window: Option<Hours>,
    /// With --state: how long stored rows are kept (default: the longest --window used so far);
    /// rows kept beyond the window give unused permissions their last use
    #[arg(long, value_name = "DURATION", requires = "state", value_parser = value::duration, allow_hyphen_values = true)]
    pub retain: Option<Hours>,
    /// Print only errors: no summary on stdout, no warnings (they are in summary.json)
    #[arg(short, long)]
    pub quiet: bool,
    /// Parse every line, without the literal prefilter (slower; for checking the prefilter)
    #[arg(long, hide = true)]
    pub no_prefilter: bool,
    /// With --state, input bytes per round of reading before its rows are written out (bounds
    /// the memory of a backfill; for tests)
    #[arg(long, hide = true, default_value_t = 256 << 20)]
    pub round_bytes: u64,
    /// With --state, input bytes of one plain file read before its rows are written out as a
    /// part (bounds the memory of a first run over a large file; for tests)
    #[arg(long, hide = true, default_value_t = 256 << 20)]
    pub part_bytes: u64,
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
    /// The IAM snapshot (permlens snapshot JSON); repeat it or name a directory of snapshots to
    /// use the one in force at --at
    #[arg(short = 'p', long, value_name = "FILE|DIR", required = true)]
    pub policies: Vec<PathBuf>,
    /// The IAM user name, exactly as in the logs (case-sensitive)
    #[arg(long)]
    pub user: String,
    /// Request time for g:CurrentTime conditions (RFC 3339 or YYYY-MM-DD); default: now
    #[arg(long, value_name = "TIME", value_parser = value::time)]
    pub at: Option<jiff::Timestamp>,
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
