//! HTTP/1.1 by hand over a TCP socket, for what a well-behaved client
//! cannot do: omit the `Accept` header, announce a body it never sends, or
//! vanish in the middle of an upload.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a raw exchange may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `head` (request line and headers, each ending in CRLF; the blank
/// line is added) and reads the response.
pub async fn exchange(addr: SocketAddr, head: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(format!("{head}\r\n").as_bytes())
        .await
        .expect("send request");
    read_response(&mut stream).await
}

/// Reads one response: the head, then a `Content-Length` body, a chunked
/// body, or everything up to the end of the connection.
pub async fn read_response(stream: &mut TcpStream) -> RawResponse {
    tokio::time::timeout(TIMEOUT, read_response_inner(stream))
        .await
        .expect("the server answered in time")
}

async fn read_response_inner(stream: &mut TcpStream) -> RawResponse {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read response");
        assert!(n > 0, "connection closed before a response head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    let mut response = RawResponse {
        status,
        headers,
        body: String::new(),
    };
    let length = response
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    // These statuses never have a body, whatever the headers say.
    let bodiless = status == 204 || status == 304 || status < 200;
    loop {
        let done = bodiless
            || match length {
                Some(n) => body.len() >= n,
                None if chunked => find(&body, b"0\r\n\r\n").is_some(),
                None => false,
            };
        if done {
            break;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    response.body = String::from_utf8_lossy(&body).into_owned();
    response
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Starts `PUT /v2/images/{id}/file` with a chunked body and returns the
/// socket, ready for [`send_chunk`].
pub async fn start_chunked_upload(addr: SocketAddr, id: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream
}

/// Sends one chunk of a chunked body.
pub async fn send_chunk(stream: &mut TcpStream, data: &[u8]) {
    let mut frame = format!("{:x}\r\n", data.len()).into_bytes();
    frame.extend_from_slice(data);
    frame.extend_from_slice(b"\r\n");
    stream.write_all(&frame).await.expect("send chunk");
    stream.flush().await.expect("flush");
}
