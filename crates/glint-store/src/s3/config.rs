//! The s3 store's settings, named after glance_store's options.

use std::path::PathBuf;

use crate::Secret;

/// `s3_store_bucket_url_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3UrlFormat {
    /// Virtual-hosted style unless the host is an IP address or the bucket
    /// name is not a valid host label (glance_store's `auto`).
    Auto,
    /// `https://host/bucket/key`.
    Path,
    /// `https://bucket.host/key`.
    Virtual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `s3_store_host`: a URL (`http://127.0.0.1:7480`) or a host name with an
    /// optional port.
    pub host: String,
    /// `s3_store_access_key`.
    pub access_key: String,
    /// `s3_store_secret_key`.
    pub secret_key: Secret,
    /// `s3_store_bucket`.
    pub bucket: String,
    /// `s3_store_create_bucket_on_put` (false).
    pub create_bucket_on_put: bool,
    /// `s3_store_bucket_url_format` (`auto`).
    pub bucket_url_format: S3UrlFormat,
    /// `s3_store_region_name` (empty: `us-east-1` for signing, and no
    /// LocationConstraint when a bucket is created).
    pub region_name: Option<String>,
    /// `s3_store_large_object_size` in bytes (glance_store: MiB, 100):
    /// images at least this big go up as a multipart upload.
    pub large_object_size: u64,
    /// `s3_store_large_object_chunk_size` in bytes (MiB, 10; S3's minimum
    /// part is 5 MiB): the part size.
    pub large_object_chunk_size: u64,
    /// `s3_store_thread_pools` (10): parts held at once, those in flight
    /// and the one being read, which bounds the memory of one upload to
    /// about this many parts.
    pub thread_pools: usize,
    /// `s3_store_cacert` (empty: the system's trusted roots): a PEM bundle
    /// that replaces the trusted roots for an `https` host.
    pub cacert: Option<PathBuf>,
}

impl S3Config {
    /// glance_store's defaults around the given endpoint and credentials.
    pub fn new(
        host: impl Into<String>,
        access_key: impl Into<String>,
        secret_key: Secret,
        bucket: impl Into<String>,
    ) -> Self {
        const MIB: u64 = 1024 * 1024;
        Self {
            host: host.into(),
            access_key: access_key.into(),
            secret_key,
            bucket: bucket.into(),
            create_bucket_on_put: false,
            bucket_url_format: S3UrlFormat::Auto,
            region_name: None,
            large_object_size: 100 * MIB,
            large_object_chunk_size: 10 * MIB,
            thread_pools: 10,
            cacert: None,
        }
    }
}
