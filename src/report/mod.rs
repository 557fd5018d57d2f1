//! The report directory: tables written with polars (Parquet and/or CSV), JSON documents,
//! all staged in a temporary directory beside the target and swapped in atomically, so a run
//! that fails leaves the previous report untouched.

pub mod changes;
pub mod finding_tables;
pub mod page;
pub mod tables;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use polars::prelude::*;

use crate::fsutil::{MARKER, is_report};

/// What `--format` asks for: the table formats, and the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub parquet: bool,
    pub csv: bool,
    pub html: Html,
}

/// Whether `report.html` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Html {
    /// With a snapshot (the page is about findings); the list did not name it.
    #[default]
    WithSnapshot,
    /// `html` listed: also without a snapshot (a usage-only page).
    Always,
    /// `no-html` listed.
    Never,
}

impl Formats {
    /// Tables in the given formats, the page by the default rule.
    pub fn tables(parquet: bool, csv: bool) -> Formats {
        Formats {
            parquet,
            csv,
            html: Html::WithSnapshot,
        }
    }

    /// Whether the run writes `report.html`.
    pub fn writes_page(&self, with_snapshot: bool) -> bool {
        match self.html {
            Html::WithSnapshot => with_snapshot,
            Html::Always => true,
            Html::Never => false,
        }
    }

    /// The file of a table that holds every row, as the page names it.
    pub fn table_file(&self, name: &str) -> String {
        if self.parquet {
            format!("{name}.parquet")
        } else if self.csv {
            format!("{name}.csv")
        } else {
            format!("{name} (not written: --format lists no table format)")
        }
    }
}

/// `--format`: a list of `parquet`, `csv`, `html` and `no-html`. The page is written with a
/// snapshot unless the list says `no-html`; `html` writes it without one too, and a list of
/// `html` alone writes the page without tables.
impl std::str::FromStr for Formats {
    type Err = String;
    fn from_str(s: &str) -> Result<Formats, String> {
        let mut f = Formats::tables(false, false);
        let mut html = None;
        for part in s.split(',').map(str::trim) {
            let said = match part {
                "parquet" => {
                    f.parquet = true;
                    None
                }
                "csv" => {
                    f.csv = true;
                    None
                }
                "html" => Some(Html::Always),
                "no-html" => Some(Html::Never),
                other => {
                    return Err(format!(
                        "unknown format {other:?}: expected a list of parquet, csv, html, no-html"
                    ));
                }
            };
            if let Some(h) = said {
                if html.is_some_and(|was| was != h) {
                    return Err("html and no-html contradict each other".to_owned());
                }
                html = Some(h);
            }
        }
        f.html = html.unwrap_or_default();
        if !f.parquet && !f.csv && f.html != Html::Always {
            return Err(format!(
                "{s:?} names nothing to write: expected parquet, csv or html"
            ));
        }
        Ok(f)
    }
}

/// Stages a report and swaps it into place.
#[derive(Debug)]
pub struct ReportWriter {
    out: PathBuf,
    stage: tempfile::TempDir,
    formats: Formats,
    outputs: Vec<String>,
}

/// A directory may be replaced only if it is empty or holds a permlens report.
fn check_replaceable(out: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            Err(e).with_context(|| format!("cannot inspect the output directory {}", out.display()))
        }
        Ok(md) if !md.is_dir() => bail!(
            "output {} exists and is not a directory: expected a report directory",
            out.display()
        ),
        Ok(_) => {
            let mut entries =
                std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))?;
            if entries.next().is_none() || is_report(out) {
                Ok(())
            } else {
                bail!(
                    "refusing to replace {}: it is not empty and is not a permlens report (no {MARKER}, no summary.json written by permlens); choose another --out",
                    out.display()
                )
            }
        }
    }
}

/// Zstandard level 1 for the Parquet tables: much less compression work than polars'
/// default level (3) for files only slightly larger (benches/RESULTS.md, "Comment figures").
fn zstd_level() -> polars_parquet::write::ZstdLevel {
    polars_parquet::write::ZstdLevel::try_new(1).expect("1 is a valid zstd level")
}

impl ReportWriter {
    pub fn begin(out: &Path, formats: Formats) -> anyhow::Result<ReportWriter> {
        check_replaceable(out)?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        // Staging directories a killed run left behind for this report (the report's lock is
        // held, so none of them is in use): removed, or they would pile up beside it.
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".to_owned());
        let prefix = format!(".permlens-stage-{name}-");
        if let Ok(entries) = std::fs::read_dir(&parent) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let stage = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir_in(&parent)
            .with_context(|| {
                format!("cannot create a staging directory in {}", parent.display())
            })?;
        std::fs::write(
            stage.path().join(MARKER),
            "written by permlens: this directory is a report, replaced whole by the next run\n",
        )
        .with_context(|| format!("cannot write {MARKER} in {}", stage.path().display()))?;
        Ok(ReportWriter {
            out: out.to_path_buf(),
            stage,
            formats,
            outputs: Vec::new(),
        })
    }

    /// The files written so far, relative to the report directory.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// Records a file that will be written later (summary.json lists itself).
    pub fn announce(&mut self, rel: &str) {
        self.outputs.push(rel.to_owned());
    }

    /// Writes tables in parallel without listing them (so that other work can go on beside
    /// it); returns their file names, in order, for [`ReportWriter::list`].
    pub fn write_tables(&self, tables: Vec<(&str, DataFrame)>) -> anyhow::Result<Vec<String>> {
        use rayon::prelude::*;
        let written = tables
            .into_par_iter()
            .map(|(name, df)| self.write_table(name, df))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(written.into_iter().flatten().collect())
    }

    /// Lists files written by [`ReportWriter::write_tables`].
    pub fn list(&mut self, written: Vec<String>) {
        self.outputs.extend(written);
    }

    /// Writes a table's files without listing them; returns their names.
    fn write_table(&self, name: &str, mut df: DataFrame) -> anyhow::Result<Vec<String>> {
        let mut written = Vec::new();
        if self.formats.parquet {
            let rel = format!("{name}.parquet");
            let mut file = crate::frame::create_buffered(&self.stage.path().join(&rel), &rel)?;
            // Columns are encoded on this thread: the report's lanes already keep the `-j`
            // threads busy, and polars' parallel encoding ran on a pool of its own, so `-j1`
            // had a second thread at work (the report took as long either way).
            ParquetWriter::new(&mut file)
                .with_compression(ParquetCompression::Zstd(Some(zstd_level())))
                .set_parallel(false)
                .finish(&mut df)
                .map_err(|e| anyhow::anyhow!("cannot write {rel}: {e}"))?;
            file.flush()
                .with_context(|| format!("cannot write {rel}"))?;
            written.push(rel);
        }
        if self.formats.csv {
            let rel = format!("{name}.csv");
            let mut escaped = escape_formulas(&df)?;
            let mut file = crate::frame::create_buffered(&self.stage.path().join(&rel), &rel)?;
            CsvWriter::new(&mut file)
                .include_header(true)
                .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S%.6fZ".into()))
                .finish(&mut escaped)
                .map_err(|e| anyhow::anyhow!("cannot write {rel}: {e}"))?;
            file.flush()
                .with_context(|| format!("cannot write {rel}"))?;
            written.push(rel);
        }
        Ok(written)
    }

    /// Writes a document as compact JSON, for programs (the findings index), without listing
    /// it (for [`ReportWriter::list`]).
    pub fn write_compact_json(
        &self,
        rel: &str,
        value: &impl serde::Serialize,
    ) -> anyhow::Result<()> {
        let path = self.stage.path().join(rel);
        let mut out = crate::frame::create_buffered(&path, rel)?;
        serde_json::to_writer(&mut out, value)?;
        out.write_all(b"\n")?;
        out.flush().with_context(|| format!("cannot write {rel}"))?;
        Ok(())
    }

    /// Writes a text file at `rel` without listing it (for [`ReportWriter::list`]).
    pub fn write_text(&self, rel: &str, text: &str) -> anyhow::Result<()> {
        std::fs::write(self.stage.path().join(rel), text)
            .with_context(|| format!("cannot write {rel}"))
    }

    /// The formats this report is written in.
    pub fn formats(&self) -> Formats {
        self.formats
    }

    /// Writes a JSON document at `rel` (may contain one directory level).
    pub fn json(&mut self, rel: &str, value: &serde_json::Value) -> anyhow::Result<()> {
        self.write_json(rel, value)?;
        if !self.outputs.iter().any(|o| o == rel) {
            self.outputs.push(rel.to_owned());
        }
        Ok(())
    }

    /// [`ReportWriter::json`] without listing the file (for [`ReportWriter::list`]), so that
    /// documents can be written beside other work.
    pub fn write_json(&self, rel: &str, value: &serde_json::Value) -> anyhow::Result<()> {
        let path = self.stage.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("cannot write {rel}"))
    }

    /// Swaps the staged report into place. Until this returns, the previous report is intact.
    pub fn commit(self) -> anyhow::Result<()> {
        // Staging directories are created 0700; a report is an ordinary readable directory.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.stage.path(), std::fs::Permissions::from_mode(0o755))
            .with_context(|| {
                format!("cannot set permissions on {}", self.stage.path().display())
            })?;
        let stage = self.stage.keep();
        // Every file reaches the disk before the swap makes it the report.
        sync_tree(&stage).with_context(|| format!("cannot sync {}", stage.display()))?;
        let result = swap_into_place(&stage, &self.out);
        if result.is_ok()
            && let Some(parent) = self.out.parent()
            && let Ok(dir) = File::open(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            })
        {
            let _ = dir.sync_all();
        }
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&stage);
        }
        result
    }
}

/// fsyncs every file below `dir`, then the directories.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)?.sync_all()?;
        }
    }
    File::open(dir)?.sync_all()
}

/// Renames `stage` to `out`. An existing `out` is exchanged atomically (Linux
/// `renameat2(RENAME_EXCHANGE)`) and then removed; where the file system cannot exchange,
/// the old report is moved aside first, so `out` is missing only between two renames.
fn swap_into_place(stage: &Path, out: &Path) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    if !out.exists() {
        return std::fs::rename(stage, out)
            .with_context(|| format!("cannot move the report into {}", out.display()));
    }
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).expect("paths have no NUL");
    let (a, b) = (c(stage), c(out));
    // SAFETY: two valid NUL-terminated paths relative to the current directory.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        // `stage` now holds the previous report.
        let _ = std::fs::remove_dir_all(stage);
        return Ok(());
    }
    let aside = stage.with_extension("previous");
    std::fs::rename(out, &aside)
        .with_context(|| format!("cannot move the previous report {} aside", out.display()))?;
    if let Err(e) = std::fs::rename(stage, out) {
        let _ = std::fs::rename(&aside, out);
        return Err(e).with_context(|| format!("cannot move the report into {}", out.display()));
    }
    let _ = std::fs::remove_dir_all(&aside);
    Ok(())
}

/// Spreadsheets run cells that start with `=`, `+`, `-`, `@` (and tab or carriage return)
/// as formulas; such string values get a leading `'` in CSV output.
pub fn escape_formula(s: &str) -> std::borrow::Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

fn escape_formulas(df: &DataFrame) -> anyhow::Result<DataFrame> {
    let mut columns = Vec::with_capacity(df.width());
    for col in df.columns() {
        if col.dtype() == &DataType::String {
            let ca = col.str()?;
            let escaped: StringChunked = ca
                .iter()
                .map(|v| v.map(|s| escape_formula(s).into_owned()))
                .collect();
            columns.push(escaped.with_name(col.name().clone()).into_column());
        } else {
            columns.push(col.clone());
        }
    }
    Ok(DataFrame::new(df.height(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_escaped() {
        for (input, want) in [
            ("=1+1", "'=1+1"),
            ("+x", "'+x"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("alice", "alice"),
            ("", ""),
        ] {
            assert_eq!(escape_formula(input), want);
        }
    }

    #[test]
    fn formats_parse() {
        assert_eq!(
            "parquet,csv".parse::<Formats>().unwrap(),
            Formats::tables(true, true)
        );
        assert_eq!(
            "csv".parse::<Formats>().unwrap(),
            Formats::tables(false, true)
        );
        assert!("xlsx".parse::<Formats>().is_err());
        // The page: with a snapshot unless no-html; html also without one, or alone.
        let f = |s: &str| s.parse::<Formats>();
        assert!(f("parquet").unwrap().writes_page(true));
        assert!(!f("parquet").unwrap().writes_page(false));
        assert!(!f("csv,no-html").unwrap().writes_page(true));
        assert!(f("csv,html").unwrap().writes_page(false));
        let page_only = f("html").unwrap();
        assert!(!page_only.parquet && !page_only.csv && page_only.writes_page(false));
        assert!(f("no-html").is_err());
        assert!(f("html,no-html").is_err());
    }

    #[test]
    fn refuses_to_replace_a_directory_that_is_not_a_report() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("precious.txt"), "x").unwrap();
        let err = ReportWriter::begin(dir.path(), Formats::tables(true, false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("refusing to replace"), "{err}");
    }

    #[test]
    fn commit_replaces_the_previous_report() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report");
        for round in 0..3 {
            let mut w = ReportWriter::begin(&out, Formats::tables(false, true)).unwrap();
            w.json("summary.json", &serde_json::json!({"round": round}))
                .unwrap();
            w.commit().unwrap();
            let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
            assert!(text.contains(&format!("\"round\": {round}")));
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["report"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "a report directory is readable like any other");
    }
}
