"""Interoperable import with the real clients: `glance image-create-via-import`,
`image-stage`, `image-import` (glance-direct, web-download, copy-image),
`import-info`, `task-list`, `task-show`, and `openstack image create --import`,
against a glint of its own with two file stores and a web-download filter that
allows the local HTTP server the test starts.
"""

import functools
import hashlib
import http.server
import json
import os
import threading
import time
import uuid

import pytest

from glintproc import GlintServer
from helpers import parse_table, run_cli


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("import")
    extra = f"""
[DEFAULT]
enabled_backends = fast:file, cold:file

[glance_store]
default_backend = fast

[fast]
filesystem_store_datadir = {workdir}/fast

[cold]
filesystem_store_datadir = {workdir}/cold

[import_filtering_opts]
allowed_hosts = 127.0.0.1
allowed_ports =
"""
    glint = GlintServer(workdir, extra_config=extra).start()
    yield glint
    glint.stop()


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """A local HTTP server; returns (directory it serves, base URL)."""
    root = tmp_path_factory.mktemp("web")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def glance_cli(server):
    def glance(*args, check=True):
        return run_cli(
            ["glance", "--os-image-url", server.url, "--os-auth-token", "any", *map(str, args)],
            check=check,
            close_stdin=True,
        )

    return glance


@pytest.fixture(scope="module")
def osc(server):
    def openstack(*args, check=True):
        return run_cli(
            ["openstack", "--os-auth-type", "none", "--os-endpoint", server.url, *map(str, args)],
            check=check,
        )

    return openstack


def disk(tmp_path, size=256 * 1024):
    data = os.urandom(size)
    path = tmp_path / f"{uuid.uuid4().hex[:8]}.raw"
    path.write_bytes(data)
    return path, hashlib.md5(data).hexdigest()


def wait_for(glance_cli, image_id, done, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        props = parse_table(glance_cli("image-show", image_id).stdout)
        if done(props):
            return props
        assert time.monotonic() < deadline, f"image {image_id} still {props.get('status')}: {props}"
        time.sleep(0.2)


def settled(props):
    return props.get("status") in ("active", "queued") and "os_glance_import_task" not in props


def test_import_info_lists_the_methods(glance_cli):
    out = glance_cli("import-info").stdout
    methods = json.loads(parse_table(out)["import-methods"])["value"]
    assert methods == ["glance-direct", "web-download", "copy-image"], out


def test_image_create_via_import_with_glance_direct(glance_cli, tmp_path):
    path, md5 = disk(tmp_path)
    out = glance_cli(
        "image-create-via-import",
        "--name", "via-import",
        "--disk-format", "raw",
        "--container-format", "bare",
        "--import-method", "glance-direct",
        "--file", path,
    ).stdout
    image_id = parse_table(out)["id"]
    props = wait_for(glance_cli, image_id, settled)
    assert props["status"] == "active"
    assert props["checksum"] == md5
    assert props["stores"] == "fast"


def test_stage_then_import_into_both_stores(glance_cli, tmp_path):
    path, md5 = disk(tmp_path)
    created = parse_table(glance_cli(
        "image-create", "--name", "staged", "--disk-format", "raw", "--container-format", "bare",
    ).stdout)
    image_id = created["id"]
    glance_cli("image-stage", "--file", path, image_id)
    assert parse_table(glance_cli("image-show", image_id).stdout)["status"] == "uploading"
    glance_cli("image-import", "--import-method", "glance-direct", "--all-stores", "true", image_id)
    props = wait_for(glance_cli, image_id, settled)
    assert props["status"] == "active"
    assert props["checksum"] == md5
    assert sorted(props["stores"].split(",")) == ["cold", "fast"]


def test_web_download_from_a_local_server(glance_cli, web, tmp_path):
    root, base = web
    path, md5 = disk(root)
    out = glance_cli(
        "image-create-via-import",
        "--name", "downloaded",
        "--disk-format", "raw",
        "--container-format", "bare",
        "--import-method", "web-download",
        "--uri", f"{base}/{path.name}",
    ).stdout
    image_id = parse_table(out)["id"]
    props = wait_for(glance_cli, image_id, settled)
    assert props["status"] == "active"
    assert props["checksum"] == md5


def test_web_download_of_a_refused_address_is_400(glance_cli):
    created = parse_table(glance_cli(
        "image-create", "--name", "refused", "--disk-format", "raw", "--container-format", "bare",
    ).stdout)
    proc = glance_cli(
        "image-import", "--import-method", "web-download",
        "--uri", "ftp://127.0.0.1/disk.raw", created["id"],
        check=False,
    )
    assert proc.returncode != 0
    assert "400" in proc.stderr or "does not pass filtering" in proc.stderr, proc.stderr


def test_copy_image_into_the_second_store(glance_cli, tmp_path):
    path, md5 = disk(tmp_path)
    created = parse_table(glance_cli(
        "image-create", "--name", "copied", "--disk-format", "raw", "--container-format", "bare",
        "--file", path, "--store", "fast",
    ).stdout)
    image_id = created["id"]
    assert created["stores"] == "fast"
    glance_cli("image-import", "--import-method", "copy-image", "--stores", "cold", image_id)
    props = wait_for(
        glance_cli, image_id,
        lambda p: "cold" in p.get("stores", "") and "os_glance_import_task" not in p,
    )
    assert props["status"] == "active"
    assert props["checksum"] == md5
    # Copying to a store that has it already is refused, as Glance does.
    proc = glance_cli(
        "image-import", "--import-method", "copy-image", "--stores", "cold", image_id, check=False,
    )
    assert proc.returncode != 0
    assert "already present" in proc.stderr, proc.stderr


def test_task_list_and_task_show(glance_cli, tmp_path):
    path, _ = disk(tmp_path)
    out = glance_cli(
        "image-create-via-import",
        "--name", "tasked",
        "--disk-format", "raw",
        "--container-format", "bare",
        "--import-method", "glance-direct",
        "--file", path,
    ).stdout
    image_id = parse_table(out)["id"]
    wait_for(glance_cli, image_id, settled)
    listed = glance_cli("task-list").stdout
    ids = [line.split("|")[1].strip() for line in listed.splitlines() if line.startswith("| ")]
    assert len(ids) > 1, listed
    found = None
    for task_id in ids[1:]:
        shown = parse_table(glance_cli("task-show", task_id).stdout)
        if json.loads(shown.get("input", "{}")).get("image_id") == image_id:
            found = shown
            break
    assert found is not None, listed
    assert found["status"] == "success"
    assert found["type"] == "api_image_import"
    assert json.loads(found["result"]) == {"image_id": image_id}


def test_openstack_image_create_import(osc, tmp_path):
    path, md5 = disk(tmp_path)
    created = json.loads(osc(
        "image", "create", "--import", "--disk-format", "raw", "--container-format", "bare",
        "--file", path, "-f", "json", "osc-import",
    ).stdout)
    image_id = created["id"]
    deadline = time.monotonic() + 60
    while True:
        shown = json.loads(osc("image", "show", image_id, "-f", "json").stdout)
        if shown["status"] == "active":
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    assert shown["checksum"] == md5
