//! Reading a range of a plain file into the scanner: the lines that start in a chunk's
//! byte range, memory-mapped (under the SIGBUS guard) or read with `pread` for a file that may
//! still be written.

use std::fs::File;

use super::{InputFile, LIVE_WINDOW, Note, mmap};
use crate::parse::LogFormat;
use crate::scan::{MAX_LINE, Origin, Scanner, Sink};

/// Scans the lines that start in `[start, end)` of a plain file, straight into `stats`.
///
/// Files modified in the last [`LIVE_WINDOW`] seconds may still be written, appended or
/// truncated (`logrotate copytruncate`): they are read with `pread` into a private buffer, so
/// a shorter file just yields fewer lines, and a last line without its newline is left for
/// the next run. Other files are memory-mapped under the SIGBUS guard ([`mmap`]): should one
/// shrink anyway, the guard keeps the process alive and the file is reported as an error, so
/// the run fails (exit 2, previous report kept) instead of writing incomplete counts.
#[allow(clippy::too_many_arguments)]
pub(super) fn scan_chunk<S: Sink>(
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
