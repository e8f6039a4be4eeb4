//! Notifications through the HTTP API, received from the real RabbitMQ
//! (`GLINT_TEST_RABBIT_URL`, else guest on 127.0.0.1:5672). Each test
//! publishes under a topic of its own and consumes it from a queue of its
//! own, so tests running at the same time never see each other's events.

use crate::common;

use std::time::{Duration, Instant};

use common::{TestApp, expect_json, expect_status, id_of};
use glint_notify::testing::{Listener, Received, transport_url};
use glint_notify::{DisabledEvents, Driver, MessageFormat, NotifierConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) struct Topic {
    name: String,
    listener: Listener,
}

impl Topic {
    pub(crate) async fn new() -> Topic {
        let name = format!("glint-test-{}", uuid::Uuid::new_v4().simple());
        let listener = Listener::bind("/", "glance", &format!("{name}.*")).await;
        Topic { name, listener }
    }

    pub(crate) fn config(&self) -> NotifierConfig {
        NotifierConfig {
            drivers: vec![Driver::Messaging(MessageFormat::V2)],
            transport: transport_url(None, "/"),
            topics: vec![self.name.clone()],
            ..NotifierConfig::default()
        }
    }

    /// The next notification: its routing key's priority and its message.
    async fn next(&mut self) -> (String, Value) {
        let got: Received = self.listener.next().await;
        assert_eq!(got.exchange, "glance");
        assert_eq!(got.content_type.as_deref(), Some("application/json"));
        assert_eq!(got.delivery_mode, Some(2));
        let priority = got
            .routing_key
            .strip_prefix(&format!("{}.", self.name))
            .expect("the test's topic")
            .to_owned();
        let msg = got.oslo_message();
        assert_eq!(msg["priority"].as_str().unwrap().to_lowercase(), priority);
        assert_eq!(msg["publisher_id"], "image.localhost");
        (priority, msg)
    }

    /// The next notification, which must be `event_type` at INFO; its payload.
    pub(crate) async fn expect(&mut self, event_type: &str) -> Value {
        let (priority, msg) = self.next().await;
        assert_eq!(
            (priority.as_str(), msg["event_type"].as_str().unwrap()),
            ("info", event_type),
            "{msg}"
        );
        msg["payload"].clone()
    }

    pub(crate) async fn expect_nothing(&mut self) {
        if let Some(got) = self.listener.next_within(Duration::from_millis(700)).await {
            panic!(
                "unexpected notification: {}",
                String::from_utf8_lossy(&got.body)
            );
        }
    }

    pub(crate) async fn finish(self) {
        let queues: Vec<String> = ["info", "warn", "error"]
            .iter()
            .map(|p| format!("{}.{p}", self.name))
            .collect();
        self.listener.delete_queues(&queues).await;
        self.listener.close().await;
    }
}

const IMAGE_KEYS: [&str; 20] = [
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "min_disk",
    "min_ram",
    "protected",
    "checksum",
    "owner",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "is_public",
    "visibility",
    "properties",
    "tags",
    "deleted",
    "deleted_at",
];

/// Checks `payload` against Glance's `format_image_notification` of the
/// image `view` (as the API showed it) in `status`, with `extra` keys.
fn check_image_payload(payload: &Value, view: &Value, status: &str, extra: &[&str]) {
    let keys: Vec<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: Vec<&str> = IMAGE_KEYS.iter().chain(extra).copied().collect();
    assert_eq!(keys, expected, "{payload}");
    for same in [
        "id",
        "name",
        "created_at",
        "min_disk",
        "min_ram",
        "protected",
        "owner",
        "disk_format",
        "container_format",
        "visibility",
    ] {
        assert_eq!(payload[same], view[same], "{same}: {payload}");
    }
    assert_eq!(payload["status"], status);
    assert_eq!(payload["is_public"], view["visibility"] == "public");
    assert!(payload["updated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(payload["properties"], json!({"hw_disk_bus": "scsi"}));
    assert_eq!(payload["tags"], json!(["blue"]));
    let text = payload.to_string();
    assert!(
        !text.contains("file://") && !text.contains("locations"),
        "{text}"
    );
}

#[tokio::test]
async fn an_image_life_sends_glances_events_in_order_with_glances_payloads() {
    let mut topic = Topic::new().await;
    let mut app = TestApp::builder()
        .notifications(topic.config())
        .start()
        .await;
    let owner = app.member_of("p-owner");
    let body = json!({"name": "notified", "disk_format": "raw", "container_format": "bare",
                      "visibility": "shared", "tags": ["blue"], "hw_disk_bus": "scsi"});
    let created = owner.create_image(body).await;
    let id = id_of(&created);

    let p = topic.expect("image.create").await;
    check_image_payload(&p, &created, "queued", &[]);
    for empty in ["checksum", "size", "virtual_size", "deleted_at"] {
        assert_eq!(p[empty], Value::Null, "{empty}");
    }
    assert_eq!(p["deleted"], false);

    expect_status(owner.upload(&id, "hello").await, StatusCode::NO_CONTENT).await;
    let active = owner.image(&id).await;
    let p = topic.expect("image.update").await;
    check_image_payload(&p, &created, "saving", &[]);
    let p = topic.expect("image.prepare").await;
    check_image_payload(
        &p,
        &created,
        "saving",
        &["os_glance_importing_to_stores", "os_glance_failed_import"],
    );
    assert_eq!(p["os_glance_importing_to_stores"], json!([]));
    assert_eq!(p["os_glance_failed_import"], json!([]));
    let p = topic.expect("image.upload").await;
    check_image_payload(
        &p,
        &created,
        "active",
        &["os_glance_importing_to_stores", "os_glance_failed_import"],
    );
    assert_eq!(p["size"], 5);
    assert_eq!(p["checksum"], active["checksum"]);
    assert_eq!(p["virtual_size"], active["virtual_size"]);
    for event in ["image.activate", "image.update"] {
        let p = topic.expect(event).await;
        check_image_payload(&p, &created, "active", &[]);
        assert_eq!(p["size"], 5);
        assert_eq!(p["updated_at"], active["updated_at"]);
    }

    let data = owner
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(data.bytes().await.unwrap().as_ref(), b"hello");
    let p = topic.expect("image.send").await;
    assert_eq!(
        p,
        json!({"bytes_sent": 5, "image_id": id, "owner_id": "p-owner",
               "receiver_tenant_id": "p-owner", "receiver_user_id": "user-p-owner"})
    );

    let member_url = format!("/v2/images/{id}/members");
    let added = owner
        .post(&member_url)
        .json(&json!({"member": "p-guest"}))
        .send()
        .await
        .unwrap();
    let added = expect_json(added, StatusCode::OK).await;
    let p = topic.expect("image.member.create").await;
    assert_eq!(
        p,
        json!({"image_id": id, "member_id": "p-guest", "status": "pending",
               "created_at": added["created_at"], "updated_at": added["updated_at"],
               "deleted": false, "deleted_at": null})
    );
    let guest = app.member_of("p-guest");
    let accepted = guest
        .put(&format!("{member_url}/p-guest"))
        .json(&json!({"status": "accepted"}))
        .send()
        .await
        .unwrap();
    let accepted = expect_json(accepted, StatusCode::OK).await;
    let p = topic.expect("image.member.update").await;
    assert_eq!(p["status"], "accepted");
    assert_eq!(p["updated_at"], accepted["updated_at"]);
    assert_eq!(p["deleted"], false);
    let removed = owner
        .delete(&format!("{member_url}/p-guest"))
        .send()
        .await
        .unwrap();
    expect_status(removed, StatusCode::NO_CONTENT).await;
    let p = topic.expect("image.member.delete").await;
    assert_eq!(
        (&p["member_id"], &p["status"], &p["deleted"]),
        (&json!("p-guest"), &json!("accepted"), &json!(true))
    );
    assert!(p["deleted_at"].as_str().unwrap().ends_with('Z'));

    let deleted = owner
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(deleted, StatusCode::NO_CONTENT).await;
    let p = topic.expect("image.delete").await;
    let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, IMAGE_KEYS);
    assert_eq!(
        (&p["status"], &p["deleted"]),
        (&json!("deleted"), &json!(true))
    );
    assert!(p["deleted_at"].as_str().unwrap().ends_with('Z'));

    topic.expect_nothing().await;
    app.stop_notifications().await;
    topic.finish().await;
}

#[tokio::test]
async fn a_failed_upload_sends_image_upload_at_error_with_a_text_then_the_reset() {
    let mut topic = Topic::new().await;
    let app = TestApp::builder()
        .notifications(topic.config())
        .start()
        .await;
    let body = json!({"name": "bad", "disk_format": "qcow2", "container_format": "bare"});
    let id = id_of(&app.create_image(body).await);
    let refused = app.upload(&id, vec![0u8; 4096]).await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    for event in ["image.create", "image.update", "image.prepare"] {
        topic.expect(event).await;
    }
    let (priority, msg) = topic.next().await;
    assert_eq!(
        (priority.as_str(), &msg["event_type"]),
        ("error", &json!("image.upload"))
    );
    let text = msg["payload"].as_str().expect("a text payload");
    assert!(
        text.starts_with(&format!("Cannot save data for image {id}: ")),
        "{text}"
    );
    let p = topic.expect("image.update").await;
    assert_eq!(p["status"], "queued");
    topic.finish().await;
}

#[tokio::test]
async fn disabled_notifications_leave_out_events_and_whole_groups() {
    let mut topic = Topic::new().await;
    let mut config = topic.config();
    config.disabled = DisabledEvents::new(["image.update".into(), "image.prepare".into()]);
    let app = TestApp::builder().notifications(config).start().await;
    let id = app.create_raw_image("partly").await;
    app.upload_ok(&id, "data").await;
    for event in ["image.create", "image.upload", "image.activate"] {
        topic.expect(event).await;
    }
    topic.expect_nothing().await;

    let mut config = topic.config();
    config.disabled = DisabledEvents::new(["image".into()]);
    let app = TestApp::builder().notifications(config).start().await;
    let owner = app.member_of("p1");
    let id = id_of(
        &owner
            .create_image(json!({"name": "x", "visibility": "shared"}))
            .await,
    );
    let added = owner
        .post(&format!("/v2/images/{id}/members"))
        .json(&json!({"member": "p2"}))
        .send()
        .await
        .unwrap();
    expect_status(added, StatusCode::OK).await;
    topic.expect_nothing().await;
    assert_eq!(app.service().notifier().stats().unwrap().published(), 0);
    topic.finish().await;
}

#[tokio::test]
async fn without_a_driver_nothing_is_published() {
    let mut topic = Topic::new().await;
    let mut config = topic.config();
    config.drivers.clear();
    let app = TestApp::builder().notifications(config).start().await;
    let id = app.create_raw_image("quiet").await;
    app.upload_ok(&id, "data").await;
    assert!(app.service().notifier().stats().is_none());
    topic.expect_nothing().await;
    topic.finish().await;
}

#[tokio::test]
async fn an_unreachable_rabbitmq_neither_slows_nor_fails_the_api_and_drops_are_counted() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = NotifierConfig {
        drivers: vec![Driver::Messaging(MessageFormat::V2)],
        transport: transport_url(Some(port), "/"),
        queue_size: 4,
        drain_timeout: Duration::from_millis(200),
        ..NotifierConfig::default()
    };
    let mut app = TestApp::builder().notifications(config).start().await;
    let started = Instant::now();
    for i in 0..20 {
        let id = app.create_raw_image(&format!("img-{i}")).await;
        app.upload_ok(&id, "data").await;
    }
    // 120 events (create, update, prepare, upload, activate, update each):
    // far more than the queue holds, yet no call waited for the broker.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let stats = app.service().notifier().stats().unwrap();
    assert!(stats.dropped() >= 120 - 8, "dropped {}", stats.dropped());
    assert_eq!(stats.published(), 0);
    app.stop_notifications().await;
    assert_eq!(app.service().notifier().stats().unwrap().dropped(), 120);
}

#[tokio::test]
async fn an_import_sends_the_task_events_in_glances_order_with_its_payload() {
    let mut topic = Topic::new().await;
    let app = TestApp::builder()
        .notifications(topic.config())
        .start()
        .await;
    let id = app.create_raw_image("imported").await;
    let staged = app
        .admin()
        .put(&format!("/v2/images/{id}/stage"))
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    expect_status(staged, StatusCode::NO_CONTENT).await;
    let imported = app
        .admin()
        .post(&format!("/v2/images/{id}/import"))
        .json(&json!({"method": {"name": "glance-direct"}}))
        .send()
        .await
        .unwrap();
    expect_status(imported, StatusCode::ACCEPTED).await;

    // Image events come in between; the task's own come in this order,
    // each showing the task as it was before the change it announces.
    let mut tasks = Vec::new();
    while tasks.len() < 4 {
        let (priority, msg) = topic.next().await;
        let event = msg["event_type"].as_str().unwrap().to_owned();
        if event.starts_with("task.") {
            assert_eq!(priority, "info", "{msg}");
            tasks.push((event, msg["payload"].clone()));
        }
    }
    let order: Vec<&str> = tasks.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        order,
        ["task.create", "task.run", "task.processing", "task.success"]
    );
    let statuses: Vec<&str> = tasks
        .iter()
        .map(|(_, p)| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "pending", "pending", "processing"]);
    let task_id = tasks[0].1["id"].as_str().unwrap().to_owned();
    for (_, payload) in &tasks {
        assert_eq!(payload["id"], task_id.as_str());
        assert_eq!(payload["type"], "api_image_import");
        assert_eq!(payload["result"], Value::Null);
        assert_eq!(payload["message"], Value::Null);
        assert_eq!(payload["deleted"], false);
        assert!(payload.get("input").is_none(), "{payload}");
        for time in ["created_at", "updated_at", "expires_at"] {
            let t = payload[time].as_str().unwrap();
            assert!(t.ends_with('Z') && t.len() == 20, "{time}: {t}");
        }
    }
    app.wait_for_image(&id, Duration::from_secs(10), |i| i["status"] == "active")
        .await;
}
