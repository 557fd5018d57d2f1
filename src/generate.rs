//! `permlens generate`: realistic, deterministic logs (and a matching snapshot) for trying
//! the tool and for benchmarks.
//!
//! Lines are generated in fixed batches of lines, each batch from its own RNG seeded by
//! `(seed, batch index)`, so output is identical for any thread count. The mix: about 30% of
//! requests (`Spec::bss_share`, in whole percent; `--bss-share 1` for a log of BSS calls only)
//! call catalog APIs (a Zipf-like preference over the routes, ids in paths, query
//! strings, full URLs now and then, a few unmatched paths under the service's prefixes), the
//! rest call other cloud APIs; about 5% of catalog calls are refused with real codes
//! (`CBC.0151` from the service, `APIG.0302` from the gateway), plus some 401, 429 and 5xx.

use std::fmt::Write as _;
use std::io::Write;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde_json::json;

use crate::catalog::{Catalog, Segment};
use crate::parse::apig::FIELDS_54;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub format: GenFormat,
    /// Stop after this many bytes (at a line boundary).
    pub size: u64,
    pub users: usize,
    pub seed: u64,
    /// First request time, microseconds since the epoch; requests spread over `days`.
    pub start: i64,
    pub days: u32,
    /// The share of requests that call the service (0 to 1, in whole percent): about 1% of
    /// them call an API the catalog does not list, the rest catalog routes. The default,
    /// [`DEFAULT_BSS_SHARE`], gives the same bytes as before the option existed.
    pub bss_share: f64,
}

/// The usual mix: about 30% of a gateway's requests call the service.
pub const DEFAULT_BSS_SHARE: f64 = 0.3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenFormat {
    Json,
    Apig,
    Cts,
}

const BATCH_LINES: u64 = 4096;
const AVG_LINE: u64 = 600;

const OTHER_APIS: &[(&str, &str)] = &[
    ("GET", "/v1/{p}/cloudservers/detail?limit=50&offset={n}"),
    ("GET", "/v1/{p}/cloudservers/{id}"),
    ("POST", "/v1/{p}/cloudservers/{id}/action"),
    ("GET", "/v2.0/networks?limit=100&marker={id}"),
    ("GET", "/v2.0/subnets/{id}"),
    ("POST", "/v3/auth/tokens?nocatalog=true"),
    ("GET", "/v3/projects?domain_id={p}"),
    ("GET", "/v1/{p}/buckets/logs/objects?prefix=2026/11/{n}"),
    ("PUT", "/v1/{p}/buckets/backup/objects/{id}"),
    (
        "GET",
        "/v1/{p}/ces/metric-data?namespace=SYS.ECS&metric_name=cpu_util&from={n}",
    ),
    ("GET", "/v2/{p}/nat_gateways?limit=20"),
    ("DELETE", "/v2/{p}/nat_gateways/{id}"),
    ("GET", "/v3/{p}/instances?datastore_type=MySQL"),
    ("GET", "/api/v3/projects/{p}/clusters/{id}/nodes"),
    ("POST", "/v1.0/{p}/ecs/servers/{id}/metadata"),
    ("GET", "/v2/{p}/elb/loadbalancers/{id}/statuses"),
    ("GET", "/v1/{p}/vpcs?limit=50"),
    ("GET", "/v2/{p}/servers/{id}/os-interface"),
];

const AGENTS: &[&str] = &[
    "huaweicloud-sdk-python/3.1.86 (Python 3.11.7; Linux 6.1.0-18-amd64) urllib3/2.2.1 requests/2.31.0",
    "huaweicloud-sdk-go/v0.1.120 (linux; amd64) go1.22.3 terraform-provider-huaweicloud/1.62.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "hcloud/5.1.4 (KooCLI; linux; x86_64) Python/3.9.18 cost-export-job/2.3",
];

/// Users are `user-0001`...; a few callers the snapshot does not know also appear.
fn user_name(i: usize) -> String {
    format!("user-{:04}", i + 1)
}

struct Gen<'a> {
    catalog: &'a Catalog,
    /// `Spec::bss_share` in whole percent: a request calls the service when a draw in 0..100
    /// falls below it (the draw is made whatever the share, so 30 gives the historic bytes).
    bss_percent: u32,
    /// Cumulative route weights (Zipf-like: weight 1/(rank+1)).
    route_cdf: Vec<f64>,
    users: usize,
}

/// What kind of work a user does: successful calls stay within the user's profile, so groups
/// that grant more than their members' profiles end up over-privileged.
fn in_profile(user: usize, permission: &str) -> bool {
    match user % 4 {
        0 => permission.ends_with(":view"),
        1 => permission.starts_with("bss:order:") || permission == "bss:discount:view",
        2 => {
            permission.starts_with("bss:bill")
                || permission == "bss:costanalysis:view"
                || permission == "bss:balance:view"
        }
        _ => permission == "bss:renewal:update" || permission == "bss:order:view",
    }
}

impl Gen<'_> {
    fn route(&self, rng: &mut SmallRng) -> usize {
        let x: f64 = rng.random_range(0.0..*self.route_cdf.last().expect("routes"));
        self.route_cdf
            .partition_point(|&c| c < x)
            .min(self.route_cdf.len() - 1)
    }

    /// A route the user's profile calls (denied calls may go anywhere).
    fn route_for(&self, user: usize, rng: &mut SmallRng) -> usize {
        for _ in 0..64 {
            let r = self.route(rng);
            if in_profile(user, &self.catalog.routes()[r].permission) {
                return r;
            }
        }
        self.route(rng)
    }

    /// A concrete target for a route: parameters filled with ids, `**` with one or two
    /// segments, sometimes a query string or the full URL.
    fn target(&self, route: usize, rng: &mut SmallRng, out: &mut String) {
        let r = &self.catalog.routes()[route];
        if rng.random_range(0..20) == 0 {
            out.push_str("https://bss.myhuaweicloud.com");
        }
        for seg in r.template.segments() {
            out.push('/');
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::Param(_) => {
                    let _ = write!(out, "CS{:012X}", rng.random::<u64>() & 0xffff_ffff_ffff);
                }
                Segment::Glob => {
                    let _ = write!(out, "r-{:08x}", rng.random::<u32>());
                }
            }
        }
        if r.method.as_str() == "GET" && rng.random_range(0..3) == 0 {
            let _ = write!(out, "?offset={}&limit=10", rng.random_range(0..50) * 10);
        }
    }

    fn other(&self, rng: &mut SmallRng, out: &mut String) -> &'static str {
        let (m, t) = OTHER_APIS[rng.random_range(0..OTHER_APIS.len())];
        let mut rest = t;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let end = rest[i..].find('}').map_or(rest.len(), |e| i + e + 1);
            match &rest[i..end] {
                "{p}" => out.push_str("0c5d1f7a9e8b4d3c9f0e1a2b3c4d5e6f"),
                "{id}" => {
                    let _ = write!(
                        out,
                        "{:08x}-{:04x}",
                        rng.random::<u32>(),
                        rng.random::<u16>()
                    );
                }
                _ => {
                    let _ = write!(out, "{}", rng.random_range(1..28));
                }
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
        m
    }

    /// One request: (method, target, status, error code, user, is_catalog, trace name).
    fn request(
        &self,
        rng: &mut SmallRng,
        target: &mut String,
    ) -> (&'static str, u16, &'static str, usize, Option<&str>) {
        target.clear();
        let user = rng.random_range(0..self.users + self.users / 50 + 1);
        if rng.random_range(0..100) < self.bss_percent {
            if rng.random_range(0..100) == 0 {
                // An API the table does not list yet, under the service's prefix.
                let _ = write!(
                    target,
                    "/v2/orders/customer-orders/{:010}/invoice-info",
                    rng.random::<u32>()
                );
                return ("GET", 200, "", user, None);
            }
            let roll = rng.random_range(0..1000);
            let route = if roll < 50 {
                self.route(rng)
            } else {
                self.route_for(user, rng)
            };
            self.target(route, rng, target);
            let r = &self.catalog.routes()[route];
            let (status, code) = match roll {
                0..=39 => (403, "CBC.0151"),
                40..=49 => (403, "APIG.0302"),
                50..=59 => (401, "APIG.0301"),
                60..=64 => (429, "APIG.0308"),
                65..=69 => (500, "CBC.5000"),
                _ => (200, ""),
            };
            let trace = r.trace_names.first().map(String::as_str);
            (
                r.method.as_str(),
                status,
                code,
                user,
                trace.or(Some("queryCustomerData")),
            )
        } else {
            let m = self.other(rng, target);
            let status = if rng.random_range(0..20) == 0 {
                404
            } else {
                200
            };
            (m, status, "", user, None)
        }
    }
}

/// A caller's client address: users work from a few places, not a new address per request.
/// Mostly the desk (`10.0.0.0/12` for half of the users, the rest elsewhere in `10/8`), one
/// call in ten over the VPN, one in ten from outside.
fn client_ip(user: usize, draw: u32) -> String {
    let u = user;
    match draw {
        0..=7 => format!("10.{}.{}.{}", u % 32, (u / 32) % 256, 10 + u % 200),
        8 => format!("10.{}.200.{}", 16 + u % 16, 10 + u % 200),
        _ => format!("100.{}.{}.{}", 64 + u % 64, u % 256, 1 + (u * 7) % 250),
    }
}

fn user_of(i: usize, users: usize) -> String {
    if i < users {
        user_name(i)
    } else {
        format!("svc-unknown-{}", i - users)
    }
}

fn fmt_rfc3339(t: i64, out: &mut String) {
    let ts = jiff::Timestamp::from_microsecond(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let _ = write!(out, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"));
}

fn fmt_local(t: i64, out: &mut String) {
    let ts = jiff::Timestamp::from_microsecond(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let z = ts.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)));
    let _ = write!(out, "{}", z.strftime("%d/%b/%Y:%H:%M:%S %z"));
}

/// Generates one batch of lines into `out`.
fn batch(g: &Gen<'_>, spec: &Spec, index: u64, step: i64, out: &mut Vec<u8>) {
    let mut rng = SmallRng::seed_from_u64(spec.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut target = String::with_capacity(256);
    let mut line = String::with_capacity(1024);
    for k in 0..BATCH_LINES {
        let n = index * BATCH_LINES + k;
        let t = spec.start + n as i64 * step;
        let (method, status, code, user, trace) = g.request(&mut rng, &mut target);
        let rid: u128 = rng.random();
        let ip = client_ip(user, rng.random_range(0..10u32));
        let user = user_of(user, g.users);
        line.clear();
        match spec.format {
            GenFormat::Json => {
                line.push_str("{\"@timestamp\":\"");
                fmt_rfc3339(t, &mut line);
                let _ = write!(
                    line,
                    "\",\"request_id\":\"{rid:032x}\",\"remote_addr\":\"{ip}\",\"request_method\":\"{method}\",\"request_uri\":\"{}\",\"status\":{status},\"user_name\":\"{user}\",\"host\":\"{}\",\"bytes_sent\":{},\"request_time\":{:.3},\"upstream_addr\":\"10.0.{}.{}:8080\",\"user_agent\":\"{}\",\"x_forwarded_for\":\"203.0.113.{}\",\"region\":\"ap-southeast-1\"",
                    target.replace('"', "%22"),
                    if trace.is_some() {
                        "bss.myhuaweicloud.com"
                    } else {
                        "ecs.ap-southeast-1.myhuaweicloud.com"
                    },
                    rng.random_range(200..20000),
                    rng.random::<f32>(),
                    rng.random_range(0..8),
                    rng.random_range(1..255),
                    AGENTS[rng.random_range(0..AGENTS.len())],
                    rng.random_range(1..255),
                );
                if !code.is_empty() {
                    let _ = write!(line, ",\"error_code\":\"{code}\"");
                }
                line.push('}');
            }
            GenFormat::Apig => {
                let mut time = String::new();
                fmt_local(t, &mut time);
                let agent = format!("\"{}\"", AGENTS[rng.random_range(0..AGENTS.len())]);
                let local = code.starts_with("APIG");
                for (i, f) in FIELDS_54.iter().enumerate() {
                    if i > 0 {
                        line.push(' ');
                    }
                    let v: std::borrow::Cow<'_, str> = match *f {
                        "remote_addr" => ip.as_str().into(),
                        "request_id" => format!("{rid:032x}").into(),
                        "api_id" => format!("{:032x}", rid >> 7).into(),
                        "user_id" => "0c5d1f7a9e8b4d3c9f0e1a2b3c4d5e6f".into(),
                        "time_local" => time.as_str().into(),
                        "request_time" => format!("{:.3}", rng.random::<f32>()).into(),
                        "request_method" => method.into(),
                        "scheme" => "https".into(),
                        "host" => (if trace.is_some() {
                            "bss.myhuaweicloud.com"
                        } else {
                            "ecs.myhuaweicloud.com"
                        })
                        .into(),
                        "router_uri" => target.as_str().into(),
                        "server_protocol" => "HTTP/1.1".into(),
                        "status" => status.to_string().into(),
                        "bytes_sent" | "body_bytes_sent" => {
                            rng.random_range(200..9000).to_string().into()
                        }
                        "http_user_agent" => agent.as_str().into(),
                        "region_id" => "ap-southeast-1".into(),
                        "errorType" => "0".into(),
                        "auth_type" => "IAM".into(),
                        "custom_data_log1" => user.as_str().into(),
                        "response_source" => (if local { "local" } else { "remote" }).into(),
                        "apig_err_code" => (if code.is_empty() { "-" } else { code }).into(),
                        _ => "-".into(),
                    };
                    line.push_str(&v);
                }
            }
            GenFormat::Cts => {
                let name = trace.unwrap_or("listCloudServers");
                let v = json!({
                    "trace_id": format!("{rid:032x}"),
                    "trace_name": name,
                    "trace_rating": if status < 400 { "normal" } else { "warning" },
                    "trace_type": "ApiCall",
                    "service_type": if trace.is_some() { "BSS" } else { "ECS" },
                    "resource_type": "order",
                    "source_ip": ip,
                    "code": status.to_string(),
                    "api_version": "v2",
                    "request_id": format!("{:032x}", rid >> 3),
                    "time": t / 1000,
                    "record_time": t / 1000 + 2400,
                    "user": {"id": format!("{:032x}", rid >> 11), "name": user, "domain": {"name": "acme-finops", "id": "0c5d1f7a9e8b4d3c9f0e1a2b3c4d5e6f"}},
                });
                line.push_str(&v.to_string());
            }
        }
        line.push('\n');
        out.extend_from_slice(line.as_bytes());
    }
}

/// The first `lines` lines of the logs `spec` describes, in memory (for benches and tests);
/// `spec.size` must be large enough to hold them.
pub fn first_lines(catalog: &Catalog, spec: &Spec, lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    write_logs(catalog, spec, &mut out).expect("writing to memory cannot fail");
    let cut = memchr::memchr_iter(b'\n', &out)
        .nth(lines.saturating_sub(1))
        .map_or(out.len(), |i| i + 1);
    assert!(
        lines == 0 || out[..cut].iter().filter(|&&b| b == b'\n').count() == lines,
        "spec.size {} holds fewer than {lines} lines",
        spec.size
    );
    out.truncate(if lines == 0 { 0 } else { cut });
    out
}

/// Writes logs to `w` until `spec.size` bytes; returns (bytes, lines).
pub fn write_logs(
    catalog: &Catalog,
    spec: &Spec,
    w: &mut dyn Write,
) -> std::io::Result<(u64, u64)> {
    let mut cdf = Vec::new();
    let mut acc = 0.0;
    for rank in 0..catalog.routes().len() {
        acc += 1.0 / (rank as f64 + 1.0);
        cdf.push(acc);
    }
    let g = Gen {
        catalog,
        bss_percent: (spec.bss_share.clamp(0.0, 1.0) * 100.0).round() as u32,
        route_cdf: cdf,
        users: spec.users.max(1),
    };
    let expected_lines = (spec.size / AVG_LINE).max(1);
    let step = (i64::from(spec.days.max(1)) * 86_400_000_000 / expected_lines as i64).max(1);
    let threads = rayon::current_num_threads().max(1) as u64;
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut next = 0u64;
    while bytes < spec.size {
        let batches: Vec<Vec<u8>> = (next..next + 2 * threads)
            .into_par_iter()
            .map(|i| {
                let mut out = Vec::with_capacity((BATCH_LINES * AVG_LINE) as usize);
                batch(&g, spec, i, step, &mut out);
                out
            })
            .collect();
        next += 2 * threads;
        for b in batches {
            let room = spec.size - bytes;
            if (b.len() as u64) <= room {
                w.write_all(&b)?;
                bytes += b.len() as u64;
                lines += BATCH_LINES;
            } else {
                // Cut at the last line that still fits.
                let cut = b[..room as usize]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |i| i + 1);
                w.write_all(&b[..cut])?;
                bytes += cut as u64;
                lines += b[..cut].iter().filter(|&&c| c == b'\n').count() as u64;
                return Ok((bytes, lines));
            }
        }
    }
    Ok((bytes, lines))
}

/// A snapshot that matches the generated users: groups with broad and narrow grants, a role,
/// a Deny, MFA, time and IP conditions; every user in one or two groups.
pub fn snapshot(users: usize, seed: u64) -> serde_json::Value {
    let groups: &[(&str, &[&str], Option<serde_json::Value>)] = &[
        ("finance-viewers", &["bss:*:view"], None),
        (
            "order-managers",
            &["bss:order:*", "bss:renewal:update"],
            None,
        ),
        ("payers", &["bss:order:pay", "bss:order:view"], None),
        (
            "cost-analysts",
            &["bss:costanalysis:view", "bss:bill:view", "bss:invoice:view"],
            None,
        ),
        (
            "renewal-desk",
            &["bss:renewal:update", "bss:order:view"],
            None,
        ),
        (
            "mfa-buyers",
            &["bss:order:*"],
            Some(json!({"Bool": {"g:MFAPresent": ["true"]}})),
        ),
        (
            "contractors",
            &["bss:bill:view", "bss:billDetail:view"],
            Some(json!({"DateLessThan": {"g:CurrentTime": ["2026-11-15T00:00:00Z"]}})),
        ),
        (
            "office-only",
            &["bss:*:*"],
            Some(json!({"IpAddress": {"g:SourceIp": ["10.0.0.0/12"]}})),
        ),
        ("auditors", &["bss:*:view", "bss:contract:*"], None),
    ];
    let mut rng = SmallRng::seed_from_u64(seed);
    // Users join groups that fit their profile (see `in_profile`), some broader than needed;
    // a few also sit in a random group (no-pay, legacy-admins, ...).
    let by_profile: [&[usize]; 4] = [&[0, 7], &[1, 2, 5], &[3, 8, 6], &[4, 1]];
    let mut members: Vec<Vec<String>> = vec![Vec::new(); groups.len() + 2];
    for u in 0..users {
        let name = user_name(u);
        let fits = by_profile[u % 4];
        members[fits[rng.random_range(0..fits.len())]].push(name.clone());
        if rng.random_range(0..6) == 0 {
            let n = members.len();
            members[rng.random_range(0..n)].push(name);
        }
    }
    for m in &mut members {
        m.sort();
        m.dedup();
    }
    let mut policies = Vec::new();
    let mut gs = Vec::new();
    for (i, (name, actions, cond)) in groups.iter().enumerate() {
        let policy = format!("{name}-policy");
        let mut st = json!({"Effect": "Allow", "Action": actions});
        if let Some(c) = cond {
            st["Condition"] = c.clone();
        }
        policies.push(json!({"name": policy, "document": {"Version": "1.1", "Statement": [st]}}));
        gs.push(json!({"name": name, "members": members[i], "policies": [policy]}));
    }
    policies.push(json!({"name": "NoPay", "document": {"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["bss:order:pay"]}]}}));
    policies.push(json!({"name": "BSS Administrator", "document": {"Version": "1.0", "Statement": [{"Effect": "Allow", "Action": ["bss:*:*"]}]}}));
    gs.push(json!({"name": "no-pay", "members": members[groups.len()], "policies": ["NoPay", "order-managers-policy"]}));
    gs.push(json!({"name": "legacy-admins", "members": members[groups.len() + 1], "policies": ["BSS Administrator"]}));
    json!({
        "taken_at": "2026-11-27T00:00:00Z",
        "domain": {"name": "acme-finops"},
        "users": (0..users).map(|u| json!({"name": user_name(u), "id": format!("u{u:031x}")})).collect::<Vec<_>>(),
        "groups": gs,
        "policies": policies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FNV_JSON: u64 = 17_902_305_915_203_103_166;
    const FNV_APIG: u64 = 3_207_064_716_966_753_885;
    const FNV_CTS: u64 = 6_632_976_578_936_320_970;

    fn spec(format: GenFormat, size: u64) -> Spec {
        Spec {
            format,
            size,
            users: 50,
            seed: 42,
            start: 1_795_737_600_000_000,
            days: 3,
            bss_share: DEFAULT_BSS_SHARE,
        }
    }

    #[test]
    fn output_is_deterministic_and_sized() {
        let catalog = Catalog::embedded();
        for format in [GenFormat::Json, GenFormat::Apig, GenFormat::Cts] {
            let mut a = Vec::new();
            let (bytes, lines) = write_logs(&catalog, &spec(format, 3 << 20), &mut a).unwrap();
            assert_eq!(bytes, a.len() as u64);
            assert!(bytes <= 3 << 20 && bytes > (3 << 20) - 4096, "{bytes}");
            assert_eq!(lines, a.iter().filter(|&&c| c == b'\n').count() as u64);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            let mut b = Vec::new();
            pool.install(|| write_logs(&catalog, &spec(format, 3 << 20), &mut b))
                .unwrap();
            assert!(a == b, "{format:?} output depends on the thread count");
        }
    }

    /// FNV-1a: a stable fingerprint of generated bytes.
    fn fnv(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    #[test]
    fn the_default_share_gives_the_bytes_of_before_the_option() {
        // Fingerprints of the output of the generator before `bss_share` existed (same
        // specs): goldens, tests and benchmark inputs depend on these bytes.
        let catalog = Catalog::embedded();
        let got = [GenFormat::Json, GenFormat::Apig, GenFormat::Cts].map(|format| {
            let mut out = Vec::new();
            write_logs(&catalog, &spec(format, 256 << 10), &mut out).unwrap();
            fnv(&out)
        });
        assert_eq!(got, [FNV_JSON, FNV_APIG, FNV_CTS]);
    }

    #[test]
    fn a_share_of_one_makes_every_line_a_bss_call() {
        let catalog = Catalog::embedded();
        let shares = |share: f64| {
            let mut out = Vec::new();
            let s = Spec {
                bss_share: share,
                ..spec(GenFormat::Json, 1 << 20)
            };
            write_logs(&catalog, &s, &mut out).unwrap();
            let lines = out.split(|&b| b == b'\n').filter(|l| !l.is_empty());
            let (mut bss, mut all) = (0usize, 0usize);
            for l in lines {
                all += 1;
                bss += usize::from(memchr::memmem::find(l, b"\"host\":\"bss.").is_some());
            }
            (bss, all)
        };
        // The unlisted ~1% are sent to the compute host, as before the option.
        let (bss, all) = shares(1.0);
        assert!(bss as f64 >= 0.97 * all as f64, "{bss}/{all}");
        assert_eq!(shares(0.0).0, 0);
        let (bss, all) = shares(0.5);
        assert!(
            (0.45..0.55).contains(&(bss as f64 / all as f64)),
            "{bss}/{all}"
        );
        // The classifier agrees: all but the ~1% of unlisted APIs are catalog routes.
        let mut out = Vec::new();
        let s = Spec {
            bss_share: 1.0,
            ..spec(GenFormat::Json, 1 << 20)
        };
        write_logs(&catalog, &s, &mut out).unwrap();
        let classifier = crate::classify::Classifier::new(&catalog);
        let mut scratch = crate::classify::Scratch::new();
        let (mut matched, mut all) = (0usize, 0usize);
        for line in String::from_utf8(out).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let (method, uri) = (&v["request_method"], &v["request_uri"]);
            let (method, uri) = (method.as_str().unwrap(), uri.as_str().unwrap());
            all += 1;
            let c = classifier.classify(method.as_bytes(), uri.as_bytes(), &mut scratch);
            matched += usize::from(c.route.is_some());
        }
        assert!(matched as f64 >= 0.97 * all as f64, "{matched}/{all}");
    }

    #[test]
    fn snapshot_loads() {
        let v = snapshot(200, 1);
        crate::policy::Snapshot::from_json(&v.to_string(), "generated").unwrap();
    }
}
