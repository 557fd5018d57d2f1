//! Planning: for each input file, whether what is in it was counted before, and from where
//! to read what is new.

use std::collections::HashSet;
use std::path::Path;

use super::State;
use super::manifest::{Entry, HEAD, RawId, hex, parse_hex};
use crate::input::{Compression, InputFile, TAIL, content_hash};

/// What to do with one input file.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Everything in it was counted before.
    Skip { entry: usize, why: &'static str },
    /// Read from the entry's end and add to it.
    Resume { entry: usize },
    /// Read whole and replace the entry (a CTS document that was rewritten).
    Replace { entry: usize },
    /// New content.
    New,
    /// Not readable: the scan reports it.
    Unreadable,
}

/// Fingerprints taken while planning.
#[derive(Debug, Clone, Default)]
pub struct Prints {
    pub head_len: u64,
    pub head_hash: u128,
    /// Plain files: the hash of the last [`TAIL`] bytes up to the (adjusted) length.
    pub tail: Option<(u64, u128)>,
    pub raw: Option<RawId>,
}

impl State {
    /// Decides, for each file, what is new in it. Adjusts `start`, `line_base`, `expect_tail`
    /// and, for live plain files, `len` (to the last complete line). Files that share their
    /// head with an earlier file of the same batch are deferred (`None`) to a later batch so
    /// that the same content is never read twice in one run.
    pub fn plan(&self, files: &mut [InputFile]) -> Vec<Option<(Plan, Prints)>> {
        let mut heads_in_batch: HashSet<(u64, u128)> = HashSet::new();
        let mut out = Vec::with_capacity(files.len());
        for f in files.iter_mut() {
            f.start = 0;
            f.line_base = 0;
            f.expect_tail = None;
            let planned = self.plan_one(f);
            if let Some((plan, p)) = &planned
                && matches!(plan, Plan::Resume { .. } | Plan::Replace { .. } | Plan::New)
                && p.head_len > 0
                && !heads_in_batch.insert((p.head_len, p.head_hash))
            {
                out.push(None);
                continue;
            }
            out.push(planned);
        }
        out
    }

    fn plan_one(&self, f: &mut InputFile) -> Option<(Plan, Prints)> {
        let Ok(format) = f.format.clone() else {
            return Some((Plan::Unreadable, Prints::default()));
        };
        let fp = match fingerprint(f) {
            Ok(fp) => fp,
            // The scan reports the unreadable file.
            Err(_) => return Some((Plan::Unreadable, Prints::default())),
        };
        let (prints, head_bytes) = fp;
        let entries = &self.manifest.entries;
        if let Some(raw) = &prints.raw
            && let Some(i) = entries.iter().position(|e| e.raw.contains(raw))
        {
            return Some((
                Plan::Skip {
                    entry: i,
                    why: "already counted (same compressed file)",
                },
                prints,
            ));
        }
        // Entries whose head this content starts with, longest counted first.
        let mut candidates: Vec<usize> = (0..entries.len())
            .filter(|&i| {
                let e = &entries[i];
                e.head_len <= head_bytes.len() as u64
                    && hex(content_hash(&head_bytes[..e.head_len as usize])) == e.head_hash
            })
            .collect();
        candidates.sort_by_key(|&i| std::cmp::Reverse(entries[i].len));
        let document = format.is_document();
        for i in candidates {
            let e = &entries[i];
            if f.compression != Compression::None && !document {
                // Verified while decompressing: the scan reads from 0 if the tail differs.
                f.start = e.len;
                f.line_base = e.lines;
                f.expect_tail = parse_hex(&e.tail_hash).map(|h| (e.tail_len, h));
                return Some((Plan::Resume { entry: i }, prints));
            }
            if document {
                if prints
                    .tail
                    .is_some_and(|t| e.len == f.len && tail_matches(e, t))
                {
                    return Some((
                        Plan::Skip {
                            entry: i,
                            why: "already counted (same document)",
                        },
                        prints,
                    ));
                }
                return Some((Plan::Replace { entry: i }, prints));
            }
            if f.len < e.len {
                // Same head, shorter: a prefix of content counted before (a copy taken
                // earlier, or a copytruncate copy).
                return Some((
                    Plan::Skip {
                        entry: i,
                        why: "already counted (holds less than was counted)",
                    },
                    prints,
                ));
            }
            match tail_at(&f.path, e.len, e.tail_len) {
                Ok(h) if hex(h) == e.tail_hash => {
                    if f.len == e.len {
                        return Some((
                            Plan::Skip {
                                entry: i,
                                why: "already counted (nothing new)",
                            },
                            prints,
                        ));
                    }
                    f.start = e.len;
                    f.line_base = e.lines;
                    return Some((Plan::Resume { entry: i }, prints));
                }
                _ => continue,
            }
        }
        Some((Plan::New, prints))
    }
}

fn tail_matches(e: &Entry, tail: (u64, u128)) -> bool {
    e.tail_len == tail.0 && e.tail_hash == hex(tail.1)
}

/// The hash of the `tail_len` bytes before `end` of a plain file.
fn tail_at(path: &Path, end: u64, tail_len: u64) -> std::io::Result<u128> {
    let fd = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    let start = end.saturating_sub(tail_len);
    crate::input::mmap::read_range(&fd, start, (end - start) as usize, &mut buf)?;
    if (buf.len() as u64) < end - start {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
    }
    Ok(content_hash(&buf))
}

/// Reads a file's fingerprints: content head, plain tail (after cutting a live file back to
/// its last complete line), compressed identity. Returns them with the head bytes.
fn fingerprint(f: &mut InputFile) -> std::io::Result<(Prints, Vec<u8>)> {
    use std::io::Read;
    let fd = std::fs::File::open(&f.path)?;
    let mut prints = Prints::default();
    let raw_head = {
        let mut buf = Vec::new();
        crate::input::mmap::read_range(&fd, 0, f.len.min(HEAD) as usize, &mut buf)?;
        buf
    };
    let head = if f.compression == Compression::None {
        if f.live && !f.format.as_ref().is_ok_and(|f| f.is_document()) {
            // Stop at the last complete line: the rest is still being written.
            let from = f.len.saturating_sub(crate::scan::MAX_LINE);
            let mut tail = Vec::new();
            crate::input::mmap::read_range(&fd, from, (f.len - from) as usize, &mut tail)?;
            if let Some(i) = memchr::memrchr(b'\n', &tail) {
                let complete = from + i as u64 + 1;
                if complete < f.len {
                    crate::log::warn(&format!(
                        "{}: its last line has no newline yet and the file was modified in the last {}s: the line is left for the next run",
                        f.name,
                        crate::input::LIVE_WINDOW
                    ));
                }
                f.len = complete;
            }
        }
        let n = raw_head.len().min(f.len as usize);
        let head = raw_head[..n].to_vec();
        let tail_start = f.len.saturating_sub(TAIL);
        let mut tail = Vec::new();
        crate::input::mmap::read_range(&fd, tail_start, (f.len - tail_start) as usize, &mut tail)?;
        prints.tail = Some((tail.len() as u64, content_hash(&tail)));
        head
    } else {
        let mut tail = Vec::new();
        let tail_start = f.len.saturating_sub(TAIL);
        crate::input::mmap::read_range(&fd, tail_start, (f.len - tail_start) as usize, &mut tail)?;
        prints.raw = Some(RawId {
            size: f.len,
            head_hash: hex(content_hash(&raw_head)),
            tail_hash: hex(content_hash(&tail)),
        });
        let mut reader = crate::input::open_decoder(std::fs::File::open(&f.path)?, f.compression)?;
        let mut head = Vec::with_capacity(HEAD as usize);
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
        head
    };
    prints.head_len = head.len() as u64;
    prints.head_hash = content_hash(&head);
    Ok((prints, head))
}
