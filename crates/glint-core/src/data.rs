//! Image data download (`GET …/file`); uploads are in module `upload`.

use glint_model::{Image, ImageId, ImageStatus, Location};
use glint_store::{ByteRange, ObjectData, StoreError};

use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::transfers::counted;

/// A single byte range as a client asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// `bytes=a-b`
    FromTo(u64, u64),
    /// `bytes=a-`
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl RangeRequest {
    /// Resolves against the data size; `None` when unsatisfiable.
    pub fn resolve(self, size: u64) -> Option<ByteRange> {
        let (start, end) = match self {
            RangeRequest::FromTo(a, b) if a <= b => (a, b.min(size.saturating_sub(1))),
            RangeRequest::FromTo(..) => return None,
            RangeRequest::From(a) => (a, size.saturating_sub(1)),
            RangeRequest::Suffix(0) => return None,
            RangeRequest::Suffix(n) => (size.saturating_sub(n), size.saturating_sub(1)),
        };
        (start < size).then_some(ByteRange { start, end })
    }
}

/// What a download hands to the API layer.
pub struct Download {
    pub image: Image,
    /// `None` when the image has no data (204).
    pub data: Option<ObjectData>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("image", &self.image.id)
            .field("has_data", &self.data.is_some())
            .finish()
    }
}

impl ImageService {
    /// `GET /v2/images/{id}/file`.
    pub async fn download(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        range: Option<RangeRequest>,
    ) -> Result<Download, CoreError> {
        self.download_from(ctx, id, range, &[]).await
    }

    /// `GET /v2/images/{id}/file?prefer=a,b`: the data from the first
    /// location that answers, trying the preferred stores first, then the
    /// others by store weight (multi-store), as Glance does. With the
    /// image cache serving downloads, an active image comes from this
    /// node's cache when it holds the image's current data (after the same
    /// checks), and a whole download of it otherwise fills the cache.
    pub async fn download_from(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        range: Option<RangeRequest>,
        prefer: &[String],
    ) -> Result<Download, CoreError> {
        let image = self.load_visible(ctx, id, Lookup::Image).await?;
        self.authz
            .enforce_image(ctx, &image, "download_image")
            .await?;
        if image.status == ImageStatus::Deactivated && !ctx.is_admin() {
            return Err(CoreError::ImageDeactivated { id });
        }
        if !prefer.is_empty() {
            self.authz
                .enforce_image(ctx, &image, "download_from_store")
                .await?;
            if !self.stores.is_multi_store() {
                return Err(CoreError::StoreSelectionUnavailable);
            }
            if let Some(unknown) = prefer.iter().find(|s| self.stores.get(s).is_none()) {
                return Err(CoreError::StoreNotConfigured {
                    store: unknown.clone(),
                });
            }
        }
        let mut locations: Vec<Location> = image.active_locations().cloned().collect();
        self.stores.sort_by_weight(&mut locations, |l| l.store_id());
        // Stable: the preferred stores' locations first, in weight order.
        locations.sort_by_key(|l| !l.store_id().is_some_and(|s| prefer.iter().any(|p| p == s)));
        if locations.is_empty() {
            return Ok(Download { image, data: None });
        }
        let byte_range = match range {
            None => None,
            Some(r) => {
                let size = image.size.unwrap_or(0);
                Some(
                    r.resolve(size)
                        .ok_or(CoreError::RangeNotSatisfiable { size })?,
                )
            }
        };
        let cache = self
            .cache
            .as_ref()
            .filter(|c| c.config().serve_downloads && c.may_hold(&image));
        if let Some(cache) = cache
            && let Some(data) = cache.serve(&image, byte_range).await
        {
            let mut data = self.counted(ctx, &image, data);
            data.stream = counted(data.stream, &self.transfers.downloads_in_flight);
            return Ok(Download {
                image,
                data: Some(data),
            });
        }
        let mut failure = None;
        for location in &locations {
            let Some(store) = self.store_for(location) else {
                tracing::warn!(image.id = %id, "no store serves a location of the image");
                continue;
            };
            match store.get(&location.url, byte_range).await {
                Ok(data) => {
                    let data = match cache {
                        Some(cache) if byte_range.is_none() => {
                            cache.fill(&image, data).unwrap_or_else(|data| data)
                        }
                        _ => data,
                    };
                    let mut data = self.counted(ctx, &image, data);
                    data.stream = counted(data.stream, &self.transfers.downloads_in_flight);
                    return Ok(Download {
                        image,
                        data: Some(data),
                    });
                }
                Err(StoreError::InvalidRange) => {
                    return Err(CoreError::RangeNotSatisfiable {
                        size: image.size.unwrap_or(0),
                    });
                }
                Err(e) => {
                    tracing::warn!(image.id = %id, store.id = store.id(), error = %e, "cannot read a location; trying the next");
                    failure = Some(e);
                }
            }
        }
        Err(match failure {
            Some(StoreError::NotFound(_)) | None => CoreError::DataMissing { id },
            Some(other) => other.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        let r = |req: RangeRequest| req.resolve(100).map(|b| (b.start, b.end));
        assert_eq!(r(RangeRequest::FromTo(0, 9)), Some((0, 9)));
        assert_eq!(r(RangeRequest::FromTo(90, 200)), Some((90, 99)));
        assert_eq!(r(RangeRequest::From(50)), Some((50, 99)));
        assert_eq!(r(RangeRequest::Suffix(10)), Some((90, 99)));
        assert_eq!(r(RangeRequest::Suffix(500)), Some((0, 99)));
        assert_eq!(r(RangeRequest::From(100)), None);
        assert_eq!(r(RangeRequest::FromTo(5, 4)), None);
        assert_eq!(r(RangeRequest::Suffix(0)), None);
    }
}
