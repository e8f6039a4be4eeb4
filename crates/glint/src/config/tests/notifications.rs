use std::time::Duration;

use glint_notify::{Driver, EventType, MessageFormat, NotifierConfig};

use super::{config, load_text, warnings};

#[test]
fn notifications_are_off_by_default_with_glances_names() {
    let n = config("").notifications;
    assert!(n.drivers.is_empty());
    assert_eq!(n.exchange, "glance");
    assert_eq!(n.publisher_id, "image.localhost");
    assert_eq!(n.topics, ["notifications"]);
    assert_eq!(n.queue_size, NotifierConfig::DEFAULT_QUEUE_SIZE);
    let n = config("[oslo_messaging_notifications]\ndriver = noop\n").notifications;
    assert!(n.drivers.is_empty());
}

#[test]
fn drivers_repeat_and_every_option_reaches_the_notifier() {
    let text = "[DEFAULT]\ncontrol_exchange = images\ndefault_publisher_id = image.node1\n\
                disabled_notifications = image.update, task\n\
                transport_url = rabbit://rpc:pw@rpc-host:5672/rpc\n\
                [oslo_messaging_notifications]\ndriver = messagingv2\ndriver = log\n\
                transport_url = rabbit://n:s%40cret@mq1:5673,n:s%40cret@mq2/notify\n\
                topics = notifications, monitor\n\
                [oslo_messaging_rabbit]\namqp_durable_queues = true\nrabbit_quorum_queue = yes\n\
                rabbit_retry_interval = 0.5\nrabbit_interval_max = 10\n\
                [glint]\nnotification_queue_size = 50\n";
    let (config, warnings) = load_text(text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let n = config.notifications;
    assert_eq!(
        n.drivers,
        [Driver::Messaging(MessageFormat::V2), Driver::Log]
    );
    assert_eq!(
        n.transport.to_string(),
        "rabbit://n:***@mq1:5673,n:***@mq2:5672/notify"
    );
    assert_eq!(n.transport.hosts[1].password.expose(), "s@cret");
    assert_eq!(n.topics, ["notifications", "monitor"]);
    assert_eq!(
        (n.exchange.as_str(), n.publisher_id.as_str()),
        ("images", "image.node1")
    );
    assert!(n.disabled.disables(EventType::ImageUpdate));
    assert!(n.disabled.disables(EventType::TaskRun));
    assert!(!n.disabled.disables(EventType::ImageCreate));
    assert!(n.durable && n.quorum_queues && !n.auto_delete && !n.ha_queues);
    assert_eq!(n.retry_interval, Duration::from_millis(500));
    assert_eq!(n.retry_interval_max, Duration::from_secs(10));
    assert_eq!(n.queue_size, 50);
}

#[test]
fn the_default_transport_url_is_the_fallback_as_in_oslo_messaging() {
    let text = "[DEFAULT]\ntransport_url = rabbit://u:p@rpc-host/\n\
                [oslo_messaging_notifications]\ndriver = messaging\n";
    let n = config(text).notifications;
    assert_eq!(n.drivers, [Driver::Messaging(MessageFormat::V1)]);
    assert_eq!(n.transport.to_string(), "rabbit://u:***@rpc-host:5672//");
    let n = config("[oslo_messaging_notifications]\ndriver = messagingv2\n").notifications;
    assert_eq!(
        n.transport.to_string(),
        "rabbit://guest:***@localhost:5672//"
    );
}

#[test]
fn bad_notification_settings_stop_glint_without_showing_the_password() {
    for (text, words) in [
        (
            "[oslo_messaging_notifications]\ndriver = messagingv2\ntransport_url = kafka://u:hunter2@k\n",
            "RabbitMQ only",
        ),
        (
            "[oslo_messaging_notifications]\ndriver = messagingv2\ntransport_url = rabbit://u:hunter2@h:0/\n",
            "invalid port",
        ),
        (
            "[oslo_messaging_notifications]\ndriver = messagingv2\ntransport_url = rabbit://u:hunter2@h/?ssl=1\n",
            "TLS",
        ),
        (
            "[oslo_messaging_notifications]\ndriver = messagingv2\n[oslo_messaging_rabbit]\nssl = true\n",
            "TLS",
        ),
        (
            "[oslo_messaging_notifications]\ndriver = messaging\ndriver = messagingv2\n",
            "choose one",
        ),
        (
            "[oslo_messaging_notifications]\ntopics = ,\n",
            "at least one topic",
        ),
        (
            "[glint]\nnotification_queue_size = 0\n",
            "notification_queue_size",
        ),
        (
            "[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\nrabbit_ha_queues = true\n",
            "cannot both",
        ),
    ] {
        let err = load_text(text).unwrap_err().to_string();
        assert!(err.contains(words), "{text}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    // Without a messaging driver the URL is not used, so not checked.
    config("[DEFAULT]\ntransport_url = kafka://k\n[oslo_messaging_rabbit]\nssl = true\n");
}

#[test]
fn what_glint_does_not_act_on_is_warned_about() {
    let text = "[DEFAULT]\ndisabled_notifications = image.member, metadef_tag, metadef\n\
                [oslo_messaging_notifications]\ndriver = routing\ndriver = messagingv2\nretry = 3\n\
                transport_url = rabbit://u:p@h/?heartbeat=30\n\
                [oslo_messaging_rabbit]\nheartbeat_rate = 3\n";
    let w = warnings(text);
    let expected = [
        "option [oslo_messaging_notifications] retry is ignored: glint retries until a \
         notification is sent; new ones are dropped while its queue \
         ([glint] notification_queue_size) is full",
        "option [oslo_messaging_rabbit] heartbeat_rate is not supported by glint and is ignored",
        "notification driver 'routing' ([oslo_messaging_notifications] driver) is not supported \
         by glint and is ignored",
        "transport URL parameter 'heartbeat' of [oslo_messaging_notifications] transport_url is \
         not supported by glint and is ignored",
        "[DEFAULT] disabled_notifications: 'image.member' names no event type or group glint \
         sends (groups are what comes before the first dot: image, task, metadef_namespace, \
         metadef_object, metadef_property, metadef_resource_type, metadef_tag)",
        "[DEFAULT] disabled_notifications: 'metadef' names no event type or group glint \
         sends (groups are what comes before the first dot: image, task, metadef_namespace, \
         metadef_object, metadef_property, metadef_resource_type, metadef_tag)",
    ];
    assert_eq!(w, expected);
}
