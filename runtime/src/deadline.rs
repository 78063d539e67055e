//! Call deadlines without a timer per call.
//!
//! Arming a tokio timer for every call costs more than the rest of a local
//! round trip. Instead each system keeps a coarse clock, counted in ticks of
//! [`TICK`], and one sweeper task that runs only while some mailbox holds
//! calls. A call's deadline is a tick number; the mailbox it waits in is
//! registered with the sweeper (once, until it has no calls left), and every
//! tick the sweeper fails the calls whose deadline has passed: queued ones
//! are removed and rejected, the one being handled gets `Timeout` while its
//! handler runs on. A call times out between its timeout and about one tick
//! later, never earlier.
//!
//! The clock only advances while the sweeper runs, which is whenever a call
//! is waiting; that is the only time a deadline is read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::MissedTickBehavior;

/// The sweeper's period, and the precision of call deadlines.
pub(crate) const TICK: Duration = Duration::from_millis(2);

/// A mailbox that holds calls with deadlines.
pub(crate) trait Watched: Send + Sync {
    /// Fails the calls whose deadline is at or before `now`; returns whether
    /// calls are still waiting.
    fn sweep(&self, now: u64) -> bool;
}

#[derive(Default)]
pub(crate) struct Deadlines {
    now: AtomicU64,
    running: AtomicBool,
    watched: Mutex<Vec<Weak<dyn Watched>>>,
}

impl Deadlines {
    /// The current tick.
    pub(crate) fn now(&self) -> u64 {
        self.now.load(Ordering::Acquire)
    }

    /// The tick at which a call started now with `timeout` expires: never
    /// before `timeout` has passed (the current tick may be nearly over, so
    /// one tick is added), at most about a tick after.
    pub(crate) fn deadline(&self, timeout: Duration) -> u64 {
        let ticks = u64::try_from(timeout.as_nanos().div_ceil(TICK.as_nanos())).unwrap_or(u64::MAX);
        self.now().saturating_add(ticks).saturating_add(1)
    }

    pub(crate) fn expired(&self, deadline: u64) -> bool {
        deadline <= self.now()
    }

    /// Watches `mailbox` until it has no calls left. Returns the sweeper task
    /// to spawn when none is running.
    pub(crate) fn watch(self: &Arc<Self>, mailbox: Weak<dyn Watched>) -> Option<impl Future<Output = ()> + use<>> {
        self.watched.lock().unwrap_or_else(|p| p.into_inner()).push(mailbox);
        if self.running.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(sweeper(Arc::downgrade(self)))
    }

    /// One tick: advance the clock, sweep every watched mailbox, drop those
    /// without calls. Returns whether any is still watched.
    fn tick(&self) -> bool {
        let now = self.now.fetch_add(1, Ordering::AcqRel) + 1;
        let watched = std::mem::take(&mut *self.watched.lock().unwrap_or_else(|p| p.into_inner()));
        let still: Vec<_> =
            watched.into_iter().filter(|weak| weak.upgrade().is_some_and(|mailbox| mailbox.sweep(now))).collect();
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        watched.extend(still);
        if watched.is_empty() {
            // Registrations after this point start a new sweeper.
            self.running.store(false, Ordering::Release);
            return false;
        }
        true
    }
}

async fn sweeper(deadlines: Weak<Deadlines>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        match deadlines.upgrade() {
            Some(deadlines) if deadlines.tick() => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_never_before_its_timeout() {
        let deadlines = Deadlines::default();
        // Whatever part of the current tick is left, `timeout` spans at
        // least `ticks` whole ticks after it.
        assert_eq!(deadlines.deadline(Duration::ZERO), 1);
        assert_eq!(deadlines.deadline(TICK), 2);
        assert_eq!(deadlines.deadline(TICK + Duration::from_nanos(1)), 3);
        deadlines.now.store(10, Ordering::Release);
        assert_eq!(deadlines.deadline(TICK * 5), 16);
        assert!(!deadlines.expired(11));
        assert!(deadlines.expired(10));
        assert_eq!(deadlines.deadline(Duration::MAX), u64::MAX);
    }
}
