//! Helpers shared by the CLI tests: the real binary, run in a temp dir.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn permlens() -> Command {
    let mut cmd = Command::cargo_bin("permlens").expect("binary builds");
    cmd.env_remove("RUST_BACKTRACE");
    cmd
}

/// The repository's `samples/` directory.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
