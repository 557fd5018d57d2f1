//! Log formats: one file per format, each turning a line into a [`Request`].
//!
//! The format is decided per file from its first lines ([`detect`]) unless forced. Parsers
//! borrow from the line (or from their own reusable buffers) and never allocate per line.

pub mod apig;
pub mod cts;
pub mod flat;
pub mod json;
pub mod time;

use std::fmt;
use std::str::FromStr;

use crate::catalog::RouteId;

/// A log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// JSON lines from a gateway (Kong, Envoy, nginx `escape=json`, custom ones).
    Json,
    /// Huawei API Gateway access logs: 54 (or 23) space-separated fields.
    Apig,
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
            "cts" => FormatChoice::Forced(LogFormat::Cts),
            // Gateway presets: JSON lines of that gateway's documented shape, read by the
            // same aliases and nested fields as any JSON line.
            s if PRESETS.contains(&s) => FormatChoice::Forced(LogFormat::Json),
            _ => {
                return Err(format!(
                    "expected auto, json, apig, cts or a gateway ({}), got {s:?}",
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

/// The reading options `analyze` and `inspect` share, resolved: `--field` specs,
/// `--user-field` (checked against the API Gateway fields, and read from JSON records that
/// have the key unless `--field user=` says otherwise) and `--timezone`.
pub fn reading_options(
    field_specs: &[String],
    user_field: Option<&str>,
    timezone: Option<&str>,
) -> Result<(json::FieldMap, Option<i32>), String> {
    let mut fields = json::FieldMap::default();
    for spec in field_specs {
        fields.set(spec)?;
    }
    if let Some(uf) = user_field {
        apig::check_user_field(uf)?;
        if !field_specs
            .iter()
            .any(|f| f.trim_start().starts_with("user="))
        {
            fields.set_user_key(uf);
        }
    }
    let zone = timezone
        .map(|z| {
            time::parse_offset(z).ok_or_else(|| {
                format!("--timezone: expected a UTC offset such as +08:00, -0500 or Z, got {z:?}")
            })
        })
        .transpose()?;
    Ok((fields, zone))
}

/// What format detection decided for a file, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub format: LogFormat,
    /// Which variant of the format (`json-lines`, `apig-joined-53`, `cts-document`, ...).
    pub layout: &'static str,
    /// Why, in a few words (for `inspect`).
    pub why: String,
    /// For JSON lines: the top-level keys of the first record.
    pub keys: Vec<String>,
}

impl Detected {
    fn new(format: LogFormat, layout: &'static str, why: impl Into<String>) -> Detected {
        Detected {
            format,
            layout,
            why: why.into(),
            keys: Vec::new(),
        }
    }
}

/// The format a file is read as: what its first bytes show ([`detect`]), or what
/// `--log-format` forces. A forced format keeps what detection learnt when they agree (the
/// layout, a document's shape, a gateway's batched arrays); otherwise it is taken as said.
pub fn decide(head: &[u8], choice: FormatChoice) -> Result<Detected, String> {
    let detected = detect(head);
    let cts = |f: LogFormat| matches!(f, LogFormat::Cts | LogFormat::CtsDocument);
    match (choice, detected) {
        (_, Ok(d)) if d.layout == "empty" => Ok(d),
        (FormatChoice::Auto, d) => d,
        (FormatChoice::Forced(f), Ok(d))
            if d.format == f
                || (cts(f) && cts(d.format))
                || (f == LogFormat::Json && d.format == LogFormat::JsonDocument) =>
        {
            Ok(Detected {
                why: format!("--log-format {f}; {}", d.why),
                ..d
            })
        }
        (FormatChoice::Forced(f), _) => Ok(Detected {
            format: if cts(f) { LogFormat::Cts } else { f },
            layout: match f {
                LogFormat::Apig => "apig",
                LogFormat::Cts | LogFormat::CtsDocument => "cts-lines",
                LogFormat::Json | LogFormat::JsonDocument => "json-lines",
            },
            why: format!("--log-format {f}"),
            keys: Vec::new(),
        }),
    }
}

/// How many non-blank lines detection looks at.
const PROBE_LINES: usize = 8;

/// Decides the format of a file from its first bytes, or says what the file looks like.
pub fn detect(head: &[u8]) -> Result<Detected, String> {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Ok(Detected::new(LogFormat::Json, "empty", "no content"));
    };
    let text = &text[first..];
    let lines = || {
        text.split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.trim_ascii().is_empty())
            .take(PROBE_LINES)
    };
    if matches!(text[0], b'{' | b'[') {
        let mut probe = json::JsonProbe::default();
        let firsts: Vec<Option<json::Probed>> = lines().map(|l| probe.probe(l)).collect();
        match firsts.first().cloned().flatten() {
            Some(json::Probed::Trace) => {
                return Ok(Detected::new(
                    LogFormat::Cts,
                    "cts-lines",
                    "one JSON object per line with trace_name: CTS traces",
                ));
            }
            Some(json::Probed::TraceList) => {
                return Ok(Detected::new(
                    LogFormat::CtsDocument,
                    "cts-list-traces",
                    "a JSON object with a traces array on one line: a CTS ListTraces response",
                ));
            }
            Some(json::Probed::Array { traces: true, .. }) => {
                return Ok(Detected::new(
                    LogFormat::CtsDocument,
                    "cts-array",
                    "a JSON array of objects with trace_name: CTS traces (as delivered to OBS)",
                ));
            }
            Some(json::Probed::Array {
                traces: false,
                keys,
            }) if json::is_request_like(&keys) => {
                let (layout, why) = match json::shape_of(&keys) {
                    Some((shape, why)) => (shape, format!("JSON arrays of gateway records; {why}")),
                    None => (
                        "json-array",
                        "JSON arrays of gateway records (batched)".into(),
                    ),
                };
                return Ok(Detected {
                    keys,
                    ..Detected::new(LogFormat::JsonDocument, layout, why)
                });
            }
            Some(json::Probed::Array { traces: false, .. }) => {
                return Err(
                    "a JSON array whose elements are not CTS traces (no trace_name): expected JSON lines (one object per line), CTS traces or an API Gateway log; an array of gateway records can be turned into JSON lines with jq -c '.[]'".into(),
                );
            }
            // A ListTraces response whose traces are missing: read as a CTS document, which
            // then says what it lacks, rather than as one gateway line of other traffic.
            Some(json::Probed::Object(keys)) if keys.iter().any(|k| k == "meta_data") => {
                return Ok(Detected::new(
                    LogFormat::CtsDocument,
                    "cts-list-traces",
                    "a JSON object with meta_data on one line: a CTS ListTraces response",
                ));
            }
            Some(json::Probed::Object(first_keys)) => {
                // The keys of every record probed: a file whose first line is of another
                // kind still shows what its records hold.
                let mut keys = first_keys;
                for k in firsts.iter().skip(1).flatten() {
                    if let json::Probed::Object(more) = k {
                        for key in more {
                            if !keys.contains(key) {
                                keys.push(key.clone());
                            }
                        }
                    }
                }
                let (layout, why) = match json::shape_of(&keys) {
                    Some((shape, why)) => (shape, format!("one JSON object per line; {why}")),
                    None => (
                        "json-lines",
                        "one JSON object per line: gateway JSON lines".into(),
                    ),
                };
                return Ok(Detected {
                    keys,
                    ..Detected::new(LogFormat::Json, layout, why)
                });
            }
            None => {}
        }
        // Not one value per line: a pretty-printed document. A CTS document is told by its
        // keys, wherever they are (the server writes meta_data first).
        let has = |key: &[u8]| memchr::memmem::find(text, key).is_some();
        if text[0] == b'{' && has(b"\"traces\"") {
            return Ok(Detected::new(
                LogFormat::CtsDocument,
                "cts-list-traces",
                "a pretty-printed JSON object with a traces key: a CTS ListTraces response",
            ));
        }
        if has(b"\"trace_name\"") {
            return Ok(Detected::new(
                LogFormat::CtsDocument,
                if text[0] == b'[' {
                    "cts-array"
                } else {
                    "cts-trace"
                },
                "a pretty-printed JSON document with trace_name: CTS traces",
            ));
        }
        if text[0] == b'['
            && [
                &b"\"method\""[..],
                b"\"request_method\"",
                b"\"RequestMethod\"",
                b"\"httpMethod\"",
            ]
            .iter()
            .any(|k| has(k))
        {
            return Ok(Detected::new(
                LogFormat::JsonDocument,
                "json-array",
                "a pretty-printed JSON array of gateway records",
            ));
        }
        if firsts.iter().skip(1).any(Option::is_some) {
            return Ok(Detected::new(
                LogFormat::Json,
                "json-lines",
                "JSON objects per line (the first line is not one)",
            ));
        }
        return Err(
            "a JSON document that is neither JSON lines (one object per line) nor a CTS document (no traces or trace_name key)".into(),
        );
    }
    let mut counts = [0usize; 3];
    let mut fields_seen = Vec::new();
    for line in lines() {
        match apig::line_layout(line) {
            Some(l) => counts[apig::Layout::ALL.iter().position(|x| *x == l).unwrap_or(0)] += 1,
            None => fields_seen.push(apig::count_fields(line)),
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    if counts[best] == 0 {
        let seen: Vec<String> = fields_seen.iter().take(3).map(|n| n.to_string()).collect();
        return Err(format!(
            "matches no known log format: not JSON, and not API Gateway access-log lines (53, 54 or 23 space-separated fields; the first lines have {})",
            seen.join(", ")
        ));
    }
    let layout = apig::Layout::ALL[best];
    let why = format!(
        "{} of the first {} lines have {} space-separated fields{}: an API Gateway access log",
        counts[best],
        counts.iter().sum::<usize>() + fields_seen.len(),
        layout.fields(),
        match layout {
            apig::Layout::Joined => " (scheme://host in one token)",
            apig::Layout::Split => " (scheme and host apart)",
            apig::Layout::Legacy => " (the older layout, no scheme)",
        }
    );
    Ok(Detected::new(LogFormat::Apig, layout.as_str(), why))
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

    fn format(head: &[u8]) -> Option<(LogFormat, &'static str)> {
        detect(head).ok().map(|d| (d.format, d.layout))
    }

    #[test]
    fn detects_formats() {
        assert_eq!(
            format(b"{\"method\":\"GET\",\"uri\":\"/x\"}\n"),
            Some((LogFormat::Json, "json-lines"))
        );
        assert_eq!(
            format(b"{\"trace_name\":\"renewResources\",\"code\":\"200\"}\n"),
            Some((LogFormat::Cts, "cts-lines"))
        );
        assert_eq!(
            format(b"{\n  \"traces\": [\n"),
            Some((LogFormat::CtsDocument, "cts-list-traces"))
        );
        // The server's key order, pretty and compact.
        assert_eq!(
            format(b"{\n  \"meta_data\": {\"count\": 1, \"marker\": null},\n  \"traces\": [\n"),
            Some((LogFormat::CtsDocument, "cts-list-traces"))
        );
        assert_eq!(
            format(b"{\"meta_data\":{\"count\":1},\"traces\":[{\"trace_name\":\"x\"}]}"),
            Some((LogFormat::CtsDocument, "cts-list-traces"))
        );
        assert_eq!(
            format(b"[{\"trace_name\":\"x\"}]"),
            Some((LogFormat::CtsDocument, "cts-array"))
        );
        assert_eq!(
            format(b"[\n  {\n    \"trace_name\": \"x\",\n"),
            Some((LogFormat::CtsDocument, "cts-array"))
        );
        assert!(
            detect(b"[{\"a\":1}]")
                .unwrap_err()
                .contains("not CTS traces")
        );
        assert!(
            detect(b"hello world\n")
                .unwrap_err()
                .contains("matches no known log format")
        );
        assert_eq!(format(b""), Some((LogFormat::Json, "empty")));
        assert!(detect(b"{not json at all\n").is_err());
    }
}
