//! The crate's modules form layers: each may use only the layers below it, so the pipeline's
//! stages depend one way (DESIGN.md, "Layers"). This test reads every `crate::` path in `src/`
//! and fails on a use of a module at the same or a higher layer, naming the file and line.
//!
//! Run it alone with `cargo test --test layers`.

use std::collections::BTreeMap;
use std::path::Path;

/// Bottom first. Modules on one line are one layer and may not use each other.
const LAYERS: &[&[&str]] = &[
    &[
        "bytes",
        "exceptions",
        "exit",
        "fsutil",
        "jsonfile",
        "lock",
        "log",
        "net",
        "progress",
        "frame",
    ],
    &["catalog"],
    &["classify"],
    &["parse"],
    &["policy"],
    &["scan"],
    &["aggregate"],
    &["input"],
    &["state"],
    &["findings"],
    &["report"],
    &["generate"],
    &["pipeline"],
    &["cli"],
    &["cmd"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a source file belongs to (`src/scan/mod.rs` -> `scan`).
fn module_of(path: &Path, src: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules a line names through `crate::`: `crate::scan::X`, `crate::{scan, parse}`.
fn named_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut unknown = BTreeMap::new();
    for file in &files {
        let module = module_of(file, &src);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            unknown.insert(module.clone(), file.display().to_string());
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for used in named_modules(code) {
                // Items of the crate root (`crate::ExitCode`) are re-exports of leaves.
                if used == module || used.chars().next().is_some_and(char::is_uppercase) {
                    continue;
                }
                match layer_of(&used) {
                    Some(l) if l < own => {}
                    Some(_) => violations.push(format!(
                        "{}:{}: `{module}` uses `{used}`, which is not below it",
                        file.display(),
                        n + 1
                    )),
                    None => violations.push(format!(
                        "{}:{}: `{module}` uses `{used}`, which has no layer in LAYERS",
                        file.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules without a layer (add them to LAYERS): {unknown:?}"
    );
    assert!(
        violations.is_empty(),
        "{} uses against the layers:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn the_reader_of_paths_sees_groups_and_single_names() {
    assert_eq!(named_modules("use crate::scan::Scanner;"), ["scan"]);
    assert_eq!(
        named_modules("use crate::{ExitCode, progress};"),
        ["ExitCode", "progress"]
    );
    assert_eq!(
        named_modules("let x = crate::net::parse_ip(crate::bytes::same(a, b));"),
        ["net", "bytes"]
    );
}
