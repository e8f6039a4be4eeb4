//! Interoperable import (`POST /v2/images/{id}/import`) and the work of
//! its `api_image_import` tasks: the request here, the task's work in
//! `import_run.rs`.
//!
//! The request validates the body and the image as Glance does, records a
//! pending task, and in one compare-and-set save takes the import lock
//! (`os_glance_import_task`, breaking a stale one by Glance's rules) and,
//! unless it copies an active image (`copy-image`), moves the image to
//! `importing`. The import worker of `glint-workers` claims each
//! unfinished task with a job lease (kind `import`) and calls
//! [`ImageService::run_import`]: the data (staged for `glance-direct`,
//! downloaded for `web-download`, read from the image's location for
//! `copy-image`) goes through the import plugins of
//! `[image_import_opts]` (not for a copy, as in Glance; see `plugins/`),
//! then through the ingest wrapper (hash, size, inspection) into each store
//! the import names, one after the other, as Glance's serial import does. Without `all_stores_must_succeed` the image becomes
//! `active` with the first store written and a store that fails is listed
//! in `os_glance_failed_import`; with it (the default) the image becomes
//! `active` only once every store holds the data, and any failure removes
//! what was written. Then the staged file goes, the lock is released and
//! the task succeeds. On failure the image returns to `queued` (a copied
//! image stays `active`) without its staged data and the task fails with
//! the reason. A task whose worker died is run again from the start by
//! whoever claims its expired lease.

use std::sync::Arc;

use glint_model::limits::clip;
use glint_model::task::{API_IMAGE_IMPORT, Task, TaskId, TaskStatus};
use glint_model::{Image, ImageId, ImageStatus, time};
use glint_notify::EventType;
use serde_json::{Value, json};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::glance_download::{GLANCE_DOWNLOAD, RemoteImage};
use crate::images::ImageService;
use crate::intake::{ImportSettings, STAGE_HOST};

pub use crate::intake::IMPORT_TASK;
/// The stores an import is still writing to (multi-store).
pub const IMPORTING_TO_STORES: &str = "os_glance_importing_to_stores";
/// The stores an import failed to write to (multi-store).
pub const FAILED_IMPORT: &str = "os_glance_failed_import";

/// The kind of the job leases of import tasks.
pub const IMPORT_JOB: &str = "import";

/// How long an import lock is valid after its task last changed; twice as
/// long for a task still pending (Glance's rule for breaking a lock).
const LOCK_EXPIRY: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// The import methods glint implements, in Glance's order.
pub const IMPLEMENTED_METHODS: [&str; 4] = [
    "glance-direct",
    "web-download",
    "copy-image",
    "glance-download",
];

/// What glint keeps in an import task's input for its own work, which is
/// not part of Glance's input and not shown: the caller's roles for the
/// import plugins, and which process holds a `glance-download`'s lent
/// credentials until when.
pub const PRIVATE_TASK_INPUT: [&str; 3] = [
    crate::plugins::settings::CALLER_ROLES,
    crate::glance_download::DELEGATED_TO,
    crate::glance_download::DELEGATION_EXPIRES,
];

/// How an import gets its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Method {
    GlanceDirect,
    WebDownload { uri: String },
    CopyImage,
    GlanceDownload(RemoteImage),
}

impl Method {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Method::GlanceDirect => "glance-direct",
            Method::WebDownload { .. } => "web-download",
            Method::CopyImage => "copy-image",
            Method::GlanceDownload(_) => GLANCE_DOWNLOAD,
        }
    }

    /// The method of a task's input.
    pub(crate) fn of_task(input: &Value) -> Result<Method, CoreError> {
        match input["import_req"]["method"]["name"].as_str() {
            Some("glance-direct") => Ok(Method::GlanceDirect),
            Some("web-download") => Ok(Method::WebDownload {
                uri: input["uri"].as_str().unwrap_or_default().to_owned(),
            }),
            Some("copy-image") => Ok(Method::CopyImage),
            Some(GLANCE_DOWNLOAD) => Ok(Method::GlanceDownload(RemoteImage::of_method(
                &input["import_req"]["method"],
            ))),
            other => Err(bad(format!(
                "Unknown import method name '{}'.",
                other.unwrap_or("")
            ))),
        }
    }
}

/// An import lock found stale and broken: the task that held it and the
/// stores it was importing to, whose progress is cleaned up.
struct StaleLock {
    task_id: String,
    stores: Vec<String>,
}

pub(crate) fn bad(message: impl Into<String>) -> CoreError {
    CoreError::ImportRequest(message.into())
}

pub(crate) fn conflict(message: impl Into<String>) -> CoreError {
    CoreError::ImportConflict(message.into())
}

pub(crate) fn missing(id: ImageId) -> CoreError {
    CoreError::image_not_found(id, Lookup::Image)
}

impl ImageService {
    /// Serves the import methods of `settings`.
    pub fn with_imports(mut self, settings: ImportSettings) -> Self {
        self.imports = Some(Arc::new(settings));
        self
    }

    /// The import methods served here (`GET /v2/info/import`).
    pub fn import_methods(&self) -> Vec<String> {
        self.imports
            .as_ref()
            .map(|s| s.methods.clone())
            .unwrap_or_default()
    }

    /// Resolves when an import has been queued since the last call.
    pub async fn import_queued(&self) {
        self.import_wake.notified().await
    }

    /// Glance's `_validate_import_body`, then the method's own fields.
    fn import_method(&self, body: &Value) -> Result<Method, CoreError> {
        let method = body
            .get("method")
            .ok_or_else(|| bad("Import request requires a 'method' field."))?;
        let name = method
            .get("name")
            .ok_or_else(|| bad("Import request requires a 'name' field."))?;
        let name = name.as_str().unwrap_or_default();
        let enabled = self.import_methods();
        if !enabled.iter().any(|m| m == name) {
            return Err(bad(format!("Unknown import method name '{}'.", clip(name))));
        }
        for key in ["all_stores", "all_stores_must_succeed"] {
            if let Some(v) = body.get(key)
                && !v.is_boolean()
            {
                return Err(bad(format!(
                    "Invalid value for '{key}': must be a boolean."
                )));
            }
        }
        if body.get("all_stores_must_succeed") == Some(&Value::Bool(false))
            && !self.stores.is_multi_store()
        {
            return Err(bad(
                "The 'all_stores_must_succeed' option is only available with multiple stores.",
            ));
        }
        match name {
            "glance-direct" => Ok(Method::GlanceDirect),
            "copy-image" => Ok(Method::CopyImage),
            "web-download" => {
                let uri = method
                    .get("uri")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let settings = self.imports.as_ref().ok_or_else(|| bad("no imports"))?;
                settings.fetcher.filter().check_url(uri).map_err(|e| {
                    bad(format!(
                        "URI for web-download does not pass filtering: {}",
                        clip(&e.to_string())
                    ))
                })?;
                Ok(Method::WebDownload {
                    uri: uri.to_owned(),
                })
            }
            // Its own fields are checked after the image, as Glance does.
            GLANCE_DOWNLOAD => Ok(Method::GlanceDownload(RemoteImage::of_method(method))),
            other => Err(bad(format!(
                "Unknown import method name '{}'.",
                clip(other)
            ))),
        }
    }

    /// `POST /v2/images/{id}/import`: the task that will import the image,
    /// nothing for a `copy-image` to `all_stores` of an image already in
    /// every store, or, for a `glance-direct` import of data staged on
    /// another node, that node's URL, to which the caller passes the
    /// request on as Glance does.
    pub async fn import_image(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        body: &Value,
        store_header: Option<&str>,
    ) -> Result<ImportRequested, CoreError> {
        let method = self.import_method(body)?;
        let stored = self.load_visible_versioned(ctx, id, Lookup::Image).await?;
        // As Glance: a copy is allowed by its own rule (admin by default),
        // other imports need the right to change the image.
        let rule = match method {
            Method::CopyImage => "copy_image",
            _ => "modify_image",
        };
        self.authz.enforce_image(ctx, &stored.image, rule).await?;
        check_importable(&stored.image, &method)?;
        let mut body = body.clone();
        let method = match method {
            Method::GlanceDownload(_) => {
                Method::GlanceDownload(RemoteImage::checked(&mut body["method"])?)
            }
            other => other,
        };
        let body = &body;
        let stale = self.stale_import_lock(&stored.image).await?;
        let Some(stores) = self.import_stores(body, store_header, &stored.image, &method)? else {
            tracing::info!(image.id = %id, "image already in every store; nothing to copy");
            return Ok(ImportRequested::NothingToDo);
        };
        match method {
            Method::GlanceDirect => self.check_import_quota(ctx, stored.image.size).await?,
            Method::CopyImage => {
                let copies = u64::try_from(stores.len().max(1)).unwrap_or(u64::MAX);
                let size = stored.image.size.map(|s| s.saturating_mul(copies));
                self.check_import_quota(ctx, size).await?
            }
            Method::WebDownload { .. } | Method::GlanceDownload(_) => {}
        }
        let stage_host = match method {
            Method::GlanceDirect => stored.image.properties.get(STAGE_HOST).cloned(),
            _ => None,
        };
        if let Some(host) = &stage_host
            && Some(host) != self.self_url()
        {
            tracing::info!(image.id = %id, stage.host = %host, "import passed on to the node that staged the data");
            return Ok(ImportRequested::AtStageHost(host.clone()));
        }
        let now = time::now();
        let mut input = json!({
            "image_id": id.to_string(),
            "import_req": body,
            "backend": stores,
        });
        if let Method::WebDownload { uri } = &method {
            input["uri"] = json!(uri);
        }
        if let Some(host) = &stage_host {
            // Only the node holding the staged data runs the task.
            input[STAGE_HOST_INPUT] = json!(host);
        }
        self.plugin_task_input(ctx, &mut input);
        let mut task = Task::pending(API_IMAGE_IMPORT, input, now);
        if let (Method::GlanceDownload(_), Some(input)) = (&method, task.input.as_mut()) {
            let task_id = task.id.to_string();
            self.lend_credentials(&task_id, ctx.delegation(), input);
        }
        task.owner = ctx.project_id().map(str::to_owned);
        task.image_id = Some(id);
        task.request_id = Some(ctx.request_id.clone());
        task.user_id = ctx.user_id().map(str::to_owned);
        self.db.insert_task(&task).await?;
        self.notify_task(EventType::TaskCreate, &task);
        let task_id = task.id.to_string();
        let multi = self.stores.is_multi_store();
        let reload = Reload::ForCaller {
            ctx,
            rule,
            by: Lookup::Image,
        };
        let locked = self
            .change_image(stored, reload, Save::Image, |image| {
                check_importable(image, &method)?;
                match (image.properties.get(IMPORT_TASK), &stale) {
                    (None, _) => {}
                    (Some(holder), Some(stale)) if *holder == stale.task_id => {
                        // Glance's clean-up of the progress the broken
                        // lock's task left.
                        remove_from_list(image, IMPORTING_TO_STORES, &stale.stores);
                        remove_from_list(image, FAILED_IMPORT, &stale.stores);
                    }
                    (Some(_), _) => {
                        return Err(conflict(format!(
                            "New operation on image '{id}' is not permitted as prior operation is still in progress"
                        )));
                    }
                }
                image.properties.insert(IMPORT_TASK.into(), task_id.clone());
                if multi {
                    add_to_list(image, IMPORTING_TO_STORES, &stores);
                    remove_from_list(image, FAILED_IMPORT, &stores);
                }
                image.properties.remove(STAGE_HOST);
                if method != Method::CopyImage {
                    image.transition(ImageStatus::Importing)?;
                }
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await;
        if let Err(e) = locked {
            self.delegations.take(&task_id);
            let mut failed = task.clone();
            if failed
                .transition(
                    TaskStatus::Failure,
                    time::now(),
                    self.config.task_time_to_live,
                )
                .is_ok()
            {
                failed.message = "Import refused before it began".into();
                let _ = self.db.save_task(&failed, TaskStatus::Pending).await;
            }
            return Err(e);
        }
        self.notify_task(EventType::TaskRun, &task);
        tracing::info!(image.id = %id, task.id = %task.id, method = method.name(), "import queued");
        self.import_wake.notify_one();
        Ok(ImportRequested::Queued(Box::new(task)))
    }

    /// How this node names itself to the others
    /// (`worker_self_reference_url`), when it does.
    fn self_url(&self) -> Option<&String> {
        self.staging.as_ref().and_then(|s| s.self_url.as_ref())
    }

    /// Whether `task` is one this node may run: any but a `glance-direct`
    /// import of data staged on another node, or a `glance-download`
    /// whose credentials another live process holds.
    pub(crate) fn runs_here(&self, task: &Task) -> bool {
        let input = task.input.as_ref().unwrap_or(&Value::Null);
        if matches!(Method::of_task(input), Ok(Method::GlanceDownload(_))) {
            return self.runs_download_here(task);
        }
        let host = input.get(STAGE_HOST_INPUT).and_then(Value::as_str);
        match host {
            Some(host) => self.self_url().is_some_and(|me| me == host),
            None => true,
        }
    }

    /// Glance's rules for an image that already carries an import lock:
    /// the lock may be broken when its task is gone, or has not changed
    /// for an hour (two while still pending). glint also keeps a lock
    /// whose task a live worker holds (its job lease is valid), so a long
    /// import is never broken into. A lock that holds is 409 `Image has
    /// active task`; a broken one fails its task (`Expired lock
    /// preempted`) and is replaced by the caller.
    async fn stale_import_lock(&self, image: &Image) -> Result<Option<StaleLock>, CoreError> {
        let Some(holder) = image.properties.get(IMPORT_TASK) else {
            return Ok(None);
        };
        let now = time::now();
        let found = match TaskId::parse(holder) {
            Some(task_id) => self.db.task(task_id, now).await?,
            None => None,
        };
        let Some(mut task) = found else {
            tracing::warn!(image.id = %image.id, task.id = %holder, "import lock of a task that no longer exists; breaking it");
            return Ok(Some(StaleLock {
                task_id: holder.clone(),
                stores: Vec::new(),
            }));
        };
        let expiry = match task.status {
            TaskStatus::Pending => LOCK_EXPIRY * 2,
            _ => LOCK_EXPIRY,
        };
        let worked_on = self
            .db
            .job(IMPORT_JOB, holder)
            .await?
            .is_some_and(|job| job.expires_at > now);
        if task.updated_at + expiry > now || worked_on {
            return Err(conflict("Image has active task"));
        }
        if !task.status.is_final() {
            let read = task.status;
            let before = task.clone();
            task.transition(TaskStatus::Failure, now, self.config.task_time_to_live)?;
            task.message = "Expired lock preempted".into();
            if self.db.save_task(&task, read).await? {
                self.notify_task(EventType::TaskFailure, &before);
            }
        }
        tracing::warn!(image.id = %image.id, task.id = %holder, status = task.status.as_str(), "stale import lock broken");
        let stores = task_stores(task.input.as_ref().unwrap_or(&Value::Null));
        Ok(Some(StaleLock {
            task_id: holder.clone(),
            stores,
        }))
    }

    /// As Glance before a `glance-direct` import: the staged size must fit
    /// the project's storage bound (`image_size_total`, or
    /// `user_storage_quota`), else 413.
    async fn check_import_quota(
        &self,
        ctx: &RequestContext,
        size: Option<u64>,
    ) -> Result<(), CoreError> {
        let project = ctx.project_id();
        let limits = self.project_limits(project).await?;
        let Some(bound) = self.storage_bound(limits.as_ref()) else {
            return Ok(());
        };
        let used = self.db.project_usage(project).await?.stored;
        let remaining = i64::try_from(bound.bytes()).unwrap_or(i64::MAX)
            - i64::try_from(used).unwrap_or(i64::MAX);
        let wanted = i64::try_from(size.unwrap_or(0)).unwrap_or(i64::MAX);
        if wanted > remaining {
            return Err(bound.refusal(project, size, remaining));
        }
        Ok(())
    }

    /// The stores an import writes to: `stores`, else `all_stores`, else
    /// `X-Image-Meta-Store`, else the default; their ids in multi-store
    /// mode, none otherwise (the one store). For `copy-image`, a named
    /// store that already holds the image is 400, and `all_stores` leaves
    /// those out (`None` when that leaves none).
    fn import_stores(
        &self,
        body: &Value,
        header: Option<&str>,
        image: &Image,
        method: &Method,
    ) -> Result<Option<Vec<String>>, CoreError> {
        let holding: Vec<&str> = image
            .locations
            .iter()
            .filter_map(|l| self.store_for(l).map(|s| s.id()))
            .collect();
        if !self.stores.is_multi_store() {
            let default = self.upload_store(None)?;
            if *method == Method::CopyImage && holding.contains(&default.id()) {
                return Err(bad(format!(
                    "Image is already present at store '{}'",
                    default.id()
                )));
            }
            return Ok(Some(Vec::new()));
        }
        let all_stores = body.get("all_stores") == Some(&Value::Bool(true));
        if all_stores && (body.get("stores").is_some() || header.is_some()) {
            return Err(bad(
                "All_stores parameter can't be used with x-image-meta-store header or stores parameter",
            ));
        }
        if body.get("stores").is_some() && header.is_some() {
            return Err(bad(
                "Stores parameter and x-image-meta-store header can't be both specified",
            ));
        }
        let named: Vec<String> = match body.get("stores") {
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("Invalid stores"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("Invalid stores")),
            None if all_stores => self
                .stores
                .entries()
                .filter(|e| !e.meta.read_only)
                .map(|e| e.store.id().to_owned())
                .collect(),
            None => match header {
                Some(id) => vec![id.to_owned()],
                None => vec![self.upload_store(None)?.id().to_owned()],
            },
        };
        // Each store once, in the order named; every name must be a
        // writable store, so the list kept is never longer than the stores.
        let mut stores: Vec<String> = Vec::new();
        for id in named {
            let entry = self
                .stores
                .entry(&id)
                .ok_or_else(|| conflict(format!("Store for identifier {} not found", clip(&id))))?;
            if entry.meta.read_only {
                return Err(CoreError::StoreReadOnly);
            }
            if !stores.contains(&id) {
                stores.push(id);
            }
        }
        let mut named = stores;
        if named.is_empty() {
            // Nothing to write: a copy has nothing to do; any other import
            // would end with no store holding the image.
            return match method {
                Method::CopyImage => Ok(None),
                _ => Err(bad("Invalid stores: name at least one store")),
            };
        }
        if *method == Method::CopyImage {
            if all_stores {
                named.retain(|s| !holding.contains(&s.as_str()));
                if named.is_empty() {
                    return Ok(None);
                }
            } else if let Some(there) = named.iter().find(|s| holding.contains(&s.as_str())) {
                return Err(bad(format!("Image is already present at store '{there}'")));
            }
        }
        Ok(Some(named))
    }
}

/// What an import request led to.
#[derive(Debug)]
pub enum ImportRequested {
    /// The task that imports the image.
    Queued(Box<Task>),
    /// A `copy-image` to stores that all hold the image already.
    NothingToDo,
    /// The image's data is staged on the node at this URL, which must take
    /// the request.
    AtStageHost(String),
}

/// The key of a task's input naming the node that staged the data.
const STAGE_HOST_INPUT: &str = "stage_host";

/// The stores of a task's input (`backend`), in order.
pub(crate) fn task_stores(input: &Value) -> Vec<String> {
    input["backend"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Glance's checks of the image before an import (409s).
fn check_importable(image: &Image, method: &Method) -> Result<(), CoreError> {
    if *method == Method::CopyImage {
        if image.status != ImageStatus::Active {
            return Err(conflict(
                "Only images with status active can be targeted for copying",
            ));
        }
    } else if image.status == ImageStatus::Active {
        return Err(conflict(
            "Image with status active cannot be target for import",
        ));
    }
    match method {
        Method::WebDownload { .. } | Method::GlanceDownload(_)
            if image.status != ImageStatus::Queued =>
        {
            return Err(conflict(format!(
                "Image needs to be in 'queued' state to use '{}' method",
                method.name()
            )));
        }
        Method::GlanceDirect if image.status != ImageStatus::Uploading => {
            return Err(conflict(
                "Image needs to be staged before 'glance-direct' method can be used",
            ));
        }
        _ => {}
    }
    if image.container_format.as_deref().unwrap_or("").is_empty() {
        return Err(conflict("'container_format' needs to be set before import"));
    }
    if image.disk_format.as_deref().unwrap_or("").is_empty() {
        return Err(conflict("'disk_format' needs to be set before import"));
    }
    Ok(())
}

pub(crate) fn list_of(image: &Image, key: &str) -> Vec<String> {
    image
        .properties
        .get(key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn set_list(image: &mut Image, key: &str, list: Vec<String>) {
    if list.is_empty() {
        image.properties.remove(key);
    } else {
        image.properties.insert(key.to_owned(), list.join(","));
    }
}

pub(crate) fn add_to_list(image: &mut Image, key: &str, stores: &[String]) {
    let mut list = list_of(image, key);
    for s in stores {
        if !list.contains(s) {
            list.push(s.clone());
        }
    }
    set_list(image, key, list);
}

pub(crate) fn remove_from_list(image: &mut Image, key: &str, stores: &[String]) {
    let list = list_of(image, key)
        .into_iter()
        .filter(|s| !stores.contains(s))
        .collect();
    set_list(image, key, list);
}
