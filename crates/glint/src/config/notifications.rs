//! `[oslo_messaging_notifications]`, `[oslo_messaging_rabbit]` and the
//! notification options of `[DEFAULT]`, read as oslo.messaging and Glance
//! read them, into the notifier's [`NotifierConfig`].

use glint_notify::{DisabledEvents, Driver, MessageFormat, NotifierConfig, TransportUrl};

use super::ConfigError;
use super::options::{self, Opt};
use super::source::Source;
use super::values;

/// Reads the notifier's configuration, with a warning for every value
/// glint will not act on.
pub(super) fn read(src: &Source<'_>) -> Result<(NotifierConfig, Vec<String>), ConfigError> {
    let mut warnings = Vec::new();
    let mut drivers = Vec::new();
    for name in src.all(&options::NOTIFICATION_DRIVER)? {
        let driver = match name.as_str() {
            "messaging" => Driver::Messaging(MessageFormat::V1),
            "messagingv2" => Driver::Messaging(MessageFormat::V2),
            "log" => Driver::Log,
            "noop" | "" => continue,
            other => {
                warnings.push(format!(
                    "notification driver '{other}' ([oslo_messaging_notifications] driver) is \
                     not supported by glint and is ignored"
                ));
                continue;
            }
        };
        if !drivers.contains(&driver) {
            drivers.push(driver);
        }
    }
    if drivers
        .iter()
        .filter(|d| matches!(d, Driver::Messaging(_)))
        .count()
        > 1
    {
        return Err(ConfigError::invalid(
            &options::NOTIFICATION_DRIVER,
            "messaging, messagingv2",
            "choose one of messaging (format 1.0) and messagingv2",
        ));
    }
    let messaging = drivers.iter().any(|d| matches!(d, Driver::Messaging(_)));
    let (url_opt, url) = match src.optional(&options::NOTIFICATION_TRANSPORT_URL)? {
        Some(url) => (&options::NOTIFICATION_TRANSPORT_URL, url),
        None => (
            &options::TRANSPORT_URL,
            src.string(&options::TRANSPORT_URL)?,
        ),
    };
    let transport = transport(url_opt, &url, messaging, &mut warnings)?;
    if messaging && src.bool(&options::RABBIT_SSL)? {
        return Err(ConfigError::invalid(
            &options::RABBIT_SSL,
            "true",
            "TLS to RabbitMQ is not implemented by glint yet; notifications would be sent \
             in clear text",
        ));
    }
    let disabled = DisabledEvents::new(src.list(&options::DISABLED_NOTIFICATIONS)?);
    warnings.extend(disabled.unknown().map(|entry| {
        format!(
            "[DEFAULT] disabled_notifications: '{entry}' names no event type or group glint \
             sends (groups are what comes before the first dot: image, task, metadef_namespace, \
             metadef_object, metadef_property, metadef_resource_type, metadef_tag)"
        )
    }));
    let topics = src.list(&options::NOTIFICATION_TOPICS)?;
    if topics.is_empty() {
        return Err(ConfigError::invalid(
            &options::NOTIFICATION_TOPICS,
            "",
            "needs at least one topic",
        ));
    }
    let defaults = NotifierConfig::default();
    let config = NotifierConfig {
        drivers,
        transport,
        topics,
        exchange: non_empty(src, &options::CONTROL_EXCHANGE)?,
        publisher_id: non_empty(src, &options::DEFAULT_PUBLISHER_ID)?,
        disabled,
        durable: src.bool(&options::AMQP_DURABLE_QUEUES)?,
        auto_delete: src.bool(&options::AMQP_AUTO_DELETE)?,
        quorum_queues: src.bool(&options::RABBIT_QUORUM_QUEUE)?,
        ha_queues: src.bool(&options::RABBIT_HA_QUEUES)?,
        queue_size: src.parse(&options::NOTIFICATION_QUEUE_SIZE, |v| {
            values::parse_u64_in(v, 1, 10_000_000).map(|n| n as usize)
        })?,
        retry_interval: src.parse(&options::RABBIT_RETRY_INTERVAL, positive_seconds)?,
        retry_interval_max: src.parse(&options::RABBIT_INTERVAL_MAX, positive_seconds)?,
        ..defaults
    };
    if config.quorum_queues && config.ha_queues {
        return Err(ConfigError::invalid(
            &options::RABBIT_HA_QUEUES,
            "true",
            "rabbit_quorum_queue and rabbit_ha_queues cannot both be on",
        ));
    }
    Ok((config, warnings))
}

fn non_empty(src: &Source<'_>, opt: &Opt) -> Result<String, ConfigError> {
    src.parse(opt, |v| {
        if v.is_empty() {
            Err("must not be empty".to_owned())
        } else {
            Ok(v.to_owned())
        }
    })
}

fn positive_seconds(value: &str) -> Result<std::time::Duration, String> {
    values::parse_seconds(value).and_then(|t| {
        (!t.is_zero())
            .then_some(t)
            .ok_or("must be more than 0".into())
    })
}

/// The transport URL; its errors never quote it (it may hold a password).
/// Only needed, and only checked, with a messaging driver.
fn transport(
    opt: &Opt,
    url: &str,
    messaging: bool,
    warnings: &mut Vec<String>,
) -> Result<TransportUrl, ConfigError> {
    if !messaging {
        return Ok(TransportUrl::default());
    }
    let parsed = TransportUrl::parse(url).map_err(|e| {
        ConfigError::invalid(opt, "(not shown: it may hold a password)", e.to_string())
    })?;
    for (key, value) in &parsed.query {
        if key == "ssl" && values::parse_bool(value).unwrap_or(true) {
            return Err(ConfigError::invalid(
                opt,
                "(not shown: it may hold a password)",
                "TLS to RabbitMQ (ssl in the URL) is not implemented by glint yet",
            ));
        }
        warnings.push(format!(
            "transport URL parameter '{key}' of [{}] {} is not supported by glint and is ignored",
            opt.section, opt.name
        ));
    }
    Ok(parsed)
}
