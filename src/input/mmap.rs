//! Memory-mapped reading of one byte range of a log file, safe against the file shrinking.
//!
//! # Safety: files that change while mapped
//!
//! A gateway may append to its live log, or `logrotate copytruncate` may truncate it, while
//! permlens reads it. Appends are harmless: a range is mapped for the length the file had when
//! the run started, so later bytes are simply not read (the next run sees them). Truncation is
//! not: touching a mapped page that now lies past the end of the file raises `SIGBUS`, which
//! would kill the process.
//!
//! The strategy: every mapping is registered in a fixed table of address ranges, and a
//! process-wide `SIGBUS` handler checks whether the faulting address lies in a registered
//! range. If it does, the handler maps an anonymous zero page over the faulting page
//! (`MAP_FIXED`), marks the range as *faulted* and returns, so the read resumes on zeros
//! instead of crashing. After scanning a range the caller checks [`GuardedMap::faulted`]:
//! if set, the results of that range are thrown away and the range is read again with
//! `pread` ([`read_range`]), which simply returns fewer bytes for a shorter file. The result
//! therefore only ever counts complete lines that were really in the file, never zeros. A
//! fault outside every registered range is not ours: the handler restores the default
//! action and returns, so the fault repeats and the process dies as it would have.
//!
//! When the table is full, or mapping fails, callers fall back to `pread` as well.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use memmap2::{Mmap, MmapOptions};

const SLOTS: usize = 128;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // Only async-signal-safe work here: atomic loads and stores, mmap, signal.
    // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO` handler, and for
    // SIGBUS `si_addr` is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    for slot in &TABLE {
        let start = slot.start.load(Ordering::Acquire);
        if start != 0 && addr >= start && addr < slot.end.load(Ordering::Acquire) {
            let base = addr & !(page - 1);
            // SAFETY: `base` is a page of a mapping we own and registered; replacing it with
            // a private zero page keeps the address range valid until the mapping is dropped.
            let p = unsafe {
                libc::mmap(
                    base as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                slot.faulted.store(true, Ordering::Release);
                return;
            }
        }
    }
    // Not one of our mappings: let the default action happen when the access repeats.
    // SAFETY: `signal` is async-signal-safe; restoring the default disposition is what the
    // process would have had without the guard.
    unsafe {
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}

fn install_handler() {
    INSTALL.call_once(|| {
        // SAFETY: plain libc calls with a zeroed, then filled, sigaction.
        unsafe {
            let ps = libc::sysconf(libc::_SC_PAGESIZE);
            if ps > 0 {
                PAGE_SIZE.store(ps as usize, Ordering::Relaxed);
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

/// A read-only mapping of `[offset, offset + len)` of a file, registered with the SIGBUS guard.
pub struct GuardedMap {
    map: Mmap,
    slot: usize,
}

impl GuardedMap {
    /// Maps the range, or returns `None` when it cannot be guarded (table full, empty range,
    /// mapping refused); read it with [`read_range`] then.
    pub fn new(file: &File, offset: u64, len: usize) -> Option<GuardedMap> {
        if len == 0 {
            return None;
        }
        install_handler();
        // SAFETY: the mapping is read-only; a concurrent truncation is handled by the SIGBUS
        // guard registered below before any byte is read (see the module docs).
        let map = unsafe { MmapOptions::new().offset(offset).len(len).map(file) }.ok()?;
        let start = map.as_ptr() as usize;
        for (i, slot) in TABLE.iter().enumerate() {
            if slot
                .start
                .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                slot.faulted.store(false, Ordering::Release);
                slot.end.store(start + len, Ordering::Release);
                let _ = map.advise(memmap2::Advice::Sequential);
                // Bytes this mapping reads from disk are cached in 2 MiB folios (Linux with
                // transparent huge pages), which are mapped 2 MiB per fault, this run and the
                // next; read through the mapping without it they were cached in 4 KiB
                // folios, mapped 64 KiB per fault, and every later run spent several times
                // the system time faulting them in. Pages already cached keep their size.
                let _ = map.advise(memmap2::Advice::HugePage);
                return Some(GuardedMap { map, slot: i });
            }
        }
        None
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// True when the file shrank under this mapping and some bytes read as zeros.
    pub fn faulted(&self) -> bool {
        TABLE[self.slot].faulted.load(Ordering::Acquire)
    }
}

impl Drop for GuardedMap {
    fn drop(&mut self) {
        let slot = &TABLE[self.slot];
        slot.end.store(0, Ordering::Release);
        slot.start.store(0, Ordering::Release);
    }
}

/// Reads up to `len` bytes at `offset` with `pread`; fewer when the file is now shorter.
pub fn read_range(file: &File, offset: u64, len: usize, buf: &mut Vec<u8>) -> io::Result<()> {
    // Only the bytes the buffer lacks are zeroed: what it held is overwritten by the read,
    // and whatever the read did not reach is cut off below. Files modified in the last
    // minutes (a nightly run right after rotation) are read this way whole, a chunk at a time.
    if buf.len() < len {
        buf.resize(len, 0);
    } else {
        buf.truncate(len);
    }
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(done);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A buffer reused from a longer read holds exactly the bytes of the range read, or of
    /// what the file still has of it.
    #[test]
    fn a_reused_buffer_holds_only_the_range_read() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"0123456789").unwrap();
        f.flush().unwrap();
        let file = File::open(f.path()).unwrap();
        let mut buf = vec![b'x'; 64];
        read_range(&file, 2, 5, &mut buf).unwrap();
        assert_eq!(buf, b"23456");
        buf.resize(64, b'x');
        // Past the end: only what the file holds.
        read_range(&file, 7, 20, &mut buf).unwrap();
        assert_eq!(buf, b"789");
        read_range(&file, 20, 5, &mut buf).unwrap();
        assert_eq!(buf, b"");
        let mut small = b"ab".to_vec();
        read_range(&file, 0, 10, &mut small).unwrap();
        assert_eq!(small, b"0123456789");
    }

    #[test]
    fn truncation_under_a_mapping_does_not_crash() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let data = vec![b'x'; 1 << 20];
        f.write_all(&data).unwrap();
        f.flush().unwrap();
        let file = File::open(f.path()).unwrap();
        let map = GuardedMap::new(&file, 0, data.len()).unwrap();
        assert_eq!(map.bytes()[0], b'x');
        assert!(!map.faulted());
        // Another writer truncates the file while it is mapped.
        f.as_file().set_len(4096).unwrap();
        let sum: u64 = map.bytes().iter().map(|&b| u64::from(b)).sum();
        assert!(map.faulted(), "reading past the new end must be caught");
        assert!(
            sum < u64::from(b'x') * data.len() as u64,
            "the lost pages read as zeros"
        );
        // The fallback reads what the file holds now.
        let mut buf = Vec::new();
        read_range(&file, 0, data.len(), &mut buf).unwrap();
        assert_eq!(buf.len(), 4096);
    }

    /// The same over a mapping that read its file from disk with the huge-page advice, so
    /// that on kernels that cache it in 2 MiB folios the lost pages were mapped 2 MiB at a
    /// time, and the guard's 4 KiB zero page lands inside one.
    #[test]
    fn truncation_under_a_mapping_read_from_disk_does_not_crash() {
        use std::os::fd::AsRawFd;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let len = 8 << 20;
        f.write_all(&vec![b'x'; len]).unwrap();
        f.as_file().sync_all().unwrap();
        // SAFETY: an advisory call on an open descriptor; written back above, so the dropped
        // pages are read from disk again through the mapping.
        unsafe { libc::posix_fadvise(f.as_file().as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let file = File::open(f.path()).unwrap();
        let map = GuardedMap::new(&file, 0, len).unwrap();
        let whole: u64 = map.bytes().iter().map(|&b| u64::from(b)).sum();
        assert_eq!(whole, u64::from(b'x') * len as u64);
        f.as_file().set_len(3 << 20).unwrap();
        let sum: u64 = map.bytes().iter().map(|&b| u64::from(b)).sum();
        assert!(map.faulted(), "reading past the new end must be caught");
        assert!(sum < whole, "the lost pages read as zeros");
        let mut buf = Vec::new();
        read_range(&file, 0, len, &mut buf).unwrap();
        assert_eq!(buf.len(), 3 << 20);
    }

    #[test]
    fn slots_are_released() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"hello\n").unwrap();
        let file = File::open(f.path()).unwrap();
        for _ in 0..(SLOTS * 2) {
            let m = GuardedMap::new(&file, 0, 6).unwrap();
            assert_eq!(m.bytes(), b"hello\n");
        }
        assert!(GuardedMap::new(&file, 0, 0).is_none());
    }
}
