//! The image members API: who may share an image, accept it, see and
//! remove memberships, and the answers Glance gives when they may not.

use crate::common;

use common::{Caller, TestApp, expect_error, expect_json, expect_status, id_of, on_every_backend};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// An image of `owner` (a `member,reader` of that project) with `visibility`.
async fn image_of(app: &TestApp, owner: &str, visibility: &str) -> String {
    let body = json!({"name": format!("{owner}-{visibility}"), "visibility": visibility});
    id_of(&app.member_of(owner).create_image(body).await)
}

async fn add(caller: &Caller<'_>, id: &str, member: &str) -> Response {
    caller
        .post(&format!("/v2/images/{id}/members"))
        .json(&json!({ "member": member }))
        .send()
        .await
        .unwrap()
}

/// Adds `member` as `caller`; panics unless 200 (Glance's code, not 201).
async fn add_ok(caller: &Caller<'_>, id: &str, member: &str) -> Value {
    expect_json(add(caller, id, member).await, StatusCode::OK).await
}

async fn set_status(caller: &Caller<'_>, id: &str, member: &str, body: Value) -> Response {
    caller
        .put(&format!("/v2/images/{id}/members/{member}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn show(caller: &Caller<'_>, id: &str, member: &str) -> Response {
    caller
        .get(&format!("/v2/images/{id}/members/{member}"))
        .send()
        .await
        .unwrap()
}

async fn list(caller: &Caller<'_>, id: &str) -> Response {
    caller
        .get(&format!("/v2/images/{id}/members"))
        .send()
        .await
        .unwrap()
}

/// The member ids of a `GET …/members` answered 200.
async fn member_ids(caller: &Caller<'_>, id: &str) -> Vec<String> {
    let body = expect_json(list(caller, id).await, StatusCode::OK).await;
    body["members"]
        .as_array()
        .expect("members array")
        .iter()
        .map(|m| m["member_id"].as_str().unwrap().to_string())
        .collect()
}

async fn remove(caller: &Caller<'_>, id: &str, member: &str) -> Response {
    caller
        .delete(&format!("/v2/images/{id}/members/{member}"))
        .send()
        .await
        .unwrap()
}

fn redacted(mut member: Value) -> Value {
    for key in ["image_id", "created_at", "updated_at"] {
        member[key] = json!(format!("[{key}]"));
    }
    member
}

#[tokio::test]
async fn owner_adds_a_member_who_starts_pending() {
    on_every_backend(|app| async move {
        let id = image_of(&app, "p1", "shared").await;
        let member = add_ok(&app.member_of("p1"), &id, "p2").await;
        assert_eq!(member["image_id"], id.as_str());
        assert_eq!(member["member_id"], "p2");
        assert_eq!(member["status"], "pending");
        assert_eq!(member["schema"], "/v2/schemas/member");
        assert_eq!(member["created_at"], member["updated_at"]);
        let shown = expect_json(show(&app.member_of("p1"), &id, "p2").await, StatusCode::OK).await;
        assert_eq!(shown, member);
        assert_eq!(member_ids(&app.member_of("p1"), &id).await, ["p2"]);
    })
    .await;
}

#[tokio::test]
async fn member_view_snapshot() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    let member = add_ok(&app.member_of("p1"), &id, "p2").await;
    insta::assert_json_snapshot!("member_view", redacted(member));
}

#[tokio::test]
async fn members_list_snapshot() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    add_ok(&app.member_of("p1"), &id, "p2").await;
    let mut body = expect_json(list(&app.member_of("p1"), &id).await, StatusCode::OK).await;
    body["members"][0] = redacted(body["members"][0].take());
    insta::assert_json_snapshot!("members_list", body);
}

#[tokio::test]
async fn member_accepts_and_rejects_the_image() {
    on_every_backend(|app| async move {
        let id = image_of(&app, "p1", "shared").await;
        let added = add_ok(&app.member_of("p1"), &id, "p2").await;
        let p2 = app.member_of("p2");
        for status in ["accepted", "rejected", "pending", "accepted"] {
            let resp = set_status(&p2, &id, "p2", json!({ "status": status })).await;
            let member = expect_json(resp, StatusCode::OK).await;
            assert_eq!(member["status"], status);
            assert_eq!(member["member_id"], "p2");
            assert_eq!(member["created_at"], added["created_at"]);
        }
        let shown = expect_json(show(&app.member_of("p1"), &id, "p2").await, StatusCode::OK).await;
        assert_eq!(shown["status"], "accepted");
    })
    .await;
}

#[tokio::test]
async fn owner_cannot_change_a_member_status() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    add_ok(&app.member_of("p1"), &id, "p2").await;
    let resp = set_status(
        &app.member_of("p1"),
        &id,
        "p2",
        json!({"status": "accepted"}),
    )
    .await;
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete modify_member action."
    );
    // Even a bad status: Glance decides who may change it first.
    let resp = set_status(&app.member_of("p1"), &id, "p2", json!({"status": "bogus"})).await;
    expect_error(resp, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn a_member_cannot_add_members_and_a_stranger_cannot_see_the_image() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    add_ok(&app.member_of("p1"), &id, "p2").await;
    let message = expect_error(
        add(&app.member_of("p2"), &id, "p3").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        message,
        "You are not authorized to complete add_member action."
    );
    let p3 = app.member_of("p3");
    let not_found = format!("Image {id} not found.");
    assert_eq!(
        expect_error(add(&p3, &id, "p3").await, StatusCode::NOT_FOUND).await,
        not_found
    );
    assert_eq!(
        expect_error(list(&p3, &id).await, StatusCode::NOT_FOUND).await,
        not_found
    );
    assert_eq!(
        expect_error(show(&p3, &id, "p2").await, StatusCode::NOT_FOUND).await,
        not_found
    );
}

#[tokio::test]
async fn member_quota_is_413_with_glance_message() {
    let app = TestApp::builder()
        .image_config(|c| c.image_member_quota = Some(2))
        .start()
        .await;
    let id = image_of(&app, "p1", "shared").await;
    let p1 = app.member_of("p1");
    add_ok(&p1, &id, "p2").await;
    add_ok(&p1, &id, "p3").await;
    let message = expect_error(add(&p1, &id, "p4").await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(
        message,
        format!(
            "Image member limit exceeded for image {id}: The limit has been exceeded on the \
             number of allowed image members for this image. Attempted: 3, Maximum: 2:"
        )
    );
    // A removed member frees its place.
    expect_status(remove(&p1, &id, "p3").await, StatusCode::NO_CONTENT).await;
    add_ok(&p1, &id, "p4").await;
    assert_eq!(member_ids(&p1, &id).await, ["p2", "p4"]);
}

#[tokio::test]
async fn zero_member_quota_refuses_every_member() {
    let app = TestApp::builder()
        .image_config(|c| c.image_member_quota = Some(0))
        .start()
        .await;
    let id = image_of(&app, "p1", "shared").await;
    let resp = add(&app.member_of("p1"), &id, "p2").await;
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn images_that_are_not_shared_have_no_members() {
    let app = TestApp::new().await;
    let p1 = app.member_of("p1");
    for visibility in ["private", "public", "community"] {
        let id = if visibility == "public" {
            let body = json!({"visibility": "public", "owner": "p1"});
            id_of(&app.create_image(body).await)
        } else {
            image_of(&app, "p1", visibility).await
        };
        let cases = [
            (
                add(&p1, &id, "p2").await,
                StatusCode::FORBIDDEN,
                format!("Not allowed to create members for image {id}."),
            ),
            (
                list(&p1, &id).await,
                StatusCode::FORBIDDEN,
                format!(
                    "Not allowed to list members for image {id}: Only shared images have members."
                ),
            ),
            (
                show(&p1, &id, "p2").await,
                StatusCode::NOT_FOUND,
                "Only shared images have members.".into(),
            ),
            (
                set_status(&p1, &id, "p2", json!({"status": "accepted"})).await,
                StatusCode::FORBIDDEN,
                format!("Not allowed to update members for image {id}."),
            ),
            (
                remove(&p1, &id, "p2").await,
                StatusCode::FORBIDDEN,
                format!("Not allowed to delete members for image {id}."),
            ),
        ];
        for (resp, status, expected) in cases {
            assert_eq!(expect_error(resp, status).await, expected, "{visibility}");
        }
    }
}

#[tokio::test]
async fn adding_a_member_twice_is_409() {
    on_every_backend(|app| async move {
        let id = image_of(&app, "p1", "shared").await;
        let p1 = app.member_of("p1");
        add_ok(&p1, &id, "p2").await;
        let message = expect_error(add(&p1, &id, "p2").await, StatusCode::CONFLICT).await;
        assert_eq!(message, format!("Member p2 is duplicated for image {id}"));
    })
    .await;
}

#[tokio::test]
async fn a_removed_member_added_again_starts_pending_again() {
    on_every_backend(|app| async move {
        let id = image_of(&app, "p1", "shared").await;
        let p1 = app.member_of("p1");
        add_ok(&p1, &id, "p2").await;
        let resp = set_status(
            &app.member_of("p2"),
            &id,
            "p2",
            json!({"status": "accepted"}),
        )
        .await;
        expect_status(resp, StatusCode::OK).await;
        expect_status(remove(&p1, &id, "p2").await, StatusCode::NO_CONTENT).await;
        assert!(member_ids(&p1, &id).await.is_empty());
        assert_eq!(add_ok(&p1, &id, "p2").await["status"], "pending");
    })
    .await;
}

#[tokio::test]
async fn invalid_status_is_400() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    add_ok(&app.member_of("p1"), &id, "p2").await;
    let p2 = app.member_of("p2");
    for status in [
        json!("invalid-status"),
        json!("Accepted"),
        json!(1),
        json!(null),
    ] {
        let resp = set_status(&p2, &id, "p2", json!({ "status": status })).await;
        assert_eq!(
            expect_error(resp, StatusCode::BAD_REQUEST).await,
            r#"Incorrect request: Status must be "pending", "accepted" or "rejected"."#
        );
    }
    let resp = set_status(&p2, &id, "p2", json!({"state": "accepted"})).await;
    assert_eq!(
        expect_error(resp, StatusCode::BAD_REQUEST).await,
        "Status not specified"
    );
    let resp = set_status(&p2, &id, "p2", json!(["accepted"])).await;
    assert_eq!(
        expect_error(resp, StatusCode::BAD_REQUEST).await,
        r#"Expected a status in the form: {"status": "status"}"#
    );
}

#[tokio::test]
async fn malformed_add_bodies_are_400() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    let p1 = app.member_of("p1");
    let post = |body: &'static str| {
        p1.post(&format!("/v2/images/{id}/members"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        ("", "Body expected in request."),
        ("{not json", "Malformed JSON in request body."),
        (r#"{"members": "p2"}"#, "Member to be added not specified"),
        (r#"{"member": ""}"#, "Member can't be empty"),
        (
            r#"["p2"]"#,
            r#"Expected a member in the form: {"member": "image_id"}"#,
        ),
        (
            r#""p2""#,
            r#"Expected a member in the form: {"member": "image_id"}"#,
        ),
        (
            r#"{"member": "p\ud83d\ude00"}"#,
            "Member can't contain 4 byte unicode characters.",
        ),
    ];
    for (body, expected) in cases {
        let resp = post(body).await.unwrap();
        assert_eq!(
            expect_error(resp, StatusCode::BAD_REQUEST).await,
            expected,
            "{body}"
        );
    }
    let long = json!({ "member": "x".repeat(256) });
    let resp = p1
        .post(&format!("/v2/images/{id}/members"))
        .json(&long)
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST).await;
    assert!(member_ids(&p1, &id).await.is_empty());
}

#[tokio::test]
async fn unknown_member_is_404_with_glance_message() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    let p1 = app.member_of("p1");
    let expected = format!("p9 not found in the member list of the image {id}.");
    assert_eq!(
        expect_error(show(&p1, &id, "p9").await, StatusCode::NOT_FOUND).await,
        expected
    );
    assert_eq!(
        expect_error(remove(&p1, &id, "p9").await, StatusCode::NOT_FOUND).await,
        expected
    );
    let admin = app.admin();
    let resp = set_status(&admin, &id, "p9", json!({"status": "accepted"})).await;
    assert_eq!(expect_error(resp, StatusCode::NOT_FOUND).await, expected);
}

#[tokio::test]
async fn unknown_image_is_404() {
    let app = TestApp::new().await;
    let missing = "7e3a4b6f-0000-4000-8000-000000000000";
    let message = expect_error(list(&app.admin(), missing).await, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("Image {missing} not found."));
    let resp = add(&app.admin(), "not-a-uuid", "p2").await;
    assert_eq!(
        expect_error(resp, StatusCode::NOT_FOUND).await,
        "Image not-a-uuid not found."
    );
}

#[tokio::test]
async fn a_member_sees_only_its_own_membership() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    let p1 = app.member_of("p1");
    for member in ["p2", "p3", "p4"] {
        add_ok(&p1, &id, member).await;
    }
    assert_eq!(member_ids(&p1, &id).await, ["p2", "p3", "p4"]);
    assert_eq!(member_ids(&app.member_of("p3"), &id).await, ["p3"]);
    assert_eq!(member_ids(&app.as_user("p3", "reader"), &id).await, ["p3"]);
    let p2 = app.member_of("p2");
    let resp = show(&p2, &id, "p3").await;
    let expected = format!("p3 not found in the member list of the image {id}.");
    assert_eq!(expect_error(resp, StatusCode::NOT_FOUND).await, expected);
    // Nor may it accept on another member's behalf.
    let resp = set_status(&p2, &id, "p3", json!({"status": "accepted"})).await;
    assert_eq!(expect_error(resp, StatusCode::NOT_FOUND).await, expected);
}

#[tokio::test]
async fn a_member_cannot_remove_its_membership() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    add_ok(&app.member_of("p1"), &id, "p2").await;
    let message = expect_error(
        remove(&app.member_of("p2"), &id, "p2").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        message,
        "You are not authorized to complete delete_member action."
    );
    assert_eq!(member_ids(&app.member_of("p1"), &id).await, ["p2"]);
}

#[tokio::test]
async fn readers_may_look_but_not_write() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    add_ok(&app.member_of("p1"), &id, "p2").await;
    let owner_reader = app.as_user("p1", "reader");
    let member_reader = app.as_user("p2", "reader");
    assert_eq!(member_ids(&owner_reader, &id).await, ["p2"]);
    expect_status(show(&member_reader, &id, "p2").await, StatusCode::OK).await;
    let denied = |rule: &str| format!("You are not authorized to complete {rule} action.");
    let resp = add(&owner_reader, &id, "p3").await;
    assert_eq!(
        expect_error(resp, StatusCode::FORBIDDEN).await,
        denied("add_member")
    );
    let resp = remove(&owner_reader, &id, "p2").await;
    assert_eq!(
        expect_error(resp, StatusCode::FORBIDDEN).await,
        denied("delete_member")
    );
    let resp = set_status(&member_reader, &id, "p2", json!({"status": "accepted"})).await;
    assert_eq!(
        expect_error(resp, StatusCode::FORBIDDEN).await,
        denied("modify_member")
    );
}

#[tokio::test]
async fn a_caller_with_no_glance_role_gets_a_bare_404() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    let message = expect_error(
        list(&app.as_user("p1", "observer"), &id).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(message, "The resource could not be found.");
}

#[tokio::test]
async fn admin_manages_members_of_any_shared_image() {
    let app = TestApp::new().await;
    let id = image_of(&app, "p1", "shared").await;
    let admin = app.admin();
    add_ok(&admin, &id, "p2").await;
    add_ok(&app.member_of("p1"), &id, "p3").await;
    assert_eq!(member_ids(&admin, &id).await, ["p2", "p3"]);
    let resp = set_status(&admin, &id, "p2", json!({"status": "accepted"})).await;
    assert_eq!(
        expect_json(resp, StatusCode::OK).await["status"],
        "accepted"
    );
    expect_status(remove(&admin, &id, "p3").await, StatusCode::NO_CONTENT).await;
    assert_eq!(member_ids(&app.member_of("p1"), &id).await, ["p2"]);
    let other_admin = app.as_user("p9", "admin,member,reader");
    assert_eq!(member_ids(&other_admin, &id).await, ["p2"]);
}
