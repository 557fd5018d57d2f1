//! The positions of one byte in a line, found 16 bytes at a time (SSE2 on x86_64) and handed
//! out in increasing order: what a tokenizer needs from `memchr` without paying a search
//! call per short token.

/// Positions of `needle` in `hay`, asked for in increasing order with [`Positions::next_from`].
#[derive(Debug)]
pub struct Positions<'a> {
    hay: &'a [u8],
    needle: u8,
    /// Start of the block `mask` describes.
    base: usize,
    /// The block's positions not handed out yet, one bit per byte.
    mask: u32,
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
                self.mask = if skip >= 16 {
                    0
                } else {
                    self.mask & (!0u32 << skip)
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
            self.next = start + 16;
        }
    }
}

/// One bit per byte among the first 16 of `s` that equals `needle`.
#[inline]
pub fn mask(s: &[u8], needle: u8) -> u32 {
    let Some(bytes) = s.first_chunk::<16>() else {
        return s
            .iter()
            .enumerate()
            .fold(0, |m, (i, &b)| m | (u32::from(b == needle) << i));
    };
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
            .fold(0, |m, (i, &b)| m | (u32::from(b == needle) << i))
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn mask_sse2(bytes: &[u8; 16], needle: u8) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    // SAFETY: reads the 16 bytes of the array, unaligned.
    let v = unsafe { _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>()) };
    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(needle as i8))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every query gives what a plain search from that point gives.
        #[test]
        fn agrees_with_a_plain_search(
            hay in proptest::collection::vec(prop::sample::select(vec![b' ', b'a', b'"']), 0..80),
            steps in proptest::collection::vec(0usize..20, 0..30),
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
