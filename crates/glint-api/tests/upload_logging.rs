//! The work an upload does after its request handed it over (in a task of
//! its own) still logs with the request's id.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::TestApp;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

/// Every log line, as the server would print it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines().map(str::to_owned).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_task_logs_with_the_request_id() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

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
