//! The files of a dump: which file is what, by its name and place ([`collect`]), and the
//! API responses they hold, read as JSON.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::ImportError;
use crate::jsonfile::{self, JsonFileError, Kind as FileKind};

#[derive(Debug, Deserialize)]
pub(super) struct UsersFile {
    pub(super) users: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct GroupsFile {
    pub(super) groups: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AssignmentsFile {
    pub(super) role_assignments: AssignmentList,
    /// How many assignments the listing has in all, on every page.
    #[serde(default)]
    pub(super) total_num: Option<u64>,
}

/// The provider's documentation shows `role_assignments` as one object in an example; the
/// API and SDKs return a list. Both are read.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum AssignmentList {
    Many(Vec<Value>),
    One(Value),
}

#[derive(Debug, Deserialize)]
pub(super) struct RolesFile {
    pub(super) roles: Vec<Value>,
    #[serde(default)]
    pub(super) links: Option<Value>,
    /// How many roles (or custom policies) the listing has in all, on every page.
    #[serde(default)]
    pub(super) total_number: Option<u64>,
}

pub(super) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ImportError> {
    let (text, name) = jsonfile::read(path, FileKind::Dump)?;
    jsonfile::parse(&text, &name, FileKind::Dump).map_err(|e| {
        // An error body saved in place of a page (an expired token, a throttled call).
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(&text)
            && let Some(code) = o
                .get("error_code")
                .or_else(|| o.get("error").and_then(|e| e.get("code")))
        {
            let msg = o
                .get("error_msg")
                .or_else(|| o.get("error").and_then(|e| e.get("message")))
                .and_then(Value::as_str)
                .unwrap_or_default();
            return ImportError::File(JsonFileError::Invalid {
                path: name.clone(),
                at: "error_code".into(),
                msg: format!(
                    "an API error response ({code}: {msg}), not a listing: call the API again and save its answer"
                ),
            });
        }
        ImportError::File(e)
    })
}

/// What a dump file holds, by its name (see the module's header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Users,
    Groups,
    Assignments,
    Roles,
}

/// `users.json`, `users.2.json`, `users-2.json`, `users_page2.json`, `users.page-3.json` ->
/// (users, page). Pages are numbered; anything else is not a dump file.
fn kind_of(file_name: &str) -> Option<Kind> {
    let stem = file_name.strip_suffix(".json")?;
    for (base, kind) in [
        ("role_assignments", Kind::Assignments),
        ("custom_policies", Kind::Roles),
        ("users", Kind::Users),
        ("groups", Kind::Groups),
        ("roles", Kind::Roles),
    ] {
        let Some(rest) = stem.strip_prefix(base) else {
            continue;
        };
        if rest.is_empty() {
            return Some(kind);
        }
        let rest = rest.strip_prefix(['.', '-', '_'])?;
        let rest = rest.strip_prefix("page").unwrap_or(rest);
        let rest = rest.strip_prefix(['.', '-', '_']).unwrap_or(rest);
        return (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())).then_some(kind);
    }
    None
}

/// The files of a dump, by role.
#[derive(Debug, Default)]
pub(super) struct Dump {
    pub(super) users: Vec<PathBuf>,
    pub(super) groups: Vec<PathBuf>,
    pub(super) members: Vec<(String, PathBuf)>,
    pub(super) group_roles: Vec<(String, PathBuf)>,
    pub(super) assignments: Vec<PathBuf>,
    pub(super) roles: Vec<PathBuf>,
    /// IAM 5.0 responses, under a `v5/` directory: (path under `v5/`, full path).
    pub(super) v5: Vec<(PathBuf, PathBuf)>,
}

pub(super) fn collect(inputs: &[PathBuf], warnings: &mut Vec<String>) -> Result<Dump, ImportError> {
    let mut files = Vec::new();
    let mut v5_files: Vec<(PathBuf, PathBuf)> = Vec::new();
    for input in inputs {
        if input.is_dir() {
            for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
                let entry = entry.map_err(|e| JsonFileError::Read {
                    kind: FileKind::Dump,
                    path: input.display().to_string(),
                    cause: e.into(),
                })?;
                if entry.file_type().is_file() {
                    let rel = entry
                        .path()
                        .strip_prefix(input)
                        .unwrap_or(entry.path())
                        .to_path_buf();
                    if super::v5::in_v5(input, &rel) {
                        let under = if input.file_name().is_some_and(|n| n == "v5") {
                            rel
                        } else {
                            rel.strip_prefix("v5").unwrap_or(&rel).to_path_buf()
                        };
                        v5_files.push((under, entry.into_path()));
                        continue;
                    }
                    files.push(entry.into_path());
                }
            }
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            return Err(ImportError::File(JsonFileError::Read {
                kind: FileKind::Dump,
                path: input.display().to_string(),
                cause: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            }));
        }
    }
    // Pages in page order (`users.json` is the first), whatever the names sort as.
    files.sort_by_key(|f| {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let digits: String = name
            .trim_end_matches(".json")
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let page = if kind_of(name).is_some() {
            digits.parse::<u64>().unwrap_or(1)
        } else {
            0
        };
        (f.parent().map(Path::to_path_buf), page)
    });
    // v5 pages in page order too, per directory.
    let page_of = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let digits: String = name
            .trim_end_matches(".json")
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        digits.parse::<u64>().unwrap_or(1)
    };
    v5_files.sort_by_key(|(rel, _)| {
        (
            rel.parent().map(Path::to_path_buf),
            page_of(rel),
            rel.clone(),
        )
    });
    let mut dump = Dump {
        v5: v5_files,
        ..Dump::default()
    };
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let parent = f
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let grandparent = f
            .parent()
            .and_then(Path::parent)
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str());
        let in_group = grandparent == Some("groups");
        match (kind_of(name), in_group) {
            (Some(Kind::Users), true) => dump.members.push((parent, f)),
            (Some(Kind::Roles), true) => dump.group_roles.push((parent, f)),
            (Some(Kind::Users), false) => dump.users.push(f),
            (Some(Kind::Groups), false) => dump.groups.push(f),
            (Some(Kind::Assignments), false) => dump.assignments.push(f),
            (Some(Kind::Roles), false) => dump.roles.push(f),
            _ => warnings.push(format!(
                "ignored {}: not a file of an IAM dump",
                f.display()
            )),
        }
    }
    Ok(dump)
}

pub(super) fn newest_mtime(dump: &Dump) -> Option<jiff::Timestamp> {
    let paths = dump
        .users
        .iter()
        .chain(&dump.groups)
        .chain(&dump.assignments)
        .chain(&dump.roles)
        .chain(dump.members.iter().map(|(_, p)| p));
    paths
        .filter_map(|p| std::fs::metadata(p).ok()?.modified().ok())
        .max()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_file_names() {
        for (name, kind) in [
            ("users.json", Some(Kind::Users)),
            ("users.2.json", Some(Kind::Users)),
            ("role_assignments-3.json", Some(Kind::Assignments)),
            ("role_assignments_page12.json", Some(Kind::Assignments)),
            ("roles.page-2.json", Some(Kind::Roles)),
            ("custom_policies.json", Some(Kind::Roles)),
            ("groups.json", Some(Kind::Groups)),
            ("users.backup.json", None),
            ("usersx.json", None),
            ("notes.json", None),
        ] {
            assert_eq!(kind_of(name), kind, "{name}");
        }
    }
}
