//! `glint serve` with notifications configured in `glance-api.conf`,
//! against the real RabbitMQ (`GLINT_TEST_RABBIT_URL`, else guest on
//! 127.0.0.1:5672).

use crate::common;

use std::time::{Duration, Instant};

use common::Setup;
use glint_notify::testing::{Listener, transport_url_text};
use serde_json::json;

#[tokio::test]
async fn serve_sends_the_configured_notifications_and_sends_what_is_queued_at_sigterm() {
    let topic = format!("glint-test-{}", uuid::Uuid::new_v4().simple());
    let mut listener = Listener::bind("/", "images-test", &format!("{topic}.*")).await;
    let setup = Setup::with_config(&format!(
        "\n[DEFAULT]\ncontrol_exchange = images-test\ndefault_publisher_id = image.node-a\n\
         disabled_notifications = image.update\n\
         [oslo_messaging_notifications]\ndriver = messagingv2\ntransport_url = {}\ntopics = {topic}\n",
        transport_url_text(None)
    ));
    let mut server = setup.start();
    let client = reqwest::Client::new();
    server.wait_ready(&client).await;
    let body = json!({"name": "n", "disk_format": "raw", "container_format": "bare"});
    let id = server.create_image(&client, body).await;
    server.signal("TERM");
    assert!(server.wait_exit().await.success(), "{}", server.logs());

    let got = listener.next().await;
    assert_eq!(got.exchange, "images-test");
    assert_eq!(got.routing_key, format!("{topic}.info"));
    let msg = got.oslo_message();
    assert_eq!(msg["event_type"], "image.create");
    assert_eq!(msg["publisher_id"], "image.node-a");
    assert_eq!(msg["payload"]["id"], id);
    assert!(
        listener
            .next_within(Duration::from_millis(500))
            .await
            .is_none()
    );
    listener
        .delete_queues(&[format!("{topic}.info"), format!("{topic}.error")])
        .await;
    listener.close().await;
}

#[tokio::test]
async fn an_unreachable_broker_is_logged_without_its_password_and_the_api_serves() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let setup = Setup::with_config(&format!(
        "\n[oslo_messaging_notifications]\ndriver = messagingv2\n\
         transport_url = rabbit://glance:Sup3r-s3cret-pw@127.0.0.1:{port}/openstack\n\
         [oslo_messaging_rabbit]\nrabbit_retry_interval = 0.2\n"
    ));
    let mut server = setup.start();
    let client = reqwest::Client::new();
    server.wait_ready(&client).await;
    let started = Instant::now();
    for i in 0..5 {
        let body = json!({"name": format!("img-{i}")});
        server.create_image(&client, body).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.logs().contains("cannot publish notifications") {
        assert!(
            Instant::now() < deadline,
            "no reconnection logged:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.signal("TERM");
    assert!(server.wait_exit().await.success(), "{}", server.logs());
    let logs = server.logs();
    assert!(logs.contains("rabbit://glance:***@127.0.0.1"), "{logs}");
    assert!(!logs.contains("Sup3r-s3cret-pw"), "{logs}");
}
