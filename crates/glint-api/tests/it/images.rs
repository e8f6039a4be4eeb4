//! Creating, showing and deleting images.

use crate::common;

use common::{TestApp, expect_error, expect_status, id_of};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

/// Replaces the values that change from run to run.
fn redacted(mut image: Value) -> Value {
    for key in ["id", "created_at", "updated_at", "self", "file"] {
        image[key] = json!(format!("[{key}]"));
    }
    image
}

#[tokio::test]
async fn create_answers_201_with_absolute_location_and_defaults() {
    let app = TestApp::new().await;
    let resp = app
        .post("/v2/images")
        .json(&json!({"name": "cirros"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_string();
    let image: Value = resp.json().await.unwrap();
    let id = id_of(&image);
    assert_eq!(location, app.url(&format!("/v2/images/{id}")));
    assert_eq!(image["status"], "queued");
    assert_eq!(image["visibility"], "shared");
    assert_eq!(image["owner"], "admin");
    assert_eq!(image["protected"], false);
    assert_eq!(image["os_hidden"], false);
    assert_eq!(image["min_ram"], 0);
    assert_eq!(image["min_disk"], 0);
    assert_eq!(image["tags"], json!([]));
    for null in [
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
    ] {
        assert_eq!(image[null], Value::Null, "{null}");
    }
    assert_eq!(image["self"], format!("/v2/images/{id}"));
    assert_eq!(image["file"], format!("/v2/images/{id}/file"));
    assert_eq!(image["schema"], "/v2/schemas/image");
    assert!(image.get("stores").is_none(), "no stores before data");
    assert!(image.get("locations").is_none());
    assert!(image.get("direct_url").is_none());
}

#[tokio::test]
async fn create_announces_configured_import_methods() {
    let app = TestApp::builder()
        .api_config(|c| c.import_methods = vec!["glance-direct".into(), "web-download".into()])
        .start()
        .await;
    let resp = app
        .post("/v2/images")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        resp.headers()["openstack-image-import-methods"],
        "glance-direct,web-download"
    );
}

#[tokio::test]
async fn create_location_uses_public_endpoint_when_configured() {
    let app = TestApp::builder()
        .api_config(|c| c.public_endpoint = Some("https://images.example.org".into()))
        .start()
        .await;
    let resp = app
        .post("/v2/images")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let location = resp.headers()[LOCATION].to_str().unwrap().to_string();
    let id = id_of(&resp.json::<Value>().await.unwrap());
    assert_eq!(
        location,
        format!("https://images.example.org/v2/images/{id}")
    );
}

#[tokio::test]
async fn create_owner_is_the_callers_project() {
    let app = TestApp::new().await;
    let image = app
        .member_of("p1")
        .create_image(json!({"name": "mine"}))
        .await;
    assert_eq!(image["owner"], "p1");
}

#[tokio::test]
async fn create_keeps_extra_properties_listed_first() {
    let app = TestApp::new().await;
    let image = app
        .create_image(json!({"name": "x", "os_distro": "cirros", "hw_disk_bus": "scsi"}))
        .await;
    assert_eq!(image["os_distro"], "cirros");
    assert_eq!(image["hw_disk_bus"], "scsi");
    let keys: Vec<&String> = image.as_object().unwrap().keys().collect();
    let name_at = keys.iter().position(|k| *k == "name").unwrap();
    let distro_at = keys.iter().position(|k| *k == "os_distro").unwrap();
    assert!(distro_at < name_at, "properties come first: {keys:?}");
    let shown = app.image(&id_of(&image)).await;
    assert_eq!(shown["os_distro"], "cirros");
}

#[tokio::test]
async fn create_sets_every_writable_attribute() {
    let app = TestApp::new().await;
    let id = "2a0e5a52-6d6b-4dd5-bd20-6d4ef83ea0b7";
    let body = json!({
        "id": id, "name": "full", "disk_format": "qcow2", "container_format": "bare",
        "visibility": "private", "protected": true, "os_hidden": true,
        "min_ram": 512, "min_disk": 2, "tags": ["a", "b"],
    });
    let image = app.create_image(body).await;
    assert_eq!(image["id"], id);
    assert_eq!(image["disk_format"], "qcow2");
    assert_eq!(image["container_format"], "bare");
    assert_eq!(image["visibility"], "private");
    assert_eq!(image["protected"], true);
    assert_eq!(image["os_hidden"], true);
    assert_eq!(image["min_ram"], 512);
    assert_eq!(image["min_disk"], 2);
    assert_eq!(image["tags"], json!(["a", "b"]));
}

#[tokio::test]
async fn image_view_snapshot() {
    let app = TestApp::new().await;
    let image = app
        .create_image(json!({
            "name": "sample", "disk_format": "raw", "container_format": "bare",
            "visibility": "public", "os_distro": "cirros", "tags": ["a", "b"],
        }))
        .await;
    insta::assert_json_snapshot!("image_view", redacted(image));
}

#[tokio::test]
async fn show_returns_the_created_image() {
    let app = TestApp::new().await;
    let created = app.create_image(json!({"name": "shown"})).await;
    let shown = app.image(&id_of(&created)).await;
    assert_eq!(shown, created);
}

#[tokio::test]
async fn show_missing_image_is_404_no_image_found() {
    let app = TestApp::new().await;
    let id = "0b1e1a35-7f35-4c4c-8a60-3f1f0d6b1c11";
    let resp = app.get(&format!("/v2/images/{id}")).send().await.unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("No image found with ID {id}"));
}

#[tokio::test]
async fn show_non_uuid_is_404_no_image_found() {
    let app = TestApp::new().await;
    let resp = app.get("/v2/images/not-a-uuid").send().await.unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, "No image found with ID not-a-uuid");
}

#[tokio::test]
async fn show_other_projects_private_image_is_404() {
    let app = TestApp::new().await;
    let image = app
        .member_of("p1")
        .create_image(json!({"visibility": "private"}))
        .await;
    let id = id_of(&image);
    let resp = app
        .member_of("p2")
        .get(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("No image found with ID {id}"));
}

#[tokio::test]
async fn delete_answers_204_and_the_image_is_gone() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("doomed").await;
    let resp = app
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let resp = app.get(&format!("/v2/images/{id}")).send().await.unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
    assert!(app.admin().list_names("").await.is_empty());
}

#[tokio::test]
async fn delete_twice_is_404_failed_to_find_image() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("doomed").await;
    let path = format!("/v2/images/{id}");
    expect_status(
        app.delete(&path).send().await.unwrap(),
        StatusCode::NO_CONTENT,
    )
    .await;
    let message = expect_error(
        app.delete(&path).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(message, format!("Failed to find image {id} to delete"));
}

#[tokio::test]
async fn delete_protected_image_is_403() {
    let app = TestApp::new().await;
    let image = app.create_image(json!({"protected": true})).await;
    let id = id_of(&image);
    let resp = app
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        format!("Image {id} is protected and cannot be deleted.")
    );
    assert_eq!(app.image(&id).await["status"], "queued");
}

#[tokio::test]
async fn delete_of_visible_image_by_other_project_is_403() {
    let app = TestApp::new().await;
    let image = app.create_image(json!({"visibility": "public"})).await;
    let id = id_of(&image);
    let resp = app
        .member_of("p2")
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete delete_image action."
    );
}

#[tokio::test]
async fn delete_of_invisible_image_by_other_project_is_404() {
    let app = TestApp::new().await;
    let image = app.create_image(json!({"visibility": "private"})).await;
    let id = id_of(&image);
    let resp = app
        .member_of("p2")
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("Failed to find image {id} to delete"));
}

#[tokio::test]
async fn delete_by_member_of_owning_project_succeeds() {
    let app = TestApp::new().await;
    let p1 = app.member_of("p1");
    let id = id_of(&p1.create_image(json!({"name": "own"})).await);
    let resp = p1.delete(&format!("/v2/images/{id}")).send().await.unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
}

#[tokio::test]
async fn delete_by_reader_of_owning_project_is_403() {
    let app = TestApp::new().await;
    let id = id_of(&app.member_of("p1").create_image(json!({})).await);
    let resp = app
        .as_user("p1", "reader")
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete delete_image action."
    );
}

#[tokio::test]
async fn delete_active_image_removes_its_data() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("with-data").await;
    app.upload_ok(&id, vec![7u8; 4096]).await;
    assert_eq!(app.store_files(), std::slice::from_ref(&id));
    let resp = app
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    assert!(
        app.store_files().is_empty(),
        "left: {:?}",
        app.store_files()
    );
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn delete_with_delayed_delete_keeps_data_for_the_scrubber() {
    let app = TestApp::builder()
        .image_config(|c| c.delayed_delete = true)
        .start()
        .await;
    let id = app.create_raw_image("pending").await;
    app.upload_ok(&id, vec![1u8; 1024]).await;
    let resp = app
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let resp = app.get(&format!("/v2/images/{id}")).send().await.unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(app.store_files(), [id]);
}
