//! Messages on stderr, one line per event.
//!
//! On a terminal a line reads `permlens: warning: ...`; elsewhere (cron, systemd, a CI log)
//! each line starts with its UTC time, so a scheduler's log can be read without a wrapper.
//! `--quiet` keeps only errors: the nightly job stays silent unless something failed, and
//! everything else is still in `summary.json`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Keep only errors from now on.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// The line as written: `[time ]permlens: [level: ]message`.
pub fn format_line(level: &str, message: &str, timestamped: bool) -> String {
    let time = if timestamped {
        format!("{} ", jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ"))
    } else {
        String::new()
    };
    let level = if level.is_empty() {
        String::new()
    } else {
        format!("{level}: ")
    };
    // One event, one line: a message never spills over several lines of a log.
    let message = message.replace('\n', " ");
    format!("{time}permlens: {level}{message}")
}

fn emit(level: &str, message: &str) {
    eprintln!(
        "{}",
        format_line(level, message, !std::io::stderr().is_terminal())
    );
}

/// A run that could not be done: always written.
pub fn error(message: &str) {
    emit("error", message);
}

/// Every warning of this run, in order, for `summary.json` (quiet runs keep them too).
static WARNINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

pub fn warn(message: &str) {
    if let Ok(mut w) = WARNINGS.lock() {
        w.push(message.to_owned());
    }
    if !is_quiet() {
        emit("warning", message);
    }
}

/// The warnings given so far.
pub fn warnings() -> Vec<String> {
    WARNINGS.lock().map(|w| w.clone()).unwrap_or_default()
}

/// Progress events (what was read, skipped, written).
pub fn info(message: &str) {
    if !is_quiet() {
        emit("", message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_level_and_time_only_off_a_terminal() {
        assert_eq!(
            format_line("warning", "a\nb", false),
            "permlens: warning: a b"
        );
        let l = format_line("", "read x", true);
        assert!(l.ends_with("Z permlens: read x"), "{l}");
        assert!(l.starts_with("20"), "{l}");
    }
}
