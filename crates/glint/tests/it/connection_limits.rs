//! The real server's connection limits: its open-file limit is raised at
//! start, and the `[glint]` connection options reach it.

use crate::common;

use std::time::{Duration, Instant};

use common::Setup;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `(soft, hard)` limits of open files of process `pid`.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[3].to_owned(), fields[4].to_owned())
}

#[tokio::test]
async fn open_file_soft_limit_is_raised_to_the_hard_limit() {
    let setup = Setup::new();
    let client = reqwest::Client::new();
    let mut server = setup.start_with_open_file_limit(256);
    server.wait_ready(&client).await;
    let (soft, hard) = open_file_limits(server.child.id());
    assert_ne!(soft, "256", "{}", server.logs());
    assert_eq!(soft, hard, "{}", server.logs());
}

#[tokio::test]
async fn client_header_timeout_reaches_the_server() {
    let setup = Setup::with_config("client_header_timeout = 1\n");
    let client = reqwest::Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let mut half = TcpStream::connect(("127.0.0.1", setup.port)).await.unwrap();
    half.write_all(b"GET /versions HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let sent = Instant::now();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(15), half.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "still open or answered: {read:?}"
    );
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );
}
