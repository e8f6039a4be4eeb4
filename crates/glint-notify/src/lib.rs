//! Notifications of glint in oslo.messaging's format, as Glance sends
//! them: the event types, their payloads (`glance/notifier.py`), the
//! messages and envelopes of the `messaging`/`messagingv2` drivers, and
//! their publication to RabbitMQ by one task behind a bounded queue.
//!
//! It sits beside the store and database crates: it knows the model's
//! images and members, nothing of HTTP, the database or policy. The use
//! cases in `glint-core` decide when an event happens and emit it through
//! [`Notifier`], which never waits and never fails.

mod amqp;
pub mod config;
pub mod event;
pub mod message;
pub mod metadef_payload;
mod notifier;
pub mod payload;
mod stats;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Driver, NotifierConfig, RabbitHost, Secret, TransportUrl, TransportUrlError};
pub use event::{DisabledEvents, EventType, Priority};
pub use message::{MessageFormat, Notification};
pub use notifier::{Notifier, Publisher};
pub use stats::NotifierStats;
