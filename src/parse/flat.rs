//! A field-targeted walk over a flat JSON object: the fast path for gateway JSON lines.
//!
//! A gateway line is one flat object of 10-30 fields, of which the analysis needs 6-8. Building
//! a full simd-json tape for it costs most of the per-line time; this walk only finds where the
//! top-level values are, checking the JSON grammar as it goes, and records where the values of
//! the wanted keys are. It never decides on its own that a line is malformed: anything
//! it does not handle exactly as simd-json would (a nested value, an escape in a wanted value
//! or a `\u` escape anywhere, an exponent, a long number, a control byte, invalid UTF-8, a
//! grammar error) returns [`Walk::Unsure`], and the caller parses that line with simd-json,
//! which then accepts it or says why not. A property test checks that both paths agree.
//!
//! Speed: in a line without backslashes quotes alternate between opening and closing, so
//! strings are delimited by the quotes found 64 bytes at a time (SSE2 on x86_64) instead of
//! by a search per string. The same blocks tell whether the line has a backslash; one that
//! has is walked again from its start with its strings searched one by one.

use crate::bytes::positions::{self, BLOCK};

/// A top-level value the analysis reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Raw<'i> {
    /// A string, as written (the walk only hands out strings without escapes).
    Str(&'i [u8]),
    /// A non-negative integer.
    UInt(u64),
    /// Any other number.
    Float(f64),
    /// An object with a `name` (and `id`): a user written as `{"name": .., "id": ..}`.
    User(&'i [u8], &'i [u8]),
    /// `true`, `false`, `null`, an array, or an object where none is expected.
    Other,
}

/// The outcome of [`walk`].
#[derive(Debug, PartialEq, Eq)]
pub enum Walk {
    /// A valid flat object; every wanted value is in `hits`.
    Done,
    /// Parse this line with the full parser.
    Unsure,
}

/// Where a wanted value is in the line: a few bytes to copy per key, turned into a [`Raw`]
/// once the walk is done (moving a [`Raw`] per key costs more than the walk itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Priority of the key among the slot's aliases: lower wins, the first of equals wins.
    pub rank: u8,
    kind: Kind,
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Num,
    Other,
    /// `null`: never kept as a value.
    Null,
}

impl Hit {
    /// The value, from the line the walk read.
    #[inline(always)]
    pub fn value<'i>(&self, line: &'i [u8]) -> Raw<'i> {
        let text = &line[self.start as usize..self.end as usize];
        match self.kind {
            Kind::Str => Raw::Str(text),
            Kind::Num => number_value(text),
            Kind::Other | Kind::Null => Raw::Other,
        }
    }
}

/// Which slot a top-level key's value goes to, and its rank: what [`walk`] asks per key.
///
/// A trait rather than a closure: it is asked for every key of every line, and a closure
/// handed to the walk was left an indirect call by the inliner (benches/RESULTS.md, the worst
/// case against DuckDB). An implementation marks `slot` `#[inline(always)]`.
/// `index` is the key's place among the line's top-level keys: lines of one log name the
/// same keys in the same order, which an implementation may remember ([`Remembered`]).
pub trait Keys {
    fn slot(&mut self, index: usize, key: &[u8]) -> Option<(usize, u8)>;
}

/// A closure as [`Keys`] (tests, and callers off the hot path).
#[derive(Clone, Copy)]
pub struct ByFn<F>(pub F);

impl<F: Fn(&[u8]) -> Option<(usize, u8)>> Keys for ByFn<F> {
    #[inline(always)]
    fn slot(&mut self, _: usize, key: &[u8]) -> Option<(usize, u8)> {
        (self.0)(key)
    }
}

/// The answers of [`Keys`] `K` for the keys at each place of the last lines: a key equal to
/// the one remembered at its place gets the remembered answer, at the cost of one comparison
/// instead of a lookup among every alias. Exact because `K`'s answer depends on the key alone.
#[derive(Debug, Clone)]
pub struct KeyMemo {
    places: [Place; KeyMemo::PLACES],
}

#[derive(Debug, Clone, Copy)]
struct Place {
    /// Length of the key, `u8::MAX` when nothing is remembered.
    len: u8,
    text: [u8; KeyMemo::TEXT],
    slot: Option<(usize, u8)>,
}

impl Default for KeyMemo {
    fn default() -> KeyMemo {
        KeyMemo {
            places: [Place {
                len: u8::MAX,
                text: [0; KeyMemo::TEXT],
                slot: None,
            }; KeyMemo::PLACES],
        }
    }
}

impl KeyMemo {
    /// Places remembered: keys past them are looked up every time.
    const PLACES: usize = 48;
    /// The longest key remembered.
    const TEXT: usize = 24;
}

/// [`Keys`] `K` answered through a [`KeyMemo`].
pub struct Remembered<'m, K> {
    pub keys: K,
    pub memo: &'m mut KeyMemo,
}

impl<K: Keys> Keys for Remembered<'_, K> {
    #[inline(always)]
    fn slot(&mut self, index: usize, key: &[u8]) -> Option<(usize, u8)> {
        let Some(place) = self.memo.places.get_mut(index) else {
            return self.keys.slot(index, key);
        };
        // An empty place's length (u8::MAX) is longer than any key a place holds.
        if key.len() <= KeyMemo::TEXT
            && usize::from(place.len) == key.len()
            && crate::bytes::same(&place.text[..key.len()], key)
        {
            return place.slot;
        }
        let slot = self.keys.slot(index, key);
        if key.len() <= KeyMemo::TEXT {
            place.len = key.len() as u8;
            place.text[..key.len()].copy_from_slice(key);
            place.slot = slot;
        }
        slot
    }
}

/// Walks `line` (one JSON object). For every top-level key to which `keys.slot(key)` gives
/// a slot and a rank, keeps where its value is in `hits[slot]`, unless that slot already
/// holds a value of a lower or equal rank.
pub fn walk<const N: usize>(line: &[u8], mut keys: impl Keys, hits: &mut [Option<Hit>; N]) -> Walk {
    // Positions are kept as u32.
    if u32::try_from(line.len()).is_err() {
        return Walk::Unsure;
    }
    let mut quotes = Quotes::new(line);
    match walk_with(line, &mut keys, hits, &mut quotes) {
        Walk::Unsure if quotes.backslash => {
            // Quotes only delimit strings without escapes: start again, searching each one.
            *hits = [None; N];
            walk_with(line, &mut keys, hits, Searched)
        }
        done => done,
    }
}

/// How the walk finds the end of a string whose opening quote the cursor just ate: its raw
/// bytes and whether it holds escapes, or `None` when the walk cannot tell.
trait Strings<'i> {
    fn string(&mut self, c: &mut Cursor<'i>) -> Option<(&'i [u8], bool)>;
}

/// Searching each string for its end, for lines with backslashes.
struct Searched;

impl<'i> Strings<'i> for Searched {
    #[inline(always)]
    fn string(&mut self, c: &mut Cursor<'i>) -> Option<(&'i [u8], bool)> {
        c.string()
    }
}

impl<'i> Strings<'i> for &mut Quotes<'i> {
    /// With no backslash in the line, the quote after an opening one closes the string.
    #[inline(always)]
    fn string(&mut self, c: &mut Cursor<'i>) -> Option<(&'i [u8], bool)> {
        if self.next()? != c.i - 1 {
            return None;
        }
        let close = self.next()?;
        let s = &c.s[c.i..close];
        c.i = close + 1;
        Some((s, false))
    }
}

/// Valid UTF-8 without control bytes. Control bytes are only valid JSON as whitespace
/// between tokens, which gateways do not write: the full parser decides on such lines.
fn plain_text(line: &[u8]) -> bool {
    !line.iter().any(|&b| b < 0x20) && std::str::from_utf8(line).is_ok()
}

/// The quotes of a line, found 64 bytes at a time as the walk needs them, as long as the
/// line has no backslash. Strings lie between quotes, so every byte of every string is in a
/// block looked at here: a block with a backslash, a control or a non-ASCII byte has the
/// whole line checked once. A backslash anywhere stops the quotes (`backslash` tells why):
/// a quote may then be escaped.
struct Quotes<'i> {
    line: &'i [u8],
    /// Start of the block `mask` describes.
    base: usize,
    /// Quotes of the block not handed out yet, one bit per byte.
    mask: u64,
    /// Start of the next block to look at.
    next: usize,
    checked: bool,
    /// The line has a backslash and plain text: walk it with [`Searched`] instead.
    backslash: bool,
}

impl<'i> Quotes<'i> {
    fn new(line: &'i [u8]) -> Quotes<'i> {
        Quotes {
            line,
            base: 0,
            mask: 0,
            next: 0,
            checked: false,
            backslash: false,
        }
    }

    /// The next quote, or `None` at the end of the line or in a line that is not plain text.
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            if self.next >= self.line.len() {
                return None;
            }
            let (quotes, unusual) = block(&self.line[self.next..]);
            if unusual && !self.checked {
                if !plain_text(self.line) {
                    return None;
                }
                if memchr::memchr(b'\\', self.line).is_some() {
                    self.backslash = true;
                    return None;
                }
                self.checked = true;
            }
            self.base = self.next;
            self.mask = quotes;
            self.next += BLOCK;
        }
        let at = self.base + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// The quotes among the first 64 bytes of `s` (one bit per byte), and whether any of those
/// bytes is a backslash, a control or a non-ASCII byte.
#[inline(always)]
fn block(s: &[u8]) -> (u64, bool) {
    // A short tail is padded with spaces: neither quotes nor unusual.
    positions::with_block(s, b' ', |bytes| {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of every x86_64 target.
            unsafe { block_sse2(bytes) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let mut quotes = 0u64;
            let mut unusual = false;
            for (i, &b) in bytes.iter().enumerate() {
                quotes |= u64::from(b == b'"') << i;
                unusual |= !(0x20..0x80).contains(&b) || b == b'\\';
            }
            (quotes, unusual)
        }
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn block_sse2(bytes: &[u8; BLOCK]) -> (u64, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_sub_epi8,
    };
    let quote = _mm_set1_epi8(b'"' as i8);
    let backslash = _mm_set1_epi8(b'\\' as i8);
    let space = _mm_set1_epi8(0x20);
    let mut quotes = 0u64;
    let mut odd = _mm_set1_epi8(0);
    for (k, part) in bytes.chunks_exact(16).enumerate() {
        // SAFETY: reads the 16 bytes of a chunk of the array, unaligned.
        let v = unsafe { _mm_loadu_si128(part.as_ptr().cast::<__m128i>()) };
        quotes |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u16) << (16 * k);
        // The top bit of b | (b - 0x20) is set for control and non-ASCII bytes.
        odd = _mm_or_si128(odd, _mm_or_si128(v, _mm_sub_epi8(v, space)));
        odd = _mm_or_si128(odd, _mm_cmpeq_epi8(v, backslash));
    }
    (quotes, _mm_movemask_epi8(odd) != 0)
}

/// The walk itself, finding strings with `strings`.
fn walk_with<'i, const N: usize>(
    line: &'i [u8],
    keys: &mut impl Keys,
    hits: &mut [Option<Hit>; N],
    mut strings: impl Strings<'i>,
) -> Walk {
    let mut c = Cursor { s: line, i: 0 };
    c.ws();
    if !c.eat(b'{') {
        return Walk::Unsure;
    }
    c.ws();
    if c.eat(b'}') {
        return c.end();
    }
    let mut index = 0usize;
    loop {
        if !c.eat_spaced(b'"') {
            return Walk::Unsure;
        }
        let Some((key, false)) = strings.string(&mut c) else {
            return Walk::Unsure;
        };
        if !c.eat_spaced(b':') {
            return Walk::Unsure;
        }
        if c.peek() == Some(b' ') {
            c.ws();
        }
        let want = keys.slot(index, key);
        index += 1;
        let start = c.i;
        let kind = match c.peek() {
            Some(b'"') => {
                c.i += 1;
                match strings.string(&mut c) {
                    Some((_, false)) => Kind::Str,
                    // An escaped value the analysis reads needs unescaping.
                    Some((_, true)) if want.is_none() => Kind::Other,
                    _ => return Walk::Unsure,
                }
            }
            Some(b'-' | b'0'..=b'9') => match c.number() {
                Some(_) => Kind::Num,
                None => return Walk::Unsure,
            },
            Some(b't') if c.literal(b"true") => Kind::Other,
            Some(b'f') if c.literal(b"false") => Kind::Other,
            // `null` is no value: the next alias may give one.
            Some(b'n') if c.literal(b"null") => Kind::Null,
            // Nested values: left to the full parser.
            _ => return Walk::Unsure,
        };
        // `-` and `""` are no value either (gateways write them for "none"); looked at only
        // for the values the analysis wants.
        if let Some((slot, rank)) = want
            && kind != Kind::Null
            && !(kind == Kind::Str && matches!(&c.s[start..c.i], b"\"-\"" | b"\"\""))
            && hits[slot].is_none_or(|h| rank < h.rank)
        {
            // A string's span leaves out its quotes.
            let (start, end) = match kind {
                Kind::Str => (start + 1, c.i - 1),
                _ => (start, c.i),
            };
            hits[slot] = Some(Hit {
                rank,
                kind,
                start: start as u32,
                end: end as u32,
            });
        }
        if c.peek() == Some(b' ') {
            c.ws();
        }
        match c.peek() {
            Some(b',') => c.i += 1,
            Some(b'}') => {
                c.i += 1;
                return c.end();
            }
            _ => return Walk::Unsure,
        }
    }
}

struct Cursor<'i> {
    s: &'i [u8],
    i: usize,
}

impl<'i> Cursor<'i> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    #[inline(always)]
    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += usize::from(hit);
        hit
    }

    /// Eats `b`, after any spaces. Gateways write no spaces between tokens: the byte is
    /// tried first.
    #[inline(always)]
    fn eat_spaced(&mut self, b: u8) -> bool {
        match self.peek() {
            Some(x) if x == b => {
                self.i += 1;
                true
            }
            Some(b' ') => {
                self.ws();
                self.eat(b)
            }
            _ => false,
        }
    }

    #[inline(always)]
    fn ws(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    /// Only whitespace may follow the object.
    fn end(&mut self) -> Walk {
        self.ws();
        if self.i == self.s.len() {
            Walk::Done
        } else {
            Walk::Unsure
        }
    }

    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.s[self.i..].starts_with(word);
        if hit {
            self.i += word.len();
        }
        hit
    }

    /// The string after an opening quote: its raw bytes and whether it holds escapes.
    /// `None` for an unterminated string or an escape the walk leaves to the full parser.
    fn string(&mut self) -> Option<(&'i [u8], bool)> {
        let start = self.i;
        let mut escaped = false;
        loop {
            let at = self.i + memchr::memchr2(b'"', b'\\', &self.s[self.i..])?;
            if self.s[at] == b'"' {
                self.i = at + 1;
                return Some((&self.s[start..at], escaped));
            }
            // `\uXXXX` (surrogates, code point checks) is the full parser's business.
            match self.s.get(at + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                _ => return None,
            }
            escaped = true;
            self.i = at + 2;
        }
    }

    /// A number in the strict JSON grammar without an exponent, of up to 18 integer digits.
    #[inline(always)]
    fn number(&mut self) -> Option<&'i [u8]> {
        let start = self.i;
        self.eat(b'-');
        let int_start = self.i;
        self.digits();
        let int_len = self.i - int_start;
        if int_len == 0 || int_len > 18 || (int_len > 1 && self.s[int_start] == b'0') {
            return None;
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return None;
        }
        Some(&self.s[start..self.i])
    }

    #[inline(always)]
    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }
}

/// The value of a number [`Cursor::number`] accepted: integers exactly, fractions as the
/// nearest `f64`.
#[inline(never)]
fn number_value(text: &[u8]) -> Raw<'_> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.contains(&b'.') {
        // ASCII digits, a dot and maybe a minus: always valid UTF-8 and a valid float.
        let f = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok());
        return f.map_or(Raw::Other, Raw::Float);
    }
    let n = digits
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    match (negative, n) {
        // -0 is an integer zero to simd-json too.
        (true, 0) | (false, _) => Raw::UInt(n),
        (true, n) => Raw::Float(-(n as f64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 8] = ["a", "n", "f", "neg", "t", "z", "e", "dup"];

    /// The wanted keys' values, in `KEYS` order; `skip` and unknown keys are not wanted.
    fn fields(line: &str) -> Option<Vec<(String, Raw<'_>)>> {
        let mut hits = [None; KEYS.len()];
        let slot_of = |k: &[u8]| KEYS.iter().position(|w| w.as_bytes() == k).map(|i| (i, 0));
        let walk = walk(line.as_bytes(), ByFn(slot_of), &mut hits);
        (walk == Walk::Done).then(|| {
            KEYS.iter()
                .zip(hits)
                .filter_map(|(k, h)| Some((k.to_string(), h?.value(line.as_bytes()))))
                .collect()
        })
    }

    proptest::proptest! {
        /// Remembered answers equal fresh ones, whatever keys come at a place from one line
        /// to the next (same keys, others, longer than a place holds, more than it has).
        #[test]
        fn remembered_keys_answer_as_the_lookup(
            lines in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec![
                        "a", "n", "f", "neg", "t", "z", "e", "dup", "other",
                        "a_key_longer_than_a_place_holds", "an", "nn",
                    ]),
                    0..60,
                ),
                1..8,
            ),
        ) {
            let slot_of = |k: &[u8]| KEYS.iter().position(|w| w.as_bytes() == k).map(|i| (i, (i % 3) as u8));
            let mut memo = KeyMemo::default();
            for keys in &lines {
                let body: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("\"{k}\":{i}")).collect();
                let line = format!("{{{}}}", body.join(","));
                let mut fresh = [None; KEYS.len()];
                let mut remembered = [None; KEYS.len()];
                let a = walk(line.as_bytes(), ByFn(slot_of), &mut fresh);
                let b = walk(line.as_bytes(), Remembered { keys: ByFn(slot_of), memo: &mut memo }, &mut remembered);
                proptest::prop_assert_eq!(a, b);
                proptest::prop_assert_eq!(fresh, remembered);
            }
        }
    }

    /// Regression: a key as long as an empty place's length marker (255 bytes) was compared
    /// with the place's 24 bytes and panicked.
    #[test]
    fn a_key_of_any_length_is_answered() {
        let slot_of = |k: &[u8]| KEYS.iter().position(|w| w.as_bytes() == k).map(|i| (i, 0));
        for len in [24, 25, 254, 255, 256] {
            let mut memo = KeyMemo::default();
            let key = "k".repeat(len);
            let line = format!(r#"{{"{key}":1,"a":"x"}}"#);
            let mut hits = [None; KEYS.len()];
            let keys = Remembered {
                keys: ByFn(slot_of),
                memo: &mut memo,
            };
            assert_eq!(walk(line.as_bytes(), keys, &mut hits), Walk::Done, "{len}");
            assert_eq!(
                hits[0].map(|h| h.value(line.as_bytes())),
                Some(Raw::Str(b"x"))
            );
        }
    }

    #[test]
    fn hands_out_wanted_top_level_values() {
        let got = fields(
            r#"{"a":"x","skip":"y\"z","n":200,"f":0.5,"neg":-3,"t":true,"z":null, "e":"" ,"dup":1,"dup":2}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("a".into(), Raw::Str(b"x")),
                ("n".into(), Raw::UInt(200)),
                ("f".into(), Raw::Float(0.5)),
                ("neg".into(), Raw::Float(-3.0)),
                ("t".into(), Raw::Other),
                // The first of equal ranks wins.
                ("dup".into(), Raw::UInt(1)),
            ]
        );
        assert_eq!(fields("{}").unwrap(), vec![]);
        assert_eq!(fields(" { } ").unwrap(), vec![]);
    }

    #[test]
    fn leaves_anything_unusual_to_the_full_parser() {
        for line in [
            r#"{"a":"x\/y"}"#,              // escape in a wanted value
            r#"{"skip":"\u00e9"}"#,         // \u escape
            r#"{"a":{"b":1}}"#,             // nested
            r#"{"a":[1]}"#,                 // array
            r#"{"a":1e3}"#,                 // exponent
            r#"{"a":01}"#,                  // leading zero
            r#"{"a":1.}"#,                  // empty fraction
            r#"{"a":1234567890123456789}"#, // long integer
            r#"{"a":"x"}x"#,                // trailing bytes
            r#"{"a":"x""#,                  // unterminated object
            r#"{"a":"x"#,                   // unterminated string
            r#"{"a" "x"}"#,                 // no colon
            r#"{"a" x1}"#,                  // a stray byte after spaces: colon
            r#"{"a" : x1}"#,                // value
            r#"{"a":1 x}"#,                 // end of the object
            r#"{ x"a":1}"#,                 // key
            r#"{"a":1 x,"n":2}"#,           // comma
            r#"{"a":"x",}"#,                // trailing comma
            r#"{"a":tru}"#,                 // bad literal
            "{\"a\":\"x\ty\"}",             // control byte
            r#"["a"]"#,                     // not an object
            "",
        ] {
            assert_eq!(fields(line), None, "{line}");
        }
        assert_eq!(
            walk(
                b"{\"a\":\"\xff\"}",
                ByFn(|_: &[u8]| Some((0, 0))),
                &mut [None]
            ),
            Walk::Unsure
        );
        // An escape in a value nobody reads is skipped over.
        assert!(fields(r#"{"skip":"a\"b\\c\/d\n"}"#).is_some());
    }
}
