//! What a JSON record looks like, for format detection and `inspect`: whether a line is one
//! JSON value and of which kind ([`JsonProbe`]), and which gateway's documented access-log
//! shape its keys are ([`shape_of`]).

use simd_json::prelude::*;
use simd_json::tape::Value;

use super::fields::{FieldMap, field_sources};

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
