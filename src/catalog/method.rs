//! HTTP methods a catalog route can name.

use std::fmt;
use std::str::FromStr;

/// The HTTP methods a route may name. Requests with any other method match no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
    Options,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Head,
        Method::Options,
    ];

    /// Parses a method in any letter case, as logs write them (`get`, `GET`, `Get`).
    pub fn from_bytes(b: &[u8]) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().as_bytes().eq_ignore_ascii_case(b))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }

    /// A dense index, for per-method tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a method name that is not an HTTP method a route can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown HTTP method {0:?}: expected one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS")]
pub struct UnknownMethod(pub String);

impl FromStr for Method {
    type Err = UnknownMethod;
    fn from_str(s: &str) -> Result<Method, UnknownMethod> {
        Method::from_bytes(s.as_bytes()).ok_or_else(|| UnknownMethod(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_case_and_rejects_others() {
        assert_eq!(Method::from_bytes(b"get"), Some(Method::Get));
        assert_eq!(Method::from_bytes(b"DeLeTe"), Some(Method::Delete));
        assert_eq!(Method::from_bytes(b"GETS"), None);
        assert_eq!(Method::from_bytes(b""), None);
        assert!("FETCH".parse::<Method>().is_err());
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>(), Ok(m));
            assert_eq!(Method::ALL[m.index()], m);
        }
    }
}
