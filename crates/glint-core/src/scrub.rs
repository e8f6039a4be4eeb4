//! Delayed delete's second half: scrubbing a pending delete (removing its
//! data from every location, then marking it `deleted`) and restoring one
//! to `active`, as glance-scrubber does.
//!
//! A scrub claims the image with a job lease ([`glint_db::SCRUB_JOB`]),
//! renews it while it works, marks each location `deleted` once its data
//! is gone (data already missing counts as gone), and moves the image
//! `pending_delete → deleted` in the transaction that drops the lease. A
//! location whose data cannot be removed leaves the image pending, the
//! failure recorded on the lease, which expires at once so that the next
//! run tries again. A holder that dies leaves its lease to be taken over
//! (at once when it ran on this node, else once it expires) and the work
//! is done again: removing data that is gone already is no error.
//!
//! A restore succeeds only while no scrub of the image has begun; the
//! database decides both with the image row locked, so of a restore and a
//! scrub exactly one happens.

use std::time::Duration;

use glint_db::{DbError, JobLease, RestoreOutcome, SCRUB_JOB, ScrubCursor, Versioned};
use glint_model::time::{self, Timestamp};
use glint_model::{Image, ImageId, ImageStatus};

use crate::change::MAX_ATTEMPTS;
use crate::delete::DataRemoval;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::liveness;

const DELETED: &str = "deleted";

/// An image waiting in `pending_delete`, and when it was deleted: also a
/// position in the scrubber's sweep (oldest deletion first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingDelete {
    pub id: ImageId,
    pub deleted_at: Timestamp,
}

/// What scrubbing one pending delete came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrubOutcome {
    /// Its data is gone from every location and the image is `deleted`.
    Scrubbed,
    /// Nothing to do here: the image is no longer pending (restored, or
    /// scrubbed already), or another process holds its scrub.
    NotClaimed,
    /// Some of its data could not be removed; it stays `pending_delete`
    /// and the next run tries again. `error` says why, for the log.
    Failed { error: String },
    /// Another process took the scrub over while this one worked (its
    /// lease had expired unrenewed); that one finishes it.
    LeaseLost,
}

impl ImageService {
    /// How many images wait in `pending_delete`, due or not.
    pub async fn pending_delete_count(&self) -> Result<u64, CoreError> {
        Ok(self.db.count_pending_deletes().await?)
    }

    /// Up to `limit` pending deletes deleted at or before
    /// `deleted_before` that no live process is scrubbing, after `after`,
    /// oldest deletion first.
    pub async fn due_pending_deletes(
        &self,
        deleted_before: Timestamp,
        after: Option<PendingDelete>,
        limit: u64,
    ) -> Result<Vec<PendingDelete>, CoreError> {
        let dead = self.dead_scrubbers().await?;
        let after = after.map(|p| ScrubCursor {
            deleted_at: p.deleted_at,
            id: p.id,
        });
        let found = (self.db)
            .scrub_candidates(deleted_before, after, time::now(), &dead, limit)
            .await?;
        Ok(found
            .into_iter()
            .map(|v| PendingDelete {
                id: v.image.id,
                // Never missing: the query compares it with the cutoff.
                deleted_at: v.image.deleted_at.unwrap_or(time::from_micros(0)),
            })
            .collect())
    }

    /// Scrubs the pending delete `id` under a lease of `lease_time`,
    /// renewed every third of it while the stores work.
    pub async fn scrub_pending_delete(
        &self,
        id: ImageId,
        lease_time: Duration,
    ) -> Result<ScrubOutcome, CoreError> {
        let holder = self.lease_holder();
        let now = time::now();
        let dead = self.dead_scrubbers().await?;
        let lease = JobLease {
            holder: holder.clone(),
            expires_at: now + lease_time,
        };
        let Some(stored) = self.db.claim_scrub(id, &lease, now, &dead).await? else {
            return Ok(ScrubOutcome::NotClaimed);
        };
        let key = id.to_string();
        tokio::select! {
            outcome = self.scrub_claimed(stored, &holder) => outcome,
            () = self.keep_job_lease(SCRUB_JOB, &key, &holder, lease_time) => {
                tracing::warn!(image.id = %id, "scrub taken over by another process");
                Ok(ScrubOutcome::LeaseLost)
            }
        }
    }

    /// Holders of scrub leases that ran on this node and have ended.
    async fn dead_scrubbers(&self) -> Result<Vec<String>, CoreError> {
        let holders = self.db.job_holders(SCRUB_JOB).await?;
        Ok(liveness::ended_holders(&self.config.node_name, holders))
    }

    /// Removes the data of every location not yet scrubbed, then marks the
    /// image `deleted`.
    async fn scrub_claimed(
        &self,
        mut current: Versioned,
        holder: &str,
    ) -> Result<ScrubOutcome, CoreError> {
        let id = current.image.id;
        let mut failures = Vec::new();
        for index in 0..current.image.locations.len() {
            let location = current.image.locations[index].clone();
            if location.status == DELETED {
                continue;
            }
            let store = location.store_id().unwrap_or("unnamed").to_owned();
            match self.delete_location_data(id, &location).await {
                Ok(DataRemoval::NoStore) => {
                    failures.push(format!("no store of this node serves store {store}"));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    failures.push(format!("store {store}: {e}"));
                    continue;
                }
            }
            current.image.locations[index].status = DELETED.into();
            match (self.db)
                .save_scrub_progress(&current.image, current.version, holder)
                .await
            {
                Ok(version) => current.version = version,
                Err(DbError::LeaseLost) => return Ok(ScrubOutcome::LeaseLost),
                Err(e) => return Err(e.into()),
            }
        }
        if !failures.is_empty() {
            return self.record_failure(id, holder, failures.join("; ")).await;
        }
        let mut image = current.image;
        image.status.check_move(ImageStatus::Deleted)?;
        image.status = ImageStatus::Deleted;
        image.updated_at = time::now();
        match self.db.finish_scrub(&image, current.version, holder).await {
            Ok(()) => {
                tracing::info!(image.id = %id, locations = image.locations.len(), "image scrubbed");
                Ok(ScrubOutcome::Scrubbed)
            }
            Err(DbError::LeaseLost) => Ok(ScrubOutcome::LeaseLost),
            Err(e) => Err(e.into()),
        }
    }

    /// Leaves the image pending with the failure recorded and the job free
    /// for the next run.
    async fn record_failure(
        &self,
        id: ImageId,
        holder: &str,
        error: String,
    ) -> Result<ScrubOutcome, CoreError> {
        let key = id.to_string();
        if !(self.db)
            .fail_job(SCRUB_JOB, &key, holder, &error, time::now())
            .await?
        {
            return Ok(ScrubOutcome::LeaseLost);
        }
        tracing::warn!(image.id = %id, error = %error, "image data not removed; the next run tries again");
        Ok(ScrubOutcome::Failed { error })
    }

    /// Renews `holder`'s lease on a job every third of `lease_time`;
    /// returns once it is lost. A renewal that fails (database out of
    /// reach) is tried again at the next turn.
    async fn keep_job_lease(&self, kind: &str, key: &str, holder: &str, lease_time: Duration) {
        loop {
            tokio::time::sleep(lease_time / 3).await;
            let until = time::now() + lease_time;
            match self.db.renew_job(kind, key, holder, until).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(job.kind = kind, job.key = key, error = %e, "cannot renew a job lease")
                }
            }
        }
    }

    /// Brings the pending delete `id` back to `active`, with its locations
    /// and the members its delete removed, as `glance-scrubber --restore`
    /// does. Refused once a scrub of it has begun.
    pub async fn restore_pending_delete(&self, id: ImageId) -> Result<Image, CoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(stored) = self.db.get_image_any_versioned(id).await? else {
                return Err(CoreError::image_not_found(id, Lookup::Image));
            };
            let status = stored.image.status;
            if status != ImageStatus::PendingDelete {
                return Err(CoreError::NotPendingDelete { id, status });
            }
            if stored.image.locations.iter().any(|l| l.status == DELETED) {
                return Err(CoreError::ScrubStarted { id });
            }
            let deleted_at = stored.image.deleted_at;
            let now = time::now();
            let mut image = stored.image;
            image.status.check_move(ImageStatus::Active)?;
            image.status = ImageStatus::Active;
            image.deleted_at = None;
            image.updated_at = now;
            for location in &mut image.locations {
                location.status = "active".into();
            }
            match (self.db)
                .restore_pending_delete(&image, stored.version, deleted_at, now)
                .await
            {
                Ok(RestoreOutcome::Restored) => {
                    tracing::info!(image.id = %id, "pending delete restored to active");
                    return Ok(image);
                }
                Ok(RestoreOutcome::ScrubStarted) => return Err(CoreError::ScrubStarted { id }),
                Err(DbError::Conflict | DbError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::ChangedConcurrently { id })
    }
}
