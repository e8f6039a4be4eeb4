//! The image cache of the real `glint serve`: `PUT /v2/cache/{id}` wakes
//! the prefetcher, which puts the image in `image_cache_dir`; images queued
//! by a previous run are prefetched when the server starts again; SIGTERM
//! stops the cache's task with the server.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Server, Setup};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NODE: &str = "http://glint-test-node:9292";

fn cache_config(cache_dir: &Path) -> String {
    format!(
        "[DEFAULT]\nimage_cache_dir = {}\nworker_self_reference_url = {NODE}\n\
         [paste_deploy]\nflavor = caching\n",
        cache_dir.display()
    )
}

async fn upload_image(client: &reqwest::Client, server: &Server, data: &[u8]) -> String {
    let body = json!({"name": "cached", "disk_format": "raw", "container_format": "bare"});
    let id = server.create_image(client, body).await;
    let resp = client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{}", server.logs());
    id
}

async fn cache_state(client: &reqwest::Client, server: &Server) -> Value {
    let resp = client.get(server.url("/v2/cache")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{}", server.logs());
    resp.json().await.unwrap()
}

/// Polls until the cache directory holds the image's file and the cache
/// API lists it; panics after 20 seconds.
async fn wait_cached(client: &reqwest::Client, server: &Server, cache_dir: &Path, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = cache_state(client, server).await;
        let listed = state["cached_images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["image_id"] == id);
        if listed && cache_dir.join(id).is_file() {
            assert!(state["queued_images"].as_array().unwrap().is_empty());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "image {id} was never cached: {state}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn queueing_an_image_puts_it_in_the_cache_directory() {
    let scratch = tempfile::tempdir().unwrap();
    let cache_dir = scratch.path().join("cache");
    let setup = Setup::with_config(&cache_config(&cache_dir));
    let mut server = setup.start();
    let client = reqwest::Client::new();
    server.wait_ready(&client).await;
    let versions: Value = client
        .get(server.url("/versions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions["versions"][0]["id"], "v2.18");

    let data = common_data(700_000);
    let id = upload_image(&client, &server, &data).await;
    let resp = client
        .put(server.url(&format!("/v2/cache/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    wait_cached(&client, &server, &cache_dir, &id).await;
    assert_eq!(std::fs::read(cache_dir.join(&id)).unwrap(), data);
    let nodes: Value = client
        .get(server.url(&format!("/v2/cache/nodes/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(nodes, json!([NODE]));

    // The cached file serves the download, even with the store's file gone.
    std::fs::remove_file(setup.dir.path().join("data").join("images").join(&id)).unwrap();
    let resp = client
        .get(server.url(&format!("/v2/images/{id}/file")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), data);

    server.signal("TERM");
    let status = server.wait_exit().await;
    assert!(status.success(), "{status}\n{}", server.logs());
}

#[tokio::test]
async fn images_queued_before_a_restart_are_prefetched_when_it_starts() {
    let scratch = tempfile::tempdir().unwrap();
    let cache_dir = scratch.path().join("cache");
    let setup = Setup::with_config(&cache_config(&cache_dir));
    let client = reqwest::Client::new();
    let data = common_data(300_000);
    let id = {
        let mut server = setup.start();
        server.wait_ready(&client).await;
        let id = upload_image(&client, &server, &data).await;
        server.signal("TERM");
        server.wait_exit().await;
        id
    };
    // Queued while the server was down, as a crash between queueing and
    // prefetching would leave it.
    let url = format!(
        "sqlite://{}",
        setup.dir.path().join("data").join("glint.sqlite").display()
    );
    let db = glint_db::Database::connect(&url).await.unwrap();
    let node = db.register_cache_node(NODE).await.unwrap();
    let image = glint_model::ImageId::parse(&id).unwrap();
    db.queue_prefetch(node, image, glint_model::time::now())
        .await
        .unwrap();
    db.close().await;

    let mut server = setup.start();
    server.wait_ready(&client).await;
    wait_cached(&client, &server, &cache_dir, &id).await;
    assert_eq!(std::fs::read(cache_dir.join(&id)).unwrap(), data);
}

/// Bytes that are no disk format.
fn common_data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}
