//! The options of a run, resolved: built by `cmd::analyze` from the command line.

use std::path::PathBuf;

use crate::findings::{Findings, Verdict};
use crate::parse::FormatChoice;
use crate::parse::apig::UserField;
use crate::parse::json::{FieldMap, FieldSpec};
use crate::progress::ProgressMode;
use crate::report::Formats;

/// `analyze` options, resolved and validated: what every stage reads.
#[derive(Debug)]
pub struct Config {
    /// Log files, directories, globs.
    pub logs: Vec<PathBuf>,
    /// Snapshot files or directories, when findings are wanted.
    pub policies: Vec<PathBuf>,
    /// The report directory.
    pub out: PathBuf,
    pub formats: Formats,
    pub log_format: FormatChoice,
    pub log_format_text: String,
    pub fields: FieldMap,
    pub field_specs: Vec<FieldSpec>,
    pub user_field: Option<UserField>,
    /// `--timezone`: seconds east of UTC of times written without a zone.
    pub timezone: Option<i32>,
    /// `--strip-prefix`, as given (each checked: `/segment[/segment...]`).
    pub strip_prefixes: Vec<String>,
    pub catalog: Option<PathBuf>,
    /// Window bounds, microseconds since the epoch.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// `--window`, in whole days (rounded up), for the state's retention.
    pub window_days: Option<u32>,
    /// `--retain`, in whole days (rounded up).
    pub retain_days: Option<u32>,
    /// With `--state`: input bytes read per round before the round's rows are written out.
    pub round_bytes: u64,
    /// `--partials`: mapped partial files, directories or globs to judge instead of logs.
    pub partials: Vec<PathBuf>,
    /// `--exceptions`: the accepted-exceptions file.
    pub exceptions: Option<PathBuf>,
    /// With `--state`: bytes of one plain file read before its rows are written out as a part.
    pub part_bytes: u64,
    pub state: Option<PathBuf>,
    pub threads: Option<usize>,
    pub progress: ProgressMode,
    pub fail_on: FailOn,
    pub min_days: u32,
    pub max_bad_ratio: f64,
    pub prefilter: bool,
}

/// The identity of what a line is read as: the catalog and every option that changes it.
/// States and mapped partials carry it, and runs with another are refused. Options added
/// later enter it only when given, so older states stay usable.
pub fn fingerprint(cfg: &Config, ctx: &super::Context) -> String {
    let mut reading = cfg.log_format_text.clone();
    if let Some(z) = cfg.timezone {
        reading.push_str(&format!(";timezone={z}"));
    }
    for p in &cfg.strip_prefixes {
        reading.push_str(&format!(";strip-prefix={p}"));
    }
    let specs: Vec<&str> = cfg.field_specs.iter().map(FieldSpec::text).collect();
    crate::state::config_fingerprint(
        &ctx.catalog,
        cfg.user_field.as_ref().map(UserField::name),
        &specs,
        &reading,
    )
}

/// Which findings make the run exit 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailOn {
    pub denied: bool,
    pub drift: bool,
    pub over_privileged: bool,
    pub unused: bool,
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<FailOn, String> {
        let mut f = FailOn::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "denied" => f.denied = true,
                "drift" => f.drift = true,
                "over-privileged" => f.over_privileged = true,
                "unused" => f.unused = true,
                other => {
                    return Err(format!(
                        "unknown finding {other:?}, expected a list of denied, drift, over-privileged, unused"
                    ));
                }
            }
        }
        Ok(f)
    }
}

/// The `--fail-on` kinds that have findings.
pub fn failing_findings(fail_on: FailOn, f: &Findings) -> Vec<&'static str> {
    let mut out = Vec::new();
    // Findings accepted exceptions cover never fail a run.
    let open = |v| f.count_open(v) > 0;
    if fail_on.denied && (open(Verdict::Confirmed) || open(Verdict::ObservedOnly)) {
        out.push("denied");
    }
    if fail_on.drift && (open(Verdict::PredictedOnly) || open(Verdict::ObservedOnly)) {
        out.push("drift");
    }
    if fail_on.over_privileged && f.over_privileged_open().next().is_some() {
        out.push("over-privileged");
    }
    if fail_on.unused && f.unused_open() > 0 {
        out.push("unused");
    }
    out
}
