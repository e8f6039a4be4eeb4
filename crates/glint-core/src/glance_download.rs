//! The `glance-download` import method: the image's data and some of its
//! metadata come from an image of another image service (another glint,
//! or a Glance of another region), reached through the caller's service
//! catalog with the caller's own token.
//!
//! The token and catalog ([`Delegation`]) are lent by the request and kept
//! in this process's memory only, never in the database: the task runs on
//! the node that took the request. Should that process stop first, the
//! task cannot run anywhere; another node fails it cleanly (the image back
//! to `queued`) once the process is known to have ended (same machine) or
//! the token has expired (it could not be used any more).
//!
//! The task reads the remote image (`GET {endpoint}/v2/images/{id}`),
//! which must be `active`; takes its `disk_format` and `container_format`
//! and the properties whose names begin with one of
//! `[glance_download_properties] extra_properties` (never Glance's
//! reserved `os_glance` ones, never attributes of the image itself); then
//! downloads `{endpoint}/v2/images/{id}/file`, which must be exactly the
//! remote image's `size`. Both requests go through the same filter as
//! `web-download` (`[import_filtering_opts]` and the checks of every
//! address and redirect), and the token is sent to the endpoint's origin
//! only, never along a redirect elsewhere. A failed import puts back the
//! formats and properties it took.

use std::sync::Arc;

use futures::StreamExt;
use glint_model::properties::{BASE_SETTABLE, check_writable};
use glint_model::task::Task;
use glint_model::{Image, ImageId, time};
use glint_store::{ByteStream, StoreError, WebFetcher};
use serde_json::Value;

use crate::change::{Reload, Save, Step};
use crate::context::Delegation;
use crate::error::CoreError;
use crate::error::Lookup;
use crate::images::ImageService;
use crate::intake::IMPORT_TASK;

/// The method's name.
pub const GLANCE_DOWNLOAD: &str = "glance-download";

/// The key of a task's input naming the process that holds the lent
/// credentials (a lease holder: node, run, process).
pub const DELEGATED_TO: &str = "delegated_to";
/// The key of a task's input saying when the lent token expires.
pub const DELEGATION_EXPIRES: &str = "delegation_expires_at";

/// How long credentials lent without an expiry (no Keystone) are kept.
const UNTIMED_DELEGATION: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// The largest remote image document read.
const MAX_IMAGE_DOCUMENT: u64 = 1024 * 1024;

/// The task's failure when the lent credentials are gone.
const CREDENTIALS_LOST: &str = "The credentials lent for this glance-download import are gone: \
     the glint process that took the request stopped, or the token expired. Import the image again.";

/// Which remote image to import, from the request's `method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteImage {
    pub region: String,
    /// The remote image's id, as a hyphenated UUID.
    pub image_id: String,
    pub interface: String,
}

impl RemoteImage {
    /// The method's fields as a task's input holds them.
    pub(crate) fn of_method(method: &Value) -> RemoteImage {
        let text = |key: &str| method[key].as_str().unwrap_or_default().to_owned();
        RemoteImage {
            region: text("glance_region"),
            image_id: text("glance_image_id"),
            interface: text("glance_service_interface"),
        }
    }

    /// Glance's checks of the request's `method` (400s), after those of the
    /// image; fills in the interface (`public`) when absent, as Glance
    /// does, and writes the id in its canonical form.
    pub(crate) fn checked(method: &mut Value) -> Result<RemoteImage, CoreError> {
        let region = match method.get("glance_region") {
            None => {
                return Err(bad(
                    "'glance_region' needs to be set for glance-download import method",
                ));
            }
            Some(Value::String(r)) if usable(r) => r.clone(),
            Some(_) => {
                return Err(bad(
                    "'glance_region' must be a non-empty string without NUL characters",
                ));
            }
        };
        let id = match method.get("glance_image_id") {
            None => {
                return Err(bad(
                    "'glance_image_id' needs to be set for glance-download import method",
                ));
            }
            Some(v) => v,
        };
        let written = match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let image_id = id
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .ok_or_else(|| {
                bad(format!(
                    "Remote image id does not look like a UUID: {}",
                    glint_model::limits::clip(&written)
                ))
            })?
            .hyphenated()
            .to_string();
        let interface = match method.get("glance_service_interface") {
            None => "public".to_owned(),
            Some(Value::String(i)) if usable(i) => i.clone(),
            Some(_) => {
                return Err(bad(
                    "'glance_service_interface' must be a non-empty string without NUL characters",
                ));
            }
        };
        method["glance_image_id"] = Value::String(image_id.clone());
        method["glance_service_interface"] = Value::String(interface.clone());
        Ok(RemoteImage {
            region,
            image_id,
            interface,
        })
    }
}

/// A region or interface name glint can look up and write in a message:
/// not blank, no NUL (which no database stores in text).
fn usable(name: &str) -> bool {
    !name.trim().is_empty() && !glint_model::limits::has_nul(name)
}

/// What a failed `glance-download` puts back on the image.
pub(crate) struct Taken {
    disk_format: Option<String>,
    container_format: Option<String>,
    /// Each property taken, with its value before (`None`: it was absent).
    properties: Vec<(String, Option<String>)>,
}

/// The remote image as the task needs it.
struct RemoteDocument {
    disk_format: String,
    container_format: String,
    size: u64,
    properties: Vec<(String, String)>,
}

impl ImageService {
    /// Lends the caller's credentials to the `glance-download` task being
    /// queued, and records in its input which process holds them and
    /// until when.
    pub(crate) fn lend_credentials(
        &self,
        task_id: &str,
        delegation: Option<&Arc<Delegation>>,
        input: &mut Value,
    ) {
        let Some(delegation) = delegation else {
            return;
        };
        let cap = time::now() + UNTIMED_DELEGATION;
        let until = delegation.expires_at().map_or(cap, |e| e.min(cap));
        self.delegations
            .lend(task_id, Arc::clone(delegation), until);
        input[DELEGATED_TO] = Value::String(self.lease_holder());
        input[DELEGATION_EXPIRES] = Value::String(time::format_iso(until));
    }

    /// Whether this process may run the `glance-download` task `task`: it
    /// holds its credentials, or nobody can any more (the holding process
    /// ended on this machine, or the token expired), and it fails it.
    pub(crate) fn runs_download_here(&self, task: &Task) -> bool {
        if self.delegations.holds(&task.id.to_string()) {
            return true;
        }
        let input = task.input.as_ref().unwrap_or(&Value::Null);
        let expired = input[DELEGATION_EXPIRES]
            .as_str()
            .and_then(time::parse_iso)
            .is_none_or(|until| until <= time::now());
        let ended = input[DELEGATED_TO].as_str().is_none_or(|holder| {
            holder == self.lease_holder()
                || !crate::liveness::ended_holders(&self.config.node_name, vec![holder.to_owned()])
                    .is_empty()
        });
        expired || ended
    }

    /// Reads the remote image and takes its formats and properties onto
    /// the image being imported; then starts the download of its data,
    /// which ends in an error unless it is exactly the remote size.
    pub(crate) async fn begin_glance_download(
        &self,
        task: &Task,
        id: ImageId,
        remote: &RemoteImage,
        fetcher: &WebFetcher,
        prefixes: &[String],
        taken: &mut Option<Taken>,
    ) -> Result<ByteStream, CoreError> {
        let delegation = self
            .delegations
            .take(&task.id.to_string())
            .ok_or_else(|| bad(CREDENTIALS_LOST))?;
        let endpoint = delegation
            .image_endpoint(&remote.region, &remote.interface)
            .ok_or_else(|| {
                bad(format!(
                    "{} glance endpoint not found for region {}",
                    glint_model::limits::clip(&remote.interface),
                    glint_model::limits::clip(&remote.region)
                ))
            })?
            .trim_end_matches('/')
            .to_owned();
        let headers = token_headers(delegation.token())?;
        let url = format!("{endpoint}/v2/images/{}", remote.image_id);
        tracing::info!(image.id = %id, task.id = %task.id, remote.image = %remote.image_id, "reading the remote image of a glance-download");
        let doc = fetcher
            .fetch_with_headers(&url, &headers, MAX_IMAGE_DOCUMENT)
            .await
            .map_err(|e| bad(format!("Cannot read the remote image: {e}")))?;
        let body = read_all(doc.stream).await?;
        let doc = remote_document(&body, &remote.image_id, prefixes)?;
        *taken = Some(self.take_metadata(task, id, &doc).await?);
        let file = format!("{url}/file");
        let download = fetcher
            .fetch_with_headers(&file, &headers, self.config.image_size_cap)
            .await
            .map_err(|e| bad(format!("Cannot download the remote image: {e}")))?;
        Ok(exactly(download.stream, doc.size))
    }

    /// Puts the remote image's formats and properties on the image.
    async fn take_metadata(
        &self,
        task: &Task,
        id: ImageId,
        doc: &RemoteDocument,
    ) -> Result<Taken, CoreError> {
        let formats = &self.config.formats;
        if !formats.disk_formats.contains(&doc.disk_format) {
            return Err(bad(format!(
                "The remote image's disk_format '{}' is not accepted here",
                glint_model::limits::clip(&doc.disk_format)
            )));
        }
        if !formats.container_formats.contains(&doc.container_format) {
            return Err(bad(format!(
                "The remote image's container_format '{}' is not accepted here",
                glint_model::limits::clip(&doc.container_format)
            )));
        }
        let current = self
            .db
            .get_image_versioned(id)
            .await?
            .ok_or_else(|| missing(id))?;
        let task_id = task.id.to_string();
        let mut taken = None;
        self.change_image(
            current,
            Reload::ForService { missing },
            Save::Image,
            |image| {
                holds_lock(image, &task_id)?;
                let before = image.clone();
                taken = Some(Taken {
                    disk_format: image.disk_format.clone(),
                    container_format: image.container_format.clone(),
                    properties: doc
                        .properties
                        .iter()
                        .map(|(k, _)| (k.clone(), image.properties.get(k).cloned()))
                        .collect(),
                });
                image.disk_format = Some(doc.disk_format.clone());
                image.container_format = Some(doc.container_format.clone());
                for (key, value) in &doc.properties {
                    image.properties.insert(key.clone(), value.clone());
                }
                self.check_limits(Some(&before), image)?;
                image.updated_at = time::now();
                Ok(Step::Save)
            },
        )
        .await?;
        taken.ok_or_else(|| CoreError::Internal("remote metadata not taken".into()))
    }

    /// Puts back what [`Self::take_metadata`] changed, while the task
    /// still holds the image's import lock.
    pub(crate) async fn put_back_metadata(&self, task: &Task, id: ImageId, taken: Taken) {
        let Ok(Some(current)) = self.db.get_image_versioned(id).await else {
            return;
        };
        let task_id = task.id.to_string();
        let put_back = self
            .change_image(
                current,
                Reload::ForService { missing },
                Save::Image,
                |image| {
                    if image.properties.get(IMPORT_TASK) != Some(&task_id) {
                        return Ok(Step::Keep);
                    }
                    image.disk_format = taken.disk_format.clone();
                    image.container_format = taken.container_format.clone();
                    for (key, before) in &taken.properties {
                        match before {
                            Some(value) => image.properties.insert(key.clone(), value.clone()),
                            None => image.properties.remove(key),
                        };
                    }
                    image.updated_at = time::now();
                    Ok(Step::Save)
                },
            )
            .await;
        if let Err(e) = put_back {
            tracing::warn!(image.id = %id, error = %e, "cannot put back the metadata a failed glance-download took");
        }
    }
}

/// The import's 400: the method's own checks, and the task's failures.
fn bad(message: impl Into<String>) -> CoreError {
    CoreError::ImportRequest(message.into())
}

fn missing(id: ImageId) -> CoreError {
    CoreError::image_not_found(id, Lookup::Image)
}

fn holds_lock(image: &Image, task_id: &str) -> Result<(), CoreError> {
    if image.properties.get(IMPORT_TASK).map(String::as_str) != Some(task_id) {
        return Err(CoreError::ImportConflict(format!(
            "Image {} is no longer being imported by task {task_id}",
            image.id
        )));
    }
    Ok(())
}

fn token_headers(token: &str) -> Result<http::HeaderMap, CoreError> {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    if !token.is_empty() {
        let mut value = http::HeaderValue::from_str(token)
            .map_err(|_| bad("The caller's token cannot be sent in a header"))?;
        value.set_sensitive(true);
        headers.insert("x-auth-token", value);
    }
    Ok(headers)
}

/// The whole body of a small download (its size capped by the fetch).
async fn read_all(mut stream: ByteStream) -> Result<Vec<u8>, CoreError> {
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("Cannot read the remote image: {e}")))?;
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The remote image document, read as Glance's `_ImportMetadata` reads it.
fn remote_document(
    body: &[u8],
    remote_id: &str,
    prefixes: &[String],
) -> Result<RemoteDocument, CoreError> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|_| bad("The remote image service did not answer with an image document"))?;
    let Some(fields) = doc.as_object() else {
        return Err(bad(
            "The remote image service did not answer with an image document",
        ));
    };
    let status = doc["status"].as_str().unwrap_or_default();
    if status != "active" {
        return Err(bad(format!(
            "Source image status should be active instead of {}",
            glint_model::limits::clip(status)
        )));
    }
    let size = doc["size"].as_u64().ok_or_else(|| {
        bad(format!(
            "Size attribute of remote image {remote_id} could not be determined."
        ))
    })?;
    let format = |key: &str| {
        doc[key]
            .as_str()
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("The remote image has no {key}")))
    };
    let properties = fields
        .iter()
        .filter(|(key, _)| prefixes.iter().any(|p| key.starts_with(p.as_str())))
        .filter(|(key, _)| copyable(key))
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .filter(|(_, value)| !glint_model::limits::has_nul(value))
        .collect();
    Ok(RemoteDocument {
        disk_format: format("disk_format")?,
        container_format: format("container_format")?,
        size,
        properties,
    })
}

/// An extra property glint may set from a remote image: not an attribute
/// of the image itself, not reserved.
fn copyable(key: &str) -> bool {
    // `check_writable` refuses the read-only attributes and the reserved
    // names (`os_glance*` among them).
    !BASE_SETTABLE.contains(&key)
        && key != "locations"
        && check_writable(key).is_ok()
        && glint_model::properties::validate_property_name(key).is_ok()
}

/// `stream`, ended by an error unless it carries exactly `size` bytes.
fn exactly(stream: ByteStream, size: u64) -> ByteStream {
    let state = (Some(stream), 0u64);
    futures::stream::unfold(state, move |(stream, seen)| async move {
        let mut stream = stream?;
        match stream.next().await {
            Some(Ok(chunk)) => {
                let seen = seen + chunk.len() as u64;
                if seen > size {
                    let e = StoreError::SizeMismatch {
                        expected: size,
                        actual: seen,
                    };
                    return Some((Err(e), (None, seen)));
                }
                Some((Ok(chunk), (Some(stream), seen)))
            }
            Some(Err(e)) => Some((Err(e), (None, seen))),
            None if seen != size => {
                let e = StoreError::SizeMismatch {
                    expected: size,
                    actual: seen,
                };
                Some((Err(e), (None, seen)))
            }
            None => None,
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prefixes() -> Vec<String> {
        ["hw_", "trait:", "os_distro", "os_secure_boot", "os_type"]
            .map(str::to_owned)
            .to_vec()
    }

    #[test]
    fn the_method_is_checked_as_glance_checks_it() {
        let id = "A1B2C3D4-0000-4000-8000-000000000001";
        let mut method =
            json!({"name": "glance-download", "glance_region": "R2", "glance_image_id": id});
        let remote = RemoteImage::checked(&mut method).unwrap();
        assert_eq!(remote.image_id, id.to_lowercase());
        assert_eq!(remote.interface, "public");
        assert_eq!(method["glance_service_interface"], "public");
        assert_eq!(RemoteImage::of_method(&method), remote);

        let message = |mut m: Value| match RemoteImage::checked(&mut m) {
            Err(CoreError::ImportRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            message(json!({"glance_image_id": id})),
            "'glance_region' needs to be set for glance-download import method"
        );
        assert_eq!(
            message(json!({"glance_region": "R"})),
            "'glance_image_id' needs to be set for glance-download import method"
        );
        assert_eq!(
            message(json!({"glance_region": "R", "glance_image_id": "../../v2/x"})),
            "Remote image id does not look like a UUID: ../../v2/x"
        );
        assert!(message(json!({"glance_region": "R", "glance_image_id": 7})).contains(": 7"));
        assert!(message(json!({"glance_region": 3, "glance_image_id": id})).contains("string"));
        assert!(message(json!({"glance_region": "R\0", "glance_image_id": id})).contains("string"));
        assert!(message(json!({"glance_region": "  ", "glance_image_id": id})).contains("string"));
        let long = "x".repeat(100_000);
        assert!(message(json!({"glance_region": "R", "glance_image_id": long})).len() < 400);
    }

    #[test]
    fn the_remote_document_gives_formats_size_and_the_named_properties_only() {
        let body = json!({
            "status": "active", "size": 42, "disk_format": "qcow2", "container_format": "bare",
            "hw_disk_bus": "scsi", "os_distro": "cirros", "trait:CUSTOM_X": "required",
            "os_glance_import_task": "t", "other": "no", "hw_count": 3, "os_type": "linux",
            "name": "n"
        });
        let doc = remote_document(body.to_string().as_bytes(), "r", &prefixes()).unwrap();
        assert_eq!((doc.disk_format.as_str(), doc.size), ("qcow2", 42));
        let mut keys: Vec<_> = doc.properties.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["hw_disk_bus", "os_distro", "os_type", "trait:CUSTOM_X"]
        );
        // Even a prefix naming everything takes no attribute of the image
        // and nothing reserved.
        let all = vec![String::new()];
        let doc = remote_document(body.to_string().as_bytes(), "r", &all).unwrap();
        assert!(doc.properties.iter().all(|(k, _)| k != "name"
            && k != "status"
            && k != "disk_format"
            && !k.starts_with("os_glance")));
    }

    #[test]
    fn a_remote_image_not_active_or_without_size_is_refused() {
        let refused = |v: Value| match remote_document(v.to_string().as_bytes(), "r1", &prefixes())
        {
            Err(CoreError::ImportRequest(m)) => m,
            Ok(_) => panic!("accepted {v}"),
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(
            refused(json!({"status": "queued", "size": 1})),
            "Source image status should be active instead of queued"
        );
        assert_eq!(
            refused(json!({"status": "active", "size": null, "disk_format": "raw"})),
            "Size attribute of remote image r1 could not be determined."
        );
        assert!(refused(json!([1])).contains("image document"));
        assert!(
            refused(json!({"status": "active", "size": 1, "container_format": "bare"}))
                .contains("disk_format")
        );
    }

    #[tokio::test]
    async fn the_download_must_be_exactly_the_remote_size() {
        let chunks = |parts: &[&'static [u8]]| -> ByteStream {
            futures::stream::iter(
                parts
                    .iter()
                    .map(|p| Ok(bytes::Bytes::from_static(p)))
                    .collect::<Vec<_>>(),
            )
            .boxed()
        };
        let collect = |s: ByteStream| async move {
            let items: Vec<_> = s.collect().await;
            items.into_iter().collect::<Result<Vec<_>, _>>()
        };
        assert!(collect(exactly(chunks(&[b"ab", b"cd"]), 4)).await.is_ok());
        assert!(matches!(
            collect(exactly(chunks(&[b"ab", b"c"]), 4)).await,
            Err(StoreError::SizeMismatch {
                expected: 4,
                actual: 3
            })
        ));
        assert!(matches!(
            collect(exactly(chunks(&[b"ab", b"cde"]), 4)).await,
            Err(StoreError::SizeMismatch {
                expected: 4,
                actual: 5
            })
        ));
    }
}
