//! Request-target normalisation, without allocating per call.
//!
//! The rules, in the order RFC 3986 section 6.2.2 gives them:
//! - a full URL (`https://host:443/v2/...`) is reduced to its path; the host is kept;
//! - the query string and the fragment are dropped;
//! - the path is split at `/` *before* percent-decoding, so an encoded slash (`%2F`) stays
//!   inside its segment and can never move a request onto another route;
//! - each segment is percent-decoded; a segment that decodes to `.` or `..` is a dot segment
//!   (`%2E%2E` is `..` under RFC 3986's percent-encoding normalisation);
//! - dot segments are removed as RFC 3986 section 5.2.4 says, with empty segments taking part
//!   (`/a//../b` is `/a/b`), and `..` above the root stays at the root;
//! - finally empty segments are dropped, so repeated and trailing slashes are tolerated.

use crate::bytes::positions;

/// Reusable buffers for normalising request targets; keep one per thread.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    /// Decoded segments, back to back.
    buf: Vec<u8>,
    /// `(start, end)` of each segment in `buf`.
    segs: Vec<(u32, u32)>,
    /// Lowercased host of a full URL, empty when the target was a path.
    host: Vec<u8>,
}

/// What normalisation changed, for counting unusual targets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Normalization {
    /// The target was a full URL (`scheme://host/path`).
    pub absolute_url: bool,
    /// At least one `.` or `..` segment was resolved.
    pub dot_segments: bool,
    /// At least one percent-escape was decoded.
    pub percent_decoded: bool,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }

    /// Normalises `target` into this scratch's segments, replacing what was there.
    pub fn normalize(&mut self, target: &[u8]) -> Normalization {
        let mut info = Normalization::default();
        self.buf.clear();
        self.segs.clear();
        self.host.clear();
        let mut path = target.trim_ascii();
        if let Some((authority, rest)) = split_absolute_url(path) {
            info.absolute_url = true;
            self.host.extend_from_slice(host_of(authority));
            self.host.make_ascii_lowercase();
            path = rest;
        }
        let path = path.strip_prefix(b"/").unwrap_or(path);
        // One pass, 64 bytes at a time, finds the segments up to the query or fragment and
        // whether any needs decoding, at less cost than a memchr call each.
        let mut start = 0usize;
        let mut end = path.len();
        let mut base = 0usize;
        while base < path.len() {
            let [slashes, query, fragment, escape] =
                positions::masks(&path[base..], [b'/', b'?', b'#', b'%']);
            let stops = query | fragment | escape;
            let before = match stops {
                0 => !0,
                _ => (1u64 << stops.trailing_zeros()) - 1,
            };
            let mut ends = slashes & before;
            while ends != 0 {
                let i = base + ends.trailing_zeros() as usize;
                ends &= ends - 1;
                self.plain_segment(path, start, i, &mut info);
                start = i + 1;
            }
            if stops != 0 {
                let i = base + stops.trailing_zeros() as usize;
                if path[i] == b'%' {
                    let end = memchr::memchr2(b'?', b'#', &path[i..]).map_or(path.len(), |j| i + j);
                    self.segs.clear();
                    info.dot_segments = false;
                    self.decoded_segments(&path[..end], &mut info);
                    return info;
                }
                end = i;
                break;
            }
            base += positions::BLOCK;
        }
        self.plain_segment(path, start, end, &mut info);
        self.buf.extend_from_slice(&path[..end]);
        self.segs.retain(|&(s, e)| s != e);
        info
    }

    /// Adds segment `path[start..end]` of a path without escapes (the segments are the path's
    /// own bytes, copied once at the end); a dot segment only moves the segment list.
    #[inline(always)]
    fn plain_segment(&mut self, path: &[u8], start: usize, end: usize, info: &mut Normalization) {
        match &path[start..end] {
            b"." => info.dot_segments = true,
            b".." => {
                info.dot_segments = true;
                self.segs.pop();
            }
            _ => self.segs.push((start as u32, end as u32)),
        }
    }

    /// Splits `path` at `/`, percent-decodes each segment and removes dot segments.
    fn decoded_segments(&mut self, path: &[u8], info: &mut Normalization) {
        for raw in path.split(|&b| b == b'/') {
            let start = self.buf.len();
            info.percent_decoded |= percent_decode_into(raw, &mut self.buf);
            match &self.buf[start..] {
                b"." => {
                    info.dot_segments = true;
                    self.buf.truncate(start);
                }
                b".." => {
                    info.dot_segments = true;
                    self.buf.truncate(start);
                    if let Some((s, _)) = self.segs.pop() {
                        self.buf.truncate(s as usize);
                    }
                }
                _ => self.segs.push((start as u32, self.buf.len() as u32)),
            }
        }
        self.segs.retain(|&(s, e)| s != e);
    }

    /// Number of segments of the last normalised target.
    pub fn len(&self) -> usize {
        self.segs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Segment `i` of the last normalised target, decoded.
    pub fn segment(&self, i: usize) -> &[u8] {
        let (s, e) = self.segs[i];
        &self.buf[s as usize..e as usize]
    }

    pub fn segments(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.segs.len()).map(|i| self.segment(i))
    }

    /// The lowercased host when the last target was a full URL.
    pub fn host(&self) -> Option<&[u8]> {
        (!self.host.is_empty()).then_some(&self.host[..])
    }
}

/// `scheme://authority/rest` -> `(authority, /rest)`.
fn split_absolute_url(t: &[u8]) -> Option<(&[u8], &[u8])> {
    // A scheme starts with a letter; most targets start with `/`.
    if !t.first().is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let colon = t.iter().take(16).position(|&b| b == b':')?;
    let scheme = &t[..colon];
    let valid_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let rest = t[colon..].strip_prefix(b"://")?;
    if !valid_scheme {
        return None;
    }
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    Some((&rest[..end], &rest[end..]))
}

/// `user@host:port` -> `host`; `[::1]:8443` -> `[::1]`.
fn host_of(authority: &[u8]) -> &[u8] {
    let after_user = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    match after_user.iter().rposition(|&b| b == b':') {
        Some(c) if !after_user[c..].contains(&b']') => &after_user[..c],
        _ => after_user,
    }
}

/// Appends `raw` to `out` with `%XX` escapes decoded; malformed escapes are kept as written.
/// Returns whether anything was decoded.
fn percent_decode_into(raw: &[u8], out: &mut Vec<u8>) -> bool {
    if !raw.contains(&b'%') {
        out.extend_from_slice(raw);
        return false;
    }
    let mut decoded = false;
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let (Some(h), Some(l)) = (
                raw.get(i + 1).and_then(|&b| hex(b)),
                raw.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push(h << 4 | l);
            decoded = true;
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    decoded
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(target: &str) -> (Vec<String>, Normalization) {
        let mut s = Scratch::new();
        let info = s.normalize(target.as_bytes());
        (
            s.segments()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect(),
            info,
        )
    }

    /// (target, expected segments joined by '|').
    const CASES: &[(&str, &str)] = &[
        ("/v2/orders", "v2|orders"),
        ("/v2/orders/", "v2|orders"),
        ("//v2///orders//", "v2|orders"),
        ("/v2/orders?x=1&y=/a/b", "v2|orders"),
        ("/v2/orders#frag/ment", "v2|orders"),
        ("/v2/orders?q#f", "v2|orders"),
        ("https://bss.myhuaweicloud.com/v2/orders?x", "v2|orders"),
        ("HTTP://user@Host:8080/v2/orders", "v2|orders"),
        ("https://host", ""),
        ("https://host?x=/v2/orders", ""),
        ("/v2/a/../b", "v2|b"),
        ("/v2/a/./b", "v2|a|b"),
        ("/v2/a/b/..", "v2|a"),
        ("/../../v2", "v2"),
        ("/a//../b", "a|b"),
        ("/v2/%2E%2E/x", "x"),
        ("/v2/%2e/x", "v2|x"),
        ("/v2/%63ustomer-orders", "v2|customer-orders"),
        ("/v2/a%2Fb/c", "v2|a/b|c"),
        ("/v2/a%2F..%2Fb", "v2|a/../b"),
        ("/v2/%zz/%4", "v2|%zz|%4"),
        ("  /v2/x \n", "v2|x"),
        ("v2/x", "v2|x"),
        ("", ""),
        ("/", ""),
        ("*", "*"),
    ];

    proptest::proptest! {
        /// The one-pass split (copying plain paths once, handing escaped ones to the
        /// decoder) gives the segments the decoding path gives for the path up to the query.
        #[test]
        fn plain_paths_split_like_decoded_ones(
            rooted in proptest::bool::ANY,
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "", ".", "..", "v2", "orders", "a.b", "...", "%2E", "%2e%2E", "x%41", "%2F",
                    "q?a=/b/..", "f#/c", "?", "#",
                ]),
                0..10,
            ),
        ) {
            let path = format!("{}{}", if rooted { "/" } else { "" }, parts.join("/"));
            let (mut plain, mut decoded) = (Scratch::new(), Scratch::new());
            let a = plain.normalize(path.as_bytes());
            let cut = path.find(['?', '#']).map_or(&path[..], |i| &path[..i]);
            let cut = cut.strip_prefix('/').unwrap_or(cut);
            let mut b = Normalization::default();
            decoded.decoded_segments(cut.as_bytes(), &mut b);
            proptest::prop_assert_eq!(a, b);
            let segs = |s: &Scratch| s.segments().map(<[u8]>::to_vec).collect::<Vec<_>>();
            proptest::prop_assert_eq!(segs(&plain), segs(&decoded), "{}", path);
        }
    }

    #[test]
    fn normalizes_targets() {
        for (target, want) in CASES {
            let (got, _) = segs(target);
            assert_eq!(got.join("|"), *want, "target {target:?}");
        }
    }

    #[test]
    fn reports_what_it_did() {
        assert!(segs("/a/../b").1.dot_segments);
        assert!(!segs("/a/..b").1.dot_segments);
        assert!(segs("/a/%41").1.percent_decoded);
        assert!(!segs("/a/%4").1.percent_decoded);
        assert!(segs("https://h/a").1.absolute_url);
        assert!(!segs("/https://h/a").1.absolute_url);
    }

    #[test]
    fn keeps_the_host_of_a_full_url() {
        let mut s = Scratch::new();
        s.normalize(b"https://admin@BSS.MyHuaweiCloud.com:443/v2/x");
        assert_eq!(s.host(), Some(&b"bss.myhuaweicloud.com"[..]));
        s.normalize(b"http://[::1]:8080/v2/x");
        assert_eq!(s.host(), Some(&b"[::1]"[..]));
        s.normalize(b"/v2/x");
        assert_eq!(s.host(), None);
    }
}
