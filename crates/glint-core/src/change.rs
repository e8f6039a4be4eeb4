//! Every read-modify-write of an image goes through one loop: apply the
//! change to the image as read, save it compare-and-set on the version
//! read, and when another request saved in between, read the image again
//! and apply the change again.
//!
//! Re-applying is correct because a change is defined against the image it
//! is given (JSON-patch operations are defined against the current
//! document): a change that no longer makes sense on the fresh image (a
//! `replace` of a property another request removed, a status that moved on)
//! fails with its own error then. A fresh read made for a caller passes the
//! caller's checks again (visibility, policy), since the image they were
//! made on is gone. After [`MAX_ATTEMPTS`] lost races the request gives up
//! ([`CoreError::ChangedConcurrently`]).
//!
//! Within one process, changes of the same image also take turns (see
//! [`WriteTurns`]): optimistic saves alone degrade under contention, since
//! writers queued behind the database's write lock (SQLite's, a row lock)
//! all read before the one ahead of them saved, and all lose.
//!
//! How to reload and how to save are plain values ([`Reload`], [`Save`])
//! rather than async closures: the loop runs inside spawned upload tasks,
//! which must be `Send`, and the compiler cannot yet prove that of futures
//! made by closures that borrow their arguments.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use glint_db::{CountLimit, DataKind, DbError, StorageQuota, UploadLease, Version, Versioned};
use glint_model::time::Timestamp;
use glint_model::{Image, ImageId};
use glint_notify::EventType;

use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::location_growth::LocationGrowth;

/// Saves tried before a request gives up on an image others keep changing.
/// Each lost race means another save succeeded, so the image is busy, not
/// stuck.
pub(crate) const MAX_ATTEMPTS: usize = 16;

/// The pause before reading the image again after `attempt` lost races:
/// none after the first (the request that won has just saved), then a
/// random part of a window that doubles, up to 64 ms. Writers in one
/// process take turns; writers on two nodes do not, and a node whose
/// writers hand the image on among themselves can keep another node's
/// writer losing: two servers on one PostgreSQL database, on a loaded
/// machine, once refused a PATCH after 16 lost races. The pauses, at most
/// about 0.7 s in all, let such a run of saves pass.
fn pause_after(attempt: usize) -> Duration {
    if attempt < 2 {
        return Duration::ZERO;
    }
    let window_us = 1000u64 << attempt.min(6);
    // A fresh randomly keyed hasher: random enough to part two writers.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_micros(random % window_us)
}

/// What a change did to the image it was given.
pub(crate) enum Step {
    /// The image was changed and must be saved.
    Save,
    /// Nothing to save (the change was already there).
    Keep,
}

/// How to read the image again after a lost race.
pub(crate) enum Reload<'a> {
    /// For a caller: the image must still be visible to them (else it is
    /// missing for the request `by`), and they must still pass `rule` on
    /// it.
    ForCaller {
        ctx: &'a RequestContext,
        rule: &'static str,
        by: Lookup,
    },
    /// For the service's own work (an upload ending): `missing(id)` when
    /// the image is gone.
    ForService { missing: fn(ImageId) -> CoreError },
}

/// How to save a changed image, compare-and-set on the version read.
pub(crate) enum Save<'a> {
    /// Every field ([`glint_db::Database::save_image`]).
    Image,
    /// An upload beginning: the lease, and the quota check
    /// ([`glint_db::Database::begin_upload`]).
    BeginUpload {
        lease: &'a UploadLease,
        quota: Option<StorageQuota<'a>>,
        uploads: Option<CountLimit<'a>>,
    },
    /// An upload ending: activated or reset, releasing `holder`'s lease
    /// ([`glint_db::Database::end_upload`]).
    EndUpload {
        holder: &'a str,
        quota: Option<StorageQuota<'a>>,
    },
    /// Every field, within `user_storage_quota` (`limit` bytes for the
    /// caller's `project`) when the change added locations
    /// ([`glint_db::Database::save_image_within`]).
    WithinStorage {
        project: Option<&'a str>,
        limit: u64,
        growth: &'a LocationGrowth,
    },
    /// A delete, to the status the change set
    /// ([`glint_db::Database::delete_image`]).
    Delete { now: Timestamp },
}

/// What a save settled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Saved {
    /// What the storage quota still allowed (an upload beginning).
    pub remaining: Option<u64>,
    /// The image's version after the save.
    pub version: Version,
}

/// The outcome of a change: the image as saved (or as read, when nothing
/// had to be saved), and what the save settled (`None`: nothing saved).
pub(crate) struct Changed {
    pub image: Image,
    pub saved: Option<Saved>,
}

impl ImageService {
    /// Applies `change` to `current` and saves it as `save` says, applying
    /// it again to a fresh read (from `reload`) whenever another request
    /// saved first.
    pub(crate) async fn change_image(
        &self,
        mut current: Versioned,
        reload: Reload<'_>,
        save: Save<'_>,
        mut change: impl FnMut(&mut Image) -> Result<Step, CoreError>,
    ) -> Result<Changed, CoreError> {
        let id = current.image.id;
        let stripe = self.write_turns.of(id);
        let _turn = match stripe.try_lock() {
            Ok(turn) => turn,
            Err(_) => {
                let turn = stripe.lock().await;
                // Whoever went first most likely changed the image: read
                // it again rather than try a save bound to fail.
                current = self.reload(id, &reload).await?;
                turn
            }
        };
        for attempt in 1..=MAX_ATTEMPTS {
            if let Step::Keep = change(&mut current.image)? {
                return Ok(Changed {
                    image: current.image,
                    saved: None,
                });
            }
            match self.save(&current.image, current.version, &save).await {
                Ok(saved) => {
                    self.notify_saved(&current.image, &save);
                    return Ok(Changed {
                        image: current.image,
                        saved: Some(saved),
                    });
                }
                // Gone or changed since read: the fresh read tells which.
                Err(DbError::Conflict | DbError::NotFound) => {
                    tracing::debug!(image.id = %id, attempt, "image changed concurrently; applying again");
                }
                Err(e) => return Err(e.into()),
            }
            if attempt < MAX_ATTEMPTS {
                let pause = pause_after(attempt);
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                current = self.reload(id, &reload).await?;
            }
        }
        Err(CoreError::ChangedConcurrently { id })
    }

    async fn save(
        &self,
        image: &Image,
        version: Version,
        how: &Save<'_>,
    ) -> Result<Saved, DbError> {
        let plain = |version| Saved {
            remaining: None,
            version,
        };
        match how {
            Save::Image => self.db.save_image(image, version).await.map(plain),
            Save::WithinStorage {
                project,
                limit,
                growth,
            } => match growth.required() {
                Some(size) => {
                    let quota = StorageQuota {
                        project: *project,
                        kind: DataKind::Stored,
                        limit: *limit,
                        size: Some(size),
                    };
                    (self.db)
                        .save_image_within(image, version, &quota)
                        .await
                        .map(plain)
                }
                None => self.db.save_image(image, version).await.map(plain),
            },
            Save::BeginUpload {
                lease,
                quota,
                uploads,
            } => {
                let started = (self.db)
                    .begin_upload_limited(image, version, lease, quota.as_ref(), uploads.as_ref())
                    .await?;
                Ok(Saved {
                    remaining: started.remaining,
                    version: started.version,
                })
            }
            Save::EndUpload { holder, quota } => (self.db)
                .end_upload(image, version, holder, quota.as_ref())
                .await
                .map(plain),
            Save::Delete { now } => {
                (self.db)
                    .delete_image(image.id, version, image.status, *now)
                    .await?;
                Ok(plain(version))
            }
        }
    }

    /// The event of a save, as Glance's repository sends it: the end of an
    /// upload sends its own events, in Glance's order.
    fn notify_saved(&self, image: &Image, save: &Save<'_>) {
        match save {
            Save::Image | Save::WithinStorage { .. } | Save::BeginUpload { .. } => {
                self.notify_image(EventType::ImageUpdate, image)
            }
            Save::Delete { now } => self.notify_deleted(image, *now),
            Save::EndUpload { .. } => {}
        }
    }

    async fn reload(&self, image_id: ImageId, how: &Reload<'_>) -> Result<Versioned, CoreError> {
        match how {
            Reload::ForCaller { ctx, rule, by } => {
                let stored = self.load_visible_versioned(ctx, image_id, *by).await?;
                self.authz.enforce_image(ctx, &stored.image, rule).await?;
                Ok(stored)
            }
            Reload::ForService { missing } => {
                let fresh = self.db.get_image_versioned(image_id).await?;
                fresh.ok_or_else(|| missing(image_id))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_after_the_second_lost_race_and_stay_bounded() {
        assert_eq!(pause_after(1), Duration::ZERO);
        let mut total = Duration::ZERO;
        for attempt in 2..MAX_ATTEMPTS {
            let window = Duration::from_millis(1 << attempt.min(6));
            let pause = pause_after(attempt);
            assert!(pause < window, "{attempt}: {pause:?}");
            total += window;
        }
        assert!(total < Duration::from_secs(1), "{total:?}");
        // Random: a hundred draws in a 64 ms window are not all alike.
        let draws: std::collections::BTreeSet<_> = (0..100).map(|_| pause_after(10)).collect();
        assert!(draws.len() > 1);
    }
}
