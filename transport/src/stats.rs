//! A node's counters, bumped from its tasks and read as one snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

use courier_runtime::remote::NetworkStats;

/// The live counters behind [`NetworkStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) refused_connections: AtomicU64,
    pub(crate) frames_received: AtomicU64,
    pub(crate) broken_streams: AtomicU64,
    pub(crate) invalid_headers: AtomicU64,
    pub(crate) unknown_targets: AtomicU64,
    pub(crate) invalid_payloads: AtomicU64,
    pub(crate) stray_replies: AtomicU64,
    pub(crate) failed_introductions: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> NetworkStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut stats = NetworkStats::default();
        stats.connections = read(&self.connections);
        stats.refused_connections = read(&self.refused_connections);
        stats.frames_received = read(&self.frames_received);
        stats.broken_streams = read(&self.broken_streams);
        stats.invalid_headers = read(&self.invalid_headers);
        stats.unknown_targets = read(&self.unknown_targets);
        stats.invalid_payloads = read(&self.invalid_payloads);
        stats.stray_replies = read(&self.stray_replies);
        stats.failed_introductions = read(&self.failed_introductions);
        stats
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, count: usize) {
        if count > 0 {
            counter.fetch_add(count as u64, Ordering::Relaxed);
        }
    }
}
