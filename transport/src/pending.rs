//! The calls a connection waits on, keyed by request id, with no clock of
//! its own: the driver says what time it is.
//!
//! A reply completes its call; a deadline that passes expires it; losing the
//! connection fails every call at once. Each call leaves the table exactly
//! once, whichever comes first, so a late reply to an expired call is
//! recognised as such and dropped.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

/// Calls in flight on one connection; `W` is whatever wakes the caller.
#[derive(Debug)]
pub struct Pending<W> {
    calls: HashMap<u64, (Instant, W)>,
    /// Every call's deadline, soonest first.
    deadlines: BTreeSet<(Instant, u64)>,
    next_id: u64,
}

impl<W> Default for Pending<W> {
    fn default() -> Self {
        Pending { calls: HashMap::new(), deadlines: BTreeSet::new(), next_id: 1 }
    }
}

impl<W> Pending<W> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a call due by `deadline`; returns its request id (never 0).
    pub fn insert(&mut self, deadline: Instant, waiter: W) -> u64 {
        let id = self.next_id;
        // Ids are never reused within a connection: 2^64 calls do not happen.
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.calls.insert(id, (deadline, waiter));
        self.deadlines.insert((deadline, id));
        id
    }

    /// The call that `id` answers, if it is still waiting.
    pub fn complete(&mut self, id: u64) -> Option<W> {
        let (deadline, waiter) = self.calls.remove(&id)?;
        self.deadlines.remove(&(deadline, id));
        Some(waiter)
    }

    /// Takes every call whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<W> {
        let mut expired = Vec::new();
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some((_, waiter)) = self.calls.remove(&id) {
                expired.push(waiter);
            }
        }
        expired
    }

    /// When the soonest deadline falls, if any call waits.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// Takes every call: the connection is gone.
    pub fn drain(&mut self) -> Vec<W> {
        self.deadlines.clear();
        self.calls.drain().map(|(_, (_, waiter))| waiter).collect()
    }

    /// How many calls wait.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call waits.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_reply_completes_its_call_once() {
        let start = Instant::now();
        let mut pending = Pending::new();
        let a = pending.insert(start + ms(100), "a");
        let b = pending.insert(start + ms(50), "b");
        assert_ne!(a, b);
        assert_ne!(a, 0);
        assert_eq!(pending.complete(a), Some("a"));
        assert_eq!(pending.complete(a), None, "a second reply finds nothing");
        assert_eq!(pending.next_deadline(), Some(start + ms(50)));
        assert_eq!(pending.len(), 1);
    }

    #[test]
    fn deadlines_expire_in_order_and_late_replies_are_dropped() {
        let start = Instant::now();
        let mut pending = Pending::new();
        let late = pending.insert(start + ms(30), "30");
        pending.insert(start + ms(10), "10");
        pending.insert(start + ms(20), "20");
        assert!(pending.expire(start + ms(5)).is_empty());
        assert_eq!(pending.expire(start + ms(20)), ["10", "20"]);
        assert_eq!(pending.next_deadline(), Some(start + ms(30)));
        assert_eq!(pending.expire(start + ms(31)), ["30"]);
        assert_eq!(pending.complete(late), None, "the reply came after the deadline");
        assert!(pending.is_empty() && pending.next_deadline().is_none());
    }

    #[test]
    fn losing_the_connection_fails_every_call_at_once() {
        let start = Instant::now();
        let mut pending = Pending::new();
        let ids: Vec<u64> = (0..100).map(|n| pending.insert(start + ms(n), n)).collect();
        let mut failed = pending.drain();
        failed.sort_unstable();
        assert_eq!(failed, (0..100).collect::<Vec<_>>());
        assert!(ids.iter().all(|&id| pending.complete(id).is_none()));
        assert!(pending.expire(start + ms(1000)).is_empty());
    }

    #[test]
    fn equal_deadlines_are_kept_apart() {
        let at = Instant::now();
        let mut pending = Pending::new();
        let (a, b) = (pending.insert(at, 'a'), pending.insert(at, 'b'));
        assert_eq!(pending.complete(b), Some('b'));
        assert_eq!(pending.expire(at), ['a']);
        assert_eq!(pending.complete(a), None);
    }
}
