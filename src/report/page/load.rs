//! Reading a report directory back for `permlens report`: `summary.json`, the tables the
//! page needs (Parquet, else CSV) and the recommended policies. Anything missing or damaged
//! is an error naming the file and what was expected.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use polars::prelude::*;
use serde_json::Value;

use super::{FindingTables, PolicyDoc, Table, UsageTables};

/// A report directory, read.
pub struct Loaded {
    pub summary: Value,
    pub usage: UsageTables,
    /// With a snapshot only.
    pub findings: Option<FindingTables>,
    pub policies: Vec<PolicyDoc>,
}

/// The findings tables a run with a snapshot writes, besides the optional `denied_per_day`.
const FINDING_TABLES: [&str; 6] = [
    "denied_calls",
    "group_permissions",
    "over_privileged_groups",
    "unused_permissions",
    "recommendations",
    "changes",
];

struct Dir<'a> {
    path: &'a Path,
    outputs: BTreeSet<String>,
}

/// Fails unless `dir` is a report directory permlens wrote.
pub fn check(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!(
            "{}: not a directory: expected a report directory written by permlens analyze",
            dir.display()
        );
    }
    if !crate::fsutil::is_report(dir) {
        bail!(
            "{}: not a permlens report (no {}, no summary.json written by permlens): expected a directory written by permlens analyze",
            dir.display(),
            crate::fsutil::MARKER
        );
    }
    Ok(())
}

pub fn load(dir: &Path) -> anyhow::Result<Loaded> {
    check(dir)?;
    let summary = read_summary(dir)?;
    let outputs = summary["outputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let d = Dir { path: dir, outputs };
    let usage = UsageTables {
        usage: d.table("usage")??,
        unmatched: d.table("unmatched")??,
    };
    let with_findings = summary["findings"]
        .as_object()
        .is_some_and(|f| !f.is_empty())
        || FINDING_TABLES.iter().any(|t| d.listed(t));
    let findings = if with_findings {
        let [
            denied_calls,
            group_permissions,
            over_privileged_groups,
            unused_permissions,
            recommendations,
            changes,
        ] = FINDING_TABLES.map(|t| d.table(t).and_then(|found| found));
        Some(FindingTables {
            denied_calls: denied_calls?,
            denied_per_day: d.table_if_listed("denied_per_day")?,
            group_permissions: group_permissions?,
            over_privileged_groups: over_privileged_groups?,
            unused_permissions: unused_permissions?,
            recommendations: recommendations?,
            changes: changes?,
        })
    } else {
        None
    };
    let policies = match &findings {
        Some(f) => d.policies(&summary, f)?,
        None => Vec::new(),
    };
    Ok(Loaded {
        summary,
        usage,
        findings,
        policies,
    })
}

fn read_summary(dir: &Path) -> anyhow::Result<Value> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read it: expected the report's summary",
            path.display()
        )
    })?;
    let summary: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not JSON: expected the report's summary",
            path.display()
        )
    })?;
    for key in ["version", "inputs", "outputs"] {
        if summary.get(key).is_none() {
            bail!(
                "{}: no {key:?}: expected a summary written by permlens analyze",
                path.display()
            );
        }
    }
    Ok(summary)
}

impl Dir<'_> {
    fn listed(&self, table: &str) -> bool {
        ["parquet", "csv"]
            .iter()
            .any(|ext| self.outputs.contains(&format!("{table}.{ext}")))
    }

    /// A table from its Parquet file, else its CSV file; `Ok(None)` when neither exists, with
    /// the error a caller that needs it returns (naming the file `summary.json` lists).
    fn table(&self, name: &str) -> anyhow::Result<Result<Table, anyhow::Error>> {
        let parquet = format!("{name}.parquet");
        let csv = format!("{name}.csv");
        if self.path.join(&parquet).is_file() {
            return read_parquet(&self.path.join(&parquet), &parquet).map(Ok);
        }
        if self.path.join(&csv).is_file() {
            return read_csv(&self.path.join(&csv), &csv).map(Ok);
        }
        let named = if self.outputs.contains(&csv) && !self.outputs.contains(&parquet) {
            csv
        } else {
            parquet
        };
        Ok(Err(anyhow::anyhow!(
            "{}: missing: expected the {name} table ({name}.parquet or {name}.csv){}",
            self.path.join(named).display(),
            if self.listed(name) {
                ", which summary.json lists"
            } else {
                ""
            }
        )))
    }

    /// A table reports of earlier versions lack: required only when `summary.json` lists it.
    fn table_if_listed(&self, name: &str) -> anyhow::Result<Option<Table>> {
        match self.table(name)? {
            Ok(t) => Ok(Some(t)),
            Err(e) if self.listed(name) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// The recommended policies: `summary.json`'s `recommended_policies`, or (reports written
    /// before it) the listed `policies/<group>.json` of each group the tables name.
    fn policies(&self, summary: &Value, f: &FindingTables) -> anyhow::Result<Vec<PolicyDoc>> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(list) = summary["recommended_policies"].as_array() {
            for p in list {
                let (Some(group), Some(file)) = (p["group"].as_str(), p["file"].as_str()) else {
                    bail!(
                        "{}: recommended_policies: expected objects with \"group\" and \"file\"",
                        self.path.join("summary.json").display()
                    );
                };
                pairs.push((group.to_owned(), file.to_owned()));
            }
        } else {
            for group in group_names(f)? {
                let file = format!(
                    "policies/{}.json",
                    crate::findings::recommend_file_stem(&group)
                );
                if self.outputs.contains(&file) {
                    pairs.push((group, file));
                }
            }
            // A group no table names (no grant, no advice): named by its file.
            for file in &self.outputs {
                let stem = file
                    .strip_prefix("policies/")
                    .and_then(|f| f.strip_suffix(".json"));
                if let Some(stem) = stem
                    && !pairs.iter().any(|(_, f)| f == file)
                {
                    pairs.push((stem.to_owned(), file.clone()));
                }
            }
        }
        pairs
            .into_iter()
            .map(|(group, file)| {
                let path = self.path.join(&file);
                Ok(PolicyDoc {
                    doc: read_policy(&path)?,
                    group,
                    file,
                })
            })
            .collect()
    }
}

fn read_policy(path: &PathBuf) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "{}: cannot read it: expected the recommended policy summary.json lists",
            path.display()
        )
    })?;
    let doc: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not JSON: expected a policy document", path.display()))?;
    if !doc["Statement"].is_array() {
        bail!(
            "{}: no \"Statement\" list: expected a policy document",
            path.display()
        );
    }
    Ok(doc)
}

/// The group names the findings tables hold.
fn group_names(f: &FindingTables) -> anyhow::Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for t in [
        &f.group_permissions,
        &f.over_privileged_groups,
        &f.recommendations,
    ] {
        let g = t.texts("group")?;
        names.extend((0..t.len()).map(|i| g.get(i).into_owned()));
    }
    Ok(names)
}

fn read_parquet(path: &Path, name: &str) -> anyhow::Result<Table> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open it", path.display()))?;
    let df = ParquetReader::new(file).finish().map_err(|e| {
        anyhow::anyhow!(
            "{}: not a readable Parquet table ({e}): expected the table permlens writes",
            path.display()
        )
    })?;
    Ok(Table::new(path.display().to_string(), name, df, false))
}

/// A CSV table, every column as text (as the CSV writer wrote it).
fn read_csv(path: &Path, name: &str) -> anyhow::Result<Table> {
    let damaged = |e: csv::Error| {
        anyhow::anyhow!(
            "{}: not a readable CSV table ({e}): expected the table permlens writes",
            path.display()
        )
    };
    let mut reader = csv::Reader::from_path(path).map_err(damaged)?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(damaged)?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    for record in reader.records() {
        let record = record.map_err(damaged)?;
        for (c, cell) in columns.iter_mut().zip(record.iter()) {
            c.push(cell.to_owned());
        }
    }
    let height = columns.first().map_or(0, Vec::len);
    let columns = headers
        .iter()
        .zip(columns)
        .map(|(h, values)| Column::new(h.as_str().into(), values))
        .collect();
    let df =
        DataFrame::new(height, columns).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Table::new(path.display().to_string(), name, df, true))
}
