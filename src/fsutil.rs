//! Small file-system helpers shared by commands: atomic file replacement and stdout writes
//! that treat a closed pipe (`permlens catalog | head`) as a normal end.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// a reader never sees a half-written file and a failure leaves the old file in place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".permlens-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    // Temporary files are created 0600; the result is an ordinary readable file.
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .and_then(|()| tmp.write_all(bytes))
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// Writes to stdout; a reader that went away is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
        _ => Ok(()),
    }
}

/// The file every report directory holds, which only permlens writes: what tells a report
/// from any directory that happens to hold a `summary.json`, and what keeps a report inside
/// a log tree from being read back as logs.
pub const MARKER: &str = ".permlens-report";

/// Whether `dir` is a report permlens wrote: its marker, or (reports written before the
/// marker) a `summary.json` that permlens wrote.
pub fn is_report(dir: &Path) -> bool {
    if dir.join(MARKER).is_file() {
        return true;
    }
    std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| {
            v.get("version").is_some() && v.get("inputs").is_some() && v.get("outputs").is_some()
        })
}
