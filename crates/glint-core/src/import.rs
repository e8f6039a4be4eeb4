//! Interoperable import (`POST /v2/images/{id}/import`) and the work of
//! its `api_image_import` tasks.
//!
//! The request validates the body and the image as Glance does, records a
//! pending task, and in one compare-and-set save takes the import lock
//! (`os_glance_import_task`) and moves the image to `importing`. The
//! import worker of `glint-workers` claims each unfinished task with a job
//! lease (kind `import`) and calls [`ImageService::run_import`]: the data
//! (staged for `glance-direct`, downloaded for `web-download`) goes
//! through the ingest wrapper (hash, size, inspection) into the store, the
//! image becomes `active`, the staged file goes and the task succeeds. On
//! failure the image returns to `queued` without its staged data and the
//! task fails with the reason. A task whose worker died is run again from
//! the start by whoever claims its expired lease.

use std::sync::Arc;

use glint_db::Versioned;
use glint_model::task::{API_IMAGE_IMPORT, Task, TaskStatus};
use glint_model::{Image, ImageId, ImageStatus, Location, time};
use glint_notify::EventType;
use glint_store::{ByteStream, IngestConfig, Store};
use serde_json::{Value, json};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::intake::{ImportSettings, STAGE_HOST};
use crate::plugins::ImportData;

/// The import lock: the id of the task that imports the image.
pub const IMPORT_TASK: &str = "os_glance_import_task";
/// The stores an import is still writing to (multi-store).
pub const IMPORTING_TO_STORES: &str = "os_glance_importing_to_stores";
/// The stores an import failed to write to (multi-store).
pub const FAILED_IMPORT: &str = "os_glance_failed_import";

/// How long a pending import task may wait for its request to take the
/// image's lock before a worker runs it anyway.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// The kind of the job leases of import tasks.
pub const IMPORT_JOB: &str = "import";

/// The import methods glint implements, in Glance's order.
pub const IMPLEMENTED_METHODS: [&str; 2] = ["glance-direct", "web-download"];

/// How an import gets its data.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Method {
    GlanceDirect,
    WebDownload { uri: String },
}

impl Method {
    fn name(&self) -> &'static str {
        match self {
            Method::GlanceDirect => "glance-direct",
            Method::WebDownload { .. } => "web-download",
        }
    }
}

fn bad(message: impl Into<String>) -> CoreError {
    CoreError::ImportRequest(message.into())
}

fn conflict(message: impl Into<String>) -> CoreError {
    CoreError::ImportConflict(message.into())
}

fn missing(id: ImageId) -> CoreError {
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
            return Err(bad(format!("Unknown import method name '{name}'.")));
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
            "web-download" => {
                let uri = method
                    .get("uri")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let settings = self.imports.as_ref().ok_or_else(|| bad("no imports"))?;
                settings.fetcher.filter().check_url(uri).map_err(|e| {
                    bad(format!("URI for web-download does not pass filtering: {e}"))
                })?;
                Ok(Method::WebDownload {
                    uri: uri.to_owned(),
                })
            }
            other => Err(bad(format!("Unknown import method name '{other}'."))),
        }
    }

    /// `POST /v2/images/{id}/import`: the task that will import the image.
    pub async fn import_image(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        body: &Value,
        store_header: Option<&str>,
    ) -> Result<Task, CoreError> {
        let method = self.import_method(body)?;
        let stored = self.load_visible_versioned(ctx, id, Lookup::Image).await?;
        self.authz
            .enforce_image(ctx, &stored.image, "modify_image")
            .await?;
        check_importable(&stored.image, &method)?;
        let stores = self.import_stores(body, store_header)?;
        if method == Method::GlanceDirect {
            self.check_import_quota(ctx, stored.image.size).await?;
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
        self.plugin_task_input(ctx, &mut input);
        let mut task = Task::pending(API_IMAGE_IMPORT, input, now);
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
            rule: "modify_image",
            by: Lookup::Image,
        };
        let locked = self
            .change_image(stored, reload, Save::Image, |image| {
                check_importable(image, &method)?;
                if image.properties.contains_key(IMPORT_TASK) {
                    return Err(conflict(format!(
                        "New operation on image '{id}' is not permitted as prior operation is still in progress"
                    )));
                }
                image.properties.insert(IMPORT_TASK.into(), task_id.clone());
                if multi {
                    add_to_list(image, IMPORTING_TO_STORES, &stores);
                    remove_from_list(image, FAILED_IMPORT, &stores);
                }
                image.properties.remove(STAGE_HOST);
                image.transition(ImageStatus::Importing)?;
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await;
        if let Err(e) = locked {
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
        Ok(task)
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
    /// mode, none otherwise.
    fn import_stores(&self, body: &Value, header: Option<&str>) -> Result<Vec<String>, CoreError> {
        if !self.stores.is_multi_store() {
            return Ok(Vec::new());
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
            None if body.get("all_stores") == Some(&Value::Bool(true)) => self
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
        if named.len() > 1 {
            return Err(bad(
                "glint imports into one store at a time; name a single store",
            ));
        }
        for id in &named {
            let entry = self
                .stores
                .entry(id)
                .ok_or_else(|| conflict(format!("Store for identifier {id} not found")))?;
            if entry.meta.read_only {
                return Err(CoreError::StoreReadOnly);
            }
        }
        Ok(named)
    }

    /// Runs the import of `task` for `holder`, from the start whatever a
    /// previous holder did. Returns once the task has ended (success or
    /// failure recorded); an error means the outcome could not be recorded
    /// and the task is left for another attempt.
    pub async fn run_import(&self, task: Task) -> Result<(), CoreError> {
        let ttl = self.config.task_time_to_live;
        let mut task = task;
        if task.status == TaskStatus::Pending {
            let read = task.status;
            let before = task.clone();
            task.transition(TaskStatus::Processing, time::now(), ttl)?;
            if !self.db.save_task(&task, read).await? {
                return Ok(());
            }
            self.notify_task(EventType::TaskProcessing, &before);
        }
        let outcome = self.import_data(&task).await;
        let read = task.status;
        let before = task.clone();
        let Some(image_id) = task.image_id else {
            return Err(CoreError::Internal("import task without an image".into()));
        };
        match outcome {
            Ok(()) => {
                task.transition(TaskStatus::Success, time::now(), ttl)?;
                task.result = Some(json!({"image_id": image_id.to_string()}));
                task.message = String::new();
                tracing::info!(image.id = %image_id, task.id = %task.id, "image imported");
            }
            Err(e) => {
                tracing::warn!(image.id = %image_id, task.id = %task.id, error = %e, "import failed");
                self.revert_import(&task, image_id).await?;
                task.transition(TaskStatus::Failure, time::now(), ttl)?;
                task.message = import_failure_message(&e);
            }
        }
        if self.db.save_task(&task, read).await? {
            let event = match task.status {
                TaskStatus::Success => EventType::TaskSuccess,
                _ => EventType::TaskFailure,
            };
            self.notify_task(event, &before);
        }
        Ok(())
    }

    async fn import_data(&self, task: &Task) -> Result<(), CoreError> {
        let id = task
            .image_id
            .ok_or_else(|| CoreError::Internal("import task without an image".into()))?;
        let input = task.input.clone().unwrap_or(Value::Null);
        let method = match input["import_req"]["method"]["name"].as_str() {
            Some("glance-direct") => Method::GlanceDirect,
            Some("web-download") => Method::WebDownload {
                uri: input["uri"].as_str().unwrap_or_default().to_owned(),
            },
            other => {
                return Err(bad(format!(
                    "Unknown import method name '{}'.",
                    other.unwrap_or("")
                )));
            }
        };
        let current = self
            .db
            .get_image_versioned(id)
            .await?
            .ok_or(CoreError::DeletedDuringUpload { id })?;
        let task_id = task.id.to_string();
        if current.image.properties.get(IMPORT_TASK) != Some(&task_id)
            || current.image.status != ImageStatus::Importing
        {
            return Err(conflict(format!(
                "Image {id} is not being imported by task {task_id}"
            )));
        }
        let store_ids: Vec<String> = input["backend"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let target = self.upload_store(store_ids.first().map(String::as_str))?;
        let data = match &method {
            Method::GlanceDirect => ImportData::Staged,
            Method::WebDownload { uri } => {
                let settings = self
                    .imports
                    .clone()
                    .ok_or_else(|| bad("web-download is not enabled"))?;
                let download = settings
                    .fetcher
                    .fetch(uri, self.config.image_size_cap)
                    .await
                    .map_err(|e| bad(e.to_string()))?
                    .stream;
                ImportData::Stream(download)
            }
        };
        // The import plugins (plugins/), on the data of the methods Glance runs them for.
        let plugged = self.run_import_plugins(task, current, data).await?;
        let current = plugged.current;
        let (data, expected): (ByteStream, _) = match plugged.data {
            ImportData::Staged => {
                let staging = self
                    .staging
                    .clone()
                    .ok_or_else(|| CoreError::MethodUnavailable {
                        method: method.name().into(),
                    })?;
                let url = staging.store.url_for(id);
                let size = plugged.staged_size.or(current.image.size);
                (staging.store.get(&url, None).await?.stream, size)
            }
            ImportData::Stream(stream) => (stream, None),
        };
        self.write_import(current, target, data, expected, &task_id)
            .await
    }

    async fn write_import(
        &self,
        current: Versioned,
        target: Arc<dyn Store>,
        data: ByteStream,
        expected: Option<u64>,
        task_id: &str,
    ) -> Result<(), CoreError> {
        let id = current.image.id;
        let cfg = IngestConfig {
            hash_algo: self.config.hashing_algorithm,
            size_cap: self.config.image_size_cap,
            expected_size: expected,
            inspect: true,
        };
        let (stream, handle) = glint_store::ingest(data, cfg);
        let stored = match target.put(id, stream).await {
            Ok(stored) => stored,
            Err(e) => {
                drop(handle);
                let _ = target.discard(id).await;
                return Err(e.into());
            }
        };
        let activated = async {
            let ingested = handle.finish().await?;
            let virtual_size = self.checked_virtual_size(&current.image, &ingested)?;
            let at = Location::new(&stored.url, target.id());
            let reload = Reload::ForService { missing };
            let done = self
                .change_image(current, reload, Save::Image, |image| {
                    if image.status != ImageStatus::Importing
                        || image.properties.get(IMPORT_TASK).map(String::as_str) != Some(task_id)
                    {
                        return Err(conflict(format!(
                            "Image {id} is no longer being imported by task {task_id}"
                        )));
                    }
                    crate::upload::record_data(image, &ingested, virtual_size, at.clone());
                    image.properties.remove(IMPORT_TASK);
                    image.properties.remove(IMPORTING_TO_STORES);
                    image.transition(ImageStatus::Active)?;
                    image.updated_at = time::now();
                    Ok(Step::Save)
                })
                .await?;
            Ok::<Image, CoreError>(done.image)
        }
        .await;
        match activated {
            Ok(image) => {
                self.notify_activated(&image);
                if let Some(staging) = &self.staging
                    && let Err(e) = staging.store.discard(id).await
                {
                    tracing::error!(image.id = %id, error = %e, "cannot remove staged image data");
                }
                Ok(())
            }
            Err(e) => {
                if let Err(del) = target.delete(&stored.url).await {
                    tracing::error!(image.id = %id, error = %del, "failed to remove rejected data");
                }
                Err(e)
            }
        }
    }

    /// Glance's revert of a failed import: the image back to `queued`
    /// (if this task still holds it), its staged data removed, the lock
    /// released and, in multi-store mode, the stores marked failed.
    async fn revert_import(&self, task: &Task, id: ImageId) -> Result<(), CoreError> {
        if let Some(staging) = &self.staging
            && let Err(e) = staging.store.discard(id).await
        {
            tracing::error!(image.id = %id, error = %e, "cannot remove staged image data");
        }
        let Some(current) = self.db.get_image_versioned(id).await? else {
            return Ok(());
        };
        let task_id = task.id.to_string();
        let multi = self.stores.is_multi_store();
        let reload = Reload::ForService { missing };
        let reverted = self
            .change_image(current, reload, Save::Image, |image| {
                if image.properties.get(IMPORT_TASK) != Some(&task_id) {
                    return Ok(Step::Keep);
                }
                image.properties.remove(IMPORT_TASK);
                if multi {
                    let importing = list_of(image, IMPORTING_TO_STORES);
                    add_to_list(image, FAILED_IMPORT, &importing);
                }
                image.properties.remove(IMPORTING_TO_STORES);
                image.properties.remove(STAGE_HOST);
                if matches!(
                    image.status,
                    ImageStatus::Importing | ImageStatus::Uploading
                ) {
                    image.transition(ImageStatus::Queued)?;
                    image.size = None;
                }
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await;
        match reverted {
            Ok(_) | Err(CoreError::ImageNotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Claims `task` with a job lease (kind `import`) and runs it while
    /// renewing the lease. `false` when another process holds the lease.
    pub async fn claim_and_run_import(&self, task: Task) -> Result<bool, CoreError> {
        let key = task.id.to_string();
        let holder = self.lease_holder();
        let lease = glint_db::JobLease {
            holder: holder.clone(),
            expires_at: self.lease_expiry(),
        };
        if !self
            .db
            .claim_job(IMPORT_JOB, &key, &lease, time::now(), &[])
            .await?
        {
            return Ok(false);
        }
        if self.lock_not_yet_taken(&task).await? {
            self.db.finish_job(IMPORT_JOB, &key, &holder).await?;
            return Ok(false);
        }
        let ran = tokio::select! {
            biased;
            ran = self.run_import(task) => ran,
            never = self.keep_import_lease(&key, &holder) => match never {},
        };
        match ran {
            Ok(()) => {
                self.db.finish_job(IMPORT_JOB, &key, &holder).await?;
                Ok(true)
            }
            Err(e) => {
                let _ = self
                    .db
                    .fail_job(IMPORT_JOB, &key, &holder, &e.to_string(), time::now())
                    .await;
                Err(e)
            }
        }
    }

    /// A pending task whose request has not yet taken the image's import
    /// lock (the task row is written first): left alone for
    /// [`LOCK_GRACE`], after which it runs and fails as not holding it.
    async fn lock_not_yet_taken(&self, task: &Task) -> Result<bool, CoreError> {
        if task.status != TaskStatus::Pending || task.created_at + LOCK_GRACE < time::now() {
            return Ok(false);
        }
        let Some(id) = task.image_id else {
            return Ok(false);
        };
        let Some(image) = self.db.get_image(id).await? else {
            return Ok(false);
        };
        let task_id = task.id.to_string();
        Ok(image.properties.get(IMPORT_TASK) != Some(&task_id)
            && !image.status.is_gone()
            && image.status != ImageStatus::Active)
    }

    async fn keep_import_lease(&self, key: &str, holder: &str) -> std::convert::Infallible {
        let every = self.config.upload_lease_time / 3;
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self
                .db
                .renew_job(IMPORT_JOB, key, holder, self.lease_expiry())
                .await
            {
                tracing::warn!(task.id = key, error = %e, "cannot renew the import lease");
            }
        }
    }

    /// How many import tasks wait or run, on every node.
    pub async fn unfinished_import_count(&self) -> Result<u64, CoreError> {
        Ok(self.db.count_unfinished_tasks(API_IMAGE_IMPORT).await?)
    }

    /// Unfinished import tasks, oldest first, at most `limit`.
    pub async fn unfinished_imports(&self, limit: u64) -> Result<Vec<Task>, CoreError> {
        Ok(self.db.unfinished_tasks(API_IMAGE_IMPORT, limit).await?)
    }
}

/// Glance's checks of the image before an import (409s).
fn check_importable(image: &Image, method: &Method) -> Result<(), CoreError> {
    if image.status == ImageStatus::Active {
        return Err(conflict(
            "Image with status active cannot be target for import",
        ));
    }
    match method {
        Method::WebDownload { .. } if image.status != ImageStatus::Queued => {
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

fn list_of(image: &Image, key: &str) -> Vec<String> {
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

fn add_to_list(image: &mut Image, key: &str, stores: &[String]) {
    let mut list = list_of(image, key);
    for s in stores {
        if !list.contains(s) {
            list.push(s.clone());
        }
    }
    set_list(image, key, list);
}

fn remove_from_list(image: &mut Image, key: &str, stores: &[String]) {
    let list = list_of(image, key)
        .into_iter()
        .filter(|s| !stores.contains(s))
        .collect();
    set_list(image, key, list);
}

/// The task message of a failed import: the reason, as a user reads it.
fn import_failure_message(e: &CoreError) -> String {
    match e {
        CoreError::ImportRequest(m) | CoreError::ImportConflict(m) => m.clone(),
        other => other.to_string(),
    }
}
