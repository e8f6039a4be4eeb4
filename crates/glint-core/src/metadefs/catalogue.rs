//! The operator's commands on the whole catalogue (`glint db
//! load-metadefs`, `unload-metadefs`, `export-metadefs`): files in Glance's
//! format in, the catalogue out. No caller and no policy: whoever runs them
//! holds the database's credentials.

use glint_db::DbError;
use glint_model::metadef::file;
use glint_model::metadef::validate;
use glint_model::time;
use serde_json::Value;

use super::MetadefService;
use super::namespaces::document;
use crate::error::CoreError;

/// The owner of a loaded namespace whose file names none, as in Glance.
const DEFAULT_OWNER: &str = "admin";

/// What a load did, file by file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Namespaces added.
    pub loaded: Vec<String>,
    /// Namespaces already in the catalogue, left as they are.
    pub skipped: Vec<String>,
    /// Files refused, with the reason.
    pub failed: Vec<(String, String)>,
}

impl MetadefService {
    /// Loads catalogue files (name and parsed JSON); a namespace already
    /// present is skipped, a file that breaks the rules is reported.
    pub async fn load_catalogue(
        &self,
        files: Vec<(String, Value)>,
    ) -> Result<LoadReport, CoreError> {
        let mut report = LoadReport::default();
        for (name, json) in files {
            let input = match validate::namespace_body(&file::as_body(&json)) {
                Ok(input) => input,
                Err(e) => {
                    report.failed.push((name, e.to_string()));
                    continue;
                }
            };
            let doc = match document(input, Some(DEFAULT_OWNER.to_owned()), time::now()) {
                Ok(doc) => doc,
                Err(e) => {
                    report.failed.push((name, e.to_string()));
                    continue;
                }
            };
            match self.db.insert_namespace(&doc).await {
                Ok(()) => report.loaded.push(doc.namespace.namespace),
                Err(DbError::Duplicate) => report.skipped.push(doc.namespace.namespace),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(report)
    }

    /// Deletes the whole catalogue; how many namespaces went.
    pub async fn unload_catalogue(&self) -> Result<u64, CoreError> {
        Ok(self.db.delete_all_metadefs().await?)
    }

    /// How many namespaces the catalogue holds.
    pub async fn catalogue_size(&self) -> Result<u64, CoreError> {
        Ok(self.db.count_metadef_namespaces().await?)
    }

    /// The catalogue as files: name and JSON, one per namespace.
    pub async fn export_catalogue(&self) -> Result<Vec<(String, Value)>, CoreError> {
        let docs = self.db.metadef_documents().await?;
        Ok(docs
            .iter()
            .map(|doc| (file::file_name(doc), file::to_file(doc)))
            .collect())
    }
}
