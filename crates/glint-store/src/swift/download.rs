//! Reading objects, whole or by range, and their size.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, HeaderMap, RANGE};
use reqwest::{Method, Response, StatusCode};

use super::answers::unexpected_status;
use super::http::{Swift, object_url};
use super::location::ObjectPath;
use crate::{ByteRange, ByteStream, ObjectData, StoreError};

/// Range ends past this are sent open-ended (`bytes=N-`): no object is that
/// big, and some servers mishandle numbers that do not fit an i64.
const HUGE: u64 = i64::MAX as u64;

/// Size of an object from a HEAD; `NotFound` when it is not there.
pub(crate) async fn size(swift: &Swift, path: &ObjectPath, url: &str) -> Result<u64, StoreError> {
    let what = format!("reading the size of {url}");
    let response = swift
        .object_request(
            Method::HEAD,
            &path.container,
            Some(&path.object),
            &[],
            &what,
        )
        .await?;
    match response.status() {
        StatusCode::NOT_FOUND => Err(StoreError::NotFound(url.to_owned())),
        status if status.is_success() => content_length(response.headers(), &what),
        _ => Err(unexpected_status(&what, response).await),
    }
}

/// Streams an object or a range of it. A download that breaks is resumed,
/// with a `Range` from where it stopped, up to `retries` times.
pub(crate) async fn get(
    swift: Arc<Swift>,
    path: ObjectPath,
    url: &str,
    range: Option<ByteRange>,
    retries: u32,
) -> Result<ObjectData, StoreError> {
    if let Some(r) = range
        && (r.start > HUGE || r.start > r.end)
    {
        // Past the end of any object: only whether it exists is left to say.
        size(&swift, &path, url).await?;
        return Err(StoreError::InvalidRange);
    }
    let what = format!("reading {url}");
    let response = request(&swift, &path, range.map(|r| (r.start, r.end)), &what).await?;
    let (total_size, range, skip) = match response.status() {
        StatusCode::OK => {
            let total = content_length(response.headers(), &what)?;
            // A server that ignored the Range header: cut the range here.
            let range = range.map(|r| r.clamp_to(total)).transpose()?;
            (total, range, range.map_or(0, |r| r.start))
        }
        StatusCode::PARTIAL_CONTENT => {
            let (start, end, total) = content_range(response.headers(), &what)?;
            (total, Some(ByteRange { start, end }), 0)
        }
        StatusCode::RANGE_NOT_SATISFIABLE => return Err(StoreError::InvalidRange),
        StatusCode::NOT_FOUND => return Err(StoreError::NotFound(url.to_owned())),
        _ => return Err(unexpected_status(&what, response).await),
    };
    let (first, last) = match range {
        Some(r) => (r.start, r.end + 1),
        None => (0, total_size),
    };
    let reader = Reader {
        swift,
        path,
        what,
        body: body(response),
        skip,
        at: first,
        end: last,
        retries,
    };
    Ok(ObjectData {
        stream: reader.into_stream(),
        total_size,
        range,
    })
}

async fn request(
    swift: &Swift,
    path: &ObjectPath,
    range: Option<(u64, u64)>,
    what: &str,
) -> Result<Response, StoreError> {
    swift
        .send(what, |client, session| {
            let request = client.get(object_url(session, &path.container, Some(&path.object)));
            match range {
                Some((start, end)) if end < HUGE => {
                    request.header(RANGE, format!("bytes={start}-{end}"))
                }
                Some((start, _)) => request.header(RANGE, format!("bytes={start}-")),
                None => request,
            }
        })
        .await
}

type Body = futures::stream::BoxStream<'static, reqwest::Result<Bytes>>;

fn body(response: Response) -> Body {
    response.bytes_stream().boxed()
}

/// The bytes `at..end` of an object, from a response body that may start
/// `skip` bytes early.
struct Reader {
    swift: Arc<Swift>,
    path: ObjectPath,
    what: String,
    body: Body,
    skip: u64,
    at: u64,
    end: u64,
    retries: u32,
}

impl Reader {
    fn into_stream(self) -> ByteStream {
        futures::stream::unfold(Some(self), |reader| async move {
            let mut reader = reader?;
            match reader.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(reader))),
                Ok(None) => None,
                Err(err) => Some((Err(err), None)),
            }
        })
        .boxed()
    }

    async fn next(&mut self) -> Result<Option<Bytes>, StoreError> {
        while self.at < self.end {
            match self.body.next().await {
                Some(Ok(mut chunk)) => {
                    let skipped = self.skip.min(chunk.len() as u64);
                    self.skip -= skipped;
                    let mut chunk = chunk.split_off(skipped as usize);
                    chunk.truncate(chunk.len().min((self.end - self.at) as usize));
                    if chunk.is_empty() {
                        continue;
                    }
                    self.at += chunk.len() as u64;
                    return Ok(Some(chunk));
                }
                broken if self.retries > 0 => {
                    self.retries -= 1;
                    let error = broken.and_then(Result::err).map(|e| e.to_string());
                    tracing::warn!(?error, at = self.at, "swift download broke; resuming");
                    self.resume().await?;
                }
                Some(Err(err)) => {
                    return Err(super::answers::transport_error(&self.what, &err));
                }
                None => {
                    return Err(StoreError::Unavailable(format!(
                        "{}: the body ended {} bytes early",
                        self.what,
                        self.end - self.at
                    )));
                }
            }
        }
        Ok(None)
    }

    /// Asks again for what is missing.
    async fn resume(&mut self) -> Result<(), StoreError> {
        let response = request(
            &self.swift,
            &self.path,
            Some((self.at, self.end - 1)),
            &self.what,
        )
        .await?;
        if response.status() != StatusCode::PARTIAL_CONTENT {
            return Err(unexpected_status(&self.what, response).await);
        }
        let (start, _, _) = content_range(response.headers(), &self.what)?;
        if start != self.at {
            return Err(StoreError::Unavailable(format!(
                "{}: resumed at byte {start} instead of {}",
                self.what, self.at
            )));
        }
        self.body = body(response);
        self.skip = 0;
        Ok(())
    }
}

fn content_length(headers: &HeaderMap, what: &str) -> Result<u64, StoreError> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| StoreError::Unavailable(format!("{what}: no Content-Length in the answer")))
}

/// `Content-Range: bytes <start>-<end>/<total>`.
fn content_range(headers: &HeaderMap, what: &str) -> Result<(u64, u64, u64), StoreError> {
    let parsed = headers
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range);
    parsed.ok_or_else(|| {
        StoreError::Unavailable(format!("{what}: no usable Content-Range in the answer"))
    })
}

fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end, total) = (start.parse().ok()?, end.parse().ok()?, total.parse().ok()?);
    (start <= end && end < total).then_some((start, end, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(parse_content_range("bytes 1-2/3"), Some((1, 2, 3)));
        assert_eq!(parse_content_range("bytes 0-0/1"), Some((0, 0, 1)));
        for bad in [
            "bytes */3",
            "bytes 2-1/3",
            "bytes 0-3/3",
            "items 0-1/2",
            "bytes 0-1",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
