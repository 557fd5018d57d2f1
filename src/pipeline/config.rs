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
    if fail_on.denied && (f.count(Verdict::Confirmed) > 0 || f.count(Verdict::ObservedOnly) > 0) {
        out.push("denied");
    }
    if fail_on.drift && (f.count(Verdict::PredictedOnly) > 0 || f.count(Verdict::ObservedOnly) > 0)
    {
        out.push("drift");
    }
    if fail_on.over_privileged && f.over_privileged().next().is_some() {
        out.push("over-privileged");
    }
    if fail_on.unused && !f.unused.is_empty() {
        out.push("unused");
    }
    out
}
