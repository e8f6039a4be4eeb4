//! A RabbitMQ consumer for tests: a queue of the test's own, bound to a
//! notification exchange, and what arrives on it with its AMQP properties.

use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use serde_json::Value;

/// The broker the tests use: `GLINT_TEST_RABBIT_URL` (an `amqp://` URL),
/// else guest on 127.0.0.1:5672.
pub fn rabbit_url() -> String {
    std::env::var("GLINT_TEST_RABBIT_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// The same broker as a transport URL of `glance-api.conf`, on `port`
/// (a proxy's) when given, in `vhost`.
pub fn transport_url(port: Option<u16>, vhost: &str) -> crate::TransportUrl {
    let uri: lapin::uri::AMQPUri = rabbit_url().parse().expect("GLINT_TEST_RABBIT_URL");
    let a = uri.authority;
    crate::TransportUrl {
        hosts: vec![crate::RabbitHost {
            host: a.host,
            port: port.unwrap_or(a.port),
            username: a.userinfo.username,
            password: crate::Secret::new(a.userinfo.password),
        }],
        virtual_host: vhost.to_owned(),
        query: Vec::new(),
    }
}

/// The same broker as `glance-api.conf` writes it, with its password:
/// `rabbit://user:password@host:port/` (the virtual host `/`), on `port`
/// when given.
pub fn transport_url_text(port: Option<u16>) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let t = transport_url(port, "/");
    let h = &t.hosts[0];
    format!(
        "rabbit://{}:{}@{}:{}/",
        utf8_percent_encode(&h.username, NON_ALPHANUMERIC),
        utf8_percent_encode(h.password.expose(), NON_ALPHANUMERIC),
        h.host,
        h.port
    )
}

/// One message as a consumer receives it.
#[derive(Debug, Clone)]
pub struct Received {
    pub exchange: String,
    pub routing_key: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub delivery_mode: Option<u8>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The oslo.messaging message inside a 2.0 envelope.
    pub fn oslo_message(&self) -> Value {
        let envelope = self.json();
        assert_eq!(envelope["oslo.version"], "2.0", "{envelope}");
        let text = envelope["oslo.message"]
            .as_str()
            .expect("oslo.message is a string");
        serde_json::from_str(text).expect("oslo.message holds JSON")
    }
}

/// A consumer on a queue of its own.
pub struct Listener {
    connection: Connection,
    channel: Channel,
    consumer: Consumer,
}

impl Listener {
    /// Binds a new exclusive queue to `exchange` (declared as the notifier
    /// declares it by default) with `binding_key`, in `vhost`.
    pub async fn bind(vhost: &str, exchange: &str, binding_key: &str) -> Listener {
        let mut uri: lapin::uri::AMQPUri = rabbit_url().parse().expect("GLINT_TEST_RABBIT_URL");
        uri.vhost = vhost.to_owned();
        let connection = Connection::connect_uri(uri, ConnectionProperties::default())
            .await
            .expect("connect to RabbitMQ (GLINT_TEST_RABBIT_URL, default 127.0.0.1:5672)");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("declare the exchange");
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare a queue");
        channel
            .queue_bind(
                queue.name().clone(),
                exchange.into(),
                binding_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind the queue");
        let consumer = consume(&channel, queue.name().as_str()).await;
        Listener {
            connection,
            channel,
            consumer,
        }
    }

    /// Consumes an existing queue (one the notifier declared).
    pub async fn on_queue(vhost: &str, queue: &str) -> Listener {
        let mut uri: lapin::uri::AMQPUri = rabbit_url().parse().expect("GLINT_TEST_RABBIT_URL");
        uri.vhost = vhost.to_owned();
        let connection = Connection::connect_uri(uri, ConnectionProperties::default())
            .await
            .expect("connect to RabbitMQ");
        let channel = connection.create_channel().await.expect("channel");
        let consumer = consume(&channel, queue).await;
        Listener {
            connection,
            channel,
            consumer,
        }
    }

    /// The next message, if one comes within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Received> {
        let delivery = tokio::time::timeout(wait, self.consumer.next())
            .await
            .ok()??
            .expect("a delivery");
        delivery.ack(BasicAckOptions::default()).await.expect("ack");
        let p = &delivery.properties;
        Some(Received {
            exchange: delivery.exchange.to_string(),
            routing_key: delivery.routing_key.to_string(),
            content_type: p.content_type().as_ref().map(|s| s.to_string()),
            content_encoding: p.content_encoding().as_ref().map(|s| s.to_string()),
            delivery_mode: *p.delivery_mode(),
            body: delivery.data.clone(),
        })
    }

    /// The next message; fails the test after 10 s.
    pub async fn next(&mut self) -> Received {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("a notification within 10 s")
    }

    /// Deletes queues the notifier declared for the test.
    pub async fn delete_queues(&self, names: &[String]) {
        for name in names {
            let _ = self
                .channel
                .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }

    pub async fn close(self) {
        let _ = self.connection.close(200, "done".into()).await;
    }
}

async fn consume(channel: &Channel, queue: &str) -> Consumer {
    channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume")
}
