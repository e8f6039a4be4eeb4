"""openstacksdk's image proxy (conn.image.*) against glint, without Keystone."""

import hashlib
import os

import pytest
from openstack import exceptions as sdk_exc


@pytest.fixture
def sdk_image(sdk, tmp_path, unique):
    """A raw image created by the SDK from a file with a direct upload (PUT)."""
    data = os.urandom(256 * 1024 + 7)
    path = tmp_path / "disk.raw"
    path.write_bytes(data)
    image = sdk.image.create_image(
        name=unique,
        filename=str(path),
        disk_format="raw",
        container_format="bare",
        use_import=False,
        validate_checksum=True,  # the SDK compares the server's checksum with its own
        wait=True,
        timeout=60,
    )
    yield image, data
    sdk.image.delete_image(image, ignore_missing=True)


def test_create_image_uploads_directly(sdk, sdk_image):
    image, data = sdk_image
    image = sdk.image.get_image(image.id)
    assert image.status == "active"
    assert image.size == len(data)
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert image.hash_algo == "sha512"
    assert image.hash_value == hashlib.sha512(data).hexdigest()
    assert image.disk_format == "raw"
    assert image.container_format == "bare"
    # With validate_checksum the SDK records the hashes it computed as properties.
    assert image.properties["owner_specified.openstack.md5"] == hashlib.md5(data).hexdigest()
    assert image.properties["owner_specified.openstack.sha256"] == hashlib.sha256(data).hexdigest()


def test_images_lists_it(sdk, sdk_image):
    image, _ = sdk_image
    assert image.id in [i.id for i in sdk.image.images()]
    assert [i.id for i in sdk.image.images(name=image.name)] == [image.id]
    found = sdk.image.find_image(image.name)
    assert found is not None and found.id == image.id


def test_download_image_matches(sdk, sdk_image, tmp_path):
    image, data = sdk_image
    response = sdk.image.download_image(image)
    assert hashlib.md5(response.content).hexdigest() == hashlib.md5(data).hexdigest()
    out = tmp_path / "out.raw"
    sdk.image.download_image(image, output=str(out))
    assert out.read_bytes() == data
    streamed = sdk.image.download_image(image, stream=True)
    body = b"".join(streamed.iter_content(chunk_size=65536))
    streamed.close()
    assert body == data


def test_update_image(sdk, sdk_image):
    image, _ = sdk_image
    new_name = image.name + "-x"
    updated = sdk.image.update_image(image, min_ram=256, name=new_name, foo="bar")
    assert updated.min_ram == 256
    assert updated.name == new_name
    fetched = sdk.image.get_image(image.id)
    assert fetched.min_ram == 256
    assert fetched.name == new_name
    assert fetched.properties.get("foo") == "bar"


def test_add_and_remove_tag(sdk, sdk_image):
    image, _ = sdk_image
    sdk.image.add_tag(image, "web")
    sdk.image.add_tag(image, "db")
    assert sorted(sdk.image.get_image(image.id).tags) == ["db", "web"]
    sdk.image.remove_tag(image, "web")
    assert sdk.image.get_image(image.id).tags == ["db"]
    assert [i.id for i in sdk.image.images(tag="db", name=image.name)] == [image.id]


def test_deactivate_and_reactivate(sdk, sdk_image):
    image, _ = sdk_image
    sdk.image.deactivate_image(image)
    assert sdk.image.get_image(image.id).status == "deactivated"
    sdk.image.reactivate_image(image)
    assert sdk.image.get_image(image.id).status == "active"


def test_delete_image(sdk, sdk_image):
    image, _ = sdk_image
    sdk.image.delete_image(image, ignore_missing=False)
    with pytest.raises(sdk_exc.NotFoundException):
        sdk.image.get_image(image.id)
    with pytest.raises(sdk_exc.NotFoundException):
        sdk.image.delete_image(image.id, ignore_missing=False)
    sdk.image.delete_image(image.id, ignore_missing=True)
