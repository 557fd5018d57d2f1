//! One run at a time per report or state directory.
//!
//! A lock is an advisory `flock` on a small file that names its holder (pid and start time).
//! The kernel drops the lock when the holder's process ends, however it ends, so a lock left
//! by a killed run is simply free: the next run takes it over and says whose it was. The file
//! itself is never deleted (deleting a locked file lets two later runs lock two different
//! files); a run that ends normally empties it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    /// The holder recorded in the file when it was taken over from a run that died.
    pub took_over: Option<String>,
}

impl RunLock {
    /// Locks `path` (created if missing) for this process, or fails naming the holder.
    /// `what` names the directory the lock protects, for the message.
    pub fn acquire(path: &Path, what: &str) -> anyhow::Result<RunLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file);
                bail!(
                    "{what} is in use by another permlens run ({}; lock file {}): wait for it to finish",
                    if holder.is_empty() {
                        "holder unknown".to_owned()
                    } else {
                        holder
                    },
                    path.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        let previous = read_holder(&mut file);
        let me = format!(
            "pid {} since {}",
            std::process::id(),
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ")
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()))
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write the lock file {}", path.display()))?;
        Ok(RunLock {
            file,
            took_over: (!previous.is_empty()).then_some(previous),
        })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // An empty file tells the next run that this one ended normally.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

fn read_holder(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut s));
    s.trim().to_owned()
}

/// The lock file of a report directory: beside it, since the directory itself is swapped.
pub fn report_lock_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "permlens-report".to_owned());
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parent.join(format!(".{name}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_a_released_lock_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let first = RunLock::acquire(&p, "the state directory").unwrap();
        assert!(first.took_over.is_none());
        let err = RunLock::acquire(&p, "the state directory")
            .unwrap_err()
            .to_string();
        assert!(err.contains("in use by another permlens run"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        let again = RunLock::acquire(&p, "the state directory").unwrap();
        assert!(again.took_over.is_none(), "a normal end leaves no holder");
    }

    #[test]
    fn a_lock_left_by_a_dead_run_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        std::fs::write(&p, "pid 999999 since 2026-11-27T02:00:00Z").unwrap();
        let lock = RunLock::acquire(&p, "x").unwrap();
        assert_eq!(
            lock.took_over.as_deref(),
            Some("pid 999999 since 2026-11-27T02:00:00Z")
        );
    }

    #[test]
    fn report_lock_sits_beside_the_report() {
        assert_eq!(
            report_lock_path(Path::new("out/rep")),
            PathBuf::from("out/.rep.lock")
        );
        assert_eq!(
            report_lock_path(Path::new("rep")),
            PathBuf::from("./.rep.lock")
        );
    }
}
