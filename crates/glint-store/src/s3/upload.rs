//! Writing an image of unknown size: one PUT when it turns out small, else a
//! multipart upload whose parts go up in parallel, bounded in number.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::client::{Client, Failure};
use crate::{ByteStream, StoreError};

/// S3 numbers parts from 1 to 10,000.
const MAX_PARTS: u32 = 10_000;

/// How one store writes.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) large_object_size: u64,
    pub(crate) part_size: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) create_bucket: bool,
}

/// Counts the parts being uploaded, and the most there ever were at once.
#[derive(Debug, Default)]
pub(crate) struct PartGauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl PartGauge {
    fn enter(self: &Arc<Self>) -> PartTicket {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        PartTicket(Arc::clone(self))
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// One part in flight; leaving (done, failed or dropped) counts it out.
struct PartTicket(Arc<PartGauge>);

impl Drop for PartTicket {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Cuts the input into parts of exactly `part_size` bytes (the last one
/// shorter), copying each byte once into its part's buffer.
struct Parts {
    part_size: usize,
    current: BytesMut,
}

impl Parts {
    fn push(&mut self, mut chunk: Bytes, ready: &mut VecDeque<Bytes>) {
        while !chunk.is_empty() {
            if self.current.capacity() == 0 {
                self.current.reserve(self.part_size);
            }
            let take = (self.part_size - self.current.len()).min(chunk.len());
            self.current.extend_from_slice(&chunk.split_to(take));
            if self.current.len() == self.part_size {
                ready.push_back(self.current.split().freeze());
            }
        }
    }

    fn finish(&mut self) -> Option<Bytes> {
        (!self.current.is_empty()).then(|| self.current.split().freeze())
    }
}

/// Removes what an unfinished upload may have left: its multipart upload,
/// and the object itself once a PUT or the completion has been sent. Run
/// on every failure; if the upload's future is dropped instead, the drop
/// spawns it.
struct Cleanup {
    client: Arc<Client>,
    key: String,
    upload_id: Option<String>,
    object_may_exist: bool,
    armed: bool,
}

impl Cleanup {
    fn new(client: &Arc<Client>, key: &str, upload_id: Option<String>) -> Self {
        Self {
            client: Arc::clone(client),
            key: key.to_owned(),
            upload_id,
            object_may_exist: false,
            armed: true,
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }

    async fn now(mut self) {
        self.armed = false;
        let (client, key, upload_id) = (
            Arc::clone(&self.client),
            std::mem::take(&mut self.key),
            self.upload_id.take(),
        );
        remove_leftovers(client, key, upload_id, self.object_may_exist).await;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let job = remove_leftovers(
            Arc::clone(&self.client),
            std::mem::take(&mut self.key),
            self.upload_id.take(),
            self.object_may_exist,
        );
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(tracing::Instrument::in_current_span(job))),
            Err(_) => tracing::warn!(
                s3.key = %self.key,
                "upload dropped outside a runtime; its multipart upload stays until discarded"
            ),
        }
    }
}

async fn remove_leftovers(
    client: Arc<Client>,
    key: String,
    upload_id: Option<String>,
    object: bool,
) {
    if let Some(upload_id) = upload_id
        && let Err(f) = client.abort_multipart(&key, &upload_id).await
    {
        let err = f.into_store_error(client.host(), &format!("abort of the upload of {key}"));
        tracing::warn!(s3.key = %key, error = %err, "multipart upload left behind");
    }
    if object {
        match client.delete_object(&key).await {
            Ok(()) => {}
            Err(f) if f.is_not_found() => {}
            Err(f) => {
                let err = f.into_store_error(client.host(), &format!("delete of {key}"));
                tracing::warn!(s3.key = %key, error = %err, "partial object left behind");
            }
        }
    }
}

/// Runs `op`; when the bucket is missing, creates it if allowed and runs
/// `op` once more.
async fn in_bucket<T, F, Fut>(
    client: &Client,
    create: bool,
    what: &str,
    op: F,
) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let host = client.host();
    match op().await {
        Err(f) if f.is("NoSuchBucket") => {
            let bucket = &client.endpoint.bucket;
            if !create {
                return Err(StoreError::Refused(format!(
                    "bucket {bucket} does not exist on S3 at {host}; create it, or set \
                     s3_store_create_bucket_on_put = true"
                )));
            }
            tracing::info!(s3.bucket = %bucket, s3.host = %host, "creating bucket");
            client
                .create_bucket()
                .await
                .map_err(|f| f.into_store_error(host, &format!("creation of bucket {bucket}")))?;
            op().await.map_err(|f| f.into_store_error(host, what))
        }
        other => other.map_err(|f| f.into_store_error(host, what)),
    }
}

/// Writes `data` to `key`; returns its size.
pub(crate) async fn upload(
    client: &Arc<Client>,
    key: &str,
    mut data: ByteStream,
    limits: &Limits,
    gauge: &Arc<PartGauge>,
) -> Result<u64, StoreError> {
    let mut parts = Parts {
        part_size: limits.part_size,
        current: BytesMut::new(),
    };
    let mut ready = VecDeque::new();
    let mut total = 0u64;
    // Read until the image is known to be small (it ended below
    // large_object_size) or to need parts (it reached that size, or as many
    // parts as may be in flight are waiting: the memory a multipart upload
    // may hold anyway). An empty image is always one PUT: a multipart
    // upload cannot have no part.
    while total == 0 || (total < limits.large_object_size && ready.len() < limits.max_in_flight) {
        match data.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                total += chunk.len() as u64;
                parts.push(chunk, &mut ready);
            }
            None => {
                let pieces: Vec<Bytes> = ready.into_iter().chain(parts.finish()).collect();
                return put_whole(client, key, pieces, limits).await.map(|()| total);
            }
        }
    }
    let multipart = Multipart {
        client,
        key,
        limits,
        gauge,
    };
    multipart.run(data, parts, ready, total).await
}

async fn put_whole(
    client: &Arc<Client>,
    key: &str,
    pieces: Vec<Bytes>,
    limits: &Limits,
) -> Result<(), StoreError> {
    let mut cleanup = Cleanup::new(client, key, None);
    cleanup.object_may_exist = true;
    let what = format!("PUT of {key}");
    let put = || client.put_object(key, pieces.clone());
    match in_bucket(client, limits.create_bucket, &what, put).await {
        Ok(()) => {
            cleanup.disarm();
            Ok(())
        }
        // A PUT is atomic: an error answer or a body cut short stores
        // nothing. Only an answer lost after the whole body went out may
        // hide a stored object.
        Err(err @ StoreError::Unavailable(_)) => {
            cleanup.now().await;
            Err(err)
        }
        Err(err) => {
            cleanup.disarm();
            Err(err)
        }
    }
}

struct Multipart<'a> {
    client: &'a Arc<Client>,
    key: &'a str,
    limits: &'a Limits,
    gauge: &'a Arc<PartGauge>,
}

impl Multipart<'_> {
    async fn run(
        &self,
        data: ByteStream,
        parts: Parts,
        ready: VecDeque<Bytes>,
        total: u64,
    ) -> Result<u64, StoreError> {
        let what = format!("start of a multipart upload of {}", self.key);
        let create = || self.client.create_multipart(self.key);
        let upload_id = in_bucket(self.client, self.limits.create_bucket, &what, create).await?;
        tracing::debug!(s3.key = %self.key, s3.upload_id = %upload_id, "multipart upload started");
        let mut cleanup = Cleanup::new(self.client, self.key, Some(upload_id.clone()));
        let outcome = self.send_parts(&upload_id, data, parts, ready, total).await;
        let outcome = match outcome {
            Ok((etags, total)) => {
                cleanup.object_may_exist = true;
                let what = format!("completion of the multipart upload of {}", self.key);
                self.client
                    .complete_multipart(self.key, &upload_id, &etags)
                    .await
                    .map_err(|f| f.into_store_error(self.client.host(), &what))
                    .map(|()| total)
            }
            Err(err) => Err(err),
        };
        match outcome {
            Ok(total) => {
                cleanup.disarm();
                Ok(total)
            }
            Err(err) => {
                cleanup.now().await;
                Err(err)
            }
        }
    }

    /// Uploads every part, at most `max_in_flight` at once, reading more
    /// input only while there is room for the part being read: the parts in
    /// flight and the one being filled are never more than `max_in_flight`
    /// (`s3_store_thread_pools`), which bounds the memory of an upload.
    /// Returns the parts' ETags in order and the image's size.
    async fn send_parts(
        &self,
        upload_id: &str,
        mut data: ByteStream,
        mut parts: Parts,
        mut ready: VecDeque<Bytes>,
        mut total: u64,
    ) -> Result<(Vec<(u32, String)>, u64), StoreError> {
        let max = self.limits.max_in_flight;
        // Reading fills a part buffer of its own, so it waits while that
        // buffer and those in flight would pass the bound.
        let read_room = max.saturating_sub(1).max(1);
        let mut in_flight = FuturesUnordered::new();
        let mut etags = Vec::new();
        let mut next_number = 1u32;
        let mut input_done = false;
        loop {
            while in_flight.len() < max
                && let Some(part) = ready.pop_front()
            {
                if next_number > MAX_PARTS {
                    return Err(StoreError::SizeLimitExceeded {
                        limit: u64::from(MAX_PARTS) * self.limits.part_size as u64,
                    });
                }
                in_flight.push(self.send_part(upload_id, next_number, part));
                next_number += 1;
            }
            if input_done || in_flight.len() >= read_room {
                match in_flight.next().await {
                    Some(done) => etags.push(done?),
                    None => break,
                }
                continue;
            }
            tokio::select! {
                Some(done) = in_flight.next(), if !in_flight.is_empty() => etags.push(done?),
                chunk = data.next() => match chunk {
                    Some(chunk) => {
                        let chunk = chunk?;
                        total += chunk.len() as u64;
                        parts.push(chunk, &mut ready);
                    }
                    None => {
                        input_done = true;
                        ready.extend(parts.finish());
                    }
                },
            }
        }
        etags.sort_unstable_by_key(|(number, _)| *number);
        Ok((etags, total))
    }

    async fn send_part(
        &self,
        upload_id: &str,
        number: u32,
        part: Bytes,
    ) -> Result<(u32, String), StoreError> {
        let _ticket = self.gauge.enter();
        self.client
            .upload_part(self.key, upload_id, number, part)
            .await
            .map(|etag| (number, etag))
            .map_err(|f| {
                let what = format!("upload of part {number} of {}", self.key);
                f.into_store_error(self.client.host(), &what)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_have_the_part_size_whatever_the_chunks() {
        let mut parts = Parts {
            part_size: 10,
            current: BytesMut::new(),
        };
        let mut ready = VecDeque::new();
        let data: Vec<u8> = (0..57).collect();
        for piece in [&data[..3], &data[3..25], &data[25..26], &data[26..57]] {
            parts.push(Bytes::copy_from_slice(piece), &mut ready);
        }
        ready.extend(parts.finish());
        let sizes: Vec<usize> = ready.iter().map(Bytes::len).collect();
        assert_eq!(sizes, [10, 10, 10, 10, 10, 7]);
        assert_eq!(Vec::from(ready).concat(), data);
        assert!(parts.finish().is_none());
    }

    #[test]
    fn the_gauge_keeps_its_peak() {
        let gauge = Arc::new(PartGauge::default());
        let a = gauge.enter();
        let b = gauge.enter();
        drop(a);
        let c = gauge.enter();
        drop((b, c));
        assert_eq!(gauge.peak(), 2);
        assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
    }
}
