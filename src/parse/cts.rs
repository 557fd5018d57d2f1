//! Cloud Trace Service documents: traces as the API and OBS deliver them, read whole.
//!
//! - a ListTraces response, `{"meta_data": {...}, "traces": [...]}`, in any key order, pretty
//!   or compact (as `curl` saves it, on one line);
//! - several such responses one after another (pages appended to one file);
//! - a JSON array of traces (what CTS writes to OBS, `*_CloudTrace_*.json.gz`);
//! - a single pretty-printed trace.
//!
//! Each trace is the same object a one-trace-per-line file holds (see
//! [`super::json::trace_request`]). Documents are small (a page holds at most 200 traces, an
//! OBS file a few minutes of them), so they are read whole.

use simd_json::tape::Value;

use super::json::trace_request;
use super::{Malformed, Request};
use crate::catalog::Catalog;

/// Calls `f` with each trace of the document(s), and `bad` with the index and reason of each
/// trace that cannot be read. A document holding no traces at all is one error, saying what
/// it looked like. `zone` reads times written without a zone.
pub fn for_each_trace(
    doc: &mut [u8],
    catalog: &Catalog,
    zone: Option<i32>,
    mut f: impl FnMut(usize, &Request<'_>),
    mut bad: impl FnMut(usize, Malformed),
) -> Result<usize, Malformed> {
    let mut times = super::time::TimeCache::with_zone(zone);
    let mut n = 0;
    let mut copy = doc.to_vec();
    match simd_json::to_tape(&mut copy) {
        Ok(tape) => {
            let traces = traces_of(tape.as_value())?;
            read_traces(traces, catalog, &mut times, &mut n, &mut f, &mut bad);
            Ok(n)
        }
        Err(whole) => {
            // Pages appended one after another: one complete document per line.
            let lines: Vec<&mut [u8]> = doc
                .split_mut(|&b| b == b'\n')
                .filter(|l| !l.trim_ascii().is_empty())
                .collect();
            if lines.len() < 2 {
                return Err(Malformed(format!("invalid JSON document: {whole}")));
            }
            for (k, line) in lines.into_iter().enumerate() {
                let tape = simd_json::to_tape(line).map_err(|e| {
                    Malformed(format!(
                        "invalid JSON document (the whole file: {whole}; read as one document per line, document {}: {e})",
                        k + 1
                    ))
                })?;
                let traces = traces_of(tape.as_value())
                    .map_err(|m| Malformed(format!("document {}: {}", k + 1, m.0)))?;
                read_traces(traces, catalog, &mut times, &mut n, &mut f, &mut bad);
            }
            Ok(n)
        }
    }
}

/// The traces of one document: its `traces` array, the array itself, or the one trace.
fn traces_of<'t, 'i>(root: Value<'t, 'i>) -> Result<Vec<Value<'t, 'i>>, Malformed> {
    if let Some(items) = root.as_array() {
        return Ok(items.iter().collect());
    }
    if root.as_object().is_none() {
        return Err(Malformed(
            "expected a CTS document (an object with a traces array, or an array of traces)".into(),
        ));
    }
    if let Some(t) = root.get("traces") {
        return match t.as_array() {
            Some(items) => Ok(items.iter().collect()),
            None => Err(Malformed(
                "a JSON document whose traces is not an array".into(),
            )),
        };
    }
    if root.get("trace_name").is_some() {
        return Ok(vec![root]);
    }
    let keys: Vec<String> = root
        .as_object()
        .map(|o| o.iter().take(8).map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default();
    Err(Malformed(format!(
        "a JSON document without a traces array (keys: {}): no CTS trace in it",
        keys.join(", ")
    )))
}

fn read_traces(
    traces: Vec<Value<'_, '_>>,
    catalog: &Catalog,
    times: &mut super::time::TimeCache,
    n: &mut usize,
    f: &mut impl FnMut(usize, &Request<'_>),
    bad: &mut impl FnMut(usize, Malformed),
) {
    for trace in traces {
        let i = *n;
        *n += 1;
        if trace.as_object().is_none() {
            bad(i, Malformed("expected a trace object".into()));
            continue;
        }
        match trace_request(trace, catalog, times) {
            Ok(req) => f(i, &req),
            Err(e) => bad(i, e),
        }
    }
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
            None,
            |i, r| seen.push((i, r.trace_route.is_some())),
            |i, m| bad.push((i, m.0)),
        )
        .unwrap();
        assert_eq!(n, 4);
        assert_eq!(seen, [(0, true), (3, false)]);
        assert_eq!(bad.len(), 2);
        let mut not_doc = b"{\"x\": 1}".to_vec();
        let err = for_each_trace(&mut not_doc, &catalog, None, |_, _| (), |_, _| ()).unwrap_err();
        assert!(
            err.0.contains("without a traces array (keys: x)"),
            "{err:?}"
        );
    }

    fn names(doc: &str) -> Result<Vec<(String, bool)>, String> {
        let catalog = Catalog::embedded();
        let mut doc = doc.as_bytes().to_vec();
        let mut seen = Vec::new();
        for_each_trace(
            &mut doc,
            &catalog,
            None,
            |_, r| seen.push((String::from_utf8_lossy(r.user).into_owned(), r.console)),
            |_, _| (),
        )
        .map_err(|m| m.0)?;
        Ok(seen)
    }

    #[test]
    fn every_document_shape() {
        let t = |user: &str| {
            format!(
                r#"{{"trace_name": "renewResources", "code": 200, "time": 1796378400000, "user": {{"name": "{user}"}}}}"#
            )
        };
        // The server's key order, compact.
        let list = format!(
            r#"{{"meta_data":{{"count":2,"marker":null}},"traces":[{},{}]}}"#,
            t("a"),
            t("b")
        );
        assert_eq!(names(&list).unwrap().len(), 2);
        // Pages appended one per line.
        let pages = format!("{list}\n{list}\n");
        assert_eq!(names(&pages).unwrap().len(), 4);
        // An array, as delivered to OBS, with the user as a JSON string.
        let obs = r#"[{"trace_name": "payOrder", "code": "200", "time": 1796378400000, "user": "{\"domain\": {\"name\": \"acct\"}, \"name\": \"dave\", \"id\": \"u4\"}"}]"#;
        assert_eq!(names(obs).unwrap(), [("dave".to_owned(), true)]);
        // One pretty trace.
        assert_eq!(names(&format!("{}\n", t("c"))).unwrap().len(), 1);
        // Not a CTS document, saying what it was.
        assert!(
            names(r#"{"traces": {}}"#)
                .unwrap_err()
                .contains("not an array")
        );
        assert!(names("[1, 2]").is_ok());
        assert!(
            names("{\"a\": 1}\n{\"b\": 2}\n")
                .unwrap_err()
                .contains("without a traces array")
        );
        assert!(names("{not json").unwrap_err().contains("invalid JSON"));
    }

    #[test]
    fn user_strings_are_read_at_the_top_level_only() {
        use super::super::json::tests_top_level_string as top;
        let text = br#"{"domain": {"name": "acct", "id": "d1"}, "name": "dave", "id": "u4"}"#;
        assert_eq!(top(text, b"name"), Some(&b"dave"[..]));
        assert_eq!(top(text, b"id"), Some(&b"u4"[..]));
        assert_eq!(top(br#"{"domain": {"name": "acct"}}"#, b"name"), None);
        assert_eq!(top(br#"{"name": "a\"b"}"#, b"name"), None);
        assert_eq!(top(b"{\"name\": ", b"name"), None);
    }
}
