//! Messages that could not be delivered.
//!
//! A call that cannot be delivered fails its caller with the matching
//! [`CallError`]; a one-way message has nobody to tell, so it is counted
//! here and logged at debug level instead of vanishing.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::CallError;

/// A system's count of undeliverable one-way messages.
#[derive(Debug, Default)]
pub(crate) struct DeadLetters {
    count: AtomicU64,
}

impl DeadLetters {
    pub(crate) fn record(&self, service: &'static str, method: &'static str, error: &CallError) {
        self.count.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(service, method, %error, "dead letter");
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}
