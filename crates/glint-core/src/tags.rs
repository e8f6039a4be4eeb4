//! Image tags: `PUT` and `DELETE /v2/images/{id}/tags/{tag}`.

use glint_model::{properties, time};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::{ImageService, not_found};

impl ImageService {
    pub async fn add_tag(
        &self,
        ctx: &RequestContext,
        id: &str,
        tag: &str,
    ) -> Result<(), CoreError> {
        let stored = self
            .load_visible_versioned(ctx, id, || not_found(id))
            .await?;
        self.authz
            .enforce_image(ctx, &stored.image, "modify_image")?;
        properties::validate_tag(tag)?;
        let reload = Reload::ForCaller {
            ctx,
            id,
            rule: "modify_image",
            missing: not_found,
        };
        self.change_image(stored, reload, Save::Image, |image| {
            if image.tags.iter().any(|t| t == tag) {
                return Ok(Step::Keep);
            }
            image.add_tag(tag);
            self.check_quotas(image)?;
            image.updated_at = time::now();
            Ok(Step::Save)
        })
        .await?;
        Ok(())
    }

    pub async fn delete_tag(
        &self,
        ctx: &RequestContext,
        id: &str,
        tag: &str,
    ) -> Result<(), CoreError> {
        let stored = self
            .load_visible_versioned(ctx, id, || not_found(id))
            .await?;
        self.authz
            .enforce_image(ctx, &stored.image, "modify_image")?;
        let reload = Reload::ForCaller {
            ctx,
            id,
            rule: "modify_image",
            missing: not_found,
        };
        self.change_image(stored, reload, Save::Image, |image| {
            let before = image.tags.len();
            image.tags.retain(|t| t != tag);
            if image.tags.len() == before {
                return Err(CoreError::NotFound(format!("Tag {tag} not found")));
            }
            image.updated_at = time::now();
            Ok(Step::Save)
        })
        .await?;
        Ok(())
    }
}
