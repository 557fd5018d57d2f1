//! Log formats: one file per format, each turning a line into a [`Request`].
//!
//! The format is decided per file from its first lines ([`detect`]) unless forced. Parsers
//! borrow from the line (or from their own reusable buffers) and never allocate per line.

pub mod apig;
pub mod cts;
pub mod flat;
pub mod json;
pub mod positions;
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
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Apig => "apig",
            LogFormat::Cts => "cts",
            LogFormat::CtsDocument => "cts",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
            _ => return Err(format!("expected auto, json, apig or cts, got {s:?}")),
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
    pub user: &'a [u8],
    pub user_id: &'a [u8],
    pub request_id: &'a [u8],
    pub source_ip: &'a [u8],
    /// `APIG.0302`, `CBC.0151`, ...
    pub error_code: &'a [u8],
    pub host: &'a [u8],
    /// API Gateway `response_source`: `local` (the gateway answered) or `remote`.
    pub response_source: &'a [u8],
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

/// Decides the format of a file from its first bytes. `None`: no known format.
pub fn detect(head: &[u8]) -> Option<LogFormat> {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let first = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = &text[first..];
    if text[0] == b'{' {
        // A single document `{"traces": [...]}` (possibly pretty-printed).
        let after_brace = text[1..].trim_ascii_start();
        if after_brace.starts_with(b"\"traces\"") {
            return Some(LogFormat::CtsDocument);
        }
        let mut parser = json::JsonProbe::default();
        for line in text
            .split(|&b| b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
            .take(8)
        {
            match parser.probe(line) {
                Some(true) => return Some(LogFormat::Cts),
                Some(false) => return Some(LogFormat::Json),
                None => continue,
            }
        }
        return None;
    }
    let good = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .take(8)
        .filter(|l| apig::looks_like_apig(l))
        .count();
    (good > 0).then_some(LogFormat::Apig)
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

    #[test]
    fn detects_formats() {
        assert_eq!(
            detect(b"{\"method\":\"GET\",\"uri\":\"/x\"}\n"),
            Some(LogFormat::Json)
        );
        assert_eq!(
            detect(b"{\"trace_name\":\"renewResources\",\"code\":\"200\"}\n"),
            Some(LogFormat::Cts)
        );
        assert_eq!(
            detect(b"{\n  \"traces\": [\n"),
            Some(LogFormat::CtsDocument)
        );
        assert_eq!(detect(b"hello world\n"), None);
        assert_eq!(detect(b""), None);
        assert_eq!(detect(b"{not json at all\n"), None);
    }
}
