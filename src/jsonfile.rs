//! Loading a JSON input file (a catalog, a snapshot, an IAM dump): one way to read and parse
//! one, and one error type that names the file and the place, so that a bad input stops the
//! run with one line saying where and what was expected.

use std::path::Path;

/// What kind of file it is, for the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Catalog,
    Snapshot,
    /// A raw IAM API response of a `snapshot import` dump.
    Dump,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Catalog => "catalog ",
            Kind::Snapshot => "snapshot ",
            Kind::Dump => "",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Catalog => "expected a catalog JSON object: ",
            Kind::Snapshot => "invalid JSON: ",
            Kind::Dump => "",
        }
    }
}

/// Why an input file could not be used. Every variant names the file and the place.
#[derive(Debug, thiserror::Error)]
pub enum JsonFileError {
    #[error("cannot read {}{path}: {cause}", .kind.noun())]
    Read {
        kind: Kind,
        path: String,
        /// Not a `source`: the message already says it, and a chain would say it twice.
        cause: std::io::Error,
    },
    #[error("{path}: line {line}, column {column}: {}{msg}", .kind.expected())]
    Json {
        kind: Kind,
        path: String,
        line: usize,
        column: usize,
        msg: String,
    },
    /// Valid JSON that is not what was expected: `at` is the JSON path.
    #[error("{path}: {at}: {msg}")]
    Invalid {
        path: String,
        at: String,
        msg: String,
    },
    /// A text file (the provider's permission table), by line.
    #[error("{path}:{line}: {msg}")]
    Line {
        path: String,
        line: usize,
        msg: String,
    },
}

/// Reads a file whole; returns its text and its name for messages. A UTF-8 byte-order mark
/// (Windows tools write one; JSON parsers refuse it) is not part of the text.
pub fn read(path: &Path, kind: Kind) -> Result<(String, String), JsonFileError> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => match text.strip_prefix('\u{feff}') {
            Some(rest) => Ok((rest.to_owned(), name)),
            None => Ok((text, name)),
        },
        Err(cause) => Err(JsonFileError::Read {
            kind,
            path: name,
            cause,
        }),
    }
}

/// Parses JSON text into `T`; `origin` names it in errors.
pub fn parse<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
    kind: Kind,
) -> Result<T, JsonFileError> {
    serde_json::from_str(text).map_err(|e| {
        // serde_json ends its message with the place, which the error says already.
        let msg = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        JsonFileError::Json {
            kind,
            path: origin.to_owned(),
            line: e.line(),
            column: e.column(),
            msg: msg.strip_suffix(&suffix).unwrap_or(&msg).to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_not_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bom.json");
        std::fs::write(&p, "\u{feff}{\"a\": 1}").unwrap();
        let (text, _) = read(&p, Kind::Snapshot).unwrap();
        assert_eq!(text, "{\"a\": 1}");
        parse::<serde_json::Value>(&text, "bom.json", Kind::Snapshot).unwrap();
    }

    #[test]
    fn errors_name_the_file_the_place_and_what_was_expected() {
        let e = read(Path::new("/nonexistent/c.json"), Kind::Catalog).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read catalog /nonexistent/c.json: ")
        );
        let e = parse::<serde_json::Value>("{\n  \"a\": ", "s.json", Kind::Snapshot).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("s.json: line 2, column 7: invalid JSON: "),
            "{e}"
        );
        let e = parse::<Vec<u8>>("{}", "c.json", Kind::Catalog).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("c.json: line 1, column 0: expected a catalog JSON object: "),
            "{e}"
        );
    }
}
