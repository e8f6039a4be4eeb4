//! The notifier against the real RabbitMQ (`GLINT_TEST_RABBIT_URL`, else
//! guest on 127.0.0.1:5672). Each test publishes under a topic of its own
//! (or in a virtual host of its own), so tests running at the same time
//! never see each other's messages.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glint_notify::testing::{Listener, transport_url};
use glint_notify::{
    Driver, EventType, MessageFormat, Notifier, NotifierConfig, Priority, TransportUrl,
};
use serde_json::{Value, json};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

fn unique_topic() -> String {
    format!("glint-test-{}", uuid::Uuid::new_v4().simple())
}

fn config(topic: &str, transport: TransportUrl, format: MessageFormat) -> NotifierConfig {
    NotifierConfig {
        drivers: vec![Driver::Messaging(format)],
        transport,
        topics: vec![topic.to_owned()],
        retry_interval: Duration::from_millis(100),
        retry_interval_max: Duration::from_millis(400),
        drain_timeout: Duration::from_secs(2),
        ..NotifierConfig::default()
    }
}

/// The queues the notifier declares for `topic`, removed after a test.
fn topic_queues(topic: &str) -> Vec<String> {
    ["info", "warn", "error"]
        .iter()
        .map(|p| format!("{topic}.{p}"))
        .collect()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn messagingv2_publishes_persistent_json_envelopes_to_the_glance_exchange() {
    let topic = unique_topic();
    let mut listener = Listener::bind("/", "glance", &format!("{topic}.*")).await;
    let cfg = config(&topic, transport_url(None, "/"), MessageFormat::V2);
    let (notifier, publisher) = Notifier::start(cfg);
    let before = glint_model::time::now();
    notifier.info(
        EventType::ImageCreate,
        || json!({"id": "abc", "name": "ünï"}),
    );
    notifier.error(EventType::ImageUpload, || "upload failed".to_owned());

    let info = listener.next().await;
    assert_eq!(info.exchange, "glance");
    assert_eq!(info.routing_key, format!("{topic}.info"));
    assert_eq!(info.content_type.as_deref(), Some("application/json"));
    assert_eq!(info.content_encoding.as_deref(), Some("utf-8"));
    assert_eq!(info.delivery_mode, Some(2));
    let envelope = info.json();
    assert_eq!(envelope.as_object().unwrap().len(), 2, "{envelope}");
    let msg = info.oslo_message();
    assert_eq!(msg["publisher_id"], "image.localhost");
    assert_eq!(msg["event_type"], "image.create");
    assert_eq!(msg["priority"], "INFO");
    assert_eq!(msg["payload"], json!({"id": "abc", "name": "ünï"}));
    assert_eq!(msg["message_id"].as_str().unwrap().len(), 36);
    assert_eq!(msg["_unique_id"].as_str().unwrap().len(), 32);
    let stamp = msg["timestamp"].as_str().unwrap();
    let parsed = time::PrimitiveDateTime::parse(
        stamp,
        time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
        ),
    )
    .or_else(|_| {
        time::PrimitiveDateTime::parse(
            stamp,
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        )
    })
    .expect("oslo's timestamp format")
    .assume_utc();
    assert!(
        (parsed - before).abs() < time::Duration::seconds(10),
        "{stamp}"
    );

    let error = listener.next().await;
    assert_eq!(error.routing_key, format!("{topic}.error"));
    let msg = error.oslo_message();
    assert_eq!(msg["priority"], "ERROR");
    assert_eq!(msg["payload"], "upload failed");

    publisher.shutdown().await;
    assert_eq!(notifier.stats().unwrap().published(), 2);
    listener.delete_queues(&topic_queues(&topic)).await;
    listener.close().await;
}

#[tokio::test]
async fn messaging_v1_sends_the_message_without_envelope_to_every_topic() {
    let (a, b) = (unique_topic(), unique_topic());
    let mut la = Listener::bind("/", "glance", &format!("{a}.*")).await;
    let mut lb = Listener::bind("/", "glance", &format!("{b}.*")).await;
    let mut cfg = config(&a, transport_url(None, "/"), MessageFormat::V1);
    cfg.topics.push(b.clone());
    cfg.publisher_id = "image.node7".into();
    let (notifier, publisher) = Notifier::start(cfg);
    notifier.emit(
        EventType::ImageSend,
        Priority::Warn,
        || json!({"bytes_sent": 1}),
    );
    for (listener, topic) in [(&mut la, &a), (&mut lb, &b)] {
        let got = listener.next().await;
        assert_eq!(got.routing_key, format!("{topic}.warn"));
        let msg = got.json();
        assert!(msg.get("oslo.version").is_none(), "{msg}");
        assert_eq!(msg["event_type"], "image.send");
        assert_eq!(msg["priority"], "WARN");
        assert_eq!(msg["publisher_id"], "image.node7");
        assert_eq!(msg["payload"], json!({"bytes_sent": 1}));
    }
    publisher.shutdown().await;
    la.delete_queues(&[topic_queues(&a), topic_queues(&b)].concat())
        .await;
    la.close().await;
    lb.close().await;
}

/// `rabbitmqctl` with `args`, for a virtual host of the test's own.
fn rabbitmqctl(args: &[&str]) {
    let out = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl (the RabbitMQ server's tool) on this machine");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn with_glances_names_notifications_wait_in_notifications_info_for_a_consumer() {
    let vhost = format!("glint-test-{}", uuid::Uuid::new_v4().simple());
    let v = vhost.clone();
    tokio::task::spawn_blocking(move || {
        rabbitmqctl(&["add_vhost", &v]);
        rabbitmqctl(&["set_permissions", "-p", &v, "guest", ".*", ".*", ".*"]);
    })
    .await
    .unwrap();
    let cfg = NotifierConfig {
        drivers: vec![Driver::Messaging(MessageFormat::V2)],
        transport: transport_url(None, &vhost),
        ..NotifierConfig::default()
    };
    let (notifier, publisher) = Notifier::start(cfg);
    for i in 0..3 {
        notifier.info(EventType::ImageUpdate, || json!({"n": i}));
    }
    let stats = notifier.stats().unwrap();
    wait_for("the broker's confirms", || stats.published() == 3).await;
    publisher.shutdown().await;

    // Nobody consumed yet: the messages wait in the queue oslo.messaging
    // declares, named after the routing key.
    let mut listener = Listener::on_queue(&vhost, "notifications.info").await;
    for i in 0..3 {
        let got = listener.next().await;
        assert_eq!(got.exchange, "glance");
        assert_eq!(got.routing_key, "notifications.info");
        assert_eq!(got.oslo_message()["payload"], json!({"n": i}));
    }
    listener.close().await;
    tokio::task::spawn_blocking(move || rabbitmqctl(&["delete_vhost", &vhost]))
        .await
        .unwrap();
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_flood_fills_the_bounded_queue_then_drops_and_counts_without_waiting() {
    let topic = unique_topic();
    let mut cfg = config(
        &topic,
        transport_url(Some(closed_port().await), "/"),
        MessageFormat::V2,
    );
    cfg.queue_size = 10;
    cfg.drain_timeout = Duration::from_millis(300);
    let (notifier, publisher) = Notifier::start(cfg);
    let started = Instant::now();
    for i in 0..5000 {
        notifier.info(EventType::ImageUpdate, || json!({"n": i}));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "emitting waited: {:?}",
        started.elapsed()
    );
    let stats = Arc::clone(publisher.stats());
    // At most the queue and one batch the publisher holds are kept.
    assert!(stats.dropped() >= 5000 - 20, "dropped {}", stats.dropped());
    let stopping = Instant::now();
    publisher.shutdown().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        stopping.elapsed()
    );
    assert_eq!(stats.published(), 0);
    assert_eq!(stats.dropped(), 5000, "every notification is counted once");
    // After shutdown, nothing is accepted, and that is counted too.
    notifier.info(EventType::ImageUpdate, || json!({}));
    assert_eq!(stats.dropped(), 5001);
}

/// A TCP forwarder the test can cut.
struct Proxy {
    port: u16,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            target,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks) = (self.target, Arc::clone(&self.tasks));
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Ok(mut server) = TcpStream::connect(target).await else {
                    continue;
                };
                let pump = tokio::spawn(async move {
                    let _ = copy_bidirectional(&mut client, &mut server).await;
                });
                tasks.lock().unwrap().push(pump);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Cuts every connection and refuses new ones.
    fn cut(&self) {
        self.tasks.lock().unwrap().drain(..).for_each(|t| t.abort());
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

fn broker_addr() -> SocketAddr {
    let t = transport_url(None, "/");
    let h = &t.hosts[0];
    let host = if h.host == "localhost" {
        "127.0.0.1"
    } else {
        h.host.as_str()
    };
    format!("{host}:{}", h.port)
        .parse()
        .expect("the broker's address")
}

#[tokio::test]
async fn the_publisher_reconnects_after_its_connection_is_cut_and_sends_what_waited() {
    let topic = unique_topic();
    let mut listener = Listener::bind("/", "glance", &format!("{topic}.*")).await;
    let proxy = Proxy::start(broker_addr()).await;
    let cfg = config(
        &topic,
        transport_url(Some(proxy.port), "/"),
        MessageFormat::V2,
    );
    let (notifier, publisher) = Notifier::start(cfg);
    notifier.info(EventType::ImageCreate, || json!({"n": "before"}));
    assert_eq!(
        listener.next().await.oslo_message()["payload"]["n"],
        "before"
    );

    proxy.cut();
    for n in ["while-down-1", "while-down-2"] {
        notifier.info(EventType::ImageUpdate, || json!({"n": n}));
    }
    // Nothing can pass while the broker is out of reach.
    assert!(
        listener
            .next_within(Duration::from_millis(500))
            .await
            .is_none()
    );
    proxy.restore().await;
    let mut got = Vec::new();
    while got.len() < 2 {
        let msg = listener.next().await.oslo_message();
        let n = msg["payload"]["n"].as_str().unwrap().to_owned();
        // At least once: a batch cut before its confirm comes again.
        if !got.contains(&n) {
            got.push(n);
        }
    }
    assert_eq!(got, ["while-down-1", "while-down-2"]);
    notifier.info(EventType::ImageDelete, || json!({"n": "after"}));
    loop {
        let msg = listener.next().await.oslo_message();
        if msg["payload"]["n"] == "after" {
            break;
        }
    }
    publisher.shutdown().await;
    assert_eq!(notifier.stats().unwrap().dropped(), 0);
    listener.delete_queues(&topic_queues(&topic)).await;
    listener.close().await;
}

#[tokio::test]
async fn shutdown_sends_what_is_still_queued() {
    let topic = unique_topic();
    let mut listener = Listener::bind("/", "glance", &format!("{topic}.*")).await;
    let cfg = config(&topic, transport_url(None, "/"), MessageFormat::V2);
    let (notifier, publisher) = Notifier::start(cfg);
    for i in 0..200 {
        notifier.info(EventType::ImageUpdate, || json!({"n": i}));
    }
    publisher.shutdown().await;
    let stats = notifier.stats().unwrap();
    assert_eq!((stats.published(), stats.dropped()), (200, 0));
    for i in 0..200 {
        assert_eq!(
            listener.next().await.oslo_message()["payload"],
            json!({"n": i})
        );
    }
    listener.delete_queues(&topic_queues(&topic)).await;
    listener.close().await;
}

#[tokio::test]
async fn no_driver_starts_nothing_and_sends_nothing() {
    let (notifier, publisher) = Notifier::start(NotifierConfig::default());
    assert!(!notifier.enabled(EventType::ImageCreate));
    let built = std::sync::atomic::AtomicBool::new(false);
    notifier.info(EventType::ImageCreate, || {
        built.store(true, std::sync::atomic::Ordering::Relaxed);
        Value::Null
    });
    assert!(
        !built.into_inner(),
        "no payload is built when notifications are off"
    );
    assert!(notifier.stats().is_none());
    publisher.shutdown().await;
}

/// Collects what a `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_log_driver_logs_each_message_at_its_priority_with_secrets_masked() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let cfg = NotifierConfig {
        drivers: vec![Driver::Log],
        ..NotifierConfig::default()
    };
    let (notifier, publisher) = Notifier::start(cfg);
    notifier.info(
        EventType::ImageCreate,
        || json!({"id": "x", "properties": {"admin_password": "hunter2"}}),
    );
    notifier.error(EventType::ImageUpload, || "upload failed".to_owned());
    publisher.shutdown().await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("oslo.messaging.notification"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(" INFO ") && lines[0].contains(r#""event_type": "image.create""#),
        "{text}"
    );
    assert!(lines[0].contains(r#""admin_password": "***""#), "{text}");
    assert!(
        lines[1].contains(" ERROR ") && lines[1].contains(r#""payload": "upload failed""#),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(notifier.stats().unwrap().published(), 2);
}
