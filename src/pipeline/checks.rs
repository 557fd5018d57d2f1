//! What the scan found, judged: the exit-2 conditions of the inputs, and the malformed lines
//! named by file and line.

use anyhow::bail;

use super::Config;
use crate::aggregate::{RowKey, Stats};
use crate::input::FileReport;
use crate::scan::Counters;

/// Exit-2 conditions that depend on what the scan found.
pub fn check_inputs(
    cfg: &Config,
    c: &Counters,
    reports: &mut [FileReport],
    malformed: &[String],
) -> anyhow::Result<()> {
    name_fields_never_given(reports);
    let reports: &[FileReport] = reports;
    let errors: Vec<&str> = reports.iter().filter_map(|r| r.error.as_deref()).collect();
    for w in reports.iter().flat_map(|r| &r.warnings) {
        crate::log::warn(w);
    }
    if !errors.is_empty() {
        for e in &errors[..errors.len() - 1] {
            crate::log::error(e);
        }
        bail!("{}", errors[errors.len() - 1]);
    }
    // AWS API Gateway paths ($context.path) start with the stage: a file of them in which no
    // request is a BSS call most likely needs --strip-prefix.
    for r in reports {
        if matches!(r.layout, "aws-rest" | "aws-http")
            && r.counts.parsed > 0
            && r.counts.bss_requests == 0
            && cfg.strip_prefixes.is_empty()
        {
            crate::log::warn(&format!(
                "{}: none of its {} requests is a BSS call: AWS API Gateway paths ($context.path) start with the stage; name it with --strip-prefix /STAGE (e.g. --strip-prefix /prod)",
                r.name, r.counts.parsed
            ));
        }
    }
    // A file from which nothing could be read is named, whatever the other files gave.
    for r in reports {
        if r.new_lines > 0 && r.malformed >= r.new_lines && r.warnings.is_empty() {
            let prefix = format!("{}:", r.name);
            let first = malformed
                .iter()
                .find_map(|m| m.strip_prefix(&prefix))
                .unwrap_or_default();
            crate::log::warn(&format!(
                "{}: no request could be read from its {} lines (read as {}); the first: line{first}",
                r.name,
                r.new_lines,
                if r.layout.is_empty() {
                    r.format.map_or("?", |f| f.as_str())
                } else {
                    r.layout
                },
            ));
        }
    }
    let read = reports.iter().filter(|r| r.skipped.is_none()).count();
    // With --state, a night with nothing new is fine; new lines with no request in them are
    // not. (A compressed copy of counted content has bytes but no new line.)
    if c.parsed + c.prefiltered == 0 && (cfg.state.is_none() || c.lines > 0) {
        bail!(
            "no request could be read from {} file(s) ({} lines, {} malformed): nothing to report; {}",
            read,
            c.lines,
            c.malformed,
            why_nothing(reports, malformed)
        );
    }
    // Every non-blank line is judged: parsed, checked for its format's shape, or malformed.
    let judged = c.parsed + c.malformed + c.prefiltered;
    if judged > 0 && c.malformed as f64 > cfg.max_bad_ratio * judged as f64 {
        for s in malformed.iter().take(5) {
            crate::log::warn(&format!("malformed: {s}"));
        }
        let worst = reports
            .iter()
            .max_by_key(|r| r.malformed)
            .map(|r| format!("; most in {} ({} malformed)", r.name, r.malformed))
            .unwrap_or_default();
        bail!(
            "{} of {} lines read were malformed ({:.2}%), more than --max-bad-ratio {}{worst}; the first: {}",
            c.malformed,
            judged,
            100.0 * c.malformed as f64 / judged as f64,
            cfg.max_bad_ratio,
            malformed.first().map_or("?", String::as_str)
        );
    }
    Ok(())
}

/// Names each file none of whose catalog requests had a caller, or a status: a field that
/// is there but always empty or `-` (Traefik's `ClientUsername` without auth, an API Gateway
/// `custom_data_log` nobody fills) passes the check of the first record's keys, and its
/// requests would be read as an unknown user's, or as no use, without a word. Not said again
/// for a file whose first record lacked the field (said before the scan).
fn name_fields_never_given(reports: &mut [FileReport]) {
    for r in reports.iter_mut() {
        let n = r.counts.bss_requests;
        if n == 0 {
            continue;
        }
        let said = |what: &str| r.notes.iter().any(|w| w.contains(what));
        let mut more = Vec::new();
        if r.counts.bss_without_user == n && !said("no caller") && !said("(--user-field)") {
            let hint = match r.layout {
                "envoy-text" => {
                    "Envoy's default text format has no caller: log JSON with the caller (a header your authentication sets)"
                }
                "clf" => {
                    "its authuser field is \"-\" in each (no HTTP authentication): log JSON with the caller (a header your authentication sets)"
                }
                _ => {
                    "the caller field is missing, empty or \"-\" in each; name the field that holds the caller with --field user=KEY (API Gateway logs: --user-field)"
                }
            };
            more.push(format!(
                "{}: none of its {n} BSS requests names a caller, so they are judged as an unknown user's: {hint}",
                r.name
            ));
        }
        if r.counts.bss_without_status == n && !said("no status") {
            more.push(format!(
                "{}: none of its {n} BSS requests has a status: none can count as used or denied; name the field that holds it with --field status=KEY",
                r.name
            ));
        }
        for w in more {
            crate::log::warn(&w);
            r.notes.push(w);
        }
    }
}

/// Why each file read gave no request, for the error that stops such a run (a `--quiet`
/// run shows no warning): its first malformed line, else what was said of it before the
/// scan, else its line count. The first three files, then how many more.
fn why_nothing(reports: &[FileReport], malformed: &[String]) -> String {
    let read: Vec<&FileReport> = reports.iter().filter(|r| r.skipped.is_none()).collect();
    let mut parts: Vec<String> = read
        .iter()
        .take(3)
        .map(|r| {
            let prefix = format!("{}:", r.name);
            if let Some(m) = malformed.iter().find(|m| m.starts_with(&prefix)) {
                format!("{}: first malformed line {}", r.name, &m[prefix.len()..])
            } else if let Some(note) = r.notes.first() {
                note.clone()
            } else if r.new_lines == 0 {
                format!("{}: no line (no record) to read", r.name)
            } else {
                format!("{}: {} lines, none a request", r.name, r.new_lines)
            }
        })
        .collect();
    if read.len() > 3 {
        parts.push(format!("and {} more file(s)", read.len() - 3));
    }
    parts.join("; ")
}

/// `file:line: reason` of the kept malformed lines (line numbers count the lines of a file
/// counted by earlier runs too).
pub fn malformed_samples<K: RowKey>(stats: &Stats<K>, reports: &[FileReport]) -> Vec<String> {
    stats
        .malformed_samples()
        .into_iter()
        .map(|(file, line, reason)| {
            let r = &reports[file as usize];
            let base = r.lines - r.new_lines.min(r.lines);
            format!("{}:{}: {reason}", r.name, base + line)
        })
        .collect()
}
