//! Interned strings for the low-cardinality facts spans repeat endlessly (service names,
//! namespaces, hosts, methods): a span record carries 4-byte symbols instead of strings.

use std::fmt;
use std::sync::Arc;

use lasso::{Spur, ThreadedRodeo};

/// A string interned in an [`Interner`]; resolve it with [`Interner::resolve`].
pub type Sym = Spur;

/// A shared, thread-safe string interner. Cloning is cheap and shares the table.
#[derive(Clone, Default)]
pub struct Interner {
    table: Arc<ThreadedRodeo>,
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn intern(&self, s: &str) -> Sym {
        self.table.get_or_intern(s)
    }

    pub fn resolve(&self, sym: Sym) -> &str {
        self.table.resolve(&sym)
    }

    /// The symbol of `s` if it was ever interned, without interning it.
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.table.get(s)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

impl fmt::Debug for Interner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interner")
            .field("strings", &self.len())
            .finish()
    }
}
