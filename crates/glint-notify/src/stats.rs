//! What became of the notifications handed to the notifier, as counters
//! that the metrics endpoint reads.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of what became of emitted notifications, cheap to read.
#[derive(Debug, Default)]
pub struct NotifierStats {
    published: AtomicU64,
    dropped: AtomicU64,
    refused: AtomicU64,
}

impl NotifierStats {
    /// Handed to every driver (for RabbitMQ: confirmed by the broker).
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Never sent: the queue was full, or the service was stopping.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Refused by RabbitMQ (a negative publisher confirm).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub(crate) fn add_published(&self, n: usize) {
        self.published.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_dropped(&self, n: usize) {
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_refused(&self, n: usize) {
        self.refused.fetch_add(n as u64, Ordering::Relaxed);
    }
}
