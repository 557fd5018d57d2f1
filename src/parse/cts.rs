//! Cloud Trace Service exports: one `{"traces": [...]}` document per file.
//!
//! Such files are read whole (CTS exports come paginated, so they are small); each trace is
//! the same object as a one-trace-per-line file holds (see [`super::json::trace_request`]).

use super::json::trace_request;
use super::{Malformed, Request};
use crate::catalog::Catalog;

/// Calls `f` with each trace of the document, and `bad` with the index and reason of each
/// trace that cannot be read. An unreadable document is one error.
pub fn for_each_trace(
    doc: &mut [u8],
    catalog: &Catalog,
    mut f: impl FnMut(usize, &Request<'_>),
    mut bad: impl FnMut(usize, Malformed),
) -> Result<usize, Malformed> {
    let tape =
        simd_json::to_tape(doc).map_err(|e| Malformed(format!("invalid JSON document: {e}")))?;
    let root = tape.as_value();
    let traces = root
        .get("traces")
        .and_then(|t| t.as_array())
        .ok_or_else(|| Malformed("expected {\"traces\": [...]}".into()))?;
    let mut n = 0;
    let mut times = super::time::TimeCache::default();
    for (i, trace) in traces.iter().enumerate() {
        n += 1;
        if trace.as_object().is_none() {
            bad(i, Malformed("expected a trace object".into()));
            continue;
        }
        match trace_request(trace, catalog, &mut times) {
            Ok(req) => f(i, &req),
            Err(e) => bad(i, e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_trace_and_reports_bad_ones() {
        let catalog = Catalog::embedded();
        let mut doc = br#"{"traces": [
            {"trace_name": "payCustomerOrderV3", "code": "200", "user": {"name": "dave"}, "time": 1796378400000},
            {"code": "200"},
            7,
            {"trace_name": "listThings", "code": "200"}
        ], "meta_data": {"count": 4}}"#
            .to_vec();
        let mut seen = Vec::new();
        let mut bad = Vec::new();
        let n = for_each_trace(
            &mut doc,
            &catalog,
            |i, r| seen.push((i, r.trace_route.is_some())),
            |i, m| bad.push((i, m.0)),
        )
        .unwrap();
        assert_eq!(n, 4);
        assert_eq!(seen, [(0, true), (3, false)]);
        assert_eq!(bad.len(), 2);
        let mut not_doc = b"{\"x\": 1}".to_vec();
        assert!(for_each_trace(&mut not_doc, &catalog, |_, _| (), |_, _| ()).is_err());
    }
}
