//! `permlens report REPORT_DIR`: makes `report.html` again from a report directory's tables
//! (Parquet or CSV), `summary.json` and recommended policies, so that a page can be made from
//! a report written elsewhere or by an earlier version. The page replaces the old one
//! atomically; the tables and `summary.json` are left as they are.

use crate::ExitCode;
use crate::cli::ReportArgs;
use crate::lock::{RunLock, report_lock_path};
use crate::report::page;

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    page::load::check(dir)?;
    // The lock `analyze` holds on the same directory: a run swapping the directory while the
    // page is written would leave the page in the replaced copy.
    let _lock = RunLock::acquire(
        &report_lock_path(dir),
        &format!("report directory {}", dir.display()),
    )?;
    let loaded = page::load::load(dir)?;
    let usage = page::usage_part(&loaded.usage)?;
    let findings = loaded
        .findings
        .as_ref()
        .map(|f| page::findings_part(f, &loaded.policies))
        .transpose()?;
    let made = page::Made::Again {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        at: jiff::Timestamp::now(),
    };
    let html = page::page(&loaded.summary, &usage, findings.as_ref(), &made);
    let path = dir.join(page::FILE);
    crate::fsutil::write_atomic(&path, html.as_bytes())?;
    crate::log::info(&format!("wrote {}", path.display()));
    Ok(ExitCode::Success)
}
