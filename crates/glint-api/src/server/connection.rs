//! One client connection: HTTP/1.1 served by hyper, held to the deadlines
//! of [`ConnectionLimits`].
//!
//! hyper's own header-read timer also runs while a kept-alive connection
//! waits for its next request, so it cannot give a kept-alive connection
//! longer than a request head. This task keeps its own deadlines instead:
//! the head must arrive within `header_read_timeout` (from the opening,
//! or from the first byte of a following request), an idle connection is
//! closed after `keep_alive_timeout`, and while a request is handled only
//! the body's own inactivity timeout applies. Writing a response is held
//! to `send_timeout` by the socket itself ([`SendTimeout`]): a write that
//! fails ends the connection, which drops the response body and with it a
//! download's store read.
//!
//! Each request runs to its end even when the client leaves before the
//! answer: one that waits (on the database, a store, a lock) is handled in
//! a task of its own, and only one answered at the first poll, on the
//! connection's task, goes without (most reads; a task per request cost a
//! show about 8 % of its CPU). A request given up halfway would drop its
//! database exchange in the middle, and a pooled connection dropped so can
//! be left waiting for an answer that never comes, lost to the pool for
//! good (cutting 300 list requests short against MariaDB at 100,000 images
//! took all ten connections, and every later request answered 503).
//! Glance's own workers likewise finish a request whose client is gone. The
//! connection's place under the connection cap is held until its requests'
//! tasks end too.
//!
//! A response given before its request's body was read to the end (an
//! upload refused before its data was read, a body that stopped arriving)
//! says `Connection: close`: the unread rest cannot be told from a next
//! request, so hyper closes such a connection, and a client told so does not
//! send its next request on a connection about to close.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::Poll;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::HeaderValue;
use http::header::CONNECTION;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use super::activity::{Activity, Tracked, guarded};
use super::body_timeout::IdleTimeout;
use super::send_timeout::SendTimeout;
use crate::state::ConnectionLimits;

/// The whole application as one cloneable service.
pub(super) type App = BoxCloneSyncService<Request, Response, Infallible>;

/// Serves `stream` until the client leaves, a deadline passes, or
/// `stop` asks for a graceful end (requests in flight finish first).
/// `slot` is the connection's place under the connection cap.
pub(super) async fn serve_connection(
    stream: TcpStream,
    app: App,
    limits: Arc<ConnectionLimits>,
    mut stop: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) {
    // Shared with each request's task (see the module notes).
    let slot = Arc::new(slot);
    let activity = Activity::new();
    let stream = SendTimeout::new(stream, limits.send_timeout);
    let io = TokioIo::new(Tracked::new(stream, Arc::clone(&activity)));
    let service = {
        let activity = Arc::clone(&activity);
        let slot = Arc::clone(&slot);
        let body_timeout = limits.body_idle_timeout;
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let guard = activity.request_started();
            let (parts, body) = req.into_parts();
            let (body, ended) = IdleTimeout::new(body, body_timeout);
            let req = Request::from_parts(parts, Body::new(body));
            let app = app.clone();
            let slot = Arc::clone(&slot);
            async move {
                let mut resp = handle(app, req, slot).await?;
                if !ended.reached() {
                    resp.headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, Infallible>(resp.map(|body| guarded(body, guard)))
            }
        })
    };
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = activity.expired(&limits) => {
                tracing::debug!("closing a connection that sent no request in time");
                break;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    drop(slot);
}

/// Handles `req` with `app` until its answer, to the end even if the
/// client leaves meanwhile (see the module notes). The request is first
/// polled on the connection's own task: most reads are answered there
/// at once, without a task of their own. What waits (on the database, a
/// store, a lock) goes on in a task of its own, which the connection
/// awaits. `slot` is held until the request ends.
async fn handle(
    mut app: App,
    req: Request,
    slot: Arc<OwnedSemaphorePermit>,
) -> Result<Response, Infallible> {
    // A router is always ready; its future is boxed.
    app.ready().await?;
    let mut handling = app.call(req);
    if let Poll::Ready(resp) = futures::poll!(handling.as_mut()) {
        return resp;
    }
    let handled = tokio::spawn(async move {
        let resp = handling.await;
        drop(slot);
        resp
    });
    match handled.await {
        Ok(resp) => resp,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down.
        Err(_) => Ok(unavailable()),
    }
}

/// The answer to a request whose task was stopped (the server shutting
/// down).
fn unavailable() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    resp
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use tokio::sync::{Notify, Semaphore};

    use super::*;

    fn slot() -> (Arc<Semaphore>, Arc<OwnedSemaphorePermit>) {
        let slots = Arc::new(Semaphore::new(1));
        let permit = Arc::clone(&slots).try_acquire_owned().unwrap();
        (slots, Arc::new(permit))
    }

    fn ok() -> Response {
        Response::new(Body::from("done"))
    }

    #[tokio::test]
    async fn a_request_answered_at_once_is_answered_and_frees_its_slot() {
        let (slots, slot) = slot();
        let app = App::new(tower::service_fn(|_req: Request| async {
            Ok::<_, Infallible>(ok())
        }));
        let resp = handle(app, Request::new(Body::empty()), slot)
            .await
            .unwrap();
        assert_eq!(resp.status(), http::StatusCode::OK);
        assert_eq!(slots.available_permits(), 1);
    }

    #[tokio::test]
    async fn a_request_that_waits_runs_to_its_end_after_the_client_leaves() {
        let (slots, slot) = slot();
        let release = Arc::new(Notify::new());
        let finished = Arc::new(AtomicBool::new(false));
        let app = {
            let release = Arc::clone(&release);
            let finished = Arc::clone(&finished);
            App::new(tower::service_fn(move |_req: Request| {
                let release = Arc::clone(&release);
                let finished = Arc::clone(&finished);
                async move {
                    release.notified().await;
                    finished.store(true, Ordering::SeqCst);
                    Ok::<_, Infallible>(ok())
                }
            }))
        };
        // The connection gives up on the request while it waits.
        let given_up = tokio::time::timeout(
            Duration::from_millis(50),
            handle(app, Request::new(Body::empty()), slot),
        )
        .await;
        assert!(given_up.is_err());
        assert!(!finished.load(Ordering::SeqCst));
        assert_eq!(slots.available_permits(), 0, "the slot is held meanwhile");
        release.notify_one();
        let freed = tokio::time::timeout(Duration::from_secs(5), slots.acquire())
            .await
            .expect("the request ended and freed its slot");
        drop(freed);
        assert!(finished.load(Ordering::SeqCst));
    }
}
