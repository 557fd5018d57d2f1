//! Comparing the short byte strings of the hot path (path segments, a time's minute) without
//! the `memcmp` call a slice comparison makes: for strings of a few to two dozen bytes the
//! call costs more than the comparison; and [`positions`], where a byte occurs in a block.

pub mod positions;

/// `a == b`, by a few overlapping loads for strings of up to 24 bytes, and word by word up
/// to 64 (request paths the classification memo compares).
#[inline(always)]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4"));
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        17..=24 => {
            word(a, 0) == word(b, 0) && word(a, 8) == word(b, 8) && word(a, n - 8) == word(b, n - 8)
        }
        25..=64 => {
            // Whole words, then the last word (overlapping the ones before).
            let diff = (0..n / 8).fold(0u64, |d, k| d | (word(a, 8 * k) ^ word(b, 8 * k)));
            diff | (word(a, n - 8) ^ word(b, n - 8)) == 0
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Equal strings, and strings one byte apart at any position, of every length the
        /// comparison treats its own way.
        #[test]
        fn agrees_with_slice_equality(
            a in prop::collection::vec(any::<u8>(), 0..80),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            other in prop::collection::vec(any::<u8>(), 0..80),
        ) {
            prop_assert!(super::same(&a, &a));
            let mut near = a.clone();
            if !near.is_empty() {
                let i = at.index(near.len());
                near[i] = byte;
            }
            prop_assert_eq!(super::same(&a, &near), a == near);
            prop_assert_eq!(super::same(&a, &other), a == other);
        }
    }
}
