//! Incremental state (`analyze --state DIR`): what earlier runs counted, so a nightly run
//! parses only what is new.
//!
//! The state is a directory:
//!
//! - `manifest.json`: one entry per distinct log *content*, identified by fingerprints of the
//!   content (not the file name): the hash of its first 64 KiB, how many bytes and lines were
//!   counted, the hash of the last 64 KiB counted, and for compressed files the size and
//!   hashes of the compressed bytes. A log rotated and compressed (`gateway.log` ->
//!   `gateway.log.1` -> `gateway.log.2.gz`) has the same content head, so it is recognised as
//!   counted; only the bytes past what was counted are parsed (a compressed file is
//!   decompressed up to there, then parsed). Once a compressed file has been read whole, its
//!   compressed fingerprint lets later runs skip it without decompressing.
//! - `partials/<prefix>.g<generation>.<n>.h<checksum>.parquet`: the entry's aggregates per
//!   hour and client IP (schema in [`partial`]), independent of any snapshot, so findings are
//!   recomputed from them against whichever snapshots are in force. The checksum in the name
//!   (absent from partials written before it existed) is checked on every read, so a damaged
//!   partial is refused rather than decoded. An entry's rows may be in several such *parts*
//!   (its `parts`, oldest first): a large file is read a part at a time and each part's rows
//!   are written before the next is read, and rows a later run adds become a new part (or
//!   join a small last one). The same hourly row may then be in two parts (an hour at a
//!   boundary); loading merges those before folding, so the result is that of one partial.
//!   An entry of one part names it in `partial` and the manifest stays format 1, as before
//!   parts; a manifest with an entry of several parts is format 2, which older versions
//!   refuse rather than misread.
//! - `lock`: held by the running permlens ([`crate::lock`]).
//!
//! Writes are crash-safe: new partials get new names, the manifest is replaced by a rename,
//! and only then are files the new manifest no longer names removed. A run killed at any
//! point leaves either the old manifest (whose partials are untouched) or the new one.
//!
//! The code, in the order a run uses it:
//!
//! - `manifest`: the manifest's schema, parsing (with its checksum) and the fingerprint of
//!   the options the rows were made with.
//! - `fingerprint` and `plan`: per input file, what is read of it and the decision (skip,
//!   resume, replace, new); the decision is a pure function, tested as a table.
//! - `store`: the open state: recording each file's rows, pruning, and writing back by the
//!   protocol above (flush, prepare, persist).
//! - `load`: the stored rows of the window folded into a plain aggregate.
//! - `merge`: another state directory folded into this one.
//! - [`partial`]: one entry's rows and their Parquet file; [`rows`]: the scan's sink.

mod fingerprint;
mod load;
mod manifest;
mod mapped;
mod merge;
pub mod partial;
mod plan;
pub mod rows;
mod store;

pub use fingerprint::Prints;
pub use fingerprint::content_id;
pub use load::Loaded;
pub use manifest::{Entry, HEAD, Manifest, RawId, config_fingerprint};
pub use mapped::{MappedReport, load_mapped};
pub use merge::MergeReport;
pub use plan::Plan;
pub use rows::FirstIds;
pub use rows::HourlyRows;
pub use store::{Spilled, State, StateReport, crash_point};

use std::collections::BTreeMap;

use crate::catalog::Catalog;
use partial::Rows;

/// The scan's rows split by input file (by index in the scan's file list), each file's for
/// [`State::store`].
pub fn rows_by_file<const N: usize>(rows: HourlyRows<N>, catalog: &Catalog) -> BTreeMap<u32, Rows> {
    partial::split_by_file(rows, catalog, &mut FirstIds::default())
}

/// [`rows_by_file`] for a scan that continues earlier scans of the same files (a file read
/// in parts): `earlier` holds the users' first request ids so far, and is updated.
pub fn rows_by_file_after<const N: usize>(
    rows: HourlyRows<N>,
    catalog: &Catalog,
    earlier: &mut FirstIds,
) -> BTreeMap<u32, Rows> {
    partial::split_by_file(rows, catalog, earlier)
}
