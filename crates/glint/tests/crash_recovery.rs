//! The real `glint serve` process: an upload cut short by SIGKILL is
//! undone at the next start, and SIGTERM stops the server cleanly.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A `glint serve` child process, killed when dropped so that a failing
/// test never leaves a server behind.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
    config: PathBuf,
}

fn spawn(config: &Path, log: &Path) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_glint"))
        .arg("serve")
        .arg("--config-file")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("start glint")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path, config: &Path, port: u16) -> Server {
        // Appended to across restarts, shown when an assertion fails.
        let log = dir.join("glint.log");
        let child = spawn(config, &log);
        Server {
            child,
            port,
            log,
            config: config.to_path_buf(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/versions` answers; panics (with the server's log) if
    /// the process fails or does not answer within 30 seconds.
    async fn wait_ready(&mut self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The fixed port can be taken for a moment by another
                // test's outgoing connection; try again until the deadline.
                let port_busy = self.logs().contains("cannot listen");
                assert!(
                    port_busy && Instant::now() < deadline,
                    "glint exited with {status} during start:\n{}",
                    self.logs()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
                self.child = spawn(&self.config, &self.log);
                continue;
            }
            if let Ok(resp) = client.get(self.url("/versions")).send().await
                && resp.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "glint never answered:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to 10 seconds for the process to exit on its own.
    async fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "glint did not exit:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }
}

/// A data directory and a configuration file naming it and a free port.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    port: u16,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("glance-api.conf");
        let text = format!(
            "[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\n\n[glint]\ndata_dir = {}\n",
            dir.path().join("data").display()
        );
        std::fs::write(&config, text).expect("write config");
        Setup { dir, config, port }
    }

    fn start(&self) -> Server {
        Server::start(self.dir.path(), &self.config, self.port)
    }

    fn store_files(&self) -> Vec<String> {
        let images = self.dir.path().join("data").join("images");
        let mut names: Vec<String> = std::fs::read_dir(images)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}

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
