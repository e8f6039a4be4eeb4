//! The image actions: `POST /v2/images/{id}/actions/deactivate` and
//! `…/reactivate`.

use glint_model::{ImageId, ImageStatus, time};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, ImageAction, Lookup};
use crate::images::ImageService;

impl ImageService {
    /// `POST /v2/images/{id}/actions/deactivate`.
    pub async fn deactivate(&self, ctx: &RequestContext, id: ImageId) -> Result<(), CoreError> {
        self.toggle_active(ctx, id, ImageAction::Deactivate).await
    }

    /// `POST /v2/images/{id}/actions/reactivate`.
    pub async fn reactivate(&self, ctx: &RequestContext, id: ImageId) -> Result<(), CoreError> {
        self.toggle_active(ctx, id, ImageAction::Reactivate).await
    }

    async fn toggle_active(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        action: ImageAction,
    ) -> Result<(), CoreError> {
        let (from, to) = match action {
            ImageAction::Deactivate => (ImageStatus::Active, ImageStatus::Deactivated),
            ImageAction::Reactivate => (ImageStatus::Deactivated, ImageStatus::Active),
        };
        // The action's name is also its policy rule.
        let rule = action.as_str();
        let stored = self.load_visible_versioned(ctx, id, Lookup::Image).await?;
        self.authz.enforce_image(ctx, &stored.image, rule).await?;
        let reload = Reload::ForCaller {
            ctx,
            rule,
            by: Lookup::Image,
        };
        let changed = self
            .change_image(stored, reload, Save::Image, |image| {
                if image.status == to {
                    return Ok(Step::Keep);
                }
                if image.status != from {
                    return Err(CoreError::ActionNotAllowed {
                        action,
                        status: image.status,
                    });
                }
                image.transition(to)?;
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await?;
        if changed.saved.is_some() {
            tracing::info!(image.id = %changed.image.id, status = %to, "image {}d", action.as_str());
        }
        Ok(())
    }
}
