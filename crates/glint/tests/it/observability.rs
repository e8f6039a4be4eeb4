//! The real binary's health check, metrics and logs: JSON log lines that
//! carry the request id (also those of the upload's task and the file
//! store's writer thread), `[glint] metrics_bind`, a bad `log_format`
//! refused at start, and `/healthcheck` while the database is unreachable
//! or frozen (reached through the forwarder of `database_outage.rs`).

use crate::common;

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{ServerDatabase, ServerKind, Setup, free_port, glint};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const REQUEST_ID: &str = "x-openstack-request-id";

/// The request id the server answered with.
fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()[REQUEST_ID].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id_on_every_line_of_a_request() {
    let setup = Setup::with_config("log_format = json\n");
    let env = [("RUST_LOG", "info,glint_api=debug,glint_store=debug")];
    let mut server = setup.start_with_env(&env);
    let client = Client::new();
    server.wait_ready(&client).await;

    let resp = client
        .post(server.url("/v2/images"))
        .json(&json!({"name": "logged", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created = request_id(&resp);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("Content-Type", "application/octet-stream")
        .header(REQUEST_ID, "req-upload-from-client")
        .body(vec![5u8; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let uploaded = request_id(&resp);
    assert_eq!(uploaded, "req-upload-from-client");
    server.signal("TERM");
    assert!(server.wait_exit().await.success());

    let logs = server.logs();
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for line in &lines {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(line[key].is_string(), "{key} in {line}");
        }
        assert!(line["fields"].is_object(), "{line}");
    }
    let of = |id: &str| -> Vec<&Value> { lines.iter().filter(|l| l["request_id"] == id).collect() };
    let messages = |id: &str| -> Vec<String> {
        of(id)
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        messages(&created).contains(&"request done".to_owned()),
        "{logs}"
    );
    let upload = messages(&uploaded);
    for expected in [
        "image data stored",
        "image file written and synced",
        "request done",
    ] {
        assert!(
            upload.iter().any(|m| m == expected),
            "{expected} in {upload:?}\n{logs}"
        );
    }
    let stored = of(&uploaded)
        .into_iter()
        .find(|l| l["message"] == "image data stored")
        .unwrap();
    assert_eq!(stored["target"], "glint_core::upload");
    assert_eq!(stored["fields"]["image.id"], id.as_str());
    assert_eq!(stored["fields"]["size_bytes"], 3 * 1024 * 1024);
    assert_eq!(stored["span"]["method"], "PUT", "{stored}");
    let written = of(&uploaded)
        .into_iter()
        .find(|l| l["message"] == "image file written and synced")
        .unwrap();
    assert_eq!(written["target"], "glint_store::file::write", "{written}");
    let listening = lines
        .iter()
        .find(|l| l["message"] == "glint API listening")
        .expect("the start-up line");
    assert!(listening.get("request_id").is_none(), "{listening}");
    assert_eq!(listening["level"], "INFO");
}

#[test]
fn a_bad_log_format_stops_start_up_with_a_clear_error() {
    let setup = Setup::with_config("log_format = yaml\n");
    let output = glint(&["serve"], &setup.config);
    assert!(!output.success, "{output:?}");
    assert!(
        output
            .stderr
            .contains("invalid value 'yaml' for option [glint] log_format: must be text or json"),
        "{output:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_serves_metrics_to_anyone_and_the_api_to_admins_only() {
    let metrics_port = free_port();
    let setup = Setup::with_config(&format!("metrics_bind = 127.0.0.1:{metrics_port}\n"));
    let mut server = setup.start();
    let client = Client::new();
    server.wait_ready(&client).await;
    let resp = client.get(server.url("/v2/images")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let text = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed = "glint_http_requests_total{method=\"GET\",route=\"/v2/images\",status=\"200\"} 1";
    assert!(text.lines().any(|l| l == listed), "{text}");
    assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
    assert!(text.contains("\nprocess_open_fds "), "{text}");
    assert!(text.contains("\nglint_uploads_in_flight 0\n"), "{text}");
    assert!(text.contains("\nglint_import_tasks_queued 0\n"), "{text}");

    let as_member = client
        .get(server.url("/metrics"))
        .header("X-Roles", "member,reader")
        .header("X-Project-Id", "p1")
        .send()
        .await
        .unwrap();
    assert_eq!(as_member.status(), StatusCode::FORBIDDEN);
    let as_admin = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(as_admin.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disable_file_takes_the_binary_out_of_service() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("healthcheck_disable");
    let setup = Setup::with_config(&format!(
        "\n[healthcheck]\ndisable_by_file_path = {}\n",
        file.display()
    ));
    let mut server = setup.start();
    let client = Client::new();
    server.wait_ready(&client).await;
    let resp = client.get(server.url("/healthcheck")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The file check, the database, the file and http stores.
    assert_eq!(resp.text().await.unwrap(), "OK\nOK\nOK\nOK");
    std::fs::write(&file, b"").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = client.get(server.url("/healthcheck")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.text().await.unwrap(), "DISABLED BY FILE\nOK\nOK\nOK");
}

fn through(url: &str, proxy: &Proxy) -> String {
    let mut url = url::Url::parse(url).expect("database URL");
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    url.to_string()
}

fn target_of(url: &str) -> std::net::SocketAddr {
    let url = url::Url::parse(url).expect("database URL");
    let host = url.host_str().expect("host");
    let port = url.port_or_known_default().unwrap_or(match url.scheme() {
        "mysql" => 3306,
        _ => 5432,
    });
    (host, port).to_socket_addrs().unwrap().next().unwrap()
}

/// `GET /healthcheck` as JSON, answered within 6 seconds.
async fn health(client: &Client, server: &common::Server) -> (StatusCode, Value) {
    let started = Instant::now();
    let resp = tokio::time::timeout(
        Duration::from_secs(6),
        client
            .get(server.url("/healthcheck"))
            .header("Accept", "application/json")
            .send(),
    )
    .await
    .unwrap_or_else(|_| panic!("the health check hung:\n{}", server.logs()))
    .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    eprintln!("{status} after {:?}", started.elapsed());
    (status, body)
}

/// Polls until the health check answers `status`.
async fn health_becomes(client: &Client, server: &common::Server, status: StatusCode) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (got, body) = health(client, server).await;
        if got == status {
            return body;
        }
        assert!(Instant::now() < deadline, "still {got}: {body:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_reports_an_unreachable_or_frozen_database() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let db = ServerDatabase::create(kind, &admin).await;
        let proxy = Proxy::start(target_of(&db.url)).await;
        Setup::on_database(&db.url, "").glint(&["db", "sync"]).ok();
        let setup = Setup::on_database(
            &through(&db.url, &proxy),
            "\n[healthcheck]\ndetailed = true\nbackends = database, stores\n",
        );
        let mut server = setup.start();
        let client = Client::new();
        server.wait_ready(&client).await;
        let (status, body) = health(&client, &server).await;
        assert_eq!(status, StatusCode::OK, "{body:#}");

        for (outage, stop) in [("unreachable", true), ("frozen", false)] {
            if stop {
                proxy.stop();
            } else {
                proxy.pause();
            }
            let body = health_becomes(&client, &server, StatusCode::SERVICE_UNAVAILABLE).await;
            let reasons = &body["reasons"];
            assert_eq!(
                reasons[0]["reason"], "DATABASE UNAVAILABLE",
                "{outage}: {body:#}"
            );
            assert_eq!(reasons[1]["reason"], "OK", "{outage}: {body:#}");
            let password = url::Url::parse(&db.url)
                .unwrap()
                .password()
                .map(str::to_owned);
            if let Some(password) = password.filter(|p| !p.is_empty()) {
                assert!(!body.to_string().contains(&password), "{body:#}");
            }
            if stop {
                proxy.restart().await;
            } else {
                proxy.resume();
            }
            health_becomes(&client, &server, StatusCode::OK).await;
        }
    }
}
