//! The use cases of glint: creating, listing, changing, uploading,
//! downloading, sharing and deleting images, for one caller at a time;
//! and the service's own work on them: resetting interrupted uploads,
//! scrubbing pending deletes, restoring them.
//!
//! This is the only crate that authorizes (it asks the policy engine) and
//! the only one that changes an image's status (always compare-and-set in
//! the database, moves checked by `glint-model`). It knows nothing of HTTP:
//! it must not import axum or hyper. Its errors ([`CoreError`]) say what
//! went wrong in the domain's terms; the API crate alone chooses the status
//! code and Glance's words for each.

mod actions;
mod admission;
pub mod authz;
pub mod cache;
mod change;
pub mod config;
pub mod context;
pub mod data;
mod delete;
pub mod error;
mod glance_download;
pub mod health;
pub mod images;
pub mod import;
mod import_run;
pub mod input;
mod intake;
mod lent;
pub mod limits;
mod liveness;
mod location_growth;
pub mod locations;
pub mod members;
pub mod metadefs;
mod notify;
mod patch_locations;
pub mod plugins;
pub mod protections;
mod quota;
pub mod reconcile;
pub mod remote;
pub mod scrub;
pub mod stage;
mod stores;
pub mod tags;
pub mod tasks;
pub mod transfers;
mod turns;
mod update;
mod upload;

pub use cache::{CacheConfig, CacheService};
pub use config::ImageConfig;
pub use context::{Delegation, ImageEndpoint, RequestContext};
pub use data::{Download, RangeRequest};
pub use error::{
    CoreError, ImageAction, Lookup, MemberOp, MetadefClash, MetadefMissing, MetadefProtection,
    RefusedValue,
};
pub use health::{CheckResult, HealthCheck, HealthConfig, HealthReport, HealthService};
pub use images::{ImagePage, ImageService};
pub use input::{NewImageRequest, NewTag, RequestedStatus};
pub use intake::{ImportSettings, Staging};
pub use limits::{LimitMap, LimitsError, LimitsSource, ProjectLimits, Resource, UnifiedLimits};
pub use locations::ValidationData;
pub use metadefs::{
    LoadReport, MetadefService, NamespaceDetail, NamespaceListRequest, NamespacePage,
    TagListRequest,
};
pub use plugins::{
    ConversionConfig, ConversionLimits, ImportPlugin, InjectConfig, OutputFormat, PluginSettings,
};
pub use protections::{PropertyProtections, ProtectionSection, ProtectionsError, RuleFormat};
pub use quota::{MIB, ResourceUsage};
pub use scrub::{PendingDelete, ScrubOutcome};
pub use tasks::{TaskListRequest, TaskPage};
pub use transfers::TransferStats;
