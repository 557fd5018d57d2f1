//! CTS traces read from a simd-json tape: the request a trace names, its caller and outcome.
//! Used for one-trace-per-line files and for each trace of a CTS document
//! ([`crate::parse::cts`]).

use simd_json::prelude::*;
use simd_json::tape::Value;

use super::{bytes_of, raw_of, status_of, text_of, time_of, user_of};
use crate::catalog::Catalog;
use crate::parse::flat::Raw;
use crate::parse::time::TimeCache;
use crate::parse::{Malformed, Request};

/// A CTS trace: `trace_name` names the API (the catalog maps API and console operation
/// names to routes); the caller is `user.name`; `time` is milliseconds since the epoch, or
/// the older string form (`2016/12/08 11:07:28 GMT+08:00`; `record_time` is when CTS stored
/// the trace, not when the call was made).
///
/// The status is `code`, a number or a string. Older traces have no `code`: then
/// `trace_rating` `normal` is read as a success (200), and `warning`/`incident` (the
/// operation failed, for a reason the trace does not say) as no status, which counts the
/// request but never makes a permission used or a call denied.
pub(crate) fn trace_request<'i>(
    obj: Value<'_, 'i>,
    catalog: &Catalog,
    times: &mut TimeCache,
) -> Result<Request<'i>, Malformed> {
    let name = obj
        .get("trace_name")
        .and_then(|v| v.into_string())
        .ok_or_else(|| Malformed("no trace_name in CTS trace".into()))?;
    let code = obj.get("code").map(raw_of).filter(|v| match v {
        Raw::Str(s) => !s.trim_ascii().is_empty(),
        Raw::Other => false,
        _ => true,
    });
    let status = match code {
        Some(v) => status_of(v)
            .ok_or_else(|| Malformed(format!("code {} is not an HTTP status code", show(v))))?,
        None => match obj.get("trace_rating").and_then(|v| v.into_string()) {
            Some(r) if r.eq_ignore_ascii_case("normal") => 200,
            _ => 0,
        },
    };
    let (mut user, mut user_id) = obj
        .get("user")
        .map(|v| user_of(raw_of(v)))
        .unwrap_or_default();
    // OBS trace files write the user as a JSON-encoded string.
    if user.first() == Some(&b'{') {
        let text = user;
        user = top_level_string(text, b"name").unwrap_or_default();
        user_id = top_level_string(text, b"id").unwrap_or_default();
    }
    let request_id = obj
        .get("request_id")
        .and_then(bytes_of)
        .filter(|s| !s.is_empty())
        .or_else(|| obj.get("trace_id").and_then(bytes_of))
        .unwrap_or_default();
    let time_raw = obj.get("time").map(raw_of);
    let (route, console) = match catalog.route_for_trace(name) {
        Some(r) => (Some(r), false),
        None => (catalog.route_for_console_trace(name), true),
    };
    let console = console && route.is_some();
    Ok(Request {
        method: b"",
        target: b"",
        trace_route: route,
        trace: true,
        status,
        time: time_raw.and_then(|v| time_of(v, times)),
        time_text: time_raw.and_then(text_of).unwrap_or_default(),
        user,
        user_id,
        request_id,
        source_ip: obj.get("source_ip").and_then(bytes_of).unwrap_or_default(),
        error_code: trace_error_code(obj),
        host: b"",
        response_source: if console { b"console" } else { b"" },
        console,
    })
}

/// The string value of `key` at the top level of the JSON object `text` (no escapes in it),
/// without building a tape: a trace's `user` written as a JSON string.
fn top_level_string<'i>(text: &'i [u8], key: &[u8]) -> Option<&'i [u8]> {
    let mut depth = 0usize;
    let mut i = 0;
    // The string that ended last at depth 1, if it was a key awaiting its value.
    let mut last_key: Option<&[u8]> = None;
    let mut expect_key = false;
    while i < text.len() {
        match text[i] {
            b'{' | b'[' => {
                depth += 1;
                expect_key = text[i] == b'{' && depth == 1;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_key = true,
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < text.len() && text[j] != b'"' {
                    if text[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                let s = &text[start..j.min(text.len())];
                if depth == 1 {
                    if expect_key {
                        last_key = Some(s);
                        expect_key = false;
                    } else if last_key == Some(key) {
                        return (!s.contains(&b'\\')).then_some(s);
                    } else {
                        last_key = None;
                    }
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A value as the user wrote it, for messages.
fn show(v: Raw<'_>) -> String {
    match v {
        Raw::Str(s) => format!("{:?}", String::from_utf8_lossy(s)),
        Raw::UInt(n) => n.to_string(),
        Raw::Float(f) => f.to_string(),
        Raw::User(..) => "an object".into(),
        Raw::Other => "a non-scalar value".into(),
    }
}

/// The service's error code of a failed call, when the trace's response body names one
/// (`{"error_code": "CBC.0151", ...}` as a string or an object).
fn trace_error_code<'i>(obj: Value<'_, 'i>) -> &'i [u8] {
    let Some(resp) = obj.get("response") else {
        return b"";
    };
    if resp.as_object().is_some() {
        return ["error_code", "code"]
            .iter()
            .filter_map(|k| resp.get(*k).and_then(bytes_of))
            .find(|c| c.contains(&b'.'))
            .unwrap_or_default();
    }
    let Some(text) = bytes_of(resp) else {
        return b"";
    };
    // The body as a JSON string: find `"error_code"` and the string after its colon.
    let Some(k) = memchr::memmem::find(text, b"\"error_code\"") else {
        return b"";
    };
    let rest = &text[k + 12..];
    let rest = rest.trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b":") else {
        return b"";
    };
    let rest = rest.trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b"\"") else {
        return b"";
    };
    let end = memchr::memchr(b'"', rest).unwrap_or(0);
    let code = &rest[..end];
    if code.len() <= 32
        && code
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'_')
    {
        code
    } else {
        b""
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FieldMap, JsonParser};
    use super::*;

    #[test]
    fn cts_traces() {
        let catalog = Catalog::embedded();
        let mut p = JsonParser::new(&FieldMap::default());
        let line = br#"{"trace_name":"renewResources","code":"403","user":{"name":"ivan","id":"u-9"},"time":1796378400000,"record_time":1796378499000,"request_id":"q1","source_ip":"10.0.0.8"}"#;
        let (route, status, time, user, id) = p
            .parse_trace(line, &catalog, |r| {
                (
                    r.trace_route,
                    r.status,
                    r.time,
                    r.user.to_vec(),
                    r.user_id.to_vec(),
                )
            })
            .unwrap();
        assert_eq!(
            catalog.route(route.unwrap()).template.as_str(),
            "/v2/orders/subscriptions/resources/renew"
        );
        assert_eq!(
            (status, time, &user[..], &id[..]),
            (403, Some(1_796_378_400_000_000), &b"ivan"[..], &b"u-9"[..])
        );
        let unlisted = p
            .parse_trace(
                br#"{"trace_name":"listCustomerOrders","code":"200"}"#,
                &catalog,
                |r| (r.trace, r.trace_route),
            )
            .unwrap();
        assert_eq!(unlisted, (true, None));
    }

    #[test]
    fn user_strings_are_read_at_the_top_level_only() {
        let text = br#"{"domain": {"name": "acct", "id": "d1"}, "name": "dave", "id": "u4"}"#;
        assert_eq!(top_level_string(text, b"name"), Some(&b"dave"[..]));
        assert_eq!(top_level_string(text, b"id"), Some(&b"u4"[..]));
        assert_eq!(
            top_level_string(br#"{"domain": {"name": "acct"}}"#, b"name"),
            None
        );
        assert_eq!(top_level_string(br#"{"name": "a\"b"}"#, b"name"), None);
        assert_eq!(top_level_string(b"{\"name\": ", b"name"), None);
    }
}
