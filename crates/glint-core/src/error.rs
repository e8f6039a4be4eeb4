//! The one error type of the use-case layer.

use glint_db::DbError;
use glint_model::limits::QuotaKind;
use glint_model::{ImageId, ModelError};
use glint_store::StoreError;

/// What went wrong, in terms the API layer maps to a status code. Messages
/// are meant for the client; internal details stay in `Internal` and are
/// logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    TooLarge(String),
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
    /// A request would make an image's properties and tags larger than
    /// the bound on one image's metadata.
    #[error("image metadata of {size} bytes exceeds {maximum} bytes")]
    MetadataTooLarge { size: usize, maximum: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The requested range is outside the image data of `size` bytes.
    #[error("Requested range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// The data would not fit the project's storage quota
    /// (`user_storage_quota`): `size` bytes (`None` when not known), with
    /// `remaining` bytes left (negative when already over).
    #[error("storage quota exceeded: {remaining} bytes remaining")]
    StorageQuotaExceeded { size: Option<u64>, remaining: i64 },
    /// Other requests changed the image every time this one tried to apply
    /// its change, more times than it retries.
    #[error("image {id} kept changing concurrently")]
    ChangedConcurrently { id: ImageId },
    /// The request holds a value the database cannot store (a character,
    /// a length); says which, never the value.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ModelError> for CoreError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Invalid(m) => CoreError::BadRequest(m),
            ModelError::Forbidden(m) => CoreError::Forbidden(m),
            ModelError::Conflict(m) => CoreError::Conflict(m),
            e @ ModelError::InvalidTransition { .. } => CoreError::Conflict(e.to_string()),
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
        }
    }
}

impl From<DbError> for CoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(m) => CoreError::Unavailable(format!("database unavailable: {m}")),
            DbError::InvalidValue(why) => CoreError::InvalidInput(why.to_string()),
            DbError::LeaseLost => {
                CoreError::Gone("The upload was taken over by another process.".into())
            }
            DbError::StorageQuotaExceeded { remaining } => CoreError::StorageQuotaExceeded {
                size: None,
                remaining,
            },
            other => CoreError::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => CoreError::NotFound(format!("Image data not found: {m}")),
            StoreError::SizeLimitExceeded { .. } => CoreError::TooLarge(
                "Image exceeds the storage quota: The provided image is too large.".into(),
            ),
            StoreError::SizeMismatch { expected, actual } => CoreError::BadRequest(format!(
                "Size of the uploaded data ({actual} bytes) does not match the announced size ({expected} bytes)."
            )),
            StoreError::Source(m) => CoreError::BadRequest(format!(
                "Error reading the image data from the request: {m}"
            )),
            StoreError::StorageFull => CoreError::TooLarge("Image storage media is full.".into()),
            StoreError::Unavailable(m) => CoreError::Unavailable(m),
            other => CoreError::Internal(other.to_string()),
        }
    }
}
