//! The image actions: `POST /v2/images/{id}/actions/deactivate` and
//! `…/reactivate`.

use glint_model::{ImageStatus, time};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::{ImageService, not_found};

impl ImageService {
    /// `POST /v2/images/{id}/actions/deactivate`.
    pub async fn deactivate(&self, ctx: &RequestContext, id: &str) -> Result<(), CoreError> {
        self.toggle_active(
            ctx,
            id,
            "deactivate",
            ImageStatus::Active,
            ImageStatus::Deactivated,
        )
        .await
    }

    /// `POST /v2/images/{id}/actions/reactivate`.
    pub async fn reactivate(&self, ctx: &RequestContext, id: &str) -> Result<(), CoreError> {
        self.toggle_active(
            ctx,
            id,
            "reactivate",
            ImageStatus::Deactivated,
            ImageStatus::Active,
        )
        .await
    }

    async fn toggle_active(
        &self,
        ctx: &RequestContext,
        id: &str,
        action: &str,
        from: ImageStatus,
        to: ImageStatus,
    ) -> Result<(), CoreError> {
        let stored = self
            .load_visible_versioned(ctx, id, || not_found(id))
            .await?;
        self.authz.enforce_image(ctx, &stored.image, action).await?;
        let reload = Reload::ForCaller {
            ctx,
            id,
            rule: action,
            missing: not_found,
        };
        let changed = self
            .change_image(stored, reload, Save::Image, |image| {
                if image.status == to {
                    return Ok(Step::Keep);
                }
                if image.status != from {
                    return Err(CoreError::Forbidden(format!(
                        "Not allowed to {action} image in status '{}'",
                        image.status
                    )));
                }
                image.transition(to)?;
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await?;
        if changed.saved.is_some() {
            tracing::info!(image.id = %changed.image.id, status = %to, "image {action}d");
        }
        Ok(())
    }
}
