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

use std::path::PathBuf;
use std::sync::Arc;

use glint_db::Versioned;
use glint_model::task::Task;
use glint_model::{Image, ImageId, ImageStatus, time};
use glint_store::{ByteStream, Store};
use serde_json::Value;

pub use convert::{ConversionConfig, ConversionLimits, OutputFormat};
pub use inject::InjectConfig;

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::intake::Staging;

/// The key of an import task's input that keeps the caller's roles, which
/// `inject_image_metadata` decides on when the task runs (on any node, and
/// after a restart). Not shown by the tasks API.
pub const CALLER_ROLES: &str = "glint_caller_roles";

/// One import plugin, by Glance's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPlugin {
    Decompression,
    Conversion,
    InjectMetadata,
    NoOp,
}

impl ImportPlugin {
    pub const ALL: [ImportPlugin; 4] = [
        ImportPlugin::Decompression,
        ImportPlugin::Conversion,
        ImportPlugin::InjectMetadata,
        ImportPlugin::NoOp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ImportPlugin::Decompression => "image_decompression",
            ImportPlugin::Conversion => "image_conversion",
            ImportPlugin::InjectMetadata => "inject_image_metadata",
            ImportPlugin::NoOp => "no_op",
        }
    }

    pub fn from_name(name: &str) -> Option<ImportPlugin> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    fn needs_file(self) -> bool {
        matches!(self, ImportPlugin::Decompression | ImportPlugin::Conversion)
    }
}

/// The plugins an import runs, in order, and their options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginSettings {
    pub plugins: Vec<ImportPlugin>,
    pub conversion: ConversionConfig,
    pub inject: InjectConfig,
}

/// Where an import's data comes from, as the plugins see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginSource {
    /// Already in the staging store (`glance-direct`).
    Staged,
    /// A stream to land in the staging store first (`web-download`).
    Stream,
}

/// The data an import stores after its plugins ran, and the image as
/// they left it.
pub struct PluginOutput {
    pub current: Versioned,
    pub data: ByteStream,
    pub expected_size: Option<u64>,
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

    /// Runs the configured plugins on the data of `task`'s import.
    pub(crate) async fn run_import_plugins(
        &self,
        task: &Task,
        current: Versioned,
        data: ByteStream,
        expected_size: Option<u64>,
        source: PluginSource,
    ) -> Result<PluginOutput, CoreError> {
        let plugins = self
            .imports
            .as_ref()
            .map(|s| s.plugins.clone())
            .unwrap_or_default();
        if plugins.plugins.is_empty() {
            return Ok(PluginOutput {
                current,
                data,
                expected_size,
            });
        }
        let id = current.image.id;
        let task_id = task.id.to_string();
        let mut current = current;
        let mut data = Some(data);
        let mut staged: Option<(Arc<Staging>, PathBuf)> = None;
        for plugin in &plugins.plugins {
            if plugin.needs_file() && staged.is_none() {
                let staging = self.staging.clone().ok_or_else(|| {
                    failed("import plugins need a staging area, and none is configured")
                })?;
                if source == PluginSource::Stream
                    && let Some(stream) = data.take()
                {
                    staging.store.put(id, stream).await?;
                }
                data = None;
                let path = staging.store.datadir().join(id.to_string());
                staged = Some((staging, path));
            }
            tracing::debug!(image.id = %id, plugin = plugin.name(), "import plugin");
            let file = staged.as_ref().map(|(_, path)| path.clone());
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
        }
        match (staged, data) {
            (Some((staging, path)), _) => {
                let size = tokio::fs::metadata(&path)
                    .await
                    .map_err(|e| CoreError::Internal(format!("staged data: {e}")))?
                    .len();
                let data = staging.store.get(&staging.store.url_for(id), None).await?;
                Ok(PluginOutput {
                    current,
                    data: data.stream,
                    expected_size: Some(size),
                })
            }
            (None, Some(data)) => Ok(PluginOutput {
                current,
                data,
                expected_size,
            }),
            (None, None) => Err(CoreError::Internal("import data lost by plugins".into())),
        }
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
                    .get(crate::import::IMPORT_TASK)
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
