//! Upload leases (table `image_uploads`): which process writes an image's
//! data, until when, and what it reserved against its project's storage
//! quota.
//!
//! An upload begins with the image's move to `saving` and the insertion of
//! its lease, in one transaction; it ends (activated, or reset to `queued`)
//! with the image's save and the deletion of the lease, in one transaction
//! that fails unless the caller still holds the lease. Renewals touch the
//! lease row only, so the image's version, which concurrent changes compare
//! against, does not move. Another process may take over a lease only once
//! it has expired, and only while the image is still in the state it read.
//!
//! Locks are always taken in the same order (a project's quota lock, then
//! the image row, then its lease) so that no two transactions deadlock.

use glint_model::time::{Timestamp, from_micros, to_micros};
use glint_model::{Image, ImageId, ImageStatus};
use sea_query::{Expr, ExprTrait, LockType, Query};
use sqlx::Row;

use crate::exec::WriteTx;
use crate::images::{self, Version, Versioned, select_images};
use crate::quota::{self, CountLimit, StorageQuota};
use crate::rows::{IMAGES, UPLOADS, VERSION, flag};
use crate::{Database, DbError, Dialect};

/// Who writes an image's data, and until when unless renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLease {
    pub holder: String,
    pub expires_at: Timestamp,
}

/// What [`Database::begin_upload`] settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadStarted {
    /// The image's version once in `saving`.
    pub version: Version,
    /// What the storage quota still allows, when one was checked.
    pub remaining: Option<u64>,
}

fn by_image(id: &str) -> Expr {
    Expr::col("image_id").eq(id)
}

/// A lease another process may take over: expired at `now`, or held by a
/// process known to be dead.
fn reclaimable(
    expires_at: Expr,
    holder: Expr,
    now: Timestamp,
    dead_holders: &[String],
) -> sea_query::Cond {
    let mut any = sea_query::Cond::any().add(expires_at.lt(to_micros(now)));
    if !dead_holders.is_empty() {
        any = any.add(holder.is_in(dead_holders.iter().map(String::as_str)));
    }
    any
}

impl Database {
    /// Saves `image` (moved to `saving` by the caller) if its row is still
    /// at version `expected`, and records `lease` for it, reserving the
    /// quota's `size` if known. With a quota, fails with
    /// `StorageQuotaExceeded` unless the data fits (or, size unknown, some
    /// room is left).
    pub async fn begin_upload(
        &self,
        image: &Image,
        expected: Version,
        lease: &UploadLease,
        quota: Option<&StorageQuota<'_>>,
    ) -> Result<UploadStarted, DbError> {
        self.begin_upload_limited(image, expected, lease, quota, None)
            .await
    }

    /// [`Database::begin_upload`], also refusing with `CountLimitExceeded`
    /// when `uploads` does not allow the project one more upload. Both
    /// quotas are of the caller's project and are decided under its lock.
    pub async fn begin_upload_limited(
        &self,
        image: &Image,
        expected: Version,
        lease: &UploadLease,
        quota: Option<&StorageQuota<'_>>,
        uploads: Option<&CountLimit<'_>>,
    ) -> Result<UploadStarted, DbError> {
        let dialect = self.dialect();
        let id = image.id.to_string();
        let project = match (quota, uploads) {
            (Some(q), _) => Some(q.project),
            (None, Some(u)) => Some(u.project),
            (None, None) => None,
        };
        if let Some(project) = project {
            self.prepare_quota_lock(project).await?;
        }
        let mut tx = self.begin_write().await?;
        if let Some(project) = project {
            quota::lock(&mut tx, dialect, project).await?;
        }
        let remaining = match quota {
            Some(quota) => {
                let now = glint_model::time::now();
                Some(quota::check(&mut tx, dialect, &id, quota, now).await?)
            }
            None => None,
        };
        if let Some(uploads) = uploads {
            quota::check_uploads(&mut tx, dialect, image, uploads).await?;
        }
        let version = images::save_in(&mut tx, dialect, image, expected).await?;
        let leftover = Query::delete()
            .from_table(UPLOADS)
            .and_where(by_image(&id))
            .take();
        tx.execute(dialect, &leftover).await?;
        let reserved = quota
            .and_then(|q| q.size)
            .map(i64::try_from)
            .transpose()
            .map_err(|_| DbError::internal("reserved size out of range"))?;
        let mut insert = Query::insert();
        insert
            .into_table(UPLOADS)
            .columns(["image_id", "holder", "expires_at", "project", "reserved"])
            .values([
                Expr::val(id.as_str()),
                Expr::val(lease.holder.as_str()),
                Expr::val(to_micros(lease.expires_at)),
                Expr::val(quota.and_then(|q| q.project)),
                Expr::val(reserved),
            ])
            .map_err(|e| DbError::internal(e.to_string()))?;
        tx.execute(dialect, &insert).await?;
        tx.commit().await?;
        Ok(UploadStarted {
            version,
            remaining: remaining.map(|r| u64::try_from(r).unwrap_or(0)),
        })
    }

    /// Extends `holder`'s lease on the upload of `id` to `expires_at`.
    /// `false` if `holder` no longer holds it.
    pub async fn renew_upload_lease(
        &self,
        id: ImageId,
        holder: &str,
        expires_at: Timestamp,
    ) -> Result<bool, DbError> {
        let update = Query::update()
            .table(UPLOADS)
            .value("expires_at", to_micros(expires_at))
            .and_where(by_image(&id.to_string()))
            .and_where(Expr::col("holder").eq(holder))
            .take();
        let mut tx = self.begin_write().await?;
        let renewed = tx.execute(self.dialect(), &update).await? > 0;
        tx.commit().await?;
        Ok(renewed)
    }

    /// Ends `holder`'s upload: saves `image` (activated, or reset by the
    /// caller) if its row is still at version `expected`, and drops the
    /// lease. `LeaseLost` if `holder` no longer holds it (nothing is saved
    /// then). With a quota, the data must fit it, counted in the same
    /// transaction as the save, one project at a time.
    pub async fn end_upload(
        &self,
        image: &Image,
        expected: Version,
        holder: &str,
        quota: Option<&StorageQuota<'_>>,
    ) -> Result<Version, DbError> {
        let dialect = self.dialect();
        let id = image.id.to_string();
        if let Some(quota) = quota {
            self.prepare_quota_lock(quota.project).await?;
        }
        let mut tx = self.begin_write().await?;
        if let Some(quota) = quota {
            let now = glint_model::time::now();
            quota::lock(&mut tx, dialect, quota.project).await?;
            quota::check(&mut tx, dialect, &id, quota, now).await?;
        }
        let version = images::save_in(&mut tx, dialect, image, expected).await?;
        let release = Query::delete()
            .from_table(UPLOADS)
            .and_where(by_image(&id))
            .and_where(Expr::col("holder").eq(holder))
            .take();
        if tx.execute(dialect, &release).await? == 0 {
            return Err(DbError::LeaseLost);
        }
        tx.commit().await?;
        Ok(version)
    }

    /// Transfers that no process finishes: live images in `saving` that no
    /// process holds a valid lease on at `now` (their lease expired, or is
    /// held by one of `dead_holders`, processes known to have died, or they
    /// never had one, written by an older glint), and images in `uploading`
    /// whose staging lease is so (an `uploading` image without a lease has
    /// its data staged and waits for its import). Oldest first.
    pub async fn interrupted_uploads(
        &self,
        now: Timestamp,
        dead_holders: &[String],
    ) -> Result<Vec<Versioned>, DbError> {
        let lease = |c: &'static str| Expr::col((UPLOADS, c));
        let status = Expr::col((IMAGES, "status"));
        let query = select_images()
            .left_join(
                UPLOADS,
                Expr::col((UPLOADS, "image_id")).equals((IMAGES, "id")),
            )
            .and_where(Expr::col((IMAGES, "deleted")).eq(flag(false)))
            .cond_where(
                sea_query::Cond::any()
                    .add(
                        sea_query::Cond::all()
                            .add(status.clone().eq(ImageStatus::Saving.as_str()))
                            .add(sea_query::Cond::any().add(lease("image_id").is_null()).add(
                                reclaimable(
                                    lease("expires_at"),
                                    lease("holder"),
                                    now,
                                    dead_holders,
                                ),
                            )),
                    )
                    .add(
                        sea_query::Cond::all()
                            .add(status.eq(ImageStatus::Uploading.as_str()))
                            .add(lease("image_id").is_not_null())
                            .add(reclaimable(
                                lease("expires_at"),
                                lease("holder"),
                                now,
                                dead_holders,
                            )),
                    ),
            )
            .order_by((IMAGES, "created_at"), sea_query::Order::Asc)
            .order_by((IMAGES, "id"), sea_query::Order::Asc)
            .take();
        self.fetch_versioned(query).await
    }

    /// Makes `lease` the lease of the upload of `id`, if the image is still
    /// in `saving` (or, staging, in `uploading` with a lease) at version
    /// `expected` and no valid lease (at `now`) is held on it, a lease of
    /// one of `dead_holders` counting as invalid. `false` when another
    /// process holds or took it.
    pub async fn take_over_upload(
        &self,
        id: ImageId,
        expected: Version,
        lease: &UploadLease,
        now: Timestamp,
        dead_holders: &[String],
    ) -> Result<bool, DbError> {
        let dialect = self.dialect();
        let id = id.to_string();
        let mut tx = self.begin_write().await?;
        let status = match lock_image(&mut tx, dialect, &id).await? {
            Some((status @ (ImageStatus::Saving | ImageStatus::Uploading), version))
                if version == expected =>
            {
                status
            }
            _ => return Ok(false),
        };
        let take = Query::update()
            .table(UPLOADS)
            .value("holder", lease.holder.as_str())
            .value("expires_at", to_micros(lease.expires_at))
            .value("project", Option::<String>::None)
            .value("reserved", Option::<i64>::None)
            .and_where(by_image(&id))
            .cond_where(reclaimable(
                Expr::col("expires_at"),
                Expr::col("holder"),
                now,
                dead_holders,
            ))
            .take();
        let taken = match tx.execute(dialect, &take).await? {
            0 if status == ImageStatus::Uploading => false,
            0 if lease_exists(&mut tx, dialect, &id).await? => false,
            0 => insert_lease(&mut tx, dialect, &id, lease).await?,
            _ => true,
        };
        if taken {
            tx.commit().await?;
        }
        Ok(taken)
    }

    /// Every process that holds an upload lease, once each.
    pub async fn upload_holders(&self) -> Result<Vec<String>, DbError> {
        let query = Query::select()
            .distinct()
            .column("holder")
            .from(UPLOADS)
            .take();
        let found = self.fetch_all(&query).await?;
        found
            .iter()
            .map(|row| row.try_get::<String, _>(0).map_err(DbError::from))
            .collect()
    }

    /// The lease on the upload of `id`, if any.
    pub async fn upload_lease(&self, id: ImageId) -> Result<Option<UploadLease>, DbError> {
        let query = Query::select()
            .columns(["holder", "expires_at"])
            .from(UPLOADS)
            .and_where(by_image(&id.to_string()))
            .take();
        let found = self.fetch_all(&query).await?;
        let Some(row) = found.first() else {
            return Ok(None);
        };
        Ok(Some(UploadLease {
            holder: row.try_get(0)?,
            expires_at: from_micros(row.try_get(1)?),
        }))
    }
}

async fn lease_exists(tx: &mut WriteTx<'_>, dialect: Dialect, id: &str) -> Result<bool, DbError> {
    let query = Query::select()
        .expr(Expr::cust("1"))
        .from(UPLOADS)
        .and_where(by_image(id))
        .take();
    Ok(!tx.fetch_all(dialect, &query).await?.is_empty())
}

async fn insert_lease(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    id: &str,
    lease: &UploadLease,
) -> Result<bool, DbError> {
    let mut insert = Query::insert();
    insert
        .into_table(UPLOADS)
        .columns(["image_id", "holder", "expires_at"])
        .values([
            Expr::val(id),
            Expr::val(lease.holder.as_str()),
            Expr::val(to_micros(lease.expires_at)),
        ])
        .map_err(|e| DbError::internal(e.to_string()))?;
    match tx.execute(dialect, &insert).await {
        Ok(_) => Ok(true),
        Err(DbError::Duplicate) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Locks a live image's row for the rest of the transaction (a no-op on
/// SQLite, whose write transactions run one at a time) and returns its
/// status and version; `None` if it is missing or deleted.
pub(crate) async fn lock_image(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    id: &str,
) -> Result<Option<(ImageStatus, Version)>, DbError> {
    let query = Query::select()
        .columns(["status", VERSION])
        .from(IMAGES)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("deleted").eq(flag(false)))
        .lock(LockType::Update)
        .take();
    let found = tx.fetch_all(dialect, &query).await?;
    let Some(row) = found.first() else {
        return Ok(None);
    };
    let status: String = row.try_get(0)?;
    let status = status
        .parse()
        .map_err(|_| DbError::internal("bad status stored"))?;
    Ok(Some((status, images::version_of(row.try_get(1)?))))
}
