//! The cache API (`/v2/cache…`, 2.14 and 2.18) and the legacy cache
//! management paths: their answers, errors and policies, with the cache on
//! and off.

use crate::common;

use std::time::{Duration, SystemTime};

use common::{TestApp, expect_error, expect_json, expect_status, noise};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CACHE_OFF: &str = "Caching via API is not supported at this site.";
const DENIED: &str = "Access was denied to this resource.";

async fn with_cache() -> TestApp {
    TestApp::builder().image_cache(|_| {}).start().await
}

async fn active_image(app: &TestApp, len: usize, seed: u64) -> String {
    let id = app.create_raw_image("img").await;
    app.upload_ok(&id, noise(len, seed)).await;
    id
}

async fn state(app: &TestApp) -> Value {
    expect_json(app.get("/v2/cache").send().await.unwrap(), StatusCode::OK).await
}

fn cached_ids(state: &Value) -> Vec<String> {
    state["cached_images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["image_id"].as_str().unwrap().to_owned())
        .collect()
}

fn queued_ids(state: &Value) -> Vec<String> {
    state["queued_images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

async fn download(app: &TestApp, id: &str) {
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes().await.unwrap();
}

/// Every call of the cache API on an image `id`.
fn calls(id: &str) -> Vec<(Method, String, Option<&'static str>)> {
    vec![
        (Method::GET, "/v2/cache".into(), None),
        (Method::PUT, format!("/v2/cache/{id}"), None),
        (Method::DELETE, format!("/v2/cache/{id}"), None),
        (Method::DELETE, "/v2/cache".into(), None),
        (Method::DELETE, "/v2/cache".into(), Some("both")),
        (Method::GET, format!("/v2/cache/nodes/{id}"), None),
        (Method::POST, "/v2/cache/clean".into(), None),
        (Method::POST, "/v2/cache/prune".into(), None),
    ]
}

#[tokio::test]
async fn with_the_cache_off_every_call_is_404_after_its_policy_check() {
    let app = TestApp::new().await;
    let id = active_image(&app, 10, 1).await;
    for (method, path, target) in calls(&id) {
        let mut request = app.request(method.clone(), &path);
        if let Some(target) = target {
            request = request.header("x-image-cache-clear-target", target);
        }
        let message = expect_error(request.send().await.unwrap(), StatusCode::NOT_FOUND).await;
        assert_eq!(message, CACHE_OFF, "{method} {path}");
        let member = app.member_of("p1").request(method.clone(), &path);
        let resp = member.send().await.unwrap();
        // The image is not the member's: PUT and DELETE of it look it up first.
        let expected = match (&method, path.as_str()) {
            (&Method::PUT, _) => StatusCode::NOT_FOUND,
            (&Method::DELETE, p) if p.ends_with(&id) => StatusCode::NOT_FOUND,
            _ => StatusCode::FORBIDDEN,
        };
        assert_eq!(resp.status(), expected, "member {method} {path}");
    }
    let versions = expect_json(app.get("/versions").send().await.unwrap(), StatusCode::OK).await;
    let ids: Vec<&str> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&"v2.14") && !ids.contains(&"v2.18"));
    let resp = app.get("/v2.18/cache").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::MULTIPLE_CHOICES);
    assert!(app.get("/v2/cached_images").send().await.unwrap().status() == StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_cache_api_is_for_admins() {
    let app = with_cache().await;
    let image = app
        .create_image(json!({"name": "pub", "visibility": "public",
                             "disk_format": "raw", "container_format": "bare"}))
        .await;
    let id = common::id_of(&image);
    app.upload_ok(&id, noise(10, 2)).await;
    for roles in ["member,reader", "reader"] {
        let caller = app.as_user("p1", roles);
        for (method, path, _) in calls(&id) {
            let resp = caller.request(method.clone(), &path).send().await.unwrap();
            assert_eq!(
                expect_error(resp, StatusCode::FORBIDDEN).await,
                DENIED,
                "{method} {path}"
            );
        }
    }
    let relaxed = TestApp::builder()
        .image_cache(|_| {})
        .policy_overrides("cache_list: ''\n")
        .start()
        .await;
    let resp = relaxed
        .member_of("p1")
        .get("/v2/cache")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_versions_document_lists_the_cache_versions() {
    let app = with_cache().await;
    let versions = expect_json(app.get("/versions").send().await.unwrap(), StatusCode::OK).await;
    let listed: Vec<String> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                v["id"].as_str().unwrap(),
                v["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        listed[..6],
        [
            "v2.18 CURRENT",
            "v2.17 SUPPORTED",
            "v2.16 SUPPORTED",
            "v2.15 SUPPORTED",
            "v2.14 SUPPORTED",
            "v2.9 SUPPORTED"
        ]
    );
    assert_eq!(listed.len(), 14);
    let base = format!("http://{}", app.addr());
    let doc = serde_json::to_string(&versions)
        .unwrap()
        .replace(&base, "http://HOST");
    let doc: Value = serde_json::from_str(&doc).unwrap();
    insta::assert_json_snapshot!("versions_with_cache", doc);
    let resp = app.get("/v2.14/cache").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .get("/cache")
        .header("Accept", "application/vnd.openstack.images-v2.18")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn queueing_an_image_is_idempotent_and_the_prefetcher_caches_it() {
    let app = TestApp::builder()
        .image_cache(|_| {})
        .without_prefetcher()
        .start()
        .await;
    let id = active_image(&app, 20_000, 3).await;
    assert_eq!(
        state(&app).await,
        json!({"cached_images": [], "queued_images": []})
    );
    for _ in 0..2 {
        let resp = app.put(&format!("/v2/cache/{id}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        assert!(resp.text().await.unwrap().is_empty());
    }
    assert_eq!(queued_ids(&state(&app).await), std::slice::from_ref(&id));

    let cached = app.service().prefetch_pending().await.unwrap();
    assert_eq!(cached, 1);
    let now = state(&app).await;
    assert!(queued_ids(&now).is_empty());
    let entry = &now["cached_images"][0];
    let keys: Vec<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "image_id",
            "last_accessed",
            "last_modified",
            "size",
            "hits",
            "checksum"
        ]
    );
    assert_eq!(
        (&entry["image_id"], &entry["hits"], &entry["size"]),
        (&json!(id), &json!(0), &json!(20_000))
    );
    assert!(entry["last_modified"].as_f64().unwrap() > 1.7e9);
    assert_eq!(app.cached_files(), std::slice::from_ref(&id));

    // Cached already: queueing again leaves the queue empty.
    let resp = app.put(&format!("/v2/cache/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(queued_ids(&state(&app).await).is_empty());
    assert_eq!(app.service().prefetch_pending().await.unwrap(), 0);
}

#[tokio::test]
async fn only_active_images_that_exist_can_be_queued() {
    let app = with_cache().await;
    let queued = app.create_raw_image("no data").await;
    let resp = app
        .put(&format!("/v2/cache/{queued}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::BAD_REQUEST).await,
        "Only images with status active can be targeted for queueing"
    );
    let unknown = glint_model::ImageId::new_random().to_string();
    for id in [unknown.as_str(), "non-existing-image-id"] {
        let resp = app.put(&format!("/v2/cache/{id}")).send().await.unwrap();
        assert_eq!(
            expect_error(resp, StatusCode::NOT_FOUND).await,
            format!("Image {id} not found.")
        );
    }
    assert!(queued_ids(&state(&app).await).is_empty());
}

#[tokio::test]
async fn deleting_an_entry_removes_it_from_the_cache_and_the_queue() {
    let app = TestApp::builder()
        .image_cache(|_| {})
        .without_prefetcher()
        .start()
        .await;
    let (cached, queued) = (
        active_image(&app, 1000, 4).await,
        active_image(&app, 1000, 5).await,
    );
    download(&app, &cached).await;
    app.put(&format!("/v2/cache/{queued}"))
        .send()
        .await
        .unwrap();
    for id in [&cached, &queued] {
        let resp = app.delete(&format!("/v2/cache/{id}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        state(&app).await,
        json!({"cached_images": [], "queued_images": []})
    );
    assert!(app.cached_files().is_empty());
    // An image not cached: nothing to do.
    let resp = app
        .delete(&format!("/v2/cache/{cached}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for id in [
        glint_model::ImageId::new_random().to_string(),
        "non-existing-image-id".into(),
    ] {
        let resp = app.delete(&format!("/v2/cache/{id}")).send().await.unwrap();
        assert_eq!(
            expect_error(resp, StatusCode::NOT_FOUND).await,
            format!("Image {id} not found.")
        );
    }
}

#[tokio::test]
async fn an_image_gone_from_the_catalogue_can_still_be_removed_from_the_cache() {
    let app = TestApp::builder()
        .image_cache(|_| {})
        .without_prefetcher()
        .start()
        .await;
    let id = active_image(&app, 1000, 6).await;
    download(&app, &id).await;
    let image = glint_model::ImageId::parse(&id).unwrap();
    let stored = app.db().get_image_versioned(image).await.unwrap().unwrap();
    // Deleted by another node, whose cache records go with it but whose
    // delete cannot reach this node's files.
    app.db()
        .delete_image(
            image,
            stored.version,
            glint_model::ImageStatus::Deleted,
            glint_model::time::now(),
        )
        .await
        .unwrap();
    assert_eq!(cached_ids(&state(&app).await), std::slice::from_ref(&id));
    let resp = app.delete(&format!("/v2/cache/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(app.cached_files().is_empty());
    let resp = app.delete(&format!("/v2/cache/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn clearing_takes_the_target_header() {
    let app = TestApp::builder()
        .image_cache(|_| {})
        .without_prefetcher()
        .start()
        .await;
    let (a, b) = (
        active_image(&app, 1000, 7).await,
        active_image(&app, 1000, 8).await,
    );
    let fill = || async {
        download(&app, &a).await;
        app.put(&format!("/v2/cache/{b}")).send().await.unwrap();
    };
    let clear = |target: Option<&'static str>| {
        let mut request = app.delete("/v2/cache");
        if let Some(target) = target {
            request = request.header("x-image-cache-clear-target", target);
        }
        request.send()
    };
    fill().await;
    let resp = clear(Some("both")).await.unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::BAD_REQUEST).await,
        "If provided 'x-image-cache-clear-target' must be 'cache', 'queue' or empty string."
    );
    let resp = clear(Some("CACHE")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let now = state(&app).await;
    assert_eq!(
        (cached_ids(&now).len(), queued_ids(&now)),
        (0, vec![b.clone()])
    );
    assert!(app.cached_files().is_empty());

    fill().await;
    assert_eq!(
        clear(Some("queue")).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let now = state(&app).await;
    assert_eq!(
        (cached_ids(&now), queued_ids(&now).len()),
        (vec![a.clone()], 0)
    );

    app.put(&format!("/v2/cache/{b}")).send().await.unwrap();
    for target in [None, Some("")] {
        fill().await;
        assert_eq!(
            clear(target).await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            state(&app).await,
            json!({"cached_images": [], "queued_images": []})
        );
    }
}

#[tokio::test]
async fn cached_nodes_name_this_node_once_it_caches_the_image() {
    let app = TestApp::builder()
        .image_cache(|c| c.node_reference = "http://workerx:9292".into())
        .start()
        .await;
    let id = active_image(&app, 1000, 9).await;
    let nodes = |id: String| app.get(&format!("/v2/cache/nodes/{id}")).send();
    assert_eq!(
        expect_json(nodes(id.clone()).await.unwrap(), StatusCode::OK).await,
        json!([])
    );
    download(&app, &id).await;
    assert_eq!(
        expect_json(nodes(id.clone()).await.unwrap(), StatusCode::OK).await,
        json!(["http://workerx:9292"])
    );
    for missing in [
        glint_model::ImageId::new_random().to_string(),
        "not-a-valid-uuid".into(),
    ] {
        let resp = nodes(missing.clone()).await.unwrap();
        assert_eq!(
            expect_error(resp, StatusCode::NOT_FOUND).await,
            format!("Image {missing} not found.")
        );
    }
}

#[tokio::test]
async fn writes_prune_the_least_recently_served_images_first() {
    let app = TestApp::builder()
        .image_cache(|c| c.max_size = 25_000)
        .start()
        .await;
    let a = active_image(&app, 10_000, 10).await;
    let b = active_image(&app, 10_000, 11).await;
    let c = active_image(&app, 10_000, 12).await;
    download(&app, &a).await;
    download(&app, &b).await;
    download(&app, &a).await;
    download(&app, &c).await;
    let mut expected = vec![a.clone(), c.clone()];
    expected.sort();
    assert_eq!(app.cached_files(), expected, "b was served least recently");
    assert_eq!(cached_ids(&state(&app).await), [a, c]);

    let prune = || app.post("/v2/cache/prune").send();
    let resp = prune().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        expect_json(resp, StatusCode::OK).await,
        json!({"total_files_pruned": 0, "total_bytes_pruned": 0})
    );
    // A file the records do not know goes first.
    let stray = glint_model::ImageId::new_random().to_string();
    std::fs::write(app.cache_dir().join(&stray), noise(7_000, 13)).unwrap();
    assert_eq!(
        expect_json(prune().await.unwrap(), StatusCode::OK).await,
        json!({"total_files_pruned": 1, "total_bytes_pruned": 7000})
    );
    assert_eq!(app.cached_files(), expected);
}

#[tokio::test]
async fn an_image_larger_than_the_cache_is_not_cached() {
    let app = TestApp::builder()
        .image_cache(|c| c.max_size = 5_000)
        .without_prefetcher()
        .start()
        .await;
    let id = active_image(&app, 10_000, 14).await;
    download(&app, &id).await;
    app.put(&format!("/v2/cache/{id}")).send().await.unwrap();
    assert_eq!(app.service().prefetch_pending().await.unwrap(), 0);
    assert!(app.cached_files().is_empty());
    assert_eq!(
        state(&app).await,
        json!({"cached_images": [], "queued_images": []})
    );
}

#[tokio::test]
async fn cleaning_removes_invalid_stalled_and_stale_files() {
    let app = with_cache().await;
    let dir = app.cache_dir();
    let write = |path: std::path::PathBuf, age_secs: u64| {
        std::fs::write(&path, b"data").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
            .unwrap();
    };
    write(dir.join("invalid").join("invalid-image-id"), 0);
    write(dir.join("incomplete").join("stalled-image-id"), 2 * 86_400);
    write(dir.join("incomplete").join("recent-image-id"), 0);
    let stray = glint_model::ImageId::new_random().to_string();
    write(dir.join(&stray), 0);
    let kept = active_image(&app, 1000, 15).await;
    download(&app, &kept).await;

    let resp = app.post("/v2/cache/clean").send().await.unwrap();
    assert_eq!(expect_status(resp, StatusCode::OK).await, "");
    assert!(!dir.join("invalid").join("invalid-image-id").exists());
    assert!(!dir.join("incomplete").join("stalled-image-id").exists());
    assert!(dir.join("incomplete").join("recent-image-id").exists());
    assert_eq!(app.cached_files(), std::slice::from_ref(&kept));
    assert_eq!(cached_ids(&state(&app).await), [kept]);
}

#[tokio::test]
async fn the_legacy_paths_answer_with_a_cachemanagement_flavor() {
    let app = TestApp::builder()
        .image_cache(|_| {})
        .without_prefetcher()
        .api_config(|c| c.cache_management = true)
        .start()
        .await;
    let (a, b) = (
        active_image(&app, 1000, 16).await,
        active_image(&app, 1000, 17).await,
    );
    download(&app, &a).await;
    let app = &app;
    let get = |path: &'static str| async move {
        expect_json(app.get(path).send().await.unwrap(), StatusCode::OK).await
    };
    let cached = get("/v2/cached_images").await;
    assert_eq!(cached["cached_images"][0]["image_id"], a.as_str());
    assert_eq!(cached.as_object().unwrap().len(), 1);

    let put = app
        .put(&format!("/v2/queued_images/{b}"))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(put, StatusCode::OK).await, Value::Null);
    assert_eq!(
        get("/v2/queued_images").await,
        json!({"queued_images": [b.clone()]})
    );
    let resp = app
        .delete(&format!("/v2/queued_images/{b}"))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(resp, StatusCode::OK).await, Value::Null);
    app.put(&format!("/v2/queued_images/{b}"))
        .send()
        .await
        .unwrap();
    let resp = app.delete("/v2/queued_images").send().await.unwrap();
    assert_eq!(
        expect_json(resp, StatusCode::OK).await,
        json!({"num_deleted": 1})
    );

    let resp = app
        .delete(&format!("/v2/cached_images/{a}"))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(resp, StatusCode::OK).await, Value::Null);
    download(app, &a).await;
    let resp = app.delete("/v2/cached_images").send().await.unwrap();
    assert_eq!(
        expect_json(resp, StatusCode::OK).await,
        json!({"num_deleted": 1})
    );
    assert_eq!(get("/v2/cached_images").await, json!({"cached_images": []}));

    let member = app.member_of("p1");
    let resp = member.get("/v2/cached_images").send().await.unwrap();
    assert_eq!(expect_error(resp, StatusCode::FORBIDDEN).await, DENIED);
    let resp = app.post("/v2/cached_images").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let plain = with_cache().await;
    let resp = plain.get("/v2/cached_images").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
