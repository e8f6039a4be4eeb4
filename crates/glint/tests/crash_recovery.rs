//! The real `glint serve` process: an upload cut short by SIGKILL is
//! undone at the next start, and SIGTERM stops the server cleanly.

mod common;

use std::time::{Duration, Instant};

use common::{Server, Setup};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn show(client: &reqwest::Client, server: &Server, id: &str) -> Value {
    let resp = client
        .get(server.url(&format!("/v2/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{}", server.logs());
    resp.json().await.unwrap()
}

/// Sends the head of a chunked upload and `mib` MiB of data, then keeps
/// the connection open without finishing the body.
async fn start_slow_upload(port: u16, id: &str, mib: usize) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    for _ in 0..mib {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        stream.write_all(&frame).await.unwrap();
    }
    stream.flush().await.unwrap();
    stream
}

#[tokio::test]
async fn upload_interrupted_by_sigkill_is_queued_with_no_data_after_restart() {
    let setup = Setup::new();
    let client = reqwest::Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let body = json!({"name": "interrupted", "disk_format": "raw", "container_format": "bare"});
    let resp = client
        .post(server.url("/v2/images"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let upload = start_slow_upload(setup.port, &id, 8).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while show(&client, &server, &id).await["status"] != "saving" {
        assert!(
            Instant::now() < deadline,
            "upload never started:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    while setup.store_files().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no partial file:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reap");
    drop(upload);
    drop(server);

    let mut server = setup.start();
    server.wait_ready(&client).await;
    let image = show(&client, &server, &id).await;
    assert_eq!(image["status"], "queued", "{image:#}");
    assert_eq!(image["size"], Value::Null);
    assert_eq!(image["checksum"], Value::Null);
    assert_eq!(
        setup.store_files(),
        Vec::<String>::new(),
        "no partial or temp file"
    );

    let data = vec![7u8; 2 * 1024 * 1024];
    let resp = client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("Content-Type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{}", server.logs());
    let image = show(&client, &server, &id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], data.len());
    assert_eq!(setup.store_files(), [id]);
}

#[tokio::test]
async fn sigterm_stops_the_server_with_exit_code_zero() {
    let setup = Setup::new();
    let client = reqwest::Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    server.signal("TERM");
    let status = server.wait_exit().await;
    assert!(status.success(), "exit status {status}:\n{}", server.logs());
    let refused = client.get(server.url("/versions")).send().await;
    assert!(refused.is_err(), "nothing listens after shutdown");
}

#[tokio::test]
async fn sigint_stops_the_server_with_exit_code_zero() {
    let setup = Setup::new();
    let client = reqwest::Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    server.signal("INT");
    let status = server.wait_exit().await;
    assert!(status.success(), "exit status {status}:\n{}", server.logs());
}

#[tokio::test]
async fn data_survives_a_restart() {
    let setup = Setup::new();
    let client = reqwest::Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let body = json!({"name": "kept", "disk_format": "raw", "container_format": "bare"});
    let resp = client
        .post(server.url("/v2/images"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("Content-Type", "application/octet-stream")
        .body(vec![1u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    server.signal("TERM");
    server.wait_exit().await;
    drop(server);

    let mut server = setup.start();
    server.wait_ready(&client).await;
    let image = show(&client, &server, &id).await;
    assert_eq!(image["status"], "active");
    let resp = client
        .get(server.url(&format!("/v2/images/{id}/file")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap()[..], [1u8; 4096]);
}
