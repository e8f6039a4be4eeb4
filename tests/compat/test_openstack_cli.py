"""The unified `openstack image …` CLI (python-openstackclient) against glint.

Without Keystone: `--os-auth-type none --os-endpoint URL`.
"""

import hashlib
import json
import os

import pytest

from helpers import run_cli


@pytest.fixture(scope="module")
def osc(glint_url):
    def openstack(*args, check=True):
        return run_cli(
            ["openstack", "--os-auth-type", "none", "--os-endpoint", glint_url, *map(str, args)],
            check=check,
        )

    return openstack


def as_json(proc):
    return json.loads(proc.stdout)


def test_image_lifecycle(osc, tmp_path, unique):
    data = os.urandom(128 * 1024)
    path = tmp_path / "disk.raw"
    path.write_bytes(data)

    created = as_json(osc(
        "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--file", path, "--property", "os_distro=cirros", "--tag", "first",
        "-f", "json", unique,
    ))
    image_id = created["id"]
    try:
        assert created["status"] == "active"
        assert created["checksum"] == hashlib.md5(data).hexdigest()

        listed = as_json(osc("image", "list", "--name", unique, "-f", "json"))
        assert [row["ID"] for row in listed] == [image_id]

        shown = as_json(osc("image", "show", image_id, "-f", "json"))
        assert shown["name"] == unique
        assert shown["size"] == len(data)
        assert shown["properties"]["os_distro"] == "cirros"
        assert "first" in shown["tags"]

        out = tmp_path / "saved.raw"
        osc("image", "save", "--file", out, image_id)
        assert out.read_bytes() == data

        osc("image", "set", "--property", "foo=bar", "--tag", "second", "--min-ram", "128", image_id)
        shown = as_json(osc("image", "show", image_id, "-f", "json"))
        assert shown["properties"]["foo"] == "bar"
        assert sorted(shown["tags"]) == ["first", "second"]
        assert shown["min_ram"] == 128

        osc("image", "unset", "--property", "foo", "--tag", "first", image_id)
        shown = as_json(osc("image", "show", image_id, "-f", "json"))
        assert "foo" not in shown["properties"]
        assert shown["tags"] == ["second"]

        osc("image", "set", "--deactivate", image_id)
        assert as_json(osc("image", "show", image_id, "-f", "json"))["status"] == "deactivated"
        osc("image", "set", "--activate", image_id)
        assert as_json(osc("image", "show", image_id, "-f", "json"))["status"] == "active"
    finally:
        osc("image", "delete", image_id, check=False)

    gone = osc("image", "show", image_id, check=False)
    assert gone.returncode != 0
