//! How notifications are sent: the drivers, RabbitMQ's address and the
//! names oslo.messaging would use.

use std::fmt;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::event::DisabledEvents;
use crate::message::MessageFormat;

/// One `[oslo_messaging_notifications] driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `messaging` (format 1.0) or `messagingv2`: RabbitMQ.
    Messaging(MessageFormat),
    /// `log`: one log line per notification.
    Log,
}

/// Everything the notifier needs, read from the configuration once.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifierConfig {
    /// No driver (oslo.messaging's default, and `noop`): nothing is sent.
    pub drivers: Vec<Driver>,
    /// RabbitMQ, for the messaging drivers.
    pub transport: TransportUrl,
    /// `[oslo_messaging_notifications] topics`: each notification goes to
    /// `<topic>.<priority>` of every topic.
    pub topics: Vec<String>,
    /// `[DEFAULT] control_exchange`; Glance sets `glance`.
    pub exchange: String,
    /// `[DEFAULT] default_publisher_id`.
    pub publisher_id: String,
    /// `[DEFAULT] disabled_notifications`.
    pub disabled: DisabledEvents,
    /// `[oslo_messaging_rabbit] amqp_durable_queues`: the exchange and the
    /// topic queues survive a broker restart.
    pub durable: bool,
    /// `[oslo_messaging_rabbit] amqp_auto_delete`.
    pub auto_delete: bool,
    /// `[oslo_messaging_rabbit] rabbit_quorum_queue`: the topic queues are
    /// quorum queues (and durable).
    pub quorum_queues: bool,
    /// `[oslo_messaging_rabbit] rabbit_ha_queues`: `x-ha-policy: all`.
    pub ha_queues: bool,
    /// Notifications waiting for the publisher; beyond it new ones are
    /// dropped (and counted), so the API never waits for RabbitMQ.
    pub queue_size: usize,
    /// How long shutdown waits for the queue to be sent.
    pub drain_timeout: Duration,
    /// The first and the longest wait between two connection attempts
    /// (oslo.messaging's `rabbit_retry_interval` and `rabbit_interval_max`).
    pub retry_interval: Duration,
    pub retry_interval_max: Duration,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
}

impl NotifierConfig {
    pub const DEFAULT_QUEUE_SIZE: usize = 10_000;
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            drivers: Vec::new(),
            transport: TransportUrl::default(),
            topics: vec!["notifications".to_owned()],
            exchange: "glance".to_owned(),
            publisher_id: "image.localhost".to_owned(),
            disabled: DisabledEvents::default(),
            durable: false,
            auto_delete: false,
            quorum_queues: false,
            ha_queues: false,
            queue_size: Self::DEFAULT_QUEUE_SIZE,
            drain_timeout: Duration::from_secs(5),
            retry_interval: Duration::from_secs(1),
            retry_interval_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for NotifierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifierConfig")
            .field("drivers", &self.drivers)
            .field("transport", &self.transport.to_string())
            .field("topics", &self.topics)
            .field("exchange", &self.exchange)
            .field("publisher_id", &self.publisher_id)
            .field("queue_size", &self.queue_size)
            .finish_non_exhaustive()
    }
}

/// A password, never shown: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One broker of a transport URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RabbitHost {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
}

impl fmt::Display for RabbitHost {
    /// `host:port`, what logs name a broker by.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// oslo.messaging's `transport_url` for RabbitMQ:
/// `rabbit://user:pass@host:port,user:pass@host2:port/vhost`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportUrl {
    /// Tried in turn, the next one after each failure.
    pub hosts: Vec<RabbitHost>,
    pub virtual_host: String,
    /// Query parameters, which glint does not act on (the caller warns).
    pub query: Vec<(String, String)>,
}

impl Default for TransportUrl {
    /// oslo.messaging's default `rabbit://`: guest on localhost.
    fn default() -> Self {
        TransportUrl {
            hosts: vec![default_host()],
            virtual_host: "/".to_owned(),
            query: Vec::new(),
        }
    }
}

fn default_host() -> RabbitHost {
    RabbitHost {
        host: "localhost".to_owned(),
        port: 5672,
        username: "guest".to_owned(),
        password: Secret::new("guest"),
    }
}

impl fmt::Display for TransportUrl {
    /// The URL with every password replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rabbit://")?;
        for (i, h) in self.hosts.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:***@{h}", h.username)?;
        }
        write!(f, "/{}", self.virtual_host)
    }
}

/// Why a transport URL cannot be used. The message never holds the URL
/// itself, which may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportUrlError(String);

impl TransportUrl {
    /// Parses the URL as oslo.messaging does: hosts separated by commas,
    /// user and password percent-decoded, port 5672 by default, the path
    /// (without its first `/`, percent-decoded) naming the virtual host,
    /// `/` when empty.
    pub fn parse(text: &str) -> Result<TransportUrl, TransportUrlError> {
        let err = |m: &str| TransportUrlError(m.to_owned());
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| err("no scheme: expected rabbit://user:password@host:port/vhost"))?;
        match scheme {
            "rabbit" | "kombu" => {}
            "" => return Err(err("no scheme: expected rabbit://")),
            other => {
                return Err(TransportUrlError(format!(
                    "glint sends notifications to RabbitMQ only (rabbit://), not {other}://"
                )));
            }
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (netloc, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let mut hosts = Vec::new();
        for part in netloc.split(',').filter(|p| !p.is_empty()) {
            hosts.push(parse_host(part)?);
        }
        if hosts.is_empty() {
            hosts.push(default_host());
        }
        let virtual_host = decode(path)?;
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Ok((decode(k)?, decode(v)?))
            })
            .collect::<Result<_, TransportUrlError>>()?;
        Ok(TransportUrl {
            hosts,
            virtual_host: if virtual_host.is_empty() {
                "/".to_owned()
            } else {
                virtual_host
            },
            query,
        })
    }
}

fn decode(text: &str) -> Result<String, TransportUrlError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| TransportUrlError("percent-encoded text is not UTF-8".to_owned()))
}

fn parse_host(part: &str) -> Result<RabbitHost, TransportUrlError> {
    let mut host = default_host();
    let address = match part.rsplit_once('@') {
        Some((userinfo, address)) => {
            match userinfo.split_once(':') {
                Some((user, password)) => {
                    host.username = decode(user)?;
                    host.password = Secret::new(decode(password)?);
                }
                None => host.username = decode(userinfo)?,
            }
            address
        }
        None => part,
    };
    let (name, port) = if let Some(inner) = address.strip_prefix('[') {
        let (name, after) = inner
            .split_once(']')
            .ok_or_else(|| TransportUrlError("unclosed '[' in a host".to_owned()))?;
        (name, after.strip_prefix(':'))
    } else if address.matches(':').count() == 1 {
        let (name, port) = address.split_once(':').unwrap_or((address, ""));
        (name, Some(port))
    } else {
        (address, None)
    };
    if !name.is_empty() {
        host.host = name.to_owned();
    }
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        host.port =
            port.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                TransportUrlError(format!("invalid port {port:?} of host {name}"))
            })?;
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(url: &TransportUrl) -> Vec<(String, u16, String, String)> {
        url.hosts
            .iter()
            .map(|h| {
                (
                    h.host.clone(),
                    h.port,
                    h.username.clone(),
                    h.password.expose().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn parses_one_or_several_brokers_with_their_credentials() {
        let url =
            TransportUrl::parse("rabbit://glance:s%40cret@mq1:5673,glance:other@mq2/openstack")
                .unwrap();
        assert_eq!(
            hosts(&url),
            [
                ("mq1".into(), 5673, "glance".into(), "s@cret".into()),
                ("mq2".into(), 5672, "glance".into(), "other".into()),
            ]
        );
        assert_eq!(url.virtual_host, "openstack");
        assert!(url.query.is_empty());
    }

    #[test]
    fn defaults_follow_oslo_messaging() {
        for text in [
            "rabbit://",
            "rabbit:///",
            "rabbit://localhost",
            "kombu://localhost/%2F",
        ] {
            let url = TransportUrl::parse(text).unwrap();
            assert_eq!(url, TransportUrl::default(), "{text}");
        }
        let url = TransportUrl::parse("rabbit://[::1]:5999//?ssl=1").unwrap();
        assert_eq!(url.hosts[0].host, "::1");
        assert_eq!(url.hosts[0].port, 5999);
        assert_eq!(url.virtual_host, "/");
        assert_eq!(url.query, [("ssl".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn refuses_other_transports_and_bad_ports_without_echoing_the_url() {
        for text in [
            "amqp://u:pw@h/",
            "kafka://u:pw@h",
            "u:pw@h",
            "rabbit://u:pw@h:99999/",
            "rabbit://u:pw@h:x/",
        ] {
            let e = TransportUrl::parse(text).unwrap_err().to_string();
            assert!(!e.contains("pw"), "{text}: {e}");
        }
    }

    #[test]
    fn passwords_never_show() {
        let url = TransportUrl::parse("rabbit://glance:hunter2@mq:5672/v").unwrap();
        assert_eq!(url.to_string(), "rabbit://glance:***@mq:5672/v");
        assert!(!format!("{url:?}").contains("hunter2"));
        let config = NotifierConfig {
            transport: url,
            ..NotifierConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
