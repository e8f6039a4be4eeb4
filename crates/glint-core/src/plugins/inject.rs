//! `inject_image_metadata`: `[inject_metadata_properties] inject` set on
//! the image unless the caller had one of `ignore_user_roles`. Keys in
//! Glance's reserved `os_glance` namespace are dropped, as Glance does.

use glint_db::Versioned;

use super::settings::InjectConfig;
use crate::error::CoreError;
use crate::images::ImageService;

const RESERVED: &str = "os_glance";

impl ImageService {
    pub(super) async fn inject_metadata(
        &self,
        current: Versioned,
        task_id: &str,
        config: &InjectConfig,
        roles: &[String],
    ) -> Result<Versioned, CoreError> {
        let ignored = roles.iter().any(|r| config.ignore_user_roles.contains(r));
        if ignored || config.inject.is_empty() {
            return Ok(current);
        }
        let id = current.image.id;
        self.save_plugin_change(current, task_id, |image| {
            for (key, value) in &config.inject {
                if key.starts_with(RESERVED) {
                    tracing::warn!(image.id = %id, key, "reserved property not injected");
                    continue;
                }
                image.properties.insert(key.clone(), value.clone());
            }
        })
        .await
    }
}
