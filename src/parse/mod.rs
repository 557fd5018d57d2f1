//! Log formats: one file per format, each turning a line into a [`Request`].
//!
//! The format is decided per file from its first lines ([`detect`]) unless forced. Parsers
//! borrow from the line (or from their own reusable buffers) and never allocate per line.

pub mod apig;
pub mod clf;
pub mod cts;
mod detection;
pub mod flat;
pub mod json;
pub mod time;

use std::fmt;
use std::str::FromStr;

use crate::catalog::RouteId;
pub use detection::{Detected, decide, detect};

/// A log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// JSON lines from a gateway (Kong, Envoy, nginx `escape=json`, custom ones).
    Json,
    /// Huawei API Gateway access logs: 54 (or 23) space-separated fields.
    Apig,
    /// Text access logs of the Common Log Format family (nginx `combined`, Traefik `common`,
    /// Apache) and Envoy's default text format.
    Clf,
    /// Cloud Trace Service traces, one per line.
    Cts,
    /// A Cloud Trace Service export: one `{"traces": [...]}` document.
    CtsDocument,
    /// Gateway records batched in JSON arrays (APISIX's http-logger, Kong's http-log with a
    /// batch size): read whole, each element a record.
    JsonDocument,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Apig => "apig",
            LogFormat::Clf => "clf",
            LogFormat::Cts => "cts",
            LogFormat::CtsDocument => "cts",
            LogFormat::JsonDocument => "json",
        }
    }

    /// Read whole as a document rather than line by line.
    pub fn is_document(self) -> bool {
        matches!(self, LogFormat::CtsDocument | LogFormat::JsonDocument)
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The gateway names `--log-format` accepts for JSON access logs.
pub const PRESETS: [&str; 9] = [
    "kong", "envoy", "istio", "nginx", "traefik", "apisix", "caddy", "aws-rest", "aws-http",
];

/// `--log-format`: decided per file, or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    #[default]
    Auto,
    Forced(LogFormat),
}

impl FromStr for FormatChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "auto" => FormatChoice::Auto,
            "json" => FormatChoice::Forced(LogFormat::Json),
            "apig" => FormatChoice::Forced(LogFormat::Apig),
            "clf" => FormatChoice::Forced(LogFormat::Clf),
            "cts" => FormatChoice::Forced(LogFormat::Cts),
            // Gateway presets: JSON lines of that gateway's documented shape, read by the
            // same aliases and nested fields as any JSON line.
            s if PRESETS.contains(&s) => FormatChoice::Forced(LogFormat::Json),
            _ => {
                return Err(format!(
                    "expected auto, json, apig, clf, cts or a gateway ({}), got {s:?}",
                    PRESETS.join(", ")
                ));
            }
        })
    }
}

/// What one log line says about one request. Empty slices mean "not in the log".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a [u8],
    /// Path, path with query, or full URL.
    pub target: &'a [u8],
    /// For CTS traces: the route named by the trace name (`None` with `trace` set: unlisted).
    pub trace_route: Option<RouteId>,
    /// True when the line is a CTS trace (the API is named, not addressed).
    pub trace: bool,
    /// 0 when the log has no status.
    pub status: u16,
    /// Microseconds since the epoch, UTC.
    pub time: Option<i64>,
    /// The time as written (for saying why it could not be read).
    pub time_text: &'a [u8],
    pub user: &'a [u8],
    pub user_id: &'a [u8],
    pub request_id: &'a [u8],
    pub source_ip: &'a [u8],
    /// `APIG.0302`, `CBC.0151`, ...
    pub error_code: &'a [u8],
    pub host: &'a [u8],
    /// API Gateway `response_source`: `local` (the gateway answered) or `remote`; for CTS
    /// traces of Billing Center console operations, `console`.
    pub response_source: &'a [u8],
    /// A CTS trace of a console operation, mapped to the API doing the same thing.
    pub console: bool,
}

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

/// Parses a status that may be a number or a string ("200", "403 Forbidden").
pub fn parse_status(s: &[u8]) -> Option<u16> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits != 3 {
        return None;
    }
    std::str::from_utf8(&s[..3]).ok()?.parse().ok()
}

/// `"GET /path HTTP/1.1"` -> (method, target).
pub fn split_request_line(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut parts = s.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let method = parts.next()?;
    let target = parts.next()?;
    Some((method, target))
}

/// The JSON fields `analyze` and `inspect` read: the `--field` overrides, and the
/// `--user-field` read from JSON records that have the key, unless `--field user=` says
/// otherwise.
pub fn field_map(
    specs: &[json::FieldSpec],
    user_field: Option<&apig::UserField>,
) -> json::FieldMap {
    let mut fields = json::FieldMap::default();
    for spec in specs {
        fields.apply(spec);
    }
    if let Some(uf) = user_field
        && !specs.iter().any(json::FieldSpec::is_user)
    {
        fields.set_user_key(uf.name());
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(parse_status(b"200"), Some(200));
        assert_eq!(parse_status(b"403 Forbidden"), Some(403));
        assert_eq!(parse_status(b"2000"), None);
        assert_eq!(parse_status(b"-"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            split_request_line(b"GET /v2/x?y=1 HTTP/1.1"),
            Some((&b"GET"[..], &b"/v2/x?y=1"[..]))
        );
        assert_eq!(split_request_line(b"GET"), None);
    }
}
