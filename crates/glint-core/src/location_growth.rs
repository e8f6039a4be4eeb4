//! What a change of an image's locations adds to its project's storage,
//! for `user_storage_quota` (decided in the change's save).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use glint_model::Image;

use crate::error::CoreError;

/// What a change of an image's locations adds to the data the caller's
/// project holds, recorded by each attempt of the change for its save.
/// Glance checks `user_storage_quota` when locations are added: the image's
/// size once per new location, against the project's usage with the image
/// as it was (for an add) or without it (for a replace).
#[derive(Debug, Default)]
pub(crate) struct LocationGrowth {
    /// Whether the change added a location.
    adds: AtomicBool,
    /// The image's data once changed, once per location.
    after: AtomicU64,
    /// What of the image's data counted for the project before the change.
    before: AtomicU64,
}

/// An image's data once per location not deleted, as usage counts it.
fn footprint(image: &Image) -> u64 {
    let copies = image
        .locations
        .iter()
        .filter(|l| l.status != "deleted")
        .count() as u64;
    image.size.unwrap_or(0).saturating_mul(copies)
}

impl LocationGrowth {
    /// Records what a change made of `before`: `after`, for the caller's
    /// `project`.
    pub(crate) fn record(&self, project: Option<&str>, before: &Image, after: &Image) {
        let adds = after.locations.iter().any(|l| {
            !before
                .locations
                .iter()
                .any(|b| b.url == l.url && b.metadata == l.metadata)
        });
        let owned = before.owner.as_deref() == project;
        let counted = if owned { footprint(before) } else { 0 };
        self.adds.store(adds, Ordering::Relaxed);
        self.after.store(footprint(after), Ordering::Relaxed);
        self.before.store(counted, Ordering::Relaxed);
    }

    /// The data the save must fit, when the change added locations.
    pub(crate) fn required(&self) -> Option<u64> {
        self.adds
            .load(Ordering::Relaxed)
            .then(|| self.after.load(Ordering::Relaxed))
    }

    /// The refusal when the quota left `remaining` bytes beside the image:
    /// in Glance's terms, what the new locations add and what was left with
    /// the image as it was.
    pub(crate) fn refusal(&self, remaining: i64) -> CoreError {
        let before = self.before.load(Ordering::Relaxed);
        let after = self.after.load(Ordering::Relaxed);
        let counted = i64::try_from(before).unwrap_or(i64::MAX);
        CoreError::LocationsOverStorageQuota {
            size: after.saturating_sub(before),
            remaining: remaining.saturating_sub(counted),
        }
    }
}
