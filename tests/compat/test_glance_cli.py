"""The `glance` command-line client (python-glanceclient) against glint.

Follows the walk-through recorded against real Glance: image-create with
--file and --progress, then list, show, download, tags, properties,
deactivate/reactivate and delete.
"""

import filecmp
import uuid

import pytest

from helpers import file_hashes, parse_table, run_cli

TABLE_KEYS = {
    "checksum",
    "container_format",
    "created_at",
    "disk_format",
    "id",
    "min_disk",
    "min_ram",
    "name",
    "os_hash_algo",
    "os_hash_value",
    "os_hidden",
    "owner",
    "protected",
    "size",
    "status",
    "tags",
    "updated_at",
    "virtual_size",
    "visibility",
}


@pytest.fixture(scope="module")
def glance_cli(glint_url):
    def glance(*args, check=True):
        return run_cli(
            ["glance", "--os-image-url", glint_url, "--os-auth-token", "any", *map(str, args)],
            check=check,
        )

    return glance


@pytest.fixture(scope="module")
def cirros(glance_cli, tmp_path_factory):
    """The walk-through's image: a qcow2 uploaded with `image-create --file --progress`."""
    tmp = tmp_path_factory.mktemp("cli")
    path = tmp / "cirros.img"
    run_cli(["qemu-img", "create", "-f", "qcow2", str(path), "64M"])
    name = f"cirros-{uuid.uuid4().hex[:8]}"
    out = glance_cli(
        "image-create",
        "--name", name,
        "--disk-format", "qcow2",
        "--container-format", "bare",
        "--visibility", "public",
        "--file", path,
        "--progress",
    )
    props = parse_table(out.stdout)
    image = {"name": name, "path": path, "props": props, "id": props.get("id"), "tmp": tmp}
    yield image
    if image["id"]:
        glance_cli("image-delete", image["id"], check=False)


def test_image_create_prints_the_property_table(cirros):
    props = cirros["props"]
    missing = TABLE_KEYS - props.keys()
    assert not missing, f"missing from the table: {sorted(missing)}; got {props}"
    md5, sha512 = file_hashes(cirros["path"])
    assert props["name"] == cirros["name"]
    assert props["status"] == "active"
    assert props["disk_format"] == "qcow2"
    assert props["container_format"] == "bare"
    assert props["visibility"] == "public"
    assert props["virtual_size"] == "67108864"
    assert props["size"] == str(cirros["path"].stat().st_size)
    assert props["checksum"] == md5
    assert props["os_hash_algo"] == "sha512"
    assert props["os_hash_value"] == sha512
    assert props["os_hidden"] == "False"
    assert props["protected"] == "False"
    assert props["owner"] == "admin"
    assert props["min_disk"] == "0"
    assert props["min_ram"] == "0"
    assert props["tags"] == "[]"
    uuid.UUID(props["id"])


def test_image_list_contains_the_image(glance_cli, cirros):
    out = glance_cli("image-list").stdout
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in out.splitlines()
            if line.startswith("|")]
    assert rows[0] == ["ID", "Name"]
    assert [cirros["id"], cirros["name"]] in rows[1:]


def test_image_show_matches_create(glance_cli, cirros):
    props = parse_table(glance_cli("image-show", cirros["id"]).stdout)
    for key in ("id", "name", "checksum", "os_hash_value", "size", "virtual_size", "status"):
        assert props[key] == cirros["props"][key], key


def test_image_download_returns_the_uploaded_bytes(glance_cli, cirros):
    out = cirros["tmp"] / "out"
    result = glance_cli("image-download", "--file", out, cirros["id"])
    assert result.stdout.strip() == ""
    assert filecmp.cmp(out, cirros["path"], shallow=False)


def test_image_tag_update_and_delete(glance_cli, cirros):
    glance_cli("image-tag-update", cirros["id"], "ubuntu")
    glance_cli("image-tag-update", cirros["id"], "lts")
    tags = parse_table(glance_cli("image-show", cirros["id"]).stdout)["tags"]
    assert "ubuntu" in tags and "lts" in tags, tags
    glance_cli("image-tag-delete", cirros["id"], "ubuntu")
    tags = parse_table(glance_cli("image-show", cirros["id"]).stdout)["tags"]
    assert "ubuntu" not in tags and "lts" in tags, tags


def test_image_update_property_and_remove_property(glance_cli, cirros):
    props = parse_table(glance_cli("image-update", "--property", "foo=bar", cirros["id"]).stdout)
    assert props.get("foo") == "bar", props
    props = parse_table(glance_cli("image-show", cirros["id"]).stdout)
    assert props.get("foo") == "bar", props
    props = parse_table(glance_cli("image-update", "--remove-property", "foo", cirros["id"]).stdout)
    assert "foo" not in props, props
    assert "foo" not in parse_table(glance_cli("image-show", cirros["id"]).stdout)


def test_image_deactivate_and_reactivate(glance_cli, cirros):
    assert glance_cli("image-deactivate", cirros["id"]).stdout.strip() == ""
    assert parse_table(glance_cli("image-show", cirros["id"]).stdout)["status"] == "deactivated"
    assert glance_cli("image-reactivate", cirros["id"]).stdout.strip() == ""
    assert parse_table(glance_cli("image-show", cirros["id"]).stdout)["status"] == "active"


def test_image_delete_then_show_fails(glance_cli, qcow2_file):
    name = f"doomed-{uuid.uuid4().hex[:8]}"
    props = parse_table(
        glance_cli(
            "image-create", "--name", name, "--disk-format", "qcow2",
            "--container-format", "bare", "--file", qcow2_file,
        ).stdout
    )
    image_id = props["id"]
    assert glance_cli("image-delete", image_id).stdout.strip() == ""
    shown = glance_cli("image-show", image_id, check=False)
    assert shown.returncode == 1, shown
    assert f"No image found with ID {image_id}" in shown.stderr + shown.stdout
    again = glance_cli("image-delete", image_id, check=False)
    assert again.returncode == 1, again
    assert f"No image with an ID of '{image_id}' exists." in again.stderr + again.stdout


def test_image_create_with_bad_disk_format_is_refused_client_side(glance_cli):
    out = glance_cli(
        "image-create", "--name", "bad", "--disk-format", "qcow3",
        "--container-format", "bare", check=False,
    )
    assert out.returncode != 0
    assert "Unable to set 'disk_format' to 'qcow3'" in out.stderr + out.stdout
