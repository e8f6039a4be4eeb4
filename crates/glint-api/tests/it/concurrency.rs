//! Many clients at once: no request may fail for the database being busy.

use crate::common;

use common::{TestApp, expect_json, expect_status, id_of, md5_hex, noise};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

const CLIENTS: u64 = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_and_uploads_all_succeed() {
    let app = TestApp::new().await;
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let client = app.client().clone();
        let base = app.url("");
        tasks.push(tokio::spawn(async move {
            let body =
                json!({"name": format!("c{i}"), "disk_format": "raw", "container_format": "bare"});
            let resp = client
                .post(format!("{base}/v2/images"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let id = id_of(&expect_json(resp, StatusCode::CREATED).await);
            let data = noise(256 * 1024, i + 1);
            let resp = client
                .put(format!("{base}/v2/images/{id}/file"))
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(data.clone())
                .send()
                .await
                .unwrap();
            expect_status(resp, StatusCode::NO_CONTENT).await;
            (id, md5_hex(&data))
        }));
    }
    let mut uploaded = Vec::new();
    for task in tasks {
        uploaded.push(task.await.expect("client task"));
    }
    for (id, checksum) in &uploaded {
        let image = app.image(id).await;
        assert_eq!(image["status"], "active");
        assert_eq!(&image["checksum"], checksum);
    }
    let page = app.admin().list("status=active&limit=100").await;
    assert_eq!(page["images"].as_array().unwrap().len(), CLIENTS as usize);
    assert_eq!(app.store_files().len(), CLIENTS as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_one_image_all_answer_without_server_errors() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("contended").await;
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let client = app.client().clone();
        let url = app.url(&format!("/v2/images/{id}"));
        tasks.push(tokio::spawn(async move {
            let ops = json!([{"op": "add", "path": format!("/k{i}"), "value": "v"}]);
            let resp = client
                .patch(url)
                .header(CONTENT_TYPE, common::PATCH_V21)
                .body(ops.to_string())
                .send()
                .await
                .unwrap();
            resp.status()
        }));
    }
    for task in tasks {
        let status = task.await.expect("client task");
        assert!(
            status == StatusCode::OK || status == StatusCode::CONFLICT,
            "unexpected {status}"
        );
    }
}
