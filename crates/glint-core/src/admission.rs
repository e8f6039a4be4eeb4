//! What a caller may ask of the catalogue before anything is read: which
//! images a list may start after.

use glint_model::limits::clip;
use glint_model::{Image, ImageId};

use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::ImageService;

impl ImageService {
    /// The image a list page starts after. As Glance: a marker that names
    /// no image is a bad request, one the caller may not see is forbidden.
    pub(crate) async fn load_marker(
        &self,
        ctx: &RequestContext,
        marker: &str,
    ) -> Result<Image, CoreError> {
        let missing = || CoreError::BadRequest(format!("No image found with ID {}", clip(marker)));
        let id = ImageId::parse(marker).ok_or_else(missing)?;
        let image = self.db.get_image(id).await?.ok_or_else(missing)?;
        if !self.visible(ctx, &image).await? {
            return Err(CoreError::Forbidden(format!(
                "Forbidding request, image {id} not visible"
            )));
        }
        Ok(image)
    }
}
