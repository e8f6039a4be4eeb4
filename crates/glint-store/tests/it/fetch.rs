//! The web-download fetcher against a small HTTP server on 127.0.0.1 that
//! answers as each test scripts it, including servers that lie or stall.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use glint_store::{Download, FetchError, ImportFilter, ImportFilterLists, StoreError, WebFetcher};
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does for a request.
enum Reply {
    /// Sends these bytes (a whole HTTP response) and closes.
    Send(Vec<u8>),
    /// Sends these bytes, then holds the connection open, silent.
    SendThenStall(Vec<u8>),
}

/// The reply to a request for a path, given the server's own port.
type Script = dyn Fn(&str, u16) -> Reply + Send + Sync;

/// A scripted HTTP/1.1 server; it records every request head it reads.
struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn start(script: impl Fn(&str, u16) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(answer(socket, script.clone(), seen.clone()));
            }
        });
        Self { addr, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn request(&self, n: usize) -> String {
        self.requests.lock().unwrap()[n].clone()
    }
}

async fn answer(mut socket: TcpStream, script: Arc<Script>, seen: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    seen.lock().unwrap().push(head);
    let port = socket.local_addr().map_or(0, |a| a.port());
    match script(&path, port) {
        Reply::Send(bytes) => {
            let _ = socket.write_all(&bytes).await;
            let _ = socket.shutdown().await;
        }
        Reply::SendThenStall(bytes) => {
            let _ = socket.write_all(&bytes).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
}

fn ok(body: &[u8]) -> Reply {
    let mut bytes = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    Reply::Send(bytes)
}

/// A body sent in chunks, with no Content-Length.
fn chunked(body: &[u8]) -> Reply {
    let mut bytes =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for chunk in body.chunks(64 * 1024) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    Reply::Send(bytes)
}

fn redirect(status: u16, location: &str) -> Reply {
    Reply::Send(
        format!(
            "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        )
        .into_bytes(),
    )
}

fn not_found() -> Reply {
    Reply::Send(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    )
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// A filter that lets the test server through: 127.0.0.1 listed in
/// `allowed_hosts`, the server's port in `allowed_ports`.
fn allowing(ports: &[u16]) -> ImportFilter {
    ImportFilter::new(&ImportFilterLists {
        allowed_hosts: vec!["127.0.0.1".to_owned()],
        allowed_ports: ports.to_vec(),
        ..ImportFilterLists::default()
    })
    .unwrap()
}

const READ_TIMEOUT: Duration = Duration::from_millis(500);

fn fetcher(filter: ImportFilter) -> WebFetcher {
    WebFetcher::new(filter).with_timeouts(Duration::from_secs(5), READ_TIMEOUT)
}

const CAP: u64 = 1 << 20;

/// The whole body, or the error that ended it with what arrived before.
async fn read_all(download: Download) -> (Vec<u8>, Option<StoreError>) {
    let mut stream = download.stream;
    let mut data = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(e) => return (data, Some(e)),
        }
    }
    (data, None)
}

#[tokio::test]
async fn downloads_an_image_from_an_allowed_server() {
    let body = image(CAP as usize);
    let served = body.clone();
    let server = Server::start(move |_, _| ok(&served)).await;
    let fetcher = fetcher(allowing(&[server.addr.port()]));
    let download = fetcher
        .fetch(&server.url("/cirros.img"), CAP)
        .await
        .unwrap();
    assert_eq!(download.content_length, Some(CAP));
    assert_eq!(download.url, server.url("/cirros.img"));
    let (data, error) = read_all(download).await;
    assert!(error.is_none(), "{error:?}");
    assert!(data == body);
}

#[tokio::test]
async fn follows_a_chain_of_redirects() {
    let body = image(1000);
    let served = body.clone();
    let server = Server::start(move |path, port| match path {
        "/a" => redirect(302, "/b"),
        "/b" => redirect(301, "c"),
        "/c" => redirect(303, &format!("//127.0.0.1:{port}/d")),
        "/d" => redirect(307, &format!("http://127.0.0.1:{port}/e?x=1")),
        "/e?x=1" => redirect(308, "/image"),
        "/image" => chunked(&served),
        _ => not_found(),
    })
    .await;
    let fetcher = fetcher(allowing(&[server.addr.port()]));
    let download = fetcher.fetch(&server.url("/a"), CAP).await.unwrap();
    assert_eq!(download.content_length, None);
    assert_eq!(download.url, server.url("/image"));
    let (data, error) = read_all(download).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data, body);
    assert_eq!(server.hits(), 6);
}

#[tokio::test]
async fn gives_up_after_five_redirects() {
    let server = Server::start(|path, _| {
        let n: u32 = path.trim_start_matches('/').parse().unwrap_or(0);
        redirect(302, &format!("/{}", n + 1))
    })
    .await;
    let fetcher = fetcher(allowing(&[server.addr.port()]));
    let err = fetcher.fetch(&server.url("/0"), CAP).await.unwrap_err();
    assert!(
        matches!(err, FetchError::TooManyRedirects { max: 5 }),
        "{err}"
    );
    assert_eq!(server.hits(), 6);
}

/// The reason a redirect was refused.
fn redirect_reason(err: FetchError) -> FetchError {
    match err {
        FetchError::RedirectRefused { reason, .. } => *reason,
        other => panic!("not a refused redirect: {other}"),
    }
}

#[tokio::test]
async fn redirects_to_refused_urls_are_not_followed() {
    let server = Server::start(|path, port| match path {
        "/other-host" => redirect(302, &format!("http://localhost:{port}/x")),
        "/metadata" => redirect(302, "http://169.254.169.254/latest/meta-data/"),
        "/other-port" => redirect(302, &format!("http://127.0.0.1:{}/x", port + 1)),
        "/scheme" => redirect(302, &format!("ftp://127.0.0.1:{port}/x")),
        "/file" => redirect(302, "file:///etc/passwd"),
        "/encoded" => redirect(302, &format!("http://0x7f000001:{port}/x")),
        _ => not_found(),
    })
    .await;
    let fetcher = fetcher(allowing(&[server.addr.port()]));
    for (path, list) in [
        ("/other-host", "allowed_hosts"),
        ("/metadata", "allowed_hosts"),
        ("/other-port", "allowed_ports"),
        ("/scheme", "allowed_schemes"),
        ("/file", "allowed_schemes"),
    ] {
        let err = fetcher.fetch(&server.url(path), CAP).await.unwrap_err();
        let message = err.to_string();
        match redirect_reason(err) {
            FetchError::Refused {
                list: refused_by, ..
            } => assert_eq!(refused_by, list, "{path}"),
            other => panic!("{path}: {other}"),
        }
        assert!(message.starts_with("redirect to "), "{message}");
    }
    let err = fetcher
        .fetch(&server.url("/encoded"), CAP)
        .await
        .unwrap_err();
    assert!(
        matches!(redirect_reason(err), FetchError::NonStandardAddress { .. }),
        "/encoded"
    );
    // Each redirect was read, and nothing was asked of its target.
    assert_eq!(server.hits(), 6);
}

#[tokio::test]
async fn headers_go_to_the_first_origin_only() {
    let second = Server::start(|_, _| ok(b"image")).await;
    let target = second.url("/image");
    let first = Server::start(move |path, _| match path {
        "/same" => redirect(302, "/image"),
        "/image" => ok(b"image"),
        _ => redirect(302, &target),
    })
    .await;
    let fetcher = fetcher(allowing(&[first.addr.port(), second.addr.port()]));
    let mut headers = HeaderMap::new();
    headers.insert("x-auth-token", HeaderValue::from_static("token-for-first"));
    for path in ["/same", "/elsewhere"] {
        let download = fetcher
            .fetch_with_headers(&first.url(path), &headers, CAP)
            .await
            .unwrap();
        assert_eq!(read_all(download).await.0, b"image");
    }
    for n in 0..3 {
        let head = first.request(n).to_ascii_lowercase();
        assert!(head.contains("x-auth-token: token-for-first"), "{head}");
    }
    let head = second.request(0).to_ascii_lowercase();
    assert!(!head.contains("x-auth-token"), "{head}");
}

#[tokio::test]
async fn credentials_in_the_url_are_sent_but_never_shown() {
    let server = Server::start(|path, _| match path {
        "/missing" => not_found(),
        _ => redirect(302, "/missing"),
    })
    .await;
    let fetcher = fetcher(allowing(&[server.addr.port()]));
    let url = format!("http://alice:hunter2@{}/start", server.addr);
    let err = fetcher.fetch(&url, CAP).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, FetchError::Status { .. }), "{message}");
    assert!(
        message.contains("404") && !message.contains("hunter2"),
        "{message}"
    );
    assert!(!message.contains("alice"), "{message}");
    let head = server.request(0).to_ascii_lowercase();
    assert!(head.contains("authorization: basic "), "{head}");
    // A relative redirect keeps the origin, and the credentials with it.
    assert!(
        server
            .request(1)
            .to_ascii_lowercase()
            .contains("authorization: basic ")
    );
}

#[tokio::test]
async fn an_announced_size_above_the_cap_is_refused_before_any_data() {
    let body = image(CAP as usize + 1);
    let server = Server::start(move |_, _| ok(&body)).await;
    let err = fetcher(allowing(&[server.addr.port()]))
        .fetch(&server.url("/big"), CAP)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { announced, cap: CAP, .. } if announced == CAP + 1),
        "{err}"
    );
    assert!(err.to_string().contains("image_size_cap"), "{err}");
}

#[tokio::test]
async fn a_body_above_the_cap_is_cut_off_whatever_the_server_announces() {
    let body = image(2 * CAP as usize);
    let exact = image(CAP as usize);
    let server = Server::start(move |path, _| match path {
        "/exact" => chunked(&exact),
        _ => chunked(&body),
    })
    .await;
    let fetcher = fetcher(allowing(&[server.addr.port()]));
    let download = fetcher.fetch(&server.url("/big"), CAP).await.unwrap();
    assert_eq!(download.content_length, None);
    let (data, error) = read_all(download).await;
    assert!(data.len() as u64 <= CAP, "{} bytes got through", data.len());
    assert!(
        matches!(error, Some(StoreError::SizeLimitExceeded { limit: CAP })),
        "{error:?}"
    );
    let download = fetcher.fetch(&server.url("/exact"), CAP).await.unwrap();
    let (data, error) = read_all(download).await;
    assert!(error.is_none() && data.len() as u64 == CAP, "{error:?}");
}

#[tokio::test]
async fn a_body_shorter_than_announced_is_an_error() {
    let server = Server::start(|_, _| {
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n".to_vec();
        bytes.extend_from_slice(&[7u8; 10]);
        Reply::Send(bytes)
    })
    .await;
    let download = fetcher(allowing(&[server.addr.port()]))
        .fetch(&server.url("/liar"), CAP)
        .await
        .unwrap();
    assert_eq!(download.content_length, Some(1000));
    let (data, error) = read_all(download).await;
    assert!(data.len() <= 10);
    assert!(
        matches!(error, Some(StoreError::Unavailable(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_body_longer_than_announced_is_read_only_as_far_as_announced() {
    let server = Server::start(|_, _| {
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n".to_vec();
        bytes.extend_from_slice(&image(CAP as usize * 2));
        Reply::Send(bytes)
    })
    .await;
    let download = fetcher(allowing(&[server.addr.port()]))
        .fetch(&server.url("/liar"), CAP)
        .await
        .unwrap();
    let (data, error) = read_all(download).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data, image(10));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = Server::start(|_, _| Reply::SendThenStall(Vec::new())).await;
    let started = Instant::now();
    let err = fetcher(allowing(&[server.addr.port()]))
        .fetch(&server.url("/stall"), CAP)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::Unreachable { reason, .. } if reason == "timed out"),
        "{err}"
    );
    assert!(
        started.elapsed() < READ_TIMEOUT * 10,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_stalls_mid_body_times_out() {
    let server = Server::start(|_, _| {
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n".to_vec();
        bytes.extend_from_slice(&image(5000));
        Reply::SendThenStall(bytes)
    })
    .await;
    let download = fetcher(allowing(&[server.addr.port()]))
        .fetch(&server.url("/stall"), CAP)
        .await
        .unwrap();
    let (data, error) = read_all(download).await;
    assert_eq!(data, image(5000));
    let Some(StoreError::Unavailable(message)) = error else {
        panic!("{error:?}");
    };
    assert!(message.contains("stalled"), "{message}");
}

#[tokio::test]
async fn refused_ports_and_schemes_are_never_contacted() {
    let server = Server::start(|_, _| ok(b"image")).await;
    // 127.0.0.1 is allowed, but not on the server's port (80 and 443 only).
    let fetcher = fetcher(allowing(&[80, 443]));
    let err = fetcher.fetch(&server.url("/x"), CAP).await.unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Refused {
                list: "allowed_ports",
                ..
            }
        ),
        "{err}"
    );
    let ftp = format!("ftp://{}/x", server.addr);
    let err = fetcher.fetch(&ftp, CAP).await.unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Refused {
                list: "allowed_schemes",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn the_default_filter_refuses_the_local_server() {
    let server = Server::start(|_, _| ok(b"image")).await;
    let port = server.addr.port();
    let default = fetcher(ImportFilter::default());
    // On its own port, the port rule refuses it first.
    let err = default.fetch(&server.url("/x"), CAP).await.unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Refused {
                list: "allowed_ports",
                ..
            }
        ),
        "{err}"
    );
    // On 80, and on any port once allowed, its address is refused.
    let any_port = fetcher(
        ImportFilter::new(&ImportFilterLists {
            allowed_ports: Vec::new(),
            ..ImportFilterLists::default()
        })
        .unwrap(),
    );
    for (fetcher, url) in [
        (&default, "http://127.0.0.1/x".to_owned()),
        (&default, "http://localhost/x".to_owned()),
        (&any_port, server.url("/x")),
        (&any_port, format!("http://localhost:{port}/x")),
        (&any_port, format!("http://[::ffff:127.0.0.1]:{port}/x")),
    ] {
        let err = fetcher.fetch(&url, CAP).await.unwrap_err();
        assert!(
            matches!(
                &err,
                FetchError::AddressRefused {
                    kind: "loopback",
                    ..
                }
            ),
            "{url}: {err}"
        );
    }
    assert_eq!(server.hits(), 0);
}
