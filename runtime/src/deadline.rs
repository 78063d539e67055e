//! Call deadlines without a timer per call.
//!
//! Arming a tokio timer for every call costs more than the rest of a local
//! round trip. Instead each system keeps a coarse clock, counted in ticks of
//! [`TICK`], and one sweeper task that runs only while some mailbox holds
//! calls. A call's deadline is a tick number; the mailbox it waits in is
//! registered with the sweeper (once, until it has no calls left), and every
//! tick the sweeper fails the calls whose deadline has passed: queued ones
//! are removed and rejected, the one being handled gets `Timeout` while its
//! handler runs on. Deadlines are therefore precise to one tick.
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

    /// The tick at which a call started now with `timeout` expires.
    pub(crate) fn deadline(&self, timeout: Duration) -> u64 {
        let ticks = timeout.as_nanos().div_ceil(TICK.as_nanos()).max(1);
        self.now().saturating_add(u64::try_from(ticks).unwrap_or(u64::MAX))
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
