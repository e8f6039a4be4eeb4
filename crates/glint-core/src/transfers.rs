//! What the data path is doing right now, as plain counters that anyone
//! (the metrics endpoint) may read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use glint_store::ByteStream;

/// Transfers of image data in progress in this process.
#[derive(Debug, Default)]
pub struct TransferStats {
    /// Uploads between their move to `saving` and their end, including
    /// those whose client has gone (the upload task still runs).
    pub uploads_in_flight: Arc<AtomicU64>,
    /// Downloads whose data stream is still open.
    pub downloads_in_flight: Arc<AtomicU64>,
}

/// Counts one transfer while it lives.
pub(crate) struct InFlight(Arc<AtomicU64>);

impl InFlight {
    pub(crate) fn start(counter: &Arc<AtomicU64>) -> InFlight {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `stream`, counted in `counter` until it is dropped (hyper drops a
/// response body once it has sent it, or when the client has gone).
pub(crate) fn counted(stream: ByteStream, counter: &Arc<AtomicU64>) -> ByteStream {
    let guard = InFlight::start(counter);
    stream
        .map(move |item| {
            let _held = &guard;
            item
        })
        .boxed()
}
