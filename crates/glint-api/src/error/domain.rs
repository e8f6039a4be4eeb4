//! The status code and Glance's words for each error of the use cases
//! ([`CoreError`]).

use glint_core::{CoreError, Lookup, MemberOp, RefusedValue};
use glint_model::limits::{QuotaKind, clip};
use glint_model::{ImageStatus, ModelError};
use http::StatusCode;

use super::NOT_FOUND_EXPLANATION;

pub(super) fn status(e: &CoreError) -> StatusCode {
    use CoreError::*;
    match e {
        Model(model) => model_status(model),
        ImageNotFound { .. }
        | TagNotFound { .. }
        | MemberNotFound { .. }
        | DataMissing { .. }
        | TaskNotFound { .. }
        | MetadefNotFound(_)
        | HiddenByPolicy { .. } => StatusCode::NOT_FOUND,
        MetadefNotVisible { .. } | MetadefProtected(_) => StatusCode::FORBIDDEN,
        MetadefExists(_) => StatusCode::CONFLICT,
        NotShared {
            op: MemberOp::Show, ..
        } => StatusCode::NOT_FOUND,
        MarkerNotFound { .. } | SizeMismatch { .. } | DataUnreadable(_) | RefusedValue(_) => {
            StatusCode::BAD_REQUEST
        }
        MarkerNotVisible { .. }
        | PolicyDenied { .. }
        | ForeignOwner { .. }
        | OwnerChangeForbidden
        | ImageProtected { .. }
        | NotShared { .. }
        | ActionNotAllowed { .. }
        | ImageDeactivated { .. } => StatusCode::FORBIDDEN,
        InvalidTransition { to, .. } => transition_status(*to),
        ImageExists { .. } | MemberExists { .. } | ChangedConcurrently { .. } => {
            StatusCode::CONFLICT
        }
        // Operator commands (`glint scrub --restore`); no request meets them.
        NotPendingDelete { .. } | ScrubStarted { .. } => StatusCode::CONFLICT,
        DeletedDuringUpload { .. } | UploadTakenOver => StatusCode::GONE,
        QuotaExceeded { .. }
        | MemberQuotaExceeded { .. }
        | MetadataTooLarge { .. }
        | ImageTooLarge { .. }
        | StorageQuotaExceeded { .. }
        | LocationsOverStorageQuota { .. }
        | CountLimitReached { .. }
        | LimitExceeded { .. }
        | StorageFull => StatusCode::PAYLOAD_TOO_LARGE,
        // Glance's `InvalidImageData` on upload.
        FormatMismatch { .. } | UnsafeImage(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        UnknownUploadStore { .. } | StoreNotConfigured { .. } | StoreSelectionUnavailable => {
            StatusCode::BAD_REQUEST
        }
        ImportRequest(_) => StatusCode::BAD_REQUEST,
        ImportConflict(_) => StatusCode::CONFLICT,
        MultiStoreDisabled | NotInStore { .. } | CacheDisabled | MethodUnavailable { .. } => {
            StatusCode::NOT_FOUND
        }
        CacheDenied { .. } => StatusCode::FORBIDDEN,
        NotCacheable { .. } | InvalidCacheTarget => StatusCode::BAD_REQUEST,
        StoreNotOnNode { .. } | DataInUse { .. } | StoreDeleteNotActive => StatusCode::CONFLICT,
        LastLocation => StatusCode::FORBIDDEN,
        StoreReadOnly => StatusCode::GONE,
        TaskDeleteNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The kinds that core converts to its own variants are answered alike
/// should one arrive unconverted.
fn model_status(e: &ModelError) -> StatusCode {
    match e {
        ModelError::Invalid(_) => StatusCode::BAD_REQUEST,
        ModelError::Forbidden(_) => StatusCode::FORBIDDEN,
        ModelError::Conflict(_) => StatusCode::CONFLICT,
        ModelError::InvalidTransition { to, .. } => transition_status(*to),
        ModelError::QuotaExceeded { .. } | ModelError::MetadataTooLarge { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
    }
}

/// Glance's delete answers a refused move with 400, every other request
/// with 409.
fn transition_status(to: ImageStatus) -> StatusCode {
    match to {
        ImageStatus::Deleted | ImageStatus::PendingDelete => StatusCode::BAD_REQUEST,
        _ => StatusCode::CONFLICT,
    }
}

/// Glance's explanation of `e`. The errors that quote what a client sent
/// quote at most [`clip`] of it. The detail of internal and unavailable
/// errors is logged by the caller, never sent.
pub(super) fn explanation(e: &CoreError) -> String {
    use CoreError::*;
    match e {
        Model(model) => model_explanation(model),
        ImageNotFound { id, by } => image_not_found(id, *by),
        MarkerNotFound { marker } => format!("No image found with ID {}", clip(marker)),
        TaskNotFound { id } => format!("Task with the given id {} was not found", clip(id)),
        MetadefNotFound(m) => super::metadef::missing(m),
        MetadefNotVisible { namespace } => super::metadef::not_visible(namespace),
        MetadefExists(c) => super::metadef::clash(c),
        MetadefProtected(p) => super::metadef::protected(p),
        TaskDeleteNotAllowed => "This operation is currently not permitted on Glance Tasks. \
            They are auto deleted after reaching the time based on their expires_at property."
            .into(),
        MarkerNotVisible { id } => format!("Forbidding request, image {id} not visible"),
        TagNotFound { .. } => NOT_FOUND_EXPLANATION.into(),
        MemberNotFound { id, member } => format!(
            "{} not found in the member list of the image {id}.",
            clip(member)
        ),
        PolicyDenied { rule } | HiddenByPolicy { rule } => {
            format!("You are not authorized to complete {rule} action.")
        }
        ForeignOwner { owner } => format!(
            "You are not permitted to create images owned by '{}'",
            // Python's `None`.
            owner.as_deref().unwrap_or("None")
        ),
        OwnerChangeForbidden => "Owner can't be updated by non admin.".into(),
        ImageProtected { id } => format!("Image {id} is protected and cannot be deleted."),
        NotShared { id, op } => not_shared(*id, *op),
        ActionNotAllowed { action, status } => format!(
            "Not allowed to {} image in status '{status}'",
            action.as_str()
        ),
        ImageExists { id } => format!("Image with identifier {id} already exists!"),
        MemberExists { id, member } => format!("Member {member} is duplicated for image {id}"),
        InvalidTransition { from, to } => transition(*from, *to),
        ChangedConcurrently { id } => format!(
            "Image {id} was changed by other requests each time this request tried to \
             apply its change; retry."
        ),
        NotPendingDelete { status, .. } => format!(
            "cannot restore the image from {status} to active (wanted from_state=pending_delete)"
        ),
        ScrubStarted { id } => format!("The data of image {id} is being scrubbed."),
        Unavailable(_) => UNAVAILABLE_EXPLANATION.into(),
        Internal(_) => INTERNAL_EXPLANATION.into(),
        CacheDisabled => "Caching via API is not supported at this site.".into(),
        ImportRequest(m) | ImportConflict(m) => m.clone(),
        MethodUnavailable { method } => {
            format!("'{}' method is not available at this site.", clip(method))
        }
        // Glance's cache controller raises a bare `HTTPForbidden`.
        CacheDenied { .. } => "Access was denied to this resource.".into(),
        NotCacheable { .. } => "Only images with status active can be targeted for queueing".into(),
        InvalidCacheTarget => "If provided 'x-image-cache-clear-target' must be 'cache', 'queue' \
                               or empty string."
            .into(),
        UnknownUploadStore { .. }
        | StoreNotConfigured { .. }
        | StoreSelectionUnavailable
        | MultiStoreDisabled
        | StoreNotOnNode { .. }
        | StoreReadOnly
        | DataInUse { .. }
        | NotInStore { .. }
        | LastLocation
        | StoreDeleteNotActive => store_explanation(e),
        QuotaExceeded { .. }
        | MemberQuotaExceeded { .. }
        | MetadataTooLarge { .. }
        | StorageQuotaExceeded { .. }
        | LocationsOverStorageQuota { .. }
        | CountLimitReached { .. }
        | LimitExceeded { .. }
        | RefusedValue(_) => limit_explanation(e),
        DataMissing { .. }
        | ImageDeactivated { .. }
        | RangeNotSatisfiable { .. }
        | DeletedDuringUpload { .. }
        | UploadTakenOver
        | ImageTooLarge { .. }
        | StorageFull
        | SizeMismatch { .. }
        | DataUnreadable(_)
        | FormatMismatch { .. }
        | UnsafeImage(_) => data_explanation(e),
    }
}

/// The words for what is wrong with a request about stores.
fn store_explanation(e: &CoreError) -> String {
    use CoreError::*;
    const IN_USE: &str = "The image cannot be deleted because it is in use through the \
                          backend store outside of Glance.";
    match e {
        UnknownUploadStore { store } => format!("Store for identifier {} not found", clip(store)),
        StoreNotConfigured { store } => format!("Store '{}' is not configured.", clip(store)),
        StoreSelectionUnavailable => "Store selection for download is not available when \
                                      multiple backends are not enabled."
            .into(),
        MultiStoreDisabled => NOT_FOUND_EXPLANATION.into(),
        StoreNotOnNode { store } => format!(
            "The selected store {} is not available on this node.",
            clip(store)
        ),
        StoreReadOnly => "Error in store configuration. Adding images to store is disabled.".into(),
        DataInUse {
            id,
            one_store: false,
        } => format!("Image {id} could not be deleted because it is in use: {IN_USE}"),
        DataInUse {
            id,
            one_store: true,
        } => format!("The data for Image {id} could not be deleted because it is in use: {IN_USE}"),
        NotInStore { id, store } => {
            format!("Image {id} is not stored in store {}.", clip(store))
        }
        LastLocation => "Cannot delete image data from the only store containing it. Consider \
                         deleting the image instead."
            .into(),
        StoreDeleteNotActive => "It's not allowed to remove image data from store if image \
                                 status is not 'active'"
            .into(),
        // Not passed here: worded by `explanation`.
        _ => INTERNAL_EXPLANATION.into(),
    }
}

/// The text of Glance's `LimitExceeded`, before the body it quotes.
const LIMIT_EXCEEDED: &str = "The request returned a 413 Request Entity Too Large. This \
                              generally means that rate limiting or a quota threshold was \
                              breached.\n\nThe response body:\n";

pub(super) const RANGE_EXPLANATION: &str = "The Range requested is not available.";

pub(super) const UNAVAILABLE_EXPLANATION: &str =
    "The server is currently unavailable. Please try again at a later time.";

pub(super) const INTERNAL_EXPLANATION: &str =
    "The server has either erred or is incapable of performing the requested operation.";

fn model_explanation(e: &ModelError) -> String {
    match e {
        ModelError::Invalid(m) | ModelError::Forbidden(m) | ModelError::Conflict(m) => m.clone(),
        ModelError::InvalidTransition { from, to } => transition(*from, *to),
        ModelError::QuotaExceeded {
            kind,
            attempted,
            maximum,
        } => quota_exceeded(*kind, *attempted, *maximum, None),
        ModelError::MetadataTooLarge { size, maximum } => metadata_too_large(*size, *maximum),
    }
}

fn transition(from: ImageStatus, to: ImageStatus) -> String {
    format!("Image status transition from {from} to {to} is not allowed")
}

/// glint's own bound; Glance has none.
fn metadata_too_large(size: usize, maximum: usize) -> String {
    format!(
        "The image's properties and tags would take {size} bytes; the limit is {maximum} bytes."
    )
}

fn image_not_found(id: &str, by: Lookup) -> String {
    let id = clip(id);
    match by {
        Lookup::Image => format!("No image found with ID {id}"),
        Lookup::Delete => format!("Failed to find image {id} to delete"),
        Lookup::Members | Lookup::Cache => format!("Image {id} not found."),
        Lookup::MemberPolicy => NOT_FOUND_EXPLANATION.into(),
    }
}

fn not_shared(id: glint_model::ImageId, op: MemberOp) -> String {
    const ONLY_SHARED: &str = "Only shared images have members.";
    match op {
        MemberOp::List => format!("Not allowed to list members for image {id}: {ONLY_SHARED}"),
        MemberOp::Show => ONLY_SHARED.into(),
        MemberOp::Add => format!("Not allowed to create members for image {id}."),
        MemberOp::Update => format!("Not allowed to update members for image {id}."),
        MemberOp::Delete => format!("Not allowed to delete members for image {id}."),
    }
}

fn refused_value(value: RefusedValue) -> &'static str {
    match value {
        RefusedValue::Character => "a character that cannot be stored",
        RefusedValue::TooLong => "a value longer than its field allows",
    }
}

/// The words for what is wrong with the bounds a request meets: quotas,
/// sizes, what the database can store.
fn limit_explanation(e: &CoreError) -> String {
    use CoreError::*;
    match e {
        QuotaExceeded {
            kind,
            attempted,
            maximum,
            image,
        } => quota_exceeded(*kind, *attempted, *maximum, *image),
        MemberQuotaExceeded {
            id,
            attempted,
            maximum,
        } => format!(
            "Image member limit exceeded for image {id}: The limit has been exceeded on the \
             number of allowed image members for this image. Attempted: {attempted}, \
             Maximum: {maximum}:"
        ),
        MetadataTooLarge { size, maximum } => metadata_too_large(*size, *maximum),
        // Glance's StorageQuotaFull, as its upload handler words it; Python
        // prints an unknown size as None.
        StorageQuotaExceeded { size, remaining } => format!(
            "Image exceeds the storage quota: The size of the data {} will exceed the limit. \
             {remaining} bytes remaining.",
            size.map_or_else(|| "None".to_owned(), |s| s.to_string())
        ),
        // Glance's update handler words StorageQuotaFull so.
        LocationsOverStorageQuota { size, remaining } => format!(
            "Denying attempt to upload image because it exceeds the quota: The size of the \
             data {size} will exceed the limit. {remaining} bytes remaining."
        ),
        // Glance's LimitExceeded around oslo.limit's ProjectOverLimit.
        LimitExceeded {
            project,
            resource,
            limit,
            usage,
            delta,
        } => format!(
            "{LIMIT_EXCEEDED}Project {} is over a limit for [Resource {} is over limit of \
             {limit} due to current usage {usage} and delta {delta}]",
            project.as_deref().unwrap_or("None"),
            resource.as_str()
        ),
        // Converted by the use cases; worded alike should one arrive as is.
        CountLimitReached { .. } => LIMIT_EXCEEDED.trim_end().into(),
        RefusedValue(value) => format!(
            "Invalid input: the request contains {}.",
            refused_value(*value)
        ),
        // Not passed here: worded by `explanation`.
        _ => INTERNAL_EXPLANATION.into(),
    }
}

/// The words for what is wrong with an image's data: a download of it, or
/// an upload.
fn data_explanation(e: &CoreError) -> String {
    use CoreError::*;
    match e {
        DataMissing { id } => format!("The data of image {id} is missing from its store."),
        ImageDeactivated { .. } => {
            "The requested image has been deactivated. Image data download is forbidden.".into()
        }
        RangeNotSatisfiable { .. } => RANGE_EXPLANATION.into(),
        DeletedDuringUpload { id } => format!(
            "Image {id} could not be found after upload. The image may have been deleted \
             during the upload."
        ),
        UploadTakenOver => "The upload was taken over by another process.".into(),
        // Glance's upload handler around ImageSizeLimitExceeded, whether
        // the size was announced (glint refuses before reading) or not.
        ImageTooLarge { .. } => {
            "The incoming image is too large: The provided image is too large.".into()
        }
        StorageFull => "Image storage media is full.".into(),
        SizeMismatch { expected, actual } => format!(
            "Size of the uploaded data ({actual} bytes) does not match the announced size \
             ({expected} bytes)."
        ),
        DataUnreadable(why) => format!("Error reading the image data from the request: {why}"),
        FormatMismatch { claimed, detected } => {
            format!("Image disk_format {claimed} does not match stream data {detected}")
        }
        UnsafeImage(why) => format!("Image fails safety check: {why}"),
        // Not passed here: worded by `explanation`.
        _ => INTERNAL_EXPLANATION.into(),
    }
}

/// Glance's words for a quota exceeded; the tags API prefixes them with
/// the image and ends them with a colon.
fn quota_exceeded(
    kind: QuotaKind,
    attempted: u64,
    maximum: u64,
    image: Option<glint_model::ImageId>,
) -> String {
    let what = match kind {
        QuotaKind::Tags => "tags",
        QuotaKind::Properties => "properties",
        QuotaKind::Locations => "locations",
    };
    let reason = format!(
        "The limit has been exceeded on the number of allowed image {what}. Attempted: \
         {attempted}, Maximum: {maximum}"
    );
    match image {
        Some(id) => format!("Image tag limit exceeded for image {id}: {reason}:"),
        None => reason,
    }
}

#[cfg(test)]
mod tests;
