//! Streaming an image into Swift when its size is not known in advance.
//!
//! The data streams straight into the object `<container>/<image id>` with
//! chunked transfer encoding, up to `large_object_size` bytes. An image that
//! ends there (nearly all of them) is a plain object and costs one PUT. When
//! more data follows, the image becomes a Static Large Object: Swift copies
//! that object, server side, to the first segment `<image id>-00001`; the rest
//! of the data goes into segments `<image id>-00002`, … of
//! `large_object_chunk_size` bytes each, in the same container; a manifest
//! (`?multipart-manifest=put`) listing them then replaces the object. Only
//! images bigger than `large_object_size` pay for the copy, and nothing is
//! ever buffered whole: memory per upload is a few chunks in flight plus the
//! replay window below.
//!
//! First, a HEAD of the container proves the token (and creates the
//! container when it is missing and `create_container_on_put` allows).
//! Tokens are renewed before they expire; should Swift still answer a part's
//! PUT with 401 (a revoked token), the part is sent again once with a new
//! token. Swift answers
//! 401 before it reads the body, so what the client's stream gave up in the
//! meantime is only what the socket buffers held: the bytes of a part are
//! kept for that, up to [`REPLAY_WINDOW`], and let go as soon as the part
//! outgrows it. A 401 after that fails the upload with a clear error.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::mpsc;

use super::answers::{refused, transport_error, unexpected_status};
use super::http::{Swift, object_url, with_query};
use super::location::segment_name;
use crate::{ByteStream, StoreError, SwiftConfig};

/// Bytes of a request body kept so that the request can be sent again.
pub(crate) const REPLAY_WINDOW: u64 = 16 * 1024 * 1024;

/// Chunks queued between the client's stream and the HTTP body.
const BODY_QUEUE: usize = 4;

/// Its methods take `&mut self` even when they only read: the source is
/// not `Sync`, and the upload future must be `Send`.
pub(crate) struct Upload<'a> {
    pub swift: &'a Swift,
    pub config: &'a SwiftConfig,
    pub container: &'a str,
    pub object: &'a str,
    /// Set once Swift may hold something of this upload, so that a failed
    /// or dropped upload knows it must clean up.
    pub may_exist: Arc<AtomicBool>,
    pub source: Source,
}

/// A segment that Swift has stored.
struct Segment {
    name: String,
    size: u64,
    etag: Option<String>,
}

impl Upload<'_> {
    /// Streams the whole source; returns the image size.
    pub async fn run(mut self) -> Result<u64, StoreError> {
        let object = self.object.to_owned();
        self.check_container().await?;
        let first = self
            .put_part(&object, self.config.large_object_size)
            .await?;
        if !self.source.has_more().await? {
            return Ok(first.size);
        }
        let mut segments = vec![self.copy_to_first_segment(first.size).await?];
        while self.source.has_more().await? {
            let number = segments.len() as u32 + 1;
            let name = segment_name(&object, number);
            segments.push(
                self.put_part(&name, self.config.large_object_chunk_size)
                    .await?,
            );
        }
        self.put_manifest(&segments).await?;
        Ok(segments.iter().map(|s| s.size).sum())
    }

    async fn copy_to_first_segment(&mut self, size: u64) -> Result<Segment, StoreError> {
        let name = segment_name(self.object, 1);
        let what = format!("copying {}/{} to {name}", self.container, self.object);
        let response = self
            .swift
            .send(&what, |client, session| {
                let from = object_url(session, self.container, Some(self.object));
                let from = &from[session.storage_url.len()..];
                client
                    .put(object_url(session, self.container, Some(&name)))
                    .header("X-Copy-From", from)
                    .header("Content-Length", "0")
            })
            .await?;
        if !response.status().is_success() {
            return Err(unexpected_status(&what, response).await);
        }
        Ok(Segment {
            etag: etag(&response),
            name,
            size,
        })
    }

    async fn put_manifest(&mut self, segments: &[Segment]) -> Result<(), StoreError> {
        let entries: Vec<_> = segments
            .iter()
            .map(|s| {
                let mut entry = json!({
                    "path": format!("/{}/{}", self.container, s.name),
                    "size_bytes": s.size,
                });
                if let Some(etag) = &s.etag {
                    entry["etag"] = json!(etag);
                }
                entry
            })
            .collect();
        let manifest = Bytes::from(serde_json::to_vec(&entries).unwrap_or_default());
        let what = format!(
            "writing the manifest of {}/{} ({} segments)",
            self.container,
            self.object,
            segments.len()
        );
        let response = self
            .swift
            .send(&what, |client, session| {
                let url = object_url(session, self.container, Some(self.object));
                client
                    .put(with_query(url, &[("multipart-manifest", "put")]))
                    .body(manifest.clone())
            })
            .await?;
        if !response.status().is_success() {
            return Err(unexpected_status(&what, response).await);
        }
        Ok(())
    }

    /// Streams up to `limit` bytes of the source into one object.
    async fn put_part(&mut self, name: &str, limit: u64) -> Result<Segment, StoreError> {
        let what = format!("writing {}/{name}", self.container);
        let mut part = Part::default();
        let mut renewed = false;
        loop {
            let session = self.swift.session().await?;
            let url = object_url(&session, self.container, Some(name));
            let (tx, rx) = mpsc::channel(BODY_QUEUE);
            let request = self
                .swift
                .client
                .put(url)
                .header("X-Auth-Token", session.token.expose())
                .body(reqwest::Body::wrap_stream(body_stream(rx)));
            let response = {
                let send = request.send();
                let feed = feed(&mut self.source, &mut part, tx, limit, &self.may_exist);
                tokio::pin!(send, feed);
                tokio::select! {
                    biased;
                    fed = &mut feed => match fed {
                        Err(Stop::Source(err)) => return Err(err),
                        Ok(()) | Err(Stop::BodyClosed) => send.await,
                    },
                    // An answer before the whole body went out: the feed is
                    // dropped, which aborts the body.
                    answer = &mut send => answer,
                }
            }
            .map_err(|e| transport_error(&what, &e))?;
            let status = response.status();
            if status.is_success() {
                return Ok(Segment {
                    etag: etag(&response),
                    name: name.to_owned(),
                    size: part.sent,
                });
            }
            match status {
                StatusCode::UNAUTHORIZED if !renewed && part.replayable => {
                    self.swift.auth.invalidate(&session);
                    renewed = true;
                }
                StatusCode::NOT_FOUND => return Err(self.missing_container()),
                StatusCode::UNAUTHORIZED if !part.replayable => {
                    return Err(StoreError::Refused(format!(
                        "{what}: Swift refused the token after {} bytes, too late to send them again",
                        part.sent
                    )));
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(refused(&what, status));
                }
                _ => return Err(unexpected_status(&what, response).await),
            }
        }
    }

    /// Makes sure the container exists (creating it if allowed) before any
    /// of the client's bytes are sent; this also proves the token.
    async fn check_container(&mut self) -> Result<(), StoreError> {
        let what = format!("looking up container {}", self.container);
        let response = self
            .swift
            .object_request(reqwest::Method::HEAD, self.container, None, &[], &what)
            .await?;
        match response.status() {
            status if status.is_success() => Ok(()),
            StatusCode::NOT_FOUND if self.config.create_container_on_put => {
                self.create_container().await
            }
            StatusCode::NOT_FOUND => Err(self.missing_container()),
            _ => Err(unexpected_status(&what, response).await),
        }
    }

    async fn create_container(&mut self) -> Result<(), StoreError> {
        let what = format!("creating container {}", self.container);
        tracing::info!(container = %self.container, "creating swift container");
        let response = self
            .swift
            .object_request(reqwest::Method::PUT, self.container, None, &[], &what)
            .await?;
        if !response.status().is_success() {
            return Err(unexpected_status(&what, response).await);
        }
        Ok(())
    }

    fn missing_container(&self) -> StoreError {
        if self.config.create_container_on_put {
            StoreError::Refused(format!(
                "container {} disappeared during the upload",
                self.container
            ))
        } else {
            StoreError::Refused(format!(
                "container {} does not exist; create it, or set swift_store_create_container_on_put",
                self.container
            ))
        }
    }
}

fn etag(response: &reqwest::Response) -> Option<String> {
    let value = response.headers().get("etag")?.to_str().ok()?;
    Some(value.trim_matches('"').to_owned())
}

/// The client's data, with a chunk put back when a part ends inside it.
pub(crate) struct Source {
    stream: ByteStream,
    pending: Option<Bytes>,
}

impl Source {
    pub fn new(stream: ByteStream) -> Self {
        Self {
            stream,
            pending: None,
        }
    }

    async fn next(&mut self) -> Option<Result<Bytes, StoreError>> {
        if let Some(chunk) = self.pending.take() {
            return Some(Ok(chunk));
        }
        loop {
            match self.stream.next().await {
                Some(Ok(chunk)) if chunk.is_empty() => continue,
                other => return other,
            }
        }
    }

    fn push_back(&mut self, chunk: Bytes) {
        self.pending = Some(chunk);
    }

    async fn has_more(&mut self) -> Result<bool, StoreError> {
        match self.next().await {
            None => Ok(false),
            Some(Err(err)) => Err(err),
            Some(Ok(chunk)) => {
                self.push_back(chunk);
                Ok(true)
            }
        }
    }
}

/// What one part has taken from the source so far.
struct Part {
    sent: u64,
    /// Everything taken, while it fits in the replay window.
    replay: Vec<Bytes>,
    replayable: bool,
}

impl Default for Part {
    fn default() -> Self {
        Self {
            sent: 0,
            replay: Vec::new(),
            replayable: true,
        }
    }
}

impl Part {
    fn record(&mut self, chunk: &Bytes) {
        self.sent += chunk.len() as u64;
        if self.replayable && self.sent <= REPLAY_WINDOW {
            self.replay.push(chunk.clone());
        } else {
            self.replayable = false;
            self.replay = Vec::new();
        }
    }
}

enum BodyMessage {
    Data(Bytes),
    End,
}

enum Stop {
    /// The client's stream failed.
    Source(StoreError),
    /// The request ended before its body did.
    BodyClosed,
}

/// Sends what a previous attempt already took, then more of the source, up
/// to `limit` bytes; the body ends properly only if all of it went out.
async fn feed(
    source: &mut Source,
    part: &mut Part,
    tx: mpsc::Sender<BodyMessage>,
    limit: u64,
    may_exist: &AtomicBool,
) -> Result<(), Stop> {
    for chunk in part.replay.clone() {
        tx.send(BodyMessage::Data(chunk))
            .await
            .map_err(|_| Stop::BodyClosed)?;
    }
    while part.sent < limit {
        let Some(chunk) = source.next().await else {
            break;
        };
        let mut chunk = chunk.map_err(Stop::Source)?;
        let room = limit - part.sent;
        if chunk.len() as u64 > room {
            source.push_back(chunk.split_off(room as usize));
        }
        part.record(&chunk);
        tx.send(BodyMessage::Data(chunk))
            .await
            .map_err(|_| Stop::BodyClosed)?;
    }
    // From here Swift may store the part.
    may_exist.store(true, Ordering::Relaxed);
    tx.send(BodyMessage::End)
        .await
        .map_err(|_| Stop::BodyClosed)
}

/// The HTTP body: the data sent on `rx`, ending cleanly at `End`. If the
/// sender goes away first (a failed source, a dropped upload), the body
/// fails, the connection is cut and Swift discards the partial object.
fn body_stream(
    rx: mpsc::Receiver<BodyMessage>,
) -> impl futures::Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(BodyMessage::Data(chunk)) => Some((Ok(chunk), Some(rx))),
            Some(BodyMessage::End) => None,
            None => Some((Err(io::Error::other("upload abandoned")), None)),
        }
    })
}
