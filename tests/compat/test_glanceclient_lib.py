"""python-glanceclient's library API (glanceclient.Client('2', ...)) against glint."""

import datetime
import hashlib
import io
import os

import pytest
from glanceclient import exc as glance_exc


def create_with_data(glance, cleanup, data=None, **fields):
    fields.setdefault("disk_format", "raw")
    fields.setdefault("container_format", "bare")
    image = glance.images.create(**fields)
    cleanup.append(image["id"])
    if data is not None:
        glance.images.upload(image["id"], io.BytesIO(data))
    return glance.images.get(image["id"])


def ids(images):
    return [image["id"] for image in images]


def test_create_upload_download(glance, cleanup, unique):
    data = os.urandom(300_000)
    image = glance.images.create(
        name=unique, disk_format="raw", container_format="bare", os_distro="cirros"
    )
    cleanup.append(image["id"])
    assert image["status"] == "queued"
    assert image["os_distro"] == "cirros"
    assert image["size"] is None and image["checksum"] is None

    glance.images.upload(image["id"], io.BytesIO(data))
    image = glance.images.get(image["id"])
    assert image["status"] == "active"
    assert image["size"] == len(data)
    assert image["virtual_size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["os_hash_algo"] == "sha512"
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()

    # data() verifies the checksum / multihash itself while iterating.
    body = b"".join(glance.images.data(image["id"]))
    assert hashlib.md5(body).hexdigest() == image["checksum"]
    assert body == data


def test_list_filters(glance, cleanup, unique):
    tag = unique
    small = create_with_data(glance, cleanup, b"s" * 1000, name=f"{unique}-small",
                             tags=[tag], visibility="public", flavour="mint")
    large = create_with_data(glance, cleanup, b"L" * 5000, name=f"{unique}-large",
                             tags=[tag, f"{tag}-big"], visibility="private")
    queued = create_with_data(glance, cleanup, None, name=f"{unique}-queued", tags=[tag])

    def listed(**filters):
        filters.setdefault("tag", [tag])
        return set(ids(glance.images.list(filters=filters)))

    assert listed() == {small["id"], large["id"], queued["id"]}
    assert listed(name=f"{unique}-small") == {small["id"]}
    assert listed(name=f"in:{unique}-small,{unique}-queued") == {small["id"], queued["id"]}
    assert listed(id=f"in:{large['id']},{queued['id']}") == {large["id"], queued["id"]}
    assert listed(status="active") == {small["id"], large["id"]}
    assert listed(status="queued") == {queued["id"]}
    assert listed(visibility="public") == {small["id"]}
    assert listed(visibility="private") == {large["id"]}
    assert listed(tag=[tag, f"{tag}-big"]) == {large["id"]}
    assert listed(size_min=2000) == {large["id"]}
    assert listed(size_max=2000) == {small["id"]}
    assert listed(size_min=1000, size_max=5000) == {small["id"], large["id"]}
    assert listed(flavour="mint") == {small["id"]}
    assert listed(disk_format="raw", container_format="bare") == {
        small["id"], large["id"], queued["id"]
    }

    past = "2000-01-01T00:00:00Z"
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert listed(created_at=f"gt:{past}") == {small["id"], large["id"], queued["id"]}
    assert listed(created_at=f"gt:{future}") == set()
    assert listed(updated_at=f"lte:{future}") == {small["id"], large["id"], queued["id"]}


def test_list_sorting(glance, cleanup, unique):
    made = [
        create_with_data(glance, cleanup, b"x" * size, name=f"{unique}-{name}", tags=[unique])
        for name, size in (("b", 300), ("c", 100), ("a", 200))
    ]
    by_name = sorted(made, key=lambda i: i["name"])
    by_size = sorted(made, key=lambda i: i["size"])
    filters = {"tag": [unique]}

    assert ids(glance.images.list(filters=dict(filters), sort_key="name", sort_dir="asc")) == ids(
        by_name
    )
    assert ids(glance.images.list(filters=dict(filters), sort_key="name", sort_dir="desc")) == ids(
        by_name[::-1]
    )
    assert ids(glance.images.list(filters=dict(filters), sort_key="size", sort_dir="asc")) == ids(
        by_size
    )
    assert ids(glance.images.list(filters=dict(filters), sort="size:desc")) == ids(by_size[::-1])
    assert ids(glance.images.list(filters=dict(filters), sort="name:asc,size:desc")) == ids(by_name)
    # Default order is newest first (created_at desc). Glance keeps sub-second
    # creation times, so images created within one second still list newest first.
    assert ids(glance.images.list(filters=dict(filters))) == ids(made[::-1])


def test_list_paging_collects_all_without_duplicates(glance, cleanup, unique):
    made = [
        create_with_data(glance, cleanup, None, name=f"{unique}-{n}", tags=[unique])
        for n in range(7)
    ]
    seen = ids(glance.images.list(filters={"tag": [unique]}, page_size=2))
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == set(ids(made))
    # Same through sorted pages.
    seen = ids(glance.images.list(filters={"tag": [unique]}, page_size=2, sort="name:asc"))
    assert seen == [i["id"] for i in sorted(made, key=lambda i: i["name"])]
    # limit stops early.
    assert len(ids(glance.images.list(filters={"tag": [unique]}, page_size=2, limit=3))) == 3


def test_update_properties_and_remove_props(glance, cleanup, unique):
    image = create_with_data(glance, cleanup, None, name=unique)
    image = glance.images.update(image["id"], foo="bar", min_ram=512, name=f"{unique}-renamed")
    assert image["foo"] == "bar"
    assert image["min_ram"] == 512
    assert image["name"] == f"{unique}-renamed"
    image = glance.images.update(image["id"], remove_props=["foo"], baz="qux")
    assert "foo" not in image
    assert image["baz"] == "qux"
    assert "foo" not in glance.images.get(image["id"])


def test_add_and_remove_tags(glance, cleanup, unique):
    image = create_with_data(glance, cleanup, None, name=unique)
    glance.image_tags.update(image["id"], "alpha")
    glance.image_tags.update(image["id"], "beta")
    glance.image_tags.update(image["id"], "alpha")  # idempotent
    assert sorted(glance.images.get(image["id"])["tags"]) == ["alpha", "beta"]
    glance.image_tags.delete(image["id"], "alpha")
    assert glance.images.get(image["id"])["tags"] == ["beta"]
    with pytest.raises(glance_exc.HTTPNotFound):
        glance.image_tags.delete(image["id"], "alpha")


def test_deactivate_and_reactivate(glance, cleanup, unique):
    data = b"d" * 4096
    image = create_with_data(glance, cleanup, data, name=unique)
    glance.images.deactivate(image["id"])
    assert glance.images.get(image["id"])["status"] == "deactivated"
    # The caller is an admin (no identity headers), who may still download.
    assert b"".join(glance.images.data(image["id"])) == data
    glance.images.reactivate(image["id"])
    assert glance.images.get(image["id"])["status"] == "active"
    glance.images.reactivate(image["id"])  # reactivating an active image is a no-op
    assert glance.images.get(image["id"])["status"] == "active"


def test_range_download(glance, http, cleanup, unique):
    data = os.urandom(10_000)
    image = create_with_data(glance, cleanup, data, name=unique)
    url = http.url(f"/v2/images/{image['id']}/file")

    full = http.get(url)
    assert full.status_code == 200
    assert full.headers["Content-Type"] == "application/octet-stream"
    assert full.headers["Content-MD5"] == hashlib.md5(data).hexdigest()
    assert full.content == data

    part = http.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206, part.text
    assert part.headers["Content-Range"] == f"bytes 0-99/{len(data)}"
    assert part.content == data[:100]

    middle = http.get(url, headers={"Range": "bytes=5000-5009"})
    assert middle.status_code == 206
    assert middle.content == data[5000:5010]

    unsatisfiable = http.get(url, headers={"Range": "bytes=999999999-"})
    assert unsatisfiable.status_code == 416, unsatisfiable.text


def test_delete(glance, cleanup, unique):
    image = create_with_data(glance, cleanup, b"z" * 10, name=unique)
    glance.images.delete(image["id"])
    with pytest.raises(glance_exc.HTTPNotFound):
        glance.images.get(image["id"])
    with pytest.raises(glance_exc.HTTPNotFound):
        glance.images.delete(image["id"])
    assert image["id"] not in ids(glance.images.list(filters={"name": unique}))


def test_protected_image_cannot_be_deleted(glance, cleanup, unique):
    image = create_with_data(glance, cleanup, None, name=unique, protected=True)
    with pytest.raises(glance_exc.HTTPForbidden):
        glance.images.delete(image["id"])
    glance.images.update(image["id"], protected=False)
    glance.images.delete(image["id"])


def test_upload_twice_conflicts(glance, cleanup, unique):
    image = create_with_data(glance, cleanup, b"once", name=unique)
    with pytest.raises(glance_exc.HTTPConflict):
        glance.images.upload(image["id"], io.BytesIO(b"twice"))
