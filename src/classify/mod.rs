//! Request classification: a request target is normalised the way the servers behind the
//! gateway see it ([`Scratch::normalize`]) and looked up in a segment trie ([`Matcher`]).

mod matcher;
mod target;

pub use matcher::Matcher;
pub use target::{Normalization, Scratch};

use crate::catalog::RouteId;

/// The result of classifying one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    /// The catalog route, or `None`: not in the catalog (no fine-grained permission needed).
    pub route: Option<RouteId>,
    /// What normalisation had to do to the target; dot segments are worth a look.
    pub normalized: Normalization,
}
