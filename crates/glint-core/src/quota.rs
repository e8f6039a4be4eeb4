//! Which quotas bound a project for a request, and the refusals they give.
//!
//! Without Keystone limits, a project's image data is bounded by
//! `user_storage_quota` (bytes). With `use_keystone_limits` (an
//! [`UnifiedLimits`] given to the service), `user_storage_quota` is
//! ignored, as in Glance, and the project's limits in Keystone apply:
//! `image_size_total` (MiB) to its image data, `image_count_total` to image
//! creation, `image_count_uploading` to uploads and stagings,
//! `image_stage_total` to the data staged for imports. Every decision is made in
//! the database, under the project's quota lock, in the transaction that
//! saves what it allows, so concurrent requests cannot together exceed a
//! limit (Glance checks before and writes after, so they can).

use std::sync::Arc;

use glint_db::{DataKind, ProjectUsage, StorageQuota};

use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::ImageService;
use crate::limits::{LimitsError, ProjectLimits, Resource, UnifiedLimits};

/// Bytes in a MiB, the unit of `image_size_total` and `image_stage_total`.
pub const MIB: u64 = 1024 * 1024;

/// How the data of a project's images is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StorageBound {
    /// `user_storage_quota`, in bytes.
    Bytes(u64),
    /// Keystone's `image_size_total`, in MiB.
    SizeTotal { mib: u64 },
    /// Keystone's `image_stage_total`, in MiB: the data staged for imports.
    StageTotal { mib: u64 },
}

impl StorageBound {
    /// The bound in bytes.
    pub(crate) fn bytes(self) -> u64 {
        match self {
            StorageBound::Bytes(b) => b,
            StorageBound::SizeTotal { mib } | StorageBound::StageTotal { mib } => {
                mib.saturating_mul(MIB)
            }
        }
    }

    /// The data the bound counts.
    pub(crate) fn kind(self) -> DataKind {
        match self {
            StorageBound::Bytes(_) | StorageBound::SizeTotal { .. } => DataKind::Stored,
            StorageBound::StageTotal { .. } => DataKind::Staged,
        }
    }

    /// The quota of this bound for `project`'s data of `size` bytes.
    pub(crate) fn quota<'a>(self, project: Option<&'a str>, size: Option<u64>) -> StorageQuota<'a> {
        StorageQuota {
            project,
            kind: self.kind(),
            limit: self.bytes(),
            size,
        }
    }

    /// The refusal of data of `size` bytes (`None`: unknown) by the
    /// project, when the bound left `remaining` bytes.
    pub(crate) fn refusal(
        self,
        project: Option<&str>,
        size: Option<u64>,
        remaining: i64,
    ) -> CoreError {
        match self {
            StorageBound::Bytes(_) => CoreError::StorageQuotaExceeded { size, remaining },
            StorageBound::SizeTotal { mib } | StorageBound::StageTotal { mib } => {
                let resource = match self {
                    StorageBound::StageTotal { .. } => Resource::ImageStageTotal,
                    _ => Resource::ImageSizeTotal,
                };
                let limit = i128::from(self.bytes());
                let used = u64::try_from((limit - i128::from(remaining)).max(0)).unwrap_or(0);
                let usage = used / MIB;
                let total = used.saturating_add(size.unwrap_or(0));
                // The MiB the request would add, rounded so that usage plus
                // delta is over the limit whenever the bytes are.
                let delta = total.div_ceil(MIB).saturating_sub(usage).max(1);
                CoreError::LimitExceeded {
                    project: project.map(str::to_owned),
                    resource,
                    limit: mib,
                    usage,
                    delta,
                }
            }
        }
    }
}

/// What a transfer's store error becomes: past the `room` a bound left
/// when it began, the bound's refusal (as Glance, the size is unknown in a
/// refusal of `user_storage_quota` on the way; Keystone's limits count the
/// byte that did not fit); any other error as it is.
pub(crate) fn cut_off(
    e: glint_store::StoreError,
    room: Option<u64>,
    bound: Option<StorageBound>,
    project: Option<&str>,
) -> CoreError {
    match (e, room, bound) {
        (glint_store::StoreError::SizeLimitExceeded { .. }, Some(room), Some(bound)) => {
            let size = match bound {
                StorageBound::Bytes(_) => None,
                StorageBound::SizeTotal { .. } | StorageBound::StageTotal { .. } => {
                    Some(room.saturating_add(1))
                }
            };
            bound.refusal(project, size, i64::try_from(room).unwrap_or(i64::MAX))
        }
        (e, _, _) => e.into(),
    }
}

/// A resource's limit and what the project uses of it, in Keystone's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceUsage {
    pub resource: Resource,
    /// -1 when unlimited.
    pub limit: i64,
    pub usage: u64,
}

impl From<LimitsError> for CoreError {
    fn from(e: LimitsError) -> Self {
        match e {
            LimitsError::Unavailable(m) => CoreError::Unavailable(format!("keystone limits: {m}")),
            LimitsError::Misconfigured(m) => CoreError::Internal(format!("keystone limits: {m}")),
        }
    }
}

impl ImageService {
    /// Enforces the per-project limits of `limits` (`use_keystone_limits`)
    /// instead of `user_storage_quota`.
    pub fn with_unified_limits(mut self, limits: Arc<UnifiedLimits>) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The Keystone limits of `project`, when they are on.
    pub(crate) async fn project_limits(
        &self,
        project: Option<&str>,
    ) -> Result<Option<ProjectLimits>, CoreError> {
        match &self.limits {
            Some(limits) => Ok(Some(limits.limits(project).await?)),
            None => Ok(None),
        }
    }

    /// What bounds the data of `project`'s images, given its limits.
    pub(crate) fn storage_bound(&self, limits: Option<&ProjectLimits>) -> Option<StorageBound> {
        match limits {
            Some(limits) => limits
                .bound(Resource::ImageSizeTotal)
                .map(|mib| StorageBound::SizeTotal { mib }),
            None => self.config.user_storage_quota.map(StorageBound::Bytes),
        }
    }

    /// The quota a location added by a PATCH or the location API counts
    /// against: `user_storage_quota`, which Glance checks there; Keystone's
    /// limits are not checked on location adds (in Glance either).
    pub(crate) fn location_storage_quota(&self) -> Option<u64> {
        match self.limits {
            Some(_) => None,
            None => self.config.user_storage_quota,
        }
    }

    /// `GET /v2/info/usage`: the caller's project's limits and usage, in
    /// Glance's order; `None` when Keystone limits are off.
    pub async fn usage(
        &self,
        ctx: &RequestContext,
    ) -> Result<Option<Vec<ResourceUsage>>, CoreError> {
        let project = ctx.project_id();
        let Some(limits) = self.project_limits(project).await? else {
            return Ok(None);
        };
        let used = self.db.project_usage(project).await?;
        let usage_of = |resource: Resource| usage_in_units(&used, resource);
        Ok(Some(
            Resource::ALL
                .into_iter()
                .map(|resource| ResourceUsage {
                    resource,
                    limit: limits.get(resource),
                    usage: usage_of(resource),
                })
                .collect(),
        ))
    }
}

/// What `used` counts of `resource`, in Keystone's units (whole MiB,
/// rounded down as Glance does, for sizes).
fn usage_in_units(used: &ProjectUsage, resource: Resource) -> u64 {
    match resource {
        Resource::ImageSizeTotal => used.stored / MIB,
        Resource::ImageStageTotal => used.staging / MIB,
        Resource::ImageCountTotal => used.images,
        Resource::ImageCountUploading => used.uploading,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(e: CoreError) -> (u64, u64, u64) {
        match e {
            CoreError::LimitExceeded {
                limit,
                usage,
                delta,
                ..
            } => (limit, usage, delta),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_size_total_refusal_reports_glances_whole_mib() {
        let bound = StorageBound::SizeTotal { mib: 10 };
        // 5 MiB used, 6 MiB asked: Glance's own numbers.
        let e = bound.refusal(Some("p"), Some(6 * MIB), (5 * MIB) as i64);
        assert_eq!(numbers(e), (10, 5, 6));
        // Part-MiB amounts: usage plus delta is still over the limit.
        let e = bound.refusal(Some("p"), Some(MIB / 2), (MIB / 4) as i64);
        let (limit, usage, delta) = numbers(e);
        assert!(usage + delta > limit, "{usage} + {delta}");
        // Unknown size with nothing left.
        let e = bound.refusal(None, None, 0);
        assert_eq!(numbers(e), (10, 10, 1));
    }

    #[test]
    fn a_storage_quota_refusal_keeps_glances_bytes() {
        let e = StorageBound::Bytes(100).refusal(Some("p"), Some(60), 40);
        assert!(matches!(
            e,
            CoreError::StorageQuotaExceeded {
                size: Some(60),
                remaining: 40
            }
        ));
    }
}
