//! Reading the logs: discovery, format sniffing, and the parallel scan.
//!
//! Plain files are memory-mapped range by range ([`mmap`]) and split into chunks at newline
//! boundaries, so one big file keeps every core busy; `.gz` and `.zst` files are decompressed
//! as streams, files in parallel with each other. Every unit of work folds into a per-worker
//! [`Sink`] and the workers' values are merged at the end. Progress is ticked per chunk.

pub mod discover;
pub mod mmap;

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::parse::{self, FormatChoice, LogFormat};
use crate::scan::{Counters, MAX_LINE, Origin, ScanConfig, Scanner, Sink};

/// How much of a file format detection looks at.
const SNIFF: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn of(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

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
}

/// Bytes of content at the end of what was read that a fingerprint covers.
pub const TAIL: u64 = 64 << 10;

/// Keeps the last [`TAIL`] bytes of a stream that went by.
#[derive(Debug, Default)]
struct TailKeeper {
    buf: Vec<u8>,
}

impl TailKeeper {
    fn push(&mut self, bytes: &[u8]) {
        let cap = TAIL as usize;
        if bytes.len() >= cap {
            self.buf.clear();
            self.buf.extend_from_slice(&bytes[bytes.len() - cap..]);
        } else {
            self.buf.extend_from_slice(bytes);
            if self.buf.len() > cap {
                self.buf.drain(..self.buf.len() - cap);
            }
        }
    }
}

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
}

pub fn open_decoder(file: File, c: Compression) -> io::Result<Box<dyn Read + Send>> {
    Ok(match c {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 20, file),
        )),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
    })
}

/// The compression of a file and up to `n` bytes of its (decompressed) content.
pub fn head_of(path: &std::path::Path, n: usize) -> io::Result<(Compression, Vec<u8>)> {
    let mut file = File::open(path)?;
    let magic = read_head(&mut file, 4)?;
    let compression = Compression::of(&magic);
    let mut reader = open_decoder(File::open(path)?, compression)?;
    Ok((compression, read_head(&mut *reader, n)?))
}

/// Reads up to `n` bytes, stopping early (not failing) on a decoding error.
fn read_head(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut done = 0;
    while done < n {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(k) => done += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if done > 0 => {
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

/// Opens each file and decides its compression and format.
pub fn sniff(paths: &[PathBuf], choice: FormatChoice) -> Vec<InputFile> {
    paths
        .par_iter()
        .map(|path| {
            let name = path.display().to_string();
            let mut live = false;
            let result =
                (|| -> Result<(u64, Compression, Result<parse::Detected, String>), String> {
                    let mut file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
                    let md = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
                    let len = md.len();
                    live = md
                        .modified()
                        .ok()
                        .and_then(|m| m.elapsed().ok())
                        .is_none_or(|age| age.as_secs() < LIVE_WINDOW);
                    let magic = read_head(&mut file, 4).map_err(|e| format!("cannot read: {e}"))?;
                    let compression = Compression::of(&magic);
                    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
                    let mut reader = open_decoder(file, compression)
                        .map_err(|e| format!("cannot decompress: {e}"))?;
                    let head = read_head(&mut *reader, SNIFF)
                        .map_err(|e| format!("cannot read ({} data): {e}", compression.as_str()))?;
                    let format = parse::decide(&head, choice);
                    Ok((len, compression, format))
                })();
            let (len, compression, detected) = match result {
                Ok(read) => read,
                Err(e) => (0, Compression::None, Err(e)),
            };
            let (format, layout, keys) = match detected {
                Ok(d) => (Ok(d.format), d.layout, d.keys),
                Err(e) => (Err(e), "", Vec::new()),
            };
            InputFile {
                path: path.clone(),
                name,
                len,
                compression,
                format,
                layout,
                keys,
                live,
                start: 0,
                line_base: 0,
                expect_tail: None,
            }
        })
        .collect()
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
/// run out of work at nearly the same time instead of one finishing a whole chunk alone
/// (with 32 MiB chunks that wait was up to 30 ms of a one-second run).
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
        .map(|_| {
            let mut scanner =
                Scanner::new(cfg).expect("scanner options are validated before the scan");
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
                            scan_chunk(
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
                        let note = scan_whole(f, file, cfg, &mut scanner, &mut stats, &mut end);
                        ends.push((file, end));
                        (f.len, note)
                    }
                };
                notes.extend(note);
                counted.push((task_file, stats.counters().since(&before)));
                tick(bytes);
            }
            (stats, notes, ends, counted)
        })
        .collect();
    // The largest aggregate is kept as it is and the others are folded into it (merging into
    // an empty one re-inserted every row of the first and grew its tables step by step).
    let mut results = results;
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
    notes.sort();
    // One warning per file: chunks of the same file meet the same cause, and a line of it
    // per 32 MiB chunk would bury the other warnings.
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
    (stats, reports)
}

/// Scans the lines that start in `[start, end)` of a plain file, straight into `stats`.
///
/// Files modified in the last [`LIVE_WINDOW`] seconds may still be written, appended or
/// truncated (`logrotate copytruncate`): they are read with `pread` into a private buffer, so
/// a shorter file just yields fewer lines, and a last line without its newline is left for
/// the next run. Other files are memory-mapped under the SIGBUS guard ([`mmap`]): should one
/// shrink anyway, the guard keeps the process alive and the file is reported as an error, so
/// the run fails (exit 2, previous report kept) instead of writing incomplete counts.
#[allow(clippy::too_many_arguments)]
fn scan_chunk<S: Sink>(
    f: &InputFile,
    file: u32,
    index: u32,
    start: u64,
    end: u64,
    scanner: &mut Scanner<'_>,
    stats: &mut S,
    buf: &mut Vec<u8>,
) -> Option<Note> {
    let fd = match File::open(&f.path) {
        Ok(fd) => fd,
        Err(e) => return Some(Note::error(file, format!("{}: cannot open: {e}", f.name))),
    };
    // One byte before the range (to see whether a line starts at `start`) and up to one
    // maximum line after it (to finish the last line that starts inside).
    let map_start = start.saturating_sub(1);
    let map_end = (end + MAX_LINE).min(f.len);
    let len = (map_end - map_start) as usize;
    let rel = ((start - map_start) as usize, (end - map_start) as usize);
    let at_eof = map_end == f.len;
    let format = f.format.clone().unwrap_or(LogFormat::Json);
    let window = Origin {
        file,
        chunk: index,
        offset: map_start,
        line_base: 0,
        format,
    };

    if !f.live
        && let Some(map) = mmap::GuardedMap::new(&fd, map_start, len)
    {
        let (n, _) = scan_owned(map.bytes(), rel, at_eof, false, window, scanner, stats);
        stats.chunk_lines(file, index, n);
        return map.faulted().then(|| {
            Note::error(
                file,
                format!(
                    "{}: the file shrank while it was read (it had not been modified for {LIVE_WINDOW}s, so it was memory-mapped); its counts would be incomplete: run again",
                    f.name
                ),
            )
        });
    }
    if let Err(e) = mmap::read_range(&fd, map_start, len, buf) {
        return Some(Note::error(
            file,
            format!("{}: cannot read at byte {map_start}: {e}", f.name),
        ));
    }
    let short = buf.len() < len;
    // A last line without its newline in a file still being written waits for the next run
    // only when there is one to pick it up (`--state`); a file just copied (`cp` sets the
    // time to now) read once is read whole.
    let defer = f.live && scanner.config().resumable;
    let (n, deferred) = scan_owned(buf, rel, at_eof || short, defer, window, scanner, stats);
    stats.chunk_lines(file, index, n);
    if short {
        return Some(Note::warning(
            file,
            format!(
                "{}: the file shrank while it was read (now {} bytes from byte {map_start} on); counted the complete lines it still held",
                f.name,
                buf.len()
            ),
        ));
    }
    deferred.then(|| {
        Note::warning(
            file,
            format!(
                "{}: its last line has no newline yet and the file was modified in the last {LIVE_WINDOW}s: the line is left for the next run",
                f.name
            ),
        )
    })
}

/// Scans the lines of `bytes` (a window of the file starting at `base`) that start in
/// `[rel.0, rel.1)`. With `live`, a last line without its newline at the end of the file is
/// not read: it is probably still being written. Returns the number of lines, and whether
/// such a line was left.
#[allow(clippy::too_many_arguments)]
fn scan_owned<S: Sink>(
    bytes: &[u8],
    rel: (usize, usize),
    at_eof: bool,
    live: bool,
    window: Origin,
    scanner: &mut Scanner<'_>,
    stats: &mut S,
) -> (u64, bool) {
    let (start, end) = (rel.0.min(bytes.len()), rel.1.min(bytes.len()));
    let first = if start == 0 {
        0
    } else {
        match memchr::memchr(b'\n', &bytes[start - 1..]) {
            Some(i) => start + i,
            None => return (0, false),
        }
    };
    if first >= end {
        return (0, false);
    }
    let (mut stop, overlong) = match memchr::memchr(b'\n', &bytes[end - 1..]) {
        Some(i) => (end + i, false),
        None => (bytes.len(), !at_eof),
    };
    let mut deferred = false;
    if live && at_eof && !overlong && stop == bytes.len() && bytes.last() != Some(&b'\n') {
        deferred = true;
        stop = memchr::memrchr(b'\n', &bytes[first..]).map_or(first, |i| first + i);
        if stop <= first {
            return (0, true);
        }
    }
    let origin = Origin {
        offset: window.offset + first as u64,
        ..window
    };
    if !overlong {
        return (
            scanner.scan_lines(&bytes[first..stop], origin, stats),
            deferred,
        );
    }
    // The last line runs past the longest line we read: count it as malformed.
    let last_start = memchr::memrchr(b'\n', &bytes[first..stop]).map_or(first, |i| first + i + 1);
    let n = scanner.scan_lines(&bytes[first..last_start], origin, stats);
    stats.counters().lines += 1;
    stats.malformed(window.file, window.chunk, n, || {
        format!("line longer than {MAX_LINE} bytes")
    });
    (n + 1, deferred)
}

/// Scans a compressed file as a stream, or a CTS document whole.
///
/// A compressed file read from `f.start > 0` (`--state`) is decompressed up to there without
/// parsing, and the content just before must hash to `f.expect_tail`: if it does not, the
/// file is not the one counted before after all, and it is read again from the beginning.
fn scan_whole<S: Sink>(
    f: &InputFile,
    file: u32,
    cfg: &ScanConfig,
    scanner: &mut Scanner<'_>,
    stats: &mut S,
    end: &mut StreamEnd,
) -> Option<Note> {
    let format = f.format.clone().unwrap_or(LogFormat::Json);
    let open = || File::open(&f.path).and_then(|fd| open_decoder(fd, f.compression));
    let mut reader = match open() {
        Ok(r) => r,
        Err(e) => return Some(Note::error(file, format!("{}: cannot open: {e}", f.name))),
    };
    if format.is_document() {
        return scan_document(f, file, cfg, &mut *reader, scanner, stats, end);
    }
    let keep_tail = cfg.resumable;
    if f.start > 0 {
        match skip_verified(&mut *reader, f.start, f.expect_tail) {
            Ok(Skip::Verified) => {}
            Ok(Skip::Ended) => {
                end.end = f.start;
                end.nothing_new = true;
                return None;
            }
            Ok(Skip::Mismatch) => {
                end.restarted = true;
                reader = match open() {
                    Ok(r) => r,
                    Err(e) => {
                        return Some(Note::error(file, format!("{}: cannot open: {e}", f.name)));
                    }
                };
                return scan_stream(f, file, &mut *reader, 0, keep_tail, scanner, stats, end);
            }
            Err(e) => {
                return Some(Note::error(
                    file,
                    format!(
                        "{}: cannot read the {} data up to byte {} counted before: {e}",
                        f.name,
                        f.compression.as_str(),
                        f.start
                    ),
                ));
            }
        }
    }
    scan_stream(
        f,
        file,
        &mut *reader,
        f.start,
        keep_tail,
        scanner,
        stats,
        end,
    )
}

enum Skip {
    /// The content up to `start` is there and its tail matches.
    Verified,
    /// The content ends at or before `start`: a prefix of what was counted.
    Ended,
    /// The content differs.
    Mismatch,
}

/// Reads and drops `start` bytes, checking the hash of the last [`TAIL`] of them.
fn skip_verified(
    reader: &mut dyn Read,
    start: u64,
    expect: Option<(u64, u128)>,
) -> io::Result<Skip> {
    let mut tail = TailKeeper::default();
    let mut block = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < start {
        let want = (start - done).min(block.len() as u64) as usize;
        let n = match reader.read(&mut block[..want]) {
            Ok(0) => return Ok(Skip::Ended),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // Only the last TAIL bytes before `start` are hashed.
        if done + n as u64 + TAIL > start {
            tail.push(&block[..n]);
        }
        done += n as u64;
    }
    Ok(match expect {
        Some((len, hash)) if tail.buf.len() as u64 == len && content_hash(&tail.buf) == hash => {
            Skip::Verified
        }
        Some(_) => Skip::Mismatch,
        None => Skip::Verified,
    })
}

/// Scans the lines of a decompressed stream whose first byte is at content offset `base`.
#[allow(clippy::too_many_arguments)]
fn scan_stream<S: Sink>(
    f: &InputFile,
    file: u32,
    reader: &mut dyn Read,
    base: u64,
    keep_tail: bool,
    scanner: &mut Scanner<'_>,
    stats: &mut S,
    end: &mut StreamEnd,
) -> Option<Note> {
    let format = f.format.clone().unwrap_or(LogFormat::Json);
    const BLOCK: usize = 4 << 20;
    // A stream is one chunk; `consumed` is the stream offset of the buffer's first byte.
    let stream_origin = |offset: u64, line_base: u64| Origin {
        file,
        chunk: 0,
        offset,
        line_base,
        format,
    };
    let mut tail = TailKeeper::default();
    let mut keep = |bytes: &[u8]| {
        if keep_tail {
            tail.push(bytes);
        }
    };
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + MAX_LINE as usize);
    let mut consumed: u64 = base; // stream offset of buf[0]
    let mut lines: u64 = 0;
    let mut skipping = false; // inside an overlong line, dropping bytes up to its newline
    let mut note = None;
    loop {
        let filled = buf.len();
        buf.resize(filled + BLOCK, 0);
        let read = loop {
            match reader.read(&mut buf[filled..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(filled);
                note = Some(format!(
                    "{}: {} data is corrupt or truncated after {} decompressed bytes ({e}); counted the complete lines before that",
                    f.name,
                    f.compression.as_str(),
                    consumed + filled as u64
                ));
                // The unterminated tail is not a complete line: drop it.
                buf.truncate(memchr::memrchr(b'\n', &buf).map_or(0, |last| last + 1));
                if !skipping {
                    lines += scanner.scan_lines(&buf, stream_origin(consumed, lines), stats);
                }
                keep(&buf);
                consumed += buf.len() as u64;
                break;
            }
        };
        buf.truncate(filled + n);
        if skipping {
            match memchr::memchr(b'\n', &buf) {
                Some(i) => {
                    keep(&buf[..=i]);
                    consumed += (i + 1) as u64;
                    buf.drain(..=i);
                    skipping = false;
                }
                None => {
                    keep(&buf);
                    consumed += buf.len() as u64;
                    buf.clear();
                    if n == 0 {
                        break;
                    }
                    continue;
                }
            }
        }
        if n == 0 {
            // End of stream: the rest is the last line (maybe without a newline).
            lines += scanner.scan_lines(&buf, stream_origin(consumed, lines), stats);
            keep(&buf);
            consumed += buf.len() as u64;
            break;
        }
        let Some(last) = memchr::memrchr(b'\n', &buf) else {
            if buf.len() as u64 > MAX_LINE {
                stats.counters().lines += 1;
                stats.malformed(file, 0, lines, || {
                    format!("line longer than {MAX_LINE} bytes")
                });
                lines += 1;
                keep(&buf);
                consumed += buf.len() as u64;
                buf.clear();
                skipping = true;
            }
            continue;
        };
        lines += scanner.scan_lines(&buf[..last], stream_origin(consumed, lines), stats);
        keep(&buf[..=last]);
        consumed += (last + 1) as u64;
        buf.drain(..=last);
    }
    stats.chunk_lines(file, 0, lines);
    end.end = consumed;
    if keep_tail {
        end.tail = Some((tail.buf.len() as u64, content_hash(&tail.buf)));
    }
    note.map(|n| Note::warning(file, n))
}

fn scan_document<S: Sink>(
    f: &InputFile,
    file: u32,
    cfg: &ScanConfig,
    reader: &mut dyn Read,
    scanner: &mut Scanner<'_>,
    stats: &mut S,
    end: &mut StreamEnd,
) -> Option<Note> {
    let mut doc = Vec::new();
    // A damaged stream (a truncated .gz) keeps what came before the damage: its complete
    // traces are read, as the lines before the damage of a line log are.
    let damaged = reader.read_to_end(&mut doc).err();
    // A document is always read whole: `end` and `tail` describe all of it.
    end.end = doc.len() as u64;
    let t = doc.len().saturating_sub(TAIL as usize);
    end.tail = Some(((doc.len() - t) as u64, content_hash(&doc[t..])));
    let mut bad = Vec::new();
    let mut lines = 0u64;
    let format = f.format.clone().unwrap_or(LogFormat::CtsDocument);
    let result = if format == LogFormat::JsonDocument {
        crate::parse::cts::for_each_record(&doc, |i, record| {
            let origin = Origin {
                file,
                chunk: 0,
                offset: i as u64,
                line_base: 0,
                format,
            };
            let at = crate::scan::Position {
                file,
                offset: i as u64,
            };
            scanner.scan_record(record, at, origin, i as u64, stats);
            lines += 1;
        })
    } else {
        crate::parse::cts::for_each_trace(
            &mut doc,
            &cfg.catalog,
            cfg.timezone,
            |i, req| {
                let origin = Origin {
                    file,
                    chunk: 0,
                    offset: i as u64,
                    line_base: 0,
                    format: LogFormat::CtsDocument,
                };
                let at = crate::scan::Position {
                    file,
                    offset: i as u64,
                };
                scanner.scan_parsed(req, at, origin, i as u64, stats);
                lines += 1;
            },
            |i, m| bad.push((i, m)),
        )
    };
    for (i, m) in bad {
        stats.counters().lines += 1;
        stats.malformed(file, 0, i as u64, || format!("trace {i}: {}", m.0));
        lines += 1;
    }
    stats.chunk_lines(file, 0, lines);
    let damage = damaged.map(|e| {
        format!(
            "cannot read the whole document ({} data: {e}); what came before the damage was read",
            f.compression.as_str()
        )
    });
    match (result, damage) {
        (Ok(_), None) => None,
        (result, damage) => {
            let what: Vec<String> = damage
                .into_iter()
                .chain(result.err().map(|m| {
                    stats.counters().lines += 1;
                    stats.malformed(file, 0, 0, || m.0.clone());
                    m.0
                }))
                .collect();
            // Counted as malformed and named: the other files' requests still make a report
            // (and a run with nothing else to read stops at "no request could be read").
            Some(Note::warning(
                file,
                format!(
                    "{}: read as a {} document: {}",
                    f.name,
                    if format == LogFormat::JsonDocument {
                        "JSON"
                    } else {
                        "CTS"
                    },
                    what.join("; ")
                ),
            ))
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
