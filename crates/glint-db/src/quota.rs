//! The storage quota of a project (`user_storage_quota`): what its images
//! hold, plus what uploads in progress reserved, decided one upload at a
//! time per project.
//!
//! Usage is counted as Glance counts it: the size of each of the project's
//! images that has data (size above zero, status other than killed,
//! deleted or pending_delete), once per location not marked deleted, the
//! image being uploaded left out. glint adds the sizes that uploads still
//! in progress announced (their lease's reservation, while the lease is
//! valid), so that uploads of known size running at once cannot together
//! overshoot the quota.
//!
//! Decisions are serialised per project: on PostgreSQL and MySQL by a lock
//! on the project's row in `project_locks` (created beforehand, outside the
//! deciding transaction, so that creating it never waits on or deadlocks
//! with another decider), on SQLite by its one writer at a time. Under READ
//! COMMITTED, every statement after the lock sees what the previous holder
//! committed.

use glint_model::time::{Timestamp, to_micros};
use sea_query::{Expr, ExprTrait, LockType, OnConflict, Query, SelectStatement};

use crate::exec::WriteTx;
use crate::rows::{IMAGES, PROJECT_LOCKS, UPLOADS, flag};
use crate::{Database, DbError, Dialect};

/// A storage quota to hold: the project whose data counts, its limit, and
/// the size to fit (`None` when not known yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageQuota<'a> {
    /// `None`: images without an owner, for a caller without a project.
    pub project: Option<&'a str>,
    pub limit: u64,
    pub size: Option<u64>,
}

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
}

/// Inside a write transaction: takes the project's quota lock, then tells
/// what the quota still allows (negative when already over it), excluding
/// the image `image_id`. `StorageQuotaExceeded` if `quota.size` does not
/// fit, or when the size is unknown and nothing is left.
pub(crate) async fn check(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    image_id: &str,
    quota: &StorageQuota<'_>,
    now: Timestamp,
) -> Result<i64, DbError> {
    if dialect != Dialect::Sqlite {
        let lock = Query::select()
            .column("project")
            .from(PROJECT_LOCKS)
            .and_where(Expr::col("project").eq(lock_key(quota.project)))
            .lock(LockType::Update)
            .take();
        tx.fetch_all(dialect, &lock).await?;
    }
    let mut used = 0_i64;
    for query in [
        stored(dialect, image_id, quota.project),
        reserved(dialect, image_id, quota.project, now),
    ] {
        let found = tx.fetch_all(dialect, &query).await?;
        let sum: Option<i64> = match found.first() {
            Some(row) => crate::rows::RowRead::int(row, 0)?,
            None => None,
        };
        used = used.saturating_add(sum.unwrap_or(0));
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

/// The data the project's images hold, as Glance counts it.
fn stored(dialect: Dialect, image_id: &str, project: Option<&str>) -> SelectStatement {
    let copies = "(SELECT COUNT(*) FROM image_locations l \
                  WHERE l.image_id = images.id AND l.status <> 'deleted')";
    Query::select()
        .expr(sum_of(dialect, &format!("images.size * {copies}")))
        .from(IMAGES)
        .and_where(owned_by(Expr::col((IMAGES, "owner")), project))
        .and_where(Expr::col((IMAGES, "id")).ne(image_id))
        .and_where(Expr::col((IMAGES, "deleted")).eq(flag(false)))
        .and_where(Expr::col((IMAGES, "size")).gt(0))
        .and_where(Expr::col((IMAGES, "status")).is_not_in(["killed", "deleted", "pending_delete"]))
        .take()
}

/// What the project's other uploads in progress reserved.
fn reserved(
    dialect: Dialect,
    image_id: &str,
    project: Option<&str>,
    now: Timestamp,
) -> SelectStatement {
    Query::select()
        .expr(sum_of(dialect, "reserved"))
        .from(UPLOADS)
        .and_where(owned_by(Expr::col("project"), project))
        .and_where(Expr::col("image_id").ne(image_id))
        .and_where(Expr::col("expires_at").gte(to_micros(now)))
        .take()
}
