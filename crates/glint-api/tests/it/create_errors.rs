//! What `POST /v2/images` refuses, and who may create what.

use crate::common;

use common::{TestApp, expect_error, id_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn create_error(app: &TestApp, body: Value, status: StatusCode) -> String {
    expect_error(app.admin().create(body).await, status).await
}

#[tokio::test]
async fn create_with_malformed_json_is_400() {
    let app = TestApp::new().await;
    let resp = app
        .post("/v2/images")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::BAD_REQUEST).await;
    assert_eq!(message, "Malformed JSON in request body.");
}

#[tokio::test]
async fn create_with_json_scalar_body_is_400() {
    let app = TestApp::new().await;
    let resp = app
        .post("/v2/images")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("42")
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::BAD_REQUEST).await;
    assert_eq!(message, "Malformed JSON in request body.");
}

#[tokio::test]
async fn create_with_unknown_disk_format_is_400_schema_error() {
    let app = TestApp::new().await;
    let message = create_error(
        &app,
        json!({"disk_format": "qcow3"}),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        message.starts_with(
            "Provided object does not match schema 'image': 'qcow3' is not one of [None, 'ami', "
        ),
        "{message}"
    );
}

#[tokio::test]
async fn create_with_unknown_container_format_is_400() {
    let app = TestApp::new().await;
    let message = create_error(
        &app,
        json!({"container_format": "tar"}),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        message.contains("'tar' is not one of [None, 'ami'"),
        "{message}"
    );
}

#[tokio::test]
async fn create_with_bad_visibility_or_id_is_400() {
    let app = TestApp::new().await;
    for body in [
        json!({"visibility": "everyone"}),
        json!({"id": "bad-id"}),
        json!({"name": "x".repeat(256)}),
        json!({"min_disk": "big"}),
        json!({"protected": "yes"}),
        json!({"tags": "not-a-list"}),
        json!({"os_distro": 7}),
    ] {
        let message = create_error(&app, body.clone(), StatusCode::BAD_REQUEST).await;
        assert!(
            message.starts_with("Provided object does not match schema 'image': "),
            "{body}: {message}"
        );
    }
}

#[tokio::test]
async fn create_with_negative_min_ram_or_min_disk_is_400() {
    let app = TestApp::new().await;
    for key in ["min_ram", "min_disk"] {
        let resp = app.admin().create(json!({key: -1})).await;
        expect_error(resp, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn create_with_read_only_status_is_403() {
    let app = TestApp::new().await;
    let message = create_error(&app, json!({"status": "active"}), StatusCode::FORBIDDEN).await;
    assert_eq!(message, "Attribute 'status' is read-only.");
}

#[tokio::test]
async fn create_with_any_read_only_attribute_is_403() {
    let app = TestApp::new().await;
    // Values the schema accepts: the schema is checked first.
    for (key, value) in [
        ("created_at", json!("x")),
        ("updated_at", json!("x")),
        ("checksum", json!("x")),
        ("size", json!(1)),
        ("virtual_size", json!(1)),
        ("os_hash_algo", json!("x")),
        ("os_hash_value", json!("x")),
    ] {
        let message = create_error(&app, json!({key: value}), StatusCode::FORBIDDEN).await;
        assert_eq!(message, format!("Attribute '{key}' is read-only."));
    }
}

#[tokio::test]
async fn create_with_link_attributes_is_403() {
    let app = TestApp::new().await;
    for key in ["self", "file", "schema", "direct_url", "stores"] {
        let resp = app.admin().create(json!({key: "x"})).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{key}");
    }
}

#[tokio::test]
async fn create_with_reserved_os_glance_property_is_403() {
    let app = TestApp::new().await;
    let message = create_error(&app, json!({"os_glance_foo": "x"}), StatusCode::FORBIDDEN).await;
    assert_eq!(message, "Attribute 'os_glance_foo' is reserved.");
    for key in ["location", "deleted", "deleted_at", "os_glance_import_task"] {
        let resp = app.admin().create(json!({key: "x"})).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{key}");
    }
}

#[tokio::test]
async fn create_with_existing_id_is_409() {
    let app = TestApp::new().await;
    let id = "8f1f4a0e-0c1e-4b5d-9d62-2b6f8ff52a01";
    app.create_image(json!({"id": id})).await;
    let message = create_error(&app, json!({"id": id}), StatusCode::CONFLICT).await;
    assert!(message.contains(id), "{message}");
}

#[tokio::test]
async fn create_with_id_of_deleted_image_is_409() {
    let app = TestApp::new().await;
    let id = "8f1f4a0e-0c1e-4b5d-9d62-2b6f8ff52a02";
    app.create_image(json!({"id": id})).await;
    let resp = app
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    create_error(&app, json!({"id": id}), StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn member_creating_public_image_is_403() {
    let app = TestApp::new().await;
    let resp = app
        .member_of("p1")
        .create(json!({"visibility": "public"}))
        .await;
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete publicize_image action."
    );
    assert!(app.admin().list_names("visibility=all").await.is_empty());
}

#[tokio::test]
async fn member_may_create_community_and_private_images() {
    let app = TestApp::new().await;
    for visibility in ["community", "private", "shared"] {
        let image = app
            .member_of("p1")
            .create_image(json!({"visibility": visibility}))
            .await;
        assert_eq!(image["visibility"], visibility);
    }
}

#[tokio::test]
async fn admin_may_create_public_image() {
    let app = TestApp::new().await;
    let image = app.create_image(json!({"visibility": "public"})).await;
    assert_eq!(image["visibility"], "public");
}

#[tokio::test]
async fn reader_only_creating_is_403() {
    let app = TestApp::new().await;
    let resp = app
        .as_user("p1", "reader")
        .create(json!({"name": "x"}))
        .await;
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete add_image action."
    );
}

#[tokio::test]
async fn member_creating_for_another_owner_is_403() {
    let app = TestApp::new().await;
    let resp = app.member_of("p1").create(json!({"owner": "p2"})).await;
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not permitted to create images owned by 'p2'"
    );
}

#[tokio::test]
async fn member_may_name_own_project_as_owner() {
    let app = TestApp::new().await;
    let image = app
        .member_of("p1")
        .create_image(json!({"owner": "p1"}))
        .await;
    assert_eq!(image["owner"], "p1");
}

#[tokio::test]
async fn admin_may_create_for_another_owner() {
    let app = TestApp::new().await;
    let image = app.create_image(json!({"owner": "p2"})).await;
    assert_eq!(image["owner"], "p2");
    let shown = app.member_of("p2").image(&id_of(&image)).await;
    assert_eq!(shown["owner"], "p2");
}

#[tokio::test]
async fn create_with_too_many_properties_is_413() {
    let app = TestApp::builder()
        .image_config(|c| c.image_property_quota = Some(2))
        .start()
        .await;
    let body = json!({"a": "1", "b": "2", "c": "3"});
    create_error(&app, body, StatusCode::PAYLOAD_TOO_LARGE).await;
    app.create_image(json!({"a": "1", "b": "2"})).await;
}

#[tokio::test]
async fn create_with_too_many_tags_is_413() {
    let app = TestApp::builder()
        .image_config(|c| c.image_tag_quota = Some(2))
        .start()
        .await;
    create_error(
        &app,
        json!({"tags": ["a", "b", "c"]}),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    app.create_image(json!({"tags": ["a", "b"]})).await;
}
