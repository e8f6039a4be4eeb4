//! Image tags: `PUT` and `DELETE /v2/images/{id}/tags/{tag}`.

use glint_model::limits::clip;
use glint_model::{properties, time};

use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::ImageService;

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
        let not_found = || CoreError::NotFound(format!("No image found with ID {}", clip(id)));
        let mut image = self.load_visible(ctx, id, not_found).await?;
        self.authz.enforce_image(ctx, &image, "modify_image")?;
        if image.tags.iter().any(|t| t == tag) {
            return Ok(());
        }
        let before = image.clone();
        let expected = image.status;
        image.add_tag(tag);
        self.check_tag_quota(&image)?;
        self.check_limits(Some(&before), &image)?;
        image.updated_at = time::now();
        self.save(&image, expected).await
    }

    /// Removes a tag; a tag the image does not have is Glance's bare 404.
    pub async fn delete_tag(
        &self,
        ctx: &RequestContext,
        id: &str,
        tag: &str,
    ) -> Result<(), CoreError> {
        let not_found = || CoreError::NotFound(format!("No image found with ID {}", clip(id)));
        let mut image = self.load_visible(ctx, id, not_found).await?;
        self.authz.enforce_image(ctx, &image, "modify_image")?;
        let before = image.tags.len();
        image.tags.retain(|t| t != tag);
        if image.tags.len() == before {
            return Err(CoreError::NotFound(
                "The resource could not be found.".into(),
            ));
        }
        let expected = image.status;
        image.updated_at = time::now();
        self.save(&image, expected).await
    }
}
