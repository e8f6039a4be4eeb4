//! The work an upload does after its request handed it over (in a task of
//! its own) still logs with the request's id.

use crate::common;

use common::TestApp;
use common::logs::CapturedLogs;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_task_logs_with_the_request_id() {
    let captured = CapturedLogs::start_global();

    let app = TestApp::new().await;
    let id = app.create_raw_image("logged").await;
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .header("x-openstack-request-id", "req-upload-log-check")
        .body(vec![3u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let lines = captured.lines();
    let stored: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("image data stored") && l.contains(&id))
        .collect();
    assert_eq!(stored.len(), 1, "{lines:#?}");
    assert!(stored[0].contains("req-upload-log-check"), "{}", stored[0]);
}
