//! The accept loop: one task per connection, no more than the cap at
//! once, and a graceful stop.
//!
//! Accepting runs on a thread of its own (a small runtime that only
//! accepts), and each connection is handed to the server's runtime. On the
//! server's runtime the accept loop would be one task among thousands of
//! busy connections, waiting its turn behind all of them: under a crowd of
//! new clients the kernel's queue of pending connections would overflow,
//! and every client whose handshake was dropped would wait a second or
//! more to retry, however idle glint was a moment later.

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
    let server = tokio::runtime::Handle::current();
    let listener = listener.into_std()?;
    let accepting = AcceptLoop {
        server,
        app,
        limits,
        gauge,
        slots: Arc::clone(&slots),
        max,
        stop: stop_rx,
    };
    let accepted = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener)?;
            accepting.run(listener, shutdown).await;
            Ok::<(), io::Error>(())
        })
    })
    .await
    .map_err(|e| io::Error::other(format!("the accept loop failed: {e}")))?;
    let _ = stop_tx.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    accepted
}

/// What the accept thread needs to hand connections to the server.
struct AcceptLoop {
    /// The server's runtime, which serves the connections.
    server: tokio::runtime::Handle,
    app: App,
    limits: Arc<ConnectionLimits>,
    gauge: Option<ConnectionGauge>,
    slots: Arc<Semaphore>,
    max: usize,
    stop: watch::Receiver<bool>,
}

impl AcceptLoop {
    /// Accepts until `shutdown` completes; the listener closes on return.
    async fn run<F: Future<Output = ()>>(self, listener: TcpListener, shutdown: F) {
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
            // Over the cap the connection is closed at once: the client
            // learns immediately, and no socket or task is held for it.
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                refusals.note(self.max);
                continue;
            };
            let _ = stream.set_nodelay(true);
            // Registered again with the server's runtime, which polls it.
            let Ok(stream) = stream.into_std() else {
                continue;
            };
            let open = self.gauge.as_ref().map(ConnectionGauge::open);
            let app = self.app.clone();
            let limits = Arc::clone(&self.limits);
            let stop = self.stop.clone();
            self.server.spawn(async move {
                if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
                    serve_connection(stream, app, limits, stop, slot).await;
                }
                drop(open);
            });
        }
    }
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
