//! JSON-lines gateway logs and CTS traces, parsed with simd-json onto a reused tape.
//!
//! Field names differ between gateways, so each logical field has a list of aliases, the
//! first present one winning; `--field NAME=dotted.path` replaces the aliases of one field
//! with an explicit (possibly nested) path. A CTS trace names its API with `trace_name`.
//!
//! This file is the parser of gateway lines: the fast path over [`flat::walk`], the full
//! simd-json parse it falls back to, and the request built from either. The field alias table
//! is in `fields`, CTS traces in `trace`, and format detection's look at a record in `probe`.

mod fields;
mod probe;
mod trace;

use simd_json::prelude::*;
use simd_json::tape::Value;
use simd_json::{Buffers, Tape};

use super::flat::{self, Raw, Walk};
use super::time::{TimeCache, epoch};
use super::{Malformed, Request, parse_status, split_request_line};
use crate::catalog::Catalog;
use fields::{FIELD_COUNT, NESTED, alias_of, alias_slot};
pub use fields::{Field, FieldMap, FieldSpec, field_names, field_sources};
pub use probe::{JsonProbe, Probed, is_request_like, shape_of};
pub(crate) use trace::trace_request;

/// A reusable JSON line parser. One per worker.
pub struct JsonParser {
    buf: Vec<u8>,
    buffers: Buffers,
    /// Taken while a line is parsed (a placeholder tape would allocate per line).
    tape: Option<Tape<'static>>,
    fields: FieldMap,
    has_overrides: bool,
    times: TimeCache,
    /// The slots of the keys at each place of the last lines walked.
    keys: flat::KeyMemo,
}

impl std::fmt::Debug for JsonParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonParser")
            .field("fields", &self.fields)
            .finish()
    }
}

impl JsonParser {
    pub fn new(fields: &FieldMap) -> JsonParser {
        JsonParser {
            buf: Vec::with_capacity(4096),
            buffers: Buffers::new(4096),
            tape: Some(Tape::null()),
            fields: fields.clone(),
            has_overrides: fields.overrides.iter().any(Option::is_some),
            times: TimeCache::default(),
            keys: flat::KeyMemo::default(),
        }
    }

    /// Times written without a zone are read in this one (`--timezone`).
    pub fn with_zone(mut self, zone: Option<i32>) -> JsonParser {
        self.times = TimeCache::with_zone(zone);
        self
    }

    /// Parses a gateway JSON line and hands the request to `f`.
    ///
    /// A flat line is read by [`flat::walk`], which only locates the wanted fields; lines it
    /// is unsure of, and every line when `--field` names a path, get the full simd-json parse.
    pub fn parse<R>(
        &mut self,
        line: &[u8],
        f: impl FnOnce(&Request<'_>) -> R,
    ) -> Result<R, Malformed> {
        if !self.has_overrides {
            let mut hits = [None; FIELD_COUNT];
            let keys = flat::Remembered {
                keys: &self.fields,
                memo: &mut self.keys,
            };
            if flat::walk(line, keys, &mut hits) == Walk::Done {
                let get = |field: Field| hits[field as usize].map(|h| h.value(line));
                return gateway_request(get, &mut self.times).map(|req| f(&req));
            }
        }
        self.parse_full(line, f)
    }

    /// [`JsonParser::parse`] without the fast path: a simd-json tape for the whole line.
    pub fn parse_full<R>(
        &mut self,
        line: &[u8],
        f: impl FnOnce(&Request<'_>) -> R,
    ) -> Result<R, Malformed> {
        self.with_object(line, |obj, fields, has_overrides, times| {
            let found = gateway_fields(obj, fields, has_overrides);
            let req = gateway_request(|field| found[field as usize].map(|(_, v)| v), times)?;
            Ok(f(&req))
        })
    }

    /// Parses a CTS trace line and hands the request to `f`.
    pub fn parse_trace<R>(
        &mut self,
        line: &[u8],
        catalog: &Catalog,
        f: impl FnOnce(&Request<'_>) -> R,
    ) -> Result<R, Malformed> {
        self.with_object(line, |obj, _, _, times| {
            let req = trace_request(obj, catalog, times)?;
            Ok(f(&req))
        })
    }

    fn with_object<R>(
        &mut self,
        line: &[u8],
        f: impl FnOnce(Value<'_, '_>, &FieldMap, bool, &mut TimeCache) -> Result<R, Malformed>,
    ) -> Result<R, Malformed> {
        // The padding lets simd-json parse in place instead of copying the line again.
        self.buf.clear();
        self.buf.extend_from_slice(line);
        self.buf.resize(line.len() + simd_json::INPUT_PADDING, 0);
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let result = match simd_json::fill_tape_padded(
            &mut self.buf,
            line.len(),
            &mut self.buffers,
            &mut tape,
        ) {
            Ok(()) => {
                let value = tape.as_value();
                if value.as_object().is_some() {
                    f(value, &self.fields, self.has_overrides, &mut self.times)
                } else {
                    Err(Malformed("expected a JSON object".into()))
                }
            }
            Err(e) => Err(Malformed(format!("invalid JSON: {e}"))),
        };
        self.tape = Some(tape.reset());
        result
    }
}

fn bytes_of<'i>(v: Value<'_, 'i>) -> Option<&'i [u8]> {
    v.into_string().map(str::as_bytes)
}

/// Follows a dotted path; a key containing dots is tried whole first.
fn lookup<'t, 'i>(root: Value<'t, 'i>, path: &[String]) -> Option<Value<'t, 'i>> {
    let mut v = root;
    for (i, part) in path.iter().enumerate() {
        if i == 0 {
            let whole = path.join(".");
            if let Some(found) = v.get(whole.as_str()) {
                return Some(found);
            }
        }
        v = v.get(part.as_str())?;
    }
    Some(v)
}

/// What the analysis reads of a simd-json value: the same [`Raw`] the fast path hands out.
fn raw_of<'i>(v: Value<'_, 'i>) -> Raw<'i> {
    if let Some(s) = bytes_of(v) {
        Raw::Str(s)
    } else if let Some(n) = v.as_u64() {
        Raw::UInt(n)
    } else if let Some(n) = v.as_i64() {
        Raw::Float(n as f64)
    } else if let Some(f) = v.as_f64() {
        Raw::Float(f)
    } else if v.as_object().is_some() {
        // A user object: `{"name", "id"}` (CTS), `{"username", "id"}` (Kong, APISIX consumers).
        let name = v
            .get("name")
            .or_else(|| v.get("username"))
            .and_then(bytes_of)
            .unwrap_or_default();
        let id = v.get("id").and_then(bytes_of).unwrap_or_default();
        Raw::User(name, id)
    } else {
        Raw::Other
    }
}

fn text_of(v: Raw<'_>) -> Option<&[u8]> {
    match v {
        Raw::Str(s) => Some(s),
        _ => None,
    }
}

fn status_of(v: Raw<'_>) -> Option<u16> {
    match v {
        Raw::UInt(n) => u16::try_from(n).ok(),
        Raw::Float(f) => (f.fract() == 0.0 && (0.0..=999.0).contains(&f)).then_some(f as u16),
        Raw::Str(s) => parse_status(s.trim_ascii()),
        Raw::User(..) | Raw::Other => None,
    }
}

fn time_of(v: Raw<'_>, times: &mut TimeCache) -> Option<i64> {
    match v {
        Raw::UInt(n) => super::time::epoch_int(n),
        Raw::Float(f) => epoch(f),
        Raw::Str(s) => times.parse(s),
        Raw::User(..) | Raw::Other => None,
    }
}

/// The user may be a string or an object with a name (and id).
fn user_of(v: Raw<'_>) -> (&[u8], &[u8]) {
    match v {
        Raw::Str(b"-") => (b"", b""),
        Raw::Str(s) => (s, b""),
        Raw::User(name, id) => (name, id),
        _ => (b"", b""),
    }
}

/// Per field: the rank of the alias it came from (lower wins) and its value.
type Found<'i> = [Option<(u8, Raw<'i>)>; FIELD_COUNT];

/// Keeps `value` for `slot` unless an alias of higher priority (or the same key earlier in
/// the line) already gave one.
#[inline]
fn keep<'i>(found: &mut Found<'i>, slot: usize, rank: u8, value: Raw<'i>) {
    if found[slot].is_none_or(|(r, _)| rank < r) {
        found[slot] = Some((rank, value));
    }
}

fn gateway_fields<'i>(obj: Value<'_, 'i>, fields: &FieldMap, has_overrides: bool) -> Found<'i> {
    let mut found: Found<'i> = [None; FIELD_COUNT];
    if let Some(o) = obj.as_object() {
        for (key, value) in o.iter() {
            // `null` is no value: the next alias may give one (as on the fast path).
            if let Some((slot, rank)) = alias_slot(key.as_bytes(), fields)
                && !value.is_null()
                && !matches!(value.as_str(), Some("-" | ""))
            {
                keep(&mut found, slot, rank, raw_of(value));
            }
        }
    }
    if has_overrides {
        for (i, path) in fields.overrides.iter().enumerate() {
            if let Some(path) = path {
                found[i] = lookup(obj, path).map(|v| (0, raw_of(v)));
            }
        }
    }
    // Gateways that nest the request and response (Kong, APISIX, Caddy): their fields, where
    // no top-level key gave one. A top-level `request` object is no request line.
    if matches!(
        found[Field::Request as usize],
        Some((_, Raw::User(..) | Raw::Other))
    ) {
        found[Field::Request as usize] = None;
    }
    // Caddy's `ts` is when the line was written, at the end of the request: its start is
    // `ts - duration` (both seconds).
    if let Some((rank, ts)) = found[Field::Time as usize]
        && alias_of(b"ts") == Some((Field::Time, rank))
        && let Some(micros) = match ts {
            // Whatever its `time_format`: float seconds, integers of any unit, text.
            Raw::Float(f) => epoch(f),
            Raw::UInt(n) => super::time::epoch_int(n),
            Raw::Str(s) => super::time::parse_time(s),
            _ => None,
        }
        && let Some(d) = obj.get("duration").and_then(|d| d.as_f64())
        && d >= 0.0
    {
        let start = micros - (d * 1e6) as i64;
        if start > 0 {
            found[Field::Time as usize] = Some((rank, Raw::UInt(start as u64)));
        }
    }
    // Caddy's authenticated user is a top-level `user_id` beside its nested `request`: only
    // there is `user_id` a user (API Gateway records use it for a project id).
    if found[Field::User as usize].is_none()
        && fields.overrides[Field::User as usize].is_none()
        && obj.get("request").is_some_and(|r| r.as_object().is_some())
        && let Some(Raw::Str(u)) = obj.get("user_id").map(raw_of)
    {
        found[Field::User as usize] = Some((u8::MAX, Raw::Str(u)));
    }
    for (field, paths) in NESTED {
        let slot = *field as usize;
        if found[slot].is_some() || fields.overrides[slot].is_some() {
            continue;
        }
        for path in *paths {
            let mut v = Some(obj);
            for part in *path {
                v = v.and_then(|v| v.get(*part));
            }
            if let Some(v) = v.map(raw_of).filter(|r| !matches!(r, Raw::Other)) {
                found[slot] = Some((u8::MAX, v));
                break;
            }
        }
    }
    found
}

/// The request from its fields' values: `get(field)`.
fn gateway_request<'i>(
    get: impl Fn(Field) -> Option<Raw<'i>>,
    times: &mut TimeCache,
) -> Result<Request<'i>, Malformed> {
    // Gateways (and LTS's structured API Gateway records) write `-` for "no value".
    let text = |f: Field| match get(f).and_then(text_of).unwrap_or_default() {
        b"-" => b"",
        v => v,
    };

    let mut method = text(Field::Method);
    let mut target = text(Field::Path);
    if (method.is_empty() || target.is_empty())
        && let Some((m, t)) = get(Field::Request)
            .and_then(text_of)
            .and_then(split_request_line)
    {
        if method.is_empty() {
            method = m;
        }
        if target.is_empty() {
            target = t;
        }
    }
    if method.is_empty() {
        return Err(Malformed(
            "no HTTP method (method, request_method, http_method, httpMethod, RequestMethod, request.method, or a request line); name it with --field method=KEY".into(),
        ));
    }
    if target.is_empty() {
        return Err(Malformed(
            "no request target (uri, path, request_uri, url, router_uri, RequestPath, request.uri, or a request line); name it with --field path=KEY".into(),
        ));
    }
    let status = match get(Field::Status) {
        // `-` and empty mean no value, for the status as for every field.
        Some(Raw::Str(b"-" | b"")) | None => 0,
        Some(v) => {
            status_of(v).ok_or_else(|| Malformed("status is not an HTTP status code".into()))?
        }
    };
    let (user, mut user_id) = get(Field::User).map(user_of).unwrap_or_default();
    if let Some(id) = get(Field::UserId).and_then(text_of) {
        user_id = id;
    }
    let time_raw = get(Field::Time);
    Ok(Request {
        method,
        target,
        trace_route: None,
        trace: false,
        status,
        time: time_raw.and_then(|v| time_of(v, times)),
        time_text: time_raw.and_then(text_of).unwrap_or_default(),
        user,
        user_id,
        request_id: text(Field::RequestId),
        source_ip: text(Field::SourceIp),
        error_code: text(Field::ErrorCode),
        host: text(Field::Host),
        response_source: text(Field::ResponseSource),
        console: false,
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    /// (method, target, status, time, user, request id).
    type Parsed = (String, String, u16, Option<i64>, String, String);

    fn parse(line: &str, fields: &FieldMap) -> Result<Parsed, Malformed> {
        let mut p = JsonParser::new(fields);
        p.parse(line.as_bytes(), |r| {
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            (
                s(r.method),
                s(r.target),
                r.status,
                r.time,
                s(r.user),
                s(r.request_id),
            )
        })
    }

    #[test]
    fn aliases_and_request_lines() {
        let none = FieldMap::default();
        let r = parse(r#"{"request_method":"get","request_uri":"/v2/x?a=1","status":"403","user":"alice","@timestamp":"2026-11-27T10:00:00Z","request_id":"r1"}"#, &none).unwrap();
        assert_eq!(
            r,
            (
                "get".into(),
                "/v2/x?a=1".into(),
                403,
                Some(1_795_773_600_000_000),
                "alice".into(),
                "r1".into()
            )
        );
        let r = parse(
            r#"{"request":"POST /v2/y HTTP/1.1","status_code":200,"time":1796378400}"#,
            &none,
        )
        .unwrap();
        assert_eq!(
            (r.0.as_str(), r.1.as_str(), r.2, r.3),
            ("POST", "/v2/y", 200, Some(1_796_378_400_000_000))
        );
        // The first alias wins when several are present.
        let r = parse(
            r#"{"method":"PUT","uri":"/a","path":"/b","user_name":"x","user":"y"}"#,
            &none,
        )
        .unwrap();
        assert_eq!((r.1.as_str(), r.4.as_str()), ("/a", "x"));
        // Escaped slashes are decoded by the JSON parser.
        let r = parse(r#"{"method":"GET","uri":"\/v2\/orders"}"#, &none).unwrap();
        assert_eq!(r.1, "/v2/orders");
    }

    #[test]
    fn overrides_follow_dotted_paths() {
        let mut fields = FieldMap::default();
        fields.set("path=req.path").unwrap();
        fields.set("user=auth.user.name").unwrap();
        fields.set("status=resp.code").unwrap();
        let r = parse(r#"{"method":"GET","uri":"/ignored","req":{"path":"/v2/z"},"auth":{"user":{"name":"bob"}},"resp":{"code":"204"}}"#, &fields).unwrap();
        assert_eq!((r.1.as_str(), r.4.as_str(), r.2), ("/v2/z", "bob", 204));
        assert!(
            fields
                .set("nope=x")
                .unwrap_err()
                .contains("unknown field \"nope\"")
        );
        assert!(fields.set("path").unwrap_err().contains("NAME=dotted.path"));
        assert!(fields.set("path=a..b").is_err());
    }

    #[test]
    fn malformed_lines_say_why() {
        let none = FieldMap::default();
        assert!(
            parse("{\"method\":", &none)
                .unwrap_err()
                .0
                .starts_with("invalid JSON")
        );
        assert!(
            parse("[1,2]", &none)
                .unwrap_err()
                .0
                .contains("expected a JSON object")
        );
        assert!(
            parse(r#"{"uri":"/a"}"#, &none)
                .unwrap_err()
                .0
                .contains("no HTTP method")
        );
        assert!(
            parse(r#"{"method":"GET"}"#, &none)
                .unwrap_err()
                .0
                .contains("no request target")
        );
        assert!(
            parse(r#"{"method":"GET","uri":"/a","status":"abc"}"#, &none)
                .unwrap_err()
                .0
                .contains("status")
        );
    }

    /// Every field of a request, owned, or the reason the line is malformed.
    fn everything(p: &mut JsonParser, line: &[u8], full: bool) -> Result<String, String> {
        let show = |r: &Request<'_>| format!("{r:?}");
        let result = if full {
            p.parse_full(line, show)
        } else {
            p.parse(line, show)
        };
        result.map_err(|Malformed(m)| m)
    }

    fn json_line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let key = prop::sample::select(vec![
            "method",
            "request_method",
            "uri",
            "request_uri",
            "path",
            "request",
            "status",
            "status_code",
            "user_name",
            "user",
            "time",
            "@timestamp",
            "request_id",
            "remote_addr",
            "client_ip",
            "apig_err_code",
            "host",
            "response_source",
            "bytes_sent",
            "user_agent",
            "re\\quest",
        ]);
        let value = prop::sample::select(vec![
            r#""GET""#,
            r#""post""#,
            r#""/v2/orders/customer-orders?x=1""#,
            r#""\/v2\/orders""#,
            r#""GET /v2/bills HTTP/1.1""#,
            r#""a\"b""#,
            r#""caf\u00e9""#,
            r#""tab\there""#,
            r#""""#,
            r#""403""#,
            r#"" 200 ""#,
            r#""2026-11-27T10:00:00.250Z""#,
            r#""27/Nov/2026:18:00:00 +0800""#,
            "200",
            "403.0",
            "-0",
            "-5",
            "70000",
            "1796378400",
            "1796378400123",
            "1796378400.5",
            "1e3",
            "01",
            "123456789012345678901",
            "true",
            "false",
            "null",
            r#"{"name":"ivan","id":"u-9"}"#,
            r#"{"name":1}"#,
            "[1,2]",
            "{}",
        ]);
        // Spaces wherever JSON allows them (gateways write none, the walk must still agree).
        let space = || prop::sample::select(vec!["", " ", "  "]);
        let pair = (key, space(), space(), value)
            .prop_map(|(k, before, after, v)| format!("\"{k}\"{before}:{after}{v}"));
        let object = prop::collection::vec((space(), pair, space()), 0..10).prop_map(|pairs| {
            let body: Vec<String> = pairs
                .into_iter()
                .map(|(before, pair, after)| format!("{before}{pair}{after}"))
                .collect();
            format!("{{{}}}", body.join(",")).into_bytes()
        });
        // Damage: cut the line, or put a stray byte somewhere.
        let stray = prop::strategy::Union::new([
            any::<u8>().boxed(),
            prop::sample::select(b" :,\"{}[]x0\\".to_vec()).boxed(),
        ]);
        let damage =
            prop::option::weighted(0.5, (any::<prop::sample::Index>(), stray, any::<bool>()));
        (object, damage).prop_map(|(mut line, damage)| {
            if let Some((at, byte, cut)) = damage {
                let at = at.index(line.len() + 1);
                if cut {
                    line.truncate(at);
                } else {
                    line.insert(at, byte);
                }
            }
            line
        })
    }

    proptest::proptest! {
        /// The fast path gives the same request, or the same reason, as simd-json; lines in a
        /// row through one parser, as a worker reads them (the walk remembers their keys).
        #[test]
        fn fast_path_agrees_with_the_full_parse(lines in proptest::collection::vec(json_line(), 1..6)) {
            let mut p = JsonParser::new(&FieldMap::default());
            for line in &lines {
                let fast = everything(&mut p, line, false);
                let full = everything(&mut p, line, true);
                proptest::prop_assert_eq!(fast, full, "{}", String::from_utf8_lossy(line));
            }
        }
    }
}
