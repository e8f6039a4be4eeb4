//! What a connection is doing, so that it can be held to the right
//! deadline: a request head being received, a request being handled, or
//! nothing (kept alive between requests).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::state::ConnectionLimits;

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Receiving a request head since `since`: the connection opened, or
    /// the first byte of a following request arrived.
    Head { since: Instant },
    /// A request is being handled; its body has its own timeout.
    Busy,
    /// Waiting for the next request since the last response ended.
    Idle { since: Instant },
}

/// The phase of one connection, shared by its socket, its requests and
/// the task that enforces its deadlines. A change of phase wakes nobody:
/// the deadline task looks again often enough never to be late (see
/// [`Activity::expired`]).
#[derive(Debug)]
pub(super) struct Activity {
    phase: Mutex<Phase>,
}

impl Activity {
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            phase: Mutex::new(Phase::Head {
                since: Instant::now(),
            }),
        })
    }

    fn set(&self, update: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        *phase = update(*phase);
    }

    fn bytes_arrived(&self) {
        let idle = matches!(
            *self.phase.lock().unwrap_or_else(|e| e.into_inner()),
            Phase::Idle { .. }
        );
        if idle {
            self.set(|p| match p {
                Phase::Idle { .. } => Phase::Head {
                    since: Instant::now(),
                },
                other => other,
            });
        }
    }

    /// A request head has been read; the connection is busy until the
    /// returned guard is dropped with the response body.
    pub(super) fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.set(|_| Phase::Busy);
        RequestGuard(Arc::clone(self))
    }

    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        match *self.phase.lock().unwrap_or_else(|e| e.into_inner()) {
            Phase::Head { since } => Some(since + limits.header_read_timeout),
            Phase::Idle { since } => Some(since + limits.keep_alive_timeout),
            Phase::Busy => None,
        }
    }

    /// Completes when the connection has spent too long receiving a head
    /// or waiting for the next request. A phase that begins after a look
    /// at the deadline ends no sooner than the shorter of the two timeouts
    /// after it; so this looks again at the deadline it saw or one such
    /// timeout later, whichever comes first, and is never late, without
    /// being woken (and a timer set again) three times a request.
    pub(super) async fn expired(&self, limits: &ConnectionLimits) {
        let step = Ord::min(limits.header_read_timeout, limits.keep_alive_timeout);
        loop {
            let now = Instant::now();
            let look = match self.deadline(limits) {
                Some(deadline) if deadline <= now => return,
                Some(deadline) => Ord::min(deadline, now + step),
                None => now + step,
            };
            tokio::time::sleep_until(look).await;
        }
    }
}

/// Held while a request is handled and its response written.
#[derive(Debug)]
pub(super) struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.set(|_| Phase::Idle {
            since: Instant::now(),
        });
    }
}

/// A response body that releases its request's guard when the server is
/// done with it (written out, or dropped with the connection).
pub(super) fn guarded(body: Body, guard: RequestGuard) -> Body {
    Body::new(Guarded {
        inner: body,
        _guard: guard,
    })
}

struct Guarded {
    inner: Body,
    _guard: RequestGuard,
}

impl HttpBody for Guarded {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that tells its connection's [`Activity`] when bytes arrive.
pub(super) struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    pub(super) fn new(inner: S, activity: Arc<Activity>) -> Self {
        Tracked { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
