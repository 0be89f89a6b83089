//! Interned strings for the low-cardinality facts spans repeat endlessly (service names,
//! namespaces, hosts, methods): a span record carries 4-byte symbols instead of strings.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::LocalKey;

use lasso::{Spur, ThreadedRodeo};

/// A string interned in an [`Interner`]; resolve it with [`Interner::resolve`].
pub type Sym = Spur;

/// Strings each thread remembers before it starts over; bounds the per-thread memory.
const RECENT_CAPACITY: usize = 4096;

/// The longest key a [`ThreadMemo`] keeps, so that its memory stays bounded too.
const MEMO_KEY_LIMIT: usize = 1024;

/// Distinct strings an interner holds by default. Interned strings live as long as the
/// process, so spans inventing names (a cardinality attack, ids in span names) must not
/// grow the table without bound: past the cap, and for absurdly long strings, new strings
/// all become [`OVERFLOW`], which shows up (as a node, a method) instead of memory growing.
pub const DEFAULT_MAX_STRINGS: usize = 1 << 20;
/// The longest string interned as itself.
pub const MAX_STRING_LEN: usize = 4096;
/// What strings past the caps become.
pub const OVERFLOW: &str = "<overflow>";

/// A shared, thread-safe string interner. Cloning is cheap and shares the table.
#[derive(Clone)]
pub struct Interner {
    table: Arc<ThreadedRodeo>,
    /// Tells apart interners for the per-thread cache (an address could be reused).
    id: u64,
    max_strings: usize,
    /// Strings turned into [`OVERFLOW`].
    overflowed: Arc<AtomicU64>,
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

/// Facts computed from a byte string and interned in one [`Interner`] (a parsed cluster
/// name, a workload), remembered by each thread across resources and requests: a batch of
/// many small resources repeats them from one resource to the next. Bounded like [`Recent`].
#[derive(Debug)]
pub(crate) struct ThreadMemo<T> {
    interner: u64,
    entries: HashMap<Box<[u8]>, T, ahash::RandomState>,
}

impl<T> Default for ThreadMemo<T> {
    fn default() -> Self {
        Self {
            interner: 0,
            entries: HashMap::default(),
        }
    }
}

impl Default for Interner {
    fn default() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            table: Arc::default(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            max_strings: DEFAULT_MAX_STRINGS,
            overflowed: Arc::default(),
        }
    }
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }

    /// An interner holding at most `max_strings` distinct strings (then [`OVERFLOW`]).
    pub fn with_max_strings(max_strings: usize) -> Self {
        Self {
            max_strings,
            ..Self::default()
        }
    }

    /// Strings that became [`OVERFLOW`] because a cap was reached.
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// The table's symbol for `s`, within the caps.
    fn intern_capped(&self, s: &str) -> Sym {
        if let Some(sym) = self.table.get(s) {
            return sym;
        }
        // The length check and the insert are not one step: concurrent threads may overshoot
        // the cap by a few strings, never by an unbounded number.
        if s.len() > MAX_STRING_LEN || self.table.len() >= self.max_strings {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return self.table.get_or_intern_static(OVERFLOW);
        }
        self.table.get_or_intern(s)
    }

    pub fn intern(&self, s: &str) -> Sym {
        RECENT.with(|recent| {
            let Ok(mut recent) = recent.try_borrow_mut() else {
                return self.intern_capped(s);
            };
            if recent.interner != self.id {
                recent.symbols.clear();
                recent.interner = self.id;
            }
            if let Some(&sym) = recent.symbols.get(s) {
                return sym;
            }
            let sym = self.intern_capped(s);
            if s.len() > MAX_STRING_LEN {
                // Not remembered: the cache's memory stays bounded too.
                return sym;
            }
            if recent.symbols.len() >= RECENT_CAPACITY {
                recent.symbols.clear();
            }
            recent.symbols.insert(s.into(), sym);
            sym
        })
    }

    /// `compute()`, remembered under `key` in this thread's `memo` of facts interned here.
    pub(crate) fn memoized<T: Copy>(
        &self,
        memo: &'static LocalKey<RefCell<ThreadMemo<T>>>,
        key: &[u8],
        compute: impl FnOnce() -> T,
    ) -> T {
        // Real keys are short; a huge one is not worth keeping (nor its memory).
        if key.len() > MEMO_KEY_LIMIT {
            return compute();
        }
        memo.with(|memo| {
            let Ok(mut memo) = memo.try_borrow_mut() else {
                return compute();
            };
            if memo.interner != self.id {
                memo.entries.clear();
                memo.interner = self.id;
            }
            if let Some(&value) = memo.entries.get(key) {
                return value;
            }
            let value = compute();
            if memo.entries.len() >= RECENT_CAPACITY {
                memo.entries.clear();
            }
            memo.entries.insert(key.into(), value);
            value
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
    fn past_the_caps_new_strings_become_overflow_and_old_ones_stay() {
        let interner = Interner::with_max_strings(3);
        let a = interner.intern("a");
        interner.intern("b");
        interner.intern("c");
        let d = interner.intern("d");
        assert_eq!(interner.resolve(d), OVERFLOW);
        assert_eq!(interner.intern("a"), a, "known strings keep their symbol");
        assert_eq!(interner.resolve(a), "a");
        assert_eq!(
            interner.intern("e"),
            d,
            "every new string is the same overflow"
        );
        let fresh = Interner::new();
        let long = "x".repeat(MAX_STRING_LEN + 1);
        assert_eq!(fresh.resolve(fresh.intern(&long)), OVERFLOW);
        assert_eq!((interner.overflowed(), fresh.overflowed()), (2, 1));
        assert_eq!(interner.len(), 4, "a, b, c and the overflow");
    }

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
    fn thread_memos_remember_per_interner() {
        thread_local! {
            static LENGTHS: RefCell<ThreadMemo<Sym>> = RefCell::default();
        }
        let (first, second) = (Interner::new(), Interner::new());
        let computed = std::cell::Cell::new(0);
        let sym = |interner: &Interner, key: &str| {
            interner.memoized(&LENGTHS, key.as_bytes(), || {
                computed.set(computed.get() + 1);
                interner.intern(key)
            })
        };
        let a = sym(&first, "reviews");
        assert_eq!(sym(&first, "reviews"), a);
        assert_eq!(computed.get(), 1);
        let b = sym(&second, "reviews");
        assert_eq!(second.resolve(b), "reviews");
        assert_eq!(computed.get(), 2);
        let long = "x".repeat(MEMO_KEY_LIMIT + 1);
        sym(&second, &long);
        sym(&second, &long);
        assert_eq!(computed.get(), 4, "over-long keys are not kept");
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
