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
    /// When whoever expires calls looks next (`None`: not until told). A
    /// new call needs to wake it only when its deadline falls before this:
    /// calls with the usual timeout come later than the alarm already set,
    /// so a stream of calls wakes nobody.
    alarm: Option<Instant>,
    next_id: u64,
}

impl<W> Default for Pending<W> {
    fn default() -> Self {
        Pending { calls: HashMap::new(), deadlines: BTreeSet::new(), alarm: None, next_id: 1 }
    }
}

impl<W> Pending<W> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a call due by `deadline`; returns its request id (never 0)
    /// and whether the expiring side must be woken to look at it sooner
    /// than its alarm (which is then set to `deadline`).
    pub fn insert(&mut self, deadline: Instant, waiter: W) -> (u64, bool) {
        let id = self.next_id;
        // Ids are never reused within a connection: 2^64 calls do not happen.
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.calls.insert(id, (deadline, waiter));
        self.deadlines.insert((deadline, id));
        let sooner = self.alarm.is_none_or(|alarm| deadline < alarm);
        if sooner {
            self.alarm = Some(deadline);
        }
        (id, sooner)
    }

    /// The call that `id` answers, if it is still waiting.
    pub fn complete(&mut self, id: u64) -> Option<W> {
        let (deadline, waiter) = self.calls.remove(&id)?;
        self.deadlines.remove(&(deadline, id));
        Some(waiter)
    }

    /// Takes every call whose deadline is at or before `now`; the caller
    /// looks next at [`next_deadline`](Pending::next_deadline) (or when
    /// woken), which becomes the alarm.
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
        self.alarm = self.next_deadline();
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
        let (a, _) = pending.insert(start + ms(100), "a");
        let (b, _) = pending.insert(start + ms(50), "b");
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
        let (late, _) = pending.insert(start + ms(30), "30");
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
        let ids: Vec<u64> = (0..100).map(|n| pending.insert(start + ms(n), n).0).collect();
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
        let (a, b) = (pending.insert(at, 'a').0, pending.insert(at, 'b').0);
        assert_eq!(pending.complete(b), Some('b'));
        assert_eq!(pending.expire(at), ['a']);
        assert_eq!(pending.complete(a), None);
    }

    #[test]
    fn only_a_call_due_before_the_alarm_wakes_the_expiring_side() {
        let start = Instant::now();
        let mut pending = Pending::new();
        let (first, wake) = pending.insert(start + ms(100), 1);
        assert!(wake, "nothing was armed");
        assert!(!pending.insert(start + ms(200), 2).1, "later than the alarm");
        assert!(!pending.insert(start + ms(100), 3).1, "at the alarm");
        assert!(pending.insert(start + ms(50), 4).1, "sooner than the alarm");
        assert!(!pending.insert(start + ms(60), 5).1, "the alarm moved to 50");
        // The calls due at 50 and 60 are answered; the alarm stays where it
        // was until the expiring side looks and sets it to the next one.
        for id in [first + 3, first + 4] {
            assert!(pending.complete(id).is_some());
        }
        assert!(!pending.insert(start + ms(70), 6).1, "the alarm is still 50");
        assert!(pending.expire(start + ms(50)).is_empty());
        assert!(pending.insert(start + ms(65), 7).1, "the alarm moved to 70");
        // Once nothing waits, nothing is armed: the next call wakes it.
        for id in [0, 1, 2, 5, 6].map(|n| first + n) {
            assert!(pending.complete(id).is_some(), "call {id}");
        }
        assert!(pending.expire(start + ms(65)).is_empty() && pending.is_empty());
        assert!(pending.insert(start + ms(300), 8).1);
    }
}
