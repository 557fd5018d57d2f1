//! `permlens inspect FILE...`: "why is my log not read?" Per file: the format and layout
//! detection decided (and why), the compression, the fields found and which permlens uses,
//! the first requests as permlens reads them and the first errors, from a sample of the
//! file's beginning (so it answers at once on a 10 GB file).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::ExitCode;
use crate::catalog::Catalog;
use crate::classify::Scratch;
use crate::cli::{InspectArgs, TextOrJson};
use crate::fsutil::print_stdout;
use crate::input::{self, Compression};
use crate::parse::apig::{self, ApigParser, Layout, UserField};
use crate::parse::json::{FieldMap, JsonParser};
use crate::parse::time::format_micros;
use crate::parse::{self, FormatChoice, LogFormat, Request};

/// Bytes of a line-oriented file that are sampled.
const SAMPLE_BYTES: usize = 4 << 20;
/// The largest CTS document read whole.
const MAX_DOCUMENT: usize = 256 << 20;

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load_or_embedded(args.catalog.catalog.as_deref())?;
    let choice = args.reading.log_format.choice;
    let zone = args.reading.timezone;
    let fields = parse::field_map(&args.reading.fields, args.reading.user_field.as_ref());
    let strip: Vec<Box<[u8]>> = args
        .reading
        .strip_prefixes
        .iter()
        .map(|p| p.as_bytes().into())
        .collect();
    let opts = Opts {
        strip: &strip,
        catalog: &catalog,
        classifier: &crate::classify::Classifier::new(&catalog),
        fields: &fields,
        user_field: args.reading.user_field.as_ref(),
        zone,
        shown: args.records.max(1),
        choice,
    };
    let reports: Vec<Value> = args.files.iter().map(|f| inspect(f, &opts)).collect();
    let text = match args.format {
        TextOrJson::Json => format!("{}\n", serde_json::to_string_pretty(&reports)?),
        TextOrJson::Text => reports.iter().map(render).collect::<Vec<_>>().join("\n"),
    };
    print_stdout(&text)?;
    let unreadable = reports.iter().any(|r| r["error"].is_string());
    Ok(if unreadable {
        ExitCode::Failure
    } else {
        ExitCode::Success
    })
}

struct Opts<'a> {
    strip: &'a [Box<[u8]>],
    catalog: &'a Catalog,
    classifier: &'a crate::classify::Classifier,
    fields: &'a FieldMap,
    user_field: Option<&'a UserField>,
    zone: Option<i32>,
    /// Requests and errors shown per file.
    shown: usize,
    choice: FormatChoice,
}

/// What one file looks like, as JSON (the text form is rendered from it).
fn inspect(path: &PathBuf, o: &Opts<'_>) -> Value {
    let name = path.display().to_string();
    let (compression, head) = match input::head_of(path, SAMPLE_BYTES) {
        Ok(x) => x,
        Err(e) => return json!({"file": name, "error": format!("cannot read: {e}")}),
    };
    let detected = parse::decide(&head, o.choice);
    let mut out = json!({
        "file": name,
        "compression": compression.as_str(),
        "sampled_bytes": head.len(),
    });
    let d = match detected {
        Ok(d) => d,
        Err(why) => {
            out["error"] = json!(why);
            out["first_bytes"] = json!(String::from_utf8_lossy(&head[..head.len().min(200)]));
            return out;
        }
    };
    out["format"] = json!(d.format.as_str());
    out["layout"] = json!(d.layout);
    out["why"] = json!(d.why);
    let mut sample = Sample::new(o);
    let doc = match d.format {
        LogFormat::JsonDocument | LogFormat::CtsDocument => match whole(path, compression) {
            Ok(doc) => Some(doc),
            Err(e) => {
                out["error"] = json!(e);
                return out;
            }
        },
        _ => None,
    };
    match (d.format, doc) {
        (LogFormat::JsonDocument, Some(doc)) => sample_records(&doc, &d, o, &mut sample, &mut out),
        (LogFormat::CtsDocument, Some(doc)) => sample_traces(doc, &head, o, &mut sample, &mut out),
        (format, _) => sample_lines(format, &head, &d, o, &mut sample, &mut out),
    }
    out["sampled_records"] = json!(sample.records);
    out["parsed"] = json!(sample.parsed);
    out["malformed"] = json!(sample.malformed);
    out["catalog_requests"] = json!(sample.catalog);
    out["requests"] = json!(sample.shown_requests);
    out["errors"] = json!(sample.shown_errors);
    if sample.parsed == 0 {
        sample
            .notes
            .push("no request could be read from the sample: see the errors".into());
    }
    out["notes"] = json!(sample.notes);
    out
}

/// Samples a JSON document of gateway records (a batched array), read whole.
fn sample_records(
    doc: &[u8],
    d: &parse::Detected,
    o: &Opts<'_>,
    sample: &mut Sample<'_>,
    out: &mut Value,
) {
    let mut json = JsonParser::new(o.fields).with_zone(o.zone);
    let mut errors = Vec::new();
    let result = parse::cts::for_each_record(doc, |i, record| {
        let no = i as u64 + 1;
        if let Err(m) = json.parse_full(record, |r| sample.request(no, r)) {
            errors.push((no, m.0));
        }
    });
    sample.errors(errors, result.err());
    out["fields_found"] = json!(d.keys);
    out["records_unit"] = json!("record");
}

/// Samples a CTS document (a ListTraces response, an array of traces), read whole.
fn sample_traces(
    mut doc: Vec<u8>,
    head: &[u8],
    o: &Opts<'_>,
    sample: &mut Sample<'_>,
    out: &mut Value,
) {
    let mut errors = Vec::new();
    let result = parse::cts::for_each_trace(
        &mut doc,
        o.catalog,
        o.zone,
        |i, req| sample.request(i as u64 + 1, req),
        |i, m| errors.push((i as u64 + 1, m.0)),
    );
    sample.errors(errors, result.err());
    out["fields_found"] = json!(trace_keys(head));
    out["fields_used"] = json!({
        "trace_name": "trace_name (the API or console operation)",
        "status": "code, else trace_rating (normal = 200)",
        "user": "user.name",
        "time": "time",
        "request_id": "request_id, else trace_id",
        "source_ip": "source_ip",
    });
    out["records_unit"] = json!("trace");
}

/// Samples the complete lines at the head of a line log (JSON lines, API Gateway, CTS lines).
fn sample_lines(
    format: LogFormat,
    head: &[u8],
    d: &parse::Detected,
    o: &Opts<'_>,
    sample: &mut Sample<'_>,
    out: &mut Value,
) {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    // The sample ends at the last complete line unless the whole file was read.
    let complete = match memchr::memrchr(b'\n', text) {
        Some(p) if head.len() == SAMPLE_BYTES => &text[..p],
        _ => text,
    };
    let mut json = JsonParser::new(o.fields).with_zone(o.zone);
    let mut apig = ApigParser::new(o.user_field).with_zone(o.zone);
    let mut clf = crate::parse::clf::ClfParser::new(o.zone);
    let mut keys: Vec<String> = Vec::new();
    for (n, line) in complete.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().is_empty() {
            continue;
        }
        let no = n as u64 + 1;
        let result = match format {
            LogFormat::Json => {
                if keys.len() < 64 && sample.records < 16 {
                    collect_keys(line, &mut keys);
                }
                json.parse(line, |r| sample.request(no, r))
            }
            LogFormat::Apig => apig.parse(line, |r| sample.request(no, r)),
            LogFormat::Clf => clf.parse(line, |r| sample.request(no, r)),
            _ => json.parse_trace(line, o.catalog, |r| sample.request(no, r)),
        };
        if let Err(m) = result {
            sample.error(no, &m.0);
        }
    }
    out["records_unit"] = json!("line");
    match format {
        LogFormat::Json => {
            out["fields_found"] = json!(keys);
            let used: serde_json::Map<String, Value> = parse::json::field_sources(&keys, o.fields)
                .into_iter()
                .map(|(f, k)| (f.to_owned(), json!(k)))
                .collect();
            out["fields_used"] = Value::Object(used);
        }
        LogFormat::Apig => apig_fields(d, o, sample, out),
        LogFormat::Clf => {
            out["fields_used"] = if d.layout == "envoy-text" {
                json!({
                    "method": "the request's method", "path": "the request's target",
                    "status": "RESPONSE_CODE", "time": "START_TIME",
                    "user": null, "request_id": "X-REQUEST-ID",
                    "source_ip": "X-FORWARDED-FOR (its first address)",
                })
            } else {
                json!({
                    "method": "the request's method", "path": "the request's target",
                    "status": "status", "time": "[time]",
                    "user": "authuser ($remote_user; - without HTTP authentication)",
                    "request_id": null, "source_ip": "host",
                })
            };
        }
        _ => {
            out["fields_found"] = json!(trace_keys(complete));
        }
    }
}

/// The fields an API Gateway file's layout has, and which of them permlens reads.
fn apig_fields(d: &parse::Detected, o: &Opts<'_>, sample: &mut Sample<'_>, out: &mut Value) {
    let layout = Layout::ALL.iter().find(|l| l.as_str() == d.layout);
    let names: Vec<&str> = match layout {
        Some(l) => apig::FIELDS_54
            .iter()
            .enumerate()
            .filter(|(i, _)| l.position(*i).is_some())
            .map(|(_, f)| *f)
            .collect(),
        None => apig::FIELDS_54.to_vec(),
    };
    let user = match (o.user_field.map(UserField::name), layout) {
        (Some(u), Some(l)) if !l.has(u) => {
            json!(format!("{u} (not in this layout: callers read as unknown)"))
        }
        (Some(u), _) => json!(u),
        (None, _) => json!(null),
    };
    out["fields_found"] = json!(names);
    out["fields_used"] = json!({
        "method": "request_method", "path": "router_uri", "status": "status",
        "time": "time_local", "user": user, "request_id": "request_id",
        "source_ip": "remote_addr", "host": "host",
        "error_code": if matches!(layout, Some(Layout::Legacy)) { json!(null) } else { json!("apig_err_code") },
        "response_source": if matches!(layout, Some(Layout::Legacy)) { json!(null) } else { json!("response_source") },
    });
    if o.user_field.is_none() {
        sample.notes.push("no --user-field: API Gateway lines carry no IAM user name of their own; name the field that does (e.g. custom_data_log1)".into());
    }
}

/// Reads a CTS document whole (they are small), or says why not.
fn whole(path: &PathBuf, compression: Compression) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let reader = input::open_decoder(file, compression).map_err(|e| format!("cannot read: {e}"))?;
    let mut doc = Vec::new();
    reader
        .take(MAX_DOCUMENT as u64 + 1)
        .read_to_end(&mut doc)
        .map_err(|e| format!("cannot read the document: {e}"))?;
    if doc.len() > MAX_DOCUMENT {
        return Err(format!(
            "a CTS document larger than {} MiB: not inspected",
            MAX_DOCUMENT >> 20
        ));
    }
    Ok(doc)
}

/// The keys of the first trace found in the text (for CTS files).
fn trace_keys(text: &[u8]) -> Vec<String> {
    let mut keys = Vec::new();
    for key in [
        "trace_id",
        "trace_name",
        "trace_rating",
        "trace_type",
        "code",
        "time",
        "record_time",
        "user",
        "source_ip",
        "request_id",
        "service_type",
        "resource_type",
        "resource_name",
        "request",
        "response",
        "message",
        "api_version",
        "meta_data",
        "traces",
    ] {
        if memchr::memmem::find(text, format!("\"{key}\"").as_bytes()).is_some() {
            keys.push(key.to_owned());
        }
    }
    keys
}

/// The top-level keys of a JSON line, added to `keys` in order of first appearance.
fn collect_keys(line: &[u8], keys: &mut Vec<String>) {
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(line) else {
        return;
    };
    for (k, v) in &o {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
        // One level down, as detection sees them (`request.method`).
        if let Value::Object(inner) = v {
            for ik in inner.keys() {
                let path = format!("{k}.{ik}");
                if !keys.contains(&path) {
                    keys.push(path);
                }
            }
        }
    }
}

/// What the sample held.
struct Sample<'a> {
    o: &'a Opts<'a>,
    scratch: Scratch,
    records: u64,
    parsed: u64,
    malformed: u64,
    catalog: u64,
    shown_requests: Vec<Value>,
    shown_errors: Vec<Value>,
    notes: Vec<String>,
}

impl<'a> Sample<'a> {
    /// The errors of a document's records, then the document's own (record 0).
    fn errors(&mut self, errors: Vec<(u64, String)>, whole: Option<parse::Malformed>) {
        for (i, e) in errors {
            self.error(i, &e);
        }
        if let Some(m) = whole {
            self.error(0, &m.0);
        }
    }

    fn new(o: &'a Opts<'a>) -> Sample<'a> {
        Sample {
            o,
            scratch: Scratch::new(),
            records: 0,
            parsed: 0,
            malformed: 0,
            catalog: 0,
            shown_requests: Vec::new(),
            shown_errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn request(&mut self, record: u64, r: &Request<'_>) {
        self.records += 1;
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let route = if r.trace {
            r.trace_route
        } else {
            let target = crate::scan::strip_prefix(r.target, self.o.strip);
            self.o
                .classifier
                .classify(r.method, target, &mut self.scratch)
                .route
        };
        if r.time.is_none() {
            self.malformed += 1;
            if self.shown_errors.len() < self.o.shown {
                let why = if parse::time::is_zoneless(r.time_text) {
                    format!(
                        "time {:?} has no zone: pass --timezone (e.g. --timezone +08:00)",
                        s(r.time_text)
                    )
                } else {
                    "no request time".to_owned()
                };
                self.shown_errors
                    .push(json!({"record": record, "error": why}));
            }
            return;
        }
        self.parsed += 1;
        if route.is_some() {
            self.catalog += 1;
        }
        if self.shown_requests.len() >= self.o.shown {
            return;
        }
        let (method, path) = match route {
            Some(id) => {
                let rt = self.o.catalog.route(id);
                (rt.method.as_str().to_owned(), rt.template.to_string())
            }
            None => (s(r.method), String::new()),
        };
        self.shown_requests.push(json!({
            "record": record,
            "method": if r.trace { method.clone() } else { s(r.method) },
            "target": if r.trace { json!(null) } else { json!(s(r.target)) },
            "status": (r.status != 0).then_some(r.status),
            "user": s(r.user),
            "time": r.time.map(format_micros),
            "route": route.map(|_| format!("{method} {path}")),
            "permission": route.map(|id| self.o.catalog.route(id).permission.clone()),
            "source": if r.console { json!("console") } else { json!(null) },
        }));
    }

    fn error(&mut self, record: u64, why: &str) {
        self.records += 1;
        self.malformed += 1;
        if self.shown_errors.len() < self.o.shown {
            self.shown_errors
                .push(json!({"record": record, "error": why}));
        }
    }
}

/// The text form of one file's inspection.
/// A JSON value as text: strings bare, null as `-`.
fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

/// One sampled request, for the text form.
fn request_line(q: &Value) -> String {
    format!(
        "    #{} {} {} status {} user {} at {} -> {}{}\n",
        str_of(&q["record"]),
        str_of(&q["method"]),
        str_of(&q["target"]),
        str_of(&q["status"]),
        if q["user"].as_str().is_some_and(str::is_empty) {
            "-".into()
        } else {
            str_of(&q["user"])
        },
        str_of(&q["time"]),
        match q["route"].as_str() {
            Some(route) => format!("{route} ({})", str_of(&q["permission"])),
            None => "not in the catalog".into(),
        },
        if q["source"].is_null() {
            String::new()
        } else {
            format!(" [{}]", str_of(&q["source"]))
        },
    )
}

fn render(r: &Value) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\n", str_of(&r["file"])));
    if r["format"].is_null() {
        out.push_str(&format!("  error: {}\n", str_of(&r["error"])));
        if let Some(b) = r["first_bytes"].as_str() {
            out.push_str(&format!("  begins: {:?}\n", b));
        }
        return out;
    }
    out.push_str(&format!(
        "  format: {} ({}), compression {}\n  why: {}\n",
        str_of(&r["format"]),
        str_of(&r["layout"]),
        str_of(&r["compression"]),
        str_of(&r["why"])
    ));
    if let Some(e) = r["error"].as_str() {
        out.push_str(&format!("  error: {e}\n"));
    }
    out.push_str(&format!(
        "  sampled: {} {}s ({} bytes): {} read, {} malformed, {} catalog requests\n",
        str_of(&r["sampled_records"]),
        str_of(&r["records_unit"]),
        str_of(&r["sampled_bytes"]),
        str_of(&r["parsed"]),
        str_of(&r["malformed"]),
        str_of(&r["catalog_requests"]),
    ));
    if let Some(found) = r["fields_found"].as_array() {
        let names: Vec<String> = found.iter().map(str_of).collect();
        out.push_str(&format!("  fields found: {}\n", names.join(", ")));
    }
    if let Some(used) = r["fields_used"].as_object() {
        let pairs: Vec<String> = used
            .iter()
            .map(|(k, v)| format!("{k} <- {}", str_of(v)))
            .collect();
        out.push_str(&format!("  fields used: {}\n", pairs.join("; ")));
    }
    if let Some(reqs) = r["requests"].as_array()
        && !reqs.is_empty()
    {
        out.push_str("  first requests:\n");
        for q in reqs {
            out.push_str(&request_line(q));
        }
    }
    if let Some(errs) = r["errors"].as_array()
        && !errs.is_empty()
    {
        out.push_str("  first errors:\n");
        for e in errs {
            out.push_str(&format!(
                "    #{}: {}\n",
                str_of(&e["record"]),
                str_of(&e["error"])
            ));
        }
    }
    for n in r["notes"].as_array().into_iter().flatten() {
        out.push_str(&format!("  note: {}\n", str_of(n)));
    }
    out
}
