//! Writing an object: data goes to a partial file on a writer thread, is
//! fsynced, then renamed into place and the directory fsynced. The partial file is
//! removed on any failure, including the upload future being dropped.
//!
//! By default the data goes to the disk with direct I/O (see [`super::direct`]).
//! Where the file system does not support it, or when asked to, the writer goes
//! through the page cache without copying: the stream's chunks go to the file in
//! one `writev` per batch, and writeback to the disk is started as the data comes
//! in, so the final fsync waits for the last few MiB rather than for the whole
//! image.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::direct;
use crate::chunks::Coalescer;
use crate::store::{ByteStream, StoreError};

/// How uploads write files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteStrategy {
    /// Direct I/O from two reused aligned buffers, bypassing the page cache;
    /// falls back to [`WriteStrategy::Buffered`] where the file system does
    /// not support it. A freshly uploaded image is then not in the page cache:
    /// its first download reads it from the disk.
    #[default]
    Direct,
    /// Through the page cache, writeback started every few MiB.
    Buffered,
}

/// Chunks are batched to at least this size per write: small writes cost syscalls.
pub(super) const WRITE_BYTES: usize = 1024 * 1024;
/// Writes queued for the writer thread; keeps memory to a few MiB per upload while
/// letting the network side run ahead of the disk a little.
const WRITE_QUEUE: usize = 4;
/// Writeback of the data written so far is started every this many bytes.
const WRITEBACK_BYTES: u64 = 8 * 1024 * 1024;

pub(super) struct Target {
    pub partial: PathBuf,
    pub object: PathBuf,
    pub dir: PathBuf,
}

enum Message {
    /// Chunks to write, in order.
    Data(Vec<Bytes>),
    /// All data sent: make it durable and move it into place.
    Commit,
}

/// Streams `data` into `target.object`, returning its size.
pub(super) async fn write_object(
    target: Target,
    data: ByteStream,
    strategy: WriteStrategy,
) -> Result<u64, StoreError> {
    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
    let (done_tx, done_rx) = oneshot::channel();
    // A thread of its own rather than one from tokio's blocking pool: it lives as long
    // as the upload, mostly waiting on the client, and slow clients must not be able
    // to exhaust the pool that downloads and metadata calls need.
    // The thread logs in the upload's span (its request id).
    let span = tracing::Span::current();
    std::thread::Builder::new()
        .name("glint-file-writer".to_owned())
        .spawn(move || {
            let _span = span.entered();
            let result = run_writer(&target, rx, strategy);
            if let Err(Ok(_)) = done_tx.send(result) {
                // The upload was abandoned after the commit started: its caller never
                // learns of the object, so nothing may refer to it.
                remove_quietly(&target.object);
            }
        })?;
    let fed = feed(data, &tx).await;
    if fed.is_ok() {
        // A send failure means the writer already stopped; its result says why.
        let _ = tx.send(Message::Commit).await;
    }
    drop(tx);
    let written = done_rx
        .await
        .map_err(|_| StoreError::Io(io::Error::other("file writer stopped")))?;
    match fed {
        Err(Fed::Source(err)) => Err(err),
        Ok(()) | Err(Fed::WriterGone) => written,
    }
}

enum Fed {
    /// The input failed; the writer will see the channel close without a commit.
    Source(StoreError),
    WriterGone,
}

/// Pulls the input and hands the writer batches of at least [`WRITE_BYTES`].
async fn feed(mut data: ByteStream, tx: &mpsc::Sender<Message>) -> Result<(), Fed> {
    let mut pieces = Coalescer::default();
    let mut batch = Vec::new();
    let mut batch_len = 0;
    while let Some(item) = data.next().await {
        for piece in pieces
            .push(item.map_err(Fed::Source)?)
            .into_iter()
            .flatten()
        {
            batch_len += piece.len();
            batch.push(piece);
        }
        if batch_len >= WRITE_BYTES {
            batch_len = 0;
            let full = Message::Data(std::mem::take(&mut batch));
            tx.send(full).await.map_err(|_| Fed::WriterGone)?;
        }
    }
    batch.extend(pieces.finish());
    if !batch.is_empty() {
        tx.send(Message::Data(batch))
            .await
            .map_err(|_| Fed::WriterGone)?;
    }
    Ok(())
}

/// The writer thread. Returns only after the partial file is either renamed into
/// place or removed, so callers may inspect the directory as soon as it answers.
fn run_writer(
    target: &Target,
    mut rx: mpsc::Receiver<Message>,
    strategy: WriteStrategy,
) -> Result<u64, StoreError> {
    let started = std::time::Instant::now();
    let mut partial =
        PartialFile::create(&target.partial, strategy).map_err(StoreError::from_io)?;
    let next = || match rx.blocking_recv() {
        Some(Message::Data(chunks)) => Ok(Some(chunks)),
        Some(Message::Commit) => Ok(None),
        None => Err(StoreError::Source("upload abandoned".to_owned())),
    };
    let size = if partial.direct {
        direct::write(&partial.file, partial.path, next)?
    } else {
        write_buffered(&mut partial.file, next)?
    };
    // Not sync_all: fdatasync covers the size, and the rename is made durable by
    // syncing the directory.
    partial.file.sync_data().map_err(StoreError::from_io)?;
    std::fs::rename(&target.partial, &target.object).map_err(StoreError::from_io)?;
    partial.renamed();
    if let Err(err) = sync_dir(&target.dir) {
        remove_quietly(&target.object);
        return Err(StoreError::from_io(err));
    }
    tracing::debug!(
        path = %target.object.display(),
        size_bytes = size,
        direct_io = partial.direct,
        duration_ms = started.elapsed().as_millis() as u64,
        "image file written and synced"
    );
    Ok(size)
}

/// Writes through the page cache, starting writeback as it goes.
fn write_buffered(
    file: &mut File,
    mut next: impl FnMut() -> Result<Option<Vec<Bytes>>, StoreError>,
) -> Result<u64, StoreError> {
    let mut size = 0u64;
    let mut writeback_from = 0u64;
    while let Some(chunks) = next()? {
        write_chunks(file, &chunks).map_err(StoreError::from_io)?;
        size += chunks.iter().map(|c| c.len() as u64).sum::<u64>();
        if size - writeback_from >= WRITEBACK_BYTES {
            start_writeback(file, writeback_from, size - writeback_from);
            writeback_from = size;
        }
    }
    Ok(size)
}

/// Writes every chunk, in order, with as few `writev` calls as the kernel allows.
fn write_chunks(file: &mut File, chunks: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = chunks.iter().map(|c| IoSlice::new(c)).collect();
    let mut rest = &mut slices[..];
    IoSlice::advance_slices(&mut rest, 0);
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Asks the kernel to start writing a range to the disk now, without waiting for
/// it. Left alone, a machine with plenty of memory would keep the whole image dirty
/// in the page cache until the final fsync, which would then write all of it while
/// the client waits. A failure here only loses that head start: the fsync still
/// writes and reports.
#[expect(
    unsafe_code,
    reason = "sync_file_range has no safe wrapper in std or libc; it is given a \
              file descriptor that the borrowed File keeps open for the call"
)]
fn start_writeback(file: &File, offset: u64, len: u64) {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: plain syscall on an open descriptor; no memory is passed.
    let rc = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
    if rc != 0 {
        let err = io::Error::last_os_error();
        tracing::debug!(error = %err, "could not start writeback of image data");
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_quietly(path: &Path) {
    if let Err(err) = std::fs::remove_file(path)
        && err.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %err, "could not remove image data");
    }
}

/// A file being written; removed when dropped unless it was renamed into place, so
/// every early return, and a panic, cleans up.
struct PartialFile<'a> {
    path: &'a Path,
    file: File,
    /// Opened for direct I/O.
    direct: bool,
    renamed: bool,
}

impl<'a> PartialFile<'a> {
    fn create(path: &'a Path, strategy: WriteStrategy) -> io::Result<Self> {
        let direct_file = match strategy {
            WriteStrategy::Direct => direct::create(path)?,
            WriteStrategy::Buffered => None,
        };
        let direct = direct_file.is_some();
        let file = match direct_file {
            Some(file) => file,
            None => OpenOptions::new().write(true).create_new(true).open(path)?,
        };
        Ok(Self {
            path,
            file,
            direct,
            renamed: false,
        })
    }

    fn renamed(&mut self) {
        self.renamed = true;
    }
}

impl Drop for PartialFile<'_> {
    fn drop(&mut self) {
        if !self.renamed {
            remove_quietly(self.path);
        }
    }
}
