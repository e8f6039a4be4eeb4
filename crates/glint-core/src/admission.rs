//! What a caller may ask of an image before anything is saved: who may
//! own it, who may change its owner and visibility, how many tags and
//! properties it may carry and how large they may grow, and which images
//! a list may start after.

use glint_model::limits::{self, QuotaKind, Quotas};
use glint_model::patch::{PatchOp, PatchOpKind};
use glint_model::properties::RESERVED_NAMESPACE;
use glint_model::{Image, ImageId, Visibility};
use serde_json::Value;

use crate::authz;
use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::ImageService;

impl ImageService {
    /// The configured tag and property quotas, which bound what a create
    /// body or a patch may ask for.
    pub fn quotas(&self) -> Quotas {
        Quotas {
            tags: self.config.image_tag_quota,
            properties: self.config.image_property_quota,
            locations: self.config.image_location_quota,
        }
    }

    /// `add_image` for the proposed owner: absent means the caller's
    /// project, `Some(None)` an image without owner, which only a caller
    /// passing `add_image` for a null project (an admin) may create.
    pub(crate) async fn authorize_create(
        &self,
        ctx: &RequestContext,
        owner: Option<Option<&str>>,
        visibility: Visibility,
    ) -> Result<(), CoreError> {
        let target = authz::create_target(ctx, owner, visibility);
        if self.authz.check(ctx, "add_image", &target).await {
            return Ok(());
        }
        let proposed = owner.unwrap_or(ctx.project_id());
        if proposed != ctx.project_id() {
            return Err(CoreError::ForeignOwner {
                owner: proposed.map(str::to_owned),
            });
        }
        self.authz.enforce(ctx, "add_image", &target).await
    }

    /// The policy decisions a patch needs before it is applied: only an
    /// admin changes the owner, whichever operation names it, and making
    /// an image public or community has its own rules.
    pub(crate) async fn authorize_patch(
        &self,
        ctx: &RequestContext,
        image: &Image,
        ops: &[PatchOp],
    ) -> Result<(), CoreError> {
        for op in ops {
            let sets = matches!(op.kind, PatchOpKind::Add | PatchOpKind::Replace);
            if op.root() == "owner" && sets && !ctx.is_admin() {
                return Err(CoreError::OwnerChangeForbidden);
            }
            if op.root() == "visibility" {
                let requested = op
                    .value
                    .as_ref()
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok());
                if let Some(v) = requested {
                    self.authz.enforce_visibility(ctx, image, v).await?;
                }
            }
        }
        Ok(())
    }

    /// The limits an image must meet once changed from `before` (`None`
    /// for a new image). As in Glance, the property quota is enforced only
    /// when properties were added, so an image above a quota lowered since
    /// may still change and shrink; likewise the metadata bound only stops
    /// metadata from growing.
    pub(crate) fn check_limits(
        &self,
        before: Option<&Image>,
        image: &Image,
    ) -> Result<(), CoreError> {
        let added = before.is_none_or(|b| {
            image
                .properties
                .keys()
                .any(|k| !b.properties.contains_key(k))
        });
        if added {
            let attempted = image
                .properties
                .keys()
                .filter(|k| !k.starts_with(RESERVED_NAMESPACE))
                .count() as u64;
            self.quotas()
                .check(QuotaKind::Properties, attempted)
                .map_err(|maximum| CoreError::QuotaExceeded {
                    kind: QuotaKind::Properties,
                    attempted,
                    maximum,
                    image: None,
                })?;
        }
        let size = image.metadata_size();
        let grew = before.is_none_or(|b| size > b.metadata_size());
        if grew && size > limits::MAX_IMAGE_METADATA_BYTES {
            return Err(CoreError::MetadataTooLarge {
                size,
                maximum: limits::MAX_IMAGE_METADATA_BYTES,
            });
        }
        Ok(())
    }

    /// The tags API adds one tag: Glance counts the tags after the add.
    pub(crate) fn check_tag_quota(&self, image: &Image) -> Result<(), CoreError> {
        let attempted = image.tags.len() as u64;
        self.quotas()
            .check(QuotaKind::Tags, attempted)
            .map_err(|maximum| CoreError::QuotaExceeded {
                kind: QuotaKind::Tags,
                attempted,
                maximum,
                image: Some(image.id),
            })
    }

    /// The image a list page starts after: one the caller may see.
    pub(crate) async fn load_marker(
        &self,
        ctx: &RequestContext,
        marker: &str,
    ) -> Result<Image, CoreError> {
        let missing = || CoreError::MarkerNotFound {
            marker: marker.to_owned(),
        };
        let id = ImageId::parse(marker).ok_or_else(missing)?;
        let image = self.db.get_image(id).await?.ok_or_else(missing)?;
        if !self.visible(ctx, &image).await? {
            return Err(CoreError::MarkerNotVisible { id });
        }
        Ok(image)
    }
}
