//! What each input file is, decided before the scan: its compression (by its magic bytes)
//! and its format (by its first [`SNIFF`] bytes of content), and the decoders that read it.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use rayon::prelude::*;

use super::{InputFile, LIVE_WINDOW};
use crate::parse::{self, FormatChoice};

/// How much of a file format detection looks at.
const SNIFF: usize = 64 << 10;

/// How a file's content is stored, told by its first bytes.
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

/// The bytes format detection looks at: [`SNIFF`] bytes, or more when the first line is
/// longer (a gateway record with a long cookie header), up to its end or the longest line
/// read ([`crate::scan::MAX_LINE`]): a first line cut short looks like no format at all.
fn sniff_head(r: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = read_head(r, SNIFF)?;
    while head.len() % SNIFF == 0
        && !head.is_empty()
        && head.len() < crate::scan::MAX_LINE as usize
        && memchr::memchr(b'\n', &head).is_none()
    {
        // Damage past what was read leaves detection what came before it, as before.
        let Ok(more) = read_head(r, SNIFF) else { break };
        if more.is_empty() {
            break;
        }
        head.extend_from_slice(&more);
    }
    Ok(head)
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
                    let head = sniff_head(&mut *reader)
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
                notes: Vec::new(),
            }
        })
        .collect()
}
