//! Text access logs of the Common Log Format family, as web servers and gateways write them
//! by default:
//!
//! - **clf**: `host ident authuser [10/Oct/2000:13:55:36 -0700] "GET /path HTTP/1.1" 200 2326`,
//!   the Common Log Format, and everything that extends it after the size: nginx's default
//!   `combined` (referer and user agent), Apache's `combined`, Traefik's default `common`
//!   (request count, router, server URL, duration). The caller is `authuser` (nginx's
//!   `$remote_user`): `-` when the request carried no HTTP authentication.
//! - **envoy**: Envoy's (and Istio's) default text format,
//!   `[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100
//!   "10.0.35.28" "nsq2http" "cc21d9b0-..." "locations" "tcp://10.0.2.1:80"`: the time, the
//!   request, the status, then the client (`X-Forwarded-For`), user agent, request id and
//!   authority in quotes. It names no caller.
//!
//! Quoted fields end at a quote followed by a space or the end of the line (the servers
//! escape quotes inside values as `\x22`). Anything that does not read as one of these
//! shapes is a malformed line, counted and sampled.

use super::time::TimeCache;
use super::{Malformed, Request};

/// The two shapes of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClfLayout {
    Clf,
    Envoy,
}

impl ClfLayout {
    /// The name `summary.json` and `inspect` give the layout.
    pub fn as_str(self) -> &'static str {
        match self {
            ClfLayout::Clf => "clf",
            ClfLayout::Envoy => "envoy-text",
        }
    }
}

/// The fields of one line, as byte ranges of the line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Fields<'a> {
    host: &'a [u8],
    user: &'a [u8],
    time: &'a [u8],
    request: &'a [u8],
    status: &'a [u8],
    /// Envoy: the quoted fields after the numbers (client, user agent, request id, authority).
    client: &'a [u8],
    request_id: &'a [u8],
    authority: &'a [u8],
}

/// The next space-delimited token of `s` from `i` on, and where the one after starts.
fn token(s: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let rest = s.get(i..)?;
    let start = i + rest.iter().position(|&b| b != b' ')?;
    let end = memchr::memchr(b' ', &s[start..]).map_or(s.len(), |p| start + p);
    Some((&s[start..end], end))
}

/// `[...]` starting at `i` (after spaces): its inside, and the position after `]`.
fn bracketed(s: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let start = i + s.get(i..)?.iter().position(|&b| b != b' ')?;
    if s[start] != b'[' {
        return None;
    }
    let close = start + 1 + memchr::memchr(b']', &s[start + 1..])?;
    Some((&s[start + 1..close], close + 1))
}

/// `"..."` starting at `i` (after spaces): its inside, and the position after the closing
/// quote, which is the first quote followed by a space or the end of the line.
fn quoted(s: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let start = i + s.get(i..)?.iter().position(|&b| b != b' ')?;
    if s[start] != b'"' {
        return None;
    }
    let mut from = start + 1;
    loop {
        let close = from + memchr::memchr(b'"', &s[from..])?;
        if matches!(s.get(close + 1), None | Some(b' ')) {
            return Some((&s[start + 1..close], close + 1));
        }
        from = close + 1;
    }
}

/// The fields of a line of either shape, or `None` when it is neither.
fn fields(line: &[u8]) -> Option<(ClfLayout, Fields<'_>)> {
    if line.first() == Some(&b'[') {
        let (time, i) = bracketed(line, 0)?;
        let (request, i) = quoted(line, i)?;
        let (status, mut i) = token(line, i)?;
        // The fields after the status, quoted or not. The client, user agent, request id
        // and authority are the first four quoted fields in a row: Envoy's default writes
        // numbers and flags before them, Istio's also a quoted transport failure reason.
        let mut run: Vec<&[u8]> = Vec::with_capacity(4);
        while run.len() < 4 && i < line.len() {
            match quoted(line, i) {
                Some((q, next)) => {
                    run.push(q);
                    i = next;
                }
                None => match token(line, i) {
                    Some((_, next)) => {
                        run.clear();
                        i = next;
                    }
                    None => break,
                },
            }
        }
        let at = |k: usize| if run.len() == 4 { run[k] } else { b"" };
        let f = Fields {
            time,
            request,
            status,
            client: at(0),
            request_id: at(2),
            authority: at(3),
            ..Fields::default()
        };
        return Some((ClfLayout::Envoy, f));
    }
    let (host, i) = token(line, 0)?;
    let (_ident, i) = token(line, i)?;
    let (user, i) = token(line, i)?;
    let (time, i) = bracketed(line, i)?;
    let (request, i) = quoted(line, i)?;
    let (status, i) = token(line, i)?;
    // The size: a number or `-`; what follows is the extensions' business.
    let (size, _) = token(line, i)?;
    if !(size == b"-" || size.iter().all(u8::is_ascii_digit)) {
        return None;
    }
    let f = Fields {
        host,
        user,
        time,
        request,
        status,
        ..Fields::default()
    };
    Some((ClfLayout::Clf, f))
}

/// The layout of a line of the family, by its shape alone (its request may be one a server
/// logs for a bad or non-HTTP connection, `"-"`, `"- - -"`, TLS bytes).
pub fn line_layout(line: &[u8]) -> Option<ClfLayout> {
    fields(line.trim_ascii()).map(|(layout, _)| layout)
}

/// The cheap check of a line the prefilter skipped: the shape, without reading the values.
pub fn plausible(line: &[u8]) -> bool {
    fields(line.trim_ascii()).is_some()
}

/// Whether `request` is `METHOD target PROTOCOL` with a method of letters and `-`.
fn request_line(request: &[u8]) -> Option<(&[u8], &[u8])> {
    super::split_request_line(request).filter(|(method, _)| {
        method.first().is_some_and(u8::is_ascii_alphabetic)
            && method.iter().all(|b| b.is_ascii_alphabetic() || *b == b'-')
    })
}

/// Whether a line has the family's shape but no HTTP request (`"-" 400`, `"- - -"` of a
/// TCP proxy, TLS bytes sent to a plain port): the servers' records of traffic that was no
/// request, not addressed to the service rather than malformed.
pub fn no_request(line: &[u8]) -> bool {
    fields(line.trim_ascii()).is_some_and(|(_, f)| request_line(f.request).is_none())
}

/// Why a line is not of the family.
pub fn why_not(_line: &[u8]) -> String {
    "not a Common Log Format or Envoy access-log line (host ident user [time] \"request\" status size, or [time] \"request\" status ...)".into()
}

/// `-` and an empty field are no value.
fn value(v: &[u8]) -> &[u8] {
    if v == b"-" { b"" } else { v }
}

/// Reads lines of the family into requests.
#[derive(Debug)]
pub struct ClfParser {
    times: TimeCache,
}

impl ClfParser {
    /// Times written without a zone are read in `zone` (`--timezone`).
    pub fn new(zone: Option<i32>) -> ClfParser {
        ClfParser {
            times: TimeCache::with_zone(zone),
        }
    }

    /// Parses one line and hands the request to `f`.
    pub fn parse<R>(
        &mut self,
        line: &[u8],
        f: impl FnOnce(&Request<'_>) -> R,
    ) -> Result<R, Malformed> {
        let line = line.trim_ascii();
        let (_, fields) = fields(line).ok_or_else(|| Malformed(why_not(line)))?;
        let (method, target) = request_line(fields.request).ok_or_else(|| {
            Malformed(format!(
                "request {:?} is not \"METHOD target PROTOCOL\"",
                String::from_utf8_lossy(fields.request)
            ))
        })?;
        // Envoy writes 0 when no response was sent; `-` is no status either.
        let status = match value(fields.status) {
            b"" | b"0" => 0,
            s => super::parse_status(s)
                .filter(|_| s.len() == 3)
                .ok_or_else(|| {
                    Malformed(format!(
                        "status {:?} is not an HTTP status code",
                        String::from_utf8_lossy(s)
                    ))
                })?,
        };
        // The first address of X-Forwarded-For is the client.
        let client = value(fields.client);
        let client = client
            .split(|&b| b == b',')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let req = Request {
            method,
            target,
            trace_route: None,
            trace: false,
            status,
            time: self.times.parse(fields.time),
            time_text: fields.time,
            user: value(fields.user),
            user_id: b"",
            request_id: value(fields.request_id),
            source_ip: if fields.host.is_empty() {
                client
            } else {
                value(fields.host)
            },
            error_code: b"",
            host: value(fields.authority),
            response_source: b"",
            console: false,
        };
        Ok(f(&req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Method, target, status, time, user and client of a line.
    type Read = (String, String, u16, Option<i64>, String, String);

    fn read(line: &str) -> Result<Read, Malformed> {
        let mut p = ClfParser::new(None);
        p.parse(line.as_bytes(), |r| {
            (
                String::from_utf8_lossy(r.method).into_owned(),
                String::from_utf8_lossy(r.target).into_owned(),
                r.status,
                r.time,
                String::from_utf8_lossy(r.user).into_owned(),
                String::from_utf8_lossy(r.source_ip).into_owned(),
            )
        })
    }

    const T: i64 = 1_764_230_400_000_000; // 2025-11-27T08:00:00Z

    #[test]
    fn reads_the_documented_shapes() {
        // Apache's documentation example of the Common Log Format.
        let (m, t, s, time, u, ip) = read(
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
        )
        .unwrap();
        assert_eq!(
            (m.as_str(), t.as_str(), s, u.as_str()),
            ("GET", "/apache_pb.gif", 200, "frank")
        );
        assert_eq!(ip, "127.0.0.1");
        assert_eq!(time, Some(971_211_336_000_000));
        // nginx's default `combined`: no authentication is `-`.
        let (m, t, s, time, u, _) = read(
            r#"10.0.0.1 - - [27/Nov/2025:16:00:00 +0800] "POST /v2/orders/subscriptions/resources/renew HTTP/1.1" 403 153 "-" "curl/8.5.0""#,
        )
        .unwrap();
        assert_eq!(
            (m.as_str(), t.as_str(), s, time, u.as_str()),
            (
                "POST",
                "/v2/orders/subscriptions/resources/renew",
                403,
                Some(T),
                ""
            )
        );
        // Traefik's default `common`: CLF, then count, router, server and duration.
        let (_, t, s, _, u, _) = read(
            r#"10.0.0.2 - alice [27/Nov/2025:08:00:00 +0000] "GET /v2/orders/customer-orders?limit=10 HTTP/1.1" 200 120 "-" "curl/8" 1 "bss@file" "http://10.0.2.1:80" 12ms"#,
        )
        .unwrap();
        assert_eq!(
            (t.as_str(), s, u.as_str()),
            ("/v2/orders/customer-orders?limit=10", 200, "alice")
        );
        // Envoy's default text format: no caller; the client is X-Forwarded-For's first.
        let (m, t, s, time, u, ip) = read(
            r#"[2025-11-27T08:00:00.000Z] "GET /v2/accounts/customer-accounts/balances HTTP/1.1" 200 - 0 312 5 4 "203.0.113.9, 10.0.0.1" "curl/8" "b2b5c1f0-0000-4000-8000-000000000001" "bss.example" "10.0.2.1:443""#,
        )
        .unwrap();
        assert_eq!(
            (m.as_str(), t.as_str(), s, time, u.as_str(), ip.as_str()),
            (
                "GET",
                "/v2/accounts/customer-accounts/balances",
                200,
                Some(T),
                "",
                "203.0.113.9"
            )
        );
        // A quote inside a quoted value that the server did not escape.
        let (_, _, s, _, _, _) = read(
            r#"10.0.0.1 - - [27/Nov/2025:16:00:00 +0800] "GET /v2/x HTTP/1.1" 404 1 "-" "agent "odd" 1.0""#,
        )
        .unwrap();
        assert_eq!(s, 404);
        // Istio's default: a quoted transport failure reason before the numbers.
        let mut p = ClfParser::new(None);
        let (ip, id, host) = p
            .parse(
                br#"[2025-11-27T08:00:00.000Z] "GET /v2/x HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "delayed connect error: 111" 0 91 0 - "203.0.113.5" "curl/8" "req-1" "bss.example" "10.0.2.1:80" outbound|80||bss 10.0.0.9:41234 10.0.2.1:80 10.0.0.8:50000 - default"#,
                |r| (r.source_ip.to_vec(), r.request_id.to_vec(), r.host.to_vec()),
            )
            .unwrap();
        assert_eq!(
            (&ip[..], &id[..], &host[..]),
            (&b"203.0.113.5"[..], &b"req-1"[..], &b"bss.example"[..])
        );
        // Envoy's 0 (no response) and `-` are no status.
        let (_, _, s, _, _, _) = read(
            r#"[2025-11-27T08:00:00.000Z] "GET /x HTTP/1.1" 0 DC 0 0 1 - "-" "-" "-" "-" "-""#,
        )
        .unwrap();
        assert_eq!(s, 0);
    }

    #[test]
    fn other_lines_are_malformed() {
        for line in [
            "",
            "hello world",
            r#"10.0.0.1 - - [27/Nov/2025:16:00:00 +0800] "GET" 200 1"#,
            r#"10.0.0.1 - - [27/Nov/2025:16:00:00 +0800] "GET /x HTTP/1.1" 2000 1"#,
            r#"10.0.0.1 - - [27/Nov/2025:16:00:00 +0800] "GET /x HTTP/1.1" 200 big"#,
            r#"10.0.0.1 - - 27/Nov/2025:16:00:00 "GET /x HTTP/1.1" 200 1"#,
            r#"10.0.0.1 - - [27/Nov/2025:16:00:00 +0800] "GET /x HTTP/1.1 200 1"#,
        ] {
            assert!(read(line).is_err(), "{line}");
        }
        assert_eq!(line_layout(b"hello world"), None);
        // Records of traffic that was no request have the shape, not a request.
        for line in [
            r#"10.0.0.1 - - [27/Nov/2025:16:00:00 +0800] "-" 400 0 "-" "-""#,
            r#"10.0.0.1 - - [27/Nov/2025:16:00:00 +0800] "\x16\x03\x01\x02\x00%\x01" 400 157 "-" "-""#,
            r#"[2025-11-27T10:00:00.000Z] "- - -" 0 UF,URX 0 0 1 - "-" "-" "-" "-" "10.0.2.1:5432""#,
        ] {
            assert!(plausible(line.as_bytes()), "{line}");
            assert!(line_layout(line.as_bytes()).is_some(), "{line}");
            assert!(no_request(line.as_bytes()), "{line}");
            assert!(read(line).is_err(), "{line}");
        }
        let search = r#"1.2.3.4 - - [27/Nov/2025:16:00:00 +0800] "M-SEARCH * HTTP/1.1" 200 1"#;
        assert!(!no_request(search.as_bytes()));
        assert!(read(search).is_ok());
        assert!(!no_request(b"hello world"));
        assert_eq!(
            line_layout(br#"1.2.3.4 - - [27/Nov/2025:16:00:00 +0800] "GET /x HTTP/1.1" 200 1"#),
            Some(ClfLayout::Clf)
        );
    }
}
