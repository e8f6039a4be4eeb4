"""Notifications read as oslo.messaging's rabbit driver reads them: kombu
consumes the queue glint declares for its topic (the one Ceilometer's
listener consumes), while python-glanceclient drives an image's life.

Needs RabbitMQ: GLINT_TEST_RABBIT_URL (amqp://user:password@host:port/vhost),
else guest on 127.0.0.1:5672.
"""

import datetime
import hashlib
import io
import json
import os
import urllib.parse
import uuid

import glanceclient
import kombu
import pytest

from glintproc import GlintServer

RABBIT_URL = os.environ.get("GLINT_TEST_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")

IMAGE_KEYS = [
    "id", "name", "status", "created_at", "updated_at", "min_disk", "min_ram", "protected",
    "checksum", "owner", "disk_format", "container_format", "size", "virtual_size",
    "is_public", "visibility", "properties", "tags", "deleted", "deleted_at",
]


def transport_url():
    """RABBIT_URL as glance-api.conf writes it (in the virtual host /)."""
    url = urllib.parse.urlsplit(RABBIT_URL)
    user = urllib.parse.quote(urllib.parse.unquote(url.username or "guest"), safe="")
    password = urllib.parse.quote(urllib.parse.unquote(url.password or "guest"), safe="")
    return f"rabbit://{user}:{password}@{url.hostname}:{url.port or 5672}/"


@pytest.fixture
def topic():
    return f"glint-compat-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def rabbit():
    conn = kombu.Connection(RABBIT_URL)
    try:
        conn.ensure_connection(max_retries=1)
    except Exception as e:  # noqa: BLE001 - any failure to connect
        pytest.fail(f"RabbitMQ not reachable at GLINT_TEST_RABBIT_URL or 127.0.0.1:5672: {e}")
    yield conn
    conn.release()


@pytest.fixture
def server(tmp_path, topic):
    extra = f"""
[oslo_messaging_notifications]
driver = messagingv2
transport_url = {transport_url()}
topics = {topic}
"""
    server = GlintServer(tmp_path, extra_config=extra).start()
    yield server
    server.stop()


def info_queue(rabbit, topic):
    """The queue oslo.messaging's listener consumes for <topic>.info, as it
    declares it with the default options."""
    exchange = kombu.Exchange("glance", type="topic", durable=False)
    name = f"{topic}.info"
    return kombu.Queue(name, exchange, routing_key=name, durable=False)(rabbit.channel())


def received(rabbit, queue, count):
    messages = []
    with kombu.Consumer(rabbit, queues=[queue], callbacks=[lambda body, msg: messages.append(msg)]):
        while len(messages) < count:
            rabbit.drain_events(timeout=10)
    for message in messages:
        message.ack()
    return messages


def oslo_message(message):
    """What oslo.messaging hands a notification listener."""
    assert message.content_type == "application/json"
    assert message.content_encoding == "utf-8"
    assert message.delivery_info["exchange"] == "glance"
    assert message.properties["delivery_mode"] == 2
    envelope = message.decode()
    assert sorted(envelope) == ["oslo.message", "oslo.version"]
    assert envelope["oslo.version"] == "2.0"
    inner = json.loads(envelope["oslo.message"])
    assert sorted(inner) == sorted(
        ["message_id", "publisher_id", "event_type", "priority", "payload", "timestamp", "_unique_id"]
    )
    assert inner["priority"] == "INFO"
    assert inner["publisher_id"] == "image.localhost"
    stamp = inner["timestamp"]
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
    sent = datetime.datetime.strptime(stamp, fmt)
    assert abs(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - sent) < datetime.timedelta(minutes=5)
    uuid.UUID(inner["message_id"])
    return inner


def test_an_image_life_reaches_an_oslo_messaging_consumer(server, rabbit, topic):
    queue = info_queue(rabbit, topic)
    queue.declare()
    try:
        glance = glanceclient.Client("2", endpoint=server.url, token="any")
        image = glance.images.create(
            name=topic, disk_format="raw", container_format="bare", hw_disk_bus="scsi"
        )
        glance.images.upload(image.id, io.BytesIO(b"glint"))
        glance.images.delete(image.id)
        messages = [oslo_message(m) for m in received(rabbit, queue, 7)]
    finally:
        queue.delete()

    events = [m["event_type"] for m in messages]
    assert events == [
        "image.create", "image.update", "image.prepare", "image.upload",
        "image.activate", "image.update", "image.delete",
    ]
    statuses = [m["payload"]["status"] for m in messages]
    assert statuses == ["queued", "saving", "saving", "active", "active", "active", "deleted"]
    for m in messages:
        payload = m["payload"]
        keys = [k for k in payload if not k.startswith("os_glance_")]
        assert keys == IMAGE_KEYS
        assert payload["id"] == image.id
        assert payload["properties"] == {"hw_disk_bus": "scsi"}
        assert payload["is_public"] is False
    upload = messages[3]["payload"]
    assert upload["size"] == 5
    assert upload["checksum"] == hashlib.md5(b"glint").hexdigest()
    assert upload["os_glance_importing_to_stores"] == []
    assert messages[6]["payload"]["deleted"] is True
    assert len({m["message_id"] for m in messages}) == 7
