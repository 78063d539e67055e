//! Delays between attempts (reconnections, restarts): exponential, capped,
//! with jitter.
//!
//! Attempt `n` (from 0) waits a uniformly random time in
//! `[d/2, d]` where `d = min(cap, base * 2^n)`: doubling, so a peer that is
//! down for long is tried rarely; random, so nodes that lost the same peer
//! do not all come back at the same instant; never less than half the
//! nominal delay, so a flapping peer cannot be hammered.

use std::time::Duration;

/// The delays before each attempt of one thing: reconnecting to a peer,
/// restarting an actor.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// Starts at `base`, doubles up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap: cap.max(base), attempt: 0 }
    }

    /// The delay before the next attempt; `random` is any uniformly random
    /// `u64` (the caller's source, so tests can fix it).
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let delay = self.delay(self.attempt, random);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// The delay before attempt `attempt` (from 0), whatever the count.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let nominal = self.base.saturating_mul(1u32 << attempt.min(31)).min(self.cap);
        let half = nominal / 2;
        // A fraction of the other half, in 1/2^32 steps.
        let fraction = (random >> 32) as f64 / (1u64 << 32) as f64;
        half + half.mul_f64(fraction)
    }

    /// Back to `base`, after an attempt succeeded.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_within_their_jitter() {
        let (base, cap) = (Duration::from_millis(100), Duration::from_secs(5));
        let mut low = Backoff::new(base, cap);
        let mut high = Backoff::new(base, cap);
        let mut nominal = base;
        for _ in 0..12 {
            let (a, b) = (low.next_delay(0), high.next_delay(u64::MAX));
            assert_eq!(a, nominal / 2, "the least jitter is half the nominal delay");
            assert!(b <= nominal && b > nominal * 9 / 10, "{b:?} near {nominal:?}");
            nominal = (nominal * 2).min(cap);
        }
        assert_eq!(low.next_delay(0), cap / 2, "capped");
    }

    #[test]
    fn a_reset_starts_again_at_the_base() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
        for _ in 0..5 {
            backoff.next_delay(0);
        }
        assert_eq!(backoff.attempts(), 5);
        backoff.reset();
        assert_eq!(backoff.next_delay(0), Duration::from_millis(5));
    }

    #[test]
    fn thousands_of_attempts_do_not_overflow() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..10_000 {
            assert!(backoff.next_delay(u64::MAX) <= Duration::from_secs(30));
        }
    }
}
