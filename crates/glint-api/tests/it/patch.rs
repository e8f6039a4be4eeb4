//! `PATCH /v2/images/{id}` with both JSON-patch media types.

use crate::common;

use common::{PATCH_V20, TestApp, expect_error, expect_json, id_of, unsupported_media_type};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn new_image(app: &TestApp) -> String {
    id_of(
        &app.create_image(json!({"name": "orig", "os_distro": "cirros"}))
            .await,
    )
}

async fn patch_ok(app: &TestApp, id: &str, ops: Value) -> Value {
    expect_json(app.admin().patch(id, ops).await, StatusCode::OK).await
}

async fn patch_error(app: &TestApp, id: &str, ops: Value, status: StatusCode) -> String {
    expect_error(app.admin().patch(id, ops).await, status).await
}

#[tokio::test]
async fn patch_v21_replaces_adds_and_removes() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let image = patch_ok(
        &app,
        &id,
        json!([
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/hw_rng_model", "value": "virtio"},
            {"op": "replace", "path": "/os_distro", "value": "ubuntu"},
            {"op": "replace", "path": "/min_ram", "value": 1024},
            {"op": "replace", "path": "/protected", "value": true},
        ]),
    )
    .await;
    assert_eq!(image["name"], "renamed");
    assert_eq!(image["hw_rng_model"], "virtio");
    assert_eq!(image["os_distro"], "ubuntu");
    assert_eq!(image["min_ram"], 1024);
    assert_eq!(image["protected"], true);
    assert_eq!(app.image(&id).await, image);
    let image = patch_ok(
        &app,
        &id,
        json!([{"op": "remove", "path": "/hw_rng_model"}]),
    )
    .await;
    assert!(image.get("hw_rng_model").is_none());
}

#[tokio::test]
async fn patch_v21_add_overwrites_an_existing_property() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([{"op": "add", "path": "/os_distro", "value": "fedora"}]);
    assert_eq!(patch_ok(&app, &id, ops).await["os_distro"], "fedora");
}

#[tokio::test]
async fn patch_v20_draft4_style_operations_work() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([
        {"replace": "/name", "value": "draft4"},
        {"add": "/hw_disk_bus", "value": "scsi"},
        {"remove": "/os_distro"},
    ]);
    let resp = app.admin().patch_as(&id, PATCH_V20, ops).await;
    let image = expect_json(resp, StatusCode::OK).await;
    assert_eq!(image["name"], "draft4");
    assert_eq!(image["hw_disk_bus"], "scsi");
    assert!(image.get("os_distro").is_none());
}

#[tokio::test]
async fn patch_v20_add_of_existing_property_is_409() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([{"add": "/os_distro", "value": "x"}]);
    let resp = app.admin().patch_as(&id, PATCH_V20, ops).await;
    expect_error(resp, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn patch_with_application_json_is_415_with_accept_patch() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    let resp = app.admin().patch_as(&id, "application/json", ops).await;
    let accept_patch = resp.headers()["accept-patch"].to_str().unwrap().to_string();
    assert_eq!(
        accept_patch,
        "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch"
    );
    let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert!(message.ends_with(&format!(
        "Image PATCH expects Content-Type one of: {ALLOWED}"
    )));
    assert_eq!(app.image(&id).await["name"], "orig");
}

const ALLOWED: &str =
    "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch";

#[tokio::test]
async fn patch_with_application_json_has_webob_415_message() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let resp = app
        .admin()
        .patch_as(&id, "application/json", json!([]))
        .await;
    let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let expected = format!(
        "{} Image PATCH expects Content-Type one of: {ALLOWED}",
        unsupported_media_type("application/json")
    );
    assert_eq!(message, expected);
}

#[tokio::test]
async fn patch_of_read_only_attribute_is_403() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([{"op": "replace", "path": "/status", "value": "active"}]);
    let message = patch_error(&app, &id, ops, StatusCode::FORBIDDEN).await;
    assert_eq!(message, "Attribute 'status' is read-only.");
    for key in [
        "checksum",
        "size",
        "id",
        "created_at",
        "os_hash_value",
        "self",
    ] {
        let ops = json!([{"op": "replace", "path": format!("/{key}"), "value": "x"}]);
        patch_error(&app, &id, ops, StatusCode::FORBIDDEN).await;
    }
}

#[tokio::test]
async fn patch_of_reserved_property_is_403() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([{"op": "add", "path": "/os_glance_foo", "value": "x"}]);
    let message = patch_error(&app, &id, ops, StatusCode::FORBIDDEN).await;
    assert_eq!(message, "Attribute 'os_glance_foo' is reserved.");
    let ops = json!([{"op": "add", "path": "/deleted", "value": "x"}]);
    patch_error(&app, &id, ops, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn patch_remove_of_base_attribute_is_403() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([{"op": "remove", "path": "/name"}]);
    let message = patch_error(&app, &id, ops, StatusCode::FORBIDDEN).await;
    assert_eq!(message, "Property name may not be removed.");
}

#[tokio::test]
async fn patch_replace_of_missing_property_is_409() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([{"op": "replace", "path": "/nope", "value": "x"}]);
    let message = patch_error(&app, &id, ops, StatusCode::CONFLICT).await;
    assert_eq!(message, "Property nope does not exist.");
}

#[tokio::test]
async fn patch_remove_of_missing_property_is_409() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([{"op": "remove", "path": "/nope"}]);
    patch_error(&app, &id, ops, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn patch_failing_operation_applies_none_of_the_others() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([
        {"op": "replace", "path": "/name", "value": "changed"},
        {"op": "replace", "path": "/nope", "value": "x"},
    ]);
    patch_error(&app, &id, ops, StatusCode::CONFLICT).await;
    assert_eq!(app.image(&id).await["name"], "orig");
}

#[tokio::test]
async fn patch_replaces_tags() {
    let app = TestApp::new().await;
    let id = id_of(&app.create_image(json!({"tags": ["old"]})).await);
    let ops = json!([{"op": "replace", "path": "/tags", "value": ["x", "y", "x"]}]);
    let image = patch_ok(&app, &id, ops).await;
    let mut tags: Vec<&str> = image["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, ["x", "y"]);
}

#[tokio::test]
async fn patch_with_malformed_body_is_400() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    for ops in [
        json!({"op": "replace", "path": "/name", "value": "x"}),
        json!([{"op": "move", "path": "/name", "value": "x"}]),
        json!([{"op": "replace", "path": "name", "value": "x"}]),
        json!([{"op": "replace", "path": "/name/", "value": "x"}]),
        json!([{"op": "replace", "path": "/a//b", "value": "x"}]),
        json!([{"op": "replace", "path": "/name"}]),
        json!([{"op": "replace", "path": "/visibility", "value": "everyone"}]),
        json!([{"op": "replace", "path": "/min_ram", "value": "lots"}]),
        json!([{"op": "add", "path": "/prop", "value": 5}]),
        json!(["not an object"]),
    ] {
        let resp = app.admin().patch(&id, ops.clone()).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{ops}");
    }
}

#[tokio::test]
async fn patch_owner_by_non_admin_is_403() {
    let app = TestApp::new().await;
    let p1 = app.member_of("p1");
    let id = id_of(&p1.create_image(json!({"name": "mine"})).await);
    let ops = json!([{"op": "replace", "path": "/owner", "value": "p2"}]);
    expect_error(p1.patch(&id, ops).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p1.image(&id).await["owner"], "p1");
}

#[tokio::test]
async fn patch_owner_by_admin_succeeds() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let ops = json!([{"op": "replace", "path": "/owner", "value": "p2"}]);
    assert_eq!(patch_ok(&app, &id, ops).await["owner"], "p2");
}

#[tokio::test]
async fn patch_visibility_to_public_by_member_is_403() {
    let app = TestApp::new().await;
    let p1 = app.member_of("p1");
    let id = id_of(&p1.create_image(json!({})).await);
    let ops = json!([{"op": "replace", "path": "/visibility", "value": "public"}]);
    let message = expect_error(p1.patch(&id, ops).await, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete publicize_image action."
    );
    let ops = json!([{"op": "replace", "path": "/visibility", "value": "community"}]);
    let image = expect_json(p1.patch(&id, ops).await, StatusCode::OK).await;
    assert_eq!(image["visibility"], "community");
}

#[tokio::test]
async fn patch_disk_format_of_active_image_is_403() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("active").await;
    app.upload_ok(&id, vec![0u8; 16]).await;
    for key in ["disk_format", "container_format"] {
        let ops = json!([{"op": "replace", "path": format!("/{key}"), "value": "ami"}]);
        patch_error(&app, &id, ops, StatusCode::FORBIDDEN).await;
    }
    assert_eq!(app.image(&id).await["disk_format"], "raw");
}

#[tokio::test]
async fn patch_disk_format_of_queued_image_succeeds() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("queued").await;
    let ops = json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}]);
    assert_eq!(patch_ok(&app, &id, ops).await["disk_format"], "qcow2");
}

#[tokio::test]
async fn patch_over_property_quota_is_413() {
    let app = TestApp::builder()
        .image_config(|c| c.image_property_quota = Some(2))
        .start()
        .await;
    let id = id_of(&app.create_image(json!({"a": "1", "b": "2"})).await);
    let ops = json!([{"op": "add", "path": "/c", "value": "3"}]);
    patch_error(&app, &id, ops, StatusCode::PAYLOAD_TOO_LARGE).await;
    let ops = json!([{"op": "replace", "path": "/b", "value": "two"}]);
    assert_eq!(patch_ok(&app, &id, ops).await["b"], "two");
}

#[tokio::test]
async fn patch_of_other_projects_public_image_is_403() {
    let app = TestApp::new().await;
    let id = id_of(&app.create_image(json!({"visibility": "public"})).await);
    let ops = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    let resp = app.member_of("p2").patch(&id, ops).await;
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete modify_image action."
    );
}

#[tokio::test]
async fn patch_of_invisible_image_is_404() {
    let app = TestApp::new().await;
    let id = id_of(&app.create_image(json!({"visibility": "private"})).await);
    let ops = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    let resp = app.member_of("p2").patch(&id, ops).await;
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("No image found with ID {id}"));
}

#[tokio::test]
async fn patch_by_reader_of_owning_project_is_403() {
    let app = TestApp::new().await;
    let id = id_of(&app.member_of("p1").create_image(json!({})).await);
    let ops = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    let resp = app.as_user("p1", "reader").patch(&id, ops).await;
    expect_error(resp, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn patch_with_empty_list_returns_the_image_unchanged() {
    let app = TestApp::new().await;
    let id = new_image(&app).await;
    let before = app.image(&id).await;
    assert_eq!(patch_ok(&app, &id, json!([])).await, before);
}
