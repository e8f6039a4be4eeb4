//! Two glint processes on one database run the same import queue: every
//! import task runs once, whichever process's worker (or direct claim)
//! gets it first, and every image ends `active` with one copy of its data.

use std::time::Duration;

use crate::common::logs::CapturedLogs;
use crate::common::{self, Backend, TestApp, expect_status, noise};
use crate::image_import::{import, serve_bytes, wait_for_task};
use reqwest::StatusCode;
use serde_json::json;

const IMAGES: usize = 12;

#[tokio::test]
async fn two_processes_on_one_database_run_each_import_once() {
    let (logs, _guard) = CapturedLogs::start();
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let data = noise(64 * 1024, 3);
        let addr = serve_bytes(data.clone()).await;
        let lists = glint_store::ImportFilterLists {
            allowed_hosts: vec!["127.0.0.1".into()],
            allowed_ports: Vec::new(),
            ..Default::default()
        };
        let filter = || glint_store::ImportFilter::new(&lists).unwrap();
        let first = TestApp::builder()
            .backend(backend)
            .import_filter(filter())
            .start()
            .await;
        let second = TestApp::builder()
            .sharing_data_with(&first)
            .import_filter(filter())
            .start()
            .await;
        let body =
            json!({"method": {"name": "web-download", "uri": format!("http://{addr}/image")}});
        let mut ids = Vec::new();
        for n in 0..IMAGES {
            let app = if n % 2 == 0 { &first } else { &second };
            let id = app.create_raw_image(&format!("raced-{n}")).await;
            expect_status(import(app, &id, body.clone()).await, StatusCode::ACCEPTED).await;
            ids.push(id);
        }
        // Both processes also claim every task still listed, at once, as
        // their workers would on their next pass.
        let listed = first.service().unfinished_imports(100).await.unwrap();
        let claims = listed.iter().flat_map(|task| {
            [
                first.service().claim_and_run_import(task.clone()),
                second.service().claim_and_run_import(task.clone()),
            ]
        });
        for claimed in futures::future::join_all(claims).await {
            claimed.unwrap();
        }
        for id in &ids {
            let image = first
                .wait_for_image(id, Duration::from_secs(20), |i| {
                    // Active first; the lock goes in the import's last save.
                    i["status"] == "active" && i.get("os_glance_import_task").is_none()
                })
                .await;
            assert_eq!(image["checksum"], common::md5_hex(&data));
            assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
            wait_for_task(&first, id, "success").await;
            let imported = logs
                .lines()
                .iter()
                .filter(|l| l.contains("image data imported to store") && l.contains(id.as_str()))
                .count();
            assert_eq!(imported, 1, "image {id} imported {imported} times");
        }
        let mut stored = first.store_files();
        stored.sort();
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(stored, expected);
        assert_eq!(first.service().unfinished_import_count().await.unwrap(), 0);
        drop(second);
    }
}
