//! Connections are bounded: a client that sends half a request, a
//! kept-alive connection left idle, a request body that stops arriving and
//! a crowd of connections over the cap are all cut off, while other
//! clients go on being served. Shutdown lets requests in flight finish.

use crate::common;

use std::time::{Duration, Instant};

use common::raw::{read_response, send_chunk, start_chunked_upload};
use common::{TestApp, expect_status};
use glint_api::ConnectionLimits;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for something that should happen within seconds.
const PATIENCE: Duration = Duration::from_secs(15);

async fn app_with(change: impl FnOnce(&mut ConnectionLimits)) -> TestApp {
    let mut limits = ConnectionLimits::default();
    change(&mut limits);
    TestApp::builder()
        .api_config(|c| c.connections = limits)
        .start()
        .await
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read_all)
        .await
        .expect("the server closed the connection");
    seen
}

fn request(app: &TestApp, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\r\n",
        app.addr()
    )
}

/// Sends one request on a kept-alive connection and reads its answer.
async fn exchange_on(stream: &mut TcpStream, app: &TestApp, path: &str) -> u16 {
    stream
        .write_all(request(app, path).as_bytes())
        .await
        .unwrap();
    read_response(stream).await.status
}

#[tokio::test]
async fn half_sent_request_is_cut_off_while_others_are_served() {
    let timeout = Duration::from_secs(2);
    let app = app_with(|l| l.header_read_timeout = timeout).await;
    let mut half = TcpStream::connect(app.addr()).await.unwrap();
    half.write_all(b"GET /v2/images HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Stalled: ")
        .await
        .unwrap();
    let started = Instant::now();

    let asked = Instant::now();
    let resp = app.get("/v2/images").send().await.unwrap();
    expect_status(resp, StatusCode::OK).await;
    let latency = asked.elapsed();
    assert!(latency < timeout / 2, "another client waited {latency:?}");
    let mut probe = [0u8; 1];
    assert!(
        matches!(half.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the half-sent request was cut off before its time"
    );

    let answer = read_until_closed(&mut half).await;
    let waited = started.elapsed();
    assert!(waited >= timeout.mul_f32(0.9), "closed after {waited:?}");
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_secs(1);
    let app = app_with(|l| l.keep_alive_timeout = idle).await;
    let mut conn = TcpStream::connect(app.addr()).await.unwrap();
    assert_eq!(exchange_on(&mut conn, &app, "/v2/images").await, 200);
    let answered = Instant::now();
    assert!(read_until_closed(&mut conn).await.is_empty());
    let waited = answered.elapsed();
    assert!(waited >= idle.mul_f32(0.9), "closed after {waited:?}");
}

/// The head of a following request on a kept-alive connection is held to
/// the header timeout from its first byte, though the idle limit it was
/// under ends much later; and the close comes on time, for the first head
/// and for the second.
#[tokio::test]
async fn half_sent_second_request_is_cut_off_at_the_header_timeout() {
    let timeout = Duration::from_secs(1);
    let app = app_with(|l| {
        l.header_read_timeout = timeout;
        l.keep_alive_timeout = Duration::from_secs(600);
    })
    .await;
    let mut conn = TcpStream::connect(app.addr()).await.unwrap();
    assert_eq!(exchange_on(&mut conn, &app, "/v2/images").await, 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(exchange_on(&mut conn, &app, "/v2/images").await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.write_all(b"GET /v2/images HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Stalled: ")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(read_until_closed(&mut conn).await.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= timeout.mul_f32(0.9) && waited < timeout * 3,
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn kept_alive_connection_is_not_held_to_the_header_timeout() {
    let app = app_with(|l| l.header_read_timeout = Duration::from_millis(500)).await;
    let mut conn = TcpStream::connect(app.addr()).await.unwrap();
    assert_eq!(exchange_on(&mut conn, &app, "/v2/images").await, 200);
    // Idle for longer than a head may take, shorter than the idle limit.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(exchange_on(&mut conn, &app, "/v2/images").await, 200);
}

/// Sends a `PUT` of `length` bytes of image data, of which only `sent`
/// are sent, and reads the answer.
async fn upload_on(
    stream: &mut TcpStream,
    app: &TestApp,
    id: &str,
    length: usize,
    sent: usize,
) -> common::raw::RawResponse {
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n",
        app.addr()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![5u8; sent]).await.unwrap();
    read_response(stream).await
}

#[tokio::test]
async fn an_answer_given_before_its_body_was_read_closes_the_connection() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("raced").await;
    let mut conn = TcpStream::connect(app.addr()).await.unwrap();
    // A whole upload and a read keep the connection open.
    let stored = upload_on(&mut conn, &app, &id, 65536, 65536).await;
    assert_eq!(stored.status, 204, "{}", stored.body);
    assert_eq!(stored.header("connection"), None);
    conn.write_all(request(&app, &format!("/v2/images/{id}")).as_bytes())
        .await
        .unwrap();
    let shown = read_response(&mut conn).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.header("connection"), None);
    // An upload refused before its data was read says so, and the
    // connection ends: the rest of its data is never taken for a request.
    let refused = upload_on(&mut conn, &app, &id, 1 << 20, 65536).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.header("connection"), Some("close"));
    assert!(read_until_closed(&mut conn).await.is_empty());
    // A client that follows the header sends its next request elsewhere.
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let resp = client
            .put(app.url(&format!("/v2/images/{id}/file")))
            .header("Content-Type", "application/octet-stream")
            .body(vec![6u8; 256 * 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let resp = client
            .get(app.url(&format!("/v2/images/{id}")))
            .send()
            .await;
        assert_eq!(resp.unwrap().status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_and_those_inside_keep_working() {
    let app = app_with(|l| l.max_connections = 3).await;
    let mut inside = Vec::new();
    for _ in 0..3 {
        let mut conn = TcpStream::connect(app.addr()).await.unwrap();
        assert_eq!(exchange_on(&mut conn, &app, "/versions").await, 200);
        inside.push(conn);
    }
    let mut extra = TcpStream::connect(app.addr()).await.unwrap();
    let _ = extra.write_all(request(&app, "/versions").as_bytes()).await;
    let answer = read_until_closed(&mut extra).await;
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    for conn in &mut inside {
        assert_eq!(exchange_on(conn, &app, "/v2/images").await, 200);
    }
    // A slot frees when a connection ends.
    drop(inside.pop());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut conn = TcpStream::connect(app.addr()).await.unwrap();
        let _ = conn.write_all(request(&app, "/versions").as_bytes()).await;
        let answer = read_until_closed_or_answer(&mut conn).await;
        if answer.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first bytes of an answer, or nothing when the server closes.
async fn read_until_closed_or_answer(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
        Ok(Ok(n)) => buf[..n].to_vec(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn upload_that_stops_arriving_returns_the_image_to_queued() {
    let app = app_with(|l| l.body_idle_timeout = Duration::from_secs(1)).await;
    let id = app.create_raw_image("stalled").await;
    let mut upload = start_chunked_upload(app.addr(), &id).await;
    send_chunk(&mut upload, &[7u8; 65536]).await;
    app.wait_for_image(&id, PATIENCE, |i| i["status"] == "saving")
        .await;
    let image = app
        .wait_for_image(&id, PATIENCE, |i| i["status"] == "queued")
        .await;
    assert!(image["checksum"].is_null());
    app.wait_for_store_files(&[], PATIENCE).await;
    let answer = read_response(&mut upload).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("no data for 1 s"), "{}", answer.body);
    // The image takes a complete upload afterwards.
    app.upload_ok(&id, vec![1u8; 4096]).await;
    assert_eq!(app.image(&id).await["status"], "active");
}

#[tokio::test]
async fn slow_but_steady_upload_is_not_cut_off() {
    let app = app_with(|l| l.body_idle_timeout = Duration::from_secs(1)).await;
    let id = app.create_raw_image("steady").await;
    let mut upload = start_chunked_upload(app.addr(), &id).await;
    for _ in 0..4 {
        send_chunk(&mut upload, &[3u8; 1024]).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    upload.write_all(b"0\r\n\r\n").await.unwrap();
    assert_eq!(read_response(&mut upload).await.status, 204);
    assert_eq!(app.image(&id).await["size"], 4096);
}

#[tokio::test]
async fn json_body_that_stops_arriving_is_400() {
    let app = app_with(|l| l.body_idle_timeout = Duration::from_secs(1)).await;
    let mut conn = TcpStream::connect(app.addr()).await.unwrap();
    let head = format!(
        "POST /v2/images HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": ",
        app.addr()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let answer = read_response(&mut conn).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(
        answer.body.contains("Could not read the request body"),
        "{}",
        answer.body
    );
    assert!(app.admin().list_names("").await.is_empty());
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let mut app = TestApp::new().await;
    let id = app.create_raw_image("in-flight").await;
    let mut upload = start_chunked_upload(app.addr(), &id).await;
    send_chunk(&mut upload, &[9u8; 2048]).await;
    app.wait_for_image(&id, PATIENCE, |i| i["status"] == "saving")
        .await;
    app.begin_shutdown();
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(app.addr()).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after shutdown");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send_chunk(&mut upload, &[9u8; 2048]).await;
    upload.write_all(b"0\r\n\r\n").await.unwrap();
    assert_eq!(read_response(&mut upload).await.status, 204);
    let image = app
        .db()
        .get_image(glint_model::ImageId::parse(&id).unwrap())
        .await
        .unwrap()
        .expect("the image");
    assert_eq!(image.status, glint_model::ImageStatus::Active);
}
