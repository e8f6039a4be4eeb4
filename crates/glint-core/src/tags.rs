//! Image tags: `PUT` and `DELETE /v2/images/{id}/tags/{tag}`.

use glint_model::{Image, ImageId, time};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::input::NewTag;

impl ImageService {
    /// Adds a tag. The tag was checked before the image is looked up, as
    /// Glance checks it while reading the request.
    pub async fn add_tag(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        tag: &NewTag,
    ) -> Result<(), CoreError> {
        let tag = tag.as_str();
        self.change_tags(ctx, id, |image| {
            if image.tags.iter().any(|t| t == tag) {
                return Ok(Step::Keep);
            }
            let before = image.clone();
            image.add_tag(tag);
            self.check_tag_quota(image)?;
            self.check_limits(Some(&before), image)?;
            Ok(Step::Save)
        })
        .await
    }

    /// Removes a tag, which the image must have.
    pub async fn delete_tag(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        tag: &str,
    ) -> Result<(), CoreError> {
        self.change_tags(ctx, id, |image| {
            let before = image.tags.len();
            image.tags.retain(|t| t != tag);
            if image.tags.len() == before {
                return Err(CoreError::TagNotFound {
                    id,
                    tag: tag.to_owned(),
                });
            }
            Ok(Step::Save)
        })
        .await
    }

    /// Applies `change` to the tags of an image the caller may modify,
    /// stamping `updated_at` when it saves.
    async fn change_tags(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        mut change: impl FnMut(&mut Image) -> Result<Step, CoreError>,
    ) -> Result<(), CoreError> {
        let stored = self.load_visible_versioned(ctx, id, Lookup::Image).await?;
        self.authz
            .enforce_image(ctx, &stored.image, "modify_image")
            .await?;
        let reload = Reload::ForCaller {
            ctx,
            rule: "modify_image",
            by: Lookup::Image,
        };
        self.change_image(stored, reload, Save::Image, |image| {
            let step = change(image)?;
            if let Step::Save = step {
                image.updated_at = time::now();
            }
            Ok(step)
        })
        .await?;
        Ok(())
    }
}
