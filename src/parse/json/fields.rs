//! The field alias table of gateway JSON lines: which top-level keys (and nested paths) feed
//! each logical field of a request, and `--field` overrides of them.
//!
//! Field names differ between gateways, so each logical field has a list of aliases, the
//! first present one winning. [`FIELDS`] is the table as data (for `--field` names,
//! `inspect` and messages); [`alias_of`] is the same table as a `match` for the per-key
//! lookup of the hot path. The two must agree; a test checks it.

/// The logical fields of a request, in `--field` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Method,
    Path,
    Request,
    Status,
    User,
    UserId,
    Time,
    RequestId,
    SourceIp,
    ErrorCode,
    Host,
    ResponseSource,
}

pub(super) const FIELD_COUNT: usize = 12;

/// (field, `--field` name, aliases in priority order).
const FIELDS: [(Field, &str, &[&str]); FIELD_COUNT] = [
    (
        Field::Method,
        "method",
        &[
            "method",
            "request_method",
            "http_method",
            "httpMethod",
            "RequestMethod",
        ],
    ),
    (
        Field::Path,
        "path",
        &[
            "request_uri",
            "uri",
            "path",
            "url",
            "router_uri",
            "request_path",
            "RequestPath",
        ],
    ),
    (Field::Request, "request", &["request", "request_line"]),
    (
        Field::Status,
        "status",
        &[
            "status",
            "status_code",
            "response_code",
            "statusCode",
            "DownstreamStatus",
        ],
    ),
    (
        Field::User,
        "user",
        &[
            "user_name",
            "user",
            "username",
            "userName",
            "remote_user",
            "ClientUsername",
            "caller",
            "consumer",
        ],
    ),
    (Field::UserId, "user_id", &[]),
    (
        Field::Time,
        "time",
        &[
            "StartUTC",
            "start_time",
            "started_at",
            "requestTimeEpoch",
            "time",
            "timestamp",
            "@timestamp",
            "time_local",
            "time_iso8601",
            "requestTime",
            "ts",
            "msec",
        ],
    ),
    (
        Field::RequestId,
        "request_id",
        &[
            "request_id",
            "requestId",
            "x_request_id",
            "req_id",
            "RequestId",
            "request_X-Request-Id",
        ],
    ),
    (
        Field::SourceIp,
        "source_ip",
        &[
            "remote_addr",
            "client_ip",
            "source_ip",
            "clientIp",
            "downstream_remote_address",
            "ClientHost",
            "ip",
        ],
    ),
    (
        Field::ErrorCode,
        "error_code",
        &["error_code", "apig_err_code", "err_code", "errorCode"],
    ),
    (
        Field::Host,
        "host",
        &[
            "host",
            "http_host",
            "authority",
            "server_name",
            "RequestHost",
        ],
    ),
    (
        Field::ResponseSource,
        "response_source",
        &["response_source"],
    ),
];

/// Which key of a record feeds each field (`inspect`): per `--field` name, the first alias
/// present among `keys` (or the `--field` path, or `--user-field`'s key), if any.
pub fn field_sources(keys: &[String], map: &FieldMap) -> Vec<(&'static str, Option<String>)> {
    FIELDS
        .iter()
        .enumerate()
        .map(|(i, (field, name, aliases))| {
            if let Some(path) = &map.overrides[i] {
                return (*name, Some(path.join(".")));
            }
            if *field == Field::User
                && let Some(key) = &map.user_key
            {
                let key = String::from_utf8_lossy(key).into_owned();
                if keys.contains(&key) {
                    return (*name, Some(key));
                }
            }
            let found = aliases
                .iter()
                .find(|a| keys.iter().any(|k| k == *a))
                .map(|a| (*a).to_owned())
                .or_else(|| {
                    NESTED
                        .iter()
                        .filter(|(f, _)| f == field)
                        .flat_map(|(_, paths)| paths.iter())
                        .map(|p| p.join("."))
                        .find(|p| keys.contains(p))
                })
                .or_else(|| {
                    // Caddy's `user_id` beside a nested request (see `gateway_fields`).
                    (*field == Field::User
                        && keys.iter().any(|k| k == "user_id")
                        && keys.iter().any(|k| k == "request.method"))
                    .then(|| "user_id".to_owned())
                });
            (*name, found)
        })
        .collect()
}

/// The names `--field` accepts.
pub fn field_names() -> Vec<&'static str> {
    FIELDS.iter().map(|f| f.1).collect()
}

/// A `--field NAME=dotted.path` override, checked once when the option is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The index of the field in [`FIELDS`].
    field: usize,
    path: Vec<String>,
    /// As given (part of a `--state` directory's identity).
    text: String,
}

impl FieldSpec {
    pub fn parse(spec: &str) -> Result<FieldSpec, String> {
        let (name, path) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?}: expected NAME=dotted.path"))?;
        let field = FIELDS
            .iter()
            .position(|f| f.1 == name.trim())
            .ok_or_else(|| {
                format!(
                    "{spec:?}: unknown field {name:?}, expected one of {}",
                    field_names().join(", ")
                )
            })?;
        let path: Vec<String> = path.trim().split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!(
                "{spec:?}: expected a dotted path such as request.path"
            ));
        }
        Ok(FieldSpec {
            field,
            path,
            text: spec.to_owned(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it names where the caller is.
    pub fn is_user(&self) -> bool {
        FIELDS[self.field].0 == Field::User
    }
}

/// Where each field is looked up: aliases, or a user's dotted path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    pub(super) overrides: [Option<Vec<String>>; FIELD_COUNT],
    /// A top-level key that is the user before the user aliases (`--user-field` read from
    /// JSON records, such as LTS-structured API Gateway logs). Unlike an override it keeps
    /// the fast path, and records without it fall back to the aliases.
    user_key: Option<Box<[u8]>>,
}

impl FieldMap {
    /// Applies `NAME=dotted.path`; errors name the accepted names.
    pub fn set(&mut self, spec: &str) -> Result<(), String> {
        self.apply(&FieldSpec::parse(spec)?);
        Ok(())
    }

    /// Reads `spec.field` from `spec.path` instead of its aliases.
    pub fn apply(&mut self, spec: &FieldSpec) {
        self.overrides[spec.field] = Some(spec.path.clone());
    }

    /// Reads the user from the top-level key `key` instead of the user aliases.
    pub fn set_user_key(&mut self, key: &str) {
        self.user_key = Some(key.as_bytes().into());
    }

    /// Which field slot a top-level key feeds, and its rank, unless `--field` overrides that
    /// field.
    #[inline(always)]
    pub(super) fn slot(&self, key: &[u8]) -> Option<(usize, u8)> {
        if let Some(user) = &self.user_key {
            if key == &**user {
                return Some((Field::User as usize, 0));
            }
            // The named key wins; a record without it still has the usual user aliases.
            let (field, rank) = alias_of(key)?;
            let rank = if field == Field::User { rank + 1 } else { rank };
            return Some((field as usize, rank));
        }
        let (field, rank) = alias_of(key)?;
        Some((field as usize, rank))
    }
}

/// The walk of a flat line asks the map per key: inlined into it (see [`crate::parse::flat::Keys`]).
impl crate::parse::flat::Keys for &FieldMap {
    #[inline(always)]
    fn slot(&mut self, _: usize, key: &[u8]) -> Option<(usize, u8)> {
        FieldMap::slot(self, key)
    }
}

/// The field a top-level key is an alias of, and its priority (lower wins). Must agree with
/// [`FIELDS`]; a test checks it.
#[inline]
pub(super) fn alias_of(key: &[u8]) -> Option<(Field, u8)> {
    use Field::*;
    Some(match key {
        b"method" => (Method, 0),
        b"request_method" => (Method, 1),
        b"http_method" => (Method, 2),
        b"httpMethod" => (Method, 3),
        b"RequestMethod" => (Method, 4),
        b"uri" => (Path, 1),
        b"path" => (Path, 2),
        b"request_uri" => (Path, 0),
        b"url" => (Path, 3),
        b"router_uri" => (Path, 4),
        b"request_path" => (Path, 5),
        b"RequestPath" => (Path, 6),
        b"request" => (Request, 0),
        b"request_line" => (Request, 1),
        b"status" => (Status, 0),
        b"status_code" => (Status, 1),
        b"response_code" => (Status, 2),
        b"statusCode" => (Status, 3),
        b"DownstreamStatus" => (Status, 4),
        b"user_name" => (User, 0),
        b"user" => (User, 1),
        b"username" => (User, 2),
        b"userName" => (User, 3),
        b"remote_user" => (User, 4),
        b"ClientUsername" => (User, 5),
        b"caller" => (User, 6),
        b"consumer" => (User, 7),
        b"StartUTC" => (Time, 0),
        b"start_time" => (Time, 1),
        b"started_at" => (Time, 2),
        b"requestTimeEpoch" => (Time, 3),
        b"time" => (Time, 4),
        b"timestamp" => (Time, 5),
        b"@timestamp" => (Time, 6),
        b"time_local" => (Time, 7),
        b"time_iso8601" => (Time, 8),
        b"requestTime" => (Time, 9),
        b"ts" => (Time, 10),
        b"msec" => (Time, 11),
        b"request_id" => (RequestId, 0),
        b"requestId" => (RequestId, 1),
        b"x_request_id" => (RequestId, 2),
        b"req_id" => (RequestId, 3),
        b"RequestId" => (RequestId, 4),
        b"request_X-Request-Id" => (RequestId, 5),
        b"remote_addr" => (SourceIp, 0),
        b"client_ip" => (SourceIp, 1),
        b"source_ip" => (SourceIp, 2),
        b"clientIp" => (SourceIp, 3),
        b"downstream_remote_address" => (SourceIp, 4),
        b"ClientHost" => (SourceIp, 5),
        b"ip" => (SourceIp, 6),
        b"error_code" => (ErrorCode, 0),
        b"apig_err_code" => (ErrorCode, 1),
        b"err_code" => (ErrorCode, 2),
        b"errorCode" => (ErrorCode, 3),
        b"host" => (Host, 0),
        b"http_host" => (Host, 1),
        b"authority" => (Host, 2),
        b"server_name" => (Host, 3),
        b"RequestHost" => (Host, 4),
        b"response_source" => (ResponseSource, 0),
        _ => return None,
    })
}

/// Which field slot a top-level key feeds, unless `--field` overrides that field.
pub(super) fn alias_slot(key: &[u8], map: &FieldMap) -> Option<(usize, u8)> {
    let (slot, rank) = map.slot(key)?;
    map.overrides[slot].is_none().then_some((slot, rank))
}

/// Where gateways that nest the request and response keep the fields, tried in order when no
/// top-level alias gave a value: Kong's and APISIX's `request`/`response`/`consumer`,
/// Caddy's `request`.
pub(super) const NESTED: &[(Field, &[&[&str]])] = &[
    (Field::Method, &[&["request", "method"]]),
    (Field::Path, &[&["request", "uri"], &["request", "url"]]),
    (
        Field::Status,
        &[&["response", "status"], &["response", "status_code"]],
    ),
    (
        Field::User,
        &[&["consumer", "username"], &["authenticated_entity", "id"]],
    ),
    (
        Field::RequestId,
        &[
            &["request", "id"],
            &["request", "headers", "x-request-id"],
            &["request", "headers", "X-Request-Id"],
        ],
    ),
    (
        Field::SourceIp,
        &[&["request", "client_ip"], &["request", "remote_ip"]],
    ),
    (
        Field::Host,
        &[&["request", "host"], &["request", "headers", "host"]],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_lookup_agrees_with_the_alias_table() {
        for (field, _, aliases) in FIELDS {
            for (rank, a) in aliases.iter().enumerate() {
                assert_eq!(alias_of(a.as_bytes()), Some((field, rank as u8)), "{a}");
            }
        }
        let listed: usize = FIELDS.iter().map(|f| f.2.len()).sum();
        let known = [
            "method",
            "request_method",
            "http_method",
            "httpMethod",
            "RequestMethod",
            "uri",
            "path",
            "request_uri",
            "url",
            "router_uri",
            "request_path",
            "RequestPath",
            "request",
            "request_line",
            "status",
            "status_code",
            "response_code",
            "statusCode",
            "DownstreamStatus",
            "user_name",
            "user",
            "username",
            "userName",
            "remote_user",
            "ClientUsername",
            "caller",
            "consumer",
            "StartUTC",
            "start_time",
            "started_at",
            "requestTimeEpoch",
            "time",
            "timestamp",
            "@timestamp",
            "time_local",
            "time_iso8601",
            "requestTime",
            "ts",
            "msec",
            "request_id",
            "requestId",
            "x_request_id",
            "req_id",
            "RequestId",
            "request_X-Request-Id",
            "remote_addr",
            "client_ip",
            "source_ip",
            "clientIp",
            "downstream_remote_address",
            "ClientHost",
            "ip",
            "error_code",
            "apig_err_code",
            "err_code",
            "errorCode",
            "host",
            "http_host",
            "authority",
            "server_name",
            "RequestHost",
            "response_source",
        ];
        assert_eq!(listed, known.len());
        assert!(known.iter().all(|k| alias_of(k.as_bytes()).is_some()));
        assert_eq!(alias_of(b"nope"), None);
    }
}
