//! `PATCH /v2/images/{id}`: JSON-patch operations applied to the image as
//! read, and applied again to a fresh read when another request saved
//! first.

use glint_db::Versioned;
use glint_model::patch::{self, PatchOp};
use glint_model::properties::{PropertyAccess, Unrestricted};
use glint_model::{Image, ImageId, time};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::location_growth::LocationGrowth;
use crate::patch_locations::LocationOp;

impl ImageService {
    /// `PATCH /v2/images/{id}`.
    pub async fn update(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        ops: &[PatchOp],
    ) -> Result<Image, CoreError> {
        let Versioned { image, version } =
            self.load_visible_versioned(ctx, id, Lookup::Image).await?;
        if ops.is_empty() {
            self.authz.enforce_image(ctx, &image, "get_image").await?;
            return Ok(self.readable_view(ctx, image));
        }
        self.authorize_patch(ctx, &image, ops).await?;
        self.authz
            .enforce_image(ctx, &image, "modify_image")
            .await?;
        let location_ops = if self.config.show_multiple_locations {
            self.resolve_location_ops(ctx, &image, ops).await?
        } else {
            Vec::new()
        };
        self.apply_patch(ctx, Versioned { image, version }, ops, &location_ops)
            .await
    }

    /// Applies a parsed PATCH to the image as read and saves it; on a lost
    /// race the operations are applied again to a fresh read.
    async fn apply_patch(
        &self,
        ctx: &RequestContext,
        stored: Versioned,
        ops: &[PatchOp],
        location_ops: &[LocationOp],
    ) -> Result<Image, CoreError> {
        // Location operations are applied here, the others by the model
        // (which refuses location operations: locations are invisible).
        let model_ops: Vec<PatchOp> = if location_ops.is_empty() {
            ops.to_vec()
        } else {
            ops.iter()
                .filter(|op| op.root() != "locations")
                .cloned()
                .collect()
        };
        let mut removed = Vec::new();
        let reload = Reload::ForCaller {
            ctx,
            rule: "modify_image",
            by: Lookup::Image,
        };
        let growth = LocationGrowth::default();
        let save = match self.location_storage_quota() {
            Some(limit) if !location_ops.is_empty() => Save::WithinStorage {
                project: ctx.project_id(),
                limit,
                growth: &growth,
            },
            _ => Save::Image,
        };
        let changed = self
            .change_image(stored, reload, save, |image| {
                // Made afresh for each attempt: its cache of decisions is
                // not shared between threads, and attempts may run on
                // several.
                let access = self.property_access(ctx);
                let guard: &dyn PropertyAccess = match &access {
                    Some(access) => access,
                    None => &Unrestricted,
                };
                // Properties the caller cannot read stay on the image
                // untouched; they are only left out of the view returned.
                let before = image.clone();
                patch::apply_patch_with(image, &model_ops, guard)?;
                removed = self.apply_location_ops(image, location_ops)?;
                self.check_limits(Some(&before), image)?;
                growth.record(ctx.project_id(), &before, image);
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await
            .map_err(|e| match e {
                CoreError::StorageQuotaExceeded { remaining, .. } => growth.refusal(remaining),
                other => other,
            })?;
        self.delete_locations_data(changed.image.id, &removed).await;
        Ok(self.readable_view(ctx, changed.image))
    }
}
