//! The s3 store: image data as objects named by image id in one bucket of an
//! S3 server (AWS, Ceph radosgw, Swift's s3api, ...), over SigV4-signed
//! HTTP. Locations are `s3://<host[:port]>/<bucket>/<image id>` (or
//! `s3+https://…` for an https host) and never hold credentials.
//!
//! Nothing is sent at construction: the store starts while the server is
//! down, answers `Unavailable` while it cannot be reached, and works again
//! once it is back.

mod client;
mod config;
mod endpoint;
mod ops;
mod sign;
mod upload;
mod xml;

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt, stream};
use glint_model::ImageId;
use reqwest::{Method, StatusCode};

use self::client::{Client, Failure, Payload};
use self::endpoint::{Endpoint, parse_location};
use self::upload::{Limits, PartGauge};
use crate::store::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};

pub use config::*;

/// S3's smallest part (but the last), which glance_store also requires of
/// `s3_store_large_object_chunk_size`.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

#[derive(Debug)]
pub struct S3Store {
    id: String,
    client: Arc<Client>,
    limits: Limits,
    gauge: Arc<PartGauge>,
}

impl S3Store {
    /// Checks the config and builds the client; sends nothing.
    pub fn new(id: &str, config: S3Config) -> Result<Self, StoreError> {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&config.large_object_chunk_size) {
            return Err(StoreError::Config(format!(
                "s3_store_large_object_chunk_size must be between 5 MiB and 5 GiB, not {} bytes",
                config.large_object_chunk_size
            )));
        }
        if config.thread_pools == 0 {
            return Err(StoreError::Config(
                "s3_store_thread_pools must be a positive integer".to_owned(),
            ));
        }
        let part_size = usize::try_from(config.large_object_chunk_size).map_err(|_| {
            StoreError::Config("s3_store_large_object_chunk_size is too large".to_owned())
        })?;
        let endpoint = Endpoint::new(&config)?;
        let limits = Limits {
            large_object_size: config.large_object_size,
            part_size,
            max_in_flight: config.thread_pools,
            create_bucket: config.create_bucket_on_put,
        };
        Ok(Self {
            id: id.to_owned(),
            client: Arc::new(Client::new(&config, endpoint)?),
            limits,
            gauge: Arc::default(),
        })
    }

    /// The most multipart parts this store has had in flight at once, over
    /// all its uploads so far; never more than `thread_pools` per upload.
    pub fn peak_parts_in_flight(&self) -> usize {
        self.gauge.peak()
    }

    /// Every object key in the bucket (none if the bucket does not exist),
    /// for operators' checks and tests.
    pub async fn keys(&self) -> Result<Vec<String>, StoreError> {
        match self.client.list_keys("").await {
            Err(f) if f.is("NoSuchBucket") => Ok(Vec::new()),
            other => other.map_err(|f| self.error(f, "listing of the bucket")),
        }
    }

    /// The keys of the multipart uploads in progress in the bucket.
    pub async fn pending_uploads(&self) -> Result<Vec<String>, StoreError> {
        match self.client.list_uploads("").await {
            Err(f) if f.is("NoSuchBucket") => Ok(Vec::new()),
            other => other
                .map(|uploads| uploads.into_iter().map(|(key, _)| key).collect())
                .map_err(|f| self.error(f, "listing of multipart uploads")),
        }
    }

    /// Removes the bucket, which must be empty; one that does not exist is
    /// fine.
    pub async fn delete_bucket(&self) -> Result<(), StoreError> {
        match self.client.delete_bucket().await {
            Err(f) if f.is("NoSuchBucket") => Ok(()),
            other => other.map_err(|f| self.error(f, "delete of the bucket")),
        }
    }

    fn no_length(&self, key: &str) -> StoreError {
        StoreError::Unavailable(format!(
            "S3 at {} answered a GET of {key} without its length",
            self.client.host()
        ))
    }

    fn error(&self, failure: Failure, what: &str) -> StoreError {
        failure.into_store_error(self.client.host(), what)
    }

    /// The key of a location this store owns.
    fn key_of(&self, url: &str) -> Result<String, StoreError> {
        parse_location(url)
            .filter(|loc| self.client.endpoint.owns(loc))
            .map(|loc| loc.key)
            .ok_or_else(|| StoreError::InvalidLocation(url.to_owned()))
    }

    /// HEAD of a location: its size, `NotFound` if it is not there.
    async fn head(&self, url: &str, key: &str) -> Result<u64, StoreError> {
        match self.client.head_object(key).await {
            Err(f) if f.is_not_found() => Err(StoreError::NotFound(url.to_owned())),
            other => other.map_err(|f| self.error(f, &format!("HEAD of {key}"))),
        }
    }
}

#[async_trait::async_trait]
impl Store for S3Store {
    fn id(&self) -> &str {
        &self.id
    }

    fn owns(&self, url: &str) -> bool {
        self.key_of(url).is_ok()
    }

    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        let key = image_id.to_string();
        let size = upload::upload(&self.client, &key, data, &self.limits, &self.gauge).await?;
        Ok(Stored {
            url: self.client.endpoint.location(&key),
            size,
        })
    }

    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        let key = self.key_of(url)?;
        // No object can be this long; a server could misread such an offset.
        if let Some(r) = range
            && r.start > i64::MAX as u64
        {
            let size = self.head(url, &key).await?;
            r.clamp_to(size)?;
        }
        let headers: Vec<(&'static str, String)> = match range {
            Some(r) if r.end >= i64::MAX as u64 => vec![("range", format!("bytes={}-", r.start))],
            Some(r) => vec![("range", format!("bytes={}-{}", r.start, r.end))],
            None => Vec::new(),
        };
        let response = match self
            .client
            .send(Method::GET, Some(&key), &[], &headers, Payload::Empty)
            .await
        {
            Ok(response) => response,
            Err(f) if f.is_not_found() => return Err(StoreError::NotFound(url.to_owned())),
            Err(f) => return Err(self.error(f, &format!("GET of {key}"))),
        };
        let host = self.client.host().to_owned();
        let what = format!("reading {key} from S3 at {host}");
        let partial = response.status() == StatusCode::PARTIAL_CONTENT;
        let content_range = response
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range);
        let length = response.content_length();
        let body: ByteStream = response
            .bytes_stream()
            .map_err(move |e| StoreError::Unavailable(format!("{what}: {e}")))
            .boxed();
        match (range, partial, content_range) {
            (None, false, _) => Ok(ObjectData {
                stream: body,
                total_size: length.ok_or_else(|| self.no_length(&key))?,
                range: None,
            }),
            (Some(_), true, Some((start, end, total))) => Ok(ObjectData {
                stream: body,
                total_size: total,
                range: Some(ByteRange { start, end }),
            }),
            // The server sent the whole object although a range was asked
            // for: cut the range out of it.
            (Some(r), false, _) => {
                let total = length.ok_or_else(|| self.no_length(&key))?;
                let r = r.clamp_to(total)?;
                Ok(ObjectData {
                    stream: slice_stream(body, r),
                    total_size: total,
                    range: Some(r),
                })
            }
            _ => Err(StoreError::Unavailable(format!(
                "S3 at {host} answered a GET of {key} with a partial body that does not say \
                 what it holds"
            ))),
        }
    }

    async fn size(&self, url: &str) -> Result<u64, StoreError> {
        let key = self.key_of(url)?;
        self.head(url, &key).await
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        let key = self.key_of(url)?;
        // S3 deletes an absent key without complaint; the contract says
        // NotFound, as glance_store checks too.
        self.head(url, &key).await?;
        match self.client.delete_object(&key).await {
            Err(f) if f.is_not_found() => Err(StoreError::NotFound(url.to_owned())),
            other => other.map_err(|f| self.error(f, &format!("delete of {key}"))),
        }
    }

    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        let key = image_id.to_string();
        match self.client.delete_object(&key).await {
            Ok(()) => {}
            Err(f) if f.is_not_found() => return Ok(()),
            Err(f) => return Err(self.error(f, &format!("delete of {key}"))),
        }
        let uploads = match self.client.list_uploads(&key).await {
            Ok(uploads) => uploads,
            // Servers without ListMultipartUploads: nothing more can be found.
            Err(f)
                if f.is("NotImplemented")
                    || f.status == Some(StatusCode::NOT_IMPLEMENTED)
                    || f.status == Some(StatusCode::METHOD_NOT_ALLOWED) =>
            {
                return Ok(());
            }
            Err(f) => return Err(self.error(f, "listing of multipart uploads")),
        };
        for (_, upload_id) in uploads.iter().filter(|(k, _)| *k == key) {
            self.client
                .abort_multipart(&key, upload_id)
                .await
                .map_err(|f| self.error(f, &format!("abort of the upload of {key}")))?;
        }
        Ok(())
    }

    /// A `HEAD` of the bucket. A missing bucket is fine when the first
    /// upload creates it (`s3_store_create_bucket_on_put`).
    async fn check(&self) -> Result<(), StoreError> {
        let bucket = &self.client.endpoint.bucket;
        match self
            .client
            .send(Method::HEAD, None, &[], &[], Payload::Empty)
            .await
        {
            Ok(_) => Ok(()),
            Err(f) if f.is_not_found() && self.limits.create_bucket => Ok(()),
            Err(f) if f.is_not_found() => Err(StoreError::Refused(format!(
                "bucket {bucket} does not exist on S3 at {}",
                self.client.host()
            ))),
            Err(f) => Err(self.error(f, &format!("HEAD of bucket {bucket}"))),
        }
    }
}

/// `bytes <start>-<end>/<total>`.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let spec = value.trim().strip_prefix("bytes ")?;
    let (span, total) = spec.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    Some((
        start.trim().parse().ok()?,
        end.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

/// The bytes of `range` out of a stream of the whole object; stops reading
/// once the range is complete.
fn slice_stream(body: ByteStream, range: ByteRange) -> ByteStream {
    let state = (body, range.start, range.length());
    stream::try_unfold(state, |(mut body, mut skip, mut left)| async move {
        while left > 0 {
            let Some(mut chunk) = body.next().await.transpose()? else {
                break;
            };
            let len = chunk.len() as u64;
            if skip >= len {
                skip -= len;
                continue;
            }
            let piece = chunk.split_off(skip as usize);
            let piece = if (piece.len() as u64) > left {
                piece.slice(..left as usize)
            } else {
                piece
            };
            skip = 0;
            left -= piece.len() as u64;
            return Ok(Some((piece, (body, skip, left))));
        }
        Ok(None)
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn content_range_is_read() {
        assert_eq!(parse_content_range("bytes 0-9/100"), Some((0, 9, 100)));
        assert_eq!(parse_content_range("bytes */100"), None);
    }

    #[tokio::test]
    async fn a_range_is_cut_out_of_a_whole_body() {
        let data: Vec<u8> = (0..100).collect();
        let chunks: Vec<Result<Bytes, StoreError>> = data
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let body = stream::iter(chunks).boxed();
        let got: Vec<Bytes> = slice_stream(body, ByteRange { start: 10, end: 55 })
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.concat(), &data[10..=55]);
    }

    #[test]
    fn a_bad_chunk_size_is_refused_at_start() {
        let mut config = S3Config::new("127.0.0.1:1", "a", crate::Secret::new("s"), "b");
        config.large_object_chunk_size = 1024;
        let err = S3Store::new("s3", config).unwrap_err();
        assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    }
}
