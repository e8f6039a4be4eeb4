//! Image tags (`PUT`/`DELETE /v2/images/{id}/tags/{tag}`) and the
//! deactivate / reactivate actions.

use crate::common;

use common::{Caller, TestApp, expect_error, expect_status, id_of};
use reqwest::{Response, StatusCode};
use serde_json::json;

async fn put_tag(caller: &Caller<'_>, id: &str, tag: &str) -> Response {
    caller
        .put(&format!("/v2/images/{id}/tags/{tag}"))
        .send()
        .await
        .unwrap()
}

async fn delete_tag(caller: &Caller<'_>, id: &str, tag: &str) -> Response {
    caller
        .delete(&format!("/v2/images/{id}/tags/{tag}"))
        .send()
        .await
        .unwrap()
}

async fn action(caller: &Caller<'_>, id: &str, name: &str) -> Response {
    caller
        .post(&format!("/v2/images/{id}/actions/{name}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn put_tag_answers_204_and_adds_it_once() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("tagged").await;
    expect_status(
        put_tag(&app.admin(), &id, "gold").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_status(
        put_tag(&app.admin(), &id, "gold").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.image(&id).await["tags"], json!(["gold"]));
}

#[tokio::test]
async fn delete_tag_answers_204_and_removes_it() {
    let app = TestApp::new().await;
    let id = id_of(&app.create_image(json!({"tags": ["a", "b"]})).await);
    expect_status(
        delete_tag(&app.admin(), &id, "a").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.image(&id).await["tags"], json!(["b"]));
}

#[tokio::test]
async fn delete_of_missing_tag_is_404() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("untagged").await;
    expect_error(
        delete_tag(&app.admin(), &id, "nope").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn tag_on_missing_image_is_404() {
    let app = TestApp::new().await;
    let id = "3f0c7c43-0d6e-4f3a-9f55-6a8a0a7d2e10";
    let message = expect_error(put_tag(&app.admin(), id, "x").await, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("No image found with ID {id}"));
}

#[tokio::test]
async fn put_tag_over_tag_quota_is_413() {
    let app = TestApp::builder()
        .image_config(|c| c.image_tag_quota = Some(2))
        .start()
        .await;
    let id = id_of(&app.create_image(json!({"tags": ["a", "b"]})).await);
    expect_error(
        put_tag(&app.admin(), &id, "c").await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    expect_status(
        put_tag(&app.admin(), &id, "a").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.image(&id).await["tags"], json!(["a", "b"]));
}

#[tokio::test]
async fn put_tag_longer_than_255_characters_is_400() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("long-tag").await;
    let tag = "t".repeat(256);
    expect_error(
        put_tag(&app.admin(), &id, &tag).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn put_tag_by_other_project_on_public_image_is_403() {
    let app = TestApp::new().await;
    let id = id_of(&app.create_image(json!({"visibility": "public"})).await);
    let resp = put_tag(&app.member_of("p2"), &id, "mine").await;
    expect_error(resp, StatusCode::FORBIDDEN).await;
}

/// An active image owned by `p1`.
async fn active_image_of_p1(app: &TestApp) -> String {
    let p1 = app.member_of("p1");
    let image = p1
        .create_image(json!({"disk_format": "raw", "container_format": "bare"}))
        .await;
    let id = id_of(&image);
    expect_status(p1.upload(&id, vec![1u8; 64]).await, StatusCode::NO_CONTENT).await;
    id
}

#[tokio::test]
async fn deactivate_and_reactivate_answer_204_and_change_status() {
    let app = TestApp::new().await;
    let id = active_image_of_p1(&app).await;
    let admin = app.admin();
    expect_status(
        action(&admin, &id, "deactivate").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.image(&id).await["status"], "deactivated");
    expect_status(
        action(&admin, &id, "reactivate").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.image(&id).await["status"], "active");
}

#[tokio::test]
async fn deactivate_and_reactivate_are_idempotent() {
    let app = TestApp::new().await;
    let id = active_image_of_p1(&app).await;
    let admin = app.admin();
    expect_status(
        action(&admin, &id, "reactivate").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.image(&id).await["status"], "active");
    expect_status(
        action(&admin, &id, "deactivate").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_status(
        action(&admin, &id, "deactivate").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.image(&id).await["status"], "deactivated");
}

#[tokio::test]
async fn member_of_owning_project_may_deactivate_and_reactivate() {
    let app = TestApp::new().await;
    let id = active_image_of_p1(&app).await;
    let p1 = app.member_of("p1");
    expect_status(action(&p1, &id, "deactivate").await, StatusCode::NO_CONTENT).await;
    expect_status(action(&p1, &id, "reactivate").await, StatusCode::NO_CONTENT).await;
    assert_eq!(p1.image(&id).await["status"], "active");
}

#[tokio::test]
async fn reader_of_owning_project_may_not_deactivate() {
    let app = TestApp::new().await;
    let id = active_image_of_p1(&app).await;
    let reader = app.as_user("p1", "reader");
    let message = expect_error(
        action(&reader, &id, "deactivate").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        message,
        "You are not authorized to complete deactivate action."
    );
    assert_eq!(app.image(&id).await["status"], "active");
}

#[tokio::test]
async fn reactivate_by_other_project_on_public_image_is_403() {
    let app = TestApp::new().await;
    let image = app
        .create_image(
            json!({"visibility": "public", "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
    let id = id_of(&image);
    app.upload_ok(&id, vec![1u8; 8]).await;
    expect_status(
        action(&app.admin(), &id, "deactivate").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let p2 = app.member_of("p2");
    let message = expect_error(action(&p2, &id, "reactivate").await, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete reactivate action."
    );
}

#[tokio::test]
async fn deactivate_of_queued_image_is_403() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("queued").await;
    expect_error(
        action(&app.admin(), &id, "deactivate").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(app.image(&id).await["status"], "queued");
}

#[tokio::test]
async fn reactivate_of_queued_image_is_403() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("queued").await;
    expect_error(
        action(&app.admin(), &id, "reactivate").await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[tokio::test]
async fn deactivate_of_missing_image_is_404() {
    let app = TestApp::new().await;
    let id = "7e57c0de-0000-4000-8000-000000000001";
    let message = expect_error(
        action(&app.admin(), id, "deactivate").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(message, format!("No image found with ID {id}"));
}

#[tokio::test]
async fn deactivated_image_is_still_shown_and_listed() {
    let app = TestApp::new().await;
    let id = active_image_of_p1(&app).await;
    expect_status(
        action(&app.admin(), &id, "deactivate").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let p1 = app.member_of("p1");
    assert_eq!(p1.image(&id).await["status"], "deactivated");
    assert_eq!(p1.list("status=deactivated").await["images"][0]["id"], id);
}
