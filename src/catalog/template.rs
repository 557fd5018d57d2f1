//! Path templates as the provider writes them: `/v2/orders/{order_id}` and `/autorenew/**`.
//!
//! A template is a list of segments. `{name}` matches exactly one non-empty segment and `**`
//! matches one or more trailing segments. Literal segments are kept byte for byte, so the
//! provider's misspellings (`suscriptions`) stay part of the route.

use std::cmp::Ordering;
use std::fmt;

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Matches this exact (decoded) segment, case-sensitively.
    Literal(Box<str>),
    /// `{name}`: matches any one non-empty segment.
    Param(Box<str>),
    /// `**`: matches one or more trailing segments; only allowed last.
    Glob,
}

impl Segment {
    /// Rank used for specificity: a literal beats a parameter, a parameter beats `**`.
    pub fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 2,
            Segment::Param(_) => 1,
            Segment::Glob => 0,
        }
    }
}

/// A parsed path template, keeping the text it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    raw: String,
    segments: Vec<Segment>,
}

/// Why a path template was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template must start with '/', got {0:?}")]
    NotAbsolute(String),
    #[error("empty segment (repeated or trailing '/') in {0:?}")]
    EmptySegment(String),
    #[error(
        "unbalanced braces in segment {segment:?} of {template:?}: expected '{{name}}' as the whole segment"
    )]
    UnbalancedBraces { template: String, segment: String },
    #[error("empty parameter name '{{}}' in {0:?}")]
    EmptyParam(String),
    #[error("'**' must be the last segment in {0:?}")]
    GlobNotLast(String),
    #[error(
        "unsupported wildcard in segment {segment:?} of {template:?}: expected '**' as the whole last segment"
    )]
    Wildcard { template: String, segment: String },
}

impl Template {
    /// Parses a template such as `/v1.0/{domain_id}/payments/intl-invoices`.
    pub fn parse(raw: &str) -> Result<Template, TemplateError> {
        let Some(rest) = raw.strip_prefix('/') else {
            return Err(TemplateError::NotAbsolute(raw.to_owned()));
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match *part {
                "" => return Err(TemplateError::EmptySegment(raw.to_owned())),
                "**" if i + 1 != parts.len() => {
                    return Err(TemplateError::GlobNotLast(raw.to_owned()));
                }
                "**" => Segment::Glob,
                p if p.starts_with('{') || p.ends_with('}') => {
                    let name = p
                        .strip_prefix('{')
                        .and_then(|p| p.strip_suffix('}'))
                        .filter(|n| !n.contains(['{', '}']))
                        .ok_or_else(|| TemplateError::UnbalancedBraces {
                            template: raw.to_owned(),
                            segment: p.to_owned(),
                        })?;
                    if name.is_empty() {
                        return Err(TemplateError::EmptyParam(raw.to_owned()));
                    }
                    Segment::Param(name.into())
                }
                p if p.contains(['{', '}']) => {
                    return Err(TemplateError::UnbalancedBraces {
                        template: raw.to_owned(),
                        segment: p.to_owned(),
                    });
                }
                p if p.contains('*') => {
                    return Err(TemplateError::Wildcard {
                        template: raw.to_owned(),
                        segment: p.to_owned(),
                    });
                }
                p => Segment::Literal(p.into()),
            };
            segments.push(segment);
        }
        Ok(Template {
            raw: raw.to_owned(),
            segments,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The literal segments before the first parameter or glob, e.g. `["v2", "orders"]`.
    pub fn literal_prefix(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map_while(|s| match s {
            Segment::Literal(l) => Some(&**l),
            _ => None,
        })
    }

    /// True when both templates have the same shape: the same literals and the same kinds of
    /// wildcard in the same places, whatever the parameters are called. Two such templates
    /// for one method match exactly the same requests, so neither can be preferred.
    pub fn same_shape(&self, other: &Template) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|(a, b)| match (a, b) {
                    (Segment::Literal(x), Segment::Literal(y)) => x == y,
                    (Segment::Param(_), Segment::Param(_)) | (Segment::Glob, Segment::Glob) => true,
                    _ => false,
                })
    }

    /// Does this template match these (normalised, decoded) request segments?
    ///
    /// This is the plain definition, used to validate catalogs and as the oracle the fast
    /// matcher is tested against; the hot path uses the classifier's trie.
    pub fn matches<S: AsRef<[u8]>>(&self, request: &[S]) -> bool {
        let mut i = 0;
        for seg in &self.segments {
            match seg {
                Segment::Glob => return i < request.len(),
                Segment::Param(_) => {
                    if request.get(i).is_none_or(|s| s.as_ref().is_empty()) {
                        return false;
                    }
                }
                Segment::Literal(l) => {
                    if request.get(i).map(AsRef::as_ref) != Some(l.as_bytes()) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == request.len()
    }

    /// Orders two templates that match the same request: the more specific one is greater.
    /// Segments compare left to right, a literal beating a parameter beating `**`.
    pub fn specificity_cmp(&self, other: &Template) -> Ordering {
        for (a, b) in self.segments.iter().zip(&other.segments) {
            match a.rank().cmp(&b.rank()) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        self.segments.len().cmp(&other.segments.len())
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_segment_kinds() {
        let t = Template::parse("/v1.0/{domain_id}/autorenew/**").unwrap();
        assert_eq!(
            t.segments(),
            &[
                Segment::Literal("v1.0".into()),
                Segment::Param("domain_id".into()),
                Segment::Literal("autorenew".into()),
                Segment::Glob,
            ]
        );
        assert_eq!(t.literal_prefix().collect::<Vec<_>>(), ["v1.0"]);
        assert_eq!(t.as_str(), "/v1.0/{domain_id}/autorenew/**");
    }

    const BAD: &[(&str, &str)] = &[
        ("v2/orders", "must start with '/'"),
        ("/v2//orders", "empty segment"),
        ("/v2/orders/", "empty segment"),
        ("/v2/{order_id", "unbalanced braces"),
        ("/v2/order_id}", "unbalanced braces"),
        ("/v2/{a}{b}", "unbalanced braces"),
        ("/v2/x{a}", "unbalanced braces"),
        ("/v2/{}", "empty parameter"),
        ("/v2/**/x", "'**' must be the last"),
        ("/v2/*", "unsupported wildcard"),
        ("/v2/a*b", "unsupported wildcard"),
    ];

    #[test]
    fn rejects_malformed_templates() {
        for (raw, want) in BAD {
            let err = Template::parse(raw).unwrap_err().to_string();
            assert!(err.contains(want), "{raw}: {err}");
        }
    }

    #[test]
    fn glob_needs_at_least_one_segment() {
        let t = Template::parse("/a/**").unwrap();
        assert!(!t.matches(&["a"]));
        assert!(t.matches(&["a", "b"]));
        assert!(t.matches(&["a", "b", "c"]));
    }

    #[test]
    fn specificity_prefers_literal_then_param_then_glob() {
        let lit = Template::parse("/a/b").unwrap();
        let par = Template::parse("/a/{x}").unwrap();
        let glob = Template::parse("/a/**").unwrap();
        assert_eq!(lit.specificity_cmp(&par), Ordering::Greater);
        assert_eq!(par.specificity_cmp(&glob), Ordering::Greater);
        assert!(par.same_shape(&Template::parse("/a/{y}").unwrap()));
        assert!(!par.same_shape(&lit));
    }
}
