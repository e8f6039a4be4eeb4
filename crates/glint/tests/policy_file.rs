//! `[oslo_policy] policy_file` in a real `glint serve`: overrides change
//! decisions, a malformed file stops the start with the rule named.

mod common;

use common::Setup;
use reqwest::StatusCode;
use serde_json::json;

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
