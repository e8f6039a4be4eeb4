//! Every core error's status and words.

use glint_core::ImageAction;
use glint_model::ImageId;

use super::*;

const ID: &str = "43fdc94a-f59f-4c48-aec1-a3931591da4e";

fn id() -> ImageId {
    ImageId::parse(ID).unwrap()
}

fn answer(e: CoreError) -> (u16, String) {
    (status(&e).as_u16(), explanation(&e))
}

#[test]
fn missing_things_are_404_in_the_words_of_each_request() {
    let missing = |by| CoreError::image_not_found(id(), by);
    let cases = [
        (
            missing(Lookup::Image),
            format!("No image found with ID {ID}"),
        ),
        (
            missing(Lookup::Delete),
            format!("Failed to find image {ID} to delete"),
        ),
        (missing(Lookup::Members), format!("Image {ID} not found.")),
        (missing(Lookup::MemberPolicy), NOT_FOUND_EXPLANATION.into()),
        (
            CoreError::TagNotFound {
                id: id(),
                tag: "t".into(),
            },
            NOT_FOUND_EXPLANATION.into(),
        ),
        (
            CoreError::MemberNotFound {
                id: id(),
                member: "p2".into(),
            },
            format!("p2 not found in the member list of the image {ID}."),
        ),
        (
            CoreError::HiddenByPolicy { rule: "get_member" },
            "You are not authorized to complete get_member action.".into(),
        ),
        (
            CoreError::NotShared {
                id: id(),
                op: MemberOp::Show,
            },
            "Only shared images have members.".into(),
        ),
        (
            CoreError::DataMissing { id: id() },
            format!("The data of image {ID} is missing from its store."),
        ),
    ];
    for (error, words) in cases {
        assert_eq!(answer(error), (404, words));
    }
}

#[test]
fn refusals_are_403_and_name_what_was_refused() {
    let not_shared = |op| CoreError::NotShared { id: id(), op };
    let cases = [
        (
            CoreError::PolicyDenied { rule: "add_image" },
            "You are not authorized to complete add_image action.".to_owned(),
        ),
        (
            CoreError::ForeignOwner { owner: None },
            "You are not permitted to create images owned by 'None'".into(),
        ),
        (
            CoreError::ForeignOwner {
                owner: Some("p2".into()),
            },
            "You are not permitted to create images owned by 'p2'".into(),
        ),
        (
            CoreError::OwnerChangeForbidden,
            "Owner can't be updated by non admin.".into(),
        ),
        (
            CoreError::ImageProtected { id: id() },
            format!("Image {ID} is protected and cannot be deleted."),
        ),
        (
            not_shared(MemberOp::List),
            format!("Not allowed to list members for image {ID}: Only shared images have members."),
        ),
        (
            not_shared(MemberOp::Add),
            format!("Not allowed to create members for image {ID}."),
        ),
        (
            not_shared(MemberOp::Update),
            format!("Not allowed to update members for image {ID}."),
        ),
        (
            not_shared(MemberOp::Delete),
            format!("Not allowed to delete members for image {ID}."),
        ),
        (
            CoreError::ActionNotAllowed {
                action: ImageAction::Reactivate,
                status: ImageStatus::Queued,
            },
            "Not allowed to reactivate image in status 'queued'".into(),
        ),
        (
            CoreError::MarkerNotVisible { id: id() },
            format!("Forbidding request, image {ID} not visible"),
        ),
    ];
    for (error, words) in cases {
        assert_eq!(answer(error), (403, words));
    }
}

#[test]
fn a_refused_status_move_is_400_for_a_delete_and_409_otherwise() {
    let moving = |from, to| CoreError::InvalidTransition { from, to };
    assert_eq!(
        answer(moving(ImageStatus::Killed, ImageStatus::PendingDelete)),
        (
            400,
            "Image status transition from killed to pending_delete is not allowed".into()
        )
    );
    assert_eq!(
        answer(moving(ImageStatus::Active, ImageStatus::Saving)),
        (
            409,
            "Image status transition from active to saving is not allowed".into()
        )
    );
    let from_model = CoreError::from(ModelError::InvalidTransition {
        from: ImageStatus::Active,
        to: ImageStatus::Saving,
    });
    assert_eq!(answer(from_model).0, 409);
}

#[test]
fn model_errors_keep_their_words_and_answer_by_kind() {
    let cases = [
        (ModelError::invalid("bad"), 400),
        (ModelError::forbidden("no"), 403),
        (ModelError::conflict("clash"), 409),
    ];
    for (error, code) in cases {
        let words = error.to_string();
        assert_eq!(answer(CoreError::Model(error)), (code, words));
    }
    // Converted or not, a quota is answered alike.
    let quota = ModelError::QuotaExceeded {
        kind: QuotaKind::Tags,
        attempted: 3,
        maximum: 2,
    };
    let words = "The limit has been exceeded on the number of allowed image tags. \
                 Attempted: 3, Maximum: 2";
    assert_eq!(answer(CoreError::from(quota.clone())), (413, words.into()));
    assert_eq!(answer(CoreError::Model(quota)), (413, words.into()));
}

#[test]
fn limits_are_413_with_the_numbers_that_were_passed() {
    let cases = [
        (
            CoreError::QuotaExceeded {
                kind: QuotaKind::Tags,
                attempted: 3,
                maximum: 2,
                image: Some(id()),
            },
            format!(
                "Image tag limit exceeded for image {ID}: The limit has been exceeded on the \
                 number of allowed image tags. Attempted: 3, Maximum: 2:"
            ),
        ),
        (
            CoreError::MemberQuotaExceeded {
                id: id(),
                attempted: 4,
                maximum: 3,
            },
            format!(
                "Image member limit exceeded for image {ID}: The limit has been exceeded on \
                 the number of allowed image members for this image. Attempted: 4, Maximum: 3:"
            ),
        ),
        (
            CoreError::ImageTooLarge {
                announced: Some(10),
                limit: 5,
            },
            "The incoming image is too large: The provided image is too large.".into(),
        ),
        (
            CoreError::ImageTooLarge {
                announced: None,
                limit: 5,
            },
            "The incoming image is too large: The provided image is too large.".into(),
        ),
        (
            CoreError::LocationsOverStorageQuota {
                size: 10,
                remaining: 4,
            },
            "Denying attempt to upload image because it exceeds the quota: The size of the \
             data 10 will exceed the limit. 4 bytes remaining."
                .into(),
        ),
        (
            CoreError::LimitExceeded {
                project: Some("p1".into()),
                resource: glint_core::Resource::ImageCountTotal,
                limit: 2,
                usage: 2,
                delta: 1,
            },
            "The request returned a 413 Request Entity Too Large. This generally means that \
             rate limiting or a quota threshold was breached.\n\nThe response body:\nProject \
             p1 is over a limit for [Resource image_count_total is over limit of 2 due to \
             current usage 2 and delta 1]"
                .into(),
        ),
        (
            CoreError::StorageQuotaExceeded {
                size: None,
                remaining: -1,
            },
            "Image exceeds the storage quota: The size of the data None will exceed the \
             limit. -1 bytes remaining."
                .into(),
        ),
        (
            CoreError::StorageFull,
            "Image storage media is full.".into(),
        ),
    ];
    for (error, words) in cases {
        assert_eq!(answer(error), (413, words));
    }
}

#[test]
fn every_other_error_has_its_own_status_and_words() {
    let cases = [
        (
            CoreError::MarkerNotFound { marker: "m".into() },
            400,
            "No image found with ID m".to_owned(),
        ),
        (
            CoreError::SizeMismatch {
                expected: 2,
                actual: 1,
            },
            400,
            "Size of the uploaded data (1 bytes) does not match the announced size (2 bytes)."
                .into(),
        ),
        (
            CoreError::DataUnreadable("reset".into()),
            400,
            "Error reading the image data from the request: reset".into(),
        ),
        (
            CoreError::RefusedValue(RefusedValue::TooLong),
            400,
            "Invalid input: the request contains a value longer than its field allows.".into(),
        ),
        (
            CoreError::ImageDeactivated { id: id() },
            403,
            "The requested image has been deactivated. Image data download is forbidden.".into(),
        ),
        (
            CoreError::ImageExists { id: id() },
            409,
            format!("Image with identifier {ID} already exists!"),
        ),
        (
            CoreError::MemberExists {
                id: id(),
                member: "p2".into(),
            },
            409,
            format!("Member p2 is duplicated for image {ID}"),
        ),
        (
            CoreError::DeletedDuringUpload { id: id() },
            410,
            format!(
                "Image {ID} could not be found after upload. The image may have been deleted \
                 during the upload."
            ),
        ),
        (
            CoreError::UploadTakenOver,
            410,
            "The upload was taken over by another process.".into(),
        ),
        (
            CoreError::RangeNotSatisfiable { size: 3 },
            416,
            RANGE_EXPLANATION.into(),
        ),
        (
            CoreError::Unavailable("db down".into()),
            503,
            UNAVAILABLE_EXPLANATION.into(),
        ),
        (
            CoreError::Internal("bug".into()),
            500,
            INTERNAL_EXPLANATION.into(),
        ),
    ];
    for (error, code, words) in cases {
        assert_eq!(answer(error), (code, words));
    }
}

#[test]
fn what_a_client_sent_is_quoted_cut() {
    let long = "x".repeat(1000);
    let cut = format!("{}...(truncated)", "x".repeat(200));
    let missing = CoreError::ImageNotFound {
        id: long.clone(),
        by: Lookup::Image,
    };
    assert_eq!(
        explanation(&missing),
        format!("No image found with ID {cut}")
    );
    let marker = CoreError::MarkerNotFound { marker: long };
    assert_eq!(
        explanation(&marker),
        format!("No image found with ID {cut}")
    );
}
