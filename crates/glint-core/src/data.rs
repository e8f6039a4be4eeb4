//! Image data download (`GET …/file`); uploads are in module `upload`.

use glint_model::{Image, ImageId, ImageStatus};
use glint_store::{ByteRange, ObjectData, StoreError};

use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;

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
        let image = self.load_visible(ctx, id, Lookup::Image).await?;
        self.authz
            .enforce_image(ctx, &image, "download_image")
            .await?;
        if image.status == ImageStatus::Deactivated && !ctx.is_admin() {
            return Err(CoreError::ImageDeactivated { id });
        }
        let Some(location) = image.active_locations().next().cloned() else {
            return Ok(Download { image, data: None });
        };
        let store = self.stores.for_url(&location.url).ok_or_else(|| {
            CoreError::Internal(format!(
                "no store serves the location of image {}",
                image.id
            ))
        })?;
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
        let data = store
            .get(&location.url, byte_range)
            .await
            .map_err(|e| match e {
                StoreError::InvalidRange => CoreError::RangeNotSatisfiable {
                    size: image.size.unwrap_or(0),
                },
                StoreError::NotFound(_) => CoreError::DataMissing { id },
                other => other.into(),
            })?;
        Ok(Download {
            image,
            data: Some(data),
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
