//! Reading a whole file into the scanner in one task: a compressed file as a stream (resumed
//! from where an earlier run stopped, once the content before is verified), and a JSON or CTS
//! document read whole.

use std::fs::File;
use std::io::{self, Read};

use super::{InputFile, Note, StreamEnd, TAIL, content_hash, open_decoder};
use crate::parse::{LogFormat, Malformed};
use crate::scan::{MAX_LINE, Origin, ScanConfig, Scanner, Sink};

/// Scans a compressed file as a stream, or a CTS document whole.
///
/// A compressed file read from `f.start > 0` (`--state`) is decompressed up to there without
/// parsing, and the content just before must hash to `f.expect_tail`: if it does not, the
/// file is not the one counted before after all, and it is read again from the beginning.
pub(super) fn scan_whole<S: Sink>(
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
    // A document that does not end as it should is one malformed line more (counted in
    // `document_note`): the file's lines include it, as the run's do.
    stats.chunk_lines(file, 0, lines + u64::from(result.is_err()));
    document_note(f, file, format, result, damaged, stats)
}

/// The warning for a document that could not be read whole: damaged data (`damaged`), or a
/// document that does not end as it should (`result`, also counted as a malformed line).
fn document_note<S: Sink>(
    f: &InputFile,
    file: u32,
    format: LogFormat,
    result: Result<usize, Malformed>,
    damaged: Option<io::Error>,
    stats: &mut S,
) -> Option<Note> {
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
