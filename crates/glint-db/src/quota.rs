//! A project's quotas: the data its images hold (`user_storage_quota`, or
//! Keystone's `image_size_total`) plus what uploads in progress reserved,
//! and how many images it has (`image_count_total`) or is uploading
//! (`image_count_uploading`), decided one request at a time per project.
//!
//! Usage is counted as Glance counts it. Data: the size of each of the
//! project's images that has data (size above zero, status other than
//! killed, deleted or pending_delete), once per location not marked
//! deleted, the image being changed left out. glint adds the sizes that
//! uploads still in progress announced (their lease's reservation, while
//! the lease is valid), so that uploads of known size running at once
//! cannot together overshoot the quota. Images: those not killed, deleted
//! or pending_delete. Uploads: images in `saving`, `uploading` or
//! `importing`.
//!
//! Decisions are serialised per project: on PostgreSQL and MySQL by a lock
//! on the project's row in `project_locks` (created beforehand, outside the
//! deciding transaction, so that creating it never waits on or deadlocks
//! with another decider), on SQLite by its one writer at a time. Under READ
//! COMMITTED, every statement after the lock sees what the previous holder
//! committed.

use glint_model::time::{Timestamp, to_micros};
use glint_model::{Image, ImageStatus};
use sea_query::{Expr, ExprTrait, LockType, OnConflict, Query, SelectStatement};

use crate::exec::WriteTx;
use crate::rows::{IMAGES, PROJECT_LOCKS, RowRead, UPLOADS, flag, int_from_row};
use crate::{Database, DbError, Dialect};

/// A storage quota to hold: the project whose data counts, which data, its
/// limit, and the size to fit (`None` when not known yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageQuota<'a> {
    /// `None`: images without an owner, for a caller without a project.
    pub project: Option<&'a str>,
    pub kind: DataKind,
    pub limit: u64,
    pub size: Option<u64>,
}

/// Which of a project's data a [`StorageQuota`] bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// The data its images hold in stores, plus what uploads in progress
    /// (images in `saving`) reserved: `user_storage_quota` or
    /// `image_size_total`.
    Stored,
    /// The data of its images staged or being imported, plus what stagings
    /// in progress (images in `uploading` with a lease) reserved:
    /// `image_stage_total`.
    Staged,
}

/// A bound on how many images of a project may be in some states: those
/// that count against `image_count_total` when one is created, or against
/// `image_count_uploading` when an upload begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountLimit<'a> {
    /// `None`: images without an owner, for a caller without a project.
    pub project: Option<&'a str>,
    pub limit: u64,
}

/// What a project uses, as `GET /v2/info/usage` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectUsage {
    /// Bytes of image data, once per location.
    pub stored: u64,
    /// Bytes of the images being imported (Glance's staging usage).
    pub staging: u64,
    /// Images that count against `image_count_total`.
    pub images: u64,
    /// Images being uploaded or imported.
    pub uploading: u64,
}

/// The statuses whose images no longer count.
const GONE: [&str; 3] = ["killed", "deleted", "pending_delete"];

/// The statuses of an image whose data is on its way.
const UPLOADING: [ImageStatus; 3] = [
    ImageStatus::Saving,
    ImageStatus::Uploading,
    ImageStatus::Importing,
];

/// The key of a project's quota lock.
fn lock_key(project: Option<&str>) -> &str {
    project.unwrap_or("")
}

/// `column = project`, or `column IS NULL` for no project.
fn owned_by(column: Expr, project: Option<&str>) -> Expr {
    match project {
        Some(p) => column.eq(p),
        None => column.is_null(),
    }
}

impl Database {
    /// Makes sure the quota lock row of `project` exists, in a statement of
    /// its own.
    pub(crate) async fn prepare_quota_lock(&self, project: Option<&str>) -> Result<(), DbError> {
        if self.dialect() == Dialect::Sqlite {
            return Ok(());
        }
        let mut insert = Query::insert();
        insert
            .into_table(PROJECT_LOCKS)
            .columns(["project"])
            .values([Expr::val(lock_key(project))])
            .map_err(|e| DbError::internal(e.to_string()))?
            .on_conflict(
                OnConflict::column("project")
                    .do_nothing_on(["project"])
                    .to_owned(),
            );
        self.execute(&insert).await?;
        Ok(())
    }

    /// What `project` uses: its images' data, what it is importing, its
    /// images and its uploads.
    pub async fn project_usage(&self, project: Option<&str>) -> Result<ProjectUsage, DbError> {
        let dialect = self.dialect();
        let queries = [
            stored(dialect, None, project),
            staging(dialect, None, project),
            counted(project, Counted::Images),
            counted(project, Counted::Uploading),
        ];
        let mut values = [0_u64; 4];
        for (value, query) in values.iter_mut().zip(&queries) {
            let found = self.read_rows(query, int_from_row).await?;
            let n = found.into_iter().next().flatten().unwrap_or(0);
            *value = u64::try_from(n).unwrap_or(0);
        }
        let [stored, staging, images, uploading] = values;
        Ok(ProjectUsage {
            stored,
            staging,
            images,
            uploading,
        })
    }
}

/// Inside a write transaction: takes the quota lock of `project`, which
/// every later decision of this transaction about the project relies on.
pub(crate) async fn lock(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    project: Option<&str>,
) -> Result<(), DbError> {
    if dialect != Dialect::Sqlite {
        let lock = Query::select()
            .column("project")
            .from(PROJECT_LOCKS)
            .and_where(Expr::col("project").eq(lock_key(project)))
            .lock(LockType::Update)
            .take();
        tx.fetch_all(dialect, &lock).await?;
    }
    Ok(())
}

/// Inside a write transaction holding the project's lock: tells what the
/// quota still allows (negative when already over it), excluding the image
/// `image_id`. `StorageQuotaExceeded` if `quota.size` does not fit, or
/// when the size is unknown and nothing is left.
pub(crate) async fn check(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    image_id: &str,
    quota: &StorageQuota<'_>,
    now: Timestamp,
) -> Result<i64, DbError> {
    let mut used = 0_i64;
    let held = match quota.kind {
        DataKind::Stored => stored(dialect, Some(image_id), quota.project),
        DataKind::Staged => staging(dialect, Some(image_id), quota.project),
    };
    for query in [held, reserved(dialect, image_id, quota, now)] {
        used = used.saturating_add(scalar(tx, dialect, &query).await?);
    }
    let limit = i64::try_from(quota.limit).unwrap_or(i64::MAX);
    let remaining = limit.saturating_sub(used);
    let fits = match quota.size {
        Some(size) => i64::try_from(size).is_ok_and(|size| size <= remaining),
        None => remaining > 0,
    };
    if fits {
        Ok(remaining)
    } else {
        Err(DbError::StorageQuotaExceeded { remaining })
    }
}

/// Inside a write transaction holding the project's lock: refuses with
/// `CountLimitExceeded` unless one more image fits `limit` (Keystone's
/// `image_count_total`, checked when an image is created).
pub(crate) async fn check_image_count(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    limit: &CountLimit<'_>,
) -> Result<(), DbError> {
    let usage = count(tx, dialect, &counted(limit.project, Counted::Images)).await?;
    if usage.saturating_add(1) > limit.limit {
        return Err(DbError::CountLimitExceeded { usage });
    }
    Ok(())
}

/// Inside a write transaction holding the project's lock: refuses with
/// `CountLimitExceeded` when `image`, about to move to `saving`, would
/// make the project's uploads more than `limit` (`image_count_uploading`).
/// As in Glance, the image itself counts when the project owns it.
pub(crate) async fn check_uploads(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    image: &Image,
    limit: &CountLimit<'_>,
) -> Result<(), DbError> {
    let mut others = counted(limit.project, Counted::Uploading);
    others.and_where(Expr::col("id").ne(image.id.to_string()));
    let others = count(tx, dialect, &others).await?;
    let own = u64::from(image.owner.as_deref() == limit.project);
    let usage = others.saturating_add(own);
    if usage > limit.limit {
        return Err(DbError::CountLimitExceeded { usage });
    }
    Ok(())
}

/// The one integer a query of a sum or a count returns.
async fn scalar(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    query: &SelectStatement,
) -> Result<i64, DbError> {
    let found = tx.fetch_all(dialect, query).await?;
    let value: Option<i64> = match found.first() {
        Some(row) => RowRead::int(row, 0)?,
        None => None,
    };
    Ok(value.unwrap_or(0))
}

async fn count(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    query: &SelectStatement,
) -> Result<u64, DbError> {
    Ok(u64::try_from(scalar(tx, dialect, query).await?).unwrap_or(0))
}

/// `CAST(COALESCE(SUM(<expr>), 0) AS <64-bit integer>)`: SUM yields
/// NUMERIC/DECIMAL on PostgreSQL and MySQL, which the `Any` driver cannot
/// decode.
fn sum_of(dialect: Dialect, expr: &str) -> Expr {
    let int = match dialect {
        Dialect::Sqlite => "INTEGER",
        Dialect::Postgres => "BIGINT",
        Dialect::MySql => "SIGNED",
    };
    Expr::cust(format!("CAST(COALESCE(SUM({expr}), 0) AS {int})"))
}

/// The project's live images.
fn of_project(project: Option<&str>) -> SelectStatement {
    Query::select()
        .from(IMAGES)
        .and_where(owned_by(Expr::col((IMAGES, "owner")), project))
        .and_where(Expr::col((IMAGES, "deleted")).eq(flag(false)))
        .take()
}

/// The data the project's images hold, as Glance counts it, leaving out
/// the image `except`.
fn stored(dialect: Dialect, except: Option<&str>, project: Option<&str>) -> SelectStatement {
    let copies = "(SELECT COUNT(*) FROM image_locations l \
                  WHERE l.image_id = images.id AND l.status <> 'deleted')";
    let mut query = of_project(project)
        .expr(sum_of(dialect, &format!("images.size * {copies}")))
        .and_where(Expr::col((IMAGES, "size")).gt(0))
        .and_where(Expr::col((IMAGES, "status")).is_not_in(GONE))
        .take();
    if let Some(id) = except {
        query.and_where(Expr::col((IMAGES, "id")).ne(id));
    }
    query
}

/// The data of the project's images staged or being imported, which
/// Glance counts against `image_stage_total`, leaving out the image
/// `except`.
fn staging(dialect: Dialect, except: Option<&str>, project: Option<&str>) -> SelectStatement {
    let mut query = of_project(project)
        .expr(sum_of(dialect, "images.size"))
        .and_where(Expr::col((IMAGES, "size")).gt(0))
        .and_where(Expr::col((IMAGES, "status")).is_in([
            ImageStatus::Uploading.as_str(),
            ImageStatus::Importing.as_str(),
        ]))
        .take();
    if let Some(id) = except {
        query.and_where(Expr::col((IMAGES, "id")).ne(id));
    }
    query
}

/// What a count of images counts.
#[derive(Clone, Copy)]
enum Counted {
    /// Every image that is not gone (`image_count_total`).
    Images,
    /// Images being uploaded (`image_count_uploading`).
    Uploading,
}

fn counted(project: Option<&str>, what: Counted) -> SelectStatement {
    let mut query = of_project(project).expr(Expr::cust("COUNT(*)")).take();
    let status = Expr::col((IMAGES, "status"));
    match what {
        Counted::Images => query.and_where(status.is_not_in(GONE)),
        Counted::Uploading => query.and_where(status.is_in(UPLOADING.map(ImageStatus::as_str))),
    };
    query
}

/// What the project's other transfers in progress of the quota's kind
/// reserved: uploads (images in `saving`) for stored data, stagings
/// (images in `uploading`) for staged data.
fn reserved(
    dialect: Dialect,
    image_id: &str,
    quota: &StorageQuota<'_>,
    now: Timestamp,
) -> SelectStatement {
    let status = match quota.kind {
        DataKind::Stored => ImageStatus::Saving,
        DataKind::Staged => ImageStatus::Uploading,
    };
    Query::select()
        .expr(sum_of(dialect, &format!("{UPLOADS}.reserved")))
        .from(UPLOADS)
        .inner_join(
            IMAGES,
            Expr::col((IMAGES, "id")).equals((UPLOADS, "image_id")),
        )
        .and_where(owned_by(Expr::col((UPLOADS, "project")), quota.project))
        .and_where(Expr::col((UPLOADS, "image_id")).ne(image_id))
        .and_where(Expr::col((UPLOADS, "expires_at")).gte(to_micros(now)))
        .and_where(Expr::col((IMAGES, "status")).eq(status.as_str()))
        .take()
}
