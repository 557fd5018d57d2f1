//! The inputs stage: find the log files, decide each one's format, and name before the scan
//! what the scan could not tell (a missing caller field, a layout without `--user-field`).

use super::Config;
use crate::input::{self, InputFile, discover};
use crate::parse::LogFormat;

/// The files to read, and the paths found but not read.
#[derive(Debug)]
pub struct Inputs {
    pub files: Vec<InputFile>,
    /// Unreadable directories, FIFOs, symlink loops, hidden entries, permlens's own
    /// directories: warned about, and listed in the summary so a `--quiet` run keeps them.
    pub paths_skipped: Vec<String>,
}

/// Finds and sniffs the logs, warning about what would make their callers unknown.
pub fn find(cfg: &Config) -> anyhow::Result<Inputs> {
    let discovered = discover::discover(&cfg.logs)?;
    for w in &discovered.warnings {
        crate::log::warn(w);
    }
    let mut files = input::sniff(&discovered.files, cfg.log_format);
    if cfg.user_field.is_none() && files.iter().any(|f| f.format == Ok(LogFormat::Apig)) {
        crate::log::warn(
            "API Gateway logs carry no IAM user name of their own (user_id is a project id): name the field that does with --user-field (e.g. custom_data_log1); until then every caller is unknown",
        );
    }
    for f in &mut files {
        if let Some(refused) = check_json_fields(f, cfg) {
            f.format = Err(refused);
        }
    }
    if let Some(uf) = &cfg.user_field {
        warn_layouts_without(uf.name(), &mut files);
    }
    Ok(Inputs {
        files,
        paths_skipped: discovered.warnings,
    })
}

/// Warns about `f` now, and keeps the warning with the file (its `per_file` entry, an
/// error that names it).
fn note(f: &mut InputFile, text: String) {
    crate::log::warn(&text);
    f.notes.push(text);
}

/// Names the API Gateway files whose layout has no field `uf` (`--user-field`).
fn warn_layouts_without(uf: &str, files: &mut [InputFile]) {
    for f in files {
        let lacks = crate::parse::apig::Layout::ALL
            .iter()
            .find(|l| l.as_str() == f.layout)
            .is_some_and(|l| !l.has(uf));
        if lacks {
            let text = format!(
                "{}: --user-field {uf}: the {} layout this file is in has no such field; its callers are read as unknown (name a field it has, e.g. app_id)",
                f.name, f.layout
            );
            note(f, text);
        }
    }
}

/// Names a JSON-lines file whose first record lacks what a request needs, once, before the
/// scan: without a method and target every line would pass as other traffic, without a
/// status no call could count as used or denied, without a caller every call would be an
/// unknown user's, without a time every line is malformed. Each warning names the field,
/// where permlens looked, and `--field`.
///
/// A file none of whose first records has a method and a target is no access log of any
/// kind permlens reads: it is refused (the returned error), not counted as other traffic.
fn check_json_fields(f: &mut InputFile, cfg: &Config) -> Option<String> {
    let json = matches!(f.format, Ok(LogFormat::Json | LogFormat::JsonDocument));
    if !json || f.keys.is_empty() {
        return None;
    }
    let found = crate::parse::json::field_sources(&f.keys, &cfg.fields);
    let has = |name: &str| found.iter().any(|(n, k)| *n == name && k.is_some());
    let keys = f
        .keys
        .iter()
        .filter(|k| !k.contains('.'))
        .take(16)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let shape = if f.layout.is_empty() {
        "json-lines"
    } else {
        f.layout
    };
    let templates = f
        .keys
        .iter()
        .any(|k| k == "resourcePath" || k == "routeKey");
    if !(has("request") || (has("method") && has("path"))) {
        if templates {
            // An access log that names routes, not requests: refused, it cannot be read.
            return Some(format!(
                "read as JSON lines ({shape}), but its records have only a route template (resourcePath, routeKey), not the request path: log $context.path (and --strip-prefix the stage), or name the path with --field path=KEY (keys: {keys}); see permlens inspect"
            ));
        }
        // Another kind of JSON log (an application's): named, its lines counted as not
        // addressed to the service.
        let text = format!(
            "{}: read as JSON lines ({shape}), but its records have no HTTP method and request target: not an access log? name them with --field method=KEY --field path=KEY (keys: {keys}); see permlens inspect",
            f.name
        );
        note(f, text);
        return None;
    }
    let mut said = Vec::new();
    let mut warn = |what: &str| {
        said.push(format!(
            "{}: read as JSON lines ({shape}), but its first record {what} (keys: {keys}); see permlens inspect",
            f.name
        ))
    };
    if !has("status") {
        warn(
            "has no status (status, status_code, response_code, statusCode, DownstreamStatus, response.status): no call can count as used or denied; name it with --field status=KEY",
        );
    }
    if !has("user") {
        match &cfg.user_field {
            Some(uf) => warn(&format!(
                "has no {} (--user-field) and no user field: its callers are read as unknown",
                uf.name()
            )),
            None => warn(
                "has no caller (user_name, user, username, remote_user, ClientUsername, caller, consumer.username ...): every caller is unknown; name it with --field user=KEY",
            ),
        }
    }
    if !has("time") {
        warn(
            "has no time (StartUTC, start_time, started_at, time, timestamp, @timestamp, time_local, requestTime, ts ...): its lines cannot be read; name it with --field time=KEY",
        );
    }
    for text in said {
        note(f, text);
    }
    None
}
