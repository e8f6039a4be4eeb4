//! `[oslo_policy] policy_file` in a real `glint serve`: overrides change
//! decisions, a malformed file stops the start with the rule named.

use crate::common;

use std::sync::{Arc, Mutex};

use common::Setup;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn policy_file_overrides_default_rules() {
    let setup = Setup::with_config("\n[oslo_policy]\npolicy_file = policy.yaml\n");
    std::fs::write(
        setup.dir.path().join("policy.yaml"),
        "# only admins and operators deactivate; nobody lists\n\
         \"deactivate\": \"role:admin or role:operator\"\n\
         \"get_images\": \"!\"\n",
    )
    .unwrap();
    let mut server = setup.start();
    let client = reqwest::Client::new();
    server.wait_ready(&client).await;

    let resp = client.get(server.url("/v2/images")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{}", server.logs());

    let image: serde_json::Value = client
        .post(server.url("/v2/images"))
        .header("X-Project-Id", "p1")
        .header("X-Roles", "member,reader")
        .json(&json!({"name": "x", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = image["id"].as_str().unwrap();
    let upload = client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("X-Project-Id", "p1")
        .header("X-Roles", "member,reader")
        .header("Content-Type", "application/octet-stream")
        .body("some bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::NO_CONTENT, "{}", server.logs());
    let deactivate = |roles: &'static str| {
        client
            .post(server.url(&format!("/v2/images/{id}/actions/deactivate")))
            .header("X-Project-Id", "p1")
            .header("X-Roles", roles)
            .send()
    };
    // The default lets the owner's members deactivate; the override does not.
    assert_eq!(
        deactivate("member,reader").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        deactivate("operator,reader").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    server.signal("TERM");
    assert!(server.wait_exit().await.success(), "{}", server.logs());
}

#[tokio::test]
async fn malformed_policy_file_stops_the_start_naming_the_rule() {
    let setup = Setup::with_config("\n[oslo_policy]\npolicy_file = broken.yaml\n");
    std::fs::write(
        setup.dir.path().join("broken.yaml"),
        "\"get_image\": \"role:reader or (\"\n",
    )
    .unwrap();
    let mut server = setup.start();
    let status = server.wait_exit().await;
    assert!(!status.success());
    let logs = server.logs();
    assert!(logs.contains("get_image"), "{logs}");
    assert!(logs.contains("broken.yaml"), "{logs}");
}

#[tokio::test]
async fn missing_named_policy_file_stops_the_start() {
    let setup = Setup::with_config("\n[oslo_policy]\npolicy_file = absent.yaml\n");
    let mut server = setup.start();
    assert!(!server.wait_exit().await.success());
    assert!(
        server.logs().contains("policy file not found"),
        "{}",
        server.logs()
    );
}

/// A remote policy service on a free port: answers `True` when the posted
/// body mentions `allow_marker`, `False` otherwise, and keeps every body.
async fn policy_service(allow_marker: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bodies = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break body.to_owned();
                    }
                };
                let answer = if body.contains(allow_marker) {
                    "True"
                } else {
                    "False"
                };
                bodies.lock().unwrap().push(body);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = stream.write_all(resp.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_checks_ask_the_remote_policy_service() {
    let (port, seen) = policy_service("trusted-project").await;
    let setup = Setup::with_config(
        "\n[oslo_policy]\npolicy_file = policy.yaml\nremote_content_type = application/json\n",
    );
    std::fs::write(
        setup.dir.path().join("policy.yaml"),
        format!("\"get_images\": \"http://127.0.0.1:{port}/check/images\"\n"),
    )
    .unwrap();
    let mut server = setup.start();
    let client = reqwest::Client::new();
    server.wait_ready(&client).await;

    let list = |project: &'static str| {
        client
            .get(server.url("/v2/images"))
            .header("X-Project-Id", project)
            .header("X-Roles", "member,reader")
            .send()
    };
    assert_eq!(
        list("trusted-project").await.unwrap().status(),
        StatusCode::OK,
        "{}",
        server.logs()
    );
    assert_eq!(
        list("someone-else").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let first: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(first["rule"], "get_images");
    assert_eq!(first["credentials"]["project_id"], "trusted-project");
    assert_eq!(first["credentials"]["roles"], json!(["member", "reader"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_remote_policy_service_denies() {
    let port = common::free_port();
    let setup = Setup::with_config("\n[oslo_policy]\npolicy_file = policy.yaml\n");
    std::fs::write(
        setup.dir.path().join("policy.yaml"),
        format!("\"get_images\": \"http://127.0.0.1:{port}/check\"\n"),
    )
    .unwrap();
    let mut server = setup.start();
    let client = reqwest::Client::new();
    server.wait_ready(&client).await;
    let resp = client.get(server.url("/v2/images")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

/// A remote check is asked once per request, not once per image of a list
/// page: the answer for the first image that needed it serves the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_page_asks_a_remote_check_once() {
    let (port, seen) = policy_service("reader").await;
    let setup = Setup::with_config("\n[oslo_policy]\npolicy_file = policy.yaml\n");
    std::fs::write(
        setup.dir.path().join("policy.yaml"),
        format!("\"get_image\": \"http://127.0.0.1:{port}/check/image\"\n"),
    )
    .unwrap();
    let mut server = setup.start();
    let client = reqwest::Client::new();
    server.wait_ready(&client).await;
    for i in 0..5 {
        let resp = client
            .post(server.url("/v2/images"))
            .json(&json!({"name": format!("listed-{i}"), "visibility": "public"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{}", server.logs());
    }
    let asked_before = seen.lock().unwrap().len();
    let resp = client
        .get(server.url("/v2/images"))
        .header("X-Project-Id", "p1")
        .header("X-Roles", "member,reader")
        .send()
        .await
        .unwrap();
    let page: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(page["images"].as_array().map(Vec::len), Some(5), "{page}");
    assert_eq!(seen.lock().unwrap().len() - asked_before, 1);
}
