//! Image data storage for glint. This crate owns the object-safe [`Store`] trait
//! (put a stream, get a location or a range of it as a stream, delete), its
//! backends (`file`, `swift`, `s3`, `rbd`, `http`, and `memory` for tests), the [`ingest`] wrapper that counts,
//! hashes (md5 and the `os_hash_algo` multihash) and inspects every uploaded byte
//! exactly once before any store sees it, the [`StoreRegistry`] of named
//! stores, and the files of the node-local image cache ([`ImageCache`]: serving
//! cached data, and the write-through fill that caches a download only once it
//! has been read whole and verified), and the [`WebFetcher`] that downloads
//! an image for an import from a URL [`ImportFilter`] lets through, and the
//! bounded [`archive`] readers of the import's decompression. It streams: memory per transfer is a few buffers whatever the image
//! size. It depends on the domain model and the format inspector only, and must not
//! import the database, the HTTP layer (axum) or the core use cases.

pub mod archive;
mod cache;
mod chunks;
mod fetch;
mod file;
mod hash;
mod http;
mod ingest;
mod memory;
mod rbd;
mod registry;
mod s3;
mod secret;
mod store;
mod swift;

pub use cache::{CacheFile, CacheStats, Cleaned, Expected, FillCommit, ImageCache};
pub use fetch::{
    Download, FetchError, ImportFilter, ImportFilterLists, InvalidFilter, WebFetcher,
    special_purpose,
};
pub use file::{FileStore, ReadStrategy, WriteStrategy};
pub use hash::{HashAlgo, UnknownHashAlgo};
pub use http::{HttpStore, redact_url};
pub use ingest::{IngestConfig, IngestHandle, Ingested, ingest};
pub use memory::MemoryStore;
pub use rbd::*;
pub use registry::{PropertyValue, StoreEntry, StoreMeta, StoreRegistry};
pub use s3::*;
pub use secret::Secret;
pub use store::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};
pub use swift::*;
