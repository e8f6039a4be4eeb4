//! The read-only http store against small web servers on loopback: one that
//! honours ranges, one that ignores them, one that hides the size.

use crate::common;

use std::time::Duration;

use common::{collect, random_bytes, stream_of};
use glint_model::ImageId;
use glint_store::{ByteRange, HttpStore, Store, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Copy)]
enum Server {
    /// Answers `Range` with 206 and `Content-Range`.
    Ranges,
    /// Always sends the whole body with 200.
    NoRanges,
    /// Sends the body without `Content-Length` (close-delimited).
    NoLength,
}

/// Serves `body` at `/image` (404 elsewhere) until the test ends.
async fn serve(body: Vec<u8>, kind: Server) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0_u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                let head_only = text.starts_with("HEAD ");
                let path_ok = text.split_whitespace().nth(1) == Some("/image");
                let range = text
                    .lines()
                    .find_map(|l| l.strip_prefix("range: ").or(l.strip_prefix("Range: ")))
                    .and_then(|v| v.trim().strip_prefix("bytes="))
                    .and_then(|v| v.split_once('-'))
                    .map(|(a, b)| (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap()));
                let n = body.len();
                let (head, part) = if !path_ok {
                    (
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n".to_owned(),
                        &body[..0],
                    )
                } else {
                    match (kind, range) {
                        (Server::Ranges, Some((a, _))) if a >= n => (
                            format!(
                                "HTTP/1.1 416 Range Not Satisfiable\r\ncontent-range: bytes */{n}\r\ncontent-length: 0\r\n"
                            ),
                            &body[..0],
                        ),
                        (Server::Ranges, Some((a, b))) => {
                            let b = b.min(n - 1);
                            (
                                format!(
                                    "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {a}-{b}/{n}\r\ncontent-length: {}\r\n",
                                    b - a + 1
                                ),
                                &body[a..=b],
                            )
                        }
                        (Server::NoLength, _) => ("HTTP/1.1 200 OK\r\n".to_owned(), &body[..]),
                        _ => (
                            format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n"),
                            &body[..],
                        ),
                    }
                };
                let mut out = head.into_bytes();
                out.extend_from_slice(b"connection: close\r\n\r\n");
                if !head_only {
                    out.extend_from_slice(part);
                }
                let _ = socket.write_all(&out).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}/image")
}

fn store() -> HttpStore {
    HttpStore::new("web", Duration::from_secs(2)).unwrap()
}

#[tokio::test]
async fn reads_whole_images_and_ranges_whether_or_not_the_server_honours_ranges() {
    let data = random_bytes(300_000, 7);
    for kind in [Server::Ranges, Server::NoRanges] {
        let url = serve(data.clone(), kind).await;
        let store = store();
        assert_eq!(store.size(&url).await.unwrap(), data.len() as u64);
        let whole = store.get(&url, None).await.unwrap();
        assert_eq!(whole.total_size, data.len() as u64);
        assert!(collect(whole.stream).await.unwrap() == data);
        let range = ByteRange {
            start: 1000,
            end: 250_000,
        };
        let part = store.get(&url, Some(range)).await.unwrap();
        assert_eq!(part.range, Some(range));
        assert!(collect(part.stream).await.unwrap() == data[1000..=250_000]);
        let tail = ByteRange {
            start: 299_990,
            end: u64::MAX,
        };
        let part = store.get(&url, Some(tail)).await.unwrap();
        assert!(collect(part.stream).await.unwrap() == data[299_990..]);
    }
}

#[tokio::test]
async fn a_range_past_the_end_is_invalid() {
    for kind in [Server::Ranges, Server::NoRanges] {
        let url = serve(random_bytes(100, 1), kind).await;
        let range = ByteRange {
            start: 100,
            end: 200,
        };
        let err = store().get(&url, Some(range)).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidRange), "{err:?}");
    }
}

#[tokio::test]
async fn an_image_of_unknown_size_is_refused_clearly() {
    let url = serve(random_bytes(100, 2), Server::NoLength).await;
    let err = store().get(&url, None).await.unwrap_err();
    assert!(err.to_string().contains("Content-Length"), "{err}");
}

#[tokio::test]
async fn missing_objects_are_not_found_and_dead_servers_unavailable() {
    let url = serve(Vec::new(), Server::Ranges).await;
    let missing = url.replace("/image", "/nothing");
    let err = store().get(&missing, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    // A port nobody listens on: bind one, learn it, close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://user:hunter2@127.0.0.1:{port}/image");
    let err = store().get(&dead, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn writes_are_refused() {
    let store = store();
    let err = store
        .put(ImageId::new_random(), stream_of(b"data"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err:?}");
    let err = store.delete("http://127.0.0.1:1/x").await.unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err:?}");
    store.discard(ImageId::new_random()).await.unwrap();
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable_after_the_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/image", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let store = HttpStore::with_timeouts("web", Duration::from_secs(2), Duration::from_millis(300))
        .unwrap();
    let started = std::time::Instant::now();
    let err = store.get(&url, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
