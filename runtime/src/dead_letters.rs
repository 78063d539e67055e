//! Messages that could not be delivered.
//!
//! A call that cannot be delivered fails its caller with the matching
//! [`CallError`](crate::CallError) at once; either way the message is
//! counted here, logged once at debug level, and published on the event
//! stream as a [`DeadLetter`], instead of vanishing.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::events::{DeadLetter, EventStream};

/// A system's count of undeliverable messages.
#[derive(Debug, Default)]
pub(crate) struct DeadLetters {
    count: AtomicU64,
}

impl DeadLetters {
    pub(crate) fn record(&self, events: &EventStream, letter: DeadLetter) {
        self.count.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target_actor = %letter.target, service = letter.service, method = letter.method,
            error = %letter.error, "dead letter");
        events.publish(&letter);
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}
