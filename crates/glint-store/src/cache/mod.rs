//! The image cache's files: a node-local copy of image data, laid out as
//! Glance lays out `image_cache_dir`. Complete, verified images are
//! `<dir>/<image id>`; an image being written is under `incomplete/`; one
//! that failed its verification is moved to `invalid/` until cleaned.
//!
//! This module owns only the files: serving them (a range included), the
//! write-through fill that caches a download while it is sent
//! ([`ImageCache::fill`]), removal, and cleaning. Which entries are valid,
//! how often they were served and which go when the cache is too big are
//! the use cases' decisions, recorded in the database; the fill asks them,
//! through [`FillCommit`], before it puts an entry in place.

mod fill;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use glint_model::ImageId;

use crate::WriteStrategy;
use crate::file::FileStore;
use crate::store::{ByteRange, ObjectData, Store, StoreError};

pub use fill::{Expected, FillCommit};

const INCOMPLETE: &str = "incomplete";
const INVALID: &str = "invalid";

/// Counters of the cache, for metrics: read at any time, never reset.
#[derive(Debug, Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
    bytes_served: AtomicU64,
    fills: AtomicU64,
    rejected: AtomicU64,
}

impl CacheStats {
    /// Downloads served from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Downloads of a cacheable image that the cache could not serve.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Bytes sent from cached files.
    pub fn bytes_served(&self) -> u64 {
        self.bytes_served.load(Ordering::Relaxed)
    }

    /// Images put in the cache.
    pub fn fills(&self) -> u64 {
        self.fills.load(Ordering::Relaxed)
    }

    /// Fills whose data did not match the image's size or checksums.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    pub fn record_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
}

/// A complete image file in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheFile {
    pub image: ImageId,
    pub size: u64,
}

/// What [`ImageCache::clean`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// Files of `invalid/`.
    pub invalid: usize,
    /// Files of `incomplete/` untouched for longer than the stall time.
    pub stalled: usize,
}

/// One node's image cache directory.
#[derive(Debug)]
pub struct ImageCache {
    root: PathBuf,
    incomplete: PathBuf,
    invalid: PathBuf,
    /// Serves the complete files of `root`.
    files: FileStore,
    /// Writes fills into `incomplete/`.
    writer: FileStore,
    /// Images being filled now, each with the flag that cancels its commit.
    filling: Mutex<HashMap<ImageId, Arc<AtomicBool>>>,
    stats: Arc<CacheStats>,
}

impl ImageCache {
    /// Opens the cache at `root`, creating it and its `incomplete/` and
    /// `invalid/` directories if needed.
    pub fn open(root: &Path, write: WriteStrategy) -> Result<ImageCache, StoreError> {
        let files = FileStore::new("cache", root.to_path_buf())?;
        let root = files.datadir().to_path_buf();
        let incomplete = root.join(INCOMPLETE);
        let invalid = root.join(INVALID);
        std::fs::create_dir_all(&invalid)?;
        let writer = FileStore::new("cache", incomplete.clone())?.with_write_strategy(write);
        Ok(ImageCache {
            root,
            incomplete,
            invalid,
            files,
            writer,
            filling: Mutex::new(HashMap::new()),
            stats: Arc::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.stats
    }

    /// The cached data of `image`, or the `range` of it; `None` when the
    /// cache holds no file for it.
    pub async fn read(
        &self,
        image: ImageId,
        range: Option<ByteRange>,
    ) -> Result<Option<ObjectData>, StoreError> {
        let data = match self.files.get(&self.files.url_for(image), range).await {
            Ok(data) => data,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let stats = Arc::clone(&self.stats);
        let stream = data
            .stream
            .inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    stats
                        .bytes_served
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
            })
            .boxed();
        Ok(Some(ObjectData { stream, ..data }))
    }

    /// Whether a fill of `image` is running.
    pub fn is_filling(&self, image: ImageId) -> bool {
        self.filling_map().contains_key(&image)
    }

    /// Removes the cached file of `image`, and makes a fill of it that is
    /// running now end without putting its file in place; `false` when
    /// there was no file.
    pub async fn remove(&self, image: ImageId) -> Result<bool, StoreError> {
        if let Some(cancel) = self.filling_map().get(&image) {
            cancel.store(true, Ordering::Relaxed);
        }
        let path = self.root.join(image.to_string());
        blocking(move || remove_if_present(&path)).await
    }

    /// The complete files of the cache: files of the cache directory named
    /// by an image id (anything else there is not the cache's).
    pub async fn files(&self) -> Result<Vec<CacheFile>, StoreError> {
        let root = self.root.clone();
        blocking(move || {
            let mut found = Vec::new();
            for entry in std::fs::read_dir(&root)? {
                let entry = entry?;
                let Some(image) = entry.file_name().to_str().and_then(ImageId::parse) else {
                    continue;
                };
                let meta = entry.metadata()?;
                if meta.is_file() {
                    found.push(CacheFile {
                        image,
                        size: meta.len(),
                    });
                }
            }
            Ok(found)
        })
        .await
    }

    /// Removes every file of `invalid/`, and the files of `incomplete/`
    /// last written before `now - stall_time`.
    pub async fn clean(
        &self,
        stall_time: Duration,
        now: SystemTime,
    ) -> Result<Cleaned, StoreError> {
        let (invalid, incomplete) = (self.invalid.clone(), self.incomplete.clone());
        let older_than = now
            .checked_sub(stall_time)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        blocking(move || {
            Ok(Cleaned {
                invalid: remove_files(&invalid, |_| true)?,
                stalled: remove_files(&incomplete, |modified| modified < older_than)?,
            })
        })
        .await
    }

    fn filling_map(&self) -> std::sync::MutexGuard<'_, HashMap<ImageId, Arc<AtomicBool>>> {
        // The map is only ever left consistent: recover it from a panic.
        self.filling.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn remove_if_present(path: &Path) -> Result<bool, StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::from_io(e)),
    }
}

/// Removes the regular files of `dir` whose modification time `doomed`
/// accepts; how many.
fn remove_files(dir: &Path, doomed: impl Fn(SystemTime) -> bool) -> Result<usize, StoreError> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StoreError::from_io(e)),
    };
    for entry in entries {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::from_io(e)),
        };
        if meta.is_file() && doomed(meta.modified()?) && remove_if_present(&entry.path())? {
            tracing::info!(path = %entry.path().display(), "removed a cache file");
            removed += 1;
        }
    }
    Ok(removed)
}

/// Runs blocking filesystem work off the async threads.
async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
}
