"""Several stores at once, driven by the real clients: a glint of its own with
a file store, the Swift of tests/swift and the Ceph RBD pool of tests/ceph.

Needs the kits' variables (scripts/test sources tests/swift/env.sh and
tests/ceph/env.sh); skipped without them unless GLINT_REQUIRE_STORES is set.
"""

import hashlib
import io
import os
import pathlib
import subprocess
import sys
import uuid

import pytest
import requests

from glintproc import GlintServer

KIT_VARS = [
    "SWIFT_AUTH_URL", "SWIFT_USER", "SWIFT_KEY", "CEPH_CONF", "CEPH_RBD_POOL", "CEPH_RBD_USER",
    "CEPH_S3_ENDPOINT", "CEPH_S3_ACCESS_KEY", "CEPH_S3_SECRET_KEY",
]


def kit_env():
    missing = [v for v in KIT_VARS if not os.environ.get(v)]
    if missing:
        if os.environ.get("GLINT_REQUIRE_STORES"):
            pytest.fail(f"store kits not configured: {', '.join(missing)} unset")
        pytest.skip(f"store kits not configured: {', '.join(missing)} unset")
    return {v: os.environ[v] for v in KIT_VARS}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = kit_env()
    container = f"glint-compat-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path_factory.mktemp("multistore")
    extra = f"""
[DEFAULT]
enabled_backends = fast:file, objects:swift, ceph:rbd, buckets:s3, web:http
show_image_direct_url = true

[glance_store]
default_backend = fast

[fast]
store_description = Local disks
weight = 10
filesystem_store_datadir = {workdir}/fast

[objects]
store_description = Swift
swift_store_auth_version = 1
swift_store_auth_address = {env['SWIFT_AUTH_URL']}
swift_store_user = {env['SWIFT_USER']}
swift_store_key = {env['SWIFT_KEY']}
swift_store_container = {container}
swift_store_create_container_on_put = true

[ceph]
store_description = Ceph RBD
weight = 100
rbd_store_ceph_conf = {env['CEPH_CONF']}
rbd_store_user = {env['CEPH_RBD_USER']}
rbd_store_pool = {env['CEPH_RBD_POOL']}

[buckets]
store_description = S3 on radosgw
s3_store_host = {env['CEPH_S3_ENDPOINT']}
s3_store_access_key = {env['CEPH_S3_ACCESS_KEY']}
s3_store_secret_key = {env['CEPH_S3_SECRET_KEY']}
s3_store_bucket = {container}
s3_store_create_bucket_on_put = true
s3_store_bucket_url_format = path
s3_store_large_object_size = 5
s3_store_large_object_chunk_size = 5
"""
    glint = GlintServer(workdir, extra_config=extra).start()
    yield glint
    glint.stop()
    # Secrets never reach the log.
    log = (workdir / "glint.log").read_text()
    assert env["SWIFT_KEY"] not in log
    assert env["CEPH_S3_SECRET_KEY"] not in log


@pytest.fixture(scope="module")
def glance(server):
    import glanceclient

    return glanceclient.Client("2", endpoint=server.url, token="any")


def test_stores_info_lists_every_store(glance):
    info = glance.images.get_stores_info()
    stores = {s["id"]: s for s in info["stores"]}
    assert list(stores) == ["fast", "objects", "ceph", "buckets", "web"]
    assert stores["fast"]["default"] == "true"
    assert stores["web"]["read-only"] == "true"
    detail = glance.images.get_stores_info_detail()
    ceph = next(s for s in detail["stores"] if s["id"] == "ceph")
    assert ceph["type"] == "rbd"
    assert ceph["properties"]["pool"] == os.environ["CEPH_RBD_POOL"]
    assert ceph["weight"] == 100


@pytest.mark.parametrize("store", ["fast", "objects", "ceph", "buckets"])
def test_upload_to_each_store_and_download(glance, store):
    data = os.urandom(12 * 1024 * 1024 + 7)
    image = glance.images.create(name=f"to-{store}", disk_format="raw", container_format="bare")
    try:
        glance.images.upload(image["id"], io.BytesIO(data), backend=store)
        shown = glance.images.get(image["id"])
        assert shown["status"] == "active"
        assert shown["stores"] == store
        assert shown["checksum"] == hashlib.md5(data).hexdigest()
        assert b"".join(glance.images.data(image["id"])) == data
        if store == "ceph":
            assert shown["direct_url"].startswith("rbd://")
            assert shown["direct_url"].endswith(f"/{image['id']}/snap")
        if store == "objects":
            assert shown["direct_url"].startswith("swift+config://")
        if store == "buckets":
            # A multipart upload (parts of 5 MiB); no key in the location.
            assert shown["direct_url"].startswith("s3://")
            assert os.environ["CEPH_S3_SECRET_KEY"] not in shown["direct_url"]
    finally:
        glance.images.delete(image["id"])


def test_glance_cli_stores_info_and_create_with_store(server, tmp_path):
    env = dict(os.environ, OS_AUTH_TOKEN="any", OS_IMAGE_URL=server.url)
    glance_cli = str(pathlib.Path(sys.executable).parent / "glance")
    out = subprocess.run(
        [glance_cli, "stores-info"], capture_output=True, text=True, env=env, check=True
    ).stdout
    for store in ("fast", "objects", "ceph", "buckets", "web"):
        assert store in out
    payload = tmp_path / "disk.raw"
    payload.write_bytes(os.urandom(1024 * 1024))
    out = subprocess.run(
        [glance_cli, "image-create", "--name", "cli", "--disk-format", "raw",
         "--container-format", "bare", "--file", str(payload), "--store", "ceph"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout
    row = next(line for line in out.splitlines() if line.startswith("| stores"))
    assert "ceph" in row
    image_id = next(line for line in out.splitlines() if line.startswith("| id ")).split("|")[2].strip()
    subprocess.run([glance_cli, "image-delete", image_id], env=env, check=True)


def test_unknown_store_is_refused_and_the_image_stays_queued(glance, server):
    image = glance.images.create(name="nowhere", disk_format="raw", container_format="bare")
    try:
        resp = requests.put(
            f"{server.url}/v2/images/{image['id']}/file",
            data=b"x" * 100,
            headers={"Content-Type": "application/octet-stream", "X-Image-Meta-Store": "nope"},
        )
        assert resp.status_code == 400
        assert "Store for identifier nope not found" in resp.text
        assert glance.images.get(image["id"])["status"] == "queued"
    finally:
        glance.images.delete(image["id"])


def test_openstacksdk_sees_the_stores(server):
    from openstack import connection

    conn = connection.Connection(
        auth_type="none", auth={"endpoint": server.url}, image_endpoint_override=server.url
    )
    try:
        ids = [s.id for s in conn.image.stores()]
        assert ids == ["fast", "objects", "ceph", "buckets", "web"]
    finally:
        conn.close()
