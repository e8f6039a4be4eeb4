//! The swift store: images as objects in an OpenStack Swift account (or
//! radosgw's Swift API), at `swift+config://<reference>/<container>/<image id>`.
//! Images bigger than `large_object_size` are Static Large Objects whose
//! segments `<image id>-00001`, … sit next to them in the same container
//! (see `upload`). The store logs in lazily: it starts while Swift is down,
//! answers `Unavailable` while it cannot be reached, and recovers by itself.

mod answers;
mod auth;
mod config;
mod download;
mod http;
mod location;
mod upload;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use glint_model::ImageId;
use reqwest::{Method, StatusCode};

pub use config::*;

use self::answers::unexpected_status;
use self::auth::Auth;
use self::http::Swift;
use self::location::{ObjectPath, container_for, location_url};
use self::upload::{Source, Upload};
use crate::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};

#[derive(Debug, Clone)]
pub struct SwiftStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: String,
    config: SwiftConfig,
    swift: Arc<Swift>,
}

impl SwiftStore {
    /// Checks the settings; does not contact Swift (the first request logs in).
    pub fn new(id: &str, config: SwiftConfig) -> Result<SwiftStore, StoreError> {
        validate(&config)?;
        let swift = Swift::new(Auth::new(config.clone()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                id: id.to_owned(),
                config,
                swift: Arc::new(swift),
            }),
        })
    }

    /// How many times the store has logged in so far (a growing number means
    /// tokens are short-lived or being refused).
    pub fn login_count(&self) -> u64 {
        self.inner.swift.auth.logins()
    }

    /// Replaces the cached token with one Swift refuses, as a revoked token
    /// would be; lets tests follow the re-login path.
    #[doc(hidden)]
    pub fn spoil_token(&self) {
        self.inner.swift.auth.spoil();
    }

    /// Names of every object in a container of the store's account (empty
    /// when the container does not exist); lets tests see what is stored.
    #[doc(hidden)]
    pub async fn list_objects(&self, container: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .inner
            .swift
            .list(container, "")
            .await?
            .unwrap_or_default())
    }

    /// Deletes a container and everything in it; lets tests clean up.
    #[doc(hidden)]
    pub async fn remove_container(&self, container: &str) -> Result<(), StoreError> {
        let swift = &self.inner.swift;
        for name in self.list_objects(container).await? {
            swift.delete_object(container, &name, &[]).await?;
        }
        let what = format!("deleting container {container}");
        let response = swift
            .object_request(Method::DELETE, container, None, &[], &what)
            .await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(()),
            status if status.is_success() => Ok(()),
            _ => Err(unexpected_status(&what, response).await),
        }
    }

    fn path(&self, url: &str) -> Result<ObjectPath, StoreError> {
        location::parse(&self.inner.config.reference, url)
    }
}

fn validate(config: &SwiftConfig) -> Result<(), StoreError> {
    let invalid = |what: &str| Err(StoreError::Refused(format!("swift store settings: {what}")));
    if reqwest::Url::parse(&config.auth_address).is_err() {
        return invalid("auth_address is not a URL");
    }
    if config.reference.is_empty() || config.reference.contains('/') {
        return invalid("the reference must be a non-empty name without '/'");
    }
    if config.container.is_empty() || config.container.contains('/') {
        return invalid("swift_store_container must be a non-empty name without '/'");
    }
    if config.multiple_containers_seed > 32 {
        return invalid("swift_store_multiple_containers_seed must be between 0 and 32");
    }
    if config.large_object_size == 0 || config.large_object_chunk_size == 0 {
        return invalid("the large object size and chunk size must be positive");
    }
    if config.auth_version == SwiftAuthVersion::V3 && !config.user.contains(':') {
        return invalid("for Keystone auth, user must be project:user");
    }
    Ok(())
}

impl Inner {
    /// Deletes the object of an image and any segment of it, complete or not.
    async fn remove_image_objects(&self, container: &str, object: &str) -> Result<(), StoreError> {
        let Some(mut names) = self.swift.list(container, object).await? else {
            return Ok(());
        };
        // The manifest first, so that no reader sees it with segments missing.
        names.sort_by_key(|name| name != object);
        for name in names.iter().filter(|n| is_image_object(n, object)) {
            self.swift.delete_object(container, name, &[]).await?;
        }
        Ok(())
    }
}

/// `<id>` itself or one of its segments `<id>-NNNNN`.
fn is_image_object(name: &str, object: &str) -> bool {
    name.strip_prefix(object).is_some_and(|rest| {
        rest.is_empty()
            || rest
                .strip_prefix('-')
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Removes what an upload may have left if it is dropped before it ends.
struct CleanupOnDrop {
    inner: Option<Arc<Inner>>,
    container: String,
    object: String,
    may_exist: Arc<AtomicBool>,
}

impl Drop for CleanupOnDrop {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if !self.may_exist.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (container, object) = (
            std::mem::take(&mut self.container),
            std::mem::take(&mut self.object),
        );
        let cleanup = async move {
            if let Err(err) = inner.remove_image_objects(&container, &object).await {
                tracing::warn!(store.id = %inner.id, %container, %object, error = %err,
                    "could not remove the data of an abandoned upload");
            }
        };
        runtime.spawn(tracing::Instrument::in_current_span(cleanup));
    }
}

#[async_trait::async_trait]
impl Store for SwiftStore {
    fn id(&self) -> &str {
        &self.inner.id
    }

    fn owns(&self, url: &str) -> bool {
        self.path(url).is_ok()
    }

    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        // The upload reads ahead to learn whether more data follows a
        // segment; fused, the input may be asked again once it has ended.
        let data: ByteStream = data.fuse().boxed();
        let config = &self.inner.config;
        let path = ObjectPath {
            container: container_for(&config.container, config.multiple_containers_seed, image_id),
            object: image_id.to_string(),
        };
        let may_exist = Arc::new(AtomicBool::new(false));
        let mut guard = CleanupOnDrop {
            inner: Some(Arc::clone(&self.inner)),
            container: path.container.clone(),
            object: path.object.clone(),
            may_exist: Arc::clone(&may_exist),
        };
        let upload = Upload {
            swift: &self.inner.swift,
            config,
            container: &path.container,
            object: &path.object,
            may_exist: Arc::clone(&may_exist),
            source: Source::new(data),
        };
        let outcome = upload.run().await;
        if let Err(err) = &outcome
            && may_exist.load(Ordering::Relaxed)
            && let Err(cleanup) = self
                .inner
                .remove_image_objects(&path.container, &path.object)
                .await
        {
            tracing::warn!(store.id = %self.inner.id, image.id = %image_id, error = %cleanup,
                upload_error = %err, "could not remove the data of a failed upload");
        }
        // Only now: a put dropped during the cleanup above still cleans up.
        guard.inner = None;
        outcome.map(|size| Stored {
            url: location_url(&config.reference, &path),
            size,
        })
    }

    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        let path = self.path(url)?;
        let retries = self.inner.config.retry_get_count;
        download::get(Arc::clone(&self.inner.swift), path, url, range, retries).await
    }

    async fn size(&self, url: &str) -> Result<u64, StoreError> {
        download::size(&self.inner.swift, &self.path(url)?, url).await
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        let path = self.path(url)?;
        let swift = &self.inner.swift;
        let what = format!("deleting {url}");
        let head = swift
            .object_request(
                Method::HEAD,
                &path.container,
                Some(&path.object),
                &[],
                &what,
            )
            .await?;
        match head.status() {
            StatusCode::NOT_FOUND => return Err(StoreError::NotFound(url.to_owned())),
            status if status.is_success() => {}
            _ => return Err(unexpected_status(&what, head).await),
        }
        let header = |name| head.headers().get(name).and_then(|v| v.to_str().ok());
        let slo = header("x-static-large-object").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let dlo = header("x-object-manifest").map(str::to_owned);
        let query: &[(&str, &str)] = if slo {
            &[("multipart-manifest", "delete")]
        } else {
            &[]
        };
        if !swift
            .delete_object(&path.container, &path.object, query)
            .await?
        {
            return Err(StoreError::NotFound(url.to_owned()));
        }
        if slo {
            // Swift deletes the segments with the manifest; a segment it
            // could not delete is removed here.
            self.inner
                .remove_image_objects(&path.container, &path.object)
                .await?;
        } else if let Some(manifest) = dlo {
            delete_dlo_segments(swift, &manifest).await?;
        }
        Ok(())
    }

    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        let config = &self.inner.config;
        let container = container_for(&config.container, config.multiple_containers_seed, image_id);
        self.inner
            .remove_image_objects(&container, &image_id.to_string())
            .await
    }

    /// A `HEAD` of the account (logging in first if need be): the
    /// containers may not exist before the first upload.
    async fn check(&self) -> Result<(), StoreError> {
        let what = "checking the account";
        let swift = &self.inner.swift;
        let response = swift
            .send(what, |client, session| client.head(&session.storage_url))
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(unexpected_status(what, response).await)
    }
}

/// Removes the segments of a Dynamic Large Object, as glance_store writes
/// them (`X-Object-Manifest: <container>/<prefix>`).
async fn delete_dlo_segments(swift: &Swift, manifest: &str) -> Result<(), StoreError> {
    let Some((container, prefix)) = manifest.split_once('/') else {
        return Ok(());
    };
    for name in swift.list(container, prefix).await?.unwrap_or_default() {
        swift.delete_object(container, &name, &[]).await?;
    }
    Ok(())
}
