//! The storage contract every backend implements.

use bytes::Bytes;
use futures::stream::BoxStream;
use glint_model::ImageId;

/// Image bytes in flight. Chunks arrive in order; an `Err` item ends the transfer.
pub type ByteStream = BoxStream<'static, Result<Bytes, StoreError>>;

/// An inclusive byte range, as in an HTTP `Range: bytes=start-end` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Inclusive; may point past the end of the object, in which case it is clamped.
    pub end: u64,
}

impl ByteRange {
    /// Fits a requested range to an object of `size` bytes: the end is clamped to the
    /// last byte; a range starting at or past the end (or reversed) is refused.
    pub fn clamp_to(self, size: u64) -> Result<ByteRange, StoreError> {
        if self.start >= size || self.start > self.end {
            return Err(StoreError::InvalidRange);
        }
        Ok(ByteRange {
            start: self.start,
            end: self.end.min(size - 1),
        })
    }

    /// Number of bytes the range covers.
    pub fn length(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// Where a `put` left the data, and how much there was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The location URL recorded in the image's `locations`.
    pub url: String,
    pub size: u64,
}

/// The answer to a `get`.
pub struct ObjectData {
    pub stream: ByteStream,
    /// Size of the whole object, whatever range was asked for.
    pub total_size: u64,
    /// What the stream covers when a range was asked for (the end clamped).
    pub range: Option<ByteRange>,
}

impl std::fmt::Debug for ObjectData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectData")
            .field("total_size", &self.total_size)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no image data at {0}")]
    NotFound(String),
    #[error("image data exceeds the size limit of {limit} bytes")]
    SizeLimitExceeded { limit: u64 },
    #[error("image data is {actual} bytes, expected {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
    /// The client's data stream failed or was cut short.
    #[error("image data source failed: {0}")]
    Source(String),
    #[error("requested range not satisfiable")]
    InvalidRange,
    #[error("invalid location: {0}")]
    InvalidLocation(String),
    #[error("store is full")]
    StorageFull,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The data cannot be removed while something depends on it (an RBD
    /// snapshot with clones); Glance answers 409 `In use`.
    #[error("image data is in use: {0}")]
    InUse(String),
    /// The store only reads (the http store).
    #[error("store {0} is read-only")]
    ReadOnly(String),
    /// The store refused the request: bad credentials, a missing container or
    /// bucket it may not create, a request it does not allow. An operator
    /// matter; the message never holds a secret.
    #[error("store refused the request: {0}")]
    Refused(String),
    /// A store's settings cannot work; found when the store is built.
    #[error("invalid store configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Maps an I/O error, keeping out-of-space conditions distinct so the API can
    /// answer 413 rather than 500.
    pub(crate) fn from_io(err: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match err.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => StoreError::StorageFull,
            _ => StoreError::Io(err),
        }
    }
}

/// A place image data lives. Object-safe: the service holds `Arc<dyn Store>`.
/// Hashing, size limits and inspection are not a backend's business: they wrap the
/// stream before it reaches `put` (see [`crate::ingest`]).
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The store id (`file`, or the `enabled_backends` name).
    fn id(&self) -> &str;

    /// Whether a location URL belongs to this store.
    fn owns(&self, url: &str) -> bool;

    /// Streams `data` into the store. On any error, including an `Err` item from
    /// `data`, or if the future is dropped, nothing is left behind.
    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError>;

    /// Streams an object, or a range of it: `InvalidRange` if the range starts at or
    /// past the end; the end is clamped to the last byte.
    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError>;

    /// Size in bytes of the object at a location, without reading it; used
    /// when a location is added to an image. `NotFound` if it is not there.
    async fn size(&self, url: &str) -> Result<u64, StoreError> {
        Ok(self.get(url, None).await?.total_size)
    }

    /// Removes an object; `NotFound` if it is not there.
    async fn delete(&self, url: &str) -> Result<(), StoreError>;

    /// Removes whatever this store holds for an image, complete or partial. Used to
    /// reconcile uploads a dead process left behind; `Ok` when there is nothing.
    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError>;

    /// Whether the store can be reached and used, found without moving any
    /// image data: one small request (the data directory's metadata, a
    /// `HEAD` of the container or bucket). The health check asks it. The
    /// default answers yes, for stores with nothing of their own to reach
    /// (memory; http, whose locations may be anywhere).
    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_end_is_clamped_to_last_byte() {
        let r = ByteRange { start: 5, end: 100 }.clamp_to(10).unwrap();
        assert_eq!(r, ByteRange { start: 5, end: 9 });
        assert_eq!(r.length(), 5);
    }

    #[test]
    fn range_starting_at_or_past_end_is_invalid() {
        for (start, end, size) in [(10, 20, 10), (11, 20, 10), (0, 0, 0), (5, 4, 10)] {
            let r = ByteRange { start, end }.clamp_to(size);
            assert!(
                matches!(r, Err(StoreError::InvalidRange)),
                "{start}-{end}/{size}"
            );
        }
    }
}
