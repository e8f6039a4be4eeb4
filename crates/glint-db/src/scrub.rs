//! Pending deletes: images a delete left in `pending_delete` (delayed
//! delete) until the scrubber removes their data, or an operator restores
//! them.
//!
//! Scrubbing an image is a job of kind [`SCRUB_JOB`] keyed by the image
//! id. It is claimed with the image row locked and only while the image is
//! still `pending_delete`; a restore locks the same row and refuses an
//! image whose scrub has begun (any lease row, even an expired or failed
//! one: its data may already be partly gone). So of a restore and a scrub
//! of one image exactly one happens, whichever node or process runs them,
//! and an image never comes back without its data. The lease row is
//! inserted before any data is removed and deleted only in the transaction
//! that marks the image `deleted`, so a scrub once begun is finished by a
//! later run if its holder dies.

use glint_model::time::{Timestamp, to_micros};
use glint_model::{Image, ImageId, ImageStatus};
use sea_query::{Cond, Expr, ExprTrait, LockType, Order, Query};

use crate::exec::WriteTx;
use crate::images::{self, Version, Versioned, select_images, versioned};
use crate::jobs::{self, JobLease};
use crate::rows::{IMAGES, JOBS, MEMBERS, flag, int_from_row};
use crate::{Database, DbError, Dialect};

/// The kind of the jobs that scrub pending deletes.
pub const SCRUB_JOB: &str = "scrub";

/// Where a sweep over the pending deletes stands: after the image deleted
/// at `deleted_at` with id `id` (the order of [`Database::scrub_candidates`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrubCursor {
    pub deleted_at: Timestamp,
    pub id: ImageId,
}

/// What [`Database::restore_pending_delete`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum RestoreOutcome {
    /// The image was saved as given (back in the catalogue), with the
    /// members it had when it was deleted.
    Restored,
    /// A scrub of the image has begun (its lease row exists): it stays
    /// `pending_delete` and will be scrubbed.
    ScrubStarted,
}

fn is_pending() -> Cond {
    Cond::all()
        .add(Expr::col((IMAGES, "status")).eq(ImageStatus::PendingDelete.as_str()))
        .add(Expr::col((IMAGES, "deleted")).eq(flag(true)))
}

impl Database {
    /// How many images wait in `pending_delete`, due or not.
    pub async fn count_pending_deletes(&self) -> Result<u64, DbError> {
        let query = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from(IMAGES)
            .cond_where(is_pending())
            .take();
        let found = self.read_rows(&query, int_from_row).await?;
        let total = found.into_iter().next().flatten().unwrap_or(0);
        u64::try_from(total).map_err(|e| DbError::internal(e.to_string()))
    }

    /// Pending deletes deleted at or before `deleted_before` that no
    /// process holds a valid scrub lease on at `now` (never claimed, or
    /// their lease expired, failed, or is held by one of `dead_holders`),
    /// after `after`, oldest deletion first, at most `limit`.
    pub async fn scrub_candidates(
        &self,
        deleted_before: Timestamp,
        after: Option<ScrubCursor>,
        now: Timestamp,
        dead_holders: &[String],
        limit: u64,
    ) -> Result<Vec<Versioned>, DbError> {
        let deleted_at = || Expr::col((IMAGES, "deleted_at"));
        let mut query = select_images()
            .left_join(
                JOBS,
                Cond::all()
                    .add(Expr::col((JOBS, "kind")).eq(SCRUB_JOB))
                    .add(Expr::col((JOBS, "job_key")).equals((IMAGES, "id"))),
            )
            .cond_where(is_pending())
            .and_where(deleted_at().lte(to_micros(deleted_before)))
            .cond_where(
                Cond::any()
                    .add(Expr::col((JOBS, "job_key")).is_null())
                    .add(jobs::reclaimable(now, dead_holders)),
            )
            .order_by((IMAGES, "deleted_at"), Order::Asc)
            .order_by((IMAGES, "id"), Order::Asc)
            .limit(limit)
            .take();
        if let Some(cursor) = after {
            let at = to_micros(cursor.deleted_at);
            query.cond_where(
                Cond::any().add(deleted_at().gt(at)).add(
                    deleted_at()
                        .eq(at)
                        .and(Expr::col((IMAGES, "id")).gt(cursor.id.to_string())),
                ),
            );
        }
        self.fetch_versioned(query).await
    }

    /// Claims the scrub of `id` for `lease.holder` if the image is still
    /// `pending_delete` and no valid lease (at `now`, a lease of one of
    /// `dead_holders` counting as invalid) is held on it. Returns the image
    /// as it then is; `None` when it is not pending or another holds it.
    pub async fn claim_scrub(
        &self,
        id: ImageId,
        lease: &JobLease,
        now: Timestamp,
        dead_holders: &[String],
    ) -> Result<Option<Versioned>, DbError> {
        let dialect = self.dialect();
        let key = id.to_string();
        let mut tx = self.begin_write().await?;
        let Some(stored) = lock_any(&mut tx, dialect, &key).await? else {
            return Ok(None);
        };
        if stored.image.status != ImageStatus::PendingDelete {
            return Ok(None);
        }
        let job = (SCRUB_JOB, key.as_str());
        if !jobs::claim_in(&mut tx, dialect, job, lease, now, dead_holders).await? {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(stored))
    }

    /// Saves a pending delete that `holder` is scrubbing (its locations'
    /// progress) if its row is still at version `expected`; the new
    /// version. `LeaseLost` if `holder` no longer holds the scrub.
    pub async fn save_scrub_progress(
        &self,
        image: &Image,
        expected: Version,
        holder: &str,
    ) -> Result<Version, DbError> {
        let dialect = self.dialect();
        let key = image.id.to_string();
        let mut tx = self.begin_write().await?;
        jobs::check_held_in(&mut tx, dialect, (SCRUB_JOB, &key), holder).await?;
        let version = images::save_any_in(&mut tx, dialect, image, expected, true).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Ends `holder`'s scrub: saves `image` (moved on to `deleted` by the
    /// caller) if its row is still at version `expected`, and deletes the
    /// lease, in one transaction. `LeaseLost` if `holder` no longer holds
    /// it.
    pub async fn finish_scrub(
        &self,
        image: &Image,
        expected: Version,
        holder: &str,
    ) -> Result<(), DbError> {
        let dialect = self.dialect();
        let key = image.id.to_string();
        let mut tx = self.begin_write().await?;
        jobs::check_held_in(&mut tx, dialect, (SCRUB_JOB, &key), holder).await?;
        images::save_any_in(&mut tx, dialect, image, expected, true).await?;
        jobs::release_in(&mut tx, dialect, (SCRUB_JOB, &key), holder).await?;
        tx.commit().await
    }

    /// Brings a pending delete back: saves `image` (moved back to a live
    /// status by the caller) as a live row if it is still at version
    /// `expected` and no scrub of it has begun, and revives the members
    /// its deletion removed: those removed at the moment it was deleted,
    /// `deleted_at` (a delete stamps both alike). `Conflict` if the row
    /// moved on, `NotFound` if there is none.
    pub async fn restore_pending_delete(
        &self,
        image: &Image,
        expected: Version,
        deleted_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<RestoreOutcome, DbError> {
        let dialect = self.dialect();
        let key = image.id.to_string();
        let mut tx = self.begin_write().await?;
        let Some(stored) = lock_any(&mut tx, dialect, &key).await? else {
            return Err(DbError::NotFound);
        };
        if stored.version != expected {
            return Err(DbError::Conflict);
        }
        if jobs::exists_in(&mut tx, dialect, (SCRUB_JOB, &key)).await? {
            return Ok(RestoreOutcome::ScrubStarted);
        }
        images::save_any_in(&mut tx, dialect, image, expected, false).await?;
        if let Some(deleted_at) = deleted_at {
            let members = Query::update()
                .table(MEMBERS)
                .value("deleted", flag(false))
                .value("updated_at", to_micros(now))
                .and_where(Expr::col("image_id").eq(key.as_str()))
                .and_where(Expr::col("deleted").eq(flag(true)))
                .and_where(Expr::col("updated_at").eq(to_micros(deleted_at)))
                .take();
            tx.execute(dialect, &members).await?;
        }
        tx.commit().await?;
        Ok(RestoreOutcome::Restored)
    }
}

/// Locks an image row, deleted or not, for the rest of the transaction (a
/// no-op on SQLite, whose write transactions run one at a time) and reads
/// it; `None` if there is none.
async fn lock_any(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    id: &str,
) -> Result<Option<Versioned>, DbError> {
    let query = select_images()
        .and_where(Expr::col((IMAGES, "id")).eq(id))
        .lock(LockType::Update)
        .take();
    let found = tx.fetch_all(dialect, &query).await?;
    found.first().map(|row| versioned(row)).transpose()
}
