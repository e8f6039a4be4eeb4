"""Import plugins with the real clients: `glance image-create-via-import` of a
gzip-compressed qcow2 through image_decompression, image_conversion (to raw)
and inject_image_metadata, on a glint of its own with those plugins on.
"""

import gzip
import hashlib
import subprocess
import time
import uuid

import pytest

from glintproc import GlintServer
from helpers import parse_table, run_cli


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("plugins")
    extra = """
[image_import_opts]
image_import_plugins = image_decompression, image_conversion, inject_image_metadata

[image_conversion]
output_format = raw

[inject_metadata_properties]
ignore_user_roles =
inject = imported_by:glint, os_glance_forged:no
"""
    glint = GlintServer(workdir, extra_config=extra).start()
    yield glint
    glint.stop()


@pytest.fixture(scope="module")
def glance_cli(server):
    def glance(*args, check=True):
        return run_cli(
            ["glance", "--os-image-url", server.url, "--os-auth-token", "any", *map(str, args)],
            check=check,
            close_stdin=True,
        )

    return glance


def wait_settled(glance_cli, image_id, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        props = parse_table(glance_cli("image-show", image_id).stdout)
        if props.get("status") in ("active", "queued") and "os_glance_import_task" not in props:
            return props
        assert time.monotonic() < deadline, props
        time.sleep(0.25)


def test_a_compressed_qcow2_is_decompressed_converted_and_tagged(glance_cli, tmp_path):
    qcow2 = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(qcow2), "16M"], check=True,
                   capture_output=True)
    raw = tmp_path / "disk.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(raw)],
                   check=True, capture_output=True)
    packed = tmp_path / "disk.qcow2.gz"
    packed.write_bytes(gzip.compress(qcow2.read_bytes()))
    out = glance_cli(
        "image-create-via-import",
        "--name", f"plugged-{uuid.uuid4().hex[:8]}",
        "--disk-format", "qcow2",
        "--container-format", "bare",
        "--import-method", "glance-direct",
        "--file", packed,
    ).stdout
    image_id = parse_table(out)["id"]
    props = wait_settled(glance_cli, image_id)
    assert props["status"] == "active", props
    # Converted to raw: the stored data is qemu-img's raw image of the disk.
    assert props["disk_format"] == "raw"
    assert props["checksum"] == hashlib.md5(raw.read_bytes()).hexdigest()
    assert int(props["size"]) == 16 * 1024 * 1024
    assert props["imported_by"] == "glint"
    assert "os_glance_forged" not in props
    saved = tmp_path / "saved.raw"
    glance_cli("image-download", "--file", saved, image_id)
    assert saved.read_bytes() == raw.read_bytes()


def test_a_multi_member_zip_fails_the_import_and_the_image_goes_back_to_queued(
    glance_cli, tmp_path
):
    import zipfile

    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.img", b"a" * 1024)
        z.writestr("b.img", b"b" * 1024)
    out = glance_cli(
        "image-create-via-import",
        "--name", f"zipped-{uuid.uuid4().hex[:8]}",
        "--disk-format", "raw",
        "--container-format", "bare",
        "--import-method", "glance-direct",
        "--file", archive,
    ).stdout
    image_id = parse_table(out)["id"]
    props = wait_settled(glance_cli, image_id)
    assert props["status"] == "queued", props
    listed = glance_cli("task-list").stdout
    assert "failure" in listed, listed
