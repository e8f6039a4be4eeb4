//! Test support: a real `glint serve` process on a free port with its own
//! data directory and configuration file.
#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

pub mod proxy;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

/// A `glint serve` child process, killed when dropped so that a failing
/// test never leaves a server behind.
pub struct Server {
    pub child: Child,
    pub port: u16,
    log: PathBuf,
    config: PathBuf,
}

fn spawn(config: &Path, log: &Path) -> Child {
    spawn_with_env(config, log, &[])
}

fn spawn_with_env(config: &Path, log: &Path, env: &[(&str, &str)]) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_glint"))
        .envs(env.iter().copied())
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
    pub fn start(dir: &Path, config: &Path, port: u16) -> Server {
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

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Creates an image from `body` as the default (admin) caller; its id.
    pub async fn create_image(&self, client: &reqwest::Client, body: serde_json::Value) -> String {
        let resp = client
            .post(self.url("/v2/images"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{}", self.logs());
        let image: serde_json::Value = resp.json().await.unwrap();
        image["id"].as_str().unwrap().to_owned()
    }

    /// Waits until `/versions` answers; panics (with the server's log) if
    /// the process fails or does not answer within 30 seconds.
    pub async fn wait_ready(&mut self, client: &reqwest::Client) {
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
    pub async fn wait_exit(&mut self) -> ExitStatus {
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

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }
}

/// A data directory and a configuration file naming it and a free port.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub port: u16,
}

impl Setup {
    pub fn new() -> Setup {
        Setup::with_config("")
    }

    /// Like [`Setup::new`], with `extra` (more sections) appended to the
    /// configuration file.
    pub fn with_config(extra: &str) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("glance-api.conf");
        let text = format!(
            "[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\n\n[glint]\ndata_dir = {}\n",
            dir.path().join("data").display()
        ) + extra;
        std::fs::write(&config, text).expect("write config");
        Setup { dir, config, port }
    }

    pub fn start(&self) -> Server {
        Server::start(self.dir.path(), &self.config, self.port)
    }

    /// Like [`Setup::start`], with `env` added to the server's environment
    /// (`RUST_LOG`…).
    pub fn start_with_env(&self, env: &[(&str, &str)]) -> Server {
        let log = self.dir.path().join("glint.log");
        let child = spawn_with_env(&self.config, &log, env);
        Server {
            child,
            port: self.port,
            log,
            config: self.config.clone(),
        }
    }

    /// Starts the server from a shell that first lowers its soft limit of
    /// open files to `soft`.
    pub fn start_with_open_file_limit(&self, soft: u64) -> Server {
        let log = self.dir.path().join("glint.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -S -n {soft} && exec \"$0\" serve --config-file \"$1\""
            ))
            .arg(env!("CARGO_BIN_EXE_glint"))
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start glint");
        Server {
            child,
            port: self.port,
            log,
            config: self.config.clone(),
        }
    }

    /// A second server on the same data directory (database and file
    /// store), as another glint process on the same host: its own port and
    /// configuration file, the same `extra` options, its own log.
    pub fn start_another(&self, extra: &str) -> Server {
        let port = free_port();
        let dir = self.dir.path().join("another");
        std::fs::create_dir_all(&dir).expect("dir of the second server");
        let config = dir.join("glance-api.conf");
        let text = format!(
            "[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\n\n[glint]\ndata_dir = {}\n",
            self.dir.path().join("data").display()
        ) + extra;
        std::fs::write(&config, text).expect("write config");
        Server::start(&dir, &config, port)
    }

    pub fn store_files(&self) -> Vec<String> {
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

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}

impl Setup {
    /// Like [`Setup::with_config`], on the database at `url` (a sqlx URL,
    /// which `[database] connection` accepts too).
    pub fn on_database(url: &str, extra: &str) -> Setup {
        Setup::with_config(&format!("{extra}\n[database]\nconnection = {url}\n"))
    }

    /// Runs `glint <args> --config-file <this setup's file>` to its end.
    pub fn glint(&self, args: &[&str]) -> Output {
        glint(args, &self.config)
    }
}

/// Runs `glint <args> --config-file <config>` to its end.
pub fn glint(args: &[&str], config: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_glint"))
        .args(args)
        .arg("--config-file")
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .expect("run glint");
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// What a `glint` command printed.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The output of a command that must have succeeded.
    pub fn ok(self) -> Output {
        assert!(self.success, "glint failed: {self:#?}");
        self
    }
}

/// A database server named in the environment, as the database tests of
/// every crate find them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Postgres,
    Mysql,
}

impl ServerKind {
    /// The servers whose admin URL is set (`GLINT_TEST_POSTGRES_URL`,
    /// `GLINT_TEST_MYSQL_URL`), with that URL.
    pub fn configured() -> Vec<(ServerKind, String)> {
        [
            (ServerKind::Postgres, "GLINT_TEST_POSTGRES_URL"),
            (ServerKind::Mysql, "GLINT_TEST_MYSQL_URL"),
        ]
        .into_iter()
        .filter_map(|(kind, var)| std::env::var(var).ok().map(|url| (kind, url)))
        .collect()
    }
}

/// A fresh database of its own on a server, dropped with this value, so
/// that tests running at once never share one.
pub struct ServerDatabase {
    pub kind: ServerKind,
    pub url: String,
    admin_url: String,
    name: String,
}

impl ServerDatabase {
    pub async fn create(kind: ServerKind, admin_url: &str) -> ServerDatabase {
        let (url, name) = glint_db::testing::create_database(admin_url, "glint_bin").await;
        ServerDatabase {
            kind,
            url,
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// A handle on the database as it is (no migration), for a test's own
    /// statements.
    pub async fn open(&self) -> glint_db::Database {
        glint_db::Database::open(&self.url, &glint_db::ConnectOptions::default())
            .await
            .expect("open the test database")
    }
}

impl Drop for ServerDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let postgres = self.kind == ServerKind::Postgres;
        // Drop cannot await: a thread with a runtime of its own does it.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(glint_db::testing::drop_database(
                &admin_url, &name, postgres,
            ));
        });
        let _ = dropped.join();
    }
}

/// The md5 of `data` in hex, as an image's `checksum`.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
