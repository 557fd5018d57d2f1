//! A damaged `--state` directory never panics and never gives wrong totals: flipped bits and
//! zeroed blocks in a partial, a partial cut short or removed, manifest entries edited,
//! duplicated or dropped all stop the run with exit 2 naming the file.

mod common;

use std::path::{Path, PathBuf};

use common::{permlens, samples};

/// A state directory made from the sample logs; returns (logs, state dir).
fn made(dir: &Path) -> (PathBuf, PathBuf) {
    let state = dir.join("state");
    let out = dir.join("r0");
    permlens()
        .arg("analyze")
        .arg(samples().join("logs"))
        .args([
            "--user-field",
            "custom_data_log1",
            "--progress",
            "never",
            "-q",
        ])
        .arg("--state")
        .arg(&state)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    (samples().join("logs"), state)
}

/// Reports from the state alone (no logs): what is stored is what is read.
fn report(state: &Path, out: &Path) -> std::process::Output {
    permlens()
        .arg("analyze")
        .args([
            "--user-field",
            "custom_data_log1",
            "--progress",
            "never",
            "-q",
        ])
        .arg("--state")
        .arg(state)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

fn partials(state: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(state.join("partials"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    v.sort();
    v
}

fn bss_requests(out: &Path) -> u64 {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    s["state"]["stored_bss_requests"].as_u64().unwrap()
}

#[test]
fn damaged_partials_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_, state) = made(dir.path());
    let clean = report(&state, &dir.path().join("clean"));
    assert!(clean.status.success());
    let total = bss_requests(&dir.path().join("clean"));
    assert!(total > 0);
    let files = partials(&state);
    assert!(!files.is_empty());
    let original: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    // Damage: one flipped bit at several places, a zeroed 512-byte block, a cut.
    type Damage = fn(&mut Vec<u8>);
    let damages: [(&str, Damage); 5] = [
        ("bit at 100", |b| b[100] ^= 0x10),
        ("bit in the middle", |b| {
            let m = b.len() / 2;
            b[m] ^= 0x01
        }),
        ("bit near the end", |b| {
            let n = b.len() - 20;
            b[n] ^= 0x80
        }),
        ("zeroed block", |b| {
            let m = (b.len() / 3).min(b.len().saturating_sub(512));
            let end = (m + 512).min(b.len());
            b[m..end].fill(0);
        }),
        ("cut", |b| b.truncate(b.len() / 2)),
    ];
    for (what, damage) in damages {
        let mut bytes = original[0].clone();
        damage(&mut bytes);
        std::fs::write(&files[0], &bytes).unwrap();
        let out = report(&state, &dir.path().join("bad"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains(&files[0].file_name().unwrap().to_string_lossy().to_string()),
            "{what}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
    std::fs::write(&files[0], &original[0]).unwrap();
    // A removed partial.
    std::fs::remove_file(&files[0]).unwrap();
    let out = report(&state, &dir.path().join("gone"));
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(&files[0], &original[0]).unwrap();
    // Restored: the clean totals again.
    let again = report(&state, &dir.path().join("again"));
    assert!(again.status.success());
    assert_eq!(bss_requests(&dir.path().join("again")), total);
}

#[test]
fn an_edited_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, state) = made(dir.path());
    let path = state.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let edits: Vec<(&str, serde_json::Value)> = vec![
        ("an entry duplicated", {
            let mut v = m.clone();
            let e = v["entries"][0].clone();
            v["entries"].as_array_mut().unwrap().push(e);
            v
        }),
        ("an entry dropped", {
            let mut v = m.clone();
            v["entries"].as_array_mut().unwrap().remove(0);
            v
        }),
        ("a number altered", {
            let mut v = m.clone();
            v["entries"][0]["rows"] = serde_json::json!(549_755_814_069u64);
            v
        }),
    ];
    for (what, edited) in edits {
        std::fs::write(&path, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
        let out = report(&state, &dir.path().join("r"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.contains("manifest.json"), "{what}: {stderr}");
    }
    // A duplicated entry is refused even without the checksum (a manifest of an older
    // version has none).
    let mut v = m.clone();
    v.as_object_mut().unwrap().remove("checksum");
    let e = v["entries"][0].clone();
    v["entries"].as_array_mut().unwrap().push(e);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let out = report(&state, &dir.path().join("r"));
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(&path, text).unwrap();
    assert!(report(&state, &dir.path().join("r")).status.success());
}

/// Regression: with its manifest deleted, a state was taken for a new one: the partials of
/// every earlier run were deleted as orphans and the history lost, exit 0. Files in the
/// state that permlens did not write were deleted too, and any directory was adopted.
#[test]
fn a_lost_manifest_and_foreign_files_are_not_taken_for_a_new_state() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let state = dir.path().join("state");
    let night = |files: &[&str]| {
        for f in files {
            std::fs::copy(samples().join("logs").join(f), logs.join(f)).unwrap();
        }
        permlens()
            .arg("analyze")
            .arg(&logs)
            .args(["--user-field", "custom_data_log1", "-q", "--state"])
            .arg(&state)
            .arg("-o")
            .arg(dir.path().join("r"))
            .output()
            .unwrap()
    };
    assert!(night(&["gateway-2026-11-26.jsonl"]).status.success());
    // Foreign files in the state are left alone.
    std::fs::write(state.join("partials/keep.parquet"), "keep").unwrap();
    std::fs::write(state.join("partials/README"), "notes").unwrap();
    assert!(night(&["apig-2026-11-27.log"]).status.success());
    assert!(state.join("partials/keep.parquet").is_file());
    assert!(state.join("partials/README").is_file());
    let before = partials(&state).len();
    // The manifest lost: refused, and nothing deleted.
    std::fs::remove_file(state.join("manifest.json")).unwrap();
    let o = night(&[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("there is no manifest.json: the state is damaged"),
        "{err}"
    );
    assert_eq!(partials(&state).len(), before);
    // A directory holding something else is no state.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let o = permlens()
        .arg("analyze")
        .arg(&logs)
        .args(["--user-field", "custom_data_log1", "-q", "--state"])
        .arg(&other)
        .arg("-o")
        .arg(dir.path().join("r2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a permlens state directory"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(other.join("notes.txt").is_file());
}
