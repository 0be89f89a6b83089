//! Interned strings for the low-cardinality facts spans repeat endlessly (service names,
//! namespaces, hosts, methods): a span record carries 4-byte symbols instead of strings.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lasso::{Spur, ThreadedRodeo};

/// A string interned in an [`Interner`]; resolve it with [`Interner::resolve`].
pub type Sym = Spur;

/// Strings each thread remembers before it starts over; bounds the per-thread memory.
const RECENT_CAPACITY: usize = 4096;

/// A shared, thread-safe string interner. Cloning is cheap and shares the table.
#[derive(Clone)]
pub struct Interner {
    table: Arc<ThreadedRodeo>,
    /// Tells apart interners for the per-thread cache (an address could be reused).
    id: u64,
}

/// Each thread's recently interned strings. The shared table takes a lock per lookup; on the
/// ingest path the same few hundred strings come back span after span, so a lock-free
/// thread-local hit saves most of that.
#[derive(Default)]
struct Recent {
    interner: u64,
    symbols: HashMap<Box<str>, Sym, ahash::RandomState>,
}

thread_local! {
    static RECENT: RefCell<Recent> = RefCell::new(Recent::default());
}

impl Default for Interner {
    fn default() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            table: Arc::default(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn intern(&self, s: &str) -> Sym {
        RECENT.with(|recent| {
            let Ok(mut recent) = recent.try_borrow_mut() else {
                return self.table.get_or_intern(s);
            };
            if recent.interner != self.id {
                recent.symbols.clear();
                recent.interner = self.id;
            }
            if let Some(&sym) = recent.symbols.get(s) {
                return sym;
            }
            let sym = self.table.get_or_intern(s);
            if recent.symbols.len() >= RECENT_CAPACITY {
                recent.symbols.clear();
            }
            recent.symbols.insert(s.into(), sym);
            sym
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interners_never_share_symbols_through_the_thread_cache() {
        let first = Interner::new();
        let a = first.intern("reviews");
        assert_eq!(first.intern("reviews"), a);
        let second = Interner::new();
        second.intern("ratings");
        let b = second.intern("reviews");
        assert_eq!(second.resolve(b), "reviews");
        assert_eq!(first.resolve(first.intern("reviews")), "reviews");
        assert_eq!(first.len(), 1);
        assert_eq!(second.len(), 2);
    }

    #[test]
    fn the_thread_cache_stays_bounded_and_correct() {
        let interner = Interner::new();
        let symbols: Vec<Sym> = (0..RECENT_CAPACITY * 2 + 3)
            .map(|i| interner.intern(&format!("s{i}")))
            .collect();
        for (i, sym) in symbols.iter().enumerate() {
            assert_eq!(interner.resolve(*sym), format!("s{i}"));
            assert_eq!(interner.intern(&format!("s{i}")), *sym);
        }
        RECENT.with(|recent| assert!(recent.borrow().symbols.len() <= RECENT_CAPACITY));
    }
}
