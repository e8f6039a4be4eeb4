//! The messaging drivers: notifications published to RabbitMQ as
//! oslo.messaging's rabbit driver publishes them.
//!
//! Each goes to the topic exchange `control_exchange` (`glance`) with the
//! routing key `<topic>.<priority>`, persistent (delivery mode 2), as
//! `application/json` in UTF-8. Before the first message of a routing key
//! on a connection, the exchange and a queue named after the routing key,
//! bound to it, are declared, so that notifications wait in RabbitMQ until
//! a consumer (Ceilometer, …) comes. Unlike oslo.messaging, glint asks for
//! publisher confirms: a batch counts as sent once RabbitMQ took it; a
//! connection lost before that sends the batch again (at least once).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};

use crate::config::{NotifierConfig, RabbitHost};
use crate::message::{MessageFormat, Notification};
use crate::stats::NotifierStats;

/// AMQP's persistent delivery mode, kombu's default.
const PERSISTENT: u8 = 2;

/// One message to publish: its routing key and body.
struct Outgoing {
    routing_key: ShortString,
    body: Vec<u8>,
}

/// An open connection and its confirming channel.
struct Link {
    connection: Connection,
    channel: Channel,
    /// Whether the exchange is declared durable on this connection (it
    /// falls back to not durable, as oslo.messaging does, when the
    /// exchange already exists so).
    exchange_durable: bool,
    exchange_declared: bool,
    /// Routing keys whose queue is declared and bound on this connection.
    queues: HashSet<ShortString>,
}

pub(crate) struct AmqpPublisher {
    config: NotifierConfig,
    format: MessageFormat,
    stats: Arc<NotifierStats>,
    link: Option<Link>,
    /// The broker of the next connection attempt.
    next_host: usize,
    /// Wait before the next connection attempt.
    backoff: Duration,
}

impl AmqpPublisher {
    pub(crate) fn new(
        config: NotifierConfig,
        format: MessageFormat,
        stats: Arc<NotifierStats>,
    ) -> Self {
        let backoff = config.retry_interval;
        AmqpPublisher {
            config,
            format,
            stats,
            link: None,
            next_host: 0,
            backoff,
        }
    }

    /// Publishes `batch` to every topic, retrying (reconnecting with
    /// backoff) until RabbitMQ confirmed all of it.
    pub(crate) async fn publish(&mut self, batch: &[Notification]) {
        let (topics, format) = (&self.config.topics, self.format);
        let mut pending: Vec<Outgoing> = batch
            .iter()
            .flat_map(|n| {
                topics.iter().map(move |topic| Outgoing {
                    routing_key: format!("{topic}.{}", n.priority.routing_suffix()).into(),
                    body: n.encode(format),
                })
            })
            .collect();
        while !pending.is_empty() {
            if let Err(e) = self.try_publish(&mut pending).await {
                let host = self.current_host().to_string();
                tracing::warn!(
                    rabbit.host = %host,
                    error = %e,
                    retry_in_ms = self.backoff.as_millis() as u64,
                    pending = pending.len(),
                    "cannot publish notifications; reconnecting"
                );
                self.drop_link().await;
                self.next_host = self.next_host.wrapping_add(1);
                tokio::time::sleep(self.backoff).await;
                self.backoff = (self.backoff * 2).min(self.config.retry_interval_max);
            }
        }
    }

    /// Publishes `pending` on the current connection (opened if needed),
    /// removing what RabbitMQ confirmed.
    async fn try_publish(&mut self, pending: &mut Vec<Outgoing>) -> Result<(), PublishError> {
        if self.link.is_none() {
            self.link = Some(self.connect().await?);
            self.backoff = self.config.retry_interval;
        }
        let Some(link) = self.link.as_mut() else {
            return Err(PublishError::Closed);
        };
        for out in pending.iter() {
            declare(link, &self.config, &out.routing_key).await?;
        }
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_content_encoding("utf-8".into())
            .with_delivery_mode(PERSISTENT)
            .with_priority(0)
            .with_headers(FieldTable::default());
        let mut confirms = Vec::with_capacity(pending.len());
        for out in pending.iter() {
            let confirm = link
                .channel
                .basic_publish(
                    self.config.exchange.as_str().into(),
                    out.routing_key.clone(),
                    BasicPublishOptions::default(),
                    &out.body,
                    properties.clone(),
                )
                .await?;
            confirms.push(confirm);
        }
        let mut confirmed = 0;
        let mut result = Ok(());
        for confirm in confirms {
            match confirm.await {
                Ok(Confirmation::Nack(_)) => {
                    self.stats.add_refused(1);
                    tracing::warn!("RabbitMQ refused a notification (negative confirm)");
                    confirmed += 1;
                }
                Ok(_) => confirmed += 1,
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        pending.drain(..confirmed);
        result
    }

    fn current_host(&self) -> &RabbitHost {
        let hosts = &self.config.transport.hosts;
        &hosts[self.next_host % hosts.len()]
    }

    async fn connect(&self) -> Result<Link, PublishError> {
        let host = self.current_host();
        let timeout = self.config.connect_timeout;
        let uri = AMQPUri {
            scheme: AMQPScheme::AMQP,
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo {
                    username: host.username.clone(),
                    password: host.password.expose().to_owned(),
                },
                host: host.host.clone(),
                port: host.port,
            },
            vhost: self.config.transport.virtual_host.clone(),
            query: AMQPQueryString {
                connection_timeout: Some(timeout.as_millis() as u64),
                ..AMQPQueryString::default()
            },
        };
        let properties =
            ConnectionProperties::default().with_connection_name("glint notifications".into());
        let connection = tokio::time::timeout(timeout, Connection::connect_uri(uri, properties))
            .await
            .map_err(|_| PublishError::Timeout)??;
        let channel = open_channel(&connection).await?;
        tracing::info!(rabbit.host = %host, rabbit.vhost = %self.config.transport.virtual_host, "connected to RabbitMQ for notifications");
        Ok(Link {
            connection,
            channel,
            exchange_durable: self.config.durable || self.config.quorum_queues,
            exchange_declared: false,
            queues: HashSet::new(),
        })
    }

    async fn drop_link(&mut self) {
        if let Some(link) = self.link.take() {
            // The connection may already be gone; closing is a courtesy.
            let close = link.connection.close(200, "reconnecting".into());
            let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
        }
    }

    /// Closes the connection at shutdown.
    pub(crate) async fn close(&mut self) {
        if let Some(link) = self.link.take() {
            let close = link.connection.close(200, "shutting down".into());
            let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
        }
    }
}

async fn open_channel(connection: &Connection) -> Result<Channel, PublishError> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

fn is_precondition_failed(e: &lapin::Error) -> bool {
    matches!(
        e.kind(),
        lapin::ErrorKind::ProtocolError(amqp)
            if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED))
    )
}

/// Declares the exchange and `routing_key`'s queue, once per connection.
async fn declare(
    link: &mut Link,
    config: &NotifierConfig,
    routing_key: &ShortString,
) -> Result<(), PublishError> {
    if !link.exchange_declared {
        declare_exchange(link, config).await?;
        link.exchange_declared = true;
    }
    if link.queues.contains(routing_key) {
        return Ok(());
    }
    let durable = config.durable || config.quorum_queues;
    let mut arguments = FieldTable::default();
    if config.ha_queues {
        arguments.insert("x-ha-policy".into(), AMQPValue::LongString("all".into()));
    }
    if config.quorum_queues {
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
    }
    let options = QueueDeclareOptions {
        durable,
        auto_delete: config.auto_delete,
        ..QueueDeclareOptions::default()
    };
    match link
        .channel
        .queue_declare(routing_key.clone(), options, arguments)
        .await
    {
        Ok(_) => {}
        // The queue exists with other settings (another service declared
        // it so): it is there to bind, which is what matters.
        Err(e) if is_precondition_failed(&e) => {
            tracing::warn!(queue = %routing_key.as_str(), error = %e, "notification queue exists with other settings; using it as it is");
            link.channel = open_channel(&link.connection).await?;
        }
        Err(e) => return Err(e.into()),
    }
    link.channel
        .queue_bind(
            routing_key.clone(),
            config.exchange.as_str().into(),
            routing_key.clone(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    link.queues.insert(routing_key.clone());
    Ok(())
}

async fn declare_exchange(link: &mut Link, config: &NotifierConfig) -> Result<(), PublishError> {
    let options = |durable| ExchangeDeclareOptions {
        durable,
        auto_delete: config.auto_delete,
        ..ExchangeDeclareOptions::default()
    };
    let declared = link
        .channel
        .exchange_declare(
            config.exchange.as_str().into(),
            ExchangeKind::Topic,
            options(link.exchange_durable),
            FieldTable::default(),
        )
        .await;
    match declared {
        Ok(()) => Ok(()),
        // As oslo.messaging: a shared exchange declared not durable by
        // another service is used as it is.
        Err(e) if link.exchange_durable && is_precondition_failed(&e) => {
            tracing::warn!(exchange = %config.exchange, "exchange exists and is not durable; declaring it not durable");
            link.channel = open_channel(&link.connection).await?;
            link.exchange_durable = false;
            link.channel
                .exchange_declare(
                    config.exchange.as_str().into(),
                    ExchangeKind::Topic,
                    options(false),
                    FieldTable::default(),
                )
                .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Why a batch could not be published (never shows credentials).
#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error("{0}")]
    Amqp(#[from] lapin::Error),
    #[error("connection attempt timed out")]
    Timeout,
    #[error("connection closed")]
    Closed,
}
