//! The task API (`/v2/tasks`, `/v2/images/{id}/tasks`): listing and
//! showing tasks, and the legacy `POST /v2/tasks`.
//!
//! Every call of `/v2/tasks` first needs `tasks_api_access` (admin by
//! default), then `get_task`/`get_tasks`/`add_task`. A caller who is not
//! an admin sees only its project's tasks; another project's task is
//! forbidden to them, as in Glance. Expired tasks (`expires_at` passed) are
//! gone from every answer.

use glint_db::{DbError, TASK_SORT_KEYS, TaskListQuery};
use glint_model::task::TASK_TYPES;
use glint_model::time;
use glint_model::{ImageId, ModelError, Task, TaskId, TaskStatus};
use glint_notify::EventType;
use glint_policy::Target;
use serde_json::Value;

use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;

/// A task list as the client asked for it, before validation.
#[derive(Debug, Clone, Default)]
pub struct TaskListRequest {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub sort_key: Option<String>,
    pub sort_dir: Option<String>,
    pub marker: Option<String>,
    pub limit: Option<String>,
}

/// A page of tasks; `next_marker` when the page was full.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    pub next_marker: Option<TaskId>,
}

fn invalid(msg: String) -> CoreError {
    CoreError::Model(ModelError::invalid(msg))
}

fn task_target(ctx: &RequestContext) -> Target {
    let mut t = Target::new();
    let project = ctx
        .project_id()
        .map_or(Value::Null, |p| Value::String(p.into()));
    t.insert("project_id".into(), project);
    let user = ctx
        .user_id()
        .map_or(Value::Null, |u| Value::String(u.into()));
    t.insert("user_id".into(), user);
    t
}

impl ImageService {
    async fn enforce_tasks(
        &self,
        ctx: &RequestContext,
        rule: &'static str,
    ) -> Result<(), CoreError> {
        let target = task_target(ctx);
        self.authz.enforce(ctx, "tasks_api_access", &target).await?;
        self.authz.enforce(ctx, rule, &target).await
    }

    fn task_query(
        &self,
        ctx: &RequestContext,
        req: &TaskListRequest,
    ) -> Result<TaskListQuery, CoreError> {
        let ascending = match req.sort_dir.as_deref().unwrap_or("desc") {
            "asc" => true,
            "desc" => false,
            other => return Err(invalid(format!("Invalid sort direction: {other}"))),
        };
        let status = match req.status.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(s.parse::<TaskStatus>().map_err(CoreError::Model)?),
            None => None,
        };
        let kind = req.kind.clone().filter(|k| !k.is_empty());
        if let Some(k) = &kind
            && k != "import"
        {
            return Err(invalid(format!("Invalid type value: {k}")));
        }
        let key = req.sort_key.as_deref().unwrap_or("created_at");
        let sort_key = TASK_SORT_KEYS
            .into_iter()
            .find(|k| *k == key)
            .ok_or_else(|| invalid(format!("Unable to sort on key {key}")))?;
        let marker = match req.marker.as_deref() {
            Some(m) => {
                Some(TaskId::parse(m).ok_or_else(|| invalid("Invalid marker format".into()))?)
            }
            None => None,
        };
        let limit = match req.limit.as_deref() {
            Some(l) => {
                let n: i64 = l
                    .parse()
                    .map_err(|_| invalid("limit param must be an integer".into()))?;
                u64::try_from(n).map_err(|_| invalid("limit param must be positive".into()))?
            }
            None => self.config.limit_param_default,
        };
        Ok(TaskListQuery {
            status,
            kind,
            sort_key,
            ascending,
            marker,
            limit: limit.min(self.config.api_limit_max),
            owner: (!ctx.is_admin()).then(|| ctx.project_id().unwrap_or_default().to_owned()),
        })
    }

    /// `GET /v2/tasks`.
    pub async fn list_tasks(
        &self,
        ctx: &RequestContext,
        req: &TaskListRequest,
    ) -> Result<TaskPage, CoreError> {
        self.enforce_tasks(ctx, "get_tasks").await?;
        let query = self.task_query(ctx, req)?;
        let tasks = match self.db.list_tasks(&query, time::now()).await {
            Ok(tasks) => tasks,
            Err(DbError::NotFound) => {
                let marker = req.marker.clone().unwrap_or_default();
                return Err(CoreError::TaskNotFound { id: marker });
            }
            Err(e) => return Err(e.into()),
        };
        let full = query.limit > 0 && tasks.len() as u64 == query.limit;
        let next_marker = full.then(|| tasks.last().map(|t| t.id)).flatten();
        Ok(TaskPage { tasks, next_marker })
    }

    /// `GET /v2/tasks/{id}`.
    pub async fn show_task(&self, ctx: &RequestContext, id: &str) -> Result<Task, CoreError> {
        self.enforce_tasks(ctx, "get_task").await?;
        let missing = || CoreError::TaskNotFound { id: id.to_owned() };
        let id = TaskId::parse(id).ok_or_else(missing)?;
        let task = self.db.task(id, time::now()).await?.ok_or_else(missing)?;
        let visible =
            ctx.is_admin() || task.owner.is_none() || task.owner.as_deref() == ctx.project_id();
        if !visible {
            return Err(CoreError::Model(ModelError::Forbidden(format!(
                "Forbidding request, task {id} is not visible"
            ))));
        }
        Ok(task)
    }

    /// Deletes up to `batch` tasks that have expired; how many went.
    pub async fn purge_expired_tasks(&self, batch: u64) -> Result<u64, CoreError> {
        Ok(self.db.purge_expired_tasks(time::now(), batch).await?)
    }

    /// Gathers the database's planner statistics where they are missing
    /// or stale (see `glint_db::Database::refresh_statistics`); the
    /// catalogue tables analyzed.
    pub async fn refresh_statistics(&self) -> Result<Vec<&'static str>, CoreError> {
        Ok(self.db.refresh_statistics().await?)
    }

    /// `DELETE /v2/tasks/{id}`: refused to whoever may use the task API.
    pub async fn delete_task(&self, ctx: &RequestContext) -> Result<(), CoreError> {
        let target = task_target(ctx);
        self.authz.enforce(ctx, "tasks_api_access", &target).await?;
        Err(CoreError::TaskDeleteNotAllowed)
    }

    /// `GET /v2/images/{id}/tasks`: the image must be one the caller may
    /// get (else it is missing); its tasks the caller may see.
    pub async fn image_tasks(
        &self,
        ctx: &RequestContext,
        id: ImageId,
    ) -> Result<Vec<Task>, CoreError> {
        let image = self.load_visible(ctx, id, Lookup::Image).await?;
        self.authz.enforce_image(ctx, &image, "get_image").await?;
        let tasks = self.db.tasks_of_image(id, time::now()).await?;
        Ok(tasks
            .into_iter()
            .filter(|t| {
                ctx.is_admin() || t.owner.is_none() || t.owner.as_deref() == ctx.project_id()
            })
            .collect())
    }

    /// The legacy `POST /v2/tasks`. Glance still accepts an `import` task
    /// and runs its deprecated flow; glint records the task and fails it
    /// at once, pointing at the interoperable import, which replaces it.
    pub async fn create_task(&self, ctx: &RequestContext, body: &Value) -> Result<Task, CoreError> {
        self.enforce_tasks(ctx, "add_task").await?;
        let Some(body) = body.as_object() else {
            return Err(invalid("Body expected in request.".into()));
        };
        for key in ["type", "input"] {
            if !body.contains_key(key) {
                return Err(invalid(format!("Task '{key}' is required")));
            }
        }
        let kind = match body.get("type") {
            Some(Value::String(k)) if TASK_TYPES.contains(&k.as_str()) => k.clone(),
            Some(other) => {
                return Err(invalid(format!(
                    "Provided object does not match schema 'task': {other} is not one of {TASK_TYPES:?}"
                )));
            }
            None => unreachable!("checked above"),
        };
        let input = body.get("input").cloned().unwrap_or(Value::Null);
        if !(input.is_object() || input.is_null()) {
            return Err(invalid(
                "Provided object does not match schema 'task': input is not of type 'null', 'object'".into(),
            ));
        }
        let now = time::now();
        let mut task = Task::pending(&kind, input.clone(), now);
        task.owner = ctx.project_id().map(str::to_owned);
        task.user_id = ctx.user_id().map(str::to_owned);
        task.request_id = Some(ctx.request_id.clone());
        task.image_id = input
            .get("image_id")
            .and_then(Value::as_str)
            .and_then(ImageId::parse);
        let pending = task.clone();
        task.transition(TaskStatus::Failure, now, self.config.task_time_to_live)?;
        task.message = "This server does not run the legacy task import flow; use the interoperable image import (POST /v2/images/{image_id}/import) instead.".into();
        self.db.insert_task(&task).await?;
        self.notify_task(EventType::TaskCreate, &pending);
        self.notify_task(EventType::TaskFailure, &pending);
        Ok(task)
    }
}
