//! The IAM 5.0 part of a dump: the responses of the v5 list APIs, under a `v5/` directory.
//!
//! | file (under `v5/`) | API response |
//! |---|---|
//! | `users.json` | ListUsersV5 `GET /v5/users`: `{"users":[{"user_id","user_name","urn",...}],"page_info":{...}}` |
//! | `groups.json` | ListGroupsV5 `GET /v5/groups`: `{"groups":[{"group_id","group_name",...}]}` |
//! | `groups/<group_id>/users.json` | ListUsersV5 `GET /v5/users?group_id=<id>`: the group's members |
//! | `agencies.json` | ListAgenciesV5 `GET /v5/agencies`: `{"agencies":[{"agency_id","agency_name",...}]}` |
//! | `policies.json` | ListPoliciesV5 `GET /v5/policies`: `{"policies":[{"policy_id","policy_name","default_version_id",...}]}` |
//! | `policies/<policy_id>/versions.json` | ListPolicyVersionsV5: `{"versions":[{"document":"<JSON string>","version_id","is_default"}]}`; a single version (GetPolicyVersionV5, `{"policy_version":{...}}`) is read too |
//! | `users/<user_id>/attached-policies.json`, `groups/<group_id>/...`, `agencies/<agency_id>/...` | ListAttached{User,Group,Agency}PoliciesV5: `{"attached_policies":[{"policy_id","policy_name"}]}` |
//!
//! The v5 APIs page with `limit` and `marker`: each page is its own file, numbered as in the
//! v3 part (`users.2.json`, ...), merged by id. A listing whose last page still carries a
//! `page_info.next_marker` is incomplete: a warning names the file and the marker.
//!
//! A policy's document is its default version's (`is_default`, else the policy's
//! `default_version_id`), parsed from the JSON string the API returns. Users and groups the
//! v3 part also lists (the same account) are matched by name and get the v5 attachments
//! besides their v3 grants.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ImportError;
use super::dump::read_json;
use crate::jsonfile::JsonFileError;

/// The v5 records of a dump, ready to be written into the snapshot.
#[derive(Debug, Default)]
pub(super) struct V5 {
    /// (name, id, urn), in page order.
    pub(super) users: Vec<(String, String, Option<String>)>,
    /// Ids of the users whose record says `"enabled": false`.
    pub(super) disabled: std::collections::BTreeSet<String>,
    /// (name, id, member names), in page order.
    pub(super) groups: Vec<(String, String, Vec<String>)>,
    /// (name, id), in page order.
    pub(super) agencies: Vec<(String, String)>,
    /// (snapshot name, id, document, source file, JSON path of the document).
    pub(super) policies: Vec<(String, String, Value, String, String)>,
    /// Snapshot policy names attached, per user, group and agency id.
    pub(super) user_policies: BTreeMap<String, Vec<String>>,
    pub(super) group_policies: BTreeMap<String, Vec<String>>,
    pub(super) agency_policies: BTreeMap<String, Vec<String>>,
}

fn invalid(file: &str, at: String, msg: impl Into<String>) -> ImportError {
    ImportError::File(JsonFileError::Invalid {
        path: file.to_owned(),
        at,
        msg: msg.into(),
    })
}

/// `users.json`, `users.2.json`, `users-2.json`, `users_page2.json` -> `users`.
fn base_name(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_suffix(".json")?;
    for base in [
        "attached-policies",
        "attached_policies",
        "versions",
        "policies",
        "agencies",
        "groups",
        "users",
    ] {
        let Some(rest) = stem.strip_prefix(base) else {
            continue;
        };
        if rest.is_empty() {
            return Some(base);
        }
        let rest = rest.strip_prefix(['.', '-', '_'])?;
        let rest = rest.strip_prefix("page").unwrap_or(rest);
        let rest = rest.strip_prefix(['.', '-', '_']).unwrap_or(rest);
        return (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())).then_some(base);
    }
    None
}

/// One record list of a page: `key`'s array, each item with its JSON path.
fn records(v: &Value, key: &str, file: &str) -> Result<Vec<(Value, String)>, ImportError> {
    match v.get(key) {
        Some(Value::Array(items)) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, x)| (x.clone(), format!("{key}[{i}]")))
            .collect()),
        Some(other) => Err(invalid(
            file,
            key.to_owned(),
            format!("expected a list, got {other}"),
        )),
        None => Err(invalid(
            file,
            "$".into(),
            format!("expected a \"{key}\" field"),
        )),
    }
}

fn string(v: &Value, key: &str, file: &str, at: &str) -> Result<String, ImportError> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => Err(invalid(
            file,
            format!("{at}.{key}"),
            format!("expected a non-empty string, got {other}"),
        )),
        None => Err(invalid(
            file,
            at.to_owned(),
            format!("expected a \"{key}\" field"),
        )),
    }
}

/// The pages of one listing, in page order, with the marker check.
struct Listing {
    pages: Vec<(Value, String)>,
}

impl Listing {
    fn read(paths: &[PathBuf], warnings: &mut Vec<String>) -> Result<Listing, ImportError> {
        let mut pages = Vec::new();
        for p in paths {
            let v: Value = read_json(p)?;
            pages.push((v, p.display().to_string()));
        }
        let unfinished = pages.last().and_then(|(last, file)| {
            last.get("page_info")
                .and_then(|i| i.get("next_marker"))
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map(|m| (file, m))
        });
        if let Some((file, marker)) = unfinished {
            warnings.push(format!(
                "{file}: page_info.next_marker is {marker:?}: the listing goes on, but no later page was given (call again with marker={marker} and save it as the next page)"
            ));
        }
        Ok(Listing { pages })
    }

    /// Every record of `key` across the pages, first of an id kept: (record, id, file, at).
    fn merged(
        &self,
        key: &str,
        id_key: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<(Value, String, String, String)>, ImportError> {
        let mut out: Vec<(Value, String, String, String)> = Vec::new();
        for (page, file) in &self.pages {
            for (r, at) in records(page, key, file)? {
                let id = string(&r, id_key, file, &at)?;
                match out.iter().find(|x| x.1 == id) {
                    Some(first) if first.0 != r => warnings.push(format!(
                        "{file}: {at}: id {id:?} is also in {} ({}) with other content; the first is kept",
                        first.2, first.3
                    )),
                    Some(_) => {}
                    None => out.push((r, id, file.clone(), at)),
                }
            }
        }
        Ok(out)
    }
}

/// Groups the v5 files by what they are: (owner kind, owner id, base name) -> pages.
fn classify(
    files: &[(PathBuf, PathBuf)],
    warnings: &mut Vec<String>,
) -> BTreeMap<(String, String, String), Vec<PathBuf>> {
    let mut by: BTreeMap<(String, String, String), Vec<PathBuf>> = BTreeMap::new();
    for (rel, full) in files {
        let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
        let name = parts.last().copied().unwrap_or_default();
        let base = base_name(name);
        let key = match (parts.as_slice(), base) {
            ([_], Some(b @ ("users" | "groups" | "agencies" | "policies"))) => {
                Some((String::new(), String::new(), b.to_owned()))
            }
            (
                [
                    owner @ ("users" | "groups" | "agencies" | "policies"),
                    id,
                    _,
                ],
                Some(b),
            ) => {
                let b = if b == "attached_policies" {
                    "attached-policies"
                } else {
                    b
                };
                let fits = matches!(
                    (*owner, b),
                    ("groups", "users")
                        | ("policies", "versions")
                        | ("users" | "groups" | "agencies", "attached-policies")
                );
                fits.then(|| ((*owner).to_owned(), (*id).to_owned(), b.to_owned()))
            }
            _ => None,
        };
        match key {
            Some(k) => by.entry(k).or_default().push(full.clone()),
            None => warnings.push(format!(
                "ignored {}: not a file of an IAM 5.0 dump",
                full.display()
            )),
        }
    }
    by
}

/// Reads the v5 files of a dump: `(path under v5/, full path)`, pages in page order.
pub(super) fn read(
    files: &[(PathBuf, PathBuf)],
    warnings: &mut Vec<String>,
) -> Result<V5, ImportError> {
    let by = classify(files, warnings);
    let top = |b: &str| by.get(&(String::new(), String::new(), b.to_owned()));
    let listing = |paths: Option<&Vec<PathBuf>>, warnings: &mut Vec<String>| {
        Listing::read(paths.map_or(&[][..], Vec::as_slice), warnings)
    };
    let mut v5 = V5::default();

    let users = listing(top("users"), warnings)?.merged("users", "user_id", warnings)?;
    let mut user_name: BTreeMap<String, String> = BTreeMap::new();
    for (u, id, file, at) in &users {
        let name = string(u, "user_name", file, at)?;
        user_name.insert(id.clone(), name.clone());
        let urn = u.get("urn").and_then(Value::as_str).map(str::to_owned);
        if u.get("enabled") == Some(&Value::Bool(false)) {
            v5.disabled.insert(id.clone());
        }
        v5.users.push((name, id.clone(), urn));
    }

    let groups = listing(top("groups"), warnings)?.merged("groups", "group_id", warnings)?;
    for (g, id, file, at) in &groups {
        let name = string(g, "group_name", file, at)?;
        let key = ("groups".to_owned(), id.clone(), "users".to_owned());
        let mut members = Vec::new();
        for (m, mid, mfile, mat) in
            listing(by.get(&key), warnings)?.merged("users", "user_id", warnings)?
        {
            let mname = string(&m, "user_name", &mfile, &mat)?;
            if !user_name.contains_key(&mid) {
                warnings.push(format!(
                    "{mfile}: {mat}: member {mname:?} (id {mid:?}) is in no v5 users page; added from the group's member list"
                ));
                user_name.insert(mid.clone(), mname.clone());
                let urn = m.get("urn").and_then(Value::as_str).map(str::to_owned);
                v5.users.push((mname.clone(), mid.clone(), urn));
            }
            if !members.contains(&mname) {
                members.push(mname);
            }
        }
        v5.groups.push((name, id.clone(), members));
    }

    let agencies = listing(top("agencies"), warnings)?.merged("agencies", "agency_id", warnings)?;
    for (a, id, file, at) in &agencies {
        v5.agencies
            .push((string(a, "agency_name", file, at)?, id.clone()));
    }

    // Policies: the default version's document of each listed policy.
    let policies = listing(top("policies"), warnings)?.merged("policies", "policy_id", warnings)?;
    let mut policy_name: BTreeMap<String, String> = BTreeMap::new();
    for (p, id, file, at) in &policies {
        let display = string(p, "policy_name", file, at)?;
        let key = ("policies".to_owned(), id.clone(), "versions".to_owned());
        let Some(paths) = by.get(&key) else {
            warnings.push(format!(
                "{file}: {at}: policy {display:?} has no policies/{id}/versions.json: its document is unknown; left out"
            ));
            continue;
        };
        let default_id = p.get("default_version_id").and_then(Value::as_str);
        let Some((doc, vfile, vat)) = default_document(paths, default_id)? else {
            warnings.push(format!(
                "{}: no default version of policy {display:?}; left out",
                paths[0].display()
            ));
            continue;
        };
        let name = if v5.policies.iter().any(|x| x.0 == display) {
            format!("{display} [{id}]")
        } else {
            display
        };
        policy_name.insert(id.clone(), name.clone());
        v5.policies.push((name, id.clone(), doc, vfile, vat));
    }

    // Attachments, by owner.
    for ((owner, oid, base), paths) in &by {
        if base != "attached-policies" {
            continue;
        }
        let known = match owner.as_str() {
            "users" => user_name.contains_key(oid),
            "groups" => v5.groups.iter().any(|g| &g.1 == oid),
            _ => v5.agencies.iter().any(|a| &a.1 == oid),
        };
        let lst = Listing::read(paths, warnings)?;
        let file0 = paths[0].display().to_string();
        if !known {
            warnings.push(format!(
                "{file0}: attached policies of {} id {oid:?}, which is in no v5 {owner} page; skipped",
                owner.trim_end_matches('s').replace("agencie", "agency")
            ));
            continue;
        }
        for (_, pid, file, at) in lst.merged("attached_policies", "policy_id", warnings)? {
            let Some(name) = policy_name.get(&pid) else {
                warnings.push(format!(
                    "{file}: {at}.policy_id: policy {pid:?} has no document in the dump (no policies page or versions); skipped"
                ));
                continue;
            };
            let map = match owner.as_str() {
                "users" => &mut v5.user_policies,
                "groups" => &mut v5.group_policies,
                _ => &mut v5.agency_policies,
            };
            let list = map.entry(oid.clone()).or_default();
            if !list.contains(name) {
                list.push(name.clone());
            }
        }
    }
    Ok(v5)
}

/// The default version's document among a policy's version pages: (document, file, path).
fn default_document(
    paths: &[PathBuf],
    default_id: Option<&str>,
) -> Result<Option<(Value, String, String)>, ImportError> {
    let mut fallback = None;
    for p in paths {
        let file = p.display().to_string();
        let v: Value = read_json(p)?;
        let versions: Vec<(Value, String)> = match v.get("policy_version") {
            Some(one) => vec![(one.clone(), "policy_version".to_owned())],
            None => records(&v, "versions", &file)?,
        };
        for (ver, at) in versions {
            let is_default = ver.get("is_default").and_then(Value::as_bool) == Some(true);
            let matches_id =
                default_id.is_some() && ver.get("version_id").and_then(Value::as_str) == default_id;
            if !is_default && !matches_id {
                continue;
            }
            let doc_at = format!("{at}.document");
            let doc = match ver.get("document") {
                Some(Value::String(text)) => serde_json::from_str::<Value>(text).map_err(|e| {
                    invalid(
                        &file,
                        doc_at.clone(),
                        format!("expected a policy document in the string: {e}"),
                    )
                })?,
                Some(obj @ Value::Object(_)) => obj.clone(),
                Some(other) => {
                    return Err(invalid(
                        &file,
                        doc_at,
                        format!("expected a JSON string holding the policy document, got {other}"),
                    ));
                }
                None => return Err(invalid(&file, at, "expected a \"document\" field")),
            };
            if is_default {
                return Ok(Some((doc, file, doc_at)));
            }
            fallback.get_or_insert((doc, file.clone(), doc_at));
        }
    }
    Ok(fallback)
}

/// True when `rel` (a path under an input directory) lies in the dump's `v5/` part.
pub(super) fn in_v5(input: &Path, rel: &Path) -> bool {
    input.file_name().is_some_and(|n| n == "v5") || rel.iter().next().is_some_and(|c| c == "v5")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_file_names() {
        for (name, base) in [
            ("users.json", Some("users")),
            ("users.2.json", Some("users")),
            ("policies_page3.json", Some("policies")),
            ("attached-policies.json", Some("attached-policies")),
            ("attached-policies-2.json", Some("attached-policies")),
            ("versions.json", Some("versions")),
            ("users.backup.json", None),
            ("notes.json", None),
        ] {
            assert_eq!(base_name(name), base, "{name}");
        }
    }

    #[test]
    fn files_are_told_apart_by_their_place() {
        let f = |p: &str| (PathBuf::from(p), PathBuf::from(format!("/d/v5/{p}")));
        let mut warnings = Vec::new();
        let by = classify(
            &[
                f("users.json"),
                f("groups/g1/users.json"),
                f("groups/g1/attached-policies.json"),
                f("policies/p1/versions.2.json"),
                f("agencies/a1/attached_policies.json"),
                f("users/u1/versions.json"),
                f("readme.json"),
            ],
            &mut warnings,
        );
        let keys: Vec<String> = by
            .keys()
            .map(|(o, id, b)| format!("{o}/{id}/{b}"))
            .collect();
        assert_eq!(
            keys,
            [
                "//users",
                "agencies/a1/attached-policies",
                "groups/g1/attached-policies",
                "groups/g1/users",
                "policies/p1/versions"
            ]
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }
}
