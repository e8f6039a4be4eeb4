"""The image cache driven by python-glanceclient: `glance cache-queue`,
`cache-list`, `cache-delete` and `cache-clear` (and their library calls)
against a glint of its own with `image_cache_dir` set and the
`cachemanagement` flavor, whose downloads fill the cache.
"""

import hashlib
import io
import os
import pathlib
import sys
import time

import pytest
import requests

from glintproc import GlintServer
from helpers import run_cli

NODE = "http://compat-cache-node:9292"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cache")
    extra = f"""
[DEFAULT]
image_cache_dir = {workdir}/cache
worker_self_reference_url = {NODE}

[paste_deploy]
flavor = cachemanagement
"""
    glint = GlintServer(workdir, extra_config=extra).start()
    glint.cache_dir = workdir / "cache"
    yield glint
    glint.stop()


@pytest.fixture(scope="module")
def glance(server):
    import glanceclient

    return glanceclient.Client("2", endpoint=server.url, token="any")


def glance_cli(server, *args):
    cli = str(pathlib.Path(sys.executable).parent / "glance")
    return run_cli(
        [cli, "--os-image-url", server.url, "--os-auth-token", "any", *args], check=False
    )


def cache_rows(server):
    """`glance cache-list` as {image id: (state, size, hits)}."""
    out = glance_cli(server, "cache-list")
    assert out.returncode == 0, out.stderr
    rows = {}
    for line in out.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] != "ID":
            rows[cells[0]] = (cells[1], cells[4], cells[5])
    return rows


def wait_cached(server, image_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = cache_rows(server)
        if rows.get(image_id, ("",))[0] == "cached":
            return rows
        time.sleep(0.2)
    raise AssertionError(f"{image_id} was never cached: {rows}")


def make_image(glance, data, name="cached"):
    image = glance.images.create(name=name, disk_format="raw", container_format="bare")
    glance.images.upload(image["id"], io.BytesIO(data))
    return image["id"]


def test_cache_queue_then_cache_list_shows_the_cached_image(server, glance):
    data = os.urandom(300_000)
    image_id = make_image(glance, data)
    out = glance_cli(server, "cache-queue", image_id)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    rows = wait_cached(server, image_id)
    assert rows[image_id] == ("cached", "300000", "0")
    assert (server.cache_dir / image_id).read_bytes() == data

    # A download is now served from the cache, and counted.
    assert b"".join(glance.images.data(image_id)) == data
    assert cache_rows(server)[image_id] == ("cached", "300000", "1")
    nodes = requests.get(f"{server.url}/v2/cache/nodes/{image_id}", timeout=10).json()
    assert nodes == [NODE]


def test_cache_queue_refuses_an_image_without_data(server, glance):
    image = glance.images.create(name="empty", disk_format="raw", container_format="bare")
    out = glance_cli(server, "cache-queue", image["id"])
    assert "Unable to queue image" in out.stderr
    assert "400" in out.stderr
    assert image["id"] not in cache_rows(server)


def test_cache_delete_removes_the_image(server, glance):
    image_id = make_image(glance, os.urandom(50_000))
    glance_cli(server, "cache-queue", image_id)
    wait_cached(server, image_id)
    out = glance_cli(server, "cache-delete", image_id)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert image_id not in cache_rows(server)
    assert not (server.cache_dir / image_id).exists()
    out = glance_cli(server, "cache-delete", "00000000-0000-0000-0000-000000000000")
    assert "Unable to delete image" in out.stderr


@pytest.mark.parametrize("target", ["cache", "queue", "both"])
def test_cache_clear_takes_each_target(server, glance, target):
    image_id = make_image(glance, os.urandom(20_000), name=f"clear-{target}")
    glance.cache.queue(image_id)
    wait_cached(server, image_id)
    out = glance_cli(server, "cache-clear", "--target", target)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    rows = cache_rows(server)
    if target == "queue":
        assert rows.get(image_id, ("",))[0] == "cached"
        glance_cli(server, "cache-clear")
        rows = cache_rows(server)
    assert rows == {}


def test_the_library_calls(server, glance):
    data = os.urandom(10_000)
    image_id = make_image(glance, data, name="library")
    # The first download fills the cache.
    assert hashlib.md5(b"".join(glance.images.data(image_id))).hexdigest() == hashlib.md5(data).hexdigest()
    listed = glance.cache.list()
    assert [c["image_id"] for c in listed["cached_images"]] == [image_id]
    assert listed["queued_images"] == []
    glance.cache.delete(image_id)
    assert glance.cache.list()["cached_images"] == []
    glance.cache.clear("both")
    # The legacy cachemanage paths of the cachemanagement flavor.
    legacy = requests.get(f"{server.url}/v2/cached_images", timeout=10)
    assert legacy.status_code == 200 and legacy.json() == {"cached_images": []}
