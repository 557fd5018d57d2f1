//! Request classification: a request target is normalised the way the servers behind the
//! gateway see it ([`Scratch::normalize`]) and looked up in a segment trie ([`Matcher`]).

mod matcher;
mod memo;
mod target;

pub use matcher::Matcher;
pub use memo::Memo;
pub use target::{Normalization, Scratch};

use crate::catalog::{Catalog, Method, RouteId};

/// A catalog's routes compiled for classifying requests.
#[derive(Debug, Clone)]
pub struct Classifier {
    matcher: Matcher,
}

impl Classifier {
    pub fn new(catalog: &Catalog) -> Classifier {
        Classifier {
            matcher: Matcher::new(catalog.routes()),
        }
    }

    /// Classifies one request. Allocation-free once `scratch` has grown to the longest target.
    pub fn classify(&self, method: &[u8], target: &[u8], scratch: &mut Scratch) -> Classified {
        let normalized = scratch.normalize(target);
        let route = Method::from_bytes(method).and_then(|m| self.matcher.find(m, scratch));
        Classified { route, normalized }
    }
}

/// The result of classifying one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    /// The catalog route, or `None`: not in the catalog (no fine-grained permission needed).
    pub route: Option<RouteId>,
    /// What normalisation had to do to the target; dot segments are worth a look.
    pub normalized: Normalization,
}
