//! Sliding windows over time buckets: memory per tracked thing (an edge, the pairing counters)
//! is a fixed number of buckets, not a list of events.
//!
//! Data lands in 10 s buckets; the last 7 of them are kept (a full minute plus the bucket
//! being filled). When a 10 s bucket is pushed out it is merged into its minute's bucket, and
//! the last 16 minutes are kept (15 full minutes plus the current one). A query for the last
//! `W` seconds includes every bucket that starts at or after `now - W` rounded up to the
//! query's grid (10 s for windows up to a minute, 1 min beyond), so each event is counted
//! once, whichever bucket holds it, and rates divide by the time the grid actually covers.
//! The whole run is one more bucket: fine buckets are merged into it when they leave the fine
//! ring, and a whole-run query adds the fine buckets still in the ring, so an event costs one
//! add (a latency sketch add is a logarithm: worth not doing twice per event).

use std::time::Duration;

/// Width of a fine bucket.
pub const FINE_MS: u64 = 10_000;
/// Width of a coarse bucket.
pub const COARSE_MS: u64 = 60_000;
const FINE_SLOTS: usize = 7;
const COARSE_SLOTS: usize = 16;
/// The longest window the buckets can answer.
pub const LONGEST: Duration = Duration::from_secs(15 * 60);

/// What a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `Duration` (clamped to 15 minutes, the longest kept).
    Last(Duration),
    /// Everything since the analyzer started (for offline graphs: the whole input).
    Whole,
}

impl Window {
    pub const ONE_MINUTE: Self = Self::Last(Duration::from_secs(60));
    pub const FIVE_MINUTES: Self = Self::Last(Duration::from_secs(5 * 60));
    pub const FIFTEEN_MINUTES: Self = Self::Last(LONGEST);

    /// The window's length, clamped to what is kept; `None` for [`Window::Whole`].
    pub fn length(self) -> Option<Duration> {
        match self {
            Self::Last(d) => Some(d.min(LONGEST)),
            Self::Whole => None,
        }
    }
}

/// Data a bucket holds: mergeable.
pub trait Bucket: Default {
    fn merge_from(&mut self, other: &Self);
}

#[derive(Debug, Default)]
struct Slot<T> {
    /// Bucket start / width; `None` while the slot was never used.
    index: Option<u64>,
    data: T,
}

/// One thing's data over time: fine and coarse rings plus the whole run.
#[derive(Debug)]
pub struct Ring<T> {
    fine: [Slot<T>; FINE_SLOTS],
    coarse: [Slot<T>; COARSE_SLOTS],
    whole: T,
}

impl<T: Bucket> Default for Ring<T> {
    fn default() -> Self {
        Self {
            fine: std::array::from_fn(|_| Slot::default()),
            coarse: std::array::from_fn(|_| Slot::default()),
            whole: T::default(),
        }
    }
}

/// Which buckets a query includes: those starting at or after `from_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from_ms: u64,
    pub whole: bool,
}

impl Span {
    /// The bucket grid boundary for `window` at `now_ms`.
    pub fn of(window: Window, now_ms: u64) -> Self {
        match window.length() {
            None => Self {
                from_ms: 0,
                whole: true,
            },
            Some(length) => {
                let length = u64::try_from(length.as_millis()).unwrap_or(u64::MAX);
                let grid = if length <= COARSE_MS {
                    FINE_MS
                } else {
                    COARSE_MS
                };
                let start = now_ms.saturating_sub(length);
                Self {
                    from_ms: start.div_ceil(grid).saturating_mul(grid),
                    whole: false,
                }
            }
        }
    }
}

impl<T: Bucket> Ring<T> {
    /// Adds to the buckets of time `at_ms`, through `add`.
    pub fn record(&mut self, at_ms: u64, mut add: impl FnMut(&mut T)) {
        let fine_index = at_ms / FINE_MS;
        let slot = &mut self.fine[(fine_index % FINE_SLOTS as u64) as usize];
        match slot.index {
            Some(held) if held == fine_index => add(&mut slot.data),
            Some(held) if held > fine_index => {
                // Older than the fine ring keeps: straight into its minute and the whole run.
                add(&mut self.whole);
                Self::add_coarse(&mut self.coarse, at_ms / COARSE_MS, |data| add(data));
            }
            held => {
                let old = std::mem::take(&mut slot.data);
                slot.index = Some(fine_index);
                add(&mut slot.data);
                if let Some(held) = held {
                    self.whole.merge_from(&old);
                    let minute = held * FINE_MS / COARSE_MS;
                    Self::add_coarse(&mut self.coarse, minute, |data| data.merge_from(&old));
                }
            }
        }
    }

    fn add_coarse(coarse: &mut [Slot<T>; COARSE_SLOTS], minute: u64, add: impl FnOnce(&mut T)) {
        let slot = &mut coarse[(minute % COARSE_SLOTS as u64) as usize];
        match slot.index {
            Some(held) if held == minute => add(&mut slot.data),
            // Older than every window: only the whole run keeps it.
            Some(held) if held > minute => {}
            _ => {
                slot.index = Some(minute);
                slot.data = T::default();
                add(&mut slot.data);
            }
        }
    }

    /// Calls `visit` on every bucket the span includes (each event in exactly one of them).
    pub fn visit(&self, span: Span, now_ms: u64, mut visit: impl FnMut(&T)) {
        if span.whole {
            visit(&self.whole);
            for slot in &self.fine {
                if slot.index.is_some() {
                    visit(&slot.data);
                }
            }
            return;
        }
        let fine = self.fine.iter().map(|s| (s, FINE_MS));
        let coarse = self.coarse.iter().map(|s| (s, COARSE_MS));
        for (slot, width) in fine.chain(coarse) {
            let Some(index) = slot.index else { continue };
            let start = index.saturating_mul(width);
            if start >= span.from_ms && start <= now_ms {
                visit(&slot.data);
            }
        }
    }

    /// The whole run merged into one bucket.
    pub fn whole(&self) -> T {
        let mut whole = T::default();
        self.visit(
            Span {
                from_ms: 0,
                whole: true,
            },
            0,
            |b| whole.merge_from(b),
        );
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Clone, Copy, PartialEq)]
    struct Count(u64);
    impl Bucket for Count {
        fn merge_from(&mut self, other: &Self) {
            self.0 += other.0;
        }
    }

    fn total(ring: &Ring<Count>, window: Window, now: u64) -> u64 {
        let mut n = 0;
        ring.visit(Span::of(window, now), now, |c| n += c.0);
        n
    }

    #[test]
    fn events_leave_the_minute_and_stay_in_longer_windows() {
        let mut ring = Ring::<Count>::default();
        ring.record(0, |c| c.0 += 1);
        assert_eq!(total(&ring, Window::ONE_MINUTE, 59_999), 1);
        assert_eq!(total(&ring, Window::ONE_MINUTE, 60_000), 1);
        assert_eq!(total(&ring, Window::ONE_MINUTE, 60_001), 0);
        // Push the first bucket out of the fine ring into its minute.
        for t in (10_000..200_000).step_by(10_000) {
            ring.record(t, |c| c.0 += 1);
        }
        assert_eq!(total(&ring, Window::FIVE_MINUTES, 200_000), 20);
        assert_eq!(total(&ring, Window::Whole, 200_000), 20);
        assert_eq!(total(&ring, Window::FIFTEEN_MINUTES, 900_000), 20);
        // 15 minutes later only the events from 120 s on are left (the 1 min grid).
        assert_eq!(total(&ring, Window::FIFTEEN_MINUTES, 960_001), 8);
        assert_eq!(total(&ring, Window::FIFTEEN_MINUTES, 1_200_000), 0);
        assert_eq!(total(&ring, Window::Whole, 10_000_000), 20);
    }

    #[test]
    fn late_events_land_in_their_minute_or_only_the_whole_run() {
        let mut ring = Ring::<Count>::default();
        ring.record(300_000, |c| c.0 += 1);
        ring.record(100_000, |c| c.0 += 1); // fine slot free: kept
        ring.record(370_000, |c| c.0 += 1); // same slot as 300 s: 300 s moves to its minute
        ring.record(230_000, |c| c.0 += 1); // fine slot held by newer: goes to minute 3
        assert_eq!(total(&ring, Window::FIVE_MINUTES, 400_000), 3);
        assert_eq!(total(&ring, Window::Whole, 400_000), 4);
    }

    #[test]
    fn the_grid_rounds_the_window_start_up() {
        assert_eq!(Span::of(Window::ONE_MINUTE, 65_000).from_ms, 10_000);
        assert_eq!(Span::of(Window::FIVE_MINUTES, 365_000).from_ms, 120_000);
        assert_eq!(Span::of(Window::ONE_MINUTE, 5_000).from_ms, 0);
        assert_eq!(
            Window::Last(Duration::from_secs(3600)).length(),
            Some(LONGEST)
        );
    }
}
