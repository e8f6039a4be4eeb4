//! Writing an object: data goes to a partial file on a writer thread, is
//! fsynced, then renamed into place and the directory fsynced. The partial file is
//! removed on any failure, including the upload future being dropped.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::store::{ByteStream, StoreError};

/// Writes are coalesced to at least this size: small writes cost syscalls, and
/// network chunks are often far smaller.
const WRITE_BYTES: usize = 1024 * 1024;
/// Writes queued for the writer thread; keeps memory to a few MiB per upload while
/// letting the network side run ahead of the disk a little.
const WRITE_QUEUE: usize = 4;

pub(super) struct Target {
    pub partial: PathBuf,
    pub object: PathBuf,
    pub dir: PathBuf,
}

enum Message {
    Data(Bytes),
    /// All data sent: make it durable and move it into place.
    Commit,
}

/// Streams `data` into `target.object`, returning its size.
pub(super) async fn write_object(target: Target, data: ByteStream) -> Result<u64, StoreError> {
    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
    let (done_tx, done_rx) = oneshot::channel();
    // A thread of its own rather than one from tokio's blocking pool: it lives as long
    // as the upload, mostly waiting on the client, and slow clients must not be able
    // to exhaust the pool that downloads and metadata calls need.
    std::thread::Builder::new()
        .name("glint-file-writer".to_owned())
        .spawn(move || {
            let result = run_writer(&target, rx);
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

/// Pulls the input and hands the writer chunks of at least [`WRITE_BYTES`].
async fn feed(mut data: ByteStream, tx: &mpsc::Sender<Message>) -> Result<(), Fed> {
    let mut pending = BytesMut::new();
    while let Some(item) = data.next().await {
        let chunk = item.map_err(Fed::Source)?;
        let ready = if pending.is_empty() && chunk.len() >= WRITE_BYTES {
            chunk
        } else {
            if pending.capacity() == 0 {
                pending.reserve(WRITE_BYTES.max(chunk.len()));
            }
            pending.extend_from_slice(&chunk);
            if pending.len() < WRITE_BYTES {
                continue;
            }
            pending.split().freeze()
        };
        tx.send(Message::Data(ready))
            .await
            .map_err(|_| Fed::WriterGone)?;
    }
    if !pending.is_empty() {
        let last = Message::Data(pending.freeze());
        tx.send(last).await.map_err(|_| Fed::WriterGone)?;
    }
    Ok(())
}

/// The writer thread. Returns only after the partial file is either renamed into
/// place or removed, so callers may inspect the directory as soon as it answers.
fn run_writer(target: &Target, mut rx: mpsc::Receiver<Message>) -> Result<u64, StoreError> {
    let mut partial = PartialFile::create(&target.partial).map_err(StoreError::from_io)?;
    let mut size = 0u64;
    loop {
        match rx.blocking_recv() {
            Some(Message::Data(chunk)) => {
                partial
                    .file
                    .write_all(&chunk)
                    .map_err(StoreError::from_io)?;
                size += chunk.len() as u64;
            }
            Some(Message::Commit) => break,
            None => return Err(StoreError::Source("upload abandoned".to_owned())),
        }
    }
    // Not sync_all: fdatasync covers the size, and the rename is made durable by
    // syncing the directory.
    partial.file.sync_data().map_err(StoreError::from_io)?;
    std::fs::rename(&target.partial, &target.object).map_err(StoreError::from_io)?;
    partial.renamed();
    if let Err(err) = sync_dir(&target.dir) {
        remove_quietly(&target.object);
        return Err(StoreError::from_io(err));
    }
    Ok(size)
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
    renamed: bool,
}

impl<'a> PartialFile<'a> {
    fn create(path: &'a Path) -> io::Result<Self> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(Self {
            path,
            file,
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
