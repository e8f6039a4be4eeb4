//! The upload wrapper: every byte on its way to a store is counted, hashed with md5
//! and the configured multihash, and optionally inspected, exactly once.
//!
//! md5 and the multihash each run on their own OS thread, because one core cannot
//! compute both at upload speed (sha512 alone is the slowest stage). The threads are
//! fed batches of `Bytes` clones (no copy) through small bounded channels, so a slow
//! hash slows the upload instead of growing a queue. Only runs of tiny chunks are
//! copied, into pieces of [`MIN_PIECE`](crate::chunks::MIN_PIECE), which is also
//! what the store receives.

use std::collections::VecDeque;
use std::io;
use std::thread;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use glint_format::{Inspection, Inspector};
use tokio::sync::{mpsc, oneshot};

use crate::chunks::Coalescer;
use crate::hash::HashAlgo;
use crate::store::{ByteStream, StoreError};

/// Chunks are grouped until a batch holds this much, so small network chunks do not
/// wake a hash thread each.
const BATCH_BYTES: usize = 512 * 1024;
/// Batches in flight per hash thread: enough to keep it busy, little enough to keep
/// memory at a few MiB per upload.
const BATCH_QUEUE: usize = 4;

type Batch = Vec<Bytes>;

#[derive(Debug, Clone, Copy)]
pub struct IngestConfig {
    /// The `os_hash_algo` to compute besides md5.
    pub hash_algo: HashAlgo,
    /// `image_size_cap`: the upload fails as soon as it grows past this.
    pub size_cap: u64,
    /// The size the client announced, if any; a different total fails the upload.
    pub expected_size: Option<u64>,
    /// Whether to run the disk-format inspector over the data.
    pub inspect: bool,
}

/// What an upload turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub size: u64,
    /// md5 hex digest (the image's `checksum`).
    pub checksum: String,
    pub os_hash_algo: String,
    pub os_hash_value: String,
    pub inspection: Option<Inspection>,
}

/// Collects the results of [`ingest`] once the wrapped stream has been consumed.
#[derive(Debug)]
pub struct IngestHandle {
    algo: HashAlgo,
    /// Total size, sent only when the input ended and passed the size checks.
    completed: oneshot::Receiver<u64>,
    md5: oneshot::Receiver<io::Result<(String, Option<Inspection>)>>,
    multihash: oneshot::Receiver<io::Result<String>>,
}

impl IngestHandle {
    /// Waits for the hash threads. Call after the store's `put` returned `Ok`; fails
    /// if the wrapped stream was not read to its end.
    pub async fn finish(self) -> Result<Ingested, StoreError> {
        let size = self.completed.await.map_err(|_| {
            StoreError::Io(io::Error::other("upload stream was not read to its end"))
        })?;
        let lost = |_| StoreError::Io(io::Error::other("hash worker stopped"));
        let (checksum, inspection) = self.md5.await.map_err(lost)??;
        let os_hash_value = self.multihash.await.map_err(lost)??;
        Ok(Ingested {
            size,
            checksum,
            os_hash_algo: self.algo.as_str().to_owned(),
            os_hash_value,
            inspection,
        })
    }
}

/// Wraps an upload stream. The returned stream yields the input's chunks unchanged,
/// or ends with `SizeLimitExceeded` / `SizeMismatch` so the store aborts; the handle
/// gives the size, digests and inspection afterwards.
pub fn ingest(input: ByteStream, cfg: IngestConfig) -> (ByteStream, IngestHandle) {
    let (completed_tx, completed) = oneshot::channel();
    let started = spawn_md5(cfg.inspect).and_then(|md5| Ok((md5, spawn_multihash(cfg.hash_algo)?)));
    let ((md5_tx, md5), (multi_tx, multihash)) = match started {
        Ok(workers) => workers,
        Err(err) => return refused(err, cfg.hash_algo),
    };
    let pump = Pump {
        input,
        hashers: Some([md5_tx, multi_tx]),
        batch: Vec::new(),
        batch_len: 0,
        pieces: Coalescer::default(),
        ready: VecDeque::new(),
        size: 0,
        cfg,
        completed: Some(completed_tx),
        done: false,
    };
    let handle = IngestHandle {
        algo: cfg.hash_algo,
        completed,
        md5,
        multihash,
    };
    // Fused: a store may ask again once the data has ended.
    (stream::unfold(pump, Pump::step).fuse().boxed(), handle)
}

/// The answer when the hash threads could not be started: a stream that fails at
/// once, and a handle whose `finish` fails.
fn refused(err: io::Error, algo: HashAlgo) -> (ByteStream, IngestHandle) {
    let handle = IngestHandle {
        algo,
        completed: oneshot::channel().1,
        md5: oneshot::channel().1,
        multihash: oneshot::channel().1,
    };
    let stream = stream::once(async move { Err(StoreError::Io(err)) }).boxed();
    (stream, handle)
}

type Spawned<T> = io::Result<(mpsc::Sender<Batch>, oneshot::Receiver<io::Result<T>>)>;

fn spawn_md5(inspect: bool) -> Spawned<(String, Option<Inspection>)> {
    let mut md5 = HashAlgo::Md5.hasher()?;
    spawn_worker("glint-md5", move |rx| {
        let mut inspector = inspect.then(Inspector::new);
        // The inspector rides on the md5 thread: md5 is the faster hash, and after
        // the first MiBs inspection only counts bytes.
        drain(rx, |chunk| {
            if let Some(inspector) = inspector.as_mut() {
                inspector.feed(chunk);
            }
            md5.update(chunk)
        })?;
        Ok((md5.finish_hex()?, inspector.map(Inspector::finish)))
    })
}

fn spawn_multihash(algo: HashAlgo) -> Spawned<String> {
    let mut hasher = algo.hasher()?;
    spawn_worker("glint-multihash", move |rx| {
        drain(rx, |chunk| hasher.update(chunk))?;
        hasher.finish_hex()
    })
}

fn spawn_worker<T, F>(name: &str, work: F) -> Spawned<T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Receiver<Batch>) -> io::Result<T> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(BATCH_QUEUE);
    let (result_tx, result_rx) = oneshot::channel();
    let span = tracing::Span::current();
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _span = span.entered();
            // Nobody waiting for the result means the upload failed; nothing to do.
            let _ = result_tx.send(work(rx));
        })?;
    Ok((tx, result_rx))
}

/// Runs until the sender is dropped, which happens at the end of the upload or when
/// it is abandoned. A failed update stops the worker: the dropped receiver makes
/// the upload fail at its next batch.
fn drain(
    mut rx: mpsc::Receiver<Batch>,
    mut update: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    while let Some(batch) = rx.blocking_recv() {
        for chunk in &batch {
            update(chunk)?;
        }
    }
    Ok(())
}

/// The state behind the wrapped stream.
struct Pump {
    input: ByteStream,
    /// md5 then multihash; dropped at the end so the threads finish.
    hashers: Option<[mpsc::Sender<Batch>; 2]>,
    batch: Batch,
    batch_len: usize,
    /// Regroups tiny input chunks; the output is the same bytes in these pieces.
    pieces: Coalescer,
    /// Pieces hashed (or queued for it) and not yet handed downstream.
    ready: VecDeque<Bytes>,
    size: u64,
    cfg: IngestConfig,
    completed: Option<oneshot::Sender<u64>>,
    done: bool,
}

impl Pump {
    async fn step(mut self) -> Option<(Result<Bytes, StoreError>, Self)> {
        loop {
            if let Some(piece) = self.ready.pop_front() {
                return Some((Ok(piece), self));
            }
            if self.done {
                return None;
            }
            let result = match self.input.next().await {
                Some(Ok(chunk)) => self.accept(chunk).await,
                Some(Err(err)) => Err(err),
                None => self.end().await,
            };
            if let Err(err) = result {
                // Stop here: a store must not see data after an error, and dropping
                // the senders lets the hash threads exit.
                self.done = true;
                self.hashers = None;
                self.ready.clear();
                return Some((Err(err), self));
            }
        }
    }

    async fn accept(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.size = self.size.saturating_add(chunk.len() as u64);
        if self.size > self.cfg.size_cap {
            return Err(StoreError::SizeLimitExceeded {
                limit: self.cfg.size_cap,
            });
        }
        if let Some(expected) = self.cfg.expected_size.filter(|&e| self.size > e) {
            // Already too long: no need to store the rest before saying so.
            return Err(StoreError::SizeMismatch {
                expected,
                actual: self.size,
            });
        }
        for piece in self.pieces.push(chunk).into_iter().flatten() {
            self.queue(piece).await?;
        }
        Ok(())
    }

    async fn queue(&mut self, piece: Bytes) -> Result<(), StoreError> {
        self.batch_len += piece.len();
        self.batch.push(piece.clone());
        self.ready.push_back(piece);
        if self.batch_len >= BATCH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn end(&mut self) -> Result<(), StoreError> {
        if let Some(expected) = self.cfg.expected_size.filter(|&e| e != self.size) {
            return Err(StoreError::SizeMismatch {
                expected,
                actual: self.size,
            });
        }
        if let Some(last) = self.pieces.finish() {
            self.queue(last).await?;
        }
        self.flush().await?;
        self.hashers = None;
        self.done = true;
        if let Some(completed) = self.completed.take() {
            // The handle may already be gone; then nobody wants the result.
            let _ = completed.send(self.size);
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_len = 0;
        let Some([md5, multihash]) = &self.hashers else {
            return Ok(());
        };
        let sent = md5.send(batch.clone()).await.is_ok() && multihash.send(batch).await.is_ok();
        if sent {
            Ok(())
        } else {
            Err(StoreError::Io(io::Error::other("hash worker stopped")))
        }
    }
}
