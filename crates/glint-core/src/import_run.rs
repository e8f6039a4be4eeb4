//! The work of an import task (see [`crate::import`] for the request):
//! claimed with a job lease by the import worker of `glint-workers`, run
//! from the start whatever an earlier holder did, its data written to
//! each store in turn, and its outcome recorded on the task and the image.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, TryStreamExt};
use glint_model::task::{API_IMAGE_IMPORT, Task, TaskStatus};
use glint_model::{Image, ImageId, ImageStatus, Location, time};
use glint_notify::EventType;
use glint_store::{ByteStream, IngestConfig, Store};
use serde_json::{Value, json};

use crate::change::{Reload, Save, Step};
use crate::error::CoreError;
use crate::images::ImageService;
use crate::import::{
    FAILED_IMPORT, IMPORT_JOB, IMPORT_TASK, IMPORTING_TO_STORES, Method, add_to_list, bad,
    conflict, list_of, missing, remove_from_list, task_stores,
};
use crate::intake::STAGE_HOST;
use crate::plugins::ImportData;

/// How long a pending import task may wait for its request to take the
/// image's lock before a worker runs it anyway.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// How often a running import records its progress on its task.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the data an import writes to each store comes from.
enum Source {
    /// The staged file (read again for each store).
    Staged(Arc<crate::intake::Staging>),
    /// A download, for one store only.
    Stream(Option<ByteStream>),
    /// The image's data at one of its locations (`copy-image`).
    Location { store: Arc<dyn Store>, url: String },
}

impl Source {
    async fn open(&mut self, id: ImageId) -> Result<ByteStream, CoreError> {
        match self {
            Source::Staged(staging) => {
                let url = staging.store.url_for(id);
                Ok(staging.store.get(&url, None).await?.stream)
            }
            Source::Stream(stream) => stream
                .take()
                .ok_or_else(|| CoreError::Internal("a download read twice".into())),
            Source::Location { store, url } => Ok(store.get(url, None).await?.stream),
        }
    }
}

/// What one run of an import task does.
struct ImportPlan {
    id: ImageId,
    task_id: String,
    copy: bool,
    must_succeed: bool,
    /// The size the data must have, when known.
    expected: Option<u64>,
}

impl ImageService {
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
        let mut taken = None;
        let outcome = self.import_data_taking(task, &mut taken).await;
        if outcome.is_err()
            && let (Some(taken), Some(id)) = (taken, task.image_id)
        {
            self.put_back_metadata(task, id, taken).await;
        }
        outcome
    }

    /// The work of [`Self::import_data`]; `taken` is what a
    /// `glance-download` took from the remote image, to put back should
    /// the import fail.
    async fn import_data_taking(
        &self,
        task: &Task,
        taken: &mut Option<crate::glance_download::Taken>,
    ) -> Result<(), CoreError> {
        let id = task
            .image_id
            .ok_or_else(|| CoreError::Internal("import task without an image".into()))?;
        let input = task.input.clone().unwrap_or(Value::Null);
        let method = Method::of_task(&input)?;
        let copy = method == Method::CopyImage;
        let task_id = task.id.to_string();
        let current = self
            .db
            .get_image_versioned(id)
            .await?
            .ok_or(CoreError::DeletedDuringUpload { id })?;
        check_lock(&current.image, &task_id, copy)?;
        let mut store_ids = task_stores(&input);
        if store_ids.is_empty() {
            store_ids.push(self.upload_store(None)?.id().to_owned());
        }
        let must_succeed = input["import_req"]["all_stores_must_succeed"] != Value::Bool(false);
        // What an earlier attempt of this task wrote goes first.
        self.drop_partial_import(&current.image, &store_ids, copy)
            .await;
        let staging = || {
            self.staging
                .clone()
                .ok_or_else(|| CoreError::MethodUnavailable {
                    method: method.name().into(),
                })
        };
        let (source, expected) = match &method {
            Method::CopyImage => {
                let (store, url) = current
                    .image
                    .locations
                    .iter()
                    .find_map(|l| self.store_for(l).map(|s| (Arc::clone(s), l.url.clone())))
                    .ok_or_else(|| conflict(format!("Image {id} has no data to copy")))?;
                (Source::Location { store, url }, current.image.size)
            }
            Method::GlanceDirect | Method::WebDownload { .. } | Method::GlanceDownload(_) => {
                let mut current = current;
                let data = match &method {
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
                    Method::GlanceDownload(remote) => {
                        let settings = self
                            .imports
                            .clone()
                            .ok_or_else(|| bad("glance-download is not enabled"))?;
                        let download = self
                            .begin_glance_download(
                                task,
                                id,
                                remote,
                                &settings.fetcher,
                                &settings.download_properties,
                                taken,
                            )
                            .await?;
                        // The formats and properties taken.
                        current = self
                            .db
                            .get_image_versioned(id)
                            .await?
                            .ok_or(CoreError::DeletedDuringUpload { id })?;
                        ImportData::Stream(download)
                    }
                    _ => ImportData::Staged,
                };
                // The import plugins (plugins/), on the data of the methods
                // Glance runs them for.
                let plugged = self.run_import_plugins(task, current, data).await?;
                match plugged.data {
                    ImportData::Staged => {
                        let size = plugged.staged_size.or(plugged.current.image.size);
                        (Source::Staged(staging()?), size)
                    }
                    ImportData::Stream(download) if store_ids.len() == 1 => {
                        (Source::Stream(Some(download)), None)
                    }
                    ImportData::Stream(download) => {
                        // Several stores read it: staged once, as Glance does.
                        let staging = staging()?;
                        let size = self.stage_download(&staging, id, download).await?;
                        (Source::Staged(staging), Some(size))
                    }
                }
            }
        };
        let plan = ImportPlan {
            id,
            task_id,
            copy,
            must_succeed,
            expected,
        };
        let copied = Arc::new(AtomicU64::new(0));
        tokio::select! {
            biased;
            done = self.import_to_stores(&plan, &store_ids, source, &copied) => done,
            never = self.report_progress(task, &copied) => match never {},
        }
    }

    /// Glance's progress of a running import: the task's message says how
    /// much of the data the current store has taken (`Copied N MiB`),
    /// saved every few seconds, which also shows the task alive.
    async fn report_progress(&self, task: &Task, copied: &AtomicU64) -> std::convert::Infallible {
        let mut task = task.clone();
        let mut reported = 0;
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            let mib = copied.load(Ordering::Relaxed) / crate::quota::MIB;
            if mib == reported || task.status != TaskStatus::Processing {
                continue;
            }
            reported = mib;
            task.message = format!("Copied {mib} MiB");
            task.updated_at = time::now();
            if let Err(e) = self.db.save_task(&task, TaskStatus::Processing).await {
                tracing::warn!(task.id = %task.id, error = %e, "cannot record the import's progress");
            }
        }
    }

    /// Downloads into the staging store; the size staged.
    async fn stage_download(
        &self,
        staging: &crate::intake::Staging,
        id: ImageId,
        data: ByteStream,
    ) -> Result<u64, CoreError> {
        let cfg = IngestConfig {
            hash_algo: self.config.hashing_algorithm,
            size_cap: self.config.image_size_cap,
            expected_size: None,
            inspect: false,
        };
        let (stream, handle) = glint_store::ingest(data, cfg);
        if let Err(e) = staging.store.put(id, stream).await {
            drop(handle);
            let _ = staging.store.discard(id).await;
            return Err(e.into());
        }
        Ok(handle.finish().await?.size)
    }

    /// Writes the data of `source` to each store, then releases the lock
    /// and removes the staged data: one store after the other (Glance's
    /// serial import), or, with `max_parallel_stores` above 1, up to that
    /// many at the same time (not for `copy-image`, as in Glance).
    async fn import_to_stores(
        &self,
        plan: &ImportPlan,
        store_ids: &[String],
        source: Source,
        copied: &Arc<AtomicU64>,
    ) -> Result<(), CoreError> {
        let width = self.imports.as_ref().map_or(1, |s| s.max_parallel_stores);
        let written = match source {
            Source::Staged(staging) if width > 1 && store_ids.len() > 1 && !plan.copy => {
                self.write_stores_together(plan, store_ids, &staging, copied, width)
                    .await?
            }
            source => {
                self.write_stores_in_turn(plan, store_ids, source, copied)
                    .await?
            }
        };
        self.finish_import(plan).await?;
        if let Some(staging) = &self.staging
            && !plan.copy
        {
            self.discard_staged(staging, plan.id).await;
        }
        tracing::debug!(image.id = %plan.id, stores = written, "import written");
        Ok(())
    }

    /// Glance's serial import: each store in turn; the number of stores
    /// written.
    async fn write_stores_in_turn(
        &self,
        plan: &ImportPlan,
        store_ids: &[String],
        mut source: Source,
        copied: &Arc<AtomicU64>,
    ) -> Result<usize, CoreError> {
        let id = plan.id;
        let mut written: Vec<(Arc<dyn Store>, String)> = Vec::new();
        let mut last_error = None;
        for (n, store_id) in store_ids.iter().enumerate() {
            let set_active = !plan.copy && (!plan.must_succeed || n + 1 == store_ids.len());
            let outcome = async {
                let target = self.upload_store(Some(store_id))?;
                copied.store(0, Ordering::Relaxed);
                let counter = Arc::clone(copied);
                let data = source
                    .open(id)
                    .await?
                    .inspect_ok(move |chunk| {
                        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    })
                    .boxed();
                self.write_to_store(plan, Arc::clone(&target), data, set_active)
                    .await
                    .map(|url| (target, url))
            }
            .await;
            match outcome {
                Ok(done) => written.push(done),
                Err(e) if plan.must_succeed => {
                    remove_copies(id, &written).await;
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(image.id = %id, store.id = %store_id, error = %e, "import to a store failed; going on, as all_stores_must_succeed is false");
                    self.mark_store_failed(plan, store_id).await?;
                    last_error = Some(e);
                }
            }
        }
        if written.is_empty() && !plan.copy {
            return Err(match last_error {
                Some(e) if store_ids.len() == 1 => e,
                _ => conflict("None of the uploads finished!"),
            });
        }
        Ok(written.len())
    }

    /// Glance's parallel import: up to `width` stores written at the same
    /// time from the staged data. Without `all_stores_must_succeed` the
    /// first store done activates the image and a store that fails is
    /// listed in `os_glance_failed_import`; with it, the image becomes
    /// `active` once every store holds the data, and the first failure
    /// stops the others and removes every copy. The number of stores
    /// written.
    async fn write_stores_together(
        &self,
        plan: &ImportPlan,
        store_ids: &[String],
        staging: &crate::intake::Staging,
        copied: &Arc<AtomicU64>,
        width: usize,
    ) -> Result<usize, CoreError> {
        let id = plan.id;
        let set_active = !plan.must_succeed;
        let writes = futures::stream::iter(store_ids.iter().cloned())
            .map(|store_id| async move {
                let outcome = async {
                    let target = self.upload_store(Some(&store_id))?;
                    let counter = Arc::clone(copied);
                    let url = staging.store.url_for(id);
                    let data = staging
                        .store
                        .get(&url, None)
                        .await?
                        .stream
                        .inspect_ok(move |chunk| {
                            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        })
                        .boxed();
                    self.write_to_store(plan, Arc::clone(&target), data, set_active)
                        .await
                        .map(|url| (target, url))
                }
                .await;
                // A failed store is marked here, within the stream, never
                // in the loop below: while the loop awaits, the writes
                // still running are not polled, and one paused in the
                // middle of saving the image holds its write turn, which
                // the mark waits for (the import then hung in
                // `processing`).
                if let (Err(e), false) = (&outcome, plan.must_succeed) {
                    tracing::warn!(image.id = %id, store.id = %store_id, error = %e, "import to a store failed; going on, as all_stores_must_succeed is false");
                    self.mark_store_failed(plan, &store_id).await?;
                }
                Ok::<_, CoreError>(outcome)
            })
            .buffer_unordered(width);
        let mut writes = Box::pin(writes);
        let mut written: Vec<(Arc<dyn Store>, String)> = Vec::new();
        let mut failure = None;
        let mut failed = 0;
        // Nothing in this loop awaits (see above).
        while let Some(outcome) = writes.next().await {
            match outcome? {
                Ok(done) => written.push(done),
                Err(e) if plan.must_succeed => {
                    failure = Some(e);
                    break;
                }
                Err(_) => failed += 1,
            }
        }
        // The writes still running stop here.
        drop(writes);
        if let Some(e) = failure {
            remove_copies(id, &written).await;
            for store_id in store_ids {
                let done = written.iter().any(|(s, _)| s.id() == store_id);
                if !done && let Ok(store) = self.upload_store(Some(store_id)) {
                    let _ = store.discard(id).await;
                }
            }
            return Err(e);
        }
        if written.is_empty() {
            tracing::warn!(image.id = %id, failed, "no store took the import");
            return Err(conflict("None of the uploads finished!"));
        }
        if plan.must_succeed {
            self.activate_imported(plan).await?;
        }
        Ok(written.len())
    }

    /// The image of an import every store of which took the data becomes
    /// `active`.
    async fn activate_imported(&self, plan: &ImportPlan) -> Result<(), CoreError> {
        let Some(current) = self.db.get_image_versioned(plan.id).await? else {
            return Err(CoreError::DeletedDuringUpload { id: plan.id });
        };
        let reload = Reload::ForService { missing };
        let done = self
            .change_image(current, reload, Save::Image, |image| {
                check_lock(image, &plan.task_id, plan.copy)?;
                if image.status != ImageStatus::Importing {
                    return Ok(Step::Keep);
                }
                image.transition(ImageStatus::Active)?;
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await?;
        if done.saved.is_some() {
            self.notify_activated(&done.image);
        }
        Ok(())
    }

    /// One store's copy: ingested (hashed, sized and, unless copied,
    /// inspected), stored, and recorded on the image: as its data for the
    /// first store, as one more location (the same bytes, checked by their
    /// hashes) after that. The URL stored.
    async fn write_to_store(
        &self,
        plan: &ImportPlan,
        target: Arc<dyn Store>,
        data: ByteStream,
        set_active: bool,
    ) -> Result<String, CoreError> {
        let id = plan.id;
        let current = self
            .db
            .get_image_versioned(id)
            .await?
            .ok_or(CoreError::DeletedDuringUpload { id })?;
        check_lock(&current.image, &plan.task_id, plan.copy)?;
        let cfg = IngestConfig {
            hash_algo: self.config.hashing_algorithm,
            size_cap: self.config.image_size_cap,
            expected_size: plan.expected,
            inspect: !plan.copy,
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
        let recorded = async {
            let ingested = handle.finish().await?;
            let first = current.image.checksum.is_none() && !plan.copy;
            let virtual_size = if first {
                self.checked_virtual_size(&current.image, &ingested)?
            } else {
                None
            };
            let at = Location::new(&stored.url, target.id());
            let multi = self.stores.is_multi_store();
            let store_id = target.id().to_owned();
            let reload = Reload::ForService { missing };
            let done = self
                .change_image(current, reload, Save::Image, |image| {
                    check_lock(image, &plan.task_id, plan.copy)?;
                    if image.checksum.is_none() && !plan.copy {
                        crate::upload::record_data(image, &ingested, virtual_size, at.clone());
                    } else {
                        check_same_data(image, &ingested)?;
                        image.locations.retain(|l| l.url != at.url);
                        image.locations.push(at.clone());
                    }
                    if multi {
                        remove_from_list(
                            image,
                            IMPORTING_TO_STORES,
                            std::slice::from_ref(&store_id),
                        );
                    }
                    if set_active && image.status == ImageStatus::Importing {
                        image.transition(ImageStatus::Active)?;
                    }
                    image.updated_at = time::now();
                    Ok(Step::Save)
                })
                .await?;
            Ok::<Image, CoreError>(done.image)
        }
        .await;
        match recorded {
            Ok(image) => {
                tracing::info!(image.id = %id, store.id = target.id(), "image data imported to store");
                if set_active && image.status == ImageStatus::Active {
                    self.notify_activated(&image);
                }
                Ok(stored.url)
            }
            Err(e) => {
                if let Err(del) = target.delete(&stored.url).await {
                    tracing::error!(image.id = %id, error = %del, "failed to remove rejected data");
                }
                Err(e)
            }
        }
    }

    /// A store that failed while `all_stores_must_succeed` is false: no
    /// longer importing, listed as failed.
    async fn mark_store_failed(&self, plan: &ImportPlan, store_id: &str) -> Result<(), CoreError> {
        if !self.stores.is_multi_store() {
            return Ok(());
        }
        let Some(current) = self.db.get_image_versioned(plan.id).await? else {
            return Err(CoreError::DeletedDuringUpload { id: plan.id });
        };
        let store = [store_id.to_owned()];
        let reload = Reload::ForService { missing };
        self.change_image(current, reload, Save::Image, |image| {
            check_lock(image, &plan.task_id, plan.copy)?;
            remove_from_list(image, IMPORTING_TO_STORES, &store);
            add_to_list(image, FAILED_IMPORT, &store);
            image.updated_at = time::now();
            Ok(Step::Save)
        })
        .await?;
        Ok(())
    }

    /// The end of a successful import: the image must be `active` (else
    /// none of its stores took the data), and the lock is released.
    async fn finish_import(&self, plan: &ImportPlan) -> Result<(), CoreError> {
        let Some(current) = self.db.get_image_versioned(plan.id).await? else {
            return Err(CoreError::DeletedDuringUpload { id: plan.id });
        };
        let reload = Reload::ForService { missing };
        self.change_image(current, reload, Save::Image, |image| {
            check_lock(image, &plan.task_id, plan.copy)?;
            if image.status != ImageStatus::Active && !plan.copy {
                return Err(conflict("None of the uploads finished!"));
            }
            image.properties.remove(IMPORT_TASK);
            image.properties.remove(IMPORTING_TO_STORES);
            image.updated_at = time::now();
            Ok(Step::Save)
        })
        .await?;
        Ok(())
    }

    /// Removes what an interrupted earlier attempt of an import left: the
    /// data recorded on an image not yet `active`, and the partial writes
    /// in the stores the import writes to (of an active image, those that
    /// hold no copy of it yet).
    async fn drop_partial_import(&self, image: &Image, targets: &[String], copy: bool) {
        // An image already active (a copy, or an import without
        // `all_stores_must_succeed` past its first store) keeps its data.
        let keep = copy || image.status == ImageStatus::Active;
        let mut holding = Vec::new();
        for location in &image.locations {
            let Some(store) = self.store_for(location) else {
                continue;
            };
            if keep {
                holding.push(store.id().to_owned());
            } else if let Err(e) = store.delete(&location.url).await {
                tracing::warn!(image.id = %image.id, error = %e, "cannot remove data of an interrupted import");
            }
        }
        for id in targets.iter().filter(|t| !holding.contains(t)) {
            if let Ok(store) = self.upload_store(Some(id))
                && let Err(e) = store.discard(image.id).await
            {
                tracing::warn!(image.id = %image.id, store.id = %id, error = %e, "cannot remove partial data of an interrupted import");
            }
        }
    }

    /// Glance's revert of a failed import: the image back to `queued`
    /// without the data written so far (a copied image stays `active`,
    /// without the copies this task added), its staged data removed, the
    /// lock released and, in multi-store mode, the stores marked failed.
    async fn revert_import(&self, task: &Task, id: ImageId) -> Result<(), CoreError> {
        let input = task.input.clone().unwrap_or(Value::Null);
        let copy = Method::of_task(&input).is_ok_and(|m| m == Method::CopyImage);
        if let Some(staging) = &self.staging
            && !copy
        {
            self.discard_staged(staging, id).await;
        }
        let Some(current) = self.db.get_image_versioned(id).await? else {
            return Ok(());
        };
        let task_id = task.id.to_string();
        let targets = task_stores(&input);
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
                if copy {
                    image
                        .locations
                        .retain(|l| !l.store_id().is_some_and(|s| targets.iter().any(|t| t == s)));
                } else if matches!(
                    image.status,
                    ImageStatus::Importing | ImageStatus::Uploading
                ) {
                    image.transition(ImageStatus::Queued)?;
                    image.size = None;
                    image.virtual_size = None;
                    image.checksum = None;
                    image.os_hash_algo = None;
                    image.os_hash_value = None;
                    image.locations.clear();
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
        if !self.runs_here(&task) {
            return Ok(false);
        }
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
        // The task as it is now: another process may have run it to its
        // end between the read that listed it and this claim.
        let task = match self.db.task(task.id, time::now()).await? {
            Some(now) if !now.status.is_final() => now,
            _ => {
                self.db.finish_job(IMPORT_JOB, &key, &holder).await?;
                return Ok(false);
            }
        };
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

/// Removes the copies a failed import with `all_stores_must_succeed` wrote.
async fn remove_copies(id: ImageId, written: &[(Arc<dyn Store>, String)]) {
    for (store, url) in written {
        if let Err(e) = store.delete(url).await {
            tracing::error!(image.id = %id, store.id = store.id(), error = %e, "cannot remove data of a failed import");
        }
    }
}

/// The image is still being imported by task `task_id` (Glance's
/// `TaskAbortedError` otherwise).
fn check_lock(image: &Image, task_id: &str, copy: bool) -> Result<(), CoreError> {
    // An import without `all_stores_must_succeed` activates the image with
    // its first store and goes on with the others.
    let status_ok = match copy {
        true => image.status == ImageStatus::Active,
        false => matches!(image.status, ImageStatus::Importing | ImageStatus::Active),
    };
    if image.properties.get(IMPORT_TASK).map(String::as_str) != Some(task_id) || !status_ok {
        return Err(conflict(format!(
            "Image {} is no longer being imported by task {task_id}",
            image.id
        )));
    }
    Ok(())
}

/// A further copy of an image's data must be the same bytes.
fn check_same_data(image: &Image, ingested: &glint_store::Ingested) -> Result<(), CoreError> {
    let same_size = image.size.is_none_or(|s| s == ingested.size);
    let same_md5 = image
        .checksum
        .as_deref()
        .is_none_or(|c| c == ingested.checksum);
    let same_hash = match (&image.os_hash_algo, &image.os_hash_value) {
        (Some(algo), Some(value)) if *algo == ingested.os_hash_algo => {
            *value == ingested.os_hash_value
        }
        _ => true,
    };
    if same_size && same_md5 && same_hash {
        Ok(())
    } else {
        Err(conflict(format!(
            "The data read for image {} does not match its checksum",
            image.id
        )))
    }
}

/// The task message of a failed import: the reason, as a user reads it.
fn import_failure_message(e: &CoreError) -> String {
    match e {
        CoreError::ImportRequest(m) | CoreError::ImportConflict(m) => m.clone(),
        other => other.to_string(),
    }
}
