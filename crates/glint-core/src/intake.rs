//! What the use cases of staging and import are given at start: the
//! import methods served, the downloader of `web-download`, and where
//! staged data goes.

use std::sync::Arc;

use glint_store::{FileStore, Store, WebFetcher};

/// What imports need besides the stores: the methods enabled here, the
/// downloader of `web-download` and `glance-download`, the import plugins.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// `enabled_import_methods` that glint implements, in their order.
    pub methods: Vec<String>,
    pub fetcher: WebFetcher,
    /// `image_import_plugins`, in order, and their options.
    pub plugins: crate::plugins::settings::PluginSettings,
    /// `[glance_download_properties] extra_properties`: the prefixes of
    /// the remote image's properties a `glance-download` copies.
    pub download_properties: Vec<String>,
    /// `[image_import_opts] max_parallel_stores`: how many stores one
    /// import writes to at the same time (1: one after the other).
    pub max_parallel_stores: usize,
}

/// The import lock: the id of the task that imports the image.
pub const IMPORT_TASK: &str = "os_glance_import_task";

/// The hidden property naming the node that holds an image's staged data.
pub const STAGE_HOST: &str = "os_glance_stage_host";

/// Where staged data goes, and how this node names itself to the others.
#[derive(Clone)]
pub struct Staging {
    /// The staging store (a file store, Glance's `os_glance_staging_store`
    /// or `node_staging_uri`).
    pub store: Arc<FileStore>,
    /// `worker_self_reference_url` (else `public_endpoint`), recorded on a
    /// staged image as `os_glance_stage_host`.
    pub self_url: Option<String>,
}

impl std::fmt::Debug for Staging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staging")
            .field("store", &self.store.id())
            .field("self_url", &self.self_url)
            .finish()
    }
}
