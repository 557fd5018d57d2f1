//! Huawei API Gateway access logs: one request per line, space-separated fields in a fixed
//! order. Three layouts exist and every line is read by its own field count:
//!
//! - **joined** (53 fields): what the gateway really writes. Its log format puts
//!   `$scheme://$host` in one token, so the documented `scheme` and `host` are one field (the
//!   provider's own example line in the LTS "APIG" structuring template is such a line);
//! - **split** (54 fields): the documented field list, `scheme` and `host` apart;
//! - **legacy** (23 fields): older gateways, no `scheme`, ending at `region_id`.
//!
//! Empty values are `-`. A field starting with `"` runs to the next `"` and one starting with
//! `[` to the next `]`; `time_local` may be two tokens (`dd/Mon/yyyy:HH:MM:SS` and `+zzzz`).
//! The quoting is undocumented, so anything that does not give one of the three layouts is a
//! malformed line, counted and sampled.

use super::time::TimeCache;
use super::{Malformed, Request};
use crate::bytes::positions::{self, Positions};

/// Field names of the 54-field layout, in order.
pub const FIELDS_54: [&str; 54] = [
    "remote_addr",
    "request_id",
    "api_id",
    "user_id",
    "app_id",
    "time_local",
    "request_time",
    "request_method",
    "scheme",
    "host",
    "router_uri",
    "server_protocol",
    "status",
    "bytes_sent",
    "request_length",
    "http_user_agent",
    "http_x_forwarded_for",
    "upstream_addr",
    "upstream_uri",
    "upstream_status",
    "upstream_connect_time",
    "upstream_header_time",
    "upstream_response_time",
    "region_id",
    "all_upstream_response_time",
    "errorType",
    "auth_type",
    "access_model1",
    "access_model2",
    "inner_time",
    "proxy_protocol_vni",
    "proxy_protocol_vpce_id",
    "proxy_protocol_addr",
    "body_bytes_sent",
    "api_name",
    "app_name",
    "provider_app_id",
    "provider_app_name",
    "custom_data_log1",
    "custom_data_log2",
    "custom_data_log3",
    "custom_data_log4",
    "custom_data_log5",
    "custom_data_log6",
    "custom_data_log7",
    "custom_data_log8",
    "custom_data_log9",
    "custom_data_log10",
    "response_source",
    "gzip_ratio",
    "upstream_scheme",
    "group_id",
    "apig_err_code",
    "function_urn",
];

const MAX_TOKENS: usize = 64;

/// Index of a field in the 54-field layout.
fn idx54(name: &str) -> Option<usize> {
    FIELDS_54.iter().position(|f| *f == name)
}

/// `scheme` and `host` in the 54-field layout; the joined layout writes them as one token.
const SCHEME: usize = 8;
const HOST: usize = 9;

/// The three layouts of an API Gateway access-log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// 53 fields, `scheme://host` one token: what the gateway writes.
    Joined,
    /// 54 fields, as the documented field list reads.
    Split,
    /// 23 fields (older gateways): no `scheme`, nothing after `region_id`.
    Legacy,
}

impl Layout {
    pub const ALL: [Layout; 3] = [Layout::Joined, Layout::Split, Layout::Legacy];

    /// The layout a line of `fields` fields is in.
    pub fn of_count(fields: usize) -> Option<Layout> {
        match fields {
            53 => Some(Layout::Joined),
            54 => Some(Layout::Split),
            23 => Some(Layout::Legacy),
            _ => None,
        }
    }

    pub fn fields(self) -> usize {
        match self {
            Layout::Joined => 53,
            Layout::Split => 54,
            Layout::Legacy => 23,
        }
    }

    /// The name `summary.json` and `inspect` give the layout.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Joined => "apig-joined-53",
            Layout::Split => "apig-split-54",
            Layout::Legacy => "apig-legacy-23",
        }
    }

    /// Where a field of the 54-field layout is in this layout: `None` when the layout does not
    /// have it. In the joined layout `scheme` and `host` both point at the joined token.
    pub fn position(self, i54: usize) -> Option<usize> {
        match self {
            Layout::Split => Some(i54),
            Layout::Joined => Some(if i54 <= SCHEME { i54 } else { i54 - 1 }),
            Layout::Legacy => match i54 {
                SCHEME => None,
                0..SCHEME => Some(i54),
                HOST..=23 => Some(i54 - 1),
                _ => None,
            },
        }
    }

    /// Whether this layout has the field named `name`.
    pub fn has(self, name: &str) -> bool {
        idx54(name).and_then(|i| self.position(i)).is_some()
    }
}

/// The names `--user-field` accepts.
pub fn field_names() -> &'static [&'static str] {
    &FIELDS_54
}

/// Splits a line into fields, honouring quotes, brackets and a two-token `time_local`.
/// Returns the number of fields; spans are byte ranges into `line`.
fn tokenize(line: &[u8], spans: &mut [(u32, u32); MAX_TOKENS]) -> usize {
    let mut n = 0;
    let mut i = 0;
    let len = line.len();
    let mut spaces = Positions::new(line, b' ');
    while i < len {
        while i < len && line[i] == b' ' {
            i += 1;
        }
        if i >= len {
            break;
        }
        let (start, end, next) = match line[i] {
            q @ (b'"' | b'[') => {
                let close = if q == b'"' { b'"' } else { b']' };
                match memchr::memchr(close, &line[i + 1..]) {
                    Some(p) => {
                        let end = i + 1 + p;
                        let after = spaces.next_from(end).unwrap_or(len);
                        (i + 1, end, after)
                    }
                    None => {
                        let end = spaces.next_from(i).unwrap_or(len);
                        (i, end, end)
                    }
                }
            }
            _ => {
                let end = spaces.next_from(i).unwrap_or(len);
                (i, end, end)
            }
        };
        if n == MAX_TOKENS {
            return MAX_TOKENS + 1;
        }
        spans[n] = (start as u32, end as u32);
        n += 1;
        i = next;
    }
    // `time_local` written as two tokens: `27/Nov/2026:10:00:00` `+0800`.
    if n > 6 {
        let (s5, e5) = spans[5];
        let (s6, e6) = spans[6];
        let t = &line[s5 as usize..e5 as usize];
        let z = &line[s6 as usize..e6 as usize];
        let is_zone =
            z.len() == 5 && matches!(z[0], b'+' | b'-') && z[1..].iter().all(u8::is_ascii_digit);
        if t.len() == 20 && t[2] == b'/' && is_zone {
            spans[5] = (s5, e6);
            spans.copy_within(7..n, 6);
            n -= 1;
        }
    }
    n
}

/// The layout a tokenized line is in, told by its field count and checked by content: the
/// method is a word, and the scheme token is `scheme://host` (joined) or a bare scheme
/// (split). `Err` says why the line is none of them.
fn layout_of(line: &[u8], spans: &[(u32, u32); MAX_TOKENS], n: usize) -> Result<Layout, String> {
    let token = |i: usize| {
        let (s, e) = spans[i];
        &line[s as usize..e as usize]
    };
    let layout = Layout::of_count(n).ok_or_else(|| {
        format!(
            "expected 53 (scheme://host joined), 54 or 23 space-separated fields, got {}",
            n.min(MAX_TOKENS)
        )
    })?;
    let method = token(7);
    if method.is_empty() || !method.iter().all(u8::is_ascii_alphabetic) {
        return Err(format!(
            "field 8 (request_method) {:?} is not an HTTP method",
            String::from_utf8_lossy(method)
        ));
    }
    let scheme_like =
        |t: &[u8]| t == b"-" || (!t.is_empty() && t.iter().all(u8::is_ascii_alphabetic));
    match layout {
        Layout::Joined => {
            let t = token(SCHEME);
            if t != b"-" && memchr::memmem::find(t, b"://").is_none() {
                return Err(format!(
                    "53 fields, but field 9 {:?} is not scheme://host",
                    String::from_utf8_lossy(t)
                ));
            }
        }
        Layout::Split => {
            let t = token(SCHEME);
            if !scheme_like(t) {
                return Err(format!(
                    "54 fields, but field 9 (scheme) {:?} is not a scheme",
                    String::from_utf8_lossy(t)
                ));
            }
        }
        Layout::Legacy => {}
    }
    Ok(layout)
}

/// Format detection: the layout of a line, if it is an API Gateway access-log line.
pub fn line_layout(line: &[u8]) -> Option<Layout> {
    let line = line.trim_ascii();
    let mut spans = [(0u32, 0u32); MAX_TOKENS];
    let n = tokenize(line, &mut spans);
    layout_of(line, &spans, n).ok()
}

/// The cheap structural check of a line the prefilter skips: as many space-separated fields
/// as the shortest layout has at least (22 separators for 23 fields). A whole tokenization of
/// every skipped line made the scan markedly slower; this one pass of a SIMD count tells
/// garbage and cut lines from access-log lines.
#[inline]
pub fn plausible(line: &[u8]) -> bool {
    line.first().is_some_and(|b| !b.is_ascii_whitespace())
        && positions::count(line, b' ') >= Layout::Legacy.fields() - 1
}

/// Why a line is not an API Gateway access-log line of any layout (for messages).
pub fn why_not(line: &[u8]) -> String {
    let line = line.trim_ascii();
    let mut spans = [(0u32, 0u32); MAX_TOKENS];
    let n = tokenize(line, &mut spans);
    layout_of(line, &spans, n)
        .err()
        .unwrap_or_else(|| "not an API Gateway access-log line".into())
}

/// How many fields a line splits into (for messages).
pub fn count_fields(line: &[u8]) -> usize {
    let mut spans = [(0u32, 0u32); MAX_TOKENS];
    tokenize(line.trim_ascii(), &mut spans)
}

/// Cheap check used by format detection.
pub fn looks_like_apig(line: &[u8]) -> bool {
    line_layout(line).is_some()
}

/// A reusable APIG line parser.
#[derive(Debug, Clone)]
pub struct ApigParser {
    /// The `--user-field`, as an index in the 54-field layout.
    user: Option<usize>,
    spans: [(u32, u32); MAX_TOKENS],
    times: TimeCache,
}

/// The `--user-field`: an API Gateway log field (of the full layout), checked once when the
/// option is read, so that the parsers taking it cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserField {
    name: String,
    /// Its index in the 54-field layout.
    index: usize,
}

impl UserField {
    pub fn new(name: &str) -> Result<UserField, String> {
        match idx54(name) {
            Some(index) => Ok(UserField {
                name: name.to_owned(),
                index,
            }),
            None => Err(format!(
                "{name:?} is not an API Gateway log field; expected one of {}",
                FIELDS_54.join(", ")
            )),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl ApigParser {
    /// `user_field` names the field that carries the caller's IAM user name
    /// (`custom_data_log1`, `app_id`, ...).
    pub fn new(user_field: Option<&UserField>) -> ApigParser {
        ApigParser {
            user: user_field.map(|u| u.index),
            spans: [(0, 0); MAX_TOKENS],
            times: TimeCache::default(),
        }
    }

    /// Times written without a zone are read in this one (`--timezone`).
    pub fn with_zone(mut self, zone: Option<i32>) -> ApigParser {
        self.times = TimeCache::with_zone(zone);
        self
    }

    /// Parses one line and hands the request to `f`.
    pub fn parse<R>(
        &mut self,
        line: &[u8],
        f: impl FnOnce(&Request<'_>) -> R,
    ) -> Result<R, Malformed> {
        let line = line.trim_ascii();
        let n = tokenize(line, &mut self.spans);
        let layout = layout_of(line, &self.spans, n).map_err(Malformed)?;
        let spans = &self.spans;
        let token = |i: usize| -> &[u8] {
            let (s, e) = spans[i];
            match &line[s as usize..e as usize] {
                b"-" => b"",
                v => v,
            }
        };
        // A field by its 54-layout index; empty when the layout does not have it.
        let field = |i54: usize| -> &[u8] { layout.position(i54).map_or(&b""[..], token) };
        let host = match layout {
            Layout::Joined => {
                let joined = token(SCHEME);
                memchr::memmem::find(joined, b"://").map_or(joined, |p| &joined[p + 3..])
            }
            _ => field(HOST),
        };
        let status_raw = field(12);
        let status = if status_raw.is_empty() {
            0
        } else {
            super::parse_status(status_raw).ok_or_else(|| {
                Malformed(format!(
                    "status {:?} is not an HTTP status code",
                    String::from_utf8_lossy(status_raw)
                ))
            })?
        };
        let time_raw = field(5);
        let user = match self.user {
            Some(HOST) => host,
            Some(i) => field(i),
            None => b"",
        };
        let req = Request {
            method: field(7),
            target: field(10),
            trace_route: None,
            trace: false,
            status,
            time: self.times.parse(time_raw),
            time_text: time_raw,
            user,
            user_id: b"",
            request_id: field(1),
            source_ip: field(0),
            error_code: field(52),
            host,
            response_source: field(48),
            console: false,
        };
        if req.method.is_empty() || req.target.is_empty() {
            return Err(Malformed("no request_method or router_uri".into()));
        }
        Ok(f(&req))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a 54-field line from (field, value) overrides; everything else is `-`.
    pub fn line54(values: &[(&str, &str)]) -> String {
        FIELDS_54
            .iter()
            .map(|f| {
                values
                    .iter()
                    .find(|(k, _)| k == f)
                    .map_or("-", |(_, v)| *v)
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The tokenizer before it found spaces a block at a time: byte by byte.
    fn reference_tokenize(line: &[u8], spans: &mut [(u32, u32); MAX_TOKENS]) -> usize {
        let mut n = 0;
        let mut i = 0;
        let len = line.len();
        while i < len {
            while i < len && line[i] == b' ' {
                i += 1;
            }
            if i >= len {
                break;
            }
            let (start, end, next) = match line[i] {
                q @ (b'"' | b'[') => {
                    let close = if q == b'"' { b'"' } else { b']' };
                    match line[i + 1..].iter().position(|&b| b == close) {
                        Some(p) => {
                            let end = i + 1 + p;
                            let after = line[end..]
                                .iter()
                                .position(|&b| b == b' ')
                                .map_or(len, |p| end + p);
                            (i + 1, end, after)
                        }
                        None => {
                            let end = line[i..]
                                .iter()
                                .position(|&b| b == b' ')
                                .map_or(len, |p| i + p);
                            (i, end, end)
                        }
                    }
                }
                _ => {
                    let end = line[i..]
                        .iter()
                        .position(|&b| b == b' ')
                        .map_or(len, |p| i + p);
                    (i, end, end)
                }
            };
            if n == MAX_TOKENS {
                return MAX_TOKENS + 1;
            }
            spans[n] = (start as u32, end as u32);
            n += 1;
            i = next;
        }
        // `time_local` written as two tokens: `27/Nov/2026:10:00:00` `+0800`.
        if n > 6 {
            let (s5, e5) = spans[5];
            let (s6, e6) = spans[6];
            let t = &line[s5 as usize..e5 as usize];
            let z = &line[s6 as usize..e6 as usize];
            let is_zone = z.len() == 5
                && matches!(z[0], b'+' | b'-')
                && z[1..].iter().all(u8::is_ascii_digit);
            if t.len() == 20 && t[2] == b'/' && is_zone {
                spans[5] = (s5, e6);
                spans.copy_within(7..n, 6);
                n -= 1;
            }
        }
        n
    }

    proptest::proptest! {
        /// The block-wise tokenizer splits every line as the byte-wise one did.
        #[test]
        fn tokenizer_agrees_with_the_bytewise_one(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                " ", "  ", "-", "GET", "\"a b\"", "\"a b", "[27/Nov/2026:18:00:00", "+0800]",
                "27/Nov/2026:18:00:00", "+0800", "\"\"", "[x]y", "/v2/orders?x=1",
            ]), 0..70),
        ) {
            let line = parts.join(" ");
            let (mut a, mut b) = ([(0u32, 0u32); MAX_TOKENS], [(0u32, 0u32); MAX_TOKENS]);
            let n = tokenize(line.as_bytes(), &mut a);
            proptest::prop_assert_eq!(n, reference_tokenize(line.as_bytes(), &mut b), "{}", line);
            let shown = n.min(MAX_TOKENS);
            proptest::prop_assert_eq!(&a[..shown], &b[..shown], "{}", line);
        }
    }

    #[test]
    fn parses_the_54_field_layout() {
        let line = line54(&[
            ("remote_addr", "10.1.2.3"),
            ("request_id", "req-1"),
            ("time_local", "27/Nov/2026:18:00:00 +0800"),
            ("request_method", "POST"),
            ("host", "bss.myhuaweicloud.com"),
            ("router_uri", "/v2/orders/customer-orders/pay?x=1"),
            ("status", "403"),
            ("http_user_agent", "\"Mozilla/5.0 (X11; Linux) curl/8\""),
            ("custom_data_log1", "alice"),
            ("response_source", "local"),
            ("apig_err_code", "APIG.0302"),
        ]);
        let mut p = ApigParser::new(Some(&UserField::new("custom_data_log1").unwrap()));
        let got = p
            .parse(line.as_bytes(), |r| {
                (
                    r.method.to_vec(),
                    r.target.to_vec(),
                    r.status,
                    r.time,
                    r.user.to_vec(),
                    r.error_code.to_vec(),
                    r.response_source.to_vec(),
                    r.source_ip.to_vec(),
                )
            })
            .unwrap();
        assert_eq!(got.0, b"POST");
        assert_eq!(got.1, b"/v2/orders/customer-orders/pay?x=1");
        assert_eq!(got.2, 403);
        assert_eq!(
            got.3,
            super::super::time::parse_time(b"2026-11-27T10:00:00Z")
        );
        assert_eq!(got.4, b"alice");
        assert_eq!(got.5, b"APIG.0302");
        assert_eq!(got.6, b"local");
        assert_eq!(got.7, b"10.1.2.3");
    }

    #[test]
    fn parses_the_23_field_layout() {
        let fields23: Vec<&str> = FIELDS_54
            .iter()
            .copied()
            .filter(|f| *f != "scheme")
            .take(23)
            .collect();
        let line = fields23
            .iter()
            .map(|f| match *f {
                "request_method" => "GET",
                "router_uri" => "/v2/orders/customer-orders",
                "status" => "200",
                "app_id" => "app-7",
                "time_local" => "[27/Nov/2026:10:00:00 +0000]",
                _ => "-",
            })
            .collect::<Vec<_>>()
            .join(" ");
        let mut p = ApigParser::new(Some(&UserField::new("app_id").unwrap()));
        let got = p
            .parse(line.as_bytes(), |r| {
                (
                    r.target.to_vec(),
                    r.status,
                    r.user.to_vec(),
                    r.time.is_some(),
                )
            })
            .unwrap();
        assert_eq!(
            got,
            (
                b"/v2/orders/customer-orders".to_vec(),
                200,
                b"app-7".to_vec(),
                true
            )
        );
        assert!(looks_like_apig(line.as_bytes()));
    }

    /// The provider's own example line (LTS "APIG" structuring template): 53 fields,
    /// `scheme://host` one token.
    const PROVIDER_EXAMPLE: &str = r#"100.125.7.59 f57f6523b675504a23887d0f5c1c8ef3 f5ea2360a2fa443cac236b76f4052ad6 - - [27/Jan/2022:15:56:44 +0800] 0.113 GET http://c965898968af48248ec7fac4ec0666f4.apic.cn-north-4.huaweicloudapis.com /api/echo HTTP/1.1 200 1443 408 "APIGatewayDebugClient/1.0" "-" "100.125.2.39:443" /v2/x/fgs/functions/urn:fss:cn-north-4:106506b9a92342df9a5025fc12351cfc:function:default:apigDemo_1640743997661:latest/invocations "200" "0.010" "0.083" "0.083" cn-north-4 0.083 0 - - - 0.03000020980835 - - "-" 486 HttpEchoDemo - - - "-" "-" "-" "-" "-" "-" "-" "-" "-" "-" "remote" "0.52" "http" "id" "-" "urn:fss:cn-north-7:6650ff66e4524699bea4c96ff2f268fe:function:default:test123hxy""#;

    #[test]
    fn reads_the_providers_example_line() {
        assert_eq!(
            line_layout(PROVIDER_EXAMPLE.as_bytes()),
            Some(Layout::Joined)
        );
        let mut p = ApigParser::new(Some(&UserField::new("custom_data_log1").unwrap()));
        let got = p
            .parse(PROVIDER_EXAMPLE.as_bytes(), |r| {
                (
                    String::from_utf8_lossy(r.method).into_owned(),
                    String::from_utf8_lossy(r.target).into_owned(),
                    r.status,
                    r.time,
                    String::from_utf8_lossy(r.host).into_owned(),
                    String::from_utf8_lossy(r.response_source).into_owned(),
                    r.user.is_empty(),
                    r.error_code.is_empty(),
                )
            })
            .unwrap();
        assert_eq!(got.0, "GET");
        assert_eq!(got.1, "/api/echo");
        assert_eq!(got.2, 200);
        assert_eq!(
            got.3,
            super::super::time::parse_time(b"2022-01-27T07:56:44Z")
        );
        assert_eq!(
            got.4,
            "c965898968af48248ec7fac4ec0666f4.apic.cn-north-4.huaweicloudapis.com"
        );
        assert_eq!(got.5, "remote");
        assert!(got.6 && got.7);
    }

    #[test]
    fn every_layout_reads_the_same_request() {
        let split = line54(&[
            ("request_method", "POST"),
            ("scheme", "https"),
            ("host", "bss.myhuaweicloud.com"),
            ("router_uri", "/v2/orders/customer-orders/pay"),
            ("status", "403"),
            ("time_local", "[27/Nov/2026:18:00:00 +0800]"),
            ("custom_data_log3", "alice"),
            ("response_source", "local"),
            ("apig_err_code", "APIG.0302"),
        ]);
        let joined = split.replacen(
            " https bss.myhuaweicloud.com ",
            " https://bss.myhuaweicloud.com ",
            1,
        );
        assert_eq!(line_layout(split.as_bytes()), Some(Layout::Split));
        assert_eq!(line_layout(joined.as_bytes()), Some(Layout::Joined));
        let mut p = ApigParser::new(Some(&UserField::new("custom_data_log3").unwrap()));
        let read = |p: &mut ApigParser, line: &str| {
            p.parse(line.as_bytes(), |r| {
                format!(
                    "{} {} {} {:?} {} {} {} {}",
                    String::from_utf8_lossy(r.method),
                    String::from_utf8_lossy(r.target),
                    r.status,
                    r.time,
                    String::from_utf8_lossy(r.user),
                    String::from_utf8_lossy(r.host),
                    String::from_utf8_lossy(r.response_source),
                    String::from_utf8_lossy(r.error_code),
                )
            })
            .unwrap()
        };
        assert_eq!(read(&mut p, &split), read(&mut p, &joined));
        // 53 fields whose ninth is not scheme://host, and 54 whose ninth is not a scheme.
        let shifted = split.replacen(
            " https bss.myhuaweicloud.com ",
            " bss.myhuaweicloud.com ",
            1,
        );
        assert!(
            p.parse(shifted.as_bytes(), |_| ())
                .unwrap_err()
                .0
                .contains("not scheme://host")
        );
        let odd = split.replacen(" https ", " /x ", 1);
        assert!(
            p.parse(odd.as_bytes(), |_| ())
                .unwrap_err()
                .0
                .contains("is not a scheme")
        );
        for l in Layout::ALL {
            assert_eq!(Layout::of_count(l.fields()), Some(l));
        }
        assert!(Layout::Legacy.has("app_id") && !Layout::Legacy.has("custom_data_log1"));
        assert!(!Layout::Legacy.has("scheme") && Layout::Legacy.has("region_id"));
        assert!(Layout::Joined.has("function_urn"));
    }

    #[test]
    fn the_cheap_check_passes_every_layout_and_fails_short_lines() {
        assert!(plausible(PROVIDER_EXAMPLE.as_bytes()));
        assert!(plausible(line54(&[("request_method", "GET")]).as_bytes()));
        assert!(!plausible(b"garbage line"));
        assert!(!plausible(b" leading space and then nothing much"));
        let cut = &PROVIDER_EXAMPLE[..140];
        assert!(!plausible(cut.as_bytes()));
        assert_eq!(positions::count(&[b' '; 200], b' '), 200);
    }

    #[test]
    fn wrong_field_counts_are_malformed() {
        let mut p = ApigParser::new(None);
        let err = p.parse(b"1.2.3.4 - GET /x 200", |_| ()).unwrap_err();
        assert!(err.0.contains("expected 53"), "{err:?}");
        assert!(
            UserField::new("nope")
                .unwrap_err()
                .contains("not an API Gateway log field")
        );
        // An unterminated quote does not panic.
        let broken = line54(&[
            ("request_method", "GET"),
            ("router_uri", "/x"),
            ("http_user_agent", "\"unterminated"),
        ]);
        let _ = p.parse(broken.as_bytes(), |_| ());
    }
}
