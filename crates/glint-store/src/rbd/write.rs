//! Writing an upload into a new RBD image: the request's task gathers the
//! stream into pieces, a blocking thread keeps a few asynchronous writes in
//! flight, grows the image as data arrives, and ends with the protected
//! snapshot clones are made from. On any failure, or if the upload is
//! dropped, the partial image is removed.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::cluster::Connection;
use super::errors::{op_error, pool_error};
use super::ffi::{CephError, Image, InFlight, IoCtx};
use super::{SNAPSHOT, remove_image};
use crate::store::{ByteStream, StoreError};

/// Writes never span two RBD objects, and are at most this long.
const MAX_PIECE: usize = 4 * 1024 * 1024;
/// Writes in flight at once.
const IN_FLIGHT: usize = 4;
/// Buffers of one upload: those in flight, one queued, one filling.
const BUFFERS: usize = IN_FLIGHT + 2;
/// The image grows by doubling steps, at most this much at a time, as
/// glance_store does, then is cut to the size written.
const MAX_GROWTH: u64 = 8 * 1024 * 1024 * 1024;

pub(crate) struct Target {
    pub pool: String,
    pub image: String,
    /// log2 of the object size.
    pub order: u8,
    pub thin_provisioning: bool,
}

enum Piece {
    Data(Vec<u8>),
    End,
}

/// Streams `data` into a new image with the protected snapshot; the bytes
/// written.
pub(crate) async fn put(
    connection: Arc<Connection>,
    target: Target,
    mut data: ByteStream,
) -> Result<u64, StoreError> {
    let piece_len = MAX_PIECE.min(1 << target.order);
    let (pieces, pieces_rx) = mpsc::channel(1);
    let (free_tx, mut free) = mpsc::unbounded_channel();
    let cleanup = (
        Arc::clone(&connection),
        target.pool.clone(),
        target.image.clone(),
    );
    let span = tracing::Span::current();
    let writer = tokio::task::spawn_blocking(move || {
        span.in_scope(|| write(&connection, &target, pieces_rx, free_tx))
    });
    let mut writer = WriterGuard {
        handle: Some(writer),
        cleanup: Some(cleanup),
    };
    let mut buffers = Buffers {
        free: &mut free,
        made: 0,
        len: piece_len,
    };
    match feed(&mut data, &pieces, &mut buffers).await {
        Ok(()) => writer.join().await,
        Err(Fed::Source(err)) => {
            // Without an end mark the writer removes what it wrote.
            drop(pieces);
            let _ = writer.join().await;
            Err(err)
        }
        Err(Fed::WriterGone) => match writer.join().await {
            Err(err) => Err(err),
            Ok(_) => Err(StoreError::Io(std::io::Error::other(
                "the RBD writer stopped before the end of the data",
            ))),
        },
    }
}

enum Fed {
    Source(StoreError),
    WriterGone,
}

struct Buffers<'a> {
    free: &'a mut mpsc::UnboundedReceiver<Vec<u8>>,
    made: usize,
    len: usize,
}

impl Buffers<'_> {
    /// An empty buffer: a new one while fewer than [`BUFFERS`] exist, else
    /// one the writer is done with.
    async fn take(&mut self) -> Result<Vec<u8>, Fed> {
        if self.made < BUFFERS {
            self.made += 1;
            return Ok(Vec::with_capacity(self.len));
        }
        let mut buf = self.free.recv().await.ok_or(Fed::WriterGone)?;
        buf.clear();
        Ok(buf)
    }
}

async fn feed(
    data: &mut ByteStream,
    pieces: &mpsc::Sender<Piece>,
    buffers: &mut Buffers<'_>,
) -> Result<(), Fed> {
    let send = |piece| async move { pieces.send(piece).await.map_err(|_| Fed::WriterGone) };
    let mut buf = buffers.take().await?;
    while let Some(chunk) = data.next().await {
        let mut rest = &chunk.map_err(Fed::Source)?[..];
        while !rest.is_empty() {
            let n = (buffers.len - buf.len()).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if buf.len() == buffers.len {
                send(Piece::Data(buf)).await?;
                buf = buffers.take().await?;
            }
        }
    }
    if !buf.is_empty() {
        send(Piece::Data(buf)).await?;
    }
    send(Piece::End).await
}

/// The writer thread's task, and what a dropped upload leaves to clean.
struct WriterGuard {
    handle: Option<JoinHandle<Result<u64, StoreError>>>,
    cleanup: Option<(Arc<Connection>, String, String)>,
}

impl WriterGuard {
    async fn join(&mut self) -> Result<u64, StoreError> {
        let Some(handle) = self.handle.as_mut() else {
            unreachable!("the writer is joined once");
        };
        let result = handle
            .await
            .unwrap_or_else(|e| Err(StoreError::Io(std::io::Error::other(e.to_string()))));
        self.handle = None;
        self.cleanup = None;
        result
    }
}

impl Drop for WriterGuard {
    /// The upload was dropped while the writer ran. A writer that sees its
    /// input end without an end mark removes the image itself; one that had
    /// already finished made a complete image nobody will record: remove it.
    fn drop(&mut self) {
        let (Some(handle), Some((connection, pool, image))) =
            (self.handle.take(), self.cleanup.take())
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(rbd.image = %image, "upload dropped outside a runtime; image left in place");
            return;
        };
        let cleanup = async move {
            if let Ok(Ok(_)) = handle.await {
                let removed = tokio::task::spawn_blocking(move || {
                    let io = connection.ioctx(&pool).map_err(|e| pool_error(e, &pool))?;
                    remove_image(&io, &image, Some(SNAPSHOT))
                })
                .await;
                if let Ok(Err(err)) = removed {
                    tracing::error!(error = %err, "cannot remove the image of a dropped upload");
                }
            }
        };
        runtime.spawn(tracing::Instrument::in_current_span(cleanup));
    }
}

/// The writer thread: creates the image, fills it, and removes it again on
/// any failure.
fn write(
    connection: &Connection,
    target: &Target,
    pieces: mpsc::Receiver<Piece>,
    free: mpsc::UnboundedSender<Vec<u8>>,
) -> Result<u64, StoreError> {
    let io = connection
        .ioctx(&target.pool)
        .map_err(|e| pool_error(e, &target.pool))?;
    let what = format!("RBD image {}/{}", target.pool, target.image);
    io.create_image(&target.image, target.order)
        .map_err(|e| match e.errno {
            libc::EEXIST => StoreError::Refused(format!("{what} already exists")),
            _ => op_error(e, &what),
        })?;
    let written = fill(&io, target, pieces, &free).map_err(|e| match e {
        Failure::Ceph(e) => op_error(e, &what),
        Failure::Abandoned => StoreError::Source("the upload ended before its data".to_owned()),
    });
    if written.is_err()
        && let Err(err) = remove_image(&io, &target.image, Some(SNAPSHOT))
    {
        tracing::error!(rbd.image = %what, error = %err, "cannot remove a partial image");
    }
    written
}

enum Failure {
    Ceph(CephError),
    /// The input ended without an end mark: the upload failed or was dropped.
    Abandoned,
}

impl From<CephError> for Failure {
    fn from(e: CephError) -> Self {
        Failure::Ceph(e)
    }
}

fn fill(
    io: &IoCtx,
    target: &Target,
    mut pieces: mpsc::Receiver<Piece>,
    free: &mpsc::UnboundedSender<Vec<u8>>,
) -> Result<u64, Failure> {
    let image = io.open(&target.image, None, false)?;
    let mut growth = 1u64 << target.order;
    let mut window = Window {
        image: &image,
        pending: VecDeque::with_capacity(IN_FLIGHT),
        free,
    };
    let (mut size, mut offset) = (0u64, 0u64);
    loop {
        let buf = match pieces.blocking_recv() {
            Some(Piece::Data(buf)) => buf,
            Some(Piece::End) => break,
            None => return Err(Failure::Abandoned),
        };
        let end = offset + buf.len() as u64;
        if end > size {
            growth = (growth * 2).min(MAX_GROWTH);
            size = (size + growth).max(end);
            image.resize(size)?;
        }
        if target.thin_provisioning && all_zero(&buf) {
            let _ = free.send(buf);
        } else {
            window.write(offset, buf)?;
        }
        offset = end;
    }
    window.drain()?;
    drop(window);
    if size != offset {
        image.resize(offset)?;
    }
    image.flush()?;
    image.snap_create(SNAPSHOT)?;
    image.snap_protect(SNAPSHOT)?;
    Ok(offset)
}

/// Writes in flight, oldest first; their buffers go back to the feeder.
struct Window<'a, 'img> {
    image: &'img Image<'img>,
    pending: VecDeque<InFlight<'img>>,
    free: &'a mpsc::UnboundedSender<Vec<u8>>,
}

impl Window<'_, '_> {
    fn write(&mut self, offset: u64, buf: Vec<u8>) -> Result<(), CephError> {
        if self.pending.len() == IN_FLIGHT {
            self.complete_oldest()?;
        }
        self.pending.push_back(self.image.write_at(offset, buf)?);
        Ok(())
    }

    fn complete_oldest(&mut self) -> Result<(), CephError> {
        if let Some(write) = self.pending.pop_front() {
            let (result, buf) = write.wait();
            // The feeder may be gone already; then the buffer is just freed.
            let _ = self.free.send(buf);
            result?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), CephError> {
        while !self.pending.is_empty() {
            self.complete_oldest()?;
        }
        Ok(())
    }
}

fn all_zero(buf: &[u8]) -> bool {
    let words = buf.chunks_exact(16);
    let tail = words.remainder();
    tail.iter().all(|&b| b == 0)
        && words
            .map(|w| u128::from_ne_bytes(w.try_into().unwrap_or([1; 16])))
            .all(|w| w == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_detection_sees_every_byte() {
        let mut buf = vec![0u8; 4096 + 7];
        assert!(all_zero(&buf));
        assert!(all_zero(&[]));
        for at in [0, 15, 16, 2000, 4096, 4102] {
            buf[at] = 1;
            assert!(!all_zero(&buf), "{at}");
            buf[at] = 0;
        }
    }
}
