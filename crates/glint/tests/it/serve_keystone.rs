//! `glint serve` with `[paste_deploy] flavor = keystone…`: the start-up
//! checks of `[keystone_authtoken]` and the wiring of token authentication
//! into the real server process.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;

/// A free loopback port (there is a small window in which another process
/// could take it; the tests that use it only need it briefly).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

struct Server {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path, config: &str) -> Server {
        let path = dir.join("glance-api.conf");
        std::fs::write(&path, config).expect("write config");
        let log = dir.join("glint.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_glint"))
            .arg("serve")
            .arg("--config-file")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start glint");
        Server { child, log }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn data_dir_lines(dir: &Path) -> String {
    format!("[glint]\ndata_dir = {}\n", dir.join("data").display())
}

#[test]
fn keystone_flavor_without_credentials_refuses_to_start_naming_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[DEFAULT]\nbind_port = {}\n[paste_deploy]\nflavor = keystone\n\
         [keystone_authtoken]\nauth_url = http://127.0.0.1:5000\n{}",
        free_port(),
        data_dir_lines(dir.path())
    );
    let mut server = Server::start(dir.path(), &config);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "glint kept running");
        std::thread::sleep(Duration::from_millis(25));
    };
    assert!(!status.success());
    let logs = server.logs();
    assert!(
        logs.contains(
            "missing options in [keystone_authtoken]: auth_type, username (or user_id), \
             password, project_name (or project_id)"
        ),
        "{logs}"
    );
}

#[tokio::test]
async fn keystone_flavor_serves_versions_and_requires_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let keystone = format!("http://127.0.0.1:{}", free_port());
    let config = format!(
        "[DEFAULT]\nbind_port = {port}\nimage_cache_dir = {cache}\n\
         [paste_deploy]\nflavor = keystone+caching\n\
         [keystone_authtoken]\nwww_authenticate_uri = http://keystone.example.com:5000\n\
         auth_url = {keystone}\nauth_type = password\nusername = glance\npassword = secret\n\
         project_name = service\nuser_domain_name = Default\nproject_domain_name = Default\n\
         http_request_max_retries = 0\nmemcached_servers = 127.0.0.1:11211\n{}",
        data_dir_lines(dir.path()),
        cache = dir.path().join("cache").display(),
    );
    let server = Server::start(dir.path(), &config);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(resp) = client.get(url("/versions")).send().await {
            assert_eq!(resp.status(), StatusCode::OK);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "glint never answered:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // delay_auth_decision defaults to true, anonymous access to false: the
    // context decision refuses with webob's 401 and where to get a token.
    let resp = client
        .get(url("/v2/images"))
        .header("X-Roles", "admin")
        .header("X-Identity-Status", "Confirmed")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()[WWW_AUTHENTICATE],
        "Keystone uri=\"http://keystone.example.com:5000\""
    );
    let resp = client
        .get(url("/v2/images"))
        .header("X-Auth-Token", "a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);

    let logs = server.logs();
    assert!(logs.contains("image cache on"), "{logs}");
    assert!(
        logs.contains("option [keystone_authtoken] memcached_servers is ignored"),
        "{logs}"
    );
    assert!(!logs.contains("secret"), "the password must not be logged");
}
