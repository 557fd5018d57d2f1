//! The I/O half of planning: what is read from an input file to recognise its content.
//! The decision itself ([`super::plan::decide`]) reads nothing, so it is tested as a table.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::manifest::{HEAD, RawId, hex};
use crate::input::mmap::read_range;
use crate::input::{Compression, InputFile, TAIL, content_hash};

/// Fingerprints taken while planning.
#[derive(Debug, Clone, Default)]
pub struct Prints {
    pub head_len: u64,
    pub head_hash: u128,
    /// Plain files: the hash of the last [`TAIL`] bytes up to the (adjusted) length.
    pub tail: Option<(u64, u128)>,
    pub raw: Option<RawId>,
}

/// What the decision knows about one input file.
#[derive(Debug, Clone)]
pub(super) struct Observed {
    /// The length the file is counted up to: its size on disk (compressed bytes for a
    /// compressed file), a live plain file's cut back to its last complete line.
    pub len: u64,
    pub compressed: bool,
    /// Read whole (a CTS export, a batched array): rewritten rather than appended to.
    pub document: bool,
    /// The first [`HEAD`] bytes of the content (decompressed), fewer if it is shorter.
    pub head: Vec<u8>,
    pub prints: Prints,
}

/// Reads what planning needs of `f`, or `None` when it cannot be read (the scan reports
/// the file). Cuts a live plain file's `len` back to its last complete line.
pub(super) fn observe(f: &mut InputFile) -> Option<Observed> {
    let document = f.format.as_ref().ok()?.is_document();
    let (prints, head) = fingerprint(f, true).ok()?;
    Some(Observed {
        len: f.len,
        compressed: f.compression != Compression::None,
        document,
        head,
        prints,
    })
}

/// The id of `f`'s content, as a mapped partial names it: the hash of its first [`HEAD`]
/// bytes (decompressed), with their length. `None` when the file cannot be read. A live
/// file is not cut back to its last complete line: a map has no next run to read the rest,
/// so it reads the file whole, as a plain `analyze` does.
pub fn content_id(f: &mut InputFile) -> Option<String> {
    let (prints, _) = fingerprint(f, false).ok()?;
    Some(format!("{}-{}", hex(prints.head_hash), prints.head_len))
}

/// The hash of the `tail_len` bytes before `end` of a plain file; an error when fewer are
/// there (the file is shorter than the content it is compared with).
pub(super) fn tail_at(path: &Path, end: u64, tail_len: u64) -> io::Result<u128> {
    let fd = File::open(path)?;
    let mut buf = Vec::new();
    let start = end.saturating_sub(tail_len);
    read_range(&fd, start, (end - start) as usize, &mut buf)?;
    if (buf.len() as u64) < end - start {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    Ok(content_hash(&buf))
}

/// Reads a file's fingerprints: content head, plain tail (after cutting a live file back to
/// its last complete line when `cut_live`), compressed identity. Returns them with the head
/// bytes.
fn fingerprint(f: &mut InputFile, cut_live: bool) -> io::Result<(Prints, Vec<u8>)> {
    let fd = File::open(&f.path)?;
    let mut raw_head = Vec::new();
    read_range(&fd, 0, f.len.min(HEAD) as usize, &mut raw_head)?;
    let (mut prints, head) = if f.compression == Compression::None {
        plain_prints(f, &fd, raw_head, cut_live)?
    } else {
        compressed_prints(f, &fd, &raw_head)?
    };
    prints.head_len = head.len() as u64;
    prints.head_hash = content_hash(&head);
    Ok((prints, head))
}

/// A plain file: its head is its first bytes (`raw_head`, read before any cut), its tail the
/// last [`TAIL`] bytes of what will be counted.
fn plain_prints(
    f: &mut InputFile,
    fd: &File,
    raw_head: Vec<u8>,
    cut_live: bool,
) -> io::Result<(Prints, Vec<u8>)> {
    if cut_live && f.live && !f.format.as_ref().is_ok_and(|f| f.is_document()) {
        cut_to_last_line(f, fd)?;
    }
    let mut head = raw_head;
    head.truncate(f.len as usize);
    let tail = last_bytes(fd, f.len)?;
    let prints = Prints {
        tail: Some((tail.len() as u64, content_hash(&tail))),
        ..Prints::default()
    };
    Ok((prints, head))
}

/// A compressed file: its compressed bytes identify it (a later run that finds the same
/// bytes skips it without decompressing); its head is the first [`HEAD`] bytes decompressed.
fn compressed_prints(f: &InputFile, fd: &File, raw_head: &[u8]) -> io::Result<(Prints, Vec<u8>)> {
    let tail = last_bytes(fd, f.len)?;
    let raw = RawId {
        size: f.len,
        head_hash: hex(content_hash(raw_head)),
        tail_hash: hex(content_hash(&tail)),
    };
    let mut reader = crate::input::open_decoder(File::open(&f.path)?, f.compression)?;
    let mut head = Vec::with_capacity(HEAD as usize);
    // A stream that fails after its first bytes still has a head to be recognised by; the
    // scan reports the failure.
    (&mut reader)
        .take(HEAD)
        .read_to_end(&mut head)
        .or_else(|e| {
            if head.is_empty() {
                Err(e)
            } else {
                Ok(head.len())
            }
        })?;
    let prints = Prints {
        raw: Some(raw),
        ..Prints::default()
    };
    Ok((prints, head))
}

/// The last [`TAIL`] bytes before `end` (fewer if the file is shorter).
fn last_bytes(fd: &File, end: u64) -> io::Result<Vec<u8>> {
    let start = end.saturating_sub(TAIL);
    let mut tail = Vec::new();
    read_range(fd, start, (end - start) as usize, &mut tail)?;
    Ok(tail)
}

/// Cuts a live plain file back to its last complete line: the rest is still being written,
/// and what is counted must end where the next run can resume.
fn cut_to_last_line(f: &mut InputFile, fd: &File) -> io::Result<()> {
    let from = f.len.saturating_sub(crate::scan::MAX_LINE);
    let mut tail = Vec::new();
    read_range(fd, from, (f.len - from) as usize, &mut tail)?;
    let complete = complete_len(f.len, from, &tail);
    if complete < f.len {
        crate::log::warn(&format!(
            "{}: its last line has no newline yet and the file was modified in the last {}s: the line is left for the next run",
            f.name,
            crate::input::LIVE_WINDOW
        ));
    }
    f.len = complete;
    Ok(())
}

/// The length of a file of `len` bytes, whose bytes from `from` on are `bytes`, up to and
/// including its last newline; `len` when `bytes` holds none.
fn complete_len(len: u64, from: u64, bytes: &[u8]) -> u64 {
    memchr::memrchr(b'\n', bytes).map_or(len, |i| from + i as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Liveness enters the decision only through the length: a live file is counted up to
    /// its last newline.
    #[test]
    fn a_live_file_is_counted_up_to_its_last_complete_line() {
        // (len, from, bytes after from, counted length, why)
        let table: &[(u64, u64, &[u8], u64, &str)] = &[
            (9, 0, b"L1\nL2\nL3", 6, "the unfinished last line waits"),
            (9, 0, b"L1\nL2\nL3\n", 9, "every line complete: all of it"),
            (
                109,
                100,
                b"L2\nL3\nL4",
                106,
                "only the last MAX_LINE bytes are looked at",
            ),
            (3, 0, b"abc", 3, "no newline at all: the length is kept"),
        ];
        for &(len, from, bytes, want, why) in table {
            assert_eq!(complete_len(len, from, bytes), want, "{why}");
        }
    }
}
