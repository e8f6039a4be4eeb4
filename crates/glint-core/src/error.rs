//! The one error type of the use-case layer.
//!
//! Each variant names what went wrong, in the domain's terms, and carries
//! the data that describes it. Which HTTP status answers it, and in which
//! of Glance's words, is the API layer's choice alone; the `Display` texts
//! here are for logs.

use glint_db::DbError;
use glint_format::{DetectedFormat, FormatError, SafetyError};
use glint_model::limits::QuotaKind;
use glint_model::{ImageId, ImageStatus, ModelError};
use glint_store::StoreError;

/// Which request found no image. Glance words the answer differently for
/// each, and the member API's policy check words it not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Showing, changing, tagging, (de)activating, uploading, downloading.
    Image,
    /// Deleting the image.
    Delete,
    /// The member API, looking for the image whose members it serves.
    Members,
    /// The member API's `get_image` check failed on an image the caller
    /// could otherwise see.
    MemberPolicy,
    /// The cache API, looking for the image it caches.
    Cache,
}

/// What a member request was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOp {
    List,
    Show,
    Add,
    Update,
    Delete,
}

/// The actions of `POST /v2/images/{id}/actions/…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAction {
    Deactivate,
    Reactivate,
}

impl ImageAction {
    /// The action's name in the URL, which is also its policy rule.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageAction::Deactivate => "deactivate",
            ImageAction::Reactivate => "reactivate",
        }
    }
}

/// A value the database refused (behind the model's own validation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedValue {
    /// A character the database cannot store in text.
    Character,
    /// Longer than its field allows.
    TooLong,
}

/// What of the metadefs catalogue was not found. Glance words each
/// differently (and some not at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadefMissing {
    /// Showing a namespace, or a list's marker: no such namespace.
    Namespace {
        namespace: String,
    },
    /// Any other request on a namespace that is missing or hidden.
    NamespaceOf {
        namespace: String,
    },
    /// The caller may not see the namespace (answered with a bare 404).
    Hidden,
    Object {
        namespace: String,
        name: String,
    },
    Property {
        namespace: String,
        name: String,
    },
    Tag {
        namespace: String,
        name: String,
    },
    /// `?resource_type=` names a type the namespace is not associated with.
    Association {
        namespace: String,
        resource_type: String,
    },
    /// A dissociation of a type the namespace is not associated with.
    AssociationToDelete {
        resource_type: String,
    },
    /// A prefixed property name without the association's prefix.
    PrefixMismatch {
        name: String,
        prefix: String,
    },
}

/// Which name of the metadefs catalogue is taken; `rename` when a PUT
/// would make the clash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadefClash {
    Namespace {
        namespace: String,
        rename: bool,
    },
    Object {
        namespace: String,
        name: String,
        rename: bool,
    },
    Property {
        namespace: String,
        name: String,
        rename: bool,
    },
    Tag {
        namespace: String,
        name: String,
    },
    Association {
        namespace: String,
        resource_type: String,
    },
}

/// What a protected namespace kept from deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadefProtection {
    Namespace { namespace: String },
    Object { name: String },
    Property { name: String },
    Tag { name: String },
    Association { resource_type: String },
}

/// What went wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A rule of the domain model refused the request: a create body, a
    /// patch, a list query, a tag, a member or a status move. Its message
    /// depends on the data, so the model words it; the API chooses the
    /// status by the error's kind.
    #[error(transparent)]
    Model(ModelError),

    /// No image with this id that the caller may see. `id` is as the
    /// request named it (it may not even be an image id).
    #[error("no image {id} ({by:?})")]
    ImageNotFound { id: String, by: Lookup },
    /// A list's `marker` names no image.
    #[error("marker {marker} names no image")]
    MarkerNotFound { marker: String },
    /// A list's `marker` names an image the caller may not see.
    #[error("marker image {id} is not visible to the caller")]
    MarkerNotVisible { id: ImageId },
    /// The image has no such tag.
    #[error("image {id} has no tag {tag}")]
    TagNotFound { id: ImageId, tag: String },
    /// No membership of `member` in the image that the caller may see.
    #[error("{member} is not a member of image {id}")]
    MemberNotFound { id: ImageId, member: String },
    /// The image's location names data its store does not have.
    #[error("the data of image {id} is missing from its store")]
    DataMissing { id: ImageId },

    /// The policy denied `rule`.
    #[error("policy denies {rule}")]
    PolicyDenied { rule: &'static str },
    /// The policy denied `rule` where Glance answers as if the thing asked
    /// for did not exist (showing a membership).
    #[error("policy denies {rule}; answered as missing")]
    HiddenByPolicy { rule: &'static str },
    /// A caller who may not create images for other projects asked for an
    /// image owned by `owner` (`None`: by no one).
    #[error("caller may not create images owned by {owner:?}")]
    ForeignOwner { owner: Option<String> },
    /// A caller other than an admin tried to set an image's owner.
    #[error("only admins change an image's owner")]
    OwnerChangeForbidden,
    /// The image is protected, so it cannot be deleted.
    #[error("image {id} is protected")]
    ImageProtected { id: ImageId },
    /// The image is not `shared`, so it has no members.
    #[error("image {id} is not shared ({op:?} members)")]
    NotShared { id: ImageId, op: MemberOp },
    /// The image's status does not allow the action.
    #[error("cannot {} image in status {status}", action.as_str())]
    ActionNotAllowed {
        action: ImageAction,
        status: ImageStatus,
    },
    /// Only admins download the data of a deactivated image.
    #[error("image {id} is deactivated")]
    ImageDeactivated { id: ImageId },

    /// An image with the requested id exists already.
    #[error("image {id} already exists")]
    ImageExists { id: ImageId },
    /// The project is a member of the image already.
    #[error("{member} is a member of image {id} already")]
    MemberExists { id: ImageId, member: String },
    /// The status machine does not allow the move.
    #[error("image status cannot move from {from} to {to}")]
    InvalidTransition { from: ImageStatus, to: ImageStatus },
    /// Other requests changed the image every time this one tried to apply
    /// its change, more times than it retries.
    #[error("image {id} kept changing concurrently")]
    ChangedConcurrently { id: ImageId },

    /// The image was deleted (or its upload reset) while its data was
    /// being uploaded.
    #[error("image {id} went away during its upload")]
    DeletedDuringUpload { id: ImageId },
    /// Another process took the upload over (its lease had expired).
    #[error("the upload was taken over by another process")]
    UploadTakenOver,
    /// Only a `pending_delete` image can be restored.
    #[error("image {id} is {status}, not pending_delete")]
    NotPendingDelete { id: ImageId, status: ImageStatus },
    /// The scrub of a pending delete has begun, so its data may be partly
    /// gone: it can no longer be restored.
    #[error("the scrub of image {id} has begun")]
    ScrubStarted { id: ImageId },

    /// A request would give an image more tags or additional properties
    /// than `image_tag_quota` or `image_property_quota` allow. `image` is
    /// set when the tags API was adding one tag to it.
    #[error("{kind:?} quota of {maximum} exceeded: {attempted} attempted")]
    QuotaExceeded {
        kind: QuotaKind,
        attempted: u64,
        maximum: u64,
        image: Option<ImageId>,
    },
    /// One more member would pass `image_member_quota`.
    #[error("member quota of {maximum} exceeded for image {id}: {attempted} attempted")]
    MemberQuotaExceeded {
        id: ImageId,
        attempted: u64,
        maximum: u64,
    },
    /// A request would make an image's properties and tags larger than
    /// the bound on one image's metadata.
    #[error("image metadata of {size} bytes exceeds {maximum} bytes")]
    MetadataTooLarge { size: usize, maximum: usize },
    /// The data is larger than `image_size_cap` (`limit`): `announced` when
    /// the request said so beforehand, `None` when the stream passed it.
    #[error("image data over the size cap of {limit} bytes (announced {announced:?})")]
    ImageTooLarge { announced: Option<u64>, limit: u64 },
    /// The data would not fit the project's storage quota
    /// (`user_storage_quota`): `size` bytes (`None` when not known), with
    /// `remaining` bytes left (negative when already over).
    #[error("storage quota exceeded: {remaining} bytes remaining")]
    StorageQuotaExceeded { size: Option<u64>, remaining: i64 },
    /// Locations added by a request would take the project past
    /// `user_storage_quota`: `size` bytes added, `remaining` left before.
    #[error("storage quota exceeded by new locations: {size} bytes, {remaining} remaining")]
    LocationsOverStorageQuota { size: u64, remaining: i64 },
    /// A count limit (`image_count_uploading`) was reached; the use case
    /// turns it into [`CoreError::LimitExceeded`] with the limit's name.
    #[error("count limit reached: {usage} counted")]
    CountLimitReached { usage: u64 },
    /// A Keystone limit of the caller's project (oslo.limit's
    /// `ProjectOverLimit`), in the resource's units.
    #[error("project {project:?} over its {} limit of {limit}: usage {usage}, delta {delta}", resource.as_str())]
    LimitExceeded {
        project: Option<String>,
        resource: crate::limits::Resource,
        limit: u64,
        usage: u64,
        delta: u64,
    },
    /// The store has no room left.
    #[error("the store is full")]
    StorageFull,

    /// The request's data was not as long as it announced.
    #[error("image data is {actual} bytes, {expected} announced")]
    SizeMismatch { expected: u64, actual: u64 },
    /// Reading the request's data failed (the client's stream broke).
    #[error("cannot read the image data: {0}")]
    DataUnreadable(String),
    /// The data is not in the disk format the image claims.
    #[error("disk format {claimed} claimed, {detected} found")]
    FormatMismatch {
        claimed: String,
        detected: DetectedFormat,
    },
    /// The data is unsafe to hand to a hypervisor.
    #[error("unsafe image: {0}")]
    UnsafeImage(SafetyError),
    /// The requested range is outside the image data of `size` bytes.
    #[error("range outside data of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// The database refused a value of the request.
    #[error("value refused by the database: {0:?}")]
    RefusedValue(RefusedValue),

    /// An import request that Glance refuses with 400, in its words.
    #[error("bad import request: {0}")]
    ImportRequest(String),
    /// An import the image's state does not allow (409), in Glance's words.
    #[error("import conflict: {0}")]
    ImportConflict(String),
    /// An import method (or the staging it needs) is not enabled here.
    #[error("import method {method} is not available")]
    MethodUnavailable { method: String },
    /// An upload names a store (`X-Image-Meta-Store`) this node does not have.
    #[error("unknown store {store} for upload")]
    UnknownUploadStore { store: String },
    /// A download prefers (`?prefer=`) a store this node does not have.
    #[error("store {store} is not configured")]
    StoreNotConfigured { store: String },
    /// A download names stores, but stores have no names here (single store).
    #[error("store selection without multi-store")]
    StoreSelectionUnavailable,
    /// The multi-store API was called on a single-store deployment.
    #[error("multi-store is not enabled")]
    MultiStoreDisabled,
    /// `DELETE /v2/stores/{store}/…` names a store this node does not have.
    #[error("store {store} is not available on this node")]
    StoreNotOnNode { store: String },
    /// The store only reads (http).
    #[error("the store is read-only")]
    StoreReadOnly,
    /// The store keeps the data because something depends on it (an RBD
    /// snapshot with clones). `one_store`: a delete of one store's copy,
    /// not of the image.
    #[error("data of image {id} is in use in its store")]
    DataInUse { id: ImageId, one_store: bool },
    /// The image has no location in the store named.
    #[error("image {id} is not stored in store {store}")]
    NotInStore { id: ImageId, store: String },
    /// Removing the copy would leave an active image without data.
    #[error("the last location of an image cannot be removed")]
    LastLocation,
    /// One store's copy can be removed only from an active image.
    #[error("image data can be removed from a store only while the image is active")]
    StoreDeleteNotActive,

    /// The image cache is off on this node (`image_cache_dir` is not set).
    #[error("the image cache is not enabled")]
    CacheDisabled,
    /// The policy denied a rule of the cache API, which Glance answers
    /// with a bare 403.
    #[error("policy denies {rule} (cache API)")]
    CacheDenied { rule: &'static str },
    /// Only active images can be queued for caching.
    #[error("image {id} is not active; not queued for caching")]
    NotCacheable { id: ImageId },
    /// `x-image-cache-clear-target` is neither `cache`, `queue` nor empty.
    #[error("invalid x-image-cache-clear-target")]
    InvalidCacheTarget,

    /// A service glint depends on (database, store) is unavailable; the
    /// text says which and why, for the log.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// No task with this id that has not expired.
    #[error("task {id} not found")]
    TaskNotFound { id: String },
    /// Tasks are not deleted by request; they expire.
    #[error("tasks cannot be deleted")]
    TaskDeleteNotAllowed,

    /// Something of the metadefs catalogue that the caller may see is
    /// missing.
    #[error("metadef missing: {0:?}")]
    MetadefNotFound(MetadefMissing),
    /// A list's `marker` names a namespace the caller may not see.
    #[error("metadef namespace {namespace} is not visible to the caller")]
    MetadefNotVisible { namespace: String },
    /// The name is taken.
    #[error("metadef exists: {0:?}")]
    MetadefExists(MetadefClash),
    /// The namespace is protected, so neither it nor what it holds may be
    /// deleted.
    #[error("metadef protected: {0:?}")]
    MetadefProtected(MetadefProtection),
    /// A fault of glint or of what it depends on; the text is for the log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// No image `id` that the caller may see, for the request `by`.
    pub fn image_not_found(id: ImageId, by: Lookup) -> CoreError {
        CoreError::ImageNotFound {
            id: id.to_string(),
            by,
        }
    }
}

impl From<ModelError> for CoreError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::InvalidTransition { from, to } => CoreError::InvalidTransition { from, to },
            ModelError::QuotaExceeded {
                kind,
                attempted,
                maximum,
            } => CoreError::QuotaExceeded {
                kind,
                attempted,
                maximum,
                image: None,
            },
            ModelError::MetadataTooLarge { size, maximum } => {
                CoreError::MetadataTooLarge { size, maximum }
            }
            other => CoreError::Model(other),
        }
    }
}

impl From<DbError> for CoreError {
    fn from(e: DbError) -> Self {
        use glint_db::InvalidValue;
        match e {
            DbError::Unavailable(m) => CoreError::Unavailable(format!("database unavailable: {m}")),
            DbError::InvalidValue(InvalidValue::Character) => {
                CoreError::RefusedValue(RefusedValue::Character)
            }
            DbError::InvalidValue(InvalidValue::TooLong) => {
                CoreError::RefusedValue(RefusedValue::TooLong)
            }
            DbError::LeaseLost => CoreError::UploadTakenOver,
            DbError::StorageQuotaExceeded { remaining } => CoreError::StorageQuotaExceeded {
                size: None,
                remaining,
            },
            DbError::CountLimitExceeded { usage } => CoreError::CountLimitReached { usage },
            other => CoreError::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::SizeLimitExceeded { limit } => CoreError::ImageTooLarge {
                announced: None,
                limit,
            },
            StoreError::SizeMismatch { expected, actual } => {
                CoreError::SizeMismatch { expected, actual }
            }
            StoreError::Source(m) => CoreError::DataUnreadable(m),
            StoreError::StorageFull => CoreError::StorageFull,
            StoreError::Unavailable(m) => CoreError::Unavailable(format!("store unavailable: {m}")),
            StoreError::ReadOnly(_) => CoreError::StoreReadOnly,
            StoreError::Refused(m) => CoreError::Unavailable(format!("store refused: {m}")),
            other => CoreError::Internal(other.to_string()),
        }
    }
}

impl From<FormatError> for CoreError {
    fn from(e: FormatError) -> Self {
        match e {
            FormatError::Mismatch { claimed, detected } => {
                CoreError::FormatMismatch { claimed, detected }
            }
            FormatError::Unsafe(why) => CoreError::UnsafeImage(why),
        }
    }
}
