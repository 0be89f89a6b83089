//! Path templating: ids in request paths collapse to `{id}` so an edge's path set stays small
//! (`/reviews/0` → `/reviews/{id}`), and a bounded table of templates so the hot path carries a
//! 4-byte [`PathId`] instead of a string.

use std::borrow::Cow;
use std::collections::HashMap;

/// What an id segment becomes.
pub const ID: &str = "{id}";

/// Hex runs at least this long are ids (`5f3a…`), shorter ones may be words (`cafe`, `add`).
const MIN_HEX_ID: usize = 8;
/// Opaque tokens (base64, base64url, ULIDs…) at least this long are ids.
const MIN_TOKEN_ID: usize = 16;

/// The path with every id-looking segment replaced by `{id}`; borrowed when nothing changed.
pub fn template(path: &str) -> Cow<'_, str> {
    if !path.split('/').any(is_id) {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(if is_id(segment) { ID } else { segment });
    }
    Cow::Owned(out)
}

/// Whether one path segment is an identifier rather than a route word.
pub fn is_id(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        return true;
    }
    let has_digit = bytes.iter().any(u8::is_ascii_digit);
    if is_uuid(bytes) {
        return true;
    }
    // Words never mix in digits this way; ids (hashes, object ids) always do.
    if bytes.len() >= MIN_HEX_ID && has_digit && bytes.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    bytes.len() >= MIN_TOKEN_ID
        && has_digit
        && bytes.iter().any(u8::is_ascii_alphabetic)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'=' | b'.'))
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Longer paths get no template (and count as overflow): real routes are far shorter.
pub const MAX_PATH_LEN: usize = 2048;

/// A template in a [`PathTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId(u32);

/// Raw paths remembered with their template, direct-mapped: most traffic repeats a modest set
/// of paths, and a hit skips templating and the template lookup.
const RAW_CACHE_SLOTS: usize = 4096;

/// Every distinct template seen, up to a cap: past it new templates are not recorded (and
/// counted), so hostile or id-laden paths cannot grow memory without bound.
#[derive(Debug)]
pub struct PathTable {
    ids: HashMap<Box<str>, PathId, ahash::RandomState>,
    templates: Vec<Box<str>>,
    /// The first raw path seen for each template: a concrete path to check policies with.
    examples: Vec<Box<str>>,
    cap: usize,
    overflow: u64,
    raw: Vec<Option<(Box<str>, PathId)>>,
    hasher: ahash::RandomState,
}

impl PathTable {
    pub fn new(cap: usize) -> Self {
        Self {
            ids: HashMap::default(),
            templates: Vec::new(),
            examples: Vec::new(),
            cap,
            overflow: 0,
            raw: vec![None; RAW_CACHE_SLOTS],
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
        }
    }

    /// The id of `path`'s template, or `None` when the table is full and it is new, or the
    /// path is longer than [`MAX_PATH_LEN`].
    pub fn intern(&mut self, path: &str) -> Option<PathId> {
        // Templates live as long as the graph: a few hostile 10 MB paths must not pin
        // gigabytes (the table caps how many, this how big).
        if path.len() > MAX_PATH_LEN {
            self.overflow += 1;
            return None;
        }
        let slot = self.hasher.hash_one(path) as usize % RAW_CACHE_SLOTS;
        if let Some(Some((raw, id))) = self.raw.get(slot)
            && **raw == *path
        {
            return Some(*id);
        }
        let id = self.intern_template(path)?;
        if let Some(entry) = self.raw.get_mut(slot) {
            *entry = Some((path.into(), id));
        }
        Some(id)
    }

    fn intern_template(&mut self, path: &str) -> Option<PathId> {
        let template = template(path);
        if let Some(&id) = self.ids.get(template.as_ref()) {
            return Some(id);
        }
        let Ok(index) = u32::try_from(self.templates.len()) else {
            self.overflow += 1;
            return None;
        };
        if self.templates.len() >= self.cap {
            self.overflow += 1;
            return None;
        }
        let id = PathId(index);
        let boxed: Box<str> = template.into();
        self.templates.push(boxed.clone());
        self.examples.push(path.into());
        self.ids.insert(boxed, id);
        Some(id)
    }

    pub fn resolve(&self, id: PathId) -> &str {
        self.templates.get(id.0 as usize).map_or("", |s| s)
    }

    /// The first concrete path seen with `id`'s template (the template itself when it has no
    /// ids in it).
    pub fn example(&self, id: PathId) -> &str {
        self.examples.get(id.0 as usize).map_or("", |s| s)
    }

    /// Paths given no template: the table was full, or the path too long.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_collapse_words_stay() {
        let cases = [
            ("/reviews/0", "/reviews/{id}"),
            ("/productpage", "/productpage"),
            ("/api/v1/users/12345/orders", "/api/v1/users/{id}/orders"),
            ("/o/123e4567-e89b-12d3-a456-426614174000", "/o/{id}"),
            ("/blob/5f3a9c0d2e1b4a77", "/blob/{id}"),
            ("/t/dGhpcyBpcyBhIHRva2VuMTIz", "/t/{id}"),
            ("/static/cafe", "/static/cafe"),
            ("/health-check-endpoint-long", "/health-check-endpoint-long"),
            ("/", "/"),
            ("", ""),
            ("/a//b/", "/a//b/"),
        ];
        for (path, want) in cases {
            assert_eq!(template(path), want, "{path}");
        }
    }

    #[test]
    fn unchanged_paths_are_borrowed() {
        assert!(matches!(template("/productpage"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut table = PathTable::new(2);
        let a = table.intern("/reviews/1");
        assert_eq!(table.intern("/reviews/2"), a);
        assert!(table.intern("/details").is_some());
        assert_eq!(table.intern("/ratings"), None);
        assert_eq!(table.overflow(), 1);
        assert_eq!(table.resolve(a.unwrap_or(PathId(9))), "/reviews/{id}");
    }

    #[test]
    fn absurdly_long_paths_get_no_template() {
        let mut table = PathTable::new(10);
        let long = format!("/{}", "a".repeat(MAX_PATH_LEN));
        assert_eq!(table.intern(&long), None);
        assert_eq!((table.len(), table.overflow()), (0, 1));
        let longest = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
        assert!(table.intern(&longest).is_some());
    }
}
