//! Test support for the scrubber tests: images through the API, `glint
//! scrub` runs with layered configuration files, the database's view.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use glint_db::Database;
use glint_model::{ImageId, ImageStatus};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::common::{Output, Server, Setup};

/// Creates a raw image and uploads `data`; its id.
pub async fn upload(client: &Client, server: &Server, data: &[u8]) -> String {
    let body = json!({"name": "scrubbed", "disk_format": "raw", "container_format": "bare"});
    let id = server.create_image(client, body).await;
    let resp = client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{}", server.logs());
    id
}

pub async fn delete(client: &Client, server: &Server, id: &str) {
    let resp = client
        .delete(server.url(&format!("/v2/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{}", server.logs());
}

pub async fn list_ids(client: &Client, server: &Server) -> Vec<String> {
    let resp = client.get(server.url("/v2/images")).send().await.unwrap();
    let page: Value = resp.json().await.unwrap();
    page["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The embedded database of `setup`, opened beside its server.
pub async fn sqlite(setup: &Setup) -> Database {
    let path = setup.dir.path().join("data").join("glint.sqlite");
    let url = format!("sqlite://{}", path.display());
    Database::open(&url, &glint_db::ConnectOptions::default())
        .await
        .expect("open the server's database")
}

/// The status of an image, deleted or not.
pub async fn status(db: &Database, id: &str) -> ImageStatus {
    let id = ImageId::parse(id).unwrap();
    let image = db.get_image_any(id).await.unwrap().expect("an image row");
    image.status
}

/// Writes a configuration file named `name` beside the setup's own.
pub fn conf(setup: &Setup, name: &str, text: &str) -> PathBuf {
    let path = setup.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn scrub_command(configs: &[&Path], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_glint"));
    command.arg("scrub");
    for config in configs {
        command.arg("--config-file").arg(config);
    }
    command.args(args).stdin(Stdio::null());
    command
}

/// Runs `glint scrub` with `configs` (in order) and `args` to its end.
pub fn scrub(configs: &[&Path], args: &[&str]) -> Output {
    let output = scrub_command(configs, args).output().expect("run glint");
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Starts `glint scrub`, its log going to `stderr`.
pub fn spawn_scrub(configs: &[&Path], args: &[&str], stderr: Stdio) -> Child {
    scrub_command(configs, args)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start glint scrub")
}

/// The ids a scrubber's log says it scrubbed.
pub fn scrubbed_ids(log: &str) -> HashSet<String> {
    log.lines()
        .filter(|line| line.contains("image scrubbed"))
        .filter_map(|line| {
            let at = line.find("image.id=")? + "image.id=".len();
            line.get(at..at + 36).map(str::to_owned)
        })
        .collect()
}

/// Polls `condition` every 50 ms; panics after `within`.
pub async fn wait_until(within: Duration, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "condition never met");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `glint scrub` process running in the background, killed when
/// dropped.
pub struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    pub fn start(setup: &Setup, configs: &[&Path], args: &[&str]) -> Daemon {
        let log = setup.dir.path().join(format!("scrub-{}.log", uuid_like()));
        let file = std::fs::File::create(&log).unwrap();
        let child = spawn_scrub(configs, args, Stdio::from(file));
        Daemon { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits up to 20 seconds for the process to exit.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "glint scrub did not exit:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uuid_like() -> String {
    ImageId::new_random().to_string()
}
