//! The write-through fill: a download's stream, passed on unchanged to its
//! client, is also written into `incomplete/` and hashed on the way. The
//! entry is put in place only when the whole image went through and its
//! size, md5 and multihash match the image's; data that does not match is
//! moved to `invalid/`, and the download fails rather than hand the client
//! data that is not the image's. A download dropped half-way (its client
//! went away) leaves nothing behind: the writer sees its input end without
//! the end mark and removes what it wrote.
//!
//! The client may close its connection as soon as it holds every byte, and
//! the server may then drop the stream without polling it to its end. So
//! the fill holds the last chunk back until it has seen the source end and
//! has put the entry in place; only then does the chunk go out.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream;
use glint_model::ImageId;
use tokio::sync::mpsc;

use super::{ImageCache, blocking};
use crate::hash::HashAlgo;
use crate::ingest::{IngestConfig, IngestHandle, Ingested, ingest};
use crate::store::{ByteStream, Store, StoreError, Stored};

/// Chunks queued for the writer of one fill.
const FILL_QUEUE: usize = 4;

/// What a fill must turn out to be to be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub size: u64,
    /// The md5 hex digest (`checksum`), when the image has one.
    pub checksum: Option<String>,
    /// `os_hash_algo` and `os_hash_value`, when the image has them.
    pub multihash: Option<(HashAlgo, String)>,
}

impl Expected {
    /// What differs between these expectations and the data read.
    fn mismatch(&self, size: u64, got: &Ingested) -> Option<String> {
        if size != self.size {
            return Some(format!("{size} bytes, expected {}", self.size));
        }
        if let Some(sum) = &self.checksum
            && !sum.eq_ignore_ascii_case(&got.checksum)
        {
            return Some(format!("md5 {}, expected {sum}", got.checksum));
        }
        if let Some((algo, value)) = &self.multihash
            && !value.eq_ignore_ascii_case(&got.os_hash_value)
        {
            return Some(format!("{algo} {}, expected {value}", got.os_hash_value));
        }
        None
    }
}

/// The use cases' part in a fill, asked before and after its entry is put
/// in place.
#[async_trait::async_trait]
pub trait FillCommit: Send + Sync + std::fmt::Debug {
    /// The data of `image` was read whole and matched. The entry is put in
    /// place only if this succeeds.
    async fn verified(&self, image: ImageId, size: u64) -> Result<(), StoreError>;
    /// The entry was not put in place after all (removed meanwhile, or the
    /// file could not be moved), although `verified` succeeded.
    async fn withdrawn(&self, image: ImageId);
    /// The entry is in place.
    async fn committed(&self, image: ImageId, size: u64);
}

impl ImageCache {
    /// Wraps a download of the whole of `image` so that it also fills the
    /// cache. `Err` gives `source` back as it was when the image is being
    /// filled already or is empty.
    pub fn fill(
        self: &Arc<Self>,
        image: ImageId,
        expected: Expected,
        source: ByteStream,
        commit: Arc<dyn FillCommit>,
    ) -> Result<ByteStream, ByteStream> {
        if expected.size == 0 {
            return Err(source);
        }
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let mut filling = self.filling_map();
            if filling.contains_key(&image) {
                return Err(source);
            }
            filling.insert(image, Arc::clone(&cancel));
        }
        let hash_algo = expected.multihash.as_ref().map_or(HashAlgo::Md5, |m| m.0);
        let (input, digests) = ingest(
            source,
            IngestConfig {
                hash_algo,
                size_cap: u64::MAX,
                expected_size: Some(expected.size),
                inspect: false,
            },
        );
        let (sink, pieces) = mpsc::channel(FILL_QUEUE);
        let cache = Arc::clone(self);
        let writer = WriterTask(tokio::spawn(async move {
            cache.writer.put(image, written(pieces)).await
        }));
        let fill = Fill {
            cache: Arc::clone(self),
            image,
            cancel,
            expected,
            input,
            digests: Some(digests),
            sink: Some(sink),
            writer: Some(writer),
            commit,
            received: 0,
            ready: VecDeque::new(),
            done: false,
        };
        Ok(stream::unfold(fill, Fill::step).boxed())
    }
}

enum Piece {
    Data(Bytes),
    End,
}

/// What the writer stores: the pieces sent, ending well only at the end
/// mark. A fill dropped before sending it closes the channel, which fails
/// the write, so the writer removes its file.
fn written(pieces: mpsc::Receiver<Piece>) -> ByteStream {
    stream::unfold(Some(pieces), |pieces| async move {
        let mut pieces = pieces?;
        match pieces.recv().await {
            Some(Piece::Data(bytes)) => Some((Ok(bytes), Some(pieces))),
            Some(Piece::End) => None,
            None => Some((
                Err(StoreError::Source("the cache fill was abandoned".into())),
                None,
            )),
        }
    })
    .boxed()
}

/// The writer's task, aborted if the fill is dropped.
struct WriterTask(tokio::task::JoinHandle<Result<Stored, StoreError>>);

impl WriterTask {
    async fn join(mut self) -> Result<Stored, StoreError> {
        (&mut self.0)
            .await
            .map_err(|e| StoreError::Io(io::Error::other(e)))?
    }
}

impl Drop for WriterTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The state behind a filling download.
struct Fill {
    cache: Arc<ImageCache>,
    image: ImageId,
    cancel: Arc<AtomicBool>,
    expected: Expected,
    input: ByteStream,
    digests: Option<IngestHandle>,
    /// `None` once the fill was given up: the data still goes to the client.
    sink: Option<mpsc::Sender<Piece>>,
    writer: Option<WriterTask>,
    commit: Arc<dyn FillCommit>,
    received: u64,
    ready: VecDeque<Result<Bytes, StoreError>>,
    done: bool,
}

impl Fill {
    async fn step(mut self) -> Option<(Result<Bytes, StoreError>, Self)> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some((item, self));
            }
            if self.done {
                return None;
            }
            match self.input.next().await {
                Some(Ok(chunk)) => self.accept(chunk).await,
                Some(Err(e)) => {
                    self.give_up("the image data could not be read whole");
                    self.ready.push_back(Err(e));
                    self.done = true;
                }
                None => {
                    self.give_up("the image data ended early");
                    self.done = true;
                }
            }
        }
    }

    async fn accept(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.received += chunk.len() as u64;
        if let Some(sink) = &self.sink
            && sink.send(Piece::Data(chunk.clone())).await.is_err()
        {
            self.give_up("the cache writer stopped");
        }
        if self.sink.is_none() || self.received != self.expected.size {
            self.ready.push_back(Ok(chunk));
            return;
        }
        // The last chunk: see the data end, then commit, then send it.
        loop {
            match self.input.next().await {
                Some(Ok(more)) if more.is_empty() => continue,
                Some(Ok(more)) => {
                    self.give_up("the image data is longer than its size");
                    self.received += more.len() as u64;
                    self.ready.extend([Ok(chunk), Ok(more)]);
                }
                Some(Err(e)) => {
                    self.give_up("the image data could not be read whole");
                    self.ready.extend([Ok(chunk), Err(e)]);
                    self.done = true;
                }
                None => {
                    self.done = true;
                    let outcome = self.finish().await.map(|()| chunk);
                    self.ready.push_back(outcome);
                }
            }
            return;
        }
    }

    /// Stops filling; what was written is removed by the writer.
    fn give_up(&mut self, why: &str) {
        if self.sink.take().is_some() {
            tracing::debug!(image.id = %self.image, reason = why, "image not cached");
        }
        self.writer = None;
        self.digests = None;
    }

    /// The data ended at the expected size: checks it, then puts the entry
    /// in place. Fails only when the data is not the image's.
    async fn finish(&mut self) -> Result<(), StoreError> {
        let (Some(sink), Some(writer), Some(digests)) =
            (self.sink.take(), self.writer.take(), self.digests.take())
        else {
            return Ok(());
        };
        // A failed send means the writer stopped; its result says why.
        let _ = sink.send(Piece::End).await;
        drop(sink);
        let written = writer.join().await;
        let checked = digests.finish().await;
        let (stored, ingested) = match (written, checked) {
            (Ok(stored), Ok(ingested)) => (stored, ingested),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(image.id = %self.image, error = %e, "cannot cache the image");
                self.discard().await;
                return Ok(());
            }
        };
        if let Some(mismatch) = self.expected.mismatch(stored.size, &ingested) {
            self.reject(&mismatch).await;
            return Err(StoreError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("image data does not match the image: {mismatch}"),
            )));
        }
        self.commit_entry(stored.size).await;
        Ok(())
    }

    async fn commit_entry(&mut self, size: u64) {
        if self.cancelled() {
            self.discard().await;
            return;
        }
        if let Err(e) = self.commit.verified(self.image, size).await {
            tracing::warn!(image.id = %self.image, error = %e, "cannot record the cached image");
            self.discard().await;
            return;
        }
        let from = self.cache.incomplete.join(self.image.to_string());
        let to = self.cache.root.join(self.image.to_string());
        let moved = if self.cancelled() {
            Ok(false)
        } else {
            blocking(move || std::fs::rename(&from, &to).map_err(StoreError::from_io))
                .await
                .map(|()| true)
        };
        match moved {
            Ok(true) => {
                self.cache.stats.fills.fetch_add(1, Ordering::Relaxed);
                tracing::info!(image.id = %self.image, size_bytes = size, "image cached");
                self.commit.committed(self.image, size).await;
            }
            Ok(false) | Err(_) => {
                if let Err(e) = moved {
                    tracing::warn!(image.id = %self.image, error = %e, "cannot put the cached image in place");
                }
                self.discard().await;
                self.commit.withdrawn(self.image).await;
            }
        }
    }

    /// Moves the data to `invalid/`, where cleaning removes it.
    async fn reject(&mut self, mismatch: &str) {
        self.cache.stats.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::error!(image.id = %self.image, mismatch, "image data read from its store does not match the image; not cached");
        let from = self.cache.incomplete.join(self.image.to_string());
        let to = self.cache.invalid.join(self.image.to_string());
        if let Err(e) =
            blocking(move || std::fs::rename(&from, &to).map_err(StoreError::from_io)).await
        {
            tracing::warn!(image.id = %self.image, error = %e, "cannot move invalid cache data");
            self.discard().await;
        }
    }

    async fn discard(&mut self) {
        let path = self.cache.incomplete.join(self.image.to_string());
        if let Err(e) = blocking(move || super::remove_if_present(&path)).await {
            tracing::warn!(image.id = %self.image, error = %e, "cannot remove incomplete cache data");
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

impl Drop for Fill {
    fn drop(&mut self) {
        let mut filling = self.cache.filling_map();
        if filling
            .get(&self.image)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cancel))
        {
            filling.remove(&self.image);
        }
    }
}
