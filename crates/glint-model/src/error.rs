//! The one error type of the domain layer.

use crate::limits::QuotaKind;
use crate::status::ImageStatus;

/// A rule of the domain was broken. Each variant says which HTTP family it
/// belongs to; the API layer does the final mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Malformed or out-of-range input (400).
    #[error("{0}")]
    Invalid(String),
    /// The input is well formed but touches something the caller may never
    /// change, such as a read-only or reserved attribute (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state of the resource (409).
    #[error("{0}")]
    Conflict(String),
    /// The image status machine does not allow this move.
    #[error("Image status transition from {from} to {to} is not allowed")]
    InvalidTransition { from: ImageStatus, to: ImageStatus },
    /// More tags or additional properties than the quota allows (413).
    #[error("{kind:?} quota exceeded: attempted {attempted}, maximum {maximum}")]
    QuotaExceeded {
        kind: QuotaKind,
        attempted: u64,
        maximum: u64,
    },
    /// The image's properties and tags together would exceed
    /// [`crate::limits::MAX_IMAGE_METADATA_BYTES`] (413).
    #[error("image metadata of {size} bytes exceeds {maximum} bytes")]
    MetadataTooLarge { size: usize, maximum: usize },
}

impl ModelError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }

    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }
}
