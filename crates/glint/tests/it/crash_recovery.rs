//! The real `glint serve` process: an upload cut short by SIGKILL is
//! undone when the server starts again (its process has ended, whatever
//! its lease still says), an upload another process on the same host is
//! running is left alone, and SIGTERM stops the server cleanly.

use crate::common;

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

/// A short upload lease, so that a dead upload is reclaimed within seconds.
const SHORT_LEASE: &str = "upload_lease_time = 1\n";

async fn create_raw_image(client: &reqwest::Client, server: &Server, name: &str) -> String {
    let body = json!({"name": name, "disk_format": "raw", "container_format": "bare"});
    server.create_image(client, body).await
}

/// Polls until the image is in `status`; panics after `within`.
async fn wait_for_status(
    client: &reqwest::Client,
    server: &Server,
    id: &str,
    status: &str,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let image = show(client, server, id).await;
        if image["status"] == status {
            return image;
        }
        assert!(
            Instant::now() < deadline,
            "image never reached {status}: {image:#}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    // The default lease (minutes): the restart must not wait for it.
    let setup = Setup::with_config("");
    let client = reqwest::Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let id = create_raw_image(&client, &server, "interrupted").await;

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
    // Reset during start-up, before the server listens.
    let image = show(&client, &server, &id).await;
    assert_eq!(image["status"], "queued", "{}", server.logs());
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
async fn an_upload_running_in_another_process_survives_a_start_on_the_same_host() {
    let setup = Setup::with_config(SHORT_LEASE);
    let client = reqwest::Client::new();
    let mut first = setup.start();
    first.wait_ready(&client).await;
    let id = create_raw_image(&client, &first, "long upload").await;
    let mut upload = start_slow_upload(setup.port, &id, 1).await;
    wait_for_status(&client, &first, &id, "saving", Duration::from_secs(10)).await;

    let mut second = setup.start_another(SHORT_LEASE);
    second.wait_ready(&client).await;
    // Several lease times pass, with the second server checking for
    // interrupted uploads each time, while the first keeps sending.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        let frame = [b"400\r\n".as_slice(), &[7u8; 1024], b"\r\n"].concat();
        upload.write_all(&frame).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(show(&client, &second, &id).await["status"], "saving");
    }
    upload.write_all(b"0\r\n\r\n").await.unwrap();
    let image = wait_for_status(&client, &second, &id, "active", Duration::from_secs(10)).await;
    assert!(image["size"].as_u64().unwrap() > 1 << 20, "{image:#}");
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
