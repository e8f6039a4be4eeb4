//! Several named stores at once (Glance's multi-store): discovery, the
//! store an upload goes to, where downloads come from, one store's copy
//! removed, and what a single-store server says instead.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, expect_error, expect_json, expect_status, id_of};
use glint_store::{FileStore, HttpStore, PropertyValue, StoreMeta, StoreRegistry};
use http::StatusCode;
use serde_json::{Value, json};

fn meta(kind: &str, description: &str, weight: i64) -> StoreMeta {
    StoreMeta {
        kind: kind.into(),
        description: Some(description.into()),
        weight,
        read_only: kind == "http",
        properties: vec![("chunk_size".into(), PropertyValue::Int(1 << 20))],
    }
}

/// `fast` (default, weight 10), `cold` (weight 50), both file stores, and
/// `web`, the read-only http store; locations shown.
async fn multi_store_app() -> TestApp {
    TestApp::builder()
        .stores(|dir| {
            let fast = FileStore::new("fast", dir.join("fast")).unwrap();
            let cold = FileStore::new("cold", dir.join("cold")).unwrap();
            let web = HttpStore::new("web", Duration::from_secs(2)).unwrap();
            let mut registry =
                StoreRegistry::with_meta(Arc::new(fast), meta("file", "Fast disks", 10))
                    .multi_store();
            registry.add_with_meta(Arc::new(cold), meta("file", "Cold disks", 50));
            registry.add_with_meta(Arc::new(web), meta("http", "Web servers", 0));
            registry
        })
        .api_config(|c| {
            c.show_image_direct_url = true;
            c.show_multiple_locations = true;
        })
        .image_config(|c| c.show_multiple_locations = true)
        .start()
        .await
}

async fn patch_locations(app: &TestApp, id: &str, ops: Value) -> reqwest::Response {
    app.admin().patch(id, ops).await
}

async fn uploaded_to(app: &TestApp, store: Option<&str>, data: &[u8]) -> String {
    let id = app.create_raw_image("img").await;
    let mut request = app
        .put(&format!("/v2/images/{id}/file"))
        .header("content-type", "application/octet-stream")
        .body(data.to_vec());
    if let Some(store) = store {
        request = request.header("x-image-meta-store", store);
    }
    expect_status(request.send().await.unwrap(), StatusCode::NO_CONTENT).await;
    id
}

#[tokio::test]
async fn stores_are_listed_with_the_default_and_read_only_flags_as_strings() {
    let app = multi_store_app().await;
    let body = expect_json(
        app.get("/v2/info/stores").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        body,
        json!({"stores": [
            {"id": "fast", "description": "Fast disks", "default": "true"},
            {"id": "cold", "description": "Cold disks"},
            {"id": "web", "description": "Web servers", "read-only": "true"},
        ]})
    );
}

#[tokio::test]
async fn store_details_are_for_administrators_only() {
    let app = multi_store_app().await;
    let body = expect_json(
        app.admin()
            .get("/v2/info/stores/detail")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let cold = &body["stores"][1];
    assert_eq!(cold["id"], "cold");
    assert_eq!(cold["type"], "file");
    assert_eq!(cold["weight"], 50);
    assert_eq!(cold["properties"]["chunk_size"], 1 << 20);
    let message = expect_error(
        app.member_of("p1")
            .get("/v2/info/stores/detail")
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(message.contains("stores_info_detail"), "{message}");
}

#[tokio::test]
async fn the_versions_document_lists_what_multi_store_adds() {
    let app = multi_store_app().await;
    let body = expect_json(app.get("/versions").send().await.unwrap(), StatusCode::OK).await;
    let ids: Vec<&str> = body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids[..9],
        [
            "v2.15", "v2.13", "v2.12", "v2.11", "v2.10", "v2.9", "v2.8", "v2.17", "v2.7"
        ]
    );
}

#[tokio::test]
async fn create_announces_the_store_ids_and_uploads_go_where_asked() {
    let app = multi_store_app().await;
    let resp = app
        .admin()
        .create(json!({"name": "x", "disk_format": "raw", "container_format": "bare"}))
        .await;
    assert_eq!(resp.headers()["openstack-image-store-ids"], "fast,cold,web");
    let created = expect_json(resp, StatusCode::CREATED).await;
    assert!(created.get("stores").is_none(), "{created}");
    assert_eq!(created["locations"], json!([]));

    let by_default = uploaded_to(&app, None, b"default data").await;
    let image = app.image(&by_default).await;
    assert_eq!(image["stores"], "fast");
    let cold = uploaded_to(&app, Some("cold"), b"cold data").await;
    let image = app.image(&cold).await;
    assert_eq!(image["stores"], "cold");
    let url = image["direct_url"].as_str().unwrap();
    assert!(
        url.starts_with("file://") && url.contains("/cold/"),
        "{url}"
    );
    assert_eq!(image["locations"][0]["url"], url);
    assert_eq!(image["locations"][0]["metadata"], json!({"store": "cold"}));
    let data = app
        .get(&format!("/v2/images/{cold}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(data.bytes().await.unwrap().as_ref(), b"cold data");
}

#[tokio::test]
async fn uploads_to_an_unknown_or_read_only_store_are_refused_and_leave_the_image_queued() {
    let app = multi_store_app().await;
    for (store, status, message) in [
        (
            "nope",
            StatusCode::BAD_REQUEST,
            "Store for identifier nope not found",
        ),
        (
            "web",
            StatusCode::GONE,
            "Error in store configuration. Adding images to store is disabled.",
        ),
    ] {
        let id = app.create_raw_image("img").await;
        let resp = app
            .put(&format!("/v2/images/{id}/file"))
            .header("content-type", "application/octet-stream")
            .header("x-image-meta-store", store)
            .body(vec![1_u8; 100])
            .send()
            .await
            .unwrap();
        assert_eq!(expect_error(resp, status).await, message);
        assert_eq!(app.image(&id).await["status"], "queued");
    }
}

#[tokio::test]
async fn downloads_name_only_configured_stores() {
    let app = multi_store_app().await;
    let id = uploaded_to(&app, Some("cold"), b"abc").await;
    let resp = app
        .get(&format!("/v2/images/{id}/file?prefer=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::BAD_REQUEST).await,
        "Store 'nope' is not configured."
    );
    let resp = app
        .get(&format!("/v2/images/{id}/file?prefer=fast,cold"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"abc");
}

#[tokio::test]
async fn one_store_copy_cannot_be_the_last_and_unknown_stores_conflict() {
    let app = multi_store_app().await;
    let id = uploaded_to(&app, Some("cold"), b"abc").await;
    let resp = app
        .delete(&format!("/v2/stores/elsewhere/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::CONFLICT).await,
        "The selected store elsewhere is not available on this node."
    );
    let resp = app
        .delete(&format!("/v2/stores/cold/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::FORBIDDEN).await,
        "Cannot delete image data from the only store containing it. Consider deleting the \
         image instead."
    );
    let queued = app.create_raw_image("q").await;
    let resp = app
        .delete(&format!("/v2/stores/cold/{queued}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::CONFLICT).await,
        "It's not allowed to remove image data from store if image status is not 'active'"
    );
    let resp = app
        .member_of("p2")
        .delete(&format!("/v2/stores/cold/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn locations_and_direct_url_are_hidden_from_callers_who_may_not_read_them() {
    let app = multi_store_app().await;
    let caller = app.member_of("p1");
    let image = caller
        .create_image(json!({"name": "mine", "disk_format": "raw",
                             "container_format": "bare", "visibility": "community"}))
        .await;
    let id = id_of(&image);
    expect_status(
        caller.upload(&id, vec![7_u8; 10]).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    // The owner's reader may read locations (get_image_location); another
    // project may not, but still sees which stores hold the data.
    let own = caller.image(&id).await;
    assert!(own["direct_url"].is_string(), "{own}");
    let other = app.member_of("p2").image(&id).await;
    assert!(other.get("direct_url").is_none(), "{other}");
    assert!(other.get("locations").is_none(), "{other}");
    assert_eq!(other["stores"], "fast");
    let listed = app.member_of("p2").list("visibility=community").await;
    let shown: &Value = &listed["images"][0];
    assert!(shown.get("direct_url").is_none(), "{shown}");
}

#[tokio::test]
async fn a_single_store_server_has_no_store_api() {
    let app = TestApp::new().await;
    let resp = app.get("/v2/info/stores").send().await.unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::NOT_FOUND).await,
        "Multi backend is not supported at this site."
    );
    let resp = app
        .admin()
        .create(json!({"name": "x", "disk_format": "raw", "container_format": "bare"}))
        .await;
    assert!(resp.headers().get("openstack-image-store-ids").is_none());
    let id = id_of(&expect_json(resp, StatusCode::CREATED).await);
    // X-Image-Meta-Store is ignored, as Glance does without multi-store.
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-store", "anything")
        .body(vec![1_u8; 10])
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let image = app.image(&id).await;
    assert!(image.get("stores").is_none(), "{image}");
    assert!(image.get("direct_url").is_none(), "{image}");
    let resp = app
        .get(&format!("/v2/images/{id}/file?prefer=file"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::BAD_REQUEST).await,
        "Store selection for download is not available when multiple backends are not enabled."
    );
    let resp = app
        .delete(&format!("/v2/stores/file/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_second_location_by_patch_then_one_store_copy_removed() {
    let app = multi_store_app().await;
    let source = uploaded_to(&app, Some("fast"), b"the same bytes").await;
    let url = app.url(&format!("/v2/images/{source}/file"));
    let id = uploaded_to(&app, Some("cold"), b"the same bytes").await;
    let resp = patch_locations(
        &app,
        &id,
        json!([{"op": "add", "path": "/locations/-", "value": {"url": url, "metadata": {}}}]),
    )
    .await;
    let image = expect_json(resp, StatusCode::OK).await;
    assert_eq!(image["stores"], "cold,web");
    assert_eq!(image["locations"][1]["url"], url);
    // The same location twice, a position past the end, an unknown scheme.
    for (ops, expected) in [
        (
            json!([{"op": "add", "path": "/locations/-", "value": {"url": url, "metadata": {"store": "web"}}}]),
            "already exists",
        ),
        (
            json!([{"op": "add", "path": "/locations/9", "value": {"url": url, "metadata": {"k": "v"}}}]),
            "Invalid position for adding a location.",
        ),
        (
            json!([{"op": "add", "path": "/locations/-", "value": {"url": "gopher://x/y", "metadata": {}}}]),
            "Invalid location",
        ),
        (
            json!([{"op": "replace", "path": "/locations", "value": [{"url": url, "metadata": {}}]}]),
            "Original locations is not empty",
        ),
    ] {
        let message = expect_error(
            patch_locations(&app, &id, ops).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(message.contains(expected), "{message}");
    }
    // Now two stores hold it: one copy may go.
    let cold_file = image["locations"][0]["url"].as_str().unwrap().to_owned();
    let resp = app
        .delete(&format!("/v2/stores/cold/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let path = cold_file.strip_prefix("file://").unwrap();
    assert!(!std::path::Path::new(path).exists(), "{path} left behind");
    let image = app.image(&id).await;
    assert_eq!(image["stores"], "web");
    let data = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(data.bytes().await.unwrap().as_ref(), b"the same bytes");
    let message = expect_error(
        patch_locations(&app, &id, json!([{"op": "remove", "path": "/locations/0"}])).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(message, "Cannot remove last location in the image.");
}

#[tokio::test]
async fn a_location_with_validation_data_activates_a_queued_image() {
    let app = multi_store_app().await;
    let source = uploaded_to(&app, Some("fast"), b"vouched for").await;
    let url = app.url(&format!("/v2/images/{source}/file"));
    let checksum = app.image(&source).await["checksum"].clone();
    let id = app.create_raw_image("by patch").await;
    let ops = json!([{"op": "add", "path": "/locations/-",
                      "value": {"url": url, "metadata": {},
                                "validation_data": {"checksum": checksum}}}]);
    let image = expect_json(patch_locations(&app, &id, ops).await, StatusCode::OK).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], 11);
    assert_eq!(image["checksum"], checksum);
    // Removing a location of an image that is not active is refused.
    let queued = app.create_raw_image("empty").await;
    let message = expect_error(
        patch_locations(
            &app,
            &queued,
            json!([{"op": "remove", "path": "/locations/0"}]),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        message,
        "It's not allowed to remove locations if image status is queued."
    );
}

#[tokio::test]
async fn without_show_multiple_locations_patch_cannot_touch_locations() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("x").await;
    let resp = app
        .admin()
        .patch(
            &id,
            json!([{"op": "add", "path": "/locations/-", "value": {"url": "http://x/y", "metadata": {}}}]),
        )
        .await;
    assert_eq!(
        expect_error(resp, StatusCode::FORBIDDEN).await,
        "It's not allowed to add locations if locations are invisible."
    );
}

#[tokio::test]
async fn locations_past_image_location_quota_are_refused() {
    let app = TestApp::builder()
        .stores(|dir| {
            let fast = FileStore::new("fast", dir.join("fast")).unwrap();
            let web = HttpStore::new("web", Duration::from_secs(2)).unwrap();
            let mut registry =
                StoreRegistry::with_meta(Arc::new(fast), meta("file", "Fast disks", 0))
                    .multi_store();
            registry.add_with_meta(Arc::new(web), meta("http", "Web servers", 0));
            registry
        })
        .api_config(|c| c.show_multiple_locations = true)
        .image_config(|c| {
            c.show_multiple_locations = true;
            c.image_location_quota = Some(2);
        })
        .start()
        .await;
    let source = uploaded_to(&app, None, b"abc").await;
    let id = uploaded_to(&app, None, b"abc").await;
    let url = app.url(&format!("/v2/images/{source}/file"));
    let add = |n: u32| {
        json!([{"op": "add", "path": "/locations/-",
                "value": {"url": url, "metadata": {"copy": n.to_string()}}}])
    };
    expect_status(patch_locations(&app, &id, add(1)).await, StatusCode::OK).await;
    let message = expect_error(
        patch_locations(&app, &id, add(2)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(
        message,
        "The limit has been exceeded on the number of allowed image locations. Attempted: 3, \
         Maximum: 2"
    );
    assert_eq!(
        app.image(&id).await["locations"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn downloads_prefer_the_heavier_store_and_fall_back_to_the_next_location() {
    let app = multi_store_app().await;
    let source = uploaded_to(&app, Some("fast"), b"both places").await;
    let url = app.url(&format!("/v2/images/{source}/file"));
    let id = uploaded_to(&app, Some("cold"), b"both places").await;
    let ops = json!([{"op": "add", "path": "/locations/0", "value": {"url": url, "metadata": {}}}]);
    let image = expect_json(patch_locations(&app, &id, ops).await, StatusCode::OK).await;
    // `web` comes first in the list, but `cold` weighs 50 and `web` 0.
    assert_eq!(image["locations"][0]["url"], url);
    let cold = image["locations"][1]["url"].as_str().unwrap().to_owned();
    assert_eq!(image["direct_url"], cold);
    // The cold copy disappears behind glint's back: the download moves on.
    std::fs::remove_file(cold.strip_prefix("file://").unwrap()).unwrap();
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"both places");
    // Thousands of repeated preferences cost one pass.
    let query = vec!["prefer=web"; 5000].join("&");
    let resp = app
        .get(&format!("/v2/images/{id}/file?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn validation_data_by_patch_must_be_what_an_upload_computes() {
    let app = multi_store_app().await;
    let source = uploaded_to(&app, Some("fast"), b"vouched for").await;
    let url = app.url(&format!("/v2/images/{source}/file"));
    let sha512 = "ab".repeat(64);
    for (data, expected) in [
        (
            json!({"checksum": "zz"}),
            "checksum (zz) is not a valid hexadecimal value",
        ),
        (
            json!({"checksum": "00ff"}),
            "checksum (00ff) is not the correct size for md5 (should be 16 bytes)",
        ),
        (
            json!({"os_hash_algo": "sha256", "os_hash_value": sha512}),
            "os_hash_algo must be sha512, not sha256",
        ),
        (
            json!({"os_hash_algo": "sha512", "os_hash_value": "abcd"}),
            "os_hash_value (abcd) is not the correct size for sha512 (should be 64 bytes)",
        ),
    ] {
        let id = app.create_raw_image("checked").await;
        let ops = json!([{"op": "add", "path": "/locations/-",
                          "value": {"url": url, "metadata": {}, "validation_data": data}}]);
        let message =
            expect_error(patch_locations(&app, &id, ops).await, StatusCode::CONFLICT).await;
        assert_eq!(message, expected);
        assert_eq!(app.image(&id).await["status"], "queued");
    }
    let id = app.create_raw_image("good").await;
    let ops = json!([{"op": "add", "path": "/locations/-",
                      "value": {"url": url, "metadata": {},
                                "validation_data": {"os_hash_algo": "sha512", "os_hash_value": sha512}}}]);
    let image = expect_json(patch_locations(&app, &id, ops).await, StatusCode::OK).await;
    assert_eq!(image["os_hash_value"], sha512);
}
