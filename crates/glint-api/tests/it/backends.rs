//! The main API flows on every configured database (SQLite always;
//! PostgreSQL and MariaDB when GLINT_TEST_POSTGRES_URL / GLINT_TEST_MYSQL_URL
//! are set), since their SQL differs.

use crate::common;

use common::{TestApp, expect_error, expect_status, id_of, md5_hex, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn create_upload_download_delete_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        let image = app
            .create_image(
                json!({"name": "flow", "disk_format": "raw", "container_format": "bare",
                                 "os_distro": "cirros", "tags": ["x"]}),
            )
            .await;
        let id = id_of(&image);
        let data = vec![5u8; 3000];
        app.upload_ok(&id, data.clone()).await;
        let shown = app.image(&id).await;
        assert_eq!(shown["status"], "active");
        assert_eq!(shown["checksum"], md5_hex(&data));
        assert_eq!(shown["os_distro"], "cirros");
        let resp = app
            .get(&format!("/v2/images/{id}/file"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.bytes().await.unwrap()[..], data[..]);
        let ops = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
        assert_eq!(app.admin().patch(&id, ops).await.status(), StatusCode::OK);
        let resp = app
            .delete(&format!("/v2/images/{id}"))
            .send()
            .await
            .unwrap();
        expect_status(resp, StatusCode::NO_CONTENT).await;
        let resp = app.get(&format!("/v2/images/{id}")).send().await.unwrap();
        expect_error(resp, StatusCode::NOT_FOUND).await;
    })
    .await;
}

#[tokio::test]
async fn list_filters_and_paging_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        for i in 0..7 {
            let tags = if i % 2 == 0 {
                json!(["even"])
            } else {
                json!([])
            };
            let body = json!({"name": format!("n{i}"), "tags": tags, "min_ram": i * 100,
                              "os_distro": if i < 3 { "low" } else { "high" }});
            app.create_image(body).await;
        }
        let admin = app.admin();
        assert_eq!(
            admin.list_names("tag=even&sort=name:asc").await,
            ["n0", "n2", "n4", "n6"]
        );
        assert_eq!(
            admin.list_names("os_distro=low&sort=name:asc").await,
            ["n0", "n1", "n2"]
        );
        assert_eq!(
            admin.list_names("name=in:n1,n5&sort=name:desc").await,
            ["n5", "n1"]
        );
        assert_eq!(admin.list_names("min_ram=300").await, ["n3"]);
        let mut walked = Vec::new();
        let mut path = "/v2/images?limit=3&sort_key=name&sort_dir=asc".to_string();
        loop {
            let page: serde_json::Value =
                app.get(&path).send().await.unwrap().json().await.unwrap();
            walked.extend(common::names(&page));
            match page.get("next").and_then(|n| n.as_str()) {
                Some(next) => path = next.to_string(),
                None => break,
            }
        }
        assert_eq!(walked, ["n0", "n1", "n2", "n3", "n4", "n5", "n6"]);
    })
    .await;
}

#[tokio::test]
async fn failed_upload_resets_image_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        let body = json!({"disk_format": "qcow2", "container_format": "bare"});
        let id = id_of(&app.create_image(body).await);
        let resp = app.upload(&id, common::noise(4096, 3)).await;
        expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert_eq!(app.image(&id).await["status"], "queued");
        assert!(app.store_files().is_empty());
    })
    .await;
}
