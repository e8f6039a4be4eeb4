//! A client that stops reading a response is cut off after the send
//! timeout and its download stops reading the store, while other clients
//! go on being served; a client that reads slowly but steadily gets every
//! byte.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{TestApp, expect_status, noise};
use glint_api::ConnectionLimits;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long a test waits for something that should happen within seconds.
const PATIENCE: Duration = Duration::from_secs(20);
/// Far more than the kernel buffers on both ends hold, so a client that
/// stops reading leaves the server with bytes it cannot send.
const LARGE: usize = 16 * 1024 * 1024;
/// The client's receive buffer: small and fixed, so that the server's
/// writes wait on a reader that has stopped.
const CLIENT_BUFFER: u32 = 16 * 1024;

async fn app_with_send_timeout(timeout: Duration) -> TestApp {
    let limits = ConnectionLimits {
        send_timeout: timeout,
        ..ConnectionLimits::default()
    };
    TestApp::builder()
        .api_config(|c| c.connections = limits)
        .start()
        .await
}

async fn image_of(app: &TestApp, len: usize) -> (String, Vec<u8>) {
    let id = app.create_raw_image("large").await;
    let data = noise(len, len as u64);
    app.upload_ok(&id, data.clone()).await;
    (id, data)
}

/// Sends `GET /v2/images/{id}/file` from a socket with a small receive
/// buffer and returns it unread.
async fn request_download(addr: SocketAddr, id: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(CLIENT_BUFFER).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let head = format!("GET /v2/images/{id}/file HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Reads the response head; returns the status and the body bytes read
/// with it.
async fn read_head(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).into_owned();
            let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
            return (status.expect("a status line"), seen[end + 4..].to_vec());
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response head");
        seen.extend_from_slice(&buf[..n]);
    }
}

/// Reads whatever is left until the connection ends; returns the count.
async fn drain(stream: &mut TcpStream) -> usize {
    let mut total = 0;
    let mut buf = vec![0u8; 256 * 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n,
            }
        }
    };
    tokio::time::timeout(PATIENCE, read_all)
        .await
        .expect("the connection ended");
    total
}

/// Asks for the image list and returns how long the answer took.
async fn list_latency(app: &TestApp) -> Duration {
    let asked = Instant::now();
    let resp = app.get("/v2/images").send().await.unwrap();
    expect_status(resp, StatusCode::OK).await;
    asked.elapsed()
}

#[tokio::test]
async fn download_never_read_is_cut_off_while_others_are_served() {
    let timeout = Duration::from_secs(2);
    let app = app_with_send_timeout(timeout).await;
    let (id, _) = image_of(&app, LARGE).await;

    let mut stalled = request_download(app.addr(), &id).await;
    let asked = Instant::now();
    app.wait_for_store_files_in_use(PATIENCE, |n| n > 0).await;
    let latency = list_latency(&app).await;
    assert!(latency < timeout / 2, "another client waited {latency:?}");
    assert!(app.store_files_in_use() > 0, "cut off before its time");

    app.wait_for_store_files_in_use(PATIENCE, |n| n == 0).await;
    let waited = asked.elapsed();
    assert!(waited >= timeout.mul_f32(0.9), "cut off after {waited:?}");
    assert!(waited < timeout * 3, "cut off only after {waited:?}");
    let received = drain(&mut stalled).await;
    assert!(received < LARGE, "the whole image was sent");
    assert!(list_latency(&app).await < timeout / 2);
}

#[tokio::test]
async fn download_that_stops_being_read_midway_is_cut_off() {
    let timeout = Duration::from_secs(1);
    let app = app_with_send_timeout(timeout).await;
    let (id, _) = image_of(&app, LARGE).await;

    let mut reader = request_download(app.addr(), &id).await;
    let (status, mut got) = read_head(&mut reader).await;
    assert_eq!(status, 200);
    let mut buf = vec![0u8; 64 * 1024];
    while got.len() < 4 * 1024 * 1024 {
        let n = reader.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed while being read");
        got.extend_from_slice(&buf[..n]);
    }
    let stopped = Instant::now();

    app.wait_for_store_files_in_use(PATIENCE, |n| n == 0).await;
    let waited = stopped.elapsed();
    assert!(waited >= timeout.mul_f32(0.9), "cut off after {waited:?}");
    let received = got.len() + drain(&mut reader).await;
    assert!(received < LARGE, "the whole image was sent");
}

/// Reads `count` bytes or fewer into `got`, `piece` bytes at a time with
/// `pause` after each read.
async fn read_paced(
    stream: &mut TcpStream,
    got: &mut Vec<u8>,
    count: usize,
    piece: usize,
    pause: Duration,
) {
    let until = got.len() + count;
    let mut buf = vec![0u8; piece];
    while got.len() < until {
        let want = piece.min(until - got.len());
        let n = match stream.read(&mut buf[..want]).await {
            Ok(n) if n > 0 => n,
            other => panic!("cut off after {} bytes: {other:?}", got.len()),
        };
        got.extend_from_slice(&buf[..n]);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

#[tokio::test]
async fn slow_but_steady_reader_gets_every_byte() {
    let timeout = Duration::from_millis(500);
    let app = app_with_send_timeout(timeout).await;
    let len = LARGE;
    let (id, data) = image_of(&app, len).await;

    let mut reader = request_download(app.addr(), &id).await;
    let (status, mut got) = read_head(&mut reader).await;
    assert_eq!(status, 200);
    // At full speed first, so that the server's send buffer grows to its
    // largest (about 4 MiB on loopback) and stays full.
    read_paced(&mut reader, &mut got, LARGE / 2, 64 * 1024, Duration::ZERO).await;
    // Then for a while at about 200 KB/s. The kernel lets the server write
    // again only once a good part of its buffer has drained, which at this
    // pace takes longer than the timeout: the reader is told apart from a
    // stalled one by the bytes it acknowledges meanwhile.
    read_paced(
        &mut reader,
        &mut got,
        768 * 1024,
        4 * 1024,
        Duration::from_millis(10),
    )
    .await;
    let rest = len - got.len();
    read_paced(&mut reader, &mut got, rest, 64 * 1024, Duration::ZERO).await;
    assert_eq!(got.len(), len);
    assert!(got == data, "the bytes differ from the image");
}
