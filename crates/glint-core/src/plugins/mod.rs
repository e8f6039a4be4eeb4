//! The import plugins (`[image_import_opts] image_import_plugins`), run in
//! their configured order on an image's data during a `glance-direct` or
//! `web-download` import, as Glance runs them on staged data.
//!
//! Plugins that work on the data (`image_decompression`,
//! `image_conversion`) need it as a file: a `glance-direct` import already
//! has it in the staging store, a `web-download` first lands its download
//! there (bounded by `image_size_cap`). They replace the staged file with
//! their result, which the import then streams through the ingest wrapper
//! (hash, size, inspection) into the target store, so `checksum`, `size`
//! and `virtual_size` are those of the data stored. Plugins that only set
//! properties (`inject_image_metadata`) save them on the image at their
//! place in the order; `no_op` does nothing. Every save checks that the
//! import still holds the image's lock.

mod convert;
mod decompress;
mod inject;
pub mod settings;

use glint_db::Versioned;
use glint_model::task::Task;
use glint_model::{Image, ImageId, ImageStatus, time};
use glint_store::{ByteStream, Store};
use serde_json::Value;

pub use settings::{
    ConversionConfig, ConversionLimits, ImportPlugin, InjectConfig, OutputFormat, PluginSettings,
};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;

pub use settings::CALLER_ROLES;

/// An import's data, as the plugins take it and give it back.
pub enum ImportData {
    /// In the staging store under the image's id (`glance-direct`, or
    /// a download staged first).
    Staged,
    /// A stream not written anywhere yet (`web-download`).
    Stream(ByteStream),
}

/// What an import stores after its plugins ran.
pub struct PluginOutput {
    /// The image as the plugins left it.
    pub current: Versioned,
    pub data: ImportData,
    /// The size of the staged data, when a plugin wrote or replaced it.
    pub staged_size: Option<u64>,
}

fn failed(message: impl Into<String>) -> CoreError {
    CoreError::ImportRequest(message.into())
}

fn missing(id: ImageId) -> CoreError {
    CoreError::image_not_found(id, Lookup::Image)
}

impl ImageService {
    /// What an import task records for its plugins: the caller's roles,
    /// when `inject_image_metadata` will need them.
    pub(crate) fn plugin_task_input(&self, ctx: &RequestContext, input: &mut Value) {
        let injects = self
            .imports
            .as_ref()
            .is_some_and(|s| s.plugins.plugins.contains(&ImportPlugin::InjectMetadata));
        if injects {
            input[CALLER_ROLES] = Value::from(ctx.roles().to_vec());
        }
    }

    /// Runs the configured plugins on the data of `task`'s import. A
    /// plugin that needs a file first writes a streamed download to the
    /// staging store; the data then stays staged.
    pub(crate) async fn run_import_plugins(
        &self,
        task: &Task,
        current: Versioned,
        data: ImportData,
    ) -> Result<PluginOutput, CoreError> {
        let plugins = self
            .imports
            .as_ref()
            .map(|s| s.plugins.clone())
            .unwrap_or_default();
        let id = current.image.id;
        let task_id = task.id.to_string();
        let mut current = current;
        let mut data = data;
        let mut staged_size = None;
        for plugin in &plugins.plugins {
            let mut file = None;
            if plugin.needs_file() {
                let staging = self.staging.clone().ok_or_else(|| {
                    failed("import plugins need a staging area, and none is configured")
                })?;
                if let ImportData::Stream(stream) = data {
                    data = ImportData::Staged;
                    staging.store.put(id, stream).await?;
                }
                file = Some(staging.store.datadir().join(id.to_string()));
            }
            tracing::debug!(image.id = %id, plugin = plugin.name(), "import plugin");
            current = match (plugin, file) {
                (ImportPlugin::NoOp, _) => current,
                (ImportPlugin::InjectMetadata, _) => {
                    let roles = caller_roles(task);
                    self.inject_metadata(current, &task_id, &plugins.inject, &roles)
                        .await?
                }
                (ImportPlugin::Decompression, Some(path)) => {
                    self.decompress_staged(current, path).await?
                }
                (ImportPlugin::Conversion, Some(path)) => {
                    self.convert_staged(current, &task_id, path, &plugins.conversion)
                        .await?
                }
                (_, None) => return Err(CoreError::Internal("plugin without its file".into())),
            };
            if let (true, Some(staging)) = (plugin.needs_file(), &self.staging) {
                let path = staging.store.datadir().join(id.to_string());
                let size = tokio::fs::metadata(&path)
                    .await
                    .map_err(|e| CoreError::Internal(format!("staged data: {e}")))?
                    .len();
                staged_size = Some(size);
            }
        }
        Ok(PluginOutput {
            current,
            data,
            staged_size,
        })
    }

    /// Saves what a plugin changed on the image, if the import (task
    /// `task_id`) still holds it.
    async fn save_plugin_change(
        &self,
        current: Versioned,
        task_id: &str,
        mut change: impl FnMut(&mut Image),
    ) -> Result<Versioned, CoreError> {
        let id = current.image.id;
        let reload = Reload::ForService { missing };
        let changed = self
            .change_image(current, reload, Save::Image, |image| {
                let held = image
                    .properties
                    .get(crate::intake::IMPORT_TASK)
                    .map(String::as_str)
                    == Some(task_id);
                if !held || image.status != ImageStatus::Importing {
                    return Err(CoreError::ImportConflict(format!(
                        "Image {id} is no longer being imported by task {task_id}"
                    )));
                }
                change(image);
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await?;
        let saved = changed
            .saved
            .ok_or_else(|| CoreError::Internal("plugin change not saved".into()))?;
        Ok(Versioned {
            image: changed.image,
            version: saved.version,
        })
    }
}

/// The roles recorded with the task (none if it was recorded without).
fn caller_roles(task: &Task) -> Vec<String> {
    task.input
        .as_ref()
        .and_then(|i| i.get(CALLER_ROLES))
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_are_glances() {
        for plugin in ImportPlugin::ALL {
            assert_eq!(ImportPlugin::from_name(plugin.name()), Some(plugin));
        }
        assert_eq!(
            ImportPlugin::from_name("image_decompression"),
            Some(ImportPlugin::Decompression)
        );
        assert_eq!(ImportPlugin::from_name("ImageConversion"), None);
    }
}
