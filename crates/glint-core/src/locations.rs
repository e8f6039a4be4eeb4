//! The location API (2.17) for services: Nova and Cinder add the location
//! of data they wrote themselves (an RBD snapshot, most often) to a queued
//! image, and read an image's locations.
//!
//! `POST /v2/images/{id}/locations` checks the URL against the stores and
//! takes its size from the store; the image becomes `active` at once, or,
//! with `validation_data`, `importing` while glint reads the data back and
//! checks the hash (`do_secure_hash`, always on in glint), then `active`,
//! or `queued` again without the location when the hash differs. Without
//! `validation_data` the checksum and hash are filled in afterwards.

use glint_model::{Image, ImageId, ImageStatus, Location, time};
use glint_store::{HashAlgo, IngestConfig, Store, StoreError};
use std::sync::Arc;
use tracing::Instrument;

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::location_growth::LocationGrowth;

/// The hash a service vouches for (`validation_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationData {
    pub os_hash_algo: HashAlgo,
    /// Lower-case hex.
    pub os_hash_value: String,
}

/// The algorithms `validation_data` may name, as Glance's schema lists them.
const VALIDATION_ALGOS: [HashAlgo; 4] = [
    HashAlgo::Sha1,
    HashAlgo::Sha256,
    HashAlgo::Sha512,
    HashAlgo::Md5,
];

impl ValidationData {
    /// Checks what a request sent: a known algorithm and a hex value of its
    /// digest's length.
    pub fn parse(algo: &str, value: &str) -> Result<Self, CoreError> {
        let bad = |m: String| CoreError::Model(glint_model::ModelError::invalid(m));
        let Some(os_hash_algo) = VALIDATION_ALGOS.into_iter().find(|a| a.as_str() == algo) else {
            return Err(bad(format!(
                "Provided object does not match schema 'location': '{}' is not one of \
                 ['sha1', 'sha256', 'sha512', 'md5']",
                glint_model::limits::clip(algo)
            )));
        };
        let shown = glint_model::limits::clip(value);
        if !value.len().is_multiple_of(2) || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(format!(
                "os_hash_value ({shown}) is not a valid hexadecimal value"
            )));
        }
        let want = digest_size(os_hash_algo);
        if value.len() / 2 != want {
            return Err(bad(format!(
                "os_hash_value: ({shown}) is not the correct size for ({algo}) (should be \
                 ({want}) bytes)"
            )));
        }
        Ok(Self {
            os_hash_algo,
            os_hash_value: value.to_ascii_lowercase(),
        })
    }
}

pub(crate) fn digest_size(algo: HashAlgo) -> usize {
    match algo {
        HashAlgo::Md5 => 16,
        HashAlgo::Sha1 => 20,
        HashAlgo::Sha224 => 28,
        HashAlgo::Sha256 => 32,
        HashAlgo::Sha384 => 48,
        HashAlgo::Sha512 => 64,
    }
}

impl ImageService {
    /// `POST /v2/images/{id}/locations`.
    pub async fn add_location(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        url: &str,
        validation: Option<ValidationData>,
    ) -> Result<(), CoreError> {
        let stored = self.load_visible_versioned(ctx, id, Lookup::Image).await?;
        if stored.image.status != ImageStatus::Queued {
            return Err(CoreError::Model(glint_model::ModelError::conflict(
                format!(
                    "It's not allowed to add locations if image status is {}.",
                    stored.image.status
                ),
            )));
        }
        self.authz
            .enforce_image(ctx, &stored.image, "add_image_location")
            .await?;
        // As Glance: a caller without the service role may only add http
        // locations, and only where an http store is configured.
        let is_service = ctx.roles().iter().any(|r| r == "service");
        let http_store = self
            .stores
            .entries()
            .any(|e| e.meta.kind == "http" && e.store.owns(url));
        if !is_service && !http_store {
            return Err(CoreError::Model(glint_model::ModelError::forbidden(
                "http store must be enabled to use location API by normal user.",
            )));
        }
        let store = self.location_store(url)?;
        let size = match store.size(url).await {
            Ok(size) => size,
            Err(StoreError::NotFound(_) | StoreError::InvalidLocation(_)) => {
                return Err(invalid_location(url));
            }
            Err(e) => return Err(e.into()),
        };
        let location = Location::new(url, store.id());
        let target = if validation.is_some() {
            ImageStatus::Importing
        } else {
            ImageStatus::Active
        };
        let reload = Reload::ForCaller {
            ctx,
            rule: "add_image_location",
            by: Lookup::Image,
        };
        let growth = LocationGrowth::default();
        let save = match self.location_storage_quota() {
            Some(limit) => Save::WithinStorage {
                project: ctx.project_id(),
                limit,
                growth: &growth,
            },
            None => Save::Image,
        };
        let changed = self
            .change_image(stored, reload, save, |image| {
                if image.status != ImageStatus::Queued {
                    return Err(CoreError::Model(glint_model::ModelError::conflict(
                        format!(
                            "It's not allowed to add locations if image status is {}.",
                            image.status
                        ),
                    )));
                }
                image.status.check_move(target)?;
                let before = image.clone();
                image.status = target;
                image.size = Some(size);
                image.locations.push(location.clone());
                growth.record(ctx.project_id(), &before, image);
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await
            .map_err(|e| match e {
                CoreError::StorageQuotaExceeded { remaining, .. } => growth.refusal(remaining),
                other => other,
            })?;
        tracing::info!(image.id = %id, store.id = store.id(), "location added");
        let svc = self.clone();
        let image = changed.image;
        let work = async move { svc.hash_location(image, store, validation).await };
        tokio::spawn(work.instrument(tracing::Span::current()));
        Ok(())
    }

    /// `GET /v2/images/{id}/locations` (`fetch_image_location`).
    pub async fn get_locations(
        &self,
        ctx: &RequestContext,
        id: ImageId,
    ) -> Result<Vec<Location>, CoreError> {
        let image = self.load_visible(ctx, id, Lookup::Image).await?;
        self.authz
            .enforce_image(ctx, &image, "fetch_image_location")
            .await?;
        Ok(image.active_locations().cloned().collect())
    }

    /// The store that serves a location URL; 400 when none does.
    pub(crate) fn location_store(&self, url: &str) -> Result<Arc<dyn Store>, CoreError> {
        self.stores
            .for_url(url)
            .cloned()
            .ok_or_else(|| invalid_location(url))
    }

    /// Reads a new location's data back, fills in the checksum and hash,
    /// and settles an `importing` image: `active` when the hash is the one
    /// vouched for, else `queued` without the location. Failures are
    /// logged: the request that added the location has long answered.
    async fn hash_location(
        &self,
        image: Image,
        store: Arc<dyn Store>,
        validation: Option<ValidationData>,
    ) {
        let id = image.id;
        let Some(location) = image.locations.last().cloned() else {
            return;
        };
        let algo = validation
            .as_ref()
            .map_or(self.config.hashing_algorithm, |v| v.os_hash_algo);
        let hashed = self
            .read_hashes(&store, &location.url, algo, image.size)
            .await;
        let outcome = match (&hashed, &validation) {
            (Ok(found), Some(v)) if found.os_hash_value != v.os_hash_value => {
                tracing::warn!(image.id = %id, "the location's data does not match its validation data; the image returns to queued");
                Settle::Revert
            }
            (Ok(_), _) => Settle::Keep,
            (Err(e), Some(_)) => {
                tracing::warn!(image.id = %id, error = %e, "cannot read the location's data to check it; the image returns to queued");
                Settle::Revert
            }
            (Err(e), None) => {
                tracing::warn!(image.id = %id, error = %e, "cannot read the location's data to hash it");
                return;
            }
        };
        let Ok(Some(current)) = self.db.get_image_versioned(id).await else {
            return;
        };
        let reload = Reload::ForService {
            missing: |id| CoreError::ImageNotFound {
                id: id.to_string(),
                by: Lookup::Image,
            },
        };
        let result = self
            .change_image(current, reload, Save::Image, |image| {
                let still_ours = image.locations.iter().any(|l| l.url == location.url);
                if !still_ours {
                    return Ok(Step::Keep);
                }
                match (&outcome, &hashed) {
                    (Settle::Keep, Ok(found)) => {
                        image.checksum = Some(found.checksum.clone());
                        image.os_hash_algo = Some(found.os_hash_algo.clone());
                        image.os_hash_value = Some(found.os_hash_value.clone());
                        if image.status == ImageStatus::Importing {
                            image.status = ImageStatus::Active;
                        }
                    }
                    _ => {
                        if image.status != ImageStatus::Importing {
                            return Ok(Step::Keep);
                        }
                        image.locations.retain(|l| l.url != location.url);
                        image.status = ImageStatus::Queued;
                        image.size = None;
                        image.checksum = None;
                        image.os_hash_algo = None;
                        image.os_hash_value = None;
                    }
                }
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(image.id = %id, error = %e, "cannot record the location's hash");
        }
    }

    async fn read_hashes(
        &self,
        store: &Arc<dyn Store>,
        url: &str,
        algo: HashAlgo,
        size: Option<u64>,
    ) -> Result<glint_store::Ingested, StoreError> {
        use futures::StreamExt;
        let object = store.get(url, None).await?;
        let cfg = IngestConfig {
            hash_algo: algo,
            size_cap: u64::MAX,
            expected_size: size,
            inspect: false,
        };
        let (mut stream, handle) = glint_store::ingest(object.stream, cfg);
        while let Some(chunk) = stream.next().await {
            chunk?;
        }
        handle.finish().await
    }
}

enum Settle {
    /// The data is what it should be: record its hashes.
    Keep,
    /// It is not (or cannot be read): the image goes back to queued.
    Revert,
}

fn invalid_location(url: &str) -> CoreError {
    CoreError::Model(glint_model::ModelError::invalid(format!(
        "Invalid location: {}",
        redact(url)
    )))
}

/// A URL without user information, clipped, for messages.
fn redact(url: &str) -> String {
    let shown = glint_store::redact_url(url).unwrap_or_else(|| url.to_owned());
    glint_model::limits::clip(&shown).into_owned()
}
