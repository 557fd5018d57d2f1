//! Several snapshots over time (`--policies` repeated, or a directory of them): each request
//! is judged against the snapshot in force at its time, the one with the latest `taken_at`
//! not after it. Requests older than every snapshot are judged by the earliest one (and
//! counted, so the report can say so). Group-level findings use the latest snapshot: it is
//! the account as it is now, the one to act on.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Snapshot;
use crate::net::IpNet;

#[derive(Debug, Clone)]
pub struct History {
    /// Sorted by `taken_at`, oldest first; never empty.
    pub snapshots: Vec<Snapshot>,
}

impl History {
    /// Loads every snapshot named: files, or directories whose `*.json` files are snapshots.
    pub fn load(paths: &[PathBuf]) -> anyhow::Result<History> {
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                    .with_context(|| format!("cannot read the snapshot directory {}", p.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "json"))
                    .collect();
                found.sort();
                if found.is_empty() {
                    bail!(
                        "snapshot directory {}: no *.json snapshot in it",
                        p.display()
                    );
                }
                files.extend(found);
            } else {
                files.push(p.clone());
            }
        }
        let mut snapshots = Vec::with_capacity(files.len());
        for f in &files {
            snapshots.push(Snapshot::load(f)?);
        }
        History::new(snapshots)
    }

    /// Orders snapshots by `taken_at`; with more than one, each must have a distinct one.
    pub fn new(mut snapshots: Vec<Snapshot>) -> anyhow::Result<History> {
        if snapshots.is_empty() {
            bail!("no snapshot given");
        }
        if snapshots.len() > 1 {
            if let Some(s) = snapshots.iter().find(|s| s.taken_at.is_none()) {
                bail!(
                    "snapshot {}: $.taken_at: missing; with several snapshots each needs the RFC 3339 time it was taken, to know which one was in force for a request",
                    s.origin
                );
            }
            snapshots.sort_by_key(|s| s.taken_at);
            for w in snapshots.windows(2) {
                if w[0].taken_at == w[1].taken_at {
                    bail!(
                        "snapshots {} and {}: $.taken_at: both {}; expected one snapshot per moment",
                        w[0].origin,
                        w[1].origin,
                        w[0].taken_at.expect("checked above")
                    );
                }
            }
        }
        Ok(History { snapshots })
    }

    /// The snapshot the account is in now: the group-level findings use it.
    pub fn latest(&self) -> &Snapshot {
        self.snapshots.last().expect("never empty")
    }

    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// The index of the snapshot in force at `time` (microseconds): the latest taken at or
    /// before it, or the earliest for a request older than all of them.
    pub fn at(&self, time: i64) -> usize {
        if self.snapshots.len() == 1 {
            return 0;
        }
        let n = self
            .snapshots
            .partition_point(|s| s.taken_at.is_some_and(|t| t.as_microsecond() <= time));
        n.saturating_sub(1)
    }

    /// True when `time` is older than every snapshot.
    pub fn predates(&self, time: i64) -> bool {
        self.snapshots.len() > 1
            && self.snapshots[0]
                .taken_at
                .is_some_and(|t| time < t.as_microsecond())
    }

    /// Time thresholds and networks that separate requests judged differently: those of every
    /// snapshot's conditions, plus the moments one snapshot replaces another.
    pub fn context_bounds(&self) -> (Vec<i64>, Vec<IpNet>) {
        let mut dates = Vec::new();
        let mut nets = Vec::new();
        for s in &self.snapshots {
            let (d, n) = s.context_bounds();
            dates.extend(d);
            for net in n {
                if !nets.contains(&net) {
                    nets.push(net);
                }
            }
        }
        if self.snapshots.len() > 1 {
            dates.extend(
                self.snapshots
                    .iter()
                    .skip(1)
                    .filter_map(|s| s.taken_at.map(|t| t.as_microsecond())),
            );
        }
        (dates, nets)
    }

    /// How a row names the snapshot that judged it: its file name and `taken_at`.
    pub fn label(&self, i: usize) -> String {
        let s = &self.snapshots[i];
        let name = Path::new(&s.origin)
            .file_name()
            .map_or_else(|| s.origin.clone(), |n| n.to_string_lossy().into_owned());
        match s.taken_at {
            Some(t) => format!("{name}@{t}"),
            None => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(origin: &str, taken_at: Option<&str>) -> Snapshot {
        let taken = taken_at.map_or(String::new(), |t| format!("\"taken_at\": \"{t}\","));
        Snapshot::from_json(
            &format!("{{{taken} \"users\": [], \"groups\": [], \"policies\": []}}"),
            origin,
        )
        .unwrap()
    }

    fn micros(t: &str) -> i64 {
        t.parse::<jiff::Timestamp>().unwrap().as_microsecond()
    }

    #[test]
    fn the_snapshot_in_force_is_the_latest_not_after_the_request() {
        let h = History::new(vec![
            snap("b.json", Some("2026-11-20T00:00:00Z")),
            snap("a.json", Some("2026-11-10T00:00:00Z")),
        ])
        .unwrap();
        assert_eq!(h.label(0), "a.json@2026-11-10T00:00:00Z");
        assert_eq!(h.at(micros("2026-11-01T00:00:00Z")), 0);
        assert!(h.predates(micros("2026-11-01T00:00:00Z")));
        assert_eq!(h.at(micros("2026-11-15T00:00:00Z")), 0);
        assert_eq!(h.at(micros("2026-11-20T00:00:00Z")), 1);
        assert_eq!(h.at(micros("2026-11-25T00:00:00Z")), 1);
        assert!(!h.predates(micros("2026-11-25T00:00:00Z")));
        assert_eq!(h.context_bounds().0, vec![micros("2026-11-20T00:00:00Z")]);
        assert_eq!(h.latest().origin, "b.json");
    }

    #[test]
    fn several_snapshots_need_distinct_taken_at() {
        let e = History::new(vec![
            snap("a.json", None),
            snap("b.json", Some("2026-11-20T00:00:00Z")),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("a.json") && e.contains("taken_at"), "{e}");
        let e = History::new(vec![
            snap("a.json", Some("2026-11-20T00:00:00Z")),
            snap("b.json", Some("2026-11-20T00:00:00Z")),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("both"), "{e}");
        assert_eq!(History::new(vec![snap("one.json", None)]).unwrap().at(5), 0);
    }
}
