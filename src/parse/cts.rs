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
    let values = top_values(doc);
    if values.is_empty() {
        return Err(Malformed("an empty document".into()));
    }
    let several = values.len() > 1;
    let mut errors = Vec::new();
    for (k, &(start, end, complete)) in values.iter().enumerate() {
        let label = if several {
            format!("document {}: ", k + 1)
        } else {
            String::new()
        };
        if complete && end - start > LARGE {
            match salvage(
                &doc[start..end],
                catalog,
                &mut times,
                &mut n,
                &mut f,
                &mut bad,
            ) {
                Ok(()) => continue,
                Err(why) => {
                    errors.push(format!("{label}{why}"));
                    continue;
                }
            }
        }
        let mut buf = doc[start..end].to_vec();
        let invalid = if complete {
            match simd_json::to_tape(&mut buf) {
                Ok(tape) => {
                    match traces_of(tape.as_value()) {
                        Ok(traces) => {
                            read_traces(traces, catalog, &mut times, &mut n, &mut f, &mut bad)
                        }
                        Err(m) => errors.push(format!("{label}{}", m.0)),
                    }
                    continue;
                }
                Err(e) => format!("invalid JSON ({e})"),
            }
        } else {
            "the document is cut (it ends before its closing bracket)".to_owned()
        };
        // A damaged or cut document: the complete traces before the damage are read.
        let before = n;
        let _ = salvage(
            &doc[start..end],
            catalog,
            &mut times,
            &mut n,
            &mut f,
            &mut bad,
        );
        errors.push(format!(
            "{label}{invalid}; {} complete trace(s) before it were read",
            n - before
        ));
    }
    if errors.is_empty() {
        Ok(n)
    } else {
        Err(Malformed(errors.join("; ")))
    }
}

/// Documents larger than this are read a trace at a time: a whole simd-json tape takes many
/// times a document's size in memory, while one trace's tape stays as small as the trace.
const LARGE: usize = 8 << 20;

/// Calls `f` with the bytes of each record of a JSON document of gateway records: the
/// elements of its top-level arrays (batched loggers), or its top-level objects. `Err` says
/// what could not be read (a cut array, an element that is no object); the records before
/// it were handed out.
pub fn for_each_record(doc: &[u8], mut f: impl FnMut(usize, &[u8])) -> Result<usize, Malformed> {
    let mut n = 0;
    for (start, end, complete) in top_values(doc) {
        match doc[start] {
            b'{' if complete => {
                f(n, &doc[start..end]);
                n += 1;
            }
            b'[' => {
                let mut i = start + 1;
                loop {
                    while i < end && (doc[i].is_ascii_whitespace() || doc[i] == b',') {
                        i += 1;
                    }
                    match doc.get(i) {
                        Some(b']') => break,
                        Some(b'{') => {}
                        None => {
                            return Err(Malformed(format!(
                                "the array is cut after {n} complete record(s)"
                            )));
                        }
                        Some(_) => {
                            return Err(Malformed(format!(
                                "byte {i}: expected a record object after {n} record(s)"
                            )));
                        }
                    }
                    let Some(e) = value_end(doc, i).filter(|&e| e <= end) else {
                        return Err(Malformed(format!(
                            "the array is cut after {n} complete record(s)"
                        )));
                    };
                    f(n, &doc[i..e]);
                    n += 1;
                    i = e;
                }
            }
            _ => {
                return Err(Malformed(format!(
                    "byte {start}: expected an array of records or a record object"
                )));
            }
        }
    }
    Ok(n)
}

/// Where the JSON value starting at `start` ends (exclusive), or `None` when the text ends
/// first. Strings are skipped with their escapes; only brackets outside strings count.
fn value_end(doc: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    let scalar = !matches!(doc.get(start), Some(b'{' | b'[' | b'"'));
    if scalar {
        let len = doc[start..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'{' | b'[' | b',' | b']' | b'}'))
            .unwrap_or(doc.len() - start);
        return Some(start + len.max(1));
    }
    let mut in_string = false;
    while i < doc.len() {
        let b = doc[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// The top-level values of a file, one after another (pages appended, pretty or compact):
/// (start, end, complete).
fn top_values(doc: &[u8]) -> Vec<(usize, usize, bool)> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < doc.len() && (doc[i].is_ascii_whitespace() || doc[i] == b',') {
            i += 1;
        }
        if i >= doc.len() {
            return out;
        }
        match value_end(doc, i) {
            Some(end) => {
                out.push((i, end, true));
                i = end;
            }
            None => {
                out.push((i, doc.len(), false));
                return out;
            }
        }
    }
}

/// Reads the traces of a document's trace array (the document itself when it is an array,
/// else its `traces`) one at a time, up to the end of the array or the first trace that is
/// cut: for a damaged document, and for a large one, whose whole tape would take many times
/// its size in memory. `Err` says where the array did not end as it should.
fn salvage(
    doc: &[u8],
    catalog: &Catalog,
    times: &mut super::time::TimeCache,
    n: &mut usize,
    f: &mut impl FnMut(usize, &Request<'_>),
    bad: &mut impl FnMut(usize, Malformed),
) -> Result<(), String> {
    let open = if doc.first() == Some(&b'[') {
        Some(0)
    } else {
        memchr::memmem::find(doc, b"\"traces\"").and_then(|k| {
            let rest = &doc[k + 8..];
            let colon = rest.iter().position(|b| !b.is_ascii_whitespace())?;
            if rest[colon] != b':' {
                return None;
            }
            let after = &rest[colon + 1..];
            let bracket = after.iter().position(|b| !b.is_ascii_whitespace())?;
            (after[bracket] == b'[').then_some(k + 8 + colon + 1 + bracket)
        })
    };
    let Some(open) = open else {
        return Err("no traces array".into());
    };
    let mut i = open + 1;
    loop {
        while i < doc.len() && (doc[i].is_ascii_whitespace() || doc[i] == b',') {
            i += 1;
        }
        match doc.get(i) {
            None => return Err("the traces array is cut".into()),
            Some(b']') => return Ok(()),
            Some(b'{') => {}
            Some(_) => return Err(format!("byte {i}: expected a trace object")),
        }
        let Some(end) = value_end(doc, i) else {
            return Err("the document is cut (it ends before its closing bracket)".into());
        };
        let mut buf = doc[i..end].to_vec();
        let k = *n;
        *n += 1;
        match simd_json::to_tape(&mut buf) {
            Ok(tape) => match trace_request(tape.as_value(), catalog, times) {
                Ok(req) => f(k, &req),
                Err(e) => bad(k, e),
            },
            Err(e) => bad(k, Malformed(format!("invalid JSON trace: {e}"))),
        }
        i = end;
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
        assert!(
            names("{not json")
                .unwrap_err()
                .contains("the document is cut")
        );
        assert!(
            names("{\"traces\": [1 2]}")
                .unwrap_err()
                .contains("invalid JSON")
        );
        // Pretty pages appended.
        let pretty = format!("{}\n", list.replace(",", ",\n  "));
        assert_eq!(names(&format!("{pretty}{pretty}")).unwrap().len(), 4);
        // A cut document: the complete traces before the cut are read, and it is named.
        let cut = &list[..list.len() - 30];
        let mut doc = cut.as_bytes().to_vec();
        let mut seen = 0;
        let err = for_each_trace(
            &mut doc,
            &Catalog::embedded(),
            None,
            |_, _| seen += 1,
            |_, _| (),
        )
        .unwrap_err();
        assert_eq!(seen, 1);
        assert!(
            err.0.contains("cut") && err.0.contains("1 complete trace(s)"),
            "{err:?}"
        );
    }

    #[test]
    fn a_large_document_is_read_a_trace_at_a_time_with_the_same_result() {
        let trace = |i: usize| {
            format!(
                r#"{{"trace_id":"t{i}","trace_name":"{}","code":"200","time":1796378400000,"user":{{"name":"u{}","domain":{{"name":"acct"}}}},"request":"{}"}}"#,
                if i.is_multiple_of(3) {
                    "renewResources"
                } else {
                    "listThings"
                },
                i % 7,
                "x".repeat(300)
            )
        };
        let traces: Vec<String> = (0..30_000).map(trace).collect();
        let list = format!(
            r#"{{"meta_data":{{"count":30000,"marker":null}},"traces":[{}]}}"#,
            traces.join(",")
        );
        assert!(list.len() > LARGE);
        let big = names(&list).unwrap();
        assert_eq!(big.len(), 30_000);
        let small: Vec<(String, bool)> = traces[..300]
            .iter()
            .flat_map(|t| names(&format!("[{t}]")).unwrap())
            .collect();
        assert_eq!(&big[..300], &small[..]);
        // Cut, it reads what came before the cut and says so.
        let err = names(&list[..list.len() / 2]).unwrap_err();
        assert!(err.contains("cut"), "{err}");
    }
}
