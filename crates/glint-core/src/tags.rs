//! Image tags: `PUT` and `DELETE /v2/images/{id}/tags/{tag}`.

use glint_model::{properties, time};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::{ImageService, not_found};

impl ImageService {
    /// Adds a tag. The tag is checked before the image is looked up, as
    /// Glance checks it while reading the request.
    pub async fn add_tag(
        &self,
        ctx: &RequestContext,
        id: &str,
        tag: &str,
    ) -> Result<(), CoreError> {
        properties::validate_tag(tag)?;
        let stored = self
            .load_visible_versioned(ctx, id, || not_found(id))
            .await?;
        self.authz
            .enforce_image(ctx, &stored.image, "modify_image")
            .await?;
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
            let before = image.clone();
            image.add_tag(tag);
            self.check_tag_quota(image)?;
            self.check_limits(Some(&before), image)?;
            image.updated_at = time::now();
            Ok(Step::Save)
        })
        .await?;
        Ok(())
    }

    /// Removes a tag; a tag the image does not have is Glance's bare 404.
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
            .enforce_image(ctx, &stored.image, "modify_image")
            .await?;
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
                return Err(CoreError::NotFound(
                    "The resource could not be found.".into(),
                ));
            }
            image.updated_at = time::now();
            Ok(Step::Save)
        })
        .await?;
        Ok(())
    }
}
