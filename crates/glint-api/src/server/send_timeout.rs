//! A socket whose writes fail when the client stops taking bytes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// What the send timeout needs to know of a socket beyond reading and
/// writing.
pub(super) trait SendQueue {
    /// Bytes written but not yet acknowledged by the peer, when the
    /// system tells.
    fn unacknowledged(&self) -> Option<u64>;
    /// Makes closing the socket reset the connection: the bytes still
    /// queued for a client that reads nothing are dropped at once instead
    /// of being held by the kernel.
    fn reset_on_close(&self);
}

impl SendQueue for TcpStream {
    fn unacknowledged(&self) -> Option<u64> {
        outgoing_queue(self)
    }

    fn reset_on_close(&self) {
        if let Err(e) = self.set_zero_linger() {
            tracing::debug!(error = %e, "cannot make the connection reset on close");
        }
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code, reason = "one ioctl, see the SAFETY note")]
fn outgoing_queue(stream: &TcpStream) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (the same number as TIOCOUTQ) writes one int, the
    // bytes of the send queue not yet acknowledged, into the int passed;
    // the descriptor stays open for the call since `stream` is borrowed.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if rc == 0 {
        u64::try_from(queued).ok()
    } else {
        None
    }
}

#[cfg(not(target_os = "linux"))]
fn outgoing_queue(_stream: &TcpStream) -> Option<u64> {
    None
}

/// A write is waiting for room in the send buffer.
struct Stall {
    /// The unacknowledged bytes when the wait began, or when the client
    /// last acknowledged some during it.
    queued: Option<u64>,
    /// Runs out `timeout` after that moment.
    sleep: Pin<Box<Sleep>>,
}

/// A socket whose writes fail with [`io::ErrorKind::TimedOut`] once they
/// have waited `timeout` for the client to take a byte. The clock runs
/// only while a write waits for room in the send buffer, so a server slow
/// to produce a response is never blamed on the client, and it starts
/// again whenever the client acknowledges bytes, so a reader too slow for
/// the kernel to call the buffer writable within `timeout` is not cut off
/// either.
pub(super) struct SendTimeout<S> {
    inner: S,
    timeout: Duration,
    stall: Option<Stall>,
}

impl<S: SendQueue> SendTimeout<S> {
    pub(super) fn new(inner: S, timeout: Duration) -> Self {
        SendTimeout {
            inner,
            timeout,
            stall: None,
        }
    }

    /// Runs after a write attempt: the attempt's answer, or the timeout.
    fn after_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stall = None;
            return poll;
        }
        ready!(self.poll_stalled(cx));
        self.inner.reset_on_close();
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the client took no byte of the response for {} s",
                self.timeout.as_secs_f64()
            ),
        )))
    }

    /// Ready once the current wait has lasted `timeout` with nothing
    /// acknowledged.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let (inner, timeout) = (&self.inner, self.timeout);
        let stall = self.stall.get_or_insert_with(|| Stall {
            queued: inner.unacknowledged(),
            sleep: Box::pin(tokio::time::sleep(timeout)),
        });
        loop {
            ready!(stall.sleep.as_mut().poll(cx));
            let queued = inner.unacknowledged();
            let acknowledged =
                matches!((stall.queued, queued), (Some(then), Some(now)) if now < then);
            if !acknowledged {
                return Poll::Ready(());
            }
            stall.queued = queued;
            stall.sleep.as_mut().reset(Instant::now() + timeout);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SendTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + SendQueue + Unpin> AsyncWrite for SendTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    // Neither waits for the client on a TCP socket.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);
    /// What the client's side of the pipe holds before writes wait.
    const ROOM: usize = 64;

    /// One end of an in-memory pipe, with a send queue the test sets.
    struct FakeSocket {
        io: DuplexStream,
        queued: Arc<AtomicU64>,
        reset: Arc<AtomicBool>,
    }

    impl SendQueue for FakeSocket {
        fn unacknowledged(&self) -> Option<u64> {
            Some(self.queued.load(Ordering::SeqCst))
        }

        fn reset_on_close(&self) {
            self.reset.store(true, Ordering::SeqCst);
        }
    }

    impl AsyncWrite for FakeSocket {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().io).poll_flush(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
        }
    }

    struct Pipe {
        server: SendTimeout<FakeSocket>,
        client: DuplexStream,
        queued: Arc<AtomicU64>,
        reset: Arc<AtomicBool>,
    }

    fn pipe() -> Pipe {
        let (io, client) = duplex(ROOM);
        let queued = Arc::new(AtomicU64::new(1000));
        let reset = Arc::new(AtomicBool::new(false));
        let socket = FakeSocket {
            io,
            queued: Arc::clone(&queued),
            reset: Arc::clone(&reset),
        };
        Pipe {
            server: SendTimeout::new(socket, TIMEOUT),
            client,
            queued,
            reset,
        }
    }

    /// Fills the client's side, then writes once more: that write waits.
    async fn write_past_the_room(server: &mut SendTimeout<FakeSocket>) -> io::Result<()> {
        server.write_all(&[1; ROOM]).await?;
        server.write_all(&[2; 1]).await
    }

    #[tokio::test(start_paused = true)]
    async fn write_waiting_for_a_client_that_takes_nothing_fails_after_the_timeout() {
        let mut p = pipe();
        let started = Instant::now();
        let err = write_past_the_room(&mut p.server).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), TIMEOUT);
        assert!(p.reset.load(Ordering::SeqCst), "the connection is reset");
    }

    #[tokio::test(start_paused = true)]
    async fn time_spent_producing_the_response_is_not_counted() {
        let mut p = pipe();
        let mut seen = vec![0; ROOM];
        for _ in 0..3 {
            p.server.write_all(&[1; ROOM]).await.unwrap();
            // The server takes longer than the timeout to produce more,
            // while the client reads what it has.
            p.client.read_exact(&mut seen).await.unwrap();
            tokio::time::sleep(TIMEOUT * 3).await;
        }
        assert!(!p.reset.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_takes_bytes_within_the_timeout_is_waited_for() {
        let mut p = pipe();
        let reader = tokio::spawn(async move {
            let mut seen = vec![0; ROOM + 1];
            tokio::time::sleep(TIMEOUT * 9 / 10).await;
            p.client.read_exact(&mut seen).await.map(|_| seen)
        });
        write_past_the_room(&mut p.server).await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap()[ROOM], 2);
    }

    #[tokio::test(start_paused = true)]
    async fn acknowledged_bytes_restart_the_clock() {
        let mut p = pipe();
        let queued = Arc::clone(&p.queued);
        // The client's system acknowledges some bytes at 0.4, 0.8, 1.2 and
        // 1.6 timeouts, then nothing more.
        tokio::spawn(async move {
            for _ in 0..4 {
                tokio::time::sleep(TIMEOUT * 2 / 5).await;
                queued.fetch_sub(10, Ordering::SeqCst);
            }
        });
        let started = Instant::now();
        let err = write_past_the_room(&mut p.server).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Checked at 1 and 2 timeouts, with bytes acknowledged since the
        // last look each time, then at 3, with none.
        assert_eq!(started.elapsed(), TIMEOUT * 3);
    }
}
