//! The positions of one byte in a line, found 64 bytes at a time (SSE2 on x86_64) and handed
//! out in increasing order: what a tokenizer needs from `memchr` without paying a search
//! call per short token.

/// Bytes looked at per block.
pub const BLOCK: usize = 64;

/// Positions of `needle` in `hay`, asked for in increasing order with [`Positions::next_from`].
#[derive(Debug)]
pub struct Positions<'a> {
    hay: &'a [u8],
    needle: u8,
    /// Start of the block `mask` describes.
    base: usize,
    /// The block's positions not handed out yet, one bit per byte.
    mask: u64,
    /// Start of the next block to look at.
    next: usize,
}

impl<'a> Positions<'a> {
    pub fn new(hay: &'a [u8], needle: u8) -> Positions<'a> {
        Positions {
            hay,
            needle,
            base: 0,
            mask: 0,
            next: 0,
        }
    }

    /// The first position of the needle at or after `from`; `from` never decreases between
    /// calls.
    #[inline]
    pub fn next_from(&mut self, from: usize) -> Option<usize> {
        loop {
            if from > self.base {
                let skip = from - self.base;
                self.mask = if skip >= BLOCK {
                    0
                } else {
                    self.mask & (!0u64 << skip)
                };
            }
            if self.mask != 0 {
                let at = self.base + self.mask.trailing_zeros() as usize;
                self.mask &= self.mask - 1;
                return Some(at);
            }
            let start = self.next.max(from);
            if start >= self.hay.len() {
                return None;
            }
            self.base = start;
            self.mask = mask(&self.hay[start..], self.needle);
            self.next = start + BLOCK;
        }
    }
}

/// `f` of the first 64 bytes of `s`, or of all of a shorter `s` padded with `fill`. The
/// padded copy is made only for a short tail: filling a spare block before every block
/// looked at would cost instructions in every block of the JSON walk.
#[inline(always)]
pub fn with_block<R>(s: &[u8], fill: u8, f: impl FnOnce(&[u8; BLOCK]) -> R) -> R {
    match s.first_chunk::<BLOCK>() {
        Some(full) => f(full),
        None => {
            let mut spare = [fill; BLOCK];
            spare[..s.len()].copy_from_slice(s);
            f(&spare)
        }
    }
}

/// One bit per byte among the first 64 of `s` that equals `needle`.
#[inline]
pub fn mask(s: &[u8], needle: u8) -> u64 {
    with_block(s, !needle, |bytes| {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of every x86_64 target.
            unsafe { mask_sse2(bytes, needle) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            bytes
                .iter()
                .enumerate()
                .fold(0, |m, (i, &b)| m | (u64::from(b == needle) << i))
        }
    })
}

/// How many times `needle` occurs in `hay`, 64 bytes at a time.
#[inline]
pub fn count(hay: &[u8], needle: u8) -> usize {
    hay.chunks(BLOCK)
        .map(|block| mask(block, needle).count_ones() as usize)
        .sum()
}

/// [`mask`] for several needles at once: one bit per byte among the first 64 of `s`, per
/// needle. [`mask`] stays separate: padding a short tail with a byte that is not its needle
/// spares the tokenizers' hot loop the clearing of bits past the end.
#[inline]
pub fn masks<const K: usize>(s: &[u8], needles: [u8; K]) -> [u64; K] {
    // Bytes past the end of a short `s` are padding: their bits are cleared.
    let within = if s.len() >= BLOCK {
        !0
    } else {
        (1u64 << s.len()) - 1
    };
    with_block(s, 0, |bytes| {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of every x86_64 target.
            needles.map(|n| unsafe { mask_sse2(bytes, n) } & within)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            needles.map(|n| {
                bytes
                    .iter()
                    .enumerate()
                    .fold(0, |m, (i, &b)| m | (u64::from(b == n) << i))
                    & within
            })
        }
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn mask_sse2(bytes: &[u8; BLOCK], needle: u8) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let n = _mm_set1_epi8(needle as i8);
    let mut m = 0u64;
    for (k, part) in bytes.chunks_exact(16).enumerate() {
        // SAFETY: reads the 16 bytes of a chunk of the array, unaligned.
        let v = unsafe { _mm_loadu_si128(part.as_ptr().cast::<__m128i>()) };
        m |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, n)) as u16) << (16 * k);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Each needle's mask has the bits of its bytes among the first 64, and no others.
        #[test]
        fn masks_mark_each_needle(
            hay in proptest::collection::vec(prop::sample::select(vec![0, b'/', b'?', b'a']), 0..100),
        ) {
            let got = masks(&hay, [b'/', b'?', 0]);
            for (k, needle) in [b'/', b'?', 0].into_iter().enumerate() {
                let want = hay
                    .iter()
                    .take(BLOCK)
                    .enumerate()
                    .fold(0u64, |m, (i, &b)| m | (u64::from(b == needle) << i));
                prop_assert_eq!(got[k], want);
            }
        }

        /// Every query gives what a plain search from that point gives.
        #[test]
        fn agrees_with_a_plain_search(
            hay in proptest::collection::vec(prop::sample::select(vec![b' ', b'a', b'"']), 0..300),
            steps in proptest::collection::vec(0usize..100, 0..40),
        ) {
            let mut p = Positions::new(&hay, b' ');
            let mut from = 0;
            for step in steps {
                from += step;
                let want = hay.iter().skip(from).position(|&b| b == b' ').map(|i| from + i);
                let got = p.next_from(from);
                prop_assert_eq!(got, want);
                if let Some(at) = got {
                    from = at + 1;
                }
            }
        }
    }
}
