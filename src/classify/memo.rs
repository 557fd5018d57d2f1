//! Remembered classifications: a gateway serves the same few dozen paths all day, so most
//! requests repeat a (method, path) an earlier one already had classified.
//!
//! What must stay true: a hit returns exactly what [`Classifier::classify`] would. That
//! holds because classification is a function of the method and of the target's bytes up to
//! its first `?` or `#` (normalisation drops the query and the fragment, and a scheme or
//! authority ends at either): the memo is keyed by exactly those bytes and the method as
//! written. Only requests that found a route are remembered; the others leave the segments
//! in the scratch for the caller, which looks at them (unmatched shapes).

use super::{Classified, Classifier, Normalization, Scratch};
use crate::catalog::RouteId;

/// The longest key remembered; longer targets are classified every time.
const TEXT: usize = 112;
/// Direct-mapped slots (a power of two).
const SLOTS: usize = 512;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Length of the key, `u8::MAX` when the slot is empty.
    len: u8,
    route: RouteId,
    normalized: Normalization,
    /// The method as written (up to 7 bytes, zero padded) and its length in the last byte.
    method: u64,
    text: [u8; TEXT],
}

/// Per-worker memo of [`Classifier::classify`] results; see the module documentation.
#[derive(Debug, Clone)]
pub struct Memo {
    slots: Box<[Slot]>,
}

impl Default for Memo {
    fn default() -> Memo {
        Memo::new()
    }
}

impl Memo {
    pub fn new() -> Memo {
        let empty = Slot {
            len: u8::MAX,
            route: 0,
            normalized: Normalization::default(),
            method: 0,
            text: [0; TEXT],
        };
        Memo {
            slots: vec![empty; SLOTS].into_boxed_slice(),
        }
    }
}

/// The method and its length as one word (`GET` and `GET\0` differ), or `None` when longer
/// than 7 bytes (no catalog method is).
#[inline]
fn method_word(method: &[u8]) -> Option<u64> {
    if method.len() > 7 {
        return None;
    }
    let mut word = [0u8; 8];
    word[..method.len()].copy_from_slice(method);
    word[7] = method.len() as u8;
    Some(u64::from_le_bytes(word))
}

impl Classifier {
    /// [`Classifier::classify`], answered from `memo` when this method and path were
    /// classified to a route before. On a hit `scratch` is left as it was: callers read it
    /// only for requests without a route, which are never answered from the memo.
    #[inline]
    pub fn classify_memo(
        &self,
        method: &[u8],
        target: &[u8],
        scratch: &mut Scratch,
        memo: &mut Memo,
    ) -> Classified {
        let key = match memchr::memchr2(b'?', b'#', target) {
            Some(i) => &target[..i],
            None => target,
        };
        let (Some(word), true) = (method_word(method), key.len() <= TEXT) else {
            return self.classify(method, target, scratch);
        };
        let hash = std::hash::BuildHasher::hash_one(
            &foldhash::fast::FixedState::with_seed(0),
            (word, key),
        );
        let slot = &mut memo.slots[(hash >> 32) as usize % SLOTS];
        if usize::from(slot.len) == key.len()
            && slot.method == word
            && crate::bytes::same(&slot.text[..key.len()], key)
        {
            return Classified {
                route: Some(slot.route),
                normalized: slot.normalized,
            };
        }
        let classified = self.classify(method, target, scratch);
        if let Some(route) = classified.route {
            slot.len = key.len() as u8;
            slot.route = route;
            slot.normalized = classified.normalized;
            slot.method = word;
            slot.text[..key.len()].copy_from_slice(key);
        }
        classified
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use proptest::prelude::*;

    proptest! {
        /// Answers from the memo equal fresh classifications, for targets built from the
        /// pieces that matter: routes' segments, queries, fragments, escapes, dot segments,
        /// full URLs, and methods in any case.
        #[test]
        fn the_memo_agrees_with_classifying(
            requests in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["GET", "get", "POST", "Post", "PUT", "DELETE", "XGETX", "GETTINGLONGER", "GET\0", "OPTIONS", "OPTIONS\0"]),
                    proptest::collection::vec(
                        proptest::sample::select(vec![
                            "/", "v2", "v1.0", "bills", "orders", "customer-orders", "customer-bills",
                            "monthly-sum", "ratings", "on-demand-resources", "details", "CS1234", "?", "#",
                            "offset=1", "%2F", "%6F", ".", "..", "https://bss.myhuaweicloud.com",
                            "http://h:1", " ", "&", "=",
                        ]),
                        0..12,
                    ),
                ),
                1..40,
            ),
        ) {
            let catalog = Catalog::embedded();
            let classifier = Classifier::new(&catalog);
            let mut memo = Memo::new();
            let mut a = Scratch::new();
            let mut b = Scratch::new();
            for (method, pieces) in &requests {
                let target = pieces.concat();
                // Twice: the second answer may come from the memo.
                for _ in 0..2 {
                    let fresh = classifier.classify(method.as_bytes(), target.as_bytes(), &mut a);
                    let memo_said = classifier.classify_memo(method.as_bytes(), target.as_bytes(), &mut b, &mut memo);
                    prop_assert_eq!(fresh, memo_said, "{} {}", method, target);
                }
            }
        }
    }

    /// Regression: the method was padded with zero bytes into its word, so `GET\0` (a JSON
    /// `\u0000` escape) was answered with the route remembered for `GET`.
    #[test]
    fn methods_differing_by_trailing_zero_bytes_are_different_keys() {
        let catalog = Catalog::embedded();
        let classifier = Classifier::new(&catalog);
        let mut memo = Memo::new();
        let mut scratch = Scratch::new();
        let target = b"/v2/orders/customer-orders";
        let get = classifier.classify_memo(b"GET", target, &mut scratch, &mut memo);
        assert!(get.route.is_some());
        for method in [&b"GET\0"[..], b"GET\0\0", b"GET\0\0\0\0"] {
            let fresh = classifier.classify(method, target, &mut scratch);
            assert_eq!(fresh.route, None);
            let memo_said = classifier.classify_memo(method, target, &mut scratch, &mut memo);
            assert_eq!(memo_said, fresh);
        }
    }

    #[test]
    fn a_hit_ignores_the_query_and_a_miss_is_not_kept() {
        let catalog = Catalog::embedded();
        let classifier = Classifier::new(&catalog);
        let mut memo = Memo::new();
        let mut scratch = Scratch::new();
        let first = classifier.classify_memo(
            b"GET",
            b"/v2/orders/customer-orders?offset=0",
            &mut scratch,
            &mut memo,
        );
        assert!(first.route.is_some());
        let hit = classifier.classify_memo(
            b"GET",
            b"/v2/orders/customer-orders?offset=10",
            &mut scratch,
            &mut memo,
        );
        assert_eq!(hit, first);
        // No route: the scratch holds the segments the caller reads.
        let miss = classifier.classify_memo(b"GET", b"/v2/nothing/here", &mut scratch, &mut memo);
        assert_eq!(miss.route, None);
        assert_eq!(scratch.len(), 3);
    }
}
