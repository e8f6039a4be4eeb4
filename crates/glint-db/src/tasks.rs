//! Tasks (table `tasks`): the record of each import and legacy task.
//!
//! A task's status moves compare-and-set on the status its writer read,
//! so two workers can never both finish one task. A task whose
//! `expires_at` has passed is gone: no read returns it, and
//! [`Database::purge_expired_tasks`] deletes it.

use glint_model::time::{Timestamp, from_micros, to_micros};
use glint_model::{ImageId, Task, TaskId, TaskStatus};
use sea_query::{Cond, Expr, ExprTrait, Order, Query, SelectStatement};

use crate::rows::{RowRead, int_from_row};
use crate::{Database, DbError};

pub(crate) const TASKS: &str = "tasks";

const TASK_COLUMNS: [&str; 13] = [
    "id",
    "type",
    "status",
    "owner",
    "input",
    "result",
    "message",
    "expires_at",
    "created_at",
    "updated_at",
    "image_id",
    "request_id",
    "user_id",
];

/// The keys a task list may be sorted by. Glance takes any column; these
/// are the ones that are never NULL, so that keyset paging stays exact.
pub const TASK_SORT_KEYS: [&str; 5] = ["created_at", "updated_at", "id", "type", "status"];

/// A page of tasks as asked for (already validated by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskListQuery {
    pub status: Option<TaskStatus>,
    pub kind: Option<String>,
    /// One of [`TASK_SORT_KEYS`].
    pub sort_key: &'static str,
    pub ascending: bool,
    pub marker: Option<TaskId>,
    pub limit: u64,
    /// Only this owner's tasks (a caller who is not an admin).
    pub owner: Option<String>,
}

fn internal(what: &str) -> DbError {
    DbError::internal(format!("bad task {what} stored"))
}

fn json_text(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(serde_json::Value::to_string)
}

fn task_from_row(row: &dyn RowRead) -> Result<Task, DbError> {
    let text = |i| row.text(i).map(|t| t.map(str::to_owned));
    let json = |i| -> Result<Option<serde_json::Value>, DbError> {
        match row.text(i)? {
            Some(t) => serde_json::from_str(t)
                .map(Some)
                .map_err(|_| internal("JSON")),
            None => Ok(None),
        }
    };
    let required_int = |i| row.int(i)?.ok_or_else(|| internal("time"));
    let id = text(0)?.ok_or_else(|| internal("id"))?;
    let status = text(2)?.ok_or_else(|| internal("status"))?;
    Ok(Task {
        id: TaskId::parse(&id).ok_or_else(|| internal("id"))?,
        kind: text(1)?.ok_or_else(|| internal("type"))?,
        status: status.parse().map_err(|_| internal("status"))?,
        owner: text(3)?,
        input: json(4)?,
        result: json(5)?,
        message: text(6)?.unwrap_or_default(),
        expires_at: row.int(7)?.map(from_micros),
        created_at: from_micros(required_int(8)?),
        updated_at: from_micros(required_int(9)?),
        image_id: text(10)?.as_deref().and_then(ImageId::parse),
        request_id: text(11)?,
        user_id: text(12)?,
    })
}

/// Tasks that have not expired at `now`.
fn live(now: Timestamp) -> Cond {
    Cond::any()
        .add(Expr::col((TASKS, "expires_at")).is_null())
        .add(Expr::col((TASKS, "expires_at")).gt(to_micros(now)))
}

fn select_tasks(now: Timestamp) -> SelectStatement {
    Query::select()
        .columns(TASK_COLUMNS.map(|c| (TASKS, c)))
        .from(TASKS)
        .cond_where(live(now))
        .take()
}

fn sort_value(task: &Task, key: &str) -> sea_query::Value {
    match key {
        "updated_at" => to_micros(task.updated_at).into(),
        "id" => task.id.to_string().into(),
        "type" => task.kind.clone().into(),
        "status" => task.status.as_str().into(),
        _ => to_micros(task.created_at).into(),
    }
}

/// Rows after `marker` in the order (key, created_at, id), descending or
/// ascending.
fn after(marker: &Task, key: &'static str, ascending: bool) -> Cond {
    let beyond = |col: &'static str, v: sea_query::Value| {
        let c = Expr::col((TASKS, col));
        if ascending { c.gt(v) } else { c.lt(v) }
    };
    let same = |col: &'static str, v: sea_query::Value| Expr::col((TASKS, col)).eq(v);
    let created = to_micros(marker.created_at);
    let id = marker.id.to_string();
    let mut any = Cond::any();
    if key != "created_at" && key != "id" {
        any = any.add(beyond(key, sort_value(marker, key)));
    }
    let head = |c: Cond| {
        if key != "created_at" && key != "id" {
            c.add(same(key, sort_value(marker, key)))
        } else {
            c
        }
    };
    if key != "id" {
        any = any.add(head(Cond::all()).add(beyond("created_at", created.into())));
        any = any.add(
            head(Cond::all())
                .add(same("created_at", created.into()))
                .add(beyond("id", id.into())),
        );
    } else {
        any = any.add(beyond("id", id.into()));
    }
    any
}

impl Database {
    /// Records a new task.
    pub async fn insert_task(&self, task: &Task) -> Result<(), DbError> {
        let mut insert = Query::insert();
        insert
            .into_table(TASKS)
            .columns(TASK_COLUMNS)
            .values([
                Expr::val(task.id.to_string()),
                Expr::val(task.kind.as_str()),
                Expr::val(task.status.as_str()),
                Expr::val(task.owner.clone()),
                Expr::val(json_text(task.input.as_ref())),
                Expr::val(json_text(task.result.as_ref())),
                Expr::val(task.message.as_str()),
                Expr::val(task.expires_at.map(to_micros)),
                Expr::val(to_micros(task.created_at)),
                Expr::val(to_micros(task.updated_at)),
                Expr::val(task.image_id.map(|id| id.to_string())),
                Expr::val(task.request_id.clone()),
                Expr::val(task.user_id.clone()),
            ])
            .map_err(|e| DbError::internal(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        tx.execute(self.dialect(), &insert).await?;
        tx.commit().await
    }

    /// Saves `task` if its status is still `expected`; `false` if another
    /// writer moved it (or it is gone).
    pub async fn save_task(&self, task: &Task, expected: TaskStatus) -> Result<bool, DbError> {
        let update = Query::update()
            .table(TASKS)
            .value("status", task.status.as_str())
            .value("result", json_text(task.result.as_ref()))
            .value("message", task.message.as_str())
            .value("expires_at", task.expires_at.map(to_micros))
            .value("updated_at", to_micros(task.updated_at))
            .and_where(Expr::col("id").eq(task.id.to_string()))
            .and_where(Expr::col("status").eq(expected.as_str()))
            .take();
        let mut tx = self.begin_write().await?;
        let saved = tx.execute(self.dialect(), &update).await? > 0;
        tx.commit().await?;
        Ok(saved)
    }

    /// The task `id`, unless missing or expired at `now`.
    pub async fn task(&self, id: TaskId, now: Timestamp) -> Result<Option<Task>, DbError> {
        let query = select_tasks(now)
            .and_where(Expr::col((TASKS, "id")).eq(id.to_string()))
            .take();
        Ok(self
            .read_rows(&query, task_from_row)
            .await?
            .into_iter()
            .next())
    }

    /// A page of tasks; `NotFound` when the marker is not a task the
    /// caller may list.
    pub async fn list_tasks(
        &self,
        q: &TaskListQuery,
        now: Timestamp,
    ) -> Result<Vec<Task>, DbError> {
        let mut query = select_tasks(now);
        if let Some(owner) = &q.owner {
            query.and_where(Expr::col((TASKS, "owner")).eq(owner.as_str()));
        }
        if let Some(status) = q.status {
            query.and_where(Expr::col((TASKS, "status")).eq(status.as_str()));
        }
        if let Some(kind) = &q.kind {
            query.and_where(Expr::col((TASKS, "type")).eq(kind.as_str()));
        }
        if let Some(marker) = q.marker {
            let found = self.task(marker, now).await?;
            let visible = found.filter(|t| q.owner.is_none() || t.owner == q.owner);
            let marker = visible.ok_or(DbError::NotFound)?;
            query.cond_where(after(&marker, q.sort_key, q.ascending));
        }
        let order = if q.ascending { Order::Asc } else { Order::Desc };
        let mut keys = vec![q.sort_key];
        keys.extend(
            ["created_at", "id"]
                .into_iter()
                .filter(|k| *k != q.sort_key),
        );
        for key in keys {
            query.order_by((TASKS, key), order.clone());
        }
        query.limit(q.limit);
        self.read_rows(&query, task_from_row).await
    }

    /// Every live task of an image, oldest first.
    pub async fn tasks_of_image(&self, id: ImageId, now: Timestamp) -> Result<Vec<Task>, DbError> {
        let query = select_tasks(now)
            .and_where(Expr::col((TASKS, "image_id")).eq(id.to_string()))
            .order_by((TASKS, "created_at"), Order::Asc)
            .order_by((TASKS, "id"), Order::Asc)
            .limit(1000)
            .take();
        self.read_rows(&query, task_from_row).await
    }

    /// Unfinished tasks of `kind` (pending or processing), oldest first,
    /// at most `limit`.
    pub async fn unfinished_tasks(&self, kind: &str, limit: u64) -> Result<Vec<Task>, DbError> {
        let statuses = [
            TaskStatus::Pending.as_str(),
            TaskStatus::Processing.as_str(),
        ];
        let query = Query::select()
            .columns(TASK_COLUMNS.map(|c| (TASKS, c)))
            .from(TASKS)
            .and_where(Expr::col((TASKS, "type")).eq(kind))
            .and_where(Expr::col((TASKS, "status")).is_in(statuses))
            .order_by((TASKS, "created_at"), Order::Asc)
            .order_by((TASKS, "id"), Order::Asc)
            .limit(limit)
            .take();
        self.read_rows(&query, task_from_row).await
    }

    /// How many tasks of `kind` are unfinished (pending or processing).
    pub async fn count_unfinished_tasks(&self, kind: &str) -> Result<u64, DbError> {
        let statuses = [
            TaskStatus::Pending.as_str(),
            TaskStatus::Processing.as_str(),
        ];
        let query = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from(TASKS)
            .and_where(Expr::col((TASKS, "type")).eq(kind))
            .and_where(Expr::col((TASKS, "status")).is_in(statuses))
            .take();
        let found = self.read_rows(&query, int_from_row).await?;
        let total = found.into_iter().next().flatten().unwrap_or(0);
        u64::try_from(total).map_err(|e| DbError::internal(e.to_string()))
    }

    /// Deletes tasks expired at `now`, at most `batch`; how many went.
    pub async fn purge_expired_tasks(&self, now: Timestamp, batch: u64) -> Result<u64, DbError> {
        let ids = Query::select()
            .column("id")
            .from(TASKS)
            .and_where(Expr::col("expires_at").lte(to_micros(now)))
            .limit(batch)
            .take();
        let expired: Vec<String> = self
            .read_rows(&ids, |row| {
                row.text(0)?
                    .map(str::to_owned)
                    .ok_or_else(|| internal("id"))
            })
            .await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let delete = Query::delete()
            .from_table(TASKS)
            .and_where(Expr::col("id").is_in(expired))
            .and_where(Expr::col("expires_at").lte(to_micros(now)))
            .take();
        let mut tx = self.begin_write().await?;
        let gone = tx.execute(self.dialect(), &delete).await?;
        tx.commit().await?;
        Ok(gone)
    }
}
