"""Fixtures for driving a running glint with the real OpenStack clients.

tests/compat/run.sh starts glint and sets GLINT_URL. Run standalone
(`pytest tests/compat` with the venv active), a server is started here from
the debug build instead.
"""

import os
import subprocess
import tempfile
import uuid

import pytest
import requests

from glintproc import GlintServer


@pytest.fixture(scope="session")
def glint_url():
    url = os.environ.get("GLINT_URL")
    if url:
        yield url.rstrip("/")
        return
    with tempfile.TemporaryDirectory(prefix="glint-compat-") as tmp:
        server = GlintServer(tmp).start()
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture
def unique():
    """A name prefix no earlier test or run has used."""
    return f"compat-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def http(glint_url):
    """A requests session with a `url(path)` helper, no identity headers."""
    session = requests.Session()
    session.url = lambda path: glint_url + path
    yield session
    session.close()


@pytest.fixture(scope="session")
def glance(glint_url):
    import glanceclient

    return glanceclient.Client("2", endpoint=glint_url, token="any")


@pytest.fixture(scope="session")
def sdk(glint_url):
    from openstack import connection

    conn = connection.Connection(
        auth_type="none",
        auth={"endpoint": glint_url},
        image_endpoint_override=glint_url,
    )
    yield conn
    conn.close()


@pytest.fixture
def cleanup(glint_url):
    """Image ids appended here are deleted (best effort) after the test."""
    ids = []
    yield ids
    for image_id in ids:
        url = f"{glint_url}/v2/images/{image_id}"
        try:
            requests.patch(
                url,
                json=[{"op": "replace", "path": "/protected", "value": False}],
                headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
                timeout=10,
            )
            requests.delete(url, timeout=10)
        except requests.RequestException:
            pass


@pytest.fixture
def qcow2_file(tmp_path):
    """A 64 MiB (virtual) qcow2 made by qemu-img, like the walk-through's cirros.img."""
    path = tmp_path / "cirros.img"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", str(path), "64M"],
        check=True,
        capture_output=True,
    )
    return path
