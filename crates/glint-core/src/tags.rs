//! Image tags: `PUT` and `DELETE /v2/images/{id}/tags/{tag}`.

use glint_model::{properties, time};

use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::ImageService;

impl ImageService {
    pub async fn add_tag(
        &self,
        ctx: &RequestContext,
        id: &str,
        tag: &str,
    ) -> Result<(), CoreError> {
        let not_found = || CoreError::NotFound(format!("No image found with ID {id}"));
        let mut image = self.load_visible(ctx, id, not_found).await?;
        self.authz.enforce_image(ctx, &image, "modify_image")?;
        properties::validate_tag(tag)?;
        if image.tags.iter().any(|t| t == tag) {
            return Ok(());
        }
        let expected = image.status;
        image.add_tag(tag);
        self.check_quotas(&image)?;
        image.updated_at = time::now();
        self.save(&image, expected).await
    }

    pub async fn delete_tag(
        &self,
        ctx: &RequestContext,
        id: &str,
        tag: &str,
    ) -> Result<(), CoreError> {
        let not_found = || CoreError::NotFound(format!("No image found with ID {id}"));
        let mut image = self.load_visible(ctx, id, not_found).await?;
        self.authz.enforce_image(ctx, &image, "modify_image")?;
        let before = image.tags.len();
        image.tags.retain(|t| t != tag);
        if image.tags.len() == before {
            return Err(CoreError::NotFound(format!("Tag {tag} not found")));
        }
        let expected = image.status;
        image.updated_at = time::now();
        self.save(&image, expected).await
    }
}
