//! Interned strings: the small dense ids aggregate rows are keyed by.

use foldhash::HashMap;

/// Strings to dense ids, per worker. Lookups by bytes never allocate; only a new string does.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    pub(super) ids: HashMap<Box<[u8]>, u32>,
    pub(super) strings: Vec<Box<[u8]>>,
    /// The id of the empty string, once interned.
    empty: Option<u32>,
}

impl Interner {
    /// Most error codes and response sources are empty: their id is found without a hash
    /// lookup, inline (two calls a request, when the check sat behind the call).
    #[inline]
    pub fn intern(&mut self, s: &[u8]) -> u32 {
        if s.is_empty()
            && let Some(id) = self.empty
        {
            return id;
        }
        self.intern_looked_up(s)
    }

    #[inline(never)]
    fn intern_looked_up(&mut self, s: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        self.ids.insert(s.into(), id);
        if s.is_empty() {
            self.empty = Some(id);
        }
        id
    }

    pub fn get(&self, id: u32) -> &[u8] {
        &self.strings[id as usize]
    }

    /// The id of a string interned before, if it was.
    pub fn find(&self, s: &[u8]) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// The string of an id, lossily decoded for reports.
    pub fn text(&self, id: u32) -> String {
        String::from_utf8_lossy(self.get(id)).into_owned()
    }
}
