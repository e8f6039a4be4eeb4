//! A request body that fails when it stops arriving, and tells whether it
//! was read to its end.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

/// The client sent no byte of the body for the configured time.
#[derive(Debug, thiserror::Error)]
#[error("the client sent no data for {} s", .0.as_secs_f64())]
pub struct BodyStalled(Duration);

/// A request body that turns into a [`BodyStalled`] error when its reader
/// has waited `timeout` for the next chunk. The clock runs only while the
/// reader waits, so a reader that pauses (a slow store) is never blamed on
/// the client.
pub(super) struct IdleTimeout {
    inner: Incoming,
    timeout: Duration,
    /// Set while the reader waits; made on the first wait only.
    sleep: Option<Pin<Box<Sleep>>>,
    waiting: bool,
    ended: BodyEnd,
}

impl IdleTimeout {
    /// The body, and a handle that tells afterwards whether it was read to
    /// its end.
    pub(super) fn new(inner: Incoming, timeout: Duration) -> (Self, BodyEnd) {
        let ended = BodyEnd(Arc::new(AtomicBool::new(inner.is_end_stream())));
        let body = IdleTimeout {
            inner,
            timeout,
            sleep: None,
            waiting: false,
            ended: ended.clone(),
        };
        (body, ended)
    }
}

/// Whether a request body was read to its end (a request without one was
/// from the start). A body that failed or was left unread has not.
#[derive(Clone)]
pub(super) struct BodyEnd(Arc<AtomicBool>);

impl BodyEnd {
    pub(super) fn reached(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl HttpBody for IdleTimeout {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting = false;
            match &frame {
                None => this.ended.mark(),
                Some(Ok(_)) if this.inner.is_end_stream() => this.ended.mark(),
                Some(_) => {}
            }
            return Poll::Ready(frame.map(|f| f.map_err(BoxError::from)));
        }
        let deadline = Instant::now() + this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !this.waiting {
            sleep.as_mut().reset(deadline);
            this.waiting = true;
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyStalled(this.timeout).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
