//! The literal prefilter: which lines are worth parsing.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind, packed};

use crate::catalog::{Catalog, Segment};
use crate::parse::LogFormat;

/// Skips lines that cannot be calls to the catalog's service, before parsing them.
///
/// A catalog call's normalised path holds every literal segment of its route, and dot-segment
/// removal only ever drops segments, so the raw line must contain the route's second literal
/// segment (`orders` in `/v2/orders/...`, `customer` in `/v1.0/{domain_id}/customer/...`),
/// unless escapes hide it: a line with `%` (percent-encoding) or `\u` (JSON unicode escape)
/// always passes. The same holds for requests that look like the service without matching a
/// route (they share a route's leading segments up to its second literal), for requests to the
/// catalog's hosts (the host is a pattern, in lower and upper case) and for CTS traces (trace
/// names are patterns). `\/`-escaped slashes do not matter: no pattern contains a slash.
///
/// Speed: the literal patterns are at least a few bytes long and matched case-sensitively,
/// which suits a SIMD (Teddy) search over a whole chunk; `%` and `\u` are looked for in the
/// lines between its hits by the same memchr3 pass that counts them.
#[derive(Debug, Clone)]
pub struct Prefilter {
    /// Route literals and hosts, for gateway logs (JSON lines, API Gateway).
    pub(super) paths: Option<Literals>,
    /// Trace names, for CTS traces (which name their API instead of addressing it).
    pub(super) traces: Option<Literals>,
    /// A route with no literal segment at all: every line may be a call.
    pub(super) pass_all: bool,
}

/// A set of literals searched for as a whole.
///
/// aho-corasick's packed (Teddy) searcher where the CPU has it: the general automaton picks
/// its own prefilter from the patterns, and for some catalogs picks a much slower one, while
/// the packed searcher runs at about the same speed for every set of literals tried
/// (benches/RESULTS.md, "Comment figures"). The automaton is the fallback.
#[derive(Debug, Clone)]
pub(super) enum Literals {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Literals {
    fn new(patterns: &[String]) -> Literals {
        let teddy = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(patterns)
            .build();
        match teddy {
            Some(searcher) => Literals::Packed(searcher),
            None => Literals::automaton(patterns),
        }
    }

    fn automaton(patterns: &[String]) -> Literals {
        Literals::Automaton(
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                .build(patterns)
                .expect("a few short literal patterns always build"),
        )
    }

    /// Where the first literal at or after `from` starts.
    #[inline]
    pub(super) fn find(&self, haystack: &[u8], from: usize) -> Option<usize> {
        let span = aho_corasick::Span::from(from..haystack.len());
        match self {
            Literals::Packed(p) => p.find_in(haystack, span).map(|m| m.start()),
            Literals::Automaton(ac) => ac
                .find(aho_corasick::Input::new(haystack).span(span))
                .map(|m| m.start()),
        }
    }

    fn is_match(&self, haystack: &[u8]) -> bool {
        self.find(haystack, 0).is_some()
    }
}

impl Prefilter {
    pub fn new(catalog: &Catalog) -> Prefilter {
        let mut paths: Vec<String> = Vec::new();
        let mut traces: Vec<String> = Vec::new();
        let mut pass_all = false;
        for r in catalog.routes() {
            let mut literals = r.template.segments().iter().filter_map(literal);
            let first = literals.next();
            match literals.next().or(first) {
                Some(lit) => paths.push(lit.to_owned()),
                None => pass_all = true,
            }
            traces.extend(r.trace_names.iter().cloned());
            traces.extend(r.console_trace_names.iter().cloned());
        }
        for host in catalog.hosts() {
            paths.push(host.to_ascii_lowercase());
            paths.push(host.to_ascii_uppercase());
        }
        let build = |mut patterns: Vec<String>| {
            patterns.sort();
            patterns.dedup();
            (!patterns.is_empty()).then(|| Literals::new(&patterns))
        };
        Prefilter {
            paths: build(paths),
            traces: build(traces),
            pass_all,
        }
    }

    pub(super) fn literals(&self, format: LogFormat) -> Option<&Literals> {
        match format {
            LogFormat::Cts | LogFormat::CtsDocument => self.traces.as_ref(),
            LogFormat::Json | LogFormat::JsonDocument | LogFormat::Apig | LogFormat::Clf => {
                self.paths.as_ref()
            }
        }
    }

    /// False only for lines that cannot be calls to the catalog's service.
    pub fn may_match(&self, line: &[u8], format: LogFormat) -> bool {
        self.pass_all
            || memchr::memchr(b'%', line).is_some()
            || memchr::memmem::find(line, b"\\u").is_some()
            || self.literals(format).is_some_and(|l| l.is_match(line))
    }
}

fn literal(s: &Segment) -> Option<&str> {
    match s {
        Segment::Literal(l) => Some(l),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The packed searcher and the automaton find the same first literal from any
        /// position, in text made of pieces of the patterns.
        #[test]
        fn packed_literals_agree_with_the_automaton(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "bills", "bill", "costs", "cos", "orders", "bss.myhuaweicloud.com",
                    "BSS.MYHUAWEICLOUD.COM", "bss.", "x", "\n", "/", "\"", "é",
                ]),
                0..60,
            ),
        ) {
            let patterns: Vec<String> = ["bills", "costs", "orders", "bss.myhuaweicloud.com", "BSS.MYHUAWEICLOUD.COM"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let packed = Literals::new(&patterns);
            proptest::prop_assume!(matches!(packed, Literals::Packed(_)));
            let automaton = Literals::automaton(&patterns);
            let text = pieces.concat();
            for from in 0..=text.len() {
                proptest::prop_assert_eq!(
                    packed.find(text.as_bytes(), from),
                    automaton.find(text.as_bytes(), from)
                );
            }
        }
    }
}
