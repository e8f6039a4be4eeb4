//! Job leases (table `job_leases`): which process works on a background
//! job, until when, and how its failed attempts went.
//!
//! A job is named by a kind (`scrub`, …) and a key within it (an image
//! id). A worker claims it by inserting its lease, or by taking over one
//! that has expired or whose holder is known to have died; it renews the
//! lease while it works, and when done deletes it in the transaction that
//! records the result. A failed attempt keeps the row, counts the failure
//! and expires the lease at once, so that the next run takes the job up
//! again; the row then also says that the job has begun. Renewals touch
//! the lease row only, never the rows the job is about.

use glint_model::time::{Timestamp, from_micros, to_micros};
use sea_query::{Cond, Expr, ExprTrait, Query};
use sqlx::Row;

use crate::error::ErrorText;
use crate::exec::WriteTx;
use crate::rows::JOBS;
use crate::{Database, DbError, Dialect};

/// Who works on a job, and until when unless renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    pub holder: String,
    pub expires_at: Timestamp,
}

/// A job's lease row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub holder: String,
    pub expires_at: Timestamp,
    /// Attempts that failed so far.
    pub attempts: u64,
    /// What the last failed attempt reported (at most [`ErrorText::MAX`]
    /// bytes).
    pub last_error: Option<String>,
}

fn of_job(kind: &str, key: &str) -> Cond {
    Cond::all()
        .add(Expr::col((JOBS, "kind")).eq(kind))
        .add(Expr::col((JOBS, "job_key")).eq(key))
}

/// A lease another process may take over at `now`: expired, or held by a
/// process known to have died.
pub(crate) fn reclaimable(now: Timestamp, dead_holders: &[String]) -> Cond {
    let mut any = Cond::any().add(Expr::col((JOBS, "expires_at")).lt(to_micros(now)));
    if !dead_holders.is_empty() {
        any = any.add(Expr::col((JOBS, "holder")).is_in(dead_holders.iter().map(String::as_str)));
    }
    any
}

/// Claims the job inside `tx`: inserts `lease`, or takes over a lease
/// that is reclaimable at `now`. `false` when another holds it.
pub(crate) async fn claim_in(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    (kind, key): (&str, &str),
    lease: &JobLease,
    now: Timestamp,
    dead_holders: &[String],
) -> Result<bool, DbError> {
    let take = Query::update()
        .table(JOBS)
        .value("holder", lease.holder.as_str())
        .value("expires_at", to_micros(lease.expires_at))
        .cond_where(of_job(kind, key))
        .cond_where(reclaimable(now, dead_holders))
        .take();
    if tx.execute(dialect, &take).await? > 0 {
        return Ok(true);
    }
    let exists = Query::select()
        .expr(Expr::cust("1"))
        .from(JOBS)
        .cond_where(of_job(kind, key))
        .take();
    if !tx.fetch_all(dialect, &exists).await?.is_empty() {
        return Ok(false);
    }
    let mut insert = Query::insert();
    insert
        .into_table(JOBS)
        .columns(["kind", "job_key", "holder", "expires_at"])
        .values([
            Expr::val(kind),
            Expr::val(key),
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

/// `LeaseLost` unless `holder` holds the job's lease (expired or not:
/// until someone takes it over, it is still theirs).
pub(crate) async fn check_held_in(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    (kind, key): (&str, &str),
    holder: &str,
) -> Result<(), DbError> {
    let query = Query::select()
        .expr(Expr::cust("1"))
        .from(JOBS)
        .cond_where(of_job(kind, key))
        .and_where(Expr::col("holder").eq(holder))
        .take();
    if tx.fetch_all(dialect, &query).await?.is_empty() {
        return Err(DbError::LeaseLost);
    }
    Ok(())
}

/// Deletes `holder`'s lease on the job inside `tx`; `LeaseLost` if they
/// no longer hold it.
pub(crate) async fn release_in(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    (kind, key): (&str, &str),
    holder: &str,
) -> Result<(), DbError> {
    let delete = Query::delete()
        .from_table(JOBS)
        .cond_where(of_job(kind, key))
        .and_where(Expr::col("holder").eq(holder))
        .take();
    if tx.execute(dialect, &delete).await? == 0 {
        return Err(DbError::LeaseLost);
    }
    Ok(())
}

/// Whether the job has a lease row at all (claimed, running or failed).
pub(crate) async fn exists_in(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    (kind, key): (&str, &str),
) -> Result<bool, DbError> {
    let query = Query::select()
        .expr(Expr::cust("1"))
        .from(JOBS)
        .cond_where(of_job(kind, key))
        .take();
    Ok(!tx.fetch_all(dialect, &query).await?.is_empty())
}

impl Database {
    /// Claims the job `(kind, key)` for `lease.holder`: a new lease, or one
    /// that is reclaimable at `now` (expired, or held by one of
    /// `dead_holders`). `false` when another process holds it.
    pub async fn claim_job(
        &self,
        kind: &str,
        key: &str,
        lease: &JobLease,
        now: Timestamp,
        dead_holders: &[String],
    ) -> Result<bool, DbError> {
        let mut tx = self.begin_write().await?;
        let claimed = claim_in(
            &mut tx,
            self.dialect(),
            (kind, key),
            lease,
            now,
            dead_holders,
        )
        .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Extends `holder`'s lease on the job to `expires_at`. `false` if
    /// they no longer hold it.
    pub async fn renew_job(
        &self,
        kind: &str,
        key: &str,
        holder: &str,
        expires_at: Timestamp,
    ) -> Result<bool, DbError> {
        let update = Query::update()
            .table(JOBS)
            .value("expires_at", to_micros(expires_at))
            .cond_where(of_job(kind, key))
            .and_where(Expr::col("holder").eq(holder))
            .take();
        let mut tx = self.begin_write().await?;
        let renewed = tx.execute(self.dialect(), &update).await? > 0;
        tx.commit().await?;
        Ok(renewed)
    }

    /// Ends `holder`'s work on the job by deleting its lease. `LeaseLost`
    /// if they no longer hold it.
    pub async fn finish_job(&self, kind: &str, key: &str, holder: &str) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        release_in(&mut tx, self.dialect(), (kind, key), holder).await?;
        tx.commit().await
    }

    /// Records a failed attempt of `holder` on the job: one more failure,
    /// `error` as the last one, and the lease expired at `now`, so that the
    /// next run may take the job up. `false` if they no longer hold it.
    pub async fn fail_job(
        &self,
        kind: &str,
        key: &str,
        holder: &str,
        error: &str,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let error = ErrorText::new(error).to_string();
        let update = Query::update()
            .table(JOBS)
            .value("expires_at", to_micros(now))
            .value("attempts", Expr::col("attempts").add(1))
            .value("last_error", error)
            .cond_where(of_job(kind, key))
            .and_where(Expr::col("holder").eq(holder))
            .take();
        let mut tx = self.begin_write().await?;
        let failed = tx.execute(self.dialect(), &update).await? > 0;
        tx.commit().await?;
        Ok(failed)
    }

    /// The lease row of the job, if any.
    pub async fn job(&self, kind: &str, key: &str) -> Result<Option<JobState>, DbError> {
        let query = Query::select()
            .columns(["holder", "expires_at", "attempts", "last_error"])
            .from(JOBS)
            .cond_where(of_job(kind, key))
            .take();
        let found = self.fetch_all(&query).await?;
        let Some(row) = found.first() else {
            return Ok(None);
        };
        let attempts: i64 = row.try_get(2)?;
        Ok(Some(JobState {
            holder: row.try_get(0)?,
            expires_at: from_micros(row.try_get(1)?),
            attempts: u64::try_from(attempts).unwrap_or(0),
            last_error: row.try_get(3)?,
        }))
    }

    /// Every process that holds a lease on a job of `kind`, once each.
    pub async fn job_holders(&self, kind: &str) -> Result<Vec<String>, DbError> {
        let query = Query::select()
            .distinct()
            .column("holder")
            .from(JOBS)
            .and_where(Expr::col("kind").eq(kind))
            .take();
        let found = self.fetch_all(&query).await?;
        found
            .iter()
            .map(|row| row.try_get::<String, _>(0).map_err(DbError::from))
            .collect()
    }
}
