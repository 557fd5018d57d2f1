//! Reading the logs: discovery, format sniffing, and the parallel scan.
//!
//! Plain files are memory-mapped range by range ([`mmap`]) and split into chunks at newline
//! boundaries, so one big file keeps every core busy; `.gz` and `.zst` files are decompressed
//! as streams, files in parallel with each other. Every unit of work folds into a per-worker
//! [`Sink`] and the workers' values are merged at the end. Progress is ticked per chunk.
//!
//! This file holds what the stages share (the files, their reports) and the scan itself: the
//! plan of tasks, the workers, and the merge of what they found. Deciding what a file is, is
//! in `sniff`; reading a plain file's chunk in `chunk`; reading a whole file (a compressed
//! stream or a document) in `whole`.

mod chunk;
pub mod discover;
pub mod mmap;
mod sniff;
mod whole;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::parse::LogFormat;
use crate::scan::{Counters, ScanConfig, Scanner, Sink};
pub use sniff::{Compression, head_of, open_decoder, sniff};

/// One input file, sniffed.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub name: String,
    /// Size on disk when the run started; plain files are read up to here.
    pub len: u64,
    pub compression: Compression,
    /// The format, or why none could be decided (an error for this file).
    pub format: Result<LogFormat, String>,
    /// The variant of the format detection saw (`apig-joined-53`, `cts-list-traces`, ...).
    pub layout: &'static str,
    /// For JSON lines: the top-level keys of the first record.
    pub keys: Vec<String>,
    /// Modified in the last [`LIVE_WINDOW`] seconds: maybe still being written.
    pub live: bool,
    /// Content offset to read from: content before it was counted by an earlier run
    /// (`--state`). A plain file's lines that start before it are skipped by seeking; a
    /// compressed stream is decompressed up to it without parsing.
    pub start: u64,
    /// Lines before `start`, for numbering malformed lines.
    pub line_base: u64,
    /// For a compressed file read from `start > 0`: the hash of the content just before
    /// `start`, which must match or the file is read from the beginning after all.
    pub expect_tail: Option<(u64, u128)>,
    /// What was said of the file before the scan (a field its records lack): warned about
    /// then, and kept for the summary's `per_file` and an error that names the file.
    pub notes: Vec<String>,
}

/// Bytes of content at the end of what was read that a fingerprint covers.
pub const TAIL: u64 = 64 << 10;

/// The fingerprint hash of some content.
pub fn content_hash(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// What happened to each file, for the summary.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub name: String,
    pub format: Option<LogFormat>,
    /// The variant of the format the file was read as.
    pub layout: &'static str,
    pub compression: &'static str,
    pub bytes: u64,
    pub lines: u64,
    pub malformed: u64,
    /// The file could not be read at all (unknown format, unreadable).
    pub error: Option<String>,
    /// Read, but not completely (corrupt compressed data, changed while read).
    pub warnings: Vec<String>,
    /// Content offset the reading ended at (decompressed bytes for compressed files).
    pub end: u64,
    /// For compressed files: the length and hash of the content's last [`TAIL`] bytes.
    pub tail: Option<(u64, u128)>,
    /// A compressed file whose content before `start` did not match: read from byte 0.
    pub restarted: bool,
    /// A compressed file whose content ended at or before `start`: nothing new in it.
    pub nothing_new: bool,
    /// Lines of the file that were read this run.
    pub new_lines: u64,
    /// Not read: why (with `--state`, content counted before).
    pub skipped: Option<&'static str>,
    /// What this run counted in the file's lines.
    pub counts: Counters,
    /// What was said of the file before the scan ([`InputFile::notes`]).
    pub notes: Vec<String>,
}

/// Seconds since the last modification within which a file counts as live (still written).
pub const LIVE_WINDOW: u64 = 120;

/// Something that happened to one file while it was read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Note {
    file: u32,
    /// Errors make the run fail; warnings are reported.
    error: bool,
    text: String,
}

impl Note {
    fn error(file: u32, text: String) -> Note {
        Note {
            file,
            error: true,
            text,
        }
    }

    fn warning(file: u32, text: String) -> Note {
        Note {
            file,
            error: false,
            text,
        }
    }
}

/// A unit of parallel work.
#[derive(Debug, Clone, Copy)]
enum Task {
    /// Lines of a plain file starting in `[start, end)`.
    Chunk {
        file: u32,
        index: u32,
        start: u64,
        end: u64,
    },
    /// A whole compressed file, or a CTS document.
    Whole { file: u32 },
}

/// One worker's aggregate, notes, how its whole-file tasks ended, and what each of its tasks
/// counted (per file, so that every file's lines are accounted for in the summary).
type WorkerResult<S> = (S, Vec<Note>, Vec<(u32, StreamEnd)>, Vec<(u32, Counters)>);

/// What a whole-file task learned besides its lines.
#[derive(Debug, Default)]
struct StreamEnd {
    end: u64,
    tail: Option<(u64, u128)>,
    restarted: bool,
    nothing_new: bool,
}

/// The smallest chunk the end of a scan is cut into.
const MIN_CHUNK: u64 = 1 << 20;

/// Cuts the readable files into tasks, whole-file tasks (the longest) first.
///
/// Chunks are `chunk_size` long until the bytes left to hand out get short: from then on each
/// is half of a worker's share of what is left, down to [`MIN_CHUNK`], so the workers
/// run out of work at nearly the same time instead of the others waiting while one finishes
/// a whole chunk alone.
fn plan(files: &[InputFile], chunk_size: u64, workers: usize) -> Vec<Task> {
    let chunk_size = chunk_size.max(1);
    let mut tasks = Vec::new();
    let mut left: u64 = files
        .iter()
        .filter(|f| f.format.is_ok() && f.compression == Compression::None)
        .filter(|f| !f.format.as_ref().is_ok_and(|f| f.is_document()))
        .map(|f| f.len.saturating_sub(f.start))
        .sum();
    for (i, f) in files.iter().enumerate() {
        let i = i as u32;
        match (&f.format, f.compression) {
            (Err(_), _) => {}
            (Ok(LogFormat::CtsDocument | LogFormat::JsonDocument), _)
            | (Ok(_), Compression::Gzip | Compression::Zstd) => tasks.push(Task::Whole { file: i }),
            (Ok(_), Compression::None) => {
                let mut start = f.start;
                let mut index = 0;
                while start < f.len {
                    let share = left / (2 * workers as u64);
                    let size = share.clamp(MIN_CHUNK.min(chunk_size), chunk_size);
                    let end = (start + size).min(f.len);
                    tasks.push(Task::Chunk {
                        file: i,
                        index,
                        start,
                        end,
                    });
                    left = left.saturating_sub(end - start);
                    start = end;
                    index += 1;
                }
            }
        }
    }
    tasks.sort_by_key(|t| matches!(t, Task::Chunk { .. }));
    tasks
}

/// Scans every readable file. `tick` is called with bytes done, once per unit of work.
pub fn scan<S: Sink>(
    files: &[InputFile],
    cfg: &ScanConfig,
    tick: &(dyn Fn(u64) + Sync),
) -> (S, Vec<FileReport>) {
    let workers = rayon::current_num_threads().max(1);
    let tasks = plan(files, cfg.chunk_size, workers);

    // One worker per thread, each with its own parser state and aggregate, pulling tasks
    // from a shared counter; the aggregates are merged once at the end.
    let next = AtomicUsize::new(0);
    let results: Vec<WorkerResult<S>> = (0..workers)
        .into_par_iter()
        .map(|_| work(files, cfg, &tasks, &next, tick))
        .collect();
    let (stats, notes, ends, counted) = merge_workers(results);
    let reports = file_reports(files, &stats, notes, ends, counted);
    (stats, reports)
}

/// One worker: takes the next task until none is left, folding each into its own sink.
fn work<S: Sink>(
    files: &[InputFile],
    cfg: &ScanConfig,
    tasks: &[Task],
    next: &AtomicUsize,
    tick: &(dyn Fn(u64) + Sync),
) -> WorkerResult<S> {
    let mut scanner = Scanner::new(cfg);
    let mut stats = S::default();
    let mut notes = Vec::new();
    let mut ends = Vec::new();
    let mut counted = Vec::new();
    let mut buf = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(task) = tasks.get(i) else { break };
        let before = *stats.counters();
        let task_file = match *task {
            Task::Chunk { file, .. } | Task::Whole { file } => file,
        };
        let (bytes, note) = match *task {
            Task::Chunk {
                file,
                index,
                start,
                end,
            } => {
                let f = &files[file as usize];
                (
                    end - start,
                    chunk::scan_chunk(
                        f,
                        file,
                        index,
                        start,
                        end,
                        &mut scanner,
                        &mut stats,
                        &mut buf,
                    ),
                )
            }
            Task::Whole { file } => {
                let f = &files[file as usize];
                let mut end = StreamEnd::default();
                let note = whole::scan_whole(f, file, cfg, &mut scanner, &mut stats, &mut end);
                ends.push((file, end));
                (f.len, note)
            }
        };
        notes.extend(note);
        counted.push((task_file, stats.counters().since(&before)));
        tick(bytes);
    }
    (stats, notes, ends, counted)
}

/// The workers' results as one: the largest aggregate is kept as it is and the others are
/// folded into it (merging into an empty one re-inserted every row of the first and grew its
/// tables step by step).
fn merge_workers<S: Sink>(mut results: Vec<WorkerResult<S>>) -> WorkerResult<S> {
    let largest = (0..results.len()).max_by_key(|&i| results[i].0.rows());
    let (mut stats, mut notes, mut ends, mut counted) = match largest {
        Some(i) => results.swap_remove(i),
        None => (S::default(), Vec::new(), Vec::new(), Vec::new()),
    };
    for (s, n, e, c) in results {
        counted.extend(c);
        stats.merge(s);
        notes.extend(n);
        ends.extend(e);
    }
    (stats, notes, ends, counted)
}

/// What happened to each file: its lines and counts, how a whole-file task ended, and its
/// errors and warnings.
fn file_reports<S: Sink>(
    files: &[InputFile],
    stats: &S,
    notes: Vec<Note>,
    ends: Vec<(u32, StreamEnd)>,
    counted: Vec<(u32, Counters)>,
) -> Vec<FileReport> {
    let mut reports: Vec<FileReport> = files
        .iter()
        .map(|f| FileReport {
            name: f.name.clone(),
            format: f.format.as_ref().ok().copied(),
            layout: f.layout,
            compression: f.compression.as_str(),
            bytes: match f.compression {
                Compression::None => f.len.saturating_sub(f.start),
                _ => f.len,
            },
            error: f.format.as_ref().err().map(|e| format!("{}: {e}", f.name)),
            end: f.len.max(f.start),
            notes: f.notes.clone(),
            ..FileReport::default()
        })
        .collect();
    for &(file, _, lines) in stats.lines_by_chunk() {
        reports[file as usize].new_lines += lines;
    }
    for (file, c) in counted {
        reports[file as usize].counts += c;
    }
    for (r, f) in reports.iter_mut().zip(files) {
        r.lines = f.line_base + r.new_lines;
    }
    for (file, e) in ends {
        let r = &mut reports[file as usize];
        r.end = e.end;
        r.tail = e.tail;
        r.restarted = e.restarted;
        r.nothing_new = e.nothing_new;
        if e.restarted {
            r.lines = r.new_lines;
        }
    }
    for r in &mut reports {
        r.malformed = r.counts.malformed;
    }
    add_notes(&mut reports, notes);
    reports
}

/// Hands each file its notes: the first error, and the first warning with how many more like
/// it there were. One warning per file: chunks of the same file meet the same cause, and a
/// line of it per 32 MiB chunk would bury the other warnings.
fn add_notes(reports: &mut [FileReport], mut notes: Vec<Note>) {
    notes.sort();
    let mut more: Vec<u64> = vec![0; reports.len()];
    for note in notes {
        let r = &mut reports[note.file as usize];
        if note.error {
            r.error.get_or_insert(note.text);
        } else if r.warnings.is_empty() {
            r.warnings.push(note.text);
        } else {
            more[note.file as usize] += 1;
        }
    }
    for (r, n) in reports.iter_mut().zip(more) {
        if n > 0
            && let Some(w) = r.warnings.first_mut()
        {
            w.push_str(&format!(" (and {n} more warning(s) of this file like it)"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(len: u64, start: u64, compression: Compression, format: LogFormat) -> InputFile {
        InputFile {
            path: PathBuf::from("x"),
            name: "x".into(),
            len,
            compression,
            format: Ok(format),
            layout: "",
            keys: Vec::new(),
            live: false,
            start,
            line_base: 0,
            expect_tail: None,
            notes: Vec::new(),
        }
    }

    fn chunks(tasks: &[Task]) -> Vec<(u32, u32, u64, u64)> {
        tasks
            .iter()
            .filter_map(|t| match *t {
                Task::Chunk {
                    file,
                    index,
                    start,
                    end,
                } => Some((file, index, start, end)),
                Task::Whole { .. } => None,
            })
            .collect()
    }

    #[test]
    fn plan_covers_every_byte_once_and_shrinks_toward_the_end() {
        let mib = 1 << 20;
        let files = [
            file(1 << 30, 0, Compression::None, LogFormat::Json),
            file(5 * mib, 0, Compression::Gzip, LogFormat::Json),
            file(300 * mib + 7, 100, Compression::None, LogFormat::Apig),
        ];
        let tasks = plan(&files, 32 * mib, 2);
        assert!(
            matches!(tasks[0], Task::Whole { file: 1 }),
            "whole files first"
        );
        let c = chunks(&tasks);
        for f in [0u32, 2] {
            let mine: Vec<_> = c.iter().filter(|t| t.0 == f).collect();
            assert_eq!(mine[0].2, files[f as usize].start);
            assert_eq!(mine.last().unwrap().3, files[f as usize].len);
            for (i, w) in mine.windows(2).enumerate() {
                assert_eq!(w[0].3, w[1].2, "contiguous");
                assert_eq!(w[0].1 as usize, i, "indexed in order");
            }
        }
        let sizes: Vec<u64> = c.iter().map(|t| t.3 - t.2).collect();
        assert!(sizes.iter().all(|&s| s <= 32 * mib));
        assert!(sizes[..sizes.len() - 1].iter().all(|&s| s >= mib));
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert_eq!(sizes[0], 32 * mib);
        // The last few chunks are small enough that the workers end together.
        assert!(sizes[sizes.len() - 4..].iter().all(|&s| s <= 2 * mib));
    }

    #[test]
    fn plan_keeps_small_configured_chunks() {
        let files = [file(10_000, 0, Compression::None, LogFormat::Json)];
        let c = chunks(&plan(&files, 4096, 2));
        assert_eq!(
            c,
            vec![(0, 0, 0, 4096), (0, 1, 4096, 8192), (0, 2, 8192, 10_000)]
        );
    }
}
