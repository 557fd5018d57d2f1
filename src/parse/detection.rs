//! Format detection: which log format a file is, from its first bytes, or what
//! `--log-format` forces; and why, in words `inspect` and the summary show.
//!
//! JSON is told from the first lines' values ([`json::JsonProbe`]): one value per line, or a
//! pretty-printed document told by its keys. Anything else is tried as API Gateway lines,
//! by the field count of each line.

use super::{FormatChoice, LogFormat, apig, clf, json};

/// What format detection decided for a file, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub format: LogFormat,
    /// Which variant of the format (`json-lines`, `apig-joined-53`, `cts-list-traces`, ...).
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
                LogFormat::Clf => "clf",
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
    if text[0] == b'{' || (text[0] == b'[' && !clf::plausible(first_line(text))) {
        detect_json(text)
    } else {
        detect_text(text)
    }
}

/// The first line of `text`.
fn first_line(text: &[u8]) -> &[u8] {
    text.split(|&b| b == b'\n').next().unwrap_or_default()
}

/// The first [`PROBE_LINES`] non-blank lines of `text`, without their line ends.
fn probe_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.trim_ascii().is_empty())
        .take(PROBE_LINES)
}

/// A file that starts with `{` or `[`: JSON lines, a JSON document, or why neither.
fn detect_json(text: &[u8]) -> Result<Detected, String> {
    let mut probe = json::JsonProbe::default();
    let firsts: Vec<Option<json::Probed>> = probe_lines(text).map(|l| probe.probe(l)).collect();
    match firsts.first().cloned().flatten() {
        Some(first) => one_value_per_line(first, &firsts),
        None => pretty_document(text, &firsts),
    }
}

/// A file whose first line is one JSON value (`first`); `firsts` are all the probed lines.
fn one_value_per_line(
    first: json::Probed,
    firsts: &[Option<json::Probed>],
) -> Result<Detected, String> {
    match first {
        json::Probed::Trace => Ok(Detected::new(
            LogFormat::Cts,
            "cts-lines",
            "one JSON object per line with trace_name: CTS traces",
        )),
        json::Probed::TraceList => Ok(Detected::new(
            LogFormat::CtsDocument,
            "cts-list-traces",
            "a JSON object with a traces array on one line: a CTS ListTraces response",
        )),
        json::Probed::Array { traces: true, .. } => Ok(Detected::new(
            LogFormat::CtsDocument,
            "cts-array",
            "a JSON array of objects with trace_name: CTS traces (as delivered to OBS)",
        )),
        json::Probed::Array {
            traces: false,
            keys,
        } if json::is_request_like(&keys) => {
            let (layout, why) = match json::shape_of(&keys) {
                Some((shape, why)) => (shape, format!("JSON arrays of gateway records; {why}")),
                None => (
                    "json-array",
                    "JSON arrays of gateway records (batched)".into(),
                ),
            };
            Ok(Detected {
                keys,
                ..Detected::new(LogFormat::JsonDocument, layout, why)
            })
        }
        json::Probed::Array { traces: false, .. } => Err(
            "a JSON array whose elements are not CTS traces (no trace_name): expected JSON lines (one object per line), CTS traces or an API Gateway log; an array of gateway records can be turned into JSON lines with jq -c '.[]'".into(),
        ),
        // A ListTraces response whose traces are missing: read as a CTS document, which
        // then says what it lacks, rather than as one gateway line of other traffic.
        json::Probed::Object(keys) if keys.iter().any(|k| k == "meta_data") => Ok(Detected::new(
            LogFormat::CtsDocument,
            "cts-list-traces",
            "a JSON object with meta_data on one line: a CTS ListTraces response",
        )),
        json::Probed::Object(first_keys) => {
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
            Ok(Detected {
                keys,
                ..Detected::new(LogFormat::Json, layout, why)
            })
        }
    }
}

/// A file that starts with `{` or `[` but whose first line is not one JSON value: a
/// pretty-printed document, or JSON lines after a first line that is not one.
fn pretty_document(text: &[u8], firsts: &[Option<json::Probed>]) -> Result<Detected, String> {
    // A CTS document is told by its keys, wherever they are (the server writes meta_data
    // first).
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
    Err(
        "a JSON document that is neither JSON lines (one object per line) nor a CTS document (no traces or trace_name key)".into(),
    )
}

/// A file that is not JSON: API Gateway access-log lines of the layout most of the first
/// lines have, text access-log lines of the Common Log Format family, or what the lines look
/// like.
fn detect_text(text: &[u8]) -> Result<Detected, String> {
    let mut counts = [0usize; 3];
    let mut text_lines = [0usize; 2];
    let mut fields_seen = Vec::new();
    let mut probed = 0;
    for line in probe_lines(text) {
        probed += 1;
        match apig::line_layout(line) {
            Some(l) => counts[apig::Layout::ALL.iter().position(|x| *x == l).unwrap_or(0)] += 1,
            None => {
                match clf::line_layout(line) {
                    Some(clf::ClfLayout::Clf) => text_lines[0] += 1,
                    Some(clf::ClfLayout::Envoy) => text_lines[1] += 1,
                    None => {}
                }
                fields_seen.push(apig::count_fields(line));
            }
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    let text_best = usize::from(text_lines[1] > text_lines[0]);
    if text_lines[text_best] > counts[best] {
        let layout = [clf::ClfLayout::Clf, clf::ClfLayout::Envoy][text_best];
        let why = format!(
            "{} of the first {probed} lines are {}",
            text_lines[text_best],
            match layout {
                clf::ClfLayout::Clf => {
                    "host ident user [time] \"request\" status size: a Common Log Format access log (nginx combined, Traefik common, Apache)"
                }
                clf::ClfLayout::Envoy => {
                    "[time] \"request\" status ...: Envoy's default text access log (no caller)"
                }
            }
        );
        return Ok(Detected::new(LogFormat::Clf, layout.as_str(), why));
    }
    if counts[best] == 0 {
        let seen: Vec<String> = fields_seen.iter().take(3).map(|n| n.to_string()).collect();
        return Err(format!(
            "matches no known log format: not JSON, not API Gateway access-log lines (53, 54 or 23 space-separated fields; the first lines have {}), not Common Log Format or Envoy text lines",
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
