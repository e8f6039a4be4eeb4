//! The notifier handle the use cases emit through, and the one publisher
//! task that sends what they emit.
//!
//! Emitting never waits and never fails: a notification goes into a
//! bounded queue, or, when the queue is full (RabbitMQ slow or away), is
//! dropped and counted. The publisher takes notifications from the queue in
//! batches and hands each to every driver; the messaging driver retries,
//! reconnecting with backoff, until RabbitMQ has confirmed the batch.

use std::sync::Arc;
use std::time::Duration;

use glint_model::time;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::amqp::AmqpPublisher;
use crate::config::{Driver, NotifierConfig};
use crate::event::{DisabledEvents, EventType, Priority};
use crate::message::Notification;
use crate::stats::NotifierStats;

/// Notifications taken from the queue at once.
const BATCH: usize = 64;

struct Shared {
    queue: mpsc::Sender<Notification>,
    disabled: DisabledEvents,
    publisher_id: Arc<str>,
    stats: Arc<NotifierStats>,
}

/// Where the use cases send notifications. Cheap to clone. The default is
/// off: nothing is formatted or sent.
#[derive(Clone, Default)]
pub struct Notifier {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("enabled", &self.shared.is_some())
            .finish()
    }
}

impl Notifier {
    /// A notifier that sends nothing (no driver, or `noop`).
    pub fn off() -> Notifier {
        Notifier::default()
    }

    /// Starts the publisher task for `config`'s drivers. Without a driver
    /// nothing starts and the notifier is off. Must run inside a tokio
    /// runtime.
    pub fn start(config: NotifierConfig) -> (Notifier, Publisher) {
        let stats = Arc::new(NotifierStats::default());
        if config.drivers.is_empty() {
            let publisher = Publisher {
                stop: None,
                task: None,
                stats: Arc::clone(&stats),
            };
            return (Notifier::off(), publisher);
        }
        let (tx, rx) = mpsc::channel(config.queue_size.max(1));
        let shared = Shared {
            queue: tx,
            disabled: config.disabled.clone(),
            publisher_id: Arc::from(config.publisher_id.as_str()),
            stats: Arc::clone(&stats),
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let worker = Worker::new(config, rx, Arc::clone(&stats));
        let task = tokio::spawn(worker.run(stop_rx));
        let publisher = Publisher {
            stop: Some(stop_tx),
            task: Some(task),
            stats,
        };
        (
            Notifier {
                shared: Some(Arc::new(shared)),
            },
            publisher,
        )
    }

    /// Whether `event` would be sent: a driver is configured and
    /// `disabled_notifications` does not name it.
    pub fn enabled(&self, event: EventType) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|s| !s.disabled.disables(event))
    }

    /// Sends `event` at INFO with the payload `payload` builds (only built
    /// when the event is enabled).
    pub fn info(&self, event: EventType, payload: impl FnOnce() -> Value) {
        self.emit(event, Priority::Info, payload);
    }

    /// Sends `event` at ERROR; Glance's error payloads are a text.
    pub fn error(&self, event: EventType, text: impl FnOnce() -> String) {
        self.emit(event, Priority::Error, || Value::String(text()));
    }

    /// Sends `event` at `priority`, never waiting: when the queue is full
    /// the notification is dropped and counted.
    pub fn emit(&self, event: EventType, priority: Priority, payload: impl FnOnce() -> Value) {
        let Some(shared) = self.shared.as_ref().filter(|s| !s.disabled.disables(event)) else {
            return;
        };
        let notification = Notification {
            message_id: Uuid::new_v4(),
            publisher_id: Arc::clone(&shared.publisher_id),
            event_type: event,
            priority,
            payload: payload(),
            timestamp: time::now(),
        };
        if shared.queue.try_send(notification).is_err() {
            shared.stats.add_dropped(1);
            tracing::debug!(event_type = %event, "notification queue full or closed; notification dropped");
        }
    }

    /// The counters of this notifier (zeros when off).
    pub fn stats(&self) -> Option<&NotifierStats> {
        self.shared.as_deref().map(|s| &*s.stats)
    }
}

/// The publisher task, owned by whoever started it: stop it with
/// [`Publisher::shutdown`]. Dropping it stops the task too.
pub struct Publisher {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    stats: Arc<NotifierStats>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("running", &self.task.is_some())
            .finish()
    }
}

impl Publisher {
    pub fn stats(&self) -> &Arc<NotifierStats> {
        &self.stats
    }

    /// Stops accepting notifications, sends those still queued for at
    /// most the configured drain time (dropping and counting the rest),
    /// and waits for the task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "notification publisher failed");
        }
    }
}

/// The publisher task's state.
struct Worker {
    queue: mpsc::Receiver<Notification>,
    log: bool,
    amqp: Option<AmqpPublisher>,
    drain_timeout: Duration,
    stats: Arc<NotifierStats>,
}

impl Worker {
    fn new(
        config: NotifierConfig,
        queue: mpsc::Receiver<Notification>,
        stats: Arc<NotifierStats>,
    ) -> Self {
        let log = config.drivers.contains(&Driver::Log);
        let format = config.drivers.iter().find_map(|d| match d {
            Driver::Messaging(format) => Some(*format),
            Driver::Log => None,
        });
        let drain_timeout = config.drain_timeout;
        let amqp = format.map(|format| AmqpPublisher::new(config, format, Arc::clone(&stats)));
        Worker {
            queue,
            log,
            amqp,
            drain_timeout,
            stats,
        }
    }

    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let received = tokio::select! {
                biased;
                _ = &mut stop => break,
                n = self.queue.recv_many(&mut batch, BATCH) => n,
            };
            if received == 0 {
                break;
            }
            tokio::select! {
                biased;
                _ = &mut stop => {
                    // Sending again from the start of the batch is fine:
                    // delivery is at least once.
                    break;
                }
                () = self.send(&batch) => batch.clear(),
            }
        }
        self.drain(batch).await;
    }

    /// Hands a batch to every driver; returns once RabbitMQ confirmed it.
    async fn send(&mut self, batch: &[Notification]) {
        if self.log {
            batch.iter().for_each(log_notification);
        }
        if let Some(amqp) = self.amqp.as_mut() {
            amqp.publish(batch).await;
        }
        self.stats.add_published(batch.len());
    }

    /// Sends what is left (`batch` first) within the drain time.
    async fn drain(mut self, mut batch: Vec<Notification>) {
        self.queue.close();
        let deadline = Instant::now() + self.drain_timeout;
        let mut left = 0;
        loop {
            if batch.is_empty() && self.queue.recv_many(&mut batch, BATCH).await == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, self.send(&batch))
                .await
                .is_err()
            {
                left = batch.len();
                while let Ok(_unsent) = self.queue.try_recv() {
                    left += 1;
                }
                break;
            }
            batch.clear();
        }
        if left > 0 {
            self.stats.add_dropped(left);
            tracing::warn!(dropped = left, "notifications not sent before shutdown");
        }
        if let Some(amqp) = self.amqp.as_mut() {
            amqp.close().await;
        }
    }
}

/// The `log` driver: the message as JSON, at its priority, with the target
/// oslo.messaging's log driver uses.
fn log_notification(n: &Notification) {
    let text = n.log_text();
    let event_type = n.event_type.as_str();
    match n.priority {
        Priority::Info => {
            tracing::info!(target: "oslo.messaging.notification", event_type, "{text}")
        }
        Priority::Warn => {
            tracing::warn!(target: "oslo.messaging.notification", event_type, "{text}")
        }
        Priority::Error => {
            tracing::error!(target: "oslo.messaging.notification", event_type, "{text}")
        }
    }
}
