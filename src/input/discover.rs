//! Which files a run reads: files, directories searched recursively, and globs.
//!
//! Hidden entries inside directories, FIFOs, sockets, devices and symlink loops are skipped
//! with a warning: reading a FIFO could hang a nightly job, and a loop would never end.
//! A path that does not exist (and is not a glob that matches something) stops the run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::GlobBuilder;
use walkdir::WalkDir;

/// Why the inputs cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot read input {path}: {cause}")]
    Missing {
        path: String,
        /// Not a `source`: the message already says it, and a chain would say it twice.
        cause: std::io::Error,
    },
    #[error("input {0}: no file matches this pattern")]
    NoMatch(String),
    #[error("input {pattern}: invalid glob: {msg}")]
    BadGlob { pattern: String, msg: String },
}

/// The files to read, sorted and without duplicates, and what was skipped.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

pub fn discover(inputs: &[PathBuf]) -> Result<Discovered, DiscoverError> {
    let mut out = Discovered::default();
    let mut seen = HashSet::new();
    for input in inputs {
        let before = out.files.len();
        match std::fs::metadata(input) {
            Ok(md) if md.is_file() => out.files.push(input.clone()),
            Ok(md) if md.is_dir() => walk(input, None, &mut out),
            Ok(_) => out.warnings.push(format!(
                "skipped {}: not a regular file (FIFO, socket or device)",
                input.display()
            )),
            Err(e) => {
                let text = input.to_string_lossy();
                if text.contains(['*', '?', '[', '{']) {
                    glob(&text, &mut out)?;
                    if out.files.len() == before {
                        return Err(DiscoverError::NoMatch(text.into_owned()));
                    }
                } else {
                    return Err(DiscoverError::Missing {
                        path: input.display().to_string(),
                        cause: e,
                    });
                }
            }
        }
    }
    // One file reached by two names (a symlink, a hard link, the same path twice) is read
    // once: its inode is its identity.
    let mut unique = Vec::new();
    let mut first_name: std::collections::HashMap<FileId, PathBuf> = Default::default();
    for f in std::mem::take(&mut out.files) {
        let key = file_id(&f);
        if seen.insert(key.clone()) {
            first_name.insert(key, f.clone());
            unique.push(f);
        } else if let Some(first) = first_name.get(&key)
            && first != &f
        {
            out.warnings.push(format!(
                "skipped {}: the same file as {} (a link), read once",
                f.display(),
                first.display()
            ));
        }
    }
    unique.sort();
    out.files = unique;
    Ok(out)
}

/// What tells two names of one file apart from two files.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileId {
    Inode(u64, u64),
    Path(PathBuf),
}

fn file_id(f: &Path) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(md) = std::fs::metadata(f) {
            return FileId::Inode(md.dev(), md.ino());
        }
    }
    FileId::Path(std::fs::canonicalize(f).unwrap_or_else(|_| f.to_owned()))
}

/// What permlens itself writes and must never read back as logs: a report directory, or a
/// `--state` directory.
fn own_directory(dir: &Path) -> Option<&'static str> {
    if crate::fsutil::is_report(dir) {
        Some("report directory")
    } else if dir.join("manifest.json").is_file() && dir.join("partials").is_dir() {
        Some("state directory")
    } else {
        None
    }
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn walk(dir: &Path, matcher: Option<&globset::GlobMatcher>, out: &mut Discovered) {
    let mut it = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = it.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let at = e
                    .path()
                    .map_or_else(|| dir.display().to_string(), |p| p.display().to_string());
                if e.loop_ancestor().is_some() {
                    out.warnings.push(format!("skipped {at}: symlink loop"));
                } else {
                    out.warnings.push(format!("skipped {at}: {e}"));
                }
                continue;
            }
        };
        if entry.depth() > 0 && is_hidden(entry.path()) {
            out.warnings
                .push(format!("skipped {}: hidden", entry.path().display()));
            if entry.file_type().is_dir() {
                it.skip_current_dir();
            }
            continue;
        }
        let ft = entry.file_type();
        if ft.is_dir() {
            if let Some(what) = own_directory(entry.path()) {
                out.warnings.push(format!(
                    "skipped {}: a permlens {what}, not logs",
                    entry.path().display()
                ));
                it.skip_current_dir();
            }
            continue;
        }
        if !ft.is_file() {
            out.warnings.push(format!(
                "skipped {}: not a regular file (FIFO, socket or device)",
                entry.path().display()
            ));
            continue;
        }
        if matcher.is_none_or(|m| m.is_match(entry.path())) {
            out.files.push(entry.into_path());
        }
    }
}

fn glob(pattern: &str, out: &mut Discovered) -> Result<(), DiscoverError> {
    let matcher = GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| DiscoverError::BadGlob {
            pattern: pattern.to_owned(),
            msg: e.kind().to_string(),
        })?
        .compile_matcher();
    // Walk from the longest leading directory without glob characters.
    let mut base = PathBuf::new();
    for comp in Path::new(pattern).components() {
        let s = comp.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[', '{']) {
            break;
        }
        base.push(comp);
    }
    if base.as_os_str().is_empty() {
        base = PathBuf::from(".");
    }
    if base.is_file() {
        return Ok(());
    }
    let pattern_is_relative_dot = base == Path::new(".") && !pattern.starts_with("./");
    if pattern_is_relative_dot {
        // Match `*.log` against `./x.log` as written: strip the `./` the walk adds.
        let mut it = WalkDir::new(&base)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter();
        while let Some(Ok(entry)) = it.next() {
            if entry.depth() > 0 && is_hidden(entry.path()) {
                if entry.file_type().is_dir() {
                    it.skip_current_dir();
                }
                continue;
            }
            if entry.file_type().is_dir()
                && let Some(what) = own_directory(entry.path())
            {
                out.warnings.push(format!(
                    "skipped {}: a permlens {what}, not logs",
                    entry.path().display()
                ));
                it.skip_current_dir();
                continue;
            }
            let rel = entry.path().strip_prefix(".").unwrap_or(entry.path());
            if entry.file_type().is_file() && matcher.is_match(rel) {
                out.files.push(rel.to_path_buf());
            }
        }
        return Ok(());
    }
    walk(&base, Some(&matcher), out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_globs_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::create_dir_all(d.join(".hidden")).unwrap();
        std::fs::write(d.join("a/x.log"), "x").unwrap();
        std::fs::write(d.join("a/b/y.log.gz"), "y").unwrap();
        std::fs::write(d.join("a/.z.log"), "z").unwrap();
        std::fs::write(d.join(".hidden/w.log"), "w").unwrap();
        std::os::unix::fs::symlink(d.join("a"), d.join("a/b/loop")).unwrap();
        let fifo = d.join("a/pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);

        let got = discover(&[d.to_path_buf()]).unwrap();
        let names: Vec<String> = got
            .files
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a/b/y.log.gz", "a/x.log"]);
        let warnings = got.warnings.join("\n");
        assert!(warnings.contains("symlink loop"), "{warnings}");
        assert!(warnings.contains(".hidden: hidden"), "{warnings}");
        assert!(warnings.contains(".z.log: hidden"), "{warnings}");
        assert!(warnings.contains("pipe: not a regular file"), "{warnings}");

        let pattern = format!("{}/a/**/*.gz", d.display());
        let got = discover(&[PathBuf::from(pattern)]).unwrap();
        assert_eq!(got.files.len(), 1);
        // The same file twice is read once.
        let got = discover(&[d.join("a/x.log"), d.join("a/../a/x.log")]).unwrap();
        assert_eq!(got.files.len(), 1);

        let err = discover(&[d.join("nope.log")]).unwrap_err().to_string();
        assert!(
            err.contains("cannot read input") && err.contains("nope.log"),
            "{err}"
        );
        let err = discover(&[PathBuf::from(format!("{}/*.nothing", d.display()))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no file matches"), "{err}");
    }
}
