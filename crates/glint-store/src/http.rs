//! The read-only `http` store: image data that lives on a web server, added
//! to an image as an `http://` or `https://` location. As in Glance it only
//! reads: uploads and deletes are refused, and deleting an image leaves the
//! remote object alone.

use std::time::Duration;

use futures::StreamExt;
use glint_model::ImageId;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};

use crate::store::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};

/// Redirects followed before giving up, as glance_store does.
const MAX_REDIRECTS: usize = 5;
/// How long a web server may leave a request without a byte of answer.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct HttpStore {
    id: String,
    client: reqwest::Client,
}

impl HttpStore {
    /// A store that fetches locations with a connect timeout of
    /// `connect_timeout`; it contacts nothing until a location is read.
    pub fn new(id: impl Into<String>, connect_timeout: Duration) -> Result<Self, StoreError> {
        Self::with_timeouts(id, connect_timeout, READ_TIMEOUT)
    }

    /// As [`HttpStore::new`], failing a request whose server sends nothing
    /// for `read_timeout` (120 s by default).
    pub fn with_timeouts(
        id: impl Into<String>,
        connect_timeout: Duration,
        read_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            id: id.into(),
            client,
        })
    }

    fn check(&self, url: &str) -> Result<(), StoreError> {
        if self.owns(url) {
            Ok(())
        } else {
            Err(StoreError::InvalidLocation(url.to_owned()))
        }
    }

    /// Turns an answer that is not a success into the store's error.
    fn refusal(url: &str, status: StatusCode) -> StoreError {
        match status {
            StatusCode::NOT_FOUND | StatusCode::GONE => StoreError::NotFound(url.to_owned()),
            StatusCode::RANGE_NOT_SATISFIABLE => StoreError::InvalidRange,
            s if s.is_server_error() => {
                StoreError::Unavailable(format!("{} answered {s}", redacted(url)))
            }
            s => StoreError::Refused(format!("{} answered {s}", redacted(url))),
        }
    }

    fn unreachable(url: &str, err: &reqwest::Error) -> StoreError {
        // reqwest's message names the URL, which may hold credentials.
        let why = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "cannot connect"
        } else if err.is_redirect() {
            "too many redirects"
        } else {
            "request failed"
        };
        StoreError::Unavailable(format!("{}: {why}", redacted(url)))
    }
}

/// A URL without its user information, for messages; `None` when it does
/// not parse as a URL.
pub fn redact_url(url: &str) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    Some(parsed.to_string())
}

fn redacted(url: &str) -> String {
    redact_url(url).unwrap_or_else(|| "an invalid URL".to_owned())
}

/// The total size from `Content-Range: bytes a-b/total`.
fn total_from_content_range(value: &str) -> Option<u64> {
    value.rsplit_once('/')?.1.trim().parse().ok()
}

fn header_u64(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<u64> {
    response
        .headers()
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[async_trait::async_trait]
impl Store for HttpStore {
    fn id(&self) -> &str {
        &self.id
    }

    fn owns(&self, url: &str) -> bool {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    }

    async fn put(&self, _image_id: ImageId, _data: ByteStream) -> Result<Stored, StoreError> {
        Err(StoreError::ReadOnly(self.id.clone()))
    }

    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        self.check(url)?;
        let mut request = self.client.get(url);
        if let Some(r) = range {
            request = request.header(RANGE, format!("bytes={}-{}", r.start, r.end));
        }
        let response = request
            .send()
            .await
            .map_err(|e| Self::unreachable(url, &e))?;
        let status = response.status();
        let (total_size, skip, served) = match status {
            StatusCode::PARTIAL_CONTENT => {
                let total = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(total_from_content_range)
                    .ok_or_else(|| {
                        StoreError::Unavailable(format!(
                            "{} answered 206 without a usable Content-Range",
                            redacted(url)
                        ))
                    })?;
                let r = range.ok_or(StoreError::InvalidRange)?.clamp_to(total)?;
                (total, 0, Some(r))
            }
            StatusCode::OK => {
                let total = header_u64(&response, CONTENT_LENGTH).ok_or_else(|| {
                    StoreError::Unavailable(format!(
                        "{} does not say how big the image is (no Content-Length)",
                        redacted(url)
                    ))
                })?;
                // A server that ignores ranges sends everything: skip to
                // the range here.
                match range {
                    Some(r) => {
                        let r = r.clamp_to(total)?;
                        (total, r.start, Some(r))
                    }
                    None => (total, 0, None),
                }
            }
            other => return Err(Self::refusal(url, other)),
        };
        let wanted = served.map_or(total_size, |r| r.length());
        let stream = window(response.bytes_stream(), skip, wanted);
        Ok(ObjectData {
            stream,
            total_size,
            range: served,
        })
    }

    async fn size(&self, url: &str) -> Result<u64, StoreError> {
        self.check(url)?;
        let response = self
            .client
            .head(url)
            .send()
            .await
            .map_err(|e| Self::unreachable(url, &e))?;
        if !response.status().is_success() {
            return Err(Self::refusal(url, response.status()));
        }
        header_u64(&response, CONTENT_LENGTH).ok_or_else(|| {
            StoreError::Unavailable(format!(
                "{} does not say how big the image is (no Content-Length)",
                redacted(url)
            ))
        })
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        self.check(url)?;
        Err(StoreError::ReadOnly(self.id.clone()))
    }

    async fn discard(&self, _image_id: ImageId) -> Result<(), StoreError> {
        Ok(())
    }
}

/// `len` bytes of a body after skipping `skip`; a body that ends early is an
/// error rather than a short image.
fn window<S>(body: S, skip: u64, len: u64) -> ByteStream
where
    S: futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
{
    let state = (Box::pin(body), skip, len);
    futures::stream::unfold(state, |(mut body, mut skip, mut left)| async move {
        while left > 0 {
            match body.next().await {
                Some(Ok(mut chunk)) => {
                    if skip > 0 {
                        let n = skip.min(chunk.len() as u64);
                        skip -= n;
                        let _ = chunk.split_to(n as usize);
                    }
                    if chunk.is_empty() {
                        continue;
                    }
                    if chunk.len() as u64 > left {
                        chunk.truncate(left as usize);
                    }
                    left -= chunk.len() as u64;
                    return Some((Ok(chunk), (body, skip, left)));
                }
                Some(Err(e)) => {
                    let err = StoreError::Unavailable(format!(
                        "image download broke off: {}",
                        e.without_url()
                    ));
                    return Some((Err(err), (body, skip, 0)));
                }
                None => {
                    let err =
                        StoreError::Unavailable(format!("image data ended {left} bytes early"));
                    return Some((Err(err), (body, skip, 0)));
                }
            }
        }
        None
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_size_comes_from_content_range() {
        assert_eq!(total_from_content_range("bytes 0-9/100"), Some(100));
        assert_eq!(total_from_content_range("bytes 0-9/*"), None);
        assert_eq!(total_from_content_range("garbage"), None);
    }

    #[test]
    fn credentials_never_reach_a_message() {
        let shown = redacted("https://user:hunter2@example.com/img.qcow2");
        assert_eq!(shown, "https://example.com/img.qcow2");
        assert!(!redacted("not a url").contains("not"));
    }

    #[test]
    fn owns_http_and_https_only() {
        let store = HttpStore::new("web", Duration::from_secs(1)).unwrap();
        assert!(store.owns("http://x/y"));
        assert!(store.owns("HTTPS://x/y"));
        assert!(!store.owns("file:///x"));
        assert!(!store.owns("rbd://a/b/c/snap"));
    }
}
