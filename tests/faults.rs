//! A full disk under the report and under the state: the run fails (exit 2) and leaves the
//! previous report and state as they were, and the next run, with room, is a clean one.
//!
//! The disk is a small tmpfs mounted for the test, which needs root (CI and the developers'
//! machines run as root); where mounting is refused the test says so and checks nothing else.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{permlens, samples};

/// A tmpfs of `kib` KiB at a new directory, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(kib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("cannot mount a tmpfs here (not root?): full-disk checks not run");
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills what is left with one file.
    fn fill(&self) -> PathBuf {
        let p = self.path().join("filler");
        let _ = std::fs::write(&p, vec![0u8; 64 << 20]);
        p
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn analyze(out: &Path, state: Option<&Path>) -> std::process::Output {
    let mut cmd = permlens();
    cmd.arg("analyze")
        .arg(samples().join("logs"))
        .arg("-p")
        .arg(samples().join("snapshot.json"))
        .args([
            "--user-field",
            "custom_data_log1",
            "-q",
            "--progress",
            "never",
            "-o",
        ])
        .arg(out);
    if let Some(s) = state {
        cmd.arg("--state").arg(s);
    }
    cmd.output().unwrap()
}

fn read_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walk(dir) {
        out.push((
            e.strip_prefix(dir).unwrap().to_path_buf(),
            std::fs::read(&e).unwrap(),
        ));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

#[test]
fn a_full_disk_leaves_the_previous_report_and_state() {
    let Some(disk) = SmallDisk::mount(1024) else {
        return;
    };
    let out = disk.path().join("report");
    let state = disk.path().join("state");
    let first = analyze(&out, Some(&state));
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report_before = read_tree(&out);
    let state_before = read_tree(&state);
    let filler = disk.fill();
    // New content to store, and no room for it or for the report.
    let out2 = analyze(&out, Some(&state));
    let stderr = String::from_utf8_lossy(&out2.stderr);
    assert_eq!(out2.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        read_tree(&out),
        report_before,
        "the previous report is intact"
    );
    // The manifest is as it was; what the failed run wrote is not named by it.
    let manifest = |t: &[(PathBuf, Vec<u8>)]| {
        t.iter()
            .find(|(p, _)| p == Path::new("manifest.json"))
            .map(|(_, b)| b.clone())
    };
    assert_eq!(manifest(&read_tree(&state)), manifest(&state_before));
    // With room again, the next run is a clean one.
    std::fs::remove_file(filler).unwrap();
    let third = analyze(&out, Some(&state));
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    let staged: Vec<String> = std::fs::read_dir(disk.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".permlens-stage-"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}

#[test]
fn a_full_disk_without_state_keeps_the_previous_report() {
    let Some(disk) = SmallDisk::mount(512) else {
        return;
    };
    let out = disk.path().join("report");
    let first = analyze(&out, None);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let before = read_tree(&out);
    disk.fill();
    let second = analyze(&out, None);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.lines().count() <= 3, "{stderr}");
    assert_eq!(read_tree(&out), before);
}
