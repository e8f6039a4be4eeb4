//! An in-memory store for tests: the same contract as the real backends, with
//! locations `memory://<store id>/<image id>`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use glint_model::ImageId;

use crate::store::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};

/// Downloads are cut into chunks of this size, like a real backend's.
const CHUNK_BYTES: usize = 1024 * 1024;

#[derive(Debug)]
pub struct MemoryStore {
    id: String,
    url_prefix: String,
    objects: Mutex<HashMap<String, Bytes>>,
}

impl MemoryStore {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            url_prefix: format!("memory://{id}/"),
            objects: Mutex::new(HashMap::new()),
        }
    }

    /// How many objects the store holds; lets tests check nothing was left behind.
    pub fn object_count(&self) -> usize {
        self.objects().len()
    }

    fn objects(&self) -> MutexGuard<'_, HashMap<String, Bytes>> {
        // A panic elsewhere while holding the lock cannot leave the map half-updated
        // (every critical section is a single map operation).
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn url_for(&self, image_id: ImageId) -> String {
        format!("{}{image_id}", self.url_prefix)
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    fn id(&self) -> &str {
        &self.id
    }

    fn owns(&self, url: &str) -> bool {
        url.starts_with(&self.url_prefix)
    }

    async fn put(&self, image_id: ImageId, mut data: ByteStream) -> Result<Stored, StoreError> {
        // Data becomes visible only once complete, so a failed or dropped put leaves
        // nothing behind.
        let mut buf = BytesMut::new();
        while let Some(chunk) = data.next().await {
            buf.extend_from_slice(&chunk?);
        }
        let url = self.url_for(image_id);
        let size = buf.len() as u64;
        self.objects().insert(url.clone(), buf.freeze());
        Ok(Stored { url, size })
    }

    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        if !self.owns(url) {
            return Err(StoreError::InvalidLocation(url.to_owned()));
        }
        let object = self
            .objects()
            .get(url)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(url.to_owned()))?;
        let total_size = object.len() as u64;
        let range = range.map(|r| r.clamp_to(total_size)).transpose()?;
        let body = match range {
            // Both ends fit in the object, which is in memory, so they fit in usize.
            Some(r) => object.slice(r.start as usize..=r.end as usize),
            None => object,
        };
        let chunks = (0..body.len())
            .step_by(CHUNK_BYTES)
            .map(move |at| Ok(body.slice(at..(at + CHUNK_BYTES).min(body.len()))))
            .collect::<Vec<_>>();
        Ok(ObjectData {
            stream: stream::iter(chunks).boxed(),
            total_size,
            range,
        })
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        if !self.owns(url) {
            return Err(StoreError::InvalidLocation(url.to_owned()));
        }
        match self.objects().remove(url) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(url.to_owned())),
        }
    }

    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        self.objects().remove(&self.url_for(image_id));
        Ok(())
    }
}
