//! JSON-lines gateway logs and CTS traces, parsed with simd-json onto a reused tape.
//!
//! Field names differ between gateways, so each logical field has a list of aliases, the
//! first present one winning; `--field NAME=dotted.path` replaces the aliases of one field
//! with an explicit (possibly nested) path. A CTS trace names its API with `trace_name`.

use simd_json::prelude::*;
use simd_json::tape::Value;
use simd_json::{Buffers, Tape};

use super::flat::{self, Raw, Walk};
use super::time::{TimeCache, epoch};
use super::{Malformed, Request, parse_status, split_request_line};
use crate::catalog::Catalog;

/// The logical fields of a request, in `--field` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Method,
    Path,
    Request,
    Status,
    User,
    UserId,
    Time,
    RequestId,
    SourceIp,
    ErrorCode,
    Host,
    ResponseSource,
}

const FIELD_COUNT: usize = 12;

/// (field, `--field` name, aliases in priority order).
const FIELDS: [(Field, &str, &[&str]); FIELD_COUNT] = [
    (
        Field::Method,
        "method",
        &[
            "method",
            "request_method",
            "http_method",
            "httpMethod",
            "RequestMethod",
        ],
    ),
    (
        Field::Path,
        "path",
        &[
            "request_uri",
            "uri",
            "path",
            "url",
            "router_uri",
            "request_path",
            "RequestPath",
        ],
    ),
    (Field::Request, "request", &["request", "request_line"]),
    (
        Field::Status,
        "status",
        &[
            "status",
            "status_code",
            "response_code",
            "statusCode",
            "DownstreamStatus",
        ],
    ),
    (
        Field::User,
        "user",
        &[
            "user_name",
            "user",
            "username",
            "userName",
            "remote_user",
            "ClientUsername",
            "caller",
            "consumer",
        ],
    ),
    (Field::UserId, "user_id", &[]),
    (
        Field::Time,
        "time",
        &[
            "StartUTC",
            "start_time",
            "started_at",
            "requestTimeEpoch",
            "time",
            "timestamp",
            "@timestamp",
            "time_local",
            "time_iso8601",
            "requestTime",
            "ts",
            "msec",
        ],
    ),
    (
        Field::RequestId,
        "request_id",
        &[
            "request_id",
            "requestId",
            "x_request_id",
            "req_id",
            "RequestId",
            "request_X-Request-Id",
        ],
    ),
    (
        Field::SourceIp,
        "source_ip",
        &[
            "remote_addr",
            "client_ip",
            "source_ip",
            "clientIp",
            "downstream_remote_address",
            "ClientHost",
            "ip",
        ],
    ),
    (
        Field::ErrorCode,
        "error_code",
        &["error_code", "apig_err_code", "err_code", "errorCode"],
    ),
    (
        Field::Host,
        "host",
        &[
            "host",
            "http_host",
            "authority",
            "server_name",
            "RequestHost",
        ],
    ),
    (
        Field::ResponseSource,
        "response_source",
        &["response_source"],
    ),
];

/// Which key of a record feeds each field (`inspect`): per `--field` name, the first alias
/// present among `keys` (or the `--field` path, or `--user-field`'s key), if any.
pub fn field_sources(keys: &[String], map: &FieldMap) -> Vec<(&'static str, Option<String>)> {
    FIELDS
        .iter()
        .enumerate()
        .map(|(i, (field, name, aliases))| {
            if let Some(path) = &map.overrides[i] {
                return (*name, Some(path.join(".")));
            }
            if *field == Field::User
                && let Some(key) = &map.user_key
            {
                let key = String::from_utf8_lossy(key).into_owned();
                if keys.contains(&key) {
                    return (*name, Some(key));
                }
            }
            let found = aliases
                .iter()
                .find(|a| keys.iter().any(|k| k == *a))
                .map(|a| (*a).to_owned())
                .or_else(|| {
                    NESTED
                        .iter()
                        .filter(|(f, _)| f == field)
                        .flat_map(|(_, paths)| paths.iter())
                        .map(|p| p.join("."))
                        .find(|p| keys.contains(p))
                })
                .or_else(|| {
                    // Caddy's `user_id` beside a nested request (see `gateway_fields`).
                    (*field == Field::User
                        && keys.iter().any(|k| k == "user_id")
                        && keys.iter().any(|k| k == "request.method"))
                    .then(|| "user_id".to_owned())
                });
            (*name, found)
        })
        .collect()
}

/// The names `--field` accepts.
pub fn field_names() -> Vec<&'static str> {
    FIELDS.iter().map(|f| f.1).collect()
}

/// Where each field is looked up: aliases, or a user's dotted path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    overrides: [Option<Vec<String>>; FIELD_COUNT],
    /// A top-level key that is the user before the user aliases (`--user-field` read from
    /// JSON records, such as LTS-structured API Gateway logs). Unlike an override it keeps
    /// the fast path, and records without it fall back to the aliases.
    user_key: Option<Box<[u8]>>,
}

impl FieldMap {
    /// Applies `NAME=dotted.path`; errors name the accepted names.
    pub fn set(&mut self, spec: &str) -> Result<(), String> {
        let (name, path) = spec
            .split_once('=')
            .ok_or_else(|| format!("--field {spec:?}: expected NAME=dotted.path"))?;
        let i = FIELDS
            .iter()
            .position(|f| f.1 == name.trim())
            .ok_or_else(|| {
                format!(
                    "--field {spec:?}: unknown field {name:?}, expected one of {}",
                    field_names().join(", ")
                )
            })?;
        let parts: Vec<String> = path.trim().split('.').map(str::to_owned).collect();
        if parts.iter().any(String::is_empty) {
            return Err(format!(
                "--field {spec:?}: expected a dotted path such as request.path"
            ));
        }
        self.overrides[i] = Some(parts);
        Ok(())
    }

    /// Reads the user from the top-level key `key` instead of the user aliases.
    pub fn set_user_key(&mut self, key: &str) {
        self.user_key = Some(key.as_bytes().into());
    }

    /// Which field slot a top-level key feeds, and its rank, unless `--field` overrides that
    /// field.
    #[inline]
    fn slot(&self, key: &[u8]) -> Option<(usize, u8)> {
        if let Some(user) = &self.user_key {
            if key == &**user {
                return Some((Field::User as usize, 0));
            }
            // The named key wins; a record without it still has the usual user aliases.
            let (field, rank) = alias_of(key)?;
            let rank = if field == Field::User { rank + 1 } else { rank };
            return Some((field as usize, rank));
        }
        let (field, rank) = alias_of(key)?;
        Some((field as usize, rank))
    }
}

/// The field a top-level key is an alias of, and its priority (lower wins). Must agree with
/// [`FIELDS`]; a test checks it.
#[inline]
fn alias_of(key: &[u8]) -> Option<(Field, u8)> {
    use Field::*;
    Some(match key {
        b"method" => (Method, 0),
        b"request_method" => (Method, 1),
        b"http_method" => (Method, 2),
        b"httpMethod" => (Method, 3),
        b"RequestMethod" => (Method, 4),
        b"uri" => (Path, 1),
        b"path" => (Path, 2),
        b"request_uri" => (Path, 0),
        b"url" => (Path, 3),
        b"router_uri" => (Path, 4),
        b"request_path" => (Path, 5),
        b"RequestPath" => (Path, 6),
        b"request" => (Request, 0),
        b"request_line" => (Request, 1),
        b"status" => (Status, 0),
        b"status_code" => (Status, 1),
        b"response_code" => (Status, 2),
        b"statusCode" => (Status, 3),
        b"DownstreamStatus" => (Status, 4),
        b"user_name" => (User, 0),
        b"user" => (User, 1),
        b"username" => (User, 2),
        b"userName" => (User, 3),
        b"remote_user" => (User, 4),
        b"ClientUsername" => (User, 5),
        b"caller" => (User, 6),
        b"consumer" => (User, 7),
        b"StartUTC" => (Time, 0),
        b"start_time" => (Time, 1),
        b"started_at" => (Time, 2),
        b"requestTimeEpoch" => (Time, 3),
        b"time" => (Time, 4),
        b"timestamp" => (Time, 5),
        b"@timestamp" => (Time, 6),
        b"time_local" => (Time, 7),
        b"time_iso8601" => (Time, 8),
        b"requestTime" => (Time, 9),
        b"ts" => (Time, 10),
        b"msec" => (Time, 11),
        b"request_id" => (RequestId, 0),
        b"requestId" => (RequestId, 1),
        b"x_request_id" => (RequestId, 2),
        b"req_id" => (RequestId, 3),
        b"RequestId" => (RequestId, 4),
        b"request_X-Request-Id" => (RequestId, 5),
        b"remote_addr" => (SourceIp, 0),
        b"client_ip" => (SourceIp, 1),
        b"source_ip" => (SourceIp, 2),
        b"clientIp" => (SourceIp, 3),
        b"downstream_remote_address" => (SourceIp, 4),
        b"ClientHost" => (SourceIp, 5),
        b"ip" => (SourceIp, 6),
        b"error_code" => (ErrorCode, 0),
        b"apig_err_code" => (ErrorCode, 1),
        b"err_code" => (ErrorCode, 2),
        b"errorCode" => (ErrorCode, 3),
        b"host" => (Host, 0),
        b"http_host" => (Host, 1),
        b"authority" => (Host, 2),
        b"server_name" => (Host, 3),
        b"RequestHost" => (Host, 4),
        b"response_source" => (ResponseSource, 0),
        _ => return None,
    })
}

/// Which field slot a top-level key feeds, unless `--field` overrides that field.
fn alias_slot(key: &[u8], map: &FieldMap) -> Option<(usize, u8)> {
    let (slot, rank) = map.slot(key)?;
    map.overrides[slot].is_none().then_some((slot, rank))
}

/// A reusable JSON line parser. One per worker.
pub struct JsonParser {
    buf: Vec<u8>,
    buffers: Buffers,
    /// Taken while a line is parsed (a placeholder tape would allocate per line).
    tape: Option<Tape<'static>>,
    fields: FieldMap,
    has_overrides: bool,
    times: TimeCache,
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
            let fields = &self.fields;
            let slot_of = |key: &[u8]| fields.slot(key);
            if flat::walk(line, slot_of, &mut hits) == Walk::Done {
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

/// Where gateways that nest the request and response keep the fields, tried in order when no
/// top-level alias gave a value: Kong's and APISIX's `request`/`response`/`consumer`,
/// Caddy's `request`.
const NESTED: &[(Field, &[&[&str]])] = &[
    (Field::Method, &[&["request", "method"]]),
    (Field::Path, &[&["request", "uri"], &["request", "url"]]),
    (
        Field::Status,
        &[&["response", "status"], &["response", "status_code"]],
    ),
    (
        Field::User,
        &[&["consumer", "username"], &["authenticated_entity", "id"]],
    ),
    (
        Field::RequestId,
        &[
            &["request", "id"],
            &["request", "headers", "x-request-id"],
            &["request", "headers", "X-Request-Id"],
        ],
    ),
    (
        Field::SourceIp,
        &[&["request", "client_ip"], &["request", "remote_ip"]],
    ),
    (
        Field::Host,
        &[&["request", "host"], &["request", "headers", "host"]],
    ),
];

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

#[cfg(test)]
pub(crate) fn tests_top_level_string<'i>(text: &'i [u8], key: &[u8]) -> Option<&'i [u8]> {
    top_level_string(text, key)
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

/// Which gateway's documented JSON access-log shape a record's keys are (`summary.json` and
/// `inspect` name it), with the keys that told. Every shape is read by the same aliases and
/// nested fields; the name says what permlens recognised.
pub fn shape_of(keys: &[String]) -> Option<(&'static str, &'static str)> {
    let has = |k: &&str| keys.iter().any(|x| x == k);
    SHAPES
        .iter()
        .find(|(_, needs, _)| needs.iter().all(|any| any.iter().any(has)))
        .map(|(name, _, why)| (*name, *why))
}

/// The gateway shapes [`shape_of`] knows, first match wins: (name, keys needed: each group
/// any of its keys, every group), why.
#[allow(clippy::type_complexity)]
const SHAPES: &[(&str, &[&[&str]], &str)] = &[
    (
        "traefik",
        &[&["RequestMethod", "DownstreamStatus"]],
        "RequestMethod/DownstreamStatus/StartUTC: a Traefik access log",
    ),
    (
        "kong",
        &[&["started_at"], &["request.method"]],
        "request.method/response.status/started_at: a Kong log plugin record",
    ),
    (
        "apisix",
        &[&["start_time"], &["request.method"]],
        "request.method/response.status/start_time: an APISIX logger record",
    ),
    (
        "caddy",
        &[&["logger", "ts"], &["request.method"]],
        "request.method/status/ts: a Caddy access log",
    ),
    (
        "aws-http",
        &[&["routeKey"]],
        "routeKey/httpMethod: an AWS API Gateway HTTP API access log",
    ),
    (
        "aws-rest",
        &[&["httpMethod"], &["resourcePath", "requestTime"]],
        "httpMethod/requestTime: an AWS API Gateway REST API access log",
    ),
    (
        "envoy",
        &[&["response_code"], &["start_time"]],
        "start_time/method/path/response_code: an Envoy (Istio) JSON access log",
    ),
    (
        "apig-lts",
        &[&["router_uri"], &["request_method"]],
        "request_method/router_uri: API Gateway records structured by LTS",
    ),
    (
        "nginx",
        &[
            &["request", "request_uri"],
            &["status"],
            &["remote_addr", "time_local", "msec"],
        ],
        "request/status/remote_addr: an nginx escape=json access log",
    ),
];

/// An object's top-level keys, and the keys of nested objects one level down
/// (`request.method`), which is where Kong, APISIX and Caddy keep the request.
fn object_keys(v: Value<'_, '_>) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(o) = v.as_object() {
        for (k, v) in o.iter().take(64) {
            keys.push(k.to_string());
            if let Some(inner) = v.as_object() {
                for (ik, _) in inner.iter().take(32) {
                    keys.push(format!("{k}.{ik}"));
                }
            }
        }
    }
    keys
}

/// Whether a record with these keys has a method and a target, as permlens finds them.
pub fn is_request_like(keys: &[String]) -> bool {
    let found = field_sources(keys, &FieldMap::default());
    let has = |name: &str| found.iter().any(|(n, k)| *n == name && k.is_some());
    has("method") && has("path")
}

/// What a complete JSON value on one line is, for format detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probed {
    /// A CTS trace (it has `trace_name`).
    Trace,
    /// A CTS ListTraces response (an object with a `traces` array), whatever its key order.
    TraceList,
    /// A JSON array; `traces`: some element is a CTS trace; `keys`: the first element's.
    Array { traces: bool, keys: Vec<String> },
    /// Another JSON object, with its first keys (for messages).
    Object(Vec<String>),
}

/// Format detection: what a line holds, if it is one JSON value.
#[derive(Debug, Default)]
pub struct JsonProbe {
    buf: Vec<u8>,
}

impl JsonProbe {
    /// `None`: the line is not one complete JSON value.
    pub fn probe(&mut self, line: &[u8]) -> Option<Probed> {
        self.buf.clear();
        self.buf.extend_from_slice(line);
        let tape = simd_json::to_tape(&mut self.buf).ok()?;
        let v = tape.as_value();
        if let Some(items) = v.as_array() {
            let traces = items.iter().any(|t| t.get("trace_name").is_some());
            let keys = items.iter().next().map(object_keys).unwrap_or_default();
            return Some(Probed::Array { traces, keys });
        }
        let o = v.as_object()?;
        if v.get("trace_name").is_some() {
            return Some(Probed::Trace);
        }
        if v.get("traces").is_some_and(|t| t.as_array().is_some()) {
            return Some(Probed::TraceList);
        }
        let _ = o;
        Some(Probed::Object(object_keys(v)))
    }
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
    fn alias_lookup_agrees_with_the_alias_table() {
        for (field, _, aliases) in FIELDS {
            for (rank, a) in aliases.iter().enumerate() {
                assert_eq!(alias_of(a.as_bytes()), Some((field, rank as u8)), "{a}");
            }
        }
        let listed: usize = FIELDS.iter().map(|f| f.2.len()).sum();
        let known = [
            "method",
            "request_method",
            "http_method",
            "httpMethod",
            "RequestMethod",
            "uri",
            "path",
            "request_uri",
            "url",
            "router_uri",
            "request_path",
            "RequestPath",
            "request",
            "request_line",
            "status",
            "status_code",
            "response_code",
            "statusCode",
            "DownstreamStatus",
            "user_name",
            "user",
            "username",
            "userName",
            "remote_user",
            "ClientUsername",
            "caller",
            "consumer",
            "StartUTC",
            "start_time",
            "started_at",
            "requestTimeEpoch",
            "time",
            "timestamp",
            "@timestamp",
            "time_local",
            "time_iso8601",
            "requestTime",
            "ts",
            "msec",
            "request_id",
            "requestId",
            "x_request_id",
            "req_id",
            "RequestId",
            "request_X-Request-Id",
            "remote_addr",
            "client_ip",
            "source_ip",
            "clientIp",
            "downstream_remote_address",
            "ClientHost",
            "ip",
            "error_code",
            "apig_err_code",
            "err_code",
            "errorCode",
            "host",
            "http_host",
            "authority",
            "server_name",
            "RequestHost",
            "response_source",
        ];
        assert_eq!(listed, known.len());
        assert!(known.iter().all(|k| alias_of(k.as_bytes()).is_some()));
        assert_eq!(alias_of(b"nope"), None);
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
        /// The fast path gives the same request, or the same reason, as simd-json.
        #[test]
        fn fast_path_agrees_with_the_full_parse(line in json_line()) {
            let mut p = JsonParser::new(&FieldMap::default());
            let fast = everything(&mut p, &line, false);
            let full = everything(&mut p, &line, true);
            proptest::prop_assert_eq!(fast, full, "{}", String::from_utf8_lossy(&line));
        }
    }

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
}
