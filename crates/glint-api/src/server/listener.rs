//! The accept loop: one task per connection, no more than the cap at
//! once, and a graceful stop.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::connection::{App, serve_connection};
use crate::metrics::ConnectionGauge;
use crate::state::ConnectionLimits;

/// Accepts connections on `listener` until `shutdown` completes, then
/// waits for every open connection to end: idle ones close at once,
/// requests in flight finish. `gauge` counts the connections open.
pub(super) async fn accept_connections<F>(
    listener: TcpListener,
    app: App,
    limits: ConnectionLimits,
    gauge: Option<ConnectionGauge>,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let limits = Arc::new(limits);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut refusals = Refusals::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                accept_failed(&e).await;
                continue;
            }
        };
        // Over the cap the connection is closed at once: the client learns
        // immediately, and no socket or task is held for it.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refusals.note(max);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let open = gauge.as_ref().map(ConnectionGauge::open);
        let served = serve_connection(
            stream,
            app.clone(),
            Arc::clone(&limits),
            stop_rx.clone(),
            slot,
        );
        tokio::spawn(async move {
            served.await;
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// Errors of one failed handshake are the client's; others (out of file
/// descriptors) would fail again at once, so the loop pauses briefly.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Counts connections refused at the cap, logged at most every 10 s.
#[derive(Debug, Default)]
struct Refusals {
    since_log: u64,
    logged_at: Option<Instant>,
}

impl Refusals {
    fn note(&mut self, max: usize) {
        self.since_log += 1;
        let due = self
            .logged_at
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
        if due {
            tracing::warn!(
                refused = self.since_log,
                max_connections = max,
                "connection limit reached; closing new connections"
            );
            self.since_log = 0;
            self.logged_at = Some(Instant::now());
        }
    }
}
